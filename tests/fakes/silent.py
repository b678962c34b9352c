"""A server that accepts connections and never answers: the platform outage that costs most."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_server() -> Iterator[tuple[str, socket.socket]]:
    """Its address (http://127.0.0.1:port) and its listening socket. The kernel completes each
    TCP handshake for the backlog; nobody ever reads or writes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", listener
    finally:
        listener.close()


def connections_waiting(listener: socket.socket) -> int:
    """How many connections reached it (taken off its backlog now)."""
    listener.setblocking(False)
    taken = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return taken
        connection.close()
        taken += 1
