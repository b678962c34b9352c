"""The announcement: one authoritative message, aligned with CAP 1.2.

Field names and value sets follow the Common Alerting Protocol (OASIS CAP 1.2) so that a
warning system's alert maps onto an announcement without loss: ``msg_type`` is CAP's
msgType (Alert / Update / Cancel for the all-clear / Error for a withdrawal), ``category``,
``severity``, ``urgency`` and ``certainty`` use CAP's values in lower case, and ``area``
carries CAP's areaDesc, geocodes and polygons.

Validation here is about the document alone. What needs the authority's configuration or
the database (does the channel exist, does the referenced announcement exist, does the text
fit each platform) is checked at intake.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from publisher.domain.limits import LIMITS
from publisher.domain.problems import InvalidInput, Problem, from_validation_error
from publisher.domain.text import bidi_control, forbidden_character, unify_newlines


class Kind(StrEnum):
    warning = "warning"
    news = "news"


class MsgType(StrEnum):
    alert = "alert"
    update = "update"
    cancel = "cancel"  # the all-clear ("Entwarnung")
    error = "error"  # withdrawal of an announcement sent in error


class Status(StrEnum):
    """CAP's ``status``: what the message is for. Only an actual one is ever published; the others
    are stored and shown, so a drill is recorded like the real thing and reaches nobody."""

    actual = "actual"
    exercise = "exercise"
    system = "system"
    test = "test"
    draft = "draft"


class Category(StrEnum):
    geo = "geo"
    met = "met"
    safety = "safety"
    security = "security"
    rescue = "rescue"
    fire = "fire"
    health = "health"
    env = "env"
    transport = "transport"
    infra = "infra"
    cbrne = "cbrne"
    other = "other"


class Severity(StrEnum):
    extreme = "extreme"
    severe = "severe"
    moderate = "moderate"
    minor = "minor"
    unknown = "unknown"


class Urgency(StrEnum):
    immediate = "immediate"
    expected = "expected"
    future = "future"
    past = "past"
    unknown = "unknown"


class Certainty(StrEnum):
    observed = "observed"
    likely = "likely"
    possible = "possible"
    unlikely = "unlikely"
    unknown = "unknown"


# BCP 47 in the shape people actually write: "de", "de-DE", "en-GB", "sr-Latn".
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
LanguageTag = Annotated[str, Field(pattern=LANGUAGE_TAG.pattern, max_length=35)]

MAX_IMAGE_BYTES = LIMITS.image_bytes

# Validation contexts. What a person sends is checked in full. A document Herold stored itself
# (STORED) was checked when it came in, and tightening a rule later must never make a stored
# announcement unreadable: its warning could no longer be updated or cancelled. A follow-up as
# it will be stored (EFFECTIVE) keeps fields of its original that may predate a rule about
# characters or years, so only the rules between fields apply to it as a whole (the fields it
# sent itself were checked in full before).
STORED = {"checks": "none"}
EFFECTIVE = {"checks": "rules"}


def _stored(info: ValidationInfo) -> bool:
    """Whether the rules for what people type (characters, years) are left out."""
    return bool(info.context and info.context.get("checks") in {"none", "rules"})


def _rules_left_out(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("checks") == "none")


def _within_years(value: datetime, info: ValidationInfo) -> datetime:
    if not _stored(info) and not LIMITS.earliest_year <= value.year <= LIMITS.latest_year:
        raise PydanticCustomError(
            "year_range",
            "lies in the year {year}; Herold takes times from {earliest} to {latest}",
            {"year": value.year, "earliest": LIMITS.earliest_year, "latest": LIMITS.latest_year},
        )
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_within_years)]


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


class _Strict(BaseModel):
    # Unknown fields are errors: a typo ("instructions") must not silently drop what people must do.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    # Fields people read as one statement (headlines, events): no bidirectional controls either.
    _lines: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _newlines(cls, value: Any) -> Any:
        return unify_newlines(value) if isinstance(value, str) else value

    @field_validator("*", mode="after")
    @classmethod
    def _characters(cls, value: Any, info: ValidationInfo) -> Any:
        """Every piece of text: no control characters but line breaks and tabs (publisher.text)."""
        if _stored(info):
            return value
        for text in _texts(value):
            found = forbidden_character(text)
            if found:
                raise PydanticCustomError(
                    "control_character",
                    "contains a control character ({character}) at position {position}; remove it "
                    "(only line breaks and tabs are allowed in text)",
                    {"character": found[1], "position": found[0]},
                )
            found = bidi_control(text) if info.field_name in cls._lines else None
            if found:
                raise PydanticCustomError(
                    "bidi_control",
                    "contains a bidirectional control character ({character}) at position {position}, which can "
                    "make it display differently from what it says; remove it",
                    {"character": found[1], "position": found[0]},
                )
        return value


class Geocode(_Strict):
    _lines = frozenset({"name", "value"})
    name: Annotated[str, Field(min_length=1, max_length=100)]
    value: Annotated[str, Field(min_length=1, max_length=100)]


Point = tuple[
    Annotated[float, Field(ge=-90, le=90)],
    Annotated[float, Field(ge=-180, le=180)],
]


class Area(_Strict):
    description: Annotated[str, Field(min_length=1, max_length=1000)]
    geocodes: list[Geocode] = Field(default_factory=list, max_length=LIMITS.geocodes)
    # CAP polygons: closed rings of (latitude, longitude) pairs, at least four points.
    polygons: list[Annotated[list[Point], Field(min_length=4)]] = Field(
        default_factory=list, max_length=LIMITS.polygons
    )

    @field_validator("polygons")
    @classmethod
    def _closed(cls, polygons: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        points = sum(len(ring) for ring in polygons)
        if points > LIMITS.polygon_points:
            # Every post and webhook would carry them all: a typo or an export gone wrong.
            raise PydanticCustomError(
                "polygon_points",
                "have {points} points in all; Herold takes at most {limit} (simplify the shapes)",
                {"points": points, "limit": LIMITS.polygon_points},
            )
        for number, ring in enumerate(polygons):
            if ring[0] != ring[-1]:
                raise PydanticCustomError(
                    "polygon_open",
                    "polygon {number} must end where it starts (CAP polygons are closed rings)",
                    {"number": number},
                )
        return polygons


class Translation(_Strict):
    _lines = frozenset({"headline"})
    headline: Annotated[str, Field(min_length=1, max_length=160)]
    description: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None
    instruction: Annotated[str, Field(min_length=1, max_length=1_000)] | None = None

    @field_validator("headline", mode="after")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return " ".join(value.split())


class Media(_Strict):
    """An image. On input it comes as a file ``path`` or as base64 ``data``; Herold strips its
    metadata at intake and from then on refers to its own copy by ``path``."""

    _lines = frozenset({"path"})

    path: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    data: str | None = Field(default=None, repr=False)
    # 1,000 characters is the tightest alt-text limit among the platforms (X); Mastodon takes 1,500.
    alt: Annotated[str, Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.path is None) == (self.data is None):
            raise PydanticCustomError("media_source", "give the image as path or as data (exactly one of them)")
        return self

    @field_validator("data")
    @classmethod
    def _base64(cls, data: str | None) -> str | None:
        if data is None:
            return None
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise PydanticCustomError("media_data", "is not base64-encoded image data") from None
        if len(raw) > MAX_IMAGE_BYTES:
            raise PydanticCustomError("media_size", "is larger than {limit} MiB", {"limit": MAX_IMAGE_BYTES >> 20})
        return data


Hashtag = Annotated[str, Field(pattern=r"^\w{1,50}$")]


class Announcement(_Strict):
    _lines = frozenset({"headline", "event", "contact", "attribution", "note", "references", "channels"})

    authority: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    kind: Kind
    msg_type: MsgType = MsgType.alert
    status: Status = Status.actual
    references: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    # An update that corrects the announcement it refers to (a mistake, not news): its copies are
    # edited in place where the channel allows, and it is labelled "Korrektur" everywhere.
    correction: bool = False
    category: Category | None = None
    event: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    severity: Severity | None = None
    urgency: Urgency | None = None
    certainty: Certainty | None = None
    # CAP recommends headlines under 160 characters; every channel must be able to carry it whole.
    headline: Annotated[str, Field(min_length=1, max_length=160)]
    description: Annotated[str, Field(min_length=1, max_length=10_000)]
    instruction: Annotated[str, Field(min_length=1, max_length=1_000)] | None = None
    area: Area | None = None
    effective: Moment | None = None
    expires: Moment | None = None
    language: LanguageTag | None = None
    translations: dict[LanguageTag, Translation] = Field(default_factory=dict, max_length=LIMITS.translations)
    media: list[Media] = Field(default_factory=list, max_length=LIMITS.media)
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=LIMITS.hashtags)
    contact: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    # Whom a relayed text belongs to, with the licence note its terms ask for ("Deutscher
    # Wetterdienst; © GeoBasis-DE / BKG"). Set, it means: a third party's text, relayed verbatim.
    # MoWaS's terms allow relaying only unaltered, the weather service's open data requires naming
    # it; so every variant names it, and a platform's limit cuts only whole sentences of the
    # description (publisher.core.render). A follow-up carries its own: it is not inherited.
    attribution: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    # A remark on the message itself, not part of its text: e.g. that it updates a warning that
    # was never published here. Shown on the item page and written as CAP's <note>.
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    channels: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=LIMITS.channels
    )
    publish_at: Moment | None = None

    @field_validator("kind", "msg_type", "status", "category", "severity", "urgency", "certainty", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        # CAP writes "Met", "Severe", "Alert"; we accept both spellings.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("headline", "event", "attribution", "note", mode="after")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        # Headlines become titles, subjects and first lines everywhere: never several lines (and
        # the source line of a variant is one line too).
        return " ".join(value.split()) if value else value

    @field_validator("hashtags", mode="before")
    @classmethod
    def _without_hash(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v.strip().lstrip("#") if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Self:
        if _rules_left_out(info):
            return self  # checked when it came in (see STORED)
        problems = cross_field_problems(dict(self))
        if problems:
            # One message here; parse_announcement() reports each rule at its own field.
            raise PydanticCustomError("document_rule", "; ".join(f"{w}: {m}" for w, m in problems))
        return self

    @property
    def is_follow_up(self) -> bool:
        return self.msg_type is not MsgType.alert

    @property
    def label_key(self) -> str | None:
        """The label (in publisher.domain.labels) a follow-up carries: what it does to the original."""
        if not self.is_follow_up:
            return None
        return "correction" if self.correction else f"msg_type.{self.msg_type.value}"

    def text_in(self, language: str) -> Translation:
        """Headline, description and instruction in ``language``, falling back to the original."""
        if language != self.language and language in self.translations:
            return self.translations[language]
        return Translation(headline=self.headline, description=self.description, instruction=self.instruction)


def _value(values: Mapping[str, Any], name: str) -> Any:
    value = values.get(name)
    return value.strip().lower() if isinstance(value, str) else value


def cross_field_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rules between fields, over whatever fields are usable (typed or raw).

    Each rule looks only at fields that are present and of the right shape, so the same function
    serves a fully validated announcement and a raw document whose other fields are broken.
    """
    problems: list[tuple[str, str]] = []
    kind, msg_type = _value(values, "kind"), _value(values, "msg_type") or "alert"
    follow_up = msg_type in {"update", "cancel", "error"}
    if follow_up and not values.get("references"):
        problems.append(("references", f"is required for msg_type {msg_type}: give the id of the earlier announcement"))
    if msg_type == "alert" and values.get("references"):
        problems.append(
            ("references", "only updates, all-clears (cancel) and withdrawals (error) refer to an earlier announcement")
        )
    if values.get("correction") is True and msg_type != "update":
        problems.append(("correction", "only an update (msg_type update) can correct an earlier announcement"))
    if kind == "warning" and msg_type == "alert":
        # Follow-ups inherit these from the announcement they refer to (see intake).
        for name, why in (
            ("severity", "a warning needs a severity (extreme, severe, moderate, minor or unknown)"),
            ("category", "a warning needs a category (e.g. met, fire, safety)"),
            ("event", 'a warning needs an event, e.g. "Bombenentschärfung"'),
            ("area", "a warning needs the affected area (area.description)"),
            ("instruction", "a warning must say what people should do"),
        ):
            if values.get(name) is None:
                problems.append((name, why))
    effective, expires = values.get("effective"), values.get("expires")
    if isinstance(effective, datetime) and isinstance(expires, datetime) and expires <= effective:
        problems.append(("expires", "must be later than effective"))
    language, translations = values.get("language"), values.get("translations")
    if isinstance(language, str) and isinstance(translations, Mapping) and language in translations:
        problems.append(("translations", f"{language} is the announcement's own language, not a translation"))
    return problems


