"""Counting text the way each platform counts it (see /work/shared/platforms.md).

A post that is one character too long for the platform is rejected in the middle of a crisis;
one that is counted a little too long only loses a few words. So Herold may count more than a
platform, never less.
"""

from __future__ import annotations

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from publisher.domain.counting import (
    CodePointsEmojiAsBytes,
    Counting,
    Graphemes,
    GraphemesShortLinks,
    TextRule,
    Utf8Bytes,
    Utf16Units,
    XWeighted,
    graphemes,
)

# The platforms' rules as the channels declare them.
MASTODON = TextRule(500, GraphemesShortLinks(), counts_spoiler=True)
X = TextRule(280, XWeighted())
BLUESKY = TextRule(300, Graphemes(), also=(TextRule(3000, Utf8Bytes()),))
TELEGRAM = TextRule(4096, Utf16Units(), limit_with_media=1024)
THREADS = TextRule(500, CodePointsEmojiAsBytes())

# Herold's own link to the item page: the only link it knows the platform will shorten.
OWN_LINK = "https://www.lk-beispiel.de/warnungen/2026/11/fliegerbombe-in-der-altstadt-1a2b3c4d/"
SHORT_LINK = "https://lk.de/a"
FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one emoji: four people joined by zero-width joiners
FLAG = "🇩🇪"
E_DECOMPOSED = "e\u0301"  # "é" as e + combining acute accent
LINK_COUNTINGS = [
    pytest.param(GraphemesShortLinks(), id="mastodon"),
    pytest.param(XWeighted(), id="x"),
]


@pytest.mark.parametrize(
    ("counting", "text", "expected"),
    [
        # Mastodon: graphemes, every link 23.
        pytest.param(GraphemesShortLinks(), "Hallo", 5, id="mastodon-latin"),
        pytest.param(GraphemesShortLinks(), "Köln", 4, id="mastodon-umlaut"),
        pytest.param(GraphemesShortLinks(), E_DECOMPOSED, 1, id="mastodon-combining-accent"),
        pytest.param(GraphemesShortLinks(), FAMILY, 1, id="mastodon-family-emoji"),
        pytest.param(GraphemesShortLinks(), FLAG, 1, id="mastodon-flag"),
        pytest.param(GraphemesShortLinks(), OWN_LINK, 23, id="mastodon-long-own-link"),
        pytest.param(GraphemesShortLinks(), SHORT_LINK, 23, id="mastodon-short-own-link"),
        pytest.param(GraphemesShortLinks(), f"Mehr: {OWN_LINK} bitte", 6 + 23 + 6, id="mastodon-link-in-sentence"),
        # X: Latin 1, CJK 2, any emoji sequence 2, links 23, NFC first.
        pytest.param(XWeighted(), "Hallo", 5, id="x-latin"),
        pytest.param(XWeighted(), "Köln", 4, id="x-umlaut"),
        pytest.param(XWeighted(), "日本語", 6, id="x-cjk"),
        pytest.param(XWeighted(), "🔥", 2, id="x-emoji"),
        pytest.param(XWeighted(), FAMILY, 2, id="x-family-emoji-sequence"),
        pytest.param(XWeighted(), E_DECOMPOSED, 1, id="x-nfc-decomposed-accent"),
        pytest.param(XWeighted(), "Cafe\u0301", 4, id="x-nfc-in-a-word"),
        pytest.param(XWeighted(), "„Zitat“ – Ende", 14, id="x-german-quotes-and-dash"),
        pytest.param(XWeighted(), OWN_LINK, 23, id="x-long-own-link"),
        pytest.param(XWeighted(), SHORT_LINK, 23, id="x-short-own-link"),
        pytest.param(XWeighted(), f"Mehr: {OWN_LINK}", 6 + 23, id="x-link-in-sentence"),
        # Bluesky: graphemes, links at full length; and bytes.
        pytest.param(Graphemes(), FAMILY, 1, id="bluesky-family-emoji"),
        pytest.param(Graphemes(), OWN_LINK, len(OWN_LINK), id="bluesky-link-full-length"),
        pytest.param(Utf8Bytes(), "Köln", 5, id="bytes-umlaut"),
        pytest.param(Utf8Bytes(), "🔥", 4, id="bytes-emoji"),
        # Telegram: UTF-16 code units.
        pytest.param(Utf16Units(), "Hallo", 5, id="telegram-latin"),
        pytest.param(Utf16Units(), "Köln", 4, id="telegram-umlaut"),
        pytest.param(Utf16Units(), "🔥", 2, id="telegram-emoji"),
        pytest.param(Utf16Units(), FAMILY, 4 * 2 + 3, id="telegram-family-emoji"),
        pytest.param(Utf16Units(), E_DECOMPOSED, 2, id="telegram-combining-accent"),
        # Threads: characters, an emoji as its UTF-8 bytes.
        pytest.param(CodePointsEmojiAsBytes(), "Hallo", 5, id="threads-latin"),
        pytest.param(CodePointsEmojiAsBytes(), "Köln", 4, id="threads-umlaut"),
        pytest.param(CodePointsEmojiAsBytes(), "🔥", 4, id="threads-emoji"),
        pytest.param(CodePointsEmojiAsBytes(), FAMILY, len(FAMILY.encode()), id="threads-family-emoji"),
        pytest.param(CodePointsEmojiAsBytes(), "Achtung 🔥!", 8 + 4 + 1, id="threads-emoji-in-text"),
    ],
)
def test_each_platform_counts_text_its_own_way(counting: Counting, text: str, expected: int) -> None:
    assert counting.count(text, [OWN_LINK, SHORT_LINK]) == expected


