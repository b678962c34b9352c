"""No silent failure: people on call hear about what needs them, within a minute.

An alarm (a delivery that failed for good or ran out of time, a post nobody can confirm, a
channel whose credentials were refused) becomes one notification per on-call contact of the
authority: an e-mail over SMTP and/or a signed webhook (Standard Webhooks). Notifications are
stored first (an outbox) and sent by a task; the sweep sends again what could not be sent.
The same cause never notifies the same contact twice.
"""

from __future__ import annotations

import smtplib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import requests
import structlog

from adapters.port import signing
from publisher.engine.engine import Engine
from publisher.engine.schema import NotificationRow
from publisher.engine.settings import ONCALL

log = structlog.get_logger("herold.oncall")

GIVE_UP_AFTER = 15  # attempts (more than an hour with the backoff below); then it is logged as lost
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Alarm:
    authority: str
    cause: str  # what makes two alarms the same one, e.g. "delivery:<id>:failed"
    subject: str
    text: str
    detail: dict[str, Any] = field(default_factory=dict)
    announcement_id: str | None = None
    channel: str | None = None


def raise_alarm(engine: Engine, alarm: Alarm) -> list[str]:
    """Queue the alarm for every on-call contact of its authority; returns new notification ids."""
    contacts = engine.authority(alarm.authority).oncall
    now = engine.clock()
    targets = [("email", address) for address in contacts.emails]
    if contacts.webhook_url:
        targets.append(("webhook", contacts.webhook_url))
    if not targets:
        log.error(
            "alarm with nobody on call to tell", authority=alarm.authority, subject=alarm.subject, text=alarm.text
        )
        return []
    rows = [
        NotificationRow(
            id=str(uuid.uuid4()), authority=alarm.authority, announcement_id=alarm.announcement_id,
            channel=alarm.channel, medium=medium, target=target, subject=alarm.subject, body=alarm.text,
            payload=alarm.detail, dedupe_key=f"{alarm.cause}|{medium}:{target}"[:300], state="pending",
            attempts=0, next_attempt_at=now, created_at=now,
        )
        for medium, target in targets
    ]  # fmt: skip
    added = engine.store.notifications.add(rows)
    for notification_id in added:
        engine.submit("notify", notification_id, kind="warning")
    return added


def send(engine: Engine, notification_id: str) -> None:
    now = engine.clock()
    notification = engine.store.notifications.claim(notification_id, now, LEASE)
    if notification is None:
        return
    try:
        if notification.medium == "email":
            _email(engine, notification)
        else:
            _webhook(engine, notification)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        retry = notification.attempts < GIVE_UP_AFTER
        base = engine.runtime.retry_base_seconds
        delay = min(600.0, base * 2 ** (notification.attempts - 1))
        engine.store.notifications.failed(notification.id, reason, now + timedelta(seconds=delay) if retry else None)
        (log.warning if retry else log.error)(
            "on-call notification not sent", notification=notification.id, medium=notification.medium,
            target=notification.target, attempt=notification.attempts, reason=reason, will_retry=retry,
        )  # fmt: skip
        if retry:
            engine.submit("notify", notification.id, kind="warning", delay=delay)
        return
    engine.store.notifications.sent(notification.id, engine.clock())
    log.info("on-call notified", notification=notification.id, medium=notification.medium, target=notification.target)


def _email(engine: Engine, notification: NotificationRow) -> None:
    runtime = engine.runtime
    assert runtime.smtp_host, "checked at start: e-mail contacts need smtp_host"
    message = EmailMessage()
    message["From"] = runtime.smtp_from
    message["To"] = notification.target
    message["Subject"] = " ".join(notification.subject.split())  # a header is one line
    message["Message-ID"] = f"<{notification.id}@herold>"  # the same notification is recognised as such
    message.set_content(notification.body)
    with smtplib.SMTP(runtime.smtp_host, runtime.smtp_port, timeout=runtime.http_read_timeout) as smtp:
        if runtime.smtp_starttls:
            smtp.starttls()
        if runtime.smtp_user:
            smtp.login(runtime.smtp_user, engine.settings.secret("herold", "smtp", "password"))
        smtp.send_message(message)


def _webhook(engine: Engine, notification: NotificationRow) -> None:
    runtime = engine.runtime
    payload = {
        "type": "herold.alarm",
        "timestamp": notification.created_at.isoformat(),
        "data": {"subject": notification.subject, "text": notification.body, **notification.payload},
    }
    data = signing.body(payload)
    secret = engine.settings.secret(notification.authority, ONCALL, "webhook_secret")
    response = engine.http.post(
        notification.target, data=data.encode(), headers=signing.headers(secret, notification.id, engine.clock(), data),
        timeout=(runtime.http_connect_timeout, runtime.http_read_timeout), allow_redirects=False,
    )  # fmt: skip
    if not 200 <= response.status_code < 300:
        raise requests.HTTPError(f"the on-call webhook answered {response.status_code}")


def resend_due(engine: Engine, now: datetime) -> None:
    for notification_id in engine.store.notifications.due(now):
        engine.submit("notify", notification_id, kind="warning")
