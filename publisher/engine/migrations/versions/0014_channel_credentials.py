"""Channel credentials: tokens a platform refreshed, sessions it handed out, kept per channel

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.engine.schema

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_credentials",
        sa.Column("authority", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("authority", "channel", "key", name=op.f("pk_channel_credentials")),
    )


def downgrade() -> None:
    op.drop_table("channel_credentials")
