"""Mastodon and the fediverse: any server that speaks the Mastodon client API.

Posts public statuses in the announcement's language, with a content warning per severity if
configured, images with their alt text, follow-ups as replies in the original's thread; pins
an active warning and unpins it on the all-clear, a withdrawal or expiry.

Built to work with Mastodon, GoToSocial, Akkoma, Takahē, Pixelfed alike, so it relies on no
one server's quirks:

- The client never asks the server for its version: Mastodon.py's version detection breaks
  on servers reporting e.g. "takahe/0.11.0" (Mastodon.py issue #450). We declare 4.0.0 and let
  Mastodon.py check only our own calls against that ("created" mode).
- The character limit is read from the instance (``/api/v2/instance``), unless configured: the
  engine asks now and then (``read_limits``) and keeps the answer, so accepting an announcement
  never waits for a server.
- Rate limits never make the client sleep inside a call (``ratelimit_method="throw"``): a 429
  goes back to the engine, which retries after ``Retry-After`` / ``X-RateLimit-Reset``.

Length: Mastodon counts every link as 23 characters; Takahē, Pleroma/Akkoma and others count the
raw text, whatever they announce. A "too long" refusal (400 or 422 naming the length) is a
`TooLong`: the engine counts the text again with links at full length, remembers that for the
channel and sends it at once (``count_links`` fixes either way).

Exactly once: every status carries the delivery's stable ``Idempotency-Key``; Mastodon keeps
it for an hour per account and answers a repeated request with the original status, but other
servers ignore it. So after every ambiguous failure ``find`` first looks for the status among
the account's recent posts (the item's link, the first line, the same reply target).

Scopes the token needs (docs/channels.md): ``write:statuses`` (post, edit, delete),
``write:media`` (images), ``write:accounts`` (pins), ``read:accounts`` and ``read:statuses``
(the look-up after a lost answer). ``check`` names any that is missing.
"""

from __future__ import annotations

import html
import io
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import requests
import structlog
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonUnauthorizedError,
)
from mastodon.types_base import EmptyResponse
from pydantic import field_validator

from adapters.port import (
    Capabilities,
    Channel,
    ChannelSettings,
    CredentialsError,
    DeliveryError,
    Idempotency,
    MediaRule,
    PermanentError,
    Post,
    Receipt,
    ServerLimits,
    TooLong,
    TransientError,
    Wave,
    error_for_exception,
    error_for_status,
    retry_after,
)
from adapters.port.http import DeadlineAdapter, environment_for
from publisher.domain.announcement import Announcement, Kind, Media, MsgType, Severity
from publisher.domain.authority import web_address
from publisher.domain.counting import CodePoints, GraphemesShortLinks, TextRule
from publisher.domain.labels import labels_for, primary

log = structlog.get_logger("herold.mastodon")

DEFAULT_LIMIT = 500  # Mastodon's default; used when the instance does not say
PIN_LIMIT = 5  # posts an account may pin at once on Mastodon; used when the instance does not say
LINK_LENGTH = 23  # every URL counts 23 characters, whatever its length
CLOCK_SKEW = timedelta(minutes=5)  # the server's clock is not ours: look a little further back
MEDIA_WAIT = 30.0  # seconds to wait for the server to process an image before trying again later
MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


def rule(limit: int, *, links_in_full: bool = False) -> TextRule:
    counting = CodePoints() if links_in_full else GraphemesShortLinks(LINK_LENGTH)
    return TextRule(limit, counting, counts_spoiler=True)


# A refusal for length: Mastodon "Validation failed: Text character limit of 500 exceeded",
# mastodon-mock "Text is too long (maximum is 500 characters)", others alike.
_TOO_LONG = re.compile(r"too long|character limit|characters? .*exceed|exceeds? .*characters?|maximum .*characters?",
                       re.IGNORECASE)  # fmt: skip
SCOPES = {
    "write:statuses": "posting, corrections and withdrawals",
    "write:media": "images",
    "write:accounts": "pinning warnings",
    "read:accounts": "the look-up after a lost answer (which account is ours)",
    "read:statuses": "the look-up after a lost answer (the account's recent posts)",
}
# A token without the scope: Doorkeeper (Mastodon) "This action is outside the authorized
# scopes", Takahē "out_of_scope_for_token".
OUT_OF_SCOPE = re.compile(r"outside the authorized scopes|out_of_scope", re.IGNORECASE)


