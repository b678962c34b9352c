"""A fake Telegram Bot API server for tests: real HTTP on 127.0.0.1, answering as the Bot API does.

There are no recordings of Telegram to replay, so this follows the Bot API's documentation
(core.telegram.org/bots/api) and the source of the server itself (tdlib/telegram-bot-api
``Client.cpp``, and the TDLib code it runs on: ``MessageEntity.cpp`` for the HTML parse mode,
``MessageContent.cpp`` for the length limits, ``MessagesManager.cpp`` for edits and deletions).
Every error answer has the server's shape and words: ``{"ok": false, "error_code": 400,
"description": "Bad Request: chat not found"}``, 429 with ``parameters.retry_after`` and a
``Retry-After`` header.

Usage::

    with FakeTelegram() as fake:
        ...  # point the channel at fake.url with the token fake.token and chat_id "@lk_beispiel_warnungen"
        fake.fail("sendMessage", drop_after())  # the post is made, the answer lost
        assert fake.posts()[0].text == "…"       # the text as people see it

What it emulates: one channel (public by ``username``, or private by id only) with the bot as its
administrator, with rights that can be taken away or the bot removed or banned (``bot``);
``getMe``, ``getChat``, ``sendMessage``, ``sendPhoto``, ``sendMediaGroup`` (uploads only, by
``attach://``), ``editMessageText``, ``editMessageCaption``, ``deleteMessage``,
``deleteMessages``, ``pinChatMessage``, ``unpinChatMessage``; parameters as a query string, JSON,
form or multipart (objects JSON-encoded there), method names in any case. Texts are parsed as
Telegram parses ``parse_mode=HTML``: its tags only, the entities ``&lt; &gt; &amp; &quot;`` and
numeric ones (";" optional, any other "&…" kept as it is), control characters but the line feed
removed, the ends trimmed; the visible text is then counted as TDLib does (code points) against
4,096 for a message and 1,024 for a caption. Bots may delete a channel post only within 48
hours of its date (``advance`` moves the server's clock on); edits that change nothing are
refused as "message is not modified"; replies to a message that is gone fail unless
``allow_sending_without_reply``. Flood control: at most ``per_minute`` messages a minute to the
channel (20, as Telegram's FAQ for bots says), then 429 with the seconds to wait.

Faults (`status`, `hang`, `drop_after`) are queued per method with `FakeTelegram.fail`.

What it does not emulate: other chats (groups, private chats), other users, updates (getUpdates,
webhooks: the channel must never read them), files by URL or file_id, MarkdownV2, the limits of
an album (2 to 10 items, one media type), image checks beyond the file's first bytes, link
preview generation (the options are kept as sent), service messages for pins, and the entities
Telegram detects by itself (links, hashtags): only those of the markup are returned.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "Bot",
    "FakeTelegram",
    "Fault",
    "Post",
    "drop_after",
    "hang",
    "parse_html",
    "status",
]

TEXT_LIMIT = 4096  # message_text_length_max
CAPTION_LIMIT = 1024  # message_caption_length_max
RAW_TEXT_BYTES = 1 << 15  # Client::get_formatted_text refuses a longer text before parsing
DELETE_WITHIN = 2 * 86400  # MessagesManager::can_delete_channel_message: "bots can't delete messages older than 2 days"
BOT_ID = 7000000001
TOKEN = f"{BOT_ID}:AAHerold-test-token-0123456789abcdef"
CHANNEL_ID = -1001987654321
USERNAME = "lk_beispiel_warnungen"

# Tags of the HTML parse mode (MessageEntity.cpp, parse_html) and the entity each makes.
TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "a": "text_link", "code": "code",
    "pre": "pre", "span": "spoiler", "tg-spoiler": "spoiler", "tg-emoji": "custom_emoji",
    "blockquote": "blockquote", "tg-time": "date_time",
}  # fmt: skip
NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF")


# -- faults -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, consumed by one request to its method."""

    kind: Literal["status", "hang", "drop_after"]
    code: int = 0
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
    """Answer ``code`` without processing: ``body`` a dict is sent as JSON, str or bytes as they are
    (a proxy's page); None sends the Bot API's body for the code."""
    return Fault("status", code=code, body=body, headers=tuple((headers or {}).items()))


