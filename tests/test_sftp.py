"""SFTP: the built-in website, copied to the authority's own web host, before any platform.

The host here is real: an SSH/SFTP server in this process (tests/fakes/sftp_server.py) over a
temporary folder, with its own host key, and a web server that serves that folder as the
public website. The built-in website writes its pages as it does in production; the channel
copies them over.

What holds:

- the first copy puts the whole site on the host, and nothing of Herold's own bookkeeping;
- afterwards only files that changed move, and nothing at all when nothing changed;
- a copy that breaks off resumes where it stopped;
- the host key is checked before the password leaves, and a wrong one stops the channel;
- a refused password is a credentials error that does not repeat it;
- the delivery succeeds only once the public address answers 200 with the item: while it
  answers 404 the delivery is retried, says what it waits for, and no later wave starts.
"""

from __future__ import annotations

import copy
import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paramiko
import pytest
from paramiko.sftp import SFTP_FAILURE, SFTP_OP_UNSUPPORTED
from pydantic import ValidationError

from adapters import sftp as sftp_module
from adapters.port import (
    ChannelContext,
    CredentialsError,
    DeliveryError,
    PermanentError,
    Post,
    TransientError,
    remote,
)
from adapters.sftp import SftpSettings, SftpSync
from publisher.core.render import render
from publisher.domain.announcement import parse_announcement
from publisher.domain.authority import Authority, ChannelConfig
from publisher.engine import tasks
from publisher.engine.schema import OperationState
from publisher.site.model import Copy, Entry, Publication
from publisher.site.website import Site

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, publish, warning
from fakes.channels import Journal
from fakes.runner import ByHand
from fakes.sftp_server import FakeSftp, PublicWeb
from helpers import eventually
from kit import ITEM_PATH, ChannelCase, ChannelContract, connections_only_to, lifecycle
from services import free_port

SLUG: str = AUTHORITY["slug"]
PASSWORD = "Sommer-2026!geheim"
VARIABLE = "HEROLD_TEST_SFTP_PASSWORD"
KEY_VARIABLE = "HEROLD_TEST_SFTP_KEY"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl web.lk-beispiel.de"


# -- the web host, and an authority that copies its site there -------------------------------------


@dataclass
class Host:
    """The authority's web host: files go in by SFTP, readers get them over HTTP."""

    sftp: FakeSftp
    web: PublicWeb

    @property
    def base_url(self) -> str:
        return self.web.url + "warnungen/"

    def arrived(self) -> set[str]:
        """The files that arrived, by path below the site's folder there."""
        return {name.removeprefix("warnungen/") for name in self.sftp.arrived}

    def files(self) -> set[str]:
        return {name.removeprefix("warnungen/") for name in self.sftp.files()}


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    root = tmp_path / "host"
    (root / "warnungen").mkdir(parents=True)
    with FakeSftp(root, password=PASSWORD) as sftp, PublicWeb(root) as web:
        yield Host(sftp, web)


def sftp_channel(host: Host, **changes: Any) -> dict[str, Any]:
    config = {
        "id": "host", "type": "sftp", "host": "127.0.0.1", "port": host.sftp.port, "username": "herold",
        "directory": "/warnungen", "password_env": VARIABLE, "host_key": host.sftp.host_key_line,
        "settle_seconds": 0, "call_deadline_seconds": 5,
    }  # fmt: skip
    return {key: value for key, value in {**config, **changes}.items() if value is not None}


def authority(host: Host, *channels: dict[str, Any], lists_every_seconds: float = 0) -> dict[str, Any]:
    result = copy.deepcopy(AUTHORITY)
    result["base_url"] = host.base_url
    result["channels"] = [{"id": "website", "type": "website", "lists_every_seconds": lists_every_seconds}, *channels]
    return result


