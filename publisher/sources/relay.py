"""A warning system's message, relayed: the one path from a warning (pushed to a webhook, or
fetched by a poller) to an announcement, or to a recorded decision not to make one.

What arrives is a third party's text: it is relayed verbatim (intake's ``verbatim``), with its
source and licence note named on every copy. The same message twice is one announcement (its
source id: CAP's sender,identifier,sent). An update or all-clear follows the item of the message
it references; one of a message Herold never published is handled as the sender would want
(see ``_follow``). Every decision is audited with what made it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from publisher.core.routing import route
from publisher.domain.announcement import MsgType
from publisher.domain.authority import Authority, Integration
from publisher.domain.labels import labels_for
from publisher.domain.problems import InvalidInput
from publisher.domain.records import AuditEntry, Stage
from publisher.engine.engine import Engine
from publisher.engine.store.announcements import GONE
from publisher.sources.cap import ATTRIBUTION, HEADLINE, CapAlert, CapReference
from publisher.sources.intake import SOURCE_ID_LENGTH, WAITING, SourceConflict, digest, ended_by, receive, reject

Outcome = Literal["published", "draft", "stored", "ignored"]
FOLLOWS = "follows an item that went out"  # the rule named in the audit for such a message


class NotRelayed(Exception):
    """Why a message cannot become an announcement, as one short sentence for its sender.
    ``reason``: sender (not one the integration takes), conflict (an id reused for another
    message) or invalid (the announcement model refuses it)."""

    def __init__(self, reason: Literal["sender", "conflict", "invalid"], message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Relayed:
    decision: Outcome
    id: str | None = None  # the announcement, unless ignored
    created: bool = False  # False: the message was taken before (or ignored)
    note: str | None = None  # what Herold made of a follow-up whose original it lacks
    reason: str | None = None  # why ignored
    left_out: tuple[str, ...] = field(default=())  # channels the relayed text cannot fit

    def answer(self) -> dict[str, Any]:
        """As the webhook answers it."""
        if self.decision == "ignored":
            return {"decision": self.decision, "reason": self.reason}
        answer: dict[str, Any] = {"id": self.id, "decision": self.decision, "created": self.created}
        if self.note:
            answer["note"] = self.note
        if self.left_out:
            answer["left_out"] = list(self.left_out)
        return answer


def source_of(integration: Integration) -> str:
    """The source an integration's announcements are recorded under: its format and its id."""
    return f"{integration.format}:{integration.id}"


def relay_alert(
    engine: Engine, owner: Authority, integration: Integration, alert: CapAlert, *, via: str,
    follows: str | None = None,
) -> Relayed:  # fmt: skip
    """A CAP alert (from CAP XML or NINA's JSON) from ``integration``; ``via`` says how it came
    (the sender's address, a poller's URL), for the audit. ``follows``: the source id of the
    message this one replaces when the alert itself does not say so (a poller that sees a listed
    warning change): then it is an update of that message's item."""
    if integration.senders and alert.sender not in integration.senders:
        raise NotRelayed("sender", f"the sender '{alert.sender[:100]}' is not one this integration takes")
    document = dict(alert.document)
    if integration.attribution:
        # The operator names the source; the licence notes the message carries still go with it.
        named = "; ".join(dict.fromkeys([integration.attribution, *alert.notices]))
        document["attribution"] = named if len(named) <= ATTRIBUTION else integration.attribution
    # The message as it came tells a repeat from another message under its id; what it follows
    # is worked out anew each time, and the item may have grown since.
    received = digest(alert.document)
    references, source_id = alert.references, alert.source_id
    if follows and (follows == alert.source_id or not any(r.source_id == follows for r in references)):
        if follows == alert.source_id:
            # The same message id with other content (NINA's hash changed, its "sent" did not): an
            # update of what it said before, under an id of its own.
            source_id = f"{alert.source_id}#{digest(document)[:16]}"
        references = (*references, CapReference(*[*follows.split(",", 2), "", ""][:3]))
        if document.get("msg_type", "alert") == MsgType.alert.value:
            document["msg_type"] = MsgType.update.value
    document, note, supersedes = _follow(engine, owner, integration, references, source_id, document)
    return _relay(engine, owner, integration, document, source_id, note, via, supersedes=supersedes,
                  message_digest=received)  # fmt: skip


# Herold's own words for an all-clear of a warning its warning system no longer lists.
_GONE = {
    "de": ("Entwarnung: {headline}", "{system} führt diese Warnung nicht mehr: sie ist aufgehoben.",
           "Die Warnung gilt nicht mehr."),
    "en": ("All clear: {headline}", "{system} no longer lists this warning: it has been lifted.",
           "The warning no longer applies."),
}  # fmt: skip
_SYSTEM = {"nina": {"de": "Die Warn-App NINA", "en": "The warning app NINA"}}


