"""Who may let an announcement go out.

Routine news needs a second person: nobody approves what they wrote themselves (four-eyes). A
warning may go out at once, without a second person, from someone who holds the alert right;
that is recorded as such. Approving is for approvers and admins; editors write.
"""

from __future__ import annotations

from collections.abc import Collection

from publisher.domain.announcement import Kind
from publisher.domain.records import Role
from publisher.domain.text import N_


def approval_refused(*, writers: Collection[str], approver: str, role: Role) -> str | None:
    """Why ``approver`` (in ``role``) may not approve what ``writers`` wrote (whoever submitted
    it, and everyone who wrote in its form); None if they may."""
    if role not in {Role.approver, Role.admin}:
        return N_("Only an approver or an admin approves; editors write.")
    if approver in writers:
        return N_("Nobody approves their own announcement: a second person must (four-eyes).")
    return None


def publishes_at_once(*, kind: Kind, alert: bool) -> bool:
    """Whether the writer may publish it without a second person: a warning, by someone with the
    alert right. Everything else waits for approval."""
    return kind is Kind.warning and alert