class Office:
    """One authority's Herold without the engine: its built-in website, and the SFTP channel."""

    def __init__(self, make_settings: SettingsFactory, host: Host, env: dict[str, str], lists_every_seconds: float,
                 **changes: Any) -> None:  # fmt: skip
        settings = make_settings(
            authorities=[authority(host, sftp_channel(host, **changes), lists_every_seconds=lists_every_seconds)],
            env=env,
        )
        self.owner = settings.authority(SLUG)
        self.data_dir = settings.herold.data_dir
        self.site = Site(self.owner.channel("website"), self.owner, clock=lambda: NOW, data_dir=self.data_dir)
        self.context = ChannelContext(authority=self.owner, secrets=settings.secrets_of(SLUG, "host"),
                                      media=self.data_dir, site=self.site.directory, deadline=5.0)  # fmt: skip
        self.channel = SftpSync(self.owner.channel("host"), self.context)

    def item(self, number: int, *, written: bool = True) -> Post:
        """Item ``number``, published on the built-in website (unless not ``written``); its post."""
        announcement = parse_announcement(warning(headline=f"Fliegerbombe Nummer {number}"))
        entry_id = f"{number:08d}-0000-4000-8000-000000000000"
        path = f"2026/11/fliegerbombe-{number}/"
        if written:
            self.site.publish(Publication(
                item_id=entry_id, item_path=path, item_month="2026-11",
                entry=Entry(id=entry_id, announcement=announcement, variant_text=f"Text {number}",
                            published=NOW + timedelta(minutes=number)),
            ))  # fmt: skip
        url = self.owner.url(path)
        return Post(
            delivery_id=f"d{number}", idempotency_key=f"herold-d{number}", announcement_id=entry_id,
            announcement=announcement, item_id=entry_id, item_url=url,
            variant=render(announcement, channel="host", template=SftpSync.capabilities.template, link=url),
        )  # fmt: skip

    def site_files(self) -> dict[str, str]:
        """Each file of the built-in website (hidden ones aside), by path, with its content's hash."""
        root = self.site.directory
        return {
            path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in root.rglob("*")
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
        }


MakeOffice = Callable[..., Office]


@pytest.fixture
def make_office(make_settings: SettingsFactory, host: Host) -> MakeOffice:
    def make(env: dict[str, str] | None = None, lists_every_seconds: float = 0, **changes: Any) -> Office:
        return Office(make_settings, host, env or {VARIABLE: PASSWORD}, lists_every_seconds, **changes)

    return make


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name, digest in after.items() if before.get(name) != digest}


# -- the contract every channel keeps --------------------------------------------------------------

CASE = ChannelCase(kind=SftpSync, settings=lambda url: {}, http=False)


class TestSftpContract(ChannelContract):
    case = CASE

    def test_a_full_lifecycle_only_sends_and_never_reads_other_people_s_data(self, media: Path) -> None:
        """On a web host there are no other people's data: what is checked is that the channel
        only writes there (reads no file back, lists no folder), asks the public site for the
        item's page and nothing else, and connects nowhere else."""
        root = media / "host"
        (root / "warnungen").mkdir(parents=True)
        site = media / "site"
        (site / ITEM_PATH).mkdir(parents=True)
        (site / ITEM_PATH / "index.html").write_text('<meta name="herold-item" content="a1"><p data-announcement="a1">')
        (site / "index.html").write_text("<p>Aktuelle Warnungen</p>")
        with FakeSftp(root, password=PASSWORD) as server, PublicWeb(root) as web:
            channel = contract_channel(server, web, media, site)
            with connections_only_to(("127.0.0.1", server.port), web.address) as elsewhere:
                steps = lifecycle(channel)
        assert set(steps.values()) == {"ok"}, steps
        assert not elsewhere, f"connections around the doubles, unrecorded: {elsewhere}"
        assert server.arrived == [f"warnungen/{ITEM_PATH}index.html", "warnungen/index.html"]
        assert server.names("read") == [] and server.names("list") == [], "it read from the host"
        assert {answer.path for answer in web.answers} == {f"/warnungen/{ITEM_PATH}"}


def contract_channel(server: FakeSftp, web: PublicWeb, media: Path, site: Path) -> SftpSync:
    settings = SftpSettings(host="127.0.0.1", port=server.port, username="herold", directory="/warnungen",
                            password_env=VARIABLE, host_key=server.host_key_line, settle_seconds=0)  # fmt: skip
    config = ChannelConfig(id="kanal", type="sftp", settings=settings)
    owner = Authority(slug=SLUG, name="Landkreis Beispiel", base_url=web.url + "warnungen/",
                      impressum_url=AUTHORITY["impressum_url"], privacy_url=AUTHORITY["privacy_url"],
                      channels=[config])  # fmt: skip
    context = ChannelContext(authority=owner, secrets={"password": PASSWORD}, media=media, site=site, deadline=5.0)
    return SftpSync(config, context)


# -- copying only what changed ---------------------------------------------------------------------


