"""The channel test kit: the contract every channel type keeps, as a table per channel.

A channel's test module describes the platform in one `ChannelCase` and runs the contract by
subclassing `ChannelContract`::

    CASE = ChannelCase(kind=Pigeon, settings=lambda url: {"loft": url}, published=Answer(200, ...))

    class TestPigeonContract(ChannelContract):
        case = CASE

The contract then checks, against the small network double (`Receiver`, a real HTTP server
on 127.0.0.1 that records requests and answers as scripted):

- the abilities a type declares in its capabilities are exactly the ones it implements;
- each error answer of the platform becomes the right next step for the engine (retry,
  stop, stop and flag the credentials), ``Retry-After`` included, in seconds or as a date;
- a network failure before sending is a retry that certainly posted nothing; an answer that
  never comes ends within the call deadline, as an ambiguous retry;
- retries of one delivery carry the same idempotency key, another delivery a new one;
- every variant Herold renders for the type fits the platform's limit as the *platform*
  counts it (the case brings its own count, written from the platform's documentation, not
  Herold's counting module);
- a hand-off channel prepares the text and images for a person and sends nothing;
- a channel only sends: every request of a whole lifecycle (publish, reply, look-up, edit,
  pin, unpin, delete, limits, setup check, as far as it has those abilities) is recorded by the
  double, and none may read other people's data: followers, replies, messages, statistics
  (`READS_OF_OTHERS`, and a case's own ``reads_of_others``; `OWN_READS` are allowed).

What is particular to one platform (payload shapes, threads, media upload) stays in that
channel's own tests, beside its case.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock
from urllib.parse import unquote, urlsplit

import pytest

from adapters.port import (
    ABILITIES,
    AnnouncesLimits,
    Channel,
    ChannelContext,
    CredentialsError,
    Deleting,
    DeliveryError,
    Editing,
    HandOff,
    Idempotency,
    Lookup,
    PermanentError,
    Pinning,
    Post,
    Receipt,
    Threads,
    TransientError,
)
from publisher.core.render import render
from publisher.domain.announcement import Announcement, parse_announcement
from publisher.domain.authority import Authority, ChannelConfig
from publisher.domain.records import Variant
from publisher.site.card import card_name

from fakes.webhook_receiver import Answer, Receiver, Request
from helpers import png_bytes
from services import free_port

SLUG = "lk-beispiel"
CHANNEL_ID = "kanal"
ITEM_PATH = "2026/11/fliegerbombe-1a2b3c4d/"
ITEM_URL = "https://www.lk-beispiel.de/warnungen/" + ITEM_PATH

# What an HTTP platform's error answers mean for the engine, unless a case says otherwise.
STANDARD_ANSWERS: Mapping[int, type[DeliveryError]] = {
    400: PermanentError,
    404: PermanentError,
    410: PermanentError,
    422: PermanentError,
    401: CredentialsError,
    403: CredentialsError,
    408: TransientError,
    425: TransientError,  # "too early": the same request will pass later
    429: TransientError,
    500: TransientError,
    502: TransientError,
    503: TransientError,
    504: TransientError,
}


@dataclass(frozen=True)
class Endpoint:
    """Requests to a platform: a regular expression searched in the request's path and query
    (percent-decoded), for any method unless one is named. ``{own}`` stands for the id of the
    channel's own account."""

    pattern: str
    reason: str
    method: str | None = None

    def matches(self, method: str, target: str, own: str | None = None) -> bool:
        if self.method is not None and method.upper() != self.method:
            return False
        mine = re.escape(own) if own else "(?!)"  # no own id known: nothing is the account's own
        return re.search(self.pattern.replace("{own}", mine), target) is not None


