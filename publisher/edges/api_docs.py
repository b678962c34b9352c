"""``GET /api/docs``: the API reference, one plain HTML page made from the app's own OpenAPI description.

FastAPI's Swagger UI loads its script and styles from a CDN: it stays blank on a network without
internet access, and it breaks the rule that nothing is loaded from another origin. This page is
rendered on the server, runs no script, loads only its stylesheet (``/api/docs.css``) and is
served under the same strict headers as everything else. The machine-readable description stays
at the app's ``openapi_url``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from publisher.core.templates import TEMPLATES

DOCS_PATH = "/api/docs"
STYLE_PATH = "/api/docs.css"
TEMPLATE = "api/docs.html.j2"
STYLE = "api/docs.css"

# The keys of an OpenAPI path item that are operations (the others: parameters, summary, servers).
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

Span = tuple[str, bool]  # a piece of text, and whether it is code
Paragraph = list[Span]


@dataclass(frozen=True)
class Part:
    """A piece of a type as written on the page; ``schema`` names the component it links to."""

    text: str
    schema: str | None = None


@dataclass(frozen=True)
class Field:
    """A parameter of an operation, or a property of a schema."""

    name: str
    location: str  # query, path, header, cookie; empty for a property
    required: bool
    type: list[Part]
    description: list[Paragraph]
    notes: list[Span]  # default and limits


@dataclass(frozen=True)
class Content:
    media_type: str
    type: list[Part]


@dataclass(frozen=True)
class Body:
    required: bool
    description: list[Paragraph]
    contents: list[Content]


@dataclass(frozen=True)
class Answer:
    status: str
    description: list[Paragraph]
    contents: list[Content]


@dataclass(frozen=True)
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    description: list[Paragraph]
    deprecated: bool
    parameters: list[Field]
    body: Body | None
    answers: list[Answer]


@dataclass(frozen=True)
class Schema:
    anchor: str
    name: str
    description: list[Paragraph]
    type: list[Part]
    fields: list[Field]
    values: list[str]  # an enumeration's values, as JSON


@dataclass(frozen=True)
class Reference:
    title: str
    version: str
    description: list[Paragraph]
    operations: list[Operation]
    schemas: list[Schema]


def install_api_docs(app: FastAPI, templates_dir: Path = TEMPLATES) -> None:
    """Add ``GET /api/docs`` and its stylesheet to ``app``, neither in the OpenAPI description.

    ``templates_dir`` holds Herold's own templates (``api/``), not an operator's site templates:
    this page is the same for every installation. Both files are read now, so that a missing one
    stops the start rather than the first reader.
    """
    environment = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template(TEMPLATE)
    style = (templates_dir / STYLE).read_text(encoding="utf-8")

    @cache  # root_path is the server's setting (a proxy's prefix), not the client's: one entry, as a rule
    def page(root_path: str) -> str:
        # Made on the first request, when every route is in place; app.openapi() keeps its
        # schema from then on, so the page cannot change either.
        openapi = root_path + app.openapi_url if app.openapi_url else None
        return template.render(reference=reference(app.openapi()), openapi=openapi, style=root_path + STYLE_PATH)

    @app.get(DOCS_PATH, include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        return HTMLResponse(page(str(request.scope.get("root_path", ""))))

    @app.get(STYLE_PATH, include_in_schema=False)
    def api_docs_style() -> Response:
        return Response(style, media_type="text/css; charset=utf-8")


def reference(openapi: Mapping[str, Any]) -> Reference:
    """What the page shows of an OpenAPI 3 description: each operation, then each schema."""
    info = openapi.get("info", {})
    schemas = openapi.get("components", {}).get("schemas", {})
    return Reference(
        title=str(info.get("title", "API")),
        version=str(info.get("version", "")),
        description=prose(info.get("description")),
        operations=list(_operations(openapi.get("paths", {}))),
        schemas=[_schema(name, schema) for name, schema in schemas.items()],
    )


def _operations(paths: Mapping[str, Any]) -> Iterator[Operation]:
    for path, item in paths.items():
        shared = item.get("parameters", [])
        for method in (key for key in item if key in METHODS):
            operation = item[method]
            # An operation's parameter replaces the path item's of the same name and place.
            own = {(p.get("name"), p.get("in")) for p in operation.get("parameters", [])}
            parameters = [p for p in shared if (p.get("name"), p.get("in")) not in own]
            parameters += operation.get("parameters", [])
            name = operation.get("operationId") or f"{method}-{path}"
            yield Operation(
                anchor="op-" + _anchor(name),
                method=method.upper(),
                path=path,
                summary=str(operation.get("summary", "")),
                description=prose(operation.get("description")),
                deprecated=bool(operation.get("deprecated", False)),
                parameters=[_parameter(p) for p in parameters],
                body=_body(operation.get("requestBody")),
                answers=[
                    Answer(
                        status=str(status),
                        description=prose(answer.get("description")),
                        contents=_contents(answer.get("content", {})),
                    )
                    for status, answer in operation.get("responses", {}).items()
                ],
            )


def _body(body: Mapping[str, Any] | None) -> Body | None:
    if body is None:
        return None
    return Body(
        required=bool(body.get("required", False)),
        description=prose(body.get("description")),
        contents=_contents(body.get("content", {})),
    )


def _parameter(parameter: Mapping[str, Any]) -> Field:
    schema = parameter.get("schema", {})
    return Field(
        name=str(parameter.get("name", "")),
        location=str(parameter.get("in", "")),
        required=bool(parameter.get("required", False)),
        type=type_of(schema),
        description=prose(parameter.get("description") or schema.get("description")),
        notes=notes(schema),
    )


def _contents(content: Mapping[str, Any]) -> list[Content]:
    return [Content(media_type=media, type=type_of(each.get("schema", {}))) for media, each in content.items()]


def _schema(name: str, schema: Mapping[str, Any]) -> Schema:
    required = set(schema.get("required", []))
    return Schema(
        anchor=schema_anchor(name),
        name=name,
        description=prose(schema.get("description")),
        type=type_of(schema),
        fields=[
            Field(
                name=field,
                location="",
                required=field in required,
                type=type_of(each),
                description=prose(each.get("description")),
                notes=notes(each),
            )
            for field, each in schema.get("properties", {}).items()
        ],
        values=[json.dumps(value, ensure_ascii=False) for value in schema.get("enum", [])],
    )


def schema_anchor(name: str) -> str:
    return "schema-" + _anchor(name)


def _anchor(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "x"


def type_of(schema: Mapping[str, Any]) -> list[Part]:
    """A JSON schema's type in words: ``string (date-time) or null``, ``array of Listing`` (linked)."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return [Part(name, schema=schema_anchor(name))]
    for key, word in (("anyOf", " or "), ("oneOf", " or "), ("allOf", " and ")):
        if key in schema:
            return _joined((type_of(each) for each in schema[key]), word)
    if "const" in schema:
        return [Part(json.dumps(schema["const"], ensure_ascii=False))]
    kind = schema.get("type")
    if isinstance(kind, list):
        return _joined(([Part(str(each))] for each in kind), " or ")
    if kind == "array":
        items = schema.get("items")
        return [Part("array of "), *type_of(items)] if isinstance(items, Mapping) else [Part("array")]
    if kind == "object" or (kind is None and "properties" in schema):
        values = schema.get("additionalProperties")
        return [Part("object of "), *type_of(values)] if isinstance(values, Mapping) and values else [Part("object")]
    if "enum" in schema:
        return _joined(([Part(json.dumps(value, ensure_ascii=False))] for value in schema["enum"]), " or ")
    if kind is None:
        return [Part("any")]
    return [Part(f"{kind} ({schema['format']})" if "format" in schema else str(kind))]


