"""The delivery engine on Celery: real Redis, real PostgreSQL, real `herold worker` and `herold beat`
processes, fake platforms on 127.0.0.1. Exactly once, in order, never silent — even when a worker
is killed or Redis loses everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from publisher.edges.config import load_settings
from publisher.edges.wiring import Herold
from publisher.engine.schema import OperationState
from publisher.engine.tasks import settled
from publisher.sources.intake import accept

from conftest import news, warning
from fakes.mailbox import Mailbox
from fakes.mastodon_server import FakeMastodon, delay, retry_after, status
from fakes.webhook_receiver import Answer, Receiver
from services import Postgres, Redis, free_port

# Real Celery workers, Redis and PostgreSQL, started and killed as processes.
pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

MASTODON_TOKEN = "herold-token"
HOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtcGFydG5lci1ob29rcw=="
ONCALL_SECRET = "whsec_" + "b25jYWxsLXNlY3JldC1mb3ItdGhlLWxlaXRzdGVsbGU="
CONFIG = """
[herold]
data_dir = "{data_dir}"
database_url = "{database_url}"
redis_url = "{redis_url}"
grace_warning_seconds = 1
grace_news_seconds = 1
lease_seconds = 6
retry_base_seconds = 0.2
sweep_seconds = 0.5
requeue_after_seconds = 3
http_connect_timeout = 2
http_read_timeout = {read_timeout}
log_format = "json"
log_level = "warning"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_from = "herold@lk-beispiel.de"

[[authorities]]
slug = "lk-beispiel"
name = "Landkreis Beispiel"
base_url = "https://www.lk-beispiel.de/"
impressum_url = "https://www.lk-beispiel.de/impressum"
privacy_url = "https://www.lk-beispiel.de/datenschutz"

  [authorities.oncall]
  emails = ["leitstelle@lk-beispiel.de"]
  webhook_url = "{oncall_url}"
  webhook_secret_env = "HEROLD_ONCALL_SECRET"

  [[authorities.channels]]
  id = "website"
  type = "website"

  [[authorities.channels]]
  id = "mastodon"
  type = "mastodon"
  instance = "{mastodon_url}"
  access_token_env = "HEROLD_MASTODON_TOKEN"

  [[authorities.channels]]
  id = "radio"
  type = "webhook"
  url = "{hook_url}"
  secret_env = "HEROLD_HOOK_SECRET"
"""


@dataclass
class Cluster:
    directory: Path
    env: dict[str, str]
    mastodon: FakeMastodon
    hook: Receiver
    oncall: Receiver
    mailbox: Mailbox
    redis: Redis
    herold: Herold
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    page_violations: list[str] = field(default_factory=list)

    def command(self, *arguments: str) -> subprocess.Popen[bytes]:
        log = open(self.directory / f"{arguments[0]}-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "publisher", *arguments], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop it, and only it, by pid
        )  # fmt: skip
        self.processes.append(process)
        return process

    def start_worker(self) -> subprocess.Popen[bytes]:
        return self.command("worker", "--concurrency", "8")

    def kill(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Stop a process and everything it started (its own process group), by its pid."""
        if process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def publish(self, document: dict[str, Any]) -> str:
        return accept(self.herold.engine, document, source="test", actor="t")

    def wait(self, ids: list[str], timeout: float = 120) -> dict[str, list[Any]]:
        deadline = time.monotonic() + timeout
        while True:
            deliveries = {i: self.herold.store.operations.of(i, publishing=True) for i in ids}
            if all(settled(d) for d in deliveries.values()) or time.monotonic() > deadline:
                return deliveries
            time.sleep(0.2)

    def page_exists(self, item_url: str) -> bool:
        path = item_url.removeprefix("https://www.lk-beispiel.de/")
        return (self.directory / "var" / "site" / "lk-beispiel" / path / "index.html").exists()

    def states(self, announcement_id: str) -> dict[str, OperationState]:
        return {d.channel: d.state for d in self.herold.store.operations.of(announcement_id, publishing=True)}

    def log_lines(self, command: str) -> list[str]:
        """What the processes of one command (worker, beat) wrote, line by line."""
        return [
            line
            for log in sorted(self.directory.glob(f"{command}-*.log"))
            for line in log.read_text(errors="replace").splitlines()
            if line.strip()
        ]


