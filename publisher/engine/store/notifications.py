"""On-call notifications, kept until they are sent (an outbox)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from publisher.engine.schema import NotificationRow

# The sweep asks every half second: built once (publisher.engine.store.due asks it too).
DUE = select(NotificationRow.id).where(
    NotificationRow.state == "pending", NotificationRow.next_attempt_at <= bindparam("_cutoff")
)


class Notifications:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, rows: Iterable[NotificationRow]) -> list[str]:
        """Store notifications not sent before (by dedupe key); returns the ids of new ones."""
        added = []
        for row in rows:
            try:
                with self._sessions.begin() as session:
                    session.add(row)
                added.append(row.id)
            except IntegrityError:
                continue  # the same alarm for the same contact exists already
        return added

    def claim(self, notification_id: str, now: datetime, lease: timedelta) -> NotificationRow | None:
        with self._sessions.begin() as session:
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

    def sent(self, notification_id: str, now: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(NotificationRow)
                .where(NotificationRow.id == notification_id)
                .values(state="sent", sent_at=now, last_error=None)
            )

    def failed(self, notification_id: str, error: str, retry_at: datetime | None) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(NotificationRow)
                .where(NotificationRow.id == notification_id)
                .values(state="pending" if retry_at else "failed", next_attempt_at=retry_at, last_error=error)
            )

    def all(self, authority: str | None = None) -> list[NotificationRow]:
        query = select(NotificationRow).order_by(NotificationRow.created_at)
        if authority:
            query = query.where(NotificationRow.authority == authority)
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query))

    def due(self, now: datetime) -> list[str]:
        with self.engine.begin() as connection:
            return list(connection.scalars(DUE, {"_cutoff": now}))
