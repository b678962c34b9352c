"""The publication plan: which operations may start now. The core rule of Herold.

Publishing operations run in waves (WAVES): (1) the authority's own website, (2) the
fediverse, (3) everything else. Nothing outside the first wave starts before every operation of
that wave has succeeded, that is, before the item exists off-platform (German data-protection
authorities require that nobody be forced onto a commercial platform for official
information). Each later wave starts when the wave before it has ended or when a grace period
has passed, whichever comes first, and says which.

If the website fails, nothing is released automatically. Only an explicit override with a
reason, for warnings only, releases the other waves: lives come before form, but never
silently.

Pins and unpins are operations too, and follow from the others: a warning is pinned once it
is out on the channel; an update takes the pin over, an all-clear or withdrawal unpins it, once
that follow-up itself is out there. If the follow-up could not go out there, the pin stays: the
newest state on the channel is still the pinned one (expiry unpins it). One whose reason went
away (the post it would pin never went out) is skipped.

This module is pure: it decides, the engine acts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from publisher.domain.capabilities import Wave
from publisher.domain.records import Action, OperationState


@dataclass(frozen=True)
class Step:
    """What the plan needs to know of one operation."""

    id: str
    channel: str
    wave: int
    state: OperationState
    released_at: datetime | None = None
    action: Action = Action.publish
    target_state: OperationState | None = None  # a pin's publish, an unpin's pin


@dataclass(frozen=True)
class Release:
    delivery_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Waves:
    """The order of publication, as data: the wave numbers channel types declare, by name, and
    the one that must succeed before any other starts (the publisher of record)."""

    names: Mapping[int, str] = field(default_factory=lambda: {wave.value: wave.name for wave in Wave})
    record: int = Wave.website.value

    def name(self, wave: int) -> str:
        return self.names.get(wave, f"wave {wave}")


WAVES = Waves()


@dataclass(frozen=True)
class Plan:
    releases: tuple[Release, ...] = ()
    check_again_at: datetime | None = None  # nothing to do now, but look again then
    held_back: str | None = None  # why operations wait for a person
    skips: tuple[Release, ...] = ()  # operations whose reason went away: they end as skipped

    @property
    def released(self) -> set[str]:
        return {d for release in self.releases for d in release.delivery_ids}

    @property
    def skipped(self) -> set[str]:
        return {d for skip in self.skips for d in skip.delivery_ids}


UNSUCCESSFUL = frozenset({OperationState.failed, OperationState.dead, OperationState.unknown})


def _seconds(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


def _publishing(steps: Sequence[Step]) -> list[Step]:
    return [s for s in steps if s.action.publishes]


def website_published(steps: Sequence[Step], waves: Waves = WAVES) -> bool:
    """True once every operation of the record's wave has succeeded: the item exists off-platform."""
    record = [s for s in _publishing(steps) if s.wave == waves.record]
    return bool(record) and all(s.state is OperationState.succeeded for s in record)


def plan(
    steps: Sequence[Step],
    *,
    now: datetime,
    grace: timedelta,
    publish_at: datetime | None = None,
    override: str | None = None,
    waves: Waves = WAVES,
) -> Plan:
    if not any(s.state is OperationState.waiting for s in steps):
        return Plan()
    if publish_at and now < publish_at:
        return Plan(check_again_at=publish_at)
    publishing = _publishing(steps)
    decided = _waves(publishing, now=now, grace=grace, publish_at=publish_at, override=override, waves=waves)
    releases, skips = _pins(steps)
    return Plan(decided.releases + releases, decided.check_again_at, decided.held_back, skips)


