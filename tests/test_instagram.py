"""The Instagram channel against a fake Instagram Graph API (tests/fakes/instagram_server.py,
written from the Instagram Platform's documentation): the alert card with its caption, the
wait for Instagram to process it, every error answer, the look-up after a lost answer,
deletion, the publishing limit and tokens that expire."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
from PIL import Image

from adapters import instagram
from adapters.instagram import CAPTION, Hashtags, Instagram, InstagramSettings, Mentions
from adapters.port import (
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

import kit
from fakes.instagram_server import (
    IG_USER,
    TOKEN,
    FakeInstagram,
    Fault,
    drop_after,
    graph_error,
    hang,
    jpeg_bytes,
    throttled,
)
from fakes.webhook_receiver import Answer
from helpers import png_bytes
from kit import ITEM_URL, ChannelCase, ChannelContract, Endpoint, make_channel, post_for, samples

TOKEN_ENV = "HEROLD_TEST_INSTAGRAM_TOKEN"
CARD = ITEM_URL + "karte-a1.jpg"
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


# -- the contract every channel keeps --------------------------------------------------------------


def counted_by_instagram(variant: Variant) -> int:
    """A caption's length as Instagram's documentation gives its limit (2,200 characters),
    counted in UTF-16 code units, never fewer than characters however Instagram counts them."""
    return len(variant.text.encode("utf-16-le")) // 2


# One answer for every request of the lifecycle double: a container, its status, a post, its address.
ANSWER = b'{"id": "17900000000000001", "status_code": "FINISHED", "permalink": "https://www.instagram.com/p/Cx1/"}'

CASE = ChannelCase(
    kind=Instagram,
    settings=lambda url: {"ig_user_id": IG_USER, "access_token_env": TOKEN_ENV, "api_base": url},
    secrets={"access_token": TOKEN},
    published=Answer(200, body=ANSWER, headers={"Content-Type": "application/json"}),
    counted=counted_by_instagram,
    limit=2200,
    reads_of_others=(
        Endpoint(r"/(tags|mentioned_media|mentioned_comment|ig_hashtag_search|recently_searched_hashtags)\b",
                 "posts and comments of other people that tag or mention the account, hashtag search (Instagram)"),
        Endpoint(r"/(top_media|recent_media|replies|collaborators|children)\b",
                 "other people's posts under a hashtag, replies and collaborators (Instagram)"),
        Endpoint(r"[?&]fields=[^&]*\b(business_discovery|like_count|comments_count|follows_count|media_count)\b",
                 "other accounts and the counts of reactions and followers, asked for as fields (Instagram)"),
    ),
)  # fmt: skip


class TestInstagramContract(ChannelContract):
    case = CASE

    @pytest.fixture(autouse=True)
    def _with_the_card(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # The kit's posts carry no card (post_for predates MediaRule.card): add it as the engine does.
        made = kit.post_for
        monkeypatch.setattr(kit, "post_for", lambda *args, **kwargs: replace(made(*args, **kwargs), card_url=CARD))


# -- set-up ------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Instagram processes the fake's cards in a poll or two: ask again at once."""
    monkeypatch.setattr(instagram, "FIRST_PAUSE", 0.01)
    monkeypatch.setattr(instagram, "LONGEST_PAUSE", 0.01)


@pytest.fixture
def fake() -> Iterator[FakeInstagram]:
    with FakeInstagram(images={CARD: jpeg_bytes()}) as server:
        yield server


MakeChannel = Callable[..., Instagram]


@pytest.fixture
def make(tmp_path: Path) -> MakeChannel:
    def made(
        url: str, *, clock: Callable[[], datetime] | None = None, secret: str = TOKEN,
        credentials: KeptInMemory | None = None, **settings: Any,
    ) -> Instagram:  # fmt: skip
        channel = make_channel(CASE, url, tmp_path, **settings)
        context = replace(
            channel.context, secrets={"access_token": secret}, clock=clock or (lambda: datetime.now(UTC)),
            credentials=credentials or KeptInMemory(),
        )  # fmt: skip
        made = Instagram(channel.config, context)
        assert isinstance(made, Instagram)
        return made

    return made


