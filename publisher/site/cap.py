"""CAP 1.2 out: the authority's warnings as Common Alerting Protocol documents on its own website,
so that warning apps and aggregators can take them as the authority published them.

Every message of a warning item (alert, update, all-clear, withdrawal) is a CAP document of its
own beside the item page, at a URL that never changes (``<item path><announcement id>.cap.xml``),
and the item's newest one is also at ``<item path>alert.cap.xml``. ``cap/atom.xml`` at the site's
root is an Atom index of the current warnings' newest documents (and of warnings ended recently,
so that an app sees the Cancel); every page links it. News is never CAP.

A message is identified as CAP asks, by sender, identifier and sent: the sender is the authority
(``<slug>@<host of base_url>``: unique even where several authorities share a host), the
identifier its announcement's id as a URN, sent the moment it went out in the authority's time
zone. Follow-ups name the item's earlier messages in ``references`` exactly so. Times always
carry an offset: the CAP schema refuses "Z".

A relayed warning (a warning system's text, with an ``attribution``) names whom the text belongs
to in the alert's ``source`` ("the text identifying the source of the alert message", CAP 1.2,
3.2.1), flagged by the ``code`` `SOURCE_IS_ATTRIBUTION`: other senders write a system's name there
(the DWD: "PVW"), so only so flagged is it read back as the attribution (publisher.sources.cap).

Documents are built as element trees and serialised by ElementTree, which escapes whatever the
texts hold; characters XML cannot carry at all (in announcements stored before they were refused)
are left out (`xml_safe`).
"""

from __future__ import annotations

import mimetypes
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import PurePosixPath
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from publisher.domain.announcement import Category, Kind, MsgType
from publisher.domain.authority import Authority
from publisher.domain.cap import CAP_NAMESPACE
from publisher.domain.labels import labels_for
from publisher.domain.text import xml_safe
from publisher.site.model import Entry, Item

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
CAP_TYPE = "application/cap+xml"
CAP_INDEX = "cap/atom.xml"  # below the site's root; ".xml", so that any static server calls it XML
NEWEST = "alert.cap.xml"  # below an item's path: its newest message
INDEX_END = "</feed>\n"
# A flag of the alert's own (CAP's <code>: "any user-defined flag or special code"): its <source>
# is the attribution of a relayed text, to be named wherever the text is shown.
SOURCE_IS_ATTRIBUTION = "herold:source-is-attribution"

_C = f"{{{CAP_NAMESPACE}}}"
# CAP writes its values capitalised ("Met", "Severe"); the announcement keeps them in lower case.
_CATEGORY = {Category.cbrne: "CBRNE"}
_MSG_TYPE = {MsgType.alert: "Alert", MsgType.update: "Update", MsgType.cancel: "Cancel", MsgType.error: "Error"}


def cap_entries(item: Item) -> list[Entry]:
    """The messages of an item that are CAP documents: its warnings (news never is)."""
    return [entry for entry in item.entries if entry.announcement.kind is Kind.warning]


def newest(item: Item) -> Entry | None:
    found = cap_entries(item)
    return found[-1] if found else None


def document_name(entry: Entry) -> str:
    """The file of a message's own CAP document, below its item's path."""
    return f"{entry.id}.cap.xml"


@cache
def sender(base_url: str, slug: str) -> str:
    """The authority as CAP's sender: no spaces, commas, "<" or "&" (CAP 1.2, 3.2.1)."""
    return f"{slug}@{urlsplit(base_url).hostname or 'localhost'}"


def identifier(entry: Entry) -> str:
    return f"urn:uuid:{entry.id}"


def cap_time(moment: datetime, timezone: str) -> str:
    """A time as CAP writes it: to the second, in the authority's time zone, with a ±hh:mm offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # never stored so; read as UTC rather than as the server's zone
    return moment.astimezone(_zone(timezone)).isoformat(timespec="seconds")


@cache
def _zone(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone)


def reference(authority: Authority, entry: Entry) -> str:
    """A message as a later one names it in ``references``: sender,identifier,sent."""
    return ",".join(
        (sender(authority.base_url, authority.slug), identifier(entry), cap_time(entry.published, authority.timezone))
    )


def _position(entries: Sequence[Entry], entry: Entry) -> int:
    return next(at for at, known in enumerate(entries) if known.id == entry.id)


def _capitalised(value: str) -> str:
    return value[:1].upper() + value[1:]


def _inherited(item: Item, entry: Entry, name: str) -> str | None:
    """A value CAP requires, from the message or else from the item's messages before it. The
    engine stores follow-ups with what they keep of their original; this covers those that don't."""
    for earlier in reversed(item.entries[: _position(item.entries, entry) + 1]):
        value = getattr(earlier.announcement, name)
        if value is not None:
            return str(value.value if hasattr(value, "value") else value)
    return None


def _text(parent: ET.Element, name: str, value: str | None) -> None:
    if value:
        ET.SubElement(parent, _C + name).text = xml_safe(value)


