"""The authority's own website, as citizens, press officers and auditors see it.

Every item gets one page at a stable address (latest state on top, history below); the start
page lists current warnings; the feeds carry every announcement; pages are accessible plain
HTML that runs no script and loads nothing from anywhere else; copies on other platforms are
listed as ``u-syndication``; publishing rewrites only the pages an item touches.
"""

from __future__ import annotations

import copy
import fcntl
import itertools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit
from zoneinfo import ZoneInfo

import feedparser
import mf2py
import pytest
from bs4 import BeautifulSoup, Tag
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select, update

from adapters import register, unregister
from adapters.port import Capabilities, Channel, PermanentError, Post, Receipt, Wave
from publisher.edges.config import Settings, settings_from
from publisher.edges.wiring import Herold
from publisher.engine import tasks
from publisher.engine.schema import AnnouncementRow, OperationState, VariantRow
from publisher.engine.tasks import wait_until_settled
from publisher.site import website
from publisher.site.model import Publication
from publisher.sources.intake import accept

from conftest import AUTHORITY, FIXTURES, HeroldFactory, SettingsFactory, forget_cached, news, warning
from fakes.clock import Clock
from fakes.runner import ByHand
from helpers import eventually, png

SLUG = AUTHORITY["slug"]
BASE_URL = AUTHORITY["base_url"]
IMPRESSUM = AUTHORITY["impressum_url"]
PRIVACY = AUTHORITY["privacy_url"]
SCHEMA = json.loads((FIXTURES / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))


# -- helpers -----------------------------------------------------------------------------------


def publish(herold: Herold, document: dict[str, Any]) -> str:
    """Accept an announcement and wait until every delivery has succeeded; returns its id."""
    announcement_id = accept(herold.engine, document, source="test", actor="tester")
    deliveries = wait_until_settled(herold.engine, announcement_id, timeout=20)
    states = {d.channel: d.state.value for d in deliveries}
    assert all(d.state is OperationState.succeeded for d in deliveries), states
    return announcement_id


def follow_up(msg_type: str, references: str, headline: str, description: str) -> dict[str, Any]:
    """An update, all-clear (cancel) or withdrawal (error) of an earlier warning."""
    return warning(
        msg_type=msg_type,
        references=references,
        headline=headline,
        description=description,
        severity=None,
        category=None,
        event=None,
        area=None,
        instruction=None,
        hashtags=None,
    )


def site_of(herold: Herold) -> Path:
    return herold.site(SLUG).directory


def path_of(herold: Herold, announcement_id: str) -> str:
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    return stored.item_path


def parse(file: Path) -> BeautifulSoup:
    return BeautifulSoup(file.read_text(encoding="utf-8"), "html.parser")


def item_page(herold: Herold, announcement_id: str) -> BeautifulSoup:
    return parse(site_of(herold) / path_of(herold, announcement_id) / "index.html")


def current_warnings(directory: Path) -> list[str]:
    """The item paths the start page lists under "current warnings"."""
    section = parse(directory / "index.html").find("section", attrs={"aria-labelledby": "warnings"})
    assert isinstance(section, Tag), "the start page has no section of current warnings"
    return [str(link["href"]) for link in section.find_all("a")]


def entries(html: str, url: str) -> list[dict[str, Any]]:
    """The microformats2 h-entries of a page, in document order."""
    parsed = mf2py.parse(doc=html, url=url)
    return [item for item in parsed["items"] if "h-entry" in item["type"]]


def snapshot(file: Path) -> tuple[bytes, int]:
    return file.read_bytes(), file.stat().st_mtime_ns


# -- a published site, built once for the rules every page must follow ---------------------------

HEADLINES = {
    "alert": "Fliegerbombe in der Altstadt",
    "update": "Sperrgebiet erweitert",
    "correction": "Fliegerbombe in der Neustadt",
    "news": "Bürgerbüro am 24. Dezember geschlossen",
}


