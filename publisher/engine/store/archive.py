"""What the engine reads to tell the built-in website what it has published and which copies
exist elsewhere (the site keeps its own record of both: publisher.site.record)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, bindparam, exists, select

from publisher.domain.records import Action, OperationState
from publisher.engine.schema import AnnouncementRow, ItemRow, OperationRow, VariantRow
from publisher.engine.store import documents as stored_documents
from publisher.engine.store.operations import POSTS, PUBLISHING, among
from publisher.site.model import Copy, Entry, ItemCopies, Publication, Published

_ops = cast(Table, OperationRow.__table__)
Copies = dict[str, dict[str, list[Copy]]]  # item id -> announcement id -> its copies elsewhere

_deletion = _ops.alias("deletion")
# A post a withdrawal deleted is no copy any more (found through the index on target_id).
_DELETED = (
    exists()
    .where(_deletion.c.target_id == _ops.c.id, _deletion.c.action == Action.delete.value,
           _deletion.c.state == OperationState.succeeded.value)
)  # fmt: skip

_COPIES = (
    select(
        AnnouncementRow.item_id,
        _ops.c.announcement_id,
        _ops.c.channel,
        _ops.c.channel_type,
        _ops.c.platform_url,
        _DELETED.label("deleted"),
    )
    .join(AnnouncementRow, AnnouncementRow.id == _ops.c.announcement_id)
    .where(
        among(_ops.c.action, POSTS),  # an edit or deletion acts on a post: it is no copy of its own
        _ops.c.state == OperationState.succeeded.value,
        _ops.c.platform_url.is_not(None),
        _ops.c.channel_type.not_in(bindparam("_sites", expanding=True)),
    )
    .order_by(_ops.c.channel)
)
# One item's publishing operations, found through its announcements (their indexes): which of
# them are copies elsewhere is decided in Python, since a condition on their state would let
# SQLite read every finished operation through the state index instead.
_ITEM = cast(Table, ItemRow.__table__)
_OF_ITEM = (
    select(
        _ITEM.c.authority, _ops.c.announcement_id, _ops.c.channel, _ops.c.channel_type, _ops.c.platform_url,
        _ops.c.state, _DELETED.label("deleted"),
    )
    .select_from(
        _ITEM.outerjoin(AnnouncementRow, AnnouncementRow.item_id == _ITEM.c.id)
        .outerjoin(_ops, and_(_ops.c.announcement_id == AnnouncementRow.id, among(_ops.c.action, POSTS)))
    )
    .where(_ITEM.c.id == bindparam("_item"))
    .order_by(_ops.c.channel)
)  # fmt: skip
_PUBLISHED = (
    select(
        AnnouncementRow.id, AnnouncementRow.item_id, AnnouncementRow.sent_at, AnnouncementRow.document,
        ItemRow.path, ItemRow.month, VariantRow.text, _ops.c.state,
    )
    .join(_ops, _ops.c.announcement_id == AnnouncementRow.id)
    .join(ItemRow, ItemRow.id == AnnouncementRow.item_id)
    .outerjoin(VariantRow, (VariantRow.announcement_id == AnnouncementRow.id) & (VariantRow.channel == _ops.c.channel))
    .where(
        AnnouncementRow.authority == bindparam("_authority"), _ops.c.channel == bindparam("_channel"),
        among(_ops.c.action, PUBLISHING),
        # In flight too: the site may have published one whose success is not recorded yet.
        _ops.c.state.in_([OperationState.succeeded.value, OperationState.in_flight.value]),
    )
    .order_by(ItemRow.created_at, ItemRow.id, AnnouncementRow.sent_at, AnnouncementRow.received_at, AnnouncementRow.id)
)  # fmt: skip


class Archive:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def item_copies(self, item_id: str, sites: tuple[str, ...]) -> tuple[str | None, ItemCopies]:
        """An item's authority (None if there is no such item), the copies of its announcements on
        channels other than sites (of the types ``sites``), by announcement id, and the addresses
        of its copies deleted since, in one statement."""
        with self.engine.begin() as connection:
            rows = connection.execute(_OF_ITEM, {"_item": item_id}).all()
        if not rows:
            return None, ItemCopies({})
        found: dict[str, list[Copy]] = {}
        deleted: set[str] = set()
        for row in rows:
            if row.platform_url is None or row.channel_type in sites:
                continue
            if row.deleted:
                deleted.add(row.platform_url)
            elif row.state == OperationState.succeeded.value:
                found.setdefault(row.announcement_id, []).append(Copy(row.channel, row.channel_type, row.platform_url))
        return rows[0].authority, ItemCopies(found, frozenset(deleted))

    def published(self, authority: str, channel: str, sites: tuple[str, ...]) -> Published:
        """Everything a site channel has published, in the order its items arrived, with the copies
        elsewhere, by item the addresses of those deleted, and what it is publishing right now:
        what the site needs to start its record afresh. Announcements that cannot be read are left
        out (reported once)."""
        with self.engine.begin() as connection:
            rows = connection.execute(_PUBLISHED, {"_authority": authority, "_channel": channel}).all()
            found = stored_documents.documents(connection, [row.id for row in rows], skip_unreadable=True)
            copies = connection.execute(
                _COPIES.where(AnnouncementRow.authority == authority), {"_sites": list(sites)}
            )  # fmt: skip
            by_item, deleted = _copies(copies)
        publications = [
            Publication(item_id=row.item_id, item_path=row.path, item_month=row.month, entry=Entry(
                id=row.id, announcement=found[row.id], variant_text=row.text or "", published=row.sent_at,
            ))
            for row in rows
            if row.id in found
        ]  # fmt: skip
        under_way = frozenset(row.id for row in rows if row.state == OperationState.in_flight.value and row.id in found)
        return Published(publications, by_item, deleted, under_way)


def _copies(rows: Iterable[Any]) -> tuple[Copies, dict[str, set[str]]]:
    found: Copies = {}
    deleted: dict[str, set[str]] = {}
    for row in rows:
        if row.deleted:
            deleted.setdefault(row.item_id, set()).add(row.platform_url)
            continue
        found.setdefault(row.item_id, {}).setdefault(row.announcement_id, []).append(
            Copy(row.channel, row.channel_type, row.platform_url)
        )
    return found, deleted
