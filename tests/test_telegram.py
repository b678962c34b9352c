"""The Telegram channel, against a fake Bot API server (tests/fakes/telegram_server.py) that parses
HTML, counts and refuses as Telegram does, and answers in the Bot API's own words.

What people see is checked on the fake's side: the text after Telegram's HTML parse, its
entities, and its length as Telegram counts it."""

from __future__ import annotations

import copy
import json
import traceback
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.port import CredentialsError, DeliveryError, PermanentError, Post, Receipt, TooLong, TransientError
from adapters.telegram import API_BASE, TelegramChannel, TelegramSettings, outcome_of, telegram_html
from publisher.domain.announcement import parse_announcement
from publisher.domain.records import Action, Variant
from publisher.engine.schema import OperationState
from publisher.engine.tasks import wait_until_settled
from publisher.sources.intake import accept

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, publish, warning
from fakes.telegram_server import (
    CHANNEL_ID,
    TOKEN,
    USERNAME,
    Bot,
    FakeTelegram,
    drop_after,
    hang,
    parse_html,
    status,
)
from fakes.telegram_server import _fixed as telegram_fixes  # the trimming Telegram does after parsing
from fakes.webhook_receiver import Answer
from helpers import png_bytes
from kit import ITEM_URL, ChannelCase, ChannelContract, Endpoint, make_channel, post_for, samples
from services import free_port

TOKEN_ENV = "HEROLD_TEST_TELEGRAM_TOKEN"


def seen_by_people(variant: Variant) -> str:
    """The text as Telegram shows it: the channel's HTML, parsed and trimmed as Telegram does."""
    return telegram_fixes(*parse_html(telegram_html(variant.text, variant.link)))[0]


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def counted_by_telegram(variant: Variant) -> int:
    """Telegram's count: the visible text after entity parsing, in UTF-16 code units (never fewer
    than the code points the Bot API server counts)."""
    return utf16(seen_by_people(variant))


MESSAGE: dict[str, Any] = {
    "message_id": 101,
    "sender_chat": {
        "id": CHANNEL_ID,
        "title": "Landkreis Beispiel – Warnungen",
        "username": USERNAME,
        "type": "channel",
    },
    "chat": {"id": CHANNEL_ID, "title": "Landkreis Beispiel – Warnungen", "username": USERNAME, "type": "channel"},
    "date": 1795338902,
    "text": "Fliegerbombe in der Altstadt",
}

CASE = ChannelCase(
    kind=TelegramChannel,
    settings=lambda url: {"bot_token_env": TOKEN_ENV, "chat_id": f"@{USERNAME}", "api_base": url},
    secrets={"bot_token": TOKEN},
    published=Answer(
        200, body=json.dumps({"ok": True, "result": MESSAGE}).encode(), headers={"Content-Type": "application/json"}
    ),
    counted=counted_by_telegram,
    limit=4096,
    limit_with_media=1024,
    reads_of_others=(
        Endpoint(r"/getChatAdministrators\b", "who administers the channel (Telegram)"),
        Endpoint(
            r"/getUser(ProfilePhotos|ProfileAudios|ChatBoosts|Gifts|PersonalChatMessages)\b",
            "other people's profiles, boosts, gifts and messages (Telegram)",
        ),
        Endpoint(r"/getFile\b", "files other people sent (Telegram)"),
        Endpoint(r"/getGameHighScores\b", "other people's scores (Telegram)"),
        Endpoint(r"/getBusinessConnection\b", "a business account's connection (Telegram)"),
    ),
)


class TestTelegramContract(ChannelContract):
    case = CASE


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "bild.png").write_bytes(png_bytes(16, 9, "orange"))
    (tmp_path / "karte.png").write_bytes(png_bytes(9, 16, "blue"))
    return tmp_path


