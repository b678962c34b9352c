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
from publisher.edges.wiring import Herold
from publisher.engine import oncall
from publisher.engine.runner import TaskName
from publisher.engine.store import Attempt, Delivery, Release, StoredAnnouncement, Unreadable
from publisher.site.registry import channel_types
from publisher.site.website import Website

log = structlog.get_logger("herold.tasks")

RETRY_CAP = 300.0  # never wait longer than five minutes between attempts
SAFETY_NET = timedelta(seconds=30)  # look again at waiting deliveries even if no event says so
UNPIN_EVERY = 60.0  # seconds between two requests to unpin the same post


def run(herold: Herold, task: TaskName, argument: str) -> None:
    tasks: dict[str, Callable[[Herold, str], None]] = {
        "deliver": deliver, "advance": advance, "refresh": refresh, "notify": oncall.send, "unpin": unpin,
        "limits": limits,
    }  # fmt: skip
    tasks[task](herold, argument)


def _audit(
    herold: Herold,
    action: str,
    *,
    authority: str | None,
    announcement_id: str | None = None,
    delivery_id: str | None = None,
    actor: str = "herold",
    source: str = "engine",
    **detail: object,
) -> None:
    herold.store.audit(AuditEntry(
        at=herold.clock(), authority=authority, actor=actor, source=source, action=action,
        announcement_id=announcement_id, delivery_id=delivery_id, detail=dict(detail),
    ))  # fmt: skip


def _entry(
    herold: Herold,
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
        at=herold.clock(), authority=stored.authority, actor=actor, source=source, action=action,
        announcement_id=stored.id, delivery_id=delivery.id, detail={"channel": delivery.channel, **detail},
    )  # fmt: skip


def _audit_delivery(
    herold: Herold,
    action: str,
    stored: StoredAnnouncement,
    delivery: Delivery,
    *,
    actor: str = "herold",
    source: str = "engine",
    **detail: object,
) -> None:
    herold.store.audit(_entry(herold, action, stored, delivery, actor=actor, source=source, **detail))


def _steps(deliveries: list[Delivery]) -> list[Step]:
    return [Step(d.id, d.channel, d.wave, d.state, d.released_at) for d in deliveries]


# -- the plan ------------------------------------------------------------------------------


def advance(herold: Herold, announcement_id: str) -> None:
    try:
        found = herold.store.announcement_with_steps(announcement_id)
    except Unreadable as error:
        unreadable(herold, error)
        return
    if found is None:
        log.warning("advance: no such announcement", announcement=announcement_id)
        return
    _advance(herold, *found)


