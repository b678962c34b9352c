"""Storage, on the embedded default (SQLite) and on PostgreSQL alike."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from adapters.port import Receipt
from publisher.core.plan import Plan, Release
from publisher.domain.announcement import parse_announcement
from publisher.domain.problems import InvalidInput
from publisher.domain.records import Action, AuditEntry, Role, Variant
from publisher.engine.schema import AnnouncementRow, OperationState
from publisher.engine.store import NewOperation, Operation, Store, Unreadable, database_unavailable
from publisher.site.model import Copy, ItemCopies

from conftest import forget_cached, warning
from services import free_port

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
LEASE = timedelta(minutes=2)
DEADLINE = timedelta(hours=2)


def add(
    store: Store,
    *,
    channels: tuple[str, ...] = ("website", "mastodon"),
    item: str | None = None,
    at: datetime = NOW,
    **changes: object,
) -> tuple[str, list[str]]:
    announcement_id = str(changes.pop("announcement_id", None) or uuid.uuid4())
    delivery_ids = [str(uuid.uuid4()) for _ in channels]
    store.announcements.add(
        announcement_id=announcement_id,
        item_id=item or announcement_id,
        item_path=None if item else f"2026/11/fliegerbombe-{announcement_id}/",
        item_month=None if item else at.strftime("%Y-%m"),
        announcement=parse_announcement(warning(**changes)),
        source="test",
        actor="tester",
        now=at,
        variants=[
            Variant(channel=c, language="de", text=f"Text für {c}", link="https://x/", length=10, limit=500)
            for c in channels
        ],
        operations=[
            NewOperation(d, c, c, Action.publish, 1 if c == "website" else 2, at + timedelta(hours=2), at)
            for d, c in zip(delivery_ids, channels, strict=True)
        ],
        audit_entry=AuditEntry(
            at=at,
            authority="lk-beispiel",
            actor="tester",
            source="test",
            action="announcement.accepted",
            announcement_id=announcement_id,
        ),
    )
    return announcement_id, delivery_ids


def entry(action: str = "x") -> AuditEntry:
    return AuditEntry(at=NOW, authority="lk-beispiel", actor="tester", source="test", action=action)


def release(store: Store, operation_id: str, at: datetime = NOW) -> bool:
    return store.operations.release(operation_id, "accepted", at, DEADLINE, entry("delivery.released"))


def claim(store: Store, operation_id: str, at: datetime = NOW) -> Operation | None:
    attempt = store.operations.attempt(operation_id, at, LEASE)
    return attempt.operation if attempt else None


def succeed(store: Store, claimed: Operation | None, receipt: Receipt, at: datetime = NOW) -> bool:
    assert claimed is not None
    return store.operations.complete(claimed, receipt, at, entry("delivery.succeeded"), flagged=False) is not None


def retry_later(store: Store, claimed: Operation, error: str, at: datetime, now: datetime) -> bool:
    return store.operations.retry_later(claimed, error, at, now, ambiguous=False, entry=entry("delivery.retry"))


def test_an_accepted_announcement_is_stored_with_its_variants_and_deliveries(store: Store) -> None:
    announcement_id, _ = add(store)
    stored = store.announcements.get(announcement_id)
    assert stored is not None
    assert stored.announcement.headline == "Fliegerbombe in der Altstadt"
    assert stored.received_at == NOW and stored.received_at.tzinfo is not None
    assert [v.channel for v in store.announcements.variants(announcement_id)] == ["mastodon", "website"]
    deliveries = store.operations.of(announcement_id)
    assert [(d.channel, d.wave, d.state) for d in deliveries] == [
        ("website", 1, OperationState.waiting),
        ("mastodon", 2, OperationState.waiting),
    ]
    assert len({d.idempotency_key for d in deliveries}) == 2


def test_a_delivery_moves_only_by_compare_and_set(store: Store) -> None:
    _, (website, _) = add(store)
    assert claim(store, website) is None, "waiting deliveries cannot be claimed"
    assert release(store, website)
    assert not release(store, website), "released once only"
    claimed = claim(store, website)
    assert claimed is not None and claimed.state is OperationState.in_flight and claimed.attempts == 1
    assert claim(store, website) is None, "nobody else gets it while it is in flight"
    assert succeed(store, claimed, Receipt("page", "https://x/page"))
    assert not succeed(store, claimed, Receipt("again", None))
    done = store.operations.get(website)
    assert done is not None and done.state is OperationState.succeeded and done.platform_id == "page"


def test_of_many_workers_claiming_at_once_exactly_one_wins(store: Store) -> None:
    _, (website, _) = add(store)
    release(store, website)
    winners: list[object] = []
    start = threading.Barrier(8)

    def compete() -> None:
        start.wait()
        if claim(store, website):
            winners.append(1)

    workers = [threading.Thread(target=compete) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(winners) == 1


def test_a_retry_is_not_due_before_its_time(store: Store) -> None:
    _, (website, _) = add(store)
    release(store, website)
    claimed = claim(store, website)
    assert claimed is not None
    retry_later(store, claimed, "500", NOW + timedelta(seconds=30), NOW)
    assert claim(store, website, NOW + timedelta(seconds=29)) is None
    assert [d.id for d in store.operations.due(NOW + timedelta(seconds=29))] == []
    assert [d.id for d in store.operations.due(NOW + timedelta(seconds=30))] == [website]
    again = claim(store, website, NOW + timedelta(seconds=30))
    assert again is not None and again.attempts == 2 and again.last_error == "500"


def test_an_expired_lease_returns_the_delivery_marked_as_possibly_sent(store: Store) -> None:
    _, (website, _) = add(store)
    release(store, website)
    claimed = claim(store, website)
    assert claimed is not None and claimed.lease_until is not None
    assert store.operations.expired_leases(NOW + LEASE - timedelta(seconds=1)) == []
    [expired] = store.operations.expired_leases(NOW + LEASE + timedelta(seconds=1))
    assert store.operations.return_expired_lease(expired, NOW + LEASE)
    returned = store.operations.get(website)
    assert returned is not None and returned.state is OperationState.pending and returned.ambiguous


def test_a_worker_whose_lease_was_taken_over_changes_nothing(store: Store) -> None:
    _, (website, _) = add(store)
    release(store, website)
    late = claim(store, website)
    assert late is not None and late.lease_until is not None
    store.operations.return_expired_lease(late, NOW + LEASE)
    current = claim(store, website, NOW + LEASE)
    assert current is not None and current.attempts == 2
    assert not succeed(store, late, Receipt("late"), NOW + LEASE)
    assert not retry_later(store, late, "late", NOW, NOW)
    assert succeed(store, current, Receipt("current"), NOW + LEASE)
    done = store.operations.get(website)
    assert done is not None and done.platform_id == "current"


def test_the_sweep_finds_waiting_deliveries_whose_check_is_due(store: Store) -> None:
    announcement_id, _ = add(store)
    assert store.operations.checks_due(NOW) == [(announcement_id, "warning")]

    def look_again_at(at: datetime | None) -> None:
        store.operations.advance(announcement_id, lambda steps: (Plan(), at), NOW, DEADLINE, lambda *_: entry())

    look_again_at(NOW + timedelta(seconds=10))
    assert store.operations.checks_due(NOW) == []
    assert store.operations.checks_due(NOW + timedelta(seconds=10)) == [(announcement_id, "warning")]
    look_again_at(None)
    assert store.operations.checks_due(NOW + timedelta(days=1)) == [], "nothing to look at until an event"


def test_applying_a_plan_releases_and_skips_once_and_audits_what_it_changed(store: Store) -> None:
    announcement_id, (website, mastodon) = add(store)
    decision = Plan(releases=(Release((website,), "accepted"),), skips=(Release((mastodon,), "not needed"),))

    first = store.operations.advance(
        announcement_id,
        lambda steps: (decision, None),
        NOW,
        DEADLINE,
        lambda step, action, reason: entry(f"{action}:{step.channel}:{reason}"),
    )
    again = store.operations.advance(
        announcement_id, lambda steps: (decision, None), NOW, DEADLINE, lambda step, action, reason: entry(action)
    )

    assert (first.released, first.skipped) == ([website], [mastodon])
    assert (again.released, again.skipped) == ([], [])
    states = {o.channel: o.state for o in store.operations.of(announcement_id)}
    assert states == {"website": OperationState.pending, "mastodon": OperationState.skipped}
    assert [e.action for e in store.audit.entries(announcement_id=None)][-2:] == [
        "delivery.released:website:accepted", "delivery.skipped:mastodon:not needed",
    ]  # fmt: skip


def test_the_audit_log_is_append_only(store: Store) -> None:
    add(store)
    store.audit.append(entry("x"))
    assert [e.action for e in store.audit.entries(authority="lk-beispiel")] == ["announcement.accepted", "x"]
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
            connection.execute(text(statement))
    assert len(store.audit.entries()) == 2


def test_api_tokens_are_stored_only_as_hashes(store: Store) -> None:
    token = store.tokens.create("lk-beispiel", "Leitstelle", NOW)
    assert store.tokens.authority_of(token) == ("lk-beispiel", "Leitstelle", Role.editor)
    assert store.tokens.authority_of(token + "x") is None
    with store.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert token not in stored and len(stored) == 64


def test_what_a_site_has_published_is_read_back_in_the_order_items_arrived_with_the_copies_elsewhere(
    store: Store,
) -> None:
    older, (older_site, older_fedi) = add(store, at=NOW - timedelta(days=40))
    newer, (newer_site, _) = add(store)
    follow_up, (follow_site, _) = add(store, item=older, msg_type="update", references=older,
                                      at=NOW + timedelta(minutes=5))  # fmt: skip
    for operation in (older_site, newer_site, follow_site, older_fedi):
        release(store, operation)
    for operation in (older_site, newer_site):
        succeed(store, claim(store, operation), Receipt("p"))
    succeed(store, claim(store, older_fedi), Receipt("110", "https://social.example/@lkb/110"))
    assert claim(store, follow_site) is not None, "being published: its success not recorded yet"

    published = store.archive.published("lk-beispiel", "website", ("website",))
    assert published.deleted == {}

    assert [(p.item_id, p.entry.id, p.item_month) for p in published.publications] == [
        (older, older, "2026-10"), (older, follow_up, "2026-10"), (newer, newer, "2026-11"),
    ]  # fmt: skip
    assert published.under_way == {follow_up}, "under way: a rebuild keeps it if the site shows it already"
    assert published.publications[0].entry.variant_text == "Text für website"
    copies = published.copies
    assert copies == {older: {older: [Copy("mastodon", "mastodon", "https://social.example/@lkb/110")]}}
    assert store.archive.item_copies(older, ("website",)) == ("lk-beispiel", ItemCopies(copies[older]))
    assert store.archive.item_copies(newer, ("website",)) == ("lk-beispiel", ItemCopies({}))
    assert store.archive.item_copies("no-such-item", ("website",)) == (None, ItemCopies({}))


def test_of_several_refusals_at_the_same_moment_exactly_one_flags_the_channel(store: Store) -> None:
    start = threading.Barrier(6)
    flagged: list[bool] = []

    def refuse() -> None:
        start.wait()
        flagged.append(store.health.mark("lk-beispiel", "mastodon", "401", NOW))

    workers = [threading.Thread(target=refuse) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(flagged) == [False] * 5 + [True]
    assert store.health.attention("lk-beispiel") == {"mastodon": "401"}
    assert store.health.clear("lk-beispiel", "mastodon", NOW)
    assert store.health.mark("lk-beispiel", "mastodon", "401 again", NOW), "flagged anew after it worked"


def test_a_person_settles_a_delivery_nobody_could_confirm(store: Store) -> None:
    _, (website, mastodon) = add(store)
    release(store, mastodon)
    claimed = claim(store, mastodon)
    assert claimed is not None
    store.operations.finish(claimed, OperationState.unknown, "timed out after sending", NOW)
    assert not store.operations.reconcile(website, NOW, url=None, deadline=DEADLINE), (
        "only ended deliveries are settled"
    )
    assert store.operations.reconcile(mastodon, NOW, url="https://social.example/@lkb/1", deadline=DEADLINE)
    settled = store.operations.get(mastodon)
    assert settled is not None and settled.state is OperationState.succeeded
    assert settled.platform_url == "https://social.example/@lkb/1"


def test_the_sweep_reads_a_queued_backlog_once_per_requeue_interval_but_a_retry_at_its_time(store: Store) -> None:
    _, (website, _) = add(store)
    release(store, website)
    due = store.operations.due(NOW, NOW - timedelta(seconds=30))
    assert [d.id for d in due] == [website]
    store.operations.mark_queued(due, NOW)
    # Still waiting in the pool's backlog: not read again until the requeue interval has passed.
    assert store.operations.due(NOW + timedelta(seconds=5), NOW + timedelta(seconds=5) - timedelta(seconds=30)) == []
    later = NOW + timedelta(seconds=31)
    assert [d.id for d in store.operations.due(later, later - timedelta(seconds=30))] == [website]

    # Taken by a worker, it failed: its retry waits in the database and is due at its time.
    claimed = claim(store, website, NOW + timedelta(seconds=5))
    assert claimed is not None
    retry_at = NOW + timedelta(seconds=6)
    retry_later(store, claimed, "500", retry_at, NOW + timedelta(seconds=5))
    assert [d.id for d in store.operations.due(retry_at, retry_at - timedelta(seconds=30))] == [website]


def test_a_delivery_taken_and_put_back_for_a_retry_between_the_sweep_s_read_and_mark_is_not_marked(
    store: Store,
) -> None:
    _, (website, _) = add(store)
    release(store, website)
    due = store.operations.due(NOW, NOW - timedelta(seconds=30))  # the sweep reads it ...
    claimed = claim(store, website)  # ... a worker takes it at once and is told to wait 2 s ...
    assert claimed is not None
    retry_at = NOW + timedelta(seconds=2)
    retry_later(store, claimed, "503", retry_at, NOW)
    store.operations.mark_queued(due, NOW)  # ... and then the sweep marks what it read.
    assert [d.id for d in store.operations.due(retry_at, retry_at - timedelta(seconds=30))] == [website], (
        "the retry is due"
    )


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_can_be_used(url: str) -> None:
    store = Store(url)
    store.migrate()
    assert store.operations.of("none") == []
    store.dispose()


# -- what cannot be read back is never stored; what cannot be read anyway is skipped -----------------------


def test_an_announcement_that_could_not_be_read_back_is_refused_and_nothing_is_written(store: Store) -> None:
    valid = parse_announcement(warning(expires="2026-11-22T12:00:00+01:00"))
    broken = valid.model_copy(update={"effective": datetime(2026, 11, 22, 13, tzinfo=UTC)})  # after expires

    with pytest.raises(InvalidInput) as refused:
        store.announcements.add(
            announcement_id=str(uuid.uuid4()), item_id="i", item_path="2026/11/x/", item_month="2026-11",
            announcement=broken, source="test", actor="tester", now=NOW, variants=[], operations=[],
            audit_entry=AuditEntry(at=NOW, authority="lk-beispiel", actor="tester", source="test", action="accepted"),
        )  # fmt: skip

    assert [str(p) for p in refused.value.problems] == ["expires: must be later than effective"]
    with store.engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM items")).scalar_one() == 0
        assert connection.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 0


def test_a_stored_document_is_read_by_the_rules_it_was_stored_under(store: Store) -> None:
    """Tightening a rule for input (here: no control characters) never makes an announcement that
    is already stored unreadable: its warning could then never be updated or cancelled."""
    announcement_id, _ = add(store)
    legacy = parse_announcement(warning()).model_dump(mode="json") | {"headline": "Alt\x1bes"}
    with store.engine.begin() as connection:
        connection.execute(update(AnnouncementRow).where(AnnouncementRow.id == announcement_id).values(document=legacy))
    forget_cached(announcement_id)

    stored = store.announcements.get(announcement_id)

    assert stored is not None and stored.announcement.headline == "Alt\x1bes"


def test_an_unreadable_stored_document_is_left_out_of_what_the_site_is_told_and_named_when_asked_for(
    store: Store,
) -> None:
    broken, (broken_site, _) = add(store)
    fine, (fine_site, _) = add(store, at=NOW + timedelta(minutes=1))
    for delivery in (broken_site, fine_site):
        release(store, delivery)
        succeed(store, claim(store, delivery, NOW + timedelta(minutes=2)), Receipt("p"))
    with store.engine.begin() as connection:
        connection.execute(update(AnnouncementRow).where(AnnouncementRow.id == broken).values(document=[1, 2]))
    forget_cached(broken)

    publications = store.archive.published("lk-beispiel", "website", ("website",)).publications
    assert [p.item_id for p in publications] == [fine]
    assert store.announcements.thread(broken) == []
    with pytest.raises(Unreadable) as unreadable:
        store.announcements.get(broken)
    assert unreadable.value.announcement_id == broken


def test_the_deliveries_of_an_unreadable_announcement_fail_once_with_the_reason(store: Store) -> None:
    broken, _ = add(store)
    audit = AuditEntry(at=NOW, authority="lk-beispiel", actor="herold", source="engine", action="unreadable")
    error = Unreadable(broken, "headline: is required")

    assert store.operations.fail_unreadable(error, NOW, audit) is True
    assert store.operations.fail_unreadable(error, NOW, audit) is False

    assert {(d.state, d.last_error) for d in store.operations.of(broken)} == {
        (OperationState.failed, "headline: is required")
    }
    assert [e.action for e in store.audit.entries(announcement_id=None) if e.action == "unreadable"] == ["unreadable"]


def test_an_outage_is_told_apart_from_a_mistake_in_the_set_up(tmp_path: Path) -> None:
    missing_table = Store(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated
    away = Store(f"postgresql+psycopg://herold@127.0.0.1:{free_port()}/herold")  # nobody listens there
    try:
        for store, outage in ((missing_table, False), (away, True)):
            with pytest.raises(DBAPIError) as failed, store.engine.begin() as connection:
                connection.execute(text("SELECT id FROM announcements"))
            assert database_unavailable(failed.value) is outage
    finally:
        missing_table.dispose()
        away.dispose()


def test_an_item_whose_latest_entry_cannot_be_read_is_published_with_the_one_before(store: Store) -> None:
    alert, (alert_site, _) = add(store)
    update_id, (update_site, _) = add(
        store, item=alert, msg_type="update", references=alert, at=NOW + timedelta(minutes=5)
    )
    for delivery in (alert_site, update_site):
        release(store, delivery)
        succeed(store, claim(store, delivery, NOW + timedelta(minutes=6)), Receipt("p"))
    with store.engine.begin() as connection:
        connection.execute(update(AnnouncementRow).where(AnnouncementRow.id == update_id).values(document="kaputt"))
    forget_cached(update_id)

    publications = store.archive.published("lk-beispiel", "website", ("website",)).publications

    assert [(p.item_id, p.entry.id) for p in publications] == [(alert, alert)]


def test_a_short_id_stands_for_the_one_announcement_it_begins_and_says_when_it_fits_several(store: Store) -> None:
    first, _ = add(store, announcement_id="1a2b3c4d-0000-4000-8000-000000000001")
    add(store, announcement_id="1a2b3c4d-0000-4000-8000-000000000002")
    other, _ = add(store, announcement_id="9f8e7d6c-0000-4000-8000-000000000003")

    assert store.announcements.resolve(first) == [first]
    assert store.announcements.resolve("9F8E7D6C") == [other]
    assert len(store.announcements.resolve("1a2b3c4d")) == 2, "ambiguous: the caller asks for more"
    assert store.announcements.resolve("1a2b3c4d", authority="stadt-nachbar") == []
    assert store.announcements.resolve("1a2b%") == [] and store.announcements.resolve("x' OR 1=1") == []
