"""HTTP: the JSON API for press offices and warning systems, and the public static site.

Every API call carries a bearer token of one authority: no token or an unknown one is 401,
a token of another authority is 403. Bad input is answered 400/422 with every problem in
plain words; nothing the client sends can produce a stack trace.
"""

# No "from __future__ import annotations" here: FastAPI reads the dependency annotations of the
# endpoints below at runtime, and they name a function local to create_app.
import json
import math
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import structlog
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher.core.approval import approval_refused
from publisher.domain.limits import LIMITS, nesting
from publisher.domain.problems import InvalidInput, Problem, Unavailable
from publisher.domain.records import PrivacyOverride, Role, Stage
from publisher.domain.text import forbidden_character, printable
from publisher.edges.api_docs import install_api_docs
from publisher.edges.app.pages import PREFIX, press_office
from publisher.edges.hooks import MAX_BODY as HOOK_BODY
from publisher.edges.hooks import PREFIX as HOOKS
from publisher.edges.hooks import install_hooks
from publisher.edges.throttle import Throttle
from publisher.edges.wiring import Herold
from publisher.engine.report import SHORT_ID, AnnouncementReport, Listing, listing, report
from publisher.engine.store import database_unavailable
from publisher.engine.tasks import confirm, release_by_override
from publisher.engine.worker import settled
from publisher.sources.intake import SourceConflict, approve, receive, submit
from publisher.sources.poll import Pollers
from publisher.sources.preview import Preview, preview

log = structlog.get_logger("herold.web")

# The public site loads nothing from anywhere else and runs no script (privacy, BITV).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=(), interest-cohort=()",
}
# The press office's app runs its own small script and posts its own forms; nothing from elsewhere.
APP_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


RETRY_AFTER_OUTAGE = 30  # seconds: a database back from a restart is usually back within that
SMALL_BODY = 64 * 1024  # every body but a new announcement's: a reason, a URL


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, problems: list[Problem] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.problems, self.headers = status, message, problems or [], headers or {}


class Caller(BaseModel):
    authority: str
    token_name: str
    role: Role = Role.editor


class ReleaseRequest(BaseModel):
    reason: Annotated[str, Field(min_length=10, max_length=2000)]  # kept in the audit log: a few words at least

    @field_validator("reason")
    @classmethod
    def _text(cls, value: str) -> str:
        found = forbidden_character(value)
        if found:
            raise ValueError(f"contains a control character ({found[1]}) at position {found[0]}; remove it")
        return value


class ConfirmRequest(BaseModel):
    url: Annotated[str, Field(min_length=8, max_length=1000, pattern=r"^https?://\S+$")] | None = None


class SiteFiles(StaticFiles):
    """The site's files, with the types feed readers and warning apps look for: a CAP document is
    application/cap+xml and the Atom feeds (the site's and the CAP index) application/atom+xml
    (by the last suffix alone, ".xml" says only XML)."""

    TYPES = ((".cap.xml", "application/cap+xml"), ("atom.xml", "application/atom+xml"))

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        for suffix, media_type in self.TYPES:
            if str(full_path).endswith(suffix):
                response.headers["content-type"] = media_type
                break
        return response


class SiteRouter:
    """Serves each authority's static site under its base URL (host and path; path alone as fallback)."""

    def __init__(self, sites: list[tuple[str, str, Path]]) -> None:
        self.sites = sorted(
            (
                (host, prefix, SiteFiles(directory=directory, html=True, check_dir=False))
                for host, prefix, directory in sites
            ),
            key=lambda site: len(site[1]),
            reverse=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "/")
        host = dict(scope.get("headers", [])).get(b"host", b"").decode(errors="replace")
        if scope["type"] == "http" and any(path + "/" == site[1] for site in self.sites):
            await RedirectResponse("/" + path.lstrip("/") + "/", status_code=301)(scope, receive, send)  # its root
            return
        matches = [site for site in self.sites if path.startswith(site[1])]
        chosen = next((site for site in matches if site[0] == host), matches[0] if matches else None)
        if chosen is None or scope["type"] != "http":
            await Response("Not found", status_code=404)(scope, receive, send)
            return
        _, prefix, files = chosen
        relative = path[len(prefix) :]
        if not path.endswith("/") and self._is_folder(files, relative):
            # A folder asked for without its slash. StaticFiles would redirect to an absolute URL
            # built from the client's Host header; a path alone (one leading slash: "//x" would
            # name another host) never leads anywhere else.
            query = scope.get("query_string", b"").decode("latin-1")
            location = "/" + path.lstrip("/") + "/" + (f"?{query}" if query else "")
            await RedirectResponse(location, status_code=301)(scope, receive, send)
            return
        inner = dict(scope, path="/" + relative, root_path=scope.get("root_path", "") + prefix.rstrip("/"))
        await files(inner, receive, send)

    @staticmethod
    def _is_folder(files: StaticFiles, relative: str) -> bool:
        if files.directory is None or "\x00" in relative:
            return False
        try:
            root = Path(files.directory).resolve()
            target = (root / relative.lstrip("/")).resolve()
            return target.is_relative_to(root) and (target / "index.html").is_file()
        except OSError:  # a name too long for the file system, say: no folder of ours
            return False


