"""Accepting an announcement from any source (the API, the CLI, the web app, warning systems):
check it against its authority, render its variants, store it, hand it to the engine.

Everything is checked before anything is written, and every problem is reported at once. An
accepted announcement is stored with one variant per channel and its operations in a single
transaction, and the engine is told to start; from then on the database carries it. The steps
are named (`validate`, `prepare`, `persist`, `release`) so that every source shares them, and a
preview (publisher.sources.preview) is the same steps without the storing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from adapters.port import ChannelType, Deleting, Editing, HandOff, Threads, able
from publisher.core import capacity
from publisher.core.guard import foreign_links, guard_images, guard_links
from publisher.core.personal import Finding, personal_data, texts_of
from publisher.core.render import DoesNotFit, render
from publisher.domain.announcement import EFFECTIVE, Announcement, Kind, Media, MsgType, Status, parse_announcement
from publisher.domain.authority import Authority, slugify
from publisher.domain.capabilities import Wave
from publisher.domain.limits import LIMITS
from publisher.domain.problems import InvalidInput, Problem
from publisher.domain.records import Action, AuditEntry, PrivacyOverride, Stage, Variant
from publisher.domain.text import printable
from publisher.engine import oncall, tasks
from publisher.engine.engine import Engine
from publisher.engine.media import CleanImage, MediaError, clean
from publisher.engine.media import store as store_image
from publisher.engine.report import SHORT_ID
from publisher.engine.store import NewOperation, SourceIdTaken, StoredAnnouncement, Unreadable
from publisher.site.registry import channel_types
from publisher.sources.files import image_of

log = structlog.get_logger("herold.intake")


def item_path(authority: Authority, headline: str, item_id: str, now: datetime) -> tuple[str, str]:
    """A stable, readable path for a new item, and its month ("YYYY-MM") in local time."""
    local = now.astimezone(ZoneInfo(authority.timezone))
    return f"{local:%Y/%m}/{slugify(headline)}-{item_id[:8]}/", f"{local:%Y-%m}"


@dataclass(frozen=True)
class Accepted:
    """The announcement a message became: new (``created``), or the one the same message from the
    same source became before."""

    id: str
    created: bool
    warnings: tuple[Problem, ...] = ()  # what the writer should look at, though it went out (by field)


@dataclass(frozen=True)
class Prepared:
    """An announcement checked against its authority and rendered for its channels: everything
    to store it, nothing stored yet."""

    announcement: Announcement  # as it will be stored (with what a follow-up keeps, and the channels)
    authority: Authority
    original: StoredAnnouncement | None
    channels: list[str]
    images: list[CleanImage]
    item_id: str
    path: str
    month: str | None  # for a new item
    variants: list[Variant]
    unfit: dict[str, str]  # channel -> why its text cannot be made to fit (a preview shows it)
    # Published although the privacy guard found these: by whom, why (kept in the audit log).
    privacy_override: tuple[PrivacyOverride, tuple[Finding, ...]] | None = None
    # Flagged, not refused (links to other domains than the authority's own; all the privacy guard
    # finds in a text relayed verbatim), by field.
    warnings: tuple[Problem, ...] = ()
    verbatim: bool = False  # a third party's text, relayed as it was sent
    # Paid channels whose monthly budget this warning goes beyond (it goes all the same; on-call
    # hears of it when it is stored).
    over_budget: tuple[str, ...] = ()

    @property
    def link(self) -> str:
        return self.authority.url(self.path)


class SourceConflict(InvalidInput):
    """A source sent a different message under an id it used before."""


def digest(document: Any) -> str:
    """What identifies a message's content, to tell a repeat from a different message."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    # "surrogatepass": a JSON body may escape a lone surrogate ("\ud800"); validation refuses it
    # with a reason, the digest must not fail on it first.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


SOURCE_ID_LENGTH = 200  # as the database stores it


