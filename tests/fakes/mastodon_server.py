"""A fake Mastodon server for tests: real HTTP on 127.0.0.1, answering like a real Mastodon 4.5.

Why a server and not a mock: Herold must post to Mastodon exactly once through timeouts, rate
limits, lost answers and revoked tokens, and no platform is reachable from the tests. Mocking
Mastodon.py would only test our own guesses about it; with a server, Herold's adapter,
Mastodon.py and requests all run for real. The answers follow recordings of a real server
(``tests/fixtures/mastodon/``, halcy/Mastodon.py's VCR cassettes) and the Mastodon docs
(methods/statuses.md, methods/media.md, api/rate-limits.md, entities/Instance.md); the
messages are those of Mastodon's English locale and of Doorkeeper. ``tests/test_fake_mastodon.py``
pins the fake to the recordings, so a test that passes here means something there.

Usage::

    with FakeMastodon(max_characters=500) as fake:
        fake.fail("POST", "/api/v1/statuses", drop_after())  # the status is created, the answer lost
        ...  # point the client at fake.url with the token "herold-token"
        assert len(fake.statuses) == 1

What it emulates: instance info (v1, v2), the token's account, posting (with idempotency keys,
the character limit counted like Mastodon's StatusLengthValidator, replies, content warnings,
media), reading, editing (as UpdateStatusService: with history and source, see below), deleting
and pinning statuses, media upload with asynchronous processing (202, then 206 while processing,
then 200), Mastodon's error bodies (401 with ``WWW-Authenticate``, 403, 404, 422, 429) and
``x-ratelimit-*`` headers with Mastodon's buckets. Faults (`status`, `retry_after`, `delay`,
`hang`, `drop_after`) are queued per method and path prefix with `FakeMastodon.fail`.

Limits apply as on a real server: 5 pins, 4 attachments, 1,500 characters of alt text, and the
rate limits of `RATE_LIMITS` per account (posting 300 per 3 hours, deleting and uploading 30 per
30 minutes, everything else 300 per 5 minutes); a test that needs more raises
``fake.rate_limits[bucket]``.

An edit (PUT /api/v1/statuses/:id) is Mastodon's: the controller hands every field to
UpdateStatusService whether it was sent or not, so a field left out is reset -- no ``media_ids``
removes the images, no ``spoiler_text`` removes the content warning, no ``sensitive`` means not
sensitive (unless there is a warning) -- except ``language``, which is kept, and the visibility,
which no edit can change. ``media_attributes`` (JSON or ``media_attributes[][id]`` form fields)
changes the alt text and focus of images the edit keeps; unknown ``media_ids`` are dropped
silently. An edit that changes nothing adds no history entry and no ``edited_at``.

Other servers of the same API (Takahē, Pleroma/Akkoma, GoToSocial), chosen per option:
``idempotency=False`` ignores ``Idempotency-Key`` (Takahē: a retry posts twice);
``links="full"`` counts a link at its full length while the instance still advertises
``characters_reserved_per_url: 23`` (Takahē, Pleroma and GoToSocial count raw characters);
``too_long_status``/``too_long_message`` answer an over-long status as they do (GoToSocial and
Takahē: 400, Pleroma: 422 with its own words); ``edits="replace"`` resets every field an edit
does not send, visibility included (Takahē: an edit made an unlisted status public and removed
its image); ``unpinned_count_for`` counts recently unpinned statuses toward the pin limit
(Takahē counts an undone pin for a day).

OAuth scopes are checked when ``scopes`` maps tokens to their scopes (tokens it leaves out have
them all), as each Mastodon controller requires them: ``read:accounts`` (or ``profile``) for
verify_credentials, ``read:statuses`` for reading statuses with a token, ``write:statuses`` to
post, edit and delete, ``write:media`` for every media call, ``write:accounts`` to pin and unpin;
``read`` and ``write`` cover every ``read:*`` and ``write:*``. A missing scope answers 403
``{"error": "This action is outside the authorized scopes"}`` (no ``WWW-Authenticate``). The
scope is checked before the record is looked up (doorkeeper_authorize! is the first
before_action), so PUT /api/v1/statuses/999999 answers 404 with ``write:statuses`` and 403
without -- except, from Mastodon 4.3 on (``version``), pin, unpin, source and history: their
controllers inherit Api::V1::Statuses::BaseController, whose ``set_status`` runs first, so a
missing status answers 404 with or without the scope (and whatever the token).

What it does not emulate: other servers' quirks beyond those options and the reported version;
federation, followers and timelines other than an account's own statuses (so ``private`` and
``direct`` statuses are visible to their author only); mentions (an ``@name`` stays text),
custom emoji, link cards; polls and scheduled statuses (refused with 422 rather than silently
ignored); obtaining tokens (OAuth apps, authorization, the ``follow`` and ``admin`` scopes);
localized error messages (the real server answers in the account's or the ``lang``
parameter's language, see the German and Japanese messages in the recordings; the fake always
answers in English); real media processing (every upload is "processed" after
``media_processing_polls`` polls, whatever its type; Mastodon 4 processes small images at once
and answers 200); language detection (a missing or unknown ``language`` becomes "en"). ``uri``
has the classic form ``/users/<name>/statuses/<id>`` (Mastodon 4.5 uses
``/ap/users/<account id>/statuses/<id>``). URL detection for counting and linking is a close
approximation of twitter-text's.
"""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import json
import math
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import regex

from fakes.http import TrackedHandler

__all__ = [
    "DEFAULT_TOKENS",
    "OUT_OF_SCOPE",
    "PIN_LIMIT",
    "RATE_LIMITS",
    "TOO_LONG_GOTOSOCIAL",
    "TOO_LONG_PLEROMA",
    "TOO_LONG_TAKAHE",
    "FakeMastodon",
    "Fault",
    "Headers",
    "Recorded",
    "delay",
    "drop_after",
    "hang",
    "retry_after",
    "status",
    "status_length",
]

DEFAULT_TOKENS = {"herold-token": "lkbeispiel"}
PIN_LIMIT = 5  # StatusPinValidator::PIN_LIMIT; reported as configuration.accounts.max_pinned_statuses
MAX_MEDIA = 4  # Status::MEDIA_ATTACHMENTS_LIMIT
URL_LENGTH = 23  # StatusLengthValidator::URL_PLACEHOLDER_CHARS
DESCRIPTION_LIMIT = 1500  # MediaAttachment::MAX_DESCRIPTION_LENGTH
IMAGE_LIMIT = 16 * 1024 * 1024
VIDEO_LIMIT = 99 * 1024 * 1024

# Rate-limit buckets as the recordings show them: (requests, window in seconds). Windows start at
# multiples of their length since the epoch, as Rack::Attack counts them; x-ratelimit-reset is the
# window's end. "statuses" is Mastodon's own 300 posts per 3 hours, the rest are Rack::Attack's.
RATE_LIMITS: dict[str, tuple[int, int]] = {
    "api": (300, 5 * 60),
    "statuses": (300, 3 * 60 * 60),
    "deletes": (30, 30 * 60),
    "media": (30, 30 * 60),
}

SUPPORTED_MIME_TYPES = (
    "image/jpeg", "image/png", "image/gif", "image/heic", "image/heif", "image/webp", "image/avif",
    "video/webm", "video/mp4", "video/quicktime", "video/ogg",
    "audio/wave", "audio/wav", "audio/x-wav", "audio/x-pn-wave", "audio/vnd.wave", "audio/ogg", "audio/vorbis",
    "audio/mpeg", "audio/mp3", "audio/webm", "audio/flac", "audio/aac", "audio/m4a", "audio/x-m4a", "audio/mp4",
    "audio/3gpp", "video/x-ms-asf",
)  # fmt: skip
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}
SNIFFED_IMAGES = {"image/jpeg", "image/png", "image/gif", "image/webp"}  # their bytes must match

