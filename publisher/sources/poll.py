"""Warning systems Herold asks itself: NINA's dashboard for the authority's district, and CAP
feeds (an Atom or RSS index of CAP documents, as weather services publish them).

One round (`poll`) reads the list, fetches the document of each warning that is new or has
changed, and relays it (publisher.sources.relay): new → alert, changed → update of the same
item, and, for NINA only, gone → all-clear. `Pollers` runs the rounds: each integration's when
its ``every_seconds`` have passed, claimed in the database so that a restart or a second process
neither polls early nor twice.

What counts as gone (see publisher.domain.polling): a warning missing from ``gone_after``
well-formed listings in a row (a 200 with a JSON list, or a 304 for the list taken in before),
and only in a round in which every new warning listed could be fetched (one of them may be the
update that continues the missing one's item). An outage (an error, a timeout, garbage, a list
that is not one) counts for nothing. CAP feeds drop what has expired: leaving one is no all-clear.

Whatever goes wrong with one warning (its server, its document) is one log line without the
payload; it is tried again next round and the others go on. A round never raises.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote, urljoin, urlsplit

import requests
import structlog
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from adapters.port.http import session
from publisher.domain.authority import Authority, Integration
from publisher.domain.polling import Listed, Poll, Tracked, changes, ended_warnings
from publisher.engine.engine import Engine
from publisher.engine.store import database_unavailable
from publisher.engine.store.polls import PolledList
from publisher.sources.cap import MAX_CAP_BYTES, CapAlert, CapError, parse_cap
from publisher.sources.nina import parse_nina
from publisher.sources.relay import NotRelayed, Relayed, relay_alert, relay_gone

log = structlog.get_logger("herold.poll")

MAX_DOCUMENT_BYTES = MAX_CAP_BYTES  # one warning: 1 MiB
MAX_LIST_BYTES = 5 * 1024 * 1024  # a dashboard or feed
MAX_ENTRIES = 1000  # read of one list; more is not a district's or a feed's, it is a mistake
MAX_FETCHES = 50  # documents per round: a first round over a busy list is spread over several
ROUND_SECONDS = 120.0  # no document is fetched after this; the rest waits for the next round
FORGET_AFTER = timedelta(days=7)  # what no list has shown for this long is forgotten
TICK_SECONDS = 5.0
KEY_LENGTH, VERSION_LENGTH = 300, 200  # as the database keeps them (longer ones by their hash)

_ATOM = "{http://www.w3.org/2005/Atom}"
_CAP_TYPE = "application/cap+xml"
# NINA's ids: "mow.DE-NW-BN-SE030-20201014-30-000", "dwdmap.2.49.0.0.276.0.DWD.PVW...".
_WARNING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class PollError(Exception):
    """Why a list or a document could not be read, as one short sentence."""


class _Refused(Exception):
    """A document that will never be taken as it is (not tried again until it changes)."""


# --- what a round did ------------------------------------------------------------------------------

Seen = Literal["new", "changed", "gone", "superseded", "dropped", "refused", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What became of one listed warning: ``new`` or ``changed`` (relayed: ``decision`` and
    ``announcement`` say how), ``gone`` (its all-clear relayed), ``superseded`` (it left the
    list while a listed warning continues its item), ``dropped`` (it left the list, nothing of it
    was relayed), ``refused`` (this version is never relayed) or ``failed`` (tried again)."""

    key: str
    seen: Seen
    decision: str | None = None
    announcement: str | None = None
    reason: str | None = None


@dataclass
class PollReport:
    authority: str
    integration: str
    address: str
    error: str | None = None  # the list could not be read: nothing was taken, nothing ended
    not_modified: bool = False  # 304: the list is the one taken in before
    listed: int = 0
    complete: bool = False  # every warning listed new or changed was taken in (or refused)
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, *seen: Seen) -> list[Outcome]:
        return [o for o in self.outcomes if o.seen in seen]


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    status: int  # 200 or 304
    body: bytes
    etag: str | None
    last_modified: str | None


