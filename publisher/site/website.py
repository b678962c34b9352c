"""The built-in own website: a static site in a directory, written before anything else. It is
the publisher of record, a subsystem of its own rather than a channel: the engine hands it what
to publish (`Site.publish`) and which copies exist elsewhere (`Site.copies`), and the site keeps
its own record of both (publisher.site.record); it never reads Herold's database.

Each item (an alert with its updates and all-clear) gets one page at a stable URL, latest
state on top and history below; the site has an index of current warnings, an archive by
month, and Atom, RSS 2.0 and JSON Feed 1.1 feeds. Every warning is also published as CAP 1.2,
with an Atom index of the current ones (publisher.site.cap). Where a channel takes an alert card
(Instagram, Threads, hand-offs), each message's card is written beside its item page
(publisher.site.card). Pages are plain semantic HTML with no JavaScript, no cookies and no request
to any other origin. Each announcement is a microformats2 ``h-entry``; once other channels have
posted, the page lists those copies as ``u-syndication`` links (publish on your own site,
syndicate elsewhere).

Publishing renders only the pages an item can change (its page, the index, its page of its
month's archive, the archive overview, the feeds) and writes a file only if its content
changed. Every list has a fixed size (a month's archive has pages of a fixed size), so one more
item costs the same however many the site has. An item's row in a list and an entry's part of
each feed are rendered once, when the item changes, and kept in the site's record with the
item's row there (`Site.item_view`, `Site.entry_view`): a list is put together from them and
renders only what is new, reading no other item.
Writes are atomic (a reader never sees half a page) and serialised per site by a file lock,
so several workers can publish at once.

The item page is written before the delivery succeeds: it is what every later post links to.
The lists (index, archive, feeds), and item pages that only gain links to copies elsewhere,
follow at once when the site is quiet; in a burst they are rewritten at most every
``lists_every_seconds``, each rewrite showing everything published so far, so a crisis with
hundreds of items does not rewrite them hundreds of times.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, cached_property, partial
from pathlib import Path
from typing import Any

import structlog
from babel.core import UnknownLocaleError
from babel.dates import format_date
from feedgen.feed import FeedGenerator
from jinja2 import Environment
from markupsafe import Markup, escape
from pydantic import Field

from adapters import channel_types
from adapters.port import (
    Capabilities,
    ChannelSettings,
    ChannelType,
    Idempotency,
    MediaRule,
    PermanentError,
    Receipt,
    Wave,
)
from publisher.core.render import environment, local_time
from publisher.domain.announcement import Kind, MsgType
from publisher.domain.authority import Authority, ChannelConfig
from publisher.domain.labels import LABELS, labels_for, titled
from publisher.domain.text import xml_safe
from publisher.site import cap
from publisher.site.card import card_jpeg_name, card_name, render_card
from publisher.site.logo import LogoError, read_logo
from publisher.site.model import Copy, Entry, Item, ItemCopies, Publication, Published
from publisher.site.record import Listed, NotShown, SiteRecord, View, page_of, written

# What this process keeps rendered: list rows by item state (see Site._row), and what the views
# kept in the record depend on (see Site.fingerprint).
_rows: dict[tuple[Any, ...], Any] = {}
EXPIRING = "expiring.json"  # [expiry, item id] of the warnings on the index: their pages change then
LOGO = "logo.json"  # which logo file the site's copy of the logo was made from, its name and size
ROW_TEMPLATE = "site/_list_item.html.j2"
ACCESSIBILITY = "barrierefreiheit/index.html"  # the accessibility statement (BITV 2.0), linked from every page
COPIES_TEMPLATE = "site/_copies.html.j2"  # an entry's copies elsewhere, alone (Site._write_copies)
COPIES_END = "<!--/herold:copies-->"
# A list row kept in the record is rendered once for every list; this stands where the page's way
# back to the site's root goes (autoescaped text cannot contain it).
ROOT = Markup("<!--herold:root-->")
VIEWS = 5  # the way views are made: a new number when that changes (views kept before are made anew)
ATOM_END, RSS_END = b"</feed>\n", b"  </channel>\n</rss>\n"

log = structlog.get_logger("herold.website")


class WebsiteSettings(ChannelSettings):
    directory: Path | None = None  # default: <data_dir>/site/<authority>
    # In a burst, the index, archive and feeds are rewritten at most this often (0: after every
    # item). Item pages are always written at once.
    lists_every_seconds: float = Field(default=1.0, ge=0, le=60)
    # An all-clear or a withdrawal stays on the start page this long, in a section of its own, so
    # that whoever comes back sees that the danger is over (0: not at all).
    ended_hours: float = Field(default=24, ge=0, le=24 * 30)


@dataclass(frozen=True)
class Status:
    """Where an item stands, as readers need to see it first."""

    name: str  # active, cancelled, withdrawn, expired, news
    notice: str | None


def item_status(item: Item, now: datetime) -> Status:
    latest = item.latest.announcement
    t = labels_for(latest.language or "de")
    if latest.msg_type is MsgType.error:
        return Status("withdrawn", t("withdrawn_notice"))
    if latest.msg_type is MsgType.cancel:
        return Status("cancelled", t("cancelled_notice"))
    if latest.kind is Kind.news:
        return Status("news", None)
    if latest.expires and latest.expires <= now:
        return Status("expired", t("expired_notice"))
    return Status("active", None)


def _severity_of(entry: Entry) -> str | None:
    """A warning's severity while it is in force (not on its all-clear or withdrawal)."""
    a = entry.announcement
    if a.kind is Kind.warning and a.severity and a.msg_type in (MsgType.alert, MsgType.update):
        return a.severity.value
    return None