class SecurityHeaders:
    """The headers of SECURITY_HEADERS on every answer that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        in_app = str(scope.get("path", "")).startswith(f"{PREFIX}/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = APP_POLICY if in_app and name == "Content-Security-Policy" else value
                if in_app:  # pages with a person's session: never kept by a browser or a proxy
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, sending)


class BodyTooLarge(StarletteHTTPException):
    """413 wherever the body is read: an HTTP error, so that FastAPI's own body parsing passes it on."""

    def __init__(self, limit: int) -> None:
        size = f"{limit // 1_048_576} MiB" if limit % 1_048_576 == 0 else (
            f"{limit // 1_000_000} MB" if limit >= 1_000_000 else f"{limit // 1024} KiB")  # fmt: skip
        super().__init__(413, f"the body is larger than {size}, the most Herold takes here")

    def __str__(self) -> str:
        return str(self.detail)


class BodyLimit:
    """Every request body is counted while it streams in (a chunked one has no length to check
    first) and refused once it passes the limit for its path: a new announcement may carry four
    images, anything else a few words. Nothing is read further than that, whoever sends it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def limit_for(scope: Scope) -> int:
        # A new announcement and its preview may carry images (so may the form, as an upload);
        # nothing else is more than a line or two.
        path = str(scope.get("path", ""))
        if path.startswith(HOOKS):  # a warning system's message: 1 MiB, the most a CAP alert may be here
            return HOOK_BODY
        form = path.startswith(f"{PREFIX}/drafts/")
        return LIMITS.body_bytes if path in LARGE_BODIES or form else SMALL_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            _too_large_for_hook(scope)
            await _answer(scope, receive, send, 413, str(BodyTooLarge(limit)))
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _too_large_for_hook(scope: Scope) -> None:
    """A warning system's message refused for its size is an ingest refusal like any other: logged."""
    path = str(scope.get("path", ""))
    if path.startswith(HOOKS):
        client = scope.get("client")
        log.warning("ingest rejected", path=path[:200], status=413, reason="the body is larger than 1 MiB",
                    address=client[0] if client else "unknown")  # fmt: skip


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, error: str, **headers: str) -> None:
    await JSONResponse({"error": error}, status_code=status, headers=headers)(scope, receive, send)


LARGE_BODIES = frozenset({"/api/v1/announcements", "/api/v1/previews"})


