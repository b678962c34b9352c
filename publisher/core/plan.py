"""The publication plan: which deliveries may start now. The core rule of Herold.

Deliveries run in waves: (1) the authority's own website, (2) the fediverse, (3) everything
else. Nothing outside wave 1 starts before every wave-1 delivery has succeeded, that is,
before the item exists off-platform (German data-protection authorities require that nobody
be forced onto a commercial platform for official information). Wave 3 starts when wave 2
has ended or when a grace period has passed, whichever comes first, and says which.

If the website fails, nothing is released automatically. Only an explicit override with a
reason, for warnings only, releases the other waves: lives come before form, but never
silently.

This module is pure: it decides, the tasks module acts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from publisher.domain.records import DeliveryState


@dataclass(frozen=True)
class Step:
    """What the plan needs to know of one delivery."""

    id: str
    channel: str
    wave: int
    state: DeliveryState
    released_at: datetime | None = None


@dataclass(frozen=True)
class Release:
    delivery_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Plan:
    releases: tuple[Release, ...] = ()
    check_again_at: datetime | None = None  # nothing to do now, but look again then
    held_back: str | None = None  # why deliveries wait for a person

    @property
    def released(self) -> set[str]:
        return {d for release in self.releases for d in release.delivery_ids}


UNSUCCESSFUL = frozenset({DeliveryState.failed, DeliveryState.dead, DeliveryState.unknown})


def _seconds(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


def website_published(steps: Sequence[Step]) -> bool:
    """True once every own-website delivery has succeeded: the item exists off-platform."""
    wave_one = [s for s in steps if s.wave == 1]
    return bool(wave_one) and all(s.state is DeliveryState.succeeded for s in wave_one)


def plan(
    steps: Sequence[Step],
    *,
    now: datetime,
    grace: timedelta,
    publish_at: datetime | None = None,
    override: str | None = None,
) -> Plan:
    waiting = [s for s in steps if s.state is DeliveryState.waiting]
    if not waiting:
        return Plan()
    if publish_at and now < publish_at:
        return Plan(check_again_at=publish_at)

    releases: list[Release] = []
    first = tuple(s.id for s in waiting if s.wave == 1)
    if first:
        releases.append(Release(first, "scheduled time reached" if publish_at else "accepted"))

    wave_one = [s for s in steps if s.wave == 1]
    if not website_published(steps):
        if any(s.state in UNSUCCESSFUL for s in wave_one):
            later = tuple(s.id for s in waiting if s.wave > 1)
            if override and later:
                releases.append(Release(later, f"released by override although the website failed: {override}"))
                return Plan(tuple(releases))
            failed = ", ".join(s.channel for s in wave_one if s.state in UNSUCCESSFUL)
            return Plan(
                tuple(releases),
                held_back=(
                    f"the website delivery failed ({failed}): no other channel is released until it succeeds "
                    "or a person releases them with a reason"
                ),
            )
        return Plan(tuple(releases))

    wave_two = [s for s in steps if s.wave == 2]
    second = tuple(s.id for s in waiting if s.wave == 2)
    if second:
        releases.append(Release(second, "the item's website page is published"))

    third = tuple(s.id for s in waiting if s.wave == 3)
    if not third:
        return Plan(tuple(releases))
    if not wave_two:
        releases.append(Release(third, "the item's website page is published (no fediverse channel)"))
        return Plan(tuple(releases))
    if all(s.state is DeliveryState.succeeded for s in wave_two):
        releases.append(Release(third, "the fediverse wave succeeded"))
        return Plan(tuple(releases))
    if all(s.state.final for s in wave_two):
        ended = ", ".join(f"{s.channel} {s.state.value}" for s in wave_two if s.state is not DeliveryState.succeeded)
        releases.append(Release(third, f"the fediverse wave ended ({ended})"))
        return Plan(tuple(releases))
    started = min((s.released_at for s in wave_two if s.released_at), default=now)
    if now >= started + grace:
        releases.append(Release(third, f"the grace period of {_seconds(grace)} after the fediverse wave passed"))
        return Plan(tuple(releases))
    return Plan(tuple(releases), check_again_at=started + grace)
