"""Relaying a warning system's message: the one path from a CAP alert or a NINA/MoWaS warning
(pushed to a webhook, or fetched by a poller) to an announcement, or to a recorded decision.

The authority's routing rules decide, in order, whether a warning is published at once, kept
for approval or only recorded, and on which channels; every decision is audited with the rule
that made it. What follows an item that went out is never dropped. Texts stay the sender's, with
the source named.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from publisher.domain.records import Stage
from publisher.edges.cli import main
from publisher.edges.wiring import Herold
from publisher.engine.tasks import wait_until_settled
from publisher.sources.cap import parse_cap
from publisher.sources.intake import approve
from publisher.sources.nina import parse_nina
from publisher.sources.relay import NotRelayed, relay_alert, relay_gone, source_of

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, herold_toml

FIXTURES = Path(__file__).parent / "fixtures"
BORKEN = (FIXTURES / "nina" / "mowas-alert-DE-NW-BOR-SE059-20220217-59-000.json").read_bytes()
SIEGEN_UPDATE = (FIXTURES / "nina" / "mowas-update-DE-NW-SI-SE066-20220211-66-001.json").read_bytes()
DWD_ALERT = (FIXTURES / "cap" / "dwd-alert-windboeen-2023-06-22.xml").read_bytes()
SLUG = AUTHORITY["slug"]
# When the MoWaS warnings were current.
FEBRUARY_2022 = datetime(2022, 2, 17, 6, 0, tzinfo=UTC)

RULES = [
    {"name": "Kreis Borken: at once", "sources": ["nina"], "geocodes": ["ARS:055540000000"], "decision": "publish"},
    {"name": "Weather, minor: recorded only", "sources": ["dwd"], "severities": ["minor"], "decision": "ignore"},
    {"name": "NINA elsewhere: an approver decides", "sources": ["nina"], "decision": "draft"},
]


def authority(**changes: Any) -> dict[str, Any]:
    owner = copy.deepcopy(AUTHORITY)
    owner["integrations"] = [
        {"id": "nina", "format": "nina", "poll": {"ars": "055540000000"}},
        {"id": "dwd", "format": "cap", "poll": {"url": "https://opendata.example.org/cap/atom.xml"},
         "attribution": "Deutscher Wetterdienst"},
    ]  # fmt: skip
    return {**owner, **changes}


@pytest.fixture
def herold(make_herold: HeroldFactory, make_settings: SettingsFactory) -> Herold:
    return make_herold(make_settings(authorities=[authority(rules=RULES)]), clock=lambda: FEBRUARY_2022)


def integration(herold: Herold, name: str) -> Any:
    return next(i for i in herold.engine.authority(SLUG).integrations if i.id == name)


def relay(herold: Herold, body: bytes, name: str = "nina", **kwargs: Any) -> Any:
    read = parse_nina if name == "nina" else parse_cap
    return relay_alert(herold.engine, herold.engine.authority(SLUG), integration(herold, name), read(body), via="test",
                       **kwargs)  # fmt: skip


def decided(herold: Herold) -> list[dict[str, Any]]:
    return [e.detail or {} for e in herold.store.audit.entries(authority=SLUG) if e.action == "relay.decided"]


def as_alert(update: bytes, identifier: str, sent: str) -> bytes:
    """The alert an update names, as its sender would have sent it (the fixture has only the update)."""
    warning = json.loads(update)
    warning.update(identifier=identifier, sent=sent, msgType="Alert")
    warning.pop("references")
    return json.dumps(warning).encode()


# -- routing ---------------------------------------------------------------------------------------------


def test_a_rule_for_the_authority_s_regional_key_publishes_a_mowas_warning_at_once(herold: Herold) -> None:
    relayed = relay(herold, BORKEN)
    assert relayed.decision == "published"
    assert decided(herold)[-1]["rule"] == "Kreis Borken: at once"
    assert "055540000000" in decided(herold)[-1]["why"]


def test_a_warning_no_earlier_rule_takes_falls_to_the_next_rule_and_waits_for_approval(herold: Herold) -> None:
    elsewhere = json.loads(BORKEN)
    for area in elsewhere["info"][0]["area"]:
        for code in area["geocode"]:
            code["value"] = "059700000000"  # Siegen-Wittgenstein, not the Kreis Borken
    relayed = relay(herold, json.dumps(elsewhere).encode())
    assert relayed.decision == "draft"
    stored = herold.store.announcements.get(relayed.id)
    assert stored is not None and stored.stage is Stage.awaiting_approval
    assert decided(herold)[-1]["rule"] == "NINA elsewhere: an approver decides"


def test_an_ignored_warning_is_recorded_with_its_rule_and_never_an_announcement(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    herold = make_herold(make_settings(authorities=[authority(rules=RULES)]),
                         clock=lambda: datetime(2023, 6, 22, 21, 45, tzinfo=UTC))  # fmt: skip
    relayed = relay(herold, DWD_ALERT, "dwd")  # a minor wind warning
    assert relayed.decision == "ignored" and relayed.id is None
    assert herold.store.announcements.listed(SLUG) == []
    assert decided(herold)[-1] | {"via": "test"} == decided(herold)[-1]
    assert decided(herold)[-1]["rule"] == "Weather, minor: recorded only"
    assert "minor" in decided(herold)[-1]["why"]


def test_a_rule_names_the_channels_a_warning_goes_to(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    owner = authority(rules=[{**RULES[0], "channels": ["website"]}])
    owner["channels"] = [*owner["channels"], {"id": "whatsapp", "type": "manual"}]
    herold = make_herold(make_settings(authorities=[owner]), clock=lambda: FEBRUARY_2022)
    stored = herold.store.announcements.get(relay(herold, BORKEN).id)
    assert stored is not None and stored.announcement.channels == ["website"]


def test_what_follows_an_item_that_went_out_goes_out_at_once_whatever_the_rules_say(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    rules = [{"name": "Alerts here", "sources": ["nina"], "geocodes": ["ARS:059700000000"], "decision": "publish"},
             {"name": "Scams: nothing", "sources": ["nina"], "decision": "ignore"}]  # fmt: skip
    herold = make_herold(make_settings(authorities=[authority(rules=rules)]), clock=lambda: FEBRUARY_2022)
    first = relay(herold, as_alert(SIEGEN_UPDATE, "DE-NW-SI-SE066-20220211-66-000", "2022-02-11T12:00:00+01:00"))
    assert first.decision == "published"
    moved = json.loads(SIEGEN_UPDATE)
    for area in moved["info"][0]["area"]:
        for code in area["geocode"]:
            code["value"] = "055540000000"  # now outside the first rule: the catch-all would ignore it
    update = relay(herold, json.dumps(moved).encode())
    assert update.decision == "published", "people who saw the warning see what follows it"
    assert decided(herold)[-1]["rule"] == "follows an item that went out"


def test_an_integration_whose_messages_all_wait_for_a_person_keeps_its_follow_ups_waiting_too(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    owner = authority()
    owner["integrations"][0]["decision"] = "draft"
    herold = make_herold(make_settings(authorities=[owner]), clock=lambda: FEBRUARY_2022)
    first = relay(herold, BORKEN)
    assert approve(herold.engine, first.id, actor="pressestelle", source="app") == []
    ended = relay_gone(herold.engine, herold.engine.authority(SLUG), integration(herold, "nina"),
                       parse_nina(BORKEN).source_id, via="test")  # fmt: skip
    assert ended.decision == "draft"


# -- following earlier messages ---------------------------------------------------------------------------


def test_a_mowas_update_follows_its_alert_though_its_references_name_the_wrong_sender_and_sent(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    herold = make_herold(make_settings(authorities=[authority()]), clock=lambda: FEBRUARY_2022)  # publishes all
    # The real update references "DE-NW-SI-SE066-20220211,DE-NW-SI-SE066-20220211-66-000,66--T00:00:00+00:00":
    # the identifier is right, sender and sent are made up from it.
    alert = relay(herold, as_alert(SIEGEN_UPDATE, "DE-NW-SI-SE066-20220211-66-000", "2022-02-11T12:00:00+01:00"))
    update = relay(herold, SIEGEN_UPDATE)
    assert update.note is None
    original, follow_up = herold.store.announcements.get(alert.id), herold.store.announcements.get(update.id)
    assert original is not None and follow_up is not None
    assert follow_up.item_id == original.item_id and follow_up.announcement.references == alert.id


def test_a_poller_s_changed_warning_is_an_update_of_the_item_its_earlier_version_made(herold: Herold) -> None:
    first = relay(herold, BORKEN)
    changed = json.loads(BORKEN)
    changed["sent"] = "2022-02-17T06:10:00+01:00"
    changed["info"][0]["headline"] = "Stromversorgung im Kreis Borken wiederhergestellt"
    second = relay(herold, json.dumps(changed).encode(), follows=parse_nina(BORKEN).source_id)
    stored = herold.store.announcements.get(second.id)
    assert stored is not None and stored.announcement.msg_type.value == "update"
    assert stored.announcement.references == first.id
    assert relay(herold, json.dumps(changed).encode(), follows=parse_nina(BORKEN).source_id).id == second.id


def test_a_warning_its_system_no_longer_lists_gets_one_all_clear_in_herold_s_own_words(herold: Herold) -> None:
    first = relay(herold, BORKEN)
    owner, nina = herold.engine.authority(SLUG), integration(herold, "nina")
    source_id = parse_nina(BORKEN).source_id
    ended = relay_gone(herold.engine, owner, nina, source_id, via="test")
    assert ended.decision == "published" and ended.id is not None
    stored = herold.store.announcements.get(ended.id)
    assert stored is not None and stored.announcement.msg_type.value == "cancel"
    assert stored.announcement.references == first.id
    assert stored.announcement.headline == "Entwarnung: Ausfall Stromversorgung in Teilen vom Kreis Borken"
    assert stored.announcement.attribution is None, "Herold's own words name no third party as their source"
    again = relay_gone(herold.engine, owner, nina, source_id, via="test")
    assert again.id in (None, ended.id) and len(herold.store.announcements.thread(stored.item_id)) == 2


def test_the_all_clear_of_a_warning_with_a_very_long_id_is_still_marked_as_herold_s_own(herold: Herold) -> None:
    # The database keeps 200 characters of a source id; a longer one is cut and hashed. The store
    # tells Herold's own all-clears from the sender's messages by their "#gone" ending.
    long = json.dumps({**json.loads(BORKEN), "identifier": "DE-NW-BOR-SE059-" + "0" * 190}).encode()
    relay(herold, long)
    source_id = parse_nina(long).source_id
    owner, nina = herold.engine.authority(SLUG), integration(herold, "nina")
    ended = relay_gone(herold.engine, owner, nina, source_id, via="test")
    stored = herold.store.announcements.get(ended.id or "")
    assert stored is not None and stored.source_id is not None
    assert len(stored.source_id) <= 200 and stored.source_id.endswith("#gone")
    again = relay_gone(herold.engine, owner, nina, source_id, via="test")
    assert again.id in (None, ended.id), "the same absence seen twice is one all-clear"


def test_no_all_clear_for_a_warning_that_never_went_out(herold: Herold) -> None:
    owner, nina = herold.engine.authority(SLUG), integration(herold, "nina")
    relayed = relay_gone(herold.engine, owner, nina, "DE-X,never-seen,2022-02-17T05:00:00+01:00", via="test")
    assert relayed.decision == "ignored" and herold.store.announcements.listed(SLUG) == []


def message(identifier: str, sent: str, msg_type: str = "Alert", references: str = "", **info: Any) -> bytes:
    """Another message of the Borken Leitstelle, as it would send it."""
    warning = json.loads(BORKEN)
    warning.update(identifier=identifier, sent=sent, msgType=msg_type)
    if references:
        warning["references"] = references
    warning["info"][0].update(info)
    return json.dumps(warning).encode()


SENDER = "DE-NW-BOR-SE059"
ALERT = message("bor-1", "2022-02-17T05:00:00+01:00")
UPDATE = message("bor-2", "2022-02-17T05:30:00+01:00", "Update", f"{SENDER},bor-1,2022-02-17T05:00:00+01:00",
                 headline="Stromausfall im Kreis Borken dauert an")  # fmt: skip
CANCEL = message("bor-3", "2022-02-17T06:00:00+01:00", "Cancel",
                 f"{SENDER},bor-1,2022-02-17T05:00:00+01:00 {SENDER},bor-2,2022-02-17T05:30:00+01:00",
                 headline="Strom im Kreis Borken wieder da")  # fmt: skip


@pytest.fixture
def approving(make_herold: HeroldFactory, make_settings: SettingsFactory) -> Herold:
    """Every NINA message waits for a person."""
    owner = authority()
    owner["integrations"][0]["decision"] = "draft"
    return make_herold(make_settings(authorities=[owner]), clock=lambda: FEBRUARY_2022)


def stages(herold: Herold, announcement_id: str) -> list[tuple[str, str]]:
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    return [(a.announcement.msg_type.value, a.stage.value) for a in herold.store.announcements.thread(stored.item_id)]


def test_a_cancel_whose_newest_reference_still_waits_ends_the_item_that_went_out(approving: Herold) -> None:
    alert = relay(approving, ALERT)
    assert approve(approving.engine, alert.id, actor="pressestelle", source="app") == []
    update = relay(approving, UPDATE)
    assert update.decision == "draft", "the integration has every message approved"
    cancel = relay(approving, CANCEL)
    assert cancel.decision == "draft" and cancel.id is not None, "the all-clear is not lost"
    assert sorted(stages(approving, alert.id)) == sorted(
        [("alert", "released"), ("update", "rejected"), ("cancel", "awaiting_approval")]
    ), "the waiting update, which the all-clear supersedes, is sent back"


def test_a_warning_no_longer_listed_is_all_cleared_though_its_newest_message_still_waits(approving: Herold) -> None:
    alert = relay(approving, ALERT)
    assert approve(approving.engine, alert.id, actor="pressestelle", source="app") == []
    relay(approving, UPDATE)
    ended = relay_gone(approving.engine, approving.engine.authority(SLUG), integration(approving, "nina"),
                       parse_nina(UPDATE).source_id, via="test")  # fmt: skip
    assert ended.decision != "ignored" and ended.id is not None
    assert ("update", "rejected") in stages(approving, alert.id)


def test_a_follow_up_that_is_refused_replaces_nothing(approving: Herold) -> None:
    waiting = relay(approving, ALERT)
    expired = message("bor-2", "2022-02-17T05:30:00+01:00", "Update", f"{SENDER},bor-1,2022-02-17T05:00:00+01:00",
                      expires="2022-02-17T05:45:00+01:00")  # fmt: skip
    with pytest.raises(NotRelayed):
        relay(approving, expired)  # its expiry has passed: refused
    assert stages(approving, waiting.id) == [("alert", "awaiting_approval")], "the original still waits"


def test_an_update_of_a_warning_never_received_says_so_on_its_page_and_in_its_cap_document(herold: Herold) -> None:
    relayed = relay(herold, UPDATE)
    assert relayed.note == "an update of an alert Herold never received: published as a new item"
    stored = herold.store.announcements.get(relayed.id)
    assert stored is not None and stored.announcement.msg_type.value == "alert"
    said = "Diese Meldung aktualisiert eine frühere Warnung, die hier nicht veröffentlicht wurde."
    assert stored.announcement.note == said
    wait_until_settled(herold.engine, relayed.id, timeout=30)
    directory = herold.sites(SLUG)[0].directory / stored.item_path
    assert said in (directory / "index.html").read_text()
    assert f"<note>{said}</note>" in (directory / f"{relayed.id}.cap.xml").read_text()


# -- the source named -------------------------------------------------------------------------------------


def test_a_mowas_warning_names_its_sender_and_keeps_its_text(herold: Herold) -> None:
    stored = herold.store.announcements.get(relay(herold, BORKEN).id)
    assert stored is not None and stored.announcement.attribution == "Leitstelle Kreis Borken"
    assert stored.source == source_of(integration(herold, "nina")) == "nina:nina"
    assert stored.announcement.headline == "Ausfall Stromversorgung in Teilen vom Kreis Borken"
    assert "Im südlichem Teil vom Kreis Borken ist zum teil der Strom ausgefallen." in (
        stored.announcement.description or ""
    ), "relayed as sent, its slips included"


def test_an_integration_s_attribution_keeps_the_licence_notes_the_message_carries(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    herold = make_herold(make_settings(authorities=[authority()]),
                         clock=lambda: datetime(2023, 6, 22, 21, 45, tzinfo=UTC))  # fmt: skip
    stored = herold.store.announcements.get(relay(herold, DWD_ALERT, "dwd").id)
    assert stored is not None and stored.announcement.attribution is not None
    assert stored.announcement.attribution.startswith("Deutscher Wetterdienst; ")
    assert "GeoBasis-DE" in stored.announcement.attribution, "the geodata's licence goes with its areas"


def test_a_sender_the_integration_does_not_take_is_refused(
    make_herold: HeroldFactory, make_settings: SettingsFactory
) -> None:
    owner = authority()
    owner["integrations"][0]["senders"] = ["DE-NW-SI-SE066"]
    herold = make_herold(make_settings(authorities=[owner]), clock=lambda: FEBRUARY_2022)
    with pytest.raises(NotRelayed) as refused:
        relay(herold, BORKEN)
    assert refused.value.reason == "sender" and herold.store.announcements.listed(SLUG) == []


# -- herold rules test ------------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "herold.toml"
    rules = "".join(
        f'\n[[authorities.rules]]\nname = "{rule["name"]}"\nsources = {json.dumps(rule["sources"])}\n'
        + (f"geocodes = {json.dumps(rule['geocodes'])}\n" if "geocodes" in rule else "")
        + (f"severities = {json.dumps(rule['severities'])}\n" if "severities" in rule else "")
        + f'decision = "{rule["decision"]}"\n'
        for rule in RULES
    )
    integrations = (
        '\n[[authorities.integrations]]\nid = "nina"\nformat = "nina"\npoll = { ars = "055540000000" }\n'
        '\n[[authorities.integrations]]\nid = "dwd"\nformat = "cap"\n'
        'poll = { url = "https://opendata.example.org/cap/atom.xml" }\n'
    )
    path.write_text(herold_toml() + integrations + rules, encoding="utf-8")
    return path


def rules_test(config: Path, file: Path, *arguments: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config), "rules", "test", str(file), *arguments])


def test_rules_test_shows_each_rule_s_answer_and_the_decision(config: Path) -> None:
    result = rules_test(config, FIXTURES / "nina" / "mowas-alert-DE-NW-BOR-SE059-20220217-59-000.json",
                        "--integration", "nina")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("MATCH  Kreis Borken: at once")
    assert lines[1].startswith("no     Weather, minor: recorded only")
    assert "Decision: published at once, by Kreis Borken: at once" in result.output


def test_rules_test_of_a_weather_alert_through_the_weather_integration(config: Path) -> None:
    result = rules_test(config, FIXTURES / "cap" / "dwd-alert-windboeen-2023-06-22.xml", "--integration", "dwd")
    assert result.exit_code == 0, result.output
    assert "Decision: ignored (recorded only), by Weather, minor: recorded only" in result.output


def test_rules_test_refuses_what_the_integration_cannot_read_in_one_line(config: Path, tmp_path: Path) -> None:
    (tmp_path / "broken.xml").write_text("<alert>", encoding="utf-8")
    result = rules_test(config, tmp_path / "broken.xml", "--integration", "dwd")
    assert result.exit_code == 2 and "not a message the integration 'dwd' takes" in result.output
    assert "Traceback" not in result.output


def test_rules_test_asks_for_the_integration_when_there_are_several(config: Path) -> None:
    result = rules_test(config, FIXTURES / "cap" / "dwd-alert-windboeen-2023-06-22.xml")
    assert result.exit_code == 2 and "nina, dwd" in result.output
