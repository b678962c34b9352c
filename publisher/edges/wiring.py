"""The composition root: the one place that builds a process's parts from the settings.

A Herold is an engine (store, channels, clock) with a runner that carries its tasks: in this
process (the embedded default) or on Celery workers when ``redis_url`` is set. The web app,
the command line and the tests start from here; below, every part gets only what it uses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
from celery import Celery

from adapters.port import Channel
from publisher.domain.authority import Authority
from publisher.engine import tasks
from publisher.engine.engine import Engine, utcnow
from publisher.engine.runner import EmbeddedRunner, Runner
from publisher.engine.settings import Settings
from publisher.engine.store import Store
from publisher.engine.worker import CeleryRunner, make_celery
from publisher.site.website import Site

__all__ = ["Herold", "utcnow", "worker_app"]


class Herold:
    def __init__(
        self,
        settings: Settings,
        *,
        runner: Runner | None = None,
        clock: Callable[[], datetime] = utcnow,
        http: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.engine = Engine.build(settings, clock=clock, http=http)
        self.engine.runner = runner or self._default_runner()

    def _default_runner(self) -> Runner:
        if self.settings.herold.redis_url:
            return CeleryRunner(make_celery(self.settings.herold))
        engine = self.engine
        requeue_after = timedelta(seconds=self.settings.herold.requeue_after_seconds)
        swept = threading.Event()

        def sweep() -> None:
            # The first sweep takes up everything (work left by a stopped process); later ones
            # leave what they queued to the pool for a while.
            tasks.sweep(engine, requeue_after=requeue_after if swept.is_set() else timedelta(0))
            swept.set()

        return EmbeddedRunner(
            lambda task, argument: tasks.run(engine, task, argument),
            sweep,
            workers=self.settings.herold.embedded_workers,
        )

    # -- the parts, for the edges and for tests ------------------------------------------------

    @property
    def store(self) -> Store:
        return self.engine.store

    @property
    def runner(self) -> Runner:
        assert self.engine.runner is not None
        return self.engine.runner

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.engine.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self.engine.clock = clock

    @property
    def embedded(self) -> bool:
        return isinstance(self.engine.runner, EmbeddedRunner)

    def migrate(self) -> None:
        """Bring the database schema up to date, and give every built-in site its record: one
        written by a Herold from before sites kept a record of their own would otherwise list only
        what is published from now on (the database holds all of it, so the record is rebuilt)."""
        self.store.migrate()
        for authority in self.settings.authorities:
            # Pages but no record: an installation from before; a new one has neither yet. A site
            # whose directory is unsafe (it would publish Herold's own data) is never written.
            if any(
                site.directory.exists() and not site.record.folder.exists() and not site.check()
                for site in self.sites(authority.slug)
            ):
                tasks.rebuild(self.engine, authority.slug)

    def start(self) -> None:
        self.migrate()
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()
        self.engine.close_channels()
        self.store.dispose()

    def authority(self, slug: str) -> Authority:
        return self.engine.authority(slug)

    def channel(self, authority: str, channel_id: str) -> Channel:
        return self.engine.channel(authority, channel_id)

    def sites(self, authority: str) -> list[Site]:
        return self.engine.sites(authority)

    def site(self, authority: str) -> Site:
        return self.engine.site(authority)


def worker_app(settings: Settings) -> Celery:
    """The Celery app of a worker process: it runs tasks on an engine of its own, built after
    Celery forked, that hands follow-up tasks back to the same app."""

    def build(app: Celery) -> Engine:
        engine = Engine.build(settings)
        engine.runner = CeleryRunner(app)
        return engine

    return make_celery(settings.herold, build)