class MastodonSettings(ChannelSettings):
    instance: str  # e.g. "https://social.bund.de"
    access_token_env: str  # the environment variable holding the account's access token
    visibility: Literal["public", "unlisted"] = "public"
    # Content warning per severity, e.g. {extreme = "Warnung: {event}"}; {event} and {severity} are filled in.
    content_warnings: dict[Severity, str] = {}
    max_characters: int | None = None  # default: what the instance reports
    # How the server counts links: "short" (23 each, as Mastodon), "full" (the raw text, as
    # Takahē, Pleroma, Akkoma); "auto" starts short and learns "full" from the first refusal.
    count_links: Literal["auto", "short", "full"] = "auto"
    # What a withdrawal does to the posts it withdraws: "edit" marks them withdrawn (the
    # withdrawal's text, the history stays visible), "delete" removes them. A reply says why, either way.
    on_withdrawal: Literal["edit", "delete"] = "edit"
    pin_warnings: bool = True

    @field_validator("instance")
    @classmethod
    def _instance(cls, value: str) -> str:
        return web_address(value).rstrip("/")


class _Api(Mastodon):
    """Mastodon.py, keeping the server's JSON as it came. Mastodon.py turns every answer into
    typed entities, field by field; for a status with its account that cost more CPU than all
    else a post takes, and Herold reads only a few fields (tests/test_mastodon.py checks that
    this still applies after an upgrade). Empty answers still get Mastodon.py's own treatment."""

    def _Mastodon__try_cast_to_type(self, value: Any, override_type: Any = None) -> tuple[Any, None]:
        if isinstance(value, dict | list) and value:
            return value, None
        # An empty answer (a 200 without a body): what Mastodon.py expects of one.
        return EmptyResponse() if isinstance(value, dict) else value, None  # type: ignore[no-untyped-call]


def _moment(value: Any) -> datetime | None:
    """A timestamp from the server's JSON (ISO 8601)."""
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


class _Client:
    """A Mastodon.py client for one call, remembering the last HTTP answer: Mastodon.py's
    exceptions do not carry the response, and we need its Retry-After and rate-limit headers."""

    def __init__(self, channel: MastodonChannel, timeout: tuple[float, float]) -> None:
        self.last: requests.Response | None = None
        self.reset: str | None = None
        session = requests.Session()
        session.mount("https://", channel.adapter)
        session.mount("http://", channel.adapter)
        session.trust_env, session.proxies, session.verify = False, dict(channel.proxies), channel.verify
        session.hooks["response"].append(self._remember)
        self.api = _Api(
            api_base_url=channel.settings.instance,
            access_token=channel.token,
            mastodon_version="4.0.0",
            version_check_mode="created",
            ratelimit_method="throw",
            request_timeout=timeout,  # type: ignore[arg-type] # passed on to requests: (connect, read) works
            session=session,
            user_agent="Herold",
        )

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self.last = response
        # Mastodon.py works the reset time out with dateutil on every answer, for pacing Herold
        # never uses (it throws, and each call has a client of its own), and calls an answer it
        # cannot read a rate limit, even a 200 whose status is posted. Herold reads it itself.
        self.reset = response.headers.pop("X-RateLimit-Reset", None)
        return response

    @property
    def headers(self) -> dict[str, str]:
        if self.last is None:
            return {}
        headers = dict(self.last.headers)
        if self.reset is not None:
            headers["X-RateLimit-Reset"] = self.reset
        return headers


