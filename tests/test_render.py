"""Rendering: one variant per channel, within the limit as that platform counts it.

The platform rules below are the documented ones (../shared/platforms.md); every channel type
that ships in adapters/ is checked with its own declared rule as well.
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import pairwise
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st
from jinja2 import Environment, Template

from adapters import channel_types
from publisher.core import render as render_module
from publisher.core.render import ELLIPSIS, DoesNotFit, environment, render
from publisher.core.templates import TEMPLATES
from publisher.domain.announcement import Announcement, parse_announcement
from publisher.domain.counting import (
    CodePoints,
    CodePointsEmojiAsBytes,
    Graphemes,
    GraphemesShortLinks,
    TextRule,
    Utf8Bytes,
    Utf16Units,
    XWeighted,
)
from publisher.domain.problems import InvalidInput
from publisher.domain.records import Variant

from conftest import warning

LINK = "https://www.lk-beispiel.de/warnungen/2026/11/fliegerbombe-in-der-altstadt-1a2b3c4d/"

PLATFORMS: dict[str, TextRule] = {
    "mastodon": TextRule(500, GraphemesShortLinks(23), counts_spoiler=True),
    # Takahē, Pleroma, Akkoma, mastodon-mock: the raw text, links in full (learned from a refusal).
    "mastodon (links in full)": TextRule(500, CodePoints(), counts_spoiler=True),
    "x": TextRule(280, XWeighted()),
    "bluesky": TextRule(300, Graphemes(), also=(TextRule(3000, Utf8Bytes()),)),
    "threads": TextRule(500, CodePointsEmojiAsBytes()),
    "telegram": TextRule(4096, Utf16Units(), limit_with_media=1024),
}
SHIPPED = {name: kind.capabilities for name, kind in channel_types().items() if kind.capabilities.text}
RULES = {**PLATFORMS, **{f"{name} (shipped)": c.text for name, c in SHIPPED.items() if c.text}}


def variant(announcement: Announcement, rule: TextRule, spoiler: str | None = None) -> Variant:
    return render(announcement, channel="c", template="channels/post.j2", link=LINK, rule=rule, spoiler=spoiler)


def test_a_short_announcement_is_posted_whole() -> None:
    result = variant(parse_announcement(warning()), PLATFORMS["mastodon"])
    assert result.shortened == ()
    for part in (
        "Fliegerbombe in der Altstadt",
        "Verlassen Sie das Sperrgebiet bis 10 Uhr.",
        "Gebiet: Altstadt rund um die Marktstraße",
        "Bei Bauarbeiten wurde",
        LINK,
        "#Bombe",
    ):
        assert part in result.text


def test_hashtags_go_first_when_the_text_is_too_long() -> None:
    description = "Die Lage ist unübersichtlich. " * 7  # just over X's limit with hashtags
    result = variant(
        parse_announcement(warning(description=description, hashtags=["Bombe", "Altstadt"])), PLATFORMS["x"]
    )
    assert "#Bombe" not in result.text
    assert result.shortened[0] == "hashtags"


def test_then_the_description_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    description = " ".join(f"Satz{i} mit einigen Wörtern." for i in range(200))
    result = variant(parse_announcement(warning(description=description)), PLATFORMS["x"])
    assert result.shortened == ("hashtags", "description")
    kept = next(line for line in result.text.splitlines() if line.startswith("Satz0"))
    assert kept.endswith("…")
    # A whole-word prefix: what follows in the original is only the word's punctuation, then a space.
    assert description.startswith(kept[:-1])
    assert description[len(kept) - 1 :].split(" ", 1)[0] in {"", "."}
    assert result.length is not None and result.limit == 280 and result.length <= 280


def test_headline_instruction_and_link_are_never_cut() -> None:
    instruction = "Verlassen Sie sofort das Gebiet zwischen Marktstraße, Ring und Fluss. " * 2
    result = variant(
        parse_announcement(warning(instruction=instruction.strip(), description="x " * 3000)), PLATFORMS["x"]
    )
    assert instruction.strip() in result.text and "Fliegerbombe in der Altstadt" in result.text and LINK in result.text


def test_when_headline_instruction_and_link_cannot_fit_the_channel_is_refused_with_the_numbers() -> None:
    with pytest.raises(DoesNotFit) as refused:
        variant(parse_announcement(warning(instruction="Bitte verlassen Sie das Gebiet. " * 12)), PLATFORMS["x"])
    assert refused.value.needed > refused.value.limit == 280
    assert "280 weighted characters" in str(refused.value)


def test_the_content_warning_counts_where_the_platform_counts_it() -> None:
    announcement = parse_announcement(warning(description="Wort " * 120))
    without = variant(announcement, PLATFORMS["mastodon"])
    with_warning = variant(announcement, PLATFORMS["mastodon"], spoiler="Warnung: Bombenentschärfung")
    assert with_warning.length is not None and with_warning.length <= 500
    assert len(with_warning.text) < len(without.text)


def test_telegram_captions_are_shorter_when_an_image_is_attached() -> None:
    document = warning(description="Wort " * 400)
    plain = variant(parse_announcement(document), PLATFORMS["telegram"])
    with_image = variant(
        parse_announcement({**document, "media": [{"path": "a.png", "alt": "Karte"}]}), PLATFORMS["telegram"]
    )
    assert plain.limit == 4096 and with_image.limit == 1024
    assert with_image.length is not None and with_image.length <= 1024 < (plain.length or 0)


def test_follow_ups_say_what_they_are() -> None:
    update = parse_announcement(warning(msg_type="cancel", references="a1", instruction=None))
    assert variant(update, PLATFORMS["mastodon"]).text.startswith("Entwarnung: Fliegerbombe")
    english = parse_announcement(warning(msg_type="update", references="a1", language="en"))
    assert variant(english, PLATFORMS["mastodon"]).text.startswith("Update: ")


# Every template a channel draws its text from: every channel type's, and every one that ships.
CHANNEL_TEMPLATES = sorted(
    {kind.capabilities.template for kind in channel_types().values() if kind.capabilities.template}
    | {f"channels/{path.name}" for path in (TEMPLATES / "channels").glob("*.j2")}
)


def first_line(announcement: Announcement, template: str) -> str:
    return render(announcement, channel="c", template=template, link=LINK).text.splitlines()[0]


@pytest.mark.parametrize("template", CHANNEL_TEMPLATES)
def test_a_headline_that_carries_its_label_is_not_labelled_again(template: str) -> None:
    cancel = parse_announcement(warning(msg_type="cancel", references="a1", headline="Entwarnung: Bombe entschärft"))
    english = parse_announcement(
        warning(msg_type="cancel", references="a1", language="en", headline="all clear – bomb defused")
    )

    assert first_line(cancel, template) == "Entwarnung: Bombe entschärft"
    assert first_line(english, template) == "all clear – bomb defused"


@pytest.mark.parametrize("template", CHANNEL_TEMPLATES)
def test_a_headline_that_only_contains_a_label_later_is_labelled(template: str) -> None:
    update = parse_announcement(
        warning(msg_type="update", references="a1", headline="Keine Entwarnung für die Altstadt")
    )

    assert first_line(update, template) == "Aktualisierung: Keine Entwarnung für die Altstadt"


@pytest.mark.parametrize("template", CHANNEL_TEMPLATES)
def test_a_correction_is_labelled_as_a_correction(template: str) -> None:
    correction = parse_announcement(
        warning(msg_type="update", references="a1", correction=True, headline="Fliegerbombe in der Neustadt")
    )
    labelled = parse_announcement(
        warning(msg_type="update", references="a1", correction=True, headline="Korrektur: Fliegerbombe in der Neustadt")
    )

    assert first_line(correction, template) == "Korrektur: Fliegerbombe in der Neustadt"
    assert first_line(labelled, template) == "Korrektur: Fliegerbombe in der Neustadt"


# -- a relayed text: the sender's words unaltered, its source named ---------------------------
#
# MoWaS's terms allow relaying only unaltered; the weather service's open data asks to be named.

DWD = "Deutscher Wetterdienst; © GeoBasis-DE / BKG"
NOTE = "[gekürzt – vollständiger Text unter dem Link]"
# Sentences with what looks like an end and is none: abbreviations, ordinals, dates, initials.
SENTENCES = [
    "Es treten Sturmböen mit Geschwindigkeiten um 70 km/h (20 m/s, 38 kn, Bft 8) aus westlicher Richtung auf.",
    "Am 1. Dezember ab ca. 14 Uhr sind u. a. die Kreisstraße Nr. 5 und z. B. die B 7 betroffen.",
    "In exponierten Lagen muss mit Orkanböen bis 120 km/h gerechnet werden!",
    "Achten Sie besonders auf herabstürzende Äste, Dachziegel oder Gegenstände.",
    "Weitere Informationen gibt es laut DWD ab dem 24.12. im Internet.",
    "Gefahr für Leib und Leben besteht durch umstürzende Bäume.",
]
RELAYED = warning(description=" ".join(SENTENCES), attribution=DWD, hashtags=None)


def description_of(text: str, note: str = NOTE) -> str:
    """The sender's words a shortened variant kept: what stands before the note, on its lines."""
    kept = text[: text.index(f" {note}")]
    return kept[kept.rindex("\n\n") + 2 :]


