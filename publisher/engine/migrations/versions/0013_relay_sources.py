"""Warning systems' announcements are recorded under their integration's format, not "hook:"

A relay's source was "hook:<integration>"; it is now "<format>:<integration>" (cap, nina,
announcement), the same whether a message was pushed or polled. Rows written before keep being
found (a later Cancel follows its alert, a repeat stays one announcement): a CAP message's
source id is "sender,identifier,sent", an announcement's its webhook-id, which has no commas.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 07:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE announcements SET source = 'cap:' || substr(source, 6) "
        "WHERE source LIKE 'hook:%' AND source_id LIKE '%,%,%'"
    )
    op.execute("UPDATE announcements SET source = 'announcement:' || substr(source, 6) WHERE source LIKE 'hook:%'")


def downgrade() -> None:
    op.execute("UPDATE announcements SET source = 'hook:' || substr(source, 5) WHERE source LIKE 'cap:%'")
    op.execute("UPDATE announcements SET source = 'hook:' || substr(source, 14) WHERE source LIKE 'announcement:%'")
