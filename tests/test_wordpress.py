"""The WordPress channel, against a fake WordPress that checks every REST call as WordPress does
(tests/fakes/wordpress_server.py), and through the engine.

What it promises:

- an alert becomes one published post in the configured category, at the item's address, its
  message marked with the item's and the announcement's ids;
- every follow-up edits that post: the newest message on top, the earlier ones below, each
  message once however often a delivery is retried;
- WordPress's refusals lead the engine to the right next step, in WordPress's own words, and
  never with the password;
- after a lost answer the post is found again, never written twice;
- a post counts as published only once its public page answers 200 and shows the message:
  until then the delivery waits, its status says for what, and wave 2 does not start;
- without the built-in website the post must land where every other post links to, or the
  delivery fails saying which setting to change.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from structlog.testing import capture_logs

from adapters.port import (
    ChannelContext,
    CredentialsError,
    DeliveryError,
    PermanentError,
    Post,
    Receipt,
    TransientError,
    remote,
)
from adapters.wordpress import WordPress
from publisher.core.render import render
from publisher.domain.announcement import parse_announcement
from publisher.domain.authority import Authority, ChannelConfig
from publisher.engine.schema import OperationState

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, publish, warning
from fakes.channels import Journal
from fakes.webhook_receiver import Answer
from fakes.wordpress_server import PASSWORD, PRETTY, FakeWordPress, drop_after, hang, status
from helpers import png_bytes
from kit import ChannelCase, ChannelContract, address_of, connections_only_to, lifecycle, make_channel, reads_of_others

USER = "herold"
VARIABLE = "HEROLD_TEST_WORDPRESS_PASSWORD"
WARNINGS = 7  # the category's id
ITEM = "1a2b3c4d-5e6f-4a0b-8c1d-2e3f4a5b6c7d"
ITEM_PATH = f"2026/11/fliegerbombe-in-der-altstadt-{ITEM[:8]}/"
NOW = datetime(2026, 11, 22, 9, 15, tzinfo=UTC)  # 10:15 in Berlin

ALERT = warning()
UPDATE = warning(msg_type="update", references="a-alert", headline="Sperrgebiet erweitert")
CANCEL = warning(msg_type="cancel", references="a-update", headline="Bombe entschärft", instruction=None)
CORRECTION = warning(msg_type="update", references="a-alert", correction=True, headline="Fliegerbombe in der Neustadt")
WITHDRAWAL = warning(msg_type="error", references="a-alert", headline="Irrtümlich versandt", instruction=None)


@pytest.fixture
def fake() -> Iterator[FakeWordPress]:
    with FakeWordPress(users={USER: PASSWORD}, categories={WARNINGS: "Warnungen"}) as server:
        yield server


def channel_for(
    site: str,
    *,
    password: str = PASSWORD,
    built_in_site: Path | None = None,
    base_url: str | None = None,
    now: datetime = NOW,
    **settings: Any,
) -> WordPress:
    """The channel for the WordPress at ``site``; the authority's base_url is that site unless
    given, and it has the built-in website only if ``built_in_site`` is."""
    values = {"url": site, "username": USER, "application_password_env": VARIABLE, "category": WARNINGS, **settings}
    config = ChannelConfig(id="wordpress", type="wordpress", settings=WordPress.Settings.model_validate(values))
    authority = Authority(
        slug="lk-beispiel", name="Landkreis Beispiel", base_url=base_url or site,
        impressum_url="https://www.lk-beispiel.de/impressum", privacy_url="https://www.lk-beispiel.de/datenschutz",
        channels=[config],
    )  # fmt: skip
    context = ChannelContext(
        authority=authority, secrets={"application_password": password}, clock=lambda: now, site=built_in_site,
        timeouts=(2.0, 5.0), deadline=5.0,
    )  # fmt: skip
    return WordPress(config, context)


def message(
    channel: WordPress,
    document: dict[str, Any],
    announcement_id: str,
    earlier: Sequence[Receipt] = (),
    attempt: int = 1,
) -> Post:
    """One delivery of the item's messages, as the engine hands it to the channel."""
    announcement = parse_announcement(document)
    url = channel.authority.url(ITEM_PATH)
    variant = render(announcement, channel=channel.id, template=WordPress.capabilities.template, link=url)
    return Post(
        delivery_id=f"d-{announcement_id}", idempotency_key=f"herold-d-{announcement_id}",
        announcement_id=announcement_id, announcement=announcement, variant=variant, item_id=ITEM, item_url=url,
        in_reply_to=earlier[-1] if earlier else None, thread=tuple(earlier), attempt=attempt,
    )  # fmt: skip


