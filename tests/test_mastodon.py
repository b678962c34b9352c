"""The Mastodon channel, against two independent implementations of the Mastodon client API:
our fake server (tests/fakes/mastodon_server.py, shaped on recordings of a real Mastodon, with
failure injection) and mastodon-mock (PyPI, a stateful mock written by others)."""

from __future__ import annotations

import base64
import collections
import copy
import io
import json
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import regex
import requests
import uvicorn
import yaml
from mastodon_mock.app import create_app
from mastodon_mock.config import DatabaseConfig, MastodonMockConfig, SeedAccount, SeedConfig
from PIL import Image

from adapters.mastodon import MastodonChannel, MastodonSettings
from adapters.port import (
    CredentialsError,
    DeliveryError,
    PermanentError,
    Post,
    Receipt,
    ServerLimits,
    TooLong,
    TransientError,
)
from publisher.domain.announcement import parse_announcement
from publisher.domain.records import Variant
from publisher.edges.config import settings_from
from publisher.edges.wiring import Herold
from publisher.engine import tasks
from publisher.engine.report import report
from publisher.engine.schema import OperationState
from publisher.engine.tasks import wait_until_settled
from publisher.site.model import Copy
from publisher.sources.intake import accept

from conftest import AUTHORITY, ROOT, HeroldFactory, SettingsFactory, publish, warning
from fakes.mastodon_server import TOO_LONG_TAKAHE, FakeMastodon, drop_after, hang, retry_after, status
from fakes.proxy import ForwardProxy
from fakes.trickle import Trickle
from fakes.webhook_receiver import Answer
from kit import ChannelCase, ChannelContract
from services import free_port

TOKEN_ENV = "HEROLD_TEST_MASTODON_TOKEN"


def image() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 9), "orange").save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def authority_with(instance: str, **settings: Any) -> dict[str, Any]:
    result = copy.deepcopy(AUTHORITY)
    result["channels"].append(
        {"id": "fediverse", "type": "mastodon", "instance": instance, "access_token_env": TOKEN_ENV, **settings}
    )
    return result


def start(
    make_settings: SettingsFactory, make_herold: HeroldFactory, instance: str, token: str, **settings: Any
) -> Herold:
    return make_herold(make_settings(
        authorities=[authority_with(instance, **settings)], env={TOKEN_ENV: token},
        grace_warning_seconds=0.3, retry_base_seconds=0.05,
    ))  # fmt: skip


def copy_on_fediverse(herold: Herold, announcement_id: str) -> Any:
    delivery = herold.store.operations.copy_on(announcement_id, "fediverse")
    assert delivery is not None
    return delivery


# -- mastodon-mock: an independent second implementation ---------------------------------


# -- the contract every channel keeps --------------------------------------------------------------

URL_AS_MASTODON_SEES_IT = regex.compile(r"https?://\S+")


def counted_by_mastodon(variant: Variant) -> int:
    """Mastodon's own count (StatusLengthValidator): content warning and text together, in
    grapheme clusters, each URL as 23 characters."""
    text = (variant.spoiler or "") + URL_AS_MASTODON_SEES_IT.sub("x" * 23, variant.text)
    return len(regex.findall(r"\X", text))


STATUS: dict[str, Any] = {
    "id": "109372845",
    "created_at": "2026-11-22T09:15:02.123Z",
    "in_reply_to_id": None,
    "visibility": "public",
    "uri": "https://social.example/users/lkbeispiel/statuses/109372845",
    "url": "https://social.example/@lkbeispiel/109372845",
    "content": "<p>Fliegerbombe in der Altstadt</p>",
    "media_attachments": [],
}

CASE = ChannelCase(
    kind=MastodonChannel,
    settings=lambda url: {"instance": url, "access_token_env": TOKEN_ENV},
    secrets={"access_token": "herold-token"},
    published=Answer(200, body=json.dumps(STATUS).encode(), headers={"Content-Type": "application/json"}),
    idempotency_header="Idempotency-Key",
    counted=counted_by_mastodon,
    limit=500,
)


class TestMastodonContract(ChannelContract):
    case = CASE


