"""Tokens that expire: a channel keeps what its platform gave it in the database, the engine
refreshes it where the platform allows, and on-call hears a week before one stops working, or
at once when it can no longer be refreshed. Each alarm once."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters import register, unregister
from adapters.port import (
    Capabilities,
    Channel,
    ChannelSettings,
    Credential,
    CredentialsError,
    Post,
    Receipt,
    Wave,
)
from publisher.edges.wiring import Herold
from publisher.engine import tasks

from conftest import AUTHORITY, HeroldFactory, SettingsFactory

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SLUG = AUTHORITY["slug"]


class ExpiringSettings(ChannelSettings):
    token_env: str
    refreshable: bool = True  # the platform lets a token be refreshed (Threads) or not (a fixed date)
    expires: datetime = NOW + timedelta(days=60)


class Expiring(Channel):
    """A platform whose token lives 60 days and can be refreshed after a day (like Threads)."""

    type, label = "test-expiring", "Ablaufplattform"
    capabilities = Capabilities(wave=Wave.other)
    Settings = ExpiringSettings
    settings: ExpiringSettings
    refreshed = 0

    def publish(self, post: Post) -> Receipt:
        return Receipt(platform_id="1")

    def _current(self) -> Credential:
        kept = self.context.credentials.get("token")
        return kept or Credential(self.context.secrets["token"], self.settings.expires)

    def refresh_credentials(self) -> None:
        if not self.settings.refreshable:
            raise CredentialsError("the platform no longer refreshes this token")
        token = self._current()
        if token.updated_at and self.context.clock() - token.updated_at < timedelta(days=1):
            return
        type(self).refreshed += 1
        self.context.credentials.put("token", Credential(f"{token.value}+", self.context.clock() + timedelta(days=60)))

    def credentials_expire(self) -> datetime | None:
        return self._current().expires_at


@pytest.fixture(autouse=True)
def expiring() -> Iterator[None]:
    register(Expiring)
    Expiring.refreshed = 0
    yield
    unregister(Expiring.type)


def start(make_settings: SettingsFactory, make_herold: HeroldFactory, clock: list[datetime], **channel: Any) -> Herold:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "plattform", "type": "test-expiring", "token_env": "TOKEN", **channel})
    authority["oncall"] = {"emails": ["leitstelle@lk-beispiel.de"]}
    settings = make_settings(authorities=[authority], env={"TOKEN": "erster-token"}, smtp_host="127.0.0.1",
                             smtp_port=1, smtp_from="herold@lk-beispiel.de")  # fmt: skip
    return make_herold(settings, clock=lambda: clock[0])


def alarms(herold: Herold) -> list[str]:
    return [n.subject for n in herold.store.notifications.all()]


def test_a_refreshed_token_is_kept_in_the_database_and_used_after_a_restart(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    clock = [NOW]
    herold = start(make_settings, make_herold, clock)
    tasks.credentials(herold.engine, f"{SLUG}/plattform")
    assert Expiring.refreshed == 1
    kept = herold.store.credentials.get(SLUG, "plattform", "token")
    assert kept is not None and kept.value == "erster-token+" and kept.expires_at == NOW + timedelta(days=60)
    herold.stop()

    again = start(make_settings, make_herold, clock)
    channel = again.engine.channel(SLUG, "plattform")
    assert isinstance(channel, Expiring) and channel._current().value == "erster-token+"
    tasks.credentials(again.engine, f"{SLUG}/plattform")
    assert Expiring.refreshed == 1, "refreshed a moment ago: not again"
    assert alarms(again) == []


def test_a_token_that_cannot_be_refreshed_is_told_to_on_call_a_week_before_it_expires_and_once(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    clock = [NOW]
    herold = start(make_settings, make_herold, clock, refreshable=False, expires=NOW + timedelta(days=10))
    tasks.credentials(herold.engine, f"{SLUG}/plattform")
    refused = alarms(herold)
    assert len(refused) == 1 and "Zugang erneuern" in refused[0], "it can no longer be refreshed: said at once"
    clock[0] = NOW + timedelta(days=4)  # six days before it expires
    for _ in range(3):
        tasks.credentials(herold.engine, f"{SLUG}/plattform")
    expiring = [subject for subject in alarms(herold) if "läuft ab" in subject]
    assert len(expiring) == 1, "a week before, and once"
    assert len([s for s in alarms(herold) if "Zugang erneuern" in s]) == 2, "one refusal alarm per day"


def test_a_token_far_from_expiry_troubles_nobody(make_settings: SettingsFactory, make_herold: HeroldFactory) -> None:
    clock = [NOW]
    herold = start(make_settings, make_herold, clock)
    tasks.credentials(herold.engine, f"{SLUG}/plattform")
    assert alarms(herold) == []


def test_a_channel_sees_only_its_own_kept_credentials(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    clock = [NOW]
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"] += [{"id": "eins", "type": "test-expiring", "token_env": "TOKEN"},
                              {"id": "zwei", "type": "test-expiring", "token_env": "TOKEN"}]  # fmt: skip
    herold = make_herold(make_settings(authorities=[authority], env={"TOKEN": "t"}), clock=lambda: clock[0])
    one, two = herold.engine.channel(SLUG, "eins"), herold.engine.channel(SLUG, "zwei")
    one.context.credentials.put("token", Credential("nur-eins"))
    assert two.context.credentials.get("token") is None
    assert herold.engine.channel(SLUG, "eins").context.credentials.get("token") == Credential("nur-eins", None, NOW)


def test_the_sweep_asks_each_expiring_channel_by_a_task_of_its_own(
    make_settings: SettingsFactory, make_herold: HeroldFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [NOW]
    herold = start(make_settings, make_herold, clock)
    submitted: list[tuple[str, str]] = []
    monkeypatch.setattr(herold.engine, "submit", lambda task, argument, **_: submitted.append((task, argument)))
    monkeypatch.setattr(tasks, "_credentials_looked", {})
    tasks.sweep(herold.engine)
    tasks.sweep(herold.engine)
    assert submitted.count(("credentials", f"{SLUG}/plattform")) == 1, "a few times a day, not every sweep"
