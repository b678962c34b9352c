"""operations remember when people were told that a hand-off waits for them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.engine.schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("operations", sa.Column("alarmed_at", publisher.engine.schema.UTCDateTime(timezone=True),
                                          nullable=True))  # fmt: skip


def downgrade() -> None:
    op.drop_column("operations", "alarmed_at")
