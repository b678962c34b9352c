"""Routing: what becomes of a warning a warning system brings — published at once, kept for a
person's approval, or only recorded — and on which channels.

The authority's rules (``[[authorities.rules]]``) are tried in order; the first that matches
decides. When none does, the integration's own ``decision`` and ``channels`` apply, named
``DEFAULT_RULE`` in the audit. Pure: ``route`` reads the announcement document as the CAP and
NINA mappers (or a JSON sender) made it, and raises for none of them, however malformed.

Where a warning applies is judged from its geocodes and polygons:

- The German regional keys nest: ARS (12 digits: Land 2, Regierungsbezirk 1, Kreis 2,
  Gemeindeverband 4, Gemeinde 3; "SHN" in older MoWaS data) and AGS (8 digits: Land, Bezirk,
  Kreis, Gemeinde). A key that ends in zeros from one of those levels on stands for the whole
  of the level before: "053150000000" is Köln, "050000000000" North Rhine-Westphalia,
  "000000000000" Germany. Two keys of the same kind match when they agree on the levels the
  coarser one names, so a warning for a Kreis concerns each of its Gemeinden and a warning for
  one Gemeinde concerns its Kreis. Levels, not bare trailing zeros: Kreis 01060 (Segeberg)
  must not contain Kreis 01061 (Steinburg), as "0106" would. ARS and AGS are not compared
  with each other.
- Any other code (the DWD's WARNCELLID, …) matches only the same value under the same name.
  Names compare case-insensitively.
- Polygons are CAP's [latitude, longitude] rings; any overlap counts, touching too. A ring that
  crosses itself is repaired (``make_valid``; a long one, or many, become their convex hulls,
  see ``Repairs``), not refused: the sender's shape still says where.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry
from shapely.validation import make_valid

from publisher.domain.authority import REGIONAL_KEYS, Authority, AuthorityArea, Decision, Integration, RoutingRule

DEFAULT_RULE = "the integration's decision"

# Where each level of a regional key ends: a key whose digits from one of these on are all
# zeros stands for the region its digits before name.
_LEVELS = {12: (0, 2, 3, 5, 9), 8: (0, 2, 3, 5)}
_FAMILY = {"SHN": "ARS"}  # one key, two names


@dataclass(frozen=True)
class Routing:
    """The outcome for one warning: what happens, where (None: every channel of the authority),
    the rule that decided (``DEFAULT_RULE`` when none matched) and why, in one line."""

    decision: Decision
    channels: tuple[str, ...] | None
    rule: str
    why: str


@dataclass(frozen=True)
class Verdict:
    """One rule's answer for one warning, for ``herold rules test``."""

    rule: str
    matched: bool
    why: str


def route(authority: Authority, integration: Integration, document: Mapping[str, Any]) -> Routing:
    """The first of the authority's rules that matches ``document`` (from ``integration``)
    decides; the integration's own decision when none does."""
    for rule in authority.rules:
        verdict = check(rule, authority, integration, document)
        if verdict.matched:
            channels = rule.channels if rule.channels is not None else integration.channels
            return Routing(rule.decision, _tuple(channels), rule.name, verdict.why)
    count = len(authority.rules)
    tried = f"none of the {count} rules matched" if count > 1 else "the rule did not match" if count else "no rules"
    why = f"{tried}: the integration {integration.id} decides"
    return Routing(integration.decision, _tuple(integration.channels), DEFAULT_RULE, why)


def explain(authority: Authority, integration: Integration, document: Mapping[str, Any]) -> list[Verdict]:
    """Every rule's answer, in order (the first that matched is the one ``route`` follows)."""
    return [check(rule, authority, integration, document) for rule in authority.rules]


def check(rule: RoutingRule, authority: Authority, integration: Integration, document: Mapping[str, Any]) -> Verdict:
    """Whether ``rule`` matches; ``why`` names what matched, or the first condition that did not."""
    matched: list[str] = []
    for ok, found, wanted in _conditions(rule, authority, integration, document):
        if not ok:
            return Verdict(rule.name, False, f"{found}, not {wanted}" if wanted else found)
        matched.append(found)
    return Verdict(rule.name, True, "; ".join(matched) or "it matches every warning")


