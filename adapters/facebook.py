"""Facebook Pages: the authority's Page posts each announcement through the Graph API.

What it sends (Graph API, ``{api_base}/{api_version}/…``, the Page token as a bearer header):

- text: ``POST /{page-id}/feed`` with ``message`` (the variant, which ends with the item
  page's address) and ``link`` (the item page), from which Facebook builds the link card. If
  Facebook cannot read the page for the card (error 1609005), the post goes out without
  ``link``: the address still stands in the text.
- one image: ``POST /{page-id}/photos`` with ``url`` (the image's public copy beside the item
  page, where the built-in website puts it under its stored file name), ``caption`` (the text)
  and ``alt_text_custom`` (the alt text; a photo field in Meta's own Graph API SDK, which its
  Pages guide does not mention). Facebook fetches the image from there: the page is out first.
- several images: each uploaded unpublished (``published=false``, with its alt text), then one
  ``POST /{page-id}/feed`` with ``attached_media`` naming them.

Follow-ups are new posts, not comments (``Threads`` is not implemented on purpose): a comment
under the original warning never reaches anybody's feed, and the people who saw the warning
must see the update and the all-clear. The original keeps its link to the item page, which
always shows the current state. Corrections edit the post (``POST /{post-id}`` with
``message``); withdrawals delete it (``DELETE /{post-id}``, and the photos it carried) or mark
it (``on_withdrawal = "edit"``); an active warning is pinned to the top of the Page
(``is_pinned``, an update field of Page posts in Meta's SDK; a Page shows one pinned post).

Errors are read from the Graph error body (``{"error": {"code", "error_subcode", "message",
"fbtrace_id", "is_transient"}}``, docs: graph-api/guides/error-handling), never from the HTTP
status alone: a rate limit comes as 403 and must not flag the token (see `classify`).

Exactly once: the Graph API takes no idempotency key. After an answer that never came, the
engine asks ``find`` first, which looks among the Page's own latest posts for this very text;
and Facebook itself refuses the same message twice in a row (506), which counts as posted
when, on a retry, the look-up then finds the copy.

Tokens (docs/channels.md): a Page token with ``pages_manage_posts`` and
``pages_read_engagement``, best taken from a Business Manager system user. A system user's
token is "non-expiring" by default, and so is a Page token taken with it; Meta also offers
60-day system-user tokens. With ``app_id`` and ``app_secret_env`` the channel reads the token's
lifetime (``/debug_token``, the token's own metadata), renews a 60-day token while it still
can (``fb_exchange_token``) and signs every call with ``appsecret_proof``.

Versions: every Graph API version lives about two years. Facebook answers a call to a retired
one with the oldest version still offered (``facebook-api-version`` tells which); the channel
logs that once and ``check`` names it, so that ``api_version`` is raised before Meta's
changes arrive unannounced. Errors that name a deprecated version stop the channel.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, Literal

import requests
import structlog
from pydantic import Field, field_validator, model_validator

from adapters.port import (
    Capabilities,
    Channel,
    ChannelSettings,
    Credential,
    CredentialsError,
    DeliveryError,
    Idempotency,
    MediaRule,
    PermanentError,
    Post,
    Receipt,
    TransientError,
    Wave,
    error_for_exception,
    error_for_status,
    retry_after,
)
from adapters.port.graph import (
    GONE,
    NOT_PERMITTED,
    POLICY_BLOCK,
    TEMPORARY,
    TOKEN_CODES,
    GraphError,
    fingerprint,
    graph_error,
    integer,
    is_fingerprint,
)
from adapters.port.graph import regain_access as regain_access  # re-exported: tests/test_facebook.py reads it here
from adapters.port.http import environment_for, session
from publisher.domain.announcement import Media
from publisher.domain.authority import web_address
from publisher.domain.counting import TextRule, Utf16Units

log = structlog.get_logger("herold.facebook")

GRAPH = "https://graph.facebook.com"
# The newest version when this was written (Graph API v27.0, 2026-11-04); each lives about two
# years (docs: graph-api/changelog/versions).
API_VERSION = "v27.0"
# Meta documents no number; 63,206 is the limit every other source names. Counted in UTF-16
# units, never fewer than the characters Facebook's composer counts.
TEXT_LIMIT = 63_206
PERMALINK = "https://www.facebook.com/{page}/posts/{post}"
CLOCK_SKEW = timedelta(minutes=5)  # Facebook's clock is not ours: look a little further back
LOOK_BACK = 25  # the Page's own latest posts, looked through for a copy after a lost answer
THROTTLED_WAIT = 300.0  # seconds, when a rate limit says nothing of how long it lasts
# A 60-day token is renewed this long before it runs out: an expired one cannot be renewed,
# only replaced by hand. Renewing gives a new token; the old one lives on to its own end.
RENEW_WITHIN = timedelta(days=20)
TOKEN_KEY = "page_access_token"  # noqa: S105 - the name it is kept under, not a token
SOURCE_KEY = "page_access_token.source"  # which configured token the kept one was renewed from
SOURCE_DIGITS = 32  # of the configured token's fingerprint, as kept under SOURCE_KEY
PERMISSIONS = ("pages_manage_posts", "pages_read_engagement")

# Token problems (code 190), by subcode: what a person must do (docs: error-handling).
_TOKEN = {
    458: "the app was removed from the account behind the token",
    459: "the account behind the token is checkpointed: log in at facebook.com once",
    460: "the password of the account behind the token was changed",
    463: "the token has expired",
    464: "the account behind the token is not confirmed",
    467: "the token is no longer valid (logged out or revoked)",
    492: "the token's session is invalid (did the system user lose its role on the Page?)",
}
# Rate limits: whose calls were too many. Facebook refuses until the count falls again.
_THROTTLED = {
    4: "the app's",
    17: "the account's",
    32: "the Page's",
    341: "the app's",
    613: "a",
    80001: "the Page's",
}
_VERSION = {12, 2635}  # a deprecated API or version
_DUPLICATE = 506  # "duplicate post": the same message as the Page's last one
_LINK_NOT_READ = 1609005  # Facebook could not read the linked page for its card


class FacebookSettings(ChannelSettings):
    page_id: str = Field(pattern=r"^[0-9]+$")  # the Page's numeric id (Page → About → Page transparency)
    page_access_token_env: str  # the variable holding the Page access token
    api_base: str = GRAPH
    api_version: str = Field(default=API_VERSION, pattern=r"^v[0-9]+\.[0-9]+$")
    # The Meta app the token was made for, and the variable holding its app secret: to read and
    # renew a token that expires, and to sign every call (appsecret_proof).
    app_id: str | None = Field(default=None, pattern=r"^[0-9]+$")
    app_secret_env: str | None = None
    link_card: bool = True  # send the item page as `link`, so that Facebook shows its card
    pin_warnings: bool = True
    # What a withdrawal does to the posts it withdraws (the withdrawal itself is a new post):
    # "delete" takes them off the Page and out of every share, "edit" marks them withdrawn.
    on_withdrawal: Literal["delete", "edit"] = "delete"

    @field_validator("api_base")
    @classmethod
    def _base(cls, value: str) -> str:
        return web_address(value).rstrip("/")

    @model_validator(mode="after")
    def _app(self) -> FacebookSettings:
        if (self.app_id is None) != (self.app_secret_env is None):
            raise ValueError("app_id and app_secret_env go together: give both, or neither")
        return self


def _said(error: GraphError) -> str:
    """The Graph error's own words for a reason: its codes, the trace id Meta's support asks for."""
    numbers = f"{error.code}/{error.subcode}" if error.subcode else str(error.code)
    trace = f", fbtrace_id {error.trace}" if error.trace else ""
    message = error.message.strip()
    return f"({numbers}{trace}): {message}" if message else f"({numbers}{trace})"


class _Duplicate(PermanentError):
    """Facebook refused the message as the same as the Page's last one (506)."""


