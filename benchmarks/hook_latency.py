"""A warning system's signed CAP alert to the item's page on the website: how long it takes.

Benchmark (issue 12, "Warning systems"): signed CAP POST → item page written, p50/p99 over 200
alerts.

Measured: a CAP 1.2 alert (about 1.5 KB, German, one area) signed per Standard Webhooks is posted
to ``/hooks/{authority}/{integration}``; the clock runs from sending the request until the item's
page file exists in the built-in website's directory (polled every millisecond). Herold runs in
this process as ``make run`` does (uvicorn on a loopback port, SQLite, deliveries in-process), the
website its only channel. Alerts are sent one after another, each with its own identifier.

    .venv/bin/python benchmarks/hook_latency.py [--count 200]

Writes benchmarks/results/hook-latency.json.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import SLUG, common_options, foreign_load, run, serving, summary_ms, write_result

SECRET = "whsec_" + base64.b64encode(b"benchmark secret of the control").decode()


def alert(number: int, sent: datetime) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>bench-{number}</identifier>
  <sender>warnung@leitstelle.example.de</sender>
  <sent>{sent.strftime("%Y-%m-%dT%H:%M:%S+00:00")}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>de-DE</language>
    <category>Fire</category>
    <event>Großbrand</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>Großbrand in Beispielheim ({number}): Fenster und Türen geschlossen halten</headline>
    <description>In einer Lagerhalle im Gewerbegebiet Nord brennt es seit dem Nachmittag. Es entsteht starker
Rauch, der mit dem Wind nach Osten zieht. Die Feuerwehr ist mit vielen Einsatzkräften vor Ort.</description>
    <instruction>Halten Sie Fenster und Türen geschlossen. Schalten Sie Lüftungs- und Klimaanlagen aus.
Meiden Sie das Gebiet um die Einsatzstelle.</instruction>
    <area><areaDesc>Beispielheim, Gewerbegebiet Nord und die Ortsteile östlich davon</areaDesc></area>
  </info>
</alert>""".encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="alerts (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured alerts first")
    common_options(parser, name="hook-latency", kept="the data directory with its database and site")
    args = parser.parse_args()

    import requests
    from standardwebhooks.webhooks import Webhook

    from publisher.edges.config import settings_from
    from publisher.edges.web import create_app
    from publisher.edges.wiring import Herold

    directory = Path(tempfile.mkdtemp(prefix="herold-hooks-"))
    raw = {
        "herold": {"data_dir": str(directory / "var"), "log_level": "warning"},
        "authorities": [{
            "slug": SLUG, "name": "Landkreis Beispiel", "base_url": "https://www.lk-beispiel.de/warnungen/",
            "impressum_url": "https://www.lk-beispiel.de/impressum",
            "privacy_url": "https://www.lk-beispiel.de/datenschutz",
            "channels": [{"id": "website", "type": "website"}],
            "integrations": [{"id": "leitstelle", "format": "cap", "secret_env": "SECRET"}],
        }],
    }  # fmt: skip
    herold = Herold(settings_from(raw, {"SECRET": SECRET}, base=directory))
    herold.start()
    site = herold.sites(SLUG)[0]
    signer = Webhook(SECRET)
    session = requests.Session()
    answer_s: list[float] = []
    page_s: list[float] = []
    load = foreign_load(args.wait_quiet)
    try:
        with serving(create_app(herold, start=False)) as base:
            url = f"{base}/hooks/{SLUG}/leitstelle"
            for number in range(args.warmup + args.count):
                now = datetime.now(UTC)
                body = alert(number, now)
                headers = {"webhook-id": f"msg_{number}", "webhook-timestamp": str(int(now.timestamp())),
                           "webhook-signature": signer.sign(f"msg_{number}", now, body.decode()),
                           "content-type": "application/cap+xml"}  # fmt: skip
                began = time.perf_counter()
                answer = session.post(url, data=body, headers=headers, timeout=30)
                answered = time.perf_counter()
                if answer.status_code != 202:
                    raise SystemExit(f"the alert was refused: {answer.status_code} {answer.text[:300]}")
                stored = herold.store.announcements.get(answer.json()["id"])
                assert stored is not None
                page = site.directory / stored.item_path / "index.html"
                while not page.exists():
                    if time.perf_counter() > began + 30:
                        raise SystemExit(f"no page after 30 s: {page}")
                    time.sleep(0.001)
                written = time.perf_counter()
                if number >= args.warmup:
                    answer_s.append(answered - began)
                    page_s.append(written - began)
    finally:
        herold.stop()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    results = {"answer_ms": summary_ms(answer_s), "page_ms": summary_ms(page_s)}
    parameters = {
        "count": args.count,
        "warmup": args.warmup,
        "measured": "signed CAP POST sent → 202 received, and → the item page's file exists (polled every 1 ms)",
        "set_up": "embedded (SQLite, in-process deliveries), the website as the only channel",
    }
    write_result(args.name, parameters, results, load)
    a, p = results["answer_ms"], results["page_ms"]
    print(f"\nSigned CAP alert → item page, {args.count} alerts one after another")
    print(f"  answer (202):  p50 {a['p50']} ms, p99 {a['p99']} ms, max {a['max']} ms")
    print(f"  page written:  p50 {p['p50']} ms, p99 {p['p99']} ms, max {p['max']} ms")
    print(f"\nResults: benchmarks/results/{args.name}.json")


if __name__ == "__main__":
    run(main)