@pytest.mark.parametrize("counting", LINK_COUNTINGS)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("www.stadt.de", id="www-host"),
        pytest.param("stadt.de/info", id="bare-domain-with-path"),
        pytest.param("stadt.de", id="bare-domain"),
        pytest.param("presse@stadt.de", id="email-address"),
        pytest.param("https://andere-stadt.de/info", id="someone-elses-link"),
        pytest.param("köln.de", id="umlaut-domain"),
    ],
)
def test_text_a_platform_may_turn_into_a_link_never_counts_less_than_a_link(counting: Counting, text: str) -> None:
    # Not one of Herold's own links: the platform may shorten it to 23 or leave it as it is.
    counted = counting.count(text, [OWN_LINK])

    assert counted >= 23
    assert counted >= graphemes(text)


@pytest.mark.parametrize("counting", LINK_COUNTINGS)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("z.B.", id="z.B."),
        pytest.param("Nr.5", id="Nr.5"),
        pytest.param("d.h. u.a. usw.", id="abbreviations"),
        pytest.param("ca.3 km", id="ca.3"),
        pytest.param("S.12", id="page-number"),
        pytest.param("am 1.5.2026 um 12.30 Uhr", id="date-and-time"),
        pytest.param("Tel. 0221/12345", id="phone-number"),
    ],
)
def test_german_abbreviations_are_not_mistaken_for_links(counting: Counting, text: str) -> None:
    assert counting.count(text, [OWN_LINK]) == len(text)


def test_a_sentence_with_an_unknown_link_counts_the_link_conservatively_and_the_rest_exactly() -> None:
    text = "Infos unter www.stadt.de und bei der Hotline."
    plain = len("Infos unter ") + len(" und bei der Hotline.")

    assert GraphemesShortLinks().count(text, [OWN_LINK]) == plain + 23 + len("www.stadt.de")
    assert XWeighted().count(text, [OWN_LINK]) == plain + 23 + len("www.stadt.de")


def test_x_recognises_herolds_own_link_even_when_its_accents_are_written_differently() -> None:
    composed = "https://www.stadt-köln.de/warnungen/1/"
    decomposed = composed.replace("ö", "o\u0308")

    assert XWeighted().count(f"Mehr: {decomposed}", [composed]) == 6 + 23


@pytest.mark.parametrize(
    ("rule", "text", "spoiler", "expected"),
    [
        pytest.param(MASTODON, "a" * 495, "Bombe", 0, id="mastodon-spoiler-counts-fits"),
        pytest.param(MASTODON, "a" * 496, "Bombe", 1, id="mastodon-spoiler-counts-over"),
        pytest.param(MASTODON, "a" * 500, None, 0, id="mastodon-without-spoiler"),
        pytest.param(TextRule(500, GraphemesShortLinks()), "a" * 500, "Bombe", 0, id="spoiler-ignored-elsewhere"),
    ],
)
def test_mastodon_counts_the_content_warning_against_the_limit(
    rule: TextRule, text: str, spoiler: str | None, expected: int
) -> None:
    assert rule.excess(text, [], has_media=False, spoiler=spoiler) == expected


