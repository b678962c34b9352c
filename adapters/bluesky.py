"""Bluesky and the AT Protocol: posts to the authority's account on its PDS, by plain XRPC.

Posts are ``app.bsky.feed.post`` records made with ``com.atproto.repo.createRecord``, in the
announcement's language (``langs``, always set: the ``atproto`` library defaults it to English),
with links and hashtags made clickable as facets, the announcement's images (``uploadBlob`` first, each with its
alt text), or else a link card to the item's page. Follow-ups reply in the original's thread
(``reply.root`` and ``reply.parent``, each a uri and cid, kept in the receipt's ``refs``). An
active warning is the profile's pinned post. Bluesky has no edit: corrections are new replies,
withdrawals delete.

Why plain XRPC and not the ``atproto`` package (which can talk to any PDS and hand out its
session): it talks httpx, so neither the call deadline of adapters.port.http nor the channel
kit's doubles would hold for it; its ``send_post`` defaults ``langs`` to English and builds facets
while building the text, whereas Herold's text is made (and shortened) before; and its errors
hide the XRPC error name and the rate-limit headers the engine needs. Herold needs eight methods
with small JSON bodies.

The session: ``createSession`` is rate-limited hard (30 per 5 minutes, 300 a day per account;
docs.bsky.app "Rate Limits"), so the session (access and refresh token) is kept in
``context.credentials`` for every worker and restart. An access token lives two hours, a refresh
token 90 days; every refresh hands out a new pair and retires the old refresh token after a
grace of two hours (bluesky-social/atproto, packages/pds account-manager.ts). Herold refreshes
on ``ExpiredToken`` (400) or shortly before the access token runs out, and creates a session only
when none is kept or the refresh is refused.

Exactly once: Bluesky takes no idempotency key, but a record's key (rkey) may be chosen. Each
delivery's is a TID derived from its idempotency key and creation time, so a retry writes to the
same key: the reference PDS answers a second create there with 500 (an MST error; atproto
PR #4728, not merged in 2026-08, makes that 400 ``RecordAlreadyExists``). Either answer, and
every ambiguous failure (``find``), is followed by ``getRecord`` of that key in the account's own
repo: found, the post is there already.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import regex
import requests
import structlog
from PIL import Image, UnidentifiedImageError
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
from adapters.port.http import environment_for, loopback, session
from publisher.domain.announcement import Media
from publisher.domain.authority import web_address
from publisher.domain.counting import Graphemes, TextRule, Utf8Bytes, graphemes
from publisher.domain.labels import titled

log = structlog.get_logger("herold.bluesky")

SERVICE = "https://bsky.social"  # the PDS entryway of accounts hosted by Bluesky
WEB = "https://bsky.app"
POST = "app.bsky.feed.post"
PROFILE = "app.bsky.actor.profile"
# app.bsky.feed.post: text maxGraphemes 300 and maxLength 3000 (UTF-8 bytes); both must hold.
GRAPHEMES, BYTES = 300, 3000
# app.bsky.embed.images: 4 images. Its blob maxSize rose from 1,000,000 to 2,000,000 bytes on
# 2026-04-08 (atproto #4823); a PDS or AppView older than that refuses the larger ones.
IMAGES, IMAGE_BYTES = 4, 1_000_000
ALT_TEXT = 2000  # the lexicon sets none; the Bluesky app takes 2,000 (social-app constants.ts MAX_ALT_TEXT)
CARD_DESCRIPTION = 300  # of the link card: a short teaser, the text itself is in the post
RENEW_BEFORE = 60.0  # seconds: an access token this close to its end is renewed first
CREDENTIAL = "session"  # the key in context.credentials
MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}

# An app password as Bluesky hands it out: four groups of four (Settings, Privacy and security).
APP_PASSWORD = re.compile(r"^[a-z0-9]{4}(-[a-z0-9]{4}){3}$")


def rule() -> TextRule:
    return TextRule(GRAPHEMES, Graphemes(), also=(TextRule(BYTES, Utf8Bytes()),))


# -- facets: links and hashtags, by UTF-8 byte offsets of the final text ------------------------

# Links as the Bluesky app detects them after a scheme; what ends a sentence is not part of one.
_LINK = regex.compile(r"(?<![\w@/])https?://[^\s<>\"]+", regex.IGNORECASE)
_LINK_TAIL = ".,;:!?'\"»«”’…)"
# A hashtag: "#" after a space or the start, not only digits, at most 64 graphemes (facet#tag).
_TAG = regex.compile(r"(?<!\S)[#＃](\w*[^\W\d]\w*)")
TAG_GRAPHEMES, TAG_BYTES = 64, 640


def _link_end(text: str, start: int, end: int) -> int:
    """Where a link found at ``text[start:end]`` really ends: trailing punctuation is the
    sentence's, and a closing bracket only belongs to it if it opened one inside."""
    while end > start:
        last = text[end - 1]
        if last not in _LINK_TAIL:
            break
        if last == ")" and text.count("(", start, end) >= text.count(")", start, end):
            break
        end -= 1
    return end