# Send-only (issue 10, privacy): Herold publishes and never reads what other people do or say on
# a platform, nor statistics about them. A channel that asks for any of these fails the contract,
# whatever the answer. Matched anywhere in the path, so an instance under a sub-path is caught too.
READS_OF_OTHERS: tuple[Endpoint, ...] = (
    # Mastodon client API (also GoToSocial, Akkoma, Takahē, Pixelfed)
    Endpoint(r"/api/v1/accounts/[^/?]+/(followers|following)\b", "who follows the account, and whom it follows"),
    Endpoint(r"/api/v1/accounts/(relationships|familiar_followers)\b", "the account's relations to other people"),
    Endpoint(r"/api/v1/accounts/(search|lookup)\b", "looking other people up"),
    Endpoint(r"/api/v1/accounts/[^/?]+", "another account: its profile, posts, lists or followers"),
    Endpoint(r"/api/v1/follow_requests\b", "people asking to follow the account"),
    Endpoint(r"/api/v1/(blocks|mutes)\b", "people the account blocked or muted"),
    Endpoint(r"/api/v1/lists\b", "the account's lists of people"),
    Endpoint(r"/api/v[12]/(directory|suggestions|endorsements)\b", "other people's profiles"),
    Endpoint(r"/api/v[12]/notifications\b", "mentions, replies, favourites and follows by other people"),
    Endpoint(r"/api/v1/conversations\b", "direct messages"),
    Endpoint(r"/api/v1/statuses/[^/?]+/context\b", "the replies to a post"),
    Endpoint(r"/api/v1/statuses/[^/?]+/(favourited_by|reblogged_by)\b", "who favourited or boosted a post"),
    Endpoint(r"/api/v1/timelines/", "other people's posts: home, public, hashtag and list timelines"),
    Endpoint(r"/api/v[12]/search\b", "searching people and posts"),
    Endpoint(r"/api/v[12]/admin/", "moderation data and the server's statistics"),
    Endpoint(r"/api/v1/instance/activity\b", "weekly statistics of the server's users"),
    Endpoint(r"/api/v1/streaming\b", "the live stream of timelines, notifications and messages"),
    # Facebook Graph (and Instagram), X, Threads: the same data under the same words
    Endpoint(r"/insights\b", "statistics of a page or its posts (Facebook Graph, Instagram)"),
    # Reading them; writing one (a reply as the page) sends, it reads nothing.
    Endpoint(r"/comments\b", "comments by other people (Facebook Graph, LinkedIn)", "GET"),
    Endpoint(r"/conversations\b", "private messages (Facebook Messenger)"),
    Endpoint(r"/(followers|following)\b", "who follows the account (Facebook Graph, X, Threads)"),
    Endpoint(r"/mentions\b", "posts by other people that mention the account (X, Threads)"),
    Endpoint(r"/(reactions|likes|liking_users|retweeted_by|quote_tweets)\b", "who reacted to a post"),
    Endpoint(
        r"[?&]fields=[^&]*\b(insights|followers_count|fan_count|comments|reactions|likes|conversations)\b",
        "the same data asked for as fields (Facebook Graph)",
    ),
    # X
    Endpoint(r"/2/dm_(events|conversations)\b", "direct messages (X)"),
    Endpoint(r"/2/users/[^/?]+/(timelines|liked_tweets|blocking|muting)\b", "other people's posts and relations (X)"),
    Endpoint(r"/2/tweets/(search|counts)/", "searching posts, and their statistics (X)"),
    # Bluesky (XRPC methods by name)
    Endpoint(r"/xrpc/app\.bsky\.graph\.", "followers, follows, lists, blocks and mutes (Bluesky)"),
    Endpoint(r"/xrpc/app\.bsky\.feed\.getPostThread\b", "the replies to a post (Bluesky)"),
    Endpoint(r"/xrpc/app\.bsky\.feed\.(getLikes|getRepostedBy|getQuotes)\b", "who reacted to a post (Bluesky)"),
    Endpoint(
        r"/xrpc/app\.bsky\.feed\.(getTimeline|getFeed|getListFeed|searchPosts)\b", "other people's posts (Bluesky)"
    ),
    Endpoint(r"/xrpc/app\.bsky\.actor\.(searchActors\w*|getSuggestions)\b", "looking other people up (Bluesky)"),
    Endpoint(r"/xrpc/app\.bsky\.notification\.", "notifications (Bluesky)"),
    Endpoint(r"/xrpc/chat\.bsky\.", "direct messages (Bluesky chat)"),
    # Telegram Bot API
    Endpoint(r"/getUpdates\b", "messages people sent to the bot or the channel (Telegram)"),
    Endpoint(r"/setWebhook\b", "having those messages pushed to us (Telegram)"),
    Endpoint(r"/getChatMember\w*", "the channel's members and their number (Telegram)"),
    # LinkedIn
    Endpoint(r"/organization\w*Statistics\b", "follower, share and page statistics (LinkedIn)"),
    Endpoint(r"/networkSizes\b", "the number of followers (LinkedIn)"),
    Endpoint(r"/(socialActions|socialMetadata)\b", "comments and reactions on posts (LinkedIn)"),
    # WordPress REST API, also as ?rest_route= (its comments are caught above): only the own user
    Endpoint(r"/wp/v2/users(?!/me([?&]|$))(/|[?&]|$)", "the site's other users (WordPress)"),
    Endpoint(r"/(jetpack/v4|wpcom/v2)/[^?&]*stats\b|/(wp-statistics|koko-analytics)/", "site statistics (WordPress)"),
)

