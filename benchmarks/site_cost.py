"""What one more item costs the built-in website: with 10 items on the site and with 10,000.

Budget (issue "Room"): publishing one more item costs at most 2× as much with 10,000 items on the
site as with 10.

The website subsystem alone (publisher.site.website.Site with its record, publisher.site.record),
as the engine drives it: `Site.publish(Publication)` writes the item page and, on a quiet site,
the lists at once (the start page, the archive overview, the item's page of its month's archive,
the Atom, RSS and JSON feeds). The website is configured with ``lists_every_seconds = 0`` so that
every publish rewrites the lists inside the call (the default 1 s holds them back in a burst; on
a quiet site the default does the same as 0). No database, no engine, no network.

The sites are filled through the site's own API: `Site.rebuild(Published(publications))`, what
`herold site build` uses (the record starts afresh, one `SiteRecord.publish` per item, then
every page is rendered). Every item is in the same month; items alternate between warnings
(which expire two hours after they were sent) and news, one minute apart, so that a site with
many items has what such a site has: a full start page (``record.WARNINGS_KEPT`` recent warnings
looked at, ``NEWS_KEPT`` news shown), full feeds (``RECENT_KEPT`` entries) and full pages of its
month's archive (``PAGE_SIZE`` items each).

The measured item is a warning (the kind that must be fast), two hours valid. Each repetition
publishes one on a small site and one on the large site (and the medium one), the order rotated,
so the machine's other load falls on all alike. Every repetition uses a small site of its own (``--small`` items, built
the same way), so the small side always has exactly ``--small`` items before the publish. The
large site keeps growing by one per repetition; it is filled with ``--large`` minus half the
repetitions, so the measurements straddle ``--large`` items: the first half fills the month's
last archive page to its full ``PAGE_SIZE`` rows (the dearest archive page), the second half
starts a new page (the publish that starts it also rewrites the page before). The site's clock
moves three hours per repetition, so the warning measured before has expired by the next and
both sites show one current warning (plus none of the filler: theirs expired).

A third site with ``--medium`` items (1,000) is measured alongside, the same way: every list has
its full size from a few hundred items on, so if one more item costs the same with 1,000 items as
with 10,000, the cost has stopped growing with the site, and what remains is the full lists
against a small site's short ones.

Measured per publish: wall time (``time.perf_counter``) and the thread's CPU time
(``time.thread_time``; everything runs in the calling thread). Two passes:

- warm: the process has the items parsed and the list rows rendered (its caches), as a running
  worker has;
- cold: those in-process caches emptied before each publish, as a process that has just started
  finds them (the operating system's file cache stays warm).

``--profile`` then runs cProfile over ``--profile-count`` more publishes on each side and reports
the functions whose cost differs most.

    .venv/bin/python benchmarks/site_cost.py [--large 10000] [--reps 40] [--profile]

Writes benchmarks/results/site-cost.json.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    BASE_URL,
    ROOT,
    SELF,
    SLUG,
    Monitor,
    common_options,
    foreign_load,
    percentile,
    run,
    stage,
    write_result,
)

if TYPE_CHECKING:
    from publisher.site.model import Published
    from publisher.site.website import Site

BUDGET_RATIO = 2.0
MONTH = "2026-11"
START = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # the filler items are sent from here on, a minute apart
VALID = timedelta(hours=2)
STEP = timedelta(hours=3)  # the clock's move per repetition: the previous measured warning has expired


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10, help="items on the small sites (default 10)")
    parser.add_argument("--large", type=int, default=10_000, help="items on the large site (default 10,000)")
    parser.add_argument(
        "--medium", type=int, default=1_000,
        help="items on a third site measured alongside (default 1,000; 0: none): do the lists stop growing?",
    )  # fmt: skip
    parser.add_argument("--reps", type=int, default=40, help="publishes measured on each side, per pass")
    parser.add_argument("--profile", action="store_true", help="then profile publishes on each side (cProfile)")
    parser.add_argument("--profile-count", type=int, default=20)
    common_options(parser, name="site-cost", kept="the sites")
    args = parser.parse_args()
    # Two passes (warm, cold) of --reps each; small sites: one per publish, so 2 × reps of them.
    directory = Path(tempfile.mkdtemp(prefix="herold-bench-site-"))
    print(
        f"Site cost: one more item with {args.small} items on the site vs {args.large:,}; "
        f"{args.reps} publishes per side and pass; working directory {directory}",
        file=sys.stderr,
    )
    load = foreign_load(args.wait_quiet)
    try:
        bench = Bench(args, directory)
        results = bench.run()
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    parameters = {
        "small_items": args.small,
        "large_items": args.large,
        "large_items_before_first_measured_publish": bench.large_start,
        "medium_items": args.medium or None,
        "reps_per_pass": args.reps,
        "month": MONTH,
        "filler": "alternating warnings (valid 2 h) and news, one minute apart, one month",
        "measured_item": "a warning, valid 2 h; the site's clock moves 3 h per repetition",
        "lists_every_seconds": 0,
        "filled_with": "Site.rebuild(Published(publications)) (as `herold site build`)",
        "page_size": bench.limits["PAGE_SIZE"],
        "record_limits": bench.limits,
        "budget": f"one more item with {args.large:,} items at most {BUDGET_RATIO:g}× the cost with {args.small}",
    }
    write_result(args.name, parameters, results, load)
    _print(results, parameters)
    print(f"\nResults: benchmarks/results/{args.name}.json")
    if args.keep:
        print(f"Working directory kept: {directory}")


class Bench:
    def __init__(self, args: argparse.Namespace, directory: Path) -> None:
        from publisher.edges.config import settings_from
        from publisher.site import record

        self.args, self.directory = args, directory
        raw = {
            "herold": {"data_dir": str(directory / "unused")},
            "authorities": [{
                "slug": SLUG, "name": "Landkreis Beispiel", "base_url": BASE_URL,
                "impressum_url": "https://www.lk-beispiel.de/impressum",
                "privacy_url": "https://www.lk-beispiel.de/datenschutz",
                "channels": [{"id": "website", "type": "website", "lists_every_seconds": 0}],
            }],
        }  # fmt: skip
        settings = settings_from(raw, {}, base=directory)
        [self.authority] = settings.authorities
        self.limits = {k: getattr(record, k) for k in ("PAGE_SIZE", "WARNINGS_KEPT", "NEWS_KEPT", "RECENT_KEPT")}
        self.large_start = args.large - args.reps // 2
        self.serial = 0

    def site(self, name: str, clock: Clock) -> Site:
        from publisher.site.website import Site

        return Site(self.authority.channel("website"), self.authority, clock=clock, data_dir=self.directory / name)

    def publication(self, number: int, *, kind: str, sent: datetime) -> Any:
        from publisher.domain.announcement import parse_announcement
        from publisher.site.model import Entry, Publication

        self.serial += 1
        document: dict[str, Any] = {
            "authority": SLUG,
            "kind": kind,
            "headline": f"{'Fliegerbombe' if kind == 'warning' else 'Bürgerbüro geschlossen'} Nummer {number}",
            "description": "Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird heute entschärft.",
        }
        if kind == "warning":
            document |= {
                "category": "safety", "event": "Bombenentschärfung", "severity": "severe",
                "instruction": "Verlassen Sie das Sperrgebiet bis 10 Uhr.",
                "area": {"description": "Altstadt rund um die Marktstraße"}, "hashtags": ["Bombe"],
                "effective": sent.isoformat(), "expires": (sent + VALID).isoformat(),
            }  # fmt: skip
        entry_id = f"{self.serial:08x}-0000-4000-8000-{number % 10**12:012d}"
        return Publication(
            item_id=entry_id, item_path=f"2026/11/meldung-{self.serial}-{number}/", item_month=MONTH,
            entry=Entry(id=entry_id, announcement=parse_announcement(document),
                        variant_text=f"{document['headline']}: {document['description']}", published=sent),
        )  # fmt: skip

    def filler(self, count: int) -> Published:
        """What the engine would tell a rebuild the site has published: ``count`` items."""
        from publisher.site.model import Published

        return Published([
            self.publication(n, kind="warning" if n % 2 == 0 else "news", sent=START + timedelta(minutes=n))
            for n in range(count)
        ])  # fmt: skip

    def run(self) -> dict[str, Any]:
        args = self.args
        # Measured publishes happen after the filler, at clock times three hours apart.
        first = START + timedelta(minutes=args.large + 60)
        clock_large = Clock(first)
        large = self.site("large", clock_large)
        medium = None
        if args.medium:
            with stage(f"filling the medium site: {args.medium - args.reps // 2:,} items through Site.rebuild"):
                medium = self.site("medium", clock_large)  # the same clock: it moves with the large site's
                medium.rebuild(self.filler(args.medium - args.reps // 2))
        with stage(f"filling the large site: {self.large_start:,} items through Site.rebuild"):
            started = time.perf_counter()
            cpu = time.thread_time()
            written = large.rebuild(self.filler(self.large_start))
            build = {"seconds": round(time.perf_counter() - started, 1), "cpu_s": round(time.thread_time() - cpu, 1),
                     "files_written": written}  # fmt: skip
        smalls = []
        with stage(f"filling {2 * args.reps} small sites: {args.small} items each"):
            for number in range(2 * args.reps):
                clock = Clock(first)
                site = self.site(f"small-{number}", clock)
                site.rebuild(self.filler(args.small))
                smalls.append((site, clock))
        from publisher.site import record, website

        monitor = Monitor({"benchmark": SELF}).start()
        passes: dict[str, Any] = {}
        step = 0
        for name in ("warm", "cold"):
            times: dict[str, list[tuple[float, float]]] = {
                "small": [],
                "large": [],
                **({"medium": []} if medium else {}),
            }
            pages: list[int] = []
            with stage(f"{name}: {args.reps} publishes on each side, alternately"):
                for rep in range(args.reps):
                    now = first + STEP * (step + 1)
                    step += 1
                    site, clock = smalls.pop(0)
                    clock.now = clock_large.now = now
                    sides = [("small", site), ("large", large), *([("medium", medium)] if medium else [])]
                    order = sides[rep % len(sides) :] + sides[: rep % len(sides)]
                    for side, target in order:
                        publication = self.publication(step, kind="warning", sent=now)
                        if name == "cold":
                            with record._parsed_lock:
                                record._parsed.clear()
                            website._rows.clear()
                        started, cpu = time.perf_counter(), time.thread_time()
                        target.publish(publication)
                        times[side].append((time.perf_counter() - started, time.thread_time() - cpu))
                    pages.append(large.record.pages(MONTH))
            passes[name] = self._figures(times, pages)
        usage = monitor.stop()
        profile = None
        if args.profile:
            with stage(f"profile: {args.profile_count} publishes on each side (cProfile)"):
                profile = self._profile(large, clock_large, smalls, first, step)
        return {
            "large_site_build": build,
            "large_items_at_end": sum(1 for _ in large.record.items()),
            "passes": passes,
            "budget": {
                name: {
                    "ratio": figures["ratio_median_wall"],
                    "limit": BUDGET_RATIO,
                    "met": figures["ratio_median_wall"] <= BUDGET_RATIO,
                }
                for name, figures in passes.items()
            },
            "resources": usage,
            "profile": profile,
        }

    def _figures(self, times: dict[str, list[tuple[float, float]]], pages: list[int]) -> dict[str, Any]:
        half = len(times["large"]) // 2

        def side(values: list[tuple[float, float]]) -> dict[str, Any]:
            wall = [1000 * w for w, _ in values]
            cpu = [1000 * c for _, c in values]
            return {
                "wall_ms": {"p50": round(statistics.median(wall), 2), "min": round(min(wall), 2),
                            "p90": round(percentile(wall, 90), 2), "max": round(max(wall), 2)},
                "cpu_ms": {"p50": round(statistics.median(cpu), 2), "min": round(min(cpu), 2),
                           "p90": round(percentile(cpu, 90), 2), "max": round(max(cpu), 2)},
                "wall_ms_each": [round(v, 2) for v in wall],
            }  # fmt: skip

        small, large = side(times["small"]), side(times["large"])
        medium = side(times["medium"]) if "medium" in times else None
        pairs = [lw / sw for (lw, _), (sw, _) in zip(times["large"], times["small"], strict=True)]
        cpu_pairs = [lc / sc for (_, lc), (_, sc) in zip(times["large"], times["small"], strict=True)]
        first_half = [lw for lw, _ in times["large"][:half]]
        second_half = [lw for lw, _ in times["large"][half:]]
        small_wall = [w for w, _ in times["small"]]
        return {
            "small": small,
            "large": large,
            "ratio_median_wall": round(large["wall_ms"]["p50"] / small["wall_ms"]["p50"], 2),
            "ratio_median_cpu": round(large["cpu_ms"]["p50"] / small["cpu_ms"]["p50"], 2),
            "ratio_median_of_pairs_wall": round(statistics.median(pairs), 2),
            "ratio_median_of_pairs_cpu": round(statistics.median(cpu_pairs), 2),
            "large_first_half_last_page_filling": {
                "wall_ms_p50": round(1000 * statistics.median(first_half), 2),
                "ratio_to_small_p50": round(statistics.median(first_half) / statistics.median(small_wall), 2),
            },
            "large_second_half_new_page": {
                "wall_ms_p50": round(1000 * statistics.median(second_half), 2),
                "ratio_to_small_p50": round(statistics.median(second_half) / statistics.median(small_wall), 2),
            },
            "large_archive_pages_after_each": pages,
            **(
                {
                    "medium": medium,
                    "ratio_large_to_medium_wall": round(large["wall_ms"]["p50"] / medium["wall_ms"]["p50"], 2),
                    "ratio_medium_to_small_wall": round(medium["wall_ms"]["p50"] / small["wall_ms"]["p50"], 2),
                }
                if medium
                else {}
            ),
        }

    def _profile(self, large: Any, clock_large: Clock, smalls: list[Any], first: datetime, step: int) -> dict[str, Any]:
        """cProfile over more publishes on each side (warm), then the functions by cost per publish."""
        args = self.args
        profiles = {"small": cProfile.Profile(), "large": cProfile.Profile()}
        # The cold pass emptied the caches; read the large site's lists once so that it is warm again.
        large.record.warnings(), large.record.news(), large.record.recent()
        large.record.page(MONTH, large.record.pages(MONTH))
        for number in range(args.profile_count):
            now = first + STEP * (step + number + 1)
            clock = Clock(now)
            small = self.site(f"profile-small-{number}", clock)
            small.rebuild(self.filler(args.small))
            clock_large.now = now
            for side, target in (("small", small), ("large", large)):
                publication = self.publication(step + number + 1, kind="warning", sent=now)
                profiles[side].enable()
                target.publish(publication)
                profiles[side].disable()
        stats = {side: _stats(profile, args.profile_count) for side, profile in profiles.items()}
        keys = set(stats["small"]) | set(stats["large"])
        rows: list[dict[str, Any]] = []
        for key in keys:
            s = stats["small"].get(key, {"cum_ms": 0.0, "self_ms": 0.0, "calls": 0.0})
            g = stats["large"].get(key, {"cum_ms": 0.0, "self_ms": 0.0, "calls": 0.0})
            rows.append({"function": key, "large_cum_ms": g["cum_ms"], "small_cum_ms": s["cum_ms"],
                         "extra_cum_ms": round(g["cum_ms"] - s["cum_ms"], 2), "large_self_ms": g["self_ms"],
                         "small_self_ms": s["self_ms"], "extra_self_ms": round(g["self_ms"] - s["self_ms"], 2),
                         "large_calls": g["calls"], "small_calls": s["calls"]})  # fmt: skip
        total = {side: max((v["cum_ms"] for v in s.values()), default=0.0) for side, s in stats.items()}
        return {
            "publishes_per_side": args.profile_count,
            "note": "cProfile, per publish (ms, calls); cProfile slows Python code down, so look at the shares",
            "total_ms_per_publish": total,
            "by_extra_cumulative": sorted(rows, key=lambda r: -r["extra_cum_ms"])[:30],
            "by_extra_self": sorted(rows, key=lambda r: -r["extra_self_ms"])[:25],
        }


def _stats(profile: cProfile.Profile, count: int) -> dict[str, dict[str, float]]:
    stats = pstats.Stats(profile)
    result = {}
    for (filename, line, function), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename
        if "site-packages/" in where:
            where = where.split("site-packages/", 1)[1]
        elif where.startswith(str(ROOT) + "/"):
            where = where[len(str(ROOT)) + 1 :]
        key = f"{where}:{line}:{function}"
        result[key] = {
            "cum_ms": round(1000 * cumtime / count, 3),
            "self_ms": round(1000 * tottime / count, 3),
            "calls": round(calls / count, 1),
        }
    return result


def _print(results: dict[str, Any], parameters: dict[str, Any]) -> None:
    print()
    print(
        f"Site cost: one more item (a warning) with {parameters['small_items']} items on the site vs about "
        f"{parameters['large_items']:,} ({parameters['large_items_before_first_measured_publish']:,} → "
        f"{results['large_items_at_end']:,} over the runs); {parameters['reps_per_pass']} publishes per side and pass"
    )
    build = results["large_site_build"]
    print(f"  filling the large site: {build['seconds']} s ({build['cpu_s']} CPU-s, {build['files_written']} files)")
    print(f"  {'pass':<5} {'side':<6} {'wall p50':>9} {'p90':>8} {'max':>8} {'CPU p50':>8}")
    for name, figures in results["passes"].items():
        for side in ("small", "medium", "large"):
            if side not in figures:
                continue
            f = figures[side]
            print(
                f"  {name:<5} {side:<6} {f['wall_ms']['p50']:>7.1f}ms {f['wall_ms']['p90']:>6.1f}ms "
                f"{f['wall_ms']['max']:>6.1f}ms {f['cpu_ms']['p50']:>6.1f}ms"
            )
        verdict = "met" if figures["ratio_median_wall"] <= BUDGET_RATIO else "NOT MET"
        print(
            f"  {name}: ratio large/small {figures['ratio_median_wall']}× wall, {figures['ratio_median_cpu']}× CPU "
            f"(median of pairs {figures['ratio_median_of_pairs_wall']}×) — budget {BUDGET_RATIO:g}×: {verdict}; "
            f"last page filling {figures['large_first_half_last_page_filling']['ratio_to_small_p50']}×, "
            f"new page {figures['large_second_half_new_page']['ratio_to_small_p50']}×"
        )
        if "medium" in figures:
            print(
                f"  {name}: {parameters['medium_items']:,} items vs {parameters['small_items']}: "
                f"{figures['ratio_medium_to_small_wall']}×; {parameters['large_items']:,} vs "
                f"{parameters['medium_items']:,}: {figures['ratio_large_to_medium_wall']}×"
            )
    usage = results["resources"]
    print(
        f"  CPU used by other processes meanwhile: {usage['other_cpu_pct_of_machine']}% of the machine"
        + ("  ← NOTE: figures are skewed by foreign load" if usage["other_cpu_pct_of_machine"] > 5 else "")
    )
    profile = results.get("profile")
    if profile:
        total = profile["total_ms_per_publish"]
        print(
            f"  profile (cProfile, ms per publish): small {total['small']}, large {total['large']}; "
            "where the large site spends more (cumulative):"
        )
        for row in profile["by_extra_cumulative"][:15]:
            print(
                f"    +{row['extra_cum_ms']:>7.2f} ms  {row['function']}  "
                f"(calls {row['small_calls']:g} → {row['large_calls']:g})"
            )


if __name__ == "__main__":
    run(main)
