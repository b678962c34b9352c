"""X (formerly Twitter), API v2: posts with images and alt text, follow-ups as replies in the
original's thread, deletion on withdrawal. Every post costs money (pay-per-use credits).

What X takes (xdevplatform/docs @2871328, 2026-08-22; openapi.json of the same commit):

- ``POST /2/tweets`` with ``text``, ``media.media_ids`` (up to 4) and
  ``reply.in_reply_to_tweet_id``; answers 201 ``{"data": {"id", "text"}}``.
- Images by the simple upload, ``POST /2/media/upload`` with the image base64-encoded in a JSON
  body and ``media_category: tweet_image`` (images up to 5 MB; the chunked INIT/APPEND/FINALIZE
  flow is for video and large GIFs), then the alt text by ``POST /2/media/metadata`` (up to
  1,000 characters).
- Length: 280 weighted characters as twitter-text counts them (config v3: code points in four
  ranges weigh 1, others 2, an emoji sequence 2, every link 23, after NFC): `XWeighted`.
- Errors as problem details (``{"title", "detail", "type", "status"}``); 429 with
  ``x-rate-limit-reset`` in epoch seconds, and for posting the 24-hour window's
  ``x-user-limit-24hour-*``/``x-app-limit-24hour-*``.

Authentication: OAuth 2.0 user context (Authorization Code with PKCE), scopes ``tweet.read
tweet.write users.read media.write offline.access``. The access token lives two hours; the
refresh token renews it at ``POST /2/oauth2/token`` and is itself replaced at every refresh
(rotation): the one used is spent. Both are kept together under one key in
``context.credentials``, so a reader never sees a new access token beside a spent refresh token,
and another worker uses the pair this one got. Refreshed when the access token is about to
expire, on a 401 once, and when the engine looks (``refresh_credentials``): a broken chain (a
revoked app, a refresh whose answer was lost) is noticed and reported before a warning needs
the channel. A new refresh token in the environment (after authorizing again) replaces what was
kept. OAuth 1.0a user keys would never expire, but sign every request with HMAC-SHA1 and a
consumer secret, and X builds new features for OAuth 2.0 only; one scheme done well.

Corrections are replies, not edits: X lets a post be edited only within 30 minutes of posting,
up to five times, and every edit is a new post with a new id (and a new charge). Herold plans a
correction as an edit when it is accepted, whenever that is, and later replies and deletions
would still name the old id; a reply is always possible and reaches the people who saw the
original. X has no endpoint to pin a post (API v2 pins lists only).

Exactly once: X takes no idempotency key. After an ambiguous failure the engine asks ``find``,
which reads the account's own latest posts (``GET /2/users/me`` once per process, then
``GET /2/users/:id/tweets`` since the delivery began; both are paid reads) for one with the
item's link, the same first line and the same reply target. X's own refusal of a text the account
posted already (403, "duplicate content") backs that up: after an ambiguous attempt it is taken as
the earlier post, looked up and returned; without one, it is a refusal a person must look at.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import threading
import unicodedata
from collections.abc import Mapping
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
    PostPrice,
    Receipt,
    TransientError,
    Wave,
    error_for_exception,
    error_for_status,
    retry_after,
)
from adapters.port.http import environment_for, loopback, session
from publisher.domain.announcement import Media
from publisher.domain.authority import web_address
from publisher.domain.counting import TextRule, XWeighted

log = structlog.get_logger("herold.x")

API = "https://api.x.com"
LIMIT = 280  # weighted characters (docs: fundamentals/counting-characters)
LINK_LENGTH = 23  # every link, as its t.co form
IMAGES = 4
IMAGE_BYTES = 5 * 1024 * 1024  # x-api/media/introduction: images up to 5 MB
ALT_TEXT = 1000  # openapi: CreateMediaMetadataMetadataAltText.text maxLength
TOKENS = "oauth2"  # the key in context.credentials: access and refresh token, as one JSON value
TOKEN_LIFETIME = timedelta(hours=2)  # when the token endpoint does not say (expires_in)
TOKEN_MARGIN = timedelta(minutes=5)  # refresh this long before the access token expires
CLOCK_SKEW = timedelta(minutes=5)  # X's clock is not ours: look a little further back
LOOKUP_POSTS = 20  # the look-up reads at most this many of the account's latest posts (5 to 100)
STATUS_URL = "https://x.com/i/web/status/{id}"
REASON_CHARACTERS = 300

_ID = re.compile(r"\d{1,19}")
_LINK = re.compile(r"https?://\S+")


class _Duplicate(PermanentError):
    """X refused the text as one the account posted already."""


class _ReplyTargetGone(PermanentError):
    """The post this one replies to was deleted (or is not visible)."""


# Refusals (403) X tells apart only by their words: its problem type is "about:blank". Distinctive
# parts of its messages, as client libraries quote them (X documents none of them).
_FORBIDDEN: tuple[tuple[str, type[PermanentError]], ...] = (
    ("duplicate content", _Duplicate),
    ("reply to a tweet that is deleted or not visible", _ReplyTargetGone),
    ("too long", PermanentError),  # the text, not the account: nothing to flag
    ("a bit shorter", PermanentError),
)


class XSettings(ChannelSettings):
    api_base: str = API
    # The app's OAuth 2.0 Client ID (Developer Console → the app → Keys and tokens); not a secret.
    client_id: str = Field(min_length=1)
    # The Client Secret, for apps of a confidential type (Web App, Automated App or bot).
    client_secret_env: str | None = None
    # The refresh token from authorizing the app for the authority's account (offline.access).
    refresh_token_env: str
    # An access token from the same authorization, used until it expires; optional.
    access_token_env: str | None = None
    # What a withdrawal does to the thread's earlier posts: "delete" them, or "keep" them (the
    # reply saying why goes out either way).
    on_withdrawal: Literal["delete", "keep"] = "delete"

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        return web_address(value).rstrip("/")


@dataclass(frozen=True)
class _Tokens:
    access: str | None
    refresh: str
    expires_at: datetime | None  # of the access token, when known

    def fresh(self, now: datetime) -> bool:
        return self.access is not None and (self.expires_at is None or self.expires_at - now > TOKEN_MARGIN)


def _fingerprint(token: str) -> str:
    """Which configured refresh token the kept pair descends from, without keeping the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _reason(response: requests.Response) -> str:
    """X's explanation: a problem body's title, detail and any messages, or an OAuth error."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [str(body.get(key) or "") for key in ("title", "detail", "error", "error_description")]
        errors = body.get("errors")
        if isinstance(errors, list):
            parts += [str(e.get("message") or "") for e in errors if isinstance(e, dict)]
        reason = ": ".join(dict.fromkeys(p for p in parts if p))  # "Too Many Requests" only once
    else:
        reason = " ".join(response.text.split())
    reason = reason or response.reason or ""
    return reason if len(reason) <= REASON_CHARACTERS else reason[: REASON_CHARACTERS - 1] + "…"


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    return str(body.get("detail") or "") if isinstance(body, dict) else ""


def _wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until X takes requests again: the latest of the exhausted windows. A 429 after the
    day's posts names the 15-minute window's reset too, which would come too early."""
    now = datetime.now(UTC)  # X's reset times are epoch seconds: wall-clock time, not the engine's
    waits = [wait for wait in (retry_after(headers, now),) if wait is not None]
    lowered = {name.lower(): value for name, value in headers.items()}
    for window in ("x-user-limit-24hour", "x-app-limit-24hour"):
        if lowered.get(f"{window}-remaining") == "0":
            try:
                waits.append(max(0.0, float(lowered[f"{window}-reset"]) - now.timestamp()))
            except (KeyError, ValueError):
                continue
    return max(waits, default=None)