class _LinkNotRead(PermanentError):
    """Facebook could not read the linked page for its card (1609005)."""


class _Gone(PermanentError):
    """The post or photo does not exist (any more), or the token may not see it (100/33)."""


def classify(status: int, error: GraphError | None, headers: Mapping[str, str], api_version: str) -> DeliveryError:
    """The engine's view of a Graph API error answer: by the error's code where it has one (a
    rate limit comes as 403, a bad token as 400), else by the HTTP status."""
    if error is None or error.code is None:
        return error_for_status(status, "", headers)
    code, said = error.code, _said(error)
    if code in TOKEN_CODES:
        why = _TOKEN.get(error.subcode or 0, "the token is invalid, expired or revoked")
        return CredentialsError(f"Facebook refused the Page token: {why} {said}. Generate a new Page token")
    if code in _THROTTLED:
        wait = retry_after(headers) or regain_access(headers) or THROTTLED_WAIT
        return TransientError(f"{_THROTTLED[code]} rate limit on Facebook was reached {said}", retry_after=wait)
    if code in _VERSION:
        return CredentialsError(
            f"Facebook no longer serves this call in Graph API {api_version} {said}: raise api_version in the "
            "channel's settings to a current version (see developers.facebook.com/docs/graph-api/changelog)"
        )
    if code in NOT_PERMITTED:
        return CredentialsError(
            f"the Page token may not do this {said}: it needs {' and '.join(PERMISSIONS)}, and the system user "
            "(or person) behind it the task 'Create content' on the Page"
        )
    if code == POLICY_BLOCK:
        return PermanentError(
            f"Facebook blocks the Page from posting for a policy violation {said}; Facebook calls the block "
            "temporary: check the Page's account status in the Meta Business Suite, then retry the delivery"
        )
    if code == _DUPLICATE:
        return _Duplicate(f"Facebook refused the text as a duplicate of the Page's last post {said}")
    if code == _LINK_NOT_READ:
        return _LinkNotRead(f"Facebook could not read the item page for its link card {said}")
    if (code, error.subcode) == GONE:
        return _Gone(f"Facebook does not know the post (any more) {said}")
    if code in TEMPORARY or error.transient or status >= 500:
        # An unknown error may come after Facebook acted: look for the copy before posting again.
        return TransientError(
            f"Facebook had a temporary problem {said}",
            retry_after=retry_after(headers, rate_limited=False),
            ambiguous=True,
        )
    return PermanentError(f"Facebook refused the request {said}")


