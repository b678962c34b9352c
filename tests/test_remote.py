"""The off-platform check for a website Herold does not serve itself: wave 2 waits until the
item's public page answers 200 with this announcement on it (adapters.port.remote)."""

from __future__ import annotations

import pytest
import requests
import responses

from adapters.port import TransientError, confirm_public

URL = "https://www.landkreis-beispiel.de/2026/12/fliegerbombe-1a2b3c4d/"
ITEM, ANNOUNCEMENT = "1a2b3c4d-item", "9f8e7d6c-announcement"
PAGE = f'<meta name="herold-item" content="{ITEM}"><article data-announcement="{ANNOUNCEMENT}">'


def check() -> None:
    confirm_public(requests.Session(), URL, ITEM, ANNOUNCEMENT, deadline=5)


@responses.activate
def test_a_page_that_answers_404_is_waited_for_and_the_reason_says_what_for() -> None:
    responses.get(URL, status=404)
    with pytest.raises(TransientError) as waiting:
        check()
    assert waiting.value.reason == f"waiting for {URL} to answer 200 with the item (got 404)"
    assert waiting.value.retry_after is not None and waiting.value.retry_after <= 10


@responses.activate
@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("<p>Wartungsarbeiten</p>", "not with this item"),  # a host's placeholder page
        (f'<meta name="herold-item" content="{ITEM}">', "does not show this message yet"),  # the old page, cached
    ],
)
def test_a_200_without_this_announcement_is_not_taken_for_it(body: str, says: str) -> None:
    responses.get(URL, body=body)
    with pytest.raises(TransientError, match=says):
        check()


@responses.activate
def test_the_page_with_item_and_announcement_passes_and_no_cache_may_answer() -> None:
    responses.get(URL, body=PAGE)
    check()
    assert responses.calls[0].request.headers["Cache-Control"] == "no-cache"


@responses.activate
def test_a_host_that_cannot_be_reached_is_waited_for() -> None:
    responses.get(URL, body=requests.ConnectionError("refused"))
    with pytest.raises(TransientError, match=r"to answer 200 with the item \(network problem: connection failed"):
        check()
