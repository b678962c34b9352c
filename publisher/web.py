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
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.website import Website
from publisher.app import Herold
from publisher.intake import accept
from publisher.limits import LIMITS, nesting
from publisher.problems import InvalidInput, Problem
from publisher.report import AnnouncementReport, report
from publisher.store import database_unavailable
from publisher.tasks import release_by_override
from publisher.text import forbidden_character, printable
from publisher.throttle import Throttle

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


MAX_BODY = LIMITS.body_bytes
RETRY_AFTER_OUTAGE = 30  # seconds: a database back from a restart is usually back within that


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, problems: list[Problem] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.problems, self.headers = status, message, problems or [], headers or {}


class Caller(BaseModel):
    authority: str
    token_name: str


class ReleaseRequest(BaseModel):
    reason: Annotated[str, Field(min_length=10, max_length=2000)]  # kept in the audit log: a few words at least

    @field_validator("reason")
    @classmethod
    def _text(cls, value: str) -> str:
        found = forbidden_character(value)
        if found:
            raise ValueError(f"contains a control character ({found[1]}) at position {found[0]}; remove it")
        return value


class SiteRouter:
    """Serves each authority's static site under its base URL (host and path; path alone as fallback)."""

    def __init__(self, sites: list[tuple[str, str, Path]]) -> None:
        self.sites = sorted(
            (
                (host, prefix, StaticFiles(directory=directory, html=True, check_dir=False))
                for host, prefix, directory in sites
            ),
            key=lambda site: len(site[1]),
            reverse=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "/")
        host = dict(scope.get("headers", [])).get(b"host", b"").decode(errors="replace")
        if scope["type"] == "http" and any(path + "/" == site[1] for site in self.sites):
            await RedirectResponse(path + "/", status_code=301)(scope, receive, send)  # the site's own root
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
            # built from the client's Host header; a path alone never leads anywhere else.
            query = scope.get("query_string", b"").decode("latin-1")
            await RedirectResponse(path + "/" + (f"?{query}" if query else ""), status_code=301)(scope, receive, send)
            return
        inner = dict(scope, path="/" + relative, root_path=scope.get("root_path", "") + prefix.rstrip("/"))
        await files(inner, receive, send)

    @staticmethod
    def _is_folder(files: StaticFiles, relative: str) -> bool:
        if files.directory is None or "\x00" in relative:
            return False
        root = Path(files.directory).resolve()
        target = (root / relative.lstrip("/")).resolve()
        return target.is_relative_to(root) and (target / "index.html").is_file()


