"""The Bluesky channel, against a fake PDS that keeps state as the reference PDS does
(tests/fakes/bluesky_server.py): sessions that expire and rotate, records at chosen keys, the
profile's pinned post, and the error bodies ``{"error", "message"}`` of XRPC."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import regex

from adapters.bluesky import BlueskyChannel, facets, record_key, rule
from adapters.port import (
    Channel,
    CredentialsError,
    PermanentError,
    Post,
    Receipt,
    TransientError,
)
from publisher.domain.announcement import parse_announcement
from publisher.domain.records import Variant
from publisher.edges.wiring import Herold
from publisher.engine.schema import OperationState

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, publish, warning
from fakes.bluesky_server import APP_PASSWORD, DID, HANDLE, MAIN_PASSWORD, FakeBluesky, drop_after, status
from fakes.webhook_receiver import Answer
from helpers import png_bytes
from kit import ITEM_URL, ChannelCase, ChannelContract, Endpoint, make_channel, post_for, samples

PASSWORD_ENV = "HEROLD_TEST_BLUESKY_PASSWORD"
POST_URI = f"at://{DID}/app.bsky.feed.post/3m5bq2kxvzc2a"


# -- the contract every channel keeps --------------------------------------------------------------


def counted_by_bluesky(variant: Variant) -> int:
    """app.bsky.feed.post's own limits (its lexicon): at most 300 grapheme clusters and at most
    3,000 UTF-8 bytes, links at full length. Both as one number against 300: a tenth of the
    bytes, rounded up, counts too."""
    return max(len(regex.findall(r"\X", variant.text)), math.ceil(len(variant.text.encode()) / 10))


# The double answers every call alike: one body that is a session, a record, a blob and a record
# read. The kit takes the account's own id from "id".
ANSWER = {
    "id": DID,
    "did": DID,
    "handle": HANDLE,
    "accessJwt": "access-token",
    "refreshJwt": "refresh-token",
    "uri": POST_URI,
    "cid": "bafyreiexamplecid",
    "blob": {"$type": "blob", "ref": {"$link": "bafkreiexample"}, "mimeType": "image/png", "size": 80},
    "value": {"$type": "app.bsky.feed.post", "text": "Fliegerbombe", "createdAt": "2026-11-22T09:15:02.123Z"},
}

CASE = ChannelCase(
    kind=BlueskyChannel,
    settings=lambda url: {"service": url, "handle": HANDLE, "app_password_env": PASSWORD_ENV},
    secrets={"app_password": APP_PASSWORD},
    published=Answer(200, body=json.dumps(ANSWER).encode(), headers={"Content-Type": "application/json"}),
    counted=counted_by_bluesky,
    limit=300,
    reads_of_others=(
        Endpoint(r"/xrpc/com\.atproto\.repo\.getRecord\?(?!.*\brepo={own}(&|$))", "another account's records"),
        Endpoint(r"/xrpc/com\.atproto\.repo\.listRecords\b", "listing a repo's records"),
        Endpoint(r"/xrpc/com\.atproto\.sync\.", "whole repositories"),
        Endpoint(r"/xrpc/app\.bsky\.feed\.(getAuthorFeed|getPosts|getActorLikes)\b", "people's posts and likes"),
        Endpoint(r"/xrpc/app\.bsky\.actor\.getProfiles?\b", "people's profiles"),
    ),
)


class TestBlueskyContract(ChannelContract):
    case = CASE


# -- set-up --------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    with FakeBluesky() as server:
        yield server


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "bild.png").write_bytes(png_bytes(16, 9))
    return tmp_path


def channel_on(fake: FakeBluesky, media: Path, **settings: Any) -> BlueskyChannel:
    channel = make_channel(CASE, fake.url, media, **settings)
    assert isinstance(channel, BlueskyChannel)
    return channel


def sibling(channel: Channel, **context: Any) -> BlueskyChannel:
    """Another channel object for the same account (another worker, or after a restart)."""
    return BlueskyChannel(channel.config, replace(channel.context, **context))


def post(channel: Channel, delivery: str = "d1", sample: int = 0, **changes: Any) -> Post:
    return post_for(BlueskyChannel, channel, parse_announcement({**samples()[sample], **changes}), delivery=delivery)


def slices(text: str, record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each facet's slice of the text, decoded from the UTF-8 bytes its index names, with its feature."""
    data = text.encode()
    return [
        (data[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0])
        for f in record.get("facets", [])
    ]


