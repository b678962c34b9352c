"""The fake Mastodon server (tests/fakes/mastodon_server.py), pinned to recordings of a real one.

Every Mastodon test in Herold trusts this fake, so each test here ties one of its behaviours to
what a real Mastodon 4.5 answered (tests/fixtures/mastodon/, VCR cassettes from Mastodon.py's
test suite) or to the Mastodon documentation, over real HTTP (requests) and through Mastodon.py
configured as Herold's adapter configures it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)
from mastodon.return_types import Account, MediaAttachment, Status

from fakes.mastodon_server import (
    OUT_OF_SCOPE,
    TOO_LONG_PLEROMA,
    TOO_LONG_TAKAHE,
    FakeMastodon,
    Recorded,
    delay,
    drop_after,
    hang,
    retry_after,
    status,
    status_length,
)
from helpers import png_bytes

RECORDINGS = Path(__file__).parent / "fixtures" / "mastodon"
TOKEN = "herold-token"
OTHER = "other-token"  # a second account, like the recordings' __MASTODON_PY_TEST_ACCESS_TOKEN_2
ISO_RESET = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


# -- helpers ----------------------------------------------------------------------------------------


def recorded(cassette: str, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(request, response) of one interaction of a recording."""
    document = yaml.safe_load((RECORDINGS / cassette).read_text(encoding="utf-8"))
    interaction = document["interactions"][index]
    return interaction["request"], interaction["response"]


def recorded_json(cassette: str, index: int) -> Any:
    return json.loads(recorded(cassette, index)[1]["body"]["string"])


def recorded_header(cassette: str, index: int, name: str) -> str:
    """A response header of a recording; VCR keeps each as a list, in the server's case."""
    headers = recorded(cassette, index)[1]["headers"]
    return str(next(values[0] for key, values in headers.items() if key.lower() == name.lower()))


def client(fake: FakeMastodon, token: str = TOKEN, timeout: tuple[float, float] = (3, 5)) -> Mastodon:
    """Mastodon.py as Herold's adapter sets it up: no version detection, no sleeping on 429."""
    return Mastodon(
        api_base_url=fake.url,
        access_token=token,
        mastodon_version="4.0.0",
        version_check_mode="created",
        ratelimit_method="throw",
        request_timeout=timeout,  # type: ignore[arg-type]
    )


def call(fake: FakeMastodon, method: str, path: str, token: str | None = TOKEN, **kwargs: Any) -> requests.Response:
    """One raw HTTP request, as any client would send it."""
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, fake.url + path, headers=headers, timeout=5, **kwargs)


def post(fake: FakeMastodon, token: str | None = TOKEN, **data: Any) -> requests.Response:
    return call(fake, "POST", "/api/v1/statuses", token=token, data=data)


def upload(fake: FakeMastodon, data: bytes | None = None, **fields: str) -> requests.Response:
    files = {"file": ("karte.png", data if data is not None else png_bytes(), "image/png")}
    return call(fake, "POST", "/api/v2/media", files=files, data=fields)


def error_args(error: MastodonAPIError) -> tuple[int, str]:
    """Mastodon.py's (status code, server message) of an API error."""
    return error.args[1], error.args[3]


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon(tokens={TOKEN: "lkbeispiel", OTHER: "nachbar"}) as server:
        yield server


@pytest.fixture
def api(fake: FakeMastodon) -> Mastodon:
    return client(fake)


# -- response shapes, as recorded -----------------------------------------------------------------------


def _created(fake: FakeMastodon) -> Any:
    return post(fake, status="Toot!", visibility="public", spoiler_text="Content warning").json()


def _deleted(fake: FakeMastodon) -> Any:
    return call(fake, "DELETE", f"/api/v1/statuses/{_created(fake)['id']}").json()


def _pinned(fake: FakeMastodon) -> Any:
    return call(fake, "POST", f"/api/v1/statuses/{_created(fake)['id']}/pin").json()


def _edited(fake: FakeMastodon) -> Any:
    return call(fake, "PUT", f"/api/v1/statuses/{_created(fake)['id']}", data={"status": "better"}).json()


def _read_by_another_account(fake: FakeMastodon) -> Any:
    return call(fake, "GET", f"/api/v1/statuses/{_created(fake)['id']}", token=OTHER).json()


def _history_entry(fake: FakeMastodon) -> Any:
    return call(fake, "GET", f"/api/v1/statuses/{_edited(fake)['id']}/history", token=OTHER).json()[0]


def _source(fake: FakeMastodon) -> Any:
    return call(fake, "GET", f"/api/v1/statuses/{_edited(fake)['id']}/source", token=OTHER).json()


def _reply(fake: FakeMastodon) -> Any:
    original = _created(fake)
    return post(fake, token=OTHER, status="same!", in_reply_to_id=original["id"], visibility="public").json()


def _credentials(fake: FakeMastodon) -> Any:
    return call(fake, "GET", "/api/v1/accounts/verify_credentials").json()


def _status_account(fake: FakeMastodon) -> Any:
    return _created(fake)["account"]


def _uploaded_at_once(fake: FakeMastodon) -> Any:
    fake.media_processing_polls = 0
    return upload(fake).json()


def _attachment(fake: FakeMastodon) -> Any:
    return post(fake, status="x", **{"media_ids[]": _uploaded_at_once(fake)["id"]}).json()["media_attachments"][0]


def _uploaded_processing(fake: FakeMastodon) -> Any:
    return upload(fake, description="me when a cat").json()


def _polled_until_processed(fake: FakeMastodon) -> Any:
    media_id = upload(fake).json()["id"]
    answers = [call(fake, "GET", f"/api/v1/media/{media_id}") for _ in range(fake.media_processing_polls + 1)]
    assert [a.status_code for a in answers] == [206] * fake.media_processing_polls + [200]
    return answers[-1].json()


SHAPES: list[tuple[str, int, Callable[[FakeMastodon], Any], Callable[[Any], Any]]] = [
    # (recording, interaction, what the fake is asked, which part of the recorded answer)
    ("status-post-content-warning.yaml", 0, _created, lambda body: body),
    ("status-post-content-warning.yaml", 1, _deleted, lambda body: body),
    ("status-post-content-warning.yaml", 0, _status_account, lambda body: body["account"]),
    ("status-pin-unpin.yaml", 1, _pinned, lambda body: body),
    ("status-edit.yaml", 2, _edited, lambda body: body),
    ("status-edit.yaml", 3, _read_by_another_account, lambda body: body),
    ("status-edit.yaml", 4, _history_entry, lambda body: body[0]),
    ("status-edit.yaml", 5, _source, lambda body: body),
    ("status-reply.yaml", 1, _credentials, lambda body: body),
    ("status-reply.yaml", 2, _reply, lambda body: body),
    ("status-delete-media.yaml", 1, _uploaded_at_once, lambda body: body),
    ("status-delete-media.yaml", 2, _attachment, lambda body: body["media_attachments"][0]),
    ("media-post-202.yaml", 0, _uploaded_processing, lambda body: body),
    ("media-post-202.yaml", 1, _polled_until_processed, lambda body: body),
]


@pytest.mark.parametrize(
    ("cassette", "index", "ask", "part"), SHAPES, ids=[f"{c}#{i}:{a.__name__}" for c, i, a, _p in SHAPES]
)
def test_answers_have_exactly_the_recorded_keys(
    fake: FakeMastodon,
    cassette: str,
    index: int,
    ask: Callable[[FakeMastodon], Any],
    part: Callable[[Any], Any],
) -> None:
    assert set(ask(fake)) == set(part(recorded_json(cassette, index)))


