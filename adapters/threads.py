"""Threads (Meta): posts and their follow-ups on an authority's Threads profile, by the Threads API.

Every post is two steps on Meta's side (developers.facebook.com/documentation/threads/posts):
``POST /{user}/threads`` makes a *container* (the text, an image by its public address, a reply
target), ``GET /{container}?fields=status`` says when Meta has it ready, and
``POST /{user}/threads_publish?creation_id=…`` puts it on the profile. Only that last call posts
anything: a container that is never published expires after 24 hours, unseen. So a failure before
it is a plain retry, and only a lost answer to it is ambiguous. The post's address comes from
``GET /{id}?fields=permalink`` afterwards; a post is out even if that read fails.

Images: Meta fetches them itself, from a public address. The announcement's own images are
published beside the item's page on the own website (wave 1) under their stored file names, so
their address is the item's address plus that name; one image is an ``IMAGE`` post, several a
``CAROUSEL``. An announcement without an image gets the accessible alert card
(``Post.card_url``, published on the item's page too), its alt text the whole text of the post.

Length: 500, counted by Meta in UTF-8 bytes. The docs say so of emoji ("Emojis are counted as
the number of UTF-8 bytes", reference/publishing); refusals seen in production ("Param text must
be at most 500 characters long" for a text of 498 UTF-16 units and 504 bytes: three curly
apostrophes, postiz-app PR #1946, 2026) show it holds for every character. So an umlaut counts
two; fewer characters fit, but never one too many.

Links: since 2025-12-22 a post with more than five distinct links is refused when its container
is made (``THREADS_API__LINK_LIMIT_EXCEEDED``, create-posts/text-attachments). Every post carries
the item's link; the rest are links the authority wrote into the text. Such a refusal is final:
the text must change, so it is a PermanentError that says so.

Threads: follow-ups reply (``reply_to_id``) to the latest earlier copy. A reply whose target is
gone (deleted by hand), or that the token may not make, goes out as a post of its own: the
follow-up still reaches people, and links the item's page like every post. No edits and no pins:
the API has neither (its reference lists publishing, retrieval, replies, deletion, insights).

Tokens: long-lived user tokens last 60 days and may be refreshed once they are 24 hours old
(get-started/long-lived-tokens). The configured token is the first of a chain: the engine asks
daily (`refresh_credentials`), Herold refreshes the newest token of the chain once a day and keeps
it in ``context.credentials`` with its expiry. A new token put into the environment starts a new
chain (Herold keeps a fingerprint of the configured token, not the token).

Quotas: 250 posts and 1,000 replies in 24 hours per profile, enforced by ``threads_publish``
(overview). An authority posts far fewer; a refusal for it is a retry, and the setup check shows
the day's use (``threads_publishing_limit``) rather than spending a read on every post.

No idempotency: a retry after a lost answer to ``threads_publish`` may post twice. Before posting
again the engine asks `find`, which looks among the profile's own posts since the delivery began
for one with exactly this text and kind of media. Replies cannot be looked for without
``threads_read_replies`` (a permission to read other people's replies, which Herold does not ask
for), so for them `find` finds nothing: a warning goes out again, news waits for a person.

Permissions the app needs (docs/channels.md): ``threads_basic``, ``threads_content_publish``,
``threads_manage_replies`` (replies: Meta's pages differ on whether replying to one's own posts
needs it), ``threads_delete`` (withdrawals).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests
import structlog
from pydantic import Field, field_validator

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
    TEMPORARY,
    THROTTLED_CODES,
    TOKEN_CODES,
    GraphError,
    fingerprint,
    graph_error,
    is_fingerprint,
)
from adapters.port.http import environment_for, loopback, session
from publisher.domain.authority import web_address
from publisher.domain.counting import LINK_LIKE, TextRule, Utf8Bytes

log = structlog.get_logger("herold.threads")

API_BASE = "https://graph.threads.net"
API_VERSION = "v1.0"
LIMIT = 500  # per post, in UTF-8 bytes (see the module docstring)
ALT_TEXT = 1000  # Meta's alt-text limit on its Graph APIs [unverified for Threads]
CAROUSEL = 20  # images in one carousel post
IMAGE_BYTES = 8_000_000  # "8 MB", JPEG and PNG (Threads media specifications)
REFRESH_AFTER = timedelta(hours=24)  # a long-lived token may be refreshed once this old
SOON = timedelta(days=7)  # a token expiring within this is a setup problem
LOOK_BACK = timedelta(minutes=5)  # Meta's clock is not ours
EARLIEST = 1688540400  # `since` may not be earlier (the API launched then: reference/user)
POLL_FIRST = 0.5  # seconds before asking again whether a container is ready; doubled each time
POLL_MOST = 5.0
TOKEN = "access_token"  # noqa: S105 - a key in context.credentials: the newest token of the chain
ORIGIN = "access_token.configured"  # fingerprint of the configured token, and when Herold first saw it

# Besides Graph's temporary codes, 9007: the container is not ready to publish yet (the Instagram
# Graph API's code, whose publishing Threads shares [unverified for Threads]): try again.
RETRY_CODES = TEMPORARY | {9007}
LINK_LIMIT = "THREADS_API__LINK_LIMIT_EXCEEDED"
# A container Meta could not prepare: fetching the image may work next time, the rest will not.
CONTAINER_RETRYABLE = ("FAILED_DOWNLOADING", "UNKNOWN")


MOST_LINKS = 5  # distinct links a post may carry (the item's own included), since 2025-12-22


@dataclass(frozen=True)
class DistinctLinks:
    """Links as Threads counts them for its five-link rule: each different address once. Part of
    the text rule, so render shortens the description until the variant keeps to it, and intake
    leaves the channel out when headline and instruction alone carry more."""

    unit: str = "links"

    def count(self, text: str, links: Collection[str]) -> int:
        found = {match.group(0).rstrip(".,;:!?)»\"'") for match in LINK_LIKE.finditer(text)}
        return len(found | set(links))


class ThreadsSettings(ChannelSettings):
    user_id: str = Field(pattern=r"^[0-9]+$")  # the Threads user id (GET /me?fields=id)
    access_token_env: str  # the environment variable holding a long-lived Threads user token
    api_base: str = API_BASE
    api_version: str = Field(default=API_VERSION, pattern=r"^v[0-9]+\.[0-9]+$")

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        return web_address(value).rstrip("/")


class _Refusal(Exception):
    """An error answer from the API, before the engine's view of it is decided."""

    def __init__(self, status: int, headers: Mapping[str, str], error: GraphError | None, text: str) -> None:
        super().__init__(f"{status}: {text}")
        self.status, self.headers, self.error, self.text = status, headers, error, text

    @property
    def code(self) -> int | None:
        return self.error.code if self.error else None

    @property
    def subcode(self) -> int | None:
        return self.error.subcode if self.error else None

    @property
    def missing(self) -> bool:
        return self.status == 404 or (self.code, self.subcode) == GONE

    @property
    def not_permitted(self) -> bool:
        return self.code in NOT_PERMITTED

    @property
    def link_limit(self) -> bool:
        # The docs name the error by this identifier, not where it stands in the body [unverified]:
        # it is looked for as the code and in the body's texts, as a whole identifier.
        if self.error is None:
            return False
        said = self.error.fields
        texts = ("message", "error_user_title", "error_user_msg", "type")
        return said.get("code") == LINK_LIMIT or any(LINK_LIMIT in str(said.get(name) or "") for name in texts)


