"""Turn one announcement into one variant per channel, within that channel's limit.

A variant always keeps the headline, the instruction and the link to the item's own page
(the off-platform original). When the platform's limit is exceeded, Herold drops the
hashtags first, then shortens the description at a word boundary (ending in "…"), then drops
it, then does the same with the area line. If headline, instruction and link alone do not
fit, the announcement cannot go to that channel: intake rejects it with the numbers.

A relayed announcement (one with an ``attribution``: a warning system's text) is a third
party's words, which may only be relayed unaltered (MoWaS's terms) and with its source named
(the weather service's open data). Its variants name the source on a line of their own, which
is never cut; its description is shortened only at the end of a whole sentence, followed by a
note of Herold's own (label ``shortened``) that the full text is at the link, and its area
only after a whole area name ("; "-separated, then "…"). Where not one sentence or name fits,
that part is dropped: never a sentence cut inside, never "…" within the sender's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from publisher.core.templates import TEMPLATES
from publisher.domain.announcement import Announcement
from publisher.domain.counting import TextRule
from publisher.domain.labels import label_for, labels_for, primary
from publisher.domain.records import Variant
from publisher.domain.text import xml_safe

ELLIPSIS = "…"


class DoesNotFit(Exception):
    def __init__(self, channel: str, needed: int, limit: int, rule: str, *, relayed: bool = False) -> None:
        self.channel, self.needed, self.limit, self.rule = channel, needed, limit, rule
        kept = "headline, instruction, source and link" if relayed else "headline, instruction and link"
        super().__init__(f"{kept} need {needed:,} of the {rule} that channel '{channel}' allows")


def _without_control_characters(value: Any) -> Any:
    """Whatever a template prints: no character that pages, feeds or platforms refuse (intake
    refuses them; this covers what was stored before, or by hand)."""
    return type(value)(xml_safe(value)) if isinstance(value, str) else value


@cache
def environment(directory: Path = TEMPLATES) -> Environment:
    env = Environment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        # Channel texts are plain text; only site pages and feeds are markup.
        autoescape=select_autoescape(enabled_extensions=("html.j2", "xml.j2"), default=False),
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_without_control_characters,
    )
    env.filters["hashtag"] = lambda tag: f"#{tag}"
    env.filters["whole_sentences"] = whole_sentences
    env.filters["whole_names"] = whole_names
    return env


@cache
def local_time(moment: datetime, language: str, timezone: str) -> str:
    """A date and time as people in that language read it, in the authority's time zone."""
    zone, locale = _zone(timezone), _locale(language)
    day = format_date(moment.astimezone(zone), "long", locale=locale)
    return f"{day}, {format_time(moment, 'short', tzinfo=zone, locale=locale)}"


@cache
def _locale(language: str) -> str:
    try:
        return str(Locale.parse(primary(language)))
    except (UnknownLocaleError, ValueError):
        return "en"


@cache
def _zone(name: str) -> Any:
    return ZoneInfo(name)


@dataclass(frozen=True)
class _Parts:
    """The parts of a variant that may be cut, in the order they are given up."""

    hashtags: tuple[str, ...]
    description: str | None
    area: str | None


def _with(parts: _Parts, name: str, text: str | None) -> _Parts:
    return replace(parts, description=text) if name == "description" else replace(parts, area=text)


_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines))


@dataclass(frozen=True)
class _Cuts:
    """How one part is shortened: it has ``count`` units (words, sentences, area names), and
    ``cut(n)`` is its text with the first ``n`` of them (None for none, the whole text for all)."""

    count: int
    cut: Callable[[int], str | None]


def _words(text: str) -> _Cuts:
    """Herold's own text: cut at a word, ending in an ellipsis."""
    stripped = text.strip()
    ends = [m.start() for m in re.finditer(r"\s+", stripped)]

    def cut(words: int) -> str | None:
        if words <= 0:
            return None
        if words > len(ends):
            return stripped
        return stripped[: ends[words - 1]].rstrip(".,;:!?-–— ") + ELLIPSIS

    return _Cuts(len(ends) + 1 if stripped else 0, cut)


