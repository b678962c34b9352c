"""CPU per delivery: Herold against Apprise and a bare ``requests.post``, side by side in one run.

Budget (issue "Room"): Herold's CPU per network delivery within 3× of Apprise's.

All subjects post short statuses to the same fake Mastodon (benchmarks/fake_servers.py, its own
process, every request answered after ``--delay``, default 20 ms), each with an account (token)
of its own, so the fake's records show what each one sent. Each subject is a process of its own,
started once and warmed up; the benchmark then runs ``--rounds`` rounds, and in each round every
subject delivers ``count / rounds`` statuses in turn, one subject at a time, the order rotated
from round to round, so the machine's other load falls on all of them alike. A subject's CPU is
its own process's CPU time (user + system, every thread: ``time.process_time()`` around each
batch, cross-checked with /proc/PID/stat from outside).

Subjects:

- ``raw``: ``requests.post(url, json=..., headers=...)`` in a loop, with Herold's Python and
  requests: the floor any Python client pays.
- ``apprise``: ``Apprise().notify(body=...)`` with one ``mastodon://TOKEN@127.0.0.1:PORT`` URL
  (plain http to a custom host and port is what ``mastodon://`` means; ``mastodons://`` is https).
  Apprise and py-spy live in an environment of their own, ``benchmarks/.venv-apprise`` (created
  on first use with Herold's interpreter and Herold's requests version; ignored by git), never in
  Herold's dependencies.
- ``herold``: Herold embedded (SQLite, in-process runner, ``embedded_workers`` 8) with the built-in
  website and one Mastodon channel (``pin_warnings = false``: one request per delivery, as the
  others make). Warnings are accepted with publisher.sources.intake.accept one at a time, each
  waited for until both deliveries are final (as Apprise's loop waits for each post).
- ``herold-site``: the same, with the website alone. Herold always publishes on its own website
  first; "per Mastodon delivery" is ``herold`` minus ``herold-site``, round by round (the two ran
  moments apart). That difference includes what the Mastodon delivery causes on the site (the
  item page gains the link to the status). Both take one announcement every ``--pace`` seconds
  (150 ms; each is done well within that): Herold also works per second rather than per
  announcement (the sweep, the lists rewritten at most once a second), and at the same pace that
  work is the same in both and drops out of their difference. Back to back (``--pace 0``) the
  subject with Mastodon, taking longer per announcement, paid it more often per announcement.
- ``herold-burst`` / ``herold-site-burst`` (not by default; ``--subjects``): the whole batch
  accepted at once, then waited for.

What a Herold batch counts: intake, the website, the Mastodon delivery and what follows it (the
item page's copies, the lists held back for ``lists_every_seconds``: after each batch the subject
waits ``--settle`` seconds so they fall into the batch that caused them), and the runner's
background sweep while the batch runs. Not counted: the benchmark's own polling of the database
for "done" (the polling thread's CPU, ``time.thread_time()``, is subtracted and reported). It
looks every ``--poll`` seconds (10 ms): each look wakes a thread in the subject's process, and
what those switches cost Herold's own threads cannot be told apart from their work; the subject
that waits longest (website and Mastodon) paid most of it (benchmarks/README.md has figures). The
idle cost (the sweep alone) is measured at the end and reported separately.

``--profile`` adds a pass after the measurement: ``--profile-count`` more announcements on the
``herold`` subject with its main functions metered (each one's thread CPU, ``time.thread_time``)
and py-spy sampling its busy threads (top functions and areas), then as many on ``herold-site``,
metered only. The metering and the sampler cost some CPU themselves: these batches are not part
of the figures above.

    .venv/bin/python benchmarks/cpu_per_delivery.py [--count 800] [--rounds 16] [--profile]

Writes benchmarks/results/cpu-per-delivery.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    BASE_URL,
    BENCHMARKS,
    ROOT,
    SELF,
    SLUG,
    FakeServers,
    Stack,
    common_options,
    cpu_seconds,
    foreign_load,
    machine_busy,
    run,
    stage,
    stop_group,
    warning,
    write_result,
)

BUDGET_RATIO = 3.0
APPRISE_VERSION = "2.3.0"
PY_SPY_VERSION = "0.4.3"
SPY_RATE = 500  # samples per second
VENV = BENCHMARKS / ".venv-apprise"
TOKENS = {
    "raw": "bench-raw",
    "apprise": "bench-apprise",
    "herold": "bench-herold",
    "herold-burst": "bench-herold-burst",
}
ACCOUNTS = {token: f"lkb_{name.replace('-', '_')}" for name, token in TOKENS.items()}
DEFAULT_SUBJECTS = ["raw", "apprise", "herold", "herold-site"]
ALL_SUBJECTS = [*DEFAULT_SUBJECTS, "herold-burst", "herold-site-burst"]
FINAL = ("succeeded", "failed", "dead", "unknown", "skipped")  # publisher.domain.records.FINAL_STATES


def status_text(number: int) -> str:
    """About what Herold posts for the benchmark's warning: headline, text, instruction, link, tag."""
    return (
        f"Bombenentschärfung: Fliegerbombe Nummer {number} (cpu)\n\n"
        "Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird heute entschärft.\n\n"
        "Verlassen Sie das Sperrgebiet bis 10 Uhr.\n\n"
        f"{BASE_URL}2026/11/fliegerbombe-nummer-{number}-cpu/\n\n#Bombe"
    )