def test_instance_v2_reports_the_limits_clients_read(fake: FakeMastodon) -> None:
    """entities/Instance.md: the limit, media count and URL length under configuration.statuses."""
    instance = call(fake, "GET", "/api/v2/instance", token=None).json()
    assert {"domain", "title", "version", "configuration", "registrations", "contact"} <= set(instance)
    assert instance["configuration"]["statuses"] == {
        "max_characters": 500,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
    }
    assert instance["configuration"]["accounts"]["max_pinned_statuses"] == 5
    assert instance["configuration"]["media_attachments"]["description_limit"] == 1500


def test_instance_v1_has_configuration_and_version(fake: FakeMastodon) -> None:
    instance = call(fake, "GET", "/api/v1/instance", token=None).json()
    assert {"uri", "title", "version", "urls", "stats", "configuration", "contact_account"} <= set(instance)
    assert instance["configuration"]["statuses"]["max_characters"] == 500


def test_statuses_parse_as_mastodon_py_objects(api: Mastodon) -> None:
    created = api.status_post("Toot!", spoiler_text="Content warning", language="de")
    assert isinstance(created, Status)
    assert isinstance(created.account, Account)
    assert isinstance(created.id, str)
    assert isinstance(created.created_at, datetime)
    assert created.created_at.tzinfo is not None
    assert abs((datetime.now(UTC) - created.created_at).total_seconds()) < 60
    assert created.language == "de"
    assert isinstance(api.status(created.id), Status)


@pytest.mark.parametrize("version", ["4.5.0", "takahe/0.11.0", "4.3.2+glitch"])
def test_version_is_reported_as_is(version: str) -> None:
    """Other servers speak the same API with their own version strings; Mastodon.py must not parse them."""
    with FakeMastodon(version=version) as fake:
        assert call(fake, "GET", "/api/v1/instance", token=None).json()["version"] == version
        assert call(fake, "GET", "/api/v2/instance", token=None).json()["version"] == version
        assert client(fake).instance_v2().version == version
        assert all(r.path.startswith("/api/v2/instance") for r in fake.requests[2:])  # no version probing


# -- statuses, as recorded --------------------------------------------------------------------------------

VALUE_KEYS: tuple[str, ...] = (
    "sensitive",
    "spoiler_text",
    "visibility",
    "content",
    "in_reply_to_id",
    "in_reply_to_account_id",
)
VALUE_KEYS += (
    "edited_at",
    "pinned",
    "media_attachments",
    "mentions",
    "tags",
    "reblog",
    "poll",
    "card",
    "replies_count",
)