def test_the_first_copy_puts_the_whole_site_on_the_host_and_nothing_of_herold_s_own(
    make_office: MakeOffice, host: Host
) -> None:
    office = make_office()
    post = office.item(1)
    (office.site.directory / ".index.html.4711.part").write_text("half a page, being written")

    receipt = office.channel.publish(post)

    site = office.site_files()
    assert {"index.html", "2026/11/fliegerbombe-1/index.html", "atom.xml", "style.css"} <= set(site)
    assert host.files() == set(site), "the site, without its hidden half-written files"
    assert host.arrived() == set(site) and len(host.sftp.arrived) == len(site)
    for name, digest in site.items():
        assert hashlib.sha256((host.sftp.root / "warnungen" / name).read_bytes()).hexdigest() == digest
    bookkeeping = {p.name for p in (office.data_dir / "state").rglob("*") if p.is_file()}
    assert bookkeeping, "the site keeps its record beside it"
    assert not bookkeeping & {Path(name).name for name in host.files()}
    assert receipt.platform_id == "/warnungen/2026/11/fliegerbombe-1/index.html"
    assert receipt.url is None, "the item page would otherwise list itself as a copy elsewhere"


def test_after_one_more_item_only_the_files_that_changed_move_and_then_nothing(
    make_office: MakeOffice, host: Host
) -> None:
    office = make_office()
    office.channel.publish(office.item(1))
    before = office.site_files()
    host.sftp.forget()

    post = office.item(2)
    moved = changed(before, office.site_files())
    office.channel.publish(post)

    assert "2026/11/fliegerbombe-2/index.html" in moved
    assert {"2026/11/fliegerbombe-1/index.html", "style.css", "archive/index.html"}.isdisjoint(moved)
    assert sorted(host.sftp.arrived) == sorted(f"warnungen/{name}" for name in moved)
    assert host.sftp.names("read") == [], "what is on the host is known from the manifest, not read back"

    host.sftp.forget()
    office.channel.publish(post)  # a retry, or the next delivery of the same item
    assert host.sftp.arrived == []
    assert host.sftp.connections == 0, "nothing changed: no reason to connect"


def test_a_failed_replace_on_the_host_never_takes_the_live_page_down(make_office: MakeOffice, host: Host) -> None:
    office = make_office()
    office.channel.publish(office.item(1))
    index = host.sftp.root / "warnungen" / "index.html"
    live = index.read_bytes()

    host.sftp.posix_rename_status = SFTP_FAILURE  # the host's disk is full, say
    with pytest.raises(DeliveryError):
        office.channel.publish(office.item(2))
    assert index.read_bytes() == live, "the page readers see stays as it was"

    host.sftp.posix_rename_status = SFTP_OP_UNSUPPORTED  # an old server: replaced by remove and rename
    office.channel.publish(office.item(2))
    assert b"Fliegerbombe Nummer 2" in index.read_bytes()


def test_the_lists_the_site_writes_a_moment_after_the_item_page_follow_in_a_second_pass(
    make_office: MakeOffice, host: Host
) -> None:
    office = make_office(lists_every_seconds=0.4, settle_seconds=0.8)
    office.item(1)
    post = office.item(2)  # in a burst: the site holds the lists back for lists_every_seconds
    assert post.item_url not in (office.site.directory / "atom.xml").read_text()

    office.channel.publish(post)

    assert post.item_url in (host.sftp.root / "warnungen" / "atom.xml").read_text()
    assert "Nummer 2" in (host.sftp.root / "warnungen" / "index.html").read_text()


def test_files_herold_put_there_go_when_the_site_drops_them_and_nothing_else_is_touched(
    make_office: MakeOffice, host: Host
) -> None:
    office = make_office()
    own = host.sftp.root / "warnungen" / "kontakt.html"
    own.write_text("the authority's own page, not Herold's")
    extra = office.site.directory / "plan.pdf"
    office.site.directory.mkdir(parents=True)
    extra.write_bytes(b"%PDF-1.7")
    post = office.item(1)
    office.channel.publish(post)
    assert "plan.pdf" in host.files()

    extra.unlink()
    office.channel.publish(post)

    assert "plan.pdf" not in host.files()
    assert own.read_text() == "the authority's own page, not Herold's"


def test_a_copy_cut_off_midway_resumes_where_it_stopped(make_office: MakeOffice, host: Host) -> None:
    office = make_office()
    post = office.item(1)
    host.sftp.drop_after = 3  # the third file arrives, but its answer never does

    with pytest.raises(TransientError) as cut:
        office.channel.publish(post)
    first = list(host.sftp.arrived)
    assert len(first) == 3
    assert "the next attempt continues where this one stopped" in cut.value.reason

    host.sftp.drop_after = None
    host.sftp.forget()
    office.channel.publish(post)

    site = {f"warnungen/{name}" for name in office.site_files()}
    again = host.sftp.arrived
    assert set(again) == (site - set(first)) | {first[-1]}, "only the file whose answer was lost goes again"
    assert len(again) == len(set(again))
    assert host.sftp.files() == site


