"""The site's own record of what it has published: its read model, kept beside the site.

The engine tells the site what to publish and which copies exist; the site keeps what it needs
to render its pages here and never reads Herold's database. Every list the site shows has a
fixed size (current warnings, latest news, the feeds, one page of a month's archive), so
publishing one more item costs the same with ten items on the site as with ten thousand:

- ``items/<id>.json``: an item with its entries, and its place in its month (``seq``, counted
  from 0 in the order items arrive);
- ``copies/<id>.json``: the copies elsewhere of the item's entries (by entry id) as they were
  reported after the item was published, and the addresses of copies deleted since (under
  ``#deleted``: a delivery that reports its copy late never brings a deleted one back). They are
  kept apart because no list shows them: a channel's post changes the item's page, never its
  file, so the lists' rows stay as they are (publishing the item again folds them into its file);
- ``months.json``: how many items each month has;
- ``pages/<month>/<n>.json``: the rows of a month's items ``PAGE_SIZE * (n-1)`` to
  ``PAGE_SIZE * n - 1`` (pages are counted from the oldest, so a new item only ever changes the
  last page);
- ``lists.json``: the rows of the most recent warning and news items and feed entries.

A row keeps, beside the item's id, what the site needs to show it there (its *view*: whether a
warning is current, the rendered list row and CAP index entry, the rendered feed entry; see
`Views`), made once when the item changes, and the stamp (modification time and size) of the
item's file it was made from. So rewriting a list reads no item: it looks at the files of the
items it shows, and only an item whose file changed otherwise (damaged, edited by hand) is read
again, as it is now, and its view made anew (or the item left out if it cannot be read). Views
made with other templates, settings or versions (`Views.fingerprint`) are made anew as well.

Callers hold the site's lock while they change the record. Files are replaced whole (a reader
never sees half of one), and an item or a list read once is kept parsed in this process until
its file changes.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import structlog
from pydantic import ValidationError

from publisher.domain.announcement import STORED, Announcement, Kind
from publisher.site.model import Copy, Entry, Item, Publication

T = TypeVar("T")

PAGE_SIZE = 100  # items on one page of a month's archive
WARNINGS_KEPT = 200  # recent warning items the start page looks at for current warnings
NEWS_KEPT = 10  # news items on the start page
RECENT_KEPT = 50  # entries in the feeds
# What a view holds only for the start page's lists (and the CAP index): the list row, the index entry.
SHOWN_WHILE_CURRENT = frozenset({"row", "cap"})
# In a copies file, beside the entry ids: the addresses of the item's copies deleted since.
DELETED = "#deleted"

log = structlog.get_logger("herold.site")


class NotShown(Exception):
    """A copy the record cannot add by itself: its item or entry is not recorded (yet), or the
    item's copies file cannot be read, so the copies deleted meanwhile are not known."""


# Items: file -> (mtime_ns, size, item); lists and pages: file -> (-1, -1, (its bytes, parsed)).
_parsed: dict[Path, tuple[int, int, Any]] = {}
_parsed_lock = threading.Lock()
_reported: set[Path] = set()

Stamp = list[int]  # [mtime_ns, size] of an item's file, as a row was made from it
View = Mapping[str, Any]


class Views(Protocol):
    """What the site keeps in its record to show an item in a list, or an entry in the feeds,
    without reading the item again. Views are JSON values, made once per state of an item."""

    def fingerprint(self) -> str:
        """Differs whenever a view made before may no longer be what would be made now."""
        ...

    def item_view(self, item: Item) -> dict[str, Any]:
        """How the start page and the archive show an item."""
        ...

    def entry_view(self, item: Item, entry: Entry) -> dict[str, Any]:
        """How the feeds show an entry."""
        ...

    def current(self) -> Callable[[View], bool]:
        """Whether an item's view says it is a current warning (shown on the start page), now."""
        ...

    def recently_ended(self) -> Callable[[View, str], bool]:
        """Whether an item's view says its warning ended (an all-clear, a withdrawal) recently
        enough to stay on the start page, given when its latest message went out."""
        ...