# Messages, verbatim from Mastodon's config/locales/en.yml and Doorkeeper's en.yml.
TOKEN_INVALID = "The access token is invalid"
TOKEN_REVOKED = "The access token was revoked"
NOT_FOUND = "Record not found"
REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
TEXT_BLANK = "Text can't be blank"
TOO_LONG = "Text character limit of {max} exceeded"
OUT_OF_SCOPE = "This action is outside the authorized scopes"  # Api::BaseController#doorkeeper_forbidden_render_options
MEDIA_TOO_MANY = "Cannot attach more than 4 files"
MEDIA_NOT_FOUND = "Media {ids} not found or already attached to another post"
MEDIA_MIXED = "Cannot attach a video to a post that already contains images"
MEDIA_NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"
PIN_OWNERSHIP = "Someone else's post cannot be pinned"
PIN_DIRECT = "Posts that are only visible to mentioned users cannot be pinned"
PIN_LIMIT_REACHED = "You have already pinned the maximum number of posts"
TOO_MANY_REQUESTS = "Too many requests"
DESCRIPTION_TOO_LONG = f"Validation failed: Description is too long (maximum is {DESCRIPTION_LIMIT} characters)"

# Other servers' answers to an over-long status, for ``too_long_message`` ({max}: the limit,
# {length}: the status's length as that server counts it). GoToSocial answers 400 (its
# statuscreate.go behind gtserror's "Bad Request: " prefix), Takahē 400 (api/views/statuses.py,
# naming no number), Pleroma and Akkoma 422 (CommonAPI.Utils.validate_character_limit).
TOO_LONG_GOTOSOCIAL = (
    "Bad Request: status too long, {length} characters provided (including spoiler/content warning) but limit is {max}"
)
TOO_LONG_TAKAHE = "Status is too long"
TOO_LONG_PLEROMA = "The status is over the character limit"

VISIBILITIES = ("public", "unlisted", "private", "direct")
GRAPHEME = regex.compile(r"\X")
# http(s) links only: Mastodon extracts URLs with extract_url_without_protocol: false.
URL = regex.compile(r"(?<![\w@/])https?://[^\s<>\"]+", regex.IGNORECASE)
HASHTAG = regex.compile(r"(?<![=/)\p{Alnum}])#([\w\u00b7\u30fb\u200c]*[^\W\d_][\w\u00b7\u30fb\u200c]*)")
REMOTE_MENTION = regex.compile(r"(?<![\w@/])@(\w+(?:[.-]+\w+)*)@[\w.-]+\w")
URL_PREFIX = re.compile(r"\Ahttps?://(?:www\.)?", re.IGNORECASE)
LANGUAGE = re.compile(r"\A[a-z]{2,3}\Z")


# -- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, consumed by one matching request. Build them with the functions below."""

    kind: Literal["status", "delay", "hang", "drop_after"]
    code: int = 0
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
    """Answer with ``code`` instead of processing the request. ``body``: a dict or list is sent as
    JSON, a str as HTML (what a proxy in front of Mastodon sends), bytes as they are; None sends
    ``{"error": <reason phrase>}``."""
    return Fault("status", code=code, body=body, headers=tuple((headers or {}).items()))


def retry_after(seconds: int) -> Fault:
    """A 429 with ``Retry-After`` and Mastodon's throttling body."""
    return status(429, {"error": TOO_MANY_REQUESTS}, {"Retry-After": str(seconds)})


def delay(seconds: float) -> Fault:
    """Wait, then process the request normally: a slow server."""
    return Fault("delay", seconds=seconds)


def hang(seconds: float) -> Fault:
    """Wait, then close the connection without processing or answering: a client timeout."""
    return Fault("hang", seconds=seconds)


def drop_after() -> Fault:
    """Process the request (e.g. create the status), then close the connection without answering:
    the ambiguous write that idempotency keys exist for."""
    return Fault("drop_after")


# -- what the tests can inspect ---------------------------------------------------------------


class Headers(dict[str, str]):
    """Request headers as sent, looked up without regard to case (as HTTP defines them)."""

    def _key(self, key: object) -> object:
        if isinstance(key, str) and not dict.__contains__(self, key):
            for candidate in self:
                if candidate.lower() == key.lower():
                    return candidate
        return key

    def __getitem__(self, key: str) -> str:
        return str(dict.__getitem__(self, str(self._key(key))))

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._key(key))

    def get(self, key: str, default: Any = None) -> Any:
        return dict.get(self, str(self._key(key)), default)


@dataclass
class Recorded:
    """One request as it arrived. ``status`` is the code answered, None while the request is being
    processed and when no answer was sent (`hang`, `drop_after`)."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    at: float  # time.monotonic() when it arrived
    status: int | None = None
    fault: Fault | None = None

    def params(self) -> dict[str, Any]:
        """The parameters as Mastodon reads them: query, then form, JSON or multipart fields;
        ``name[]`` fields become lists under ``name``."""
        params, _files = _parse_params(self.query, self.headers.get("Content-Type", ""), self.body)
        return params


# -- internal records ---------------------------------------------------------------------------


@dataclass
class _Account:
    id: str
    username: str
    created_at: str
    pins: list[str] = field(default_factory=list)
    unpinned: dict[str, float] = field(default_factory=dict)  # status id -> time.monotonic() of its unpin


@dataclass
class _Media:
    id: str
    account: _Account
    type: str
    mime_type: str
    data: bytes
    file_name: str
    description: str | None
    focus: tuple[float, float] | None
    size: tuple[int, int] | None
    pending_polls: int
    processed: bool
    status_id: str | None = None
    deleted: bool = False


@dataclass
class _Version:
    text: str
    spoiler_text: str
    sensitive: bool
    media_ids: list[str]
    created_at: str
    language: str


@dataclass
class _Status:
    id: str
    account: _Account
    text: str
    spoiler_text: str
    sensitive: bool
    visibility: str
    language: str
    in_reply_to_id: str | None
    in_reply_to_account_id: str | None
    media_ids: list[str]
    created_at: str
    idempotency_key: str | None
    edited_at: str | None = None
    deleted: bool = False
    versions: list[_Version] = field(default_factory=list)


@dataclass
class _Upload:
    file_name: str
    content_type: str
    data: bytes


@dataclass
class _Answer:
    code: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class _Refusal(Exception):
    """Ends a request with Mastodon's error body ``{"error": message}``."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class _Call:
    record: Recorded
    match: re.Match[str]
    account: _Account | None
    params: dict[str, Any]
    files: dict[str, _Upload]

    def me(self) -> _Account:
        assert self.account is not None  # routes that need it require a token
        return self.account


_Auth = Literal["required", "if_given", "none"]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: str
    auth: _Auth
    scopes: frozenset[str]  # any one of them lets the token through (Doorkeeper's doorkeeper_authorize!)
    status_first: bool  # Mastodon 4.3+: Api::V1::Statuses::BaseController#set_status runs before the scope check


def _routes(*table: tuple[str, str, str, _Auth, tuple[str, ...]]) -> tuple[_Route, ...]:
    """``(method, path, handler, auth, scopes)``; the scopes are the granular ones a controller
    names, to which ``read`` or ``write`` is added as it names them too. Handlers marked ``*``
    look the status up before the scope is checked (on Mastodon 4.3 and later)."""
    routes = []
    for method, path, handler, auth, granular in table:
        broad = {scope.split(":")[0] for scope in granular if scope.startswith(("read:", "write:"))}
        name = handler.removesuffix("*")
        routes.append(
            _Route(method, re.compile(rf"\A{path}\Z"), name, auth, frozenset(granular) | broad, handler.endswith("*"))
        )
    return tuple(routes)


