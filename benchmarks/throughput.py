"""Throughput: a burst of announcements to six channels, on Celery or in-process.

The load: ``--count`` warnings (default 500), each to six channels — the built-in website, two
Mastodon accounts on one fake Mastodon (two tokens, two channels) and three signed-webhook
endpoints — so 3,000 deliveries. The fake servers answer every request after 50 ms and run in a
helper process (benchmarks/fake_servers.py), so their threads never compete with Herold's.

Why warnings: they are what must go out fast, and they have the short queue of their own. The
grace period before wave 3 is set short (``--grace``, 0.5 s) so that the webhooks are not held
back artificially: wave 3 starts when both Mastodon deliveries are done or 0.5 s after wave 2
started, whichever comes first. (Herold pins active warnings on Mastodon; the fake, like Mastodon,
allows five pins per account, so the first five warnings of each account are pinned, one more
request each, and the rest are posted without asking for a pin.)

Modes:

- ``--mode celery``: PostgreSQL and Redis (tests/services.py), ``--workers`` processes of
  `herold worker --queue warnings --concurrency N` and `herold beat`; the benchmark process
  accepts the announcements with publisher.sources.intake.accept (as `herold publish` does), which
  queues the work on Redis.
- ``--mode embedded``: SQLite and the embedded runner (thread pools) in the benchmark process,
  ``embedded_workers`` threads for warnings; accepted with publisher.sources.intake.accept as well.

Announcements are accepted one after another as fast as the intake goes. Throughput is
deliveries succeeded per second from the first accept to the last delivery succeeded, both read
from the database (received_at, finished_at). The theoretical ceiling is what the fake servers'
delay and the configured concurrency would allow if Herold itself took no time:
concurrency / (fake seconds per delivery), with fake seconds counted from the requests the fakes
actually received (posts, pins, webhooks) times their delay.

    .venv/bin/python benchmarks/throughput.py --mode celery
    .venv/bin/python benchmarks/throughput.py --mode embedded [--profile]

Writes benchmarks/results/throughput-<mode>.json.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _harness import (
    ROOT,
    SELF,
    FakeServers,
    Monitor,
    Stack,
    columns,
    foreign_load,
    herold_command,
    percentile,
    run,
    stage,
    summary_ms,
    wait_for,
    warning,
    write_config,
    write_result,
)

from services import Postgres, Redis

TOKENS = {"bench-token-a": "lkbeispiel", "bench-token-b": "lkbeispiel_zwei"}
MASTODON_CHANNELS = [("mastodon-a", "bench-token-a"), ("mastodon-b", "bench-token-b")]
HOOKS = 3
FINAL = ("succeeded", "failed", "dead", "unknown", "skipped")  # publisher.domain.records.FINAL_STATES
NOT_DELIVERIES = ("pin", "unpin")  # operations that do not publish (publisher.domain.records.Action.publishes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["celery", "embedded"], required=True)
    parser.add_argument("--count", type=int, default=500, help="announcements (default 500)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the fake servers take to answer")
    parser.add_argument("--grace", type=float, default=0.5, help="grace_warning_seconds (default 0.5)")
    parser.add_argument("--workers", type=int, default=2, help="celery: worker processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=16, help="celery: threads per worker (default 16)")
    parser.add_argument("--embedded-workers", type=int, default=8, help="embedded: embedded_workers (default 8)")
    parser.add_argument("--warmup", type=int, default=3, help="announcements delivered before the measurement")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the deliveries at most")
    parser.add_argument("--profile", action="store_true", help="embedded: sample Herold's threads' stacks")
    parser.add_argument(
        "--wait-quiet", type=float, default=0, metavar="S", help="first wait up to S seconds for an idle machine"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, site, database)")
    parser.add_argument("--name", help="results file name (default: throughput-<mode>)")
    args = parser.parse_args()
    name = args.name or f"throughput-{args.mode}"

    directory = Path(tempfile.mkdtemp(prefix=f"herold-bench-{args.mode}-"))
    data_dir = directory / "var"
    print(
        f"Throughput benchmark ({args.mode}): {args.count} warnings × 6 channels; working directory {directory}",
        file=sys.stderr,
    )
    load = foreign_load(args.wait_quiet)
    run = Run(args, directory, data_dir)
    with Stack() as stack:
        if not args.keep:
            stack.push("working directory", lambda: shutil.rmtree(directory, ignore_errors=True))
        if args.mode == "celery":
            run.celery(stack)
        else:
            run.embedded(stack)
    results = run.figures()
    write_result(name, run.parameters, results, load)
    _print(args.mode, results, run.parameters)
    print(f"\nResults: benchmarks/results/{name}.json")
    if args.keep:
        print(f"Working directory kept: {directory}")


class Run:
    def __init__(self, args: argparse.Namespace, directory: Path, data_dir: Path) -> None:
        self.args, self.directory, self.data_dir = args, directory, data_dir
        self.settings: dict[str, Any] = {
            "log_level": "info",
            "log_format": "json",
            "grace_warning_seconds": args.grace,
        }
        self.accepted: list[tuple[str, float, float]] = []  # (id, monotonic before, after)
        self.rows: list[Any] = []
        self.received: dict[str, datetime] = {}
        self.records: dict[str, Any] = {}
        self.usage: dict[str, Any] = {}
        self.timeline: list[dict[str, Any]] = []
        self.profile: dict[str, Any] | None = None
        self.tasks_received: dict[str, int] = {}
        self.parameters: dict[str, Any] = {}
        self.concurrency = 0
        self.log_problems: dict[str, int] = {}

    # -- the two set-ups ------------------------------------------------------------------------

    def _config(self, fakes: FakeServers, extra: dict[str, Any]) -> tuple[Path, dict[str, str]]:
        self.settings |= extra
        config = self.directory / "herold.toml"
        secrets = write_config(
            config,
            data_dir=self.data_dir,
            herold=self.settings,
            mastodon_url=fakes.mastodon_url,
            mastodon_channels=MASTODON_CHANNELS,
            hook_urls=fakes.receiver_urls,
        )
        return config, secrets

    def celery(self, stack: Stack) -> None:
        from publisher.edges.config import load_settings
        from publisher.edges.wiring import Herold

        args = self.args
        with stage("PostgreSQL, Redis and the fake servers"):
            postgres = Postgres()
            stack.push("PostgreSQL", postgres.stop)
            postgres.start()
            redis = Redis()
            stack.push("Redis", redis.stop)
            redis.start()
            fakes = FakeServers(stack, self.directory, tokens=TOKENS, receivers=HOOKS, delay=args.delay)
        config, secrets = self._config(fakes, {"database_url": postgres.url, "redis_url": redis.url})
        env = {**os.environ, "HEROLD_CONFIG": str(config), **secrets}
        with stage(f"herold worker ×{args.workers} (--concurrency {args.concurrency}), herold beat"):
            subprocess.run(herold_command("db", "upgrade"), env=env, check=True, capture_output=True)
            workers = [
                stack.spawn(
                    f"herold worker {n}",
                    herold_command("worker", "--queue", "warnings", "--concurrency", str(args.concurrency)),
                    env=env,
                    log=self.directory / f"worker-{n}.log",
                )
                for n in range(args.workers)
            ] + [
                # The own website's work has a queue of its own (pages, releasing waves, copies).
                stack.spawn(
                    "herold worker site",
                    herold_command("worker", "--queue", "site"),
                    env=env,
                    log=self.directory / "worker-site.log",
                )
            ]
            beat = stack.spawn("herold beat", herold_command("beat"), env=env, log=self.directory / "beat.log")
        self.concurrency = args.workers * args.concurrency
        _quiet_logs(self.directory / "benchmark-herold.log")
        herold = Herold(load_settings(config, env))
        stack.push("Herold (accepting side)", herold.store.dispose)
        import redis as redis_client

        queue = redis_client.Redis.from_url(redis.url)
        stack.push("Redis client", queue.close)
        roles = {f"worker{n}": w.pid for n, w in enumerate(workers)}
        roles |= {"beat": beat.pid, "postgres": _pid(postgres), "redis": _pid(redis)}
        roles |= {"fake_servers": fakes.process.pid, "benchmark": SELF}
        gauges = {
            "queue_warnings": lambda: queue.llen("warnings"),
            "unacked": lambda: queue.hlen("unacked"),
            **self._state_gauges(herold.store.engine),
        }
        self._measure(herold, roles, gauges, wait_ready=60)
        with stage("stopping the fake servers, reading what they received"):
            self.records = fakes.stop_and_read()
        self.tasks_received = _celery_tasks(self.directory)
        self.log_problems = _log_levels(self.directory.glob("worker-*.log"))
        self.parameters = self._parameters(
            database="postgresql", broker="redis", workers=args.workers, threads_per_worker=args.concurrency
        )

    def embedded(self, stack: Stack) -> None:
        from publisher.edges.config import load_settings
        from publisher.edges.wiring import Herold

        args = self.args
        with stage("the fake servers (own process)"):
            fakes = FakeServers(stack, self.directory, tokens=TOKENS, receivers=HOOKS, delay=args.delay)
        config, secrets = self._config(fakes, {"embedded_workers": args.embedded_workers})
        self.concurrency = args.embedded_workers
        log = self.directory / "benchmark-herold.log"
        _quiet_logs(log)
        herold = Herold(load_settings(config, {**os.environ, **secrets}))
        assert herold.embedded
        with stage("Herold, embedded (SQLite, in-process runner)"):
            herold.start()
        stack.push("Herold (embedded)", herold.stop)
        roles = {"benchmark_with_herold": SELF, "fake_servers": fakes.process.pid}
        profiler = Sampler() if args.profile else None
        self._measure(herold, roles, self._state_gauges(herold.store.engine), wait_ready=10, profiler=profiler)
        if profiler is not None:
            self.profile = profiler.report()
        with stage("stopping Herold and the fake servers"):
            herold.stop()
            self.records = fakes.stop_and_read()
        self.log_problems = _log_levels([log])
        self.parameters = self._parameters(database="sqlite", broker=None, embedded_workers=args.embedded_workers)

    def _parameters(self, **extra: Any) -> dict[str, Any]:
        return {
            "mode": self.args.mode,
            "count": self.args.count,
            "channels": ["website", *(c for c, _ in MASTODON_CHANNELS), *(f"hook-{n + 1}" for n in range(HOOKS))],
            "kind": "warning",
            "fake_delay_ms": self.args.delay * 1000,
            "warmup": self.args.warmup,
            "concurrency_threads": self.concurrency,
            "accepting": "publisher.sources.intake.accept, one after another, in the benchmark process",
            "herold": {k: v for k, v in self.settings.items() if k not in {"database_url", "redis_url"}},
            **extra,
        }

    @staticmethod
    def _state_gauges(engine: sa.Engine) -> dict[str, Any]:
        def states() -> dict[str, int]:
            with engine.connect() as connection:
                rows = connection.execute(sa.text(
                    "SELECT state, count(*) FROM operations WHERE action NOT IN ('pin', 'unpin') GROUP BY state"
                )).all()  # fmt: skip
            return {str(state): int(count) for state, count in rows}

        return {"deliveries": states}

    # -- the measurement ------------------------------------------------------------------------

    def _measure(
        self,
        herold: Any,
        roles: dict[str, int],
        gauges: dict[str, Any],
        *,
        wait_ready: float,
        profiler: Sampler | None = None,
    ) -> None:
        from publisher.sources.intake import accept

        args = self.args
        engine = herold.store.engine
        with stage(f"warm-up: {args.warmup} announcements delivered"):
            ids = [
                accept(herold.engine, warning(-n - 1, "warm-up"), source="bench", actor="bench")
                for n in range(args.warmup)
            ]
            wait_for(lambda: _open(engine, ids) == 0, wait_ready + 60, "warm-up delivered", poll=0.2)
        monitor = Monitor(roles, gauges).start()
        if profiler is not None:
            profiler.start()
        try:
            with stage(f"accepting {args.count} announcements"):
                for number in range(args.count):
                    before = time.monotonic()
                    announcement_id = accept(
                        herold.engine, warning(number, "throughput"), source="bench", actor="bench"
                    )
                    self.accepted.append((announcement_id, before, time.monotonic()))
            measured = [a for a, _, _ in self.accepted]
            with stage(f"waiting for {len(measured) * 6} deliveries"):
                wait_for(lambda: _open(engine, measured) == 0, args.timeout, "every delivery final", poll=0.25)
        finally:
            if profiler is not None:
                profiler.stop()
            self.usage = monitor.stop()
            self.timeline = monitor.timeline
        from publisher.engine.schema import AnnouncementRow
        from publisher.engine.schema import OperationRow as DeliveryRow

        with engine.connect() as connection:
            self.rows = list(
                connection.execute(
                    sa.select(
                        DeliveryRow.announcement_id, DeliveryRow.channel, DeliveryRow.state, DeliveryRow.attempts,
                        DeliveryRow.released_at, DeliveryRow.finished_at, DeliveryRow.last_error,
                    ).where(DeliveryRow.announcement_id.in_(measured), DeliveryRow.action.not_in(NOT_DELIVERIES))
                )
            )  # fmt: skip
            self.received = {
                row[0]: row[1]
                for row in connection.execute(
                    sa.select(AnnouncementRow.id, AnnouncementRow.received_at).where(AnnouncementRow.id.in_(measured))
                )
            }

    # -- the figures --------------------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        args = self.args
        received: dict[str, datetime] = {k: _aware(v) for k, v in self.received.items()}
        first_accept = min(received.values())
        last_accept = max(received.values())
        succeeded = [r for r in self.rows if r.state == "succeeded"]
        last_done = max(_aware(r.finished_at) for r in succeeded)
        window = (last_done - first_accept).total_seconds()
        by_channel: dict[str, list[Any]] = collections.defaultdict(list)
        for row in self.rows:
            by_channel[row.channel].append(row)
        channels: dict[str, Any] = {}
        for channel, rows in sorted(by_channel.items()):
            done = [r for r in rows if r.state == "succeeded"]
            ends = [(_aware(r.finished_at) - first_accept).total_seconds() for r in done]
            latency = [(_aware(r.finished_at) - received[r.announcement_id]).total_seconds() for r in done]
            waited = [
                (_aware(r.released_at) - received[r.announcement_id]).total_seconds() for r in done if r.released_at
            ]
            channels[channel] = {
                "succeeded": len(done),
                "not_succeeded": len(rows) - len(done),
                "first_done_s": round(min(ends), 2) if ends else None,
                "last_done_s": round(max(ends), 2) if ends else None,
                "p50_done_s": round(percentile(ends, 50), 2) if ends else None,
                "per_s": round(len(done) / max(ends), 1) if ends else None,
                "accept_to_done_ms": summary_ms(latency),
                "accept_to_released_ms": summary_ms(waited),
                "retried": sum(1 for r in rows if r.attempts > 1),
            }
        mastodon = self.records.get("mastodon", [])
        hooks = [h for receiver in self.records.get("receivers", []) for h in receiver]
        delayed = sum(1 for r in mastodon if r["fault"] == "delay") + len(hooks)
        fake_seconds = delayed * args.delay
        per_delivery = fake_seconds / max(len(succeeded), 1)
        ceiling = self.concurrency / per_delivery if per_delivery else None
        rate = len(succeeded) / window
        usage = self.usage
        cores = usage.get("cores", os.cpu_count() or 1)
        herold_cpu = sum(v for k, v in usage["cpu_seconds"].items() if k.startswith(("worker", "beat", "benchmark")))
        per_delivery_cpu = {
            role: round(1000 * seconds / max(len(succeeded), 1), 1) for role, seconds in usage["cpu_seconds"].items()
        }
        accept_seconds = [after - before for _, before, after in self.accepted]
        statuses = [r for r in mastodon if r["method"] == "POST" and r["path"] == "/api/v1/statuses"]
        links = collections.Counter((r["account"], tuple(r.get("links", []))) for r in statuses)
        hook_ids = collections.Counter(h["webhook_id"] for h in hooks)
        peak = _peaks(self.timeline)
        return {
            "announcements": len(received),
            "deliveries": len(self.rows),
            "deliveries_succeeded": len(succeeded),
            "deliveries_not_succeeded": _count(r.state for r in self.rows if r.state != "succeeded"),
            "errors_seen": sorted({(r.last_error or "")[:160] for r in self.rows if r.state != "succeeded"})[:5],
            "window_s": round(window, 2),
            "deliveries_per_s": round(rate, 1),
            "announcements_per_s": round(len(received) / window, 1),
            "accepting_s": round((last_accept - first_accept).total_seconds(), 2),
            "accept_ms": summary_ms(accept_seconds),
            "channels": channels,
            "concurrency_threads": self.concurrency,
            "fake_requests": {
                "mastodon": len(mastodon),
                "mastodon_by_answer": _count(f"{r['method']} {_route(r['path'])} {r['status']}" for r in mastodon),
                "webhooks": len(hooks),
                "without_delay": sum(1 for r in mastodon if r["fault"] != "delay"),
                "fake_seconds_total": round(fake_seconds, 2),
                "fake_seconds_per_delivery_ms": round(per_delivery * 1000, 1),
            },
            "ceiling_deliveries_per_s": round(ceiling, 1) if ceiling else None,
            "ceiling_note": (
                "concurrency / fake seconds per delivery: what the fakes' delay and the configured threads "
                "would allow if Herold took no time at all"
            ),
            "share_of_ceiling_pct": round(100 * rate / ceiling, 1) if ceiling else None,
            "thread_time_waiting_on_fakes_pct": round(100 * fake_seconds / (self.concurrency * window), 1),
            "duplicates": {
                "statuses_with_same_links_on_one_account": sum(n - 1 for n in links.values() if n > 1),
                "webhook_ids_repeated": sum(n - 1 for n in hook_ids.values() if n > 1),
            },
            "fake_server_errors": self.records.get("errors", []),
            "resources": usage,
            "herold_cpu_ms_per_delivery": round(1000 * herold_cpu / max(len(succeeded), 1), 1),
            "cpu_ms_per_delivery_by_process": per_delivery_cpu,
            "cpu_bound_hint": (
                f"machine CPU mean {usage['machine_cpu_pct_mean']}% of {cores} cores; Herold's processes "
                f"(workers, beat, the accepting process) used {herold_cpu:.1f} CPU-s in {usage['seconds']} s"
            ),
            "peaks": peak,
            "celery_tasks_received": self.tasks_received,
            "log_lines_by_level": self.log_problems,
            "profile": self.profile,
            "timeline": columns(self.timeline),
        }


# -- helpers --------------------------------------------------------------------------------------


def _quiet_logs(path: Path) -> None:
    """Herold's structured logs of this process go to a file, as a service's would."""
    import structlog

    from publisher.edges import logs

    logs.configure("info", "json")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(open(path, "a")))  # noqa: SIM115


def _pid(server: Postgres | Redis) -> int:
    assert server.process is not None
    return server.process.pid


def _open(engine: sa.Engine, ids: list[str]) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(sa.table("operations"))
                .where(
                    sa.column("announcement_id").in_(ids),
                    sa.column("action").not_in(NOT_DELIVERIES),
                    sa.column("state").not_in(FINAL),
                )
            ).scalar_one()
        )


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _route(path: str) -> str:
    return re.sub(r"/\d+", "/ID", path)


def _count(values: Any) -> dict[str, int]:
    return dict(sorted(collections.Counter(str(v) for v in values).items()))


def _peaks(timeline: list[dict[str, Any]]) -> dict[str, Any]:
    peaks: dict[str, Any] = {}
    for row in timeline:
        for key, value in row.items():
            if key == "deliveries":
                for state, count in value.items():
                    peaks[f"deliveries_{state}"] = max(peaks.get(f"deliveries_{state}", 0), count)
            elif key != "t" and isinstance(value, int | float):
                peaks[key] = max(peaks.get(key, 0), value)
    return dict(sorted(peaks.items()))


def _celery_tasks(directory: Path) -> dict[str, int]:
    """Tasks the workers received, by name (Celery logs each at INFO): more deliver tasks than
    deliveries means work was queued twice (e.g. the sweep taking queued work as lost)."""
    counted: collections.Counter[str] = collections.Counter()
    pattern = re.compile(r"Task (herold\.\w+)\[[0-9a-f-]+\] received")
    for log in directory.glob("worker-*.log"):
        for match in pattern.finditer(log.read_text(errors="replace")):
            counted[match.group(1)] += 1
    return dict(sorted(counted.items()))


def _log_levels(paths: Any) -> dict[str, int]:
    """Herold's JSON log lines by level and event, for the warnings and errors among them."""
    import json

    counted: collections.Counter[str] = collections.Counter()
    decoder = json.JSONDecoder()
    for path in paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            start = line.find('{"')
            if start < 0:
                continue
            try:
                # raw_decode: on `herold worker`, a Celery log line may follow on the same line.
                entry, end = decoder.raw_decode(line, start)
            except ValueError:
                continue
            if start > 0 or line[end:].strip():
                counted["(JSON line glued to other output)"] += 1
            if entry.get("level") in {"warning", "error", "critical"}:
                counted[f"{entry['level']}: {entry.get('event')}"] += 1
    return dict(sorted(counted.items()))


