"""The database: source of truth for announcements, deliveries and the audit log.

Every state change of a delivery is a compare-and-set (``UPDATE … WHERE state = expected``),
so two workers, a retry and a sweep can never both act on one delivery: whoever changes the
row owns the next step. Queues and timers only make things faster; losing them loses nothing.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import structlog
from alembic import command
from alembic.config import Config as AlembicConfig
from pydantic import ValidationError
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import Update

from publisher.core.plan import Step
from publisher.domain.announcement import EFFECTIVE, STORED, Announcement
from publisher.domain.capabilities import ServerLimits
from publisher.domain.problems import InvalidInput, from_validation_error
from publisher.domain.records import AuditEntry, DeliveryState, Receipt, Variant
from publisher.engine.schema import (
    AnnouncementRow,
    AuditRow,
    ChannelHealthRow,
    ChannelLimitsRow,
    DeliveryRow,
    ItemRow,
    NotificationRow,
    TokenRow,
    VariantRow,
)
from publisher.site.model import Copy, Entry, Item

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

log = structlog.get_logger("herold.store")

# The statements every delivery runs, built once with bind parameters: building a statement
# costs more than running it on SQLite, and prebuilt ones hit SQLAlchemy's compiled cache at once.
_deliveries = cast(Table, DeliveryRow.__table__)
_audit_log = cast(Table, AuditRow.__table__)
_AUDIT = insert(_audit_log)
_CLAIM = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("_id"),
        _deliveries.c.state == DeliveryState.pending.value,
        or_(_deliveries.c.next_attempt_at.is_(None), _deliveries.c.next_attempt_at <= bindparam("_now")),
    )
    .values(
        state=DeliveryState.in_flight.value, lease_until=bindparam("_lease_until"), lease_token=bindparam("_token"),
        attempts=_deliveries.c.attempts + 1, updated_at=bindparam("_now"), queued_at=None,
    )
    .returning(*_deliveries.c)
)  # fmt: skip
_DELIVERIES_OF = (
    select(_deliveries)
    .where(_deliveries.c.announcement_id == bindparam("_announcement"))
    .order_by(_deliveries.c.wave, _deliveries.c.channel)
)
_STEPS = (
    select(_deliveries.c.id, _deliveries.c.channel, _deliveries.c.wave, _deliveries.c.state, _deliveries.c.released_at)
    .where(_deliveries.c.announcement_id == bindparam("_announcement"))
    .order_by(_deliveries.c.wave, _deliveries.c.channel)
)
_ANNOUNCEMENT = (
    select(
        AnnouncementRow.id, AnnouncementRow.item_id, AnnouncementRow.authority, AnnouncementRow.source,
        AnnouncementRow.actor, AnnouncementRow.received_at, AnnouncementRow.sent_at,
        AnnouncementRow.override_reason, ItemRow.path,
    )
    .join(ItemRow, ItemRow.id == AnnouncementRow.item_id)
    .where(AnnouncementRow.id == bindparam("_announcement"))
)  # fmt: skip
_VARIANT = select(VariantRow.__table__).where(
    VariantRow.announcement_id == bindparam("_announcement"), VariantRow.channel == bindparam("_channel")
)
_DOCUMENTS = select(AnnouncementRow.id, AnnouncementRow.document).where(
    AnnouncementRow.id.in_(bindparam("_ids", expanding=True))
)
_RELEASE = (
    update(_deliveries)
    .where(_deliveries.c.id == bindparam("_id"), _deliveries.c.state == DeliveryState.waiting.value)
    .values(
        state=DeliveryState.pending.value, released_at=bindparam("_now"), release_reason=bindparam("_reason"),
        next_attempt_at=bindparam("_now"), deadline_at=bindparam("_deadline"), updated_at=bindparam("_now"),
    )
)  # fmt: skip
_CHECK_AGAIN = (
    update(_deliveries)
    .where(
        _deliveries.c.announcement_id == bindparam("_announcement"),
        _deliveries.c.state == DeliveryState.waiting.value,
    )
    .values(next_attempt_at=bindparam("_at"))
)
# What an item page shows (Store._items): read on every page written.
_ITEM = select(ItemRow.__table__).where(ItemRow.id == bindparam("_item"))
_ITEMS = select(ItemRow.__table__).where(ItemRow.id.in_(bindparam("_items", expanding=True)))
_ITEM_ANNOUNCEMENTS = (
    select(AnnouncementRow.id, AnnouncementRow.item_id, AnnouncementRow.sent_at)
    .where(AnnouncementRow.item_id.in_(bindparam("_items", expanding=True)))
    .order_by(AnnouncementRow.sent_at, AnnouncementRow.received_at, AnnouncementRow.id)
)
_SHOWN = select(_deliveries.c.announcement_id).where(
    _deliveries.c.announcement_id.in_(bindparam("_ids", expanding=True)),
    _deliveries.c.channel == bindparam("_channel"),
    # published, being published right now, or the one this page is written for
    or_(
        _deliveries.c.state.in_([DeliveryState.succeeded.value, DeliveryState.in_flight.value]),
        _deliveries.c.announcement_id == bindparam("_including"),
    ),
)
_COPIES = (
    select(_deliveries.c.announcement_id, _deliveries.c.channel, _deliveries.c.channel_type, _deliveries.c.platform_url)
    .where(
        _deliveries.c.announcement_id.in_(bindparam("_ids", expanding=True)),
        _deliveries.c.channel != bindparam("_channel"),
        _deliveries.c.state == DeliveryState.succeeded.value,
        _deliveries.c.platform_url.is_not(None),
    )
    .order_by(_deliveries.c.channel)
)
_VARIANT_TEXTS = select(VariantRow.announcement_id, VariantRow.text).where(
    VariantRow.announcement_id.in_(bindparam("_ids", expanding=True)), VariantRow.channel == bindparam("_channel")
)
_MARK_QUEUED = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("_id"),
        _deliveries.c.state == DeliveryState.pending.value,
        # unchanged since read: whatever puts a delivery back to pending sets a new due time
        _deliveries.c.next_attempt_at == bindparam("_due_at"),
        _deliveries.c.updated_at == bindparam("_updated_at"),
    )
    .values(queued_at=bindparam("_now"))
)
_PINNED_COUNT = select(func.count()).where(
    _deliveries.c.authority == bindparam("_authority"),
    _deliveries.c.channel == bindparam("_channel"),
    _deliveries.c.pinned.is_(True),
)
_CLEAR_ATTENTION = (
    update(ChannelHealthRow)
    .where(
        ChannelHealthRow.authority == bindparam("_authority"),
        ChannelHealthRow.channel == bindparam("_channel"),
        ChannelHealthRow.needs_attention.is_(True),
    )
    .values(needs_attention=False, updated_at=bindparam("_now"))
)


@functools.cache
def _held_statement(columns: tuple[str, ...]) -> Update:
    """Change these columns of a delivery while a claim holds its lease (see Store._held_in)."""
    return (
        update(_deliveries)
        .where(
            _deliveries.c.id == bindparam("_id"),
            _deliveries.c.state == DeliveryState.in_flight.value,
            _deliveries.c.lease_token == bindparam("_token"),
        )
        .values({column: bindparam(f"_{column}") for column in columns})
    )


@dataclass(frozen=True)
class Delivery:
    id: str
    announcement_id: str
    authority: str
    channel: str
    channel_type: str
    kind: str
    wave: int
    state: DeliveryState
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
    last_error: str | None
    ambiguous: bool
    pinned: bool
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: DeliveryRow | Row[Any]) -> Delivery:
        if isinstance(row, Row):
            values = {name: value for name, value in row._mapping.items() if name in _DELIVERY_FIELDS}
        else:
            values = {name: getattr(row, name) for name in _DELIVERY_FIELDS}
        values["state"] = DeliveryState(values["state"])
        return cls(**values)

    @property
    def receipt(self) -> Receipt | None:
        return Receipt(self.platform_id, self.platform_url) if self.platform_id else None


_DELIVERY_FIELDS = frozenset(Delivery.__dataclass_fields__)


@dataclass(frozen=True)
class Completion:
    channel_works_again: bool  # the channel was flagged as needing attention, and is not any more
    steps: list[Step]  # where all of the announcement's deliveries stand, this one succeeded

    @property
    def waiting(self) -> bool:
        """Other deliveries of the announcement still wait for their wave."""
        return any(step.state is DeliveryState.waiting for step in self.steps)


@dataclass(frozen=True)
class StoredAnnouncement:
    id: str
    item_id: str
    item_path: str
    authority: str
    announcement: Announcement
    source: str
    actor: str
    received_at: datetime
    sent_at: datetime
    override_reason: str | None


@dataclass(frozen=True)
class Attempt:
    """A claimed delivery with what its attempt needs, read in the claim's transaction."""

    delivery: Delivery
    stored: StoredAnnouncement
    variant: Variant | None
    steps: list[Step]  # where the announcement's deliveries stand, for a later wave (the wave rule checks them)


