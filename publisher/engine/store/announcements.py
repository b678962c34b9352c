"""Announcements as stored: accepted whole (with their variants and operations) or not at all,
read back with their item's path."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from publisher.domain.announcement import Announcement
from publisher.domain.records import Action, AuditEntry, OperationState, Stage, Variant
from publisher.engine.schema import AnnouncementRow, ItemRow, OperationRow, VariantRow
from publisher.engine.store import audit, documents
from publisher.engine.store.documents import Unreadable

_operations = cast(Table, OperationRow.__table__)
# The end of the source id of Herold's own all-clear of a warning its system no longer lists.
GONE = "#gone"
# What accepting writes, built once.
_INSERT_ITEM = insert(cast(Table, ItemRow.__table__))
_INSERT_ANNOUNCEMENT = insert(cast(Table, AnnouncementRow.__table__))
_INSERT_VARIANTS = insert(cast(Table, VariantRow.__table__))
_INSERT_OPERATIONS = insert(_operations)
_ANNOUNCEMENT = (
    select(
        AnnouncementRow.id, AnnouncementRow.item_id, AnnouncementRow.authority, AnnouncementRow.source,
        AnnouncementRow.actor, AnnouncementRow.received_at, AnnouncementRow.sent_at,
        AnnouncementRow.override_reason, AnnouncementRow.stage, AnnouncementRow.source_id, ItemRow.path,
        ItemRow.month,
    )
    .join(ItemRow, ItemRow.id == AnnouncementRow.item_id)
    .where(AnnouncementRow.id == bindparam("_announcement"))
)  # fmt: skip


@dataclass(frozen=True)
class StoredAnnouncement:
    id: str
    item_id: str
    item_path: str
    item_month: str  # YYYY-MM of the item's first announcement, in its authority's time zone
    authority: str
    announcement: Announcement
    source: str
    actor: str
    received_at: datetime
    sent_at: datetime
    override_reason: str | None
    stage: Stage = Stage.released
    source_id: str | None = None


class SourceIdTaken(Exception):
    """The source already gave an announcement under this id (another request stored it first)."""

    def __init__(self, announcement_id: str, digest: str | None) -> None:
        super().__init__(announcement_id)
        self.announcement_id, self.digest = announcement_id, digest


@dataclass(frozen=True)
class NewOperation:
    id: str
    channel: str
    channel_type: str
    action: Action
    wave: int
    deadline_at: datetime
    check_at: datetime  # when the sweep looks at it if no event has moved it on
    target_id: str = ""  # the operation it acts on (a pin's publish, an unpin's pin)
    state: OperationState = OperationState.waiting


def _insert_operations(
    connection: Connection,
    announcement_id: str,
    announcement: Announcement,
    operations: Iterable[NewOperation],
    now: datetime,
) -> None:
    rows = [
        {
            "id": new.id, "announcement_id": announcement_id, "authority": announcement.authority,
            "channel": new.channel, "channel_type": new.channel_type, "kind": announcement.kind.value,
            "action": new.action.value, "target_id": new.target_id, "wave": new.wave,
            "state": new.state.value, "attempts": 0, "idempotency_key": f"herold-{new.id}",
            "next_attempt_at": new.check_at, "deadline_at": new.deadline_at, "created_at": now,
            "updated_at": now, "ambiguous": False,
        }
        for new in operations
    ]  # fmt: skip
    if rows:
        connection.execute(_INSERT_OPERATIONS, rows)


def read_in(connection: Connection, announcement_id: str) -> StoredAnnouncement | None:
    """One announcement with its item's path: one query, and its document only if not parsed before."""
    row = connection.execute(_ANNOUNCEMENT, {"_announcement": announcement_id}).first()
    if row is None:
        return None
    return StoredAnnouncement(
        id=row.id, item_id=row.item_id, item_path=row.path, item_month=row.month, authority=row.authority,
        announcement=documents.documents(connection, [row.id])[row.id], source=row.source, actor=row.actor,
        received_at=row.received_at, sent_at=row.sent_at, override_reason=row.override_reason,
        stage=Stage(row.stage), source_id=row.source_id,
    )  # fmt: skip


@dataclass(frozen=True)
class Listed:
    """One announcement in a list: what tells it apart, without its whole document."""

    id: str
    item_id: str
    kind: str
    msg_type: str
    stage: str
    sent_at: datetime
    expires_at: datetime | None
    headline: str


