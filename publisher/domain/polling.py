"""Polling a warning system: what an integration's ``poll`` says, and what one listing means.

Two kinds of list are polled. NINA's dashboard (the federal warning app's API) lists the
warnings for a district, each with an id and a hash of its current content; a warning that
leaves the list has ended. A CAP feed (Atom or RSS, as weather services publish) lists CAP
documents; its entries leave it when they expire, which says nothing about an all-clear.

Which warnings are new or changed follows from comparing a listing with what Herold tracks
(`changes`). Which have ended follows from how many listings in a row missed them
(`ended_warnings`): one listing that lacks a warning may be an outage answering a short or
empty list, so a warning is taken as ended only after ``gone_after`` listings in a row (each a
well-formed answer) lacked it, and never when a warning still listed continues its item (a
MoWaS update comes with a new id; the old one leaves the list, and the warning goes on).
Pure functions: the poller (publisher.sources.poll) fetches and stores.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

NINA_API = "https://warnung.bund.de/api31"
# A polite interval: NINA and the weather services refresh their lists about once a minute.
MIN_EVERY_SECONDS = 15


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def poll_address(value: str) -> str:
    """An https address (plain http only on this machine: a warning fetched is published at
    once, so nobody on the way may be able to forge one)."""
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not host:
        raise ValueError(f'is not a web address like https://warnung.bund.de/api31 (got "{value[:200]}")')
    if parts.scheme == "http" and not _loopback(host):
        raise ValueError(f'must use https: what is fetched is published at once (got "{value[:200]}")')
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password")
    return value


class Poll(BaseModel):
    """How Herold fetches an integration's warnings itself, instead of waiting for them to be
    sent. With format "nina": the NINA dashboard of the district ``ars`` lies in, then each
    listed warning's details. With format "cap": the Atom or RSS feed at ``url``, then the CAP
    document each entry links to.

    TOML (in an ``[[authorities.integrations]]`` table)::

        poll = { ars = "053150000000" }                              # NINA, every minute
        poll = { url = "https://example.org/cap/atom.xml", every_seconds = 120 }   # a CAP feed
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # NINA: the API's base (the dashboard is {url}/dashboard/{ARS}.json). A CAP feed: the feed.
    url: str = NINA_API
    every_seconds: int = Field(default=60, ge=MIN_EVERY_SECONDS, le=24 * 3600)
    # NINA: the authority's Amtlicher Regionalschlüssel, 12 digits. NINA lists warnings per
    # district, so only its first five digits are used (see `dashboard_ars`).
    ars: Annotated[str, Field(pattern=r"^[0-9]{12}$")] | None = None
    # NINA: which warning systems' warnings to take, by the prefix of their ids: mow (MoWaS),
    # kat (KATWARN), bwp (BIWAPP), dwd (the weather service), lhp (flood centres), pol
    # (police). Empty: all. Others are never fetched (their senders would be refused anyway).
    providers: list[Annotated[str, Field(pattern=r"^[a-z]{2,10}$")]] = Field(default_factory=list)
    # NINA: how many listings in a row must lack a warning before it is taken as ended; more
    # rides out longer outages that answer empty lists, and delays every all-clear by a round.
    gone_after: int = Field(default=2, ge=1, le=10)

    @field_validator("url")
    @classmethod
    def _address(cls, value: str) -> str:
        return poll_address(value).rstrip("/")

    @property
    def dashboard_ars(self) -> str | None:
        """The ARS as NINA's dashboard takes it: its last seven digits zeroed (the district)."""
        return None if self.ars is None else self.ars[:5] + "0000000"

    def takes(self, warning_id: str) -> bool:
        """Whether a NINA warning of this id is one to take (see ``providers``)."""
        return not self.providers or warning_id.split(".", 1)[0] in self.providers


def poll_problems(poll: Poll, format: str) -> list[str]:
    """What is wrong with ``poll`` for an integration of ``format`` (empty: nothing), each a
    short sentence for the configuration's error report."""
    given = poll.model_fields_set
    if format == "nina":
        return [] if poll.ars else ["a NINA poll needs ars: the authority's 12-digit Amtlicher Regionalschlüssel"]
    if format == "cap":
        problems = [] if "url" in given else ["a CAP feed poll needs url: the address of the feed (Atom or RSS)"]
        problems += [f"{name} is for NINA polls only" for name in ("ars", "providers", "gone_after") if name in given]
        return problems
    return [f'an integration of format "{format}" cannot be polled; only "nina" and "cap" can']


# --- what a listing means ----------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """One warning as a listing shows it: its ``key`` (NINA's id, a feed entry's id), its
    ``version`` (NINA's hash, an entry's updated time; "" when the list gives none) and where
    its document is."""

    key: str
    version: str
    link: str


@dataclass(frozen=True)
class Tracked:
    """What Herold keeps of a warning it has seen listed."""

    key: str
    version: str | None  # of the last document relayed or refused (None: none yet)
    source_id: str | None  # the last message relayed for it (CAP's sender,identifier,sent)
    item_id: str | None  # the item that message went to (None: it was not published)
    ended: bool  # an all-clear was relayed (or it ended otherwise): nothing more follows
    missing: int  # listings in a row that lacked it (0: listed in the last one)
    refused: str | None = None  # why its current version was not relayed (not tried again)


@dataclass(frozen=True)
class Changes:
    new: list[Listed]
    changed: list[tuple[Listed, Tracked]]


def changes(tracked: Mapping[str, Tracked], listing: Iterable[Listed]) -> Changes:
    """The listed warnings not seen before, and those whose version differs from the last one
    relayed (or refused). A warning listed twice counts once."""
    new: list[Listed] = []
    changed: list[tuple[Listed, Tracked]] = []
    seen: set[str] = set()
    for entry in listing:
        if entry.key in seen:
            continue
        seen.add(entry.key)
        known = tracked.get(entry.key)
        if known is None or known.version is None:
            new.append(entry)
        elif entry.version != known.version:
            changed.append((entry, known))
    return Changes(new, changed)


Ending = Literal["all-clear", "superseded", "dropped"]


def ended_warnings(tracked: Iterable[Tracked], *, gone_after: int) -> list[tuple[Tracked, Ending]]:
    """The warnings that have left the list for good, each with what that means: an
    ``all-clear`` of its item; ``superseded`` when a warning still listed continues the same
    item (nothing ends); ``dropped`` when nothing of it was ever relayed (nothing to end)."""
    rows = list(tracked)
    live_items = {t.item_id for t in rows if t.missing == 0 and t.item_id}
    ended: list[tuple[Tracked, Ending]] = []
    for warning in rows:
        if warning.ended or warning.missing < gone_after:
            continue
        if warning.source_id is None:
            ended.append((warning, "dropped"))
        elif warning.item_id is not None and warning.item_id in live_items:
            ended.append((warning, "superseded"))
        else:
            ended.append((warning, "all-clear"))
    return ended
