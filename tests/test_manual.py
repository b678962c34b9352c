"""The manual hand-off channel: a person posts what Herold prepared, and says so."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import regex
from click.testing import CliRunner, Result

from adapters.manual import Manual
from publisher.domain.announcement import parse_announcement
from publisher.domain.records import Variant
from publisher.edges.cli import main

from conftest import ROOT, herold_toml, warning
from fakes.webhook_receiver import Answer, Receiver
from kit import ChannelCase, ChannelContract, make_channel, post_for

# -- the contract every channel keeps --------------------------------------------------------------


def counted_as_pasted(variant: Variant) -> int:
    """What a messenger counts of a pasted text: every character a person sees, links in full."""
    return len(regex.findall(r"\X", variant.text))


CASE = ChannelCase(
    kind=Manual,
    settings=lambda url: {"max_characters": 700},
    counted=counted_as_pasted,
    limit=700,
)


class TestManualContract(ChannelContract):
    case = CASE


# -- from the press office's side: publish, see what waits, post by hand, confirm ------------------

CHANNELS = """
  lists_every_seconds = 0

  [[authorities.channels]]
  id = "whatsapp"
  type = "manual"
"""

WHATSAPP_POST = "https://whatsapp.com/channel/0029VaLkBeispiel/42"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "herold.toml"
    path.write_text(herold_toml(channels=CHANNELS), encoding="utf-8")
    return path


def herold(config: Path, *arguments: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *arguments], catch_exceptions=False)


def published_warning(config: Path) -> str:
    """The shipped bomb-disposal warning, published from the command line; its id."""
    published = herold(config, "publish", str(ROOT / "examples" / "bomb-disposal.json"), "--wait")
    assert published.exit_code == 0, published.output
    found = re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", published.output)
    assert found is not None, published.output
    return found.group(0)


def test_a_warning_waits_for_a_person_who_posts_it_by_hand_and_confirms_it(config: Path) -> None:
    announcement_id = published_warning(config)

    waiting = herold(config, "status", "--json")
    [item] = json.loads(waiting.output)
    assert (item["announcement_id"], item["channel"]) == (announcement_id, "whatsapp")
    shown = herold(config, "status", announcement_id, "--json")
    [handed] = [d for d in json.loads(shown.output)["deliveries"] if d["channel"] == "whatsapp"]
    assert handed["state"] == "manual"
    page_url = json.loads(shown.output)["item_url"]
    assert page_url in handed["hand_off"]["text"], "the text to copy links to the item's own page"

    confirmed = herold(config, "confirm", announcement_id, "whatsapp", "--url", WHATSAPP_POST)
    assert confirmed.exit_code == 0, confirmed.output

    after = json.loads(herold(config, "status", announcement_id, "--json").output)
    [done] = [d for d in after["deliveries"] if d["channel"] == "whatsapp"]
    assert (done["state"], done["url"]) == ("succeeded", WHATSAPP_POST)
    page = config.parent / "var" / "site" / "lk-beispiel" / page_url.removeprefix("https://www.lk-beispiel.de/")
    assert WHATSAPP_POST in (page / "index.html").read_text(encoding="utf-8"), "listed on the page as a copy"
    assert json.loads(herold(config, "status", "--json").output) == [], "nothing waits any more"


def test_a_confirmation_of_something_not_waiting_or_with_no_web_address_is_refused_and_changes_nothing(
    config: Path,
) -> None:
    announcement_id = published_warning(config)

    not_a_link = herold(config, "confirm", announcement_id, "whatsapp", "--url", "javascript:alert(1)")
    assert not_a_link.exit_code == 1 and "is not a web address" in not_a_link.output
    the_website = herold(config, "confirm", announcement_id, "website", "--url", WHATSAPP_POST)
    assert the_website.exit_code == 1 and "only one handed to a person is confirmed" in the_website.output
    assert [i["channel"] for i in json.loads(herold(config, "status", "--json").output)] == ["whatsapp"]

    assert herold(config, "confirm", announcement_id, "whatsapp").exit_code == 0, "an address is optional"
    twice = herold(config, "confirm", announcement_id, "whatsapp", "--url", WHATSAPP_POST)
    assert twice.exit_code == 1 and "is succeeded" in twice.output


@pytest.mark.parametrize("address", ["https://", "https://whatsapp.com/channel/a b", "ftp://example.de/x"])
def test_an_address_that_is_not_one_web_address_is_refused_on_the_command_line_as_in_the_api(
    config: Path, address: str
) -> None:
    announcement_id = published_warning(config)
    refused = herold(config, "confirm", announcement_id, "whatsapp", "--url", address)
    assert refused.exit_code == 1 and "web address" in refused.output


# -- the alert card, and a provider the authority contracted ----------------------------------------


def relaying(receiver_url: str, media: Path) -> Manual:
    channel = make_channel(replace(CASE, secrets={"relay_secret": RELAY_SECRET}), receiver_url, media,
                           relay_url=receiver_url, relay_secret_env="RELAY")  # fmt: skip
    assert isinstance(channel, Manual)
    return channel


RELAY_SECRET = "whsec_" + base64.b64encode(b"a secret of the whatsapp provider").decode()


def test_without_an_image_of_its_own_the_person_gets_the_alert_card_to_post(tmp_path: Path) -> None:
    channel = make_channel(CASE, "http://127.0.0.1:1", tmp_path)
    assert isinstance(channel, Manual)
    note = channel.hand_off(post_for(Manual, channel, parse_announcement(warning())))
    assert note.card is not None and note.card.startswith("https://www.lk-beispiel.de/warnungen/")
    assert note.card.endswith(".png") and note.relayed is None


def test_a_hand_off_goes_signed_to_the_contracted_provider_and_still_waits_for_a_confirmation(tmp_path: Path) -> None:
    with Receiver() as provider:
        channel = relaying(provider.url, tmp_path)
        note = channel.hand_off(post_for(Manual, channel, parse_announcement(warning())))
        assert note.relayed == "sent"
        (request,) = provider.requests
    body = json.loads(request.body)
    assert body["data"]["text"] == note.text and body["data"]["card_url"] == note.card
    assert body["data"]["confirm"].endswith("/channels/kanal/confirm")
    key = base64.b64decode(RELAY_SECRET.removeprefix("whsec_"))
    signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert expected in request.headers["webhook-signature"].split()


def test_a_provider_that_cannot_take_it_leaves_the_hand_off_to_a_person_and_says_why(tmp_path: Path) -> None:
    with Receiver(default=Answer(503)) as provider:
        channel = relaying(provider.url, tmp_path)
        note = channel.hand_off(post_for(Manual, channel, parse_announcement(warning())))
    assert note.relayed == "failed: the provider answered 503" and note.text
    unreachable = relaying("http://127.0.0.1:1/hand-off", tmp_path)
    assert (
        unreachable.hand_off(post_for(Manual, unreachable, parse_announcement(warning()))).relayed or ""
    ).startswith("failed: the provider could not be reached")


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"relay_url": "https://provider.example.org/hand-off"}, "go together"),
        ({"relay_url": "http://provider.example.org/hand-off", "relay_secret_env": "R"}, "must use https"),
    ],
)
def test_a_relay_needs_its_secret_and_https(settings: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Manual.Settings.model_validate(settings)
