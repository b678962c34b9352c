"""The engine in-process: waves, retries, failures that people hear about, threads.

Fake channels (tests/fakes/channels.py) record every call, including whether the item's
website page already existed on disk at that moment.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from publisher.domain.records import Action, AuditEntry
from publisher.edges.wiring import Herold, utcnow
from publisher.engine import tasks
from publisher.engine.report import report, table, waiting
from publisher.engine.schema import AnnouncementRow, OperationState
from publisher.engine.tasks import release_by_override, wait_until_settled
from publisher.sources.intake import accept

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, forget_cached, news, publish, warning
from fakes.channels import RELEASE, Journal, Undeletable, undeletable
from fakes.clock import Clock
from fakes.mailbox import Mailbox
from fakes.runner import ByHand
from helpers import eventually


def authority(*channels: dict[str, Any], website: dict[str, Any] | None = None) -> dict[str, Any]:
    result = copy.deepcopy(AUTHORITY)
    result["channels"] = [website or {"id": "website", "type": "website"}, *channels]
    return result


def start(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    *channels: dict[str, Any],
    website: dict[str, Any] | None = None,
    **runtime: Any,
) -> Herold:
    runtime.setdefault("grace_warning_seconds", 0.3)
    runtime.setdefault("grace_news_seconds", 0.3)
    runtime.setdefault("retry_base_seconds", 0.05)
    return make_herold(make_settings(authorities=[authority(*channels, website=website)], **runtime))


def states(herold: Herold, announcement_id: str) -> dict[str, OperationState]:
    return {d.channel: d.state for d in herold.store.operations.of(announcement_id, publishing=True)}


def test_across_many_announcements_at_once_no_later_wave_starts_before_the_page_exists(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings, make_herold, {"id": "fedi", "type": "fake-fediverse"}, {"id": "other", "type": "fake-other"}
    )
    ids: list[str] = []
    lock = threading.Lock()

    def one(number: int) -> None:
        announcement_id = accept(herold.engine, warning(headline=f"Warnung Nummer {number}"), source="test", actor="t")
        with lock:
            ids.append(announcement_id)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for announcement_id in ids:
        wait_until_settled(herold.engine, announcement_id, 60)
        assert set(states(herold, announcement_id).values()) == {OperationState.succeeded}
    calls = journal.of("fedi") + journal.of("other")
    assert len(calls) == 60
    assert all(call.website_page_existed for call in calls)
    for call in calls:
        website = herold.store.operations.copy_on(call.announcement_id, "website")
        assert website is not None and website.finished_at is not None and call.at >= website.finished_at


def test_each_release_records_why_it_happened(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings,
        make_herold,
        {"id": "fedi", "type": "fake-fediverse", "script": ["hang:5"]},
        {"id": "other", "type": "fake-other"},
    )
    announcement_id = publish(herold, warning())
    reasons = {d.channel: d.release_reason for d in herold.store.operations.of(announcement_id, publishing=True)}
    assert reasons == {
        "website": "accepted",
        "fedi": "the item's website page is published",
        "other": "the grace period of 0.3 s after the fediverse wave passed",
    }
    audit = [e for e in herold.store.audit.entries(announcement_id=announcement_id) if e.action == "delivery.released"]
    assert {e.detail["channel"] for e in audit if e.detail} == {"website", "fedi", "other"}


def test_a_failed_website_holds_everything_back_until_a_person_releases_a_warning(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings,
        make_herold,
        {"id": "other", "type": "fake-other"},
        website={"id": "website", "type": "fake-website", "script": ["permanent"]},
    )
    announcement_id = publish(herold, warning())
    assert states(herold, announcement_id) == {"website": OperationState.failed, "other": OperationState.waiting}
    assert journal.of("other") == []
    status = report(herold.engine, announcement_id)
    assert status is not None and status.status == "held back" and "website delivery failed" in (status.held_back or "")

    assert release_by_override(herold.engine, announcement_id, "ok", actor="cli:leitstelle", source="cli") == [
        "give a reason of at least a few words; it is kept in the audit log"
    ]
    assert (
        release_by_override(
            herold.engine,
            announcement_id,
            "Webserver ausgefallen, Evakuierung läuft",
            actor="cli:leitstelle",
            source="cli",
        )
        == []
    )
    wait_until_settled(herold.engine, announcement_id, 30)
    assert states(herold, announcement_id)["other"] is OperationState.succeeded
    [override] = [
        e for e in herold.store.audit.entries(announcement_id=announcement_id) if e.action == "announcement.override"
    ]
    assert override.actor == "cli:leitstelle" and override.detail == {
        "reason": "Webserver ausgefallen, Evakuierung läuft"
    }


def test_news_is_never_released_without_its_website_page(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings,
        make_herold,
        {"id": "other", "type": "fake-other"},
        website={"id": "website", "type": "fake-website", "script": ["permanent"]},
    )
    announcement_id = publish(herold, news())
    problems = release_by_override(
        herold.engine, announcement_id, "Pressekonferenz beginnt gleich", actor="a", source="cli"
    )
    assert problems == ["only warnings can be released without their website page; news waits for the website"]
    assert journal.of("other") == []


def test_even_a_wrongly_released_delivery_is_held_at_the_last_moment(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings,
        make_herold,
        {"id": "other", "type": "fake-other"},
        website={"id": "website", "type": "fake-website", "script": ["hang:30"]},
    )
    announcement_id = accept(herold.engine, warning(), source="test", actor="t")
    other = herold.store.operations.copy_on(announcement_id, "other")
    assert other is not None
    entry = AuditEntry(at=herold.clock(), authority="lk-beispiel", actor="bug", source="test", action="released")
    assert herold.store.operations.release(other.id, "a bug", herold.clock(), timedelta(hours=2), entry)  # never so
    tasks.deliver(herold.engine, other.id)
    assert journal.of("other") == []
    held = herold.store.operations.get(other.id)
    assert held is not None and held.state is OperationState.waiting and held.attempts == 0
    assert "delivery.held" in [e.action for e in herold.store.audit.entries(announcement_id=announcement_id)]
    RELEASE.set()  # now let the website delivery finish
    wait_until_settled(herold.engine, announcement_id, 30)
    assert [c.website_page_existed for c in journal.of("other")] == [False]  # fake website writes no page


def test_transient_errors_are_retried_and_every_attempt_counts(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings,
        make_herold,
        {"id": "other", "type": "fake-other", "script": ["transient", "transient", "transient", "ok"]},
    )
    announcement_id = publish(herold, warning())
    [delivery] = [d for d in herold.store.operations.of(announcement_id, publishing=True) if d.channel == "other"]
    assert delivery.state is OperationState.succeeded and delivery.attempts == 4
    retries = [e for e in herold.store.audit.entries(announcement_id=announcement_id) if e.action == "delivery.retry"]
    assert len(retries) == 3


def test_retry_after_is_honoured(make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal) -> None:
    herold = start(make_settings, make_herold, {"id": "other", "type": "fake-other", "script": ["retry-after:1.5"]})
    publish(herold, warning())
    first, second = journal.of("other")
    assert second.at - first.at >= timedelta(seconds=1.5)


@pytest.mark.parametrize(
    ("script", "state", "reason", "credentials"),
    [
        (["permanent"], OperationState.failed, "the platform answered 422: text too long", False),
        (["credentials"], OperationState.failed, "credentials refused: the platform answered 401", True),
    ],
    ids=["validation", "credentials"],
)
def test_a_permanent_failure_stops_at_once_and_raises_the_alarm(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    journal: Journal,
    script: list[str],
    state: OperationState,
    reason: str,
    credentials: bool,
) -> None:
    herold = start(make_settings, make_herold, {"id": "other", "type": "fake-other", "script": script})
    announcement_id = publish(herold, warning())
    [delivery] = [d for d in herold.store.operations.of(announcement_id, publishing=True) if d.channel == "other"]
    assert delivery.state is state and delivery.attempts == 1 and reason in (delivery.last_error or "")
    [alarm] = [e for e in herold.store.audit.entries(announcement_id=announcement_id) if e.action == "alarm"]
    assert alarm.detail is not None and alarm.detail["credentials"] is credentials


def test_a_delivery_that_keeps_failing_is_given_up_at_its_deadline(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings,
        make_herold,
        {"id": "other", "type": "fake-other", "script": ["transient"] * 1000},
        deadline_warning_hours=1.5 / 3600,
    )
    announcement_id = publish(herold, warning())
    [delivery] = [d for d in herold.store.operations.of(announcement_id, publishing=True) if d.channel == "other"]
    assert delivery.state is OperationState.dead and delivery.attempts >= 2
    assert "gave up after" in (delivery.last_error or "")


@pytest.mark.parametrize(("document", "state"), [(news, OperationState.unknown), (warning, OperationState.succeeded)])
def test_an_ambiguous_write_is_retried_for_warnings_but_left_to_a_person_for_news(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal, document: Any, state: OperationState
) -> None:
    herold = start(make_settings, make_herold, {"id": "other", "type": "fake-other", "script": ["ambiguous"]})
    announcement_id = publish(herold, document())
    assert states(herold, announcement_id)["other"] is state


def test_follow_ups_are_posted_as_replies_in_the_original_thread(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(make_settings, make_herold, {"id": "fedi", "type": "fake-fediverse"})
    original = publish(herold, warning())
    update = publish(herold, warning(msg_type="update", references=original, headline="Neue Lage"))
    publish(herold, warning(msg_type="cancel", references=original, headline="Bombe entschärft", instruction=None))
    first, second, third = journal.of("fedi")
    assert first.in_reply_to is None
    assert second.in_reply_to is not None
    assert second.in_reply_to.platform_id == (herold.store.operations.copy_on(original, "fedi") or None).platform_id  # type: ignore[union-attr]
    assert third.in_reply_to is not None
    assert third.in_reply_to.platform_id == (herold.store.operations.copy_on(update, "fedi") or None).platform_id  # type: ignore[union-attr]
    assert third.text.startswith("Entwarnung: Bombe entschärft")


def test_a_scheduled_announcement_is_published_at_its_time_and_not_before(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(make_settings, make_herold)
    at = herold.clock() + timedelta(seconds=1.5)
    announcement_id = accept(herold.engine, news(publish_at=at.isoformat()), source="test", actor="t")
    time.sleep(0.8)
    status = report(herold.engine, announcement_id)
    assert status is not None and status.status == "scheduled"
    wait_until_settled(herold.engine, announcement_id, 30)
    website = herold.store.operations.copy_on(announcement_id, "website")
    assert website is not None and website.state is OperationState.succeeded
    assert website.finished_at is not None and website.finished_at >= at


def test_a_hanging_channel_does_not_delay_the_others(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings,
        make_herold,
        {"id": "slow", "type": "fake-other", "script": ["hang:60"]},
        {"id": "fast", "type": "fake-other"},
    )
    announcement_id = accept(herold.engine, warning(), source="test", actor="t")
    expected = {"fast": OperationState.succeeded, "slow": OperationState.in_flight}  # the slow one hangs for 60 s
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and {c: states(herold, announcement_id)[c] for c in expected} != expected:
        time.sleep(0.05)
    assert {c: states(herold, announcement_id)[c] for c in expected} == expected


def test_platforms_that_hang_on_every_delivery_thread_never_delay_the_next_warning_s_page(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings, make_herold, {"id": "stuck", "type": "fake-other", "script": ["hang:60"] * 4},
        embedded_workers=2,
    )  # fmt: skip
    first = [accept(herold.engine, warning(headline=f"Unwetter {n}"), source="test", actor="t") for n in (1, 2)]
    assert eventually(lambda: len(journal.of("stuck")) == 2), "both warning threads now wait for the platform"

    latest = accept(herold.engine, warning(headline="Fliegerbombe"), source="test", actor="t")
    assert eventually(lambda: states(herold, latest)["website"] is OperationState.succeeded, timeout=5)
    assert all(states(herold, i)["stuck"] is OperationState.in_flight for i in first)


def test_an_attempt_longer_than_the_lease_keeps_it_and_is_not_handed_on(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings, make_herold, {"id": "other", "type": "fake-other", "script": ["hang:2"]}, lease_seconds=0.6
    )
    announcement_id = publish(herold, warning())
    [delivery] = [d for d in herold.store.operations.of(announcement_id, publishing=True) if d.channel == "other"]
    assert delivery.state is OperationState.succeeded and delivery.attempts == 1
    assert len(journal.of("other")) == 1


def test_a_follow_up_never_overtakes_its_original_on_any_channel(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(make_settings, make_herold, {"id": "other", "type": "fake-other", "script": ["hang:2", "ok"]})
    original = accept(herold.engine, warning(), source="test", actor="t")
    update = accept(
        herold.engine, warning(msg_type="update", references=original, headline="Neue Lage"), source="test", actor="t"
    )
    wait_until_settled(herold.engine, original, 30)
    wait_until_settled(herold.engine, update, 30)
    first, second = journal.of("other")
    assert (first.announcement_id, second.announcement_id) == (original, update)
    earlier = herold.store.operations.copy_on(original, "other")
    later = herold.store.operations.copy_on(update, "other")
    assert earlier is not None and later is not None and earlier.finished_at is not None
    assert second.at >= earlier.finished_at
    assert later.attempts == 1, "waiting for the original is not an attempt"


def test_a_follow_up_to_a_scheduled_announcement_waits_for_it_and_keeps_its_whole_deadline(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(
        make_settings, make_herold, {"id": "other", "type": "fake-other"}, deadline_warning_hours=1 / 3600
    )  # one second to try, from release
    at = herold.clock() + timedelta(seconds=2)
    original = accept(herold.engine, warning(publish_at=at.isoformat()), source="test", actor="t")
    update = accept(
        herold.engine, warning(msg_type="update", references=original, headline="Neue Lage"), source="test", actor="t"
    )
    wait_until_settled(herold.engine, update, 30)
    assert set(states(herold, original).values()) == {OperationState.succeeded}
    assert set(states(herold, update).values()) == {OperationState.succeeded}
    website = herold.store.operations.copy_on(update, "website")
    assert website is not None and website.finished_at is not None and website.finished_at >= at


def test_an_announcement_whose_stored_document_cannot_be_read_fails_once_and_blocks_nothing_else(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = start(make_settings, make_herold, {"id": "fedi", "type": "fake-fediverse"})
    later = accept(
        herold.engine, news(publish_at=(herold.clock() + timedelta(minutes=5)).isoformat()), source="t", actor="t"
    )
    with herold.store.engine.begin() as connection:  # a row edited by hand: nothing Herold writes looks like this
        connection.execute(update(AnnouncementRow).where(AnnouncementRow.id == later).values(document="kaputt"))
    forget_cached(later)
    herold.clock = lambda: utcnow() + timedelta(minutes=6)  # its time has come

    for _ in range(3):
        tasks.sweep(herold.engine)
        tasks.advance(herold.engine, later)
    other = publish(herold, warning())

    assert set(states(herold, later).values()) == {OperationState.failed}
    unreadable = [e for e in herold.store.audit.entries(announcement_id=later) if e.action == "announcement.unreadable"]
    assert len(unreadable) == 1
    result = report(herold.engine, later)
    assert result is not None and result.status == "unreadable" and result.held_back
    assert set(states(herold, other).values()) == {OperationState.succeeded}
    assert sum(tasks.rebuild(herold.engine, "lk-beispiel").values()) > 0


# -- hand-offs: a platform without a posting API, where a person posts --------------------------------


def hand_off_herold(
    make_settings: SettingsFactory, make_herold: HeroldFactory, clock: Clock | None = None, smtp_port: int = 25
) -> Herold:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "whatsapp", "type": "fake-hand-off"})
    authority["oncall"] = {"emails": ["leitstelle@lk-beispiel.de"]}
    settings = make_settings(authorities=[authority], grace_warning_seconds=0.2, grace_news_seconds=0.2,
                             smtp_host="127.0.0.1", smtp_port=smtp_port)  # fmt: skip
    return make_herold(settings, clock=clock) if clock else make_herold(settings)


def test_a_hand_off_waits_for_a_person_with_copy_ready_text_and_a_confirmation_completes_it(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = hand_off_herold(make_settings, make_herold)
    announcement_id = publish(herold, warning())
    assert states(herold, announcement_id) == {"website": OperationState.succeeded, "whatsapp": OperationState.manual}
    result = report(herold.engine, announcement_id)
    assert result is not None and result.status == "published"
    [handed] = [d for d in result.deliveries if d.channel == "whatsapp"]
    assert handed.hand_off is not None and handed.hand_off.text == journal.of("whatsapp")[0].text
    assert f"herold confirm {announcement_id} whatsapp --url URL" in table(result)

    url = "https://whatsapp.com/channel/0029VaLkBeispiel/42"
    assert tasks.confirm(herold.engine, announcement_id, "whatsapp", url, actor="cli:pressestelle", source="cli") == []

    assert states(herold, announcement_id)["whatsapp"] is OperationState.succeeded
    [confirmed] = [e for e in herold.store.audit.entries(announcement_id=announcement_id)
                   if e.action == "delivery.confirmed"]  # fmt: skip
    assert (confirmed.actor, (confirmed.detail or {})["url"]) == ("cli:pressestelle", url)
    page = herold.site(AUTHORITY["slug"]).directory / report(herold.engine, announcement_id).item_url.removeprefix(  # type: ignore[union-attr]
        AUTHORITY["base_url"]) / "index.html"  # fmt: skip
    assert eventually(lambda: url in page.read_text(encoding="utf-8")), "the copy is on the item page"
    assert tasks.confirm(herold.engine, announcement_id, "whatsapp", url, actor="x", source="cli") == [
        "the delivery on 'whatsapp' is succeeded; only one handed to a person is confirmed"
    ]


def test_a_follow_up_is_handed_off_while_the_alert_still_waits_for_its_person(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = hand_off_herold(make_settings, make_herold)
    alert = publish(herold, warning())
    all_clear = publish(herold, warning(msg_type="cancel", references=alert, headline="Entwarnung", instruction=None))
    assert states(herold, all_clear)["whatsapp"] is OperationState.manual
    assert [call.announcement_id for call in journal.of("whatsapp")] == [alert, all_clear]


def test_a_warning_left_unconfirmed_alerts_the_on_call_contacts_once(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    clock = Clock(utcnow())
    with Mailbox() as mailbox:
        herold = hand_off_herold(make_settings, make_herold, clock, smtp_port=mailbox.port)
        warned = publish(herold, warning())
        routine = publish(herold, news())

        clock.advance(timedelta(minutes=4, seconds=50))
        tasks.sweep(herold.engine)
        assert herold.store.notifications.all() == [], "not before five minutes"
        clock.advance(timedelta(seconds=20))
        tasks.sweep(herold.engine)
        tasks.sweep(herold.engine)

        [alarm] = herold.store.notifications.all()
        assert (alarm.announcement_id, alarm.channel) == (warned, "whatsapp"), "news is not alarmed"
        assert f"herold confirm {warned} whatsapp" in alarm.body and routine not in alarm.body
        [mail] = mailbox.wait_for(1, timeout=20)
    assert mail["Subject"] == "Herold: Warnung wartet auf Veröffentlichung von Hand in whatsapp"


def test_only_the_built_in_website_works_in_the_site_s_lane_a_web_host_waits_like_a_platform(
    make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    # A wave-1 channel that copies the item to a server (a web host, a WordPress) may wait on the
    # network: it must never hold up the next warning's own page.
    runner = ByHand()
    settings = make_settings(authorities=[authority({"id": "webhost", "type": "fake-website"})])
    herold = make_herold(settings, runner=runner)

    announcement_id = accept(herold.engine, warning(), source="test", actor="t")
    runner.drain(herold)

    lanes = {o.channel: runner.lanes[o.id] for o in herold.store.operations.of(announcement_id, publishing=True)}
    assert lanes == {"website": "site", "webhost": "warnings"}


def test_an_announcement_of_an_authority_removed_from_the_configuration_is_left_alone_without_an_error(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    runner = ByHand()
    before = make_herold(make_settings(), runner=runner)
    announcement_id = accept(before.engine, warning(), source="test", actor="t")
    before.stop()
    neighbour = {**copy.deepcopy(AUTHORITY), "slug": "stadt-nachbar"}
    after = make_herold(make_settings(authorities=[neighbour]), runner=ByHand())  # same database

    tasks.advance(after.engine, announcement_id)  # what the sweep does for leftover work
    tasks.refresh(after.engine, announcement_id)

    assert after.store.announcements.get(announcement_id) is not None


# -- a withdrawal's post the platform would not delete: a person takes it down -------------------


@pytest.fixture
def withdrawn_but_not_deleted(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> Iterator[tuple[Herold, str]]:
    """A warning on a platform that will not delete it, and its withdrawal."""
    with undeletable() as kind:
        herold = start(make_settings, make_herold, {"id": "alt", "type": kind.type}, grace_warning_seconds=0.05)
        alert = publish(herold, warning())
        withdrawal = publish(herold, warning(msg_type="error", references=alert, headline="Widerruf: ein Irrtum"))
        yield herold, withdrawal
        herold.stop()  # before its channel type goes


def still_up(herold: Herold, withdrawal: str) -> str:
    """The address of the warning's post the withdrawal should have deleted."""
    stored = herold.store.announcements.get(withdrawal)
    assert stored is not None and stored.announcement.references is not None
    post = herold.store.operations.copy_on(stored.announcement.references, "alt")
    assert post is not None and post.platform_url is not None
    return post.platform_url


