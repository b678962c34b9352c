"""The press office and the public site in a real browser: Playwright driving Debian's Chromium
(``/usr/bin/chromium``, installed by ``make test``; never a downloaded browser).

The whole path a press officer takes at 3 a.m.: sign in, start from "Bombenentschärfung", fill in,
see every channel's preview with its count, publish, watch the website and Mastodon (a fake
server) succeed on the status board, see the warning box on the public index, give the all-clear
from the board and see it on the index. Once with JavaScript, once without, once by keyboard
alone; the four-eyes flow for news; and what must be refused. axe-core checks every page against
WCAG 2.1 AA. Screenshots go to tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from publisher.domain.records import Role
from publisher.edges.config import settings_from
from publisher.edges.web import create_app
from publisher.edges.wiring import Herold

from conftest import AUTHORITY
from fakes.mastodon_server import FakeMastodon
from services import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "Rathaus-Leitstelle-2026"
OTHER = "stadt-nachbar"
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
              "resultTypes": ["violations"]}  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)"),
]

sync_api = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")


@dataclass
class Served:
    url: str
    herold: Herold
    mastodon: FakeMastodon

    @property
    def index(self) -> str:
        return f"{self.url}/warnungen/"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Herold on a port of its own, with a website and a Mastodon account on a fake server."""
    base = tmp_path_factory.mktemp("browser")
    with FakeMastodon(tokens={"herold-token": "lkbeispiel"}) as mastodon:
        authority = copy.deepcopy(AUTHORITY)
        authority["channels"].append(
            {"id": "mastodon", "type": "mastodon", "instance": mastodon.url, "access_token_env": "MASTODON_TOKEN"}
        )
        authority["channels"].append({"id": "whatsapp", "type": "manual"})  # a WhatsApp Channel, by hand
        neighbour = {**copy.deepcopy(AUTHORITY), "slug": OTHER, "name": "Stadt Nachbar",
                     "base_url": "https://www.stadt-nachbar.de/meldungen/"}  # fmt: skip
        raw = {
            "herold": {"data_dir": str(base / "var"), "grace_warning_seconds": 0.2, "grace_news_seconds": 0.2},
            "authorities": [authority, neighbour],
        }
        herold = Herold(settings_from(raw, {"MASTODON_TOKEN": "herold-token"}, base=base))
        herold.start()
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(herold, start=False), port=port, log_config=None, lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        now = herold.clock()
        for name, role, alert, slug in (
            ("anna", Role.approver, True, AUTHORITY["slug"]),  # press officer on duty: may alert at once
            ("carl", Role.approver, False, AUTHORITY["slug"]),
            ("emil", Role.editor, False, AUTHORITY["slug"]),
            ("kira", Role.editor, False, AUTHORITY["slug"]),  # locked out below
            ("nora", Role.admin, True, OTHER),
            ("otto", Role.editor, False, OTHER),
        ):
            herold.store.users.add(name, slug, role, PASSWORD, now, alert=alert)
        try:
            yield Served(f"http://127.0.0.1:{port}", herold, mastodon)
        finally:
            server.should_exit = True
            thread.join(10)
            herold.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # This machine's network is closed: no background connections, no update checks.
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def sign_in(page: Any, served: Served, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{served.url}/app/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def accessible(page: Any, what: str) -> None:
    """axe-core finds no WCAG 2.1 AA violation on the page as it is now."""
    results = axe_module.Axe().run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def fill_bomb_warning(page: Any, headline: str) -> None:
    page.fill("#f-headline", headline)
    page.fill("#f-description", "Bei Bauarbeiten an der Schulstraße wurde eine Fliegerbombe gefunden.")
    page.fill("#f-instruction", "Verlassen Sie den Sperrbereich bis 14 Uhr.")
    page.fill("#f-area-description", "Umkreis von 500 m um die Schulstraße")
    page.fill("#f-contact", "")


def until(check: Any, page: Any, timeout: float = 30) -> None:
    """Reload until ``check()`` holds: the status board is plain HTML and does not poll."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, page.content()[:3000]
        time.sleep(0.3)
        page.reload()


def delivery_state(page: Any, channel: str) -> str:
    row = page.locator("table.deliveries tr", has=page.locator(f"th:text-is('{channel}')")).first
    return str(row.get_attribute("class") or "")


def item_path(page: Any) -> str:
    found = re.search(r"/app/items/[0-9a-f-]{36}", page.url)
    assert found, page.url
    return found.group(0)


# -- the whole path ---------------------------------------------------------------------------------------


def test_a_bomb_warning_from_sign_in_to_all_clear(page: Any, served: Served) -> None:
    sign_in(page, served, "anna")
    page.get_by_role("link", name="Neue Mitteilung").first.click()
    page.get_by_role("button", name=re.compile("Bombenentschärfung")).click()
    shot(page, "form")
    fill_bomb_warning(page, "Bombenentschärfung in Musterstadt: Evakuierung bis 14 Uhr")
    # The preview follows what is typed (app.js): every channel, counted as its platform counts.
    preview = page.locator("#preview")
    preview.locator("text=Bombenentschärfung in Musterstadt").first.wait_for()
    assert preview.locator(".variant").count() == 3  # website, Mastodon, WhatsApp
    assert re.search(r"\d+ / 500", preview.inner_text()), "Mastodon's count against its limit"
    shot(page, "preview")
    page.get_by_role("button", name="Jetzt veröffentlichen").click()
    item_path(page)  # the item page, where the deliveries are shown
    until(lambda: "state-succeeded" in delivery_state(page, "website")
          and "state-succeeded" in delivery_state(page, "mastodon"), page)  # fmt: skip
    assert len(served.mastodon.statuses) == 1
    page.goto(f"{served.url}/app/")
    assert "Bombenentschärfung in Musterstadt" in page.locator("#h-current + ul").inner_text()
    shot(page, "status-board")

    page.goto(served.index)
    box = page.locator(".warning-box, .current-warning, [class*=warning]").filter(has_text="Musterstadt").first
    box.wait_for()
    assert "Große Gefahr" in page.content()  # the severity in words, not colour alone
    shot(page, "public-index-warning")

    page.goto(f"{served.url}/app/")  # the all-clear from the status board
    page.locator("li.item", has_text="Bombenentschärfung in Musterstadt").get_by_role(
        "button", name="Entwarnung"
    ).click()
    page.fill("#f-headline", "Entwarnung: Bombe in Musterstadt entschärft")
    page.fill("#f-description", "Die Bombe ist entschärft. Alle dürfen in ihre Wohnungen zurück.")
    page.get_by_role("button", name="Jetzt veröffentlichen").click()
    until(lambda: "state-succeeded" in delivery_state(page, "website"), page)
    page.goto(served.index)
    assert "Entwarnung: Bombe in Musterstadt entschärft" in page.content()
    shot(page, "public-index-all-clear")


def test_a_whatsapp_hand_off_from_the_board_to_the_copy_on_the_public_page(page: Any, served: Served) -> None:
    # WhatsApp Channels have no posting API: the press officer gets the text and the alert card,
    # posts them in the app, and confirms with the post's address.
    sign_in(page, served, "anna")
    page.goto(f"{served.url}/app/new")
    page.get_by_role("button", name=re.compile("Bombenentschärfung")).click()
    fill_bomb_warning(page, "Bombenfund am Hafen: Sperrbereich bis 16 Uhr")
    page.get_by_role("button", name="Jetzt veröffentlichen").click()
    item = item_path(page)
    until(lambda: "state-manual" in delivery_state(page, "whatsapp"), page)
    hand_off = page.locator("td", has=page.locator("pre.text")).first
    assert "Bombenfund am Hafen" in hand_off.locator("pre.text").inner_text()
    card = hand_off.locator("figure.hand-off img").first
    card.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", card.element_handle()) == 1080, (
        "the alert card loads, as the site published it"
    )
    accessible(page, "the item page with a hand-off waiting")
    shot(page, "whatsapp-hand-off")
    page.fill("#url-whatsapp", "https://whatsapp.com/channel/0029VaLkBeispiel/77")
    page.locator("form[action$='/channels/whatsapp/confirm'] button[type=submit]").click()
    until(lambda: "state-succeeded" in delivery_state(page, "whatsapp"), page)
    stored = served.herold.store.announcements.get(item.rsplit("/", 1)[-1])
    assert stored is not None
    public = served.herold.sites(stored.authority)[0].directory / stored.item_path / "index.html"
    until(lambda: "https://whatsapp.com/channel/0029VaLkBeispiel/77" in public.read_text(), page)


def test_the_same_publish_flow_works_without_javascript(browser: Any, served: Served) -> None:
    context = browser.new_context(locale="de-DE", java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, served, "anna")
        page.goto(f"{served.url}/app/new")
        page.get_by_role("button", name=re.compile("Unwetter")).click()
        page.fill("#f-headline", "Unwetterwarnung ohne Skript: Orkanböen bis 22 Uhr")
        page.get_by_role("button", name="Vorschau anzeigen").click()
        assert "Unwetterwarnung ohne Skript" in page.locator("#preview").inner_text()
        page.get_by_role("button", name="Jetzt veröffentlichen").click()
        until(lambda: "state-succeeded" in delivery_state(page, "website"), page)
    finally:
        context.close()


def test_news_needs_a_second_person(page: Any, served: Served) -> None:
    sign_in(page, served, "emil")
    page.goto(f"{served.url}/app/new")
    page.get_by_role("button", name=re.compile("Öffnungszeiten")).click()
    page.fill("#f-headline", "Bürgerbüro: neue Öffnungszeiten ab Montag")
    assert page.get_by_role("button", name="Jetzt veröffentlichen").count() == 0
    page.get_by_role("button", name="Zur Freigabe einreichen").first.click()
    item = item_path(page)
    assert page.get_by_role("button", name="Freigeben und veröffentlichen").count() == 0  # not their own
    page.context.clear_cookies()
    sign_in(page, served, "carl")
    page.goto(f"{served.url}{item}")
    page.get_by_role("button", name="Freigeben und veröffentlichen").click()
    until(lambda: "state-succeeded" in delivery_state(page, "website"), page)


def test_the_publish_flow_by_keyboard_alone(page: Any, served: Served) -> None:
    def tab_to(name: str, limit: int = 80) -> None:
        """Press Tab until the element with this id, or this exact text, has the focus."""
        seen = []
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate("() => [document.activeElement.id, (document.activeElement.innerText || '').trim()]"
                                    )  # fmt: skip
            if name in focused:
                return
            seen.append(focused)
        raise AssertionError(f"never reached {name!r} with Tab; passed {seen}")

    page.goto(f"{served.url}/app/login")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'username'")
    page.keyboard.type("anna")  # the user name field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/app/$"))
    tab_to("Neue Mitteilung")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/app/new$"))
    tab_to("Brand / Rauchentwicklung")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/app/drafts/"))
    tab_to("f-headline")
    page.keyboard.press("Control+A")
    page.keyboard.type("Großbrand in Beispielheim: Fenster und Türen schließen")
    tab_to("Jetzt veröffentlichen")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/app/items/"))
    until(lambda: "state-succeeded" in delivery_state(page, "website"), page)


# -- what is refused ---------------------------------------------------------------------------------------


def test_a_wrong_password_and_then_the_lock_out(page: Any, served: Served) -> None:
    sign_in(page, served, "kira", "falsch")
    assert page.get_by_role("alert").inner_text().startswith("Benutzername oder Passwort")
    for _ in range(4):
        sign_in(page, served, "kira", "falsch")
    sign_in(page, served, "kira")
    assert "15 Minuten" in page.get_by_role("alert").inner_text()
    assert "/app/login" in page.url


def test_a_post_without_csrf_token_is_refused(page: Any, served: Served) -> None:
    sign_in(page, served, "anna")
    answer = page.request.post(f"{served.url}/app/new", form={"template": "bombe"})
    assert answer.status == 403


def test_another_authoritys_item_is_not_found(page: Any, served: Served) -> None:
    sign_in(page, served, "anna")
    page.goto(f"{served.url}/app/new")
    page.get_by_role("button", name=re.compile("Allgemeine Meldung")).click()
    page.get_by_role("button", name="Zur Freigabe einreichen").first.click()
    item = item_path(page)
    page.context.clear_cookies()
    sign_in(page, served, "otto")  # an editor of the neighbouring authority
    assert page.goto(f"{served.url}{item}").status == 404
    answer = page.request.post(f"{served.url}{item}/follow-up", form={"as": "error"})
    assert answer.status in {403, 404}


# -- accessibility -----------------------------------------------------------------------------------------


def test_every_page_passes_axe_for_wcag_2_1_aa(browser: Any, served: Served) -> None:
    context = browser.new_context(locale="de-DE", bypass_csp=True)  # axe is injected as a script
    page = context.new_page()
    try:
        page.goto(f"{served.url}/app/login")
        accessible(page, "sign-in")
        sign_in(page, served, "anna")
        accessible(page, "status board")
        page.goto(f"{served.url}/app/new")
        accessible(page, "template chooser")
        page.get_by_role("button", name=re.compile("Allgemeine Meldung")).click()
        for name in ("#f-headline", "#f-description"):
            page.fill(name, "")
        accessible(page, "empty form")
        page.get_by_role("button", name="Zur Freigabe einreichen").first.click()
        page.locator("#problems").wait_for()
        accessible(page, "form with errors")
        shot(page, "form-with-errors")
        page.fill("#f-headline", "Neue Sprechzeiten im Bürgerbüro")
        page.fill("#f-description", "Ab Montag ist das Bürgerbüro auch samstags geöffnet.")
        page.get_by_role("button", name="Vorschau anzeigen").click()
        page.locator(".variant").first.wait_for()
        accessible(page, "preview")
        page.get_by_role("button", name="Zur Freigabe einreichen").first.click()
        item = item_path(page)
        accessible(page, "item")
        page.goto(f"{served.url}{item}/audit")
        accessible(page, "audit view of an item")
        page.goto(f"{served.url}/app/audit")
        accessible(page, "audit view")
        for path, what in (("", "public index"), ("archive/", "public archive"),
                           ("barrierefreiheit/", "accessibility statement")):  # fmt: skip
            page.goto(served.index + path)
            accessible(page, what)
        page.goto(served.index)
        page.locator("main li.item a").first.click()  # an item's own page
        accessible(page, "public item")
        context.clear_cookies()
        sign_in(page, served, "nora")
        page.goto(f"{served.url}/app/users")
        accessible(page, "people (admin)")
    finally:
        context.close()
