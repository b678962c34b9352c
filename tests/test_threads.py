"""The Threads channel, against a fake of the Threads API (tests/fakes/threads_server.py) built
from Meta's documentation: containers, their status, publishing, quotas, deletion, tokens that
expire and are refreshed, and Meta's Graph-style error bodies."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters import threads
from adapters.port import (
    ChannelContext,
    Credential,
    CredentialsError,
    DeliveryError,
    ExpiringCredentials,
    KeptInMemory,
    Lookup,
    PermanentError,
    Post,
    Receipt,
    Threads,
    TransientError,
)
from adapters.port.graph import fingerprint
from adapters.threads import ThreadsChannel, ThreadsSettings
from publisher.domain.announcement import parse_announcement
from publisher.domain.authority import Authority, ChannelConfig
from publisher.domain.records import Variant
from publisher.edges.wiring import Herold
from publisher.engine.schema import OperationState

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, publish, warning
from fakes.clock import Clock
from fakes.threads_server import FakeThreads, drop_after, graph_error, hang, status
from fakes.webhook_receiver import Answer
from helpers import png_bytes
from kit import ITEM_URL, ChannelCase, ChannelContract, Endpoint, lifecycle, post_for, reads_of_others, samples

USER = "17841400000000001"
TOKEN = "THAAGherold"  # a token the fake knows
TOKEN_ENV = "HEROLD_TEST_THREADS_TOKEN"
NOW = datetime(2026, 11, 22, 9, 15, 2, tzinfo=UTC)
CONTAINERS = f"/v1.0/{USER}/threads"
PUBLISH = f"/v1.0/{USER}/threads_publish"


# -- the contract every channel keeps --------------------------------------------------------------


def counted_by_threads(variant: Variant) -> int:
    """Meta's count: the text's UTF-8 bytes (an emoji by its bytes, as the docs say; and, as Meta's
    refusals show, every other character too: an umlaut is two)."""
    return len(variant.text.encode("utf-8"))


# One answer for every request of the kit's double: a container, its status and the post.
ANSWER = {"id": "17890000000000099", "status": "FINISHED", "permalink": "https://www.threads.com/@lk_beispiel/post/C1"}
THREADS_READS_OF_OTHERS = (
    Endpoint(rf"/v\d+\.\d+/(?!{USER}/|me/)[^/?]+/replies\b", "the replies to a post (Threads)"),
    Endpoint(r"/conversation\b", "a post's whole conversation (Threads)"),
    Endpoint(r"/threads_insights\b", "statistics of the profile or its posts (Threads)"),
    Endpoint(r"/(keyword_search|profile_lookup|profile_posts)\b", "other people's profiles and posts (Threads)"),
)

CASE = ChannelCase(
    kind=ThreadsChannel,
    settings=lambda url: {"user_id": USER, "access_token_env": TOKEN_ENV, "api_base": url},
    secrets={"access_token": TOKEN},
    published=Answer(200, body=json.dumps(ANSWER).encode(), headers={"Content-Type": "application/json"}),
    counted=counted_by_threads,
    limit=500,
    reads_of_others=THREADS_READS_OF_OTHERS,
)


class TestThreadsContract(ChannelContract):
    case = CASE

    def test_an_answer_that_never_comes_ends_within_the_call_deadline_as_an_ambiguous_retry(
        self, double: Any, media: Path
    ) -> None:
        """Threads posts in two steps: an answer lost while the container is made posted nothing
        (a container never published expires unseen), so that retry is certain; only a lost answer
        to ``threads_publish`` is ambiguous (test_only_a_lost_answer_to_the_publishing_call_…)."""
        channel = self.channel(double.url, media, call_deadline_seconds=0.5)
        double.answer(Answer(200, hang=10))
        with pytest.raises(TransientError) as failed:
            channel.publish(self.post(channel))
        assert failed.value.ambiguous is False, "only a container was asked for: nothing can be on the profile"


# -- set-up ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether a container is ready is asked every few milliseconds instead of every half second."""
    monkeypatch.setattr(threads, "POLL_FIRST", 0.001)
    monkeypatch.setattr(threads, "POLL_MOST", 0.005)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def fake() -> Iterator[FakeThreads]:
    """The fake on the real clock, as the kit makes posts (their deliveries began now)."""
    with FakeThreads(user_id=USER, tokens={TOKEN: datetime.now(UTC) - timedelta(days=2)}) as server:
        yield server


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "bild.png").write_bytes(png_bytes())
    return tmp_path


