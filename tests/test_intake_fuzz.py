"""Intake under fire: thousands of documents, valid and broken, through the API and the CLI.

Documents start from a valid warning or news item, or from a follow-up of one already
accepted (leaving out what it would inherit), and are then bent: fields replaced by other
types, random text from all of Unicode (control characters, surrogates, bidirectional
overrides included), times from year 1 to 9999, translations into the default language,
nesting, huge numbers. Whatever comes in, the answer is a clear 201/400/413/422 (or exit code
0/2), never a 500 or a traceback; and whatever was stored can be read back, reported and
rendered, and the whole site builds afterwards.

``HYPOTHESIS_PROFILE=slow`` runs ten times as many examples (``HEROLD_FUZZ_SCALE`` any factor).
"""

from __future__ import annotations

import base64
import json
import os
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from publisher.domain.announcement import EFFECTIVE, Announcement
from publisher.edges.cli import main
from publisher.edges.web import create_app
from publisher.edges.wiring import Herold
from publisher.engine import tasks
from publisher.engine.report import report, table
from publisher.engine.schema import AnnouncementRow

from conftest import HeroldFactory, SettingsFactory, herold_toml, news, warning
from helpers import png

EXAMPLES = {"api": 2_000, "api-postgresql": 300, "cli": 300}
NASTY = [
    "\x00", "\x1b[31m", "\x07", "\x7f", "\x85", "\x9b", "\ud800", "\udfff", "\ufffe", "\uffff", "\U0010ffff",
    "\u202e", "\u2066", "\r\n", "\r", "\t", "\n\n", "\u200b", "\ufeff", "Ω", "ß", "🚨", "<script>", "&amp;",
    "{{ a }}", "{% raw %}", "%s", "\\", '"', "'", "../", "#", "@", "https://example.org/?utm_source=x",
]  # fmt: skip


def profile_examples(name: str) -> int:
    scale = float(os.environ.get("HEROLD_FUZZ_SCALE", "10" if os.environ.get("HYPOTHESIS_PROFILE") == "slow" else "1"))
    return max(1, int(EXAMPLES[name] * scale))


PNG = png(12, 8, "navy")

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=4).map("".join),
    st.builds(lambda a, b: a + b, st.text(string.ascii_letters + " ", min_size=1, max_size=20), st.sampled_from(NASTY)),
    st.just("x" * 200),
    st.just("Wort " * 2_100),
)
years = st.integers(min_value=1, max_value=9999)
moments = st.one_of(
    st.builds(
        lambda delta: (datetime.now(UTC) + timedelta(minutes=delta)).isoformat(),
        st.integers(min_value=-10_000, max_value=10_000_000),
    ),
    st.builds(lambda year: f"{year:04d}-06-01T12:00:00+02:00", years),
    st.sampled_from(["2026-11-22T10:00:00", "morgen", "2026-13-45T99:00:00+01:00", "", "2026-11-22T10:00:00+23:59"]),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), texts, moments
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                      max_leaves=8)  # fmt: skip
languages = st.sampled_from(["de", "en", "de-DE", "tr", "ar", "uk", "xx", "en-GB", "zz-Latn", "d", "1", "de_DE"])
polygons = st.one_of(
    st.just([[[50.93, 6.95], [50.94, 6.95], [50.94, 6.97], [50.93, 6.95]]]),
    st.lists(st.lists(st.tuples(st.floats(-100, 100), st.floats(-200, 200)), min_size=0, max_size=6), max_size=3),
    st.just([[[50.0 + i / 1e5, 7.0] for i in range(10_001)] + [[50.0, 7.0]]] * 3),
)
FIELDS = ["authority", "kind", "msg_type", "references", "category", "event", "severity", "urgency", "certainty",
          "headline", "description", "instruction", "area", "effective", "expires", "language", "translations",
          "media", "hashtags", "contact", "channels", "publish_at"]  # fmt: skip