def _recently_ended(view: View, latest: str, since: datetime) -> bool:
    """Whether a list row's warning ended (all-clear, withdrawal) with a message sent since then."""
    return bool(view.get("ended")) and bool(latest) and datetime.fromisoformat(latest) >= since


def _current(view: View, now: datetime) -> bool:
    """Whether the item of a list row is an active warning (as `item_status` says), from its view."""
    return bool(view["open"]) and (view["expires"] is None or datetime.fromisoformat(view["expires"]) > now)


@cache
def _made_by() -> str:
    """What the views kept in the record depend on besides the templates and the settings: the
    code and the libraries that make them, and the labels."""
    parts = [f"views {VIEWS}", json.dumps(LABELS, sort_keys=True)]
    for package in ("herold", "feedgen", "lxml", "babel", "jinja2", "markupsafe"):
        try:
            parts.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{package} unknown")
    return "\n".join(parts)


class _Clean:
    """A list row kept in the record, cleaned when it was made as the templates' ``finalize``
    cleans what they print (`xml_safe`): printed as it is, without cleaning it again."""

    __slots__ = ("markup",)

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def __html__(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


class _Shown:
    """An item in a list as the templates get it: ``row(item)`` prints the row kept in the record;
    anything else a (customised) template asks of it comes from the item itself."""

    def __init__(self, listed: Listed, record: SiteRecord) -> None:
        self._listed, self._record = listed, record

    def _load(self) -> Item | None:
        return self._record.item(self._listed.item_id)

    def __getattr__(self, name: str) -> Any:
        item = None if name.startswith("__") else self._load()
        if item is None:
            raise AttributeError(name)
        return getattr(item, name)


def corrections_of(item: Item) -> dict[str, list[Entry]]:
    """The corrections of each entry of an item (by the corrected entry's id), oldest first."""
    corrections: dict[str, list[Entry]] = {}
    for entry in item.entries:
        announcement = entry.announcement
        if announcement.correction and announcement.references:
            corrections.setdefault(announcement.references, []).append(entry)
    return corrections


def _with_time(text: str, moment: datetime, shown: str) -> Markup:
    """A label with a ``{when}`` in it, the time in it as a ``<time>`` element."""
    before, _, after = text.partition("{when}")
    return Markup('{}<time datetime="{}">{}</time>{}').format(before, moment.isoformat(), shown, after)


@cache
def month_name(month: str, language: str) -> str:
    """ "2026-12" as people say it: "Dezember 2026", "December 2026" (as written, where unknown)."""
    try:
        year, number = (int(part) for part in month.split("-"))
        return str(format_date(date(year, number, 1), "LLLL y", locale=language))
    except (ValueError, UnknownLocaleError):
        return month


# A line that starts a list item keeps its own line; any other line break inside a paragraph is
# where the writer's editor (or a YAML block) wrapped the text, and is joined.
_ITEM = re.compile(r"(?:[-*•–]|\d{1,2}[.)])\s")


def _platform_of(copy: Copy) -> str:
    """A copy's platform as people know it (the channel's id, for a type Herold no longer has)."""
    types = channel_types()
    return types[copy.channel_type].label if copy.channel_type in types else copy.channel


def _paragraphs(text: str | None) -> Markup:
    """Blank lines separate paragraphs; single line breaks within one are joined, except before
    a list item ("- …", "1. …"), which keeps its line."""
    if not text:
        return Markup("")
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if block.strip()]
    rendered = []
    for block in blocks:
        lines: list[str] = []
        for line in (line.strip() for line in block.split("\n")):
            if lines and not _ITEM.match(line):
                lines[-1] += " " + line
            else:
                lines.append(line)
        rendered.append(Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in lines)))
    return Markup("\n").join(rendered)


class Website(ChannelType):
    """The built-in website as a channel type: what intake renders for it and where it stands in
    the order (first). The engine publishes on it through its `Site`."""

    type = "website"
    label = "Website"
    capabilities = Capabilities(
        wave=Wave.website,
        template="channels/website.j2",
        media=MediaRule(count=4, alt_text=1000),
        idempotency=Idempotency.natural,
    )
    Settings = WebsiteSettings


