"""The fake platforms for the benchmarks, in a process of their own.

Starts one FakeMastodon (tests/fakes/mastodon_server.py) with the given accounts and N webhook
receivers (tests/fakes/webhook_receiver.py); every request is answered after ``--delay`` seconds
(Mastodon: one queued ``delay`` fault per request; receivers: ``default=Answer(hang=delay)``).
Mastodon's rate limits are raised so that a benchmark never meets them.

Prints one JSON line when ready: {"mastodon": URL, "receivers": [URL, ...], "pid": PID}.
On SIGTERM (or SIGINT) it stops the servers and writes what they received to ``--records``:
arrival times (time.monotonic(), which is system-wide on Linux, so comparable with the
benchmark's clock), paths, answers, and the links in each status.

    python benchmarks/fake_servers.py --account tok=user --receivers 3 --delay 0.05 --records out.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes.mastodon_server import URL, FakeMastodon, delay
from fakes.webhook_receiver import Answer, Receiver

UNLIMITED = 10**9
DELAYS_QUEUED = 100_000  # more than any benchmark sends; every request's record says whether it had one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--account", action="append", default=[], help="TOKEN=USERNAME (repeatable)")
    parser.add_argument("--receivers", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before every answer")
    parser.add_argument("--records", type=Path, required=True)
    args = parser.parse_args()

    tokens = dict(pair.split("=", 1) for pair in args.account) or None
    mastodon = FakeMastodon(tokens=tokens)
    mastodon.rate_limits = {bucket: (UNLIMITED, period) for bucket, (_, period) in mastodon.rate_limits.items()}
    if args.delay > 0:
        mastodon.fail("*", "/", *[delay(args.delay)] * DELAYS_QUEUED)
    mastodon.start()
    receivers = [Receiver(default=Answer(hang=args.delay)).start() for _ in range(args.receivers)]

    stopping = threading.Event()
    parent = os.getppid()

    def stop(_signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"mastodon": mastodon.url, "receivers": [r.url for r in receivers], "pid": os.getpid()}))
    sys.stdout.flush()
    while not stopping.wait(0.5):
        if os.getppid() != parent:  # the benchmark died without stopping us
            break

    for receiver in receivers:
        receiver.stop()
    errors: list[str] = []
    try:
        mastodon.stop()
    except RuntimeError as error:
        errors.append(str(error))
    usernames = tokens or {}
    records: dict[str, Any] = {"mastodon": [], "receivers": [], "errors": errors}
    for request in mastodon.requests:
        _scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "at": request.at,
            "status": request.status,
            "fault": request.fault.kind if request.fault else None,
            "account": usernames.get(token.strip()),
        }
        if request.method == "POST" and request.path == "/api/v1/statuses":
            text = str(request.params().get("status", ""))
            entry["links"] = [match.group(0) for match in URL.finditer(text)]
        records["mastodon"].append(entry)
    for receiver in receivers:
        hooks = []
        for hook in receiver.requests:
            try:
                item_url = hook.json()["data"]["item_url"]
            except (ValueError, KeyError, TypeError):
                item_url = None
            hooks.append({"at": hook.at, "webhook_id": hook.headers.get("webhook-id"), "item_url": item_url})
        records["receivers"].append(hooks)
        errors += [repr(error) for error in receiver.hook_errors]
    partial = args.records.with_name(args.records.name + ".part")
    partial.write_text(json.dumps(records))
    partial.replace(args.records)


if __name__ == "__main__":
    main()
