"""API tokens: shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from publisher.domain.records import Role
from publisher.engine.schema import TokenRow


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def create(self, authority: str, name: str, now: datetime, role: Role = Role.editor) -> str:
        """A new API token for an authority; only its hash is kept, so it is shown once."""
        token_id = secrets.token_hex(4)
        token = f"hrd_{token_id}_{secrets.token_urlsafe(32)}"
        with self._sessions.begin() as session:
            session.add(TokenRow(id=token_id, authority=authority, name=name, token_hash=hash_token(token),
                                 role=role.value, created_at=now))  # fmt: skip
        return token

    def all(self, authority: str | None = None) -> list[TokenRow]:
        query = select(TokenRow).order_by(TokenRow.created_at)
        if authority:
            query = query.where(TokenRow.authority == authority)
        with self._sessions.begin() as session:
            return list(session.scalars(query))

    def revoke(self, token_id: str, now: datetime) -> TokenRow | None:
        with self._sessions.begin() as session:
            row = session.get(TokenRow, token_id)
            if row is not None and row.revoked_at is None:
                row.revoked_at = now
            return row

    def authority_of(self, token: str) -> tuple[str, str, Role] | None:
        """(authority, token name, role) for a valid token, None otherwise."""
        with self._sessions.begin() as session:
            row = session.scalars(
                select(TokenRow).where(TokenRow.token_hash == hash_token(token), TokenRow.revoked_at.is_(None))
            ).first()
            if row is None:
                return None
            # A role Herold does not know (edited by hand) gets the least rights, never a 500.
            role = Role(row.role) if row.role in Role.__members__ else Role.editor
            return row.authority, row.name, role
