"""A runner that runs nothing by itself: the test calls the task functions in the order it needs."""

from __future__ import annotations

import threading

from publisher.edges.wiring import Herold
from publisher.engine import tasks
from publisher.engine.runner import Queue, TaskName


class ByHand:
    def __init__(self) -> None:
        self.queued: list[tuple[TaskName, str]] = []
        self.lanes: dict[str, Queue] = {}  # the lane each argument was last queued in
        self.lock = threading.Lock()

    def submit(self, task: TaskName, argument: str, *, queue: Queue, delay: float = 0.0) -> None:
        with self.lock:
            self.queued.append((task, argument))
            self.lanes[argument] = queue

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def take(self, task: TaskName) -> list[str]:
        """The arguments of the queued tasks of one name, taken off the queue (to run by hand)."""
        with self.lock:
            taken = [argument for name, argument in self.queued if name == task]
            self.queued = [(name, argument) for name, argument in self.queued if name != task]
        return taken

    def drain(self, herold: Herold) -> None:
        """Run whatever follow-up work the engine asked for, until there is none."""
        for _ in range(100):
            with self.lock:
                if not self.queued:
                    return
                task, argument = self.queued.pop(0)
            tasks.run(herold.engine, task, argument)