def test_a_relayed_description_is_cut_only_after_a_whole_sentence_and_says_the_full_text_is_at_the_link() -> None:
    result = variant(parse_announcement(RELAYED), PLATFORMS["mastodon"])
    kept = description_of(result.text)

    assert result.shortened == ("description",) and result.length is not None and result.length <= 500
    assert kept in {" ".join(SENTENCES[:n]) for n in range(1, len(SENTENCES))}
    assert f"{kept} {NOTE}\n" in result.text and LINK in result.text
    assert ELLIPSIS not in result.text


def test_every_sentence_a_relayed_variant_keeps_is_the_sender_s_as_written() -> None:
    for platform in ("x", "bluesky", "mastodon", "threads"):
        text = variant(parse_announcement(RELAYED), PLATFORMS[platform]).text
        if NOTE not in text:
            continue  # not one sentence fits: the description is left out (below)
        kept = description_of(text)
        assert " ".join(SENTENCES).startswith(kept), platform
        assert kept in {" ".join(SENTENCES[:n]) for n in range(1, len(SENTENCES))}, platform


def test_a_relayed_description_of_which_not_one_sentence_fits_is_left_out_whole() -> None:
    long_sentence = "Es treten " + "sehr " * 80 + "schwere Sturmböen auf. Bleiben Sie drinnen."
    result = variant(parse_announcement({**RELAYED, "description": long_sentence}), PLATFORMS["mastodon"])

    assert result.shortened == ("description",)
    assert "Es treten" not in result.text and NOTE not in result.text and ELLIPSIS not in result.text
    assert f"Quelle: {DWD}" in result.text


