"""Task functions: the same code runs in-process (embedded) and on Celery workers.

- ``advance(announcement)`` applies the publication plan: releases waves, schedules the next look.
- ``deliver(delivery)`` makes one attempt at one delivery, under a lease taken by compare-and-set.
- ``refresh(item)`` tells own-website channels that copies elsewhere changed ("also on …").
- ``notify(notification)`` sends one on-call notification (publisher.oncall).
- ``sweep()`` finds what is due or was lost: expired leases, due retries, waves to release,
  unsent notifications, pinned warnings that expired.

A task may run twice (a redelivered message, a sweep racing a worker); compare-and-set in the
database makes the second run a no-op.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import structlog

from adapters.port import (
    AnnouncesLimits,
    Channel,
    CredentialsError,
    DeliveryError,
    Idempotency,
    Lookup,
    PermanentError,
    Pinning,
    Post,
    Receipt,
    Threads,
    TransientError,
)
from publisher.core.plan import Step, plan, website_published
from publisher.domain.announcement import Kind, MsgType
from publisher.domain.labels import labels_for
from publisher.domain.records import AuditEntry, DeliveryState, Variant
from publisher.engine import oncall
from publisher.engine.engine import Engine
from publisher.engine.runner import TaskName
from publisher.engine.store import Attempt, Delivery, Release, StoredAnnouncement, Unreadable
from publisher.site.registry import channel_types
from publisher.site.website import Website

log = structlog.get_logger("herold.tasks")

RETRY_CAP = 300.0  # never wait longer than five minutes between attempts
SAFETY_NET = timedelta(seconds=30)  # look again at waiting deliveries even if no event says so
UNPIN_EVERY = 60.0  # seconds between two requests to unpin the same post


def run(engine: Engine, task: TaskName, argument: str) -> None:
    tasks: dict[str, Callable[[Engine, str], None]] = {
        "deliver": deliver, "advance": advance, "refresh": refresh, "notify": oncall.send, "unpin": unpin,
        "limits": limits,
    }  # fmt: skip
    tasks[task](engine, argument)


def _audit(
    engine: Engine,
    action: str,
    *,
    authority: str | None,
    announcement_id: str | None = None,
    delivery_id: str | None = None,
    actor: str = "herold",
    source: str = "engine",
    **detail: object,
) -> None:
    engine.store.audit(AuditEntry(
        at=engine.clock(), authority=authority, actor=actor, source=source, action=action,
        announcement_id=announcement_id, delivery_id=delivery_id, detail=dict(detail),
    ))  # fmt: skip


def _entry(
    engine: Engine,
    action: str,
    stored: StoredAnnouncement,
    delivery: Delivery | Step,
    *,
    actor: str = "herold",
    source: str = "engine",
    **detail: object,
) -> AuditEntry:
    """An audit entry about one delivery: which announcement, which channel, and what happened."""
    return AuditEntry(
        at=engine.clock(), authority=stored.authority, actor=actor, source=source, action=action,
        announcement_id=stored.id, delivery_id=delivery.id, detail={"channel": delivery.channel, **detail},
    )  # fmt: skip


def _audit_delivery(
    engine: Engine,
    action: str,
    stored: StoredAnnouncement,
    delivery: Delivery,
    *,
    actor: str = "herold",
    source: str = "engine",
    **detail: object,
) -> None:
    engine.store.audit(_entry(engine, action, stored, delivery, actor=actor, source=source, **detail))


def _steps(deliveries: list[Delivery]) -> list[Step]:
    return [Step(d.id, d.channel, d.wave, d.state, d.released_at) for d in deliveries]


# -- the plan ------------------------------------------------------------------------------


def advance(engine: Engine, announcement_id: str) -> None:
    try:
        found = engine.store.announcement_with_steps(announcement_id)
    except Unreadable as error:
        unreadable(engine, error)
        return
    if found is None:
        log.warning("advance: no such announcement", announcement=announcement_id)
        return
    _advance(engine, *found)


def _advance(engine: Engine, stored: StoredAnnouncement, steps: list[Step]) -> None:
    """Apply the plan to the deliveries as just read: releases and the next look, in one transaction."""
    now, kind = engine.clock(), stored.announcement.kind
    decision = plan(
        steps, now=now, grace=engine.grace(kind),
        publish_at=stored.announcement.publish_at, override=stored.override_reason,
    )  # fmt: skip
    by_id = {step.id: step for step in steps}
    releases = [
        Release(delivery_id, release.reason, _entry(engine, "delivery.released", stored, by_id[delivery_id],
                                                    wave=by_id[delivery_id].wave, reason=release.reason))
        for release in decision.releases
        for delivery_id in release.delivery_ids
    ]  # fmt: skip
    if decision.held_back:
        check_again = None  # only a person can move it on
    elif decision.check_again_at:
        check_again = decision.check_again_at
    else:
        # Finished deliveries trigger the next step at once; this later look is only the
        # safety net for a trigger that got lost on the way.
        check_again = now + SAFETY_NET
    if not releases and not any(step.state is DeliveryState.waiting for step in steps):
        return  # nothing waits (e.g. the look after the grace period, once all was released): nothing to write
    released = engine.store.release_all(stored.id, releases, now, engine.deadline(kind), check_again)
    for delivery_id in released:
        engine.submit("deliver", delivery_id, kind=kind)
    if not decision.held_back and decision.check_again_at:
        delay = max(0.0, (decision.check_again_at - now).total_seconds())
        engine.submit("advance", stored.id, kind=kind, delay=delay)


def reconcile(
    engine: Engine, announcement_id: str, channel: str, url: str | None, actor: str, source: str
) -> list[str]:
    """A person settles a delivery that ended without success: posted after all (``url``), or to
    be sent again. Returns problems; empty when done."""
    try:
        stored = engine.store.announcement(announcement_id)
    except Unreadable as error:
        return [str(error)]
    delivery = engine.store.copy_on(announcement_id, channel) if stored else None
    if stored is None or delivery is None:
        return [f"announcement {announcement_id} has no delivery on channel '{channel}'"]
    if delivery.state not in {DeliveryState.unknown, DeliveryState.failed, DeliveryState.dead}:
        return [f"the delivery on '{channel}' is {delivery.state.value}; only unknown, failed or dead ones are settled"]
    if url is not None and not url.startswith(("https://", "http://")):
        return [f"'{url}' is not a web address"]
    if not engine.store.reconcile(
        delivery.id, engine.clock(), url=url, deadline=engine.deadline(stored.announcement.kind)
    ):
        return ["the delivery changed meanwhile; look at herold status again"]
    _audit_delivery(engine, "delivery.reconciled", stored, delivery, actor=actor, source=source, url=url,
                    outcome="posted" if url else "send again")  # fmt: skip
    engine.submit(
        "deliver" if url is None else "advance",
        delivery.id if url is None else stored.id,
        kind=stored.announcement.kind,
    )
    if url:
        engine.submit("refresh", stored.item_id, kind=stored.announcement.kind)
    return []


def release_by_override(engine: Engine, announcement_id: str, reason: str, actor: str, source: str) -> list[str]:
    """A person releases the other waves although the website failed (warnings only).
    Returns problems; empty when released."""
    reason = reason.strip()
    try:
        stored = engine.store.announcement(announcement_id)
    except Unreadable as error:
        return [str(error)]
    if stored is None:
        return [f"no announcement {announcement_id}"]
    if stored.announcement.kind is not Kind.warning:
        return ["only warnings can be released without their website page; news waits for the website"]
    if len(reason) < 10:
        return ["give a reason of at least a few words; it is kept in the audit log"]
    deliveries = engine.store.deliveries(announcement_id)
    if website_published(_steps(deliveries)):
        return ["the website page is published; nothing is held back"]
    if not any(
        d.wave == 1 and d.state in {DeliveryState.failed, DeliveryState.dead, DeliveryState.unknown} for d in deliveries
    ):
        return ["the website delivery has not failed (yet); an override is only for a failed website"]
    engine.store.set_override(announcement_id, reason)
    _audit(
        engine,
        "announcement.override",
        authority=stored.authority,
        announcement_id=announcement_id,
        actor=actor,
        source=source,
        reason=reason,
    )
    log.warning("waves released by override", announcement=announcement_id, actor=actor, reason=reason)
    advance(engine, announcement_id)
    return []


def unreadable(engine: Engine, error: Unreadable) -> None:
    """A stored announcement that cannot be read is never delivered: its open deliveries fail
    with the reason, once, and the authority's on-call contacts hear of it. Nothing else waits
    for it, so the sweep does not come back to it."""
    summary = engine.store.summary(error.announcement_id)
    authority = summary["authority"] if summary else None
    now = engine.clock()
    audit = AuditEntry(
        at=now, authority=authority, actor="herold", source="engine", action="announcement.unreadable",
        announcement_id=error.announcement_id, detail={"reason": error.reason},
    )  # fmt: skip
    if not engine.store.fail_unreadable(error, now, audit) or authority is None:
        return
    log.error("deliveries of an unreadable announcement failed", announcement=error.announcement_id,
              reason=error.reason)  # fmt: skip
    try:
        t = labels_for(engine.authority(authority).language)
    except KeyError:
        return  # an authority no longer configured has nobody on call
    oncall.raise_alarm(engine, oncall.Alarm(
        authority=authority, cause=f"unreadable:{error.announcement_id}", subject=t("alarm.unreadable_subject"),
        text=t("alarm.unreadable_body", announcement=error.announcement_id, reason=error.reason),
        detail={"announcement_id": error.announcement_id, "state": "unreadable", "reason": error.reason},
        announcement_id=error.announcement_id,
    ))  # fmt: skip


# -- one attempt at one delivery -----------------------------------------------------------


class _Later(Exception):
    """Not an error: this delivery must wait for another (e.g. the message it replies to)."""

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(reason)
        self.reason, self.seconds = reason, seconds


def deliver(engine: Engine, delivery_id: str) -> None:
    now = engine.clock()
    try:
        attempt = engine.store.attempt(delivery_id, now, engine.lease)
    except Unreadable as error:  # the claim was rolled back with the reading
        unreadable(engine, error)
        return
    if attempt is None:
        return  # not due, already taken, or already done
    with _leases.kept(engine, attempt.delivery):
        _attempt(engine, attempt, now)


class _LeaseKeeper:
    """Renews the leases of the attempts running in this process, every third of the lease: a
    short lease hands a dead worker's delivery on quickly, renewal keeps a slow but living one
    (image uploads) from being handed on. One thread for all attempts, not one per attempt."""

    TICK = 1.0  # seconds between looks; leases are tens of seconds

    def __init__(self) -> None:
        self._held: dict[int, tuple[Engine, Delivery, float]] = {}  # key -> (engine, claim, renewed at)
        self._lock = threading.Lock()
        self._wake = threading.Event()  # a new attempt due before the next look: look again sooner
        self._next_look = 0.0  # monotonic time of the keeper's next look
        self._thread: threading.Thread | None = None

    @contextmanager
    def kept(self, engine: Engine, claimed: Delivery) -> Iterator[None]:
        key = id(claimed)
        with self._lock:
            self._held[key] = (engine, claimed, time.monotonic())
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="herold-leases", daemon=True)
                self._thread.start()
            if time.monotonic() + engine.lease.total_seconds() / 3 < self._next_look:
                self._wake.set()  # only short leases (tests): a 60 s lease is renewed after 20 s
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                held = list(self._held.items())
            # Sleep until the first renewal is due (short leases in tests), at most a TICK.
            now = time.monotonic()
            due = [renewed + engine.lease.total_seconds() / 3 - now for _, (engine, _, renewed) in held]
            pause = max(0.05, min([self.TICK, *due]))
            with self._lock:
                self._next_look = time.monotonic() + pause
            self._wake.wait(pause)
            self._wake.clear()
            # Due renewals, per engine (tests run several): one transaction each.
            groups: dict[int, list[tuple[int, Engine, Delivery]]] = {}
            for key, (engine, claimed, renewed) in held:
                if time.monotonic() - renewed >= engine.lease.total_seconds() / 3:
                    groups.setdefault(id(engine), []).append((key, engine, claimed))
            for group in groups.values():
                engine = group[0][1]
                try:
                    kept: list[bool | None] = list(
                        engine.store.renew_all([claimed for _, _, claimed in group], engine.clock(), engine.lease)
                    )
                except Exception:
                    log.exception("renewing leases failed; trying again", deliveries=[c.id for _, _, c in group])
                    kept = [None] * len(group)
                every = engine.lease.total_seconds() / 3
                with self._lock:
                    for (key, _, claimed), renewed_ok in zip(group, kept, strict=True):
                        if key not in self._held:
                            continue  # the attempt ended meanwhile
                        if renewed_ok is False:  # finished or taken over: nothing left to keep
                            del self._held[key]
                        else:  # renewed, or try again in a TICK
                            at = time.monotonic() if renewed_ok else time.monotonic() - every + self.TICK
                            self._held[key] = (engine, claimed, at)


_leases = _LeaseKeeper()


def _attempt(engine: Engine, attempt: Attempt, now: datetime) -> None:
    delivery, stored = attempt.delivery, attempt.stored
    bound = log.bind(delivery=delivery.id, announcement=stored.id, channel=delivery.channel, attempt=delivery.attempts)

    # Defence in depth: the plan never releases a later wave early, but if anything ever did,
    # the rule still holds here, at the last moment before the platform is called.
    early = delivery.wave > 1 and not stored.override_reason
    if early and not website_published(attempt.steps):
        engine.store.hold(delivery, now)
        _audit_delivery(engine, "delivery.held", stored, delivery, reason="website page not published")
        bound.error("wave rule: delivery held back before its website page exists")
        return

    if now > delivery.deadline_at:
        reason = f"gave up after {delivery.attempts - 1} attempts: {delivery.last_error or 'no attempt succeeded'}"
        _give_up(engine, stored, delivery, DeliveryState.dead, reason, attempted=False)
        return

    channel = engine.channel(stored.authority, delivery.channel)
    try:
        post = _post(engine, stored, delivery, attempt.variant, channel)
        # A receipt recorded by an earlier attempt that stopped before finishing: it was posted.
        receipt = delivery.receipt
        if receipt is None and delivery.ambiguous and isinstance(channel, Lookup):
            receipt = channel.find(post)
            if receipt:
                bound.info("found the copy an earlier attempt made", platform_id=receipt.platform_id)
        unconfirmable = channel.capabilities.idempotency is Idempotency.none
        if receipt is None and delivery.ambiguous and unconfirmable and stored.announcement.kind is Kind.news:
            # The platform can neither deduplicate nor be asked: a second post could be a
            # double. For news a person decides; for warnings a missing one is worse.
            reason = (
                "the last attempt may have been posted; the platform cannot tell. Check the channel, then "
                f"`herold reconcile {stored.id} {delivery.channel} --url URL` (it is there) or `--again` (it is not). "
                f"({delivery.last_error})"
            )
            _give_up(engine, stored, delivery, DeliveryState.unknown, reason)
            return
        if receipt is None:
            receipt = (
                channel.reply(post) if post.in_reply_to and isinstance(channel, Threads) else channel.publish(post)
            )
    except TransientError as error:
        _retry(engine, stored, delivery, error)
        return
    except CredentialsError as error:
        _give_up(
            engine, stored, delivery, DeliveryState.failed, f"credentials refused: {error.reason}", credentials=True
        )
        return
    except PermanentError as error:
        _give_up(engine, stored, delivery, DeliveryState.failed, error.reason)
        return
    except _Later as later:
        # Waiting for another delivery is not an attempt: it counts neither as one nor for backoff.
        engine.store.postpone(delivery, now + timedelta(seconds=later.seconds), later.reason, now)
        engine.submit("deliver", delivery.id, kind=stored.announcement.kind, delay=later.seconds)
        return
    except Exception as error:
        # A bug or an unexpected answer: retry (the deadline bounds it) but never hide it.
        bound.exception("unexpected error while delivering")
        problem = TransientError(f"internal error: {type(error).__name__}: {error}", ambiguous=True)
        _retry(engine, stored, delivery, problem)
        return

    if _pins(channel, stored):
        # Keep the platform's id before pinning: if this worker stops in between, the next attempt
        # finds it and does not post again. If the lease was lost meanwhile, it is someone else's.
        if not engine.store.record_receipt(delivery, receipt, engine.clock()):
            bound.warning("delivery finished after its lease was taken over", platform_id=receipt.platform_id)
            return
        _pin_or_unpin(engine, stored, delivery, channel, receipt)
    now = engine.clock()
    audit = _entry(engine, "delivery.succeeded", stored, delivery, attempts=delivery.attempts,
                   platform_id=receipt.platform_id, url=receipt.url)  # fmt: skip
    completion = engine.store.complete(delivery, receipt, now, audit)
    if completion is None:
        bound.warning("delivery finished after its lease was taken over", platform_id=receipt.platform_id)
        return
    bound.info("delivered", platform_id=receipt.platform_id, url=receipt.url)
    if completion.channel_works_again:
        log.info("channel works again", authority=stored.authority, channel=delivery.channel)
    if completion.waiting:  # otherwise there is no next wave to release
        # Right here rather than as a task: the next wave is released without a trip through the
        # queue (the sweep would still catch it if this worker stopped now).
        _advance(engine, stored, completion.steps)
    if delivery.wave > 1 and receipt.url:
        # The item page lists the new copy. Right here: the website holds it back in a burst, so
        # this costs little, and saves a task per copy.
        try:
            refresh(engine, stored.item_id, stored.authority)
        except Exception:
            bound.exception("showing the copy on the item page failed; it is shown with the next change")


def _pins(channel: Channel, stored: StoredAnnouncement) -> bool:
    """Whether this delivery pins or unpins (warnings on platforms that pin)."""
    return (
        isinstance(channel, Pinning)
        and type(channel).pins(channel.settings)
        and stored.announcement.kind is Kind.warning
    )


def _post(
    engine: Engine, stored: StoredAnnouncement, delivery: Delivery, variant: Variant | None, channel: Channel
) -> Post:
    assert variant is not None, "every delivery has its variant (stored together at intake)"
    thread = _thread(engine, stored, delivery, channel)
    return Post(
        delivery_id=delivery.id, idempotency_key=delivery.idempotency_key, announcement_id=stored.id,
        announcement=stored.announcement, variant=variant, item_id=stored.item_id,
        in_reply_to=thread[-1] if thread else None, thread=tuple(thread), attempt=delivery.attempts,
        previous_error=delivery.last_error if delivery.ambiguous else None, created_at=delivery.created_at,
    )  # fmt: skip


def _thread(engine: Engine, stored: StoredAnnouncement, delivery: Delivery, channel: Channel) -> list[Receipt]:
    """This channel's copies of the earlier messages of the item, oldest first. A follow-up
    waits until the earlier ones are out on its channel, so no channel ever shows the all-clear
    before the warning; where the platform has threads, it replies to the latest."""
    if stored.announcement.msg_type is MsgType.alert:
        return []
    earlier = [
        a for a in engine.store.thread(stored.item_id)
        if a.received_at < stored.received_at or (a.received_at == stored.received_at and a.id < stored.id)
    ]  # fmt: skip
    receipts = []
    for previous in earlier:
        copy = engine.store.copy_on(previous.id, delivery.channel)
        if copy is None:
            continue
        if copy.state is DeliveryState.succeeded and copy.receipt:
            receipts.append(copy.receipt)
        elif not copy.state.final:
            raise _Later(f"waiting for the earlier message on {delivery.channel} to be posted first", 2.0)
    return receipts if isinstance(channel, Threads) else []


def _pin_or_unpin(
    engine: Engine, stored: StoredAnnouncement, delivery: Delivery, channel: Channel, receipt: Receipt
) -> None:
    """Pin an active warning; unpin it when the all-clear or a withdrawal follows. A failure here
    never fails the delivery: the post is out, which is what matters."""
    try:
        if stored.announcement.msg_type is MsgType.alert:
            announced = engine.store.server_limits(stored.authority).get(delivery.channel)
            limit = announced.pins if announced and announced.pins else channel.capabilities.pin_limit
            if limit is not None and engine.store.pinned_count(stored.authority, delivery.channel) >= limit:
                # Asking would only get a refusal; the oldest pinned warnings stay on top.
                reason = f"not pinned: {limit} warnings are pinned already, the most the platform allows"
                log.info(reason, channel=delivery.channel, delivery=delivery.id)
                _audit_delivery(engine, "delivery.not_pinned", stored, delivery, reason=reason)
            else:
                assert isinstance(channel, Pinning)
                channel.pin(receipt)
                engine.store.set_pinned(delivery.id, True)
        elif stored.announcement.msg_type in {MsgType.cancel, MsgType.error}:
            for pinned in engine.store.pinned(stored.item_id):
                if pinned.channel == delivery.channel:
                    unpin(engine, pinned.id)
    except Exception as error:
        log.warning("pinning did not work", channel=delivery.channel, delivery=delivery.id, reason=str(error))
        _audit_delivery(engine, "delivery.pin_failed", stored, delivery, reason=str(error))


def backoff(attempts: int, retry_after: float | None, base: float = 2.0, rng: random.Random | None = None) -> float:
    """Seconds until the next attempt: exponential with jitter, never sooner than Retry-After."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    ceiling = min(RETRY_CAP, base * float(2 ** max(0, attempts - 1)))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    return max(delay, retry_after or 0.0)