def _advance(herold: Herold, stored: StoredAnnouncement, steps: list[Step]) -> None:
    """Apply the plan to the deliveries as just read: releases and the next look, in one transaction."""
    now, kind = herold.clock(), stored.announcement.kind
    decision = plan(
        steps, now=now, grace=herold.grace(kind),
        publish_at=stored.announcement.publish_at, override=stored.override_reason,
    )  # fmt: skip
    by_id = {step.id: step for step in steps}
    releases = [
        Release(delivery_id, release.reason, _entry(herold, "delivery.released", stored, by_id[delivery_id],
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
    released = herold.store.release_all(stored.id, releases, now, herold.deadline(kind), check_again)
    for delivery_id in released:
        herold.submit("deliver", delivery_id, kind=kind)
    if not decision.held_back and decision.check_again_at:
        delay = max(0.0, (decision.check_again_at - now).total_seconds())
        herold.submit("advance", stored.id, kind=kind, delay=delay)


def reconcile(
    herold: Herold, announcement_id: str, channel: str, url: str | None, actor: str, source: str
) -> list[str]:
    """A person settles a delivery that ended without success: posted after all (``url``), or to
    be sent again. Returns problems; empty when done."""
    try:
        stored = herold.store.announcement(announcement_id)
    except Unreadable as error:
        return [str(error)]
    delivery = herold.store.copy_on(announcement_id, channel) if stored else None
    if stored is None or delivery is None:
        return [f"announcement {announcement_id} has no delivery on channel '{channel}'"]
    if delivery.state not in {DeliveryState.unknown, DeliveryState.failed, DeliveryState.dead}:
        return [f"the delivery on '{channel}' is {delivery.state.value}; only unknown, failed or dead ones are settled"]
    if url is not None and not url.startswith(("https://", "http://")):
        return [f"'{url}' is not a web address"]
    if not herold.store.reconcile(
        delivery.id, herold.clock(), url=url, deadline=herold.deadline(stored.announcement.kind)
    ):
        return ["the delivery changed meanwhile; look at herold status again"]
    _audit_delivery(herold, "delivery.reconciled", stored, delivery, actor=actor, source=source, url=url,
                    outcome="posted" if url else "send again")  # fmt: skip
    herold.submit(
        "deliver" if url is None else "advance",
        delivery.id if url is None else stored.id,
        kind=stored.announcement.kind,
    )
    if url:
        herold.submit("refresh", stored.item_id, kind=stored.announcement.kind)
    return []


def release_by_override(herold: Herold, announcement_id: str, reason: str, actor: str, source: str) -> list[str]:
    """A person releases the other waves although the website failed (warnings only).
    Returns problems; empty when released."""
    reason = reason.strip()
    try:
        stored = herold.store.announcement(announcement_id)
    except Unreadable as error:
        return [str(error)]
    if stored is None:
        return [f"no announcement {announcement_id}"]
    if stored.announcement.kind is not Kind.warning:
        return ["only warnings can be released without their website page; news waits for the website"]
    if len(reason) < 10:
        return ["give a reason of at least a few words; it is kept in the audit log"]
    deliveries = herold.store.deliveries(announcement_id)
    if website_published(_steps(deliveries)):
        return ["the website page is published; nothing is held back"]
    if not any(
        d.wave == 1 and d.state in {DeliveryState.failed, DeliveryState.dead, DeliveryState.unknown} for d in deliveries
    ):
        return ["the website delivery has not failed (yet); an override is only for a failed website"]
    herold.store.set_override(announcement_id, reason)
    _audit(
        herold,
        "announcement.override",
        authority=stored.authority,
        announcement_id=announcement_id,
        actor=actor,
        source=source,
        reason=reason,
    )
    log.warning("waves released by override", announcement=announcement_id, actor=actor, reason=reason)
    advance(herold, announcement_id)
    return []


def unreadable(herold: Herold, error: Unreadable) -> None:
    """A stored announcement that cannot be read is never delivered: its open deliveries fail
    with the reason, once, and the authority's on-call contacts hear of it. Nothing else waits
    for it, so the sweep does not come back to it."""
    summary = herold.store.summary(error.announcement_id)
    authority = summary["authority"] if summary else None
    now = herold.clock()
    audit = AuditEntry(
        at=now, authority=authority, actor="herold", source="engine", action="announcement.unreadable",
        announcement_id=error.announcement_id, detail={"reason": error.reason},
    )  # fmt: skip
    if not herold.store.fail_unreadable(error, now, audit) or authority is None:
        return
    log.error("deliveries of an unreadable announcement failed", announcement=error.announcement_id,
              reason=error.reason)  # fmt: skip
    try:
        t = labels_for(herold.authority(authority).language)
    except KeyError:
        return  # an authority no longer configured has nobody on call
    oncall.raise_alarm(herold, oncall.Alarm(
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


def deliver(herold: Herold, delivery_id: str) -> None:
    now = herold.clock()
    try:
        attempt = herold.store.attempt(delivery_id, now, herold.lease)
    except Unreadable as error:  # the claim was rolled back with the reading
        unreadable(herold, error)
        return
    if attempt is None:
        return  # not due, already taken, or already done
    with _leases.kept(herold, attempt.delivery):
        _attempt(herold, attempt, now)


class _LeaseKeeper:
    """Renews the leases of the attempts running in this process, every third of the lease: a
    short lease hands a dead worker's delivery on quickly, renewal keeps a slow but living one
    (image uploads) from being handed on. One thread for all attempts, not one per attempt."""

    TICK = 1.0  # seconds between looks; leases are tens of seconds

    def __init__(self) -> None:
        self._held: dict[int, tuple[Herold, Delivery, float]] = {}  # key -> (herold, claim, renewed at)
        self._lock = threading.Lock()
        self._wake = threading.Event()  # a new attempt due before the next look: look again sooner
        self._next_look = 0.0  # monotonic time of the keeper's next look
        self._thread: threading.Thread | None = None

    @contextmanager
    def kept(self, herold: Herold, claimed: Delivery) -> Iterator[None]:
        key = id(claimed)
        with self._lock:
            self._held[key] = (herold, claimed, time.monotonic())
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="herold-leases", daemon=True)
                self._thread.start()
            if time.monotonic() + herold.lease.total_seconds() / 3 < self._next_look:
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
            due = [renewed + herold.lease.total_seconds() / 3 - now for _, (herold, _, renewed) in held]
            pause = max(0.05, min([self.TICK, *due]))
            with self._lock:
                self._next_look = time.monotonic() + pause
            self._wake.wait(pause)
            self._wake.clear()
            # Due renewals, per Herold (tests run several): one transaction each.
            groups: dict[int, list[tuple[int, Herold, Delivery]]] = {}
            for key, (herold, claimed, renewed) in held:
                if time.monotonic() - renewed >= herold.lease.total_seconds() / 3:
                    groups.setdefault(id(herold), []).append((key, herold, claimed))
            for group in groups.values():
                herold = group[0][1]
                try:
                    kept: list[bool | None] = list(
                        herold.store.renew_all([claimed for _, _, claimed in group], herold.clock(), herold.lease)
                    )
                except Exception:
                    log.exception("renewing leases failed; trying again", deliveries=[c.id for _, _, c in group])
                    kept = [None] * len(group)
                every = herold.lease.total_seconds() / 3
                with self._lock:
                    for (key, _, claimed), renewed_ok in zip(group, kept, strict=True):
                        if key not in self._held:
                            continue  # the attempt ended meanwhile
                        if renewed_ok is False:  # finished or taken over: nothing left to keep
                            del self._held[key]
                        else:  # renewed, or try again in a TICK
                            at = time.monotonic() if renewed_ok else time.monotonic() - every + self.TICK
                            self._held[key] = (herold, claimed, at)


_leases = _LeaseKeeper()


def _attempt(herold: Herold, attempt: Attempt, now: datetime) -> None:
    delivery, stored = attempt.delivery, attempt.stored
    bound = log.bind(delivery=delivery.id, announcement=stored.id, channel=delivery.channel, attempt=delivery.attempts)

    # Defence in depth: the plan never releases a later wave early, but if anything ever did,
    # the rule still holds here, at the last moment before the platform is called.
    early = delivery.wave > 1 and not stored.override_reason
    if early and not website_published(attempt.steps):
        herold.store.hold(delivery, now)
        _audit_delivery(herold, "delivery.held", stored, delivery, reason="website page not published")
        bound.error("wave rule: delivery held back before its website page exists")
        return

    if now > delivery.deadline_at:
        reason = f"gave up after {delivery.attempts - 1} attempts: {delivery.last_error or 'no attempt succeeded'}"
        _give_up(herold, stored, delivery, DeliveryState.dead, reason, attempted=False)
        return

    channel = herold.channel(stored.authority, delivery.channel)
    try:
        post = _post(herold, stored, delivery, attempt.variant, channel)
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
            _give_up(herold, stored, delivery, DeliveryState.unknown, reason)
            return
        if receipt is None:
            receipt = (
                channel.reply(post) if post.in_reply_to and isinstance(channel, Threads) else channel.publish(post)
            )
    except TransientError as error:
        _retry(herold, stored, delivery, error)
        return
    except CredentialsError as error:
        _give_up(
            herold, stored, delivery, DeliveryState.failed, f"credentials refused: {error.reason}", credentials=True
        )
        return
    except PermanentError as error:
        _give_up(herold, stored, delivery, DeliveryState.failed, error.reason)
        return
    except _Later as later:
        # Waiting for another delivery is not an attempt: it counts neither as one nor for backoff.
        herold.store.postpone(delivery, now + timedelta(seconds=later.seconds), later.reason, now)
        herold.submit("deliver", delivery.id, kind=stored.announcement.kind, delay=later.seconds)
        return
    except Exception as error:
        # A bug or an unexpected answer: retry (the deadline bounds it) but never hide it.
        bound.exception("unexpected error while delivering")
        problem = TransientError(f"internal error: {type(error).__name__}: {error}", ambiguous=True)
        _retry(herold, stored, delivery, problem)
        return

    if _pins(channel, stored):
        # Keep the platform's id before pinning: if this worker stops in between, the next attempt
        # finds it and does not post again. If the lease was lost meanwhile, it is someone else's.
        if not herold.store.record_receipt(delivery, receipt, herold.clock()):
            bound.warning("delivery finished after its lease was taken over", platform_id=receipt.platform_id)
            return
        _pin_or_unpin(herold, stored, delivery, channel, receipt)
    now = herold.clock()
    audit = _entry(herold, "delivery.succeeded", stored, delivery, attempts=delivery.attempts,
                   platform_id=receipt.platform_id, url=receipt.url)  # fmt: skip
    completion = herold.store.complete(delivery, receipt, now, audit)
    if completion is None:
        bound.warning("delivery finished after its lease was taken over", platform_id=receipt.platform_id)
        return
    bound.info("delivered", platform_id=receipt.platform_id, url=receipt.url)
    if completion.channel_works_again:
        log.info("channel works again", authority=stored.authority, channel=delivery.channel)
    if completion.waiting:  # otherwise there is no next wave to release
        # Right here rather than as a task: the next wave is released without a trip through the
        # queue (the sweep would still catch it if this worker stopped now).
        _advance(herold, stored, completion.steps)
    if delivery.wave > 1 and receipt.url:
        # The item page lists the new copy. Right here: the website holds it back in a burst, so
        # this costs little, and saves a task per copy.
        try:
            refresh(herold, stored.item_id, stored.authority)
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
    herold: Herold, stored: StoredAnnouncement, delivery: Delivery, variant: Variant | None, channel: Channel
) -> Post:
    assert variant is not None, "every delivery has its variant (stored together at intake)"
    thread = _thread(herold, stored, delivery, channel)
    return Post(
        delivery_id=delivery.id, idempotency_key=delivery.idempotency_key, announcement_id=stored.id,
        announcement=stored.announcement, variant=variant, item_id=stored.item_id,
        in_reply_to=thread[-1] if thread else None, thread=tuple(thread), attempt=delivery.attempts,
        previous_error=delivery.last_error if delivery.ambiguous else None, created_at=delivery.created_at,
    )  # fmt: skip


def _thread(herold: Herold, stored: StoredAnnouncement, delivery: Delivery, channel: Channel) -> list[Receipt]:
    """This channel's copies of the earlier messages of the item, oldest first. A follow-up
    waits until the earlier ones are out on its channel, so no channel ever shows the all-clear
    before the warning; where the platform has threads, it replies to the latest."""
    if stored.announcement.msg_type is MsgType.alert:
        return []
    earlier = [
        a for a in herold.store.thread(stored.item_id)
        if a.received_at < stored.received_at or (a.received_at == stored.received_at and a.id < stored.id)
    ]  # fmt: skip
    receipts = []
    for previous in earlier:
        copy = herold.store.copy_on(previous.id, delivery.channel)
        if copy is None:
            continue
        if copy.state is DeliveryState.succeeded and copy.receipt:
            receipts.append(copy.receipt)
        elif not copy.state.final:
            raise _Later(f"waiting for the earlier message on {delivery.channel} to be posted first", 2.0)
    return receipts if isinstance(channel, Threads) else []


def _pin_or_unpin(
    herold: Herold, stored: StoredAnnouncement, delivery: Delivery, channel: Channel, receipt: Receipt
) -> None:
    """Pin an active warning; unpin it when the all-clear or a withdrawal follows. A failure here
    never fails the delivery: the post is out, which is what matters."""
    try:
        if stored.announcement.msg_type is MsgType.alert:
            announced = herold.store.server_limits(stored.authority).get(delivery.channel)
            limit = announced.pins if announced and announced.pins else channel.capabilities.pin_limit
            if limit is not None and herold.store.pinned_count(stored.authority, delivery.channel) >= limit:
                # Asking would only get a refusal; the oldest pinned warnings stay on top.
                reason = f"not pinned: {limit} warnings are pinned already, the most the platform allows"
                log.info(reason, channel=delivery.channel, delivery=delivery.id)
                _audit_delivery(herold, "delivery.not_pinned", stored, delivery, reason=reason)
            else:
                assert isinstance(channel, Pinning)
                channel.pin(receipt)
                herold.store.set_pinned(delivery.id, True)
        elif stored.announcement.msg_type in {MsgType.cancel, MsgType.error}:
            for pinned in herold.store.pinned(stored.item_id):
                if pinned.channel == delivery.channel:
                    unpin(herold, pinned.id)
    except Exception as error:
        log.warning("pinning did not work", channel=delivery.channel, delivery=delivery.id, reason=str(error))
        _audit_delivery(herold, "delivery.pin_failed", stored, delivery, reason=str(error))


def backoff(attempts: int, retry_after: float | None, base: float = 2.0, rng: random.Random | None = None) -> float:
    """Seconds until the next attempt: exponential with jitter, never sooner than Retry-After."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    ceiling = min(RETRY_CAP, base * float(2 ** max(0, attempts - 1)))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    return max(delay, retry_after or 0.0)


def _retry(herold: Herold, stored: StoredAnnouncement, delivery: Delivery, error: TransientError) -> None:
    now = herold.clock()
    delay = backoff(delivery.attempts, error.retry_after, herold.settings.herold.retry_base_seconds)
    at = now + timedelta(seconds=delay)
    if at > delivery.deadline_at:
        reason = f"gave up after {delivery.attempts} attempts before the deadline: {error.reason}"
        _give_up(herold, stored, delivery, DeliveryState.dead, reason)
        return
    audit = _entry(herold, "delivery.retry", stored, delivery, attempt=delivery.attempts, reason=error.reason,
                   next_attempt_at=at.isoformat())  # fmt: skip
    herold.store.retry_later(delivery, error.reason, at, now, ambiguous=error.ambiguous or delivery.ambiguous,
                             audit=audit)  # fmt: skip
    log.warning(
        "delivery will be retried",
        delivery=delivery.id,
        channel=delivery.channel,
        attempt=delivery.attempts,
        reason=error.reason,
        retry_in=round(delay, 2),
    )
    herold.submit("deliver", delivery.id, kind=stored.announcement.kind, delay=delay)


def _give_up(
    herold: Herold,
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
    now = herold.clock()
    ended = (
        herold.store.finish(delivery, state, reason, now) if attempted else herold.store.expire(delivery, reason, now)
    )
    if not ended:
        return
    attempts = delivery.attempts if attempted else delivery.attempts - 1
    _audit_delivery(herold, f"delivery.{state.value}", stored, delivery, attempts=attempts, reason=reason)
    log.error(
        "delivery did not succeed",
        delivery=delivery.id,
        announcement=stored.id,
        channel=delivery.channel,
        state=state.value,
        reason=reason,
        credentials=credentials,
    )
    alarm(herold, stored, replace(delivery, attempts=attempts), state, reason, credentials=credentials)
    herold.submit("advance", stored.id, kind=stored.announcement.kind)


def alarm(
    herold: Herold,
    stored: StoredAnnouncement,
    delivery: Delivery,
    state: DeliveryState,
    reason: str,
    *,
    credentials: bool,
) -> None:
    """A delivery people must hear about: recorded, and sent to the authority's on-call contacts."""
    authority = herold.authority(stored.authority)
    t = labels_for(authority.language)
    headline = stored.announcement.headline
    _audit_delivery(herold, "alarm", stored, delivery, state=state.value, reason=reason, credentials=credentials)
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
    oncall.raise_alarm(herold, oncall.Alarm(
        authority=stored.authority, cause=f"delivery:{delivery.id}:{state.value}",
        subject=t("alarm.subject", channel=delivery.channel, state=state.value, headline=headline)[:300],
        text=text, detail=detail, announcement_id=stored.id, channel=delivery.channel,
    ))  # fmt: skip
    if credentials and herold.store.mark_attention(stored.authority, delivery.channel, reason, herold.clock()):
        oncall.raise_alarm(herold, oncall.Alarm(
            authority=stored.authority, cause=f"credentials:{stored.authority}/{delivery.channel}:{delivery.id}",
            subject=t("alarm.credentials_subject", channel=delivery.channel),
            text=t("alarm.credentials_body", channel=delivery.channel, reason=reason),
            detail={**detail, "state": "needs_attention"}, channel=delivery.channel,
        ))  # fmt: skip


# -- copies elsewhere, shown on the item page ------------------------------------------------


def refresh(herold: Herold, item_id: str, authority_slug: str | None = None) -> None:
    if authority_slug is None:  # a task names only the item
        row = herold.store.item_row(item_id)
        if row is None:
            return
        authority_slug = row.authority
    authority = herold.authority(authority_slug)
    for config in authority.channels:
        channel = herold.channel(authority.slug, config.id)
        if isinstance(channel, Website):
            channel.refresh(item_id)


# -- the sweep: the database's view of what is due ----------------------------------------


def sweep(herold: Herold, overdue: timedelta = timedelta(0), requeue_after: timedelta | None = None) -> None:
    """Submit everything that is due. ``overdue`` skips work a queue should still be holding
    (Celery), so the sweep only resubmits what was lost. ``requeue_after``: a delivery the sweep
    queued is queued again only after this long (in-process, where due retries have no queue
    to wait in, but a backlog should not be read again every tick)."""
    now = herold.clock()
    for delivery in herold.store.expired_leases(now):
        if herold.store.return_expired_lease(delivery.id, delivery.lease_until, now):  # type: ignore[arg-type]
            log.warning("lease expired: delivery returned to pending", delivery=delivery.id, channel=delivery.channel)
            herold.submit("deliver", delivery.id, kind=delivery.kind)
    due = herold.store.due(now - overdue, now - (requeue_after if requeue_after is not None else overdue))
    # Marked before they are queued: a worker's claim clears the mark, and must come after it.
    herold.store.mark_queued(due, now)
    for delivery in due:
        herold.submit("deliver", delivery.id, kind=delivery.kind)
    for announcement_id, kind in herold.store.checks_due(now - overdue):
        herold.submit("advance", announcement_id, kind=kind)
    oncall.resend_due(herold, now - overdue)
    _unpin_due(herold)
    _limits_due(herold, now)
    for authority in herold.settings.authorities:
        for config in authority.channels:
            channel = herold.channel(authority.slug, config.id)
            if isinstance(channel, Website):
                try:
                    channel.housekeeping(now)
                except Exception:
                    log.exception("housekeeping failed", authority=authority.slug, channel=config.id)


LIMITS_KEPT = timedelta(hours=1)  # how long what a server said of its limits is believed
_limits_asked: dict[tuple[str, str], float] = {}  # (authority, channel) -> when this process last asked


def _limits_due(herold: Herold, now: datetime) -> None:
    """Ask the servers that announce their limits again once what they said is an hour old, by a
    task of its own (the network is slow sometimes), at most once a minute per channel."""
    refreshed, moment = None, time.monotonic()
    for authority in herold.settings.authorities:
        for config in authority.channels:
            key = (authority.slug, config.id)
            if not issubclass(channel_types()[config.type], AnnouncesLimits) or (
                moment - _limits_asked.get(key, -UNPIN_EVERY) < UNPIN_EVERY
            ):
                continue
            refreshed = herold.store.limits_refreshed() if refreshed is None else refreshed
            if key in refreshed and now - refreshed[key] < LIMITS_KEPT:
                continue
            _limits_asked[key] = moment
            herold.submit("limits", f"{authority.slug}/{config.id}", kind="news")


def limits(herold: Herold, argument: str) -> None:
    """Hear what a channel's server says of its limits, and keep it for intake to read."""
    slug, _, channel_id = argument.partition("/")
    channel = herold.channel(slug, channel_id)
    if not isinstance(channel, AnnouncesLimits):
        return
    try:
        announced = channel.read_limits()
    except DeliveryError as error:
        # What it said before stays true enough; until it first says, intake counts to the default.
        log.warning("the server's limits could not be read", channel=channel_id, reason=error.reason)
        return
    herold.store.save_server_limits(slug, channel_id, announced, herold.clock())
    log.info("server limits read", authority=slug, channel=channel_id, characters=announced.characters,
             pins=announced.pins)  # fmt: skip


def unpin(herold: Herold, delivery_id: str) -> None:
    """Take a warning off the top of its channel (all-clear, withdrawal or expiry). Until this
    works it stays marked pinned, and the sweep asks again."""
    pinned = herold.store.delivery(delivery_id)
    if pinned is None or not pinned.pinned or pinned.receipt is None:
        return
    channel = herold.channel(pinned.authority, pinned.channel)
    assert isinstance(channel, Pinning), "only a channel that pins has pinned posts"
    try:
        channel.unpin(pinned.receipt)
    except PermanentError as error:
        if "404" not in error.reason:
            raise
        # The post is gone (deleted by hand): nothing is pinned any more.
    herold.store.set_pinned(pinned.id, False)
    log.info("unpinned", delivery=pinned.id, channel=pinned.channel)


_unpin_asked: dict[str, float] = {}  # delivery id -> when this process last asked; unpinning needs the network


def _unpin_due(herold: Herold) -> None:
    """A warning stays pinned while it is current. Once its item has expired, or its all-clear or
    withdrawal is out (or could not go out) on the channel, it is unpinned, by a task of its own:
    a slow platform must not hold up the sweep."""
    now, moment = herold.clock(), time.monotonic()
    for pinned in herold.store.pinned():
        if moment - _unpin_asked.get(pinned.id, -UNPIN_EVERY) < UNPIN_EVERY:
            continue
        try:
            stored = herold.store.announcement(pinned.announcement_id)
        except Unreadable:
            continue  # reported when read; it stays pinned until a person looks
        if stored is None:
            continue
        latest = herold.store.thread(stored.item_id)[-1]
        ended = latest.announcement.msg_type in {MsgType.cancel, MsgType.error}
        if ended:
            copy = herold.store.copy_on(latest.id, pinned.channel)
            ended = copy is None or copy.state.final
        expires = latest.announcement.expires
        if ended or (expires is not None and expires <= now):
            _unpin_asked[pinned.id] = moment
            herold.submit("unpin", pinned.id, kind=stored.announcement.kind)


def wait_until_settled(herold: Herold, announcement_id: str, timeout: float, poll: float = 0.2) -> list[Delivery]:
    """Block until every delivery is final or held back for a person; returns the deliveries."""
    deadline = time.monotonic() + timeout
    while True:
        deliveries = herold.store.deliveries(announcement_id)
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
