"""HTTP with a deadline per call: connecting, sending and the whole answer, together.

``requests`` (and urllib3 below it) time out per socket operation: a server that sends one
byte every two seconds never trips a five-second read timeout, and holds a delivery, its
worker thread and its lease for as long as it likes. Here every call has a deadline. A
watchdog thread shuts the call's sockets down when it passes, which ends any read or write
blocked on them at once; the call then raises ``requests.ReadTimeout``, which the channels
treat like any timeout (retry, and the write may have arrived).

Usage: ``session(deadline=30)`` is a ``requests.Session`` whose every call ends within 30
seconds; ``DeadlineAdapter(30)`` can be mounted on a session of one's own.

Not covered: the name lookup (DNS) before connecting, which only the resolver's own timeout
bounds; and each redirect counts as a call of its own.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import os
import socket
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

USER_AGENT = "Herold (crisis-communication publisher)"


# Which call uses a socket now: a kept-alive socket goes back to the pool as soon as its answer is
# read, and another call may take it before the first one has finished; only its user may cut it.
_users: weakref.WeakKeyDictionary[socket.socket, _Call] = weakref.WeakKeyDictionary()
_users_lock = threading.Lock()


class _Call:
    """One call's deadline and the sockets it uses."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sockets: list[socket.socket] = []
        self.expired = False
        self.done = False

    def watch(self, sock: Any) -> None:
        if isinstance(sock, socket.socket):
            with _users_lock:
                _users[sock] = self
                if self.expired:
                    _shut(sock)
                else:
                    self.sockets.append(sock)

    def expire(self) -> None:
        with _users_lock:
            if self.done:
                return
            self.expired = True
            for sock in self.sockets:
                if _users.get(sock) is self:
                    _shut(sock)

    def finish(self) -> None:
        with _users_lock:
            self.done = True
            for sock in self.sockets:
                if _users.get(sock) is self:
                    del _users[sock]
            self.sockets.clear()


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for TLS: it wakes a blocked read in another thread at
    # once (SSLSocket's own would first tear down the TLS state under that thread's feet).
    with contextlib.suppress(OSError):  # closed meanwhile: nothing left to stop
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One thread for every call in the process: sleeps until the next deadline."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Call]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, call: _Call) -> None:
        with self._changed:
            heapq.heappush(self._due, (call.deadline, next(self._order), call))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="herold-http-deadlines", daemon=True)
                self._thread.start()
            # Only a deadline sooner than the one the thread sleeps towards needs it awake. Calls
            # of a channel share one deadline length, so most come later and wake nobody.
            if self._due[0][2] is call:
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)  # finished in time: forget it
                if not self._due:
                    self._changed.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                _, _, call = heapq.heappop(self._due)
            call.expire()


_watchdog = _Watchdog()
_current = threading.local()  # the call this thread is making


def _watch(sock: Any) -> None:
    call: _Call | None = getattr(_current, "call", None)
    if call is not None:
        call.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)  # a kept-alive connection, used again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class AnswerTooLarge(requests.RequestException):
    """The answer is longer than the session takes (``max_bytes``, after decompression)."""


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose every call, answer included, ends within ``deadline`` seconds; with
    ``max_bytes``, an answer longer than that (decompressed) is cut off there and refused."""

    def __init__(self, deadline: float, *, max_bytes: int | None = None, **kwargs: Any) -> None:
        self.deadline = deadline
        self.max_bytes = max_bytes
        kwargs.setdefault("max_retries", 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        call = _Call(time.monotonic() + self.deadline)
        _watchdog.add(call)
        _current.call = call
        try:
            response = super().send(
                request, stream=True, timeout=self._within(timeout), verify=verify, cert=cert, proxies=proxies
            )
            self._read(response)  # the whole answer, within the deadline (stream or not)
        except requests.RequestException as error:
            if call.expired:
                raise self._late(request) from error
            raise
        finally:
            call.finish()
            _current.call = None
        if call.expired:  # cut off: what was read may look complete, but is not the answer
            raise self._late(request)
        return response

    def _read(self, response: requests.Response) -> None:
        if self.max_bytes is None:
            _ = response.content
            return
        body = bytearray()
        for chunk in response.iter_content(64 * 1024):  # decoded: a compressed bomb stops here too
            body += chunk
            if len(body) > self.max_bytes:
                response.close()
                raise AnswerTooLarge(f"the answer is longer than {self.max_bytes} bytes", response=response)
        response._content = bytes(body)  # as requests keeps a body it read itself

    def _within(self, timeout: Any) -> tuple[float, float]:
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        return (min(connect or self.deadline, self.deadline), min(read or self.deadline, self.deadline))

    def _late(self, request: requests.PreparedRequest) -> requests.ReadTimeout:
        reason = f"no complete answer within {self.deadline:g} s (the call's deadline)"
        return requests.ReadTimeout(reason, request=request)


def environment_for(http: requests.Session, url: str) -> requests.Session:
    """Read the environment's HTTP settings for calls to ``url``'s server once, here, instead
    of on every call: with ``trust_env`` requests scans every environment variable for proxies
    and looks for ``~/.netrc`` per request, which costs more CPU than the rest of a small post.
    The proxy (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, unless ``NO_PROXY`` names the host)
    and the CA bundle (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``) still apply; ``.netrc`` does
    not (a channel authenticates with its own token, which a netrc entry would replace)."""
    http.trust_env = False
    http.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        http.verify = bundle
    return http


def session(deadline: float, *, pool: int = 16, max_bytes: int | None = None) -> requests.Session:
    """A session whose every call ends within ``deadline`` seconds, answer included; with
    ``max_bytes``, whose answers are at most that long (AnswerTooLarge otherwise)."""
    http = requests.Session()
    adapter = DeadlineAdapter(deadline, max_bytes=max_bytes, pool_connections=4, pool_maxsize=pool)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    http.headers["User-Agent"] = USER_AGENT
    return http


def loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine (localhost, 127.0.0.0/8, ::1): plain http there is no risk
    on the way, elsewhere it is."""
    if not host:
        return False
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False