def test_deliveries_at_the_same_moment_copy_each_file_once(make_office: MakeOffice, host: Host) -> None:
    office = make_office()
    post = office.item(1)
    failures: list[BaseException] = []

    def deliver() -> None:
        try:
            office.channel.publish(post)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert sorted(host.sftp.arrived) == sorted(set(host.sftp.arrived))
    assert host.sftp.connections == 1


# -- the item's page: written here first, public there before the delivery succeeds -----------------


def test_until_the_built_in_website_has_written_the_page_the_delivery_waits(
    make_office: MakeOffice, host: Host
) -> None:
    office = make_office()
    post = office.item(1, written=False)

    with pytest.raises(TransientError) as waiting:
        office.channel.publish(post)

    assert waiting.value.reason == "waiting for the built-in website to write the item page"
    assert waiting.value.retry_after is not None and waiting.value.retry_after <= 5
    assert host.sftp.connections == 0


def test_while_the_public_page_answers_404_the_delivery_waits_and_says_for_what(
    make_office: MakeOffice, host: Host
) -> None:
    office = make_office()
    post = office.item(1)
    host.web.not_found = 1  # the host's cache, or its own sync, lags behind

    with pytest.raises(TransientError) as waiting:
        office.channel.publish(post)
    assert post.item_url in waiting.value.reason
    assert "404" in waiting.value.reason
    assert host.arrived() == set(office.site_files()), "the copy itself went through"

    host.sftp.forget()
    office.channel.publish(post)  # the retry: 200, with the item and the announcement in it
    assert host.sftp.arrived == []
    assert host.web.statuses() == [404, 200]


def test_a_page_the_host_lost_is_copied_again_on_the_next_attempt(make_office: MakeOffice, host: Host) -> None:
    office = make_office()
    post = office.item(1)
    office.channel.publish(post)
    (host.sftp.root / "warnungen/2026/11/fliegerbombe-1/index.html").unlink()  # a restore, a clean-up

    with pytest.raises(TransientError, match="404"):
        office.channel.publish(post)
    host.sftp.forget()
    office.channel.publish(post)

    # The item's folder is copied again (its page and its CAP documents), nothing else.
    folder = "warnungen/2026/11/fliegerbombe-1/"
    assert "warnungen/2026/11/fliegerbombe-1/index.html" in host.sftp.arrived
    assert all(path.startswith(folder) for path in host.sftp.arrived)


def test_an_authority_without_a_built_in_website_has_nothing_to_copy(make_office: MakeOffice, host: Host) -> None:
    office = make_office()
    channel = SftpSync(office.owner.channel("host"), replace(office.context, site=None))

    with pytest.raises(PermanentError, match="no built-in website to copy"):
        channel.publish(office.item(1))
    assert any("no built-in website" in problem for problem in channel.check())


# -- logging in, and the server's identity -------------------------------------------------------


def test_a_refused_password_is_a_credentials_error_that_does_not_repeat_it(make_office: MakeOffice, host: Host) -> None:
    wrong = "Winter-2025?falsch"
    office = make_office(env={VARIABLE: wrong})

    with pytest.raises(CredentialsError) as refused:
        office.channel.publish(office.item(1))

    assert "herold" in refused.value.reason and "password" in refused.value.reason
    assert wrong not in str(refused.value) and PASSWORD not in str(refused.value)
    assert host.sftp.logins and host.sftp.arrived == []


def test_a_key_logs_in_in_place_of_a_password(make_office: MakeOffice, host: Host) -> None:
    key = paramiko.ECDSAKey.generate()
    host.sftp.key, host.sftp.password = key, None
    text = io.StringIO()
    key.write_private_key(text)
    office = make_office(env={KEY_VARIABLE: text.getvalue()}, password_env=None, private_key_env=KEY_VARIABLE)

    office.channel.publish(office.item(1))

    assert ("herold", "publickey") in host.sftp.logins
    assert "index.html" in host.files()


