"""Polled warning systems: each list's round and version, each listed warning's last message

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.engine.schema

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "poll_feeds",
        sa.Column("authority", sa.String(64), nullable=False),
        sa.Column("integration", sa.String(64), nullable=False),
        sa.Column("address", sa.String(1000), nullable=False),
        sa.Column("next_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("polled_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("succeeded_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("etag", sa.String(300), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("authority", "integration", name=op.f("pk_poll_feeds")),
    )
    op.create_table(
        "poll_warnings",
        sa.Column("authority", sa.String(64), nullable=False),
        sa.Column("integration", sa.String(64), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("version", sa.String(200), nullable=True),
        sa.Column("source_id", sa.String(1000), nullable=True),
        sa.Column("item_id", sa.String(36), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Text(), nullable=True),
        sa.Column("seen_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("authority", "integration", "key", name=op.f("pk_poll_warnings")),
    )


def downgrade() -> None:
    op.drop_table("poll_warnings")
    op.drop_table("poll_feeds")
