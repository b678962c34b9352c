"""What a delivery costs the database: at most 8 statements in at most 3 transactions, and no
more work for SQLite after years of warnings than on the first day.

Counted on the thread that runs one `deliver` task, from the claim to the release of the next
wave: claim and read what the attempt needs, record the outcome with its audit entry, and apply
the plan. The site writes files and publishing on a platform is its own business; neither reads
the database.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from publisher.edges.wiring import Herold
from publisher.engine import tasks
from publisher.engine.schema import Base, OperationState
from publisher.sources.intake import accept

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, warning
from fakes.channels import Journal
from fakes.runner import ByHand

STATEMENTS, TRANSACTIONS = 8, 3


@dataclass
class Count:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0


@contextmanager
def counted(engine: Engine) -> Iterator[Count]:
    """Statements and transactions of this thread only (the runner's other threads are not ours)."""
    count, me = Count(), threading.get_ident()

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if threading.get_ident() == me:
            count.statements.append(sql.split(None, 1)[0])

    def begin(_conn: Any) -> None:
        if threading.get_ident() == me:
            count.transactions += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", begin)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "begin", begin)


def herold_with_a_fediverse_channel(
    make_settings: SettingsFactory, make_herold: HeroldFactory, database_url: str, runner: ByHand
) -> Herold:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"] = [*authority["channels"], {"id": "fedi", "type": "fake-fediverse"},
                             {"id": "other", "type": "fake-other"}]  # fmt: skip
    return make_herold(make_settings(authorities=[authority], database_url=database_url), runner=runner)


def deliver(herold: Herold, runner: ByHand, channel: str, announcement_id: str) -> Count:
    [operation] = [o for o in herold.store.operations.of(announcement_id, publishing=True) if o.channel == channel]
    assert operation.id in runner.take("deliver")
    with counted(herold.store.engine) as count:
        tasks.deliver(herold.engine, operation.id)
    done = herold.store.operations.get(operation.id)
    assert done is not None and done.state is OperationState.succeeded
    return count


def test_each_delivery_of_a_warning_and_its_update_stays_within_the_budget(
    make_settings: SettingsFactory, make_herold: HeroldFactory, database_url: str, journal: Journal
) -> None:
    runner = ByHand()
    herold = herold_with_a_fediverse_channel(make_settings, make_herold, database_url, runner)
    alert = accept(herold.engine, warning(), source="test", actor="tester")
    tasks.advance(herold.engine, alert)
    counts = {"website": deliver(herold, runner, "website", alert)}  # releases the next waves
    counts["fedi"] = deliver(herold, runner, "fedi", alert)
    counts["other"] = deliver(herold, runner, "other", alert)
    runner.drain(herold)
    update = accept(herold.engine, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"),
                    source="test", actor="tester")  # fmt: skip
    tasks.advance(herold.engine, update)
    counts["website update"] = deliver(herold, runner, "website", update)
    counts["fedi reply"] = deliver(herold, runner, "fedi", update)

    for what, count in counts.items():
        assert len(count.statements) <= STATEMENTS, f"{what}: {count.statements}"
        assert count.transactions <= TRANSACTIONS, f"{what}: {count.transactions} transactions"
    assert journal.of("fedi")[1].in_reply_to is not None, "the update went out as a reply"


def test_an_idle_sweep_asks_the_database_once(herold: Herold) -> None:
    """Every half second in-process: one statement says that nothing is due, rather than one per
    kind of work (leases, retries, checks, notifications, unpins, hand-offs)."""
    tasks.sweep(herold.engine)
    with counted(herold.store.engine) as count:
        tasks.sweep(herold.engine)
    assert count.statements == ["SELECT"]
    assert count.transactions <= 1


# -- what it reads does not grow with the history ---------------------------------------------------


@dataclass
class Steps:
    """SQLite's own count of the steps its statements take (its progress handler, every 100)."""

    hundreds: int = 0
    counting: bool = False

    def tick(self) -> int:
        if self.counting:
            self.hundreds += 1
        return 0  # go on


@contextmanager
def stepped(engine: Engine) -> Iterator[Steps]:
    steps = Steps()

    def statement(connection: Any, *_: Any) -> None:
        connection.connection.driver_connection.set_progress_handler(steps.tick, 100)

    event.listen(engine, "before_cursor_execute", statement)
    steps.counting = True
    try:
        yield steps
    finally:
        steps.counting = False
        event.remove(engine, "before_cursor_execute", statement)


def one_warning(herold: Herold, runner: ByHand, number: int) -> int:
    """A warning's whole path (intake, the website, the fediverse, the copy on the page) and a
    sweep after it: the steps SQLite took, in hundreds."""
    with stepped(herold.store.engine) as steps:
        accept(herold.engine, warning(headline=f"Fliegerbombe Nummer {number}"), source="test", actor="tester")
        runner.drain(herold)
        tasks.sweep(herold.engine)
    assert not runner.queued
    return steps.hundreds


def lengthen_history(engine: Engine, times: int) -> None:
    """Every item, announcement, variant and operation there is, ``times`` more times (with ids of
    their own): a long history of finished deliveries, made in a moment."""
    tables = {name: Base.metadata.tables[name] for name in ("items", "announcements", "variants", "operations")}
    own = {"id", "item_id", "announcement_id", "path", "idempotency_key"}
    with engine.begin() as connection:
        for copy_number in range(times):
            suffix = f"'-{copy_number}'"
            for name, table in tables.items():
                key = "announcement_id" if name == "variants" else "id"
                columns = [column.name for column in table.columns]
                values = [
                    f'"{c}" || {suffix}' if c in own
                    else f"CASE WHEN target_id = '' THEN '' ELSE target_id || {suffix} END" if c == "target_id"
                    else "NULL" if c == "source_id"
                    else f'"{c}"'
                    for c in columns
                ]  # fmt: skip
                named = ", ".join(f'"{c}"' for c in columns)
                connection.exec_driver_sql(
                    f"INSERT INTO {name} ({named}) SELECT {', '.join(values)} FROM {name} WHERE length({key}) = 36"
                )


def test_what_a_warning_reads_does_not_grow_with_the_history(
    make_settings: SettingsFactory, make_herold: HeroldFactory, tmp_path: Path, journal: Journal
) -> None:
    """A statement that found its rows among every finished operation (through the index on
    state, or a join SQLite materialises) costs more with every warning ever sent; one that finds
    them by the announcement, the item or the pins costs the same after years."""
    runner = ByHand()
    herold = herold_with_a_fediverse_channel(make_settings, make_herold, f"sqlite:///{tmp_path / 'h.db'}", runner)
    for number in range(5):
        one_warning(herold, runner, number)
    short = min(one_warning(herold, runner, number) for number in range(5, 8))
    lengthen_history(herold.store.engine, 60)  # the 8 warnings so far, 61 times over
    long = min(one_warning(herold, runner, number) for number in range(8, 11))
    assert long <= short * 1.25, f"{short * 100} steps with a short history, {long * 100} with a long one"