def sections(post: Mapping[str, Any]) -> list[str]:
    """The announcements a WordPress post shows, top to bottom, by their markers."""
    return re.findall(rf"<!-- herold:item={ITEM} announcement=(\S+) -->", post["content"]["raw"])


def as_a_person(fake: FakeWordPress, method: str, path: str, **body: Any) -> Any:
    """A person working on the site (with the same login, for brevity)."""
    answer = requests.request(method, f"{fake.site}wp-json/wp/v2{path}", json=body or None, auth=(USER, PASSWORD),
                              timeout=5)  # fmt: skip
    assert answer.ok, answer.text
    return answer.json()


# -- publishing an alert -----------------------------------------------------------------------


def test_an_alert_becomes_one_published_post_in_the_category_at_the_item_s_address(fake: FakeWordPress) -> None:
    channel = channel_for(fake.site)
    alert = message(channel, ALERT, "a-alert")

    receipt = channel.publish(alert)

    [post] = fake.posts
    assert post["status"] == "publish" and post["categories"] == [WARNINGS]
    assert post["title"]["raw"] == "Fliegerbombe in der Altstadt"
    assert post["slug"] == f"fliegerbombe-in-der-altstadt-{ITEM[:8]}"
    assert post["link"] == alert.item_url == f"{fake.site}{ITEM_PATH}"
    assert sections(post) == ["a-alert"]
    assert receipt == Receipt(platform_id=str(post["id"]), url=alert.item_url)


def test_the_page_shows_the_message_as_escaped_html_with_the_time_it_went_out(fake: FakeWordPress) -> None:
    channel = channel_for(fake.site)
    channel.publish(message(channel, warning(headline="Bombe <b>entschärft</b> & Straßen frei"), "a-alert"))

    [post] = fake.posts
    page = fake.page(post["id"])
    assert "<h2>Bombe &lt;b&gt;entschärft&lt;/b&gt; &amp; Straßen frei</h2>" in page
    assert "<p>Was ist zu tun? Verlassen Sie das Sperrgebiet bis 10 Uhr.</p>" in page
    assert "<p>Gebiet: Altstadt rund um die Marktstraße</p>" in page
    assert 'Veröffentlicht: <time datetime="2026-11-22T10:15:00+01:00">22. November 2026, 10:15</time>' in page
    assert "<b>" not in post["content"]["raw"]
    assert post["title"]["raw"] == "Bombe &lt;b&gt;entschärft&lt;/b&gt; &amp; Straßen frei", "a title is HTML too"


def test_the_calls_are_wordpress_s_own_and_the_page_is_read_as_any_visitor_reads_it(fake: FakeWordPress) -> None:
    channel = channel_for(fake.site)
    channel.publish(message(channel, ALERT, "a-alert"))

    create, page = fake.requests
    assert (create.method, create.path, create.status) == ("POST", "/wp-json/wp/v2/posts", 201)
    assert create.headers["content-type"] == "application/json"
    assert create.headers["authorization"].startswith("Basic ")
    assert create.json()["status"] == "publish"
    # A cache in front of WordPress answers a request with credentials from WordPress itself:
    # the check must see what the public sees.
    assert (page.method, page.path, page.status) == ("GET", f"/{ITEM_PATH}", 200)
    assert "authorization" not in page.headers


# -- follow-ups --------------------------------------------------------------------------------


def test_follow_ups_go_on_top_of_the_one_post_and_the_history_stays_below(fake: FakeWordPress) -> None:
    channel = channel_for(fake.site)
    first = channel.publish(message(channel, ALERT, "a-alert"))
    second = channel.reply(message(channel, UPDATE, "a-update", earlier=[first]))
    third = channel.reply(message(channel, CANCEL, "a-cancel", earlier=[first, second]))

    [post] = fake.posts
    assert sections(post) == ["a-cancel", "a-update", "a-alert"]
    assert post["title"]["raw"] == "Entwarnung: Bombe entschärft"
    assert post["link"] == f"{fake.site}{ITEM_PATH}", "the address stays"
    assert first.platform_id == second.platform_id == third.platform_id == str(post["id"])


