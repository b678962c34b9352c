"""The in-process runner: separate pools for warnings and news, each piece of work once at a time,
and the sweep as its only clock."""

from __future__ import annotations

import threading
import time

from publisher.engine.runner import EmbeddedRunner, TaskName

from helpers import eventually


def test_a_burst_of_news_never_delays_a_warning() -> None:
    news_running = threading.Event()
    release = threading.Event()
    done: list[str] = []

    def call(task: TaskName, argument: str) -> None:
        if argument.startswith("news"):
            news_running.set()
            release.wait(10)
        done.append(argument)

    runner = EmbeddedRunner(call, lambda: None, workers=2)
    try:
        for number in range(20):
            runner.submit("deliver", f"news-{number}", queue="news")
        assert news_running.wait(5)
        runner.submit("deliver", "warning-1", queue="warnings")
        deadline = time.monotonic() + 5
        while "warning-1" not in done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "warning-1" in done, "the warning ran while every news thread was busy"
    finally:
        release.set()
        runner.stop()


def test_work_already_queued_is_not_queued_twice() -> None:
    gate = threading.Event()
    calls: list[str] = []

    def call(task: TaskName, argument: str) -> None:
        gate.wait(5)
        calls.append(argument)

    runner = EmbeddedRunner(call, lambda: None, workers=1)
    try:
        runner.submit("advance", "blocker", queue="warnings")
        for _ in range(5):
            runner.submit("deliver", "same", queue="warnings")  # the sweep finding the same due work again
        gate.set()
        eventually(lambda: "same" in calls)
        time.sleep(0.1)
    finally:
        runner.stop()
    assert calls.count("same") == 1


def test_delayed_work_is_left_to_the_sweep_which_runs_on_its_own_clock() -> None:
    sweeps: list[float] = []
    calls: list[str] = []
    runner = EmbeddedRunner(lambda task, argument: calls.append(argument), lambda: sweeps.append(time.monotonic()),
                            tick=0.05)  # fmt: skip
    runner.start()
    try:
        runner.submit("deliver", "later", queue="warnings", delay=5)
        time.sleep(0.4)
    finally:
        runner.stop()
    assert calls == []
    assert len(sweeps) >= 3


def test_a_failing_task_does_not_stop_the_others() -> None:
    calls: list[str] = []

    def call(task: TaskName, argument: str) -> None:
        calls.append(argument)
        if argument == "broken":
            raise RuntimeError("a bug")

    runner = EmbeddedRunner(call, lambda: None, workers=1)
    try:
        runner.submit("deliver", "broken", queue="warnings")
        runner.submit("deliver", "fine", queue="warnings")
        eventually(lambda: "fine" in calls)
    finally:
        runner.stop()
    assert calls == ["broken", "fine"]
