"""Shared fixtures: settings built in code, an embedded Herold per test, real database servers."""

from __future__ import annotations

import copy
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

sys.path.insert(0, str(Path(__file__).parent))

from publisher.edges import logs
from publisher.edges.config import Settings, settings_from
from publisher.edges.wiring import Herold
from publisher.engine.store import Store
from publisher.engine.tasks import wait_until_settled
from publisher.sources.intake import accept

from fakes.channels import Journal, registered
from services import Postgres, Redis

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"

AUTHORITY: dict[str, Any] = {
    "slug": "lk-beispiel",
    "name": "Landkreis Beispiel",
    "base_url": "https://www.lk-beispiel.de/warnungen/",
    "impressum_url": "https://www.lk-beispiel.de/impressum",
    "privacy_url": "https://www.lk-beispiel.de/datenschutz",
    "languages": ["de", "en"],
    # Tests read the lists right after publishing; holding rewrites back in a burst has tests of its own.
    "channels": [{"id": "website", "type": "website", "lists_every_seconds": 0}],
}


# A second authority, for what one authority must never see or touch of another's.
NEIGHBOUR: dict[str, Any] = {
    "slug": "stadt-nachbar",
    "name": "Stadt Nachbar",
    "base_url": "https://www.stadt-nachbar.de/warnungen/",
    "impressum_url": "https://www.stadt-nachbar.de/impressum",
    "privacy_url": "https://www.stadt-nachbar.de/datenschutz",
    "channels": [{"id": "website", "type": "website", "lists_every_seconds": 0}],
}


# Property tests run the same examples on every run, so that CI passes or fails on the code, never
# on the draw. ``HYPOTHESIS_PROFILE=explore`` draws afresh (run it by hand, repeatedly); what it
# finds becomes a fix and an ``@example``. ``slow``: the same draws, ten times as many in the
# intake fuzz tests (tests/test_intake_fuzz.py).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.register_profile("slow", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False, database=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    logs.configure("warning", "console")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts PostgreSQL or Redis is marked so, whichever way it asks for them, so
    that ``make test-fast`` (``-m "not postgres and not redis and not slow"``) leaves it out."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if "postgres" in names or on_postgresql:
            item.add_marker(pytest.mark.postgres)
        if "redis_server" in names:
            item.add_marker(pytest.mark.redis)


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Settings as a config file would give them. Keyword arguments go into [herold];
    ``authorities`` replaces the default authority list; ``env`` is the environment."""

    def make(
        authorities: list[dict[str, Any]] | None = None, env: dict[str, str] | None = None, **herold: Any
    ) -> Settings:
        section = {"data_dir": str(tmp_path / "var"), **herold}
        raw = {"herold": section, "authorities": authorities or [copy.deepcopy(AUTHORITY)]}
        return settings_from(raw, env or {}, base=tmp_path)

    return make


HeroldFactory = Callable[..., Herold]


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to the newest schema, once per session. A test's Herold on the
    default database starts from a copy of it rather than running every migration again (a
    tenth of a second each, for hundreds of tests); the migrations' own tests start from none."""
    path = tmp_path_factory.mktemp("migrated") / "herold.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    return path


@pytest.fixture
def make_herold(make_settings: SettingsFactory, migrated: Path) -> Iterator[HeroldFactory]:
    """A started, embedded Herold (SQLite, in-process runner); stopped after the test."""
    started: list[Herold] = []

    def make(settings: Settings | None = None, **kwargs: Any) -> Herold:
        settings = settings or make_settings()
        database = settings.herold.data_dir / "herold.db"
        if settings.herold.database_url is None and not database.exists():
            database.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(migrated, database)
        herold = Herold(settings, **kwargs)
        herold.start()
        started.append(herold)
        return herold

    yield make
    for herold in started:
        herold.stop()


@pytest.fixture
def herold(make_herold: HeroldFactory) -> Herold:
    return make_herold()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    server = Redis().start()
    yield server
    server.stop()


_databases = iter(range(1, 100_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded default (SQLite) and on PostgreSQL (production)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'herold.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    return server.database(f"test_{next(_databases)}")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.dispose()


def forget_cached(announcement_id: str) -> None:
    """Make this process read a stored document again (after a test changed it in the database)."""
    from publisher.engine.store import documents

    documents.forget(announcement_id)


def warning(**changes: Any) -> dict[str, Any]:
    """A valid warning document; keyword arguments change or (with None) remove fields."""
    document: dict[str, Any] = {
        "authority": "lk-beispiel",
        "kind": "warning",
        "category": "safety",
        "event": "Bombenentschärfung",
        "severity": "severe",
        "headline": "Fliegerbombe in der Altstadt",
        "description": "Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird heute entschärft.",
        "instruction": "Verlassen Sie das Sperrgebiet bis 10 Uhr.",
        "area": {"description": "Altstadt rund um die Marktstraße"},
        "hashtags": ["Bombe"],
    }
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def news(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "authority": "lk-beispiel",
        "kind": "news",
        "headline": "Bürgerbüro am 24. Dezember geschlossen",
        "description": "Das Bürgerbüro bleibt an Heiligabend geschlossen.",
    }
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def publish(herold: Herold, document: dict[str, Any], timeout: float = 30) -> str:
    """Accept an announcement as a test source and wait until every delivery has settled."""
    announcement_id = accept(herold.engine, document, source="test", actor="tester")
    wait_until_settled(herold.engine, announcement_id, timeout)
    return announcement_id


@pytest.fixture
def journal() -> Iterator[Journal]:
    """The fake channel types, registered for this test, and what they were asked to do."""
    with registered() as journal:
        yield journal


def herold_toml(
    *,
    base_url: str = "https://www.lk-beispiel.de/",
    channels: str = "",
    herold: str = 'grace_warning_seconds = 0.2\ngrace_news_seconds = 0.2\nlog_level = "warning"',
    languages: str = '["de"]',
) -> str:
    """A config file as an operator writes one: data in ./var, the example authority with its
    website, and whatever further ``channels`` (TOML tables) and ``herold`` keys a test needs."""
    return f"""
[herold]
data_dir = "var"
log_format = "console"
{herold}

[[authorities]]
slug = "lk-beispiel"
name = "Landkreis Beispiel"
base_url = "{base_url}"
impressum_url = "https://www.lk-beispiel.de/impressum"
privacy_url = "https://www.lk-beispiel.de/datenschutz"
languages = {languages}

  [[authorities.channels]]
  id = "website"
  type = "website"
{channels}
"""
