"""CAP 1.2 out: every warning on the authority's own website is also a CAP document there, and an
Atom index of the current ones is linked from every page, so that warning apps and aggregators
can take the authority's own warnings (publisher.site.cap).

Every CAP document Herold writes must validate against the OASIS schema, carry times with an
offset (the schema refuses "Z"), name the messages before it in ``references`` exactly as they name
themselves, and read back as the announcement it was made from.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
import xmlschema
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient

from publisher.domain.announcement import STORED, Announcement, parse_announcement
from publisher.domain.cap import CAP_NAMESPACE, CAP_SCHEMA
from publisher.domain.text import xml_safe
from publisher.edges.config import settings_from
from publisher.edges.web import create_app
from publisher.edges.wiring import Herold
from publisher.site import record, website
from publisher.site.model import Entry, Item, Publication, Published
from publisher.site.website import Site
from publisher.sources.cap import parse_cap

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, news, publish, warning
from fakes.clock import Clock
from helpers import png

SLUG = AUTHORITY["slug"]
BASE_URL: str = AUTHORITY["base_url"]
INDEX_URL = BASE_URL + "cap/atom.xml"
SCHEMA = xmlschema.XMLSchema(CAP_SCHEMA)
C = f"{{{CAP_NAMESPACE}}}"
# CAP's dateTime: to the second, with a ±hh:mm offset (never "Z").
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
TIMES = ("sent", "effective", "onset", "expires")
BERLIN = ZoneInfo("Europe/Berlin")
NOVEMBER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
JULY = datetime(2026, 7, 14, 9, 0, tzinfo=UTC)
DWD = "Deutscher Wetterdienst; © GeoBasis-DE / BKG"

AREA = {
    "description": "Altstadt rund um die Marktstraße & <Rathaus>",
    "polygons": [[[51.1, 6.9], [51.2, 6.9], [51.2, 7.05], [51.1, 6.9]]],
    "geocodes": [{"name": "ARS", "value": "051110000000"}, {"name": "WARNCELLID", "value": "805111000"}],
}


# -- helpers -----------------------------------------------------------------------------------


def follow_up(msg_type: str, references: str, headline: str, description: str, **changes: Any) -> dict[str, Any]:
    """An update, all-clear (cancel) or withdrawal (error) of an earlier warning, as a person sends it."""
    return warning(**{
        "msg_type": msg_type, "references": references, "headline": headline, "description": description,
        "severity": None, "category": None, "event": None, "area": None, "instruction": None, "hashtags": None,
        **changes,
    })  # fmt: skip


def site_of(herold: Herold) -> Path:
    return herold.site(SLUG).directory


def path_of(herold: Herold, announcement_id: str) -> str:
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    return stored.item_path


def stored(herold: Herold, announcement_id: str) -> tuple[Announcement, datetime]:
    found = herold.store.announcements.get(announcement_id)
    assert found is not None and found.sent_at is not None
    return found.announcement, found.sent_at


def cap_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.cap.xml"))


def read(file: Path) -> ET.Element:
    """A CAP document as a warning app reads it: plain ElementTree, nothing of Herold's."""
    return ET.parse(file).getroot()


def one(element: ET.Element, name: str) -> str | None:
    return element.findtext(C + name)


def own_reference(document: ET.Element) -> str:
    """How a message names itself: sender,identifier,sent."""
    return ",".join(str(one(document, name)) for name in ("sender", "identifier", "sent"))


def references(document: ET.Element) -> list[str]:
    return (one(document, "references") or "").split()


def infos(document: ET.Element) -> dict[str, ET.Element]:
    return {str(info.findtext(C + "language")): info for info in document.findall(C + "info")}


def file_of(directory: Path, url: str) -> Path:
    """The file in the site's directory that an address below the base URL names."""
    assert url.startswith(BASE_URL), url
    return directory / url[len(BASE_URL) :]


