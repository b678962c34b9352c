"""Wrong API tokens from one address: refused for a while after too many, and said once."""

from __future__ import annotations

from publisher.edges.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_twentieth_failure_within_a_minute_locks_the_address_out_once() -> None:
    clock = Clock()
    throttle = Throttle(limit=20, window=60, lockout=300, clock=clock)

    locked = [throttle.failed("203.0.113.7") for _ in range(20)]

    assert locked == [False] * 19 + [True]
    assert throttle.refused_for("203.0.113.7") == 300
    assert throttle.refused_for("198.51.100.1") == 0, "other addresses are not affected"


def test_failures_spread_over_more_than_the_window_never_lock_out() -> None:
    clock = Clock()
    throttle = Throttle(limit=20, window=60, lockout=300, clock=clock)

    for _ in range(100):
        assert throttle.failed("203.0.113.7") is False
        clock.now += 4  # 15 a minute

    assert throttle.refused_for("203.0.113.7") == 0


def test_the_lockout_ends_by_itself() -> None:
    clock = Clock()
    throttle = Throttle(limit=2, window=60, lockout=300, clock=clock)
    throttle.failed("a")
    throttle.failed("a")

    clock.now += 299
    assert throttle.refused_for("a") == 1
    clock.now += 1
    assert throttle.refused_for("a") == 0
    assert throttle.failed("a") is False, "it starts counting afresh"


def test_addresses_that_stopped_failing_are_forgotten() -> None:
    clock = Clock()
    throttle = Throttle(limit=20, window=60, lockout=300, clock=clock)
    for n in range(10_000):  # one wrong token each from ten thousand addresses
        throttle.failed(f"2001:db8::{n:x}")
    assert throttle.tracked() == 10_000

    clock.now += 61
    throttle.failed("2001:db8::ffff")

    assert throttle.tracked() == 1