def receive(
    engine: Engine,
    document: Any,
    *,
    source: str,
    actor: str,
    source_id: str | None = None,
    base_dir: Path | None = None,
    stage: Stage = Stage.released,
    privacy_override: PrivacyOverride | None = None,
    verbatim: bool = False,
    drop_unfit: bool = False,
    message_digest: str | None = None,
) -> Accepted:
    """Take one message from a source, in named steps: validate it, resolve its original, choose
    its channels, render its variants (`prepare`), store it (`persist`), and hand it to the engine
    (`release`). The same message from the same source (``source_id``) is one announcement.

    ``stage``: ``released`` publishes it (at its publish_at, if it has one); ``draft`` and
    ``awaiting_approval`` keep it until someone approves it (`approve`). ``base_dir`` is where
    relative image paths are resolved (the directory of a file given to the CLI); without it,
    images must come as base64 ``data``. ``privacy_override``: publish although the privacy guard
    finds personal data, by someone whose role allows it, for a reason (audited with the findings).
    ``verbatim``: a third party's warning relayed as it was sent (a warning system's terms allow
    nothing else): the privacy guard changes and refuses nothing, its findings become warnings.
    ``drop_unfit``: a channel the text cannot be made to fit is left out (named in the warnings)
    instead of refusing the whole message: a warning system's warning must reach the website and
    every channel it fits. ``message_digest``: what tells a repeat of the message from another
    message under the same id, when the document itself is not (a relay resolves what the
    message follows anew each time, and the item may have grown meanwhile); default: the
    document's digest.
    """
    if stage not in {Stage.draft, Stage.awaiting_approval, Stage.released}:
        raise ValueError(f"a new announcement cannot start as {stage.value}")
    if source_id is not None and not (0 < len(source_id) <= SOURCE_ID_LENGTH and source_id.isprintable()):
        message = f"must be 1 to {SOURCE_ID_LENGTH} printable characters"
        raise InvalidInput([Problem(field="source_id", message=message)])
    content = (message_digest or digest(document)) if source_id is not None else None
    if source_id is not None:
        repeated = _repeated(engine, document, source, source_id, content)
        if repeated:
            return repeated
    prepared = prepare(engine, document, base_dir=base_dir, privacy_override=privacy_override, verbatim=verbatim,
                       strict=not drop_unfit)  # fmt: skip
    if prepared.unfit:
        left_out = tuple(Problem(field="channels", message=(
            f"left out channel '{channel}': {why} / Kanal '{channel}' ausgelassen: der Text passt nicht"))
            for channel, why in prepared.unfit.items())  # fmt: skip
        kept = [c for c in prepared.channels if c not in prepared.unfit]
        # The announcement names its channels too: an approval later must not bring one back.
        announcement = prepared.announcement.model_copy(update={"channels": kept})
        prepared = replace(prepared, channels=kept, announcement=announcement,
                           warnings=(*prepared.warnings, *left_out))  # fmt: skip
    try:
        announcement_id = persist(engine, prepared, source=source, actor=actor, stage=stage, source_id=source_id,
                                  source_digest=content)  # fmt: skip
    except SourceIdTaken as taken:  # the same id, accepted meanwhile by another request
        if taken.digest != content:
            raise _conflict(source_id or "", taken.announcement_id) from None
        return Accepted(taken.announcement_id, created=False)
    release(engine, announcement_id)
    _tell_over_budget(engine, prepared, announcement_id)
    return Accepted(announcement_id, created=True, warnings=prepared.warnings)


def _tell_over_budget(engine: Engine, prepared: Prepared, announcement_id: str) -> None:
    """A warning went to a paid channel beyond its monthly budget: on-call hears it, once a month
    per channel (the authority decides whether to raise the budget)."""
    authority = prepared.authority
    month = month_start(engine.clock(), authority.timezone).strftime("%Y-%m")
    for channel_id in prepared.over_budget:
        config = authority.channel(channel_id)
        budget = getattr(config.settings, "monthly_budget_usd", None)
        oncall.raise_alarm(engine, oncall.Alarm(
            authority=authority.slug, cause=f"budget:{authority.slug}/{channel_id}:{month}", channel=channel_id,
            announcement_id=announcement_id,
            subject=f"Herold: {channel_id} – Monatsbudget überschritten / monthly budget exceeded",
            text=(f"Eine Warnung ging an {channel_id}, obwohl das Monatsbudget von ${budget:.2f} für {month} "
                  "aufgebraucht ist. Warnungen gehen weiter hinaus, Nachrichten nicht mehr.\n\n"
                  f"A warning went to {channel_id} beyond its monthly budget of ${budget:.2f} for {month}. "
                  "Warnings still go out there; news does not."),
        ))  # fmt: skip


def accept(
    engine: Engine,
    document: Any,
    *,
    source: str,
    actor: str,
    source_id: str | None = None,
    base_dir: Path | None = None,
) -> str:
    """Validate, store and start publishing one announcement; returns its id (see `receive`)."""
    return receive(engine, document, source=source, actor=actor, source_id=source_id, base_dir=base_dir).id


def _repeated(engine: Engine, document: Any, source: str, source_id: str, content: str | None) -> Accepted | None:
    given = document.get("authority") if isinstance(document, dict) else None
    found = engine.store.announcements.by_source(given, source, source_id) if isinstance(given, str) else None
    if found is None:
        return None
    if found[1] != content:
        raise _conflict(source_id, found[0])
    return Accepted(found[0], created=False)


