"""Channel types for testing the engine: they record every call and fail on request.

Register them with `registered()`; configure behaviour per channel in the config:
``{"id": "x", "type": "fake-other", "script": ["500", "500", "ok"]}`` answers the first two
attempts with a transient error and then succeeds. Script words: ok, transient, ambiguous,
permanent, credentials, hang:<seconds>, retry-after:<seconds>.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from adapters import register, unregister
from adapters.port import (
    Capabilities,
    Channel,
    ChannelSettings,
    CredentialsError,
    HandOffNote,
    Idempotency,
    PermanentError,
    Post,
    Receipt,
    TransientError,
    Wave,
)
from publisher.domain.counting import GraphemesShortLinks, TextRule


@dataclass
class Call:
    channel: str
    announcement_id: str
    at: datetime
    website_page_existed: bool
    in_reply_to: Receipt | None
    text: str


@dataclass
class Journal:
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, channel: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.channel == channel]


JOURNAL = Journal()
RELEASE = threading.Event()  # ends every hang at once when a test is over


class FakeSettings(ChannelSettings):
    script: list[str] = []
    website_dir: str | None = None  # where to look for the item page at call time


class _Fake(Channel):
    label = "Fake"
    Settings = FakeSettings
    settings: FakeSettings

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._attempts = 0
        self._lock = threading.Lock()

    def publish(self, post: Post) -> Receipt:
        path = post.variant.link.removeprefix(self.authority.base_url)  # every post links to its item's page
        page = Path(self.context.media) / "site" / self.authority.slug / path / "index.html"
        with self._lock:
            step = self.settings.script[self._attempts] if self._attempts < len(self.settings.script) else "ok"
            self._attempts += 1
        with JOURNAL.lock:
            JOURNAL.calls.append(
                Call(
                    self.id,
                    post.announcement_id,
                    self.context.clock(),
                    page.exists(),
                    post.in_reply_to,
                    post.variant.text,
                )
            )
        word, _, value = step.partition(":")
        if word == "hang":
            RELEASE.wait(float(value))
        elif word == "transient":
            raise TransientError("the platform answered 500")
        elif word == "ambiguous":
            raise TransientError("timed out after sending", ambiguous=True)
        elif word == "retry-after":
            raise TransientError("429 too many requests", retry_after=float(value))
        elif word == "permanent":
            raise PermanentError("the platform answered 422: text too long")
        elif word == "credentials":
            raise CredentialsError("the platform answered 401: the access token is invalid")
        number = f"{post.delivery_id[:8]}"
        return Receipt(platform_id=number, url=f"https://{self.type}.example/{self.id}/{number}")


class FakeWebsite(_Fake):
    """A wave-1 channel that can be told to fail (the real website adapter writes files)."""

    type = "fake-website"
    capabilities = Capabilities(wave=Wave.website, template="channels/website.j2", idempotency=Idempotency.natural)


class FakeFediverse(_Fake):
    type = "fake-fediverse"
    capabilities = Capabilities(
        wave=Wave.fediverse,
        text=TextRule(500, GraphemesShortLinks(), counts_spoiler=True),
        threads=True,
        idempotency=Idempotency.key,
    )

    def reply(self, post: Post) -> Receipt:
        return self.publish(post)


class FakeHandOff(_Fake):
    """A platform without a posting API: a person posts the prepared text."""

    type = "fake-hand-off"
    capabilities = Capabilities(wave=Wave.other, text=TextRule(1000, GraphemesShortLinks()), hand_off=True)

    def hand_off(self, post: Post) -> HandOffNote:
        with JOURNAL.lock:
            JOURNAL.calls.append(
                Call(self.id, post.announcement_id, self.context.clock(), True, None, post.variant.text)
            )
        return HandOffNote(text=post.variant.text)


class FakeOther(_Fake):
    type = "fake-other"
    capabilities = Capabilities(wave=Wave.other, text=TextRule(280, GraphemesShortLinks()), threads=True)

    def reply(self, post: Post) -> Receipt:
        return self.publish(post)


FAKES = (FakeWebsite, FakeFediverse, FakeOther, FakeHandOff)


@contextmanager
def registered() -> Iterator[Journal]:
    for fake in FAKES:
        register(fake)
    with JOURNAL.lock:
        JOURNAL.calls.clear()
    RELEASE.clear()
    try:
        yield JOURNAL
    finally:
        RELEASE.set()
        for fake in FAKES:
            unregister(fake.type)


class Undeletable(Channel):
    """A platform that takes posts, each at an address of its own, and refuses every deletion
    while ``refusing`` (a Telegram bot past its 48 hours): a withdrawal's posts stay up."""

    type, label = "fake-undeletable", "Altplattform"
    capabilities = Capabilities(wave=Wave.other, delete=True)
    refusing = True
    refusing_posts = False  # refuses posts too (a revoked token)
    posted: ClassVar[list[str]] = []  # the announcements it took posts of

    def publish(self, post: Post) -> Receipt:
        if Undeletable.refusing_posts:
            raise PermanentError("the platform answered 400: this account may not post")
        Undeletable.posted.append(post.announcement_id)
        return Receipt(platform_id=post.delivery_id, url=f"https://alt.example/posts/{post.delivery_id[:8]}")

    def delete(self, receipt: Receipt) -> None:
        if Undeletable.refusing:
            raise PermanentError("the platform answered 400: posts older than 48 hours cannot be deleted")


@contextmanager
def undeletable() -> Iterator[type[Undeletable]]:
    """`Undeletable` registered (and refusing) for the block."""
    register(Undeletable)
    Undeletable.refusing, Undeletable.refusing_posts = True, False
    Undeletable.posted.clear()
    try:
        yield Undeletable
    finally:
        unregister(Undeletable.type)