# -- facets: the acceptance test of issue 13 ---------------------------------------------------


def test_facets_of_a_text_with_straße_ü_an_emoji_and_the_link_decode_to_exactly_the_link_and_tags() -> None:
    text = f"Ü-Bahn: Sperrung der Hauptstraße 🚒👩‍🚒 ab 10 Uhr.\n\n{ITEM_URL}\n\n#Straße #Übung"
    found = {"facets": facets(text)}
    assert slices(text, found) == [
        (ITEM_URL, {"$type": "app.bsky.richtext.facet#link", "uri": ITEM_URL}),
        ("#Straße", {"$type": "app.bsky.richtext.facet#tag", "tag": "Straße"}),
        ("#Übung", {"$type": "app.bsky.richtext.facet#tag", "tag": "Übung"}),
    ]
    link = found["facets"][0]["index"]
    assert link["byteStart"] > text.index(ITEM_URL), "offsets count UTF-8 bytes, not characters"
    assert link["byteEnd"] - link["byteStart"] == len(ITEM_URL.encode())


def test_a_published_post_carries_facets_that_decode_to_its_link_and_hashtags(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    sent = post(channel, headline="Ü-Bahn Hauptstraße gesperrt 🚧👩‍🚒", description="Kurz.", hashtags=["Straße"])
    channel.publish(sent)
    [record] = fake.posts
    assert record.value["text"] == sent.variant.text
    assert slices(record.value["text"], record.value) == [
        (ITEM_URL, {"$type": "app.bsky.richtext.facet#link", "uri": ITEM_URL}),
        ("#Straße", {"$type": "app.bsky.richtext.facet#tag", "tag": "Straße"}),
    ]


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("Mehr unter https://www.stadt.de/bombe.", "https://www.stadt.de/bombe"),
        ("(siehe https://www.stadt.de/a_(b)) und", "https://www.stadt.de/a_(b)"),
        ("Karte: https://www.stadt.de/karte#Sperrgebiet, bitte.", "https://www.stadt.de/karte#Sperrgebiet"),
    ],
)
def test_a_link_ends_before_the_punctuation_of_its_sentence(text: str, link: str) -> None:
    assert slices(text, {"facets": facets(text)}) == [(link, {"$type": "app.bsky.richtext.facet#link", "uri": link})]


def test_numbers_and_a_lone_hash_are_no_hashtags() -> None:
    assert facets("Einsatz #1 und # allein, Nr.#2") == []


# -- what a post carries ------------------------------------------------------------------------


