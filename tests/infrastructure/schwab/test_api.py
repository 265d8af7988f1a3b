"""The Trader API client: exact requests, retries, the request budget, 401 handling, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from dashtam_cli.domain.errors import ErrorCode, Failure, Success, fail
from dashtam_cli.infrastructure.providers.schwab.api import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    RequestBudget,
    RetryPolicy,
    TraderApi,
    retry_after_seconds,
)
from dashtam_cli.infrastructure.providers.schwab.errors import TRANSACTION_TYPES
from tests.infrastructure.schwab.api_fakes import (
    ACCESS_TOKEN,
    BASE_URL,
    REFRESHED_TOKEN,
    FakeClock,
    FakeTokens,
    fixture_bytes,
    load_fixture,
)

HASH = load_fixture("accounts_numbers.json")[0]["hashValue"]
CORRELATION = "5d8a4f1e-2b3c-4d5e-8f90-a1b2c3d4e5f6"
JSON = {"Content-Type": "application/json", "Schwab-Client-CorrelId": CORRELATION}
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def ok_json(content: bytes = b"[]", status: int = 200) -> httpx.Response:
    """A JSON response carrying a correlation id."""
    return httpx.Response(status, content=content, headers=JSON)


def error(status: int, body: object = None, **headers: str) -> httpx.Response:
    """An error response (JSON body when given)."""
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={**JSON, **headers})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


def make_api(tokens: FakeTokens, clock: FakeClock, **kwargs: Any) -> TraderApi:
    """A client on the test base URL whose sleeps and clocks are fake."""
    options: dict[str, Any] = {
        "sleep": clock.sleep,
        "monotonic": clock.monotonic,
        "random": lambda: 0.5,
        "now": lambda: NOW,
    }
    options.update(kwargs)
    return TraderApi(base_url=BASE_URL, tokens=tokens, **options)


@pytest.fixture
async def api(tokens: FakeTokens, clock: FakeClock) -> AsyncIterator[TraderApi]:
    client = make_api(tokens, clock)
    yield client
    await client.aclose()


@pytest.fixture
def schwab() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


def assert_standard_headers(request: httpx.Request, token: str = ACCESS_TOKEN) -> None:
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert request.headers["Accept"] == "application/json"


# ----------------------------------------------------------------------------- exact requests


async def test_account_numbers_request_and_response(
    api: TraderApi, schwab: respx.MockRouter
) -> None:
    route = schwab.get("/accounts/accountNumbers").mock(
        return_value=ok_json(fixture_bytes("accounts_numbers.json"))
    )

    result = await api.account_numbers()

    assert isinstance(result, Success)
    assert next(item["hashValue"] for item in result.value) == HASH
    request = route.calls.last.request
    assert_standard_headers(request)
    assert request.url.path == "/trader/v1/accounts/accountNumbers"
    assert not request.url.params


async def test_accounts_asks_for_positions_and_parses_decimals(
    api: TraderApi, schwab: respx.MockRouter
) -> None:
    route = schwab.get("/accounts").mock(return_value=ok_json(fixture_bytes("accounts.json")))

    result = await api.accounts()

    assert isinstance(result, Success)
    request = route.calls.last.request
    assert_standard_headers(request)
    assert request.url.path == "/trader/v1/accounts"
    assert dict(request.url.params) == {"fields": "positions"}
    balances = result.value[0]["securitiesAccount"]["currentBalances"]
    assert balances["liquidationValue"] == Decimal("9637.5")
    assert type(balances["liquidationValue"]) is Decimal
    assert str(result.value[1]["securitiesAccount"]["positions"][1]["longQuantity"]) == "101.234"


async def test_transactions_request_is_exact(api: TraderApi, schwab: respx.MockRouter) -> None:
    route = schwab.get(f"/accounts/{HASH}/transactions").mock(
        return_value=ok_json(fixture_bytes("transactions.json"))
    )
    eastern = timezone(timedelta(hours=-5))

    result = await api.transactions(
        HASH,
        datetime(2026, 1, 1, tzinfo=eastern),
        datetime(2026, 6, 30, 23, 59, 59, 999_000, tzinfo=UTC),
    )

    assert isinstance(result, Success)
    assert len(result.value) == 14
    request = route.calls.last.request
    assert_standard_headers(request)
    assert request.url.path == f"/trader/v1/accounts/{HASH}/transactions"
    params = request.url.params
    assert sorted(params.keys()) == ["endDate", "startDate", "types"]
    assert params["startDate"] == "2026-01-01T05:00:00.000Z"
    assert params["endDate"] == "2026-06-30T23:59:59.999Z"
    types = params["types"].split(",")
    assert types == list(TRANSACTION_TYPES)
    assert len(set(types)) == 15
    assert "90000017" not in str(request.url)


async def test_transactions_refuse_naive_datetimes(api: TraderApi) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await api.transactions(HASH, datetime(2026, 1, 1), datetime(2026, 2, 1, tzinfo=UTC))


async def test_timeouts_are_connect_10_read_60(api: TraderApi, schwab: respx.MockRouter) -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok_json()

    schwab.get("/accounts/accountNumbers").mock(side_effect=handler)
    await api.account_numbers()
    assert seen[0]["connect"] == CONNECT_TIMEOUT == 10.0
    assert seen[0]["read"] == READ_TIMEOUT == 60.0


@pytest.mark.parametrize(
    ("payload", "expected_accounts"),
    [
        ({"accounts": [{"accountNumber": "1", "nickName": "A"}]}, 1),
        ([{"accounts": [{"accountNumber": "1"}]}], 1),
        ([{"accounts": [{"accountNumber": "1"}]}, {"accounts": [{"accountNumber": "2"}]}], 2),
        ([], 0),
    ],
)
async def test_user_preference_accepts_object_or_array(
    api: TraderApi, schwab: respx.MockRouter, payload: object, expected_accounts: int
) -> None:
    route = schwab.get("/userPreference").mock(return_value=ok_json(json.dumps(payload).encode()))

    result = await api.user_preference()

    assert isinstance(result, Success)
    assert len(result.value.get("accounts", [])) == expected_accounts
    assert_standard_headers(route.calls.last.request)


async def test_user_preference_fixture(api: TraderApi, schwab: respx.MockRouter) -> None:
    schwab.get("/userPreference").mock(return_value=ok_json(fixture_bytes("user_preference.json")))
    result = await api.user_preference()
    assert isinstance(result, Success)
    assert result.value["accounts"][1]["nickName"] == "Rollover IRA"


@pytest.mark.parametrize(
    ("path", "call", "content"),
    [
        ("/accounts", "accounts", b'{"securitiesAccount": {}}'),
        ("/accounts", "accounts", b"[1, 2]"),
        ("/accounts/accountNumbers", "account_numbers", b'"nope"'),
        ("/userPreference", "user_preference", b"42"),
        ("/userPreference", "user_preference", b"[1]"),
        ("/accounts", "accounts", b"<html>maintenance</html>"),
        ("/accounts", "accounts", b""),
    ],
)
async def test_wrong_shapes_are_provider_data_invalid(
    api: TraderApi, schwab: respx.MockRouter, path: str, call: str, content: bytes
) -> None:
    schwab.get(path).mock(return_value=ok_json(content))
    result = await getattr(api, call)()
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.PROVIDER_DATA_INVALID
    assert result.error.hint is not None  # what to do, like every error
    assert "nothing stored was changed" in result.error.hint


async def test_transactions_must_be_an_array(api: TraderApi, schwab: respx.MockRouter) -> None:
    schwab.get(f"/accounts/{HASH}/transactions").mock(return_value=ok_json(b"{}"))
    result = await api.transactions(HASH, NOW - timedelta(days=1), NOW)
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.PROVIDER_DATA_INVALID


async def test_non_finite_literals_become_null(api: TraderApi, schwab: respx.MockRouter) -> None:
    schwab.get(f"/accounts/{HASH}/transactions").mock(
        return_value=ok_json(b'[{"activityId": 1, "netAmount": NaN, "cost": -Infinity}]')
    )
    result = await api.transactions(HASH, NOW - timedelta(days=1), NOW)
    assert isinstance(result, Success)
    assert result.value == [{"activityId": 1, "netAmount": None, "cost": None}]


# ------------------------------------------------------------------------------------ retries


async def test_429_honours_retry_after_seconds(
    api: TraderApi, schwab: respx.MockRouter, clock: FakeClock
) -> None:
    route = schwab.get("/accounts").mock(
        side_effect=[
            error(429, load_fixture("errors.json")[5]["body"], **{"Retry-After": "2"}),
            ok_json(),
        ]
    )
    result = await api.accounts()
    assert isinstance(result, Success)
    assert route.call_count == 2
    assert clock.sleeps == [2.0]


async def test_retry_after_http_date(
    api: TraderApi, schwab: respx.MockRouter, clock: FakeClock
) -> None:
    later = "Wed, 01 Jul 2026 12:00:07 GMT"
    schwab.get("/accounts").mock(side_effect=[error(503, **{"Retry-After": later}), ok_json()])
    result = await api.accounts()
    assert isinstance(result, Success)
    assert clock.sleeps == [7.0]


async def test_503_burst_then_success_backs_off_with_jitter(
    api: TraderApi, schwab: respx.MockRouter, clock: FakeClock
) -> None:
    route = schwab.get("/accounts").mock(
        side_effect=[error(503), error(502), error(500), error(504), ok_json()]
    )
    result = await api.accounts()
    assert isinstance(result, Success)
    assert route.call_count == 5
    # random() = 0.5: half of min(cap 30, 1 * 2**n)
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed"),
    ],
)
async def test_network_failures_are_retried(
    api: TraderApi, schwab: respx.MockRouter, clock: FakeClock, exc: Exception
) -> None:
    route = schwab.get("/accounts").mock(side_effect=[exc, exc, ok_json()])
    result = await api.accounts()
    assert isinstance(result, Success)
    assert route.call_count == 3
    assert clock.sleeps == [0.5, 1.0]


async def test_gives_up_on_persistent_503(
    api: TraderApi, schwab: respx.MockRouter, clock: FakeClock
) -> None:
    route = schwab.get("/accounts").mock(return_value=error(503, {"message": "down"}))
    with capture_logs() as logs:
        result = await api.accounts()
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert route.call_count == 5
    assert len(clock.sleeps) == 4
    assert result.error.details["attempts"] == "5"
    assert result.error.details["correlation_id"] == CORRELATION
    assert "down" in result.error.message
    final = [entry for entry in logs if entry["event"] == "schwab.error"]
    assert final
    assert final[0]["correlation_id"] == CORRELATION


async def test_gives_up_on_persistent_429(
    api: TraderApi, schwab: respx.MockRouter, clock: FakeClock
) -> None:
    route = schwab.get("/accounts").mock(return_value=error(429, **{"Retry-After": "1"}))
    result = await api.accounts()
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.PROVIDER_RATE_LIMITED
    assert route.call_count == 5
    assert clock.sleeps == [1.0, 1.0, 1.0, 1.0]
    assert result.error.details["retry_after"] == "1"


async def test_gives_up_on_persistent_timeouts(
    api: TraderApi, schwab: respx.MockRouter, clock: FakeClock
) -> None:
    route = schwab.get("/accounts").mock(side_effect=httpx.ReadTimeout("slow"))
    result = await api.accounts()
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert result.error.details["error"] == "ReadTimeout"
    assert route.call_count == 5


async def test_a_huge_retry_after_ends_the_retries(
    api: TraderApi, schwab: respx.MockRouter, clock: FakeClock
) -> None:
    route = schwab.get("/accounts").mock(return_value=error(429, **{"Retry-After": "3600"}))
    result = await api.accounts()
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.PROVIDER_RATE_LIMITED
    assert route.call_count == 1
    assert clock.sleeps == []


async def test_jitter_is_bounded_by_the_cap(
    tokens: FakeTokens, clock: FakeClock, schwab: respx.MockRouter
) -> None:
    api = make_api(
        tokens, clock, retry=RetryPolicy(max_attempts=9, base=1.0, cap=5.0), random=lambda: 0.9999
    )
    schwab.get("/accounts").mock(return_value=error(500))
    await api.accounts()
    await api.aclose()
    assert len(clock.sleeps) == 8
    assert all(0 <= delay <= 5.0 for delay in clock.sleeps)
    assert clock.sleeps[:3] == pytest.approx([0.9999, 1.9998, 3.9996])
    assert clock.sleeps[3:] == pytest.approx([4.9995] * 5)


@given(retry=st.integers(0, 200), draw=st.floats(0, 1, exclude_max=True))
def test_backoff_is_full_jitter_within_bounds(retry: int, draw: float) -> None:
    policy = RetryPolicy(base=1.0, cap=30.0)
    bound = 30.0 if retry >= 64 else min(30.0, 2.0**retry)
    assert 0 <= policy.backoff(retry, draw) <= bound
    assert policy.backoff(retry, draw) == pytest.approx(draw * bound)


@pytest.mark.parametrize(
    ("status", "body", "code", "calls"),
    [
        (400, {"message": "Invalid account number"}, ErrorCode.PROVIDER_ERROR, 1),
        (403, {"message": "Forbidden"}, ErrorCode.PROVIDER_ERROR, 1),
        (404, {"message": "Not Found"}, ErrorCode.PROVIDER_ERROR, 1),
    ],
)
async def test_client_errors_are_not_retried(
    api: TraderApi,
    schwab: respx.MockRouter,
    clock: FakeClock,
    status: int,
    body: object,
    code: ErrorCode,
    calls: int,
) -> None:
    route = schwab.get("/accounts").mock(return_value=error(status, body))
    result = await api.accounts()
    assert isinstance(result, Failure)
    assert result.error.code is code
    assert route.call_count == calls
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("gateway_404_route_missing", ErrorCode.PROVIDER_UNAVAILABLE),
        ("edge_403_access_denied_html", ErrorCode.PROVIDER_ERROR),
    ],
)
async def test_transient_edge_pages_are_retried_once(
    api: TraderApi, schwab: respx.MockRouter, clock: FakeClock, name: str, code: ErrorCode
) -> None:
    case = next(c for c in load_fixture("errors.json") if c["name"] == name)
    page = httpx.Response(
        case["http_status"],
        content=case["body"].encode(),
        headers={"Content-Type": case["content_type"]},
    )
    route = schwab.get("/accounts").mock(return_value=page)
    result = await api.accounts()
    assert isinstance(result, Failure)
    assert result.error.code is code
    assert route.call_count == 2
    assert len(clock.sleeps) == 1

    route.mock(side_effect=[page, ok_json()])
    assert isinstance(await api.accounts(), Success)


@pytest.mark.parametrize("case", load_fixture("errors.json"), ids=lambda case: case["name"])
async def test_every_error_fixture_through_the_client(
    api: TraderApi, schwab: respx.MockRouter, case: dict[str, Any]
) -> None:
    body = case["body"]
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"Content-Type": case["content_type"], "Schwab-Client-CorrelId": CORRELATION}
    headers.update(case.get("headers", {}))
    schwab.get("/accounts").mock(
        return_value=httpx.Response(case["http_status"], content=content, headers=headers)
    )
    with capture_logs() as logs:
        result = await api.accounts()
    expected = {
        400: ErrorCode.PROVIDER_ERROR,
        401: ErrorCode.TOKEN_REVOKED,
        403: ErrorCode.PROVIDER_ERROR,
        404: ErrorCode.PROVIDER_UNAVAILABLE,
        429: ErrorCode.PROVIDER_RATE_LIMITED,
        500: ErrorCode.PROVIDER_ERROR,  # the TooBigBody fault: not retried, not an outage
    }[case["http_status"]]
    assert isinstance(result, Failure)
    assert result.error.code is expected
    assert result.error.details["correlation_id"] == CORRELATION
    assert result.error.hint is None or "connect" not in result.error.hint
    dumped = repr(logs) + result.error.message + repr(result.error.details)
    for secret in (ACCESS_TOKEN, REFRESHED_TOKEN, "FAKEdigest"):
        assert secret not in dumped


# ------------------------------------------------------------------------------------ 401s


async def test_401_refreshes_once_and_retries_with_the_new_token(
    api: TraderApi, schwab: respx.MockRouter, tokens: FakeTokens
) -> None:
    route = schwab.get("/accounts").mock(
        side_effect=[error(401, load_fixture("errors.json")[3]["body"]), ok_json()]
    )
    result = await api.accounts()
    assert isinstance(result, Success)
    assert tokens.refresh_calls == 1
    assert route.call_count == 2
    assert_standard_headers(route.calls[0].request, ACCESS_TOKEN)
    assert_standard_headers(route.calls[1].request, REFRESHED_TOKEN)


async def test_a_second_401_is_token_revoked(
    api: TraderApi, schwab: respx.MockRouter, tokens: FakeTokens, clock: FakeClock
) -> None:
    route = schwab.get("/accounts").mock(return_value=error(401, {"errors": [{"status": "401"}]}))
    with capture_logs() as logs:
        result = await api.accounts()
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.TOKEN_REVOKED
    assert result.error.details["correlation_id"] == CORRELATION
    assert tokens.refresh_calls == 1
    assert route.call_count == 2
    assert clock.sleeps == []
    for secret in (ACCESS_TOKEN, REFRESHED_TOKEN):
        assert secret not in repr(logs)
        assert secret not in result.error.message


async def test_a_failed_refresh_is_returned_as_is(
    api: TraderApi, schwab: respx.MockRouter, tokens: FakeTokens
) -> None:
    tokens.refresh_failure = fail(
        ErrorCode.REAUTH_REQUIRED, "the refresh token expired", hint="reconnect"
    )
    route = schwab.get("/accounts").mock(return_value=error(401))
    result = await api.accounts()
    assert result is tokens.refresh_failure
    assert route.call_count == 1


async def test_a_token_source_failure_sends_nothing(
    api: TraderApi, schwab: respx.MockRouter, tokens: FakeTokens
) -> None:
    tokens.access_failure = fail(ErrorCode.SECRET_DECRYPTION_FAILED, "cannot decrypt")
    route = schwab.get("/accounts").mock(return_value=ok_json())
    result = await api.accounts()
    assert result is tokens.access_failure
    assert route.call_count == 0


async def test_401_after_a_retry_still_refreshes_once(
    api: TraderApi, schwab: respx.MockRouter, tokens: FakeTokens
) -> None:
    route = schwab.get("/accounts").mock(side_effect=[error(503), error(401), ok_json()])
    assert isinstance(await api.accounts(), Success)
    assert tokens.refresh_calls == 1
    assert route.call_count == 3


# ----------------------------------------------------------------------------- request budget


async def test_budget_allows_a_burst_then_waits_for_the_window() -> None:
    clock = FakeClock(now=0.0)
    budget = RequestBudget(limit=3, window=60.0, sleep=clock.sleep, monotonic=clock.monotonic)
    stamps = []
    for offset in (0.0, 10.0, 20.0, 0.0, 0.0, 0.0):
        clock.now += offset
        await budget.acquire()
        stamps.append(clock.now)
    assert stamps == [0.0, 10.0, 30.0, 60.0, 70.0, 90.0]
    assert clock.sleeps == [30.0, 10.0, 20.0]
    # never more than 3 acquisitions in any 60-second window
    for i, start in enumerate(stamps):
        assert sum(1 for t in stamps[i:] if t < start + 60.0) <= 3


async def test_budget_refills_after_idle_time() -> None:
    clock = FakeClock(now=0.0)
    budget = RequestBudget(limit=2, window=60.0, sleep=clock.sleep, monotonic=clock.monotonic)
    await budget.acquire()
    await budget.acquire()
    clock.now = 500.0
    assert await budget.acquire() == 0.0
    assert await budget.acquire() == 0.0
    assert clock.sleeps == []


def test_budget_and_policy_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RequestBudget(limit=0)
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(cap=-1)


async def test_client_spends_at_most_the_budget_per_minute(
    tokens: FakeTokens, clock: FakeClock, schwab: respx.MockRouter
) -> None:
    api = make_api(tokens, clock, requests_per_minute=2)
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.now)
        return ok_json()

    schwab.get("/accounts").mock(side_effect=handler)
    for _ in range(5):
        assert isinstance(await api.accounts(), Success)
    await api.aclose()
    assert sent_at == [1000.0, 1000.0, 1060.0, 1060.0, 1120.0]


async def test_retries_count_against_the_budget(
    tokens: FakeTokens, clock: FakeClock, schwab: respx.MockRouter
) -> None:
    api = make_api(tokens, clock, requests_per_minute=2, random=lambda: 0.0)
    schwab.get("/accounts").mock(side_effect=[error(503), error(503), ok_json()])
    assert isinstance(await api.accounts(), Success)
    await api.aclose()
    assert clock.sleeps == [0.0, 0.0, 60.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("2", 2.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("nan", None),
        ("soon", None),
        ("Wed, 01 Jul 2026 12:00:30 GMT", 30.0),
        ("Wed, 01 Jul 2026 11:00:00 GMT", 0.0),
    ],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == expected
