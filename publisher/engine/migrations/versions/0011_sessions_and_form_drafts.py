"""The web app: sessions (only the token's hash) and the form's drafts as typed

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

import publisher.engine.schema

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False, server_default="de"),
        sa.Column("created_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "form_drafts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("authority", sa.String(64), nullable=False, index=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("fields", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("media", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True),
        sa.Column("updated_at", publisher.engine.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("announcement_id", sa.String(36), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("form_drafts")
    op.drop_table("app_sessions")