def relay_gone(engine: Engine, owner: Authority, integration: Integration, source_id: str, *, via: str) -> Relayed:
    """The all-clear of the item the message ``source_id`` went to, now that its warning system
    no longer lists it. Ignored (and recorded so) when nothing of that item went out (what of it
    still waits for approval is sent back: its warning is over), or the item has ended already."""
    source = source_of(integration)
    found = engine.store.announcements.by_source(owner.slug, source, fitted(source_id))
    message = engine.store.announcements.get(found[0]) if found else None
    thread = engine.store.announcements.thread(message.item_id) if message else []
    out = [a for a in thread if a.stage.out]
    waiting = [a.id for a in thread if a.stage in WAITING]
    if not out:
        for announcement_id in waiting:
            reject(engine, announcement_id, "its warning system no longer lists the warning", actor=source,
                   source=integration.format)  # fmt: skip
        return _ignored(engine, owner, integration, source_id, "it ends an item that never went out", via)
    if ended_by(engine, out[-1].item_id, MsgType.cancel):
        return _ignored(engine, owner, integration, source_id, "its item has ended already", via)
    original = out[-1]
    language = original.announcement.language or owner.language
    primary = language.split("-")[0]
    headline, description, instruction = _GONE.get(primary, _GONE["en"])
    system = _SYSTEM.get(integration.format, {}).get(primary) or integration.id
    document = {
        "kind": original.announcement.kind.value, "msg_type": MsgType.cancel.value,
        "status": original.announcement.status.value, "references": original.id, "language": language,
        "headline": _shortened(headline.format(headline=original.announcement.text_in(language).headline)),
        "description": description.format(system=system), "instruction": instruction,
    }  # fmt: skip
    # Its source id: the message it ends, so that the same absence seen twice is one all-clear.
    return _relay(engine, owner, integration, document, f"{source_id}{GONE}", None, via, verbatim=False,
                  supersedes=waiting, message_digest=digest({"gone": source_id}))  # fmt: skip


def relay_document(
    engine: Engine, owner: Authority, integration: Integration, document: dict[str, Any], message_id: str | None,
    *, via: str,
) -> Relayed:  # fmt: skip
    """An announcement (Herold's own JSON) from a control room's software; ``message_id`` makes
    a repeat one announcement."""
    document = dict(document)
    document.pop("authority", None)  # the integration's address names it
    if integration.attribution:
        document["attribution"] = integration.attribution
    return _relay(engine, owner, integration, document, message_id, None, via)


def fitted(source_id: str) -> str:
    """A source id as the database keeps it (200 characters): as it is, or its start and a hash
    of the whole, so that a long id stays one id. Herold's own "#gone" stays at the end: the
    store tells its all-clears from the sender's messages by it."""
    if len(source_id) <= SOURCE_ID_LENGTH:
        return source_id
    suffix = GONE if source_id.endswith(GONE) else ""
    start = source_id[: SOURCE_ID_LENGTH - 41 - len(suffix)]
    return f"{start}#{hashlib.sha256(source_id.encode()).hexdigest()[:40]}{suffix}"


def _shortened(headline: str) -> str:
    """Within the model's headline limit, at a whole word (the original's headline is whole on
    its own item page)."""
    if len(headline) <= HEADLINE:
        return headline
    return headline[: HEADLINE - 1].rsplit(" ", 1)[0] + "…"


def _follow(
    engine: Engine, owner: Authority, integration: Integration, references: tuple[CapReference, ...],
    message: str, document: dict[str, Any],
) -> tuple[dict[str, Any], str | None, list[str]]:  # fmt: skip
    """The document with ``references`` set to the newest message of the item the message
    follows that went out; a note when there is none ("ignore": nothing to publish); and the
    messages of that item still waiting for approval, which it supersedes (sent back once it is
    taken: what the sender replaced or withdrew must not go out later)."""
    if document.get("msg_type", "alert") == MsgType.alert.value:
        return document, None, []
    source = source_of(integration)
    item_id = None
    for reference in reversed(references):  # the newest it names first
        found = engine.store.announcements.by_source(owner.slug, source, fitted(reference.source_id))
        # MoWaS names the earlier message's identifier right and its sender and sent wrong.
        announcement_id = found[0] if found else engine.store.announcements.by_source_identifier(
            owner.slug, source, reference.identifier, sender=reference.sender)  # fmt: skip
        original = engine.store.announcements.get(announcement_id) if announcement_id else None
        if original is not None:
            item_id = original.item_id
            break
    thread = engine.store.announcements.thread(item_id) if item_id else []
    out = [a for a in thread if a.stage.out]
    waiting = [a.id for a in thread if a.stage in WAITING]
    if out:
        document["references"] = out[-1].id
        return document, None, waiting
    if document.get("msg_type") == MsgType.update.value:
        # Nothing of its item ever went out (never received, or never approved): the update is
        # all there is, a new item that says so.
        document["msg_type"] = MsgType.alert.value
        language = str(document.get("language") or owner.language)
        document.setdefault("note", labels_for(language)("update_of_unknown"))
        note = ("an update of an alert that never went out: it replaces it" if thread
                else "an update of an alert Herold never received: published as a new item")  # fmt: skip
        return document, note, waiting
    # An all-clear or withdrawal of nothing that went out: what waits is withdrawn with it.
    for announcement_id in waiting:
        reject(engine, announcement_id, f"the sender followed it with {document.get('msg_type')} {message[:200]}",
               actor=source, source=integration.format)  # fmt: skip
    return document, "ignore", []


