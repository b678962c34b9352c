"""Too many wrong API tokens from one address: refused for a while, and said once.

Tokens are 256 bits and stored hashed, so guessing one is hopeless; but a client trying token
after token is noise at best and an attack at worst, and should be stopped and seen. Counted
per process, in memory: each server process protects itself, and nothing is written per try.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Throttle:
    """``limit`` failures within ``window`` seconds from one address lock it out for ``lockout``."""

    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        lockout: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.lockout, self.clock = limit, window, lockout, clock
        self._failures: dict[str, deque[float]] = {}
        self._locked: dict[str, float] = {}  # address -> locked until
        self._lock = threading.Lock()
        self._pruned = clock()

    def refused_for(self, address: str) -> float:
        """Seconds this address is still refused (0: it may try)."""
        with self._lock:
            until = self._locked.get(address)
            if until is None:
                return 0.0
            left = until - self.clock()
            if left <= 0:
                del self._locked[address]
                return 0.0
            return left

    def failed(self, address: str) -> bool:
        """Count one failure; True only when this one locks the address out (so it is said once)."""
        now = self.clock()
        with self._lock:
            self._forget_old(now)
            failures = self._failures.setdefault(address, deque())
            failures.append(now)
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if len(failures) < self.limit:
                return False
            del self._failures[address]
            self._locked[address] = now + self.lockout
            return True

    def tracked(self) -> int:
        """Addresses remembered at the moment (failures within the window, or locked out)."""
        with self._lock:
            return len(self._failures) + len(self._locked)

    def _forget_old(self, now: float) -> None:
        """Once a window, forget addresses with no recent failure and lockouts that ended: a
        stream of new addresses (IPv6 makes them free) must not grow memory without end."""
        if now - self._pruned < self.window:
            return
        self._pruned = now
        self._failures = {a: f for a, f in self._failures.items() if f and f[-1] > now - self.window}
        self._locked = {a: until for a, until in self._locked.items() if until > now}
