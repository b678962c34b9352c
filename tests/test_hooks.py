"""Warning systems' webhooks: ``POST /hooks/{authority}/{integration}``.

A warning system signs each request per Standard Webhooks (or, weaker, sends a bearer token); its
CAP alert becomes an announcement in seconds, relayed verbatim. The same alert twice is one
announcement; an Update or Cancel follows the item of the alert it references; whatever else
arrives is a short 4xx, never a 500 and never an announcement.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from publisher.domain.records import Stage
from publisher.edges.hooks import signed_by
from publisher.edges.web import create_app
from publisher.edges.wiring import Herold
from publisher.engine.tasks import wait_until_settled

from conftest import AUTHORITY, HeroldFactory, SettingsFactory

SLUG = AUTHORITY["slug"]
SECRET = "whsec_" + base64.b64encode(b"a secret of the control room!!!!").decode()
SECRET_2 = "whsec_" + base64.b64encode(b"a secret of the exercise system!").decode()
SECRET_3 = "whsec_" + base64.b64encode(b"a secret of the weather service!").decode()
TOKEN = "leitstelle-token-0123456789abcdefghij"
FIXTURES = Path(__file__).parent / "fixtures" / "cap"
DWD_ALERT = FIXTURES / "dwd-alert-windboeen-2023-06-22.xml"


def cap(identifier: str = "herold-test-1", msg_type: str = "Alert", status: str = "Actual", references: str = "",
        sent: str = "2026-12-02T21:00:00+01:00", sender: str = "warnung@leitstelle.example.de",
        headline: str = "Großbrand in Beispielheim: Fenster und Türen geschlossen halten") -> bytes:  # fmt: skip
    """A small valid CAP 1.2 alert."""
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>{sender}</sender>
  <sent>{sent}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <language>de-DE</language>
    <category>Fire</category>
    <event>Großbrand</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>{headline}</headline>
    <description>In einer Lagerhalle in Beispielheim brennt es. Es entsteht starker Rauch.</description>
    <instruction>Halten Sie Fenster und Türen geschlossen. Schalten Sie Lüftungen aus.</instruction>
    <area><areaDesc>Beispielheim</areaDesc></area>
  </info>
</alert>""".encode()


@pytest.fixture
def herold(make_herold: HeroldFactory, make_settings: SettingsFactory) -> Herold:
    authority = copy.deepcopy(AUTHORITY)
    authority["integrations"] = [
        {"id": "leitstelle", "format": "cap", "secret_env": "HOOK_SECRET"},
        {"id": "dwd", "format": "cap", "secret_env": "HOOK_SECRET_3", "senders": ["opendata@dwd.de"],
         "decision": "draft", "attribution": "Deutscher Wetterdienst"},
        {"id": "uebung", "format": "cap", "secret_env": "HOOK_SECRET_2", "decision": "ignore"},
        {"id": "software", "format": "announcement", "token_env": "HOOK_TOKEN"},
    ]  # fmt: skip
    env = {"HOOK_SECRET": SECRET, "HOOK_SECRET_2": SECRET_2, "HOOK_SECRET_3": SECRET_3, "HOOK_TOKEN": TOKEN}
    return make_herold(make_settings(authorities=[authority], env=env))


@pytest.fixture
def client(herold: Herold) -> Iterator[TestClient]:
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
        yield client


def signed(body: bytes, hook_id: str = "msg_1", at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    moment = datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC)
    signature = Webhook(secret).sign(hook_id, moment, body.decode("utf-8", "replace"))
    return {"webhook-id": hook_id, "webhook-timestamp": str(int(moment.timestamp())), "webhook-signature": signature,
            "content-type": "application/cap+xml"}  # fmt: skip


def post(client: TestClient, body: bytes, integration: str = "leitstelle", **headers: Any) -> Any:
    return client.post(f"/hooks/{SLUG}/{integration}", content=body, headers=headers or signed(body))


