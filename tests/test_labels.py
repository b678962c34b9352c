"""The label a follow-up carries before its headline ("Entwarnung: …"), decided once for posts,
pages and feeds alike: never twice, whoever wrote the first one."""

from __future__ import annotations

from typing import Any

import pytest

from publisher.domain.announcement import Announcement, parse_announcement
from publisher.domain.labels import FOLLOW_UP_KEYS, LABELS, carries_label, label_for, titled

from conftest import warning


def follow_up(msg_type: str, headline: str, **changes: Any) -> Announcement:
    return parse_announcement(warning(msg_type=msg_type, references="a1", headline=headline, **changes))


@pytest.mark.parametrize(
    "headline",
    [
        "Entwarnung: Bombe entschärft",
        "entwarnung – Bombe entschärft",
        "ENTWARNUNG Bombe entschärft",
        "Aktualisierung: Sperrgebiet erweitert",
        "Aktualisierung—Sperrgebiet erweitert",
        "Widerruf: Keine Fliegerbombe",
        "Korrektur: Sperrgebiet Neustadt",
        "Update: bomb defused",
        "All clear: bomb defused",
        "all  CLEAR - bomb defused",
        "Withdrawn: no bomb",
        "Correction: area is the new town",
        "  Entwarnung: Bombe entschärft",
        "Entwarnung",
    ],
)
def test_a_headline_that_starts_with_a_label_and_a_separator_carries_it(headline: str) -> None:
    assert carries_label(headline)


@pytest.mark.parametrize(
    "headline",
    [
        "Keine Entwarnung für die Altstadt",  # the word, but not at the start
        "Bombe entschärft – Entwarnung",
        "Entwarnungen für drei Stadtteile",  # a longer word that begins like a label
        "Updates zur Lage",
        "Korrekturen am Fahrplan",
        "Allclear",
        "Fliegerbombe in der Altstadt",
    ],
)
def test_a_headline_that_does_not_start_with_a_label_does_not_carry_one(headline: str) -> None:
    assert not carries_label(headline)


@pytest.mark.parametrize(
    ("language", "key"),
    [(language, key) for language, table in LABELS.items() for key in FOLLOW_UP_KEYS if key in table],
)
def test_every_language_s_label_is_recognised_whatever_its_case(language: str, key: str) -> None:
    label = LABELS[language][key]
    for written in (label, label.upper(), label.lower()):
        assert carries_label(f"{written}: Bombe entschärft"), written


@pytest.mark.parametrize(
    ("announcement", "language", "label"),
    [
        (parse_announcement(warning()), "de", None),
        (follow_up("update", "Sperrgebiet erweitert"), "de", "Aktualisierung"),
        (follow_up("cancel", "Bombe entschärft"), "de", "Entwarnung"),
        (follow_up("error", "Keine Fliegerbombe"), "de", "Widerruf"),
        (follow_up("update", "Sperrgebiet Neustadt", correction=True), "de", "Korrektur"),
        (follow_up("update", "Area now the new town", correction=True, language="en"), "en", "Correction"),
        (follow_up("cancel", "Bomb defused", language="en"), "en", "All clear"),
        (follow_up("update", "Keine Entwarnung für die Altstadt"), "de", "Aktualisierung"),
        (follow_up("cancel", "Entwarnung: Bombe entschärft"), "de", None),
        (follow_up("update", "Korrektur: Sperrgebiet Neustadt", correction=True), "de", None),
        # Its own label in any language counts; another follow-up's label is no reason to leave it out.
        (follow_up("update", "Update: Sperrgebiet erweitert"), "de", None),
        (follow_up("cancel", "Entwarnung: bomb defused", language="en"), "en", None),
        (follow_up("error", "Entwarnung irrtümlich versandt"), "de", "Widerruf"),
        (follow_up("cancel", "Update: Bombe entschärft"), "de", "Entwarnung"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_follow_up_is_labelled_unless_its_headline_carries_a_label_already(
    announcement: Announcement, language: str, label: str | None
) -> None:
    assert label_for(announcement, language) == label


def test_the_label_is_decided_on_the_headline_shown_in_that_language() -> None:
    announcement = follow_up("cancel", "Bombe entschärft", translations={"en": {"headline": "All clear: bomb defused"}})

    assert label_for(announcement, "de") == "Entwarnung"
    assert label_for(announcement, "en") is None
    assert label_for(announcement, "de", headline="Entwarnung: Bombe entschärft") is None


@pytest.mark.parametrize(
    ("headline", "shown"),
    [
        ("Bombe entschärft", "Entwarnung: Bombe entschärft"),
        ("Entwarnung: Bombe entschärft", "Entwarnung: Bombe entschärft"),
        ("entwarnung – Bombe entschärft", "entwarnung – Bombe entschärft"),
        ("Keine Entwarnung für die Altstadt", "Entwarnung: Keine Entwarnung für die Altstadt"),
    ],
)
def test_a_title_has_one_label_at_most(headline: str, shown: str) -> None:
    assert titled(follow_up("cancel", headline), "de") == shown


def test_an_alert_s_title_is_its_headline_even_if_it_starts_like_a_label() -> None:
    assert titled(parse_announcement(warning(headline="Update zur Fliegerbombe")), "de") == "Update zur Fliegerbombe"


def test_every_label_herold_adds_is_there_in_english_the_fallback_for_every_other_language() -> None:
    # A key only German has would fail in English, and in every language that falls back to it.
    assert set(LABELS["de"]) == set(LABELS["en"])
    assert (LABELS["de"]["source"], LABELS["en"]["source"]) == ("Quelle", "Source")
