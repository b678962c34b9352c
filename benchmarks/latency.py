"""End-to-end latency on Celery: from `POST /api/v1/announcements` to the item's page file and to
the status arriving at Mastodon.

Starts its own PostgreSQL and Redis (tests/services.py), the fake Mastodon and one webhook
receiver in a helper process (benchmarks/fake_servers.py; both answer after 50 ms), and Herold as
in production: `herold serve` (with redis_url), two `herold worker --queue warnings` processes and
`herold beat`, all on PostgreSQL. An API token comes from `herold token create`.

Warnings are sent at a steady, modest rate (default 5/s) so that the figures are latency, not
queueing. For each one:

- page: a thread polls the item's page file (its path derived from the answer's ``item_url``)
  every ``--poll-ms``; the file's mtime is kept as a cross-check;
- Mastodon: the fake records each request's arrival with time.monotonic(), which is system-wide
  on Linux, so it is compared directly with the client's monotonic time just before the POST.

"Pipeline overhead" is the latency minus the fake servers' own answer delay that lies on the path
to the measured event. For the page there is none (wave 1 writes files, it calls no fake). For the
Mastodon receipt there is none either: the fake records a request's arrival before it waits its
50 ms, and nothing else on the path calls a fake (the instance's character limit is read once,
during warm-up, and cached; the script checks that no such request fell into the measurement).
So overhead = latency here, and the script says so.

    .venv/bin/python benchmarks/latency.py [--count 200] [--rate 5]

Writes benchmarks/results/latency.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _harness import (
    BASE_URL,
    SELF,
    SLUG,
    FakeServers,
    Monitor,
    Stack,
    columns,
    common_options,
    foreign_load,
    herold_command,
    page_file,
    run,
    stage,
    summary_ms,
    wait_for,
    warning,
    write_config,
    write_result,
)

from services import Postgres, Redis, free_port

MASTODON_TOKEN = "bench-mastodon-token"
TARGET_OVERHEAD_P99_MS = 250.0


@dataclass
class Sent:
    number: int
    sent: float  # time.monotonic() just before the POST
    answered: float = 0.0
    status: int = 0
    announcement_id: str = ""
    item_url: str = ""
    page: Path | None = None
    page_seen: float | None = None  # first poll that found the file
    page_mtime: float | None = None  # the file's mtime then, as monotonic time
    page_before_answer: bool = False  # the file existed at the first look (after the API answered)
    error: str = ""


class PagePoller:
    """Looks for every registered page file every ``interval`` seconds, in one thread."""

    def __init__(self, interval: float, wall_offset: float) -> None:
        self.interval, self.wall_offset = interval, wall_offset
        self._pending: dict[int, Sent] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.loops = 0
        self._thread = threading.Thread(target=self._run, name="page-poller", daemon=True)

    def start(self) -> PagePoller:
        self._thread.start()
        return self

    def add(self, item: Sent) -> None:
        assert item.page is not None
        if self._look(item):  # already there when we first could look
            item.page_before_answer = True
            return
        with self._lock:
            self._pending[item.number] = item

    def _look(self, item: Sent) -> bool:
        assert item.page is not None
        try:
            stat = os.stat(item.page)
        except FileNotFoundError:
            return False
        item.page_seen = time.monotonic()
        item.page_mtime = stat.st_mtime - self.wall_offset
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                pending = list(self._pending.values())
            for item in pending:
                if self._look(item):
                    with self._lock:
                        self._pending.pop(item.number, None)
            self.loops += 1
            time.sleep(self.interval)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="warnings measured (default 200)")
    parser.add_argument("--rate", type=float, default=5.0, help="warnings sent per second (default 5)")
    parser.add_argument("--warmup", type=int, default=10, help="warnings sent first and not measured")
    parser.add_argument("--workers", type=int, default=2, help="`herold worker --queue warnings` processes")
    parser.add_argument("--concurrency", type=int, default=16, help="threads per worker (Herold's default: 16)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the fake servers take to answer")
    parser.add_argument("--poll-ms", type=float, default=1.0, help="page poll interval in ms (default 1)")
    common_options(parser, name="latency", kept="logs, site")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="herold-bench-latency-"))
    data_dir = directory / "var"
    print(
        f"Latency benchmark: {args.count} warnings at {args.rate:g}/s; working directory {directory}", file=sys.stderr
    )
    load = foreign_load(args.wait_quiet)
    with Stack() as stack:
        if not args.keep:
            stack.push("working directory", lambda: shutil.rmtree(directory, ignore_errors=True))
        with stage("PostgreSQL, Redis, fake Mastodon and webhook receiver"):
            postgres = Postgres()
            stack.push("PostgreSQL", postgres.stop)
            postgres.start()
            redis = Redis()
            stack.push("Redis", redis.stop)
            redis.start()
            fakes = FakeServers(stack, directory, tokens={MASTODON_TOKEN: "lkbeispiel"}, receivers=1, delay=args.delay)
        port = free_port()
        herold_settings = {
            "database_url": postgres.url,
            "redis_url": redis.url,
            "listen": f"127.0.0.1:{port}",
            "log_level": "info",
            "log_format": "json",
            "grace_warning_seconds": 10,
        }
        config = directory / "herold.toml"
        secrets = write_config(
            config,
            data_dir=data_dir,
            herold=herold_settings,
            mastodon_url=fakes.mastodon_url,
            mastodon_channels=[("mastodon", MASTODON_TOKEN)],
            hook_urls=fakes.receiver_urls,
        )
        env = {**os.environ, "HEROLD_CONFIG": str(config), **secrets}
        with stage(f"herold token create; herold serve, worker ×{args.workers}, beat"):
            token = subprocess.run(
                herold_command("token", "create", "--authority", SLUG, "--name", "benchmark"),
                env=env, cwd=directory, capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            serve = stack.spawn("herold serve", herold_command("serve"), env=env, log=directory / "serve.log")
            workers = [
                stack.spawn(
                    f"herold worker {n}",
                    herold_command("worker", "--queue", "warnings", "--concurrency", str(args.concurrency)),
                    env=env,
                    log=directory / f"worker-{n}.log",
                )
                for n in range(args.workers)
            ] + [
                # The own website's work has a queue of its own (pages, releasing waves, copies).
                stack.spawn(
                    "herold worker site",
                    herold_command("worker", "--queue", "site"),
                    env=env,
                    log=directory / "worker-site.log",
                )
            ]
            beat = stack.spawn("herold beat", herold_command("beat"), env=env, log=directory / "beat.log")
            api = f"http://127.0.0.1:{port}"
            wait_for(lambda: _healthy(api), 60, "herold serve answering /healthz")

        engine = sa.create_engine(postgres.url)
        stack.push("database connections", engine.dispose)
        wall_offset = time.time() - time.monotonic()
        poller = PagePoller(args.poll_ms / 1000, wall_offset).start()
        stack.push("page poller", poller.stop)
        local = threading.local()

        def post(item: Sent) -> Sent:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
                session.headers["Authorization"] = f"Bearer {token}"
            body = warning(item.number, "latency")
            item.sent = time.monotonic()
            try:
                response = session.post(f"{api}/api/v1/announcements", json=body, timeout=30)
                item.answered = time.monotonic()
                item.status = response.status_code
                if response.status_code != 201:
                    item.error = response.text[:300]
                    return item
                answer = response.json()
                item.announcement_id, item.item_url = answer["id"], answer["item_url"]
                item.page = page_file(data_dir, item.item_url)
                poller.add(item)
            except Exception as error:
                item.error = repr(error)
            return item

        def run(numbers: range, label: str) -> list[Sent]:
            items = [Sent(n, 0.0) for n in numbers]
            with stage(f"{label}: {len(items)} warnings at {args.rate:g}/s"), ThreadPoolExecutor(8) as pool:
                start = time.monotonic() + 0.05
                futures = []
                for index, item in enumerate(items):
                    pause = start + index / args.rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    futures.append(pool.submit(post, item))
                for future in futures:
                    future.result()
                ids = [i.announcement_id for i in items if i.announcement_id]
                wait_for(lambda: _settled(engine, ids), 180, f"{label}: every delivery final", poll=0.25)
            return items

        run(range(-args.warmup, 0), "warm-up")
        roles = {"serve": serve.pid, "beat": beat.pid, "postgres": _pid(postgres), "redis": _pid(redis)}
        roles |= {f"worker{n}": w.pid for n, w in enumerate(workers)}
        roles |= {"fake_servers": fakes.process.pid, "benchmark": SELF}
        with stage("idle baseline, 3 s"):
            idle_monitor = Monitor(roles).start()
            time.sleep(3)
            idle = idle_monitor.stop()
        measure_started = time.monotonic()
        monitor = Monitor(roles, {"pages_awaited": lambda: poller.waiting}).start()
        items = run(range(args.count), "measurement")
        usage = monitor.stop()
        measure_ended = time.monotonic()
        poller.stop()
        stages = _stages(engine, [i.announcement_id for i in items if i.announcement_id])
        with stage("stopping the fake servers, reading what they received"):
            records = fakes.stop_and_read()

    # -- figures (everything is stopped by now) ----------------------------------------------------
    statuses = [
        r for r in records["mastodon"] if r["method"] == "POST" and r["path"] == "/api/v1/statuses"
    ]  # fmt: skip
    arrival: dict[str, float] = {}
    for record in statuses:
        for link in record.get("links", []):
            link = link.rstrip(".,:;!?'\")")
            if link.startswith(BASE_URL):
                arrival.setdefault(link, record["at"])
    during = [r for r in records["mastodon"] if measure_started <= r["at"] <= measure_ended]
    other_calls = sorted({f"{r['method']} {r['path']}" for r in during if "/statuses" not in r["path"]})
    undelayed = sum(1 for r in records["mastodon"] if r["fault"] != "delay")
    ok = [i for i in items if i.status == 201]
    page = [i.page_seen - i.sent for i in ok if i.page_seen is not None and not i.page_before_answer]
    page_mtime = [i.page_mtime - i.sent for i in ok if i.page_mtime is not None]
    mastodon = [arrival[i.item_url] - i.sent for i in ok if i.item_url in arrival]
    api_answer = [i.answered - i.sent for i in ok]
    delay_on_path = {"page": 0.0, "mastodon": 0.0}
    overhead_page = [v - delay_on_path["page"] for v in page]
    overhead_mastodon = [v - delay_on_path["mastodon"] for v in mastodon]
    half = len(ok) // 2

    def first_last(values_by_item: dict[int, float]) -> dict[str, Any]:
        first = [v for n, v in values_by_item.items() if n < half]
        last = [v for n, v in values_by_item.items() if n >= half]
        return {"first_half": summary_ms(first), "second_half": summary_ms(last)}

    results: dict[str, Any] = {
        "sent": len(items),
        "accepted": len(ok),
        "errors": sorted({i.error for i in items if i.error})[:5],
        "send_rate_achieved_per_s": round((len(items) - 1) / max(items[-1].sent - items[0].sent, 1e-9), 2),
        "api_answer_ms": summary_ms(api_answer),
        "page_latency_ms": summary_ms(page),
        "page_latency_by_mtime_ms": summary_ms(page_mtime),
        "page_existed_before_api_answered": sum(1 for i in ok if i.page_before_answer),
        "page_missing": sum(1 for i in ok if i.page_seen is None),
        "mastodon_latency_ms": summary_ms(mastodon),
        "mastodon_missing": len(ok) - len(mastodon),
        "mastodon_before_page": sum(
            1 for i in ok if i.item_url in arrival and i.page_mtime is not None and arrival[i.item_url] < i.page_mtime
        ),
        "fake_delay_on_path_ms": {k: v * 1000 for k, v in delay_on_path.items()},
        "overhead_page_ms": summary_ms(overhead_page),
        "overhead_mastodon_ms": summary_ms(overhead_mastodon),
        "overhead_target_p99_ms": TARGET_OVERHEAD_P99_MS,
        "overhead_p99_within_target": bool(
            overhead_mastodon
            and summary_ms(overhead_mastodon)["p99"] < TARGET_OVERHEAD_P99_MS
            and summary_ms(overhead_page)["p99"] < TARGET_OVERHEAD_P99_MS
        ),
        "mastodon_latency_trend_ms": first_last(
            {i.number: arrival[i.item_url] - i.sent for i in ok if i.item_url in arrival}
        ),
        "stages_ms": stages,
        "mastodon_requests_total": len(records["mastodon"]),
        "mastodon_requests_without_delay": undelayed,
        "mastodon_calls_other_than_statuses_during_measurement": other_calls,
        "mastodon_pin_answers": _count(
            r["status"] for r in records["mastodon"] if r["path"].endswith("/pin") and r["at"] >= measure_started
        ),
        "webhook_requests": sum(len(r) for r in records["receivers"]),
        "fake_server_errors": records["errors"],
        "page_poll_loops": poller.loops,
        "resources": usage,
        "resources_idle": idle,
        "timeline": columns(monitor.timeline),
        "note": (
            "overhead = latency - fake answer delay on the path; that delay is 0 for both: wave 1 calls no fake, "
            "and the fake Mastodon records a request's arrival before its 50 ms delay. Mastodon calls other than "
            "posting and pinning during the measurement would lie on the path; they are listed above (none expected)."
        ),
    }
    parameters = {
        "count": args.count,
        "rate_per_s": args.rate,
        "warmup": args.warmup,
        "workers": args.workers,
        "threads_per_worker": args.concurrency,
        "fake_delay_ms": args.delay * 1000,
        "page_poll_ms": args.poll_ms,
        "database": "postgresql",
        "broker": "redis",
        "channels": ["website", "mastodon", "hook-1"],
        "kind": "warning",
        "herold": {k: v for k, v in herold_settings.items() if k not in {"database_url", "redis_url", "listen"}},
    }
    path = write_result(args.name, parameters, results, load)
    _print(results, parameters)
    print(f"\nResults: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    if args.keep:
        print(f"Working directory kept: {directory}")


def _healthy(api: str) -> bool:
    try:
        return requests.get(f"{api}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _pid(server: Postgres | Redis) -> int:
    assert server.process is not None
    return server.process.pid


def _settled(engine: sa.Engine, ids: list[str]) -> bool:
    if not ids:
        return True
    with engine.connect() as connection:
        open_ = connection.execute(
            sa.text(
                "SELECT count(*) FROM operations WHERE announcement_id = ANY(:ids) "
                "AND action NOT IN ('pin', 'unpin') "
                "AND state NOT IN ('succeeded', 'failed', 'dead', 'unknown', 'skipped')"
            ),
            {"ids": ids},
        ).scalar_one()
    return int(open_) == 0


def _stages(engine: sa.Engine, ids: list[str]) -> dict[str, Any]:
    """Where the time goes, from Herold's own timestamps (wall clock, one machine): accepted →
    website released (an `advance` task ran) → website delivered (page and lists written) →
    Mastodon released → Mastodon delivered (posted and pinned)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT a.id, a.received_at, d.channel, d.released_at, d.finished_at, d.attempts "
                "FROM announcements a JOIN operations d ON d.announcement_id = a.id WHERE a.id = ANY(:ids) "
                "AND d.action NOT IN ('pin', 'unpin')"
            ),
            {"ids": ids},
        ).all()
    by: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by.setdefault(row.id, {"received": row.received_at})
        entry[row.channel] = (row.released_at, row.finished_at, row.attempts)

    def seconds(a: datetime | None, b: datetime | None) -> float | None:
        return (b - a).total_seconds() if a and b else None

    spans: dict[str, list[float]] = {
        "accepted_to_website_released": [],
        "website_released_to_delivered": [],
        "website_delivered_to_mastodon_released": [],
        "mastodon_released_to_delivered": [],
        "mastodon_delivered_to_webhook_released": [],
    }
    retries = 0
    for entry in by.values():
        if "website" not in entry or "mastodon" not in entry:
            continue
        web, mast, hook = entry["website"], entry["mastodon"], entry.get("hook-1", (None, None, 0))
        retries += sum(max(0, x[2] - 1) for x in (web, mast, hook))
        for name, value in (
            ("accepted_to_website_released", seconds(entry["received"], web[0])),
            ("website_released_to_delivered", seconds(web[0], web[1])),
            ("website_delivered_to_mastodon_released", seconds(web[1], mast[0])),
            ("mastodon_released_to_delivered", seconds(mast[0], mast[1])),
            ("mastodon_delivered_to_webhook_released", seconds(mast[1], hook[0])),
        ):
            if value is not None:
                spans[name].append(value)
    result: dict[str, Any] = {name: summary_ms(values) for name, values in spans.items()}
    result["retries"] = retries
    return result


