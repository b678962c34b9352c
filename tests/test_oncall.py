"""No silent failure: the authority's on-call contacts hear what needs a person, once per cause."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import pytest

from publisher.edges.wiring import Herold
from publisher.engine.report import report, table
from publisher.engine.tasks import wait_until_settled
from publisher.sources.intake import accept

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, warning
from fakes.channels import Journal
from fakes.mailbox import Mailbox
from fakes.webhook_receiver import Receiver, Request

SECRET = "whsec_" + base64.b64encode(b"a secret shared with the control room").decode()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def control_room() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def start(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    mailbox: Mailbox,
    control_room: Receiver,
    script: list[str],
    **oncall: Any,
) -> Herold:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "social", "type": "fake-other", "script": script})
    authority["oncall"] = {
        "emails": ["leitstelle@lk-beispiel.de"],
        "webhook_url": control_room.url,
        "webhook_secret_env": "HEROLD_ONCALL_SECRET",
        **oncall,
    }
    return make_herold(make_settings(
        authorities=[authority], env={"HEROLD_ONCALL_SECRET": SECRET}, grace_warning_seconds=0.2,
        retry_base_seconds=0.05, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_from="herold@lk-beispiel.de",
    ))  # fmt: skip


def publish(herold: Herold, **changes: Any) -> str:
    announcement_id = accept(herold.engine, warning(**changes), source="test", actor="t")
    wait_until_settled(herold.engine, announcement_id, 30)
    return announcement_id


def verified(request: Request) -> dict[str, Any]:
    """The payload, after checking its Standard Webhooks signature independently of the library."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"
    payload: dict[str, Any] = request.json()
    return payload


def test_a_delivery_that_fails_for_good_is_mailed_and_posted_to_the_control_room_at_once(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    mailbox: Mailbox,
    control_room: Receiver,
    journal: Journal,
) -> None:
    herold = start(make_settings, make_herold, mailbox, control_room, ["permanent"])
    started = time.monotonic()
    announcement_id = publish(herold)
    [mail] = mailbox.wait_for(1, timeout=30)
    [posted] = control_room.wait_for(1, timeout=30)
    assert time.monotonic() - started < 60
    assert mail["To"] == "leitstelle@lk-beispiel.de"
    assert mail["Subject"] == "Herold: social – failed: Fliegerbombe in der Altstadt"
    body = mail.get_content()
    assert "ist endgültig fehlgeschlagen" in body and "the platform answered 422: text too long" in body
    assert f"herold status {announcement_id}" in body
    data = verified(posted)["data"]
    assert (data["channel"], data["state"], data["announcement_id"]) == ("social", "failed", announcement_id)
    assert {n.state for n in herold.store.notifications.all()} == {"sent"}


def test_refused_credentials_flag_the_channel_and_are_told_once_until_it_works_again(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    mailbox: Mailbox,
    control_room: Receiver,
    journal: Journal,
) -> None:
    herold = start(make_settings, make_herold, mailbox, control_room, ["credentials", "credentials", "ok"])
    first = publish(herold)
    publish(herold, headline="Zweite Warnung")
    mails = mailbox.wait_for(3, timeout=30)
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == [
        "Herold: Kanal social braucht Zugangsdaten",
        "Herold: social – failed: Fliegerbombe in der Altstadt",
        "Herold: social – failed: Zweite Warnung",
    ]
    status = report(herold.engine, first)
    assert status is not None
    assert status.attention == {"social": "credentials refused: the platform answered 401: the access token is invalid"}
    assert "ATTENTION: channel social needs a person" in table(status)
    publish(herold, headline="Dritte Warnung")
    assert herold.store.health.attention("lk-beispiel") == {}, "a success clears the flag"


def test_a_notification_that_cannot_be_sent_is_tried_again(
    make_settings: SettingsFactory, make_herold: HeroldFactory, mailbox: Mailbox, journal: Journal
) -> None:
    with Receiver([500, 503]) as control_room:
        herold = start(make_settings, make_herold, mailbox, control_room, ["permanent"])
        publish(herold)
        requests = control_room.wait_for(3, timeout=30)
        assert [r.headers["webhook-id"] for r in requests] == [requests[0].headers["webhook-id"]] * 3
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            webhook = [n for n in herold.store.notifications.all() if n.medium == "webhook"]
            if webhook and webhook[0].state == "sent":
                break
            time.sleep(0.05)
        assert webhook[0].state == "sent" and webhook[0].attempts == 3


def test_without_on_call_contacts_the_failure_is_still_in_the_audit_log(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "social", "type": "fake-other", "script": ["permanent"]})
    herold = make_herold(make_settings(authorities=[authority], grace_warning_seconds=0.2))
    announcement_id = publish(herold)
    assert herold.store.notifications.all() == []
    assert "alarm" in [e.action for e in herold.store.audit.entries(announcement_id=announcement_id)]
