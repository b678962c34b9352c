"""A server that answers slowly on purpose: a byte at a time, each after a pause.

It reads each request whole (so the client has sent everything, as with a real platform
that took the post and then stalls), then trickles ``answer`` one byte per ``every``
seconds, forever if the client lets it. ``headers_first`` sends the status line and headers
at once and trickles only the body; otherwise the headers trickle too. ``quick_first``
requests are answered at once, on a connection kept open for the next one. Requests and
connections are counted, and each connection cut off before the whole answer was sent.

    with Trickle(every=0.2) as server:
        requests.get(server.url, timeout=(1, 1))   # never times out: each read gets a byte
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

ANSWER = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"id": "1"}' + b" " * 189


class Trickle:
    def __init__(
        self, every: float = 0.2, *, headers_first: bool = False, answer: bytes = ANSWER, quick_first: int = 0
    ) -> None:
        self.every, self.headers_first, self.answer, self.quick_first = every, headers_first, answer, quick_first
        self.requests = 0
        self.connections = 0
        self.cut_off = 0  # connections that ended before the whole answer was sent
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def __enter__(self) -> Trickle:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stopping.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        with connection:
            try:
                while True:
                    self._read_request(connection)
                    with self._lock:
                        self.requests += 1
                        quick = self.requests <= self.quick_first
                    if not quick:
                        break
                    connection.sendall(self.answer)  # at once, and the connection stays open
                head, _, body = self.answer.partition(b"\r\n\r\n")
                if self.headers_first:
                    connection.sendall(head + b"\r\n\r\n")
                    rest = body
                else:
                    rest = self.answer
                for byte in rest:
                    if self._stopping.wait(self.every):
                        return
                    connection.sendall(bytes([byte]))
            except OSError:
                with self._lock:
                    self.cut_off += 1

    @staticmethod
    def _read_request(connection: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                raise OSError("the client went away")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                raise OSError("the client went away")
            body += chunk

    def wait_for_cut_off(self, count: int = 1, timeout: float = 10) -> bool:
        """Whether ``count`` connections were cut off (the server notices at its next byte)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.cut_off >= count:
                    return True
            time.sleep(0.05)
        return False