def _retry(engine: Engine, stored: StoredAnnouncement, delivery: Delivery, error: TransientError) -> None:
    now = engine.clock()
    delay = backoff(delivery.attempts, error.retry_after, engine.runtime.retry_base_seconds)
    at = now + timedelta(seconds=delay)
    if at > delivery.deadline_at:
        reason = f"gave up after {delivery.attempts} attempts before the deadline: {error.reason}"
        _give_up(engine, stored, delivery, DeliveryState.dead, reason)
        return
    audit = _entry(engine, "delivery.retry", stored, delivery, attempt=delivery.attempts, reason=error.reason,
                   next_attempt_at=at.isoformat())  # fmt: skip
    engine.store.retry_later(delivery, error.reason, at, now, ambiguous=error.ambiguous or delivery.ambiguous,
                             audit=audit)  # fmt: skip
    log.warning(
        "delivery will be retried",
        delivery=delivery.id,
        channel=delivery.channel,
        attempt=delivery.attempts,
        reason=error.reason,
        retry_in=round(delay, 2),
    )
    engine.submit("deliver", delivery.id, kind=stored.announcement.kind, delay=delay)


def _give_up(
    engine: Engine,
    stored: StoredAnnouncement,
    delivery: Delivery,
    state: DeliveryState,
    reason: str,
    *,
    credentials: bool = False,
    attempted: bool = True,
) -> None:
    """End a delivery without success. ``attempted=False``: this claim made no attempt (it ran
    out of time before), so it is not counted as one."""
    now = engine.clock()
    ended = (
        engine.store.finish(delivery, state, reason, now) if attempted else engine.store.expire(delivery, reason, now)
    )
    if not ended:
        return
    attempts = delivery.attempts if attempted else delivery.attempts - 1
    _audit_delivery(engine, f"delivery.{state.value}", stored, delivery, attempts=attempts, reason=reason)
    log.error(
        "delivery did not succeed",
        delivery=delivery.id,
        announcement=stored.id,
        channel=delivery.channel,
        state=state.value,
        reason=reason,
        credentials=credentials,
    )
    alarm(engine, stored, replace(delivery, attempts=attempts), state, reason, credentials=credentials)
    engine.submit("advance", stored.id, kind=stored.announcement.kind)


