"""The API reference at /api/docs: one page, rendered on the server from the app's OpenAPI description.

FastAPI's Swagger UI loaded its script and styles from a CDN: blank on an authority's network
without internet access, and against the rule that nothing is loaded from another origin. The
reference runs no script, loads only its own stylesheet and is served under the same strict
Content-Security-Policy as the public site. It names every endpoint and every schema of the
OpenAPI description with their parameters, bodies, answers and fields, says how to authenticate
and how to retry safely, and is built for screen readers and for reading in high contrast.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup, Tag
from fastapi import FastAPI
from fastapi.testclient import TestClient

from publisher.domain.authority import contrast
from publisher.edges.api_docs import install_api_docs, type_of
from publisher.edges.web import SECURITY_HEADERS, create_app
from publisher.edges.wiring import Herold

DOCS = "/api/docs"
OPENAPI = "/api/openapi.json"
# Attributes whose value the browser fetches or follows.
URL_ATTRIBUTES = ("href", "src", "srcset", "action", "formaction", "poster", "data", "cite", "background")


@pytest.fixture
def client(herold: Herold) -> Iterator[TestClient]:
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    description: dict[str, Any] = client.get(OPENAPI).json()
    return description


@pytest.fixture
def page(client: TestClient) -> BeautifulSoup:
    response = client.get(DOCS)
    assert response.status_code == 200, response.text
    return BeautifulSoup(response.text, "html.parser")


def text(element: Tag) -> str:
    """The text as read, with the source's line breaks and indentation as single spaces."""
    return " ".join(element.get_text().split())


def section_of(page: BeautifulSoup, heading: str) -> Tag:
    """The section under the h3 that reads ``heading``."""
    found = [h for h in page.select("h3") if text(h) == heading]
    assert len(found) == 1, f"{heading!r}: {len(found)} headings"
    section = found[0].find_parent("section")
    assert isinstance(section, Tag)
    return section


def rows(table: Tag) -> dict[str, list[str]]:
    """Each body row of a table by the text of its row header: the texts of its other cells."""
    return {text(row.th): [text(cell) for cell in row.select("td")] for row in table.select("tbody tr") if row.th}


def table(section: Tag, caption: str) -> Tag:
    found = [t for t in section.select("table") if t.caption and text(t.caption).startswith(caption)]
    assert len(found) == 1, f"{caption!r}: {len(found)} tables"
    return found[0]


def operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def in_words(description: str) -> str:
    """A docstring as the page shows it: one line, its ``code`` marks gone."""
    return " ".join(description.replace("``", "").split())


# -- served like every other page --------------------------------------------------------------------


def test_the_reference_is_an_html_page_under_the_sites_strict_security_headers(client: TestClient) -> None:
    response = client.get(DOCS)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert policy == SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'none'" in policy and "default-src 'self'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_page_runs_no_script_and_loads_nothing_from_another_origin(client: TestClient) -> None:
    html = client.get(DOCS).text
    page = BeautifulSoup(html, "html.parser")

    assert "<script" not in html.lower()
    assert page.select("script, style, iframe, object, embed, base") == []
    for element in page.find_all(True):
        # Inline styles and event handlers would be refused by the policy (or be script).
        assert "style" not in element.attrs, element
        assert not [name for name in element.attrs if name.lower().startswith("on")], element
        for name in URL_ATTRIBUTES:
            if name in element.attrs:
                value = str(element[name])
                assert not urlsplit(value).scheme and not urlsplit(value).netloc, f"{element.name} {name}={value}"


def test_its_stylesheet_is_served_from_the_same_origin_as_css(client: TestClient, page: BeautifulSoup) -> None:
    [stylesheet] = page.select('link[rel="stylesheet"]')
    href = str(stylesheet["href"])
    assert href.startswith("/") and not href.startswith("//"), href

    response = client.get(href)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert "--text" in response.text


def test_neither_the_reference_nor_its_stylesheet_is_an_endpoint_of_the_api(openapi: dict[str, Any]) -> None:
    assert not [path for path in openapi["paths"] if path.startswith(DOCS)]


