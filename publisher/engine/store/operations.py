"""Operations: one state machine, changed only by compare-and-set.

An operation (publish, reply, hand-off, edit, delete, pin, unpin) moves::

    waiting --release--> pending --claim--> in_flight --> succeeded | failed | dead | unknown | manual
       \\--skip--> skipped           ^--retry/postpone--/

Every change is `transition`: ``UPDATE … WHERE id = … AND state IN (expected)``, and while a
worker's claim holds the operation, ``AND lease_token = its token``. Whoever changes the row
owns the next step; two workers, a retry and a sweep can never both act on one operation.

An attempt's path is three transactions: claim it and read what it needs (`attempt`), record
how it went (`complete`, `retry_later`, `finish`), and, when others wait, apply the plan
(`advance`). Its statements are built once, with bind parameters: building a statement costs
more than running it on SQLite.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from publisher.core.plan import Plan, Step
from publisher.domain.records import Action, AuditEntry, OperationState, Receipt, Stage, Variant
from publisher.engine.schema import AnnouncementRow, ChannelHealthRow, ItemRow, OperationRow, VariantRow
from publisher.engine.store import audit, documents, health
from publisher.engine.store.announcements import StoredAnnouncement
from publisher.engine.store.documents import Unreadable

_ops = cast(Table, OperationRow.__table__)
PUBLISHING = tuple(action.value for action in Action if action.publishes)
# What makes a post of its own in a thread (a correction's edit and a withdrawal's edit or
# deletion act on such posts; a follow-up replies to the latest of them).
POSTS = (Action.publish.value, Action.reply.value, Action.hand_off.value)
OPEN = (OperationState.waiting.value, OperationState.pending.value, OperationState.in_flight.value)
S = OperationState


def among(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN (…)`` of constants, with a bind parameter for each, fixed when the statement is
    built: a plain list becomes an "expanding" parameter, rendered into the SQL again at every
    execution (a cost on every claim and every compare-and-set)."""
    return column.in_([literal(value, type_=column.type) for value in values])


@dataclass(frozen=True)
class Operation:
    id: str
    announcement_id: str
    authority: str
    channel: str
    channel_type: str
    kind: str
    action: Action
    target_id: str
    wave: int
    state: OperationState
    attempts: int
    idempotency_key: str
    next_attempt_at: datetime | None
    lease_until: datetime | None
    lease_token: str | None
    queued_at: datetime | None
    deadline_at: datetime
    released_at: datetime | None
    release_reason: str | None
    platform_id: str | None
    platform_url: str | None
    refs: Mapping[str, str] | None
    note: str | None
    last_error: str | None
    ambiguous: bool
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> Operation:
        mapping = row._mapping if hasattr(row, "_mapping") else {n: getattr(row, n) for n in _FIELDS}
        values = {name: mapping[name] for name in _FIELDS}
        values["state"], values["action"] = OperationState(values["state"]), Action(values["action"])
        return cls(**values)

    @property
    def receipt(self) -> Receipt | None:
        return Receipt(self.platform_id, self.platform_url, dict(self.refs or {})) if self.platform_id else None

    @property
    def publishes(self) -> bool:
        return self.action.publishes


_FIELDS = tuple(Operation.__dataclass_fields__)


def _receipt(platform_id: str | None, url: str | None, refs: Mapping[str, str] | None) -> Receipt | None:
    return Receipt(platform_id, url, dict(refs or {})) if platform_id else None


@dataclass(frozen=True)
class Attempt:
    """A claimed operation with what its attempt needs, read in the claim's transaction."""

    operation: Operation
    stored: StoredAnnouncement
    variant: Variant | None
    target: Receipt | None  # the post a pin, unpin, edit or deletion acts on
    earlier: tuple[tuple[OperationState, Receipt | None], ...]  # this channel's copies of the item's earlier messages
    record_published: bool  # every publishing operation of the first wave has succeeded
    others_waiting: bool  # operations of the announcement wait for their turn: completing may release them
    flagged: bool  # the channel is flagged as needing attention
    target_state: OperationState | None = None  # the state of the operation it acts on (edit, delete)


@dataclass(frozen=True)
class Applied:
    """What applying a plan changed (by this caller: another may have been quicker)."""

    plan: Plan
    released: list[str]
    skipped: list[str]


# -- the one compare-and-set primitive ----------------------------------------------------------


@functools.cache
def _statement(expected: tuple[str, ...], held: bool, columns: tuple[str, ...]) -> Update:
    where = [_ops.c.id == bindparam("_id"), among(_ops.c.state, expected)]
    if held:
        where.append(_ops.c.lease_token == bindparam("_token"))
    return update(_ops).where(*where).values({column: bindparam(f"_{column}") for column in columns})