def alarm(
    engine: Engine,
    stored: StoredAnnouncement,
    delivery: Delivery,
    state: DeliveryState,
    reason: str,
    *,
    credentials: bool,
) -> None:
    """A delivery people must hear about: recorded, and sent to the authority's on-call contacts."""
    authority = engine.authority(stored.authority)
    t = labels_for(authority.language)
    headline = stored.announcement.headline
    _audit_delivery(engine, "alarm", stored, delivery, state=state.value, reason=reason, credentials=credentials)
    detail = {
        "authority": stored.authority, "announcement_id": stored.id, "channel": delivery.channel,
        "state": state.value, "reason": reason, "headline": headline, "attempts": delivery.attempts,
        "item_url": authority.url(stored.item_path),
    }  # fmt: skip
    text = t(
        "alarm.body",
        headline=headline,
        channel=delivery.channel,
        what=t(f"alarm.{state.value}"),
        reason=reason,
        attempts=str(delivery.attempts),
        url=detail["item_url"],
        announcement=stored.id,
    )
    if delivery.wave == 1:
        text += "\n" + t("alarm.website_held") + "\n"
    oncall.raise_alarm(engine, oncall.Alarm(
        authority=stored.authority, cause=f"delivery:{delivery.id}:{state.value}",
        subject=t("alarm.subject", channel=delivery.channel, state=state.value, headline=headline)[:300],
        text=text, detail=detail, announcement_id=stored.id, channel=delivery.channel,
    ))  # fmt: skip
    if credentials and engine.store.mark_attention(stored.authority, delivery.channel, reason, engine.clock()):
        oncall.raise_alarm(engine, oncall.Alarm(
            authority=stored.authority, cause=f"credentials:{stored.authority}/{delivery.channel}:{delivery.id}",
            subject=t("alarm.credentials_subject", channel=delivery.channel),
            text=t("alarm.credentials_body", channel=delivery.channel, reason=reason),
            detail={**detail, "state": "needs_attention"}, channel=delivery.channel,
        ))  # fmt: skip