def test_the_swagger_ui_and_its_cdn_are_gone(client: TestClient) -> None:
    html = client.get(DOCS).text

    assert "swagger" not in html.lower()
    assert "cdn.jsdelivr.net" not in html
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


# -- what it documents -------------------------------------------------------------------------------


def test_it_names_every_operation_of_the_openapi_description(page: BeautifulSoup, openapi: dict[str, Any]) -> None:
    headings = {text(h) for h in page.select("h3")}
    named = {f"{method} {path}" for method, path, _ in operations(openapi)}

    assert named <= headings, f"missing: {sorted(named - headings)}"
    # Not vacuous: the API's own endpoints are among them.
    assert {"POST /api/v1/announcements", "GET /api/v1/announcements", "POST /api/v1/previews",
            "GET /api/v1/announcements/{announcement_id}"} <= named  # fmt: skip


def test_each_operation_shows_its_summary_and_its_docstring(page: BeautifulSoup, openapi: dict[str, Any]) -> None:
    described = 0
    for method, path, operation in operations(openapi):
        section = text(section_of(page, f"{method} {path}"))

        assert operation["summary"] in section
        if "description" in operation:
            assert in_words(operation["description"]) in section
            described += 1
    assert described >= 5, "the endpoints' docstrings are in the description"


def test_a_docstrings_code_is_marked_as_code(page: BeautifulSoup) -> None:
    section = section_of(page, "GET /api/v1/announcements")

    assert "GET /api/v1/announcements/{id}" in [text(code) for code in section.select("p code")]


def test_each_operation_lists_its_parameters_with_where_they_go_whether_required_type_and_description(
    page: BeautifulSoup, openapi: dict[str, Any]
) -> None:
    for method, path, operation in operations(openapi):
        if not operation.get("parameters"):
            continue
        listed = rows(table(section_of(page, f"{method} {path}"), "Parameters"))

        assert set(listed) == {p["name"] for p in operation["parameters"]}, f"{method} {path}"
        for parameter in operation["parameters"]:
            where, required, _type, description = listed[parameter["name"]]
            assert where == parameter["in"]
            assert required == ("yes" if parameter.get("required") else "no")
            assert in_words(parameter.get("description", "")) in description


def test_parameter_types_defaults_and_limits_are_written_out(page: BeautifulSoup) -> None:
    listed = rows(table(section_of(page, "GET /api/v1/announcements"), "Parameters"))

    assert listed["since"][2] == "string (date-time) or null"
    assert listed["kind"][2] == '"warning" or "news" or null'
    assert listed["current"][2] == "boolean"
    assert "default false" in listed["current"][3]
    assert listed["limit"][2] == "integer"
    assert "default 100" in listed["limit"][3] and "1–500" in listed["limit"][3]
    created = rows(table(section_of(page, "POST /api/v1/announcements"), "Parameters"))
    assert "10–2000 characters" in created["privacy_override"][3]


def test_each_request_body_names_its_content_type_and_schema(page: BeautifulSoup, openapi: dict[str, Any]) -> None:
    bodies = 0
    for method, path, operation in operations(openapi):
        body = operation.get("requestBody")
        if body is None:
            continue
        found = table(section_of(page, f"{method} {path}"), "Request body")
        listed = rows(found)

        assert set(listed) == set(body["content"])
        assert found.caption is not None
        assert text(found.caption).endswith("(required)" if body.get("required") else "(optional)")
        for media_type, content in body["content"].items():
            for name in re.findall(r"#/components/schemas/(\w+)", str(content["schema"])):
                assert name in listed[media_type][0]
        bodies += 1
    assert bodies >= 2, "release and confirm take a body"
    release = rows(table(section_of(page, "POST /api/v1/announcements/{announcement_id}/release"), "Request body"))
    assert release == {"application/json": ["ReleaseRequest"]}