@dataclass(frozen=True)
class Site:
    directory: Path
    paths: dict[str, str]  # "warning" and "news": the item paths

    @property
    def pages(self) -> list[Path]:
        return sorted(self.directory.rglob("*.html"))


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A site with a warning (image, translation, update, correction and history) and a news item."""
    base = tmp_path_factory.mktemp("site")
    settings = settings_from(
        {"herold": {"data_dir": str(base / "var")}, "authorities": [copy.deepcopy(AUTHORITY)]}, {}, base=base
    )
    herold = Herold(settings)
    herold.start()
    try:
        alert = publish(
            herold,
            warning(
                headline=HEADLINES["alert"],
                media=[{"data": png(), "alt": "Karte des Sperrgebiets rund um die Marktstraße"}],
                translations={"en": {"headline": "Aerial bomb in the old town", "instruction": "Leave the area."}},
            ),
        )
        publish(herold, follow_up("update", alert, HEADLINES["update"], "Das Sperrgebiet reicht nun bis zum Bahnhof."))
        correction = follow_up("update", alert, HEADLINES["correction"], "Die Bombe liegt in der Neustadt.")
        publish(herold, {**correction, "correction": True})
        other = publish(herold, news(headline=HEADLINES["news"]))
        yield Site(site_of(herold), {"warning": path_of(herold, alert), "news": path_of(herold, other)})
    finally:
        herold.stop()


def _is_relative(url: str) -> bool:
    parts = urlsplit(url.strip())
    return not parts.scheme and not parts.netloc


def _resources(page: BeautifulSoup) -> list[str]:
    """Every address the browser would load on its own to show the page."""
    found: list[str] = []
    for link in page.find_all("link"):
        if "stylesheet" in (link.get("rel") or []) or "icon" in (link.get("rel") or []):
            found.append(str(link.get("href", "")))
    for tag in page.find_all(["script", "img", "iframe", "source", "audio", "video", "embed", "track"]):
        if tag.get("src") is not None:
            found.append(str(tag["src"]))
        for candidate in str(tag.get("srcset") or "").split(","):
            if candidate.strip():
                found.append(candidate.split()[0])
    for tag in page.find_all("object"):
        found.append(str(tag.get("data", "")))
    return found


def _impressum(page: BeautifulSoup) -> list[str]:
    return [] if page.find("a", href=IMPRESSUM) else [f"no link to the Impressum ({IMPRESSUM})"]


def _privacy(page: BeautifulSoup) -> list[str]:
    return [] if page.find("a", href=PRIVACY) else [f"no link to the privacy notice ({PRIVACY})"]


def _language(page: BeautifulSoup) -> list[str]:
    html = page.find("html")
    lang = html.get("lang") if isinstance(html, Tag) else None
    return [] if lang == "de" else [f'<html lang> is {lang!r}, not the authority\'s "de"']


def _skip_link(page: BeautifulSoup) -> list[str]:
    body = page.find("body")
    first = body.find("a") if isinstance(body, Tag) else None
    if not isinstance(first, Tag) or not str(first.get("href", "")).startswith("#"):
        return ["the first link is not a skip link to the content"]
    target = str(first["href"])[1:]
    return [] if page.find(id=target) else [f"the skip link points to #{target}, which does not exist"]


def _one_h1(page: BeautifulSoup) -> list[str]:
    count = len(page.find_all("h1"))
    return [] if count == 1 else [f"{count} h1 headings"]


def _same_origin(page: BeautifulSoup) -> list[str]:
    return [f"loads {url} from another origin" for url in _resources(page) if not _is_relative(url)]


def _no_script(page: BeautifulSoup) -> list[str]:
    return [f"has a script: {tag}" for tag in page.find_all("script")]


def _alt_text(page: BeautifulSoup) -> list[str]:
    return [
        f"image {img.get('src')} has no alt text"
        for img in page.find_all("img")
        if not str(img.get("alt") or "").strip()
    ]


def _unique_ids(page: BeautifulSoup) -> list[str]:
    ids = [str(tag["id"]) for tag in page.find_all(id=True)]
    return [f"id {name!r} is used {ids.count(name)} times" for name in sorted(set(ids)) if ids.count(name) > 1]


def _in_page_links(page: BeautifulSoup) -> list[str]:
    return [
        f"the link {link.get_text(strip=True)!r} points to {link['href']}, which does not exist"
        for link in page.find_all("a", href=re.compile("^#"))
        if not page.find(id=str(link["href"])[1:])
    ]


def _links_have_text(page: BeautifulSoup) -> list[str]:
    return [
        f"the link to {link.get('href')} has no text" for link in page.find_all("a") if not link.get_text(strip=True)
    ]


PAGE_RULES: dict[str, Callable[[BeautifulSoup], list[str]]] = {
    "links to the authority's Impressum": _impressum,
    "links to the authority's privacy notice": _privacy,
    "declares the authority's language": _language,
    "starts with a skip link to the content": _skip_link,
    "has exactly one h1": _one_h1,
    "loads nothing from another origin": _same_origin,
    "runs no script": _no_script,
    "gives every image a text alternative": _alt_text,
    "gives every element an id of its own": _unique_ids,
    "links within the page only to what is on it": _in_page_links,
    "names every link": _links_have_text,
}


@pytest.mark.parametrize("rule", PAGE_RULES, ids=list(PAGE_RULES))
def test_every_page_of_the_site_follows_the_rule(built_site: Site, rule: str) -> None:
    pages = built_site.pages
    kinds = {p.relative_to(built_site.directory).as_posix() for p in pages}
    assert {"index.html", "archive/index.html", f"{built_site.paths['warning']}index.html"} <= kinds
    assert any(k.startswith("archive/") and k != "archive/index.html" for k in kinds), "no archive month page"
    violations = [
        f"{page.relative_to(built_site.directory)}: {problem}"
        for page in pages
        for problem in PAGE_RULES[rule](parse(page))
    ]
    assert not violations


PUBLISHED_SUFFIXES = {".html", ".xml", ".json", ".css", ".png", ".jpg", ".webp"}


def test_the_web_root_holds_only_what_readers_should_see(built_site: Site) -> None:
    files = [p.relative_to(built_site.directory) for p in built_site.directory.rglob("*") if p.is_file()]

    assert files
    assert [f for f in files if any(part.startswith(".") for part in f.parts)] == [], "hidden or temporary files"
    assert [f for f in files if f.suffix not in PUBLISHED_SUFFIXES] == []


def test_the_stylesheet_fetches_nothing_from_elsewhere(built_site: Site) -> None:
    css = (built_site.directory / "style.css").read_text(encoding="utf-8")

    assert "@import" not in css
    assert [url for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css) if not _is_relative(url)] == []


def test_the_built_site_shows_a_correction(built_site: Site) -> None:
    page = parse(built_site.directory / built_site.paths["warning"] / "index.html")

    assert [a.get_text() for a in page.select(".corrected a")] != []
    h1 = page.find("h1")
    assert isinstance(h1, Tag) and h1.get_text() == HEADLINES["correction"]


def test_the_feeds_link_to_every_page_they_announce(built_site: Site) -> None:
    parsed = feedparser.parse((built_site.directory / "atom.xml").read_bytes())
    linked = {urldefrag(entry.link).url for entry in parsed.entries}
    assert linked == {BASE_URL + built_site.paths["warning"], BASE_URL + built_site.paths["news"]}


# -- the item page and the start page ----------------------------------------------------------


def test_a_published_warning_has_its_page_at_a_stable_address(herold: Herold) -> None:
    announcement_id = publish(herold, warning())
    path = path_of(herold, announcement_id)
    page = item_page(herold, announcement_id)

    assert path.endswith(f"fliegerbombe-in-der-altstadt-{announcement_id[:8]}/")
    website = herold.store.operations.copy_on(announcement_id, "website")
    assert website is not None
    assert website.platform_url == BASE_URL + path
    canonical = page.find("link", rel="canonical")
    assert isinstance(canonical, Tag)
    assert canonical["href"] == BASE_URL + path
    h1 = page.find("h1")
    assert isinstance(h1, Tag)
    assert h1.get_text(strip=True) == "Fliegerbombe in der Altstadt"
    assert "Verlassen Sie das Sperrgebiet bis 10 Uhr." in page.get_text()


def test_the_start_page_lists_a_published_warning_under_current_warnings(herold: Herold) -> None:
    announcement_id = publish(herold, warning())

    assert current_warnings(site_of(herold)) == [path_of(herold, announcement_id)]


def test_news_is_not_listed_as_a_current_warning(herold: Herold) -> None:
    publish(herold, news())

    assert current_warnings(site_of(herold)) == []


def test_an_item_page_is_a_microformats2_h_entry(herold: Herold) -> None:
    announcement_id = publish(herold, warning())
    url = BASE_URL + path_of(herold, announcement_id)
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None

    found = entries(item_page(herold, announcement_id).decode(), url)

    assert len(found) == 1
    properties = found[0]["properties"]
    assert properties["name"] == ["Fliegerbombe in der Altstadt"]
    assert [urldefrag(u).url for u in properties["url"]] == [url]
    published = datetime.fromisoformat(properties["published"][0])
    assert abs(published - stored.sent_at) < timedelta(seconds=1)


class Social(Channel):
    """A stand-in for a commercial platform (wave 3) that always posts at the same address."""

    type = "test-social"
    label = "Sozial.example"
    capabilities = Capabilities(wave=Wave.other)

    def publish(self, post: Post) -> Receipt:
        return Receipt(platform_id="1", url="https://social.example/@lkb/1")


@pytest.fixture
def social_channel() -> Iterator[type[Channel]]:
    register(Social)
    yield Social
    unregister(Social.type)


def test_copies_on_other_platforms_are_listed_as_u_syndication(
    social_channel: type[Channel], make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = {
        **copy.deepcopy(AUTHORITY),
        "channels": [*AUTHORITY["channels"], {"id": "social", "type": Social.type}],
    }
    herold = make_herold(make_settings(authorities=[authority]))
    copy_url = "https://social.example/@lkb/1"

    announcement_id = publish(herold, warning())
    page_file = site_of(herold) / path_of(herold, announcement_id) / "index.html"

    assert eventually(lambda: copy_url in page_file.read_text(encoding="utf-8")), "the page never listed the copy"
    found = entries(page_file.read_text(encoding="utf-8"), BASE_URL + path_of(herold, announcement_id))
    assert found[0]["properties"]["syndication"] == [copy_url]
    link = parse(page_file).find("a", href=copy_url)
    assert isinstance(link, Tag)
    assert link.get_text(strip=True) == "Sozial.example"


def test_the_delivery_that_made_a_copy_puts_it_on_the_item_page_itself(
    social_channel: type[Channel],
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No task of its own in the site's lane, and no read of every copy: the delivery knows it.
    refreshed: list[str] = []
    monkeypatch.setattr(tasks, "refresh", lambda engine, argument: refreshed.append(argument))
    herold = make_herold(make_settings(authorities=[with_social(Social.type)]))

    announcement_id = publish(herold, warning())

    page_file = site_of(herold) / path_of(herold, announcement_id) / "index.html"
    assert eventually(lambda: "https://social.example/@lkb/1" in page_file.read_text(encoding="utf-8"))
    assert refreshed == []


def with_social(channel_type: str) -> dict[str, Any]:
    return {**copy.deepcopy(AUTHORITY), "channels": [*AUTHORITY["channels"], {"id": "social", "type": channel_type}]}


def test_a_copy_made_while_the_site_is_busy_is_shown_once_the_site_is_free(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    held: list[Any] = []

    class WhileTheSiteIsBusy(Social):
        """Posts while something else (a rebuild, say) holds the site's lock."""

        type = "test-social-busy-site"

        def publish(self, post: Post) -> Receipt:
            handle = open(lock_file, "a")  # noqa: SIM115 - held until the test lets go
            fcntl.flock(handle, fcntl.LOCK_EX)
            held.append(handle)
            return super().publish(post)

    register(WhileTheSiteIsBusy)
    try:
        herold = make_herold(make_settings(authorities=[with_social(WhileTheSiteIsBusy.type)]))
        lock_file = Path(herold.settings.herold.data_dir) / "state" / f"{SLUG}-website" / "lock"

        announcement_id = publish(herold, warning())  # every delivery done while the site is held
        page_file = site_of(herold) / path_of(herold, announcement_id) / "index.html"
        assert "https://social.example/@lkb/1" not in page_file.read_text(encoding="utf-8")

        fcntl.flock(held[0], fcntl.LOCK_UN)
        assert eventually(lambda: "https://social.example/@lkb/1" in page_file.read_text(encoding="utf-8"))
    finally:
        for handle in held:
            handle.close()
        unregister(WhileTheSiteIsBusy.type)


