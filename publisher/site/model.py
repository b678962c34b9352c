"""What the built-in website publishes: items (an alert with its updates and all-clear) with
their entries, and the copies elsewhere an item page lists. The engine hands the site a
`Publication` and the copies; the site keeps its own record of them (publisher.site.record)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from publisher.domain.announcement import Announcement


@dataclass(frozen=True)
class Copy:
    """A copy of an announcement on another channel, for the item page's "also on" list."""

    channel: str
    channel_type: str
    url: str


@dataclass(frozen=True)
class ItemCopies:
    """What the engine knows of an item's copies elsewhere: those there are, by announcement id,
    and the addresses of those deleted (never to be shown again)."""

    shown: Mapping[str, Sequence[Copy]]
    deleted: frozenset[str] = frozenset()


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
    entries: Sequence[Entry]  # oldest first
    seq: int = 0  # its place in its month, in the order items arrived (the archive's pages)

    @property
    def latest(self) -> Entry:
        return self.entries[-1]

    @property
    def first(self) -> Entry:
        return self.entries[0]


@dataclass(frozen=True)
class Publication:
    """What the engine tells the site to publish: one announcement (an entry) of an item."""

    item_id: str
    item_path: str
    item_month: str
    entry: Entry


@dataclass(frozen=True)
class Published:
    """What the engine records a site has published, to start the site's record afresh from:
    the publications in the order their items arrived; by item, the copies elsewhere (by
    announcement id) and the addresses of those deleted; and the entries whose publication is
    under way (``under_way``, entry ids among the publications): the site may show them already,
    their success is not recorded yet."""

    publications: Sequence[Publication]
    copies: Mapping[str, Mapping[str, Sequence[Copy]]] = field(default_factory=dict)
    deleted: Mapping[str, Collection[str]] = field(default_factory=dict)
    under_way: frozenset[str] = frozenset()