def channel(fake: FakeTelegram, media: Path, **settings: Any) -> TelegramChannel:
    made = make_channel(CASE, fake.url, media, **{"chat_id": fake.chat, **settings})
    assert isinstance(made, TelegramChannel)
    return made


def changed(made: TelegramChannel, **context: Any) -> TelegramChannel:
    """The same channel with another context: another token, another clock."""
    return TelegramChannel(made.config, replace(made.context, **context))


def post(made: TelegramChannel, delivery: str = "d1", **changes: Any) -> Post:
    base = {k: v for k, v in samples()[0].items() if k not in changes}
    return post_for(TelegramChannel, made, parse_announcement({**base, **changes}), delivery=delivery)


# -- the text: escaped, counted as Telegram counts -------------------------------------------------


def test_a_text_with_angle_brackets_ampersands_and_a_link_shows_exactly_as_written(
    fake: FakeTelegram, media: Path
) -> None:
    made = channel(fake, media)
    sent = post(
        made, headline="Hochwasser <Stufe 3> & Sturm",
        description="Pegel > 5 m & steigend. Mehr: https://example.org/pegel?ort=1&tag=2 – "
        "&amp; bleibt &amp;, <b>kein Fett</b>, &lt kein Zeichen, &#60; auch nicht.",
    )  # fmt: skip

    receipt = made.publish(sent)

    [shown] = fake.posts()
    assert shown.text == sent.variant.text, "people see the variant character for character"
    assert "<b>kein Fett</b>" in shown.text and "&amp; bleibt &amp;" in shown.text and "&lt kein" in shown.text
    first_line = sent.variant.text.split("\n", 1)[0]
    link_at = utf16(sent.variant.text[: sent.variant.text.index(ITEM_URL)])
    assert shown.entities == [
        {"type": "bold", "offset": 0, "length": utf16(first_line)},
        {"type": "text_link", "offset": link_at, "length": utf16(ITEM_URL), "url": ITEM_URL},
    ]
    [call] = fake.calls("sendMessage")
    assert call.params["parse_mode"] == "HTML"
    assert receipt.platform_id == str(shown.message_id)
    assert receipt.url == f"https://t.me/{USERNAME}/{shown.message_id}"


def test_a_5000_character_warning_is_shortened_within_4096_as_telegram_counts(fake: FakeTelegram, media: Path) -> None:
    made = channel(fake, media)
    # "&" and "<" take five and four characters of markup each, the wave two UTF-16 units: the
    # count must be of what people see, neither of the markup nor of code points.
    long = ("Deich & Damm <unsicher> 🌊 " * 200)[:5000]
    sent = post(made, description=long)

    made.publish(sent)

    [shown] = fake.posts()
    assert "description" in sent.variant.shortened
    assert sent.variant.length == utf16(shown.text) <= 4096
    assert utf16(shown.text) > 4000, "nearly the whole limit is used: escaping is not counted"
    assert len(fake.calls("sendMessage")[0].params["text"]) > 4096, "the markup itself is longer than the limit"


def test_an_image_goes_as_a_photo_with_the_text_as_its_caption_within_1024(fake: FakeTelegram, media: Path) -> None:
    made = channel(fake, media)
    sent = post(made, description="Ä" * 2000, media=[{"path": "bild.png", "alt": "Lageplan des Sperrgebiets"}])

    receipt = made.publish(sent)

    [shown] = fake.posts()
    assert shown.kind == "photo" and shown.photo == (media / "bild.png").read_bytes()
    assert shown.text == sent.variant.text and utf16(shown.text) <= 1024
    [call] = fake.calls("sendPhoto")
    assert call.content_type.startswith("multipart/form-data")
    assert receipt.refs["kind"] == "photo"