def deletion_on(herold: Herold, announcement_id: str, channel: str) -> OperationState:
    [deletion] = [o for o in herold.store.operations.of(announcement_id)
                  if o.channel == channel and o.action is Action.delete]  # fmt: skip
    return deletion.state


def test_a_post_a_withdrawal_could_not_delete_waits_for_a_person_naming_the_post(
    withdrawn_but_not_deleted: tuple[Herold, str],
) -> None:
    herold, withdrawal = withdrawn_but_not_deleted

    [item] = [w for w in waiting(herold.engine) if w.channel == "alt"]

    assert deletion_on(herold, withdrawal, "alt") is OperationState.failed
    assert item.announcement_id == withdrawal and item.state == "not deleted"
    assert still_up(herold, withdrawal) in item.next_step
    assert f"herold reconcile {withdrawal} alt --deleted" in item.next_step


def test_a_post_deleted_by_hand_is_recorded_audited_and_leaves_the_item_page(
    withdrawn_but_not_deleted: tuple[Herold, str],
) -> None:
    herold, withdrawal = withdrawn_but_not_deleted
    stored = herold.store.announcements.get(withdrawal)
    assert stored is not None
    page = herold.site(AUTHORITY["slug"]).directory / stored.item_path / "index.html"
    address = still_up(herold, withdrawal)
    assert address in page.read_text(encoding="utf-8"), "still up: still linked"

    assert tasks.settle_deletions(herold.engine, withdrawal, "alt", deleted=True, actor="cli:pressestelle",
                                  source="cli") == []  # fmt: skip

    assert deletion_on(herold, withdrawal, "alt") is OperationState.succeeded
    assert [w for w in waiting(herold.engine) if w.channel == "alt"] == []
    [entry] = [e for e in herold.store.audit.entries(announcement_id=withdrawal) if e.action == "delivery.reconciled"]
    assert entry.actor == "cli:pressestelle"
    assert entry.detail == {"channel": "alt", "operation": "delete", "post": address, "outcome": "deleted by hand"}
    assert eventually(lambda: address not in page.read_text(encoding="utf-8"))
    assert tasks.settle_deletions(herold.engine, withdrawal, "alt", deleted=True, actor="t", source="t") == [
        f"no deletion on 'alt' of announcement {withdrawal} waits for a person"
    ]


