"""What text may contain, and how to show text safely where it was not written for.

An announcement's text travels into XML feeds, HTML pages, databases, platform APIs and an
operator's terminal. Each of them breaks on some characters that no announcement needs:
control characters (NUL ends a PostgreSQL text, ESC drives a terminal, most of them are not
allowed in XML), lone surrogates (not encodable as UTF-8), noncharacters (U+FFFE, not allowed
in XML). Herold refuses them at the door, naming the field. Newline and tab are text.

Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) make a line display
differently from how it reads ("Trojan Source"); a headline never needs them.

What was stored before these rules, or comes from elsewhere, is made safe on the way out:
`printable` for terminals, `xml_safe` for feeds and pages.
"""

from __future__ import annotations

import json
import re

# C0 controls but tab and newline, DEL and the C1 controls, lone surrogates, and the
# noncharacters: U+FDD0–U+FDEF and the last two code points of every plane.
_NONCHARACTERS = "".join(f"\\U{plane:04x}fffe\\U{plane:04x}ffff" for plane in range(0x11))
FORBIDDEN = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\ufdd0-\\ufdef{_NONCHARACTERS}]")
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# What XML 1.0 does not allow (it allows carriage return, which announcements never contain).
_NOT_XML = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ud800-\\udfff{_NONCHARACTERS}]")
# What a terminal may act on: every control but newline and tab, and the bidirectional controls.
_NOT_PRINTABLE = re.compile(f"{FORBIDDEN.pattern}|{BIDI_CONTROLS.pattern}|\\r")


def code_point(character: str) -> str:
    return f"U+{ord(character):04X}"


def forbidden_character(text: str) -> tuple[int, str] | None:
    """The first character no announcement may contain, as (position from 1, "U+001B")."""
    found = FORBIDDEN.search(text)
    return (found.start() + 1, code_point(found.group())) if found else None


def bidi_control(text: str) -> tuple[int, str] | None:
    """The first bidirectional override or isolate, as (position from 1, "U+202E")."""
    found = BIDI_CONTROLS.search(text)
    return (found.start() + 1, code_point(found.group())) if found else None


def unify_newlines(text: str) -> str:
    """Windows (CR LF) and old Mac (CR) line ends as newlines: pasted text is still text."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _escape(match: re.Match[str]) -> str:
    value = ord(match.group())
    return f"\\x{value:02x}" if value < 0x100 else f"\\u{value:04x}"


def printable(text: str) -> str:
    """Text for a terminal: every control but newline and tab shown as an escape (``\\x1b``)."""
    return _NOT_PRINTABLE.sub(_escape, text)


def xml_safe(text: str) -> str:
    """Text without the characters XML 1.0 forbids (they make feed writers refuse the feed)."""
    # Each of them is unprintable to Python (a control, a surrogate, a noncharacter), and most
    # values (headlines, links, tags) are one printable line: asked of every value a template prints.
    return text if text.isprintable() else _NOT_XML.sub("", text)


def json_escaped(document: str) -> str:
    """JSON text with what a terminal would act on written as ``\\uXXXX`` escapes. JSON escapes
    C0 controls itself; this covers DEL, C1, the bidirectional controls and the rest, which can
    only stand inside strings, where an escape means the same character."""
    return _NOT_PRINTABLE.sub(lambda match: json.dumps(match.group())[1:-1], document)


def N_(message: str) -> str:
    """Marks a message for the web app's gettext catalogs (``scripts/update-catalogs`` finds it);
    the page that shows it translates it."""
    return message
