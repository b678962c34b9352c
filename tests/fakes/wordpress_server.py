"""A fake WordPress for tests: real HTTP on 127.0.0.1, answering its REST API as WordPress 6 does,
and serving each published post's public page at its permalink.

Why a server and not a mock: the WordPress channel must write an item's post exactly once through
lost answers, keep its history through follow-ups, and hold wave 2 back until the public page is
there; a server that checks each call as WordPress does shows whether it would work there.

Usage::

    with FakeWordPress(users={"herold": PASSWORD}) as fake:
        fake.hide_pages(3)  # the next three page views answer 404 (a cache, a slow sync)
        ...  # point the channel at fake.site, user "herold", the password
        [post] = fake.posts

What it checks as WordPress does (wp-includes/rest-api, user.php, kses aside): HTTP Basic
authentication with an application password (compared without its spaces and other separators,
as ``wp_authenticate_application_password`` does), and its error bodies ``{"code": "rest_…",
"message": …, "data": {"status": …}}``: 401 ``incorrect_password`` / ``invalid_username`` for a
bad login (on every REST request that carries one), 401 ``rest_cannot_create``,
``rest_cannot_edit``, ``rest_not_logged_in``, ``rest_forbidden_context``, ``rest_forbidden_status``
without one, 403 ``rest_cannot_publish`` for a Contributor, 400 ``rest_invalid_json`` and
``rest_invalid_param`` (status, date, categories, per_page) with ``data.params``, 404
``rest_post_invalid_id``, ``rest_term_invalid``, ``rest_no_route``, 410 ``rest_already_trashed``.

Posts: JSON bodies; slugs made unique (``-2``, ``-3``); a trashed post's slug gets ``__trashed``
so that it is free again; unknown category ids are dropped (WordPress skips them silently), and a
post without one is in "Uncategorized" (1); a date (the site's local time) after now schedules the
post (status ``future``), whose page then answers 404 like a draft's. ``link`` follows the
``permalinks`` structure (``%year%``, ``%monthnum%``, ``%day%``, ``%postname%``, ``%post_id%``;
empty: ``/?p=<id>``, which redirects to the pretty permalink otherwise). ``context=edit`` gives
``content.raw`` and ``title.raw``; lists take ``slug``, ``search``, ``status`` (``any``: all but
the trash), ``categories``, ``per_page``, newest first. ``/users/me`` (roles and capabilities with
``context=edit``) and ``/categories/<id>``.

The public page shows the post's content as ``do_blocks`` renders it: block delimiters removed,
other HTML comments kept (``strip_comments=True`` removes them, as HTML minifiers do).

Faults, queued per method and path prefix with `FakeWordPress.fail`: `status` (answer instead of
processing), `drop_after` (process, then close the connection unanswered: the post exists, the
client never hears), `hang`.

Not emulated: kses (what an Author may not post is kept), revisions, autosaves, media, pages,
other post types and taxonomies, ``_embed``/``_fields``, multisite, cookies and nonces.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

__all__ = ["PASSWORD", "PRETTY", "FakeWordPress", "Fault", "Recorded", "drop_after", "hang", "status"]

PRETTY = "/%year%/%monthnum%/%postname%/"
PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"  # an application password as WordPress shows it
STATUSES = ("publish", "future", "draft", "pending", "private")
ROLES: dict[str, set[str]] = {
    "administrator": {"edit_posts", "publish_posts", "edit_others_posts", "delete_posts", "manage_options"},
    "editor": {"edit_posts", "publish_posts", "edit_others_posts", "delete_posts"},
    "author": {"edit_posts", "publish_posts", "delete_posts"},
    "contributor": {"edit_posts"},
    "subscriber": set(),
}
UNCATEGORIZED = 1


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "drop_after", "hang"]
    code: int = 0
    body: Any = None
    seconds: float = 0.0


def status(code: int, body: Any = None) -> Fault:
    """Answer ``code`` with ``body`` (JSON; None: WordPress's error body for it) instead of processing."""
    return Fault("status", code=code, body=body)


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
    query: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    at: datetime
    status: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Post:
    id: int
    author: int
    slug: str
    status: str
    title: str
    content: str
    date: datetime  # the site's local time, without a zone (as WordPress's post_date)
    modified: datetime
    categories: list[int] = field(default_factory=list)


@dataclass
class _Answer:
    code: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class _Refusal(Exception):
    def __init__(self, code: int, error: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.answer = _json(code, {"code": error, "message": message, "data": {"status": code, **data}})


def _json(code: int, body: Any, headers: dict[str, str] | None = None) -> _Answer:
    encoded = json.dumps(body).encode()
    return _Answer(code, encoded, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})})