# Reads of the account's OWN data are allowed, and go before READS_OF_OTHERS: after an answer
# that never came, Herold looks for its own copy among the account's recent posts instead of
# posting twice (the look-up, ``find``), and the setup check asks whose token it is.
OWN_POSTS = Endpoint(r"/api/v1/accounts/{own}/statuses(\?|$)", "the account's own recent posts (the look-up)", "GET")
OWN_READS: tuple[Endpoint, ...] = (
    Endpoint(r"/api/v1/accounts/verify_credentials(\?|$)", "whose token it is: the account's own id", "GET"),
    OWN_POSTS,
)


def reads_of_others(
    requests: Iterable[tuple[str, str]], *, own: str | None = None, extra: Sequence[Endpoint] = ()
) -> list[str]:
    """Each request (method, path with query) that reads other people's data, with the reason."""
    found = []
    for method, target in requests:
        seen = unquote(target)
        if any(endpoint.matches(method, seen, own) for endpoint in OWN_READS):
            continue
        for endpoint in (*READS_OF_OTHERS, *extra):
            if endpoint.matches(method, seen, own):
                found.append(f"{method} {target}: {endpoint.reason}")
                break
    return found


@dataclass(frozen=True)
class ChannelCase:
    """One channel type, as the contract needs to know it."""

    kind: type[Channel]
    settings: Callable[[str], dict[str, Any]]  # its config keys, given the double's base URL
    secrets: Mapping[str, str] = field(default_factory=dict)  # by key without "_env"
    published: Answer = field(default_factory=Answer)  # the platform's answer to a post that went out
    answers: Mapping[int, type[DeliveryError]] = field(default_factory=dict)  # beyond STANDARD_ANSWERS
    idempotency_header: str | None = None  # the request header a platform deduplicates by
    # The platform's own count of a variant (its text, and its content warning where that
    # counts), and its limit; None where the platform has no limit.
    counted: Callable[[Variant], int] | None = None
    limit: int | None = None
    limit_with_media: int | None = None
    reads_of_others: Sequence[Endpoint] = ()  # the platform's own, beyond READS_OF_OTHERS
    # The authority has the built-in website too (ChannelContext.site): a wave-1 channel beside it
    # (WordPress) may then publish at an address of its own, here the double's.
    built_in_site: bool = False
    # False: the platform speaks no HTTP (SFTP), so the HTTP double cannot play it; the tests that
    # need the double skip, and the channel's own tests play the platform.
    http: bool = True

    @property
    def network(self) -> bool:
        return not issubclass(self.kind, HandOff)

    def table(self) -> dict[int, type[DeliveryError]]:
        return {**STANDARD_ANSWERS, **self.answers}


def samples() -> list[dict[str, Any]]:
    """Announcements that stretch a platform's limit: long, short, links, emoji, tags, an image."""
    words = "Die Entschärfung beginnt um 10 Uhr und dauert voraussichtlich bis in den Nachmittag."
    base: dict[str, Any] = {
        "authority": SLUG,
        "kind": "warning",
        "category": "safety",
        "event": "Bombenentschärfung",
        "severity": "severe",
        "headline": "Fliegerbombe in der Altstadt",
        "instruction": "Verlassen Sie das Sperrgebiet bis 10 Uhr.",
        "area": {"description": "Altstadt rund um die Marktstraße"},
    }
    return [
        {**base, "description": "Eine kurze Meldung."},
        {**base, "description": " ".join([words] * 60), "area": {"description": "Altstadt " * 40},
         "hashtags": ["Bombe", "Altstadt", "Evakuierung"]},
        {**base, "description": "Mehr unter https://www.lk-beispiel.de/bombe und https://example.org/" + "x" * 300
         + " " + "🧯👩‍🚒 " * 200},
        {**base, "headline": "Sturmwarnung 🌪️ " * 3, "description": "Ä" * 4000, "hashtags": ["Sturm"]},
        {**base, "kind": "news", "severity": None, "description": words * 3,
         "media": [{"path": "bild.png", "alt": "Lageplan des Sperrgebiets"}]},
    ]  # fmt: skip