def _conditions(
    rule: RoutingRule, authority: Authority, integration: Integration, document: Mapping[str, Any]
) -> Iterator[tuple[bool, str, str]]:
    """(whether it holds, what the warning has, what the rule wants) for each condition the
    rule sets. A generator: the first that fails stops the rest (the shapes cost the most)."""
    if rule.sources:
        yield integration.id in rule.sources, f"from {integration.id}", _any(rule.sources)
    if rule.events:
        event = _word(document.get("event"))
        wanted = {_word(e) for e in rule.events}
        yield bool(event) and event in wanted, f"event {_shown(document.get('event'))}", _any(rule.events, quote=True)
    if rule.event_codes:
        codes = _codes(document.get("event_codes"))
        found = next((f"{n}:{v}" for n, v in codes for c in rule.event_codes
                      if v.casefold() == c.value.casefold() and (c.name is None or n.upper() == c.name.upper())),
                     None)  # fmt: skip
        yield found is not None, f"event code {found}" if found else "no event code the rule lists", ""
    for key, allowed in (("severity", rule.severities), ("urgency", rule.urgencies)):
        if allowed:
            value = _word(document.get(key))
            yield value in {a.value for a in allowed}, f"{key} {value or 'not given'}", _any([a.value for a in allowed])
    if rule.geocodes:
        hit = _first_match(_codes(_area(document).get("geocodes")), [(c.name, c.value) for c in rule.geocodes])
        yield hit is not None, f"geocode {hit[0]}:{hit[1]}" if hit else "no geocode the rule lists", ""
    if rule.in_authority_area is not None:
        inside = in_area(authority.area, _area(document)) if authority.area else None
        if inside is None:
            yield False, "cannot tell whether it is in the authority's area (no code of a kind it lists, no shape)", ""
        else:
            says = "in the authority's area" if inside else "outside the authority's area"
            yield inside == rule.in_authority_area, says, ""


def _any(values: Sequence[str], quote: bool = False) -> str:
    shown = [repr(v) if quote else v for v in values[:5]]
    listed = ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]
    return listed + (" …" if len(values) > 5 else "")


