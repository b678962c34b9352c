"""What the fake HTTP services share: a threaded server on 127.0.0.1 in a daemon thread, quiet
handlers, the requests they had, faults queued per method and path prefix, and answering.

A fake subclasses `FakeServer` (or `FakeService`, to offer its own way of queuing faults) and
serves in `_serve` — or builds its record in `_record`, answers in `_process` (under the lock; a
`Refusal` carries its answer) and answers a ``status`` fault in `_faulted`; `_serve` then does the
rest: faults (``hang``, ``status``, ``drop_after``), keeping what was answered (`_note`), sending.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, Self, cast
from urllib.parse import SplitResult, urlsplit

__all__ = ["Answer", "FakeServer", "FakeService", "Handler", "Refusal", "TrackedHandler", "hang_up", "read", "send"]


@dataclass
class Answer:
    code: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Refusal(Exception):
    """A request refused: ``answer`` is what is sent."""

    answer: Answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeService


class _Tracking(Protocol):
    _lock: threading.RLock
    _connections: set[socket.socket]


class TrackedHandler(BaseHTTPRequestHandler):
    """A handler whose fake (its server's ``fake``) knows the connections open, to cut them at stop."""

    def _tracking(self) -> _Tracking:
        return cast(_Tracking, getattr(self.server, "fake"))  # noqa: B009 - each fake's server types it

    def setup(self) -> None:
        super().setup()
        with self._tracking()._lock:
            self._tracking()._connections.add(self.connection)

    def finish(self) -> None:
        with self._tracking()._lock:
            self._tracking()._connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the connection may be cut already
            super().finish()


class Handler(TrackedHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests uses it
    disable_nagle_algorithm = True  # answer in one round trip, as real servers do
    server: _Server

    def _serve(self) -> None:
        if self.command not in self.server.fake.methods:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the fake's requests instead."""


def read(handler: BaseHTTPRequestHandler) -> tuple[SplitResult, dict[str, str], bytes]:
    """A request's target, headers (names in lower case) and body."""
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    return urlsplit(handler.path), {name.lower(): value for name, value in handler.headers.items()}, body


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection without answering."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)


def send(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    try:
        handler.send_response(answer.code)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        handler.wfile.write(answer.body)
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True  # the client gave up waiting


class FakeService:
    """A threaded server on 127.0.0.1 and the requests it had. Thread-safe: requests are
    processed under one lock; the inspection properties return copies. Faults are queued with
    `_queue`; `FakeServer` lets tests queue them per method and path prefix."""

    name = "fake-http"
    methods: frozenset[str] = frozenset({"GET", "POST", "PUT", "DELETE"})
    handler: type[Handler] = Handler
    # Whether stop() cuts the connections clients keep alive: else their handler threads keep
    # answering, and a pooled keep-alive connection reaches a stopped server.
    cut_connections_at_stop = False

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[Any] = []
        self._faults: list[tuple[str, str, Any]] = []  # (method or "*", path prefix, fault)
        self._connections: set[socket.socket] = set()  # open, with a handler serving them

    # -- lifetime -----------------------------------------------------------------------------------

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), self.handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes hanging handlers
        server.shutdown()
        server.server_close()
        if self.cut_connections_at_stop:
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self._stopped()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _stopped(self) -> None:
        """After the server is closed, before its thread is joined."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _origin(self, what: str) -> str:
        if self._server is None:
            raise RuntimeError(f"{what} is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- faults -------------------------------------------------------------------------------------

    def _queue(self, method: str, path_prefix: str, faults: tuple[Any, ...]) -> None:
        """Queue faults for requests of ``method`` (``"*"``: any) whose path starts with the prefix."""
        with self._lock:
            self._faults.extend((method.upper(), path_prefix, fault) for fault in faults)

    def _take_fault(self, method: str, path: str) -> Any:
        for index, (wanted, prefix, fault) in enumerate(self._faults):
            if wanted in ("*", method) and path.startswith(prefix):
                del self._faults[index]
                return fault
        return None

    # -- serving ------------------------------------------------------------------------------------

    def _serve(self, handler: Handler) -> None:
        record = self._record(handler)
        with self._lock:
            self._requests.append(record)
            fault = self._take_fault(record.method, record.path)
        if fault is not None and fault.kind == "hang":
            self._stopping.wait(fault.seconds)
            hang_up(handler)
            return
        answer = self._faulted(record, fault) if fault is not None and fault.kind == "status" else self._answer(record)
        if fault is not None and fault.kind == "drop_after":
            hang_up(handler)
            return
        with self._lock:
            self._note(record, answer)
        send(handler, answer)

    def _record(self, handler: Handler) -> Any:
        raise NotImplementedError

    def _faulted(self, record: Any, fault: Any) -> Answer:
        raise NotImplementedError

    def _answer(self, record: Any) -> Answer:
        with self._lock:
            try:
                return self._process(record)
            except Refusal as refusal:
                return refusal.answer

    def _process(self, record: Any) -> Answer:
        raise NotImplementedError

    def _note(self, record: Any, answer: Answer) -> None:
        """Keep what was answered (under the lock)."""
        record.status = answer.code


class FakeServer(FakeService):
    """A `FakeService` whose tests queue faults per method and path prefix."""

    def fail(self, method: str, path_prefix: str, *faults: Any) -> None:
        """Queue faults for requests of ``method`` (``"*"``: any) whose path starts with the prefix."""
        self._queue(method, path_prefix, faults)
