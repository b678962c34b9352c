"""Logs: an auditor can read every line, and no line carries a secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from publisher.edges import logs
from publisher.edges.logs import REDACTED, redact, redact_secrets

API_TOKEN = "hrd_1a2b3c4d_Zx9-_AbCdEfGhIjKlMnOp"
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload-part_1.sig+na/ture="


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        pytest.param("token", "abc123", REDACTED, id="token"),
        pytest.param("access_token", "abc123", REDACTED, id="access_token"),
        pytest.param("client_secret", "abc123", REDACTED, id="client_secret"),
        pytest.param("webhook_secret", "abc123", REDACTED, id="webhook_secret"),
        pytest.param("password", "hunter2", REDACTED, id="password"),
        pytest.param("app_password", "hunter2", REDACTED, id="app_password"),
        pytest.param("Authorization", f"Bearer {BEARER}", REDACTED, id="Authorization-header"),
        pytest.param("api_key", "abc123", REDACTED, id="api_key"),
        pytest.param("TOKEN", "abc123", REDACTED, id="upper-case-key"),
        pytest.param("token", 12345, REDACTED, id="numeric-secret"),
        pytest.param("token_env", "HEROLD_MASTODON_TOKEN", "HEROLD_MASTODON_TOKEN", id="env-variable-name"),
        pytest.param("password_env", "HEROLD_SMTP_PASSWORD", "HEROLD_SMTP_PASSWORD", id="env-variable-name-2"),
        pytest.param("webhook_secret_env", "HEROLD_ONCALL", "HEROLD_ONCALL", id="env-variable-name-3"),
        pytest.param("token", "", "", id="empty-secret-shows-it-is-missing"),
        pytest.param("token", None, None, id="no-secret-shows-it-is-missing"),
        pytest.param("channel", "mastodon", "mastodon", id="ordinary-key"),
        pytest.param("attempt", 3, 3, id="ordinary-number"),
    ],
)
def test_values_under_secret_keys_are_redacted_but_names_of_env_variables_are_not(
    key: str, value: Any, shown: Any
) -> None:
    assert redact(value, key) == shown
    assert redact_secrets(None, "info", {key: value}) == {key: shown}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param(f"call with {API_TOKEN} refused", f"call with {REDACTED} refused", id="herold-api-token"),
        pytest.param("hrd_1A2B3C4D_xyz", REDACTED, id="herold-api-token-upper-case-hex"),
        pytest.param(f"Authorization: Bearer {BEARER}", f"Authorization: Bearer {REDACTED}", id="bearer-header"),
        pytest.param(f"sent bearer {BEARER} to host", f"sent bearer {REDACTED} to host", id="bearer-lower-case"),
        pytest.param(
            "GET /api/v1/timelines?access_token=s3cr3t&limit=5",
            f"GET /api/v1/timelines?access_token={REDACTED}&limit=5",
            id="access_token-parameter",
        ),
        pytest.param(
            "POST /oauth/token?refresh_token=r3fr3sh", f"POST /oauth/token?refresh_token={REDACTED}", id="refresh_token"
        ),
        pytest.param("GET /feed?token=s3cr3t", f"GET /feed?token={REDACTED}", id="token-parameter"),
        pytest.param(
            f"first {API_TOKEN}, then Bearer {BEARER}",
            f"first {REDACTED}, then Bearer {REDACTED}",
            id="two-secrets-in-one-text",
        ),
        pytest.param("posted to mastodon in 120 ms", "posted to mastodon in 120 ms", id="ordinary-text"),
        pytest.param("hrd_notatoken", "hrd_notatoken", id="not-an-api-token"),
    ],
)
def test_secrets_inside_free_text_are_redacted(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert redact(text, "event") == shown


def test_secrets_in_nested_structures_are_redacted() -> None:
    event = {
        "request": {
            "headers": {"Authorization": f"Bearer {BEARER}", "Accept": "application/json"},
            "url": "https://social.example/api/v1/statuses?access_token=s3cr3t",
        },
        "attempts": [{"password": "hunter2", "status": 401}, f"retry with {API_TOKEN}"],
        "pair": ("token=abc", 2),
        "channel": {"id": "mastodon", "token_env": "HEROLD_MASTODON_TOKEN"},
    }

    assert redact(event) == {
        "request": {
            "headers": {"Authorization": REDACTED, "Accept": "application/json"},
            "url": f"https://social.example/api/v1/statuses?access_token={REDACTED}",
        },
        "attempts": [{"password": REDACTED, "status": 401}, f"retry with {REDACTED}"],
        "pair": (f"token={REDACTED}", 2),
        "channel": {"id": "mastodon", "token_env": "HEROLD_MASTODON_TOKEN"},
    }


def test_a_whole_dictionary_under_a_secret_key_is_redacted() -> None:
    assert redact({"credentials_token": {"value": "abc"}}) == {"credentials_token": REDACTED}


# --- real log output ------------------------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    structlog.contextvars.clear_contextvars()
    logs.configure("warning", "console")


def production_logger() -> Any:
    """Herold's production logging (info, JSON lines on stderr). Configured inside the test itself,
    so that its lines go to the stderr that capsys captures for the test."""
    logs.configure("info", "json")
    return structlog.get_logger("herold.test")


def lines(capture: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    captured = capture.readouterr()
    assert captured.out == "", "logs go to stderr, never into command output"
    return [json.loads(line) for line in captured.err.splitlines()]


@pytest.mark.usefixtures("restore_logging")
def test_a_json_log_line_carries_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    production_logger().info(
        f"delivery failed for {API_TOKEN}",
        channel="mastodon",
        token="s3cr3t-mastodon-token",
        token_env="HEROLD_MASTODON_TOKEN",
        headers={"Authorization": f"Bearer {BEARER}"},
        url="https://social.example/api/v1/statuses?access_token=s3cr3t-query",
    )

    captured = capsys.readouterr()
    for secret in (API_TOKEN, "s3cr3t-mastodon-token", BEARER, "s3cr3t-query"):
        assert secret not in captured.err
    [line] = [json.loads(text) for text in captured.err.splitlines()]
    assert line["event"] == f"delivery failed for {REDACTED}"
    assert line["level"] == "info"
    assert line["channel"] == "mastodon"
    assert line["token"] == REDACTED
    assert line["token_env"] == "HEROLD_MASTODON_TOKEN"
    assert line["headers"] == {"Authorization": REDACTED}
    assert line["url"] == f"https://social.example/api/v1/statuses?access_token={REDACTED}"
    assert "timestamp" in line


@pytest.mark.usefixtures("restore_logging")
def test_a_secret_in_an_exception_traceback_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    log = production_logger()

    try:
        raise RuntimeError(f"401 Unauthorized for Bearer {BEARER}")
    except RuntimeError:
        log.exception("delivery failed")

    [line] = lines(capsys)
    assert BEARER not in json.dumps(line)
    assert f"RuntimeError: 401 Unauthorized for Bearer {REDACTED}" in line["exception"]


@pytest.mark.usefixtures("restore_logging")
def test_a_secret_bound_to_the_context_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    log = production_logger()
    structlog.contextvars.bind_contextvars(api_token="s3cr3t-context", request_id="r-17")

    log.warning("slow request")

    [line] = lines(capsys)
    assert line["api_token"] == REDACTED
    assert line["request_id"] == "r-17"
    assert line["level"] == "warning"


@pytest.mark.usefixtures("restore_logging")
def test_at_info_level_debug_lines_are_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    log = production_logger()

    log.debug("noise")
    log.info("published", channel="website")

    assert [line["event"] for line in lines(capsys)] == ["published"]
