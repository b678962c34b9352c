"""Problems with input, in plain words, by field path.

Every way a person can hand Herold something wrong (an announcement, a config file, an API
call) ends in a list of `Problem`s: where (a dotted field path such as ``area.polygons.0``)
and what, phrased for a press officer rather than a programmer. pydantic's own messages
are translated here once, so the API, the CLI and config checks all speak the same way.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from publisher.domain.text import printable


class Problem(BaseModel):
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInput(Exception):
    """Raised with every problem found; callers show them all and write nothing."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class Unavailable(Exception):
    """Not a problem with the input: Herold cannot take it right now (busy, or a service it needs is
    away). The caller may try again after ``retry_after`` seconds; nothing was stored."""

    def __init__(self, message: str, retry_after: int = 30) -> None:
        self.retry_after = retry_after
        super().__init__(message)


def field_path(loc: Iterable[int | str]) -> str:
    # Keys come from the input: a path never carries control characters, nor a whole document.
    path = printable(".".join(str(part) for part in loc))
    return path if len(path) <= 200 else path[:199] + "…"


# Bounded work for any value: a structure with shared parts (a YAML alias bomb) is never expanded.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 2, 60, 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = _SHORT.maxset = 4


def _got(value: Any) -> str:
    text = _SHORT.repr(value) if not isinstance(value, str) else f'"{value[:80]}"'
    text = text if len(text) <= 60 else text[:57] + "..."
    return printable(text)  # it is shown on terminals: never a raw control character


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field Herold knows (check the spelling)"
    if kind == "enum":
        return f"must be one of {ctx.get('expected', '').replace(chr(39), '')} (got {_got(value)})"
    if kind == "literal_error":
        return f"must be {ctx.get('expected', '').replace(chr(39), '')} (got {_got(value)})"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return (
            "must not be empty"
            if ctx.get("min_length") == 1
            else (f"is too short: at least {ctx.get('min_length')} characters")
        )
    if kind == "too_long":
        return f"has too many entries: at most {ctx.get('max_length')}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} entries"
    if kind == "string_pattern_mismatch":
        return f"has the wrong form (got {_got(value)})"
    if kind in {"datetime_parsing", "datetime_from_date_parsing", "datetime_type"}:
        return f"is not a date and time like 2026-11-22T10:00:00+01:00 (got {_got(value)})"
    if kind == "timezone_aware":
        return "needs a time-zone offset, e.g. 2026-11-22T10:00:00+01:00"
    if kind in {"string_type"}:
        return f"must be text (got {_got(value)})"
    if kind == "string_unicode":
        return "contains a character that is not valid Unicode (a lone surrogate); remove it"
    if kind in {"list_type", "tuple_type"}:
        return f"must be a list (got {_got(value)})"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"must be an object with fields (got {_got(value)})"
    if kind in {"int_parsing", "int_type", "float_parsing", "float_type"}:
        return f"must be a number (got {_got(value)})"
    if kind in {"bool_parsing", "bool_type"}:
        return f"must be true or false (got {_got(value)})"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        bound = {
            "greater_than_equal": "at least",
            "less_than_equal": "at most",
            "greater_than": "more than",
            "less_than": "less than",
        }[kind]
        limit = next(iter(ctx.values()), "")
        return f"must be {bound} {limit} (got {_got(value)})"
    if kind.startswith("url"):
        return f"is not a web address like https://www.example.de/ (got {_got(value)})"
    # Our own validators raise PydanticCustomError / ValueError with a finished sentence.
    message = error["msg"]
    return message.removeprefix("Value error, ")


def from_validation_error(error: ValidationError, prefix: Sequence[int | str] = ()) -> list[Problem]:
    problems = []
    for detail in error.errors():
        loc = [*prefix, *detail["loc"]]
        # pydantic reports which union member failed as part of the path; people don't care.
        loc = [part for part in loc if not (isinstance(part, str) and part.startswith("function-"))]
        problems.append(Problem(field=field_path(loc), message=_message(detail)))
    return problems
