"""Accepting an announcement: checked against its authority, stored whole, or not at all."""

from __future__ import annotations

import copy
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from publisher.domain.problems import InvalidInput
from publisher.domain.records import Stage
from publisher.edges.wiring import Herold
from publisher.engine import tasks
from publisher.engine.report import report
from publisher.engine.schema import AnnouncementRow, AuditRow
from publisher.engine.tasks import wait_until_settled
from publisher.sources.intake import SourceConflict, accept, approve, receive, submit

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, forget_cached, news, warning
from fakes.channels import registered
from fakes.clock import Clock
from fakes.runner import ByHand
from fakes.silent import connections_waiting, silent_server
from helpers import png


def problems_of(herold: Herold, document: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as rejected:
        accept(herold.engine, document, source="test", actor="t")
    return [str(p) for p in rejected.value.problems]


def count(herold: Herold, table: Any) -> int:
    with herold.store.engine.begin() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def test_an_invalid_document_writes_nothing_at_all(herold: Herold) -> None:
    document = warning(
        severity="hoch", channels=["website", "telegram"], media=[{"data": png(), "alt": "Karte"}], headline=""
    )
    assert problems_of(herold, document) == [
        'severity: must be one of extreme, severe, moderate, minor or unknown (got "hoch")',
        "headline: must not be empty",
    ]
    assert count(herold, AnnouncementRow) == 0 and count(herold, AuditRow) == 0
    assert not (herold.settings.herold.data_dir / "media").exists()


def test_channels_must_exist_and_the_own_website_is_never_skipped(herold: Herold) -> None:
    assert problems_of(herold, warning(channels=["telegram"])) == [
        "channels.0: authority 'lk-beispiel' has no channel 'telegram' (it has: website)"
    ]
    announcement_id = accept(herold.engine, warning(channels=[]), source="test", actor="t")
    assert [d.channel for d in herold.store.operations.of(announcement_id, publishing=True)] == ["website"]


def test_an_unknown_authority_is_named(herold: Herold) -> None:
    assert problems_of(herold, warning(authority="stadt-x")) == [
        "authority: 'stadt-x' is not configured here (configured: lk-beispiel)"
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"references": "0000"}, "references: no announcement '0000' of authority 'lk-beispiel' exists"),
        ({"kind": "news"}, "kind: must be warning, like the announcement it refers to"),
    ],
    ids=["unknown original", "other kind"],
)
def test_a_follow_up_must_refer_to_an_earlier_announcement_of_the_same_kind(
    herold: Herold, changes: dict[str, Any], problem: str
) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    document = {**warning(msg_type="update", references=original), **changes}
    assert problem in problems_of(herold, document)


def test_nothing_follows_a_withdrawal(herold: Herold) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    accept(
        herold.engine,
        warning(msg_type="error", references=original, headline="Zurückgezogen", instruction=None),
        source="test",
        actor="t",
    )
    assert "references: refers to an item that was withdrawn; publish a new announcement instead" in problems_of(
        herold, warning(msg_type="update", references=original)
    )


def test_an_item_gets_one_all_clear_and_an_update_may_still_follow(herold: Herold) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    all_clear = warning(msg_type="cancel", references=original, headline="Entwarnung", instruction=None)
    accept(herold.engine, all_clear, source="test", actor="t")
    assert any("this item has had its all-clear already" in p for p in problems_of(herold, all_clear))
    assert accept(herold.engine, warning(msg_type="update", references=original), source="test", actor="t")


def test_an_update_that_waited_while_its_item_was_withdrawn_is_not_approved(herold: Herold) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    waiting = receive(herold.engine, warning(msg_type="update", references=original), source="test", actor="e",
                      stage=Stage.awaiting_approval).id  # fmt: skip
    withdrawal = warning(msg_type="error", references=original, headline="Zurückgezogen", instruction=None)
    accept(herold.engine, withdrawal, source="test", actor="t")
    assert approve(herold.engine, waiting, actor="a", source="test") == [
        "refers to an item that was withdrawn; publish a new announcement instead"
    ]


def test_a_withdrawal_waiting_for_approval_withdraws_nothing_yet(herold: Herold) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    withdrawal = warning(msg_type="error", references=original, headline="Zurückgezogen", instruction=None)
    receive(herold.engine, withdrawal, source="test", actor="e", stage=Stage.awaiting_approval)
    assert accept(herold.engine, warning(msg_type="update", references=original), source="test", actor="t")