def test_a_retried_follow_up_shows_its_message_once(fake: FakeWordPress) -> None:
    channel = channel_for(fake.site)
    first = channel.publish(message(channel, ALERT, "a-alert"))
    update = message(channel, UPDATE, "a-update", earlier=[first])
    channel.reply(update)
    writes = len([r for r in fake.requests if r.method == "POST"])

    channel.reply(replace(update, attempt=2))

    [post] = fake.posts
    assert sections(post) == ["a-update", "a-alert"]
    assert len([r for r in fake.requests if r.method == "POST"]) == writes, "nothing left to write"


def test_a_correction_and_a_withdrawal_go_on_top_of_the_post_they_concern(fake: FakeWordPress) -> None:
    channel = channel_for(fake.site)
    first = channel.publish(message(channel, ALERT, "a-alert"))
    channel.edit(first, message(channel, CORRECTION, "a-correction", earlier=[first]))
    # A withdrawal replies, and edits each earlier post of the thread: here all the same post.
    withdrawal = message(channel, WITHDRAWAL, "a-withdrawal", earlier=[first])
    channel.reply(withdrawal)
    channel.edit(first, withdrawal)

    [post] = fake.posts
    assert sections(post) == ["a-withdrawal", "a-correction", "a-alert"]
    assert post["title"]["raw"] == "Widerruf: Irrtümlich versandt"
    assert 'class="herold-message herold-correction"' in post["content"]["raw"]


def test_a_follow_up_finds_the_item_s_post_even_when_its_earlier_messages_did_not_go_out_here(
    fake: FakeWordPress,
) -> None:
    # The alert's delivery failed after WordPress had saved the post: the engine knows no copy.
    channel = channel_for(fake.site)
    channel.publish(message(channel, ALERT, "a-alert"))

    channel.publish(message(channel, UPDATE, "a-update"))

    [post] = fake.posts
    assert sections(post) == ["a-update", "a-alert"]


def test_a_follow_up_whose_post_a_person_trashed_or_deleted_fails_saying_so(fake: FakeWordPress) -> None:
    channel = channel_for(fake.site)
    first = channel.publish(message(channel, ALERT, "a-alert"))
    as_a_person(fake, "DELETE", f"/posts/{first.platform_id}")

    with pytest.raises(PermanentError, match=r"post \d+ is in the trash \(moved there by a person\): restore it"):
        channel.reply(message(channel, UPDATE, "a-update", earlier=[first]))

    as_a_person(fake, "DELETE", f"/posts/{first.platform_id}?force=true")
    with pytest.raises(PermanentError, match=r"post \d+ no longer exists"):
        channel.reply(message(channel, UPDATE, "a-update", earlier=[first]))


# -- refusals ------------------------------------------------------------------------------------


def test_a_wrong_application_password_is_a_credentials_error_in_wordpress_s_words_without_the_secret(
    fake: FakeWordPress,
) -> None:
    wrong = "wxyz 9876 QRST uvwx 0000 abcd"
    channel = channel_for(fake.site, password=wrong)

    with capture_logs() as logs, pytest.raises(CredentialsError) as refused:
        channel.publish(message(channel, ALERT, "a-alert"))

    assert refused.value.reason == (
        "WordPress refused the user herold (401): incorrect_password: "
        "The provided password is an invalid application password."
    )
    for shown in (refused.value.reason, repr(logs)):
        assert wrong not in shown and wrong.replace(" ", "") not in shown
    assert fake.posts == []


@pytest.mark.parametrize("password", [PASSWORD, PASSWORD.replace(" ", ""), PASSWORD.replace(" ", "-")])
def test_the_application_password_counts_with_or_without_its_spaces(fake: FakeWordPress, password: str) -> None:
    channel = channel_for(fake.site, password=password)
    assert channel.publish(message(channel, ALERT, "a-alert")).platform_id


def test_an_unknown_user_is_named_in_plain_words(fake: FakeWordPress) -> None:
    channel = channel_for(fake.site, username="redaktion")
    with pytest.raises(CredentialsError) as refused:
        channel.publish(message(channel, ALERT, "a-alert"))
    assert refused.value.reason == (
        "WordPress refused the user redaktion (401): invalid_username: "
        "Error: Unknown username. Check again or try your email address."
    )


