"""The press office's web app under /app/: sign-in, the form with its preview, approval, the
status board and the audit view, as a person uses them through the browser (here: plain HTTP,
no JavaScript; tests/test_app_browser.py drives a real Chromium).

A person signs in with a name and a password; every form carries a CSRF token; five wrong
passwords lock the account for 15 minutes. Editors write, approvers approve what others wrote
(four-eyes), and a warning may go out at once from someone with the alert right. Nobody sees
another authority's items.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from publisher.domain.records import Role, Stage
from publisher.edges.app.i18n import LOCALE, translations
from publisher.edges.web import create_app
from publisher.edges.wiring import Herold
from publisher.engine.tasks import wait_until_settled
from publisher.sources.intake import accept

from conftest import AUTHORITY, NEIGHBOUR, HeroldFactory, SettingsFactory, warning
from fakes.channels import undeletable

SLUG = AUTHORITY["slug"]
PASSWORD = "Rathaus-Leitstelle-2026"
OTHER = NEIGHBOUR


# A Mastodon account whose server is never asked here (a closed port): previews use the limits
# Herold caches, and these tests publish to the website only.
MASTODON = {"id": "mastodon", "type": "mastodon", "instance": "http://127.0.0.1:9", "access_token_env": "TOKEN"}


@pytest.fixture
def herold(make_herold: HeroldFactory, make_settings: SettingsFactory) -> Herold:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append(MASTODON)
    settings = make_settings(authorities=[authority, copy.deepcopy(OTHER)], env={"TOKEN": "not-a-real-token"})
    return make_herold(settings)


@pytest.fixture
def client(herold: Herold) -> Iterator[TestClient]:
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False,
                    base_url="http://testserver") as client:  # fmt: skip
        yield client


def person(herold: Herold, username: str, role: Role = Role.approver, *, alert: bool = False,
           authority: str = SLUG) -> str:  # fmt: skip
    herold.store.users.add(username, authority, role, PASSWORD, herold.clock(), alert=alert)
    return username


def csrf_of(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/app/login")
    return client.post("/app/login", data={"username": username, "password": password, "csrf": csrf_of(page)},
                       follow_redirects=False)  # fmt: skip


def signed_in(client: TestClient, herold: Herold, username: str, role: Role = Role.approver, *,
              alert: bool = False, authority: str = SLUG) -> str:  # fmt: skip
    """A signed-in person (added first if new); returns the session's CSRF token."""
    if herold.store.users.get(username) is None:
        person(herold, username, role, alert=alert, authority=authority)
    client.cookies.clear()
    assert sign_in(client, username).status_code == 303
    return csrf_of(client.get("/app/"))


def start_form(client: TestClient, csrf: str, template: str = "bombe") -> str:
    """A new form from a template; returns the draft's address."""
    started = client.post("/app/new", data={"csrf": csrf, "template": template}, follow_redirects=False)
    assert started.status_code == 303, started.text
    return str(started.headers["location"])


BOMB = {
    "headline": "Bombenentschärfung in Musterstadt: Evakuierung bis 14 Uhr",
    "description": "Bei Bauarbeiten an der Schulstraße wurde eine Fliegerbombe gefunden.\n\nSie wird heute entschärft.",
    "instruction": "Verlassen Sie den Sperrbereich bis 14 Uhr.",
    "area.description": "Umkreis von 500 m um die Schulstraße",
    "contact": "",
    "hashtags": "Bombenentschärfung",
    "channels.shown": "1",
    "channels": ["website"],
}


def fill(client: TestClient, draft: str, csrf: str, action: str, **changes: Any) -> Any:
    data = {**BOMB, **changes, "csrf": csrf, "action": action}
    return client.post(draft, data=data, follow_redirects=False)


def settle(herold: Herold) -> None:
    for listed in herold.store.announcements.listed(SLUG):
        if listed.stage == Stage.released.value:
            wait_until_settled(herold.engine, listed.id, timeout=30)


# -- signing in -----------------------------------------------------------------------------------------


