"""Manual hand-off: for platforms without a posting API, a person posts what Herold prepared.

WhatsApp Channels have no official API (only unofficial gateways that pair a phone by QR code,
against WhatsApp's terms and known to drop posts); XING pages and nebenan.de have none either.
Authorities post there by hand. Herold does the rest: after the item's page on the own website
exists, the delivery ends in state ``manual`` with the text ready to copy and the images with
their descriptions (``herold status``); the person posts it and confirms it
(``herold confirm ID CHANNEL --url URL`` or the API), which is audited and puts the URL on the
item's page as a copy. A warning nobody confirms within ``hand_off_alarm_minutes`` alerts the
on-call contacts once.
"""

from __future__ import annotations

from pydantic import Field

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
)
from publisher.domain.counting import Graphemes, TextRule


class ManualSettings(ChannelSettings):
    # The platform's text limit, if it has one: the text is shortened to fit, counting every
    # character of links too (what a person pastes is what the app counts). None: the whole text.
    max_characters: int | None = Field(default=None, ge=100, le=100_000)


class Manual(Channel):
    type = "manual"
    label = "Von Hand (WhatsApp-Kanal, XING, nebenan.de)"
    capabilities = Capabilities(
        wave=Wave.other,
        text=None,
        template="channels/manual.j2",
        media=MediaRule(count=4),  # the person attaches them; messengers keep no alt text
        hand_off=True,
        idempotency=Idempotency.natural,  # preparing the same text twice changes nothing
    )
    Settings = ManualSettings
    settings: ManualSettings

    @classmethod
    def text_rule(cls, settings: ChannelSettings, limits: ServerLimits | None) -> TextRule | None:
        assert isinstance(settings, ManualSettings)
        return TextRule(settings.max_characters, Graphemes()) if settings.max_characters else None

    def hand_off(self, post: Post) -> HandOffNote:
        media = [item for item in post.announcement.media if item.path is not None]
        return HandOffNote(
            text=post.variant.text,
            media=[str(item.path) for item in media],
            alt=[item.alt for item in media],
        )

    def publish(self, post: Post) -> Receipt:
        # The engine hands such a channel's deliveries to a person; nothing here posts.
        raise PermanentError("this channel is posted by hand: confirm it with 'herold confirm' once it is out")
