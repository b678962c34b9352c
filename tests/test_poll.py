"""Polling warning systems: NINA's dashboard for the authority's district, and CAP feeds.

A warning NINA lists for the first time becomes an alert, a listed warning that changes an update
of the same item, one that leaves the list an all-clear — each exactly once, however often the
poller is restarted, and never because of an outage. A CAP feed is asked conditionally; its
entries leaving it end nothing. Every test talks HTTP to a fake of the service on 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from publisher.domain.polling import Listed, Poll, Tracked, changes, ended_warnings, poll_problems
from publisher.edges.config import Settings
from publisher.edges.wiring import Herold
from publisher.engine.store import Store, StoredAnnouncement
from publisher.sources.poll import Pollers, PollReport, dashboard, feed_entries, poll

from conftest import AUTHORITY, SettingsFactory
from fakes.cap_feed_server import FakeCapFeed
from fakes.clock import Clock
from fakes.nina_server import FakeNina, garbage, hang, status

SLUG = AUTHORITY["slug"]
ARS = "095710000000"  # Landkreis Ansbach, where the sample warning was sent
FIXTURE = Path(__file__).parent / "fixtures" / "nina" / "mowas-alert-DE-BY-AN-W166-20220216-000.json"
SENT = datetime(2022, 2, 16, 11, 0, tzinfo=UTC)  # the sample warning's evening
DASHBOARD = "/api31/dashboard/"
DETAILS = "/api31/warnings/"


def mowas(identifier: str = "DE-BY-AN-W166-20220216-000", *, sent: str = "2022-02-16T10:58:05+01:00",
          headline: str | None = None, msg_type: str = "Alert",
          references: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A real MoWaS warning (Landkreis Ansbach, storm) as NINA's details serve it; the changes
    make another message of the same sender."""
    warning: dict[str, Any] = json.loads(FIXTURE.read_bytes())
    warning.update(identifier=identifier, sent=sent, msgType=msg_type)
    if references:
        warning["references"] = references
    if headline:
        warning["info"][0]["headline"] = headline
    return warning


def source_id(warning: dict[str, Any]) -> str:
    return f"{warning['sender']},{warning['identifier']},{warning['sent']}"


@pytest.fixture
def nina() -> Iterator[FakeNina]:
    with FakeNina() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock(SENT)


def nina_settings(make_settings: SettingsFactory, url: str, senders: list[str] | None = None,
                  **poll_config: Any) -> Settings:  # fmt: skip
    authority = copy.deepcopy(AUTHORITY)
    authority["integrations"] = [{"id": "nina", "format": "nina", "senders": senders or [],
                                  "poll": {"url": url, "ars": ARS, **poll_config}}]  # fmt: skip
    # Short deadlines: a test of a server that hangs must not wait a minute.
    return make_settings(authorities=[authority], http_read_timeout=1.0, http_deadline_seconds=2.0)


@contextmanager
def running(settings: Settings, clock: Clock) -> Iterator[Herold]:
    """A Herold process: each `with` is a start, its end a stop (a restart is the next `with`)."""
    herold = Herold(settings, clock=clock)
    herold.start()
    try:
        yield herold
    finally:
        herold.stop()


def one_round(herold: Herold) -> PollReport:
    owner = herold.authority(SLUG)
    return poll(herold.engine, owner, owner.integrations[0], herold.clock())


def announcements(herold: Herold) -> list[StoredAnnouncement]:
    """Every announcement of the authority, oldest first."""
    found = [herold.store.announcements.get(a.id) for a in herold.store.announcements.listed(SLUG)]
    return sorted((a for a in found if a is not None), key=lambda a: (a.received_at, a.announcement.msg_type.value))


# -- the acceptance scenario ----------------------------------------------------------------------------