def stored_count(herold: Herold) -> int:
    return len(herold.store.announcements.listed(SLUG))


# -- taking a warning -------------------------------------------------------------------------------------


def test_a_signed_cap_alert_is_published_at_once_verbatim_with_its_source(client: TestClient, herold: Herold) -> None:
    answer = post(client, cap())
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["decision"] == "published" and body["created"] is True
    stored = herold.store.announcements.get(body["id"])
    assert stored is not None
    assert stored.source == "cap:leitstelle"
    assert stored.source_id == "warnung@leitstelle.example.de,herold-test-1,2026-12-02T21:00:00+01:00"
    assert stored.announcement.headline == "Großbrand in Beispielheim: Fenster und Türen geschlossen halten"
    assert stored.announcement.instruction == "Halten Sie Fenster und Türen geschlossen. Schalten Sie Lüftungen aus."
    deliveries = wait_until_settled(herold.engine, body["id"], timeout=30)
    assert [d.state.value for d in deliveries] == ["succeeded"]


def test_the_same_alert_twice_is_one_announcement_whatever_its_webhook_id(client: TestClient, herold: Herold) -> None:
    first = post(client, cap())
    again = post(client, cap(), **signed(cap(), hook_id="msg_1"))
    resent = post(client, cap(), **signed(cap(), hook_id="msg_2"))
    assert first.status_code == 202 and again.status_code == resent.status_code == 200
    assert first.json()["id"] == again.json()["id"] == resent.json()["id"]
    assert stored_count(herold) == 1


def test_an_update_and_a_cancel_follow_the_item_of_the_alert_they_reference(client: TestClient, herold: Herold) -> None:
    alert = post(client, cap()).json()["id"]
    reference = "warnung@leitstelle.example.de,herold-test-1,2026-12-02T21:00:00+01:00"
    update = post(client, cap("herold-test-2", "Update", references=reference, sent="2026-12-02T21:30:00+01:00"),
                  **signed(cap("herold-test-2", "Update", references=reference, sent="2026-12-02T21:30:00+01:00"),
                           hook_id="msg_2")).json()  # fmt: skip
    body = cap("herold-test-3", "Cancel", references=reference, sent="2026-12-02T22:00:00+01:00",
               headline="Entwarnung: Brand in Beispielheim gelöscht")  # fmt: skip
    cancel = post(client, body, **signed(body, hook_id="msg_3")).json()
    stored = [herold.store.announcements.get(i) for i in (alert, update["id"], cancel["id"])]
    assert [s.announcement.msg_type.value for s in stored if s] == ["alert", "update", "cancel"]
    assert len({s.item_id for s in stored if s}) == 1, "one item, its history below its newest state"


def test_an_update_of_an_alert_herold_never_saw_is_a_new_item_that_says_so(client: TestClient, herold: Herold) -> None:
    body = cap("u-1", "Update", references="warnung@leitstelle.example.de,never-seen,2026-12-01T10:00:00+01:00")
    answer = post(client, body).json()
    assert answer["decision"] == "published" and "never received" in answer["note"]
    stored = herold.store.announcements.get(answer["id"])
    assert stored is not None and stored.announcement.msg_type.value == "alert"


def test_an_all_clear_of_nothing_herold_published_is_recorded_not_published(client: TestClient, herold: Herold) -> None:
    body = cap("c-1", "Cancel", references="warnung@leitstelle.example.de,never-seen,2026-12-01T10:00:00+01:00")
    answer = post(client, body)
    assert answer.status_code == 202 and answer.json()["decision"] == "ignored"
    assert stored_count(herold) == 0
    assert any(e.action == "relay.decided" for e in herold.store.audit.entries(authority=SLUG))


def test_an_exercise_is_stored_and_never_delivered(client: TestClient, herold: Herold) -> None:
    answer = post(client, cap(status="Exercise")).json()
    stored = herold.store.announcements.get(answer["id"])
    assert stored is not None and stored.announcement.status.value == "exercise"
    assert herold.store.operations.of(answer["id"]) == []


