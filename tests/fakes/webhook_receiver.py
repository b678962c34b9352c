"""A partner's webhook endpoint for tests: a real HTTP server on 127.0.0.1, in a daemon thread.

It records every request (arrival time by ``time.monotonic()``, method, path, headers, body)
and answers as told: a list of `Answer`s is used one per request, in order, then ``default``.
An answer can carry a status, a ``Retry-After`` value, extra headers, a body, and a number of
seconds to hang before answering (to make clients time out). ``on_request`` is called with
each recorded request before it is answered, in the server's thread, so a test can look at
the world at that moment. The receiver verifies nothing itself; tests do.

    with Receiver([Answer(500), Answer(500)]) as receiver:
        ...  # point a channel at receiver.url
        [first, second, third] = receiver.wait_for(3, timeout=10)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    retry_after: str | None = None
    hang: float = 0.0  # seconds to wait before answering
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    at: float  # time.monotonic() when the request had been read
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(
        self,
        answers: Sequence[Answer | int] = (),
        *,
        default: Answer | int = 200,
        on_request: Callable[[Request], None] | None = None,
        path: str = "/hook",
    ) -> None:
        self._answers = [a if isinstance(a, Answer) else Answer(a) for a in answers]
        self.default = default if isinstance(default, Answer) else Answer(default)
        self.on_request = on_request
        self.path = path
        self._requests: list[Request] = []
        self.hook_errors: list[BaseException] = []  # raised by on_request; the answer is sent anyway
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="webhook-receiver", daemon=True
        )

    # -- use ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def answer(self, *answers: Answer | int) -> None:
        """Queue more answers, used after those queued before."""
        with self._lock:
            self._answers += [a if isinstance(a, Answer) else Answer(a) for a in answers]

    def wait_for(self, count: int, timeout: float) -> list[Request]:
        """The requests once there are at least ``count`` (or whatever came within ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return list(self._requests)

    # -- lifetime ----------------------------------------------------------------------------

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- serving -----------------------------------------------------------------------------

    def _next(self, request: Request) -> Answer:
        with self._lock:
            self._requests.append(request)
            answer = self._answers.pop(0) if self._answers else self.default
            self._lock.notify_all()
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # answer in one round trip, as real servers do (no 40 ms ACK wait)

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    at=time.monotonic(),
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                if receiver.on_request is not None:
                    try:
                        receiver.on_request(request)
                    except BaseException as error:
                        with receiver._lock:
                            receiver.hook_errors.append(error)
                answer = receiver._next(request)
                if answer.hang and receiver._stopping.wait(answer.hang):
                    return  # stopped while hanging: drop the connection unanswered
                try:
                    self.send_response(answer.status)
                    if answer.retry_after is not None:
                        self.send_header("Retry-After", answer.retry_after)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    if answer.body:
                        self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            do_POST = _serve  # the names http.server dispatches to
            do_GET = _serve
            do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        return Handler