def _conflict(source_id: str, announcement_id: str) -> SourceConflict:
    return SourceConflict([Problem(field="source_id", message=(
        f"'{printable(source_id[:200])}' was used for a different message (announcement {announcement_id}); "
        "send a new id for a new message"))])  # fmt: skip


# -- the steps ----------------------------------------------------------------------------------


def validate(
    engine: Engine,
    document: Any,
    *,
    base_dir: Path | None,
    problems: list[Problem],
    privacy_override: PrivacyOverride | None = None,
    overridden: list[Finding] | None = None,
    verbatim: list[Problem] | None = None,
) -> tuple[Announcement, Authority, list[CleanImage]] | None:
    """The document by itself and against its authority, and its images (cleaned, not stored).
    With ``verbatim`` (a list), the link and image rules change and refuse nothing: what they find
    goes into that list."""
    try:
        announcement: Announcement | None = parse_announcement(document)
    except InvalidInput as error:
        announcement = None
        problems += error.problems
    if announcement is not None:
        # No tracking parameters in any link, no link through a shortener (publisher.core.guard).
        cleaned, refused = guard_links(announcement)
        found = refused + guard_images(cleaned)
        if verbatim is None:
            announcement = cleaned
            problems += found
        else:
            if cleaned != announcement:
                verbatim.append(Problem(field="", message=(
                    "links carry tracking parameters, left as sent / "
                    "Links enthalten Tracking-Parameter, unverändert weitergegeben"
                )))  # fmt: skip
            verbatim += found
    given = (
        announcement.authority if announcement else (document.get("authority") if isinstance(document, dict) else None)
    )
    slug = given if isinstance(given, str) else ""
    try:
        authority = engine.authority(slug) if slug else None
    except KeyError:
        known = ", ".join(a.slug for a in engine.authorities)
        problems.append(
            Problem(field="authority", message=f"'{printable(slug[:64])}' is not configured here (configured: {known})")
        )
        authority = None
    if announcement is None or authority is None:
        return None
    problems += _times(announcement, engine.clock())
    images: list[CleanImage] = []
    for number, item in enumerate(announcement.media):
        try:
            images.append(clean(image_of(item, base_dir), item.alt))
        except MediaError as error:
            problems.append(Problem(field=f"media.{number}", message=str(error)))
    return announcement, authority, images


def _private(
    announcement: Announcement, authority: Authority, override: PrivacyOverride | None, overridden: list[Finding] | None
) -> list[Problem]:
    """Personal data about private persons (publisher.core.personal), refused by field unless the
    authority lists it as an official contact, or someone whose role allows it overrides the
    guard with a reason (the findings then go into ``overridden``, for the audit log)."""
    found = personal_data(texts_of(announcement), authority.official_contacts)
    if override is not None and not (len(override.reason.strip()) >= 10 and override.reason.isprintable()):
        return [Problem(field="privacy_override", message="give the reason in at least 10 characters, on one line")]
    if not found:
        return []
    if override is not None and override.role.may_override_privacy:
        if overridden is not None:
            overridden.extend(found)
        return []
    problems = [Problem(field=f.field, message=f"{f.message_en} / {f.message_de}") for f in found]
    if override is not None:
        problems.append(Problem(field="privacy_override", message=(
            f"only an approver or an admin may publish personal data; this caller is an {override.role.value}"
        )))  # fmt: skip
    return problems