def _project(filename: str) -> bool:
    """Herold's own code (publisher/, adapters/), not the benchmark's, the tests' or a library's."""
    return filename.startswith((str(ROOT / "publisher"), str(ROOT / "adapters")))


class Sampler:
    """A sampling profiler for this process: every ``interval`` seconds, the stack of every Herold
    thread (the embedded runner's pools, and the main thread, which accepts). Reports where the
    busy samples were: innermost function (self) and every project function on the stack
    (inclusive). Idle threads (waiting for work) are not counted as busy."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples = 0
        self.busy = 0
        self.leaf: collections.Counter[str] = collections.Counter()
        self.inclusive: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        main = threading.main_thread().ident
        while not self._stop.wait(self.interval):
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                name = names.get(ident, "")
                if not (name.startswith("herold-") or ident == main):
                    continue
                self.samples += 1
                leaf = f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"
                if self._idle(frame):
                    continue
                self.busy += 1
                self.leaf[leaf] += 1
                seen = set()
                current: Any = frame
                while current is not None:
                    filename = current.f_code.co_filename
                    if _project(filename):
                        label = f"{Path(filename).relative_to(ROOT)}:{current.f_code.co_name}"
                        if label not in seen:
                            seen.add(label)
                            self.inclusive[label] += 1
                    current = current.f_back

    @staticmethod
    def _idle(frame: Any) -> bool:
        """Waiting for work: no project code on the stack."""
        while frame is not None:
            filename = frame.f_code.co_filename
            if _project(filename):
                return False
            frame = frame.f_back
        return True

    def report(self) -> dict[str, Any]:
        def top(counter: collections.Counter[str], n: int) -> list[list[Any]]:
            return [[label, round(100 * count / max(self.busy, 1), 1)] for label, count in counter.most_common(n)]

        return {
            "interval_ms": self.interval * 1000,
            "samples": self.samples,
            "busy_samples": self.busy,
            "note": "percent of busy samples of Herold's threads (waiting in a socket or on a lock counts as busy)",
            "inclusive_project_functions_pct": top(self.inclusive, 25),
            "innermost_functions_pct": top(self.leaf, 15),
        }


def _print(mode: str, results: dict[str, Any], parameters: dict[str, Any]) -> None:
    print()
    print(
        f"Throughput ({mode}): {results['announcements']} warnings × 6 channels = {results['deliveries']} deliveries, "
        f"fakes answer after {parameters['fake_delay_ms']:g} ms, {results['concurrency_threads']} delivery threads"
    )
    print(
        f"  {results['deliveries_succeeded']} succeeded in {results['window_s']} s (first accept → last delivery): "
        f"{results['deliveries_per_s']} deliveries/s ({results['announcements_per_s']} announcements/s)"
    )
    print(
        f"  ceiling set by the fakes' delay and {results['concurrency_threads']} threads: "
        f"{results['ceiling_deliveries_per_s']} deliveries/s → reached {results['share_of_ceiling_pct']}% "
        "(= the share of the threads' time spent waiting on the fakes)"
    )
    accept = results["accept_ms"]
    print(
        f"  accepting took {results['accepting_s']} s (accept p50 {accept['p50']} ms, p95 {accept['p95']} ms); "
        f"Herold CPU per delivery {results['herold_cpu_ms_per_delivery']} ms"
    )
    by_role = ", ".join(f"{k} {v}" for k, v in sorted(results["cpu_ms_per_delivery_by_process"].items()))
    print(f"  CPU ms per delivery by process: {by_role}")
    print(f"  {'channel':<11} {'ok':>5} {'first':>7} {'p50':>7} {'last':>7} {'per s':>7}  accept→done p50/p95 ms")
    for channel, figures in results["channels"].items():
        latency = figures["accept_to_done_ms"]
        print(
            f"  {channel:<11} {figures['succeeded']:>5} {figures['first_done_s'] or 0:>6.1f}s "
            f"{figures['p50_done_s'] or 0:>6.1f}s {figures['last_done_s'] or 0:>6.1f}s {figures['per_s'] or 0:>7.1f}"
            f"  {latency.get('p50', 0):>7.0f} / {latency.get('p95', 0):>7.0f}"
        )
    usage = results["resources"]
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(usage["cpu_seconds"].items()))
    print(f"  CPU seconds ({usage['seconds']} s): {cpu}")
    cores = ", ".join(f"{k} {v}%" for k, v in sorted(usage["cpu_pct_of_one_core"].items()))
    print(f"  CPU as % of one core: {cores}")
    print(
        f"  CPU used by processes the benchmark did not start (other sessions, kernel): "
        f"{usage['other_cpu_seconds']} s = {usage['other_cpu_pct_of_machine']}% of the machine"
        + ("  ← NOTE: figures are skewed by foreign load" if usage["other_cpu_pct_of_machine"] > 5 else "")
    )
    print(
        f"  machine CPU: mean {usage['machine_cpu_pct_mean']}%, max {usage['machine_cpu_pct_max']}% "
        f"of {usage['cores']} cores"
    )
    peaks = results["peaks"]
    shown = {
        k: v for k, v in peaks.items() if k.startswith(("queue", "unacked", "deliveries_pending", "deliveries_in"))
    }
    print(f"  peaks: {shown}")
    print(
        f"  fake requests: {results['fake_requests']['mastodon_by_answer']}, "
        f"webhooks {results['fake_requests']['webhooks']}"
    )
    if results["celery_tasks_received"]:
        print(f"  Celery tasks received: {results['celery_tasks_received']}")
    if results["log_lines_by_level"]:
        print(f"  Herold warnings/errors logged: {results['log_lines_by_level']}")
    duplicates = results["duplicates"]
    if any(duplicates.values()) or results["deliveries_not_succeeded"] or results["fake_server_errors"]:
        print(
            f"  PROBLEMS: duplicates {duplicates}, not succeeded {results['deliveries_not_succeeded']}, "
            f"{results['errors_seen']} {results['fake_server_errors']}"
        )
    if results["profile"]:
        print("  profile (inclusive, % of busy samples):")
        for label, share in results["profile"]["inclusive_project_functions_pct"][:15]:
            print(f"    {share:>5.1f}%  {label}")


if __name__ == "__main__":
    run(main)
