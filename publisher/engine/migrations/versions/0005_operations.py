"""deliveries become operations: publish, reply, hand-off, edit, delete, pin and unpin, each a row

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:00:00

A delivery becomes a publishing operation (publish, or reply for a follow-up); a copy that was
pinned becomes a succeeded pin operation targeting it. The pinned flag goes: whether a post is
pinned now follows from its pin and unpin operations.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

import publisher.engine.schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (
    "id, announcement_id, authority, channel, channel_type, kind, wave, state, attempts, idempotency_key, "
    "next_attempt_at, lease_until, lease_token, queued_at, deadline_at, released_at, release_reason, platform_id, "
    "platform_url, last_error, ambiguous, created_at, updated_at, finished_at"
)


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("announcement_id", sa.String(length=36), nullable=False),
        sa.Column("authority", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("channel_type", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("next_attempt_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("queued_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.Column("platform_id", sa.String(length=200), nullable=True),
        sa.Column("platform_url", sa.String(length=1000), nullable=True),
        sa.Column("refs", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("ambiguous", sa.Boolean(), nullable=False),
        sa.Column("created_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["announcement_id"], ["announcements.id"], name=op.f("fk_operations_announcement_id_announcements")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
        sa.UniqueConstraint("announcement_id", "channel", "action", "target_id", name="uq_operations_what"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_operations_idempotency_key")),
    )
    op.create_index(op.f("ix_operations_announcement_id"), "operations", ["announcement_id"], unique=False)
    op.create_index("ix_operations_state_next", "operations", ["state", "next_attempt_at"], unique=False)
    op.create_index("ix_operations_target_id", "operations", ["target_id"], unique=False)

    connection = op.get_bind()
    # Follow-ups on channels with threads are replies; when this migration was written, Mastodon
    # was the only channel type with threads.
    connection.execute(
        sa.text(
            f"INSERT INTO operations ({COLUMNS}, action, target_id) "  # noqa: S608 - fixed column names
            f"SELECT {', '.join('deliveries.' + name.strip() for name in COLUMNS.split(','))}, "
            "CASE WHEN announcements.msg_type <> 'alert' AND deliveries.channel_type = 'mastodon' "
            "THEN 'reply' ELSE 'publish' END, '' "
            "FROM deliveries JOIN announcements ON announcements.id = deliveries.announcement_id"
        )
    )
    pinned = connection.execute(
        sa.text(
            "SELECT id, announcement_id, authority, channel, channel_type, kind, wave, deadline_at, updated_at "
            "FROM deliveries WHERE pinned"
        )
    ).all()
    for row in pinned:
        pin = str(uuid.uuid4())
        connection.execute(
            sa.text(
                "INSERT INTO operations (id, announcement_id, authority, channel, channel_type, kind, action, "
                "target_id, wave, state, attempts, idempotency_key, deadline_at, ambiguous, created_at, updated_at, "
                "finished_at) VALUES (:id, :announcement_id, :authority, :channel, :channel_type, :kind, 'pin', "
                ":target, :wave, 'succeeded', 1, :key, :deadline_at, :no, :at, :at, :at)"
            ),
            {"id": pin, "announcement_id": row.announcement_id, "authority": row.authority, "channel": row.channel,
             "channel_type": row.channel_type, "kind": row.kind, "target": row.id, "wave": row.wave,
             "key": f"herold-{pin}", "deadline_at": row.deadline_at, "no": False, "at": row.updated_at},
        )  # fmt: skip
    op.drop_table("deliveries")


def downgrade() -> None:
    raise NotImplementedError("operations cannot be turned back into deliveries; restore a backup instead")
