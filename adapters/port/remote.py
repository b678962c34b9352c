"""The off-platform check for an own website Herold does not serve itself (a web host it copies
the site to, a WordPress): the item's public page must answer 200 and show the announcement
before anything goes to a platform. A channel of wave 1 calls `confirm_public` at the end of its
publish; until the page is there, the delivery is retried and its status says what it waits for.

Pages made by Herold carry the item's and the announcement's ids (the built-in site as
``<meta name="herold-item">`` and ``data-announcement``, a WordPress post in an HTML comment):
what is checked is that this announcement is on the page, not only that some page answers.
"""

from __future__ import annotations

import requests

from adapters.port.errors import TransientError, error_for_exception

# How soon to look again: a web host's cache or a sync job usually takes seconds, not minutes.
LOOK_AGAIN_SECONDS = 5.0


def confirm_public(http: requests.Session, url: str, item_id: str, announcement_id: str, *, deadline: float) -> None:
    """Return when ``url`` answers 200 with both ids in its body; else raise a TransientError
    that says what is awaited (shown by ``herold status``). It is not ambiguous by itself: a
    channel that wrote something before asking must re-raise it as ambiguous (or look its write
    up on the next attempt), or the retry writes again."""
    waiting = f"waiting for {url} to answer 200 with the item"
    try:
        # No cache may answer for the host: the page may have been written a moment ago.
        answer = http.get(url, timeout=deadline, headers={"Cache-Control": "no-cache"}, allow_redirects=True)
    except requests.RequestException as error:
        raise TransientError(f"{waiting} ({error_for_exception(error).reason})",
                             retry_after=LOOK_AGAIN_SECONDS) from None  # fmt: skip
    if answer.status_code != 200:
        raise TransientError(f"{waiting} (got {answer.status_code})", retry_after=LOOK_AGAIN_SECONDS)
    body = answer.text
    if item_id not in body:
        raise TransientError(f"{waiting} (it answers 200, but not with this item)", retry_after=LOOK_AGAIN_SECONDS)
    if announcement_id not in body:
        raise TransientError(f"{waiting} (the page does not show this message yet)", retry_after=LOOK_AGAIN_SECONDS)