def hang(seconds: float) -> Fault:
    """Wait, then close the connection without processing or answering."""
    return Fault("hang", seconds=seconds)


def drop_after() -> Fault:
    """Process the request (the post is made), then close the connection without answering."""
    return Fault("drop_after")


# -- what tests look at -------------------------------------------------------------------------


@dataclass
class Bot:
    """The bot in the channel: an administrator with these rights, or no longer there."""

    member: Literal["administrator", "left", "kicked"] = "administrator"
    can_post_messages: bool = True
    can_edit_messages: bool = True
    can_delete_messages: bool = True


@dataclass
class Post:
    """A message in the channel, as Telegram keeps it: the visible text, and the entities."""

    message_id: int
    date: int
    text: str  # the text, or a photo's caption
    entities: list[dict[str, Any]]
    kind: Literal["text", "photo"]
    photo: bytes = b""
    media_group_id: str | None = None
    reply_to: int | None = None
    silent: bool = False
    link_preview_options: dict[str, Any] | None = None
    edit_date: int | None = None
    deleted: bool = False
    pinned: bool = False


@dataclass
class Recorded:
    method: str  # as sent, e.g. "sendMessage"
    path: str
    params: dict[str, Any]  # objects decoded, whatever the encoding
    files: dict[str, tuple[str, bytes]]  # field -> (file name, bytes)
    content_type: str
    status: int | None = None


