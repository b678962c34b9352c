"""The publication plan: own website first, then the fediverse, then everything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.core.plan import Plan, Step, plan, website_published
from publisher.domain.records import Action
from publisher.domain.records import OperationState as S

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
GRACE = timedelta(seconds=10)


def steps(
    website: S, fediverse: S | None = S.waiting, other: S = S.waiting, fediverse_released: datetime | None = None
) -> list[Step]:
    result = [Step("w", "website", 1, website)]
    if fediverse is not None:
        result.append(Step("m", "mastodon", 2, fediverse, released_at=fediverse_released))
    result.append(Step("x", "x", 3, other))
    return result


def decide(deliveries: list[Step], **kwargs: object) -> Plan:
    return plan(deliveries, now=kwargs.pop("now", NOW), grace=GRACE, **kwargs)  # type: ignore[arg-type]


def test_a_new_announcement_releases_only_its_own_website() -> None:
    decision = decide(steps(S.waiting))
    assert decision.released == {"w"}


@pytest.mark.parametrize("website", [S.pending, S.in_flight])
def test_nothing_else_starts_while_the_website_page_is_being_written(website: S) -> None:
    assert decide(steps(website)).released == set()


def test_the_fediverse_follows_the_published_page_and_the_rest_waits_for_the_grace_period() -> None:
    decision = decide(steps(S.succeeded))
    assert decision.released == {"m"}
    assert decision.releases[0].reason == "the item's website page is published"
    assert decision.check_again_at == NOW + GRACE


def test_the_rest_follows_once_the_fediverse_wave_succeeded() -> None:
    decision = decide(steps(S.succeeded, S.succeeded, fediverse_released=NOW))
    assert decision.released == {"x"}
    assert decision.releases[0].reason == "the fediverse wave succeeded"


def test_the_rest_follows_after_the_grace_period_even_if_the_fediverse_is_still_trying() -> None:
    waiting = decide(steps(S.succeeded, S.pending, fediverse_released=NOW), now=NOW + GRACE - timedelta(seconds=1))
    assert waiting.released == set()
    assert waiting.check_again_at == NOW + GRACE
    released = decide(steps(S.succeeded, S.pending, fediverse_released=NOW), now=NOW + GRACE)
    assert released.released == {"x"}
    assert released.releases[0].reason == "the grace period of 10 s after the fediverse wave passed"


def test_a_failed_fediverse_wave_does_not_delay_the_rest() -> None:
    decision = decide(steps(S.succeeded, S.failed, fediverse_released=NOW))
    assert decision.released == {"x"}
    assert "mastodon failed" in decision.releases[0].reason


def test_without_a_fediverse_channel_the_rest_follows_the_page_at_once() -> None:
    decision = decide(steps(S.succeeded, fediverse=None))
    assert decision.released == {"x"}
    assert "no fediverse channel" in decision.releases[0].reason


@pytest.mark.parametrize("failure", [S.failed, S.dead, S.unknown])
def test_a_failed_website_holds_everything_back_and_says_so(failure: S) -> None:
    decision = decide(steps(failure))
    assert decision.released == set()
    assert decision.held_back is not None and "website delivery failed" in decision.held_back
    assert decision.check_again_at is None


def test_an_override_with_a_reason_releases_the_other_waves_and_records_the_reason() -> None:
    decision = decide(steps(S.failed), override="Evakuierung läuft, Website-Server ausgefallen")
    assert decision.released == {"m", "x"}
    assert "Evakuierung läuft" in decision.releases[0].reason


def test_a_scheduled_announcement_waits_for_its_time() -> None:
    later = NOW + timedelta(hours=2)
    decision = decide(steps(S.waiting), publish_at=later)
    assert decision.released == set()
    assert decision.check_again_at == later
    assert decide(steps(S.waiting), publish_at=later, now=later).releases[0].reason == "scheduled time reached"


def test_with_two_own_websites_both_must_be_published() -> None:
    deliveries = [
        Step("w1", "website", 1, S.succeeded),
        Step("w2", "cms", 1, S.in_flight),
        Step("x", "x", 3, S.waiting),
    ]
    assert not website_published(deliveries)
    assert decide(deliveries).released == set()


states = st.sampled_from(list(S))


@given(
    wave_one=st.lists(states, min_size=1, max_size=3),
    later=st.lists(st.tuples(st.sampled_from([2, 3]), states), max_size=6),
    offset=st.integers(min_value=-100, max_value=100),
)
def test_property_no_later_wave_is_released_before_the_page_exists(
    wave_one: list[S], later: list[tuple[int, S]], offset: int
) -> None:
    """Whatever the states, without an override nothing beyond wave 1 is released unless every
    wave-1 delivery has succeeded."""
    deliveries = [Step(f"w{i}", f"site{i}", 1, s) for i, s in enumerate(wave_one)]
    deliveries += [Step(f"l{i}", f"c{i}", wave, s, released_at=NOW) for i, (wave, s) in enumerate(later)]
    decision = plan(deliveries, now=NOW + timedelta(seconds=offset), grace=GRACE)
    released_later = {d.id for d in deliveries if d.wave > 1} & decision.released
    if released_later:
        assert all(s is S.succeeded for s in wave_one)
    assert decision.released <= {d.id for d in deliveries if d.state is S.waiting}


# -- pins follow the newest state ---------------------------------------------------------------------


def follow_up_on_fediverse(post: S, pin: S = S.succeeded) -> list[Step]:
    """An update (or all-clear) on the fediverse whose unpin acts on the pin of the post before it."""
    return [
        Step("site", "website", 1, S.succeeded),
        Step("post", "fediverse", 2, post),
        Step("unpin", "fediverse", 2, S.waiting, action=Action.unpin, target_state=pin),
    ]


def test_the_earlier_pin_comes_off_once_the_follow_up_is_out() -> None:
    decided = plan(follow_up_on_fediverse(S.succeeded), now=NOW, grace=GRACE)

    assert "unpin" in decided.released and not decided.skipped


@pytest.mark.parametrize("post", [S.failed, S.dead])
def test_a_follow_up_that_did_not_go_out_leaves_the_pinned_post_pinned(post: S) -> None:
    decided = plan(follow_up_on_fediverse(post), now=NOW, grace=GRACE)

    assert decided.skipped == {"unpin"} and "unpin" not in decided.released


def test_the_pin_stays_until_the_follow_up_has_ended() -> None:
    decided = plan(follow_up_on_fediverse(S.pending), now=NOW, grace=GRACE)

    assert not decided.skipped and "unpin" not in decided.released
