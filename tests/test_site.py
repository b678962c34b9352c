"""The built-in website as a subsystem: what the engine hands it, the record it keeps of that,
and the pages it writes from the record (without a database or an engine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from publisher.domain.announcement import parse_announcement
from publisher.site import record
from publisher.site.model import Copy, Entry, Publication
from publisher.site.website import Site

from conftest import SettingsFactory, news, warning

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
    for number in range(1, 5):
        site.publish(publication(number))
    month = site.directory / "archive" / "2026-11"
    oldest = (month / "1" / "index.html").stat().st_mtime_ns

    site.publish(publication(5))  # starts page 3: page 2 moves to its own address and links to it
    site.publish(publication(6))

    assert (month / "1" / "index.html").stat().st_mtime_ns == oldest
    assert listed(month / "index.html") == ["Meldung Nummer 6", "Meldung Nummer 5"]
    assert listed(month / "2" / "index.html") == ["Meldung Nummer 4", "Meldung Nummer 3"]


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

    site.rebuild([publication(2)], {})

    assert listed(site.directory / "index.html") == ["Meldung Nummer 2"]
    assert site.record.item(publication(1).item_id) is None
