"""Manual hand-off: for platforms without a posting API, a person posts what Herold prepared.

WhatsApp Channels have no official API (only unofficial gateways that pair a phone by QR code,
against WhatsApp's terms and known to drop posts); XING pages and nebenan.de have none either.
Authorities post there by hand. Herold does the rest: after the item's page on the own website
exists, the delivery ends in state ``manual`` with the text ready to copy and the images with
their descriptions (``herold status``); the person posts it and confirms it
(``herold confirm ID CHANNEL --url URL`` or the API), which is audited and puts the URL on the
item's page as a copy. A warning nobody confirms within ``hand_off_alarm_minutes`` alerts the
on-call contacts once.

Without an image of its own, the person gets the accessible alert card to post with the text
(publisher.site.card; published on the item's page first). An authority that has contracted a
provider to post for it (there is no official API, so a provider posts by hand or through its
own means) sets ``relay_url``: each hand-off is also sent there as signed JSON (Standard
Webhooks). The hand-off still waits for a confirmation: from the provider through the API, or
from a person; if the provider cannot be reached, the person sees that and posts it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import requests
import structlog
from pydantic import Field, model_validator

from adapters.port import (
    Capabilities,
    Channel,
    ChannelSettings,
    HandOffNote,
    Idempotency,
    MediaRule,
    PermanentError,
    Post,
    Receipt,
    ServerLimits,
    Wave,
    signing,
)
from adapters.port.http import environment_for, loopback, session
from publisher.domain.authority import web_address
from publisher.domain.counting import Graphemes, TextRule

log = structlog.get_logger("herold.manual")


class ManualSettings(ChannelSettings):
    # The platform's text limit, if it has one: the text is shortened to fit, counting every
    # character of links too (what a person pastes is what the app counts). None: the whole text.
    max_characters: int | None = Field(default=None, ge=100, le=100_000)
    # A provider the authority contracted to post for it: each hand-off is also sent there, signed.
    relay_url: str | None = None
    relay_secret_env: str | None = None  # a Standard Webhooks secret (whsec_…)

    @model_validator(mode="after")
    def _relay(self) -> ManualSettings:
        if (self.relay_url is None) != (self.relay_secret_env is None):
            raise ValueError("relay_url and relay_secret_env go together: the provider checks the signature")
        if self.relay_url:
            web_address(self.relay_url)
            if not self.relay_url.startswith("https://") and not loopback(self.relay_url.split("/")[2].split(":")[0]):
                raise ValueError("relay_url must use https (plain http only on this machine)")
        return self


class Manual(Channel):
    type = "manual"
    label = "Von Hand (WhatsApp-Kanal, XING, nebenan.de)"
    capabilities = Capabilities(
        wave=Wave.other,
        text=None,
        template="channels/manual.j2",
        # The person attaches them (messengers keep no alt text); without any, the alert card.
        media=MediaRule(count=4, card="without_image"),
        hand_off=True,
        idempotency=Idempotency.natural,  # preparing the same text twice changes nothing
    )
    Settings = ManualSettings
    settings: ManualSettings

    @classmethod
    def text_rule(cls, settings: ChannelSettings, limits: ServerLimits | None) -> TextRule | None:
        assert isinstance(settings, ManualSettings)
        return TextRule(settings.max_characters, Graphemes()) if settings.max_characters else None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.settings.relay_url
        self.http = environment_for(session(self.deadline), url) if url else None

    def hand_off(self, post: Post) -> HandOffNote:
        media = [item for item in post.announcement.media if item.path is not None]
        note = HandOffNote(
            text=post.variant.text,
            media=[str(item.path) for item in media],
            alt=[item.alt for item in media],
            card=post.card_url,
        )
        return note if self.http is None else HandOffNote(**{**note.__dict__, "relayed": self._relay(post, note)})

    def _relay(self, post: Post, note: HandOffNote) -> str:
        """Send the hand-off to the contracted provider; what came of it, for the person who
        would otherwise post it. Never raises: the hand-off waits for a person either way."""
        assert self.http is not None
        assert self.settings.relay_url
        folder = post.item_url if post.item_url.endswith("/") else post.item_url + "/"
        now = self.context.clock()
        body = signing.body({
            "type": "hand_off", "timestamp": now.isoformat(),
            "data": {
                "id": post.announcement_id, "channel": self.id, "item_url": post.item_url, "text": note.text,
                "card_url": note.card, "language": post.variant.language,
                "media": [{"url": folder + PurePosixPath(path).name, "alt": alt} for path, alt in zip(
                    note.media, note.alt, strict=True)],
                "confirm": f"POST /api/v1/announcements/{post.announcement_id}/channels/{self.id}/confirm",
            },
        })  # fmt: skip
        headers = signing.headers(self.context.secrets["relay_secret"], post.idempotency_key, now, body)
        try:
            answer = self.http.post(self.settings.relay_url, data=body.encode(), headers=headers,
                                    timeout=self.context.timeouts, allow_redirects=False)  # fmt: skip
        except requests.RequestException as error:
            log.warning("the provider could not be reached", channel=self.id, reason=type(error).__name__)
            return f"failed: the provider could not be reached ({type(error).__name__})"
        if not 200 <= answer.status_code < 300:
            log.warning("the provider refused the hand-off", channel=self.id, status=answer.status_code)
            return f"failed: the provider answered {answer.status_code}"
        return "sent"

    def publish(self, post: Post) -> Receipt:
        # The engine hands such a channel's deliveries to a person; nothing here posts.
        raise PermanentError("this channel is posted by hand: confirm it with 'herold confirm' once it is out")
