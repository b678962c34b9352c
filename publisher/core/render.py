"""Turn one announcement into one variant per channel, within that channel's limit.

A variant always keeps the headline, the instruction and the link to the item's own page
(the off-platform original). When the platform's limit is exceeded, Herold drops the
hashtags first, then shortens the description at a word boundary (ending in "…"), then drops
it, then does the same with the area line. If headline, instruction and link alone do not
fit, the announcement cannot go to that channel: intake rejects it with the numbers.
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
    def __init__(self, channel: str, needed: int, limit: int, rule: str) -> None:
        self.channel, self.needed, self.limit, self.rule = channel, needed, limit, rule
        super().__init__(
            f"headline, instruction and link need {needed:,} of the {rule} that channel '{channel}' allows"
        )


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


def _cut(text: str, words: int) -> str | None:
    """The first ``words`` words of ``text``, ending in an ellipsis; None for zero words."""
    if words <= 0:
        return None
    ends = [m.start() for m in re.finditer(r"\s+", text.strip())]
    stripped = text.strip()
    if words > len(ends):
        return stripped
    return stripped[: ends[words - 1]].rstrip(".,;:!?-–— ") + ELLIPSIS


def _word_count(text: str) -> int:
    return len(text.split())


def _shorten(full: _Parts, fits: Callable[[_Parts], bool]) -> tuple[_Parts, tuple[str, ...]]:
    """The parts to draw and what was given up: the first that ``fits``, in the order of the
    module docstring; when nothing does, the minimum (headline, instruction and link)."""
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
        # Binary search for the most words that still fit; more words never count less.
        low, high = 0, _word_count(text)
        while low < high:
            middle = (low + high + 1) // 2
            if fits(_with(parts, name, _cut(text, middle))):
                low = middle
            else:
                high = middle - 1
        parts = _with(parts, name, _cut(text, low))
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
) -> Variant:
    """The announcement's variant for one channel, cut to the rule as the module docstring says.

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
    has_media = bool(announcement.media)
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

    def variant(text: str, shortened: tuple[str, ...]) -> Variant:
        return Variant(
            channel=channel,
            language=language,
            text=text,
            spoiler=spoiler,
            link=link,
            length=rule.length(text, links, spoiler) if rule else None,
            limit=rule.limit_for(has_media) if rule else None,
            shortened=shortened,
        )

    if rule is None:
        return variant(draw(full), ())

    def fitting(text: str) -> bool:
        return rule.excess(text, links, has_media, spoiler) <= 0

    def finished(parts: _Parts, shortened: tuple[str, ...]) -> Variant:
        text = draw(parts)
        if fitting(text):
            return variant(text, shortened)
        needed = rule.length(text, links, spoiler)
        raise DoesNotFit(channel, needed, rule.limit_for(has_media), rule.describe(has_media))

    layout = _measure(raw, full, env)
    if layout is not None:
        parts, shortened = _shorten(full, lambda parts: fitting(layout.text_for(parts)))
        if draw(parts) == layout.text_for(parts):
            return finished(parts, shortened)
    return finished(*_shorten(full, lambda parts: fitting(draw(parts))))
