"""A fake X API v2 for tests: real HTTP on 127.0.0.1, answering as api.x.com does for what
Herold uses of it.

Why a server and not a mock: the X channel must post exactly once through lost answers, rate
limits and expiring tokens whose refresh tokens rotate, and no platform is reachable from the
tests. The shapes follow X's own documentation (xdevplatform/docs @2871328, 2026-08-22:
``openapi.json``, ``fundamentals/authentication/oauth-2-0/user-access-token.mdx``,
``x-api/fundamentals/response-codes-and-errors.mdx``, ``x-api/fundamentals/rate-limits.mdx``,
``x-api/media/*``) and answers recorded by others (tweepy's cassette of a create and a delete;
error bodies quoted in issues of client libraries).

Usage::

    with FakeX() as fake:
        access, refresh = fake.grant()          # what a person gets by authorizing the app
        fake.fail("POST", "/2/tweets", drop_after())   # posted, the answer lost
        ...  # point the channel at fake.url
        [tweet] = fake.tweets

What it emulates:

- OAuth 2.0 user context: ``POST /2/oauth2/token`` with ``grant_type=refresh_token``, form-encoded;
  a public client names itself by ``client_id`` in the body, a confidential one (``client_secret``)
  by HTTP Basic. Each refresh answers a new access token (``expires_in`` 7200) *and a new refresh
  token*; the one used is spent (rotation). Refused: ``400 {"error": "invalid_request",
  "error_description": "Value passed for the token was invalid."}``, ``401 {"error":
  "unauthorized_client", "error_description": "Missing valid authorization header"}``.
- Every ``/2/`` call needs ``Authorization: Bearer <access token>``: a missing, unknown or expired
  one answers ``401`` with the problem body ``{"title": "Unauthorized", "type": "about:blank",
  "status": 401, "detail": "Unauthorized"}``. Tokens expire by the fake's clock (``now``).
- ``POST /2/tweets`` (``text``, ``media.media_ids`` ≤ 4, ``reply.in_reply_to_tweet_id``): 201
  ``{"data": {"id", "text", "edit_history_tweet_ids"}}`` with links in ``text`` replaced by t.co
  links, as X shows them. Refused with X's answers: 403 for a text the account posted already
  ("duplicate content"), 403 for a reply to a post that is gone, 403 for a text longer than 280
  weighted characters counted by twitter-text (the text of that answer is not documented [U]),
  400 ``invalid-request`` for bad JSON or unknown media ids.
- ``DELETE /2/tweets/:id``: ``{"data": {"deleted": true}}``; another account's post 403; an
  unknown one 404 ``resource-not-found``.
- ``POST /2/media/upload`` as the simple upload of one image in a JSON body (``media`` in base64,
  ``media_category``): 200 ``{"data": {"id", "media_key", "size", "expires_after_secs", "image"}}``;
  at most 5 MB, JPEG/PNG/GIF/WEBP by their bytes. ``POST /2/media/metadata`` sets ``alt_text``
  (≤ 1,000 characters).
- ``GET /2/users/me``; ``GET /2/users/:id/tweets`` for the token's own account only, newest first,
  with ``max_results`` (5 to 100), ``start_time`` and ``tweet.fields`` (``created_at``,
  ``entities`` with the links' ``expanded_url``, ``referenced_tweets``); an unknown query
  parameter is a 400 as on X. ``timeline_lag`` keeps a new post out of that list for as many
  reads (X's timelines are eventually consistent).
- Rate limits per endpoint and account with ``x-rate-limit-limit``/``-remaining``/``-reset``
  (epoch seconds), and the 24-hour window of ``POST /2/tweets`` as ``x-user-limit-24hour-*``;
  over a limit, 429 ``{"title": "Too Many Requests", "detail": "Too Many Requests", "type":
  "about:blank", "status": 429}``.
- Faults queued per method and path prefix with `FakeX.fail`: `status` (answer instead of
  processing), `drop_after` (process, then close the connection unanswered), `hang`.

Not emulated: OAuth 1.0a, the authorization step itself (``grant`` stands for it), scopes,
chunked upload (INIT/APPEND/FINALIZE), video and GIF processing, edits, polls, quotes, reply
settings, other accounts' data of any kind, pricing. A ``402`` for an account out of credits is
real (seen in client logs) but its body is not documented: ``status(402)`` sends a problem body
of our own.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs

from twitter_text import parse_tweet  # type: ignore[import-untyped]

from fakes.http import Answer, FakeServer, Handler, Refusal, read

__all__ = [
    "ACCOUNT",
    "CLIENT_ID",
    "DUPLICATE",
    "REPLY_GONE",
    "FakeX",
    "Fault",
    "Recorded",
    "drop_after",
    "hang",
    "problem",
    "status",
]

CLIENT_ID = "SGVyb2xkQ2xpZW50OjE6Y2k"  # the shape of an X OAuth 2.0 client id
ACCOUNT = ("1720000000000000001", "lkbeispiel", "Landkreis Beispiel")  # id, username, name
TOKEN_LIFETIME = timedelta(hours=2)
IMAGE_LIMIT = 5 * 1024 * 1024
MEDIA_EXPIRES = 86400
ALT_TEXT_LIMIT = 1000
MAX_MEDIA = 4
PROBLEM = "https://api.x.com/2/problems/"

# X's own words, as client libraries quote them (tweepy, node-twitter-api-v2, iembot issues).
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
TOO_LONG = "Your Tweet text is too long."  # [U]: not in X's documentation
NOT_YOURS = "You are not authorized to delete this Tweet."
TOKEN_INVALID = "Value passed for the token was invalid."
NO_CLIENT_AUTH = "Missing valid authorization header"

# Requests per 15 minutes and account, per endpoint (x-api/fundamentals/rate-limits.mdx).
RATE_LIMITS: dict[str, int] = {
    "POST /2/tweets": 100,
    "DELETE /2/tweets": 50,
    "POST /2/media/upload": 500,
    "POST /2/media/metadata": 500,
    "GET /2/users/me": 75,
    "GET /2/users/tweets": 900,
}
WINDOW = 15 * 60
POSTS_PER_DAY = 10_000  # POST /2/tweets, per app and day
TIMELINE_FIELDS = {
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "note_tweet",
    "possibly_sensitive",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "source",
    "text",
    "withheld",
}
TIMELINE_PARAMETERS = {
    "max_results",
    "pagination_token",
    "start_time",
    "end_time",
    "since_id",
    "until_id",
    "exclude",
    "tweet.fields",
    "expansions",
    "user.fields",
    "media.fields",
    "poll.fields",
    "place.fields",
}
LINK = re.compile(r"https?://[^\s<>\"]+")


# -- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "drop_after", "hang"]
    code: int = 0
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def status(code: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Fault:
    """Answer ``code`` with ``body`` (JSON; None: a problem body for the status) and ``headers``."""
    return Fault("status", code=code, body=body, headers=tuple((headers or {}).items()))


def drop_after() -> Fault:
    """Process the request, then close the connection unanswered: the ambiguous write."""
    return Fault("drop_after")


def hang(seconds: float) -> Fault:
    """Wait, then close the connection without processing or answering."""
    return Fault("hang", seconds=seconds)


def problem(code: int, title: str, detail: str, kind: str = "about:blank", **extra: Any) -> dict[str, Any]:
    """A problem-details body as X's v2 API sends one (``type`` a URI under /2/problems/, or about:blank)."""
    return {
        "title": title,
        "detail": detail,
        "type": kind if kind == "about:blank" else PROBLEM + kind,
        "status": code,
        **extra,
    }


