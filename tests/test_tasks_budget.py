"""What a delivery costs the database: at most 8 statements in at most 3 transactions.

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
from typing import Any

from sqlalchemy import Engine, event

from publisher.edges.wiring import Herold
from publisher.engine import tasks
from publisher.engine.schema import OperationState
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