def test_the_content_warning_and_the_text_are_counted_together() -> None:
    assert MASTODON.length("Bitte lesen", [], spoiler="Fliegerbombe") == len("Bitte lesen") + len("Fliegerbombe")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a" * 300, 0, id="300-graphemes-fit"),
        pytest.param("a" * 301, 1, id="301-graphemes-over"),
        pytest.param("ö" * 300, 0, id="300-umlauts-600-bytes-fit"),
        pytest.param(FAMILY * 120, 0, id="120-family-emoji-3000-bytes-fit"),
        pytest.param(FAMILY * 150, 150 * 25 - 3000, id="150-family-emoji-over-by-bytes"),
        pytest.param(FAMILY * 301, 301 * 25 - 3000, id="over-by-both-reports-the-worse"),
    ],
)
def test_bluesky_needs_both_its_grapheme_and_its_byte_limit(text: str, expected: int) -> None:
    assert BLUESKY.excess(text, [], has_media=False) == expected


@pytest.mark.parametrize(
    ("text", "has_media", "expected"),
    [
        pytest.param("a" * 1024, True, 0, id="caption-fits"),
        pytest.param("a" * 1000 + "🔥" * 20, True, 1040 - 1024, id="caption-emoji-count-two"),
        pytest.param("a" * 1000 + "🔥" * 20, False, 1040 - 4096, id="message-has-room"),
        pytest.param("🔥" * 2049, False, 2, id="message-over-by-emoji"),
    ],
)
def test_telegram_counts_utf16_units_and_allows_less_under_an_image(text: str, has_media: bool, expected: int) -> None:
    assert TELEGRAM.excess(text, [], has_media=has_media) == expected


@pytest.mark.parametrize(
    ("rule", "text", "expected"),
    [
        pytest.param(THREADS, "a" * 496 + "🔥", 0, id="threads-emoji-fills-four"),
        pytest.param(THREADS, "a" * 497 + "🔥", 1, id="threads-emoji-one-over"),
        pytest.param(X, "日" * 140, 0, id="x-140-cjk-fill-280"),
        pytest.param(X, "日" * 141, 2, id="x-141-cjk-over"),
        pytest.param(X, "a" * 256 + " " + OWN_LINK, 0, id="x-text-and-own-link-fit"),
    ],
)
def test_a_rule_reports_how_far_over_the_limit_a_text_is(rule: TextRule, text: str, expected: int) -> None:
    assert rule.excess(text, [OWN_LINK], has_media=False) == expected


@pytest.mark.parametrize(
    ("rule", "has_media", "description"),
    [
        pytest.param(MASTODON, False, "500 characters", id="mastodon"),
        pytest.param(X, False, "280 weighted characters", id="x"),
        pytest.param(BLUESKY, False, "300 characters and 3,000 bytes", id="bluesky"),
        pytest.param(TELEGRAM, False, "4,096 UTF-16 code units", id="telegram-text"),
        pytest.param(TELEGRAM, True, "1,024 UTF-16 code units", id="telegram-caption"),
        pytest.param(THREADS, True, "500 characters", id="threads-with-image"),
    ],
)
def test_a_rule_describes_itself_for_people(rule: TextRule, has_media: bool, description: str) -> None:
    assert rule.describe(has_media) == description


def test_the_limit_with_media_applies_only_when_an_image_is_attached() -> None:
    assert (TELEGRAM.limit_for(True), TELEGRAM.limit_for(False)) == (1024, 4096)
    assert (MASTODON.limit_for(True), MASTODON.limit_for(False)) == (500, 500)


@pytest.mark.parametrize("text", ["1️⃣ Warnstufe", "🇩🇪 🇺🇦 Hinweis", "#️⃣ Notruf 112", "Hochwasser 🌊 am Rhein"])
def test_x_weighs_keycaps_and_flags_as_one_emoji_as_twitter_text_does(text: str) -> None:
    # An over-count refused warnings X would take (a keycap weighed 5, a flag 4).
    twitter_text = pytest.importorskip("twitter_text")
    assert XWeighted().count(text, ()) == twitter_text.parse_tweet(text).weightedLength


# -- graphemes: counted without splitting where no character can join another -------------------

GRAPHEME_CASES = [
    "a\r\nb", "\r\r\n\n", E_DECOMPOSED, FAMILY, FLAG + FLAG, "한국어", "\u1100\u1161\u11a8", "Straße – „Zone“ …",
    "क्षि", "\u0600\u0661", "👍🏽", "1\ufe0f\u20e3", "",
    "\u1cf5\u0996", "\U00011a3a\u0996",  # Indic conjunct linkers that otherwise break like letters
]  # fmt: skip


@pytest.mark.parametrize("text", GRAPHEME_CASES)
def test_graphemes_are_counted_as_unicode_segments_text(text: str) -> None:
    assert graphemes(text) == len(regex.findall(r"\X", text))


@given(st.text(st.characters(codec="utf-8"), max_size=40))
def test_graphemes_agree_with_unicode_segmentation_for_any_text(text: str) -> None:
    assert graphemes(text) == len(regex.findall(r"\X", text))
