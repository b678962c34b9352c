"""The database: source of truth for announcements, operations and the audit log.

One store per process, in parts: ``announcements`` (accepted whole or not at all), ``operations``
(one state machine, compare-and-set only), ``audit`` (append-only), ``tokens``, ``users``,
``sessions`` and ``drafts`` (the web app's), ``notifications`` (the on-call outbox), ``health``
(channels that need a person), ``limits`` (what servers announce), ``archive`` (what the built-in
website shows), ``retention`` (what is deleted after a while) and ``due`` (the sweep's first look:
is anything due at all). Queues and timers only make things faster; losing them loses nothing.
"""

from __future__ import annotations

from publisher.engine.store.announcements import Announcements, NewOperation, SourceIdTaken, StoredAnnouncement
from publisher.engine.store.archive import Archive
from publisher.engine.store.audit import AuditLog
from publisher.engine.store.credentials import ChannelCredentials
from publisher.engine.store.database import connect, database_unavailable, migrate
from publisher.engine.store.documents import Unreadable
from publisher.engine.store.due import Due, DueWork
from publisher.engine.store.health import Health
from publisher.engine.store.limits import Limits
from publisher.engine.store.notifications import Notifications
from publisher.engine.store.operations import Applied, Attempt, Operation, Operations
from publisher.engine.store.polls import Polls
from publisher.engine.store.retention import Forgotten, Retention
from publisher.engine.store.sessions import AppSession, FormDraft, FormDrafts, Sessions
from publisher.engine.store.tokens import Tokens, hash_token
from publisher.engine.store.users import Users

__all__ = [
    "AppSession",
    "Applied",
    "Attempt",
    "Due",
    "Forgotten",
    "FormDraft",
    "NewOperation",
    "Operation",
    "SourceIdTaken",
    "Store",
    "StoredAnnouncement",
    "Unreadable",
    "database_unavailable",
    "hash_token",
]


class Store:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = connect(url, echo=echo)
        self.announcements = Announcements(self.engine)
        self.operations = Operations(self.engine)
        self.audit = AuditLog(self.engine)
        self.tokens = Tokens(self.engine)
        self.users = Users(self.engine)
        self.sessions = Sessions(self.engine)
        self.drafts = FormDrafts(self.engine)
        self.notifications = Notifications(self.engine)
        self.health = Health(self.engine)
        self.limits = Limits(self.engine)
        self.credentials = ChannelCredentials(self.engine)
        self.archive = Archive(self.engine)
        self.due = DueWork(self.engine)
        self.retention = Retention(self.engine)
        self.polls = Polls(self.engine)

    def migrate(self) -> None:
        """Bring the schema to the newest version (Alembic)."""
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
