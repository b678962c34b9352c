"""announcements record their source's id (idempotent acceptance) and their stage

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:00:00

Every announcement stored so far went out at once: its stage is "released".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN and a unique index: on SQLite, a batch alteration would copy the table,
    # which its foreign keys forbid once operations and variants refer to it.
    op.add_column("announcements", sa.Column("source_id", sa.String(length=200), nullable=True))
    op.add_column("announcements", sa.Column("source_digest", sa.String(length=64), nullable=True))
    op.add_column("announcements", sa.Column("stage", sa.String(length=24), server_default="released", nullable=False))
    op.create_index("uq_announcements_source_id", "announcements", ["authority", "source", "source_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_announcements_source_id", table_name="announcements")
    for column in ("stage", "source_digest", "source_id"):
        op.drop_column("announcements", column)
