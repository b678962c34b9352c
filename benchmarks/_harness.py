"""What the benchmarks share: starting and stopping processes, machine facts, monitors, results.

Everything a benchmark starts is registered with a `Stack` and stopped by its pid when the
benchmark ends, fails or is interrupted (Ctrl-C, SIGTERM, SIGHUP). Processes Herold runs in
get a process group of their own (stopped as a group, like tests/test_worker.py does) and are
told by the kernel to stop if the benchmark itself dies without cleaning up (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # tests/services.py and tests/fakes/

BASE_URL = "https://www.lk-beispiel.de/"
SLUG = "lk-beispiel"
# Standard Webhooks secrets ("whsec_" + base64 of 32 bytes), for the benchmark's receivers only.
HOOK_SECRET = "whsec_" + "YmVuY2htYXJrLXNlY3JldC1mb3ItdGhlLWhvb2tzISE="


# -- processes ------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the benchmark process dies (Linux prctl)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_group(process: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Stop a process started in a session of its own, and everything it started, by its pid."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


class Stack:
    """Owns what a benchmark started; `close` stops it all, last started first.

    Use as a context manager. SIGTERM and SIGHUP become KeyboardInterrupt (as Ctrl-C is), so the
    ``with`` block's exit runs in every case but SIGKILL; a second Ctrl-C during cleanup is ignored.
    """

    def __init__(self) -> None:
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> Stack:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _interrupt)
        # Also when started with SIGINT ignored (a background job of a script): Ctrl-C / kill -INT stop it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def push(self, name: str, stop: Callable[[], None]) -> None:
        self._stops.append((name, stop))

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        stdout: int | None = None,
        stdin: int | None = None,
        cwd: Path = ROOT,
    ) -> subprocess.Popen[bytes]:
        out: Any = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed at stop
        process = subprocess.Popen(
            list(argv),
            env=env,
            cwd=cwd,
            stdin=stdin,
            stdout=stdout if stdout is not None else out,
            stderr=out,
            start_new_session=True,  # its own process group: stopped as one, by its pid
            preexec_fn=_die_with_parent,
        )
        self.processes[name] = process

        def stop() -> None:
            stop_group(process)
            if log:
                out.close()

        self.push(name, stop)
        return process

    def close(self) -> None:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self._stops:
                name, stop = self._stops.pop()
                started = time.monotonic()
                try:
                    stop()
                except Exception as error:
                    print(f"  (stopping {name} failed: {error!r})", file=sys.stderr)
                took = time.monotonic() - started
                if took > 3:
                    print(f"  (stopping {name} took {took:.1f} s)", file=sys.stderr)
        finally:
            signal.signal(signal.SIGINT, previous)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def herold_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "publisher", *arguments]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g} s")
        time.sleep(poll)


# -- the fake platforms, in a process of their own --------------------------------------------------


class FakeServers:
    """benchmarks/fake_servers.py in its own process: FakeMastodon and webhook receivers that
    answer after ``delay`` seconds, so their threads never compete with Herold's for a GIL."""

    def __init__(self, stack: Stack, directory: Path, *, tokens: dict[str, str], receivers: int, delay: float) -> None:
        self.records_path = directory / "fake-records.json"
        self.delay = delay
        argv = [
            sys.executable, str(BENCHMARKS / "fake_servers.py"), "--delay", str(delay),
            "--receivers", str(receivers), "--records", str(self.records_path),
            *[arg for token, user in tokens.items() for arg in ("--account", f"{token}={user}")],
        ]  # fmt: skip
        self.process = stack.spawn("fake servers", argv, log=directory / "fake-servers.log", stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake servers did not start; see {directory / 'fake-servers.log'}")
        ready = json.loads(line)
        self.mastodon_url: str = ready["mastodon"]
        self.receiver_urls: list[str] = ready["receivers"]

    def stop_and_read(self) -> dict[str, Any]:
        """Stop the servers (SIGTERM makes them write what they received) and return their records."""
        stop_group(self.process, timeout=60)
        return dict(json.loads(self.records_path.read_text()))


# -- configuration ------------------------------------------------------------------------------


def write_config(
    path: Path,
    *,
    data_dir: Path,
    herold: dict[str, Any],
    mastodon_url: str,
    mastodon_channels: Sequence[tuple[str, str]],
    hook_urls: Sequence[str],
) -> dict[str, str]:
    """A Herold TOML config with one authority; returns the environment its secrets need.
    ``mastodon_channels``: (channel id, access token)."""
    lines = ["[herold]", f'data_dir = "{data_dir}"']
    for key, value in herold.items():
        lines.append(f"{key} = {json.dumps(value)}")
    lines += [
        "",
        "[[authorities]]",
        f'slug = "{SLUG}"',
        'name = "Landkreis Beispiel"',
        f'base_url = "{BASE_URL}"',
        'impressum_url = "https://www.lk-beispiel.de/impressum"',
        'privacy_url = "https://www.lk-beispiel.de/datenschutz"',
        "",
        "  [[authorities.channels]]",
        '  id = "website"',
        '  type = "website"',
    ]
    env: dict[str, str] = {}
    for number, (channel_id, token) in enumerate(mastodon_channels):
        variable = f"HEROLD_BENCH_MASTODON_{number}"
        env[variable] = token
        lines += [
            "",
            "  [[authorities.channels]]",
            f'  id = "{channel_id}"',
            '  type = "mastodon"',
            f'  instance = "{mastodon_url}"',
            f'  access_token_env = "{variable}"',
        ]
    for number, url in enumerate(hook_urls):
        variable = f"HEROLD_BENCH_HOOK_{number}"
        env[variable] = HOOK_SECRET
        lines += [
            "",
            "  [[authorities.channels]]",
            f'  id = "hook-{number + 1}"',
            '  type = "webhook"',
            f'  url = "{url}"',
            f'  secret_env = "{variable}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return env


def warning(number: int, run: str) -> dict[str, Any]:
    """A valid warning (like tests/conftest.py's), numbered so that every text is different."""
    return {
        "authority": SLUG,
        "kind": "warning",
        "category": "safety",
        "event": "Bombenentschärfung",
        "severity": "severe",
        "headline": f"Fliegerbombe Nummer {number} ({run})",
        "description": "Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird heute entschärft.",
        "instruction": "Verlassen Sie das Sperrgebiet bis 10 Uhr.",
        "area": {"description": "Altstadt rund um die Marktstraße"},
        "hashtags": ["Bombe"],
    }


def page_file(data_dir: Path, item_url: str) -> Path:
    return data_dir / "site" / SLUG / item_url.removeprefix(BASE_URL) / "index.html"


# -- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """count, min, p50, p95, p99, max and mean of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "min": round(min(ms), 1),
        "p50": round(percentile(ms, 50), 1),
        "p95": round(percentile(ms, 95), 1),
        "p99": round(percentile(ms, 99), 1),
        "max": round(max(ms), 1),
        "mean": round(sum(ms) / len(ms), 1),
    }


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """An ASGI app served by uvicorn on a free loopback port, in a thread of this process; yields
    its base URL (http://127.0.0.1:PORT)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, port=0, log_config=None, lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"  # port 0: the system chose
    finally:
        server.should_exit = True
        thread.join(10)


# -- CPU and other gauges -------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from "state" on; the name may hold spaces


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (PostgreSQL's backends, `herold worker --queue all`'s children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


SELF = 0  # a role's pid for "this process alone" (its threads, not its children)


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of a process tree so far, including children it has reaped;
    for ``SELF``, of this process alone."""
    if root == SELF:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    total = 0.0
    for pid in process_tree(root):
        fields = _stat_fields(pid)
        if fields:
            # utime, stime, cutime, cstime are fields 14-17 of /proc/PID/stat (11-14 from "state").
            total += sum(int(value) for value in fields[11:15]) / TICKS
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return float(sum(values) - idle), float(sum(values))


class Monitor:
    """Samples, every ``interval`` seconds: the machine's CPU use, the CPU time of each named
    process tree, and any extra gauges (queue depth, deliveries per state). ``timeline`` keeps
    one row per sample; `summary` gives what the benchmarks report."""

    def __init__(
        self,
        roles: dict[str, int],
        gauges: dict[str, Callable[[], Any]] | None = None,
        interval: float = 0.5,
    ) -> None:
        self.roles, self.gauges, self.interval = roles, gauges or {}, interval
        self.timeline: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-monitor", daemon=True)
        self._start_cpu: dict[str, float] = {}
        self._start_machine = (0.0, 0.0)
        self._started = 0.0
        self.errors: list[str] = []

    def start(self) -> Monitor:
        self._started = time.monotonic()
        self._start_cpu = {name: cpu_seconds(pid) for name, pid in self.roles.items()}
        self._start_machine = machine_busy()
        self._thread.start()
        return self

    def _run(self) -> None:
        last_busy, last_total = self._start_machine
        last_cpu = dict(self._start_cpu)
        last_at = self._started
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            span, last_at = max(now - last_at, 1e-9), now
            row: dict[str, Any] = {"t": round(now - self._started, 2)}
            busy, total = machine_busy()
            row["machine_cpu_pct"] = round(100 * (busy - last_busy) / max(total - last_total, 1), 1)
            last_busy, last_total = busy, total
            for name, pid in self.roles.items():
                used = cpu_seconds(pid)
                row[f"cpu_{name}_pct"] = round(100 * (used - last_cpu[name]) / span, 1)
                last_cpu[name] = used
            for name, gauge in self.gauges.items():
                try:
                    row[name] = gauge()
                except Exception as error:  # a gauge must never end the benchmark
                    self.errors.append(f"{name}: {error!r}")
            self.timeline.append(row)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=10)
        elapsed = time.monotonic() - self._started
        busy, total = machine_busy()
        cores = os.cpu_count() or 1
        used = {name: round(cpu_seconds(pid) - self._start_cpu[name], 2) for name, pid in self.roles.items()}
        # Jiffies in /proc/stat are USER_HZ ticks, like those of /proc/PID/stat.
        machine_seconds = (busy - self._start_machine[0]) / TICKS
        others = machine_seconds - sum(used.values())
        return {
            "machine_busy_cpu_seconds": round(machine_seconds, 2),
            "other_cpu_seconds": round(others, 2),
            "other_cpu_pct_of_machine": round(100 * others / max(elapsed * cores, 1e-9), 1),
            "seconds": round(elapsed, 2),
            "machine_cpu_pct_mean": round(
                100 * (busy - self._start_machine[0]) / max(total - self._start_machine[1], 1), 1
            ),
            "machine_cpu_pct_max": max((r["machine_cpu_pct"] for r in self.timeline), default=0.0),
            "cores": cores,
            "cpu_seconds": used,
            "cpu_pct_of_one_core": {name: round(100 * value / max(elapsed, 1e-9), 1) for name, value in used.items()},
        }


