"""Authorities (the tenants) and their channels, as the operator configures them."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from publisher.domain.announcement import LANGUAGE_TAG, Geocode, Severity, Urgency
from publisher.domain.polling import Poll

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


def web_address(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f'is not a web address like https://www.example.de/ (got "{value}")')
    return value


class OnCall(BaseModel):
    """Who hears about failures that need a person (used by the delivery engine)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret_env: str | None = None

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return web_address(value) if value else value


class Accessibility(BaseModel):
    """What the built-in website's accessibility statement (BITV 2.0, BGG § 12b) says beyond what
    Herold knows: where people report barriers, the body that settles disputes, known barriers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # An e-mail address or a web address for feedback on barriers; default: the Impressum.
    contact: Annotated[str, Field(min_length=3, max_length=300)] | None = None
    compliance: Literal["full", "partial"] = "partial"  # the authority's own assessment
    known_barriers: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(default_factory=list)
    # The federal conciliation body; a state authority names its state's (e.g. the Landesbeauftragte).
    enforcement_name: Annotated[str, Field(min_length=1, max_length=300)] = (
        "Schlichtungsstelle nach dem Behindertengleichstellungsgesetz (BGG)"
    )
    enforcement_url: str = "https://www.schlichtungsstelle-bgg.de/"
    reviewed: date | None = None

    @field_validator("enforcement_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return web_address(value)


Decision = Literal["publish", "draft", "ignore"]

# The German official regional keys, whose digits nest: Land, Regierungsbezirk, Kreis, (for the
# ARS) Gemeindeverband, Gemeinde. "SHN" is what older MoWaS/NINA data calls the ARS.
REGIONAL_KEYS = {"ARS": 12, "SHN": 12, "AGS": 8}


def _named_code(value: Any) -> Any:
    """ "ARS:053150000000" as operators write it, or a table {name, value} as CAP has it."""
    if not isinstance(value, str):
        return value
    name, colon, code = value.partition(":")
    if not (colon and name.strip() and code.strip()):
        raise ValueError(f'must be NAME:VALUE, e.g. "ARS:053150000000" or "WARNCELLID:805315000" (got "{value[:80]}")')
    return {"name": name, "value": code}


def _regional_key(code: Geocode) -> Geocode:
    length = REGIONAL_KEYS.get(code.name.upper())
    if length and not (code.value.isascii() and code.value.isdigit() and len(code.value) == length):
        raise ValueError(
            f'{code.name} "{code.value[:40]}" must have {length} digits; a whole Kreis or Land ends in zeros, '
            f"e.g. {'053150000000' if length == 12 else '05315000'} for Köln"
        )
    return code


# A geocode as the operator names one; ARS, SHN and AGS must have their full number of digits.
CheckedCode = Annotated[Geocode, BeforeValidator(_named_code), AfterValidator(_regional_key)]
Point = tuple[Annotated[float, Field(ge=-90, le=90)], Annotated[float, Field(ge=-180, le=180)]]


class AuthorityArea(BaseModel):
    """Where the authority is responsible, so a rule can ask whether a warning concerns it: its
    regional keys and warn cells, and/or its outline. Polygons are closed rings of [latitude,
    longitude] pairs, as CAP writes them (GeoJSON writes longitude first: swap when copying)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Tuples, so the area can be hashed: the routing core builds its shape once per area.
    geocodes: tuple[CheckedCode, ...] = ()
    polygons: tuple[Annotated[tuple[Point, ...], Field(min_length=4)], ...] = ()

    @field_validator("polygons")
    @classmethod
    def _closed(cls, polygons: tuple[tuple[Point, ...], ...]) -> tuple[tuple[Point, ...], ...]:
        for number, ring in enumerate(polygons):
            if ring[0] != ring[-1]:
                raise ValueError(f"polygon {number} must end where it starts (a closed ring, as in CAP)")
        return polygons

    @model_validator(mode="after")
    def _somewhere(self) -> AuthorityArea:
        if not (self.geocodes or self.polygons):
            raise ValueError("needs geocodes or polygons (or both): where the authority is responsible")
        return self