def transition(
    connection: Connection,
    operation_id: str,
    *,
    expected: Iterable[OperationState],
    token: str | None = None,
    **values: Any,
) -> bool:
    """The one way an operation changes: if its state is one of ``expected`` (and, given
    ``token``, the claim holding it is still this one), set ``values``. True if it changed."""
    wanted = tuple(sorted(state.value for state in expected))
    parameters: dict[str, Any] = {"_id": operation_id, "_token": token}
    if any(isinstance(value, ClauseElement) for value in values.values()):  # e.g. attempts - 1: rare
        statement = _statement(wanted, token is not None, ()).values(**values)
    else:
        statement = _statement(wanted, token is not None, tuple(sorted(values)))
        parameters |= {f"_{column}": value for column, value in values.items()}
    return bool(connection.execute(statement, parameters).rowcount)


# -- what an attempt reads, in one statement beside its claim -----------------------------------

_CLAIM = (
    update(_ops)
    .where(
        _ops.c.id == bindparam("_id"), _ops.c.state == S.pending.value,
        or_(_ops.c.next_attempt_at.is_(None), _ops.c.next_attempt_at <= bindparam("_now")),
    )
    .values(
        state=S.in_flight.value, lease_until=bindparam("_lease_until"), lease_token=bindparam("_token"),
        attempts=_ops.c.attempts + 1, updated_at=bindparam("_now"), queued_at=None,
    )
    .returning(*_ops.c)
)  # fmt: skip


def _context() -> Any:
    a = cast(Table, AnnouncementRow.__table__).alias("a")
    i = cast(Table, ItemRow.__table__).alias("i")
    v = cast(Table, VariantRow.__table__).alias("v")
    h = cast(Table, ChannelHealthRow.__table__).alias("h")
    t, tt, e, w, r = (_ops.alias(name) for name in ("t", "tt", "e", "w", "r"))
    ea = cast(Table, AnnouncementRow.__table__).alias("ea")
    channel = bindparam("_channel", type_=String(64))
    # Counted among the announcement's own operations (its index), not among every waiting one.
    waiting = select(func.count(case((w.c.state == S.waiting.value, 1)))).where(w.c.announcement_id == a.c.id)
    # The first wave's publishing operations: all of them must have succeeded (the wave rule).
    record = select(func.count()).where(r.c.announcement_id == a.c.id, r.c.wave == 1, among(r.c.action, PUBLISHING))
    record_open = record.where(r.c.state != S.succeeded.value)
    return (
        select(
            a.c.id, a.c.item_id, a.c.authority, a.c.source, a.c.actor, a.c.received_at, a.c.sent_at,
            # The document as the database holds it (JSON text on SQLite): parsed only if this
            # process has not read it before (publisher.engine.store.documents).
            a.c.override_reason, type_coerce(a.c.document, Text).label("document"), a.c.stage, a.c.source_id,
            i.c.path, i.c.month,
            v.c.channel.label("v_channel"), v.c.language, v.c.text, v.c.spoiler, v.c.link, v.c.length,
            v.c.limit, v.c.shortened,
            # What a pin acts on is its publish; what an unpin acts on is its pin's publish.
            func.coalesce(tt.c.platform_id, t.c.platform_id).label("t_id"),
            func.coalesce(tt.c.platform_url, t.c.platform_url).label("t_url"),
            case((tt.c.id.is_not(None), tt.c.refs), else_=t.c.refs).label("t_refs"), t.c.state.label("t_state"),
            func.coalesce(h.c.needs_attention, literal(False)).label("flagged"),
            waiting.scalar_subquery().label("waiting"),
            record.scalar_subquery().label("record"), record_open.scalar_subquery().label("record_open"),
            e.c.state.label("e_state"), e.c.platform_id.label("e_id"), e.c.platform_url.label("e_url"),
            e.c.refs.label("e_refs"),
        )
        .select_from(
            a.join(i, i.c.id == a.c.item_id)
            .outerjoin(v, and_(v.c.announcement_id == a.c.id, v.c.channel == channel))
            .outerjoin(t, t.c.id == bindparam("_target"))
            .outerjoin(tt, and_(tt.c.id == t.c.target_id, t.c.action == Action.pin.value))
            .outerjoin(h, and_(h.c.authority == a.c.authority, h.c.channel == channel))
            # The item's earlier announcements (by its index), then their operations on this
            # channel (by theirs): never a scan of all operations, however many there are.
            .outerjoin(ea, and_(
                ea.c.item_id == a.c.item_id,
                or_(ea.c.received_at < a.c.received_at, and_(ea.c.received_at == a.c.received_at, ea.c.id < a.c.id)),
            ))
            .outerjoin(e, and_(e.c.announcement_id == ea.c.id, e.c.channel == channel, among(e.c.action, POSTS)))
        )
        .where(a.c.id == bindparam("_announcement"))
        .order_by(ea.c.received_at, ea.c.id)
    )  # fmt: skip