def facets(text: str) -> list[dict[str, Any]]:
    """The facets that make the links and hashtags in ``text`` clickable: Bluesky shows plain text
    otherwise. Offsets count UTF-8 bytes, end exclusive (app.bsky.richtext.facet#byteSlice)."""

    def at(index: int) -> int:
        return len(text[:index].encode())

    found: list[tuple[int, dict[str, Any]]] = []
    for match in _LINK.finditer(text):
        end = _link_end(text, match.start(), match.end())
        uri = text[match.start() : end]
        if "." not in urlsplit(uri).netloc:
            continue  # "https://" alone, or a host no browser reaches
        index = {"byteStart": at(match.start()), "byteEnd": at(end)}
        found.append((match.start(), {"index": index, "features": [{"$type": "app.bsky.richtext.facet#link",
                                                                     "uri": uri}]}))  # fmt: skip
    for match in _TAG.finditer(text):
        tag = match.group(1)
        if graphemes(tag) > TAG_GRAPHEMES or len(tag.encode()) > TAG_BYTES:
            continue
        if any(f["index"]["byteStart"] <= at(match.start()) < f["index"]["byteEnd"] for _, f in found):
            continue  # a "#" inside a link is the link's fragment
        index = {"byteStart": at(match.start()), "byteEnd": at(match.end())}
        found.append((match.start(), {"index": index, "features": [{"$type": "app.bsky.richtext.facet#tag",
                                                                     "tag": tag}]}))  # fmt: skip
    return [facet for _, facet in sorted(found, key=lambda pair: pair[0])]


# -- the record key: one per delivery, the same on every retry ----------------------------------

_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable, as TIDs are written


def record_key(idempotency_key: str, created: datetime) -> str:
    """A TID (13 characters: 53 bits of microseconds since 1970, 10 bits of clock id) that is
    the same for every attempt of one delivery and differs between deliveries: the time is the
    delivery's creation to the millisecond, the microseconds below it and the clock id come
    from the idempotency key. Records stay in time order, as Bluesky expects of TIDs."""
    moment = created if created.tzinfo else created.replace(tzinfo=UTC)
    digest = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:8], "big")
    micros = int(moment.timestamp() * 1000) * 1000 + digest % 1000
    value = (micros << 10) | ((digest >> 10) & 0x3FF)
    return "".join(_SORTABLE[(value >> shift) & 0x1F] for shift in range(60, -1, -5))