def index_links(directory: Path) -> list[str]:
    """The CAP documents the index links, in its order (each entry's link of type application/cap+xml)."""
    parsed = feedparser.parse((directory / "cap" / "atom.xml").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    found = []
    for entry in parsed.entries:
        links = [link.href for link in entry.links if link.get("type") == "application/cap+xml"]
        assert len(links) == 1, entry.links
        found.append(links[0])
    return found


def round_trip(info: ET.Element) -> dict[str, Any]:
    """What an info block says, read back into the announcement's terms."""
    area = info.find(C + "area")
    return {
        "severity": str(info.findtext(C + "severity")).lower(),
        "category": str(info.findtext(C + "category")).lower(),
        "event": info.findtext(C + "event"),
        "headline": info.findtext(C + "headline"),
        "description": info.findtext(C + "description"),
        "instruction": info.findtext(C + "instruction"),
        "contact": info.findtext(C + "contact"),
        "effective": _moment(info.findtext(C + "effective")),
        "expires": _moment(info.findtext(C + "expires")),
        "area": None if area is None else {
            "description": area.findtext(C + "areaDesc"),
            "polygons": [
                [tuple(float(n) for n in point.split(",")) for point in str(polygon.text).split()]
                for polygon in area.findall(C + "polygon")
            ],
            "geocodes": [
                {"name": code.findtext(C + "valueName"), "value": code.findtext(C + "value")}
                for code in area.findall(C + "geocode")
            ],
        },
    }  # fmt: skip


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def said(announcement: Announcement) -> dict[str, Any]:
    """The same of the announcement itself."""
    a = announcement
    return {
        "severity": a.severity.value if a.severity else "unknown",
        "category": a.category.value if a.category else None,
        "event": a.event,
        "headline": a.headline,
        "description": a.description,
        "instruction": a.instruction,
        "contact": a.contact,
        "effective": a.effective,
        "expires": a.expires,
        "area": None if a.area is None else {
            "description": a.area.description,
            "polygons": [[tuple(point) for point in ring] for ring in a.area.polygons],
            "geocodes": [{"name": g.name, "value": g.value} for g in a.area.geocodes],
        },
    }  # fmt: skip


def parse(file: Path) -> BeautifulSoup:
    return BeautifulSoup(file.read_text(encoding="utf-8"), "html.parser")


# -- a site published through the whole engine, for the rules every CAP document must follow --------


@dataclass(frozen=True)
class Built:
    herold: Herold
    directory: Path
    ids: dict[str, str]  # what each message is: "alert", "update", "correction", "cancel", "withdrawn", "news"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """A warning with everything CAP carries (translation, area with polygon and geocodes, times,
    contact, image, markup characters), its update, correction and all-clear; a second warning
    withdrawn; a third still current, relayed from a warning system; and a news item."""
    base = tmp_path_factory.mktemp("cap")
    settings = settings_from(
        {"herold": {"data_dir": str(base / "var")}, "authorities": [copy.deepcopy(AUTHORITY)]}, {}, base=base
    )
    clock = Clock(NOVEMBER)
    herold = Herold(settings, clock=clock)
    herold.start()
    ids: dict[str, str] = {}
    try:
        ids["alert"] = publish(herold, warning(
            description='Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird <heute> "entschärft" & geräumt.',
            urgency="immediate", certainty="observed", area=AREA, contact="Bürgertelefon 0800 123456",
            effective="2026-11-20T10:30:00+01:00", expires="2026-11-20T18:00:00+01:00",
            media=[{"data": png(), "alt": "Karte des Sperrgebiets"}],
            translations={"en": {"headline": "Aerial bomb in the old town", "description": "A bomb was found.",
                                 "instruction": "Leave the area by 10 am."}},
        ))  # fmt: skip
        clock.advance(timedelta(minutes=20))
        ids["update"] = publish(herold, follow_up(
            "update", ids["alert"], "Sperrgebiet erweitert", "Das Sperrgebiet reicht nun bis zum Bahnhof.",
            severity="extreme"))  # fmt: skip
        clock.advance(timedelta(minutes=5))
        correction = follow_up("update", ids["update"], "Sperrgebiet bis zum Bahnhof", "Es ist der Nordbahnhof.")
        ids["correction"] = publish(herold, {**correction, "correction": True})
        clock.advance(timedelta(minutes=30))
        ids["cancel"] = publish(herold, follow_up(
            "cancel", ids["alert"], "Entwarnung: Bombe entschärft", "Die Bombe wurde entschärft."))  # fmt: skip
        other = publish(herold, warning(headline="Gasaustritt in der Bahnhofstraße", area={"description": "Nord"}))
        ids["other"] = other
        ids["withdrawn"] = publish(herold, follow_up("error", other, "Irrtümlich versandt", "Das war ein Irrtum."))
        ids["current"] = publish(herold, warning(headline="Hochwasser an der Mulde", severity="moderate",
                                                 area={"description": "Muldenaue"}, attribution=DWD))  # fmt: skip
        ids["news"] = publish(herold, news())
        yield Built(herold, site_of(herold), ids)
    finally:
        herold.stop()


def test_every_cap_document_herold_writes_validates_against_the_cap_1_2_schema(built: Built) -> None:
    files = cap_files(built.directory)

    # the bomb's four messages and its newest, the withdrawn warning's two and newest, the current one's one and newest
    assert len(files) == 4 + 1 + 2 + 1 + 1 + 1
    invalid = {f.relative_to(built.directory).as_posix(): str(e) for f in files for e in SCHEMA.iter_errors(str(f))}
    assert invalid == {}


def test_every_time_in_a_cap_document_has_the_authority_s_offset_and_never_z(built: Built) -> None:
    for file in cap_files(built.directory):
        document = read(file)
        times = [one(document, "sent")] + [
            info.findtext(C + name) for info in document.findall(C + "info") for name in TIMES[1:]
        ]
        for text in filter(None, times):
            assert CAP_TIME.match(text), f"{file.name}: {text}"
            moment = datetime.fromisoformat(text)
            assert moment.utcoffset() == moment.astimezone(BERLIN).utcoffset(), f"{file.name}: {text} not Berlin time"


def test_sent_is_when_the_message_went_out_in_the_authority_s_time_zone(built: Built) -> None:
    _, sent_at = stored(built.herold, built.ids["alert"])
    document = read(built.directory / path_of(built.herold, built.ids["alert"]) / f"{built.ids['alert']}.cap.xml")

    assert one(document, "sent") == sent_at.astimezone(BERLIN).isoformat(timespec="seconds")
    assert str(one(document, "sent")).endswith("+01:00")


def test_summer_time_is_written_as_plus_two_hours(make_herold: HeroldFactory) -> None:
    herold = make_herold(clock=Clock(JULY))
    alert = publish(herold, warning(expires="2026-07-14T20:00:00+00:00"))
    document = read(site_of(herold) / path_of(herold, alert) / "alert.cap.xml")

    assert one(document, "sent") == "2026-07-14T11:00:00+02:00"
    assert infos(document)["de"].findtext(C + "expires") == "2026-07-14T22:00:00+02:00"


def test_an_alert_its_updates_and_its_all_clear_are_alert_update_cancel_naming_every_message_before(
    built: Built,
) -> None:
    folder = built.directory / path_of(built.herold, built.ids["alert"])
    chain = [built.ids[name] for name in ("alert", "update", "correction", "cancel")]
    documents = [read(folder / f"{announcement_id}.cap.xml") for announcement_id in chain]

    assert [one(d, "msgType") for d in documents] == ["Alert", "Update", "Update", "Cancel"]
    assert [one(d, "identifier") for d in documents] == [f"urn:uuid:{i}" for i in chain]
    assert [one(d, "status") for d in documents] == ["Actual"] * 4
    assert [one(d, "scope") for d in documents] == ["Public"] * 4
    names = [own_reference(d) for d in documents]
    assert [references(d) for d in documents] == [[], names[:1], names[:2], names[:3]]
    assert (folder / "alert.cap.xml").read_bytes() == (folder / f"{built.ids['cancel']}.cap.xml").read_bytes()


def test_a_withdrawal_is_error_naming_the_warning_it_withdraws(built: Built) -> None:
    folder = built.directory / path_of(built.herold, built.ids["other"])
    original = read(folder / f"{built.ids['other']}.cap.xml")
    withdrawal = read(folder / "alert.cap.xml")

    assert one(withdrawal, "msgType") == "Error"
    assert references(withdrawal) == [own_reference(original)]


def test_a_correction_is_an_update_with_a_note_saying_so(built: Built) -> None:
    folder = built.directory / path_of(built.herold, built.ids["alert"])
    correction = read(folder / f"{built.ids['correction']}.cap.xml")
    update = read(folder / f"{built.ids['update']}.cap.xml")

    assert (one(correction, "msgType"), one(correction, "note")) == ("Update", "Korrektur")
    assert one(update, "note") is None


def test_sender_and_identifier_carry_nothing_cap_forbids_and_every_message_has_its_own_identifier(
    built: Built,
) -> None:
    documents = [read(file) for file in cap_files(built.directory) if file.name != "alert.cap.xml"]
    identifiers = [str(one(d, "identifier")) for d in documents]

    assert len(set(identifiers)) == len(identifiers)
    assert {one(d, "sender") for d in documents} == {"lk-beispiel@www.lk-beispiel.de"}
    for value in [*identifiers, "lk-beispiel@www.lk-beispiel.de"]:
        assert not set(value) & {" ", ",", "<", "&"}, value


def test_a_cap_document_reads_back_as_the_announcement_it_was_made_from(built: Built) -> None:
    for name in ("alert", "update", "correction", "cancel", "withdrawn", "current"):
        announcement, _ = stored(built.herold, built.ids[name])
        item = path_of(built.herold, built.ids[name])
        document = read(built.directory / item / f"{built.ids[name]}.cap.xml")
        info = infos(document)[announcement.language or "de"]

        assert round_trip(info) == said(announcement), name
        assert info.findtext(C + "web") == BASE_URL + item
        assert info.findtext(C + "senderName") == AUTHORITY["name"]
        assert one(document, "source") == announcement.attribution, name  # whose text it relays, if anyone's


def test_a_relayed_warning_s_document_names_the_text_s_owner_as_its_source_and_flags_it_so(built: Built) -> None:
    relayed = read(built.directory / path_of(built.herold, built.ids["current"]) / f"{built.ids['current']}.cap.xml")
    own = read(built.directory / path_of(built.herold, built.ids["alert"]) / f"{built.ids['alert']}.cap.xml")

    assert (one(relayed, "source"), [code.text for code in relayed.findall(C + "code")]) == (
        DWD,
        ["herold:source-is-attribution"],
    )
    assert (one(own, "source"), own.findall(C + "code")) == (None, [])


def test_escaped_markup_characters_read_back_as_written(built: Built) -> None:
    document = read(built.directory / path_of(built.herold, built.ids["alert"]) / f"{built.ids['alert']}.cap.xml")
    info = infos(document)["de"]

    assert info.findtext(C + "description") == (
        'Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird <heute> "entschärft" & geräumt.'
    )
    assert info.findtext(f"{C}area/{C}areaDesc") == AREA["description"]


def test_each_translation_is_an_info_block_of_its_own_in_its_language(built: Built) -> None:
    announcement, _ = stored(built.herold, built.ids["alert"])
    document = read(built.directory / path_of(built.herold, built.ids["alert"]) / f"{built.ids['alert']}.cap.xml")
    blocks = infos(document)

    assert list(blocks) == ["de", "en"]
    english = blocks["en"]
    assert [english.findtext(C + n) for n in ("headline", "description", "instruction")] == [
        "Aerial bomb in the old town", "A bomb was found.", "Leave the area by 10 am.",
    ]  # fmt: skip
    # What is not language stays the same in every block.
    for name in ("category", "event", "urgency", "severity", "certainty", "effective", "expires", "web"):
        assert english.findtext(C + name) == blocks["de"].findtext(C + name), name
    assert round_trip(english)["area"] == said(announcement)["area"]


def test_urgency_severity_and_certainty_are_capitalised_and_unknown_when_not_given(built: Built) -> None:
    folder = built.directory / path_of(built.herold, built.ids["alert"])
    given = infos(read(folder / f"{built.ids['alert']}.cap.xml"))["de"]
    left_out = infos(read(built.directory / path_of(built.herold, built.ids["current"]) / "alert.cap.xml"))["de"]

    assert [given.findtext(C + n) for n in ("urgency", "severity", "certainty", "category")] == [
        "Immediate", "Severe", "Observed", "Safety",
    ]  # fmt: skip
    assert [left_out.findtext(C + n) for n in ("urgency", "severity", "certainty")] == [
        "Unknown", "Moderate", "Unknown",
    ]  # fmt: skip


def test_an_image_is_a_resource_at_its_address_beside_the_item_page(built: Built) -> None:
    item = path_of(built.herold, built.ids["alert"])
    info = infos(read(built.directory / item / f"{built.ids['alert']}.cap.xml"))["de"]
    resources = info.findall(C + "resource")

    assert [(r.findtext(C + "resourceDesc"), r.findtext(C + "mimeType")) for r in resources] == [
        ("Karte des Sperrgebiets", "image/png")
    ]
    assert file_of(built.directory, str(resources[0].findtext(C + "uri"))).is_file()


def test_news_is_never_cap(built: Built) -> None:
    folder = built.directory / path_of(built.herold, built.ids["news"])

    assert list(folder.glob("*.xml")) == []
    assert not any(path_of(built.herold, built.ids["news"]) in link for link in index_links(built.directory))
    page = parse(folder / "index.html")
    assert page.find("link", type="application/cap+xml") is None


def test_the_cap_index_links_each_current_or_just_ended_warning_s_newest_document(built: Built) -> None:
    def newest(name: str) -> str:
        return BASE_URL + path_of(built.herold, built.ids[name]) + f"{built.ids[name]}.cap.xml"

    links = index_links(built.directory)

    # The all-clear and the withdrawal stay listed as long as the start page shows them: apps see them.
    assert sorted(links) == sorted([newest("current"), newest("cancel"), newest("withdrawn")])
    for link in links:
        linked = read(file_of(built.directory, link))
        assert SCHEMA.is_valid(str(file_of(built.directory, link)))
        assert link.endswith(f"{str(one(linked, 'identifier')).removeprefix('urn:uuid:')}.cap.xml")


def test_the_cap_index_is_atom_naming_itself_and_each_entry_by_its_message(built: Built) -> None:
    parsed = feedparser.parse((built.directory / "cap" / "atom.xml").read_bytes())

    assert parsed.version == "atom10"
    assert parsed.feed.id == INDEX_URL
    assert {link.rel: link.href for link in parsed.feed.links}["self"] == INDEX_URL
    assert CAP_TIME.match(parsed.feed.updated)
    for entry, link in zip(parsed.entries, index_links(built.directory), strict=True):
        document = read(file_of(built.directory, link))
        assert entry.id == one(document, "identifier")
        assert entry.updated == one(document, "sent")


def test_every_page_links_the_cap_index_in_its_head_and_visibly(built: Built) -> None:
    pages = sorted(built.directory.rglob("*.html"))

    assert len(pages) >= 8
    for file in pages:
        page = parse(file)
        head = page.find("head")
        assert isinstance(head, Tag)
        alternates = head.find_all("link", rel="alternate", type="application/atom+xml", title="CAP")
        assert [link["href"] for link in alternates] == [INDEX_URL], file
        footer = page.find("footer")
        assert isinstance(footer, Tag)
        assert [a.get_text() for a in footer.find_all("a", href=INDEX_URL)] == ["CAP"], file


def test_a_warning_s_page_links_its_newest_cap_document(built: Built) -> None:
    item = path_of(built.herold, built.ids["alert"])
    link = parse(built.directory / item / "index.html").find("link", type="application/cap+xml")

    assert isinstance(link, Tag)
    assert link["href"] == BASE_URL + item + "alert.cap.xml"
    assert file_of(built.directory, str(link["href"])).is_file()


def test_the_site_serves_cap_documents_and_the_index_as_xml(built: Built) -> None:
    item = path_of(built.herold, built.ids["alert"])
    prefix = "/" + BASE_URL.split("/", 3)[3]
    with TestClient(create_app(built.herold, start=False)) as client:
        document = client.get(f"{prefix}{item}alert.cap.xml")
        index = client.get(f"{prefix}cap/atom.xml")

    assert document.status_code == index.status_code == 200
    assert document.headers["content-type"].split(";")[0] == "application/cap+xml"
    assert index.headers["content-type"].split(";")[0] == "application/atom+xml"
    assert document.content == (built.directory / item / "alert.cap.xml").read_bytes()


# -- the site alone: what is written when, and from what --------------------------------------------


@pytest.fixture
def moment() -> list[datetime]:
    return [NOVEMBER]


@pytest.fixture
def site(make_settings: SettingsFactory, moment: list[datetime]) -> Site:
    settings = make_settings()
    [authority] = settings.authorities
    return Site(authority.channel("website"), authority, clock=lambda: moment[0], data_dir=settings.herold.data_dir)


def publication(
    number: int, document: dict[str, Any] | Announcement, *, item: Publication | None = None
) -> Publication:
    announcement = document if isinstance(document, Announcement) else parse_announcement(document)
    entry_id = f"{number:08d}-0000-4000-8000-000000000000"
    return Publication(
        item_id=item.item_id if item else entry_id,
        item_path=item.item_path if item else f"2026/11/meldung-{number}/",
        item_month="2026-11",
        entry=Entry(id=entry_id, announcement=announcement, variant_text=f"Text {number}",
                    published=NOVEMBER + timedelta(minutes=number)),
    )  # fmt: skip


def cancel_of(number: int, of: Publication) -> Publication:
    return publication(number, follow_up("cancel", of.entry.id, "Entwarnung", "Vorbei."), item=of)


def snapshot(site: Site) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(site.directory).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in site.directory.rglob("*.xml")
    }


def test_a_message_writes_its_own_document_and_the_newest_and_leaves_every_earlier_one_alone(site: Site) -> None:
    first, second = publication(1, warning()), publication(2, warning(headline="Zweite Warnung"))
    site.publish(first)
    site.publish(second)
    before = snapshot(site)

    site.publish(cancel_of(3, first))

    after = snapshot(site)
    folder = first.item_path
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {f"{folder}00000003-0000-4000-8000-000000000000.cap.xml", f"{folder}alert.cap.xml",
                       "cap/atom.xml", "atom.xml", "rss.xml"}  # fmt: skip


def test_the_cap_index_is_put_together_without_reading_any_item(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    for number in range(1, 6):
        site.publish(publication(number, warning(headline=f"Warnung {number}")))
    with record._parsed_lock:
        record._parsed.clear()
    website._rows.clear()
    site = Site(site.config, site.authority, clock=site.clock, data_dir=site.data_dir)
    read: list[str] = []
    parse_item = record._item

    def counted(document: dict[str, Any]) -> Item:
        read.append(document["id"])
        return parse_item(document)

    monkeypatch.setattr(record, "_item", counted)

    site.publish(publication(6, warning(headline="Warnung 6")))

    assert read == []
    assert len(index_links(site.directory)) == 6


def test_a_warning_leaves_the_cap_index_when_it_expires_and_an_all_clear_after_the_ended_window(
    site: Site, moment: list[datetime]
) -> None:
    expiring = publication(1, warning(expires="2026-11-20T12:00:00+01:00"))
    ended = publication(2, warning(headline="Bald vorbei"))
    site.publish(expiring)
    site.publish(ended)
    site.publish(cancel_of(3, ended))
    assert sorted(index_links(site.directory)) == [
        BASE_URL + expiring.item_path + "00000001-0000-4000-8000-000000000000.cap.xml",
        BASE_URL + ended.item_path + "00000003-0000-4000-8000-000000000000.cap.xml",
    ]

    moment[0] = datetime(2026, 11, 20, 11, 1, tzinfo=UTC)  # past the expiry
    site.housekeeping(moment[0])
    assert index_links(site.directory) == [BASE_URL + ended.item_path + "00000003-0000-4000-8000-000000000000.cap.xml"]

    moment[0] = NOVEMBER + timedelta(hours=24, minutes=4)  # a day after the all-clear
    site.housekeeping(moment[0])
    assert index_links(site.directory) == []
    assert (site.directory / expiring.item_path / "alert.cap.xml").is_file(), "its documents stay where they are"


def test_a_rebuild_and_a_render_all_write_every_document_and_the_index_as_publishing_did(site: Site) -> None:
    alert = publication(1, warning(area=AREA))
    update = publication(3, follow_up("update", alert.entry.id, "Neu", "Mehr."), item=alert)
    published = [alert, publication(2, news()), update, cancel_of(4, alert)]
    for each in published:
        site.publish(each)
    written = {name: data for name, (data, _) in snapshot(site).items()}
    for file in [*cap_files(site.directory), site.directory / "cap" / "atom.xml"]:
        file.unlink()

    site.render_all()
    assert {name: data for name, (data, _) in snapshot(site).items()} == written
    for file in [*cap_files(site.directory), site.directory / "cap" / "atom.xml"]:
        file.unlink()

    site.rebuild(Published(published))
    assert {name: data for name, (data, _) in snapshot(site).items()} == written


def test_characters_xml_cannot_carry_never_reach_a_document(site: Site) -> None:
    # Stored before control characters were refused: read as it was stored.
    document = warning(description="Sperrgebiet\x07 <b>bis</b> & um 10\x1b Uhr", headline="Bombe\x7f\x01 Altstadt")
    announcement = Announcement.model_validate(document, context=STORED)
    site.publish(publication(1, announcement))
    file = site.directory / "2026/11/meldung-1/alert.cap.xml"

    assert SCHEMA.is_valid(str(file))
    info = infos(read(file))["de"]
    assert (
        info.findtext(C + "description") == xml_safe(announcement.description) == "Sperrgebiet <b>bis</b> & um 10 Uhr"
    )
    assert info.findtext(C + "headline") == xml_safe(announcement.headline)


def test_a_follow_up_stored_without_its_original_s_category_and_event_keeps_them_in_cap(site: Site) -> None:
    alert = publication(1, warning())
    site.publish(alert)
    site.publish(cancel_of(2, alert))
    info = infos(read(site.directory / alert.item_path / "alert.cap.xml"))["de"]

    # CAP requires both; the engine stores follow-ups with their original's, a record from before may lack them.
    assert (info.findtext(C + "category"), info.findtext(C + "event")) == ("Safety", "Bombenentschärfung")
    assert SCHEMA.is_valid(str(site.directory / alert.item_path / "alert.cap.xml"))


def test_an_english_site_titles_its_cap_index_in_english(make_settings: SettingsFactory) -> None:
    settings = make_settings(authorities=[{**copy.deepcopy(AUTHORITY), "languages": ["en"]}])
    [authority] = settings.authorities
    site = Site(authority.channel("website"), authority, clock=lambda: NOVEMBER, data_dir=settings.herold.data_dir)
    site.publish(publication(1, warning(language="en")))

    parsed = feedparser.parse((site.directory / "cap" / "atom.xml").read_bytes())
    assert parsed.feed.title == "Landkreis Beispiel: current warnings (CAP)"


def test_an_archive_page_s_record_keeps_no_cap_index_entries(site: Site) -> None:
    site.publish(publication(1, warning()))
    kept = json.loads((site.record.folder / "pages" / "2026-11" / "1.json").read_text(encoding="utf-8"))
    lists = json.loads((site.record.folder / "lists.json").read_text(encoding="utf-8"))

    # Only the current warnings' list needs them: the archive's pages would only grow.
    assert [row[2].get("cap") for row in kept["rows"]] == [None]
    assert "cap" not in kept["rows"][0][2] and "row" in kept["rows"][0][2]
    assert [row[3]["cap"]["entry"].strip().startswith("<entry>") for row in lists["warnings"]] == [True]


def test_a_listed_warning_whose_kept_view_lacks_its_index_entry_is_indexed_from_its_item(site: Site) -> None:
    first = publication(1, warning())
    site.publish(first)
    lists_file = site.record.folder / "lists.json"
    lists = json.loads(lists_file.read_text(encoding="utf-8"))
    for row in lists["warnings"]:
        del row[3]["cap"]
    lists_file.write_text(json.dumps(lists), encoding="utf-8")

    site.publish(publication(2, news()))

    assert index_links(site.directory) == [BASE_URL + first.item_path + f"{first.entry.id}.cap.xml"]


def test_a_listed_warning_whose_documents_are_not_there_gets_them_when_the_index_is_written(site: Site) -> None:
    # As on a site written before CAP out, or after its files were lost.
    first = publication(1, warning())
    site.publish(first)
    written = {file: file.read_bytes() for file in cap_files(site.directory)}
    for file in written:
        file.unlink()

    site.publish(publication(2, news()))

    assert {file: file.read_bytes() for file in cap_files(site.directory)} == written
    for link in index_links(site.directory):
        assert file_of(site.directory, link).is_file()


def as_cap_says(announcement: Announcement, name: str) -> Any:
    """A field as CAP carries it: urgency, severity and certainty it must give, "Unknown" if need be.
    Whose text it is: a relayed one's owner; the authority's own is the authority's (its senderName),
    which is whom another Herold relaying it names."""
    value = getattr(announcement, name)
    if name == "attribution":
        return value or AUTHORITY["name"]
    return value or "unknown" if name in ("urgency", "severity", "certainty") else value


def test_herold_s_own_cap_intake_reads_each_document_back_as_the_announcement(built: Built) -> None:
    compared = (
        "kind", "msg_type", "status", "category", "event", "severity", "urgency", "certainty", "headline",
        "description", "instruction", "area", "effective", "expires", "language", "translations", "contact",
        "attribution",
    )  # fmt: skip
    for name in ("alert", "update", "correction", "cancel", "withdrawn", "current"):
        announcement, _ = stored(built.herold, built.ids[name])
        file = built.directory / path_of(built.herold, built.ids[name]) / f"{built.ids[name]}.cap.xml"
        document = read(file)
        alert = parse_cap(file.read_bytes(), language="de")
        back = parse_announcement({**alert.document, "authority": SLUG, "references": announcement.references})
        # Where a message has no instruction (an all-clear, a withdrawal), intake words one of its own.
        fields = [n for n in compared if n != "instruction" or announcement.instruction]

        assert alert.source_id == own_reference(document)
        assert [r.source_id for r in alert.references] == references(document)
        assert {n: getattr(back, n) for n in fields} == {n: as_cap_says(announcement, n) for n in fields}, name
