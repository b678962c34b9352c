"""Database tables (SQLAlchemy 2). Migrations live in publisher/engine/migrations (Alembic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from publisher.domain.records import OperationState as OperationState


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Document = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("authority", "path", name="uq_items_authority_path"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(300))
    month: Mapped[str] = mapped_column(String(7), index=True)  # "YYYY-MM" in the authority's time zone
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AnnouncementRow(Base):
    __tablename__ = "announcements"
    __table_args__ = (Index("uq_announcements_source_id", "authority", "source", "source_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    msg_type: Mapped[str] = mapped_column(String(16))
    references: Mapped[str | None] = mapped_column(String(36))
    document: Mapped[dict[str, Any]] = mapped_column(Document)
    source: Mapped[str] = mapped_column(String(64))
    # The message's id at its source (an API client's Idempotency-Key, a CAP identifier): one
    # message is one announcement however often it arrives. The digest tells a repeat from a
    # different message under the same id.
    source_id: Mapped[str | None] = mapped_column(String(200))
    source_digest: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(24), server_default="released")
    actor: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # publish_at, or when received
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    override_reason: Mapped[str | None] = mapped_column(Text)


class VariantRow(Base):
    __tablename__ = "variants"

    announcement_id: Mapped[str] = mapped_column(ForeignKey("announcements.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(35))
    text: Mapped[str] = mapped_column(Text)
    spoiler: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(1000))
    length: Mapped[int | None] = mapped_column(Integer)
    limit: Mapped[int | None] = mapped_column(Integer)
    shortened: Mapped[list[str]] = mapped_column(JSON)


class OperationRow(Base):
    """One thing to do on one channel for one announcement: publish, reply, hand off, edit, delete,
    pin or unpin. Every one moves through the same states, by compare-and-set only."""

    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("announcement_id", "channel", "action", "target_id", name="uq_operations_what"),
        Index("ix_operations_state_next", "state", "next_attempt_at"),
        Index("ix_operations_target_id", "target_id"),
        # A channel's posts this month (its budget), without reading the whole history.
        Index("ix_operations_channel_created", "authority", "channel", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    announcement_id: Mapped[str] = mapped_column(ForeignKey("announcements.id"), index=True)
    authority: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    channel_type: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # picks the queue: warnings never wait behind news
    action: Mapped[str] = mapped_column(String(16))  # publisher.domain.records.Action
    target_id: Mapped[str] = mapped_column(String(36), default="")  # the operation it acts on ('' for none)
    wave: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(32))  # whose claim this is; renewals keep it
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last put on the queue by the sweep
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    release_reason: Mapped[str | None] = mapped_column(Text)
    platform_id: Mapped[str | None] = mapped_column(String(200))
    platform_url: Mapped[str | None] = mapped_column(String(1000))
    refs: Mapped[dict[str, str] | None] = mapped_column(JSON)  # what else a later reply or edit needs (Receipt.refs)
    note: Mapped[str | None] = mapped_column(Text)  # a hand-off's copy-ready text
    # When people were told that a hand-off waits for them (so they are told once).
    alarmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    ambiguous: Mapped[bool] = mapped_column(default=False)  # the last attempt may have reached the platform
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    authority: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    announcement_id: Mapped[str | None] = mapped_column(String(36), index=True)
    delivery_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class TokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # publisher.domain.records.Role (tokens made before roles existed became approvers: migration 0009).
    role: Mapped[str] = mapped_column(String(16), default="editor", server_default="editor")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserRow(Base):
    """A person who signs in to the web app, for one authority, in one role (migration 0010)."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)  # lower case, unique across authorities
    authority: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))  # publisher.domain.records.Role
    alert: Mapped[bool] = mapped_column(default=False)  # may publish a warning at once, without a second person
    password_hash: Mapped[str] = mapped_column(String(200))  # Argon2id, with its parameters and salt
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)  # since the last good one
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SessionRow(Base):
    """A signed-in person's session in the web app (migration 0011). The cookie carries a random
    token; only its SHA-256 is stored, so a copy of the database signs nobody in."""

    __tablename__ = "app_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    username: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))  # every form sends it back
    language: Mapped[str] = mapped_column(String(8), default="de")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FormDraftRow(Base):
    """What a person typed into the web app's form, kept as typed (migration 0011): after an
    error, a lost connection or a closed tab nothing is lost, even text no announcement could hold."""

    __tablename__ = "form_drafts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(Document)
    # The uploaded image (base64, name), apart from the text: saving what is typed does not copy it.
    media: Mapped[dict[str, Any] | None] = mapped_column(Document)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    announcement_id: Mapped[str | None] = mapped_column(String(36))  # what it became, once sent