# -- the parent: runs the rounds ------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # 16 rounds: a round's figure is the difference of two subjects' CPU and varies by ±0.6×; the
    # median of 8 rounds still moved by ±0.4× from run to run.
    parser.add_argument("--count", type=int, default=800, help="deliveries per subject (default 800)")
    parser.add_argument("--rounds", type=int, default=16, help="rounds; each subject delivers count/rounds per round")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds the fake Mastodon takes to answer")
    parser.add_argument("--warmup", type=int, default=10, help="deliveries per subject before the measurement")
    parser.add_argument("--settle", type=float, default=1.5, help="Herold: seconds to wait after a batch")
    parser.add_argument("--poll", type=float, default=0.01, help="Herold: seconds between two looks for 'done'")
    parser.add_argument("--pace", type=float, default=0.15, help="Herold one at a time: an announcement every S s")
    parser.add_argument("--idle", type=float, default=5.0, help="Herold: seconds of idle CPU measured at the end")
    parser.add_argument("--subjects", default=",".join(DEFAULT_SUBJECTS), help=f"from: {', '.join(ALL_SUBJECTS)}")
    parser.add_argument("--profile", action="store_true", help="then sample the herold subject with py-spy")
    parser.add_argument("--profile-count", type=int, default=200, help="deliveries in the profiled batch")
    common_options(parser, name="cpu-per-delivery", kept="logs, sites, databases")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--options", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.options))
        return
    subjects = [s.strip() for s in args.subjects.split(",") if s.strip()]
    unknown = [s for s in subjects if s not in ALL_SUBJECTS]
    if unknown:
        parser.error(f"unknown subject(s): {', '.join(unknown)}")
    per_round = max(1, args.count // args.rounds)

    directory = Path(tempfile.mkdtemp(prefix="herold-bench-cpu-"))
    print(
        f"CPU per delivery: {', '.join(subjects)}; {args.rounds} rounds × {per_round} deliveries each; "
        f"fake Mastodon answers after {args.delay * 1000:g} ms; working directory {directory}",
        file=sys.stderr,
    )
    with stage(f"the benchmark's own environment ({VENV.relative_to(ROOT)}: apprise, py-spy)"):
        versions = ensure_venv()
    load = foreign_load(args.wait_quiet)
    batches: list[dict[str, Any]] = []
    idle: dict[str, Any] = {}
    ready: dict[str, Any] = {}
    profile: dict[str, Any] | None = None
    with Stack() as stack:
        if not args.keep:
            stack.push("working directory", lambda: shutil.rmtree(directory, ignore_errors=True))
        with stage("the fake Mastodon (own process)"):
            fakes = FakeServers(stack, directory, tokens=ACCOUNTS, receivers=0, delay=args.delay)
        with stage(f"the subjects, each warmed up with {args.warmup} deliveries"):
            children = {name: Child(stack, directory, name, fakes.mastodon_url, args) for name in subjects}
            for name, subject in children.items():
                ready[name] = subject.wait_ready()
        for number in range(args.rounds):
            order = subjects[number % len(subjects) :] + subjects[: number % len(subjects)]
            with stage(f"round {number + 1}/{args.rounds}: {' → '.join(order)}"):
                for name in order:
                    start = args.warmup + number * per_round
                    batches.append(children[name].batch(per_round, start, number, fakes.process.pid))
        herolds = [name for name in subjects if name.startswith("herold")]
        if herolds and args.idle > 0:
            with stage(f"idle CPU of the Herold subjects ({args.idle:g} s, side by side)"):
                for name in herolds:
                    children[name].send({"do": "idle", "seconds": args.idle})
                idle = {name: children[name].answer() for name in herolds}
        if args.profile and "herold" in children:
            with stage(f"profile: py-spy on the herold subject over {args.profile_count} more deliveries"):
                start = args.warmup + args.rounds * per_round
                profile = children["herold"].profiled(args.profile_count, start, directory)
            if "herold-site" in children:
                with stage(f"profile: the herold-site subject's phases over {args.profile_count} more deliveries"):
                    profile["site_only"] = children["herold-site"].phased(args.profile_count, start)
        with stage("stopping the subjects and the fake Mastodon"):
            for subject in children.values():
                subject.quit()
            records = fakes.stop_and_read()
    results = figures(subjects, batches, idle, ready, records, args, per_round)
    results["profile"] = profile
    parameters = {
        "count_per_subject": per_round * args.rounds,
        "rounds": args.rounds,
        "per_round": per_round,
        "fake_delay_ms": args.delay * 1000,
        "warmup": args.warmup,
        "settle_s": args.settle,
        "poll_s": args.poll,
        "pace_s": args.pace,
        "subjects": subjects,
        "kind": "warning (pin_warnings = false)",
        "herold": {"database": "sqlite", "runner": "embedded", "embedded_workers": 8, "lists_every_seconds": 1.0},
        "versions": versions,
        "budget": f"Herold's CPU per Mastodon delivery within {BUDGET_RATIO:g}× of Apprise's",
    }
    write_result(args.name, parameters, results, load)
    _print(results, parameters)
    print(f"\nResults: benchmarks/results/{args.name}.json")
    if args.keep:
        print(f"Working directory kept: {directory}")


def ensure_venv() -> dict[str, str]:
    """benchmarks/.venv-apprise with Apprise and py-spy, on Herold's interpreter and with Herold's
    requests (so ``raw`` and ``apprise`` use the same HTTP client)."""
    import requests

    wanted = {
        "apprise": APPRISE_VERSION,
        "py-spy": PY_SPY_VERSION,
        "requests": requests.__version__,
        "python": ".".join(map(str, sys.version_info[:3])),
    }
    marker = VENV / "benchmark-versions.json"
    python = VENV / "bin" / "python"
    try:
        if json.loads(marker.read_text()) == wanted and python.exists():
            return wanted
    except (OSError, ValueError):
        pass
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"apprise=={APPRISE_VERSION}", f"py-spy=={PY_SPY_VERSION}", f"requests=={requests.__version__}"],
        check=True,
    )  # fmt: skip
    marker.write_text(json.dumps(wanted))
    return wanted


