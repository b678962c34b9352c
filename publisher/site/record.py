"""The site's own record of what it has published: its read model, kept beside the site.

The engine tells the site what to publish and which copies exist; the site keeps what it needs
to render its pages here and never reads Herold's database. Every list the site shows has a
fixed size (current warnings, latest news, the feeds, one page of a month's archive), so
publishing one more item costs the same with ten items on the site as with ten thousand:

- ``items/<id>.json``: an item with its entries and the copies elsewhere, and its place in its
  month (``seq``, counted from 0 in the order items arrive);
- ``months.json``: how many items each month has;
- ``pages/<month>/<n>.json``: the ids of a month's items ``PAGE_SIZE * (n-1)`` to ``PAGE_SIZE * n - 1``
  (pages are counted from the oldest, so a new item only ever changes the last page);
- ``lists.json``: the most recent warning and news items and feed entries.

Callers hold the site's lock while they change the record. Files are replaced whole (a reader
never sees half of one), and an item read once is kept parsed in this process until its file
changes.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from publisher.domain.announcement import STORED, Announcement, Kind
from publisher.site.model import Copy, Entry, Item, Publication

PAGE_SIZE = 100  # items on one page of a month's archive
WARNINGS_KEPT = 200  # recent warning items the start page looks at for current warnings
NEWS_KEPT = 10  # news items on the start page
RECENT_KEPT = 50  # entries in the feeds

log = structlog.get_logger("herold.site")

_parsed: dict[Path, tuple[int, int, Item]] = {}  # file -> (mtime_ns, size, item)
_parsed_lock = threading.Lock()
_reported: set[Path] = set()


def page_of(item: Item) -> int:
    """The page of its month's archive an item is on (1 is the oldest)."""
    return item.seq // PAGE_SIZE + 1