# Where a sentence may end: its punctuation, closing quotes or brackets, then a space. Whether it
# does is decided in `sentence_ends`; a paragraph (a blank line) always ends one.
_CLOSING = "\"'’”“‘»«)]"  # German closes with “ and ‘
_OPENING = "\"'„“‚‘»«(["
_STOP = re.compile(rf"[.!?…]+[{re.escape(_CLOSING)}]*(?=\s)")
_NEXT = re.compile(r"\s*(\S)")
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n")
# Words that end in a full stop without ending the sentence (German first, a few English ones).
# Any other word ending in "." before a capital is taken as a sentence's end.
ABBREVIATIONS = frozenset({
    "abs", "abt", "allg", "bzgl", "bzw", "ca", "chr", "co", "dipl", "dr", "ehem", "einschl", "etc", "evtl", "ff",
    "fr", "frl", "gem", "ggf", "hbf", "hr", "hrsg", "inkl", "jh", "jr", "kap", "kath", "lt", "max", "min", "mio",
    "mrd", "nr", "nördl", "östl", "prof", "rd", "sog", "st", "std", "str", "südl", "tel", "usw", "vgl", "westl",
    "zzgl", "approx", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "okt", "oct",
    "nov", "dez", "dec", "mo", "di", "mi", "do", "sa", "so", "no", "vs"
})  # fmt: skip


def sentence_ends(text: str) -> list[int]:
    """Where each sentence of ``text`` but the last ends. Wary: an end it misses only means fewer
    sentences kept, a false one would cut a sentence inside. So a full stop after a number ("am
    1. Dezember"), a single letter ("z. B."), an abbreviation ("Nr. 5", "ca. 3") or a word with a
    full stop within ("z.B.") ends none, and none ends before a lower-case letter."""
    ends = {m.start() for m in _PARAGRAPH.finditer(text)}
    for stop in _STOP.finditer(text):
        following = _NEXT.match(text, stop.end())
        if following is None or following.group(1).islower():
            continue
        if stop.group().rstrip(_CLOSING).endswith(".") and not stop.group().startswith(("..", "…")):
            begins = max(text.rfind(space, 0, stop.start()) for space in " \t\r\n") + 1
            word = text[begins : stop.start()].lstrip(_OPENING)
            if len(word) <= 1 or "." in word or word.isdigit() or word.casefold() in ABBREVIATIONS:
                continue
        ends.add(stop.end())
    first, last = len(text) - len(text.lstrip()), len(text.rstrip())
    return sorted(end for end in ends if first < end < last)


def _sentences(text: str, note: str) -> _Cuts:
    """A third party's text: cut only after a whole sentence, followed by Herold's ``note``."""
    stripped = text.strip()
    ends = sentence_ends(stripped)

    def cut(sentences: int) -> str | None:
        if sentences <= 0:
            return None
        if sentences > len(ends):
            return stripped
        return f"{stripped[: ends[sentences - 1]].rstrip()} {note}"

    return _Cuts(len(ends) + 1 if stripped else 0, cut)


AREA_SEPARATOR = "; "  # between the names of a relayed alert's areas (publisher.sources.cap)


def _names(text: str) -> _Cuts:
    """A third party's list of areas: cut only after a whole name, followed by "…"."""
    stripped = text.strip()
    names = stripped.split(AREA_SEPARATOR)

    def cut(count: int) -> str | None:
        if count <= 0:
            return None
        if count >= len(names):
            return stripped
        return AREA_SEPARATOR.join(names[:count]) + AREA_SEPARATOR + ELLIPSIS

    return _Cuts(len(names) if stripped else 0, cut)


def whole_sentences(text: str, length: int) -> str:
    """A relayed text for a list that links to it: as many whole sentences as ``length``
    characters hold (the first one in any case), then "…" if any are left out."""
    stripped = text.strip()
    if len(stripped) <= length:
        return stripped
    ends = sentence_ends(stripped)
    kept = [end for end in ends if end <= length] or ends[:1]
    return f"{stripped[: kept[-1]].rstrip()} {ELLIPSIS}" if kept else stripped


def whole_names(text: str, length: int) -> str:
    """A relayed list of areas for a list that links to it: as many whole names as ``length``
    characters hold (the first one in any case), then "…" if any are left out."""
    cuts = _names(text)
    kept = next((n for n in range(cuts.count, 1, -1) if len(cuts.cut(n) or "") <= length), 1)
    return cuts.cut(kept) or text.strip()


