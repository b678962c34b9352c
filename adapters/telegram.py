"""Telegram: the authority's channel, through the Bot API, as a bot that is the channel's admin.

Each announcement becomes one channel post: a text message, a photo with the text as its caption,
or an album of up to four photos with the caption on the first. Follow-ups reply to the earlier
post (``reply_parameters``; a follow-up whose original was deleted by hand still goes out);
corrections edit the text or caption in place (channel posts can be edited at any age); a
withdrawal edits or deletes the earlier posts (``on_withdrawal``); an active warning is pinned.

Text: the template renders plain text, and this module makes Telegram HTML of it at the last
moment: every ``&``, ``<`` and ``>`` escaped, the first line bold, the line with the link to the
item's page an explicit link. So what the text rule counts (the variant's text) is exactly the
text people see: Telegram counts a message "after entities parsing" (markup removed, entities
such as ``&amp;`` decoded). The Bot API server counts that text in code points (TDLib:
``utf8_length`` against ``message_text_length_max`` 4,096 and ``message_caption_length_max``
1,024); Herold counts UTF-16 code units, as Telegram's own entity offsets do, which is never
fewer, so a text that fits Herold fits Telegram whichever of the two it applies.

Images: uploaded from Herold's store (multipart), 10 MB at most per photo. Telegram has no alt
text for photos; the alt text stays on the item's page, which every post links to.

Not possible for a bot, and so not done: looking up its own earlier posts (the Bot API has no
method that reads a channel's messages; ``getUpdates`` would read what others post and is not
ours to consume), so after an answer that never came a warning is sent again (at least once;
news waits for a person, see docs/channels.md); deleting a post older than 48 hours (TDLib
refuses it for bots: "message can't be deleted"), which then stays for a person to delete by
hand; muting a pin (pins never notify in channels).

Errors: Telegram answers ``{"ok": false, "error_code": N, "description": "...", "parameters":
{"retry_after": S}}``. Most refusals are 400 "Bad Request: …" and only the description tells
them apart, so they are read from a table of the Bot API server's own descriptions
(tdlib/telegram-bot-api Client.cpp and the TDLib texts it passes on), never guessed.

The bot token is part of every request's address (``/bot<token>/method``): no reason, log line
or exception chain this module makes carries a URL.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from pydantic import Field, field_validator

from adapters.port import (
    Capabilities,
    Channel,
    ChannelSettings,
    CredentialsError,
    DeliveryError,
    Idempotency,
    MediaRule,
    PermanentError,
    Post,
    Receipt,
    TransientError,
    Wave,
    error_for_exception,
    error_for_status,
    retry_after,
)
from adapters.port.http import environment_for, loopback, session
from publisher.domain.announcement import Kind, Media
from publisher.domain.authority import web_address
from publisher.domain.counting import TextRule, Utf16Units

API_BASE = "https://api.telegram.org"
TEXT_LIMIT = 4096  # sendMessage: "1-4096 characters after entities parsing"
CAPTION_LIMIT = 1024  # sendPhoto/sendMediaGroup: "0-1024 characters after entities parsing"
PHOTO_BYTES = 10_000_000  # sendPhoto: "The photo must be at most 10 MB in size"
ALBUM = 4  # photos per post: sendMediaGroup takes 2-10; Herold's announcements carry at most 4
DELETE_HOURS = 48  # deleteMessage: "A message can only be deleted if it was sent less than 48 hours ago"
REASON_CHARACTERS = 300  # of Telegram's description, kept in the delivery's last error
# What the bot needs in the channel (TDLib: a bot edits and deletes its own channel posts with the
# right to post; pinning in a channel takes the right to edit others' messages).
RIGHTS = 'with the right "Post messages", and "Edit messages of others" for pinning warnings'
MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
CHAT = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$|^-100[0-9]{1,16}$")
TOKEN = re.compile(r"^[0-9]+:[A-Za-z0-9_-]{20,}$")  # BotFather's form: "<bot id>:<secret>"

Outcome = Literal["unchanged", "gone", "undeletable", "not_text", "no_rights", "no_chat", "lacks_right", "too_long"]

# What the Bot API server's descriptions mean (without "Bad Request: ", lower case, by how they
# begin). Sources: tdlib/telegram-bot-api telegram-bot-api/Client.cpp (fail_query_with_error,
# check_message's "<message type> not found") and TDLib td/telegram/MessagesManager.cpp,
# DialogManager.cpp, MessageContent.cpp, whose texts it passes on with the first letter lowered.
DESCRIPTIONS: tuple[tuple[str, Outcome], ...] = (
    ("message is not modified", "unchanged"),  # an edit to what the post already says
    ("message to delete not found", "gone"),
    ("message to unpin not found", "gone"),
    ("message can't be deleted", "undeletable"),  # bots: only within 48 hours
    ("there is no text in the message to edit", "not_text"),  # a photo: its caption is edited instead
    ("need administrator rights in the channel chat", "no_rights"),  # may not post at all
    ("chat not found", "no_chat"),  # a wrong chat_id, or a private channel the bot is no longer in
    ("not enough rights", "lacks_right"),  # e.g. "… to manage pinned messages in the chat"
    ("message is too long", "too_long"),
    ("message caption is too long", "too_long"),
)


def outcome_of(description: str) -> Outcome | None:
    """What a refusal means, from the Bot API's description ("Bad Request: chat not found")."""
    text = description.split(": ", 1)[1] if description.startswith("Bad Request: ") else description
    text = text.strip().lower()
    return next((outcome for start, outcome in DESCRIPTIONS if text.startswith(start)), None)


