"""Paid platforms (X charges about $0.20 for a post with a link, and every Herold post has one):
an authority sets a monthly budget per channel. Over it, news skips the channel, recorded with
the announcement; warnings still go, and on-call hears of it once a month. The preview says
what a post costs."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_tasks_budget import lengthen_history, stepped

from adapters import register, unregister
from adapters.port import Capabilities, Channel, PostPrice, Receipt, Wave
from publisher.edges.config import ConfigError, settings_from
from publisher.edges.wiring import Herold
from publisher.sources.intake import receive
from publisher.sources.preview import preview

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, news, warning
from fakes.runner import ByHand

SLUG = AUTHORITY["slug"]
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class Paid(Channel):
    type, label = "test-paid", "Bezahlplattform"
    capabilities = Capabilities(wave=Wave.other, price=PostPrice(per_post=0.015, with_link=0.20))

    def publish(self, post: object) -> Receipt:
        return Receipt(platform_id="1")


@pytest.fixture(autouse=True)
def paid() -> Iterator[None]:
    register(Paid)
    yield
    unregister(Paid.type)


@pytest.fixture
def herold(make_settings: SettingsFactory, make_herold: HeroldFactory) -> Herold:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "x", "type": "test-paid", "monthly_budget_usd": 0.40})
    authority["oncall"] = {"emails": ["leitstelle@lk-beispiel.de"]}
    settings = make_settings(authorities=[authority], smtp_host="127.0.0.1", smtp_port=1,
                             smtp_from="herold@lk-beispiel.de")  # fmt: skip
    return make_herold(settings, clock=lambda: NOW)


def channels_of(herold: Herold, announcement_id: str) -> list[str]:
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    return [o.channel for o in herold.store.operations.of(announcement_id) if o.publishes]


def test_news_within_the_budget_goes_to_the_paid_channel_and_beyond_it_skips_it_with_a_note(herold: Herold) -> None:
    first = receive(herold.engine, news(headline="Erste Nachricht"), source="api", actor="t")
    second = receive(herold.engine, news(headline="Zweite Nachricht"), source="api", actor="t")
    assert "x" in channels_of(herold, first.id) and "x" in channels_of(herold, second.id), "2 × $0.20 = $0.40"
    third = receive(herold.engine, news(headline="Dritte Nachricht"), source="api", actor="t")
    assert "x" not in channels_of(herold, third.id) and "website" in channels_of(herold, third.id)
    assert any("monthly budget of $0.40 is spent" in w.message for w in third.warnings)
    stored = herold.store.announcements.get(third.id)
    assert stored is not None and stored.announcement.channels == ["website"], "an approval later brings it not back"


def test_a_warning_beyond_the_budget_still_goes_and_on_call_hears_of_it_once_a_month(herold: Herold) -> None:
    for number in range(2):
        receive(herold.engine, news(headline=f"Nachricht {number}"), source="api", actor="t")
    for number in range(2):
        accepted = receive(herold.engine, warning(headline=f"Unwetter {number}"), source="api", actor="t")
        assert "x" in channels_of(herold, accepted.id), "a warning reaches everyone it can"
    told = [n for n in herold.store.notifications.all() if "Monatsbudget" in n.subject]
    assert len(told) == 1, "once this month"


def test_the_preview_says_what_a_post_costs(herold: Herold) -> None:
    shown = {c.channel: c.cost_usd for c in preview(herold.engine, news()).channels}
    assert shown == {"website": None, "x": 0.20}


def test_a_budget_on_a_platform_that_charges_nothing_is_a_configuration_error(tmp_path: Path) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"][0]["monthly_budget_usd"] = 5
    with pytest.raises(ConfigError, match="only for paid platforms"):
        settings_from({"herold": {"data_dir": "var"}, "authorities": [authority]}, {}, base=tmp_path)


def test_counting_a_month_s_posts_reads_as_much_after_years_of_posts_as_on_the_first_day(
    make_settings: SettingsFactory, make_herold: HeroldFactory, tmp_path: Path
) -> None:
    # Every announcement for a channel with a budget counts that channel's posts this month: by
    # its index, not among every operation there ever was.
    month = [datetime(2026, 12, 3, 9, 0, tzinfo=UTC)]
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "x", "type": "test-paid", "monthly_budget_usd": 100})
    settings = make_settings(authorities=[authority], database_url=f"sqlite:///{tmp_path / 'h.db'}")
    runner = ByHand()  # the deliveries run by hand, outside what is counted
    herold = make_herold(settings, clock=lambda: month[0], runner=runner)
    for number in range(8):
        receive(herold.engine, news(headline=f"Nachricht {number}"), source="api", actor="t")
        runner.drain(herold)

    def steps_of_one_more(at: datetime) -> int:
        month[0] = at
        with stepped(herold.store.engine) as steps:
            receive(herold.engine, news(headline=f"Nachricht {at:%B}"), source="api", actor="t")
        runner.drain(herold)
        return steps.hundreds

    short = steps_of_one_more(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    lengthen_history(herold.store.engine, 60)  # the months so far, 61 times over
    long = steps_of_one_more(datetime(2027, 2, 4, 9, 0, tzinfo=UTC))
    assert long <= short * 1.25, f"{short * 100} steps with a short history, {long * 100} with a long one"