def make(
    fake: FakeThreads,
    media: Path,
    *,
    clock: Clock | None = None,
    token: str = TOKEN,
    credentials: KeptInMemory | None = None,
    **settings: Any,
) -> ThreadsChannel:
    config = ChannelConfig(id="threads", type="threads", settings=ThreadsSettings.model_validate(
        {"user_id": USER, "access_token_env": TOKEN_ENV, "api_base": fake.url, **settings}
    ))  # fmt: skip
    authority = Authority(
        slug="lk-beispiel", name="Landkreis Beispiel", base_url="https://www.lk-beispiel.de/warnungen/",
        impressum_url="https://www.lk-beispiel.de/impressum", privacy_url="https://www.lk-beispiel.de/datenschutz",
        channels=[config],
    )  # fmt: skip
    context = ChannelContext(
        authority=authority, secrets={"access_token": token}, media=media, deadline=5.0,
        clock=clock or (lambda: datetime.now(UTC)), credentials=credentials or KeptInMemory(),
    )  # fmt: skip
    return ThreadsChannel(config, context)


def post(channel: ThreadsChannel, sample: int = 0, *, delivery: str = "d1", **changes: Any) -> Post:
    return post_for(ThreadsChannel, channel, parse_announcement({**samples()[sample], **changes}), delivery=delivery)


def calls(fake: FakeThreads, method: str, path: str) -> list[Any]:
    return [r for r in fake.requests if r.method == method and r.path == path]


# -- publishing ------------------------------------------------------------------------------------


def test_a_post_is_a_container_asked_until_ready_then_published_and_its_address_read(
    fake: FakeThreads, media: Path
) -> None:
    channel = make(fake, media)
    work = post(channel)
    receipt = channel.publish(work)

    [made] = calls(fake, "POST", CONTAINERS)
    assert made.form["text"] == work.variant.text
    [ready] = [r for r in fake.requests if r.query.get("fields") == "status,error_message"]
    [published] = calls(fake, "POST", PUBLISH)
    assert ready.path == f"/v1.0/{published.form['creation_id']}"
    assert [r.path for r in fake.requests].index(ready.path) < fake.requests.index(published)
    [out] = fake.posts
    assert receipt == Receipt(platform_id=out["id"], url=out["permalink"])
    assert out["text"] == work.variant.text and ITEM_URL in out["text"]


