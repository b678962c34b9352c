"""Retention: what Herold keeps only as long as it helps someone fix a failure.

Delivery error texts are platform answers: useful while a person looks into a failed delivery, data
to avoid after that. On-call alarms repeat them and name the contacts. Both go after the retention
period (``retention_days``), counted from when the delivery ended or the alarm was sent; so do the
web app's form drafts, and its sessions a day after their last use. What was published, the
announcements themselves and the audit log stay: they are the authority's record. Raw inbound
payloads from warning systems belong here as well, once a source keeps any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, update

from publisher.domain.records import FINAL_STATES, OperationState
from publisher.engine.schema import FormDraftRow, NotificationRow, OperationRow, SessionRow


@dataclass(frozen=True)
class Forgotten:
    """What one sweep deleted."""

    error_texts: int = 0
    alarms: int = 0
    drafts: int = 0  # the web app's form drafts (what was typed; the announcements stay)
    sessions: int = 0

    def __bool__(self) -> bool:
        return bool(self.error_texts or self.alarms or self.drafts or self.sessions)


SESSIONS_KEPT = timedelta(days=1)  # after its last use; no session lives that long anyway


class Retention:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def forget(self, before: datetime, days: float = 30) -> Forgotten:
        """Delete what ended before ``before``: error texts of finished deliveries, and alarms
        that were sent or given up. Work still going on keeps its error (a person may need it).
        A delivery that ended without success keeps a line saying the text went, so that whoever
        settles it later is not shown an empty reason."""
        unsuccessful = [state.value for state in FINAL_STATES if state not in {OperationState.succeeded,
                                                                                OperationState.skipped}]  # fmt: skip
        ended = (OperationRow.finished_at < before, OperationRow.last_error.is_not(None))
        note = f"(the platform's answer was deleted {days:g} days after the delivery ended: retention)"
        with self.engine.begin() as connection:
            errors = (
                connection.execute(
                    update(OperationRow)
                    .where(
                        OperationRow.state.in_([OperationState.succeeded.value, OperationState.skipped.value]), *ended
                    )
                    .values(last_error=None)
                ).rowcount
                or 0
            )
            errors += (
                connection.execute(
                    update(OperationRow)
                    .where(OperationRow.state.in_(unsuccessful), OperationRow.last_error != note, *ended)
                    .values(last_error=note)
                ).rowcount
                or 0
            )
            alarms = connection.execute(
                delete(NotificationRow).where(
                    NotificationRow.state.in_(["sent", "failed"]), NotificationRow.created_at < before
                )
            ).rowcount
            # What a person typed into the form is kept as long as error texts are; an ended
            # session is worth nothing once the day is over.
            drafts = connection.execute(delete(FormDraftRow).where(FormDraftRow.updated_at < before)).rowcount
            sessions = connection.execute(
                delete(SessionRow).where(SessionRow.seen_at < before + timedelta(days=days) - SESSIONS_KEPT)
            ).rowcount
        return Forgotten(error_texts=errors, alarms=alarms or 0, drafts=drafts or 0, sessions=sessions or 0)
