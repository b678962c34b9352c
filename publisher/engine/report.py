"""Where an announcement stands, channel by channel: the one view for the CLI, the API and people."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel

from publisher.core.plan import Step, plan
from publisher.domain.announcement import Status
from publisher.domain.problems import Problem
from publisher.domain.records import Action, OperationState, Stage, Variant
from publisher.domain.text import printable
from publisher.engine.engine import Engine
from publisher.engine.store import Operation, Unreadable

UNSUCCESSFUL = {OperationState.failed, OperationState.dead, OperationState.unknown}


class HandOff(BaseModel):
    """A hand-off's copy-ready text and the stored images to attach, with their alt texts."""

    text: str
    media: list[str] = []
    alt: list[str] = []
    card: str | None = None  # the alert card's public address (the person posts it with the text)
    relayed: str | None = None  # sent to the authority's contracted provider: "sent" or "failed: why"


class DeliveryReport(BaseModel):
    """One operation on one channel: the delivery (publish, reply, hand-off) or what follows it
    (pin, unpin)."""

    channel: str
    type: str
    action: Action = Action.publish
    wave: int
    state: OperationState
    attempts: int
    platform_id: str | None
    url: str | None
    last_error: str | None
    released_at: datetime | None
    release_reason: str | None
    next_attempt_at: datetime | None
    finished_at: datetime | None
    length: int | None
    limit: int | None
    shortened: list[str]
    hand_off: HandOff | None = None  # what a person is to post (state manual)
    id: str = ""  # the operation's
    post: str | None = None  # a deletion's: the address (or id) of the post it takes down


class AnnouncementReport(BaseModel):
    id: str
    authority: str
    kind: str
    msg_type: str
    headline: str
    item_url: str
    references: str | None
    received_at: datetime
    publish_at: datetime | None
    # draft | awaiting approval | scheduled | in progress | held back | published | published with
    # failures | failed | unreadable | not published (exercise, test …)
    status: str
    stage: Stage = Stage.released  # draft → awaiting approval → scheduled → released
    cap_status: Status = Status.actual  # what the message is for: only "actual" is ever published
    source: str = ""
    source_id: str | None = None
    held_back: str | None
    override_reason: str | None
    attention: dict[str, str]  # channels of the authority that need a person, and why
    deliveries: list[DeliveryReport]  # every operation; those that publish first
    # What the writer should look at though it went out (links to other domains), as accepting said.
    warnings: list[Problem] = []

    @property
    def failed(self) -> bool:
        """A delivery ended without success (a pin that failed does not make the announcement fail)."""
        return any(d.state in UNSUCCESSFUL for d in self.deliveries if d.action.publishes)


def report(engine: Engine, announcement_id: str) -> AnnouncementReport | None:
    try:
        stored = engine.store.announcements.get(announcement_id)
    except Unreadable as error:
        return _unreadable(engine, error)
    if stored is None:
        return None
    authority = engine.authority(stored.authority)
    operations = _in_order(engine.store.operations.of(announcement_id))
    deliveries = [o for o in operations if o.publishes]
    variants = {v.channel: v for v in engine.store.announcements.variants(announcement_id)}
    now = engine.clock()
    decision = plan(
        [Step(d.id, d.channel, d.wave, d.state, d.released_at, d.action) for d in deliveries],
        now=now,
        grace=engine.grace(stored.announcement.kind),
        publish_at=stored.announcement.publish_at,
        override=stored.override_reason,
    )
    states = {d.state for d in deliveries}
    # Pins and unpins count too: a warning left pinned above its own all-clear is not "published".
    following = [o for o in operations if not o.publishes]
    following_failed = any(o.state in UNSUCCESSFUL for o in following)
    following_open = any(not o.state.final for o in following)
    cap_status = stored.announcement.status
    if cap_status is not Status.actual:
        status = f"not published ({cap_status.value})"
    elif stored.stage in {Stage.draft, Stage.awaiting_approval, Stage.rejected}:
        status = stored.stage.label
    elif decision.held_back:
        status = "held back"
    elif stored.announcement.publish_at and now < stored.announcement.publish_at:
        status = "scheduled"
    elif not all(d.state.final or d.state is OperationState.manual for d in deliveries) or (
        following_open and OperationState.succeeded in states
    ):
        status = "in progress"
    elif states <= {OperationState.succeeded, OperationState.manual, OperationState.skipped} and not following_failed:
        status = "published"
    else:
        status = "published with failures" if OperationState.succeeded in states else "failed"
    return AnnouncementReport(
        id=stored.id,
        authority=stored.authority,
        kind=stored.announcement.kind.value,
        msg_type=stored.announcement.msg_type.value,
        headline=stored.announcement.headline,
        item_url=authority.url(stored.item_path),
        references=stored.announcement.references,
        received_at=stored.received_at,
        publish_at=stored.announcement.publish_at,
        status=status,
        stage=stored.stage,
        cap_status=cap_status,
        source=stored.source,
        source_id=stored.source_id,
        held_back=decision.held_back,
        override_reason=stored.override_reason,
        attention=engine.store.health.attention(stored.authority),
        deliveries=_deliveries(operations, variants, engine),
    )


