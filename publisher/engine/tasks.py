"""Task functions: the same code runs in-process (embedded) and on Celery workers.

- ``advance(announcement)`` applies the publication plan: releases waves, pins and unpins,
  skips what has no reason left, schedules the next look.
- ``deliver(operation)`` makes one attempt at one operation, under a lease taken by
  compare-and-set: publish, reply, pin or unpin on its channel.
- ``refresh(authority/item)`` tells the item's built-in website that copies elsewhere changed.
- ``notify(notification)`` sends one on-call notification (publisher.engine.oncall).
- ``limits(channel)`` hears what a channel's server says of its limits, for intake to read.
- ``sweep()`` finds what is due or was lost: expired leases, due retries, waves to release,
  unsent notifications, pins of warnings that expired.

A task may run twice (a redelivered message, a sweep racing a worker); compare-and-set in the
database makes the second run a no-op.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import cast

import structlog

from adapters.port import (
    AnnouncesLimits,
    Channel,
    CredentialsError,
    Deleting,
    DeliveryError,
    Editing,
    ExpiringCredentials,
    HandOff,
    HandOffNote,
    Idempotency,
    Lookup,
    Mirrors,
    PermanentError,
    Pinning,
    Post,
    Receipt,
    ServerLimits,
    Threads,
    TooLong,
    TransientError,
    able,
)
from publisher.core.plan import Plan, Step, plan, website_published
from publisher.core.render import DoesNotFit, render
from publisher.domain.announcement import Kind
from publisher.domain.authority import Authority, ChannelConfig, web_address
from publisher.domain.labels import labels_for
from publisher.domain.records import Action, AuditEntry, OperationState, Stage, Variant
from publisher.engine import oncall
from publisher.engine.engine import Engine
from publisher.engine.leases import leases
from publisher.engine.runner import TaskName
from publisher.engine.store import Attempt, Operation, StoredAnnouncement, Unreadable
from publisher.site.card import card_alt, card_jpeg_name, card_name
from publisher.site.model import Copy, Entry, Publication
from publisher.site.registry import channel_types, is_site

log = structlog.get_logger("herold.tasks")

RETRY_CAP = 300.0  # never wait longer than five minutes between attempts
SAFETY_NET = timedelta(seconds=30)  # look again at waiting operations even if no event says so
LIMITS_KEPT = timedelta(hours=1)  # how long what a server said of its limits is believed
ASK_AGAIN = 60.0  # seconds between two requests to a server for its limits
CREDENTIALS_EVERY = 6 * 3600.0  # seconds between two looks at a channel's expiring token
WARN_BEFORE = timedelta(days=7)  # on-call hears of a token that will expire this soon
S = OperationState


def run(engine: Engine, task: TaskName, argument: str) -> None:
    tasks: dict[str, Callable[[Engine, str], None]] = {
        "deliver": deliver, "advance": advance, "refresh": refresh, "notify": oncall.send, "limits": limits,
        "mirror": mirror, "credentials": credentials,
    }  # fmt: skip
    tasks[task](engine, argument)


def _entry(
    engine: Engine,
    action: str,
    stored: StoredAnnouncement,
    operation: Operation | Step,
    *,
    actor: str = "herold",
    source: str = "engine",
    **detail: object,
) -> AuditEntry:
    """An audit entry about one operation: which announcement, which channel, and what happened."""
    what = {"channel": operation.channel} | (
        {} if operation.action is Action.publish else {"operation": operation.action.value}
    )
    return AuditEntry(
        at=engine.clock(), authority=stored.authority, actor=actor, source=source, action=action,
        announcement_id=stored.id, delivery_id=operation.id, detail={**what, **detail},
    )  # fmt: skip


# -- the plan ------------------------------------------------------------------------------


def advance(engine: Engine, announcement_id: str) -> None:
    try:
        stored = engine.store.announcements.get(announcement_id)
    except Unreadable as error:
        unreadable(engine, error)
        return
    if stored is None:
        log.warning("advance: no such announcement", announcement=announcement_id)
        return
    _advance(engine, stored)


def _advance(engine: Engine, stored: StoredAnnouncement) -> None:
    """Apply the plan to the operations as they stand now: releases, skips and the next look, in
    one transaction."""
    now, kind = engine.clock(), stored.announcement.kind
    publish_at = stored.announcement.publish_at
    if stored.stage is Stage.scheduled and (publish_at is None or publish_at <= now):
        released = AuditEntry(at=now, authority=stored.authority, actor="herold", source="engine",
                              action="announcement.released", announcement_id=stored.id,
                              detail={"from": Stage.scheduled.value, "to": Stage.released.value})  # fmt: skip
        engine.store.announcements.change_stage(stored, [Stage.scheduled], Stage.released, released, now=now)

    waves: dict[str, int | None] = {}
    # Only the built-in website's own work goes to the site's lane; a wave-1 channel that calls a
    # server (a web host, a WordPress) waits on the network like any platform.
    on_site = {c.id for c in _channels_of(engine, stored.authority) if is_site(channel_types()[c.type])}

    def decide(steps: list[Step]) -> tuple[Plan, datetime | None]:
        waves.update((step.id, step.wave if step.channel in on_site else None) for step in steps)
        decision = plan(
            steps, now=now, grace=engine.grace(kind),
            publish_at=stored.announcement.publish_at, override=stored.override_reason,
        )  # fmt: skip
        if decision.held_back:
            return decision, None  # only a person can move it on
        # Finished operations trigger the next step at once; a later look is only the safety net
        # for a trigger that got lost on the way, unless the plan waits for a time.
        return decision, decision.check_again_at or now + SAFETY_NET

    def entry(step: Step, action: str, reason: str) -> AuditEntry:
        return _entry(engine, action, stored, step, wave=step.wave, reason=reason)

    applied = engine.store.operations.advance(stored.id, decide, now, engine.deadline(kind), entry)
    for operation_id in applied.released:
        engine.submit("deliver", operation_id, kind=kind, wave=waves.get(operation_id))
    if applied.plan.check_again_at and not applied.plan.held_back:
        delay = max(0.0, (applied.plan.check_again_at - now).total_seconds())
        engine.submit("advance", stored.id, kind=kind, delay=delay)


def _not_a_post_address(url: str) -> str | None:
    """Why ``url`` cannot stand on an item page as a copy's address (None: it can). The API's
    request models say the same; the check lives here so that every door keeps it."""
    try:
        web_address(url)
    except ValueError:
        return f"'{url}' is not a web address"
    if len(url) > 1000 or any(character.isspace() for character in url):
        return f"'{url[:80]}' is not one web address (no spaces, at most 1,000 characters)"
    return None


def _queue(engine: Engine, operation: Operation, *, delay: float = 0.0) -> None:
    """Queue an operation's next attempt, in its kind's lane (or the site's, for the built-in website)."""
    wave = operation.wave if _on_site(operation) else None
    engine.submit("deliver", operation.id, kind=operation.kind, wave=wave, delay=delay)


def reconcile(
    engine: Engine, announcement_id: str, channel: str, url: str | None, actor: str, source: str
) -> list[str]:
    """A person settles a delivery that ended without success: posted after all (``url``), or to
    be sent again. Returns problems; empty when done."""
    try:
        stored = engine.store.announcements.get(announcement_id)
    except Unreadable as error:
        return [str(error)]
    delivery = engine.store.operations.copy_on(announcement_id, channel) if stored else None
    if stored is None or delivery is None:
        return [f"announcement {announcement_id} has no delivery on channel '{channel}'"]
    if delivery.state not in {S.unknown, S.failed, S.dead}:
        return [f"the delivery on '{channel}' is {delivery.state.value}; only unknown, failed or dead ones are settled"]
    if url is not None and (problem := _not_a_post_address(url)):
        return [problem]
    kind = stored.announcement.kind
    if not engine.store.operations.reconcile(delivery.id, engine.clock(), url=url, deadline=engine.deadline(kind)):
        return ["the delivery changed meanwhile; look at herold status again"]
    engine.store.audit.append(_entry(engine, "delivery.reconciled", stored, delivery, actor=actor, source=source,
                                     url=url, outcome="posted" if url else "send again"))  # fmt: skip
    if url:
        engine.submit("advance", stored.id, kind=kind)
        _refresh_soon(engine, stored)
    else:
        _queue(engine, delivery)
    return []


def settle_deletions(
    engine: Engine, announcement_id: str, channel: str | None, *, deleted: bool, actor: str, source: str,
    operation_id: str | None = None,
) -> list[str]:  # fmt: skip
    """A person settles a withdrawal's deletions that ended without success: on a channel (all of
    them there), or the one ``operation_id`` names. The posts were deleted by hand (``deleted``:
    their links leave the item page), or the deletions are tried again. Returns problems; empty
    when done."""
    try:
        stored = engine.store.announcements.get(announcement_id)
    except Unreadable as error:
        return [str(error)]
    if stored is None:
        return [f"there is no announcement {announcement_id}"]
    deletions = [d for d in engine.store.operations.deletions_to_settle(announcement_id, channel)
                 if operation_id in (None, d.id)]  # fmt: skip
    if not deletions:
        where = f"on '{channel}' " if channel else ""
        return [f"no deletion {where}of announcement {announcement_id} waits for a person"]
    now, settled, deadline = engine.clock(), 0, engine.deadline(stored.announcement.kind)
    for deletion in deletions:
        entry = _entry(engine, "delivery.reconciled", stored, deletion, actor=actor, source=source,
                       post=engine.store.operations.target_address(deletion),
                       outcome="deleted by hand" if deleted else "delete again")  # fmt: skip
        if engine.store.operations.settle_deletion(deletion, now, entry, deleted=deleted, deadline=deadline):
            settled += 1
            if not deleted:
                _queue(engine, deletion)
    if deleted and settled:
        _refresh_soon(engine, stored)  # the posts leave the item page
    return [] if settled == len(deletions) else ["a deletion changed meanwhile; look at herold status again"]


def release_by_override(engine: Engine, announcement_id: str, reason: str, actor: str, source: str) -> list[str]:
    """A person releases the other waves although the website failed (warnings only).
    Returns problems; empty when released."""
    reason = reason.strip()
    try:
        stored = engine.store.announcements.get(announcement_id)
    except Unreadable as error:
        return [str(error)]
    if stored is None:
        return [f"no announcement {announcement_id}"]
    if stored.announcement.kind is not Kind.warning:
        return ["only warnings can be released without their website page; news waits for the website"]
    if len(reason) < 10:
        return ["give a reason of at least a few words; it is kept in the audit log"]
    steps = engine.store.operations.steps(announcement_id)
    if website_published(steps):
        return ["the website page is published; nothing is held back"]
    if not any(s.wave == 1 and s.action.publishes and s.state in {S.failed, S.dead, S.unknown} for s in steps):
        return ["the website delivery has not failed (yet); an override is only for a failed website"]
    engine.store.announcements.set_override(announcement_id, reason)
    engine.store.audit.append(AuditEntry(
        at=engine.clock(), authority=stored.authority, actor=actor, source=source, action="announcement.override",
        announcement_id=announcement_id, detail={"reason": reason},
    ))  # fmt: skip
    log.warning("waves released by override", announcement=announcement_id, actor=actor, reason=reason)
    advance(engine, announcement_id)
    return []


def unreadable(engine: Engine, error: Unreadable) -> None:
    """A stored announcement that cannot be read is never delivered: its open operations fail
    with the reason, once, and the authority's on-call contacts hear of it. Nothing else waits
    for it, so the sweep does not come back to it."""
    summary = engine.store.announcements.summary(error.announcement_id)
    authority = summary["authority"] if summary else None
    now = engine.clock()
    entry = AuditEntry(
        at=now, authority=authority, actor="herold", source="engine", action="announcement.unreadable",
        announcement_id=error.announcement_id, detail={"reason": error.reason},
    )  # fmt: skip
    if not engine.store.operations.fail_unreadable(error, now, entry) or authority is None:
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


# -- one attempt at one operation -----------------------------------------------------------


class _Later(Exception):
    """Not an error: this operation must wait for another (e.g. the message it replies to)."""

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(reason)
        self.reason, self.seconds = reason, seconds


class _Skip(Exception):
    """Not an error: the operation's reason went away (a pin beyond the platform's limit)."""


class _HandedOff(Exception):
    """The channel has no posting API: a person posts the prepared text and confirms it."""

    def __init__(self, note: HandOffNote) -> None:
        super().__init__(note.text[:80])
        self.note = note


def deliver(engine: Engine, operation_id: str) -> None:
    now = engine.clock()
    try:
        attempt = engine.store.operations.attempt(operation_id, now, engine.lease)
    except Unreadable as error:  # read after the claim committed: failing the open operations ends it too
        unreadable(engine, error)
        return
    if attempt is None:
        return  # not due, already taken, or already done
    with leases.kept(engine, attempt.operation):
        _attempt(engine, attempt, now)


def _attempt(engine: Engine, attempt: Attempt, now: datetime) -> None:
    operation, stored = attempt.operation, attempt.stored
    bound = log.bind(delivery=operation.id, announcement=stored.id, channel=operation.channel,
                     attempt=operation.attempts)  # fmt: skip

    # Defence in depth: the plan never releases a later wave early, but if anything ever did,
    # the rule still holds here, at the last moment before the platform is called.
    early = operation.publishes and operation.wave > 1 and not stored.override_reason
    if early and not attempt.record_published:
        engine.store.operations.hold(operation, now)
        engine.store.audit.append(_entry(engine, "delivery.held", stored, operation,
                                         reason="website page not published"))  # fmt: skip
        bound.error("wave rule: delivery held back before its website page exists")
        return

    if now > operation.deadline_at:
        reason = f"gave up after {operation.attempts - 1} attempts: {operation.last_error or 'no attempt succeeded'}"
        _give_up(engine, stored, operation, S.dead, reason, attempted=False)
        return

    try:
        receipt = _act(engine, attempt, bound)
    except TransientError as error:
        _retry(engine, stored, operation, error)
        return
    except CredentialsError as error:
        _give_up(engine, stored, operation, S.failed, f"credentials refused: {error.reason}", credentials=True)
        return
    except _Unknown as unknown:
        _give_up(engine, stored, operation, S.unknown, str(unknown))
        return
    except PermanentError as error:
        _give_up(engine, stored, operation, S.failed, error.reason)
        return
    except _Later as later:
        # Waiting for another operation is not an attempt: it counts neither as one nor for backoff.
        engine.store.operations.postpone(operation, now + timedelta(seconds=later.seconds), later.reason, now)
        _queue(engine, operation, delay=later.seconds)
        return
    except _HandedOff as handed:
        _handed_off(engine, stored, operation, handed.note, bound)
        return
    except _Skip as skip:
        if engine.store.operations.finish(operation, S.skipped, str(skip), engine.clock()):
            event = "delivery.not_pinned" if operation.action is Action.pin else "delivery.skipped"
            engine.store.audit.append(_entry(engine, event, stored, operation, reason=str(skip)))
            bound.info(str(skip))
        return
    except Exception as error:
        # A bug or an unexpected answer: retry (the deadline bounds it) but never hide it.
        bound.exception("unexpected error while delivering")
        problem = TransientError(f"internal error: {type(error).__name__}: {error}", ambiguous=True)
        _retry(engine, stored, operation, problem)
        return
    _succeeded(engine, attempt, receipt, bound)


def _act(engine: Engine, attempt: Attempt, bound: structlog.typing.FilteringBoundLogger) -> Receipt | None:
    """Do the operation's work on its channel; what the platform says is a DeliveryError."""
    operation, stored = attempt.operation, attempt.stored
    if _on_site(operation):
        return _publish_on_site(engine, attempt)
    channel = engine.channel(stored.authority, operation.channel)
    if operation.action in {Action.edit, Action.delete}:
        if attempt.target is None and attempt.target_state is not None and not attempt.target_state.final:
            # The post it corrects or withdraws is still on its way: act on it once it is out.
            raise _Later(f"waiting for the post to {operation.action.value} to go out on {operation.channel}", 5.0)
        if attempt.target is None:
            raise _Skip(f"nothing to {operation.action.value}: the post never went out on {operation.channel}")
        if operation.action is Action.delete:
            assert able(channel, Deleting), "only a channel that deletes gets delete operations"
            cast(Deleting, channel).delete(attempt.target)
            return attempt.target
        assert able(channel, Editing), "only a channel that edits gets edit operations"
        target = attempt.target
        return _fitting(engine, attempt, _post(engine, stored, operation, attempt), bound,
                        lambda post: cast(Editing, channel).edit(target, post))  # fmt: skip
    if operation.action is Action.pin:
        assert isinstance(channel, Pinning), "only a channel that pins gets pin operations"
        assert attempt.target is not None, "a pin acts on a published post"
        announced = engine.store.limits.of(stored.authority).get(operation.channel)
        limit = announced.pins if announced and announced.pins else channel.capabilities.pin_limit
        if limit is not None and engine.store.operations.pinned_count(stored.authority, operation.channel) >= limit:
            # An update takes the pin over: the pin it replaces comes off first.
            mine = engine.store.operations.of(stored.id)
            if any(o.action is Action.unpin and o.channel == operation.channel and not o.state.final for o in mine):
                raise _Later(f"waiting for the earlier pin on {operation.channel} to come off", 2.0)
            # Our unpin may have finished between the count and that read: then it freed a place.
            if engine.store.operations.pinned_count(stored.authority, operation.channel) >= limit:
                # Asking would only get a refusal; the oldest pinned warnings stay on top.
                raise _Skip(f"not pinned: {limit} warnings are pinned already, the most the platform allows")
        channel.pin(attempt.target)
        return None
    if operation.action is Action.unpin:
        assert isinstance(channel, Pinning), "only a channel that pins gets unpin operations"
        assert attempt.target is not None, "an unpin acts on a pinned post"
        try:
            channel.unpin(attempt.target)
        except PermanentError as error:
            if "404" not in error.reason:
                raise
            # The post is gone (deleted by hand): nothing is pinned any more.
        return None
    post = _post(engine, stored, operation, attempt)
    if operation.action is Action.hand_off:
        assert isinstance(channel, HandOff), "only a channel that hands off gets hand-off operations"
        raise _HandedOff(channel.hand_off(post))
    receipt = None
    if operation.ambiguous and able(channel, Lookup):
        try:
            receipt = cast(Lookup, channel).find(post)
        except PermanentError as error:
            # Not being allowed to look is no reason to give up the post: the channel's own
            # guard against doubles (its idempotency) is all there is then.
            bound.warning("cannot look for an earlier copy; sending again", reason=error.reason)
        if receipt:
            bound.info("found the copy an earlier attempt made", platform_id=receipt.platform_id)
    unconfirmable = channel.capabilities.idempotency is Idempotency.none
    if receipt is None and operation.ambiguous and unconfirmable and stored.announcement.kind is Kind.news:
        # The platform can neither deduplicate nor be asked: a second post could be a
        # double. For news a person decides; for warnings a missing one is worse.
        raise _Unknown(
            "the last attempt may have been posted; the platform cannot tell. Check the channel, then "
            f"`herold reconcile {stored.id} {operation.channel} --url URL` (it is there) or `--again` (it is not). "
            f"({operation.last_error})"
        )
    if receipt is None:
        receipt = _fitting(engine, attempt, post, bound, lambda post: _send(channel, post))
    return receipt


def _fitting(
    engine: Engine, attempt: Attempt, post: Post, bound: structlog.typing.FilteringBoundLogger,
    send: Callable[[Post], Receipt],
) -> Receipt:  # fmt: skip
    """``send(post)``; refused as too long (nothing was posted), counted as the platform does,
    remembered, and sent once more."""
    try:
        return send(post)
    except TooLong as refused:
        return send(replace(post, variant=_counted_again(engine, attempt, post, refused, bound)))


def _send(channel: Channel, post: Post) -> Receipt:
    threads = post.in_reply_to is not None and able(channel, Threads)
    return cast(Threads, channel).reply(post) if threads else channel.publish(post)


def _counted_again(
    engine: Engine, attempt: Attempt, post: Post, refused: TooLong, bound: structlog.typing.FilteringBoundLogger
) -> Variant:
    """The variant counted with links at full length, kept for the channel from now on; a
    PermanentError if that changes nothing (it was so counted, or a setting says otherwise)."""
    stored, operation = attempt.stored, attempt.operation
    authority = engine.authority(stored.authority)
    config = authority.channel(operation.channel)
    kind = channel_types()[config.type]
    known = engine.store.limits.of(stored.authority).get(operation.channel) or ServerLimits()
    rule = kind.text_rule(config.settings, replace(known, links_in_full=True))
    if rule == kind.text_rule(config.settings, replace(known, links_in_full=False)):
        raise PermanentError(f"{refused.reason}; this channel's settings say how it counts (count_links)")
    try:
        variant = render(
            stored.announcement, channel=operation.channel, template=kind.capabilities.template, link=post.variant.link,
            rule=rule, spoiler=kind.spoiler(config.settings, stored.announcement), timezone=authority.timezone,
        )  # fmt: skip
    except DoesNotFit as error:
        raise PermanentError(f"{refused.reason}; counted the server's way it cannot fit: {error}") from error
    if variant.text == post.variant.text and variant.spoiler == post.variant.spoiler:
        # Made before the channel learned, or learned already: counted in full, and still refused.
        raise PermanentError(f"{refused.reason}; the text was already counted with links in full")
    engine.store.limits.learn_links_in_full(stored.authority, operation.channel, engine.clock())
    engine.store.announcements.replace_variant(stored.id, variant)
    bound.warning("the server counts links at full length: text made to fit that way and sent again",
                  reason=refused.reason, length=variant.length, limit=variant.limit)  # fmt: skip
    return variant


class _Unknown(Exception):
    """An ambiguous earlier attempt no one can check: a person settles it (state unknown)."""


def _on_site(operation: Operation) -> bool:
    kind = channel_types().get(operation.channel_type)
    return kind is not None and is_site(kind)


def _site_types() -> tuple[str, ...]:
    return tuple(name for name, kind in channel_types().items() if is_site(kind))


def _publish_on_site(engine: Engine, attempt: Attempt) -> Receipt:
    """The built-in website publishes what the engine hands it: the entry, with its item."""
    operation, stored = attempt.operation, attempt.stored
    assert attempt.variant is not None, "every publishing operation has its variant (stored together at intake)"
    _earlier_out(operation, attempt)
    site = engine.site(stored.authority, operation.channel)
    return site.publish(Publication(
        item_id=stored.item_id, item_path=stored.item_path, item_month=stored.item_month,
        entry=Entry(id=stored.id, announcement=stored.announcement, variant_text=attempt.variant.text,
                    published=stored.sent_at),
    ))  # fmt: skip


def _earlier_out(operation: Operation, attempt: Attempt) -> list[Receipt]:
    """This channel's copies of the item's earlier messages, oldest first. A follow-up waits until
    they are out, so no channel ever shows the all-clear before the warning."""
    thread = []
    for state, receipt in attempt.earlier:
        if state is S.succeeded and receipt:
            thread.append(receipt)
        elif state is S.manual and operation.action is Action.hand_off:
            continue  # the person posting this one sees the earlier one waiting for them too
        elif not state.final:
            raise _Later(f"waiting for the earlier message on {operation.channel} to be posted first", 2.0)
    return thread


def _configured(engine: Engine, slug: str) -> Authority | None:
    """The authority, or None for one removed from the configuration since (its leftover work is
    left alone)."""
    try:
        return engine.authority(slug)
    except KeyError:
        return None


def _channels_of(engine: Engine, slug: str) -> list[ChannelConfig]:
    authority = _configured(engine, slug)
    return authority.channels if authority else []


def _item_url(engine: Engine, stored: StoredAnnouncement) -> str:
    authority = _configured(engine, stored.authority)
    return authority.url(stored.item_path) if authority else ""


def _card(engine: Engine, stored: StoredAnnouncement, operation: Operation, item_url: str) -> dict[str, str]:
    """The alert card for a channel that posts it with this announcement (its capabilities say):
    its address beside the item's page, as PNG or, for a platform that takes only JPEG, its JPEG
    twin; and its alt text within the platform's limit."""
    kind = channel_types().get(operation.channel_type)
    rule = kind.capabilities.media if kind else None
    authority = _configured(engine, stored.authority)
    if not (item_url and rule and authority and rule.takes_card(has_images=bool(stored.announcement.media))):
        return {}
    name = card_name(stored.id) if "image/png" in rule.types else card_jpeg_name(stored.id)
    alt = card_alt(stored.announcement, authority, item_url, limit=rule.alt_text)
    return {"card_url": item_url + name, "card_alt": alt}


def _post(engine: Engine, stored: StoredAnnouncement, operation: Operation, attempt: Attempt) -> Post:
    """The work for the channel, once the earlier messages of its item are out on it; where the
    platform has threads, a follow-up replies to the latest."""
    assert attempt.variant is not None, "every publishing operation has its variant (stored together at intake)"
    thread = _earlier_out(operation, attempt)
    threaded = operation.action is Action.reply
    item_url = _item_url(engine, stored)
    return Post(
        delivery_id=operation.id, idempotency_key=operation.idempotency_key, announcement_id=stored.id,
        announcement=stored.announcement, variant=attempt.variant, item_id=stored.item_id,
        item_url=item_url,
        in_reply_to=thread[-1] if thread and threaded else None, thread=tuple(thread) if threaded else (),
        attempt=operation.attempts, previous_error=operation.last_error if operation.ambiguous else None,
        created_at=operation.created_at,
        **_card(engine, stored, operation, item_url),
    )  # fmt: skip


def _handed_off(
    engine: Engine,
    stored: StoredAnnouncement,
    operation: Operation,
    note: HandOffNote,
    bound: structlog.typing.FilteringBoundLogger,
) -> None:
    """Waiting for a person now: the copy-ready text is kept with the operation."""
    kept = json.dumps({"text": note.text, "media": list(note.media), "alt": list(note.alt), "card": note.card,
                       "relayed": note.relayed}, ensure_ascii=False)  # fmt: skip
    if not engine.store.operations.finish(operation, S.manual, "", engine.clock(), note=kept):
        return
    engine.store.audit.append(_entry(engine, "delivery.handed_off", stored, operation))
    bound.info(
        "handed to a person: post it, then herold confirm", hint=f"herold confirm {stored.id} {operation.channel}"
    )
    engine.submit("advance", stored.id, kind=stored.announcement.kind)


def confirm(engine: Engine, announcement_id: str, channel: str, url: str | None, actor: str, source: str) -> list[str]:
    """A person posted a hand-off (at ``url``). Returns problems; empty when done."""
    try:
        stored = engine.store.announcements.get(announcement_id)
    except Unreadable as error:
        return [str(error)]
    operation = engine.store.operations.copy_on(announcement_id, channel) if stored else None
    if stored is None or operation is None:
        return [f"announcement {announcement_id} has no delivery on channel '{channel}'"]
    if operation.state is not S.manual:
        return [f"the delivery on '{channel}' is {operation.state.value}; only one handed to a person is confirmed"]
    if url is not None and (problem := _not_a_post_address(url)):
        return [problem]
    entry = _entry(engine, "delivery.confirmed", stored, operation, actor=actor, source=source, url=url)
    if not engine.store.operations.confirm(operation.id, url, engine.clock(), entry):
        return ["the delivery changed meanwhile; look at herold status again"]
    kind = stored.announcement.kind
    engine.submit("advance", stored.id, kind=kind)
    if url:
        _refresh_soon(engine, stored)
    return []


def _handed_before(engine: Engine, now: datetime) -> datetime:
    """Hand-offs older than this and not confirmed are alarmed."""
    return now - timedelta(minutes=engine.runtime.hand_off_alarm_minutes)


def _hand_offs_due(engine: Engine, now: datetime) -> None:
    """A warning handed to a person and not confirmed in time: their on-call contacts hear it, once."""
    minutes = engine.runtime.hand_off_alarm_minutes
    operations = engine.store.operations
    for operation in operations.hand_offs_to_alarm(_handed_before(engine, now)):
        if not operations.mark_alarmed(operation, now):
            continue
        try:
            stored = engine.store.announcements.get(operation.announcement_id)
            authority = engine.authority(operation.authority)
        except (Unreadable, KeyError):
            continue
        t = labels_for(authority.language)
        note = json.loads(operation.note or "{}")
        oncall.raise_alarm(engine, oncall.Alarm(
            authority=operation.authority, cause=f"hand_off:{operation.id}:unconfirmed",
            subject=t("alarm.hand_off_subject", channel=operation.channel),
            text=t("alarm.hand_off_body", headline=stored.announcement.headline if stored else "",
                   channel=operation.channel, minutes=f"{minutes:g}", text=note.get("text", ""),
                   announcement=operation.announcement_id),
            detail={"announcement_id": operation.announcement_id, "channel": operation.channel, "state": "manual"},
            announcement_id=operation.announcement_id, channel=operation.channel,
        ))  # fmt: skip


def _succeeded(
    engine: Engine, attempt: Attempt, receipt: Receipt | None, bound: structlog.typing.FilteringBoundLogger
) -> None:
    operation, stored = attempt.operation, attempt.stored
    now = engine.clock()
    platform_id, url = (receipt.platform_id, receipt.url) if receipt else (None, None)
    action = f"delivery.{'succeeded' if operation.publishes else operation.action.value}"
    entry = _entry(engine, action, stored, operation, attempts=operation.attempts, platform_id=platform_id, url=url)
    works_again = engine.store.operations.complete(operation, receipt, now, entry, flagged=attempt.flagged)
    if works_again is None:
        bound.warning("delivery finished after its lease was taken over", platform_id=platform_id)
        return
    on_site = _on_site(operation)
    if operation.action in {Action.publish, Action.reply} and receipt and receipt.url and not on_site:
        # The item page lists the new copy.
        if not _copy_on_page(engine, stored, Copy(operation.channel, operation.channel_type, receipt.url)):
            _refresh_soon(engine, stored)
    elif (
        # A deleted post leaves the page at once, not with the next copy that happens to appear.
        operation.action is Action.delete
        # A site that published after the platforms (overridden): their copies had nowhere to go.
        or (operation.publishes and on_site and stored.override_reason)
    ):
        _refresh_soon(engine, stored)
    bound.info("delivered" if operation.publishes else f"{operation.action.value} done", platform_id=platform_id,
               url=url)  # fmt: skip
    if works_again:
        log.info("channel works again", authority=stored.authority, channel=operation.channel)
    if attempt.others_waiting:
        # Right here rather than as a task: the next wave is released without a trip through the
        # queue (the sweep would still catch it if this worker stopped now).
        _advance(engine, stored)


def _copy_on_page(engine: Engine, stored: StoredAnnouncement, copy: Copy) -> bool:
    """The new copy on the item page, put there by the delivery that made it, which knows it: a
    task of its own, reading every copy of the item again, cost more CPU than the work. It neither
    waits for the site nor reads the database (the delivery stays within its statements); False
    when a site is busy (a rebuild holds its lock) or fails, and the refresh task in the site's
    lane reads every copy instead. A deletion of this very copy that finishes before this call
    cannot be undone by it: the site keeps the addresses of deleted copies and never adds one."""
    try:
        # A list, not a generator: every site is told, not only those before the first busy one.
        done = all([site.add_copy(stored.item_id, stored.id, copy) for site in engine.sites(stored.authority)])
    except Exception:
        log.exception("the copy could not be put on the item page now; the site's lane tries", item=stored.item_id)
        return False
    _mirror_soon(engine, stored.authority)
    return done


def _refresh_soon(engine: Engine, stored: StoredAnnouncement) -> None:
    engine.submit("refresh", refresh_key(stored), kind=stored.announcement.kind)


def refresh_key(stored: StoredAnnouncement) -> str:
    """What `refresh` is given for an announcement's item."""
    return f"{stored.authority}/{stored.item_id}"


def backoff(attempts: int, retry_after: float | None, base: float = 2.0, rng: random.Random | None = None) -> float:
    """Seconds until the next attempt: exponential with jitter, never sooner than Retry-After."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    ceiling = min(RETRY_CAP, base * float(2 ** max(0, attempts - 1)))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    return max(delay, retry_after or 0.0)


def _retry(engine: Engine, stored: StoredAnnouncement, operation: Operation, error: TransientError) -> None:
    now = engine.clock()
    error.reason = engine.settings.without_secrets(error.reason)  # kept, audited and logged
    delay = backoff(operation.attempts, error.retry_after, engine.runtime.retry_base_seconds)
    at = now + timedelta(seconds=delay)
    if at > operation.deadline_at:
        reason = f"gave up after {operation.attempts} attempts before the deadline: {error.reason}"
        _give_up(engine, stored, operation, S.dead, reason)
        return
    entry = _entry(engine, "delivery.retry", stored, operation, attempt=operation.attempts, reason=error.reason,
                   next_attempt_at=at.isoformat())  # fmt: skip
    engine.store.operations.retry_later(operation, error.reason, at, now,
                                        ambiguous=error.ambiguous or operation.ambiguous, entry=entry)  # fmt: skip
    log.warning("delivery will be retried", delivery=operation.id, channel=operation.channel,
                attempt=operation.attempts, reason=error.reason, retry_in=round(delay, 2))  # fmt: skip
    _queue(engine, operation, delay=delay)


def _give_up(
    engine: Engine,
    stored: StoredAnnouncement,
    operation: Operation,
    state: OperationState,
    reason: str,
    *,
    credentials: bool = False,
    attempted: bool = True,
) -> None:
    """End an operation without success. ``attempted=False``: this claim made no attempt (it ran
    out of time before), so it is not counted as one."""
    now = engine.clock()
    reason = engine.settings.without_secrets(reason)  # kept, audited, logged and sent to on-call
    operations = engine.store.operations
    ended = operations.finish(operation, state, reason, now) if attempted else operations.expire(operation, reason, now)
    if not ended:
        return
    attempts = operation.attempts if attempted else operation.attempts - 1
    engine.store.audit.append(_entry(engine, f"delivery.{state.value}", stored, operation, attempts=attempts,
                                     reason=reason))  # fmt: skip
    log.error("delivery did not succeed", delivery=operation.id, announcement=stored.id, channel=operation.channel,
              state=state.value, reason=reason, credentials=credentials)  # fmt: skip
    alarm(engine, stored, replace(operation, attempts=attempts), state, reason, credentials=credentials)
    engine.submit("advance", stored.id, kind=stored.announcement.kind)


def alarm(
    engine: Engine,
    stored: StoredAnnouncement,
    operation: Operation,
    state: OperationState,
    reason: str,
    *,
    credentials: bool,
) -> None:
    """An operation people must hear about: recorded, and sent to the authority's on-call contacts."""
    authority = engine.authority(stored.authority)
    t = labels_for(authority.language)
    headline = stored.announcement.headline
    engine.store.audit.append(_entry(engine, "alarm", stored, operation, state=state.value, reason=reason,
                                     credentials=credentials))  # fmt: skip
    detail = {
        "authority": stored.authority, "announcement_id": stored.id, "channel": operation.channel,
        "state": state.value, "reason": reason, "headline": headline, "attempts": operation.attempts,
        "item_url": authority.url(stored.item_path),
    }  # fmt: skip
    text = t(
        "alarm.body", headline=headline, channel=operation.channel, what=t(f"alarm.{state.value}"), reason=reason,
        attempts=str(operation.attempts), url=detail["item_url"], announcement=stored.id,
    )  # fmt: skip
    if operation.wave == 1 and operation.publishes:
        text += "\n" + t("alarm.website_held") + "\n"
    oncall.raise_alarm(engine, oncall.Alarm(
        authority=stored.authority, cause=f"delivery:{operation.id}:{state.value}",
        subject=t("alarm.subject", channel=operation.channel, state=state.value, headline=headline)[:300],
        text=text, detail=detail, announcement_id=stored.id, channel=operation.channel,
    ))  # fmt: skip
    if credentials and engine.store.health.mark(stored.authority, operation.channel, reason, engine.clock()):
        oncall.raise_alarm(engine, oncall.Alarm(
            authority=stored.authority, cause=f"credentials:{stored.authority}/{operation.channel}:{operation.id}",
            subject=t("alarm.credentials_subject", channel=operation.channel),
            text=t("alarm.credentials_body", channel=operation.channel, reason=reason),
            detail={**detail, "state": "needs_attention"}, channel=operation.channel,
        ))  # fmt: skip


# -- copies elsewhere, shown on the item page ------------------------------------------------


def refresh(engine: Engine, argument: str) -> None:
    """Tell the item's built-in websites which copies of its announcements exist elsewhere.
    ``argument``: "authority/item id" (an item id alone, from a queue filled before: then the
    authority is read)."""
    authority, _, item_id = argument.rpartition("/")
    if not authority:
        authority = engine.store.archive.item_copies(item_id, _site_types())[0] or ""
    if not _channels_of(engine, authority):
        return  # no such item, or its authority was removed from the configuration since
    for site in engine.sites(authority):
        # Read (again) under the site's lock: two refreshes racing (two deletes finishing together)
        # must not let the older read be written last, leaving a deleted post linked.
        site.copies(item_id, lambda: engine.store.archive.item_copies(item_id, _site_types())[1])
    _mirror_soon(engine, authority)


def rebuild(engine: Engine, authority: str) -> dict[str, int]:
    """Start the authority's built-in websites afresh from the database (the truth): their record
    and every page. Returns the files written, by site."""
    written = {}
    for site in engine.sites(authority):
        # Read under the site's lock (see Site.rebuild): nothing published meanwhile is lost.
        written[site.id] = site.rebuild(partial(engine.store.archive.published, authority, site.id, _site_types()))
    _mirror_soon(engine, authority)
    return written


MIRROR_AFTER_SECONDS = 1.0  # beyond the site's own lists_every_seconds, for its rewrite to land


def _site_settles(engine: Engine, authority: str) -> float:
    sites = engine.sites(authority)
    return MIRROR_AFTER_SECONDS + max((site.settings.lists_every_seconds for site in sites), default=0.0)


def _mirror_soon(engine: Engine, authority: str) -> None:
    """Ask the authority's copies of its built-in site elsewhere (`Mirrors`) to copy what changed.
    One per channel waits at a time (the runners drop a task already queued), so a burst of
    changes makes one or two copies, not one each."""
    for config in _channels_of(engine, authority):
        if able(channel_types()[config.type], Mirrors):
            engine.submit("mirror", f"{authority}/{config.id}", kind="news")


def mirror(engine: Engine, argument: str) -> None:
    """Copy what changed on the built-in site to a copy elsewhere. Never urgent and never lost:
    a failure waits for the next change or the channel's next delivery, which copies it all."""
    authority, _, channel_id = argument.partition("/")
    try:
        channel = engine.channel(authority, channel_id)
    except (KeyError, TypeError):
        return  # removed from the configuration since
    if not isinstance(channel, Mirrors):
        return
    # The site rewrites pages in bursts (lists_every_seconds): let this one land first. Waiting
    # here, not by a delayed task: the embedded runner keeps no timers, only the database's times.
    time.sleep(_site_settles(engine, authority))
    try:
        moved = channel.mirror()
    except DeliveryError as error:
        log.warning("the copy of the site elsewhere could not be brought up to date", authority=authority,
                    channel=channel_id, reason=engine.settings.without_secrets(error.reason))  # fmt: skip
        return
    if moved:
        log.info("site copy brought up to date", authority=authority, channel=channel_id, files=moved)


# -- limits servers announce -----------------------------------------------------------------

_limits_asked: dict[tuple[str, str], float] = {}  # (authority, channel) -> when this process last asked


FORGET_EVERY = timedelta(hours=1)  # retention is never urgent; once an hour keeps the sweep cheap


def _forget_due(engine: Engine, now: datetime) -> None:
    """Delete what the retention period is over for (publisher.engine.store.retention), and say
    so in the audit log, which stays."""
    if engine.forgotten_at is not None and now - engine.forgotten_at < FORGET_EVERY:
        return
    engine.forgotten_at = now
    days = engine.runtime.retention_days
    try:
        forgotten = engine.store.retention.forget(now - timedelta(days=days), days)
    except Exception:  # never at the cost of the sweep's other work; tried again in an hour
        log.exception("retention: deleting old error texts failed")
        return
    if forgotten:
        engine.store.audit.append(AuditEntry(
            at=now, authority=None, actor="herold", source="sweep", action="retention.deleted",
            detail={"error_texts": forgotten.error_texts, "alarms": forgotten.alarms, "drafts": forgotten.drafts,
                    "sessions": forgotten.sessions, "retention_days": engine.runtime.retention_days},
        ))  # fmt: skip
        log.info("retention: old error texts and alarms deleted", error_texts=forgotten.error_texts,
                 alarms=forgotten.alarms)  # fmt: skip


def _limits_due(engine: Engine, now: datetime) -> None:
    """Ask the servers that announce their limits again once what they said is an hour old, by a
    task of its own (the network is slow sometimes), at most once a minute per channel."""
    refreshed, moment = None, time.monotonic()
    for key in _not_looked_at(engine, AnnouncesLimits, _limits_asked, ASK_AGAIN, moment):
        refreshed = engine.store.limits.refreshed() if refreshed is None else refreshed
        if key in refreshed and now - refreshed[key] < LIMITS_KEPT:
            continue
        _limits_asked[key] = moment
        engine.submit("limits", "/".join(key), kind="news")


def _not_looked_at(
    engine: Engine, ability: type, looked: dict[tuple[str, str], float], every: float, moment: float
) -> Iterator[tuple[str, str]]:
    """(authority, channel) of each channel whose type has ``ability`` and that this process last
    looked at ``every`` seconds ago or longer (``looked``: when, by time.monotonic())."""
    for authority in engine.authorities:
        for config in authority.channels:
            key = (authority.slug, config.id)
            if able(channel_types()[config.type], ability) and moment - looked.get(key, -every) >= every:
                yield key


_credentials_looked: dict[tuple[str, str], float] = {}  # (authority, channel) -> when this process last looked


def _credentials_due(engine: Engine) -> None:
    """Look at each expiring token a few times a day, by a task of its own: refresh it where the
    platform allows, and tell on-call of one that will soon stop working."""
    moment = time.monotonic()
    for key in _not_looked_at(engine, ExpiringCredentials, _credentials_looked, CREDENTIALS_EVERY, moment):
        _credentials_looked[key] = moment
        engine.submit("credentials", "/".join(key), kind="news")


def credentials(engine: Engine, argument: str) -> None:
    """Refresh a channel's expiring token if it is due; alarm on-call a week before it expires,
    or at once when it can no longer be refreshed (a person must give a new one). Each alarm once
    per expiry date: the same cause never notifies twice."""
    slug, _, channel_id = argument.partition("/")
    channel = engine.channel(slug, channel_id)
    if not isinstance(channel, ExpiringCredentials):
        return
    label = f"{channel.label} ({channel_id})"
    t = labels_for(engine.authority(slug).language)
    try:
        channel.refresh_credentials()
    except CredentialsError as error:
        error.reason = engine.settings.without_secrets(error.reason)  # a platform may repeat what it was sent
        day = engine.clock().date().isoformat()
        log.warning("the token could not be refreshed", authority=slug, channel=channel_id, reason=error.reason)
        oncall.raise_alarm(engine, oncall.Alarm(
            authority=slug, cause=f"credentials:{slug}/{channel_id}:refresh:{day}", channel=channel_id,
            subject=t("alarm.token_refused_subject", channel=label),
            text=t("alarm.token_refused_body", channel=label, reason=error.reason),
        ))  # fmt: skip
    except DeliveryError as error:  # the platform away for a moment: the next look tries again
        log.warning("the token could not be refreshed now", authority=slug, channel=channel_id,
                    reason=engine.settings.without_secrets(error.reason))  # fmt: skip
    expires = channel.credentials_expire()
    if expires is None or expires - engine.clock() > WARN_BEFORE:
        return
    when = expires.isoformat(timespec="minutes")
    oncall.raise_alarm(engine, oncall.Alarm(
        authority=slug, cause=f"credentials:{slug}/{channel_id}:expires:{expires.date().isoformat()}",
        channel=channel_id, subject=t("alarm.token_expires_subject", channel=label, when=when),
        text=t("alarm.token_expires_body", channel=label, when=when), detail={"expires": when},
    ))  # fmt: skip


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
    engine.store.limits.save(slug, channel_id, announced, engine.clock())
    log.info("server limits read", authority=slug, channel=channel_id, characters=announced.characters,
             pins=announced.pins)  # fmt: skip


# -- the sweep: the database's view of what is due ----------------------------------------


def sweep(engine: Engine, overdue: timedelta = timedelta(0), requeue_after: timedelta | None = None) -> None:
    """Submit everything that is due. ``overdue`` skips work a queue should still be holding
    (Celery), so the sweep only resubmits what was lost. ``requeue_after``: an operation the sweep
    queued is queued again only after this long (in-process, where due retries have no queue
    to wait in, but a backlog should not be read again every tick)."""
    now = engine.clock()
    cutoff, queued_before = now - overdue, now - (requeue_after if requeue_after is not None else overdue)
    operations = engine.store.operations
    # One statement says which kinds of work there are; only those are read (idle: just this one).
    found = engine.store.due.look(now, cutoff, queued_before, _handed_before(engine, now))
    if found.leases:
        for lost in operations.expired_leases(now):
            if operations.return_expired_lease(lost, now):
                log.warning("lease expired: delivery returned to pending", delivery=lost.id, channel=lost.channel)
                _queue(engine, lost)
    if found.deliveries:
        due = operations.due(cutoff, queued_before)
        # Marked before they are queued: a worker's claim clears the mark, and must come after it.
        operations.mark_queued(due, now)
        for operation in due:
            _queue(engine, operation)
    if found.checks:
        for announcement_id, kind in operations.checks_due(cutoff):
            engine.submit("advance", announcement_id, kind=kind)
    if found.notifications:
        oncall.resend_due(engine, cutoff)
    if found.unpins:
        # A warning stays pinned while it is current; once its item has expired, it is unpinned.
        for unpin in operations.unpin_expired(now, engine.deadline):
            _queue(engine, unpin)
    _limits_due(engine, now)
    _credentials_due(engine)
    _forget_due(engine, now)
    if found.hand_offs:
        _hand_offs_due(engine, now)
    for authority in engine.authorities:
        for site in engine.sites(authority.slug):
            try:
                if site.housekeeping(now):
                    _mirror_soon(engine, authority.slug)
            except Exception:
                log.exception("housekeeping failed", authority=authority.slug, channel=site.id)


def wait_until_settled(engine: Engine, announcement_id: str, timeout: float, poll: float = 0.2) -> list[Operation]:
    """Block until every operation is final or held back for a person; returns the deliveries
    (the operations that publish)."""
    deadline = time.monotonic() + timeout
    while True:
        operations = engine.store.operations.of(announcement_id)
        if settled(operations) or time.monotonic() > deadline:
            return [o for o in operations if o.publishes]
        time.sleep(poll)


def settled(operations: list[Operation]) -> bool:
    """Nothing more will happen without a person: every operation is final, or the rest is held
    back behind a failed website (the plan says which)."""
    if all(o.state.final or o.state is S.manual for o in operations):
        return True
    steps = [Step(o.id, o.channel, o.wave, o.state, o.released_at, o.action) for o in operations]
    held = plan(steps, now=datetime.max.replace(tzinfo=UTC), grace=timedelta(0)).held_back
    return held is not None and all(o.state.final or o.state is S.waiting for o in operations)