def test_an_integration_may_keep_its_messages_for_approval_or_only_record_them(
    client: TestClient, herold: Herold
) -> None:
    body = cap(sender="opendata@dwd.de")
    dwd = post(client, body, integration="dwd", **signed(body, secret=SECRET_3)).json()
    assert dwd["decision"] == "draft"
    stored = herold.store.announcements.get(dwd["id"])
    assert stored is not None and stored.stage is Stage.awaiting_approval
    assert stored.announcement.attribution == "Deutscher Wetterdienst", "the integration names the source"
    decided = [e for e in herold.store.audit.entries(authority=SLUG) if e.action == "relay.decided"]
    assert (decided[-1].detail or {})["rule"] == "the integration's decision"
    ignored = post(client, cap("x-2"), integration="uebung", **signed(cap("x-2"), secret=SECRET_2))
    assert ignored.status_code == 202 and ignored.json()["decision"] == "ignored"
    assert stored_count(herold) == 1


def test_a_real_weather_service_alert_is_taken_in_its_german_text(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["integrations"] = [{"id": "dwd", "format": "cap", "secret_env": "S", "senders": ["opendata@dwd.de"]}]
    # The alert was current on the evening it was sent (it expired the next afternoon).
    evening = datetime(2023, 6, 22, 21, 45, tzinfo=UTC)
    herold = make_herold(make_settings(authorities=[authority], env={"S": SECRET}), clock=lambda: evening)
    body = DWD_ALERT.read_bytes()
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
        answer = post(client, body, integration="dwd", **signed(body))
    assert answer.status_code == 202, answer.text
    stored = herold.store.announcements.get(answer.json()["id"])
    assert stored is not None and "WINDBÖEN" in (stored.announcement.event or "").upper()
    assert stored.announcement.language == "de" and "en" in stored.announcement.translations


def test_a_bearer_token_integration_takes_an_announcement(client: TestClient, herold: Herold) -> None:
    document = {"kind": "news", "headline": "Leitstelle: Probealarm am Samstag", "description": "Um 11 Uhr."}
    body = json.dumps(document).encode()
    refused = client.post(
        f"/hooks/{SLUG}/software",
        content=body,
        headers={"authorization": "Bearer falsch", "content-type": "application/json"},
    )
    taken = client.post(
        f"/hooks/{SLUG}/software",
        content=body,
        headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
    )
    assert refused.status_code == 401
    assert taken.status_code == 202, taken.text
    assert stored_count(herold) == 1


# -- what is refused ----------------------------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&lol2;</alert>"""


@pytest.mark.parametrize(
    ("case", "path", "body", "headers", "status"),
    [
        ("unknown authority", "/hooks/niemand/leitstelle", cap(), None, 404),
        ("unknown integration", f"/hooks/{SLUG}/niemand", cap(), None, 404),
        ("no signature", f"/hooks/{SLUG}/leitstelle", cap(), {"content-type": "application/cap+xml"}, 401),
        ("wrong secret", f"/hooks/{SLUG}/leitstelle", cap(),
         signed(cap(), secret="whsec_" + base64.b64encode(b"x" * 32).decode()), 401),
        ("too old", f"/hooks/{SLUG}/leitstelle", cap(), signed(cap(), at=time.time() - 6 * 60), 401),
        ("signed for another body", f"/hooks/{SLUG}/leitstelle", cap(), signed(cap("other")), 401),
        ("wrong content type", f"/hooks/{SLUG}/leitstelle", cap(), {**signed(cap()), "content-type": "text/plain"},
         415),
        ("not XML", f"/hooks/{SLUG}/leitstelle", b"hello", signed(b"hello"), 422),
        ("external entity", f"/hooks/{SLUG}/leitstelle", XXE, signed(XXE), 422),
        ("entity expansion", f"/hooks/{SLUG}/leitstelle", LAUGHS, signed(LAUGHS), 422),
        ("wrong namespace", f"/hooks/{SLUG}/leitstelle", cap().replace(b"cap:1.2", b"cap:1.1"),
         signed(cap().replace(b"cap:1.2", b"cap:1.1")), 422),
        ("time with Z", f"/hooks/{SLUG}/leitstelle", cap(sent="2026-12-02T20:00:00Z"),
         signed(cap(sent="2026-12-02T20:00:00Z")), 422),
        ("sender not allowed", f"/hooks/{SLUG}/dwd", cap(), signed(cap(), secret=SECRET_3), 403),
        ("signed for another integration", f"/hooks/{SLUG}/dwd", cap(sender="opendata@dwd.de"),
         signed(cap(sender="opendata@dwd.de")), 401),
        ("over 1 MiB", f"/hooks/{SLUG}/leitstelle", b"<" * (1024 * 1024 + 1), None, 413),
    ],
)  # fmt: skip
def test_bad_input_is_a_short_4xx_and_never_an_announcement(
    client: TestClient, herold: Herold, case: str, path: str, body: bytes, headers: dict[str, str] | None, status: int
) -> None:
    answer = client.post(path, content=body, headers=headers if headers is not None else signed(body))
    assert answer.status_code == status, (case, answer.text)
    assert set(answer.json()) == {"error"} and len(answer.json()["error"]) < 600
    assert stored_count(herold) == 0


@pytest.mark.parametrize("timestamp", ["²", "١٧٠٠٠٠٠٠٠٠", "17e8", " 1700000000", ""])
def test_a_timestamp_that_is_not_ascii_digits_is_no_valid_signature_and_no_server_error(timestamp: str) -> None:
    # "²" passes str.isdigit and int() refuses it: the header is the sender's, any bytes may come.
    assert signed_by(SECRET, b"<alert/>", "msg_1", timestamp, "v1,AAAA") is False


def test_a_refusal_is_one_log_line_without_the_payload(client: TestClient, capfd: pytest.CaptureFixture[str]) -> None:
    body = cap(headline="Geheimer Text, der nicht ins Log gehört")
    post(client, body, **{**signed(body), "content-type": "text/plain"})
    err = capfd.readouterr().err
    assert err.count("ingest rejected") == 1 and "Geheimer Text" not in err, "one line, without the payload"
    post(client, b"<" * (1024 * 1024 + 1))
    assert "ingest rejected" in capfd.readouterr().err, "a body too large is logged as well"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_messages_never_cause_a_server_error(client: TestClient, herold: Herold, data: st.DataObject) -> None:
    body = bytearray(cap(identifier=f"fuzz-{data.draw(st.integers(0, 10**6))}"))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(body) - 1))
        body[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(body) // 2, len(body)))
    mutated = bytes(body[:cut])
    answer = post(client, mutated, **signed(mutated, hook_id=f"fuzz_{cut}"))
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert set(answer.json()) == {"error"}


def test_alert_update_cancel_is_one_item_and_one_mastodon_thread_ending_unpinned_in_the_all_clear(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    from fakes.mastodon_server import FakeMastodon

    with FakeMastodon(tokens={"herold-token": "lkbeispiel"}) as fake:
        authority = copy.deepcopy(AUTHORITY)
        authority["channels"].append(
            {"id": "mastodon", "type": "mastodon", "instance": fake.url, "access_token_env": "TOKEN"}
        )
        authority["integrations"] = [{"id": "leitstelle", "format": "cap", "secret_env": "S"}]
        settings = make_settings(authorities=[authority], env={"S": SECRET, "TOKEN": "herold-token"},
                                 grace_warning_seconds=0.2)  # fmt: skip
        herold = make_herold(settings)
        reference = "warnung@leitstelle.example.de,herold-test-1,2026-12-02T21:00:00+01:00"
        messages = [
            cap(),
            cap("herold-test-2", "Update", references=reference, sent="2026-12-02T21:30:00+01:00",
                headline="Großbrand in Beispielheim: Rauch zieht nach Osten"),
            cap("herold-test-3", "Cancel", references=reference, sent="2026-12-02T22:00:00+01:00",
                headline="Entwarnung: Brand in Beispielheim gelöscht"),
        ]  # fmt: skip
        ids = []
        with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
            for number, body in enumerate(messages):
                answer = post(client, body, **signed(body, hook_id=f"msg_{number}"))
                assert answer.status_code == 202, answer.text
                ids.append(answer.json()["id"])
                wait_until_settled(herold.engine, ids[-1], timeout=30)
        statuses = fake.statuses
        assert len(statuses) == 3
        assert statuses[1]["in_reply_to_id"] == statuses[0]["id"]
        assert statuses[2]["in_reply_to_id"] == statuses[1]["id"], "one thread, ending in the all-clear"
        assert "Entwarnung" in statuses[2]["text"]
        pins = [r.path.rsplit("/", 1)[-1] for r in fake.requests if r.path.endswith(("/pin", "/unpin"))]
        assert pins[0] == "pin" and pins[-1] == "unpin", "pinned while it was live"
        assert not any(s["pinned"] for s in statuses), "the pin came off with the all-clear"
        stored = [herold.store.announcements.get(i) for i in ids]
        item = herold.sites(SLUG)[0].directory / stored[0].item_path / "index.html"  # type: ignore[union-attr]
        page = item.read_text()
        assert page.index("Entwarnung: Brand in Beispielheim gelöscht") < page.index("Rauch zieht nach Osten")


def test_a_cancel_of_an_alert_still_waiting_for_approval_sends_it_back(client: TestClient, herold: Herold) -> None:
    body = cap(sender="opendata@dwd.de")
    waiting = post(client, body, integration="dwd", **signed(body, secret=SECRET_3)).json()["id"]
    reference = "opendata@dwd.de,herold-test-1,2026-12-02T21:00:00+01:00"
    cancel = cap("c-9", "Cancel", references=reference, sender="opendata@dwd.de", sent="2026-12-02T21:10:00+01:00")
    answer = post(client, cancel, integration="dwd", **signed(cancel, hook_id="msg_9", secret=SECRET_3))
    assert answer.status_code == 202 and answer.json()["decision"] == "ignored"
    stored = herold.store.announcements.get(waiting)
    assert stored is not None and stored.stage is Stage.rejected, "what the sender cancelled never goes out"


def test_a_channel_the_relayed_text_cannot_fit_is_left_out_not_the_warning(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "whatsapp", "type": "manual", "max_characters": 100})
    authority["integrations"] = [{"id": "leitstelle", "format": "cap", "secret_env": "S"}]
    herold = make_herold(make_settings(authorities=[authority], env={"S": SECRET}))
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
        answer = post(client, cap())
    assert answer.status_code == 202, answer.text
    assert "whatsapp" in answer.json()["left_out"][0]
    stored = herold.store.announcements.get(answer.json()["id"])
    assert stored is not None and stored.announcement.channels == ["website"]


def test_an_exercise_is_answered_as_stored_not_published(client: TestClient) -> None:
    assert post(client, cap(status="Exercise")).json()["decision"] == "stored"


def test_a_body_in_latin_1_signed_over_its_bytes_is_taken(client: TestClient, herold: Herold) -> None:
    body = cap().decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    moment = int(time.time())
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    import hashlib
    import hmac

    signature = base64.b64encode(hmac.new(key, f"msg_l.{moment}.".encode() + body, hashlib.sha256).digest()).decode()
    headers = {"webhook-id": "msg_l", "webhook-timestamp": str(moment), "content-type": "application/cap+xml",
               "webhook-signature": f"v2,xyz garbage v1,{signature}"}  # fmt: skip
    answer = post(client, body, **headers)
    assert answer.status_code == 202, answer.text
    stored = herold.store.announcements.get(answer.json()["id"])
    assert stored is not None and stored.announcement.headline.startswith("Großbrand")
