"""The press office's form templates ("Vorlagen"): a new announcement starts from one.

A template is a TOML file whose ``[fields]`` pre-fill the form (event, category, severity and a
text skeleton with placeholders in square brackets) and whose ``[expires]`` says how many hours
after now the announcement should expire. The built-in ones are in ``templates/app/forms/``; an
authority's own directory (``form_templates`` in its configuration) is loaded after them, so a
file of the same name replaces a built-in one and any other file adds a template.

A file is checked when it is loaded, not when someone submits the form it filled: a misspelt key
would otherwise drop its text without a word, and a wrong severity would only surface as an error
the press officer cannot fix.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from publisher.core.templates import TEMPLATES
from publisher.domain.announcement import Category, Certainty, Kind, Severity, Urgency

BUILT_IN: Path = TEMPLATES / "app" / "forms"

# The announcement's fields a template may fill, as the form names them (dotted for nested ones).
TEXT_FIELDS = (
    "kind",
    "event",
    "category",
    "severity",
    "urgency",
    "certainty",
    "headline",
    "description",
    "instruction",
    "area.description",
    "contact",
    "language",
)
LIST_FIELDS = ("hashtags", "channels")
FIELD_PATHS = TEXT_FIELDS + LIST_FIELDS

CHOICES: dict[str, type[StrEnum]] = {
    "kind": Kind,
    "category": Category,
    "severity": Severity,
    "urgency": Urgency,
    "certainty": Certainty,
}

# Without an ``order`` a template goes after the built-in ones (10 to 70).
DEFAULT_ORDER = 100
# A year: anything longer is a typo, and a huge number would overflow the date arithmetic.
MAX_EXPIRES_HOURS = 366 * 24

_TOP_LEVEL = ("title", "title_en", "order", "fields", "expires")
# The name goes into the form's address and the chooser's markup.
_NAME = re.compile(r"\w[\w-]{0,63}")


class FormTemplateError(ValueError):
    """A template file that cannot be used; the message names the file and the key."""

    def __init__(self, path: Path, key: str | None, message: str) -> None:
        self.path = path
        self.key = key
        super().__init__(f"{path}: {key} {message}" if key else f"{path}: {message}")


class FormTemplate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # the file's name without .toml
    title: str  # German, shown in the chooser
    title_en: str
    order: int
    fields: dict[str, str | list[str]]
    expires_hours: float | None = None


def load_form_templates(*directories: Path) -> list[FormTemplate]:
    """The templates in ``directories`` (the built-in ones if none is given), in the chooser's order.

    A file in a later directory replaces the file of the same name in an earlier one.
    """
    files: dict[str, Path] = {}
    for directory in directories or (BUILT_IN,):
        if not directory.is_dir():
            raise FormTemplateError(directory, None, "is not a directory of form templates")
        for path in sorted(directory.glob("*.toml")):
            # Editors' lock and backup files (".#bombe.toml", macOS "._bombe.toml") are no templates.
            if not path.name.startswith("."):
                files[path.stem] = path
    templates = [_load(path) for path in files.values()]
    return sorted(templates, key=lambda t: (t.order, _collated(t.title), t.name))


def prefill(template: FormTemplate, now: datetime) -> dict[str, str | list[str]]:
    """The form's initial values: the template's fields, and ``expires`` (ISO 8601) if it sets one.

    ``now`` must carry its time zone, as the announcement's times do; give it in the authority's
    zone, since the form shows times as local ones. The expiry is given to the minute, as the form
    shows it.
    """
    values: dict[str, str | list[str]] = {
        key: list(value) if isinstance(value, list) else value for key, value in template.fields.items()
    }
    if template.expires_hours is not None:
        if now.utcoffset() is None:
            raise ValueError("now must carry a time zone")
        expires = now + timedelta(hours=template.expires_hours)
        values["expires"] = expires.replace(second=0, microsecond=0).isoformat()
    return values


def _load(path: Path) -> FormTemplate:
    if not _NAME.fullmatch(path.stem):
        raise FormTemplateError(path, None, "needs a name of letters, digits, - and _ only (at most 64)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise FormTemplateError(path, None, "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise FormTemplateError(path, None, f"is not valid TOML: {error}") from None

    for key in raw:
        if key not in _TOP_LEVEL:
            raise FormTemplateError(path, key, f"is not a template setting; use {_listed(_TOP_LEVEL)}")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise FormTemplateError(path, "title", "is required: the template's name in the chooser, in German")
    title_en = raw.get("title_en", title)
    if not isinstance(title_en, str) or not title_en.strip():
        raise FormTemplateError(path, "title_en", "must be a text: the template's name in English")
    order = raw.get("order", DEFAULT_ORDER)
    if not isinstance(order, int) or isinstance(order, bool):
        raise FormTemplateError(path, "order", "must be a whole number: the place in the chooser (10 comes first)")
    return FormTemplate(
        name=path.stem,
        title=title.strip(),
        title_en=title_en.strip(),
        order=order,
        fields=_fields(path, raw.get("fields", {})),
        expires_hours=_expires_hours(path, raw.get("expires")),
    )


def _fields(path: Path, table: Any) -> dict[str, str | list[str]]:
    if not isinstance(table, dict):
        raise FormTemplateError(path, "fields", "must be a table: [fields]")
    fields: dict[str, str | list[str]] = {}
    for key, value in _flat(table).items():
        where = f"fields.{key}"
        if key not in FIELD_PATHS:
            close = difflib.get_close_matches(key, FIELD_PATHS, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise FormTemplateError(
                path, where, f"is not a field a template can fill; {hint}use {_listed(FIELD_PATHS)}"
            )
        if key in LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise FormTemplateError(path, where, 'must be a list of texts, e.g. ["Unwetter"]')
            fields[key] = list(value)
            continue
        if not isinstance(value, str) or not value.strip():
            raise FormTemplateError(path, where, "must be a text (leave the key out to leave the field empty)")
        # TOML's multi-line strings end in a line break, which the form would show as an empty line.
        value = value.strip()
        choices = CHOICES.get(key)
        if choices is not None:
            # The announcement takes CAP's capitalised spelling too ("Severe"); the form wants its own.
            value = value.lower()
            if value not in {choice.value for choice in choices}:
                raise FormTemplateError(
                    path, where, f"cannot be {value!r}; use {_listed([choice.value for choice in choices])}"
                )
        fields[key] = value
    return fields


def _flat(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``area.description = …`` written unquoted is a nested table in TOML; the form's key is dotted."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _expires_hours(path: Path, table: Any) -> float | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise FormTemplateError(path, "expires", "must be a table: [expires] with hours = …")
    for key in table:
        if key != "hours":
            raise FormTemplateError(path, f"expires.{key}", "is not an expiry setting; use hours")
    hours = table.get("hours")
    if hours is None:
        return None
    # TOML has inf and nan; neither is a time.
    if (
        not isinstance(hours, int | float)
        or isinstance(hours, bool)
        or not math.isfinite(hours)
        or not 0 < hours <= MAX_EXPIRES_HOURS
    ):
        raise FormTemplateError(
            path, "expires.hours", f"must be a number of hours greater than 0 and at most {MAX_EXPIRES_HOURS}, e.g. 12"
        )
    return float(hours)


def _collated(title: str) -> str:
    """The title as a German dictionary sorts it (DIN 5007-1): "Ärger" beside "Anruf", not after "Zecke"."""
    letters = unicodedata.normalize("NFKD", title.casefold())
    return "".join(c for c in letters if not unicodedata.combining(c))


def _listed(values: Iterable[str]) -> str:
    return ", ".join(values)
