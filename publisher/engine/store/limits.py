"""Limits servers announce, kept per channel: intake reads them and never asks a server."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from publisher.domain.capabilities import ServerLimits
from publisher.engine.schema import ChannelLimitsRow

_limits = cast(Table, ChannelLimitsRow.__table__)
# Read by every intake: built once.
_OF = select(
    _limits.c.channel, _limits.c.characters, _limits.c.pins, _limits.c.counts_links_as, _limits.c.links_in_full
).where(_limits.c.authority == bindparam("_authority"))


def _limits_of(row: Any) -> ServerLimits:
    return ServerLimits(characters=row.characters, pins=row.pins, counts_links_as=row.counts_links_as,
                        links_in_full=bool(row.links_in_full))  # fmt: skip


class Limits:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def of(self, authority: str) -> dict[str, ServerLimits]:
        """What each channel's server last said of its limits, by channel id."""
        with self.engine.begin() as connection:
            rows = connection.execute(_OF, {"_authority": authority})
            return {row.channel: _limits_of(row) for row in rows}

    def refreshed(self) -> dict[tuple[str, str], datetime]:
        """When each channel's limits were last heard: (authority, channel) -> time."""
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(ChannelLimitsRow.authority, ChannelLimitsRow.channel, ChannelLimitsRow.refreshed_at)
            )
            return {(row.authority, row.channel): row.refreshed_at for row in rows}

    def save(self, authority: str, channel: str, limits: ServerLimits, now: datetime) -> None:
        """What the server announced now; what was learned of it (links_in_full) stays."""
        values = {"characters": limits.characters, "pins": limits.pins, "counts_links_as": limits.counts_links_as,
                  "refreshed_at": now}  # fmt: skip
        self._upsert(authority, channel, values)

    def learn_links_in_full(self, authority: str, channel: str, now: datetime) -> None:
        """The server counts links at their full length: every text from now on is counted so."""
        self._upsert(authority, channel, {"links_in_full": True}, new={"refreshed_at": now})

    def _upsert(self, authority: str, channel: str, values: dict[str, Any], new: dict[str, Any] | None = None) -> None:
        key = (ChannelLimitsRow.authority == authority, ChannelLimitsRow.channel == channel)
        with self.engine.begin() as connection:
            if connection.execute(update(ChannelLimitsRow).where(*key).values(values)).rowcount:
                return
            try:
                with connection.begin_nested():
                    row = {"authority": authority, "channel": channel, **(new or {}), **values}
                    connection.execute(insert(ChannelLimitsRow), row)
            except IntegrityError:
                pass  # saved by another process at the same moment: as good as ours