class MastodonChannel(Channel):
    type = "mastodon"
    label = "Mastodon"
    capabilities = Capabilities(
        wave=Wave.fediverse,
        text=rule(DEFAULT_LIMIT),
        template="channels/mastodon.j2",
        # Mastodon takes 16 MB images and 1,500 characters of description; Herold's are smaller.
        media=MediaRule(count=4, max_bytes=16 * 1024 * 1024, alt_text=1500),
        threads=True,
        edit=True,
        delete=True,
        pin=True,
        pin_limit=PIN_LIMIT,
        idempotency=Idempotency.key,
    )
    Settings = MastodonSettings
    settings: MastodonSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adapter = DeadlineAdapter(self.deadline, pool_connections=4, pool_maxsize=16)
        # The environment's proxy and CA bundle for the instance, read once (see environment_for).
        settled = environment_for(requests.Session(), self.settings.instance)
        self.proxies: dict[str, str] = dict(settled.proxies)
        self.verify: bool | str = settled.verify if settled.verify is not None else True

    @property
    def token(self) -> str:
        return self.context.secrets["access_token"]

    def _client(self, timeout: tuple[float, float] | None = None) -> _Client:
        return _Client(self, timeout or self.context.timeouts)

    # -- what the instance allows: asked by the engine now and then, kept, read at intake -----

    @classmethod
    def text_rule(cls, settings: ChannelSettings, limits: ServerLimits | None) -> TextRule:
        assert isinstance(settings, MastodonSettings)
        full = settings.count_links == "full" or (
            settings.count_links == "auto" and limits is not None and limits.links_in_full
        )
        if settings.max_characters:
            return rule(settings.max_characters, links_in_full=full)
        # Until the instance has said, count to 500: most servers allow that much or more.
        return rule(limits.characters if limits and limits.characters else DEFAULT_LIMIT, links_in_full=full)

    @classmethod
    def pins(cls, settings: ChannelSettings) -> bool:
        return isinstance(settings, MastodonSettings) and settings.pin_warnings

    def read_limits(self) -> ServerLimits:
        """What the instance allows (``/api/v2/instance``). Raises a DeliveryError if it cannot be
        asked; the engine then keeps what it knew."""
        client = self._client(timeout=(2.0, 3.0))
        try:
            configuration = client.api.instance_v2()["configuration"]
        except MastodonError as error:
            raise self._translate(error, client) from error
        except (KeyError, TypeError) as error:
            raise PermanentError(f"the instance does not describe its limits ({type(error).__name__})") from error
        characters = _number(configuration, "statuses", "max_characters")
        # Older servers do not say how many pins; Mastodon's own limit is fixed at five.
        pins = _number(configuration, "accounts", "max_pinned_statuses")
        links = _number(configuration, "statuses", "characters_reserved_per_url")
        return ServerLimits(characters=characters, pins=pins, counts_links_as=links)

    @classmethod
    def spoiler(cls, settings: ChannelSettings, announcement: Announcement) -> str | None:
        assert isinstance(settings, MastodonSettings)
        if announcement.kind is not Kind.warning or announcement.msg_type not in {MsgType.alert, MsgType.update}:
            return None
        template = settings.content_warnings.get(announcement.severity) if announcement.severity else None
        if not template:
            return None
        t = labels_for(announcement.language or "de")
        severity = t(f"severity.{announcement.severity.value}") if announcement.severity else ""
        return template.format(event=announcement.event or "", severity=severity).strip() or None

    # -- publishing -----------------------------------------------------------------------

    def reply(self, post: Post) -> Receipt:
        """A follow-up in the thread: a status replying to the latest earlier copy."""
        return self.publish(post)

    def publish(self, post: Post) -> Receipt:
        client = self._client()
        try:
            media = [self._upload(client, item) for item in post.announcement.media]
            reply_to = post.in_reply_to.platform_id if post.in_reply_to else None
            try:
                status = self._post(client, post, media, reply_to)
            except MastodonNotFoundError:
                if reply_to is None:
                    raise
                # The message it replies to was deleted on the server: the follow-up must still go out.
                log.warning("reply target gone; posting without it", channel=self.id, reply_to=reply_to)
                status = self._post(client, post, media, None)
        except MastodonError as error:
            raise self._translate(error, client) from error
        refs = {"media_ids": ",".join(media)}  # what an edit must send again to keep them
        return Receipt(platform_id=str(status["id"]), url=status.get("url") or status.get("uri"), refs=refs)

    def _post(self, client: _Client, post: Post, media: list[str], reply_to: str | None) -> Any:
        return client.api.status_post(
            post.variant.text,
            in_reply_to_id=reply_to,
            media_ids=media or None,
            spoiler_text=post.variant.spoiler,
            visibility=self.settings.visibility,
            language=primary(post.variant.language),
            idempotency_key=post.idempotency_key,
        )

    def _upload(self, client: _Client, media: Media) -> str:
        assert media.path is not None
        path = self.context.media / media.path
        uploaded = client.api.media_post(
            io.BytesIO(path.read_bytes()), mime_type=MIME.get(path.suffix.lower(), "image/png"),
            description=media.alt, file_name=path.name,
        )  # fmt: skip
        # 202 Accepted: the server processes the image; a status may attach it only when done.
        deadline = time.monotonic() + MEDIA_WAIT
        while uploaded.get("url") is None:
            if time.monotonic() > deadline:
                raise TransientError("the server is still processing the image", retry_after=30)
            time.sleep(1.0)
            uploaded = client.api.media(uploaded["id"])
        return str(uploaded["id"])

    def find(self, post: Post) -> Receipt | None:
        """The status an ambiguous attempt may have created, looked for before posting again:
        servers that ignore ``Idempotency-Key`` would otherwise get it twice. The alert, its
        updates and its all-clear all link to the same page: a copy is this post only if it also
        replies where this post replies and carries its first line. A token that may not look
        (no read scopes) finds nothing: the post goes out again, Idempotency-Key its only guard."""
        reply_to = post.in_reply_to.platform_id if post.in_reply_to else None
        first_line = post.variant.text.split("\n", 1)[0]
        since = (post.created_at or self.context.clock()) - CLOCK_SKEW
        client = self._client()
        try:
            me = client.api.account_verify_credentials()
            for status in client.api.account_statuses(me["id"], limit=40):
                created = _moment(status.get("created_at"))
                if created is not None and created.astimezone(UTC) < since:
                    break
                content = _plain(str(status.get("content", "")))
                replies_alike = str(status.get("in_reply_to_id") or "") == str(reply_to or "")
                if post.variant.link in content and first_line in content and replies_alike:
                    media = ",".join(str(m["id"]) for m in status.get("media_attachments") or [] if "id" in m)
                    return Receipt(platform_id=str(status["id"]), url=status.get("url") or status.get("uri"),
                                   refs={"media_ids": media})  # fmt: skip
        except MastodonError as error:
            problem = self._translate(error, client)
            if isinstance(problem, TransientError):
                raise problem from error
            log.warning("cannot look for an earlier copy; posting again", channel=self.id, reason=problem.reason)
        return None

    # -- the rest of a status's life --------------------------------------------------------

    def pin(self, receipt: Receipt) -> None:
        self._call(lambda api: api.status_pin(receipt.platform_id), scope="write:accounts")

    def unpin(self, receipt: Receipt) -> None:
        self._call(lambda api: api.status_unpin(receipt.platform_id), scope="write:accounts")

    def edit(self, receipt: Receipt, post: Post) -> Receipt:
        """The post in place, with ``post``'s text: a correction, or a withdrawal's mark. An edit
        replaces every field on some servers (Takahē), so every field is sent as it was posted:
        the images, the content warning, visibility and language. Mastodon shows the history."""
        client = self._client()
        try:
            if "media_ids" in receipt.refs:
                media = [m for m in receipt.refs["media_ids"].split(",") if m]
            else:  # posted before Herold kept them, or found by a look-up: ask what it carries
                media = [str(m["id"]) for m in client.api.status(receipt.platform_id).get("media_attachments") or []]
            # Mastodon.py's status_update sends neither language nor visibility; its inner call does.
            client.api._Mastodon__status_internal(  # type: ignore[attr-defined]
                post.variant.text, edit=receipt.platform_id, media_ids=media or None,
                spoiler_text=post.variant.spoiler or "", sensitive=bool(post.variant.spoiler),
                visibility=self.settings.visibility, language=primary(post.variant.language),
            )  # fmt: skip
        except MastodonError as error:
            raise self._translate(error, client, scope="write:statuses") from error
        return receipt

    def delete(self, receipt: Receipt) -> None:
        try:
            self._call(lambda api: api.status_delete(receipt.platform_id), scope="write:statuses")
        except PermanentError as error:
            if "404" not in error.reason:  # already gone is what we wanted
                raise

    def _call(self, action: Any, *, scope: str | None = None) -> Any:
        client = self._client()
        try:
            return action(client.api)
        except MastodonError as error:
            raise self._translate(error, client, scope=scope) from error

    def check(self) -> list[str]:
        """The token, asked with harmless calls: who it belongs to, and for each scope Herold uses
        a call that changes nothing: on a status or image that does not exist (404 with the
        scope, 403 without: the scope is checked first), and for pins an unpin of one of the
        account's own posts that is not pinned (Mastodon 4.3 and later look a status up before
        the scope of a pin, so a missing one would answer 404 either way)."""
        client = self._client(timeout=(3.0, 10.0))
        problems = []
        me: Any = None
        try:
            me = client.api.account_verify_credentials()
        except MastodonError as error:
            problem = self._translate(error, client, scope="read:accounts")
            if not _lacks_scope(problem):
                return [problem.reason]
            problems.append(problem.reason)
        probes: dict[str, Any] = {
            "read:statuses": lambda api: api.status(NOWHERE),
            "write:statuses": lambda api: api.status_update(NOWHERE, "-"),
            "write:media": lambda api: api.media_update(NOWHERE, description="-"),
        }
        if self.settings.pin_warnings:
            probes["write:accounts"] = lambda api: api.status_unpin(self._unpinned_post(api, me))
        for scope, probe in probes.items():
            try:
                probe(client.api)
            except MastodonNotFoundError:
                continue  # allowed; nothing is there, as intended
            except MastodonError as error:
                problem = self._translate(error, client, scope=scope)
                if _lacks_scope(problem):
                    problems.append(problem.reason)
                elif isinstance(problem, CredentialsError):
                    return [problem.reason]
        return problems

    @staticmethod
    def _unpinned_post(api: Any, me: Any) -> str:
        """One of the account's own posts that is not pinned (unpinning it changes nothing), or
        an id that does not exist if there is none to be seen."""
        if me is not None:
            try:
                for status in api.account_statuses(me["id"], limit=10):
                    if status.get("pinned") is False and not status.get("reblog"):
                        return str(status["id"])
            except MastodonError:
                pass
        return NOWHERE

    # -- errors -----------------------------------------------------------------------------

    def _translate(self, error: MastodonError, client: _Client, *, scope: str | None = None) -> DeliveryError:
        """Mastodon.py's exceptions, as the engine's: retry, stop, or stop and tell someone."""
        if isinstance(error, MastodonRatelimitError):
            return TransientError("the server's rate limit was reached (429)", retry_after=retry_after(client.headers))
        if isinstance(error, MastodonNetworkError):
            cause = error.__context__
            if isinstance(cause, requests.RequestException):
                return error_for_exception(cause)
            return TransientError(f"network problem: {error}", ambiguous=True)
        if isinstance(error, MastodonUnauthorizedError):
            return CredentialsError(f"the server refused the access token (401): {_message(error)}")
        if isinstance(error, MastodonAPIError) and len(error.args) > 1 and isinstance(error.args[1], int):
            status = error.args[1]
            message = _message(error)
            if status == 403 and OUT_OF_SCOPE.search(message) and scope:
                # Not the account's fault, and not every call's: only what needs the scope fails.
                return PermanentError(f"the access token lacks the scope {scope}, needed for {SCOPES[scope]} (403)")
            if status == 403:
                return CredentialsError(f"the account may not do this (403): {message}")
            if status in {400, 422} and _TOO_LONG.search(message):
                return TooLong(f"the server counts the text as too long ({status}): {message}")
            return error_for_status(status, message, client.headers)
        return PermanentError(f"Mastodon.py refused the call: {error}")


NOWHERE = "0"  # a status or image id no server gives out: the scope probes act on nothing


def _lacks_scope(problem: DeliveryError) -> bool:
    return "lacks the scope" in problem.reason


def _number(configuration: Any, section: str, key: str) -> int | None:
    try:
        return int(configuration[section][key])
    except (KeyError, TypeError, ValueError):
        return None


_TAG = re.compile(r"<[^>]+>")


def _plain(content: str) -> str:
    """A status's HTML as text: tags removed (links keep their hidden parts), entities decoded."""
    return html.unescape(_TAG.sub("", content.replace("<br />", "\n").replace("</p><p>", "\n\n")))


def _message(error: MastodonError) -> str:
    """The server's own explanation ("Validation failed: Text character limit of 500 exceeded")."""
    return str(error.args[3]) if len(error.args) > 3 and error.args[3] else str(error.args[-1])
