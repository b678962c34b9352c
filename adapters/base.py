"""The one small interface every channel implements.

A channel module in ``adapters/`` defines one subclass of `Channel` with:

- ``type``: the name used in config (``type = "mastodon"``);
- ``capabilities``: what the platform can do and how it counts text (read by the core; the
  core never asks "is this Mastodon?");
- ``Settings``: a pydantic model of its config keys (secrets only as env-var names);
- ``publish(post) -> Receipt``, and where the platform allows, ``find(post)`` to look up a
  copy after an ambiguous failure.

Adding a platform touches its module, its template and its test; nothing in the core.

Errors tell the engine what to do next::

    DeliveryError
    ├── TransientError    retry later (network, timeouts, 5xx, 429); may carry retry_after
    └── PermanentError    stop, with a readable reason (400/404/422)
        └── CredentialsError   stop, and flag the channel as needing attention (401/403)

Example::

    class Pigeon(Channel):
        type = "pigeon"
        capabilities = Capabilities(wave=Wave.other, text=TextRule(140, Graphemes()))

        class Settings(ChannelSettings):
            loft: str

        def publish(self, post: Post) -> Receipt:
            number = release_pigeon(self.settings.loft, post.variant.text)
            return Receipt(platform_id=number, url=None)
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol

import requests
from pydantic import BaseModel, ConfigDict, Field

from publisher.domain.counting import TextRule

if TYPE_CHECKING:
    from publisher.core.render import Variant
    from publisher.domain.announcement import Announcement
    from publisher.domain.authority import Authority, ChannelConfig


class Wave(IntEnum):
    """Publication order. Nothing outside wave 1 is attempted before the item's own page exists."""

    website = 1  # the authority's own website: the off-platform original
    fediverse = 2  # open, non-commercial networks
    other = 3  # commercial platforms, messengers, outbound hooks


class Idempotency(StrEnum):
    """What keeps a retry from posting twice."""

    key = "key"  # the platform deduplicates requests carrying the same key
    lookup = "lookup"  # the channel can look up whether the post already exists (find)
    natural = "natural"  # repeating the write has the same effect (e.g. writing a file)
    none = "none"  # neither: an ambiguous failure may mean a double post


@dataclass(frozen=True)
class Capabilities:
    wave: Wave
    text: TextRule | None = None  # None: no text limit (website, webhooks)
    template: str = "channels/post.j2"
    media: int = 0  # images per post
    alt_text: bool = False
    threads: bool = False  # follow-ups are posted as replies to the original
    edit: bool = False
    delete: bool = False
    pin: bool = False
    idempotency: Idempotency = Idempotency.none
    lists_copies: bool = False  # shows where else an item was published ("also on ...")


class ChannelSettings(BaseModel):
    """Base for a channel type's config keys. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Channels that call a server: every call ends within this, answer included (default:
    # herold.http_deadline_seconds). A server that trickles its answer cannot hold a delivery longer.
    call_deadline_seconds: float | None = Field(default=None, gt=0, le=600)


@dataclass(frozen=True)
class Receipt:
    """Where the platform put it."""

    platform_id: str
    url: str | None = None


@dataclass(frozen=True)
class Copy:
    """A copy of an announcement on another channel, for the item page's "also on" list."""

    channel: str
    channel_type: str
    url: str


@dataclass(frozen=True)
class Entry:
    """One announcement of an item as the website shows it."""

    id: str
    announcement: Announcement
    variant_text: str  # the plain-text summary, for feeds
    published: datetime
    copies: Sequence[Copy] = ()


@dataclass(frozen=True)
class Item:
    """A thread of announcements (alert, updates, all-clear) with one page and one URL."""

    id: str
    authority: str
    path: str  # below the authority's base URL, e.g. "2026/11/fliegerbombe-in-der-altstadt-1a2b3c4d/"
    month: str  # "YYYY-MM" of its first announcement, in the authority's time zone
    entries: Sequence[Entry]  # oldest first, only those published on the channel asking

    @property
    def latest(self) -> Entry:
        return self.entries[-1]

    @property
    def first(self) -> Entry:
        return self.entries[0]


