"""A fake NINA API for tests (warnung.bund.de/api31): real HTTP on 127.0.0.1, in a daemon thread.

Why a server and not a mock: the poller must survive what the real API does between rounds —
warnings coming, changing and going, outages answering errors, garbage or nothing — and keep
each warning's announcements exactly once across restarts; only requests over a socket show that.

What it serves, as the API does (../shared/samples/nina/nina-api-openapi.yaml):
``GET /api31/dashboard/{ARS}.json`` — the warnings of a district (an ARS with its last seven
digits zeroed; any other ARS lists nothing), each ``{"id", "payload": {"version", "type", "id",
"hash", "data": {headline, provider, severity, msgType, transKeys, area}}, "i18nTitle", "sent"}``
with ``hash`` the SHA-256 of the warning's details; ``GET /api31/warnings/{id}.json`` — one
warning's details (CAP as JSON), 404 for an id it does not know. The dashboard carries an ETag and
answers 304 to a matching If-None-Match (``etags=False``: neither, as a server that never does).

Usage::

    with FakeNina() as nina:
        nina.publish("055540000000", warning)        # listed; its id is "mow." + its identifier
        nina.publish("055540000000", changed)        # same identifier: a new hash
        nina.withdraw("mow.DE-…")                    # off the dashboard (details stay, as on NINA)
        nina.fail("/api31/dashboard/", status(500))  # the next dashboard request answers 500
        ...  # point the poller at nina.url
        nina.count("/api31/dashboard/")

Faults (`status`, `garbage`, `hang`) are queued per path prefix and used one per request.
Not emulated: the GeoJSON and archive endpoints, the COVID and logo data, the map lists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fakes.http import Answer, FakeService, Handler

__all__ = ["FakeNina", "FakePolled", "Fault", "Recorded", "garbage", "hang", "status"]


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "hang"]
    code: int = 0
    body: bytes = b""
    seconds: float = 0.0


def status(code: int, body: bytes = b"") -> Fault:
    """Answer ``code`` with ``body`` instead of serving the request."""
    return Fault("status", code=code, body=body)


def garbage(body: bytes = b"<html><body>Wartungsarbeiten</body></html>") -> Fault:
    """Answer 200 with ``body``: a maintenance page or a proxy's where data was expected."""
    return status(200, body)


def hang(seconds: float) -> Fault:
    """Wait, then close the connection without answering (the client times out first)."""
    return Fault("hang", seconds=seconds)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case


class FakePolled(FakeService):
    """What the fakes of polled services share (`fakes.http` does the serving): GET only, the
    requests as `Recorded`, faults queued per path prefix. Subclasses answer in `_process`."""

    methods = frozenset({"GET"})

    @property
    def origin(self) -> str:
        return self._origin(f"the {self.name}")

    # -- inspection and faults --------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def count(self, path_prefix: str = "/") -> int:
        """Requests whose path starts with ``path_prefix``."""
        return sum(1 for r in self.requests if r.path.startswith(path_prefix))

    def fail(self, path_prefix: str, *faults: Fault) -> None:
        """Queue faults for requests whose path starts with the prefix, one per request."""
        self._queue("*", path_prefix, faults)

    # -- serving ------------------------------------------------------------------------------------

    def _record(self, handler: Handler) -> Recorded:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        return Recorded(handler.command, handler.path.split("?", 1)[0], headers)

    def _faulted(self, record: Recorded, fault: Fault) -> Answer:
        return Answer(fault.code, fault.body, {"Content-Type": "text/html"})

    def _note(self, record: Recorded, answer: Answer) -> None:
        """Records are what arrived; what was answered is not kept."""


def district(ars: str) -> str:
    """An ARS as NINA's dashboard takes it (the district's: the last seven digits zeroed)."""
    return ars[:5] + "0000000"


class FakeNina(FakePolled):
    """The NINA API on 127.0.0.1 (see the module docstring). Thread-safe."""

    name = "fake-nina"

    def __init__(self, *, etags: bool = True) -> None:
        super().__init__()
        self.etags = etags
        self._details: dict[str, bytes] = {}  # id -> the details as served
        self._listed: dict[str, dict[str, dict[str, Any]]] = {}  # district -> id -> dashboard entry

    @property
    def url(self) -> str:
        """The API's base, as Herold's poll takes it."""
        return f"{self.origin}/api31"

    def publish(self, ars: str, warning: Mapping[str, Any], *, warning_id: str | None = None) -> str:
        """List ``warning`` (CAP as JSON, as /warnings/{id}.json serves it) on the dashboard of
        ``ars``'s district, or change the one listed under the same id; its id."""
        warning_id = warning_id or f"mow.{warning['identifier']}"
        details = json.dumps(warning, ensure_ascii=False).encode()
        info = (warning.get("info") or [{}])[0]
        entry = {
            "id": warning_id,
            "payload": {
                "version": 1, "type": "ALERT", "id": warning_id, "hash": hashlib.sha256(details).hexdigest(),
                "data": {"headline": info.get("headline", ""), "provider": warning_id.split(".", 1)[0].upper(),
                         "severity": info.get("severity", "Minor"), "msgType": warning.get("msgType", "Alert"),
                         "transKeys": {"event": "BBK-EVC-040"}, "area": {"type": "ZGEM", "data": "1+11057,100001"}},
            },
            "i18nTitle": {"de": info.get("headline", "")},
            "sent": warning.get("sent", ""),
        }  # fmt: skip
        with self._lock:
            self._details[warning_id] = details
            self._listed.setdefault(district(ars), {})[warning_id] = entry
        return warning_id

    def withdraw(self, warning_id: str, *, details: bool = False) -> None:
        """Take the warning off every dashboard (``details``: its details too: 404)."""
        with self._lock:
            for listed in self._listed.values():
                listed.pop(warning_id, None)
            if details:
                self._details.pop(warning_id, None)

    def dashboard(self, ars: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._listed.get(district(ars), {}).values())

    def _process(self, record: Recorded) -> Answer:
        path, headers = record.path, record.headers
        prefix = "/api31/"
        if path.startswith(prefix + "dashboard/") and path.endswith(".json"):
            ars = path[len(prefix + "dashboard/") : -len(".json")]
            if not (ars.isdigit() and len(ars) == 12):
                return Answer(404, b"Not Found", {"Content-Type": "text/plain"})
            body = json.dumps(list(self._listed.get(ars, {}).values()), ensure_ascii=False).encode()
            if not self.etags:
                return Answer(200, body, {"Content-Type": "application/json"})
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            if headers.get("if-none-match") == etag:
                return Answer(304, b"", {"ETag": etag})
            return Answer(200, body, {"Content-Type": "application/json", "ETag": etag})
        if path.startswith(prefix + "warnings/") and path.endswith(".json"):
            details = self._details.get(path[len(prefix + "warnings/") : -len(".json")])
            if details is None:
                return Answer(404, b"Not Found", {"Content-Type": "text/plain"})
            return Answer(200, details, {"Content-Type": "application/json"})
        return Answer(404, b"Not Found", {"Content-Type": "text/plain"})
