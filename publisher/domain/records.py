"""Records Herold keeps about its work: where a delivery stands, where a platform put a post,
what one channel publishes, and what happened (the audit log). Plain data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class DeliveryState(StrEnum):
    """Where a delivery is. It moves only by compare-and-set in the database."""

    waiting = "waiting"  # its wave is not released yet (or the announcement is scheduled)
    pending = "pending"  # may be attempted (at next_attempt_at)
    in_flight = "in_flight"  # a worker holds the lease and is talking to the platform
    succeeded = "succeeded"
    failed = "failed"  # permanently: a person must change something
    dead = "dead"  # ran out of time (deadline per kind) while retrying
    manual = "manual"  # a person posts it by hand
    unknown = "unknown"  # an ambiguous write the platform cannot confirm: a person reconciles

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({DeliveryState.succeeded, DeliveryState.failed, DeliveryState.dead, DeliveryState.unknown})


@dataclass(frozen=True)
class Receipt:
    """Where the platform put a post: its id and address, and whatever else a later reply, edit
    or deletion on that platform needs (``refs``, e.g. a content id beside the record's id)."""

    platform_id: str
    url: str | None = None
    refs: Mapping[str, str] = field(default_factory=dict)


class Variant(BaseModel):
    """What one channel publishes for one announcement."""

    channel: str
    language: str
    text: str
    spoiler: str | None = None
    link: str
    length: int | None = None  # as the channel's platform counts it
    limit: int | None = None
    shortened: tuple[str, ...] = ()  # what was dropped or cut to fit: hashtags, description, area


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    authority: str | None
    actor: str
    source: str
    action: str
    announcement_id: str | None = None
    delivery_id: str | None = None
    detail: dict[str, Any] | None = None
