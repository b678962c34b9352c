"""Outbound webhooks: each announcement as signed JSON to a partner's system.

Partners (local radio, newspapers, neighbouring authorities) get one HTTP ``POST`` per
announcement, after the item's page on the authority's own website exists. The body is JSON::

    {
      "type": "announcement.alert",          # or .update, .cancel (all-clear), .error (withdrawal)
      "timestamp": "2026-11-22T09:15:02.123456+00:00",   # when this attempt was sent
      "data": {
        "id": "<announcement id>",
        "authority": {"slug": "lk-beispiel", "name": "Landkreis Beispiel"},
        "item_url": "https://…/2026/11/fliegerbombe-…/",  # the item's own page: link to it
        "text": "<the ready-made plain-text post>",
        "language": "de",
        "references": null,                   # the earlier announcement, for follow-ups
        "announcement": {…}                   # the whole document, images as {"url", "alt"}
      }
    }

Every request is signed per Standard Webhooks (https://www.standardwebhooks.com/): headers
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256
over ``id.timestamp.body`` with the endpoint's shared ``whsec_…`` secret).

Guarantee: at least once; the same delivery always carries the same webhook-id, so a
receiver that drops ids it has seen gets each message exactly once. Any 2xx answer counts as
received. Redirects are never followed (a signed body goes only where it was configured to),
so a 3xx is a configuration error, as is 410 Gone (the receiver no longer wants messages).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import Field, field_validator

from adapters.port import (
    Capabilities,
    Channel,
    ChannelSettings,
    Idempotency,
    MediaRule,
    PermanentError,
    Post,
    Receipt,
    Wave,
    error_for_exception,
    error_for_status,
    signing,
)
from adapters.port.http import environment_for, loopback, session
from publisher.domain.authority import web_address

SECRET_PREFIX = "whsec_"  # noqa: S105 - the marker of the format, not a secret
MIN_SECRET_BYTES = 24  # Standard Webhooks: secrets of 24 to 64 random bytes
REASON_CHARACTERS = 200  # of a receiver's error answer, kept in the delivery's last error


class WebhookSettings(ChannelSettings):
    url: str  # where to POST; https, except to this machine
    secret_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # variable holding "whsec_<base64>"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return web_address(value)


def secret_key(secret: str) -> bytes | None:
    """The key bytes of a "whsec_<base64>" (or bare base64) secret; None if it is not one."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX).rstrip("=")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def shown(url: str) -> str:
    """A URL as it may be printed: without the user, password and query it may carry."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?…" if parts.query else "")


def _reason(response: requests.Response) -> str:
    """A short reason from an error answer: the status phrase and, if it is short text, the body."""
    reason = response.reason or ""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in {"text/plain", "application/json", "application/problem+json"}:
        text = " ".join(response.text.split())
        if text:
            if len(text) > REASON_CHARACTERS:
                text = text[: REASON_CHARACTERS - 1] + "…"
            reason = f"{reason}: {text}" if reason else text
    return reason


class Webhook(Channel):
    type = "webhook"
    label = "Webhook"
    capabilities = Capabilities(
        wave=Wave.other,
        text=None,
        template="channels/post.j2",
        media=MediaRule(count=4, alt_text=1000),  # as links to the copies next to the item's page
        threads=False,  # follow-ups name the earlier announcement in data.references
        idempotency=Idempotency.key,  # receivers deduplicate by webhook-id
    )
    Settings = WebhookSettings
    settings: WebhookSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = environment_for(session(self.deadline), self.settings.url)

    def _secret(self) -> str:
        return self.context.secrets["secret"]

    def payload(self, post: Post, now: str) -> dict[str, Any]:
        item_url = post.variant.link
        folder = item_url if item_url.endswith("/") else item_url + "/"
        document = post.announcement.model_dump(mode="json", exclude_none=True)
        document.pop("channels", None)
        # The website copies each image next to the item's page, under its stored file name.
        document["media"] = [
            {"url": folder + PurePosixPath(media.path).name, "alt": media.alt}
            for media in post.announcement.media
            if media.path is not None
        ]
        return {
            "type": f"announcement.{post.announcement.msg_type.value}",
            "timestamp": now,
            "data": {
                "id": post.announcement_id,
                "authority": {"slug": self.authority.slug, "name": self.authority.name},
                "item_url": item_url,
                "text": post.variant.text,
                "language": post.variant.language,
                "references": post.announcement.references,
                "announcement": document,
            },
        }

    def publish(self, post: Post) -> Receipt:
        secret = self._secret()
        if secret_key(secret) is None:
            raise PermanentError(
                f"the secret in {self.settings.secret_env} is not a Standard Webhooks secret "
                '("whsec_" followed by base64); set a valid one'
            )
        now = self.context.clock()
        body = signing.body(self.payload(post, now.isoformat()))
        headers = signing.headers(secret, post.idempotency_key, now, body)
        try:
            with self.http.post(
                self.settings.url,
                data=body.encode(),
                headers=headers,
                timeout=self.context.timeouts,
                allow_redirects=False,
            ) as response:
                status = response.status_code
                if 200 <= status < 300:
                    return Receipt(platform_id=post.idempotency_key, url=None)
                if status == 410:
                    raise PermanentError(
                        "the receiver answered 410 Gone: it no longer wants messages from us; "
                        "remove this webhook or ask the partner for its new address"
                    )
                if 300 <= status < 400:
                    where = response.headers.get("location")
                    reason = (
                        f"redirects to {where}; signed messages are never sent on to another address, "
                        "configure the new one"
                        if where
                        else "a redirect; signed messages are never sent on to another address"
                    )
                    raise error_for_status(status, reason, response.headers)
                raise error_for_status(status, _reason(response), response.headers)
        except requests.RequestException as error:
            raise error_for_exception(error) from error

    def check(self) -> Sequence[str]:
        problems = []
        parts = urlsplit(self.settings.url)
        if parts.scheme == "http" and not loopback(parts.hostname):
            problems.append(
                f"url {shown(self.settings.url)} is plain http to another machine: the texts and their "
                "signatures would travel unencrypted, readable and replayable on the way; use https"
            )
        try:
            secret = self._secret()
        except (KeyError, AttributeError):
            problems.append(f"the secret from {self.settings.secret_env} is not available")
        else:
            key = secret_key(secret)
            if key is None:
                problems.append(
                    f'the secret in {self.settings.secret_env} is not "whsec_" followed by base64: '
                    "receivers could not check the signatures"
                )
            elif len(key) < MIN_SECRET_BYTES:
                problems.append(
                    f"the secret in {self.settings.secret_env} has only {len(key)} bytes; "
                    f"Standard Webhooks asks for {MIN_SECRET_BYTES} to 64 random bytes"
                )
        return problems