@pytest.fixture(scope="module")
def mock_server() -> Iterator[str]:
    port = free_port()
    config = MastodonMockConfig(
        database=DatabaseConfig(path=":memory:"),
        seed=SeedConfig(accounts=[SeedAccount(username="lkbeispiel", access_token="mock-token")]),
        domain=f"127.0.0.1:{port}",
        url_scheme="http",
    )
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "mastodon-mock did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_against_mastodon_mock_a_warning_its_update_and_all_clear_form_one_pinned_then_unpinned_thread(
    mock_server: str, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    warnings = {"severe": "{severity}: {event}"}
    herold = start(make_settings, make_herold, mock_server, "mock-token", content_warnings=warnings)

    def status(delivery: Any) -> dict[str, Any]:
        answer = requests.get(
            f"{mock_server}/api/v1/statuses/{delivery.platform_id}",
            headers={"Authorization": "Bearer mock-token"},
            timeout=5,
        )
        answer.raise_for_status()
        return dict(answer.json())

    original = publish(herold, warning(media=[{"data": image(), "alt": "Karte des Sperrgebiets"}]))
    first = copy_on_fediverse(herold, original)
    assert status(first)["pinned"] is True, "the active warning is pinned"
    update = publish(herold, warning(msg_type="update", references=original, headline="Sperrgebiet erweitert"))
    cancel = publish(
        herold, warning(msg_type="cancel", references=original, headline="Bombe entschärft", instruction=None)
    )
    second, third = (copy_on_fediverse(herold, i) for i in (update, cancel))
    assert {first.state, second.state, third.state} == {OperationState.succeeded}

    posted = status(first)
    assert "Fliegerbombe in der Altstadt" in posted["content"]
    assert posted["spoiler_text"] == "Große Gefahr: Bombenentschärfung"
    assert posted["language"] == "de"
    assert posted["visibility"] == "public"
    assert [m["description"] for m in posted["media_attachments"]] == ["Karte des Sperrgebiets"]
    assert first.platform_url == posted["url"]
    assert status(second)["in_reply_to_id"] == first.platform_id
    assert status(third)["in_reply_to_id"] == second.platform_id
    assert status(third)["spoiler_text"] == "", "an all-clear needs no content warning"
    assert status(first)["pinned"] is False, "unpinned by the all-clear"
    assert herold.store.operations.pinned() == []


def test_with_the_example_configuration_every_shipped_example_and_a_long_warning_reach_a_server_counting_raw(
    mock_server: str, make_herold: HeroldFactory, tmp_path: Path
) -> None:
    """mastodon-mock counts links at their full length, as Takahē and Pleroma do, whatever
    characters_reserved_per_url says: the first refusal teaches the channel, nothing is lost."""
    raw = tomllib.loads((ROOT / "config" / "herold.example.toml").read_text(encoding="utf-8"))
    raw["herold"] |= {"data_dir": str(tmp_path / "var"), "grace_warning_seconds": 0.2, "grace_news_seconds": 0.2}
    raw["authorities"][0]["channels"].append(
        {"id": "fediverse", "type": "mastodon", "instance": mock_server, "access_token_env": TOKEN_ENV}
    )
    herold = make_herold(settings_from(raw, {TOKEN_ENV: "mock-token"}, tmp_path))
    documents = [
        json.loads((ROOT / "examples" / "bomb-disposal.json").read_text(encoding="utf-8")),
        *(yaml.safe_load((ROOT / "examples" / name).read_text(encoding="utf-8"))
          for name in ("storm-warning.yaml", "opening-hours.yaml")),
        warning(description=("Bitte meiden Sie das Gebiet. " * 80)[:1990], headline="Großbrand im Gewerbegebiet"),
    ]  # fmt: skip
    assert len(documents[-1]["description"]) >= 1990

    published = [publish(herold, document) for document in documents]

    copies = [copy_on_fediverse(herold, announcement_id) for announcement_id in published]
    assert [c.state for c in copies] == [OperationState.succeeded] * 4, [c.last_error for c in copies]
    for copy_ in copies:
        answer = requests.get(f"{mock_server}/api/v1/statuses/{copy_.platform_id}",
                              headers={"Authorization": "Bearer mock-token"}, timeout=5)  # fmt: skip
        assert answer.status_code == 200
    variants = [v for i in published for v in herold.store.announcements.variants(i) if v.channel == "fediverse"]
    assert all(len(v.text) + len(v.spoiler or "") <= 500 for v in variants), "counted as the server counts"
    learned = herold.store.limits.of(raw["authorities"][0]["slug"])["fediverse"]
    assert learned.links_in_full, "and remembered for the next one"


