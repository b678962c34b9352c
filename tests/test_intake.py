"""Accepting an announcement: checked against its authority, stored whole, or not at all."""

from __future__ import annotations

import base64
import copy
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from publisher.domain.problems import InvalidInput
from publisher.edges.wiring import Herold
from publisher.engine.schema import AnnouncementRow, AuditRow
from publisher.engine.tasks import wait_until_settled
from publisher.sources.intake import accept

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, forget_cached, news, warning
from fakes.channels import registered


def problems_of(herold: Herold, document: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as rejected:
        accept(herold.engine, document, source="test", actor="t")
    return [str(p) for p in rejected.value.problems]


def count(herold: Herold, table: Any) -> int:
    with herold.store.engine.begin() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_an_invalid_document_writes_nothing_at_all(herold: Herold) -> None:
    document = warning(
        severity="hoch", channels=["website", "telegram"], media=[{"data": png(), "alt": "Karte"}], headline=""
    )
    assert problems_of(herold, document) == [
        'severity: must be one of extreme, severe, moderate, minor or unknown (got "hoch")',
        "headline: must not be empty",
    ]
    assert count(herold, AnnouncementRow) == 0 and count(herold, AuditRow) == 0
    assert not (herold.settings.herold.data_dir / "media").exists()


def test_channels_must_exist_and_the_own_website_is_never_skipped(herold: Herold) -> None:
    assert problems_of(herold, warning(channels=["telegram"])) == [
        "channels.0: authority 'lk-beispiel' has no channel 'telegram' (it has: website)"
    ]
    announcement_id = accept(herold.engine, warning(channels=[]), source="test", actor="t")
    assert [d.channel for d in herold.store.operations.of(announcement_id, publishing=True)] == ["website"]


def test_an_unknown_authority_is_named(herold: Herold) -> None:
    assert problems_of(herold, warning(authority="stadt-x")) == [
        "authority: 'stadt-x' is not configured here (configured: lk-beispiel)"
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"references": "0000"}, "references: no announcement '0000' of authority 'lk-beispiel' exists"),
        ({"kind": "news"}, "kind: must be warning, like the announcement it refers to"),
    ],
    ids=["unknown original", "other kind"],
)
def test_a_follow_up_must_refer_to_an_earlier_announcement_of_the_same_kind(
    herold: Herold, changes: dict[str, Any], problem: str
) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    document = {**warning(msg_type="update", references=original), **changes}
    assert problem in problems_of(herold, document)


def test_nothing_follows_a_withdrawal(herold: Herold) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    accept(
        herold.engine,
        warning(msg_type="error", references=original, headline="Zurückgezogen", instruction=None),
        source="test",
        actor="t",
    )
    assert "references: refers to an item that was withdrawn; publish a new announcement instead" in problems_of(
        herold, warning(msg_type="update", references=original)
    )


def test_a_follow_up_keeps_what_it_leaves_out_from_its_original(herold: Herold) -> None:
    original = accept(
        herold.engine, warning(expires=(herold.clock() + timedelta(hours=3)).isoformat()), source="test", actor="t"
    )
    update = accept(
        herold.engine,
        {
            "authority": "lk-beispiel",
            "kind": "warning",
            "msg_type": "update",
            "references": original,
            "headline": "Neue Lage",
            "description": "Die Sperrung wächst.",
        },
        source="test",
        actor="t",
    )
    cancel = accept(
        herold.engine,
        {
            "authority": "lk-beispiel",
            "kind": "warning",
            "msg_type": "cancel",
            "references": original,
            "headline": "Entwarnung",
            "description": "Vorbei.",
        },
        source="test",
        actor="t",
    )
    first, kept, ended = (herold.store.announcements.get(i) for i in (original, update, cancel))
    assert first and kept and ended
    assert kept.announcement.area == first.announcement.area and kept.announcement.event == "Bombenentschärfung"
    assert kept.announcement.instruction == first.announcement.instruction
    assert kept.announcement.expires == first.announcement.expires
    assert ended.announcement.instruction is None and ended.announcement.expires is None
    assert kept.item_id == ended.item_id == original and kept.item_path == first.item_path


def test_times_in_the_past_are_refused(herold: Herold) -> None:
    past = (herold.clock() - timedelta(minutes=5)).isoformat()
    assert problems_of(herold, warning(expires=past)) == ["expires: is already in the past"]
    assert problems_of(herold, news(publish_at=past)) == ["publish_at: is in the past; leave it out to publish now"]


def test_text_that_cannot_fit_a_channel_is_refused_before_anything_is_published(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "short", "type": "fake-other"})
    with registered():
        herold = make_herold(make_settings(authorities=[authority]))
        [problem] = problems_of(herold, warning(instruction="Bitte verlassen Sie sofort das Gebiet. " * 10))
        assert problem.startswith("instruction: headline, instruction and link need ")
        assert "280 characters that channel 'short' allows; shorten it, or leave channel 'short' out" in problem
        assert count(herold, AnnouncementRow) == 0


def test_an_accepted_announcement_is_recorded_in_the_audit_log_with_its_source(herold: Herold) -> None:
    announcement_id = accept(
        herold.engine, warning(media=[{"data": png(), "alt": "Karte"}]), source="api", actor="token:leitstelle"
    )
    entry = herold.store.audit.entries(announcement_id=announcement_id)[0]  # then its website delivery is released
    assert (entry.action, entry.source, entry.actor) == ("announcement.accepted", "api", "token:leitstelle")
    assert entry.detail is not None
    assert re.match(
        r"https://www.lk-beispiel.de/warnungen/\d{4}/\d{2}/fliegerbombe-in-der-altstadt-", entry.detail["url"]
    )
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    [media] = stored.announcement.media
    assert media.data is None and media.path is not None
    assert (herold.settings.herold.data_dir / media.path).exists()
    wait_until_settled(herold.engine, announcement_id, 20)


