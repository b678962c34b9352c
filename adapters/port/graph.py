"""Meta's Graph API, as Facebook (graph.facebook.com), Instagram (graph.facebook.com or
graph.instagram.com) and Threads (graph.threads.net) all speak it: the error body, the usage
headers that say how long a rate limit lasts, the codes that mean the same on every host, and
the fingerprint that ties a renewed token to the configured one.

What an error means for a channel stays in its module: the hosts share these codes, not what
follows from them (Instagram's subcodes, Facebook's duplicate post, Threads' link limit), nor
the words people read. Docs: developers.facebook.com/docs/graph-api/guides/error-handling and
…/graph-api/overview/rate-limiting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from adapters.port.channel import Credential

# Codes every Graph host uses alike; a channel adds its platform's own to them.
TOKEN_CODES = frozenset({102, 190})  # the session or token is invalid, expired or revoked
THROTTLED_CODES = frozenset({4, 17, 32, 613})  # the app's, user's, Page's or a custom rate limit
NOT_PERMITTED = frozenset({3, 10, *range(200, 300)})  # a capability or permission is missing
TEMPORARY = frozenset({1, 2})  # an unknown error, the service temporarily unavailable
POLICY_BLOCK = 368  # temporarily blocked for policies violations
GONE = (100, 33)  # code and subcode: the object does not exist, or the token may not see it

# Where Meta says how long a rate limit lasts: per business object and use case, per Page, per app.
USAGE_HEADERS = ("x-business-use-case-usage", "x-page-usage", "x-app-usage")


@dataclass(frozen=True)
class GraphError:
    """The error object of a Graph answer (``{"error": {...}}``), as far as it says."""

    code: int | None
    subcode: int | None
    message: str = ""  # for the developer
    user_message: str = ""  # ``error_user_msg``: for a person, where Meta gives one
    trace: str | None = None  # ``fbtrace_id``: what Meta's support asks for
    transient: bool = False  # ``is_transient``: Meta itself says trying again may work
    fields: Mapping[str, Any] = field(default_factory=dict)  # the whole object, for a platform's own fields


def graph_error(body: Any) -> GraphError | None:
    """The error of an answer's JSON, if it has Graph's error object (None: not Graph speaking,
    a proxy perhaps). Its code may still be missing."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return GraphError(
        code=integer(error.get("code")),
        subcode=integer(error.get("error_subcode")),
        message=str(error.get("message") or ""),
        user_message=str(error.get("error_user_msg") or ""),
        trace=str(error.get("fbtrace_id") or "") or None,
        transient=error.get("is_transient") is True,
        fields=error,
    )


def integer(value: Any) -> int | None:
    """A number Graph sends as a JSON number or a string; None if it is neither."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def regain_access(headers: Mapping[str, str], names: Sequence[str] = USAGE_HEADERS) -> float | None:
    """Seconds until a throttled app, Page, account or business object may call again: the
    longest ``estimated_time_to_regain_access`` (in minutes) in the usage headers ``names``. A
    header is one usage object (``X-Page-Usage``, ``X-App-Usage``) or lists of them per business
    object (``X-Business-Use-Case-Usage``). None when no header says to wait."""
    lowered = {key.lower(): value for key, value in headers.items()}
    minutes: list[float] = []
    for name in names:
        try:
            usage = json.loads(lowered.get(name) or "null")
        except ValueError:
            continue
        entries = [usage] if isinstance(usage, dict) and "call_count" in usage else []
        if isinstance(usage, dict) and not entries:
            entries = [e for group in usage.values() if isinstance(group, list) for e in group if isinstance(e, dict)]
        for entry in entries:
            try:
                minutes.append(float(entry.get("estimated_time_to_regain_access") or 0))
            except (TypeError, ValueError):
                continue
    longest = max(minutes, default=0.0)
    return longest * 60 if longest > 0 else None


def fingerprint(token: str, digits: int = 64) -> str:
    """What Herold keeps of a configured token instead of the token: its SHA-256 in hex, cut to
    ``digits`` (each channel keeps the length it has always stored)."""
    return hashlib.sha256(token.encode()).hexdigest()[:digits]


def is_fingerprint(kept: Credential | None, token: str, digits: int = 64) -> TypeGuard[Credential]:
    """Whether ``kept`` holds ``token``'s fingerprint. A token renewed from the configured one is
    used only while that one is still configured: a token a person configures later is newer
    than anything renewed from its predecessor."""
    return kept is not None and hmac.compare_digest(kept.value.encode(), fingerprint(token, digits).encode())
