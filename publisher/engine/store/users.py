"""People who sign in to the web app: one authority each, a role, a password kept as an Argon2id
hash, and a lock-out after repeated wrong passwords (five within the lock's time: fifteen minutes),
so that guessing a password from the network takes years, not hours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from publisher.domain.records import Role
from publisher.domain.text import N_
from publisher.engine.schema import UserRow

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
PASSWORD_LENGTH = 12  # at the least; a pass phrase is better (the messages below say 12)
ATTEMPTS = 5  # wrong passwords in a row before the account is locked
LOCKED_FOR = timedelta(minutes=15)
_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters


@dataclass(frozen=True)
class User:
    username: str
    authority: str
    role: Role
    alert: bool  # may publish a warning at once, without a second person
    disabled: bool
    locked_until: datetime | None


class SignIn(StrEnum):
    """How a sign-in ended: only ``ok`` lets anyone in, and every other says no to the person in
    the same words (which one it was is for the audit log)."""

    ok = "ok"
    wrong = "wrong"  # unknown user, or a wrong password
    locked = "locked"
    disabled = "disabled"


class UserExists(ValueError):
    pass


def username_problem(username: str) -> str | None:
    """What is wrong with a new user name (lower case already), if anything."""
    if not USERNAME.match(username):
        return N_("The user name must be 2 to 64 characters: letters, digits, '.', '_' or '-', starting with a "
                  "letter or digit.")  # fmt: skip
    return None


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, if anything."""
    if len(password) < PASSWORD_LENGTH:
        return N_("The password must have at least 12 characters (a pass phrase is best).")
    if not password.isprintable():
        return N_("The password must be printable characters on one line.")
    return None


def _user(row: UserRow) -> User:
    role = Role(row.role) if row.role in Role.__members__ else Role.editor  # edited by hand: least rights
    return User(row.username, row.authority, role, row.alert, row.disabled_at is not None, row.locked_until)


class Users:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(
        self, username: str, authority: str, role: Role, password: str, now: datetime, *, alert: bool = False
    ) -> User:
        row = UserRow(username=username.lower(), authority=authority, role=role.value, alert=alert,
                      password_hash=_hasher.hash(password), failed_sign_ins=0, created_at=now,
                      password_changed_at=now)  # fmt: skip
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise UserExists(username) from None
        return _user(row)

    def get(self, username: str) -> User | None:
        with self._sessions.begin() as session:
            row = session.get(UserRow, username.lower())
            return _user(row) if row else None

    def all(self, authority: str | None = None) -> list[User]:
        query = select(UserRow).order_by(UserRow.authority, UserRow.username)
        if authority:
            query = query.where(UserRow.authority == authority)
        with self._sessions.begin() as session:
            return [_user(row) for row in session.scalars(query)]

    def disable(self, username: str, now: datetime) -> User | None:
        with self._sessions.begin() as session:
            row = session.get(UserRow, username.lower())
            if row is not None and row.disabled_at is None:
                row.disabled_at = now
            return _user(row) if row else None

    def set_password(self, username: str, password: str, now: datetime) -> User | None:
        """A new password; it also lifts a lock (an admin set it)."""
        with self._sessions.begin() as session:
            row = session.get(UserRow, username.lower())
            if row is None:
                return None
            row.password_hash, row.password_changed_at = _hasher.hash(password), now
            row.failed_sign_ins, row.locked_until = 0, None
            return _user(row)

    def sign_in(self, username: str, password: str, now: datetime) -> tuple[SignIn, User | None]:
        """Check a password. The hash is checked for unknown users too (against a dummy), so the
        answer's time does not tell who exists."""
        with self._sessions.begin() as session:
            row = session.get(UserRow, username.lower(), with_for_update=True)
            if row is None:
                _matches(_dummy(), password)
                return SignIn.wrong, None
            if row.disabled_at is not None or (row.locked_until is not None and row.locked_until > now):
                _matches(_dummy(), password)  # the same time as a wrong password: the answer tells nothing
                return (SignIn.disabled if row.disabled_at is not None else SignIn.locked), _user(row)
            if not _matches(row.password_hash, password):
                row.failed_sign_ins += 1
                if row.failed_sign_ins >= ATTEMPTS:
                    row.locked_until, row.failed_sign_ins = now + LOCKED_FOR, 0
                    return SignIn.locked, _user(row)
                return SignIn.wrong, _user(row)
            row.failed_sign_ins, row.locked_until = 0, None
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)  # stronger parameters since it was set
            return SignIn.ok, _user(row)


@cache
def _dummy() -> str:
    """A hash to check unknown names against; made when first needed (hashing takes a tenth of a
    second and 64 MiB, which no process should pay at start)."""
    return _hasher.hash("not a password anyone has")


def _matches(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