# -- what is stored is checked as stored: after a follow-up keeps what it leaves out ----------------------


def test_an_update_whose_effective_lies_after_the_expires_it_keeps_is_refused_and_nothing_is_stored(
    herold: Herold,
) -> None:
    now = herold.clock()
    original = accept(herold.engine, warning(expires=(now + timedelta(hours=1)).isoformat()), source="test", actor="t")
    stored_before = count(herold, AnnouncementRow)
    update = warning(
        msg_type="update", references=original, headline="Neue Lage", effective=(now + timedelta(hours=2)).isoformat()
    )
    for kept in ("category", "event", "severity", "area", "instruction"):
        update.pop(kept)

    [problem] = problems_of(herold, update)

    assert problem.startswith("expires: must be later than effective; expires ")
    assert "is kept from the announcement it refers to; give expires to change it" in problem
    assert count(herold, AnnouncementRow) == stored_before


def test_after_a_refused_update_the_warning_can_still_be_given_the_all_clear(herold: Herold) -> None:
    now = herold.clock()
    original = accept(herold.engine, warning(expires=(now + timedelta(hours=1)).isoformat()), source="test", actor="t")
    later = (now + timedelta(hours=2)).isoformat()
    refused = warning(msg_type="update", references=original, effective=later, expires=None)
    with pytest.raises(InvalidInput):
        accept(herold.engine, refused, source="test", actor="t")

    cancel = accept(
        herold.engine,
        {"authority": "lk-beispiel", "kind": "warning", "msg_type": "cancel", "references": original,
         "headline": "Entwarnung", "description": "Die Bombe ist entschärft."},
        source="test", actor="t",
    )  # fmt: skip

    deliveries = wait_until_settled(herold.engine, cancel, 20)
    assert [d.state.value for d in deliveries] == ["succeeded"]
    index = (herold.settings.herold.data_dir / "site" / "lk-beispiel" / "index.html").read_text()
    assert "Zurzeit liegen keine Warnungen vor." in index


def test_a_translation_into_the_default_language_is_refused_when_language_is_left_out(herold: Herold) -> None:
    document = warning(translations={"de": {"headline": "Fliegerbombe"}, "en": {"headline": "WWII bomb"}})

    assert problems_of(herold, document) == [
        "translations: de is the announcement's own language, not a translation; without language, it is the "
        "authority's first language, de"
    ]
    assert count(herold, AnnouncementRow) == 0


def test_an_update_that_keeps_an_expiry_already_passed_must_give_a_new_one(herold: Herold) -> None:
    clock = [herold.clock()]
    herold.clock = lambda: clock[0]
    original = accept(
        herold.engine, warning(expires=(clock[0] + timedelta(hours=1)).isoformat()), source="test", actor="t"
    )
    clock[0] += timedelta(hours=2)

    [problem] = problems_of(herold, warning(msg_type="update", references=original, expires=None))

    assert problem.startswith("expires: this update keeps expires ")
    assert problem.endswith("from the announcement it refers to, which has passed; give a new expires")


def test_publication_is_scheduled_at_most_a_year_ahead(herold: Herold) -> None:
    far = (herold.clock() + timedelta(days=400)).isoformat()
    assert problems_of(herold, news(publish_at=far)) == [
        "publish_at: lies more than 366 days ahead; Herold schedules at most that far"
    ]


def test_an_announcement_whose_stored_document_cannot_be_read_cannot_be_followed_up(herold: Herold) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    wait_until_settled(herold.engine, original, 20)
    with herold.store.engine.begin() as connection:  # a hand-edited row, as only a person can make one
        connection.execute(update(AnnouncementRow).where(AnnouncementRow.id == original).values(document={"x": 1}))
    forget_cached(original)

    [problem] = problems_of(herold, warning(msg_type="cancel", references=original, instruction=None))

    assert problem.startswith("references: refers to an announcement Herold cannot read (")
    assert problem.endswith("); publish a new announcement instead")


def test_text_a_follow_up_keeps_from_before_a_rule_existed_does_not_stop_the_follow_up(herold: Herold) -> None:
    original = accept(herold.engine, warning(), source="test", actor="t")
    wait_until_settled(herold.engine, original, 20)
    with herold.store.engine.begin() as connection:  # stored before control characters were refused
        document = connection.execute(select(AnnouncementRow.document).where(AnnouncementRow.id == original))
        legacy = {**document.scalar_one(), "event": "Bomben\x1bentschärfung", "effective": "1999-12-31T23:00:00Z"}
        connection.execute(update(AnnouncementRow).where(AnnouncementRow.id == original).values(document=legacy))
    forget_cached(original)

    update_id = accept(
        herold.engine, warning(msg_type="update", references=original, event=None), source="test", actor="t"
    )
    cancel = accept(herold.engine, warning(msg_type="cancel", references=original, event=None, instruction=None),
                    source="test", actor="t")  # fmt: skip

    assert [d.state.value for d in wait_until_settled(herold.engine, cancel, 20)] == ["succeeded"]
    kept = herold.store.announcements.get(update_id)
    assert kept is not None and kept.announcement.event == "Bomben\x1bentschärfung"
