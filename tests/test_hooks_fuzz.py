"""Ten thousand mutated messages to the warning systems' webhooks: never a server error, never
an announcement from what was refused.

Real messages (a weather service's CAP, a MoWaS warning as NINA's JSON, Herold's own
announcement) are mutated the ways a broken or hostile sender would: flipped and inserted
bytes, cut-off bodies, repeated and deleted stretches, markup that CAP forbids (DOCTYPEs,
entities), and, for JSON, values of the wrong type in the right places. Each goes to the hook
of its format, correctly signed over the bytes as sent, so the parser and the mapping are what
is tested, not the signature check. Deterministic (``derandomize``): CI runs the same ten
thousand every time.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from publisher.edges.web import create_app
from publisher.edges.wiring import Herold
from publisher.engine.schema import AnnouncementRow

from conftest import AUTHORITY, ROOT

pytestmark = pytest.mark.slow

SLUG = AUTHORITY["slug"]
KEY = b"a secret of the warning systems!"
FIXTURES = Path(__file__).parent / "fixtures"
CAP_SMALL = (FIXTURES / "cap" / "dwd-update-starkregen-2023-06-23.xml").read_bytes()
MOWAS = (FIXTURES / "nina" / "mowas-alert-DE-NW-BOR-SE059-20220217-59-000.json").read_bytes()
ANNOUNCEMENT = (ROOT / "examples" / "bomb-disposal.json").read_bytes()
# When the weather service's update was current (the MoWaS warning and the announcement have no end).
WHEN_CURRENT = datetime(2023, 6, 23, 12, 0, tzinfo=UTC)
SEEDS = {"leitstelle": CAP_SMALL, "nina": MOWAS, "software": ANNOUNCEMENT}
TYPES = {"leitstelle": "application/cap+xml", "nina": "application/json", "software": "application/json"}
NASTY = [
    b'<!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
    b"&x;", b"<![CDATA[", b"]]>", b"<info>", b"</info>", b"<area>", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf",
    b"2023-06-23T10:00:00Z", b"<polygon>1,2 3,4</polygon>", b'xmlns="urn:oasis:names:tc:emergency:cap:1.1"',
    b"\\u0000", b"\\ud800", b'"info": 1', b'"info": [[[[[[[[[[]]]]]]]]]]', b"1e999", b"-0", b"null", b"[]", b"{}",
    "\u202e".encode(), "Straße Ü 🚨".encode(),
]  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def herold(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Herold]:
    # One Herold for all ten thousand: a fixture per example would measure set-up, not parsing.
    from publisher.edges.config import settings_from

    authority = copy.deepcopy(AUTHORITY)
    authority["integrations"] = [
        {"id": "leitstelle", "format": "cap", "secret_env": "S1"},
        {"id": "nina", "format": "nina", "secret_env": "S2"},
        {"id": "software", "format": "announcement", "secret_env": "S3"},
    ]
    env = {name: "whsec_" + base64.b64encode(secret_of(integration)).decode()
           for name, integration in (("S1", "leitstelle"), ("S2", "nina"), ("S3", "software"))}  # fmt: skip
    data = tmp_path_factory.mktemp("fuzz")
    settings = settings_from({"herold": {"data_dir": str(data / "var")}, "authorities": [authority]}, env, base=data)
    herold = Herold(settings, clock=lambda: WHEN_CURRENT)
    herold.start()
    yield herold
    herold.stop()


@pytest.fixture(scope="module")
def client(herold: Herold) -> Iterator[TestClient]:
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:
        yield client


def secret_of(integration: str) -> bytes:
    return {"leitstelle": KEY, "nina": KEY[:-1] + b"\x01", "software": KEY[:-1] + b"\x02"}[integration]


def signed(integration: str, body: bytes, hook_id: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret_of(integration), f"{hook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": hook_id, "webhook-timestamp": timestamp, "content-type": TYPES[integration],
            "webhook-signature": "v1," + base64.b64encode(digest).decode()}  # fmt: skip


def announcements(herold: Herold) -> int:
    with herold.store.announcements.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(AnnouncementRow)).scalar_one())


@st.composite
def byte_mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    body = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(len(body) - 1, 0)))
        operation = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "nasty", "cut"]))
        if operation == "flip" and body:
            body[at] = draw(st.integers(0, 255))
        elif operation == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del body[at : at + draw(st.integers(1, 64))]
        elif operation == "repeat":
            body[at:at] = body[at : at + draw(st.integers(1, 256))] * draw(st.integers(1, 4))
        elif operation == "nasty":
            body[at:at] = draw(st.sampled_from(NASTY))
        elif operation == "cut":
            del body[at:]
    return bytes(body)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


@st.composite
def json_mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """The document with some of its values replaced by others of any type, or removed."""
    document = json.loads(seed)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent[path[-1]] = draw(JSON_VALUES)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, bytes]:
    integration = draw(st.sampled_from(sorted(SEEDS)))
    seed = SEEDS[integration]
    if integration != "leitstelle" and draw(st.booleans()):
        return integration, draw(json_mutations(seed))
    return integration, draw(byte_mutations(seed))


def test_the_fuzzed_seeds_are_messages_the_hooks_take(herold: Herold, client: TestClient) -> None:
    # Mutations of something the hooks refuse anyway would test only the first refusal.
    del herold
    for integration, body in SEEDS.items():
        answer = client.post(f"/hooks/{SLUG}/{integration}", content=body,
                             headers=signed(integration, body, f"seed_{integration}"))  # fmt: skip
        assert answer.status_code in {200, 202}, (integration, answer.text)


EXAMPLES = 10_000
_sent = iter(range(10**9))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(message=messages())
def test_ten_thousand_mutated_messages_never_cause_a_server_error_or_an_announcement_when_refused(
    herold: Herold, client: TestClient, message: tuple[str, bytes]
) -> None:
    integration, body = message
    before = announcements(herold)
    answer = client.post(f"/hooks/{SLUG}/{integration}", content=body,
                         headers=signed(integration, body, f"msg_fuzz_{next(_sent)}"))  # fmt: skip
    event(f"{integration}: {answer.status_code}")  # how deep the mutations reach, in the statistics
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert set(answer.json()) == {"error"} and len(answer.json()["error"]) < 600
        assert announcements(herold) == before, f"refused ({answer.status_code}) yet stored: {answer.text}"
