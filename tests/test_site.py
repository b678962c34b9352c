"""The built-in website as a subsystem: what the engine hands it, the record it keeps of that,
and the pages it writes from the record (without a database or an engine)."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from bs4 import BeautifulSoup, Tag
from feedgen.feed import FeedGenerator
from PIL import Image

from publisher.core.templates import TEMPLATES
from publisher.domain.announcement import STORED, parse_announcement
from publisher.domain.text import xml_safe
from publisher.site import record, website
from publisher.site.logo import Logo, read_logo
from publisher.site.model import Copy, Entry, Item, ItemCopies, Publication, Published
from publisher.site.website import Site

from conftest import AUTHORITY, SettingsFactory, news, warning

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def site(make_settings: SettingsFactory) -> Site:
    settings = make_settings()
    [authority] = settings.authorities
    return Site(authority.channel("website"), authority, clock=lambda: NOW, data_dir=settings.herold.data_dir)


def publication(number: int, *, month: str = "2026-11", kind: str = "news", item: str | None = None) -> Publication:
    document = (news if kind == "news" else warning)(headline=f"Meldung Nummer {number}")
    entry_id = f"{number:08d}-0000-4000-8000-000000000000"
    return Publication(
        item_id=item or entry_id, item_path=f"2026/11/meldung-{number}/", item_month=month,
        entry=Entry(id=entry_id, announcement=parse_announcement(document), variant_text=f"Text {number}",
                    published=NOW + timedelta(minutes=number)),
    )  # fmt: skip


def listed(page: Path) -> list[str]:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return [a.get_text() for a in soup.select("ul.items a")]


def links(page: Path) -> dict[str, str]:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return {str(a["rel"][0]): str(a["href"]) for a in soup.select("ul.pages a")}


def test_a_month_s_archive_has_pages_of_a_fixed_size_newest_first(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "PAGE_SIZE", 2)
    for number in range(1, 6):
        site.publish(publication(number))
    month = site.directory / "archive" / "2026-11"

    assert listed(month / "index.html") == ["Meldung Nummer 5"]
    assert listed(month / "2" / "index.html") == ["Meldung Nummer 4", "Meldung Nummer 3"]
    assert listed(month / "1" / "index.html") == ["Meldung Nummer 2", "Meldung Nummer 1"]
    assert not (month / "3").exists(), "the newest page is the month's own address"
    assert links(month / "index.html") == {"next": "../../archive/2026-11/2/"}
    assert links(month / "2" / "index.html") == {
        "prev": "../../../archive/2026-11/",
        "next": "../../../archive/2026-11/1/",
    }
    assert "Seite 2 von 3" in (month / "2" / "index.html").read_text(encoding="utf-8")


def test_one_more_item_leaves_the_older_pages_of_its_month_alone(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "PAGE_SIZE", 2)
    for number in range(1, 6):
        site.publish(publication(number))
    month = site.directory / "archive" / "2026-11"
    older = [(month / n / "index.html").stat().st_mtime_ns for n in ("1", "2")]

    site.publish(publication(6))  # fills the newest page

    assert [(month / n / "index.html").stat().st_mtime_ns for n in ("1", "2")] == older
    assert listed(month / "index.html") == ["Meldung Nummer 6", "Meldung Nummer 5"]


def test_a_new_page_renumbers_every_page_of_its_month_and_keeps_their_links_in_order(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record, "PAGE_SIZE", 2)
    for number in range(1, 6):  # the fifth starts page 3: page 2 moves to its own address
        site.publish(publication(number))
    month = site.directory / "archive" / "2026-11"

    assert "Seite 1 von 3" in (month / "1" / "index.html").read_text(encoding="utf-8")
    assert links(month / "1" / "index.html") == {"prev": "../../../archive/2026-11/2/"}, "not past page 2"
    assert links(month / "2" / "index.html")["prev"] == "../../../archive/2026-11/"


def test_an_update_to_an_item_on_an_older_page_rewrites_that_page(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "PAGE_SIZE", 2)
    for number in range(1, 6):
        site.publish(publication(number))
    first = publication(1)
    update = publication(7, item=first.item_id)

    site.publish(Publication(first.item_id, first.item_path, first.item_month, update.entry))

    page = site.directory / "archive" / "2026-11" / "1" / "index.html"
    assert listed(page) == ["Meldung Nummer 2", "Meldung Nummer 7"], "the item's row shows its latest state"


def test_the_start_page_and_feeds_hold_a_fixed_number_of_items(site: Site) -> None:
    for number in range(1, record.NEWS_KEPT + 6):
        site.publish(publication(number))

    index = site.directory / "index.html"
    assert len(listed(index)) == record.NEWS_KEPT
    assert listed(index)[0] == f"Meldung Nummer {record.NEWS_KEPT + 5}"


def test_copies_elsewhere_appear_on_the_item_page(site: Site) -> None:
    published = publication(1, kind="warning")
    site.publish(published)

    site.copies(
        published.item_id, {published.entry.id: [Copy("fediverse", "mastodon", "https://social.example/@lkb/1")]}
    )

    page = (site.directory / published.item_path / "index.html").read_text(encoding="utf-8")
    assert 'href="https://social.example/@lkb/1"' in page


def test_a_copy_elsewhere_changes_the_item_page_and_nothing_the_lists_keep(site: Site) -> None:
    first, second = publication(1, kind="warning"), publication(2, kind="warning")
    site.publish(first)
    site.publish(second)
    site.close()  # the lists held back for the interval are written now
    folder = site.record.folder
    kept = {f: f.read_bytes() for f in [folder / "lists.json", *(folder / "pages").rglob("*.json")]}
    item_file = (folder / "items" / f"{first.item_id}.json").read_bytes()

    site.copies(first.item_id, {first.entry.id: [Copy("fediverse", "mastodon", "https://social.example/@lkb/1")]})
    site.close()

    assert {f: f.read_bytes() for f in kept} == kept, "the lists' record was rewritten for a copy they do not show"
    assert (folder / "items" / f"{first.item_id}.json").read_bytes() == item_file
    page = (site.directory / first.item_path / "index.html").read_text(encoding="utf-8")
    assert 'href="https://social.example/@lkb/1"' in page


def test_copies_elsewhere_stay_on_the_page_when_the_item_gets_a_follow_up(site: Site) -> None:
    first = publication(1, kind="warning")
    site.publish(first)
    site.copies(first.item_id, {first.entry.id: [Copy("fediverse", "mastodon", "https://social.example/@lkb/1")]})

    site.publish(follow_up(2, first))
    site.close()

    page = (site.directory / first.item_path / "index.html").read_text(encoding="utf-8")
    assert 'href="https://social.example/@lkb/1"' in page
    assert site.record.item(first.item_id) == restarted(site).record.item(first.item_id)


def test_a_delivery_adds_its_copy_beside_those_shown(site: Site) -> None:
    first = publication(1, kind="warning")
    site.publish(first)
    site.copies(first.item_id, {first.entry.id: [Copy("fediverse", "mastodon", "https://social.example/@lkb/1")]})

    assert site.add_copy(first.item_id, first.entry.id, Copy("bluesky", "bluesky", "https://bsky.app/profile/lkb/2"))
    site.close()

    page = (site.directory / first.item_path / "index.html").read_text(encoding="utf-8")
    assert 'href="https://social.example/@lkb/1"' in page and 'href="https://bsky.app/profile/lkb/2"' in page
    assert site.record.item(first.item_id) == restarted(site).record.item(first.item_id)


def test_copies_reported_one_after_another_each_reach_the_page_and_nothing_stays_asked_for(
    make_settings: SettingsFactory,
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"] = [{"id": "website", "type": "website", "lists_every_seconds": 60}]
    settings = make_settings(authorities=[authority])
    [configured] = settings.authorities
    site = Site(configured.channel("website"), configured, clock=lambda: NOW, data_dir=settings.herold.data_dir)
    first = publication(1, kind="warning")
    site.publish(first)
    page = site.directory / first.item_path / "index.html"
    files: dict[str, int] = {}  # each bookkeeping file by its inode: none is made anew per copy
    try:
        for n in range(1, 4):
            reported = Copy(f"fediverse-{n}", "mastodon", f"https://social{n}.example/@lkb/{n}")
            assert site.add_copy(first.item_id, first.entry.id, reported)
            os.utime(site._state("built"), (0, 0))  # as if the site had last caught up long ago
            site._catch_up(now=True)  # what the site's timer does once the interval has passed

            assert f'href="{reported.url}"' in page.read_text(encoding="utf-8")
            assert not site._pending(), "a page written stays asked for: every sweep would write it again"
            assert site._state("built").stat().st_mtime > time.time() - 60, "the interval counts from this rewrite"
            now = {name: site._state(name).stat().st_ino for name in ("refresh", "built")}
            assert now == (files or now), "a bookkeeping file was made anew for a copy"
            files = now
    finally:
        site.close()


def test_a_request_for_pages_that_names_none_asks_for_nothing(site: Site) -> None:
    site.publish(publication(1, kind="warning"))
    site._catch_up(now=True)
    site._state("refresh").write_text("\n\n")  # blank lines: a request cut short, or an old version's

    site._catch_up(now=True)

    assert not site._pending(), "the sweep would take the site's lock twice a second for nothing"


def test_a_copy_reported_after_its_deletion_never_comes_back(site: Site) -> None:
    # The delivery that made the copy reports it after a withdrawal deleted it and the page was
    # refreshed: the deleted post must not be linked again, also once the item gets a follow-up.
    first = publication(1, kind="warning")
    site.publish(first)
    deleted = Copy("fediverse", "mastodon", "https://social.example/@lkb/1")
    site.copies(first.item_id, ItemCopies({}, deleted=frozenset({deleted.url})))
    site.publish(follow_up(2, first, msg_type="cancel"))

    assert site.add_copy(first.item_id, first.entry.id, deleted)
    site.close()

    page = (site.directory / first.item_path / "index.html").read_text(encoding="utf-8")
    assert deleted.url not in page
    assert deleted.url not in json.dumps(restarted(site).record.item(first.item_id), default=str)


def test_a_rebuild_keeps_the_addresses_of_deleted_copies(site: Site) -> None:
    first = publication(1, kind="warning")
    deleted = Copy("fediverse", "mastodon", "https://social.example/@lkb/1")
    site.rebuild(Published([first], {}, {first.item_id: {deleted.url}}))

    assert site.add_copy(first.item_id, first.entry.id, deleted)
    site.close()

    assert deleted.url not in (site.directory / first.item_path / "index.html").read_text(encoding="utf-8")


def test_a_copy_the_record_cannot_place_by_itself_is_left_to_the_site_s_lane(site: Site) -> None:
    first = publication(1, kind="warning")
    copy = Copy("fediverse", "mastodon", "https://social.example/@lkb/1")
    assert not site.add_copy(first.item_id, first.entry.id, copy), "the item is not on the site yet"
    site.publish(first)
    assert not site.add_copy(first.item_id, "an-entry-not-yet-published", copy)
    site.copies(first.item_id, ItemCopies({}, deleted=frozenset({copy.url})))
    (site.record.folder / "copies" / f"{first.item_id}.json").write_text("{kaputt")

    assert not site.add_copy(first.item_id, first.entry.id, copy), "which copies were deleted is unknown"
    site.close()

    assert copy.url not in (site.directory / first.item_path / "index.html").read_text(encoding="utf-8")


def test_a_copy_reported_while_the_site_is_busy_is_left_to_the_site_s_lane(site: Site) -> None:
    first = publication(1, kind="warning")
    site.publish(first)
    with site._locked():  # a rebuild, or another process writing
        added = site.add_copy(first.item_id, first.entry.id, Copy("fediverse", "mastodon", "https://social.example/1"))
    site.close()

    assert added is False, "the delivery is told, so that the refresh task shows the copy"
    assert "https://social.example/1" not in (site.directory / first.item_path / "index.html").read_text()


def test_a_damaged_record_of_copies_leaves_the_item_shown_without_them(site: Site) -> None:
    first = publication(1, kind="warning")
    site.publish(first)
    site.copies(first.item_id, {first.entry.id: [Copy("fediverse", "mastodon", "https://social.example/@lkb/1")]})
    (site.record.folder / "copies" / f"{first.item_id}.json").write_text("[kaputt")

    site.publish(publication(2, kind="warning"))
    site.close()

    item = site.record.item(first.item_id)
    assert item is not None and item.first.copies == ()
    assert listed(site.directory / "index.html") == ["Meldung Nummer 2", "Meldung Nummer 1"]


def test_a_damaged_item_in_the_record_is_left_out_and_the_rest_is_still_written(site: Site) -> None:
    damaged, fine = publication(1), publication(2)
    site.publish(damaged)
    (site.record.folder / "items" / f"{damaged.item_id}.json").write_text("{kaputt")

    site.publish(fine)

    assert listed(site.directory / "index.html") == ["Meldung Nummer 2"]
    assert listed(site.directory / "archive" / "2026-11" / "index.html") == ["Meldung Nummer 2"]


def test_a_rebuild_starts_the_record_afresh_from_what_the_engine_says(site: Site) -> None:
    site.publish(publication(1))
    site.publish(publication(2))

    site.rebuild(Published([publication(2)]))

    assert listed(site.directory / "index.html") == ["Meldung Nummer 2"]
    assert site.record.item(publication(1).item_id) is None


def test_a_rebuild_keeps_a_publication_under_way_only_if_the_site_shows_it_already(site: Site) -> None:
    """Under way: the engine has not recorded its success yet. The site published it (its success
    is being recorded), or it has not yet (its delivery publishes it in a moment)."""
    site.publish(publication(1))
    site.publish(publication(2))

    site.rebuild(Published([publication(1), publication(2), publication(3)],
                           under_way=frozenset({publication(2).entry.id, publication(3).entry.id})))  # fmt: skip

    assert listed(site.directory / "index.html") == ["Meldung Nummer 2", "Meldung Nummer 1"]
    assert site.record.item(publication(3).item_id) is None


# -- what the lists keep of each item (its views) ------------------------------------------------------


def follow_up(number: int, of: Publication, msg_type: str = "update", **changes: Any) -> Publication:
    document = warning(**{
        "msg_type": msg_type, "references": of.entry.id, "headline": f"Meldung Nummer {number}", "severity": None,
        "category": None, "event": None, "area": None, "instruction": None, "hashtags": None, **changes,
    })  # fmt: skip
    entry_id = f"{number:08d}-0000-4000-8000-000000000000"
    return Publication(
        item_id=of.item_id, item_path=of.item_path, item_month=of.item_month,
        entry=Entry(id=entry_id, announcement=parse_announcement(document), variant_text=f"Text {number}",
                    published=NOW + timedelta(minutes=number)),
    )  # fmt: skip


def items_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the items read from the record's files from now on."""
    read: list[str] = []
    parse = record._item

    def counted(document: dict[str, Any]) -> Item:
        read.append(document["id"])
        return parse(document)

    monkeypatch.setattr(record, "_item", counted)
    return read


