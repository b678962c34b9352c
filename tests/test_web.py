"""The HTTP interface: the JSON API for press offices and warning systems, and the public site.

Every API call carries a bearer token of one authority: without one, or with one Herold does not
know, the answer is 401 with a challenge; a token of another authority gets 403. Bad input is
answered 400/422 with every problem in plain words, never with a server error. The public site
is served under the authority's base path, sets no cookies and tells browsers to load nothing
from elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import json
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

from publisher.domain.records import Role, Stage
from publisher.edges import logs
from publisher.edges.web import SiteRouter, create_app
from publisher.edges.wiring import Herold
from publisher.engine.store import Store
from publisher.engine.tasks import wait_until_settled
from publisher.sources.intake import accept, receive

from conftest import AUTHORITY, NEIGHBOUR, HeroldFactory, SettingsFactory, news, warning
from fakes.channels import registered
from services import free_port, wait_until_serving

ANNOUNCEMENTS = "/api/v1/announcements"
SLUG = AUTHORITY["slug"]
BASE_URL = AUTHORITY["base_url"]
OTHER = NEIGHBOUR
A_REASON = "Die Website ist ausgefallen, die Warnung muss trotzdem raus."


def client_for(herold: Herold) -> TestClient:
    # Server errors come back as responses, so a test can say "never 500" rather than crash.
    return TestClient(create_app(herold, start=False), raise_server_exceptions=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(herold: Herold, authority: str = SLUG) -> str:
    return herold.store.tokens.create(authority, "test", herold.clock())


@pytest.fixture
def client(herold: Herold) -> Iterator[TestClient]:
    with client_for(herold) as client:
        yield client


@pytest.fixture
def auth(herold: Herold) -> dict[str, str]:
    return bearer(token_for(herold))


@pytest.fixture
def two_authorities(make_settings: SettingsFactory, make_herold: HeroldFactory) -> Herold:
    return make_herold(make_settings(authorities=[copy.deepcopy(AUTHORITY), copy.deepcopy(OTHER)]))


def published(herold: Herold, document: dict[str, Any]) -> str:
    announcement_id = accept(herold.engine, document, source="test", actor="tester")
    wait_until_settled(herold.engine, announcement_id, timeout=20)
    return announcement_id


# -- who may call -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("no Authorization header", {}),
        ("an empty bearer token", {"Authorization": "Bearer "}),
        ("another scheme", {"Authorization": "Basic dGVzdDp0ZXN0"}),
    ],
)
def test_publishing_without_a_token_is_refused_with_a_bearer_challenge(
    herold: Herold, client: TestClient, case: str, headers: dict[str, str]
) -> None:
    response = client.post(ANNOUNCEMENTS, json=warning(), headers=headers)

    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in response.json()["error"]
    assert herold.store.audit.entries(authority=SLUG) == [], "nothing may be accepted"


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_an_unknown_token_is_refused(herold: Herold, client: TestClient, method: str) -> None:
    token = token_for(herold)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    path = ANNOUNCEMENTS if method == "POST" else f"{ANNOUNCEMENTS}/{published(herold, warning())}"

    response = client.request(method, path, json=warning() if method == "POST" else None, headers=bearer(forged))

    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_may_not_publish_for_another_authority(two_authorities: Herold) -> None:
    neighbour = bearer(token_for(two_authorities, OTHER["slug"]))

    with client_for(two_authorities) as client:
        response = client.post(ANNOUNCEMENTS, json=warning(), headers=neighbour)

    assert response.status_code == 403, response.text
    assert SLUG in response.json()["error"] or OTHER["slug"] in response.json()["error"]
    assert two_authorities.store.audit.entries(authority=SLUG) == [], "nothing may be accepted"


def test_a_token_may_not_read_another_authority_s_announcement(two_authorities: Herold) -> None:
    theirs = published(two_authorities, warning())
    neighbour = bearer(token_for(two_authorities, OTHER["slug"]))

    with client_for(two_authorities) as client:
        response = client.get(f"{ANNOUNCEMENTS}/{theirs}", headers=neighbour)

    assert response.status_code == 403, response.text
    assert "Fliegerbombe" not in response.text


def test_a_token_may_not_release_another_authority_s_announcement(two_authorities: Herold) -> None:
    theirs = published(two_authorities, warning())
    neighbour = bearer(token_for(two_authorities, OTHER["slug"]))

    with client_for(two_authorities) as client:
        response = client.post(f"{ANNOUNCEMENTS}/{theirs}/release", json={"reason": A_REASON}, headers=neighbour)

    assert response.status_code == 403, response.text


# -- publishing --------------------------------------------------------------------------------------


def test_a_valid_announcement_is_accepted_with_its_page_address_and_deliveries(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post(ANNOUNCEMENTS, json=warning(), headers=auth)

    assert response.status_code == 201, response.text
    body = response.json()
    stored = herold.store.announcements.get(body["id"])
    assert stored is not None
    assert body["item_url"] == BASE_URL + stored.item_path
    assert [d["channel"] for d in body["deliveries"]] == ["website"]
    assert (body["authority"], body["kind"], body["msg_type"]) == (SLUG, "warning", "alert")


def test_a_link_to_another_domain_is_published_and_named_in_the_answer(
    client: TestClient, auth: dict[str, str]
) -> None:
    document = warning(instruction="Warnlage: https://www.dwd.de/warnungen")
    response = client.post(ANNOUNCEMENTS, json=document, headers=auth)

    assert response.status_code == 201, response.text
    [flagged] = response.json()["warnings"]
    assert flagged["field"] == "instruction" and "dwd.de" in flagged["message"]
    assert client.post(ANNOUNCEMENTS, json=warning(), headers=auth).json()["warnings"] == []


def test_an_authority_whose_own_website_is_a_wordpress_gets_the_api_and_no_built_in_site(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    wordpress = {"id": "wordpress", "type": "wordpress", "url": "https://www.lk-beispiel.de/", "username": "herold",
                 "application_password_env": "WP_PASSWORD"}  # fmt: skip
    authority = {**copy.deepcopy(AUTHORITY), "channels": [wordpress]}
    herold = make_herold(make_settings(authorities=[authority], env={"WP_PASSWORD": "abcd efgh ijkl mnop"}))

    with client_for(herold) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/announcements/nicht-da", headers=bearer(token_for(herold))).status_code == 404
        assert client.get("/warnungen/").status_code == 404, "no built-in site to serve"


def test_the_authority_is_taken_from_the_token_when_the_document_leaves_it_out(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post(ANNOUNCEMENTS, json=warning(authority=None), headers=auth)

    assert response.status_code == 201, response.text
    stored = herold.store.announcements.get(response.json()["id"])
    assert stored is not None
    assert stored.authority == SLUG


def test_an_invalid_announcement_is_answered_with_every_problem_and_nothing_is_published(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post(ANNOUNCEMENTS, json=warning(severity=None, instruction=None), headers=auth)

    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert all(set(problem) == {"field", "message"} and problem["message"] for problem in problems)
    assert {"severity", "instruction"} <= {problem["field"] for problem in problems}
    assert herold.store.audit.entries(authority=SLUG) == []


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("plain text", b"Fliegerbombe in der Altstadt"),
        ("an empty body", b""),
        ("cut-off JSON", b'{"authority": "lk-beispiel", "headline": "Fliegerbo'),
        ("bytes that are not UTF-8", b"\xff\xfe\xfa"),
    ],
)
def test_a_body_that_is_not_json_is_a_400_with_a_clear_message(
    client: TestClient, auth: dict[str, str], case: str, body: bytes
) -> None:
    response = client.post(ANNOUNCEMENTS, content=body, headers={**auth, "Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert "JSON" in response.json()["error"]


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("a list", b'[{"kind": "warning"}]'),
        ("a string", b'"Fliegerbombe"'),
        ("a number", b"42"),
        ("null", b"null"),
    ],
)
def test_a_json_body_that_is_not_an_object_is_a_422(
    client: TestClient, auth: dict[str, str], case: str, body: bytes
) -> None:
    response = client.post(ANNOUNCEMENTS, content=body, headers={**auth, "Content-Type": "application/json"})

    assert response.status_code == 422, response.text
    assert "object" in response.json()["error"]


# -- reading back ------------------------------------------------------------------------------------


def test_an_unknown_announcement_is_404(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get(f"{ANNOUNCEMENTS}/00000000-0000-0000-0000-000000000000", headers=auth)

    assert response.status_code == 404, response.text


def test_an_own_announcement_shows_how_each_channel_went(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    announcement_id = published(herold, warning())
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None

    response = client.get(f"{ANNOUNCEMENTS}/{announcement_id}", headers=auth)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "published"
    assert [(d["channel"], d["state"], d["url"]) for d in body["deliveries"]] == [
        ("website", "succeeded", BASE_URL + stored.item_path)
    ]


# -- releasing other channels by hand -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "document", "reason"),
    [
        ("news always waits for its page", news(), "only warnings"),
        ("the website did not fail", warning(), "website page is published"),
    ],
)
def test_a_release_is_refused_with_a_reason_when_there_is_nothing_to_release(
    herold: Herold, client: TestClient, auth: dict[str, str], case: str, document: dict[str, Any], reason: str
) -> None:
    announcement_id = published(herold, document)

    response = client.post(f"{ANNOUNCEMENTS}/{announcement_id}/release", json={"reason": A_REASON}, headers=auth)

    assert response.status_code == 409, response.text
    assert reason in response.json()["error"]
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    assert stored.override_reason is None


# -- the public site -----------------------------------------------------------------------------------


def test_the_public_site_is_served_under_the_base_path_with_security_headers_and_no_cookies(
    herold: Herold, client: TestClient
) -> None:
    announcement_id = published(herold, warning())
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    base_path = "/warnungen/"

    for path in (base_path, base_path + stored.item_path, base_path + "feed.json"):
        response = client.get(path)

        assert response.status_code == 200, path
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "set-cookie" not in response.headers
        assert not client.cookies
    assert "Fliegerbombe in der Altstadt" in client.get(base_path + stored.item_path).text


def test_before_anything_is_published_the_site_says_there_are_no_warnings(client: TestClient) -> None:
    response = client.get("/warnungen/")

    assert response.status_code == 200, response.text
    assert "Zurzeit liegen keine Warnungen vor." in response.text
    assert 'href="https://www.lk-beispiel.de/impressum"' in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_health_check_says_ok(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_body_larger_than_any_announcement_is_refused_before_it_is_read(herold: Herold) -> None:
    token = herold.store.tokens.create("lk-beispiel", "test", herold.clock())
    client = TestClient(create_app(herold, start=False))
    answer = client.post(
        "/api/v1/announcements",
        content=b"{}",
        headers={"Authorization": f"Bearer {token}", "Content-Length": str(60_000_000)},
    )
    assert answer.status_code == 413
    assert answer.json() == {"error": "the body is larger than 48 MB, the most Herold takes here"}


def test_a_release_needs_a_reason_of_a_few_words(herold: Herold, client: TestClient, auth: dict[str, str]) -> None:
    announcement_id = published(herold, warning())

    response = client.post(f"{ANNOUNCEMENTS}/{announcement_id}/release", json={"reason": "weil"}, headers=auth)

    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "reason"


# -- bad input of every kind is a clear 4xx, never a 500 ---------------------------------------------------


def call(
    app: Any, method: str, path: str, receive: Callable[[], Awaitable[dict[str, Any]]], token: str
) -> tuple[int | None, bytes]:
    """One request straight into the ASGI app, with the body as ``receive`` hands it out."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"host", b"testserver")],
        "client": ("127.0.0.1", 1234), "server": ("testserver", 80),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(herold: Herold) -> None:
    received = []

    async def receive() -> dict[str, Any]:  # 300 MB and more, in chunks, without a Content-Length
        received.append(1)
        return {"type": "http.request", "body": b" " * 1_000_000, "more_body": len(received) < 300}

    status, body = call(create_app(herold, start=False), "POST", ANNOUNCEMENTS, receive, token=token_for(herold))

    assert status == 413
    assert json.loads(body) == {"error": "the body is larger than 48 MB, the most Herold takes here"}
    assert len(received) <= 49, "no more of the body was read than the limit"