class SiteRecord:
    def __init__(self, folder: Path, authority: str) -> None:
        self.folder, self.authority = folder, authority

    # -- changing it (under the site's lock) -------------------------------------------------------

    def publish(self, publication: Publication) -> tuple[Item, list[int]]:
        """Add (or replace) an entry of an item; a new item takes the next place in its month.
        Returns the item and the pages of its month's archive that change (a new page also
        changes the one before, which gains a link to it)."""
        entry = publication.entry
        item = self.item(publication.item_id)
        pages: list[int]
        if item is None:
            counts = self._read("months.json", {})
            seq = int(counts.get(publication.item_month, 0))
            item = Item(id=publication.item_id, authority=self.authority, path=publication.item_path,
                        month=publication.item_month, entries=(), seq=seq)  # fmt: skip
            number = page_of(item)
            page = self._read(f"pages/{item.month}/{number}.json", [])
            self._write(f"pages/{item.month}/{number}.json", [*page, item.id])
            self._write("months.json", counts | {item.month: seq + 1})
            pages = [number - 1, number] if seq % PAGE_SIZE == 0 and number > 1 else [number]
        else:
            pages = [page_of(item)]
        before = next((e for e in item.entries if e.id == entry.id), None)
        if before is not None and not entry.copies:
            entry = replace(entry, copies=before.copies)  # published again: the copies elsewhere stay
        entries = [e for e in item.entries if e.id != entry.id]
        # In the order they were sent; one sent at the same moment as another goes after it.
        at = sum(1 for e in entries if e.published <= entry.published)
        entries.insert(at, entry)
        item = replace(item, entries=tuple(entries))
        self._save(item)
        self._listed(item, entry)
        return item, pages

    def set_copies(self, item_id: str, copies: Mapping[str, Sequence[Copy]]) -> Item | None:
        """Show these copies elsewhere (by announcement id) on the item's entries. Returns the item
        if that changed it."""
        item = self.item(item_id)
        if item is None:
            return None
        entries = tuple(replace(e, copies=tuple(copies.get(e.id, e.copies))) for e in item.entries)
        changed = replace(item, entries=entries)
        if changed == item:
            return None
        self._save(changed)
        return changed

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- reading it ----------------------------------------------------------------------------------

    def item(self, item_id: str) -> Item | None:
        """An item as the site has published it; None if it has not, or if its file is damaged
        (reported once)."""
        file = self.folder / "items" / f"{item_id}.json"
        try:
            status = file.stat()
        except FileNotFoundError:
            return None
        with _parsed_lock:
            known = _parsed.get(file)
        if known and known[:2] == (status.st_mtime_ns, status.st_size):
            return known[2]
        try:
            item = _item(json.loads(file.read_bytes()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, ValidationError) as error:
            if file not in _reported:
                _reported.add(file)
                log.error("an item of the site's record cannot be read; it is left out until the site is rebuilt",
                          file=str(file), error=f"{type(error).__name__}: {str(error)[:200]}")  # fmt: skip
            return None
        with _parsed_lock:
            if len(_parsed) > 50_000:
                _parsed.clear()
            _parsed[file] = (status.st_mtime_ns, status.st_size, item)
        return item

    def months(self) -> list[str]:
        """Months ("YYYY-MM") with items, newest first."""
        return sorted(self._read("months.json", {}), reverse=True)

    def pages(self, month: str) -> int:
        """How many pages the month's archive has."""
        count = int(self._read("months.json", {}).get(month, 0))
        return max(1, -(-count // PAGE_SIZE))

    def page(self, month: str, number: int) -> list[Item]:
        """One page of a month's archive, newest first."""
        return self._items(reversed(self._read(f"pages/{month}/{number}.json", [])))

    def warnings(self) -> list[Item]:
        """The most recent warning items, latest activity first (current or not: the reader decides)."""
        return self._items(item_id for item_id, _ in self._read("lists.json", {}).get("warnings", []))

    def news(self) -> list[Item]:
        return self._items(item_id for item_id, _ in self._read("lists.json", {}).get("news", []))

    def recent(self) -> list[tuple[Item, Entry]]:
        """The latest entries, newest first, each with its item (for the feeds)."""
        pairs = []
        for item_id, entry_id, _ in self._read("lists.json", {}).get("recent", []):
            item = self.item(item_id)
            entry = next((e for e in item.entries if e.id == entry_id), None) if item else None
            if item and entry:
                pairs.append((item, entry))
        return pairs

    def items(self) -> Iterator[Item]:
        """Every item, month by month (to render the whole site again)."""
        for month in self.months():
            for number in range(1, self.pages(month) + 1):
                yield from self.page(month, number)

    # -- keeping it ----------------------------------------------------------------------------------

    def _listed(self, item: Item, entry: Entry) -> None:
        lists = self._read("lists.json", {})
        latest = item.latest.published.isoformat()
        key = "warnings" if item.first.announcement.kind is Kind.warning else "news"
        kept = WARNINGS_KEPT if key == "warnings" else NEWS_KEPT
        rows = [row for row in lists.get(key, []) if row[0] != item.id] + [[item.id, latest]]
        lists[key] = sorted(rows, key=lambda row: row[1], reverse=True)[:kept]
        recent = [row for row in lists.get("recent", []) if row[1] != entry.id]
        recent.append([item.id, entry.id, entry.published.isoformat()])
        lists["recent"] = sorted(recent, key=lambda row: (row[2], row[1]), reverse=True)[:RECENT_KEPT]
        self._write("lists.json", lists)

    def _items(self, ids: Iterator[str] | Sequence[str]) -> list[Item]:
        return [item for item in (self.item(i) for i in ids) if item is not None]

    def _save(self, item: Item) -> None:
        self._write(f"items/{item.id}.json", _document(item))

    def _read(self, name: str, default: Any) -> Any:
        try:
            return json.loads((self.folder / name).read_bytes())
        except FileNotFoundError:
            return default

    def _write(self, name: str, value: Any) -> None:
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
        partial.write_bytes(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        partial.replace(target)


def _document(item: Item) -> dict[str, Any]:
    return {
        "id": item.id, "path": item.path, "month": item.month, "seq": item.seq, "authority": item.authority,
        "entries": [
            {
                "id": e.id, "announcement": e.announcement.model_dump(mode="json"), "text": e.variant_text,
                "published": e.published.isoformat(),
                "copies": [{"channel": c.channel, "type": c.channel_type, "url": c.url} for c in e.copies],
            }
            for e in item.entries
        ],
    }  # fmt: skip


def _item(document: dict[str, Any]) -> Item:
    return Item(
        id=document["id"], authority=document["authority"], path=document["path"], month=document["month"],
        seq=int(document["seq"]),
        entries=tuple(
            Entry(
                id=e["id"], announcement=Announcement.model_validate(e["announcement"], context=STORED),
                variant_text=e["text"], published=datetime.fromisoformat(e["published"]),
                copies=tuple(Copy(c["channel"], c["type"], c["url"]) for c in e["copies"]),
            )
            for e in document["entries"]
        ),
    )  # fmt: skip
