"""A fake Instagram Graph API for tests: real HTTP on 127.0.0.1, answering content publishing
as the Instagram Platform documents it.

Why a server and not a mock: publishing to Instagram is three calls with a wait between them,
and an answer lost on the last one may hide a published post; a server that keeps containers
and posts shows whether the channel publishes once, waits long enough, and finds its own post.

Usage::

    with FakeInstagram(images={CARD: jpeg_bytes()}) as fake:
        fake.fail("POST", "/media_publish", drop_after())  # published, the answer lost
        ...  # point the channel at fake.url, account IG_USER, token "ig-token"
        [post] = fake.posts

What it emulates (developers.facebook.com/docs/instagram-platform: content-publishing,
reference/ig-user/media, media_publish, content_publishing_limit, ig-container, instagram-media,
refresh_access_token, error-codes; graph-api/guides/error-handling):

- Any API version prefix (``/v25.0/…``) or none. The token from ``Authorization: Bearer`` or the
  ``access_token`` parameter; parameters from the query or a form or JSON body.
- ``POST /{ig-user}/media`` (``image_url``, ``caption``, ``alt_text``): Meta fetches the image at
  once; here ``images`` is the web it sees (an address not in it cannot be fetched). JPEG only,
  at most 8 MiB, aspect ratio 4:5 to 1.91:1 (read with Pillow). A caption over 2,200 characters,
  30 hashtags or 20 @-mentions is refused. The container is ``IN_PROGRESS`` for
  ``processing_polls`` status reads, then ``FINISHED`` (or ``ERROR`` with the subcode queued by
  `FakeInstagram.fail_container`); it expires after 24 hours.
- ``GET /{container}?fields=status_code,status``, ``POST /{ig-user}/media_publish`` (refused
  with 9007/2207027 until ``FINISHED``, with 9/2207042 once ``quota_total`` posts went out in 24
  hours), ``GET /{media}?fields=…`` (``permalink``, ``caption``, ``timestamp``…), ``GET
  /{ig-user}/media`` (the account's own posts, newest first), ``GET
  /{ig-user}/content_publishing_limit``, ``DELETE /{media}`` (Facebook Login with
  ``instagram_manage_contents`` only), ``GET /refresh_access_token`` (Instagram Login).
- Graph error bodies ``{"error": {"message", "type", "code", "error_subcode", "is_transient",
  "error_user_title", "error_user_msg", "fbtrace_id"}}``: 190 for an invalid token, 190/463 for
  an expired one, 10 for a missing permission, 100/33 for an object that is not there or not
  the account's.

Faults, queued per method and path suffix with `FakeInstagram.fail`: `graph_error` (answer with
a Graph error instead of processing), `throttled` (a rate limit with Meta's usage header),
`drop_after` (process, then close the connection unanswered), `hang`.

Not emulated: videos, reels, stories and carousels; user and product tags, locations; the
crawler's robots.txt; how Meta counts caption characters (code points here, [U]); messages in
other languages; the ``since`` parameter; app-level rate limits other than by `throttled`.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import secrets
import socket
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from PIL import Image

__all__ = [
    "IG_USER",
    "TOKEN",
    "FakeInstagram",
    "Fault",
    "Recorded",
    "drop_after",
    "graph_error",
    "hang",
    "jpeg_bytes",
    "throttled",
]

IG_USER = "17841400000000001"
TOKEN = "ig-token"
CAPTION_LIMIT = 2200
HASHTAG_LIMIT = 30
MENTION_LIMIT = 20
IMAGE_LIMIT = 8 * 1024 * 1024
RATIOS = (4 / 5, 1.91)
CONTAINER_LIFE = timedelta(hours=24)
TOKEN_LIFE = 60 * 24 * 3600  # seconds: a long-lived token, and each refreshed one
VERSION = re.compile(r"^/v\d+\.\d+(?=/)")

STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is complete.",
    "PUBLISHED": "Published: Media has been successfully published.",
    "EXPIRED": "Expired: Media has not been published within 24 hours.",
}


def jpeg_bytes(width: int = 1080, height: int = 1350, colour: str = "darkred") -> bytes:
    """An image Instagram takes (4:5, the card's shape)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


# -- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, consumed by one matching request."""

    kind: Literal["status", "hang", "drop_after"]
    code: int = 0
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def _error(
    message: str, code: int, subcode: int | None = None, *, transient: bool = False, title: str = "", user: str = ""
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["is_transient"] = transient
    if title or user:
        error["error_user_title"], error["error_user_msg"] = title, user
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return {"error": error}


def graph_error(
    status: int, code: int, subcode: int | None = None, message: str = "An error occurred", *,
    transient: bool = False, headers: Mapping[str, str] | None = None,
) -> Fault:  # fmt: skip
    """Answer ``status`` with a Graph error body instead of processing the request."""
    return Fault("status", status, _error(message, code, subcode, transient=transient), tuple((headers or {}).items()))


def throttled(code: int = 80002, minutes: int = 5) -> Fault:
    """A rate limit as Instagram answers it: code 80002 ("too many calls to this Instagram
    account"), or 4/17/32/613, with the business use case usage header saying when it ends."""
    usage = {IG_USER: [{"type": "instagram", "call_count": 100, "total_cputime": 3, "total_time": 5,
                        "estimated_time_to_regain_access": minutes}]}  # fmt: skip
    message = "There have been too many calls to this Instagram account. Wait a bit and try again."
    headers = {"X-Business-Use-Case-Usage": json.dumps(usage)}
    return graph_error(403, code, None, message, transient=True, headers=headers)


def hang(seconds: float) -> Fault:
    """Wait, then close the connection without processing or answering."""
    return Fault("hang", seconds=seconds)


def drop_after() -> Fault:
    """Process the request (publish the post), then close the connection without answering."""
    return Fault("drop_after")


# -- records ----------------------------------------------------------------------------------


@dataclass
class Recorded:
    """One request as it arrived: ``path`` without the version prefix (``version``, "v25.0", or
    None); ``token`` as sent."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    params: dict[str, str]
    token: str | None
    version: str | None = None
    status: int | None = None


@dataclass
class Container:
    id: str
    owner: str
    image_url: str
    caption: str
    alt_text: str | None
    created: datetime
    status_code: str = "IN_PROGRESS"
    polls_left: int = 0
    error: str | None = None  # the subcode it ends in, if it fails


@dataclass
class Media:
    id: str
    owner: str
    container: str
    caption: str
    alt_text: str | None
    image_url: str
    timestamp: datetime
    shortcode: str
    deleted: bool = False

    @property
    def permalink(self) -> str:
        return f"https://www.instagram.com/p/{self.shortcode}/"


@dataclass
class _Token:
    user: str
    issued: datetime
    expired: bool = False
    permissions: set[str] = field(default_factory=set)


class _Refusal(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def _not_found(object_id: str, verb: str = "get") -> _Refusal:
    return _Refusal(400, _error(
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation.", 100, 33,
    ))  # fmt: skip


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeInstagram:
    PERMISSIONS = frozenset({"instagram_basic", "instagram_content_publish", "instagram_manage_contents"})

    def __init__(
        self, *, login: Literal["facebook", "instagram"] = "facebook", images: Mapping[str, bytes] | None = None,
        processing_polls: int = 1, quota_total: int = 100, now: datetime | None = None,
    ) -> None:  # fmt: skip
        self.login = login
        self.images = dict(images or {})
        self.processing_polls = processing_polls
        self.quota_total = quota_total
        self.container_life = CONTAINER_LIFE  # unpublished containers expire after it
        self.clock = now  # None: the real time
        self.tokens: dict[str, _Token] = {TOKEN: _Token(IG_USER, self.now(), permissions=set(self.PERMISSIONS))}
        self.containers: dict[str, Container] = {}
        self.media: dict[str, Media] = {}
        self.requests: list[Recorded] = []
        self._faults: list[tuple[str, str, str, Fault]] = []
        self._container_errors: list[str] = []
        self._ids = iter(range(17_900_000_000_000_001, 18_000_000_000_000_000))
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- use ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    @property
    def posts(self) -> list[Media]:
        """The account's posts that are up, oldest first."""
        return [m for m in self.media.values() if not m.deleted]

    def add_token(self, token: str, *, issued: datetime | None = None, permissions: set[str] | None = None) -> None:
        self.tokens[token] = _Token(IG_USER, issued or self.now(), permissions=set(permissions or self.PERMISSIONS))

    def expire(self, token: str) -> None:
        self.tokens[token].expired = True

    def fail(self, method: str, path_suffix: str, fault: Fault, *, query: str = "") -> None:
        """The next request of ``method`` whose path (without version) ends in ``path_suffix``
        and whose query contains ``query`` meets ``fault``; several queue up in order."""
        with self._lock:
            self._faults.append((method.upper(), path_suffix, query, fault))

    def fail_container(self, subcode: str) -> None:
        """The next container ends in ERROR with this status (an error subcode)."""
        self._container_errors.append(subcode)

    def published_today(self) -> int:
        since = self.now() - timedelta(hours=24)
        return sum(1 for m in self.media.values() if m.timestamp > since)

    def start(self) -> FakeInstagram:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeInstagram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving --------------------------------------------------------------------------------

    def _fault_for(self, method: str, path: str, query: str) -> Fault | None:
        with self._lock:
            for index, (m, suffix, wanted, fault) in enumerate(self._faults):
                if m == method and path.endswith(suffix) and wanted in query:
                    del self._faults[index]
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                path = VERSION.sub("", parts.path)
                headers = {name.lower(): value for name, value in self.headers.items()}
                params = _params(parts.query, headers.get("content-type", ""), body)
                bearer = headers.get("authorization", "")
                token = (
                    bearer.removeprefix("Bearer ").strip()
                    if bearer.startswith("Bearer ")
                    else params.get("access_token")
                )
                prefix = VERSION.match(parts.path)
                version = prefix.group(0).strip("/") if prefix else None
                record = Recorded(self.command, path, parts.query, headers, body, params, token, version)
                with fake._lock:
                    fake.requests.append(record)
                fault = fake._fault_for(self.command, path, parts.query)
                if fault is not None and fault.kind == "hang":
                    fake._stopping.wait(fault.seconds)
                    self.close_connection = True
                    return
                if fault is not None and fault.kind == "status":
                    self._send(fault.code, fault.body, dict(fault.headers), record)
                    return
                try:
                    status, answer = fake._route(self.command, path, params, token)
                except _Refusal as refusal:
                    status, answer = refusal.status, refusal.body
                if fault is not None and fault.kind == "drop_after":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        # RST rather than FIN: the client sees a reset, not an empty answer.
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                self._send(status, answer, {}, record)

            def _send(self, status: int, answer: Any, extra: dict[str, str], record: Recorded) -> None:
                data = json.dumps(answer).encode()
                record.status = status
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    # -- the API ----------------------------------------------------------------------------------

    def _user(self, token: str | None) -> _Token:
        known = self.tokens.get(token or "")
        if known is None:
            raise _Refusal(400, _error("Invalid OAuth access token - Cannot parse access token", 190))
        if known.expired:
            when = self.now().strftime("%A, %d-%b-%y %H:%M:%S PST")
            raise _Refusal(400, _error(f"Error validating access token: Session has expired on {when}.", 190, 463))
        return known

    def _route(self, method: str, path: str, params: dict[str, str], token: str | None) -> tuple[int, Any]:
        if path == "/refresh_access_token" and method == "GET":
            return self._refresh(params)
        user = self._user(token)
        pieces = [p for p in path.split("/") if p]
        with self._lock:
            if method == "POST" and pieces[-1:] == ["media"] and len(pieces) == 2:
                return self._create(user, pieces[0], params)
            if method == "POST" and pieces[-1:] == ["media_publish"] and len(pieces) == 2:
                return self._publish(user, pieces[0], params)
            if method == "GET" and len(pieces) == 2 and pieces[1] == "media":
                return self._list(user, pieces[0], params)
            if method == "GET" and len(pieces) == 2 and pieces[1] == "content_publishing_limit":
                return self._quota(user, pieces[0])
            if method == "GET" and len(pieces) == 1:
                return self._read(user, pieces[0], params)
            if method == "DELETE" and len(pieces) == 1:
                return self._delete(user, pieces[0])
        raise _Refusal(400, _error(f"Unknown path components: {path}", 2500))

    def _own(self, user: _Token, ig_user: str, verb: str = "post") -> None:
        if ig_user != user.user:
            raise _not_found(ig_user, verb)
        if "instagram_content_publish" not in user.permissions and verb == "post":
            raise _Refusal(403, _error("(#10) Application does not have permission for this action", 10))

    def _create(self, user: _Token, ig_user: str, p: dict[str, str]) -> tuple[int, Any]:
        self._own(user, ig_user)
        image_url = p.get("image_url")
        if not image_url:
            raise _Refusal(400, _error("(#100) The parameter image_url is required", 100))
        caption = p.get("caption", "")
        if (
            utf16(caption) > CAPTION_LIMIT
            or len(re.findall(r"#\w", caption)) > HASHTAG_LIMIT
            or len(re.findall(r"(?<!\w)@\w", caption)) > MENTION_LIMIT
        ):
            raise _Refusal(400, _error(
                "The caption is too long.", 36004, 2207010, title="Caption too long",
                user="The caption exceeds 2,200 characters, 30 hashtags or 20 @ tags.",
            ))  # fmt: skip
        self._check_image(image_url)
        container = Container(
            id=self._id(), owner=user.user, image_url=image_url, caption=caption, alt_text=p.get("alt_text"),
            created=self.now(), polls_left=self.processing_polls,
            error=self._container_errors.pop(0) if self._container_errors else None,
        )  # fmt: skip
        self.containers[container.id] = container
        return 200, {"id": container.id}

    def _check_image(self, url: str) -> None:
        data = self.images.get(url)
        if data is None:
            raise _Refusal(400, _error(
                "Only photo or video can be accepted as media type.", 9004, 2207052,
                title="Media download has failed.", user="The media could not be fetched from this uri: " + url,
            ))  # fmt: skip
        if len(data) > IMAGE_LIMIT:
            raise _Refusal(400, _error(
                "The image size is too large.", 36000, 2207004, title="Image size too large",
                user="The image is too large to download. It should be less than 8 MiB.",
            ))  # fmt: skip
        try:
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
        except OSError:
            kind, width, height = None, 1, 1
        if kind != "JPEG":
            raise _Refusal(400, _error(
                "The image format is not supported.", 36001, 2207005, title="Unsupported format",
                user="The image format is not supported. Supported formats are: JPEG",
            ))  # fmt: skip
        if not RATIOS[0] - 0.001 <= width / height <= RATIOS[1] + 0.001:
            raise _Refusal(400, _error(
                f"The submitted image with aspect ratio ('{width}/{height}') cannot be published.", 36003, 2207009,
                title="Invalid aspect ratio", user="Please submit an image with a valid aspect ratio.",
            ))  # fmt: skip

    def _container_state(self, container: Container) -> None:
        """A status read moves processing on; 24 hours unpublished expire it."""
        if container.status_code == "IN_PROGRESS":
            if container.polls_left > 0:
                container.polls_left -= 1
            else:
                container.status_code = "ERROR" if container.error else "FINISHED"
        if (
            container.status_code in {"IN_PROGRESS", "FINISHED"}
            and self.now() - container.created > self.container_life
        ):
            container.status_code = "EXPIRED"

    def _publish(self, user: _Token, ig_user: str, p: dict[str, str]) -> tuple[int, Any]:
        self._own(user, ig_user)
        container = self.containers.get(p.get("creation_id", ""))
        if container is None or container.owner != user.user:
            raise _Refusal(400, _error(
                f"The media with id {p.get('creation_id')} cannot be found.", 24, 2207006,
                title="Media not found", user="The media cannot be found.",
            ))  # fmt: skip
        if self.now() - container.created > self.container_life:
            container.status_code = "EXPIRED"
        if container.status_code in {"PUBLISHED", "EXPIRED"}:
            raise _Refusal(400, _error(
                f"The media builder with creation id = {container.id} does not exist or has been expired.",
                24, 2207008, title="Media builder expired",
            ))  # fmt: skip
        if container.status_code != "FINISHED":
            raise _Refusal(400, _error(
                "Media ID is not available", 9007, 2207027, title="Media not ready",
                user="The media is not ready for publishing, please wait for a moment",
            ))  # fmt: skip
        if self.published_today() >= self.quota_total:
            raise _Refusal(400, _error(
                "Application request limit reached", 9, 2207042, title="Maximum posts reached",
                user="You reached maximum number of posts that is allowed to be published by Content Publishing API.",
            ))  # fmt: skip
        container.status_code = "PUBLISHED"
        media = Media(
            id=self._id(), owner=user.user, container=container.id, caption=container.caption,
            alt_text=container.alt_text, image_url=container.image_url, timestamp=self.now(),
            shortcode=secrets.token_urlsafe(8).replace("-", "A").replace("_", "B"),
        )  # fmt: skip
        self.media[media.id] = media
        return 200, {"id": media.id}

    def _read(self, user: _Token, object_id: str, p: dict[str, str]) -> tuple[int, Any]:
        fields = [f for f in p.get("fields", "id").split(",") if f]
        container = self.containers.get(object_id)
        if container is not None and container.owner == user.user:
            self._container_state(container)
            values = {
                "id": container.id,
                "status_code": container.status_code,
                "status": container.error if container.status_code == "ERROR" else STATUS_TEXT[container.status_code],
            }
            return 200, {name: values[name] for name in fields if name in values} | {"id": container.id}
        media = self.media.get(object_id)
        if media is None or media.deleted or media.owner != user.user:
            raise _not_found(object_id)
        return 200, {name: value for name, value in self._fields(media).items() if name in fields} | {"id": media.id}

    @staticmethod
    def _fields(media: Media) -> dict[str, Any]:
        return {
            "id": media.id,
            "caption": media.caption,
            "media_type": "IMAGE",
            "media_url": media.image_url,
            "permalink": media.permalink,
            "shortcode": media.shortcode,
            "timestamp": media.timestamp.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "username": "lk_beispiel",
        }

    def _list(self, user: _Token, ig_user: str, p: dict[str, str]) -> tuple[int, Any]:
        self._own(user, ig_user, "get")
        fields = [f for f in p.get("fields", "id").split(",") if f]
        limit = int(p.get("limit") or 25)
        newest = sorted(self.posts, key=lambda m: m.timestamp, reverse=True)[:limit]
        data = [{k: v for k, v in self._fields(m).items() if k in fields} | {"id": m.id} for m in newest]
        return 200, {"data": data, "paging": {"cursors": {"before": "QVFIU", "after": "QVFIU"}}}

    def _quota(self, user: _Token, ig_user: str) -> tuple[int, Any]:
        self._own(user, ig_user, "get")
        entry = {"quota_usage": self.published_today(), "config": {"quota_total": self.quota_total,
                                                                    "quota_duration": 86400}}  # fmt: skip
        return 200, {"data": [entry]}

    def _delete(self, user: _Token, object_id: str) -> tuple[int, Any]:
        media = self.media.get(object_id)
        if self.login == "instagram" or media is None or media.deleted or media.owner != user.user:
            raise _not_found(object_id, "delete")
        if "instagram_manage_contents" not in user.permissions:
            raise _Refusal(403, _error("(#10) Application does not have permission for this action", 10))
        media.deleted = True
        return 200, {"success": True}

    def _refresh(self, p: dict[str, str]) -> tuple[int, Any]:
        if self.login != "instagram" or p.get("grant_type") != "ig_refresh_token":
            raise _Refusal(400, _error("Unsupported grant_type", 100))
        known = self._user(p.get("access_token"))
        if self.now() - known.issued < timedelta(hours=24):
            # The documented rule ("at least 24 hours old"); Meta's exact answer is not documented [U].
            raise _Refusal(400, _error("The access token must be at least 24 hours old to be refreshed", 100))
        fresh = "IGAA" + secrets.token_urlsafe(24)
        self.tokens[fresh] = _Token(known.user, self.now(), permissions=set(known.permissions))
        return 200, {"access_token": fresh, "token_type": "bearer", "expires_in": TOKEN_LIFE}

    def _id(self) -> str:
        return str(next(self._ids))


def _params(query: str, content_type: str, body: bytes) -> dict[str, str]:
    """Graph reads parameters from the query and the body alike (form or JSON)."""
    params = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded" and body:
        params |= {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    elif kind == "application/json" and body:
        loaded = json.loads(body)
        if isinstance(loaded, dict):
            params |= {k: v if isinstance(v, str) else json.dumps(v) for k, v in loaded.items()}
    return params