class Archive(Protocol):
    """Read access to what has been published, for channels that render whole sites."""

    def item(self, item_id: str, channel: str, including: str | None = None) -> Item | None:
        """The item as published on ``channel`` (plus announcement ``including``, being published)."""
        ...

    def items(
        self,
        authority: str,
        channel: str,
        *,
        month: str | None = None,
        limit: int | None = None,
        kind: str | None = None,
        including: str | None = None,
        detail: bool = True,
    ) -> list[Item]:
        """Published items, newest first; ``month`` as "YYYY-MM" in the authority's time zone.
        ``detail=False``: each item with its latest entry only, without copies or feed texts
        (what lists need)."""
        ...

    def months(self, authority: str, channel: str, including: str | None = None) -> list[str]:
        """Months ("YYYY-MM") with published items, newest first."""
        ...


@dataclass
class Services:
    """What the engine hands to every channel. Channels take what they need."""

    http: requests.Session
    archive: Archive
    clock: Callable[[], datetime]
    data_dir: str = "var"
    timeouts: tuple[float, float] = (5.0, 20.0)  # connect, and each read
    deadline: float = 60.0  # a whole call, answer included (adapters.http): no call may hang a worker
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Post:
    """One delivery's work: this variant of this announcement, on this channel."""

    delivery_id: str
    idempotency_key: str  # stable across retries of this delivery
    announcement_id: str
    announcement: Announcement
    variant: Variant
    item_id: str  # the item (thread) the announcement belongs to; site channels read it from the archive
    in_reply_to: Receipt | None = None  # this channel's copy of the previous message in the thread
    thread: Sequence[Receipt] = ()  # this channel's copies of all earlier messages, oldest first
    attempt: int = 1
    previous_error: str | None = None  # set when an earlier attempt ended ambiguously
    created_at: datetime | None = None  # when the delivery was created: copies found must be newer


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


class Channel(ABC):
    type: ClassVar[str]
    label: ClassVar[str]  # the platform's name as people know it
    capabilities: ClassVar[Capabilities]
    Settings: ClassVar[builtins.type[ChannelSettings]] = ChannelSettings

    def __init__(self, config: ChannelConfig, authority: Authority, services: Services) -> None:
        self.config = config
        self.authority = authority
        self.services = services
        self.settings = config.settings

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def deadline(self) -> float:
        """Seconds every call to the platform may take, answer included (see adapters.http)."""
        return self.settings.call_deadline_seconds or self.services.deadline

    @abstractmethod
    def publish(self, post: Post) -> Receipt:
        """Publish the post; raise a DeliveryError subclass when that fails."""

    def find(self, post: Post) -> Receipt | None:
        """After an ambiguous failure: the copy that already exists, if the platform lets us look."""
        return None

    def text_rule(self) -> TextRule | None:
        """This channel's text limit: the type's, unless the platform tells its own (Mastodon instances)."""
        return self.capabilities.text

    def pin_limit(self) -> int | None:
        """How many posts the account may pin at once (None: no limit known)."""
        return None

    def pin(self, receipt: Receipt) -> bool:
        """Pin a post on the account's profile (capabilities.pin); False if settings say not to."""
        raise NotImplementedError(f"{self.type} cannot pin")

    def unpin(self, receipt: Receipt) -> None:
        raise NotImplementedError(f"{self.type} cannot unpin")

    def spoiler(self, announcement: Announcement) -> str | None:
        """A content warning to show before the text, where the platform has them."""
        return None

    def refresh(self, item_id: str) -> None:  # noqa: B027 - optional hook, most channels have nothing to refresh
        """Show changed facts about an item that need no new post (e.g. new copies elsewhere)."""

    def housekeeping(self, now: datetime) -> None:  # noqa: B027 - optional hook
        """Periodic upkeep with no delivery behind it (e.g. the website drops expired warnings
        from its index). Called by the sweep; must be cheap when there is nothing to do."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """The process stops: finish work held back for a moment (the website's list rewrite)."""

    def rebuild_all(self) -> int:
        """Channels that keep a whole site render all of it again; returns the files written."""
        return 0

    def check(self) -> Sequence[str]:
        """Problems with this channel's setup that can be found without publishing anything."""
        return ()
