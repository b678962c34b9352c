"""Routing rules: the authority's rules, tried in order, decide what becomes of each warning a
warning system brings (publish at once, draft for approval, ignore) and on which channels; the
first that matches decides, and without one the integration's own decision applies.

Where a warning applies is read from its geocodes (regional keys nest, other codes match
exactly) and its polygons (any overlap counts, touching too). Nothing a mapper can produce makes
routing raise.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from publisher.core.routing import DEFAULT_RULE, codes_match, explain, in_area, route
from publisher.domain.authority import Authority, AuthorityArea, Integration
from publisher.sources.cap import parse_cap

from conftest import AUTHORITY, FIXTURES

WINDBOEEN = parse_cap((FIXTURES / "cap" / "dwd-alert-windboeen-2023-06-22.xml").read_bytes()).document
STARKREGEN = parse_cap((FIXTURES / "cap" / "dwd-update-starkregen-2023-06-23.xml").read_bytes()).document

DWD = Integration(id="dwd", format="cap", token_env="DWD_TOKEN", decision="draft", channels=["website"])
NINA = Integration(id="nina", format="nina", token_env="NINA_TOKEN", decision="publish")
CHANNELS = [{"id": "website", "type": "website"}, {"id": "radio", "type": "website"}]

KOELN = "053150000000"  # the ARS of Köln, a kreisfreie Stadt: a Kreis of its own
# A square of about 10 km around Köln's centre, as [latitude, longitude] like CAP.
# Two overlapping rings, the second one's first corner doubled: GEOS could not compare the two
# as one collection ("cannot compute the quadrant"), found by the property test below.
TOUCHING_RINGS = [[[51.0, 7.0], [51.0, 6.875], [50.875, 7.0]],
                  [[51.0, 6.875], [51.0, 6.875], [50.875, 7.0], [51.0, 7.0]]]  # fmt: skip
KOELN_SQUARE = [[50.89, 6.90], [50.89, 7.02], [50.98, 7.02], [50.98, 6.90], [50.89, 6.90]]


def authority(*rules: dict[str, Any], area: dict[str, Any] | None = None) -> Authority:
    return Authority.model_validate({**AUTHORITY, "channels": CHANNELS, "integrations": [DWD, NINA],
                                     "rules": list(rules), **({"area": area} if area else {})})  # fmt: skip


def rule(name: str = "the rule", decision: str = "publish", **conditions: Any) -> dict[str, Any]:
    return {"name": name, "decision": decision, **conditions}


def warning(**changes: Any) -> dict[str, Any]:
    """A warning as the CAP mapper makes it: severe storm over Köln."""
    document: dict[str, Any] = {
        "kind": "warning", "msg_type": "alert", "status": "actual", "category": "met", "event": "ORKANBÖEN",
        "severity": "severe", "urgency": "immediate", "certainty": "likely",
        "headline": "Amtliche WARNUNG vor ORKANBÖEN",
        "description": "Es treten Orkanböen auf.", "instruction": "Bleiben Sie in Gebäuden.",
        "area": {"description": "Stadt Köln", "geocodes": [{"name": "ARS", "value": KOELN}]},
    }  # fmt: skip
    document.update(changes)
    return document


def square(south: float, west: float, size: float) -> list[list[float]]:
    """A closed ring, [latitude, longitude] like CAP, ``size`` degrees wide."""
    return [[south, west], [south, west + size], [south + size, west + size], [south + size, west], [south, west]]


# --- order and defaults -----------------------------------------------------------------------------------------


def test_the_first_matching_rule_decides_and_those_after_it_are_not_asked() -> None:
    rules = (rule("minor: only recorded", "ignore", severities=["minor"]),
             rule("severe: at once", "publish", severities=["severe", "extreme"], channels=["radio"]),
             rule("everything else: an approver decides", "draft"))  # fmt: skip

    severe = route(authority(*rules), DWD, warning(severity="severe"))
    minor = route(authority(*rules), DWD, warning(severity="minor"))
    moderate = route(authority(*rules), DWD, warning(severity="moderate"))

    assert (severe.decision, severe.channels, severe.rule) == ("publish", ("radio",), "severe: at once")
    assert (minor.decision, minor.rule) == ("ignore", "minor: only recorded")
    assert (moderate.decision, moderate.rule) == ("draft", "everything else: an approver decides")
    assert severe.why == "severity severe"


def test_when_no_rule_matches_the_integrations_decision_and_channels_apply_and_the_audit_says_so() -> None:
    routed = route(authority(rule(severities=["extreme"], decision="ignore")), DWD, warning(severity="severe"))

    assert (routed.decision, routed.channels) == ("draft", ("website",))
    assert routed.rule == DEFAULT_RULE == "the integration's decision"
    assert routed.why == "the rule did not match: the integration dwd decides"


def test_an_authority_without_rules_routes_every_warning_as_the_integration_says() -> None:
    routed = route(authority(), NINA, warning())

    assert (routed.decision, routed.channels, routed.rule) == ("publish", None, DEFAULT_RULE)
    assert routed.why == "no rules: the integration nina decides"


def test_a_rule_that_names_no_channels_keeps_the_integrations() -> None:
    assert route(authority(rule(decision="publish")), DWD, warning()).channels == ("website",)
    assert route(authority(rule(decision="publish")), NINA, warning()).channels is None  # all of them


def test_explain_gives_every_rules_answer_in_order_with_the_condition_that_failed() -> None:
    rules = (rule("extreme", severities=["extreme"]), rule("from NINA", sources=["nina"]), rule("any"))

    verdicts = explain(authority(*rules), DWD, warning(severity="severe"))

    assert [(v.rule, v.matched, v.why) for v in verdicts] == [
        ("extreme", False, "severity severe, not extreme"),
        ("from NINA", False, "from dwd, not nina"),
        ("any", True, "it matches every warning"),
    ]


# --- each condition narrows -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "changes", "matches"),
    [
        pytest.param({"sources": ["dwd"]}, {}, True, id="source"),
        pytest.param({"sources": ["nina"]}, {}, False, id="other-source"),
        pytest.param({"events": ["orkanböen", "Sturm"]}, {}, True, id="event-any-case"),
        pytest.param({"events": ["Orkanböen"]}, {"event": " ORKANBÖEN  "}, True, id="event-spaces"),
        pytest.param({"events": ["Orkan"]}, {}, False, id="event-whole-name-only"),
        pytest.param({"events": ["Orkanböen"]}, {"event": None}, False, id="no-event"),
        pytest.param({"event_codes": ["bbk-evc-040"]},
                     {"event_codes": [{"name": "profile:DE-BBK-EVENTCODE:01.00R", "value": "BBK-EVC-040"}]}, True,
                     id="event-code-any-name"),
        pytest.param({"event_codes": [{"name": "II", "value": "51"}]},
                     {"event_codes": [{"name": "GROUP", "value": "WIND"}, {"name": "II", "value": "51"}]}, True,
                     id="event-code-named"),
        pytest.param({"event_codes": [{"name": "II", "value": "51"}]}, {"event_codes": [{"name": "X", "value": "51"}]},
                     False, id="event-code-other-name"),
        pytest.param({"event_codes": ["BBK-EVC-040"]}, {}, False, id="no-event-codes"),
        pytest.param({"severities": ["Severe", "extreme"]}, {}, True, id="severity"),
        pytest.param({"severities": ["severe"]}, {"severity": "Severe"}, True, id="severity-as-json-senders-write-it"),
        pytest.param({"severities": ["minor"]}, {}, False, id="other-severity"),
        pytest.param({"severities": ["unknown"]}, {"severity": None}, False, id="no-severity"),
        pytest.param({"urgencies": ["immediate"]}, {}, True, id="urgency"),
        pytest.param({"urgencies": ["future"]}, {}, False, id="other-urgency"),
        pytest.param({"geocodes": ["ARS:053150000000"]}, {}, True, id="geocode"),
        pytest.param({"geocodes": ["ARS:053140000000"]}, {}, False, id="other-geocode"),
        pytest.param({"geocodes": [{"name": "ars", "value": "050000000000"}]}, {}, True, id="geocode-whole-land"),
        pytest.param({"geocodes": ["ARS:053150000000"]}, {"area": None}, False, id="no-area"),
        pytest.param({"sources": ["dwd"], "severities": ["severe"], "urgencies": ["immediate"]}, {}, True,
                     id="all-hold"),
        pytest.param({"sources": ["dwd"], "severities": ["severe"], "urgencies": ["expected"]}, {}, False,
                     id="one-fails"),
    ],
)  # fmt: skip
def test_each_condition_a_rule_sets_must_hold_and_any_value_it_lists_will_do(
    conditions: dict[str, Any], changes: dict[str, Any], matches: bool
) -> None:
    routed = route(authority(rule("narrow", "ignore", **conditions)), DWD, warning(**changes))

    assert (routed.rule == "narrow") is matches, routed.why


# --- geocodes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        pytest.param(("ARS", KOELN), ("ARS", KOELN), True, id="same-key"),
        # A warning for the Kreis concerns a Gemeinde in it, and one for the Gemeinde its Kreis.
        pytest.param(("ARS", "053820000000"), ("ARS", "053820068068"), True, id="kreis-contains-gemeinde"),
        pytest.param(("ARS", "053820068068"), ("ARS", "053820000000"), True, id="gemeinde-lies-in-kreis"),
        pytest.param(("ARS", "053820068068"), ("ARS", "053820068000"), True, id="gemeinde-in-verband"),
        pytest.param(("ARS", "050000000000"), ("ARS", "053820068068"), True, id="land-contains-gemeinde"),
        pytest.param(("ARS", "000000000000"), ("ARS", "160700000000"), True, id="germany-contains-everything"),
        pytest.param(("ARS", "053820068068"), ("ARS", "053820072072"), False, id="two-gemeinden-of-one-kreis"),
        pytest.param(("ARS", KOELN), ("ARS", "053140000000"), False, id="neighbouring-kreise"),
        # Levels, not bare trailing zeros: Segeberg (01060) would otherwise contain Steinburg (01061).
        pytest.param(("ARS", "010600000000"), ("ARS", "010610000000"), False, id="kreis-ending-in-zero"),
        pytest.param(("ARS", "010600000000"), ("ARS", "010600044044"), True, id="kreis-ending-in-zero-contains"),
        pytest.param(("SHN", "130750000000"), ("ARS", "130750001001"), True, id="shn-is-the-ars"),
        pytest.param(("ars", KOELN), ("Ars", KOELN), True, id="names-any-case"),
        pytest.param(("AGS", "05315000"), ("AGS", "05315000"), True, id="ags"),
        pytest.param(("AGS", "05382000"), ("AGS", "05382068"), True, id="ags-kreis-contains-gemeinde"),
        pytest.param(("AGS", "05382068"), ("AGS", "05382072"), False, id="ags-two-gemeinden"),
        pytest.param(("ARS", KOELN), ("AGS", "05315000"), False, id="ars-and-ags-are-not-compared"),
        pytest.param(("ARS", KOELN), ("WARNCELLID", KOELN), False, id="not-across-names"),
        pytest.param(("WARNCELLID", "805315000"), ("warncellid", "805315000"), True, id="warn-cell"),
        pytest.param(("WARNCELLID", "105315000"), ("WARNCELLID", "805315000"), False, id="warn-cells-exact"),
        pytest.param(("WARNCELLID", "800000000"), ("WARNCELLID", "805315000"), False, id="no-prefix-for-warn-cells"),
        pytest.param(("ARS", "05315"), ("ARS", KOELN), False, id="a-malformed-key-only-exactly"),
    ],
)  # fmt: skip
def test_regional_keys_nest_by_level_and_other_codes_match_exactly(
    first: tuple[str, str], second: tuple[str, str], same: bool
) -> None:
    assert codes_match(first, second) is same
    assert codes_match(second, first) is same


# --- the authority's area ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("polygons", "inside"),
    [
        pytest.param([square(50.95, 6.95, 0.01)], True, id="within"),
        pytest.param([square(50.5, 6.5, 1.0)], True, id="around"),
        pytest.param([square(50.97, 7.0, 0.5)], True, id="overlapping"),
        pytest.param([square(50.98, 6.95, 0.1)], True, id="touching-an-edge"),
        pytest.param([square(50.98, 7.02, 0.1)], True, id="touching-a-corner"),
        pytest.param([square(52.0, 9.0, 0.5)], False, id="far-away"),
        pytest.param([square(52.0, 9.0, 0.5), square(50.9, 6.95, 0.01)], True, id="one-of-several"),
        # A bow tie (crossing itself) over the area, repaired rather than refused.
        pytest.param([[[50.9, 6.9], [51.0, 7.0], [50.9, 7.0], [51.0, 6.9], [50.9, 6.9]]], True, id="crossing-itself"),
        pytest.param([[[50.0, 6.95], [52.0, 6.95], [50.0, 6.95], [50.0, 6.95]]], True, id="flat-ring-crossing"),
        # Longitude and latitude swapped: (6.95, 50.95) lies off the coast of Africa.
        pytest.param([[[6.9, 50.9], [6.9, 51.0], [7.0, 51.0], [7.0, 50.9], [6.9, 50.9]]], False, id="swapped"),
    ],
)  # fmt: skip
def test_a_warning_polygon_is_in_the_area_when_it_overlaps_or_touches_it(
    polygons: list[list[list[float]]], inside: bool
) -> None:
    area = AuthorityArea.model_validate({"polygons": [KOELN_SQUARE]})

    assert in_area(area, {"description": "?", "polygons": polygons}) is inside


def test_a_geocode_of_the_areas_kind_decides_even_without_shapes() -> None:
    area = AuthorityArea.model_validate({"geocodes": ["ARS:053150000000"]})

    assert in_area(area, {"geocodes": [{"name": "ARS", "value": "053150000000"}]}) is True
    assert in_area(area, {"geocodes": [{"name": "ARS", "value": "050000000000"}]}) is True, "all of the Land"
    assert in_area(area, {"geocodes": [{"name": "ARS", "value": "091620000000"}]}) is False, "München"
    assert in_area(area, {"geocodes": [{"name": "WARNCELLID", "value": "805315000"}]}) is None, "no common kind"
    assert in_area(area, {"polygons": [square(50.9, 6.9, 0.1)]}) is None, "the area has no outline"
    assert in_area(area, {}) is None


def test_a_polygon_touching_the_area_counts_when_its_codes_are_elsewhere() -> None:
    area = AuthorityArea.model_validate({"geocodes": ["ARS:053150000000"], "polygons": [KOELN_SQUARE]})
    elsewhere = {"geocodes": [{"name": "ARS", "value": "053620000000"}], "polygons": [square(50.95, 6.8, 0.15)]}

    assert in_area(area, elsewhere) is True


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        pytest.param({}, "in", id="in"),
        pytest.param({"area": {"description": "München", "geocodes": [{"name": "ARS", "value": "091620000000"}]}},
                     "out", id="out"),
        pytest.param({"area": {"description": "irgendwo", "geocodes": [{"name": "WARNCELLID", "value": "1"}]}},
                     "unknown", id="cannot-tell"),
        pytest.param({"area": None}, "unknown", id="no-area"),
    ],
)  # fmt: skip
def test_in_authority_area_true_or_false_matches_only_when_the_warning_says_enough_to_tell(
    changes: dict[str, Any], says: str
) -> None:
    here = authority(rule("here", in_authority_area=True), rule("elsewhere", "ignore", in_authority_area=False),
                     area={"geocodes": ["ARS:053150000000"]})  # fmt: skip

    routed = route(here, DWD, warning(**changes))

    assert routed.rule == {"in": "here", "out": "elsewhere", "unknown": DEFAULT_RULE}[says], routed.why
    if says == "unknown":
        assert "cannot tell" in explain(here, DWD, warning(**changes))[0].why


# --- real alerts --------------------------------------------------------------------------------------------------


# Bovenden (Landkreis Göttingen) is one of the 168 warn cells of the DWD's gust warning.
GOETTINGEN = {"geocodes": ["WARNCELLID:803159007", "WARNCELLID:803159016"]}
DWD_RULES = (
    rule("DWD: minor weather only recorded", "ignore", sources=["dwd"], severities=["minor"]),
    rule("Severe weather here: at once", "publish", sources=["dwd"], severities=["extreme", "severe"],
         in_authority_area=True, channels=["website", "radio"]),
    rule("Weather here: an approver decides", "draft", in_authority_area=True),
    rule("Weather elsewhere: only recorded", "ignore", in_authority_area=False),
)  # fmt: skip


def test_a_real_dwd_gust_warning_finds_the_authority_by_one_of_its_warn_cells() -> None:
    goettingen = authority(*DWD_RULES[2:], area=GOETTINGEN)

    routed = route(goettingen, DWD, WINDBOEEN)

    assert (routed.decision, routed.rule) == ("draft", "Weather here: an approver decides")
    assert routed.why == "in the authority's area"
    assert route(authority(*DWD_RULES, area=GOETTINGEN), DWD, WINDBOEEN).rule == "DWD: minor weather only recorded"


def test_a_real_dwd_warning_elsewhere_is_outside_by_its_warn_cells_and_by_its_polygon() -> None:
    by_cells = authority(*DWD_RULES[2:], area={"geocodes": ["WARNCELLID:805315000"]})  # Köln
    by_outline = authority(*DWD_RULES[2:], area={"polygons": [KOELN_SQUARE]})

    assert route(by_cells, DWD, WINDBOEEN).rule == "Weather elsewhere: only recorded"
    assert route(by_outline, DWD, WINDBOEEN).rule == "Weather elsewhere: only recorded"
    assert route(by_outline, DWD, STARKREGEN).rule == "Weather elsewhere: only recorded"


def test_a_real_dwd_polygon_reaches_an_outline_it_crosses() -> None:
    # A square around Hildesheim, inside the gust warning's "polygonal event area".
    hildesheim = authority(*DWD_RULES[2:], area={"polygons": [square(52.1, 9.9, 0.1)]})

    assert route(hildesheim, DWD, WINDBOEEN).rule == "Weather here: an approver decides"


# --- never raises -----------------------------------------------------------------------------------------------

_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_coordinate = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-90, 90) | st.integers(-200, 200)
_point = st.lists(_coordinate, min_size=0, max_size=3) | _any_json
_ring = st.lists(_point, max_size=8) | st.lists(st.tuples(st.floats(50.8, 51.1), st.floats(6.8, 7.1)).map(list),
                                                 min_size=1, max_size=8)  # fmt: skip
_code = st.fixed_dictionaries({"name": st.sampled_from(["ARS", "SHN", "AGS", "ars", "WARNCELLID", "EXCLUDE_POLYGON",
                                                        "", "Vorpommern-Greifswald"]) | _any_json,
                               "value": st.sampled_from([KOELN, "05315000", "000000000000", "0531500000", "",
                                                         "805315000"]) | st.text(max_size=14) | _any_json})  # fmt: skip
_area = st.fixed_dictionaries(
    {}, optional={"description": st.text(max_size=10), "geocodes": st.lists(_code, max_size=5) | _any_json,
                  "polygons": st.lists(_ring, max_size=3) | _any_json}
) | _any_json  # fmt: skip
_word = st.sampled_from(["severe", "Minor", "EXTREME", "immediate", "ORKANBÖEN", ""]) | _any_json
_document = st.fixed_dictionaries(
    {}, optional={"kind": _word, "msg_type": _word, "status": _word, "event": _word, "severity": _word,
                  "urgency": _word, "event_codes": st.lists(_code, max_size=3) | _any_json, "area": _area}
)  # fmt: skip
_EVERY_RULE = authority(
    rule("events", events=["Orkanböen"]), rule("codes", event_codes=["BBK-EVC-040", {"name": "II", "value": "51"}]),
    rule("severities", severities=["extreme"], urgencies=["immediate"]),
    rule("geocodes", geocodes=["ARS:053150000000", "AGS:05315000", "WARNCELLID:805315000"]),
    rule("here", in_authority_area=True), rule("elsewhere", in_authority_area=False),
    area={"geocodes": ["ARS:053150000000", "WARNCELLID:805315000"], "polygons": [KOELN_SQUARE]},
)  # fmt: skip


@pytest.mark.parametrize(
    ("polygons", "inside"),
    [
        # What is left (a line of two good points, inside the area) still counts.
        pytest.param([[[10**400, 7.0], [50.9, 7.0], [50.9, 6.9], [10**400, 7.0]]], True,
                     id="integer-too-large-for-a-float"),
        pytest.param([[[float("nan"), 7.0], [50.9, float("inf")], [50.9, 6.95], [50.95, 6.95]]], True,
                     id="nan-and-infinity"),
        pytest.param([[[50.95, 6.95]] * 5], True, id="one-point-five-times"),
        pytest.param([[[50.9, 7.0, 3.0], [True, False], "50.9,7.0", None, {}]], None, id="no-points-at-all"),
        pytest.param([[]], None, id="empty-ring"),
        pytest.param("52.0,9.0 52.0,9.1 52.1,9.1 52.0,9.0", None, id="cap-text-not-lists"),
    ],
)  # fmt: skip
def test_coordinates_no_shape_can_be_made_of_are_passed_over_not_raised_for(polygons: Any, inside: bool | None) -> None:
    area = AuthorityArea.model_validate({"polygons": [KOELN_SQUARE]})

    assert in_area(area, {"polygons": polygons}) is inside


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document)
@example({"area": {"polygons": TOUCHING_RINGS}})
def test_routing_never_raises_for_anything_shaped_like_a_mapped_warning(document: dict[str, Any]) -> None:
    routed = route(_EVERY_RULE, DWD, document)

    assert routed.decision in {"publish", "draft", "ignore"}
    assert routed.rule in {*(r.name for r in _EVERY_RULE.rules), DEFAULT_RULE}
    assert "\n" not in routed.why


def test_a_warning_of_overlapping_rings_is_compared_ring_by_ring() -> None:
    north_of_it = [[[lat + 1, lon] for lat, lon in ring] for ring in TOUCHING_RINGS]
    area = AuthorityArea.model_validate({"polygons": [KOELN_SQUARE]})

    assert in_area(area, {"polygons": TOUCHING_RINGS}) is True
    assert in_area(area, {"polygons": north_of_it}) is False


def test_an_outline_of_overlapping_rings_is_compared_as_one_area() -> None:
    # Two rings of an authority's outline that overlap: as a mere collection GEOS could not
    # compare a warning with them ("cannot compute the quadrant").
    outline = [[[2, 0], [0, 3], [0, 2], [0, 0], [2, 0]], [[3, 3], [0, 3], [0, 2], [0, 2], [3, 3]]]
    area = AuthorityArea.model_validate({"polygons": outline})

    assert in_area(area, {"polygons": [[[0, 2], [0, 3], [2, 1], [2, 1], [0, 2]]]}) is True


def test_crossing_rings_are_repaired_a_few_per_warning_and_the_rest_count_by_their_hulls() -> None:
    # A bow tie: repaired, it is two triangles meeting in the middle; its hull is the square
    # around them. The area lies in the square's left notch, outside both triangles.
    bow_tie = [[50.0, 6.0], [51.0, 7.0], [51.0, 6.0], [50.0, 7.0], [50.0, 6.0]]
    in_the_notch = AuthorityArea(polygons=[[(50.45, 6.05), (50.55, 6.05), (50.55, 6.15), (50.45, 6.15), (50.45, 6.05)]])

    assert in_area(in_the_notch, {"polygons": [bow_tie]}) is False
    assert in_area(in_the_notch, {"polygons": [bow_tie] * 24}) is False, "24 × 5 points: all repaired"
    assert in_area(in_the_notch, {"polygons": [bow_tie] * 25}) is True, "the 25th: its hull"


def test_a_long_ring_that_crosses_itself_counts_by_its_convex_hull() -> None:
    # A figure eight of 1,000 points: repairing it exactly would hold a worker for minutes; its
    # hull errs towards "in the area", where a warning is rather shown than missed.
    left = [[50.0 + 0.5 * math.sin(2 * math.pi * i / 500), 6.0 + 0.5 * math.cos(2 * math.pi * i / 500)]
            for i in range(500)]  # fmt: skip
    eight = [*left, *[[lat, lon + 1.0] for lat, lon in left], left[0]]
    # Above where the two loops meet: outside both, inside their hull.
    notch = [(50.38, 6.48), (50.38, 6.52), (50.42, 6.52), (50.42, 6.48), (50.38, 6.48)]
    assert in_area(AuthorityArea(polygons=[notch]), {"polygons": [eight]}) is True
