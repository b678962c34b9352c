"""What went wrong with a platform, as the engine needs to know it: retry, stop, or stop and
tell someone. Foreign errors are mapped here, at the boundary, from status codes and headers::

    DeliveryError
    ├── TransientError    retry later (network, timeouts, 5xx, 429); may carry retry_after
    └── PermanentError    stop, with a readable reason (400/404/422)
        ├── CredentialsError   stop, and flag the channel as needing attention (401/403)
        └── TooLong            the platform counted the text longer than the channel's rule did
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TransientError(DeliveryError):
    """Try again later. ``ambiguous`` means the request may have reached the platform."""

    def __init__(self, reason: str, *, retry_after: float | None = None, ambiguous: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class PermanentError(DeliveryError):
    """Trying again will not help; a person must change something."""


class CredentialsError(PermanentError):
    """The platform refused our credentials: the channel needs attention before anything else goes out."""


class TooLong(PermanentError):
    """The platform refused the text as too long although the channel's rule said it fits: it
    counts otherwise. Nothing was posted. The engine counts again the other way the channel
    knows (``ServerLimits.links_in_full``), remembers that, and sends the text made to fit."""


def retry_after(headers: Mapping[str, str], now: datetime | None = None, *, rate_limited: bool = True) -> float | None:
    """Seconds the platform asks us to wait: ``Retry-After`` (seconds or an HTTP date), else, when
    we were rate-limited, the limit's reset time (``X-RateLimit-Reset``: ISO 8601 on Mastodon,
    epoch seconds on X). Platforms send the reset time on every answer; it only means "wait"
    once the limit is used up."""
    now = now or datetime.now(UTC)
    lowered = {key.lower(): value for key, value in headers.items()}
    value = lowered.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
            except (TypeError, ValueError):
                pass
    exhausted = any(lowered.get(name) == "0" for name in ("x-ratelimit-remaining", "x-rate-limit-remaining"))
    if not (rate_limited or exhausted):
        return None
    for name in ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"):
        value = lowered.get(name)
        if not value:
            continue
        try:
            number = float(value)
            # Epoch seconds are large; small numbers are "seconds from now" (IETF RateLimit draft).
            return max(0.0, number - now.timestamp()) if number > 1e9 else max(0.0, number)
        except ValueError:
            try:
                return max(0.0, (datetime.fromisoformat(value.replace("Z", "+00:00")) - now).total_seconds())
            except ValueError:
                continue
    return None


def error_for_status(status: int, reason: str, headers: Mapping[str, str] | None = None) -> DeliveryError:
    """The engine's view of an HTTP error answer: what to do next, and a reason people can read."""
    text = f"the platform answered {status}: {reason}" if reason else f"the platform answered {status}"
    if status in {401, 403}:
        return CredentialsError(text)
    if status in {408, 425, 429} or status >= 500:
        # A 5xx may come after the platform acted (a proxy timing out): the write is ambiguous.
        wait = retry_after(headers or {}, rate_limited=status == 429)
        return TransientError(text, retry_after=wait, ambiguous=status >= 500)
    return PermanentError(text)


def error_for_exception(error: requests.RequestException) -> TransientError:
    """A network failure. Only one before the request left (no connection) is unambiguous:
    after that the platform may have acted on it, even if no answer came back."""
    # TLS handshakes and proxies fail before our request is sent, like a refused connection.
    failed_to_connect = requests.ConnectTimeout | requests.exceptions.SSLError | requests.exceptions.ProxyError
    before_sending = isinstance(error, failed_to_connect) or (
        isinstance(error, requests.ConnectionError) and "NewConnectionError" in str(error)
    )
    what = "timed out" if isinstance(error, requests.Timeout) else "connection failed"
    # No URL in the reason: some platforms put credentials into paths (Telegram bot tokens).
    return TransientError(f"network problem: {what} ({type(error).__name__})", ambiguous=not before_sending)
