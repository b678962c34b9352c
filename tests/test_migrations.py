"""Upgrading a database that is in use: what was delivered and pinned before stays so."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from publisher.domain.announcement import parse_announcement
from publisher.domain.records import Action, OperationState
from publisher.edges.wiring import Herold
from publisher.engine.schema import Base
from publisher.engine.store import Store
from publisher.engine.store.database import migrate
from publisher.engine.store.documents import readable

from conftest import SettingsFactory, news, publish, warning

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def a_database_at_0004_with_a_pinned_warning_and_a_waiting_update(url: str) -> Store:
    store = Store(url)
    migrate(store.engine, "0004")
    document = readable(parse_announcement(warning()))
    with store.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO items (id, authority, kind, path, month, created_at) "
                 "VALUES ('item', 'lk-beispiel', 'warning', '2026/11/bombe/', '2026-11', :at)"),
            {"at": AT},
        )  # fmt: skip
        for announcement_id, msg_type in (("alert", "alert"), ("update", "update")):
            connection.execute(
                text('INSERT INTO announcements (id, item_id, authority, kind, msg_type, "references", document, '
                     "source, actor, received_at, sent_at, override_reason) VALUES (:id, 'item', 'lk-beispiel', "
                     "'warning', :msg_type, NULL, :document, 'api', 'Leitstelle', :at, :at, NULL)"),
                {"id": announcement_id, "msg_type": msg_type, "document": json.dumps(document), "at": AT},
            )  # fmt: skip
        deliveries = [
            ("alert-website", "alert", "website", 1, "succeeded", "page", False),
            ("alert-fediverse", "alert", "fediverse", 2, "succeeded", "110", True),
            ("update-website", "update", "website", 1, "pending", None, False),
            ("update-fediverse", "update", "fediverse", 2, "waiting", None, False),
        ]
        for delivery_id, announcement_id, channel, wave, state, platform_id, pinned in deliveries:
            connection.execute(
                text("INSERT INTO deliveries (id, announcement_id, authority, channel, channel_type, kind, wave, "
                     "state, attempts, idempotency_key, deadline_at, platform_id, ambiguous, created_at, updated_at, "
                     "pinned) VALUES (:id, :announcement, 'lk-beispiel', :channel, :type, 'warning', :wave, "
                     ":state, 1, :key, :at, :platform_id, :no, :at, :at, :pinned)"),
                {"id": delivery_id, "announcement": announcement_id, "channel": channel,
                 "type": "website" if channel == "website" else "mastodon", "wave": wave, "state": state,
                 "key": f"herold-{delivery_id}", "at": AT, "platform_id": platform_id, "no": False,
                 "pinned": pinned},
            )  # fmt: skip
    return store


def test_deliveries_become_operations_and_a_pinned_post_keeps_its_pin(database_url: str) -> None:
    store = a_database_at_0004_with_a_pinned_warning_and_a_waiting_update(database_url)
    try:
        store.migrate()

        alert = {(o.channel, o.action): o for o in store.operations.of("alert")}
        assert {key: (o.state, o.platform_id) for key, o in alert.items()} == {
            ("website", Action.publish): (OperationState.succeeded, "page"),
            ("fediverse", Action.publish): (OperationState.succeeded, "110"),
            ("fediverse", Action.pin): (OperationState.succeeded, None),
        }
        assert alert["fediverse", Action.pin].target_id == "alert-fediverse"
        assert [o.id for o in store.operations.pinned()] == ["alert-fediverse"]
        assert [o.target_id for o in store.operations.pins_to_undo("item")] == ["alert-fediverse"], (
            "an all-clear unpins it"
        )
        update = {o.channel: (o.action, o.state) for o in store.operations.of("update")}
        assert update == {
            "website": (Action.publish, OperationState.pending),
            "fediverse": (Action.reply, OperationState.waiting),
        }
    finally:
        store.dispose()


def test_the_migrations_build_exactly_the_schema_the_code_declares(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.migrate()
        with store.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        store.dispose()


def test_a_site_from_before_sites_kept_a_record_keeps_everything_it_published(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    before = Herold(settings)
    before.start()
    alert = publish(before, warning())
    publish(before, news(headline="Bürgerbüro geschlossen"))
    site = before.site("lk-beispiel")
    before.stop()
    shutil.rmtree(site.record.folder)  # what an installation from before the record looks like

    after = Herold(settings)
    after.start()
    try:
        publish(after, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"))
        publish(after, news(headline="Neue Öffnungszeiten"))
    finally:
        after.stop()

    index = (site.directory / "index.html").read_text(encoding="utf-8")
    assert "Fliegerbombe in der Altstadt" in index or "Sperrgebiet erweitert" in index, "the warning is still current"
    feed = (site.directory / "atom.xml").read_text(encoding="utf-8")
    for headline in ("Bürgerbüro geschlossen", "Neue Öffnungszeiten", "Sperrgebiet erweitert"):
        assert headline in feed
    page = next(site.directory.glob("**/fliegerbombe-in-der-altstadt-*/index.html")).read_text(encoding="utf-8")
    assert "Fliegerbombe in der Altstadt" in page and "Sperrgebiet erweitert" in page, "the alert stays on its page"


def test_warning_systems_messages_stored_as_hook_are_found_under_their_format_after_the_upgrade(
    database_url: str,
) -> None:
    store = Store(database_url)
    try:
        migrate(store.engine, "0012")
        document = json.dumps(readable(parse_announcement(warning())))
        with store.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO items (id, authority, kind, path, month, created_at) "
                     "VALUES ('item', 'lk-beispiel', 'warning', '2026/12/brand/', '2026-12', :at)"),
                {"at": AT},
            )  # fmt: skip
            for announcement_id, source_id in (("cap", "warnung@leitstelle.de,brand-1,2026-12-02T21:00:00+01:00"),
                                               ("json", "msg_2Xo9")):  # fmt: skip
                connection.execute(
                    text('INSERT INTO announcements (id, item_id, authority, kind, msg_type, "references", document, '
                         "source, source_id, actor, received_at, sent_at, override_reason, stage) VALUES (:id, "
                         "'item', 'lk-beispiel', 'warning', 'alert', NULL, :document, 'hook:leitstelle', :source_id, "
                         "'hook:leitstelle', :at, :at, NULL, 'released')"),
                    {"id": announcement_id, "document": document, "source_id": source_id, "at": AT},
                )  # fmt: skip
        store.migrate()
        found = store.announcements.by_source(
            "lk-beispiel", "cap:leitstelle", "warnung@leitstelle.de,brand-1,2026-12-02T21:00:00+01:00"
        )
        assert found is not None and found[0] == "cap"
        assert store.announcements.by_source("lk-beispiel", "announcement:leitstelle", "msg_2Xo9") is not None
    finally:
        store.dispose()