_MOMENT = TypeAdapter(AwareDatetime)


def _typed(name: str, value: Any) -> Any:
    """Times as the rules need them: raw documents carry them as text."""
    if name in {"effective", "expires", "publish_at"} and isinstance(value, str):
        try:
            return _MOMENT.validate_python(value)
        except ValidationError:
            return _Broken()
    return value


class _Broken:
    """Stands in for a field that failed validation, so no rule reports it a second time."""


def parse_announcement(data: Any, context: dict[str, str] | None = None) -> Announcement:
    """Validate a document and report every problem at once (raises InvalidInput)."""
    try:
        return Announcement.model_validate(data, context=context)
    except ValidationError as error:
        problems = [
            _with_hint(p, e)
            for p, e in zip(from_validation_error(error), error.errors(), strict=True)
            if e["type"] != "document_rule"
        ]
        if isinstance(data, Mapping):
            broken = {str(e["loc"][0]) for e in error.errors() if e["loc"] and e["type"] != "document_rule"}
            usable = {k: (_Broken() if k in broken else _typed(k, v)) for k, v in data.items()}
            problems += [Problem(field=w, message=m) for w, m in cross_field_problems(usable)]
        raise InvalidInput(problems) from None


def _with_hint(problem: Problem, error: Any) -> Problem:
    """Point a misspelt top-level field at the one that was probably meant."""
    if error["type"] != "extra_forbidden" or len(error["loc"]) != 1 or len(str(error["loc"][0])) > 40:
        return problem
    close = difflib.get_close_matches(str(error["loc"][0]), list(Announcement.model_fields), n=1)
    if not close:
        return problem
    return Problem(field=problem.field, message=f"is not a field Herold knows; did you mean {close[0]}?")
