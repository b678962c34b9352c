"""The Facebook Page channel, against a fake Graph API (tests/fakes/facebook_server.py) that
checks every call as Meta documents it: the Page token and its permissions, the app secret
proof, the version, and Facebook's own error bodies, rate limits and duplicate refusals."""

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

from adapters.facebook import FacebookPage, FacebookSettings, regain_access
from adapters.port import (
    ChannelContext,
    Credentials,
    CredentialsError,
    DeliveryError,
    KeptInMemory,
    PermanentError,
    Post,
    Receipt,
    Threads,
    TransientError,
)
from publisher.domain.announcement import parse_announcement
from publisher.domain.records import Variant
from publisher.edges.wiring import Herold
from publisher.engine.schema import OperationState
from publisher.engine.store.operations import Operations

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, publish, warning
from fakes.facebook_server import (
    APP_ID,
    APP_SECRET,
    PAGE_ID,
    PAGE_TOKEN,
    FakeFacebook,
    Token,
    drop_after,
    graph_error,
    status,
)
from fakes.webhook_receiver import Answer, Receiver
from kit import ITEM_URL, ChannelCase, ChannelContract, Endpoint, make_channel, post_for, samples

TOKEN_ENV = "HEROLD_TEST_FACEBOOK_TOKEN"
SECRET_ENV = "HEROLD_TEST_FACEBOOK_APP_SECRET"
POST_ID = f"{PAGE_ID}_1000001"


def counted_by_facebook(variant: Variant) -> int:
    """Facebook's composer counts JavaScript string length: UTF-16 code units."""
    return len(variant.text.encode("utf-16-le")) // 2


# Reads of other people's data particular to a Facebook Page, beyond the kit's list.
FACEBOOK_READS = (
    Endpoint(r"/[0-9]+/feed\b", "the Page's feed, with visitors' posts on the Page", "GET"),
    Endpoint(r"/(tagged|visitor_posts|ratings|sharedposts)\b", "other people's posts about the Page"),
    Endpoint(r"/(roles|blocked|assigned_users|agencies)\b", "people with a role on the Page, or blocked by it"),
    Endpoint(r"/(messages|notifications|leadgen_forms|leads)\b", "messages, notifications and leads from people"),
    Endpoint(r"[?&]fields=[^&]*\b(from|to|message_tags|with_tags|shares)\b", "people named in posts, as fields"),
)

CASE = ChannelCase(
    kind=FacebookPage,
    settings=lambda url: {"page_id": PAGE_ID, "page_access_token_env": TOKEN_ENV, "api_base": url},
    secrets={"page_access_token": PAGE_TOKEN},
    # A feed post answers its id; a photo its id and the post's: one answer serves both.
    published=Answer(
        200, body=json.dumps({"id": POST_ID, "post_id": POST_ID}).encode(), headers={"Content-Type": "application/json"}
    ),
    counted=counted_by_facebook,
    limit=63_206,
    reads_of_others=FACEBOOK_READS,
)


class TestFacebookContract(ChannelContract):
    case = CASE


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeFacebook]:
    with FakeFacebook() as server:
        yield server


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path


WITH_APP: dict[str, Any] = {"app_id": APP_ID, "app_secret_env": SECRET_ENV}
APP_SECRETS = {"page_access_token": PAGE_TOKEN, "app_secret": APP_SECRET}


def channel_for(
    url: str,
    media: Path,
    *,
    secrets: dict[str, str] | None = None,
    credentials: Credentials | None = None,
    **settings: Any,
) -> FacebookPage:
    made = make_channel(replace(CASE, secrets=secrets or CASE.secrets), url, media, **settings)
    context: ChannelContext = replace(made.context, credentials=credentials or KeptInMemory())
    made.close()
    return FacebookPage(made.config, context)


def post_of(channel: FacebookPage, sample: int = 0, delivery: str = "d1", **changes: Any) -> Post:
    return post_for(FacebookPage, channel, parse_announcement({**samples()[sample], **changes}), delivery=delivery)


