"""Celery on Redis: the same task functions on worker processes.

Messages carry only ids; the database holds every delivery's state. So a message may be
lost (Redis restarted empty) or delivered twice (a worker died before acknowledging): the
sweep, run by ``herold beat``, puts lost work back on the queue, and compare-and-set makes a
second run a no-op. ``herold beat`` runs the sweep itself rather than scheduling it as a task:
what repairs the queue must not wait in that queue, behind a backlog or for Redis to return.
Warnings and news have queues of their own, served by separate worker processes, so a burst
of routine news never delays a warning; the own website's work has a third ("site"), so that
platforms that hang cannot hold it up.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import Any

import structlog
from celery import Celery
from celery.signals import setup_logging, worker_shutdown

from publisher.engine import tasks
from publisher.engine.engine import Engine
from publisher.engine.runner import Queue as QueueName
from publisher.engine.runner import TaskName
from publisher.engine.settings import Runtime

log = structlog.get_logger("herold.worker")

QUEUES: tuple[QueueName, ...] = ("site", "warnings", "news")
TASKS: tuple[TaskName, ...] = ("deliver", "advance", "refresh", "notify", "limits", "mirror", "credentials")

# How a worker process builds its engine, given its own Celery app (follow-up tasks go out
# through it). Given by the edges, which compose the process; nothing here reaches up for it.
Build = Callable[[Celery], Engine]


def make_celery(runtime: Runtime, build: Build | None = None) -> Celery:
    """A Celery app on ``runtime.redis_url``. With ``build`` it runs tasks (a worker process);
    without, it only hands them on (herold serve, herold beat)."""
    app = Celery("herold", broker=runtime.redis_url, set_as_current=False)
    app.conf.update(
        # A message is acknowledged only after its task ran; a worker that dies mid-task
        # leaves it to be delivered again (compare-and-set makes that safe).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue="warnings",  # the queues themselves are created on first use
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for Redis to come back
        broker_transport_options={"visibility_timeout": 3600},
        # Submitting never blocks a press officer for long: if Redis is away, the sweep catches up.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,  # our structured logs go to stderr as they are
        worker_send_task_events=False,
    )
    if build is not None:
        _register(app, build)
    return app


_engine: Engine | None = None
_engine_lock = threading.Lock()


def _process_engine(app: Celery, build: Build) -> Engine:
    """This worker process's engine, built on first use (after Celery forked, never before)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = build(app)
            settled()
        return _engine


def settled() -> None:
    """A process has started: what it built to start (modules, settings, channels, templates)
    lives as long as it does, so the garbage collector need not walk it on every full
    collection again (about a quarter of a millisecond per announcement otherwise)."""
    gc.collect()
    gc.freeze()


def _closing(**_: Any) -> None:
    """A worker stops: work its channels held back (the website's lists) is done now."""
    if _engine is not None:
        _engine.close_channels()


worker_shutdown.connect(_closing, weak=False)


def _logging_is_ours(**_: Any) -> None:
    """Celery configures no logging of its own when anyone answers this signal: its records
    (a task's error included) go to the root logger, which publisher.edges.logs renders as JSON
    lines through the same redaction as everything else."""


setup_logging.connect(_logging_is_ours, weak=False)


def _register(app: Celery, build: Build) -> None:
    def run(name: TaskName) -> Any:
        def task(argument: str) -> None:
            tasks.run(_process_engine(app, build), name, argument)

        task.__name__ = name
        # shared=False: each app has its own tasks (Celery would otherwise add them to every app).
        return app.task(name=f"herold.{name}", ignore_result=True, shared=False)(task)

    for name in TASKS:
        run(name)


class CeleryRunner:
    """Hands tasks to Celery workers through Redis."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def submit(self, task: TaskName, argument: str, *, queue: QueueName, delay: float = 0.0) -> None:
        try:
            self.app.send_task(f"herold.{task}", args=[argument], queue=queue, countdown=delay or None)
        except Exception as error:
            # The database already holds the work; the sweep will submit it again.
            log.warning(
                "could not queue a task; the sweep will pick it up", task=task, argument=argument, reason=str(error)
            )

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass  # the app's connections close with the process
