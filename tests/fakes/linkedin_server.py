"""A fake LinkedIn REST API for tests: real HTTP on 127.0.0.1, answering as the Posts, Images and
OAuth endpoints do.

Why a server: no recorded LinkedIn answers exist (../shared/platforms.md §12), and LinkedIn's worst
behaviour is silent: a post with an unescaped reserved character is taken (201) and cut off where
the character stands. The fake does the same, so a test can read what LinkedIn would show.

Answers follow LinkedIn's documentation (learn.microsoft.com: posts-api, little-text-format,
images-api, versioning, programmatic-refresh-tokens) and answers quoted in public bug reports:

- 426 ``{"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version 20250401 is
  not active"}`` for a retired ``LinkedIn-Version`` (n8n-io/n8n#28660, ComposioHQ/composio#3231);
- 422 DUPLICATE_POST naming the earlier post, also one deleted since (Arisamiga/Linkedin-RSS#5,
  ComposioHQ/composio#2710);
- 400 for a commentary over 3,000 characters, ``ShareCommentary text length (N characters)
  exceeded the maximum allowed (3000 characters)`` (n8n-io/n8n#22899);
- 401 ``{"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", ...}`` and
  65601 ``REVOKED_ACCESS_TOKEN`` (omniauth-linkedin-oauth2#81); the expired token's body is
  modelled on those (its serviceErrorCode is not confirmed);
- 403 ``ACCESS_DENIED`` for a token without ``w_organization_social`` or a member who does not
  administer the page; 429 ``TOO_MANY_REQUESTS`` once the daily limit is used up (no
  ``Retry-After``: LinkedIn documents none; its limits reset at midnight UTC);
- OAuth errors ``{"error", "error_description"}`` as RFC 6749 has them.

Usage::

    with FakeLinkedIn() as fake:
        fake.fail("POST", "/rest/posts", drop_after())  # the post is made, the answer lost
        ...  # point the channel at fake.url (api_base and oauth_base) with the token TOKEN
        assert fake.posts[0]["shown"] == "..."

Posts keep the ``commentary`` as sent and ``shown``: what LinkedIn displays after reading it as
little text (`shown`), ``cut`` when it stopped early. Modelled, not confirmed: a request without
``X-Restli-Protocol-Version: 2.0.0`` is refused (400), so a channel that forgets it is caught;
duplicates are told by author and shown text alone; an image is usable as soon as its bytes are in.
Not emulated: reading posts, comments, reactions and statistics (Herold never reads them), videos
and documents, scheduled or sponsored posts.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, unquote

from fakes.http import Answer, FakeServer, Handler, Refusal, read

__all__ = [
    "ADMIN_OF",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REFRESH_TOKEN",
    "TOKEN",
    "FakeLinkedIn",
    "Fault",
    "Recorded",
    "drop_after",
    "hang",
    "shown",
    "status",
]

TOKEN = "li-access-token"
REFRESH_TOKEN = "li-refresh-token"
CLIENT_ID = "86herold"
CLIENT_SECRET = "li-client-secret"
ADMIN_OF = "2414183"  # the organisation the default token's member administers
ACCESS_LIFETIME = 60 * 24 * 3600  # 60 days
REFRESH_LIFETIME = 365 * 24 * 3600  # a year, not extended by refreshing
LIMIT = 3000
RESERVED = frozenset("|{}@[]()<>#\\*_~")
UPDATABLE = frozenset({"commentary", "contentCallToActionLabel", "contentLandingPage", "lifecycleState", "adContext"})

# little text's elements (little-text-format, "Language Grammar"): a mention with its fallback
# text, the hashtag template, a plain hashtag.
MENTION = re.compile(r"@\[((?:\\.|[^\\\]])*)\]\((urn:li:(?:person|organization):[\w-]+)\)")
TEMPLATE = re.compile(r"\{hashtag\|[#\uff03]\|((?:\\.|[^\\{}|])+)\}")
HASHTAG = re.compile(r"#(\w+)")
ESCAPE = re.compile(r"\\(.)")


def _unescape(text: str) -> str:
    return ESCAPE.sub(lambda match: match.group(1), text)


def shown(little: str) -> tuple[str, bool]:
    """What LinkedIn shows of a commentary, and whether it cut it off: escaped reserved characters
    stand for themselves, mentions show their name, hashtags their tag; any other reserved
    character ends the text there, without an error."""
    out: list[str] = []
    position = 0
    while position < len(little):
        char = little[position]
        if char == "\\":
            if position + 1 < len(little) and little[position + 1] in RESERVED:
                out.append(little[position + 1])
                position += 2
                continue
            return "".join(out), True
        element = None
        if char == "{":
            element = TEMPLATE.match(little, position)
            text = "#" + _unescape(element.group(1)) if element else ""
        elif char == "@":
            element = MENTION.match(little, position)
            text = _unescape(element.group(1)) if element else ""
        elif char == "#":
            element = HASHTAG.match(little, position)
            text = element.group(0) if element else ""
        elif char not in RESERVED:
            out.append(char)
            position += 1
            continue
        if element is None:
            return "".join(out), True
        out.append(text)
        position = element.end()
    return "".join(out), False


def _length(text: str) -> int:
    """LinkedIn's "characters": a Java string's length, UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# -- faults -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, consumed by one matching request."""

    kind: Literal["status", "hang", "drop_after"]
    code: int = 0
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
    """Answer ``code`` with ``body`` (a dict as JSON; None: LinkedIn's error shape) instead of
    processing the request."""
    return Fault("status", code=code, body=body, headers=tuple((headers or {}).items()))