def post(channel: Instagram, sample: int = 0, *, delivery: str = "d1", card: str | None = CARD, **changes: Any) -> Post:
    announcement = parse_announcement({**samples()[sample], **changes})
    return replace(post_for(Instagram, channel, announcement, delivery=delivery), card_url=card)


def attempt(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except DeliveryError as error:
        return error


def next_step(error: object) -> type[DeliveryError] | None:
    """What the engine makes of an outcome: retry, stop, or stop and flag the channel."""
    for kind in (CredentialsError, PermanentError, TransientError):
        if isinstance(error, kind):
            return kind
    return None


def calls(fake: FakeInstagram) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests]


# -- publishing ------------------------------------------------------------------------------------


def test_a_warning_goes_out_as_the_card_with_its_caption_and_alt_text_once_instagram_processed_it(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    fake.processing_polls = 2
    channel = make(fake.url)
    sent = post(channel)

    receipt = channel.publish(sent)

    [published] = fake.posts
    [container] = fake.containers.values()
    assert receipt == Receipt(platform_id=published.id, url=published.permalink, refs={"container": container.id})
    assert published.image_url == CARD
    assert published.caption == sent.variant.text
    assert published.alt_text == (
        "Landkreis Beispiel: Große Gefahr. Fliegerbombe in der Altstadt. Verlassen Sie das Sperrgebiet bis 10 Uhr."
    )
    assert calls(fake) == [
        f"POST /{IG_USER}/media",
        *[f"GET /{container.id}"] * 3,  # in progress twice, then finished
        f"POST /{IG_USER}/media_publish",
        f"GET /{published.id}",
    ]
    assert fake.requests[4].params["creation_id"] == container.id
    assert fake.requests[-1].params["fields"] == "permalink"


def test_the_token_travels_in_the_authorization_header_never_in_an_address(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    channel = make(fake.url)
    channel.publish(post(channel))
    channel.find(replace(post(channel), attempt=2))
    channel.check()

    assert fake.requests
    for request in fake.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in request.query and TOKEN.encode() not in request.body


def test_every_call_names_the_configured_api_version(fake: FakeInstagram, make: MakeChannel) -> None:
    channel = make(fake.url, api_version="v24.0")
    channel.publish(post(channel))
    assert fake.requests and {r.version for r in fake.requests} == {"v24.0"}


@pytest.mark.parametrize(
    ("language", "line"),
    [("de", f"Alle Infos: {ITEM_URL} (Link in Bio)"), ("en", f"Full details: {ITEM_URL} (link in bio)")],
)
def test_the_caption_writes_the_item_s_address_out_and_points_to_the_bio_as_links_are_not_clickable(
    make: MakeChannel, language: str, line: str
) -> None:
    channel = make("http://127.0.0.1:9")
    text = post(channel, language=language, hashtags=["Altstadt"]).variant.text
    assert text.splitlines()[0] == "Fliegerbombe in der Altstadt"
    assert text.endswith(f"{line}\n\n#Altstadt")


@pytest.mark.parametrize(
    ("description", "over"),
    [
        pytest.param(" ".join(f"#Ort{n}" for n in range(35)), "hashtags", id="hashtags"),
        pytest.param(" ".join(f"@feuerwehr_{n}" for n in range(25)), "@-mentions", id="mentions"),
        pytest.param("Bitte weitersagen. " * 200, "characters", id="characters"),
    ],
)
def test_every_caption_stays_within_instagram_s_characters_hashtags_and_mentions(
    fake: FakeInstagram, make: MakeChannel, description: str, over: str
) -> None:
    channel = make(fake.url)
    sent = post(channel, description=description, hashtags=["Bombe", "Altstadt"])

    assert CAPTION.excess(sent.variant.text, (ITEM_URL,), has_media=True) <= 0
    assert sent.variant.shortened == ("hashtags", "description"), f"over in {over}: hashtags first, then description"
    assert "#Bombe" not in sent.variant.text and ITEM_URL in sent.variant.text
    channel.publish(sent)  # the fake counts as Instagram documents it, and takes it
    assert len(fake.posts) == 1


@pytest.mark.parametrize(
    ("text", "hashtags", "mentions"),
    [
        ("#Sturm #Hochwasser und #1", 3, 0),
        ("Fragen an presse@lk-beispiel.de oder @lk_beispiel", 0, 1),
        (f"{ITEM_URL}#abschnitt", 0, 0),  # Herold's own link counts as a link
        ("Raum 3#b, # und @ allein, ##doppelt", 2, 0),  # counted where Instagram might, never fewer
    ],
)
def test_hashtags_and_mentions_are_counted_generously_as_instagram_limits_them(
    text: str, hashtags: int, mentions: int
) -> None:
    links = (ITEM_URL + "#abschnitt",)
    assert Hashtags().count(text, links) == hashtags
    assert Mentions().count(text, links) == mentions


def test_a_follow_up_is_a_post_of_its_own_with_its_own_card_as_instagram_has_no_threads(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    channel = make(fake.url)
    first = channel.publish(post(channel))
    update_card = ITEM_URL + "karte-a2.jpg"
    fake.images[update_card] = jpeg_bytes(colour="orange")
    update = replace(post(channel, delivery="d2", msg_type="update", references="a1", headline="Sperrgebiet erweitert",
                          card=update_card), in_reply_to=first, thread=(first,))  # fmt: skip

    second = channel.publish(update)

    assert not isinstance(channel, Threads)
    assert [p.image_url for p in fake.posts] == [CARD, update_card]
    assert fake.posts[1].caption.startswith("Aktualisierung: Sperrgebiet erweitert")
    assert second.platform_id != first.platform_id
    assert not any("comments" in r.path for r in fake.requests)


def test_a_delivery_without_a_card_stops_before_asking_instagram(fake: FakeInstagram, make: MakeChannel) -> None:
    channel = make(fake.url)
    failed = attempt(lambda: channel.publish(post(channel, card=None)))
    assert type(failed) is PermanentError and "without an image" in failed.reason
    assert fake.requests == []


# -- the card -------------------------------------------------------------------------------------


def _image(kind: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, kind)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("card", "expected", "words"),
    [
        pytest.param(png_bytes(1080, 1350), PermanentError, "takes only JPEG", id="png"),
        pytest.param(_image("JPEG", (1600, 400)), PermanentError, "aspect ratio", id="too-wide"),
        pytest.param(None, TransientError, f"could not fetch the card from {CARD}", id="not-public"),
    ],
)
def test_a_card_instagram_cannot_take_fails_the_delivery_saying_why_and_nothing_is_published(
    fake: FakeInstagram, make: MakeChannel, card: bytes | None, expected: type[DeliveryError], words: str
) -> None:
    fake.images = {CARD: card} if card is not None else {}
    channel = make(fake.url)

    failed = attempt(lambda: channel.publish(post(channel)))

    assert type(failed) is expected and words in failed.reason
    assert isinstance(failed, PermanentError) or (isinstance(failed, TransientError) and not failed.ambiguous)
    assert fake.posts == [] and calls(fake) == [f"POST /{IG_USER}/media"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("2207001", TransientError), ("-2/2207003", TransientError), ("2207009", PermanentError),
     ("2207050", CredentialsError), ("2207999", PermanentError)],
)  # fmt: skip
def test_a_container_that_fails_retries_or_stops_as_its_subcode_says_and_is_never_published(
    fake: FakeInstagram, make: MakeChannel, status: str, expected: type[DeliveryError]
) -> None:
    fake.fail_container(status)
    channel = make(fake.url)

    failed = attempt(lambda: channel.publish(post(channel)))

    assert type(failed) is expected and status in failed.reason
    assert not getattr(failed, "ambiguous", False)
    assert fake.posts == [] and not any(r.path.endswith("media_publish") for r in fake.requests)


def test_a_status_read_that_never_answers_is_a_retry_without_risk_as_nothing_was_published(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    fake.fail("GET", "", hang(5))
    channel = make(fake.url, call_deadline_seconds=0.3)

    failed = attempt(lambda: channel.publish(post(channel)))

    assert isinstance(failed, TransientError) and failed.ambiguous is False
    assert fake.posts == [] and not any(r.path.endswith("media_publish") for r in fake.requests)


def test_a_container_that_expired_before_publishing_is_made_anew_by_the_next_attempt(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    fake.container_life = timedelta(0)
    channel = make(fake.url)

    failed = attempt(lambda: channel.publish(post(channel)))

    assert isinstance(failed, TransientError) and "expired" in failed.reason and failed.ambiguous is False
    assert fake.posts == []
    fake.container_life = timedelta(hours=24)
    channel.publish(post(channel, delivery="d1"))
    assert len(fake.containers) == 2 and len(fake.posts) == 1


def test_a_card_still_processing_after_the_wait_is_retried_later_without_risk(
    fake: FakeInstagram, make: MakeChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(instagram, "PROCESSING_WAIT", 0.05)
    fake.processing_polls = 10**6
    channel = make(fake.url)

    failed = attempt(lambda: channel.publish(post(channel)))

    assert isinstance(failed, TransientError) and "still processing" in failed.reason
    assert failed.ambiguous is False and failed.retry_after == 30
    assert fake.posts == [] and not any(r.path.endswith("media_publish") for r in fake.requests)


# -- what each answer means --------------------------------------------------------------------------


# Each Graph API error answer: which call meets it, what the engine does next, whether the post
# may be out (ambiguous), and how long to wait (the throttles' usage header gives minutes).
GRAPH_ERRORS: list[tuple[str, str, str, Fault, type[DeliveryError], bool, float | None]] = [
    ("token-invalidated", "POST", "/media", graph_error(400, 190, 460, "Error validating access token"),
     CredentialsError, False, None),
    ("instagram-limit", "POST", "/media", throttled(80002, minutes=5), TransientError, False, 300),
    ("app-limit", "POST", "/media", throttled(4, minutes=2), TransientError, False, 120),
    ("user-limit", "POST", "/media", throttled(17, minutes=0), TransientError, False, 60),
    ("page-limit", "POST", "/media", graph_error(400, 32, None, "Page request limit reached"), TransientError, False,
     60),
    ("custom-limit", "POST", "/media", graph_error(400, 613, None, "Calls to this api have exceeded the rate limit."),
     TransientError, False, 60),
    ("permission", "POST", "/media", graph_error(403, 10, None, "(#10) Application does not have permission"),
     CredentialsError, False, None),
    ("permission-200", "POST", "/media", graph_error(400, 200, None, "(#200) Permissions error"), CredentialsError,
     False, None),
    ("account-restricted", "POST", "/media", graph_error(400, 25, 2207050, "The user is inactive"), CredentialsError,
     False, None),
    ("policy-block", "POST", "/media", graph_error(400, 368, None, "Temporarily blocked for policies violations"),
     PermanentError, False, None),
    ("suspected-spam", "POST", "/media", graph_error(400, 4, 2207051, "We restrict certain activity"), PermanentError,
     False, None),
    ("invalid-parameter", "POST", "/media", graph_error(400, 100, None, "(#100) Invalid parameter"), PermanentError,
     False, None),
    ("instagram-server", "POST", "/media", graph_error(400, -1, 2207001, "Instagram server error"), TransientError,
     False, None),
    ("unavailable", "POST", "/media", graph_error(503, 2, None, "Service temporarily unavailable", transient=True),
     TransientError, True, None),
    ("publish-unknown", "POST", "/media_publish", graph_error(500, 1, None, "An unknown error occurred",
     transient=True), TransientError, True, None),
    ("publish-not-ready", "POST", "/media_publish", graph_error(400, 9007, 2207027, "Media ID is not available"),
     TransientError, False, None),
    ("status-read", "GET", "", graph_error(500, 1, None, "An unknown error occurred", transient=True), TransientError,
     False, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "fault", "expected", "ambiguous", "wait"),
    [pytest.param(*row[1:], id=row[0]) for row in GRAPH_ERRORS],
)
def test_each_graph_error_tells_the_engine_what_to_do_next(
    fake: FakeInstagram, make: MakeChannel, method: str, path: str, fault: Fault,
    expected: type[DeliveryError], ambiguous: bool, wait: float | None,
) -> None:  # fmt: skip
    fake.fail(method, path, fault)
    channel = make(fake.url)

    failed = attempt(lambda: channel.publish(post(channel)))

    assert next_step(failed) is expected, failed
    code = fault.body["error"]["code"]
    assert f"code {code}" in failed.reason
    if isinstance(failed, TransientError):
        assert failed.ambiguous is ambiguous
        assert failed.retry_after == wait
    assert fake.posts == []


def test_an_expired_token_stops_the_channel_until_a_person_gives_a_new_one(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    fake.expire(TOKEN)
    channel = make(fake.url)
    failed = attempt(lambda: channel.publish(post(channel)))
    assert type(failed) is CredentialsError and "code 190/463" in failed.reason and "new one" in failed.reason


def test_the_publishing_limit_is_read_from_instagram_and_a_full_day_is_retried_later(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    fake.quota_total = 2
    channel = make(fake.url)
    assert channel.check() == []
    for number in (1, 2):
        channel.publish(post(channel, delivery=f"d{number}"))

    failed = attempt(lambda: channel.publish(post(channel, delivery="d3")))

    assert isinstance(failed, TransientError) and "publishing limit for 24 hours" in failed.reason
    assert failed.retry_after == 600 and failed.ambiguous is False
    assert len(fake.posts) == 2
    assert channel.quota() == (2, 2)
    assert channel.check() == ["the account has published 2 of its 2 posts in 24 hours: more are refused"]


# -- exactly once: the look-up --------------------------------------------------------------------


def test_a_lost_answer_to_media_publish_is_found_by_the_look_up_instead_of_posting_twice(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    fake.fail("POST", "/media_publish", drop_after())
    channel = make(fake.url)
    sent = post(channel)

    failed = attempt(lambda: channel.publish(sent))

    assert isinstance(failed, TransientError) and failed.ambiguous is True
    [published] = fake.posts
    retry = replace(sent, attempt=2, previous_error=failed.reason)
    assert channel.find(retry) == Receipt(platform_id=published.id, url=published.permalink)
    listed = [r for r in fake.requests if r.path == f"/{IG_USER}/media" and r.method == "GET"]
    assert listed[-1].params["fields"] == "id,caption,timestamp,permalink"


def test_the_look_up_finds_nothing_for_another_message_of_the_item_nor_for_posts_older_than_the_delivery(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    channel = make(fake.url)
    alert = post(channel)
    channel.publish(alert)
    update = post(channel, delivery="d2", msg_type="update", references="a1", headline="Sperrgebiet erweitert")

    assert channel.find(replace(update, attempt=2)) is None
    later = replace(alert, attempt=2, created_at=datetime.now(UTC) + timedelta(hours=1))
    assert channel.find(later) is None


def test_the_post_is_out_even_when_its_address_cannot_be_read(fake: FakeInstagram, make: MakeChannel) -> None:
    fake.fail("GET", "", graph_error(500, 2, None, "Service temporarily unavailable", transient=True),
              query="fields=permalink")  # fmt: skip
    channel = make(fake.url)

    receipt = channel.publish(post(channel))

    [published] = fake.posts
    assert receipt.platform_id == published.id and receipt.url is None


# -- withdrawal -------------------------------------------------------------------------------------


def test_with_facebook_login_a_withdrawal_deletes_the_post(fake: FakeInstagram, make: MakeChannel) -> None:
    channel = make(fake.url)
    receipt = channel.publish(post(channel))

    channel.delete(receipt)

    assert fake.posts == []
    assert calls(fake)[-1] == f"DELETE /{receipt.platform_id}"


def test_without_instagram_manage_contents_only_the_deletion_fails_not_the_channel(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    fake.add_token("publish-only", permissions={"instagram_basic", "instagram_content_publish"})
    channel = make(fake.url, secret="publish-only")
    receipt = channel.publish(post(channel))

    failed = attempt(lambda: channel.delete(receipt))

    assert type(failed) is PermanentError and "instagram_manage_contents" in failed.reason
    assert len(fake.posts) == 1


def test_with_instagram_login_a_withdrawal_is_left_to_a_person_naming_the_post(make: MakeChannel) -> None:
    with FakeInstagram(login="instagram", images={CARD: jpeg_bytes()}) as fake:
        channel = make(fake.url, login="instagram")
        receipt = channel.publish(post(channel))
        failed = attempt(lambda: channel.delete(receipt))

    assert type(failed) is PermanentError and "delete it in the Instagram app" in failed.reason
    assert receipt.url is not None and receipt.url in failed.reason
    assert not any(r.method == "DELETE" for r in fake.requests)
    assert len(fake.posts) == 1


# -- tokens that expire -------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_an_instagram_login_token_is_refreshed_a_day_after_herold_first_saw_it_then_weekly_and_used(
    make: MakeChannel,
) -> None:
    clock = Clock(NOW)
    kept = KeptInMemory()
    with FakeInstagram(login="instagram", images={CARD: jpeg_bytes()}, now=NOW) as fake:
        channel = make(fake.url, login="instagram", clock=clock, credentials=kept)

        channel.refresh_credentials()  # first sight: its age is unknown, and it must be a day old
        assert fake.requests == [] and channel.credentials_expire() is None
        clock.now = fake.clock = NOW + timedelta(days=1, minutes=1)
        channel.refresh_credentials()
        [refresh] = fake.requests
        assert refresh.path == "/refresh_access_token" and refresh.params["grant_type"] == "ig_refresh_token"
        assert refresh.params["access_token"] == TOKEN
        assert channel.credentials_expire() == clock.now + timedelta(days=60)
        assert channel.token != TOKEN

        channel.publish(post(channel))
        assert fake.requests[-1].token == channel.token, "the refreshed token is the one used"
        clock.now = fake.clock = NOW + timedelta(days=7)
        channel.refresh_credentials()
        assert sum(r.path == "/refresh_access_token" for r in fake.requests) == 1, "refreshed six days ago: not yet"
        clock.now = fake.clock = NOW + timedelta(days=8, minutes=2)
        again = make(fake.url, login="instagram", clock=clock, credentials=kept)  # after a restart
        again.refresh_credentials()
        assert sum(r.path == "/refresh_access_token" for r in fake.requests) == 2
        assert again.credentials_expire() == clock.now + timedelta(days=60)


def test_a_new_token_given_by_a_person_wins_over_one_refreshed_from_the_old(make: MakeChannel) -> None:
    clock = Clock(NOW)
    kept = KeptInMemory()
    with FakeInstagram(login="instagram", images={CARD: jpeg_bytes()}, now=NOW) as fake:
        channel = make(fake.url, login="instagram", clock=clock, credentials=kept)
        channel.refresh_credentials()
        clock.now = fake.clock = NOW + timedelta(days=2)
        channel.refresh_credentials()
        assert channel.token != TOKEN
        fake.add_token("ein-neuer-token")

        renewed = make(fake.url, login="instagram", clock=clock, credentials=kept, secret="ein-neuer-token")

        assert renewed.token == "ein-neuer-token" and renewed.credentials_expire() is None
        renewed.publish(post(renewed))
        assert fake.requests[-1].token == "ein-neuer-token"


def test_a_token_that_expired_cannot_be_refreshed_and_a_person_is_asked_for_a_new_one(make: MakeChannel) -> None:
    clock = Clock(NOW)
    with FakeInstagram(login="instagram", now=NOW) as fake:
        channel = make(fake.url, login="instagram", clock=clock)
        channel.refresh_credentials()
        clock.now = fake.clock = NOW + timedelta(days=3)
        fake.expire(TOKEN)
        failed = attempt(channel.refresh_credentials)
    assert type(failed) is CredentialsError and "code 190/463" in failed.reason


def test_a_refresh_that_fails_for_now_is_tried_again_later_without_alarm(make: MakeChannel) -> None:
    clock = Clock(NOW)
    with FakeInstagram(login="instagram", now=NOW) as fake:
        channel = make(fake.url, login="instagram", clock=clock)
        channel.refresh_credentials()
        clock.now = fake.clock = NOW + timedelta(days=2)
        fake.fail("GET", "/refresh_access_token", graph_error(503, 2, None, "Service unavailable", transient=True))
        channel.refresh_credentials()
        assert channel.token == TOKEN and channel.credentials_expire() is None
        channel.refresh_credentials()
        assert channel.token != TOKEN


def test_with_facebook_login_nothing_is_refreshed_and_no_expiry_is_claimed(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    channel = make(fake.url, clock=Clock(NOW))
    for _ in range(3):
        channel.refresh_credentials()
    assert fake.requests == [] and channel.credentials_expire() is None


# -- setup and settings -------------------------------------------------------------------------------


def test_the_setup_check_names_a_refused_token_and_plain_http_to_another_machine(
    fake: FakeInstagram, make: MakeChannel
) -> None:
    assert make(fake.url).check() == []
    [refused] = make(fake.url, secret="falsch").check()
    assert "publishing limit" in refused and "code 190" in refused
    assert any("plain http" in p for p in make("http://graph.example.org", secret="falsch").check())
    assert [r.path for r in fake.requests][:1] == [f"/{IG_USER}/content_publishing_limit"]


@pytest.mark.parametrize(
    ("settings", "base"),
    [
        ({}, "https://graph.facebook.com"),
        ({"login": "instagram"}, "https://graph.instagram.com"),
        ({"login": "instagram", "api_base": "http://127.0.0.1:8080/"}, "http://127.0.0.1:8080"),
    ],
)
def test_the_api_address_follows_the_login_unless_set(settings: dict[str, Any], base: str) -> None:
    parsed = InstagramSettings.model_validate({"ig_user_id": IG_USER, "access_token_env": TOKEN_ENV, **settings})
    assert parsed.base == base


@pytest.mark.parametrize(
    "wrong",
    [{"ig_user_id": "@lk_beispiel"}, {"api_version": "25"}, {"login": "threads"}, {"api_base": "ftp://graph"}],
)
def test_a_configuration_mistake_is_refused(wrong: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        InstagramSettings.model_validate({"ig_user_id": IG_USER, "access_token_env": TOKEN_ENV, **wrong})


def test_instagram_takes_the_card_always_and_never_the_announcement_s_own_images() -> None:
    media = Instagram.capabilities.media
    assert media.required and media.takes_card(has_images=True) and media.takes_card(has_images=False)
    assert media.count == 0 and media.types == ("image/jpeg",) and media.alt_text is None
