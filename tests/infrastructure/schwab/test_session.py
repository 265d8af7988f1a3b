"""The Schwab session: accounts with hashes and nicknames, windows split at 3000, no leaks."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success, fail, ok
from dashtam_cli.domain.providers import FetchedAccount, FetchedTransaction, ProviderSession
from dashtam_cli.infrastructure.db.types import json_dumps
from dashtam_cli.infrastructure.providers.schwab.api import TraderApi
from dashtam_cli.infrastructure.providers.schwab.dates import parse_schwab_datetime
from dashtam_cli.infrastructure.providers.schwab.errors import ErrorReason
from dashtam_cli.infrastructure.providers.schwab.identity import (
    account_identity,
    mask_account_number,
)
from dashtam_cli.infrastructure.providers.schwab.session import SchwabSession
from tests.infrastructure.schwab.api_fakes import (
    ACCESS_TOKEN,
    ACCOUNT_NUMBERS,
    BASE_URL,
    SALT,
    FakeClock,
    FakeTokens,
    fixture_bytes,
    load_fixture,
)

HASHES = {
    item["accountNumber"]: item["hashValue"] for item in load_fixture("accounts_numbers.json")
}
BROKERAGE_HASH = HASHES["90000017"]
IRA_HASH = HASHES["90000025"]
MS = timedelta(milliseconds=1)
START = datetime(2025, 7, 1, tzinfo=UTC)
END = datetime(2026, 7, 1, tzinfo=UTC)


def connection(alias: str = "my-schwab") -> ProviderConnection:
    return ProviderConnection(provider="schwab", alias=alias)


def txn_row(activity: int, when: datetime, net: str = "1.00") -> dict[str, Any]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    return {
        "activityId": activity,
        "time": stamp,
        "accountNumber": "90000017",
        "type": "ACH_RECEIPT",
        "status": "VALID",
        "tradeDate": when.strftime("%Y-%m-%dT05:00:00+0000"),
        "netAmount": Decimal(net),
        "transferItems": [],
    }


@dataclass
class FakeApi:
    """A Trader API double over in-memory payloads; transactions are filtered by calendar day
    (inclusive at both ends, like a coarse server would) and capped at ``cap`` rows."""

    numbers: list[dict[str, Any]] = field(
        default_factory=lambda: copy.deepcopy(load_fixture("accounts_numbers.json"))
    )
    accounts_payload: list[dict[str, Any]] = field(
        default_factory=lambda: copy.deepcopy(load_fixture("accounts.json"))
    )
    preference: dict[str, Any] = field(
        default_factory=lambda: copy.deepcopy(load_fixture("user_preference.json"))
    )
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cap: int = 3000
    too_big_over: timedelta | None = None
    failures: dict[str, Failure[DomainError]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    windows: list[tuple[str, datetime, datetime, int]] = field(default_factory=list)
    closed: bool = False

    async def account_numbers(self) -> Result[list[dict[str, Any]], DomainError]:
        self.calls.append("account_numbers")
        return self.failures.get("account_numbers") or ok(copy.deepcopy(self.numbers))

    async def accounts(self) -> Result[list[dict[str, Any]], DomainError]:
        self.calls.append("accounts")
        return self.failures.get("accounts") or ok(copy.deepcopy(self.accounts_payload))

    async def user_preference(self) -> Result[dict[str, Any], DomainError]:
        self.calls.append("user_preference")
        return self.failures.get("user_preference") or ok(copy.deepcopy(self.preference))

    async def transactions(
        self, account_hash: str, start: datetime, end: datetime
    ) -> Result[list[dict[str, Any]], DomainError]:
        self.calls.append("transactions")
        if "transactions" in self.failures:
            return self.failures["transactions"]
        if self.too_big_over is not None and end - start > self.too_big_over:
            self.windows.append((account_hash, start, end, -1))
            return fail(
                ErrorCode.PROVIDER_ERROR,
                "too big",
                details={"reason": ErrorReason.BODY_TOO_BIG.value},
            )
        found = []
        for row in self.rows.get(account_hash, []):
            when = parse_schwab_datetime(row["time"])
            assert when is not None
            if start.date() <= when.date() <= end.date():
                found.append(copy.deepcopy(row))
        found = found[: self.cap]
        self.windows.append((account_hash, start, end, len(found)))
        return ok(found)

    async def aclose(self) -> None:
        self.closed = True


def session_for(api: FakeApi, alias: str = "my-schwab", **kwargs: Any) -> SchwabSession:
    conn = connection(alias)
    return SchwabSession(api=api, connection=lambda: conn, identity_salt=SALT, **kwargs)


def fetched_account(number: str = "90000017") -> FetchedAccount:
    return FetchedAccount(
        provider_account_id=account_identity(number, SALT),
        account_number_masked=mask_account_number(number),
        name="x",
        account_type=AccountType.BROKERAGE,
        currency="USD",
        balance=Decimal(0),
    )


# ------------------------------------------------------------------------------- identity


def test_account_identity_is_a_stable_salted_hmac() -> None:
    first = account_identity("90000017", SALT)
    assert first == account_identity(" 90000017 ", SALT)
    assert len(first) == 32
    assert int(first, 16) >= 0
    assert first != account_identity("90000025", SALT)
    assert first != account_identity("90000017", b"another installation")
    # pinned: a change of algorithm would orphan every stored account
    assert first == "7e059305a0e1795f6385ee388ca493dc"
    assert mask_account_number("90000017") == "****0017"


def test_account_identity_refuses_empty_inputs() -> None:
    with pytest.raises(ValueError, match="salt"):
        account_identity("90000017", b"")
    with pytest.raises(ValueError, match="account number"):
        account_identity("  ", SALT)


# ------------------------------------------------------------------------------- accounts


def test_the_session_is_a_provider_session() -> None:
    session: ProviderSession = session_for(FakeApi())
    assert session.connection.alias == "my-schwab"


async def test_fetch_accounts_maps_both_fixture_accounts() -> None:
    api = FakeApi()
    session = session_for(api)

    result = await session.fetch_accounts()

    assert isinstance(result, Success)
    brokerage, ira = result.value
    assert api.calls == ["account_numbers", "accounts", "user_preference"]
    assert brokerage.provider_account_id == account_identity("90000017", SALT)
    assert brokerage.account_number_masked == "****0017"
    assert (brokerage.name, brokerage.account_type) == ("Individual", AccountType.BROKERAGE)
    assert (ira.name, ira.account_type) == ("Rollover IRA", AccountType.IRA)
    assert brokerage.balance == Decimal("9637.5")
    assert len(brokerage.holdings) == 3
    for fetched in result.value:
        text = json_dumps(fetched.raw) + repr(fetched)
        for number in ACCOUNT_NUMBERS:
            assert number not in text


async def test_hashes_are_reread_on_every_fetch_accounts() -> None:
    api = FakeApi()
    session = session_for(api)
    await session.fetch_accounts()
    api.numbers[0]["hashValue"] = "NEWHASH"
    await session.fetch_accounts()
    await session.fetch_transactions(fetched_account(), START, START + timedelta(days=1))
    assert api.calls.count("account_numbers") == 2
    assert api.windows[-1][0] == "NEWHASH"


async def test_user_preference_failure_is_not_fatal() -> None:
    api = FakeApi(failures={"user_preference": fail(ErrorCode.PROVIDER_UNAVAILABLE, "down")})
    with capture_logs() as logs:
        result = await session_for(api).fetch_accounts()
    assert isinstance(result, Success)
    assert [a.name for a in result.value] == ["Schwab ****0017", "Schwab ****0025"]
    assert any(e["event"] == "schwab.user_preference_unavailable" for e in logs)


@pytest.mark.parametrize("call", ["account_numbers", "accounts"])
async def test_token_revoked_gets_the_reconnect_hint(call: str) -> None:
    api = FakeApi(failures={call: fail(ErrorCode.TOKEN_REVOKED, "rejected after refresh")})
    result = await session_for(api, alias="joint acct").fetch_accounts()
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.TOKEN_REVOKED
    assert result.error.hint == "dashtam providers connect schwab --alias 'joint acct'"


async def test_a_hint_from_the_token_source_is_kept() -> None:
    failure = fail(ErrorCode.REAUTH_REQUIRED, "expired", hint="the token source's own hint")
    api = FakeApi(failures={"accounts": failure})
    result = await session_for(api).fetch_accounts()
    assert isinstance(result, Failure)
    assert result.error.hint == "the token source's own hint"


async def test_other_failures_pass_through_untouched() -> None:
    failure = fail(ErrorCode.PROVIDER_UNAVAILABLE, "down")
    api = FakeApi(failures={"accounts": failure})
    assert await session_for(api).fetch_accounts() is failure


async def test_odd_account_elements_are_skipped_with_a_warning() -> None:
    api = FakeApi()
    api.accounts_payload.append({"aggregatedBalance": {}})
    api.accounts_payload.append({"securitiesAccount": {"type": "CASH"}})
    with capture_logs() as logs:
        result = await session_for(api).fetch_accounts()
    assert isinstance(result, Success)
    assert len(result.value) == 2
    assert [e["why"] for e in logs if e["event"] == "schwab.account_skipped"] == [
        "no securitiesAccount object",
        "no accountNumber",
    ]


async def test_an_account_without_a_hash_cannot_read_transactions() -> None:
    api = FakeApi()
    api.numbers = [n for n in api.numbers if n["accountNumber"] == "90000017"]
    api.numbers.append({"accountNumber": "90000099"})  # no hashValue: ignored
    session = session_for(api)
    with capture_logs() as logs:
        accounts = await session.fetch_accounts()
    assert isinstance(accounts, Success)
    ira = accounts.value[1]
    assert any(e["event"] == "schwab.account_without_hash" for e in logs)
    result = await session.fetch_transactions(ira, START, END)
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.PROVIDER_ERROR
    assert "****0025" in result.error.message
    assert "90000025" not in result.error.message
    assert result.error.hint is not None
    assert "dashtam providers connect schwab --alias my-schwab" in result.error.hint
    assert "transactions" not in api.calls


# --------------------------------------------------------------------------- transactions


async def test_fetch_transactions_loads_hashes_when_needed() -> None:
    api = FakeApi(rows={BROKERAGE_HASH: [txn_row(1, START + timedelta(days=3))]})
    session = session_for(api)
    result = await session.fetch_transactions(fetched_account(), START, END)
    assert isinstance(result, Success)
    assert [t.provider_transaction_id for t in result.value] == ["1"]
    assert api.calls == ["account_numbers", "transactions"]


async def test_request_window_ends_one_millisecond_before_end() -> None:
    api = FakeApi()
    session = session_for(api)
    await session.fetch_transactions(fetched_account(), START, END)
    assert api.windows == [(BROKERAGE_HASH, START, END - MS, 0)]


async def test_empty_and_naive_windows() -> None:
    api = FakeApi()
    session = session_for(api)
    result = await session.fetch_transactions(fetched_account(), END, END)
    assert isinstance(result, Success)
    assert list(result.value) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        await session.fetch_transactions(fetched_account(), datetime(2026, 1, 1), END)


async def test_long_windows_are_cut_into_years() -> None:
    api = FakeApi()
    start = datetime(2023, 3, 15, tzinfo=UTC)
    await session_for(api).fetch_transactions(fetched_account(), start, END)
    spans = [(s, e) for _, s, e, _ in api.windows]
    assert spans[0][0] == start
    assert spans[-1][1] == END - MS
    assert all(e - s < timedelta(days=365) for s, e in spans)
    assert len(spans) == 4


def spread(count: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """``count`` rows at evenly spread instants, ids in time order."""
    step = (end - start) / count
    return [txn_row(10_000 + i, start + step * i) for i in range(count)]


async def test_a_full_window_is_split_until_every_part_is_below_the_cap() -> None:
    rows = spread(7_000, START, END)
    api = FakeApi(rows={BROKERAGE_HASH: rows})
    session = session_for(api)

    with capture_logs() as logs:
        result = await session.fetch_transactions(fetched_account(), START, END)

    assert isinstance(result, Success)
    got = [t.provider_transaction_id for t in result.value]
    assert got == [str(r["activityId"]) for r in rows]  # all of them, once, in time order
    assert len(set(got)) == 7_000
    counts = [count for *_, count in api.windows]
    assert counts[0] == 3000  # the whole year came back capped
    assert any(c < 3000 for c in counts)
    final = [w for w in api.windows if w[3] < 3000]
    # the uncapped windows tile the year without gaps
    ordered = sorted((s, e) for _, s, e, _ in final)
    assert ordered[0][0] == START
    assert ordered[-1][1] == END - MS
    for (_, prev_end), (next_start, _) in itertools.pairwise(ordered):
        assert next_start == prev_end + MS
    splits = [e for e in logs if e["event"] == "schwab.window_split"]
    assert splits
    assert all(e["account"] == "****0017" for e in splits)


async def test_duplicates_across_windows_are_merged() -> None:
    # the fake filters by calendar day, so a row on a split boundary day comes back twice
    day = datetime(2026, 1, 1, 12, tzinfo=UTC)
    rows = [txn_row(i, day) for i in range(5)] + spread(20, START, END)
    api = FakeApi(rows={BROKERAGE_HASH: rows}, cap=10)
    result = await session_for(api, max_rows=10).fetch_transactions(fetched_account(), START, END)
    assert isinstance(result, Success)
    ids = [t.provider_transaction_id for t in result.value]
    assert len(ids) == len(set(ids)) == 25
    assert sum(count for *_, count in api.windows if count > 0) > 25  # some came twice


async def test_sorted_by_time_then_activity_id() -> None:
    when = datetime(2026, 2, 1, tzinfo=UTC)
    rows = [txn_row(30, when), txn_row(4, when), txn_row(200, when - timedelta(hours=1))]
    rows.append({"time": "2026-02-01T00:00:00+0000", "netAmount": Decimal(1)})  # no id
    api = FakeApi(rows={BROKERAGE_HASH: rows})
    result = await session_for(api).fetch_transactions(fetched_account(), START, END)
    assert isinstance(result, Success)
    ids = [t.provider_transaction_id for t in result.value]
    assert ids[:3] == ["200", "4", "30"]
    assert ids[3].startswith("x-")


async def test_a_too_big_response_is_split_too() -> None:
    rows = spread(50, START, END)
    api = FakeApi(rows={BROKERAGE_HASH: rows}, too_big_over=timedelta(days=100))
    result = await session_for(api).fetch_transactions(fetched_account(), START, END)
    assert isinstance(result, Success)
    assert len(result.value) == 50
    assert all(e - s <= timedelta(days=100) for _, s, e, count in api.windows if count >= 0)


async def test_a_window_that_cannot_be_split_fails_clearly() -> None:
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    api = FakeApi(rows={BROKERAGE_HASH: [txn_row(i, when) for i in range(3)]}, cap=2)
    result = await session_for(api, max_rows=2).fetch_transactions(fetched_account(), START, END)
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.PROVIDER_DATA_INVALID
    assert "****0017" in result.error.message


async def test_transaction_failures_get_the_hint() -> None:
    api = FakeApi(failures={"transactions": fail(ErrorCode.TOKEN_REVOKED, "revoked")})
    result = await session_for(api).fetch_transactions(fetched_account(), START, END)
    assert isinstance(result, Failure)
    assert result.error.hint == "dashtam providers connect schwab --alias my-schwab"


async def test_connection_is_read_through_the_callable() -> None:
    current = [connection("first")]
    session = SchwabSession(api=FakeApi(), connection=lambda: current[0], identity_salt=SALT)
    assert session.connection.alias == "first"
    current[0] = connection("second")
    assert session.connection.alias == "second"


async def test_aclose_closes_the_api() -> None:
    api = FakeApi()
    await session_for(api).aclose()
    assert api.closed


# --------------------------------------------------------------------- end to end over HTTP


@pytest.fixture
def schwab() -> Iterator[respx.MockRouter]:
    headers = {
        "Content-Type": "application/json",
        "Schwab-Client-CorrelId": "c0ffee00-0000-4000-8000-000000000001",
    }
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        router.get("/accounts/accountNumbers").mock(
            return_value=httpx.Response(
                200, content=fixture_bytes("accounts_numbers.json"), headers=headers
            )
        )
        router.get("/accounts").mock(
            return_value=httpx.Response(
                200, content=fixture_bytes("accounts.json"), headers=headers
            )
        )
        router.get("/userPreference").mock(
            return_value=httpx.Response(
                200, content=fixture_bytes("user_preference.json"), headers=headers
            )
        )
        router.get(f"/accounts/{BROKERAGE_HASH}/transactions").mock(
            return_value=httpx.Response(
                200, content=fixture_bytes("transactions.json"), headers=headers
            )
        )
        router.get(f"/accounts/{IRA_HASH}/transactions").mock(
            return_value=httpx.Response(500, content=b"", headers=headers)
        )
        yield router


async def test_end_to_end_over_http_never_leaks_numbers_or_tokens(
    schwab: respx.MockRouter,
) -> None:
    clock = FakeClock()
    api = TraderApi(
        base_url=BASE_URL,
        tokens=FakeTokens(),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        random=lambda: 0.5,
    )
    session = SchwabSession(api=api, connection=lambda: connection(), identity_salt=SALT)
    with capture_logs() as logs:
        accounts = await session.fetch_accounts()
        assert isinstance(accounts, Success)
        brokerage, ira = accounts.value
        history = await session.fetch_transactions(brokerage, START, END)
        failed = await session.fetch_transactions(ira, START, END)
    await session.aclose()

    assert isinstance(history, Success)
    rows: list[FetchedTransaction] = list(history.value)
    assert len(rows) == 14
    assert [t.posted_at for t in rows] == sorted(t.posted_at for t in rows if t.posted_at)
    total = sum((t.amount for t in rows), Decimal(0))
    assert total == sum((p["netAmount"] for p in load_fixture("transactions.json")), Decimal(0))
    assert {t.transaction_date for t in rows} >= {date(2026, 1, 6), date(2026, 4, 1)}
    request = schwab.routes[3].calls.last.request
    assert request.url.params["startDate"] == "2025-07-01T00:00:00.000Z"
    assert request.url.params["endDate"] == "2026-06-30T23:59:59.999Z"
    assert isinstance(failed, Failure)
    assert failed.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert failed.error.details["correlation_id"] == "c0ffee00-0000-4000-8000-000000000001"

    every_raw = [a.raw for a in accounts.value] + [t.raw for t in rows]
    every_raw += [h.raw for a in accounts.value for h in a.holdings]
    dumped = json_dumps(every_raw) + json.dumps(logs, default=str) + repr(failed.error)
    for number in ACCOUNT_NUMBERS:
        assert number not in dumped
    assert ACCESS_TOKEN not in dumped
    for call in schwab.calls:
        assert call.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert not any(number in str(call.request.url) for number in ACCOUNT_NUMBERS)
