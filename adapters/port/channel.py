"""The channel port: one required method, and small abilities a channel has or has not.

A channel module in ``adapters/`` defines one subclass of `Channel` with:

- ``type``: the name used in config (``type = "mastodon"``) and ``label``, the platform's name;
- ``capabilities``: what the platform takes and how it counts (publisher.domain.capabilities);
- ``Settings``: a pydantic model of its config keys (secrets only as names of environment
  variables: keys ending in ``_env``; the channel gets their values, and only its own);
- ``publish(post) -> Receipt``, the one method every channel has.

What a platform can do beyond that, the channel shows by implementing an ability: `Threads`
(reply to an earlier post), `Editing`, `Deleting`, `Pinning`, `Lookup` (find a post after an
ambiguous failure), `HandOff` (a person posts it), `AnnouncesLimits` (the server says its own
limits), `Mirrors` (a copy of the built-in site elsewhere, kept current between deliveries).
Its ``capabilities`` declare the same, as data the core reads; the channel kit's contract checks
that the two agree. Adding a platform touches its module, its template, its
contract table and its row in docs/channels.md; nothing in the core.

Example::

    class Pigeon(Channel):
        type, label = "pigeon", "Brieftaube"
        capabilities = Capabilities(wave=Wave.other, text=TextRule(140, Graphemes()))

        class Settings(ChannelSettings):
            loft: str

        def publish(self, post: Post) -> Receipt:
            number = release_pigeon(self.settings.loft, post.variant.text)
            return Receipt(platform_id=number)
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from publisher.domain.announcement import Announcement
from publisher.domain.authority import Authority, ChannelConfig
from publisher.domain.capabilities import Capabilities, ServerLimits
from publisher.domain.counting import TextRule
from publisher.domain.records import Receipt, Variant


class ChannelSettings(BaseModel):
    """Base for a channel type's config keys. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Channels that call a server: every call ends within this, answer included (default:
    # herold.http_deadline_seconds). A server that trickles its answer cannot hold a delivery longer.
    call_deadline_seconds: float | None = Field(default=None, gt=0, le=600)
    # A platform that charges per post (capabilities.price, X): what the authority will spend on
    # it in a calendar month. Over it, news skips the channel (recorded); warnings still go, and
    # on-call hears of it. None: no limit.
    monthly_budget_usd: float | None = Field(default=None, ge=0)


@dataclass(frozen=True)
class Credential:
    """A token or session a channel keeps between calls (refreshed, or handed out by the platform)."""

    value: str = field(repr=False)
    expires_at: datetime | None = None  # when the platform stops taking it, if known
    updated_at: datetime | None = None


class Credentials(Protocol):
    """Where a channel keeps what the platform gave it: a refreshed token (Threads, Instagram,
    X), a session (Bluesky, whose createSession is rate-limited hard). The engine keeps them in
    the database, per authority and channel, so a restart or another worker reuses them."""

    def get(self, key: str) -> Credential | None: ...

    def put(self, key: str, credential: Credential) -> None: ...


class KeptInMemory:
    """Credentials for one process only (tests, the channel kit, `herold check`)."""

    def __init__(self) -> None:
        self._kept: dict[str, Credential] = {}

    def get(self, key: str) -> Credential | None:
        return self._kept.get(key)

    def put(self, key: str, credential: Credential) -> None:
        self._kept[key] = credential


@dataclass(frozen=True)
class ChannelContext:
    """What the engine hands one channel: its authority, its own secrets, and the means to work.
    Never the whole configuration: a channel sees no other channel's or authority's secrets."""

    authority: Authority
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)  # by key, without "_env"
    clock: Callable[[], datetime] = datetime.now
    media: Path = Path("var")  # where stored images are, by the path an announcement names
    # The authority's built-in website, as written on this machine (None: it has none): for
    # channels that copy it to the authority's own web host.
    site: Path | None = None
    timeouts: tuple[float, float] = (5.0, 20.0)  # connect, and each read
    deadline: float = 60.0  # a whole call, answer included (adapters.port.http)
    credentials: Credentials = field(default_factory=KeptInMemory)


@dataclass(frozen=True)
class Post:
    """One delivery's work: this variant of this announcement, on this channel."""

    delivery_id: str
    idempotency_key: str  # stable across retries of this delivery
    announcement_id: str
    announcement: Announcement
    variant: Variant
    item_id: str  # the item (thread) the announcement belongs to
    item_url: str = ""  # the item's page on the authority's own website, which every post links to
    in_reply_to: Receipt | None = None  # this channel's copy of the previous message in the thread
    thread: Sequence[Receipt] = ()  # this channel's copies of all earlier messages, oldest first
    attempt: int = 1
    previous_error: str | None = None  # set when an earlier attempt ended ambiguously
    created_at: datetime | None = None  # when the delivery was created: copies found must be newer
    # The accessible alert card's public address on the item's page, where the channel's
    # capabilities take it (MediaRule.card): platforms fetch it from there, after the page is out.
    # PNG, or its JPEG twin for a platform that takes only JPEG (MediaRule.types).
    card_url: str | None = None
    # Its alt text: the whole message in words, within the platform's alt-text limit.
    card_alt: str | None = None


