"""Records Herold keeps about its work: where a delivery stands, where a platform put a post,
what one channel publishes, and what happened (the audit log). Plain data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class Stage(StrEnum):
    """Where an announcement is before and as it goes out. Each step is audited."""

    draft = "draft"  # written, not yet asked to go out
    awaiting_approval = "awaiting_approval"  # a second person must approve it
    scheduled = "scheduled"  # approved, waiting for its publish_at
    released = "released"  # handed to the engine (or, for one not actual, kept: it is never delivered)
    rejected = "rejected"  # sent back by an approver: never published (it stays, with the reason, for the record)

    @property
    def out(self) -> bool:
        """Whether it is on its way out (or out): what follows it must take it into account."""
        return self in {Stage.scheduled, Stage.released}

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Role(StrEnum):
    """What a person or an API token may do for its authority (the web app's users get the same)."""

    editor = "editor"  # writes announcements
    approver = "approver"  # also approves and publishes, and may override the privacy guard with a reason
    admin = "admin"  # also manages users and tokens

    @property
    def may_override_privacy(self) -> bool:
        return self in {Role.approver, Role.admin}


@dataclass(frozen=True)
class PrivacyOverride:
    """Publish although the privacy guard found personal data: who decided, in what role, and why."""

    reason: str
    role: Role


class Action(StrEnum):
    """What an operation does on its channel."""

    publish = "publish"  # a new post (an alert, or a follow-up where the platform has no threads)
    reply = "reply"  # a follow-up in the thread of the earlier post
    hand_off = "hand_off"  # a person posts the prepared text, and confirms it
    edit = "edit"  # a correction, in place
    delete = "delete"  # a withdrawal, where the platform lets posts be deleted
    pin = "pin"  # an active warning on top of the account's profile
    unpin = "unpin"  # off the top again: all-clear, withdrawal or expiry

    @property
    def publishes(self) -> bool:
        """Whether it puts (or changes) the announcement on the channel: what the waves order."""
        return self not in {Action.pin, Action.unpin}


class OperationState(StrEnum):
    """Where an operation is. It moves only by compare-and-set in the database."""

    waiting = "waiting"  # its wave is not released yet (or the announcement is scheduled)
    pending = "pending"  # may be attempted (at next_attempt_at)
    in_flight = "in_flight"  # a worker holds the lease and is talking to the platform
    succeeded = "succeeded"
    failed = "failed"  # permanently: a person must change something
    dead = "dead"  # ran out of time (deadline per kind) while retrying
    manual = "manual"  # a person posts it by hand
    unknown = "unknown"  # an ambiguous write the platform cannot confirm: a person reconciles
    skipped = "skipped"  # its reason went away (a pin beyond the platform's limit, for a post that never went out)

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {OperationState.succeeded, OperationState.failed, OperationState.dead, OperationState.unknown,
     OperationState.skipped}
)  # fmt: skip


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