def fetch(engine: Engine, url: str, *, limit: int, accept: str, state: PolledList | None = None) -> Fetched:
    """GET ``url``: its body (at most ``limit`` bytes), or a 304 when ``state`` names the version
    held (If-None-Match, If-Modified-Since). Raises PollError for anything else. No redirects:
    a list that moved is configured anew (a redirect could point anywhere)."""
    headers = {"Accept": accept}
    if state is not None and state.etag:
        headers["If-None-Match"] = state.etag
    if state is not None and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    runtime = engine.runtime
    try:
        response = _http(runtime.http_deadline_seconds).get(url, headers=headers, stream=True, allow_redirects=False,
                                   timeout=(runtime.http_connect_timeout, runtime.http_read_timeout))  # fmt: skip
    except requests.RequestException as error:
        raise PollError(f"no answer ({type(error).__name__})") from None
    try:
        if response.status_code == 304 and len(headers) > 1:
            return Fetched(304, b"", state.etag if state else None, state.last_modified if state else None)
        if response.status_code != 200:
            raise PollError(f"answered {response.status_code}")
        declared = response.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise PollError(f"the answer has {declared} bytes; at most {limit} are read")
        body = bytearray()
        for chunk in response.iter_content(64 * 1024):  # decoded: a compressed bomb is cut off too
            body += chunk
            if len(body) > limit:
                raise PollError(f"the answer is larger than {limit} bytes")
        return Fetched(200, bytes(body), response.headers.get("ETag"), response.headers.get("Last-Modified"))
    except requests.RequestException as error:
        raise PollError(f"the answer broke off ({type(error).__name__})") from None
    finally:
        response.close()


@functools.cache
def _http(deadline: float) -> requests.Session:
    """The pollers' own session: what a warning system answers is read only up to a list's
    limit (decompressed), whatever the server sends; engine.http reads whole answers."""
    return session(deadline, pool=8, max_bytes=MAX_LIST_BYTES)


# --- reading lists -----------------------------------------------------------------------------------


def _bounded(text: str, length: int) -> str:
    """A key or version as the database keeps it: as it is, or its hash when too long."""
    return text if len(text) <= length else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def dashboard(body: bytes, api: str) -> tuple[list[Listed], bool]:
    """The warnings a NINA dashboard lists, and whether every entry could be read (only then
    does the listing tell which warnings are missing). Raises PollError for an answer that is
    not a list of warnings: an outage's page, truncated JSON, an object."""
    try:
        entries = json.loads(body)
    except (ValueError, RecursionError):
        raise PollError("the dashboard is not JSON") from None
    if not isinstance(entries, list):
        raise PollError("the dashboard is not a list of warnings")
    listing: list[Listed] = []
    whole = len(entries) <= MAX_ENTRIES
    for entry in entries[:MAX_ENTRIES]:
        key = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(key, str) or not _WARNING_ID.match(key):
            whole = False
            continue
        payload = entry.get("payload")
        digest = payload.get("hash") if isinstance(payload, dict) else None
        if not isinstance(digest, str) or not digest:
            # No hash: the entry as a whole stands for its version.
            digest = "entry:" + hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()
        listing.append(Listed(key, _bounded(digest, VERSION_LENGTH), f"{api}/warnings/{quote(key)}.json"))
    return listing, whole


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def feed_entries(body: bytes, address: str) -> list[Listed]:
    """The entries of an Atom or RSS 2.0 feed: each one's id (Atom's id; RSS's guid, or its
    link), version (updated, published or pubDate; "" if none) and the address of its CAP
    document (a link of type application/cap+xml, else the entry's link). Raises PollError
    for anything that is not such a feed; entries without an id or a link are left out."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise PollError("the feed has a DOCTYPE or entity declarations") from None
    except (ET.ParseError, ValueError, LookupError):
        raise PollError("the feed is not well-formed XML") from None
    listing: list[Listed] = []
    if root.tag == f"{_ATOM}feed":
        for entry in root.findall(f"{_ATOM}entry")[:MAX_ENTRIES]:
            links = entry.findall(f"{_ATOM}link")
            # Not `or`: an element without children is false.
            chosen = next((link for link in links if link.get("type") == _CAP_TYPE), None)
            if chosen is None:
                chosen = next((link for link in links if link.get("rel", "alternate") == "alternate"), None)
            key = _text(entry.find(f"{_ATOM}id"))
            version = _text(entry.find(f"{_ATOM}updated")) or _text(entry.find(f"{_ATOM}published"))
            href = (chosen.get("href") or "").strip() if chosen is not None else ""
            if key and href:
                listing.append(Listed(_bounded(key, KEY_LENGTH), _bounded(version, VERSION_LENGTH),
                                      urljoin(address, href)))  # fmt: skip
    elif root.tag == "rss":
        for item in root.findall("channel/item")[:MAX_ENTRIES]:
            enclosure = next((e for e in item.findall("enclosure") if e.get("type") == _CAP_TYPE), None)
            href = (enclosure.get("url") or "").strip() if enclosure is not None else _text(item.find("link"))
            key = _text(item.find("guid")) or href
            if key and href:
                listing.append(Listed(_bounded(key, KEY_LENGTH), _bounded(_text(item.find("pubDate")), VERSION_LENGTH),
                                      urljoin(address, href)))  # fmt: skip
    else:
        raise PollError("the document is neither an Atom nor an RSS 2.0 feed")
    return listing


def _linked_safely(link: str, address: str) -> bool:
    """A feed's entry may send Herold to its own server, or to any https one; not to a plain
    http address elsewhere (nobody on the way may hand Herold a warning) nor elsewhere at all."""
    target, feed = urlsplit(link), urlsplit(address)
    if target.scheme == "https" and target.hostname:
        return True
    return (target.scheme, target.netloc) == (feed.scheme, feed.netloc)


# --- one round ------------------------------------------------------------------------------------


def list_address(poll_config: Poll, format: str) -> str:
    """The list a poll reads: NINA's dashboard for the district, or the feed."""
    if format == "nina":
        return f"{poll_config.url}/dashboard/{poll_config.dashboard_ars}.json"
    return poll_config.url


