"""Retention: delivery error texts and on-call alarms are deleted after the retention period;
what was published, the announcements and the audit log stay (issue #10, data avoidance)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from test_store import NOW, add, claim, entry, release

from publisher.edges.wiring import Herold
from publisher.engine import tasks
from publisher.engine.schema import NotificationRow, OperationState
from publisher.engine.store import Store

from conftest import publish, warning

LATER = NOW + timedelta(days=31)


def failed_delivery(store: Store, error: str = "the platform answered 500: Interner Fehler bei Status 4711") -> str:
    _, (_, mastodon) = add(store)
    release(store, mastodon)
    claimed = claim(store, mastodon)
    assert claimed is not None
    store.operations.finish(claimed, OperationState.failed, error, NOW)
    return mastodon


def alarm(store: Store, state: str, at: datetime = NOW) -> str:
    row = NotificationRow(
        id=str(uuid.uuid4()), authority="lk-beispiel", announcement_id=None, channel="mastodon", medium="email",
        target="lagezentrum@landkreis-beispiel.de", subject="Warnung nicht zugestellt", body="500 Interner Fehler",
        payload={}, dedupe_key=str(uuid.uuid4()), state=state, attempts=1, next_attempt_at=at, created_at=at,
    )  # fmt: skip
    store.notifications.add([row])
    return row.id


def test_an_error_text_stays_within_the_retention_period_and_is_gone_after_it(store: Store) -> None:
    delivery = failed_delivery(store)

    assert not store.retention.forget(NOW - timedelta(days=30)), "a fresh failure keeps its reason"
    kept = store.operations.get(delivery)
    assert kept is not None and kept.last_error and "500" in kept.last_error

    forgotten = store.retention.forget(LATER - timedelta(days=30), 30)
    assert forgotten.error_texts == 1
    gone = store.operations.get(delivery)
    assert gone is not None and gone.last_error is not None and "4711" not in gone.last_error
    assert gone.last_error == "(the platform's answer was deleted 30 days after the delivery ended: retention)", (
        "whoever settles a failed delivery later is told why its reason is missing"
    )
    assert gone.state is OperationState.failed, "what happened to the delivery stays on record"
    assert store.retention.forget(LATER - timedelta(days=30), 30).error_texts == 0, "said once, not counted again"


def test_a_delivery_still_being_tried_keeps_its_error_whatever_its_age(store: Store) -> None:
    _, (_, mastodon) = add(store)
    release(store, mastodon)
    claimed = claim(store, mastodon)
    assert claimed is not None
    store.operations.retry_later(claimed, "the platform answered 503", NOW, NOW, ambiguous=False,
                                 entry=entry("delivery.retry"))  # fmt: skip

    assert store.retention.forget(LATER).error_texts == 0
    waiting = store.operations.get(mastodon)
    assert waiting is not None and waiting.last_error == "the platform answered 503"


def test_sent_and_given_up_alarms_go_after_the_period_pending_ones_stay(store: Store) -> None:
    sent, failed, pending = alarm(store, "sent"), alarm(store, "failed"), alarm(store, "pending")

    assert store.retention.forget(LATER).alarms == 2

    with store.engine.begin() as connection:
        left = set(connection.execute(select(NotificationRow.id)).scalars())
    assert left == {pending}, (sent, failed)


def test_the_sweep_deletes_old_error_texts_once_an_hour_and_says_so_in_the_audit_log(herold: Herold) -> None:
    announcement_id = publish(herold, warning())
    store = herold.store
    delivery = failed_delivery(store)
    accepted = [e.action for e in store.audit.entries(announcement_id=announcement_id)]

    herold.engine.clock = lambda: LATER
    herold.engine.forgotten_at = None
    tasks.sweep(herold.engine)

    gone = store.operations.get(delivery)
    assert gone is not None and "4711" not in (gone.last_error or "")
    swept = [e for e in store.audit.entries() if e.action == "retention.deleted"]
    assert len(swept) == 1 and swept[0].detail == {
        "error_texts": 1,
        "alarms": 0,
        "drafts": 0,
        "sessions": 0,
        "retention_days": 30,
    }
    assert [e.action for e in store.audit.entries(announcement_id=announcement_id)] == accepted, (
        "the audit log stays whole"
    )
    assert store.announcements.get(announcement_id) is not None, "published content stays"

    failed_delivery(store)
    herold.engine.clock = lambda: LATER + timedelta(minutes=30)
    tasks.sweep(herold.engine)  # within the hour: not again
    assert len([e for e in store.audit.entries() if e.action == "retention.deleted"]) == 1