class Announcements:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
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
        operations: Iterable[NewOperation],
        audit_entry: AuditEntry,
        stage: Stage = Stage.released,
        source_id: str | None = None,
        source_digest: str | None = None,
    ) -> None:
        """Store an accepted announcement with its variants and operations, all or nothing.
        Raises SourceIdTaken if the source gave one under ``source_id`` before."""
        document, read_back = documents.read_back(announcement)
        try:
            self._insert(
                announcement_id, item_id, item_path, item_month, announcement, document, source, actor, now,
                variants, operations, audit_entry, stage, source_id, source_digest,
            )  # fmt: skip
        except IntegrityError:
            found = self.by_source(announcement.authority, source, source_id) if source_id else None
            if found is None:
                raise
            raise SourceIdTaken(*found) from None
        documents.remember(announcement_id, read_back)

    def _insert(
        self, announcement_id: str, item_id: str, item_path: str | None, item_month: str | None,
        announcement: Announcement, document: dict[str, Any], source: str, actor: str, now: datetime,
        variants: Iterable[Variant], operations: Iterable[NewOperation], audit_entry: AuditEntry, stage: Stage,
        source_id: str | None, source_digest: str | None,
    ) -> None:  # fmt: skip
        with self.engine.begin() as connection:
            if item_path is not None:
                assert item_month is not None, "a new item needs its month"
                connection.execute(_INSERT_ITEM, {
                    "id": item_id, "authority": announcement.authority, "kind": announcement.kind.value,
                    "path": item_path, "month": item_month, "created_at": now,
                })  # fmt: skip
            connection.execute(_INSERT_ANNOUNCEMENT, {
                "id": announcement_id, "item_id": item_id, "authority": announcement.authority,
                "kind": announcement.kind.value, "msg_type": announcement.msg_type.value,
                "references": announcement.references, "document": document, "source": source,
                "actor": actor, "received_at": now, "sent_at": announcement.publish_at or now, "stage": stage.value,
                "source_id": source_id, "source_digest": source_digest,
                "expires_at": announcement.expires, "override_reason": None,
            })  # fmt: skip
            rows = [{"announcement_id": announcement_id, **variant.model_dump(mode="json")} for variant in variants]
            if rows:
                connection.execute(_INSERT_VARIANTS, rows)
            _insert_operations(connection, announcement_id, announcement, operations, now)
            audit.append_in(connection, audit_entry)

    def by_source(self, authority: str, source: str, source_id: str) -> tuple[str, str | None] | None:
        """The announcement a source gave under its id, with the digest of what it sent then."""
        with self.engine.begin() as connection:
            row = connection.execute(
                select(AnnouncementRow.id, AnnouncementRow.source_digest).where(
                    AnnouncementRow.authority == authority, AnnouncementRow.source == source,
                    AnnouncementRow.source_id == source_id,
                )
            ).first()  # fmt: skip
        return (row.id, row.source_digest) if row else None

    def by_source_identifier(self, authority: str, source: str, identifier: str, *, sender: str = "") -> str | None:
        """The newest announcement of a CAP message with this identifier, whatever its sent
        (MoWaS's references name earlier messages with a made-up sender and sent): one of
        ``sender`` first, then any. Herold's own all-clears ("…#gone") are no sender's message."""
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(AnnouncementRow.id, AnnouncementRow.source_id).where(
                    AnnouncementRow.authority == authority, AnnouncementRow.source == source,
                    AnnouncementRow.source_id.contains(f",{identifier},", autoescape=True),
                    AnnouncementRow.source_id.not_like(f"%{GONE}"),
                ).order_by(AnnouncementRow.received_at.desc()).limit(50)
            ).all()  # fmt: skip
        same: list[str] = [row.id for row in rows if sender and (row.source_id or "").startswith(f"{sender},")]
        found: list[str] = same or [row.id for row in rows]
        return found[0] if found else None

    def change_stage(
        self,
        stored: StoredAnnouncement,
        expected: Iterable[Stage],
        stage: Stage,
        entry: AuditEntry,
        *,
        operations: Iterable[NewOperation] = (),
        now: datetime,
    ) -> bool:
        """Move an announcement on to ``stage`` if it is still in one of ``expected`` (compare and
        set), with the operations that start with it and the audit entry, in one transaction."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(AnnouncementRow)
                .where(AnnouncementRow.id == stored.id, AnnouncementRow.stage.in_([s.value for s in expected]))
                .values(stage=stage.value)
            ).rowcount
            if not changed:
                return False
            _insert_operations(connection, stored.id, stored.announcement, operations, now)
            audit.append_in(connection, entry)
            return True

    def get(self, announcement_id: str) -> StoredAnnouncement | None:
        """One announcement with its item's path (raises Unreadable for a document that cannot be read)."""
        with self.engine.begin() as connection:
            return read_in(connection, announcement_id)

    def thread(self, item_id: str) -> list[StoredAnnouncement]:
        """Every announcement of an item that can be read, oldest first."""
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(AnnouncementRow, ItemRow.path, ItemRow.month)
                .join(ItemRow, ItemRow.id == AnnouncementRow.item_id)
                .where(AnnouncementRow.item_id == item_id)
                .order_by(AnnouncementRow.received_at, AnnouncementRow.id)
            ).all()
        thread = []
        for row in rows:
            try:
                stored = documents.document(row.id, row.document)
            except Unreadable:
                continue  # reported once; the rest of the thread still counts
            thread.append(StoredAnnouncement(
                id=row.id, item_id=row.item_id, item_path=row.path, item_month=row.month, authority=row.authority,
                announcement=stored, source=row.source, actor=row.actor, received_at=row.received_at,
                sent_at=row.sent_at, override_reason=row.override_reason, stage=Stage(row.stage),
                source_id=row.source_id,
            ))  # fmt: skip
        return thread

    def variants(self, announcement_id: str) -> list[Variant]:
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(VariantRow.__table__)
                .where(VariantRow.announcement_id == announcement_id)
                .order_by(VariantRow.channel)
            )
            return [Variant.model_validate(row._mapping) for row in rows]

    def replace_variant(self, announcement_id: str, variant: Variant) -> None:
        """A channel's text made anew (its platform counted otherwise): what goes out, and what
        the status shows, from now on."""
        values = variant.model_dump(mode="json")
        with self.engine.begin() as connection:
            connection.execute(
                update(VariantRow)
                .where(VariantRow.announcement_id == announcement_id, VariantRow.channel == variant.channel)
                .values(values)
            )

    def set_override(self, announcement_id: str, reason: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(AnnouncementRow).where(AnnouncementRow.id == announcement_id).values(override_reason=reason)
            )

    def summary(self, announcement_id: str) -> dict[str, Any] | None:
        """What is known of a stored announcement without reading its document (for reporting
        one that cannot be read): its row and its item's path."""
        with self.engine.begin() as connection:
            row = connection.execute(
                select(
                    AnnouncementRow.id, AnnouncementRow.authority, AnnouncementRow.kind, AnnouncementRow.msg_type,
                    AnnouncementRow.references, AnnouncementRow.received_at, AnnouncementRow.document,
                    AnnouncementRow.override_reason, ItemRow.path, ItemRow.month,
                )
                .join(ItemRow, ItemRow.id == AnnouncementRow.item_id)
                .where(AnnouncementRow.id == announcement_id)
            ).first()  # fmt: skip
            return None if row is None else dict(row._mapping)

    def resolve(self, given: str, authority: str | None = None) -> list[str]:
        """The announcement ids ``given`` stands for: itself, or every id it begins (a short id, as
        `herold list` shows the first 8 characters). Empty: none; more than one: ambiguous."""
        given = given.strip().lower()
        if not given or len(given) > 36 or any(c not in "0123456789abcdef-" for c in given):
            return []
        query = select(AnnouncementRow.id).where(AnnouncementRow.id.startswith(given, autoescape=True)).limit(5)
        if authority:
            query = query.where(AnnouncementRow.authority == authority)
        with self.engine.begin() as connection:
            return list(connection.execute(query).scalars())

    def listed(
        self,
        authority: str,
        *,
        kind: str | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
        stages: Iterable[Stage] | None = None,
    ) -> list[Listed]:
        """The authority's announcements, newest first, each with its headline (not parsed as a document)."""
        query = (
            select(AnnouncementRow.id, AnnouncementRow.item_id, AnnouncementRow.kind, AnnouncementRow.msg_type,
                   AnnouncementRow.stage, AnnouncementRow.sent_at, AnnouncementRow.expires_at,
                   AnnouncementRow.document)
            .where(AnnouncementRow.authority == authority)
            .order_by(AnnouncementRow.sent_at.desc(), AnnouncementRow.id)
            .limit(limit)
        )  # fmt: skip
        if kind:
            query = query.where(AnnouncementRow.kind == kind)
        if since:
            query = query.where(AnnouncementRow.sent_at >= since)
        if stages is not None:
            query = query.where(AnnouncementRow.stage.in_([s.value for s in stages]))
        with self.engine.begin() as connection:
            rows = connection.execute(query).all()
        return [
            Listed(id=row.id, item_id=row.item_id, kind=row.kind, msg_type=row.msg_type, stage=row.stage,
                   sent_at=row.sent_at, expires_at=row.expires_at,
                   headline=str(row.document.get("headline", "")) if isinstance(row.document, dict) else "")
            for row in rows
        ]  # fmt: skip

    def in_stages(self, stages: Iterable[Stage], authority: str | None = None) -> list[tuple[str, str, str, str]]:
        """(id, authority, stage, headline) of the announcements in these stages, oldest first."""
        query = (
            select(AnnouncementRow.id, AnnouncementRow.authority, AnnouncementRow.stage, AnnouncementRow.document)
            .where(AnnouncementRow.stage.in_([s.value for s in stages]))
            .order_by(AnnouncementRow.received_at)
        )
        if authority:
            query = query.where(AnnouncementRow.authority == authority)
        with self.engine.begin() as connection:
            rows = connection.execute(query).all()
        return [
            (row.id, row.authority, row.stage,
             str(row.document.get("headline", "")) if isinstance(row.document, dict) else "")
            for row in rows
        ]  # fmt: skip