def test_content_warning_status_matches_the_recording(fake: FakeMastodon) -> None:
    """POST status=Toot!&visibility=public&spoiler_text=Content warning: sensitive, <p>Toot!</p>."""
    request, _response = recorded("status-post-content-warning.yaml", 0)
    answer = call(
        fake,
        "POST",
        "/api/v1/statuses",
        data=request["body"],
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    expected = recorded_json("status-post-content-warning.yaml", 0)
    assert answer.status_code == 200
    assert {key: answer.json()[key] for key in VALUE_KEYS} == {key: expected[key] for key in VALUE_KEYS}
    assert answer.json()["url"] == f"{fake.url}/@lkbeispiel/{answer.json()['id']}"
    assert answer.json()["uri"] == f"{fake.url}/users/lkbeispiel/statuses/{answer.json()['id']}"


def test_delete_answers_text_instead_of_content_then_the_status_is_gone(fake: FakeMastodon) -> None:
    created = _created(fake)
    deleted = call(fake, "DELETE", f"/api/v1/statuses/{created['id']}")
    recorded_deleted = recorded_json("status-post-content-warning.yaml", 1)
    assert deleted.status_code == 200
    assert deleted.json()["text"] == recorded_deleted["text"] == "Toot!"
    assert "content" not in deleted.json()
    assert call(fake, "GET", f"/api/v1/statuses/{created['id']}").status_code == 404
    again = call(fake, "DELETE", f"/api/v1/statuses/{created['id']}")
    assert (again.status_code, again.json()) == (404, recorded_json("status-delete-media.yaml", 7))
    assert fake.statuses[0]["deleted"] is True


def test_pin_then_unpin_as_recorded(api: Mastodon) -> None:
    created = api.status_post("Toot!")
    assert api.status_pin(created).pinned is recorded_json("status-pin-unpin.yaml", 1)["pinned"] is True
    assert api.status_unpin(created).pinned is recorded_json("status-pin-unpin.yaml", 2)["pinned"] is False


def test_pinned_is_shown_only_to_the_owner(fake: FakeMastodon) -> None:
    """As recorded: another account reading the status gets no ``pinned`` at all."""
    created = _created(fake)
    call(fake, "POST", f"/api/v1/statuses/{created['id']}/pin")
    assert call(fake, "GET", f"/api/v1/statuses/{created['id']}").json()["pinned"] is True
    assert "pinned" not in call(fake, "GET", f"/api/v1/statuses/{created['id']}", token=OTHER).json()
    assert "pinned" not in recorded_json("status-edit.yaml", 3)


def test_pin_limit_is_five_and_a_second_pin_is_refused(api: Mastodon) -> None:
    """StatusPinValidator first (the limit), then the database's unique index (a second pin)."""
    statuses = [api.status_post(f"Warnung {n}") for n in range(6)]
    api.status_pin(statuses[0])
    with pytest.raises(MastodonAPIError) as twice:
        api.status_pin(statuses[0])
    assert error_args(twice.value) == (422, "Duplicate record")
    for pinned in statuses[1:5]:
        api.status_pin(pinned)
    with pytest.raises(MastodonAPIError) as refused:
        api.status_pin(statuses[5])
    assert error_args(refused.value) == (422, "Validation failed: You have already pinned the maximum number of posts")
    api.status_unpin(statuses[0])
    assert api.status_pin(statuses[5]).pinned is True


def test_where_unpinned_statuses_still_count_a_sixth_pin_is_refused_with_two_pinned() -> None:
    """Takahē counts an undone pin toward the five for a day; ``unpinned_count_for`` is that
    window. Re-pinning a status unpinned in it does not count it twice."""
    with FakeMastodon(unpinned_count_for=0.5) as fake:
        api = client(fake)
        statuses = [api.status_post(f"Warnung {n}") for n in range(6)]
        for status in statuses[:5]:
            api.status_pin(status)
        for status in statuses[2:5]:
            api.status_unpin(status)
        assert [s["pinned"] for s in fake.statuses] == [True, True, False, False, False, False]
        with pytest.raises(MastodonAPIError) as refused:
            api.status_pin(statuses[5])
        assert error_args(refused.value) == (
            422,
            "Validation failed: You have already pinned the maximum number of posts",
        )
        assert api.status_pin(statuses[2]).pinned is True  # 3 pinned + 2 recently unpinned
        time.sleep(0.5)
        assert api.status_pin(statuses[5]).pinned is True
        assert sum(s["pinned"] for s in fake.statuses) == 4


def test_edit_sets_edited_at_and_keeps_the_history_as_recorded(fake: FakeMastodon) -> None:
    """The recording's own texts give the recording's own content and history."""
    edit_request, _response = recorded("status-edit.yaml", 2)
    created = post(fake, status="the best editor? why, of course it is VS Code").json()
    assert created["edited_at"] is None
    edited = call(fake, "PUT", f"/api/v1/statuses/{created['id']}", data=edit_request["body"],
                  headers={"Content-Type": "application/x-www-form-urlencoded"}).json()  # fmt: skip
    assert edited["id"] == created["id"]
    assert edited["content"] == recorded_json("status-edit.yaml", 2)["content"]
    assert datetime.fromisoformat(edited["edited_at"]) >= datetime.fromisoformat(created["created_at"])
    history = call(fake, "GET", f"/api/v1/statuses/{created['id']}/history").json()
    assert [entry["content"] for entry in history] == [e["content"] for e in recorded_json("status-edit.yaml", 4)]
    source = call(fake, "GET", f"/api/v1/statuses/{created['id']}/source").json()
    assert {**source, "id": None} == {**recorded_json("status-edit.yaml", 5), "id": None}


def test_edit_through_mastodon_py_can_drop_the_content_warning(api: Mastodon) -> None:
    created = api.status_post("Fliegerbombe", spoiler_text="Gefahr")
    edited = api.status_update(created, "Entwarnung", spoiler_text="")
    assert (edited.spoiler_text, edited.sensitive, edited.content) == ("", False, "<p>Entwarnung</p>")
    assert edited.edited_at is not None


def _warning_with_everything(fake: FakeMastodon) -> tuple[str, str]:
    """An unlisted German status with a content warning and an image: (its id, the image's id)."""
    media_id = _uploaded_at_once(fake)["id"]
    created = post(
        fake, status="Fliegerbombe", spoiler_text="Gefahr", visibility="unlisted", language="de",
        **{"media_ids[]": media_id},
    ).json()  # fmt: skip
    return created["id"], media_id


EVERYTHING_ELSE = ("spoiler_text", "sensitive", "visibility", "language", "media_ids")


def test_an_edit_resets_what_it_leaves_out_except_language_and_visibility(fake: FakeMastodon) -> None:
    """Api::V1::StatusesController#update hands UpdateStatusService every field, sent or not:
    no media_ids removes the image, no spoiler_text the warning; the language is kept unless
    sent, and no edit can change the visibility."""
    status_id, _media_id = _warning_with_everything(fake)
    edited = call(fake, "PUT", f"/api/v1/statuses/{status_id}", data={"status": "Entwarnung"}).json()
    assert (edited["media_attachments"], edited["spoiler_text"], edited["sensitive"]) == ([], "", False)
    assert (edited["visibility"], edited["language"]) == ("unlisted", "de")
    now = fake.statuses[0]
    assert {key: now[key] for key in EVERYTHING_ELSE} == {
        "spoiler_text": "", "sensitive": False, "visibility": "unlisted", "language": "de", "media_ids": [],
    }  # fmt: skip
    assert (
        call(fake, "PUT", f"/api/v1/statuses/{status_id}", data={"status": "x", "visibility": "public"}).json()[
            "visibility"
        ]
        == "unlisted"
    )


def _edit_with_every_field(fake: FakeMastodon, status_id: str, media_id: str) -> requests.Response:
    """An edit as Herold's adapter sends it: text, warning, sensitive, images, visibility (which
    neither Mastodon nor Takahē reads in an edit) and language."""
    every_field = {"status": "Entwarnung", "spoiler_text": "Gefahr", "sensitive": "1", "media_ids[]": media_id,
                   "visibility": "unlisted", "language": "de"}  # fmt: skip
    return call(fake, "PUT", f"/api/v1/statuses/{status_id}", data=every_field)


def test_an_edit_that_sends_every_field_changes_only_the_text(fake: FakeMastodon) -> None:
    status_id, media_id = _warning_with_everything(fake)
    before = fake.statuses[0]
    assert _edit_with_every_field(fake, status_id, media_id).status_code == 200
    after = fake.statuses[0]
    assert after["text"] == "Entwarnung"
    assert {key: after[key] for key in EVERYTHING_ELSE} == {key: before[key] for key in EVERYTHING_ELSE}
    assert [edit["text"] for edit in after["edits"]] == ["Fliegerbombe", "Entwarnung"]
    assert after["edits"][0]["media_ids"] == after["edits"][1]["media_ids"] == [media_id]


def test_an_edit_that_changes_nothing_is_no_edit(fake: FakeMastodon, api: Mastodon) -> None:
    """UpdateStatusService's NoChangesSubmittedError: the status as it was, no history entry."""
    status_id, media_id = _warning_with_everything(fake)
    same = api.status_update(status_id, "Fliegerbombe", spoiler_text="Gefahr", sensitive=True, media_ids=[media_id])
    assert same.edited_at is None
    assert fake.statuses[0]["edits"] == []
    assert len(call(fake, "GET", f"/api/v1/statuses/{status_id}/history").json()) == 1


def test_an_edit_changes_alt_text_with_media_attributes_and_drops_unknown_media(
    fake: FakeMastodon, api: Mastodon
) -> None:
    """media_attributes as Mastodon.py sends them (JSON) and as form fields; an unknown id in
    media_ids is dropped on an edit, where posting refuses it."""
    status_id, media_id = _warning_with_everything(fake)
    attributes = [api.generate_media_edit_attributes(media_id, description="Karte, neu")]
    edited = api.status_update(status_id, "Fliegerbombe", spoiler_text="Gefahr", media_attributes=attributes)
    assert [m.description for m in edited.media_attachments] == ["Karte, neu"]
    form = {"status": "Fliegerbombe", "spoiler_text": "Gefahr", "media_ids[]": [media_id, "1234"],
            "media_attributes[][id]": media_id, "media_attributes[][description]": "Karte, zuletzt"}  # fmt: skip
    again = call(fake, "PUT", f"/api/v1/statuses/{status_id}", data=form).json()
    assert [(m["id"], m["description"]) for m in again["media_attachments"]] == [(media_id, "Karte, zuletzt")]


def test_replacing_edits_reset_every_field_not_sent_and_make_the_status_public() -> None:
    """Takahē's edit: it removed the image and turned an unlisted status public. Sending every
    field keeps them, but visibility cannot be sent: it becomes public all the same."""
    with FakeMastodon(edits="replace", media_processing_polls=0) as fake:
        status_id, media_id = _warning_with_everything(fake)
        call(fake, "PUT", f"/api/v1/statuses/{status_id}", data={"status": "Entwarnung"})
        now = fake.statuses[0]
        assert {key: now[key] for key in EVERYTHING_ELSE} == {
            "spoiler_text": "", "sensitive": False, "visibility": "public", "language": "en", "media_ids": [],
        }  # fmt: skip
        status_id, media_id = _warning_with_everything(fake)
        assert _edit_with_every_field(fake, status_id, media_id).status_code == 200
        now = fake.statuses[1]
        assert {key: now[key] for key in EVERYTHING_ELSE} == {
            "spoiler_text": "Gefahr", "sensitive": True, "visibility": "public", "language": "de",
            "media_ids": [media_id],
        }  # fmt: skip


def test_reply_from_another_account_names_the_replied_account(fake: FakeMastodon) -> None:
    """As recorded: in_reply_to_account_id is the account of the status replied to."""
    original = _created(fake)
    reply = post(fake, token=OTHER, status="same!", in_reply_to_id=original["id"]).json()
    assert reply["in_reply_to_id"] == original["id"]
    assert reply["in_reply_to_account_id"] == original["account"]["id"]
    recorded_reply = recorded_json("status-reply.yaml", 2)
    assert recorded_reply["in_reply_to_account_id"] != recorded_reply["account"]["id"]


def test_follow_up_in_own_thread_names_own_account(api: Mastodon) -> None:
    warning = api.status_post("Warnung")
    follow_up = api.status_post("Update", in_reply_to_id=warning)
    assert follow_up.in_reply_to_id == warning.id
    assert follow_up.in_reply_to_account_id == warning.account.id
    assert api.status(warning).replies_count == 1


def test_unknown_reply_target_is_404(api: Mastodon) -> None:
    with pytest.raises(MastodonNotFoundError) as missing:
        api.status_post("Update", in_reply_to_id="1234")
    assert error_args(missing.value) == (404, "The post you are trying to reply to does not appear to exist.")


def test_content_is_escaped_html_with_paragraphs_and_line_breaks(fake: FakeMastodon) -> None:
    body = post(fake, status='a < b & "c"\nd\n\ne').json()
    assert body["content"] == "<p>a &lt; b &amp; &quot;c&quot;<br />d</p><p>e</p>"


def test_links_and_hashtags_are_linked_like_mastodon_does(fake: FakeMastodon) -> None:
    """TextFormatter: the full URL in href, the scheme and anything past 30 characters hidden."""
    link = "https://www.lk-beispiel.de/warnungen/2026/fliegerbombe-altstadt/"
    body = post(fake, status=f"Mehr: {link} #Bombe").json()
    assert f'<a href="{link}" target="_blank" rel="nofollow noopener" translate="no">' in body["content"]
    assert (
        '<span class="invisible">https://www.</span><span class="ellipsis">lk-beispiel.de/warnungen/2026/</span>'
        in body["content"]
    )
    assert (
        f'<a href="{fake.url}/tags/Bombe" class="mention hashtag" rel="tag">#<span>Bombe</span></a>' in body["content"]
    )
    assert body["tags"] == [{"name": "bombe", "url": f"{fake.url}/tags/bombe"}]


def test_json_bodies_are_accepted(fake: FakeMastodon) -> None:
    media_id = _uploaded_at_once(fake)["id"]
    answer = call(fake, "POST", "/api/v1/statuses", json={"status": "JSON", "sensitive": True, "media_ids": [media_id]})
    assert answer.status_code == 200
    assert answer.json()["sensitive"] is True
    assert [m["id"] for m in answer.json()["media_attachments"]] == [media_id]


def test_empty_status_without_media_is_422(api: Mastodon) -> None:
    with pytest.raises(MastodonAPIError) as refused:
        api.status_post("   ")
    assert error_args(refused.value) == (422, "Validation failed: Text can't be blank")


def test_account_statuses_are_newest_first_and_limited(fake: FakeMastodon, api: Mastodon) -> None:
    first, second, third = (api.status_post(text) for text in ("eins", "zwei", "drei"))
    api.status_delete(second)
    me = api.account_verify_credentials()
    assert me.statuses_count == 2
    assert [s.id for s in api.account_statuses(me.id, limit=40)] == [third.id, first.id]
    page = api.account_statuses(me.id, limit=1)
    assert [s.id for s in page] == [third.id]
    following = api.fetch_next(page)
    assert following is not None
    assert [s.id for s in following] == [first.id]  # the Link header
    public = call(fake, "GET", f"/api/v1/accounts/{me.id}/statuses", token=None)  # no token, default limit
    assert [s["id"] for s in public.json()] == [third.id, first.id]


# -- idempotency ------------------------------------------------------------------------------------------


def test_replayed_idempotency_key_returns_the_original_and_creates_nothing(fake: FakeMastodon, api: Mastodon) -> None:
    """post_status_service.rb: a key seen within the hour answers the original status, even for another body."""
    original = api.status_post("Warnung", idempotency_key="announcement-1/fediverse/1")
    replay = api.status_post("Warnung, zweiter Versuch", idempotency_key="announcement-1/fediverse/1")
    assert replay.id == original.id
    assert replay.content == original.content == "<p>Warnung</p>"
    assert len(fake.statuses) == 1
    posts = [r for r in fake.requests if r.method == "POST"]
    assert [r.headers["Idempotency-Key"] for r in posts] == ["announcement-1/fediverse/1"] * 2
    assert [r.status for r in posts] == [200, 200]


def test_idempotency_keys_are_per_account(fake: FakeMastodon, api: Mastodon) -> None:
    mine = api.status_post("Warnung", idempotency_key="k")
    theirs = client(fake, OTHER).status_post("Warnung", idempotency_key="k")
    assert mine.id != theirs.id
    assert len(fake.statuses) == 2


def test_idempotency_key_is_forgotten_after_its_time() -> None:
    with FakeMastodon(idempotency_ttl=0.2) as fake:
        api = client(fake)
        first = api.status_post("Warnung", idempotency_key="k")
        time.sleep(0.3)
        assert api.status_post("Warnung", idempotency_key="k").id != first.id
        assert len(fake.statuses) == 2


def test_replay_of_a_deleted_original_is_404(api: Mastodon) -> None:
    original = api.status_post("Warnung", idempotency_key="k")
    api.status_delete(original)
    with pytest.raises(MastodonNotFoundError):
        api.status_post("Warnung", idempotency_key="k")


def test_concurrent_replays_create_one_status(fake: FakeMastodon) -> None:
    """Requests are processed under one lock: ten clients racing with one key get one status."""
    ids: list[str] = []

    def send() -> None:
        answer = call(fake, "POST", "/api/v1/statuses", data={"status": "Warnung"}, headers={"Idempotency-Key": "race"})
        ids.append(answer.json()["id"])

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1
    assert len(fake.statuses) == 1


def test_a_server_that_ignores_idempotency_keys_posts_a_retry_twice() -> None:
    """Takahē reads no Idempotency-Key: the retry after a lost answer is a second status."""
    with FakeMastodon(idempotency=False) as fake:
        api = client(fake)
        fake.fail("POST", "/api/v1/statuses", drop_after())
        with pytest.raises(MastodonNetworkError):
            api.status_post("Warnung", idempotency_key="announcement-1/fediverse/1")
        retried = api.status_post("Warnung", idempotency_key="announcement-1/fediverse/1")
        assert [s["id"] for s in fake.statuses][1:] == [retried.id]
        assert [s["idempotency_key"] for s in fake.statuses] == ["announcement-1/fediverse/1"] * 2


# -- media --------------------------------------------------------------------------------------------------


def test_upload_answers_202_then_206_while_processing_then_200(fake: FakeMastodon) -> None:
    """methods/media.md and the recording: url null until processed; the file is then served."""
    fake.media_processing_polls = 2
    image = png_bytes(600, 600)
    accepted = upload(fake, image, description="Karte des Sperrgebiets")
    assert accepted.status_code == recorded("media-post-202.yaml", 0)[1]["status"]["code"] == 202
    assert accepted.json()["url"] is recorded_json("media-post-202.yaml", 0)["url"] is None
    media_id = accepted.json()["id"]
    polls = [call(fake, "GET", f"/api/v1/media/{media_id}") for _ in range(3)]
    assert [p.status_code for p in polls] == [206, 206, 200]
    assert [p.json()["url"] is None for p in polls] == [True, True, False]
    done = polls[-1].json()
    assert done["description"] == "Karte des Sperrgebiets"
    assert done["meta"]["original"] == {"width": 600, "height": 600, "size": "600x600", "aspect": 1.0}
    assert done["meta"]["small"] == recorded_json("status-delete-media.yaml", 1)["meta"]["small"]  # 480x480
    assert requests.get(done["url"], timeout=5).content == image


def test_media_post_returns_url_none_and_media_polls(fake: FakeMastodon, api: Mastodon) -> None:
    uploaded = api.media_post(png_bytes(), mime_type="image/png", description="Karte")
    assert isinstance(uploaded, MediaAttachment)
    assert uploaded.url is None
    assert uploaded.description == "Karte"
    assert api.media(uploaded).url is None  # 206
    assert api.media(uploaded).url.startswith(f"{fake.url}/system/media_attachments/files/{uploaded.id}/")
    assert [r.path for r in fake.requests] == ["/api/v2/media"] + [f"/api/v1/media/{uploaded.id}"] * 2
    status_with_image = api.status_post("Sperrgebiet", media_ids=[uploaded])
    assert [m.id for m in status_with_image.media_attachments] == [uploaded.id]


def test_without_processing_polls_upload_answers_200_at_once() -> None:
    with FakeMastodon(media_processing_polls=0) as fake:
        answer = upload(fake)
        assert answer.status_code == recorded("status-delete-media.yaml", 1)[1]["status"]["code"] == 200
        assert answer.json()["url"] is not None


def test_attaching_media_still_processing_is_422(api: Mastodon) -> None:
    uploaded = api.media_post(png_bytes(), mime_type="image/png")
    with pytest.raises(MastodonAPIError) as refused:
        api.status_post("zu früh", media_ids=[uploaded])
    assert error_args(refused.value) == (
        422,
        "Cannot attach files that have not finished processing. Try again in a moment!",
    )


def test_delete_frees_media_unless_delete_media_as_recorded(fake: FakeMastodon) -> None:
    """status-delete-media: repost after delete_media=0 works; after delete_media=1 it is 422."""
    media_id = _uploaded_at_once(fake)["id"]
    first = post(fake, status="Status with media", **{"media_ids[]": media_id}).json()
    kept = call(fake, "DELETE", f"/api/v1/statuses/{first['id']}", data={"delete_media": "0"})
    assert [m["id"] for m in kept.json()["media_attachments"]] == [media_id]
    second = post(fake, status="Status with media reposted", **{"media_ids[]": media_id})
    assert second.status_code == recorded("status-delete-media.yaml", 4)[1]["status"]["code"] == 200
    call(fake, "DELETE", f"/api/v1/statuses/{second.json()['id']}", data={"delete_media": "1"})
    third = post(fake, status="Trying to repost deleted media", **{"media_ids[]": media_id})
    recorded_refusal = recorded_json("status-delete-media.yaml", 6)
    assert third.status_code == recorded("status-delete-media.yaml", 6)[1]["status"]["code"] == 422
    assert set(third.json()) == set(recorded_refusal) == {"error"}
    assert third.json()["error"] == f"Media {media_id} not found or already attached to another post"
    assert "117020606032533890" in recorded_refusal["error"]  # the real message names the id too


def test_alt_text_over_1500_characters_is_422(fake: FakeMastodon) -> None:
    answer = upload(fake, description="x" * 1501)
    assert (answer.status_code, answer.json()) == (
        422,
        {"error": "Validation failed: Description is too long (maximum is 1500 characters)"},
    )
    assert upload(fake, description="x" * 1500).status_code == 202


def test_media_description_can_be_updated_before_posting(fake: FakeMastodon) -> None:
    media_id = upload(fake).json()["id"]
    updated = call(fake, "PUT", f"/api/v1/media/{media_id}", data={"description": "neu"})
    assert (updated.status_code, updated.json()["description"]) == (206, "neu")


def test_an_image_whose_bytes_are_no_image_is_422(fake: FakeMastodon) -> None:
    answer = upload(fake, b"not a png")
    assert (answer.status_code, answer.json()) == (
        422,
        {"error": "Validation failed: File content type is invalid, File is invalid"},
    )


# -- counting ------------------------------------------------------------------------------------------------

LINK = "https://www.lk-beispiel.de/warnungen/2026/fliegerbombe-altstadt"
COUNTS = [
    # (why, text, content warning, length as Mastodon counts it)
    ("plain characters", "a" * 10, "", 10),
    ("a family emoji is one grapheme", "👨‍👩‍👧‍👦" * 5, "", 5),
    ("a flag is one grapheme", "🇩🇪🇫🇷", "", 2),
    ("combining accents belong to their letter", "e\u0301" * 4, "", 4),
    ("a long link counts 23", f"Info: {LINK}", "", 6 + 23),
    ("a short link counts 23 too", "Info: http://a.de", "", 6 + 23),
    ("a full stop after a link is text", f"Info: {LINK}.", "", 6 + 23 + 1),
    ("the content warning counts", "Text", "Warnung", 11),
    ("text and warning are stripped", "  Text \n", " Warnung ", 11),
    ("a remote mention counts as @user", "@amt@social.example.de hallo", "", len("@amt hallo")),
]


@pytest.mark.parametrize(("text", "spoiler", "length"), [c[1:] for c in COUNTS], ids=[c[0] for c in COUNTS])
def test_the_limit_counts_like_mastodon(fake: FakeMastodon, text: str, spoiler: str, length: int) -> None:
    """StatusLengthValidator: exactly at the limit is fine, one more is refused with the real message."""
    assert status_length(text, spoiler) == length
    fake.max_characters = length
    assert post(fake, status=text, spoiler_text=spoiler).status_code == 200
    fake.max_characters = length - 1
    refused = post(fake, status=text, spoiler_text=spoiler)
    assert (refused.status_code, refused.json()) == (
        422,
        {"error": f"Validation failed: Text character limit of {length - 1} exceeded"},
    )


def test_the_limit_comes_from_the_instance(fake: FakeMastodon) -> None:
    with FakeMastodon(max_characters=1000) as roomy:
        api = client(roomy)
        assert api.instance_v2().configuration.statuses.max_characters == 1000
        assert api.status_post("x" * 1000).id
        with pytest.raises(MastodonAPIError) as refused:
            api.status_post("x" * 1001)
        assert error_args(refused.value) == (422, "Validation failed: Text character limit of 1000 exceeded")


FULL_COUNTS = [
    # (why, text, content warning, length as Takahē, Pleroma and GoToSocial count it, at most)
    ("a long link counts in full", f"Info: {LINK}", "", 6 + len(LINK)),
    ("a short link counts in full too", "Info: http://a.de", "", 6 + len("http://a.de")),
    ("a family emoji is its seven code points", "👨‍👩‍👧‍👦", "", 7),
    ("a remote mention counts in full", "@amt@social.example.de hallo", "", len("@amt@social.example.de hallo")),
    ("the content warning counts", "Text", " Warnung ", 11),
]


@pytest.mark.parametrize(("text", "spoiler", "length"), [c[1:] for c in FULL_COUNTS], ids=[c[0] for c in FULL_COUNTS])
def test_servers_that_count_links_in_full_still_advertise_23_per_link(text: str, spoiler: str, length: int) -> None:
    """Takahē checks len(status) yet reports characters_reserved_per_url: 23, like v1 and v2 here."""
    assert status_length(text, spoiler, links="full") == length
    with FakeMastodon(links="full", max_characters=length) as fake:
        assert (
            call(fake, "GET", "/api/v2/instance", token=None).json()["configuration"]["statuses"][
                "characters_reserved_per_url"
            ]
            == 23
        )
        assert (
            call(fake, "GET", "/api/v1/instance", token=None).json()["configuration"]["statuses"][
                "characters_reserved_per_url"
            ]
            == 23
        )
        assert post(fake, status=text, spoiler_text=spoiler).status_code == 200
        fake.max_characters = length - 1
        assert post(fake, status=text, spoiler_text=spoiler).status_code == 422


TOO_LONG_ANSWERS = [
    # (server, code, message given, the answer's error for 501 characters against 500)
    ("GoToSocial", 400, None,
     "Bad Request: status too long, 501 characters provided (including spoiler/content warning) but limit is 500"),
    ("Takahē", 400, TOO_LONG_TAKAHE, "Status is too long"),
    ("Pleroma", 422, TOO_LONG_PLEROMA, "The status is over the character limit"),
    ("Mastodon", 422, None, "Validation failed: Text character limit of 500 exceeded"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "message", "error"), [a[1:] for a in TOO_LONG_ANSWERS], ids=[a[0] for a in TOO_LONG_ANSWERS]
)
def test_an_over_long_status_is_refused_with_the_server_s_own_code_and_words(
    code: int, message: str | None, error: str
) -> None:
    with FakeMastodon(too_long_status=code, too_long_message=message) as fake:
        refused = post(fake, status="x" * 501)
        assert (refused.status_code, refused.json()) == (code, {"error": error})
        status_id = post(fake, status="x" * 500).json()["id"]
        edited = call(fake, "PUT", f"/api/v1/statuses/{status_id}", data={"status": "y" * 501})
        assert (edited.status_code, edited.json()) == (code, {"error": error})
        assert len(fake.statuses) == 1


# -- errors, as recorded ------------------------------------------------------------------------------------


def test_missing_token_answers_exactly_as_recorded(fake: FakeMastodon) -> None:
    cassette = "error-401-revoked-token.yaml"
    answer = post(fake, token=None, status="illegal access detected")
    assert answer.status_code == recorded(cassette, 0)[1]["status"]["code"] == 401
    assert answer.json() == recorded_json(cassette, 0) == {"error": "The access token is invalid"}
    assert answer.headers["WWW-Authenticate"] == recorded_header(cassette, 0, "WWW-Authenticate")
    assert answer.headers["x-ratelimit-limit"] == recorded_header(cassette, 0, "X-RateLimit-Limit")


def test_unknown_token_is_401_invalid(api: Mastodon, fake: FakeMastodon) -> None:
    with pytest.raises(MastodonUnauthorizedError) as refused:
        client(fake, "no-such-token").status_post("x")
    assert error_args(refused.value) == (401, "The access token is invalid")


def test_revoked_token_answers_doorkeepers_revoked_401(fake: FakeMastodon) -> None:
    """The recording answers in Japanese ("アクセストークンは取り消されています"); Doorkeeper's
    English for it is "The access token was revoked". Other tokens keep working."""
    cassette = "error-401-revoked-token.yaml"
    client(fake).status_post("vorher")
    fake.revoke(TOKEN)
    answer = post(fake, status="illegal access detected")
    challenge = 'Bearer realm="Doorkeeper", error="invalid_token", error_description="'
    assert answer.status_code == recorded(cassette, 1)[1]["status"]["code"] == 401
    assert set(answer.json()) == set(recorded_json(cassette, 1)) == {"error"}
    assert answer.json()["error"] == "The access token was revoked"
    assert answer.headers["WWW-Authenticate"] == f'{challenge}The access token was revoked"'
    assert recorded_header(cassette, 1, "WWW-Authenticate").startswith(challenge)
    with pytest.raises(MastodonUnauthorizedError):
        client(fake).account_verify_credentials()
    assert client(fake, OTHER).account_verify_credentials().username == "nachbar"


def test_over_the_limit_answers_422_as_recorded(fake: FakeMastodon) -> None:
    """The recordings answer in Japanese and German; the shape and the limit are the same."""
    answer = post(fake, status="look at me i am funny shark gawr gura: " + "a" * 50_000)
    for index in (0, 1):
        assert answer.status_code == recorded("error-422.yaml", index)[1]["status"]["code"]
        assert set(answer.json()) == set(recorded_json("error-422.yaml", index)) == {"error"}
        assert "500" in recorded_json("error-422.yaml", index)["error"]
        assert answer.headers["content-type"] == recorded_header("error-422.yaml", index, "content-type")
    assert answer.json()["error"] == "Validation failed: Text character limit of 500 exceeded"


def test_unknown_path_is_404_record_not_found(fake: FakeMastodon) -> None:
    answer = call(fake, "GET", "/api/v1/nothing/here")
    assert (answer.status_code, answer.json()) == (404, {"error": "Record not found"})


def test_rate_limit_answers_429_when_used_up(fake: FakeMastodon, api: Mastodon) -> None:
    fake.rate_limits["statuses"] = (2, 3 * 60 * 60)
    assert [post(fake, status=f"Nr. {n}").headers["x-ratelimit-remaining"] for n in range(2)] == ["1", "0"]
    answer = post(fake, status="zu viel")
    assert (answer.status_code, answer.json()) == (429, {"error": "Too many requests"})
    assert (answer.headers["x-ratelimit-limit"], answer.headers["x-ratelimit-remaining"]) == ("2", "0")
    with pytest.raises(MastodonRatelimitError):
        api.status_post("immer noch zu viel")
    assert len(fake.statuses) == 2


RATE_BUCKETS: list[tuple[str, int, Callable[[FakeMastodon], requests.Response]]] = [
    # (recording, interaction, the same kind of request to the fake)
    ("status-post-content-warning.yaml", 0, lambda fake: post(fake, status="Toot!")),
    ("status-post-content-warning.yaml", 1, lambda fake: call(fake, "DELETE", f"/api/v1/statuses/{_created(fake)['id']}")),  # noqa: E501
    ("status-pin-unpin.yaml", 1, lambda fake: call(fake, "POST", f"/api/v1/statuses/{_created(fake)['id']}/pin")),
    ("status-edit.yaml", 3, lambda fake: call(fake, "GET", f"/api/v1/statuses/{_created(fake)['id']}")),
    ("status-reply.yaml", 1, lambda fake: call(fake, "GET", "/api/v1/accounts/verify_credentials")),
    ("status-delete-media.yaml", 1, lambda fake: upload(fake)),
    ("media-post-202.yaml", 1, lambda fake: call(fake, "GET", f"/api/v1/media/{upload(fake).json()['id']}")),
    ("error-422.yaml", 0, lambda fake: post(fake, status="a" * 501)),
    ("error-401-revoked-token.yaml", 0, lambda fake: post(fake, token=None, status="x")),
]  # fmt: skip


@pytest.mark.parametrize(("cassette", "index", "ask"), RATE_BUCKETS, ids=[f"{c}#{i}" for c, i, _a in RATE_BUCKETS])
def test_rate_limit_headers_match_the_recorded_buckets(
    fake: FakeMastodon, cassette: str, index: int, ask: Callable[[FakeMastodon], requests.Response]
) -> None:
    """api/rate-limits.md: 300 per 5 minutes, posting 300 per 3 hours, deletes and uploads 30 per
    30 minutes; the reset is an ISO 8601 time in UTC with microseconds, as recorded."""
    answer = ask(fake)
    assert answer.headers["x-ratelimit-limit"] == recorded_header(cassette, index, "x-ratelimit-limit")
    reset = answer.headers["x-ratelimit-reset"]
    assert ISO_RESET.match(reset)
    assert ISO_RESET.match(recorded_header(cassette, index, "x-ratelimit-reset"))
    assert datetime.fromisoformat(reset) > datetime.now(UTC)
    assert 0 <= int(answer.headers["x-ratelimit-remaining"]) < int(answer.headers["x-ratelimit-limit"])


# -- OAuth scopes ---------------------------------------------------------------------------------------------

NARROW = "narrow-token"  # the same account as TOKEN, with the scopes a test gives it
SCOPED: list[tuple[str, str, str, dict[str, Any]]] = [
    # (method, path with {account}, {status} or {media}, the scope Mastodon's controller names, request)
    ("GET", "/api/v1/accounts/verify_credentials", "read:accounts", {}),
    ("GET", "/api/v1/accounts/{account}", "read:accounts", {}),
    ("GET", "/api/v1/accounts/{account}/statuses", "read:statuses", {}),
    ("POST", "/api/v1/statuses", "write:statuses", {"data": {"status": "Warnung"}}),
    ("GET", "/api/v1/statuses/{status}", "read:statuses", {}),
    ("PUT", "/api/v1/statuses/{status}", "write:statuses", {"data": {"status": "Entwarnung"}}),
    ("DELETE", "/api/v1/statuses/{status}", "write:statuses", {}),
    ("GET", "/api/v1/statuses/{status}/source", "read:statuses", {}),
    ("GET", "/api/v1/statuses/{status}/history", "read:statuses", {}),
    ("POST", "/api/v1/statuses/{status}/pin", "write:accounts", {}),
    ("POST", "/api/v1/statuses/{status}/unpin", "write:accounts", {}),
    ("POST", "/api/v2/media", "write:media", {"files": {"file": ("karte.png", png_bytes(), "image/png")}}),
    ("GET", "/api/v1/media/{media}", "write:media", {}),
    ("PUT", "/api/v1/media/{media}", "write:media", {"data": {"description": "Karte"}}),
    ("DELETE", "/api/v1/media/{media}", "write:media", {}),
]


def _with_scopes(granted: set[str], version: str = "4.5.0") -> FakeMastodon:
    return FakeMastodon(
        tokens={TOKEN: "lkbeispiel", NARROW: "lkbeispiel"}, scopes={NARROW: granted}, version=version,
        media_processing_polls=0,
    )  # fmt: skip


def _scoped_call(fake: FakeMastodon, method: str, path: str, request: dict[str, Any]) -> requests.Response:
    """The request on things just made with TOKEN (which has every scope: it is not in ``scopes``)."""
    account = call(fake, "GET", "/api/v1/accounts/verify_credentials").json()["id"]
    status_id = post(fake, status="Warnung").json()["id"]
    media_id = upload(fake).json()["id"]
    return call(fake, method, path.format(account=account, status=status_id, media=media_id), token=NARROW, **request)


@pytest.mark.parametrize(("method", "path", "scope", "request_"), SCOPED, ids=[f"{m} {p}" for m, p, _s, _r in SCOPED])
def test_each_endpoint_needs_the_scope_its_controller_names(
    method: str, path: str, scope: str, request_: dict[str, Any]
) -> None:
    """Doorkeeper's 403 with Mastodon's body and no WWW-Authenticate; the granular scope and its
    ``read`` or ``write`` both let the token through."""
    others = {"read", "write", "read:accounts", "read:statuses", "write:statuses", "write:media", "write:accounts"}
    without = others - {scope, scope.split(":")[0]}
    with _with_scopes(without) as fake:
        refused = _scoped_call(fake, method, path, request_)
        assert (refused.status_code, refused.json()) == (403, {"error": "This action is outside the authorized scopes"})
        assert "WWW-Authenticate" not in refused.headers
        assert refused.json()["error"] == OUT_OF_SCOPE
    for granted in ({scope}, {scope.split(":")[0]}):
        with _with_scopes(granted) as fake:
            assert _scoped_call(fake, method, path, request_).status_code < 300


def test_verify_credentials_also_takes_the_profile_scope_and_public_reads_need_no_token() -> None:
    """Mastodon 4.3's ``profile`` scope; authorize_if_got_token! checks only a token that is sent."""
    with _with_scopes({"profile"}) as fake:
        assert call(fake, "GET", "/api/v1/accounts/verify_credentials", token=NARROW).status_code == 200
        status_id = post(fake, status="Warnung").json()["id"]
        assert call(fake, "GET", f"/api/v1/statuses/{status_id}", token=None).status_code == 200
        assert call(fake, "GET", f"/api/v1/statuses/{status_id}", token=NARROW).status_code == 403
        assert call(fake, "GET", "/api/v2/instance", token=NARROW).status_code == 200


PROBES: list[tuple[str, str, str]] = [
    # (method, path to something that does not exist, the scope checked before looking)
    ("GET", "/api/v1/statuses/999999", "read:statuses"),
    ("PUT", "/api/v1/statuses/999999", "write:statuses"),
    ("DELETE", "/api/v1/statuses/999999", "write:statuses"),
    ("PUT", "/api/v1/media/999999", "write:media"),
]


@pytest.mark.parametrize(("method", "path", "scope"), PROBES, ids=[f"{m} {p}" for m, p, _s in PROBES])
def test_the_scope_is_checked_before_the_record_is_looked_up(method: str, path: str, scope: str) -> None:
    """doorkeeper_authorize! is the controller's first before_action: a harmless probe answers
    404 with the scope and 403 without."""
    with _with_scopes({scope}) as fake:
        assert call(fake, method, path, token=NARROW, data={"status": "-"}).status_code == 404
    with _with_scopes(set()) as fake:
        assert call(fake, method, path, token=NARROW, data={"status": "-"}).status_code == 403


@pytest.mark.parametrize("action", ["pin", "unpin", "source", "history"])
def test_from_mastodon_4_3_pin_unpin_source_and_history_look_the_status_up_first(action: str) -> None:
    """Api::V1::Statuses::BaseController (mastodon#27794, in 4.3) runs set_status before the
    subclass's doorkeeper_authorize!: a missing status is 404 with or without the scope, and
    with any token; an existing one without the scope is 403. Before 4.3, and on other
    servers, the scope comes first."""
    method = "POST" if action in ("pin", "unpin") else "GET"
    with _with_scopes(set()) as fake:
        assert call(fake, method, f"/api/v1/statuses/999999/{action}", token=NARROW).status_code == 404
        assert call(fake, method, f"/api/v1/statuses/999999/{action}", token="no-such-token").status_code == 404
        status_id = post(fake, status="Warnung").json()["id"]
        assert call(fake, method, f"/api/v1/statuses/{status_id}/{action}", token=NARROW).status_code == 403
    for version in ("4.2.10", "takahe/0.11.0", "2.7.2 (compatible; Pleroma 2.6.0)"):
        with _with_scopes(set(), version=version) as fake:
            assert call(fake, method, f"/api/v1/statuses/999999/{action}", token=NARROW).status_code == 403


# -- faults --------------------------------------------------------------------------------------------------


def test_status_fault_answers_once_instead_of_processing(fake: FakeMastodon, api: Mastodon) -> None:
    fake.fail("POST", "/api/v1/statuses", status(503))
    with pytest.raises(MastodonServerError) as refused:
        api.status_post("Warnung")
    assert error_args(refused.value) == (503, "Service Unavailable")
    assert fake.statuses == []
    assert api.status_post("Warnung").id
    assert fake.faults_left == 0


def test_status_fault_sends_the_given_body_and_headers(fake: FakeMastodon) -> None:
    fake.fail("GET", "/api/v2/instance", status(502, "<html>Bad Gateway</html>", {"X-Proxy": "nginx"}))
    answer = call(fake, "GET", "/api/v2/instance", token=None)
    assert (answer.status_code, answer.text, answer.headers["X-Proxy"]) == (502, "<html>Bad Gateway</html>", "nginx")
    assert answer.headers["content-type"].startswith("text/html")


def test_retry_after_fault_is_a_429_with_retry_after(fake: FakeMastodon, api: Mastodon) -> None:
    fake.fail("POST", "/api/v1/statuses", retry_after(7))
    answer = post(fake, status="Warnung")
    assert (answer.status_code, answer.json()) == (429, {"error": "Too many requests"})
    assert (answer.headers["Retry-After"], answer.headers["x-ratelimit-remaining"]) == ("7", "0")
    fake.fail("POST", "/api/v1/statuses", retry_after(7))
    with pytest.raises(MastodonRatelimitError):
        api.status_post("Warnung")
    assert fake.statuses == []


def test_delay_fault_answers_late_but_normally(fake: FakeMastodon, api: Mastodon) -> None:
    fake.fail("POST", "/api/v1/statuses", delay(0.3))
    started = time.monotonic()
    created = api.status_post("Warnung")
    assert time.monotonic() - started >= 0.3
    assert [s["id"] for s in fake.statuses] == [created.id]


def test_hang_fault_times_the_client_out_and_creates_nothing(fake: FakeMastodon) -> None:
    """A read timeout shorter than the hang; Herold's own client waits 5 s, too long for a test."""
    fake.fail("POST", "/api/v1/statuses", hang(3))
    impatient = client(fake, timeout=(3, 0.3))
    started = time.monotonic()
    with pytest.raises(MastodonNetworkError):
        impatient.status_post("Warnung")
    assert time.monotonic() - started < 2
    assert fake.statuses == []
    assert fake.requests[-1].status is None
    assert impatient.status_post("Warnung").id  # the next request is served


def test_drop_after_creates_the_status_but_the_client_gets_a_connection_error(
    fake: FakeMastodon, api: Mastodon
) -> None:
    """The ambiguous write: the status exists, the client cannot know. Retrying with the same
    Idempotency-Key answers that status instead of posting twice."""
    fake.fail("POST", "/api/v1/statuses", drop_after())
    with pytest.raises(MastodonNetworkError):
        api.status_post("Warnung", idempotency_key="announcement-1/fediverse/1")
    assert len(fake.statuses) == 1
    assert fake.requests[-1].status is None
    retried = api.status_post("Warnung", idempotency_key="announcement-1/fediverse/1")
    assert retried.id == fake.statuses[0]["id"]
    assert len(fake.statuses) == 1


def test_faults_match_method_and_path_prefix_in_order(fake: FakeMastodon) -> None:
    fake.fail("POST", "/api/v2/media", status(500))
    fake.fail("*", "/api/v1/statuses", status(502), retry_after(1))
    assert call(fake, "GET", "/api/v1/accounts/verify_credentials").status_code == 200
    codes = [post(fake, status="Warnung").status_code for _ in range(3)]
    assert codes == [502, 429, 200]
    assert fake.faults_left == 1
    assert upload(fake).status_code == 500


def test_on_request_runs_before_processing(fake: FakeMastodon, api: Mastodon) -> None:
    """Tests use it to check what existed when the request arrived (e.g. the website page)."""
    seen: list[tuple[str, int]] = []

    def check(request: Recorded) -> None:
        seen.append((request.path, len(fake.statuses)))

    fake.on_request = check
    api.status_post("Warnung")
    assert seen == [("/api/v1/statuses", 0)]
    assert len(fake.statuses) == 1


def test_a_failing_hook_fails_the_test_at_stop() -> None:
    fake = FakeMastodon().start()

    def check(request: Recorded) -> None:
        raise AssertionError("the page was not there yet")

    fake.on_request = check
    assert client(fake).status_post("Warnung").id  # the request itself is still answered
    with pytest.raises(RuntimeError, match="the page was not there yet"):
        fake.stop()


# -- what the tests can inspect -----------------------------------------------------------------------------


def test_requests_are_recorded_with_headers_body_time_and_status(fake: FakeMastodon, api: Mastodon) -> None:
    before = time.monotonic()
    api.status_post("Warnung", idempotency_key="k", language="de")
    post(fake, token=None, status="x")
    first, second = fake.requests
    assert (first.method, first.path, first.status, second.status) == ("POST", "/api/v1/statuses", 200, 401)
    assert first.headers["authorization"] == first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.params() == {"status": "Warnung", "sensitive": "0", "language": "de"}
    assert b"status=Warnung" in first.body
    assert before <= first.at <= second.at <= time.monotonic()


def test_inspection_properties_are_copies(fake: FakeMastodon, api: Mastodon) -> None:
    api.status_post("Warnung")
    fake.statuses[0]["content"] = "changed"
    fake.requests.clear()
    assert fake.statuses[0]["content"] == "<p>Warnung</p>"
    assert fake.statuses[0]["text"] == "Warnung"
    assert len(fake.requests) == 1


def test_statuses_show_each_one_s_fields_pin_images_deletion_and_edits(fake: FakeMastodon, api: Mastodon) -> None:
    """What a test needs to say "every other field unchanged", and whether a status is pinned."""
    status_id, media_id = _warning_with_everything(fake)
    api.status_pin(status_id)
    kept = api.status_post("Bleibt")
    now = fake.statuses[0]
    assert {key: now[key] for key in ("text", *EVERYTHING_ELSE, "pinned", "deleted", "edits")} == {
        "text": "Fliegerbombe", "spoiler_text": "Gefahr", "sensitive": True, "visibility": "unlisted",
        "language": "de", "media_ids": [media_id], "pinned": True, "deleted": False, "edits": [],
    }  # fmt: skip
    api.status_delete(status_id)
    assert [(s["pinned"], s["deleted"]) for s in fake.statuses] == [(False, True), (False, False)]
    assert fake.statuses[1]["id"] == kept.id


def test_stop_cuts_kept_alive_connections() -> None:
    """A pooled connection must not reach a stopped server: "server down" must look down."""
    fake = FakeMastodon().start()
    session = requests.Session()
    assert session.get(f"{fake.url}/api/v1/instance", timeout=5).status_code == 200
    url = fake.url
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/api/v1/instance", timeout=5)
    fake.stop()  # twice is fine
