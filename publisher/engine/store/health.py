"""Channels that need a person (their credentials were refused), until they work again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from publisher.engine.schema import ChannelHealthRow

_CLEAR = (
    update(ChannelHealthRow)
    .where(
        ChannelHealthRow.authority == bindparam("_authority"),
        ChannelHealthRow.channel == bindparam("_channel"),
        ChannelHealthRow.needs_attention.is_(True),
    )
    .values(needs_attention=False, updated_at=bindparam("_now"))
)


def clear_in(connection: Connection, authority: str, channel: str, now: datetime) -> bool:
    """Clear a channel's flag within the caller's transaction; True if it was flagged."""
    cleared = connection.execute(_CLEAR, {"_authority": authority, "_channel": channel, "_now": now})
    return bool(cleared.rowcount)


class Health:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def mark(self, authority: str, channel: str, reason: str, now: datetime) -> bool:
        """Flag a channel; True only for the one caller that flagged it (so people are told once),
        even when several operations are refused at the same moment."""
        values = {"needs_attention": True, "reason": reason, "since": now, "updated_at": now}
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(ChannelHealthRow), {"authority": authority, "channel": channel, **values})
            return True
        except IntegrityError:
            pass  # the channel has a row already: flag it by compare-and-set
        key = (ChannelHealthRow.authority == authority, ChannelHealthRow.channel == channel)
        with self.engine.begin() as connection:
            flagged = connection.execute(
                update(ChannelHealthRow).where(*key, ChannelHealthRow.needs_attention.is_(False)).values(values)
            )
            if flagged.rowcount:
                return True
            connection.execute(update(ChannelHealthRow).where(*key).values(reason=reason, updated_at=now))
            return False

    def clear(self, authority: str, channel: str, now: datetime) -> bool:
        with self.engine.begin() as connection:
            return clear_in(connection, authority, channel, now)

    def attention(self, authority: str) -> dict[str, str]:
        """Channels of an authority that need a person, with the reason."""
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(ChannelHealthRow.channel, ChannelHealthRow.reason).where(
                    ChannelHealthRow.authority == authority, ChannelHealthRow.needs_attention.is_(True)
                )
            )
            return {row.channel: row.reason or "" for row in rows}