def prepare(
    engine: Engine,
    document: Any,
    *,
    base_dir: Path | None = None,
    strict: bool = True,
    privacy_override: PrivacyOverride | None = None,
    verbatim: bool = False,
) -> Prepared:
    """Validate → resolve the original → choose the channels → render: everything but storing.
    Raises InvalidInput with every problem at once. ``strict=False`` (a preview) lets a channel
    whose text cannot fit be named in ``unfit`` instead."""
    now = engine.clock()
    problems: list[Problem] = []
    overridden: list[Finding] = []
    noted: list[Problem] | None = [] if verbatim else None  # what the guard found in a text relayed as sent
    checked = validate(engine, document, base_dir=base_dir, problems=problems, privacy_override=privacy_override,
                       overridden=overridden, verbatim=noted)  # fmt: skip
    if checked is None:
        raise InvalidInput(problems)
    announcement, authority, images = checked
    original = _original(engine, announcement, authority, problems)
    if original is not None and announcement.references != original.id:
        announcement = announcement.model_copy(update={"references": original.id})  # a short id, written out
    channels = _channels(announcement, authority, original, problems)
    if problems:
        raise InvalidInput(problems)
    channels, skipped, over_budget = _within_budget(engine, announcement, authority, channels, now)
    announcement = _effective(announcement, authority, original, channels, images, now)
    # Checked as it will go out: with what a follow-up keeps of its original (a contact, an area).
    if noted is None:
        problems += _private(announcement, authority, privacy_override, overridden)
    else:
        noted += [Problem(field=f.field, message=f"{f.message_en} / {f.message_de}")
                  for f in personal_data(texts_of(announcement), authority.official_contacts)]  # fmt: skip
    month: str | None = None
    if original is None:
        item_id = str(uuid.uuid4())
        path, month = item_path(authority, announcement.headline, item_id, now)
    else:
        item_id, path = original.item_id, original.item_path
    problems += what_channels_take(authority, channels, images)
    # A correction edits the copies in place: where they are photos, the text is their caption.
    beside_media = bool(announcement.correction and original is not None and original.announcement.media)
    variants, unfit = render_variants(engine, announcement, authority, channels, authority.url(path), problems,
                                      beside_media=beside_media)  # fmt: skip
    if problems or (unfit and strict):
        raise InvalidInput([*problems, *(Problem(
            field="instruction" if announcement.instruction else "headline",
            message=f"{why}; shorten it, or leave channel '{channel}' out (channels)",
        ) for channel, why in unfit.items())])  # fmt: skip
    override = (privacy_override, tuple(overridden)) if privacy_override and overridden else None
    return Prepared(announcement=announcement, authority=authority, original=original, channels=channels,
                    images=images, item_id=item_id, path=path, month=month, variants=variants, unfit=unfit,
                    privacy_override=override,
                    warnings=(*(noted or ()), *foreign_links(announcement, authority.own_domains), *skipped),
                    verbatim=verbatim, over_budget=over_budget)  # fmt: skip


