"""The LinkedIn channel, against a fake of LinkedIn's REST API (tests/fakes/linkedin_server.py)
that reads little text as LinkedIn does: an unescaped reserved character silently ends the post."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters.linkedin import COMMENTARY_LIMIT, LinkedInChannel, LinkedInSettings, commentary
from adapters.port import (
    Credential,
    CredentialsError,
    ExpiringCredentials,
    KeptInMemory,
    PermanentError,
    Post,
    Receipt,
    TransientError,
)
from publisher.domain.announcement import parse_announcement
from publisher.domain.counting import Utf16Units
from publisher.domain.records import Variant
from publisher.engine.schema import OperationState

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, publish, warning
from fakes.linkedin_server import (
    ADMIN_OF,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN,
    FakeLinkedIn,
    drop_after,
    shown,
    status,
)
from fakes.webhook_receiver import Answer, Receiver
from helpers import png_bytes
from kit import ITEM_URL, ChannelCase, ChannelContract, Endpoint, make_channel, post_for, samples

TOKEN_ENV = "HEROLD_TEST_LINKEDIN_TOKEN"
REFRESH_ENV = "HEROLD_TEST_LINKEDIN_REFRESH"
SECRET_ENV = "HEROLD_TEST_LINKEDIN_CLIENT_SECRET"
SHARE = "urn:li:share:7400000000000000001"

# A real-sounding warning that uses every reserved character of little text: | { } @ [ ] ( ) < > # \ * _ ~
RESERVED_WARNING: dict[str, Any] = {
    "headline": "Unwetterwarnung (Kreis Borken): Orkanböen [Stufe 3]",
    "instruction": "Bleiben Sie im Haus {auch nachmittags} und meiden Sie Wälder.",
    "description": (
        "Der DWD erwartet Böen bis 120 km/h, ~ab 18 Uhr. Bürgertelefon <02861 681-0> | Fragen an "
        "presse@kreis-borken.de, Stichwort *Sturm* _dringend_. Karten liegen unter C:\\Lage\\Sturm "
        "und online: https://www.kreis-borken.de/karte_2026/#sturm"
    ),
    "hashtags": ["Sturm", "Kreis_Borken"],
}


def counted_by_linkedin(variant: Variant) -> int:
    """What LinkedIn counts of what the channel sends: the text it shows (little text read, escapes
    gone), in Java string length, UTF-16 code units (ShareCommentary text length)."""
    text, cut = shown(commentary(variant.text))
    assert not cut, "LinkedIn would cut this post off"
    return len(text.encode("utf-16-le")) // 2


# -- the contract every channel keeps --------------------------------------------------------------

UPLOAD = {
    "value": {"uploadUrlExpiresAt": 1_800_000_000_000, "uploadUrl": "/dms-uploads/kit", "image": "urn:li:image:C4"}
}

CASE = ChannelCase(
    kind=LinkedInChannel,
    settings=lambda url: {
        "organization_id": ADMIN_OF,
        "access_token_env": TOKEN_ENV,
        "api_base": url,
        "token_expires": "2027-01-15",
    },
    secrets={"access_token": TOKEN},
    # One answer for every request of a lifecycle: an image upload's and a new post's at once.
    published=Answer(
        201, body=json.dumps(UPLOAD).encode(), headers={"Content-Type": "application/json", "x-restli-id": SHARE}
    ),
    answers={426: CredentialsError},  # a retired LinkedIn-Version: the configuration must change
    counted=counted_by_linkedin,
    limit=COMMENTARY_LIMIT,
    reads_of_others=(
        Endpoint(r"/rest/posts\b", "reading posts: Herold writes its own and reads no feed", "GET"),
        Endpoint(r"/rest/(people|peopleTypeahead|memberFollowersCount)\b", "other members (LinkedIn)"),
        Endpoint(r"/rest/organizationAcls\b", "who runs the page (LinkedIn)"),
        Endpoint(r"/rest/(reactions|comments)\b", "comments and reactions (LinkedIn)"),
        Endpoint(r"/rest/(conversations|messages)\b", "messages (LinkedIn)"),
    ),
)


class TestLinkedInContract(ChannelContract):
    case = CASE


# -- set-up ---------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeLinkedIn]:
    with FakeLinkedIn() as server:
        yield server


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "bild.png").write_bytes(png_bytes(colour="blue"))
    (tmp_path / "karte.png").write_bytes(png_bytes(colour="green"))
    return tmp_path


def channel_on(
    fake: FakeLinkedIn,
    media: Path,
    *,
    secrets: dict[str, str] | None = None,
    credentials: KeptInMemory | None = None,
    clock: Any = None,
    **settings: Any,
) -> LinkedInChannel:
    made = make_channel(CASE, fake.url, media, oauth_base=fake.url, **settings)
    context = replace(
        made.context,
        secrets=secrets or {"access_token": TOKEN},
        credentials=credentials or KeptInMemory(),
        clock=clock or (lambda: datetime.now(UTC)),
    )
    channel = LinkedInChannel(made.config, context)
    assert isinstance(channel, LinkedInChannel)
    return channel


REFRESHING: dict[str, Any] = {"refresh_token_env": REFRESH_ENV, "client_id": CLIENT_ID, "client_secret_env": SECRET_ENV}


def refreshing(fake: FakeLinkedIn, media: Path, **kwargs: Any) -> LinkedInChannel:
    secrets = {"access_token": TOKEN, "refresh_token": REFRESH_TOKEN, "client_secret": CLIENT_SECRET}
    return channel_on(fake, media, secrets=kwargs.pop("secrets", secrets), **REFRESHING, **kwargs)


def post_of(channel: LinkedInChannel, delivery: str = "d1", **changes: Any) -> Post:
    return post_for(LinkedInChannel, channel, parse_announcement({**samples()[0], **changes}), delivery=delivery)


def calls(fake: FakeLinkedIn, method: str, path: str) -> list[Any]:
    return [r for r in fake.requests if r.method == method and r.path == path]


# -- little text: the gotcha ----------------------------------------------------------------------


def test_a_warning_with_every_reserved_character_a_hashtag_and_a_link_reaches_linkedin_whole(
    fake: FakeLinkedIn, media: Path
) -> None:
    channel = channel_on(fake, media)
    post = post_of(channel, **RESERVED_WARNING)
    for char in "|{}@[]()<>#\\*_~":
        assert char in post.variant.text, f"the sample must use {char!r}"

    channel.publish(post)

    [posted] = fake.posts
    assert posted["cut"] is False
    assert posted["shown"] == post.variant.text, "LinkedIn shows exactly the variant: nothing cut, no backslash"
    assert "{hashtag|#|Sturm} {hashtag|#|Kreis\\_Borken}" in posted["commentary"], "hashtags stay hashtags"
    assert "https://www.kreis-borken.de/karte_2026/#sturm" in posted["shown"]
    assert ITEM_URL in posted["shown"]
    # Without the escaping LinkedIn would take the same text and show it only up to the first "(".
    assert shown(post.variant.text) == ("Unwetterwarnung ", True)


def test_escaping_leaves_the_length_as_linkedin_counts_it(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media)
    post = post_of(channel, **RESERVED_WARNING)
    sent = commentary(post.variant.text)
    assert len(sent) > len(post.variant.text), "the escapes make the sent text longer"
    assert post.variant.length == counted_by_linkedin(post.variant) == Utf16Units().count(post.variant.text, ())

    # A text at LinkedIn's limit full of reserved characters goes through: LinkedIn counts it unescaped.
    text = ("(Kreis Borken) " * 200)[:COMMENTARY_LIMIT]
    full = replace(post, variant=post.variant.model_copy(update={"text": text}))
    assert len(commentary(text)) > COMMENTARY_LIMIT
    channel.publish(full)
    assert fake.posts[-1]["shown"] == text


@given(st.text(alphabet=st.sampled_from([*"|{}@[]()<>#\\*_~", *string.printable, "ä", "ß", "🌪", "＃"])))
def test_any_text_comes_out_of_little_text_as_it_went_in(text: str) -> None:
    assert shown(commentary(text)) == (text, False)


# -- what a post looks like -----------------------------------------------------------------------


def test_a_post_is_a_public_organisation_post_with_a_link_card_and_linkedin_s_headers(
    fake: FakeLinkedIn, media: Path
) -> None:
    channel = channel_on(fake, media)
    post = post_of(channel)

    receipt = channel.publish(post)

    [call] = calls(fake, "POST", "/rest/posts")
    assert call.json() == {
        "author": f"urn:li:organization:{ADMIN_OF}",
        "commentary": commentary(post.variant.text),
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
        "content": {"article": {"source": ITEM_URL, "title": "Fliegerbombe in der Altstadt"}},
    }
    assert call.headers["linkedin-version"] == "202609"
    assert call.headers["x-restli-protocol-version"] == "2.0.0"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    [posted] = fake.posts
    assert receipt == Receipt(platform_id=posted["urn"], url=f"https://www.linkedin.com/feed/update/{posted['urn']}/")


def test_one_image_is_uploaded_and_attached_with_its_alt_text(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media)
    channel.publish(post_of(channel, media=[{"path": "bild.png", "alt": "Karte: Sperrgebiet rund um den Markt"}]))

    [initialize] = calls(fake, "POST", "/rest/images")
    assert initialize.query == {"action": ["initializeUpload"]}
    assert initialize.json() == {"initializeUploadRequest": {"owner": f"urn:li:organization:{ADMIN_OF}"}}
    assert initialize.headers["linkedin-version"] == "202609"
    [image] = fake.images
    assert image["data"] == (media / "bild.png").read_bytes()
    [posted] = fake.posts
    assert posted["content"] == {"media": {"id": image["urn"], "altText": "Karte: Sperrgebiet rund um den Markt"}}


def test_several_images_become_one_multi_image_post(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media)
    pictures = [{"path": "bild.png", "alt": "Foto der Fundstelle"}, {"path": "karte.png", "alt": "Karte"}]
    channel.publish(post_of(channel, media=pictures))

    [posted] = fake.posts
    urns = [image["urn"] for image in fake.images]
    assert posted["content"] == {
        "multiImage": {
            "images": [{"id": urns[0], "altText": "Foto der Fundstelle"}, {"id": urns[1], "altText": "Karte"}]
        }
    }


def test_a_follow_up_is_a_new_post_in_the_feed_not_a_comment(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media)
    first = channel.publish(post_of(channel))
    update = replace(
        post_of(channel, "d2", msg_type="update", references="a1", headline="Sperrgebiet erweitert"),
        in_reply_to=first,
        thread=(first,),
    )

    second = channel.publish(update)

    assert second.platform_id != first.platform_id
    assert [p["shown"] for p in fake.posts] == [post_of(channel).variant.text, update.variant.text]
    assert not [r for r in fake.requests if "socialActions" in r.path or "comments" in r.path]
    assert ITEM_URL in fake.posts[1]["shown"], "the new post links the item's page, where the thread stands"


def test_every_call_to_the_api_carries_the_version_the_protocol_and_the_token(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media, linkedin_version="202604")
    receipt = channel.publish(post_of(channel, media=[{"path": "bild.png", "alt": "Karte"}]))
    channel.edit(receipt, post_of(channel, "d2", headline="Berichtigung"))
    channel.delete(receipt)

    api = [r for r in fake.requests if r.path.startswith("/rest/")]
    assert [(r.method, r.path.split("/")[2]) for r in api] == [
        ("POST", "images"), ("POST", "posts"), ("POST", "posts"), ("DELETE", "posts")]  # fmt: skip
    for request in api:
        assert request.headers["linkedin-version"] == "202604"
        assert request.headers["x-restli-protocol-version"] == "2.0.0"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_the_token_goes_with_an_image_only_to_linkedin(fake: FakeLinkedIn, media: Path) -> None:
    with Receiver(path="/upload") as elsewhere:
        answer = {"value": {"uploadUrl": elsewhere.url, "image": "urn:li:image:C4", "uploadUrlExpiresAt": 0}}
        fake.fail("POST", "/rest/images", status(200, answer))
        fake.fail("POST", "/rest/posts", status(201, {}, {"x-restli-id": SHARE}))
        channel = channel_on(fake, media)

        channel.publish(post_of(channel, media=[{"path": "bild.png", "alt": "Karte"}]))

        [upload] = elsewhere.requests
    assert upload.method == "PUT" and upload.body == (media / "bild.png").read_bytes()
    assert "authorization" not in upload.headers
    [own] = [r for r in fake.requests if r.path == "/rest/posts"]
    assert own.headers["authorization"] == f"Bearer {TOKEN}"


# -- corrections and withdrawals ------------------------------------------------------------------


def test_a_correction_edits_the_commentary_in_place_escaped_like_a_post(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media)
    receipt = channel.publish(post_of(channel, media=[{"path": "bild.png", "alt": "Karte"}]))
    corrected = post_of(channel, "d2", headline="Korrektur: Sperrgebiet (Altstadt) bis 11 Uhr")

    assert channel.edit(receipt, corrected) == receipt

    [call] = calls(fake, "POST", f"/rest/posts/{receipt.platform_id}")
    assert call.headers["x-restli-method"] == "PARTIAL_UPDATE"
    assert call.json() == {"patch": {"$set": {"commentary": commentary(corrected.variant.text)}}}
    [posted] = fake.posts
    assert posted["shown"] == corrected.variant.text and len(posted["edits"]) == 1
    assert "media" in posted["content"], "the image stays"


def test_editing_a_post_deleted_on_linkedin_fails_saying_so(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media)
    receipt = channel.publish(post_of(channel))
    channel.delete(receipt)

    with pytest.raises(PermanentError, match="gone from LinkedIn"):
        channel.edit(receipt, post_of(channel, "d2"))


def test_a_withdrawal_deletes_the_post_and_deleting_again_or_a_post_never_seen_is_fine(
    fake: FakeLinkedIn, media: Path
) -> None:
    channel = channel_on(fake, media)
    receipt = channel.publish(post_of(channel))

    channel.delete(receipt)
    channel.delete(receipt)
    channel.delete(Receipt(platform_id="urn:li:share:1"))

    [posted] = fake.posts
    assert posted["deleted"] is True
    deletes = [r for r in fake.requests if r.method == "DELETE"]
    assert [r.headers["x-restli-method"] for r in deletes] == ["DELETE"] * 3
    assert deletes[0].path == f"/rest/posts/{receipt.platform_id}"


# -- LinkedIn's error answers ------------------------------------------------------------------------


def test_a_retired_api_version_stops_the_channel_and_says_to_raise_linkedin_version(
    fake: FakeLinkedIn, media: Path
) -> None:
    channel = channel_on(fake, media, linkedin_version="202504")

    with pytest.raises(CredentialsError) as failed:
        channel.publish(post_of(channel))

    assert "linkedin_version" in failed.value.reason and "202504" in failed.value.reason
    assert "NONEXISTENT_VERSION" in failed.value.reason
    assert fake.posts == []


@pytest.mark.parametrize("spoil", ["expire", "revoke"])
def test_an_expired_or_revoked_token_stops_the_channel(fake: FakeLinkedIn, media: Path, spoil: str) -> None:
    getattr(fake, spoil)(TOKEN)
    channel = channel_on(fake, media)

    with pytest.raises(CredentialsError, match=r"401 (EXPIRED|REVOKED)_ACCESS_TOKEN"):
        channel.publish(post_of(channel))


def test_a_token_without_w_organization_social_stops_the_channel_naming_the_permission(
    fake: FakeLinkedIn, media: Path
) -> None:
    fake.add_token("member-only", scopes=frozenset({"w_member_social"}))
    channel = channel_on(fake, media, secrets={"access_token": "member-only"})

    with pytest.raises(CredentialsError, match="w_organization_social"):
        channel.publish(post_of(channel))


def test_a_member_who_does_not_administer_the_page_is_refused(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media, organization_id="urn:li:organization:99")

    with pytest.raises(CredentialsError, match="ACCESS_DENIED"):
        channel.publish(post_of(channel))


def test_the_daily_limit_is_a_retry_later(fake: FakeLinkedIn, media: Path) -> None:
    fake.daily_limit = 1
    channel = channel_on(fake, media)
    channel.publish(post_of(channel))

    with pytest.raises(TransientError, match="TOO_MANY_REQUESTS") as failed:
        channel.publish(post_of(channel, "d2", headline="Zweite Meldung"))

    assert failed.value.ambiguous is False


def test_a_text_linkedin_counts_too_long_is_refused_for_good(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media)
    post = post_of(channel)
    over = replace(post, variant=post.variant.model_copy(update={"text": "🌪" * 1501}))  # 3,002 UTF-16 units

    with pytest.raises(PermanentError, match="too long"):
        channel.publish(over)


def test_a_validation_refusal_is_permanent(fake: FakeLinkedIn, media: Path) -> None:
    fake.fail(
        "POST",
        "/rest/posts",
        status(422, {"status": 422, "code": "UNPROCESSABLE_ENTITY", "message": "/visibility :: invalid value"}),
    )
    channel = channel_on(fake, media)

    with pytest.raises(PermanentError, match="invalid value") as failed:
        channel.publish(post_of(channel))

    assert not isinstance(failed.value, CredentialsError)


# -- at least once: a lost answer ------------------------------------------------------------------


def test_after_a_lost_answer_linkedin_s_duplicate_refusal_is_the_receipt_of_the_first_post(
    fake: FakeLinkedIn, media: Path
) -> None:
    channel = channel_on(fake, media)
    fake.fail("POST", "/rest/posts", drop_after())
    with pytest.raises(TransientError) as lost:
        channel.publish(post_of(channel))
    assert lost.value.ambiguous is True

    receipt = channel.publish(replace(post_of(channel), attempt=2, previous_error=lost.value.reason))

    [posted] = fake.posts
    assert receipt.platform_id == posted["urn"], "no second post, and the first one's id"


def test_a_duplicate_on_a_first_attempt_is_refused_naming_the_earlier_post(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media)
    first = channel.publish(post_of(channel))

    with pytest.raises(PermanentError, match=f"duplicate of its post {first.platform_id}"):
        channel.publish(post_of(channel, "d2"))


# -- tokens ---------------------------------------------------------------------------------------


def test_without_a_refresh_token_the_configured_date_is_when_the_token_expires(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media, token_expires="2027-01-15")
    assert isinstance(channel, ExpiringCredentials)

    channel.refresh_credentials()

    assert channel.credentials_expire() == datetime(2027, 1, 15, tzinfo=UTC)
    assert channel_on(fake, media, token_expires=None).credentials_expire() is None
    assert not calls(fake, "POST", "/oauth/v2/accessToken"), "nothing to refresh with"


def test_a_refresh_keeps_the_new_token_and_reports_when_the_refresh_token_ends(fake: FakeLinkedIn, media: Path) -> None:
    kept = KeptInMemory()
    channel = refreshing(fake, media, credentials=kept)

    channel.refresh_credentials()

    [call] = calls(fake, "POST", "/oauth/v2/accessToken")
    assert call.form() == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    access = kept.get("access_token")
    assert access is not None and access.value != TOKEN
    assert access.expires_at is not None
    assert abs(access.expires_at.timestamp() - fake.token_expires(access.value)) < 5  # type: ignore[operator]
    ends = channel.credentials_expire()
    assert ends is not None and timedelta(days=364) < ends - datetime.now(UTC) <= timedelta(days=365)

    channel.publish(post_of(channel))
    assert calls(fake, "POST", "/rest/posts")[0].headers["authorization"] == f"Bearer {access.value}"

    channel.refresh_credentials()
    assert len(calls(fake, "POST", "/oauth/v2/accessToken")) == 1, "not again while the token has 60 days"


def test_a_token_near_its_end_is_refreshed(fake: FakeLinkedIn, media: Path) -> None:
    kept = KeptInMemory()
    channel = refreshing(fake, media, credentials=kept)
    channel.refresh_credentials()
    later = datetime.now(UTC) + timedelta(days=55)
    channel = refreshing(fake, media, credentials=kept, clock=lambda: later)

    channel.refresh_credentials()

    assert len(calls(fake, "POST", "/oauth/v2/accessToken")) == 2


def test_a_refused_refresh_token_asks_for_new_tokens(fake: FakeLinkedIn, media: Path) -> None:
    fake.revoke(REFRESH_TOKEN)
    channel = refreshing(fake, media)

    with pytest.raises(CredentialsError, match="invalid_request") as failed:
        channel.refresh_credentials()

    assert REFRESH_ENV in failed.value.reason and TOKEN_ENV in failed.value.reason


def test_a_refresh_that_fails_for_now_is_quiet_while_the_token_has_time(fake: FakeLinkedIn, media: Path) -> None:
    kept = KeptInMemory()
    channel = refreshing(fake, media, credentials=kept)
    fake.fail("POST", "/oauth/v2/accessToken", status(503))
    channel.refresh_credentials()  # the end is not known yet: tried again on the next look

    channel.refresh_credentials()
    access = kept.get("access_token")
    assert access is not None and access.expires_at is not None
    urgent = access.expires_at - timedelta(days=2)
    fake.fail("POST", "/oauth/v2/accessToken", status(503))
    with pytest.raises(TransientError):
        refreshing(fake, media, credentials=kept, clock=lambda: urgent).refresh_credentials()


def test_an_expired_access_token_is_refreshed_and_the_post_still_goes_out(fake: FakeLinkedIn, media: Path) -> None:
    fake.expire(TOKEN)
    kept = KeptInMemory()
    channel = refreshing(fake, media, credentials=kept)

    receipt = channel.publish(post_of(channel))

    assert [p["urn"] for p in fake.posts] == [receipt.platform_id]
    assert [r.status for r in calls(fake, "POST", "/rest/posts")] == [401, 201]
    assert kept.get("access_token") is not None


def test_tokens_a_person_configures_anew_win_over_those_kept_from_a_refresh(fake: FakeLinkedIn, media: Path) -> None:
    kept = KeptInMemory()
    refreshing(fake, media, credentials=kept).refresh_credentials()
    fake.add_token("fresh-from-the-portal", refresh="fresh-refresh")
    secrets = {
        "access_token": "fresh-from-the-portal",
        "refresh_token": "fresh-refresh",
        "client_secret": CLIENT_SECRET,
    }
    channel = refreshing(fake, media, credentials=kept, secrets=secrets)

    channel.publish(post_of(channel))

    assert calls(fake, "POST", "/rest/posts")[0].headers["authorization"] == "Bearer fresh-from-the-portal"


def test_a_kept_time_without_zone_counts_as_utc(fake: FakeLinkedIn, media: Path) -> None:
    kept = KeptInMemory()
    channel = refreshing(fake, media, credentials=kept)
    channel.refresh_credentials()
    refresh = kept.get("refresh_token")
    assert refresh is not None and refresh.expires_at is not None
    naive = refresh.expires_at.astimezone(UTC).replace(tzinfo=None)
    kept.put("refresh_token", Credential(refresh.value, naive))

    assert channel.credentials_expire() == refresh.expires_at


# -- settings and the setup check -------------------------------------------------------------------


def test_the_settings_take_the_page_s_number_or_urn_and_the_refresh_trio_only_together() -> None:
    base = {"access_token_env": TOKEN_ENV}
    assert (
        LinkedInSettings.model_validate({**base, "organization_id": "urn:li:organization:42"}).organization_id == "42"
    )
    with pytest.raises(ValidationError, match="go together"):
        LinkedInSettings.model_validate({**base, "organization_id": "42", "refresh_token_env": REFRESH_ENV})
    with pytest.raises(ValidationError):
        LinkedInSettings.model_validate({**base, "organization_id": "42", "linkedin_version": "2026-09"})
    with pytest.raises(ValidationError):
        LinkedInSettings.model_validate({**base, "organization_id": "Kreis Borken"})


def test_the_setup_check_names_an_old_version_a_missing_expiry_date_and_a_refused_token(
    fake: FakeLinkedIn, media: Path
) -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert channel_on(fake, media, clock=lambda: now).check() == []

    problems = channel_on(fake, media, clock=lambda: now, linkedin_version="202512", token_expires=None).check()
    assert any("token_expires is not set" in p for p in problems)

    aged = channel_on(fake, media, clock=lambda: datetime(2026, 12, 20, tzinfo=UTC), linkedin_version="202601")
    assert any("202601 is 11 months old" in p for p in aged.check())

    assert any("426" in p for p in channel_on(fake, media, clock=lambda: now, linkedin_version="202501").check())
    fake.revoke(TOKEN)
    assert any("401" in p for p in channel_on(fake, media, clock=lambda: now).check())
    assert fake.posts == [], "the check changes nothing"


def test_the_setup_check_names_a_token_past_its_date(fake: FakeLinkedIn, media: Path) -> None:
    channel = channel_on(fake, media, token_expires=date(2026, 10, 1), clock=lambda: datetime(2026, 11, 1, tzinfo=UTC))
    assert "the LinkedIn token expired on 2026-10-01: set a new one" in channel.check()


# -- through the engine ----------------------------------------------------------------------------


def test_an_alert_its_update_correction_and_all_clear_reach_the_page_as_linkedin_shows_them(
    fake: FakeLinkedIn, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = {
        **AUTHORITY,
        "channels": [
            *AUTHORITY["channels"],
            {
                "id": "linkedin",
                "type": "linkedin",
                "organization_id": ADMIN_OF,
                "access_token_env": TOKEN_ENV,
                "api_base": fake.url,
                "oauth_base": fake.url,
                "token_expires": "2027-01-15",
            },
        ],
    }
    herold = make_herold(
        make_settings(
            authorities=[authority], env={TOKEN_ENV: TOKEN}, grace_warning_seconds=0.2, retry_base_seconds=0.05
        )
    )

    alert = publish(herold, warning(headline="Fliegerbombe (Altstadt) gefunden", hashtags=["Bombe"]))
    update = publish(herold, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"))
    correction = publish(
        herold,
        warning(
            msg_type="update",
            references=alert,
            correction=True,
            headline="Fliegerbombe (Altstadt): Evakuierung bis 11 Uhr",
        ),
    )
    cancel = publish(
        herold, warning(msg_type="cancel", references=alert, headline="Bombe entschärft", instruction=None)
    )

    operations = [
        o for i in (alert, update, correction, cancel) for o in herold.store.operations.of(i) if o.channel == "linkedin"
    ]
    assert {o.state for o in operations} == {OperationState.succeeded}, [o.last_error for o in operations]
    shown_texts = [p["shown"] for p in fake.posts]
    assert len(shown_texts) == 3, "alert, update and all-clear: three posts; the correction edits"
    assert shown_texts[0].startswith("Korrektur: Fliegerbombe (Altstadt): Evakuierung bis 11 Uhr"), shown_texts[0]
    assert not any(p["cut"] for p in fake.posts)
    variants = {
        v.text
        for i in (alert, update, cancel)
        for v in herold.store.announcements.variants(i)
        if v.channel == "linkedin"
    }
    assert set(shown_texts[1:]) <= variants


def test_a_withdrawal_posts_why_and_deletes_the_earlier_posts(
    fake: FakeLinkedIn, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    authority = {
        **AUTHORITY,
        "channels": [
            *AUTHORITY["channels"],
            {
                "id": "linkedin",
                "type": "linkedin",
                "organization_id": ADMIN_OF,
                "access_token_env": TOKEN_ENV,
                "api_base": fake.url,
                "token_expires": "2027-01-15",
            },
        ],
    }
    herold = make_herold(
        make_settings(
            authorities=[authority], env={TOKEN_ENV: TOKEN}, grace_warning_seconds=0.2, retry_base_seconds=0.05
        )
    )

    alert = publish(herold, warning())
    publish(herold, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"))
    withdrawal = publish(
        herold,
        warning(
            msg_type="error",
            references=alert,
            headline="Meldung irrtümlich versandt (Test)",
            instruction=None,
            description="Die Warnung wurde versehentlich veröffentlicht. Es besteht keine Gefahr.",
        ),
    )

    operations = [o for o in herold.store.operations.of(withdrawal) if o.channel == "linkedin"]
    assert sorted(o.action.value for o in operations) == ["delete", "delete", "publish"]
    assert {o.state for o in operations} == {OperationState.succeeded}, [o.last_error for o in operations]
    earlier, why = fake.posts[:2], fake.posts[2]
    assert all(p["deleted"] for p in earlier)
    assert why["shown"].startswith("Widerruf") and "(Test)" in why["shown"] and not why["deleted"]
