"""CAP 1.2 from a warning system, turned into an announcement document.

What arrives is a stranger's XML: it is size-checked before parsing, parsed with ``defusedxml``
(no DTD, so no entity expansion and no external entities), checked to be a CAP 1.2 ``alert`` and
validated against the OASIS schema before any of it is read. Every refusal is a ``CapError``
whose message is a short English sentence naming what is wrong (the webhook answers it as a 4xx)
and never repeats the payload at length.

The texts are a third party's (a weather service's, MoWaS's) and are relayed as sent. Only what
the announcement model cannot hold is changed, each time so that nothing is lost or made up
silently: control characters are dropped, a headline over 160 characters is shortened and kept
whole at the top of the description, texts over the model's limits end at a whole sentence, and
an alert without instruction gets one from its coded ``responseType`` (see ``_instruction``).
The document's ``attribution`` names whom the text belongs to, with the licence notes it carries
(see ``_licence``): it marks the announcement as relayed, and every variant and page names it.
"""

from __future__ import annotations

import functools
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import xmlschema
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]
from pydantic import BaseModel

from publisher.domain.announcement import LANGUAGE_TAG, Announcement, Area, Geocode, Translation
from publisher.domain.cap import CAP_NAMESPACE, CAP_SCHEMA
from publisher.domain.labels import labels_for
from publisher.domain.limits import LIMITS
from publisher.domain.text import BIDI_CONTROLS, FORBIDDEN, unify_newlines
from publisher.site.cap import SOURCE_IS_ATTRIBUTION

MAX_CAP_BYTES = 1024 * 1024  # the DWD's largest alerts (169 areas in 8 languages) are about 400 KB
# CAP itself nests five deep (alert/info/area/geocode/value), an XML signature a few more. Deeper
# trees are refused before validation, which would otherwise recurse into them.
MAX_DEPTH = 32
MAX_ATTRIBUTES = 8  # namespace declarations and an XML signature's few; CAP's own elements have none
MESSAGE_LENGTH = 200  # of the part of a refusal that comes from the document or the validator

_NS = f"{{{CAP_NAMESPACE}}}"


def _max_length(model: type[BaseModel], field: str) -> int:
    """A text field's limit as the announcement model declares it, so the two never disagree."""
    schema = model.model_json_schema()["properties"][field]
    found = [option["maxLength"] for option in [schema, *schema.get("anyOf", [])] if "maxLength" in option]
    if not found:
        raise LookupError(f"{model.__name__}.{field} declares no maxLength")
    return int(found[0])


HEADLINE = _max_length(Translation, "headline")
DESCRIPTION = _max_length(Translation, "description")
INSTRUCTION = _max_length(Translation, "instruction")
EVENT = _max_length(Announcement, "event")
CONTACT = _max_length(Announcement, "contact")
ATTRIBUTION = _max_length(Announcement, "attribution")
NOTE = _max_length(Announcement, "note")
AREA = _max_length(Area, "description")
GEOCODE = _max_length(Geocode, "value")


class CapError(ValueError):
    """Why a document is not a CAP 1.2 alert Herold can take, as one short English sentence."""


