"""The press office's live preview: form input in, every channel's variant out, over HTTP.

Budget (issue 11, "Press office"): a preview round trip, form input → rendered variants, p50
under 50 ms on this machine with six channels.

Measured: what the form's script does while a person types: ``POST /app/drafts/{id}/preview``
with the whole form (a warning of about 1,200 characters, each round with a different headline),
signed in, with its CSRF token; Herold saves the draft, validates it, runs the privacy guard,
renders and fits a variant for each of six channels (the website; two Mastodon accounts with
500 and 1,000 characters; a webhook; two hand-offs, one limited to 1,000 characters) and answers
the HTML fragment. Wall time at the client, from sending to the last byte of the answer. Herold
runs in this process (uvicorn on a loopback port, SQLite, as `make run` does), the client in
another thread, so both share the machine's two cores as they would. No platform is contacted:
the preview uses cached limits.

    .venv/bin/python benchmarks/preview_roundtrip.py [--runs 200]

Writes benchmarks/results/preview-roundtrip.json.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import SLUG, common_options, foreign_load, run, serving, summary_ms, write_result

BUDGET_MS = 50.0
PASSWORD = "Benchmark-Passwort-2026"
DESCRIPTION = (
    "Bei Bauarbeiten in der Rheinstraße in Darmstadt wurde am Dienstag gegen 10:30 Uhr eine Fliegerbombe aus "
    "dem Zweiten Weltkrieg gefunden. Der Kampfmittelräumdienst hat die Bombe begutachtet: Sie muss noch heute "
    "vor Ort entschärft werden. Die Entschärfung beginnt voraussichtlich um 14:00 Uhr.\n\n"
    "Im Umkreis von 500 Metern um den Fundort wird ab 12:00 Uhr ein Sperrgebiet eingerichtet. Betroffen sind "
    "rund 3.500 Anwohnerinnen und Anwohner in der Altstadt. Die Buslinien 3 und 7 werden umgeleitet.\n\n"
    "Die Sammelstelle in der Sporthalle am Böllenfalltor ist ab 11:30 Uhr geöffnet. Dort gibt es Getränke und "
    "Betreuung durch das Deutsche Rote Kreuz. Wer nicht selbst gehen kann, meldet sich beim Bürgertelefon."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="measured round trips (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured round trips first")
    common_options(parser, name="preview-roundtrip", kept="the data directory with its database")
    args = parser.parse_args()

    import requests

    from publisher.domain.records import Role
    from publisher.edges.config import settings_from
    from publisher.edges.web import create_app
    from publisher.edges.wiring import Herold

    directory = Path(tempfile.mkdtemp(prefix="herold-preview-"))
    closed = "http://127.0.0.1:9"  # never asked: a preview reads cached limits
    channels: list[dict[str, Any]] = [
        {"id": "website", "type": "website"},
        {"id": "bund", "type": "mastodon", "instance": closed, "access_token_env": "TOKEN"},
        {"id": "land", "type": "mastodon", "instance": closed, "access_token_env": "TOKEN", "max_characters": 1000},
        {"id": "radio", "type": "webhook", "url": "http://127.0.0.1:9/hook", "secret_env": "HOOK"},
        {"id": "whatsapp", "type": "manual", "max_characters": 1000},
        {"id": "nebenan", "type": "manual"},
    ]
    raw = {
        "herold": {"data_dir": str(directory / "var"), "log_level": "warning"},
        "authorities": [{
            "slug": SLUG, "name": "Landkreis Beispiel", "base_url": "https://www.lk-beispiel.de/warnungen/",
            "impressum_url": "https://www.lk-beispiel.de/impressum",
            "privacy_url": "https://www.lk-beispiel.de/datenschutz", "channels": channels,
        }],
    }  # fmt: skip
    env = {"TOKEN": "benchmark-token", "HOOK": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    herold = Herold(settings_from(raw, env, base=directory))
    herold.start()
    herold.store.users.add("bench", SLUG, Role.approver, PASSWORD, herold.clock(), alert=True)
    wall: list[float] = []
    try:
        with serving(create_app(herold, start=False)) as base:
            session = requests.Session()
            page = session.get(f"{base}/app/login", timeout=10)
            session.post(f"{base}/app/login", data={"username": "bench", "password": PASSWORD,
                                                    "csrf": _csrf(page.text)}, timeout=10)  # fmt: skip
            chooser = session.get(f"{base}/app/new", timeout=10)
            started = session.post(f"{base}/app/new", data={"csrf": _csrf(chooser.text), "template": "bombe"},
                                   timeout=10)  # fmt: skip
            draft = started.url
            form = {
                "csrf": _csrf(started.text), "channels.shown": "1", "channels": [c["id"] for c in channels],
                "description": DESCRIPTION, "instruction": "Verlassen Sie den Sperrbereich bis 12:00 Uhr.",
                "area.description": "Umkreis von 500 m um die Rheinstraße", "event": "Bombenentschärfung",
                "hashtags": "Bombenentschärfung Darmstadt",
            }  # fmt: skip
            load = foreign_load(args.wait_quiet)
            for number in range(args.warmup + args.runs):
                data = {**form, "headline": f"Bombenentschärfung in Darmstadt: Evakuierung bis 12 Uhr ({number})"}
                began = time.perf_counter()
                answer = session.post(f"{draft}/preview", data=data, timeout=30)
                took = time.perf_counter() - began
                if answer.status_code != 200 or answer.text.count('class="variant"') != len(channels):
                    raise SystemExit(f"the preview failed: {answer.status_code} {answer.text[:500]}")
                if number >= args.warmup:
                    wall.append(took)
    finally:
        herold.stop()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    figures = summary_ms(wall)
    results = {"wall_ms": figures, "channels": len(channels), "within_budget": figures["p50"] < BUDGET_MS}
    parameters = {
        "runs": args.runs,
        "warmup": args.warmup,
        "channels": [f"{c['id']} ({c['type']})" for c in channels],
        "measured": "POST /app/drafts/{id}/preview over loopback HTTP, wall time at the client",
        "budget": f"p50 under {BUDGET_MS:g} ms with six channels",
    }
    write_result(args.name, parameters, results, load)
    verdict = "within budget" if results["within_budget"] else "OVER BUDGET"
    print(f"\nPreview round trip, six channels, {args.runs} runs (budget: p50 under {BUDGET_MS:g} ms)")
    print(f"  p50 {figures['p50']} ms, p95 {figures['p95']} ms, max {figures['max']} ms: {verdict}")
    print(f"\nResults: benchmarks/results/{args.name}.json")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if not found:
        raise SystemExit("no CSRF token on the page: is the app served?")
    return found.group(1)


if __name__ == "__main__":
    run(main)