# -- results ------------------------------------------------------------------------------------


def _git(*arguments: str) -> str:
    try:
        return subprocess.run(
            ["git", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except Exception:
        return ""


QUIET_PCT = 10.0  # machine CPU use below which the machine counts as quiet


def _busy_pct(seconds: float) -> float:
    busy, total = machine_busy()
    time.sleep(seconds)
    busy2, total2 = machine_busy()
    return round(100 * (busy2 - busy) / max(total2 - total, 1), 1)


def foreign_load(wait_quiet: float = 0.0, seconds: float = 2.0) -> dict[str, Any]:
    """How busy the machine is before a benchmark starts anything (other people's work skews
    every figure on a 2-core machine): CPU use over ``seconds`` and the load average. With
    ``wait_quiet``, first wait up to that many seconds for the machine to become quiet."""
    deadline = time.monotonic() + wait_quiet
    waited = 0.0
    pct = _busy_pct(seconds)
    while pct > QUIET_PCT and time.monotonic() < deadline:
        if not waited:
            print(f"  waiting up to {wait_quiet:g} s for a quiet machine (now {pct}% busy) ...", file=sys.stderr)
        waited += seconds
        pct = _busy_pct(seconds)
    load = Path("/proc/loadavg").read_text().split()[:3]
    if pct > QUIET_PCT:
        print(
            f"  NOTE: the machine was {pct}% busy before the benchmark started (load {' '.join(load)}): "
            "figures will be worse than on a quiet machine",
            file=sys.stderr,
        )
    return {
        "cpu_busy_pct_before_start": pct,
        "loadavg_before_start": [float(x) for x in load],
        "waited_for_quiet_s": round(waited, 1),
    }


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "herold_commit": _git("rev-parse", "--short", "HEAD"),
        "herold_tree_dirty": bool(_git("status", "--porcelain", "--", "publisher", "adapters", "templates")),
    }


def columns(timeline: Sequence[dict[str, Any]], every: int = 2) -> dict[str, list[Any]]:
    """A timeline (one dict per sample) column-wise, every ``every``-th sample, nested counts
    (e.g. deliveries per state) flattened: compact and diff-friendly in a results file."""
    rows = []
    for row in timeline[::every]:
        flat: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, dict):
                flat.update({f"{key}_{k}": v for k, v in value.items()})
            else:
                flat[key] = value
        rows.append(flat)
    keys = sorted({key for row in rows for key in row})
    return {key: [row.get(key, 0 if key.startswith("deliveries_") else None) for row in rows] for key in keys}