def test_a_copy_made_before_an_overridden_site_published_the_item_is_shown_once_it_does(
    social_channel: type[Channel],
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The website failed, a person released the platforms anyway, then had the page sent again.
    failures = [PermanentError("the web server's disk is full")]
    publish_on_site = website.Site.publish

    def failing_once(self: website.Site, publication: Any) -> Receipt:
        if failures:
            raise failures.pop()
        return publish_on_site(self, publication)

    monkeypatch.setattr(website.Site, "publish", failing_once)
    herold = make_herold(make_settings(authorities=[with_social(Social.type)]))
    announcement_id = accept(herold.engine, warning(), source="test", actor="tester")
    wait_until_settled(herold.engine, announcement_id, timeout=20)
    assert tasks.release_by_override(herold.engine, announcement_id, "Webserver voll, Evakuierung läuft",
                                     actor="cli:leitstelle", source="cli") == []  # fmt: skip
    wait_until_settled(herold.engine, announcement_id, timeout=20)  # the platform posts

    assert tasks.reconcile(herold.engine, announcement_id, "website", None, actor="cli:leitstelle", source="cli") == []
    wait_until_settled(herold.engine, announcement_id, timeout=20)

    page_file = site_of(herold) / path_of(herold, announcement_id) / "index.html"
    assert eventually(lambda: "https://social.example/@lkb/1" in page_file.read_text(encoding="utf-8"))


def test_an_all_clear_marks_the_page_keeps_the_history_and_ends_the_current_warning(herold: Herold) -> None:
    alert = publish(herold, warning())
    publish(herold, follow_up("cancel", alert, "Entwarnung: Bombe entschärft", "Die Bombe wurde entschärft."))

    page = item_page(herold, alert)
    notice = page.find(class_="notice")
    assert isinstance(notice, Tag)
    assert notice.get_text(strip=True) == "Entwarnung: Die Gefahr ist vorüber."
    names = [e["properties"]["name"][0] for e in entries(page.decode(), BASE_URL + path_of(herold, alert))]
    assert names == ["Entwarnung: Bombe entschärft", "Fliegerbombe in der Altstadt"]
    assert current_warnings(site_of(herold)) == []


def test_a_withdrawal_shows_the_withdrawn_notice_and_ends_the_current_warning(herold: Herold) -> None:
    alert = publish(herold, warning())
    publish(herold, follow_up("error", alert, "Irrtümlich versandt", "Diese Warnung wurde irrtümlich versandt."))

    notice = item_page(herold, alert).find(class_="notice")
    assert isinstance(notice, Tag)
    assert "zurückgezogen" in notice.get_text()
    assert current_warnings(site_of(herold)) == []


def test_a_warning_past_its_expiry_is_no_longer_listed_as_current(make_herold: HeroldFactory) -> None:
    clock = Clock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    herold = make_herold(clock=clock)
    alert = publish(herold, warning(expires="2026-11-20T12:00:00+00:00"))
    assert current_warnings(site_of(herold)) == [path_of(herold, alert)]

    clock.set(datetime(2026, 11, 20, 13, 0, tzinfo=UTC))
    publish(herold, news())

    assert current_warnings(site_of(herold)) == []


NOVEMBER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("case", "untouched_month", "touched_month"),
    [
        ("a new item in December", "2026-11", "2026-12"),
        ("an update of the November item", "2026-12", "2026-11"),
    ],
)
def test_publishing_rewrites_only_the_pages_the_item_touches(
    make_herold: HeroldFactory, case: str, untouched_month: str, touched_month: str
) -> None:
    clock = Clock(NOVEMBER)
    herold = make_herold(clock=clock)
    first = publish(herold, warning(headline="Hochwasser an der Mulde"))
    clock.set(DECEMBER)
    second = publish(herold, warning(headline="Gasaustritt in der Bahnhofstraße"))
    site = site_of(herold)
    untouched = {
        "archive page": site / "archive" / untouched_month / "index.html",
        "other item page": site / path_of(herold, first if untouched_month == "2026-11" else second) / "index.html",
    }
    touched = {"start page": site / "index.html", "archive page": site / "archive" / touched_month / "index.html"}
    before = {f"untouched {name}": snapshot(file) for name, file in untouched.items()}
    before.update({f"touched {name}": snapshot(file) for name, file in touched.items()})

    clock.set(DECEMBER + timedelta(hours=1))
    if case == "a new item in December":
        publish(herold, warning(headline="Straßensperrung in Neustadt"))
    else:
        publish(herold, follow_up("update", first, "Hochwasser: Pegel steigt weiter", "Der Pegel steigt weiter."))

    for name, file in untouched.items():
        assert snapshot(file) == before[f"untouched {name}"], f"the {name} was written again"
    for name, file in touched.items():
        assert file.read_bytes() != before[f"touched {name}"][0], f"the {name} does not show the new announcement"