def test_two_images_go_as_an_album_with_the_caption_on_the_first_and_are_deleted_together(
    fake: FakeTelegram, media: Path
) -> None:
    made = channel(fake, media)
    images = [{"path": "bild.png", "alt": "Lageplan"}, {"path": "karte.png", "alt": "Umleitungen"}]
    sent = post(made, media=images)

    receipt = made.publish(sent)

    first, second = fake.posts()
    assert first.media_group_id == second.media_group_id is not None
    assert (first.text, second.text) == (sent.variant.text, "")
    assert [first.photo, second.photo] == [(media / "bild.png").read_bytes(), (media / "karte.png").read_bytes()]
    assert receipt.platform_id == str(first.message_id)
    made.delete(receipt)
    assert fake.posts() == []


def test_a_follow_up_replies_to_the_earlier_post_and_still_goes_out_when_that_was_deleted(
    fake: FakeTelegram, media: Path
) -> None:
    made = channel(fake, media)
    alert = made.publish(post(made))
    update = made.reply(
        replace(post(made, "d2", msg_type="update", references="a1"), in_reply_to=alert, thread=(alert,))
    )
    assert fake.messages[int(update.platform_id)].reply_to == int(alert.platform_id)

    made.delete(alert)
    late = made.reply(replace(post(made, "d3", msg_type="update", references="a1"), in_reply_to=alert, thread=(alert,)))

    assert fake.messages[int(late.platform_id)].reply_to is None, "posted on its own, not refused"


def test_news_arrives_without_a_sound_and_warnings_with_one(fake: FakeTelegram, media: Path) -> None:
    made = channel(fake, media)
    made.publish(post(made, kind="news", severity=None))
    made.publish(post(made, "d2"))
    assert [p.silent for p in fake.posts()] == [True, False]
    loud = channel(fake, media, quiet_news=False)
    loud.publish(post(loud, "d3", kind="news", severity=None))
    assert fake.posts()[-1].silent is False


@pytest.mark.parametrize(("preview", "options"), [(True, {"url": ITEM_URL}), (False, {"is_disabled": True})])
def test_the_link_preview_shows_the_item_page_whatever_other_links_the_text_has(
    fake: FakeTelegram, media: Path, preview: bool, options: dict[str, Any]
) -> None:
    made = channel(fake, media, link_preview=preview)
    made.publish(post(made, description="Pegel unter https://example.org/pegel"))
    assert fake.posts()[0].link_preview_options == options


# -- corrections, withdrawals, pins ------------------------------------------------------------------


def test_a_correction_edits_the_text_in_place_and_an_edit_that_changes_nothing_is_no_failure(
    fake: FakeTelegram, media: Path
) -> None:
    made = channel(fake, media)
    receipt = made.publish(post(made))
    corrected = post(made, "d2", headline="Berichtigung: Fliegerbombe in der Neustadt")

    assert made.edit(receipt, corrected) == receipt
    made.edit(receipt, corrected)

    [shown] = fake.posts()
    assert shown.text == corrected.variant.text and shown.edit_date is not None
    assert [c.status for c in fake.calls("editMessageText")] == [200, 400], "the second was 'not modified'"


@pytest.mark.parametrize("known", ["with its receipt", "by its id only"])
def test_a_correction_of_a_photo_post_edits_its_caption(fake: FakeTelegram, media: Path, known: str) -> None:
    made = channel(fake, media)
    image = [{"path": "bild.png", "alt": "Lageplan"}]
    receipt = made.publish(post(made, media=image))
    if known == "by its id only":
        receipt = Receipt(platform_id=receipt.platform_id, url=receipt.url)
    corrected = post(made, "d2", headline="Berichtigung: Fliegerbombe in der Neustadt", media=image)

    made.edit(receipt, corrected)

    [shown] = fake.posts()
    assert shown.kind == "photo" and shown.text == corrected.variant.text