def telegram_html(text: str, link: str) -> str:
    """The variant as Telegram HTML whose visible text is exactly ``text``: every character
    escaped (Telegram decodes ``&lt`` even without its ";", so every "&" is escaped too), the
    first line bold, and a line that is the item's ``link`` made an explicit link to it (a bare
    URL is linked by Telegram's own detection, which may end it elsewhere)."""
    lines = text.split("\n")
    marked = []
    for number, line in enumerate(lines):
        shown = html.escape(line, quote=False)
        if link and line == link:
            shown = f'<a href="{html.escape(link, quote=True)}">{shown}</a>'
        elif number == 0 and line.strip():
            shown = f"<b>{shown}</b>"
        marked.append(shown)
    return "\n".join(marked)


class TelegramSettings(ChannelSettings):
    bot_token_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # variable holding BotFather's token
    # The channel: "@name" for a public one, its numeric id ("-100…") for a private one.
    chat_id: str
    api_base: str = API_BASE  # a self-hosted Bot API server (tdlib/telegram-bot-api) instead
    link_preview: bool = True  # a preview of the item's page under text posts
    quiet_news: bool = True  # news arrives without a sound; warnings always with one
    pin_warnings: bool = True
    # What a withdrawal does to the earlier posts: "edit" marks them withdrawn (at any age),
    # "delete" removes them (bots: only within 48 hours; older ones are left for a person).
    on_withdrawal: Literal["edit", "delete"] = "edit"

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: Any) -> str:
        chat = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if not CHAT.match(chat):
            raise ValueError(f'is the channel\'s "@name", or for a private channel its id "-100…" (got "{value}")')
        return chat

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        return web_address(value).rstrip("/")


@dataclass(frozen=True)
class _Refusal:
    """A refusal the caller said it handles itself (an edit that changes nothing, a post gone)."""

    outcome: Outcome
    description: str


_GONE_OR_TOO_OLD: tuple[Outcome, ...] = ("gone", "undeletable")


