"""Outbound webhooks, as a partner's system (a local radio, a newspaper) receives them.

Each announcement arrives once as signed JSON, only after its page on the authority's own
website exists; a retry carries the same ``webhook-id`` so the partner can drop the copy;
each answer the partner can give leads the engine to the right next step.

Signatures are checked here by an independent computation of the Standard Webhooks scheme,
not by the library that makes them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import responses

from adapters import channel_types
from adapters.port import (
    ChannelContext,
    CredentialsError,
    DeliveryError,
    PermanentError,
    Post,
    Receipt,
    TransientError,
)
from adapters.webhook import Webhook
from publisher.core.render import render
from publisher.domain.announcement import Announcement
from publisher.edges.config import ConfigError
from publisher.edges.wiring import Herold
from publisher.engine.schema import OperationState
from publisher.sources.intake import accept

from conftest import AUTHORITY, HeroldFactory, SettingsFactory, publish, warning
from fakes.clock import Clock
from fakes.trickle import Trickle
from fakes.webhook_receiver import Answer, Receiver, Request
from kit import ChannelCase, ChannelContract
from services import free_port

SLUG: str = AUTHORITY["slug"]
BASE_URL: str = AUTHORITY["base_url"]
URL = "https://radio.example.de/herold"
VARIABLE = "HEROLD_TEST_RADIO_SECRET"
KEY = b"a shared key of 32 random bytes!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = datetime(2026, 11, 22, 9, 15, 2, tzinfo=UTC)
ITEM_PATH = "2026/11/fliegerbombe-in-der-altstadt-1a2b3c4d/"
ITEM_URL = BASE_URL + ITEM_PATH
ANNOUNCEMENT_ID = "1a2b3c4d-0000-4000-8000-000000000001"
DELIVERY_ID = "5e6f7a8b-0000-4000-8000-000000000002"
IDEMPOTENCY_KEY = f"herold-{DELIVERY_ID}"
IMAGE = {"path": "media/3f2a9c.png", "alt": "Karte: das Sperrgebiet rund um die Marktstraße"}
AREA = {
    "description": "Altstadt rund um die Marktstraße",
    "geocodes": [{"name": "AGS", "value": "08111000"}],
    "polygons": [[[48.77, 9.17], [48.78, 9.18], [48.77, 9.19], [48.77, 9.17]]],
}


# -- helpers -----------------------------------------------------------------------------------


def signature_verifies(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Standard Webhooks, computed here: base64 HMAC-SHA256 over "id.timestamp.body"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, given) for given in headers["webhook-signature"].split(" "))


def webhook(url: str = URL, **changes: Any) -> dict[str, Any]:
    return {"id": "radio", "type": "webhook", "url": url, "secret_env": VARIABLE, **changes}


def authority(*channels: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(AUTHORITY)
    result["channels"] = [{"id": "website", "type": "website"}, *channels]
    return result


# -- the contract every channel keeps --------------------------------------------------------------

CASE = ChannelCase(
    kind=Webhook,
    settings=lambda url: {"url": url, "secret_env": VARIABLE},
    secrets={"secret": SECRET},
    published=Answer(204),
    answers={301: PermanentError, 307: PermanentError, 308: PermanentError},  # never sent on elsewhere
    idempotency_header="webhook-id",
)


class TestWebhookContract(ChannelContract):
    case = CASE


MakeChannel = Callable[..., Webhook]


@pytest.fixture
def make_channel(make_settings: SettingsFactory) -> MakeChannel:
    """A webhook channel as the engine builds it, without the engine."""

    def make(
        url: str = URL,
        secret: str = SECRET,
        clock: Callable[[], datetime] | None = None,
        timeouts: tuple[float, float] = (5.0, 20.0),
    ) -> Webhook:
        settings = make_settings(authorities=[authority(webhook(url))], env={VARIABLE: secret})
        owner = settings.authority(SLUG)
        context = ChannelContext(
            authority=owner, secrets=settings.secrets_of(SLUG, "radio"), clock=clock or Clock(NOW), timeouts=timeouts
        )
        channel = channel_types()["webhook"](owner.channel("radio"), context)
        assert isinstance(channel, Webhook)
        return channel

    return make


def document(**changes: Any) -> dict[str, Any]:
    return warning(language="de", channels=["website", "radio"], media=[IMAGE], area=AREA, **changes)


def post_of(raw: dict[str, Any]) -> Post:
    announcement = Announcement.model_validate(raw)
    return Post(
        delivery_id=DELIVERY_ID,
        idempotency_key=IDEMPOTENCY_KEY,
        announcement_id=ANNOUNCEMENT_ID,
        announcement=announcement,
        variant=render(announcement, channel="radio", template="channels/post.j2", link=ITEM_URL),
        item_id=ANNOUNCEMENT_ID,
    )


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def attempt(channel: Webhook, post: Post) -> Receipt | DeliveryError:
    try:
        return channel.publish(post)
    except DeliveryError as error:
        return error


# -- what a partner receives ---------------------------------------------------------------------


def test_the_body_carries_the_announcement_its_page_and_the_ready_text(
    make_channel: MakeChannel, mocked: responses.RequestsMock
) -> None:
    mocked.post(URL, status=202)
    raw = document()
    post = post_of(raw)

    make_channel().publish(post)

    [call] = mocked.calls
    body = call.request.body
    assert isinstance(body, bytes)
    payload = Request(at=0, method="POST", path="/", headers={}, body=body).json()
    sent = payload["data"]["announcement"]
    assert payload == {
        "type": "announcement.alert",
        "timestamp": NOW.isoformat(),
        "data": {
            "id": ANNOUNCEMENT_ID,
            "authority": {"slug": SLUG, "name": AUTHORITY["name"]},
            "item_url": ITEM_URL,
            "text": post.variant.text,
            "language": "de",
            "references": None,
            "announcement": sent,
        },
    }
    assert ITEM_URL in payload["data"]["text"] and raw["headline"] in payload["data"]["text"]
    assert "channels" not in sent
    assert sent["media"] == [{"url": ITEM_URL + "3f2a9c.png", "alt": IMAGE["alt"]}]
    assert {key: sent[key] for key in raw if key not in {"channels", "media"}} == {
        key: value for key, value in raw.items() if key not in {"channels", "media"}
    }
    assert call.request.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("msg_type", "event_type"),
    [
        ("update", "announcement.update"),
        ("cancel", "announcement.cancel"),
        ("error", "announcement.error"),
    ],
)
def test_a_follow_up_names_its_kind_and_the_announcement_it_refers_to(
    make_channel: MakeChannel, mocked: responses.RequestsMock, msg_type: str, event_type: str
) -> None:
    mocked.post(URL, status=200)
    original = "9f8e7d6c-0000-4000-8000-000000000003"
    raw = warning(msg_type=msg_type, references=original, headline="Neue Lage", severity=None, category=None)

    make_channel().publish(post_of(raw))

    [call] = mocked.calls
    payload = Request(at=0, method="POST", path="/", headers={}, body=cast(bytes, call.request.body)).json()
    assert payload["type"] == event_type
    assert payload["data"]["references"] == original
    assert payload["data"]["announcement"]["references"] == original


def test_every_request_is_signed_with_the_deliverys_key_as_webhook_id_also_on_a_retry(
    make_channel: MakeChannel, mocked: responses.RequestsMock
) -> None:
    mocked.post(URL, status=503)
    mocked.post(URL, status=200)
    clock = Clock(NOW)
    channel = make_channel(clock=clock)
    post = post_of(document())

    first = attempt(channel, post)
    clock.now = NOW + timedelta(seconds=30)
    second = attempt(channel, replace(post, attempt=2))

    assert isinstance(first, TransientError)
    assert second == Receipt(platform_id=IDEMPOTENCY_KEY, url=None)
    ids, stamps = [], []
    for call in mocked.calls:
        headers = call.request.headers
        body = call.request.body
        assert isinstance(body, bytes)
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= {name.lower() for name in headers}
        assert signature_verifies(SECRET, headers, body)
        assert not signature_verifies("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body)
        ids.append(headers["webhook-id"])
        stamps.append(int(headers["webhook-timestamp"]))
    assert ids == [IDEMPOTENCY_KEY, IDEMPOTENCY_KEY]
    assert stamps == [int(NOW.timestamp()), int(NOW.timestamp()) + 30]


def test_a_tampered_body_does_not_verify(make_channel: MakeChannel, mocked: responses.RequestsMock) -> None:
    mocked.post(URL, status=200)
    make_channel().publish(post_of(document()))
    [call] = mocked.calls
    body = cast(bytes, call.request.body)
    assert signature_verifies(SECRET, call.request.headers, body)
    assert not signature_verifies(SECRET, call.request.headers, body.replace(b"Altstadt", b"Neustadt"))


# -- what the partner's answer means ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Receipt),
        (201, Receipt),
        (202, Receipt),
        (204, Receipt),
        (400, PermanentError),
        (404, PermanentError),
        (422, PermanentError),
        (410, PermanentError),
        (401, CredentialsError),
        (403, CredentialsError),
        (408, TransientError),
        (429, TransientError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (301, PermanentError),
    ],
)
def test_each_answer_of_the_receiver_leads_to_the_right_next_step(
    make_channel: MakeChannel, mocked: responses.RequestsMock, status: int, outcome: type[object]
) -> None:
    elsewhere = "https://elsewhere.example.net/hook"
    mocked.post(URL, status=status, headers={"Retry-After": "7", "Location": elsewhere})
    mocked.post(elsewhere, status=200)

    result = attempt(make_channel(), post_of(document()))

    assert type(result) is outcome
    assert [call.request.url for call in mocked.calls] == [URL]  # never a redirect with a signed body
    if isinstance(result, Receipt):
        assert result == Receipt(platform_id=IDEMPOTENCY_KEY, url=None)
    if isinstance(result, TransientError):
        assert result.retry_after == 7.0
    if isinstance(result, DeliveryError):
        assert str(status) in result.reason


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (410, "no longer wants messages"),
        (301, "https://elsewhere.example.net/hook"),
        (422, "headline too long for our ticker"),
    ],
)
def test_a_refusal_says_why_in_words_people_can_act_on(
    make_channel: MakeChannel, mocked: responses.RequestsMock, status: int, words: str
) -> None:
    mocked.post(
        URL,
        status=status,
        headers={"Location": "https://elsewhere.example.net/hook"},
        content_type="text/plain",
        body="headline too long for our ticker",
    )

    result = attempt(make_channel(), post_of(document()))

    assert isinstance(result, PermanentError) and words in result.reason


@pytest.mark.parametrize(
    ("failure", "ambiguous"),
    [("connection refused", False), ("read timeout", True)],
)
def test_a_network_failure_is_retried_and_ambiguous_only_once_the_request_was_sent(
    make_channel: MakeChannel, failure: str, ambiguous: bool
) -> None:
    with Receiver(default=Answer(200, hang=5)) as receiver:
        url = f"http://127.0.0.1:{free_port()}/hook" if failure == "connection refused" else receiver.url
        channel = make_channel(url=url, timeouts=(2.0, 0.3))

        result = attempt(channel, post_of(document()))

    assert isinstance(result, TransientError) and result.ambiguous is ambiguous
    assert "network problem" in result.reason and "127.0.0.1" not in result.reason


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "env", "field", "message"),
    [
        pytest.param(
            webhook(),
            {},
            "authorities.0.channels.1.secret_env",
            f"names the environment variable {VARIABLE}, which is not set",
            id="secret-not-set",
        ),
        pytest.param(
            webhook(retries=3),
            {VARIABLE: SECRET},
            "authorities.0.channels.1.retries",
            "is not a field Herold knows (check the spelling)",
            id="unknown-key",
        ),
        pytest.param(
            {"id": "radio", "type": "webhook", "url": URL},
            {},
            "authorities.0.channels.1.secret_env",
            "is required",
            id="no-secret",
        ),
        pytest.param(
            webhook(url="ftp://radio.example.de/herold"),
            {VARIABLE: SECRET},
            "authorities.0.channels.1.url",
            'is not a web address like https://www.example.de/ (got "ftp://radio.example.de/herold")',
            id="not-a-web-address",
        ),
    ],
)
def test_a_webhook_configuration_mistake_stops_herold_at_start_naming_the_key(
    make_settings: SettingsFactory, channel: dict[str, Any], env: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(authorities=[authority(channel)], env=env)
    assert [(p.field, p.message) for p in caught.value.problems] == [(field, message)]


@pytest.mark.parametrize(
    ("url", "secret", "problem"),
    [
        ("https://radio.example.de/herold", SECRET, None),
        ("http://radio.example.de/herold", SECRET, "plain http"),
        ("http://10.1.2.3:8080/herold", SECRET, "plain http"),
        ("http://127.0.0.1:8080/herold", SECRET, None),
        ("http://localhost/herold", SECRET, None),
        ("http://[::1]:8080/herold", SECRET, None),
        ("https://radio.example.de/herold", "whsec_not base64!", 'not "whsec_" followed by base64'),
        ("https://radio.example.de/herold", "whsec_" + base64.b64encode(b"short").decode(), "only 5 bytes"),
    ],
)
def test_the_setup_check_flags_unencrypted_transport_and_unusable_secrets(
    make_channel: MakeChannel, url: str, secret: str, problem: str | None
) -> None:
    problems = list(make_channel(url=url, secret=secret).check())
    if problem is None:
        assert problems == []
    else:
        [found] = problems
        assert problem in found


def test_an_unusable_secret_fails_the_delivery_before_anything_is_sent(
    make_channel: MakeChannel, mocked: responses.RequestsMock
) -> None:
    result = attempt(make_channel(secret="whsec_not base64!"), post_of(document()))
    assert type(result) is PermanentError and VARIABLE in result.reason
    assert len(mocked.calls) == 0


# -- through the engine -------------------------------------------------------------------------


def start(make_settings: SettingsFactory, make_herold: HeroldFactory, receiver: Receiver) -> Herold:
    settings = make_settings(
        authorities=[authority(webhook(receiver.url))],
        env={VARIABLE: SECRET},
        grace_warning_seconds=0.3,
        grace_news_seconds=0.3,
        retry_base_seconds=0.05,
    )
    return make_herold(settings)


def page_for(data_dir: Path, request: Request) -> Path:
    item_url: str = request.json()["data"]["item_url"]
    assert item_url.startswith(BASE_URL)
    return data_dir / "site" / SLUG / item_url.removeprefix(BASE_URL) / "index.html"


def test_each_announcement_reaches_the_partner_once_signed_and_only_after_its_page_exists(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    pages_existed: list[bool] = []
    with Receiver() as receiver:
        herold = start(make_settings, make_herold, receiver)
        data_dir = herold.settings.herold.data_dir
        receiver.on_request = lambda request: pages_existed.append(page_for(data_dir, request).exists())

        original = publish(herold, warning())
        update = publish(herold, warning(msg_type="update", references=original, headline="Neue Lage"))

        received = receiver.requests
    assert receiver.hook_errors == []
    assert [r.json()["data"]["id"] for r in received] == [original, update]
    assert [r.json()["type"] for r in received] == ["announcement.alert", "announcement.update"]
    assert pages_existed == [True, True]
    for request, announcement_id in zip(received, [original, update], strict=True):
        delivery = herold.store.operations.copy_on(announcement_id, "radio")
        assert delivery is not None and delivery.state is OperationState.succeeded
        assert request.headers["webhook-id"] == delivery.idempotency_key
        assert signature_verifies(SECRET, request.headers, request.body)


@pytest.mark.parametrize(
    ("answers", "state", "attempts", "error"),
    [
        pytest.param([500, 500, 200], OperationState.succeeded, 3, None, id="server-errors-then-ok"),
        pytest.param([401], OperationState.failed, 1, "credentials refused", id="secret-refused"),
    ],
)
def test_the_engine_retries_what_may_pass_and_stops_at_what_cannot(
    make_settings: SettingsFactory,
    make_herold: HeroldFactory,
    answers: list[int],
    state: OperationState,
    attempts: int,
    error: str | None,
) -> None:
    with Receiver(answers) as receiver:
        herold = start(make_settings, make_herold, receiver)
        announcement_id = publish(herold, warning())
        received = receiver.requests

    delivery = herold.store.operations.copy_on(announcement_id, "radio")
    assert delivery is not None
    assert delivery.state is state and delivery.attempts == attempts
    if error is not None:
        assert error in (delivery.last_error or "")
    assert len(received) == attempts
    assert {r.headers["webhook-id"] for r in received} == {delivery.idempotency_key}
    assert all(signature_verifies(SECRET, r.headers, r.body) for r in received)


# -- a receiver that trickles its answer holds nothing ----------------------------------------------------


def test_a_receiver_that_trickles_its_answer_is_retried_after_the_call_deadline(
    make_settings: SettingsFactory, make_herold: HeroldFactory
) -> None:
    with Trickle(every=0.5) as receiver:
        settings = make_settings(
            authorities=[authority(webhook(receiver.url, call_deadline_seconds=1))],
            env={VARIABLE: SECRET},
            grace_warning_seconds=0.3,
            retry_base_seconds=5,  # one attempt within the test, then a retry is due
        )
        herold = make_herold(settings)
        announcement_id = accept(herold.engine, warning(), source="test", actor="tester")
        started = time.monotonic()
        while time.monotonic() - started < 10:
            delivery = herold.store.operations.copy_on(announcement_id, "radio")
            assert delivery is not None
            if delivery.attempts == 1 and delivery.state is OperationState.pending:
                break
            time.sleep(0.05)

        assert delivery is not None and delivery.state is OperationState.pending, "cut off after a second, retried"
        assert delivery.last_error == "network problem: timed out (ReadTimeout)"
        assert delivery.ambiguous, "the receiver had the whole request: it may have acted on it"
        assert time.monotonic() - started < 5
        assert receiver.wait_for_cut_off()


def test_the_setup_check_never_prints_credentials_from_the_url(make_channel: MakeChannel) -> None:
    [problem] = make_channel(url="http://radio:geheim@radio.example.de/herold?token=abc123").check()

    assert "http://radio.example.de/herold?…" in problem
    assert "geheim" not in problem and "abc123" not in problem