def test_an_english_variant_of_a_relayed_text_notes_the_cut_in_english() -> None:
    result = variant(parse_announcement({**RELAYED, "language": "en"}), PLATFORMS["mastodon"])

    assert result.text.count("[shortened – full text at the link]") == 1
    assert f"Source: {DWD}" in result.text and "Quelle" not in result.text


def test_a_relayed_area_is_cut_only_after_a_whole_area_name() -> None:
    names = [f"Gemeinde Musterstadt-{number}" for number in range(30)]
    document = {**RELAYED, "area": {"description": "; ".join(names)}}
    result = variant(parse_announcement(document), PLATFORMS["x"])
    area = next(line for line in result.text.splitlines() if line.startswith("Gebiet: "))

    assert result.shortened == ("description", "area")
    shown = area.removeprefix("Gebiet: ").removesuffix("; …").split("; ")
    assert area.endswith("; …") and shown == names[: len(shown)]


def test_herold_s_own_description_is_still_cut_at_a_word_with_an_ellipsis() -> None:
    result = variant(parse_announcement({**RELAYED, "attribution": None}), PLATFORMS["mastodon"])

    assert result.shortened == ("description",)
    assert NOTE not in result.text and "Quelle" not in result.text
    kept = next(line for line in result.text.splitlines() if line.startswith("Es treten"))
    assert kept.endswith(ELLIPSIS) and " ".join(SENTENCES).startswith(kept[:-1])