def _shorten(
    full: _Parts, fits: Callable[[_Parts], bool], cuts: Callable[[str, str], _Cuts]
) -> tuple[_Parts, tuple[str, ...]]:
    """The parts to draw and what was given up: the first that ``fits``, in the order of the
    module docstring; when nothing does, the minimum (headline, instruction and link).
    ``cuts(name, text)`` says how a part may be shortened."""
    if fits(full):
        return full, ()
    parts = replace(full, hashtags=())
    shortened: tuple[str, ...] = ("hashtags",) if full.hashtags else ()
    if fits(parts):
        return parts, shortened
    for name in ("description", "area"):
        text = getattr(parts, name)
        if text is None:
            continue
        shortened += (name,)
        # Binary search for the most units that still fit; more units never count less (the
        # whole text, which may be shorter than a cut one with its note, is known not to fit).
        how = cuts(name, text)
        low, high = 0, how.count
        while low < high:
            middle = (low + high + 1) // 2
            if fits(_with(parts, name, how.cut(middle))):
                low = middle
            else:
                high = middle - 1
        parts = _with(parts, name, how.cut(low))
        if fits(parts):
            return parts, shortened
    return parts, shortened


# -- Measuring: one draw tells where the cuttable parts stand, so the search needs no draws. --
#
# The measuring draw prints a sentinel for each cuttable part: private-use characters (which
# the finalize filter keeps), mixed case and markup characters, so that a template which
# changes the value (upper-cases it, escapes it) does not print the sentinel as it was given.
# The measurement then predicts the wrong text, and the draw of the chosen parts shows it.


def _sentinel(name: str) -> str:
    return f"\ue000{name}<&>Herold\ue001"


@dataclass(frozen=True)
class _Slot:
    """Where one part stands in the measuring draw: the sentinel(s) from ``start`` to ``end``
    (for hashtags, from the first tag's to the second's, ``separator`` between them), on the
    line(s) from ``line_start`` to ``line_end`` (with the line end)."""

    name: str
    start: int
    end: int
    line_start: int
    line_end: int
    separator: str = ""


@dataclass(frozen=True)
class _Layout:
    """A template's text for one announcement, with a slot for each part that may be cut.

    A part that is there stands in its slot as the template prints it (through the finalize
    filter); a part that is not loses the whole line(s) its slot stood on, as an
    ``{% if part %}`` block does. That is exact for templates that print each part once, on
    lines of its own, unchanged; for any other, the draw of the chosen parts shows the
    difference, and `render` searches by drawing.
    """

    text: str
    slots: tuple[_Slot, ...]
    finalize: Callable[[str], str]

    def text_for(self, parts: _Parts) -> str:
        pieces, position = [], 0
        for slot in self.slots:
            value = self._value(slot, parts)
            if value is None:
                pieces.append(self.text[position : slot.line_start])
                position = slot.line_end
            else:
                pieces += [self.text[position : slot.start], value]
                position = slot.end
        pieces.append(self.text[position:])
        return _tidy("".join(pieces))

    def _value(self, slot: _Slot, parts: _Parts) -> str | None:
        if slot.name == "hashtags":
            return slot.separator.join(self.finalize(tag) for tag in parts.hashtags) if parts.hashtags else None
        value: str | None = getattr(parts, slot.name)
        return self.finalize(value) if value else None


def _finalizer(env: Environment) -> Callable[[str], str] | None:
    """What the environment does to a value it prints (autoescaping aside: the sentinels show
    it); None when that needs the template's context."""
    finalize = env.finalize
    if not finalize:
        return str
    if getattr(finalize, "jinja_pass_arg", None) is not None:
        return None
    return lambda value: str(finalize(value))


def _measure(draw: Callable[[_Parts], str], full: _Parts, env: Environment) -> _Layout | None:
    """One draw with sentinels for the parts there are, and where they stand in it. A part whose
    sentinel does not show is taken as not printed (the cut draw checks it); None when one shows
    more than once, or two parts share a line."""
    finalize = _finalizer(env)
    if finalize is None:
        return None
    marked = _Parts(
        hashtags=(_sentinel("hashtag1"), _sentinel("hashtag2")) if full.hashtags else (),
        description=_sentinel("description") if full.description else full.description,
        area=_sentinel("area") if full.area else full.area,
    )
    text = draw(marked)
    slots = []
    for name, sentinels in (
        ("description", (marked.description,) if marked.description else ()),
        ("area", (marked.area,) if marked.area else ()),
        ("hashtags", marked.hashtags),
    ):
        shown = {text.count(sentinel) for sentinel in sentinels}
        if shown <= {0}:
            continue
        if shown != {1}:
            return None
        first, last = sentinels[0], sentinels[-1]
        start, last_start = text.index(first), text.index(last)
        between = start + len(first)
        if len(sentinels) > 1 and last_start < between:
            return None
        end = last_start + len(last)
        line_start, line_end = text.rfind("\n", 0, start) + 1, text.find("\n", end) + 1 or len(text)
        slots.append(_Slot(name, start, end, line_start, line_end, text[between:last_start]))
    slots.sort(key=lambda slot: slot.start)
    if any(before.line_end > after.line_start for before, after in pairwise(slots)):
        return None  # two parts on one line: dropping one would drop the other
    return _Layout(text, tuple(slots), finalize)


