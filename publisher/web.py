"""HTTP: the JSON API for press offices and warning systems, and the public static site.

Every API call carries a bearer token of one authority: no token or an unknown one is 401,
a token of another authority is 403. Bad input is answered 400/422 with every problem in
plain words; nothing the client sends can produce a stack trace.
"""

# No "from __future__ import annotations" here: FastAPI reads the dependency annotations of the
# endpoints below at runtime, and they name a function local to create_app.
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from adapters.website import Website
from publisher.app import Herold
from publisher.intake import accept
from publisher.problems import InvalidInput, Problem
from publisher.report import AnnouncementReport, report
from publisher.tasks import release_by_override

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


# Four images of 8 MB each, base64-encoded, and the text: nothing legitimate is larger.
MAX_BODY = 50_000_000


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
        host = dict(scope.get("headers", [])).get(b"host", b"").decode()
        matches = [site for site in self.sites if path.startswith(site[1])]
        chosen = next((site for site in matches if site[0] == host), matches[0] if matches else None)
        if chosen is None or scope["type"] != "http":
            await Response("Not found", status_code=404)(scope, receive, send)
            return
        _, prefix, files = chosen
        inner = dict(scope, path="/" + path[len(prefix) :], root_path=scope.get("root_path", "") + prefix.rstrip("/"))
        await files(inner, receive, send)


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
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/docs"):
            # The interactive API docs need their own script; they are not the public site.
            del response.headers["Content-Security-Policy"]
        return response

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

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        log.exception("unhandled error", path=request.url.path, reference=reference)
        return JSONResponse({"error": f"internal error; it was logged with reference {reference}"}, status_code=500)

    def caller(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="herold"'}
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "send an API token: Authorization: Bearer <token>", headers=challenge)
        found = herold.store.token_authority(token.strip())
        if found is None:
            raise ApiError(401, "the API token is not valid (unknown or revoked)", headers=challenge)
        return Caller(authority=found[0], token_name=found[1])

    def own(result: AnnouncementReport | None, who: Caller) -> AnnouncementReport:
        if result is None:
            raise ApiError(404, "no such announcement")
        if result.authority != who.authority:
            raise ApiError(403, f"this announcement belongs to another authority than '{who.authority}'")
        return result

    @app.post("/api/v1/announcements", status_code=201, response_model=AnnouncementReport)
    async def create(request: Request, who: Annotated[Caller, Depends(caller)]) -> AnnouncementReport:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise ApiError(413, f"the body is larger than {MAX_BODY // 1_000_000} MB")
        body = await request.body()
        if len(body) > MAX_BODY:
            raise ApiError(413, f"the body is larger than {MAX_BODY // 1_000_000} MB")
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ApiError(400, f"the body is not valid JSON: {error}") from None
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
        return own(report(herold, announcement_id), who)

    @app.post("/api/v1/announcements/{announcement_id}/release", response_model=AnnouncementReport)
    def release(
        announcement_id: str, body: ReleaseRequest, who: Annotated[Caller, Depends(caller)]
    ) -> AnnouncementReport:
        own(report(herold, announcement_id), who)
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


async def _in_thread(call: Callable[[], str]) -> str:
    """Intake touches the database and files: keep it off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(call)