@pytest.mark.parametrize("template", CHANNEL_TEMPLATES)
def test_every_channel_s_variant_of_a_relayed_text_names_its_source(template: str) -> None:
    relayed = render(parse_announcement(RELAYED), channel="c", template=template, link=LINK)
    own = render(parse_announcement({**RELAYED, "attribution": None}), channel="c", template=template, link=LINK)

    assert f"Quelle: {DWD}" in relayed.text.splitlines()
    assert "Quelle" not in own.text


def test_the_source_counts_toward_the_limit_and_is_never_cut() -> None:
    attribution = "Deutscher Wetterdienst, " + "Lizenz CC BY 4.0 " * 12
    with pytest.raises(DoesNotFit) as refused:
        variant(parse_announcement({**RELAYED, "attribution": attribution}), PLATFORMS["x"])

    assert refused.value.needed > refused.value.limit == 280
    assert str(refused.value).startswith("headline, instruction, source and link need ")


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Sturm. Bleiben Sie drinnen.", ["Sturm.", "Bleiben Sie drinnen."]),
        ("Achtung! Lebensgefahr? Ja.", ["Achtung!", "Lebensgefahr?", "Ja."]),
        ("Er sagte: „Geht.“ Dann kam es.", ["Er sagte: „Geht.“", "Dann kam es."]),
        ("Erster Absatz ohne Punkt\n\nZweiter Absatz", ["Erster Absatz ohne Punkt", "Zweiter Absatz"]),
        ("Ab 10 Uhr. Es regnet … und stürmt.", ["Ab 10 Uhr.", "Es regnet … und stürmt."]),
        # No end: an ordinal or a date, an initial, an abbreviation, a word with a full stop within,
        # a lower-case word after it.
        ("Am 1. Dezember und am 24.12. Weihnachten.", ["Am 1. Dezember und am 24.12. Weihnachten."]),
        ("Z. B. Straße Nr. 5 und ca. 3 Häuser.", ["Z. B. Straße Nr. 5 und ca. 3 Häuser."]),
        ("Straßen z.B. Hauptstraße sind zu.", ["Straßen z.B. Hauptstraße sind zu."]),
        ("Der Fluss steigt. weiter an.", ["Der Fluss steigt. weiter an."]),
    ],
)
def test_a_sentence_ends_only_where_it_surely_does(text: str, sentences: list[str]) -> None:
    ends = [0, *render_module.sentence_ends(text), len(text)]
    assert [text[start:end].strip() for start, end in pairwise(ends)] == sentences


# -- the property: every variant of every valid announcement fits, and links back -----------