@dataclass(frozen=True)
class CapReference:
    """An earlier message as CAP's ``references`` names it, each part as written."""

    sender: str
    identifier: str
    sent: str

    @property
    def source_id(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"


@dataclass(frozen=True)
class CapAlert:
    sender: str
    identifier: str
    sent: str  # as written, offset and all
    status: str  # actual | exercise | system | test | draft
    msg_type: str  # alert | update | cancel | error (an Ack is refused)
    references: tuple[CapReference, ...]
    # An announcement document without "authority" and "references": the caller knows the
    # authority and finds the announcement the references name. Its "attribution" is `licence`.
    document: dict[str, Any]
    licence: str | None  # the attribution the sender's terms ask for, e.g. "Deutscher Wetterdienst"
    notices: tuple[str, ...] = ()  # its licence notes alone (the geodata's "© GeoBasis-DE / BKG")

    @property
    def source_id(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"


def parse_cap(data: bytes, *, language: str = "de") -> CapAlert:
    """The alert in ``data`` (CAP 1.2 XML); its text in ``language`` (by primary subtag, "de"
    matches "de-DE") is the announcement's own, every other language a translation. Raises
    CapError for anything that is not a valid CAP 1.2 alert Herold can publish."""
    root = _parse(data)
    _validate(root)
    return _alert(root, language)


# --- reading and checking the XML ---------------------------------------------------------------


def _parse(data: bytes) -> ET.Element:
    if not isinstance(data, bytes | bytearray):
        raise CapError("the CAP document must be given as bytes")
    if not data.strip():
        raise CapError("the body is empty; send a CAP 1.2 alert")
    if len(data) > MAX_CAP_BYTES:
        raise CapError(f"the CAP document has {len(data)} bytes; Herold takes at most {MAX_CAP_BYTES} (1 MiB)")
    try:
        root: ET.Element = fromstring(bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        # A DTD is where entity bombs and external entities (XXE) live; CAP needs none.
        raise CapError("the document has a DOCTYPE or entity declarations, which CAP never needs") from None
    except ET.ParseError as error:
        raise CapError(f"the body is not well-formed XML ({_short(str(error))})") from None
    except (ValueError, LookupError) as error:  # e.g. an encoding Python does not know
        raise CapError(f"the body cannot be read as XML ({_short(str(error))})") from None
    if root.tag != f"{_NS}alert":
        found = _short(_name(root.tag), 100)
        raise CapError(f"the root element is {found}, not a CAP 1.2 alert (<alert> in the namespace {CAP_NAMESPACE})")
    if _depth(root) > MAX_DEPTH:
        raise CapError(f"the document nests elements more than {MAX_DEPTH} deep; a CAP alert needs at most 5")
    crowded = next((e for e in root.iter() if len(e.attrib) > MAX_ATTRIBUTES), None)
    if crowded is not None:
        # CAP's elements carry no attributes; the schema checker's cost grows with the square of
        # their number (a megabyte of them would hold a worker for minutes).
        raise CapError(f"the element {_short(_name(crowded.tag), 100)} has more than {MAX_ATTRIBUTES} attributes; "
                       "CAP elements carry none")  # fmt: skip
    return root


def _depth(root: ET.Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:  # no recursion: the tree may be as deep as a megabyte of tags
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in element)
    return deepest


@functools.cache
def _schema() -> xmlschema.XMLSchema:
    # Built once (a tenth of a second); the schema may read files beside it and nothing else.
    return xmlschema.XMLSchema(str(CAP_SCHEMA), allow="sandbox", defuse="always")


def _validate(root: ET.Element) -> None:
    # The tree is the one defusedxml parsed; the resource around it may load nothing at all
    # (allow="none"), and xsi:schemaLocation hints in the document are not followed.
    resource = xmlschema.XMLResource(root, allow="none", defuse="always")
    try:
        error = next(_schema().iter_errors(resource, use_location_hints=False), None)
    except (xmlschema.XMLSchemaException, ValueError, RecursionError) as failure:
        reason = _short(str(failure))
        raise CapError(f"the document could not be checked against the CAP 1.2 schema ({reason})") from None
    if error is not None:
        where = _name(error.path or "/alert")
        reason = _name(error.reason or "it does not match")
        raise CapError(_short(f"the document is not valid CAP 1.2 at {where}: {reason}", MESSAGE_LENGTH + 60))


_PREFIX = re.compile(r"(?<![\w:.])cap:(?=[A-Za-z])")


def _name(text: str) -> str:
    """Element names without the CAP namespace: "/alert/info[1]/severity"."""
    return _PREFIX.sub("", text.replace(_NS, ""))


def _short(text: str, limit: int = MESSAGE_LENGTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the alert ----------------------------------------------------------------------------------


def _alert(root: ET.Element, language: str) -> CapAlert:
    sender, identifier = _required(root, "sender"), _required(root, "identifier")
    sent = _required(root, "sent")
    msg_type = _required(root, "msgType").lower()
    if msg_type == "ack":
        raise CapError("an Ack acknowledges another message; Herold publishes nothing for it")
    scope = _required(root, "scope")
    if scope != "Public":
        # A restricted or private alert is for named recipients; publishing it would leak it.
        raise CapError(f"the alert's scope is {scope}; Herold publishes only alerts with scope Public")
    for name, value in (("sender", sender), ("identifier", identifier)):
        if re.search(r"[\s,<&]", value):
            raise CapError(f"the alert's {name} contains a space, comma, < or &, which CAP 1.2 does not allow")
    infos = root.findall(f"{_NS}info")
    if not infos:
        raise CapError("the alert has no <info> block; Herold needs at least its event and headline")
    main = _choose(infos, language)
    document = _document(main, msg_type, _required(root, "status").lower())
    translations = _translations(infos, main, str(document.get("language", "")))
    if translations:
        document["translations"] = translations
    note = _note(root, msg_type, str(document.get("language") or language))
    if note:
        document["note"] = note
    licence = _licence(root, main)
    if licence:
        document["attribution"] = licence  # relayed verbatim, its owner named wherever it is shown
    return CapAlert(
        sender=sender,
        identifier=identifier,
        sent=sent,
        status=document["status"],
        msg_type=msg_type,
        references=_references(root.findtext(f"{_NS}references") or ""),
        document=document,
        licence=licence,
        notices=_notices(main),
    )


def _required(element: ET.Element, name: str) -> str:
    # The schema guarantees these elements; only blank text is left to refuse.
    value = (element.findtext(f"{_NS}{name}") or "").strip()
    if not value:
        raise CapError(f"the alert's <{name}> is empty")
    return value


def _references(text: str) -> tuple[CapReference, ...]:
    references = []
    for triple in text.split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            found = _short(triple, 100)
            rule = "<references> must list sender,identifier,sent triples separated by spaces"
            raise CapError(f"{rule}; {found!r} is not one")
        references.append(CapReference(*parts))
    return tuple(references)


def _primary(tag: str) -> str:
    return tag.split("-", 1)[0].strip().lower()


def _language(info: ET.Element) -> str:
    return (info.findtext(f"{_NS}language") or "").strip() or "en-US"  # CAP's default


def _choose(infos: list[ET.Element], language: str) -> ET.Element:
    wanted = _primary(language)
    return next((info for info in infos if _primary(_language(info)) == wanted), infos[0])


def _licence(root: ET.Element, info: ET.Element) -> str | None:
    """Whom to name as the source: the sender's name (or its <source>), and the licence notes it
    carries as eventCode LICENSE (the DWD's: the geodata's "© GeoBasis-DE / BKG"). A Herold site's
    document of a relayed warning names its text's owner in <source> and flags it so (see
    publisher.site.cap): that is the attribution as it was, whoever the sender is."""
    codes = {(code.text or "").strip() for code in root.findall(f"{_NS}code")}
    if SOURCE_IS_ATTRIBUTION in codes:
        source = _text(root, "source", line=True)
        if source:
            return _cut_words(source, ATTRIBUTION)
    parts = [_text(info, "senderName", line=True) or _text(root, "source", line=True), *_notices(info)]
    named = list(dict.fromkeys(part for part in parts if part))
    return _cut_words("; ".join(named), ATTRIBUTION) if named else None


def _note(root: ET.Element, msg_type: str, language: str) -> str | None:
    """CAP's <note> on the message; on an update, without the correction label Herold's own
    documents begin it with (that is the announcement's ``correction``)."""
    note = _text(root, "note", line=True)
    if note and msg_type == "update":
        note = note.removeprefix(labels_for(language)("correction")).strip()
    return _cut_words(note, NOTE) if note else None


def _notices(info: ET.Element) -> tuple[str, ...]:
    """The licence notes an alert carries as eventCode LICENSE (the DWD's geodata notice)."""
    found = [_text(code, "value", line=True) for code in info.findall(f"{_NS}eventCode")
             if (code.findtext(f"{_NS}valueName") or "").strip().upper() == "LICENSE"]  # fmt: skip
    return tuple(dict.fromkeys(notice for notice in found if notice))


# --- the announcement document ------------------------------------------------------------------


def _text(element: ET.Element, name: str, *, line: bool = False) -> str | None:
    """An element's text as the model takes it: no control characters (they are invisible, and
    the model refuses them), one line where the model wants one. None when empty."""
    raw = element.findtext(f"{_NS}{name}")
    if raw is None:
        return None
    text = FORBIDDEN.sub("", unify_newlines(raw))
    if line:
        text = " ".join(BIDI_CONTROLS.sub("", text).split())
    return text.strip() or None


def _document(info: ET.Element, msg_type: str, status: str) -> dict[str, Any]:
    language = _primary(_language(info))
    texts = _texts(info, language)
    event = _text(info, "event", line=True)
    document: dict[str, Any] = {
        "kind": "warning",
        "msg_type": msg_type,
        "status": status,
        "category": info.findtext(f"{_NS}category", "").strip().lower() or None,
        "event": _cut_words(event, EVENT) if event else None,
        "severity": info.findtext(f"{_NS}severity", "").strip().lower() or None,
        "urgency": info.findtext(f"{_NS}urgency", "").strip().lower() or None,
        "certainty": info.findtext(f"{_NS}certainty", "").strip().lower() or None,
        **texts,
        "instruction": texts.get("instruction") or _instruction(info, language) or _watch(msg_type, language),
        "area": _area(info),
        # CAP's effective is when the message applies; without it, when the event begins.
        "effective": _text(info, "effective") or _text(info, "onset"),
        "expires": _text(info, "expires"),
        "language": language if LANGUAGE_TAG.match(language) else None,
    }
    contact = _text(info, "contact")
    document["contact"] = _cut_words(contact, CONTACT) if contact else None
    return {name: value for name, value in document.items() if value is not None}


def _texts(info: ET.Element, language: str) -> dict[str, str]:
    """Headline, description and instruction within the model's limits.

    CAP recommends headlines under 160 characters, and every channel must carry one whole. A
    longer one is shortened at a word with "…", and the description begins with it whole, so
    that the sender's words are all still there. Description and instruction over their limits
    end at the last whole sentence that fits."""
    event = _text(info, "event", line=True) or ""
    headline = _text(info, "headline", line=True) or event
    if not headline:
        raise CapError(f"the <info> block in {_short(language, 35)} has neither a headline nor an event")
    description = _text(info, "description")
    texts = {"headline": headline}
    if len(headline) > HEADLINE:
        texts["headline"] = _cut_words(headline, HEADLINE)
        description = f"{headline}\n\n{description}" if description else headline
    texts["description"] = _cut_sentences(description or headline, DESCRIPTION)
    instruction = _text(info, "instruction")
    if instruction:
        texts["instruction"] = _cut_sentences(instruction, INSTRUCTION)
    return texts


# CAP's responseType codes, worded after the CAP 1.2 definitions. "None" recommends nothing.
_RESPONSES = {
    "de": {
        "Shelter": "Suchen Sie Schutz in einem Gebäude.",
        "Evacuate": "Verlassen Sie das betroffene Gebiet.",
        "Prepare": "Bereiten Sie sich auf die Gefahr vor.",
        "Execute": "Führen Sie die vorbereiteten Maßnahmen aus.",
        "Avoid": "Meiden Sie das betroffene Gebiet.",
        "Monitor": "Achten Sie auf weitere Meldungen.",
        "Assess": "Prüfen Sie die Informationen dieser Meldung.",
        "AllClear": "Die Gefahr ist vorüber.",
        "web": "Weitere Hinweise: {web}",
    },
    "en": {
        "Shelter": "Take shelter indoors.",
        "Evacuate": "Leave the affected area.",
        "Prepare": "Prepare for the hazard.",
        "Execute": "Carry out the prepared measures.",
        "Avoid": "Avoid the affected area.",
        "Monitor": "Watch for further messages.",
        "Assess": "Assess the information in this message.",
        "AllClear": "The hazard is over.",
        "web": "More information: {web}",
    },
}


def _instruction(info: ET.Element, language: str) -> str | None:
    """What to do, for an alert that leaves <instruction> empty (the DWD does so for minor
    warnings). A warning must say what people should do, or Herold refuses it; the sender's
    coded responseType says it, worded here, with the sender's web page for the details. Only
    then: an instruction the sender wrote is never replaced."""
    words = _RESPONSES.get(language, _RESPONSES["en"])
    codes = [(code.text or "").strip() for code in info.findall(f"{_NS}responseType")]
    parts = list(dict.fromkeys(words[code] for code in codes if code in words and code != "web"))
    web = _text(info, "web", line=True)
    if web and re.match(r"https?://\S+$", web):
        parts.append(words["web"].format(web=web))
    return _added(_cut_sentences(" ".join(parts), INSTRUCTION - 20), language) if parts else None


def _watch(msg_type: str, language: str) -> str | None:
    """The last resort for an alert or update that says nothing of what to do (some MoWaS
    warnings): CAP's mildest response, Monitor, as Herold's own words. Never for an all-clear."""
    if msg_type not in {"alert", "update"}:
        return None
    return _added(_RESPONSES.get(language, _RESPONSES["en"])["Monitor"], language)


def _added(text: str, language: str) -> str:
    """Herold's words in a relayed text, marked as added ("[ergänzt]"): the rest is the sender's."""
    return f"{labels_for(language)('added')} {text}"


def _translations(infos: list[ET.Element], main: ET.Element, language: str) -> dict[str, dict[str, str]]:
    """Every other language's text, the first block of each language (CAP may send several
    blocks in one language, for several events; the first is the one that matches the main)."""
    translations: dict[str, dict[str, str]] = {}
    for info in infos:
        tag = _primary(_language(info))
        if info is main or tag == language or tag in translations or not LANGUAGE_TAG.match(tag):
            continue
        if len(translations) == LIMITS.translations:
            break
        translations[tag] = _texts(info, tag)
    return translations


def _area(info: ET.Element) -> dict[str, Any] | None:
    areas = info.findall(f"{_NS}area")
    if not areas:
        return None
    names = [_text(area, "areaDesc", line=True) for area in areas]
    area: dict[str, Any] = {"description": _joined([name for name in names if name] or ["?"], AREA)}
    geocodes = _geocodes(areas)
    if geocodes:
        area["geocodes"] = geocodes
    polygons = _polygons(areas)
    if polygons:
        area["polygons"] = polygons
    # <circle> has no place in the model; the area's names and geocodes still say where.
    return area


def _joined(names: list[str], limit: int) -> str:
    """The areas' names, "; "-separated, as many whole names as fit, then "…"."""
    names = list(dict.fromkeys(names))
    text = "; ".join(names)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for name in names:
        if len("; ".join([*kept, name, "…"])) > limit:
            break
        kept.append(name)
    return "; ".join([*kept, "…"]) if kept else _cut_words(names[0], limit)


def _geocodes(areas: list[ET.Element]) -> list[dict[str, str]]:
    pairs: dict[tuple[str, str], None] = {}
    for area in areas:
        for code in area.findall(f"{_NS}geocode"):
            name, value = _text(code, "valueName", line=True), _text(code, "value", line=True)
            # A key longer than the model holds is no key Herold could match; cut, it would be wrong.
            if name and value and len(name) <= GEOCODE and len(value) <= GEOCODE:
                pairs[(name, value)] = None
    return [{"name": name, "value": value} for name, value in list(pairs)[: LIMITS.geocodes]]


def _polygons(areas: list[ET.Element]) -> list[list[list[float]]]:
    """CAP's "lat,lon lat,lon …" rings as [[lat, lon], …]; as many whole rings as the model
    takes (its limits are far above what a warning's shapes need)."""
    polygons: list[list[list[float]]] = []
    points = 0
    for number, element in enumerate((polygon for area in areas for polygon in area.findall(f"{_NS}polygon")), start=1):
        ring = _ring(element.text or "", number)
        if len(polygons) == LIMITS.polygons or points + len(ring) > LIMITS.polygon_points:
            break
        polygons.append(ring)
        points += len(ring)
    return polygons


def _ring(text: str, number: int) -> list[list[float]]:
    ring: list[list[float]] = []
    for pair in text.split():
        latitude, _, longitude = pair.partition(",")
        try:
            point = [float(latitude), float(longitude)]
        except ValueError:
            raise CapError(f"polygon {number} has {_short(pair, 40)!r}, not a latitude,longitude pair") from None
        if not (all(math.isfinite(v) for v in point) and -90 <= point[0] <= 90 and -180 <= point[1] <= 180):
            raise CapError(f"polygon {number} has {_short(pair, 40)!r}, outside latitude ±90 and longitude ±180")
        ring.append(point)
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise CapError(f"polygon {number} is not a closed ring of at least four points, as CAP 1.2 requires")
    return ring


# --- shortening ---------------------------------------------------------------------------------


def _cut_words(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending at a whole word with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # a word longer than half the limit is cut inside
        cut = cut[:space]
    return cut.rstrip(" ,;:-–") + "…"


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s|\n")


def _cut_sentences(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending after the last whole sentence that fits (at a word
    with "…" if not even the first does)."""
    if len(text) <= limit:
        return text
    ends = [match.start() for match in _SENTENCE_END.finditer(text, 0, limit + 1)]
    ends = [end for end in ends if text[:end].strip()]
    return text[: ends[-1]].rstrip() if ends else _cut_words(text, limit)
