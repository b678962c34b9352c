"""Limits on what Herold accepts: cheap to check, whatever is sent."""

from __future__ import annotations

from typing import Any

from publisher.domain.limits import LIMITS, nesting

from conftest import warning


def test_an_announcement_nests_far_less_deeply_than_the_limit() -> None:
    document = warning(
        area={"description": "x", "polygons": [[[50.0, 7.0]] * 4]}, translations={"en": {"headline": "x"}}
    )
    assert nesting(document) == 5 < LIMITS.nesting


def test_a_hostile_depth_is_measured_no_further_than_just_past_the_limit() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]

    assert nesting(deep) == LIMITS.nesting + 1


def test_scalars_and_flat_documents() -> None:
    assert nesting("text") == 0
    assert nesting({}) == 1
    assert nesting({"a": [1, 2, {"b": None}]}) == 3
