"""Inbound webhooks: ``POST /hooks/{authority}/{integration}`` from warning systems.

Each integration is configured under its authority (``[[authorities.integrations]]``). A request
is verified per Standard Webhooks (``webhook-id``, ``webhook-timestamp`` within five minutes,
``webhook-signature`` ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``), or, for a system that
cannot sign, with the integration's bearer token. What arrives is a third party's text: it is
relayed verbatim (publisher.sources.intake ``verbatim``), with the source named.

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

from publisher.domain.announcement import MsgType
from publisher.domain.authority import Authority, Integration
from publisher.domain.problems import InvalidInput
from publisher.domain.records import AuditEntry, Stage
from publisher.edges.wiring import Herold
from publisher.engine.settings import HOOK
from publisher.sources.cap import MAX_CAP_BYTES, CapAlert, CapError, parse_cap
from publisher.sources.intake import SourceConflict, receive, reject

log = structlog.get_logger("herold.hooks")

PREFIX = "/hooks/"
MAX_BODY = MAX_CAP_BYTES  # 1 MiB: a CAP alert with 169 areas in 8 languages is 407 KB
CONTENT_TYPES = {
    "cap": {"application/cap+xml", "application/xml", "text/xml"},
    "announcement": {"application/json"},
}


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
        if integration.id == name:
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
    if not (hook_id and timestamp.isdigit() and signatures) or abs(time.time() - int(timestamp)) > TOLERANCE:
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
    source = f"hook:{integration.id}"
    source_id: str | None
    if integration.format == "cap":
        try:
            alert = parse_cap(body, language=owner.languages[0])
        except CapError as error:
            raise Refused(422, f"not a CAP 1.2 alert Herold can take: {error}") from None
        if integration.senders and alert.sender not in integration.senders:
            raise Refused(403, f"the sender '{alert.sender[:100]}' is not one this integration takes")
        document, source_id, note = _from_cap(herold, owner, source, alert)
    else:
        document, source_id, note = _from_json(body), hook_id, None
    if note == "ignore":
        why = "it ends an item that never went out (or that Herold never had)"
        return 202, _decided(herold, owner, integration, "ignored", source_id, why)
    if integration.decision == "ignore":
        return 202, _decided(herold, owner, integration, "ignored", source_id, "the integration's decision")
    document["authority"] = owner.slug
    if integration.channels is not None:
        document["channels"] = list(integration.channels)
    stage = Stage.released if integration.decision == "publish" else Stage.awaiting_approval
    try:
        accepted = receive(herold.engine, document, source=source, source_id=source_id, actor=source,
                           stage=stage, verbatim=True, drop_unfit=True)  # fmt: skip
    except SourceConflict:
        raise Refused(409, "this message id was used before for a different message") from None
    except InvalidInput as error:
        problems = "; ".join(str(p) for p in error.problems[:5])
        raise Refused(422, f"the message cannot become an announcement: {problems[:500]}") from None
    decision = "published" if stage is Stage.released else "draft"
    if str(document.get("status", "actual")).lower() != "actual":
        decision = "stored"  # an exercise, a test: kept and shown, never delivered
    answer: dict[str, Any] = {"id": accepted.id, "decision": decision, "created": accepted.created}
    if note:
        answer["note"] = note
    left_out = [w.message.split(" / ", 1)[0] for w in accepted.warnings if w.field == "channels"]
    if left_out:
        answer["left_out"] = left_out
    if accepted.created:
        herold.store.audit.append(AuditEntry(
            at=herold.engine.clock(), authority=owner.slug, actor=source, source="hook", action="hook.decided",
            announcement_id=accepted.id,
            detail={"integration": integration.id, "decision": decision, "rule": "the integration's decision",
                    "address": address, **({"note": note} if note else {}),
                    **({"attribution": integration.attribution} if integration.attribution else {})},
        ))  # fmt: skip
    return (202 if accepted.created else 200), answer


def _from_cap(herold: Herold, owner: Authority, source: str, alert: CapAlert) -> tuple[dict[str, Any], str, str | None]:
    """The announcement document, its source id (CAP's sender,identifier,sent), and a note when
    the message follows one Herold never saw."""
    document = dict(alert.document)
    if document.get("msg_type", "alert") == MsgType.alert.value:
        return document, alert.source_id, None
    for reference in reversed(alert.references):  # the newest it names first
        found = herold.store.announcements.by_source(owner.slug, source, reference.source_id)
        if not found:
            continue
        original = herold.store.announcements.get(found[0])
        if original is not None and not original.stage.out:
            # It never went out (still waiting for approval, or sent back): what the sender
            # withdraws or replaces must not go out later either.
            if original.stage in {Stage.draft, Stage.awaiting_approval}:
                reject(herold.engine, original.id, f"the sender followed it with {document.get('msg_type')} "
                       f"{alert.source_id[:200]}", actor=source, source="hook")  # fmt: skip
            if document.get("msg_type") == MsgType.update.value:
                document["msg_type"] = MsgType.alert.value
                return document, alert.source_id, "an update of an alert that never went out: it replaces it"
            return document, alert.source_id, "ignore"
        document["references"] = found[0]
        return document, alert.source_id, None
    if document.get("msg_type") == MsgType.update.value:
        # Its original never reached Herold: the update is all there is, a new item that says so.
        document["msg_type"] = MsgType.alert.value
        return document, alert.source_id, "an update of an alert Herold never received: published as a new item"
    return document, alert.source_id, "ignore"  # an all-clear or withdrawal of nothing Herold published


def _from_json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(400, "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise Refused(422, "the body must be a JSON object (an announcement)")
    document.pop("authority", None)  # the address names it
    return document


def _decided(
    herold: Herold, owner: Authority, integration: Integration, decision: str, source_id: str | None, why: str
) -> dict[str, Any]:
    herold.store.audit.append(AuditEntry(
        at=herold.engine.clock(), authority=owner.slug, actor=f"hook:{integration.id}", source="hook",
        action="hook.decided", detail={"integration": integration.id, "decision": decision, "rule": why,
                                       "message": (source_id or "")[:300]},
    ))  # fmt: skip
    return {"decision": decision, "reason": why}