free_text = st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn")), min_size=1)
word = st.one_of(
    st.sampled_from(
        [
            "Bombe",
            "Straße",
            "évacuation",
            "日本語",
            "👩‍👩‍👧",
            "www.stadt.de",
            "https://example.org/a-b",
            "z.B.",
            "Nr.5",
            "Ende.",
            "Gefahr!",
            "—",
            "x",
        ]
    ),
    st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn", "Z")), min_size=1, max_size=12),
)
# Short and long texts alike: most announcements fit whole, the long ones must be cut.
words = (
    st.sampled_from([1, 8, 40, 150, 400])
    .flatmap(lambda n: st.lists(word, min_size=max(1, n // 2), max_size=n))
    .map(" ".join)
)


@st.composite
def announcements(draw: st.DrawFn) -> dict[str, Any]:
    document = warning(
        headline=draw(st.one_of(free_text.filter(str.strip).map(lambda s: s[:160]), words.map(lambda s: s[:160]))),
        description=draw(words),
        instruction=draw(words.map(lambda s: s[: draw(st.integers(20, 1000))].strip() or "Gehen Sie.")),
        hashtags=draw(
            st.lists(st.text(st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=20), max_size=5)
        ),
        area={"description": draw(words.map(lambda s: s[:300].strip() or "Altstadt"))},
        msg_type=draw(st.sampled_from(["alert", "update", "cancel"])),
    )
    if document["msg_type"] != "alert":
        document["references"] = "earlier"
    if draw(st.booleans()):
        document["media"] = [{"path": "karte.png", "alt": "Karte des Sperrgebiets"}]
    if draw(st.booleans()):
        document["attribution"] = draw(st.sampled_from([DWD, "BBK (MoWaS)"]))
    return document


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=announcements(), platform=st.sampled_from(sorted(RULES)), spoiler=st.sampled_from([None, "Warnung"]))
def test_property_every_variant_fits_its_platform_and_links_to_the_original(
    document: dict[str, Any], platform: str, spoiler: str | None
) -> None:
    announcement = parse_announcement(document)
    rule = RULES[platform]
    try:
        result = variant(announcement, rule, spoiler)
    except DoesNotFit as refused:
        # Refusing is only allowed when headline, instruction and link alone are too long.
        assert refused.needed > refused.limit  # noqa: PT017 - a property, not an expected exception
        event("refused: headline, instruction and link too long")
        return
    event(f"shortened: {', '.join(result.shortened) or 'nothing'}")
    assert rule.excess(result.text, (LINK,), bool(announcement.media), spoiler) <= 0
    assert LINK in result.text.split()
    assert announcement.headline in result.text
    assert announcement.instruction is None or announcement.instruction in result.text
    if announcement.attribution:
        assert f"Quelle: {announcement.attribution}" in result.text.splitlines()
        if NOTE in result.text:  # what is kept of the sender's description ends after a whole sentence
            kept = result.text[: result.text.index(f" {NOTE}")]
            ends = render_module.sentence_ends(announcement.description)
            assert any(kept.endswith(announcement.description[:end].rstrip()) for end in ends)


# -- drawing: a variant is fitted with at most two draws of its template ---------------------
#
# A draw is one rendering of the template. Render measures once (the template with a marker for
# each part that may be cut), searches over that measurement, then draws the chosen parts once.

SHIPPED_TEMPLATES = environment().list_templates(filter_func=lambda name: name.startswith("channels/"))
CHANNEL_TEMPLATES = sorted({kind.capabilities.template for kind in channel_types().values()})  # all but the website's


def counted(env: Environment) -> tuple[Environment, list[str]]:
    """The environment's templates, noting every draw (by template name) in the list."""
    draws: list[str] = []

    class Noted(Template):
        def render(self, *args: Any, **kwargs: Any) -> str:
            draws.append(self.name or "")
            return super().render(*args, **kwargs)

    noting = env.overlay(cache_size=10)  # its own cache: templates are loaded as `Noted`
    noting.template_class = Noted
    return noting, draws


def outcome(
    announcement: Announcement,
    rule: TextRule,
    *,
    template: str = "channels/post.j2",
    spoiler: str | None = None,
    env: Environment | None = None,
) -> Variant | tuple[int, int, str]:
    """The variant, or the refusal's numbers and message."""
    try:
        return render(announcement, channel="c", template=template, link=LINK, rule=rule, spoiler=spoiler, env=env)
    except DoesNotFit as refused:
        return refused.needed, refused.limit, str(refused)


def drawing_every_candidate(
    announcement: Announcement, rule: TextRule, **options: Any
) -> Variant | tuple[int, int, str]:
    """The outcome when render cannot measure the template: it draws every candidate it weighs."""
    with patch.object(render_module, "_measure", return_value=None):
        return outcome(announcement, rule, **options)


def valid(document: dict[str, Any]) -> Announcement:
    """The announcement, for the documents intake accepts (the strategy makes a few it refuses)."""
    try:
        return parse_announcement(document)
    except InvalidInput:
        reject()


TIGHT = {
    "nothing": warning(),
    "hashtags": warning(
        description="Die Lage ist unübersichtlich. " * 4, hashtags=["Bombe", "Altstadt", "Evakuierung", "Kampfmittel"]
    ),
    "hashtags, description": warning(description=" ".join(f"Satz{i} mit einigen Wörtern." for i in range(200))),
    "hashtags, description, area": warning(
        instruction="Verlassen Sie sofort das Gebiet zwischen Marktstraße, Ring und Fluss. " * 2,
        description="Die Lage ist unübersichtlich. " * 10,
        area={"description": "Altstadt zwischen Marktstraße, Bahnhofstraße, Ring und Flussufer, " * 3},
    ),
    "refused": warning(instruction="Bitte verlassen Sie das Gebiet. " * 12),
}


@pytest.mark.parametrize("given_up", sorted(TIGHT))
def test_fitting_a_variant_draws_its_template_at_most_twice(given_up: str) -> None:
    env, draws = counted(environment())
    result = outcome(parse_announcement(TIGHT[given_up]), PLATFORMS["x"], env=env)
    if given_up == "refused":
        assert isinstance(result, tuple) and result[0] > result[1] == 280
    else:
        assert isinstance(result, Variant) and ", ".join(result.shortened) == given_up.replace("nothing", "")
        assert "Gebiet: Altstadt" in result.text
    assert len(draws) <= 2, draws


@pytest.mark.parametrize("given_up", sorted(TIGHT))
def test_a_text_is_counted_once_however_often_the_fitting_asks_about_it(given_up: str) -> None:
    # Counting as the platform does is a good part of rendering's CPU (each link looked for).
    counted_texts: list[str] = []

    class Noting(GraphemesShortLinks):
        def count(self, text: str, links: Collection[str]) -> int:
            counted_texts.append(text)
            return super().count(text, links)

    rule = TextRule(280, Noting(), counts_spoiler=True)  # X's limit, which TIGHT's cases are made for
    result = outcome(parse_announcement(TIGHT[given_up]), rule, spoiler="Warnung")
    texts = [text for text in counted_texts if text != "Warnung"]

    assert texts and len(texts) == len(set(texts)), texts
    if given_up == "refused":
        assert isinstance(result, tuple) and result[0] > result[1] == 280
    else:
        assert isinstance(result, Variant) and ", ".join(result.shortened) == given_up.replace("nothing", "")
        assert result.length == GraphemesShortLinks().count(result.text, (LINK,)) + len("Warnung")


@pytest.mark.parametrize("template", CHANNEL_TEMPLATES)
def test_a_description_given_up_leaves_nothing_behind_in_any_shipped_template(template: str) -> None:
    # Found by the property below: a template printing the description unconditionally showed
    # "None" where it had been given up, and measuring could not predict that text.
    tight = warning(headline="0", description="Bombe", instruction=("Bombe " * 30)[:155],
                    area={"description": ("Bombe " * 20).strip()})  # fmt: skip
    env, draws = counted(environment())
    result = outcome(parse_announcement(tight), PLATFORMS["bluesky"], template=template, env=env)
    assert isinstance(result, Variant) and "description" in result.shortened
    assert "None" not in result.text
    assert len(draws) <= 2, draws


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=announcements(),
    platform=st.sampled_from(sorted(RULES)),
    spoiler=st.sampled_from([None, "Warnung"]),
    template=st.sampled_from(CHANNEL_TEMPLATES),
)
def test_property_every_variant_is_fitted_with_at_most_two_draws(
    document: dict[str, Any], platform: str, spoiler: str | None, template: str
) -> None:
    env, draws = counted(environment())
    outcome(valid(document), RULES[platform], template=template, spoiler=spoiler, env=env)
    assert len(draws) <= 2, draws


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=announcements(),
    platform=st.sampled_from(sorted(RULES)),
    spoiler=st.sampled_from([None, "Warnung"]),
    template=st.sampled_from(SHIPPED_TEMPLATES),
    language=st.sampled_from(["de", "en"]),
)
def test_property_measuring_cuts_exactly_where_drawing_every_candidate_would(
    document: dict[str, Any], platform: str, spoiler: str | None, template: str, language: str
) -> None:
    announcement = valid({**document, "language": language})
    options: dict[str, Any] = {"template": template, "spoiler": spoiler}
    assert outcome(announcement, RULES[platform], **options) == drawing_every_candidate(
        announcement, RULES[platform], **options
    )