def _in_order(operations: list[Operation]) -> list[Operation]:
    """Deliveries first (by wave and channel), then pins and unpins."""
    return sorted(operations, key=lambda o: (not o.publishes, o.wave, o.channel, o.action.value))


def _deliveries(
    operations: list[Operation], variants: dict[str, Variant], engine: Engine | None = None
) -> list[DeliveryReport]:
    reports = [_delivery(d, variants.get(d.channel)) for d in operations]
    for operation, delivery in zip(operations, reports, strict=True):
        if engine is not None and operation.action is Action.delete:  # a withdrawal's deletions: few
            delivery.post = engine.store.operations.target_address(operation)
    return reports


def _delivery(d: Operation, variant: Variant | None) -> DeliveryReport:
    return DeliveryReport(
        id=d.id,
        channel=d.channel,
        type=d.channel_type,
        action=d.action,
        wave=d.wave,
        state=d.state,
        attempts=d.attempts,
        platform_id=d.platform_id,
        url=d.platform_url,
        last_error=d.last_error,
        released_at=d.released_at,
        release_reason=d.release_reason,
        next_attempt_at=d.next_attempt_at,
        finished_at=d.finished_at,
        length=variant.length if variant else None,
        limit=variant.limit if variant else None,
        shortened=list(variant.shortened) if variant else [],
        hand_off=HandOff.model_validate_json(d.note) if d.note and d.state is OperationState.manual else None,
    )


def _unreadable(engine: Engine, error: Unreadable) -> AnnouncementReport | None:
    """What can be said of an announcement whose document cannot be read: its row, its
    deliveries, and why. Its deliveries fail (publisher.engine.tasks.unreadable); nothing else does."""
    row = engine.store.announcements.summary(error.announcement_id)
    if row is None:
        return None
    document = row["document"]
    headline = document.get("headline") if isinstance(document, dict) else None
    try:
        item_url = engine.authority(row["authority"]).url(row["path"])
    except KeyError:
        item_url = row["path"]
    operations = _in_order(engine.store.operations.of(error.announcement_id))
    return AnnouncementReport(
        id=row["id"],
        authority=row["authority"],
        kind=row["kind"],
        msg_type=row["msg_type"],
        headline=headline if isinstance(headline, str) else "(cannot be read)",
        item_url=item_url,
        references=row["references"],
        received_at=row["received_at"],
        publish_at=None,
        status="unreadable",
        held_back=f"the stored announcement cannot be read ({error.reason}); publish it again",
        override_reason=row["override_reason"],
        attention=engine.store.health.attention(row["authority"]),
        deliveries=_deliveries(operations, {}),
    )


def table(result: AnnouncementReport) -> str:
    """A plain-text table, one line per channel, for terminals and e-mails."""
    lines = [
        f"Announcement {result.id} ({result.kind}, {result.msg_type}): {result.headline}",
        f"Page:   {result.item_url}",
        f"Status: {result.status.upper()}",
    ]
    if result.source_id:
        lines.append(f"Source: {result.source}, id {result.source_id}")
    if result.held_back:
        lines.append(f"HELD BACK: {result.held_back}.")
        lines.append(f'           A person can release them: herold release {result.id} --reason "..."')
    if result.override_reason:
        lines.append(f"Released by override: {result.override_reason}")
    for channel, reason in result.attention.items():
        lines.append(f"ATTENTION: channel {channel} needs a person: {reason}")
    rows = [("CHANNEL", "TYPE", "WAVE", "STATE", "TRIES", "WHERE / WHY")]
    for d in result.deliveries:
        why = d.url or d.platform_id or ""
        if not d.action.publishes:
            why = {OperationState.succeeded: "done", OperationState.waiting: f"follows the {d.channel} delivery"}.get(
                d.state, d.last_error or d.release_reason or ""
            )
        elif d.state is OperationState.manual:
            why = f"to post by hand, then: herold confirm {result.id} {d.channel} --url URL"
        elif d.state is not OperationState.succeeded:
            why = d.last_error or (f"released: {d.release_reason}" if d.release_reason else "waiting for its wave")
        if d.action is Action.delete:  # a withdrawal's: what it takes down, not a post of its own
            if d.state in {OperationState.failed, OperationState.dead, OperationState.unknown}:
                why = (f"{d.post or 'the post'} is still up ({d.last_error}): delete it by hand, then: "
                       f"herold reconcile {result.id} {d.channel} --deleted")  # fmt: skip
            elif d.state is OperationState.succeeded:
                why = f"deleted: {d.post}" if d.post else "deleted"
        if d.shortened and d.state is OperationState.succeeded:
            why += f" (shortened: {', '.join(d.shortened)})"
        labelled = not d.action.publishes or d.action is Action.delete
        channel = f"{d.channel} ({d.action.value})" if labelled else d.channel
        rows.append((channel, d.type, str(d.wave), d.state.value, str(d.attempts), why))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines.append("")
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
    for d in result.deliveries:
        if d.hand_off is not None:
            lines += ["", f"TO POST BY HAND on {d.channel}:", "", d.hand_off.text]
            lines += [f"  image {path} – alt text: {alt}" for path, alt in zip(d.hand_off.media, d.hand_off.alt,
                                                                             strict=False)]  # fmt: skip
            if d.hand_off.card:
                lines.append(f"  the alert card to post with it: {d.hand_off.card}")
            if d.hand_off.relayed:
                lines.append(f"  sent to the contracted provider: {d.hand_off.relayed}")
    # Headlines and platforms' error texts come from outside: a terminal gets no raw control character.
    return printable("\n".join(line.rstrip() for line in lines))