def test_a_correction_too_long_for_the_caption_of_the_photo_it_corrects_fails_saying_why(
    fake: FakeTelegram, media: Path
) -> None:
    made = channel(fake, media)
    receipt = made.publish(post(made, media=[{"path": "bild.png", "alt": "Lageplan"}]))
    longer = post(made, "d2", description="Die Sperrung wird erweitert. " * 60)  # no image: 4,096 apply

    with pytest.raises(PermanentError) as refused:
        made.edit(receipt, longer)

    assert "caption holds only 1,024" in refused.value.reason
    assert not isinstance(refused.value, TooLong), "counting otherwise would not help"


def test_a_post_is_deleted_within_48_hours_and_one_already_gone_counts_as_deleted(
    fake: FakeTelegram, media: Path
) -> None:
    made = channel(fake, media)
    receipt = made.publish(post(made))
    fake.advance(47 * 3600)

    made.delete(receipt)
    made.delete(receipt)  # deleted by hand meanwhile, or the answer was lost: gone is what was asked for

    assert fake.posts() == []


def test_a_post_older_than_48_hours_is_refused_with_a_reason_asking_a_person_to_delete_it(
    fake: FakeTelegram, media: Path
) -> None:
    made = channel(fake, media)
    receipt = made.publish(post(made))
    fake.advance(49 * 3600)
    # Herold's clock agrees with Telegram's.
    made = changed(made, clock=lambda: datetime.fromtimestamp(fake.now(), UTC))

    with pytest.raises(PermanentError) as refused:
        made.delete(receipt)

    assert type(refused.value) is PermanentError, "not a credentials problem: the channel is fine"
    assert "48 hours" in refused.value.reason and "by hand" in refused.value.reason
    assert receipt.url is not None and receipt.url in refused.value.reason
    assert "49 hours old" in refused.value.reason
    assert len(fake.posts()) == 1


def test_pin_and_unpin_and_an_unpin_of_a_post_deleted_meanwhile_is_no_failure(fake: FakeTelegram, media: Path) -> None:
    made = channel(fake, media)
    receipt = made.publish(post(made))

    made.pin(receipt)
    assert fake.posts()[0].pinned is True
    assert fake.calls("pinChatMessage")[0].params["disable_notification"] is True
    made.unpin(receipt)
    assert fake.posts()[0].pinned is False
    made.delete(receipt)
    made.unpin(receipt)


def test_a_bot_without_the_right_to_edit_may_post_but_its_pin_fails_saying_which_right(
    media: Path,
) -> None:
    with FakeTelegram(bot=Bot(can_edit_messages=False)) as fake:
        made = channel(fake, media)
        receipt = made.publish(post(made))
        with pytest.raises(PermanentError) as refused:
            made.pin(receipt)
    assert type(refused.value) is PermanentError, "posting still works: the channel is not flagged"
    assert '"Edit messages of others" for pinning' in refused.value.reason