def test_text_that_looks_like_the_measuring_markers_is_cut_like_any_other() -> None:
    # Private-use characters are valid text: an announcement may even contain render's own markers.
    markers = " ".join(render_module._sentinel(name) for name in ("description", "area", "hashtag1", "hashtag2"))
    document = warning(
        instruction=f"Verlassen Sie sofort das Gebiet {render_module._sentinel('description')}. " * 2,
        description=f"Wort {markers} " * 10,
        area={"description": f"Altstadt zwischen Marktstraße, Bahnhofstraße, Ring und Flussufer, {markers} " * 2},
    )
    announcement = parse_announcement(document)
    result = outcome(announcement, PLATFORMS["x"])
    assert isinstance(result, Variant) and result.shortened == ("hashtags", "description", "area")
    assert result.length is not None and result.length <= 280
    assert result == drawing_every_candidate(announcement, PLATFORMS["x"])


# Custom templates (an authority's own) may print the parts in ways a measurement cannot
# foresee; their variants fit all the same, cut where drawing every candidate would cut.

UPPER_CASE = """{{ headline }}

{{ instruction }}

{% if description %}
{{ description | upper }}

{% endif %}
{{ link }}
"""
BESIDE_THE_HEADLINE = """{{ headline }}{% if description %} – {{ description }}{% endif %}

{{ instruction }}

{% if area %}
{{ t("area") }}: {{ area }}

{% endif %}
{{ link }}
"""