def test_a_deletion_tried_again_goes_out_once_the_platform_takes_it(
    withdrawn_but_not_deleted: tuple[Herold, str],
) -> None:
    herold, withdrawal = withdrawn_but_not_deleted
    Undeletable.refusing = False  # a person arranged it with the platform

    assert tasks.settle_deletions(herold.engine, withdrawal, "alt", deleted=False, actor="t", source="t") == []

    assert eventually(lambda: deletion_on(herold, withdrawal, "alt") is OperationState.succeeded)
    outcomes = [(e.detail or {}).get("outcome") for e in herold.store.audit.entries(announcement_id=withdrawal)
                if e.action == "delivery.reconciled"]  # fmt: skip
    assert outcomes == ["delete again"]


def test_trying_a_deletion_again_sends_nothing_else_again(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    """Where the withdrawal's own post failed as well (a revoked token), trying the deletion again
    deletes; it does not post the withdrawal a second time."""
    with undeletable() as kind:
        herold = start(make_settings, make_herold, {"id": "alt", "type": kind.type}, grace_warning_seconds=0.05)
        alert = publish(herold, warning())
        kind.refusing_posts = True
        withdrawal = publish(herold, warning(msg_type="error", references=alert, headline="Widerruf: ein Irrtum"))
        own = herold.store.operations.copy_on(withdrawal, "alt")
        assert own is not None and own.state is OperationState.failed
        kind.refusing = kind.refusing_posts = False

        assert tasks.settle_deletions(herold.engine, withdrawal, "alt", deleted=False, actor="t", source="t") == []

        assert eventually(lambda: deletion_on(herold, withdrawal, "alt") is OperationState.succeeded)
        assert kind.posted == [alert], "the withdrawal was not posted again"
        herold.stop()


def test_of_two_posts_left_up_one_deleted_by_hand_leaves_the_other_waiting(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    with undeletable() as kind:
        herold = start(make_settings, make_herold, {"id": "alt", "type": kind.type}, grace_warning_seconds=0.05)
        alert = publish(herold, warning())
        publish(herold, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"))
        withdrawal = publish(herold, warning(msg_type="error", references=alert, headline="Widerruf: ein Irrtum"))
        first, second = herold.store.operations.deletions_to_settle(withdrawal, "alt")

        assert tasks.settle_deletions(herold.engine, withdrawal, None, operation_id=first.id, deleted=True,
                                      actor="t", source="t") == []  # fmt: skip

        assert [d.id for d in herold.store.operations.deletions_to_settle(withdrawal, "alt")] == [second.id]
        assert [w.channel for w in waiting(herold.engine) if w.announcement_id == withdrawal] == ["alt"]
        herold.stop()