def poll(engine: Engine, owner: Authority, integration: Integration, now: datetime) -> PollReport:
    """One round of ``integration``'s poll (see the module docstring); never raises."""
    config = integration.poll
    if config is None or integration.format not in {"nina", "cap"}:
        return PollReport(owner.slug, integration.id, "", error="the integration is not polled")
    report = PollReport(owner.slug, integration.id, list_address(config, integration.format))
    try:
        _Round(engine, owner, integration, config, report, now).run()
    except PollError as error:
        report.error = str(error)
        _failed(engine, report, str(error))
    except Exception as error:
        report.error = f"the round failed ({type(error).__name__})"
        if database_unavailable(error):
            _failed(engine, report, "the database is unavailable")
        else:  # a mistake of Herold's: its traceback says where
            log.exception("poll failed", authority=owner.slug, integration=integration.id)
            _failed(engine, report, report.error, logged=True)
    return report


def _failed(engine: Engine, report: PollReport, reason: str, *, logged: bool = False) -> None:
    if not logged:
        log.warning("poll failed", authority=report.authority, integration=report.integration,
                    address=report.address, reason=reason)  # fmt: skip
    try:
        engine.store.polls.failed(report.authority, report.integration, reason)
    except Exception as error:  # the database is away: the next round tries again
        log.warning("poll state not saved", authority=report.authority, integration=report.integration,
                    reason=type(error).__name__)  # fmt: skip


