"""The database connection: SQLite by default, PostgreSQL in production; migrations by Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# SQLite's words for a moment's trouble; its other operational errors ("no such table") are
# mistakes in the set-up, not outages.
_SQLITE_OUTAGES = ("database is locked", "unable to open database file", "disk i/o error", "database or disk is full")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets the web server read while a worker writes; the busy timeout makes writers queue
    # instead of failing when several in-process workers commit at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def connect(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    options: dict[str, Any] = {"echo": echo, "future": True}
    # Last in, first out: the connection used a moment ago is used again, with its caches warm
    # (SQLite's pages and prepared statements, PostgreSQL's prepared statements), instead of
    # each transaction taking the pool's least recently used one.
    pooled = {"pool_use_lifo": True}
    if parsed.get_backend_name() == "sqlite":
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # Every in-process worker, the sweep and the web server hold a connection at once;
            # a pool too small opens and closes connections all the time.
            options.update(pool_size=20, max_overflow=20, **pooled)
    else:
        options.update(pool_pre_ping=True, pool_size=10, max_overflow=20, **pooled)
    engine = create_engine(url, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest version (or to ``revision``) with Alembic."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached or is busy beyond waiting (PostgreSQL down, a connection cut,
    SQLite locked too long): a moment's outage, not a bug. Callers answer "try again"."""
    if isinstance(error, InterfaceError | PoolTimeout):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, OperationalError):
        if type(error.orig).__module__ == "sqlite3":
            return any(words in str(error.orig).lower() for words in _SQLITE_OUTAGES)
        return True  # PostgreSQL (psycopg) raises OperationalError for connections, not for mistakes
    return False
