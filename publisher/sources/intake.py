"""Accepting an announcement: check it against its authority, render its variants, store it.

Everything is checked before anything is written, and every problem is reported at once. An
accepted announcement is stored with one variant and one delivery per channel in a single
transaction, and the engine is told to start; from then on the database carries it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from adapters.port import HandOff, Threads
from publisher.core.render import DoesNotFit, render
from publisher.domain.announcement import EFFECTIVE, Announcement, Kind, Media, MsgType, parse_announcement
from publisher.domain.authority import Authority, slugify
from publisher.domain.capabilities import Wave
from publisher.domain.limits import LIMITS
from publisher.domain.problems import InvalidInput, Problem
from publisher.domain.records import Action, AuditEntry, Variant
from publisher.domain.text import printable
from publisher.engine import tasks
from publisher.engine.engine import Engine
from publisher.engine.media import CleanImage, MediaError, clean
from publisher.engine.media import store as store_image
from publisher.engine.store import NewOperation, StoredAnnouncement, Unreadable
from publisher.site.registry import channel_types
from publisher.sources.files import image_of

log = structlog.get_logger("herold.intake")


def item_path(authority: Authority, headline: str, item_id: str, now: datetime) -> tuple[str, str]:
    """A stable, readable path for a new item, and its month ("YYYY-MM") in local time."""
    local = now.astimezone(ZoneInfo(authority.timezone))
    return f"{local:%Y/%m}/{slugify(headline)}-{item_id[:8]}/", f"{local:%Y-%m}"


def accept(
    engine: Engine,
    document: Any,
    *,
    source: str,
    actor: str,
    base_dir: Path | None = None,
) -> str:
    """Validate, store and start publishing one announcement; returns its id.

    ``base_dir`` is where relative image paths are resolved (the directory of a file given to
    the CLI); without it, images must come as base64 ``data``.
    """
    now = engine.clock()
    problems: list[Problem] = []
    try:
        announcement: Announcement | None = parse_announcement(document)
    except InvalidInput as error:
        announcement, problems = None, error.problems

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
        raise InvalidInput(problems)

    original = _original(engine, announcement, authority, problems)
    channels = _channels(announcement, authority, original, problems)
    problems += _times(announcement, now)
    images: list[CleanImage] = []
    for number, item in enumerate(announcement.media):
        try:
            images.append(clean(image_of(item, base_dir), item.alt))
        except MediaError as error:
            problems.append(Problem(field=f"media.{number}", message=str(error)))
    if problems:
        raise InvalidInput(problems)

    announcement = _effective(announcement, authority, original, channels, images, now)
    announcement_id = str(uuid.uuid4())
    month: str | None = None
    if original is None:
        item_id = announcement_id
        path, month = item_path(authority, announcement.headline, item_id, now)
    else:
        item_id, path = original.item_id, original.item_path
    link = authority.url(path)

    # What servers announced of their limits, as the engine last heard it: never asked here, so a
    # platform that does not answer can never slow the press office down.
    limits = engine.store.limits.of(authority.slug)
    types = channel_types()
    variants: list[Variant] = []
    for number, channel_id in enumerate(channels):
        config = authority.channel(channel_id)
        kind = types[config.type]
        try:
            variant = render(
                announcement,
                channel=channel_id,
                template=kind.capabilities.template,
                link=link,
                rule=kind.text_rule(config.settings, limits.get(channel_id)),
                spoiler=kind.spoiler(config.settings, announcement),
                timezone=authority.timezone,
            )
        except DoesNotFit as error:
            problems.append(
                Problem(
                    field="instruction" if announcement.instruction else "headline",
                    message=f"{error}; shorten it, or leave channel '{channel_id}' out (channels)",
                )
            )
            continue
        except Exception as error:  # a broken template is the operator's problem, reported plainly
            log.exception("template failed", channel=channel_id)
            problems.append(Problem(field=f"channels.{number}", message=f"its template failed: {error}"))
            continue
        variants.append(variant)
    if problems:
        raise InvalidInput(problems)

    for image in images:
        store_image(image, engine.runtime.data_dir)
    operations = _operations(engine, announcement, authority, channels, original, now)
    engine.store.announcements.add(
        announcement_id=announcement_id,
        item_id=item_id,
        item_path=path if original is None else None,
        item_month=month,
        announcement=announcement,
        source=source,
        actor=actor,
        now=now,
        variants=variants,
        operations=operations,
        audit_entry=AuditEntry(
            at=now,
            authority=authority.slug,
            actor=actor,
            source=source,
            action="announcement.accepted",
            announcement_id=announcement_id,
            detail={
                "kind": announcement.kind.value,
                "msg_type": announcement.msg_type.value,
                "references": announcement.references,
                "headline": announcement.headline,
                "channels": channels,
                "url": link,
                "shortened": {v.channel: list(v.shortened) for v in variants if v.shortened},
            },
        ),
    )
    log.info(
        "announcement accepted",
        announcement=announcement_id,
        authority=authority.slug,
        kind=announcement.kind.value,
        msg_type=announcement.msg_type.value,
        url=link,
    )
    # Release the first wave right here: the website delivery starts without a trip through the
    # queue. If this fails, the announcement is stored and the sweep releases it.
    try:
        tasks.advance(engine, announcement_id)
    except Exception:
        log.exception("releasing the first wave failed; the sweep will", announcement=announcement_id)
    return announcement_id


def _operations(
    engine: Engine,
    announcement: Announcement,
    authority: Authority,
    channels: list[str],
    original: StoredAnnouncement | None,
    now: datetime,
) -> list[NewOperation]:
    """What is to be done on each channel: publish (a follow-up replies where the channel has
    threads, or is handed to a person where it has no posting API); pin an active warning where
    the channel pins; unpin what the item pinned when the all-clear or a withdrawal comes."""
    start = announcement.publish_at or now
    deadline = start + engine.deadline(announcement.kind)
    types = channel_types()
    undo = (
        engine.store.operations.pins_to_undo(original.item_id)
        if original is not None and announcement.msg_type in {MsgType.cancel, MsgType.error}
        else []
    )
    operations = []
    for channel_id in channels:
        config = authority.channel(channel_id)
        kind = types[config.type]
        wave = int(kind.capabilities.wave)
        if issubclass(kind, HandOff):
            action = Action.hand_off
        elif announcement.is_follow_up and issubclass(kind, Threads):
            action = Action.reply
        else:
            action = Action.publish
        publish = NewOperation(str(uuid.uuid4()), channel_id, kind.type, action, wave, deadline, start)
        operations.append(publish)
        if announcement.kind is Kind.warning and announcement.msg_type is MsgType.alert and kind.pins(config.settings):
            operations.append(NewOperation(str(uuid.uuid4()), channel_id, kind.type, Action.pin, wave, deadline, start,
                                           target_id=publish.id))  # fmt: skip
        for pin in (p for p in undo if p.channel == channel_id):
            operations.append(NewOperation(str(uuid.uuid4()), channel_id, kind.type, Action.unpin, wave, deadline,
                                           start, target_id=pin.id))  # fmt: skip
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


INHERITED = ("category", "event", "severity", "urgency", "certainty", "area", "contact", "expires")


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
    try:
        original = engine.store.announcements.get(announcement.references)
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
    if original.announcement.kind is not announcement.kind:
        problems.append(
            Problem(
                field="kind",
                message=f"must be {original.announcement.kind.value}, like the announcement it refers to",
            )
        )
    withdrawn = [
        a for a in engine.store.announcements.thread(original.item_id) if a.announcement.msg_type is MsgType.error
    ]
    if withdrawn:
        problems.append(
            Problem(
                field="references",
                message="refers to an item that was withdrawn; publish a new announcement instead",
            )
        )
    return original


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
