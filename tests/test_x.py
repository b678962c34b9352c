"""The X channel (API v2), against a fake X (tests/fakes/x_server.py: X's documented shapes and
the answers client libraries recorded) and the channel kit's contract. Lengths are checked with
twitter-text (the Python port of the library X's counting docs point to), not with Herold's own
counting."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from twitter_text import parse_tweet  # type: ignore[import-untyped]

from adapters.port import (
    ChannelContext,
    Credential,
    Credentials,
    CredentialsError,
    DeliveryError,
    ExpiringCredentials,
    KeptInMemory,
    PermanentError,
    Post,
    Receipt,
    TransientError,
)
from adapters.x import TOKENS, XChannel, XSettings
from publisher.domain.announcement import parse_announcement
from publisher.domain.authority import Authority, ChannelConfig
from publisher.domain.counting import XWeighted
from publisher.domain.records import Variant
from publisher.engine.schema import OperationState

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, news, publish, warning
from fakes.clock import Clock
from fakes.webhook_receiver import Answer
from fakes.x_server import CLIENT_ID, DUPLICATE, REPLY_GONE, FakeX, drop_after, hang, problem, status
from helpers import png_bytes
from kit import ITEM_URL, ChannelCase, ChannelContract, Endpoint, post_for, reads_of_others, samples
from services import free_port

REFRESH_ENV, ACCESS_ENV, SECRET_ENV = "HEROLD_TEST_X_REFRESH", "HEROLD_TEST_X_ACCESS", "HEROLD_TEST_X_SECRET"


# -- the contract every channel keeps --------------------------------------------------------------


def counted_by_x(variant: Variant) -> int:
    """X's own count: twitter-text's weighted length (config v3), links as 23."""
    return int(parse_tweet(variant.text).weightedLength)


POSTED = {"data": {"id": "1860000000000000001", "text": "Fliegerbombe in der Altstadt https://t.co/Xk2mB7qPzL"}}

# X's endpoints that read what other people do or say, beyond the kit's list (the look-up reads
# the account's own posts, GET /2/users/<own id>/tweets, and whose token it is, GET /2/users/me).
X_READS = (
    Endpoint(r"/2/users/(by|search)\b", "looking other people up (X)", "GET"),
    Endpoint(r"/2/users(\?|$)", "other people's profiles by id (X)", "GET"),
    Endpoint(r"/2/users/(?!me(\?|$))[^/?]+(\?|$)", "another account's profile (X)", "GET"),
    Endpoint(
        r"/2/users/[^/?]+/(mentions|followers|following|liked_tweets|bookmarks|blocking|muting|"
        r"owned_lists|followed_lists|list_memberships|pinned_lists)\b",
        "the account's relations (X)",
        "GET",
    ),
    Endpoint(r"/2/tweets(\?|/\d+(\?|$))", "posts by their ids, anyone's (X)", "GET"),
    Endpoint(r"/2/tweets/[^/?]+/(liking_users|retweeted_by|quote_tweets|retweets)\b", "who reacted (X)"),
    Endpoint(r"/2/tweets/(search|counts|sample|firehose)", "searching posts, and their statistics (X)"),
    Endpoint(r"/2/(tweets|media)/analytics\b|/2/insights", "statistics (X)"),
    Endpoint(r"/2/(spaces|lists|communities|trends|news|notes)\b", "other people's spaces, lists, trends (X)"),
)

CASE = ChannelCase(
    kind=XChannel,
    settings=lambda url: {
        "api_base": url,
        "client_id": CLIENT_ID,
        "refresh_token_env": REFRESH_ENV,
        "access_token_env": ACCESS_ENV,
    },
    secrets={"access_token": "kit-access-token", "refresh_token": "kit-refresh-token"},
    published=Answer(201, body=json.dumps(POSTED).encode(), headers={"Content-Type": "application/json"}),
    answers={402: CredentialsError},  # pay-per-use: out of credits, every further post fails alike
    counted=counted_by_x,
    limit=280,
    reads_of_others=X_READS,
)


@pytest.mark.parametrize(
    ("method", "target", "reads_others"),
    [
        ("GET", "/2/users/me", False),
        ("GET", "/2/users/1720000000000000001/tweets?max_results=20&tweet.fields=entities", False),
        ("POST", "/2/tweets", False),
        ("DELETE", "/2/tweets/1860000000000000001", False),
        ("POST", "/2/media/upload", False),
        ("GET", "/2/users/by/username/stadt_nachbar", True),
        ("GET", "/2/users/44196397", True),
        ("GET", "/2/users?ids=44196397", True),
        ("GET", "/2/users/1720000000000000001/mentions", True),
        ("GET", "/2/users/1720000000000000001/followers", True),
        ("GET", "/2/tweets/1860000000000000001", True),
        ("GET", "/2/tweets?ids=1860000000000000001", True),
        ("GET", "/2/tweets/1860000000000000001/liking_users", True),
        ("GET", "/2/tweets/search/recent?query=herold", True),
        ("GET", "/2/dm_events", True),
    ],
)
def test_the_send_only_check_knows_x_s_reads_of_other_people(method: str, target: str, reads_others: bool) -> None:
    assert bool(reads_of_others([(method, target)], extra=X_READS)) is reads_others


class TestXContract(ChannelContract):
    case = CASE


# -- the channel against the fake X ----------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeX]:
    with FakeX(now=clock) as server:
        yield server


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "bild.png").write_bytes(png_bytes())
    return tmp_path


def channel_for(
    fake: FakeX,
    media: Path,
    tokens: tuple[str | None, str],
    *,
    secret: str | None = None,
    credentials: Credentials | None = None,
    timeouts: tuple[float, float] = (2.0, 5.0),
    **settings: Any,
) -> XChannel:
    access, refresh = tokens
    values: dict[str, Any] = {
        "api_base": fake.url,
        "client_id": fake.client_id,
        "refresh_token_env": REFRESH_ENV,
        **settings,
    }
    secrets = {"refresh_token": refresh}
    if access is not None:
        values["access_token_env"], secrets["access_token"] = ACCESS_ENV, access
    if secret is not None:
        values["client_secret_env"], secrets["client_secret"] = SECRET_ENV, secret
    config = ChannelConfig(id="x", type="x", settings=XSettings.model_validate(values))
    authority = Authority(
        slug=AUTHORITY["slug"],
        name=AUTHORITY["name"],
        base_url=AUTHORITY["base_url"],
        impressum_url=AUTHORITY["impressum_url"],
        privacy_url=AUTHORITY["privacy_url"],
        channels=[config],
    )
    context = ChannelContext(
        authority=authority,
        secrets=secrets,
        clock=fake.now,
        media=media,
        timeouts=timeouts,
        deadline=10.0,
        credentials=credentials or KeptInMemory(),
    )
    return XChannel(config, context)


def post_of(channel: XChannel, delivery: str = "d1", **changes: Any) -> Post:
    return post_for(XChannel, channel, parse_announcement(warning(**changes)), delivery=delivery)


def attempt(channel: XChannel, post: Post) -> Receipt | DeliveryError:
    try:
        return channel.publish(post)
    except DeliveryError as error:
        return error


def kept(channel: XChannel) -> dict[str, str]:
    credential = channel.context.credentials.get(TOKENS)
    assert credential is not None
    return dict(json.loads(credential.value))


def test_a_post_is_the_variant_text_and_its_receipt_names_it_on_x(fake: FakeX, media: Path) -> None:
    channel = channel_for(fake, media, fake.grant())
    post = post_of(channel)

    receipt = channel.publish(post)

    [tweet] = fake.tweets
    assert tweet.text == post.variant.text and ITEM_URL in tweet.text
    assert receipt == Receipt(platform_id=tweet.id, url=f"https://x.com/i/web/status/{tweet.id}")
    [request] = [r for r in fake.requests if r.path == "/2/tweets"]
    assert request.json() == {"text": post.variant.text}


def test_an_image_is_uploaded_then_given_its_alt_text_and_then_attached(fake: FakeX, media: Path) -> None:
    channel = channel_for(fake, media, fake.grant())
    post = post_of(channel, media=[{"path": "bild.png", "alt": "Karte des Sperrgebiets"}])

    channel.publish(post)

    upload, metadata, create = [(r.path, r) for r in fake.requests]
    assert [upload[0], metadata[0], create[0]] == ["/2/media/upload", "/2/media/metadata", "/2/tweets"]
    assert upload[1].headers["content-type"] == "application/json"
    assert base64.b64decode(upload[1].json()["media"]) == png_bytes()
    assert upload[1].json()["media_category"] == "tweet_image"
    [(media_id, uploaded)] = fake.uploads.items()
    assert metadata[1].json() == {"id": media_id, "metadata": {"alt_text": {"text": "Karte des Sperrgebiets"}}}
    assert uploaded.alt_text == "Karte des Sperrgebiets"
    assert create[1].json()["media"] == {"media_ids": [media_id]}
    assert fake.tweets[0].media_ids == [media_id]


def test_a_follow_up_replies_to_the_latest_copy_and_one_whose_original_was_deleted_still_goes_out(
    fake: FakeX, media: Path
) -> None:
    channel = channel_for(fake, media, fake.grant())
    first = channel.publish(post_of(channel))
    update = replace(
        post_of(channel, "d2", msg_type="update", references="a0", headline="Sperrgebiet erweitert"),
        in_reply_to=first,
        thread=(first,),
    )
    second = channel.reply(update)
    assert fake.tweets[-1].in_reply_to == first.platform_id

    fake.delete_by_hand(second.platform_id)
    cancel = replace(
        post_of(channel, "d3", msg_type="cancel", references="a0", headline="Bombe entschärft"),
        in_reply_to=second,
        thread=(first, second),
    )
    third = channel.reply(cancel)

    assert fake.tweets[-1].id == third.platform_id and fake.tweets[-1].in_reply_to is None
    assert [r.status for r in fake.requests if r.path == "/2/tweets"] == [201, 201, 403, 201]


# -- tokens: two hours, refreshed, rotated --------------------------------------------------------------


def test_a_kept_token_about_to_expire_is_refreshed_first_and_the_new_pair_is_kept_and_used(
    fake: FakeX, media: Path, clock: Clock
) -> None:
    access, refresh = fake.grant()
    channel = channel_for(fake, media, (access, refresh))
    channel.publish(post_of(channel))
    assert [r.path for r in fake.requests] == ["/2/tweets"], "the configured access token, while it works"
    clock.advance(timedelta(hours=2, minutes=1))
    channel.publish(post_of(channel, "d2", headline="Zweite Meldung"))  # its age unknown: refreshed on the 401
    assert [(r.path, r.status) for r in fake.requests[1:]] == [
        ("/2/tweets", 401),
        ("/2/oauth2/token", 200),
        ("/2/tweets", 201),
    ]
    first = kept(channel)

    clock.advance(timedelta(hours=1, minutes=56))  # four minutes left: too little for a delivery's retries
    channel.publish(post_of(channel, "d3", headline="Dritte Meldung"))

    token, create = fake.requests[4:]
    assert (token.path, token.form()["grant_type"], token.form()["refresh_token"]) == (
        "/2/oauth2/token",
        "refresh_token",
        first["refresh_token"],
    )
    assert token.form()["client_id"] == CLIENT_ID, "a public client names itself"
    pair = kept(channel)
    assert create.headers["authorization"] == f"Bearer {pair['access_token']}" and create.status == 201
    assert fake.valid_refresh_tokens() == {pair["refresh_token"]}, "the ones used are spent: rotation"
    assert refresh not in fake.valid_refresh_tokens()
    assert channel.context.credentials.get(TOKENS).expires_at == clock.now + timedelta(hours=2)  # type: ignore[union-attr]


def test_a_401_is_refreshed_once_and_the_post_sent_again(fake: FakeX, media: Path) -> None:
    access, refresh = fake.grant()
    fake.revoke(access)  # X took the access token back early; the refresh token still works
    channel = channel_for(fake, media, (access, refresh))

    receipt = channel.publish(post_of(channel))

    assert [(r.path, r.status) for r in fake.requests] == [
        ("/2/tweets", 401),
        ("/2/oauth2/token", 200),
        ("/2/tweets", 201),
    ]
    assert [t.id for t in fake.tweets] == [receipt.platform_id]


def test_an_access_token_refused_again_after_refreshing_is_a_credentials_problem(fake: FakeX, media: Path) -> None:
    channel = channel_for(fake, media, fake.grant())
    unauthorized = problem(401, "Unauthorized", "Unauthorized")
    fake.fail("POST", "/2/tweets", status(401, unauthorized), status(401, unauthorized))

    failed = attempt(channel, post_of(channel))

    assert isinstance(failed, CredentialsError) and "also after refreshing it (401)" in failed.reason
    assert [r.path for r in fake.requests] == ["/2/tweets", "/2/oauth2/token", "/2/tweets"], "refreshed once only"


@pytest.mark.parametrize("configured", ["spent", "revoked"])
def test_a_refresh_token_x_refuses_is_a_credentials_problem_that_says_what_to_do(
    fake: FakeX, media: Path, configured: str
) -> None:
    access, refresh = fake.grant()
    fake.revoke(access)
    if configured == "spent":
        channel_for(fake, media, (None, refresh)).refresh_credentials()  # another installation used it
    else:
        fake.revoke(refresh)
    channel = channel_for(fake, media, (access, refresh))

    failed = attempt(channel, post_of(channel))

    assert isinstance(failed, CredentialsError)
    assert "X refused the refresh token (400: invalid_request: Value passed for the token was invalid.)" in (
        failed.reason
    )
    assert f"set the new refresh token in {REFRESH_ENV}" in failed.reason
    with pytest.raises(CredentialsError):
        channel.refresh_credentials()
    assert fake.tweets == []


def test_a_confidential_client_refreshes_with_http_basic_and_a_wrong_secret_is_named(clock: Clock, media: Path) -> None:
    with FakeX(client_secret="client-secret", now=clock) as fake:
        channel = channel_for(fake, media, (None, fake.grant()[1]), secret="client-secret")
        channel.publish(post_of(channel))
        [token] = [r for r in fake.requests if r.path == "/2/oauth2/token"]
        basic = base64.b64encode(f"{CLIENT_ID}:client-secret".encode()).decode()
        assert token.headers["authorization"] == f"Basic {basic}"
        assert "client_id" not in token.form()

        wrong = channel_for(fake, media, (None, fake.grant()[1]), secret="not-the-secret")
        failed = attempt(wrong, post_of(wrong, "d2"))
        assert isinstance(failed, CredentialsError)
        assert "X refused the app's client credentials (401: unauthorized_client: Missing valid authorization" in (
            failed.reason
        )
        assert "client_secret_env" in failed.reason


class _ReadBeforeTheOtherWrote(KeptInMemory):
    """A worker's view of the shared store that read the tokens just before another worker
    refreshed them, and sees the new pair from its next read on."""

    def __init__(self, shared: KeptInMemory, stale: Credential | None) -> None:
        super().__init__()
        self.shared, self.stale, self.reads = shared, stale, 0

    def get(self, key: str) -> Credential | None:
        self.reads += 1
        return self.stale if self.reads <= 2 else self.shared.get(key)

    def put(self, key: str, credential: Credential) -> None:
        self.shared.put(key, credential)


def test_a_refresh_another_worker_made_meanwhile_is_used_instead_of_failing(
    fake: FakeX, media: Path, clock: Clock
) -> None:
    access, refresh = fake.grant()
    shared = KeptInMemory()
    one = channel_for(fake, media, (access, refresh), credentials=shared)
    one.refresh_credentials()  # a first pair kept
    clock.advance(timedelta(hours=3))
    stale = shared.get(TOKENS)
    other = channel_for(fake, media, (access, refresh), credentials=_ReadBeforeTheOtherWrote(shared, stale))
    one.refresh_credentials()  # worker one spends the kept refresh token first

    receipt = other.publish(post_of(other))  # worker two tried the same spent token

    assert [t.id for t in fake.tweets] == [receipt.platform_id]
    assert [r.status for r in fake.requests if r.path == "/2/oauth2/token"] == [200, 200, 400]
    assert fake.requests[-1].headers["authorization"] == f"Bearer {kept(one)['access_token']}"


def test_a_new_refresh_token_in_the_environment_replaces_the_pair_kept_from_the_old_one(
    fake: FakeX, media: Path
) -> None:
    shared = KeptInMemory()
    old = channel_for(fake, media, (None, fake.grant()[1]), credentials=shared)
    old.refresh_credentials()
    fake.revoke(kept(old)["refresh_token"])
    fake.revoke(kept(old)["access_token"])  # the app's access was revoked; a person authorized it again

    renewed = channel_for(fake, media, (None, fake.grant()[1]), credentials=shared)
    receipt = renewed.publish(post_of(renewed))

    assert [t.id for t in fake.tweets] == [receipt.platform_id]


def test_the_engine_s_look_refreshes_a_stale_token_leaves_a_fresh_one_and_never_alarms_on_a_network_problem(
    fake: FakeX, media: Path, clock: Clock
) -> None:
    channel = channel_for(fake, media, fake.grant())
    assert isinstance(channel, ExpiringCredentials)
    channel.refresh_credentials()  # the configured token's age is unknown: refreshed at the first look
    first = kept(channel)
    channel.refresh_credentials()
    assert kept(channel) == first, "fresh: left alone"
    clock.advance(timedelta(hours=6))  # the engine's next look
    channel.refresh_credentials()
    assert kept(channel)["access_token"] != first["access_token"]
    assert channel.credentials_expire() is None, "renewed without a person; X names no end for refresh tokens"

    clock.advance(timedelta(hours=6))
    fake.fail("POST", "/2/oauth2/token", hang(5))
    unreachable = channel_for(fake, media, fake.grant(), timeouts=(2.0, 0.3))
    unreachable.refresh_credentials()  # a timeout: logged, the next look or delivery tries again


# -- what X's answers mean ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "kind", "reason", "ambiguous"),
    [
        (
            status(
                400,
                problem(
                    400,
                    "Invalid Request",
                    "One or more parameters to your request was invalid.",
                    "invalid-request",
                    errors=[{"message": "Your media IDs are invalid."}],
                ),
            ),
            PermanentError,
            "Invalid Request: One or more parameters to your request was invalid.: Your media IDs are invalid.",
            None,
        ),
        (
            status(402, problem(402, "Payment Required", "Your account has no credits.")),
            CredentialsError,
            "no credits left (402)",
            None,
        ),
        (
            status(
                403,
                problem(
                    403,
                    "Client Forbidden",
                    "When authenticating requests to the X API v2 endpoints, you "
                    "must use keys and tokens from an App attached to a Project.",
                    "client-forbidden",
                    reason="client-not-enrolled",
                ),
            ),
            CredentialsError,
            "does not let this account or app do this (403): Client Forbidden",
            None,
        ),
        (status(403, problem(403, "Forbidden", "Your Tweet text is too long.")), PermanentError, "too long", None),
        (
            status(403, problem(403, "Forbidden", DUPLICATE)),
            PermanentError,
            "No earlier attempt of this delivery can have posted it",
            None,
        ),
        (
            status(404, problem(404, "Not Found Error", "Could not find tweet.", "resource-not-found")),
            PermanentError,
            "404",
            None,
        ),
        (status(500, problem(500, "Internal Server Error", "Internal Server Error")), TransientError, "500", True),
        (status(503, problem(503, "Service Unavailable", "Service Unavailable")), TransientError, "503", True),
        (drop_after(), TransientError, "network problem: connection failed", True),
        (hang(5), TransientError, "network problem: timed out", True),
    ],
    ids=["400", "402", "403 client", "403 too long", "403 duplicate", "404", "500", "503", "answer lost", "no answer"],
)
def test_every_answer_of_x_tells_the_engine_what_to_do_next(
    fake: FakeX, media: Path, fault: Any, kind: type[DeliveryError], reason: str, ambiguous: bool | None
) -> None:
    channel = channel_for(fake, media, fake.grant(), timeouts=(2.0, 1.0))
    fake.fail("POST", "/2/tweets", fault)

    failed = attempt(channel, post_of(channel))

    assert type(failed) is kind, failed
    assert reason in failed.reason
    if isinstance(failed, TransientError):
        assert failed.ambiguous is ambiguous


def test_a_failed_image_upload_never_counts_as_a_post_that_may_have_gone_out(fake: FakeX, media: Path) -> None:
    channel = channel_for(fake, media, fake.grant(), timeouts=(2.0, 1.0))
    post = post_of(channel, media=[{"path": "bild.png", "alt": "Karte"}])
    for fault in (drop_after(), status(503), hang(5)):
        fake.fail("POST", "/2/media/upload", fault)
        failed = attempt(channel, post)
        assert isinstance(failed, TransientError) and failed.ambiguous is False, failed
    assert fake.tweets == []


def test_a_rate_limit_waits_until_x_s_reset_in_epoch_seconds_and_for_a_spent_day_until_the_day_s_end(
    fake: FakeX, media: Path
) -> None:
    channel = channel_for(fake, media, fake.grant())
    fake.rate_limits["POST /2/tweets"] = 1
    channel.publish(post_of(channel))

    failed = attempt(channel, post_of(channel, "d2", headline="Zweite Meldung"))

    assert isinstance(failed, TransientError) and "rate limit or usage cap was reached (429)" in failed.reason
    reset = float(fake.requests[-1].answered["x-rate-limit-reset"])
    assert failed.retry_after == pytest.approx(reset - datetime.now(UTC).timestamp(), abs=5)
    assert not failed.ambiguous

    day_end = datetime.now(UTC).timestamp() + 6 * 3600
    fake.fail(
        "POST",
        "/2/tweets",
        status(
            429,
            problem(429, "Too Many Requests", "Too Many Requests"),
            {
                "x-rate-limit-remaining": "97",
                "x-rate-limit-reset": str(int(datetime.now(UTC).timestamp()) + 600),
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": str(int(day_end)),
            },
        ),
    )
    failed = attempt(channel, post_of(channel, "d3", headline="Dritte Meldung"))
    assert isinstance(failed, TransientError)
    assert failed.retry_after == pytest.approx(6 * 3600, abs=5), "the day's window, not the 15 minutes"


# -- exactly once: the look-up, and X's refusal of duplicates -----------------------------------------


def after_a_lost_answer(fake: FakeX, channel: XChannel, post: Post) -> Post:
    """The post as the engine retries it once X took it but its answer never came back."""
    fake.fail("POST", "/2/tweets", drop_after())
    lost = attempt(channel, post)
    assert isinstance(lost, TransientError) and lost.ambiguous
    return replace(post, attempt=2, previous_error=lost.reason)


def test_after_a_lost_answer_the_look_up_finds_the_post_so_nothing_is_posted_twice(fake: FakeX, media: Path) -> None:
    channel = channel_for(fake, media, fake.grant())
    post = post_of(channel)

    found = channel.find(after_a_lost_answer(fake, channel, post))

    [tweet] = fake.tweets
    assert found == Receipt(platform_id=tweet.id, url=f"https://x.com/i/web/status/{tweet.id}")
    [me, timeline] = [r for r in fake.requests if r.method == "GET"]
    assert me.path == "/2/users/me" and timeline.path == f"/2/users/{fake.account[0]}/tweets"
    query = dict(pair.split("=", 1) for pair in timeline.query.split("&"))
    assert query["max_results"] == "20" and query["tweet.fields"] == "created_at%2Centities%2Creferenced_tweets"
    channel.find(post)
    assert len([r for r in fake.requests if r.path == "/2/users/me"]) == 1, "whose account it is: asked once"


def test_the_look_up_takes_only_this_message_never_another_of_the_item_nor_one_older_than_the_delivery(
    fake: FakeX, media: Path, clock: Clock
) -> None:
    channel = channel_for(fake, media, fake.grant())
    alert = post_of(channel)
    first = channel.publish(alert)
    # The same words and link, replying to the alert: an update that says nothing new yet.
    update = replace(alert, delivery_id="d2", idempotency_key="herold-d2", in_reply_to=first, thread=(first,))

    assert channel.find(update) is None
    other = post_of(channel, "d3", headline="Sperrgebiet aufgehoben")  # the same item page, other words
    assert other.variant.link == alert.variant.link and other.in_reply_to is None
    assert channel.find(other) is None
    clock.advance(timedelta(hours=1))
    assert channel.find(replace(alert, created_at=clock.now)) is None, "posted before this delivery began"
    assert channel.find(replace(alert, created_at=clock.now - timedelta(hours=1))) == first


def test_a_duplicate_refusal_after_a_lost_answer_is_the_earlier_post_once_x_shows_it(clock: Clock, media: Path) -> None:
    with FakeX(now=clock, timeline_lag=1) as fake:  # X's timelines lag behind its posts
        channel = channel_for(fake, media, fake.grant())
        retry = after_a_lost_answer(fake, channel, post_of(channel))
        assert channel.find(retry) is None, "not shown yet"

        receipt = channel.publish(retry)

        [tweet] = fake.tweets
        assert receipt.platform_id == tweet.id
        assert [r.status for r in fake.requests if r.path == "/2/tweets"] == [None, 403]


def test_a_duplicate_refusal_x_still_does_not_show_is_retried_as_possibly_posted(clock: Clock, media: Path) -> None:
    with FakeX(now=clock, timeline_lag=5) as fake:
        channel = channel_for(fake, media, fake.grant())
        retry = after_a_lost_answer(fake, channel, post_of(channel))

        failed = attempt(channel, retry)

        assert isinstance(failed, TransientError) and failed.ambiguous and failed.retry_after == 30.0
        assert "posted already" in failed.reason
        assert len(fake.tweets) == 1


def test_a_duplicate_refusal_is_never_taken_for_an_earlier_message_that_only_begins_alike(
    fake: FakeX, media: Path
) -> None:
    channel = channel_for(fake, media, fake.grant())
    alert = post_of(channel)
    first = channel.publish(alert)
    headline = alert.variant.text.split("\n", 1)[0]
    text = f"{headline}\n\nDas Sperrgebiet wird auf die Neustadt erweitert.\n\n{alert.variant.link}"
    update = replace(
        alert,
        delivery_id="d2",
        variant=alert.variant.model_copy(update={"text": text}),
        in_reply_to=first,
        thread=(first,),
    )
    fake.timeline_lag = 5  # the update's copy is not shown for a while

    failed = attempt(channel, after_a_lost_answer(fake, channel, update))

    assert isinstance(failed, TransientError) and "posted already" in failed.reason, "not the alert's receipt"


def test_a_follow_up_whose_target_vanished_and_whose_answer_was_lost_is_found_all_the_same(
    fake: FakeX, media: Path
) -> None:
    channel = channel_for(fake, media, fake.grant())
    first = channel.publish(post_of(channel))
    update = replace(post_of(channel, "d2", headline="Sperrgebiet erweitert"), in_reply_to=first, thread=(first,))
    fake.delete_by_hand(first.platform_id)
    fake.fail("POST", "/2/tweets", status(403, problem(403, "Forbidden", REPLY_GONE)), drop_after())
    lost = attempt(channel, update)  # posted on its own, the answer lost
    assert isinstance(lost, TransientError) and lost.ambiguous
    retry = replace(update, attempt=2, previous_error=lost.reason)
    assert channel.find(retry) is None, "it replies to nothing now, the look-up asks for a reply"

    receipt = channel.publish(retry)

    [tweet] = fake.tweets
    assert receipt.platform_id == tweet.id and tweet.in_reply_to is None


def test_a_duplicate_refusal_without_an_earlier_attempt_is_for_a_person_to_look_at(fake: FakeX, media: Path) -> None:
    channel = channel_for(fake, media, fake.grant())
    post = post_of(channel)
    channel.publish(post)

    failed = attempt(channel, post_of(channel, "d2"))  # the very same text, as another delivery

    assert isinstance(failed, PermanentError) and not isinstance(failed, CredentialsError)
    assert DUPLICATE in failed.reason
    assert len(fake.tweets) == 1
    assert not [r for r in fake.requests if r.method == "GET"], "nothing to look for: no attempt was lost"


# -- the rest of a post's life ---------------------------------------------------------------------


def test_a_withdrawal_deletes_the_post_and_one_gone_already_is_fine(fake: FakeX, media: Path) -> None:
    channel = channel_for(fake, media, fake.grant())
    receipt = channel.publish(post_of(channel))

    channel.delete(receipt)
    channel.delete(receipt)

    assert fake.tweets == []
    assert [(r.method, r.path, r.status) for r in fake.requests if r.method == "DELETE"] == [
        ("DELETE", f"/2/tweets/{receipt.platform_id}", 200),
        ("DELETE", f"/2/tweets/{receipt.platform_id}", 404),
    ]
    someone_else = fake.post_as_someone_else("Nicht unser Beitrag")
    with pytest.raises(CredentialsError, match="403"):
        channel.delete(Receipt(platform_id=someone_else))
    with pytest.raises(PermanentError, match="not an X post id"):
        channel.delete(Receipt(platform_id="../users/me"))


def test_the_setup_check_asks_whose_tokens_they_are_and_names_a_refusal(fake: FakeX, media: Path) -> None:
    assert channel_for(fake, media, fake.grant()).check() == []
    access, refresh = fake.grant()
    fake.revoke(access)
    fake.revoke(refresh)
    [problem_] = channel_for(fake, media, (access, refresh)).check()
    assert problem_.startswith("X refused the refresh token (400")
    elsewhere = f"http://0.0.0.0:{free_port()}"  # not this machine's loopback: tokens would cross a network
    plain = channel_for(fake, media, fake.grant(), api_base=elsewhere).check()
    assert plain[0] == f"api_base {elsewhere} is plain http: the tokens would travel unencrypted"


def test_an_unreachable_x_is_a_retry_that_certainly_posted_nothing(media: Path, fake: FakeX) -> None:
    channel = channel_for(fake, media, (None, "refresh"), api_base=f"http://127.0.0.1:{free_port()}")
    failed = attempt(channel, post_of(channel))
    assert isinstance(failed, TransientError) and failed.ambiguous is False


def test_the_type_declares_what_x_does_and_charges() -> None:
    capabilities = XChannel.capabilities
    assert (capabilities.threads, capabilities.edit, capabilities.delete, capabilities.pin) == (
        True,
        False,
        True,
        False,
    )
    assert capabilities.text is not None and capabilities.text.limit == 280
    assert (capabilities.media.count, capabilities.media.alt_text, capabilities.media.max_bytes) == (4, 1000, 5 << 20)
    assert capabilities.price is not None and capabilities.price.of(has_link=True) == 0.20
    settings = XSettings.model_validate({"client_id": CLIENT_ID, "refresh_token_env": REFRESH_ENV})
    assert (settings.api_base, settings.on_withdrawal, settings.monthly_budget_usd) == (
        "https://api.x.com",
        "delete",
        None,
    )


@pytest.mark.parametrize(
    "text",
    [sample["headline"] + " " + sample.get("description", "") for sample in samples()]
    + ["Straße Ü café", "日本語のテキスト", "Warnung ⚠️ 🌪️ 👩‍🚒 👨‍👩‍👧‍👦 🙋🏽", "Ω—“quoted”…", "عربى हिन्दी"],
)
def test_herold_never_counts_a_text_shorter_than_twitter_text_does(text: str) -> None:
    link = ITEM_URL
    full = f"{text}\n\n{link}"
    assert XWeighted().count(full, [link]) >= parse_tweet(full).weightedLength


# -- through the engine ------------------------------------------------------------------------------


def authority_with(fake: FakeX, **settings: Any) -> dict[str, Any]:
    result = copy.deepcopy(AUTHORITY)
    result["channels"].append(
        {
            "id": "x",
            "type": "x",
            "api_base": fake.url,
            "client_id": CLIENT_ID,
            "refresh_token_env": REFRESH_ENV,
            **settings,
        }
    )
    return result


def test_through_the_engine_a_warning_its_correction_and_all_clear_form_one_thread_and_tokens_survive_a_restart(
    make_settings: SettingsFactory, make_herold: HeroldFactory, tmp_path: Path
) -> None:
    with FakeX() as fake:
        settings = make_settings(
            authorities=[authority_with(fake)],
            env={REFRESH_ENV: fake.grant()[1]},
            grace_warning_seconds=0.2,
            retry_base_seconds=0.05,
        )
        herold = make_herold(settings)
        alert = publish(herold, warning(media=[{"data": base64.b64encode(png_bytes()).decode(), "alt": "Karte"}]))
        correction = publish(
            herold,
            warning(
                msg_type="update",
                references=alert,
                correction=True,
                headline="Fliegerbombe in der Altstadt: Evakuierung bis 11 Uhr",
            ),
        )
        cancel = publish(
            herold, warning(msg_type="cancel", references=alert, headline="Bombe entschärft", instruction=None)
        )

        copies = [herold.store.operations.copy_on(a, "x") for a in (alert, correction, cancel)]
        assert [c.state if c else None for c in copies] == [OperationState.succeeded] * 3
        first, second, third = (next(t for t in fake.tweets if t.id == c.platform_id) for c in copies if c)
        assert (second.in_reply_to, third.in_reply_to) == (first.id, second.id), "a correction is a reply on X"
        assert "Evakuierung bis 11 Uhr" in second.text and first.media_ids
        assert [u.alt_text for u in fake.uploads.values()] == ["Karte"]
        assert [r.path for r in fake.requests].count("/2/oauth2/token") == 1, "refreshed once, then kept"
        herold.stop()

        again = make_herold(settings)  # the environment still names the spent refresh token
        later_news = publish(again, news())
        later = again.store.operations.copy_on(later_news, "x")
        assert later is not None and later.state is OperationState.succeeded, later.last_error if later else None


def test_through_the_engine_a_withdrawal_deletes_the_thread_s_posts_and_says_why(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    with FakeX() as fake:
        herold = make_herold(
            make_settings(
                authorities=[authority_with(fake)],
                env={REFRESH_ENV: fake.grant()[1]},
                grace_warning_seconds=0.2,
                retry_base_seconds=0.05,
            )
        )
        alert = publish(herold, warning())
        withdrawal = publish(
            herold,
            warning(
                msg_type="error",
                references=alert,
                instruction=None,
                headline="Meldung irrtümlich versandt",
                description="Die Warnung wurde versehentlich veröffentlicht.",
            ),
        )

        reply = herold.store.operations.copy_on(withdrawal, "x")
        assert reply is not None and reply.state is OperationState.succeeded
        [left] = fake.tweets
        assert left.id == reply.platform_id and "irrtümlich" in left.text
        deletes = [o for o in herold.store.operations.of(withdrawal) if o.channel == "x" and o.action.value == "delete"]
        assert [o.state for o in deletes] == [OperationState.succeeded]


def test_a_herold_configured_for_x_starts_with_the_refresh_token_alone(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    with FakeX() as fake:
        herold = make_herold(
            make_settings(authorities=[authority_with(fake, monthly_budget_usd=20)], env={REFRESH_ENV: fake.grant()[1]})
        )
        channel = herold.engine.channel("lk-beispiel", "x")
        assert isinstance(channel, XChannel) and channel.settings.monthly_budget_usd == 20
        assert channel.check() == []


# -- the fake, held to what X documents ---------------------------------------------------------------


def test_the_fake_answers_in_the_shapes_x_documents_and_recorded_answers_show(fake: FakeX) -> None:
    access, refresh = fake.grant()
    bearer = {"Authorization": f"Bearer {access}"}
    with requests.Session() as http:
        created = http.post(f"{fake.url}/2/tweets", json={"text": "Test Tweet"}, headers=bearer, timeout=5)
        deleted = http.delete(f"{fake.url}/2/tweets/{created.json()['data']['id']}", headers=bearer, timeout=5)
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLIENT_ID}
        token = http.post(f"{fake.url}/2/oauth2/token", data=form, timeout=5)
        again = http.post(f"{fake.url}/2/oauth2/token", data=form, timeout=5)
        refused = http.get(f"{fake.url}/2/users/me", timeout=5)

    # tweepy's recording of a real create and delete (cassettes/test_client_create_and_delete_tweet.yaml);
    # today's openapi.json adds edit_history_tweet_ids to the create answer.
    assert created.status_code == 201 and set(created.json()["data"]) == {"id", "text", "edit_history_tweet_ids"}
    assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= {
        k.lower() for k in created.headers
    }
    assert deleted.json() == {"data": {"deleted": True}}
    # fundamentals/authentication/oauth-2-0/user-access-token.mdx: a refresh answers a new pair.
    assert token.status_code == 200 and token.json()["expires_in"] == 7200
    assert set(token.json()) == {"token_type", "expires_in", "access_token", "scope", "refresh_token"}
    assert again.status_code == 400 and again.json()["error"] == "invalid_request", "a refresh token is spent once used"
    # response-codes-and-errors.mdx: problem details.
    assert refused.status_code == 401
    assert refused.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