class SecurityHeaders:
    """The headers of SECURITY_HEADERS on every answer that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The interactive API docs need their own script; they are not the public site.
        docs = str(scope.get("path", "")).startswith("/api/docs")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers and not (docs and name == "Content-Security-Policy"):
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)


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
            if answered:  # too late for an answer: the connection is cut, the log says why
                log.exception("error after the answer had begun", path=scope.get("path"))
                return
            if database_unavailable(error):
                log.error("the database is not reachable", path=scope.get("path"), reason=_first_line(error))
                response = JSONResponse(
                    {"error": "the database is not reachable right now; nothing was stored, try again shortly"},
                    status_code=503,
                    headers={"Retry-After": str(RETRY_AFTER_OUTAGE)},
                )
            else:
                reference = uuid.uuid4().hex[:12]
                log.exception("unhandled error", path=scope.get("path"), reference=reference)
                response = JSONResponse(
                    {"error": f"internal error; it was logged with reference {reference}"}, status_code=500
                )
            await response(scope, receive, send)


def _first_line(error: BaseException) -> str:
    return str(error).strip().split("\n", 1)[0][:300]


def create_app(herold: Herold, *, start: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start:
            herold.start()
        try:
            yield
        finally:
            if start:
                herold.stop()

    app = FastAPI(
        title="Herold",
        version="1",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        redirect_slashes=False,  # its redirects name the client's Host header; the API needs none
    )
    app.add_middleware(Contained)
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
        wait = throttle.refused_for(address)
        if wait > 0:
            raise ApiError(
                429, f"too many wrong API tokens from this address; try again in {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )  # fmt: skip
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="herold"'}
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "send an API token: Authorization: Bearer <token>", headers=challenge)
        found = herold.store.token_authority(token.strip())
        if found is None:
            if throttle.failed(address):
                log.warning("too many wrong API tokens from one address; refusing it for a while", address=address,
                            failures=throttle.limit, seconds=throttle.lockout)  # fmt: skip
            raise ApiError(401, "the API token is not valid (unknown or revoked)", headers=challenge)
        return Caller(authority=found[0], token_name=found[1])

    def stored(announcement_id: str, who: Caller) -> AnnouncementReport:
        try:
            uuid.UUID(announcement_id)
        except ValueError:
            raise ApiError(404, "no such announcement") from None
        return own(report(herold, announcement_id), who)

    def own(result: AnnouncementReport | None, who: Caller) -> AnnouncementReport:
        if result is None:
            raise ApiError(404, "no such announcement")
        if result.authority != who.authority:
            raise ApiError(403, f"this announcement belongs to another authority than '{who.authority}'")
        return result

    @app.post("/api/v1/announcements", status_code=201, response_model=AnnouncementReport)
    async def create(request: Request, who: Annotated[Caller, Depends(caller)]) -> AnnouncementReport:
        document = parse_json(await read_body(request))
        if not isinstance(document, dict):
            raise ApiError(422, "the body must be a JSON object (an announcement)")
        document.setdefault("authority", who.authority)
        if document["authority"] != who.authority:
            raise ApiError(403, f"this token may only publish for authority '{who.authority}'")
        try:
            announcement_id = await _in_thread(
                lambda: accept(herold, document, source="api", actor=f"token:{who.token_name}")
            )
        except InvalidInput as error:
            raise ApiError(
                422, f"the announcement has {len(error.problems)} problem(s); nothing was published", error.problems
            ) from None
        result = report(herold, announcement_id)
        assert result is not None
        return result

    @app.get("/api/v1/announcements/{announcement_id}", response_model=AnnouncementReport)
    def show(announcement_id: str, who: Annotated[Caller, Depends(caller)]) -> AnnouncementReport:
        return stored(announcement_id, who)

    @app.post("/api/v1/announcements/{announcement_id}/release", response_model=AnnouncementReport)
    def release(
        announcement_id: str, body: ReleaseRequest, who: Annotated[Caller, Depends(caller)]
    ) -> AnnouncementReport:
        stored(announcement_id, who)
        problems = release_by_override(
            herold, announcement_id, body.reason, actor=f"token:{who.token_name}", source="api"
        )
        if problems:
            raise ApiError(409, "; ".join(problems))
        return own(report(herold, announcement_id), who)

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    herold.store.migrate()  # the first page is built below, before the server starts
    sites = []
    for authority in herold.settings.authorities:
        for config in authority.channels:
            channel = herold.channel(authority.slug, config.id)
            if isinstance(channel, Website):
                base = urlsplit(authority.base_url)
                if not (channel.directory / "index.html").exists():
                    channel.rebuild_all()  # a new site says "no current warnings" rather than 404
                sites.append((base.netloc, base.path or "/", channel.directory))
                break
    app.mount("/", SiteRouter(sites), name="site")
    return app


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused as soon as it passes ``limit``: counted while it streams in, so
    a chunked upload without a length never gets further into memory than that."""
    declared = request.headers.get("content-length", "")
    too_large = ApiError(413, f"the body is larger than {limit // 1_000_000} MB, the most Herold takes")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """A JSON document, or a 400 that says what is wrong with it, whatever the bytes are."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise ApiError(400, f"the body nests deeper than {LIMITS.nesting} levels, the most Herold takes") from None
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError, and integers of 4,300+ digits
        raise ApiError(400, f"the body is not valid JSON: {printable(str(error))[:200]}") from None
    if nesting(document) > LIMITS.nesting:
        raise ApiError(400, f"the body nests deeper than {LIMITS.nesting} levels, the most Herold takes")
    return document


async def _in_thread(call: Callable[[], str]) -> str:
    """Intake touches the database and files: keep it off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(call)