def test_a_follow_up_keeps_what_it_leaves_out_from_its_original(herold: Herold) -> None:
    original = accept(
        herold.engine, warning(expires=(herold.clock() + timedelta(hours=3)).isoformat()), source="test", actor="t"
    )
    update = accept(
        herold.engine,
        {
            "authority": "lk-beispiel",
            "kind": "warning",
            "msg_type": "update",
            "references": original,
            "headline": "Neue Lage",
            "description": "Die Sperrung wächst.",
        },
        source="test",
        actor="t",
    )
    cancel = accept(
        herold.engine,
        {
            "authority": "lk-beispiel",
            "kind": "warning",
            "msg_type": "cancel",
            "references": original,
            "headline": "Entwarnung",
            "description": "Vorbei.",
        },
        source="test",
        actor="t",
    )
    first, kept, ended = (herold.store.announcements.get(i) for i in (original, update, cancel))
    assert first and kept and ended
    assert kept.announcement.area == first.announcement.area and kept.announcement.event == "Bombenentschärfung"
    assert kept.announcement.instruction == first.announcement.instruction
    assert kept.announcement.expires == first.announcement.expires
    assert ended.announcement.instruction is None and ended.announcement.expires is None
    assert kept.item_id == ended.item_id == original and kept.item_path == first.item_path


def test_times_in_the_past_are_refused(herold: Herold) -> None:
    past = (herold.clock() - timedelta(minutes=5)).isoformat()
    assert problems_of(herold, warning(expires=past)) == ["expires: is already in the past"]
    assert problems_of(herold, news(publish_at=past)) == ["publish_at: is in the past; leave it out to publish now"]


def test_text_that_cannot_fit_a_channel_is_refused_before_anything_is_published(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "short", "type": "fake-other"})
    with registered():
        herold = make_herold(make_settings(authorities=[authority]))
        [problem] = problems_of(herold, warning(instruction="Bitte verlassen Sie sofort das Gebiet. " * 10))
        assert problem.startswith("instruction: headline, instruction and link need ")
        assert "280 characters that channel 'short' allows; shorten it, or leave channel 'short' out" in problem
        assert count(herold, AnnouncementRow) == 0


def test_an_accepted_announcement_is_recorded_in_the_audit_log_with_its_source(herold: Herold) -> None:
    announcement_id = accept(
        herold.engine, warning(media=[{"data": png(), "alt": "Karte"}]), source="api", actor="token:leitstelle"
    )
    entry = herold.store.audit.entries(announcement_id=announcement_id)[0]  # then its website delivery is released
    assert (entry.action, entry.source, entry.actor) == ("announcement.accepted", "api", "token:leitstelle")
    assert entry.detail is not None
    assert re.match(
        r"https://www.lk-beispiel.de/warnungen/\d{4}/\d{2}/fliegerbombe-in-der-altstadt-", entry.detail["url"]
    )
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    [media] = stored.announcement.media
    assert media.data is None and media.path is not None
    assert (herold.settings.herold.data_dir / media.path).exists()
    wait_until_settled(herold.engine, announcement_id, 20)


# -- what is stored is checked as stored: after a follow-up keeps what it leaves out ----------------------


def test_an_update_whose_effective_lies_after_the_expires_it_keeps_is_refused_and_nothing_is_stored(
    herold: Herold,
) -> None:
    now = herold.clock()
    original = accept(herold.engine, warning(expires=(now + timedelta(hours=1)).isoformat()), source="test", actor="t")
    stored_before = count(herold, AnnouncementRow)
    update = warning(
        msg_type="update", references=original, headline="Neue Lage", effective=(now + timedelta(hours=2)).isoformat()
    )
    for kept in ("category", "event", "severity", "area", "instruction"):
        update.pop(kept)

    [problem] = problems_of(herold, update)

    assert problem.startswith("expires: must be later than effective; expires ")
    assert "is kept from the announcement it refers to; give expires to change it" in problem
    assert count(herold, AnnouncementRow) == stored_before


def test_after_a_refused_update_the_warning_can_still_be_given_the_all_clear(herold: Herold) -> None:
    now = herold.clock()
    original = accept(herold.engine, warning(expires=(now + timedelta(hours=1)).isoformat()), source="test", actor="t")
    later = (now + timedelta(hours=2)).isoformat()
    refused = warning(msg_type="update", references=original, effective=later, expires=None)
    with pytest.raises(InvalidInput):
        accept(herold.engine, refused, source="test", actor="t")

    cancel = accept(
        herold.engine,
        {"authority": "lk-beispiel", "kind": "warning", "msg_type": "cancel", "references": original,
         "headline": "Entwarnung", "description": "Die Bombe ist entschärft."},
        source="test", actor="t",
    )  # fmt: skip

    deliveries = wait_until_settled(herold.engine, cancel, 20)
    assert [d.state.value for d in deliveries] == ["succeeded"]
    index = (herold.settings.herold.data_dir / "site" / "lk-beispiel" / "index.html").read_text()
    assert "Zurzeit liegen keine Warnungen vor." in index


