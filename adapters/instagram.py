"""Instagram: a professional (business or creator) account's feed, by the Instagram Platform's
content publishing API (Graph API).

Instagram publishes nothing without an image, so every post is the accessible alert card
(``Post.card_url``, published on the item's page first: Instagram fetches it from there) with
the variant as its caption. The announcement's own images stay on the item's page: Instagram
takes JPEG only, within an aspect ratio of 4:5 to 1.91:1, and one refused image would stop the
warning; the card is made to fit. Links in captions are not clickable on Instagram: the caption
writes the item's address out and points to the link in the account's bio
(templates/channels/instagram.j2).

A post is three steps (developers.facebook.com, instagram-platform/content-publishing):

1. ``POST /{ig-user}/media`` with ``image_url``, ``caption`` and ``alt_text`` makes a container;
2. ``GET /{container}?fields=status_code,status`` until it is ``FINISHED`` (``ERROR`` says why in
   ``status``; nothing is published before step 3, so a slow one is retried without risk);
3. ``POST /{ig-user}/media_publish?creation_id=…`` publishes it; ``GET /{media}?fields=permalink``
   then gives its address.

There are no threads (follow-ups are comments, written by people): an update or all-clear is a
post of its own with its own card, linking the same page. Captions cannot be edited (an
Instagram media takes only ``comment_enabled``), nothing can be pinned. A post can be deleted
(``DELETE /{media}``) with Facebook Login and the ``instagram_manage_contents`` permission
only; with Instagram Login the withdrawal lists it for deletion by hand.

Exactly once by looking: Instagram has no idempotency key, and an answer to ``media_publish``
that never came may hide a published post. So after every ambiguous failure ``find`` looks at
the account's own latest posts for this caption, newer than the delivery, before posting again.

Two ways in, as the authority's app is set up (``login``): Facebook Login (graph.facebook.com;
a Facebook user's token, best a system user's that does not expire) or Instagram Login
(graph.instagram.com; a long-lived Instagram user token of 60 days, which Herold refreshes).
Errors are mapped from the Graph API's body ``{"error": {"message", "type", "code",
"error_subcode", "is_transient", "fbtrace_id"}}`` by code and subcode (instagram-platform/
instagram-graph-api/reference/error-codes; graph-api/guides/error-handling), never by message.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
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
    NOT_PERMITTED,
    POLICY_BLOCK,
    TEMPORARY,
    THROTTLED_CODES,
    TOKEN_CODES,
    fingerprint,
    graph_error,
    integer,
    regain_access,
)
from adapters.port.http import environment_for, loopback, session
from publisher.domain.authority import web_address
from publisher.domain.counting import TextRule
from publisher.domain.labels import labels_for, titled

log = structlog.get_logger("herold.instagram")

HOSTS = {"facebook": "https://graph.facebook.com", "instagram": "https://graph.instagram.com"}
API_VERSION = "v26.0"  # the newest in the Graph API changelog (2026-07-29); each lives about two years
CAPTION_LIMIT = 2200  # characters (content publishing: "captions are limited to 2,200 characters")
HASHTAG_LIMIT = 30  # "limited to 30 hashtags"
MENTION_LIMIT = 20  # "limited to 20 @ tags"
IMAGE_BYTES = 8 * 1024 * 1024  # "8 MiB maximum" (image specifications; error 2207004)
ALT_TEXT_CHARACTERS = 1000  # Instagram names no limit for alt_text [U]; the card's words are fewer
ANSWER_BYTES = 1024 * 1024  # Graph answers here are a few hundred bytes

# How long one attempt waits for Instagram to process the card, and how often it asks.
PROCESSING_WAIT = 30.0
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 4.0

LOOKED_AT = 25  # the account's latest posts a look-up reads
CLOCK_SKEW = timedelta(minutes=5)  # Instagram's clock is not ours
QUOTA_WAIT = 600.0  # seconds before trying again once the 24-hour publishing limit is reached
THROTTLE_WAIT = 60.0  # when a rate limit gives no time of its own

# Instagram Login tokens: refreshable once a day old, valid 60 days from each refresh
# (instagram-platform/reference/refresh_access_token). Herold refreshes a token a day after it
# first saw it (it cannot know its age before), then weekly: 53 days spare for an outage.
FIRST_REFRESH_AFTER = timedelta(days=1)
REFRESH_EVERY = timedelta(days=7)


# -- how Instagram counts a caption ----------------------------------------------------------


@dataclass(frozen=True)
class CaptionCharacters:
    """Characters of a caption. Instagram does not say how it counts them [U]; UTF-16 code
    units are never fewer than code points or graphemes, so a caption that fits here fits."""

    unit: str = "characters"

    def count(self, text: str, links: Collection[str]) -> int:
        return len(text.encode("utf-16-le")) // 2


# Counted generously, as Instagram may: any "#" or "@" before a word character, except an "@"
# inside a word (an e-mail address), wherever it stands outside Herold's own link.
HASHTAG = re.compile(r"#\w")
MENTION = re.compile(r"(?<!\w)@\w")


def _outside(text: str, links: Collection[str]) -> str:
    for link in links:
        text = text.replace(link, " ")
    return text


@dataclass(frozen=True)
class Hashtags:
    unit: str = "hashtags"

    def count(self, text: str, links: Collection[str]) -> int:
        return len(HASHTAG.findall(_outside(text, links)))


@dataclass(frozen=True)
class Mentions:
    unit: str = "@-mentions"

    def count(self, text: str, links: Collection[str]) -> int:
        return len(MENTION.findall(_outside(text, links)))


# A caption over either count is refused like an over-long one (error 2207010): render drops
# the announcement's hashtags first, then shortens the description, as for length.
CAPTION = TextRule(
    CAPTION_LIMIT,
    CaptionCharacters(),
    also=(TextRule(HASHTAG_LIMIT, Hashtags()), TextRule(MENTION_LIMIT, Mentions())),
)


# -- what Instagram's errors mean -------------------------------------------------------------

# Graph API codes (graph-api/guides/error-handling), with Instagram's own beside them.
THROTTLE_CODES = THROTTLED_CODES | {9, 80002}  # and the publishing limit, the Instagram account's
SERVER_CODES = TEMPORARY | {-2, -1}  # and Instagram's server or download failing
# Code 3 ("capability") was never taken as a missing permission here: it stays a plain refusal.
PERMISSION_CODES = NOT_PERMITTED - {3}
# Instagram's calls count against Business Use Case limits (graph-api/overview/rate-limiting):
# that header, not the app's or a Page's, says how long Instagram's limit lasts.
USAGE_HEADERS = ("x-business-use-case-usage",)


# Subcodes of the Instagram error table: retry (a new container on the next attempt), stop,
# or stop and flag the channel; with what the authority should know. {image}: the card's address.
RETRY, STOP, ACCOUNT = "retry", "stop", "account"
SUBCODES: dict[int, tuple[str, str]] = {
    2207001: (RETRY, "Instagram's server failed"),
    2207003: (RETRY, "Instagram took too long to download the card from {image}"),
    2207006: (RETRY, "Instagram did not find the container (it says: a permission may be missing)"),
    2207008: (RETRY, "the container was gone or expired when published"),
    2207020: (RETRY, "the container expired"),
    2207027: (RETRY, "Instagram had not finished the card when it was published"),
    2207032: (RETRY, "Instagram could not make the container"),
    2207042: (RETRY, "the account reached its publishing limit for 24 hours (content_publishing_limit)"),
    2207052: (RETRY, "Instagram could not fetch the card from {image}: it must be public, and the web "
                     "server must let Meta's crawler (facebookexternalhit) in"),
    2207004: (STOP, "the card at {image} is larger than Instagram's 8 MiB"),
    2207005: (STOP, "Instagram takes only JPEG images, and the card at {image} is not one: the site must "
                    "offer the card as JPEG"),
    2207009: (STOP, "the card at {image} is outside Instagram's aspect ratios (4:5 to 1.91:1)"),
    2207010: (STOP, "the caption is too long for Instagram (2,200 characters, 30 hashtags, 20 @-mentions)"),
    2207023: (STOP, "Instagram does not know the media type sent"),
    2207051: (STOP, "Instagram restricted the post as suspected spam: tell Meta if it made a mistake"),
    2207050: (ACCOUNT, "the Instagram account is inactive, checkpointed or restricted: sign in to the "
                       "Instagram app and do what it asks"),
}  # fmt: skip


class MissingPermission(CredentialsError):
    """The token lacks a permission (code 10, 200-299): the whole channel needs attention, unless
    only one ability needs it (deleting)."""


def _throttle_wait(headers: Mapping[str, str]) -> float:
    """Seconds to wait after a rate limit: Instagram's business use case header says in minutes
    (``estimated_time_to_regain_access``), else Retry-After, else a minute."""
    return regain_access(headers, USAGE_HEADERS) or retry_after(headers) or THROTTLE_WAIT


def graph_failure(
    status: int, body: Any, headers: Mapping[str, str], *, write: bool, image: str | None = None
) -> DeliveryError:
    """An error answer of the Graph API as the engine needs it. ``write``: the request may have
    changed something (a post), so an answer that does not say "refused" is ambiguous."""
    error = graph_error(body)
    if error is None:
        # Not the Graph API speaking (a proxy, a load balancer): the status says what it can.
        shown = body if isinstance(body, str) or body is None else json.dumps(body, ensure_ascii=False)
        return error_for_status(status, " ".join((shown or "").split())[:200], headers)
    code, subcode = error.code, error.subcode
    message = " ".join((error.user_message or error.message).split())
    said = f"Instagram answered {status}, code {code}" + (f"/{subcode}" if subcode else "") + f": {message}"
    if subcode in SUBCODES:
        kind, why = SUBCODES[subcode]
        reason = f"{why.format(image=image or 'its address')} ({said})"
        if kind == ACCOUNT:
            return CredentialsError(reason)
        if kind == STOP:
            return PermanentError(reason)
        wait = QUOTA_WAIT if subcode == 2207042 else None
        return TransientError(reason, retry_after=wait)  # refused: nothing was published
    if code in TOKEN_CODES:
        return CredentialsError(f"Instagram refused the access token: give Herold a new one ({said})")
    if code in PERMISSION_CODES:
        return MissingPermission(f"the access token lacks a permission Herold needs ({said})")
    if code in THROTTLE_CODES:
        return TransientError(f"Instagram's rate limit was reached ({said})", retry_after=_throttle_wait(headers))
    if code == POLICY_BLOCK:
        return PermanentError(f"Instagram blocked the account from posting for now, for its policies ({said})")
    if code in SERVER_CODES or error.transient or status >= 500:
        return TransientError(said, retry_after=retry_after(headers, rate_limited=False), ambiguous=write)
    return error_for_status(status, said.removeprefix(f"Instagram answered {status}, "), headers)


def container_failure(status: Any, image: str) -> DeliveryError:
    """A container that ended in ERROR: ``status`` names the subcode ("2207003", or "-2/2207003")."""
    numbers = re.findall(r"-?\d+", str(status or ""))
    subcode = integer(numbers[-1]) if numbers else None
    said = f"Instagram could not process the card (container status {status!r})"
    if subcode in SUBCODES:
        kind, why = SUBCODES[subcode]
        reason = f"{why.format(image=image)} ({said})"
        if kind == RETRY:
            return TransientError(reason)  # nothing was published: the next attempt makes a new container
        return CredentialsError(reason) if kind == ACCOUNT else PermanentError(reason)
    return PermanentError(said)


# -- the channel --------------------------------------------------------------------------------


class InstagramSettings(ChannelSettings):
    ig_user_id: str = Field(pattern=r"^\d{1,32}$")  # the professional account's id (not its @name)
    access_token_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # How the authority's app logs in: "facebook" (graph.facebook.com, Facebook Login for Business)
    # or "instagram" (graph.instagram.com, Business Login for Instagram: tokens Herold refreshes).
    login: Literal["facebook", "instagram"] = "facebook"
    api_base: str | None = None  # default: the host of the login
    api_version: str = Field(default=API_VERSION, pattern=r"^v\d+\.\d+$")

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str | None) -> str | None:
        return web_address(value).rstrip("/") if value else value

    @property
    def base(self) -> str:
        return self.api_base or HOSTS[self.login]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?…:" else text + "."


def card_alt(post: Post, authority: str) -> str:
    """The card's alt text: what the card shows, in words (authority, severity, headline with its
    label, instruction); the caption below it has the rest."""
    announcement, language = post.announcement, post.variant.language
    text = announcement.text_in(language)
    parts = [f"{authority}:"]
    if announcement.severity is not None:
        parts.append(_sentence(labels_for(language)(f"severity.{announcement.severity.value}")))
    parts.append(_sentence(titled(announcement, language, text.headline)))
    if text.instruction:
        parts.append(_sentence(text.instruction))
    alt = " ".join(parts)
    return alt if len(alt) <= ALT_TEXT_CHARACTERS else alt[: ALT_TEXT_CHARACTERS - 1].rstrip() + "…"


def _moment(value: Any) -> datetime | None:
    """Instagram's timestamps ("2026-11-22T09:15:02+0000"), in UTC."""
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC)
    except ValueError:
        return None


