"""A NINA / MoWaS warning as JSON, taken as the CAP 1.2 alert it is.

The federal warning app's API (warnung.bund.de, ``/api31/warnings/{id}.json``, the bare object
its OpenAPI calls ``Warning``; no wrapper) and the older MoWaS feed (``gefahrendurchsagen.json``,
a list of the same objects) deliver CAP 1.2 written as JSON: CAP's element names as keys, lists
where CAP repeats an element. The warning is written back as the CAP 1.2 XML it stands for and
handed to ``parse_cap``, so it is validated against the same schema and becomes the same
announcement document as CAP XML, refused with the same ``CapError`` where it is not one.

What the JSON says differently from CAP XML is put in CAP's words, and nothing else changes:

- Texts (headline, description, instruction, event, contact, senderName, areaDesc …) are
  HTML-ish: ``<br/>`` (``<br>``, ``<br />``) is a line break, ``&amp;`` and the like
  are the characters they name (only entities closed by ";": "&not" inside "Info&notfall" stays).
  Any other markup stays as written: MoWaS warnings may be relayed only unaltered.
- Polygons are written "lon,lat" where CAP says "lat,lon"; see ``_ring`` for how each ring's
  order is told. A ring that begins with the point "-1.0,-1.0" is a hole in the ring before it
  (a city left out of its district): CAP has no holes, so it is left out; the outer ring, the
  area's names and its ARS geocodes still say where.
- Times in UTC may end in "Z", which CAP's schema refuses: "+00:00" says the same.
- CAP's coded values are matched without regard to case ("ALERT" is "Alert").
- The sender's name, which MoWaS gives only as the parameter ``sender_langname``, is CAP's
  ``senderName``: the text's owner, named wherever Herold relays it.
- The legacy feed's references of a chain come as one malformed triple; see ``_references``.

Anything that is not a JSON object with CAP's keys and JSON types is refused with a short
sentence naming the key (``info[0].headline``), never with the payload.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

from publisher.domain.cap import CAP_NAMESPACE
from publisher.domain.text import code_point, xml_safe
from publisher.sources.cap import MAX_CAP_BYTES, CapAlert, CapError, parse_cap

_NS = f"{{{CAP_NAMESPACE}}}"

# Germany with its neighbours' border regions and its part of the North Sea and the Baltic. The
# two ranges do not overlap, so a ring inside them can be read in only one order.
LATITUDES = (45.0, 57.0)
LONGITUDES = (2.0, 18.0)
HOLE = (-1.0, -1.0)  # MoWaS's first point of an inner ring

# CAP 1.2's coded values, as its schema spells them.
_CODES = {
    name: {value.casefold(): value for value in values.split()}
    for name, values in {
        "status": "Actual Exercise System Test Draft",
        "msgType": "Alert Update Cancel Ack Error",
        "scope": "Public Restricted Private",
        "category": "Geo Met Safety Security Rescue Fire Health Env Transport Infra CBRNE Other",
        "responseType": "Shelter Evacuate Prepare Execute Avoid Monitor Assess AllClear None",
        "urgency": "Immediate Expected Future Past Unknown",
        "severity": "Extreme Severe Moderate Minor Unknown",
        "certainty": "Observed Likely Possible Unlikely Unknown",
    }.items()
}
_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def parse_nina(data: bytes, *, language: str = "de") -> CapAlert:
    """The warning in ``data`` (one NINA / MoWaS warning, CAP 1.2 as JSON) as ``parse_cap`` makes
    it of CAP XML, its text in ``language``. Raises CapError for anything else."""
    warning = _load(data)
    document = ET.tostring(_alert(warning), encoding="utf-8", xml_declaration=True, default_namespace=CAP_NAMESPACE)
    if len(document) > MAX_CAP_BYTES:
        # JSON is terser than XML; the limit is the same for both.
        size = len(document)
        raise CapError(f"the warning has {size} bytes as CAP XML; Herold takes at most {MAX_CAP_BYTES} (1 MiB)")
    return parse_cap(document, language=language)


# --- reading the JSON -----------------------------------------------------------------------------

Json = dict[str, object]


def _load(data: bytes) -> Json:
    if not isinstance(data, bytes | bytearray):
        raise CapError("the NINA warning must be given as bytes")
    if not data.strip():
        raise CapError("the body is empty; send a NINA warning as JSON")
    if len(data) > MAX_CAP_BYTES:
        raise CapError(f"the warning has {len(data)} bytes; Herold takes at most {MAX_CAP_BYTES} (1 MiB)")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CapError(f"the body is not UTF-8 (byte {error.start + 1} is not)") from None
    try:
        warning = json.loads(text)
    except json.JSONDecodeError as error:
        raise CapError(f"the body is not JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise CapError("the JSON nests lists or objects too deep for a warning") from None
    except ValueError:  # e.g. an integer of more digits than Python converts
        raise CapError("the body is JSON Herold cannot read (a number too long)") from None
    if isinstance(warning, list):
        raise CapError(f"the JSON is a list of {len(warning)} items, not one warning; send each warning by itself")
    if not isinstance(warning, dict):
        raise CapError(f"the JSON is {_kind(warning)}, not a warning (an object with CAP's keys)")
    if "identifier" not in warning and isinstance(warning.get("payload"), dict):
        raise CapError(
            "the JSON is an entry of the NINA dashboard, a summary; send the warning itself (/api31/warnings/{id}.json)"
        )
    return warning


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    return {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object"}[type(value)]


def _value(block: Json, key: str, where: str, *, required: bool = False) -> object:
    value = block.get(key)
    if value is None and required:
        raise CapError(f"the warning has no {where}{key}, which CAP requires")
    return value


def _string(block: Json, key: str, where: str, *, required: bool = False) -> str | None:
    value = _value(block, key, where, required=required)
    if value is None or isinstance(value, str):
        return value
    raise CapError(f"the warning's {where}{key} is {_kind(value)}, not a string")


def _list(block: Json, key: str, where: str, *, required: bool = False) -> list[object]:
    value = _value(block, key, where, required=required)
    if value is None:
        return []
    if not isinstance(value, list):
        raise CapError(f"the warning's {where}{key} is {_kind(value)}, not a list")
    if required and not value:
        raise CapError(f"the warning's {where}{key} is empty; CAP requires at least one")
    return value


def _strings(block: Json, key: str, where: str, *, required: bool = False) -> list[str]:
    values = _list(block, key, where, required=required)
    for number, value in enumerate(values):
        if not isinstance(value, str):
            raise CapError(f"the warning's {where}{key}[{number}] is {_kind(value)}, not a string")
    return [value for value in values if isinstance(value, str)]


def _objects(block: Json, key: str, where: str, *, required: bool = False) -> list[tuple[Json, str]]:
    """The objects in a list, each with where it is ("info[0].")."""
    objects = []
    for number, value in enumerate(_list(block, key, where, required=required)):
        if not isinstance(value, dict):
            raise CapError(f"the warning's {where}{key}[{number}] is {_kind(value)}, not an object")
        objects.append((value, f"{where}{key}[{number}]."))
    return objects


# --- writing it as CAP ----------------------------------------------------------------------------


def _put(parent: ET.Element, key: str, value: str | None, where: str) -> None:
    if value is None:
        return
    found = next((character for character in value if xml_safe(character) != character), None)
    if found is not None:
        raise CapError(f"the warning's {where}{key} contains {code_point(found)}, which CAP (XML) cannot carry")
    ET.SubElement(parent, f"{_NS}{key}").text = value


def _plain(parent: ET.Element, block: Json, key: str, where: str, *, required: bool = False) -> None:
    _put(parent, key, _string(block, key, where, required=required), where)


def _text(parent: ET.Element, block: Json, key: str, where: str, *, required: bool = False) -> None:
    """A text people read: line breaks and entities as characters, what XML cannot carry dropped
    (parse_cap drops those control characters from CAP XML's texts too)."""
    _put(parent, key, _html(_string(block, key, where, required=required)), where)


def _html(value: str | None) -> str | None:
    if value is None:
        return None
    return xml_safe(_ENTITY.sub(lambda entity: html.unescape(entity.group()), _BREAK.sub("\n", value)))


def _code(parent: ET.Element, block: Json, key: str, where: str, *, required: bool = False) -> None:
    value = _string(block, key, where, required=required)
    _put(parent, key, None if value is None else _CODES[key].get(value.strip().casefold(), value), where)


def _codes(parent: ET.Element, block: Json, key: str, where: str, *, required: bool = False) -> None:
    for value in _strings(block, key, where, required=required):
        _put(parent, key, _CODES[key].get(value.strip().casefold(), value), where)


def _time(parent: ET.Element, block: Json, key: str, where: str, *, required: bool = False) -> None:
    value = _string(block, key, where, required=required)
    _put(parent, key, value[:-1] + "+00:00" if value and _UTC.fullmatch(value) else value, where)


def _number(parent: ET.Element, block: Json, key: str, where: str) -> None:
    value = block.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = json.dumps(value)  # CAP's size, altitude and ceiling: JSON may give numbers
    if value is not None and not isinstance(value, str):
        raise CapError(f"the warning's {where}{key} is {_kind(value)}, not a number")
    _put(parent, key, value, where)


def _pairs(parent: ET.Element, block: Json, key: str, where: str) -> None:
    """CAP's eventCode, parameter and geocode: [{"valueName": …, "value": …}]."""
    for pair, inside in _objects(block, key, where):
        element = ET.SubElement(parent, f"{_NS}{key}")
        for name in ("valueName", "value"):
            _plain(element, pair, name, inside, required=True)


def _alert(warning: Json) -> ET.Element:
    # The CAP 1.2 schema's order; each line writes one element (or a list of them).
    alert = ET.Element(f"{_NS}alert")
    _plain(alert, warning, "identifier", "", required=True)
    _plain(alert, warning, "sender", "", required=True)
    _time(alert, warning, "sent", "", required=True)
    _code(alert, warning, "status", "", required=True)
    _code(alert, warning, "msgType", "", required=True)
    _plain(alert, warning, "source", "")
    _code(alert, warning, "scope", "", required=True)
    _plain(alert, warning, "restriction", "")
    _plain(alert, warning, "addresses", "")
    for code in _strings(warning, "code", ""):
        _put(alert, "code", code, "")
    _text(alert, warning, "note", "")
    references = _string(warning, "references", "")
    _put(alert, "references", None if references is None else _references(references), "")
    _plain(alert, warning, "incidents", "")
    for block, where in _objects(warning, "info", ""):
        alert.append(_info(block, where))
    return alert


def _info(block: Json, where: str) -> ET.Element:
    info = ET.Element(f"{_NS}info")
    _plain(info, block, "language", where)  # "DE" is a language tag too; parse_cap reads it as "de"
    _codes(info, block, "category", where, required=True)
    _text(info, block, "event", where, required=True)
    _codes(info, block, "responseType", where)
    for key in ("urgency", "severity", "certainty"):
        _code(info, block, key, where, required=True)
    _text(info, block, "audience", where)
    _pairs(info, block, "eventCode", where)
    for key in ("effective", "onset", "expires"):
        _time(info, block, key, where)
    _put(info, "senderName", _html(_sender_name(block, where)), where)
    for key in ("headline", "description", "instruction"):
        _text(info, block, key, where)
    _plain(info, block, "web", where)
    _text(info, block, "contact", where)
    _pairs(info, block, "parameter", where)
    for resource, inside in _objects(block, "resource", where):
        info.append(_resource(resource, inside))
    for area, inside in _objects(block, "area", where):
        info.append(_area(area, inside))
    return info


def _sender_name(block: Json, where: str) -> str | None:
    """CAP's senderName, or NINA's parameter sender_langname, which says the same (MoWaS sends
    only that): the name parse_cap gives the text's owner."""
    name = _string(block, "senderName", where)
    if name is not None:
        return name
    for parameter, inside in _objects(block, "parameter", where):
        if parameter.get("valueName") == "sender_langname":
            return _string(parameter, "value", inside)
    return None


def _resource(block: Json, where: str) -> ET.Element:
    resource = ET.Element(f"{_NS}resource")
    _text(resource, block, "resourceDesc", where, required=True)
    _plain(resource, block, "mimeType", where, required=True)
    _number(resource, block, "size", where)
    for key in ("uri", "derefUri", "digest"):
        _plain(resource, block, key, where)
    return resource


_ARS = re.compile(r"[0-9]{12}")
_CODE_NAME = re.compile(r"[A-Z][A-Z0-9_]*")  # ARS, SHN, AGS, WARNCELLID: a code's own name


def _area(block: Json, where: str) -> ET.Element:
    area = ET.Element(f"{_NS}area")
    _text(area, block, "areaDesc", where, required=True)
    for ring in _strings(block, "polygon", where):
        if not _is_hole(ring):
            _put(area, "polygon", _ring(ring), where)
    for circle in _strings(block, "circle", where):
        _put(area, "circle", circle, where)  # as written: parse_cap keeps no circles
    _pairs(area, block, "geocode", where)
    for code in area.findall(f"{_NS}geocode"):
        # MoWaS names a regional key after its place ("Borken": "055540000000"); the place is
        # the areaDesc already, and the key is only comparable (routing) under its kind's name.
        name, value = code.find(f"{_NS}valueName"), code.findtext(f"{_NS}value", "").strip()
        if name is not None and _ARS.fullmatch(value) and not _CODE_NAME.fullmatch((name.text or "").strip()):
            name.text = "ARS"
    _number(area, block, "altitude", where)
    _number(area, block, "ceiling", where)
    return area


def _points(ring: str) -> list[tuple[float, float]] | None:
    """The ring's pairs as numbers, in the order written; None if one is not two numbers."""
    points = []
    for pair in ring.split():
        numbers = pair.split(",")
        if len(numbers) != 2:
            return None
        try:
            points.append((float(numbers[0]), float(numbers[1])))
        except ValueError:
            return None
    return points


def _is_hole(ring: str) -> bool:
    points = _points(ring)
    return points is not None and points[:1] == [HOLE]


def _within(value: float, limits: tuple[float, float]) -> bool:
    return limits[0] <= value <= limits[1]


def _ring(ring: str) -> str:
    """A ring in CAP's "lat,lon" order. NINA's JSON writes "lon,lat" (every ring of the MoWaS
    feed does; CAP XML and some writers do not), so the order is told per ring by where it lies:
    a ring whose every first number is a longitude near Germany and every second a latitude
    near Germany is turned round, each number kept as written; any other ring is left as it is
    (in CAP's order, or wrong, which parse_cap then names)."""
    points = _points(ring)
    if not points or not all(_within(lon, LONGITUDES) and _within(lat, LATITUDES) for lon, lat in points):
        return ring
    return " ".join(",".join(reversed(pair.split(","))) for pair in ring.split())


def _references(text: str) -> str:
    """CAP's "sender,identifier,sent" triples, kept as written, except for the legacy MoWaS feed's
    form of a chain's references: one triple with every identifier of the chain in it, newest
    first, "id1 id2 … sender,id1 id2 … idN,sent". It is read as what it says, one triple
    "sender,idK,sent" for each identifier, since parse_cap takes no other form.

    The feed makes a triple's sender and sent of the oldest identifier (idN less its last two
    parts; those read as a date at midnight UTC, "66--T00:00:00+00:00" where they are a serial),
    in both forms: they are rarely the referenced message's own, its identifier is what names it."""
    parts = [part.split() for part in text.split(",")]
    if len(parts) == 3:
        before, identifiers, sent = parts
        chain = len(identifiers) > 1 and len(before) == len(identifiers) and before[:-1] == identifiers[:-1]
        if chain and len(sent) == 1:
            return " ".join(f"{before[-1]},{identifier},{sent[0]}" for identifier in identifiers)
    return text
