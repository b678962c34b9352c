"""The sweep's first look: is anything due at all?

The sweep (every half second in-process) looks for six kinds of work: leases that expired,
operations due, waiting operations due for a look, notifications to send again, pins whose
warning expired, hand-offs nobody confirmed. One statement asks all six whether they would find
anything, each by its index; the sweep then reads only the kinds that would. An idle process
asks the database once per tick, not six times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from publisher.engine.store import notifications, operations


@dataclass(frozen=True)
class Due:
    leases: bool  # in-flight operations whose lease expired
    deliveries: bool  # pending operations due (and not queued since the cut-off for queueing again)
    checks: bool  # waiting operations due for a look
    notifications: bool  # notifications to send (again)
    unpins: bool  # pinned warnings that expired
    hand_offs: bool  # warnings handed to a person and not confirmed in time


_LOOK = select(
    operations.EXPIRED_LEASES.exists().label("leases"),
    operations.DUE.exists().label("deliveries"),
    operations.CHECKS_DUE.exists().label("checks"),
    notifications.DUE.exists().label("notifications"),
    operations.UNPINS_DUE.exists().label("unpins"),
    operations.HAND_OFFS_TO_ALARM.exists().label("hand_offs"),
)


class DueWork:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def look(self, now: datetime, cutoff: datetime, queued_before: datetime, handed_before: datetime) -> Due:
        """What the sweep's statements would find, given the same moments: ``now`` (leases, pins),
        ``cutoff`` (due work, checks, notifications), ``queued_before`` (queued again after),
        ``handed_before`` (hand-offs)."""
        parameters = {"_now": now, "_cutoff": cutoff, "_queued_before": queued_before, "_before": handed_before,
                      "_limit": 1}  # fmt: skip
        with self.engine.begin() as connection:
            row = connection.execute(_LOOK, parameters).one()
        return Due(*(bool(value) for value in row))
