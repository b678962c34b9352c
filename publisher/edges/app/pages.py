"""The press office's pages under ``/app/``: sign-in, the status board, the form with its live
preview, an item with its deliveries and actions, and the audit log.

Every page is rendered on the server and every action is a plain form post, so all of it works
without JavaScript; ``app.js`` only refreshes the preview while typing. Every post carries the
session's CSRF token. A person sees and touches only their own authority's items: another's
are "not found", as if they did not exist.
"""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations at runtime.
import asyncio
import base64
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from publisher.core.approval import approval_refused, publishes_at_once
from publisher.core.templates import TEMPLATES
from publisher.domain.announcement import Category, Certainty, Kind, MsgType, Severity, Urgency
from publisher.domain.labels import labels_for
from publisher.domain.limits import LIMITS
from publisher.domain.problems import InvalidInput, Problem
from publisher.domain.records import AuditEntry, OperationState, PrivacyOverride, Role, Stage
from publisher.domain.text import N_
from publisher.edges.app import fields as form
from publisher.edges.app.form_templates import BUILT_IN, FormTemplate, load_form_templates, prefill
from publisher.edges.app.i18n import LANGUAGES, chosen, translations
from publisher.edges.throttle import Throttle
from publisher.edges.wiring import Herold
from publisher.engine.report import SHORT_ID, AnnouncementReport, listing, report
from publisher.engine.store import AppSession, FormDraft
from publisher.engine.store.users import SignIn, User, UserExists, password_problem, username_problem
from publisher.engine.tasks import confirm, reconcile, settle_deletions
from publisher.site.card import card_name
from publisher.site.registry import channel_types
from publisher.sources.intake import SourceConflict, approve, ended_by, receive, reject
from publisher.sources.preview import Preview, preview

log = structlog.get_logger("herold.app")

PREFIX = "/app"
SESSION_COOKIE = "herold_session"
LOGIN_COOKIE = "herold_login"  # the sign-in form's CSRF token, before there is a session
LANGUAGE_COOKIE = "herold_language"
FOLLOW_UPS = {"update": MsgType.update, "cancel": MsgType.cancel, "error": MsgType.error, "correction": MsgType.update}


# Names people read for the values the records hold (translated in the templates).
NAMES: dict[str, str] = {
    "headline": N_("Headline"), "description": N_("Description"), "instruction": N_("What people should do"),
    "event": N_("Event"), "area.description": N_("Affected area"), "contact": N_("Contact for questions"),
    "hashtags": N_("Hashtags"), "category": N_("Category"), "severity": N_("Severity"), "urgency": N_("Urgency"),
    "certainty": N_("Certainty"), "effective": N_("Valid from"), "expires": N_("Valid until"),
    "publish_at": N_("Publish at"), "channels": N_("Channels"), "media.0.file": N_("Image file (JPEG or PNG)"),
    "media.0.alt": N_("Alt text"), "privacy_override": N_("Publish personal data anyway, because …"),
    "references": N_("Follows"), "kind": N_("Kind"), "msg_type": N_("Kind of message"),
    "category:geo": N_("Geophysical (e.g. earthquake)"), "category:met": N_("Weather"),
    "category:safety": N_("Public safety"), "category:security": N_("Security, police"),
    "category:rescue": N_("Rescue"), "category:fire": N_("Fire"), "category:health": N_("Health"),
    "category:env": N_("Environment"), "category:transport": N_("Traffic and transport"),
    "category:infra": N_("Infrastructure (power, water, telephone)"),
    "category:cbrne": N_("Chemical, biological, radiological, explosive"), "category:other": N_("Other"),
    "severity:extreme": N_("Extreme danger"), "severity:severe": N_("Severe danger"),
    "severity:moderate": N_("Danger"), "severity:minor": N_("Advisory"), "severity:unknown": N_("Unknown"),
    "urgency:immediate": N_("Immediate"), "urgency:expected": N_("Expected soon"),
    "urgency:future": N_("In the near future"), "urgency:past": N_("Over"), "urgency:unknown": N_("Unknown"),
    "certainty:observed": N_("Observed"), "certainty:likely": N_("Likely"), "certainty:possible": N_("Possible"),
    "certainty:unlikely": N_("Unlikely"), "certainty:unknown": N_("Unknown"),
    "msg_type:alert": N_("First message"), "msg_type:update": N_("Update"), "msg_type:cancel": N_("All-clear"),
    "msg_type:error": N_("Withdrawal"),
    "state:waiting": N_("waiting"), "state:pending": N_("waiting"), "state:in_flight": N_("in flight"),
    "state:succeeded": N_("succeeded"), "state:failed": N_("failed"), "state:dead": N_("failed (gave up)"),
    "state:manual": N_("to post by hand"), "state:unknown": N_("unclear: check the platform"),
    "state:skipped": N_("skipped"), "action:pin": N_("pin"), "action:unpin": N_("unpin"),
    "role:editor": N_("editor"), "role:approver": N_("approver"), "role:admin": N_("admin"),
    "status:draft": N_("draft"), "status:awaiting approval": N_("awaiting approval"),
    "status:scheduled": N_("scheduled"), "status:in progress": N_("in progress"), "status:held back": N_("held back"),
    "status:published": N_("published"), "status:published with failures": N_("published with failures"),
    "status:failed": N_("failed"), "done:published": N_("Published: the website first, then the other channels."),
    "done:submitted": N_("Submitted: it waits for a second person's approval."),
    "done:approved": N_("Approved."), "done:retried": N_("The delivery is sent again."),
    "done:confirmed": N_("Confirmed as posted."), "done:rejected": N_("Sent back: it will not be published."),
    "done:deleted": N_("Recorded: the post was deleted by hand."),
    "done:deleting": N_("The post is being deleted again."), "action:delete": N_("delete"),
    "status:rejected": N_("sent back"), "state:unknown:hint": N_("Look on the platform first: it may be out."),
}  # fmt: skip