def post_for(
    kind: type[Channel], channel: Channel, announcement: Announcement, *, delivery: str = "d1", attempt: int = 1
) -> Post:
    rule = kind.text_rule(channel.settings, None)
    variant = render(
        announcement,
        channel=channel.id,
        template=kind.capabilities.template,
        link=channel.authority.url(ITEM_PATH),  # ITEM_URL, for the kit's own authority
        rule=rule,
        spoiler=kind.spoiler(channel.settings, announcement),
    )
    return Post(
        delivery_id=delivery,
        idempotency_key=f"herold-{delivery}",
        announcement_id="a1",
        announcement=announcement,
        variant=variant,
        item_id="a1",
        item_url=channel.authority.url(ITEM_PATH),
        attempt=attempt,
        created_at=datetime.now(UTC),
        # As the engine hands it: the alert card beside the item's page, where the type takes one.
        card_url=channel.authority.url(ITEM_PATH) + card_name("a1")
        if kind.capabilities.media.takes_card(has_images=bool(announcement.media))
        else None,
    )


def make_channel(case: ChannelCase, url: str, media: Path, **settings: Any) -> Channel:
    """A channel of the case's type, pointed at ``url``, its images in ``media``."""
    kind = case.kind
    config = ChannelConfig(
        id=CHANNEL_ID, type=kind.type, settings=kind.Settings.model_validate({**case.settings(url), **settings})
    )
    authority = Authority(
        slug=SLUG,
        name="Landkreis Beispiel",
        base_url="https://www.lk-beispiel.de/warnungen/",
        impressum_url="https://www.lk-beispiel.de/impressum",
        privacy_url="https://www.lk-beispiel.de/datenschutz",
        channels=[config],
    )
    context = ChannelContext(
        authority=authority, secrets=dict(case.secrets), media=media, timeouts=(5.0, 10.0), deadline=10.0,
        site=media / "site" if case.built_in_site else None,
    )  # fmt: skip
    return kind(config, context)


# -- send-only: a whole lifecycle, every request recorded ---------------------------------------


def address_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


class Platform(Receiver):
    """The double for a whole lifecycle: a `Receiver` at the server's root that answers every
    request with ``published``, records requests of every method (the plain receiver answers
    only GET, POST and PUT; any other would get a 501 and go unrecorded), and answers a read of
    the account's own posts (`OWN_POSTS`) with a list holding that one answer. The account is
    the one ``published`` names by its ``id``, if it does."""

    def __init__(self, published: Answer) -> None:
        super().__init__(default=published, path="")
        try:
            named = json.loads(published.body)
        except ValueError:
            named = None
        self.own = str(named["id"]) if isinstance(named, dict) and "id" in named else None
        self._own_posts = replace(published, body=b"[" + published.body + b"]")

    def __enter__(self) -> Platform:
        self.start()
        return self

    @property
    def address(self) -> tuple[str, int]:
        return address_of(self.url)

    def _next(self, request: Request) -> Answer:
        answer = super()._next(request)
        if self.own and answer is self.default and OWN_POSTS.matches(request.method, request.path, self.own):
            return self._own_posts
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        served = super()._handler()

        def any_method(handler: BaseHTTPRequestHandler, name: str) -> Any:
            if name.startswith("do_"):  # http.server looks up do_<METHOD>
                return handler._serve  # type: ignore[attr-defined] # the receiver's handler has it
            raise AttributeError(name)

        return type("AnyMethod", (served,), {"__getattr__": any_method})


@contextmanager
def connections_only_to(*addresses: tuple[str, int]) -> Iterator[list[str]]:
    """Every connection this thread opens meanwhile goes to one of ``addresses`` (the doubles,
    which record their requests) or is refused and listed: a request that went elsewhere would not be
    recorded. Only this thread: channels call the platform in the thread that asks them."""
    elsewhere: list[str] = []
    caller = threading.get_ident()
    connect = socket.socket.connect

    def guarded(sock: socket.socket, target: Any) -> None:
        if (
            threading.get_ident() == caller
            and sock.family in (socket.AF_INET, socket.AF_INET6)
            and (target[0], target[1]) not in addresses
        ):
            elsewhere.append(f"{target[0]}:{target[1]}")
            raise ConnectionRefusedError(f"the send-only test lets the channel reach the double only, not {target}")
        connect(sock, target)

    with mock.patch.object(socket.socket, "connect", guarded):
        yield elsewhere


