"""The composition root: settings, database, runner and channels, wired once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests
import structlog

from adapters.port import Channel, ChannelContext
from adapters.port.http import session
from publisher.domain.announcement import Kind
from publisher.domain.authority import Authority
from publisher.edges.config import Settings
from publisher.engine.runner import EmbeddedRunner, Runner, TaskName
from publisher.engine.store import Store
from publisher.site.registry import channel_types
from publisher.site.website import Website

log = structlog.get_logger("herold.app")


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        self.clock = clock
        self.store = Store(settings.herold.database)
        self.http = http or session(settings.herold.http_deadline_seconds, pool=50)
        self._channels: dict[tuple[str, str], Channel] = {}
        self._lock = threading.Lock()
        self.runner: Runner = runner or self._default_runner()

    def _default_runner(self) -> Runner:
        if self.settings.herold.redis_url:
            from publisher.engine.worker import CeleryRunner

            return CeleryRunner(self.settings)
        from publisher.engine import tasks

        requeue_after = timedelta(seconds=self.settings.herold.requeue_after_seconds)
        swept = threading.Event()

        def sweep() -> None:
            # The first sweep takes up everything (work left by a stopped process); later ones
            # leave what they queued to the pool for a while.
            tasks.sweep(self, requeue_after=requeue_after if swept.is_set() else timedelta(0))
            swept.set()

        return EmbeddedRunner(
            lambda task, argument: tasks.run(self, task, argument),
            sweep,
            workers=self.settings.herold.embedded_workers,
        )

    @property
    def embedded(self) -> bool:
        return isinstance(self.runner, EmbeddedRunner)

    def start(self) -> None:
        self.store.migrate()
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()
        self.close_channels()
        self.store.dispose()

    def close_channels(self) -> None:
        """Let channels finish work they held back for a moment (the website's list rewrite)."""
        with self._lock:
            channels = list(self._channels.values())
        for channel in channels:
            try:
                channel.close()
            except Exception:
                log.exception("closing a channel failed", channel=channel.id)

    def submit(self, task: TaskName, argument: str, *, kind: str, delay: float = 0.0) -> None:
        self.runner.submit(task, argument, queue="warnings" if kind == Kind.warning else "news", delay=delay)

    # -- authorities and channels --------------------------------------------------------

    def authority(self, slug: str) -> Authority:
        return self.settings.authority(slug)

    def context(self, authority: Authority, channel_id: str) -> ChannelContext:
        """What one channel gets: its authority, its own secrets, and no more."""
        runtime = self.settings.herold
        return ChannelContext(
            authority=authority,
            secrets=self.settings.secrets_of(authority.slug, channel_id),
            clock=lambda: self.clock(),  # the current clock, also one a test sets later
            media=runtime.data_dir,
            timeouts=(runtime.http_connect_timeout, runtime.http_read_timeout),
            deadline=runtime.http_deadline_seconds,
        )

    def channel(self, authority: str, channel_id: str) -> Channel:
        key = (authority, channel_id)
        with self._lock:
            if key not in self._channels:
                owner = self.authority(authority)
                config = owner.channel(channel_id)
                kind = channel_types()[config.type]
                context = self.context(owner, channel_id)
                if issubclass(kind, Website):
                    runtime = self.settings.herold
                    self._channels[key] = kind(
                        config, context, archive=self.store, data_dir=runtime.data_dir, templates=runtime.templates_dir
                    )
                else:
                    self._channels[key] = kind(config, context)
            return self._channels[key]

    def websites(self, authority: str) -> list[Website]:
        """The authority's built-in websites (usually one): the publisher of record."""
        owner = self.authority(authority)
        found = [self.channel(authority, config.id) for config in owner.channels if config.type == Website.type]
        return [site for site in found if isinstance(site, Website)]

    def website(self, authority: str) -> Website:
        """The authority's built-in website (the first, should it have several)."""
        return self.websites(authority)[0]

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.herold.lease_seconds)

    def grace(self, kind: str) -> timedelta:
        runtime = self.settings.herold
        seconds = runtime.grace_warning_seconds if kind == Kind.warning else runtime.grace_news_seconds
        return timedelta(seconds=seconds)

    def deadline(self, kind: str) -> timedelta:
        runtime = self.settings.herold
        hours = runtime.deadline_warning_hours if kind == Kind.warning else runtime.deadline_news_hours
        return timedelta(hours=hours)