def test_a_user_who_may_not_publish_is_told_which_role_it_needs() -> None:
    with FakeWordPress(users={USER: PASSWORD}, roles={USER: "contributor"}) as fake:
        channel = channel_for(fake.site, category=None)
        with pytest.raises(CredentialsError, match=r"\(403\): rest_cannot_publish: .*Author or Editor role"):
            channel.publish(message(channel, ALERT, "a-alert"))
        assert fake.posts == []


def test_a_login_the_web_server_did_not_pass_on_is_explained(fake: FakeWordPress) -> None:
    # Apache with PHP as CGI drops the Authorization header unless told not to: WordPress then
    # answers as to a visitor.
    anonymous = {"code": "rest_cannot_create", "message": "Sorry, you are not allowed to create posts as this user.",
                 "data": {"status": 401}}  # fmt: skip
    fake.fail("POST", "/wp-json/wp/v2/posts", status(401, anonymous))
    channel = channel_for(fake.site)

    with pytest.raises(CredentialsError, match="may not pass the Authorization header on to WordPress"):
        channel.publish(message(channel, ALERT, "a-alert"))


CRITICAL = {"code": "internal_server_error", "data": {"status": 500},
            "message": "<p>There has been a critical error on this website.</p>"}  # fmt: skip
MAINTENANCE = {"code": "maintenance", "message": "Briefly unavailable for scheduled maintenance.",
               "data": {"status": 503}}  # fmt: skip
INVALID_DATE = {"code": "rest_invalid_param", "message": "Invalid parameter(s): date",
                "data": {"status": 400, "params": {"date": "Invalid date."}}}  # fmt: skip
NO_ROUTE = {"code": "rest_no_route", "message": "No route was found matching the URL and request method.",
            "data": {"status": 404}}  # fmt: skip


@pytest.mark.parametrize(
    ("code", "body", "expected", "says"),
    [
        (400, INVALID_DATE, PermanentError, "WordPress refused a value (rest_invalid_param: Invalid parameter(s): "
                                            "date): date: Invalid date."),
        (404, NO_ROUTE, PermanentError, "no WordPress REST API at "),
        (500, CRITICAL, TransientError, "WordPress: internal_server_error: There has been a critical error"),
        (503, MAINTENANCE, TransientError, "Briefly unavailable for scheduled maintenance."),
    ],
)  # fmt: skip
def test_wordpress_s_refusals_lead_to_the_engine_s_next_step_in_its_own_words(
    fake: FakeWordPress, code: int, body: dict[str, Any], expected: type[DeliveryError], says: str
) -> None:
    fake.fail("POST", "/wp-json/wp/v2/posts", status(code, body))
    channel = channel_for(fake.site)

    with pytest.raises(DeliveryError) as refused:
        channel.publish(message(channel, ALERT, "a-alert"))

    assert type(refused.value) is expected
    assert says in refused.value.reason


@responses.activate
def test_a_redirect_is_not_followed_with_the_password() -> None:
    site = "https://wp.lk-beispiel.de/"
    responses.add(responses.POST, f"{site}wp-json/wp/v2/posts", status=301,
                  headers={"Location": "https://www.lk-beispiel.de/wp-json/wp/v2/posts"})  # fmt: skip
    channel = channel_for(site)

    with pytest.raises(PermanentError, match=r"redirects its REST API \(301 to https://www\.lk-beispiel\.de/wp-json"):
        channel.publish(message(channel, ALERT, "a-alert"))
    assert len(responses.calls) == 1


@responses.activate
def test_a_php_notice_before_the_json_is_read_past() -> None:
    site = "https://wp.lk-beispiel.de/"
    created = {"id": 4711, "link": f"{site}{ITEM_PATH}", "status": "publish"}
    notice = "<br />\n<b>Deprecated</b>:  Creation of dynamic property in <b>/wp-content/plugins/x.php</b><br />\n"
    responses.add(responses.POST, f"{site}wp-json/wp/v2/posts", status=201, body=notice + json.dumps(created))
    responses.add(responses.GET, f"{site}{ITEM_PATH}", body=f"<!-- herold:item={ITEM} announcement=a-alert -->")
    channel = channel_for(site)

    assert channel.publish(message(channel, ALERT, "a-alert")) == Receipt(platform_id="4711", url=f"{site}{ITEM_PATH}")