@pytest.fixture
def cluster(tmp_path: Path, postgres: Postgres) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(read_timeout: float = 5, workers: int = 1) -> Cluster:
        redis = Redis().start()
        mastodon = FakeMastodon(tokens={MASTODON_TOKEN: "lkbeispiel"}).start()
        hook, oncall = Receiver().start(), Receiver().start()
        mailbox = Mailbox().start()
        database_url = postgres.database(f"cluster_{free_port()}")
        config = tmp_path / "herold.toml"
        config.write_text(CONFIG.format(
            data_dir=tmp_path / "var", database_url=database_url, redis_url=redis.url, read_timeout=read_timeout,
            smtp_port=mailbox.port, oncall_url=oncall.url, mastodon_url=mastodon.url, hook_url=hook.url,
        ))  # fmt: skip
        env = {
            **os.environ, "HEROLD_CONFIG": str(config), "HEROLD_MASTODON_TOKEN": MASTODON_TOKEN,
            "HEROLD_HOOK_SECRET": HOOK_SECRET, "HEROLD_ONCALL_SECRET": ONCALL_SECRET,
        }  # fmt: skip
        settings = load_settings(config, env)
        herold = Herold(settings)
        herold.store.migrate()
        result = Cluster(tmp_path, env, mastodon, hook, oncall, mailbox, redis, herold)

        def check_page(request: Any) -> None:
            body = request.json() if hasattr(request, "json") else {}
            url = body.get("data", {}).get("item_url") if isinstance(body, dict) else None
            if url and not result.page_exists(url):
                result.page_violations.append(f"{request.path} before {url} existed")

        hook.on_request = check_page
        made.append(result)
        for _ in range(workers):
            result.start_worker()
        result.command("beat")
        return result

    yield make
    for result in made:
        # The receivers first: a task still waiting on one (a partner that hangs) then ends at
        # once, and a worker's warm shutdown does not wait out its 10 s before being killed. The
        # fake Mastodon only after the workers: it reports any request it could not answer, and
        # one arriving while it stops would be such a request.
        result.hook.stop()
        result.oncall.stop()
        for process in result.processes:
            result.kill(process, signal.SIGTERM)
        result.herold.stop()
        for stop in (result.mastodon.stop, result.mailbox.stop, result.redis.stop):
            stop()


def test_a_worker_killed_while_delivering_is_replaced_and_every_status_arrives_exactly_once(
    cluster: Callable[..., Cluster],
) -> None:
    world = cluster()
    world.mastodon.fail("POST", "/api/v1/statuses", *[delay(3)] * 5)
    ids = [world.publish(warning(headline=f"Fliegerbombe Nummer {n}")) for n in range(5)]
    deadline = time.monotonic() + 30
    while not any(r.path.startswith("/api/v1/statuses") for r in world.mastodon.requests):
        assert time.monotonic() < deadline, "Mastodon was never called"
        time.sleep(0.05)
    world.kill(world.processes[0])  # kill -9, in the middle of a request to Mastodon
    world.start_worker()
    deliveries = world.wait(ids)
    assert {d.state for ds in deliveries.values() for d in ds} == {OperationState.succeeded}
    texts = [s["content"] for s in world.mastodon.statuses]
    for number in range(5):
        assert sum(f"Fliegerbombe Nummer {number}<" in text for text in texts) == 1
    assert len(world.mastodon.statuses) == 5


def test_redis_restarted_empty_in_the_middle_of_a_run_loses_nothing_and_doubles_nothing(
    cluster: Callable[..., Cluster],
) -> None:
    world = cluster()
    ids = [world.publish(news(headline=f"Meldung {n}")) for n in range(25)]
    world.redis.restart_empty()
    ids += [world.publish(news(headline=f"Meldung {n}")) for n in range(25, 50)]
    deliveries = world.wait(ids, timeout=180)
    assert {d.state for ds in deliveries.values() for d in ds} == {OperationState.succeeded}
    assert len(world.mastodon.statuses) == 50
    assert len({s["content"] for s in world.mastodon.statuses}) == 50
    hook_ids = [r.headers["webhook-id"] for r in world.hook.requests]
    assert len(set(hook_ids)) == 50, "every announcement reached the partner"
    assert world.page_violations == []