# -- what the fake keeps --------------------------------------------------------------------


@dataclass
class Recorded:
    """One request as it arrived; ``status`` is the code answered (None: no answer was sent)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    status: int | None = None
    answered: Mapping[str, str] = field(default_factory=dict)  # the answer's headers

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Tweet:
    id: str
    author_id: str
    text: str  # as posted
    created_at: datetime
    media_ids: list[str] = field(default_factory=list)
    in_reply_to: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)  # (t.co link, the link as posted)
    deleted: bool = False
    reads_hidden: int = 0  # timeline reads it stays out of, still

    @property
    def shown(self) -> str:
        """The text as X's API gives it back: links as t.co links, ``&``, ``<``, ``>`` escaped."""
        text = self.text
        for short, original in self.links:
            text = text.replace(original, short, 1)
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class Upload:
    id: str
    size: int
    image_type: str
    alt_text: str | None = None


_Answer = Answer


class _Refusal(Refusal):
    def __init__(self, answer: _Answer) -> None:
        super().__init__(answer.code)
        self.answer = answer


def _json(code: int, body: Any, headers: Mapping[str, str] | None = None) -> _Answer:
    return _Answer(
        code, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def _refuse(code: int, title: str, detail: str, kind: str = "about:blank", **extra: Any) -> _Refusal:
    return _Refusal(_json(code, problem(code, title, detail, kind, **extra)))


def _invalid(detail: str, message: str | None = None) -> _Refusal:
    body = problem(400, "Invalid Request", detail, "invalid-request")
    if message:
        body["errors"] = [{"message": message, "parameters": {}}]
    return _Refusal(_json(400, body))


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class FakeX(FakeServer):
    """X's API v2 on 127.0.0.1 (see the module docstring). Thread-safe: requests are processed
    under one lock; the inspection properties return copies."""

    name = "fake-x"

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str | None = None,
        account: tuple[str, str, str] = ACCOUNT,
        now: Callable[[], datetime] | None = None,
        timeline_lag: int = 0,
    ) -> None:
        """``client_secret``: the app is a confidential client (Web App, Automated App or bot) and
        must authenticate its token requests with it; None: a public client (Native App)."""
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.account = account
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.timeline_lag = timeline_lag
        self._access: dict[str, tuple[str, datetime]] = {}  # token -> (account id, expires at)
        self._refresh: dict[str, str] = {}  # refresh tokens not yet spent -> account id
        self._tweets: dict[str, Tweet] = {}
        self._uploads: dict[str, Upload] = {}
        self._ids = itertools.count(1_860_000_000_000_000_001)
        self._hits: dict[tuple[str, str], list[float]] = {}  # (bucket, account) -> when, epoch seconds
        self.rate_limits = dict(RATE_LIMITS)
        self._requests: list[Recorded] = []

    @property
    def url(self) -> str:
        return self._origin("the fake X")

    # -- test controls and inspection ----------------------------------------------------------

    def grant(self, lifetime: timedelta = TOKEN_LIFETIME) -> tuple[str, str]:
        """A new access token and refresh token for the account, as authorizing the app gives them."""
        with self._lock:
            return self._issue(self.account[0], lifetime)

    def revoke(self, token: str) -> None:
        """The person revoked the app (x.com/settings/connected_apps), or X did."""
        with self._lock:
            self._access.pop(token, None)
            self._refresh.pop(token, None)

    def post_as_someone_else(self, text: str) -> str:
        """A post by another account (a reply target that is not ours)."""
        with self._lock:
            tweet = Tweet(str(next(self._ids)), "44196397", text, self.now())
            self._tweets[tweet.id] = tweet
            return tweet.id

    def delete_by_hand(self, tweet_id: str) -> None:
        """A person deleted the post on x.com."""
        with self._lock:
            self._tweets[tweet_id].deleted = True

    @property
    def tweets(self) -> list[Tweet]:
        """The account's posts that are still there, oldest first."""
        with self._lock:
            return [replace(t) for t in self._tweets.values() if t.author_id == self.account[0] and not t.deleted]

    @property
    def uploads(self) -> dict[str, Upload]:
        with self._lock:
            return {key: replace(value) for key, value in self._uploads.items()}

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return [replace(r) for r in self._requests]

    def valid_refresh_tokens(self) -> set[str]:
        with self._lock:
            return set(self._refresh)

    # -- serving -------------------------------------------------------------------------------

    def _record(self, handler: Handler) -> Recorded:
        target, headers, body = read(handler)
        return Recorded(handler.command, target.path, target.query, headers, body)

    def _faulted(self, record: Recorded, fault: Fault) -> _Answer:
        body = fault.body if fault.body is not None else problem(fault.code, "Fault", "a fault the test asked for")
        return _json(fault.code, body, dict(fault.headers))

    def _note(self, record: Recorded, answer: _Answer) -> None:
        record.status, record.answered = answer.code, dict(answer.headers)

    def _process(self, record: Recorded) -> _Answer:
        route = (record.method, record.path)
        if route == ("POST", "/2/oauth2/token"):
            return self._token(record)
        account = self._bearer(record)
        if route == ("POST", "/2/tweets"):
            return self._limited("POST /2/tweets", account, lambda: self._create(record, account), daily=True)
        if record.method == "DELETE" and record.path.startswith("/2/tweets/"):
            return self._limited("DELETE /2/tweets", account, lambda: self._delete(record.path, account))
        if route == ("POST", "/2/media/upload"):
            return self._limited("POST /2/media/upload", account, lambda: self._upload(record))
        if route == ("POST", "/2/media/metadata"):
            return self._limited("POST /2/media/metadata", account, lambda: self._metadata(record))
        if route == ("GET", "/2/users/me"):
            return self._limited("GET /2/users/me", account, self._me)
        own = re.fullmatch(r"/2/users/(\d+)/tweets", record.path)
        if record.method == "GET" and own:
            return self._limited("GET /2/users/tweets", account, lambda: self._timeline(own[1], record, account))
        raise _refuse(404, "Not Found Error", f"no route for {record.method} {record.path} in the fake")

    # -- OAuth 2.0 --------------------------------------------------------------------------------

    def _issue(self, account: str, lifetime: timedelta = TOKEN_LIFETIME) -> tuple[str, str]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._access[access] = (account, self.now() + lifetime)
        self._refresh[refresh] = account
        return access, refresh

    def _token(self, record: Recorded) -> _Answer:
        form = record.form()
        authorization = record.headers.get("authorization", "")
        if self.client_secret is not None:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if authorization != f"Basic {expected}":
                raise _Refusal(_json(401, {"error": "unauthorized_client", "error_description": NO_CLIENT_AUTH}))
        elif form.get("client_id") != self.client_id:
            raise _Refusal(
                _json(400, {"error": "invalid_request", "error_description": "Missing required parameter [client_id]."})
            )
        if form.get("grant_type") != "refresh_token":
            raise _Refusal(_json(400, {"error": "invalid_request", "error_description": "Invalid grant_type."}))
        account = self._refresh.pop(form.get("refresh_token", ""), None)
        if account is None:
            raise _Refusal(_json(400, {"error": "invalid_request", "error_description": TOKEN_INVALID}))
        access, refresh = self._issue(account)
        return _json(
            200,
            {
                "token_type": "bearer",
                "expires_in": int(TOKEN_LIFETIME.total_seconds()),
                "access_token": access,
                "scope": "tweet.read tweet.write users.read media.write offline.access",
                "refresh_token": refresh,
            },
        )

    def _bearer(self, record: Recorded) -> str:
        authorization = record.headers.get("authorization", "")
        held = self._access.get(authorization.removeprefix("Bearer ")) if authorization.startswith("Bearer ") else None
        if held is None or held[1] <= self.now():
            raise _refuse(401, "Unauthorized", "Unauthorized")
        return held[0]

    # -- rate limits -------------------------------------------------------------------------------

    def _limited(self, bucket: str, account: str, work: Callable[[], _Answer], daily: bool = False) -> _Answer:
        moment = self.now().timestamp()
        start = moment - moment % WINDOW
        hits = [t for t in self._hits.get((bucket, account), []) if t >= start]
        limit = self.rate_limits[bucket]
        headers = {"x-rate-limit-limit": str(limit), "x-rate-limit-reset": str(int(start + WINDOW))}
        day_start = moment - moment % 86400
        day_hits = [t for t in self._hits.get((bucket + " day", account), []) if t >= day_start] if daily else []
        if daily:
            headers |= {
                "x-user-limit-24hour-limit": str(POSTS_PER_DAY),
                "x-user-limit-24hour-reset": str(int(day_start + 86400)),
            }
        if len(hits) >= limit or (daily and len(day_hits) >= POSTS_PER_DAY):
            headers["x-rate-limit-remaining"] = str(max(0, limit - len(hits)))
            if daily:
                headers["x-user-limit-24hour-remaining"] = str(max(0, POSTS_PER_DAY - len(day_hits)))
            return _json(429, problem(429, "Too Many Requests", "Too Many Requests"), headers)
        self._hits[(bucket, account)] = [*hits, moment]
        headers["x-rate-limit-remaining"] = str(limit - len(hits) - 1)
        if daily:
            self._hits[(bucket + " day", account)] = [*day_hits, moment]
            headers["x-user-limit-24hour-remaining"] = str(POSTS_PER_DAY - len(day_hits) - 1)
        try:
            answer = work()
        except _Refusal as refusal:
            answer = refusal.answer
        answer.headers |= headers
        return answer

    # -- posts ---------------------------------------------------------------------------------------

    @staticmethod
    def _body(record: Recorded) -> dict[str, Any]:
        try:
            body = record.json()
        except ValueError:
            raise _invalid(
                "One or more parameters to your request was invalid.", "Request body is not valid JSON"
            ) from None
        if not isinstance(body, dict):
            raise _invalid("One or more parameters to your request was invalid.", "Request body must be an object")
        return body

    def _create(self, record: Recorded, account: str) -> _Answer:
        body = self._body(record)
        unknown = set(body) - {"text", "media", "reply", "edit_options", "quote_tweet_id", "reply_settings"}
        if unknown:
            raise _invalid(
                "One or more parameters to your request was invalid.",
                f"$.{sorted(unknown)[0]}: is not defined in the schema",
            )
        text = body.get("text", "")
        media = (body.get("media") or {}).get("media_ids") or []
        if not isinstance(text, str) or (not text and not media):
            raise _invalid("One or more parameters to your request was invalid.", "text or media is required")
        if len(media) > MAX_MEDIA or any(m not in self._uploads for m in media):
            raise _invalid("One or more parameters to your request was invalid.", "Your media IDs are invalid.")
        if parse_tweet(text).weightedLength > 280:
            raise _refuse(403, "Forbidden", TOO_LONG)
        mine = [t for t in self._tweets.values() if t.author_id == account and not t.deleted]
        if any(t.text == text for t in mine):
            raise _refuse(403, "Forbidden", DUPLICATE)
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None:
            target = self._tweets.get(str(reply_to))
            if target is None or target.deleted:
                raise _refuse(403, "Forbidden", REPLY_GONE)
        tweet_id = str(next(self._ids))
        links = [(f"https://t.co/{secrets.token_urlsafe(7)[:10]}", url) for url in LINK.findall(text)]
        tweet = Tweet(
            tweet_id,
            account,
            text,
            self.now(),
            list(media),
            str(reply_to) if reply_to else None,
            links,
            reads_hidden=self.timeline_lag,
        )
        self._tweets[tweet_id] = tweet
        return _json(
            201,
            {"data": {"id": tweet_id, "text": tweet.shown, "edit_history_tweet_ids": [tweet_id]}},
            {"location": f"https://api.x.com/2/tweets/{tweet_id}"},
        )

    def _delete(self, path: str, account: str) -> _Answer:
        tweet_id = path.removeprefix("/2/tweets/")
        tweet = self._tweets.get(tweet_id)
        if tweet is None or tweet.deleted:
            raise _refuse(
                404,
                "Not Found Error",
                f"Could not find tweet with id: [{tweet_id}].",
                "resource-not-found",
                resource_type="tweet",
                resource_id=tweet_id,
                parameter="id",
                value=tweet_id,
            )
        if tweet.author_id != account:
            raise _refuse(403, "Forbidden", NOT_YOURS)
        tweet.deleted = True
        return _json(200, {"data": {"deleted": True}})

    # -- media ---------------------------------------------------------------------------------------

    def _upload(self, record: Recorded) -> _Answer:
        if not record.headers.get("content-type", "").startswith("application/json"):
            raise _invalid(
                "One or more parameters to your request was invalid.",
                "the fake takes the JSON form of the simple upload only",
            )
        body = self._body(record)
        if body.get("media_category") not in {
            "tweet_image",
            "tweet_gif",
            "tweet_video",
            "dm_image",
            "dm_gif",
            "dm_video",
            "subtitles",
        }:
            raise _invalid(
                "One or more parameters to your request was invalid.",
                "$.media_category: is missing or not one of the allowed values",
            )
        try:
            data = base64.b64decode(str(body.get("media", "")), validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(
                "One or more parameters to your request was invalid.", "$.media: is not valid base64"
            ) from None
        image_type = _image_type(data)
        if image_type is None:
            raise _invalid("One or more parameters to your request was invalid.", "media type unrecognized.")
        if len(data) > IMAGE_LIMIT:
            raise _invalid(
                "One or more parameters to your request was invalid.", f"File size exceeds {IMAGE_LIMIT} bytes."
            )
        upload = Upload(str(next(self._ids)), len(data), image_type)
        self._uploads[upload.id] = upload
        return _json(
            200,
            {
                "data": {
                    "id": upload.id,
                    "media_key": f"3_{upload.id}",
                    "size": upload.size,
                    "expires_after_secs": MEDIA_EXPIRES,
                    "image": {"image_type": image_type},
                }
            },
        )

    def _metadata(self, record: Recorded) -> _Answer:
        body = self._body(record)
        upload = self._uploads.get(str(body.get("id")))
        if upload is None:
            raise _refuse(
                404,
                "Not Found Error",
                f"Could not find media with id: [{body.get('id')}].",
                "resource-not-found",
                resource_type="media",
            )
        text = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if not isinstance(text, str) or len(text) > ALT_TEXT_LIMIT:
            raise _invalid(
                "One or more parameters to your request was invalid.",
                f"$.metadata.alt_text.text: must be at most {ALT_TEXT_LIMIT} characters",
            )
        upload.alt_text = text
        return _json(200, {"data": {"id": upload.id, "associated_metadata": {"alt_text": {"text": text}}}})

    # -- the account's own data --------------------------------------------------------------------

    def _me(self) -> _Answer:
        user_id, username, name = self.account
        return _json(200, {"data": {"id": user_id, "username": username, "name": name}})

    def _timeline(self, user_id: str, record: Recorded, account: str) -> _Answer:
        if user_id != account:
            # The fake plays one account: anything else would be reading someone else's posts.
            raise _refuse(403, "Forbidden", "the fake serves the token's own posts only")
        query = {key: values[0] for key, values in parse_qs(record.query).items()}
        unknown = sorted(set(query) - TIMELINE_PARAMETERS)
        if unknown:
            raise _invalid(
                f"The query parameters [{', '.join(unknown)}] is not one of [{','.join(sorted(TIMELINE_PARAMETERS))}]"
            )
        count = int(query.get("max_results", "10"))
        if not 5 <= count <= 100:
            raise _invalid(f"The `max_results` query parameter value [{count}] is not between 5 and 100")
        fields = set(query.get("tweet.fields", "").split(",")) - {""}
        if fields - TIMELINE_FIELDS:
            raise _invalid(
                f"The `tweet.fields` query parameter value [{sorted(fields - TIMELINE_FIELDS)[0]}] is not "
                "one of the allowed values"
            )
        since = datetime.fromisoformat(query["start_time"].replace("Z", "+00:00")) if "start_time" in query else None
        shown = []
        for tweet in sorted(self._tweets.values(), key=lambda t: int(t.id), reverse=True):
            if tweet.author_id != account or tweet.deleted or (since is not None and tweet.created_at < since):
                continue
            if tweet.reads_hidden > 0:
                tweet.reads_hidden -= 1
                continue
            shown.append(self._shown(tweet, fields))
        shown = shown[:count]
        if not shown:
            return _json(200, {"meta": {"result_count": 0}})
        return _json(
            200,
            {
                "data": shown,
                "meta": {"result_count": len(shown), "newest_id": shown[0]["id"], "oldest_id": shown[-1]["id"]},
            },
        )

    @staticmethod
    def _shown(tweet: Tweet, fields: set[str]) -> dict[str, Any]:
        shown: dict[str, Any] = {"id": tweet.id, "text": tweet.shown, "edit_history_tweet_ids": [tweet.id]}
        if "created_at" in fields:
            shown["created_at"] = tweet.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if "entities" in fields and tweet.links:
            urls, text = [], tweet.shown
            for short, original in tweet.links:
                start = text.index(short)
                urls.append(
                    {
                        "start": start,
                        "end": start + len(short),
                        "url": short,
                        "expanded_url": original,
                        "display_url": original.split("://", 1)[-1][:26],
                    }
                )
            shown["entities"] = {"urls": urls}
        if "referenced_tweets" in fields and tweet.in_reply_to:
            shown["referenced_tweets"] = [{"type": "replied_to", "id": tweet.in_reply_to}]
        return shown
