"""A preview: the variants an announcement would get, each counted as its platform counts, with
nothing stored and nothing sent. The same steps as accepting it (publisher.sources.intake),
without the storing; limits come from the cache the engine keeps, so no server is asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from publisher.domain.announcement import Status
from publisher.domain.problems import Problem
from publisher.domain.records import PrivacyOverride, Role
from publisher.engine.engine import Engine
from publisher.site.registry import channel_types
from publisher.sources.intake import cost_of, prepare


class ChannelPreview(BaseModel):
    channel: str
    type: str
    platform: str  # the platform's name as people know it
    wave: int
    text: str | None  # None: it cannot be made to fit (see problem)
    spoiler: str | None = None
    length: int | None = None  # as the platform counts
    limit: int | None = None
    shortened: list[str] = []  # what was left out to fit, in the order it was cut
    problem: str | None = None
    cost_usd: float | None = None  # what this post costs on a platform that charges per post (X)


class Preview(BaseModel):
    authority: str
    kind: str
    msg_type: str
    status: Status
    published: bool  # whether it would ever go out (only an actual message does)
    item_url: str  # for a new item, the address it will have up to its random part
    channels: list[ChannelPreview]
    warnings: list[Problem] = []  # flagged, not refused (links to other domains), by field
    private: list[Problem] = []  # personal data the guard would refuse (only with show_private)


def preview(engine: Engine, document: Any, *, base_dir: Path | None = None, show_private: bool = False) -> Preview:
    """Raises InvalidInput, as accepting it would, for problems of the document itself.

    ``show_private``: personal data the privacy guard finds does not stop the preview; the
    findings come with the variants (``private``), so the writer sees both side by side."""
    # Nothing is stored or sent here: seeing a finding next to the text is what the guard is for.
    looking = PrivacyOverride(reason="a preview: nothing is stored or sent", role=Role.approver)
    prepared = prepare(engine, document, base_dir=base_dir, strict=False,
                       privacy_override=looking if show_private else None)  # fmt: skip
    authority, types = prepared.authority, channel_types()
    variants = {v.channel: v for v in prepared.variants}
    channels = []
    for channel_id in prepared.channels:
        kind = types[authority.channel(channel_id).type]
        variant = variants.get(channel_id)
        channels.append(ChannelPreview(
            channel=channel_id, type=kind.type, platform=kind.label, wave=int(kind.capabilities.wave),
            text=variant.text if variant else None, spoiler=variant.spoiler if variant else None,
            length=variant.length if variant else None, limit=variant.limit if variant else None,
            shortened=list(variant.shortened) if variant else [], problem=prepared.unfit.get(channel_id),
            cost_usd=cost_of(kind),
        ))  # fmt: skip
    announcement = prepared.announcement
    return Preview(
        authority=authority.slug, kind=announcement.kind.value, msg_type=announcement.msg_type.value,
        status=announcement.status, published=announcement.status is Status.actual, item_url=prepared.link,
        channels=channels, warnings=list(prepared.warnings),
        private=[Problem(field=f.field, message=f"{f.message_en} / {f.message_de}")
                 for f in (prepared.privacy_override[1] if prepared.privacy_override else ())],
    )  # fmt: skip
