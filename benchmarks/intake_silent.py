"""Accepting a warning while both of its Mastodon servers accept connections and never answer.

Budget (issue "Room"): accepting a warning with two Mastodon channels whose servers accept
connections but never answer takes under 100 ms. (tests/test_intake.py checks the same, three
times, without a running runner; this measures it ``--count`` times, three ways, side by side.)

The two servers are tests/fakes/silent.py's: a listening socket on 127.0.0.1 nobody reads from;
the kernel completes every TCP handshake (its backlog is raised to 4096 here so that it keeps
doing so for the whole run). Each way below has a pair of its own. Every authority has the
website and two Mastodon channels, one on each silent server.

- ``intake``: publisher.sources.intake.accept in this process, with a runner that runs nothing
  (tests/fakes/runner.py's ByHand): intake alone, as the test measures it.
- ``intake+runner``: the same, with Herold's embedded runner running in this process: its workers
  publish the website pages and then hang on the silent servers (read timeout 20 s, then retries),
  as they would in a real outage.
- ``api``: ``POST /api/v1/announcements`` to a `herold serve` process of its own (SQLite, its
  embedded runner hanging likewise), measured at the client (a keep-alive session), token from
  `herold token create`.

Each round accepts one warning each way, the order rotated, ``--interval`` seconds apart, so
the machine's other load falls on all three alike. Reported: p50, p95, p99 and max per way, the
accepting thread's CPU for the in-process ways, whether any connection reached the silent servers
before the runner could have made it (intake alone must make none), and for the ways with a
runner, how soon each warning's website page was published (its delivery's finished_at minus
received_at; the script waits up to ``--page-wait`` seconds for them, the silent servers still
silent), since the website shares the warnings' workers with the hanging Mastodon ones.

    .venv/bin/python benchmarks/intake_silent.py [--count 50]

Writes benchmarks/results/intake-silent.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    BASE_URL,
    SELF,
    SLUG,
    Monitor,
    Stack,
    common_options,
    foreign_load,
    herold_command,
    run,
    stage,
    summary_ms,
    wait_for,
    warning,
    write_result,
)

from fakes.silent import connections_waiting, silent_server

BUDGET_MS = 100.0
WAYS = ["intake", "intake+runner", "api"]


def config_text(data_dir: Path, silent: tuple[str, str], listen: str | None = None) -> str:
    lines = ["[herold]", f'data_dir = "{data_dir}"', 'log_level = "info"', 'log_format = "json"']
    if listen:
        lines.append(f'listen = "{listen}"')
    lines += [
        "", "[[authorities]]", f'slug = "{SLUG}"', 'name = "Landkreis Beispiel"', f'base_url = "{BASE_URL}"',
        'impressum_url = "https://www.lk-beispiel.de/impressum"', 'privacy_url = "https://www.lk-beispiel.de/datenschutz"',
        "", "  [[authorities.channels]]", '  id = "website"', '  type = "website"',
    ]  # fmt: skip
    for channel, url in zip(("bund", "land"), silent, strict=True):
        lines += [
            "", "  [[authorities.channels]]", f'  id = "{channel}"', '  type = "mastodon"',
            f'  instance = "{url}"', '  access_token_env = "HEROLD_BENCH_TOKEN"',
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50, help="warnings accepted each way (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="warnings accepted each way before the measurement")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between rounds")
    parser.add_argument(
        "--page-wait", type=float, default=90, metavar="S",
        help="then wait up to S seconds for every website page of the ways with a runner (default 90)",
    )  # fmt: skip
    common_options(parser, name="intake-silent", kept="logs, sites, databases")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="herold-bench-silent-"))
    print(
        f"Accepting warnings with two silent Mastodon servers: {args.count} each way ({', '.join(WAYS)}); "
        f"working directory {directory}",
        file=sys.stderr,
    )
    load = foreign_load(args.wait_quiet)
    took: dict[str, list[float]] = {way: [] for way in WAYS}
    cpu: dict[str, list[float]] = {way: [] for way in WAYS[:2]}
    ids: dict[str, list[str]] = {way: [] for way in WAYS}
    errors: list[str] = []
    with Stack() as stack, ExitStack() as sockets:
        if not args.keep:
            stack.push("working directory", lambda: shutil.rmtree(directory, ignore_errors=True))
        silent: dict[str, list[tuple[str, socket.socket]]] = {}
        for way in WAYS:
            silent[way] = [sockets.enter_context(silent_server()) for _ in range(2)]
            for _url, listener in silent[way]:
                listener.listen(4096)  # a listening socket takes a new backlog; the kernel caps it at somaxconn
        urls = {way: (pair[0][0], pair[1][0]) for way, pair in silent.items()}
        env = {**os.environ, "HEROLD_BENCH_TOKEN": "silent-token"}

        _logs_to(directory / "herold-in-process.log")
        with stage("Herold in this process: with a runner that runs nothing, and with the embedded runner"):
            alone = _herold(directory / "intake", urls["intake"], env, by_hand=True)
            stack.push("Herold (intake)", alone.stop)
            running = _herold(directory / "runner", urls["intake+runner"], env, by_hand=False)
            stack.push("Herold (intake+runner)", running.stop)
        with stage("herold serve (SQLite, embedded runner), token"):
            port = free_port()
            config = directory / "api" / "herold.toml"
            config.parent.mkdir(parents=True)
            config.write_text(config_text(directory / "api" / "var", urls["api"], f"127.0.0.1:{port}"))
            serve_env = {**env, "HEROLD_CONFIG": str(config)}
            token = subprocess.run(
                herold_command("token", "create", "--authority", SLUG, "--name", "benchmark"),
                env=serve_env, capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            serve = stack.spawn("herold serve", herold_command("serve"), env=serve_env, log=directory / "serve.log")
            api = f"http://127.0.0.1:{port}"
            import requests

            session = requests.Session()
            stack.push("HTTP session", session.close)
            session.headers["Authorization"] = f"Bearer {token}"

            def healthy() -> bool:
                try:
                    return session.get(f"{api}/healthz", timeout=1).status_code == 200
                except requests.RequestException:
                    return False

            wait_for(healthy, 60, "herold serve answering /healthz")
        from publisher.sources.intake import accept

        def one(way: str, number: int, label: str) -> tuple[float, float, str]:
            document = warning(number, label)
            if way == "api":
                started = time.perf_counter()
                response = session.post(f"{api}/api/v1/announcements", json=document, timeout=30)
                elapsed = time.perf_counter() - started
                if response.status_code != 201:
                    raise RuntimeError(f"API answered {response.status_code}: {response.text[:300]}")
                return elapsed, 0.0, str(response.json()["id"])
            herold = alone if way == "intake" else running
            started, thread = time.perf_counter(), time.thread_time()
            announcement_id = accept(herold.engine, document, source="bench", actor="bench")
            return time.perf_counter() - started, time.thread_time() - thread, announcement_id

        with stage(f"warm-up: {args.warmup} each way"):
            for number in range(args.warmup):
                for way in WAYS:
                    one(way, -number - 1, "warm-up")
        reached_before = {way: sum(connections_waiting(s) for _, s in silent[way]) for way in ["intake"]}
        monitor = Monitor({"benchmark": SELF, "serve": serve.pid}).start()
        with stage(f"{args.count} rounds, one warning each way, {args.interval:g} s apart"):
            for number in range(args.count):
                order = WAYS[number % 3 :] + WAYS[: number % 3]
                for way in order:
                    try:
                        elapsed, thread_cpu, announcement_id = one(way, number, "silent")
                    except Exception as error:
                        errors.append(f"{way}: {error!r}")
                        continue
                    took[way].append(elapsed)
                    ids[way].append(announcement_id)
                    if way in cpu:
                        cpu[way].append(thread_cpu)
                time.sleep(args.interval)
        usage = monitor.stop()
        # Intake alone: nothing may have reached its servers. (The others' are looked at after the
        # wait below: taking a connection off the backlog closes it, which ends a worker's hang.)
        reached = {"intake": sum(connections_waiting(s) for _, s in silent["intake"])}
        queued = len(alone.runner.queued)
        with stage(f"waiting up to {args.page_wait:g} s for the website pages of the ways with a runner"):
            deadline = time.monotonic() + args.page_wait
            while time.monotonic() < deadline:
                in_process = _website(running.store.engine, ids["intake+runner"])
                served = _website_sqlite(directory / "api" / "var" / "herold.db", ids["api"])
                done = in_process["published_by_the_end"] + served["published_by_the_end"]
                if done == len(ids["intake+runner"]) + len(ids["api"]):
                    break
                time.sleep(0.5)
            pages = {
                "intake+runner": _website(running.store.engine, ids["intake+runner"]),
                "api": _website_sqlite(directory / "api" / "var" / "herold.db", ids["api"]),
            }
        reached |= {way: sum(connections_waiting(s) for _, s in silent[way]) for way in WAYS[1:]}
    results = {
        "accept_ms": {way: summary_ms(values) for way, values in took.items()},
        "accepting_thread_cpu_ms": {way: summary_ms(values) for way, values in cpu.items()},
        "budget": {
            way: {
                "p99_ms": summary_ms(values).get("p99"),
                "max_ms": summary_ms(values).get("max"),
                "limit_ms": BUDGET_MS,
                "met_p99": (summary_ms(values).get("p99") or 1e9) < BUDGET_MS,
                "met_max": (summary_ms(values).get("max") or 1e9) < BUDGET_MS,
            }
            for way, values in took.items()
        },
        "connections_to_silent_servers": {
            "intake_alone_during_warmup_and_run": reached_before["intake"] + reached["intake"],
            "by_way": reached,
            "note": (
                "intake alone must make none (counted after the run); with a runner, the workers' attempts "
                "reach them (counted after the wait for the website pages)"
            ),
        },
        "tasks_queued_by_intake_alone": queued,
        "website_published_after_accept_s": pages,
        "errors": errors[:10],
        "resources": usage,
        "each_ms": {way: [round(1000 * v, 2) for v in values] for way, values in took.items()},
    }
    parameters = {
        "count": args.count,
        "warmup": args.warmup,
        "interval_s": args.interval,
        "channels": ["website", "mastodon bund (silent)", "mastodon land (silent)"],
        "ways": WAYS,
        "database": "sqlite",
        "budget": f"accepting a warning under {BUDGET_MS:g} ms",
    }
    write_result(args.name, parameters, results, load)
    _print(results, parameters)
    print(f"\nResults: benchmarks/results/{args.name}.json")
    if args.keep:
        print(f"Working directory kept: {directory}")


def _logs_to(path: Path) -> None:
    """Herold's structured logs of this process go to a file, as a service's would."""
    import structlog

    from publisher.edges import logs

    logs.configure("info", "json")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(open(path, "a")))  # noqa: SIM115
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the migrations' lines would go to the terminal


def _herold(directory: Path, urls: tuple[str, str], env: dict[str, str], *, by_hand: bool) -> Any:
    from publisher.edges.config import load_settings
    from publisher.edges.wiring import Herold

    from fakes.runner import ByHand

    directory.mkdir(parents=True)
    config = directory / "herold.toml"
    config.write_text(config_text(directory / "var", urls))
    settings = load_settings(config, env)
    herold = Herold(settings, runner=ByHand()) if by_hand else Herold(settings)
    herold.start()
    return herold


def _website(engine: Any, ids: list[str]) -> dict[str, Any]:
    import sqlalchemy as sa

    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT a.received_at, o.finished_at, o.state FROM operations o JOIN announcements a "
                "ON a.id = o.announcement_id WHERE o.channel = 'website' AND o.announcement_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": ids},
        ).all()
    return _published(rows, len(ids))


def _website_sqlite(path: Path, ids: list[str]) -> dict[str, Any]:
    import sqlite3

    with sqlite3.connect(path) as connection:
        marks = ",".join("?" * len(ids))
        rows = connection.execute(
            "SELECT a.received_at, o.finished_at, o.state FROM operations o JOIN announcements a "
            f"ON a.id = o.announcement_id WHERE o.channel = 'website' AND o.announcement_id IN ({marks})",
            ids,
        ).fetchall()
    return _published(rows, len(ids))


def _published(rows: list[Any], accepted: int) -> dict[str, Any]:
    def moment(value: Any) -> datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))

    delays = [
        (moment(finished) - moment(received)).total_seconds()
        for received, finished, state in rows
        if state == "succeeded" and finished is not None
    ]
    return {
        "accepted": accepted,
        "published_by_the_end": len(delays),
        "published_within_1_s": sum(1 for d in delays if d <= 1.0),
        "seconds": {
            "p50": round(statistics.median(delays), 3) if delays else None,
            "max": round(max(delays), 3) if delays else None,
        },
    }


def _print(results: dict[str, Any], parameters: dict[str, Any]) -> None:
    print()
    print(
        f"Accepting a warning (website + 2 Mastodon channels on servers that never answer), "
        f"{parameters['count']} each way, budget < {BUDGET_MS:g} ms"
    )
    print(f"  {'way':<14} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  thread CPU p50  budget")
    for way, figures in results["accept_ms"].items():
        if not figures.get("count"):
            print(f"  {way:<14} (no measurements)")
            continue
        thread = results["accepting_thread_cpu_ms"].get(way, {})
        budget = results["budget"][way]
        verdict = "met" if budget["met_max"] else ("met at p99, not at max" if budget["met_p99"] else "NOT MET")
        cpu = f"{thread.get('p50')} ms" if thread else "(client side)"
        print(
            f"  {way:<14} {figures['p50']:>5.1f}ms {figures['p95']:>5.1f}ms {figures['p99']:>5.1f}ms "
            f"{figures['max']:>5.1f}ms  {cpu:>13}  {verdict}"
        )
    reached = results["connections_to_silent_servers"]
    print(
        f"  connections reaching the silent servers: intake alone {reached['intake_alone_during_warmup_and_run']}, "
        f"by way {reached['by_way']}"
    )
    for way, pages in results["website_published_after_accept_s"].items():
        print(
            f"  {way}: website pages published {pages['published_by_the_end']}/{pages['accepted']} "
            f"({pages['published_within_1_s']} within 1 s of acceptance), after p50 {pages['seconds']['p50']} s, "
            f"max {pages['seconds']['max']} s"
        )
    usage = results["resources"]
    print(
        f"  CPU used by other processes meanwhile: {usage['other_cpu_pct_of_machine']}% of the machine"
        + ("  ← NOTE: figures are skewed by foreign load" if usage["other_cpu_pct_of_machine"] > 5 else "")
    )
    if results["errors"]:
        print(f"  ERRORS: {results['errors']}")


if __name__ == "__main__":
    run(main)