TYPED: dict[str, st.SearchStrategy[Any]] = {
    "kind": st.sampled_from(["warning", "news", "Warning", "alert", ""]),
    "msg_type": st.sampled_from(["alert", "update", "cancel", "error", "Update", "ack"]),
    "severity": st.sampled_from(["extreme", "severe", "moderate", "minor", "unknown", "Severe", "hoch"]),
    "category": st.sampled_from(["met", "safety", "fire", "Geo", "other", "weather"]),
    "urgency": st.sampled_from(["immediate", "expected", "past", "now"]),
    "certainty": st.sampled_from(["observed", "likely", "unknown", "sure"]),
    "effective": moments,
    "expires": moments,
    "publish_at": moments,
    "language": languages,
    "translations": st.dictionaries(
        languages,
        st.fixed_dictionaries({"headline": texts}, optional={"description": texts, "instruction": texts}),
        max_size=3,
    ),
    "area": st.fixed_dictionaries(
        {"description": texts},
        optional={"polygons": polygons, "geocodes": st.lists(st.fixed_dictionaries({"name": texts, "value": texts}))},
    ),
    "media": st.lists(
        st.fixed_dictionaries(
            {"alt": texts}, optional={"data": st.sampled_from([PNG, "kein base64", ""]), "path": texts}
        ),
        max_size=5,
    ),
    "hashtags": st.lists(texts, max_size=12),
    "channels": st.one_of(st.just(["website"]), st.lists(texts, max_size=3)),
}


@st.composite
def documents(draw: st.DrawFn, accepted: list[str]) -> Any:
    """One document to send: usually close to valid, sometimes far from it."""
    shape = draw(st.sampled_from(["warning", "news", "follow-up", "follow-up", "anything"]))
    if shape == "anything":
        return draw(values)
    document = warning() if shape == "warning" else news()
    if shape == "follow-up":
        document = warning(msg_type=draw(st.sampled_from(["update", "cancel", "error"])))
        # The same draws whatever was accepted before (the set grows as the test runs).
        known = draw(st.sampled_from([True, True, True, False]))
        pick, other = draw(st.integers(min_value=0, max_value=10**6)), draw(texts)
        document["references"] = accepted[pick % len(accepted)] if accepted and known else other
        for inherited in draw(st.sets(st.sampled_from(["category", "event", "severity", "area", "instruction"]))):
            document.pop(inherited)
    # A third go unchanged (or only a follow-up's choices), so that enough is stored to check.
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4]))):
        field = draw(st.sampled_from(FIELDS))
        how = draw(st.sampled_from(["typed", "text", "anything", "drop"]))
        if how == "drop":
            document.pop(field, None)
        else:
            strategy = TYPED.get(field, texts) if how == "typed" else (texts if how == "text" else values)
            document[field] = draw(strategy)
    return document


def assert_everything_stored_reads_back_reports_and_renders(herold: Herold) -> int:
    """Every announcement in the database: its document reads, its status reports, its item page
    is on the rebuilt site, and the feeds parse. Returns how many there are."""
    with herold.store.engine.begin() as connection:
        rows = connection.execute(select(AnnouncementRow.id, AnnouncementRow.document)).all()
    ids = [row.id for row in rows]
    for row in rows:  # as stored, by every rule between fields (reading back alone leaves them out)
        Announcement.model_validate(row.document, context=EFFECTIVE)
    for announcement_id in ids:
        stored = herold.store.announcements.get(announcement_id)
        assert stored is not None
        result = report(herold.engine, announcement_id)
        assert result is not None and result.status != "unreadable"
        table(result)
    tasks.rebuild(herold.engine, "lk-beispiel")
    site = herold.settings.herold.data_dir / "site" / "lk-beispiel"
    for feed in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse((site / feed).read_bytes())
        assert parsed.bozo == 0, parsed.get("bozo_exception")
    json.loads((site / "feed.json").read_text())
    return len(ids)


@pytest.fixture
def fuzzed(make_settings: SettingsFactory, make_herold: HeroldFactory) -> Callable[..., Herold]:
    def make(**runtime: Any) -> Herold:
        return make_herold(make_settings(**runtime))

    return make