@dataclass(frozen=True)
class HandOffNote:
    """What a person needs to post by hand: the text ready to copy, and where the images are."""

    text: str
    media: Sequence[str] = ()  # stored image paths, in order
    alt: Sequence[str] = ()
    card: str | None = None  # the alert card's public address, to post with the text (no image of its own)
    relayed: str | None = None  # sent to a contracted provider: "sent", or "failed: why"


class ChannelType:
    """What a channel type is, as data and pure functions: its config name, the platform's name,
    its capabilities and settings, and what intake asks of it (text rule, spoiler, pins), all
    without a channel object and without the network. The built-in website (publisher.site) is a
    channel type too, but not a `Channel`: the engine hands it what to publish."""

    type: ClassVar[str]
    label: ClassVar[str]  # the platform's name as people know it
    capabilities: ClassVar[Capabilities]
    Settings: ClassVar[builtins.type[ChannelSettings]] = ChannelSettings

    @classmethod
    def text_rule(cls, settings: ChannelSettings, limits: ServerLimits | None) -> TextRule | None:
        """The text limit, as the platform counts: the type's, unless the server announced its own
        (``limits``, as last cached) or the settings name one."""
        return cls.capabilities.text

    @classmethod
    def spoiler(cls, settings: ChannelSettings, announcement: Announcement) -> str | None:
        """A content warning to show before the text, where the platform has them."""
        return None

    @classmethod
    def pins(cls, settings: ChannelSettings) -> bool:
        """Whether active warnings are pinned on this channel (it can, and is not told not to)."""
        return cls.capabilities.pin


class Channel(ChannelType, ABC):
    """A configured channel on an outside platform: one authority's account there."""

    def __init__(self, config: ChannelConfig, context: ChannelContext) -> None:
        self.config = config
        self.context = context
        self.authority = context.authority
        self.settings = config.settings

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def deadline(self) -> float:
        """Seconds every call to the platform may take, answer included (see adapters.port.http)."""
        return float(self.settings.call_deadline_seconds or self.context.deadline)

    @abstractmethod
    def publish(self, post: Post) -> Receipt:
        """Publish the post; raise a DeliveryError subclass when that fails."""

    # -- optional ------------------------------------------------------------------------------

    def check(self) -> Sequence[str]:
        """Problems with this channel's setup that can be found without publishing anything."""
        return ()

    def close(self) -> None:
        """The process stops: let go of what the channel holds."""


@runtime_checkable
class Threads(Protocol):
    """Follow-ups go out as replies to the channel's copy of the earlier message
    (``post.in_reply_to``, and the whole ``post.thread`` for platforms that need the root)."""

    def reply(self, post: Post) -> Receipt: ...


@runtime_checkable
class Lookup(Protocol):
    """After an ambiguous failure: the copy that already exists, if the platform lets us look."""

    def find(self, post: Post) -> Receipt | None: ...


@runtime_checkable
class Editing(Protocol):
    def edit(self, receipt: Receipt, post: Post) -> Receipt: ...


@runtime_checkable
class Deleting(Protocol):
    def delete(self, receipt: Receipt) -> None: ...


@runtime_checkable
class Pinning(Protocol):
    def pin(self, receipt: Receipt) -> None: ...

    def unpin(self, receipt: Receipt) -> None: ...


@runtime_checkable
class HandOff(Protocol):
    """A platform without a posting API: a person posts the prepared text and confirms it."""

    def hand_off(self, post: Post) -> HandOffNote: ...


@runtime_checkable
class AnnouncesLimits(Protocol):
    """The server says its own limits; the engine asks now and then and keeps the answer, so
    that intake never waits for a server."""

    def read_limits(self) -> ServerLimits: ...


@runtime_checkable
class ExpiringCredentials(Protocol):
    """The channel's token runs out (Threads, Instagram and Facebook after 60 days, LinkedIn):
    the engine asks daily to refresh it where the platform allows (the channel keeps the new one
    in ``context.credentials``), and tells the on-call contacts a week before it expires."""

    def refresh_credentials(self) -> None:
        """Refresh the token if it is due and the platform allows; raise CredentialsError when
        it cannot be refreshed any more (a person must give a new one)."""

    def credentials_expire(self) -> datetime | None:
        """When the token in use stops working, as far as known (None: it does not, or unknown)."""


@runtime_checkable
class Mirrors(Protocol):
    """A copy of the built-in website elsewhere (a web host): the engine asks it to copy what
    changed on the site between deliveries (copies elsewhere listed, a warning expired, the site
    rebuilt), without waiting for any page. Returns the number of files moved."""

    def mirror(self) -> int: ...


_able: dict[tuple[type, type], bool] = {}


def able(channel: object, ability: type) -> bool:
    """Whether a channel (or channel type) has an ability: ``isinstance``/``issubclass``,
    remembered per class. Python 3.11 works a protocol's members out anew on every such check,
    and the engine asks on every delivery."""
    kind = channel if isinstance(channel, type) else type(channel)
    known = _able.get((kind, ability))
    if known is None:
        known = _able[(kind, ability)] = issubclass(kind, ability)
    return known


ABILITIES: dict[str, type] = {
    "threads": Threads,
    "edit": Editing,
    "delete": Deleting,
    "pin": Pinning,
    "hand_off": HandOff,
}