def month_start(moment: datetime, timezone: str) -> datetime:
    """The first moment of ``moment``'s calendar month in the authority's time zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def cost_of(kind: type[ChannelType]) -> float | None:
    """What one post on a paid channel costs (every Herold post links its item page)."""
    price = kind.capabilities.price
    return price.of(has_link=True) if price else None


def _within_budget(
    engine: Engine, announcement: Announcement, authority: Authority, channels: list[str], now: datetime
) -> tuple[list[str], list[Problem], tuple[str, ...]]:
    """The channels whose monthly budget allows one more post; news skips the others (a warning
    about it, bilingual as the other channel notes), a warning goes all the same (named, so
    on-call hears of it)."""
    kept: list[str] = []
    skipped: list[Problem] = []
    over: list[str] = []
    types = channel_types()
    for channel_id in channels:
        config = authority.channel(channel_id)
        kind = types[config.type]
        budget = getattr(config.settings, "monthly_budget_usd", None)
        cost = cost_of(kind)
        if budget is None or cost is None:
            kept.append(channel_id)
            continue
        spent = engine.store.operations.posts_since(authority.slug, channel_id, month_start(now, authority.timezone))
        if (spent + 1) * cost <= budget + 1e-9:
            kept.append(channel_id)
        elif announcement.kind is Kind.warning:
            kept.append(channel_id)
            over.append(channel_id)
        else:
            skipped.append(Problem(field="channels", message=(
                f"left out channel '{channel_id}': its monthly budget of ${budget:.2f} is spent "
                f"({spent} posts at ${cost:.3f}) / Kanal '{channel_id}' ausgelassen: das Monatsbudget ist "
                "aufgebraucht")))  # fmt: skip
    return kept, skipped, tuple(over)


def what_channels_take(authority: Authority, channels: list[str], images: list[CleanImage]) -> list[Problem]:
    """The images against what each chosen channel takes (count, types, size, alt text, whether
    it needs one at all), as its capabilities declare: refused now, not by the platform later."""
    types = channel_types()
    sent = [capacity.Image(size=len(image.data), suffix=image.suffix, alt=image.alt) for image in images]
    found: list[Problem] = []
    for channel_id in channels:
        kind = types[authority.channel(channel_id).type]
        for refusal in capacity.refusals(kind.capabilities.media, kind.label, sent):
            found.append(Problem(field=refusal.field, message=f"{refusal.message} (channel '{channel_id}')"))
    return found


def render_variants(
    engine: Engine,
    announcement: Announcement,
    authority: Authority,
    channels: list[str],
    link: str,
    problems: list[Problem],
    *,
    beside_media: bool = False,
) -> tuple[list[Variant], dict[str, str]]:
    """Each channel's variant, counted as its platform counts, within the limit the channel's
    server announced as the engine last heard it: never asked here, so a platform that does not
    answer can never slow the press office down. Returns the variants and, by channel, why a
    text cannot be made to fit."""
    limits = engine.store.limits.of(authority.slug)
    types = channel_types()
    variants: list[Variant] = []
    unfit: dict[str, str] = {}
    for number, channel_id in enumerate(channels):
        config = authority.channel(channel_id)
        kind = types[config.type]
        try:
            variants.append(render(
                announcement, channel=channel_id, template=kind.capabilities.template, link=link,
                rule=kind.text_rule(config.settings, limits.get(channel_id)),
                spoiler=kind.spoiler(config.settings, announcement), timezone=authority.timezone,
                beside_media=beside_media,
            ))  # fmt: skip
        except DoesNotFit as error:
            unfit[channel_id] = str(error)
        except Exception as error:  # a broken template is the operator's problem, reported plainly
            log.exception("template failed", channel=channel_id)
            problems.append(Problem(field=f"channels.{number}", message=f"its template failed: {error}"))
    return variants, unfit


def persist(
    engine: Engine,
    prepared: Prepared,
    *,
    source: str,
    actor: str,
    stage: Stage = Stage.released,
    source_id: str | None = None,
    source_digest: str | None = None,
) -> str:
    """Store the announcement with its variants, and its operations if it goes out now (or at its
    publish_at): all or nothing. One that is not actual (an exercise, a test) is stored and never
    gets an operation. Returns its id."""
    now = engine.clock()
    announcement, authority = prepared.announcement, prepared.authority
    announcement_id = prepared.item_id if prepared.original is None else str(uuid.uuid4())
    for image in prepared.images:
        store_image(image, engine.runtime.data_dir)
    if stage is Stage.released and announcement.publish_at and announcement.publish_at > now:
        stage = Stage.scheduled
    goes_out = stage in {Stage.released, Stage.scheduled} and announcement.status is Status.actual
    operations = (
        _operations(engine, announcement, authority, prepared.channels, prepared.original, now) if goes_out else []
    )
    engine.store.announcements.add(
        announcement_id=announcement_id, item_id=prepared.item_id,
        item_path=prepared.path if prepared.original is None else None, item_month=prepared.month,
        announcement=announcement, source=source, actor=actor, now=now, variants=prepared.variants,
        operations=operations, stage=stage, source_id=source_id, source_digest=source_digest,
        audit_entry=AuditEntry(
            at=now, authority=authority.slug, actor=actor, source=source, action="announcement.accepted",
            announcement_id=announcement_id,
            detail={
                "kind": announcement.kind.value, "msg_type": announcement.msg_type.value,
                "status": announcement.status.value, "stage": stage.value, "source_id": source_id,
                "references": announcement.references, "headline": announcement.headline,
                "channels": prepared.channels, "url": prepared.link,
                "shortened": {v.channel: list(v.shortened) for v in prepared.variants if v.shortened},
                **_override_detail(prepared),
                **({"warnings": [w.model_dump() for w in prepared.warnings]} if prepared.warnings else {}),
                **({"verbatim": True} if prepared.verbatim else {}),
            },
        ),
    )  # fmt: skip
    log.info("announcement accepted", announcement=announcement_id, authority=authority.slug,
             kind=announcement.kind.value, msg_type=announcement.msg_type.value, status=announcement.status.value,
             stage=stage.value, url=prepared.link)  # fmt: skip
    return announcement_id


def _override_detail(prepared: Prepared) -> dict[str, Any]:
    if prepared.privacy_override is None:
        return {}
    override, findings = prepared.privacy_override
    return {"privacy_override": {
        "reason": override.reason, "role": override.role.value,
        "findings": [{"field": f.field, "kind": f.kind, "excerpt": f.excerpt} for f in findings],
    }}  # fmt: skip


def release(engine: Engine, announcement_id: str) -> None:
    """Release the first wave right here: the website delivery starts without a trip through the
    queue. If this fails, the announcement is stored and the sweep releases it."""
    try:
        tasks.advance(engine, announcement_id)
    except Exception:
        log.exception("releasing the first wave failed; the sweep will", announcement=announcement_id)


# -- before delivery: drafts and approval ---------------------------------------------------------


def submit(engine: Engine, announcement_id: str, *, actor: str, source: str) -> list[str]:
    """A draft is ready: it now waits for approval. Returns problems; empty when done."""
    stored = _stored(engine, announcement_id)
    if isinstance(stored, str):
        return [stored]
    if stored.stage is not Stage.draft:
        return [f"the announcement is {stored.stage.label}, not a draft"]
    entry = _stage_entry(engine, stored, "announcement.submitted", actor, source, Stage.awaiting_approval)
    if not engine.store.announcements.change_stage(stored, [Stage.draft], Stage.awaiting_approval, entry,
                                                   now=engine.clock()):  # fmt: skip
        return ["the announcement changed meanwhile; look at its status again"]
    return []


def approve(engine: Engine, announcement_id: str, *, actor: str, source: str) -> list[str]:
    """Let a draft, or one awaiting approval, go out: now, or at its publish_at. Its operations
    are created with the change, in one transaction. Returns problems; empty when done."""
    stored = _waiting(engine, announcement_id, "approved")
    if isinstance(stored, str):
        return [stored]
    announcement, now = stored.announcement, engine.clock()
    if announcement.status is not Status.actual:
        return [f"the announcement is marked {announcement.status.value}: it is never published"]
    if (
        announcement.expires
        and announcement.expires <= now
        and announcement.msg_type in {MsgType.alert, MsgType.update}
    ):
        return ["it expired while it waited; write it again with a new expires"]
    original = None
    if announcement.references:
        try:
            original = engine.store.announcements.get(announcement.references)
        except Unreadable as error:
            return [str(error)]
        # Checked again: while it waited, the item may have been withdrawn or given its all-clear.
        ended = ended_by(engine, original.item_id, announcement.msg_type) if original else None
        if ended:
            return [ended[1]]
    authority = engine.authority(stored.authority)
    channels = [c for c in announcement.channels or [] if c in {config.id for config in authority.channels}]
    operations = _operations(engine, announcement, authority, channels, original, now)
    stage = Stage.scheduled if announcement.publish_at and announcement.publish_at > now else Stage.released
    entry = _stage_entry(engine, stored, "announcement.approved", actor, source, stage)
    if not engine.store.announcements.change_stage(stored, WAITING, stage, entry, operations=operations, now=now):
        return ["the announcement changed meanwhile; look at its status again"]
    release(engine, stored.id)
    return []


def reject(engine: Engine, announcement_id: str, reason: str, *, actor: str, source: str) -> list[str]:
    """Send a draft, or one awaiting approval, back: it is never published and stays, with the
    reason, for the record. Returns problems; empty when done."""
    stored = _waiting(engine, announcement_id, "sent back")
    if isinstance(stored, str):
        return [stored]
    entry = _stage_entry(engine, stored, "announcement.rejected", actor, source, Stage.rejected, reason=reason)
    if not engine.store.announcements.change_stage(stored, WAITING, Stage.rejected, entry, now=engine.clock()):
        return ["the announcement changed meanwhile; look at its status again"]
    return []


WAITING = (Stage.draft, Stage.awaiting_approval)


def _waiting(engine: Engine, announcement_id: str, done: str) -> StoredAnnouncement | str:
    """The announcement, if it waits for a person's decision; else why it cannot be ``done``."""
    stored = _stored(engine, announcement_id)
    if isinstance(stored, str) or stored.stage in WAITING:
        return stored
    return f"the announcement is {stored.stage.label} already; only a draft or one awaiting approval is {done}"