def run_through_api(herold: Herold, examples: int) -> None:
    token = herold.store.tokens.create("lk-beispiel", "fuzz", herold.clock())
    accepted: list[str] = []
    answers: dict[int, int] = {}
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(herold, start=False), raise_server_exceptions=False) as client:

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
        @given(data=st.data())
        def send(data: st.DataObject) -> None:
            document = data.draw(documents(accepted))
            try:
                body = json.dumps(document).encode()
            except (ValueError, TypeError):
                return  # not expressible as JSON at all
            answer = client.post("/api/v1/announcements", content=body, headers=auth)
            answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
            assert answer.status_code in {201, 400, 403, 413, 422}, answer.text
            if answer.status_code == 201:
                accepted.append(answer.json()["id"])
                shown = client.get(f"/api/v1/announcements/{accepted[-1]}", headers=auth)
                assert shown.status_code == 200, shown.text

        send()
    assert answers.get(201, 0) > examples // 50, f"too few documents were valid to test what is stored: {answers}"
    assert answers.get(422, 0) > examples // 20, answers
    assert_everything_stored_reads_back_reports_and_renders(herold)


def test_no_document_sent_to_the_api_gets_a_500_and_all_that_is_stored_reads_back_and_renders(
    fuzzed: Callable[..., Herold],
) -> None:
    run_through_api(fuzzed(), profile_examples("api"))


@pytest.mark.postgres
def test_the_same_on_postgresql(fuzzed: Callable[..., Herold], postgres: Any) -> None:
    run_through_api(fuzzed(database_url=postgres.database("fuzz_api")), profile_examples("api-postgresql"))


line = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=40)
by_hand = st.fixed_dictionaries(
    {"authority": st.just("lk-beispiel"), "kind": st.sampled_from(["news", "warning"]), "headline": line,
     "description": line},
    optional={
        "publish_at": st.one_of(line, st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d} 10:00:00+01:00",
                                                 years, st.integers(0, 13), st.integers(0, 32))),
        "effective": line, "expires": line, "severity": line, "hashtags": line, "area": line, "event": line,
        "instruction": line, "language": line,
    },
)  # fmt: skip


@pytest.fixture
def cli_config(tmp_path: Path) -> Path:
    config = tmp_path / "herold.toml"
    config.write_text(
        herold_toml(
            base_url="https://www.lk-beispiel.de/warnungen/", herold='log_level = "error"', languages='["de", "en"]'
        ),
        encoding="utf-8",
    )
    return config


def test_no_document_given_to_the_cli_ends_in_a_traceback_and_all_that_is_stored_reads_back(
    cli_config: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    accepted: list[str] = []
    codes: dict[int, int] = {}
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "karte.png").write_bytes(base64.b64decode(PNG))

    @settings(max_examples=profile_examples("cli"), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(data=st.data(), form=st.sampled_from(["json", "yaml", "yaml written by hand"]))
    def publish(data: st.DataObject, form: str) -> None:
        path = folder / ("meldung.json" if form == "json" else "meldung.yaml")
        if form == "yaml written by hand":  # values unquoted, as people type them: YAML decides their type
            text = "".join(f"{key}: {value}\n" for key, value in data.draw(by_hand).items())
        else:
            document = data.draw(documents(accepted))
            try:
                text = json.dumps(document) if form == "json" else yaml.safe_dump(document, allow_unicode=True)
            except (ValueError, TypeError, yaml.YAMLError):
                return
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = runner.invoke(main, ["--config", str(cli_config), "publish", str(path)], catch_exceptions=False)
        codes[result.exit_code] = codes.get(result.exit_code, 0) + 1
        assert result.exit_code in {0, 2}, result.output
        assert "Traceback" not in result.output and "internal error" not in result.output, result.output
        if result.exit_code == 0:
            accepted.append(result.stdout.split()[1])

    publish()
    assert codes.get(0, 0) > 0 and codes.get(2, 0) > 0, codes
    built = runner.invoke(main, ["--config", str(cli_config), "site", "build"], catch_exceptions=False)
    assert built.exit_code == 0, built.output
    for announcement_id in accepted:
        status = runner.invoke(main, ["--config", str(cli_config), "status", announcement_id], catch_exceptions=False)
        assert status.exit_code == 0, status.output