def test_a_host_showing_another_key_gets_nothing_not_even_the_password(make_office: MakeOffice, host: Host) -> None:
    impostor = paramiko.ECDSAKey.generate()
    office = make_office(host_key=f"{impostor.get_name()} {impostor.get_base64()}")

    with pytest.raises(PermanentError) as refused:
        office.channel.publish(office.item(1))

    assert type(refused.value) is PermanentError
    assert host.sftp.host_key.fingerprint in refused.value.reason, "it says which key it saw"
    assert "someone may be in between" in refused.value.reason
    assert host.sftp.logins == [], "the password never left"
    assert host.sftp.arrived == []


def test_known_hosts_recognises_the_server_and_a_host_it_does_not_name_is_refused(
    make_office: MakeOffice, host: Host, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{free_port()} {host.sftp.host_key_line}\n")  # another port: another host
    office = make_office(host_key=None, known_hosts=str(known))
    post = office.item(1)

    with pytest.raises(PermanentError, match=r"has no key for \[127\.0\.0\.1\]:\d+; the server shows ecdsa"):
        office.channel.publish(post)
    assert host.sftp.logins == []

    known.write_text(host.sftp.known_hosts_line + "\n")
    office.channel.publish(post)
    assert "index.html" in host.files()


# -- what else can go wrong ---------------------------------------------------------------------


def test_a_folder_the_account_may_not_write_stops_the_delivery_naming_it(make_office: MakeOffice, host: Host) -> None:
    office = make_office()
    host.sftp.denied = {"warnungen/archive"}

    with pytest.raises(PermanentError) as refused:
        office.channel.publish(office.item(1))

    assert "/warnungen/archive/" in refused.value.reason and "permission denied" in refused.value.reason


def test_a_site_folder_missing_on_the_server_is_named(make_office: MakeOffice, host: Host) -> None:
    office = make_office(directory="/nirgendwo")

    with pytest.raises(PermanentError, match="the directory /nirgendwo does not exist"):
        office.channel.publish(office.item(1))
    assert host.sftp.names("mkdir") == [], "it makes folders below the site's, never the site's own"


def test_a_server_nobody_answers_at_is_tried_again(make_office: MakeOffice, host: Host) -> None:
    office = make_office(port=free_port())

    with pytest.raises(TransientError, match=r"cannot connect to 127\.0\.0\.1"):
        office.channel.publish(office.item(1))


def test_a_server_that_stops_answering_holds_a_delivery_no_longer_than_the_call_deadline(
    make_office: MakeOffice, host: Host
) -> None:
    office = make_office(call_deadline_seconds=0.5)
    post = office.item(1)
    host.sftp.silent = True

    started = time.monotonic()
    with pytest.raises(TransientError):
        office.channel.publish(post)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"env": {VARIABLE: "falsch"}}, "refused the password of herold"),
        ({"directory": "/nirgendwo"}, "the directory /nirgendwo does not exist"),
        ({"host_key": "ecdsa-sha2-nistp256 " + paramiko.ECDSAKey.generate().get_base64()}, "shows the host key"),
    ],
)
def test_the_setup_check_logs_in_and_looks_without_copying_anything(
    make_office: MakeOffice, host: Host, changes: dict[str, Any], problem: str | None
) -> None:
    office = make_office(**changes)
    office.item(1)

    problems = list(office.channel.check())

    assert [p for p in problems if problem is None or problem not in p] == []
    assert len(problems) == (0 if problem is None else 1)
    assert host.sftp.arrived == [] and host.sftp.names("write") == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password_env": None}, "needs password_env or private_key_env"),
        ({"host_key": None}, "needs host_key"),
        ({"host_key": "ssh-ed25519 nicht-base64"}, "is not a public key line"),
        ({"directory": "/var/www/../etc"}, 'no ".."'),
        ({"password_env": "HEROLD SFTP"}, "password_env"),
    ],
)
def test_settings_that_could_not_work_are_refused_when_the_config_is_read(
    changes: dict[str, Any], message: str
) -> None:
    settings = {"host": "www.lk-beispiel.de", "username": "herold", "directory": "/var/www/warnungen",
                "password_env": VARIABLE, "host_key": HOST_KEY}  # fmt: skip
    with pytest.raises(ValidationError, match=message):
        SftpSettings.model_validate({k: v for k, v in {**settings, **changes}.items() if v is not None})


# -- in the engine: wave 2 waits for the web host ---------------------------------------------------