_CONTEXT = _context()
_STEPS = (
    lambda t: select(
        _ops.c.id, _ops.c.channel, _ops.c.wave, _ops.c.state, _ops.c.released_at, _ops.c.action,
        t.c.state.label("target_state"),
    )
    .select_from(_ops.outerjoin(t, t.c.id == _ops.c.target_id))
    .where(_ops.c.announcement_id == bindparam("_announcement"))
    .order_by(_ops.c.wave, _ops.c.channel, _ops.c.action)
)(_ops.alias("target"))  # fmt: skip
_OF_ANNOUNCEMENT = (
    select(_ops).where(_ops.c.announcement_id == bindparam("_announcement")).order_by(_ops.c.wave, _ops.c.channel)
)
_MARK_QUEUED = (
    update(_ops)
    .where(
        _ops.c.id == bindparam("_id"), _ops.c.state == S.pending.value,
        # unchanged since read: whatever puts an operation back to pending sets a new due time
        _ops.c.next_attempt_at == bindparam("_due_at"), _ops.c.updated_at == bindparam("_updated_at"),
    )
    .values(queued_at=bindparam("_now"))
)  # fmt: skip


class _Unindexed(FunctionElement[str]):
    name = "unindexed"
    type = String()
    inherit_cache = True


@compiles(_Unindexed)
def _unindexed(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_Unindexed, "sqlite")
def _unindexed_sqlite(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


def unindexed(column: ColumnElement[str]) -> ColumnElement[str]:
    """A column SQLite must not look up by its index (its documented unary ``+``): where a term
    on ``state`` would make it read every finished operation through ``(state, next_attempt_at)``
    although another index finds the few rows wanted. Other databases get the column as it is
    (their planners have statistics)."""
    return _Unindexed(column)


def _pins_active() -> Any:
    """Pin operations that succeeded and were not undone by an unpin that succeeded. Found by the
    index on ``target_id`` (only pins and unpins have a target), never among all finished ones."""
    unpin = _ops.alias("u")
    return and_(
        _ops.c.target_id > "", _ops.c.action == Action.pin.value, unindexed(_ops.c.state) == S.succeeded.value,
        ~exists().where(unpin.c.action == Action.unpin.value, unpin.c.target_id == _ops.c.id,
                        unpin.c.state == S.succeeded.value),
    )  # fmt: skip


def _unpins_due() -> Any:
    """Succeeded pins that no unpin targets yet, whose item has expired (its latest
    announcement's ``expires`` has passed by ``_now``)."""
    unpin, latest = _ops.alias("u"), cast(Table, AnnouncementRow.__table__).alias("latest")
    newest_expiry = (
        select(latest.c.expires_at)
        .where(latest.c.item_id == AnnouncementRow.item_id)
        .order_by(latest.c.received_at.desc(), latest.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(_ops)
        .join(AnnouncementRow, AnnouncementRow.id == _ops.c.announcement_id)
        .where(
            _ops.c.target_id > "", _ops.c.action == Action.pin.value, unindexed(_ops.c.state) == S.succeeded.value,
            ~exists().where(unpin.c.action == Action.unpin.value, unpin.c.target_id == _ops.c.id),
            newest_expiry <= bindparam("_now"),
        )
    )  # fmt: skip


# What the sweep and the commands read, built once (the sweep runs every half second). The
# sweep's statements share the names of their parameters: publisher.engine.store.due asks all of
# them at once whether they would find anything.
_GET = select(_ops).where(_ops.c.id == bindparam("_id"))
# Its own post if it made one; a correction made in place is the post it edited.
_COPY_ON = (
    select(_ops)
    .where(_ops.c.announcement_id == bindparam("_announcement"), _ops.c.channel == bindparam("_channel"),
           among(_ops.c.action, PUBLISHING))
    .order_by(case((among(_ops.c.action, POSTS), 0), else_=1), _ops.c.created_at)
    .limit(1)
)  # fmt: skip
_PINNED_COUNT = select(func.count()).where(
    _pins_active(), _ops.c.authority == bindparam("_authority"), _ops.c.channel == bindparam("_channel")
)
UNPINS_DUE = _unpins_due()
DUE = (
    select(_ops)
    .where(
        _ops.c.state == S.pending.value, _ops.c.next_attempt_at <= bindparam("_cutoff"),
        or_(_ops.c.queued_at.is_(None), _ops.c.queued_at <= bindparam("_queued_before")),
    )
    .order_by(_ops.c.kind.desc(), _ops.c.next_attempt_at)
    .limit(bindparam("_limit"))
)  # fmt: skip
CHECKS_DUE = (
    select(_ops.c.announcement_id, _ops.c.kind)
    .where(_ops.c.state == S.waiting.value, _ops.c.next_attempt_at <= bindparam("_cutoff"))
    .group_by(_ops.c.announcement_id, _ops.c.kind)
    .order_by(func.min(_ops.c.next_attempt_at))
    .limit(bindparam("_limit"))
)
EXPIRED_LEASES = select(_ops).where(_ops.c.state == S.in_flight.value, _ops.c.lease_until < bindparam("_now"))
HAND_OFFS_TO_ALARM = (
    select(_ops)
    .where(
        _ops.c.state == S.manual.value, _ops.c.kind == "warning", _ops.c.alarmed_at.is_(None),
        _ops.c.updated_at <= bindparam("_before"),
    )
    .order_by(_ops.c.updated_at)
    .limit(bindparam("_limit"))
)  # fmt: skip


@functools.lru_cache(maxsize=64)
def _applying(released: int, skipped: int) -> Update:
    """Applying a plan to an announcement's waiting operations in one statement: ``released`` of
    them start, ``skipped`` of them end, the rest are looked at again at ``_look_again``. Built
    once per shape (how many of each), with bind parameters, like every statement on the path."""
    dates = _ops.c.released_at.type
    now, look_again = bindparam("_now", type_=dates), bindparam("_look_again", type_=dates)
    ids = {name: [bindparam(f"_{name}_{n}", type_=_ops.c.id.type) for n in range(count)]
           for name, count in (("released", released), ("skipped", skipped))}  # fmt: skip
    reasons = {name: [bindparam(f"_{name}_reason_{n}", type_=_ops.c.last_error.type) for n in range(len(found))]
               for name, found in ids.items()}  # fmt: skip
    is_released, is_skipped = _ops.c.id.in_(ids["released"]), _ops.c.id.in_(ids["skipped"])

    def chosen(*whens: tuple[Any, Any], otherwise: Any) -> Any:
        whens = tuple((condition, then) for condition, then in whens if condition is not None)
        return case(*whens, else_=otherwise) if whens else otherwise

    def by_id(name: str, column: Any) -> Any:
        return chosen(*((_ops.c.id == i, reason) for i, reason in zip(ids[name], reasons[name], strict=True)),
                      otherwise=column)  # fmt: skip

    released_when = is_released if released else None
    skipped_when = is_skipped if skipped else None
    return (
        update(_ops)
        .where(_ops.c.announcement_id == bindparam("_announcement"), _ops.c.state == S.waiting.value)
        .values(
            state=chosen((released_when, S.pending.value), (skipped_when, S.skipped.value), otherwise=_ops.c.state),
            released_at=chosen((released_when, now), otherwise=_ops.c.released_at),
            release_reason=by_id("released", _ops.c.release_reason),
            last_error=by_id("skipped", _ops.c.last_error),
            next_attempt_at=chosen((released_when, now), (skipped_when, null()), otherwise=look_again),
            deadline_at=chosen((released_when, bindparam("_deadline_at", type_=dates)), otherwise=_ops.c.deadline_at),
            finished_at=chosen((skipped_when, now), otherwise=_ops.c.finished_at),
            updated_at=now,
        )
        .returning(_ops.c.id, _ops.c.state)
    )  # fmt: skip


class Operations:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- an attempt's path -----------------------------------------------------------------------

    def attempt(self, operation_id: str, now: datetime, lease: timedelta) -> Attempt | None:
        """Claim a pending, due operation and read what its attempt needs, in one transaction of
        two statements. None if someone else has it or it is not due."""
        with self.engine.begin() as connection:
            row = connection.execute(
                _CLAIM, {"_id": operation_id, "_now": now, "_lease_until": now + lease, "_token": secrets.token_hex(16)}
            ).first()
            if row is None:
                return None
            claimed = Operation.of(row)
            rows = connection.execute(_CONTEXT, {
                "_announcement": claimed.announcement_id, "_channel": claimed.channel,
                "_target": claimed.target_id or None,
            }).all()  # fmt: skip
        first = rows[0]
        stored = StoredAnnouncement(
            id=first.id, item_id=first.item_id, item_path=first.path, item_month=first.month,
            authority=first.authority,
            announcement=documents.document(first.id, first.document), source=first.source, actor=first.actor,
            received_at=first.received_at, sent_at=first.sent_at, override_reason=first.override_reason,
            stage=Stage(first.stage), source_id=first.source_id,
        )  # fmt: skip
        variant = None
        if first.v_channel is not None:
            variant = Variant(
                channel=first.v_channel, language=first.language, text=first.text, spoiler=first.spoiler,
                link=first.link, length=first.length, limit=first.limit, shortened=tuple(first.shortened or ()),
            )  # fmt: skip
        return Attempt(
            operation=claimed, stored=stored, variant=variant, target=_receipt(first.t_id, first.t_url, first.t_refs),
            target_state=OperationState(first.t_state) if first.t_state else None,
            earlier=tuple(
                (OperationState(r.e_state), _receipt(r.e_id, r.e_url, r.e_refs)) for r in rows if r.e_state is not None
            ),
            record_published=bool(first.record) and not first.record_open, others_waiting=bool(first.waiting),
            flagged=bool(first.flagged),
        )  # fmt: skip

    def complete(
        self, claimed: Operation, receipt: Receipt | None, now: datetime, entry: AuditEntry, *, flagged: bool
    ) -> bool | None:
        """The attempt succeeded: record it with its receipt and its audit entry, and clear the
        channel's flag if it had one, in one transaction. None if the lease was lost meanwhile
        (nothing is written then); otherwise whether the channel works again."""
        with self.engine.begin() as connection:
            values: dict[str, Any] = {
                "state": S.succeeded.value, "lease_until": None, "lease_token": None, "finished_at": now,
                "updated_at": now, "last_error": None, "ambiguous": False,
            }  # fmt: skip
            if receipt is not None:
                values |= {"platform_id": receipt.platform_id, "platform_url": receipt.url,
                           "refs": dict(receipt.refs) or None}  # fmt: skip
            if not transition(connection, claimed.id, expected=[S.in_flight], token=claimed.lease_token, **values):
                return None
            audit.append_in(connection, entry)
            return health.clear_in(connection, claimed.authority, claimed.channel, now) if flagged else False

    def retry_later(
        self, claimed: Operation, error: str, at: datetime, now: datetime, *, ambiguous: bool, entry: AuditEntry
    ) -> bool:
        with self.engine.begin() as connection:
            changed = transition(
                connection, claimed.id, expected=[S.in_flight], token=claimed.lease_token, state=S.pending.value,
                next_attempt_at=at, lease_until=None, lease_token=None, last_error=error, ambiguous=ambiguous,
                updated_at=now,
            )  # fmt: skip
            if changed:
                audit.append_in(connection, entry)
            return changed

    def finish(self, claimed: Operation, state: OperationState, error: str, now: datetime, **values: Any) -> bool:
        """End an attempt in ``state`` (failed, dead, unknown, skipped, manual) with its reason."""
        with self.engine.begin() as connection:
            return transition(
                connection, claimed.id, expected=[S.in_flight], token=claimed.lease_token, state=state.value,
                last_error=error, lease_until=None, lease_token=None, finished_at=now, updated_at=now, **values,
            )  # fmt: skip

    def postpone(self, claimed: Operation, at: datetime, reason: str, now: datetime) -> bool:
        """Not an attempt after all (it must wait for another operation): back to pending, uncounted,
        and the wait does not eat into its time to keep trying."""
        with self.engine.begin() as connection:
            return transition(
                connection, claimed.id, expected=[S.in_flight], token=claimed.lease_token, state=S.pending.value,
                next_attempt_at=at, lease_until=None, lease_token=None, attempts=_ops.c.attempts - 1,
                release_reason=reason, deadline_at=claimed.deadline_at + (at - now), updated_at=now,
            )  # fmt: skip

    def expire(self, claimed: Operation, reason: str, now: datetime) -> bool:
        """Out of time before this claim became an attempt: dead, with the attempts really made."""
        with self.engine.begin() as connection:
            return transition(
                connection, claimed.id, expected=[S.in_flight], token=claimed.lease_token, state=S.dead.value,
                last_error=reason, attempts=_ops.c.attempts - 1, lease_until=None, lease_token=None,
                finished_at=now, updated_at=now,
            )  # fmt: skip

    def hold(self, claimed: Operation, now: datetime) -> bool:
        """Put a claimed operation back to waiting without counting the attempt."""
        with self.engine.begin() as connection:
            return transition(
                connection, claimed.id, expected=[S.in_flight], token=claimed.lease_token, state=S.waiting.value,
                lease_until=None, lease_token=None, attempts=_ops.c.attempts - 1, released_at=None,
                release_reason=None, next_attempt_at=now, updated_at=now,
            )  # fmt: skip

    def renew_all(self, claims: Sequence[Operation], now: datetime, lease: timedelta) -> list[bool]:
        """Extend the leases of several running attempts in one transaction (one wait for the
        database, not one per attempt); for each, False if it was lost meanwhile."""
        with self.engine.begin() as connection:
            return [
                transition(
                    connection,
                    c.id,
                    expected=[S.in_flight],
                    token=c.lease_token,
                    lease_until=now + lease,
                    updated_at=now,
                )
                for c in claims
            ]

    # -- the plan, applied ------------------------------------------------------------------------

    def steps(self, announcement_id: str) -> list[Step]:
        with self.engine.begin() as connection:
            return self._steps_in(connection, announcement_id)

    @staticmethod
    def _steps_in(connection: Connection, announcement_id: str) -> list[Step]:
        return [
            Step(
                row.id,
                row.channel,
                row.wave,
                OperationState(row.state),
                row.released_at,
                Action(row.action),
                OperationState(row.target_state) if row.target_state else None,
            )
            for row in connection.execute(_STEPS, {"_announcement": announcement_id})
        ]

    def advance(
        self,
        announcement_id: str,
        decide: Callable[[list[Step]], tuple[Plan, datetime | None]],
        now: datetime,
        deadline: timedelta,
        entries: Callable[[Step, str, str], AuditEntry],
    ) -> Applied:
        """Read where the announcement's operations stand, let ``decide`` make the plan (and say when
        to look again at what still waits), and apply it, in one transaction of at most three
        statements: the reading, one update for every release, skip and next look, and the audit
        entries (``entries(step, action, reason)``) of what this caller changed."""
        with self.engine.begin() as connection:
            steps = self._steps_in(connection, announcement_id)
            decision, look_again = decide(steps)
            if not any(step.state is S.waiting for step in steps):
                return Applied(decision, [], [])
            released = {d: r.reason for r in decision.releases for d in r.delivery_ids}
            skipped = {d: r.reason for r in decision.skips for d in r.delivery_ids}
            parameters = {"_announcement": announcement_id, "_now": now, "_deadline_at": now + deadline,
                          "_look_again": look_again}  # fmt: skip
            for name, picked in (("_released", released), ("_skipped", skipped)):
                for n, (operation_id, reason) in enumerate(picked.items()):
                    parameters |= {f"{name}_{n}": operation_id, f"{name}_reason_{n}": reason}
            changed = connection.execute(_applying(len(released), len(skipped)), parameters).all()
            by_id = {step.id: step for step in steps}
            ours_released = [r.id for r in changed if r.id in released and r.state == S.pending.value]
            ours_skipped = [r.id for r in changed if r.id in skipped and r.state == S.skipped.value]
            audit.append_in(
                connection,
                *(entries(by_id[i], "delivery.released", released[i]) for i in ours_released),
                *(entries(by_id[i], "delivery.skipped", skipped[i]) for i in ours_skipped),
            )
        return Applied(decision, ours_released, ours_skipped)

    # -- reading -------------------------------------------------------------------------------------

    def get(self, operation_id: str) -> Operation | None:
        with self.engine.begin() as connection:
            row = connection.execute(_GET, {"_id": operation_id}).first()
            return Operation.of(row) if row else None

    def of(self, announcement_id: str, *, publishing: bool = False) -> list[Operation]:
        """An announcement's operations (only those that publish, with ``publishing``)."""
        with self.engine.begin() as connection:
            found = [Operation.of(r) for r in connection.execute(_OF_ANNOUNCEMENT, {"_announcement": announcement_id})]
        return [o for o in found if o.publishes] if publishing else found

    def target_address(self, operation: Operation) -> str | None:
        """Where the post an operation acts on is (a deletion's: the post it takes down): its
        address, or its id where it has none; None without a target."""
        post = self.get(operation.target_id) if operation.target_id else None
        return (post.platform_url or post.platform_id) if post else None

    def deletions_to_settle(self, announcement_id: str, channel: str | None = None) -> list[Operation]:
        """An announcement's deletions (on one channel, or on any) that ended without success
        (unknown, failed or dead): a person deletes by hand, or lets them be tried again."""
        with self.engine.begin() as connection:
            found = [Operation.of(r) for r in connection.execute(_OF_ANNOUNCEMENT, {"_announcement": announcement_id})]
        ended = {S.unknown, S.failed, S.dead}
        return [o for o in found if channel in (None, o.channel) and o.action is Action.delete and o.state in ended]

    def settle_deletion(
        self, deletion: Operation, now: datetime, entry: AuditEntry, *, deleted: bool, deadline: timedelta
    ) -> bool:
        """A person settled a deletion that ended without success, audited in the same transaction:
        the post was deleted by hand (``deleted``: succeeded, with no address of its own, since the
        post is gone), or the deletion is tried again."""
        ended = [S.unknown, S.failed, S.dead]
        with self.engine.begin() as connection:
            if deleted:
                changed = transition(
                    connection, deletion.id, expected=ended, state=S.succeeded.value, platform_id="deleted by hand",
                    platform_url=None, last_error=None, ambiguous=False, finished_at=now, updated_at=now,
                )  # fmt: skip
            else:
                changed = transition(
                    connection, deletion.id, expected=ended, state=S.pending.value, next_attempt_at=now,
                    deadline_at=now + deadline, ambiguous=False, finished_at=None, updated_at=now,
                )  # fmt: skip
            if changed:
                audit.append_in(connection, entry)
            return changed

    def copy_on(self, announcement_id: str, channel: str) -> Operation | None:
        """The operation that publishes an announcement on one channel."""
        with self.engine.begin() as connection:
            row = connection.execute(_COPY_ON, {"_announcement": announcement_id, "_channel": channel}).first()
            return Operation.of(row) if row else None

    def pinned(self, item_id: str | None = None) -> list[Operation]:
        """The publishing operations whose posts are pinned now (of one item, or all)."""
        post = _ops.alias("post")
        query = select(post).join(_ops, _ops.c.target_id == post.c.id).where(_pins_active())
        if item_id:
            query = query.join(AnnouncementRow, AnnouncementRow.id == post.c.announcement_id).where(
                AnnouncementRow.item_id == item_id
            )
        with self.engine.begin() as connection:
            return [Operation.of(row) for row in connection.execute(query)]

    def posts_since(self, authority: str, channel: str, since: datetime) -> int:
        """Posts made or still to be made on a channel since a moment (publish and reply operations
        created since, but those that failed or were given up: those cost nothing)."""
        with self.engine.begin() as connection:
            count = connection.execute(
                select(func.count()).select_from(OperationRow).where(
                    OperationRow.authority == authority, OperationRow.channel == channel,
                    OperationRow.action.in_([Action.publish.value, Action.reply.value]),
                    OperationRow.state.not_in([OperationState.failed.value, OperationState.dead.value,
                                               OperationState.skipped.value]),
                    OperationRow.created_at >= since,
                )
            ).scalar_one()  # fmt: skip
        return int(count)

    def pinned_count(self, authority: str, channel: str) -> int:
        """How many of Herold's posts are pinned on one channel now."""
        with self.engine.begin() as connection:
            return int(connection.execute(_PINNED_COUNT, {"_authority": authority, "_channel": channel}).scalar_one())

    def posts_of(self, item_id: str) -> list[Operation]:
        """The item's publishing operations that make a post of their own (publish, reply), every
        channel, oldest first: what a withdrawal edits or deletes."""
        query = (
            select(_ops)
            .join(AnnouncementRow, AnnouncementRow.id == _ops.c.announcement_id)
            .where(AnnouncementRow.item_id == item_id, among(_ops.c.action, (Action.publish, Action.reply)))
            .order_by(_ops.c.created_at)
        )  # fmt: skip
        with self.engine.begin() as connection:
            return [Operation.of(row) for row in connection.execute(query)]

    def pins_to_undo(self, item_id: str) -> list[Operation]:
        """The item's pin operations that no unpin targets yet (an all-clear unpins them)."""
        unpin = _ops.alias("u")
        query = (
            select(_ops)
            .join(AnnouncementRow, AnnouncementRow.id == _ops.c.announcement_id)
            .where(
                AnnouncementRow.item_id == item_id, _ops.c.action == Action.pin.value,
                ~exists().where(unpin.c.action == Action.unpin.value, unpin.c.target_id == _ops.c.id),
            )
        )  # fmt: skip
        with self.engine.begin() as connection:
            return [Operation.of(row) for row in connection.execute(query)]

    def unpin_expired(self, now: datetime, deadline: Callable[[str], timedelta]) -> list[Operation]:
        """Unpin operations, pending at once, for pinned posts whose item has expired (its latest
        announcement's ``expires`` has passed); each pin gets one. Returns the new operations."""
        created = []
        with self.engine.begin() as connection:
            for pin in [Operation.of(row) for row in connection.execute(UNPINS_DUE, {"_now": now})]:
                operation_id = str(uuid.uuid4())
                connection.execute(insert(_ops), {
                    "id": operation_id, "announcement_id": pin.announcement_id, "authority": pin.authority,
                    "channel": pin.channel, "channel_type": pin.channel_type, "kind": pin.kind,
                    "action": Action.unpin.value, "target_id": pin.id, "wave": pin.wave, "state": S.pending.value,
                    "attempts": 0, "idempotency_key": f"herold-{operation_id}", "next_attempt_at": now,
                    "deadline_at": now + deadline(pin.kind), "released_at": now,
                    "release_reason": "the warning has expired", "created_at": now, "updated_at": now,
                    "ambiguous": False,
                })  # fmt: skip
                created.append(operation_id)
        return [o for o in (self.get(i) for i in created) if o is not None]

    # -- what the sweep looks at ------------------------------------------------------------------------

    def due(self, cutoff: datetime, queued_before: datetime | None = None, limit: int = 500) -> list[Operation]:
        """Pending operations due by ``cutoff`` and not queued by the sweep since ``queued_before``
        (default: the cutoff), oldest first (warnings before news). A claim clears the queued mark:
        a retry waits in the database, not in a queue."""
        parameters = {"_cutoff": cutoff, "_queued_before": queued_before or cutoff, "_limit": limit}
        with self.engine.begin() as connection:
            return [Operation.of(row) for row in connection.execute(DUE, parameters)]

    def mark_queued(self, operations: Sequence[Operation], now: datetime) -> None:
        """Remember that the sweep queued these again, so a long queue is not filled with copies.
        Only those unchanged since they were read: one a worker took meanwhile (and maybe put back
        for a retry) must not be marked, or the sweep would skip its retry."""
        if operations:
            with self.engine.begin() as connection:
                connection.execute(_MARK_QUEUED, [
                    {"_id": o.id, "_due_at": o.next_attempt_at, "_updated_at": o.updated_at, "_now": now}
                    for o in operations
                ])  # fmt: skip

    def checks_due(self, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
        """(announcement id, kind) of announcements with waiting operations due for a look."""
        with self.engine.begin() as connection:
            return [(row[0], row[1]) for row in connection.execute(CHECKS_DUE, {"_cutoff": now, "_limit": limit})]

    def expired_leases(self, now: datetime) -> list[Operation]:
        with self.engine.begin() as connection:
            return [Operation.of(row) for row in connection.execute(EXPIRED_LEASES, {"_now": now})]

    def return_expired_lease(self, operation: Operation, now: datetime) -> bool:
        """A worker died (or hung) holding the lease: the operation becomes pending again. The
        attempt counts, and it is marked ambiguous: the request may have reached the platform."""
        with self.engine.begin() as connection:
            return transition(
                connection, operation.id, expected=[S.in_flight], token=operation.lease_token,
                state=S.pending.value, next_attempt_at=now, lease_until=None, lease_token=None, ambiguous=True,
                last_error="the worker stopped while delivering (lease expired)", updated_at=now,
            )  # fmt: skip

    # -- what people settle ---------------------------------------------------------------------------

    def reconcile(self, operation_id: str, now: datetime, *, url: str | None, deadline: timedelta) -> bool:
        """A person settled an operation that ended without success: with ``url`` it was posted
        after all (by the attempt or by hand); without, it goes out again."""
        ended = [S.unknown, S.failed, S.dead]
        with self.engine.begin() as connection:
            if url:
                return transition(
                    connection, operation_id, expected=ended, state=S.succeeded.value, platform_id=url,
                    platform_url=url, last_error=None, ambiguous=False, finished_at=now, updated_at=now,
                )  # fmt: skip
            return transition(
                connection, operation_id, expected=ended, state=S.pending.value, next_attempt_at=now,
                deadline_at=now + deadline, ambiguous=False, finished_at=None, updated_at=now,
            )  # fmt: skip

    def confirm(self, operation_id: str, url: str | None, now: datetime, entry: AuditEntry) -> bool:
        """A person posted a hand-off (at ``url``, if they gave it): succeeded, audited with it."""
        with self.engine.begin() as connection:
            changed = transition(
                connection, operation_id, expected=[S.manual], state=S.succeeded.value, platform_id=url or "by hand",
                platform_url=url, last_error=None, finished_at=now, updated_at=now,
            )  # fmt: skip
            if changed:
                audit.append_in(connection, entry)
            return changed

    def hand_offs_to_alarm(self, handed_before: datetime, limit: int = 100) -> list[Operation]:
        """Warnings handed to a person before ``handed_before``, still unconfirmed, whose people
        have not been told yet."""
        with self.engine.begin() as connection:
            found = connection.execute(HAND_OFFS_TO_ALARM, {"_before": handed_before, "_limit": limit})
            return [Operation.of(row) for row in found]

    def mark_alarmed(self, operation: Operation, now: datetime) -> bool:
        """Remember that people were told (True for the one caller that did it)."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(_ops).where(_ops.c.id == operation.id, _ops.c.alarmed_at.is_(None)).values(alarmed_at=now)
            )
            return bool(changed.rowcount)

    def waiting_for_people(self, authority: str | None = None) -> list[Operation]:
        """Operations only a person can move on: hand-offs to post and confirm, writes the
        platform could not confirm (unknown), and deletions that did not happen (failed or dead:
        the post a withdrawal should have taken down is still up), oldest first."""
        query = (
            select(_ops)
            .where(
                _ops.c.state.in_([S.manual.value, S.unknown.value, S.failed.value, S.dead.value]),
                or_(_ops.c.state.in_([S.manual.value, S.unknown.value]), _ops.c.action == Action.delete.value),
            )
            .order_by(_ops.c.updated_at)
        )
        if authority:
            query = query.where(_ops.c.authority == authority)
        with self.engine.begin() as connection:
            return [Operation.of(row) for row in connection.execute(query)]

    def release(self, operation_id: str, reason: str, now: datetime, deadline: timedelta, entry: AuditEntry) -> bool:
        """Let one waiting operation start now (a person's decision), audited in the same transaction."""
        with self.engine.begin() as connection:
            changed = transition(
                connection, operation_id, expected=[S.waiting], state=S.pending.value, released_at=now,
                release_reason=reason, next_attempt_at=now, deadline_at=now + deadline, updated_at=now,
            )  # fmt: skip
            if changed:
                audit.append_in(connection, entry)
            return changed

    def fail_unreadable(self, error: Unreadable, now: datetime, entry: AuditEntry) -> bool:
        """An announcement that cannot be read can never be delivered: its operations that have
        not ended fail, with the reason, in one transaction with the audit entry. True for the
        one caller that did it (so it is reported once)."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(_ops)
                .where(_ops.c.announcement_id == error.announcement_id, _ops.c.state.in_(OPEN))
                .values(state=S.failed.value, last_error=error.reason[:2000], lease_until=None, lease_token=None,
                        finished_at=now, updated_at=now)
            )  # fmt: skip
            if not changed.rowcount:
                return False
            audit.append_in(connection, entry)
            return True