def published_files(site: Site) -> dict[str, bytes]:
    return {p.relative_to(site.directory).as_posix(): p.read_bytes() for p in site.directory.rglob("*") if p.is_file()}


def restarted(site: Site) -> Site:
    """The same site in a process that has just started: nothing parsed or rendered yet."""
    with record._parsed_lock:
        record._parsed.clear()
    website._rows.clear()
    return Site(site.config, site.authority, clock=site.clock, data_dir=site.data_dir, templates=site.templates)


def severity_in_force(entry: Entry) -> str | None:
    """A warning's severity in the feeds: on its alert and updates, not on its all-clear."""
    a = entry.announcement
    in_force = a.kind.value == "warning" and a.msg_type.value in ("alert", "update") and a.severity
    return a.severity.value if in_force and a.severity else None


def feeds_by_feedgen(site: Site, entries: list[tuple[Item, Entry]]) -> tuple[bytes, bytes, str]:
    """The feeds as feedgen writes them whole (how the site wrote them before it kept each entry's part)."""
    language = site.authority.language
    updated = entries[0][1].published if entries else datetime(2000, 1, 1).astimezone()
    title = f"{site.authority.name}: Warnungen und Meldungen"
    feed = FeedGenerator()
    feed.id(site.url())
    feed.title(title)
    feed.author({"name": site.authority.name, "uri": site.url()})
    feed.link(href=site.url(), rel="alternate")
    feed.link(href=site.url("atom.xml"), rel="self")
    feed.language(language)
    feed.description(title)
    feed.updated(updated)
    feed.lastBuildDate(updated)
    for item, entry in reversed(entries):
        added = feed.add_entry()
        added.id(f"urn:uuid:{entry.id}")
        added.guid(f"urn:uuid:{entry.id}", permalink=False)
        added.title(xml_safe(site._title(entry)))
        added.link(href=f"{site.url(item.path)}#m-{entry.id[:8]}", rel="alternate")
        added.published(entry.published)
        added.updated(entry.published)
        added.description(xml_safe(entry.variant_text))
        added.author({"name": site.authority.name})
        if entry.announcement.category:
            added.category(term=entry.announcement.category.value)
        if severity_in_force(entry):
            added.category(term=f"severity:{severity_in_force(entry)}")
    atom = feed.atom_str(pretty=True)
    feed.link([{"href": site.url("rss.xml"), "rel": "self"}, {"href": site.url(), "rel": "alternate"}], replace=True)
    rss = feed.rss_str(pretty=True)
    items = [
        {
            "id": f"urn:uuid:{entry.id}", "url": f"{site.url(item.path)}#m-{entry.id[:8]}", "title": site._title(entry),
            "content_text": entry.variant_text, "date_published": entry.published.isoformat(),
            "language": entry.announcement.language or language,
            "tags": [t for t in (entry.announcement.kind.value, entry.announcement.msg_type.value,
                                 entry.announcement.category and entry.announcement.category.value,
                                 severity_in_force(entry) and f"severity:{severity_in_force(entry)}") if t],
        }
        for item, entry in entries
    ]  # fmt: skip
    document = {
        "version": "https://jsonfeed.org/version/1.1", "title": title, "home_page_url": site.url(),
        "feed_url": site.url("feed.json"), "language": language,
        "authors": [{"name": site.authority.name, "url": site.url()}], "items": items,
    }  # fmt: skip
    return atom, rss, json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def test_the_feeds_put_together_from_each_entry_s_part_are_what_feedgen_writes_whole(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def feeds() -> tuple[bytes, bytes, str]:
        folder = site.directory
        return (folder / "atom.xml").read_bytes(), (folder / "rss.xml").read_bytes(), (folder / "feed.json").read_text()

    site.render_all()
    assert feeds() == feeds_by_feedgen(site, []), "a site without entries"
    monkeypatch.setattr(record, "RECENT_KEPT", 6)
    alert = publication(1, kind="warning")
    site.publish(alert)
    site.publish(publication(2))
    english = warning(language="en", headline='Bomb & "blast" <area>', category="fire", severity="extreme")
    site.publish(Publication("3", "2026/11/bomb/", "2026-11", Entry(
        "00000003-0000-4000-8000-000000000000", parse_announcement(english), "A <b>text</b> & more",
        NOW + timedelta(minutes=3))))  # fmt: skip
    stored = news(headline="Alte Meldung\x1b[31m mit Steuerzeichen\x07")
    site.publish(Publication("4", "2026/11/alt/", "2026-11", Entry(
        "00000004-0000-4000-8000-000000000000", parse_announcement(stored, STORED), "Text \x1b mit \x0c Zeichen",
        NOW + timedelta(minutes=4))))  # fmt: skip
    site.publish(follow_up(5, alert))
    assert feeds() == feeds_by_feedgen(site, site.record.recent())

    for number in range(6, 10):  # the oldest entries leave the feeds
        site.publish(publication(number))
        assert feeds() == feeds_by_feedgen(site, site.record.recent())
    assert len(site.record.recent()) == 6


def build(site: Site) -> tuple[list[Publication], dict[str, dict[str, list[Copy]]]]:
    """Items over several pages of their month's archive, with follow-ups and copies elsewhere (one
    month: the archive pages of a month an item does not touch are not rewritten for it)."""
    published: list[Publication] = []
    copies: dict[str, dict[str, list[Copy]]] = {}
    for number in range(1, 8):
        published.append(publication(number, kind="warning" if number % 2 else "news"))
        site.publish(published[-1])
    published.append(publication(8, kind="warning"))
    site.publish(published[-1])
    for number, of, msg_type in ((9, published[0], "update"), (10, published[2], "cancel")):
        published.append(follow_up(number, of, msg_type))
        site.publish(published[-1])
    for number, of in ((11, published[0]), (12, published[4])):
        copy = [Copy("fediverse", "mastodon", f"https://social.example/@lkb/{number}")]
        copies[of.item_id] = {of.entry.id: copy}
        site.copies(of.item_id, {of.entry.id: copy})
    return published, copies


def test_after_copies_follow_ups_and_a_restart_one_more_item_reads_no_other_and_the_site_is_as_rebuilt(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record, "PAGE_SIZE", 3)
    published, copies = build(site)
    site = restarted(site)
    read = items_read(monkeypatch)

    published.append(publication(13, kind="warning"))
    site.publish(published[-1])

    assert read == [], "the lists read items they keep rows of"
    incremental = published_files(site)
    site.rebuild(Published(published, copies))
    assert published_files(site) == incremental
    assert listed(site.directory / "index.html")[:2] == ["Meldung Nummer 13", "Aktualisierung: Meldung Nummer 9"]


def test_a_record_kept_before_the_lists_kept_views_is_read_and_brought_up_to_date(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record, "PAGE_SIZE", 3)
    published, copies = build(site)
    folder = site.record.folder
    lists = json.loads((folder / "lists.json").read_text())
    old = {"warnings": [row[:2] for row in lists["warnings"]], "news": [row[:2] for row in lists["news"]],
           "recent": [row[:3] for row in lists["recent"]]}  # fmt: skip
    (folder / "lists.json").write_text(json.dumps(old))
    for page in (folder / "pages").rglob("*.json"):
        page.write_text(json.dumps([row[0] for row in json.loads(page.read_text())["rows"]]))
    site = restarted(site)

    published.append(publication(13, kind="warning"))
    site.publish(published[-1])
    site = restarted(site)  # what the first rewrite made of the old record was kept:
    read = items_read(monkeypatch)
    published.append(follow_up(14, published[7]))  # on the page rewritten above (one more item would start a page)
    site.publish(published[-1])

    assert read == [published[7].item_id], "only the item that changed is read"
    incremental = published_files(site)
    site.rebuild(Published(published, copies))
    assert published_files(site) == incremental


@pytest.fixture
def own_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    return folder


def test_a_row_template_that_uses_the_root_otherwise_than_as_a_prefix_is_rendered_for_each_list(
    site: Site, own_templates: Path
) -> None:
    row = own_templates / "site" / "_list_item.html.j2"
    row.write_text(row.read_text().replace("{{ root }}{{ item.path }}", "{{ root or './' }}{{ item.path }}"))
    lists = own_templates / "site" / "_list.html.j2"  # a list template that asks the items themselves
    lists.write_text(lists.read_text().replace("{{ row(item) }}", "<!-- {{ item.path }} -->{{ row(item) }}"))
    site = Site(site.config, site.authority, clock=site.clock, data_dir=site.data_dir, templates=own_templates)

    site.publish(publication(1, kind="warning"))
    site.publish(publication(2))

    index = (site.directory / "index.html").read_text(encoding="utf-8")
    archive = (site.directory / "archive" / "2026-11" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<!-- 2026/11/meldung-1/ --><li class="item[^"]*">\n<a href="\./2026/11/meldung-1/">', index)
    assert '<!-- 2026/11/meldung-2/ --><li class="item">\n<a href="../../2026/11/meldung-2/">' in archive


def test_rows_kept_from_a_row_template_that_has_changed_since_are_made_anew(site: Site, own_templates: Path) -> None:
    site = Site(site.config, site.authority, clock=site.clock, data_dir=site.data_dir, templates=own_templates)
    site.publish(publication(1))
    row = own_templates / "site" / "_list_item.html.j2"
    row.write_text(row.read_text().replace('<li class="item', '<li class="item neu'))
    later = row.stat().st_mtime + 5
    os.utime(row, (later, later))  # as a person editing it a moment later

    site.publish(publication(2))

    index = (site.directory / "index.html").read_text(encoding="utf-8")
    assert index.count('<li class="item neu">') == 2


# -- labels: a follow-up says what it is, once -----------------------------------------------------


def page(file: Path) -> BeautifulSoup:
    return BeautifulSoup(file.read_text(encoding="utf-8"), "html.parser")


def titles(site: Site, published: Publication) -> dict[str, str]:
    """How the site titles an entry: in the lists that show its item, its item page's title (the
    latest entry's) and each feed."""
    site.close()  # the lists held back for the interval are written now
    folder, entry_id = site.directory, published.entry.id
    shown: dict[str, str] = {}
    for name, where in (("start page", "index.html"), ("archive", f"archive/{published.item_month}/index.html")):
        for link in page(folder / where).select("ul.items a"):
            if str(link["href"]).endswith(published.item_path):
                shown[name] = link.get_text()
    title = page(folder / published.item_path / "index.html").title
    assert title is not None
    shown["page title"] = title.get_text().removesuffix(f" – {site.authority.name}")
    for feed in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse((folder / feed).read_bytes())
        shown[feed] = next(e.title for e in parsed.entries if e.id == f"urn:uuid:{entry_id}")
    document = json.loads((folder / "feed.json").read_text())
    shown["feed.json"] = next(i["title"] for i in document["items"] if i["id"] == f"urn:uuid:{entry_id}")
    return shown


def kicker_label(article: Tag) -> str | None:
    label = article.select_one(".kicker .label")
    return label.get_text() if label else None


@pytest.mark.parametrize(
    ("msg_type", "headline", "title", "lists"),
    [
        ("update", "Aktualisierung: Sperrgebiet erweitert", "Aktualisierung: Sperrgebiet erweitert",
         {"start page", "archive"}),
        ("update", "Keine Entwarnung für die Altstadt", "Aktualisierung: Keine Entwarnung für die Altstadt",
         {"start page", "archive"}),
        ("cancel", "Entwarnung: Bombe entschärft", "Entwarnung: Bombe entschärft", {"start page", "archive"}),
        ("cancel", "ENTWARNUNG – Bombe entschärft", "ENTWARNUNG – Bombe entschärft", {"start page", "archive"}),
        ("cancel", "All clear: Bombe entschärft", "All clear: Bombe entschärft", {"start page", "archive"}),
        ("error", "Widerruf: keine Fliegerbombe", "Widerruf: keine Fliegerbombe", {"start page", "archive"}),
    ],
)  # fmt: skip
def test_a_follow_up_is_titled_with_one_label_in_every_list_page_title_and_feed(
    site: Site, msg_type: str, headline: str, title: str, lists: set[str]
) -> None:
    alert = publication(1, kind="warning")
    site.publish(alert)
    later = follow_up(2, alert, msg_type, headline=headline)
    site.publish(later)

    shown = titles(site, later)

    assert set(shown) == lists | {"page title", "atom.xml", "rss.xml", "feed.json"}
    assert set(shown.values()) == {title}


def test_the_item_page_shows_the_label_as_a_badge_and_the_headline_as_written(site: Site) -> None:
    alert = publication(1, kind="warning")
    site.publish(alert)
    site.publish(follow_up(2, alert, "cancel", headline="Entwarnung: Bombe entschärft"))

    latest = page(site.directory / alert.item_path / "index.html").select_one("article.latest")

    assert latest is not None
    assert kicker_label(latest) == "Entwarnung"
    assert [h.get_text() for h in latest.select("h1")] == ["Entwarnung: Bombe entschärft"]
    assert "Entwarnung: Entwarnung" not in latest.get_text()


# -- corrections ---------------------------------------------------------------------------------


def corrected_notes(article: Tag) -> list[tuple[str, str, str]]:
    """What an entry says of its corrections: the note, where it links to, and the time it gives."""
    notes = []
    for link in article.select(".corrected a"):
        time = link.find("time")
        assert isinstance(time, Tag), "the note gives the time of the correction as a <time>"
        notes.append((link.get_text(), str(link["href"]), str(time["datetime"])))
    return notes


def article(soup: BeautifulSoup, entry: Publication) -> Tag:
    found = soup.find("article", id=f"m-{entry.entry.id[:8]}")
    assert isinstance(found, Tag), f"no entry {entry.entry.id} on the page"
    return found


def test_a_corrected_entry_says_when_it_was_corrected_and_links_to_the_correction(site: Site) -> None:
    alert = publication(1, kind="warning")
    site.publish(alert)
    update = follow_up(2, alert)
    site.publish(update)
    correction = follow_up(3, alert, correction=True, headline="Fliegerbombe in der Neustadt")
    site.publish(correction)

    soup = page(site.directory / alert.item_path / "index.html")

    when = correction.entry.published.isoformat()
    assert corrected_notes(article(soup, alert)) == [("korrigiert am 20. November 2026, 10:03", "#m-00000003", when)]
    assert corrected_notes(article(soup, update)) == [], "only the entry the correction refers to was corrected"
    assert corrected_notes(article(soup, correction)) == []
    assert soup.find_all(id="m-00000003") == [article(soup, correction)], "the note links to the correction"


def test_the_correction_is_the_item_s_current_text_and_carries_the_correction_badge(site: Site) -> None:
    alert = publication(1, kind="warning")
    site.publish(alert)
    correction = follow_up(2, alert, correction=True, headline="Fliegerbombe in der Neustadt")
    site.publish(correction)

    soup = page(site.directory / alert.item_path / "index.html")

    first = soup.select_one("main article")
    assert first is not None and first is article(soup, correction)
    assert "latest" in first["class"]
    assert [h.get_text() for h in first.select("h1")] == ["Fliegerbombe in der Neustadt"]
    assert kicker_label(first) == "Korrektur"
    assert kicker_label(article(soup, alert)) is None


def test_the_lists_and_feeds_show_a_correction_titled_as_one(site: Site) -> None:
    alert = publication(1, kind="warning")
    site.publish(alert)
    correction = follow_up(2, alert, correction=True, headline="Fliegerbombe in der Neustadt")
    site.publish(correction)

    shown = titles(site, correction)

    assert set(shown) == {"start page", "archive", "page title", "atom.xml", "rss.xml", "feed.json"}
    assert set(shown.values()) == {"Korrektur: Fliegerbombe in der Neustadt"}


def test_every_correction_of_an_entry_is_noted_oldest_first_and_a_corrected_correction_too(site: Site) -> None:
    alert = publication(1, kind="warning")
    site.publish(alert)
    first = follow_up(2, alert, correction=True, headline="Fliegerbombe in der Neustadt")
    site.publish(first)
    second = follow_up(3, alert, correction=True, headline="Fliegerbombe in der Südstadt")
    site.publish(second)
    of_the_first = follow_up(4, first, correction=True, headline="Fliegerbombe in der Neustadt, Nordteil")
    site.publish(of_the_first)

    soup = page(site.directory / alert.item_path / "index.html")

    assert [href for _, href, _ in corrected_notes(article(soup, alert))] == ["#m-00000002", "#m-00000003"]
    assert [href for _, href, _ in corrected_notes(article(soup, first))] == ["#m-00000004"]
    assert corrected_notes(article(soup, second)) == []


def test_an_english_site_says_corrected_on(make_settings: SettingsFactory) -> None:
    settings = make_settings(authorities=[{**copy.deepcopy(AUTHORITY), "languages": ["en", "de"]}])
    [authority] = settings.authorities
    site = Site(authority.channel("website"), authority, clock=lambda: NOW, data_dir=settings.herold.data_dir)
    alert = publication(1, kind="warning")
    site.publish(alert)
    correction = follow_up(2, alert, correction=True, headline="Fliegerbombe in der Neustadt")
    site.publish(correction)

    soup = page(site.directory / alert.item_path / "index.html")

    [(note, _, _)] = corrected_notes(article(soup, alert))
    assert note == "corrected on November 20, 2026, 10:02\u202fAM"
    assert kicker_label(article(soup, correction)) == "Correction"


def test_copies_put_into_a_page_make_the_page_a_whole_rewrite_makes(site: Site) -> None:
    # Only the copies' parts of the page are rendered when they change: the page must come out
    # as rendering it whole would, as copies come, grow, and go (a withdrawal deletes them).
    alert = publication(1, kind="warning")
    update = follow_up(2, alert, "update")
    site.publish(alert)
    site.publish(update)
    page = site.directory / alert.item_path / "index.html"
    mastodon = Copy("fediverse", "mastodon", "https://social.example/@lkb/1")
    other = Copy("anders", "webhook", "https://anders.example/<lkb>&2")
    for copies in ({alert.entry.id: [mastodon]}, {alert.entry.id: [mastodon, other], update.entry.id: [other]}, {}):
        site.copies(alert.item_id, copies)
        site._catch_up(now=True)
        spliced = page.read_text(encoding="utf-8")
        assert site.render_all() >= 0 and page.read_text(encoding="utf-8") == spliced, copies
    assert "u-syndication" not in spliced, "copies that went are gone from the page"


def test_a_page_written_before_its_copies_were_marked_is_rendered_whole(site: Site) -> None:
    alert = publication(1, kind="warning")
    site.publish(alert)
    page = site.directory / alert.item_path / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("<!--/herold:copies-->", ""), encoding="utf-8")

    site.copies(alert.item_id, {alert.entry.id: [Copy("fediverse", "mastodon", "https://social.example/@lkb/1")]})
    site._catch_up(now=True)

    assert page.read_text(encoding="utf-8").count("https://social.example/@lkb/1") == 1
    assert "<!--/herold:copies-->" in page.read_text(encoding="utf-8")


