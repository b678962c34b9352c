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
import hmac
import json
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from standardwebhooks.webhooks import Webhook
from starlette.concurrency import run_in_threadpool

from publisher.domain.announcement import MsgType
from publisher.domain.authority import Authority, Integration
from publisher.domain.problems import InvalidInput
from publisher.domain.records import AuditEntry, Stage
from publisher.edges.wiring import Herold
from publisher.engine.settings import HOOK
from publisher.sources.cap import MAX_CAP_BYTES, CapAlert, CapError, parse_cap
from publisher.sources.intake import SourceConflict, receive

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
        try:
            Webhook(secret).verify(body, dict(request.headers), json_parse=False)
        except Exception:  # a missing header, an old or future timestamp, a bad signature, a body not UTF-8
            raise Refused(
                401, "the webhook signature is missing, wrong or too old (Standard Webhooks, 5 minutes)"
            ) from None
        return
    token = herold.settings.secret(owner.slug, key, "token")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Refused(401, "send the integration's token: Authorization: Bearer <token>")


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
        return 202, _decided(herold, owner, integration, "ignored", source_id, "it ends an item Herold never had")
    if integration.decision == "ignore":
        return 202, _decided(herold, owner, integration, "ignored", source_id, "the integration's decision")
    document["authority"] = owner.slug
    if integration.channels is not None:
        document["channels"] = list(integration.channels)
    stage = Stage.released if integration.decision == "publish" else Stage.awaiting_approval
    try:
        accepted = receive(herold.engine, document, source=source, source_id=source_id, actor=source,
                           stage=stage, verbatim=True)  # fmt: skip
    except SourceConflict:
        raise Refused(409, "this message id was used before for a different message") from None
    except InvalidInput as error:
        problems = "; ".join(str(p) for p in error.problems[:5])
        raise Refused(422, f"the message cannot become an announcement: {problems[:500]}") from None
    decision = "published" if stage is Stage.released else "draft"
    answer: dict[str, Any] = {"id": accepted.id, "decision": decision, "created": accepted.created}
    if note:
        answer["note"] = note
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
        if found:
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