def _stored(engine: Engine, announcement_id: str) -> StoredAnnouncement | str:
    try:
        stored = engine.store.announcements.get(announcement_id)
    except Unreadable as error:
        return str(error)
    return stored if stored is not None else f"no announcement {announcement_id}"


def _stage_entry(
    engine: Engine, stored: StoredAnnouncement, action: str, actor: str, source: str, stage: Stage, **detail: str
) -> AuditEntry:
    return AuditEntry(at=engine.clock(), authority=stored.authority, actor=actor, source=source, action=action,
                      announcement_id=stored.id,
                      detail={"from": stored.stage.value, "to": stage.value, **detail})  # fmt: skip


def _operations(
    engine: Engine,
    announcement: Announcement,
    authority: Authority,
    channels: list[str],
    original: StoredAnnouncement | None,
    now: datetime,
) -> list[NewOperation]:
    """What is to be done on each channel: publish (a follow-up replies where the channel has
    threads, or is handed to a person where it has no posting API); a correction edits the copy
    it corrects where the channel edits; a withdrawal also edits (marks) or deletes every earlier
    post of the thread where the channel can. The newest state of a warning is the pinned one:
    an alert is pinned, an update takes the pin over, and the all-clear or a withdrawal unpins."""
    start = announcement.publish_at or now
    deadline = start + engine.deadline(announcement.kind)
    types = channel_types()
    msg_type = announcement.msg_type
    ending = original is not None and msg_type in {MsgType.cancel, MsgType.error}
    moving = original is not None and announcement.kind is Kind.warning and msg_type is MsgType.update
    undo = engine.store.operations.pins_to_undo(original.item_id) if original is not None and (ending or moving) else []
    posts = engine.store.operations.posts_of(original.item_id) if original is not None else []
    operations = []

    def add(channel_id: str, kind: type[ChannelType], action: Action, target: str = "") -> NewOperation:
        operation = NewOperation(str(uuid.uuid4()), channel_id, kind.type, action, int(kind.capabilities.wave),
                                 deadline, start, target_id=target)  # fmt: skip
        operations.append(operation)
        return operation

    for channel_id in channels:
        config = authority.channel(channel_id)
        kind = types[config.type]
        mine = [p for p in posts if p.channel == channel_id]
        corrected = [p for p in mine if announcement.correction and p.announcement_id == announcement.references]
        if corrected and able(kind, Editing):
            add(channel_id, kind, Action.edit, corrected[-1].id)  # in place: no new post
            continue
        if able(kind, HandOff):
            action = Action.hand_off
        elif announcement.is_follow_up and able(kind, Threads):
            action = Action.reply
        else:
            action = Action.publish
        publish = add(channel_id, kind, action)
        if msg_type is MsgType.error:
            # A channel may say what a withdrawal does to the earlier posts (on_withdrawal); one
            # that says nothing deletes them where it can, and marks them by an edit otherwise.
            withdrawal = getattr(config.settings, "on_withdrawal", "delete" if able(kind, Deleting) else "edit")
            if withdrawal == "delete" and able(kind, Deleting):
                for post in mine:
                    add(channel_id, kind, Action.delete, post.id)
            elif able(kind, Editing):
                for post in mine:
                    add(channel_id, kind, Action.edit, post.id)
        pins = kind.pins(config.settings)
        if announcement.kind is Kind.warning and msg_type in {MsgType.alert, MsgType.update} and pins:
            add(channel_id, kind, Action.pin, publish.id)
        for pin in (p for p in undo if p.channel == channel_id):
            add(channel_id, kind, Action.unpin, pin.id)
    return operations