def _joined(alternatives: Iterable[list[Part]], word: str) -> list[Part]:
    parts: list[Part] = []
    for each in alternatives:
        parts += [Part(word), *each] if parts else each
    return parts


def notes(schema: Mapping[str, Any]) -> list[Span]:
    """A schema's default and limits, also those inside ``anyOf`` (pydantic puts an optional
    value's limits there)."""
    spans: list[Span] = []
    if "default" in schema:
        spans += [("default ", False), (json.dumps(schema["default"], ensure_ascii=False), True)]
    for limit in _limits(schema):
        spans += [("; ", False), *limit] if spans else limit
    return spans


def _limits(schema: Mapping[str, Any]) -> Iterator[list[Span]]:
    for each in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _limits(each)
    for low, high, unit in (
        ("minLength", "maxLength", " characters"),
        ("minItems", "maxItems", " items"),
        ("minimum", "maximum", ""),
    ):
        if low in schema and high in schema:
            yield [(f"{schema[low]}–{schema[high]}{unit}", False)]
        elif low in schema:
            yield [(f"at least {schema[low]}{unit}", False)]
        elif high in schema:
            yield [(f"at most {schema[high]}{unit}", False)]
    if "exclusiveMinimum" in schema:
        yield [(f"more than {schema['exclusiveMinimum']}", False)]
    if "exclusiveMaximum" in schema:
        yield [(f"less than {schema['exclusiveMaximum']}", False)]
    if "pattern" in schema:
        yield [("matching ", False), (str(schema["pattern"]), True)]


def prose(text: object) -> list[Paragraph]:
    """A docstring as paragraphs (blank lines between them; the line breaks inside one are only
    where the source was wrapped), with its ````code```` spans marked."""
    if not isinstance(text, str):
        return []
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        joined = " ".join(line.strip() for line in block.splitlines())
        pieces = re.split(r"``(.+?)``", joined)  # odd positions: what stood between the backquotes
        spans = [(piece, index % 2 == 1) for index, piece in enumerate(pieces) if piece]
        if spans:
            paragraphs.append(spans)
    return paragraphs
