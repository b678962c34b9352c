"""LinkedIn organisation pages: posts through the versioned Posts API (Rest.li 2.0).

Each announcement becomes a public post of the organisation (``urn:li:organization:{id}``):
``POST /rest/posts`` with the variant as ``commentary``, and either its images (uploaded through
the Images API: ``initializeUpload``, then a PUT of the bytes to the address it names) or a link
card to the item's page. LinkedIn answers 201 and names the post in ``x-restli-id``. Every call
carries ``LinkedIn-Version`` (LinkedIn serves each monthly version about a year, then answers 426)
and ``X-Restli-Protocol-Version: 2.0.0``. Sources: learn.microsoft.com, linkedin/marketing/
community-management/shares/posts-api, little-text-format, images-api; linkedin/shared/
authentication/programmatic-refresh-tokens; ../shared/platforms.md §7.

The text is "little text": ``| { } @ [ ] ( ) < > # \\ * _ ~`` are reserved and must be escaped
with a backslash, or LinkedIn takes the post and silently cuts it off at the first one (see
`commentary`). Herold's own hashtags become LinkedIn hashtags (the documented
``{hashtag|#|Tag}`` template); every other reserved character is escaped, inside links too, as
the format says. What LinkedIn shows and counts is the text without the escapes, which is exactly
the variant: the limit (3,000) is counted on the variant. LinkedIn names its count "characters"
(``ShareCommentary text length (N characters)``); Herold counts UTF-16 code units, as a Java
string's length is, never fewer than code points or graphemes.

Follow-ups are new posts, not comments: a comment is only seen by those who open the first post,
a new post reaches the followers' feeds, and each links the item's page where the whole thread
stands. Corrections edit the commentary in place (a partial update); withdrawals delete the
earlier posts. LinkedIn has no API to pin a post on a page.

At least once: the API takes no idempotency key. LinkedIn refuses a text it already has from the
same author (422 ``DUPLICATE_POST``, naming the earlier post): after an attempt whose answer was
lost, that refusal is taken as the receipt of the copy the lost attempt made. Undocumented, so
the guarantee stays "at least once".

Tokens live 60 days. Approved partners get refresh tokens (a year, not extended by refreshing):
with ``refresh_token_env``, ``client_id`` and ``client_secret_env`` the channel refreshes before
the access token runs out, keeps the new tokens in ``context.credentials`` and reports when the
refresh token ends; without them, ``token_expires`` (the date LinkedIn showed when it issued the
token) lets Herold warn a week before.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, Self
from urllib.parse import quote, urljoin, urlsplit

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
)
from adapters.port.http import environment_for, loopback, session
from publisher.domain.announcement import Media
from publisher.domain.authority import web_address
from publisher.domain.counting import TextRule, Utf16Units

log = structlog.get_logger("herold.linkedin")

# LinkedIn's latest version when this was written (n8n-io/n8n#39065, 2026-09); it is served until
# about 2027-09. Versions are monthly and live about a year (learn.microsoft.com, versioning).
DEFAULT_VERSION = "202609"
VERSION_LIFETIME_MONTHS = 12
COMMENTARY_LIMIT = 3000  # "ShareCommentary text length (…) exceeded the maximum allowed (3000 characters)"
ALT_TEXT_LIMIT = 4086  # Posts API, MediaContent.altText
MULTI_IMAGE_LIMIT = 20  # Posts API, MultiImage: 2 to 20 images
REFRESH_WITHIN = timedelta(days=10)  # refresh a token this close to its end (the engine looks daily)
URGENT = timedelta(days=3)  # a refresh that fails for now is worth an alarm only this close to the end
RESTLI = {"X-Restli-Protocol-Version": "2.0.0", "Accept": "application/json"}

# The reserved characters of little text (little-text-format, "Text"): unescaped, they end the post.
RESERVED = frozenset("|{}@[]()<>#\\*_~")
# A hashtag as Herold writes one (announcement hashtags are \w+), standing alone: at the start or
# after white space, with a letter in it ("#112" is a number, not a tag).
HASHTAG = re.compile(r"(?<!\S)#(\w*[^\W\d]\w*)")
# LinkedIn names the earlier post in a DUPLICATE_POST refusal ("Content is a duplicate of urn:li:share:…").
EARLIER_POST = re.compile(r"urn:li:(?:share|ugcPost):\d+")


def escaped(text: str) -> str:
    """``text`` as little text: each reserved character behind a backslash."""
    return "".join("\\" + char if char in RESERVED else char for char in text)


def commentary(text: str) -> str:
    """The variant as LinkedIn's ``commentary``: hashtags as LinkedIn hashtags, every other
    reserved character escaped. LinkedIn shows (and counts) exactly ``text`` again."""
    parts, position = [], 0
    for match in HASHTAG.finditer(text):
        parts.append(escaped(text[position : match.start()]))
        parts.append("{hashtag|#|" + escaped(match.group(1)) + "}")
        position = match.end()
    parts.append(escaped(text[position:]))
    return "".join(parts)


def post_address(urn: str) -> str:
    """Where people see a post (its feed page)."""
    return f"https://www.linkedin.com/feed/update/{urn}/"


class LinkedInSettings(ChannelSettings):
    # The page's number (from its admin address linkedin.com/company/<number>/admin), or its URN.
    organization_id: str = Field(pattern=r"^(urn:li:organization:)?\d+$")
    access_token_env: str  # the variable holding an access token with w_organization_social
    api_base: str = "https://api.linkedin.com"
    oauth_base: str = "https://www.linkedin.com"  # where tokens are refreshed (/oauth/v2/accessToken)
    linkedin_version: str = Field(default=DEFAULT_VERSION, pattern=r"^20\d\d(0[1-9]|1[0-2])$")  # YYYYMM
    # Approved partners only: refresh tokens (a year) and the app's credentials to use them.
    refresh_token_env: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    # The day the token Herold cannot renew stops working (the access token's without a refresh
    # token, else the refresh token's), as LinkedIn showed it: Herold warns a week before.
    token_expires: date | None = None
    # A withdrawal deletes the thread's earlier posts (read by intake, as Mastodon's setting): the
    # false warning leaves the feed, the withdrawal's own post says why, the item's page keeps the
    # record. Not a choice here: marking them by an edit would give them the withdrawal's text,
    # and LinkedIn refuses a text the page already has as a duplicate (DUPLICATE_POST), which the
    # withdrawal's own post could then be.
    on_withdrawal: ClassVar[str] = "delete"

    @field_validator("organization_id")
    @classmethod
    def _number(cls, value: str) -> str:
        return value.removeprefix("urn:li:organization:")

    @field_validator("api_base", "oauth_base")
    @classmethod
    def _address(cls, value: str) -> str:
        return web_address(value).rstrip("/")

    @model_validator(mode="after")
    def _refresh_needs_the_app(self) -> Self:
        given = [self.refresh_token_env, self.client_id, self.client_secret_env]
        if any(given) and not all(given):
            raise ValueError("refresh_token_env, client_id and client_secret_env go together (or none of them)")
        return self


class LinkedInChannel(Channel):
    type = "linkedin"
    label = "LinkedIn"
    capabilities = Capabilities(
        wave=Wave.other,
        text=TextRule(COMMENTARY_LIMIT, Utf16Units()),
        template="channels/post.j2",
        # Images API: JPG, GIF and PNG; it names no byte limit, so none is declared.
        media=MediaRule(
            count=MULTI_IMAGE_LIMIT, types=("image/jpeg", "image/png", "image/gif"), alt_text=ALT_TEXT_LIMIT
        ),
        threads=False,  # follow-ups are new posts: they reach the feed, comments do not
        edit=True,
        delete=True,
        pin=False,  # no API pins a post on a page
        idempotency=Idempotency.none,
    )
    Settings = LinkedInSettings
    settings: LinkedInSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = environment_for(session(self.deadline, max_bytes=1_000_000), self.settings.api_base)

    @property
    def author(self) -> str:
        return f"urn:li:organization:{self.settings.organization_id}"

    def close(self) -> None:
        self.http.close()

    # -- publishing -------------------------------------------------------------------------

    def publish(self, post: Post) -> Receipt:
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": commentary(post.variant.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        content = self._content(post)
        if content:
            body["content"] = content
        response = self._call("POST", "/rest/posts", body=body)
        if response.ok:
            urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
            if not urn:
                # It went out, but which post it is cannot be told: the retry meets DUPLICATE_POST.
                raise TransientError("LinkedIn took the post but named no id (no x-restli-id)", ambiguous=True)
            return Receipt(platform_id=urn, url=post_address(urn))
        earlier = _duplicate_of(response)
        if earlier and post.previous_error is not None:
            log.info("the lost attempt's post found by LinkedIn's duplicate check", channel=self.id, urn=earlier)
            return Receipt(platform_id=earlier, url=post_address(earlier))
        if earlier:
            raise PermanentError(
                f"LinkedIn refuses this text as a duplicate of its post {earlier} (422 DUPLICATE_POST): the "
                "page has posted the same text before"
            )
        raise self._problem(response)

    def _content(self, post: Post) -> dict[str, Any] | None:
        """The images, uploaded; without images a link card to the item's page."""
        media = [item for item in post.announcement.media if item.path is not None]
        if len(media) == 1:
            return {"media": {"id": self._upload(media[0]), "altText": media[0].alt}}
        if media:
            return {"multiImage": {"images": [{"id": self._upload(item), "altText": item.alt} for item in media]}}
        source = post.item_url or post.variant.link
        if not source:
            return None
        headline = post.announcement.text_in(post.variant.language).headline
        return {"article": {"source": source, "title": headline}}  # plain strings: no little text here

    def _upload(self, media: Media) -> str:
        """An image's URN, once its bytes are with LinkedIn."""
        assert media.path is not None
        answer = self._call(
            "POST",
            "/rest/images",
            params={"action": "initializeUpload"},
            body={"initializeUploadRequest": {"owner": self.author}},
        )
        if not answer.ok:
            raise self._problem(answer)
        try:
            value = answer.json()["value"]
            image, target = str(value["image"]), str(value["uploadUrl"])
        except (ValueError, KeyError, TypeError) as error:
            raise TransientError(f"LinkedIn's answer to initializeUpload names no image ({error!r})") from error
        # An address in an answer counts from the address that gave it (RFC 3986, 5.2).
        target = urljoin(answer.url, target)
        headers = {"Content-Type": "application/octet-stream"}
        if self._trusted(target):  # LinkedIn's docs upload with the token; it goes to nobody else
            headers["Authorization"] = f"Bearer {self._access_token()}"
        data = (self.context.media / media.path).read_bytes()
        try:
            uploaded = self.http.put(
                target, data=data, headers=headers, timeout=self.context.timeouts, allow_redirects=False
            )
        except requests.RequestException as error:
            raise error_for_exception(error) from error
        if uploaded.ok:
            return image
        if uploaded.status_code in {401, 403}:
            # The upload address is signed and short-lived: a new one comes with the next attempt.
            raise TransientError(f"LinkedIn refused the image upload ({uploaded.status_code}); trying a new address")
        raise error_for_status(uploaded.status_code, "the image upload was refused", uploaded.headers)

    def _trusted(self, url: str) -> bool:
        """The API's own server, or LinkedIn's over https."""
        parts, api = urlsplit(url), urlsplit(self.settings.api_base)
        if (parts.scheme, parts.netloc) == (api.scheme, api.netloc):
            return True
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and (host == "linkedin.com" or host.endswith(".linkedin.com"))

    # -- the rest of a post's life ------------------------------------------------------------

    def edit(self, receipt: Receipt, post: Post) -> Receipt:
        """The commentary in place (a correction, or a withdrawal's mark); images and card stay."""
        response = self._call(
            "POST",
            f"/rest/posts/{quote(receipt.platform_id, safe='')}",
            body={"patch": {"$set": {"commentary": commentary(post.variant.text)}}},
            headers={"X-RestLi-Method": "PARTIAL_UPDATE"},
        )
        if response.ok:
            return receipt
        if response.status_code in {404, 410}:
            raise PermanentError(f"the post {receipt.platform_id} is gone from LinkedIn ({response.status_code})")
        raise self._problem(response)

    def delete(self, receipt: Receipt) -> None:
        response = self._call(
            "DELETE", f"/rest/posts/{quote(receipt.platform_id, safe='')}", headers={"X-RestLi-Method": "DELETE"}
        )
        if response.ok or response.status_code in {404, 410}:  # already gone is what we wanted
            return
        raise self._problem(response)

    # -- calls and their answers --------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One call to the API. A refused token is refreshed once, where that is possible, and the
        call made again (a 401 means LinkedIn did nothing)."""
        for attempt in (1, 2):
            sent = {
                **RESTLI,
                "LinkedIn-Version": self.settings.linkedin_version,
                **(headers or {}),
                "Authorization": f"Bearer {self._access_token()}",
            }
            try:
                response = self.http.request(
                    method,
                    self.settings.api_base + path,
                    json=body,
                    params=params,
                    headers=sent,
                    timeout=self.context.timeouts,
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                raise error_for_exception(error) from error
            if response.status_code == 401 and attempt == 1 and self._refreshable():
                log.info("token refused; refreshing it", channel=self.id)
                self._refresh()
                continue
            return response
        raise AssertionError("unreachable: the second attempt returns")

    def _problem(self, response: requests.Response) -> DeliveryError:
        """LinkedIn's error answer ``{"status", "serviceErrorCode", "code", "message"}`` as the
        engine's next step."""
        status = response.status_code
        body = _body(response)
        code, message = str(body.get("code") or ""), str(body.get("message") or body.get("error") or "")
        said = " ".join(part for part in (code, message) if part) or response.reason or ""
        if status == 426:
            return CredentialsError(
                f"LinkedIn no longer serves API version {self.settings.linkedin_version} (426 {said}): set "
                "linkedin_version to a current one (YYYYMM; LinkedIn serves each for about a year)"
            )
        if status == 401:
            return CredentialsError(
                f"LinkedIn refused the access token (401 {said}): tokens last 60 days; an administrator of the "
                f"page must sign in to the app again and put the new token in {self.settings.access_token_env}"
            )
        if status == 403:
            return CredentialsError(
                f"LinkedIn denied this (403 {said}): the token needs the permission w_organization_social, and "
                f"its member must be an administrator or content admin of organization {self.settings.organization_id}"
            )
        if status == 429:
            reason = f"LinkedIn's daily limit for the app or the member is used up ({said})"
            return error_for_status(status, reason, response.headers)
        if status in {400, 422} and "maximum allowed" in message:
            return PermanentError(f"LinkedIn counts the text as too long ({status} {said})")
        return error_for_status(status, f"LinkedIn: {said}" if said else "", response.headers)

    # -- tokens -----------------------------------------------------------------------------

    def _refreshable(self) -> bool:
        return self.settings.refresh_token_env is not None

    def _fingerprint(self) -> str:
        """What the configured tokens were: a kept token counts only while they still are (a
        person who puts new ones in place means them to be used)."""
        configured = self.context.secrets.get("access_token", "") + "\n" + self.context.secrets.get("refresh_token", "")
        return hashlib.sha256(configured.encode()).hexdigest()[:32]

    def _kept(self, key: str) -> Credential | None:
        marker = self.context.credentials.get("configured")
        if marker is None or not hmac.compare_digest(marker.value, self._fingerprint()):
            return None
        return self.context.credentials.get(key)

    def _access_token(self) -> str:
        # Without a refresh token nothing is ever kept: no look into the database on every call.
        kept = self._kept("access_token") if self._refreshable() else None
        return kept.value if kept else self.context.secrets["access_token"]

    def refresh_credentials(self) -> None:
        """A new access token when the one in use ends within `REFRESH_WITHIN` (or its end is not
        known yet), where a refresh token is configured; nothing to do otherwise."""
        if not self._refreshable():
            return
        now = self._now()
        kept = self._kept("access_token")
        ends = _aware(kept.expires_at) if kept and kept.expires_at else None
        if ends is not None and ends - now > REFRESH_WITHIN:
            return
        try:
            self._refresh()
        except TransientError as error:
            if ends is not None and ends - now < URGENT:
                raise
            log.warning("could not refresh the token now; trying again later", channel=self.id, reason=error.reason)

    def _refresh(self) -> None:
        now = self._now()
        kept = self._kept("refresh_token")
        refresh = kept.value if kept else self.context.secrets["refresh_token"]
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": self.settings.client_id or "",
            "client_secret": self.context.secrets["client_secret"],
        }
        try:
            response = self.http.post(
                self.settings.oauth_base + "/oauth/v2/accessToken",
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.context.timeouts,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise error_for_exception(error) from error
        body = _body(response)
        if response.status_code in {400, 401}:
            said = ": ".join(str(body[key]) for key in ("error", "error_description") if body.get(key))
            raise CredentialsError(
                f"LinkedIn refused to refresh the access token ({response.status_code} {said}): an administrator "
                f"of the page must sign in to the app again and set new tokens in {self.settings.access_token_env} "
                f"and {self.settings.refresh_token_env}"
            )
        if not response.ok:
            raise error_for_status(response.status_code, "refreshing the token", response.headers)
        try:
            access, lasts = str(body["access_token"]), int(body["expires_in"])
        except (KeyError, TypeError, ValueError) as error:
            raise TransientError(f"LinkedIn's answer to the refresh has no access token ({error!r})") from error
        self.context.credentials.put("access_token", Credential(access, now + timedelta(seconds=lasts), now))
        ends = body.get("refresh_token_expires_in")
        refresh_ends = now + timedelta(seconds=int(ends)) if isinstance(ends, int | float) else None
        if refresh_ends is None and kept is not None:
            refresh_ends = _aware(kept.expires_at) if kept.expires_at else None
        self.context.credentials.put(
            "refresh_token", Credential(str(body.get("refresh_token") or refresh), refresh_ends, now)
        )
        # Last: until this is there, the kept tokens do not count (a reader meanwhile uses the configured).
        self.context.credentials.put("configured", Credential(self._fingerprint(), None, now))
        log.info("access token refreshed", channel=self.id, expires=(now + timedelta(seconds=lasts)).isoformat())

    def credentials_expire(self) -> datetime | None:
        """When a person must act: the refresh token's end where Herold refreshes (the access
        tokens follow it), the access token's otherwise; failing that, ``token_expires``."""
        if self._refreshable():
            kept = self._kept("refresh_token")
            if kept is not None and kept.expires_at is not None:
                return _aware(kept.expires_at)
        if self.settings.token_expires is not None:
            return datetime.combine(self.settings.token_expires, time.min, UTC)
        return None

    def _now(self) -> datetime:
        moment = self.context.clock()
        return moment if moment.tzinfo else moment.astimezone(UTC)

    # -- setup check ------------------------------------------------------------------------

    def check(self) -> Sequence[str]:
        problems = []
        now = self._now()
        api = urlsplit(self.settings.api_base)
        if api.scheme == "http" and not loopback(api.hostname):
            problems.append(f"api_base {self.settings.api_base} is plain http: the token would travel unencrypted")
        version = self.settings.linkedin_version
        age = (now.year - int(version[:4])) * 12 + now.month - int(version[4:])
        if age >= VERSION_LIFETIME_MONTHS - 1:
            problems.append(
                f"linkedin_version {version} is {age} months old: LinkedIn serves a version about a year, then "
                "answers 426; set a current one"
            )
        if not self._refreshable() and self.settings.token_expires is None:
            problems.append(
                "token_expires is not set: LinkedIn's tokens last 60 days, and Herold cannot warn before this one "
                "ends (set the date LinkedIn showed when it issued the token)"
            )
        ends = self.credentials_expire()
        if ends is not None and ends <= now:
            problems.append(f"the LinkedIn token expired on {ends.date().isoformat()}: set a new one")
        problems += self._probe()
        return problems

    def _probe(self) -> list[str]:
        """Token and version, asked with a call that changes nothing: deleting a post that does
        not exist (deletes are idempotent). Only a refused token or version counts here."""
        try:
            response = self._call(
                "DELETE", f"/rest/posts/{quote('urn:li:share:0', safe='')}", headers={"X-RestLi-Method": "DELETE"}
            )
        except DeliveryError as error:
            return [] if isinstance(error, TransientError) else [error.reason]
        if response.status_code in {401, 426}:
            return [self._problem(response).reason]
        return []


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:  # requests' JSONDecodeError is one
        return {}
    return body if isinstance(body, dict) else {}


def _duplicate_of(response: requests.Response) -> str | None:
    """The earlier post a DUPLICATE_POST refusal names (422, ``errorDetails.inputErrors[].code``)."""
    if response.status_code != 422:
        return None
    body = _body(response)
    details = body.get("errorDetails")
    errors = details.get("inputErrors") if isinstance(details, dict) else None
    codes = {error.get("code") for error in errors if isinstance(error, dict)} if isinstance(errors, list) else set()
    if "DUPLICATE_POST" not in codes and body.get("code") != "DUPLICATE_POST":
        return None
    found = EARLIER_POST.search(str(body.get("message") or ""))
    return found.group(0) if found else None


def _aware(moment: datetime) -> datetime:
    """A stored time: without a zone, it is UTC (as the database keeps it)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