def cap_document(authority: Authority, item: Item, entry: Entry, item_url: str) -> bytes:
    """One message of an item as a CAP 1.2 alert (UTF-8, with its XML declaration)."""
    a = entry.announcement
    zone = authority.timezone
    alert = ET.Element(_C + "alert")
    _text(alert, "identifier", identifier(entry))
    _text(alert, "sender", sender(authority.base_url, authority.slug))
    _text(alert, "sent", cap_time(entry.published, zone))
    _text(alert, "status", _capitalised(a.status.value))
    _text(alert, "msgType", _MSG_TYPE[a.msg_type])
    _text(alert, "source", a.attribution)
    _text(alert, "scope", "Public")
    if a.attribution:
        _text(alert, "code", SOURCE_IS_ATTRIBUTION)
    language = a.language or authority.language
    notes = [labels_for(language)("correction")] if a.correction else []
    if a.note:
        notes.append(a.note)
    if notes:
        _text(alert, "note", " ".join(notes))
    messages = cap_entries(item)
    earlier = messages[: _position(messages, entry)]  # in the item's order: sent (arrival when sent at once)
    if earlier and a.msg_type is not MsgType.alert:
        _text(alert, "references", " ".join(reference(authority, e) for e in earlier))
    texts: dict[str, tuple[str, str | None, str | None]] = {language: (a.headline, a.description, a.instruction)}
    texts.update((tag, (t.headline, t.description, t.instruction)) for tag, t in a.translations.items())
    for info_language, (headline, description, instruction) in texts.items():
        _info(alert, authority, item, entry, info_language, headline, description, instruction, item_url)
    ET.indent(alert)
    body = ET.tostring(alert, encoding="unicode", default_namespace=CAP_NAMESPACE)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode()


def _info(
    alert: ET.Element, authority: Authority, item: Item, entry: Entry, language: str,
    headline: str, description: str | None, instruction: str | None, item_url: str,
) -> None:  # fmt: skip
    """One language's ``info`` block: the message's texts in it, with what every block repeats."""
    a, zone = entry.announcement, authority.timezone
    info = ET.SubElement(alert, _C + "info")
    _text(info, "language", language)
    category = _inherited(item, entry, "category") or Category.other.value
    _text(info, "category", _CATEGORY.get(Category(category), _capitalised(category)))
    # CAP requires an event; a warning always has one (a follow-up keeps its original's).
    _text(info, "event", _inherited(item, entry, "event") or headline)
    for name in ("urgency", "severity", "certainty"):
        value = getattr(a, name)
        _text(info, name, _capitalised(value.value) if value is not None else "Unknown")
    if a.effective:
        _text(info, "effective", cap_time(a.effective, zone))
    if a.expires:
        _text(info, "expires", cap_time(a.expires, zone))
    _text(info, "senderName", authority.name)
    _text(info, "headline", headline)
    _text(info, "description", description)
    _text(info, "instruction", instruction)
    _text(info, "web", item_url)
    _text(info, "contact", a.contact)
    for media in a.media:
        if media.path is None:
            continue
        name = PurePosixPath(media.path).name
        resource = ET.SubElement(info, _C + "resource")
        _text(resource, "resourceDesc", media.alt)
        _text(resource, "mimeType", mimetypes.guess_type(name)[0] or "application/octet-stream")
        _text(resource, "uri", item_url + name)  # copied beside the item page (Site._copy_media)
    if a.area is not None:
        area = ET.SubElement(info, _C + "area")
        _text(area, "areaDesc", a.area.description)
        for ring in a.area.polygons:
            _text(area, "polygon", " ".join(f"{lat},{lon}" for lat, lon in ring))
        for geocode in a.area.geocodes:
            code = ET.SubElement(area, _C + "geocode")
            _text(code, "valueName", geocode.name)
            _text(code, "value", geocode.value)


def atom_entry(authority: Authority, entry: Entry, item_url: str, title: str) -> str:
    """An item's newest message as an entry of the CAP index, linking its CAP document. Written
    without a namespace: it stands in the index, whose default namespace is Atom's."""
    sent = cap_time(entry.published, authority.timezone)
    element = ET.Element("entry")
    ET.SubElement(element, "id").text = identifier(entry)
    ET.SubElement(element, "title").text = xml_safe(title)
    ET.SubElement(element, "updated").text = sent
    ET.SubElement(element, "published").text = sent
    ET.SubElement(ET.SubElement(element, "author"), "name").text = xml_safe(authority.name)
    ET.SubElement(element, "link", rel="alternate", type=CAP_TYPE, href=item_url + document_name(entry))
    ET.SubElement(element, "link", rel="related", type="text/html", href=item_url)
    ET.SubElement(element, "summary").text = xml_safe(entry.variant_text)
    ET.indent(element, level=1)
    return "  " + ET.tostring(element, encoding="unicode") + "\n"


def index_title(authority: Authority) -> str:
    if authority.language.startswith("de"):
        return f"{authority.name}: aktuelle Warnungen (CAP)"
    return f"{authority.name}: current warnings (CAP)"


def atom_index(authority: Authority, entries: Sequence[str], updated: datetime | None) -> bytes:
    """The CAP index with these entries (as `atom_entry` wrote them) in it. ``updated``: the newest
    message's time (None: no entries)."""
    # Unqualified names under a default namespace declared as such: the entries are put in as
    # written, and ElementTree cannot write unqualified attributes with a default namespace.
    feed = ET.Element("feed", xmlns=ATOM_NAMESPACE)
    ET.SubElement(feed, "id").text = authority.url(CAP_INDEX)
    ET.SubElement(feed, "title").text = xml_safe(index_title(authority))
    ET.SubElement(feed, "updated").text = cap_time(updated or datetime(2000, 1, 1, tzinfo=UTC), authority.timezone)
    ET.SubElement(feed, "link", rel="self", type="application/atom+xml", href=authority.url(CAP_INDEX))
    ET.SubElement(feed, "link", rel="alternate", type="text/html", href=authority.url(""))
    ET.SubElement(ET.SubElement(feed, "author"), "name").text = xml_safe(authority.name)
    ET.indent(feed)
    empty = ET.tostring(feed, encoding="unicode") + "\n"
    if not empty.endswith(INDEX_END):
        raise RuntimeError("ElementTree no longer ends a feed with its end tag")
    head = empty[: -len(INDEX_END)].rstrip("\n") + "\n"
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{head}{"".join(entries)}{INDEX_END}'.encode()