# -- exactly once ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [[], {"message": "ok"}, "<html>Plugin-Fehler</html>"])
def test_an_answer_that_is_not_a_post_is_taken_as_possibly_written_never_as_a_crash(
    fake: FakeWordPress, body: object
) -> None:
    fake.fail("POST", "/wp-json/wp/v2/posts", status(201, body=body))
    channel = channel_for(fake.site)

    with pytest.raises(TransientError) as unclear:
        channel.publish(message(channel, ALERT, "a-alert"))
    assert unclear.value.ambiguous, "the next attempt looks for the post before writing again"


def test_after_a_lost_answer_the_post_is_found_not_written_twice(fake: FakeWordPress) -> None:
    fake.fail("POST", "/wp-json/wp/v2/posts", drop_after())
    channel = channel_for(fake.site)
    alert = message(channel, ALERT, "a-alert")

    with pytest.raises(TransientError) as lost:
        channel.publish(alert)
    assert lost.value.ambiguous
    found = channel.find(replace(alert, attempt=2, previous_error=lost.value.reason))

    [post] = fake.posts
    assert found == Receipt(platform_id=str(post["id"]), url=alert.item_url)


def test_a_write_that_never_arrived_is_not_found_and_is_made_on_the_next_attempt(fake: FakeWordPress) -> None:
    fake.fail("POST", "/wp-json/wp/v2/posts", hang(0))
    channel = channel_for(fake.site)
    alert = message(channel, ALERT, "a-alert")
    with pytest.raises(TransientError):
        channel.publish(alert)

    again = replace(alert, attempt=2)
    assert channel.find(again) is None
    channel.publish(again)
    assert len(fake.posts) == 1


def test_a_post_whose_slug_was_taken_is_found_by_the_item_s_id(fake: FakeWordPress, tmp_path: Path) -> None:
    # Beside the built-in site, the post may live at another address: here "…-2", because a
    # person's post had the slug already.
    person = as_a_person(fake, "POST", "/posts", title="Eigener Beitrag", status="publish",
                         slug=f"fliegerbombe-in-der-altstadt-{ITEM[:8]}")  # fmt: skip
    fake.fail("POST", "/wp-json/wp/v2/posts", drop_after())
    channel = channel_for(fake.site, built_in_site=tmp_path)
    alert = message(channel, ALERT, "a-alert")
    with pytest.raises(TransientError):
        channel.publish(alert)

    found = channel.find(replace(alert, attempt=2))

    assert found is not None and found.platform_id != str(person["id"])
    assert found.url is not None and found.url.endswith(f"-{ITEM[:8]}-2/")


# -- the off-platform guarantee ------------------------------------------------------------------


def test_while_the_page_answers_404_the_delivery_waits_saying_for_what_then_succeeds(fake: FakeWordPress) -> None:
    fake.hide_pages()  # a cache in front of the site, or a slow sync
    channel = channel_for(fake.site)
    alert = message(channel, ALERT, "a-alert")

    with pytest.raises(TransientError) as waiting:
        channel.publish(alert)
    assert waiting.value.reason == f"waiting for {alert.item_url} to answer 200 with the item (got 404)"
    assert waiting.value.ambiguous, "the post is written: the next attempt looks for it first"
    assert waiting.value.retry_after == remote.LOOK_AGAIN_SECONDS

    again = replace(alert, attempt=2, previous_error=waiting.value.reason)
    with pytest.raises(TransientError, match=r"\(got 404\)"):
        channel.find(again)
    fake.show_pages()
    found = channel.find(again)

    [post] = fake.posts
    assert found == Receipt(platform_id=str(post["id"]), url=alert.item_url)
    assert [code for _, code in fake.page_views] == [404, 404, 200]


def test_a_follow_up_waits_for_the_page_to_show_it_too(fake: FakeWordPress) -> None:
    channel = channel_for(fake.site)
    first = channel.publish(message(channel, ALERT, "a-alert"))
    fake.hide_pages(1)

    with pytest.raises(TransientError, match=r"\(got 404\)"):
        channel.reply(message(channel, UPDATE, "a-update", earlier=[first]))
    channel.reply(message(channel, UPDATE, "a-update", earlier=[first], attempt=2))

    [post] = fake.posts
    assert sections(post) == ["a-update", "a-alert"]


def test_the_ids_still_show_when_a_minifier_strips_html_comments() -> None:
    with FakeWordPress(users={USER: PASSWORD}, strip_comments=True) as fake:
        channel = channel_for(fake.site, category=None)
        receipt = channel.publish(message(channel, ALERT, "a-alert"))
        assert "<!--" not in fake.page(int(receipt.platform_id))


