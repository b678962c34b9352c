"""What a channel can do and how its platform counts, as data: the core renders and plans from
it and intake checks against it; nothing ever asks "is this Mastodon?"."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Literal

from publisher.domain.counting import TextRule


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
class MediaRule:
    """The images a platform takes with a post."""

    count: int = 0  # at most this many per post (0: none)
    max_bytes: int | None = None  # each, after Herold re-encoded it
    types: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp")
    alt_text: int | None = None  # longest alt text the platform keeps (None: it keeps none)
    required: bool = False  # a post without an image is refused (Instagram)
    # The accessible alert card (publisher.site.card: authority, severity, headline, instruction,
    # validity and the link as one image, its alt text the whole text), published on the item's
    # page first and taken by the platform from there: "always" (image-first platforms:
    # Instagram), "without_image" (when the announcement brings none: Threads, hand-offs) or
    # "never". A platform that requires an image is satisfied by the card.
    card: Literal["never", "always", "without_image"] = "never"

    def takes_card(self, has_images: bool) -> bool:
        return self.card == "always" or (self.card == "without_image" and not has_images)


@dataclass(frozen=True)
class Capabilities:
    """A channel type's declaration. The abilities it names (threads, edit, delete, pin,
    hand-off) must be implemented by the type, and the channel kit's contract checks that."""

    wave: Wave
    text: TextRule | None = None  # None: no text limit (website, webhooks)
    template: str = "channels/post.j2"
    media: MediaRule = MediaRule()
    link_in_text: bool = True  # the link to the item's page stands in the text (and counts)
    threads: bool = False  # follow-ups are posted as replies to the original
    edit: bool = False
    delete: bool = False
    pin: bool = False
    pin_limit: int | None = None  # posts an account may pin at once, unless the server says
    hand_off: bool = False  # a person posts it: Herold prepares the text and waits for them
    idempotency: Idempotency = Idempotency.none
    price: PostPrice | None = None  # what the platform charges per post (None: nothing)


@dataclass(frozen=True)
class PostPrice:
    """What a platform charges per post, in US dollars (X: about $0.015, $0.20 with a link, and
    every Herold post links its item page)."""

    per_post: float
    with_link: float | None = None  # instead of per_post, for a post that carries a link

    def of(self, has_link: bool) -> float:
        return self.with_link if has_link and self.with_link is not None else self.per_post


@dataclass(frozen=True)
class ServerLimits:
    """Limits a server announces for itself (a Mastodon instance's characters and pins), as the
    engine last heard them: intake reads these, and never asks a server itself."""

    characters: int | None = None
    pins: int | None = None
    counts_links_as: int | None = None  # the server's fixed length of a link, if it says one
    # Learned from a refusal: the server counts links at their full length, whatever it says.
    links_in_full: bool = False