def hang(seconds: float) -> Fault:
    """Wait, then close the connection without processing or answering."""
    return Fault("hang", seconds=seconds)


def drop_after() -> Fault:
    """Process the request (make the post), then close the connection without answering."""
    return Fault("drop_after")


@dataclass
class Recorded:
    method: str
    path: str  # decoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int | None = None  # None: no answer was sent

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


# -- records ------------------------------------------------------------------------------------


@dataclass
class _Token:
    member: str
    scopes: frozenset[str]
    organizations: frozenset[str]  # those the member administers
    expires_at: float
    revoked: bool = False


@dataclass
class _Refresh:
    member: str
    scopes: frozenset[str]
    organizations: frozenset[str]
    expires_at: float
    revoked: bool = False


@dataclass
class _Image:
    urn: str
    owner: str
    upload: str
    data: bytes | None = None


@dataclass
class _Post:
    urn: str
    author: str
    commentary: str
    shown: str
    cut: bool
    body: dict[str, Any]
    version: str
    deleted: bool = False
    edits: list[str] = field(default_factory=list)  # earlier shown texts, oldest first


def _json(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
    """An answer with ``body`` as JSON (None: no body)."""
    if body is None:
        return Answer(code, b"", dict(headers or {}))
    return Answer(code, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


class _Refusal(Refusal):
    def __init__(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message") or body.get("error"))
        self.answer = _json(code, body, headers)


def _error(code: int, name: str, message: str, service: int = 0) -> _Refusal:
    return _Refusal(code, {"status": code, "serviceErrorCode": service, "code": name, "message": message})


def _invalid(code: int, message: str, error: str, path: str) -> _Refusal:
    """A validation refusal, as LinkedIn's Rest.li gateway words it."""
    return _Refusal(
        code,
        {
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": message,
            "errorDetails": {
                "inputErrors": [{"description": message, "input": {"inputPath": {"fieldPath": path}}, "code": error}]
            },
            "status": code,
        },
    )


# -- the server ---------------------------------------------------------------------------------


class FakeLinkedIn(FakeServer):
    """LinkedIn on 127.0.0.1. ``versions``: the oldest and newest ``LinkedIn-Version`` served.
    ``daily_limit``: posts a member may make per day before 429 (None: no limit). ``clock``:
    seconds since the epoch, for token lifetimes."""

    name = "fake-linkedin"
    cut_connections_at_stop = True

    def __init__(
        self,
        *,
        versions: tuple[str, str] = ("202510", "202609"),
        daily_limit: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.versions = versions
        self.daily_limit = daily_limit
        self.clock = clock
        self._ids = itertools.count(7_400_000_000_000_000_001)
        self._tokens: dict[str, _Token] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._clients = {CLIENT_ID: CLIENT_SECRET}
        self._images: dict[str, _Image] = {}
        self._uploads: dict[str, str] = {}  # upload id -> image urn
        self._posts: dict[str, _Post] = {}
        self._made: dict[str, int] = {}  # member -> posts made today
        self._requests: list[Recorded] = []
        self._errors: list[BaseException] = []
        self.add_token(TOKEN, refresh=REFRESH_TOKEN)

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving; raises the first error the fake itself made (a bug in it, answered 500)."""
        running = self._server is not None
        super().stop()
        if running and self._errors:
            raise RuntimeError(f"the fake LinkedIn failed: {self._errors[0]!r}") from self._errors[0]

    @property
    def url(self) -> str:
        return self._origin("the fake LinkedIn")

    # -- test controls ------------------------------------------------------------------------

    def add_token(
        self,
        token: str,
        *,
        member: str = "urn:li:person:Ab3xQ9",
        scopes: frozenset[str] = frozenset({"w_organization_social", "r_organization_social"}),
        organizations: frozenset[str] = frozenset({ADMIN_OF}),
        lifetime: float = ACCESS_LIFETIME,
        refresh: str | None = None,
    ) -> None:
        with self._lock:
            now = self.clock()
            self._tokens[token] = _Token(member, scopes, organizations, now + lifetime)
            if refresh is not None:
                self._refresh[refresh] = _Refresh(member, scopes, organizations, now + REFRESH_LIFETIME)

    def expire(self, token: str) -> None:
        with self._lock:
            if token in self._tokens:
                self._tokens[token].expires_at = self.clock() - 1
            if token in self._refresh:
                self._refresh[token].expires_at = self.clock() - 1

    def revoke(self, token: str) -> None:
        with self._lock:
            for kept in (self._tokens.get(token), self._refresh.get(token)):
                if kept is not None:
                    kept.revoked = True

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    @property
    def posts(self) -> list[dict[str, Any]]:
        """Every post made, in order: ``urn``, ``author``, ``commentary`` (as sent), ``shown`` (as
        LinkedIn displays it), ``cut``, ``content``, ``deleted``, ``edits`` (earlier shown texts)."""
        with self._lock:
            return [
                {
                    "urn": p.urn,
                    "author": p.author,
                    "commentary": p.commentary,
                    "shown": p.shown,
                    "cut": p.cut,
                    "content": p.body.get("content"),
                    "body": p.body,
                    "deleted": p.deleted,
                    "edits": list(p.edits),
                    "version": p.version,
                }
                for p in self._posts.values()
            ]

    @property
    def images(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"urn": i.urn, "owner": i.owner, "data": i.data} for i in self._images.values()]

    def token_expires(self, token: str) -> float | None:
        with self._lock:
            kept = self._tokens.get(token)
            return kept.expires_at if kept else None

    # -- serving ----------------------------------------------------------------------------

    def _record(self, handler: Handler) -> Recorded:
        target, headers, body = read(handler)
        return Recorded(handler.command, unquote(target.path), parse_qs(target.query), headers, body)

    def _faulted(self, record: Recorded, fault: Fault) -> Answer:
        body = fault.body if fault.body is not None else {"status": fault.code, "message": "refused"}
        return _json(fault.code, body, dict(fault.headers))

    def _answer(self, record: Recorded) -> Answer:
        try:
            return super()._answer(record)
        except Exception as error:  # a bug in the fake: answered like a server, raised at stop()
            with self._lock:
                self._errors.append(error)
            return _json(500, {"status": 500, "message": repr(error)})

    # -- dispatch ---------------------------------------------------------------------------

    def _process(self, record: Recorded) -> Answer:
        if record.method == "POST" and record.path == "/oauth/v2/accessToken":
            return self._token_endpoint(record)
        if record.method == "PUT" and record.path.startswith("/dms-uploads/"):
            return self._upload(record)
        if not record.path.startswith("/rest/"):
            raise _error(404, "NOT_FOUND", f"Resource {record.path} does not exist")
        version = self._version(record)
        token = self._authenticate(record)
        post = re.fullmatch(r"/rest/posts/(urn:li:(?:share|ugcPost):\d+)", record.path)
        if record.method == "POST" and record.path == "/rest/posts":
            return self._create(record, token, version)
        if (
            record.method == "POST"
            and record.path == "/rest/images"
            and record.query.get("action") == ["initializeUpload"]
        ):
            return self._initialize_upload(record, token)
        if post and record.method == "POST":
            return self._update(record, token, post.group(1))
        if post and record.method == "DELETE":
            return self._delete(record, token, post.group(1))
        raise _error(404, "NOT_FOUND", f"No virtual resource found for {record.method} {record.path}")

    def _version(self, record: Recorded) -> str:
        if record.headers.get("x-restli-protocol-version") != "2.0.0":
            raise _error(400, "ILLEGAL_ARGUMENT", "This API requires the header X-Restli-Protocol-Version: 2.0.0")
        version = record.headers.get("linkedin-version")
        if not version:
            raise _error(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            )
        oldest, newest = self.versions
        if not (re.fullmatch(r"\d{6}", version) and oldest <= version <= newest):
            raise _error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        return version

    def _authenticate(self, record: Recorded) -> _Token:
        kind, _, value = record.headers.get("authorization", "").partition(" ")
        token = self._tokens.get(value) if kind.lower() == "bearer" else None
        if token is None:
            raise _error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        if token.revoked:
            raise _error(
                401, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user", 65601
            )
        if token.expires_at <= self.clock():
            raise _error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602)
        return token

    @staticmethod
    def _json_body(record: Recorded) -> dict[str, Any]:
        try:
            body = record.json()
        except ValueError as error:
            raise _error(400, "ILLEGAL_ARGUMENT", f"Malformed JSON: {error}") from error
        if not isinstance(body, dict):
            raise _error(400, "ILLEGAL_ARGUMENT", "The request body must be an object")
        return body

    def _may_post_as(self, token: _Token, author: Any, version: str, action: str) -> str:
        if "w_organization_social" not in token.scopes:
            raise _error(
                403,
                "ACCESS_DENIED",
                f"Not enough permissions to access: partnerApiPostsExternal.{action}.{version}01",
                100,
            )
        match = re.fullmatch(r"urn:li:organization:(\d+)", str(author))
        if match is None or match.group(1) not in token.organizations:
            raise _error(403, "ACCESS_DENIED", f"Member {token.member} is not permitted to act as {author}", 100)
        return str(author)

    # -- posts ------------------------------------------------------------------------------

    def _create(self, record: Recorded, token: _Token, version: str) -> Answer:
        body = self._json_body(record)
        author = self._may_post_as(token, body.get("author"), version, "CREATE")
        for name in ("visibility", "distribution", "lifecycleState"):
            if name not in body:
                raise _invalid(
                    422, f"Field /{name} is required when creating a post", "FIELD_VALUE_MISSING", f"/{name}"
                )
        if body["visibility"] not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"):
            raise _invalid(422, f"Invalid value {body['visibility']} for /visibility", "INVALID_VALUE", "/visibility")
        if body["lifecycleState"] not in ("PUBLISHED", "DRAFT"):
            raise _invalid(422, "lifecycleState must be PUBLISHED or DRAFT", "INVALID_VALUE", "/lifecycleState")
        distribution = body["distribution"]
        if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in ("MAIN_FEED", "NONE"):
            raise _invalid(422, "distribution.feedDistribution is required", "INVALID_VALUE", "/distribution")
        raw = body.get("commentary", "")
        if not isinstance(raw, str):
            raise _invalid(422, "commentary must be a string", "INVALID_VALUE", "/commentary")
        text, cut = shown(raw)
        self._check_length(text)
        self._check_content(body.get("content"), author)
        for earlier in self._posts.values():
            if earlier.author == author and earlier.shown == text and text:
                raise self._duplicate(earlier.urn)
        made = self._made.get(token.member, 0)
        if self.daily_limit is not None and made >= self.daily_limit:
            raise _error(
                429,
                "TOO_MANY_REQUESTS",
                "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
                101,
            )
        self._made[token.member] = made + 1
        urn = f"urn:li:share:{next(self._ids)}"
        self._posts[urn] = _Post(urn, author, raw, text, cut, body, version)
        return _json(201, None, {"x-restli-id": urn})

    @staticmethod
    def _check_length(text: str) -> None:
        if _length(text) > LIMIT:
            message = (
                f"com.linkedin.content.common.exception.BadRequestResponseException: ShareCommentary text "
                f"length ({_length(text)} characters) exceeded the maximum allowed ({LIMIT} characters)"
            )
            raise _Refusal(
                400,
                {
                    "errorDetailType": "com.linkedin.common.error.BadRequest",
                    "message": message,
                    "errorDetails": {
                        "inputErrors": [
                            {
                                "description": "Size of array cannot be higher than the maxLength",
                                "input": {"value": {"stringValue": text[:40]}},
                                "code": "FIELD_ARRAY_SIZE_TOO_HIGH",
                                "maxLength": LIMIT,
                            }
                        ]
                    },
                    "status": 400,
                },
            )

    @staticmethod
    def _duplicate(urn: str) -> _Refusal:
        return _Refusal(
            422,
            {
                "errorDetailType": "com.linkedin.common.error.BadRequest",
                "message": f"com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate "
                f"of {urn}",
                "errorDetails": {
                    "inputErrors": [
                        {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
                    ]
                },
                "status": 422,
            },
        )

    def _check_content(self, content: Any, author: str) -> None:
        if content is None:
            return
        if not isinstance(content, dict) or len(content) != 1:
            raise _invalid(
                422, "content must hold exactly one of media, multiImage, article", "INVALID_VALUE", "/content"
            )
        if "media" in content:
            self._check_image(content["media"], author, "/content/media")
        elif "multiImage" in content:
            images = content["multiImage"].get("images") if isinstance(content["multiImage"], dict) else None
            if not isinstance(images, list) or not 2 <= len(images) <= 20:
                raise _invalid(422, "A multi-image post takes 2 to 20 images", "INVALID_VALUE", "/content/multiImage")
            for number, image in enumerate(images):
                self._check_image(image, author, f"/content/multiImage/images/{number}")
        elif "article" in content:
            article = content["article"]
            source = article.get("source") if isinstance(article, dict) else None
            if not isinstance(source, str) or not source.startswith(("http://", "https://")):
                raise _invalid(422, "article.source must be a web address", "INVALID_VALUE", "/content/article/source")
            if not isinstance(article.get("title"), str):
                raise _invalid(422, "article.title is required", "FIELD_VALUE_MISSING", "/content/article/title")
        else:
            raise _invalid(422, f"Unsupported content {sorted(content)}", "INVALID_VALUE", "/content")

    def _check_image(self, media: Any, author: str, path: str) -> None:
        urn = media.get("id") if isinstance(media, dict) else None
        image = self._images.get(str(urn))
        if image is None or image.owner != author:
            raise _invalid(422, f"Image {urn} does not exist or does not belong to {author}", "INVALID_VALUE", path)
        if image.data is None:
            raise _invalid(422, f"Image {urn} is in state WAITING_UPLOAD", "INVALID_VALUE", path)
        alt = media.get("altText")
        if alt is not None and (not isinstance(alt, str) or len(alt) > 4086):
            raise _invalid(422, "altText is longer than 4086 characters", "INVALID_VALUE", path + "/altText")

    def _own_post(self, token: _Token, urn: str, version: str, action: str) -> _Post:
        post = self._posts.get(urn)
        if post is None:
            raise _error(404, "NOT_FOUND", f"Post {urn} not found")
        self._may_post_as(token, post.author, version, action)
        return post

    def _update(self, record: Recorded, token: _Token, urn: str) -> Answer:
        version = record.headers["linkedin-version"]
        if record.headers.get("x-restli-method", "").upper() != "PARTIAL_UPDATE":
            raise _error(400, "ILLEGAL_ARGUMENT", "POST on an entity needs X-RestLi-Method: PARTIAL_UPDATE")
        post = self._own_post(token, urn, version, "PARTIAL_UPDATE")
        if post.deleted:
            raise _error(404, "NOT_FOUND", f"Post {urn} not found")
        patch = self._json_body(record).get("patch")
        changes = patch.get("$set") if isinstance(patch, dict) else None
        if not isinstance(changes, dict) or not changes:
            raise _invalid(422, "A partial update needs patch.$set", "INVALID_VALUE", "/patch")
        for name in changes:
            if name not in UPDATABLE:
                raise _invalid(422, f"Field /{name} cannot be updated", "UNUPDATABLE_FIELD", f"/{name}")
        if "commentary" in changes:
            text, cut = shown(str(changes["commentary"]))
            self._check_length(text)
            post.edits.append(post.shown)
            post.commentary, post.shown, post.cut = str(changes["commentary"]), text, cut
        return _json(204)

    def _delete(self, record: Recorded, token: _Token, urn: str) -> Answer:
        post = self._own_post(token, urn, record.headers["linkedin-version"], "DELETE")
        post.deleted = True  # deleting again answers 204 too: deletes are idempotent
        return _json(204)

    # -- images -----------------------------------------------------------------------------

    def _initialize_upload(self, record: Recorded, token: _Token) -> Answer:
        request = self._json_body(record).get("initializeUploadRequest")
        owner = request.get("owner") if isinstance(request, dict) else None
        if owner is None:
            raise _invalid(
                422,
                "initializeUploadRequest.owner is required",
                "FIELD_VALUE_MISSING",
                "/initializeUploadRequest/owner",
            )
        self._may_post_as(token, owner, record.headers["linkedin-version"], "CREATE")
        urn = f"urn:li:image:D4E10AQ{secrets.token_hex(6)}"
        upload = secrets.token_urlsafe(12)
        self._images[urn] = _Image(urn, str(owner), upload)
        self._uploads[upload] = urn
        expires = int((self.clock() + 3600) * 1000)
        value = {"uploadUrlExpiresAt": expires, "uploadUrl": f"{self.url}/dms-uploads/{upload}", "image": urn}
        return _json(200, {"value": value})

    def _upload(self, record: Recorded) -> Answer:
        urn = self._uploads.get(record.path.removeprefix("/dms-uploads/"))
        if urn is None:
            raise _error(404, "NOT_FOUND", "Upload not found or expired")
        if not record.body:
            raise _error(400, "ILLEGAL_ARGUMENT", "Empty upload")
        self._images[urn].data = record.body
        return _json(201)

    # -- OAuth ------------------------------------------------------------------------------

    def _token_endpoint(self, record: Recorded) -> Answer:
        form = record.form()
        if self._clients.get(form.get("client_id", "")) != form.get("client_secret"):
            raise _Refusal(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        if form.get("grant_type") != "refresh_token":
            raise _Refusal(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"})
        refresh = self._refresh.get(form.get("refresh_token", ""))
        now = self.clock()
        if refresh is None or refresh.revoked or refresh.expires_at <= now:
            raise _Refusal(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "The provided authorization grant "
                    "or refresh token is invalid, expired or revoked",
                },
            )
        access = "li-" + secrets.token_urlsafe(16)
        # A refreshed token lives 60 days, but never past its refresh token (programmatic-refresh-tokens).
        lifetime = min(ACCESS_LIFETIME, refresh.expires_at - now)
        self._tokens[access] = _Token(refresh.member, refresh.scopes, refresh.organizations, now + lifetime)
        return _json(
            200,
            {
                "access_token": access,
                "expires_in": int(lifetime),
                "refresh_token": form["refresh_token"],
                "refresh_token_expires_in": int(refresh.expires_at - now),
                "scope": ",".join(sorted(refresh.scopes)),
            },
        )