def _waves(
    steps: Sequence[Step], *, now: datetime, grace: timedelta, publish_at: datetime | None, override: str | None,
    waves: Waves,
) -> Plan:  # fmt: skip
    waiting = [s for s in steps if s.state is OperationState.waiting]
    if not waiting:
        return Plan()
    releases: list[Release] = []
    first = tuple(s.id for s in waiting if s.wave == waves.record)
    if first:
        releases.append(Release(first, "scheduled time reached" if publish_at else "accepted"))

    record = [s for s in steps if s.wave == waves.record]
    if not website_published(steps, waves):
        if any(s.state in UNSUCCESSFUL for s in record):
            later = tuple(s.id for s in waiting if s.wave != waves.record)
            if override and later:
                releases.append(Release(later, f"released by override although the website failed: {override}"))
                return Plan(tuple(releases))
            failed = ", ".join(s.channel for s in record if s.state in UNSUCCESSFUL)
            return Plan(
                tuple(releases),
                held_back=(
                    f"the website delivery failed ({failed}): no other channel is released until it succeeds "
                    "or a person releases them with a reason"
                ),
            )
        return Plan(tuple(releases))

    # Each later wave follows the one before it that has channels, in order.
    present = sorted({s.wave for s in steps if s.wave != waves.record})
    started = {w for w in present if not any(s.state is OperationState.waiting for s in steps if s.wave == w)}
    looks: list[datetime] = []
    before: int | None = None
    for wave in present:
        own = tuple(s.id for s in waiting if s.wave == wave)
        reason, look = _follows(steps, wave, before, started, now=now, grace=grace, waves=waves)
        if own and reason:
            releases.append(Release(own, reason))
            started.add(wave)
        elif own and look:
            looks.append(look)
        before = wave
    return Plan(tuple(releases), check_again_at=min(looks, default=None))


def _follows(
    steps: Sequence[Step], wave: int, before: int | None, started: set[int], *, now: datetime, grace: timedelta,
    waves: Waves,
) -> tuple[str | None, datetime | None]:  # fmt: skip
    """Why ``wave`` may start now (None: not yet), and when to look again if only time is missing."""
    if before is None:
        reason = "the item's website page is published"
        return (reason + (f" (no {waves.name(wave - 1)} channel)" if wave - 1 != waves.record else "")), None
    if before not in started:
        return None, None  # the wave before has not begun: it releases this one when it ends
    earlier = [s for s in steps if s.wave == before]
    if all(s.state is OperationState.succeeded for s in earlier):
        return f"the {waves.name(before)} wave succeeded", None
    if all(s.state.final for s in earlier):
        ended = ", ".join(f"{s.channel} {s.state.value}" for s in earlier if s.state is not OperationState.succeeded)
        return f"the {waves.name(before)} wave ended ({ended})", None
    begun = min((s.released_at for s in earlier if s.released_at), default=now)
    if now >= begun + grace:
        return f"the grace period of {_seconds(grace)} after the {waves.name(before)} wave passed", None
    return None, begun + grace


def _pins(steps: Sequence[Step]) -> tuple[tuple[Release, ...], tuple[Release, ...]]:
    """Pins follow the post they pin; unpins follow the all-clear (or withdrawal) on the channel."""
    releases: list[Release] = []
    skips: list[Release] = []
    published = {s.channel: s for s in _publishing(steps)}
    for step in steps:
        if step.state is not OperationState.waiting or step.target_state is None:
            continue
        if step.action is Action.pin:
            if step.target_state is OperationState.succeeded:
                releases.append(Release((step.id,), f"the warning is out on {step.channel}"))
            elif step.target_state.final:
                skips.append(Release((step.id,), f"not pinned: the warning did not go out on {step.channel}"))
        elif step.action is Action.unpin:
            own = published.get(step.channel)
            if not step.target_state.final or (own is not None and not own.state.final):
                continue  # the pin is still on its way, or the follow-up is
            if step.target_state is not OperationState.succeeded:
                skips.append(Release((step.id,), "nothing to unpin: the warning was never pinned"))
            elif own is not None and own.state is not OperationState.succeeded:
                reason = f"the follow-up did not go out on {step.channel}: the pinned post stays its newest state"
                skips.append(Release((step.id,), reason))
            else:
                releases.append(Release((step.id,), f"a newer state replaces the pinned post on {step.channel}"))
    return tuple(releases), tuple(skips)