def _lower(values: Any) -> Any:
    # CAP writes "Severe", "Immediate"; the rules take either spelling.
    return [v.strip().lower() if isinstance(v, str) else v for v in values] if isinstance(values, list) else values


def _event_code(value: Any) -> Any:
    # A bare string is a code under any name ("BBK-EVC-040"); a table also names it ({name = "II", value = "51"}).
    return {"value": value} if isinstance(value, str) else value


class EventCode(BaseModel):
    """A warning system's code for its kind of event (CAP eventCode): BBK's "BBK-EVC-040" under
    "profile:DE-BBK-EVENTCODE:01.00R", the DWD's "51" under "II" (its event number)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None  # None: any name
    value: Annotated[str, Field(min_length=1, max_length=100)]


class RoutingRule(BaseModel):
    """What happens to a warning that arrives through an integration (or a poller): the
    authority's rules are tried in order and the first that matches decides. Each field given
    narrows the rule, all must hold; within a field, any listed value will do. A rule with no
    conditions matches everything. Texts compare case-insensitively."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=100)]  # shown in the audit: one line
    sources: list[Slug] = Field(default_factory=list)  # integration ids
    events: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list)
    event_codes: list[Annotated[EventCode, BeforeValidator(_event_code)]] = Field(default_factory=list)
    severities: Annotated[list[Severity], BeforeValidator(_lower)] = Field(default_factory=list)
    urgencies: Annotated[list[Urgency], BeforeValidator(_lower)] = Field(default_factory=list)
    # Any of the warning's geocodes names (or contains, or lies in) one of these; see
    # publisher.core.routing for how regional keys nest.
    geocodes: list[CheckedCode] = Field(default_factory=list)
    # true: the warning's geocodes or polygons touch the authority's area; false: they are
    # known not to. A warning that says too little to tell matches neither.
    in_authority_area: bool | None = None
    decision: Decision
    channels: list[Slug] | None = None  # default: the integration's channels

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.isprintable() or not value.strip():
            raise ValueError("must be one line of visible text (it names the rule in the audit)")
        return value.strip()

    @property
    def matches_everything(self) -> bool:
        conditions = (self.sources, self.events, self.event_codes, self.severities, self.urgencies, self.geocodes)
        return not any(conditions) and self.in_authority_area is None


class Integration(BaseModel):
    """A warning system (or a control room's software) that sends the authority its messages:
    ``POST /hooks/{authority}/{id}``. Signed per Standard Webhooks with the secret ``secret_env``
    names (``whsec_…``); a system that cannot sign sends the token ``token_env`` names as a bearer
    token instead, which is weaker (the body is not signed, a copied request can be sent again)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    # CAP 1.2 XML, NINA/MoWaS JSON (the federal warning app's), or Herold's own announcement (JSON)
    format: Literal["cap", "nina", "announcement"]
    secret_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    token_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    # The CAP senders taken from this integration (its <sender>); empty: any.
    senders: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    # What happens to what arrives when none of the authority's routing rules matches it:
    # published at once, kept for a person's approval, or only recorded.
    decision: Decision = "publish"
    channels: list[Slug] | None = None  # default: all of the authority's channels
    # Named on every item it brings (the weather service's open data asks for it).
    attribution: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    # Herold fetches the integration's warnings itself (NINA's dashboard, a CAP feed). A polled
    # integration needs no secret or token unless it also takes pushed messages.
    poll: Poll | None = None


class ChannelConfig(BaseModel):
    """One channel of an authority. ``settings`` holds the type-specific keys, already checked
    against that channel type's own settings model (see adapters.port.Channel.Settings)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: Slug
    type: str
    settings: Any = None