def test_through_the_engine_no_platform_hears_of_an_item_before_the_web_host_shows_it(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    journal: Journal,
    host: Host,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(remote, "LOOK_AGAIN_SECONDS", 0.05)
    monkeypatch.setattr(sftp_module, "PAGE_LOOK_AGAIN_SECONDS", 0.05)
    host.web.not_found = 3  # the host answers 404 for a while after the copy
    channels = (sftp_channel(host, settle_seconds=0.1), {"id": "fedi", "type": "fake-fediverse"})
    herold = make_herold(make_settings(
        authorities=[authority(host, *channels)], env={VARIABLE: PASSWORD},
        grace_warning_seconds=0.3, grace_news_seconds=0.3, retry_base_seconds=0.05,
    ))  # fmt: skip

    announcement_id = publish(herold, warning())

    states = {o.channel: o.state for o in herold.store.operations.of(announcement_id, publishing=True)}
    assert states == {"website": OperationState.succeeded, "host": OperationState.succeeded,
                      "fedi": OperationState.succeeded}  # fmt: skip
    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    page = f"/warnungen/{stored.item_path}"
    answers = [a for a in host.web.answers if a.path == page]
    assert [a.status for a in answers][:4] == [404, 404, 404, 200]
    [call] = journal.of("fedi")
    assert call.at >= min(a.at for a in answers if a.status == 200), "wave 2 began while the page answered 404"
    waits = [e.detail["reason"] for e in herold.store.audit.entries(announcement_id=announcement_id)
             if e.action == "delivery.retry" and e.detail and e.detail["channel"] == "host"]  # fmt: skip
    assert any(f"waiting for {host.base_url}{stored.item_path} to answer 200" in w and "404" in w for w in waits)
    assert f"{stored.item_path}index.html" in host.files()


def test_what_the_site_changes_between_deliveries_reaches_the_host_without_a_new_message(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    journal: Journal,
    host: Host,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Once the fediverse post is out, the item page lists it (u-syndication): the copy on the web
    # host must show that too, not only the next message's copy.
    monkeypatch.setattr(tasks, "MIRROR_AFTER_SECONDS", 0.05)
    channels = (sftp_channel(host), {"id": "fedi", "type": "fake-fediverse"})
    herold = make_herold(make_settings(
        authorities=[authority(host, *channels)], env={VARIABLE: PASSWORD},
        grace_warning_seconds=0.3, grace_news_seconds=0.3, retry_base_seconds=0.05,
    ))  # fmt: skip

    announcement_id = publish(herold, warning())

    stored = herold.store.announcements.get(announcement_id)
    assert stored is not None
    page = host.sftp.root / "warnungen" / stored.item_path / "index.html"
    copy_url = "https://fake-fediverse.example/fedi/"
    assert eventually(lambda: copy_url in page.read_text(encoding="utf-8")), "the host's page never listed the copy"


def test_when_the_site_s_own_housekeeping_rewrites_pages_the_host_is_asked_to_catch_up(
    make_settings: SettingsFactory, make_herold: HeroldFactory, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A warning that expires rewrites its page and the index with no message to carry that along.
    runner = ByHand()
    herold = make_herold(make_settings(authorities=[authority(host, sftp_channel(host))], env={VARIABLE: PASSWORD}),
                         runner=runner)  # fmt: skip
    rewrote = {"pages": False}
    monkeypatch.setattr(Site, "housekeeping", lambda site, now: rewrote["pages"])

    tasks.sweep(herold.engine)
    assert runner.take("mirror") == [], "nothing rewritten, nothing to copy"
    rewrote["pages"] = True
    tasks.sweep(herold.engine)
    assert runner.take("mirror") == ["lk-beispiel/host"]


def test_a_mirror_copies_what_changed_and_waits_for_no_page(make_office: MakeOffice, host: Host) -> None:
    office = make_office()
    post = office.item(1)
    office.channel.publish(post)
    host.sftp.forget()
    answered = len(host.web.answers)

    office.site.copies(post.item_id, {post.announcement_id: [Copy("fedi", "mastodon", "https://social.example/@lk/1")]})
    moved = office.channel.mirror()

    assert moved >= 1 and "warnungen/2026/11/fliegerbombe-1/index.html" in host.sftp.arrived
    assert len(host.web.answers) == answered, "no page is fetched: nothing waits on a mirror"
    assert office.channel.mirror() == 0, "nothing changed since: nothing moves"


def test_every_error_is_a_delivery_error(make_office: MakeOffice, host: Host) -> None:
    """Whatever the server or the network does, the engine gets one of its own errors."""
    office = make_office()
    post = office.item(1)
    host.sftp.stop()  # it goes away entirely
    with pytest.raises(DeliveryError):
        office.channel.publish(post)
