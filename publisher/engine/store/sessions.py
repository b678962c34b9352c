"""The web app's sessions and the form's drafts.

A session lives while its person works: it ends after ``idle`` without a request, after
``longest`` in any case, at sign-out, and at once when the account is disabled or its password
changes. The cookie carries a random token; the database keeps only its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import sessionmaker

from publisher.engine.schema import FormDraftRow, SessionRow, UserRow
from publisher.engine.store.users import User, _user

SEEN_EVERY = timedelta(seconds=30)  # a busy page does not write on every request


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AppSession:
    user: User
    csrf: str
    language: str


class Sessions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def open(self, username: str, now: datetime, language: str = "de") -> tuple[str, str]:
        """A new session for a signed-in person: (the cookie's token, the forms' CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            session.add(SessionRow(id=_hash(token), username=username.lower(), csrf=csrf, language=language,
                                   created_at=now, seen_at=now))  # fmt: skip
        return token, csrf

    def current(self, token: str, now: datetime, *, idle: timedelta, longest: timedelta) -> AppSession | None:
        """The session behind a cookie, if it is still alive; each request keeps it alive."""
        if not token or len(token) > 100:
            return None
        with self._sessions.begin() as session:
            row = session.get(SessionRow, _hash(token))
            if row is None:
                return None
            user = session.get(UserRow, row.username)
            over = row.seen_at + idle <= now or row.created_at + longest <= now
            # A new password or a disabled account ends every session that began before.
            stale = user is None or user.disabled_at is not None or user.password_changed_at > row.created_at
            if over or stale or user is None:
                session.delete(row)
                return None
            if now - row.seen_at >= SEEN_EVERY:
                row.seen_at = now
            return AppSession(_user(user), row.csrf, row.language)

    def set_language(self, token: str, language: str) -> None:
        with self._sessions.begin() as session:
            row = session.get(SessionRow, _hash(token))
            if row is not None:
                row.language = language

    def close(self, token: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(SessionRow).where(SessionRow.id == _hash(token)))

    def forget_before(self, moment: datetime) -> int:
        """Sessions not seen since ``moment`` (housekeeping)."""
        with self.engine.begin() as connection:
            return connection.execute(delete(SessionRow).where(SessionRow.seen_at < moment)).rowcount or 0


@dataclass(frozen=True)
class FormDraft:
    id: str
    authority: str
    username: str
    fields: dict[str, Any]
    updated_at: datetime
    announcement_id: str | None
    media: dict[str, Any] | None = None  # the uploaded image: {"data": base64, "name": file name}


def _draft(row: FormDraftRow, media: bool = True) -> FormDraft:
    return FormDraft(row.id, row.authority, row.username, dict(row.fields), row.updated_at, row.announcement_id,
                     dict(row.media) if media and row.media else None)  # fmt: skip


class FormDrafts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def create(self, authority: str, username: str, fields: dict[str, Any], now: datetime) -> FormDraft:
        row = FormDraftRow(id=str(uuid.uuid4()), authority=authority, username=username, fields=fields,
                           updated_at=now)  # fmt: skip
        with self._sessions.begin() as session:
            session.add(row)
        return _draft(row)

    def get(self, draft_id: str, authority: str) -> FormDraft | None:
        """One of the authority's drafts (another authority's is as good as none)."""
        with self._sessions.begin() as session:
            row = session.get(FormDraftRow, draft_id)
            return _draft(row) if row is not None and row.authority == authority else None

    def save(self, draft_id: str, authority: str, fields: dict[str, Any], now: datetime) -> FormDraft | None:
        """Keep what was typed; a draft already sent is not changed any more (None)."""
        with self._sessions.begin() as session:
            row = session.get(FormDraftRow, draft_id, with_for_update=True)
            if row is None or row.authority != authority or row.announcement_id is not None:
                return None
            row.fields, row.updated_at = fields, now
            return _draft(row)

    def set_media(self, draft_id: str, authority: str, media: dict[str, Any] | None, now: datetime) -> bool:
        """Attach an uploaded image (or none); false if the draft was sent already."""
        with self._sessions.begin() as session:
            row = session.get(FormDraftRow, draft_id, with_for_update=True)
            if row is None or row.authority != authority or row.announcement_id is not None:
                return False
            row.media, row.updated_at = media, now
            return True

    def sent(self, draft_id: str, announcement_id: str, now: datetime) -> bool:
        """Mark the draft as what became ``announcement_id``; false if it was sent before."""
        with self._sessions.begin() as session:
            row = session.get(FormDraftRow, draft_id, with_for_update=True)
            if row is None or row.announcement_id is not None:
                return False
            row.announcement_id, row.updated_at = announcement_id, now
            return True

    def of_announcement(self, announcement_id: str) -> FormDraft | None:
        """The form an announcement was sent from, if it came from one."""
        with self._sessions.begin() as session:
            row = session.scalars(select(FormDraftRow).where(FormDraftRow.announcement_id == announcement_id)).first()
            return _draft(row) if row is not None else None

    def open_of(self, authority: str, limit: int = 20) -> list[FormDraft]:
        """The authority's drafts not yet sent, newest first."""
        query = (
            select(FormDraftRow)
            .where(FormDraftRow.authority == authority, FormDraftRow.announcement_id.is_(None))
            .order_by(FormDraftRow.updated_at.desc())
            .limit(limit)
        )
        with self._sessions.begin() as session:
            return [_draft(row, media=False) for row in session.scalars(query)]

    def forget_before(self, moment: datetime) -> int:
        with self.engine.begin() as connection:
            return connection.execute(delete(FormDraftRow).where(FormDraftRow.updated_at < moment)).rowcount or 0