# What the announcement's rules say most often (publisher.domain), for the catalogs: the form
# shows them in the person's language. Messages with values in them stay as they are.
RULES = (
    N_("is required"), N_("must not be empty"), N_("must be later than effective"),
    N_("a warning needs a severity (extreme, severe, moderate, minor or unknown)"),
    N_("a warning needs a category (e.g. met, fire, safety)"),
    N_('a warning needs an event, e.g. "Bombenentschärfung"'),
    N_("a warning needs the affected area (area.description)"), N_("a warning must say what people should do"),
    N_("this item has had its all-clear already; a second one is not sent (an update can still follow)"),
    N_("refers to an item that was withdrawn; publish a new announcement instead"),
)  # fmt: skip


class SignInNeeded(Exception):
    """No live session: to the sign-in page, and back here afterwards."""


class AlreadySent(Exception):
    """The form went out already (a double click): to what it became."""

    def __init__(self, announcement_id: str) -> None:
        super().__init__(announcement_id)
        self.announcement_id = announcement_id


@dataclass(frozen=True)
class Person:
    """Who is signed in, in this request."""

    user: User
    csrf: str
    language: str
    token: str

    @property
    def actor(self) -> str:
        return f"user:{self.user.username}"

    @property
    def authority(self) -> str:
        return self.user.authority


