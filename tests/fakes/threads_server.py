"""A fake Threads API for tests: real HTTP on 127.0.0.1, answering as graph.threads.net does.

Why a server and not a mock: a Threads post is three calls (make a container, wait until it is
ready, publish it), and only the last one posts; Herold must get through lost answers, quotas and
expiring tokens without posting twice or not at all. A server that keeps containers, posts and
tokens as Meta does shows whether the channel would work there. Built from Meta's documentation
(developers.facebook.com/documentation/threads: posts, reference/publishing, troubleshooting,
retrieve-posts, delete-posts, overview, get-started/long-lived-tokens, create-posts/text-attachments,
graph-api/guides/error-handling); no recordings of the real API exist to pin it to.

Usage::

    with FakeThreads(user_id=USER, tokens={TOKEN: issued}) as fake:
        fake.fail("POST", f"/v1.0/{USER}/threads_publish", drop_after())  # posted, the answer lost
        ...  # point the channel at fake.url
        [post] = fake.posts

What it emulates, under ``/v1.0`` (any ``vN.N``):

- ``POST /{user}/threads``: a container (``media_type`` TEXT, IMAGE with ``image_url`` and
  ``alt_text``, CAROUSEL with 2–20 ``children`` made with ``is_carousel_item=true``; ``text``;
  ``reply_to_id``). Refusals as Meta's validation errors (code 100): a text over 500 UTF-8 bytes
  ("Param text must be at most 500 characters long.", the words Meta answers), an alt text over
  1,000 characters, a reply to a post that does not exist (100/33), and more than five distinct
  links (``THREADS_API__LINK_LIMIT_EXCEEDED``, in the message [unverified: where Meta puts it]).
- ``GET /{container}?fields=status,error_message``: IN_PROGRESS for ``processing_polls`` reads,
  then FINISHED; ERROR with ``error_message`` for an image at an address in ``unreachable``
  ("FAILED_DOWNLOADING_IMAGE" [unverified: the docs list only the video messages and UNKNOWN]).
- ``POST /{user}/threads_publish`` with ``creation_id``: the post (a FINISHED container, once);
  past the quota (``quota_total`` posts, ``reply_quota_total`` replies in 24 hours) the throttling
  error, code 4 [unverified: the exact code Meta sends for the publishing quota].
- ``GET /{id}?fields=…``: a post's fields (``id``, ``text``, ``media_type`` TEXT_POST / IMAGE /
  CAROUSEL_ALBUM, ``permalink``, ``timestamp`` as "2026-11-22T09:15:02+0000", ``alt_text``,
  ``is_reply``, ``replied_to``); ``GET /me``; ``GET /{user}/threads`` (own top-level posts, newest
  first, ``since``/``until``/``limit``); ``GET /{user}/threads_publishing_limit``.
- ``DELETE /{id}``: ``{"success": true, "deleted_id": …}``; a deleted post is gone (100/33).
- ``GET /refresh_access_token?grant_type=th_refresh_token&access_token=…`` (unversioned): a new
  token for 60 days, for a token at least 24 hours old and not expired; a younger one is refused
  (code 100 [unverified: Meta's words for it]).

Tokens come as ``Authorization: Bearer …`` or the ``access_token`` parameter (Graph takes
either); a token is valid for 60 days from ``tokens[token]`` by the fake's ``clock``. An unknown
token answers 400 OAuthException 190/467, an expired one 190/463, as the Graph API does.

Faults, queued per method and path prefix with `FakeThreads.fail`: `status` (answer instead of
processing; ``graph_error`` builds Meta's body), `drop_after` (process, then close the connection
unanswered), `hang`.

Not emulated: videos, quotes, reposts, polls, topic tags, spoilers, text attachments, replies
listed (``/replies``, ``/conversation``: reads of other people's posts), insights, fetching images
(an image is "fetched" unless its address is in ``unreachable``), app-level rate limits beyond the
faults a test queues, localized messages.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

from fakes.http import Answer, FakeServer, Handler, Refusal, read

__all__ = ["FakeThreads", "Fault", "Recorded", "drop_after", "graph_error", "hang", "status"]

TOKEN_DAYS = 60
REFRESHABLE_AFTER = timedelta(hours=24)
TEXT_BYTES = 500
ALT_TEXT = 1000
LINKS = 5
CAROUSEL = (2, 20)
LINK = re.compile(r"(?:https?://|www\.)[^\s]+")


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "drop_after", "hang"]
    code: int = 0
    body: Any = None
    seconds: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


def graph_error(
    code: int | str, message: str, *, subcode: int | None = None, kind: str = "OAuthException", **more: Any
) -> dict[str, Any]:
    """Meta's error body: ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``."""
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, **more}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AbCdEfGhIjK"
    return {"error": error}