class Waiting(BaseModel):
    """Something only a person can move on."""

    announcement_id: str
    authority: str
    headline: str
    channel: str | None  # None: the announcement itself (a draft, or one awaiting approval)
    state: str  # manual | unknown | not deleted | draft | awaiting approval
    since: datetime | None
    next_step: str  # the command that moves it on


def waiting(engine: Engine, authority: str | None = None) -> list[Waiting]:
    """What waits for a person: hand-offs to post and confirm, writes nobody could confirm, posts
    a withdrawal could not take down, and announcements waiting for approval."""
    found = []
    headlines: dict[str, str] = {}
    for operation in engine.store.operations.waiting_for_people(authority):
        if operation.announcement_id not in headlines:
            try:
                stored = engine.store.announcements.get(operation.announcement_id)
            except Unreadable:
                stored = None
            headlines[operation.announcement_id] = stored.announcement.headline if stored else "(cannot be read)"
        state = operation.state.value
        if operation.action is Action.delete:
            # The withdrawn post is still up (or may be): a person takes it down by hand.
            where = engine.store.operations.target_address(operation)
            state = "not deleted"
            command = (
                f"delete {where or 'the post'} on {operation.channel} by hand, then: herold reconcile "
                f"{operation.announcement_id} {operation.channel} --deleted (or --delete-again to let Herold try)"
            )
        elif operation.state is OperationState.manual:
            command = f"herold confirm {operation.announcement_id} {operation.channel} --url URL"
        else:
            command = f"herold reconcile {operation.announcement_id} {operation.channel} (--url URL | --again)"
        found.append(Waiting(
            announcement_id=operation.announcement_id, authority=operation.authority,
            headline=headlines[operation.announcement_id], channel=operation.channel, state=state,
            since=operation.finished_at or operation.updated_at, next_step=command,
        ))  # fmt: skip
    for announcement_id, owner, stage, headline in engine.store.announcements.in_stages(
        [Stage.draft, Stage.awaiting_approval], authority
    ):
        found.append(Waiting(
            announcement_id=announcement_id, authority=owner, headline=headline, channel=None,
            state=Stage(stage).label, since=None, next_step=f"herold approve {announcement_id}",
        ))  # fmt: skip
    return found


def waiting_table(items: list[Waiting]) -> str:
    if not items:
        return "Nothing waits for a person."
    lines = [f"{len(items)} thing(s) wait for a person:", ""]
    for item in items:
        where = f" on {item.channel}" if item.channel else ""
        since = f" since {item.since:%Y-%m-%d %H:%M} UTC" if item.since else ""
        lines.append(f"- {item.state.upper()}{where}{since}: {item.headline} ({item.authority})")
        lines.append(f"    {item.next_step}")
    return printable("\n".join(lines))


# -- the list: what an authority has published, newest first -------------------------------------------

SHORT_ID = 8  # characters of an id that `herold list` shows and every command accepts


class Listing(BaseModel):
    id: str
    short_id: str
    item_id: str
    kind: str
    msg_type: str
    stage: Stage
    headline: str
    sent_at: datetime
    expires_at: datetime | None
    current: bool  # a warning whose newest message is an alert or update, not yet expired


def listing(
    engine: Engine,
    authority: str,
    *,
    current: bool = False,
    kind: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    stages: Iterable[Stage] | None = None,
) -> list[Listing]:
    """The authority's announcements, newest first (``current``: only its current warnings, each
    item's newest state)."""
    now = engine.clock()
    # Current warnings are found among all of the authority's warnings, not the newest ``limit``.
    rows = engine.store.announcements.listed(authority, kind="warning" if current else kind, since=since,
                                             limit=None if current else limit, stages=stages)  # fmt: skip
    newest: dict[str, str] = {}  # item -> its newest message that is out (not a draft, not yet due)
    for row in rows:
        if row.stage == Stage.released.value and row.sent_at <= now:
            newest.setdefault(row.item_id, row.id)
    found: list[Listing] = []
    for row in rows:
        live = (
            newest.get(row.item_id) == row.id and row.kind == "warning" and row.msg_type in {"alert", "update"}
            and (row.expires_at is None or row.expires_at > now)
        )  # fmt: skip
        if current and not live:
            continue
        if len(found) == limit:
            break
        found.append(Listing(
            id=row.id, short_id=row.id[:SHORT_ID], item_id=row.item_id, kind=row.kind, msg_type=row.msg_type,
            stage=Stage(row.stage), headline=row.headline, sent_at=row.sent_at, expires_at=row.expires_at,
            current=live,
        ))  # fmt: skip
    return found