class Contained:
    """Whatever escapes an endpoint ends here: one short JSON answer and one structured log line
    (never a traceback handed on to the server, which would print it past the log format and
    the redaction). A database outage is 503 with Retry-After, not an error of Herold's; a
    client that went away is not an error at all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def sending(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ClientDisconnect:
            log.info("the client went away before its request was read", path=scope.get("path"))
        except Exception as error:
            path = scope.get("path")
            if answered:  # too late for an answer: the connection is cut, the log says why
                log.exception("error after the answer had begun", path=path)
            elif isinstance(error, BodyTooLarge):
                _too_large_for_hook(scope)
                await _answer(scope, receive, send, 413, str(error))
            elif isinstance(error, Unavailable):
                log.warning("asked to try again", path=path, reason=str(error))
                await _answer(scope, receive, send, 503, str(error), **{"Retry-After": str(error.retry_after)})
            elif database_unavailable(error):
                log.error("the database is not reachable", path=path, reason=_first_line(error))
                await _answer(scope, receive, send, 503, "the database is not reachable right now; try again shortly",
                              **{"Retry-After": str(RETRY_AFTER_OUTAGE)})  # fmt: skip
            else:
                reference = uuid.uuid4().hex[:12]
                log.exception("unhandled error", path=path, reference=reference)
                await _answer(scope, receive, send, 500, f"internal error; it was logged with reference {reference}")


def _first_line(error: BaseException) -> str:
    return str(error).strip().split("\n", 1)[0][:300]


def create_app(herold: Herold, *, start: bool = True, long_lived: bool = False) -> FastAPI:
    """``long_lived``: the process serves from now on (``herold serve``), see worker.settled."""

    # The serving process also fetches what polled warning systems list (each round is claimed
    # in the database, so several processes, and herold beat, poll each list once).
    pollers = Pollers(herold.engine) if long_lived else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start:
            herold.start()
        if long_lived:
            settled()
        if pollers is not None:
            pollers.start()
        try:
            yield
        finally:
            if pollers is not None:
                pollers.stop()
            if start:
                herold.stop()

    app = FastAPI(
        title="Herold",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads its script from a CDN; api_docs renders the reference here
        redoc_url=None,
        openapi_url="/api/openapi.json",
        redirect_slashes=False,  # its redirects name the client's Host header; the API needs none
    )
    app.add_middleware(Contained)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries them, Contained's too
    throttle = Throttle()

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        body: dict[str, Any] = {"error": error.message}
        if error.problems:
            body["problems"] = [p.model_dump() for p in error.problems]
        return JSONResponse(body, status_code=error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            Problem(field=".".join(str(p) for p in e["loc"] if p != "body"), message=e["msg"]) for e in error.errors()
        ]
        return JSONResponse(
            {"error": "the request is not valid", "problems": [p.model_dump() for p in problems]}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": error.detail}, status_code=error.status_code)

    def caller(request: Request) -> Caller:
        address = request.client.host if request.client else "unknown"
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="herold"'}
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "send an API token: Authorization: Bearer <token>", headers=challenge)
        found = herold.store.tokens.authority_of(token.strip())
        # A valid token always passes: an address shared by many (a proxy, an office) must not let
        # one client lock everyone out. Tokens are 256 bits: a "valid" answer helps no guesser.
        wait = throttle.refused_for(address) if found is None else 0.0
        if wait > 0:
            raise ApiError(
                429, f"too many wrong API tokens from this address; try again in {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )  # fmt: skip
        if found is None:
            if throttle.failed(address):
                log.warning("too many wrong API tokens from one address; refusing it for a while", address=address,
                            failures=throttle.limit, seconds=throttle.lockout)  # fmt: skip
            raise ApiError(401, "the API token is not valid (unknown or revoked)", headers=challenge)
        return Caller(authority=found[0], token_name=found[1], role=found[2])

    def stored(announcement_id: str, who: Caller) -> AnnouncementReport:
        try:
            uuid.UUID(announcement_id)
        except ValueError:
            raise ApiError(404, "no such announcement") from None
        return own(report(herold.engine, announcement_id), who)

    def own(result: AnnouncementReport | None, who: Caller) -> AnnouncementReport:
        if result is None:
            raise ApiError(404, "no such announcement")
        if result.authority != who.authority:
            raise ApiError(403, f"this announcement belongs to another authority than '{who.authority}'")
        return result

    @app.post("/api/v1/announcements", status_code=201, response_model=AnnouncementReport)
    async def create(
        request: Request,
        who: Annotated[Caller, Depends(caller)],
        stage: Annotated[
            Stage, Query(description="draft or awaiting_approval keeps it until approved")
        ] = Stage.released,
        privacy_override: Annotated[
            str | None,
            Query(min_length=10, max_length=2000,
                  description="why personal data the privacy guard found must be published (approver or admin tokens)"),
        ] = None,
    ) -> Any:  # fmt: skip
        body = await request.body()  # BodyLimit counts it in
        key = idempotency_key(request)
        override = PrivacyOverride(reason=privacy_override, role=who.role) if privacy_override else None
        # Parsing and intake touch much CPU, the database and files: off the event loop.
        return await run_in_threadpool(lambda: publish(body, who, key, stage, override))

    def publish(body: bytes, who: Caller, key: str | None, stage: Stage, override: PrivacyOverride | None) -> Any:
        document = own_document(body, who)
        if stage is Stage.released and who.role is Role.editor and document.get("kind") == "news":
            # Routine news needs a second person; a warning system's warning goes out at once.
            raise ApiError(403, "an editor's token does not publish news by itself: send it with "
                           "?stage=awaiting_approval, and an approver's token approves it (four-eyes)")  # fmt: skip
        if stage is Stage.scheduled:
            raise ApiError(422, "stage: a new announcement is released (scheduled by its publish_at), a draft, or "
                           "awaiting_approval")  # fmt: skip
        try:
            accepted = receive(herold.engine, document, source="api", source_id=key, actor=f"token:{who.token_name}",
                               stage=stage, privacy_override=override)  # fmt: skip
        except SourceConflict as error:
            raise ApiError(422, "this Idempotency-Key was used for a different announcement; nothing was published",
                           error.problems) from None  # fmt: skip
        except InvalidInput as error:
            raise ApiError(
                422, f"the announcement has {len(error.problems)} problem(s); nothing was published", error.problems
            ) from None
        try:
            result = report(herold.engine, accepted.id)
        except Exception as error:
            # It is stored: the client must hear its id, never "try again" (that would publish it twice).
            if not database_unavailable(error):
                raise
            return JSONResponse(
                {"id": accepted.id, "status": "accepted", "error": "accepted; its status cannot be read right now"},
                status_code=201 if accepted.created else 200,
            )
        assert result is not None
        if accepted.created:
            return result.model_copy(update={"warnings": list(accepted.warnings)})
        # The same message again (a client retrying after a lost answer): the announcement it became.
        return JSONResponse(result.model_dump(mode="json"), status_code=200)

    def own_document(body: bytes, who: Caller) -> dict[str, Any]:
        document = parse_json(body)
        if not isinstance(document, dict):
            raise ApiError(422, "the body must be a JSON object (an announcement)")
        document.setdefault("authority", who.authority)
        if document["authority"] != who.authority:
            raise ApiError(403, f"this token may only publish for authority '{who.authority}'")
        return document

    @app.post("/api/v1/previews", response_model=Preview)
    async def previews(request: Request, who: Annotated[Caller, Depends(caller)]) -> Any:
        """The variants an announcement would get, counted as each platform counts: nothing is
        stored, nothing is sent."""
        body = await request.body()

        def show() -> Preview:
            try:
                return preview(herold.engine, own_document(body, who))
            except InvalidInput as error:
                raise ApiError(422, f"the announcement has {len(error.problems)} problem(s)", error.problems) from None

        return await run_in_threadpool(show)

    def acted(announcement_id: str, who: Caller, act: Callable[[str], list[str]]) -> AnnouncementReport:
        """A person's step on one of their authority's announcements: 409 with the reasons if it
        cannot be taken, else the report as it stands now."""
        stored(announcement_id, who)
        problems = act(f"token:{who.token_name}")
        if problems:
            raise ApiError(409, "; ".join(problems))
        return own(report(herold.engine, announcement_id), who)

    @app.get("/api/v1/announcements", response_model=list[Listing])
    def announcements(
        who: Annotated[Caller, Depends(caller)],
        current: Annotated[bool, Query(description="only current warnings, each item's newest state")] = False,
        kind: Annotated[Literal["warning", "news"] | None, Query(description="only warnings or only news")] = None,
        since: Annotated[datetime | None, Query(description="only what was sent since then (ISO 8601)")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[Listing]:
        """The token's authority's announcements, newest first, with their short ids (which
        ``GET /api/v1/announcements/{id}`` accepts, as do the command line and a follow-up's references)."""
        moment = since if since is None or since.tzinfo else since.replace(tzinfo=UTC)
        return listing(herold.engine, who.authority, current=current, kind=kind, since=moment, limit=limit)

    @app.get("/api/v1/announcements/{announcement_id}", response_model=AnnouncementReport)
    def show(announcement_id: str, who: Annotated[Caller, Depends(caller)]) -> AnnouncementReport:
        """One announcement, by its id or its short id (the first 8 characters, as listed)."""
        if len(announcement_id) >= SHORT_ID and len(announcement_id) < 36:
            found = herold.store.announcements.resolve(announcement_id, who.authority)
            if len(found) == 1:
                announcement_id = found[0]
        return stored(announcement_id, who)

    @app.post("/api/v1/announcements/{announcement_id}/release", response_model=AnnouncementReport)
    def release(
        announcement_id: str, body: ReleaseRequest, who: Annotated[Caller, Depends(caller)]
    ) -> AnnouncementReport:
        return acted(announcement_id, who, lambda actor: release_by_override(
            herold.engine, announcement_id, body.reason, actor=actor, source="api"))  # fmt: skip

    @app.post("/api/v1/announcements/{announcement_id}/submit", response_model=AnnouncementReport)
    def submit_draft(announcement_id: str, who: Annotated[Caller, Depends(caller)]) -> AnnouncementReport:
        """A draft is ready: it waits for approval now."""
        return acted(
            announcement_id, who, lambda actor: submit(herold.engine, announcement_id, actor=actor, source="api")
        )

    @app.post("/api/v1/announcements/{announcement_id}/approve", response_model=AnnouncementReport)
    def approve_draft(announcement_id: str, who: Annotated[Caller, Depends(caller)]) -> AnnouncementReport:
        """Let a draft, or one awaiting approval, go out (now, or at its publish_at): with an
        approver's or an admin's token other than the one that wrote it (four-eyes)."""
        stored(announcement_id, who)
        written = herold.store.announcements.get(announcement_id)
        refusal = approval_refused(writers={written.actor} if written else set(), approver=f"token:{who.token_name}",
                                   role=who.role)  # fmt: skip
        if refusal:
            raise ApiError(403, refusal)
        return acted(
            announcement_id, who, lambda actor: approve(herold.engine, announcement_id, actor=actor, source="api")
        )

    @app.post("/api/v1/announcements/{announcement_id}/channels/{channel}/confirm",
              response_model=AnnouncementReport)  # fmt: skip
    def confirm_hand_off(
        announcement_id: str,
        channel: str,
        who: Annotated[Caller, Depends(caller)],
        body: ConfirmRequest | None = None,
    ) -> AnnouncementReport:
        """A person posted a hand-off: done, at ``url`` if given (shown on the item page)."""
        url = body.url if body else None
        return acted(announcement_id, who, lambda actor: confirm(
            herold.engine, announcement_id, channel, url, actor=actor, source="api"))  # fmt: skip

    install_hooks(app, herold)  # POST /hooks/{authority}/{integration}: warning systems
    install_api_docs(app)  # GET /api/docs, before the site's mount at "/" would take the path

    @app.get(PREFIX, include_in_schema=False)
    def press_office_root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=301)

    app.mount(PREFIX, press_office(herold), name="press-office")

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    herold.migrate()  # the first page is built below, before the server starts
    sites = []
    for authority in herold.settings.authorities:
        built_in = herold.sites(authority.slug)
        if not built_in:
            continue  # its own website is elsewhere (a WordPress): nothing to serve here
        site = built_in[0]
        base = urlsplit(authority.base_url)
        if not (site.directory / "index.html").exists():
            site.render_all()  # a new site says "no current warnings" rather than 404
        sites.append((base.netloc, base.path or "/", site.directory))
    app.mount("/", SiteRouter(sites), name="site")
    return app