def _count(values: Any) -> dict[str, int]:
    counted: dict[str, int] = {}
    for value in values:
        counted[str(value)] = counted.get(str(value), 0) + 1
    return dict(sorted(counted.items()))


def _print(results: dict[str, Any], parameters: dict[str, Any]) -> None:
    def row(label: str, figures: dict[str, Any]) -> str:
        if not figures.get("count"):
            return f"  {label:<34} (none)"
        return (
            f"  {label:<34} p50 {figures['p50']:>7.1f}   p95 {figures['p95']:>7.1f}   p99 {figures['p99']:>7.1f}"
            f"   max {figures['max']:>7.1f}   (n={figures['count']})"
        )

    print()
    print(
        f"Latency, {results['accepted']} warnings at {results['send_rate_achieved_per_s']}/s, "
        f"{parameters['workers']} workers × {parameters['threads_per_worker']} threads, "
        f"PostgreSQL + Redis, fakes answer after {parameters['fake_delay_ms']:g} ms (ms):"
    )
    print(row("API answer (POST → 201)", results["api_answer_ms"]))
    print(row("page file exists", results["page_latency_ms"]))
    print(row("  (by the file's mtime)", results["page_latency_by_mtime_ms"]))
    print(row("Mastodon status received", results["mastodon_latency_ms"]))
    print(row("overhead: page", results["overhead_page_ms"]))
    print(row("overhead: Mastodon", results["overhead_mastodon_ms"]))
    print(
        "  fake delay on the path: page 0 ms (wave 1 calls no fake); Mastodon 0 ms (arrival is recorded before "
        "the fake's delay) → overhead = latency"
    )
    verdict = "MET" if results["overhead_p99_within_target"] else "MISSED"
    print(f"  target: overhead p99 < {results['overhead_target_p99_ms']:g} ms → {verdict}")
    trend = results["mastodon_latency_trend_ms"]
    print(row("Mastodon, first half of the run", trend["first_half"]))
    print(row("Mastodon, second half of the run", trend["second_half"]))
    print("  Herold's stages (from its own timestamps):")
    for name, figures in results["stages_ms"].items():
        if isinstance(figures, dict):
            print(row("  " + name.replace("_", " "), figures))
    usage = results["resources"]
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(usage["cpu_seconds"].items()))
    print(f"  CPU seconds during the measurement ({usage['seconds']} s): {cpu}")
    print(
        f"  CPU used by processes the benchmark did not start (other sessions, kernel): "
        f"{usage['other_cpu_seconds']} s = {usage['other_cpu_pct_of_machine']}% of the machine"
        + ("  ← NOTE: figures are skewed by foreign load" if usage["other_cpu_pct_of_machine"] > 5 else "")
    )
    idle = results["resources_idle"]
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in sorted(idle["cpu_seconds"].items()))
    print(f"  CPU seconds while idle ({idle['seconds']} s): {cpu}; machine {idle['machine_cpu_pct_mean']}%")
    print(
        f"  machine CPU: mean {usage['machine_cpu_pct_mean']}%, max {usage['machine_cpu_pct_max']}% "
        f"of {usage['cores']} cores"
    )
    print(
        f"  pages already there at first look: {results['page_existed_before_api_answered']}, "
        f"missing: {results['page_missing']}; statuses missing: {results['mastodon_missing']}; "
        f"statuses before their page: {results['mastodon_before_page']}; "
        f"Mastodon requests without the delay: {results['mastodon_requests_without_delay']}; "
        "other Mastodon calls during measurement: "
        f"{results['mastodon_calls_other_than_statuses_during_measurement'] or 'none'}"
    )
    if results["errors"] or results["fake_server_errors"]:
        print(f"  ERRORS: {results['errors']} {results['fake_server_errors']}")


if __name__ == "__main__":
    run(main)
