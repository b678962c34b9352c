"""Leases on running attempts, kept alive while the attempt runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from publisher.engine.engine import Engine
from publisher.engine.store import Operation

log = structlog.get_logger("herold.leases")


class LeaseKeeper:
    """Renews the leases of the attempts running in this process, every third of the lease: a
    short lease hands a dead worker's delivery on quickly, renewal keeps a slow but living one
    (image uploads) from being handed on. One thread for all attempts, not one per attempt."""

    TICK = 1.0  # seconds between looks; leases are tens of seconds

    def __init__(self) -> None:
        self._held: dict[int, tuple[Engine, Operation, float]] = {}  # key -> (engine, claim, renewed at)
        self._lock = threading.Lock()
        self._wake = threading.Event()  # a new attempt due before the next look: look again sooner
        self._next_look = 0.0  # monotonic time of the keeper's next look
        self._thread: threading.Thread | None = None

    @contextmanager
    def kept(self, engine: Engine, claimed: Operation) -> Iterator[None]:
        key = id(claimed)
        with self._lock:
            self._held[key] = (engine, claimed, time.monotonic())
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="herold-leases", daemon=True)
                self._thread.start()
            if time.monotonic() + engine.lease.total_seconds() / 3 < self._next_look:
                self._wake.set()  # only short leases (tests): a 60 s lease is renewed after 20 s
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                held = list(self._held.items())
            # Sleep until the first renewal is due (short leases in tests), at most a TICK.
            now = time.monotonic()
            due = [renewed + engine.lease.total_seconds() / 3 - now for _, (engine, _, renewed) in held]
            pause = max(0.05, min([self.TICK, *due]))
            with self._lock:
                self._next_look = time.monotonic() + pause
            self._wake.wait(pause)
            self._wake.clear()
            # Due renewals, per engine (tests run several): one transaction each.
            groups: dict[int, list[tuple[int, Engine, Operation]]] = {}
            for key, (engine, claimed, renewed) in held:
                if time.monotonic() - renewed >= engine.lease.total_seconds() / 3:
                    groups.setdefault(id(engine), []).append((key, engine, claimed))
            for group in groups.values():
                engine = group[0][1]
                try:
                    kept: list[bool | None] = list(
                        engine.store.operations.renew_all(
                            [claimed for _, _, claimed in group], engine.clock(), engine.lease
                        )
                    )
                except Exception:
                    log.exception("renewing leases failed; trying again", operations=[c.id for _, _, c in group])
                    kept = [None] * len(group)
                every = engine.lease.total_seconds() / 3
                with self._lock:
                    for (key, _, claimed), renewed_ok in zip(group, kept, strict=True):
                        if key not in self._held:
                            continue  # the attempt ended meanwhile
                        if renewed_ok is False:  # finished or taken over: nothing left to keep
                            del self._held[key]
                        else:  # renewed, or try again in a TICK
                            at = time.monotonic() if renewed_ok else time.monotonic() - every + self.TICK
                            self._held[key] = (engine, claimed, at)


leases = LeaseKeeper()