def status(code: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Fault:
    """Answer ``code`` with ``body`` (JSON; None: an unknown error, code 1) instead of processing."""
    return Fault("status", code=code, body=body, headers=dict(headers or {}))


def drop_after() -> Fault:
    """Process the request, then close the connection without answering: the ambiguous write."""
    return Fault("drop_after")


def hang(seconds: float) -> Fault:
    """Wait, then close the connection without processing or answering."""
    return Fault("hang", seconds=seconds)


@dataclass
class Recorded:
    """One request as it arrived; ``status`` is the code answered (None: no answer was sent)."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: Mapping[str, str]  # names in lower case
    status: int | None = None

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}


@dataclass
class _Container:
    id: str
    user: str
    fields: dict[str, str]
    polls_left: int
    error: str | None = None
    published: str | None = None  # the post's id, once published


@dataclass
class _Post:
    id: str
    user: str
    text: str
    media_type: str  # as the API reports it: TEXT_POST, IMAGE, CAROUSEL_ALBUM
    timestamp: datetime
    shortcode: str
    images: list[tuple[str, str]]  # (address, alt text)
    replied_to: str | None
    deleted: bool = False


_Answer = Answer


class _Refusal(Refusal):
    def __init__(self, code: int | str, message: str, subcode: int | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.answer = _json(status, graph_error(code, message, subcode=subcode))


def _json(code: int, body: Any, headers: Mapping[str, str] | None = None) -> _Answer:
    return _Answer(
        code, json.dumps(body).encode(), {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
    )


def _missing(object_id: str) -> _Refusal:
    return _Refusal(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation.",
        33,
    )


def _invalid(message: str) -> _Refusal:
    return _Refusal(100, message)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class FakeThreads(FakeServer):
    """The Threads API of one profile on 127.0.0.1 (see the module docstring). Thread-safe."""

    name = "fake-threads"
    methods = frozenset({"GET", "POST", "DELETE"})

    def __init__(
        self,
        *,
        user_id: str,
        username: str = "lk_beispiel",
        tokens: Mapping[str, datetime] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        processing_polls: int = 0,
        unreachable: frozenset[str] = frozenset(),
        quota_total: int = 250,
        reply_quota_total: int = 1000,
    ) -> None:
        """``tokens``: token → when it was issued (valid 60 days from then)."""
        super().__init__()
        self.user_id, self.username = user_id, username
        self.clock = clock
        self.tokens = dict(tokens or {})
        self.processing_polls = processing_polls
        self.unreachable = unreachable
        self.quota_total, self.reply_quota_total = quota_total, reply_quota_total
        self._containers: dict[str, _Container] = {}
        self._posts: dict[str, _Post] = {}
        self._ids = itertools.count(17_890_000_000_000_001)
        self._requests: list[Recorded] = []

    @property
    def url(self) -> str:
        """The API's address, ``http://127.0.0.1:<port>`` (as ``https://graph.threads.net``)."""
        return self._origin("the fake Threads API")

    # -- test controls and inspection ----------------------------------------------------------

    def issue(self, token: str, at: datetime) -> None:
        with self._lock:
            self.tokens[token] = at

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return [replace(r) for r in self._requests]

    @property
    def posts(self) -> list[dict[str, Any]]:
        """The profile's posts that are not deleted, oldest first, with every field."""
        with self._lock:
            return [self._fields(post) for post in self._posts.values() if not post.deleted]

    @property
    def containers(self) -> int:
        with self._lock:
            return len(self._containers)

    # -- serving -------------------------------------------------------------------------------

    def _record(self, handler: Handler) -> Recorded:
        target, headers, raw = read(handler)
        body = raw.decode()
        return Recorded(handler.command, target.path, dict(parse_qsl(target.query)), dict(parse_qsl(body)), headers)

    def _faulted(self, record: Recorded, fault: Fault) -> _Answer:
        body = fault.body if fault.body is not None else graph_error(1, "An unknown error has occurred.")
        return _json(fault.code, body, fault.headers)

    def _process(self, record: Recorded) -> _Answer:
        parts = [part for part in record.path.split("/") if part]
        if parts == ["refresh_access_token"] and record.method == "GET":
            return self._refresh(record.params)
        if not parts or not re.fullmatch(r"v\d+\.\d+", parts[0]):
            raise _Refusal(2500, "Unknown path components: " + record.path)
        path = parts[1:]
        user = self._authenticated(record)
        if path == ["me"] and record.method == "GET":
            return _json(200, {"id": user, "username": self.username})
        if len(path) == 2 and path[0] in (user, "me"):
            edge = path[1]
            if edge == "threads" and record.method == "POST":
                return self._create(user, record.form)
            if edge == "threads_publish" and record.method == "POST":
                return self._publish(user, record.params.get("creation_id", ""))
            if edge == "threads" and record.method == "GET":
                return self._list(user, record.query)
            if edge == "threads_publishing_limit" and record.method == "GET":
                return self._limit(user)
        if len(path) == 1 and record.method == "GET":
            return self._object(path[0], record.query.get("fields", "id"))
        if len(path) == 1 and record.method == "DELETE":
            return self._delete(user, path[0])
        raise _Refusal(100, f"Unsupported {record.method.lower()} request.", 33)

    # -- tokens --------------------------------------------------------------------------------

    def _authenticated(self, record: Recorded) -> str:
        given = record.headers.get("authorization", "")
        token = (
            given.removeprefix("Bearer ").strip() if given.startswith("Bearer ") else record.params.get("access_token")
        )
        if not token:
            raise _Refusal(2500, "An active access token must be used to query information about the current user.")
        issued = self.tokens.get(token)
        if issued is None:
            raise _Refusal(190, "Invalid OAuth access token - Cannot parse access token", 467)
        expires = issued + timedelta(days=TOKEN_DAYS)
        if self.clock() >= expires:
            raise _Refusal(
                190, f"Error validating access token: Session has expired on {expires:%A, %d-%b-%y %H:%M:%S} UTC.", 463
            )
        return self.user_id

    def _refresh(self, params: Mapping[str, str]) -> _Answer:
        if params.get("grant_type") != "th_refresh_token":
            raise _invalid("Invalid grant_type")
        token = params.get("access_token", "")
        issued = self.tokens.get(token)
        now = self.clock()
        if issued is None:
            raise _Refusal(190, "Invalid OAuth access token - Cannot parse access token", 467)
        if now >= issued + timedelta(days=TOKEN_DAYS):
            raise _Refusal(190, "Error validating access token: Session has expired.", 463)
        if now - issued < REFRESHABLE_AFTER:
            raise _invalid("The access token is too recent to be refreshed.")
        new = f"{token.split('~')[0]}~{next(self._ids)}"
        self.tokens[new] = now
        seconds = int(timedelta(days=TOKEN_DAYS).total_seconds()) - 56  # Meta answers a little less
        return _json(200, {"access_token": new, "token_type": "bearer", "expires_in": seconds})

    # -- posting -------------------------------------------------------------------------------

    def _create(self, user: str, form: Mapping[str, str]) -> _Answer:
        kind = form.get("media_type")
        text = form.get("text", "")
        if kind not in {"TEXT", "IMAGE", "CAROUSEL"}:
            raise _invalid("Param media_type must be one of {TEXT, IMAGE, VIDEO, CAROUSEL}")
        if kind == "TEXT" and not text:
            raise _invalid("The parameter text is required for a text post.")
        if len(text.encode()) > TEXT_BYTES:
            raise _invalid(f"Param text must be at most {TEXT_BYTES} characters long.")
        if len(set(LINK.findall(text))) > LINKS:
            raise _invalid("THREADS_API__LINK_LIMIT_EXCEEDED: posts may contain at most 5 links.")
        if len(form.get("alt_text", "")) > ALT_TEXT:
            raise _invalid(f"Param alt_text must be at most {ALT_TEXT} characters long.")
        if kind == "IMAGE" and not form.get("image_url", "").startswith(("http://", "https://")):
            raise _invalid("The parameter image_url is required.")
        if kind == "CAROUSEL":
            children = [c for c in form.get("children", "").split(",") if c]
            if not CAROUSEL[0] <= len(children) <= CAROUSEL[1]:
                raise _invalid("A carousel needs between 2 and 20 children.")
            for child in children:
                item = self._containers.get(child)
                if item is None or item.user != user or item.fields.get("is_carousel_item") != "true":
                    raise _missing(child)
                if item.error is not None or item.polls_left > 0:
                    raise _invalid(f"The carousel item {child} is not ready.")
        if form.get("is_carousel_item") == "true" and text:
            raise _invalid("Carousel items cannot have text.")
        reply_to = form.get("reply_to_id")
        if reply_to and (reply_to not in self._posts or self._posts[reply_to].deleted):
            raise _missing(reply_to)
        container = _Container(str(next(self._ids)), user, dict(form), self.processing_polls)
        if form.get("image_url") in self.unreachable:
            container.error = "FAILED_DOWNLOADING_IMAGE"
        self._containers[container.id] = container
        return _json(200, {"id": container.id})

    def _publish(self, user: str, creation_id: str) -> _Answer:
        container = self._containers.get(creation_id)
        if container is None or container.user != user or container.fields.get("is_carousel_item") == "true":
            raise _missing(creation_id)
        if container.published is not None:
            raise _invalid("The media container has already been published.")
        if container.error is not None or container.polls_left > 0:
            # Instagram's answer to publishing too early; Threads shares its design [unverified].
            raise _Refusal(9007, "Media ID is not available", 2207027)
        reply_to = container.fields.get("reply_to_id")
        since = self.clock() - timedelta(days=1)
        recent = [p for p in self._posts.values() if p.timestamp > since and bool(p.replied_to) == bool(reply_to)]
        if len(recent) >= (self.reply_quota_total if reply_to else self.quota_total):
            raise _Refusal(4, "Application request limit reached", 2207042)
        fields = container.fields
        if fields["media_type"] == "CAROUSEL":
            items = [self._containers[c].fields for c in fields["children"].split(",")]
            images = [(item["image_url"], item.get("alt_text", "")) for item in items]
        elif fields["media_type"] == "IMAGE":
            images = [(fields["image_url"], fields.get("alt_text", ""))]
        else:
            images = []
        kind = {"TEXT": "TEXT_POST", "IMAGE": "IMAGE", "CAROUSEL": "CAROUSEL_ALBUM"}[fields["media_type"]]
        post_id = str(next(self._ids))
        shortcode = f"C{int(post_id) % 10**8:08d}"
        self._posts[post_id] = _Post(
            post_id, user, fields.get("text", ""), kind, self.clock(), shortcode, images, reply_to or None
        )
        container.published = post_id
        return _json(200, {"id": post_id})

    def _delete(self, user: str, object_id: str) -> _Answer:
        post = self._posts.get(object_id)
        if post is None or post.deleted or post.user != user:
            raise _missing(object_id)
        post.deleted = True
        return _json(200, {"success": True, "deleted_id": object_id})

    # -- reading -------------------------------------------------------------------------------

    def _object(self, object_id: str, fields: str) -> _Answer:
        wanted = [name for name in fields.split(",") if name] or ["id"]
        container = self._containers.get(object_id)
        if container is not None:
            if container.error is not None:
                shown = {"id": object_id, "status": "ERROR", "error_message": container.error}
            elif container.published is not None:
                shown = {"id": object_id, "status": "PUBLISHED"}
            elif container.polls_left > 0:
                container.polls_left -= 1
                shown = {"id": object_id, "status": "IN_PROGRESS"}
            else:
                shown = {"id": object_id, "status": "FINISHED"}
            return _json(200, {name: value for name, value in shown.items() if name in {"id", *wanted}})
        post = self._posts.get(object_id)
        if post is None or post.deleted:
            raise _missing(object_id)
        every = self._fields(post)
        return _json(200, {name: every[name] for name in ("id", *wanted) if name in every})

    def _fields(self, post: _Post) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": post.id,
            "media_product_type": "THREADS",
            "media_type": post.media_type,
            "text": post.text,
            "timestamp": _stamp(post.timestamp),
            "permalink": f"https://www.threads.com/@{self.username}/post/{post.shortcode}",
            "shortcode": post.shortcode,
            "username": self.username,
            "is_reply": post.replied_to is not None,
        }
        if post.images:
            shown["media_url"] = post.images[0][0]
            shown["alt_text"] = post.images[0][1]
            # The fake's own field, for tests (Meta lists a carousel's `children` instead).
            shown["images"] = [list(image) for image in post.images]
        if post.replied_to:
            shown["replied_to"] = {"id": post.replied_to}
        return shown

    def _list(self, user: str, query: Mapping[str, str]) -> _Answer:
        wanted = [name for name in query.get("fields", "id").split(",") if name]
        since = datetime.fromtimestamp(int(query["since"]), UTC) if "since" in query else None
        until = datetime.fromtimestamp(int(query["until"]), UTC) if "until" in query else None
        limit = int(query.get("limit", "25"))
        posts = [
            p for p in reversed(self._posts.values())
            if p.user == user and not p.deleted and p.replied_to is None
            and (since is None or p.timestamp >= since) and (until is None or p.timestamp <= until)
        ][:limit]  # fmt: skip
        data = [{name: value for name, value in self._fields(p).items() if name in {"id", *wanted}} for p in posts]
        return _json(200, {"data": data, "paging": {"cursors": {"before": "QVFIUk", "after": "QVFIUl"}}})

    def _limit(self, user: str) -> _Answer:
        since = self.clock() - timedelta(days=1)
        recent = [p for p in self._posts.values() if p.user == user and p.timestamp > since]
        posts = sum(1 for p in recent if p.replied_to is None)
        return _json(200, {"data": [{
            "quota_usage": posts,
            "config": {"quota_total": self.quota_total, "quota_duration": 86400},
        }]})  # fmt: skip
