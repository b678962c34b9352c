"""Who may let an announcement go out.

Routine news needs a second person: nobody approves what they wrote themselves (four-eyes). A
warning may go out at once, without a second person, from someone who holds the alert right;
that is recorded as such. Approving is for approvers and admins; editors write.
"""

from __future__ import annotations

from publisher.domain.announcement import Kind
from publisher.domain.records import Role


def N_(message: str) -> str:
    """Marks a message for the web app's catalogs (it translates what it shows)."""
    return message


def approval_refused(*, author: str, approver: str, role: Role) -> str | None:
    """Why ``approver`` (in ``role``) may not approve what ``author`` wrote; None if they may."""
    if role not in {Role.approver, Role.admin}:
        return N_("Only an approver or an admin approves; editors write.")
    if author == approver:
        return N_("Nobody approves their own announcement: a second person must (four-eyes).")
    return None


def publishes_at_once(*, kind: Kind, alert: bool) -> bool:
    """Whether the writer may publish it without a second person: a warning, by someone with the
    alert right. Everything else waits for approval."""
    return kind is Kind.warning and alert