def test_server_errors_are_retried_and_each_attempt_is_counted(cluster: Callable[..., Cluster]) -> None:
    world = cluster()
    world.mastodon.fail("POST", "/api/v1/statuses", status(500), status(500), status(500))
    [announcement_id] = ids = [world.publish(warning())]
    world.wait(ids)
    delivery = world.herold.store.operations.copy_on(announcement_id, "mastodon")
    assert delivery is not None and delivery.state is OperationState.succeeded
    assert delivery.attempts == 4
    assert len(world.mastodon.statuses) == 1
    # What the workers said about it reaches a log collector in one format: JSON lines, Celery's too.
    lines = world.log_lines("worker")
    assert any("delivery will be retried" in line for line in lines)
    assert all(isinstance(json.loads(line), dict) for line in lines), "\n".join(lines[:20])


def test_retry_after_is_honoured_on_celery(cluster: Callable[..., Cluster]) -> None:
    world = cluster()
    world.mastodon.fail("POST", "/api/v1/statuses", retry_after(2))
    world.wait([world.publish(warning())])
    posts = [r for r in world.mastodon.requests if r.method == "POST" and r.path == "/api/v1/statuses"]
    assert len(posts) == 2
    assert posts[1].at - posts[0].at >= 2.0


def test_a_refused_token_fails_at_once_and_the_people_on_call_hear_of_it_within_a_minute(
    cluster: Callable[..., Cluster],
) -> None:
    world = cluster()
    world.mastodon.revoke(MASTODON_TOKEN)
    [announcement_id] = ids = [world.publish(warning())]
    world.wait(ids)
    delivery = world.herold.store.operations.copy_on(announcement_id, "mastodon")
    assert delivery is not None and delivery.state is OperationState.failed and delivery.attempts == 1
    assert "refused the access token" in (delivery.last_error or "")
    assert world.herold.store.health.attention("lk-beispiel") == {"mastodon": delivery.last_error}
    alarms = world.oncall.wait_for(2, timeout=60)
    assert len(alarms) == 2, "one alarm for the failed delivery, one for the channel's credentials"
    verifier = Webhook(ONCALL_SECRET)
    payloads = [verifier.verify(r.body, dict(r.headers)) for r in alarms]
    assert {p["data"]["channel"] for p in payloads} == {"mastodon"}
    assert {p["data"]["state"] for p in payloads} == {"failed", "needs_attention"}
    mails = world.mailbox.wait_for(2, timeout=60)
    assert [m["To"] for m in mails] == ["leitstelle@lk-beispiel.de"] * 2


def test_a_hanging_channel_does_not_delay_the_website_or_mastodon(cluster: Callable[..., Cluster]) -> None:
    world = cluster(read_timeout=90)
    world.hook.default = Answer(hang=60)  # the partner's system takes every request and never answers
    started = time.monotonic()
    ids = [world.publish(warning(headline=f"Warnung {n}")) for n in range(3)]
    hanging = world.hook.wait_for(3, timeout=30)
    assert len(hanging) == 3
    for announcement_id in ids:
        assert world.states(announcement_id) == {
            "website": OperationState.succeeded,
            "mastodon": OperationState.succeeded,
            "radio": OperationState.in_flight,
        }
    assert time.monotonic() - started < 30, "website and Mastodon did not wait for the hanging partner"
    assert len(world.mastodon.statuses) == 3


def test_across_100_announcements_at_once_no_later_wave_reaches_a_platform_before_its_page(
    cluster: Callable[..., Cluster],
) -> None:
    world = cluster(workers=2)

    def check_mastodon(request: Any) -> None:
        if request.method == "POST" and request.path.startswith("/api/v1/statuses"):
            body = request.body.decode(errors="replace")
            for link in _links(body):
                if not world.page_exists(link):
                    world.page_violations.append(f"Mastodon got {link} before its page existed")

    world.mastodon.on_request = check_mastodon
    ids: list[str] = []
    lock = threading.Lock()

    def one(number: int) -> None:
        announcement_id = world.publish(warning(headline=f"Warnung {number}"))
        with lock:
            ids.append(announcement_id)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deliveries = world.wait(ids, timeout=240)
    assert {d.state for ds in deliveries.values() for d in ds} == {OperationState.succeeded}
    assert len(world.hook.requests) == 100
    assert len(world.mastodon.statuses) == 100
    assert world.page_violations == []


def _links(form_body: str) -> list[str]:
    from urllib.parse import parse_qs

    text = " ".join(parse_qs(form_body).get("status", []))
    return [word for word in text.split() if word.startswith("https://www.lk-beispiel.de/")]