def lifecycle(channel: Channel) -> dict[str, str]:
    """Everything the engine may ask of a channel over one item's life, as far as the channel
    has the ability: publish (with an image), reply, the look-up after a lost answer, edit (also
    of a copy known only by its id), pin, unpin, delete, the server's limits, the setup check.
    The publication must go out; a later step may end in a DeliveryError (a double answers
    every request alike, and cannot play every part). Returns how each step ended. The
    channel's media folder must hold ``bild.png``."""
    kind = type(channel)
    steps: dict[str, str] = {}
    reply: Receipt | None = None

    def step(name: str, action: Callable[[], Any]) -> Any:
        try:
            result = action()
        except DeliveryError as error:
            steps[name] = f"{type(error).__name__}: {error.reason}"
            return None
        steps[name] = "ok"
        return result

    def post(sample: int, delivery: str, **changes: Any) -> Post:
        announcement = parse_announcement({**samples()[sample], **changes})
        return post_for(kind, channel, announcement, delivery=delivery)

    first = post(4, "d1")
    receipt = channel.publish(first)
    steps["publish"] = "ok"
    if isinstance(channel, Threads):
        follow_up = replace(post(0, "d2"), in_reply_to=receipt, thread=(receipt,))
        reply = step("reply", lambda: channel.reply(follow_up))
    if isinstance(channel, Lookup):
        step("find", lambda: channel.find(replace(first, attempt=2, previous_error="no answer within the deadline")))
    if isinstance(channel, Editing):
        corrected = post(4, "d3", headline="Berichtigung: Fliegerbombe in der Altstadt")
        step("edit", lambda: channel.edit(receipt, corrected))
        bare = Receipt(platform_id=receipt.platform_id, url=receipt.url)
        step("edit a copy known by its id only", lambda: channel.edit(bare, corrected))
    if isinstance(channel, Pinning):
        step("pin", lambda: channel.pin(receipt))
        step("unpin", lambda: channel.unpin(receipt))
    if isinstance(channel, Deleting):
        if reply is not None:
            step("delete the reply", lambda: channel.delete(reply))
        step("delete", lambda: channel.delete(receipt))
    if isinstance(channel, AnnouncesLimits):
        step("read_limits", channel.read_limits)
    step("check", channel.check)
    channel.close()
    return steps


