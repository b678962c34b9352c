"""The form's fields, named by the announcement's field paths (``headline``, ``area.description``,
``media.0.alt`` …), so that the form, the API and integrations speak one vocabulary.

A form draft keeps what was typed, as typed: strings, the ``channels`` ticked, and the image's alt
text (the uploaded image itself is kept beside the fields). ``document_of`` turns it into an
announcement document (times typed in the authority's time zone become ISO 8601 with their
offset); ``fields_of`` does the reverse for a follow-up, pre-filled from the announcement's
current state.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from publisher.domain.announcement import Announcement, MsgType
from publisher.domain.problems import Problem
from publisher.domain.text import N_

# Text inputs, in the form's order; each is an announcement field path.
TEXTS = ("headline", "description", "instruction", "event", "area.description", "contact", "language")
CHOICES = ("kind", "category", "severity", "urgency", "certainty")
TIMES = ("effective", "expires", "publish_at")
# Set when the form starts (a follow-up), never by a post. ``attribution``: a follow-up of a relayed
# warning starts from the third party's text, so it names that source as the original did.
HIDDEN = ("msg_type", "references", "correction", "attribution")
KNOWN = frozenset((*TEXTS, *CHOICES, *TIMES, *HIDDEN, "hashtags", "channels", "media.0.alt", "privacy_override"))
LOCAL_TIME = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def typed(form: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    """The draft's fields after a form was sent: every known text as typed (also what is wrong),
    the channels ticked, and the image kept unless a new one came. ``kept`` is the draft before."""
    # A field the form did not show (an all-clear has no instruction) keeps what it had.
    fields: dict[str, Any] = {name: value for name, value in kept.items() if name in KNOWN}
    # NUL is the one character the database cannot keep (PostgreSQL's JSON); nobody types it.
    fields.update({name: str(form.get(name, "")).replace("\x00", "") for name in KNOWN - {"channels"} if name in form})
    for name in (*HIDDEN, "kind"):  # set when the form starts (a template, a follow-up), never by a post
        fields.pop(name, None)
        if name in kept:
            fields[name] = kept[name]
    fields["channels"] = (
        [str(c) for c in form.get("channels", [])] if "channels.shown" in form else kept.get("channels", [])
    )
    return fields


def document_of(
    fields: dict[str, Any], authority: str, timezone: str, media: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """The announcement document the fields describe, and what is wrong before the model looks
    (a time that is not a time). Empty fields are left out: the model says what is missing."""
    document: dict[str, Any] = {"authority": authority}
    problems: list[Problem] = []
    for name in (*TEXTS, *CHOICES, "msg_type", "references", "attribution"):
        value = str(fields.get(name, "")).replace("\r\n", "\n").strip()
        if not value:
            continue
        if name == "area.description":
            document["area"] = {"description": value}
        else:
            document[name] = value
    if fields.get("correction") in {"true", "on", "1", True}:
        document["correction"] = True
    zone = ZoneInfo(timezone)
    for name in TIMES:
        value = str(fields.get(name, "")).strip()
        if not value:
            continue
        moment, problem = local_moment(value, zone)
        if moment is None:
            problems.append(Problem(field=name, message=problem))
        else:
            document[name] = moment.isoformat()
    tags = [t for t in re.split(r"[\s,;]+", str(fields.get("hashtags", ""))) if t]
    if tags:
        document["hashtags"] = tags
    document["channels"] = list(fields.get("channels", []))
    alt = str(fields.get("media.0.alt", "")).strip()
    if media:
        document["media"] = [{"data": media["data"], "alt": alt}]
        if not alt:
            problems.append(Problem(field="media.0.alt", message=N_("an image needs an alt text: say what it shows")))
    return document, problems


def local_moment(value: str, zone: ZoneInfo) -> tuple[datetime | None, str]:
    """A time as typed in the authority's time zone, or why it is none: a time the clock skips
    (spring forward) or passes twice (fall back) is asked again rather than guessed."""
    for shape in (LOCAL_TIME, LOCAL_TIME + ":%S"):
        try:
            naive = datetime.strptime(value, shape)
            break
        except ValueError:
            continue
    else:
        return None, N_("is not a date and time (YYYY-MM-DD HH:MM)")
    moment = naive.replace(tzinfo=zone)
    there_and_back = moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if there_and_back != naive:
        return None, N_("does not exist on that day: the clocks are put forward; choose another time")
    if moment.utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset():
        return None, N_("happens twice on that day (the clocks are put back); choose a time outside that hour")
    return moment, ""


def local(moment: datetime | None, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime(LOCAL_TIME) if moment else ""


def fields_of(announcement: Announcement, announcement_id: str, msg_type: MsgType, timezone: str,
              *, correction: bool = False) -> dict[str, Any]:  # fmt: skip
    """A follow-up's fields, pre-filled from the current state of what it follows. An all-clear
    or a withdrawal does not repeat the instruction (it would read as an alarm) nor a validity."""
    a = announcement
    fields: dict[str, Any] = {
        "kind": a.kind.value, "msg_type": msg_type.value, "references": announcement_id,
        "headline": a.headline, "description": a.description, "event": a.event or "",
        "category": a.category.value if a.category else "", "severity": a.severity.value if a.severity else "",
        "urgency": a.urgency.value if a.urgency else "", "certainty": a.certainty.value if a.certainty else "",
        "area.description": a.area.description if a.area else "", "contact": a.contact or "",
        "hashtags": " ".join(a.hashtags), "channels": list(a.channels or []),
    }  # fmt: skip
    if msg_type is MsgType.update:
        fields["instruction"] = a.instruction or ""
        fields["expires"] = local(a.expires, timezone)
    if correction:
        fields["correction"] = "true"
    if a.attribution:
        fields["attribution"] = a.attribution
    return fields


def problems_by_field(problems: list[Problem]) -> tuple[dict[str, list[str]], list[str]]:
    """Problems next to their fields (``media.0`` goes with the image); the rest for the top."""
    placed: dict[str, list[str]] = {}
    general: list[str] = []
    for problem in problems:
        name = problem.field
        if name == "area":
            name = "area.description"
        elif name.startswith("media"):
            name = "media.0.alt" if name.endswith("alt") else "media.0.file"
        elif name.startswith("channels"):
            name = "channels"
        if name in KNOWN or name in {"media.0.file", "channels"}:
            placed.setdefault(name, []).append(problem.message)
        else:
            general.append(f"{problem.field}: {problem.message}" if problem.field else problem.message)
    return placed, general
