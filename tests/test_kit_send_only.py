"""Send-only, proven (issue 10): the kit's check names every read of other people's data, lets the
account's own posts through, catches requests that go around the recording, and runs for every
channel type. The check itself runs in each channel's contract (tests/kit)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from adapters import channel_types
from adapters.mastodon import MastodonChannel
from adapters.port import Channel
from adapters.webhook import Webhook

from fakes.mastodon_server import FakeMastodon
from fakes.webhook_receiver import Receiver
from helpers import png_bytes
from kit import (
    ChannelCase,
    ChannelContract,
    Endpoint,
    address_of,
    connections_only_to,
    lifecycle,
    make_channel,
    reads_of_others,
)
from services import free_port


def cases_of(kind: type[Channel]) -> list[ChannelCase]:
    """The cases a channel type's own test module hands the kit's contract."""
    module = importlib.import_module(f"test_{kind.__module__.rsplit('.', 1)[-1]}")
    return [
        value.case
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ChannelContract) and getattr(value, "case", None) is not None
        and value.case.kind is kind
    ]  # fmt: skip


MASTODON, WEBHOOK = cases_of(MastodonChannel)[0], cases_of(Webhook)[0]
OWN = "109372845"

READS_OF_OTHERS = [
    ("GET", "/api/v1/accounts/7/followers"),
    ("GET", "/api/v1/accounts/7/following?limit=80"),
    ("GET", "/api/v1/accounts/relationships?id[]=7"),
    ("GET", "/api/v1/accounts/7"),
    ("GET", "/api/v1/accounts/7/statuses"),  # another account's posts
    ("GET", "/api/v1/notifications"),
    ("GET", "/api/v2/notifications?types[]=mention"),
    ("GET", "/api/v1/conversations"),
    ("GET", "/api/v1/statuses/9/context"),
    ("GET", "/api/v1/statuses/9/favourited_by"),
    ("GET", "/api/v1/statuses/9/reblogged_by"),
    ("GET", "/api/v1/timelines/home"),
    ("GET", "/api/v1/timelines/tag/Hochwasser"),
    ("GET", "/api/v2/search?q=lk-beispiel"),
    ("POST", "/api/v1/admin/measures"),
    ("GET", "/api/v1/instance/activity"),
    ("GET", "/api/v1/streaming?stream=user"),
    ("GET", "/social/api/v1/notifications"),  # a server under a sub-path
    ("GET", "/v19.0/1234/insights?metric=page_fans"),
    ("GET", "/v19.0/1234_5678/comments"),
    ("GET", "/v19.0/1234/conversations"),
    ("GET", "/v19.0/1234/followers"),
    ("GET", "/v19.0/1234?fields=id%2Cfollowers_count"),
    ("GET", "/2/users/42/followers"),
    ("GET", "/2/users/42/mentions"),
    ("GET", "/2/dm_events"),
    ("GET", "/xrpc/app.bsky.graph.getFollowers?actor=did:plc:abc"),
    ("GET", "/xrpc/app.bsky.feed.getPostThread?uri=at://did:plc:abc/app.bsky.feed.post/1"),
    ("GET", "/xrpc/chat.bsky.convo.listConvos"),
    ("POST", "/bot123:abc/getUpdates"),
    ("GET", "/rest/organizationalEntityFollowerStatistics?q=organizationalEntity"),
    ("GET", "/rest/socialActions/urn:li:share:1/comments"),
    ("GET", "/wp-json/wp/v2/users?per_page=100"),
    ("GET", "/wp-json/wp/v2/users/2"),
    ("GET", "/?rest_route=/wp/v2/users&per_page=100"),
    ("GET", "/wp-json/wp/v2/comments?post=101"),
    ("GET", "/wp-json/jetpack/v4/module/stats/data"),
]

SENDING_AND_OWN_READS = [
    ("POST", "/api/v2/media"),
    ("POST", "/api/v1/statuses"),
    ("PUT", "/api/v1/statuses/9"),
    ("GET", "/api/v1/statuses/9"),  # one of its own posts, by the id it was given
    ("DELETE", "/api/v1/statuses/9"),
    ("POST", "/api/v1/statuses/9/pin"),
    ("GET", "/api/v2/instance"),
    ("GET", "/api/v1/accounts/verify_credentials"),
    ("GET", f"/api/v1/accounts/{OWN}/statuses?limit=40"),
    ("POST", "/hook"),
    ("POST", "/xrpc/com.atproto.repo.createRecord"),
    ("POST", "/bot123:abc/sendMessage"),
    ("POST", "/v19.0/1234/feed"),
    ("POST", "/2/tweets"),
    ("POST", "/rest/posts"),
    ("POST", "/wp-json/wp/v2/posts"),
    ("GET", "/wp-json/wp/v2/posts?slug=fliegerbombe-1a2b3c4d&status=any&context=edit"),
    ("POST", "/wp-json/wp/v2/posts/101"),
    ("GET", "/wp-json/wp/v2/users/me?context=edit"),
    ("GET", "/?rest_route=/wp/v2/users/me&context=edit"),
    ("GET", "/wp-json/wp/v2/categories/7"),
]


@pytest.mark.parametrize(("method", "target"), READS_OF_OTHERS)
def test_each_read_of_other_people_s_data_is_named_with_its_reason(method: str, target: str) -> None:
    [found] = reads_of_others([(method, target)], own=OWN)
    assert found.startswith(f"{method} {target}: ")


def test_sending_and_reading_the_account_s_own_posts_pass() -> None:
    assert reads_of_others(SENDING_AND_OWN_READS, own=OWN) == []


def test_without_a_known_own_account_every_account_s_posts_are_someone_else_s() -> None:
    assert reads_of_others([("GET", f"/api/v1/accounts/{OWN}/statuses")], own=None) != []


def test_a_case_adds_the_reads_particular_to_its_platform() -> None:
    lofts = Endpoint(r"/lofts/[^/]+/pigeons\b", "other people's pigeons")
    assert reads_of_others([("GET", "/lofts/3/pigeons")]) == []
    found = reads_of_others([("GET", "/lofts/3/pigeons")], extra=[lofts])
    assert found == ["GET /lofts/3/pigeons: other people's pigeons"]


# -- the contract fails a channel that reads, or that sends around the recording ----------------


class Nosy(MastodonChannel):
    """Mastodon, whose setup check also looks at the account's notifications."""

    def check(self) -> list[str]:
        self._call(lambda api: api.notifications(limit=5))
        return super().check()