@dataclass(frozen=True)
class Release:
    """One waiting delivery to let start, why, and its audit entry."""

    delivery_id: str
    reason: str
    audit: AuditEntry | None = None


@dataclass(frozen=True)
class NewDelivery:
    id: str
    channel: str
    channel_type: str
    wave: int
    state: DeliveryState
    deadline_at: datetime
    check_at: datetime  # when the sweep looks at it if no event has moved it on


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets the web server read while a worker writes; the busy timeout makes writers queue
    # instead of failing when several in-process workers commit at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_documents: dict[str, Announcement] = {}
_documents_lock = threading.Lock()
_reported: set[str] = set()  # unreadable announcements this process has logged already


class Unreadable(Exception):
    """A stored announcement that cannot be read back. Intake never stores one (it reads every
    document back before committing); should one exist anyway (a hand-edited row), it is
    reported and skipped, and never blocks other items, the lists or the site."""

    def __init__(self, announcement_id: str, reason: str) -> None:
        self.announcement_id, self.reason = announcement_id, reason
        super().__init__(f"stored announcement {announcement_id} cannot be read: {reason}")


def _document(announcement_id: str, document: Any) -> Announcement:
    """An announcement as stored. Stored documents never change, so each is validated once per
    process; rendering an archive page then costs no validation at all."""
    with _documents_lock:
        cached = _documents.get(announcement_id)
    if cached is None:
        try:
            cached = Announcement.model_validate(document, context=STORED)
        except ValidationError as error:
            reason = "; ".join(str(problem) for problem in from_validation_error(error)[:3])
            if announcement_id not in _reported:
                if len(_reported) > 10_000:
                    _reported.clear()
                _reported.add(announcement_id)
                log.error("a stored announcement cannot be read; it is skipped", announcement=announcement_id,
                          reason=reason)  # fmt: skip
            raise Unreadable(announcement_id, reason) from None
        with _documents_lock:
            if len(_documents) > 20_000:
                _documents.clear()
            _documents[announcement_id] = cached
    return cached


def readable(announcement: Announcement) -> dict[str, Any]:
    """The document to store for an announcement, read back as every later reader will read it,
    and holding to every rule between its fields: what does not is refused here, inside the
    transaction that would store it (text it keeps from its original is not judged again)."""
    document = announcement.model_dump(mode="json", exclude_none=True)
    try:
        Announcement.model_validate(document, context=EFFECTIVE)
    except ValidationError as error:
        raise InvalidInput(from_validation_error(error)) from None
    return document


def _variant(row: VariantRow) -> Variant:
    return Variant.model_validate(row, from_attributes=True)


# SQLite's words for a moment's trouble; its other operational errors ("no such table") are
# mistakes in the set-up, not outages.
_SQLITE_OUTAGES = ("database is locked", "unable to open database file", "disk i/o error", "database or disk is full")


