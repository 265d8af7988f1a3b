"""Every Schwab error body shape is parsed to a stable code, and never leaks a secret."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashtam_cli.domain.errors import ErrorCode
from dashtam_cli.infrastructure.providers.schwab.errors import (
    MAX_MESSAGE_CHARS,
    ErrorReason,
    classify,
    correlation_id,
    error_from_response,
    is_retryable,
    is_transient_once,
    parse_error_body,
    reconnect_hint,
    redact_secrets,
)
from tests.infrastructure.schwab.api_fakes import ACCESS_TOKEN, load_fixture

CASES: list[dict[str, Any]] = load_fixture("errors.json")
TOKENS = load_fixture("token.json")
SECRETS = (
    ACCESS_TOKEN,
    TOKENS["access_token"],
    TOKENS["refresh_token"],
    TOKENS["id_token"],
    "FAKEdigest0000000000000000000000000000000000",
)
CORRELATION = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

# What each fixture case becomes when it is the final answer of a Trader API call.
EXPECTED: dict[str, tuple[ErrorCode, ErrorReason | None, str]] = {
    "trader_400_invalid_account_number": (
        ErrorCode.PROVIDER_ERROR,
        None,
        "Invalid account number",
    ),
    "trader_400_bad_date_format": (
        ErrorCode.PROVIDER_ERROR,
        None,
        "'2026-06-01T00:00:00+00:00' is not a valid value for startDate",
    ),
    "trader_400_spec_service_error": (
        ErrorCode.PROVIDER_ERROR,
        None,
        "Bad Request; types: must not be empty",
    ),
    "trader_401_client_not_authorized": (
        ErrorCode.TOKEN_REVOKED,
        None,
        "Unauthorized: Client not authorized",
    ),
    "marketdata_400_json_api": (
        ErrorCode.PROVIDER_ERROR,
        None,
        "Bad Request: Missing header (header Authorization)",
    ),
    "trader_429_too_many_requests": (
        ErrorCode.PROVIDER_RATE_LIMITED,
        None,
        "Too Many Requests: Rate limit exceeded",
    ),
    "oauth_refresh_token_rejected": (
        ErrorCode.PROVIDER_ERROR,
        None,
        "unsupported_token_type: 400 Bad Request; refresh_token_authentication_error: "
        "Exception while authenticating refresh token",
    ),
    "oauth_invalid_client": (
        ErrorCode.TOKEN_REVOKED,
        None,
        "invalid_client: refresh token invalid",
    ),
    "gateway_404_route_missing": (
        ErrorCode.PROVIDER_UNAVAILABLE,
        ErrorReason.GATEWAY_ROUTE_MISSING,
        "404 Not Found: Requested route ('traderapi-accounts.apigx-origin.schwab.com') "
        "does not exist.",
    ),
    "edge_403_access_denied_html": (
        ErrorCode.PROVIDER_ERROR,
        ErrorReason.EDGE_ACCESS_DENIED,
        "Access Denied",
    ),
    "apigee_body_too_big": (
        ErrorCode.PROVIDER_ERROR,
        ErrorReason.BODY_TOO_BIG,
        "Body buffer overflow (protocol.http.TooBigBody)",
    ),
}


def body_bytes(case: dict[str, Any]) -> bytes:
    """The fixture body as the server would send it."""
    body = case["body"]
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


def test_every_fixture_case_has_an_expectation() -> None:
    assert {case["name"] for case in CASES} == set(EXPECTED)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_fixture_bodies_parse_to_a_stable_code(case: dict[str, Any]) -> None:
    code, reason, message = EXPECTED[case["name"]]
    status = case["http_status"]

    body = parse_error_body(status, body_bytes(case), case["content_type"])
    error = error_from_response(
        endpoint="transactions", status=status, body=body, correlation=CORRELATION
    )

    assert body.reason is reason
    assert body.message.startswith(message)
    assert classify(status, body) is code
    assert error.code is code
    assert error.details["correlation_id"] == CORRELATION
    assert error.details["status"] == str(status)
    assert error.details["endpoint"] == "transactions"
    if reason is not None:
        assert error.details["reason"] == reason.value
    assert len(body.message) <= MAX_MESSAGE_CHARS
    text = error.message + (error.hint or "") + json.dumps(dict(error.details))
    for secret in SECRETS:
        assert secret not in text


def test_the_nested_refresh_error_hides_its_token_digest() -> None:
    case = next(c for c in CASES if c["name"] == "oauth_refresh_token_rejected")
    body = parse_error_body(400, body_bytes(case), "application/json")
    assert "tokenDigest=[REDACTED]" in body.message
    assert "FAKEdigest" not in body.message


def test_retry_classes() -> None:
    plain = parse_error_body(503, b"", None)
    too_big = parse_error_body(500, b'{"fault":{"detail":{"errorcode":"x.TooBigBody"}}}', None)
    gateway = parse_error_body(404, b"404 Not Found: Requested route ('x') does not exist.", None)
    html = parse_error_body(403, b"<HTML><TITLE>Access Denied</TITLE></HTML>", "text/html")
    assert is_retryable(429, plain)
    assert is_retryable(503, plain)
    assert is_retryable(500, plain)
    assert not is_retryable(500, too_big)
    assert not is_retryable(400, plain)
    assert not is_retryable(404, gateway)
    assert is_transient_once(404, gateway)
    assert is_transient_once(403, html)
    assert not is_transient_once(404, parse_error_body(404, b'{"message":"Not found"}', None))
    assert not is_transient_once(400, plain)


def test_no_api_product_gets_its_own_message_and_hint() -> None:
    body = parse_error_body(
        401,
        b"keymanagement.service.InvalidAPICallAsNoApiProductMatchFound: Invalid API call",
        "text/plain",
    )
    error = error_from_response(endpoint="accounts", status=401, body=body, correlation=None)
    assert body.reason is ErrorReason.NO_API_PRODUCT
    assert error.code is ErrorCode.PROVIDER_ERROR
    assert "Accounts and Trading" in (error.hint or "")
    assert "correlation_id" not in error.details


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"message": f"bad header Authorization: Bearer {ACCESS_TOKEN}"}).encode(),
        json.dumps({"errors": [f"token {ACCESS_TOKEN} expired"]}).encode(),
        json.dumps({"errors": [{"title": "Unauthorized", "detail": ACCESS_TOKEN}]}).encode(),
        json.dumps(
            {"error": "invalid_grant", "error_description": TOKENS["refresh_token"]}
        ).encode(),
        json.dumps({"message": "echo", "access_token": TOKENS["access_token"]}).encode(),
        json.dumps({"message": f'{{"refresh_token": "{TOKENS["refresh_token"]}"}}'}).encode(),
        f"<html><title>Error</title><body>{TOKENS['id_token']}</body></html>".encode(),
        f"Unauthorized for Bearer {ACCESS_TOKEN}".encode(),
        f"access_token={ACCESS_TOKEN}&refresh_token={TOKENS['refresh_token']}".encode(),
        f"id_token: {TOKENS['id_token']}".encode(),
        json.dumps([{"message": ACCESS_TOKEN}]).encode(),
        (f"{'x' * 190} {ACCESS_TOKEN}").encode(),
    ],
)
def test_echoed_secrets_never_survive(content: bytes) -> None:
    for status in (400, 401, 403, 500):
        body = parse_error_body(status, content, None)
        error = error_from_response(endpoint="accounts", status=status, body=body, correlation=None)
        text = error.message + json.dumps(dict(error.details))
        for secret in SECRETS:
            assert secret not in text
            assert secret[:24] not in text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("request 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9 failed", CORRELATION),
        ("Requested route ('traderapi-accounts.apigx-origin.schwab.com')", "apigx-origin"),
        ("'2026-06-01T00:00:00+00:00' is not a valid value", "2026-06-01T00:00:00+00:00"),
        ("refresh_token_authentication_error", "refresh_token_authentication_error"),
        ("types: must not be empty", "types: must not be empty"),
    ],
)
def test_redaction_keeps_harmless_text(text: str, kept: str) -> None:
    assert kept in redact_secrets(text)


def test_redaction_masks_account_numbers() -> None:
    assert redact_secrets("account 90000017 is closed") == "account ****0017 is closed"


def test_redaction_is_idempotent() -> None:
    once = redact_secrets(f"Bearer {ACCESS_TOKEN} tokenDigest=abc123 id 90000017")
    assert redact_secrets(once) == once


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe\x00garbage", b"{not json", b"[1, 2", b"null", b"42", b'"just a string"'],
)
def test_odd_bodies_never_raise(content: bytes) -> None:
    body = parse_error_body(502, content, "application/json")
    error = error_from_response(endpoint="accounts", status=502, body=body, correlation=None)
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "HTTP 502" in error.message


def test_correlation_id_header_is_found_case_insensitively() -> None:
    assert correlation_id({"schwab-client-correlid": CORRELATION}) == CORRELATION
    assert correlation_id({"Schwab-Client-CorrelId": f"Bearer {ACCESS_TOKEN}"}) == (
        "Bearer [REDACTED]"
    )
    assert correlation_id({"Content-Type": "text/plain"}) is None


def test_reconnect_hint_names_the_exact_command() -> None:
    assert reconnect_hint("schwab") == "dashtam providers connect schwab --alias schwab"
    assert reconnect_hint("my joint") == "dashtam providers connect schwab --alias 'my joint'"