def test_each_operation_lists_its_responses_with_status_description_and_schema(
    page: BeautifulSoup, openapi: dict[str, Any]
) -> None:
    for method, path, operation in operations(openapi):
        listed = rows(table(section_of(page, f"{method} {path}"), "Responses"))

        assert set(listed) == set(operation["responses"]), f"{method} {path}"
        for status, answer in operation["responses"].items():
            description, content = listed[status]
            assert answer["description"] in description
            for media_type in answer.get("content", {}):
                assert media_type in content
    created = rows(table(section_of(page, "POST /api/v1/announcements"), "Responses"))
    assert created["201"][1] == "application/json: AnnouncementReport"
    listing = rows(table(section_of(page, "GET /api/v1/announcements"), "Responses"))
    assert listing["200"][1] == "application/json: array of Listing"


def test_every_schema_is_documented_with_its_fields_types_and_whether_required(
    page: BeautifulSoup, openapi: dict[str, Any]
) -> None:
    schemas = openapi["components"]["schemas"]
    assert {"AnnouncementReport", "Listing", "Preview", "ReleaseRequest", "Stage"} <= set(schemas)

    for name, schema in schemas.items():
        section = section_of(page, name)
        if "description" in schema:
            assert in_words(schema["description"]) in text(section)
        if "properties" in schema:
            listed = rows(table(section, "Fields"))
            assert set(listed) == set(schema["properties"]), name
            for field in schema["properties"]:
                assert listed[field][0] == ("yes" if field in schema.get("required", []) else "no"), f"{name}.{field}"
        for value in schema.get("enum", []):
            assert f'"{value}"' in [text(code) for code in section.select("code")], f"{name}: {value}"


def test_a_schema_named_in_a_type_links_to_where_the_page_documents_it(page: BeautifulSoup) -> None:
    report = rows(table(section_of(page, "AnnouncementReport"), "Fields"))
    assert report["deliveries"][1] == "array of DeliveryReport"
    [link] = [a for a in section_of(page, "AnnouncementReport").select("td a") if text(a) == "DeliveryReport"]

    target = page.find(id=str(link["href"]).removeprefix("#"))

    assert isinstance(target, Tag) and text(target) == "DeliveryReport"


def test_every_link_within_the_page_leads_to_a_place_on_it(page: BeautifulSoup) -> None:
    fragments = [str(a["href"]) for a in page.select('a[href^="#"]')]
    assert len(fragments) > 20

    missing = [href for href in fragments if page.find(id=href[1:]) is None]

    assert missing == []


def test_it_says_how_to_authenticate_with_a_bearer_token(page: BeautifulSoup) -> None:
    words = text(page)

    assert "Authorization: Bearer <token>" in words
    assert "herold token create --authority <slug>" in words
    assert "401" in words and "403" in words


def test_it_explains_the_idempotency_key_for_safe_retries(page: BeautifulSoup) -> None:
    [section] = [s for s in page.select("section") if "Idempotency-Key" in [text(h) for h in s.select("h3")]]
    words = text(section)

    assert "POST /api/v1/announcements" in words
    assert "1 to 200 printable ASCII characters" in words
    assert "nothing is published twice" in words


def test_it_links_to_the_machine_readable_openapi_description(client: TestClient, page: BeautifulSoup) -> None:
    links = {str(a["href"]) for a in page.select("a[href]") if "OpenAPI" in text(a)}

    assert links == {OPENAPI}
    assert client.get(OPENAPI).json()["openapi"].startswith("3.")


# -- readable by everyone ----------------------------------------------------------------------------


def test_the_page_names_its_language_and_lets_keyboard_users_skip_to_the_reference(page: BeautifulSoup) -> None:
    assert page.html is not None and page.html["lang"] == "en"
    assert page.title is not None and text(page.title) == "Herold API reference"
    first = page.select("body a")[0]
    assert "skip" in first.get_attribute_list("class")
    target = page.find(id=str(first["href"]).removeprefix("#"))
    assert isinstance(target, Tag) and target.name == "main"
    assert [text(h) for h in target.select("h1")] == ["Herold API reference"]


def test_its_headings_go_down_one_level_at_a_time(page: BeautifulSoup) -> None:
    levels = [int(h.name[1]) for h in page.select("h1, h2, h3, h4, h5, h6")]

    assert levels[0] == 1 and levels.count(1) == 1
    skipped = [(before, after) for before, after in pairwise(levels) if after > before + 1]
    assert skipped == []