def _times(announcement: Announcement, now: datetime) -> list[Problem]:
    problems = []
    current = announcement.msg_type in {MsgType.alert, MsgType.update}
    if announcement.expires and announcement.expires <= now and current:
        problems.append(Problem(field="expires", message="is already in the past"))
    if announcement.publish_at and announcement.publish_at < now and announcement.msg_type is MsgType.alert:
        problems.append(Problem(field="publish_at", message="is in the past; leave it out to publish now"))
    if announcement.publish_at and announcement.publish_at > now + timedelta(days=LIMITS.schedule_days):
        problems.append(
            Problem(field="publish_at", message=f"lies more than {LIMITS.schedule_days} days ahead; Herold schedules "
                    "at most that far")
        )  # fmt: skip
    return problems


def _effective(
    announcement: Announcement,
    authority: Authority,
    original: StoredAnnouncement | None,
    channels: list[str],
    images: list[CleanImage],
    now: datetime,
) -> Announcement:
    """The announcement as it will be stored: with what a follow-up keeps from its original, the
    default language, the chosen channels and the cleaned images. Checked again as a whole, as
    every reader will read it: a rule that holds for what was sent may fail for what is kept
    (an update's new effective after the expires it keeps)."""
    kept = _inherited(announcement, original, now)
    defaulted = {} if announcement.language else {"language": authority.language}
    candidate = announcement.model_copy(
        update={
            **kept,
            **defaulted,
            "channels": channels,
            # Until stored, the variants only need to know that (and which) images exist.
            "media": [Media(path=f"media/{image.name}", alt=image.alt) for image in images],
        }
    )
    problems = []
    try:
        effective = parse_announcement(candidate.model_dump(mode="json", exclude_none=True), EFFECTIVE)
    except InvalidInput as error:
        problems = [_explained(problem, kept, defaulted) for problem in error.problems]
    else:
        expires = kept.get("expires")
        if expires is not None and expires <= now:
            problems.append(
                Problem(field="expires", message=f"this update keeps expires {expires.isoformat()} from the "
                        "announcement it refers to, which has passed; give a new expires")
            )  # fmt: skip
    if problems:
        raise InvalidInput(problems)
    return effective


# The fields each rule between fields looks at, to explain a problem with one that was not sent.
_RULE_FIELDS = {"expires": ("expires", "effective"), "translations": ("language",)}


def _explained(problem: Problem, kept: dict[str, Any], defaulted: dict[str, Any]) -> Problem:
    root = problem.field.split(".")[0]
    notes = []
    for name in dict.fromkeys((root, *_RULE_FIELDS.get(root, ()))):
        if name in kept:
            value = kept[name].isoformat() if isinstance(kept[name], datetime) else kept[name]
            notes.append(f"{name} {value} is kept from the announcement it refers to; give {name} to change it")
        elif name in defaulted:
            notes.append(f"without {name}, it is the authority's first language, {defaulted[name]}")
    return Problem(field=problem.field, message="; ".join([problem.message, *notes])) if notes else problem


INHERITED = ("status", "category", "event", "severity", "urgency", "certainty", "area", "contact", "expires")