# -- copies elsewhere, shown on the item page ------------------------------------------------


def refresh(engine: Engine, item_id: str, authority_slug: str | None = None) -> None:
    if authority_slug is None:  # a task names only the item
        row = engine.store.item_row(item_id)
        if row is None:
            return
        authority_slug = row.authority
    authority = engine.authority(authority_slug)
    for config in authority.channels:
        channel = engine.channel(authority.slug, config.id)
        if isinstance(channel, Website):
            channel.refresh(item_id)


# -- the sweep: the database's view of what is due ----------------------------------------


def sweep(engine: Engine, overdue: timedelta = timedelta(0), requeue_after: timedelta | None = None) -> None:
    """Submit everything that is due. ``overdue`` skips work a queue should still be holding
    (Celery), so the sweep only resubmits what was lost. ``requeue_after``: a delivery the sweep
    queued is queued again only after this long (in-process, where due retries have no queue
    to wait in, but a backlog should not be read again every tick)."""
    now = engine.clock()
    for delivery in engine.store.expired_leases(now):
        if engine.store.return_expired_lease(delivery.id, delivery.lease_until, now):  # type: ignore[arg-type]
            log.warning("lease expired: delivery returned to pending", delivery=delivery.id, channel=delivery.channel)
            engine.submit("deliver", delivery.id, kind=delivery.kind)
    due = engine.store.due(now - overdue, now - (requeue_after if requeue_after is not None else overdue))
    # Marked before they are queued: a worker's claim clears the mark, and must come after it.
    engine.store.mark_queued(due, now)
    for delivery in due:
        engine.submit("deliver", delivery.id, kind=delivery.kind)
    for announcement_id, kind in engine.store.checks_due(now - overdue):
        engine.submit("advance", announcement_id, kind=kind)
    oncall.resend_due(engine, now - overdue)
    _unpin_due(engine)
    _limits_due(engine, now)
    for authority in engine.authorities:
        for config in authority.channels:
            channel = engine.channel(authority.slug, config.id)
            if isinstance(channel, Website):
                try:
                    channel.housekeeping(now)
                except Exception:
                    log.exception("housekeeping failed", authority=authority.slug, channel=config.id)