# Scopes as each controller's doorkeeper_authorize! (required) or authorize_if_got_token! (checked
# when a token is given) names them: Api::V1::Accounts::CredentialsController, AccountsController,
# Accounts::StatusesController, StatusesController, Statuses::{Sources,Histories,Pins}Controller,
# MediaController (and V2::MediaController, its subclass).
ROUTES = _routes(
    ("GET", r"/api/v1/instance", "_instance_v1", "none", ()),
    ("GET", r"/api/v2/instance", "_instance_v2", "none", ()),
    ("GET", r"/api/v1/accounts/verify_credentials", "_verify_credentials", "required", ("read:accounts", "profile")),
    ("GET", r"/api/v1/accounts/(\d+)", "_account", "if_given", ("read:accounts",)),
    ("GET", r"/api/v1/accounts/(\d+)/statuses", "_account_statuses", "if_given", ("read:statuses",)),
    ("POST", r"/api/v1/statuses", "_create_status", "required", ("write:statuses",)),
    ("GET", r"/api/v1/statuses/(\d+)", "_get_status", "if_given", ("read:statuses",)),
    ("PUT", r"/api/v1/statuses/(\d+)", "_edit_status", "required", ("write:statuses",)),
    ("DELETE", r"/api/v1/statuses/(\d+)", "_delete_status", "required", ("write:statuses",)),
    ("GET", r"/api/v1/statuses/(\d+)/source", "_status_source*", "required", ("read:statuses",)),
    ("GET", r"/api/v1/statuses/(\d+)/history", "_status_history*", "if_given", ("read:statuses",)),
    ("POST", r"/api/v1/statuses/(\d+)/pin", "_pin*", "required", ("write:accounts",)),
    ("POST", r"/api/v1/statuses/(\d+)/unpin", "_unpin*", "required", ("write:accounts",)),
    ("POST", r"/api/v2/media", "_upload_media", "required", ("write:media",)),
    ("POST", r"/api/v1/media", "_upload_media", "required", ("write:media",)),
    ("GET", r"/api/v1/media/(\d+)", "_get_media", "required", ("write:media",)),
    ("PUT", r"/api/v1/media/(\d+)", "_update_media", "required", ("write:media",)),
    ("DELETE", r"/api/v1/media/(\d+)", "_delete_media", "required", ("write:media",)),
    ("GET", r"/system/media_attachments/files/(\d+)/(original|small)/[^/]+", "_media_file", "none", ()),
)


# -- counting and formatting, as Mastodon does ------------------------------------------------------


def _trim_url(url: str) -> str:
    """Trailing punctuation ends a sentence, not the link; a ")" belongs to it only if it opens one."""
    while url:
        sentence_end = url[-1] in ".,:;!?'\""
        unopened = url[-1] == ")" and url.count(")") > url.count("(")
        if not (sentence_end or unopened):
            break
        url = url[:-1]
    return url


def _urls(text: str) -> Iterator[tuple[int, int, str]]:
    for match in URL.finditer(text):
        url = _trim_url(match.group(0))
        if URL_PREFIX.sub("", url):
            yield match.start(), match.start() + len(url), url


def status_length(text: str, spoiler_text: str = "", links: Literal["short", "full"] = "short") -> int:
    """The length Mastodon's StatusLengthValidator compares with the limit: grapheme clusters of
    the content warning and the text together, each http(s) link as 23, ``@user@domain`` as
    ``@user``. Both texts are stripped first, as the server stores them.

    ``links="full"``: the raw length other servers compare instead -- characters (code points,
    as GoToSocial counts runes) of both texts, links and mentions at their full length. Takahē
    counts the text alone and Pleroma grapheme clusters, so this is the strictest of them."""
    text, spoiler_text = text.strip(), spoiler_text.strip()
    if links == "full":
        return len(spoiler_text) + len(text)
    pieces: list[str] = []
    position = 0
    for start, end, _url in _urls(text):
        pieces.append(REMOTE_MENTION.sub(r"@\1", text[position:start]))
        pieces.append("x" * URL_LENGTH)
        position = end
    pieces.append(REMOTE_MENTION.sub(r"@\1", text[position:]))
    return len(GRAPHEME.findall(spoiler_text + "".join(pieces)))


def _escape(text: str) -> str:
    """ERB::Util.html_escape."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _link(url: str) -> str:
    """TextFormatter.shortened_link: the scheme hidden, 30 characters shown, the rest hidden."""
    prefix = URL_PREFIX.match(url)
    shown_from = prefix.end() if prefix else 0
    rest = url[shown_from:]
    return (
        f'<a href="{_escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{_escape(url[:shown_from])}</span>'
        f'<span class="{"ellipsis" if len(rest) > 30 else ""}">{_escape(rest[:30])}</span>'
        f'<span class="invisible">{_escape(rest[30:])}</span></a>'
    )


def _format(text: str, base_url: str) -> tuple[str, list[str]]:
    """Mastodon's TextFormatter for a local status: escaped, links and hashtags linked, paragraphs
    at blank lines, ``<br />`` at single newlines. Returns the HTML and the hashtags."""
    if not text.strip():
        return "", []
    entities: list[tuple[int, int, str]] = []
    tags: list[str] = []
    links = list(_urls(text))
    for start, end, url in links:
        entities.append((start, end, _link(url)))
    for match in HASHTAG.finditer(text):
        if any(start < match.end() and match.start() < end for start, end, _url in links):
            continue
        name = match.group(1)
        tags.append(name)
        href = _escape(f"{base_url}/tags/{name}")
        markup = f'<a href="{href}" class="mention hashtag" rel="tag">#<span>{_escape(name)}</span></a>'
        entities.append((match.start(), match.end(), markup))
    html: list[str] = []
    position = 0
    for start, end, markup in sorted(entities):
        html.append(_escape(text[position:start]))
        html.append(markup)
        position = end
    html.append(_escape(text[position:]))
    paragraphs = re.split(r"\n\n+", "".join(html).replace("\r\n", "\n"))
    return "".join(f"<p>{paragraph.replace(chr(10), '<br />')}</p>" for paragraph in paragraphs), tags


# -- request parsing -----------------------------------------------------------------------------


def _header_value(value: str, header: str = "content-type") -> tuple[str, dict[str, str]]:
    """A header's main value (lower case) and its parameters (``boundary``, ``name``, ``filename``)."""
    message = email.message.Message()
    message[header] = value
    params = {
        key.lower(): email.utils.collapse_rfc2231_value(raw)
        for key, raw in (message.get_params(header=header) or [])[1:]
    }
    return value.split(";", 1)[0].strip().lower(), params


def _multipart(body: bytes, boundary: str) -> Iterator[tuple[str, str | None, str, bytes]]:
    """(name, filename, content type, data) of each part."""
    delimiter = b"--" + boundary.encode()
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, _, data = chunk.partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        name, filename, content_type = "", None, "application/octet-stream"
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                _main, params = _header_value(value.strip(), "content-disposition")
                name, filename = params.get("name", ""), params.get("filename")
            elif key.strip().lower() == "content-type":
                content_type = value.strip()
        yield name, filename, content_type, data


NESTED_FIELD = re.compile(r"\A(\w+)\[\]\[(\w+)\]\Z")


def _add(params: dict[str, Any], key: str, value: Any) -> None:
    """Rails' names: ``a[]`` collects a list; ``a[][b]`` a list of hashes, a new one whenever
    ``b`` is already in the last (``media_attributes[][id]=1&media_attributes[][description]=x``)."""
    nested = NESTED_FIELD.match(key)
    if nested:
        items = params.setdefault(nested.group(1), [])
        if not items or not isinstance(items[-1], dict) or nested.group(2) in items[-1]:
            items.append({})
        items[-1][nested.group(2)] = value
    elif key.endswith("[]"):
        params.setdefault(key[:-2], []).append(value)
    else:
        params[key] = value


def _parse_params(query: str, content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, _Upload]]:
    """Rails' params: the query string, then the body (form, JSON or multipart)."""
    params: dict[str, Any] = {}
    files: dict[str, _Upload] = {}
    for key, value in _pairs(query):
        _add(params, key, value)
    kind, options = _header_value(content_type) if content_type else ("", {})
    if not body:
        return params, files
    if kind == "application/json":
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("a JSON body must be an object")
        params.update(document)
    elif kind == "multipart/form-data" and "boundary" in options:
        for name, filename, part_type, data in _multipart(body, options["boundary"]):
            if filename is not None:
                files[name] = _Upload(filename, part_type.split(";")[0].strip().lower(), data)
            else:
                _add(params, name, data.decode("utf-8"))
    else:  # Mastodon.py and most clients: application/x-www-form-urlencoded
        for key, value in _pairs(body.decode("utf-8")):
            _add(params, key, value)
    return params, files


def _pairs(encoded: str) -> Iterator[tuple[str, str]]:
    for key, values in parse_qs(encoded, keep_blank_values=True).items():
        for value in values:
            yield key, value


