"""Signed outbound webhooks, per the Standard Webhooks scheme (https://www.standardwebhooks.com/).

Receivers check ``webhook-signature`` (HMAC-SHA256 over ``id.timestamp.body`` with the shared
secret) and use ``webhook-id`` to drop a message they already have: our id is the delivery's
stable idempotency key, so a retry is recognised as the same message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook


def body(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def headers(secret: str, message_id: str, sent: datetime, data: str) -> dict[str, str]:
    """The three Standard Webhooks headers for one message. ``secret`` is "whsec_<base64>" or base64."""
    stamp = int(sent.timestamp())
    signer = Webhook(secret)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        # The library replaces the time zone with UTC instead of converting: hand it UTC.
        "webhook-signature": signer.sign(message_id, datetime.fromtimestamp(stamp, UTC), data),
        "content-type": "application/json",
    }