def calls(fake: FakeFacebook) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests]


def start(fake: FakeFacebook, make_settings: SettingsFactory, make_herold: HeroldFactory, **settings: Any) -> Herold:
    """Herold with the built-in website and a Facebook Page on the fake."""
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "facebook", "type": "facebook", "page_id": PAGE_ID,
                                  "page_access_token_env": TOKEN_ENV, "api_base": fake.url, **settings})  # fmt: skip
    return make_herold(make_settings(authorities=[authority], env={TOKEN_ENV: PAGE_TOKEN},
                                     grace_warning_seconds=0.2, retry_base_seconds=0.05))  # fmt: skip


IMAGES = [
    {"path": "media/3f2a9c.png", "alt": "Karte: das Sperrgebiet"},
    {"path": "media/77aa01.jpg", "alt": "Die Bombe"},
]


# -- posting -----------------------------------------------------------------------------------


def test_a_warning_goes_to_the_page_feed_with_its_text_and_the_item_page_for_the_link_card(
    fake: FakeFacebook, media: Path
) -> None:
    channel = channel_for(fake.url, media)
    post = post_of(channel)
    receipt = channel.publish(post)
    [posted] = fake.posts
    assert posted["message"] == post.variant.text and post.variant.text.rstrip().endswith(ITEM_URL)
    assert posted["link"] == ITEM_URL, "Facebook builds the card from the item page"
    assert receipt == Receipt(platform_id=posted["id"], url=posted["permalink_url"])
    [request] = fake.requests
    assert (request.method, request.version, request.path) == ("POST", "v27.0", f"/{PAGE_ID}/feed")
    assert request.headers["authorization"] == f"Bearer {PAGE_TOKEN}"
    assert PAGE_TOKEN not in request.target, "the token never stands in an address (logs, proxies)"


def test_one_image_is_posted_as_a_photo_from_its_public_copy_beside_the_item_page_with_its_alt_text(
    fake: FakeFacebook, media: Path
) -> None:
    channel = channel_for(fake.url, media)
    post = post_of(channel, media=IMAGES[:1])
    receipt = channel.publish(post)
    [photo] = fake.photos
    assert photo["url"] == ITEM_URL + "3f2a9c.png", "the website copies each image beside the item page"
    assert photo["alt_text_custom"] == "Karte: das Sperrgebiet"
    assert photo["caption"] == post.variant.text
    [posted] = fake.posts
    assert posted["photos"] == [photo["id"]] and posted["message"] == post.variant.text
    assert receipt.platform_id == posted["id"] and receipt.refs == {"photo_ids": photo["id"]}


def test_several_images_are_uploaded_unpublished_with_their_alt_texts_and_posted_together(
    fake: FakeFacebook, media: Path
) -> None:
    channel = channel_for(fake.url, media)
    post = post_of(channel, media=IMAGES)
    receipt = channel.publish(post)
    photos = fake.photos
    assert [(p["url"], p["alt_text_custom"], p["published"]) for p in photos] == [
        (ITEM_URL + "3f2a9c.png", "Karte: das Sperrgebiet", False),
        (ITEM_URL + "77aa01.jpg", "Die Bombe", False),
    ]
    [posted] = fake.posts
    assert posted["photos"] == [p["id"] for p in photos] and posted["message"] == post.variant.text
    assert receipt.refs == {"photo_ids": ",".join(p["id"] for p in photos)}


def test_a_page_facebook_cannot_read_for_its_card_is_posted_without_the_card_but_with_the_link_in_the_text(
    media: Path,
) -> None:
    with FakeFacebook(unreadable=(ITEM_URL,)) as fake:
        channel = channel_for(fake.url, media)
        post = post_of(channel)
        channel.publish(post)
        [posted] = fake.posts
    assert "link" not in posted and ITEM_URL in posted["message"]


