"""on-call notifications (an outbox), channel health, pinned copies of warnings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:05:45.263827
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.engine.schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_health",
        sa.Column("authority", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("since", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("authority", "channel", name=op.f("pk_channel_health")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("authority", sa.String(length=64), nullable=False),
        sa.Column("announcement_id", sa.String(length=36), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("medium", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=1000), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notifications_dedupe_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_authority"), ["authority"], unique=False)
        batch_op.create_index(batch_op.f("ix_notifications_state"), ["state"], unique=False)

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f("ix_deliveries_pinned"), ["pinned"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_pinned"))
        batch_op.drop_column("pinned")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_state"))
        batch_op.drop_index(batch_op.f("ix_notifications_authority"))

    op.drop_table("notifications")
    op.drop_table("channel_health")