def test_a_translation_into_the_default_language_is_refused_when_language_is_left_out(herold: Herold) -> None:
    document = warning(translations={"de": {"headline": "Fliegerbombe"}, "en": {"headline": "WWII bomb"}})

    assert problems_of(herold, document) == [
        "translations: de is the announcement's own language, not a translation; without language, it is the "
        "authority's first language, de"
    ]
    assert count(herold, AnnouncementRow) == 0


def test_an_update_that_keeps_an_expiry_already_passed_must_give_a_new_one(herold: Herold) -> None:
    clock = [herold.clock()]
    herold.clock = lambda: clock[0]
    original = accept(
        herold.engine, warning(expires=(clock[0] + timedelta(hours=1)).isoformat()), source="test", actor="t"
    )
    clock[0] += timedelta(hours=2)

    [problem] = problems_of(herold, warning(msg_type="update", references=original, expires=None))

    assert problem.startswith("expires: this update keeps expires ")
    assert problem.endswith("from the announcement it refers to, which has passed; give a new expires")


def test_publication_is_scheduled_at_most_a_year_ahead(herold: Herold) -> None:
    far = (herold.clock() + timedelta(days=400)).isoformat()
    assert problems_of(herold, news(publish_at=far)) == [
        "publish_at: lies more than 366 days ahead; Herold schedules at most that far"
    ]


def test_an_announcement_whose_stored_document_cannot_be_read_cannot_be_followed_up(herold: Herold) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    wait_until_settled(herold.engine, original, 20)
    with herold.store.engine.begin() as connection:  # a hand-edited row, as only a person can make one
        connection.execute(update(AnnouncementRow).where(AnnouncementRow.id == original).values(document={"x": 1}))
    forget_cached(original)

    [problem] = problems_of(herold, warning(msg_type="cancel", references=original, instruction=None))

    assert problem.startswith("references: refers to an announcement Herold cannot read (")
    assert problem.endswith("); publish a new announcement instead")


def test_text_a_follow_up_keeps_from_before_a_rule_existed_does_not_stop_the_follow_up(herold: Herold) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    wait_until_settled(herold.engine, original, 20)
    with herold.store.engine.begin() as connection:  # stored before control characters were refused
        document = connection.execute(select(AnnouncementRow.document).where(AnnouncementRow.id == original))
        legacy = {**document.scalar_one(), "event": "Bomben\x1bentschärfung", "effective": "1999-12-31T23:00:00Z"}
        connection.execute(update(AnnouncementRow).where(AnnouncementRow.id == original).values(document=legacy))
    forget_cached(original)

    update_id = accept(
        herold.engine, warning(msg_type="update", references=original, event=None), source="test", actor="t"
    )
    cancel = accept(herold.engine, warning(msg_type="cancel", references=original, event=None, instruction=None),
                    source="test", actor="t")  # fmt: skip

    assert [d.state.value for d in wait_until_settled(herold.engine, cancel, 20)] == ["succeeded"]
    kept = herold.store.announcements.get(update_id)
    assert kept is not None and kept.announcement.event == "Bomben\x1bentschärfung"


# -- sources: where an announcement came from, and the same message twice -----------------------------


def test_the_same_message_from_the_same_source_is_one_announcement(herold: Herold) -> None:
    first = receive(herold.engine, warning(), source="cap", source_id="DE-NW-BN-SE030-20261202-30-000", actor="t")
    again = receive(herold.engine, warning(), source="cap", source_id="DE-NW-BN-SE030-20261202-30-000", actor="t")

    assert first.created and not again.created and again.id == first.id
    assert count(herold, AnnouncementRow) == 1
    stored = herold.store.announcements.get(first.id)
    assert stored is not None and (stored.source, stored.source_id) == ("cap", "DE-NW-BN-SE030-20261202-30-000")


def test_a_different_message_under_a_used_source_id_is_refused_and_nothing_is_written(herold: Herold) -> None:
    receive(herold.engine, warning(), source="api", source_id="key-1", actor="t")

    with pytest.raises(SourceConflict) as refused:
        receive(herold.engine, warning(headline="Etwas anderes"), source="api", source_id="key-1", actor="t")

    assert "was used for a different message" in str(refused.value.problems[0])
    assert count(herold, AnnouncementRow) == 1