def _rkey(uri: str) -> str:
    """The record key of an ``at://did/collection/rkey`` URI."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _repo(uri: str) -> str:
    return uri.removeprefix("at://").split("/", 1)[0]


# -- the session --------------------------------------------------------------------------------


def _claims(jwt: str) -> dict[str, Any]:
    """A token's claims, read without checking it: only the PDS can check, and it says so when it
    refuses one."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _lifetime(jwt: str) -> float | None:
    """How long a token lasts from when it was issued (``exp - iat``), if it says."""
    claims = _claims(jwt)
    try:
        return float(claims["exp"]) - float(claims["iat"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Session:
    """What createSession and refreshSession hand out, for which login, and when (by our own
    clock) to renew its access token: counted from its receipt, so that a clock that differs
    from the server's renews neither too late nor on every call."""

    access: str
    refresh: str
    did: str
    handle: str
    service: str
    identifier: str
    renew_at: float | None = None  # epoch seconds of our clock

    @classmethod
    def of(cls, answer: Mapping[str, Any], service: str, identifier: str, now: datetime) -> Session:
        try:
            access, refresh, did = str(answer["accessJwt"]), str(answer["refreshJwt"]), str(answer["did"])
        except KeyError as missing:
            raise TransientError(f"the server's session lacks {missing}", ambiguous=False) from None
        lasts = _lifetime(access)
        renew_at = now.timestamp() + lasts - RENEW_BEFORE if lasts is not None else None
        return cls(access, refresh, did, str(answer.get("handle") or did), service, identifier, renew_at)

    def kept(self, now: datetime) -> Credential:
        lasts = _lifetime(self.refresh)
        value = json.dumps({"accessJwt": self.access, "refreshJwt": self.refresh, "did": self.did,
                            "handle": self.handle, "service": self.service, "identifier": self.identifier,
                            "renewAt": self.renew_at})  # fmt: skip
        ends = now.astimezone(UTC) + timedelta(seconds=lasts) if lasts is not None else None
        return Credential(value, ends, now.astimezone(UTC))

    @classmethod
    def from_kept(cls, credential: Credential) -> Session | None:
        try:
            kept = json.loads(credential.value)
            return cls(kept["accessJwt"], kept["refreshJwt"], kept["did"], kept["handle"], kept["service"],
                       kept["identifier"], kept.get("renewAt"))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: a new session is made


class _Refused(Exception):
    """An XRPC error answer: its status, the error name and message of its body, its headers."""

    def __init__(self, status: int, error: str, message: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.message, self.headers = status, error, message, headers

    @property
    def token_expired(self) -> bool:
        # The PDS answers a stale or unverifiable access token with 400, not 401 (auth-verifier.ts).
        return self.status == 400 and self.error in {"ExpiredToken", "InvalidToken"}

    def problem(self, doing: str) -> DeliveryError:
        """The engine's view: retry, stop, or stop and flag the channel."""
        said = f"{self.error}: {self.message}" if self.message and self.message != self.error else self.error
        known = ERRORS.get(self.error)
        if known is not None:
            kind, hint = known
            reason = f"Bluesky refused {doing} ({self.status} {said}): {hint}"
            if kind is TransientError:
                return TransientError(reason, retry_after=retry_after(self.headers, rate_limited=self.status == 429))
            return kind(reason)
        return error_for_status(self.status, f"{doing}: {said}", self.headers)


# XRPC error names (the body's "error") that say more than their status: what they mean, and
# what a person can do. Others follow their status (adapters.port.errors.error_for_status).
ERRORS: dict[str, tuple[type[DeliveryError], str]] = {
    "AuthFactorTokenRequired": (CredentialsError, "the account asks for a sign-in code by email: give Herold an "
                                "app password (Settings, Privacy and security, App passwords), which needs none"),
    "AccountTakedown": (CredentialsError, "the account was taken down by its host"),
    "AccountDeactivated": (CredentialsError, "the account is deactivated; reactivate it"),
    "AccountNotFound": (CredentialsError, "the server does not know the account; check handle and service"),
    "ExpiredToken": (CredentialsError, "a fresh session was refused as expired; check the server's clock"),
    "InvalidToken": (CredentialsError, "the session is not accepted; check the app password"),
    "RateLimitExceeded": (TransientError, "rate limit reached; retrying after its reset"),
    "InvalidSwap": (TransientError, "the profile changed meanwhile; reading it again"),
    "PayloadTooLarge": (PermanentError, "the image is larger than the server takes"),
}  # fmt: skip


# A refresh refused for these is not cured by signing in again.
ACCOUNT_GONE = frozenset({"AccountTakedown", "AccountDeactivated"})


class BlueskySettings(ChannelSettings):
    service: str = SERVICE  # the account's PDS (or Bluesky's entryway), where XRPC calls go
    handle: str = Field(min_length=3)  # the account's handle (lk-beispiel.bsky.social) or DID
    app_password_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # variable holding an app password
    web_url: str = WEB  # where people see a post: the receipt's address (<web_url>/profile/<did>/post/<rkey>)
    link_card: bool = True  # a post without images shows a card linking the item's page
    pin_warnings: bool = True

    @field_validator("service", "web_url")
    @classmethod
    def _address(cls, value: str) -> str:
        return web_address(value).rstrip("/")

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        return value.strip().removeprefix("@")


class BlueskyChannel(Channel):
    type = "bluesky"
    label = "Bluesky"
    capabilities = Capabilities(
        wave=Wave.other,
        text=rule(),
        template="channels/post.j2",
        media=MediaRule(count=IMAGES, max_bytes=IMAGE_BYTES, alt_text=ALT_TEXT),
        threads=True,
        edit=False,  # Bluesky has no edit (only on its roadmap)
        delete=True,
        pin=True,
        pin_limit=1,  # a profile has one pinned post
        idempotency=Idempotency.lookup,
    )
    Settings = BlueskySettings
    settings: BlueskySettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = environment_for(session(self.deadline), self.settings.service)
        self._session: Session | None = None

    @classmethod
    def pins(cls, settings: ChannelSettings) -> bool:
        return isinstance(settings, BlueskySettings) and settings.pin_warnings

    # -- XRPC ---------------------------------------------------------------------------------

    def _send(
        self, method: str, nsid: str, token: str | None, *, params: Mapping[str, str] | None = None,
        body: Any = None, data: bytes | None = None, content_type: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            with self.http.request(
                method, f"{self.settings.service}/xrpc/{nsid}", params=params, json=body, data=data,
                headers=headers, timeout=self.context.timeouts, allow_redirects=False,
            ) as response:  # fmt: skip
                answer = _json(response)
                if 200 <= response.status_code < 300:
                    if answer is None:
                        # A proxy's page, not the PDS: what it did with the request is unknown.
                        raise TransientError(f"{nsid}: the answer was not JSON ({response.status_code})",
                                             ambiguous=method == "POST")  # fmt: skip
                    return answer
                error = str((answer or {}).get("error") or response.reason or response.status_code)
                message = str((answer or {}).get("message") or "")
                raise _Refused(response.status_code, error, message, dict(response.headers))
        except requests.RequestException as error:
            raise error_for_exception(error) from error

    def _call(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        """An authenticated call: with the kept session, renewed once if the PDS says it expired."""
        current = self._current()
        try:
            return self._send(method, nsid, current.access, **kwargs)
        except _Refused as refused:
            if not refused.token_expired:
                raise
            log.info("session expired; renewing", channel=self.id, error=refused.error)
        return self._send(method, nsid, self._renewed(current).access, **kwargs)

    # -- the session ---------------------------------------------------------------------------

    @property
    def _password(self) -> str:
        return self.context.secrets["app_password"]

    def _kept(self) -> Session | None:
        credential = self.context.credentials.get(CREDENTIAL)
        kept = Session.from_kept(credential) if credential else None
        if kept is None or (kept.service, kept.identifier) != (self.settings.service, self.settings.handle):
            return None  # none yet, or for another account or server (the settings changed)
        return kept

    def _keep(self, fresh: Session) -> Session:
        self.context.credentials.put(CREDENTIAL, fresh.kept(self.context.clock()))
        self._session = fresh
        return fresh

    def _current(self) -> Session:
        """The session to call with: the kept one (another worker may have renewed it), renewed
        first if its access token is about to end, or a new one if none is kept."""
        kept = self._kept() or self._session
        if kept is None:
            return self._created()
        if kept.renew_at is not None and self.context.clock().timestamp() >= kept.renew_at:
            return self._renewed(kept)
        self._session = kept
        return kept

    def _renewed(self, stale: Session) -> Session:
        """A session in place of ``stale``: one another worker renewed meanwhile, a refreshed one,
        or (the refresh token refused) a new one."""
        kept = self._kept()
        if kept is not None and kept.access != stale.access:
            return kept
        try:
            answer = self._send("POST", "com.atproto.server.refreshSession", stale.refresh)
        except _Refused as refused:
            if refused.status >= 500 or refused.status == 429 or refused.error in ACCOUNT_GONE:
                raise refused.problem("renewing the session") from None
            log.info("refresh refused; signing in again", channel=self.id, error=refused.error)
            return self._created()
        return self._keep(Session.of(answer, self.settings.service, self.settings.handle, self.context.clock()))

    def _created(self) -> Session:
        """A new session from the app password: the call Bluesky limits to 30 per 5 minutes."""
        body = {"identifier": self.settings.handle, "password": self._password}
        try:
            answer = self._send("POST", "com.atproto.server.createSession", None, body=body)
        except _Refused as refused:
            problem = refused.problem("signing in")
            if refused.status == 401 and refused.error == "AuthenticationRequired":
                problem = CredentialsError(
                    f"Bluesky refused the sign-in ({refused.status} {refused.message or refused.error}): check "
                    f"{self.settings.handle} and the app password in {self.settings.app_password_env}"
                )
            raise problem from None
        return self._keep(Session.of(answer, self.settings.service, self.settings.handle, self.context.clock()))

    def refresh_credentials(self) -> None:
        """Renew the kept session (or sign in once): keeps its refresh token from running out,
        and finds a revoked app password or a suspended account before a warning must go out."""
        kept = self._kept()
        if kept is None:
            self._created()
        else:
            self._renewed(kept)

    def credentials_expire(self) -> datetime | None:
        # App passwords do not expire, and the session is renewed by Herold itself.
        return None

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, post: Post) -> Receipt:
        """A post, or a reply where ``post`` follows an earlier one on this channel."""
        try:
            return self._create(post)
        except _Refused as refused:
            raise refused.problem("the post") from None

    def reply(self, post: Post) -> Receipt:
        return self.publish(post)

    def _create(self, post: Post) -> Receipt:
        me = self._current()
        record: dict[str, Any] = {
            "$type": POST,
            "text": post.variant.text,
            "createdAt": _timestamp(self.context.clock()),
            "langs": [post.variant.language],
        }
        found = facets(post.variant.text)
        if found:
            record["facets"] = found
        if post.in_reply_to is not None:
            parent = self._strong(post.in_reply_to)
            root = _root(post.in_reply_to) or (_root(post.thread[0]) if post.thread else None) or parent
            record["reply"] = {"root": root, "parent": parent}
        embed = self._embed(post)
        if embed:
            record["embed"] = embed
        rkey = record_key(post.idempotency_key, post.created_at or self.context.clock())
        body = {"repo": me.did, "collection": POST, "rkey": rkey, "record": record}
        try:
            made = self._call("POST", "com.atproto.repo.createRecord", body=body)
        except _Refused as refused:
            # A record at this key already: an earlier attempt made it (500 on today's PDS,
            # RecordAlreadyExists once atproto #4728 lands). Anything else stands.
            if not (refused.error == "RecordAlreadyExists" or refused.status == 500):
                raise
            earlier = self._own_post(rkey)
            if earlier is None:
                raise
            log.info("the post was there already", channel=self.id, rkey=rkey)
            return earlier
        uri = _field(made, "uri", "createRecord", ambiguous=True)
        return self._receipt(str(uri), str(_field(made, "cid", "createRecord", ambiguous=True)), record.get("reply"))

    def _receipt(self, uri: str, cid: str, reply: Mapping[str, Any] | None) -> Receipt:
        root = reply.get("root") if isinstance(reply, Mapping) else None
        # The thread's first post: a later reply names it as its root, whichever post it answers.
        root_uri, root_cid = (str(root["uri"]), str(root["cid"])) if root else (uri, cid)
        refs = {"uri": uri, "cid": cid, "root_uri": root_uri, "root_cid": root_cid}
        url = f"{self.settings.web_url}/profile/{_repo(uri)}/post/{_rkey(uri)}"
        return Receipt(platform_id=uri, url=url, refs=refs)

    def _strong(self, receipt: Receipt) -> dict[str, str]:
        """A post as a reply or pin names it: uri and cid (asked of the PDS if the receipt lacks it)."""
        uri = receipt.refs.get("uri") or receipt.platform_id
        cid = receipt.refs.get("cid")
        if not cid:
            found = self._own_post(_rkey(uri))
            if found is None:
                raise PermanentError(f"the post {uri} is no longer there")
            cid = found.refs["cid"]
        return {"uri": uri, "cid": cid}

    def _embed(self, post: Post) -> dict[str, Any] | None:
        images = [self._image(media) for media in post.announcement.media[:IMAGES] if media.path]
        if images:
            return {"$type": "app.bsky.embed.images", "images": images}
        link = post.item_url or post.variant.link
        if not self.settings.link_card or not link:
            return None
        language = post.variant.language
        shown = post.announcement.text_in(language)
        teaser = shown.instruction or shown.description or post.announcement.description
        if len(teaser) > CARD_DESCRIPTION:
            teaser = teaser[: CARD_DESCRIPTION - 1].rsplit(" ", 1)[0] + "…"
        # No thumb: it would carry no alt text. The card is the item's page, as Bluesky's apps show links.
        external = {"uri": link, "title": titled(post.announcement, language), "description": teaser}
        return {"$type": "app.bsky.embed.external", "external": external}

    def _image(self, media: Media) -> dict[str, Any]:
        assert media.path is not None
        path = self.context.media / media.path
        data = path.read_bytes()
        if len(data) > IMAGE_BYTES:
            raise PermanentError(f"{media.path} has {len(data):,} bytes; Bluesky takes at most {IMAGE_BYTES:,}")
        uploaded = self._call("POST", "com.atproto.repo.uploadBlob", data=data,
                              content_type=MIME.get(path.suffix.lower(), "application/octet-stream"))  # fmt: skip
        image: dict[str, Any] = {"image": _field(uploaded, "blob", "uploadBlob"), "alt": media.alt}
        ratio = _aspect_ratio(path)
        if ratio:
            # Without it Bluesky's apps show the image cropped to a square until it has loaded.
            image["aspectRatio"] = ratio
        return image

    def find(self, post: Post) -> Receipt | None:
        """The post an ambiguous attempt may have made: the record at this delivery's key, read
        from the account's own repo (never anyone else's)."""
        if post.created_at is None:
            return None  # its key is known only from the delivery's creation time
        try:
            return self._own_post(record_key(post.idempotency_key, post.created_at))
        except _Refused as refused:
            raise refused.problem("looking for the post") from None

    def _own_post(self, rkey: str) -> Receipt | None:
        answer = self._own_record(POST, rkey)
        if answer is None:
            return None
        value = answer.get("value")
        reply = value.get("reply") if isinstance(value, Mapping) else None
        return self._receipt(str(_field(answer, "uri", "getRecord")), str(_field(answer, "cid", "getRecord")), reply)

    def _own_record(self, collection: str, rkey: str) -> dict[str, Any] | None:
        me = self._current()
        try:
            return self._call("GET", "com.atproto.repo.getRecord",
                              params={"repo": me.did, "collection": collection, "rkey": rkey})  # fmt: skip
        except _Refused as refused:
            if refused.error == "RecordNotFound":
                return None
            raise

    # -- the rest of a post's life ------------------------------------------------------------

    def delete(self, receipt: Receipt) -> None:
        """The post removed (a withdrawal). One that is gone already is what we wanted: the PDS
        answers that, too, with success."""
        uri = receipt.refs.get("uri") or receipt.platform_id
        try:
            me = self._current()
            if _repo(uri) != me.did:
                raise PermanentError(f"{uri} is not a post of {self.settings.handle}: Herold deletes only its own")
            self._call("POST", "com.atproto.repo.deleteRecord",
                       body={"repo": me.did, "collection": POST, "rkey": _rkey(uri)})  # fmt: skip
        except _Refused as refused:
            raise refused.problem("deleting the post") from None

    def pin(self, receipt: Receipt) -> None:
        """The post as the profile's pinned one, in place of any other."""
        try:
            self._profile(lambda profile: {**profile, "pinnedPost": self._strong(receipt)})
        except _Refused as refused:
            raise refused.problem("pinning the post") from None

    def unpin(self, receipt: Receipt) -> None:
        """No pinned post, if this one still is (a person may have pinned another meanwhile)."""
        uri = receipt.refs.get("uri") or receipt.platform_id

        def without(profile: dict[str, Any]) -> dict[str, Any] | None:
            pinned = profile.get("pinnedPost")
            if not isinstance(pinned, Mapping) or pinned.get("uri") != uri:
                return None
            return {key: value for key, value in profile.items() if key != "pinnedPost"}

        try:
            self._profile(without)
        except _Refused as refused:
            raise refused.problem("unpinning the post") from None

    def _profile(self, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Read the account's own profile record, change it, and write it back only if nobody
        changed it meanwhile (``swapRecord``): the display name, description and avatar a person
        set stay as they are."""
        me = self._current()
        answer = self._own_record(PROFILE, "self")
        profile = dict(answer["value"]) if answer and isinstance(answer.get("value"), Mapping) else {"$type": PROFILE}
        changed = change(profile)
        if changed is None:
            return
        body: dict[str, Any] = {"repo": me.did, "collection": PROFILE, "rkey": "self", "record": changed}
        if answer and answer.get("cid"):
            body["swapRecord"] = answer["cid"]
        self._call("POST", "com.atproto.repo.putRecord", body=body)

    def check(self) -> Sequence[str]:
        problems = []
        parts = urlsplit(self.settings.service)
        if parts.scheme != "https" and not loopback(parts.hostname):
            problems.append(f"service {self.settings.service} is not https: the app password would travel unencrypted")
        try:
            password = self._password
        except KeyError:
            return [*problems, f"the app password from {self.settings.app_password_env} is not available"]
        if not APP_PASSWORD.match(password):
            problems.append(
                f"{self.settings.app_password_env} does not look like an app password (xxxx-xxxx-xxxx-xxxx): "
                "the account's own password gives Herold every right, and a sign-in code may be asked for"
            )
        try:
            self._call("GET", "com.atproto.server.getSession")
        except _Refused as refused:
            problems.append(refused.problem("the session").reason)
        except DeliveryError as error:
            problems.append(error.reason)
        return problems

    def close(self) -> None:
        self.http.close()


def _json(response: requests.Response) -> dict[str, Any] | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _field(answer: Mapping[str, Any], key: str, nsid: str, *, ambiguous: bool = False) -> Any:
    """A field the PDS must answer with; without it, something other than a PDS answered."""
    if key not in answer:
        raise TransientError(f"{nsid}: the answer lacks {key}", ambiguous=ambiguous)
    return answer[key]


def _root(receipt: Receipt) -> dict[str, str] | None:
    uri, cid = receipt.refs.get("root_uri"), receipt.refs.get("root_cid")
    return {"uri": uri, "cid": cid} if uri and cid else None


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Bluesky's apps write createdAt."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _aspect_ratio(path: Path) -> dict[str, int] | None:
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, UnidentifiedImageError):
        return None
    return {"width": width, "height": height} if width and height else None