def _boolean(value: Any, default: bool) -> bool:
    """ActiveModel's boolean cast: "0", "false", "f", "off" and "" are false."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in {"", "0", "f", "false", "off"}


def _number(value: Any) -> int | None:
    """An integer parameter; anything else counts as not given."""
    try:
        return int(str(value))
    except ValueError:
        return None


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _image_size(data: bytes, mime_type: str) -> tuple[int, int] | None:
    """Width and height from the header of a PNG, GIF or JPEG, for ``meta``."""
    try:
        if mime_type == "image/png":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if mime_type == "image/gif":
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if mime_type == "image/jpeg":
            position = 2
            while position + 9 < len(data):
                marker, length = data[position + 1], struct.unpack(">H", data[position + 2 : position + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">HH", data[position + 5 : position + 9])
                    return width, height
                position += 2 + length
    except struct.error:
        return None
    return None


def _iso(moment: datetime) -> str:
    """Mastodon's timestamps: UTC, milliseconds, "Z"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- the server -------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeMastodon


class _Handler(TrackedHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests uses it
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (40 ms on Linux). Real servers send with TCP_NODELAY, so the fake does too.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `FakeMastodon.requests` instead."""


class FakeMastodon:
    """A Mastodon server on 127.0.0.1 (see the module docstring). Thread-safe: every request is
    processed under one lock, and the inspection properties return copies."""

    def __init__(
        self,
        *,
        max_characters: int = 500,
        version: str = "4.5.0",
        tokens: dict[str, str] | None = None,
        media_processing_polls: int = 1,
        idempotency_ttl: float = 3600.0,
        port: int = 0,
        idempotency: bool = True,
        links: Literal["short", "full"] = "short",
        too_long_status: int = 422,
        too_long_message: str | None = None,
        scopes: dict[str, set[str]] | None = None,
        edits: Literal["mastodon", "replace"] = "mastodon",
        unpinned_count_for: float = 0.0,
    ) -> None:
        """``tokens`` maps access tokens to account usernames (several tokens may share one
        account). ``media_processing_polls``: an upload answers 202 and its GET answers 206 that
        many times before 200; 0 answers 200 at once. ``idempotency_ttl``: how long (seconds) an
        ``Idempotency-Key`` is remembered per account (Mastodon: one hour).

        Other servers (the defaults are Mastodon's): ``idempotency=False`` ignores the
        ``Idempotency-Key`` header, so a repeated POST creates another status (Takahē).
        ``links="full"`` counts links (and mentions) at their full length, see `status_length`,
        while the instance still advertises 23 characters per URL. ``too_long_status`` is the
        code of an over-long status's answer, ``too_long_message`` its ``error`` with ``{max}``
        and ``{length}`` filled in (default: Mastodon's validation message for 422, GoToSocial's
        for any other code; see ``TOO_LONG_*``). ``scopes`` maps tokens to their OAuth scopes
        and turns scope checks on (None: every token has every scope; a token left out has them
        all). ``edits="replace"``: an edit resets every field it does not send to its default --
        no images, no content warning, not sensitive, language "en" -- and makes the status
        public (Takahē); "mastodon" keeps the language and the visibility. ``unpinned_count_for``
        (seconds): statuses unpinned that recently still count toward the pin limit."""
        self.max_characters = max_characters
        self.version = version
        self.media_processing_polls = media_processing_polls
        self.idempotency_ttl = idempotency_ttl
        self.port = port
        self.idempotency = idempotency
        self.links: Literal["short", "full"] = links
        self.too_long_status = too_long_status
        self.too_long_message = too_long_message
        self.scopes = {token: frozenset(granted) for token, granted in scopes.items()} if scopes is not None else None
        self.edits: Literal["mastodon", "replace"] = edits
        self.unpinned_count_for = unpinned_count_for
        self.rate_limits: dict[str, tuple[int, int]] = dict(RATE_LIMITS)  # change to provoke a real 429
        self.on_request: Callable[[Recorded], None] | None = None  # called before each request is processed
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._last_id = 0
        self._tokens = dict(tokens if tokens is not None else DEFAULT_TOKENS)
        self._revoked: set[str] = set()
        self._accounts: dict[str, _Account] = {}
        for username in dict.fromkeys(self._tokens.values()):
            self._accounts[username] = _Account(self._snowflake(), username, _iso(datetime.now(UTC)))
        self._statuses: dict[str, _Status] = {}
        self._media: dict[str, _Media] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._requests: list[Recorded] = []
        self._faults: list[tuple[str, str, Fault]] = []
        self._counters: dict[tuple[str, str, int], int] = {}
        self._errors: list[BaseException] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeMastodon:
        self._stopping.clear()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-mastodon", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections (a pooled keep-alive connection must not reach a
        stopped server). Raises the first error seen in `on_request` or in the fake itself, so a
        failed check inside a hook fails the test."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            errors = list(self._errors)
        if errors:
            raise RuntimeError(f"the fake Mastodon saw {len(errors)} error(s); the first: {errors[0]!r}") from errors[0]

    def __enter__(self) -> FakeMastodon:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, once started."""
        if self._server is None:
            raise RuntimeError("the fake Mastodon is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- test controls ---------------------------------------------------------------------------

    def fail(self, method: str, path_prefix: str, *faults: Fault) -> None:
        """Queue faults for requests whose method matches (``"*"``: any) and whose path starts
        with ``path_prefix``. Each matching request consumes the oldest matching fault."""
        with self._lock:
            self._faults.extend((method.upper(), path_prefix, fault) for fault in faults)

    def revoke(self, token: str) -> None:
        """Later requests with this token get Doorkeeper's 401 for a revoked token."""
        with self._lock:
            self._revoked.add(token)

    @property
    def faults_left(self) -> int:
        """Queued faults no request has consumed yet."""
        with self._lock:
            return len(self._faults)

    @property
    def requests(self) -> list[Recorded]:
        """Every request, in order of arrival."""
        with self._lock:
            return list(self._requests)

    @property
    def statuses(self) -> list[dict[str, Any]]:
        """Every status created (a replayed Idempotency-Key creates none), in order, as its owner
        reads it now (``spoiler_text``, ``sensitive``, ``visibility``, ``language``, ...), plus
        ``text`` (the source text), ``media_ids``, ``pinned`` (always there, false once
        deleted), ``deleted``, ``idempotency_key`` (the header as sent, remembered or not) and
        ``edits``: the history, oldest first, each with ``text``, ``spoiler_text``,
        ``sensitive``, ``media_ids``, ``language`` and ``created_at`` (empty until edited)."""
        with self._lock:
            result = []
            for record in self._statuses.values():
                rendered = self._render_status(record, record.account)
                rendered.update(
                    text=record.text,
                    media_ids=list(record.media_ids),
                    pinned=record.id in record.account.pins,
                    deleted=record.deleted,
                    idempotency_key=record.idempotency_key,
                    edits=[
                        {
                            "text": version.text,
                            "spoiler_text": version.spoiler_text,
                            "sensitive": version.sensitive,
                            "media_ids": list(version.media_ids),
                            "language": version.language,
                            "created_at": version.created_at,
                        }
                        for version in record.versions
                    ],
                )
                result.append(rendered)
            return result

    @property
    def media(self) -> list[dict[str, Any]]:
        """Every upload, in order, as the API renders it, plus ``status_id``, ``deleted``, ``mime_type``
        and ``data`` (the bytes received)."""
        with self._lock:
            return [
                {
                    **self._render_media(item),
                    "status_id": item.status_id,
                    "deleted": item.deleted,
                    "mime_type": item.mime_type,
                    "data": item.data,
                }
                for item in self._media.values()
            ]

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by `on_request` or by the fake itself (answered with 500)."""
        with self._lock:
            return list(self._errors)

    # -- serving ------------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        at = time.monotonic()
        target = urlsplit(handler.path)
        headers = Headers(handler.headers.items())
        record = Recorded(handler.command, target.path, target.query, headers, self._read_body(handler), at)
        with self._lock:
            self._requests.append(record)
        if self.on_request is not None:
            try:
                self.on_request(record)
            except BaseException as error:  # a failed check in the test's hook: reported by stop()
                with self._lock:
                    self._errors.append(error)
        with self._lock:
            fault = self._take_fault(record)
            record.fault = fault
        answer: _Answer | None = None
        if fault is not None and fault.kind in ("delay", "hang"):
            self._stopping.wait(fault.seconds)
            if fault.kind == "hang":
                self._hang_up(handler)
                return
        if fault is not None and fault.kind == "status":
            answer = self._fault_answer(fault, record)
        if answer is None:
            try:
                with self._lock:
                    answer = self._process(record)
            except Exception as error:  # a bug in the fake: answer like a server would, report at stop()
                with self._lock:
                    self._errors.append(error)
                answer = self._json(500, {"error": f"fake Mastodon failed: {error!r}"})
        if fault is not None and fault.kind == "drop_after":
            self._hang_up(handler)
            return
        with self._lock:
            record.status = answer.code
        self._send(handler, answer)

    @staticmethod
    def _read_body(handler: _Handler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    return b"".join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    @staticmethod
    def _hang_up(handler: _Handler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _send(handler: _Handler, answer: _Answer) -> None:
        try:
            handler.send_response(answer.code)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(answer.body)
            handler.wfile.flush()
        except OSError:  # the client gave up (its timeout): nothing to answer to
            handler.close_connection = True

    def _take_fault(self, record: Recorded) -> Fault | None:
        for index, (method, prefix, fault) in enumerate(self._faults):
            if method in ("*", record.method) and record.path.startswith(prefix):
                del self._faults[index]
                return fault
        return None

    def _fault_answer(self, fault: Fault, record: Recorded) -> _Answer:
        body = fault.body
        if body is None:
            body = {"error": HTTPStatus(fault.code).phrase}
        if isinstance(body, bytes):
            answer = _Answer(fault.code, body, {"content-type": "application/octet-stream"})
        elif isinstance(body, str):
            answer = _Answer(fault.code, body.encode(), {"content-type": "text/html; charset=utf-8"})
        else:
            answer = self._json(fault.code, body)
        if record.path.startswith("/api/"):
            with self._lock:
                limit, remaining, reset = self._rate_state(self._bucket(record), self._rate_key(record), count=False)
            answer.headers.update(self._rate_headers(limit, 0 if fault.code == 429 else remaining, reset))
        answer.headers.update(dict(fault.headers))
        return answer

    # -- dispatch ---------------------------------------------------------------------------------

    def _process(self, record: Recorded) -> _Answer:
        """Rate limit (counted first, as Rack::Attack does), route, (on Mastodon 4.3+, for the
        Statuses::BaseController routes, the status), token and scope, parameters, endpoint."""
        api = record.path.startswith("/api/")
        rate = self._rate_state(self._bucket(record), self._rate_key(record), count=True) if api else None
        try:
            if rate is not None and rate[1] < 0:
                raise _Refusal(429, TOO_MANY_REQUESTS)
            route, match = self._route(record)
            if route is None or match is None:
                raise _Refusal(404, NOT_FOUND)
            if route.status_first and self._looks_up_status_first():
                self._find_visible(match.group(1), self._token_account(record))
            account = self._authenticate(record, route)
            try:
                params, files = _parse_params(record.query, record.headers.get("Content-Type", ""), record.body)
            except (ValueError, UnicodeDecodeError) as error:
                raise _Refusal(400, "Error occurred while parsing request parameters") from error
            answer: _Answer = getattr(self, route.handler)(_Call(record, match, account, params, files))
        except _Refusal as refusal:
            answer = self._json(refusal.code, {"error": refusal.message})
            answer.headers.update(refusal.headers)
        if rate is not None:
            answer.headers.update(self._rate_headers(*rate))
        return answer

    @staticmethod
    def _route(record: Recorded) -> tuple[_Route | None, re.Match[str] | None]:
        path = record.path.rstrip("/") or "/"  # Rails ignores a trailing slash; Mastodon.py sends some
        for route in ROUTES:
            match = route.pattern.match(path)
            if match and route.method == record.method:
                return route, match
        return None, None

    @staticmethod
    def _token(record: Recorded) -> str:
        scheme, _, token = record.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def _token_account(self, record: Recorded) -> _Account | None:
        """current_account: the token's account if the token is valid, else nobody."""
        token = self._token(record)
        if token in self._revoked or token not in self._tokens:
            return None
        return self._accounts[self._tokens[token]]

    def _authenticate(self, record: Recorded, route: _Route) -> _Account | None:
        """Doorkeeper: no or an unknown token is "invalid", a revoked one "revoked" (401); a
        token without any of the route's scopes is refused (403) when scopes are checked. Public
        endpoints ignore the token, ``if_given`` ones check it only when there is one."""
        if route.auth == "none":
            return None
        token = self._token(record)
        if not token and route.auth == "if_given":
            return None
        if token in self._revoked:
            raise self._unauthorized(TOKEN_REVOKED)
        if token not in self._tokens:
            raise self._unauthorized(TOKEN_INVALID)
        granted = self.scopes.get(token) if self.scopes is not None else None
        if granted is not None and route.scopes and not granted & route.scopes:
            raise _Refusal(403, OUT_OF_SCOPE)
        return self._accounts[self._tokens[token]]

    def _looks_up_status_first(self) -> bool:
        """Mastodon 4.3 (mastodon#27794) moved pin, unpin, source and history under
        Api::V1::Statuses::BaseController, whose set_status runs before their scope check.
        Older Mastodons and other servers (another ``version``) check the scope first."""
        found = re.match(r"\A(\d+)\.(\d+)", self.version)
        return found is not None and (int(found.group(1)), int(found.group(2))) >= (4, 3)

    @staticmethod
    def _unauthorized(message: str) -> _Refusal:
        challenge = f'Bearer realm="Doorkeeper", error="invalid_token", error_description="{message}"'
        return _Refusal(401, message, {"www-authenticate": challenge})

    # -- rate limits ------------------------------------------------------------------------------

    @staticmethod
    def _bucket(record: Recorded) -> str:
        if record.method == "POST" and record.path == "/api/v1/statuses":
            return "statuses"
        if record.method == "DELETE" and re.fullmatch(r"/api/v1/statuses/\d+", record.path):
            return "deletes"
        if record.method == "POST" and record.path in ("/api/v1/media", "/api/v2/media"):
            return "media"
        return "api"

    def _rate_key(self, record: Recorded) -> str:
        """Per account for a known token, else per client (there is only one: 127.0.0.1)."""
        username = self._tokens.get(self._token(record))
        return f"account:{username}" if username else "ip:127.0.0.1"

    def _rate_state(self, bucket: str, key: str, *, count: bool) -> tuple[int, int, float]:
        """(limit, remaining, reset as epoch seconds); remaining < 0 means over the limit."""
        limit, period = self.rate_limits[bucket]
        now = time.time()
        window = int(now) // period
        used = self._counters.get((bucket, key, window), 0) + (1 if count else 0)
        if count:
            self._counters[(bucket, key, window)] = used
        return limit, limit - used, now + (period - int(now) % period)

    @staticmethod
    def _rate_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
        moment = datetime.fromtimestamp(reset, UTC)
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(remaining, 0)),
            "x-ratelimit-reset": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    # -- answers ----------------------------------------------------------------------------------

    @staticmethod
    def _json(code: int, document: Any, headers: dict[str, str] | None = None) -> _Answer:
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        return _Answer(
            code,
            body,
            {
                "cache-control": "private, no-store",
                "content-type": "application/json; charset=utf-8",
                "vary": "Authorization, Origin",
                "x-request-id": str(uuid.uuid4()),
                **(headers or {}),
            },
        )

    def _snowflake(self) -> str:
        """Mastodon's ids: milliseconds since the epoch shifted left by 16 bits, plus a sequence;
        strings, increasing with time."""
        candidate = int(time.time() * 1000) << 16
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    # -- rendering --------------------------------------------------------------------------------

    def _render_account(self, account: _Account, *, credentials: bool = False) -> dict[str, Any]:
        mine = sorted(
            (s for s in self._statuses.values() if s.account is account and not s.deleted), key=lambda s: int(s.id)
        )
        rendered: dict[str, Any] = {
            "id": account.id,
            "username": account.username,
            "acct": account.username,
            "display_name": account.username,
            "locked": False,
            "bot": False,
            "discoverable": True,
            "indexable": True,
            "group": False,
            "created_at": account.created_at,
            "note": "",
            "url": f"{self.url}/@{account.username}",
            "uri": f"{self.url}/users/{account.username}",
            "avatar": f"{self.url}/avatars/original/missing.png",
            "avatar_static": f"{self.url}/avatars/original/missing.png",
            "avatar_description": "",
            "header": f"{self.url}/headers/original/missing.png",
            "header_static": f"{self.url}/headers/original/missing.png",
            "header_description": "",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(mine),
            "last_status_at": mine[-1].created_at[:10] if mine else None,
            "hide_collections": False,
            "show_media": True,
            "show_media_replies": True,
            "show_featured": True,
            "noindex": False,
            "feature_approval": {"automatic": [], "manual": [], "current_user": "denied"},
        }
        if credentials:
            rendered["source"] = {
                "privacy": "public",
                "sensitive": False,
                "language": None,
                "note": "",
                "fields": [],
                "follow_requests_count": 0,
                "hide_collections": False,
                "discoverable": True,
                "indexable": True,
                "attribution_domains": [],
                "quote_policy": "public",
            }
        rendered.update(emojis=[], roles=[], fields=[])
        if credentials:
            rendered["role"] = {"id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": False}
        return rendered

    def _render_media(self, media: _Media) -> dict[str, Any]:
        base = f"{self.url}/system/media_attachments/files/{media.id}"
        meta: dict[str, Any] = {}
        if media.focus is not None:
            meta["focus"] = {"x": media.focus[0], "y": media.focus[1]}
        if media.size is not None:
            width, height = media.size
            meta["original"] = {"width": width, "height": height, "size": f"{width}x{height}", "aspect": width / height}
            scale = min(1.0, math.sqrt(640 * 360 / (width * height)))  # Mastodon's "small": at most 230,400 pixels
            small = (round(width * scale), round(height * scale))
            meta["small"] = {
                "width": small[0],
                "height": small[1],
                "size": f"{small[0]}x{small[1]}",
                "aspect": width / height,
            }
        return {
            "id": media.id,
            "type": media.type,
            "url": f"{base}/original/{media.file_name}" if media.processed else None,
            "preview_url": f"{base}/small/{media.file_name}",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": meta,
            "description": media.description,
            "blurhash": "UGC~-#M{0JfkNFofR%M{IURj%Mt7E0oM%MR*" if media.type == "image" else None,
        }

    def _render_status(self, status: _Status, viewer: _Account | None, *, source: bool = False) -> dict[str, Any]:
        """REST::StatusSerializer: ``pinned`` only for the owner, the viewer's flags only with a
        token, ``text`` instead of ``content`` when the source is asked for (DELETE)."""
        content, tags = _format(status.text, self.url)
        replies = sum(1 for s in self._statuses.values() if s.in_reply_to_id == status.id and not s.deleted)
        rendered: dict[str, Any] = {
            "id": status.id,
            "created_at": status.created_at,
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": status.in_reply_to_account_id,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language,
            "uri": f"{self.url}/users/{status.account.username}/statuses/{status.id}",
            "url": f"{self.url}/@{status.account.username}/{status.id}",
            "replies_count": replies,
            "reblogs_count": 0,
            "favourites_count": 0,
            "quotes_count": 0,
            "edited_at": status.edited_at,
        }
        if viewer is not None:
            rendered.update(favourited=False, reblogged=False, muted=False, bookmarked=False)
            if viewer is status.account and status.visibility != "direct":
                rendered["pinned"] = status.id in status.account.pins
        if source:
            rendered["text"] = status.text
        else:
            rendered["content"] = content
        if viewer is not None:
            rendered["filtered"] = []
        rendered.update(
            reblog=None,
            application={"name": "Herold tests", "website": None},
            account=self._render_account(status.account),
            media_attachments=[self._render_media(self._media[i]) for i in status.media_ids if i in self._media],
            mentions=[],
            tags=[{"name": tag.lower(), "url": f"{self.url}/tags/{tag.lower()}"} for tag in dict.fromkeys(tags)],
            emojis=[],
            tagged_collections=[],
            quote=None,
            card=None,
            poll=None,
            quote_approval={"automatic": ["public"], "manual": [], "current_user": "automatic"},
        )
        return rendered

    def _render_version(self, status: _Status, version: _Version) -> dict[str, Any]:
        return {
            "content": _format(version.text, self.url)[0],
            "spoiler_text": version.spoiler_text,
            "sensitive": version.sensitive,
            "created_at": version.created_at,
            "account": self._render_account(status.account),
            "media_attachments": [self._render_media(self._media[i]) for i in version.media_ids if i in self._media],
            "emojis": [],
        }

    def _configuration(self) -> dict[str, Any]:
        return {
            "urls": {"streaming": self.url.replace("http", "ws", 1)},
            "vapid": {"public_key": "BFake-Mastodon-vapid-key="},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": PIN_LIMIT},
            "statuses": {
                "max_characters": self.max_characters,
                "max_media_attachments": MAX_MEDIA,
                "characters_reserved_per_url": URL_LENGTH,
            },
            "media_attachments": {
                "supported_mime_types": list(SUPPORTED_MIME_TYPES),
                "description_limit": DESCRIPTION_LIMIT,
                "image_size_limit": IMAGE_LIMIT,
                "image_matrix_limit": 33177600,
                "video_size_limit": VIDEO_LIMIT,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8294400,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2629746,
            },
            "translation": {"enabled": False},
        }

    # -- endpoints: instance and accounts -----------------------------------------------------------

    def _domain(self) -> str:
        return self.url.removeprefix("http://")

    def _contact(self) -> dict[str, Any] | None:
        first = next(iter(self._accounts.values()), None)
        return self._render_account(first) if first else None

    def _instance_v2(self, call: _Call) -> _Answer:
        return self._json(
            200,
            {
                "domain": self._domain(),
                "title": "Fake Mastodon",
                "version": self.version,
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "A fake Mastodon server for Herold's tests",
                "usage": {"users": {"active_month": len(self._accounts)}},
                "thumbnail": {"url": f"{self.url}/packs/media/images/preview.png"},
                "icon": [],
                "languages": ["en"],
                "configuration": self._configuration(),
                "registrations": {"enabled": False, "approval_required": False, "message": None},
                "contact": {"email": "admin@example.invalid", "account": self._contact()},
                "rules": [],
            },
        )

    def _instance_v1(self, call: _Call) -> _Answer:
        configuration = self._configuration()
        return self._json(
            200,
            {
                "uri": self._domain(),
                "title": "Fake Mastodon",
                "short_description": "A fake Mastodon server for Herold's tests",
                "description": "",
                "email": "admin@example.invalid",
                "version": self.version,
                "urls": {"streaming_api": configuration["urls"]["streaming"]},
                "stats": {
                    "user_count": len(self._accounts),
                    "status_count": sum(1 for s in self._statuses.values() if not s.deleted),
                    "domain_count": 0,
                },
                "thumbnail": f"{self.url}/packs/media/images/preview.png",
                "languages": ["en"],
                "registrations": False,
                "approval_required": False,
                "invites_enabled": False,
                "configuration": {
                    key: configuration[key] for key in ("accounts", "statuses", "media_attachments", "polls")
                },
                "contact_account": self._contact(),
                "rules": [],
            },
        )

    def _verify_credentials(self, call: _Call) -> _Answer:
        return self._json(200, self._render_account(call.me(), credentials=True))

    def _account_by_id(self, account_id: str) -> _Account:
        for account in self._accounts.values():
            if account.id == account_id:
                return account
        raise _Refusal(404, NOT_FOUND)

    def _account(self, call: _Call) -> _Answer:
        return self._json(200, self._render_account(self._account_by_id(call.match.group(1))))

    def _account_statuses(self, call: _Call) -> _Answer:
        """Newest first; ``limit`` (default 20, at most 40), ``max_id``, ``since_id``, ``min_id``,
        ``pinned``, ``exclude_replies``; a ``Link`` header for the next and previous pages."""
        account = self._account_by_id(call.match.group(1))
        p = call.params
        items = [s for s in self._statuses.values() if s.account is account and self._visible(s, call.account)]
        if _boolean(p.get("pinned"), False):
            items = [s for s in items if s.id in account.pins]
        if _boolean(p.get("exclude_replies"), False):
            items = [s for s in items if s.in_reply_to_id is None or s.in_reply_to_account_id == account.id]
        max_id, since_id, min_id = (_number(p.get(name)) for name in ("max_id", "since_id", "min_id"))
        if max_id is not None:
            items = [s for s in items if int(s.id) < max_id]
        if since_id is not None:
            items = [s for s in items if int(s.id) > since_id]
        requested = _number(p.get("limit"))
        limit = 20 if requested is None else min(abs(requested), 40)
        if min_id is not None:
            items = sorted((s for s in items if int(s.id) > min_id), key=lambda s: int(s.id))[:limit]
            items.reverse()
        else:
            items = sorted(items, key=lambda s: int(s.id), reverse=True)[:limit]
        headers = {}
        if items:
            page = f"{self.url}{call.record.path}"
            links = [
                f'<{page}?{urlencode({"limit": limit, "max_id": items[-1].id})}>; rel="next"',
                f'<{page}?{urlencode({"limit": limit, "min_id": items[0].id})}>; rel="prev"',
            ]
            headers["link"] = ", ".join(links)
        return self._json(200, [self._render_status(s, call.account) for s in items], headers)

    # -- endpoints: statuses ------------------------------------------------------------------------

    @staticmethod
    def _visible(status: _Status, viewer: _Account | None) -> bool:
        if status.deleted:
            return False
        return viewer is status.account or status.visibility in ("public", "unlisted")

    def _find_visible(self, status_id: str, viewer: _Account | None) -> _Status:
        found = self._statuses.get(status_id)
        if found is None or not self._visible(found, viewer):
            raise _Refusal(404, NOT_FOUND)
        return found

    def _find_own(self, status_id: str, owner: _Account) -> _Status:
        found = self._statuses.get(status_id)
        if found is None or found.deleted or found.account is not owner:
            raise _Refusal(404, NOT_FOUND)
        return found

    def _attachable(self, owner: _Account, ids: Any, status_id: str | None, *, strict: bool = True) -> list[_Media]:
        """PostStatusService#validate_media!: at most 4, the owner's and not attached elsewhere,
        no video among several, all processed. Rails drops a scalar ``media_ids``. Not
        ``strict`` (UpdateStatusService): ids not found are dropped instead of refused."""
        if not isinstance(ids, list) or not ids:
            return []
        ids = [str(i) for i in ids]
        if len(ids) > MAX_MEDIA:
            raise _Refusal(422, MEDIA_TOO_MANY)
        found = []
        for media_id in ids:
            media = self._media.get(media_id)
            if media and media.account is owner and not media.deleted and media.status_id in (None, status_id):
                found.append(media)
        missing = [i for i in ids if i not in {m.id for m in found}]
        if missing and strict:
            raise _Refusal(422, MEDIA_NOT_FOUND.format(ids=", ".join(missing)))
        if len(found) > 1 and any(m.type in ("video", "audio") for m in found):
            raise _Refusal(422, MEDIA_MIXED)
        if any(not m.processed for m in found):
            raise _Refusal(422, MEDIA_NOT_READY)
        return found

    def _check_text(self, text: str, spoiler_text: str, media: list[_Media]) -> None:
        """Status validations: text present unless there is media; StatusLengthValidator (or
        the other server's count and answer, as configured)."""
        length = status_length(text, spoiler_text, self.links)
        too_long = length > self.max_characters
        custom = self.too_long_message is not None or self.too_long_status != 422
        if too_long and custom:
            message = self.too_long_message if self.too_long_message is not None else TOO_LONG_GOTOSOCIAL
            raise _Refusal(self.too_long_status, message.format(max=self.max_characters, length=length))
        problems = []
        if not text and not media:
            problems.append(TEXT_BLANK)
        if too_long:
            problems.append(TOO_LONG.format(max=self.max_characters))
        if problems:
            raise _Refusal(422, "Validation failed: " + ", ".join(problems))

    @staticmethod
    def _language(value: Any, fallback: str) -> str:
        return str(value) if value is not None and LANGUAGE.match(str(value)) else fallback

    def _create_status(self, call: _Call) -> _Answer:
        """Api::V1::StatusesController#create and PostStatusService, in their order: the reply
        target, the idempotency key (a replay answers the original, even with another body), the
        media, the text."""
        me, p = call.me(), call.params
        thread = None
        if p.get("in_reply_to_id"):
            try:
                thread = self._find_visible(str(p["in_reply_to_id"]), me)
            except _Refusal:
                raise _Refusal(404, REPLY_NOT_FOUND) from None
        key = call.record.headers.get("Idempotency-Key")
        if key and self.idempotency:
            remembered = self._idempotency.get((me.id, key))
            if remembered and remembered[1] > time.monotonic():
                original = self._statuses[remembered[0]]
                if original.deleted:
                    raise _Refusal(404, NOT_FOUND)
                return self._json(200, self._render_status(original, me))
        if p.get("poll") or p.get("scheduled_at"):
            raise _Refusal(422, "polls and scheduled statuses are not emulated by the fake Mastodon")
        media = self._attachable(me, p.get("media_ids"), None)
        text = str(p.get("status") or "").strip()
        spoiler_text = str(p.get("spoiler_text") or "").strip()
        if not text and spoiler_text:  # PostStatusService: a warning without text becomes the text
            text, spoiler_text = spoiler_text, ""
        visibility = str(p.get("visibility") or "public")
        if visibility not in VISIBILITIES:
            raise _Refusal(422, f"'{visibility}' is not a valid visibility")
        self._check_text(text, spoiler_text, media)
        in_reply_to_account_id = None
        if thread is not None:  # Status#carried_over_reply_to_account_id
            own_thread = thread.account is me and thread.in_reply_to_id is not None
            in_reply_to_account_id = thread.in_reply_to_account_id if own_thread else thread.account.id
        record = _Status(
            id=self._snowflake(),
            account=me,
            text=text,
            spoiler_text=spoiler_text,
            sensitive=_boolean(p.get("sensitive"), False) or bool(spoiler_text),
            visibility=visibility,
            language=self._language(p.get("language"), "en"),
            in_reply_to_id=thread.id if thread else None,
            in_reply_to_account_id=in_reply_to_account_id,
            media_ids=[m.id for m in media],
            created_at=_iso(datetime.now(UTC)),
            idempotency_key=key or None,
        )
        for item in media:
            item.status_id = record.id
        self._statuses[record.id] = record
        if key and self.idempotency:
            self._idempotency[(me.id, key)] = (record.id, time.monotonic() + self.idempotency_ttl)
        return self._json(200, self._render_status(record, me))

    def _get_status(self, call: _Call) -> _Answer:
        return self._json(200, self._render_status(self._find_visible(call.match.group(1), call.account), call.account))

    def _edit_status(self, call: _Call) -> _Answer:
        """Api::V1::StatusesController#update and UpdateStatusService (see the module docstring):
        every field is handed on, sent or not, so one left out is reset -- except the language,
        kept unless a valid one is sent; the visibility stays. Empty text takes the content
        warning's text, and the warning then stays as it was. The first edit keeps the original
        as the first history entry; an edit that changes nothing is no edit (200, as it was).
        ``edits="replace"``: Takahē's Post.edit_local, which also resets the language and the
        ``sensitive`` flag and makes the status public."""
        me, p = call.me(), call.params
        record = self._find_own(call.match.group(1), me)
        if p.get("poll"):
            raise _Refusal(422, "polls are not emulated by the fake Mastodon")
        media = self._attachable(me, p.get("media_ids"), record.id, strict=False)
        attributes = self._media_attributes(p.get("media_attributes"), media)
        text = str(p.get("status") or "").strip()
        spoiler_text = str(p.get("spoiler_text") or "").strip()
        visibility, language = record.visibility, self._language(p.get("language"), record.language)
        sensitive = _boolean(p.get("sensitive"), False) or bool(spoiler_text)
        if self.edits == "replace":
            visibility, language = "public", self._language(p.get("language"), "en")
            sensitive = _boolean(p.get("sensitive"), False)
        elif not text:  # @options.delete(:spoiler_text): the warning moves into the text
            text, spoiler_text, sensitive = spoiler_text, record.spoiler_text, _boolean(p.get("sensitive"), False)
        media_ids = [m.id for m in media]
        after = (text, spoiler_text, sensitive, language, visibility, media_ids)
        before = (record.text, record.spoiler_text, record.sensitive, record.language, record.visibility)
        if self.edits == "mastodon" and after == (*before, record.media_ids) and not attributes:  # no changes
            return self._json(200, self._render_status(record, me))
        self._check_text(text, spoiler_text, media)
        now = _iso(datetime.now(UTC))
        if not record.versions:
            record.versions.append(self._version(record, record.created_at))
        for item in media:  # images the edit leaves out stay the status's (status_id), unshown
            item.status_id = record.id
        for item, description, focus in attributes:
            item.description = description if description is not None else item.description
            item.focus = focus if focus is not None else item.focus
        record.text, record.spoiler_text, record.sensitive = text, spoiler_text, sensitive
        record.language, record.visibility, record.media_ids = language, visibility, media_ids
        record.edited_at = now
        record.versions.append(self._version(record, now))
        return self._json(200, self._render_status(record, me))

    @staticmethod
    def _version(record: _Status, at: str) -> _Version:
        return _Version(record.text, record.spoiler_text, record.sensitive, list(record.media_ids), at, record.language)

    @staticmethod
    def _media_attributes(
        attributes: Any, media: list[_Media]
    ) -> list[tuple[_Media, str | None, tuple[float, float] | None]]:
        """``media_attributes``: (image, new description, new focus) for the images the edit
        keeps whose description or focus it changes; others are ignored, as Mastodon does."""
        changes = []
        for item in attributes if isinstance(attributes, list) else []:
            target = next((m for m in media if isinstance(item, dict) and m.id == str(item.get("id"))), None)
            if target is None:
                continue
            description = None if item.get("description") is None else str(item["description"])
            if description is not None and len(description) > DESCRIPTION_LIMIT:
                raise _Refusal(422, DESCRIPTION_TOO_LONG)
            focus = None
            if item.get("focus"):
                x, _, y = str(item["focus"]).partition(",")
                focus = (float(x), float(y))
            if (description is not None and description != target.description) or (
                focus is not None and focus != target.focus
            ):
                changes.append((target, description, focus))
        return changes

    def _delete_status(self, call: _Call) -> _Answer:
        """Answers the status as it was, with ``text`` instead of ``content``. Its media become
        free to attach again, unless ``delete_media`` is true."""
        me = call.me()
        record = self._find_own(call.match.group(1), me)
        answer = self._json(200, self._render_status(record, me, source=True))
        record.deleted = True
        if record.id in me.pins:
            me.pins.remove(record.id)
        delete_media = _boolean(call.params.get("delete_media"), False)
        for media_id in record.media_ids:
            if delete_media:
                self._media[media_id].deleted = True
            else:
                self._media[media_id].status_id = None
        return answer

    def _status_source(self, call: _Call) -> _Answer:
        record = self._find_visible(call.match.group(1), call.account)
        return self._json(200, {"id": record.id, "text": record.text, "spoiler_text": record.spoiler_text})

    def _status_history(self, call: _Call) -> _Answer:
        record = self._find_visible(call.match.group(1), call.account)
        versions = record.versions or [self._version(record, record.created_at)]
        return self._json(200, [self._render_version(record, version) for version in versions])

    def _pin(self, call: _Call) -> _Answer:
        """StatusPinValidator's checks, then the database's unique index (a second pin). With
        ``unpinned_count_for``, other statuses unpinned that recently count toward the limit."""
        me = call.me()
        record = self._find_visible(call.match.group(1), me)
        now = time.monotonic()
        recent = {
            status_id
            for status_id, at in me.unpinned.items()
            if now - at < self.unpinned_count_for and status_id not in me.pins and status_id != record.id
        }
        problems = []
        if record.account is not me:
            problems.append(PIN_OWNERSHIP)
        if record.visibility == "direct":
            problems.append(PIN_DIRECT)
        if len(me.pins) + len(recent) >= PIN_LIMIT:
            problems.append(PIN_LIMIT_REACHED)
        if problems:
            raise _Refusal(422, "Validation failed: " + ", ".join(problems))
        if record.id in me.pins:
            raise _Refusal(422, "Duplicate record")
        me.pins.append(record.id)
        return self._json(200, self._render_status(record, me))

    def _unpin(self, call: _Call) -> _Answer:
        me = call.me()
        record = self._find_visible(call.match.group(1), me)
        if record.id in me.pins:
            me.pins.remove(record.id)
            me.unpinned[record.id] = time.monotonic()
        return self._json(200, self._render_status(record, me))

    # -- endpoints: media ---------------------------------------------------------------------------

    def _upload_media(self, call: _Call) -> _Answer:
        """POST /api/v2/media: 202 with ``url`` null while processing, else 200. The type comes
        from the bytes where they are a known image (as Mastodon sniffs them), else from the
        part's Content-Type. The deprecated /api/v1/media always waits: 200."""
        me, p = call.me(), call.params
        upload = call.files.get("file")
        if upload is None:
            raise _Refusal(422, "Validation failed: File can't be blank")
        sniffed = _sniff(upload.data)
        mime_type = sniffed or upload.content_type
        if mime_type not in SUPPORTED_MIME_TYPES or (upload.content_type in SNIFFED_IMAGES and sniffed is None):
            raise _Refusal(422, "Validation failed: File content type is invalid, File is invalid")
        kind = mime_type.split("/")[0]
        limit = IMAGE_LIMIT if kind == "image" else VIDEO_LIMIT
        if len(upload.data) > limit:
            raise _Refusal(422, f"Validation failed: File file size must be less than {limit // (1024 * 1024)} MB")
        description = p.get("description")
        if description is not None and len(str(description)) > DESCRIPTION_LIMIT:
            raise _Refusal(422, DESCRIPTION_TOO_LONG)
        focus = None
        if p.get("focus"):
            x, _, y = str(p["focus"]).partition(",")
            focus = (float(x), float(y))
        polls = self.media_processing_polls if call.record.path == "/api/v2/media" else 0
        media = _Media(
            id=self._snowflake(),
            account=me,
            type="gifv" if mime_type == "image/gif" else kind if kind in ("image", "video", "audio") else "unknown",
            mime_type=mime_type,
            data=upload.data,
            file_name=secrets.token_hex(8) + EXTENSIONS.get(mime_type, ""),
            description=str(description) if description is not None else None,
            focus=focus,
            size=_image_size(upload.data, mime_type),
            pending_polls=polls,
            processed=polls <= 0,
        )
        self._media[media.id] = media
        return self._json(200 if media.processed else 202, self._render_media(media))

    def _own_unattached_media(self, call: _Call) -> _Media:
        media = self._media.get(call.match.group(1))
        if media is None or media.deleted or media.account is not call.me() or media.status_id is not None:
            raise _Refusal(404, NOT_FOUND)
        return media

    def _get_media(self, call: _Call) -> _Answer:
        """206 while processing (``url`` null), then 200. Processing ends with the poll after
        the last 206, so attaching before seeing a 200 fails as it may on a real server."""
        media = self._own_unattached_media(call)
        if not media.processed:
            if media.pending_polls > 0:
                media.pending_polls -= 1
                return self._json(206, self._render_media(media))
            media.processed = True
        return self._json(200, self._render_media(media))

    def _update_media(self, call: _Call) -> _Answer:
        media = self._own_unattached_media(call)
        description = call.params.get("description")
        if description is not None:
            if len(str(description)) > DESCRIPTION_LIMIT:
                raise _Refusal(422, DESCRIPTION_TOO_LONG)
            media.description = str(description)
        if call.params.get("focus"):
            x, _, y = str(call.params["focus"]).partition(",")
            media.focus = (float(x), float(y))
        return self._json(200 if media.processed else 206, self._render_media(media))

    def _delete_media(self, call: _Call) -> _Answer:
        media = self._media.get(call.match.group(1))
        if media is None or media.deleted or media.account is not call.me():
            raise _Refusal(404, NOT_FOUND)
        if media.status_id is not None:
            raise _Refusal(422, "Media attachment is currently used by a status")
        media.deleted = True
        return self._json(200, {})

    def _media_file(self, call: _Call) -> _Answer:
        """The uploaded bytes at the attachment's ``url`` (and ``preview_url``), as a file server."""
        media = self._media.get(call.match.group(1))
        if media is None or media.deleted or (call.match.group(2) == "original" and not media.processed):
            return _Answer(404, b"Not Found", {"content-type": "text/plain"})
        return _Answer(200, media.data, {"content-type": media.mime_type})