def _relay(
    engine: Engine, owner: Authority, integration: Integration, document: dict[str, Any], source_id: str | None,
    note: str | None, via: str, *, verbatim: bool = True, supersedes: Sequence[str] = (),
    message_digest: str | None = None,
) -> Relayed:  # fmt: skip
    source = source_of(integration)
    source_id = fitted(source_id) if source_id is not None else None
    if note == "ignore":
        why = "it ends an item that never went out (or that Herold never had)"
        return _ignored(engine, owner, integration, source_id, why, via)
    if document.get("references"):
        # It follows an item that went out: people saw the warning, so they must see what follows
        # it (an update, the all-clear) at once, on the original's channels. The rules choose
        # which warnings become items; they do not hold back what follows one. Only an
        # integration whose every message waits for a person keeps that for these too.
        decision = "draft" if integration.decision == "draft" else "publish"
        rule, why = FOLLOWS, f"it follows an item that went out; {integration.id} decides {integration.decision}"
    else:
        routing = route(owner, integration, document)
        decision, rule, why = routing.decision, routing.rule, routing.why
        if decision == "ignore":
            return _ignored(engine, owner, integration, source_id, rule, via, why)
        if routing.channels is not None:
            document["channels"] = list(routing.channels)
    document["authority"] = owner.slug
    stage = Stage.released if decision == "publish" else Stage.awaiting_approval
    try:
        accepted = receive(engine, document, source=source, source_id=source_id, actor=source, stage=stage,
                           verbatim=verbatim, drop_unfit=True, message_digest=message_digest)  # fmt: skip
    except SourceConflict:
        raise NotRelayed("conflict", "this message id was used before for a different message") from None
    except InvalidInput as error:
        problems = "; ".join(str(p) for p in error.problems[:5])
        raise NotRelayed("invalid", f"the message cannot become an announcement: {problems[:500]}") from None
    made: Outcome = "published" if stage is Stage.released else "draft"
    if str(document.get("status", "actual")).lower() != "actual":
        made = "stored"  # an exercise, a test: kept and shown, never delivered
    left_out = tuple(w.message.split(" / ", 1)[0] for w in accepted.warnings if w.field == "channels")
    if accepted.created:
        for waiting in supersedes:  # only now: a refused message replaces nothing
            reject(engine, waiting, f"the sender followed it with {document.get('msg_type')} {(source_id or '')[:200]}",
                   actor=source, source=integration.format)  # fmt: skip
        engine.store.audit.append(AuditEntry(
            at=engine.clock(), authority=owner.slug, actor=source, source=integration.format, action="relay.decided",
            announcement_id=accepted.id,
            detail={"integration": integration.id, "decision": made, "rule": rule, "why": why, "via": via[:300],
                    "message": (source_id or "")[:300], **({"note": note} if note else {}),
                    **({"left_out": list(left_out)} if left_out else {})},
        ))  # fmt: skip
    return Relayed(made, accepted.id, accepted.created, note, left_out=left_out)


def _ignored(
    engine: Engine, owner: Authority, integration: Integration, source_id: str | None, rule: str, via: str,
    why: str | None = None,
) -> Relayed:  # fmt: skip
    engine.store.audit.append(AuditEntry(
        at=engine.clock(), authority=owner.slug, actor=source_of(integration), source=integration.format,
        action="relay.decided", detail={"integration": integration.id, "decision": "ignored", "rule": rule,
                                        "why": why or rule, "via": via[:300], "message": (source_id or "")[:300]},
    ))  # fmt: skip
    return Relayed("ignored", reason=why or rule)
