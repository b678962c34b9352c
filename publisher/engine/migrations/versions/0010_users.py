"""People who sign in: users per authority with a role, an Argon2 password hash and a lock-out

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import publisher.engine.schema

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("authority", sa.String(64), nullable=False, index=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("alert", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("users")
