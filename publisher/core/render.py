"""Turn one announcement into one variant per channel, within that channel's limit.

A variant always keeps the headline, the instruction and the link to the item's own page
(the off-platform original). When the platform's limit is exceeded, Herold drops the
hashtags first, then shortens the description at a word boundary (ending in "…"), then drops
it, then does the same with the area line. If headline, instruction and link alone do not
fit, the announcement cannot go to that channel: intake rejects it with the numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from publisher.core.templates import TEMPLATES
from publisher.domain.announcement import Announcement
from publisher.domain.counting import TextRule
from publisher.domain.labels import labels_for, primary
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
    env = env or environment()
    language = announcement.language or "de"
    t = labels_for(language)
    text_in = announcement.text_in(language)
    has_media = bool(announcement.media)
    links = (link,)
    body = env.get_template(template)

    def draw(parts: _Parts) -> str:
        context: dict[str, Any] = {
            "a": announcement,
            "t": t,
            "label": t(f"msg_type.{announcement.msg_type.value}") if announcement.is_follow_up else None,
            "headline": text_in.headline,
            "instruction": text_in.instruction,
            "description": parts.description,
            "area": parts.area,
            "hashtags": parts.hashtags,
            "link": link,
            "effective": announcement.effective and local_time(announcement.effective, language, timezone),
            "expires": announcement.expires and local_time(announcement.expires, language, timezone),
        }
        return _tidy(body.render(context))

    full = _Parts(
        hashtags=tuple(announcement.hashtags),
        description=text_in.description,
        area=announcement.area.description if announcement.area else None,
    )

    def variant(parts: _Parts, shortened: tuple[str, ...]) -> Variant:
        text = draw(parts)
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
        return variant(full, ())

    def fits(parts: _Parts) -> bool:
        return rule.excess(draw(parts), links, has_media, spoiler) <= 0

    if fits(full):
        return variant(full, ())
    parts = replace(full, hashtags=())
    shortened: tuple[str, ...] = ("hashtags",) if full.hashtags else ()
    if fits(parts):
        return variant(parts, shortened)
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
            return variant(parts, shortened)
    text = draw(parts)
    needed = rule.length(text, links, spoiler)
    raise DoesNotFit(channel, needed, rule.limit_for(has_media), rule.describe(has_media))