def test_without_a_card_to_show_the_text_goes_out_alone(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    work = replace(post(channel), card_url=None)
    channel.publish(work)
    [made] = calls(fake, "POST", CONTAINERS)
    assert made.form == {"media_type": "TEXT", "text": work.variant.text}
    [out] = fake.posts
    assert out["media_type"] == "TEXT_POST"


def test_the_token_travels_in_a_header_never_in_an_address(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    channel.publish(post(channel))
    assert fake.requests
    for request in fake.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in request.path and TOKEN not in json.dumps(request.query)


def test_the_announcement_s_image_is_taken_from_beside_the_item_page_with_its_alt_text(
    fake: FakeThreads, media: Path
) -> None:
    channel = make(fake, media)
    channel.publish(post(channel, 4))
    [made] = calls(fake, "POST", CONTAINERS)
    assert made.form["media_type"] == "IMAGE"
    assert made.form["image_url"] == ITEM_URL + "bild.png"
    assert made.form["alt_text"] == "Lageplan des Sperrgebiets"
    [out] = fake.posts
    assert out["media_type"] == "IMAGE"


def test_several_images_become_one_carousel_each_with_its_alt_text(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    pictures = [{"path": "media/lage.png", "alt": "Lageplan"}, {"path": "media/sperre.jpg", "alt": "Die Sperre"}]
    work = post(channel, 4, media=pictures)
    channel.publish(work)

    first, second, carousel = calls(fake, "POST", CONTAINERS)
    assert (first.form["image_url"], first.form["alt_text"]) == (ITEM_URL + "lage.png", "Lageplan")
    assert (second.form["image_url"], second.form["alt_text"]) == (ITEM_URL + "sperre.jpg", "Die Sperre")
    assert first.form["is_carousel_item"] == second.form["is_carousel_item"] == "true"
    assert carousel.form["media_type"] == "CAROUSEL" and carousel.form["text"] == work.variant.text
    [out] = fake.posts
    assert out["media_type"] == "CAROUSEL_ALBUM"
    assert out["images"] == [[ITEM_URL + "lage.png", "Lageplan"], [ITEM_URL + "sperre.jpg", "Die Sperre"]]


def test_without_an_image_the_alert_card_goes_out_described_by_the_whole_text(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    card = ITEM_URL + "karte-a1.png"
    work = post(channel)
    assert work.card_url == card, "as the engine hands it"
    channel.publish(work)
    [made] = calls(fake, "POST", CONTAINERS)
    assert (made.form["media_type"], made.form["image_url"]) == ("IMAGE", card)
    assert made.form["alt_text"] == work.variant.text
    assert ThreadsChannel.capabilities.media.takes_card(has_images=False)
    assert not ThreadsChannel.capabilities.media.takes_card(has_images=True)


def test_an_image_meta_is_still_fetching_is_waited_for_before_publishing(clock: Clock, media: Path) -> None:
    with FakeThreads(user_id=USER, tokens={TOKEN: NOW}, clock=clock, processing_polls=3) as fake:
        channel = make(fake, media)
        channel.publish(post(channel, 4))
        statuses = [r for r in fake.requests if r.method == "GET" and r.query.get("fields") == "status,error_message"]
        assert len(statuses) == 4, "IN_PROGRESS three times, then FINISHED"
        assert fake.requests.index(statuses[-1]) < fake.requests.index(calls(fake, "POST", PUBLISH)[0])


def test_a_container_not_ready_within_the_deadline_is_a_retry_that_certainly_posted_nothing(
    clock: Clock, media: Path
) -> None:
    with FakeThreads(user_id=USER, tokens={TOKEN: NOW}, clock=clock, processing_polls=10**6) as fake:
        channel = make(fake, media, call_deadline_seconds=0.2)
        with pytest.raises(TransientError) as failed:
            channel.publish(post(channel, 4))
        assert failed.value.ambiguous is False
        assert not calls(fake, "POST", PUBLISH) and not fake.posts


def test_an_image_meta_could_not_fetch_is_tried_again_later_and_nothing_is_posted(clock: Clock, media: Path) -> None:
    with FakeThreads(
        user_id=USER, tokens={TOKEN: NOW}, clock=clock, unreachable=frozenset({ITEM_URL + "bild.png"})
    ) as fake:
        channel = make(fake, media)
        with pytest.raises(TransientError) as failed:
            channel.publish(post(channel, 4))
        assert "FAILED_DOWNLOADING_IMAGE" in failed.value.reason and failed.value.ambiguous is False
        assert not fake.posts


def test_a_container_meta_refused_to_prepare_for_good_is_a_permanent_problem(fake: FakeThreads, media: Path) -> None:
    fake.fail("GET", "/v1.0/", status(200, {"id": "1", "status": "ERROR", "error_message": "INVALID_ASPEC_RATIO"}))
    channel = make(fake, media)
    with pytest.raises(PermanentError, match="INVALID_ASPEC_RATIO"):
        channel.publish(post(channel, 4))


def test_the_address_not_being_readable_does_not_undo_a_post_that_went_out(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    work = post(channel)
    fake.fail("GET", "/v1.0/", status(200, {"id": "x", "status": "FINISHED"}))  # the container's status
    fake.fail("GET", "/v1.0/", status(500))  # the permalink
    receipt = channel.publish(work)
    [out] = fake.posts
    assert receipt == Receipt(platform_id=out["id"], url=None)


# -- threads ---------------------------------------------------------------------------------------


def test_a_follow_up_replies_to_the_latest_earlier_copy(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    assert isinstance(channel, Threads)
    first = channel.publish(post(channel))
    second = channel.reply(replace(post(channel, delivery="d2", headline="Sperrgebiet erweitert"),
                                   in_reply_to=first, thread=(first,)))  # fmt: skip
    third = channel.reply(replace(post(channel, delivery="d3", headline="Entwarnung"),
                                  in_reply_to=second, thread=(first, second)))  # fmt: skip
    shown = {p["id"]: p for p in fake.posts}
    assert shown[second.platform_id]["replied_to"] == {"id": first.platform_id}
    assert shown[third.platform_id]["replied_to"] == {"id": second.platform_id}


def test_a_follow_up_whose_original_was_deleted_goes_out_on_its_own(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    first = channel.publish(post(channel))
    channel.delete(first)
    follow_up = channel.reply(replace(post(channel, delivery="d2"), in_reply_to=first, thread=(first,)))
    [out] = fake.posts
    assert out["id"] == follow_up.platform_id and "replied_to" not in out


def test_a_token_that_may_not_reply_still_gets_the_follow_up_out_on_its_own(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    first = channel.publish(post(channel))
    fake.fail("POST", CONTAINERS, status(403, graph_error(10, "Application does not have permission for this action")))
    channel.reply(replace(post(channel, delivery="d2"), in_reply_to=first, thread=(first,)))
    assert len(fake.posts) == 2
    assert "reply_to_id" not in calls(fake, "POST", CONTAINERS)[-1].form


# -- what each answer means for the engine ---------------------------------------------------------

# Graph-style error bodies (graph-api/guides/error-handling), answered when the container is made.
REFUSALS: list[tuple[int, dict[str, Any], type[DeliveryError]]] = [
    (400, graph_error(190, "Error validating access token: Session has expired.", subcode=463), CredentialsError),
    (401, graph_error(190, "Invalid OAuth access token - Cannot parse access token", subcode=467), CredentialsError),
    (400, graph_error(102, "Session key invalid or no longer valid"), CredentialsError),
    (400, graph_error(4, "Application request limit reached", is_transient=True), TransientError),
    (400, graph_error(17, "User request limit reached"), TransientError),
    (400, graph_error(32, "Page request limit reached"), TransientError),
    (400, graph_error(613, "Calls to this api have exceeded the rate limit."), TransientError),
    (500, graph_error(1, "An unknown error has occurred."), TransientError),
    (503, graph_error(2, "Service temporarily unavailable", is_transient=True), TransientError),
    (400, graph_error(9007, "Media ID is not available", subcode=2207027), TransientError),
    (400, graph_error(100, "Param text must be at most 500 characters long."), PermanentError),
    (400, graph_error(100, "Invalid parameter", kind="THREADS_API__LINK_LIMIT_EXCEEDED"), PermanentError),
    (400, graph_error("THREADS_API__LINK_LIMIT_EXCEEDED", "Too many links"), PermanentError),
    (400, graph_error(368, "The action attempted has been deemed abusive or is otherwise disallowed"), PermanentError),
    (403, graph_error(10, "Application does not have permission for this action"), CredentialsError),
    (400, graph_error(200, "Permissions error"), CredentialsError),
    (429, {"error": "rate limited"}, TransientError),  # no Graph body: the HTTP status decides
    (404, {"error": {"message": "Unknown path"}}, PermanentError),
]


@pytest.mark.parametrize(("code", "body", "expected"), REFUSALS)
def test_each_refusal_tells_the_engine_what_to_do_next_and_a_refused_container_posted_nothing(
    fake: FakeThreads, media: Path, code: int, body: dict[str, Any], expected: type[DeliveryError]
) -> None:
    fake.fail("POST", CONTAINERS, status(code, body))
    channel = make(fake, media)
    with pytest.raises(DeliveryError) as failed:
        channel.publish(post(channel))
    assert type(failed.value) is expected
    assert not isinstance(failed.value, TransientError) or failed.value.ambiguous is False
    assert not fake.posts


def test_a_refusal_names_meta_s_words_codes_and_trace_and_never_the_token(fake: FakeThreads, media: Path) -> None:
    fake.fail("POST", CONTAINERS, status(400, graph_error(190, "Error validating access token", subcode=463)))
    channel = make(fake, media)
    with pytest.raises(CredentialsError) as failed:
        channel.publish(post(channel))
    reason = failed.value.reason
    assert "Error validating access token" in reason and "190/463" in reason and "AbCdEfGhIjK" in reason
    assert TOKEN_ENV in reason and TOKEN not in reason


def test_a_variant_keeps_to_five_links_and_more_are_refused_by_meta_for_good_saying_so(
    fake: FakeThreads, media: Path
) -> None:
    channel = make(fake, media)
    links = " ".join(f"https://www.lk-beispiel.de/info/{n}" for n in range(5))
    work = post(channel, description=f"Mehr: {links}")
    assert "description" in work.variant.shortened, "the rule cuts the description down to five links"
    channel.publish(work)
    six = work.variant.text + " " + links  # as if a text had reached the channel unfitted
    with pytest.raises(PermanentError, match="at most 5 different links"):
        channel.publish(replace(work, delivery_id="d2", variant=work.variant.model_copy(update={"text": six})))
    assert len(fake.posts) == 1


def test_a_text_meta_counts_longer_than_500_is_refused_for_good(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    work = post(channel)
    too_long = "Ä" * 251  # 251 characters, 502 bytes: the way Meta counts
    with pytest.raises(PermanentError, match="at most 500"):
        channel.publish(replace(work, variant=work.variant.model_copy(update={"text": too_long})))


def test_a_rate_limit_passes_on_the_wait_meta_asks_for(fake: FakeThreads, media: Path) -> None:
    fake.fail(
        "POST", CONTAINERS, status(400, graph_error(4, "Application request limit reached"), {"Retry-After": "90"})
    )
    channel = make(fake, media)
    with pytest.raises(TransientError) as failed:
        channel.publish(post(channel))
    assert failed.value.retry_after == 90


def test_the_day_s_quota_used_up_is_a_retry_and_the_check_says_so(clock: Clock, media: Path) -> None:
    with FakeThreads(user_id=USER, tokens={TOKEN: NOW}, clock=clock, quota_total=2) as fake:
        channel = make(fake, media, clock=clock)
        channel.publish(post(channel))
        channel.publish(post(channel, delivery="d2", headline="Zweite Meldung"))
        with pytest.raises(TransientError, match="quota"):
            channel.publish(post(channel, delivery="d3", headline="Dritte Meldung"))
        assert len(fake.posts) == 2
        assert any("used its 2 posts" in problem for problem in channel.check())


PUBLISH_FAILURES = [
    pytest.param(drop_after(), True, id="the answer lost after posting"),
    pytest.param(hang(5), True, id="no answer within the deadline"),
    pytest.param(status(500, graph_error(1, "An unknown error has occurred.")), True, id="an unknown error (500)"),
    pytest.param(status(400, graph_error(4, "Application request limit reached")), False, id="the quota (a refusal)"),
]


@pytest.mark.parametrize(("fault", "ambiguous"), PUBLISH_FAILURES)
def test_only_a_lost_answer_to_the_publishing_call_may_have_posted(
    fake: FakeThreads, media: Path, fault: Any, ambiguous: bool
) -> None:
    fake.fail("POST", PUBLISH, fault)
    channel = make(fake, media, call_deadline_seconds=0.5)
    with pytest.raises(TransientError) as failed:
        channel.publish(post(channel))
    assert failed.value.ambiguous is ambiguous


@pytest.mark.parametrize("fault", [drop_after(), status(500)], ids=["answer lost", "500"])
def test_a_lost_answer_before_publishing_is_a_retry_that_certainly_posted_nothing(
    fake: FakeThreads, media: Path, fault: Any
) -> None:
    fake.fail("POST", CONTAINERS, fault)
    channel = make(fake, media)
    with pytest.raises(TransientError) as failed:
        channel.publish(post(channel))
    assert failed.value.ambiguous is False
    assert not fake.posts


# -- the look-up after a lost answer ---------------------------------------------------------------


def test_after_a_lost_answer_the_post_is_found_among_the_profile_s_own(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    assert isinstance(channel, Lookup)
    work = post(channel)
    fake.fail("POST", PUBLISH, drop_after())
    with pytest.raises(TransientError):
        channel.publish(work)
    [out] = fake.posts
    found = channel.find(replace(work, attempt=2, previous_error="connection closed"))
    assert found == Receipt(platform_id=out["id"], url=out["permalink"])
    [listing] = calls(fake, "GET", f"/v1.0/{USER}/threads")
    assert work.created_at is not None and int(listing.query["since"]) <= work.created_at.timestamp()


def test_the_look_up_takes_no_post_for_this_one_that_only_shares_its_link_or_headline(
    fake: FakeThreads, media: Path
) -> None:
    channel = make(fake, media)
    channel.publish(post(channel))  # the alert
    update = post(channel, delivery="d2", description="Das Sperrgebiet wurde erweitert.")
    assert channel.find(update) is None


def test_the_look_up_never_takes_a_post_older_than_the_delivery(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    work = post(channel)
    channel.publish(work)
    later = replace(work, delivery_id="d9", created_at=datetime.now(UTC) + timedelta(minutes=30))
    assert channel.find(later) is None


def test_the_look_up_tells_a_text_post_from_the_same_text_with_the_card(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    work = replace(post(channel), card_url=None)
    channel.publish(work)
    assert channel.find(replace(work, card_url=ITEM_URL + "karte-a1.png")) is None


def test_replies_are_not_looked_for_since_that_would_need_reading_replies(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    first = channel.publish(post(channel))
    before = len(fake.requests)
    assert channel.find(replace(post(channel, delivery="d2"), in_reply_to=first, thread=(first,))) is None
    assert len(fake.requests) == before


# -- withdrawal ------------------------------------------------------------------------------------


def test_a_withdrawal_deletes_the_post_and_one_already_gone_is_as_good(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media)
    receipt = channel.publish(post(channel))
    channel.delete(receipt)
    assert fake.posts == []
    channel.delete(receipt)  # deleted by hand, or an earlier attempt whose answer was lost
    assert [r.method for r in fake.requests if r.path == f"/v1.0/{receipt.platform_id}"][-2:] == ["DELETE", "DELETE"]


def test_a_token_without_threads_delete_fails_only_the_deletion_and_names_the_permission(
    fake: FakeThreads, media: Path
) -> None:
    channel = make(fake, media)
    receipt = channel.publish(post(channel))
    fake.fail("DELETE", "/v1.0/", status(403, graph_error(10, "Application does not have permission for this action")))
    with pytest.raises(PermanentError) as failed:
        channel.delete(receipt)
    assert type(failed.value) is PermanentError and "threads_delete" in failed.value.reason


def test_there_is_nothing_to_edit_or_pin_on_threads() -> None:
    capabilities = ThreadsChannel.capabilities
    assert (capabilities.threads, capabilities.delete, capabilities.edit, capabilities.pin) == (
        True,
        True,
        False,
        False,
    )
    assert not hasattr(ThreadsChannel, "edit") and not hasattr(ThreadsChannel, "pin")


# -- the token -------------------------------------------------------------------------------------


def test_the_token_is_refreshed_once_a_day_kept_with_its_expiry_and_used_from_then_on(
    clock: Clock, media: Path
) -> None:
    with FakeThreads(user_id=USER, tokens={TOKEN: NOW - timedelta(days=10)}, clock=clock) as fake:
        kept = KeptInMemory()
        channel = make(fake, media, clock=clock, credentials=kept)
        assert isinstance(channel, ExpiringCredentials)
        assert channel.credentials_expire() is None, "the configured token's age is not known"

        channel.refresh_credentials()
        [refresh] = calls(fake, "GET", "/refresh_access_token")
        assert refresh.query == {"grant_type": "th_refresh_token", "access_token": TOKEN}
        new = kept.get("access_token")
        assert new is not None and new.value != TOKEN
        assert channel.credentials_expire() == NOW + timedelta(seconds=5183944)

        channel.publish(post(channel))
        assert fake.requests[-1].headers["authorization"] == f"Bearer {new.value}"
        clock.advance(timedelta(hours=23))
        channel.refresh_credentials()
        assert len(calls(fake, "GET", "/refresh_access_token")) == 1, "refreshed within the day: not again"
        clock.advance(timedelta(hours=2))
        channel.refresh_credentials()
        [_, again] = calls(fake, "GET", "/refresh_access_token")
        assert again.query["access_token"] == new.value, "the newest token of the chain is refreshed"


def test_a_token_younger_than_a_day_is_refreshed_once_herold_has_known_it_for_a_day(clock: Clock, media: Path) -> None:
    with FakeThreads(user_id=USER, tokens={TOKEN: NOW - timedelta(hours=2)}, clock=clock) as fake:
        kept = KeptInMemory()
        channel = make(fake, media, clock=clock, credentials=kept)
        channel.refresh_credentials()  # Meta refuses a token this young: not a problem yet
        assert kept.get("access_token") is None
        clock.advance(timedelta(hours=24))
        channel.refresh_credentials()
        assert kept.get("access_token") is not None


def test_a_refused_refresh_of_a_token_known_for_a_day_flags_the_channel(clock: Clock, media: Path) -> None:
    with FakeThreads(user_id=USER, tokens={}, clock=clock) as fake:  # revoked: Meta knows it no more
        channel = make(fake, media, clock=clock)
        channel.refresh_credentials()  # first sight
        clock.advance(timedelta(hours=25))
        with pytest.raises(CredentialsError, match=TOKEN_ENV):
            channel.refresh_credentials()


def test_an_expired_kept_token_flags_the_channel_without_asking_meta(clock: Clock, media: Path) -> None:
    with FakeThreads(user_id=USER, tokens={TOKEN: NOW - timedelta(days=3)}, clock=clock) as fake:
        kept = KeptInMemory()
        channel = make(fake, media, clock=clock, credentials=kept)
        channel.refresh_credentials()
        clock.advance(timedelta(days=61))
        asked = len(fake.requests)
        with pytest.raises(CredentialsError, match="expired"):
            channel.refresh_credentials()
        assert len(fake.requests) == asked


def test_a_new_token_in_the_environment_replaces_the_kept_chain(clock: Clock, media: Path) -> None:
    with FakeThreads(user_id=USER, tokens={TOKEN: NOW - timedelta(days=3)}, clock=clock) as fake:
        kept = KeptInMemory()
        make(fake, media, clock=clock, credentials=kept).refresh_credentials()
        assert kept.get("access_token") is not None
        fake.issue("THAAGnew", NOW)
        channel = make(fake, media, clock=clock, credentials=kept, token="THAAGnew")
        assert channel.credentials_expire() is None
        channel.publish(post(channel))
        assert fake.requests[-1].headers["authorization"] == "Bearer THAAGnew"
        origin = kept.get("access_token.configured")
        assert origin is not None and "THAAG" not in origin.value, "only a fingerprint of the configured token is kept"


def test_the_check_warns_a_week_before_the_kept_token_expires(clock: Clock, media: Path) -> None:
    with FakeThreads(user_id=USER, tokens={TOKEN: NOW - timedelta(days=3)}, clock=clock) as fake:
        kept = KeptInMemory()
        channel = make(fake, media, clock=clock, credentials=kept)
        channel.refresh_credentials()
        assert channel.check() == []
        token = kept.get("access_token")
        assert token is not None and token.expires_at is not None
        clock.set(token.expires_at - timedelta(days=6))
        assert any("expires on" in problem for problem in channel.check())


# -- setup -----------------------------------------------------------------------------------------


def test_the_check_names_a_token_of_another_profile(fake: FakeThreads, media: Path) -> None:
    channel = make(fake, media, user_id="17841499999999999")
    problems = channel.check()
    assert any(f"belongs to Threads user {USER}" in problem for problem in problems)


def test_the_check_names_a_refused_token(clock: Clock, media: Path) -> None:
    with FakeThreads(user_id=USER, tokens={}, clock=clock) as fake:
        [problem] = make(fake, media).check()
        assert "190" in problem and TOKEN_ENV in problem


def test_settings_default_to_meta_s_api_and_name_only_a_numeric_user(fake: FakeThreads) -> None:
    settings = ThreadsSettings.model_validate({"user_id": USER, "access_token_env": TOKEN_ENV})
    assert (settings.api_base, settings.api_version) == ("https://graph.threads.net", "v1.0")
    for wrong in ({"user_id": "lk_beispiel"}, {"api_version": "1.0"}, {"api_base": "graph.threads.net"}):
        with pytest.raises(ValidationError):
            ThreadsSettings.model_validate({"user_id": USER, "access_token_env": TOKEN_ENV, **wrong})


def test_a_long_german_text_is_cut_to_500_bytes_as_meta_counts_not_to_500_characters(
    fake: FakeThreads, media: Path
) -> None:
    channel = make(fake, media)
    work = post(channel, description="Änderung für die Straßen der Altstadt. " * 40)
    assert "description" in work.variant.shortened
    assert counted_by_threads(work.variant) <= 500
    channel.publish(work)
    assert len(fake.posts) == 1


def test_the_text_is_counted_in_utf8_bytes_so_umlauts_count_two() -> None:
    rule = ThreadsChannel.capabilities.text
    assert rule is not None
    assert rule.length("Ä" * 250, ()) == 500 and rule.excess("Ä" * 250, (), has_media=False) == 0
    assert rule.excess("Ä" * 250 + "a", (), has_media=False) == 1
    assert rule.length("🧯", ()) == 4


# -- send-only, and the whole engine ---------------------------------------------------------------


def test_a_whole_lifecycle_against_the_fake_reads_only_the_profile_s_own_data(fake: FakeThreads, media: Path) -> None:
    steps = lifecycle(make(fake, media))
    assert steps["publish"] == "ok" and steps["reply"] == "ok" and steps["delete"] == "ok"
    requests = [(r.method, r.path + ("?" + "&".join(f"{k}={v}" for k, v in r.query.items()) if r.query else ""))
                for r in fake.requests]  # fmt: skip
    assert reads_of_others(requests, extra=THREADS_READS_OF_OTHERS) == []


def authority_with_threads(api_base: str) -> dict[str, Any]:
    result = copy.deepcopy(AUTHORITY)
    result["channels"].append(
        {"id": "threads", "type": "threads", "user_id": USER, "access_token_env": TOKEN_ENV, "api_base": api_base}
    )
    return result


def test_a_warning_its_update_and_all_clear_form_one_thread_each_with_the_card(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    with FakeThreads(user_id=USER, tokens={TOKEN: datetime.now(UTC) - timedelta(days=1)}) as fake:
        herold: Herold = make_herold(make_settings(
            authorities=[authority_with_threads(fake.url)], env={TOKEN_ENV: TOKEN},
            grace_warning_seconds=0.2, retry_base_seconds=0.05,
        ))  # fmt: skip
        alert = publish(herold, warning())
        update = publish(herold, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"))
        cancel = publish(herold, warning(msg_type="cancel", references=alert, headline="Entwarnung", instruction=None))
        copies = [herold.store.operations.copy_on(i, "threads") for i in (alert, update, cancel)]
        assert all(c is not None and c.state is OperationState.succeeded for c in copies)
        shown = {p["id"]: p for p in fake.posts}
        first, second, third = (shown[c.platform_id] for c in copies if c is not None)
        assert "replied_to" not in first
        assert second["replied_to"]["id"] == first["id"] and third["replied_to"]["id"] == second["id"]
        for announcement, out in zip((alert, update, cancel), (first, second, third), strict=True):
            assert out["media_type"] == "IMAGE"
            assert out["media_url"].endswith(f"karte-{announcement}.png")
            said = herold.store.announcements.get(announcement)
            assert said is not None and said.announcement.headline in out["alt_text"], "the card's words as alt text"
            assert "Was ist zu tun?" in out["alt_text"] or said.announcement.instruction is None
        assert copies[0] is not None and copies[0].platform_url == first["permalink"]


def test_a_kept_credential_is_preferred_to_the_configured_token(fake: FakeThreads, media: Path) -> None:
    kept = KeptInMemory()
    fake.issue("THAAGkept", NOW)
    kept.put("access_token.configured", Credential(fingerprint(TOKEN), updated_at=NOW - timedelta(days=2)))
    kept.put("access_token", Credential("THAAGkept", expires_at=NOW + timedelta(days=59), updated_at=NOW))
    channel = make(fake, media, credentials=kept)
    channel.publish(post(channel))
    assert {r.headers["authorization"] for r in fake.requests} == {"Bearer THAAGkept"}