class PublicOnly:
    """The public address when the press office has an address of its own (``app_listen``):
    only the site; the app and the API answer "not found" here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        inner = (f"{PREFIX}/", "/api/", HOOKS)  # the app, the API, the warning systems' webhooks
        if scope["type"] == "http" and (path in {PREFIX, "/api", HOOKS.rstrip("/")} or path.startswith(inner)):
            await Response("Not found", status_code=404, headers=SECURITY_HEADERS)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def idempotency_key(request: Request) -> str | None:
    """The client's id for this message (the Idempotency-Key header): sent again with the same
    body, it gives the same announcement."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 200 or not key.isprintable() or not key.isascii():
        raise ApiError(400, "Idempotency-Key: send 1 to 200 printable ASCII characters (e.g. a UUID)")
    return key


def parse_json(body: bytes) -> Any:
    """A JSON document, or a 400 that says what is wrong with it, whatever the bytes are."""
    # Counted before parsing, at C speed: 48 MB of "[]," would be 16 million lists in memory.
    elements = body.count(b"[") + body.count(b"{") + body.count(b",")
    if elements > LIMITS.elements:
        raise ApiError(400, f"the body has more than {LIMITS.elements:,} values, the most Herold takes")
    try:
        document = json.loads(body)
    except RecursionError:
        raise ApiError(400, f"the body nests deeper than {LIMITS.nesting} levels, the most Herold takes") from None
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError, and integers of 4,300+ digits
        raise ApiError(400, f"the body is not valid JSON: {printable(str(error))[:200]}") from None
    if nesting(document) > LIMITS.nesting:
        raise ApiError(400, f"the body nests deeper than {LIMITS.nesting} levels, the most Herold takes")
    return document