def _tuple(channels: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(channels) if channels is not None else None


def _word(value: Any) -> str:
    return " ".join(value.split()).casefold() if isinstance(value, str) else ""


def _shown(value: Any) -> str:
    return repr(" ".join(value.split())[:60]) if isinstance(value, str) and value.strip() else "not given"


def _area(document: Mapping[str, Any]) -> Mapping[str, Any]:
    area = document.get("area")
    return area if isinstance(area, Mapping) else {}


def _codes(value: Any) -> list[tuple[str, str]]:
    """(name, value) pairs from a list of {name, value} objects; anything else is passed over."""
    if not isinstance(value, list):
        return []
    pairs = []
    for code in value:
        if isinstance(code, Mapping):
            name, text = code.get("name"), code.get("value")
            if isinstance(name, str) and isinstance(text, str) and name.strip() and text.strip():
                pairs.append((name.strip(), text.strip()))
    return pairs


# --- geocodes ------------------------------------------------------------------------------------


def _family(name: str) -> str:
    upper = name.upper()
    return _FAMILY.get(upper, upper)


def _significant(key: str) -> int:
    """How many leading digits of a regional key name its region: up to the first level from
    which on it is all zeros."""
    for level in _LEVELS[len(key)]:
        if not key[level:].strip("0"):
            return level
    return len(key)


def _regional(name: str, value: str) -> bool:
    length = REGIONAL_KEYS.get(name.upper())
    return length is not None and len(value) == length and value.isascii() and value.isdigit()


def codes_match(first: tuple[str, str], second: tuple[str, str]) -> bool:
    """Whether two (name, value) geocodes concern the same place (see the module's docstring)."""
    (name_a, value_a), (name_b, value_b) = first, second
    if _family(name_a) != _family(name_b):
        return False
    if _regional(name_a, value_a) and _regional(name_b, value_b):
        shared = min(_significant(value_a), _significant(value_b))
        return value_a[:shared] == value_b[:shared]
    return value_a == value_b


def _first_match(codes: Sequence[tuple[str, str]], listed: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The first of ``codes`` that matches one of ``listed``. A warning may carry a thousand
    geocodes and an authority hundreds of warn cells: exact codes are looked up, and only
    regional keys compared one by one."""
    exact = {(_family(name), value) for name, value in listed}
    regional = [(name, value) for name, value in listed if _regional(name, value)]
    for code in codes:
        if (_family(code[0]), code[1]) in exact:
            return code
        if _regional(*code) and any(codes_match(code, other) for other in regional):
            return code
    return None


# --- the authority's area ------------------------------------------------------------------------


def in_area(area: AuthorityArea, warning: Mapping[str, Any]) -> bool | None:
    """Whether a warning's area (its document's ``area``) touches the authority's: True, False,
    or None when nothing in it can be compared (no geocode of a kind the authority lists, no
    polygon while the authority has an outline, or the other way round)."""
    codes = _codes(warning.get("geocodes"))
    known = {_family(c.name) for c in area.geocodes}
    comparable = [code for code in codes if _family(code[0]) in known]
    if _first_match(comparable, [(c.name, c.value) for c in area.geocodes]):
        return True
    polygons = warning.get("polygons")
    if area.polygons and isinstance(polygons, list):
        touching = _touching(_outline(area), _rings(polygons))
        if touching is not None:
            return touching
    return False if comparable else None


def _touching(outline: BaseGeometry, rings: Iterable[list[tuple[float, float]]]) -> bool | None:
    """Whether one of the rings touches the outline, each compared on its own (GEOS fails on a
    collection of overlapping rings: "cannot compute the quadrant"), the first that does ending
    the search; None if no ring makes a shape. A ring whose bounding box misses the outline's
    is never built, let alone repaired."""
    west, south, east, north = outline.bounds
    shaped, repairs = False, Repairs()
    for ring in rings:
        if not ring:
            continue
        xs, ys = [x for x, _ in ring], [y for _, y in ring]
        if max(xs) < west or min(xs) > east or max(ys) < south or min(ys) > north:
            shaped = True
            continue
        part = _part(ring, repairs)
        if part is None:
            continue
        shaped = True
        if outline.intersects(part):
            return True
    return None if not shaped else False


@functools.lru_cache(maxsize=64)
def _outline(area: AuthorityArea) -> BaseGeometry:
    # Built once per configured area (an outline may have thousands of points); prepared for
    # the many warnings tested against it.
    # The rings as one valid shape: overlapping rings in a mere collection make GEOS fail.
    repairs = Repairs()
    parts = [_part([(lon, lat) for lat, lon in ring], repairs) for ring in area.polygons]
    assert any(parts)  # the model requires rings of at least four valid points
    shape = shapely.union_all([part for part in parts if part is not None])
    shapely.prepare(shape)
    return shape


def ring_problem(ring: Sequence[tuple[float, float]]) -> str | None:
    """Why a configured outline is not a simple ring (it crosses itself, say: most often a
    point out of place, or latitude and longitude swapped), or None."""
    polygon = shapely.Polygon([(lon, lat) for lat, lon in ring])
    if polygon.is_valid:
        return None
    # GEOS says "Self-intersection[x y]", x the longitude: named here the way the file has it.
    found = re.fullmatch(r"(.+)\[(\S+) (\S+)\]", shapely.is_valid_reason(polygon))
    reason = f"{found[1].lower()} at [{found[3]}, {found[2]}]" if found else shapely.is_valid_reason(polygon)
    return f"is not a simple outline: {reason} (points are [latitude, longitude])"


def _rings(polygons: list[Any]) -> Iterator[list[tuple[float, float]]]:
    """CAP's [lat, lon] rings as shapely's (x = longitude, y = latitude), without the points
    that are no coordinates at all."""
    for ring in polygons:
        if isinstance(ring, list):
            yield [(point[1], point[0]) for point in ring if _point(point)]


def _point(value: Any) -> bool:
    # Compared, not converted: NaN and infinity fail the comparison, and a JSON integer too large
    # for a float (which math.isfinite would raise for) is simply out of range.
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and -90 <= value[0] <= 90
        and -180 <= value[1] <= 180
    )


def _part(ring: list[tuple[float, float]], repairs: Repairs) -> BaseGeometry | None:
    """A ring as a shape; one too short to be a polygon still counts as the line or point it is,
    and one that crosses itself is repaired (see `Repairs`). None: no shape GEOS can read (the
    warning's codes may still say where)."""
    try:
        if len(set(ring)) >= 3:
            polygon = shapely.Polygon(ring)
            return polygon if polygon.is_valid else repairs.repaired(polygon)
        return shapely.MultiPoint(ring).convex_hull if ring else None
    except (GEOSException, ValueError):
        return None


REPAIR_POINTS = 30  # per ring: make_valid's time grows steeply with its points (50: 0.1 s, 800: 90 s)
REPAIR_BUDGET = 120  # points repaired in all of one warning's rings


@dataclass
class Repairs:
    """Rings that cross themselves, repaired while that is cheap (a few small ones per warning),
    else taken as their convex hull, which errs towards "in the area": a warning is rather shown
    than missed. A signed sender could otherwise hold a worker for minutes with a hundred
    crossing rings."""

    points: int = 0

    def repaired(self, polygon: shapely.Polygon) -> BaseGeometry:
        points = len(polygon.exterior.coords)
        if points <= REPAIR_POINTS and self.points + points <= REPAIR_BUDGET:
            self.points += points
            return make_valid(polygon)
        return polygon.convex_hull