# -- what each answer means for the engine --------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "kind", "reason"),
    [
        ({"token": "7000000001:AAwrong-token-0123456789abcdefgh"}, CredentialsError, "refused the bot token (401"),
        ({"bot": Bot(member="kicked")}, CredentialsError, "bot was kicked from the channel chat"),
        ({"bot": Bot(member="left")}, CredentialsError, "bot is not a member of the channel chat"),
        ({"bot": Bot(member="left"), "username": None}, CredentialsError, "Telegram knows no channel"),
        ({"bot": Bot(can_post_messages=False)}, CredentialsError, "need administrator rights in the channel chat"),
        ({"chat_id": "@lk_nachbar_warnungen"}, CredentialsError, "chat not found"),
        ({"fault": status(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 33",
                                "parameters": {"retry_after": 33}})}, TransientError, "flood control (429)"),
        ({"fault": status(500)}, TransientError, "answered 500"),
        ({"fault": status(502, "<html><body>502 Bad Gateway</body></html>")}, TransientError, "answered 502"),
        ({"fault": drop_after()}, TransientError, "network problem"),
        ({"fault": status(400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"})},
         PermanentError, "Telegram counts the text as too long"),
        ({"fault": status(400, {"ok": False, "error_code": 400, "description":
                                "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"})},
         PermanentError, "can't parse entities"),
        ({"fault": status(200, "<html>Willkommen</html>")}, PermanentError, "not the Bot API's"),
    ],
    ids=["401 token", "403 kicked", "403 left", "private left", "no post right", "wrong chat", "429", "500", "502",
         "answer lost", "too long", "markup", "not the api"],
)  # fmt: skip
def test_every_refusal_tells_the_engine_what_to_do_next(
    media: Path, setup: dict[str, Any], kind: type[DeliveryError], reason: str
) -> None:
    options = {key: setup[key] for key in ("bot", "username") if key in setup}
    with FakeTelegram(**options) as fake:
        made = channel(fake, media, **({"chat_id": setup["chat_id"]} if "chat_id" in setup else {}))
        if "token" in setup:
            made = changed(made, secrets={"bot_token": setup["token"]})
        if "fault" in setup:
            fake.fail("sendMessage", setup["fault"])
        with pytest.raises(DeliveryError) as failed:
            made.publish(post(made))
    assert type(failed.value) is kind, failed.value.reason
    assert reason in failed.value.reason
    assert not isinstance(failed.value, TooLong), "Telegram has no other way of counting to try"
    if "(429)" in reason:
        assert isinstance(failed.value, TransientError) and failed.value.retry_after == 33, "the body's seconds"
    dropped = "fault" in setup and setup["fault"].kind == "drop_after"
    assert len(fake.posts()) == (1 if dropped else 0), "only a lost answer leaves a post behind"


def test_after_20_messages_in_a_minute_telegram_s_flood_control_names_the_seconds_to_wait(
    fake: FakeTelegram, media: Path
) -> None:
    made = channel(fake, media)
    for number in range(20):
        made.publish(post(made, f"d{number}"))

    with pytest.raises(TransientError) as failed:
        made.publish(post(made, "d20"))

    [refusal] = [c for c in fake.calls("sendMessage") if c.status == 429]
    assert failed.value.retry_after is not None and 1 <= failed.value.retry_after <= 60
    assert failed.value.ambiguous is False, "a refusal: nothing was posted"
    assert len(fake.posts()) == 20 and refusal is fake.calls("sendMessage")[-1]


def test_an_answer_that_never_comes_is_an_ambiguous_retry(fake: FakeTelegram, media: Path) -> None:
    made = channel(fake, media, call_deadline_seconds=0.5)
    fake.fail("sendMessage", hang(5))
    with pytest.raises(TransientError) as failed:
        made.publish(post(made))
    assert failed.value.ambiguous is True


def test_the_bot_token_never_appears_in_a_reason_or_in_what_a_traceback_would_show(
    fake: FakeTelegram, media: Path
) -> None:
    unreachable = make_channel(CASE, f"http://127.0.0.1:{free_port()}", media, chat_id=fake.chat)
    made = channel(fake, media, call_deadline_seconds=0.5)
    fake.fail("sendMessage", hang(5))
    fake.fail("sendMessage", status(404))
    failures = []
    for attempt in (unreachable, made, made):
        with pytest.raises(DeliveryError) as failed:
            attempt.publish(post(made))
        failures.append(failed.value)
    for failure in failures:
        shown = "".join(traceback.format_exception(failure))
        assert TOKEN not in shown and TOKEN.split(":")[1] not in shown, shown


def test_a_self_hosted_bot_api_server_under_a_path_of_its_own_is_used_as_configured(media: Path) -> None:
    with FakeTelegram(prefix="/telegram-bot-api") as fake:
        made = channel(fake, media)
        made.publish(post(made))
        assert fake.calls("sendMessage")[0].path == f"/telegram-bot-api/bot{TOKEN}/sendMessage"
    assert TelegramSettings.model_fields["api_base"].default == API_BASE == "https://api.telegram.org"