@dataclass(frozen=True)
class Listed:
    """An item as a list shows it (in the feeds: one of its entries), with its view as it is now."""

    item_id: str
    view: View
    published: str = ""  # ISO time of the entry (feeds) or of the item's latest entry (start page)
    entry_id: str = ""


@dataclass(frozen=True)
class Lists:
    warnings: list[Listed]  # current warnings only, latest activity first
    news: list[Listed]
    ended: list[Listed]  # warnings recently ended by an all-clear or a withdrawal, latest first
    recent: list[Listed]  # the feeds' entries, newest first


def page_of(item: Item) -> int:
    """The page of its month's archive an item is on (1 is the oldest)."""
    return item.seq // PAGE_SIZE + 1


class SiteRecord:
    def __init__(self, folder: Path, authority: str, views: Views) -> None:
        self.folder, self.authority, self.views = folder, authority, views
        self._item_files = f"{folder}/items/"

    # -- changing it (under the site's lock) -------------------------------------------------------

    def publish(self, publication: Publication, *, views: bool = True) -> tuple[Item, list[int]]:
        """Add (or replace) an entry of an item; a new item takes the next place in its month.
        Returns the item and the pages of its month's archive that change (a new page changes
        them all: each says how many there are, and the one before moves to its own address).
        ``views=False`` (a rebuild) leaves the views to be made when a list shows the item."""
        entry = publication.entry
        item = self.item(publication.item_id)
        counts: dict[str, Any] | None = None
        pages: list[int]
        if item is None:
            counts = self._read("months.json", {})
            seq = int(counts.get(publication.item_month, 0))
            item = Item(id=publication.item_id, authority=self.authority, path=publication.item_path,
                        month=publication.item_month, entries=(), seq=seq)  # fmt: skip
            number = page_of(item)
            # A new page changes every page of the month ("page k of n", and where "newer" leads).
            pages = list(range(1, number + 1)) if seq % PAGE_SIZE == 0 and number > 1 else [number]
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
        item_view, entry_view = self._views(item, entry) if views else (None, None)
        # The item's file is written first and put in place last, after its page and its month's
        # count: its rows carry its stamp.
        target, partial, stamp = self._prepare(f"items/{item.id}.json", _document(item))
        try:
            self._paged(item, stamp, item_view, new=counts is not None)
            if counts is not None:
                self._write("months.json", counts | {item.month: item.seq + 1})
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self._commit(target, partial, stamp, item)
        # The item's file now has every copy (read with the item above): the copies file keeps
        # only the deleted ones, which a late report must still not bring back.
        deleted = _deleted(self._copies_file(item.id))
        if deleted:
            self._write_copies({}, item.id, deleted)
        else:
            self._copies_path(item.id).unlink(missing_ok=True)
        self._listed(item, entry, stamp, item_view, entry_view)
        return item, pages

    def set_copies(
        self, item_id: str, copies: Mapping[str, Sequence[Copy]], deleted: Collection[str] = ()
    ) -> Item | None:
        """Show these copies elsewhere (by announcement id) on the item's entries: all there are
        now (an entry left out has none: a withdrawal may have deleted them). ``deleted``: the
        addresses of the item's copies deleted since, which `add_copy` never shows again. Returns
        the item if the copies shown changed."""
        item = self.item(item_id)
        if item is None:
            return None
        entries = tuple(replace(e, copies=tuple(copies.get(e.id, ()))) for e in item.entries)
        changed = replace(item, entries=entries)
        before = _deleted(self._copies_file(item_id))
        gone = before | frozenset(deleted)
        if changed == item and gone == before:
            return None
        self._write_copies({e.id: e.copies for e in entries}, item.id, gone)
        return None if changed == item else changed

    def add_copy(self, item_id: str, announcement_id: str, copy: Copy) -> Item | None:
        """Show one more copy elsewhere of an announcement beside those shown, as the delivery
        that made it reports it (without every copy of the item read again). A copy deleted
        meanwhile (its delivery reports late) stays off. Returns the item if that changed it;
        raises NotShown where the record cannot tell by itself (the caller reads every copy)."""
        item = self.item(item_id)
        kept = self._copies_file(item_id)
        if item is None or (kept is None and self._copies_path(item_id).exists()):
            raise NotShown(f"item {item_id} is not recorded, or its copies cannot be read")
        if copy.url in _deleted(kept):
            return None
        known = {e.id: tuple(e.copies) for e in item.entries}
        if announcement_id not in known:
            raise NotShown(f"announcement {announcement_id} is not recorded on item {item_id}")
        if copy in known[announcement_id]:
            return None
        known[announcement_id] = (*known[announcement_id], copy)
        self._write_copies(known, item.id, _deleted(kept))
        return replace(item, entries=tuple(replace(e, copies=known[e.id]) for e in item.entries))

    def _write_copies(self, known: Mapping[str, Sequence[Copy]], item_id: str, deleted: frozenset[str]) -> None:
        document: dict[str, Any] = {i: _copies(c) for i, c in known.items()}
        if deleted:
            document[DELETED] = sorted(deleted)
        target, partial, stamp = self._prepare(f"copies/{item_id}.json", document)
        partial.replace(target)
        _keep(target, (stamp[0], stamp[1], _Copies({i: tuple(c) for i, c in known.items()}, deleted)))

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- reading it ----------------------------------------------------------------------------------

    def item(self, item_id: str) -> Item | None:
        """An item as the site has published it, with its copies elsewhere; None if it has not,
        or if its file is damaged (reported once)."""
        item = self._item_file(item_id)
        if item is None:
            return None
        copies = self._copies_file(item_id)
        if copies is None or not copies.by_entry:
            return item
        shown = copies.by_entry
        return replace(item, entries=tuple(replace(e, copies=shown.get(e.id, e.copies)) for e in item.entries))

    def _item_file(self, item_id: str) -> Item | None:
        return self._cached(self.folder / "items" / f"{item_id}.json", _item, Item)

    def _copies_path(self, item_id: str) -> Path:
        return self.folder / "copies" / f"{item_id}.json"

    def _copies_file(self, item_id: str) -> _Copies | None:
        """The copies reported since the item was last published, by entry id, and those deleted
        (a damaged file: none, reported once; the item's file still has those it was published with)."""
        return self._cached(self._copies_path(item_id), _copies_of, _Copies)

    def _cached(self, file: Path, parse: Callable[[Any], T], kind: type[T]) -> T | None:
        """A file of the record, parsed, kept while its stamp stays; None if it is not there or is
        damaged (reported once)."""
        try:
            status = file.stat()
        except FileNotFoundError:
            return None
        with _parsed_lock:
            known = _parsed.get(file)
        if known and known[:2] == (status.st_mtime_ns, status.st_size) and isinstance(known[2], kind):
            return known[2]
        try:
            value = parse(json.loads(file.read_bytes()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as error:
            self._report(file, error)
            return None
        _keep(file, (status.st_mtime_ns, status.st_size, value))
        return value

    def _report(self, file: Path, error: Exception) -> None:
        if file not in _reported:
            _reported.add(file)
            log.error("a file of the site's record cannot be read; it is left out until the site is rebuilt",
                      file=str(file), error=f"{type(error).__name__}: {str(error)[:200]}")  # fmt: skip

    def months(self) -> list[str]:
        """Months ("YYYY-MM") with items, newest first."""
        return sorted(self._read("months.json", {}), reverse=True)

    def pages(self, month: str) -> int:
        """How many pages the month's archive has."""
        count = int(self._read("months.json", {}).get(month, 0))
        return max(1, -(-count // PAGE_SIZE))

    def page(self, month: str, number: int) -> list[Item]:
        """One page of a month's archive, newest first."""
        return self._items(reversed([row[0] for row in self._page(f"pages/{month}/{number}.json")[1]]))

    def warnings(self) -> list[Item]:
        """The most recent warning items, latest activity first (current or not: the reader decides)."""
        return self._items(row[0] for row in self._read("lists.json", {}).get("warnings", []))

    def news(self) -> list[Item]:
        return self._items(row[0] for row in self._read("lists.json", {}).get("news", []))

    def recent(self) -> list[tuple[Item, Entry]]:
        """The latest entries, newest first, each with its item (for the feeds)."""
        pairs = []
        for row in self._read("lists.json", {}).get("recent", []):
            item = self.item(row[0])
            entry = next((e for e in item.entries if e.id == row[1]), None) if item else None
            if item and entry:
                pairs.append((item, entry))
        return pairs

    def items(self) -> Iterator[Item]:
        """Every item, month by month (to render the whole site again)."""
        for month in self.months():
            for number in range(1, self.pages(month) + 1):
                yield from self.page(month, number)

    # -- reading its lists with their views (under the site's lock) ------------------------------------

    def lists(self, *, again: bool = False) -> Lists:
        """The start page's and the feeds' lists with every view they show as it is now: the
        current warnings, the latest news, the feeds' entries. Views made from another state of an
        item (or with another fingerprint; ``again``: all of them) are made anew and kept."""
        current, ended = self.views.current(), self.views.recently_ended()
        document = self._read("lists.json", {})
        fingerprint = self.views.fingerprint()
        same = document.get("views") == fingerprint and not again
        rows = {key: _item_rows(document.get(key, []), same) for key in ("warnings", "news")}
        recent = _entry_rows(document.get("recent", []), same)
        changed = False
        shown: dict[str, list[Listed]] = {"warnings": [], "news": [], "ended": []}
        for key, kept in rows.items():
            for at, (item_id, latest, stamp, view) in enumerate(kept):
                if key == "warnings" and view is not None and not current(view) and not ended(view, latest):
                    continue  # not shown: whatever became of the item since, it would not be
                fresh = self._fresh(item_id, stamp, view, self.views.item_view)
                if fresh is None:
                    continue  # gone or damaged: left out
                if fresh[1] is not view:
                    kept[at] = [item_id, latest, *fresh]
                    changed = True
                if key == "news" or current(fresh[1]):
                    shown[key].append(Listed(item_id, fresh[1], published=latest))
                elif ended(fresh[1], latest):
                    shown["ended"].append(Listed(item_id, fresh[1], published=latest))
        feeds: list[Listed] = []
        for at, (item_id, entry_id, published, stamp, view) in enumerate(recent):

            def entry_view(item: Item, entry_id: str = entry_id) -> dict[str, Any] | None:
                entry = next((e for e in item.entries if e.id == entry_id), None)
                return self.views.entry_view(item, entry) if entry else None

            fresh = self._fresh(item_id, stamp, view, entry_view)
            if fresh is None:
                continue
            if fresh[1] is not view:
                recent[at] = [item_id, entry_id, published, *fresh]
                changed = True
            feeds.append(Listed(item_id, fresh[1], published=published, entry_id=entry_id))
        if changed:
            self._write("lists.json", {"views": fingerprint, **rows, "recent": recent})
        return Lists(warnings=shown["warnings"], news=shown["news"], ended=shown["ended"], recent=feeds)

    def page_rows(self, month: str, number: int, *, again: bool = False) -> list[Listed]:
        """One page of a month's archive, newest first, each item with its view as it is now."""
        name = f"pages/{month}/{number}.json"
        fingerprint = self.views.fingerprint()
        same, rows = self._page(name)
        same = same and not again
        if not same:
            rows = [[item_id, stamp, None] for item_id, stamp, _ in rows]
        shown = []
        changed = False
        for at, (item_id, stamp, view) in enumerate(rows):
            fresh = self._fresh(item_id, stamp, view, self.views.item_view)
            if fresh is None:
                continue
            if fresh[1] is not view:
                rows[at] = [item_id, *fresh]
                changed = True
            shown.append(Listed(item_id, fresh[1]))
        if changed:
            self._write(name, {"views": fingerprint, "rows": [[i, s, _paged_view(v)] for i, s, v in rows]})
        return shown[::-1]

    # -- keeping it ----------------------------------------------------------------------------------

    def _views(self, item: Item, entry: Entry) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        try:
            return self.views.item_view(item), self.views.entry_view(item, entry)
        except Exception:
            # A template that fails: the record changes all the same, and the lists fail when they
            # are rewritten (they make the view then), as they would without views kept.
            return None, None

    def _fresh(self, item_id: str, stamp: Stamp | None, view: View | None,
               make: Callable[[Item], View | None]) -> tuple[Stamp, View] | None:  # fmt: skip
        """A row's stamp and view as they are now, or None if its item (or entry) is gone or
        cannot be read."""
        try:
            status = os.stat(self._item_files + item_id + ".json")
        except FileNotFoundError:
            return None
        now = [status.st_mtime_ns, status.st_size]
        if view is not None and stamp == now:
            return stamp, view
        item = self.item(item_id)
        made = make(item) if item is not None else None
        return (now, made) if made is not None else None

    def _paged(self, item: Item, stamp: Stamp, view: View | None, *, new: bool) -> None:
        """The item's row on its page of its month's archive: a new item's added last."""
        name = f"pages/{item.month}/{page_of(item)}.json"
        same, rows = self._page(name)
        if not same:
            rows = [[item_id, row_stamp, None] for item_id, row_stamp, _ in rows]
        at = next((i for i, row in enumerate(rows) if row[0] == item.id), None)
        if at is None and not new:
            return
        row = [item.id, stamp, _paged_view(view)]
        rows = [*rows, row] if at is None else [*rows[:at], row, *rows[at + 1 :]]
        self._write(name, {"views": self.views.fingerprint(), "rows": rows})

    def _listed(self, item: Item, entry: Entry, stamp: Stamp, item_view: View | None,
                entry_view: View | None) -> None:  # fmt: skip
        document = self._read("lists.json", {})
        same = document.get("views") == self.views.fingerprint()
        rows = {key: _item_rows(document.get(key, []), same) for key in ("warnings", "news")}
        key = "warnings" if item.first.announcement.kind is Kind.warning else "news"
        kept = WARNINGS_KEPT if key == "warnings" else NEWS_KEPT
        mine = [[item.id, item.latest.published.isoformat(), stamp, item_view]]
        rows[key] = sorted([row for row in rows[key] if row[0] != item.id] + mine, key=lambda row: row[1],
                           reverse=True)[:kept]  # fmt: skip
        # The start page and the CAP index show current and recently ended warnings only: the others'
        # rows are kept without what they would show of them (one shown after all is made from its item).
        current, ended = self.views.current(), self.views.recently_ended()
        rows["warnings"] = [
            [*row[:3], {k: v for k, v in row[3].items() if k not in SHOWN_WHILE_CURRENT}]
            if row[3] is not None and "row" in row[3] and not current(row[3]) and not ended(row[3], row[1]) else row
            for row in rows["warnings"]
        ]  # fmt: skip
        # The item's other entries in the feeds stay as they are, from its file as it is now.
        recent = [row if row[0] != item.id else [*row[:3], stamp, row[4]]
                  for row in _entry_rows(document.get("recent", []), same) if row[1] != entry.id]  # fmt: skip
        recent.append([item.id, entry.id, entry.published.isoformat(), stamp, entry_view])
        recent = sorted(recent, key=lambda row: (row[2], row[1]), reverse=True)[:RECENT_KEPT]
        self._write("lists.json", {"views": self.views.fingerprint(), **rows, "recent": recent})

    def _page(self, name: str) -> tuple[bool, list[list[Any]]]:
        """A page's rows ([item id, stamp, view], oldest first; new lists), and whether their views
        have today's fingerprint."""
        document = self._read(name, [])
        if isinstance(document, list):  # as kept before views: the ids alone
            return False, [[item_id, None, None] for item_id in document]
        same = document.get("views") == self.views.fingerprint()
        return same, [list(row) for row in document.get("rows", [])]

    def _items(self, ids: Iterator[str] | Sequence[str]) -> list[Item]:
        return [item for item in (self.item(i) for i in ids) if item is not None]

    def _prepare(self, name: str, value: Any) -> tuple[Path, Path, Stamp]:
        """Write a file beside its place, not yet in it; returns where it goes, where it is, and its stamp."""
        target = self.folder / name
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
        status = written(partial, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        return target, partial, [status.st_mtime_ns, status.st_size]

    def _commit(self, target: Path, partial: Path, stamp: Stamp, item: Item) -> None:
        partial.replace(target)  # the file keeps its modification time: the stamp stays true
        _keep(target, (stamp[0], stamp[1], item))

    def _read(self, name: str, default: Any) -> Any:
        """A JSON file of the record, parsed (kept while its content stays the same). The value is
        shared: never change it."""
        file = self.folder / name
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            return default
        with _parsed_lock:
            known = _parsed.get(file)
        if known is not None and known[2][0] == data:
            return known[2][1]
        value = json.loads(data)
        _keep(file, (-1, -1, (data, value)))
        return value

    def _write(self, name: str, value: Any) -> None:
        target = self.folder / name
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
        written(partial, data)
        partial.replace(target)
        _keep(target, (-1, -1, (data, value)))


def written(file: Path, data: bytes, *, append: bool = False) -> os.stat_result:
    """``data`` as the whole of ``file``, or at its end (``append``), its folder made if need be;
    returns the file's status. Through a plain descriptor: a Python file object costs more than
    the write, and the site writes a file or two for every copy a platform reports."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    try:
        descriptor = os.open(file, flags, 0o666)
    except FileNotFoundError:
        file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(file, flags, 0o666)
    try:
        rest = memoryview(data)
        while rest:
            rest = rest[os.write(descriptor, rest) :]
        return os.fstat(descriptor)
    finally:
        os.close(descriptor)


def _keep(file: Path, known: tuple[int, int, Any]) -> None:
    with _parsed_lock:
        if len(_parsed) > 50_000:
            _parsed.clear()
        _parsed[file] = known


def _paged_view(view: View | None) -> View | None:
    """A view as an archive page keeps it: without the item's CAP index entry, which only the
    current warnings' list shows."""
    return {k: v for k, v in view.items() if k != "cap"} if view is not None and "cap" in view else view


def _item_rows(rows: Sequence[Sequence[Any]], same: bool) -> list[list[Any]]:
    """Rows of the start page's lists as [item id, latest, stamp, view] (new lists; rows kept
    before views: without), views dropped unless ``same``."""
    return [[row[0], row[1], row[2] if len(row) > 2 else None, row[3] if same and len(row) > 3 else None]
            for row in rows]  # fmt: skip


def _entry_rows(rows: Sequence[Sequence[Any]], same: bool) -> list[list[Any]]:
    """Rows of the feeds as [item id, entry id, published, stamp, view] (as `_item_rows`)."""
    return [[*row[:3], row[3] if len(row) > 3 else None, row[4] if same and len(row) > 4 else None]
            for row in rows]  # fmt: skip


def _document(item: Item) -> dict[str, Any]:
    return {
        "id": item.id, "path": item.path, "month": item.month, "seq": item.seq, "authority": item.authority,
        "entries": [
            {
                "id": e.id, "announcement": e.announcement.model_dump(mode="json"), "text": e.variant_text,
                "published": e.published.isoformat(),
                "copies": _copies(e.copies),
            }
            for e in item.entries
        ],
    }  # fmt: skip


def _copies(copies: Sequence[Copy]) -> list[dict[str, str]]:
    return [{"channel": c.channel, "type": c.channel_type, "url": c.url} for c in copies]


@dataclass(frozen=True)
class _Copies:
    """A copies file: the copies shown, by entry id, and the addresses of those deleted."""

    by_entry: dict[str, tuple[Copy, ...]]
    deleted: frozenset[str] = frozenset()


def _deleted(kept: _Copies | None) -> frozenset[str]:
    return kept.deleted if kept is not None else frozenset()


def _copies_of(document: dict[str, Any]) -> _Copies:
    return _Copies(
        {entry_id: tuple(Copy(c["channel"], c["type"], c["url"]) for c in listed)
         for entry_id, listed in document.items() if entry_id != DELETED},
        frozenset(str(url) for url in document.get(DELETED, ())),
    )  # fmt: skip


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