def _bare(text: str, *, first_line: bool = False) -> str:
    """A text (or its first line) as both sides show it: X gives ``&``, ``<`` and ``>`` escaped,
    links as t.co links, and an image as one more link at the end."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    return " ".join(_LINK.sub(" ", text.split("\n", 1)[0] if first_line else text).split())


class XChannel(Channel):
    type = "x"
    label = "X"
    capabilities = Capabilities(
        wave=Wave.other,
        text=TextRule(LIMIT, XWeighted(LINK_LENGTH)),
        template="channels/post.j2",
        # X takes GIF too, but Herold's images are stills, re-encoded to these.
        media=MediaRule(
            count=IMAGES, max_bytes=IMAGE_BYTES, types=("image/jpeg", "image/png", "image/webp"), alt_text=ALT_TEXT
        ),
        threads=True,
        edit=False,  # 30 minutes, a new id each time: corrections go as replies (module docstring)
        delete=True,
        pin=False,  # no endpoint for it
        idempotency=Idempotency.lookup,
        # x-api/getting-started/pricing: "Post: Create" $0.015, "(with URL)" $0.200 per request.
        price=PostPrice(per_post=0.015, with_link=0.20),
    )
    Settings = XSettings
    settings: XSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = environment_for(session(self.deadline), self.settings.api_base)
        self._refreshing = threading.Lock()  # one refresh at a time in this process: each spends a token
        self._user_id: str | None = None

    def _now(self) -> datetime:
        moment = self.context.clock()
        return moment if moment.tzinfo is not None else moment.astimezone()

    def _url(self, path: str) -> str:
        return self.settings.api_base + path

    # -- tokens ---------------------------------------------------------------------------------

    def _configured(self) -> _Tokens:
        secrets = self.context.secrets
        return _Tokens(secrets.get("access_token") or None, secrets.get("refresh_token", ""), None)

    def _tokens(self) -> _Tokens:
        """The pair in use: the one kept from the last refresh, unless the environment holds a
        refresh token it does not descend from (a person authorized the app again)."""
        configured = self._configured()
        kept = self.context.credentials.get(TOKENS)
        if kept is None:
            return configured
        try:
            pair = json.loads(kept.value)
            tokens = _Tokens(pair.get("access_token") or None, str(pair["refresh_token"]), kept.expires_at)
            given = pair.get("given")
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("the kept X tokens cannot be read; using the configured ones", channel=self.id)
            return configured
        return tokens if given == _fingerprint(configured.refresh) else configured

    def _bearer(self) -> _Tokens:
        tokens = self._tokens()
        return tokens if tokens.fresh(self._now()) else self._refresh(tokens)

    def _refresh(self, used: _Tokens) -> _Tokens:
        """A new pair for the one ``used``, unless another thread or worker got one meanwhile:
        then theirs, as the refresh token ``used`` carries is spent."""
        with self._refreshing:
            current = self._tokens()
            if current != used and current.fresh(self._now()):
                return current
            try:
                return self._exchange(current)
            except CredentialsError:
                again = self._tokens()  # another worker may have spent it first, and kept the new pair
                if again.refresh != current.refresh and again.fresh(self._now()):
                    return again
                raise

    def _exchange(self, tokens: _Tokens) -> _Tokens:
        if not tokens.refresh:
            raise CredentialsError(f"no refresh token: set {self.settings.refresh_token_env}")
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh}
        secret = self.context.secrets.get("client_secret")
        auth = (self.settings.client_id, secret) if secret else None  # confidential clients: HTTP Basic
        if not secret:
            form["client_id"] = self.settings.client_id
        try:
            response = self.http.post(
                self._url("/2/oauth2/token"), data=form, auth=auth, timeout=self.context.timeouts, allow_redirects=False
            )
        except requests.RequestException as error:
            # Not a post: nothing can be doubled. (Had X spent the token, the next refresh says so.)
            problem = error_for_exception(error)
            problem.ambiguous = False
            raise problem from error
        if response.status_code != 200:
            raise self._refused_refresh(response)
        try:
            body = response.json()
            access = str(body["access_token"])
            refresh = str(body.get("refresh_token") or tokens.refresh)
            lifetime = timedelta(seconds=int(body.get("expires_in") or TOKEN_LIFETIME.total_seconds()))
        except (ValueError, KeyError, TypeError) as error:
            raise CredentialsError("X's token endpoint answered without an access token") from error
        now = self._now()
        pair = {"access_token": access, "refresh_token": refresh, "given": _fingerprint(self._configured().refresh)}
        refreshed = _Tokens(access, refresh, now + lifetime)
        self.context.credentials.put(
            TOKENS, Credential(json.dumps(pair), expires_at=refreshed.expires_at, updated_at=now)
        )
        log.info("X access token refreshed", channel=self.id, expires_at=refreshed.expires_at)
        return refreshed

    def _refused_refresh(self, response: requests.Response) -> DeliveryError:
        """The token endpoint's refusal (RFC 6749 error codes; X answers ``invalid_request`` both
        for a spent token and for a missing client_id, and says which in its description). Only
        a busy or failing endpoint is worth another try; any other answer is no new token."""
        status, reason = response.status_code, _reason(response)
        if status in {408, 425, 429} or status >= 500:
            return self._error(response, posts=False)
        if status == 401 or "client" in reason.lower():
            return CredentialsError(
                f"X refused the app's client credentials ({status}: {reason}): check client_id, and that "
                "client_secret_env is set for an app of a confidential type (Web App, Automated App or bot)"
            )
        return CredentialsError(
            f"X refused the refresh token ({status}: {reason}): it was used already or the app's access was "
            f"revoked. Authorize Herold for the account again and set the new refresh token in "
            f"{self.settings.refresh_token_env}"
        )

    # -- calls ------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, tokens: _Tokens, posts: bool, **kwargs: Any) -> requests.Response:
        try:
            return self.http.request(
                method,
                self._url(path),
                headers={"Authorization": f"Bearer {tokens.access}"},
                timeout=self.context.timeouts,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as error:
            problem = error_for_exception(error)
            problem.ambiguous = problem.ambiguous and posts  # only a post can be doubled
            raise problem from error

    def _call(self, method: str, path: str, *, posts: bool = False, **kwargs: Any) -> requests.Response:
        """One call with a fresh access token; on a 401 (expired early, or replaced) refreshed and
        tried once more. ``posts``: the call creates a post, so a lost answer is ambiguous."""
        tokens = self._bearer()
        response = self._send(method, path, tokens, posts, **kwargs)
        if response.status_code == 401:
            response = self._send(method, path, self._refresh(tokens), posts, **kwargs)
        return response

    def _error(self, response: requests.Response, *, posts: bool) -> DeliveryError:
        """X's error answer, as the engine's: retry, stop, or stop and flag the channel."""
        status, reason = response.status_code, _reason(response)
        if status == 401:
            return CredentialsError(f"X refused the access token, also after refreshing it (401): {reason}")
        if status == 402:
            # Pay-per-use: the developer account's credits are spent; every further call fails alike.
            return CredentialsError(
                f"the X developer account has no credits left (402): {reason}. Top them up "
                "in the Developer Console (console.x.com)"
            )
        if status == 403:
            detail = _detail(response).lower()
            for phrase, kind in _FORBIDDEN:
                if phrase in detail:
                    return kind(f"X refused it (403): {reason}")
            return CredentialsError(f"X does not let this account or app do this (403): {reason}")
        if status == 429:
            return TransientError(
                f"X's rate limit or usage cap was reached (429): {reason}", retry_after=_wait(response.headers)
            )
        problem = error_for_status(status, reason, response.headers)
        if isinstance(problem, TransientError):
            problem.ambiguous = problem.ambiguous and posts
        return problem

    @staticmethod
    def _data(response: requests.Response) -> dict[str, Any]:
        try:
            data = response.json()["data"]
        except (ValueError, KeyError, TypeError) as error:
            raise PermanentError(f"X answered {response.status_code} without the data it promises") from error
        if not isinstance(data, dict) or "id" not in data:
            raise PermanentError(f"X answered {response.status_code} without an id")
        return data

    # -- publishing -------------------------------------------------------------------------------

    def reply(self, post: Post) -> Receipt:
        """A follow-up in the thread: a post replying to the latest earlier copy."""
        return self.publish(post)

    def publish(self, post: Post) -> Receipt:
        media = [self._upload(item) for item in post.announcement.media[:IMAGES] if item.path is not None]
        reply_to = post.in_reply_to.platform_id if post.in_reply_to else None
        try:
            return self._create(post, media, reply_to)
        except _ReplyTargetGone:
            if reply_to is None:
                raise
            # Deleted by hand on X: the follow-up must still go out, on its own.
            log.warning("reply target gone; posting without it", channel=self.id, reply_to=reply_to)
            return self._create(post, media, None)

    def _create(self, post: Post, media: list[str], reply_to: str | None) -> Receipt:
        body: dict[str, Any] = {"text": post.variant.text}
        if media:
            body["media"] = {"media_ids": media}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        response = self._call("POST", "/2/tweets", json=body, posts=True)
        if response.status_code in {200, 201}:
            return self._receipt(str(self._data(response)["id"]))
        problem = self._error(response, posts=True)
        if isinstance(problem, _Duplicate):
            return self._posted_before(post, problem)
        raise problem

    def _posted_before(self, post: Post, refusal: _Duplicate) -> Receipt:
        """X says the account posted this text already. After an attempt whose answer was lost
        that is the earlier attempt's post; otherwise someone else posted it, and a person decides."""
        if post.previous_error is None:
            raise PermanentError(
                f"{refusal.reason}. No earlier attempt of this delivery can have posted it: the "
                "account posted the same text otherwise; check the account"
            )
        try:
            found = self._look_up(post, whole_text=True)
        except CredentialsError:
            raise
        except PermanentError as error:
            raise PermanentError(
                f"X says this text is posted already, and Herold cannot look it up ({error.reason});"
                " check the account, then reconcile the delivery"
            ) from error
        if found is not None:
            log.info("X refused a duplicate: the earlier attempt's post found", channel=self.id, id=found.platform_id)
            return found
        # X's timelines lag behind its posts: the next attempt looks again (the engine asks find first).
        raise TransientError(
            "X says this text is posted already (an earlier attempt's answer was lost), but it is "
            "not among the account's latest posts yet",
            retry_after=30.0,
            ambiguous=True,
        )

    def _upload(self, media: Media) -> str:
        """The image by the simple upload, then its alt text; its id for the post."""
        assert media.path is not None
        data = (self.context.media / media.path).read_bytes()
        body = {"media": base64.b64encode(data).decode(), "media_category": "tweet_image"}
        response = self._call("POST", "/2/media/upload", json=body)
        if not response.ok:
            raise self._error(response, posts=False)
        media_id = str(self._data(response)["id"])
        alt = {"id": media_id, "metadata": {"alt_text": {"text": media.alt[:ALT_TEXT]}}}
        response = self._call("POST", "/2/media/metadata", json=alt)
        if not response.ok:
            raise self._error(response, posts=False)
        return media_id

    @staticmethod
    def _receipt(tweet_id: str) -> Receipt:
        return Receipt(platform_id=tweet_id, url=STATUS_URL.format(id=tweet_id))

    # -- the look-up after a lost answer -------------------------------------------------------------

    def find(self, post: Post) -> Receipt | None:
        """The post an ambiguous attempt may have made: among the account's own latest posts since
        the delivery began, one with the item's link, the same first line and the same reply
        target (an update links the same page as its alert). Costs a paid read of up to
        LOOKUP_POSTS posts (X's owned-read price when the account owns the app)."""
        return self._look_up(post, whole_text=False)

    def _look_up(self, post: Post, *, whole_text: bool) -> Receipt | None:
        """``whole_text``: the same words throughout, whatever it replies to (X named the text a
        duplicate, so it is there; after a reply target vanished it went out on its own);
        otherwise the same first line and the same reply target."""
        since = ((post.created_at or self._now()) - CLOCK_SKEW).astimezone(UTC)
        params = {
            "max_results": LOOKUP_POSTS,
            "start_time": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tweet.fields": "created_at,entities,referenced_tweets",
        }
        response = self._call("GET", f"/2/users/{self._me()}/tweets", params=params)
        if not response.ok:
            raise self._error(response, posts=False)
        try:
            tweets = response.json().get("data") or []  # no posts: no "data" at all
        except (ValueError, AttributeError):
            tweets = []
        reply_to = post.in_reply_to.platform_id if post.in_reply_to else None
        words = _bare(post.variant.text, first_line=not whole_text)
        for tweet in tweets if isinstance(tweets, list) else []:
            if not isinstance(tweet, dict) or not _ID.fullmatch(str(tweet.get("id", ""))):
                continue
            links = {
                str(u.get("expanded_url"))
                for u in (tweet.get("entities") or {}).get("urls") or []
                if isinstance(u, dict)
            }
            replied = [
                str(r.get("id"))
                for r in tweet.get("referenced_tweets") or []
                if isinstance(r, dict) and r.get("type") == "replied_to"
            ]
            if (
                post.variant.link in links
                and _bare(str(tweet.get("text", "")), first_line=not whole_text) == words
                and (whole_text or (replied[0] if replied else None) == reply_to)
            ):
                return self._receipt(str(tweet["id"]))
        return None

    def _me(self) -> str:
        """The account's own id (asked once per process: a paid read)."""
        if self._user_id is None:
            response = self._call("GET", "/2/users/me")
            if not response.ok:
                raise self._error(response, posts=False)
            user_id = str(self._data(response)["id"])
            if not _ID.fullmatch(user_id):
                raise PermanentError(f"X named the account by an id of an unknown form: {user_id[:40]}")
            self._user_id = user_id
        return self._user_id

    # -- the rest of a post's life ------------------------------------------------------------------

    def delete(self, receipt: Receipt) -> None:
        """Deleted on X (any version deletes the whole chain); already gone is what we wanted."""
        if not _ID.fullmatch(receipt.platform_id):
            raise PermanentError(f"not an X post id: {receipt.platform_id[:40]}")
        response = self._call("DELETE", f"/2/tweets/{receipt.platform_id}")
        if response.ok or response.status_code == 404:  # gone before: 404, or "deleted": false
            return
        raise self._error(response, posts=False)

    # -- tokens that expire -------------------------------------------------------------------------

    def refresh_credentials(self) -> None:
        """Refresh the access token unless it is fresh. The engine asks a few times a day and the
        token lives two hours, so this mostly refreshes: the chain of refresh tokens stays in use,
        and one that broke is reported now, not when a warning needs the channel."""
        tokens = self._tokens()
        if tokens.fresh(self._now()) and tokens.expires_at is not None:
            return
        try:
            self._refresh(tokens)
        except TransientError as error:
            # Not a reason to alarm anyone: the next look or the next delivery refreshes.
            log.warning("the X token could not be refreshed now", channel=self.id, reason=error.reason)

    def credentials_expire(self) -> datetime | None:
        """None: the refresh token renews the access token without a person, and X documents no
        lifetime for refresh tokens. A chain that breaks makes ``refresh_credentials`` raise."""
        return None

    def check(self) -> list[str]:
        """The tokens, with one harmless paid read: whose they are (``/2/users/me``)."""
        problems = []
        parts = urlsplit(self.settings.api_base)
        if parts.scheme == "http" and not loopback(parts.hostname):
            problems.append(f"api_base {self.settings.api_base} is plain http: the tokens would travel unencrypted")
        try:
            self._me()
        except DeliveryError as error:
            problems.append(error.reason)
        return problems