def test_a_private_channel_is_named_by_its_id_and_its_posts_have_addresses_for_members(media: Path) -> None:
    with FakeTelegram(username=None) as fake:
        made = channel(fake, media, chat_id=CHANNEL_ID)  # as a TOML integer
        receipt = made.publish(post(made))
    assert made.settings.chat_id == "-1001987654321"
    assert receipt.url == f"https://t.me/c/1987654321/{receipt.platform_id}"


@pytest.mark.parametrize("chat_id", ["lk_beispiel_warnungen", "@abc", "https://t.me/lk_beispiel", "12345", True])
def test_a_chat_id_that_is_neither_a_channel_s_name_nor_its_id_is_refused(chat_id: Any) -> None:
    with pytest.raises(ValueError, match="@name"):
        TelegramSettings(bot_token_env=TOKEN_ENV, chat_id=chat_id)


def test_the_setup_check_passes_a_bot_that_sees_its_channel_and_names_what_is_wrong(
    fake: FakeTelegram, media: Path
) -> None:
    assert channel(fake, media).check() == []

    fake.fail("getChat", status(200, {"ok": True, "result": {"id": -4001, "type": "supergroup", "title": "Gruppe"}}))
    assert channel(fake, media).check() == [f"chat_id {fake.chat} is not a channel (Telegram says: supergroup)"]

    fake.bot.member = "kicked"
    [problem] = channel(fake, media).check()
    assert "bot was kicked" in problem

    [problem] = changed(channel(fake, media), secrets={"bot_token": "not a token"}).check()
    assert TOKEN_ENV in problem and "@BotFather" in problem

    elsewhere = make_channel(CASE, "http://192.0.2.1:9", media, chat_id=fake.chat, call_deadline_seconds=0.5)
    problems = elsewhere.check()
    assert "plain http to another machine" in problems[0]


def test_descriptions_are_read_by_how_they_begin_whatever_telegram_appends() -> None:
    assert outcome_of("Bad Request: message is not modified: specified new message content and …") == "unchanged"
    assert outcome_of("Bad Request: message to delete not found") == "gone"
    assert outcome_of("Bad Request: not enough rights to manage pinned messages in the chat") == "lacks_right"
    assert outcome_of("Bad Request: message to edit not found") is None, "an edit of a post gone is a failure"
    assert outcome_of("Forbidden: bot was kicked from the channel chat") is None


# -- through the engine ------------------------------------------------------------------------------


