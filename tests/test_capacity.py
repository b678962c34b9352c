"""What a channel takes besides text: images, as its capabilities declare them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from adapters import register, unregister
from adapters.port import Capabilities, Channel, MediaRule, Post, Receipt, Wave
from publisher.core.capacity import Image, Refusal, refusals
from publisher.domain.problems import InvalidInput
from publisher.edges.wiring import Herold
from publisher.engine.schema import AnnouncementRow
from publisher.sources.intake import accept

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, warning
from helpers import png

PHOTO = Image(size=180_000, suffix=".jpg", alt="Lageplan des Sperrgebiets")
INSTAGRAM_LIKE = MediaRule(count=1, max_bytes=8 * 1024 * 1024, types=("image/jpeg",), alt_text=100, required=True)


def test_a_channel_that_needs_an_image_refuses_a_post_without_one() -> None:
    assert refusals(INSTAGRAM_LIKE, "Bildnetz", []) == [
        Refusal("media", "Bildnetz publishes nothing without an image: add one (with its alt text)")
    ]


def test_images_within_what_the_channel_takes_pass() -> None:
    assert refusals(INSTAGRAM_LIKE, "Bildnetz", [PHOTO]) == []


def test_a_text_only_channel_posts_the_text_and_leaves_the_images_to_the_page() -> None:
    assert refusals(MediaRule(count=0), "Textnetz", [PHOTO, PHOTO, PHOTO]) == []


def test_too_many_images_a_type_it_does_not_take_too_many_bytes_and_a_long_alt_text_are_each_named() -> None:
    big_png = Image(size=9 * 1024 * 1024, suffix=".png", alt="x" * 101)
    assert refusals(INSTAGRAM_LIKE, "Bildnetz", [PHOTO, big_png]) == [
        Refusal("media", "Bildnetz takes at most 1 image with a post; this has 2"),
        Refusal("media.1", "Bildnetz takes only JPEG images"),
        Refusal(
            "media.1", "Bildnetz takes images of at most 8.4 MB; this one has 9.4 MB after cleaning: scale it down"
        ),
        Refusal("media.1.alt", "Bildnetz keeps alt texts of at most 100 characters; this one has 101"),
    ]


# -- at intake: refused while the press officer is still there --------------------------------------


class PictureChannel(Channel):
    type = "test-pictures"
    label = "Bildnetz"
    capabilities = Capabilities(wave=Wave.other, media=INSTAGRAM_LIKE)

    def publish(self, post: Post) -> Receipt:
        return Receipt(platform_id="1")


@pytest.fixture
def herold(make_settings: SettingsFactory, make_herold: HeroldFactory) -> Iterator[Herold]:
    register(PictureChannel)
    authority = {**AUTHORITY, "channels": [*AUTHORITY["channels"], {"id": "bilder", "type": "test-pictures"}]}
    try:
        yield make_herold(make_settings(authorities=[authority]))
    finally:
        unregister(PictureChannel.type)


def test_an_announcement_a_chosen_channel_cannot_take_is_refused_and_nothing_is_stored(herold: Herold) -> None:
    with pytest.raises(InvalidInput) as refused:
        accept(herold.engine, warning(), source="test", actor="t")
    assert [str(p) for p in refused.value.problems] == [
        "media: Bildnetz publishes nothing without an image: add one (with its alt text) (channel 'bilder')"
    ]
    with herold.store.engine.begin() as connection:
        assert connection.scalar(select(func.count()).select_from(AnnouncementRow)) == 0


def test_leaving_that_channel_out_or_adding_the_image_lets_it_through(herold: Herold) -> None:
    assert accept(herold.engine, warning(channels=["website"]), source="test", actor="t")
    picture = {"data": png(), "alt": "Lageplan"}
    with pytest.raises(InvalidInput) as refused:
        accept(herold.engine, warning(media=[picture]), source="test", actor="t")
    assert [p.field for p in refused.value.problems] == ["media.0"], "a PNG, where only JPEG is taken"