def test_follow_ups_are_new_posts_in_the_feed_not_comments_under_the_original() -> None:
    """A comment never reaches anybody's feed; the people who saw the warning must see the all-clear."""
    assert not issubclass(FacebookPage, Threads)
    assert FacebookPage.capabilities.threads is False


def test_a_warning_its_update_and_all_clear_are_three_linked_posts_and_the_pin_moves_to_the_newest_then_goes(
    fake: FakeFacebook, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = start(fake, make_settings, make_herold)

    def pinned() -> list[str]:
        return [p["id"] for p in fake.posts if p["is_pinned"]]

    original = publish(herold, warning())
    first = herold.store.operations.copy_on(original, "facebook")
    assert first is not None and first.state is OperationState.succeeded
    assert pinned() == [first.platform_id], "the active warning is pinned to the top of the Page"
    update = publish(herold, warning(msg_type="update", references=original, headline="Sperrgebiet erweitert"))
    second = herold.store.operations.copy_on(update, "facebook")
    assert second is not None and pinned() == [second.platform_id], "the newest state is the pinned one"
    cancel = publish(herold, warning(msg_type="cancel", references=original, headline="Bombe entschärft",
                                     instruction=None))  # fmt: skip
    assert herold.store.operations.copy_on(cancel, "facebook") is not None
    assert pinned() == [], "the all-clear unpins"
    posts = fake.posts
    assert len(posts) == 3
    [link] = {p["link"] for p in posts}
    assert link.startswith(AUTHORITY["base_url"]) and all(link in p["message"] for p in posts)
    assert not [r for r in fake.requests if "comments" in r.path]


def test_an_update_is_pinned_even_if_the_earlier_pin_came_off_while_it_counted_the_pins(
    fake: FakeFacebook, make_settings: SettingsFactory, make_herold: HeroldFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The update's pin counts the Page's pins (one: the original's), then looks for its own unpin
    # of that one. An unpin that finished in between must not leave the newest state unpinned.
    herold = start(fake, make_settings, make_herold)
    original = publish(herold, warning())
    counted, stale = Operations.pinned_count, [True]

    def counted_a_moment_before_the_unpin_finished(self: Operations, authority: str, channel: str) -> int:
        count = counted(self, authority, channel)
        if count == 0 and stale:
            stale.clear()
            return 1
        return count

    monkeypatch.setattr(Operations, "pinned_count", counted_a_moment_before_the_unpin_finished)
    update = publish(herold, warning(msg_type="update", references=original, headline="Sperrgebiet erweitert"))

    second = herold.store.operations.copy_on(update, "facebook")
    assert not stale, "the count was read as the race has it"
    assert second is not None and [p["id"] for p in fake.posts if p["is_pinned"]] == [second.platform_id]


@pytest.mark.parametrize("on_withdrawal", ["delete", "edit"])
def test_a_withdrawal_is_a_new_post_and_takes_the_warning_off_the_page_or_marks_it(
    fake: FakeFacebook, make_settings: SettingsFactory, make_herold: HeroldFactory, on_withdrawal: str
) -> None:
    herold = start(fake, make_settings, make_herold, on_withdrawal=on_withdrawal)
    original = publish(herold, warning())
    withdrawal = publish(herold, warning(msg_type="error", references=original, headline="Widerruf: keine Bombe",
                                         instruction=None))  # fmt: skip
    operations = herold.store.operations.of(withdrawal)
    assert {o.state for o in operations} == {OperationState.succeeded}, [(o.action, o.last_error) for o in operations]
    posts = fake.posts
    if on_withdrawal == "delete":
        assert [p["message"].splitlines()[0] for p in posts] == ["Widerruf: keine Bombe"]
    else:
        assert len(posts) == 2 and all(p["message"].startswith("Widerruf: keine Bombe") for p in posts)
    assert not any(p["is_pinned"] for p in posts)


# -- the rest of a post's life -----------------------------------------------------------------


def test_a_correction_replaces_the_text_in_place(fake: FakeFacebook, media: Path) -> None:
    channel = channel_for(fake.url, media)
    receipt = channel.publish(post_of(channel))
    corrected = post_of(channel, delivery="d2", headline="Berichtigung: Fliegerbombe am Markt")
    assert channel.edit(receipt, corrected) == receipt
    [posted] = fake.posts
    assert posted["message"] == corrected.variant.text and posted["id"] == receipt.platform_id


def test_a_withdrawal_deletes_the_post_and_its_photos_and_a_post_already_gone_counts_as_deleted(
    fake: FakeFacebook, media: Path
) -> None:
    channel = channel_for(fake.url, media)
    receipt = channel.publish(post_of(channel, media=IMAGES))
    channel.delete(receipt)
    assert fake.posts == [] and fake.photos == []
    channel.delete(receipt)  # a retry after a lost answer, or deleted by hand meanwhile


def test_a_correction_of_a_post_someone_deleted_by_hand_says_so(fake: FakeFacebook, media: Path) -> None:
    channel = channel_for(fake.url, media)
    with pytest.raises(PermanentError, match="does not know the post"):
        channel.edit(Receipt(platform_id=f"{PAGE_ID}_1"), post_of(channel))


def test_one_warning_at_a_time_is_pinned_and_unpinned(fake: FakeFacebook, media: Path) -> None:
    channel = channel_for(fake.url, media)
    first, second = channel.publish(post_of(channel)), channel.publish(post_of(channel, 1, "d2"))
    channel.pin(first)
    channel.pin(second)
    assert [p["is_pinned"] for p in fake.posts] == [False, True], "a Page shows one pinned post"
    channel.unpin(second)
    assert [p["is_pinned"] for p in fake.posts] == [False, False]
    assert FacebookPage.capabilities.pin_limit == 1


def test_pinning_can_be_switched_off() -> None:
    assert FacebookPage.pins(FacebookSettings(page_id=PAGE_ID, page_access_token_env=TOKEN_ENV))
    assert not FacebookPage.pins(FacebookSettings(page_id=PAGE_ID, page_access_token_env=TOKEN_ENV,
                                                  pin_warnings=False))  # fmt: skip


# -- exactly once --------------------------------------------------------------------------------


def test_after_a_lost_answer_the_look_up_finds_the_post_and_nothing_is_posted_twice(
    fake: FakeFacebook, media: Path
) -> None:
    channel = channel_for(fake.url, media)
    post = post_of(channel)
    fake.fail("POST", f"/{PAGE_ID}/feed", drop_after())
    with pytest.raises(TransientError) as lost:
        channel.publish(post)
    assert lost.value.ambiguous
    found = channel.find(replace(post, attempt=2, previous_error=lost.value.reason))
    [posted] = fake.posts
    assert found is not None and found.platform_id == posted["id"] and found.url == posted["permalink_url"]
    [look] = [r for r in fake.requests if r.method == "GET"]
    assert look.path == f"/{PAGE_ID}/published_posts", "the Page's own posts, never the feed with visitors' posts"


def test_a_retry_facebook_refuses_as_a_duplicate_counts_as_posted_when_the_copy_is_found(
    fake: FakeFacebook, media: Path
) -> None:
    channel = channel_for(fake.url, media)
    post = post_of(channel)
    first = channel.publish(post)
    again = channel.publish(replace(post, attempt=2))  # the engine retried without looking first
    assert again.platform_id == first.platform_id and len(fake.posts) == 1
    assert [r.status for r in fake.requests if r.method == "POST"] == [200, 400], "Facebook said 506"


def test_a_duplicate_without_a_copy_of_this_delivery_is_a_permanent_error_that_says_what_to_do(
    fake: FakeFacebook, media: Path
) -> None:
    channel = channel_for(fake.url, media)
    post = post_of(channel)
    fake.add_post(post.variant.text, created=datetime.now(UTC) - timedelta(days=2))  # the same text, by hand
    for attempt in (1, 2):
        with pytest.raises(PermanentError, match="confirm it by hand") as refused:
            channel.publish(replace(post, attempt=attempt))
        assert "(506" in refused.value.reason and len(fake.posts) == 1


def test_on_a_first_attempt_a_duplicate_is_never_taken_for_this_delivery_s_own_post(
    fake: FakeFacebook, media: Path
) -> None:
    """Posted by hand a moment ago with the very same words: not Herold's copy."""
    channel = channel_for(fake.url, media)
    post = post_of(channel)
    fake.add_post(post.variant.text, created=datetime.now(UTC))
    with pytest.raises(PermanentError, match="confirm it by hand"):
        channel.publish(post)
    assert not [r for r in fake.requests if r.method == "GET"], "no look-up: nothing of ours can be there"


def test_the_look_up_never_takes_an_older_post_or_another_message_of_the_item_for_this_one(
    fake: FakeFacebook, media: Path
) -> None:
    channel = channel_for(fake.url, media)
    post = post_of(channel, headline="Sperrgebiet erweitert")
    assert post.created_at is not None
    fake.add_post(post.variant.text, created=post.created_at - timedelta(hours=1))  # the same words, long before
    fake.add_post(post_of(channel).variant.text, created=post.created_at)  # the alert, linking the same page
    assert channel.find(post) is None


def test_an_answer_without_facebook_s_json_after_posting_is_a_retry_that_looks_for_the_copy_first(
    media: Path,
) -> None:
    """A proxy's HTML page, a body cut short: the post may exist, so the engine looks before posting again."""
    with Receiver(
        default=Answer(200, body=b"<html>Bad gateway</html>", headers={"Content-Type": "text/html"})
    ) as proxy:
        channel = channel_for(proxy.url, media)
        with pytest.raises(TransientError) as unclear:
            channel.publish(post_of(channel))
    assert unclear.value.ambiguous


# -- errors ----------------------------------------------------------------------------------------

BUC = "x-business-use-case-usage"


def usage(minutes: int) -> str:
    entry = {"type": "pages", "call_count": 100, "total_cputime": 10, "total_time": 10,
             "estimated_time_to_regain_access": minutes}  # fmt: skip
    return json.dumps({PAGE_ID: [entry]})


# (HTTP status, Graph error body, headers) → what the engine does next, and after how many seconds.
GRAPH_ERRORS: list[tuple[str, int, dict[str, Any], dict[str, str], type[DeliveryError], float | None]] = [
    ("expired token", 400, graph_error(190, "Error validating access token: Session has expired", 463), {},
     CredentialsError, None),
    ("password changed", 400, graph_error(190, "Error validating access token: password changed", 460), {},
     CredentialsError, None),
    ("invalid token", 400, graph_error(190, "Invalid OAuth access token", 467), {}, CredentialsError, None),
    ("permission", 403, graph_error(200, "(#200) requires pages_manage_posts"), {}, CredentialsError, None),
    ("permission denied", 403, graph_error(10, "(#10) Permission denied"), {}, CredentialsError, None),
    ("capability", 400, graph_error(3, "(#3) Application does not have the capability"), {}, CredentialsError,
     None),
    ("app limit, as 403", 403, graph_error(4, "(#4) Application request limit reached", is_transient=True), {},
     TransientError, 300),
    ("user limit", 400, graph_error(17, "(#17) User request limit reached"), {}, TransientError, 300),
    ("page limit", 400, graph_error(32, "(#32) Page request limit reached"),
     {"x-page-usage": json.dumps({"call_count": 100, "total_cputime": 4, "total_time": 4,
                                  "estimated_time_to_regain_access": 7})}, TransientError, 420),
    ("custom limit", 400, graph_error(613, "(#613) Calls to this api have exceeded the rate limit"),
     {"Retry-After": "90"}, TransientError, 90),
    ("page BUC limit", 400, graph_error(80001, "(#80001) There have been too many calls to this Page account"),
     {BUC: usage(12)}, TransientError, 720),
    ("policy block", 400, graph_error(368, "The action attempted has been deemed abusive"), {}, PermanentError,
     None),
    ("invalid parameter", 400, graph_error(100, "(#100) Invalid parameter"), {}, PermanentError, None),
    ("unknown error", 500, graph_error(1, "An unknown error has occurred.", is_transient=True), {},
     TransientError, None),
    ("service down", 503, graph_error(2, "Service temporarily unavailable"), {}, TransientError, None),
    ("deprecated API", 400, graph_error(12, "(#12) This endpoint is deprecated for versions v27.0 and higher"),
     {}, CredentialsError, None),
    ("deprecated version", 400, graph_error(2635, "(#2635) You are calling a deprecated version"), {},
     CredentialsError, None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "code", "body", "headers", "expected", "wait"), GRAPH_ERRORS,
                         ids=[row[0] for row in GRAPH_ERRORS])  # fmt: skip
def test_each_graph_error_tells_the_engine_what_to_do_next_by_its_code_not_its_status(
    fake: FakeFacebook,
    media: Path,
    case: str,
    code: int,
    body: dict[str, Any],
    headers: dict[str, str],
    expected: type[DeliveryError],
    wait: float | None,
) -> None:
    channel = channel_for(fake.url, media)
    fake.fail("POST", f"/{PAGE_ID}/feed", status(code, body, headers))
    with pytest.raises(DeliveryError) as failed:
        channel.publish(post_of(channel))
    assert type(failed.value) is expected
    assert str(body["error"]["code"]) in failed.value.reason and body["error"]["fbtrace_id"] in failed.value.reason
    if isinstance(failed.value, TransientError):
        assert failed.value.retry_after == (pytest.approx(wait, abs=2) if wait else None)
        assert failed.value.ambiguous is (code >= 500), "a refusal posted nothing; an unknown error may have"


@pytest.mark.parametrize(
    ("code", "body"),
    [
        (400, graph_error(9007, "Please retry your request later.", is_transient=True)),
        (502, graph_error(9008, "An unexpected error has occurred.")),
    ],
)
def test_an_error_facebook_calls_transient_is_retried_after_looking_for_the_copy(
    fake: FakeFacebook, media: Path, code: int, body: dict[str, Any]
) -> None:
    channel = channel_for(fake.url, media)
    fake.fail("POST", f"/{PAGE_ID}/feed", status(code, body))
    with pytest.raises(TransientError) as failed:
        channel.publish(post_of(channel))
    assert failed.value.ambiguous, "Facebook may have posted it before the error"


def test_a_throttled_page_waits_as_long_as_facebook_estimates(fake: FakeFacebook, media: Path) -> None:
    channel = channel_for(fake.url, media)
    fake.throttle(minutes=17)
    with pytest.raises(TransientError) as throttled:
        channel.publish(post_of(channel))
    assert throttled.value.retry_after == 17 * 60 and not throttled.value.ambiguous
    fake.unthrottle()
    channel.publish(post_of(channel))
    assert len(fake.posts) == 1


def test_usage_headers_without_a_wait_say_nothing() -> None:
    assert regain_access({BUC: usage(0)}) is None
    assert regain_access({"X-App-Usage": '{"call_count": 80, "total_cputime": 2, "total_time": 3}'}) is None
    assert regain_access({BUC: "not json"}) is None


def test_an_expired_token_stops_the_channel_saying_what_happened(media: Path) -> None:
    expired = Token(owner=PAGE_ID, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    with FakeFacebook(tokens={PAGE_TOKEN: expired}) as fake:
        channel = channel_for(fake.url, media)
        with pytest.raises(CredentialsError, match="the token has expired"):
            channel.publish(post_of(channel))


def test_a_page_blocked_for_a_policy_violation_stops_without_flagging_the_token(
    fake: FakeFacebook, media: Path
) -> None:
    channel = channel_for(fake.url, media)
    fake.block()
    with pytest.raises(PermanentError) as blocked:
        channel.publish(post_of(channel))
    assert not isinstance(blocked.value, CredentialsError) and "account status" in blocked.value.reason


# -- versions --------------------------------------------------------------------------------------


def test_a_retired_graph_api_version_still_posts_and_the_check_names_the_version_to_raise(media: Path) -> None:
    with FakeFacebook(oldest="v26.0") as fake:
        channel = channel_for(fake.url, media, api_version="v24.0")
        channel.publish(post_of(channel))
        problems = channel.check()
    assert len(fake.posts) == 1
    assert any("v24.0 is retired" in p and "v26.0" in p and "api_version" in p for p in problems)


def test_a_current_version_raises_no_problem(fake: FakeFacebook, media: Path) -> None:
    channel = channel_for(fake.url, media)
    channel.publish(post_of(channel))
    assert channel.check() == []


# -- the token -------------------------------------------------------------------------------------


def test_with_the_app_secret_every_call_is_signed_so_a_leaked_token_alone_is_not_enough(media: Path) -> None:
    with FakeFacebook(require_proof=True) as fake:
        unsigned = channel_for(fake.url, media)
        with pytest.raises(PermanentError, match="appsecret_proof"):
            unsigned.publish(post_of(unsigned))
        channel = channel_for(fake.url, media, secrets=APP_SECRETS, **WITH_APP)
        receipt = channel.publish(post_of(channel, media=IMAGES))
        assert channel.find(post_of(channel, media=IMAGES)) is not None
        channel.pin(receipt)
        channel.edit(receipt, post_of(channel, delivery="d2", headline="Berichtigung"))
        channel.delete(receipt)
        assert channel.check() == []
        assert fake.posts == []


def test_without_the_app_s_secret_nothing_is_read_or_renewed(fake: FakeFacebook, media: Path) -> None:
    channel = channel_for(fake.url, media)
    channel.refresh_credentials()
    assert channel.credentials_expire() is None
    assert fake.requests == []


def test_a_system_user_s_non_expiring_token_is_read_but_never_renewed(fake: FakeFacebook, media: Path) -> None:
    channel = channel_for(fake.url, media, secrets=APP_SECRETS, **WITH_APP)
    channel.refresh_credentials()
    assert channel.credentials_expire() is None
    assert calls(fake) == ["GET /debug_token"]


def test_a_60_day_token_is_renewed_while_it_lives_kept_and_used_by_every_channel_sharing_the_store(
    media: Path,
) -> None:
    ends = datetime.now(UTC) + timedelta(days=10)
    with FakeFacebook(tokens={PAGE_TOKEN: Token(owner=PAGE_ID, expires_at=ends)}) as fake:
        kept = KeptInMemory()
        channel = channel_for(fake.url, media, secrets=APP_SECRETS, credentials=kept, **WITH_APP)
        assert channel.credentials_expire() is None, "unknown until asked"
        channel.refresh_credentials()
        renewed = kept.get("page_access_token")
        assert renewed is not None and renewed.value != PAGE_TOKEN
        expires = channel.credentials_expire()
        assert expires is not None and expires - datetime.now(UTC) > timedelta(days=59)
        [exchange] = [r for r in fake.requests if r.path == "/oauth/access_token"]
        assert exchange.query["grant_type"] == "fb_exchange_token" and exchange.query["fb_exchange_token"] == PAGE_TOKEN
        assert exchange.query["set_token_expires_in_60_days"] == "true"

        other = channel_for(fake.url, media, secrets=APP_SECRETS, credentials=kept, **WITH_APP)  # another worker
        other.publish(post_of(other))
        assert fake.requests[-1].headers["authorization"] == f"Bearer {renewed.value}"
        assert other.credentials_expire() == expires
        other.refresh_credentials()
        assert len([r for r in fake.requests if r.path == "/oauth/access_token"]) == 1, "60 days left: not yet again"


def test_a_60_day_token_with_more_than_20_days_left_is_only_read(media: Path) -> None:
    ends = datetime.now(UTC) + timedelta(days=40)
    with FakeFacebook(tokens={PAGE_TOKEN: Token(owner=PAGE_ID, expires_at=ends)}) as fake:
        channel = channel_for(fake.url, media, secrets=APP_SECRETS, **WITH_APP)
        channel.refresh_credentials()
        assert calls(fake) == ["GET /debug_token"]
    assert channel.credentials_expire() == ends.replace(microsecond=0)


def test_a_token_put_in_by_hand_replaces_the_one_herold_renewed_from_the_old_one(media: Path) -> None:
    ends = datetime.now(UTC) + timedelta(days=10)
    fresh = "EAAGa-new-token-a-person-generated"
    tokens = {PAGE_TOKEN: Token(owner=PAGE_ID, expires_at=ends), fresh: Token(owner=PAGE_ID)}
    with FakeFacebook(tokens=tokens) as fake:
        kept = KeptInMemory()
        channel_for(fake.url, media, secrets=APP_SECRETS, credentials=kept, **WITH_APP).refresh_credentials()
        replaced = channel_for(fake.url, media, secrets={**APP_SECRETS, "page_access_token": fresh},
                               credentials=kept, **WITH_APP)  # fmt: skip
        replaced.publish(post_of(replaced))
        assert fake.requests[-1].headers["authorization"] == f"Bearer {fresh}"


def test_a_token_facebook_no_longer_takes_cannot_be_renewed_and_a_person_is_asked_for_a_new_one(
    media: Path,
) -> None:
    ended = Token(owner=PAGE_ID, expires_at=datetime.now(UTC) - timedelta(hours=1))
    with FakeFacebook(tokens={PAGE_TOKEN: ended}) as fake:
        channel = channel_for(fake.url, media, secrets=APP_SECRETS, **WITH_APP)
        with pytest.raises(CredentialsError, match="no longer valid"):
            channel.refresh_credentials()
        assert not [r for r in fake.requests if r.path == "/oauth/access_token"]


# -- setup -----------------------------------------------------------------------------------------


def test_the_check_names_a_token_that_is_not_the_page_s_own(media: Path) -> None:
    system_user = "EAAGsystem-user-token"
    with FakeFacebook(tokens={system_user: Token(owner="61550000000001", kind="SYSTEM_USER")}) as fake:
        channel = channel_for(fake.url, media, secrets={"page_access_token": system_user})
        [problem] = channel.check()
    assert "not the Page's own" in problem and f"GET /{PAGE_ID}?fields=access_token" in problem


def test_the_check_names_a_missing_permission(media: Path) -> None:
    scopes = ("pages_show_list", "pages_read_engagement")
    with FakeFacebook(tokens={PAGE_TOKEN: Token(owner=PAGE_ID, scopes=scopes)}) as fake:
        channel = channel_for(fake.url, media, secrets=APP_SECRETS, **WITH_APP)
        problems = channel.check()
        with pytest.raises(CredentialsError, match="pages_manage_posts"):
            channel.publish(post_of(channel))
    assert problems == ["the token lacks the permission pages_manage_posts"]


@pytest.mark.parametrize(
    "settings",
    [
        {"api_version": "27.0"},
        {"api_version": "latest"},
        {"page_id": "landkreis-beispiel"},
        {"app_id": APP_ID},
        {"app_secret_env": SECRET_ENV},
        {"api_base": "graph.facebook.com"},
    ],
)
def test_settings_that_cannot_work_are_refused_at_startup(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FacebookSettings.model_validate({"page_id": PAGE_ID, "page_access_token_env": TOKEN_ENV, **settings})


def test_by_default_it_speaks_to_facebook_s_own_graph_api_in_a_current_version_and_deletes_what_is_withdrawn() -> None:
    settings = FacebookSettings(page_id=PAGE_ID, page_access_token_env=TOKEN_ENV)
    assert (settings.api_base, settings.api_version) == ("https://graph.facebook.com", "v27.0")
    assert (settings.link_card, settings.pin_warnings, settings.on_withdrawal) == (True, True, "delete")
