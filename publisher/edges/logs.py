"""Structured logs (structlog): JSON lines for machines, with secrets redacted on the way out.

Every line Herold's process writes goes this one way: Herold's own events, and what libraries
log through the standard ``logging`` module (uvicorn, Celery, SQLAlchemy, Alembic), warnings,
and exceptions that end a thread. So an operator's log collector sees one format, and nothing
reaches it past the redaction, tracebacks included.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

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


# The values of the configured secrets (tokens, passwords): hidden wherever they turn up, also
# where no pattern would know them (a platform's error that quotes the token it refused).
_known: tuple[str, ...] = ()


def remember_secrets(values: Iterable[str]) -> None:
    """Hide these values in every line from now on: the configuration's secrets, as
    `Settings.secret_values` gives them (long enough to tell from words, longest first)."""
    global _known
    _known = tuple(values)


def _may_hold_a_secret(text: str) -> bool:
    """What every pattern of SECRET_TEXT needs (a cheap look first: most values are ids, names and
    times, and the whole pattern is a third of a log line's cost)."""
    if "=" in text or ("://" in text and "@" in text):
        return True
    lower = text.lower()
    return "hrd_" in lower or "bot" in lower or "bearer" in lower


def scrub(text: str) -> str:
    for value in _known:
        if value in text:
            text = text.replace(value, REDACTED)
    if not _may_hold_a_secret(text):
        return text

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return REDACTED
        return (match.group(2) or match.group(3) or match.group(4) or "") + REDACTED

    return SECRET_TEXT.sub(replace, text)


def redact(value: Any, key: str = "") -> Any:
    if key and SECRET_KEYS.search(key) and not key.endswith("_env"):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {key: redact(value, key) for key, value in event.items()}


class _Stderr:
    """Writes to whatever ``sys.stderr`` is at the moment of writing (a test's capture, a
    redirected stream), one write per line: Celery writes to the same stderr, and print()
    writes line and newline separately, so lines from both could be glued together."""

    @staticmethod
    def stream() -> TextIO:
        return sys.stderr

    def msg(self, message: str) -> None:
        stream = self.stream()
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = failure = err = msg


class _StdlibHandler(logging.StreamHandler[TextIO]):
    """The standard library's records, rendered by the same processors as Herold's own."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # always the current sys.stderr


def configure(level: str = "info", form: str = "json") -> None:
    renderer: Any = structlog.processors.JSONRenderer() if form == "json" else structlog.dev.ConsoleRenderer()
    threshold = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,  # last before rendering: also covers formatted tracebacks
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=lambda *_: _Stderr(),
        cache_logger_on_first_use=False,
    )
    handler = _StdlibHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    logging.captureWarnings(True)
    threading.excepthook = _thread_ended


def _thread_ended(arguments: threading.ExceptHookArgs) -> None:
    if arguments.exc_type is SystemExit:
        return
    thread = arguments.thread.name if arguments.thread else "?"
    structlog.get_logger("herold").error(
        "a thread ended with an error",
        thread=thread,
        exc_info=(arguments.exc_type, arguments.exc_value, arguments.exc_traceback),
    )
