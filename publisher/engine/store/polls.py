"""Polled warning systems' state: per polled list, when its next round is due and what its server
last said of its version; per listed warning, the last message relayed for it.

Rounds are claimed by compare-and-set on ``next_at``, so that two processes (or a restarted
one) never poll the same list in the same round. A warning's row is written after its message
was relayed: relaying is idempotent per message, so a crash in between costs a repeat that
lands on the same announcement, never a second one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from publisher.domain.polling import Tracked
from publisher.engine.schema import PollFeedRow, PollWarningRow

ERROR_LENGTH = 300


@dataclass(frozen=True)
class PolledList:
    """One polled list's state."""

    address: str
    next_at: datetime
    polled_at: datetime | None
    succeeded_at: datetime | None
    failures: int
    last_error: str | None
    etag: str | None
    last_modified: str | None


def _feed_key(authority: str, integration: str) -> tuple[Any, ...]:
    return (PollFeedRow.authority == authority, PollFeedRow.integration == integration)


def _warnings_of(authority: str, integration: str) -> tuple[Any, ...]:
    return (PollWarningRow.authority == authority, PollWarningRow.integration == integration)


class Polls:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- rounds ---------------------------------------------------------------------------------

    def claim(self, authority: str, integration: str, address: str, now: datetime, hold: timedelta) -> bool:
        """Take the list's round if it is due: True for one caller only. Its next round is put
        ``hold`` ahead (a round's longest time), so a process that dies in it delays the next
        one by that much at most; `release` sets the real time when the round is over."""
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(PollFeedRow).where(*_feed_key(authority, integration), PollFeedRow.next_at <= now)
                .values(next_at=now + hold)
            ).rowcount  # fmt: skip
            if taken:
                return True
            try:
                with connection.begin_nested():
                    connection.execute(insert(PollFeedRow), {
                        "authority": authority, "integration": integration, "address": address,
                        "next_at": now + hold, "failures": 0,
                    })  # fmt: skip
            except IntegrityError:
                return False  # it has a row: not due, or another process took the round
            return True

    def release(self, authority: str, integration: str, next_at: datetime) -> None:
        """The round is over: the next is due at ``next_at``."""
        with self.engine.begin() as connection:
            connection.execute(update(PollFeedRow).where(*_feed_key(authority, integration)).values(next_at=next_at))

    def begin(self, authority: str, integration: str, address: str, now: datetime) -> tuple[PolledList, bool]:
        """A round starts: the list's state, and whether its address is another than before
        (then what was tracked of the old list is forgotten: its warnings did not end, they
        are no longer the authority's to follow)."""
        with self.engine.begin() as connection:
            known = self._feed(connection, authority, integration)
            moved = known is not None and known.address != address
            if known is None:
                try:
                    with connection.begin_nested():
                        connection.execute(insert(PollFeedRow), {
                            "authority": authority, "integration": integration, "address": address,
                            "next_at": now, "failures": 0,
                        })  # fmt: skip
                except IntegrityError:
                    pass  # made by another process a moment ago
            elif moved:
                connection.execute(delete(PollWarningRow).where(*_warnings_of(authority, integration)))
                connection.execute(
                    update(PollFeedRow).where(*_feed_key(authority, integration))
                    .values(address=address, etag=None, last_modified=None)
                )  # fmt: skip
            connection.execute(update(PollFeedRow).where(*_feed_key(authority, integration)).values(polled_at=now))
            state = self._feed(connection, authority, integration)
        assert state is not None
        return state, moved

    def heard(self, authority: str, integration: str, now: datetime, *, etag: str | None,
              last_modified: str | None) -> None:  # fmt: skip
        """The list was read. ``etag`` and ``last_modified`` are kept for the next round's
        conditional GET (None: ask unconditionally next time)."""
        values = {"succeeded_at": now, "failures": 0, "last_error": None, "etag": etag and etag[:300],
                  "last_modified": last_modified and last_modified[:100]}  # fmt: skip
        with self.engine.begin() as connection:
            connection.execute(update(PollFeedRow).where(*_feed_key(authority, integration)).values(values))

    def failed(self, authority: str, integration: str, error: str) -> None:
        """The list could not be read (the etag stays: the list we took in has not changed)."""
        with self.engine.begin() as connection:
            connection.execute(
                update(PollFeedRow).where(*_feed_key(authority, integration))
                .values(failures=PollFeedRow.failures + 1, last_error=error[:ERROR_LENGTH])
            )  # fmt: skip

    def feed(self, authority: str, integration: str) -> PolledList | None:
        with self.engine.begin() as connection:
            return self._feed(connection, authority, integration)

    @staticmethod
    def _feed(connection: Connection, authority: str, integration: str) -> PolledList | None:
        row = connection.execute(select(PollFeedRow.__table__).where(*_feed_key(authority, integration))).first()
        if row is None:
            return None
        return PolledList(address=row.address, next_at=row.next_at, polled_at=row.polled_at,
                          succeeded_at=row.succeeded_at, failures=row.failures, last_error=row.last_error,
                          etag=row.etag, last_modified=row.last_modified)  # fmt: skip

    # -- listed warnings ----------------------------------------------------------------------------

    def warnings(self, authority: str, integration: str) -> dict[str, Tracked]:
        with self.engine.begin() as connection:
            rows = connection.execute(select(PollWarningRow.__table__).where(*_warnings_of(authority, integration)))
            return {
                row.key: Tracked(key=row.key, version=row.version, source_id=row.source_id, item_id=row.item_id,
                                 ended=row.ended, missing=row.missing, refused=row.refused)
                for row in rows
            }  # fmt: skip

    def listed(self, authority: str, integration: str, keys: Collection[str], now: datetime, *,
               count_missing: bool = True) -> None:  # fmt: skip
        """A listing showed ``keys``: those are listed. ``count_missing``: the listing was read
        whole, so every other warning not yet ended has been missed once more."""
        scope = _warnings_of(authority, integration)
        with self.engine.begin() as connection:
            if keys:
                connection.execute(
                    update(PollWarningRow).where(*scope, PollWarningRow.key.in_(list(keys)))
                    .values(missing=0, seen_at=now)
                )  # fmt: skip
            if count_missing:
                connection.execute(
                    update(PollWarningRow).where(*scope, PollWarningRow.key.not_in(list(keys)),
                                                 PollWarningRow.ended.is_(False))
                    .values(missing=PollWarningRow.missing + 1)
                )  # fmt: skip

    def relayed(self, authority: str, integration: str, key: str, now: datetime, *, version: str,
                source_id: str, item_id: str | None, ended: bool) -> None:  # fmt: skip
        """The warning's ``version`` was relayed as the message ``source_id``."""
        values = {"version": version, "source_id": source_id, "item_id": item_id, "ended": ended, "refused": None,
                  "missing": 0, "seen_at": now, "changed_at": now}  # fmt: skip
        self._upsert(authority, integration, key, values)

    def refused(self, authority: str, integration: str, key: str, now: datetime, *, version: str,
                reason: str) -> None:  # fmt: skip
        """The warning's ``version`` will not be relayed (it is not tried again until it changes);
        what was relayed of it before stays."""
        values = {"version": version, "refused": reason[:ERROR_LENGTH], "missing": 0, "seen_at": now,
                  "changed_at": now}  # fmt: skip
        self._upsert(authority, integration, key, values)

    def ended(self, authority: str, integration: str, key: str, now: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(PollWarningRow).where(*_warnings_of(authority, integration), PollWarningRow.key == key)
                .values(ended=True, changed_at=now)
            )  # fmt: skip

    def forget(self, authority: str, integration: str, *, unseen_since: datetime, ended_only: bool) -> int:
        """Forget warnings no listing has shown since ``unseen_since`` (``ended_only``: of
        those, the ones that have ended; a list whose entries end by expiring, not by leaving
        it, passes False); how many. One that shows up again is relayed again, as the same
        message: the same announcement."""
        where = (*_warnings_of(authority, integration), PollWarningRow.seen_at < unseen_since)
        if ended_only:
            where = (*where, PollWarningRow.ended.is_(True))
        with self.engine.begin() as connection:
            return connection.execute(delete(PollWarningRow).where(*where)).rowcount

    def _upsert(self, authority: str, integration: str, key: str, values: dict[str, Any]) -> None:
        where = (*_warnings_of(authority, integration), PollWarningRow.key == key)
        with self.engine.begin() as connection:
            if connection.execute(update(PollWarningRow).where(*where).values(values)).rowcount:
                return
            try:
                with connection.begin_nested():
                    row = {"authority": authority, "integration": integration, "key": key, "ended": False, **values}
                    connection.execute(insert(PollWarningRow), row)
            except IntegrityError:
                # Written by another process at the same moment, for the same listing: retry ours.
                connection.execute(update(PollWarningRow).where(*where).values(values))
