"""The privacy guard on a 2,000-character warning: links, images, foreign domains, personal data.

Budget (issue 10, "Privacy"): the guard on a 2,000-character announcement takes under 5 ms median.

Measured: the whole guard as intake and the preview run it for every announcement: the link rules
(``guard_links``: tracking parameters removed, shorteners found), the alt-text rule
(``guard_images``), links to other domains (``foreign_links``) and personal data
(``personal_data(texts_of(announcement), official)``, publisher.core.personal), in this process, ``--runs`` times per
document after ``--warmup`` unmeasured runs, the documents alternating so that the machine's
other load falls on both alike. Wall time (``time.perf_counter``) and the thread's CPU time
(``time.thread_time``) per call. No database, no network.

Two warnings of about 2,000 characters of free text each (headline, description, instruction,
contact, area, event, an English translation, an image's alt text), written like a county's
warning about a bomb disposal: times, dates, postcodes, house numbers, bus lines, road numbers,
emergency numbers, the authority's own contacts and officials by name and office:

- ``clean``: nothing in it is personal data (the common case: the guard finds nothing);
- ``personal``: the same with personal data a press officer could let slip (a mobile number, a
  private e-mail address, an IBAN, a date of birth, a plate, an injured person by name and age).

    .venv/bin/python benchmarks/guard.py [--runs 200]

Writes benchmarks/results/guard.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import SLUG, common_options, foreign_load, percentile, run, write_result

BUDGET_MS = 5.0
OFFICIAL = ["presse@lk-beispiel.de", "+49 6151 12-3456", "06151 881234", "buergertelefon@lk-beispiel.de"]

DESCRIPTION = (
    "Bei Bauarbeiten in der Rheinstraße 12 in 64283 Darmstadt wurde am Dienstag, 12.03.2026, gegen 10:30 Uhr "
    "eine Fliegerbombe aus dem Zweiten Weltkrieg gefunden. Der Kampfmittelräumdienst des Landes Hessen hat die "
    "Bombe begutachtet: Sie muss noch heute vor Ort entschärft werden. Die Entschärfung beginnt voraussichtlich "
    "um 14:00 Uhr und dauert etwa zwei Stunden.\n\n"
    "Im Umkreis von 500 Metern um den Fundort wird ab 12:00 Uhr ein Sperrgebiet eingerichtet. Betroffen sind rund "
    "3.500 Anwohnerinnen und Anwohner in der Altstadt, die Häuser Nr. 1 bis Nr. 48 der Marktstraße, das "
    "Luisencenter und die Kita Arche Noah. Die Buslinie 3 und 7 sowie die Straßenbahnlinien 2, 6 und 9 werden "
    "umgeleitet; die B 26 ist zwischen Darmstadt und Roßdorf gesperrt, Pkw sollten die A 5 und die A 67 nutzen.\n\n"
    "Landrat Dr. Klaus Schmidt und Oberbürgermeisterin Julia Weber besuchen am Nachmittag die Sammelstelle. "
    "Pressesprecherin Anna Schmidt: Bislang wurde niemand verletzt, die Lage ist ruhig. Wer nicht selbst gehen "
    "kann, meldet sich beim Bürgertelefon unter 06151 881234 oder per E-Mail an buergertelefon@lk-beispiel.de. "
    "In Notfällen wählen Sie 112 oder 110; den ärztlichen Bereitschaftsdienst erreichen Sie unter 116117.\n\n"
    "Die Sammelstelle in der Sporthalle am Böllenfalltor, Nieder-Ramstädter Straße 170, ist ab 11:30 Uhr "
    "geöffnet. Dort gibt es Getränke und Betreuung durch das Deutsche Rote Kreuz; etwa 95 % der Plätze sind "
    "barrierefrei."
)
PERSONAL = (
    " Ein Anwohner, Herr Thomas K., 52, wurde leicht verletzt und ins Krankenhaus gebracht; er ist unter "
    "0171 1234567 oder thomas.k@gmx.de erreichbar (geb. 12.03.1974). Der Pkw mit dem Kennzeichen DA-AB 1234 "
    "muss umgeparkt werden. Spenden an DE89 3704 0044 0532 0130 00."
)


def document(description: str) -> dict[str, Any]:
    return {
        "authority": SLUG,
        "kind": "warning",
        "category": "safety",
        "event": "Bombenentschärfung",
        "severity": "severe",
        "headline": "Fliegerbombe in der Darmstädter Altstadt: Sperrgebiet ab 12:00 Uhr",
        "description": description,
        "instruction": (
            "Verlassen Sie das Sperrgebiet bis 12:00 Uhr. Nehmen Sie Medikamente und Ausweise mit. "
            "Schließen Sie Fenster und Türen."
        ),
        "contact": "Pressestelle Landkreis Beispiel, presse@lk-beispiel.de, Tel. +49 6151 12-3456",
        "area": {"description": "Altstadt Darmstadt, 500 m um die Rheinstraße 12 (64283 Darmstadt)"},
        "translations": {
            "en": {
                "headline": "WWII bomb found in Darmstadt's old town: exclusion zone from 12:00",
                "description": (
                    "A bomb from the Second World War was found in Rheinstraße 12. It will be defused today from "
                    "14:00. About 3,500 residents must leave the area by 12:00; shelter at the sports hall."
                ),
                "instruction": "Leave the exclusion zone by 12:00. In an emergency call 112.",
            }
        },
        "media": [{"path": "karte.png", "alt": "Karte des Sperrgebiets um die Rheinstraße mit der Sammelstelle"}],
        "hashtags": ["Bombe", "Darmstadt"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="measured calls per document (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured calls per document first")
    common_options(parser, name="guard", kept="nothing: it writes no files")
    args = parser.parse_args()

    from publisher.core.guard import foreign_links, guard_images, guard_links
    from publisher.core.personal import personal_data, texts_of

    def guard(announcement: Any) -> list[Any]:
        cleaned, refused = guard_links(announcement)
        refused += guard_images(cleaned) + foreign_links(cleaned, ["lk-beispiel.de"])
        return personal_data(texts_of(cleaned), OFFICIAL)

    from publisher.domain.announcement import parse_announcement

    announcements = {
        "clean": parse_announcement(document(DESCRIPTION)),
        "personal": parse_announcement(document(DESCRIPTION + PERSONAL)),
    }
    characters = {name: sum(map(len, texts_of(a).values())) for name, a in announcements.items()}
    print(
        f"Privacy guard (links, images, domains, personal data): {args.runs} calls per document, "
        f"{', '.join(f'{name} {count:,} characters' for name, count in characters.items())}",
        file=sys.stderr,
    )
    load = foreign_load(args.wait_quiet)
    wall: dict[str, list[float]] = {name: [] for name in announcements}
    cpu: dict[str, list[float]] = {name: [] for name in announcements}
    found: dict[str, list[str]] = {}
    for number in range(args.warmup + args.runs):
        names = list(announcements) if number % 2 == 0 else list(reversed(announcements))
        for name in names:
            announcement = announcements[name]
            started, started_cpu = time.perf_counter(), time.thread_time()
            findings = guard(announcement)
            took, took_cpu = time.perf_counter() - started, time.thread_time() - started_cpu
            if number >= args.warmup:
                wall[name].append(took * 1000)
                cpu[name].append(took_cpu * 1000)
            found[name] = [f"{f.field}: {f.kind} {f.excerpt}" for f in findings]
    results: dict[str, dict[str, Any]] = {
        name: {
            "characters": characters[name],
            "wall_ms": _figures(wall[name]),
            "cpu_ms": _figures(cpu[name]),
            "findings": found[name],
            "within_budget": statistics.median(wall[name]) < BUDGET_MS,
        }
        for name in announcements
    }
    parameters = {
        "runs": args.runs,
        "warmup": args.warmup,
        "official_contacts": OFFICIAL,
        "measured": "guard_links, guard_images, foreign_links and personal_data on the announcement, in this process",
        "budget": f"median under {BUDGET_MS:g} ms on a 2,000-character announcement",
    }
    write_result(args.name, parameters, results, load)
    print()
    print(f"Privacy guard, whole: median over {args.runs} calls (budget: under {BUDGET_MS:g} ms)")
    print(
        f"  {'document':<9} {'chars':>6} {'wall p50':>9} {'p95':>8} {'max':>8} {'CPU p50':>8} {'findings':>9}  verdict"
    )
    for name, figures in results.items():
        w, c = figures["wall_ms"], figures["cpu_ms"]
        verdict = "within budget" if figures["within_budget"] else "OVER BUDGET"
        print(
            f"  {name:<9} {figures['characters']:>6,} {w['p50']:>7.2f}ms {w['p95']:>6.2f}ms {w['max']:>6.2f}ms "
            f"{c['p50']:>6.2f}ms {len(figures['findings']):>9}  {verdict}"
        )
    for line in results["personal"]["findings"]:
        print(f"    {line}")
    print(f"\nResults: benchmarks/results/{args.name}.json")


def _figures(ms: list[float]) -> dict[str, float]:
    return {
        "count": len(ms),
        "min": round(min(ms), 3),
        "p50": round(statistics.median(ms), 3),
        "p95": round(percentile(ms, 95), 3),
        "max": round(max(ms), 3),
        "mean": round(statistics.fmean(ms), 3),
    }


if __name__ == "__main__":
    run(main)