# -- the start page in a crisis ---------------------------------------------------------------------


def test_an_active_warning_is_a_box_naming_its_severity_in_words_what_to_do_and_until_when(site: Site) -> None:
    alert = publication(1, kind="warning")
    site.publish(alert)
    site.publish(follow_up(2, alert, "update", severity="extreme", instruction="Bleiben Sie im Haus.",
                           expires="2026-11-20T18:00:00+01:00"))  # fmt: skip
    box = page(site.directory / "index.html").select_one("#warnings ~ ul .warning")

    assert box is not None and "warning-extreme" in box["class"]
    text = box.get_text(" ", strip=True)
    assert "Extreme Gefahr" in text, "the severity in words, never colour alone"
    assert "Was ist zu tun? Bleiben Sie im Haus." in text
    assert "gültig bis 20. November 2026, 18:00" in text


def test_an_all_clear_stays_on_the_start_page_in_its_own_section_for_a_day_then_leaves(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    [authority] = settings.authorities
    moment = [NOW]
    site = Site(authority.channel("website"), authority, clock=lambda: moment[0], data_dir=settings.herold.data_dir)
    alert = publication(1, kind="warning")
    site.publish(alert)
    site.publish(follow_up(2, alert, "cancel", headline="Entwarnung: Bombe entschärft"))

    index = page(site.directory / "index.html")
    assert index.select("#ended ~ ul a")[0].get_text() == "Entwarnung: Bombe entschärft"
    assert index.select("#warnings ~ ul li") == [], "no longer a current warning"

    moment[0] = NOW + timedelta(hours=24, minutes=3)  # a day after the all-clear went out
    site.housekeeping(moment[0])
    assert page(site.directory / "index.html").select_one("#ended") is None


# -- a relayed warning: the sender's words whole, its source named ---------------------------------

DWD = "Deutscher Wetterdienst; © GeoBasis-DE / BKG"


def warning_publication(number: int, **changes: Any) -> Publication:
    """A warning of its own item, with these changes to the document."""
    alert = publication(number, kind="warning")
    document = warning(headline=f"Meldung Nummer {number}", **changes)
    return replace(alert, entry=replace(alert.entry, announcement=parse_announcement(document)))


def relayed(number: int, **changes: Any) -> Publication:
    """A warning system's warning, as the hook takes it: its text verbatim, its owner named."""
    return warning_publication(number, attribution=DWD, **changes)


def source_of(entry: Tag) -> str | None:
    found = entry.select_one(".source")
    return found.get_text(" ", strip=True) if found else None


def test_every_entry_of_a_relayed_warning_names_its_source_and_shows_the_sender_s_whole_text(site: Site) -> None:
    # Far over any platform's limit: the copies elsewhere are shortened and link here for all of it.
    description = " ".join(f"Satz {number} des Wetterdienstes, z. B. am 1. Dezember." for number in range(150))
    alert = relayed(1, description=description)
    site.publish(alert)
    update = follow_up(2, alert, "update", description="Die Warnung wird verlängert.", attribution="BBK (MoWaS)")
    site.publish(update)
    own = follow_up(3, alert, "update", description="Der Landkreis öffnet eine Notunterkunft.")
    site.publish(own)

    soup = page(site.directory / alert.item_path / "index.html")

    first = article(soup, alert)
    assert source_of(first) == f"Quelle: {DWD}"
    shown = first.select_one(".description p")
    assert shown is not None and shown.get_text() == description
    assert source_of(article(soup, update)) == "Quelle: BBK (MoWaS)", "a follow-up names its own source"
    assert source_of(article(soup, own)) is None, "the authority's own words need no source"


def test_the_start_page_shortens_a_relayed_warning_only_after_whole_sentences_and_area_names(site: Site) -> None:
    instruction = "Bleiben Sie in Gebäuden. " + (
        "Meiden Sie den Aufenthalt im Freien, vor allem in der Nähe von Bäumen, Gerüsten und Leitungen. " * 4
    )
    names = [f"Gemeinde Musterstadt-{number}" for number in range(10)]
    area = {"description": "; ".join(names)}
    alert, own = (
        relayed(1, instruction=instruction.strip(), area=area),
        warning_publication(2, instruction=instruction.strip(), area=area),
    )
    site.publish(alert)
    site.publish(own)

    def box(of: Publication) -> Tag:
        link = page(site.directory / "index.html").select_one(f'#warnings ~ ul .warning a[href$="{of.item_path}"]')
        assert link is not None and isinstance(link.parent, Tag)
        return link.parent

    relayed_box, own_box = box(alert), box(own)
    what_to_do, meta = relayed_box.select_one(".do"), relayed_box.select_one(".meta")
    assert what_to_do is not None and meta is not None
    second = instruction.split(". ")[1] + "."
    assert what_to_do.get_text() == f"Was ist zu tun? Bleiben Sie in Gebäuden. {second} …"
    shown_area = meta.get_text().split(" · ")[-1]
    assert shown_area.endswith("; …") and "; ".join(names).startswith(shown_area.removesuffix("; …") + "; ")
    assert own_box.get_text().count("...") == 2, "the authority's own words are shortened at a word, as before"


# -- the authority's logo ------------------------------------------------------------------------

DESIGNER = "Grafikbuero Mustermann"
ARTIST, GPS_IFD = 0x013B, 0x8825


def logo_file(path: Path, image_format: str = "PNG", size: tuple[int, int] = (60, 20), colour: str = "navy") -> Path:
    """A logo as a designer delivers it: with EXIF naming the designer and where it was made. Put
    in place whole, as an operator copies a file in."""
    exif = Image.Exif()
    exif[ARTIST] = DESIGNER
    exif[GPS_IFD] = {1: "N", 2: (50.0, 56.0, 20.0), 3: "E", 4: (6.0, 57.0, 30.0)}
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, image_format, exif=exif.tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(out.getvalue())
    partial.replace(path)
    return path


def site_with_logo(make_settings: SettingsFactory, logo: str) -> Site:
    settings = make_settings(authorities=[{**copy.deepcopy(AUTHORITY), "logo": logo}])
    [authority] = settings.authorities
    return Site(authority.channel("website"), authority, clock=lambda: NOW, data_dir=settings.herold.data_dir)


def test_the_authority_s_logo_heads_every_page_beside_its_name_from_the_site_s_own_directory(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    logo_file(tmp_path / "wappen.png")
    site = site_with_logo(make_settings, "wappen.png")  # beside the configuration file
    published = publication(1, kind="warning")

    site.publish(published)

    written = site.directory / "logo.png"
    with Image.open(written) as logo:
        size = logo.size
    for name in ("index.html", f"{published.item_path}index.html", "archive/index.html",
                 "archive/2026-11/index.html", "barrierefreiheit/index.html"):  # fmt: skip
        file = site.directory / name
        link = page(file).select_one("header.site .site-name a")
        assert link is not None, name
        image = link.select_one("img")
        assert image is not None, f"{name} shows no logo"
        assert image["alt"] == "", "decorative: the name beside it, in the same link, says whose it is"
        assert link.get_text(strip=True) == AUTHORITY["name"]
        source = str(image["src"])
        assert ":" not in source and not source.startswith("/"), "the site's own file, wherever it is served"
        assert (file.parent / source).resolve() == written.resolve(), name
        assert (int(str(image["width"])), int(str(image["height"]))) == size, "no layout shift while it loads"


@pytest.mark.parametrize(("image_format", "name"), [("JPEG", "logo.jpg"), ("PNG", "logo.png")])
def test_the_published_logo_carries_none_of_the_file_s_metadata(
    make_settings: SettingsFactory, tmp_path: Path, image_format: str, name: str
) -> None:
    source = logo_file(tmp_path / "config" / "wappen", image_format)
    with Image.open(source) as original:
        assert original.getexif()[ARTIST] == DESIGNER, "the test logo must carry EXIF to begin with"
    site = site_with_logo(make_settings, str(source))

    site.publish(publication(1))

    written = site.directory / name
    with Image.open(written) as logo:
        assert logo.format == image_format
        assert dict(logo.getexif()) == {}
        assert {"exif", "xmp", "comment", "icc_profile"}.isdisjoint(logo.info)
    assert DESIGNER.encode() not in written.read_bytes() and b"Exif" not in written.read_bytes()


def test_a_print_size_logo_is_published_at_the_size_a_page_header_needs(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    logo_file(tmp_path / "wappen.png", size=(3000, 1000))
    site = site_with_logo(make_settings, "wappen.png")

    site.publish(publication(1))

    with Image.open(site.directory / "logo.png") as logo:
        assert logo.size == (576, 192), "three device pixels to each of the header's 4rem (64px), shape kept"


def test_the_logo_is_made_once_and_again_only_when_its_file_changes(
    make_settings: SettingsFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = logo_file(tmp_path / "wappen.png", colour="navy")
    made: list[Path] = []

    def counted(path: Path) -> Logo:
        made.append(path)
        return read_logo(path)

    monkeypatch.setattr(website, "read_logo", counted)
    site = site_with_logo(make_settings, "wappen.png")
    site.publish(publication(1))
    written = site.directory / "logo.png"
    first = written.stat().st_mtime_ns

    site.publish(publication(2))
    restarted(site).publish(publication(3))  # another process (a worker) finds it made

    assert len(made) == 1, "every page shows it, and no page decodes it again"
    assert written.stat().st_mtime_ns == first

    logo_file(source, colour="darkred")  # the operator puts in a new logo
    site.publish(publication(4))

    assert len(made) == 2
    with Image.open(written) as logo:
        assert logo.convert("RGB").getpixel((0, 0)) == (139, 0, 0)


def test_a_logo_gone_since_the_start_leaves_the_pages_without_it_and_the_warning_still_out(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    source = logo_file(tmp_path / "wappen.png")
    site = site_with_logo(make_settings, "wappen.png")
    source.unlink()
    published = publication(1, kind="warning")

    site.publish(published)

    item = page(site.directory / published.item_path / "index.html")
    assert item.select_one("header.site img") is None
    assert item.select_one("h1") is not None and "Meldung Nummer 1" in item.get_text()


def test_copies_are_read_under_the_sites_lock_so_the_last_read_is_written_last(site: Site) -> None:
    # Two refreshes finishing together (two deletes): the one that read the copies first must not
    # write last, or a deleted post stays linked on the page.
    import threading

    alert = publication(1, kind="warning")
    site.publish(alert)
    deleted = Copy("fediverse", "mastodon", "https://social.example/@lkb/1")
    order: list[str] = []

    def fresh() -> dict[str, list[Copy]]:
        order.append("fresh")
        return {}

    later = threading.Thread(target=lambda: site.copies(alert.item_id, fresh))

    def stale() -> dict[str, list[Copy]]:
        later.start()  # a second refresh while the first holds the lock: it must wait to read
        later.join(0.3)
        order.append("stale")
        return {alert.entry.id: [deleted]}

    site.copies(alert.item_id, stale)
    later.join(10)
    site._catch_up(now=True)

    assert order == ["stale", "fresh"]
    assert deleted.url not in (site.directory / alert.item_path / "index.html").read_text(encoding="utf-8")