class Site:
    """One authority's built-in website: its directory, its record, and the pages written from it."""

    def __init__(
        self,
        config: ChannelConfig,
        authority: Authority,
        *,
        clock: Callable[[], datetime],
        data_dir: Path,
        templates: Path | None = None,
    ) -> None:
        assert isinstance(config.settings, WebsiteSettings)
        self.config, self.authority, self.clock = config, authority, clock
        self.settings: WebsiteSettings = config.settings
        self.data_dir, self.templates = Path(data_dir), templates
        self._state_paths: dict[str, Path] = {}
        self.record = SiteRecord(self._state_folder / "record", authority.slug, self)
        self._timer: threading.Timer | None = None  # a held-back rewrite of the lists, in this process
        self._timer_lock = threading.Lock()
        self._directory_made = False
        self._logo_known: tuple[list[Any], dict[str, Any] | None] | None = None  # (stamp, for the header)

    @property
    def id(self) -> str:
        return self.config.id

    # -- where things go ----------------------------------------------------------------

    @property
    def directory(self) -> Path:
        configured = self.settings.directory
        if configured is None:
            return self.data_dir / "site" / self.authority.slug
        return configured if configured.is_absolute() else self.data_dir / configured

    def url(self, path: str = "") -> str:
        return self.authority.url(path)

    @property
    def env(self) -> Environment:
        return environment(self.templates) if self.templates else environment()

    # -- what the engine tells the site ---------------------------------------------------

    def publish(self, publication: Publication) -> Receipt:
        """Publish one announcement: its item page at once, the lists soon (see the module)."""
        problem = self._unsafe_directory()
        if problem:
            raise PermanentError(problem)
        with self._locked():
            item, pages = self.record.publish(publication)
            self._write_item(item)
            self._write_cap(item, publication.entry.id)
            self._request_lists(item.month, pages)
        self._catch_up_soon()
        return Receipt(platform_id=item.path, url=self.url(item.path))

    def copies(
        self,
        item_id: str,
        copies: ItemCopies | Mapping[str, Sequence[Copy]] | Callable[[], ItemCopies | Mapping[str, Sequence[Copy]]],
    ) -> None:
        """The copies elsewhere of an item's announcements (by announcement id), all there are now,
        for its page, with the addresses of those deleted. Given as a function, they are read under
        the site's lock, so that of two callers racing the one that read last also writes last."""
        with self._locked():
            read = copies() if callable(copies) else copies
            known = read if isinstance(read, ItemCopies) else ItemCopies(read)
            if self.record.set_copies(item_id, known.shown, known.deleted) is None:
                return
            self._page_asked(item_id)
        self._catch_up_soon()

    def add_copy(self, item_id: str, announcement_id: str, copy: Copy) -> bool:
        """One more copy elsewhere of an announcement, reported by the delivery that made it:
        recorded now if the site is free, its page rewritten by the site's own timer. False if
        the site is busy (a rebuild holds it), or its record cannot tell by itself (the item or
        its entry not recorded, its copies file damaged): then nothing is done, and the caller
        asks the site's lane to read every copy, so that a platform's delivery never waits for
        the site."""
        try:
            with self._locked(blocking=False):
                if self.record.add_copy(item_id, announcement_id, copy) is None:
                    return True
                self._page_asked(item_id)
        except (BlockingIOError, NotShown):
            return False
        self._catch_up_later(self._wait())  # by the site's timer: never in the delivery's thread
        return True

    def _page_asked(self, item_id: str) -> None:
        """The item's page is rewritten at the next catch-up, with the lists: channels that finish
        together (two accounts, a burst) are shown by one rewrite (under the lock)."""
        self._append("refresh", [item_id])

    def rebuild(self, published: Published | Callable[[], Published]) -> int:
        """Start the record afresh from what the engine says was published (the database is the
        truth), with the copies elsewhere and, by item, the addresses of those deleted (a late
        report of one must still not bring it back), and render every page again. Returns the
        number of files written.

        Given as a function, it is read under the site's lock: a rebuild of a large site reads for
        a while, and an announcement published or a copy reported meanwhile would be wiped by the
        older read. Meanwhile the site's own deliveries wait for the lock, and a platform's
        delivery finds the site busy and leaves its copy to the site's lane. An entry whose
        publication is under way stays if the site shows it already: the site published it, and
        its success is being recorded."""
        with self._locked():
            known = published() if callable(published) else published
            shown = {p.entry.id for p in known.publications if p.entry.id in known.under_way and self._shows(p)}
            self.record.clear()
            for publication in known.publications:
                if publication.entry.id not in known.under_way or publication.entry.id in shown:
                    self.record.publish(publication, views=False)  # made as render_all shows the items
            for item_id in {*known.copies, *known.deleted}:
                self.record.set_copies(item_id, known.copies.get(item_id, {}), known.deleted.get(item_id, ()))
        return self.render_all()

    def _shows(self, publication: Publication) -> bool:
        item = self.record.item(publication.item_id)
        return item is not None and any(entry.id == publication.entry.id for entry in item.entries)

    def render_all(self) -> int:
        """Render every page again from the site's record (after a template change, or to repair
        the directory; a new site then says "no current warnings" rather than 404)."""
        written = 0
        with self._locked():
            for item in self.record.items():
                written += self._write_item(item) + self._write_cap(item)
            months = self.record.months()
            every = {(m, n) for m in months for n in range(1, self.record.pages(m) + 1)}
            written += self._write_lists(every, again=True)  # the lists' views made anew as well
        return written

    # -- catching up: lists and refreshed pages, at most every lists_every_seconds ----------

    def _catch_up_soon(self) -> None:
        with self._timer_lock:
            if self._timer is not None and self._timer.is_alive():
                # This process catches up soon anyway (the timer clears itself before it reads
                # what was asked for): no lock taken and nothing read for this request.
                return
        wait = self._catch_up()
        if wait > 0:
            self._catch_up_later(wait)

    def _pending(self) -> bool:
        """Lists or pages asked for and not yet written (a cheap look, without the lock)."""
        return self._counter("built") < self._counter("requested") or bool(self._lines("refresh"))

    def _wait(self) -> float:
        """Seconds until the site may catch up again (0: now)."""
        try:
            last = self._state("built").stat().st_mtime
        except FileNotFoundError:
            return 0.0
        now = time.time()
        if last > now:
            return 0.0  # the clock stepped back: the last rewrite's time says nothing
        return max(0.0, last + self.settings.lists_every_seconds - now)

    def _catch_up(self, *, now: bool = False) -> float:
        """Rewrite the lists and the pages asked for since the last time, unless that was too
        recent (``now``: even then). One rewrite serves every request until then: whoever gets
        the lock first does it for everybody (in any process), and the others find their turn
        already taken. Returns the seconds to wait before asking again, 0 if done."""
        with self._locked():  # decide under the lock: another process may just have caught up
            requested = self._counter("requested")
            lists = self._counter("built") < requested
            pages = self._lines("refresh")
            if not lists and not pages:
                return 0.0
            wait = self._wait()
            if wait > 0 and not now:
                return wait
            for item_id in sorted(pages):  # read now, under the lock: the item as it is now
                item = self.record.item(item_id)
                if item is not None:
                    self._write_copies(item)
            if pages:
                # Emptied, not removed: the next copy's request then appends to it instead of
                # creating a file (on a busy file system a new file costs far more than a write).
                os.truncate(self._state("refresh"), 0)
            if lists:
                requested_pages = {(m, int(n)) for m, _, n in (line.partition(" ") for line in self._lines("pages"))}
                self._write_lists(requested_pages)
                self._state("pages").unlink(missing_ok=True)
            self._put("built", str(requested), touch=True)  # its time is when the site last caught up
            return 0.0

    def _catch_up_later(self, wait: float) -> None:
        """Catch up once the interval has passed, from this process (the sweep's housekeeping
        does it if this process stops before)."""
        with self._timer_lock:
            if self._timer is not None and self._timer.is_alive():
                return  # already due: it will take this request along
            self._timer = threading.Timer(wait, self._timer_due)
            self._timer.daemon = True
            self._timer.start()

    def _timer_due(self) -> None:
        with self._timer_lock:
            if self._timer is threading.current_thread():  # not one that close() let go meanwhile
                self._timer = None  # from here on, a request made meanwhile needs a timer of its own
        try:
            wait = self._catch_up()
        except Exception:
            log.exception("rewriting the lists failed; the sweep tries again", channel=self.id)
            return
        if wait > 0:  # another process caught up meanwhile, and more requests came since
            self._catch_up_later(wait)

    def close(self) -> None:
        """Before the process stops: what was held back for the interval is written now."""
        with self._timer_lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if self._pending():
            self._catch_up(now=True)

    def _counter(self, name: str) -> int:
        try:
            return int(self._state(name).read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def _request_lists(self, month: str, pages: Sequence[int]) -> None:
        """Ask for the lists to be rewritten, with these pages of the month's archive (under the lock)."""
        self._put("requested", str(self._counter("requested") + 1))
        self._append("pages", [f"{month} {number}" for number in pages])

    def _append(self, name: str, lines: Sequence[str]) -> None:
        """Lines at the end of a bookkeeping file, in one write (under the lock)."""
        if lines:
            written(self._state(name), "".join(f"{line}\n" for line in lines).encode(), append=True)

    def _lines(self, name: str) -> set[str]:
        try:
            return {line for line in self._state(name).read_text(encoding="utf-8").splitlines() if line}
        except FileNotFoundError:
            return set()

    def housekeeping(self, now: datetime) -> bool:
        """Write what is due without a new announcement; whether any page changed (a copy of the
        site elsewhere then has something to copy)."""
        changed = False
        # What was held back in a burst by a process that stopped before writing it.
        if self._pending():
            self._catch_up()
            changed = True
        # When a warning expires, its page and the index must say so with no new announcement to
        # trigger it. The current warnings' expiry times are kept beside the site.
        try:
            expiring = json.loads(self._state(EXPIRING).read_text())
        except (FileNotFoundError, ValueError):
            return changed
        expired = [item_id for moment, item_id in expiring if datetime.fromisoformat(moment) <= now]
        if not expired:
            return changed
        with self._locked():
            pages = set()
            for item_id in expired:
                item = self.record.item(item_id)
                if item is not None:
                    self._write_item(item)
                    pages.add((item.month, page_of(item)))
            self._write_lists(pages)
        return True

    def _unsafe_directory(self) -> str | None:
        """The site is public: it must never contain Herold's own data (database, state, images)."""
        data = self.data_dir.resolve()
        site = self.directory.resolve()
        if data == site or data.is_relative_to(site):
            return (
                f"the website directory {site} contains Herold's data directory {data}: "
                "the database would be published; choose a directory of its own"
            )
        return None

    def check(self) -> list[str]:
        problem = self._unsafe_directory()
        return [problem] if problem else []

    # -- writing --------------------------------------------------------------------------

    @cached_property
    def _state_folder(self) -> Path:
        """Herold's own bookkeeping for this site, kept outside the published directory."""
        return self.data_dir / "state" / f"{self.authority.slug}-{self.id}"

    def _state(self, name: str) -> Path:
        """A bookkeeping file (its folder is made when the lock is taken: it is written only then).
        Its path is made once: the sweep asks for a few of them twice a second."""
        path = self._state_paths.get(name)
        if path is None:
            path = self._state_paths[name] = self._state_folder / name
        return path

    def _put(self, name: str, text: str, *, if_changed: bool = False, touch: bool = False) -> None:
        """Replace a bookkeeping file whole: a crash mid-write must not leave a counter empty.
        Unchanged, it is left alone (``if_changed``) or only gets the time of now (``touch``):
        a page refreshed for a copy leaves the count of lists written as it was."""
        target = self._state(name)
        if if_changed or touch:
            try:
                if target.read_text() == text:
                    if touch:
                        os.utime(target)
                    return
            except FileNotFoundError:
                pass
        partial = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.part")
        partial.write_text(text)
        partial.replace(target)

    @contextmanager
    def _locked(self, *, blocking: bool = True) -> Iterator[None]:
        """The site's lock, across processes. ``blocking=False``: BlockingIOError if it is taken."""
        if not self._directory_made:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._directory_made = True
        # A descriptor of its own each time (a lock on a shared one would not keep this process's
        # threads apart), opened without truncating the file or making a Python file object.
        try:
            lock = os.open(self._state("lock"), os.O_RDONLY | os.O_CREAT, 0o666)
        except FileNotFoundError:
            self._state_folder.mkdir(parents=True, exist_ok=True)
            lock = os.open(self._state("lock"), os.O_RDONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        finally:
            os.close(lock)

    def _write(self, relative: str, content: str | bytes) -> int:
        """Write atomically, and only if the content changed. Returns 1 if written."""
        target = self.directory / relative
        data = content.encode() if isinstance(content, str) else content
        try:
            if target.read_bytes() == data:
                return 0
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(target)
        return 1

    def _context(self, depth: int, language: str) -> dict[str, Any]:
        return {
            "authority": self.authority,
            "root": "../" * depth,
            "t": labels_for(language),
            "language": language,
            "feeds": {
                "atom": self.url("atom.xml"),
                "rss": self.url("rss.xml"),
                "json": self.url("feed.json"),
                "cap": self.url(cap.CAP_INDEX),
            },
            "cap_document": None,  # an item page's own: its newest CAP document
            "month_name": partial(month_name, language=language),
            "logo": self._logo(),
        }

    def _logo(self) -> dict[str, Any] | None:
        """The authority's logo as the header shows it (its name in the site's directory, its size),
        its copy there made again only when the configured file changed: each page costs a stat."""
        source = self.authority.logo
        if source is None:
            return None
        try:
            found = source.stat()
            stamp: list[Any] = [str(source), found.st_ino, found.st_size, found.st_mtime_ns]
        except OSError:
            stamp = [str(source), "missing"]
        if self._logo_known is not None and self._logo_known[0] == stamp:
            return self._logo_known[1]
        try:
            kept = json.loads(self._state(LOGO).read_text())
        except (FileNotFoundError, ValueError):
            kept = None
        # Another process (a worker) may have made it already.
        if not (
            isinstance(kept, dict) and kept.get("stamp") == stamp and (self.directory / str(kept.get("name"))).is_file()
        ):
            try:
                logo = read_logo(source)
            except (OSError, LogoError) as error:
                # Checked at start, changed since: a warning goes out without the logo rather than not at all.
                log.warning("the logo cannot be published; pages go without it", logo=str(source), error=str(error))
                self._logo_known = (stamp, None)
                return None
            self._write(logo.name, logo.data)
            kept = {"stamp": stamp, "name": logo.name, "width": logo.width, "height": logo.height}
            self._put(LOGO, json.dumps(kept))
        assert isinstance(kept, dict)
        shown = {"name": kept["name"], "width": kept["width"], "height": kept["height"]}
        self._logo_known = (stamp, shown)
        return shown

    def _when(self, moment: datetime, language: str) -> str:
        return local_time(moment, language, self.authority.timezone)

    def _copy_media(self, item: Item) -> int:
        written = 0
        data_dir = self.data_dir
        for entry in item.entries:
            for media in entry.announcement.media:
                if media.path is None:
                    continue
                source = data_dir / media.path
                target = self.directory / item.path / Path(media.path).name
                if source.exists() and not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    partial = target.with_name(f".{target.name}.part")
                    shutil.copyfile(source, partial)
                    partial.replace(target)
                    written += 1
        return written

    def _write_item(self, item: Item) -> int:
        language = self.authority.language
        now = self.clock()
        t = labels_for(language)
        page = self.env.get_template("site/item.html.j2").render(
            **self._context(item.path.strip("/").count("/") + 1, language)
            | {"cap_document": self.url(item.path) + cap.NEWEST if cap.cap_entries(item) else None},
            item=item,
            url=self.url(item.path),
            status=item_status(item, now),
            entries=list(reversed(item.entries)),
            corrections=corrections_of(item),
            corrected_on=lambda correction: _with_time(
                t("corrected_on"), correction.published, self._when(correction.published, language)
            ),
            title=self._title,
            when=lambda moment, lang=language: self._when(moment, lang),
            paragraphs=_paragraphs,
            platform=_platform_of,
            media_name=lambda media: Path(media.path).name,
        )
        return self._copy_media(item) + self._write_cards(item) + self._write(f"{item.path}index.html", page)

    def _write_cards(self, item: Item) -> int:
        """Each message's alert card beside the item page (publisher.site.card), PNG and JPEG,
        where a channel of the authority takes one: platforms fetch it from there. A card once
        written is kept as it is, as the platforms took it; only a missing one is made (a new
        message, a site rebuilt into an empty directory)."""
        rules = [kind.capabilities.media for config in self.authority.channels
                 if (kind := channel_types().get(config.type)) is not None]  # fmt: skip
        if all(rule.card == "never" for rule in rules):
            return 0
        written, folder, url = 0, self.directory / item.path, self.url(item.path)
        for entry in item.entries:
            if not any(rule.takes_card(has_images=bool(entry.announcement.media)) for rule in rules):
                continue
            png, jpeg = card_name(entry.id), card_jpeg_name(entry.id)
            if (folder / png).exists() and (folder / jpeg).exists():
                continue
            try:
                png_data, jpeg_data = render_card(entry.announcement, self.authority, url)
            except Exception:
                # The page is what every copy links to: a card is never worth holding it back. The
                # platform that wanted the card then fails on its address, and says so.
                log.exception("the alert card could not be made", channel=self.id, announcement=entry.id)
                continue
            # The PNG last: the one the engine names (Post.card_url) is there only with its twin.
            written += self._write(f"{item.path}{jpeg}", jpeg_data) + self._write(f"{item.path}{png}", png_data)
        return written

    def _write_cap(self, item: Item, since: str | None = None) -> int:
        """The item's CAP documents: each warning message's own, and the newest as ``alert.cap.xml``.
        ``since``: only from that message on (a message's document names the ones before it, and
        never changes once the item has moved on)."""
        entries = cap.cap_entries(item)
        if not entries:
            return 0
        start = next((at for at, entry in enumerate(entries) if entry.id == since), 0)
        url, written, document = self.url(item.path), 0, b""
        for entry in entries[start:]:
            document = cap.cap_document(self.authority, item, entry, url)
            written += self._write(f"{item.path}{cap.document_name(entry)}", document)
        return written + self._write(f"{item.path}{cap.NEWEST}", document)

    def _write_copies(self, item: Item) -> int:
        """The item page with its entries' copies elsewhere as they are now: only the copies'
        parts rendered and put in place of the old ones (they are what changed, and the whole page
        costs several times as much); the whole page where a part is not found."""
        target = self.directory / f"{item.path}index.html"
        try:
            page = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self._write_item(item)
        fragment, t = self.env.get_template(COPIES_TEMPLATE), labels_for(self.authority.language)
        written = page
        for entry in item.entries:
            start = written.find(f"<!--herold:copies {entry.id}-->")
            end = written.find(COPIES_END, start) if start >= 0 else -1
            if end < 0:
                return self._write_item(item)  # a page written before the parts were marked
            part = fragment.render(entry=entry, t=t, platform=_platform_of)
            written = written[:start] + part + written[end + len(COPIES_END) :]
        return 0 if written == page else self._write(f"{item.path}index.html", written)

    # -- lists: views kept in the record, and the pages put together from them ----------------

    def fingerprint(self) -> str:
        """What the views kept in the record were made with: the row template, the settings they
        show, the code and libraries (see `_made_by`). Views made with another are made anew."""
        template = self.env.get_template(ROW_TEMPLATE)
        authority = self.authority
        key = ("fingerprint", id(template), authority.name, self.url(), authority.language, authority.timezone)
        known = _rows.get(key)
        if known is None or known[0] is not template:
            loader = self.env.loader
            assert loader is not None
            source, _, _ = loader.get_source(self.env, ROW_TEMPLATE)
            made = "\0".join([_made_by(), source, *map(str, key[2:])])
            known = (template, hashlib.sha256(made.encode()).hexdigest()[:20])
            _rows[key] = known
        return str(known[1])

    def current(self) -> Callable[[View], bool]:
        """Whether an item's view says it is a current warning, by the site's clock now."""
        return partial(_current, now=self.clock())

    def recently_ended(self) -> Callable[[View, str], bool]:
        """Whether a warning's end (all-clear, withdrawal) is recent enough for the start page."""
        return partial(_recently_ended, since=self.clock() - timedelta(hours=self.settings.ended_hours))

    def item_view(self, item: Item) -> dict[str, Any]:
        """What the start page and the archive show of an item: whether it is current (as
        `item_status` decides; by the time of the list), whether its warning ended, and its row."""
        latest = item.latest.announcement
        return {
            "ended": latest.msg_type in (MsgType.error, MsgType.cancel)
            and item.first.announcement.kind is Kind.warning,
            "open": latest.msg_type not in (MsgType.error, MsgType.cancel) and latest.kind is not Kind.news,
            "expires": latest.expires.isoformat() if latest.expires else None,
            "row": self._kept_row(item),
            "cap": self._cap_entry(item),
        }

    def _cap_entry(self, item: Item) -> dict[str, str] | None:
        """The item's entry in the CAP index (its newest CAP document), with that document's file and
        time (None: news, never CAP)."""
        entry = cap.newest(item)
        if entry is None:
            return None
        return {
            "entry": cap.atom_entry(self.authority, entry, self.url(item.path), self._title(entry)),
            "document": f"{item.path}{cap.document_name(entry)}",
            "sent": entry.published.isoformat(),
        }

    def entry_view(self, item: Item, entry: Entry) -> dict[str, Any]:
        """An entry's part of each feed, cut from what feedgen writes for a feed of it alone."""
        language = self.authority.language
        empty_atom, empty_rss = self._empty_feeds(language)
        feed = self._feed_head(datetime(2000, 1, 1, tzinfo=UTC), language)
        self._add_entry(feed, item, entry)
        atom = feed.atom_str(pretty=True)
        self._rss_links(feed)
        rss = feed.rss_str(pretty=True)
        return {
            "atom": _cut(atom, empty_atom, ATOM_END),
            "rss": _cut(rss, empty_rss, RSS_END),
            "json": self._json_item(item, entry, language),
        }

    def _empty_feeds(self, language: str) -> tuple[bytes, bytes]:
        key = ("empty feeds", self.fingerprint(), language)
        known = _rows.get(key)
        if known is None:
            feed = self._feed_head(datetime(2000, 1, 1, tzinfo=UTC), language)
            atom = feed.atom_str(pretty=True)
            self._rss_links(feed)
            known = _rows[key] = (atom, feed.rss_str(pretty=True))
        return known

    def _kept_row(self, item: Item) -> str | None:
        """The item's list row for every list, with `ROOT` for the way back to the site's root;
        None if the row template does not allow that (then lists render the row themselves)."""
        language = self.authority.language
        template = self.env.get_template(ROW_TEMPLATE)
        row = self._render_row(item, ROOT, language)
        key = ("root stands alone", id(template), language)
        known = _rows.get(key)
        if known is None or known[0] is not template:
            alone = all(
                row.replace(ROOT, root) == self._render_row(item, root, language)
                for root in ("", "../", "../../", "../../../")
            )
            known = _rows[key] = (template, alone)
        return xml_safe(row) if known[1] else None

    def _render_row(self, item: Item, root: str, language: str) -> Markup:
        # The template escapes everything it inserts (autoescape): its output is markup.
        return Markup(self.env.get_template(ROW_TEMPLATE).render(  # noqa: S704
            item=item, root=root, t=labels_for(language), when=lambda moment: self._when(moment, language),
            title=self._title,
        ))  # fmt: skip

    def _row(self, item: Item | _Shown, root: str, language: str) -> Markup | _Clean:
        """One item as a list shows it: the row kept in the record, or rendered from the item
        (each state of an item once in this process)."""
        if isinstance(item, _Shown):
            kept = item._listed.view.get("row")
            if kept is not None:
                return _Clean(kept.replace(ROOT, root))
            loaded = item._load()
            if loaded is None:
                return Markup("")
            item = loaded
        key = (item.id, item.latest.id, root, language)
        row = _rows.get(key)
        if row is None:
            row = self._render_row(item, root, language)
            if len(_rows) > 50_000:
                _rows.clear()
            _rows[key] = row
        return row

    def _write_lists(self, pages: set[tuple[str, int]], *, again: bool = False) -> int:
        """The start page, the archive overview, the feeds, and these pages of months' archives
        (``again``: with every view they show made anew)."""
        record, language = self.record, self.authority.language
        lists = record.lists(again=again)
        warnings = [_Shown(listed, record) for listed in lists.warnings]
        news = [_Shown(listed, record) for listed in lists.news]
        ended = [_Shown(listed, record) for listed in lists.ended]
        months = record.months()

        def page(template: str, depth: int, **values: Any) -> str:
            context = self._context(depth, language)
            row = partial(self._row, root=context["root"], language=language)
            return self.env.get_template(template).render(**context, row=row, months=months, **values)

        written = self._write("index.html", page("site/index.html.j2", 0, warnings=warnings, news=news, ended=ended))
        written += self._write("archive/index.html", page("site/archive.html.j2", 1, month=None, items=[]))
        for month, number in sorted(pages):
            last = record.pages(month)
            if number < 1 or number > last:
                continue
            # The newest page is the month's address; older ones have a number of their own.
            depth, where = (2, f"archive/{month}/index.html") if number == last else (
                3, f"archive/{month}/{number}/index.html")  # fmt: skip
            items = [_Shown(listed, record) for listed in record.page_rows(month, number, again=again)]
            written += self._write(where, page(
                "site/archive.html.j2", depth, month=month, items=items, number=number, last=last,
            ))  # fmt: skip
        written += self._write("style.css", self._stylesheet())
        if again or not (self.directory / ACCESSIBILITY).exists():  # it changes with the configuration only
            written += self._write(ACCESSIBILITY, page("site/accessibility.html.j2", 1))
        expiring = [[w.view["expires"], w.item_id] for w in lists.warnings if w.view["expires"]]
        # An ended warning leaves the start page after ended_hours: the page changes then as well.
        leaving = timedelta(hours=self.settings.ended_hours)
        expiring += [[(datetime.fromisoformat(e.published) + leaving).isoformat(), e.item_id] for e in lists.ended]
        self._put(EXPIRING, json.dumps(expiring), if_changed=True)
        atom, rss, json_feed = self._feeds(lists.recent, language)
        written += self._write("atom.xml", atom) + self._write("rss.xml", rss) + self._write("feed.json", json_feed)
        # Ended warnings stay in the CAP index as long as on the start page: apps see their Cancel.
        written += self._write(cap.CAP_INDEX, self._cap_index([*lists.warnings, *lists.ended]))
        return written

    def _cap_index(self, listed: Sequence[Listed]) -> bytes:
        """The Atom index of CAP documents, put together from the items' views."""
        entries: list[str] = []
        newest: datetime | None = None
        directory = self.directory  # a property that resolves paths: once, not per entry
        for shown in listed:
            kept = shown.view.get("cap")
            item = None
            if "cap" not in shown.view:  # a view kept without it (see SiteRecord._listed): from the item
                item = self.record.item(shown.item_id)
                kept = self._cap_entry(item) if item is not None else None
            if kept is None:
                continue
            if not (directory / kept["document"]).exists():
                # Listed, yet not written: a site written before CAP out, or a file lost since.
                item = item or self.record.item(shown.item_id)
                if item is None:
                    continue
                self._write_cap(item)
            entries.append(kept["entry"])
            sent = datetime.fromisoformat(kept["sent"])
            newest = sent if newest is None or sent > newest else newest
        return cap.atom_index(self.authority, entries, newest)

    def _stylesheet(self) -> str:
        loader = self.env.loader
        assert loader is not None
        source, _, _ = loader.get_source(self.env, "site/style.css")
        accent = self.authority.accent_colour
        if accent is None:
            return source
        # Checked against the white page when the configuration was read; the dark scheme keeps its
        # own light link colour, which the accent would not be readable on.
        return (f"{source}\n/* The authority's accent colour (accent_colour). */\n"
                f"header.site {{ border-bottom: 4px solid {accent}; }}\n"
                f"@media not (prefers-color-scheme: dark) {{ :root {{ --link: {accent}; }} }}\n")  # fmt: skip

    # -- feeds ----------------------------------------------------------------------------

    def _title(self, entry: Entry) -> str:
        """An entry's headline as the feeds, the lists and its page's title show it (with its label)."""
        announcement = entry.announcement
        return titled(announcement, announcement.language or self.authority.language, announcement.headline)

    def _feed_title(self, language: str) -> str:
        if language.startswith("de"):
            return f"{self.authority.name}: Warnungen und Meldungen"
        return f"{self.authority.name}: warnings and news"

    def _feed_head(self, updated: datetime, language: str) -> FeedGenerator:
        """The feed without entries (as Atom; `_rss_links` makes it RSS)."""
        title = self._feed_title(language)
        feed = FeedGenerator()
        feed.id(self.url())
        feed.title(title)
        feed.author({"name": self.authority.name, "uri": self.url()})
        feed.link(href=self.url(), rel="alternate")
        feed.link(href=self.url("atom.xml"), rel="self")
        feed.language(language)
        feed.description(title)
        feed.updated(updated)
        feed.lastBuildDate(updated)
        return feed

    def _rss_links(self, feed: FeedGenerator) -> None:
        # Each feed names itself as "self"; RSS takes its <link> (the website) from the last link.
        feed.link(
            [{"href": self.url("rss.xml"), "rel": "self"}, {"href": self.url(), "rel": "alternate"}], replace=True
        )

    def _add_entry(self, feed: FeedGenerator, item: Item, entry: Entry) -> None:
        link = f"{self.url(item.path)}#m-{entry.id[:8]}"
        added = feed.add_entry()
        added.id(f"urn:uuid:{entry.id}")
        added.guid(f"urn:uuid:{entry.id}", permalink=False)
        # Stored before control characters were refused, or written by hand: a feed writer
        # refuses the whole feed for one such character, so they never reach it.
        added.title(xml_safe(self._title(entry)))
        added.link(href=link, rel="alternate")
        added.published(entry.published)
        added.updated(entry.published)
        added.description(xml_safe(entry.variant_text))
        added.author({"name": self.authority.name})
        if entry.announcement.category:
            added.category(term=entry.announcement.category.value)
        if (severity := _severity_of(entry)) is not None:
            added.category(term=f"severity:{severity}")
        # The image goes into the JSON Feed only: feedgen writes an Atom entry's links without
        # their rel, so an enclosure there would read as a second address of the entry.

    def _json_item(self, item: Item, entry: Entry, language: str) -> str:
        """An entry as an item of the JSON Feed, as `json.dumps(..., indent=2)` writes it there."""
        document = {
            "id": f"urn:uuid:{entry.id}",
            "url": f"{self.url(item.path)}#m-{entry.id[:8]}",
            "title": self._title(entry),
            "content_text": entry.variant_text,
            "date_published": entry.published.isoformat(),
            "language": entry.announcement.language or language,
            **({"image": image} if (image := self._image_of(item, entry)) else {}),
            "tags": [
                t
                for t in (
                    entry.announcement.kind.value,
                    entry.announcement.msg_type.value,
                    entry.announcement.category and entry.announcement.category.value,
                    _severity_of(entry) and f"severity:{_severity_of(entry)}",
                )
                if t
            ],
        }
        return "\n".join("    " + line for line in json.dumps(document, ensure_ascii=False, indent=2).split("\n"))

    def _image_of(self, item: Item, entry: Entry) -> str | None:
        """The address of the entry's first image, beside the item page (which is written with it)."""
        for media in entry.announcement.media:
            if media.path is not None and (self.data_dir / media.path).exists():
                return self.url(item.path) + Path(media.path).name
        return None

    def _feeds(self, entries: Sequence[Listed], language: str) -> tuple[bytes, bytes, str]:
        """Atom, RSS and JSON Feed, put together from the entries' views (newest first)."""
        updated = datetime.fromisoformat(entries[0].published) if entries else datetime(2000, 1, 1).astimezone()
        feed = self._feed_head(updated, language)
        atom = _filled(feed.atom_str(pretty=True), ATOM_END, [e.view["atom"] for e in entries])
        self._rss_links(feed)
        rss = _filled(feed.rss_str(pretty=True), RSS_END, [e.view["rss"] for e in entries])
        json_feed = json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": self._feed_title(language),
                "home_page_url": self.url(),
                "feed_url": self.url("feed.json"),
                "language": language,
                "authors": [{"name": self.authority.name, "url": self.url()}],
                "items": [],
            },
            ensure_ascii=False,
            indent=2,
        )
        if entries:
            assert json_feed.endswith("[]\n}"), "the JSON Feed's items are its last member"
            json_feed = json_feed[: -len("[]\n}")] + "[\n" + ",\n".join(e.view["json"] for e in entries) + "\n  ]\n}"
        return atom, rss, json_feed + "\n"


def _cut(feed: bytes, empty: bytes, end: bytes) -> str:
    """The entry of a feed with one entry, as it stands in any feed with the same head."""
    head = empty[: -len(end)]
    if not (empty.endswith(end) and feed.startswith(head) and feed.endswith(end)):
        raise RuntimeError("feedgen no longer writes a feed as its head, its entries and its end")
    return feed[len(head) : -len(end)].decode()


def _filled(empty: bytes, end: bytes, entries: Sequence[str]) -> bytes:
    """A feed without entries with these put in (as `_cut` took them out)."""
    if not empty.endswith(end):
        raise RuntimeError("feedgen no longer writes a feed as its head, its entries and its end")
    return empty[: -len(end)] + "".join(entries).encode() + end