class TelegramChannel(Channel):
    type = "telegram"
    label = "Telegram"
    capabilities = Capabilities(
        wave=Wave.other,
        text=TextRule(TEXT_LIMIT, Utf16Units(), limit_with_media=CAPTION_LIMIT),
        template="channels/telegram.j2",
        media=MediaRule(count=ALBUM, max_bytes=PHOTO_BYTES, alt_text=None),  # no alt text on Telegram
        threads=True,
        edit=True,
        delete=True,
        pin=True,
        idempotency=Idempotency.none,  # no key, and a bot cannot read the channel to look
    )
    Settings = TelegramSettings
    settings: TelegramSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = environment_for(session(self.deadline), self.settings.api_base)

    @classmethod
    def pins(cls, settings: ChannelSettings) -> bool:
        return isinstance(settings, TelegramSettings) and settings.pin_warnings

    # -- posting ----------------------------------------------------------------------------

    def reply(self, post: Post) -> Receipt:
        """A follow-up: a post replying to the channel's copy of the earlier message."""
        return self.publish(post)

    def publish(self, post: Post) -> Receipt:
        text = telegram_html(post.variant.text, post.variant.link)
        fields: dict[str, Any] = {"chat_id": self.settings.chat_id}
        if post.in_reply_to is not None:
            # Deleted by hand meanwhile: the follow-up still goes out, as a post of its own.
            fields["reply_parameters"] = {"message_id": _id(post.in_reply_to.platform_id),
                                          "allow_sending_without_reply": True}  # fmt: skip
        if self.settings.quiet_news and post.announcement.kind is Kind.news:
            fields["disable_notification"] = True
        images = [media for media in post.announcement.media if media.path]
        if not images:
            fields |= {"text": text, "parse_mode": "HTML", "link_preview_options": self._preview(post)}
            return self._receipt(self._call("sendMessage", fields, post=post), "text")
        if len(images) == 1:
            fields |= {"caption": text, "parse_mode": "HTML"}
            sent = self._call("sendPhoto", fields, {"photo": self._photo(images[0])}, post=post)
            return self._receipt(sent, "photo")
        album: list[dict[str, Any]] = [{"type": "photo", "media": f"attach://photo{n}"} for n in range(len(images))]
        album[0] |= {"caption": text, "parse_mode": "HTML"}  # the album's caption is its first photo's
        files = {f"photo{n}": self._photo(image) for n, image in enumerate(images)}
        sent = self._call("sendMediaGroup", {**fields, "media": album}, files, post=post)
        if not isinstance(sent, list) or not sent:
            raise PermanentError("the Bot API answered sendMediaGroup without the messages it sent")
        return self._receipt(sent[0], "album", album=[message.get("message_id") for message in sent])

    def _preview(self, post: Post) -> dict[str, Any]:
        # Of the item's page, not of whichever link comes first (a description may carry others).
        return {"url": post.variant.link} if self.settings.link_preview else {"is_disabled": True}

    def _photo(self, media: Media) -> tuple[str, bytes, str]:
        assert media.path is not None
        path = self.context.media / media.path
        try:
            data = path.read_bytes()
        except OSError as error:
            raise PermanentError(
                f"the image {media.path} cannot be read from Herold's store ({error.strerror})"
            ) from None
        return path.name, data, MIME.get(path.suffix.lower(), "application/octet-stream")

    def _receipt(self, message: Any, kind: str, album: Sequence[Any] = ()) -> Receipt:
        if not isinstance(message, dict) or not isinstance(message.get("message_id"), int):
            raise PermanentError("the Bot API answered without the id of the message it sent")
        chat: Mapping[str, Any] = message["chat"] if isinstance(message.get("chat"), dict) else {}
        refs = {
            "chat": str(chat.get("id") or self.settings.chat_id),
            "kind": kind,
            "date": str(message.get("date", "")),
        }
        if album:
            refs["album"] = ",".join(str(number) for number in album if isinstance(number, int))
        return Receipt(
            platform_id=str(message["message_id"]), url=self._address(chat, message["message_id"]), refs=refs
        )

    def _address(self, chat: Mapping[str, Any], message_id: int) -> str | None:
        """The post's t.me address: public channels by name; private ones by id, for members."""
        name = chat.get("username") or self.settings.chat_id.removeprefix("@")
        if not str(name).startswith("-"):
            return f"https://t.me/{name}/{message_id}"
        return f"https://t.me/c/{str(chat.get('id') or name).removeprefix('-100')}/{message_id}"

    # -- the rest of a post's life ------------------------------------------------------------

    def edit(self, receipt: Receipt, post: Post) -> Receipt:
        """The post's text (or a photo's caption) in place: a correction, or a withdrawal's mark.
        A copy known only by its id is tried as text first, then as a caption."""
        text = telegram_html(post.variant.text, post.variant.link)
        target = {"chat_id": self._chat(receipt), "message_id": _id(receipt.platform_id), "parse_mode": "HTML"}
        if receipt.refs.get("kind") not in {"photo", "album"}:
            fields = {**target, "text": text, "link_preview_options": self._preview(post)}
            answer = self._call("editMessageText", fields, handled={"unchanged", "not_text"}, post=post)
            if not (isinstance(answer, _Refusal) and answer.outcome == "not_text"):
                return receipt
        self._call("editMessageCaption", {**target, "caption": text}, handled={"unchanged"}, post=post)
        return receipt

    def delete(self, receipt: Receipt) -> None:
        """The post (an album: all its photos); one already gone is what was asked for. Bots may
        delete only what they posted within the last 48 hours: an older post is refused with a
        reason that says to delete it by hand."""
        ids = [_id(number) for number in receipt.refs.get("album", "").split(",") if number]
        ids = ids or [_id(receipt.platform_id)]
        chat, handled = self._chat(receipt), _GONE_OR_TOO_OLD
        if len(ids) > 1:
            answer = self._call("deleteMessages", {"chat_id": chat, "message_ids": ids}, handled=handled)
        else:
            answer = self._call("deleteMessage", {"chat_id": chat, "message_id": ids[0]}, handled=handled)
        if isinstance(answer, _Refusal) and answer.outcome == "undeletable":
            raise PermanentError(self._undeletable(receipt))

    def _undeletable(self, receipt: Receipt) -> str:
        where = receipt.url or f"message {receipt.platform_id}"
        age = ""
        sent = receipt.refs.get("date", "")
        if sent.isdigit():
            now = self.context.clock()
            now = now if now.tzinfo else now.astimezone()  # a naive clock is the machine's local time
            hours = (now - datetime.fromtimestamp(int(sent), UTC)).total_seconds() / 3600
            age = f", and this one is {hours:.0f} hours old"
        return (
            f"Telegram refused to delete {where}: a bot may delete a channel post only within "
            f"{DELETE_HOURS} hours of posting it{age}. Delete it by hand in the channel (an admin can)"
        )

    def pin(self, receipt: Receipt) -> None:
        # Pins never notify anyone in a channel (Bot API, pinChatMessage), whatever is asked.
        self._call("pinChatMessage", {"chat_id": self._chat(receipt), "message_id": _id(receipt.platform_id),
                                      "disable_notification": True})  # fmt: skip

    def unpin(self, receipt: Receipt) -> None:
        # A post deleted meanwhile is pinned no more: what was asked for.
        self._call("unpinChatMessage", {"chat_id": self._chat(receipt), "message_id": _id(receipt.platform_id)},
                   handled={"gone"})  # fmt: skip

    def _chat(self, receipt: Receipt) -> str:
        # The chat the post went to, even if chat_id was changed since (from "@name" to its id).
        return receipt.refs.get("chat") or self.settings.chat_id

    def check(self) -> list[str]:
        """The setup, with calls that change nothing: the address, whose token it is (getMe) and
        whether the bot sees the channel (getChat)."""
        problems = []
        parts = urlsplit(self.settings.api_base)
        if parts.scheme == "http" and not loopback(parts.hostname):
            problems.append(
                f"api_base {self.settings.api_base} is plain http to another machine: the bot token is part of "
                "every request's address and would travel readable; use https"
            )
        token = self.context.secrets.get("bot_token", "")
        if not TOKEN.match(token):
            return [*problems, f'{self.settings.bot_token_env} holds no bot token from @BotFather ("123456:ABC…")']
        try:
            me = self._call("getMe", {})
            if not (isinstance(me, dict) and me.get("is_bot") is True):
                problems.append(f"the token in {self.settings.bot_token_env} is not a bot's")
            chat = self._call("getChat", {"chat_id": self.settings.chat_id})
        except DeliveryError as error:
            return [*problems, error.reason]
        kind = chat.get("type") if isinstance(chat, dict) else None
        if kind != "channel":
            problems.append(f"chat_id {self.settings.chat_id} is not a channel (Telegram says: {kind or 'no type'})")
        return problems

    def close(self) -> None:
        self.http.close()

    # -- the Bot API ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        fields: Mapping[str, Any],
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        *,
        handled: Collection[Outcome] = (),
        post: Post | None = None,
    ) -> Any:
        """One Bot API call: its ``result``, or the refusal if its outcome is ``handled`` by the
        caller; any other refusal as the engine's error. JSON, or multipart with ``files``
        (where every field is a string, objects JSON-encoded, as the Bot API reads them)."""
        token = self.context.secrets.get("bot_token")
        if not token:
            raise CredentialsError(f"no bot token: {self.settings.bot_token_env} is not set")
        url = f"{self.settings.api_base}/bot{token}/{method}"
        try:
            if files is None:
                response = self.http.post(url, json=dict(fields), timeout=self.context.timeouts)
            else:
                form = {key: value if isinstance(value, str) else json.dumps(value) for key, value in fields.items()}
                response = self.http.post(url, data=form, files=dict(files), timeout=self.context.timeouts)
        except requests.RequestException as error:
            # "from None": the exception's message holds the URL, and with it the token.
            raise error_for_exception(error) from None
        with response:
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if response.ok and isinstance(answer, dict) and answer.get("ok") is True:
                return answer.get("result")
            if response.ok:
                raise PermanentError(
                    f"{method}: the answer is not the Bot API's (status {response.status_code}); is api_base right?"
                )
            problem = self._problem(method, response, answer if isinstance(answer, dict) else {})
        if isinstance(problem, _Refusal) and problem.outcome in handled:
            return problem
        raise problem if isinstance(problem, DeliveryError) else self._refused(method, problem, response, post)

    def _problem(self, method: str, response: requests.Response, answer: Mapping[str, Any]) -> DeliveryError | _Refusal:
        given = answer.get("error_code")
        code = given if isinstance(given, int) else response.status_code
        description = " ".join(str(answer.get("description") or response.reason or "").split())
        if len(description) > REASON_CHARACTERS:
            description = description[: REASON_CHARACTERS - 1] + "…"
        if code == 429 or response.status_code == 429:
            parameters = answer.get("parameters")
            wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
            seconds = float(wait) if isinstance(wait, int | float) else retry_after(response.headers)
            return TransientError(f"{method}: Telegram's flood control (429): {description}", retry_after=seconds)
        outcome = outcome_of(description)
        if outcome is not None:
            return _Refusal(outcome, description)
        if code == 401:
            return CredentialsError(
                f"{method}: Telegram refused the bot token (401: {description}); get the token again from "
                f"@BotFather and set {self.settings.bot_token_env}"
            )
        if code == 403:
            return CredentialsError(
                f"{method}: the bot may not post in {self.settings.chat_id} (403: {description}); make it an "
                f"administrator of the channel again, {RIGHTS}"
            )
        return error_for_status(code, f"{method}: {description}", response.headers)

    def _refused(self, method: str, refusal: _Refusal, response: requests.Response, post: Post | None) -> DeliveryError:
        """A refusal of the table that the caller does not handle, as the engine's error."""
        chat, said = self.settings.chat_id, refusal.description
        if refusal.outcome == "no_rights":
            return CredentialsError(
                f"{method}: the bot may not post in {chat} ({said}); make it an administrator of the channel, {RIGHTS}"
            )
        if refusal.outcome == "no_chat":
            return CredentialsError(
                f"{method}: Telegram knows no channel {chat} for this bot ({said}); check chat_id, and that the bot "
                "is an administrator of the channel"
            )
        if refusal.outcome == "lacks_right":
            return PermanentError(f"{method}: the bot lacks a right in {chat} ({said}): {RIGHTS}")
        if refusal.outcome == "too_long":
            variant = post.variant if post is not None else None
            counted = (
                f"{variant.length:,} of {variant.limit:,}" if variant and variant.length and variant.limit else "it"
            )
            return PermanentError(
                f"{method}: Telegram counts the text as too long ({said}), although Herold counted {counted} "
                "UTF-16 units of visible text; a photo's caption holds only 1,024 (a correction that adds text to "
                "a photo post cannot be longer)"
            )
        if refusal.outcome == "gone":
            return PermanentError(f"{method}: the post is no longer in the channel ({said})")
        return error_for_status(response.status_code, f"{method}: {said}", response.headers)


def _id(value: str) -> int:
    """A message id as the Bot API takes it."""
    try:
        return int(value)
    except ValueError:
        raise PermanentError(f"{value!r} is not a Telegram message id") from None
