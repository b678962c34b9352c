"""Every outbound call ends within its deadline, answer included, however slowly a server answers."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
import requests

from adapters.port.http import session

from fakes.trickle import Trickle


@pytest.mark.parametrize("headers_first", [True, False], ids=["body trickles", "headers trickle too"])
def test_a_server_that_trickles_its_answer_is_cut_off_at_the_deadline(headers_first: bool) -> None:
    # One byte every 0.2 s: each read gets something, so a read timeout never fires (the
    # answer would take 40 s); the deadline of 1.5 s does.
    with Trickle(every=0.2, headers_first=headers_first) as server:
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout, match=r"no complete answer within 1.5 s"):
            session(deadline=1.5).post(server.url, data=b'{"status": "x"}', timeout=(5, 5))
        took = time.monotonic() - started

        assert took < 4, f"the call took {took:.1f} s"
        assert server.requests == 1
        assert server.wait_for_cut_off(), "the connection is closed, not left trickling"


def test_a_kept_alive_connection_that_starts_to_trickle_is_cut_off_too() -> None:
    http = session(deadline=1.0)
    with Trickle(every=0.2, quick_first=2) as server:
        assert [http.get(server.url).json() for _ in range(2)] == [{"id": "1"}] * 2

        with pytest.raises(requests.ReadTimeout):
            http.get(server.url)  # the third request, on the same connection as the first two

        assert server.connections == 1
        assert server.wait_for_cut_off()


def test_the_same_session_is_cut_off_again_on_a_kept_alive_connection() -> None:
    class Quick(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:
            pass

    quick = ThreadingHTTPServer(("127.0.0.1", 0), Quick)
    Thread(target=quick.serve_forever, daemon=True).start()
    http = session(deadline=1.0)
    try:
        url = f"http://127.0.0.1:{quick.server_address[1]}/"
        assert [http.get(url).text for _ in range(3)] == ["ok"] * 3  # quick answers are untouched
        with Trickle(every=0.2) as slow, pytest.raises(requests.ReadTimeout):
            http.get(slow.url)
        assert http.get(url).text == "ok", "the session works on after a call was cut off"
    finally:
        quick.shutdown()


def test_a_call_within_its_deadline_gets_its_whole_answer() -> None:
    with Trickle(every=0.005, headers_first=True) as server:
        response = session(deadline=10).get(server.url)

    assert response.status_code == 200
    assert response.json() == {"id": "1"}
