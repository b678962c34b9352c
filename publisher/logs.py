"""Structured logs (structlog): JSON lines for machines, with secrets redacted on the way out."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(r"token|secret|password|authorization|api_key|cookie", re.IGNORECASE)
# Inside free text: Herold API tokens, Telegram-style bot tokens in URLs, bearer headers, secrets
# in query strings or key=value pairs, and passwords in URLs (postgresql://user:password@host).
SECRET_TEXT = re.compile(
    r"(hrd_[0-9a-f]{8}_[A-Za-z0-9_-]+|bot\d+:[A-Za-z0-9_-]{20,})"
    r"|(Bearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|((?:access_token|token|password|passwd|secret|api_key)=)[^&\s]+"
    r"|(://[^/\s:@]+:)[^/\s@]+(?=@)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def _scrub(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return REDACTED
        return (match.group(2) or match.group(3) or match.group(4) or "") + REDACTED

    return SECRET_TEXT.sub(replace, text)


def redact(value: Any, key: str = "") -> Any:
    if key and SECRET_KEYS.search(key) and not key.endswith("_env"):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {key: redact(value, key) for key, value in event.items()}


def configure(level: str = "info", form: str = "json") -> None:
    renderer: Any = structlog.processors.JSONRenderer() if form == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,  # last before rendering: also covers formatted tracebacks
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        # One write per line: Celery writes to the same stderr, and print() writes line and
        # newline separately, so lines from both could be glued together.
        logger_factory=structlog.WriteLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