def test_any_other_body_is_refused_past_a_few_kilobytes_before_the_token_is_even_looked_at(herold: Herold) -> None:
    received = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        return {"type": "http.request", "body": b" " * 10_000, "more_body": len(received) < 10_000}

    path = f"{ANNOUNCEMENTS}/{uuid.uuid4()}/release"
    status, body = call(create_app(herold, start=False), "POST", path, receive, token="hrd_wrong")

    assert status == 413
    assert json.loads(body) == {"error": "the body is larger than 64 KiB, the most Herold takes here"}
    assert len(received) <= 7


@pytest.mark.parametrize(
    ("case", "body", "message"),
    [
        ("100,000 brackets deep", b"[" * 100_000 + b"]" * 100_000, "the body nests deeper than 16 levels"),
        ("17 levels deep", b'{"area": ' + b"[" * 16 + b"]" * 16 + b"}", "the body nests deeper than 16 levels"),
        ("an integer of 5,000 digits", b'{"severity": ' + b"1" * 5000 + b"}", "the body is not valid JSON"),
        ("15 million empty lists", b"[" + b"[]," * 15_000_000 + b"[]]", "the body has more than 200,000 values"),
        ("invalid UTF-8", b'{"headline": "\xff"}', "the body is not valid JSON"),
    ],
)
def test_a_body_no_parser_should_follow_is_a_400(
    client: TestClient, auth: dict[str, str], case: str, body: bytes, message: str
) -> None:
    answer = client.post(ANNOUNCEMENTS, content=body, headers={**auth, "Content-Type": "application/json"})

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(message)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"headline": "Fliegerbombe\x00"}, "headline"),
        ({"description": "\x1b[2J\x1b[31mAlarm"}, "description"),
        ({"instruction": "Fenster schließen\ufffe"}, "instruction"),
        ({"headline": "\u202eFliegerbombe"}, "headline"),
        ({"publish_at": "9999-12-31T23:00:00+00:00"}, "publish_at"),
    ],
)
def test_text_and_times_no_announcement_needs_are_a_422_on_every_database(
    make_settings: SettingsFactory, make_herold: HeroldFactory, database_url: str, changes: dict[str, Any], field: str
) -> None:
    herold = make_herold(make_settings(database_url=database_url))
    with client_for(herold) as client:
        answer = client.post(ANNOUNCEMENTS, json=warning(**changes), headers=bearer(token_for(herold)))

    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in answer.json()["problems"]] == [field]
    assert herold.store.audit.entries(authority=SLUG) == [], "nothing may be accepted"