class Child:
    """One subject in a process of its own; JSON lines on its stdin and stdout."""

    def __init__(self, stack: Stack, directory: Path, name: str, mastodon_url: str, args: argparse.Namespace) -> None:
        self.name = name
        python = str(VENV / "bin" / "python") if name == "apprise" else sys.executable
        token = None if "site" in name else TOKENS[name]
        options = {
            "mastodon": mastodon_url,
            "token": token,
            "warmup": args.warmup,
            "settle": args.settle,
            "poll": args.poll,
            "pace": args.pace,
            "pattern": "burst" if name.endswith("burst") else "sequential",
            "directory": str(directory / name),
        }
        argv = [python, str(Path(__file__).resolve()), "--child", name.split("-")[0], "--options", json.dumps(options)]
        self.process = stack.spawn(
            name, argv, log=directory / f"{name}.log", stdout=subprocess.PIPE, stdin=subprocess.PIPE
        )
        self.log = directory / f"{name}.log"

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        self.process.stdin.flush()

    def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"subject {self.name} ended; see {self.log}:\n{_tail(self.log)}")
        return dict(json.loads(line))

    def wait_ready(self) -> dict[str, Any]:
        return self.answer()

    def batch(self, count: int, start: int, number: int, fake_pid: int) -> dict[str, Any]:
        """One batch, with what the machine did meanwhile."""
        outside = cpu_seconds(self.process.pid)
        fake = cpu_seconds(fake_pid)
        me = cpu_seconds(SELF)
        busy, total = machine_busy()
        self.send({"do": "run", "count": count, "start": start})
        answer = self.answer()
        busy2, total2 = machine_busy()
        seconds = answer["wall_s"]
        machine_s = (busy2 - busy) / os.sysconf("SC_CLK_TCK")
        own = cpu_seconds(self.process.pid) - outside
        others = machine_s - own - (cpu_seconds(fake_pid) - fake) - (cpu_seconds(SELF) - me)
        return {
            "subject": self.name,
            "round": number,
            **answer,
            "cpu_s_from_proc": round(own, 3),
            "machine_cpu_pct": round(100 * (busy2 - busy) / max(total2 - total, 1), 1),
            "other_cpu_pct_of_machine": round(100 * others / max(seconds * (os.cpu_count() or 1), 1e-9), 1),
        }

    def phased(self, count: int, start: int) -> dict[str, Any]:
        """One more batch, instrumented (no sampling): the CPU by phase."""
        self.send({"do": "instrument"})
        self.answer()
        self.send({"do": "run", "count": count, "start": start})
        answer = self.answer()
        meters = answer.pop("meters", {})
        return {"batch": answer, "phases": phases(meters, answer)}

    def profiled(self, count: int, start: int, directory: Path) -> dict[str, Any]:
        output = directory / "py-spy.txt"
        spy = subprocess.Popen(
            [str(VENV / "bin" / "py-spy"), "record", "--pid", str(self.process.pid), "--rate", str(SPY_RATE),
             "--format", "raw", "--output", str(output), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=open(directory / "py-spy.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        try:
            self.send({"do": "instrument"})
            self.answer()
            time.sleep(1.0)  # py-spy attaches
            self.send({"do": "run", "count": count, "start": start})
            answer = self.answer()
        finally:
            import signal

            if spy.poll() is None:
                os.kill(spy.pid, signal.SIGINT)  # py-spy writes what it has on Ctrl-C
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                stop_group(spy)
        meters = answer.pop("meters", {})
        return {"batch": answer, "phases": phases(meters, answer), **collapse(output, answer["count"])}

    def quit(self) -> None:
        if self.process.poll() is None:
            try:
                self.send({"do": "quit"})
                self.process.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                stop_group(self.process)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def collapse(path: Path, deliveries: int) -> dict[str, Any]:
    """py-spy's raw output (one line per stack: ``frame;frame;... count``) as the top functions:
    inclusive (on the stack) and innermost (self), as shares of the samples."""
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    area: collections.Counter[str] = collections.Counter()
    left_out: collections.Counter[str] = collections.Counter()
    total = 0
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {"error": f"py-spy wrote no {path.name}"}
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        if any(f.endswith("HeroldSubject._wait") for f in frames):
            left_out["the benchmark polling the database for 'done' (subtracted in the measurement)"] += count
            continue
        if frames[-1] in WAITING:
            left_out[f"waiting: {frames[-1]}"] += count
            continue
        total += count
        leaf[frames[-1]] += count
        for label in dict.fromkeys(frames):
            inclusive[label] += count
        area[_area(frames)] += count

    def top(counter: collections.Counter[str], n: int) -> list[list[Any]]:
        return [[label, round(100 * c / max(total, 1), 1)] for label, c in counter.most_common(n)]

    return {
        "samples": total,
        "rate_hz": SPY_RATE,
        "samples_left_out": dict(left_out.most_common()),
        "note": (
            "py-spy record, shares of the busy samples: left out are samples whose innermost Python frame "
            "waits (a queue, a condition, a socket: py-spy does not always see such a thread as idle) and "
            "the benchmark's own polling; the accepting thread (intake) is the subject's main thread"
        ),
        "areas_pct": top(area, 20),
        "inclusive_pct": top(inclusive, 40),
        "innermost_pct": top(leaf, 20),
        "samples_per_delivery": round(total / max(deliveries, 1), 2),
    }


WAITING = {
    "concurrent/futures/thread.py:_worker",  # SimpleQueue.get: waiting for work
    "threading.py:Condition.wait",
    "threading.py:Event.wait",
    "threading.py:Thread._wait_for_tstate_lock",
    "threading.py:Timer.run",
    "socket.py:SocketIO.readinto",  # waiting for the fake's answer
    "selectors.py:EpollSelector.select",
}


def phases(meters: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The instrumented batch's CPU by phase, per announcement (each function's own thread CPU,
    inclusive of what it calls)."""
    count = max(answer["count"], 1)
    rows = {label: {"cpu_ms_per_announcement": round(1000 * m["cpu_s"] / count, 2),
                    "calls_per_announcement": round(m["calls"] / count, 2)}
            for label, m in sorted(meters.items())}  # fmt: skip
    top_level = sum(m["cpu_s"] for label, m in meters.items() if label.startswith(("1 ", "2 ", "3 ")))
    return {
        "note": (
            "time.thread_time() around these functions in the herold subject, inclusive of what they call; "
            "labels 1-3 do not overlap, the indented ones are parts of the one above; "
            "'4 rest' is the subject's CPU outside them (runner hand-offs, timers, logging, GC)"
        ),
        "by_function": rows,
        "4 rest": round(1000 * (answer["cpu_s"] - top_level) / count, 2),
        "total_cpu_ms_per_announcement": round(1000 * answer["cpu_s"] / count, 2),
    }


def _frame(text: str) -> str:
    """A py-spy frame, "function (path/file.py:line)", as "file-or-module:function"."""
    name, _, where = text.partition(" (")
    where = where.rstrip(")")
    path = where.rpartition(":")[0]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif path.startswith(str(ROOT) + "/"):
        path = path[len(str(ROOT)) + 1 :]
    return f"{path}:{name}" if path else name


AREAS = [
    ("sqlalchemy/", "database (SQLAlchemy, sqlite3)"),
    ("sqlite3/", "database (SQLAlchemy, sqlite3)"),
    ("jinja2/", "templates (Jinja2)"),
    ("feedgen/", "feeds (feedgen, lxml)"),
    ("lxml/", "feeds (feedgen, lxml)"),
    ("mastodon/", "Mastodon.py"),
    ("requests/", "HTTP (requests, urllib3, http.client)"),
    ("urllib3/", "HTTP (requests, urllib3, http.client)"),
    ("http/client", "HTTP (requests, urllib3, http.client)"),
    ("pydantic", "pydantic"),
    ("structlog/", "logging"),
    ("logging/", "logging"),
    ("json/", "json"),
]


def _area(frames: list[str]) -> str:
    """The innermost library (or Herold module) a sample is in."""
    for frame in reversed(frames):
        for prefix, label in AREAS:
            if prefix in frame:
                return label
        if frame.startswith(("publisher/", "adapters/")):
            return "Herold: " + frame.split(":")[0]
    return "other: " + frames[-1].split(":")[0]


# -- figures ----------------------------------------------------------------------------------------


def figures(
    subjects: list[str],
    batches: list[dict[str, Any]],
    idle: dict[str, Any],
    ready: dict[str, Any],
    records: dict[str, Any],
    args: argparse.Namespace,
    per_round: int,
) -> dict[str, Any]:
    by_subject: dict[str, Any] = {}
    per_round_ms: dict[str, list[float]] = {}
    for name in subjects:
        mine = [b for b in batches if b["subject"] == name]
        cpu = sum(b["cpu_s"] for b in mine)
        done = sum(b["count"] for b in mine)
        per_round_ms[name] = [1000 * b["cpu_s"] / b["count"] for b in mine]
        by_subject[name] = {
            "deliveries": done,
            "succeeded": sum(b["ok"] for b in mine),
            "cpu_s": round(cpu, 3),
            "cpu_ms_per_delivery": round(1000 * cpu / max(done, 1), 2),
            "cpu_ms_per_delivery_by_round": [round(v, 2) for v in per_round_ms[name]],
            "cpu_ms_per_delivery_median_of_rounds": round(statistics.median(per_round_ms[name]), 2),
            "cpu_s_from_proc": round(sum(b["cpu_s_from_proc"] for b in mine), 2),
            "polling_cpu_s_subtracted": round(sum(b.get("excluded_cpu_s", 0.0) for b in mine), 3),
            "wall_ms_per_delivery": round(1000 * sum(b["wall_s"] for b in mine) / max(done, 1), 1),
            "other_cpu_pct_of_machine_by_round": [b["other_cpu_pct_of_machine"] for b in mine],
            "states": _merge(b.get("states", {}) for b in mine),
            "start_up": ready.get(name, {}),
        }
        if name in idle:
            by_subject[name]["idle_cpu_ms_per_s"] = round(1000 * idle[name]["cpu_s"] / idle[name]["wall_s"], 2)

    derived: dict[str, Any] = {}
    for pattern, both, site in (
        ("sequential", "herold", "herold-site"),
        ("burst", "herold-burst", "herold-site-burst"),
    ):
        if both in by_subject and site in by_subject:
            rounds = [a - b for a, b in zip(per_round_ms[both], per_round_ms[site], strict=True)]
            total = by_subject[both]["cpu_ms_per_delivery"] - by_subject[site]["cpu_ms_per_delivery"]
            derived[f"herold_mastodon_delivery_{pattern}"] = {
                "cpu_ms": round(total, 2),
                "cpu_ms_by_round": [round(v, 2) for v in rounds],
                "cpu_ms_median_of_rounds": round(statistics.median(rounds), 2),
                "how": f"{both} minus {site}, per announcement",
            }
            per_round_ms[f"herold-mastodon-{pattern}"] = rounds

    ratios: dict[str, Any] = {}
    if "apprise" in per_round_ms:
        apprise = per_round_ms["apprise"]
        for name, values in per_round_ms.items():
            if name == "apprise":
                continue
            ratios[f"{name}/apprise"] = {
                "of_totals": round(sum(values) / sum(apprise), 2),
                "median_of_rounds": round(statistics.median(v / a for v, a in zip(values, apprise, strict=True)), 2),
                "by_round": [round(v / a, 2) for v, a in zip(values, apprise, strict=True)],
            }
    if "raw" in per_round_ms and "apprise" in per_round_ms:
        raw = per_round_ms["raw"]
        ratios["apprise/raw"] = {
            "of_totals": round(sum(per_round_ms["apprise"]) / sum(raw), 2),
            "median_of_rounds": round(
                statistics.median(a / r for a, r in zip(per_round_ms["apprise"], raw, strict=True)), 2
            ),
        }
    # The budget is the Mastodon delivery's CPU (the two Herolds' difference), never the whole
    # announcement's (the website's work too): without the herold-site subject there is no verdict.
    budget: dict[str, Any] = {}
    key = "herold-mastodon-sequential/apprise"
    if key in ratios:
        ratio = ratios[key]["median_of_rounds"]
        budget[key] = {"ratio": ratio, "limit": BUDGET_RATIO, "met": ratio <= BUDGET_RATIO}

    mastodon = records.get("mastodon", [])
    statuses = collections.Counter(
        r["account"]
        for r in mastodon
        if r["method"] == "POST" and r["path"] == "/api/v1/statuses" and r["status"] == 200
    )
    requests_by = collections.Counter(
        f"{r['account'] or '(no token)'} {r['method']} {r['path'].split('?')[0]} {r['status']}" for r in mastodon
    )
    others = [b["other_cpu_pct_of_machine"] for b in batches]
    return {
        "subjects": by_subject,
        "herold_minus_site": derived,
        "ratios": ratios,
        "budget": budget,
        "fake_requests": dict(sorted(requests_by.items())),
        "statuses_by_account": dict(sorted(statuses.items())),
        "fake_requests_without_delay": sum(1 for r in mastodon if r["fault"] != "delay"),
        "fake_server_errors": records.get("errors", []),
        "other_cpu_pct_of_machine": {
            "mean": round(statistics.mean(others), 1) if others else None,
            "max": max(others, default=None),
            "note": "CPU of processes other than the subject, the fake and the benchmark, during each batch",
        },
        "batches": [{k: v for k, v in b.items() if k not in {"states"}} for b in batches],
    }


def _merge(parts: Any) -> dict[str, int]:
    total: collections.Counter[str] = collections.Counter()
    for part in parts:
        total.update(part)
    return dict(sorted(total.items()))


def _print(results: dict[str, Any], parameters: dict[str, Any]) -> None:
    print()
    print(
        f"CPU per delivery, {parameters['rounds']} rounds × {parameters['per_round']} per subject "
        f"(fake Mastodon answers after {parameters['fake_delay_ms']:g} ms)"
    )
    print(f"  {'subject':<34} {'CPU ms/delivery':>15} {'median of rounds':>17} {'wall ms':>8}  ok")
    for name, s in results["subjects"].items():
        print(
            f"  {name:<34} {s['cpu_ms_per_delivery']:>15.2f} {s['cpu_ms_per_delivery_median_of_rounds']:>17.2f} "
            f"{s['wall_ms_per_delivery']:>8.1f}  {s['succeeded']}/{s['deliveries']}"
            + (f"  (idle: {s['idle_cpu_ms_per_s']} ms/s)" if "idle_cpu_ms_per_s" in s else "")
        )
    for name, d in results["herold_minus_site"].items():
        print(f"  {name:<34} {d['cpu_ms']:>15.2f} {d['cpu_ms_median_of_rounds']:>17.2f}  ({d['how']})")
    for name, r in results["ratios"].items():
        print(f"  ratio {name:<28} {r['of_totals']:>15.2f} {r['median_of_rounds']:>17.2f}")
    for name, b in results["budget"].items():
        verdict = "met" if b["met"] else "NOT MET"
        print(f"  budget {name}: {b['ratio']}× (limit {b['limit']:g}×): {verdict}")
    if not results["budget"]:
        print("  budget: no verdict (it needs the subjects apprise, herold and herold-site)")
    other = results["other_cpu_pct_of_machine"]
    print(
        f"  CPU of other processes during the batches: mean {other['mean']}%, max {other['max']}% of the machine"
        + ("  ← NOTE: skewed by foreign load" if (other["mean"] or 0) > 5 else "")
    )
    print(f"  statuses received by account: {results['statuses_by_account']}")
    if results["fake_server_errors"]:
        print(f"  fake server errors: {results['fake_server_errors']}")
    profile = results.get("profile")
    if profile and "phases" in profile:
        phases = profile["phases"]
        print(
            f"  where the herold subject's CPU goes ({profile['batch']['count']} more announcements, instrumented; "
            f"{phases['total_cpu_ms_per_announcement']} ms each):"
        )
        for label, row in phases["by_function"].items():
            print(f"    {row['cpu_ms_per_announcement']:>6.2f} ms  {row['calls_per_announcement']:>5.2f}×  {label}")
        print(f"    {phases['4 rest']:>6.2f} ms         4 rest (runner, timers, logging, garbage collection)")
        if "site_only" in profile:
            site = profile["site_only"]["phases"]
            print(f"  the same for herold-site ({site['total_cpu_ms_per_announcement']} ms each):")
            for label, row in site["by_function"].items():
                print(f"    {row['cpu_ms_per_announcement']:>6.2f} ms  {row['calls_per_announcement']:>5.2f}×  {label}")
            print(f"    {site['4 rest']:>6.2f} ms         4 rest")
    if profile and "areas_pct" in profile:
        print(f"  py-spy, {profile['samples']} busy samples at {profile['rate_hz']} Hz, by area:")
        for label, share in profile["areas_pct"][:12]:
            print(f"    {share:>5.1f}%  {label}")
        print("  py-spy, innermost functions:")
        for label, share in profile["innermost_pct"][:12]:
            print(f"    {share:>5.1f}%  {label}")


# -- the children: one subject each ---------------------------------------------------------------


def child(kind: str, options: dict[str, Any]) -> None:
    """A subject: set up, warm up, then batches on command (JSON lines on stdin and stdout)."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to the log
    subject: Any = {"raw": Raw, "apprise": AppriseSubject, "herold": HeroldSubject}[kind](options)
    started = time.process_time()
    subject.setup()
    subject.run(options["warmup"], 0)
    out.write(
        json.dumps({"ready": True, "pid": os.getpid(), "setup_and_warmup_cpu_s": time.process_time() - started}) + "\n"
    )
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "run":
            cpu, wall = time.process_time(), time.monotonic()
            answer = subject.run(command["count"], command["start"])
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            excluded = answer.pop("excluded_cpu_s", 0.0)
            answer |= {"count": command["count"], "cpu_s": cpu - excluded, "excluded_cpu_s": excluded, "wall_s": wall}
            out.write(json.dumps(answer) + "\n")
        elif command["do"] == "instrument":
            subject.instrument()
            out.write(json.dumps({"ok": True}) + "\n")
        elif command["do"] == "idle":
            cpu, wall = time.process_time(), time.monotonic()
            time.sleep(command["seconds"])
            out.write(json.dumps({"cpu_s": time.process_time() - cpu, "wall_s": time.monotonic() - wall}) + "\n")
        elif command["do"] == "quit":
            break
    subject.close()


class Raw:
    def __init__(self, options: dict[str, Any]) -> None:
        self.url = options["mastodon"] + "/api/v1/statuses"
        self.headers = {"Authorization": f"Bearer {options['token']}"}

    def setup(self) -> None:
        import requests

        self.requests = requests

    def run(self, count: int, start: int) -> dict[str, Any]:
        ok = 0
        for number in range(start, start + count):
            response = self.requests.post(
                self.url, json={"status": status_text(number), "visibility": "public"}, headers=self.headers,
                timeout=(5, 20),
            )  # fmt: skip
            response.raise_for_status()
            ok += bool(response.json()["id"])
        return {"ok": ok}

    def close(self) -> None:
        pass


class AppriseSubject:
    def __init__(self, options: dict[str, Any]) -> None:
        self.url = f"mastodon://{options['token']}@{options['mastodon'].removeprefix('http://')}"

    def setup(self) -> None:
        import apprise  # type: ignore[import-not-found]  # in the benchmark's own environment

        self.apprise = apprise.Apprise()
        if not self.apprise.add(self.url):
            raise RuntimeError(f"Apprise refused {self.url}")

    def run(self, count: int, start: int) -> dict[str, Any]:
        ok = sum(bool(self.apprise.notify(body=status_text(n))) for n in range(start, start + count))
        return {"ok": ok}

    def close(self) -> None:
        pass


class HeroldSubject:
    """Herold embedded in this process: SQLite, the in-process runner, the website, and one
    Mastodon channel if given a token."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.directory = Path(options["directory"])
        self.pattern = options["pattern"]
        self.channels = 2 if options["token"] else 1
        self._look: sqlite3.Connection | None = None
        self.meters: dict[str, list[float]] | None = None
        self._meters_lock = threading.Lock()

    def setup(self) -> None:
        sys.path.insert(0, str(ROOT))
        from publisher.edges import logs
        from publisher.edges.config import load_settings
        from publisher.edges.wiring import Herold
        from publisher.engine.worker import settled

        logs.configure("info", "json")  # to stderr, which is this subject's log file
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [
            "[herold]", f'data_dir = "{self.directory / "var"}"', 'log_level = "info"', 'log_format = "json"',
            "embedded_workers = 8", "",
            "[[authorities]]", f'slug = "{SLUG}"', 'name = "Landkreis Beispiel"', f'base_url = "{BASE_URL}"',
            'impressum_url = "https://www.lk-beispiel.de/impressum"',
            'privacy_url = "https://www.lk-beispiel.de/datenschutz"', "",
            "  [[authorities.channels]]", '  id = "website"', '  type = "website"',
        ]  # fmt: skip
        env = dict(os.environ)
        if self.options["token"]:
            env["HEROLD_BENCH_MASTODON"] = self.options["token"]
            lines += [
                "", "  [[authorities.channels]]", '  id = "mastodon"', '  type = "mastodon"',
                f'  instance = "{self.options["mastodon"]}"', '  access_token_env = "HEROLD_BENCH_MASTODON"',
                "  pin_warnings = false",
            ]  # fmt: skip
        config = self.directory / "herold.toml"
        config.write_text("\n".join(lines) + "\n")
        self.herold = Herold(load_settings(config, env))
        assert self.herold.embedded
        self.herold.start()
        settled()  # as `herold serve` and a worker do once started

    def run(self, count: int, start: int) -> dict[str, Any]:
        from publisher.sources.intake import accept

        engine = self.herold.engine
        excluded = 0.0
        ids: list[str] = []
        for number in range(start, start + count):
            began = time.monotonic()
            ids.append(accept(engine, warning(number, "cpu"), source="bench", actor="bench"))
            if self.pattern == "sequential":
                excluded += self._wait(ids[-1:])
                time.sleep(max(0.0, self.options["pace"] - (time.monotonic() - began)))
        if self.pattern == "burst":
            excluded += self._wait(ids)
        time.sleep(self.options["settle"])  # what was held back (lists, copies) is written now
        states = self._states(ids)
        answer = {"ok": states.get("succeeded", 0) // self.channels, "states": states, "excluded_cpu_s": excluded}
        if self.meters is not None:
            with self._meters_lock:
                answer["meters"] = {k: {"cpu_s": v[0], "calls": v[1]} for k, v in self.meters.items()}
                self.meters.clear()
        return answer

    def instrument(self) -> None:
        """Meter the CPU (this thread's) of the main phases from now on: for the profile pass only."""
        import adapters.mastodon
        import publisher.sources.intake
        from publisher.engine import tasks
        from publisher.site import record, website

        self.meters = {}

        def meter(owner: Any, name: str, label: str, key: Any = None) -> None:
            """``label`` may hold ``{}``, filled with ``key(args)``."""
            original = getattr(owner, name)

            def metered(*args: Any, **kwargs: Any) -> Any:
                name = label.format(key(args)) if key else label
                started = time.thread_time()
                try:
                    return original(*args, **kwargs)
                finally:
                    used = time.thread_time() - started
                    with self._meters_lock:
                        if self.meters is not None:
                            entry = self.meters.setdefault(name, [0.0, 0])
                            entry[0] += used
                            entry[1] += 1

            setattr(owner, name, metered)

        meter(publisher.sources.intake, "accept", "1 intake: accept (the subject's main thread)")
        meter(tasks, "run", "2 task {}", key=lambda args: args[1])
        channel = lambda args: args[1].operation.channel  # noqa: E731
        meter(tasks, "_attempt", "   deliver {}: tasks._attempt (after the claim; act, record)", key=channel)
        meter(tasks, "_succeeded", "   deliver {}: tasks._succeeded (record, audit, next wave)", key=channel)
        meter(tasks, "sweep", "3 the runner's sweep (every 0.5 s)")
        meter(tasks, "_publish_on_site", "   deliver website: Site.publish (item page; lists if due)")
        meter(adapters.mastodon.MastodonChannel, "publish", "   deliver mastodon: MastodonChannel.publish (HTTP incl.)")
        meter(website.Site, "copies", "   refresh: Site.copies (records the copy; page if due)")
        meter(website.Site, "_catch_up", "   site: Site._catch_up (lists and refreshed pages, from any caller)")
        meter(website.Site, "_write_lists", "   site: Site._write_lists")
        meter(website.Site, "_write_item", "   site: Site._write_item (an item page)")
        meter(record.SiteRecord, "publish", "   site: SiteRecord.publish (the record)")

        import sqlalchemy as sa

        counted = self.meters

        @sa.event.listens_for(self.herold.store.engine, "before_cursor_execute")
        def statement(*_args: Any) -> None:
            with self._meters_lock:
                entry = counted.setdefault("   SQL statements executed (calls; no CPU)", [0.0, 0])
                entry[1] += 1

    def _wait(self, ids: list[str], timeout: float = 120) -> float:
        """Until every delivery of these announcements is final; returns this thread's CPU for it."""
        started, deadline = time.thread_time(), time.monotonic() + timeout
        while self._open(ids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"deliveries not final after {timeout} s")
            time.sleep(self.options["poll"])
        return time.thread_time() - started

    def _open(self, ids: list[str]) -> int:
        """Operations of these announcements not final yet: plain sqlite3, the cheapest look."""
        if self._look is None:
            self._look = sqlite3.connect(self.directory / "var" / "herold.db", check_same_thread=False)
        marks = ",".join("?" * len(ids))
        final = ",".join("?" * len(FINAL))
        query = f"SELECT count(*) FROM operations WHERE announcement_id IN ({marks}) AND state NOT IN ({final})"
        return int(self._look.execute(query, [*ids, *FINAL]).fetchone()[0])

    def _states(self, ids: list[str]) -> dict[str, int]:
        import sqlalchemy as sa

        with self.herold.store.engine.connect() as connection:
            rows: Sequence[Any] = connection.execute(
                sa.select(sa.column("state"), sa.func.count()).select_from(sa.table("operations"))
                .where(sa.column("announcement_id").in_(ids)).group_by(sa.column("state"))
            ).all()  # fmt: skip
        return {str(state): int(n) for state, n in rows}

    def close(self) -> None:
        if self._look is not None:
            self._look.close()
        self.herold.stop()


if __name__ == "__main__":
    run(main)
