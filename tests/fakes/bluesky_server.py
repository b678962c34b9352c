"""A fake Bluesky PDS for tests: real HTTP on 127.0.0.1, answering like bluesky-social/atproto's
reference PDS as of 2026-08 (packages/pds, packages/xrpc-server, the lexicons of that commit).

Why a server: the channel must keep one session through expiring tokens, rotating refresh tokens
and a sign-in limit of 30 per 5 minutes, and post exactly once through lost answers; only a
server that keeps state, as the PDS does, can show that. Usage::

    with FakeBluesky() as fake:
        fake.fail("com.atproto.repo.createRecord", drop_after())  # created, the answer lost
        ...  # point the channel at fake.url, handle fake.handle, app password fake.app_password
        assert len(fake.posts) == 1

What it emulates, as the PDS does it:

- sessions: ``createSession`` (handle or DID and the app password; a wrong one is 401
  ``AuthenticationRequired``; the account's main password with email sign-in codes is 401
  ``AuthFactorTokenRequired``), limited to ``session_limit`` per 5 minutes (429
  ``RateLimitExceeded`` with ``RateLimit-Limit/-Remaining/-Reset/-Policy``, the reset in epoch
  seconds); ``refreshSession`` with the refresh token, which hands out a new pair and retires the
  old refresh token after a grace (within it, the old one gives the same next one); ``getSession``.
  Tokens are JWTs (unsigned here) with ``exp``; an expired or retired access token is 400
  ``ExpiredToken``, an unknown one 400 ``InvalidToken``, none 401 ``AuthMissing``;
- records: ``createRecord`` (own repo only; ``app.bsky.feed.post`` validated as its lexicon says:
  text at most 300 graphemes and 3,000 UTF-8 bytes, ``langs`` at most 3, facets' byte slices,
  ``reply`` with root and parent strong refs, at most 4 images each with ``alt`` and a blob
  uploaded before; an rkey must be a TID); a second create at the same rkey is 500
  ``InternalServerError`` (today's PDS: an MST error) or, with ``duplicate="explicit"``, 400
  ``RecordAlreadyExists`` (atproto PR #4728); ``getRecord`` (400 ``RecordNotFound``),
  ``putRecord`` with ``swapRecord`` (400 ``InvalidSwap``), ``deleteRecord`` (a missing record is
  no error);
- ``uploadBlob`` (the body as it is, up to 5 MB: 413 ``PayloadTooLarge`` beyond);
- error bodies ``{"error", "message"}``; a 500 says only "Internal Server Error".

Faults are queued per method (NSID) with `FakeBluesky.fail`: `status`, `drop_after` (do the work,
send no answer), `hang`. What it does not emulate: the AppView (feeds, threads, profiles of
others), DIDs and handles resolution, OAuth, image processing, the write-points rate limit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import regex

HANDLE = "lk-beispiel.bsky.social"
DID = "did:plc:lkbeispiel4zq7v3xw2nqy5ta"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
MAIN_PASSWORD = "Geheim!2026"  # the account's own password, with sign-in codes by email
ACCESS_LIFETIME = 2 * 3600  # seconds, as the PDS (auth.ts: 120mins)
REFRESH_LIFETIME = 90 * 86400
SESSION_WINDOW = 300  # createSession: 30 per 5 minutes per handle
BLOB_LIMIT = 5 * 1024 * 1024  # the PDS's blobUploadLimit default
TID = regex.compile(r"\A[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}\Z")
GRAPHEME = regex.compile(r"\X")


# -- faults -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "drop_after", "hang"]
    code: int = 0
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
    """Answer ``code`` instead of doing the work; ``body`` a dict (JSON) or str (a proxy's page)."""
    return Fault("status", code=code, body=body, headers=tuple((headers or {}).items()))


def drop_after() -> Fault:
    """Do the work (create the record), then close the connection unanswered."""
    return Fault("drop_after")


def hang(seconds: float) -> Fault:
    """Wait, then close the connection without doing anything."""
    return Fault("hang", seconds=seconds)


# -- what tests inspect ---------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    nsid: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Record:
    uri: str
    cid: str
    value: dict[str, Any]


@dataclass
class _Refresh:
    expires: float
    next: str | None = None  # the refresh token it was exchanged for
    retired_at: float | None = None


class _Refusal(Exception):
    def __init__(self, code: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.error, self.message, self.headers = code, error, message, headers or {}


def tid(micros: int, clock_id: int = 0) -> str:
    """A TID as the PDS makes one for a record without a given key."""
    value = (micros << 10) | (clock_id & 0x3FF)
    return "".join("234567abcdefghijklmnopqrstuvwxyz"[(value >> shift) & 0x1F] for shift in range(60, -1, -5))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cid_of(data: bytes) -> str:
    """A CID-like name for content (CIDv1 base32 starts "bafyrei" for dag-cbor, "bafkrei" for raw)."""
    return "bafyrei" + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")[:52]


class FakeBluesky:
    def __init__(
        self,
        *,
        duplicate: Literal["500", "explicit"] = "500",
        session_limit: int = 30,
        refresh_grace: float = 2 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.handle, self.did, self.app_password = HANDLE, DID, APP_PASSWORD
        self.duplicate = duplicate
        self.session_limit = session_limit
        self.refresh_grace = refresh_grace
        self.clock = clock
        self.records: dict[tuple[str, str], Record] = {}
        self.blobs: dict[str, tuple[str, int]] = {}  # cid -> (mime type, size)
        self.requests: list[Recorded] = []
        self.sessions_created = 0
        self._sign_ins: list[float] = []
        self._access: dict[str, float] = {}  # token -> exp (epoch seconds)
        self._refresh: dict[str, _Refresh] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._serial = 0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- use ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeBluesky:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail(self, nsid: str, *faults: Fault) -> None:
        """Queue misbehaviours for the next calls of ``nsid``, one each."""
        with self._lock:
            self._faults.setdefault(nsid, []).extend(faults)

    def expire_access_tokens(self) -> None:
        """Every access token handed out so far has run out (as two hours later)."""
        with self._lock:
            for token in self._access:
                self._access[token] = 0.0

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token is gone (the app password was revoked, or 90 days passed)."""
        with self._lock:
            self._refresh.clear()

    def calls(self, nsid: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.nsid == nsid]

    @property
    def posts(self) -> list[Record]:
        with self._lock:
            return [r for (collection, _), r in self.records.items() if collection == "app.bsky.feed.post"]

    def profile(self) -> dict[str, Any] | None:
        with self._lock:
            record = self.records.get(("app.bsky.actor.profile", "self"))
            return record.value if record else None

    def put_record(self, collection: str, rkey: str, value: dict[str, Any]) -> Record:
        """A record written by someone else (a person in the app)."""
        with self._lock:
            return self._write(collection, rkey, value)

    # -- tokens -------------------------------------------------------------------------------

    def _jwt(self, kind: str, lifetime: float) -> tuple[str, float]:
        self._serial += 1
        exp = self.clock() + lifetime
        claims = {"scope": kind, "sub": self.did, "aud": "did:web:pds.example", "exp": int(exp),
                  "iat": int(self.clock()), "jti": f"{kind}-{self._serial}"}  # fmt: skip
        header = {"typ": "refresh+jwt" if kind == "refresh" else "at+jwt", "alg": "ES256K"}
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.c2lnbmF0dXJl", exp

    def _pair(self) -> dict[str, Any]:
        access, access_exp = self._jwt("com.atproto.appPass", ACCESS_LIFETIME)
        refresh, refresh_exp = self._jwt("refresh", REFRESH_LIFETIME)
        self._access[access] = access_exp
        self._refresh[refresh] = _Refresh(refresh_exp)
        return {"accessJwt": access, "refreshJwt": refresh, "handle": self.handle, "did": self.did,
                "active": True, "emailConfirmed": True}  # fmt: skip

    def _bearer(self, headers: dict[str, str]) -> str:
        value = headers.get("authorization", "")
        if not value.startswith("Bearer ") or not value[7:]:
            raise _Refusal(401, "AuthMissing", "Authentication Required")
        return value[7:]

    def _authorized(self, headers: dict[str, str]) -> None:
        token = self._bearer(headers)
        if token in self._refresh:
            raise _Refusal(400, "InvalidToken", "Invalid token type")
        exp = self._access.get(token)
        if exp is None:
            raise _Refusal(400, "InvalidToken", "Token could not be verified")
        if exp <= self.clock():
            raise _Refusal(400, "ExpiredToken", "Token has expired")

    # -- methods ------------------------------------------------------------------------------

    def _create_session(self, call: Recorded) -> dict[str, Any]:
        body = _body(call)
        identifier, password = str(body.get("identifier", "")), str(body.get("password", ""))
        now = self.clock()
        self._sign_ins = [t for t in self._sign_ins if t > now - SESSION_WINDOW]
        reset = int((self._sign_ins[0] if self._sign_ins else now) + SESSION_WINDOW)
        if len(self._sign_ins) >= self.session_limit:
            raise _Refusal(429, "RateLimitExceeded", "Rate Limit Exceeded", self._limit_headers(0, reset))
        self._sign_ins.append(now)
        if identifier.lower() not in {self.handle, self.did}:
            raise _Refusal(401, "AuthenticationRequired", "Invalid identifier or password")
        if password == MAIN_PASSWORD:
            raise _Refusal(401, "AuthFactorTokenRequired", "A sign in code has been sent to your email address")
        if password != self.app_password:
            raise _Refusal(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        return self._pair()

    def _limit_headers(self, remaining: int, reset: int) -> dict[str, str]:
        limit = str(self.session_limit)
        return {"RateLimit-Limit": limit, "RateLimit-Remaining": str(remaining), "RateLimit-Reset": str(reset),
                "RateLimit-Policy": f"{limit};w={SESSION_WINDOW}"}  # fmt: skip

    def _refresh_session(self, call: Recorded) -> dict[str, Any]:
        token = self._bearer(call.headers)
        if token in self._access:
            raise _Refusal(400, "InvalidToken", "Invalid token type")
        held = self._refresh.get(token)
        now = self.clock()
        if held is None:
            raise _Refusal(400, "ExpiredToken", "Token has been revoked")
        if held.expires <= now or (held.retired_at is not None and held.retired_at + self.refresh_grace <= now):
            raise _Refusal(400, "ExpiredToken", "Token has expired")
        if held.next is not None and held.next in self._refresh:
            # Within the grace: the same next refresh token (accountManager.rotateRefreshToken).
            access, access_exp = self._jwt("com.atproto.appPass", ACCESS_LIFETIME)
            self._access[access] = access_exp
            return {"accessJwt": access, "refreshJwt": held.next, "handle": self.handle, "did": self.did}
        pair = self._pair()
        held.next, held.retired_at = pair["refreshJwt"], now
        return pair

    def _get_session(self, call: Recorded) -> dict[str, Any]:
        self._authorized(call.headers)
        return {"handle": self.handle, "did": self.did, "active": True}

    def _own_repo(self, repo: object) -> None:
        if repo not in {self.did, self.handle}:
            raise _Refusal(401, "AuthenticationRequired", "Authentication Required")

    def _create_record(self, call: Recorded) -> dict[str, Any]:
        self._authorized(call.headers)
        body = _body(call)
        self._own_repo(body.get("repo"))
        collection, record = str(body.get("collection", "")), body.get("record")
        if not isinstance(record, dict) or record.get("$type") != collection:
            raise _Refusal(400, "InvalidRequest", "Invalid $type: must match collection")
        if collection == "app.bsky.feed.post":
            self._valid_post(record)
        rkey = body.get("rkey")
        if rkey is None:
            self._serial += 1
            rkey = tid(int(self.clock() * 1_000_000), self._serial)
        elif collection == "app.bsky.feed.post" and not TID.match(str(rkey)):
            raise _Refusal(400, "InvalidRequest", f"Invalid record key: {rkey}")
        if (collection, str(rkey)) in self.records:
            if self.duplicate == "explicit":
                path = f"{collection}/{rkey}"
                raise _Refusal(400, "RecordAlreadyExists", f"Record already exists: {path}")
            # mst.ts: "There is already a value at key" -- an Error, answered as a bare 500.
            raise _Refusal(500, "InternalServerError", "Internal Server Error")
        written = self._write(collection, str(rkey), record)
        return {"uri": written.uri, "cid": written.cid, "commit": {"cid": cid_of(b"commit"), "rev": "3m"},
                "validationStatus": "valid"}  # fmt: skip

    def _valid_post(self, record: dict[str, Any]) -> None:
        def invalid(reason: str) -> _Refusal:
            return _Refusal(400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {reason}")

        text = record.get("text")
        if not isinstance(text, str) or not isinstance(record.get("createdAt"), str):
            raise invalid('Record must have the property "text"')
        if len(text.encode()) > 3000:
            raise invalid("Record/text must not be longer than 3000 characters")
        if len(GRAPHEME.findall(text)) > 300:
            raise invalid("Record/text must not be longer than 300 graphemes")
        langs = record.get("langs", [])
        if not isinstance(langs, list) or len(langs) > 3:
            raise invalid("Record/langs must not have more than 3 elements")
        size = len(text.encode())
        for number, facet in enumerate(record.get("facets", [])):
            index = facet.get("index", {})
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= size):
                raise invalid(f"Record/facets/{number}/index must be a byte slice of the text")
        reply = record.get("reply")
        if reply is not None:
            for part in ("root", "parent"):
                ref = reply.get(part) if isinstance(reply, dict) else None
                if not (isinstance(ref, dict) and isinstance(ref.get("uri"), str) and isinstance(ref.get("cid"), str)):
                    raise invalid(f'Record/reply must have the property "{part}" with uri and cid')
        embed = record.get("embed") or {}
        if embed.get("$type") == "app.bsky.embed.images":
            images = embed.get("images", [])
            if len(images) > 4:
                raise invalid("Record/embed/images must not have more than 4 elements")
            for number, image in enumerate(images):
                if "alt" not in image:
                    raise invalid(f'Record/embed/images/{number} must have the property "alt"')
                blob = image.get("image", {})
                ref = blob.get("ref", {}).get("$link") if isinstance(blob, dict) else None
                if ref not in self.blobs:
                    raise _Refusal(400, "BlobNotFound", f"Could not find blob: {ref}")
        elif embed.get("$type") == "app.bsky.embed.external":
            external = embed.get("external", {})
            for name in ("uri", "title", "description"):
                if not isinstance(external.get(name), str):
                    raise invalid(f'Record/embed/external must have the property "{name}"')

    def _write(self, collection: str, rkey: str, value: dict[str, Any]) -> Record:
        uri = f"at://{self.did}/{collection}/{rkey}"
        record = Record(uri, cid_of(json.dumps(value, sort_keys=True).encode() + uri.encode()), value)
        self.records[(collection, rkey)] = record
        return record

    def _get_record(self, call: Recorded) -> dict[str, Any]:
        repo, collection, rkey = (call.params.get(k, "") for k in ("repo", "collection", "rkey"))
        record = self.records.get((collection, rkey)) if repo in {self.did, self.handle} else None
        if record is None:
            uri = f"at://{repo}/{collection}/{rkey}"
            raise _Refusal(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": record.uri, "cid": record.cid, "value": record.value}

    def _put_record(self, call: Recorded) -> dict[str, Any]:
        self._authorized(call.headers)
        body = _body(call)
        self._own_repo(body.get("repo"))
        collection, rkey, value = str(body["collection"]), str(body["rkey"]), body["record"]
        current = self.records.get((collection, rkey))
        if "swapRecord" in body and (current.cid if current else None) != body["swapRecord"]:
            raise _Refusal(400, "InvalidSwap", f"Record was at {current.cid if current else 'null'}")
        written = self._write(collection, rkey, value)
        return {"uri": written.uri, "cid": written.cid, "validationStatus": "valid"}

    def _delete_record(self, call: Recorded) -> dict[str, Any]:
        self._authorized(call.headers)
        body = _body(call)
        self._own_repo(body.get("repo"))
        self.records.pop((str(body["collection"]), str(body["rkey"])), None)  # a missing one: no-op
        return {}

    def _upload_blob(self, call: Recorded) -> dict[str, Any]:
        self._authorized(call.headers)
        if len(call.body) > BLOB_LIMIT:
            raise _Refusal(413, "PayloadTooLarge", "request entity too large")
        mime = call.headers.get("content-type", "application/octet-stream")
        cid = "bafkrei" + cid_of(call.body)[7:]
        self.blobs[cid] = (mime, len(call.body))
        return {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(call.body)}}

    METHODS: dict[tuple[str, str], str] = {
        ("POST", "com.atproto.server.createSession"): "_create_session",
        ("POST", "com.atproto.server.refreshSession"): "_refresh_session",
        ("GET", "com.atproto.server.getSession"): "_get_session",
        ("POST", "com.atproto.repo.createRecord"): "_create_record",
        ("GET", "com.atproto.repo.getRecord"): "_get_record",
        ("POST", "com.atproto.repo.putRecord"): "_put_record",
        ("POST", "com.atproto.repo.deleteRecord"): "_delete_record",
        ("POST", "com.atproto.repo.uploadBlob"): "_upload_blob",
    }

    # -- serving ------------------------------------------------------------------------------

    def _answer(self, call: Recorded) -> tuple[int, bytes, dict[str, str], Fault | None]:
        with self._lock:
            self.requests.append(call)
            queued = self._faults.get(call.nsid)
            fault = queued.pop(0) if queued else None
            if fault is not None and fault.kind == "hang":
                return 0, b"", {}, fault
            if fault is not None and fault.kind == "status":
                body = fault.body if fault.body is not None else {"error": "InternalServerError",
                                                                  "message": "Internal Server Error"}  # fmt: skip
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                kind = "text/html" if isinstance(body, str) else "application/json"
                return fault.code, raw, {"Content-Type": kind, **dict(fault.headers)}, fault
            handler = self.METHODS.get((call.method, call.nsid))
            try:
                if handler is None:
                    raise _Refusal(501, "MethodNotImplemented", "Method Not Implemented")
                answer = getattr(self, handler)(call)
            except _Refusal as refusal:
                body = json.dumps({"error": refusal.error, "message": refusal.message}).encode()
                return refusal.code, body, {"Content-Type": "application/json", **refusal.headers}, fault
            headers = {"Content-Type": "application/json"}
            if call.nsid == "com.atproto.server.createSession":
                reset = int(self._sign_ins[0] + SESSION_WINDOW)
                headers |= self._limit_headers(self.session_limit - len(self._sign_ins), reset)
            return 200, json.dumps(answer).encode(), headers, fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                params = {key: values[0] for key, values in parse_qs(parts.query).items()}
                call = Recorded(self.command, parts.path.removeprefix("/xrpc/"), params,
                                {k.lower(): v for k, v in self.headers.items()}, body)  # fmt: skip
                code, raw, headers, fault = fake._answer(call)
                if fault is not None and fault.kind == "hang":
                    fake._stopping.wait(fault.seconds)
                    self.close_connection = True
                    return
                if fault is not None and fault.kind == "drop_after":
                    self.close_connection = True
                    return
                call.status = code
                try:
                    self.send_response(code)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _body(call: Recorded) -> dict[str, Any]:
    try:
        body = json.loads(call.body or b"{}")
    except ValueError:
        raise _Refusal(400, "InvalidRequest", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _Refusal(400, "InvalidRequest", "Input must be an object")
    return body


__all__ = ["APP_PASSWORD", "DID", "HANDLE", "MAIN_PASSWORD", "FakeBluesky", "Fault", "Record", "Recorded",
           "cid_of", "drop_after", "hang", "status", "tid"]  # fmt: skip