def test_the_sign_in_form_has_username_and_password_fields_and_a_csrf_token(client: TestClient) -> None:
    page = client.get("/app/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text and 'name="csrf"' in page.text


def test_every_page_of_the_app_asks_for_a_sign_in_first(client: TestClient) -> None:
    for path in ("/app/", "/app/new", "/app/audit", "/app/items/00000000-0000-0000-0000-000000000000"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/app/login"), path


def test_a_wrong_password_is_refused_in_words_that_do_not_tell_who_exists(client: TestClient, herold: Herold) -> None:
    person(herold, "anna")
    wrong = sign_in(client, "anna", "falsch")
    unknown = sign_in(client, "niemand", "falsch")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong" in wrong.text or "falsch" in wrong.text
    assert re.sub(r'value="[^"]*"', "", wrong.text) == re.sub(r'value="[^"]*"', "", unknown.text).replace(
        "niemand", "anna"
    )
    assert "herold_session" not in wrong.cookies


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(client: TestClient, herold: Herold) -> None:
    person(herold, "anna")
    for _ in range(5):
        sign_in(client, "anna", "falsch")
    locked = sign_in(client, "anna")
    assert locked.status_code == 401 and "15" in locked.text and "herold_session" not in locked.cookies
    # In the same words as a wrong password: nobody learns from it that "anna" exists.
    assert re.sub(r'value="[^"]*"', "", locked.text) == re.sub(r'value="[^"]*"', "", sign_in(client, "anna", "x").text)
    outcomes = [(e.detail or {})["outcome"] for e in herold.store.audit.entries() if e.action.startswith("user.sign")]
    assert outcomes == ["wrong"] * 4 + ["locked"] * 3  # the fifth wrong one locks; the right one is refused too


def test_a_sign_in_is_audited_with_the_address(client: TestClient, herold: Herold) -> None:
    person(herold, "anna")
    assert sign_in(client, "anna").status_code == 303
    entry = next(e for e in herold.store.audit.entries() if e.action == "user.signed_in")
    assert entry.actor == "user:anna" and entry.authority == SLUG and entry.detail and "address" in entry.detail


def test_the_session_cookie_is_http_only_and_same_site_strict(client: TestClient, herold: Herold) -> None:
    person(herold, "anna")
    answer = sign_in(client, "anna")
    header = answer.headers["set-cookie"].lower()
    assert "herold_session=" in header and "httponly" in header and "samesite=strict" in header
    assert "secure" not in header  # plain HTTP here; behind HTTPS it is set (test below)


def test_behind_https_the_session_cookie_is_secure(herold: Herold) -> None:
    person(herold, "anna")
    with TestClient(create_app(herold, start=False), base_url="https://testserver") as secure:
        answer = sign_in(secure, "anna")
    assert "secure" in answer.headers["set-cookie"].lower()


def test_a_sign_in_without_the_forms_csrf_token_is_refused(client: TestClient, herold: Herold) -> None:
    person(herold, "anna")
    client.get("/app/login")
    answer = client.post("/app/login", data={"username": "anna", "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 403


def test_a_post_without_the_sessions_csrf_token_changes_nothing(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    draft = start_form(client, csrf)
    forged = fill(client, draft, "someone-elses-token", "publish")
    assert forged.status_code == 403
    assert herold.store.announcements.listed(SLUG) == []
    assert client.post("/app/new", data={"template": "bombe"}).status_code == 403


def test_a_session_ends_after_the_idle_time(make_herold: HeroldFactory, make_settings: SettingsFactory) -> None:
    later = [timedelta(0)]
    herold = make_herold(make_settings(app_idle_minutes=1))
    base = herold.clock()
    herold.engine.clock = lambda: base + later[0]
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
        signed_in(client, herold, "anna")
        later[0] = timedelta(seconds=59)
        assert client.get("/app/", follow_redirects=False).status_code == 200
        later[0] = timedelta(seconds=59 + 61)
        assert client.get("/app/", follow_redirects=False).status_code == 303


def test_disabling_an_account_ends_its_sessions(client: TestClient, herold: Herold) -> None:
    signed_in(client, herold, "anna")
    herold.store.users.disable("anna", herold.clock())
    assert client.get("/app/", follow_redirects=False).status_code == 303


def test_signing_out_ends_the_session(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna")
    cookie = client.cookies.get("herold_session")
    client.post("/app/logout", data={"csrf": csrf})
    client.cookies.set("herold_session", cookie or "")
    assert client.get("/app/", follow_redirects=False).status_code == 303


def test_after_sign_in_the_person_goes_back_where_they_were_but_never_to_another_site(
    client: TestClient, herold: Herold
) -> None:
    person(herold, "anna")
    page = client.get("/app/login?next=/app/audit")
    back = client.post("/app/login", data={"username": "anna", "password": PASSWORD, "csrf": csrf_of(page),
                                           "next": "/app/audit"}, follow_redirects=False)  # fmt: skip
    assert back.headers["location"] == "/app/audit"
    client.cookies.clear()
    page = client.get("/app/login")
    away = client.post("/app/login", data={"username": "anna", "password": PASSWORD, "csrf": csrf_of(page),
                                           "next": "//evil.example/app/"}, follow_redirects=False)  # fmt: skip
    assert away.headers["location"] == "/app/"


# -- the form and its preview -------------------------------------------------------------------------------


def test_the_templates_are_offered_and_one_fills_the_form(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna")
    chooser = client.get("/app/new")
    for title in ("Bombenentschärfung", "Unwetter", "Brand", "Hochwasser", "Verkehrssperrung", "Öffnungszeiten",
                  "Allgemeine Meldung"):  # fmt: skip
        assert title in chooser.text
    form = client.get(start_form(client, csrf))
    assert form.status_code == 200
    assert 'name="headline"' in form.text and 'name="area.description"' in form.text
    assert "Bombenentschärfung in [Ort]" in form.text
    assert 'value="safety" selected' in form.text and 'value="severe" selected' in form.text


def test_the_preview_shows_every_channel_with_its_count_and_limit_before_anything_is_published(
    client: TestClient, herold: Herold
) -> None:
    csrf = signed_in(client, herold, "anna")
    draft = start_form(client, csrf)
    shown = fill(client, draft, csrf, "preview", channels=["website", "mastodon"])
    assert shown.status_code == 200
    assert "Bombenentschärfung in Musterstadt" in shown.text
    assert re.search(r"\b\d{3} / 500\b", shown.text), "Mastodon's count against its limit"
    assert herold.store.announcements.listed(SLUG) == []


def test_the_live_preview_answers_with_the_variants_and_keeps_what_was_typed(
    client: TestClient, herold: Herold
) -> None:
    csrf = signed_in(client, herold, "anna")
    draft = start_form(client, csrf)
    fragment = client.post(f"{draft}/preview", data={**BOMB, "csrf": csrf, "headline": "Neu getippt"})
    assert fragment.status_code == 200 and "Neu getippt" in fragment.text and "<html" not in fragment.text
    assert 'value="Neu getippt"' in client.get(draft).text


def test_the_preview_names_personal_data_next_to_the_variants(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna")
    draft = start_form(client, csrf)
    shown = fill(client, draft, csrf, "preview", description="Rückfragen an max.mustermann@gmail.com bitte.")
    findings = shown.text[shown.text.index('class="findings"') :]
    assert "e-mail" in findings.split("</ul>")[0].lower()
    assert "Bombenentschärfung in Musterstadt" in findings  # the variants are still shown


def test_after_an_error_every_typed_character_is_still_there_and_each_problem_is_at_its_field(
    client: TestClient, herold: Herold
) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    draft = start_form(client, csrf)
    typed = 'Erste Zeile\nzweite Zeile mit <Sonderzeichen> & "Zitat"'
    answer = fill(client, draft, csrf, "publish", headline="", description=typed, expires="morgen früh")
    assert answer.status_code == 422
    assert "Erste Zeile\nzweite Zeile mit &lt;Sonderzeichen&gt; &amp; &#34;Zitat&#34;" in answer.text
    assert 'value="morgen früh"' in answer.text
    assert 'id="problem-headline"' in answer.text and 'id="problem-expires"' in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert herold.store.announcements.listed(SLUG) == []


def test_an_image_needs_its_alt_text(client: TestClient, herold: Herold, png: bytes) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    draft = start_form(client, csrf)
    data = {**BOMB, "csrf": csrf, "action": "publish", "media.0.alt": ""}
    answer = client.post(draft, data=data, files={"media.0.file": ("karte.png", png, "image/png")})
    assert answer.status_code == 422 and 'id="problem-media-0-alt"' in answer.text
    assert "karte.png" in answer.text  # the image is kept with the draft
    data["media.0.alt"] = "Karte des Sperrbereichs um die Schulstraße"
    published = client.post(draft, data=data, follow_redirects=False)
    assert published.status_code == 303
    stored = herold.store.announcements.get(published.headers["location"].split("/")[3].split("?")[0])
    assert stored and stored.announcement.media[0].alt.startswith("Karte")


@pytest.fixture
def png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, "PNG")
    return buffer.getvalue()


# -- publishing and approval --------------------------------------------------------------------------------


def test_a_warning_from_someone_with_the_alert_right_goes_out_at_once_and_is_recorded_so(
    client: TestClient, herold: Herold
) -> None:
    csrf = signed_in(client, herold, "anna", Role.editor, alert=True)
    draft = start_form(client, csrf)
    published = fill(client, draft, csrf, "publish")
    assert published.status_code == 303
    settle(herold)
    [listed] = herold.store.announcements.listed(SLUG)
    assert listed.stage == Stage.released.value
    entry = next(e for e in herold.store.audit.entries() if e.action == "announcement.published_at_once")
    assert entry.actor == "user:anna" and entry.detail == {"right": "alert", "kind": "warning"}
    board = client.get("/app/")
    assert "Bombenentschärfung in Musterstadt" in board.text and "state-succeeded" in board.text


def test_a_double_click_publishes_once(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    draft = start_form(client, csrf)
    first = fill(client, draft, csrf, "publish")
    second = fill(client, draft, csrf, "publish")
    assert first.status_code == second.status_code == 303
    assert second.headers["location"].split("?")[0] == first.headers["location"].split("?")[0], "to what it became"
    assert len(herold.store.announcements.listed(SLUG)) == 1


def test_without_the_alert_right_a_warning_waits_for_a_second_person(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "berta", Role.approver)
    draft = start_form(client, csrf)
    assert "Publish now" not in client.get(draft).text and "Jetzt veröffentlichen" not in client.get(draft).text
    refused = fill(client, draft, csrf, "publish")
    assert refused.status_code == 422
    submitted = fill(client, draft, csrf, "submit")
    assert submitted.status_code == 303
    [listed] = herold.store.announcements.listed(SLUG)
    assert listed.stage == Stage.awaiting_approval.value


def test_news_needs_four_eyes_nobody_approves_their_own(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna", Role.approver, alert=True)
    draft = start_form(client, csrf, "allgemein")
    submitted = fill(client, draft, csrf, "submit", **{"area.description": "", "instruction": ""})
    assert submitted.status_code == 303, submitted.text
    item = submitted.headers["location"].split("?")[0]
    assert "four-eyes" in client.get(item).text or "Vier-Augen" in client.get(item).text
    own = client.post(f"{item}/approve", data={"csrf": csrf})
    assert own.status_code == 403
    csrf = signed_in(client, herold, "carl", Role.approver)
    approved = client.post(f"{item}/approve", data={"csrf": csrf}, follow_redirects=False)
    assert approved.status_code == 303
    settle(herold)
    [listed] = herold.store.announcements.listed(SLUG)
    assert listed.stage == Stage.released.value
    approvals = [e for e in herold.store.audit.entries() if e.action == "announcement.approved"]
    assert [e.actor for e in approvals] == ["user:carl"]


def test_an_editor_cannot_approve(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna", Role.approver)
    draft = start_form(client, csrf, "allgemein")
    item = fill(client, draft, csrf, "submit").headers["location"].split("?")[0]
    csrf = signed_in(client, herold, "emil", Role.editor)
    assert client.post(f"{item}/approve", data={"csrf": csrf}).status_code == 403


# -- the status board and follow-ups -------------------------------------------------------------------------


def test_an_all_clear_from_the_board_opens_the_form_prefilled_and_a_second_one_is_refused(
    client: TestClient, herold: Herold
) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    item = fill(client, start_form(client, csrf), csrf, "publish").headers["location"].split("?")[0]
    settle(herold)
    opened = client.post(f"{item}/follow-up", data={"csrf": csrf, "as": "cancel"}, follow_redirects=False)
    form = client.get(opened.headers["location"])
    assert "Bombenentschärfung in Musterstadt" in form.text and 'name="instruction"' not in form.text
    all_clear = {"csrf": csrf, "action": "publish", "channels.shown": "1", "channels": ["website"],
                 "headline": "Entwarnung: Bombe entschärft", "description": "Die Bombe ist entschärft."}  # fmt: skip
    done = client.post(opened.headers["location"], data=all_clear, follow_redirects=False)
    assert done.status_code == 303, done.text
    settle(herold)
    again = client.post(f"{item}/follow-up", data={"csrf": csrf, "as": "cancel"})
    assert again.status_code == 409 and ("all-clear" in again.text or "Entwarnung" in again.text)


def test_the_board_lists_current_warnings_first(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    news_draft = start_form(client, csrf, "allgemein")
    fill(client, news_draft, csrf, "submit", headline="Neue Öffnungszeiten", **{"area.description": ""})
    fill(client, start_form(client, csrf), csrf, "publish")
    settle(herold)
    board = client.get("/app/").text
    assert board.index("Bombenentschärfung in Musterstadt") < board.index("Neue Öffnungszeiten")


def test_a_person_never_sees_another_authoritys_items(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    item = fill(client, start_form(client, csrf), csrf, "publish").headers["location"].split("?")[0]
    draft = start_form(client, csrf)
    csrf = signed_in(client, herold, "nora", Role.admin, alert=True, authority=OTHER["slug"])
    assert client.get(item).status_code == 404
    assert client.get(f"{item}/audit").status_code == 404
    assert client.post(f"{item}/follow-up", data={"csrf": csrf, "as": "error"}).status_code == 404
    assert client.post(f"{item}/approve", data={"csrf": csrf}).status_code == 404
    assert client.get(draft).status_code == 404
    assert "Bombenentschärfung" not in client.get("/app/").text
    assert "Bombenentschärfung" not in client.get("/app/audit").text


def test_the_audit_view_shows_each_step_of_an_item(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    item = fill(client, start_form(client, csrf), csrf, "publish").headers["location"].split("?")[0]
    settle(herold)
    audit = client.get(f"{item}/audit")
    assert audit.status_code == 200
    assert "announcement.accepted" in audit.text and "announcement.published_at_once" in audit.text


def test_a_manual_hand_off_is_confirmed_from_the_item_page(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "whatsapp", "type": "manual"})
    herold = make_herold(make_settings(authorities=[authority]))
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
        csrf = signed_in(client, herold, "anna", alert=True)
        draft = start_form(client, csrf)
        item = fill(client, draft, csrf, "publish", channels=["website", "whatsapp"]).headers["location"].split("?")[0]
        settle(herold)
        page = client.get(item)
        assert "to post by hand" in page.text or "von Hand" in page.text
        confirmed = client.post(f"{item}/channels/whatsapp/confirm",
                                data={"csrf": csrf, "url": "https://whatsapp.com/channel/abc/123"})  # fmt: skip
        assert confirmed.status_code == 200 and "state-succeeded" in confirmed.text


def test_a_post_a_withdrawal_could_not_delete_is_recorded_deleted_by_hand_from_the_item_page(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    with undeletable() as kind:
        authority = copy.deepcopy(AUTHORITY)
        authority["channels"].append({"id": "alt", "type": kind.type})
        herold = make_herold(make_settings(authorities=[authority], grace_warning_seconds=0.05))
        alert = accept(herold.engine, warning(), source="test", actor="t")
        wait_until_settled(herold.engine, alert, timeout=30)
        withdrawal = accept(herold.engine, warning(msg_type="error", references=alert, headline="Widerruf"),
                            source="test", actor="t")  # fmt: skip
        wait_until_settled(herold.engine, withdrawal, timeout=30)
        with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
            csrf = signed_in(client, herold, "anna")
            [deletion] = herold.store.operations.deletions_to_settle(withdrawal, "alt")
            post = herold.store.operations.copy_on(alert, "alt")
            assert post is not None and post.platform_url is not None
            page = client.get(f"/app/items/{withdrawal}")
            assert "Von Hand gelöscht" in page.text and f'href="{post.platform_url}"' in page.text, "which post"
            assert "/channels/alt/posted" not in page.text, "no 'posted after all' for a deletion"

            done = client.post(f"/app/items/{withdrawal}/deletions/{deletion.id}/deleted", data={"csrf": csrf})

            assert done.status_code == 200 and "Vermerkt: Der Beitrag wurde von Hand gelöscht." in done.text
            assert "Von Hand gelöscht" not in done.text, "nothing left to settle"
            assert f'href="{post.platform_url}"' not in done.text, "no link to the deleted post"
        audited = herold.store.audit.entries(announcement_id=withdrawal)
        assert [(e.actor, e.source) for e in audited if e.action == "delivery.reconciled"] == [("user:anna", "app")]
        herold.stop()  # before its channel type goes


# -- languages ---------------------------------------------------------------------------------------------


def test_the_app_speaks_german_first_and_english_on_request(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna")
    assert "Statusübersicht" in client.get("/app/").text
    client.post("/app/language", data={"csrf": csrf, "language": "en", "next": "/app/"})
    assert "Status board" in client.get("/app/").text


def test_every_message_of_the_app_has_a_german_translation() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from publisher.core.templates import TEMPLATES

    with (LOCALE / "de" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale="de")
    method_map = [("**.j2", "jinja2")]
    used = {m[2] for m in extract_from_dir(str(TEMPLATES / "app"), method_map)}
    keywords = {"N_": None, "_t": (2,)}
    used |= {m[2] for m in extract_from_dir(str(LOCALE.parent), [("**.py", "python")], keywords=keywords)}
    for folder, name in (("core", "approval.py"), ("engine/store", "users.py")):
        found = extract_from_dir(str(TEMPLATES.parent / "publisher" / folder), [(name, "python")], keywords=keywords)
        used |= {m[2] for m in found}
    used = {m if isinstance(m, str) else m[0] for m in used}
    missing = sorted(m for m in used if not getattr(catalog.get(m), "string", ""))
    assert not missing, missing
    assert translations("de").gettext("Sign in") != "Sign in"


# -- serving -------------------------------------------------------------------------------------------------


def test_app_pages_allow_only_their_own_script_and_are_never_cached(client: TestClient, herold: Herold) -> None:
    signed_in(client, herold, "anna")
    page = client.get("/app/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "form-action 'self'" in policy and "default-src 'self'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'none'" in client.get("/warnungen/").headers["content-security-policy"]


def test_with_its_own_address_the_public_port_carries_only_the_site(herold: Herold) -> None:
    from publisher.edges.web import PublicOnly

    with TestClient(PublicOnly(create_app(herold, start=False))) as public:
        assert public.get("/warnungen/").status_code == 200
        for path in ("/app/", "/app/login", "/app", "/api/v1/announcements", "/api/docs"):
            assert public.get(path, follow_redirects=False).status_code == 404, path


def test_form_drafts_and_old_sessions_go_with_the_retention_period(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna")
    start_form(client, csrf)
    later = herold.clock() + timedelta(days=31)
    forgotten = herold.store.retention.forget(later - timedelta(days=30), 30)
    assert forgotten.drafts == 1 and forgotten.sessions == 1
    assert herold.store.drafts.open_of(SLUG) == []


# -- people ---------------------------------------------------------------------------------------------------


def test_an_admin_adds_and_disables_people_of_their_own_authority_and_it_is_audited(
    client: TestClient, herold: Herold
) -> None:
    csrf = signed_in(client, herold, "ada", Role.admin)
    short = client.post("/app/users", data={"csrf": csrf, "username": "bert", "role": "editor", "password": "kurz"})
    assert short.status_code == 422 and 'value="bert"' in short.text
    added = client.post("/app/users", data={"csrf": csrf, "username": "Bert", "role": "editor", "password": PASSWORD})
    assert added.status_code == 200
    bert = herold.store.users.get("bert")
    assert bert is not None and bert.authority == SLUG and bert.role is Role.editor and not bert.alert
    client.post("/app/users/bert/disable", data={"csrf": csrf})
    assert herold.store.users.get("bert").disabled  # type: ignore[union-attr]
    actions = [(e.action, (e.detail or {}).get("username"), e.actor) for e in herold.store.audit.entries()
               if e.action.startswith("user.") and e.action != "user.signed_in"]  # fmt: skip
    assert actions == [("user.added", "bert", "user:ada"), ("user.disabled", "bert", "user:ada")]
    assert client.post("/app/users/ada/disable", data={"csrf": csrf}).status_code == 409


def test_only_an_admin_manages_people_and_only_their_authoritys(client: TestClient, herold: Herold) -> None:
    person(herold, "nachbar", Role.editor, authority=OTHER["slug"])
    csrf = signed_in(client, herold, "ada", Role.admin)
    assert client.post("/app/users/nachbar/disable", data={"csrf": csrf}).status_code == 404
    assert "nachbar" not in client.get("/app/users").text
    csrf = signed_in(client, herold, "berta", Role.approver)
    assert client.get("/app/users").status_code == 403
    refused = client.post("/app/users", data={"csrf": csrf, "username": "x1", "role": "admin", "password": PASSWORD})
    assert refused.status_code == 403 and herold.store.users.get("x1") is None


# -- what a second reader found --------------------------------------------------------------------------------


def item_of(answer: Any) -> str:
    return str(answer.headers["location"]).split("?")[0]


def test_the_approver_reads_what_they_approve_with_each_channels_text(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "emil", Role.editor)
    item = item_of(fill(client, start_form(client, csrf), csrf, "submit", channels=["website", "mastodon"]))
    signed_in(client, herold, "carl", Role.approver)
    page = client.get(item).text
    assert "Bei Bauarbeiten an der Schulstraße wurde eine Fliegerbombe gefunden." in page
    assert "Verlassen Sie den Sperrbereich bis 14 Uhr." in page and "Umkreis von 500 m" in page
    assert re.search(r"\d+ / 500", page), "Mastodon's text with its count"


def test_whoever_wrote_in_a_form_may_not_approve_it_though_someone_else_submitted_it(
    client: TestClient, herold: Herold
) -> None:
    csrf = signed_in(client, herold, "berta", Role.approver)
    draft = start_form(client, csrf, "allgemein")
    fill(client, draft, csrf, "save", **{"area.description": ""})
    csrf = signed_in(client, herold, "emil", Role.editor)
    item = item_of(fill(client, draft, csrf, "submit", **{"area.description": ""}))
    csrf = signed_in(client, herold, "berta", Role.approver)
    assert client.post(f"{item}/approve", data={"csrf": csrf}).status_code == 403
    csrf = signed_in(client, herold, "carl", Role.approver)
    assert client.post(f"{item}/approve", data={"csrf": csrf}, follow_redirects=False).status_code == 303


def test_a_follow_up_waiting_for_approval_ends_nothing_and_can_be_sent_back(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    item = item_of(fill(client, start_form(client, csrf), csrf, "publish"))
    settle(herold)
    csrf = signed_in(client, herold, "emil", Role.editor)
    opened = client.post(f"{item}/follow-up", data={"csrf": csrf, "as": "error"}, follow_redirects=False)
    withdrawal = item_of(fill(client, opened.headers["location"], csrf, "submit", headline="Zurückgezogen"))
    csrf = signed_in(client, herold, "anna", alert=True)
    page = client.get(item).text
    assert "Entwarnung" in page and "Aktualisierung" in page, "the warning is live: all may still follow"
    update = client.post(f"{item}/follow-up", data={"csrf": csrf, "as": "update"}, follow_redirects=False)
    assert update.status_code == 303
    sent_back = client.post(f"{withdrawal}/reject", data={"csrf": csrf, "reason": "Die Warnung gilt weiter."},
                            follow_redirects=False)  # fmt: skip
    assert sent_back.status_code == 303
    stored = herold.store.announcements.get(withdrawal.rsplit("/", 1)[-1])
    assert stored is not None and stored.stage is Stage.rejected
    entry = next(e for e in herold.store.audit.entries() if e.action == "announcement.rejected")
    assert entry.actor == "user:anna" and (entry.detail or {})["reason"] == "Die Warnung gilt weiter."
    csrf = signed_in(client, herold, "carl", Role.approver)
    assert client.post(f"{withdrawal}/approve", data={"csrf": csrf}).status_code == 409


def test_a_follow_up_of_a_relayed_warning_names_its_source_as_the_original_did(
    client: TestClient, herold: Herold
) -> None:
    # The form starts from the weather service's own text: its terms ask for it to be named.
    relayed = accept(herold.engine, warning(attribution="Deutscher Wetterdienst", channels=["website"]), source="test",
                     actor="dwd")  # fmt: skip
    settle(herold)
    csrf = signed_in(client, herold, "anna", alert=True)
    opened = client.post(f"/app/items/{relayed}/follow-up", data={"csrf": csrf, "as": "update"},
                         follow_redirects=False)  # fmt: skip
    form = client.get(opened.headers["location"]).text
    assert "Deutscher Wetterdienst" in form, "the press officer sees which source is named"

    sent = fill(client, opened.headers["location"], csrf, "publish", attribution="Niemand")
    update = herold.store.announcements.get(item_of(sent).rsplit("/", 1)[-1])
    assert update is not None and update.announcement.attribution == "Deutscher Wetterdienst"


def test_after_the_all_clear_an_update_is_offered_and_a_second_all_clear_is_not(
    client: TestClient, herold: Herold
) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    item = item_of(fill(client, start_form(client, csrf), csrf, "publish"))
    settle(herold)
    opened = client.post(f"{item}/follow-up", data={"csrf": csrf, "as": "cancel"}, follow_redirects=False)
    fill(client, opened.headers["location"], csrf, "publish", headline="Entwarnung: entschärft")
    settle(herold)
    page = client.get(item).text
    assert 'value="update"' in page and 'value="cancel"' not in page


def test_the_preview_says_signed_out_to_the_script_instead_of_showing_the_sign_in_page(
    client: TestClient, herold: Herold
) -> None:
    csrf = signed_in(client, herold, "anna")
    draft = start_form(client, csrf)
    client.cookies.clear()
    answer = client.post(f"{draft}/preview", data={**BOMB, "csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 401
    posted = fill(client, draft, csrf, "save")
    assert posted.status_code == 303 and posted.headers["location"] == f"/app/login?next={draft}", "back to the form"


def test_many_wrong_passwords_from_one_address_are_refused_for_a_while(client: TestClient, herold: Herold) -> None:
    for attempt in range(20):
        sign_in(client, f"niemand{attempt}", "falsch")
    person(herold, "anna")
    assert sign_in(client, "anna").status_code == 429


def test_a_typed_nul_character_is_dropped_not_stored(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna")
    draft = start_form(client, csrf)
    saved = fill(client, draft, csrf, "save", headline="Bombe\x00 gefunden")
    assert saved.status_code == 200 and 'value="Bombe gefunden"' in saved.text


@pytest.mark.parametrize(
    ("typed", "problem"),
    [("2026-03-29T02:30", "clocks are put forward"), ("2026-10-25T02:30", "happens twice"), ("2026-12-03T05:31x", "")],
)
def test_a_time_the_clock_skips_or_passes_twice_is_asked_again(
    client: TestClient, herold: Herold, typed: str, problem: str
) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    client.post("/app/language", data={"csrf": csrf, "language": "en", "next": "/app/"})
    answer = fill(client, start_form(client, csrf), csrf, "publish", publish_at=typed)
    assert answer.status_code == 422 and 'id="problem-publish_at"' in answer.text
    assert problem in answer.text


def test_a_fresh_form_cannot_make_itself_a_follow_up(client: TestClient, herold: Herold) -> None:
    csrf = signed_in(client, herold, "anna", alert=True)
    item = item_of(fill(client, start_form(client, csrf), csrf, "publish"))
    settle(herold)
    draft = start_form(client, csrf)
    fill(client, draft, csrf, "save", msg_type="cancel", references=item.rsplit("/", 1)[-1])
    saved = herold.store.drafts.get(draft.rsplit("/", 1)[-1], SLUG)
    assert saved is not None and "msg_type" not in saved.fields and "references" not in saved.fields


def test_an_editors_api_token_sends_news_for_approval_not_out(herold: Herold, client: TestClient) -> None:
    from conftest import news

    editor = {"Authorization": f"Bearer {herold.store.tokens.create(SLUG, 'cms', herold.clock())}"}
    refused = client.post("/api/v1/announcements", json=news(), headers=editor)
    assert refused.status_code == 403 and "awaiting_approval" in refused.json()["error"]
    assert client.post("/api/v1/announcements?stage=awaiting_approval", json=news(), headers=editor).status_code == 201


def test_a_hand_off_shows_its_image_to_the_authoritys_people_only(
    make_herold: HeroldFactory, make_settings: SettingsFactory, png: bytes
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "whatsapp", "type": "manual"})
    herold = make_herold(make_settings(authorities=[authority, copy.deepcopy(OTHER)]))
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
        csrf = signed_in(client, herold, "anna", alert=True)
        data = {**BOMB, "csrf": csrf, "action": "publish", "channels": ["website", "whatsapp"],
                "media.0.alt": "Karte des Sperrbereichs"}  # fmt: skip
        answer = client.post(start_form(client, csrf), data=data, files={"media.0.file": ("karte.png", png)},
                             follow_redirects=False)  # fmt: skip
        item = item_of(answer)
        settle(herold)
        page = client.get(item).text
        assert f'src="{item}/media/0" alt="Karte des Sperrbereichs"' in page
        picture = client.get(f"{item}/media/0")
        assert picture.status_code == 200 and picture.headers["content-type"].startswith("image/")
        assert client.get(f"{item}/media/1").status_code == 404
        signed_in(client, herold, "nora", Role.admin, authority=OTHER["slug"])
        assert client.get(f"{item}/media/0").status_code == 404


def test_typing_does_not_send_the_image_again(client: TestClient, herold: Herold, png: bytes) -> None:
    csrf = signed_in(client, herold, "anna")
    draft = start_form(client, csrf)
    client.post(draft, data={**BOMB, "csrf": csrf, "action": "save", "media.0.alt": "Karte"},
                files={"media.0.file": ("karte.png", png)})  # fmt: skip
    client.post(f"{draft}/preview", data={**BOMB, "csrf": csrf, "headline": "Neu"})
    saved = herold.store.drafts.get(draft.rsplit("/", 1)[-1], SLUG)
    assert saved is not None and saved.media is not None and saved.media["name"] == "karte.png"
    assert "media" not in saved.fields
