"""The audit log: append-only (the database refuses UPDATE and DELETE on it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Connection, Engine, Table, insert, select

from publisher.domain.records import AuditEntry
from publisher.engine.schema import AuditRow

_audit_log = cast(Table, AuditRow.__table__)
_APPEND = insert(_audit_log)


def row(entry: AuditEntry) -> dict[str, object]:
    return {
        "at": entry.at, "authority": entry.authority, "actor": entry.actor, "source": entry.source,
        "action": entry.action, "announcement_id": entry.announcement_id, "delivery_id": entry.delivery_id,
        "detail": entry.detail or {},
    }  # fmt: skip


def append_in(connection: Connection, *entries: AuditEntry) -> None:
    """Append entries within the caller's transaction: several at once are one statement."""
    if entries:
        connection.execute(_APPEND, [row(entry) for entry in entries])


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, *entries: AuditEntry) -> None:
        with self.engine.begin() as connection:
            append_in(connection, *entries)

    def entries(
        self, *, announcement_id: str | None = None, authority: str | None = None, newest: int | None = None
    ) -> list[AuditEntry]:
        """Oldest first; ``newest``: only that many of the newest, newest first (the log grows forever)."""
        query = select(AuditRow).order_by(AuditRow.id.desc() if newest else AuditRow.id)
        if newest:
            query = query.limit(newest)
        if announcement_id:
            query = query.where(AuditRow.announcement_id == announcement_id)
        if authority:
            query = query.where(AuditRow.authority == authority)
        with self.engine.begin() as connection:
            return [
                AuditEntry(
                    at=r.at, authority=r.authority, actor=r.actor, source=r.source, action=r.action,
                    announcement_id=r.announcement_id, delivery_id=r.delivery_id, detail=r.detail,
                )
                for r in connection.execute(query)
            ]  # fmt: skip


__all__: Sequence[str] = ["AuditLog", "append_in"]
