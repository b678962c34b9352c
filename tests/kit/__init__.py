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
- a hand-off channel prepares the text and images for a person and sends nothing.

What is particular to one platform (payload shapes, threads, media upload) stays in that
channel's own tests, beside its case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from adapters.port import (
    ABILITIES,
    Channel,
    ChannelContext,
    CredentialsError,
    DeliveryError,
    HandOff,
    Idempotency,
    Lookup,
    PermanentError,
    Post,
    TransientError,
)
from publisher.core.render import render
from publisher.domain.announcement import Announcement, parse_announcement
from publisher.domain.authority import Authority, ChannelConfig
from publisher.domain.records import Variant

from fakes.webhook_receiver import Answer, Receiver, Request
from helpers import png_bytes
from services import free_port

SLUG = "lk-beispiel"
CHANNEL_ID = "kanal"
ITEM_URL = "https://www.lk-beispiel.de/warnungen/2026/11/fliegerbombe-1a2b3c4d/"

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
        link=ITEM_URL,
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
        attempt=attempt,
        created_at=datetime.now(UTC),
    )


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
        kind = self.case.kind
        config = ChannelConfig(
            id=CHANNEL_ID,
            type=kind.type,
            settings=kind.Settings.model_validate({**self.case.settings(url), **settings}),
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
            authority=authority, secrets=dict(self.case.secrets), media=media, timeouts=(5.0, 10.0), deadline=10.0
        )
        return kind(config, context)

    def post(self, channel: Channel, delivery: str = "d1", **changes: Any) -> Post:
        return post_for(self.case.kind, channel, parse_announcement({**samples()[0], **changes}), delivery=delivery)

    def publish(self, channel: Channel, post: Post) -> Any:
        if isinstance(channel, HandOff):
            return channel.hand_off(post)
        return channel.publish(post)

    def needs_network(self) -> None:
        if not self.case.network:
            pytest.skip("a hand-off channel sends nothing")

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

    @staticmethod
    def _header(request: Request, name: str) -> str | None:
        return request.headers.get(name.lower())