class NotificationRow(Base):
    """A message to an authority's on-call contacts, kept until it is sent (an outbox)."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    announcement_id: Mapped[str | None] = mapped_column(String(36))
    channel: Mapped[str | None] = mapped_column(String(64))
    medium: Mapped[str] = mapped_column(String(16))  # email | webhook
    target: Mapped[str] = mapped_column(String(1000))  # address or URL
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)  # one alarm per cause and contact
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChannelHealthRow(Base):
    """A channel that needs a person (e.g. its credentials were refused), until it works again."""

    __tablename__ = "channel_health"

    authority: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    needs_attention: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelLimitsRow(Base):
    """What a channel's server last said of its limits (AnnouncesLimits), refreshed by the engine."""

    __tablename__ = "channel_limits"

    authority: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    characters: Mapped[int | None] = mapped_column(Integer)
    pins: Mapped[int | None] = mapped_column(Integer)
    counts_links_as: Mapped[int | None] = mapped_column(Integer)
    # Learned, not announced: the server refused a text as too long that was within its limit
    # with links counted short (Takahē, Pleroma/Akkoma count the raw text).
    links_in_full: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PollFeedRow(Base):
    """One polled list (a NINA dashboard, a CAP feed) of an integration (migration 0012): when it
    is next due (compare-and-set: one process polls each round), what its server last said of
    its version (for a conditional GET), and how the last rounds went."""

    __tablename__ = "poll_feeds"

    authority: Mapped[str] = mapped_column(String(64), primary_key=True)
    integration: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(1000))  # the list's URL: another one starts afresh
    next_at: Mapped[datetime] = mapped_column(UTCDateTime())  # claimed: pushed on for the round's length
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the list was last read
    failures: Mapped[int] = mapped_column(Integer, default=0)  # rounds in a row that could not read it
    last_error: Mapped[str | None] = mapped_column(Text)
    # Only kept after a round that took in every warning listed: a 304 then means nothing is new.
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))


class PollWarningRow(Base):
    """A warning a polled list showed (migration 0012): which version of it was relayed last,
    as which message, to which item, and whether it has ended. Written after relaying, which is
    idempotent per message: a crash in between relays the same message to the same announcement."""

    __tablename__ = "poll_warnings"

    authority: Mapped[str] = mapped_column(String(64), primary_key=True)
    integration: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # NINA's id, a feed entry's id
    version: Mapped[str | None] = mapped_column(String(200))
    source_id: Mapped[str | None] = mapped_column(String(1000))
    item_id: Mapped[str | None] = mapped_column(String(36))
    ended: Mapped[bool] = mapped_column(Boolean, default=False)
    missing: Mapped[int] = mapped_column(Integer, default=0)  # listings in a row that lacked it
    refused: Mapped[str | None] = mapped_column(Text)  # why its version was not relayed
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())  # last listed
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelCredentialRow(Base):
    """What a channel keeps of what its platform gave it (migration 0014): a refreshed token, a
    session. Read and written only through the channel's own context (ChannelContext.credentials)."""

    __tablename__ = "channel_credentials"

    authority: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