def test_new_changed_and_gone_become_alert_update_and_all_clear_each_once_across_restarts(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    settings = nina_settings(make_settings, nina.url)
    first = mowas()
    changed = mowas(sent="2022-02-16T12:30:00+01:00", headline="Warnung vor Orkanböen")

    def rounds(count: int) -> list[PollReport]:
        """``count`` rounds, each in a process of its own, a minute apart (each one due)."""
        reports = []
        for _ in range(count):
            clock.advance(timedelta(seconds=60))
            with running(settings, clock) as herold:
                reports += Pollers(herold.engine).tick()
        return reports

    warning_id = nina.publish(ARS, first)
    assert [o.seen for r in rounds(3) for o in r.outcomes] == ["new"]
    nina.publish(ARS, changed)
    assert [o.seen for r in rounds(3) for o in r.outcomes] == ["changed"]
    nina.withdraw(warning_id)
    assert [o.seen for r in rounds(4) for o in r.outcomes] == ["gone"]

    with running(settings, clock) as herold:
        alert, update, all_clear = announcements(herold)
    assert [a.announcement.msg_type.value for a in (alert, update, all_clear)] == ["alert", "update", "cancel"]
    assert alert.item_id == update.item_id == all_clear.item_id, "one item: the update and the all-clear reply"
    assert update.announcement.references == alert.id
    assert alert.source_id == source_id(first) and update.source_id == source_id(changed)
    info = first["info"][0]
    assert alert.announcement.headline == info["headline"] == "Warnung vor Sturm"
    assert alert.announcement.description == info["description"], "a MoWaS warning is relayed unaltered"
    assert update.announcement.headline == "Warnung vor Orkanböen"
    assert all_clear.announcement.headline.startswith("Entwarnung")
    assert nina.count(DETAILS) == 2, "each version's details fetched once"


def test_a_restarted_poller_does_not_poll_before_the_interval_has_passed(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    settings = nina_settings(make_settings, nina.url, every_seconds=60)
    with running(settings, clock) as herold:
        assert len(Pollers(herold.engine).tick()) == 1
    clock.advance(timedelta(seconds=30))
    with running(settings, clock) as herold:
        assert Pollers(herold.engine).tick() == [], "the last round was 30 s ago"
        clock.advance(timedelta(seconds=30))
        assert len(Pollers(herold.engine).tick()) == 1
    assert nina.count(DASHBOARD) == 2


def test_two_pollers_ticking_at_once_poll_once(make_settings: SettingsFactory, nina: FakeNina, clock: Clock) -> None:
    settings = nina_settings(make_settings, nina.url)
    nina.publish(ARS, mowas())
    with running(settings, clock) as one, running(settings, clock) as other:
        pollers = [Pollers(one.engine), Pollers(other.engine)]
        start = threading.Barrier(2)
        reports: list[list[PollReport]] = [[], []]

        def tick(number: int) -> None:
            start.wait()
            reports[number] = pollers[number].tick()

        threads = [threading.Thread(target=tick, args=(n,)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(len(r) for r in reports) == [0, 1]
        assert nina.count(DASHBOARD) == 1 and nina.count(DETAILS) == 1
        assert len(announcements(one)) == 1


def test_a_started_poller_polls_in_its_own_thread_until_stopped(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    nina.publish(ARS, mowas())
    with running(nina_settings(make_settings, nina.url), clock) as herold:
        pollers = Pollers(herold.engine, tick_seconds=0.05)
        pollers.start()
        try:
            from helpers import eventually

            assert eventually(lambda: len(announcements(herold)) == 1, timeout=10)
        finally:
            pollers.stop()
        assert nina.count(DASHBOARD) == 1, "the next round is due in a minute"


# -- MoWaS's own follow-ups ----------------------------------------------------------------------------------


def test_an_update_under_a_new_id_continues_the_item_and_its_old_id_leaving_ends_nothing(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    first = mowas()
    update = mowas("DE-BY-AN-W166-20220216-001", sent="2022-02-16T13:00:00+01:00", msg_type="Update",
                   headline="Sturmwarnung verlängert", references=source_id(first))  # fmt: skip
    with running(nina_settings(make_settings, nina.url), clock) as herold:
        old = nina.publish(ARS, first)
        one_round(herold)
        nina.publish(ARS, update)
        nina.withdraw(old)
        reports = [one_round(herold) for _ in range(4)]
        assert [(o.key, o.seen) for r in reports for o in r.outcomes] == [
            ("mow.DE-BY-AN-W166-20220216-001", "new"),
            (old, "superseded"),
        ]
        made = announcements(herold)
    assert [a.announcement.msg_type.value for a in made] == ["alert", "update"]
    assert made[0].item_id == made[1].item_id


def test_a_cancel_listed_is_relayed_once_and_nothing_follows_when_both_leave(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    first = mowas()
    cancel = mowas("DE-BY-AN-W166-20220216-002", sent="2022-02-16T18:00:00+01:00", msg_type="Cancel",
                   headline="Entwarnung: Sturm vorüber", references=source_id(first))  # fmt: skip
    with running(nina_settings(make_settings, nina.url), clock) as herold:
        old = nina.publish(ARS, first)
        one_round(herold)
        ended = nina.publish(ARS, cancel)
        one_round(herold)
        nina.withdraw(old)
        for _ in range(3):
            one_round(herold)
        nina.withdraw(ended)
        for _ in range(3):
            one_round(herold)
        made = announcements(herold)
    assert [(a.announcement.msg_type.value, a.announcement.headline) for a in made] == [
        ("alert", "Warnung vor Sturm"),
        ("cancel", "Entwarnung: Sturm vorüber"),
    ]


# -- outages ---------------------------------------------------------------------------------------------


def test_an_outage_ends_nothing_and_only_well_formed_listings_count_towards_an_all_clear(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    with running(nina_settings(make_settings, nina.url), clock) as herold:
        warning_id = nina.publish(ARS, mowas())
        one_round(herold)
        nina.withdraw(warning_id)
        nina.fail(DASHBOARD, status(500, b"[]"), status(503, b"[]"), garbage(), garbage(b"{}"), garbage(b"[{"),
                  hang(5), status(404))  # fmt: skip
        failed = [one_round(herold) for _ in range(7)]
        assert all(r.error for r in failed), [r.error for r in failed]
        assert [r.error for r in failed][:5] == [
            "answered 500", "answered 503", "the dashboard is not JSON", "the dashboard is not a list of warnings",
            "the dashboard is not JSON",
        ]  # fmt: skip
        assert "no answer" in (failed[5].error or "")
        assert one_round(herold).outcomes == [], "the first well-formed empty list may be an outage's too"
        assert [o.seen for o in one_round(herold).outcomes] == ["gone"]
        assert [a.announcement.msg_type.value for a in announcements(herold)] == ["alert", "cancel"]
        state = herold.store.polls.feed(SLUG, "nina")
        assert state is not None and state.failures == 0 and state.succeeded_at is not None


def test_details_that_fail_are_fetched_again_next_round_and_relayed_once(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    with running(nina_settings(make_settings, nina.url), clock) as herold:
        nina.publish(ARS, mowas())
        nina.fail(DETAILS, status(500), garbage(b'{"identifier": '), hang(5))
        reports = [one_round(herold) for _ in range(4)]
        assert [[o.seen for o in r.outcomes] for r in reports] == [["failed"], ["failed"], ["failed"], ["new"]]
        assert not reports[0].complete and reports[3].complete
        assert len(announcements(herold)) == 1
        assert nina.requests[-1].headers.get("if-none-match") is None, "no conditional GET while one was missing"
        one_round(herold)
        assert nina.requests[-1].headers.get("if-none-match"), "asked conditionally once all was taken in"


def test_a_new_warning_that_cannot_be_fetched_holds_back_the_all_clear_of_one_that_left(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    """It may be the update that continues the other's item under a new id."""
    first = mowas()
    with running(nina_settings(make_settings, nina.url), clock) as herold:
        old = nina.publish(ARS, first)
        one_round(herold)
        nina.withdraw(old)
        nina.publish(ARS, mowas("DE-BY-AN-W166-20220216-001", sent="2022-02-16T13:00:00+01:00", msg_type="Update",
                                references=source_id(first)))  # fmt: skip
        nina.fail(DETAILS, status(502), status(502), status(502))
        held = [one_round(herold) for _ in range(3)]
        assert [o.seen for r in held for o in r.outcomes] == ["failed"] * 3
        assert [o.seen for o in one_round(herold).outcomes] == ["new", "superseded"]
        assert [a.announcement.msg_type.value for a in announcements(herold)] == ["alert", "update"]


def test_a_crash_between_relaying_and_recording_relays_the_same_announcement_again(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = nina_settings(make_settings, nina.url)
    nina.publish(ARS, mowas())
    with running(settings, clock) as herold:

        def crash(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the process died here")

        monkeypatch.setattr(herold.store.polls, "relayed", crash)
        assert one_round(herold).error
        assert len(announcements(herold)) == 1, "relayed before the crash"
    with running(settings, clock) as herold:
        [outcome] = one_round(herold).outcomes
        assert outcome.seen == "new" and len(announcements(herold)) == 1, "the same message: the same announcement"
        assert one_round(herold).outcomes == []


def test_a_document_over_one_mebibyte_is_not_read(make_settings: SettingsFactory, nina: FakeNina, clock: Clock) -> None:
    warning = mowas()
    warning["info"][0]["web"] = "https://www.lk-ansbach.de/" + "x" * (1024 * 1024)
    with running(nina_settings(make_settings, nina.url), clock) as herold:
        nina.publish(ARS, warning)
        [outcome] = one_round(herold).outcomes
        assert outcome.seen == "failed" and "bytes" in (outcome.reason or "")
        assert announcements(herold) == []


def test_a_failure_is_one_log_line_without_the_payload(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock, capfd: pytest.CaptureFixture[str]
) -> None:
    with running(nina_settings(make_settings, nina.url), clock) as herold:
        nina.fail(DASHBOARD, garbage(b"<html>Geheime Fehlerseite des Proxys</html>"))
        one_round(herold)
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "poll failed" in line]
    assert len(lines) == 1 and "Geheime" not in err


def test_only_the_warning_systems_named_are_fetched(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    with running(nina_settings(make_settings, nina.url, providers=["dwd"]), clock) as herold:
        nina.publish(ARS, mowas())
        assert one_round(herold).outcomes == []
        assert nina.count(DETAILS) == 0 and announcements(herold) == []


def test_a_warning_from_a_sender_the_integration_does_not_take_is_refused_once_per_version(
    make_settings: SettingsFactory, nina: FakeNina, clock: Clock
) -> None:
    with running(nina_settings(make_settings, nina.url, senders=["DE-NW-BN-SE030"]), clock) as herold:
        nina.publish(ARS, mowas())
        assert [o.seen for o in one_round(herold).outcomes] == ["refused"]
        assert one_round(herold).outcomes == [] and nina.count(DETAILS) == 1
        assert announcements(herold) == []


# -- CAP feeds -------------------------------------------------------------------------------------------


def cap(identifier: str, *, headline: str = "Sturmböen im Landkreis", sent: str = "2026-12-02T21:00:00+01:00") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>warnung@wetter.example.de</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>de-DE</language>
    <category>Met</category>
    <event>Sturmböen</event>
    <urgency>Immediate</urgency>
    <severity>Moderate</severity>
    <certainty>Likely</certainty>
    <headline>{headline}</headline>
    <description>Es treten Sturmböen mit Geschwindigkeiten um 70 km/h auf.</description>
    <instruction>Achten Sie auf herabstürzende Äste.</instruction>
    <area><areaDesc>Landkreis Beispiel</areaDesc></area>
  </info>
</alert>""".encode()


@pytest.fixture
def feed() -> Iterator[FakeCapFeed]:
    with FakeCapFeed() as fake:
        yield fake


def feed_settings(make_settings: SettingsFactory, url: str) -> Settings:
    authority = copy.deepcopy(AUTHORITY)
    authority["integrations"] = [{"id": "wetter", "format": "cap", "poll": {"url": url, "every_seconds": 120}}]
    return make_settings(authorities=[authority], http_read_timeout=1.0, http_deadline_seconds=2.0)


def test_a_cap_feed_is_asked_conditionally_and_a_304_relays_nothing(
    make_settings: SettingsFactory, feed: FakeCapFeed
) -> None:
    clock = Clock(datetime(2026, 12, 2, 20, 30, tzinfo=UTC))
    feed.put("sturm", cap("sturm-1"))
    with running(feed_settings(make_settings, feed.url), clock) as herold:
        assert [o.seen for o in one_round(herold).outcomes] == ["new"]
        again = one_round(herold)
        index = [r for r in feed.requests if r.path == "/feed.atom"]
        assert index[0].headers.get("if-none-match") is None
        assert index[1].headers.get("if-none-match") and index[1].headers.get("if-modified-since")
        assert again.not_modified and again.outcomes == []
        assert feed.count("/cap/") == 1 and len(announcements(herold)) == 1


def test_a_bad_cap_document_in_a_feed_is_skipped_while_the_others_go_through(
    make_settings: SettingsFactory, feed: FakeCapFeed
) -> None:
    clock = Clock(datetime(2026, 12, 2, 20, 30, tzinfo=UTC))
    feed.put("sturm", cap("sturm-1"))
    feed.put("kaputt", b"<alert>kein CAP</alert>")
    feed.put("glatteis", cap("glatteis-1", headline="Glätte durch überfrierende Nässe"))
    with running(feed_settings(make_settings, feed.url), clock) as herold:
        first = one_round(herold)
        assert sorted((o.key.rsplit(":", 1)[-1], o.seen) for o in first.outcomes) == [
            ("glatteis", "new"), ("kaputt", "failed"), ("sturm", "new")]  # fmt: skip
        assert len(announcements(herold)) == 2
        feed.put("kaputt", cap("kaputt-1", headline="Dauerregen"))
        second = one_round(herold)
        assert [(o.key.rsplit(":", 1)[-1], o.seen) for o in second.outcomes] == [("kaputt", "new")]
        assert [r.path for r in feed.requests].count("/cap/sturm.xml") == 1, "what was taken in is not fetched again"
        assert len(announcements(herold)) == 3


def test_an_entry_leaving_a_cap_feed_is_no_all_clear(make_settings: SettingsFactory, feed: FakeCapFeed) -> None:
    clock = Clock(datetime(2026, 12, 2, 20, 30, tzinfo=UTC))
    feed.put("sturm", cap("sturm-1"))
    with running(feed_settings(make_settings, feed.url), clock) as herold:
        one_round(herold)
        feed.drop("sturm")
        for _ in range(4):
            assert one_round(herold).outcomes == []
        assert [a.announcement.msg_type.value for a in announcements(herold)] == ["alert"]


def test_an_updated_entry_becomes_an_update_of_its_item(make_settings: SettingsFactory, feed: FakeCapFeed) -> None:
    clock = Clock(datetime(2026, 12, 2, 20, 30, tzinfo=UTC))
    feed.put("sturm", cap("sturm-1"))
    with running(feed_settings(make_settings, feed.url), clock) as herold:
        one_round(herold)
        feed.put("sturm", cap("sturm-2", headline="Orkanböen im Landkreis", sent="2026-12-02T22:00:00+01:00"))
        assert [o.seen for o in one_round(herold).outcomes] == ["changed"]
        alert, update = announcements(herold)
        assert update.announcement.msg_type.value == "update" and update.item_id == alert.item_id


# -- reading lists, and the rules, without a server -------------------------------------------------------


def test_feed_entries_read_atom_and_rss_and_refuse_entities() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>a-1</id><updated>2026-12-02T20:00:00Z</updated>
        <link rel="alternate" type="text/html" href="https://example.org/a.html"/>
        <link rel="related" type="application/cap+xml" href="/cap/a.xml"/></entry>
        <entry><id>no-link</id></entry></feed>"""
    assert feed_entries(atom, "https://example.org/feed.atom") == [
        Listed("a-1", "2026-12-02T20:00:00Z", "https://example.org/cap/a.xml")
    ]
    rss = b"""<rss version="2.0"><channel><item><guid>g-1</guid><link>https://example.org/b.xml</link>
        <pubDate>Wed, 02 Dec 2026 20:00:00 +0000</pubDate></item></channel></rss>"""
    assert feed_entries(rss, "https://example.org/rss") == [
        Listed("g-1", "Wed, 02 Dec 2026 20:00:00 +0000", "https://example.org/b.xml")
    ]
    from publisher.sources.poll import PollError

    bomb = b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x "x">]><feed xmlns="http://www.w3.org/2005/Atom">&x;</feed>'
    for body in (bomb, b"<html/>", b"not xml"):
        with pytest.raises(PollError):
            feed_entries(body, "https://example.org/feed")


def test_a_dashboard_entry_that_cannot_be_read_keeps_the_listing_from_counting_absences() -> None:
    body = json.dumps([{"id": "mow.A-1", "payload": {"hash": "h1"}}, {"id": "../etc/passwd"}, {"no": "id"}]).encode()
    listing, whole = dashboard(body, "https://warnung.bund.de/api31")
    assert listing == [Listed("mow.A-1", "h1", "https://warnung.bund.de/api31/warnings/mow.A-1.json")]
    assert not whole


def tracked(key: str, *, item: str | None = "item", missing: int = 0, ended: bool = False,
            source: str | None = "s") -> Tracked:  # fmt: skip
    return Tracked(key=key, version="v", source_id=source, item_id=item, ended=ended, missing=missing)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([tracked("a", missing=1)], []),
        ([tracked("a", missing=2)], [("a", "all-clear")]),
        ([tracked("a", missing=2, ended=True)], []),
        ([tracked("a", missing=2), tracked("b", missing=0)], [("a", "superseded")]),
        ([tracked("a", missing=2), tracked("b", item="other")], [("a", "all-clear")]),
        ([tracked("a", missing=3, source=None, item=None)], [("a", "dropped")]),
    ],
)
def test_a_warning_ends_only_after_missing_from_enough_listings_and_not_while_its_item_goes_on(
    rows: list[Tracked], expected: list[tuple[str, str]]
) -> None:
    assert [(t.key, how) for t, how in ended_warnings(rows, gone_after=2)] == expected


def test_changes_are_new_ids_and_other_versions() -> None:
    known = {"a": tracked("a"), "b": tracked("b")}
    found = changes(known, [Listed("a", "v", ""), Listed("b", "w", ""), Listed("c", "x", ""), Listed("c", "x", "")])
    assert [e.key for e in found.new] == ["c"] and [e.key for e, _ in found.changed] == ["b"]


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"ars": "09571"}, "ars"),
        ({"ars": "09571000000x"}, "ars"),
        ({"ars": ARS, "every_seconds": 5}, "every_seconds"),
        ({"url": "http://warnung.bund.de/api31", "ars": ARS}, "https"),
        ({"url": "ftp://example.org/", "ars": ARS}, "web address"),
        ({"url": "https://user:pw@example.org/", "ars": ARS}, "password"),
        ({"ars": ARS, "surprise": 1}, "surprise"),
    ],
)
def test_a_poll_is_checked_when_the_configuration_is_read(given: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Poll.model_validate(given)


def test_a_nina_poll_asks_for_the_district_and_a_feed_poll_names_its_feed() -> None:
    nina_poll = Poll(ars="095710123456")
    assert nina_poll.dashboard_ars == "095710000000" and nina_poll.url == "https://warnung.bund.de/api31"
    assert poll_problems(nina_poll, "nina") == []
    assert poll_problems(Poll(), "nina") != []
    assert poll_problems(Poll(), "cap") != [], "a feed has no default address"
    assert poll_problems(Poll(url="https://example.org/feed.atom"), "cap") == []
    assert poll_problems(Poll(url="https://example.org/f", ars=ARS), "cap") != []
    assert poll_problems(nina_poll, "announcement") != []
    assert Poll(url="http://127.0.0.1:8080/api31/", ars=ARS).url == "http://127.0.0.1:8080/api31"


# -- the state, on SQLite and PostgreSQL -----------------------------------------------------------------


def test_a_round_is_claimed_by_one_caller_and_warnings_are_missed_only_by_whole_listings(store: Store) -> None:
    polls, at, hold = store.polls, datetime(2026, 12, 2, 20, 0, tzinfo=UTC), timedelta(minutes=4)
    address = "https://warnung.bund.de/api31/dashboard/095710000000.json"
    assert polls.claim(SLUG, "nina", address, at, hold) and not polls.claim(SLUG, "nina", address, at, hold)
    assert not polls.claim(SLUG, "nina", address, at + timedelta(minutes=3), hold), "held while the round runs"
    polls.release(SLUG, "nina", at + timedelta(minutes=1))
    assert polls.claim(SLUG, "nina", address, at + timedelta(minutes=1), hold)

    polls.relayed(SLUG, "nina", "mow.A", at, version="h1", source_id="s,a,t", item_id="item", ended=False)
    polls.refused(SLUG, "nina", "mow.B", at, version="h1", reason="the sender is not one it takes")
    polls.listed(SLUG, "nina", set(), at, count_missing=False)
    assert {t.key: t.missing for t in polls.warnings(SLUG, "nina").values()} == {"mow.A": 0, "mow.B": 0}
    polls.listed(SLUG, "nina", {"mow.B"}, at)
    polls.listed(SLUG, "nina", {"mow.B"}, at)
    warnings = polls.warnings(SLUG, "nina")
    assert warnings["mow.A"].missing == 2 and warnings["mow.B"].refused and warnings["mow.B"].source_id is None
    polls.ended(SLUG, "nina", "mow.A", at)
    assert polls.forget(SLUG, "nina", unseen_since=at + timedelta(seconds=1), ended_only=True) == 1

    state, moved = polls.begin(SLUG, "nina", address.replace("0957", "0516"), at)
    assert moved and state.etag is None and polls.warnings(SLUG, "nina") == {}, "another district starts afresh"