def test_the_same_id_from_two_sources_is_two_messages(herold: Herold) -> None:
    one = receive(herold.engine, warning(), source="api", source_id="42", actor="t")
    other = receive(herold.engine, warning(), source="cli", source_id="42", actor="t")
    assert one.id != other.id and other.created


def test_the_same_message_arriving_twice_at_once_is_still_one_announcement(herold: Herold) -> None:
    start, results = threading.Barrier(4), []

    def arrive() -> None:
        start.wait()
        results.append(receive(herold.engine, warning(), source="nina", source_id="mow.DE-1", actor="t"))

    threads = [threading.Thread(target=arrive) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({r.id for r in results}) == 1 and sum(r.created for r in results) == 1
    assert count(herold, AnnouncementRow) == 1


# -- only an actual message is ever published --------------------------------------------------------


@pytest.mark.parametrize("status", ["exercise", "Exercise", "test", "system", "draft"])
def test_a_message_that_is_not_actual_is_stored_and_shown_and_never_delivered(herold: Herold, status: str) -> None:
    announcement_id = accept(herold.engine, warning(status=status), source="test", actor="t")

    assert herold.store.operations.of(announcement_id) == []
    result = report(herold.engine, announcement_id)
    assert result is not None and result.cap_status.value == status.lower()
    assert result.status == f"not published ({status.lower()})" and result.deliveries == []
    assert not (herold.site("lk-beispiel").directory / "index.html").exists()
    [accepted] = herold.store.audit.entries(announcement_id=announcement_id)
    assert (accepted.detail or {})["status"] == status.lower()


def test_a_follow_up_keeps_the_status_of_what_it_follows(herold: Herold) -> None:
    drill = accept(herold.engine, warning(status="exercise"), source="test", actor="t")
    assert problems_of(herold, warning(status="actual", msg_type="cancel", references=drill, instruction=None)) == [
        "status: must be exercise, like the announcement it refers to"
    ]
    all_clear = accept(herold.engine, warning(msg_type="cancel", references=drill, instruction=None), source="test",
                       actor="t")  # fmt: skip
    stored = herold.store.announcements.get(all_clear)
    assert stored is not None and stored.announcement.status.value == "exercise"
    assert herold.store.operations.of(all_clear) == []


# -- before delivery: draft, awaiting approval, scheduled, released ---------------------------------------


def test_a_draft_goes_out_only_once_approved_and_each_step_is_audited(herold: Herold) -> None:
    draft = receive(herold.engine, warning(), source="app", actor="editor", stage=Stage.draft).id
    assert herold.store.operations.of(draft) == [], "nothing is delivered before approval"
    assert report(herold.engine, draft).status == "draft"  # type: ignore[union-attr]

    assert submit(herold.engine, draft, actor="editor", source="app") == []
    assert report(herold.engine, draft).status == "awaiting approval"  # type: ignore[union-attr]
    assert approve(herold.engine, draft, actor="approver", source="app") == []
    wait_until_settled(herold.engine, draft, 20)

    result = report(herold.engine, draft)
    assert result is not None and result.stage is Stage.released and result.status == "published"
    steps = [(e.action, e.actor, (e.detail or {}).get("to")) for e in herold.store.audit.entries(announcement_id=draft)
             if e.action.startswith("announcement.")]  # fmt: skip
    assert steps == [
        ("announcement.accepted", "editor", None), ("announcement.submitted", "editor", "awaiting_approval"),
        ("announcement.approved", "approver", "released"),
    ]  # fmt: skip
    assert approve(herold.engine, draft, actor="approver", source="app") == [
        "the announcement is released already; only a draft or one awaiting approval is approved"
    ]


def test_a_follow_up_to_a_draft_is_refused_so_it_can_never_go_out_before_its_original(herold: Herold) -> None:
    draft = receive(herold.engine, warning(), source="app", actor="editor", stage=Stage.draft).id
    with pytest.raises(InvalidInput) as refused:
        accept(herold.engine, warning(msg_type="update", references=draft, headline="Neue Lage"), source="t", actor="t")
    assert [p.field for p in refused.value.problems] == ["references"]
    assert "still draft: approve it first" in str(refused.value.problems[0])


def test_an_approved_announcement_with_a_time_is_scheduled_and_released_by_the_engine_at_that_time(
    make_herold: HeroldFactory,
) -> None:
    clock = Clock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    herold = make_herold(clock=clock)
    draft = receive(herold.engine, news(publish_at="2026-11-20T10:00:00+00:00"), source="app", actor="editor",
                    stage=Stage.awaiting_approval).id  # fmt: skip
    approve(herold.engine, draft, actor="approver", source="app")
    assert report(herold.engine, draft).stage is Stage.scheduled  # type: ignore[union-attr]

    clock.set(datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC))
    tasks.advance(herold.engine, draft)
    wait_until_settled(herold.engine, draft, 20)

    assert report(herold.engine, draft).stage is Stage.released  # type: ignore[union-attr]
    released = [e for e in herold.store.audit.entries(announcement_id=draft) if e.action == "announcement.released"]
    assert [(e.actor, e.detail) for e in released] == [("herold", {"from": "scheduled", "to": "released"})]