def database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached or is busy beyond waiting (PostgreSQL down, a connection cut,
    SQLite locked too long): a moment's outage, not a bug. Callers answer "try again"."""
    if isinstance(error, InterfaceError | PoolTimeout):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, OperationalError):
        if type(error.orig).__module__ == "sqlite3":
            return any(words in str(error.orig).lower() for words in _SQLITE_OUTAGES)
        return True  # PostgreSQL (psycopg) raises OperationalError for connections, not for mistakes
    return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        options: dict[str, Any] = {"echo": echo, "future": True}
        if parsed.get_backend_name() == "sqlite":
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                # Every in-process worker, the sweep and the web server hold a connection at once;
                # a pool too small opens and closes connections all the time.
                options.update(pool_size=20, max_overflow=20)
        else:
            options.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(url, **options)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # -- plumbing ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest version (Alembic)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    # -- intake -----------------------------------------------------------------------------

    def add_announcement(
        self,
        *,
        announcement_id: str,
        item_id: str,
        item_path: str | None,
        item_month: str | None,
        announcement: Announcement,
        source: str,
        actor: str,
        now: datetime,
        variants: Iterable[Variant],
        deliveries: Iterable[NewDelivery],
        audit: AuditEntry,
    ) -> None:
        """Store an accepted announcement with its variants and deliveries, all or nothing."""
        with self.engine.begin() as connection:
            if item_path is not None:
                assert item_month is not None, "a new item needs its month"
                connection.execute(insert(ItemRow), {
                    "id": item_id, "authority": announcement.authority, "kind": announcement.kind.value,
                    "path": item_path, "month": item_month, "created_at": now,
                })  # fmt: skip
            connection.execute(insert(AnnouncementRow), {
                "id": announcement_id, "item_id": item_id, "authority": announcement.authority,
                "kind": announcement.kind.value, "msg_type": announcement.msg_type.value,
                "references": announcement.references, "document": readable(announcement), "source": source,
                "actor": actor, "received_at": now, "sent_at": announcement.publish_at or now,
                "expires_at": announcement.expires, "override_reason": None,
            })  # fmt: skip
            rows = [{"announcement_id": announcement_id, **variant.model_dump(mode="json")} for variant in variants]
            if rows:
                connection.execute(insert(VariantRow), rows)
            rows = [
                {
                    "id": delivery.id, "announcement_id": announcement_id, "authority": announcement.authority,
                    "channel": delivery.channel, "channel_type": delivery.channel_type, "kind": announcement.kind.value,
                    "wave": delivery.wave, "state": delivery.state.value, "attempts": 0,
                    "idempotency_key": f"herold-{delivery.id}", "next_attempt_at": delivery.check_at,
                    "deadline_at": delivery.deadline_at, "created_at": now, "updated_at": now, "ambiguous": False,
                    "pinned": False,
                }
                for delivery in deliveries
            ]  # fmt: skip
            if rows:
                connection.execute(insert(DeliveryRow), rows)
            self._audit_in(connection, audit)

    # -- reading ----------------------------------------------------------------------------

    def announcement(self, announcement_id: str) -> StoredAnnouncement | None:
        """One announcement with its item's path: one query, and its document only if not parsed before
        (every task of a delivery starts here)."""
        with self.engine.begin() as connection:
            return self._announcement_in(connection, announcement_id)

    def announcement_with_steps(self, announcement_id: str) -> tuple[StoredAnnouncement, list[Step]] | None:
        """An announcement and where its deliveries stand (what the plan needs), in one reading."""
        with self.engine.begin() as connection:
            stored = self._announcement_in(connection, announcement_id)
            return None if stored is None else (stored, self._steps_in(connection, announcement_id))

    @staticmethod
    def _steps_in(connection: Connection, announcement_id: str) -> list[Step]:
        return [
            Step(row.id, row.channel, row.wave, DeliveryState(row.state), row.released_at)
            for row in connection.execute(_STEPS, {"_announcement": announcement_id})
        ]

    @classmethod
    def _announcement_in(cls, connection: Connection, announcement_id: str) -> StoredAnnouncement | None:
        row = connection.execute(_ANNOUNCEMENT, {"_announcement": announcement_id}).first()
        if row is None:
            return None
        return StoredAnnouncement(
            id=row.id, item_id=row.item_id, item_path=row.path, authority=row.authority,
            announcement=cls._documents(connection, [row.id])[row.id], source=row.source, actor=row.actor,
            received_at=row.received_at, sent_at=row.sent_at, override_reason=row.override_reason,
        )  # fmt: skip

    @staticmethod
    def _stored(row: AnnouncementRow, item: ItemRow) -> StoredAnnouncement:
        return StoredAnnouncement(
            id=row.id,
            item_id=row.item_id,
            item_path=item.path,
            authority=row.authority,
            announcement=_document(row.id, row.document),
            source=row.source,
            actor=row.actor,
            received_at=row.received_at,
            sent_at=row.sent_at,
            override_reason=row.override_reason,
        )

    def thread(self, item_id: str) -> list[StoredAnnouncement]:
        """Every announcement of an item that can be read, oldest first."""
        with self.session() as session:
            item = session.get(ItemRow, item_id)
            if item is None:
                return []
            rows = session.scalars(
                select(AnnouncementRow)
                .where(AnnouncementRow.item_id == item_id)
                .order_by(AnnouncementRow.received_at, AnnouncementRow.id)
            ).all()
            thread = []
            for row in rows:
                try:
                    thread.append(self._stored(row, item))
                except Unreadable:
                    continue  # reported once; the rest of the thread still counts
            return thread

    @staticmethod
    def _variant_in(connection: Connection, announcement_id: str, channel: str) -> Variant | None:
        row = connection.execute(_VARIANT, {"_announcement": announcement_id, "_channel": channel}).first()
        return None if row is None else Variant.model_validate(row._mapping)

    def variants(self, announcement_id: str) -> list[Variant]:
        with self.session() as session:
            rows = session.scalars(
                select(VariantRow).where(VariantRow.announcement_id == announcement_id).order_by(VariantRow.channel)
            )
            return [_variant(row) for row in rows]

    def delivery(self, delivery_id: str) -> Delivery | None:
        with self.session() as session:
            row = session.get(DeliveryRow, delivery_id)
            return Delivery.of(row) if row else None

    def deliveries(self, announcement_id: str) -> list[Delivery]:
        with self.engine.begin() as connection:
            return self._deliveries_in(connection, announcement_id)

    @staticmethod
    def _deliveries_in(connection: Connection, announcement_id: str) -> list[Delivery]:
        return [Delivery.of(row) for row in connection.execute(_DELIVERIES_OF, {"_announcement": announcement_id})]

    def copy_on(self, announcement_id: str, channel: str) -> Delivery | None:
        """The delivery of an announcement on one channel (to reply in its thread)."""
        with self.session() as session:
            row = session.scalars(
                select(DeliveryRow).where(
                    DeliveryRow.announcement_id == announcement_id, DeliveryRow.channel == channel
                )
            ).first()
            return Delivery.of(row) if row else None

    # -- delivery state: compare-and-set only ----------------------------------------------

    def _cas(self, delivery_id: str, expected: Iterable[DeliveryState], **values: Any) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == delivery_id, DeliveryRow.state.in_([s.value for s in expected]))
                .values(**values)
            )
            return bool(result.rowcount)

    def release(
        self, delivery_id: str, reason: str, now: datetime, deadline: timedelta, audit: AuditEntry | None = None
    ) -> bool:
        """Let a waiting delivery start (and audit that, in the same transaction). Its time to keep
        trying runs from here: a channel that waited for its wave (or a person's override) gets the
        whole deadline."""
        return bool(self.release_all(None, [Release(delivery_id, reason, audit)], now, deadline))

    def release_all(
        self,
        announcement_id: str | None,
        releases: Sequence[Release],
        now: datetime,
        deadline: timedelta,
        check_again: datetime | bool | None = False,
    ) -> list[str]:
        """Release waiting deliveries and set when the rest is looked at again (``check_again``:
        a time, None for never, False to leave it), in one transaction. Returns the ids released."""
        released = []
        with self.engine.begin() as connection:
            for release in releases:
                changed = connection.execute(
                    _RELEASE,
                    {"_id": release.delivery_id, "_now": now, "_reason": release.reason, "_deadline": now + deadline},
                )
                if changed.rowcount:
                    released.append(release.delivery_id)
                    if release.audit is not None:
                        self._audit_in(connection, release.audit)
            if check_again is not False and announcement_id is not None:
                assert check_again is not True
                self._check_again_in(connection, announcement_id, check_again)
        return released

    def claim(self, delivery_id: str, now: datetime, lease: timedelta) -> Delivery | None:
        """Take a pending, due delivery for one attempt. None if someone else has it or it is not due."""
        with self.engine.begin() as connection:
            return self._claim_in(connection, delivery_id, now, lease)

    def attempt(self, delivery_id: str, now: datetime, lease: timedelta) -> Attempt | None:
        """Claim a delivery and read what its attempt needs (the announcement, the variant, the
        other deliveries) in the same transaction. None if it cannot be claimed."""
        with self.engine.begin() as connection:
            claimed = self._claim_in(connection, delivery_id, now, lease)
            if claimed is None:
                return None
            stored = self._announcement_in(connection, claimed.announcement_id)
            assert stored is not None, "a delivery always belongs to an announcement (foreign key)"
            return Attempt(
                delivery=claimed,
                stored=stored,
                variant=self._variant_in(connection, claimed.announcement_id, claimed.channel),
                # Only a later wave checks the others (the wave rule, at the last moment).
                steps=self._steps_in(connection, claimed.announcement_id) if claimed.wave > 1 else [],
            )

    @staticmethod
    def _claim_in(connection: Connection, delivery_id: str, now: datetime, lease: timedelta) -> Delivery | None:
        row = connection.execute(
            _CLAIM, {"_id": delivery_id, "_now": now, "_lease_until": now + lease, "_token": secrets.token_hex(16)}
        ).first()
        return Delivery.of(row) if row is not None else None

    def _held(self, claimed: Delivery, **values: Any) -> bool:
        """Change a claimed delivery, but only while this claim still holds its lease: if the lease
        expired and another worker took the delivery over, the late worker changes nothing."""
        with self.engine.begin() as connection:
            return self._held_in(connection, claimed, **values)

    @staticmethod
    def _held_in(connection: Connection, claimed: Delivery, **values: Any) -> bool:
        held = {"_id": claimed.id, "_token": claimed.lease_token}
        if any(isinstance(value, ClauseElement) for value in values.values()):  # e.g. attempts - 1: rare
            statement = _held_statement(()).values(**values)
        else:
            statement = _held_statement(tuple(sorted(values)))
            held |= {f"_{column}": value for column, value in values.items()}
        return bool(connection.execute(statement, held).rowcount)

    def renew(self, claimed: Delivery, now: datetime, lease: timedelta) -> bool:
        """Extend the lease of an attempt that is still running; False if it was lost meanwhile."""
        return self.renew_all([claimed], now, lease)[0]

    def renew_all(self, claims: Sequence[Delivery], now: datetime, lease: timedelta) -> list[bool]:
        """Extend the leases of several running attempts in one transaction (one wait for the
        database, not one per attempt); for each, False if it was lost meanwhile."""
        with self.engine.begin() as connection:
            return [self._held_in(connection, claimed, lease_until=now + lease, updated_at=now) for claimed in claims]

    def postpone(self, claimed: Delivery, at: datetime, reason: str, now: datetime) -> bool:
        """Not an attempt after all (it must wait for another delivery): back to pending, uncounted,
        and the wait does not eat into its time to keep trying."""
        return self._held(
            claimed, state=DeliveryState.pending.value, next_attempt_at=at, lease_until=None, lease_token=None,
            attempts=DeliveryRow.attempts - 1, release_reason=reason, deadline_at=claimed.deadline_at + (at - now),
            updated_at=now,
        )  # fmt: skip

    def expire(self, claimed: Delivery, reason: str, now: datetime) -> bool:
        """Out of time before this claim became an attempt: dead, with the attempts really made."""
        return self._held(
            claimed, state=DeliveryState.dead.value, last_error=reason, attempts=DeliveryRow.attempts - 1,
            lease_until=None, lease_token=None, finished_at=now, updated_at=now,
        )  # fmt: skip

    @staticmethod
    def _succeeded(receipt: Receipt, now: datetime) -> dict[str, Any]:
        return {
            "state": DeliveryState.succeeded.value, "platform_id": receipt.platform_id, "platform_url": receipt.url,
            "lease_until": None, "lease_token": None, "finished_at": now, "updated_at": now, "last_error": None,
            "ambiguous": False,
        }  # fmt: skip

    def succeed(self, claimed: Delivery, receipt: Receipt, now: datetime) -> bool:
        return self._held(claimed, **self._succeeded(receipt, now))

    def complete(self, claimed: Delivery, receipt: Receipt, now: datetime, audit: AuditEntry) -> Completion | None:
        """A delivery succeeded: record it, audit it and clear its channel's attention flag in one
        transaction. None if the lease was lost meanwhile (nothing is written then)."""
        with self.engine.connect() as connection:
            with connection.begin():
                if not self._held_in(connection, claimed, **self._succeeded(receipt, now)):
                    return None
                self._audit_in(connection, audit)
                cleared = self._clear_attention_in(connection, claimed.authority, claimed.channel, now)
            # Read after the commit: two deliveries finishing at once must not each see the other
            # as still running (PostgreSQL shows no uncommitted change), or neither releases the
            # next wave.
            with connection.begin():
                steps = self._steps_in(connection, claimed.announcement_id)
        return Completion(channel_works_again=cleared, steps=steps)

    def record_receipt(self, claimed: Delivery, receipt: Receipt, now: datetime) -> bool:
        """Keep the platform's id as soon as we have it, before anything else can go wrong."""
        return self._held(claimed, platform_id=receipt.platform_id, platform_url=receipt.url, updated_at=now)

    def retry_later(
        self,
        claimed: Delivery,
        error: str,
        at: datetime,
        now: datetime,
        *,
        ambiguous: bool,
        audit: AuditEntry | None = None,
    ) -> bool:
        with self.engine.begin() as connection:
            changed = self._held_in(
                connection,
                claimed,
                state=DeliveryState.pending.value,
                next_attempt_at=at,
                lease_until=None,
                lease_token=None,
                last_error=error,
                ambiguous=ambiguous,
                updated_at=now,
            )
            if changed and audit is not None:
                self._audit_in(connection, audit)
            return changed

    def finish(self, claimed: Delivery, state: DeliveryState, error: str, now: datetime) -> bool:
        return self._held(
            claimed, state=state.value, last_error=error, lease_until=None, lease_token=None, finished_at=now,
            updated_at=now,
        )  # fmt: skip

    def hold(self, claimed: Delivery, now: datetime) -> bool:
        """Put a claimed delivery back to waiting without counting the attempt."""
        return self._held(
            claimed,
            state=DeliveryState.waiting.value,
            lease_until=None,
            lease_token=None,
            attempts=DeliveryRow.attempts - 1,
            released_at=None,
            release_reason=None,
            next_attempt_at=now,
            updated_at=now,
        )

    def set_pinned(self, delivery_id: str, pinned: bool) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(pinned=pinned))

    def check_again(self, announcement_id: str, at: datetime | None) -> None:
        """When the sweep should next look at this announcement's waiting deliveries (None: never)."""
        with self.engine.begin() as connection:
            self._check_again_in(connection, announcement_id, at)

    @staticmethod
    def _check_again_in(connection: Connection, announcement_id: str, at: datetime | None) -> None:
        connection.execute(_CHECK_AGAIN, {"_announcement": announcement_id, "_at": at})

    def checks_due(self, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
        """(announcement id, kind) of announcements with waiting deliveries due for a look."""
        with self.session() as session:
            rows = session.execute(
                select(DeliveryRow.announcement_id, DeliveryRow.kind)
                .where(DeliveryRow.state == DeliveryState.waiting.value, DeliveryRow.next_attempt_at <= now)
                .group_by(DeliveryRow.announcement_id, DeliveryRow.kind)
                .order_by(func.min(DeliveryRow.next_attempt_at))
                .limit(limit)
            ).all()
            return [(row[0], row[1]) for row in rows]

    def fail_unreadable(self, error: Unreadable, now: datetime, audit: AuditEntry) -> bool:
        """An announcement that cannot be read can never be delivered: its deliveries that have
        not ended fail, with the reason, in one transaction with the audit entry. True for the
        one caller that did it (so it is reported once)."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(_deliveries)
                .where(
                    _deliveries.c.announcement_id == error.announcement_id,
                    _deliveries.c.state.in_(
                        [DeliveryState.waiting.value, DeliveryState.pending.value, DeliveryState.in_flight.value]
                    ),
                )
                .values(
                    state=DeliveryState.failed.value, last_error=error.reason[:2000], lease_until=None,
                    lease_token=None, finished_at=now, updated_at=now,
                )
            )  # fmt: skip
            if not changed.rowcount:
                return False
            self._audit_in(connection, audit)
            return True

    def summary(self, announcement_id: str) -> dict[str, Any] | None:
        """What is known of a stored announcement without reading its document (for reporting
        one that cannot be read): its row and its item's path."""
        with self.engine.begin() as connection:
            row = connection.execute(
                select(
                    AnnouncementRow.id, AnnouncementRow.authority, AnnouncementRow.kind, AnnouncementRow.msg_type,
                    AnnouncementRow.references, AnnouncementRow.received_at, AnnouncementRow.document,
                    AnnouncementRow.override_reason, ItemRow.path,
                )
                .join(ItemRow, ItemRow.id == AnnouncementRow.item_id)
                .where(AnnouncementRow.id == announcement_id)
            ).first()  # fmt: skip
            return None if row is None else dict(row._mapping)

    def set_override(self, announcement_id: str, reason: str) -> None:
        with self.session() as session:
            session.execute(
                update(AnnouncementRow).where(AnnouncementRow.id == announcement_id).values(override_reason=reason)
            )

    # -- what the sweep looks at ------------------------------------------------------------

    def due(self, cutoff: datetime, queued_before: datetime | None = None, limit: int = 500) -> list[Delivery]:
        """Pending deliveries due by ``cutoff`` and not queued by the sweep since ``queued_before``
        (default: the cutoff), oldest first (warnings before news). A claim clears the queued mark:
        a retry waits in the database, not in a queue."""
        queued_before = queued_before or cutoff
        with self.session() as session:
            rows = session.scalars(
                select(DeliveryRow)
                .where(
                    DeliveryRow.state == DeliveryState.pending.value, DeliveryRow.next_attempt_at <= cutoff,
                    or_(DeliveryRow.queued_at.is_(None), DeliveryRow.queued_at <= queued_before),
                )
                .order_by(DeliveryRow.kind.desc(), DeliveryRow.next_attempt_at)
                .limit(limit)
            ).all()  # fmt: skip
            return [Delivery.of(row) for row in rows]

    def mark_queued(self, deliveries: Sequence[Delivery], now: datetime) -> None:
        """Remember that the sweep queued these again, so a long queue is not filled with copies.
        Only those unchanged since they were read: one a worker took meanwhile (and maybe put back
        for a retry) must not be marked, or the sweep would skip its retry."""
        if deliveries:
            with self.engine.begin() as connection:
                connection.execute(
                    _MARK_QUEUED,
                    [
                        {"_id": d.id, "_due_at": d.next_attempt_at, "_updated_at": d.updated_at, "_now": now}
                        for d in deliveries
                    ],
                )

    def reconcile(self, delivery_id: str, now: datetime, *, url: str | None, deadline: timedelta) -> bool:
        """A person settled a delivery that ended without success: with ``url`` it was posted
        after all (by the attempt or by hand); without, it goes out again."""
        ended = [DeliveryState.unknown, DeliveryState.failed, DeliveryState.dead]
        if url:
            return self._cas(
                delivery_id, ended, state=DeliveryState.succeeded.value, platform_id=url, platform_url=url,
                last_error=None, ambiguous=False, finished_at=now, updated_at=now,
            )  # fmt: skip
        return self._cas(
            delivery_id, ended, state=DeliveryState.pending.value, next_attempt_at=now, deadline_at=now + deadline,
            ambiguous=False, finished_at=None, updated_at=now,
        )  # fmt: skip

    def expired_leases(self, now: datetime) -> list[Delivery]:
        with self.session() as session:
            rows = session.scalars(
                select(DeliveryRow).where(
                    DeliveryRow.state == DeliveryState.in_flight.value, DeliveryRow.lease_until < now
                )
            ).all()
            return [Delivery.of(row) for row in rows]

    def return_expired_lease(self, delivery_id: str, lease_until: datetime, now: datetime) -> bool:
        """A worker died (or hung) holding the lease: the delivery becomes pending again. The attempt
        counts, and it is marked ambiguous: the request may have reached the platform."""
        with self.session() as session:
            result = session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.id == delivery_id,
                    DeliveryRow.state == DeliveryState.in_flight.value,
                    DeliveryRow.lease_until == lease_until,
                )
                .values(
                    state=DeliveryState.pending.value,
                    next_attempt_at=now,
                    lease_until=None,
                    lease_token=None,
                    ambiguous=True,
                    last_error="the worker stopped while delivering (lease expired)",
                    updated_at=now,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- channels that need a person ----------------------------------------------------------

    def mark_attention(self, authority: str, channel: str, reason: str, now: datetime) -> bool:
        """Flag a channel; True only for the one caller that flagged it (so people are told once),
        even when several deliveries are refused at the same moment."""
        try:
            with self.session() as session:
                session.add(ChannelHealthRow(authority=authority, channel=channel, needs_attention=True,
                                             reason=reason, since=now, updated_at=now))  # fmt: skip
            return True
        except IntegrityError:
            pass  # the channel has a row already: flag it by compare-and-set
        with self.session() as session:
            key = (ChannelHealthRow.authority == authority, ChannelHealthRow.channel == channel)
            flagged = session.execute(
                update(ChannelHealthRow).where(*key, ChannelHealthRow.needs_attention.is_(False))
                .values(needs_attention=True, reason=reason, since=now, updated_at=now)
            )  # fmt: skip
            if flagged.rowcount:  # type: ignore[attr-defined]
                return True
            session.execute(update(ChannelHealthRow).where(*key).values(reason=reason, updated_at=now))
            return False

    def clear_attention(self, authority: str, channel: str, now: datetime) -> bool:
        with self.engine.begin() as connection:
            return self._clear_attention_in(connection, authority, channel, now)

    @staticmethod
    def _clear_attention_in(connection: Connection, authority: str, channel: str, now: datetime) -> bool:
        cleared = connection.execute(_CLEAR_ATTENTION, {"_authority": authority, "_channel": channel, "_now": now})
        return bool(cleared.rowcount)

    def attention(self, authority: str) -> dict[str, str]:
        """Channels of an authority that need a person, with the reason."""
        with self.session() as session:
            rows = session.scalars(
                select(ChannelHealthRow).where(
                    ChannelHealthRow.authority == authority, ChannelHealthRow.needs_attention.is_(True)
                )
            )
            return {row.channel: row.reason or "" for row in rows}

    # -- limits servers announce (kept, so that intake never asks a server) -------------------

    def server_limits(self, authority: str) -> dict[str, ServerLimits]:
        """What each channel's server last said of its limits, by channel id."""
        with self.engine.begin() as connection:
            rows = connection.execute(select(ChannelLimitsRow).where(ChannelLimitsRow.authority == authority))
            return {
                row.channel: ServerLimits(characters=row.characters, pins=row.pins, counts_links_as=row.counts_links_as)
                for row in rows
            }

    def limits_refreshed(self) -> dict[tuple[str, str], datetime]:
        """When each channel's limits were last heard: (authority, channel) -> time."""
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(ChannelLimitsRow.authority, ChannelLimitsRow.channel, ChannelLimitsRow.refreshed_at)
            )
            return {(row.authority, row.channel): row.refreshed_at for row in rows}

    def save_server_limits(self, authority: str, channel: str, limits: ServerLimits, now: datetime) -> None:
        values = {"characters": limits.characters, "pins": limits.pins, "counts_links_as": limits.counts_links_as,
                  "refreshed_at": now}  # fmt: skip
        key = (ChannelLimitsRow.authority == authority, ChannelLimitsRow.channel == channel)
        with self.engine.begin() as connection:
            if connection.execute(update(ChannelLimitsRow).where(*key).values(values)).rowcount:
                return
            try:
                with connection.begin_nested():
                    connection.execute(insert(ChannelLimitsRow), {"authority": authority, "channel": channel, **values})
            except IntegrityError:
                pass  # saved by another process at the same moment: as good as ours

    # -- on-call notifications (an outbox) ---------------------------------------------------

    def add_notifications(self, rows: Iterable[NotificationRow]) -> list[str]:
        """Store notifications not sent before (by dedupe key); returns the ids of new ones."""
        added = []
        for row in rows:
            try:
                with self.session() as session:
                    session.add(row)
                added.append(row.id)
            except IntegrityError:
                continue  # the same alarm for the same contact exists already
        return added

    def claim_notification(self, notification_id: str, now: datetime, lease: timedelta) -> NotificationRow | None:
        with self.session() as session:
            result = session.execute(
                update(NotificationRow)
                .where(
                    NotificationRow.id == notification_id,
                    NotificationRow.state == "pending",
                    NotificationRow.next_attempt_at <= now,
                )
                .values(attempts=NotificationRow.attempts + 1, next_attempt_at=now + lease)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            return session.get(NotificationRow, notification_id)

    def notification_sent(self, notification_id: str, now: datetime) -> None:
        with self.session() as session:
            session.execute(
                update(NotificationRow)
                .where(NotificationRow.id == notification_id)
                .values(state="sent", sent_at=now, last_error=None)
            )

    def notification_failed(self, notification_id: str, error: str, retry_at: datetime | None) -> None:
        with self.session() as session:
            session.execute(
                update(NotificationRow)
                .where(NotificationRow.id == notification_id)
                .values(state="pending" if retry_at else "failed", next_attempt_at=retry_at, last_error=error)
            )

    def notifications(self, authority: str | None = None) -> list[NotificationRow]:
        with self.session() as session:
            query = select(NotificationRow).order_by(NotificationRow.created_at)
            if authority:
                query = query.where(NotificationRow.authority == authority)
            return list(session.scalars(query))

    def notifications_due(self, now: datetime) -> list[str]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(NotificationRow.id).where(
                        NotificationRow.state == "pending", NotificationRow.next_attempt_at <= now
                    )
                )
            )

    # -- pinned copies ------------------------------------------------------------------------

    def pinned(self, item_id: str | None = None) -> list[Delivery]:
        """Copies that are pinned on their platform (of one item, or all)."""
        with self.session() as session:
            query = select(DeliveryRow).where(DeliveryRow.pinned.is_(True))
            if item_id:
                query = query.join(AnnouncementRow, AnnouncementRow.id == DeliveryRow.announcement_id).where(
                    AnnouncementRow.item_id == item_id
                )
            return [Delivery.of(row) for row in session.scalars(query)]

    def pinned_count(self, authority: str, channel: str) -> int:
        """How many of Herold's posts are pinned on one channel."""
        with self.engine.begin() as connection:
            return int(connection.execute(_PINNED_COUNT, {"_authority": authority, "_channel": channel}).scalar_one())

    # -- audit ------------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        with self.engine.begin() as connection:
            self._audit_in(connection, entry)

    @staticmethod
    def _audit_in(connection: Connection, entry: AuditEntry) -> None:
        connection.execute(_AUDIT, {
            "at": entry.at, "authority": entry.authority, "actor": entry.actor, "source": entry.source,
            "action": entry.action, "announcement_id": entry.announcement_id, "delivery_id": entry.delivery_id,
            "detail": entry.detail or {},
        })  # fmt: skip

    def audit_log(self, *, announcement_id: str | None = None, authority: str | None = None) -> list[AuditEntry]:
        with self.session() as session:
            query = select(AuditRow).order_by(AuditRow.id)
            if announcement_id:
                query = query.where(AuditRow.announcement_id == announcement_id)
            if authority:
                query = query.where(AuditRow.authority == authority)
            return [
                AuditEntry(
                    at=row.at,
                    authority=row.authority,
                    actor=row.actor,
                    source=row.source,
                    action=row.action,
                    announcement_id=row.announcement_id,
                    delivery_id=row.delivery_id,
                    detail=row.detail,
                )
                for row in session.scalars(query)
            ]

    # -- API tokens -------------------------------------------------------------------------

    def create_token(self, authority: str, name: str, now: datetime) -> str:
        """A new API token for an authority; only its hash is kept, so it is shown once."""
        token_id = secrets.token_hex(4)
        token = f"hrd_{token_id}_{secrets.token_urlsafe(32)}"
        with self.session() as session:
            session.add(
                TokenRow(
                    id=token_id,
                    authority=authority,
                    name=name,
                    token_hash=hash_token(token),
                    created_at=now,
                )
            )
        return token

    def tokens(self, authority: str | None = None) -> list[TokenRow]:
        with self.session() as session:
            query = select(TokenRow).order_by(TokenRow.created_at)
            if authority:
                query = query.where(TokenRow.authority == authority)
            return list(session.scalars(query))

    def revoke_token(self, token_id: str, now: datetime) -> TokenRow | None:
        with self.session() as session:
            row = session.get(TokenRow, token_id)
            if row is not None and row.revoked_at is None:
                row.revoked_at = now
            return row

    def token_authority(self, token: str) -> tuple[str, str] | None:
        """(authority, token name) for a valid token, None otherwise."""
        with self.session() as session:
            row = session.scalars(
                select(TokenRow).where(TokenRow.token_hash == hash_token(token), TokenRow.revoked_at.is_(None))
            ).first()
            return (row.authority, row.name) if row else None

    # -- the published record, as the website shows it (publisher.site.model.Archive) ---------------

    def item(self, item_id: str, channel: str, including: str | None = None) -> Item | None:
        with self.engine.begin() as connection:
            row = connection.execute(_ITEM, {"_item": item_id}).first()
            if row is None:
                return None
            items = self._items(connection, [row], channel, including)
            return items[0] if items else None

    def _on_site(self, channel: str, including: str | None) -> Any:
        """What a site channel shows: what it published, and what it is publishing right now (so
        that one rebuild of the index and feeds serves every page written meanwhile)."""
        shown = [DeliveryState.succeeded.value, DeliveryState.in_flight.value]
        published = and_(DeliveryRow.channel == channel, DeliveryRow.state.in_(shown))
        if including:
            published = or_(published, and_(DeliveryRow.channel == channel, DeliveryRow.announcement_id == including))
        return published

    def items(
        self,
        authority: str,
        channel: str,
        *,
        month: str | None = None,
        limit: int | None = None,
        kind: str | None = None,
        including: str | None = None,
        detail: bool = True,
    ) -> list[Item]:
        with self.session() as session:
            published = (
                select(AnnouncementRow.item_id)
                .join(DeliveryRow, DeliveryRow.announcement_id == AnnouncementRow.id)
                .where(AnnouncementRow.authority == authority, self._on_site(channel, including))
                .group_by(AnnouncementRow.item_id)
                .order_by(func.max(AnnouncementRow.sent_at).desc())
            )
            if month:
                published = published.join(ItemRow, ItemRow.id == AnnouncementRow.item_id).where(ItemRow.month == month)
            if kind:
                published = published.where(AnnouncementRow.kind == kind)
            if limit:
                published = published.limit(limit)
            if not detail:
                return self._latest_only(session, authority, channel, month, limit, kind, including)
            ids = list(session.scalars(published))
            rows = {row.id: row for row in session.scalars(select(ItemRow).where(ItemRow.id.in_(ids)))}
            return self._items(session, [rows[i] for i in ids], channel, including, detail=detail)

    def _latest_only(
        self,
        session: Session,
        authority: str,
        channel: str,
        month: str | None,
        limit: int | None,
        kind: str | None,
        including: str | None,
    ) -> list[Item]:
        """Items with only their latest shown announcement, in one query: what lists (the index, an
        archive month) need, read on every publication."""
        ranked = (
            select(
                AnnouncementRow.id, AnnouncementRow.item_id, AnnouncementRow.sent_at,
                func.row_number().over(
                    partition_by=AnnouncementRow.item_id,
                    order_by=(AnnouncementRow.sent_at.desc(), AnnouncementRow.received_at.desc(),
                              AnnouncementRow.id.desc()),
                ).label("rank"),
            )
            .join(DeliveryRow, DeliveryRow.announcement_id == AnnouncementRow.id)
            .where(AnnouncementRow.authority == authority, self._on_site(channel, including))
        )  # fmt: skip
        if kind:
            ranked = ranked.where(AnnouncementRow.kind == kind)
        latest = ranked.subquery()
        query = (
            select(latest.c.id, latest.c.item_id, latest.c.sent_at, ItemRow.path, ItemRow.month)
            .join(ItemRow, ItemRow.id == latest.c.item_id)
            .where(latest.c.rank == 1)
            .order_by(latest.c.sent_at.desc())
        )
        if month:
            query = query.where(ItemRow.month == month)
        if limit:
            query = query.limit(limit)
        rows = session.execute(query).all()
        documents = self._documents(session, [row.id for row in rows], skip_unreadable=True)
        unreadable = [row.item_id for row in rows if row.id not in documents]
        # An item whose latest entry cannot be read is listed with the latest one that can.
        fallback: dict[str, Item] = {}
        if unreadable:
            items = session.execute(_ITEMS, {"_items": unreadable}).all()
            fallback = {item.id: item for item in self._items(session, items, channel, including, detail=False)}
        return [
            Item(id=row.item_id, authority=authority, path=row.path, month=row.month,
                 entries=(Entry(id=row.id, announcement=documents[row.id], variant_text="", published=row.sent_at),))
            if row.id in documents
            else replace(fallback[row.item_id], entries=(fallback[row.item_id].latest,))
            for row in rows
            if row.id in documents or row.item_id in fallback
        ]  # fmt: skip

    @staticmethod
    def _documents(
        session: Session | Connection, ids: Sequence[str], *, skip_unreadable: bool = False
    ) -> dict[str, Announcement]:
        """Announcements by id: from the cache, reading the database only for the rest. With
        ``skip_unreadable``, one that cannot be read is left out (lists, pages) instead of raising."""
        with _documents_lock:
            documents = {i: _documents[i] for i in ids if i in _documents}
        missing = [i for i in ids if i not in documents]
        if missing:
            for row in session.execute(_DOCUMENTS, {"_ids": missing}):
                try:
                    documents[row.id] = _document(row.id, row.document)
                except Unreadable:
                    if not skip_unreadable:
                        raise
        return documents

    def months(self, authority: str, channel: str, including: str | None = None) -> list[str]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(ItemRow.month)
                    .join(AnnouncementRow, AnnouncementRow.item_id == ItemRow.id)
                    .join(DeliveryRow, DeliveryRow.announcement_id == AnnouncementRow.id)
                    .where(ItemRow.authority == authority, self._on_site(channel, including))
                    .group_by(ItemRow.month)
                    .order_by(ItemRow.month.desc())
                )
            )

    def _items(
        self,
        connection: Session | Connection,
        rows: Sequence[ItemRow | Row[Any]],
        channel: str,
        including: str | None,
        *,
        detail: bool = True,
    ) -> list[Item]:
        """Items with their entries as ``channel`` shows them. Plain column queries, no ORM objects,
        and documents read only when not parsed before: an archive page reads hundreds of rows on
        every publication."""
        if not rows:
            return []
        announcements = connection.execute(_ITEM_ANNOUNCEMENTS, {"_items": [row.id for row in rows]}).all()
        ids = [a.id for a in announcements]
        documents = self._documents(connection, ids, skip_unreadable=True)
        on_site = set(connection.scalars(_SHOWN, {"_ids": ids, "_channel": channel, "_including": including}))
        copies: dict[str, list[Copy]] = {}
        variants: dict[str, str] = {}
        if detail:
            for d in connection.execute(_COPIES, {"_ids": ids, "_channel": channel}):
                copies.setdefault(d.announcement_id, []).append(Copy(d.channel, d.channel_type, d.platform_url))
            for row in connection.execute(_VARIANT_TEXTS, {"_ids": ids, "_channel": channel}):
                variants[row.announcement_id] = row.text
        entries: dict[str, list[Entry]] = {}
        for a in announcements:
            if a.id in on_site and a.id in documents:
                entries.setdefault(a.item_id, []).append(Entry(
                    id=a.id, announcement=documents[a.id], variant_text=variants.get(a.id, ""),
                    published=a.sent_at, copies=tuple(copies.get(a.id, ())),
                ))  # fmt: skip
        return [
            Item(id=row.id, authority=row.authority, path=row.path, month=row.month, entries=entries[row.id])
            for row in rows
            if row.id in entries
        ]

    def item_row(self, item_id: str) -> ItemRow | None:
        with self.session() as session:
            return session.get(ItemRow, item_id)
