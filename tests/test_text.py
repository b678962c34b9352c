"""What text may contain, and how text from outside is shown on terminals and in feeds."""

from __future__ import annotations

import pytest
from lxml import etree  # type: ignore[import-untyped]

from publisher.domain.text import bidi_control, forbidden_character, printable, unify_newlines, xml_safe


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Fliegerbombe\x00", (13, "U+0000")),
        ("\x1b[31mrot", (1, "U+001B")),
        ("Ende\x7f", (5, "U+007F")),
        ("C1 \x85", (4, "U+0085")),
        ("x\ufffe", (2, "U+FFFE")),
        ("x\U0001ffff", (2, "U+1FFFF")),
        ("x\ufdd0", (2, "U+FDD0")),
        ("Zeile\nZeile\tTab, Umlaute äöü ß, Emoji 🚨, Arabisch مرحبا", None),
    ],
)
def test_characters_no_announcement_needs_are_found_with_their_position(
    text: str, found: tuple[int, str] | None
) -> None:
    assert forbidden_character(text) == found


def test_bidirectional_controls_are_found_but_marks_are_text() -> None:
    assert bidi_control("abc\u202edef") == (4, "U+202E")
    assert bidi_control("abc\u2067d") == (4, "U+2067")
    assert bidi_control("Preis \u200e12 €") is None


def test_a_terminal_never_gets_a_raw_control_character() -> None:
    assert printable("Alarm\x1b[2J\x07 \u202eevil\r\nZeile\tzwei") == "Alarm\\x1b[2J\\x07 \\u202eevil\\x0d\nZeile\tzwei"
    assert printable("Fliegerbombe in Köln 🚨") == "Fliegerbombe in Köln 🚨"


def test_what_xml_forbids_is_left_out_of_feeds() -> None:
    dirty = "a\x00b\x1bc\x0cd\ufffee\tf\ng"
    clean = xml_safe(dirty)

    assert clean == "abcde\tf\ng"
    etree.fromstring(f"<t>{clean}</t>".encode())  # lxml refuses the rest


def test_no_character_xml_forbids_stays_in_a_one_line_value() -> None:
    # XML 1.0's Char production, taken from the standard rather than from the code under test;
    # a headline or a link is one line, the case xml_safe answers without a regular expression.
    def allowed(n: int) -> bool:
        return chr(n) in "\t\n\r" or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD or n >= 0x10000

    forbidden = [chr(n) for n in range(0x11000) if not allowed(n)]

    assert len(forbidden) > 2000  # the C0 controls, the surrogates, U+FFFE and U+FFFF
    assert [c for c in forbidden if xml_safe(f"Fliegerbombe{c} gefunden") != "Fliegerbombe gefunden"] == []
    line = "Fliegerbombe gefunden: https://www.stadt.de/a 🚨"
    assert xml_safe(line) == line


def test_pasted_windows_and_old_mac_line_ends_are_newlines() -> None:
    assert unify_newlines("a\r\nb\rc\n") == "a\nb\nc\n"
