"""lease tokens (renewable leases) and requeue marks on deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:00:47.319059
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.engine.schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("queued_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("queued_at")
        batch_op.drop_column("lease_token")