class _Refused(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def _bad(description: str) -> _Refused:
    return _Refused(400, f"Bad Request: {description}")


# -- the HTML parse mode -----------------------------------------------------------------------


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entity(text: str, position: int) -> tuple[str, int] | None:
    """The character an HTML entity at ``position`` ("&") stands for and where it ends, as
    TDLib's decode_html_entity reads them; None: not one, the "&" stays as it is."""
    end = position + 1
    if text[end : end + 1] == "#":
        end += 1
        hexadecimal = text[end : end + 1] == "x"
        end += hexadecimal
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        start = end
        while end < len(text) and text[end] in digits:
            end += 1
        if end == start or end - position >= 10:
            return None
        code = int(text[start:end], 16 if hexadecimal else 10)
        if code == 0 or code >= 0x10FFFF:
            return None
        character = chr(code)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        name = text[position + 1 : end]
        if name not in NAMED:
            return None
        character = NAMED[name]
    return character, end + 1 if text[end : end + 1] == ";" else end


def parse_html(raw: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's parse of ``parse_mode=HTML``: the visible text and its entities (UTF-16 offsets),
    or a `_Refused` with the server's words ("can't parse entities: …")."""
    out: list[str] = []
    shown = 0  # UTF-16 units of the visible text so far
    entities: list[dict[str, Any]] = []
    open_tags: list[tuple[str, int, dict[str, str]]] = []
    i = 0

    def offset(at: int) -> int:
        return len(raw[:at].encode())

    def refuse(message: str) -> _Refused:
        return _bad(f"can't parse entities: {message}")

    while i < len(raw):
        character = raw[i]
        if character == "&" and (decoded := _entity(raw, i)) is not None:
            out.append(decoded[0])
            shown += _utf16(decoded[0])
            i = decoded[1]
            continue
        if character != "<":
            out.append(character)
            shown += _utf16(character)
            i += 1
            continue
        begin = i
        close = raw.find(">", i)
        if close < 0:
            raise refuse(f"Unclosed start tag at byte offset {offset(begin)}")
        inside = raw[i + 1 : close]
        i = close + 1
        if inside.startswith("/"):
            name = inside[1:].strip().lower()
            if not open_tags:
                raise refuse(f"Unexpected end tag at byte offset {offset(begin)}")
            expected, start, attributes = open_tags.pop()
            if name != expected:
                raise refuse(
                    f'Unmatched end tag at byte offset {offset(begin)}, expected "</{expected}>", found "</{name}>"'
                )
            if shown > start:
                entity: dict[str, Any] = {"type": TAGS[expected], "offset": start, "length": shown - start}
                if expected == "a":
                    entity["url"] = attributes.get("href", "")
                entities.append(entity)
            continue
        name = inside.split(None, 1)[0].lower() if inside.strip() else ""
        if name not in TAGS:
            raise refuse(f'Unsupported start tag "{name}" at byte offset {offset(begin)}')
        attributes = {}
        rest = inside[len(name) :]
        for key, value in _attributes(rest):
            attributes[key] = value
        open_tags.append((name, shown, attributes))
    if open_tags:
        raise refuse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _attributes(text: str) -> Iterator[tuple[str, str]]:
    """name="value" pairs of a start tag (values may hold entities, decoded)."""
    position = 0
    while position < len(text):
        while position < len(text) and text[position].isspace():
            position += 1
        start = position
        while position < len(text) and text[position] not in "= \t\n/":
            position += 1
        name = text[start:position].lower()
        if not name:
            position += 1
            continue
        value = ""
        if text[position : position + 1] == "=":
            position += 1
            quote = text[position : position + 1]
            if quote in {'"', "'"}:
                end = text.find(quote, position + 1)
                end = len(text) if end < 0 else end
                value, position = text[position + 1 : end], end + 1
            else:
                end = position
                while end < len(text) and not text[end].isspace():
                    end += 1
                value, position = text[position:end], end
        decoded, j = [], 0
        while j < len(value):
            if value[j] == "&" and (found := _entity(value, j)) is not None:
                decoded.append(found[0])
                j = found[1]
            else:
                decoded.append(value[j])
                j += 1
        yield name, "".join(decoded)


def _fixed(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """fix_formatted_text: control characters but the line feed removed (entities are left as
    they were: Herold sends none inside them), the start's spaces and line feeds and the end's
    white space trimmed."""
    cleaned = "".join(c for c in text if c == "\n" or not (ord(c) < 32 or c == "\x7f"))
    end = cleaned.rstrip()
    start = len(end) - len(end.lstrip(" \n"))
    shift = _utf16(end[:start])
    fixed = []
    for entity in entities:
        offset = max(0, entity["offset"] - shift)
        length = min(entity["length"], _utf16(end[start:]) - offset)
        if length > 0:
            fixed.append({**entity, "offset": offset, "length": length})
    return end[start:], fixed


def _formatted(raw: Any, parse_mode: Any, limit: int, what: str) -> tuple[str, list[dict[str, Any]]]:
    raw = "" if raw is None else str(raw)
    if len(raw.encode()) > RAW_TEXT_BYTES:
        raise _bad("text is too long")
    if str(parse_mode or "").lower() == "html":
        text, entities = parse_html(raw)
    elif parse_mode:
        raise _bad(f"unsupported parse_mode {parse_mode}")  # the fake knows HTML only
    else:
        text, entities = raw, []
    text, entities = _fixed(text, entities)
    if len(text) > limit:  # TDLib: utf8_length, code points
        raise _bad(f"{what} is too long")
    return text, entities


# -- the server ------------------------------------------------------------------------------------


class FakeTelegram:
    def __init__(
        self,
        *,
        token: str = TOKEN,
        username: str | None = USERNAME,
        bot: Bot | None = None,
        per_minute: int | None = 20,
        prefix: str = "",
    ) -> None:
        self.token = token
        self.username = username  # None: a private channel, known by its id only
        self.chat_id = CHANNEL_ID
        self.title = "Landkreis Beispiel – Warnungen"
        self.bot = bot or Bot()
        self.per_minute = per_minute
        self.prefix = prefix.rstrip("/")
        self.requests: list[Recorded] = []
        self.messages: dict[int, Post] = {}
        self._ids = itertools.count(101)
        self._albums = itertools.count(13_000_000_000_000_001)
        self._sent_at: list[float] = []  # when each message went out, for flood control
        self._faults: dict[str, list[Fault]] = {}
        self._offset = 0.0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- use ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"

    @property
    def chat(self) -> str:
        """The chat_id a channel is configured with."""
        return f"@{self.username}" if self.username else str(self.chat_id)

    def fail(self, method: str, *faults: Fault) -> None:
        with self._lock:
            self._faults.setdefault(method.lower(), []).extend(faults)

    def advance(self, seconds: float) -> None:
        """Move the server's clock on (message dates, the 48 hours of deletion, flood control)."""
        with self._lock:
            self._offset += seconds

    def now(self) -> float:
        return time.time() + self._offset

    def posts(self) -> list[Post]:
        """The messages in the channel, oldest first, deleted ones left out."""
        with self._lock:
            return [post for post in self.messages.values() if not post.deleted]

    def calls(self, method: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method.lower() == method.lower()]

    def __enter__(self) -> FakeTelegram:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- the Bot API ---------------------------------------------------------------------------

    def _chat_json(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.chat_id, "title": self.title, "type": "channel"}
        if self.username:
            chat["username"] = self.username
        return chat

    def _message_json(self, post: Post) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": post.message_id, "sender_chat": self._chat_json(), "chat": self._chat_json(),
            "date": post.date,
        }  # fmt: skip
        if post.kind == "text":
            message["text"] = post.text
            if post.entities:
                message["entities"] = post.entities
            if post.link_preview_options:
                message["link_preview_options"] = post.link_preview_options
        else:
            message["photo"] = [
                {"file_id": f"AgAC{post.message_id}s", "file_unique_id": f"AQ{post.message_id}s", "file_size": 1200,
                 "width": 90, "height": 51},
                {"file_id": f"AgAC{post.message_id}m", "file_unique_id": f"AQ{post.message_id}m",
                 "file_size": len(post.photo), "width": 320, "height": 180},
            ]  # fmt: skip
            if post.text:
                message["caption"] = post.text
            if post.entities:
                message["caption_entities"] = post.entities
        if post.media_group_id:
            message["media_group_id"] = post.media_group_id
        if post.reply_to is not None and post.reply_to in self.messages:
            message["reply_to_message"] = self._message_json(
                Post(**{**self.messages[post.reply_to].__dict__, "reply_to": None})
            )
        if post.edit_date:
            message["edit_date"] = post.edit_date
        return message

    def _check_chat(self, params: dict[str, Any], *, write: bool) -> None:
        given = str(params.get("chat_id", "")).strip()
        if not given:
            raise _bad("chat_id is empty")
        known = given == str(self.chat_id) or (self.username and given.lower() == f"@{self.username}".lower())
        if not known:
            raise _bad("chat not found")
        if self.bot.member == "kicked":
            raise _Refused(403, "Forbidden: bot was kicked from the channel chat")
        if self.bot.member == "left":
            if not self.username:  # a private channel the bot is not in: it cannot see it at all
                raise _bad("chat not found")
            if write:
                raise _Refused(403, "Forbidden: bot is not a member of the channel chat")

    def _message(self, params: dict[str, Any], what: str) -> Post:
        try:
            number = int(params.get("message_id", 0))
        except (TypeError, ValueError):
            raise _bad("message identifier is not specified") from None
        post = self.messages.get(number)
        if post is None or post.deleted:
            raise _bad(f"{what} not found")
        return post

    def _may_post(self) -> None:
        if not self.bot.can_post_messages:
            raise _bad("need administrator rights in the channel chat")

    def _flood(self, count: int) -> None:
        if self.per_minute is None:
            return
        now = self.now()
        self._sent_at = [at for at in self._sent_at if at > now - 60]
        if len(self._sent_at) + count > self.per_minute:
            wait = max(1, math.ceil(self._sent_at[0] + 60 - now))
            raise _Refused(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        self._sent_at += [now] * count

    def _reply_to(self, params: dict[str, Any]) -> int | None:
        reply = _object(params.get("reply_parameters"))
        if not reply:
            return None
        target = self.messages.get(int(reply.get("message_id", 0)))
        if target is None or target.deleted:
            if reply.get("allow_sending_without_reply"):
                return None
            raise _bad("message to be replied not found")
        return target.message_id

    def _new(self, **fields: Any) -> Post:
        post = Post(message_id=next(self._ids), date=int(self.now()), **fields)
        self.messages[post.message_id] = post
        return post

    def getme(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Herold LK Beispiel", "username": "lk_beispiel_herold_bot",
                "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False,
                "can_connect_to_business": False, "has_main_web_app": False}  # fmt: skip

    def getchat(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._check_chat(params, write=False)
        return {**self._chat_json(), "accent_color_id": 1, "max_reaction_count": 11}

    def sendmessage(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._check_chat(params, write=True)
        self._may_post()
        if not params.get("text"):
            raise _bad("message text is empty")
        text, entities = _formatted(params.get("text"), params.get("parse_mode"), TEXT_LIMIT, "message")
        if not text:
            raise _bad("message text is empty")
        reply_to = self._reply_to(params)
        self._flood(1)
        post = self._new(text=text, entities=entities, kind="text", reply_to=reply_to,
                         silent=_true(params.get("disable_notification")),
                         link_preview_options=_object(params.get("link_preview_options")))  # fmt: skip
        return self._message_json(post)

    def sendphoto(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._check_chat(params, write=True)
        self._may_post()
        photo = _upload(files, params.get("photo"), "photo")
        caption, entities = _formatted(params.get("caption"), params.get("parse_mode"), CAPTION_LIMIT,
                                       "message caption")  # fmt: skip
        reply_to = self._reply_to(params)
        self._flood(1)
        post = self._new(text=caption, entities=entities, kind="photo", photo=photo, reply_to=reply_to,
                         silent=_true(params.get("disable_notification")))  # fmt: skip
        return self._message_json(post)

    def sendmediagroup(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._check_chat(params, write=True)
        self._may_post()
        media = _object(params.get("media"))
        if not isinstance(media, list):
            raise _bad("Expected an Array of InputMedia")
        items = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") != "photo":
                raise _bad("Can't parse InputMedia: the fake takes photos only")
            reference = str(item.get("media", ""))
            if not reference.startswith("attach://") or reference.removeprefix("attach://") not in files:
                raise _bad("Can't parse InputMedia: media not found")
            photo = _upload(files, reference, "photo")
            caption, entities = _formatted(item.get("caption"), item.get("parse_mode"), CAPTION_LIMIT,
                                           "message caption")  # fmt: skip
            items.append((photo, caption, entities))
        reply_to = self._reply_to(params)
        self._flood(len(items))
        group = str(next(self._albums))
        posts = [self._new(text=caption, entities=entities, kind="photo", photo=photo, media_group_id=group,
                           reply_to=reply_to, silent=_true(params.get("disable_notification")))
                 for photo, caption, entities in items]  # fmt: skip
        return [self._message_json(post) for post in posts]

    def _edit(self, params: dict[str, Any], kind: Literal["text", "photo"]) -> Any:
        self._check_chat(params, write=True)
        post = self._message(params, "message to edit")
        if not (self.bot.can_edit_messages or self.bot.can_post_messages):
            raise _bad("message can't be edited")
        if post.kind != kind:
            raise _bad("there is no text in the message to edit" if kind == "text" else
                       "there is no caption in the message to edit")  # fmt: skip
        if kind == "text":
            text, entities = _formatted(params.get("text"), params.get("parse_mode"), TEXT_LIMIT, "message")
        else:
            text, entities = _formatted(params.get("caption"), params.get("parse_mode"), CAPTION_LIMIT,
                                        "message caption")  # fmt: skip
        if (text, entities) == (post.text, post.entities):
            raise _Refused(400, NOT_MODIFIED)
        post.text, post.entities, post.edit_date = text, entities, int(self.now())
        if kind == "text" and "link_preview_options" in params:
            post.link_preview_options = _object(params.get("link_preview_options"))
        return self._message_json(post)

    def editmessagetext(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        return self._edit(params, "text")

    def editmessagecaption(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        return self._edit(params, "photo")

    def _deletable(self, post: Post) -> None:
        if self.now() >= post.date + DELETE_WITHIN:
            raise _bad("message can't be deleted")
        if not (self.bot.can_delete_messages or self.bot.can_post_messages):  # its own posts
            raise _bad("message can't be deleted")

    def deletemessage(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._check_chat(params, write=True)
        post = self._message(params, "message to delete")
        self._deletable(post)
        post.deleted, post.pinned = True, False
        return True

    def deletemessages(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._check_chat(params, write=True)
        numbers = _object(params.get("message_ids"))
        if not isinstance(numbers, list) or not numbers:
            raise _bad("message identifiers are not specified")
        found = [self.messages[n] for n in numbers if n in self.messages and not self.messages[n].deleted]
        for post in found:  # TDLib checks all before deleting any
            self._deletable(post)
        for post in found:  # those not found are skipped
            post.deleted, post.pinned = True, False
        return True

    def pinchatmessage(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._check_chat(params, write=True)
        post = self._message(params, "message to pin")
        if not self.bot.can_edit_messages:  # in a channel, pinning needs the right to edit
            raise _bad("not enough rights to manage pinned messages in the chat")
        post.pinned = True
        return True

    def unpinchatmessage(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._check_chat(params, write=True)
        post = self._message(params, "message to unpin")
        if not self.bot.can_edit_messages:
            raise _bad("not enough rights to manage pinned messages in the chat")
        post.pinned = False
        return True

    # -- HTTP ---------------------------------------------------------------------------------

    def _dispatch(self, path: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> tuple[int, Any]:
        route = path[len(self.prefix) :] if path.startswith(self.prefix + "/") else None
        parts = (route or "").strip("/").split("/")
        if route is None or len(parts) != 2 or not parts[0].startswith("bot"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if parts[0].removeprefix("bot") != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        handler: Callable[[dict[str, Any], dict[str, tuple[str, bytes]]], Any] | None = getattr(
            self, parts[1].lower(), None
        )
        if handler is None or parts[1].startswith("_"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        try:
            with self._lock:
                return 200, {"ok": True, "result": handler(params, files)}
        except _Refused as refused:
            body: dict[str, Any] = {"ok": False, "error_code": refused.code, "description": refused.description}
            if refused.parameters:
                body["parameters"] = refused.parameters
            return refused.code, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                target = urlsplit(self.path)
                content_type = self.headers.get("content-type", "")
                params, files = _params(target.query, content_type, body)
                method = target.path.rstrip("/").rsplit("/", 1)[-1]
                record = Recorded(method, target.path, params, files, content_type)
                with fake._lock:
                    fake.requests.append(record)
                    queue = fake._faults.get(method.lower(), [])
                    fault = queue.pop(0) if queue else None
                if fault is not None and fault.kind == "hang":
                    fake._stopping.wait(fault.seconds)
                    self.close_connection = True
                    return
                if fault is not None and fault.kind == "status":
                    code, answer, headers = fault.code, fault.body, dict(fault.headers)
                    if answer is None:
                        answer = {"ok": False, "error_code": code, "description": _phrase(code)}
                else:
                    code, answer = fake._dispatch(target.path, params, files)
                    headers = {}
                    if code == 429:
                        headers["Retry-After"] = str(answer["parameters"]["retry_after"])
                record.status = code
                if fault is not None and fault.kind == "drop_after":
                    record.status = None
                    self.close_connection = True
                    return
                payload = json.dumps(answer).encode() if isinstance(answer, dict | list) else (
                    answer.encode() if isinstance(answer, str) else bytes(answer)
                )  # fmt: skip
                self.send_response(code)
                kind = "application/json" if isinstance(answer, dict | list) else "text/html"
                self.send_header("Content-Type", kind)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _phrase(code: int) -> str:
    return {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}.get(code, "Error")  # fmt: skip


def _true(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


def _object(value: Any) -> Any:
    """An object parameter: as sent in JSON, or JSON-encoded in a form or multipart field."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _upload(files: dict[str, tuple[str, bytes]], reference: Any, name: str) -> bytes:
    field_name = str(reference).removeprefix("attach://") if reference else name
    if field_name not in files:
        raise _bad("there is no photo in the request" if not reference else "wrong remote file identifier specified")
    data = files[field_name][1]
    if not data.startswith(IMAGE_MAGIC):
        raise _bad("IMAGE_PROCESS_FAILED")
    return data


def _params(query: str, content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, tuple[str, bytes]] = {}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and body:
        decoded = json.loads(body)
        if isinstance(decoded, dict):
            params.update(decoded)
    elif kind == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    elif kind == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            data = part.get_payload(decode=True)
            if not isinstance(name, str) or not isinstance(data, bytes):
                continue
            if filename is not None:
                files[name] = (filename, data)
            else:
                params[name] = data.decode()
    return params, files
