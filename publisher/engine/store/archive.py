"""The published record as the built-in website shows it (publisher.site.model.Archive): items
with the entries a site channel has published, or is publishing right now, and the copies
elsewhere an item page lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, Table, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from publisher.domain.records import OperationState
from publisher.engine.schema import AnnouncementRow, ItemRow, OperationRow, VariantRow
from publisher.engine.store import documents as stored_documents
from publisher.engine.store.operations import PUBLISHING
from publisher.site.model import Copy, Entry, Item

_ops = cast(Table, OperationRow.__table__)
_ITEM = select(ItemRow.__table__).where(ItemRow.id == bindparam("_item"))
_ITEMS = select(ItemRow.__table__).where(ItemRow.id.in_(bindparam("_items", expanding=True)))
_ITEM_ANNOUNCEMENTS = (
    select(AnnouncementRow.id, AnnouncementRow.item_id, AnnouncementRow.sent_at)
    .where(AnnouncementRow.item_id.in_(bindparam("_items", expanding=True)))
    .order_by(AnnouncementRow.sent_at, AnnouncementRow.received_at, AnnouncementRow.id)
)
_SHOWN = select(_ops.c.announcement_id).where(
    _ops.c.announcement_id.in_(bindparam("_ids", expanding=True)),
    _ops.c.channel == bindparam("_channel"),
    _ops.c.action.in_(PUBLISHING),
    # published, being published right now, or the one this page is written for
    or_(
        _ops.c.state.in_([OperationState.succeeded.value, OperationState.in_flight.value]),
        _ops.c.announcement_id == bindparam("_including"),
    ),
)
_COPIES = (
    select(_ops.c.announcement_id, _ops.c.channel, _ops.c.channel_type, _ops.c.platform_url)
    .where(
        _ops.c.announcement_id.in_(bindparam("_ids", expanding=True)),
        _ops.c.channel != bindparam("_channel"),
        _ops.c.action.in_(PUBLISHING),
        _ops.c.state == OperationState.succeeded.value,
        _ops.c.platform_url.is_not(None),
    )
    .order_by(_ops.c.channel)
)
_VARIANT_TEXTS = select(VariantRow.announcement_id, VariantRow.text).where(
    VariantRow.announcement_id.in_(bindparam("_ids", expanding=True)), VariantRow.channel == bindparam("_channel")
)


class Archive:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
        shown = [OperationState.succeeded.value, OperationState.in_flight.value]
        published = and_(
            OperationRow.channel == channel, OperationRow.state.in_(shown), OperationRow.action.in_(PUBLISHING)
        )
        if including:
            published = or_(published, and_(OperationRow.channel == channel, OperationRow.announcement_id == including))
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
        with Session(self.engine) as session:
            published = (
                select(AnnouncementRow.item_id)
                .join(OperationRow, OperationRow.announcement_id == AnnouncementRow.id)
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
            .join(OperationRow, OperationRow.announcement_id == AnnouncementRow.id)
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
        documents = stored_documents.documents(session, [row.id for row in rows], skip_unreadable=True)
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

    def months(self, authority: str, channel: str, including: str | None = None) -> list[str]:
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(ItemRow.month)
                    .join(AnnouncementRow, AnnouncementRow.item_id == ItemRow.id)
                    .join(OperationRow, OperationRow.announcement_id == AnnouncementRow.id)
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
        documents = stored_documents.documents(connection, ids, skip_unreadable=True)
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