class _Round:
    def __init__(self, engine: Engine, owner: Authority, integration: Integration, config: Poll, report: PollReport,
                 now: datetime) -> None:  # fmt: skip
        self.engine, self.owner, self.integration, self.config = engine, owner, integration, config
        self.report, self.now = report, now
        self.polls = engine.store.polls
        self.nina = integration.format == "nina"
        self.deadline = time.monotonic() + ROUND_SECONDS
        self.fetches = 0

    def run(self) -> None:
        owner, integration, report, polls = self.owner, self.integration, self.report, self.polls
        state, moved = polls.begin(owner.slug, integration.id, report.address, self.now)
        if moved:
            log.warning("poll address changed: what was followed of the old list is forgotten",
                        authority=owner.slug, integration=integration.id, address=report.address)  # fmt: skip
        accept = "application/json" if self.nina else "application/atom+xml, application/rss+xml, application/xml"
        fetched = fetch(self.engine, report.address, limit=MAX_LIST_BYTES, accept=accept, state=state)
        tracked = polls.warnings(owner.slug, integration.id)
        if fetched.status == 304:
            report.not_modified = True
            # The list taken in last time: what it listed is listed, what it lacked still is.
            listing, whole = [Listed(t.key, t.version or "", "") for t in tracked.values() if t.missing == 0], True
        elif self.nina:
            listing, whole = dashboard(fetched.body, self.config.url)
        else:
            listing, whole = feed_entries(fetched.body, report.address), True
        report.listed = len(listing)
        polls.listed(owner.slug, integration.id, {entry.key for entry in listing}, self.now, count_missing=whole)
        found = changes(tracked, [e for e in listing if not self.nina or self.config.takes(e.key)])
        new_failed = False
        for entry in found.new:
            new_failed |= not self._take(entry, None)
        changed_failed = False
        for entry, known in found.changed:
            changed_failed |= not self._take(entry, known)
        report.complete = not new_failed and not changed_failed
        if self.nina and whole and not new_failed:
            self._end(polls.warnings(owner.slug, integration.id))
        # A version is kept for the next conditional GET only when all it listed was taken in:
        # a 304 must never hide a warning that still waits to be fetched.
        keep = report.complete and whole
        polls.heard(owner.slug, integration.id, self.now, etag=fetched.etag if keep else None,
                    last_modified=fetched.last_modified if keep else None)  # fmt: skip
        polls.forget(owner.slug, integration.id, unseen_since=self.now - FORGET_AFTER, ended_only=self.nina)

    # -- taking one warning in ------------------------------------------------------------------

    def _take(self, entry: Listed, known: Tracked | None) -> bool:
        """Fetch and relay one new or changed warning; False if it is to be tried again."""
        seen: Seen = "new" if known is None else "changed"
        try:
            alert = self._document(entry)
            follows = known.source_id if known is not None else None
            relayed = relay_alert(self.engine, self.owner, self.integration, alert, via=entry.link, follows=follows)
        except (_Refused, NotRelayed) as refusal:
            reason = refusal.message if isinstance(refusal, NotRelayed) else str(refusal)
            self._log("poll refused a warning", entry.key, reason)
            self.polls.refused(self.owner.slug, self.integration.id, entry.key, self.now, version=entry.version,
                               reason=reason)  # fmt: skip
            self.report.outcomes.append(Outcome(entry.key, "refused", reason=reason))
            return True
        except (PollError, CapError) as error:
            return self._fail(entry.key, str(error))
        except Exception as error:
            if database_unavailable(error):
                raise
            log.exception("poll failed", authority=self.owner.slug, integration=self.integration.id,
                          warning=entry.key[:200])  # fmt: skip
            return self._fail(entry.key, f"relaying failed ({type(error).__name__})", logged=True)
        self.polls.relayed(self.owner.slug, self.integration.id, entry.key, self.now, version=entry.version,
                           source_id=alert.source_id, item_id=self._item_of(relayed),
                           ended=alert.msg_type == "cancel")  # fmt: skip
        self.report.outcomes.append(Outcome(entry.key, seen, relayed.decision, relayed.id))
        return True

    def _document(self, entry: Listed) -> CapAlert:
        if time.monotonic() > self.deadline or self.fetches >= MAX_FETCHES:
            raise PollError("left for the next round (this one fetched enough)")
        if not self.nina and not _linked_safely(entry.link, self.report.address):
            raise _Refused("its link leads to another server without https")
        self.fetches += 1
        accept = "application/json" if self.nina else f"{_CAP_TYPE}, application/xml"
        fetched = fetch(self.engine, entry.link, limit=MAX_DOCUMENT_BYTES, accept=accept)
        if self.nina:
            return parse_nina(fetched.body, language=self.owner.language)
        return parse_cap(fetched.body, language=self.owner.language)

    def _item_of(self, relayed: Relayed) -> str | None:
        stored = self.engine.store.announcements.get(relayed.id) if relayed.id else None
        return stored.item_id if stored is not None else None

    def _fail(self, key: str, reason: str, *, logged: bool = False) -> bool:
        if not logged:
            self._log("poll could not take a warning", key, reason)
        self.report.outcomes.append(Outcome(key, "failed", reason=reason))
        return False

    def _log(self, event: str, key: str, reason: str) -> None:
        log.warning(event, authority=self.owner.slug, integration=self.integration.id, warning=key[:200],
                    reason=reason[:300])  # fmt: skip

    # -- warnings that left the list ---------------------------------------------------------------

    def _end(self, tracked: dict[str, Tracked]) -> None:
        for warning, ending in ended_warnings(tracked.values(), gone_after=self.config.gone_after):
            if ending == "all-clear":
                assert warning.source_id is not None
                try:
                    relayed = relay_gone(self.engine, self.owner, self.integration, warning.source_id,
                                         via=self.report.address)  # fmt: skip
                except NotRelayed as refusal:
                    self._log("poll refused an all-clear", warning.key, refusal.message)
                    relayed = Relayed("ignored", reason=refusal.message)
                except Exception as error:
                    if database_unavailable(error):
                        raise
                    log.exception("poll failed", authority=self.owner.slug, integration=self.integration.id,
                                  warning=warning.key[:200])  # fmt: skip
                    self.report.outcomes.append(Outcome(warning.key, "failed", reason="its all-clear failed"))
                    continue  # tried again next round
                self.report.outcomes.append(Outcome(warning.key, "gone", relayed.decision, relayed.id,
                                                    relayed.reason))  # fmt: skip
            else:
                self.report.outcomes.append(Outcome(warning.key, ending))
            self.polls.ended(self.owner.slug, self.integration.id, warning.key, self.now)


