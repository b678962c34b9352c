"""Run every benchmark, one after another, and print a summary table.

Each benchmark runs as a process of its own (it starts and stops everything it needs) and
writes benchmarks/results/<name>.json; this script then reads those files. Ctrl-C stops the
running benchmark, which cleans up after itself, and then this script.

    .venv/bin/python benchmarks/run_all.py [--only latency,celery,embedded,cpu,silent,site]

(`make bench` runs this.) About a quarter of an hour on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BENCHMARKS = {
    "latency": (["latency.py"], "latency"),
    "celery": (["throughput.py", "--mode", "celery"], "throughput-celery"),
    "embedded": (["throughput.py", "--mode", "embedded"], "throughput-embedded"),
    # The same load with few threads: where the fakes' delay, not the CPU, should set the pace.
    "celery-4": (
        ["throughput.py", "--mode", "celery", "--concurrency", "2", "--name", "throughput-celery-4-threads"],
        "throughput-celery-4-threads",
    ),
    "embedded-2": (
        ["throughput.py", "--mode", "embedded", "--embedded-workers", "2", "--name", "throughput-embedded-2-threads"],
        "throughput-embedded-2-threads",
    ),
    # The budgets of the issue "Room".
    "cpu": (["cpu_per_delivery.py", "--profile"], "cpu-per-delivery"),
    "silent": (["intake_silent.py"], "intake-silent"),
    "site": (["site_cost.py", "--profile"], "site-cost"),
    # The budgets of the issues "Privacy" and "Press office".
    "guard": (["guard.py"], "guard"),
    "preview": (["preview_roundtrip.py"], "preview-roundtrip"),
    "hooks": (["hook_latency.py"], "hook-latency"),
}
THROUGHPUT = {"celery", "embedded", "celery-4", "embedded-2"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated: {', '.join(BENCHMARKS)}")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=120,
        metavar="S",
        help="before each benchmark, wait up to S seconds for an idle machine (default 120)",
    )
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    failed: list[str] = []
    started = time.monotonic()
    for name in chosen:
        script, _ = BENCHMARKS[name]
        print(f"\n=== {name}: {' '.join(script)} ===", flush=True)
        try:
            command = [sys.executable, str(HERE / script[0]), *script[1:], "--wait-quiet", str(args.wait_quiet)]
            code = subprocess.call(command)
        except KeyboardInterrupt:
            print("\nInterrupted.", file=sys.stderr)
            sys.exit(130)
        if code != 0:
            failed.append(f"{name} (exit code {code})")
    print(f"\n=== Summary ({time.monotonic() - started:.0f} s) ===")
    print(summary({name: _load(BENCHMARKS[name][1]) for name in chosen}))
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
        sys.exit(1)


def _load(result: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads((RESULTS / f"{result}.json").read_text()))
    except (OSError, ValueError):
        return None


def summary(documents: dict[str, dict[str, Any] | None]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    latency = documents.get("latency")
    if latency:
        r, p = latency["results"], latency["parameters"]
        where = f"{p['count']} warnings at {p['rate_per_s']:g}/s, {p['workers']}×{p['threads_per_worker']} threads"
        rows.append(("latency", where, "", ""))
        for label, key in (
            ("API answer", "api_answer_ms"),
            ("page file exists", "page_latency_ms"),
            ("Mastodon status received", "mastodon_latency_ms"),
        ):
            rows.append(("", label, _percentiles(r[key]), ""))
        verdict = "met" if r["overhead_p99_within_target"] else "MISSED"
        overhead = f"page {r['overhead_page_ms'].get('p99')} / Mastodon {r['overhead_mastodon_ms'].get('p99')} ms"
        rows.append(("", "pipeline overhead p99", overhead, f"< {r['overhead_target_p99_ms']:g} ms: {verdict}"))
        usage = r["resources"]
        rows.append(("", "machine CPU (mean)", f"{usage['machine_cpu_pct_mean']}% of {usage['cores']} cores", ""))
    for name, document in documents.items():
        if name not in THROUGHPUT or not document:
            continue
        r, p = document["results"], document["parameters"]
        where = f"{r['announcements']} × 6 channels, {r['concurrency_threads']} threads, {p['database']}"
        rows.append((f"throughput {name}", where, "", ""))
        rows.append(
            (
                "",
                "deliveries/s (first accept → last done)",
                f"{r['deliveries_per_s']} ({r['deliveries_succeeded']} in {r['window_s']} s)",
                f"ceiling {r['ceiling_deliveries_per_s']}: {r['share_of_ceiling_pct']}%",
            )
        )
        last = ", ".join(f"{c} {f['last_done_s']}" for c, f in r["channels"].items())
        rows.append(("", "channel done (s after first accept)", last, ""))
        usage = r["resources"]
        rows.append(
            (
                "",
                "CPU per delivery / machine CPU",
                f"{r['herold_cpu_ms_per_delivery']} ms / {usage['machine_cpu_pct_mean']}% of {usage['cores']} cores",
                "",
            )
        )
    rows += _budgets(documents)
    for name, document in documents.items():
        if document is not None:
            results = document["results"]
            during = results["resources"].get("other_cpu_pct_of_machine") if "resources" in results else (
                results.get("other_cpu_pct_of_machine", {}).get("mean"))  # fmt: skip
            before = document["machine"].get("cpu_busy_pct_before_start")
            rows.append(
                (
                    f"({name})",
                    "foreign CPU: before start / during run",
                    f"{before}% / {during}% of the machine",
                    "figures skewed" if (during or 0) > 5 else "",
                )
            )
    for name, document in documents.items():
        if document is None:
            rows.append((name, "no results", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)] if rows else [0] * 4
    lines = []
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def _budgets(documents: dict[str, dict[str, Any] | None]) -> list[tuple[str, str, str, str]]:
    """The rows of the three budgets (cpu_per_delivery.py, intake_silent.py, site_cost.py)."""
    rows: list[tuple[str, str, str, str]] = []
    cpu = documents.get("cpu")
    if cpu:
        r, p = cpu["results"], cpu["parameters"]
        rows.append(("CPU per delivery", f"{p['count_per_subject']} each, {p['rounds']} rounds side by side", "", ""))
        for name, figures in r["subjects"].items():
            rows.append(("", name, f"{figures['cpu_ms_per_delivery_median_of_rounds']} ms (median of rounds)", ""))
        for name, figures in r["herold_minus_site"].items():
            rows.append(("", name, f"{figures['cpu_ms_median_of_rounds']} ms ({figures['how']})", ""))
        for name, budget in r["budget"].items():
            verdict = "met" if budget["met"] else "NOT MET"
            rows.append(("", f"ratio {name}", f"{budget['ratio']}×", f"≤ {budget['limit']:g}×: {verdict}"))
    silent = documents.get("silent")
    if silent:
        r = silent["results"]
        rows.append(("accept, silent Mastodon", f"{silent['parameters']['count']} warnings each way", "", ""))
        for way, figures in r["accept_ms"].items():
            budget = r["budget"][way]
            verdict = "met" if budget["met_max"] else ("p99 met, max not" if budget["met_p99"] else "NOT MET")
            rows.append(("", way, _percentiles(figures) + f"  max {figures.get('max')} ms",
                         f"< {budget['limit_ms']:g} ms: {verdict}"))  # fmt: skip
    site = documents.get("site")
    if site:
        r, p = site["results"], site["parameters"]
        rows.append(("site: one more item", f"{p['small_items']} vs {p['large_items']:,} items", "", ""))
        for name, figures in r["passes"].items():
            verdict = "met" if r["budget"][name]["met"] else "NOT MET"
            rows.append((
                "", f"{name}: p50 small / large",
                f"{figures['small']['wall_ms']['p50']} / {figures['large']['wall_ms']['p50']} ms = "
                f"{figures['ratio_median_wall']}×", f"≤ 2×: {verdict}",
            ))  # fmt: skip
    preview = documents.get("preview")
    if preview:
        r, p = preview["results"], preview["parameters"]
        verdict = "met" if r["within_budget"] else "NOT MET"
        figures = r["wall_ms"]
        rows.append(("preview round trip", f"{r['channels']} channels, {p['runs']} runs", "", ""))
        rows.append(("", "form in, variants out (HTTP)", f"p50 {figures['p50']}  p95 {figures['p95']} ms",
                     f"p50 < 50 ms: {verdict}"))  # fmt: skip
    hooks = documents.get("hooks")
    if hooks:
        r, p = hooks["results"], hooks["parameters"]
        rows.append(("signed CAP → item page", f"{p['count']} alerts, one after another", "", ""))
        for label, key in (("answer (202)", "answer_ms"), ("page written", "page_ms")):
            rows.append(("", label, f"p50 {r[key]['p50']}  p99 {r[key]['p99']} ms", ""))
    return rows


def _percentiles(figures: dict[str, Any]) -> str:
    if not figures.get("count"):
        return "(none)"
    return f"p50 {figures['p50']}  p95 {figures['p95']}  p99 {figures['p99']} ms"


if __name__ == "__main__":
    main()
