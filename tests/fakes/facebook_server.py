"""A fake Facebook Graph API for tests: real HTTP on 127.0.0.1, answering a Page's calls as the
Graph API documents them.

Why a server and not a mock: the Facebook channel must post each warning once through lost
answers, rate limits and tokens that run out, and no platform is reachable from the tests. A
server that checks every call as Facebook does (token, permission, app secret proof, version)
shows whether the first real token would work. Shapes follow Meta's docs (pages-api/posts,
graph-api/guides/error-handling, overview/rate-limiting, reference/debug_token,
business-management-apis/system-users, reference/page/photos, changelog/versions); no recording
of a real Page was available. Error messages are worded like Facebook's, not verbatim.

Usage::

    with FakeFacebook() as fake:
        fake.fail("POST", f"/{PAGE_ID}/feed", drop_after())  # posted, the answer lost
        ...  # point the channel at fake.url, token PAGE_TOKEN, page_id PAGE_ID
        [post] = fake.posts

What it does, under ``/{version}/…``:

- versions: a call to a version before ``oldest`` is answered by ``oldest``, as Facebook answers
  calls to a retired version with the oldest one it still offers; every answer names the version
  that answered in ``facebook-api-version``.
- the token, from ``Authorization: Bearer …`` or ``access_token``: none → 400 code 104; unknown
  → 400 code 190; expired → 400 code 190/463; revoked → 400 code 190/467 (with
  ``WWW-Authenticate``). With ``app_secret`` and ``require_proof``, every call with a Page or
  user token needs ``appsecret_proof`` (HMAC-SHA256 of the token with the app secret), else 400
  code 100.
- ``POST /{page}/feed`` (``message``, ``link``, ``attached_media[n]``), ``POST /{page}/photos``
  (``url``, ``caption``, ``alt_text_custom``, ``published``): the Page's own token with
  ``pages_manage_posts`` and ``pages_read_engagement``, else 403 code 200. The same message as the
  Page's latest post was posted with (edits aside) → 400 code 506. A ``link`` in ``unreadable`` →
  400 code 1609005.
- ``POST /{post}`` (``message``, ``is_pinned``: one pinned post per Page), ``DELETE /{post or
  photo}``; an id it does not know → 400 code 100/33.
- ``GET /{page}/published_posts`` (the Page's own posts, newest first; ``since``, ``limit``,
  ``fields``), ``GET /me`` and ``GET /{page}`` (``id``, ``name``).
- ``GET /debug_token`` (with the app token ``{app_id}|{app_secret}``) and ``GET
  /oauth/access_token`` with ``grant_type=fb_exchange_token``: a new token, 60 days with
  ``set_token_expires_in_60_days``; the old one lives on to its own end.
- every Page call carries ``x-business-use-case-usage``; `throttle` makes the Page's calls answer
  code 80001 with ``estimated_time_to_regain_access`` (minutes) until `unthrottle`; `block`
  makes posting answer code 368.

Faults, queued per method and path prefix (without the version) with `FakeFacebook.fail`:
`status` (answer this instead), `drop_after` (process, then close unanswered), `hang`.

Not emulated: fetching photo URLs (every ``url`` is taken), link cards, videos, scheduling,
comments, insights and everything else a Page has; rate limits by count and CPU time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs

from fakes.http import Answer, FakeServer, Handler, Refusal, read

__all__ = [
    "APP_ID",
    "APP_SECRET",
    "PAGE_ID",
    "PAGE_TOKEN",
    "SCOPES",
    "FakeFacebook",
    "Fault",
    "Recorded",
    "Token",
    "drop_after",
    "graph_error",
    "hang",
    "status",
]

PAGE_ID = "109876543210"
PAGE_NAME = "Landkreis Beispiel"
PAGE_TOKEN = "EAAGpage-token-of-the-page"
APP_ID = "4455667788"
APP_SECRET = "app-secret-of-the-meta-app"
SCOPES = ("pages_show_list", "pages_read_engagement", "pages_manage_posts")
VERSION = re.compile(r"^/(v(\d+)\.(\d+))(/.*)$")


@dataclass
class Token:
    """An access token Facebook gave out: whose it is, what it may, when it ends (None: never)."""

    owner: str
    kind: Literal["PAGE", "SYSTEM_USER", "USER"] = "PAGE"
    scopes: tuple[str, ...] = SCOPES
    expires_at: datetime | None = None
    revoked: bool = False
    issued_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "drop_after", "hang"]
    code: int = 0
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def status(code: int, body: Any, headers: dict[str, str] | None = None) -> Fault:
    """Answer ``code`` with ``body`` (JSON) and ``headers`` instead of processing."""
    return Fault("status", code=code, body=body, headers=tuple((headers or {}).items()))


def drop_after() -> Fault:
    """Process the request, then close the connection without answering: the ambiguous write."""
    return Fault("drop_after")


def hang(seconds: float) -> Fault:
    """Wait, then close the connection without processing or answering."""
    return Fault("hang", seconds=seconds)


def graph_error(code: int, message: str, subcode: int | None = None, **more: Any) -> dict[str, Any]:
    """A Graph API error body, as Facebook sends them."""
    error: dict[str, Any] = {"message": message, "type": more.pop("type", "OAuthException"), "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(more)
    error["fbtrace_id"] = "A" + hashlib.sha256(f"{code}{message}".encode()).hexdigest()[:10]
    return {"error": error}


@dataclass
class Recorded:
    """One request as it arrived; ``status`` is the code answered (None: no answer was sent)."""

    method: str
    path: str  # without the version
    version: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]  # names in lower case
    at: datetime
    status: int | None = None

    @property
    def target(self) -> str:
        """Path and query as sent (the query re-encoded), for the send-only check."""
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"/{self.version}{self.path}" + (f"?{query}" if query else "")


@dataclass
class _Post:
    id: str
    message: str
    created: datetime
    link: str | None = None
    photos: list[str] = field(default_factory=list)
    pinned: bool = False
    posted: str = ""  # the message as it was posted, before any edit

    def __post_init__(self) -> None:
        self.posted = self.posted or self.message


@dataclass
class _Photo:
    id: str
    url: str
    alt: str | None
    caption: str | None
    published: bool


_Answer = Answer


class _Refusal(Refusal):
    def __init__(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body["error"]["message"])
        self.answer = _json(code, body, headers)


def _json(code: int, body: Any, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(
        code, json.dumps(body).encode(), {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
    )


def _gone(method: str, thing: str) -> _Refusal:
    message = (
        f"Unsupported {method.lower()} request. Object with ID '{thing}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation."
    )
    return _Refusal(400, graph_error(100, message, subcode=33, type="GraphMethodException"))


class FakeFacebook(FakeServer):
    """The Graph API for one Page (see the module docstring). Thread-safe: requests are
    processed under one lock; the inspection properties return copies."""

    name = "fake-facebook"
    methods = frozenset({"GET", "POST", "DELETE"})

    def __init__(
        self,
        *,
        page_id: str = PAGE_ID,
        page_name: str = PAGE_NAME,
        tokens: dict[str, Token] | None = None,
        oldest: str = "v22.0",
        app_id: str = APP_ID,
        app_secret: str = APP_SECRET,
        require_proof: bool = False,
        unreadable: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.page_id, self.page_name = page_id, page_name
        self.tokens = dict(tokens if tokens is not None else {PAGE_TOKEN: Token(owner=page_id)})
        self.oldest = oldest
        self.app_id, self.app_secret, self.require_proof = app_id, app_secret, require_proof
        self.unreadable = set(unreadable)
        self._posts: dict[str, _Post] = {}
        self._photos: dict[str, _Photo] = {}
        self._last_id = 1_000_000
        self._requests: list[Recorded] = []
        self._throttled: float | None = None  # minutes until the Page may call again
        self._blocked = False
        self._calls = 0

    @property
    def url(self) -> str:
        """The Graph API's base address, ``http://127.0.0.1:<port>`` (api_base)."""
        return self._origin("the fake Graph API")

    # -- test controls and inspection ----------------------------------------------------------

    def fail(self, method: str, path_prefix: str, *faults: Fault) -> None:
        """Queue faults for requests of ``method`` (``"*"``: any) whose path (without the
        version) starts with the prefix."""
        super().fail(method, path_prefix, *faults)

    def throttle(self, minutes: float) -> None:
        """The Page has made too many calls: each answers 80001 until `unthrottle`."""
        with self._lock:
            self._throttled = minutes

    def unthrottle(self) -> None:
        with self._lock:
            self._throttled = None

    def block(self) -> None:
        """The Page may not post for a policy violation (368)."""
        with self._lock:
            self._blocked = True

    def add_post(self, message: str, created: datetime) -> str:
        """A post the Page made before (by hand, or long ago)."""
        with self._lock:
            post = _Post(self._new_id(page=True), message, created)
            self._posts[post.id] = post
            return post.id

    @property
    def posts(self) -> list[dict[str, Any]]:
        """The Page's posts, oldest first."""
        with self._lock:
            return [self._shown(p) for p in sorted(self._posts.values(), key=lambda p: (p.created, p.id))]

    @property
    def photos(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"id": p.id, "url": p.url, "alt_text_custom": p.alt, "caption": p.caption, "published": p.published}
                for p in self._photos.values()
            ]

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return [replace(r) for r in self._requests]

    # -- serving -------------------------------------------------------------------------------

    def _record(self, handler: Handler) -> Recorded:
        target, headers, raw = read(handler)
        query = {name: values[-1] for name, values in parse_qs(target.query).items()}
        form = {name: values[-1] for name, values in parse_qs(raw.decode()).items()} if raw else {}
        match = VERSION.match(target.path)
        version, path = (match[1], match[4]) if match else ("", target.path)
        return Recorded(handler.command, path, version, query, form, headers, datetime.now(UTC))

    def _faulted(self, record: Recorded, fault: Fault) -> _Answer:
        return self._versioned(record, _json(fault.code, fault.body, dict(fault.headers)))

    def _answer(self, record: Recorded) -> _Answer:
        return self._versioned(record, super()._answer(record))

    def _versioned(self, record: Recorded, answer: _Answer) -> _Answer:
        answer.headers["facebook-api-version"] = self._answering(record.version)
        answer.headers["x-fb-trace-id"] = "Fake" + str(len(self._requests))
        return answer

    def _answering(self, version: str) -> str:
        """The version that answers a call: a retired one is answered by the oldest offered."""

        def number(name: str) -> tuple[int, int]:
            found = re.fullmatch(r"v(\d+)\.(\d+)", name)
            return (int(found[1]), int(found[2])) if found else (0, 0)

        return self.oldest if not version or number(version) < number(self.oldest) else version

    def _process(self, record: Recorded) -> _Answer:
        fields = {**record.query, **record.form}
        path, method = record.path.rstrip("/"), record.method
        if path == "/oauth/access_token" and method == "GET":
            return self._exchange(fields)
        raw, token = self._token(record, fields)
        if path == "/debug_token" and method == "GET":
            return self._debug(raw, fields)
        self._proof(raw, token, fields)
        page = self.page_id
        if token.kind == "PAGE" and token.owner == page:
            self._usage_or_throttle()
        usage = {"x-business-use-case-usage": self._usage()} if token.owner == page else {}
        if path == "/me" and method == "GET":
            return _json(200, self._who(token), usage)
        if path == f"/{page}" and method == "GET":
            return _json(200, {"id": page, "name": self.page_name}, usage)
        if path in {f"/{page}/feed", f"/{page}/photos"} and method == "POST":
            self._may_post(token)
            made = self._feed(fields) if path.endswith("/feed") else self._photo(fields)
            return _json(200, made, usage)
        if path == f"/{page}/published_posts" and method == "GET":
            self._may_read(token)
            return _json(200, self._published(fields), usage)
        thing = path.removeprefix("/")
        if "/" not in thing and method == "POST":
            self._may_post(token)
            return _json(200, self._update(thing, fields), usage)
        if "/" not in thing and method == "DELETE":
            self._may_post(token)
            return _json(200, self._delete(thing), usage)
        raise _Refusal(400, graph_error(100, f"Unknown path components: {record.path}"))

    # -- tokens --------------------------------------------------------------------------------

    def _token(self, record: Recorded, fields: dict[str, str]) -> tuple[str, Token]:
        header = record.headers.get("authorization", "")
        raw = header.split(" ", 1)[1].strip() if header.lower().startswith(("bearer ", "oauth ")) else ""
        raw = raw or fields.get("access_token", "")
        if not raw:
            raise _Refusal(400, graph_error(104, "An access token is required to request this resource."))
        if raw == f"{self.app_id}|{self.app_secret}":
            return raw, Token(owner=self.app_id, kind="USER", scopes=())
        token = self.tokens.get(raw)
        now = datetime.now(UTC)
        invalid = {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"'}
        if token is None:
            raise _Refusal(400, graph_error(190, "Invalid OAuth access token - Cannot parse access token"), invalid)
        if token.revoked:
            raise _Refusal(
                400,
                graph_error(
                    190, ("Error validating access token: The session is invalid because the user logged out."), 467
                ),
                invalid,
            )
        if token.expires_at is not None and token.expires_at <= now:
            raise _Refusal(400, graph_error(190, (
                f"Error validating access token: Session has expired on {token.expires_at:%A, %d-%b-%y %H:%M:%S} UTC."
            ), 463), invalid)  # fmt: skip
        return raw, token

    def _proof(self, raw: str, token: Token, fields: dict[str, str]) -> None:
        if not self.require_proof or raw.startswith(f"{self.app_id}|"):
            return
        given = fields.get("appsecret_proof")
        if not given:
            raise _Refusal(400, graph_error(100, "API calls from the server require an appsecret_proof argument",
                                            type="GraphMethodException"))  # fmt: skip
        expected = hmac.new(self.app_secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            raise _Refusal(400, graph_error(100, "Invalid appsecret_proof provided in the API argument",
                                            type="GraphMethodException"))  # fmt: skip

    def _who(self, token: Token) -> dict[str, Any]:
        if token.kind == "PAGE" and token.owner == self.page_id:
            return {"id": self.page_id, "name": self.page_name}
        return {"id": token.owner, "name": "Herold (system user)" if token.kind == "SYSTEM_USER" else "Someone"}

    def _may_post(self, token: Token) -> None:
        if token.kind != "PAGE" or token.owner != self.page_id or not {
            "pages_manage_posts", "pages_read_engagement"} <= set(token.scopes):  # fmt: skip
            raise _Refusal(403, graph_error(200, (
                "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an "
                "admin with sufficient administrative permission")))  # fmt: skip
        if self._blocked:
            raise _Refusal(400, graph_error(368, (
                "The action attempted has been deemed abusive or is otherwise disallowed")))  # fmt: skip

    def _may_read(self, token: Token) -> None:
        if token.owner != self.page_id or "pages_read_engagement" not in token.scopes:
            raise _Refusal(403, graph_error(10, "(#10) This endpoint requires the 'pages_read_engagement' permission"))

    def _usage(self) -> str:
        entry = {"type": "pages", "call_count": min(self._calls, 100), "total_cputime": 1, "total_time": 1,
                 "estimated_time_to_regain_access": int(self._throttled or 0)}  # fmt: skip
        return json.dumps({self.page_id: [entry]})

    def _usage_or_throttle(self) -> None:
        self._calls += 1
        if self._throttled is not None:
            raise _Refusal(400, graph_error(80001, (
                "(#80001) There have been too many calls to this Page account. Wait a bit and try again."),
                is_transient=True), {"x-business-use-case-usage": self._usage()})  # fmt: skip

    def _debug(self, raw: str, fields: dict[str, str]) -> _Answer:
        if raw != f"{self.app_id}|{self.app_secret}":
            raise _Refusal(400, graph_error(100, (
                "(#100) You must provide an app access token, or a user access token that is an owner or developer "
                "of the app"), type="GraphMethodException"))  # fmt: skip
        inspected = self.tokens.get(fields.get("input_token", ""))
        if inspected is None:
            return _json(200, {"data": {"is_valid": False, "scopes": [], "error": {
                "code": 190, "message": "Invalid OAuth access token - Cannot parse access token"}}})  # fmt: skip
        ended = inspected.revoked or (inspected.expires_at is not None and inspected.expires_at <= datetime.now(UTC))
        data: dict[str, Any] = {
            "app_id": self.app_id, "type": inspected.kind, "application": "Herold",
            "expires_at": int(inspected.expires_at.timestamp()) if inspected.expires_at else 0,
            "is_valid": not ended, "issued_at": int(inspected.issued_at.timestamp()),
            "scopes": list(inspected.scopes), "user_id": "98765",
        }  # fmt: skip
        if inspected.kind == "PAGE":
            data["profile_id"] = inspected.owner
        return _json(200, {"data": data})

    def _exchange(self, fields: dict[str, str]) -> _Answer:
        if fields.get("grant_type") != "fb_exchange_token":
            raise _Refusal(400, graph_error(100, "Unsupported grant_type"))
        if fields.get("client_id") != self.app_id or fields.get("client_secret") != self.app_secret:
            raise _Refusal(400, graph_error(1, "Error validating client secret.", type="OAuthException"))
        old = self.tokens.get(fields.get("fb_exchange_token", ""))
        now = datetime.now(UTC)
        if old is None:
            raise _Refusal(400, graph_error(190, "Invalid OAuth access token - Cannot parse access token"))
        if old.revoked or (old.expires_at is not None and old.expires_at <= now):
            raise _Refusal(400, graph_error(190, "Error validating access token: Session has expired.", 463))
        lifetime = timedelta(days=60) if fields.get("set_token_expires_in_60_days") == "true" else None
        self._last_id += 1
        new = f"EAAGrenewed{self._last_id}"
        self.tokens[new] = Token(owner=old.owner, kind=old.kind, scopes=old.scopes,
                                 expires_at=now + lifetime if lifetime else None)  # fmt: skip
        answer: dict[str, Any] = {"access_token": new, "token_type": "bearer"}
        if lifetime:
            answer["expires_in"] = int(lifetime.total_seconds())
        return _json(200, answer)

    # -- posts ---------------------------------------------------------------------------------

    def _new_id(self, *, page: bool) -> str:
        self._last_id += 1
        return f"{self.page_id}_{self._last_id}" if page else str(self._last_id)

    def _latest(self) -> _Post | None:
        return max(self._posts.values(), key=lambda p: (p.created, p.id), default=None)

    def _feed(self, fields: dict[str, str]) -> dict[str, Any]:
        message, link = fields.get("message", ""), fields.get("link")
        attached = [value for key, value in sorted(fields.items()) if key.startswith("attached_media[")]
        photos = []
        for value in attached:
            try:
                photo = str(json.loads(value)["media_fbid"])
            except (ValueError, KeyError, TypeError):
                raise _Refusal(
                    400, graph_error(100, "(#100) param attached_media must be an array of objects")
                ) from None
            if photo not in self._photos or self._photos[photo].published:
                raise _Refusal(400, graph_error(100, f"(#100) Invalid media_fbid {photo}"))
            photos.append(photo)
        if not message and not link and not photos:
            raise _Refusal(400, graph_error(100, "(#100) Missing message or attachment"))
        latest = self._latest()
        # "Duplicate posts cannot be published consecutively": the last post, as it was posted.
        if message and latest is not None and latest.posted == message:
            raise _Refusal(400, graph_error(506, "(#506) Duplicate status message"))
        if link is not None and link in self.unreadable:
            raise _Refusal(400, graph_error(1609005, "Error posting link: error scraping data from provided link"))
        post = _Post(self._new_id(page=True), message, datetime.now(UTC), link=link, photos=photos)
        self._posts[post.id] = post
        return {"id": post.id}

    def _photo(self, fields: dict[str, str]) -> dict[str, Any]:
        url = fields.get("url")
        if not url:
            raise _Refusal(400, graph_error(324, "(#324) Requires upload file"))
        published = fields.get("published", "true") != "false"
        photo = _Photo(self._new_id(page=False), url, fields.get("alt_text_custom"), fields.get("caption"), published)
        self._photos[photo.id] = photo
        if not published:
            return {"id": photo.id}
        post = _Post(self._new_id(page=True), photo.caption or "", datetime.now(UTC), photos=[photo.id])
        self._posts[post.id] = post
        return {"id": photo.id, "post_id": post.id}

    def _published(self, fields: dict[str, str]) -> dict[str, Any]:
        since = datetime.fromtimestamp(int(fields["since"]), UTC) if fields.get("since", "").isdigit() else None
        limit = int(fields["limit"]) if fields.get("limit", "").isdigit() else 25
        wanted = [f for f in fields.get("fields", "id,created_time,message").split(",") if f]
        newest = sorted(self._posts.values(), key=lambda p: (p.created, p.id), reverse=True)
        chosen = [p for p in newest if since is None or p.created >= since][:limit]
        shown = [{k: v for k, v in self._shown(p).items() if k in wanted or k == "id"} for p in chosen]
        return {"data": shown, "paging": {"cursors": {"before": "QVFI", "after": "QVFH"}}}

    def _shown(self, post: _Post) -> dict[str, Any]:
        page, _, number = post.id.partition("_")
        shown: dict[str, Any] = {
            "id": post.id, "message": post.message, "created_time": post.created.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink_url": f"https://www.facebook.com/{page}/posts/{number}", "is_pinned": post.pinned,
            "photos": list(post.photos),
        }  # fmt: skip
        if post.link is not None:
            shown["link"] = post.link
        return shown

    def _update(self, thing: str, fields: dict[str, str]) -> dict[str, Any]:
        post = self._posts.get(thing)
        if post is None:
            raise _gone("POST", thing)
        if "message" in fields:
            post.message = fields["message"]
        if "is_pinned" in fields:
            pinned = fields["is_pinned"] == "true"
            if pinned:
                for other in self._posts.values():
                    other.pinned = False
            post.pinned = pinned
        return {"success": True}

    def _delete(self, thing: str) -> dict[str, Any]:
        if thing in self._posts:
            del self._posts[thing]
        elif thing in self._photos:
            del self._photos[thing]
        else:
            raise _gone("DELETE", thing)
        return {"success": True}