def test_rebuilding_the_site_restores_deleted_pages_as_they_were(herold: Herold) -> None:
    alert = publish(herold, warning())
    site = site_of(herold)
    page, index = site / path_of(herold, alert) / "index.html", site / "index.html"
    originals = {page: page.read_bytes(), index: index.read_bytes()}
    page.unlink()
    index.unlink()

    written = sum(tasks.rebuild(herold.engine, SLUG).values())

    assert written >= 2
    assert {file: file.read_bytes() for file in originals} == originals


# -- a rebuild while the engine goes on publishing ------------------------------------------------
# `herold site build` may run while warnings go out. It reads what was published, then writes the
# site's record afresh: whatever the site published meanwhile must not be lost.


def test_an_announcement_published_while_the_site_is_rebuilt_stays_in_its_lists(
    herold: Herold, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = publish(herold, warning())
    read, late, workers = herold.store.archive.published, [], []

    def reading_while_a_warning_goes_out(*args: Any) -> Any:
        found = read(*args)
        # Meanwhile a new warning comes in; its page may wait for the rebuild, never be lost to it.
        worker = threading.Thread(target=lambda: late.append(publish(herold, warning(headline="Straßensperrung"))))
        worker.start()
        worker.join(timeout=2)
        workers.append(worker)
        return found

    monkeypatch.setattr(herold.store.archive, "published", reading_while_a_warning_goes_out)
    tasks.rebuild(herold.engine, SLUG)
    workers[0].join(timeout=30)

    assert late, "the new warning was not published"
    expected = {path_of(herold, first), path_of(herold, late[0])}
    assert eventually(lambda: set(current_warnings(site_of(herold))) == expected)


def test_a_copy_reported_while_the_site_is_rebuilt_is_on_its_page_afterwards(
    make_settings: SettingsFactory, make_herold: HeroldFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = threading.Event()

    class Held(Social):
        """Posts when the test lets it: while the rebuild has read and not yet written."""

        type = "test-social-held"

        def publish(self, post: Post) -> Receipt:
            out.wait(10)
            return super().publish(post)

    register(Held)
    try:
        herold = make_herold(make_settings(authorities=[with_social(Held.type)]))
        announcement_id = accept(herold.engine, warning(), source="test", actor="tester")

        def state(channel: str) -> OperationState | None:
            operation = herold.store.operations.copy_on(announcement_id, channel)
            return operation.state if operation else None

        assert eventually(lambda: state("website") is OperationState.succeeded)
        read = herold.store.archive.published

        def reading_while_the_copy_is_made(*args: Any) -> Any:
            found = read(*args)
            out.set()
            assert eventually(lambda: state("social") is OperationState.succeeded, timeout=10)
            return found

        monkeypatch.setattr(herold.store.archive, "published", reading_while_the_copy_is_made)
        tasks.rebuild(herold.engine, SLUG)

        page_file = site_of(herold) / path_of(herold, announcement_id) / "index.html"
        assert eventually(lambda: "https://social.example/@lkb/1" in page_file.read_text(encoding="utf-8"))
    finally:
        out.set()
        unregister(Held.type)


def test_a_rebuild_before_the_site_s_success_is_recorded_keeps_what_it_published(
    herold: Herold, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = publish(herold, warning())
    complete = herold.store.operations.complete
    rebuilt: list[dict[str, int]] = []

    def rebuilding_first(claimed: Any, *args: Any, **kwargs: Any) -> Any:
        # The site has published the page; its success is about to be recorded.
        if claimed.channel == "website" and claimed.announcement_id != first and not rebuilt:
            rebuilt.append(tasks.rebuild(herold.engine, SLUG))
        return complete(claimed, *args, **kwargs)

    monkeypatch.setattr(herold.store.operations, "complete", rebuilding_first)
    second = publish(herold, warning(headline="Straßensperrung"))

    assert rebuilt, "no rebuild ran between the site's publication and its recorded success"
    expected = {path_of(herold, first), path_of(herold, second)}
    assert eventually(lambda: set(current_warnings(site_of(herold))) == expected)


def test_an_image_is_shown_from_a_copy_next_to_the_page_with_its_alt_text(herold: Herold) -> None:
    alt = "Karte: Sperrgebiet rund um die Marktstraße"
    alert = publish(herold, warning(media=[{"data": png(), "alt": alt}]))
    folder = site_of(herold) / path_of(herold, alert)

    images = parse(folder / "index.html").find_all("img")

    assert [img["alt"] for img in images] == [alt]
    source = str(images[0]["src"])
    assert _is_relative(source)
    assert "/" not in source
    assert (folder / source).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("languages", "lang", "impressum", "skip"),
    [
        (["de", "en"], "de", "Impressum", "Zum Inhalt springen"),
        (["en", "de"], "en", "Legal notice", "Skip to content"),
    ],
)
def test_pages_speak_the_authority_s_language(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    languages: list[str],
    lang: str,
    impressum: str,
    skip: str,
) -> None:
    herold = make_herold(make_settings(authorities=[{**copy.deepcopy(AUTHORITY), "languages": languages}]))
    alert = publish(herold, warning())

    for page in (item_page(herold, alert), parse(site_of(herold) / "index.html")):
        html = page.find("html")
        assert isinstance(html, Tag)
        assert html["lang"] == lang
        link = page.find("a", href=IMPRESSUM)
        assert isinstance(link, Tag)
        assert link.get_text(strip=True) == impressum
        assert page.find("a", href="#main", string=skip)


def test_an_item_is_marked_with_its_own_language_and_its_translations_with_theirs(herold: Herold) -> None:
    english = publish(
        herold,
        warning(
            language="en",
            headline="Aerial bomb in the old town",
            description="An aerial bomb was found during construction work.",
            instruction="Leave the area by 10 am.",
            translations={"de": {"headline": "Fliegerbombe in der Altstadt", "instruction": "Bis 10 Uhr verlassen."}},
        ),
    )
    german = publish(
        herold,
        warning(translations={"en": {"headline": "Aerial bomb in the old town", "instruction": "Leave by 10 am."}}),
    )

    page = item_page(herold, english)
    html, article = page.find("html"), page.find("article", class_="h-entry")
    assert isinstance(html, Tag)
    assert isinstance(article, Tag)
    assert (html["lang"], article["lang"]) == ("de", "en")
    translation = page.select_one(".translations section")
    assert isinstance(translation, Tag)
    assert translation["lang"] == "de"

    translation = item_page(herold, german).select_one(".translations section")
    assert isinstance(translation, Tag)
    assert translation["lang"] == "en"
    assert "Aerial bomb in the old town" in translation.get_text()


def test_markup_in_an_announcement_is_shown_as_text_never_run(herold: Herold) -> None:
    headline = "Achtung <script>alert(1)</script> & <b>fett</b>"
    alert = publish(herold, warning(headline=headline, description='<img src="https://evil.example/x.png">'))

    page = item_page(herold, alert)

    assert page.find_all("script") == []
    assert page.find_all("img") == []
    h1 = page.find("h1")
    assert isinstance(h1, Tag)
    assert h1.get_text() == headline


# -- feeds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("feed", ["atom.xml", "rss.xml"])
def test_the_feed_is_well_formed_and_carries_the_announcement(herold: Herold, feed: str) -> None:
    announcement_id = publish(herold, warning())
    item_url = BASE_URL + path_of(herold, announcement_id)

    parsed = feedparser.parse((site_of(herold) / feed).read_bytes())

    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.link == BASE_URL, "the feed's own link must lead to the website, not to the feed"
    assert [(e.title, urldefrag(e.link).url) for e in parsed.entries] == [("Fliegerbombe in der Altstadt", item_url)]


def test_the_feeds_show_an_all_clear_as_its_own_entry_newest_first(herold: Herold) -> None:
    alert = publish(herold, warning())
    publish(herold, follow_up("cancel", alert, "Bombe entschärft", "Die Bombe wurde entschärft."))

    for feed in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse((site_of(herold) / feed).read_bytes())
        assert [e.title for e in parsed.entries] == ["Entwarnung: Bombe entschärft", "Fliegerbombe in der Altstadt"]


def test_control_characters_stored_before_they_were_refused_never_break_a_feed(herold: Herold) -> None:
    legacy = publish(herold, warning(headline="Fliegerbombe Altstadt"))
    with herold.store.engine.begin() as connection:
        document = connection.execute(select(AnnouncementRow.document).where(AnnouncementRow.id == legacy)).scalar_one()
        document = {**document, "headline": "Fliegerbombe\x1b[31m Altstadt\x00"}
        connection.execute(update(AnnouncementRow).where(AnnouncementRow.id == legacy).values(document=document))
        connection.execute(update(VariantRow).where(VariantRow.announcement_id == legacy).values(text="Text\x0c"))
    forget_cached(legacy)
    tasks.rebuild(herold.engine, SLUG)  # the site is told again what it has published, as stored

    publish(herold, news())

    for feed in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse((site_of(herold) / feed).read_bytes())
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert [e.title for e in parsed.entries][-1] == "Fliegerbombe[31m Altstadt"
    assert "\x1b" not in (site_of(herold) / path_of(herold, legacy) / "index.html").read_text()


def validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(SCHEMA)
    return Draft202012Validator(SCHEMA, format_checker=FormatChecker())


def test_the_json_feed_is_valid_json_feed_1_1(herold: Herold) -> None:
    announcement_id = publish(herold, warning())
    item_url = BASE_URL + path_of(herold, announcement_id)

    document = json.loads((site_of(herold) / "feed.json").read_text(encoding="utf-8"))

    assert [error.message for error in validator().iter_errors(document)] == []
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["home_page_url"] == BASE_URL
    assert document["feed_url"] == BASE_URL + "feed.json"
    assert [(i["title"], urldefrag(i["url"]).url) for i in document["items"]] == [
        ("Fliegerbombe in der Altstadt", item_url)
    ]


SPEC_EXAMPLE: dict[str, Any] = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "My Example Feed",
    "home_page_url": "https://example.org/",
    "feed_url": "https://example.org/feed.json",
    "items": [
        {"id": "2", "content_text": "This is a second item.", "url": "https://example.org/second-item"},
        {"id": "1", "content_html": "<p>Hello, world!</p>", "url": "https://example.org/initial-post"},
    ],
}


def _changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(SPEC_EXAMPLE)
    change(document)
    return document


@pytest.mark.parametrize(
    ("case", "document"),
    [
        ("no version", _changed(lambda d: d.pop("version"))),
        ("version 1.0 URL", _changed(lambda d: d.update(version="https://jsonfeed.org/version/1"))),
        ("no title", _changed(lambda d: d.pop("title"))),
        ("no items", _changed(lambda d: d.pop("items"))),
        ("item without id", _changed(lambda d: d["items"][0].pop("id"))),
        ("item without content", _changed(lambda d: d["items"][0].pop("content_text"))),
        ("relative item url", _changed(lambda d: d["items"][0].update(url="/second-item"))),
        ("date without offset", _changed(lambda d: d["items"][0].update(date_published="2026-11-20T10:00:00"))),
        ("date in another form", _changed(lambda d: d["items"][0].update(date_published="20.11.2026 10:00"))),
        ("empty author", _changed(lambda d: d.update(authors=[{}]))),
        ("tags not strings", _changed(lambda d: d["items"][0].update(tags=[1]))),
        ("attachment without type", _changed(lambda d: d["items"][0].update(attachments=[{"url": "https://e.x/a"}]))),
        ("unknown key", _changed(lambda d: d.update(homepage_url="https://example.org/"))),
        ("extension without underscore-letter", _changed(lambda d: d.update(_1x={}))),
        ("bad language tag", _changed(lambda d: d.update(language="deutsch sprache"))),
    ],
)
def test_the_json_feed_schema_rejects_what_the_specification_forbids(case: str, document: dict[str, Any]) -> None:
    assert list(validator().iter_errors(document)), f"{case} was accepted"


def test_the_json_feed_schema_accepts_the_specification_s_own_examples() -> None:
    full = _changed(
        lambda d: d.update(
            authors=[{"name": "Landkreis Beispiel", "url": "mailto:presse@lk-beispiel.de"}],
            language="de-DE",
            expired=False,
            hubs=[{"type": "WebSub", "url": "https://hub.example/"}],
            _blue_shed={"about": "https://blueshed-podcasts.com/json-feed-extension-docs", "explicit": False},
        )
    )
    full["items"][0].update(
        date_published="2010-02-07T14:04:00-05:00",
        tags=["a", "b"],
        attachments=[{"url": "https://example.org/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1024}],
    )

    for document in (SPEC_EXAMPLE, full):
        assert [error.message for error in validator().iter_errors(document)] == []


# -- several workers at once -------------------------------------------------------------------------


def test_two_warnings_published_at_the_same_time_are_both_listed(
    make_herold: HeroldFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = ByHand()
    herold = make_herold(runner=runner)
    first = accept(herold.engine, warning(headline="Hochwasser an der Mulde"), source="test", actor="tester")
    second = accept(herold.engine, warning(headline="Gasaustritt in der Bahnhofstraße"), source="test", actor="tester")
    for announcement_id in (first, second):
        tasks.advance(herold.engine, announcement_id)
    first_delivery = herold.store.operations.of(first, publishing=True)[0].id
    second_delivery = herold.store.operations.of(second, publishing=True)[0].id

    # Worker A has written the first page but not yet recorded its success when worker B publishes.
    site = herold.site(SLUG)
    page_written, second_done = threading.Event(), threading.Event()
    publish_now = site.publish

    def publish_and_pause_after_the_first(publication: Publication) -> Receipt:
        receipt = publish_now(publication)
        if publication.entry.id == first:
            page_written.set()
            second_done.wait(timeout=20)
        return receipt

    monkeypatch.setattr(site, "publish", publish_and_pause_after_the_first)
    worker = threading.Thread(target=tasks.deliver, args=(herold.engine, first_delivery))
    worker.start()
    assert page_written.wait(timeout=20)
    tasks.deliver(herold.engine, second_delivery)
    second_done.set()
    worker.join(timeout=20)
    runner.drain(herold)

    states = {d.state for id_ in (first, second) for d in herold.store.operations.of(id_, publishing=True)}
    assert states == {OperationState.succeeded}
    assert sorted(current_warnings(site_of(herold))) == sorted([path_of(herold, first), path_of(herold, second)])
    listed = {urldefrag(i["url"]).url for i in json.loads((site_of(herold) / "feed.json").read_text())["items"]}
    assert listed == {BASE_URL + path_of(herold, first), BASE_URL + path_of(herold, second)}


def test_when_a_warning_expires_its_page_and_the_index_say_so_without_a_new_announcement(
    make_herold: HeroldFactory,
) -> None:
    clock = Clock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    herold = make_herold(clock=clock)
    alert = publish(herold, warning(expires="2026-11-20T12:00:00+00:00"))
    clock.set(datetime(2026, 11, 20, 13, 0, tzinfo=UTC))
    assert eventually(lambda: current_warnings(site_of(herold)) == [])
    notice = item_page(herold, alert).find(class_="notice")
    assert notice is not None and "Diese Warnung ist abgelaufen." in notice.get_text()


def test_a_refresh_writes_the_item_as_it_is_now(herold: Herold) -> None:
    alert = publish(herold, warning())
    stored = herold.store.announcements.get(alert)
    assert stored is not None
    publish(herold, follow_up("update", alert, "Sperrgebiet erweitert", "Die Sperrung wächst."))
    tasks.refresh(herold.engine, stored.item_id)  # e.g. queued when the alert's copy appeared
    headlines = [h.get_text() for h in item_page(herold, alert).find_all(class_="p-name")]
    assert headlines == ["Sperrgebiet erweitert", "Fliegerbombe in der Altstadt"]


def test_a_website_directory_holding_herolds_own_data_is_refused(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"] = [{"id": "website", "type": "website", "directory": ".."}]  # the data_dir's parent
    herold = make_herold(make_settings(authorities=[authority]))
    [problem] = herold.site(SLUG).check()
    assert "the database would be published" in problem
    announcement_id = accept(herold.engine, warning(), source="test", actor="t")
    [website] = wait_until_settled(herold.engine, announcement_id, 20)
    assert website.state is OperationState.failed
    assert "the database would be published" in (website.last_error or "")
    assert not (Path(herold.settings.herold.data_dir).parent / "index.html").exists()


# -- lists in a burst ------------------------------------------------------------------------------


def _site_every(make_settings: SettingsFactory, seconds: float) -> Settings:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"] = [{"id": "website", "type": "website", "lists_every_seconds": seconds}]
    return make_settings(authorities=[authority])


def _feed_urls(herold: Herold) -> set[str]:
    try:
        feed = json.loads((site_of(herold) / "feed.json").read_text())
    except FileNotFoundError:
        return set()
    return {urldefrag(i["url"]).url for i in feed["items"]}


def test_after_a_quiet_time_the_lists_show_a_new_item_at_once(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = make_herold(_site_every(make_settings, 30))
    alert = publish(herold, warning())
    # No rewrite of the lists in the last 30 s: this one is not held back.
    assert current_warnings(site_of(herold)) == [path_of(herold, alert)]
    assert _feed_urls(herold) == {BASE_URL + path_of(herold, alert)}


def test_in_a_burst_the_lists_are_rewritten_far_less_often_than_items_arrive_yet_show_them_all(
    make_settings: SettingsFactory, make_herold: HeroldFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    rewrites = []
    write_lists = website.Site._write_lists

    def counted(self: website.Site, *args: Any, **kwargs: Any) -> int:
        rewrites.append(time.monotonic())
        return write_lists(self, *args, **kwargs)

    monkeypatch.setattr(website.Site, "_write_lists", counted)
    herold = make_herold(_site_every(make_settings, 1.0))
    ids = [accept(herold.engine, warning(headline=f"Unwetter Nummer {n}"), source="test", actor="t") for n in range(20)]
    for announcement_id in ids:
        assert all(d.state is OperationState.succeeded for d in wait_until_settled(herold.engine, announcement_id, 20))

    # Every page is there as soon as its delivery succeeded; the lists follow within the interval.
    pages = {BASE_URL + path_of(herold, i) for i in ids}
    assert all((site_of(herold) / path_of(herold, i) / "index.html").exists() for i in ids)
    assert eventually(lambda: _feed_urls(herold) == pages, timeout=5)
    assert sorted(current_warnings(site_of(herold))) == sorted(path_of(herold, i) for i in ids)
    assert len(rewrites) < 10, f"{len(rewrites)} rewrites of the lists for 20 items"
    gaps = [later - earlier for earlier, later in itertools.pairwise(rewrites)]
    assert all(gap >= 0.9 for gap in gaps), gaps


def test_a_rewrite_held_back_is_done_when_herold_stops(make_settings: SettingsFactory) -> None:
    # `herold publish --wait` without a server: the process ends right after the deliveries.
    herold = Herold(_site_every(make_settings, 60))
    herold.start()
    try:
        first = publish(herold, warning(headline="Erste Warnung"))
        second = publish(herold, warning(headline="Zweite Warnung"))
        assert current_warnings(site_of(herold)) == [path_of(herold, first)]  # held back for 60 s
    finally:
        herold.stop()
    assert sorted(current_warnings(site_of(herold))) == sorted([path_of(herold, first), path_of(herold, second)])


def test_a_rewrite_held_back_by_a_process_that_died_is_done_by_the_sweep(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    settings = _site_every(make_settings, 0.5)
    herold = make_herold(settings)
    first = publish(herold, warning(headline="Erste Warnung"))
    second = publish(herold, warning(headline="Zweite Warnung"))
    website = herold.site(SLUG)
    assert website._timer is not None
    website._timer.cancel()  # as if the process had been killed before its rewrite
    assert current_warnings(site_of(herold)) == [path_of(herold, first)]

    # Another process's sweep (here: a second Herold on the same data) finds the rewrite overdue.
    other = make_herold(settings)
    assert eventually(lambda: len(current_warnings(site_of(other))) == 2, timeout=5)
    assert path_of(herold, second) in current_warnings(site_of(other))


class OtherSocial(Social):
    type = "test-social-2"
    label = "Anders.example"

    def publish(self, post: Post) -> Receipt:
        return Receipt(platform_id="2", url="https://anders.example/lkb/2")


def test_copies_that_appear_together_are_added_to_the_page_by_one_rewrite(
    social_channel: type[Channel],
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register(OtherSocial)
    try:
        written: list[str] = []
        write_item, write_copies = website.Site._write_item, website.Site._write_copies

        def counted(self: website.Site, item: Any) -> int:
            written.append(item.id)
            return write_item(self, item)

        def counted_copies(self: website.Site, item: Any) -> int:
            written.append(item.id)
            return write_copies(self, item)

        monkeypatch.setattr(website.Site, "_write_item", counted)
        monkeypatch.setattr(website.Site, "_write_copies", counted_copies)
        authority = copy.deepcopy(AUTHORITY)
        authority["channels"] = [
            {"id": "website", "type": "website", "lists_every_seconds": 1.0},
            {"id": "social", "type": Social.type},
            {"id": "anders", "type": OtherSocial.type},
        ]
        herold = make_herold(make_settings(authorities=[authority]))
        announcement_id = publish(herold, warning())
        page_file = site_of(herold) / path_of(herold, announcement_id) / "index.html"

        copies = {"https://social.example/@lkb/1", "https://anders.example/lkb/2"}
        assert eventually(lambda: all(url in page_file.read_text(encoding="utf-8") for url in copies), timeout=5)
        found = entries(page_file.read_text(encoding="utf-8"), BASE_URL + path_of(herold, announcement_id))
        assert set(found[0]["properties"]["syndication"]) == copies
        assert len(written) == 2, "the page is written once when published and once for both copies"
    finally:
        unregister(OtherSocial.type)


def test_a_clock_stepped_back_holds_the_lists_back_no_longer_than_the_interval(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = make_herold(_site_every(make_settings, 0.5))
    publish(herold, warning(headline="Erste Warnung"))
    state = Path(herold.settings.herold.data_dir) / "state" / f"{SLUG}-website" / "built"
    an_hour_ahead = time.time() + 3600  # as if the last rewrite happened before the clock went back an hour
    os.utime(state, (an_hour_ahead, an_hour_ahead))
    second = publish(herold, warning(headline="Zweite Warnung"))
    assert eventually(lambda: path_of(herold, second) in current_warnings(site_of(herold)), timeout=3)


# -- reading it in a crisis -------------------------------------------------------------------------


def test_a_text_wrapped_by_its_editor_reads_as_sentences_and_lists_keep_their_lines(herold: Herold) -> None:
    # A YAML `|` block keeps the writer's line breaks; they are not where sentences end.
    description = "Die Bombe liegt\nam Marktplatz.\n\nBitte beachten Sie:\n- Fenster schließen\n- drinnen bleiben"
    page = item_page(herold, publish(herold, warning(description=description)))

    paragraphs = [p.get_text() for p in page.select("section.description p")]
    assert paragraphs == [
        "Die Bombe liegt am Marktplatz.",
        "Bitte beachten Sie:\n- Fenster schließen\n- drinnen bleiben",
    ]


def test_news_is_not_headed_with_the_crisis_word_lage(herold: Herold) -> None:
    headings = [
        item_page(herold, publish(herold, document)).select("section.description h2")[0].get_text()
        for document in (news(), warning())
    ]
    assert headings == ["Einzelheiten", "Lage"]


def test_archive_months_are_named_as_people_say_them(herold: Herold) -> None:
    publish(herold, warning())
    archive = parse(site_of(herold) / "archive" / "index.html")

    month = herold.clock().astimezone(ZoneInfo("Europe/Berlin"))
    german = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
              "November", "Dezember"][month.month - 1]  # fmt: skip
    assert [a.get_text() for a in archive.select("ul.months a")] == [f"{german} {month.year}"]


def test_every_page_links_the_accessibility_statement_made_from_the_configuration(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = {**copy.deepcopy(AUTHORITY), "accessibility": {
        "contact": "barrierefrei@lk-beispiel.de", "known_barriers": ["Karten als Bild ohne Textalternative"],
        "enforcement_name": "Landesbeauftragte für Menschen mit Behinderungen",
        "enforcement_url": "https://www.lbb.example.de/schlichtung", "reviewed": "2026-11-30",
    }}  # fmt: skip
    herold = make_herold(make_settings(authorities=[authority]))
    announcement_id = publish(herold, warning())

    for page in (site_of(herold) / "index.html", site_of(herold) / path_of(herold, announcement_id) / "index.html"):
        link = parse(page).find("a", string="Barrierefreiheit")
        assert isinstance(link, Tag), page
        assert (page.parent / str(link["href"]) / "index.html").resolve() == (
            site_of(herold) / "barrierefreiheit" / "index.html"
        ).resolve()
    statement = parse(site_of(herold) / "barrierefreiheit" / "index.html")
    text = statement.get_text(" ", strip=True)
    assert "Erklärung zur Barrierefreiheit" in text and "Landkreis Beispiel" in text
    assert "teilweise vereinbar" in text and "Karten als Bild ohne Textalternative" in text
    assert statement.find("a", href="mailto:barrierefrei@lk-beispiel.de") is not None
    assert statement.find("a", href="https://www.lbb.example.de/schlichtung") is not None
    assert "30.12.2026" not in text and "30.11.2026" in text


def test_without_settings_the_statement_names_the_impressum_and_the_federal_conciliation_body(herold: Herold) -> None:
    publish(herold, news())
    statement = parse(site_of(herold) / "barrierefreiheit" / "index.html")
    assert statement.find("a", href=AUTHORITY["impressum_url"]) is not None
    assert statement.find("a", href="https://www.schlichtungsstelle-bgg.de/") is not None


def test_the_feeds_carry_the_contact_and_the_severity_of_a_warning_in_force_and_the_json_feed_its_image(
    herold: Herold,
) -> None:
    alert = publish(herold, warning(severity="extreme", contact="Bürgertelefon 0800 1234567",
                                    media=[{"data": png(), "alt": "Karte des Sperrgebiets"}]))  # fmt: skip
    path = path_of(herold, alert)
    image = next(p for p in (site_of(herold) / path).iterdir() if p.suffix == ".png")

    items = json.loads((site_of(herold) / "feed.json").read_text(encoding="utf-8"))["items"]
    [item] = [i for i in items if i["id"] == f"urn:uuid:{alert}"]
    assert item["image"] == f"{BASE_URL}{path}{image.name}"
    assert "severity:extreme" in item["tags"]
    assert "Kontakt: Bürgertelefon 0800 1234567" in item["content_text"]
    atom = feedparser.parse(site_of(herold) / "atom.xml").entries[0]
    assert "severity:extreme" in [tag.term for tag in atom.tags]
    assert "Kontakt: Bürgertelefon 0800 1234567" in atom.summary
    assert validator().is_valid(json.loads((site_of(herold) / "feed.json").read_text(encoding="utf-8")))


def test_the_authority_s_accent_colour_and_main_website_mark_every_page(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = {**copy.deepcopy(AUTHORITY), "accent_colour": "#7a1f5c", "website_url": "https://www.lk-beispiel.de/"}
    herold = make_herold(make_settings(authorities=[authority]))
    announcement_id = publish(herold, warning())

    assert "--link: #7a1f5c" in (site_of(herold) / "style.css").read_text(encoding="utf-8")
    for page in (parse(site_of(herold) / "index.html"), item_page(herold, announcement_id)):
        link = page.select_one("header.site a[href='https://www.lk-beispiel.de/']")
        assert link is not None and link.get_text() == "Zur Website: Landkreis Beispiel"