def test_its_tables_have_captions_and_every_header_cell_a_scope(page: BeautifulSoup) -> None:
    tables = page.select("table")
    assert len(tables) > 20

    assert [t for t in tables if t.caption is None or not text(t.caption)] == []
    assert [th for th in page.select("th") if th.get("scope") not in ("col", "row")] == []
    assert [t for t in tables if not t.select("thead th[scope=col]")] == []


def test_each_section_is_named_by_its_heading(page: BeautifulSoup) -> None:
    for section in page.select("section"):
        heading = page.find(id=str(section.get("aria-labelledby")))

        assert isinstance(heading, Tag) and heading.name in ("h2", "h3"), section.get("aria-labelledby")
        assert heading.find_parent("section") is section


def test_its_colours_have_wcag_aa_contrast_in_the_light_and_the_dark_scheme(client: TestClient) -> None:
    css = client.get("/api/docs.css").text
    palettes = [
        dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block)) for block in re.findall(r":root\s*{([^}]*)}", css)
    ]
    assert len(palettes) == 2, "a light and a dark scheme"

    for colours in palettes:
        for text_colour in ("text", "muted", "link"):
            for background in ("bg", "code-bg"):
                ratio = contrast(colours[text_colour], colours[background])
                assert ratio >= 4.5, f"{text_colour} on {background}: {ratio:.2f}"
        assert contrast(colours["focus"], colours["bg"]) >= 3, "the focus outline (non-text contrast)"


# -- made from any app's description -----------------------------------------------------------------


def test_an_app_gets_the_reference_of_the_endpoints_it_has_when_first_asked() -> None:
    app = FastAPI(openapi_url=OPENAPI, docs_url=None, redoc_url=None)
    install_api_docs(app)

    @app.get("/things/{thing_id}")
    def thing(thing_id: int, verbose: bool = False) -> dict[str, int]:
        """One thing, by its ``id``.

        Its details only with ``verbose``."""
        return {"id": thing_id}

    page = BeautifulSoup(TestClient(app).get(DOCS).text, "html.parser")

    section = section_of(page, "GET /things/{thing_id}")
    assert [text(p) for p in section.select(":scope > p")] == [
        "Thing",
        "One thing, by its id.",
        "Its details only with verbose.",
    ]
    listed = rows(table(section, "Parameters"))
    assert listed["thing_id"][:3] == ["path", "yes", "integer"]
    assert listed["verbose"][:3] == ["query", "no", "boolean"]


def test_behind_a_path_prefix_its_links_keep_the_prefix() -> None:
    app = FastAPI(openapi_url=OPENAPI, docs_url=None, redoc_url=None)
    install_api_docs(app)

    page = BeautifulSoup(TestClient(app, root_path="/herold").get(DOCS).text, "html.parser")

    assert [str(link["href"]) for link in page.select('link[rel="stylesheet"]')] == ["/herold/api/docs.css"]
    assert {str(a["href"]) for a in page.select("a[href]") if "OpenAPI" in text(a)} == {"/herold" + OPENAPI}


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "string"}, "string"),
        ({"type": "string", "format": "date-time"}, "string (date-time)"),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, "integer or null"),
        ({"type": ["integer", "null"]}, "integer or null"),
        ({"type": "array", "items": {"$ref": "#/components/schemas/Listing"}}, "array of Listing"),
        ({"type": "object", "additionalProperties": {"type": "string"}}, "object of string"),
        ({"type": "object"}, "object"),
        ({"enum": ["warning", "news"], "type": "string"}, '"warning" or "news"'),
        ({"const": 3}, "3"),
        ({"title": "Input"}, "any"),
    ],
)
def test_a_type_is_written_in_words(schema: dict[str, Any], words: str) -> None:
    assert "".join(part.text for part in type_of(schema)) == words


def test_a_schema_named_in_a_type_is_the_part_that_links() -> None:
    parts = type_of({"anyOf": [{"$ref": "#/components/schemas/HandOff"}, {"type": "null"}]})

    assert [(part.text, part.schema) for part in parts] == [
        ("HandOff", "schema-HandOff"),
        (" or ", None),
        ("null", None),
    ]
