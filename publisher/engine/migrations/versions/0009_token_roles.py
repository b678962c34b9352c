"""API tokens get roles: editor, approver, admin

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("role", sa.String(16), nullable=False, server_default="editor"))
    # Tokens made before could publish everything an approver may: they keep that. New ones start as editors.
    op.execute("UPDATE api_tokens SET role = 'approver'")


def downgrade() -> None:
    op.drop_column("api_tokens", "role")