def test_through_the_engine_a_warning_thread_is_pinned_and_a_withdrawal_leaves_posts_too_old_to_delete_to_a_person(
    fake: FakeTelegram, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "telegram", "type": "telegram", "bot_token_env": TOKEN_ENV,
                                  "chat_id": fake.chat, "api_base": fake.url, "on_withdrawal": "delete"})  # fmt: skip
    herold = make_herold(make_settings(authorities=[authority], env={TOKEN_ENV: TOKEN}, grace_warning_seconds=0.1,
                                       retry_base_seconds=0.05))  # fmt: skip

    alert = publish(herold, warning())
    update = publish(herold, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"))
    first, second = fake.posts()
    assert second.reply_to == first.message_id
    assert (first.pinned, second.pinned) == (False, True), "the update took the pin over"

    fake.advance(49 * 3600)  # two days later on Telegram's side
    withdrawal = publish(herold, warning(msg_type="error", references=alert, headline="Meldung irrtümlich versandt",
                                         description="Es besteht keine Gefahr.", instruction=None))  # fmt: skip

    ops = [o for o in herold.store.operations.of(withdrawal) if o.channel == "telegram"]
    by_action = {action: [o for o in ops if o.action is action] for action in {o.action for o in ops}}
    [reply] = by_action[Action.reply]
    assert reply.state is OperationState.succeeded, "the withdrawal itself goes out, replying to the thread"
    deletes = by_action[Action.delete]
    assert len(deletes) == 2 and all(o.state is OperationState.failed for o in deletes)
    assert all("by hand" in (o.last_error or "") for o in deletes)
    assert all(o.state is OperationState.succeeded for o in by_action[Action.unpin])
    assert not any(p.pinned for p in fake.posts()) and len(fake.posts()) == 3, "both posts stay, unpinned"
    alarms = [e for e in herold.store.audit.entries(announcement_id=withdrawal) if e.action == "alarm"]
    assert len(alarms) == 2, "the on-call contacts hear of each post left to delete by hand"
    assert update


def test_through_the_engine_a_long_correction_of_a_photo_post_is_cut_to_fit_its_caption(
    fake: FakeTelegram, media: Path, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append({"id": "telegram", "type": "telegram", "bot_token_env": TOKEN_ENV,
                                  "chat_id": fake.chat, "api_base": fake.url})  # fmt: skip
    herold = make_herold(make_settings(authorities=[authority], env={TOKEN_ENV: TOKEN}))
    image = [{"path": "bild.png", "alt": "Lageplan"}]
    alert = accept(herold.engine, warning(media=image), source="test", actor="tester", base_dir=media)
    wait_until_settled(herold.engine, alert, timeout=20)

    # The correction names no image; the post it edits is a photo, whose caption holds 1,024.
    correction = accept(herold.engine, warning(msg_type="update", correction=True, references=alert,
                                               description="Die Sperrung wird erweitert. " * 60),
                        source="test", actor="tester")  # fmt: skip
    wait_until_settled(herold.engine, correction, timeout=20)

    [edit] = [o for o in herold.store.operations.of(correction) if o.channel == "telegram"]
    assert (edit.action, edit.state) == (Action.edit, OperationState.succeeded), edit.last_error
    [shown] = fake.posts()
    assert shown.kind == "photo" and utf16(shown.text) <= 1024 and "erweitert" in shown.text


# -- the fake, held to what Telegram documents -------------------------------------------------------


def test_the_fake_parses_html_as_telegram_does() -> None:
    assert parse_html("a &amp; b &lt c &auml; &#x1F30A; <b>fett</b>") == (
        "a & b < c &auml; 🌊 fett",  # only four named entities; ";" optional; numeric ones too
        [{"type": "bold", "offset": 20, "length": 4}],  # UTF-16 offsets: the wave counts two
    )
    assert parse_html('<a href="https://x.de/?a=1&amp;b=2">hier</a>')[1] == [
        {"type": "text_link", "offset": 0, "length": 4, "url": "https://x.de/?a=1&b=2"}
    ]
    for broken, words in (("Stufe <3>", "Unsupported start tag"), ("<b>offen", "Can't find end tag"),
                          ("a < b", "Unclosed start tag")):  # fmt: skip
        with pytest.raises(Exception, match=words):
            parse_html(broken)


@pytest.mark.parametrize(("method", "field", "limit"), [("sendMessage", "text", 4096), ("sendPhoto", "caption", 1024)])
def test_the_fake_counts_the_visible_text_in_code_points_and_refuses_one_more(
    fake: FakeTelegram, method: str, field: str, limit: int
) -> None:
    def send(text: str) -> dict[str, Any]:
        files = {"photo": ("bild.png", png_bytes(), "image/png")} if method == "sendPhoto" else None
        fields = {"chat_id": fake.chat, field: text, "parse_mode": "HTML"}
        answer: dict[str, Any] = requests.post(
            f"{fake.url}/bot{TOKEN}/{method}", data=fields, files=files, timeout=5
        ).json()
        return answer

    assert send("&amp;" * limit)["ok"] is True, "markup is not counted"
    assert send("🌊" * limit)["ok"] is True, "code points, as TDLib counts (utf8_length)"
    what = "message caption" if field == "caption" else "message"
    refused = {"ok": False, "error_code": 400, "description": f"Bad Request: {what} is too long"}
    assert send("x" * (limit + 1)) == refused