def test_an_exercise_is_never_approved_for_publication(herold: Herold) -> None:
    drill = receive(herold.engine, warning(status="exercise"), source="app", actor="e", stage=Stage.draft).id
    assert approve(herold.engine, drill, actor="a", source="app") == [
        "the announcement is marked exercise: it is never published"
    ]
    assert herold.store.operations.of(drill) == []


# -- intake does no network I/O ----------------------------------------------------------------------


def test_accepting_a_warning_never_waits_for_a_mastodon_server_that_does_not_answer(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    with silent_server() as (first, first_socket), silent_server() as (second, second_socket):
        authority = copy.deepcopy(AUTHORITY)
        authority["channels"] += [
            {"id": "bund", "type": "mastodon", "instance": first, "access_token_env": "TOKEN"},
            {"id": "land", "type": "mastodon", "instance": second, "access_token_env": "TOKEN"},
        ]
        settings = make_settings(authorities=[authority], env={"TOKEN": "t"})
        herold = make_herold(settings, runner=ByHand())  # deliveries stay queued: only intake runs
        took = []
        for number in range(3):
            started = time.perf_counter()
            accept(herold.engine, warning(headline=f"Unwetter {number}"), source="test", actor="t")
            took.append(time.perf_counter() - started)

        assert connections_waiting(first_socket) == connections_waiting(second_socket) == 0
        assert sorted(took)[1] < 0.1, f"accepting took {took} s"


def test_a_follow_up_may_name_its_original_by_the_short_id_herold_list_shows(herold: Herold) -> None:
    alert = accept(herold.engine, warning(), source="test", actor="t")
    all_clear = warning(msg_type="cancel", references=alert[:8], headline="Entwarnung: Bombe entschärft",
                        severity=None, category=None, event=None, instruction=None, area=None)  # fmt: skip

    follow_up = accept(herold.engine, all_clear, source="test", actor="t")

    stored, original = herold.store.announcements.get(follow_up), herold.store.announcements.get(alert)
    assert stored is not None and original is not None
    assert stored.announcement.references == alert, "kept written out"
    assert stored.item_id == original.item_id
    with pytest.raises(InvalidInput, match="references"):
        accept(herold.engine, {**all_clear, "references": "ffffffff"}, source="test", actor="t")


def test_a_withdrawal_deletes_the_earlier_posts_where_the_channel_can_delete_and_cannot_edit(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    # Bluesky, Threads, Instagram: no edit, a delete, and no on_withdrawal setting to say otherwise.
    from adapters import register, unregister
    from adapters.port import Capabilities, Channel, Post, Receipt, Wave
    from publisher.domain.records import Action

    class DeletesOnly(Channel):
        type, label = "test-deletes-only", "Löschplattform"
        capabilities = Capabilities(wave=Wave.other, threads=True, delete=True)

        def publish(self, post: Post) -> Receipt:
            return Receipt(platform_id=post.delivery_id)

        def reply(self, post: Post) -> Receipt:
            return Receipt(platform_id=post.delivery_id)

        def delete(self, receipt: Receipt) -> None:
            pass

    register(DeletesOnly)
    try:
        authority = copy.deepcopy(AUTHORITY)
        authority["channels"].append({"id": "sozial", "type": "test-deletes-only"})
        herold = make_herold(make_settings(authorities=[authority], grace_warning_seconds=0.05))
        alert = accept(herold.engine, warning(), source="api", actor="t")
        wait_until_settled(herold.engine, alert, timeout=30)
        withdrawal = accept(herold.engine, warning(msg_type="error", references=alert,
                                                   headline="Widerruf: die Warnung war ein Irrtum"),
                            source="api", actor="t")  # fmt: skip
        planned = [(o.channel, o.action) for o in herold.store.operations.of(withdrawal)]
        assert ("sozial", Action.delete) in planned and ("sozial", Action.edit) not in planned
    finally:
        unregister(DeletesOnly.type)