ELSEWHERE = f"http://127.0.0.1:{free_port()}"  # nobody listens there


class Sneaky(Webhook):
    """A webhook whose setup check asks another server, and keeps quiet when that fails."""

    def check(self) -> Sequence[str]:
        with contextlib.suppress(requests.RequestException):
            self.http.get(f"{ELSEWHERE}/bot123:abc/getUpdates", timeout=2)
        return super().check()


class NosyContract(ChannelContract):
    case = replace(MASTODON, kind=Nosy)


class SneakyContract(ChannelContract):
    case = replace(WEBHOOK, kind=Sneaky)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "bild.png").write_bytes(png_bytes())
    return tmp_path


def test_the_contract_fails_a_channel_that_reads_the_notifications(media: Path) -> None:
    with pytest.raises(AssertionError, match=r"GET /api/v1/notifications\?limit=5: mentions, replies"):
        NosyContract().test_a_full_lifecycle_only_sends_and_never_reads_other_people_s_data(media)


def test_the_contract_fails_a_channel_that_sends_around_the_recording(media: Path) -> None:
    with pytest.raises(AssertionError, match="connections around the double") as failed:
        SneakyContract().test_a_full_lifecycle_only_sends_and_never_reads_other_people_s_data(media)
    assert ELSEWHERE.removeprefix("http://") in str(failed.value)


def test_a_channel_with_two_doubles_may_reach_both_and_nothing_else() -> None:
    # SFTP: the web host's SFTP server, and its public site that shows the item's page.
    with Receiver() as first, Receiver() as second:
        with connections_only_to(address_of(first.url), address_of(second.url)) as elsewhere:
            for url in (first.url, second.url):
                requests.post(url, timeout=5).raise_for_status()
            with pytest.raises(requests.ConnectionError):
                requests.post(f"{ELSEWHERE}/hook", timeout=2)
        assert len(first.requests) == len(second.requests) == 1
    assert elsewhere == [ELSEWHERE.removeprefix("http://")]


# -- a lifecycle against a server that answers like Mastodon ----------------------------------------


def test_against_the_fake_mastodon_every_step_succeeds_and_reads_only_the_account_s_own_posts(media: Path) -> None:
    with FakeMastodon(tokens={"herold-token": "lkbeispiel"}, media_processing_polls=0) as fake:
        token = {"Authorization": "Bearer herold-token"}
        own = requests.get(f"{fake.url}/api/v1/accounts/verify_credentials", headers=token, timeout=5).json()["id"]
        before = len(fake.requests)
        with connections_only_to(address_of(fake.url)) as elsewhere:
            steps = lifecycle(make_channel(MASTODON, fake.url, media))
        made = fake.requests[before:]
    assert set(steps.values()) == {"ok"}, steps
    assert elsewhere == []
    targets = [(r.method, r.path + (f"?{r.query}" if r.query else "")) for r in made]
    assert ("GET", f"/api/v1/accounts/{own}/statuses?limit=40") in targets, "the look-up read its own posts"
    assert reads_of_others(targets, own=str(own)) == []


# -- every channel type keeps the contract, so its send-only test runs -----------------------------

SHIPPED = {name: kind for name, kind in channel_types().items() if kind.__module__.startswith("adapters.")}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_channel_type_runs_the_kit_s_contract_with_its_send_only_test(name: str) -> None:
    kind = SHIPPED[name]
    assert cases_of(kind), f"the tests of {kind.__name__} have no ChannelContract: its send-only test never runs"
