"""Secrets never leave Herold (issue 10, retention and secrets): whatever a platform answers —
even an error that quotes the token it refused — no channel's token, password or signing
secret appears in a delivery's error, `herold status`, the audit log, an on-call alarm or a log
line. Run for every channel type that speaks HTTP, through the engine, as an operator runs it,
and for SFTP against its own fake host."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from test_kit_send_only import cases_of

from adapters import channel_types
from publisher.edges import logs
from publisher.engine.report import report, table
from publisher.engine.schema import NotificationRow
from publisher.engine.tasks import wait_until_settled
from publisher.sources.intake import accept

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, warning
from fakes.sftp_server import FakeSftp
from fakes.webhook_receiver import Answer, Receiver
from helpers import eventually
from kit import ChannelCase

CASES = [case for kind in channel_types().values() for case in cases_of(kind)[:1] if case.network and case.http]


def secrets_for(case: ChannelCase) -> dict[str, str]:
    """The case's secrets, by key (in the form its platform takes: a webhook's is whsec_…)."""
    assert all(len(value) >= 6 for value in case.secrets.values()), "long enough to be told from words"
    return dict(case.secrets)


def echoing(status: int, values: dict[str, str]) -> Answer:
    """An error answer that quotes every secret back, in the fields platforms put messages in."""
    quoted = " ".join(values.values())
    body = {"error": f"invalid token {quoted}", "message": f"Authorization: Bearer {quoted}",
            "code": "incorrect_password", "description": quoted, "errors": [{"message": quoted}]}  # fmt: skip
    return Answer(status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


@pytest.fixture
def remembered() -> Iterator[None]:
    yield
    logs.remember_secrets(())


@pytest.mark.parametrize("case", CASES, ids=[case.kind.type for case in CASES])
def test_no_secret_in_errors_status_audit_alarms_or_logs(
    case: ChannelCase,
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    capfd: pytest.CaptureFixture[str],
    remembered: None,
) -> None:
    values = secrets_for(case)
    with Receiver(default=echoing(500, values)) as platform:
        configured: dict[str, Any] = case.settings(platform.url)
        env = {configured[f"{key}_env"]: value for key, value in values.items()}
        authority = copy.deepcopy(AUTHORITY)
        authority["channels"].append({"id": "kanal", "type": case.kind.type, **configured})
        authority["oncall"] = {"emails": ["lagezentrum@lk-beispiel.de"]}
        settings = make_settings(authorities=[authority], env=env, retry_base_seconds=0.05,
                                 smtp_host="127.0.0.1", smtp_port=9)  # fmt: skip
        logs.remember_secrets(settings.secret_values())  # as every `herold` command does
        herold = make_herold(settings)

        announcement_id = accept(herold.engine, warning(), source="test", actor="tester")
        assert eventually(lambda: any(d.last_error for d in _deliveries(herold, announcement_id))), (
            "the platform's 500 never came back as a delivery's error"
        )
        platform.default = echoing(401, values)
        wait_until_settled(herold.engine, announcement_id, timeout=30)

        result = report(herold.engine, announcement_id)
        assert result is not None
        with herold.store.engine.begin() as connection:
            rows = connection.execute(select(NotificationRow.subject, NotificationRow.body, NotificationRow.payload))
            alarms = [f"{subject} {body} {payload}" for subject, body, payload in rows]
        seen = {
            "errors": [d.last_error or "" for d in _deliveries(herold, announcement_id)],
            "status": [table(result), result.model_dump_json()],
            "audit": [json.dumps(e.detail, default=str) for e in herold.store.audit.entries()],
            "alarms": alarms,
            "logs": [capfd.readouterr().err],
        }
    assert any("401" in text for text in seen["status"]), "the refusal itself is shown"
    leaked = {
        where: value for where, texts in seen.items() for text in texts for value in values.values() if value in text
    }
    assert leaked == {}


def _deliveries(herold: Any, announcement_id: str) -> list[Any]:
    return [o for o in herold.store.operations.of(announcement_id) if o.channel == "kanal"]


def test_an_sftp_password_the_host_refuses_appears_nowhere(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    capfd: pytest.CaptureFixture[str],
    remembered: None,
    tmp_path: Any,
) -> None:
    # SFTP speaks no HTTP, so the double above cannot play it: its own fake host refuses the login.
    wrong = "falsches-Passwort-7d3f9a2c5b"
    root = tmp_path / "host"
    (root / "warnungen").mkdir(parents=True)
    with FakeSftp(root, password="das-richtige-Passwort") as host:
        authority = copy.deepcopy(AUTHORITY)
        authority["channels"].append({
            "id": "kanal", "type": "sftp", "host": "127.0.0.1", "port": host.port, "username": "herold",
            "directory": "/warnungen", "password_env": "KIT_SFTP_PASSWORD", "host_key": host.host_key_line,
        })  # fmt: skip
        settings = make_settings(authorities=[authority], env={"KIT_SFTP_PASSWORD": wrong})
        logs.remember_secrets(settings.secret_values())
        herold = make_herold(settings)

        announcement_id = accept(herold.engine, warning(), source="test", actor="tester")
        wait_until_settled(herold.engine, announcement_id, timeout=30)

        result = report(herold.engine, announcement_id)
        assert result is not None
        seen = [table(result), result.model_dump_json(), capfd.readouterr().err,
                *(d.last_error or "" for d in _deliveries(herold, announcement_id)),
                *(json.dumps(e.detail, default=str) for e in herold.store.audit.entries())]  # fmt: skip
    assert any("refused" in text for text in seen), "the refusal itself is shown"
    assert not [text for text in seen if wrong in text]