class Instagram(Channel):
    type = "instagram"
    label = "Instagram"
    capabilities = Capabilities(
        wave=Wave.other,
        text=CAPTION,
        template="channels/instagram.j2",
        # The card only: the announcement's own images stay on the item's page (count 0), so
        # none of them is refused at intake for Instagram's sake. The card must be a JPEG.
        media=MediaRule(count=0, max_bytes=IMAGE_BYTES, types=("image/jpeg",), required=True, card="always"),
        link_in_text=True,  # written out, not clickable: see the template
        delete=True,
        idempotency=Idempotency.lookup,
    )
    Settings = InstagramSettings
    settings: InstagramSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = environment_for(session(self.deadline, max_bytes=ANSWER_BYTES), self.settings.base)

    def close(self) -> None:
        self.http.close()

    # -- the token --------------------------------------------------------------------------

    def _configured(self) -> str:
        return self.context.secrets["access_token"]

    def _keys(self) -> tuple[str, str]:
        """Where the refreshed token and the day Herold first saw the configured one are kept:
        per configured token, so that a new one given by a person wins over one refreshed
        from its predecessor."""
        configured = fingerprint(self._configured(), 16)  # 16 digits: the keys kept so far stay valid
        return f"token.{configured}", f"seen.{configured}"

    def _kept(self) -> Credential | None:
        return self.context.credentials.get(self._keys()[0])

    @property
    def token(self) -> str:
        kept = self._kept()
        return kept.value if kept else self._configured()

    def refresh_credentials(self) -> None:
        """Instagram Login: a new 60-day token, once the configured one is a day older than when
        Herold first saw it, then weekly. Facebook Login: nothing to do (a system user's token
        does not expire; a person's can only be renewed with the app's secret)."""
        if self.settings.login != "instagram":
            return
        now = self.context.clock()
        token_key, seen_key = self._keys()
        seen = self.context.credentials.get(seen_key)
        if seen is None:
            self.context.credentials.put(seen_key, Credential(seen_key, updated_at=now))
            return
        kept = self.context.credentials.get(token_key)
        since = kept.updated_at if kept is not None else seen.updated_at
        if since is not None and now - since < (REFRESH_EVERY if kept is not None else FIRST_REFRESH_AFTER):
            return
        url = f"{self.settings.base}/refresh_access_token"
        # The one call that takes the token as a parameter, as documented: it is the token refreshed.
        params = {"grant_type": "ig_refresh_token", "access_token": self.token}
        try:
            answer = self._answer(self.http.get(url, params=params, timeout=self.context.timeouts), write=False)
        except (requests.RequestException, TransientError) as error:
            # Tomorrow again: the token has weeks left, and on-call hears a week before it ends.
            reason = error.reason if isinstance(error, TransientError) else error_for_exception(error).reason
            log.warning("the token could not be refreshed now", channel=self.id, reason=reason)
            return
        value, lasts = answer.get("access_token"), integer(answer.get("expires_in"))
        if not value:
            log.warning("Instagram refreshed the token without giving one", channel=self.id)
            return
        expires = now + timedelta(seconds=lasts) if lasts else None
        self.context.credentials.put(token_key, Credential(str(value), expires_at=expires, updated_at=now))
        log.info("token refreshed", channel=self.id, expires=expires.isoformat() if expires else None)

    def credentials_expire(self) -> datetime | None:
        """When the token in use stops working, once Herold has refreshed it (before, unknown)."""
        kept = self._kept()
        return kept.expires_at if kept is not None else None

    # -- calls --------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None, write: bool = False, image: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        url = f"{self.settings.base}/{self.settings.api_version}/{path}"
        try:
            response = self.http.request(
                method, url, params=params, data=data, timeout=self.context.timeouts, allow_redirects=False,
                headers={"Authorization": f"Bearer {self.token}"},  # never in the URL, where logs keep it
            )  # fmt: skip
        except requests.RequestException as error:
            problem = error_for_exception(error)
            if not write:  # a read changed nothing, whatever became of it
                problem = TransientError(problem.reason)
            raise problem from error
        return self._answer(response, write=write, image=image)

    @staticmethod
    def _answer(response: requests.Response, *, write: bool, image: str | None = None) -> dict[str, Any]:
        with response:
            try:
                body = response.json()
            except ValueError:
                body = response.text or None
            if response.ok and isinstance(body, dict):
                return body
            if response.ok:
                problem: DeliveryError = TransientError(
                    f"Instagram answered {response.status_code} with no JSON object", ambiguous=write
                )
            else:
                problem = graph_failure(response.status_code, body, response.headers, write=write, image=image)
            raise problem

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, post: Post) -> Receipt:
        """The card with the caption: container, wait until processed, publish, ask its address.
        An update or all-clear is published the same way (Instagram has no threads)."""
        if not post.card_url:
            raise PermanentError(
                "Instagram publishes nothing without an image, and this delivery has no alert card "
                "(the item needs a page on the authority's website for its card)"
            )
        ig = self.settings.ig_user_id
        caption = {
            "image_url": post.card_url,
            "caption": post.variant.text,
            "alt_text": post.card_alt or card_alt(post, self.authority.name),
        }
        made = self._call("POST", f"{ig}/media", data=caption, write=True, image=post.card_url)
        container = str(made.get("id") or "")
        if not container:
            raise TransientError("Instagram made a container but named none")  # nothing published
        self._wait_for(container, post.card_url)
        published = self._call("POST", f"{ig}/media_publish", data={"creation_id": container}, write=True)
        media = str(published.get("id") or "")
        if not media:
            # Published or not, Instagram does not say: the look-up after this decides.
            raise TransientError("Instagram answered media_publish without the post's id", ambiguous=True)
        return Receipt(platform_id=media, url=self._permalink(media), refs={"container": container})

    def _wait_for(self, container: str, image: str) -> None:
        """Until the container is FINISHED; any other end stops this attempt, before publishing."""
        deadline, pause = time.monotonic() + PROCESSING_WAIT, FIRST_PAUSE
        while True:
            state = self._call("GET", container, params={"fields": "status_code,status"})
            code = state.get("status_code")
            if code == "FINISHED":
                return
            if code == "ERROR":
                raise container_failure(state.get("status"), image)
            if code == "EXPIRED":
                raise TransientError("the container expired before it was published; the next attempt makes a new one")
            if time.monotonic() + pause > deadline:
                raise TransientError(
                    f"Instagram was still processing the card after {PROCESSING_WAIT:g} s; nothing is published yet",
                    retry_after=30,
                )
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    def _permalink(self, media: str) -> str | None:
        """The post's address, or None: the post is out either way, so nothing here may fail it."""
        try:
            link = self._call("GET", media, params={"fields": "permalink"}).get("permalink")
        except DeliveryError as error:
            log.warning("published; its address could not be read", channel=self.id, media=media, reason=error.reason)
            return None
        return str(link) if link else None

    def find(self, post: Post) -> Receipt | None:
        """The post an ambiguous attempt may have published: among the account's own latest
        posts, one newer than the delivery whose caption starts with this one's first line and
        carries the item's link (an update or all-clear of the same item starts otherwise)."""
        since = (post.created_at or self.context.clock()).astimezone(UTC) - CLOCK_SKEW
        first_line = post.variant.text.split("\n", 1)[0].strip()
        fields = {"fields": "id,caption,timestamp,permalink", "limit": str(LOOKED_AT)}
        listed = self._call("GET", f"{self.settings.ig_user_id}/media", params=fields).get("data")
        for item in listed if isinstance(listed, list) else []:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            when = _moment(item.get("timestamp"))
            if when is not None and when < since:
                break  # newest first: the rest is older still
            caption = str(item.get("caption") or "")
            if caption.split("\n", 1)[0].strip() == first_line and post.variant.link in caption:
                link = item.get("permalink")
                return Receipt(platform_id=str(item["id"]), url=str(link) if link else None)
        return None

    def delete(self, receipt: Receipt) -> None:
        """A withdrawal removes the post, where Instagram lets an app (Facebook Login, with the
        ``instagram_manage_contents`` permission); otherwise it is left to a person, named."""
        where = f" ({receipt.url})" if receipt.url else ""
        if self.settings.login == "instagram":
            raise PermanentError(
                f"with Instagram Login no app may delete a post: delete it in the Instagram app{where}"
            )
        try:
            self._call("DELETE", receipt.platform_id, write=True)
        except MissingPermission as error:
            # Publishing still works: only deleting needs this permission.
            raise PermanentError(
                f"the access token lacks instagram_manage_contents, needed to delete{where}: {error.reason}"
            ) from error

    # -- setup check ----------------------------------------------------------------------------

    def check(self) -> list[str]:
        """The address, and the token asked by the one harmless read Herold needs: the account's
        publishing limit (``content_publishing_limit``), which must not be used up."""
        problems = []
        parts = urlsplit(self.settings.base)
        if parts.scheme == "http" and not loopback(parts.hostname):
            problems.append(f"api_base {self.settings.base} is plain http: the token would travel unencrypted")
        if "access_token" not in self.context.secrets:
            return [*problems, f"the access token from {self.settings.access_token_env} is not available"]
        try:
            used, total = self.quota()
        except DeliveryError as error:
            problems.append(f"Instagram refused to say the account's publishing limit: {error.reason}")
        else:
            if total is not None and used is not None and used >= total:
                problems.append(f"the account has published {used} of its {total} posts in 24 hours: more are refused")
        return problems

    def quota(self) -> tuple[int | None, int | None]:
        """Posts published through the API in the last 24 hours, and how many Instagram allows:
        read, not assumed (its documentation says 25, 50 and 100 in different places)."""
        params = {"fields": "quota_usage,config"}
        answer = self._call("GET", f"{self.settings.ig_user_id}/content_publishing_limit", params=params)
        data = answer.get("data")
        entry = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        config = entry.get("config")
        total = config.get("quota_total") if isinstance(config, dict) else None
        return integer(entry.get("quota_usage")), integer(total)
