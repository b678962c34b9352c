"""Where task functions run: in this process (embedded default) or on Celery workers.

The task functions (publisher.tasks) are the same either way; a runner only decides where
and when they are called. Work never lives only in a runner: every delivery's state and due
time are in the database, and a periodic sweep finds whatever a runner lost (a crash, a
flushed Redis). So the embedded runner needs no timers of its own: its sweep every half
second is its clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, Protocol

import structlog

Queue = Literal["site", "warnings", "news"]
TaskName = Literal["deliver", "advance", "refresh", "notify", "limits", "mirror", "credentials"]

log = structlog.get_logger("herold.runner")


class Runner(Protocol):
    def submit(self, task: TaskName, argument: str, *, queue: Queue, delay: float = 0.0) -> None:
        """Run ``task(argument)`` on ``queue``, not before ``delay`` seconds from now."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class EmbeddedRunner:
    """Thread pools in this process, one per queue: routine news never delays a warning, and
    platforms that hang never delay the own website."""

    def __init__(
        self,
        call: Callable[[TaskName, str], None],
        sweep: Callable[[], None],
        *,
        workers: int = 8,
        tick: float = 0.5,
    ) -> None:
        self._call = call
        self._sweep = sweep
        self._tick = tick
        self._pools: dict[Queue, ThreadPoolExecutor] = {
            "site": ThreadPoolExecutor(max(2, workers // 4), thread_name_prefix="herold-site"),
            "warnings": ThreadPoolExecutor(workers, thread_name_prefix="herold-warnings"),
            "news": ThreadPoolExecutor(max(2, workers // 2), thread_name_prefix="herold-news"),
        }
        # The sweep finds due work again and again; run each piece of work once at a time.
        self._queued: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None

    def submit(self, task: TaskName, argument: str, *, queue: Queue, delay: float = 0.0) -> None:
        if delay > 0:
            return  # the due time is in the database; the sweep submits it when it comes
        key = (task, argument)
        with self._lock:
            if key in self._queued or self._stopping.is_set():
                return
            self._queued.add(key)
        self._pools[queue].submit(self._run, task, argument)

    def _run(self, task: TaskName, argument: str) -> None:
        with self._lock:
            self._queued.discard((task, argument))
        try:
            self._call(task, argument)
        except Exception:
            log.exception("task failed", task=task, argument=argument)

    def start(self) -> None:
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._loop, name="herold-sweep", daemon=True)
            self._ticker.start()

    def _loop(self) -> None:
        while not self._stopping.wait(self._tick):
            try:
                self._sweep()
            except Exception:
                log.exception("sweep failed")

    def stop(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