LIMITS_KEPT = timedelta(hours=1)  # how long what a server said of its limits is believed
_limits_asked: dict[tuple[str, str], float] = {}  # (authority, channel) -> when this process last asked


def _limits_due(engine: Engine, now: datetime) -> None:
    """Ask the servers that announce their limits again once what they said is an hour old, by a
    task of its own (the network is slow sometimes), at most once a minute per channel."""
    refreshed, moment = None, time.monotonic()
    for authority in engine.authorities:
        for config in authority.channels:
            key = (authority.slug, config.id)
            if not issubclass(channel_types()[config.type], AnnouncesLimits) or (
                moment - _limits_asked.get(key, -UNPIN_EVERY) < UNPIN_EVERY
            ):
                continue
            refreshed = engine.store.limits_refreshed() if refreshed is None else refreshed
            if key in refreshed and now - refreshed[key] < LIMITS_KEPT:
                continue
            _limits_asked[key] = moment
            engine.submit("limits", f"{authority.slug}/{config.id}", kind="news")


def limits(engine: Engine, argument: str) -> None:
    """Hear what a channel's server says of its limits, and keep it for intake to read."""
    slug, _, channel_id = argument.partition("/")
    channel = engine.channel(slug, channel_id)
    if not isinstance(channel, AnnouncesLimits):
        return
    try:
        announced = channel.read_limits()
    except DeliveryError as error:
        # What it said before stays true enough; until it first says, intake counts to the default.
        log.warning("the server's limits could not be read", channel=channel_id, reason=error.reason)
        return
    engine.store.save_server_limits(slug, channel_id, announced, engine.clock())
    log.info("server limits read", authority=slug, channel=channel_id, characters=announced.characters,
             pins=announced.pins)  # fmt: skip


