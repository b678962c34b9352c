"""Operations found by authority, channel and creation time: a channel's monthly budget counts
its posts since the month began without reading every operation there ever was

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_operations_channel_created", "operations", ["authority", "channel", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_operations_channel_created", table_name="operations")