def _inherited(announcement: Announcement, original: StoredAnnouncement | None, now: datetime) -> dict[str, Any]:
    """What a follow-up leaves out, it keeps from its original (an update also keeps the instruction;
    an all-clear or a withdrawal must not repeat it)."""
    if original is None:
        return {}
    names = INHERITED + (("instruction",) if announcement.msg_type is MsgType.update else ())
    values = {
        name: getattr(original.announcement, name)
        for name in names
        if name not in announcement.model_fields_set and getattr(original.announcement, name) is not None
    }
    if announcement.msg_type is not MsgType.update:
        values.pop("expires", None)
    scheduled = original.announcement.publish_at
    if scheduled and scheduled > now and "publish_at" not in announcement.model_fields_set:
        values["publish_at"] = scheduled  # a follow-up cannot come out before what it follows
    return values


def _original(
    engine: Engine, announcement: Announcement, authority: Authority, problems: list[Problem]
) -> StoredAnnouncement | None:
    """The announcement a follow-up refers to, checked."""
    if not announcement.references:
        return None
    referenced = announcement.references
    if SHORT_ID <= len(referenced) < 36:  # a short id, as `herold list` shows: if it fits exactly one
        found = engine.store.announcements.resolve(referenced, authority.slug)
        referenced = found[0] if len(found) == 1 else referenced
    try:
        original = engine.store.announcements.get(referenced)
    except Unreadable as error:
        problems.append(
            Problem(field="references", message=f"refers to an announcement Herold cannot read ({error.reason}); "
                    "publish a new announcement instead")
        )  # fmt: skip
        return None
    if original is None or original.authority != authority.slug:
        problems.append(
            Problem(
                field="references",
                message=f"no announcement '{announcement.references}' of authority '{authority.slug}' exists",
            )
        )
        return None
    if original.stage in {Stage.draft, Stage.awaiting_approval}:
        # It would go out before the message it follows, or without it.
        problems.append(Problem(field="references", message=(
            f"refers to an announcement that is still {original.stage.value.replace('_', ' ')}: "
            "approve it first, or change it instead of following it up")))  # fmt: skip
    elif original.stage is Stage.rejected:
        problems.append(Problem(field="references", message=(
            "refers to an announcement that was sent back and never published: write a new one")))  # fmt: skip
    if "status" in announcement.model_fields_set and original.announcement.status is not announcement.status:
        problems.append(Problem(field="status", message=(
            f"must be {original.announcement.status.value}, like the announcement it refers to")))  # fmt: skip
    if original.announcement.kind is not announcement.kind:
        problems.append(
            Problem(
                field="kind",
                message=f"must be {original.announcement.kind.value}, like the announcement it refers to",
            )
        )
    ended = ended_by(engine, original.item_id, announcement.msg_type)
    if ended:
        problems.append(Problem(field=ended[0], message=ended[1]))
    return original


def ended_by(engine: Engine, item_id: str, msg_type: MsgType) -> tuple[str, str] | None:
    """Why a follow-up of ``msg_type`` can no longer follow the item (field, message); None if it
    can. Only what is out (or scheduled) counts: a follow-up still waiting for approval, or sent
    back, ends nothing."""
    thread = [a for a in engine.store.announcements.thread(item_id) if a.stage.out]
    if any(a.announcement.msg_type is MsgType.error for a in thread):
        return "references", "refers to an item that was withdrawn; publish a new announcement instead"
    if msg_type is MsgType.cancel and any(a.announcement.msg_type is MsgType.cancel for a in thread):
        # People who saw the all-clear must not get a second one, as if something had happened again.
        return (
            "msg_type",
            "this item has had its all-clear already; a second one is not sent (an update can still follow)",
        )
    return None


def _channels(
    announcement: Announcement, authority: Authority, original: StoredAnnouncement | None, problems: list[Problem]
) -> list[str]:
    """The channels to publish on: as asked, or all (a follow-up: those of its original), and
    always the authority's own website, which no announcement may skip."""
    configured = [c.id for c in authority.channels]
    if announcement.channels is not None:
        asked = announcement.channels
    elif original is not None and original.announcement.channels:
        asked = [c for c in original.announcement.channels if c in configured]
    else:
        asked = configured
    for number, channel_id in enumerate(asked):
        if channel_id not in configured:
            problems.append(
                Problem(
                    field=f"channels.{number}",
                    message=f"authority '{authority.slug}' has no channel '{channel_id}' "
                    f"(it has: {', '.join(configured)})",
                )
            )
    types = channel_types()
    own_website = [c.id for c in authority.channels if types[c.type].capabilities.wave is Wave.website]
    chosen = [c for c in configured if c in asked or c in own_website]
    return chosen