def _moment(value: Any) -> datetime | None:
    """A Graph API time in epoch seconds (0: never)."""
    seconds = integer(value)
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def _same_text(one: str, other: str) -> bool:
    return one.split() == other.split()


class FacebookPage(Channel):
    type = "facebook"
    label = "Facebook"
    capabilities = Capabilities(
        wave=Wave.other,
        text=TextRule(TEXT_LIMIT, Utf16Units()),
        template="channels/post.j2",
        # Facebook documents no alt-text length: Herold's own limit (1,000) is what it sends. 4 MB
        # and JPEG/PNG are the tightest figures found for Page photos.
        media=MediaRule(count=4, max_bytes=4 * 1024 * 1024, types=("image/jpeg", "image/png"), alt_text=1000),
        threads=False,  # follow-ups are new posts in the feed: see the module's docstring
        edit=True,
        delete=True,
        pin=True,
        pin_limit=1,  # a Page shows one pinned post
        idempotency=Idempotency.lookup,
    )
    Settings = FacebookSettings
    settings: FacebookSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = environment_for(session(self.deadline), self.settings.api_base)
        self._lock = threading.Lock()
        self._answered_by: str | None = None  # the Graph API version that answered, if not ours
        self._expires: datetime | None = None  # the configured token's end, as /debug_token said

    def _now(self) -> datetime:
        return self.context.clock().astimezone(UTC)  # a clock without a zone is local time

    @classmethod
    def pins(cls, settings: ChannelSettings) -> bool:
        return isinstance(settings, FacebookSettings) and settings.pin_warnings

    # -- the token ------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The Page token: a renewed one if Herold keeps one, else the configured one."""
        renewed = self._renewed()
        return renewed.value if renewed is not None else self.context.secrets["page_access_token"]

    def _renewed(self) -> Credential | None:
        """The token Herold renewed from the configured one; None once a person has configured
        another (theirs is newer than anything renewed from the old one)."""
        configured = self.context.secrets["page_access_token"]
        kept, source = self.context.credentials.get(TOKEN_KEY), self.context.credentials.get(SOURCE_KEY)
        if kept is not None and is_fingerprint(source, configured, SOURCE_DIGITS):
            return kept
        return None

    def _app(self) -> tuple[str, str] | None:
        if self.settings.app_id is None:
            return None
        return self.settings.app_id, self.context.secrets["app_secret"]

    # -- calls ----------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, token: str, data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None, signed: bool = True,
    ) -> dict[str, Any]:  # fmt: skip
        """One Graph API call; its JSON answer, or the error as the engine's."""
        fields = dict(params or {})
        form = dict(data or {}) if data is not None else None
        app = self._app()
        if app is not None and signed:
            # Signed with the app secret: a leaked token alone is not enough to post.
            proof = hmac.new(app[1].encode(), token.encode(), hashlib.sha256).hexdigest()
            (form if form is not None else fields)["appsecret_proof"] = proof
        url = f"{self.settings.api_base}/{self.settings.api_version}/{path}"
        try:
            with self.http.request(
                method, url, params=fields or None, data=form, headers={"Authorization": f"Bearer {token}"},
                timeout=self.context.timeouts, allow_redirects=False,
            ) as response:  # fmt: skip
                self._note_version(response.headers)
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if 200 <= response.status_code < 300:
                    if not isinstance(body, dict):
                        # Facebook acted, or not: an answer without its JSON says nothing.
                        raise TransientError(f"Facebook answered {response.status_code} without JSON", ambiguous=True)
                    return body
                raise classify(response.status_code, graph_error(body), response.headers, self.settings.api_version)
        except requests.RequestException as error:
            raise error_for_exception(error) from error

    def _note_version(self, headers: Mapping[str, str]) -> None:
        answered = headers.get("facebook-api-version")
        if not answered or answered == self.settings.api_version:
            return
        with self._lock:
            first = self._answered_by != answered
            self._answered_by = answered
        if first:
            log.warning("Facebook answered with another Graph API version: the configured one is retired",
                        channel=self.id, configured=self.settings.api_version, answered=answered)  # fmt: skip

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, post: Post) -> Receipt:
        token = self.token
        try:
            return self._publish(post, token)
        except _Duplicate as duplicate:
            # The same text as the Page's last post: this delivery's own, if an earlier attempt went
            # out. On a first attempt it can only be somebody else's.
            found = self.find(post) if post.attempt > 1 else None
            if found is not None:
                return found
            raise PermanentError(
                f"{duplicate.reason}. No copy made by this delivery was found: if the Page's latest post is this "
                "message, confirm it by hand; Facebook takes the same text again only after another post"
            ) from duplicate

    def _publish(self, post: Post, token: str) -> Receipt:
        page = self.settings.page_id
        item = post.item_url or post.variant.link
        images = [m for m in post.announcement.media if m.path is not None]
        if len(images) == 1:
            answer = self._call("POST", f"{page}/photos", token=token, data={
                "url": _public(item, images[0]), "caption": post.variant.text,
                "alt_text_custom": images[0].alt, "published": "true",
            })  # fmt: skip
            return self._receipt(str(answer.get("post_id") or answer.get("id") or ""), [str(answer.get("id", ""))])
        if images:
            photos = [self._unpublished(item, image, token) for image in images]
            data: dict[str, Any] = {"message": post.variant.text}
            for number, photo in enumerate(photos):
                data[f"attached_media[{number}]"] = json.dumps({"media_fbid": photo})
            return self._receipt(str(self._call("POST", f"{page}/feed", token=token, data=data).get("id", "")), photos)
        data = {"message": post.variant.text}
        if self.settings.link_card:
            data["link"] = item
        try:
            answer = self._call("POST", f"{page}/feed", token=token, data=data)
        except _LinkNotRead as unread:
            # The warning matters more than its card: the address is in the text all the same.
            log.warning("posting without the link card", channel=self.id, reason=unread.reason)
            answer = self._call("POST", f"{page}/feed", token=token, data={"message": post.variant.text})
        return self._receipt(str(answer.get("id", "")), [])

    def _unpublished(self, item: str, image: Media, token: str) -> str:
        answer = self._call("POST", f"{self.settings.page_id}/photos", token=token, data={
            "url": _public(item, image), "alt_text_custom": image.alt, "published": "false",
        })  # fmt: skip
        return str(answer.get("id", ""))

    def _receipt(self, post_id: str, photos: Sequence[str]) -> Receipt:
        if not post_id:
            raise TransientError("Facebook answered without the post's id", ambiguous=True)
        refs = {"photo_ids": ",".join(p for p in photos if p)} if any(photos) else {}
        return Receipt(platform_id=post_id, url=self._permalink(post_id), refs=refs)

    def _permalink(self, post_id: str) -> str:
        page, _, number = post_id.partition("_")
        return PERMALINK.format(page=page, post=number) if number else f"https://www.facebook.com/{post_id}"

    def find(self, post: Post) -> Receipt | None:
        """This message among the Page's own latest posts (``published_posts``: the Page's own,
        not visitors'), created since the delivery began (``since``): the same text, as Facebook
        keeps it. The alert, its update and its all-clear link the same page: only the whole text
        tells them apart."""
        since = (post.created_at or self._now()).astimezone(UTC) - CLOCK_SKEW
        try:
            answer = self._call("GET", f"{self.settings.page_id}/published_posts", token=self.token, params={
                "fields": "id,message,permalink_url", "since": int(since.timestamp()), "limit": LOOK_BACK,
            })  # fmt: skip
        except TransientError:
            raise
        except DeliveryError as problem:
            log.warning("cannot look for an earlier copy; posting again", channel=self.id, reason=problem.reason)
            return None
        for entry in answer.get("data") or []:
            if not isinstance(entry, dict) or not entry.get("id"):
                continue
            if _same_text(str(entry.get("message") or ""), post.variant.text):
                post_id = str(entry["id"])
                return Receipt(platform_id=post_id, url=entry.get("permalink_url") or self._permalink(post_id))
        return None

    # -- the rest of a post's life ------------------------------------------------------------------

    def edit(self, receipt: Receipt, post: Post) -> Receipt:
        """The post's text replaced by ``post``'s (a correction, or a withdrawal's mark). Its link
        card and images stay."""
        self._call("POST", receipt.platform_id, token=self.token, data={"message": post.variant.text})
        return receipt

    def delete(self, receipt: Receipt) -> None:
        """The post, and the photos it carried (they would stay in the Page's albums)."""
        token = self.token
        photos = [p for p in receipt.refs.get("photo_ids", "").split(",") if p]
        for thing in (receipt.platform_id, *photos):
            try:
                self._call("DELETE", thing, token=token)
            except _Gone:
                continue  # already gone is what we wanted

    def pin(self, receipt: Receipt) -> None:
        self._call("POST", receipt.platform_id, token=self.token, data={"is_pinned": "true"})

    def unpin(self, receipt: Receipt) -> None:
        with contextlib.suppress(_Gone):  # deleted (by a withdrawal, or by hand): pinned no more
            self._call("POST", receipt.platform_id, token=self.token, data={"is_pinned": "false"})

    # -- setup, and the token's lifetime ------------------------------------------------------------

    def check(self) -> list[str]:
        """Whose token it is (``/me``: a Page token is the Page), and with the app's secret the
        token's permissions; and whether the configured Graph API version is still served."""
        token, problems = self.token, []
        try:
            me = self._call("GET", "me", token=token, params={"fields": "id,name"})
        except DeliveryError as error:
            return [error.reason]
        if str(me.get("id")) != self.settings.page_id:
            problems.append(
                f"the token is not the Page's own (it is {me.get('name') or 'someone'}, id {me.get('id')}, not the "
                f"Page {self.settings.page_id}): take the Page token with GET /{self.settings.page_id}?fields="
                "access_token, using the system user's token"
            )
        if self._app() is not None:
            try:
                info = self._debug(token)
            except DeliveryError as error:
                problems.append(f"the token's permissions could not be read: {error.reason}")
            else:
                missing = [p for p in PERMISSIONS if p not in (info.get("scopes") or [])]
                if missing:
                    problems.append(f"the token lacks the permission {', '.join(missing)}")
        if self._answered_by is not None:
            problems.append(
                f"Graph API {self.settings.api_version} is retired: Facebook answered with {self._answered_by}. "
                "Raise api_version to a current version (developers.facebook.com/docs/graph-api/changelog)"
            )
        return problems

    def _debug(self, token: str) -> dict[str, Any]:
        """The token's own metadata (``/debug_token``, asked with the app's token)."""
        app = self._app()
        assert app is not None
        answer = self._call("GET", "debug_token", token=f"{app[0]}|{app[1]}", params={"input_token": token},
                            signed=False)  # fmt: skip
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    def refresh_credentials(self) -> None:
        """Without the app's id and secret nothing can be read or renewed (a system user's
        non-expiring token needs neither). With them: the token's end, from ``/debug_token``, and
        a 60-day token renewed while it still lives (``fb_exchange_token``), kept for every
        worker. A token Facebook no longer takes is a CredentialsError: a person must replace it."""
        app = self._app()
        if app is None:
            return
        token = self.token
        info = self._debug(token)
        if info.get("is_valid") is False:
            error = info.get("error")
            reason = f": {error['message']}" if isinstance(error, dict) and error.get("message") else ""
            raise CredentialsError(f"Facebook says the Page token is no longer valid{reason}")
        expires = _moment(info.get("expires_at"))
        self._expires = expires
        now = self._now()
        if expires is None or expires - now > RENEW_WITHIN:
            return
        answer = self._call("GET", "oauth/access_token", token=token, signed=False, params={
            "grant_type": "fb_exchange_token", "client_id": app[0], "client_secret": app[1],
            "set_token_expires_in_60_days": "true", "fb_exchange_token": token,
        })  # fmt: skip
        renewed = answer.get("access_token")
        if not isinstance(renewed, str) or not renewed:
            raise CredentialsError("Facebook renewed the Page token without giving the new one")
        lifetime = integer(answer.get("expires_in"))
        until = now + timedelta(seconds=lifetime) if lifetime else now + timedelta(days=60)
        configured = self.context.secrets["page_access_token"]
        self.context.credentials.put(TOKEN_KEY, Credential(renewed, until, now))
        self.context.credentials.put(SOURCE_KEY, Credential(fingerprint(configured, SOURCE_DIGITS), None, now))
        self._expires = until
        log.info("Page token renewed", channel=self.id, expires=until.isoformat())

    def credentials_expire(self) -> datetime | None:
        """When the token in use stops working: a renewed one's end, else what ``/debug_token``
        said of the configured one (None: it does not expire, or nobody could ask)."""
        renewed = self._renewed()
        return renewed.expires_at if renewed is not None else self._expires

    def close(self) -> None:
        self.http.close()


def _public(item_url: str, image: Media) -> str:
    """The image's public copy beside the item page, as the built-in website names it."""
    assert image.path is not None
    folder = item_url if item_url.endswith("/") else item_url + "/"
    return folder + PurePosixPath(image.path).name