def test_without_the_built_in_site_a_post_at_another_address_fails_saying_what_to_change() -> None:
    with FakeWordPress(users={USER: PASSWORD}, permalinks="/%postname%/") as fake:
        channel = channel_for(fake.site, category=None)
        alert = message(channel, ALERT, "a-alert")

        with pytest.raises(PermanentError) as misplaced:
            channel.publish(alert)
        assert misplaced.value.reason == (
            f"WordPress published the post at {fake.site}fliegerbombe-in-der-altstadt-{ITEM[:8]}/, but every other "
            f"channel links to {alert.item_url}: set WordPress's permalinks (Settings → Permalinks) to "
            f'"/%year%/%monthnum%/%postname%/" and the authority\'s base_url to the WordPress address ({fake.site})'
        )
        [misplaced_post] = fake.posts
        assert misplaced_post["status"] == "trash", "out of the way, its slug free again"

        fake.permalinks = PRETTY  # the operator follows the advice
        assert channel.publish(alert).url == alert.item_url


def test_beside_the_built_in_site_the_post_may_live_at_its_own_address(tmp_path: Path) -> None:
    with FakeWordPress(users={USER: PASSWORD}, permalinks="") as fake:
        channel = channel_for(fake.site, built_in_site=tmp_path, base_url="https://www.lk-beispiel.de/", category=None)
        receipt = channel.publish(message(channel, ALERT, "a-alert"))
        assert receipt.url == f"{fake.site}?p={receipt.platform_id}"


def test_an_item_begun_at_the_end_of_a_month_lands_in_that_month(fake: FakeWordPress) -> None:
    # Accepted on 30 November, published half an hour into 1 December (Berlin).
    channel = channel_for(fake.site, now=datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    alert = message(channel, ALERT, "a-alert")

    assert channel.publish(alert).url == alert.item_url
    [post] = fake.posts
    assert post["date"] == "2026-11-30T23:59:59"


def test_a_site_on_another_time_zone_publishes_the_post_at_once_not_scheduled() -> None:
    # A bare local time is read in the site's zone: a Berlin post on a site left on UTC would be
    # dated an hour ahead and scheduled, its page 404 and wave 2 held back. The date goes as UTC.
    with FakeWordPress(users={USER: PASSWORD}, categories={WARNINGS: "Warnungen"}, timezone="UTC") as fake:
        channel = channel_for(fake.site, now=datetime.now(UTC))
        alert = message(channel, ALERT, "a-alert")
        channel.publish(alert)
        [post] = fake.posts
        assert post["status"] == "publish"


# -- the setup check ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "password", "category", "problems"),
    [
        ("editor", PASSWORD, WARNINGS, []),
        ("editor", "wxyz 9876 QRST uvwx 0000 abcd", WARNINGS, [
            "WordPress refused the user herold (401): incorrect_password: The provided password is an invalid "
            "application password."]),
        ("contributor", PASSWORD, WARNINGS, [
            "the WordPress user herold may not publish posts: give it the Author or Editor role"]),
        ("editor", PASSWORD, 99, ["WordPress has no category with the id 99 (Posts → Categories)"]),
    ],
)  # fmt: skip
def test_the_setup_check_names_what_is_wrong_without_publishing(
    role: str, password: str, category: int, problems: list[str]
) -> None:
    with FakeWordPress(users={USER: PASSWORD}, roles={USER: role}, categories={WARNINGS: "Warnungen"}) as fake:
        assert channel_for(fake.site, password=password, category=category).check() == problems
        assert {r.method for r in fake.requests} == {"GET"}


def test_the_setup_check_flags_plain_http_to_another_machine_and_a_missing_password() -> None:
    problems = channel_for("http://wp.lk-beispiel.de/", password="").check()
    assert problems == [
        "url http://wp.lk-beispiel.de/ is plain http: WordPress takes application passwords only over https, "
        "and the password would travel readable; use https",
        f"the application password ({VARIABLE}) is not set",
    ]


# -- the contract every channel keeps ----------------------------------------------------------------

# What the kit's double answers to every request: a post (for the write and the look-ups), which
# is also the public page (it holds the kit's item and announcement id, "a1").
KIT_POST = {
    "id": 4711, "status": "publish", "link": "/2026/11/fliegerbombe-1a2b3c4d/", "slug": "fliegerbombe-1a2b3c4d",
    "title": {"raw": "Fliegerbombe in der Altstadt", "rendered": "Fliegerbombe in der Altstadt"},
    "content": {"raw": "<!-- herold:item=a1 announcement=a1 -->", "rendered": ""},
}  # fmt: skip

