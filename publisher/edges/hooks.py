"""Inbound webhooks: ``POST /hooks/{authority}/{integration}`` from warning systems.

Each integration is configured under its authority (``[[authorities.integrations]]``). A request
is verified per Standard Webhooks (``webhook-id``, ``webhook-timestamp`` within five minutes,
``webhook-signature`` ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``), or, for a system that
cannot sign, with the integration's bearer token. What arrives (CAP 1.2 XML, a NINA/MoWaS warning
as JSON, or Herold's own announcement) goes the way every warning system's message goes
(publisher.sources.relay): relayed verbatim, with its source named.

Answers: 202 with the announcement's id and the decision (``published``, ``draft``, ``ignored``);
200 for a message already taken (the same CAP alert, the same ``webhook-id``); short JSON errors
otherwise, never a 500 for anything the sender can send. Every refusal is one line in the log
(``ingest rejected``), without the payload.
"""

# No "from __future__ import annotations": FastAPI reads the endpoint's annotations at runtime.
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from publisher.domain.authority import Authority, Integration
from publisher.edges.wiring import Herold
from publisher.engine.settings import HOOK
from publisher.sources.cap import MAX_CAP_BYTES, CapError, parse_cap
from publisher.sources.nina import parse_nina
from publisher.sources.relay import NotRelayed, relay_alert, relay_document

log = structlog.get_logger("herold.hooks")

PREFIX = "/hooks/"
MAX_BODY = MAX_CAP_BYTES  # 1 MiB: a CAP alert with 169 areas in 8 languages is 407 KB
CONTENT_TYPES = {
    "cap": {"application/cap+xml", "application/xml", "text/xml"},
    "nina": {"application/json"},
    "announcement": {"application/json"},
}


# What a message the relay could not take is answered with, by why.
STATUS = {"sender": 403, "conflict": 409, "invalid": 422}


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def install_hooks(app: FastAPI, herold: Herold) -> None:
    @app.post("/hooks/{authority}/{integration}", include_in_schema=True, status_code=202)
    async def hook(authority: str, integration: str, request: Request) -> JSONResponse:
        """A warning system's message (CAP 1.2 XML, or an announcement as JSON), signed per
        Standard Webhooks or with the integration's bearer token."""
        address = request.client.host if request.client else "unknown"
        try:
            body = await request.body()  # BodyLimit stops it at MAX_BODY
            owner, configured = _integration(herold, authority, integration)
            _verify(herold, owner, configured, body, request)
            kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if kind not in CONTENT_TYPES[configured.format]:
                allowed = ", ".join(sorted(CONTENT_TYPES[configured.format]))
                raise Refused(415, f"send the body as {allowed}")
            hook_id = request.headers.get("webhook-id")
            status, answer = await run_in_threadpool(lambda: _take(herold, owner, configured, body, hook_id, address))
        except Refused as refused:
            log.warning("ingest rejected", authority=authority[:64], integration=integration[:64],
                        status=refused.status, reason=refused.message, address=address)  # fmt: skip
            return JSONResponse({"error": refused.message}, status_code=refused.status)
        return JSONResponse(answer, status_code=status)


def _integration(herold: Herold, slug: str, name: str) -> tuple[Authority, Integration]:
    try:
        owner = herold.engine.authority(slug)
    except KeyError:
        raise Refused(404, "no such integration") from None
    for integration in owner.integrations:
        # One that only polls takes nothing sent to it.
        if integration.id == name and (integration.secret_env or integration.token_env):
            return owner, integration
    raise Refused(404, "no such integration")


def _verify(herold: Herold, owner: Authority, integration: Integration, body: bytes, request: Request) -> None:
    key = f"{HOOK}{integration.id}"
    if integration.secret_env:
        secret = herold.settings.secret(owner.slug, key, "secret")
        if not signed_by(
            secret,
            body,
            request.headers.get("webhook-id", ""),
            request.headers.get("webhook-timestamp", ""),
            request.headers.get("webhook-signature", ""),
        ):
            raise Refused(401, "the webhook signature is missing, wrong or too old (Standard Webhooks, 5 minutes)")
        return
    token = herold.settings.secret(owner.slug, key, "token")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Refused(401, "send the integration's token: Authorization: Bearer <token>")


TOLERANCE = 5 * 60  # seconds a signed request may be older or newer than this server's clock


def signed_by(secret: str, body: bytes, hook_id: str, timestamp: str, signatures: str) -> bool:
    """Standard Webhooks: one of the space-separated ``v1,<base64>`` signatures is the HMAC-SHA256
    of ``id.timestamp.body`` under the secret. Computed over the body's bytes as they came (a CAP
    alert may be Latin-1 or UTF-16); entries of other versions, or malformed ones, are skipped."""
    if (
        not (hook_id and timestamp.isascii() and timestamp.isdigit() and signatures)
        or abs(time.time() - int(timestamp)) > TOLERANCE
    ):
        return False
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        return False
    expected = hmac.new(key, f"{hook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    for entry in signatures.split():
        version, _, given = entry.partition(",")
        if version != "v1":
            continue
        try:
            candidate = base64.b64decode(given, validate=True)
        except ValueError:
            continue
        if hmac.compare_digest(candidate, expected):
            return True
    return False


def _take(
    herold: Herold, owner: Authority, integration: Integration, body: bytes, hook_id: str | None, address: str
) -> tuple[int, dict[str, Any]]:
    engine = herold.engine
    try:
        if integration.format == "announcement":
            relayed = relay_document(engine, owner, integration, _from_json(body), hook_id, via=address)
        else:
            read = parse_cap if integration.format == "cap" else parse_nina
            try:
                alert = read(body, language=owner.languages[0])
            except CapError as error:
                kind = "CAP 1.2 alert" if integration.format == "cap" else "NINA warning"
                raise Refused(422, f"not a {kind} Herold can take: {error}") from None
            relayed = relay_alert(engine, owner, integration, alert, via=address)
    except NotRelayed as refused:
        raise Refused(STATUS[refused.reason], refused.message) from None
    return (200 if relayed.id and not relayed.created else 202), relayed.answer()


def _from_json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(400, "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise Refused(422, "the body must be a JSON object (an announcement)")
    return document