def _reason(refusal: _Refusal) -> str:
    if refusal.error is None:
        return refusal.text
    error = refusal.error
    message = error.user_message or error.message or "no message"
    codes = "/".join(str(part) for part in (error.code, error.subcode) if part is not None)
    trace = f", fbtrace_id {error.trace}" if error.trace else ""
    return f"{message} (code {codes}{trace})" if codes else f"{message}{trace}"


def _moment(value: object) -> datetime | None:
    """A Threads timestamp ("2026-11-22T09:15:02+0000") as an aware datetime."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


class ThreadsChannel(Channel):
    type = "threads"
    label = "Threads"
    capabilities = Capabilities(
        wave=Wave.other,
        text=TextRule(LIMIT, Utf8Bytes(), also=(TextRule(MOST_LINKS, DistinctLinks()),)),
        template="channels/post.j2",
        media=MediaRule(
            count=CAROUSEL,
            max_bytes=IMAGE_BYTES,
            types=("image/jpeg", "image/png"),
            alt_text=ALT_TEXT,
            card="without_image",
        ),
        threads=True,
        delete=True,
        idempotency=Idempotency.none,
    )
    Settings = ThreadsSettings
    settings: ThreadsSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = environment_for(session(self.deadline), self.settings.api_base)

    # -- publishing -----------------------------------------------------------------------------

    def reply(self, post: Post) -> Receipt:
        """A follow-up: a reply to the latest earlier copy (``post.in_reply_to``)."""
        return self.publish(post)

    def publish(self, post: Post) -> Receipt:
        reply_to = post.in_reply_to.platform_id if post.in_reply_to else None
        children = self._carousel_items(post)
        try:
            container = self._container(post, children, reply_to)
        except _Refusal as refusal:
            if reply_to is None or not (refusal.missing or refusal.not_permitted):
                raise self._problem(refusal, acting=False, permission="threads_content_publish") from None
            # The follow-up must reach people all the same; as a post of its own it links the page too.
            log.warning("cannot reply; posting on its own", channel=self.id, reply_to=reply_to, reason=_reason(refusal))
            container = self._make(self._container_fields(post, children, None))
        self._until_ready(container)
        try:
            published = self._call("POST", f"{self.settings.user_id}/threads_publish",
                                   data={"creation_id": container}, acting=True)  # fmt: skip
        except _Refusal as refusal:
            raise self._problem(refusal, acting=True, permission="threads_content_publish") from None
        media_id = str(published.get("id") or "") if isinstance(published, dict) else ""
        if not media_id:
            # Meta may publish without saying which post it made (troubleshooting): find() looks.
            raise TransientError("Threads published without naming the post", ambiguous=True)
        return Receipt(platform_id=media_id, url=self._permalink(media_id))

    def _carousel_items(self, post: Post) -> list[str]:
        """The containers of a carousel's images (the announcement has several), ready."""
        images = self._images(post)
        if len(images) < 2:
            return []
        items = [
            self._make({"media_type": "IMAGE", "image_url": url, "alt_text": alt, "is_carousel_item": "true"})
            for url, alt in images
        ]
        for item in items:
            self._until_ready(item)
        return items

    def _container(self, post: Post, children: Sequence[str], reply_to: str | None) -> str:
        return self._create(self._container_fields(post, children, reply_to))

    def _container_fields(self, post: Post, children: Sequence[str], reply_to: str | None) -> dict[str, str]:
        fields = {"text": post.variant.text}
        if children:
            fields |= {"media_type": "CAROUSEL", "children": ",".join(children)}
        else:
            images = self._images(post)
            if images:
                [(url, alt)] = images
                fields |= {"media_type": "IMAGE", "image_url": url, "alt_text": alt}
            else:
                fields["media_type"] = "TEXT"
        if reply_to:
            fields["reply_to_id"] = reply_to
        return fields

    def _images(self, post: Post) -> list[tuple[str, str]]:
        """Each image as (public address, alt text): the announcement's own, beside the item's
        page under their stored names; else the alert card, described by the whole text."""
        own = [media for media in post.announcement.media if media.path is not None]
        if own:
            page = post.item_url or post.variant.link
            folder = page if page.endswith("/") else page + "/"
            return [(folder + PurePosixPath(str(media.path)).name, media.alt) for media in own]
        if post.card_url:
            return [(post.card_url, (post.card_alt or post.variant.text)[:ALT_TEXT])]
        return []

    def _make(self, fields: Mapping[str, str]) -> str:
        try:
            return self._create(fields)
        except _Refusal as refusal:
            raise self._problem(refusal, acting=False, permission="threads_content_publish") from None

    def _create(self, fields: Mapping[str, str]) -> str:
        """A container (raises _Refusal): nothing is posted yet."""
        made = self._call("POST", f"{self.settings.user_id}/threads", data=dict(fields))
        container = str(made.get("id") or "") if isinstance(made, dict) else ""
        if not container:
            raise TransientError("Threads made a container without naming it")
        return container

    def _until_ready(self, container: str) -> None:
        """Wait until Meta has the container ready, within the call deadline. Meta asks clients to
        check before publishing (posts, troubleshooting); text is ready at once, images take a while."""
        give_up = time.monotonic() + self.deadline
        pause = POLL_FIRST
        while True:
            try:
                answer = self._call("GET", container, params={"fields": "status,error_message"})
            except _Refusal as refusal:
                raise self._problem(refusal, acting=False, permission="threads_basic") from None
            status = answer.get("status") if isinstance(answer, dict) else None
            if status == "FINISHED":
                return
            if status == "ERROR":
                message = str(answer.get("error_message") or "UNKNOWN")
                reason = f"Threads could not prepare the post: {message}"
                if message.startswith(CONTAINER_RETRYABLE):
                    raise TransientError(reason, retry_after=60)
                raise PermanentError(reason)
            if status == "EXPIRED":
                raise TransientError("the prepared post expired before it was published; preparing it again")
            if time.monotonic() + pause > give_up:
                raise TransientError("Threads is still preparing the post", retry_after=30)
            time.sleep(pause)
            pause = min(pause * 2, POLL_MOST)

    def _permalink(self, media_id: str) -> str | None:
        """The post's address. The post is out whatever happens here: a failure must not make
        the engine post it again."""
        try:
            answer = self._call("GET", media_id, params={"fields": "permalink"})
        except (_Refusal, DeliveryError) as error:
            log.warning("posted, but its address could not be read", channel=self.id, post=media_id, reason=str(error))
            return None
        permalink = answer.get("permalink") if isinstance(answer, dict) else None
        return str(permalink) if permalink else None

    # -- after an ambiguous failure -------------------------------------------------------------

    def find(self, post: Post) -> Receipt | None:
        """The post an ambiguous attempt may have made: among the profile's own posts since the
        delivery began, one with exactly this text and this kind of media. An update repeats its
        alert's link and often its headline, never its whole text; a repeated text is a copy."""
        if post.in_reply_to is not None:
            return None  # replies are listed only with threads_read_replies, which Herold does not ask for
        since = (post.created_at or self._now()) - LOOK_BACK
        images = self._images(post)
        kind = "TEXT_POST" if not images else "IMAGE" if len(images) == 1 else "CAROUSEL_ALBUM"
        params = {
            "fields": "id,text,media_type,timestamp,permalink",
            "since": str(max(EARLIEST, int(since.timestamp()))),
            "limit": "25",
        }
        try:
            listed = self._call("GET", f"{self.settings.user_id}/threads", params=params)
        except _Refusal as refusal:
            problem = self._problem(refusal, acting=False, permission="threads_basic")
            if isinstance(problem, TransientError):
                raise problem from None
            log.warning("cannot look for an earlier copy", channel=self.id, reason=problem.reason)
            return None
        data = listed.get("data") if isinstance(listed, dict) else None
        text = post.variant.text.strip()
        found = [
            item for item in data or []
            if isinstance(item, dict) and str(item.get("text") or "").strip() == text
            and item.get("media_type") == kind and item.get("id")
            and (_moment(item.get("timestamp")) or since) >= since
        ]  # fmt: skip
        if not found:
            return None
        oldest = min(found, key=lambda item: _moment(item.get("timestamp")) or since)  # the first attempt's
        return Receipt(platform_id=str(oldest["id"]), url=oldest.get("permalink") or None)

    # -- withdrawal -----------------------------------------------------------------------------

    def delete(self, receipt: Receipt) -> None:
        """The post removed (delete-posts: 100 a day per profile). Gone already is as good."""
        try:
            self._call("DELETE", receipt.platform_id)
        except _Refusal as refusal:
            if refusal.missing:
                return
            raise self._problem(refusal, acting=False, permission="threads_delete", essential=False) from None

    # -- the token ------------------------------------------------------------------------------

    def _configured(self) -> str:
        token = self.context.secrets.get("access_token")
        if not token:
            raise CredentialsError(f"the Threads token from {self.settings.access_token_env} is not available")
        return token

    def _chain(self) -> tuple[Credential | None, Credential | None]:
        """When Herold first saw the configured token (None: it has not, or another is configured
        now), and the newest token refreshed from it (None: none yet)."""
        origin = self.context.credentials.get(ORIGIN)
        if not is_fingerprint(origin, self._configured()) or origin.updated_at is None:
            return None, None
        kept = self.context.credentials.get(TOKEN)
        if kept is None or kept.updated_at is None or kept.updated_at < origin.updated_at:
            return origin, None  # refreshed from a token configured before
        return origin, kept

    def _token(self) -> str:
        _, kept = self._chain()
        return kept.value if kept else self._configured()

    def _now(self) -> datetime:
        moment = self.context.clock()
        return moment if moment.tzinfo else moment.astimezone(UTC)

    def refresh_credentials(self) -> None:
        """Refresh the token once it is a day old (GET /refresh_access_token): Meta allows that
        from 24 hours on, and a refreshed token lasts 60 days from then."""
        now = self._now()
        origin, kept = self._chain()
        if origin is None:
            # First sight: the configured token is at least this old from now on.
            origin = Credential(fingerprint(self._configured()), updated_at=now)  # the whole digest, as ever
            self.context.credentials.put(ORIGIN, origin)
        if kept is not None:
            if kept.expires_at is not None and now >= kept.expires_at:
                raise CredentialsError(
                    f"the Threads token expired on {kept.expires_at:%Y-%m-%d}; put a new long-lived token "
                    f"into {self.settings.access_token_env}"
                )
            if kept.updated_at is not None and now - kept.updated_at < REFRESH_AFTER:
                return
        # A configured token may be younger than a day when Herold first sees it, and Meta
        # refuses to refresh those: until it has been known for a day, a refusal only means "later".
        young = kept is None and origin.updated_at is not None and now - origin.updated_at < REFRESH_AFTER
        try:
            answer = self._call("GET", "refresh_access_token", versioned=False, authorized=False, params={
                "grant_type": "th_refresh_token", "access_token": kept.value if kept else self._configured(),
            })  # fmt: skip
        except (_Refusal, DeliveryError) as error:
            if young:
                log.info("the token could not be refreshed yet; trying again tomorrow", channel=self.id)
                return
            if isinstance(error, _Refusal):
                raise self._problem(error, acting=False, permission="threads_basic") from None
            raise
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TransientError("Threads answered the token refresh without a token")
        seconds = answer.get("expires_in")
        expires = now + timedelta(seconds=seconds) if isinstance(seconds, int | float) and seconds > 0 else None
        self.context.credentials.put(TOKEN, Credential(token, expires_at=expires, updated_at=now))
        log.info("token refreshed", channel=self.id, expires=expires.isoformat() if expires else None)

    def credentials_expire(self) -> datetime | None:
        """When the token in use stops working: known once Herold has refreshed it (the configured
        token's own age is not known; Meta's debug_token would need a tester's token)."""
        _, kept = self._chain()
        return kept.expires_at if kept else None

    # -- setup ----------------------------------------------------------------------------------

    def check(self) -> Sequence[str]:
        """Whose token it is, and how much of the day's quota is used: own data only."""
        problems = []
        parts = urlsplit(self.settings.api_base)
        if parts.scheme == "http" and not loopback(parts.hostname):
            problems.append(f"api_base {self.settings.api_base} is plain http: the token would travel unencrypted")
        try:
            me = self._call("GET", "me", params={"fields": "id"})
            own = str(me.get("id")) if isinstance(me, dict) else None
            if own != self.settings.user_id:
                return [*problems, f"the token belongs to Threads user {own}, not to user_id {self.settings.user_id}"]
            usage = self._call("GET", f"{self.settings.user_id}/threads_publishing_limit",
                               params={"fields": "quota_usage,config"})  # fmt: skip
        except _Refusal as refusal:
            return [*problems, self._problem(refusal, acting=False, permission="threads_basic").reason]
        except DeliveryError as error:
            return [*problems, error.reason]
        try:
            [limit] = usage["data"]
            used, total = int(limit["quota_usage"]), int(limit["config"]["quota_total"])
        except (KeyError, TypeError, ValueError):
            pass  # the quota is Meta's to say; not saying it is no problem of ours
        else:
            if used >= total:
                problems.append(f"the profile has used its {total} posts of the last 24 hours: posts wait")
        expires = self.credentials_expire()
        if expires is not None and expires - self._now() < SOON:
            problems.append(f"the Threads token expires on {expires:%Y-%m-%d} and could not be refreshed")
        return problems

    # -- the API --------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None, acting: bool = False, versioned: bool = True, authorized: bool = True,
    ) -> Any:  # fmt: skip
        """One call; its JSON answer. Error answers raise _Refusal; network failures a
        TransientError, ambiguous only if ``acting`` (the call that posts) may have reached Meta."""
        base = f"{self.settings.api_base}/{self.settings.api_version}" if versioned else self.settings.api_base
        # The token goes in a header, never into an address that proxies and logs keep (the
        # refresh is the exception: Meta takes it only as a parameter).
        headers = {"Authorization": f"Bearer {self._token()}"} if authorized else {}
        try:
            with self.http.request(
                method, f"{base}/{path}", params=params, data=data, headers=headers, timeout=self.context.timeouts
            ) as response:
                if response.status_code >= 400:
                    raise _refusal(response)
                try:
                    return response.json()
                except ValueError:
                    raise TransientError(
                        f"Threads answered {response.status_code} with something other than JSON", ambiguous=acting
                    ) from None
        except requests.RequestException as error:
            problem = error_for_exception(error)
            raise TransientError(problem.reason, ambiguous=problem.ambiguous and acting) from error

    def _problem(self, refusal: _Refusal, *, acting: bool, permission: str, essential: bool = True) -> DeliveryError:
        """An error answer as the engine's next step, by Graph's error code where the body has one,
        else by the HTTP status. ``acting``: the call that posts (its 5xx may have posted);
        ``permission``: what the call needs; ``essential``: without it the channel cannot post."""
        code, error = refusal.code, refusal.error
        if error is not None and refusal.link_limit:
            return PermanentError(
                f"Threads takes at most {MOST_LINKS} different links in a post; this text has more "
                f"(counting the link to the item's page): remove some ({_reason(refusal)})"
            )
        if code in TOKEN_CODES:
            return CredentialsError(
                f"Threads refused the token: {_reason(refusal)}; put a new long-lived token into "
                f"{self.settings.access_token_env}"
            )
        if code in THROTTLED_CODES:
            return TransientError(f"Threads refused for now (a rate limit or the day's quota): {_reason(refusal)}",
                                  retry_after=retry_after(refusal.headers))  # fmt: skip
        if refusal.not_permitted:
            needs = f"the app lacks the permission {permission}: {_reason(refusal)}"
            return CredentialsError(needs) if essential else PermanentError(needs)
        if error is not None and (code in RETRY_CODES or error.transient):
            return TransientError(f"Threads failed: {_reason(refusal)}", ambiguous=acting and refusal.status >= 500)
        if error is not None and code is not None and refusal.status < 500:
            return PermanentError(f"Threads refused: {_reason(refusal)}")  # a validation error (100 and the like)
        # No Graph error code to go by: what the HTTP status says.
        problem = error_for_status(refusal.status, _reason(refusal), refusal.headers)
        if isinstance(problem, TransientError):
            wait, ambiguous = problem.retry_after, problem.ambiguous and acting
            return TransientError(problem.reason, retry_after=wait, ambiguous=ambiguous)
        return problem


def _refusal(response: requests.Response) -> _Refusal:
    try:
        body = response.json()
    except ValueError:
        body = None
    text = " ".join(response.text.split())[:200] or (response.reason or "")
    return _Refusal(response.status_code, dict(response.headers), graph_error(body), text)
