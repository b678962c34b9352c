"""Every outbound call ends within its deadline, answer included, however slowly a server answers."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest
import requests

from adapters.port.http import AnswerTooLarge, environment_for, session

from fakes.proxy import ForwardProxy
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


def test_a_call_with_a_short_deadline_is_cut_off_in_time_while_a_longer_one_runs() -> None:
    # One thread watches every call: a call whose deadline comes sooner than the one it sleeps
    # towards must still be cut at its own.
    cut: list[requests.RequestException] = []

    def long() -> None:
        try:
            session(deadline=4).get(slower.url, timeout=(5, 5))
        except requests.RequestException as error:
            cut.append(error)

    with Trickle(every=0.2) as slow, Trickle(every=0.2) as slower:
        long_call = Thread(target=long)
        long_call.start()
        time.sleep(0.3)  # the long call is being watched
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout, match=r"no complete answer within 1 s"):
            session(deadline=1).get(slow.url, timeout=(5, 5))
        took = time.monotonic() - started
        long_call.join(10)

    assert took < 3, f"the call with a 1 s deadline took {took:.1f} s"
    assert cut, "the call with a 4 s deadline was cut off at its own"


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


# -- the environment's settings, read once per channel -------------------------------------------


def test_calls_take_the_proxy_the_environment_names_unless_no_proxy_exempts_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Trickle(every=0.005, headers_first=True) as server, ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        proxied = environment_for(session(deadline=10), server.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = environment_for(session(deadline=10), server.url)

        assert proxied.get(server.url).json() == {"id": "1"}
        assert direct.get(server.url).json() == {"id": "1"}

    assert proxy.seen == [("GET", server.url)]


def test_a_netrc_entry_never_replaces_a_channel_s_own_authorization(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login someone password secret\n")
    (tmp_path / ".netrc").chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    with ForwardProxy() as echo:  # answers nothing useful; we look at what was sent
        http = environment_for(session(deadline=10), echo.url)
        sent = http.prepare_request(requests.Request("GET", echo.url, headers={"Authorization": "Bearer token"}))

    assert sent.headers["Authorization"] == "Bearer token"


def test_a_session_with_a_byte_limit_refuses_a_compressed_bomb_at_the_limit() -> None:
    import gzip

    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))  # 50 MiB of zeros in about 50 KB

    class Bomb(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(bomb)))
            self.end_headers()
            self.wfile.write(bomb)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Bomb)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(AnswerTooLarge, match="longer than 1048576 bytes"):
            session(deadline=10, max_bytes=1024 * 1024).get(url)
        assert len(session(deadline=10).get(url).content) == 50 * 1024 * 1024, "without a limit: all of it"
    finally:
        server.shutdown()