_SCALAR = r'(?:-?[\d.]+(?:[eE][-+]?\d+)?|null|true|false|"[^"\n\\]{0,120}")'
_SCALAR_LIST = re.compile(r"\[\n\s+(" + _SCALAR + r"(?:,\n\s+" + _SCALAR + r")*)\n\s+\]")


def _compact(text: str) -> str:
    """Lists of scalars on one line (json.dumps with indent puts every element on its own)."""
    return _SCALAR_LIST.sub(lambda m: "[" + ", ".join(part.strip() for part in m.group(1).split(",\n")) + "]", text)


def write_result(
    name: str, parameters: dict[str, Any], results: dict[str, Any], load: dict[str, Any] | None = None
) -> Path:
    """benchmarks/results/<name>.json, keys sorted (stable diffs), written atomically. ``load``:
    what `foreign_load` found before the start, kept with the machine facts."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "machine": {**machine(), **(load or {})},
        "parameters": parameters,
        "results": results,
    }
    target = RESULTS / f"{name}.json"
    partial = target.with_name(target.name + ".tmp")
    partial.write_text(_compact(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)) + "\n")
    partial.replace(target)
    return target


@contextlib.contextmanager
def stage(text: str) -> Iterator[None]:
    started = time.monotonic()
    print(f"- {text} ...", end="", flush=True, file=sys.stderr)
    try:
        yield
    finally:
        print(f" {time.monotonic() - started:.1f} s", file=sys.stderr)


def common_options(parser: argparse.ArgumentParser, *, name: str, kept: str) -> None:
    """The options every benchmark takes: an idle machine first, keeping its directory, the results' name."""
    parser.add_argument(
        "--wait-quiet", type=float, default=0, metavar="S", help="first wait up to S seconds for an idle machine"
    )
    parser.add_argument("--keep", action="store_true", help=f"keep the working directory ({kept})")
    parser.add_argument("--name", default=name, help=f"results file name (default: {name})")


def run(main: Callable[[], None]) -> None:
    """Run a benchmark's main; Ctrl-C (or SIGTERM, SIGHUP) stops all it started, then exits 130."""
    try:
        main()
    except KeyboardInterrupt:
        print("\nInterrupted; everything the benchmark started is stopped.", file=sys.stderr)
        sys.exit(130)