class Authority(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: Slug
    name: Annotated[str, Field(min_length=1, max_length=200)]
    base_url: str
    impressum_url: str
    privacy_url: str
    timezone: str = "Europe/Berlin"
    languages: list[Annotated[str, Field(pattern=LANGUAGE_TAG.pattern)]] = Field(default=["de"], min_length=1)
    channels: list[ChannelConfig] = Field(default_factory=list)
    oncall: OnCall = Field(default_factory=OnCall)
    # E-mail addresses and phone numbers the authority publishes as its own: the privacy guard
    # lets these through (any other is taken for a private person's).
    official_contacts: list[Annotated[str, Field(min_length=3, max_length=200)]] = Field(default_factory=list)
    accessibility: Accessibility = Field(default_factory=Accessibility)
    integrations: list[Integration] = Field(default_factory=list)
    # What becomes of each warning an integration brings: the first rule that matches decides;
    # when none does, the integration's own decision and channels apply.
    rules: list[RoutingRule] = Field(default_factory=list)
    area: AuthorityArea | None = None  # where it is responsible (for rules' in_authority_area)
    # Identity on the built-in website: the authority's main website (linked from every page) and
    # its accent colour (#rrggbb), used for links and the header line; it must stand out from the
    # white page by 4.5:1 at least (WCAG 2.1 AA), or Herold does not start.
    website_url: str | None = None
    accent_colour: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None
    # Its logo, shown in the header of every page beside its name: a PNG or JPEG file, published
    # without its metadata. Not SVG: an SVG can carry scripts and load files from other origins.
    # Relative paths and whether the file is an image are settled when the configuration is read
    # (publisher.edges.config): the domain does no I/O.
    logo: Path | None = None
    # A directory of the authority's own form templates (TOML files) for the press office's web
    # app; a file there with the same name as a built-in one replaces it. Checked like the logo.
    form_templates: Path | None = None
    # Domains whose links are the authority's own or trusted (subdomains included); a link to any
    # other is flagged to the writer, not refused. The hosts of base_url, impressum_url and
    # privacy_url always count.
    link_domains: list[Annotated[str, Field(pattern=r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$")]] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        # Item URLs are joined onto it, so it always ends in a slash.
        return web_address(value).rstrip("/") + "/"

    @field_validator("impressum_url", "privacy_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return web_address(value)

    @field_validator("website_url")
    @classmethod
    def _main_website(cls, value: str | None) -> str | None:
        return web_address(value) if value else value

    @field_validator("accent_colour")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None and (ratio := contrast(value, "#ffffff")) < 4.5:
            raise ValueError(
                f"{value} on a white page has a contrast of {ratio:.1f}:1; links and text need 4.5:1 (WCAG 2.1 AA): "
                "choose a darker shade"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'is not a time zone like "Europe/Berlin" (got "{value}")') from None
        return value

    @property
    def language(self) -> str:
        return self.languages[0]

    def channel(self, channel_id: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.id == channel_id:
                return channel
        raise KeyError(channel_id)

    @property
    def own_domains(self) -> list[str]:
        """Where the authority's own links may go: its link_domains and its pages' hosts."""
        hosts = [urlsplit(url).hostname or "" for url in (self.base_url, self.impressum_url, self.privacy_url)]
        return list(dict.fromkeys([*self.link_domains, *(h.removeprefix("www.") for h in hosts if h)]))

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")


def contrast(first: str, second: str) -> float:
    """The WCAG 2.1 contrast ratio of two #rrggbb colours (1 to 21)."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


_SLUG_WORD = re.compile(r"[^a-z0-9]+")
_TRANSLITERATE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})


def slugify(text: str, max_length: int = 60) -> str:
    """A URL-safe slug from a German headline: "Fliegerbombe in Köln" -> "fliegerbombe-in-koeln"."""
    text = text.translate(_TRANSLITERATE)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = _SLUG_WORD.sub("-", text).strip("-")
    if len(slug) > max_length:
        # Cut at a word boundary: keep the last word only if it ends exactly at the cut.
        slug = slug[:max_length] if slug[max_length] == "-" else slug[:max_length].rsplit("-", 1)[0]
    return slug or "meldung"
