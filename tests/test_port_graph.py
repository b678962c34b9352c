"""What Facebook, Instagram and Threads share of Meta's Graph API (adapters.port.graph): the
error body read alike, the wait a rate limit announces, the codes that mean the same on every
host, and a renewed token used only while the token it came from is still configured."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from adapters.facebook import classify
from adapters.instagram import graph_failure
from adapters.port import Credential, CredentialsError, DeliveryError, PermanentError, TransientError
from adapters.port.graph import (
    NOT_PERMITTED,
    TEMPORARY,
    THROTTLED_CODES,
    TOKEN_CODES,
    fingerprint,
    graph_error,
    is_fingerprint,
    regain_access,
)

EXPIRED = {
    "error": {
        "message": "Error validating access token: Session has expired on Friday, 20-Nov-26 09:00:00 PST.",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 463,
        "fbtrace_id": "AzQ3bUq1kTnV",
    }
}
UNKNOWN = {"error": {"message": "An unknown error has occurred.", "type": "OAuthException", "code": 1,
                     "is_transient": True, "fbtrace_id": "B7x"}}  # fmt: skip


def usage(*minutes: int) -> str:
    """X-Business-Use-Case-Usage: per business object, a list of use cases, each with its wait."""
    entries = [{"type": "pages", "call_count": 100, "total_cputime": 10, "total_time": 10,
                "estimated_time_to_regain_access": m} for m in minutes]  # fmt: skip
    return json.dumps({"1784": entries})


def throttled(code: int) -> dict[str, Any]:
    return {"error": {"message": "Application request limit reached", "type": "OAuthException", "code": code}}


# -- the error body ------------------------------------------------------------------------------


def test_an_expired_token_answer_is_read_with_its_codes_meta_s_words_and_trace_id() -> None:
    error = graph_error(EXPIRED)
    assert error is not None
    assert (error.code, error.subcode) == (190, 463)
    assert error.code in TOKEN_CODES, "an expired token is a token problem, whatever the message says"
    assert error.message.startswith("Error validating access token") and error.trace == "AzQ3bUq1kTnV"
    assert not error.transient


def test_the_words_meant_for_a_person_are_kept_beside_the_developer_s() -> None:
    error = graph_error({"error": {"message": "(#100) Invalid parameter", "code": 100,
                                   "error_user_msg": "The caption is too long."}})  # fmt: skip
    assert error is not None and error.user_message == "The caption is too long."
    assert error.message == "(#100) Invalid parameter"


def test_codes_sent_as_text_are_read_as_numbers() -> None:
    error = graph_error({"error": {"code": "190", "error_subcode": "460", "message": "password changed"}})
    assert error is not None and (error.code, error.subcode) == (190, 460)


@pytest.mark.parametrize(
    "body",
    [None, "<html>502 Bad Gateway</html>", {"error": "invalid_request"}, {"data": []}, ["error"]],
    ids=["no body", "a proxy's page", "OAuth's error string", "no error", "a list"],
)
def test_an_answer_without_graph_s_error_object_is_not_read_as_one(body: Any) -> None:
    assert graph_error(body) is None


def test_an_error_object_without_a_code_is_still_read_so_its_words_reach_the_reason() -> None:
    error = graph_error({"error": {"message": "Something went wrong", "fbtrace_id": "C1"}})
    assert error is not None and error.code is None and error.message == "Something went wrong"


def test_an_unknown_error_is_temporary_and_meta_says_so() -> None:
    error = graph_error(UNKNOWN)
    assert error is not None and error.code in TEMPORARY and error.transient


@pytest.mark.parametrize(
    ("code", "codes"),
    [(102, TOKEN_CODES), (190, TOKEN_CODES), (4, THROTTLED_CODES), (17, THROTTLED_CODES), (32, THROTTLED_CODES),
     (613, THROTTLED_CODES), (3, NOT_PERMITTED), (10, NOT_PERMITTED), (200, NOT_PERMITTED), (299, NOT_PERMITTED),
     (1, TEMPORARY), (2, TEMPORARY)],
)  # fmt: skip
def test_graph_s_common_codes_mean_one_thing_each(code: int, codes: frozenset[int]) -> None:
    groups = [TOKEN_CODES, THROTTLED_CODES, NOT_PERMITTED, TEMPORARY]
    assert [code in group for group in groups] == [group is codes for group in groups]


def test_a_validation_error_is_none_of_the_common_kinds() -> None:
    assert not any(100 in group for group in (TOKEN_CODES, THROTTLED_CODES, NOT_PERMITTED, TEMPORARY))


# -- how long a rate limit lasts -----------------------------------------------------------------


def test_a_rate_limit_waits_the_minutes_the_usage_header_announces() -> None:
    assert regain_access({"X-Business-Use-Case-Usage": usage(12)}) == 12 * 60


def test_the_longest_announced_wait_counts() -> None:
    page = json.dumps({"call_count": 100, "total_cputime": 4, "total_time": 4, "estimated_time_to_regain_access": 3})
    assert regain_access({"x-business-use-case-usage": usage(2, 9), "x-page-usage": page}) == 9 * 60


def test_a_page_s_own_usage_header_announces_its_wait_too() -> None:
    page = json.dumps({"call_count": 100, "total_cputime": 4, "total_time": 4, "estimated_time_to_regain_access": 7})
    assert regain_access({"X-Page-Usage": page}) == 7 * 60


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-business-use-case-usage": usage(0)}, {"X-App-Usage": '{"call_count": 80, "total_cputime": 2}'},
     {"x-business-use-case-usage": "not json"}, {"x-business-use-case-usage": '{"1784": [{"estimated_time_to'
     '_regain_access": "soon"}]}'}],
    ids=["no header", "no wait", "usage without a wait", "not JSON", "not a number"],
)  # fmt: skip
def test_usage_headers_that_announce_no_wait_say_nothing(headers: dict[str, str]) -> None:
    assert regain_access(headers) is None


def test_only_the_headers_a_platform_names_are_read() -> None:
    page = json.dumps({"call_count": 100, "total_cputime": 4, "total_time": 4, "estimated_time_to_regain_access": 7})
    assert regain_access({"x-page-usage": page}, ("x-business-use-case-usage",)) is None


# -- what the channels make of it ----------------------------------------------------------------

Classify = Callable[[int, dict[str, Any], dict[str, str]], DeliveryError]
CHANNELS: dict[str, Classify] = {
    "facebook": lambda status, body, headers: classify(status, graph_error(body), headers, "v27.0"),
    "instagram": lambda status, body, headers: graph_failure(status, body, headers, write=True),
}


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_an_expired_token_stops_the_channel_naming_meta_s_reason(channel: str) -> None:
    problem = CHANNELS[channel](400, EXPIRED, {})
    assert type(problem) is CredentialsError
    assert "190/463" in problem.reason and "Session has expired" in problem.reason


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_a_rate_limit_with_a_usage_header_waits_the_announced_minutes(channel: str) -> None:
    problem = CHANNELS[channel](403, throttled(4), {"X-Business-Use-Case-Usage": usage(5)})
    assert isinstance(problem, TransientError) and problem.retry_after == 5 * 60
    assert not problem.ambiguous, "a refused call posted nothing"


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_an_unknown_server_error_is_tried_again_after_looking_for_the_copy(channel: str) -> None:
    problem = CHANNELS[channel](500, UNKNOWN, {})
    assert isinstance(problem, TransientError) and problem.ambiguous


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_a_validation_error_is_refused_for_good(channel: str) -> None:
    problem = CHANNELS[channel](400, {"error": {"message": "(#100) Invalid parameter", "code": 100}}, {})
    assert type(problem) is PermanentError and "100" in problem.reason


# -- the configured token and the one renewed from it --------------------------------------------


def test_a_renewed_token_counts_while_the_token_it_came_from_is_configured() -> None:
    kept = Credential(fingerprint("EAAG-configured"))
    assert is_fingerprint(kept, "EAAG-configured")


def test_a_token_a_person_configures_later_wins_over_one_renewed_from_its_predecessor() -> None:
    kept = Credential(fingerprint("EAAG-old"))
    assert not is_fingerprint(kept, "EAAG-new")
    assert not is_fingerprint(None, "EAAG-new"), "nothing renewed yet"


def test_only_a_fingerprint_of_the_token_is_kept_at_the_length_the_channel_has_always_kept() -> None:
    short = fingerprint("EAAG-configured", 32)
    assert "EAAG" not in short and len(short) == 32 and fingerprint("EAAG-configured").startswith(short)
    assert is_fingerprint(Credential(short), "EAAG-configured", 32)
    assert not is_fingerprint(Credential(short), "EAAG-configured"), "the lengths must agree"
