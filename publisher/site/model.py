"""The built-in website's view of what has been published: items (an alert with its updates and
all-clear) with their entries, and the copies elsewhere an item page lists. The engine provides
it (an Archive); the site renders from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from publisher.domain.announcement import Announcement


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