def press_office(herold: Herold) -> FastAPI:
    """The web app, to be mounted at ``/app``."""
    runtime = herold.settings.herold
    idle, longest = timedelta(minutes=runtime.app_idle_minutes), timedelta(hours=runtime.app_session_hours)
    environments = {language: _environment(language) for language in LANGUAGES}
    throttle = Throttle()  # refused sign-ins per address, as the API's wrong tokens
    checking = asyncio.Semaphore(4)
    # Read and checked once (the configuration check refuses a broken one at start).
    templates_of = {a.slug: load_form_templates(BUILT_IN, *([a.form_templates] if a.form_templates else []))
                    for a in herold.settings.authorities}  # fmt: skip
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
    app.mount("/static", StaticFiles(directory=TEMPLATES / "app" / "static"), name="static")

    def page(request: Request, name: str, language: str, status: int = 200, **context: Any) -> HTMLResponse:
        template = environments[language].get_template(name)
        html = template.render(request=request, language=language, prefix=PREFIX, **context)
        return HTMLResponse(html, status_code=status)

    def language_of(request: Request) -> str:
        return chosen(request.headers.get("accept-language"), request.cookies.get(LANGUAGE_COOKIE))

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, _: SignInNeeded) -> Response:
        path = request.url.path
        if path.endswith("/preview"):  # the page's script: it says so, and the form keeps the text
            return Response("signed out", status_code=401, media_type="text/plain")
        back = path if request.method == "GET" or path.startswith(f"{PREFIX}/drafts/") else f"{PREFIX}/"
        return RedirectResponse(f"{PREFIX}/login?next={quote(back)}", status_code=303)

    @app.exception_handler(AlreadySent)
    async def already_sent(request: Request, error: AlreadySent) -> Response:
        if request.url.path.endswith("/preview"):
            return Response("sent", status_code=409, media_type="text/plain")
        target = f"{PREFIX}/items/{error.announcement_id}" if error.announcement_id else f"{PREFIX}/"
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, error: StarletteHTTPException) -> Response:
        language = language_of(request)
        return page(request, "app/error.html.j2", language, status=error.status_code, message=error.detail,
                    person=None)  # fmt: skip

    def person(request: Request) -> Person:
        token = request.cookies.get(SESSION_COOKIE, "")
        session: AppSession | None = herold.store.sessions.current(token, herold.engine.clock(), idle=idle,
                                                                   longest=longest)  # fmt: skip
        if session is None:
            raise SignInNeeded()
        return Person(session.user, session.csrf, session.language, token)

    Signed = Annotated[Person, Depends(person)]

    async def posted(request: Request, who: Person) -> FormData:
        """The form, once its CSRF token is checked: a post from another site, or an old page,
        changes nothing."""
        sent = await request.form(max_files=LIMITS.media, max_fields=200)
        if not hmac.compare_digest(str(sent.get("csrf", "")), who.csrf):
            raise StarletteHTTPException(403, _t(who.language, "This form has expired or came from elsewhere. "
                                                 "Reload the page and try again; nothing was changed."))  # fmt: skip
        return sent

    def cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")  # fmt: skip

    # -- signing in and out ------------------------------------------------------------------------

    @app.get("/login")
    def login_page(request: Request, next: str = "") -> HTMLResponse:
        language = language_of(request)
        token = secrets.token_urlsafe(32)
        response = page(request, "app/login.html.j2", language, csrf=token, next=_inside(next), error=None,
                        username="", person=None)  # fmt: skip
        cookie(response, request, LOGIN_COOKIE, token)
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        language = language_of(request)
        sent = await request.form(max_fields=10)
        username, password = str(sent.get("username", "")).strip()[:64], str(sent.get("password", ""))[:1024]
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(str(sent.get("csrf", "")), expected):
            raise StarletteHTTPException(403, _t(language, "This form has expired or came from elsewhere. "
                                                 "Reload the page and try again; nothing was changed."))  # fmt: skip
        address = request.client.host if request.client else "unknown"
        wait = throttle.refused_for(address)
        if wait > 0:
            raise StarletteHTTPException(429, _t(language, "Too many failed sign-ins from this address; try again "
                                                 "in a few minutes."))  # fmt: skip
        now = herold.engine.clock()
        async with checking:  # each check takes 64 MiB for a tenth of a second: a few at a time
            outcome, user = await run_in_threadpool(herold.store.users.sign_in, username, password, now)
        if outcome is not SignIn.ok:
            throttle.failed(address)
        herold.store.audit.append(AuditEntry(
            at=now, authority=user.authority if user else None, actor=f"user:{username.lower()}", source="app",
            action="user.signed_in" if outcome is SignIn.ok else "user.sign_in_refused",
            detail={"outcome": outcome.value, "address": address},
        ))  # fmt: skip
        if outcome is not SignIn.ok or user is None:
            token = secrets.token_urlsafe(32)
            # The same words and status whatever the reason: the answer tells nobody who exists.
            message = _t(language, "The user name or the password is wrong, or the account is locked or disabled. "
                                   "After five wrong passwords an account is locked for 15 minutes.")  # fmt: skip
            response = page(request, "app/login.html.j2", language, status=401,
                            csrf=token, next=_inside(str(sent.get("next", ""))), error=message, username=username,
                            person=None)  # fmt: skip
            cookie(response, request, LOGIN_COOKIE, token)
            return response
        token, _ = herold.store.sessions.open(user.username, now, language)
        log.info("signed in", user=user.username, authority=user.authority)
        welcome = RedirectResponse(_inside(str(sent.get("next", ""))) or f"{PREFIX}/", status_code=303)
        cookie(welcome, request, SESSION_COOKIE, token)
        welcome.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return welcome

    @app.post("/logout")
    async def logout(request: Request, who: Signed) -> Response:
        await posted(request, who)
        herold.store.sessions.close(who.token)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @app.post("/language")
    async def switch_language(request: Request, who: Signed) -> Response:
        sent = await posted(request, who)
        language = str(sent.get("language", ""))
        if language in LANGUAGES:
            herold.store.sessions.set_language(who.token, language)
        response = RedirectResponse(_inside(str(sent.get("next", ""))) or f"{PREFIX}/", status_code=303)
        cookie(response, request, LANGUAGE_COOKIE, language if language in LANGUAGES else "de", 365 * 86400)
        return response

    # -- the status board ---------------------------------------------------------------------------

    @app.get("/")
    def board(request: Request, who: Signed) -> HTMLResponse:
        engine, authority = herold.engine, herold.engine.authority(who.authority)
        listed = listing(engine, who.authority, limit=40)
        current = listing(engine, who.authority, current=True, limit=50)
        current_ids = {i.id for i in current}
        # However old: what waits for a person, and what is still to come, is never crowded out.
        waiting = listing(engine, who.authority, limit=100, stages=[Stage.draft, Stage.awaiting_approval])
        scheduled = listing(engine, who.authority, limit=100, stages=[Stage.scheduled]) + [
            i for i in listed if i.stage is Stage.released and i.sent_at > engine.clock()]  # fmt: skip
        shown = {i.id for i in (*waiting, *scheduled)} | current_ids
        recent = [i for i in listed if i.id not in shown][:20]
        reports = {i.id: report(engine, i.id) for i in (*current, *recent, *scheduled, *waiting)}
        drafts = herold.store.drafts.open_of(who.authority)
        return page(request, "app/board.html.j2", who.language, person=who, authority=authority, current=current,
                    waiting=waiting, scheduled=scheduled, recent=recent, reports=reports, drafts=drafts,
                    message=request.query_params.get("done"))  # fmt: skip

    # -- the form -----------------------------------------------------------------------------------

    def form_templates(slug: str) -> list[FormTemplate]:
        return templates_of.get(slug, [])

    @app.get("/new")
    def choose(request: Request, who: Signed) -> HTMLResponse:
        return page(request, "app/choose.html.j2", who.language, person=who,
                    templates=form_templates(who.authority))  # fmt: skip

    @app.post("/new")
    async def start(request: Request, who: Signed) -> Response:
        sent = await posted(request, who)
        chosen_template = next((t for t in form_templates(who.authority) if t.name == sent.get("template")), None)
        if chosen_template is None:
            raise StarletteHTTPException(404, _t(who.language, "There is no such template."))
        authority = herold.engine.authority(who.authority)
        now = herold.engine.clock()
        values = prefill(chosen_template, now)
        fields: dict[str, Any] = {k: (v if isinstance(v, list) else str(v)) for k, v in values.items()}
        if "expires" in fields:  # an ISO time from the template: as the form shows it, local
            fields["expires"] = form.local(datetime.fromisoformat(str(fields["expires"])), authority.timezone)
        if isinstance(fields.get("hashtags"), list):
            fields["hashtags"] = " ".join(fields["hashtags"])
        fields.setdefault("channels", [c.id for c in authority.channels])
        fields["template"] = chosen_template.name
        draft = herold.store.drafts.create(who.authority, who.user.username, fields, now)
        return RedirectResponse(f"{PREFIX}/drafts/{draft.id}", status_code=303)

    def own_draft(draft_id: str, who: Person) -> FormDraft:
        draft = herold.store.drafts.get(draft_id, who.authority) if len(draft_id) == 36 else None
        if draft is None:
            raise StarletteHTTPException(404, _t(who.language, "There is no such draft."))
        return draft

    def show_form(
        request: Request, who: Person, draft: FormDraft, *, status: int = 200, problems: list[Problem] | None = None,
        shown: Preview | None = None, preview_problems: list[Problem] | None = None, message: str | None = None,
    ) -> HTMLResponse:  # fmt: skip
        authority = herold.engine.authority(who.authority)
        said = [Problem(field=p.field, message=_t(who.language, p.message)) for p in problems or []]
        placed, general = form.problems_by_field(said)
        kind = Kind.warning if draft.fields.get("kind") == "warning" else Kind.news
        # The fields the form shows, which a problem in the summary can link to.
        linkable = {*form.TEXTS, *form.CHOICES, *form.TIMES, "hashtags", "media.0.file", "media.0.alt"} - {
            "kind",
            "language",
        }
        if draft.fields.get("msg_type") in {"cancel", "error"}:
            linkable -= {"instruction", "expires"}
        if who.user.role.may_override_privacy:
            linkable.add("privacy_override")
        return page(
            request, "app/form.html.j2", who.language, status=status, person=who, draft=draft, f=draft.fields,
            image=draft.media,
            linkable=linkable,
            authority=authority, channels=_channel_rows(authority), placed=placed, general=general,
            preview=shown, preview_problems=preview_problems or [], message=message,
            at_once=publishes_at_once(kind=kind, alert=who.user.alert),
            may_override=who.user.role.may_override_privacy,
            choices={"category": list(Category), "severity": list(Severity), "urgency": list(Urgency),
                     "certainty": list(Certainty)},
            follow_up=draft.fields.get("msg_type") not in {None, "", "alert"},
        )  # fmt: skip

    @app.get("/drafts/{draft_id}")
    def edit(request: Request, draft_id: str, who: Signed) -> Response:
        draft = own_draft(draft_id, who)
        if draft.announcement_id:
            return RedirectResponse(f"{PREFIX}/items/{draft.announcement_id}", status_code=303)
        shown, found = render_preview(draft, who)
        return show_form(request, who, draft, shown=shown, preview_problems=found)

    def render_preview(draft: FormDraft, who: Person, *, image: bool = True) -> tuple[Preview | None, list[Problem]]:
        """``image=False`` (while typing): the image is left out, so that an 8 MB photo is not
        decoded at every key; the buttons check it."""
        authority = herold.engine.authority(who.authority)
        media = draft.media if image else None
        document, problems = form.document_of(draft.fields, who.authority, authority.timezone, media)
        shown: Preview | None = None
        try:
            shown = preview(herold.engine, document, show_private=True)
            found = problems + list(shown.private) + list(shown.warnings)
        except InvalidInput as error:
            found = problems + error.problems
        return shown, [Problem(field=p.field, message=_t(who.language, p.message)) for p in found]

    async def kept(request: Request, draft_id: str, who: Person) -> tuple[FormDraft, FormData]:
        """The draft with what was just typed, saved before anything else happens."""
        sent = await posted(request, who)
        draft = own_draft(draft_id, who)
        if draft.announcement_id:  # a double click, or a second tab: it went out once, there it is
            raise AlreadySent(draft.announcement_id)
        values: dict[str, Any] = {key: sent.get(key) for key in sent if key != "channels"}
        values["channels"] = sent.getlist("channels")
        fields = form.typed(values, draft.fields)
        fields["template"] = draft.fields.get("template", "")
        # Everyone who wrote in it: none of them may approve it (four-eyes).
        fields["editors"] = sorted({*draft.fields.get("editors", [draft.username]), who.user.username})
        upload, now = sent.get("media.0.file"), herold.engine.clock()
        if isinstance(upload, UploadFile) and upload.filename:  # stored once, not with every key typed
            data = await upload.read(LIMITS.image_bytes + 1)
            image = {"data": base64.b64encode(data).decode(), "name": upload.filename[:200]}
            herold.store.drafts.set_media(draft.id, who.authority, image, now)
        elif sent.get("media.0.remove"):
            herold.store.drafts.set_media(draft.id, who.authority, None, now)
        saved = herold.store.drafts.save(draft.id, who.authority, fields, now)
        if saved is None:
            sent_as = herold.store.drafts.get(draft.id, who.authority)
            raise AlreadySent(sent_as.announcement_id if sent_as and sent_as.announcement_id else "")
        return saved, sent

    @app.post("/drafts/{draft_id}/preview")
    async def live_preview(request: Request, draft_id: str, who: Signed) -> HTMLResponse:
        """The preview alone, for the page's script: what was typed is saved as it goes."""
        draft, _ = await kept(request, draft_id, who)
        shown, found = await run_in_threadpool(lambda: render_preview(draft, who, image=False))
        return page(request, "app/_preview.html.j2", who.language, preview=shown, preview_problems=found,
                    person=who)  # fmt: skip

    @app.post("/drafts/{draft_id}")
    async def send(request: Request, draft_id: str, who: Signed) -> Response:
        draft, sent = await kept(request, draft_id, who)
        action = str(sent.get("action", "preview"))
        if action in {"submit", "publish"}:
            return await run_in_threadpool(lambda: publish(request, who, draft, at_once=action == "publish"))
        shown, found = await run_in_threadpool(render_preview, draft, who)
        message = _t(who.language, "Saved.") if action == "save" else None
        return show_form(request, who, draft, shown=shown, preview_problems=found, message=message)

    def publish(request: Request, who: Person, draft: FormDraft, *, at_once: bool) -> Response:
        authority = herold.engine.authority(who.authority)
        document, problems = form.document_of(draft.fields, who.authority, authority.timezone, draft.media)
        kind = Kind.warning if document.get("kind") == "warning" else Kind.news
        if at_once and not publishes_at_once(kind=kind, alert=who.user.alert):
            problems.append(Problem(field="", message=_t(
                who.language, "Only a warning, by someone with the alert right, goes out without a second person; "
                "submit it for approval.")))  # fmt: skip
        reason = str(draft.fields.get("privacy_override", "")).strip()
        override = PrivacyOverride(reason=reason, role=who.user.role) if reason else None
        if problems:  # with every other problem too, so that one round fixes them all
            shown = None
            try:
                shown = preview(herold.engine, document, show_private=True)
            except InvalidInput as error:
                problems += error.problems
            return show_form(request, who, draft, status=422, problems=problems, shown=shown)
        stage = Stage.released if at_once else Stage.awaiting_approval
        try:
            accepted = receive(herold.engine, document, source="app", source_id=draft.id, actor=who.actor,
                               stage=stage, privacy_override=override)  # fmt: skip
        except SourceConflict:  # sent twice with a change between: the first one counts
            accepted = None
        except InvalidInput as error:
            shown, found = render_preview(draft, who)
            return show_form(request, who, draft, status=422, problems=error.problems, shown=shown,
                             preview_problems=found)  # fmt: skip
        earlier = None if accepted else herold.store.announcements.by_source(who.authority, "app", draft.id)
        announcement_id = accepted.id if accepted else earlier[0] if earlier else None
        if announcement_id is None:
            raise StarletteHTTPException(409, _t(who.language, "This form was sent already."))
        herold.store.drafts.sent(draft.id, announcement_id, herold.engine.clock())
        if at_once and accepted and accepted.created:
            herold.store.audit.append(AuditEntry(
                at=herold.engine.clock(), authority=who.authority, actor=who.actor, source="app",
                action="announcement.published_at_once", announcement_id=announcement_id,
                detail={"right": "alert", "kind": kind.value},
            ))  # fmt: skip
        done = "published" if at_once else "submitted"
        return RedirectResponse(f"{PREFIX}/items/{announcement_id}?done={done}", status_code=303)

    # -- one item ------------------------------------------------------------------------------------

    def own_item(announcement_id: str, who: Person) -> AnnouncementReport:
        if SHORT_ID <= len(announcement_id) < 36:
            found = herold.store.announcements.resolve(announcement_id, who.authority)
            announcement_id = found[0] if len(found) == 1 else announcement_id
        result = report(herold.engine, announcement_id) if len(announcement_id) == 36 else None
        if result is None or result.authority != who.authority:
            raise StarletteHTTPException(404, _t(who.language, "There is no such announcement."))
        return result

    def refusal_for(announcement_id: str, who: Person) -> str | None:
        """Why this person may not approve it: their role, or their hand in writing it."""
        written = herold.store.announcements.get(announcement_id)
        form_of = herold.store.drafts.of_announcement(announcement_id)
        writers = {f"user:{name}" for name in (form_of.fields.get("editors", []) if form_of else [])}
        writers |= {written.actor} if written else set()
        return approval_refused(writers=writers, approver=who.actor, role=who.user.role)

    @app.get("/items/{announcement_id}")
    def item(request: Request, announcement_id: str, who: Signed) -> HTMLResponse:
        result = own_item(announcement_id, who)
        stored = herold.store.announcements.get(result.id)
        thread = herold.store.announcements.thread(stored.item_id) if stored else []
        out = [a for a in thread if a.stage.out]
        withdrawn = any(a.announcement.msg_type is MsgType.error for a in out)
        cleared = any(a.announcement.msg_type is MsgType.cancel for a in out)
        pending = result.stage in {Stage.draft, Stage.awaiting_approval}
        return page(request, "app/item.html.j2", who.language, person=who, item=result, stored=stored,
                    thread=thread, withdrawn=withdrawn, cleared=cleared, pending=pending,
                    approval_refusal=refusal_for(result.id, who) if pending else None,
                    may_reject=pending and (who.user.role in {Role.approver, Role.admin}
                                            or (stored is not None and stored.actor == who.actor)),
                    variants=herold.store.announcements.variants(result.id) if pending else [],
                    message=request.query_params.get("done"),
                    authority_timezone=herold.engine.authority(who.authority).timezone)  # fmt: skip

    def acted(request: Request, who: Person, announcement_id: str, act: Callable[[], list[str]], done: str) -> Response:
        problems = act()
        if problems:
            raise StarletteHTTPException(409, "; ".join(problems))
        return RedirectResponse(f"{PREFIX}/items/{announcement_id}?done={done}", status_code=303)

    @app.get("/items/{announcement_id}/media/{number}")
    def image(announcement_id: str, number: int, who: Signed) -> Response:
        """An image of the announcement, for a person to post by hand (as Herold stored it,
        without its metadata)."""
        result = own_item(announcement_id, who)
        stored = herold.store.announcements.get(result.id)
        media = stored.announcement.media if stored else []
        if not 0 <= number < len(media) or not media[number].path:
            raise StarletteHTTPException(404, _t(who.language, "There is no such image."))
        root = herold.settings.herold.data_dir.resolve()
        path = (root / str(media[number].path)).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise StarletteHTTPException(404, _t(who.language, "There is no such image."))
        return FileResponse(path, filename=path.name)

    @app.get("/items/{announcement_id}/card")
    def card(announcement_id: str, who: Signed) -> Response:
        """The announcement's alert card, as the site published it beside the item's page, for a
        person to post by hand with the text."""
        result = own_item(announcement_id, who)
        stored = herold.store.announcements.get(result.id)
        sites = herold.sites(stored.authority) if stored else []
        path = sites[0].directory / stored.item_path / card_name(stored.id) if stored and sites else None
        if path is None or not path.is_file():
            raise StarletteHTTPException(404, _t(who.language, "There is no such image."))
        return FileResponse(path, filename=path.name, media_type="image/png")

    @app.post("/items/{announcement_id}/approve")
    async def approve_item(request: Request, announcement_id: str, who: Signed) -> Response:
        await posted(request, who)
        result = own_item(announcement_id, who)
        refusal = refusal_for(result.id, who)
        if refusal:
            raise StarletteHTTPException(403, _t(who.language, refusal))
        return await run_in_threadpool(lambda: acted(request, who, result.id, lambda: approve(
            herold.engine, result.id, actor=who.actor, source="app"), "approved"))  # fmt: skip

    @app.post("/items/{announcement_id}/reject")
    async def reject_item(request: Request, announcement_id: str, who: Signed) -> Response:
        """Send it back: an approver or admin, or whoever wrote it, before it goes out."""
        sent = await posted(request, who)
        result = own_item(announcement_id, who)
        stored = herold.store.announcements.get(result.id)
        if who.user.role not in {Role.approver, Role.admin} and (stored is None or stored.actor != who.actor):
            raise StarletteHTTPException(
                403, _t(who.language, "Only an approver, an admin or its writer sends it back.")
            )
        reason = str(sent.get("reason", "")).strip()[:500] or _t(who.language, "(no reason given)")
        return await run_in_threadpool(lambda: acted(request, who, result.id, lambda: reject(
            herold.engine, result.id, reason, actor=who.actor, source="app"), "rejected"))  # fmt: skip

    @app.post("/items/{announcement_id}/channels/{channel}/posted")
    async def posted_after_all(request: Request, announcement_id: str, channel: str, who: Signed) -> Response:
        """A delivery that ended unclear (or failed) was posted after all: its address."""
        sent = await posted(request, who)
        result = own_item(announcement_id, who)
        url = str(sent.get("url", "")).strip()
        if not url:
            raise StarletteHTTPException(400, _t(who.language, "Give the address of the post."))
        return await run_in_threadpool(lambda: acted(request, who, result.id, lambda: reconcile(
            herold.engine, result.id, channel, url, actor=who.actor, source="app"), "confirmed"))  # fmt: skip

    @app.post("/items/{announcement_id}/channels/{channel}/retry")
    async def retry(request: Request, announcement_id: str, channel: str, who: Signed) -> Response:
        await posted(request, who)
        result = own_item(announcement_id, who)
        return await run_in_threadpool(lambda: acted(request, who, result.id, lambda: reconcile(
            herold.engine, result.id, channel, None, actor=who.actor, source="app"), "retried"))  # fmt: skip

    def deletion_settled(request: Request, who: Person, announcement_id: str, operation_id: str, *,
                         deleted: bool) -> Response:  # fmt: skip
        """A post a withdrawal could not delete: a person took it down by hand, or has the
        deletion tried again."""
        result = own_item(announcement_id, who)
        return acted(request, who, result.id, lambda: settle_deletions(
            herold.engine, result.id, None, operation_id=operation_id, deleted=deleted, actor=who.actor, source="app",
        ), "deleted" if deleted else "deleting")  # fmt: skip

    @app.post("/items/{announcement_id}/deletions/{operation_id}/deleted")
    async def deleted_by_hand(request: Request, announcement_id: str, operation_id: str, who: Signed) -> Response:
        await posted(request, who)
        return await run_in_threadpool(
            lambda: deletion_settled(request, who, announcement_id, operation_id, deleted=True)
        )

    @app.post("/items/{announcement_id}/deletions/{operation_id}/again")
    async def delete_again(request: Request, announcement_id: str, operation_id: str, who: Signed) -> Response:
        await posted(request, who)
        return await run_in_threadpool(
            lambda: deletion_settled(request, who, announcement_id, operation_id, deleted=False)
        )

    @app.post("/items/{announcement_id}/channels/{channel}/confirm")
    async def confirm_hand_off(request: Request, announcement_id: str, channel: str, who: Signed) -> Response:
        sent = await posted(request, who)
        result = own_item(announcement_id, who)
        url = str(sent.get("url", "")).strip() or None
        return await run_in_threadpool(lambda: acted(request, who, result.id, lambda: confirm(
            herold.engine, result.id, channel, url, actor=who.actor, source="app"), "confirmed"))  # fmt: skip

    @app.post("/items/{announcement_id}/follow-up")
    async def follow_up(request: Request, announcement_id: str, who: Signed) -> Response:
        """Update, all-clear, correction or withdrawal: the form, pre-filled from the current state."""
        sent = await posted(request, who)
        result = own_item(announcement_id, who)
        what = str(sent.get("as", ""))
        if what not in FOLLOW_UPS:
            raise StarletteHTTPException(400, _t(who.language, "Choose update, all-clear, correction or withdrawal."))
        stored = herold.store.announcements.get(result.id)
        if stored is None:
            raise StarletteHTTPException(404, _t(who.language, "There is no such announcement."))
        ended = ended_by(herold.engine, stored.item_id, FOLLOW_UPS[what])
        if ended and ended[0] == "msg_type":
            raise StarletteHTTPException(409, _t(who.language, "This warning has been given the all-clear already; "
                                                 "a second all-clear is not sent."))  # fmt: skip
        if ended:
            raise StarletteHTTPException(409, _t(who.language, "This item was withdrawn; nothing can follow it."))
        thread = herold.store.announcements.thread(stored.item_id)
        newest = next((a for a in reversed(thread) if a.stage.out), stored)
        authority = herold.engine.authority(who.authority)
        fields = form.fields_of(newest.announcement, newest.id, FOLLOW_UPS[what], authority.timezone,
                                correction=what == "correction")  # fmt: skip
        fields["template"] = what
        draft = herold.store.drafts.create(who.authority, who.user.username, fields, herold.engine.clock())
        return RedirectResponse(f"{PREFIX}/drafts/{draft.id}", status_code=303)

    # -- people (admins) ------------------------------------------------------------------------------

    def admin(who: Person) -> None:
        if who.user.role is not Role.admin:
            raise StarletteHTTPException(403, _t(who.language, "Only an admin manages people."))

    def people_page(request: Request, who: Person, *, status: int = 200, problem: str | None = None,
                    message: str | None = None, typed: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
        return page(request, "app/users.html.j2", who.language, status=status, person=who,
                    users=herold.store.users.all(who.authority), now=herold.engine.clock(), problem=problem,
                    message=message, typed=typed or {}, roles=list(Role))  # fmt: skip

    def own_person(username: str, who: Person) -> User:
        found = herold.store.users.get(username)
        if found is None or found.authority != who.authority:
            raise StarletteHTTPException(404, _t(who.language, "There is no such person."))
        return found

    def people_audit(who: Person, action: str, username: str, **detail: object) -> None:
        herold.store.audit.append(AuditEntry(
            at=herold.engine.clock(), authority=who.authority, actor=who.actor, source="app", action=action,
            detail={"username": username, **detail},
        ))  # fmt: skip

    @app.get("/users")
    def people(request: Request, who: Signed) -> HTMLResponse:
        admin(who)
        return people_page(request, who)

    @app.post("/users")
    async def add_person(request: Request, who: Signed) -> HTMLResponse:
        sent = await posted(request, who)
        admin(who)
        username = str(sent.get("username", "")).strip().lower()[:100]
        role, alert = str(sent.get("role", "")), sent.get("alert") == "1"
        password = str(sent.get("password", ""))
        typed = {"username": username, "role": role, "alert": "1" if alert else ""}
        problem = username_problem(username) or password_problem(password)
        if role not in Role.__members__:
            problem = problem or N_("Choose a role.")
        if problem is None:
            try:
                await run_in_threadpool(herold.store.users.add, username, who.authority, Role(role), password,
                                        herold.engine.clock(), alert=alert)  # fmt: skip
            except UserExists:
                problem = N_(
                    "There is a person with this user name already (user names are unique across authorities)."
                )
        if problem:
            return people_page(request, who, status=422, problem=_t(who.language, problem), typed=typed)
        people_audit(who, "user.added", username, role=role, alert=alert)
        return people_page(request, who, message=_t(who.language, "Added."))

    @app.post("/users/{username}/disable")
    async def disable_person(request: Request, username: str, who: Signed) -> HTMLResponse:
        await posted(request, who)
        admin(who)
        found = own_person(username, who)
        if found.username == who.user.username:
            raise StarletteHTTPException(409, _t(who.language, "You cannot disable your own account."))
        herold.store.users.disable(found.username, herold.engine.clock())
        people_audit(who, "user.disabled", found.username)
        return people_page(request, who, message=_t(who.language, "Disabled."))

    @app.post("/users/{username}/password")
    async def set_password(request: Request, username: str, who: Signed) -> HTMLResponse:
        sent = await posted(request, who)
        admin(who)
        found = own_person(username, who)
        password = str(sent.get("password", ""))
        problem = password_problem(password)
        if problem:
            return people_page(request, who, status=422, problem=_t(who.language, problem))
        await run_in_threadpool(herold.store.users.set_password, found.username, password, herold.engine.clock())
        people_audit(who, "user.password_set", found.username)
        return people_page(request, who, message=_t(who.language, "Password set; it also lifts a lock-out."))

    # -- the audit log ---------------------------------------------------------------------------------

    @app.get("/audit")
    def audit(request: Request, who: Signed) -> HTMLResponse:
        entries = herold.store.audit.entries(authority=who.authority, newest=500)
        return page(request, "app/audit.html.j2", who.language, person=who, entries=entries, item=None)

    @app.get("/items/{announcement_id}/audit")
    def item_audit(request: Request, announcement_id: str, who: Signed) -> HTMLResponse:
        result = own_item(announcement_id, who)
        entries = list(reversed(herold.store.audit.entries(announcement_id=result.id)))
        return page(request, "app/audit.html.j2", who.language, person=who, entries=entries, item=result)

    return app


def _channel_rows(authority: Any) -> list[dict[str, str]]:
    types = channel_types()
    return [{"id": c.id, "platform": types[c.type].label if c.type in types else c.type} for c in authority.channels]


def _inside(target: str) -> str:
    """Only a path of the app itself is a place to go back to (never another site)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(f"{PREFIX}/") or "\\" in target:
        return ""
    return target


def _t(language: str, message: str) -> str:
    return translations(language).gettext(message)


def _environment(language: str) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalog = translations(language)
    environment.install_gettext_callables(catalog.gettext, catalog.ngettext, newstyle=True)  # type: ignore[attr-defined]
    environment.globals["label"] = labels_for(language)
    environment.globals["states"] = OperationState
    environment.globals["Role"] = Role
    environment.globals["names"] = NAMES
    environment.filters["local"] = lambda moment, zone: form.local(moment, zone).replace("T", " ")
    return environment


__all__ = ["PREFIX", "press_office"]