def test_a_post_is_in_the_announcement_s_language_never_english_by_default(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    channel.publish(post(channel, "d1"))
    channel.publish(post(channel, "d2", language="en", headline="Unexploded bomb in the old town"))
    assert [record.value["langs"] for record in fake.posts] == [["de"], ["en"]]


def test_the_receipt_names_the_record_and_where_people_see_it(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    receipt = channel.publish(post(channel))
    [record] = fake.posts
    rkey = record.uri.rsplit("/", 1)[1]
    assert receipt.platform_id == record.uri
    assert receipt.refs["cid"] == record.cid
    assert receipt.url == f"https://bsky.app/profile/{DID}/post/{rkey}"


def test_images_are_uploaded_first_and_posted_with_their_alt_text_and_aspect_ratio(
    fake: FakeBluesky, media: Path
) -> None:
    channel = channel_on(fake, media)
    channel.publish(post(channel, sample=4))
    [upload] = fake.calls("com.atproto.repo.uploadBlob")
    assert upload.body == png_bytes(16, 9)
    assert upload.headers["content-type"] == "image/png"
    [record] = fake.posts
    [image] = record.value["embed"]["images"]
    assert image["alt"] == "Lageplan des Sperrgebiets"
    assert image["aspectRatio"] == {"width": 16, "height": 9}
    assert image["image"]["ref"]["$link"] in fake.blobs


def test_a_post_without_images_shows_a_card_of_the_item_page_unless_told_not_to(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    channel.publish(post(channel, "d1"))
    channel_on(fake, media, link_card=False).publish(post(channel, "d2"))
    with_card, without = fake.posts
    assert with_card.value["embed"] == {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": ITEM_URL,
            "title": "Fliegerbombe in der Altstadt",
            "description": "Verlassen Sie das Sperrgebiet bis 10 Uhr.",
        },
    }
    assert "embed" not in without.value


def test_an_image_larger_than_bluesky_takes_is_refused_before_anything_is_sent(fake: FakeBluesky, media: Path) -> None:
    (media / "bild.png").write_bytes(b"\x89PNG" + bytes(1_000_000))
    channel = channel_on(fake, media)
    with pytest.raises(PermanentError, match="1,000,000"):
        channel.publish(post(channel, sample=4))
    assert fake.calls("com.atproto.repo.uploadBlob") == []
    assert fake.posts == []


def test_the_text_limit_is_300_graphemes_and_3000_bytes_both() -> None:
    text_rule = rule()
    assert text_rule.excess("a" * 300, (), has_media=False) == 0
    assert text_rule.excess("a" * 301, (), has_media=False) == 1
    firefighters = "👩‍🚒" * 280  # 280 graphemes, but 11 bytes each
    assert text_rule.excess(firefighters, (), has_media=False) == len(firefighters.encode()) - 3000


# -- threads ----------------------------------------------------------------------------------


def test_replies_carry_the_thread_s_root_and_their_parent(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    alert = channel.publish(post(channel, "d1"))
    first_update = post(channel, "d2", headline="Sperrgebiet erweitert")
    update = channel.reply(replace(first_update, in_reply_to=alert, thread=(alert,)))
    last = post(channel, "d3", headline="Entwarnung: Bombe entschärft")
    channel.reply(replace(last, in_reply_to=update, thread=(alert, update)))
    first, second, third = (record.value for record in fake.posts)
    root = {"uri": alert.platform_id, "cid": alert.refs["cid"]}
    assert "reply" not in first
    assert second["reply"] == {"root": root, "parent": root}
    assert third["reply"] == {"root": root, "parent": {"uri": update.platform_id, "cid": update.refs["cid"]}}
    assert update.refs["root_uri"] == alert.platform_id


def test_a_reply_to_a_post_known_by_its_uri_only_asks_the_own_repo_for_its_cid(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    alert = channel.publish(post(channel, "d1"))
    bare = Receipt(platform_id=alert.platform_id)
    channel.reply(replace(post(channel, "d2"), in_reply_to=bare, thread=(bare,)))
    assert fake.posts[1].value["reply"]["parent"] == {"uri": alert.platform_id, "cid": alert.refs["cid"]}
    [read] = fake.calls("com.atproto.repo.getRecord")
    assert read.params["repo"] == DID


# -- the session: createSession is limited to 30 per 5 minutes ----------------------------------


def test_the_session_is_kept_so_that_other_workers_and_a_restart_do_not_sign_in_again(
    fake: FakeBluesky, media: Path
) -> None:
    channel = channel_on(fake, media)
    channel.publish(post(channel, "d1"))
    sibling(channel).publish(post(channel, "d2"))
    assert fake.sessions_created == 1
    assert len(fake.posts) == 2


def test_an_expired_access_token_is_refreshed_and_the_call_made_once_more(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    channel.publish(post(channel, "d1"))
    fake.expire_access_tokens()
    channel.publish(post(channel, "d2"))
    creates = fake.calls("com.atproto.repo.createRecord")
    assert [c.status for c in creates] == [200, 400, 200]
    assert len(fake.calls("com.atproto.server.refreshSession")) == 1
    assert fake.sessions_created == 1
    assert len(fake.posts) == 2


def test_an_access_token_about_to_run_out_is_renewed_before_the_call(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    channel.publish(post(channel, "d1"))
    later = sibling(channel, clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    later.publish(post(channel, "d2"))
    assert [c.status for c in fake.calls("com.atproto.repo.createRecord")] == [200, 200]
    assert len(fake.calls("com.atproto.server.refreshSession")) == 1


def test_the_rotated_refresh_token_is_kept_for_the_next_worker(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    channel.publish(post(channel, "d1"))
    before = channel.context.credentials.get("session")
    fake.expire_access_tokens()
    channel.publish(post(channel, "d2"))
    after = channel.context.credentials.get("session")
    assert before is not None and after is not None
    assert json.loads(after.value)["refreshJwt"] != json.loads(before.value)["refreshJwt"]
    assert after.expires_at is not None and after.expires_at > datetime.now(UTC) + timedelta(days=80)


def test_a_refused_refresh_token_means_one_new_sign_in(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    channel.publish(post(channel, "d1"))
    fake.expire_access_tokens()
    fake.revoke_refresh_tokens()
    channel.publish(post(channel, "d2"))
    assert fake.sessions_created == 2
    assert len(fake.posts) == 2


def test_a_session_for_another_handle_is_not_used(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    channel.publish(post(channel, "d1"))
    other = make_channel(CASE, fake.url, media, handle=DID)  # the same account named by its DID
    other = BlueskyChannel(other.config, replace(other.context, credentials=channel.context.credentials))
    other.publish(post(channel, "d2"))
    assert fake.sessions_created == 2


@pytest.mark.parametrize(
    ("password", "hint"),
    [("falsch-falsch-falsch", "check lk-beispiel.bsky.social and the app password"), (MAIN_PASSWORD, "app password")],
)
def test_a_refused_sign_in_stops_the_channel_and_says_what_to_fix(
    fake: FakeBluesky, media: Path, password: str, hint: str
) -> None:
    channel = channel_on(fake, media)
    channel = sibling(channel, secrets={"app_password": password})
    with pytest.raises(CredentialsError, match=hint):
        channel.publish(post(channel))
    assert fake.posts == []


def test_the_sign_in_limit_is_a_retry_after_its_reset_in_epoch_seconds(media: Path) -> None:
    with FakeBluesky(session_limit=1) as fake:
        channel_on(fake, media).publish(post(channel_on(fake, media), "d1"))
        another = channel_on(fake, media)  # nothing kept: it must sign in
        with pytest.raises(TransientError) as refused:
            another.publish(post(another, "d2"))
    [_, limited] = fake.calls("com.atproto.server.createSession")
    assert limited.status == 429
    assert refused.value.retry_after == pytest.approx(300, abs=5)
    assert refused.value.ambiguous is False


def test_a_call_without_a_session_is_a_credentials_error(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    fake.fail(
        "com.atproto.repo.createRecord", status(401, {"error": "AuthMissing", "message": "Authentication Required"})
    )
    with pytest.raises(CredentialsError, match="AuthMissing"):
        channel.publish(post(channel))


def test_a_text_the_server_refuses_is_a_permanent_error_in_its_words(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    sent = post(channel)
    too_long = replace(sent, variant=sent.variant.model_copy(update={"text": "ä" * 301}))
    with pytest.raises(PermanentError, match="must not be longer than 300 graphemes"):
        channel.publish(too_long)


def test_refresh_credentials_signs_in_once_then_renews_and_nothing_expires_for_a_person(
    fake: FakeBluesky, media: Path
) -> None:
    channel = channel_on(fake, media)
    channel.refresh_credentials()
    channel.refresh_credentials()
    assert fake.sessions_created == 1
    assert len(fake.calls("com.atproto.server.refreshSession")) == 1
    assert channel.credentials_expire() is None


def test_refresh_credentials_reports_a_revoked_app_password(fake: FakeBluesky, media: Path) -> None:
    channel = sibling(channel_on(fake, media), secrets={"app_password": "abcd-abcd-abcd-abcd"})
    with pytest.raises(CredentialsError):
        channel.refresh_credentials()


# -- exactly once: a key of our own for each record ---------------------------------------------


def test_record_keys_are_tids_the_same_for_a_delivery_and_different_between_deliveries() -> None:
    created = datetime(2026, 11, 22, 9, 15, 2, 123456, tzinfo=UTC)
    first = record_key("herold-d1", created)
    assert regex.fullmatch(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}", first)
    assert record_key("herold-d1", created) == first
    assert record_key("herold-d2", created) != first
    later = record_key("herold-d1", created + timedelta(seconds=1))
    assert first < later, "TIDs sort by time"
    naive = created.replace(tzinfo=None)
    assert record_key("herold-d1", naive) == first, "a naive time is UTC, whatever the machine's zone"


def test_a_lost_answer_is_found_by_its_record_key_and_never_posted_twice(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    sent = post(channel)
    fake.fail("com.atproto.repo.createRecord", drop_after())
    with pytest.raises(TransientError) as lost:
        channel.publish(sent)
    assert lost.value.ambiguous is True
    found = channel.find(replace(sent, attempt=2, previous_error=lost.value.reason))
    [record] = fake.posts
    assert found is not None and found.platform_id == record.uri
    [read] = fake.calls("com.atproto.repo.getRecord")
    assert read.params["repo"] == DID, "find reads the account's own repo only"


@pytest.mark.parametrize("duplicate", ["500", "explicit"])
def test_a_retry_that_collides_with_its_first_post_answers_with_that_post(media: Path, duplicate: Any) -> None:
    with FakeBluesky(duplicate=duplicate) as fake:
        channel = channel_on(fake, media)
        sent = post(channel)
        fake.fail("com.atproto.repo.createRecord", drop_after())
        with pytest.raises(TransientError):
            channel.publish(sent)
        again = channel.publish(replace(sent, attempt=2))
        [record] = fake.posts
        assert again.platform_id == record.uri
        assert [c.status for c in fake.calls("com.atproto.repo.createRecord")] == [
            None,
            500 if duplicate == "500" else 400,
        ]


def test_a_server_error_with_nothing_at_the_key_stays_an_ambiguous_retry(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    fake.fail("com.atproto.repo.createRecord", status(502, {"error": "UpstreamFailure", "message": "Upstream Failure"}))
    with pytest.raises(TransientError) as failed:
        channel.publish(post(channel))
    assert failed.value.ambiguous is True
    assert fake.posts == []


def test_find_finds_nothing_where_nothing_was_posted(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    assert channel.find(post(channel)) is None


# -- withdrawal and pins ------------------------------------------------------------------------


def test_delete_removes_the_post_and_one_already_gone_is_no_error(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    receipt = channel.publish(post(channel))
    channel.delete(receipt)
    channel.delete(receipt)
    assert fake.posts == []


def test_delete_touches_no_other_account_s_post(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    with pytest.raises(PermanentError, match="only its own"):
        channel.delete(Receipt(platform_id="at://did:plc:someoneelse/app.bsky.feed.post/3m5bq2kxvzc2a"))
    assert fake.calls("com.atproto.repo.deleteRecord") == []


def test_pinning_sets_the_profile_s_pinned_post_and_keeps_what_a_person_set_there(
    fake: FakeBluesky, media: Path
) -> None:
    fake.put_record("app.bsky.actor.profile", "self", {"$type": "app.bsky.actor.profile", "displayName": "LK Beispiel"})
    channel = channel_on(fake, media)
    receipt = channel.publish(post(channel))
    channel.pin(receipt)
    assert fake.profile() == {
        "$type": "app.bsky.actor.profile",
        "displayName": "LK Beispiel",
        "pinnedPost": {"uri": receipt.platform_id, "cid": receipt.refs["cid"]},
    }
    channel.unpin(receipt)
    assert fake.profile() == {"$type": "app.bsky.actor.profile", "displayName": "LK Beispiel"}


def test_pinning_an_account_without_a_profile_record_makes_one(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    receipt = channel.publish(post(channel))
    channel.pin(receipt)
    pinned = {"uri": receipt.platform_id, "cid": receipt.refs["cid"]}
    assert fake.profile() == {"$type": "app.bsky.actor.profile", "pinnedPost": pinned}


def test_unpinning_leaves_a_post_a_person_pinned_meanwhile(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    ours = channel.publish(post(channel, "d1"))
    channel.pin(ours)
    theirs = {"uri": f"at://{DID}/app.bsky.feed.post/3m5bq2kxvzc2b", "cid": "bafyreitheirs"}
    fake.put_record("app.bsky.actor.profile", "self", {"$type": "app.bsky.actor.profile", "pinnedPost": theirs})
    channel.unpin(ours)
    assert fake.profile() == {"$type": "app.bsky.actor.profile", "pinnedPost": theirs}
    assert len(fake.calls("com.atproto.repo.putRecord")) == 1


def test_a_profile_changed_while_pinning_is_a_retry_and_overwrites_nothing(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    receipt = channel.publish(post(channel))
    fake.put_record("app.bsky.actor.profile", "self", {"$type": "app.bsky.actor.profile", "displayName": "Alt"})

    def person_edits_profile(*_: Any) -> None:
        fake.put_record("app.bsky.actor.profile", "self", {"$type": "app.bsky.actor.profile", "displayName": "Neu"})

    reading = channel._own_record

    def read_then_edit(collection: str, rkey: str) -> dict[str, Any] | None:
        answer = reading(collection, rkey)
        person_edits_profile()
        return answer

    channel._own_record = read_then_edit  # type: ignore[method-assign]
    with pytest.raises(TransientError, match="InvalidSwap"):
        channel.pin(receipt)
    assert fake.profile() == {"$type": "app.bsky.actor.profile", "displayName": "Neu"}


# -- the setup check ----------------------------------------------------------------------------


def test_check_names_a_password_that_is_not_an_app_password(fake: FakeBluesky, media: Path) -> None:
    channel = sibling(channel_on(fake, media), secrets={"app_password": MAIN_PASSWORD})
    problems = channel.check()
    assert any("does not look like an app password" in p for p in problems)
    assert any("app password" in p and "sign-in code" in p for p in problems)


def test_check_of_a_good_setup_finds_nothing_and_posts_nothing(fake: FakeBluesky, media: Path) -> None:
    channel = channel_on(fake, media)
    assert channel.check() == []
    assert fake.posts == []


def test_check_flags_plain_http_to_another_machine() -> None:
    channel = make_channel(CASE, "http://pds.example.org", Path("."))
    assert any("not https" in p for p in channel.check())


# -- through the engine: an item's life on Bluesky ----------------------------------------------


def test_a_warning_its_update_and_all_clear_form_one_thread_pinned_then_unpinned_with_one_sign_in(
    fake: FakeBluesky, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = copy.deepcopy(AUTHORITY)
    authority["channels"].append(
        {"id": "bluesky", "type": "bluesky", "service": fake.url, "handle": HANDLE, "app_password_env": PASSWORD_ENV}
    )
    settings = make_settings(authorities=[authority], env={PASSWORD_ENV: APP_PASSWORD}, grace_warning_seconds=0.2,
                             retry_base_seconds=0.05)  # fmt: skip
    herold: Herold = make_herold(settings)
    original = publish(herold, warning())
    assert fake.profile() is not None and fake.profile()["pinnedPost"]["uri"] == fake.posts[0].uri  # type: ignore[index]
    update = publish(herold, warning(msg_type="update", references=original, headline="Sperrgebiet erweitert"))
    cancel = publish(
        herold, warning(msg_type="cancel", references=original, headline="Bombe entschärft", instruction=None)
    )
    copies = [herold.store.operations.copy_on(i, "bluesky") for i in (original, update, cancel)]
    assert all(c is not None and c.state is OperationState.succeeded for c in copies)
    first, second, third = fake.posts
    root = {"uri": first.uri, "cid": first.cid}
    assert second.value["reply"] == {"root": root, "parent": root}
    assert third.value["reply"] == {"root": root, "parent": {"uri": second.uri, "cid": second.cid}}
    assert "pinnedPost" not in (fake.profile() or {}), "the all-clear unpins"
    assert fake.sessions_created == 1, "the session is kept in the database"
