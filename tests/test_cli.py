"""The ``herold`` command, as an operator or press officer uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import feedparser
import pytest
import requests
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from publisher.edges.cli import main

from conftest import ROOT, forget_cached, herold_toml, news, warning
from services import free_port, wait_until_serving

EXAMPLES = sorted((ROOT / "examples").glob("*.*"))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "herold.toml"
    path.write_text(herold_toml(), encoding="utf-8")
    return path


def herold(config: Path, *arguments: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *arguments], catch_exceptions=False)


def site(config: Path) -> Path:
    return config.parent / "var" / "site" / "lk-beispiel"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_every_shipped_example_publishes(config: Path, example: Path) -> None:
    result = herold(config, "publish", str(example), "--wait")
    assert result.exit_code == 0, result.output
    assert "Status: PUBLISHED" in result.output
    assert "website" in result.output and "succeeded" in result.output


def test_publish_names_a_link_to_another_domain_but_publishes(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "wetter.json"
    file.write_text(json.dumps(warning(instruction="Warnlage: https://www.dwd.de/warnungen")), encoding="utf-8")
    result = herold(config, "publish", str(file))
    assert result.exit_code == 0, result.output
    assert "Accepted" in result.output
    assert "Note: instruction: links to dwd.de" in result.output


def test_publish_wait_prints_a_table_and_the_page_is_in_every_feed_and_the_index(config: Path) -> None:
    result = herold(config, "publish", str(ROOT / "examples" / "bomb-disposal.json"), "--wait")
    assert result.exit_code == 0, result.output
    page_url = next(line.split()[1] for line in result.output.splitlines() if line.startswith("Page:"))
    path = page_url.removeprefix("https://www.lk-beispiel.de/")
    assert (site(config) / path / "index.html").exists()
    for feed in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse(site(config) / feed)
        assert parsed.bozo == 0 and page_url in parsed.entries[0].link
    assert page_url in json.loads((site(config) / "feed.json").read_text())["items"][0]["url"]
    assert f'href="{path}"' in (site(config) / "index.html").read_text()


def test_a_document_with_five_mistakes_gets_five_lines_exit_code_2_and_nothing_is_written(
    config: Path, tmp_path: Path
) -> None:
    bad = warning(severity="hoch", headline="", effective="morgen", instructions="Fenster schließen", msg_type="update")
    bad.pop("instruction")
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    result = herold(config, "publish", str(tmp_path / "bad.json"), "--wait")
    assert result.exit_code == 2
    lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert lines == [
        'severity: must be one of extreme, severe, moderate, minor or unknown (got "hoch")',
        "headline: must not be empty",
        'effective: is not a date and time like 2026-11-22T10:00:00+01:00 (got "morgen")',
        "instructions: is not a field Herold knows; did you mean instruction?",
        "references: is required for msg_type update: give the id of the earlier announcement",
    ]
    assert "5 problem(s), nothing was published" in result.stderr
    assert not site(config).exists()
    status = herold(config, "status", "any")
    assert status.exit_code == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.json", '{"kind": "news",', "is not valid JSON (line 1, column 17)"),
        ("broken.yaml", "kind: [news", "is not valid YAML (line 1, column 12)"),
        ("missing.json", None, "does not exist"),
    ],
)
def test_a_file_that_cannot_be_read_is_reported_plainly(
    config: Path, tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_text(content, encoding="utf-8")
    result = herold(config, "publish", str(tmp_path / name))
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_check_config_names_the_wrong_key(config: Path) -> None:
    assert herold(config, "check-config").exit_code == 0
    config.write_text(config.read_text().replace('impressum_url = "https://www.lk-beispiel.de/impressum"\n', ""))
    result = herold(config, "check-config")
    assert result.exit_code == 2
    assert "authorities.0.impressum_url: is required" in result.stderr


def test_status_shows_every_channel_and_json_for_machines(config: Path) -> None:
    published = herold(config, "publish", str(ROOT / "examples" / "opening-hours.yaml"), "--wait")
    announcement_id = published.output.split()[1]
    table = herold(config, "status", announcement_id)
    assert table.exit_code == 0 and "website  website  1     succeeded" in table.output
    report = json.loads(herold(config, "status", announcement_id, "--json").output)
    assert report["status"] == "published" and report["deliveries"][0]["state"] == "succeeded"


def test_a_token_is_shown_once_and_only_its_hash_is_kept(config: Path) -> None:
    result = herold(config, "token", "create", "--authority", "lk-beispiel", "--name", "Leitstelle")
    token = result.output.strip()
    assert result.exit_code == 0 and token.startswith("hrd_")
    database = (config.parent / "var" / "herold.db").read_bytes()
    assert token.encode() not in database
    assert herold(config, "token", "create", "--authority", "nobody").exit_code == 2


def test_site_build_restores_the_whole_site(config: Path) -> None:
    herold(config, "publish", str(ROOT / "examples" / "bomb-disposal.json"))
    index = site(config) / "index.html"
    before = index.read_text()
    index.unlink()
    result = herold(config, "site", "build")
    assert result.exit_code == 0 and "file(s) written" in result.output
    assert index.read_text() == before


def test_release_refuses_when_nothing_is_held_back(config: Path) -> None:
    published = herold(config, "publish", str(ROOT / "examples" / "bomb-disposal.json"))
    announcement_id = published.output.split()[1]
    result = herold(config, "release", announcement_id, "--reason", "Server ausgefallen, Evakuierung")
    assert result.exit_code == 1
    assert "the website page is published; nothing is held back" in result.stderr


def test_make_run_serves_the_site_and_publish_wait_puts_the_item_online(tmp_path: Path) -> None:
    """The README's first steps, end to end, with real processes and HTTP."""
    port = free_port()
    config = tmp_path / "herold.toml"
    config.write_text(herold_toml(base_url=f"http://127.0.0.1:{port}/"), encoding="utf-8")
    env = {**os.environ, "HEROLD_CONFIG": str(config), "HEROLD_LISTEN": f"127.0.0.1:{port}"}
    command = [sys.executable, "-m", "publisher"]
    server = subprocess.Popen([*command, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(port, server)
        done = subprocess.run(
            [*command, "publish", str(ROOT / "examples" / "bomb-disposal.json"), "--wait"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        page_url = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("Page:"))
        page = requests.get(page_url, timeout=5)
        assert page.status_code == 200 and "Fliegerbombe in der Altstadt" in page.text
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
        index = requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
        assert page_url.removeprefix(f"http://127.0.0.1:{port}/") in index
        for feed in ("atom.xml", "rss.xml"):
            parsed = feedparser.parse(requests.get(f"http://127.0.0.1:{port}/{feed}", timeout=5).content)
            assert parsed.bozo == 0 and parsed.entries[0].link.startswith(page_url)
        items = requests.get(f"http://127.0.0.1:{port}/feed.json", timeout=5).json()["items"]
        assert items[0]["url"].startswith(page_url)
    finally:
        server.terminate()
        server.wait(15)


def test_herold_serve_polls_the_nina_dashboard_and_publishes_what_it_lists(tmp_path: Path) -> None:
    from fakes.nina_server import FakeNina

    warning = json.loads((ROOT / "tests" / "fixtures" / "nina" / "mowas-alert-DE-BY-AN-W166-20220216-000.json")
                         .read_bytes())  # fmt: skip
    port = free_port()
    with FakeNina() as nina:
        nina.publish("095710000000", warning)
        config = tmp_path / "herold.toml"
        config.write_text(herold_toml(base_url=f"http://127.0.0.1:{port}/") + f"""
  [[authorities.integrations]]
  id = "nina"
  format = "nina"
  poll = {{ url = "{nina.url}", ars = "095710000000" }}
""", encoding="utf-8")  # fmt: skip
        env = {**os.environ, "HEROLD_CONFIG": str(config), "HEROLD_LISTEN": f"127.0.0.1:{port}"}
        server = subprocess.Popen([sys.executable, "-m", "publisher", "serve"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_until_serving(port, server)
            deadline, index = time.monotonic() + 30, ""
            while time.monotonic() < deadline:
                index = requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
                if warning["info"][0]["headline"] in index:
                    break
                time.sleep(0.3)
            assert warning["info"][0]["headline"] in index, "the polled warning is on the authority's own site"
            assert nina.count("/api31/dashboard/095710000000.json") >= 1, (
                "the district key, its last seven digits zeroed"
            )
        finally:
            server.terminate()
            server.wait(15)


def test_tokens_are_listed_without_their_values_and_a_revoked_one_no_longer_works(config: Path) -> None:
    from publisher.edges.config import load_settings
    from publisher.engine.store import Store

    token = herold(config, "token", "create", "--authority", "lk-beispiel", "--name", "Leitstelle").output.strip()
    listed = herold(config, "token", "list")
    token_id = token.split("_")[1]
    assert listed.exit_code == 0 and f"{token_id}  lk-beispiel  Leitstelle" in listed.output
    assert token not in listed.output
    assert "Revoked" in herold(config, "token", "revoke", token_id).output
    store = Store(load_settings(config).herold.database)
    assert store.tokens.authority_of(token) is None
    assert "revoked" in herold(config, "token", "list").output
    store.dispose()


def test_a_delivery_nobody_could_confirm_is_settled_by_a_person(config: Path, tmp_path: Path) -> None:
    from fakes.channels import registered

    config.write_text(
        config.read_text() + '\n  [[authorities.channels]]\n  id = "chat"\n  type = "fake-other"\n'
        '  script = ["ambiguous", "ok"]\n'
    )
    (tmp_path / "news.json").write_text(json.dumps(news()), encoding="utf-8")
    with registered():
        published = herold(config, "publish", str(tmp_path / "news.json"), "--wait")
        assert published.exit_code == 1
        announcement_id = published.output.split()[1]
        assert "unknown" in published.output and f"herold reconcile {announcement_id} chat" in published.output
        assert herold(config, "reconcile", announcement_id, "chat").exit_code == 2, "say what you found"
        settled = herold(config, "reconcile", announcement_id, "chat", "--url", "https://chat.example/42")
        assert settled.exit_code == 0, settled.output
        status = herold(config, "status", announcement_id)
        assert status.exit_code == 0 and "https://chat.example/42" in status.output
        again = herold(config, "reconcile", announcement_id, "chat", "--again")
        assert again.exit_code == 1 and "only unknown, failed or dead ones are settled" in again.stderr


def test_a_post_a_withdrawal_could_not_delete_is_listed_and_settled_by_a_person(config: Path, tmp_path: Path) -> None:
    from fakes.channels import undeletable

    with undeletable() as kind:
        config.write_text(config.read_text() + f'\n  [[authorities.channels]]\n  id = "alt"\n  type = "{kind.type}"\n')
        (tmp_path / "alert.json").write_text(json.dumps(warning()), encoding="utf-8")
        alert = herold(config, "publish", str(tmp_path / "alert.json"), "--wait").output.split()[1]
        withdrawal = warning(msg_type="error", references=alert, headline="Widerruf: ein Irrtum")
        (tmp_path / "withdrawal.json").write_text(json.dumps(withdrawal), encoding="utf-8")
        withdrawn = herold(config, "publish", str(tmp_path / "withdrawal.json"), "--wait").output.split()[1]

        waiting = herold(config, "status")
        assert "NOT DELETED on alt" in waiting.output and "https://alt.example/posts/" in waiting.output
        assert f"herold reconcile {withdrawn} alt --deleted" in waiting.output
        report = herold(config, "status", withdrawn).output
        assert (
            "alt (delete)" in report and "is still up (" in report and f"reconcile {withdrawn} alt --deleted" in report
        )
        assert herold(config, "reconcile", withdrawn, "alt", "--delete-again", "--deleted").exit_code == 2, "one"
        settled = herold(config, "reconcile", withdrawn, "alt", "--deleted")
        assert settled.exit_code == 0 and "Recorded as deleted by hand." in settled.output, settled.output
        assert "NOT DELETED" not in herold(config, "status").output


# -- whatever a file holds and whatever the world does: one clear line, never a traceback ------------------


BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
headline: [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bomb.yaml", BOMB, "uses an alias (*name); write the value out instead"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nests deeper than 16 levels, the most Herold takes"),
        ("deep.yaml", "a:\n" + "".join("  " * n + "- \n" for n in range(1, 40)), "nests deeper than 16 levels"),
        ("digits.json", '{"headline": ' + "9" * 5000 + "}", "is not valid JSON: Exceeds the limit"),
        ("latin1.json", None, "is not UTF-8 text"),
    ],
)
def test_a_file_no_parser_should_follow_is_refused_with_exit_code_2(
    config: Path, tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is None:
        path.write_bytes('{"headline": "Straße"}'.encode("latin-1"))
    else:
        path.write_text(content, encoding="utf-8")

    result = herold(config, "publish", str(path))

    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_a_pipe_or_a_device_as_the_document_is_read_no_further_than_the_limit_and_never_hangs(
    config: Path, tmp_path: Path
) -> None:
    os.mkfifo(tmp_path / "nobody-writes.json")
    endless = herold(config, "publish", "/dev/zero")
    unwritten = herold(config, "publish", str(tmp_path / "nobody-writes.json"))
    folder = herold(config, "publish", str(tmp_path))

    assert (endless.exit_code, unwritten.exit_code, folder.exit_code) == (2, 2, 2)
    assert "is larger than 48 MB" in endless.stderr
    assert "is not valid JSON" in unwritten.stderr
    os.mkfifo(tmp_path / "piped.json")  # herold publish <(…), or /dev/stdin in a script

    def slow_writer() -> None:  # <(command) that needs a moment before it writes
        time.sleep(1)
        (tmp_path / "piped.json").write_text(json.dumps(news()))

    writer = threading.Thread(target=slow_writer)
    writer.start()
    piped = herold(config, "publish", str(tmp_path / "piped.json"))
    writer.join(10)
    assert piped.exit_code == 0, piped.output


def test_a_yaml_time_that_cannot_exist_is_named_like_any_other_bad_time(config: Path, tmp_path: Path) -> None:
    (tmp_path / "meldung.yaml").write_text(
        "kind: news\nheadline: Bürgerbüro geschlossen\ndescription: Am Montag.\npublish_at: 2026-02-30 10:00:00+01:00\n"
    )

    result = herold(config, "publish", str(tmp_path / "meldung.yaml"))

    assert result.exit_code == 2, result.output
    assert 'publish_at: is not a date and time like 2026-11-22T10:00:00+01:00 (got "2026-02-30 10:00:00+01:00")' in (
        result.stderr
    )


def test_images_are_read_only_from_the_document_s_own_folder(config: Path, tmp_path: Path) -> None:
    folder = tmp_path / "meldung"
    folder.mkdir()
    (folder / "link.png").symlink_to("/etc/hostname")
    for path in ("/etc/hostname", "link.png", "../herold.toml"):
        (folder / "doc.json").write_text(json.dumps(warning(media=[{"path": path, "alt": "Karte"}])))

        result = herold(config, "publish", str(folder / "doc.json"))

        assert result.exit_code == 2
        assert f"media.0: must be a file in the document's folder or below it (got '{path}')" in result.stderr
    assert not site(config).exists()


def test_status_while_the_database_is_away_is_one_line_and_exit_code_3(config: Path) -> None:
    config.write_text(
        config.read_text().replace(
            'data_dir = "var"',
            f'data_dir = "var"\ndatabase_url = "postgresql+psycopg://herold:geheim@127.0.0.1:{free_port()}/h"',
        )
    )

    result = herold(config, "status", "1a2b3c4d-0000-4000-8000-000000000001")

    assert result.exit_code == 3
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("herold: the database cannot be reached (") and "try again when it is back" in line
    assert "geheim" not in result.output


def test_text_from_outside_reaches_the_terminal_escaped(config: Path, tmp_path: Path) -> None:
    from publisher.edges.config import load_settings
    from publisher.engine.schema import AnnouncementRow
    from publisher.engine.store import Store

    published = herold(config, "publish", str(ROOT / "examples" / "bomb-disposal.json"), "--wait")
    announcement_id = published.output.split()[1]
    store = Store(load_settings(config).herold.database)  # a headline stored before control characters were refused
    with store.engine.begin() as connection:
        document = connection.execute(
            select(AnnouncementRow.document).where(AnnouncementRow.id == announcement_id)
        ).scalar_one()
        document = {**document, "headline": "Bombe\x1b]0;owned\x07\x1b[2J\u202eevil"}
        changed = update(AnnouncementRow).where(AnnouncementRow.id == announcement_id).values(document=document)
        connection.execute(changed)
    store.dispose()
    forget_cached(announcement_id)

    table = herold(config, "status", announcement_id)
    as_json = herold(config, "status", announcement_id, "--json")

    for output in (table.output, as_json.output):
        assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    assert "Bombe\\x1b]0;owned\\x07\\x1b[2J\\u202eevil" in table.output
    assert json.loads(as_json.output)["headline"] == "Bombe\x1b]0;owned\x07\x1b[2J\u202eevil"
    refused = herold(config, "token", "create", "--authority", "lk-beispiel", "--name", "Leit\x1bstelle")
    assert refused.exit_code == 2 and "control character (U+001B)" in refused.output


def test_check_config_never_prints_a_password_or_token_from_a_webhook_url(config: Path) -> None:
    config.write_text(
        config.read_text() + '\n  [[authorities.channels]]\n  id = "radio"\n  type = "webhook"\n'
        '  url = "http://funk:geheim@radio.example.de/hook?token=abc123"\n  secret_env = "RADIO_SECRET"\n'
    )
    os.environ["RADIO_SECRET"] = "whsec_" + "c2VjcmV0LWZvci10aGUtcGFydG5lci1ob29rcw=="
    try:
        result = herold(config, "check-config")
    finally:
        del os.environ["RADIO_SECRET"]

    assert result.exit_code == 2 and "plain http" in result.output
    assert "geheim" not in result.output and "abc123" not in result.output


def test_preview_prints_each_channel_s_text_and_count_and_stores_nothing(config: Path) -> None:
    result = herold(config, "preview", str(ROOT / "examples" / "bomb-disposal.json"))

    assert result.exit_code == 0, result.output
    assert "== website (Website, wave 1): no limit" in result.output
    assert not (config.parent / "var" / "site").exists(), "nothing was published"
    as_json = json.loads(herold(config, "preview", str(ROOT / "examples" / "bomb-disposal.json"), "--json").output)
    assert as_json["channels"][0]["text"].startswith("Fliegerbombe in der Altstadt")


def test_a_file_published_twice_with_one_source_id_is_published_once(config: Path, tmp_path: Path) -> None:
    document = tmp_path / "warnung.json"
    document.write_text(json.dumps(warning()), encoding="utf-8")

    first = herold(config, "publish", str(document), "--source-id", "leitstelle-4711")
    again = herold(config, "publish", str(document), "--source-id", "leitstelle-4711")

    announcement_id = first.output.split()[1]
    assert again.exit_code == 0 and f"Already accepted as {announcement_id}" in again.output


def test_a_source_id_longer_than_the_database_keeps_is_refused_and_nothing_is_written(
    config: Path, tmp_path: Path
) -> None:
    document = tmp_path / "warnung.json"
    document.write_text(json.dumps(warning()), encoding="utf-8")
    refused = herold(config, "publish", str(document), "--source-id", "x" * 201)
    assert refused.exit_code == 2 and "source_id: must be 1 to 200 printable characters" in refused.output
    assert not site(config).exists()


def test_a_draft_is_published_when_approved(config: Path, tmp_path: Path) -> None:
    document = tmp_path / "meldung.json"
    document.write_text(json.dumps(news()), encoding="utf-8")

    drafted = herold(config, "publish", str(document), "--draft")
    announcement_id = drafted.output.split()[1]
    assert f"herold approve {announcement_id}" in drafted.output
    assert not (site(config) / "index.html").exists()

    approved = herold(config, "approve", announcement_id, "--wait")
    assert approved.exit_code == 0, approved.output
    assert "Status: PUBLISHED" in approved.output
    assert herold(config, "approve", announcement_id).exit_code == 1


@pytest.mark.parametrize(("queue", "consumes"), [("warnings", "warnings,site"), ("news", "news"), ("site", "site")])
def test_a_warnings_worker_also_takes_the_site_s_work_so_older_set_ups_keep_publishing(
    config: Path, monkeypatch: pytest.MonkeyPatch, queue: str, consumes: str
) -> None:
    started: list[list[str]] = []

    class Recorded:
        def worker_main(self, argv: list[str]) -> None:
            started.append(argv)

    monkeypatch.setenv("HEROLD_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr("publisher.edges.cli.worker_app", lambda settings: Recorded())
    assert herold(config, "worker", "--queue", queue).exit_code == 0
    [argv] = started
    assert argv[argv.index("--queues") + 1] == consumes


def test_a_reader_that_stops_early_ends_the_command_quietly(config: Path) -> None:
    # `herold privacy-report | head -3`: the pipe closes before Herold has written everything.
    command = [sys.executable, "-m", "publisher", "--config", str(config), "privacy-report"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, errors
    assert "internal error" not in errors and "Traceback" not in errors


def test_list_shows_short_ids_that_status_and_the_other_commands_accept(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "bombe.json"
    file.write_text(json.dumps(warning(headline="Fliegerbombe in der Altstadt")), encoding="utf-8")
    accepted = herold(config, "publish", str(file), "--wait")
    announcement_id = next(line.split()[1] for line in accepted.output.splitlines() if line.startswith("Accepted"))

    listed = herold(config, "list", "--current")
    assert listed.exit_code == 0, listed.output
    [line] = listed.output.splitlines()
    assert line.startswith(announcement_id[:8]) and "CURRENT" in line and "Fliegerbombe in der Altstadt" in line

    status = herold(config, "status", announcement_id[:8])
    assert status.exit_code == 0 and announcement_id in status.output

    unknown = herold(config, "status", "ffffffff")
    too_short = herold(config, "status", announcement_id[:4])
    assert unknown.exit_code == 1 and "No announcement ffffffff" in unknown.output
    assert too_short.exit_code == 1 and "first 8 characters" in too_short.output
    assert herold(config, "list", "--since", "gestern").exit_code == 2
