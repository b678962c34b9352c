"""The announcement document: what a press officer may send, and how Herold says what is wrong with it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from publisher.domain.announcement import (
    MAX_IMAGE_BYTES,
    Category,
    Certainty,
    Kind,
    MsgType,
    Severity,
    Urgency,
    parse_announcement,
)
from publisher.domain.problems import InvalidInput, Problem, field_path

from conftest import news, warning

# Words from pydantic's own error texts that must never reach a press officer.
JARGON = ("Input should", "pydantic", "errors.pydantic.dev", "Value error", "type=", "validation error", "[type")

FOLLOW_UP_WITHOUT_WARNING_FIELDS = {
    "severity": None,
    "category": None,
    "event": None,
    "area": None,
    "instruction": None,
}

CLOSED_RING = [[50.93, 6.95], [50.94, 6.95], [50.94, 6.97], [50.93, 6.95]]


def problems_of(document: dict[str, Any]) -> list[Problem]:
    with pytest.raises(InvalidInput) as caught:
        parse_announcement(document)
    return caught.value.problems


def by_field(document: dict[str, Any]) -> dict[str, str]:
    problems = problems_of(document)
    found = {p.field: p.message for p in problems}
    assert len(found) == len(problems), f"a field was reported twice: {problems}"
    return found


def assert_plain_words(message: str) -> None:
    assert message, "a problem without a message tells nobody anything"
    for word in JARGON:
        assert word not in message, f"{message!r} speaks pydantic ({word!r})"


# --- documents that are right -------------------------------------------------------------------


def test_a_complete_warning_is_accepted() -> None:
    announcement = parse_announcement(warning())

    assert announcement.kind is Kind.warning
    assert announcement.msg_type is MsgType.alert
    assert announcement.severity is Severity.severe
    assert announcement.category is Category.safety
    assert announcement.event == "Bombenentschärfung"
    assert announcement.area is not None
    assert announcement.area.description == "Altstadt rund um die Marktstraße"
    assert announcement.instruction == "Verlassen Sie das Sperrgebiet bis 10 Uhr."
    assert announcement.hashtags == ["Bombe"]
    assert not announcement.is_follow_up


def test_a_news_item_needs_no_warning_fields() -> None:
    announcement = parse_announcement(news())

    assert announcement.kind is Kind.news
    assert announcement.msg_type is MsgType.alert
    assert announcement.headline == "Bürgerbüro am 24. Dezember geschlossen"
    assert (announcement.severity, announcement.category, announcement.event) == (None, None, None)
    assert (announcement.area, announcement.instruction) == (None, None)


@pytest.mark.parametrize(
    ("field", "written", "meant"),
    [
        pytest.param("severity", "Severe", Severity.severe, id="severity-Severe"),
        pytest.param("severity", "EXTREME", Severity.extreme, id="severity-EXTREME"),
        pytest.param("category", "Met", Category.met, id="category-Met"),
        pytest.param("category", "CBRNE", Category.cbrne, id="category-CBRNE"),
        pytest.param("msg_type", "Alert", MsgType.alert, id="msg_type-Alert"),
        pytest.param("urgency", "Immediate", Urgency.immediate, id="urgency-Immediate"),
        pytest.param("certainty", "Observed", Certainty.observed, id="certainty-Observed"),
        pytest.param("kind", "Warning", Kind.warning, id="kind-Warning"),
        pytest.param("severity", " severe ", Severity.severe, id="severity-with-spaces"),
    ],
)
def test_values_written_the_cap_way_are_accepted(field: str, written: str, meant: Any) -> None:
    announcement = parse_announcement(warning(**{field: written}))

    assert getattr(announcement, field) is meant


def test_a_follow_up_refers_to_the_earlier_announcement() -> None:
    announcement = parse_announcement(warning(msg_type="Update", references="a1b2c3"))

    assert announcement.msg_type is MsgType.update
    assert announcement.references == "a1b2c3"
    assert announcement.is_follow_up


# --- how problems are reported --------------------------------------------------------------------


def test_a_document_with_five_mistakes_gets_five_precise_problems() -> None:
    document = warning(
        severity="bad",  # not a CAP severity
        headline="",  # empty
        effective="2026-11-22T10:00:00",  # no time-zone offset
        instructions="Fenster schließen",  # misspelt field
        msg_type="update",  # an update must say what it updates
    )

    problems = by_field(document)

    assert sorted(problems) == ["effective", "headline", "instructions", "references", "severity"]
    assert problems["severity"] == 'must be one of extreme, severe, moderate, minor or unknown (got "bad")'
    assert problems["headline"] == "must not be empty"
    assert problems["effective"] == "needs a time-zone offset, e.g. 2026-11-22T10:00:00+01:00"
    assert problems["instructions"] == "is not a field Herold knows; did you mean instruction?"
    assert problems["references"] == "is required for msg_type update: give the id of the earlier announcement"
    for message in problems.values():
        assert_plain_words(message)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param({"headline": 5}, "headline", "must be text (got 5)", id="number-for-text"),
        pytest.param({"hashtags": "Bombe"}, "hashtags", 'must be a list (got "Bombe")', id="text-for-list"),
        pytest.param(
            {"area": "Altstadt"}, "area", 'must be an object with fields (got "Altstadt")', id="text-for-object"
        ),
        pytest.param(
            {"effective": "morgen"},
            "effective",
            'is not a date and time like 2026-11-22T10:00:00+01:00 (got "morgen")',
            id="not-a-date",
        ),
        pytest.param({"headline": "x" * 161}, "headline", "is too long: at most 160 characters", id="long-headline"),
        pytest.param({"hashtags": ["a"] * 11}, "hashtags", "has too many entries: at most 10", id="too-many-hashtags"),
        pytest.param(
            {"hashtags": ["Bombe Köln"]}, "hashtags.0", 'has the wrong form (got "Bombe Köln")', id="hashtag-space"
        ),
        pytest.param(
            {"authority": "LK Beispiel"}, "authority", 'has the wrong form (got "LK Beispiel")', id="bad-slug"
        ),
        pytest.param({"kind": "alarm"}, "kind", 'must be one of warning or news (got "alarm")', id="unknown-kind"),
        pytest.param({"headline": None}, "headline", "is required", id="missing-headline"),
    ],
)
def test_each_mistake_is_named_at_its_field_in_plain_words(changes: dict[str, Any], field: str, message: str) -> None:
    assert by_field(warning(**changes)) == {field: message}
    assert_plain_words(message)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        pytest.param("instructions", "instruction", id="instructions"),
        pytest.param("headlin", "headline", id="headlin"),
        pytest.param("serverity", "severity", id="serverity"),
        pytest.param("hashtag", "hashtags", id="hashtag"),
        pytest.param("areas", "area", id="areas"),
        pytest.param("refrences", "references", id="refrences"),
    ],
)
def test_a_misspelt_field_suggests_the_right_one(written: str, meant: str) -> None:
    document = warning(**{written: "x"})

    problems = by_field(document)

    assert problems[written] == f"is not a field Herold knows; did you mean {meant}?"


def test_an_unknown_field_without_a_likely_meaning_just_says_so() -> None:
    assert by_field(warning(zzzzzz="x")) == {"zzzzzz": "is not a field Herold knows (check the spelling)"}


def test_a_broken_field_is_reported_once_not_also_as_missing() -> None:
    problems = by_field(warning(severity="bad", area={"description": ""}))

    assert sorted(problems) == ["area.description", "severity"]


def test_a_problem_reads_as_field_then_message() -> None:
    assert str(Problem(field="area.polygons.0", message="needs at least 4 entries")) == (
        "area.polygons.0: needs at least 4 entries"
    )
    assert str(Problem(field="", message="the document is empty")) == "the document is empty"
    assert field_path(["area", "polygons", 0, 1]) == "area.polygons.0.1"


def test_invalid_input_carries_every_problem_and_names_them_all() -> None:
    error = InvalidInput([Problem(field="headline", message="must not be empty"), Problem(field="a", message="b")])

    assert len(error.problems) == 2
    assert str(error) == "headline: must not be empty; a: b"


# --- rules between fields ---------------------------------------------------------------------------


@pytest.mark.parametrize("msg_type", ["update", "cancel", "error", "Cancel"])
def test_a_follow_up_without_references_is_refused(msg_type: str) -> None:
    document = warning(msg_type=msg_type, **FOLLOW_UP_WITHOUT_WARNING_FIELDS)

    assert by_field(document) == {
        "references": f"is required for msg_type {msg_type.lower()}: give the id of the earlier announcement"
    }


def test_a_correction_is_an_update_labelled_as_one() -> None:
    correction = parse_announcement(warning(msg_type="update", references="a1b2c3", correction=True))
    update = parse_announcement(warning(msg_type="update", references="a1b2c3"))

    assert (correction.label_key, update.label_key) == ("correction", "msg_type.update")
    assert parse_announcement(warning()).label_key is None


@pytest.mark.parametrize("msg_type", ["alert", "cancel", "error"])
def test_only_an_update_can_be_a_correction(msg_type: str) -> None:
    references = {} if msg_type == "alert" else {"references": "a1b2c3"}
    problems = by_field(warning(msg_type=msg_type, correction=True, **references))

    assert problems == {"correction": "only an update (msg_type update) can correct an earlier announcement"}


def test_a_first_alert_must_not_refer_to_an_earlier_announcement() -> None:
    problems = by_field(warning(references="a1b2c3"))

    assert list(problems) == ["references"]
    assert "only updates, all-clears (cancel) and withdrawals (error)" in problems["references"]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("severity", "a warning needs a severity (extreme, severe, moderate, minor or unknown)"),
        ("category", "a warning needs a category (e.g. met, fire, safety)"),
        ("event", 'a warning needs an event, e.g. "Bombenentschärfung"'),
        ("area", "a warning needs the affected area (area.description)"),
        ("instruction", "a warning must say what people should do"),
    ],
)
def test_a_warning_alert_needs_the_facts_people_act_on(missing: str, message: str) -> None:
    assert by_field(warning(**{missing: None})) == {missing: message}


def test_a_warning_without_any_warning_fields_gets_one_problem_per_field() -> None:
    problems = by_field(warning(**FOLLOW_UP_WITHOUT_WARNING_FIELDS))

    assert sorted(problems) == ["area", "category", "event", "instruction", "severity"]


@pytest.mark.parametrize("msg_type", ["update", "cancel", "error"])
def test_a_follow_up_inherits_the_warning_fields_and_need_not_repeat_them(msg_type: str) -> None:
    document = warning(msg_type=msg_type, references="a1b2c3", **FOLLOW_UP_WITHOUT_WARNING_FIELDS)

    announcement = parse_announcement(document)

    assert announcement.msg_type is MsgType(msg_type)
    assert announcement.severity is None


@pytest.mark.parametrize(
    ("effective", "expires"),
    [
        pytest.param("2026-11-22T10:00:00+01:00", "2026-11-22T09:00:00+01:00", id="json-earlier"),
        pytest.param("2026-11-22T10:00:00+01:00", "2026-11-22T10:00:00+01:00", id="json-same-moment"),
        pytest.param("2026-11-22T10:00:00+01:00", "2026-11-22T08:30:00+00:00", id="json-earlier-other-offset"),
        pytest.param(
            datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 22, 9, tzinfo=UTC), id="python-datetimes"
        ),
    ],
)
def test_expires_must_be_after_effective(effective: Any, expires: Any) -> None:
    # Documents arrive as JSON, so their times are text; the rule must hold for them as well.
    assert by_field(warning(effective=effective, expires=expires)) == {"expires": "must be later than effective"}


def test_an_announcement_that_expires_after_it_takes_effect_is_accepted() -> None:
    start = datetime(2026, 11, 22, 10, tzinfo=UTC)

    announcement = parse_announcement(
        warning(effective="2026-11-22T11:00:00+01:00", expires="2026-11-22T12:00:00+01:00")
    )

    assert announcement.effective == start
    assert announcement.expires == start + timedelta(hours=1)


# --- area -----------------------------------------------------------------------------------------------


def area(*rings: list[list[float]]) -> dict[str, Any]:
    return {"description": "Altstadt", "polygons": list(rings)}


def test_a_closed_polygon_of_four_points_is_accepted() -> None:
    announcement = parse_announcement(warning(area=area(CLOSED_RING)))

    assert announcement.area is not None
    assert announcement.area.polygons[0][0] == (50.93, 6.95)


@pytest.mark.parametrize(
    ("ring", "field", "message"),
    [
        pytest.param(
            [[50.93, 6.95], [50.94, 6.95], [50.94, 6.97], [50.95, 6.99]],
            "area.polygons",
            "polygon 0 must end where it starts (CAP polygons are closed rings)",
            id="open-ring",
        ),
        pytest.param(
            [[50.93, 6.95], [50.94, 6.95], [50.93, 6.95]], "area.polygons.0", "needs at least 4 entries", id="3-points"
        ),
        pytest.param(
            [[50.93, 6.95], [91, 6.95], [50.94, 6.97], [50.93, 6.95]],
            "area.polygons.0.1.0",
            "must be at most 90.0 (got 91)",
            id="latitude-above-90",
        ),
        pytest.param(
            [[50.93, 6.95], [-90.5, 6.95], [50.94, 6.97], [50.93, 6.95]],
            "area.polygons.0.1.0",
            "must be at least -90.0 (got -90.5)",
            id="latitude-below-minus-90",
        ),
        pytest.param(
            [[50.93, 6.95], [50.94, 181], [50.94, 6.97], [50.93, 6.95]],
            "area.polygons.0.1.1",
            "must be at most 180.0 (got 181)",
            id="longitude-above-180",
        ),
        pytest.param(
            [[50.93, 6.95], [50.94, -180.5], [50.94, 6.97], [50.93, 6.95]],
            "area.polygons.0.1.1",
            "must be at least -180.0 (got -180.5)",
            id="longitude-below-minus-180",
        ),
    ],
)
def test_a_polygon_must_be_a_closed_ring_of_real_coordinates(ring: list[list[float]], field: str, message: str) -> None:
    assert by_field(warning(area=area(ring))) == {field: message}


def test_the_second_open_polygon_is_named_by_its_number() -> None:
    open_ring = [[50.93, 6.95], [50.94, 6.95], [50.94, 6.97], [50.95, 6.99]]

    problems = by_field(warning(area=area(CLOSED_RING, open_ring)))

    assert problems == {"area.polygons": "polygon 1 must end where it starts (CAP polygons are closed rings)"}


# --- media ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media", "field", "message"),
    [
        pytest.param(
            {"alt": "Sperrgebiet"}, "media.0", "give the image as path or as data (exactly one of them)", id="neither"
        ),
        pytest.param(
            {"alt": "Sperrgebiet", "path": "karte.png", "data": "aGFsbG8="},
            "media.0",
            "give the image as path or as data (exactly one of them)",
            id="both",
        ),
        pytest.param({"path": "karte.png"}, "media.0.alt", "is required", id="no-alt"),
        pytest.param({"path": "karte.png", "alt": ""}, "media.0.alt", "must not be empty", id="empty-alt"),
        pytest.param({"path": "karte.png", "alt": "   "}, "media.0.alt", "must not be empty", id="blank-alt"),
        pytest.param(
            {"data": "das ist kein Bild!", "alt": "Karte"},
            "media.0.data",
            "is not base64-encoded image data",
            id="not-base64",
        ),
    ],
)
def test_an_image_needs_exactly_one_source_and_a_description(media: dict[str, str], field: str, message: str) -> None:
    assert by_field(warning(media=[media])) == {field: message}


@pytest.mark.parametrize(
    "media",
    [
        pytest.param({"path": "karte.png", "alt": "Karte des Sperrgebiets"}, id="path"),
        pytest.param({"data": base64.b64encode(b"\x89PNG...").decode(), "alt": "Karte des Sperrgebiets"}, id="data"),
    ],
)
def test_an_image_given_by_path_or_by_data_is_accepted(media: dict[str, str]) -> None:
    announcement = parse_announcement(warning(media=[media]))

    assert announcement.media[0].alt == "Karte des Sperrgebiets"


def test_an_image_larger_than_8_mb_is_refused() -> None:
    data = base64.b64encode(b"\0" * (MAX_IMAGE_BYTES + 1)).decode()

    assert by_field(warning(media=[{"data": data, "alt": "Karte"}])) == {"media.0.data": "is larger than 8 MiB"}


# --- languages, hashtags, whitespace ----------------------------------------------------------------------


def test_a_translation_into_the_announcements_own_language_is_refused() -> None:
    document = warning(language="de", translations={"de": {"headline": "Fliegerbombe"}})

    assert by_field(document) == {"translations": "de is the announcement's own language, not a translation"}


def test_a_translation_into_another_language_is_used_for_that_language() -> None:
    document = warning(language="de", translations={"en": {"headline": "Unexploded bomb in the old town"}})

    announcement = parse_announcement(document)

    assert announcement.text_in("en").headline == "Unexploded bomb in the old town"
    assert announcement.text_in("de").headline == "Fliegerbombe in der Altstadt"
    assert announcement.text_in("fr").headline == "Fliegerbombe in der Altstadt"


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        pytest.param(["#Bombe"], ["Bombe"], id="with-hash"),
        pytest.param(["Bombe"], ["Bombe"], id="without-hash"),
        pytest.param([" #Köln "], ["Köln"], id="with-hash-and-spaces"),
        pytest.param(["#Bombe", "Evakuierung"], ["Bombe", "Evakuierung"], id="mixed"),
    ],
)
def test_hashtags_are_kept_without_their_hash_sign(written: list[str], stored: list[str]) -> None:
    assert parse_announcement(warning(hashtags=written)).hashtags == stored


def test_surrounding_whitespace_is_stripped_from_every_text() -> None:
    document = warning(
        headline="  Fliegerbombe in der Altstadt \n",
        description="\tBei Bauarbeiten wurde eine Fliegerbombe gefunden.  ",
        instruction=" Verlassen Sie das Sperrgebiet. ",
        event=" Bombenentschärfung ",
        area={"description": "  Altstadt  "},
        media=[{"path": " karte.png ", "alt": "  Karte des Sperrgebiets  "}],
    )

    announcement = parse_announcement(document)

    assert announcement.headline == "Fliegerbombe in der Altstadt"
    assert announcement.description == "Bei Bauarbeiten wurde eine Fliegerbombe gefunden."
    assert announcement.instruction == "Verlassen Sie das Sperrgebiet."
    assert announcement.event == "Bombenentschärfung"
    assert announcement.area is not None
    assert announcement.area.description == "Altstadt"
    assert (announcement.media[0].path, announcement.media[0].alt) == ("karte.png", "Karte des Sperrgebiets")


def test_a_headline_of_only_spaces_counts_as_empty() -> None:
    assert by_field(warning(headline="   ")) == {"headline": "must not be empty"}


def test_a_headline_is_one_line_whatever_was_pasted() -> None:
    announcement = parse_announcement(warning(headline="Fliegerbombe\n  in der\tAltstadt", event="Bomben-\nfund"))
    assert announcement.headline == "Fliegerbombe in der Altstadt"
    assert announcement.event == "Bomben- fund"


# -- a relayed text: whose it is ------------------------------------------------------------------


def test_an_announcement_is_relayed_only_when_it_names_whose_text_it_is() -> None:
    own = parse_announcement(warning())
    relayed = parse_announcement(warning(attribution="Deutscher Wetterdienst; © GeoBasis-DE / BKG"))

    assert own.attribution is None
    assert relayed.attribution == "Deutscher Wetterdienst; © GeoBasis-DE / BKG"


def test_an_attribution_is_one_line_of_at_most_500_characters() -> None:
    pasted = parse_announcement(warning(attribution="Deutscher\n  Wetterdienst\t(DWD)"))

    assert pasted.attribution == "Deutscher Wetterdienst (DWD)"
    assert parse_announcement(warning(attribution="x" * 500)).attribution == "x" * 500
    assert by_field(warning(attribution="x" * 501)) == {"attribution": "is too long: at most 500 characters"}
    assert by_field(warning(attribution="  ")) == {"attribution": "must not be empty"}
    assert sorted(by_field(warning(attribution="Ab\u202ec"))) == ["attribution"]  # no bidi controls: one statement


# -- characters, times and sizes that no announcement needs ------------------------------------------------

CONTROL = "contains a control character ({}) at position 3; remove it (only line breaks and tabs are allowed in text)"
TEXT_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("headline", {"headline": "ab{}c"}),
    ("description", {"description": "ab{}c"}),
    ("instruction", {"instruction": "ab{}c"}),
    ("event", {"event": "ab{}c"}),
    ("contact", {"contact": "ab{}c"}),
    ("attribution", {"attribution": "ab{}c"}),
    ("area.description", {"area": {"description": "ab{}c"}}),
    ("area.geocodes.0.value", {"area": {"description": "Altstadt", "geocodes": [{"name": "ARS", "value": "ab{}c"}]}}),
    ("translations.en.headline", {"translations": {"en": {"headline": "ab{}c"}}}),
    ("translations.en.description", {"translations": {"en": {"headline": "Bomb", "description": "ab{}c"}}}),
    ("media.0.alt", {"media": [{"path": "karte.png", "alt": "ab{}c"}]}),
    ("channels", {"channels": ["website", "ab{}c"]}),
]


def _with(changes: dict[str, Any], character: str) -> dict[str, Any]:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{}", character)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return [fill(v) for v in value]

    return warning(**fill(changes))


@pytest.mark.parametrize(("field", "changes"), TEXT_FIELDS, ids=[f for f, _ in TEXT_FIELDS])
@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x9b", "\ufffe", "\U0010ffff"])
def test_control_characters_and_noncharacters_are_refused_in_every_text_field(
    field: str, changes: dict[str, Any], character: str
) -> None:
    assert by_field(_with(changes, character)) == {field: CONTROL.format(f"U+{ord(character):04X}")}


@pytest.mark.parametrize(("field", "changes"), TEXT_FIELDS, ids=[f for f, _ in TEXT_FIELDS])
def test_line_breaks_and_tabs_are_text(field: str, changes: dict[str, Any]) -> None:
    if field in {"headline", "event", "attribution", "translations.en.headline"}:
        return  # one line: the breaks become spaces (tested above)
    parse_announcement(_with(changes, "\n\t"))


def test_windows_line_ends_are_line_breaks() -> None:
    assert parse_announcement(warning(description="Erste Zeile\r\nZweite Zeile\rDritte")).description == (
        "Erste Zeile\nZweite Zeile\nDritte"
    )


@pytest.mark.parametrize("override", ["\u202e", "\u202d", "\u2066", "\u2069"])
def test_bidirectional_overrides_are_refused_in_headlines_but_not_in_running_text(override: str) -> None:
    problems = by_field(warning(headline=f"Ab{override}c", translations={"ar": {"headline": f"ت{override}ب"}}))

    assert sorted(problems) == ["headline", "translations.ar.headline"]
    assert problems["headline"].startswith(f"contains a bidirectional control character (U+{ord(override):04X})")
    parse_announcement(warning(description=f"Ab{override}c"))


def test_a_lone_surrogate_is_named_in_plain_words() -> None:
    assert by_field(warning(description="ab\ud800c")) == {
        "description": "contains a character that is not valid Unicode (a lone surrogate); remove it"
    }


@pytest.mark.parametrize("field", ["effective", "expires", "publish_at"])
@pytest.mark.parametrize(("moment", "year"), [("9999-12-31T23:00:00+00:00", 9999), ("0026-11-22T10:00:00+01:00", 26)])
def test_times_outside_a_sane_range_of_years_are_refused(field: str, moment: str, year: int) -> None:
    assert by_field(warning(**{field: moment})) == {
        field: f"lies in the year {year}; Herold takes times from 2000 to 2099"
    }


def test_polygons_with_more_points_than_any_area_needs_are_refused() -> None:
    ring = [[50.0 + i / 1e6, 7.0] for i in range(10_001)] + [[50.0, 7.0]]

    assert by_field(warning(area={"description": "Kreis", "polygons": [ring, ring]})) == {
        "area.polygons": "have 20004 points in all; Herold takes at most 20000 (simplify the shapes)"
    }


def test_a_problem_never_repeats_a_huge_or_self_referencing_value() -> None:
    shared: list[Any] = ["x" * 1000]
    for _ in range(30):
        shared = [shared, shared]  # what a YAML alias bomb builds: 2**30 leaves if written out

    problems = by_field(warning(headline=shared))

    assert len(problems["headline"]) < 120