class ChannelContract:
    """The tests every channel type passes. Subclass it with ``case = ChannelCase(...)``."""

    case: ClassVar[ChannelCase]

    # -- set-up ------------------------------------------------------------------------------

    @pytest.fixture
    def double(self) -> Iterator[Receiver]:
        with Receiver(default=self.case.published) as receiver:
            yield receiver

    @pytest.fixture
    def media(self, tmp_path: Path) -> Path:
        (tmp_path / "bild.png").write_bytes(png_bytes())
        return tmp_path

    def channel(self, url: str, media: Path, **settings: Any) -> Channel:
        return make_channel(self.case, url, media, **settings)

    def post(self, channel: Channel, delivery: str = "d1", **changes: Any) -> Post:
        return post_for(self.case.kind, channel, parse_announcement({**samples()[0], **changes}), delivery=delivery)

    def publish(self, channel: Channel, post: Post) -> Any:
        if isinstance(channel, HandOff):
            return channel.hand_off(post)
        return channel.publish(post)

    def needs_network(self) -> None:
        if not self.case.network:
            pytest.skip("a hand-off channel sends nothing")
        if not self.case.http:
            pytest.skip("the platform speaks no HTTP: the channel's own tests play it")

    # -- the contract ------------------------------------------------------------------------

    def test_it_declares_exactly_the_abilities_it_implements(self) -> None:
        for name, ability in ABILITIES.items():
            declared = getattr(self.case.kind.capabilities, name)
            assert declared == issubclass(self.case.kind, ability), f"capabilities.{name} says {declared}"
        if self.case.kind.capabilities.idempotency is Idempotency.lookup:
            assert issubclass(self.case.kind, Lookup), "exactly once by looking up needs find()"

    def test_a_post_that_went_out_gives_a_receipt_with_the_platform_s_id(self, double: Receiver, media: Path) -> None:
        self.needs_network()
        channel = self.channel(double.url, media)
        receipt = channel.publish(self.post(channel))
        assert receipt.platform_id
        assert len(double.requests) >= 1

    def test_each_error_answer_tells_the_engine_what_to_do_next(self, double: Receiver, media: Path) -> None:
        self.needs_network()
        channel = self.channel(double.url, media)
        wrong = {}
        for status, expected in self.case.table().items():
            double.answer(Answer(status, body=b'{"error": "refused"}', headers={"Content-Type": "application/json"}))
            try:
                channel.publish(self.post(channel))
            except DeliveryError as error:
                if type(error) is not expected:
                    wrong[status] = type(error).__name__
            else:
                wrong[status] = "succeeded"
        assert wrong == {}, "status → what the channel made of it, where it differs from the table"

    @pytest.mark.parametrize("status", [429, 503])
    def test_retry_after_is_passed_on_in_seconds_or_as_a_date(self, double: Receiver, media: Path, status: int) -> None:
        self.needs_network()
        channel = self.channel(double.url, media)
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
        for value, expected in (("120", 120.0), (later, 90.0)):
            double.answer(Answer(status, retry_after=value))
            with pytest.raises(TransientError) as failed:
                channel.publish(self.post(channel))
            assert failed.value.retry_after == pytest.approx(expected, abs=3)

    def test_a_retry_carries_the_same_idempotency_key_and_another_delivery_a_new_one(
        self, double: Receiver, media: Path
    ) -> None:
        self.needs_network()
        header = self.case.idempotency_header
        if header is None:
            pytest.skip("the platform deduplicates nothing; the channel looks up instead")
        channel = self.channel(double.url, media)
        double.answer(Answer(503))
        with pytest.raises(TransientError):
            channel.publish(self.post(channel))
        channel.publish(self.post(channel))
        channel.publish(self.post(channel, delivery="d2"))
        keys = [self._header(r, header) for r in double.requests if r.method == "POST"]
        assert keys[0] == keys[1] != keys[2]
        assert keys[0] and keys[2]

    def test_an_unreachable_platform_is_a_retry_that_certainly_posted_nothing(self, media: Path) -> None:
        self.needs_network()
        channel = self.channel(f"http://127.0.0.1:{free_port()}", media)  # nobody listens there
        with pytest.raises(TransientError) as failed:
            channel.publish(self.post(channel))
        assert failed.value.ambiguous is False

    def test_an_answer_that_never_comes_ends_within_the_call_deadline_as_an_ambiguous_retry(
        self, double: Receiver, media: Path
    ) -> None:
        self.needs_network()
        channel = self.channel(double.url, media, call_deadline_seconds=0.5)
        double.answer(Answer(200, hang=10))
        started = time.monotonic()
        with pytest.raises(TransientError) as failed:
            channel.publish(self.post(channel))
        assert time.monotonic() - started < 2.5
        assert failed.value.ambiguous is True, "the platform had the whole request"

    @pytest.mark.parametrize("sample", range(len(samples())))
    def test_every_variant_fits_the_limit_as_the_platform_counts(self, media: Path, sample: int) -> None:
        if self.case.counted is None:
            pytest.skip("the platform has no text limit")
        channel = self.channel("http://127.0.0.1:9", media)
        announcement = parse_announcement(samples()[sample])
        post = post_for(self.case.kind, channel, announcement)
        limit = self.case.limit_with_media if announcement.media and self.case.limit_with_media else self.case.limit
        assert limit is not None
        assert self.case.counted(post.variant) <= limit
        assert ITEM_URL in post.variant.text, "every post links back to the item's own page"

    def test_a_hand_off_prepares_text_and_images_for_a_person_and_sends_nothing(
        self, double: Receiver, media: Path
    ) -> None:
        if self.case.network:
            pytest.skip("the channel posts by itself")
        channel = self.channel(double.url, media)
        assert isinstance(channel, HandOff)
        announcement = parse_announcement(samples()[4])
        note = channel.hand_off(post_for(self.case.kind, channel, announcement))
        assert ITEM_URL in note.text
        assert list(note.media) == ["bild.png"]
        assert list(note.alt) == ["Lageplan des Sperrgebiets"]
        assert double.requests == []

    def test_a_full_lifecycle_only_sends_and_never_reads_other_people_s_data(self, media: Path) -> None:
        self.needs_network()
        with Platform(self.case.published) as platform, connections_only_to(platform.address) as elsewhere:
            steps = lifecycle(self.channel(platform.url, media))
        requests = [(r.method, r.path) for r in platform.requests]
        assert requests, "the double recorded nothing: where did the channel send its post?"
        assert not elsewhere, f"connections around the double, unrecorded: {elsewhere}"
        found = reads_of_others(requests, own=platform.own, extra=self.case.reads_of_others)
        assert not found, "\n".join(["reads of other people's data:", *found, f"in a lifecycle that went {steps}"])

    @staticmethod
    def _header(request: Request, name: str) -> str | None:
        return request.headers.get(name.lower())