def test_against_mastodon_mock_a_correction_edits_in_place_and_the_pin_follows_the_newest_state(
    mock_server: str, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = start(make_settings, make_herold, mock_server, "mock-token", visibility="unlisted",
                   content_warnings={"severe": "{severity}: {event}"})  # fmt: skip

    def status(operation: Any) -> dict[str, Any]:
        answer = requests.get(f"{mock_server}/api/v1/statuses/{operation.platform_id}",
                              headers={"Authorization": "Bearer mock-token"}, timeout=5)  # fmt: skip
        answer.raise_for_status()
        return dict(answer.json())

    alert = publish(herold, warning(media=[{"data": image(), "alt": "Karte des Sperrgebiets"}]))
    update = publish(herold, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"))
    first, second = copy_on_fediverse(herold, alert), copy_on_fediverse(herold, update)
    assert (status(first)["pinned"], status(second)["pinned"]) == (False, True), "the pin moves to the update"
    before = status(first)

    correction = publish(herold, warning(msg_type="update", references=alert, correction=True,
                                         headline="Fliegerbombe in der Altstadt: Evakuierung bis 11 Uhr"))  # fmt: skip
    operations = {o.action.value: o for o in herold.store.operations.of(correction) if o.channel == "fediverse"}
    assert operations["edit"].state is OperationState.succeeded, operations["edit"].last_error
    assert "reply" not in operations and "publish" not in operations, "a correction is no new post on Mastodon"
    after = status(first)
    assert "Evakuierung bis 11 Uhr" in after["content"] and after["edited_at"]
    unchanged = ("spoiler_text", "visibility", "language", "in_reply_to_id")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert [m["id"] for m in after["media_attachments"]] == [m["id"] for m in before["media_attachments"]]

    cancel = publish(herold, warning(msg_type="cancel", references=alert, headline="Bombe entschärft",
                                     instruction=None))  # fmt: skip
    third = copy_on_fediverse(herold, cancel)
    assert status(third)["in_reply_to_id"] == second.platform_id, "one thread"
    assert not any(status(o)["pinned"] for o in (first, second, third)), "nothing pinned after the all-clear"
    shown_report = report(herold.engine, correction)
    assert shown_report is not None
    shown = {(d.channel, d.action.value): d.state for d in shown_report.deliveries}
    assert shown[("fediverse", "edit")] is OperationState.succeeded


@pytest.mark.parametrize("on_withdrawal", ["edit", "delete"])
def test_against_mastodon_mock_a_withdrawal_marks_or_deletes_every_post_of_the_thread_and_says_why(
    mock_server: str, make_settings: SettingsFactory, make_herold: HeroldFactory, on_withdrawal: str
) -> None:
    herold = start(make_settings, make_herold, mock_server, "mock-token", on_withdrawal=on_withdrawal)

    def status(operation: Any) -> requests.Response:
        return requests.get(f"{mock_server}/api/v1/statuses/{operation.platform_id}",
                            headers={"Authorization": "Bearer mock-token"}, timeout=5)  # fmt: skip

    alert = publish(herold, warning())
    update = publish(herold, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"))
    withdrawal = publish(herold, warning(
        msg_type="error", references=alert, headline="Meldung irrtümlich versandt",
        description="Die Warnung vor einer Fliegerbombe wurde versehentlich veröffentlicht. Es besteht keine Gefahr.",
        instruction=None,
    ))  # fmt: skip

    posts = [copy_on_fediverse(herold, i) for i in (alert, update)]
    reply = copy_on_fediverse(herold, withdrawal)
    assert reply.state is OperationState.succeeded
    assert status(reply).status_code == 200, "the reply saying why stays either way"
    ops = [
        o
        for o in herold.store.operations.of(withdrawal)
        if o.channel == "fediverse" and o.action.value == on_withdrawal
    ]
    assert len(ops) == 2 and all(o.state is OperationState.succeeded for o in ops), [o.last_error for o in ops]
    page = herold.site("lk-beispiel").directory / herold.store.announcements.get(alert).item_path / "index.html"  # type: ignore[union-attr]

    def linked() -> set[str]:
        return {o.platform_url for o in (*posts, reply) if o.platform_url and o.platform_url in page.read_text()}

    deadline = time.monotonic() + 10
    while linked() != (
        {reply.platform_url} if on_withdrawal == "delete" else {p.platform_url for p in (*posts, reply)}
    ):
        assert time.monotonic() < deadline, f"the item page links {linked()}"
        time.sleep(0.1)
    if on_withdrawal == "delete":
        # A delivery that reports its copy only now (its thread was slow) never links it again,
        # not even after the site was rebuilt from the database meanwhile.
        tasks.rebuild(herold.engine, "lk-beispiel")
        site, late, item = herold.site("lk-beispiel"), posts[0], herold.store.announcements.get(alert)
        assert item is not None and late.platform_url
        site.add_copy(item.item_id, late.announcement_id, Copy(late.channel, late.channel_type, late.platform_url))
        site.close()
        assert linked() == {reply.platform_url}
    for post in posts:
        answer = status(post)
        if on_withdrawal == "delete":
            assert answer.status_code == 404
        else:
            shown = answer.json()
            assert shown["content"].startswith("<p>Widerruf"), shown["content"]
            assert "keine Gefahr" in shown["content"] and not shown["pinned"]


# -- our fake server: failures the real one can produce -------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon(tokens={"herold-token": "lkbeispiel"}) as server:
        yield server


def channel_for(
    make_settings: SettingsFactory,
    url: str,
    *,
    token: str = "herold-token",
    timeouts: tuple[float, float] = (2.0, 5.0),
    **settings: Any,
) -> MastodonChannel:
    herold = Herold(make_settings(
        authorities=[authority_with(url, **settings)], env={TOKEN_ENV: token},
        http_connect_timeout=timeouts[0], http_read_timeout=timeouts[1],
    ))  # fmt: skip
    channel = herold.channel("lk-beispiel", "fediverse")
    assert isinstance(channel, MastodonChannel)
    return channel


LINK = "https://www.lk-beispiel.de/warnungen/2026/11/fliegerbombe-1a2b3c4d/"


def post_of(
    text: str = f"Fliegerbombe in der Altstadt\n\n{LINK}",
    *,
    key: str = "herold-d1",
    reply_to: str | None = None,
    **changes: Any,
) -> Post:
    announcement = parse_announcement(warning(**changes))
    return Post(
        delivery_id=key.removeprefix("herold-"), idempotency_key=key, announcement_id="a1", announcement=announcement,
        variant=Variant(channel="fediverse", language="de", text=text, link=LINK),
        item_id="a1",
        in_reply_to=Receipt(reply_to) if reply_to else None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "kind", "reason", "ambiguous", "wait"),
    [
        (status(500), TransientError, "the platform answered 500", True, None),
        (status(503, headers={"Retry-After": "12"}), TransientError, "503", True, 12.0),
        (retry_after(7), TransientError, "rate limit was reached (429)", False, 7.0),
        (
            status(422, {"error": "Validation failed: Text character limit of 500 exceeded"}),
            TooLong,
            "Validation failed: Text character limit of 500 exceeded",
            None,
            None,
        ),
        (
            status(400, {"error": "Text is too long (maximum is 500 characters)"}),
            TooLong,
            "too long (400)",
            None,
            None,
        ),
        (
            status(422, {"error": "Validation failed: Media attachments are invalid"}),
            PermanentError,
            "Validation failed: Media attachments are invalid",
            None,
            None,
        ),
        (
            status(403, {"error": "Your login is currently disabled"}),
            CredentialsError,
            "the account may not do this (403): Your login is currently disabled",
            None,
            None,
        ),
        (status(404), PermanentError, "the platform answered 404", None, None),
        (hang(10), TransientError, "network problem: timed out", True, None),
        (drop_after(), TransientError, "network problem: connection failed", True, None),
    ],
    ids=[
        "500",
        "503 retry-after",
        "429",
        "422 too long",
        "400 too long",
        "422",
        "403",
        "404",
        "no answer",
        "answer lost",
    ],
)
def test_every_failure_tells_the_engine_what_to_do_next(
    fake: FakeMastodon,
    make_settings: SettingsFactory,
    fault: Any,
    kind: type[DeliveryError],
    reason: str,
    ambiguous: bool | None,
    wait: float | None,
) -> None:
    channel = channel_for(make_settings, fake.url, timeouts=(2.0, 1.0))
    fake.fail("POST", "/api/v1/statuses", fault)
    with pytest.raises(DeliveryError) as failed:
        channel.publish(post_of())
    assert type(failed.value) is kind
    assert reason in failed.value.reason
    if isinstance(failed.value, TransientError):
        assert failed.value.ambiguous is ambiguous
        assert failed.value.retry_after == wait


def test_a_status_posted_with_a_reset_time_nobody_can_read_counts_as_posted(
    fake: FakeMastodon, make_settings: SettingsFactory
) -> None:
    # Mastodon.py calls such an answer a rate limit; retried, the status would go out twice.
    channel = channel_for(make_settings, fake.url)
    posted = {"id": "115", "url": f"{fake.url}/@lkb/115", "content": "<p>Fliegerbombe</p>"}
    fake.fail("POST", "/api/v1/statuses", status(200, posted, {"X-RateLimit-Reset": "in a minute or so"}))
    receipt = channel.publish(post_of())
    assert (receipt.platform_id, receipt.url) == ("115", f"{fake.url}/@lkb/115")


def test_a_used_up_rate_limit_is_waited_out_until_its_reset_time(
    fake: FakeMastodon, make_settings: SettingsFactory
) -> None:
    channel = channel_for(make_settings, fake.url)
    reset = (datetime.now(UTC) + timedelta(seconds=90)).isoformat()
    used_up = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    fake.fail("POST", "/api/v1/statuses", status(429, {"error": "Too many requests"}, used_up))
    with pytest.raises(TransientError) as failed:
        channel.publish(post_of())
    assert failed.value.retry_after is not None and 80 <= failed.value.retry_after <= 90


def test_a_server_that_trickles_its_answer_is_cut_off_at_the_call_deadline(make_settings: SettingsFactory) -> None:
    with Trickle(every=0.3) as server:
        channel = channel_for(make_settings, server.url.rstrip("/"), timeouts=(2.0, 2.0), call_deadline_seconds=1)
        started = time.monotonic()
        with pytest.raises(TransientError) as failed:
            channel.publish(post_of())

        assert time.monotonic() - started < 4
        assert failed.value.reason == "network problem: timed out (ReadTimeout)"
        assert failed.value.ambiguous, "the server had the whole request"


def test_a_refused_token_is_a_credentials_problem(fake: FakeMastodon, make_settings: SettingsFactory) -> None:
    fake.revoke("herold-token")
    channel = channel_for(make_settings, fake.url)
    with pytest.raises(CredentialsError, match="the server refused the access token"):
        channel.publish(post_of())
    assert channel.check() == ["the server refused the access token (401): The access token was revoked"]


def test_an_unreachable_server_is_a_transient_problem_that_certainly_posted_nothing(
    make_settings: SettingsFactory,
) -> None:
    channel = channel_for(make_settings, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TransientError) as failed:
        channel.publish(post_of())
    assert failed.value.ambiguous is False


def test_an_instance_behind_the_environment_s_proxy_is_reached_through_it(
    fake: FakeMastodon, make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        channel = channel_for(make_settings, fake.url)

        receipt = channel.publish(post_of())

    assert ("POST", f"{fake.url}/api/v1/statuses") in proxy.seen
    assert [s["id"] for s in fake.statuses] == [receipt.platform_id]


def test_a_retry_after_a_lost_answer_returns_the_same_status(
    fake: FakeMastodon, make_settings: SettingsFactory
) -> None:
    channel = channel_for(make_settings, fake.url)
    fake.fail("POST", "/api/v1/statuses", drop_after())
    with pytest.raises(TransientError):
        channel.publish(post_of())
    receipt = channel.publish(post_of())
    assert [s["id"] for s in fake.statuses] == [receipt.platform_id]
    assert receipt.url == fake.statuses[0]["url"]
    assert fake.requests[-1].headers["Idempotency-Key"] == "herold-d1"


def test_the_status_carries_language_visibility_and_the_content_warning_for_its_severity(
    fake: FakeMastodon, make_settings: SettingsFactory
) -> None:
    channel = channel_for(
        make_settings, fake.url, content_warnings={"extreme": "{severity}: {event}"}, visibility="unlisted"
    )
    announcement = parse_announcement(warning(severity="extreme"))
    spoiler = MastodonChannel.spoiler(channel.settings, announcement)
    assert spoiler == "Extreme Gefahr: Bombenentschärfung"
    assert MastodonChannel.spoiler(channel.settings, parse_announcement(warning(severity="minor"))) is None
    cancel = parse_announcement(warning(msg_type="cancel", references="a1"))
    assert MastodonChannel.spoiler(channel.settings, cancel) is None
    post = post_of(severity="extreme")
    post = Post(**{**post.__dict__, "variant": post.variant.model_copy(update={"spoiler": spoiler})})
    channel.publish(post)
    [posted] = fake.statuses
    assert (posted["spoiler_text"], posted["language"], posted["visibility"]) == (spoiler, "de", "unlisted")


def test_an_image_still_processing_is_waited_for_and_attached_with_its_alt_text(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    with FakeMastodon(media_processing_polls=2) as server:
        channel = channel_for(make_settings, server.url)
        media_dir = Path(channel.context.media) / "media"
        media_dir.mkdir(parents=True)
        Image.new("RGB", (4, 4), "red").save(media_dir / "karte.png")
        post = post_of(media=[{"path": "media/karte.png", "alt": "Karte des Sperrgebiets"}])
        channel.publish(post)
        [posted] = server.statuses
        assert [m["description"] for m in posted["media_attachments"]] == ["Karte des Sperrgebiets"]
        assert [r.status for r in server.requests if r.path.startswith("/api/v1/media/")] == [206, 206, 200]


def test_the_limit_is_the_instance_s_own_unless_configured(make_settings: SettingsFactory) -> None:
    with FakeMastodon(max_characters=5000) as server:
        channel = channel_for(make_settings, server.url)
        announced = channel.read_limits()
        assert (announced.characters, announced.pins) == (5000, 5)
        assert MastodonChannel.text_rule(channel.settings, announced).limit == 5000
        configured = channel_for(make_settings, server.url, max_characters=800)
        assert MastodonChannel.text_rule(configured.settings, announced).limit == 800
    # Until the instance has said anything, Herold counts to 500.
    assert MastodonChannel.text_rule(channel.settings, None).limit == 500
    with pytest.raises(TransientError):
        channel_for(make_settings, f"http://127.0.0.1:{free_port()}").read_limits()


def test_accepting_never_waits_for_a_server_and_uses_the_limit_it_last_announced(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    with FakeMastodon(max_characters=5000) as server:
        herold = start(make_settings, make_herold, server.url, "herold-token")
        long = warning(description="Die Lage ist ernst. " * 100)  # 2,000 characters: over Mastodon's 500
        first = accept(herold.engine, long, source="test", actor="t")
        assert not [r for r in server.requests if "instance" in r.path], "intake asked the server"
        tasks.limits(herold.engine, "lk-beispiel/fediverse")  # what the engine does now and then
        second = accept(herold.engine, long, source="test", actor="t")
        for announcement_id in (first, second):
            wait_until_settled(herold.engine, announcement_id, 30)

    limits = {a: {v.channel: v.limit for v in herold.store.announcements.variants(a)} for a in (first, second)}
    shortened = {a: limits[a]["fediverse"] for a in (first, second)}
    assert shortened == {first: 500, second: 5000}


def test_a_server_with_a_version_mastodon_py_cannot_parse_works_all_the_same(make_settings: SettingsFactory) -> None:
    with FakeMastodon(version="takahe/0.11.0") as server:
        channel = channel_for(make_settings, server.url)
        receipt = channel.publish(post_of())
        channel.pin(receipt)
        assert [s["id"] for s in server.statuses] == [receipt.platform_id]
        assert not [r for r in server.requests if r.path.rstrip("/") == "/api/v1/instance"]


def test_a_follow_up_whose_original_was_deleted_still_goes_out(
    fake: FakeMastodon, make_settings: SettingsFactory
) -> None:
    channel = channel_for(make_settings, fake.url)
    receipt = channel.publish(post_of("Aktualisierung: Sperrgebiet erweitert", key="herold-d2", reply_to="9999"))
    [posted] = fake.statuses
    assert posted["id"] == receipt.platform_id and posted["in_reply_to_id"] is None


def test_edit_delete_pin_and_unpin(fake: FakeMastodon, make_settings: SettingsFactory) -> None:
    channel = channel_for(make_settings, fake.url)
    receipt = channel.publish(post_of())
    channel.pin(receipt)
    assert fake.statuses[0]["pinned"] is True
    channel.unpin(receipt)
    assert fake.statuses[0]["pinned"] is False
    channel.edit(receipt, post_of("Berichtigung: die Sperrung endet um 14 Uhr"))
    assert fake.statuses[0]["text"] == "Berichtigung: die Sperrung endet um 14 Uhr"
    assert fake.statuses[0]["edited_at"] is not None
    channel.delete(receipt)
    channel.delete(receipt)  # already gone is what was asked for
    assert fake.statuses[0]["deleted"] is True


def test_an_earlier_copy_is_found_by_its_link_whatever_its_age_but_never_one_older_than_the_delivery(
    fake: FakeMastodon, make_settings: SettingsFactory
) -> None:
    channel = channel_for(make_settings, fake.url)
    receipt = channel.publish(post_of())
    for age in (timedelta(minutes=5), timedelta(hours=1, minutes=10)):  # within the key's hour and after it
        since = Post(**{**post_of().__dict__, "created_at": channel.context.clock() - age})
        found = channel.find(since)
        assert found is not None and found.platform_id == receipt.platform_id
    later = Post(**{**post_of().__dict__, "created_at": channel.context.clock() + timedelta(minutes=10)})
    assert channel.find(later) is None, "a status made before this delivery began is not its copy"


def test_a_pinned_warning_is_unpinned_when_it_expires(
    fake: FakeMastodon, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = start(make_settings, make_herold, fake.url, "herold-token")
    expires = herold.clock() + timedelta(seconds=3)
    announcement_id = publish(herold, warning(expires=expires.isoformat()))
    assert fake.statuses[0]["pinned"] is True
    assert [d.id for d in herold.store.operations.pinned()] == [copy_on_fediverse(herold, announcement_id).id]
    deadline = time.monotonic() + 15
    while (fake.statuses[0]["pinned"] or herold.store.operations.pinned()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fake.statuses[0]["pinned"] is False
    assert herold.store.operations.pinned() == [], "and Herold knows it"


def test_the_lookup_after_an_hour_never_takes_the_alert_for_its_update(
    fake: FakeMastodon, make_settings: SettingsFactory
) -> None:
    channel = channel_for(make_settings, fake.url)
    alert = channel.publish(post_of())
    an_hour_ago = channel.context.clock() - timedelta(hours=1, minutes=10)
    update = post_of(f"Aktualisierung: Sperrgebiet erweitert\n\n{LINK}", key="herold-d2", reply_to=alert.platform_id)
    assert channel.find(Post(**{**update.__dict__, "created_at": an_hour_ago})) is None
    posted = channel.publish(update)
    found = channel.find(Post(**{**update.__dict__, "created_at": an_hour_ago}))
    assert found is not None and found.platform_id == posted.platform_id


def test_two_updates_with_the_same_words_are_told_apart_by_what_they_reply_to(
    fake: FakeMastodon, make_settings: SettingsFactory
) -> None:
    channel = channel_for(make_settings, fake.url)
    alert = channel.publish(post_of())
    same_words = f"Aktualisierung: Sperrgebiet besteht weiter\n\n{LINK}"
    first = channel.publish(post_of(same_words, key="herold-d2", reply_to=alert.platform_id))
    an_hour_ago = channel.context.clock() - timedelta(hours=1, minutes=10)
    second = post_of(same_words, key="herold-d3", reply_to=first.platform_id)
    assert channel.find(Post(**{**second.__dict__, "created_at": an_hour_ago})) is None, "the first is not the second"


def test_news_is_never_pinned_only_warnings_are(
    fake: FakeMastodon, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = start(make_settings, make_herold, fake.url, "herold-token")
    publish(herold, warning(kind="news", severity=None, instruction=None, headline="Neue Öffnungszeiten"))
    publish(herold, warning())
    assert [s["pinned"] for s in fake.statuses] == [False, True]
    assert len([r for r in fake.requests if r.path.endswith("/pin")]) == 1, "the news was not even asked to be pinned"


def test_a_warning_whose_unpin_failed_on_the_all_clear_is_unpinned_later(
    fake: FakeMastodon, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = start(make_settings, make_herold, fake.url, "herold-token")
    original = publish(herold, warning())
    status_id = copy_on_fediverse(herold, original).platform_id
    fake.fail("POST", f"/api/v1/statuses/{status_id}/unpin", status(503))
    publish(herold, warning(msg_type="cancel", references=original, headline="Entwarnung", instruction=None))
    deadline = time.monotonic() + 15
    while (fake.statuses[0]["pinned"] or herold.store.operations.pinned()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fake.statuses[0]["pinned"] is False
    assert herold.store.operations.pinned() == []
    unpins = [r for r in fake.requests if r.path.endswith("/unpin")]
    assert [r.status for r in unpins] == [503, 200]


def test_with_pinning_switched_off_nothing_is_pinned(
    fake: FakeMastodon, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = start(make_settings, make_herold, fake.url, "herold-token", pin_warnings=False)
    publish(herold, warning())
    assert fake.statuses[0]["pinned"] is False
    assert herold.store.operations.pinned() == []


def test_beyond_the_instance_s_pin_limit_a_warning_is_posted_but_not_pinned_and_nothing_is_refused(
    fake: FakeMastodon, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = start(make_settings, make_herold, fake.url, "herold-token")
    ids = [publish(herold, warning(headline=f"Unwetter Nummer {n}")) for n in range(6)]

    assert all(copy_on_fediverse(herold, i).state is OperationState.succeeded for i in ids)
    assert [s["pinned"] for s in fake.statuses] == [True] * 5 + [False]
    pins = [r for r in fake.requests if r.path.endswith("/pin")]
    assert [r.status for r in pins] == [200] * 5, "the sixth pin is not even asked for"
    [skipped] = [e for e in herold.store.audit.entries(announcement_id=ids[5]) if e.action == "delivery.not_pinned"]
    assert "5 warnings are pinned already" in str(skipped.detail)

    # Once one of them is over, the next warning is pinned again.
    publish(herold, warning(msg_type="cancel", references=ids[0], headline="Entwarnung", instruction=None))
    latest = publish(herold, warning(headline="Unwetter Nummer 7"))
    assert copy_on_fediverse(herold, latest) in herold.store.operations.pinned()


def test_answers_are_read_as_the_server_sent_them_not_converted_field_by_field(
    fake: FakeMastodon, make_settings: SettingsFactory
) -> None:
    # Mastodon.py converts every answer into typed entities, which cost more CPU than all else a
    # post takes; the adapter switches that off through a private hook. If an upgrade of
    # Mastodon.py renames the hook, this fails instead of the adapter silently slowing down.
    channel = channel_for(make_settings, fake.url)
    client = channel._client()
    status = client.api.status_post("Prüfung", idempotency_key="herold-raw")
    assert type(status) is dict and isinstance(status["account"], dict) and isinstance(status["created_at"], str)
    [listed] = client.api.account_statuses(status["account"]["id"])
    assert listed["id"] == status["id"] and type(listed) is dict
    assert client.api.status_pin(status["id"])["pinned"] is True


# -- servers that are not Mastodon: the fake in their ways ----------------------------------------


def test_a_server_that_ignores_idempotency_keys_gets_each_of_30_warnings_once_and_pins_each_once(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    """The status is saved, the connection closed before the answer, the key ignored (Takahē):
    only the look-up before posting again keeps the warning from going out twice."""
    with FakeMastodon(tokens={"herold-token": "lkbeispiel"}, idempotency=False) as server:
        herold = start(make_settings, make_herold, server.url, "herold-token")
        for number in range(30):
            server.fail("POST", "/api/v1/statuses", drop_after())
            alert = publish(herold, warning(headline=f"Fliegerbombe Nummer {number}"))
            assert copy_on_fediverse(herold, alert).state is OperationState.succeeded
            publish(herold, warning(msg_type="cancel", references=alert, headline=f"Bombe {number} entschärft",
                                    instruction=None))  # fmt: skip
        statuses, requests_made = server.statuses, server.requests

    alerts = [s for s in statuses if "Fliegerbombe Nummer" in s["text"]]
    pins = collections.Counter(
        r.path.split("/")[4] for r in requests_made if r.path.endswith("/pin") and r.status == 200
    )
    assert len(alerts) == 30, "each warning posted exactly once"
    assert sorted(pins) == sorted(s["id"] for s in alerts) and set(pins.values()) == {1}, "each pinned once"
    assert not any(s["pinned"] for s in statuses), "and unpinned by its all-clear"


def test_a_token_without_write_accounts_is_named_by_the_check_and_only_the_pin_fails(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    scopes = {"herold-token": {"write:statuses", "write:media", "read"}}
    with FakeMastodon(tokens={"herold-token": "lkbeispiel"}, scopes=scopes) as server:
        channel = channel_for(make_settings, server.url)
        channel.publish(post_of())  # the account has a post of its own: the pin scope is checked on it

        assert channel.check() == ["the access token lacks the scope write:accounts, needed for pinning warnings (403)"]
        herold = start(make_settings, make_herold, server.url, "herold-token")
        announcement_id = publish(herold, warning())

    shown = report(herold.engine, announcement_id)
    assert shown is not None
    by_action = {d.action.value: d for d in shown.deliveries if d.channel == "fediverse"}
    assert by_action["publish"].state is OperationState.succeeded, "the warning still goes out"
    assert by_action["pin"].state is OperationState.failed
    assert "lacks the scope write:accounts" in (by_action["pin"].last_error or "")
    assert shown.status == "published with failures"
    assert shown.attention == {}, "the channel is not flagged: it posts fine"


def test_a_server_counting_like_takahe_gets_the_long_example_and_a_correction_keeps_image_and_warning(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    with FakeMastodon(tokens={"herold-token": "lkbeispiel"}, links="full", too_long_status=400,
                      too_long_message=TOO_LONG_TAKAHE, idempotency=False, edits="replace") as server:  # fmt: skip
        herold = start(make_settings, make_herold, server.url, "herold-token",
                       content_warnings={"severe": "{severity}: {event}"})  # fmt: skip
        example = json.loads((ROOT / "examples" / "bomb-disposal.json").read_text(encoding="utf-8"))
        alert = publish(herold, example | {"media": [{"data": image(), "alt": "Karte des Sperrgebiets"}]})
        assert copy_on_fediverse(herold, alert).state is OperationState.succeeded
        before = dict(server.statuses[0])
        headline = "Fliegerbombe in der Altstadt: Evakuierung bis 11 Uhr"
        correction = publish(herold, warning(msg_type="update", references=alert, correction=True, headline=headline))
        statuses = server.statuses

    after = statuses[0]
    assert len(statuses) == 1, "the correction is an edit, no new status"
    assert "Evakuierung bis 11 Uhr" in after["text"] and after["text"].startswith("Korrektur")
    assert (after["media_ids"], after["spoiler_text"]) == (before["media_ids"], before["spoiler_text"]) != ([], "")
    assert copy_on_fediverse(herold, correction).state is OperationState.succeeded


@pytest.mark.parametrize(
    ("count_links", "learned", "counted_as"),
    [
        ("auto", False, 23 + len("Mehr: ")),
        ("auto", True, len(LINK) + len("Mehr: ")),
        ("short", True, 23 + len("Mehr: ")),
        ("full", False, len(LINK) + len("Mehr: ")),
    ],
)
def test_links_count_as_the_server_counts_them_learned_or_set(count_links: str, learned: bool, counted_as: int) -> None:
    settings = MastodonSettings(instance="https://social.example", access_token_env=TOKEN_ENV, count_links=count_links)
    rule = MastodonChannel.text_rule(settings, ServerLimits(characters=500, links_in_full=learned))

    assert rule.length(f"Mehr: {LINK}", [LINK]) == counted_as


def test_texts_made_before_the_channel_learned_its_server_counts_links_in_full_still_go_out(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    long = ("Bitte meiden Sie das Gebiet weiträumig. " * 20)[:600]
    with FakeMastodon(tokens={"herold-token": "lkbeispiel"}, links="full", too_long_status=400,
                      too_long_message=TOO_LONG_TAKAHE) as server:  # fmt: skip
        herold = start(make_settings, make_herold, server.url, "herold-token")
        alert = accept(herold.engine, warning(description=long), source="test", actor="tester")
        document = warning(msg_type="update", references=alert, description=long, headline="Sperrgebiet erweitert")
        update = accept(herold.engine, document, source="test", actor="tester")
        for announcement_id in (alert, update):
            wait_until_settled(herold.engine, announcement_id, 30)
        statuses = server.statuses

    assert [copy_on_fediverse(herold, i).state for i in (alert, update)] == [OperationState.succeeded] * 2
    assert len(statuses) == 2 and statuses[1]["in_reply_to_id"] == statuses[0]["id"]


def test_a_correction_waits_for_the_post_it_corrects_while_that_is_still_being_retried(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    with FakeMastodon(tokens={"herold-token": "lkbeispiel"}) as server:
        server.fail("POST", "/api/v1/statuses", *[status(503)] * 3)
        herold = start(make_settings, make_herold, server.url, "herold-token")
        alert = accept(herold.engine, warning(), source="test", actor="tester")
        headline = "Fliegerbombe in der Altstadt: Evakuierung bis 11 Uhr"
        correction = publish(herold, warning(msg_type="update", references=alert, correction=True, headline=headline))
        wait_until_settled(herold.engine, alert, 30)
        statuses = server.statuses

    edit = next(o for o in herold.store.operations.of(correction) if o.channel == "fediverse")
    assert (edit.action.value, edit.state) == ("edit", OperationState.succeeded), edit.last_error
    assert len(statuses) == 1 and "Evakuierung bis 11 Uhr" in statuses[0]["text"]