def custom(tmp_path: Path, name: str, source: str) -> Environment:
    (tmp_path / "channels").mkdir(exist_ok=True)
    (tmp_path / "channels" / name).write_text(source, encoding="utf-8")
    return environment(tmp_path)


def test_a_template_that_changes_the_description_still_gets_a_variant_that_fits(tmp_path: Path) -> None:
    # "ß" upper-cased is "SS": the description grows in the template.
    announcement = parse_announcement(warning(description="Die Straße ist gesperrt. " * 30))
    env = custom(tmp_path, "upper.j2", UPPER_CASE)
    result = outcome(announcement, PLATFORMS["x"], template="channels/upper.j2", env=env)
    assert isinstance(result, Variant) and result.shortened == ("hashtags", "description")
    assert "DIE STRASSE IST GESPERRT." in result.text and result.text.splitlines()[4].endswith("…")
    assert PLATFORMS["x"].excess(result.text, (LINK,), False) <= 0
    assert result == drawing_every_candidate(announcement, PLATFORMS["x"], template="channels/upper.j2", env=env)


def test_a_template_that_prints_the_description_beside_the_headline_still_gets_a_variant_that_fits(
    tmp_path: Path,
) -> None:
    # Without its description, the headline's line stays: the description is dropped, the area cut.
    announcement = parse_announcement(
        warning(
            headline="Fliegerbombe in der Altstadt: Evakuierung der Häuser rund um die Marktstraße",
            instruction="Verlassen Sie sofort das Gebiet zwischen Marktstraße, Ring und Fluss. " * 2,
            description="Die Lage ist unübersichtlich. " * 10,
            area={"description": "Altstadt zwischen Marktstraße, Bahnhofstraße, Ring und Flussufer"},
        )
    )
    env = custom(tmp_path, "beside.j2", BESIDE_THE_HEADLINE)
    result = outcome(announcement, PLATFORMS["x"], template="channels/beside.j2", env=env)
    assert isinstance(result, Variant) and result.shortened == ("hashtags", "description", "area")
    assert result.text.startswith(f"{announcement.headline}\n") and LINK in result.text
    assert PLATFORMS["x"].excess(result.text, (LINK,), False) <= 0
    assert result == drawing_every_candidate(announcement, PLATFORMS["x"], template="channels/beside.j2", env=env)