def render(
    announcement: Announcement,
    *,
    channel: str,
    template: str,
    link: str,
    rule: TextRule | None = None,
    spoiler: str | None = None,
    timezone: str = "Europe/Berlin",
    env: Environment | None = None,
    beside_media: bool = False,
) -> Variant:
    """The announcement's variant for one channel, cut to the rule as the module docstring says.
    ``beside_media``: the text goes with an image the post already has (a correction edits a
    photo's caption), so the rule's limit with media holds even if the announcement has none.

    The template is drawn (rendered) at most twice: once with sentinels to measure where the
    cuttable parts stand, then once with the parts chosen by searching over that measurement.
    If the template does not lend itself to measuring, or the draw differs from what the
    measurement predicted, the search draws each candidate instead (slower, same result).
    """
    env = env or environment()
    language = announcement.language or "de"
    t = labels_for(language)
    text_in = announcement.text_in(language)
    label = label_for(announcement, language, text_in.headline)  # None when the headline carries one
    has_media = bool(announcement.media) or beside_media
    links = (link,)
    body = env.get_template(template)

    def raw(parts: _Parts) -> str:
        context: dict[str, Any] = {
            "a": announcement,
            "t": t,
            "label": label,
            "headline": text_in.headline,
            "instruction": text_in.instruction,
            "description": parts.description,
            "area": parts.area,
            "hashtags": parts.hashtags,
            "link": link,
            "effective": announcement.effective and local_time(announcement.effective, language, timezone),
            "expires": announcement.expires and local_time(announcement.expires, language, timezone),
        }
        return body.render(context)

    drawn: dict[_Parts, str] = {}

    def draw(parts: _Parts) -> str:
        if parts not in drawn:
            drawn[parts] = _tidy(raw(parts))
        return drawn[parts]

    full = _Parts(
        hashtags=tuple(announcement.hashtags),
        description=text_in.description,
        area=announcement.area.description if announcement.area else None,
    )

    counted: dict[str, int] = {}

    def length(text: str) -> int:
        """The platform's count of a text, once per text: the search, the last check and the
        variant all ask for the same one, and counting is a good part of rendering's time."""
        assert rule is not None
        if text not in counted:
            counted[text] = rule.length(text, links, spoiler)
        return counted[text]

    def variant(text: str, shortened: tuple[str, ...]) -> Variant:
        return Variant(
            channel=channel,
            language=language,
            text=text,
            spoiler=spoiler,
            link=link,
            length=length(text) if rule else None,
            limit=rule.limit_for(has_media) if rule else None,
            shortened=shortened,
        )

    if rule is None:
        return variant(draw(full), ())

    def fitting(text: str) -> bool:
        return rule.excess(text, links, has_media, spoiler, length=length(text)) <= 0

    relayed = announcement.attribution is not None

    def finished(parts: _Parts, shortened: tuple[str, ...]) -> Variant:
        text = draw(parts)
        if fitting(text):
            return variant(text, shortened)
        needed = length(text)
        raise DoesNotFit(channel, needed, rule.limit_for(has_media), rule.describe(has_media), relayed=relayed)

    def cuts(name: str, text: str) -> _Cuts:
        if not relayed:
            return _words(text)
        return _sentences(text, t("shortened")) if name == "description" else _names(text)

    layout = _measure(raw, full, env)
    if layout is not None:
        parts, shortened = _shorten(full, lambda parts: fitting(layout.text_for(parts)), cuts)
        if draw(parts) == layout.text_for(parts):
            return finished(parts, shortened)
    return finished(*_shorten(full, lambda parts: fitting(draw(parts)), cuts))