# --- running rounds -------------------------------------------------------------------------------


class Pollers:
    """Runs every polled integration's rounds in one process. Either call `tick` from a loop
    of one's own (each call polls what is due), or `start` a thread that ticks every
    ``tick_seconds`` until `stop`. Any number of processes may run one: each round is claimed
    in the database, so each list is polled once per ``every_seconds``, by one of them."""

    def __init__(self, engine: Engine, *, tick_seconds: float = TICK_SECONDS) -> None:
        self.engine = engine
        self.tick_seconds = tick_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def polled(self) -> list[tuple[Authority, Integration, Poll]]:
        return [
            (owner, integration, integration.poll)
            for owner in self.engine.authorities
            for integration in owner.integrations
            if integration.poll is not None and integration.format in {"nina", "cap"}
        ]

    def tick(self, now: datetime | None = None) -> list[PollReport]:
        """Poll each integration whose round is due and not taken by another process; the
        rounds' reports. Never raises."""
        given = now
        # A round claimed by a process that died is free again after its longest time.
        hold = timedelta(seconds=ROUND_SECONDS + 2 * self.engine.runtime.http_deadline_seconds)
        reports: list[PollReport] = []
        for owner, integration, config in self.polled():
            if self._stopping.is_set():
                break
            # Each claim from the time it is made: an earlier round of this tick may have taken
            # long, and a claim's hold counts from now, not from when the tick began.
            now = given or self.engine.clock()
            polls = self.engine.store.polls
            try:
                if not polls.claim(owner.slug, integration.id, list_address(config, integration.format), now, hold):
                    continue
            except Exception as error:
                log.warning("poll not claimed", authority=owner.slug, integration=integration.id,
                            reason=type(error).__name__)  # fmt: skip
                continue
            reports.append(poll(self.engine, owner, integration, now))
            try:
                polls.release(owner.slug, integration.id, now + timedelta(seconds=config.every_seconds))
            except Exception as error:  # the claim runs out by itself
                log.warning("poll not released", authority=owner.slug, integration=integration.id,
                            reason=type(error).__name__)  # fmt: skip
        return reports

    def start(self) -> None:
        if self._thread is not None or not self.polled():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="herold-pollers", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # tick does not raise; this is the last guard of the thread
                log.exception("poll tick failed")
            if self._stopping.wait(self.tick_seconds):
                return