def unpin(engine: Engine, delivery_id: str) -> None:
    """Take a warning off the top of its channel (all-clear, withdrawal or expiry). Until this
    works it stays marked pinned, and the sweep asks again."""
    pinned = engine.store.delivery(delivery_id)
    if pinned is None or not pinned.pinned or pinned.receipt is None:
        return
    channel = engine.channel(pinned.authority, pinned.channel)
    assert isinstance(channel, Pinning), "only a channel that pins has pinned posts"
    try:
        channel.unpin(pinned.receipt)
    except PermanentError as error:
        if "404" not in error.reason:
            raise
        # The post is gone (deleted by hand): nothing is pinned any more.
    engine.store.set_pinned(pinned.id, False)
    log.info("unpinned", delivery=pinned.id, channel=pinned.channel)


_unpin_asked: dict[str, float] = {}  # delivery id -> when this process last asked; unpinning needs the network


def _unpin_due(engine: Engine) -> None:
    """A warning stays pinned while it is current. Once its item has expired, or its all-clear or
    withdrawal is out (or could not go out) on the channel, it is unpinned, by a task of its own:
    a slow platform must not hold up the sweep."""
    now, moment = engine.clock(), time.monotonic()
    for pinned in engine.store.pinned():
        if moment - _unpin_asked.get(pinned.id, -UNPIN_EVERY) < UNPIN_EVERY:
            continue
        try:
            stored = engine.store.announcement(pinned.announcement_id)
        except Unreadable:
            continue  # reported when read; it stays pinned until a person looks
        if stored is None:
            continue
        latest = engine.store.thread(stored.item_id)[-1]
        ended = latest.announcement.msg_type in {MsgType.cancel, MsgType.error}
        if ended:
            copy = engine.store.copy_on(latest.id, pinned.channel)
            ended = copy is None or copy.state.final
        expires = latest.announcement.expires
        if ended or (expires is not None and expires <= now):
            _unpin_asked[pinned.id] = moment
            engine.submit("unpin", pinned.id, kind=stored.announcement.kind)


def wait_until_settled(engine: Engine, announcement_id: str, timeout: float, poll: float = 0.2) -> list[Delivery]:
    """Block until every delivery is final or held back for a person; returns the deliveries."""
    deadline = time.monotonic() + timeout
    while True:
        deliveries = engine.store.deliveries(announcement_id)
        if settled(deliveries) or time.monotonic() > deadline:
            return deliveries
        time.sleep(poll)


def settled(deliveries: list[Delivery]) -> bool:
    """Nothing more will happen without a person: every delivery is final, or the rest is held
    back behind a failed website (the plan says which)."""
    if all(d.state.final or d.state is DeliveryState.manual for d in deliveries):
        return True
    held = plan(_steps(deliveries), now=datetime.max.replace(tzinfo=UTC), grace=timedelta(0)).held_back
    return held is not None and all(d.state.final or d.state is DeliveryState.waiting for d in deliveries)