CASE = ChannelCase(
    kind=WordPress,
    settings=lambda url: {"url": url, "username": USER, "application_password_env": VARIABLE},
    secrets={"application_password": PASSWORD},
    published=Answer(200, body=json.dumps(KIT_POST).encode(), headers={"Content-Type": "application/json"}),
    built_in_site=True,  # the double's address is not the kit's item address
)


class TestWordPressContract(ChannelContract):
    case = CASE


def test_a_whole_lifecycle_against_the_fake_wordpress_succeeds_and_reads_only_its_own_posts(
    fake: FakeWordPress, tmp_path: Path
) -> None:
    (tmp_path / "bild.png").write_bytes(png_bytes())
    with connections_only_to(address_of(fake.site)) as elsewhere:
        steps = lifecycle(make_channel(CASE, fake.site, tmp_path))
    assert set(steps.values()) == {"ok"}, steps
    assert elsewhere == []
    targets = [(r.method, r.path + (f"?{r.query}" if r.query else "")) for r in fake.requests]
    assert reads_of_others(targets) == []
    assert len(fake.posts) == 1


# -- through the engine ---------------------------------------------------------------------------------


def authority_with_wordpress(site: str, *channels: dict[str, Any]) -> dict[str, Any]:
    """The test authority: its built-in website, WordPress beside it (wave 1), and ``channels``."""
    result = copy.deepcopy(AUTHORITY)
    wordpress = {"id": "wordpress", "type": "wordpress", "url": site, "username": USER,
                 "application_password_env": VARIABLE, "category": WARNINGS}  # fmt: skip
    result["channels"] = [*result["channels"], wordpress, *channels]
    return result


@pytest.fixture
def looking_again_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "LOOK_AGAIN_SECONDS", 0.05)  # not five seconds per look, in a test


@pytest.mark.usefixtures("looking_again_soon")
def test_wave_2_starts_only_once_the_wordpress_page_answers_200(
    fake: FakeWordPress, make_settings: SettingsFactory, make_herold: HeroldFactory, journal: Journal
) -> None:
    herold = make_herold(make_settings(
        authorities=[authority_with_wordpress(fake.site, {"id": "fedi", "type": "fake-fediverse"})],
        env={VARIABLE: PASSWORD}, retry_base_seconds=0.05,
    ))  # fmt: skip
    fake.hide_pages(4)

    announcement_id = publish(herold, warning())

    states = {o.channel: o.state for o in herold.store.operations.of(announcement_id, publishing=True)}
    assert states == {"website": OperationState.succeeded, "wordpress": OperationState.succeeded,
                      "fedi": OperationState.succeeded}  # fmt: skip
    views = fake.page_views
    assert [code for _, code in views] == [404, 404, 404, 404, 200]
    [call] = journal.of("fedi")
    assert call.at >= views[-1][0], "the fediverse got it only after WordPress's page answered 200"
    [post] = fake.posts
    waited = [e.detail["reason"] for e in herold.store.audit.entries(announcement_id=announcement_id)
              if e.action == "delivery.retry" and e.detail and e.detail.get("channel") == "wordpress"]  # fmt: skip
    assert waited == [f"waiting for {post['link']} to answer 200 with the item (got 404)"] * 4


@pytest.mark.usefixtures("looking_again_soon")
def test_through_the_engine_every_follow_up_edits_the_one_post(
    fake: FakeWordPress, make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    herold = make_herold(make_settings(
        authorities=[authority_with_wordpress(fake.site)], env={VARIABLE: PASSWORD}, retry_base_seconds=0.05,
    ))  # fmt: skip
    alert = publish(herold, warning())
    update = publish(herold, warning(msg_type="update", references=alert, headline="Sperrgebiet erweitert"))
    withdrawal = publish(herold, warning(msg_type="error", references=alert, headline="Irrtümlich versandt"))

    for announcement_id in (alert, update, withdrawal):
        assert {o.state for o in herold.store.operations.of(announcement_id)} == {OperationState.succeeded}
    [post] = fake.posts
    shown = re.findall(r"<!-- herold:item=\S+ announcement=(\S+) -->", post["content"]["raw"])
    assert shown == [withdrawal, update, alert]