def _invalid(**params: str) -> _Refusal:
    return _Refusal(400, "rest_invalid_param", f"Invalid parameter(s): {', '.join(params)}", params=params)


_BLOCK_DELIMITER = re.compile(r"<!-- /?wp:[^>]*-->\n?")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_NOT_SLUG = re.compile(r"[^a-z0-9_-]+")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeWordPress


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests uses it
    disable_nagle_algorithm = True  # answer in one round trip, as real servers do
    server: _Server

    def _serve(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `FakeWordPress.requests` instead."""


class FakeWordPress:
    """A WordPress site on 127.0.0.1 (see the module docstring). Thread-safe: requests are
    processed under one lock; the inspection properties return copies."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        roles: Mapping[str, str] | None = None,
        permalinks: str = PRETTY,
        categories: Mapping[int, str] | None = None,
        timezone: str = "Europe/Berlin",
        strip_comments: bool = False,
    ) -> None:
        """``users``: login → application password; ``roles``: login → role (default editor)."""
        self.users = dict(users if users is not None else {"herold": PASSWORD})
        self.roles = {login: (roles or {}).get(login, "editor") for login in self.users}
        self.permalinks = permalinks
        self.categories = {UNCATEGORIZED: "Uncategorized", **(categories or {})}
        self.zone = ZoneInfo(timezone)
        self.strip_comments = strip_comments
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._posts: dict[int, _Post] = {}
        self._last_id = 100
        self._requests: list[Recorded] = []
        self._faults: list[tuple[str, str, Fault]] = []
        self._hidden: int | None = 0  # page views still to answer 404 (None: until shown)
        self._pages: list[tuple[datetime, int]] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeWordPress:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-wordpress", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeWordPress:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def site(self) -> str:
        """The site's address, ``http://127.0.0.1:<port>/``."""
        if self._server is None:
            raise RuntimeError("the fake WordPress is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    # -- test controls and inspection ----------------------------------------------------------

    def fail(self, method: str, path_prefix: str, *faults: Fault) -> None:
        """Queue faults for requests of ``method`` (``"*"``: any) whose path starts with the prefix."""
        with self._lock:
            self._faults.extend((method.upper(), path_prefix, fault) for fault in faults)

    def hide_pages(self, count: int | None = None) -> None:
        """Public post pages answer 404: the next ``count`` views, or (None) until `show_pages`."""
        with self._lock:
            self._hidden = count

    def show_pages(self) -> None:
        with self._lock:
            self._hidden = 0

    @property
    def posts(self) -> list[dict[str, Any]]:
        """Every post, trashed ones too, oldest first, as ``context=edit`` shows them."""
        with self._lock:
            return [self._shown(post, edit=True) for post in sorted(self._posts.values(), key=lambda p: p.id)]

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return [replace(r) for r in self._requests]

    @property
    def page_views(self) -> list[tuple[datetime, int]]:
        """When each public post page was asked for, and what it answered."""
        with self._lock:
            return list(self._pages)

    def page(self, post_id: int) -> str:
        """The public page's HTML as a visitor gets it once it is shown (no 404 counted)."""
        with self._lock:
            return self._page_html(self._posts[post_id])

    # -- serving -------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        target = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        record = Recorded(handler.command, target.path, target.query, headers, body, datetime.now(UTC))
        with self._lock:
            self._requests.append(record)
            queued = [
                i for i, (m, p, _) in enumerate(self._faults) if m in ("*", record.method) and record.path.startswith(p)
            ]
            fault = self._faults.pop(queued[0])[2] if queued else None
        if fault is not None and fault.kind == "hang":
            self._stopping.wait(fault.seconds)
            self._hang_up(handler)
            return
        if fault is not None and fault.kind == "status":
            answer = (
                _json(fault.code, fault.body)
                if fault.body is not None
                else _Refusal(fault.code, "fake_fault", f"a fault the test asked for ({fault.code})").answer
            )
        else:
            with self._lock:
                try:
                    answer = self._process(record)
                except _Refusal as refusal:
                    answer = refusal.answer
        if fault is not None and fault.kind == "drop_after":
            self._hang_up(handler)
            return
        with self._lock:
            record.status = answer.code
        self._send(handler, answer)

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
            handler.wfile.write(answer.body)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    def _process(self, record: Recorded) -> _Answer:
        if not record.path.startswith("/wp-json/"):
            return self._public(record)
        user = self._login(record)
        query = {name: values[-1] for name, values in parse_qs(record.query).items()}
        route = record.path.removeprefix("/wp-json").rstrip("/")
        method = record.method
        if route == "/wp/v2/posts" and method == "GET":
            return self._list(user, query)
        if route == "/wp/v2/posts" and method == "POST":
            return self._create(user, self._body(record))
        if match := re.fullmatch(r"/wp/v2/posts/(\d+)", route):
            post_id = int(match[1])
            if method == "GET":
                return self._get(user, post_id, query)
            if method in {"POST", "PUT", "PATCH"}:
                return self._update(user, post_id, self._body(record))
            if method == "DELETE":
                return self._delete(user, post_id, query)
        if route == "/wp/v2/users/me" and method == "GET":
            return self._me(user, query)
        if (match := re.fullmatch(r"/wp/v2/categories/(\d+)", route)) and method == "GET":
            return self._category(int(match[1]))
        raise _Refusal(404, "rest_no_route", "No route was found matching the URL and request method.")

    def _login(self, record: Recorded) -> str | None:
        """The user an application password logs in, None without one; a wrong one refuses the request."""
        header = record.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            login, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if login not in self.users:
            unknown = "<strong>Error:</strong> Unknown username. Check again or try your email address."
            raise _Refusal(401, "invalid_username", unknown)
        if _compact(password) != _compact(self.users[login]):
            raise _Refusal(401, "incorrect_password", "The provided password is an invalid application password.")
        return login

    @staticmethod
    def _body(record: Recorded) -> dict[str, Any]:
        if not record.body:
            return {}
        if not record.headers.get("content-type", "").startswith("application/json"):
            return {name: values[-1] for name, values in parse_qs(record.body.decode()).items()}
        try:
            body = json.loads(record.body)
        except ValueError:
            raise _Refusal(400, "rest_invalid_json", "Invalid JSON body passed.") from None
        if not isinstance(body, dict):
            raise _Refusal(400, "rest_invalid_json", "Invalid JSON body passed.")
        return body

    def _can(self, user: str | None, capability: str) -> bool:
        return user is not None and capability in ROLES[self.roles[user]]

    # -- posts ---------------------------------------------------------------------------------

    def _list(self, user: str | None, query: Mapping[str, str]) -> _Answer:
        edit = query.get("context") == "edit"
        if edit and not self._can(user, "edit_posts"):
            raise _Refusal(401 if user is None else 403, "rest_forbidden_context",
                           "Sorry, you are not allowed to edit posts in this post type.")  # fmt: skip
        statuses = [s for s in query.get("status", "publish").split(",") if s]
        for wanted in statuses:
            if wanted not in (*STATUSES, "trash", "any"):
                raise _invalid(status=f"status[0] is not one of {', '.join((*STATUSES, 'trash', 'any'))}.")
            if wanted != "publish" and not self._can(user, "edit_posts"):
                raise _Refusal(401 if user is None else 403, "rest_forbidden_status", "Status is forbidden.")
        per_page = query.get("per_page", "10")
        if not per_page.isdigit() or not 1 <= int(per_page) <= 100:
            raise _invalid(per_page="per_page must be between 1 (inclusive) and 100 (inclusive)")
        slugs = {s for s in query.get("slug", "").split(",") if s}
        search = query.get("search", "").casefold()
        category = int(query["categories"]) if query.get("categories", "").isdigit() else None
        found = [
            post
            for post in sorted(self._posts.values(), key=lambda p: (p.date, p.id), reverse=True)
            if (post.status in statuses or ("any" in statuses and post.status != "trash"))
            and (not slugs or post.slug in slugs)
            and (not search or search in post.title.casefold() or search in post.content.casefold())
            and (category is None or category in post.categories)
        ]
        return _json(200, [self._shown(post, edit=edit) for post in found[: int(per_page)]])

    def _create(self, user: str | None, body: Mapping[str, Any]) -> _Answer:
        if not self._can(user, "edit_posts"):
            raise _Refusal(401 if user is None else 403, "rest_cannot_create",
                           "Sorry, you are not allowed to create posts as this user.")  # fmt: skip
        assert user is not None
        wanted = self._status(body.get("status", "draft"))
        if wanted in {"publish", "future", "private"} and not self._can(user, "publish_posts"):
            raise _Refusal(403, "rest_cannot_publish", "Sorry, you are not allowed to publish posts in this post type.")
        now = self._now()
        date = self._posted_at(body) or now
        self._last_id += 1
        post = _Post(
            id=self._last_id, author=list(self.users).index(user) + 1, slug="", status=wanted,
            title=_text(body.get("title", "")), content=_text(body.get("content", "")), date=date, modified=now,
            categories=self._categories(body.get("categories", [])) or [UNCATEGORIZED],
        )  # fmt: skip
        if post.status == "publish" and date > now:
            post.status = "future"  # WordPress schedules a post dated in its future
        post.slug = self._unique(_sanitize(str(body.get("slug") or post.title)) or str(post.id), post.id)
        self._posts[post.id] = post
        return _json(201, self._shown(post, edit=True))

    def _get(self, user: str | None, post_id: int, query: Mapping[str, str]) -> _Answer:
        post = self._post(post_id)
        edit = query.get("context") == "edit"
        if edit and not self._can(user, "edit_posts"):
            raise _Refusal(401 if user is None else 403, "rest_forbidden_context",
                           "Sorry, you are not allowed to edit this post.")  # fmt: skip
        if post.status != "publish" and not self._can(user, "edit_posts"):
            raise _Refusal(401, "rest_forbidden", "Sorry, you are not allowed to do that.")
        return _json(200, self._shown(post, edit=edit))

    def _update(self, user: str | None, post_id: int, body: Mapping[str, Any]) -> _Answer:
        post = self._post(post_id)
        if not self._can(user, "edit_posts"):
            raise _Refusal(
                401 if user is None else 403, "rest_cannot_edit", "Sorry, you are not allowed to edit this post."
            )
        if "status" in body:
            post.status = self._status(body["status"])
        if "title" in body:
            post.title = _text(body["title"])
        if "content" in body:
            post.content = _text(body["content"])
        if "categories" in body:
            post.categories = self._categories(body["categories"]) or [UNCATEGORIZED]
        if "date" in body or "date_gmt" in body:
            post.date = self._posted_at(body) or post.date
        if body.get("slug"):
            post.slug = self._unique(_sanitize(str(body["slug"])), post.id)
        post.modified = self._now()
        return _json(200, self._shown(post, edit=True))

    def _delete(self, user: str | None, post_id: int, query: Mapping[str, str]) -> _Answer:
        post = self._post(post_id)
        if not self._can(user, "delete_posts"):
            raise _Refusal(401 if user is None else 403, "rest_cannot_delete",
                           "Sorry, you are not allowed to delete this post.")  # fmt: skip
        if query.get("force") in {"true", "1"}:
            del self._posts[post_id]
            return _json(200, {"deleted": True, "previous": self._shown(post, edit=True)})
        if post.status == "trash":
            raise _Refusal(410, "rest_already_trashed", "The post has already been deleted.")
        post.status, post.slug = "trash", f"{post.slug}__trashed"  # the slug is free again
        return _json(200, self._shown(post, edit=True))

    def _me(self, user: str | None, query: Mapping[str, str]) -> _Answer:
        if user is None:
            raise _Refusal(401, "rest_not_logged_in", "You are not currently logged in.")
        shown: dict[str, Any] = {"id": list(self.users).index(user) + 1, "name": user, "slug": user}
        if query.get("context") == "edit":
            role = self.roles[user]
            shown.update(username=user, roles=[role], capabilities={c: True for c in sorted(ROLES[role])})
        return _json(200, shown)

    def _category(self, category_id: int) -> _Answer:
        if category_id not in self.categories:
            raise _Refusal(404, "rest_term_invalid", "Term does not exist.")
        name = self.categories[category_id]
        return _json(200, {"id": category_id, "name": name, "slug": _sanitize(name), "taxonomy": "category"})

    # -- values ----------------------------------------------------------------------------------

    def _post(self, post_id: int) -> _Post:
        if post_id not in self._posts:
            raise _Refusal(404, "rest_post_invalid_id", "Invalid post ID.")
        return self._posts[post_id]

    @staticmethod
    def _status(value: Any) -> str:
        if value not in (*STATUSES, "trash"):
            raise _invalid(status=f"status is not one of {', '.join(STATUSES)}.")
        return str(value)

    def _posted_at(self, body: Mapping[str, Any]) -> datetime | None:
        """The post's date in the site's time: ``date_gmt`` (UTC, as WordPress takes it) wins over
        ``date`` (the site's own time)."""
        if "date_gmt" in body:
            gmt = self._date(body["date_gmt"], zone=UTC)
            return gmt.replace(tzinfo=UTC).astimezone(self.zone).replace(tzinfo=None)
        return self._date(body["date"]) if "date" in body else None

    def _date(self, value: Any, zone: Any = None) -> datetime:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise _invalid(date="Invalid date.") from None
        # With a zone: as WordPress, the moment in the site's time; without: the site's time already.
        return moment.astimezone(zone or self.zone).replace(tzinfo=None) if moment.tzinfo else moment

    def _categories(self, value: Any) -> list[int]:
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise _invalid(categories="categories[0] is not of type integer.")
        return [v for v in value if v in self.categories]  # unknown ids: skipped, as wp_set_object_terms does

    def _unique(self, slug: str, post_id: int) -> str:
        taken = {p.slug for p in self._posts.values() if p.id != post_id}
        candidate, number = slug, 2
        while candidate in taken:
            candidate, number = f"{slug}-{number}", number + 1
        return candidate

    def _now(self) -> datetime:
        return datetime.now(self.zone).replace(tzinfo=None, microsecond=0)

    def _link(self, post: _Post) -> str:
        if not self.permalinks or post.status in {"draft", "pending"}:
            return f"{self.site}?p={post.id}"
        path = (
            self.permalinks.replace("%year%", f"{post.date:%Y}").replace("%monthnum%", f"{post.date:%m}")
            .replace("%day%", f"{post.date:%d}").replace("%postname%", post.slug).replace("%post_id%", str(post.id))
        )  # fmt: skip
        return self.site.rstrip("/") + path

    def _shown(self, post: _Post, *, edit: bool) -> dict[str, Any]:
        rendered = _BLOCK_DELIMITER.sub("", post.content)
        shown: dict[str, Any] = {
            "id": post.id, "date": post.date.isoformat(), "date_gmt": self._gmt(post.date),
            "modified": post.modified.isoformat(), "modified_gmt": self._gmt(post.modified), "slug": post.slug,
            "status": post.status, "type": "post", "link": self._link(post), "author": post.author,
            "title": {"rendered": post.title}, "content": {"rendered": rendered, "protected": False},
            "categories": list(post.categories),
        }  # fmt: skip
        if edit:
            shown["title"]["raw"] = post.title
            shown["content"]["raw"] = post.content
        return shown

    def _gmt(self, local: datetime) -> str:
        return local.replace(tzinfo=self.zone).astimezone(UTC).replace(tzinfo=None).isoformat()

    # -- the public site ---------------------------------------------------------------------------

    def _public(self, record: Recorded) -> _Answer:
        query = parse_qs(record.query)
        post: _Post | None = None
        if record.path == "/" and "p" in query and query["p"][-1].isdigit():
            post = self._posts.get(int(query["p"][-1]))
            if post is not None and self.permalinks and post.status == "publish":
                return _Answer(301, headers={"Location": self._link(post)})
        else:
            wanted = self.site.rstrip("/") + record.path
            post = next((p for p in self._posts.values() if self._link(p) == wanted), None)
        if post is None or post.status != "publish" or self._hiding():
            self._pages.append((datetime.now(UTC), 404))
            return _Answer(404, b"<!DOCTYPE html><title>Seite nicht gefunden</title>", {"Content-Type": "text/html"})
        self._pages.append((datetime.now(UTC), 200))
        return _Answer(200, self._page_html(post).encode(), {"Content-Type": "text/html; charset=UTF-8"})

    def _hiding(self) -> bool:
        if self._hidden is None:
            return True
        if self._hidden > 0:
            self._hidden -= 1
            return True
        return False

    def _page_html(self, post: _Post) -> str:
        content = _BLOCK_DELIMITER.sub("", post.content)
        if self.strip_comments:
            content = _COMMENT.sub("", content)
        return (
            f'<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8"><title>{post.title}</title></head>\n'
            f'<body><main><article id="post-{post.id}"><h1>{post.title}</h1>\n{content}\n</article></main>'
            "</body></html>"
        )


def _compact(password: str) -> str:
    """As wp_authenticate_application_password: only letters and digits count."""
    return re.sub(r"[^a-z\d]", "", password, flags=re.IGNORECASE)


def _text(value: Any) -> str:
    """A title or content as sent: a string, or ``{"raw": …}``."""
    if isinstance(value, dict):
        value = value.get("raw", "")
    return str(value)


def _sanitize(text: str) -> str:
    """Roughly sanitize_title: lower case, words joined by hyphens."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-")
