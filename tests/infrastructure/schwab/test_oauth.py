"""The token endpoint: exact requests, the refresh rules, and every failure shape."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.infrastructure.providers.schwab.oauth import OAuthClient, describe_error_body
from dashtam_cli.infrastructure.providers.schwab.tokens import TokenSet
from tests.infrastructure.schwab.auth_fakes import (
    ACCESS,
    APP,
    AUTH_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    CODE,
    ENDPOINTS,
    NOW,
    REFRESH,
    TOKEN_URL,
    token_body,
)

# The observed dead-refresh-token answer: JSON inside the error_description string.
DEAD_REFRESH_BODY = {
    "error": "unsupported_token_type",
    "error_description": (
        '400 Bad Request: "{\\"error_description\\":\\"Exception while authenticating refresh '
        "token [tokenDigest=DIGESTvalue000000000000000000000000000000000=, Exception=Failed "
        "refresh token authentication [tokenDigest=DIGESTvalue000000000000000000000000000000000=]]"
        '\\",\\"error\\":\\"refresh_token_authentication_error\\"}"'
    ),
}
AKAMAI_403 = (
    "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n"
    "You don't have permission to access this server.<P>\n</BODY>\n</HTML>\n"
)


def value[T](result: Result[T]) -> T:
    assert isinstance(result, Success), result
    return result.value


def error(result: Result[Any]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


class Sleeps:
    """Records the retry delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(sleeps: Sleeps) -> AsyncIterator[OAuthClient]:
    oauth = OAuthClient(app=APP, endpoints=ENDPOINTS, sleep=sleeps)
    yield oauth
    await oauth.aclose()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def tokens() -> TokenSet:
    return TokenSet(
        access_token=ACCESS,
        refresh_token=REFRESH,
        access_expires_at=NOW + timedelta(minutes=30),
        refresh_expires_at=NOW + timedelta(days=7),
        obtained_at=NOW,
    )


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode(), keep_blank_values=True)


def basic(request: httpx.Request) -> str:
    scheme, _, credentials = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(credentials).decode()


def everything(failure: DomainError) -> str:
    return f"{failure.message} {failure.hint} {dict(failure.details)}"


# =========================================================================== authorize URL


def test_authorize_url_carries_the_four_parameters() -> None:
    oauth = OAuthClient(app=APP, endpoints=ENDPOINTS)

    url = oauth.authorize_url(redirect_uri="https://127.0.0.1:8182/cb", state="st-123_x")

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTH_URL + "/authorize"
    assert parse_qs(parts.query) == {
        "client_id": [CLIENT_ID],
        "redirect_uri": ["https://127.0.0.1:8182/cb"],
        "response_type": ["code"],
        "state": ["st-123_x"],
    }
    assert CLIENT_SECRET not in url


# =========================================================================== code exchange


