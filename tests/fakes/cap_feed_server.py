"""A fake CAP feed for tests: an Atom index of CAP alerts, as weather services publish them, and
the CAP documents it links to; real HTTP on 127.0.0.1 (`fakes.nina_server.FakePolled`).

``GET /feed.atom`` is the index: one ``<entry>`` per alert with its ``<id>``, ``<updated>`` and a
``<link type="application/cap+xml" href="/cap/{name}.xml">``. The index carries an ETag and a
Last-Modified date and answers 304 to a matching If-None-Match (or, without one, to an
If-Modified-Since no older than its last change), as static file servers and CDNs do.
``GET /cap/{name}.xml`` is one alert; 404 for one it does not have.

    with FakeCapFeed() as feed:
        feed.put("sturm", cap_bytes)              # listed, updated now
        feed.put("sturm", other_bytes)            # the same entry, a newer <updated>
        feed.drop("sturm")                        # off the index (the document stays)
        ...  # point the poller at feed.url
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from xml.sax.saxutils import escape, quoteattr

from fakes.http import Answer
from fakes.nina_server import FakePolled, Recorded

__all__ = ["FakeCapFeed"]

_START = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)


class FakeCapFeed(FakePolled):
    name = "fake-cap-feed"

    def __init__(self) -> None:
        super().__init__()
        self._documents: dict[str, bytes] = {}
        self._entries: dict[str, datetime] = {}  # name -> updated
        self._ticks = itertools.count(1)
        self._changed = _START

    @property
    def url(self) -> str:
        return f"{self.origin}/feed.atom"

    def put(self, name: str, document: bytes, *, listed: bool = True) -> None:
        """Serve ``document`` at /cap/{name}.xml and list it (again), updated now."""
        with self._lock:
            # Each change a second later than the one before: feeds' dates have whole seconds.
            self._changed = _START + timedelta(seconds=next(self._ticks))
            self._documents[name] = document
            if listed:
                self._entries[name] = self._changed

    def drop(self, name: str) -> None:
        """Take the entry off the index (its document stays, as an expired alert's often does)."""
        with self._lock:
            self._changed = _START + timedelta(seconds=next(self._ticks))
            self._entries.pop(name, None)

    def _index(self) -> bytes:
        entries = "".join(
            f"<entry><id>urn:example:cap:{escape(name)}</id><title>{escape(name)}</title>"
            f"<updated>{updated.isoformat()}</updated>"
            f'<link rel="alternate" type="application/cap+xml" href={quoteattr(f"/cap/{name}.xml")}/></entry>'
            for name, updated in self._entries.items()
        )
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
                f"<id>urn:example:cap</id><title>Warnungen</title><updated>{self._changed.isoformat()}</updated>"
                f"{entries}</feed>").encode()  # fmt: skip

    def _process(self, record: Recorded) -> Answer:
        path, headers = record.path, record.headers
        if path == "/feed.atom":
            body = self._index()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            modified = format_datetime(self._changed, usegmt=True)
            fresh = {"ETag": etag, "Last-Modified": modified}
            if "if-none-match" in headers:
                if headers["if-none-match"] == etag:
                    return Answer(304, b"", fresh)
            elif "if-modified-since" in headers:
                try:
                    since = parsedate_to_datetime(headers["if-modified-since"])
                except (TypeError, ValueError):
                    since = None
                if since is not None and since >= self._changed:
                    return Answer(304, b"", fresh)
            return Answer(200, body, {"Content-Type": "application/atom+xml", **fresh})
        if path.startswith("/cap/") and path.endswith(".xml"):
            document = self._documents.get(path[len("/cap/") : -len(".xml")])
            if document is not None:
                return Answer(200, document, {"Content-Type": "application/cap+xml"})
        return Answer(404, b"Not Found", {"Content-Type": "text/plain"})
