"""The engine's context: what its tasks, the intake pipeline and the status report use, and no
more — the store, the authorities and their channels, the clock, the runner that carries tasks,
and the timings of the ``[herold]`` section. The edges build one per process (wiring) and hand
it on; nothing below reaches back up for the application object."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
import structlog

from adapters.port import Channel, ChannelContext
from adapters.port.http import session
from publisher.core.plan import WAVES
from publisher.domain.announcement import Kind
from publisher.domain.authority import Authority
from publisher.engine.runner import Queue, Runner, TaskName
from publisher.engine.settings import Runtime, Settings
from publisher.engine.store import Store
from publisher.engine.store.credentials import StoredCredentials
from publisher.site.registry import channel_types, is_site
from publisher.site.website import Site

log = structlog.get_logger("herold.engine")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Engine:
    settings: Settings
    store: Store
    clock: Callable[[], datetime] = utcnow
    http: requests.Session = field(default_factory=requests.Session)  # on-call webhooks
    runner: Runner | None = None  # set by whoever composes the process (it needs the engine itself)
    forgotten_at: datetime | None = None  # when this process last deleted what retention allows
    _channels: dict[tuple[str, str], Channel] = field(default_factory=dict, repr=False)
    _sites: dict[tuple[str, str], Site] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(
        cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow, http: requests.Session | None = None
    ) -> Engine:
        runtime = settings.herold
        return cls(
            settings=settings,
            store=Store(runtime.database),
            clock=clock,
            http=http or session(runtime.http_deadline_seconds, pool=50),
        )

    @property
    def runtime(self) -> Runtime:
        return self.settings.herold

    def submit(self, task: TaskName, argument: str, *, kind: str, delay: float = 0.0, wave: int | None = None) -> None:
        """Queue a task. Work that never waits for a platform (the own website's publications,
        releasing waves, putting copies on the page) has a lane of its own, so that platforms that
        hang can hold every other thread and still not delay the next warning's page."""
        assert self.runner is not None, "the engine runs tasks once a runner is set"
        self.runner.submit(task, argument, queue=queue_for(task, kind, wave), delay=delay)

    # -- timings ------------------------------------------------------------------------------

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.runtime.lease_seconds)

    def grace(self, kind: str) -> timedelta:
        runtime = self.runtime
        return timedelta(seconds=runtime.grace_warning_seconds if kind == Kind.warning else runtime.grace_news_seconds)

    def deadline(self, kind: str) -> timedelta:
        runtime = self.runtime
        return timedelta(hours=runtime.deadline_warning_hours if kind == Kind.warning else runtime.deadline_news_hours)

    # -- authorities and their channels ------------------------------------------------------

    @property
    def authorities(self) -> list[Authority]:
        return self.settings.authorities

    def authority(self, slug: str) -> Authority:
        return self.settings.authority(slug)

    def context(self, authority: Authority, channel_id: str) -> ChannelContext:
        """What one channel gets: its authority, its own secrets, and no more."""
        runtime = self.runtime
        return ChannelContext(
            authority=authority,
            secrets=self.settings.secrets_of(authority.slug, channel_id),
            clock=lambda: self.clock(),  # the current clock, also one a test sets later
            media=runtime.data_dir,
            timeouts=(runtime.http_connect_timeout, runtime.http_read_timeout),
            deadline=runtime.http_deadline_seconds,
            site=self._site_directory(authority),
            credentials=StoredCredentials(self.store.credentials, authority.slug, channel_id, lambda: self.clock()),
        )

    def _site_directory(self, authority: Authority) -> Path | None:
        """Where the authority's built-in website is written, if it has one."""
        if not any(is_site(channel_types()[c.type]) for c in authority.channels):
            return None
        return self.site(authority.slug).directory

    def channel(self, authority: str, channel_id: str) -> Channel:
        """A channel on an outside platform (not the built-in website: see `site`)."""
        key = (authority, channel_id)
        made = self._channels.get(key)
        if made is not None:
            return made
        owner = self.authority(authority)
        config = owner.channel(channel_id)
        kind = channel_types()[config.type]
        if not issubclass(kind, Channel):
            raise TypeError(f"channel '{channel_id}' is a {config.type}, published through its site")
        context = self.context(owner, channel_id)  # outside the lock: it may make the site
        with self._lock:
            if key not in self._channels:
                self._channels[key] = kind(config, context)
            return self._channels[key]

    def site(self, authority: str, channel_id: str | None = None) -> Site:
        """The authority's built-in website (``channel_id``, or the first it has): the publisher
        of record."""
        owner = self.authority(authority)
        configs = [c for c in owner.channels if is_site(channel_types()[c.type])]
        config = next(c for c in configs if c.id == channel_id) if channel_id else configs[0]
        key = (authority, config.id)
        with self._lock:
            if key not in self._sites:
                runtime = self.runtime
                self._sites[key] = Site(config, owner, clock=lambda: self.clock(), data_dir=runtime.data_dir,
                                        templates=runtime.templates_dir)  # fmt: skip
            return self._sites[key]

    def sites(self, authority: str) -> list[Site]:
        """All of the authority's built-in websites (usually one)."""
        owner = self.authority(authority)
        return [self.site(authority, c.id) for c in owner.channels if is_site(channel_types()[c.type])]

    def close_channels(self) -> None:
        """Let channels finish work they held back for a moment (the website's list rewrite)."""
        with self._lock:
            channels: list[Channel | Site] = [*self._channels.values(), *self._sites.values()]
        for channel in channels:
            try:
                channel.close()
            except Exception:
                log.exception("closing a channel failed", channel=channel.id)


def queue_for(task: TaskName, kind: str, wave: int | None = None) -> Queue:
    """The lane a task runs in: the site's (no platform calls), else warnings' or news'. ``wave``
    is given for the built-in website's deliveries only (other wave-1 channels call servers)."""
    if task in {"advance", "refresh"} or (task == "deliver" and wave == WAVES.record):
        return "site"
    return "warnings" if kind == Kind.warning else "news"
