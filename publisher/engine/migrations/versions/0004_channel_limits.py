"""limits servers announce, kept per channel so that intake never asks a server

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.engine.schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_limits",
        sa.Column("authority", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("characters", sa.Integer(), nullable=True),
        sa.Column("pins", sa.Integer(), nullable=True),
        sa.Column("counts_links_as", sa.Integer(), nullable=True),
        sa.Column("refreshed_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("authority", "channel", name=op.f("pk_channel_limits")),
    )


def downgrade() -> None:
    op.drop_table("channel_limits")