async def test_code_exchange_sends_the_exact_request(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    route = mock.post(TOKEN_URL).respond(200, json=token_body())

    got = value(await client.exchange_code(CODE, redirect_uri="https://127.0.0.1:8182", now=NOW))

    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    assert basic(request) == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json"
    assert form(request) == {
        "grant_type": ["authorization_code"],
        "code": [CODE],
        "redirect_uri": ["https://127.0.0.1:8182"],
    }
    assert CLIENT_SECRET.encode() not in request.content
    assert got.access_token == ACCESS
    assert got.refresh_token == REFRESH
    assert got.obtained_at == NOW
    assert got.access_expires_at == NOW + timedelta(seconds=1800)
    assert got.refresh_expires_at == NOW + timedelta(days=7)
    assert got.refreshed_at is None


async def test_a_still_encoded_code_is_decoded_once(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    route = mock.post(TOKEN_URL).respond(200, json=token_body())

    value(await client.exchange_code("C0.abc.def%40", redirect_uri="https://x", now=NOW))

    assert form(route.calls.last.request)["code"] == ["C0.abc.def@"]


async def test_an_empty_code_is_never_sent(client: OAuthClient, mock: respx.MockRouter) -> None:
    route = mock.post(TOKEN_URL).respond(200, json=token_body())

    failure = error(await client.exchange_code("  ", redirect_uri="https://x", now=NOW))

    assert failure.code is ErrorCode.OAUTH_FAILED
    assert route.call_count == 0


async def test_a_refused_code_is_oauth_failed_once_with_schwabs_text(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    route = mock.post(TOKEN_URL).respond(
        400,
        json={"error": "invalid_grant", "error_description": f"bad code {CODE}"},
        headers={"Schwab-Client-CorrelId": "corr-1"},
    )

    failure = error(await client.exchange_code(CODE, redirect_uri="https://x", now=NOW))

    assert route.call_count == 1, "a code is single-use: never re-sent once answered"
    assert failure.code is ErrorCode.OAUTH_FAILED
    assert "invalid_grant" in failure.message
    assert "bad code" in failure.message
    assert CODE not in everything(failure), "the code is redacted from Schwab's echo"
    assert "30 seconds" in (failure.hint or "")
    assert failure.details["correlation_id"] == "corr-1"
    assert failure.details["status"] == "400"


async def test_a_refused_client_points_at_the_app_key_and_secret(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    mock.post(TOKEN_URL).respond(
        401, json={"error": "invalid_client", "error_description": "client authentication"}
    )

    failure = error(await client.exchange_code(CODE, redirect_uri="https://x", now=NOW))

    assert failure.code is ErrorCode.OAUTH_FAILED
    assert "DASHTAM_SCHWAB_CLIENT_SECRET" in (failure.hint or "")


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_on_exchange_is_not_retried(
    client: OAuthClient, mock: respx.MockRouter, status: int
) -> None:
    route = mock.post(TOKEN_URL).respond(status, text="upstream trouble")

    failure = error(await client.exchange_code(CODE, redirect_uri="https://x", now=NOW))

    assert failure.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert route.call_count == 1


async def test_an_exchange_that_could_not_connect_is_tried_once_more(
    client: OAuthClient, mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = mock.post(TOKEN_URL).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=token_body())]
    )

    value(await client.exchange_code(CODE, redirect_uri="https://x", now=NOW))

    assert route.call_count == 2
    assert len(sleeps.delays) == 1


async def test_an_exchange_that_timed_out_is_not_resent(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    route = mock.post(TOKEN_URL).mock(side_effect=httpx.ReadTimeout("slow"))

    failure = error(await client.exchange_code(CODE, redirect_uri="https://x", now=NOW))

    assert failure.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert failure.details["error_type"] == "ReadTimeout"
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"<html>ok</html>", "not JSON"),
        (b'{"access_token": "a", "expires_in": NaN, "refresh_token": "r"}', "not JSON"),
        (b'["a"]', "not a JSON object"),
        (b'{"expires_in": 1800, "refresh_token": "r"}', "no access_token"),
        (b'{"access_token": "a", "refresh_token": "r", "expires_in": "1800"}', "expires_in"),
        (b'{"access_token": "a", "refresh_token": "r", "expires_in": true}', "expires_in"),
        (b'{"access_token": "a", "refresh_token": "r", "token_type": "mac"}', "Bearer"),
        (b'{"access_token": "a", "expires_in": 1800}', "no refresh_token"),
    ],
)
async def test_unusable_success_bodies_are_provider_data_invalid(
    client: OAuthClient, mock: respx.MockRouter, content: bytes, problem: str
) -> None:
    mock.post(TOKEN_URL).respond(200, content=content)

    failure = error(await client.exchange_code(CODE, redirect_uri="https://x", now=NOW))

    assert failure.code is ErrorCode.PROVIDER_DATA_INVALID
    assert problem in failure.message