@pytest.mark.parametrize("weird", ["nicht-da", "%00", "x" * 500, "1a2b3c4d-0000-0000-0000-00000000000g"])
def test_an_announcement_id_that_cannot_exist_is_404_on_every_database(
    make_settings: SettingsFactory, make_herold: HeroldFactory, database_url: str, weird: str
) -> None:
    herold = make_herold(make_settings(database_url=database_url))
    with client_for(herold) as client:
        answer = client.get(f"{ANNOUNCEMENTS}/{weird}", headers=bearer(token_for(herold)))

    assert answer.status_code == 404, answer.text


def test_a_release_reason_with_a_control_character_is_a_422(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    announcement_id = published(herold, warning())

    answer = client.post(f"{ANNOUNCEMENTS}/{announcement_id}/release", json={"reason": A_REASON + "\x1b"}, headers=auth)

    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"][0]["field"] == "reason"


# -- outages and errors: one clear answer, one log line ----------------------------------------------------


def test_while_the_database_is_away_a_post_is_503_with_retry_after(herold: Herold) -> None:
    auth = bearer(token_for(herold))
    with client_for(herold) as client:
        herold.engine.store = Store(
            f"postgresql+psycopg://herold@127.0.0.1:{free_port()}/herold"
        )  # nobody listens there

        answer = client.post(ANNOUNCEMENTS, json=warning(), headers=auth)

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.json() == {"error": "the database is not reachable right now; try again shortly"}


def test_an_internal_error_is_one_json_log_line_and_no_traceback_from_the_server(
    herold: Herold, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import publisher.edges.web

    def broken(*_: object) -> None:
        raise RuntimeError("a bug, with a secret token=hrd_12345678_abcdef")

    monkeypatch.setattr(publisher.edges.web, "report", broken)
    for handler in logging.getLogger().handlers[:]:  # pytest's own capture: the server's stderr is what counts
        logging.getLogger().removeHandler(handler)
    logs.configure("info", "json")
    auth = bearer(token_for(herold))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(herold, start=False), port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        answer = requests.get(f"http://127.0.0.1:{port}{ANNOUNCEMENTS}/{uuid.uuid4()}", headers=auth, timeout=10)
    finally:
        server.should_exit = True
        thread.join(10)
        logs.configure("warning", "console")

    assert answer.status_code == 500
    reference = answer.json()["error"].rsplit(" ", 1)[-1]
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON: no raw traceback anywhere
    [error] = [r for r in records if r.get("reference") == reference]
    assert error["event"] == "unhandled error" and "RuntimeError" in error["exception"]
    assert "abcdef" not in "\n".join(lines), "secrets in a traceback are redacted too"


def test_a_client_that_goes_away_mid_request_is_not_an_error(herold: Herold, capfd: pytest.CaptureFixture[str]) -> None:
    messages: Iterator[dict[str, Any]] = iter(
        [{"type": "http.request", "body": b'{"kind": ', "more_body": True}, {"type": "http.disconnect"}]
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    call(create_app(herold, start=False), "POST", ANNOUNCEMENTS, receive, token=token_for(herold))

    assert "unhandled error" not in capfd.readouterr().err
    assert herold.store.audit.entries(authority=SLUG) == []


def test_many_wrong_tokens_from_one_address_are_refused_for_a_while_and_said_once(
    herold: Herold, client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    real = bearer(token_for(herold))
    answers = [client.get(f"{ANNOUNCEMENTS}/{uuid.uuid4()}", headers=bearer(f"hrd_guess_{n}")) for n in range(25)]

    assert [a.status_code for a in answers] == [401] * 20 + [429] * 5
    assert int(answers[-1].headers["Retry-After"]) > 0
    # A valid token still works from that address: others behind the same proxy are not locked out.
    assert client.get(f"{ANNOUNCEMENTS}/{uuid.uuid4()}", headers=real).status_code == 404
    assert capfd.readouterr().err.count("too many wrong API tokens from one address") == 1


def test_a_folder_without_its_slash_is_redirected_by_path_never_to_the_client_s_host(
    herold: Herold, client: TestClient
) -> None:
    published(herold, warning())

    for folder in ("/warnungen", "/warnungen/archive"):
        answer = client.get(folder, headers={"Host": "evil.example"}, follow_redirects=False)

        assert answer.status_code == 301
        assert answer.headers["Location"] == folder + "/"
    assert client.get("/warnungen/" + "a" * 300).status_code == 404, "a name too long for the disk is not there"
    assert client.get("/api/v1/announcements/", follow_redirects=False).status_code in {401, 404}


def test_a_site_at_the_root_never_redirects_to_another_host(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = {**copy.deepcopy(AUTHORITY), "base_url": "https://www.lk-beispiel.de/"}
    herold = make_herold(make_settings(authorities=[authority]))
    published(herold, warning())

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": "GET", "path": "//archive", "query_string": b"", "headers": []}
    asyncio.run(SiteRouter([("www.lk-beispiel.de", "/", site_of(herold))])(scope, receive, send))

    assert sent[0]["status"] == 301
    assert dict(sent[0]["headers"])[b"location"] == b"/archive/", "//archive/ would lead to a host called archive"


# -- memory: what is refused never gets far into memory ---------------------------------------------------


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def _chunked_post(port: int, path: str, token: str, total: int) -> tuple[int, int]:
    """POST ``total`` bytes in chunks without a length; stop when the server answers. Returns
    (status, bytes sent)."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b" " * 1_000_000
        sent = 0
        while sent < total:
            if select.select([connection], [], [], 0)[0]:
                break  # the server answered before the body ended
            try:
                connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                break
            sent += len(chunk)
        connection.settimeout(10)
        answer = connection.recv(200).decode(errors="replace")
    return int(answer.split()[1]), sent


@pytest.mark.slow
def test_a_300_mb_body_and_six_requests_with_huge_images_are_refused_in_under_300_mb(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "herold.toml"
    config.write_text(
        f'[herold]\ndata_dir = "var"\nlisten = "127.0.0.1:{port}"\nlog_level = "warning"\n\n[[authorities]]\n'
        'slug = "lk-beispiel"\nname = "Landkreis Beispiel"\nbase_url = "https://www.lk-beispiel.de/"\n'
        'impressum_url = "https://www.lk-beispiel.de/impressum"\nprivacy_url = "https://www.lk-beispiel.de/datenschutz"\n'
        '\n  [[authorities.channels]]\n  id = "website"\n  type = "website"\n'
    )
    command = [sys.executable, "-m", "publisher", "--config", str(config)]
    token = subprocess.run(
        [*command, "token", "create", "--authority", "lk-beispiel"], capture_output=True, text=True, check=True
    ).stdout.strip()
    server = subprocess.Popen([*command, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(port, server)
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # the peak counts from here
        started_at = _peak_rss_mb(server.pid)

        status, sent = _chunked_post(port, ANNOUNCEMENTS, token, 300_000_000)
        assert status == 413 and sent < 100_000_000, (status, sent)

        huge = io.BytesIO()
        Image.new("RGBA", (6000, 6000), (0, 0, 0, 0)).save(huge, "PNG")
        media = [{"data": base64.b64encode(huge.getvalue()).decode(), "alt": "Karte"}] * 4
        body = json.dumps(warning(media=media)).encode()
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: requests.post(
                f"http://127.0.0.1:{port}{ANNOUNCEMENTS}", data=body, headers=bearer(token), timeout=120
            ), range(6)))  # fmt: skip
        peak = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(15)

    assert [a.status_code for a in answers] == [422] * 6
    assert "6000 × 6000 pixels" in answers[0].json()["problems"][0]["message"]
    print(f"herold serve: {started_at:.0f} MB after start, peak {peak:.0f} MB while refusing")
    assert peak < 300, f"the server peaked at {peak:.0f} MB"


def site_of(herold: Herold) -> Path:
    return Path(herold.settings.herold.data_dir) / "site" / str(SLUG)


# -- the same message twice (Idempotency-Key), drafts, exercises, previews ------------------------------


def test_the_same_document_twice_under_one_idempotency_key_is_one_announcement(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    key = {**auth, "Idempotency-Key": "5f0c2a4e-leitstelle-0001"}

    first = client.post(ANNOUNCEMENTS, json=warning(), headers=key)
    again = client.post(ANNOUNCEMENTS, json=warning(), headers=key)
    other = client.post(ANNOUNCEMENTS, json=warning(headline="Etwas anderes"), headers=key)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["source_id"] == "5f0c2a4e-leitstelle-0001"
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["error"]
    assert client.post(ANNOUNCEMENTS, json=warning(headline="Etwas anderes"), headers=auth).status_code == 201


def test_a_lone_surrogate_escaped_in_a_key_under_an_idempotency_key_is_a_422_not_a_server_error(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    # Found by the webhooks' fuzz test: the message's digest failed on it before validation ran.
    body = json.dumps(warning()).replace('"kind"', '"\\ud800kind"', 1).encode()
    answer = client.post(ANNOUNCEMENTS, content=body, headers={**auth, "Idempotency-Key": "k-1",
                                                              "content-type": "application/json"})  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert herold.store.announcements.listed(herold.settings.authorities[0].slug) == []


@pytest.mark.parametrize("key", [b"", b"x" * 201, "schlüssel".encode()])
def test_an_idempotency_key_that_cannot_be_one_is_refused(client: TestClient, auth: dict[str, str], key: bytes) -> None:
    headers = {name.encode(): value.encode() for name, value in auth.items()} | {b"Idempotency-Key": key}
    answer = client.post(ANNOUNCEMENTS, json=warning(), headers=headers)
    assert answer.status_code == 400 and "Idempotency-Key" in answer.json()["error"]


def test_an_exercise_is_stored_and_shown_and_never_delivered(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    answer = client.post(ANNOUNCEMENTS, json=warning(status="exercise"), headers=auth)

    assert answer.status_code == 201
    shown = client.get(f"{ANNOUNCEMENTS}/{answer.json()['id']}", headers=auth).json()
    assert (shown["cap_status"], shown["status"], shown["deliveries"]) == ("exercise", "not published (exercise)", [])


def test_a_draft_waits_for_its_approval(herold: Herold, client: TestClient, auth: dict[str, str]) -> None:
    draft = client.post(f"{ANNOUNCEMENTS}?stage=draft", json=warning(), headers=auth).json()
    assert (draft["stage"], draft["status"], draft["deliveries"]) == ("draft", "draft", [])

    submitted = client.post(f"{ANNOUNCEMENTS}/{draft['id']}/submit", headers=auth)
    by_its_writer = client.post(f"{ANNOUNCEMENTS}/{draft['id']}/approve", headers=auth)
    approver = bearer(herold.store.tokens.create(SLUG, "leitstelle", herold.clock(), Role.approver))
    approved = client.post(f"{ANNOUNCEMENTS}/{draft['id']}/approve", headers=approver)
    twice = client.post(f"{ANNOUNCEMENTS}/{draft['id']}/approve", headers=approver)

    assert submitted.json()["stage"] == "awaiting_approval"
    assert by_its_writer.status_code == 403 and "approver" in by_its_writer.json()["error"]
    assert approved.status_code == 200 and approved.json()["stage"] == "released"
    assert [d["channel"] for d in approved.json()["deliveries"]] == ["website"]
    assert twice.status_code == 409 and "released already" in twice.json()["error"]
    assert client.post(f"{ANNOUNCEMENTS}?stage=sent", json=warning(), headers=auth).status_code == 422


def test_nobody_approves_what_their_own_token_wrote(herold: Herold, client: TestClient) -> None:
    approver = bearer(herold.store.tokens.create(SLUG, "leitstelle", herold.clock(), Role.approver))
    draft = client.post(f"{ANNOUNCEMENTS}?stage=awaiting_approval", json=news(), headers=approver).json()
    refused = client.post(f"{ANNOUNCEMENTS}/{draft['id']}/approve", headers=approver)
    assert refused.status_code == 403 and "four-eyes" in refused.json()["error"]
    assert client.get(f"{ANNOUNCEMENTS}/{draft['id']}", headers=approver).json()["stage"] == "awaiting_approval"


def test_a_preview_shows_each_variant_with_its_count_and_stores_nothing(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"] += [{"id": "fedi", "type": "fake-fediverse"}]
    with registered():
        herold = make_herold(make_settings(authorities=[authority]))
        client, auth = client_for(herold), bearer(token_for(herold))
        long = warning(description="Die Bombe liegt in einer Baugrube an der Marktstraße. " * 20)

        answer = client.post("/api/v1/previews", json=long, headers=auth)

    assert answer.status_code == 200 and answer.json()["published"] is True
    website, fedi = answer.json()["channels"]
    assert website["channel"] == "website" and website["limit"] is None
    assert "Fliegerbombe in der Altstadt" in fedi["text"] and fedi["limit"] == 500
    assert fedi["length"] <= 500 and "description" in fedi["shortened"]
    assert herold.store.audit.entries() == [], "nothing was stored"
    invalid = client.post("/api/v1/previews", json=warning(headline=""), headers=auth)
    assert invalid.status_code == 422 and invalid.json()["problems"][0]["field"] == "headline"
    assert client.post("/api/v1/previews", json=warning()).status_code == 401


def test_a_preview_takes_the_same_photo_a_new_announcement_takes(client: TestClient, auth: dict[str, str]) -> None:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)).save(buffer, "PNG")  # noise: ~120 KB
    photo = {"data": base64.b64encode(buffer.getvalue()).decode(), "alt": "Lageplan des Sperrgebiets"}
    assert len(photo["data"]) > 64 * 1024

    preview = client.post("/api/v1/previews", json=warning(media=[photo]), headers=auth)
    accepted = client.post(ANNOUNCEMENTS, json=warning(media=[photo]), headers=auth)
    assert (preview.status_code, accepted.status_code) == (200, 201)


def test_a_hand_off_is_confirmed_through_the_api_with_the_post_s_address(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"] += [{"id": "whatsapp", "type": "fake-hand-off"}]
    with registered():
        herold = make_herold(make_settings(authorities=[authority], grace_warning_seconds=0.2))
        client, auth = client_for(herold), bearer(token_for(herold))
        announcement_id = published(herold, warning())
        confirm = f"{ANNOUNCEMENTS}/{announcement_id}/channels/whatsapp/confirm"

        not_an_address = client.post(confirm, json={"url": "javascript:alert(1)"}, headers=auth)
        confirmed = client.post(confirm, json={"url": "https://whatsapp.com/channel/0029Va/42"}, headers=auth)
        again = client.post(confirm, json={}, headers=auth)

    assert not_an_address.status_code == 422
    assert confirmed.status_code == 200
    [whatsapp] = [d for d in confirmed.json()["deliveries"] if d["channel"] == "whatsapp"]
    assert (whatsapp["state"], whatsapp["url"]) == ("succeeded", "https://whatsapp.com/channel/0029Va/42")
    assert again.status_code == 409


# -- the privacy guard: who may publish personal data, and that it is audited ---------------------------

PRIVATE = "Angehörige erreichen Frau Müller unter 0171 2345678."


def test_personal_data_is_refused_with_the_field_and_nothing_is_published(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post(ANNOUNCEMENTS, json=warning(description=PRIVATE), headers=auth)

    assert response.status_code == 422, response.text
    assert "description" in {problem["field"] for problem in response.json()["problems"]}
    assert herold.store.audit.entries(authority=SLUG) == []


def test_personal_data_in_the_source_line_is_refused_like_the_text(
    herold: Herold, client: TestClient, auth: dict[str, str]
) -> None:
    # The source line ("Quelle: …") is shown on every variant: an API client may set it.
    response = client.post(ANNOUNCEMENTS, json=warning(attribution="Hinweis von Max Mustermann, 0171 2345678"),
                           headers=auth)  # fmt: skip

    assert response.status_code == 422, response.text
    assert {problem["field"] for problem in response.json()["problems"]} == {"attribution"}
    assert herold.store.audit.entries(authority=SLUG) == []


@pytest.mark.parametrize(("role", "allowed"), [(Role.editor, False), (Role.approver, True), (Role.admin, True)])
def test_only_an_approver_or_admin_may_override_the_guard_and_the_override_is_audited_with_its_findings(
    herold: Herold, client: TestClient, role: Role, allowed: bool
) -> None:
    token = herold.store.tokens.create(SLUG, "leitstelle", herold.clock(), role)
    reason = "Angehörige müssen die Nummer der Betreuungsstelle erreichen"

    response = client.post(ANNOUNCEMENTS, json=warning(description=PRIVATE), headers=bearer(token),
                           params={"privacy_override": reason})  # fmt: skip

    if not allowed:
        assert response.status_code == 422, response.text
        assert "privacy_override" in {problem["field"] for problem in response.json()["problems"]}
        assert herold.store.audit.entries(authority=SLUG) == []
        return
    assert response.status_code == 201, response.text
    [accepted] = [e for e in herold.store.audit.entries(authority=SLUG) if e.action == "announcement.accepted"]
    assert accepted.detail is not None
    override = accepted.detail["privacy_override"]
    assert (override["reason"], override["role"]) == (reason, role.value)
    assert "phone" in {finding["kind"] for finding in override["findings"]}


def test_an_official_contact_on_the_allow_list_passes(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY) | {"official_contacts": ["presse@lk-beispiel.de", "+49 6151 881-0"]}
    herold = make_herold(make_settings(authorities=[authority]))

    announcement_id = accept(herold.engine, warning(contact="Pressestelle: presse@lk-beispiel.de, 06151 8810"),
                             source="test", actor="tester")  # fmt: skip

    assert herold.store.announcements.get(announcement_id) is not None


def test_a_follow_up_that_keeps_the_original_s_private_contact_needs_an_override_of_its_own(
    herold: Herold, client: TestClient
) -> None:
    approver = bearer(herold.store.tokens.create(SLUG, "leitstelle", herold.clock(), Role.approver))
    editor = bearer(herold.store.tokens.create(SLUG, "redaktion", herold.clock(), Role.editor))
    reason = {"privacy_override": "Angehörige müssen die Betreuungsstelle erreichen"}
    original = client.post(ANNOUNCEMENTS, json=warning(contact="Betreuung: Frau Weber, 0171 2345678"),
                           headers=approver, params=reason)  # fmt: skip
    assert original.status_code == 201, original.text

    update = warning(msg_type="update", references=original.json()["id"], headline="Sperrgebiet erweitert")
    update.pop("contact", None)  # kept from the original
    refused = client.post(ANNOUNCEMENTS, json=update, headers=editor)

    assert refused.status_code == 422, refused.text
    assert "contact" in {problem["field"] for problem in refused.json()["problems"]}


@pytest.mark.parametrize("reason", ["          ", "kurz", "Grund\x00mit NUL-Zeichen darin"])
def test_an_override_needs_a_real_reason(herold: Herold, client: TestClient, reason: str) -> None:
    approver = bearer(herold.store.tokens.create(SLUG, "leitstelle", herold.clock(), Role.approver))

    response = client.post(ANNOUNCEMENTS, json=warning(description=PRIVATE), headers=approver,
                           params={"privacy_override": reason})  # fmt: skip

    assert response.status_code == 422, response.text
    assert herold.store.audit.entries(authority=SLUG) == [], "nothing published"


# -- the list of what was published ---------------------------------------------------------------


def test_the_list_shows_the_authority_s_announcements_newest_first_with_short_ids_and_what_is_current(
    two_authorities: Herold,
) -> None:
    herold = two_authorities
    bomb = published(herold, warning(headline="Fliegerbombe in der Altstadt"))
    storm = published(herold, warning(headline="Sturmwarnung"))
    published(herold, warning(msg_type="cancel", references=bomb, headline="Entwarnung: Bombe entschärft",
                              severity=None, category=None, event=None, instruction=None, area=None))  # fmt: skip
    published(herold, news(headline="Öffnungszeiten"))
    published(herold, warning(authority="stadt-nachbar", headline="Nachbars Warnung"))

    with client_for(herold) as client:
        auth = bearer(token_for(herold))
        everything = client.get(ANNOUNCEMENTS, headers=auth).json()
        current = client.get(ANNOUNCEMENTS, params={"current": "true"}, headers=auth).json()
        warnings_only = client.get(ANNOUNCEMENTS, params={"kind": "warning"}, headers=auth).json()
        later = client.get(ANNOUNCEMENTS, params={"since": "2099-01-01T00:00:00Z"}, headers=auth).json()
        by_short_id = client.get(f"{ANNOUNCEMENTS}/{storm[:8]}", headers=auth)
        bad = client.get(ANNOUNCEMENTS, params={"since": "gestern"}, headers=auth)

    assert [a["headline"] for a in everything] == [
        "Öffnungszeiten",
        "Entwarnung: Bombe entschärft",
        "Sturmwarnung",
        "Fliegerbombe in der Altstadt",
    ], "newest first, and nothing of another authority"
    assert everything[2]["short_id"] == storm[:8]
    assert [a["headline"] for a in current] == ["Sturmwarnung"], "the all-clear ended the bomb warning"
    assert all(a["kind"] == "warning" for a in warnings_only) and len(warnings_only) == 3
    assert later == []
    assert by_short_id.status_code == 200 and by_short_id.json()["id"] == storm
    assert bad.status_code == 422


def test_a_draft_update_or_a_scheduled_alert_does_not_change_what_is_current(herold: Herold) -> None:
    bomb = published(herold, warning(headline="Fliegerbombe in der Altstadt"))
    receive(herold.engine, warning(msg_type="update", references=bomb, headline="Entwurf: Sperrgebiet größer"),
            source="test", actor="tester", stage=Stage.draft)  # fmt: skip
    later = (herold.clock() + timedelta(hours=2)).isoformat()
    accept(herold.engine, warning(headline="Probealarm um 14 Uhr", publish_at=later), source="test", actor="tester")

    with client_for(herold) as client:
        current = client.get(ANNOUNCEMENTS, params={"current": "true"}, headers=bearer(token_for(herold))).json()

    assert [a["headline"] for a in current] == ["Fliegerbombe in der Altstadt"]