async def test_a_missing_expires_in_means_thirty_minutes(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    mock.post(TOKEN_URL).respond(200, json={"access_token": "a", "refresh_token": "r"})

    got = value(await client.exchange_code(CODE, redirect_uri="https://x", now=NOW))

    assert got.access_expires_at == NOW + timedelta(minutes=30)


# =========================================================================== refresh


async def test_refresh_sends_the_exact_request_and_keeps_the_login_expiry(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    route = mock.post(TOKEN_URL).respond(
        200, json=token_body(access="I0.ACCESS-two@", refresh="R0.REFRESH-two@")
    )
    later = NOW + timedelta(days=2, hours=3)

    got = value(await client.refresh(tokens(), now=later))

    request = route.calls.last.request
    assert basic(request) == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert form(request) == {"grant_type": ["refresh_token"], "refresh_token": [REFRESH]}
    assert CLIENT_SECRET.encode() not in request.content
    assert got.access_token == "I0.ACCESS-two@"
    assert got.refresh_token == "R0.REFRESH-two@"
    assert got.access_expires_at == later + timedelta(seconds=1800)
    assert got.refresh_expires_at == NOW + timedelta(days=7), "a refresh never extends the login"
    assert got.obtained_at == NOW
    assert got.refreshed_at == later


async def test_a_refresh_without_refresh_token_keeps_the_old_one(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    mock.post(TOKEN_URL).respond(200, json=token_body(access="I0.new@", refresh=None))

    got = value(await client.refresh(tokens(), now=NOW + timedelta(hours=1)))

    assert got.access_token == "I0.new@"
    assert got.refresh_token == REFRESH
    assert got.refresh_expires_at == NOW + timedelta(days=7)


async def test_the_json_in_a_string_refusal_means_reauth_required(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    route = mock.post(TOKEN_URL).respond(
        400, json=DEAD_REFRESH_BODY, headers={"Schwab-Client-CorrelId": "corr-9"}
    )

    with capture_logs() as logs:
        failure = error(await client.refresh(tokens(), now=NOW, alias="my schwab"))

    assert route.call_count == 1, "a refused refresh is not retried"
    assert failure.code is ErrorCode.REAUTH_REQUIRED
    assert "expired" in failure.message
    assert "refresh_token_authentication_error" in failure.message, "the inner error wins"
    assert "Exception while authenticating refresh token" in failure.message
    assert "DIGESTvalue" not in everything(failure)
    assert failure.hint == "dashtam providers connect schwab --alias 'my schwab'"
    assert failure.details["error"] == "refresh_token_authentication_error"
    assert failure.details["correlation_id"] == "corr-9"
    logged = json.dumps(logs, default=str)
    assert REFRESH not in logged
    assert CLIENT_SECRET not in logged
    assert "corr-9" in logged


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": "invalid_client", "error_description": "refresh token invalid"}),
        (400, {"error": "invalid_grant"}),
        (403, {"message": "Forbidden"}),
        (404, {"errors": [{"status": "404", "title": "Not Found", "detail": "gone"}]}),
    ],
)
async def test_any_other_4xx_from_refresh_means_reauth_required(
    client: OAuthClient, mock: respx.MockRouter, status: int, body: dict[str, Any]
) -> None:
    route = mock.post(TOKEN_URL).respond(status, json=body)

    failure = error(await client.refresh(tokens(), now=NOW))

    assert failure.code is ErrorCode.REAUTH_REQUIRED
    assert failure.hint == "dashtam providers connect schwab"
    assert route.call_count == 1


async def test_refresh_retries_server_errors_with_backoff(
    client: OAuthClient, mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = mock.post(TOKEN_URL).mock(
        side_effect=[
            httpx.Response(503, text="busy"),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json=token_body(access="I0.after-retry@")),
        ]
    )

    got = value(await client.refresh(tokens(), now=NOW))

    assert got.access_token == "I0.after-retry@"
    assert route.call_count == 3
    assert sleeps.delays == [1.0, 2.0]


async def test_refresh_gives_up_after_the_attempts_as_unavailable(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    route = mock.post(TOKEN_URL).respond(
        502, json={"fault": {"faultstring": "Bad gateway", "detail": {}}}
    )

    failure = error(await client.refresh(tokens(), now=NOW))

    assert failure.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "Bad gateway" in failure.message
    assert route.call_count == 3


async def test_throttling_is_retried_honouring_retry_after_then_rate_limited(
    client: OAuthClient, mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = mock.post(TOKEN_URL).respond(429, headers={"Retry-After": "7"}, text="slow down")

    failure = error(await client.refresh(tokens(), now=NOW))

    assert failure.code is ErrorCode.PROVIDER_RATE_LIMITED, "throttling is not a dead login"
    assert route.call_count == 3
    assert sleeps.delays == [7.0, 7.0]


async def test_an_edge_html_403_is_transient_not_a_dead_login(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    route = mock.post(TOKEN_URL).respond(
        403, text=AKAMAI_403, headers={"Content-Type": "text/html"}
    )

    failure = error(await client.refresh(tokens(), now=NOW))

    assert failure.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "Access Denied" in failure.message
    assert route.call_count == 3


async def test_network_failures_on_refresh_end_unavailable(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    route = mock.post(TOKEN_URL).mock(side_effect=httpx.ConnectError("no route"))

    failure = error(await client.refresh(tokens(), now=NOW))

    assert failure.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert route.call_count == 3


async def test_secrets_echoed_by_schwab_are_redacted(
    client: OAuthClient, mock: respx.MockRouter
) -> None:
    mock.post(TOKEN_URL).respond(
        400,
        json={
            "error": "invalid_request",
            "error_description": f"got {REFRESH} with {CLIENT_SECRET} and {CLIENT_ID}",
        },
    )

    failure = error(await client.refresh(tokens(), now=NOW))

    text = everything(failure)
    for secret in (REFRESH, CLIENT_SECRET, CLIENT_ID, ACCESS):
        assert secret not in text


async def test_the_client_repr_hides_the_app() -> None:
    oauth = OAuthClient(app=APP, endpoints=ENDPOINTS)
    try:
        assert CLIENT_SECRET not in repr(oauth)
        assert CLIENT_ID not in repr(oauth)
    finally:
        await oauth.aclose()


# =========================================================================== error bodies


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(400, json=DEAD_REFRESH_BODY),
            ("refresh_token_authentication_error", "Exception while authenticating"),
        ),
        (
            httpx.Response(400, json={"error": "invalid_grant", "error_description": "expired"}),
            ("invalid_grant", "expired"),
        ),
        (
            httpx.Response(400, json={"message": "Bad Request", "errors": ["types: empty"]}),
            (None, "Bad Request: types: empty"),
        ),
        (
            httpx.Response(401, json={"errors": [{"status": 401, "detail": "Client not auth"}]}),
            (None, "Client not auth"),
        ),
        (
            httpx.Response(500, json={"fault": {"faultstring": "Body buffer overflow"}}),
            (None, "Body buffer overflow"),
        ),
        (
            httpx.Response(403, text=AKAMAI_403, headers={"Content-Type": "text/html"}),
            (None, "Access Denied"),
        ),
        (
            httpx.Response(404, text="404 Not Found:  route\n gone"),
            (None, "404 Not Found: route gone"),
        ),
    ],
)
def test_every_error_body_shape_is_described(
    response: httpx.Response, expected: tuple[str | None, str]
) -> None:
    got_error, got_description = describe_error_body(response)

    assert got_error == expected[0]
    assert expected[1] in got_description
