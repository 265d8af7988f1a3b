"""The demo provider: deterministic, exact, realistic data behind the real provider port."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.connections import ConnectionStatus, ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.providers import (
    FetchedAccount,
    FetchedTransaction,
    Provider,
    ProviderSession,
)
from dashtam_cli.domain.transactions import (
    SUBTYPE_TO_TYPE,
    TransactionStatus,
    TransactionSubtype,
    TransactionType,
)
from dashtam_cli.infrastructure.providers.demo import (
    ANCHOR_LAG,
    CAPABILITIES,
    EPOCH_STEP,
    HISTORY_DAYS,
    HISTORY_SPAN,
    PENDING_FOR,
    DemoProvider,
    DemoSession,
    demo_provider_state,
)
from dashtam_cli.infrastructure.providers.demo.ledger import Ledger, materialize, split_rows

NOW = datetime(2025, 6, 15, 12, 30, tzinfo=UTC)
ANCHOR = datetime(2025, 5, 16, tzinfo=UTC)  # NOW - 30 days, at midnight UTC
WINDOW = timedelta(days=92)
REPO = Path(__file__).resolve().parents[2]
OCC = re.compile(r"^[A-Z]{1,6} *\d{6}[CP]\d{8}$")
ID = re.compile(r"^demo-\d-\d{8}-\d+$")


def value[T](result: Result[T, DomainError]) -> T:
    assert isinstance(result, Success), result
    return result.value


def error(result: Result[object, DomainError]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


def connection(**state: Any) -> ProviderConnection:
    return ProviderConnection(
        provider="demo",
        alias="demo",
        status=ConnectionStatus.ACTIVE,
        provider_state=demo_provider_state(created_at=NOW, **state),
    )


async def open_session(
    conn: ProviderConnection, *, now: datetime = NOW, provider: Provider | None = None
) -> DemoSession:
    session = value(await (provider or DemoProvider()).open_session(conn, now=now))
    assert isinstance(session, DemoSession)
    return session


async def history(
    session: ProviderSession, account: FetchedAccount, *, now: datetime = NOW
) -> list[FetchedTransaction]:
    """Everything, walking back in max_window windows as a first sync would."""
    assert CAPABILITIES.history_limit is not None
    oldest = now - CAPABILITIES.history_limit
    windows: list[list[FetchedTransaction]] = []
    end = now
    while end > oldest:
        start = max(end - CAPABILITIES.max_window, oldest)
        windows.append(list(value(await session.fetch_transactions(account, start, end))))
        end = start
    return [row for window in reversed(windows) for row in window]


async def everything(
    conn: ProviderConnection, *, now: datetime = NOW
) -> tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]]:
    session = await open_session(conn, now=now)
    accounts = list(value(await session.fetch_accounts()))
    rows = {a.provider_account_id: await history(session, a, now=now) for a in accounts}
    return accounts, rows


def fingerprint(item: object) -> str:
    """A stable text of a record's fields (``raw`` included when present)."""
    assert dataclasses.is_dataclass(item)
    parts = []
    for f in dataclasses.fields(item):
        field_value = getattr(item, f.name)
        if isinstance(field_value, tuple):
            field_value = [fingerprint(x) for x in field_value]
        parts.append(f"{f.name}={field_value!s}")
    return "|".join(parts)


async def digest(seed: int, transactions: int) -> str:
    """A hash of every account, holding and row of a demo connection (for cross-process checks)."""
    accounts, rows = await everything(connection(seed=seed, transactions=transactions))
    h = hashlib.sha256()
    for account in accounts:
        h.update(fingerprint(account).encode())
        for row in rows[account.provider_account_id]:
            h.update(fingerprint(row).encode())
    return h.hexdigest()


def flat(rows: dict[str, list[FetchedTransaction]]) -> list[FetchedTransaction]:
    return [row for account_rows in rows.values() for row in account_rows]


@pytest.fixture(scope="module")
def demo_3000() -> tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]]:
    """The default six accounts with 3,000 rows, at epoch 0."""
    return asyncio.run(everything(connection(transactions=3_000)))


# --------------------------------------------------------------------------- identity and state


def test_identity_and_capabilities() -> None:
    provider: Provider = DemoProvider()
    assert provider.slug == "demo"
    assert provider.display_name == "Dashtam demo"
    caps = provider.capabilities
    assert caps.max_window == timedelta(days=92)
    assert caps.overlap == timedelta(days=7)
    assert caps.empty_span_stop == timedelta(days=730)
    assert not caps.oauth
    assert caps.history_limit is not None
    # the whole history (from a connection made "now") lies inside the limit, with a margin
    first_day = ANCHOR - timedelta(days=HISTORY_DAYS)
    assert NOW - caps.history_limit < first_day
    assert HISTORY_SPAN < caps.history_limit <= HISTORY_SPAN + timedelta(days=92)


def test_new_state_is_json_and_anchored_a_month_back_at_midnight() -> None:
    state = demo_provider_state(seed=7, accounts=3, transactions=123, created_at=NOW)
    assert json.loads(json.dumps(state)) == state
    assert state == {
        "version": 1,
        "seed": 7,
        "accounts": 3,
        "transactions": 123,
        "anchor": ANCHOR.isoformat(),
        "epoch": 0,
        "fail_accounts": [],
    }
    other_zone = NOW.astimezone(timezone(timedelta(hours=9)))  # the same instant, in Tokyo
    assert demo_provider_state(created_at=other_zone)["anchor"] == ANCHOR.isoformat()
    assert NOW - ANCHOR_LAG - timedelta(days=1) < ANCHOR <= NOW - ANCHOR_LAG


@pytest.mark.parametrize(
    "kwargs",
    [
        {"accounts": 0},
        {"accounts": 8},
        {"transactions": -1},
        {"transactions": 10_000_001},
        {"seed": True},
        {"seed": 2**63},
        {"fail_accounts": [6]},  # only 6 accounts: indices 0..5
        {"created_at": datetime(2025, 1, 1)},
    ],
)
def test_new_state_refuses_out_of_range_values(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"created_at": NOW, **kwargs}
    with pytest.raises(ValueError):
        demo_provider_state(**arguments)


def test_limits_are_accepted() -> None:
    for accounts in (1, 7):
        assert demo_provider_state(accounts=accounts, created_at=NOW)["accounts"] == accounts
    for rows in (0, 10_000_000):
        assert demo_provider_state(transactions=rows, created_at=NOW)["transactions"] == rows


def _broken(change: dict[str, Any], drop: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {**demo_provider_state(created_at=NOW), **change}
    if drop:
        del state[drop]
    return state


@pytest.mark.parametrize(
    "state",
    [
        {},
        _broken({}, drop="seed"),
        _broken({}, drop="anchor"),
        _broken({}, drop="epoch"),
        _broken({"version": 2}),
        _broken({"version": "1"}),
        _broken({"accounts": 9}),
        _broken({"transactions": "5000"}),
        _broken({"seed": 1.5}),
        _broken({"anchor": "last tuesday"}),
        _broken({"anchor": "2025-05-16T00:00:00"}),  # no timezone
        _broken({"epoch": -1}),
        _broken({"fail_accounts": "3"}),
        _broken({"fail_accounts": [9]}),
    ],
)
async def test_broken_state_is_provider_data_invalid(state: dict[str, Any]) -> None:
    conn = ProviderConnection(provider="demo", alias="demo", provider_state=state)
    failure = error(await DemoProvider().open_session(conn, now=NOW))
    assert failure.code is ErrorCode.PROVIDER_DATA_INVALID
    assert failure.hint


async def test_naive_instants_are_a_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await DemoProvider().open_session(connection(), now=datetime(2025, 1, 1))
    session = await open_session(connection(transactions=10))
    account = value(await session.fetch_accounts())[0]
    with pytest.raises(ValueError, match="timezone-aware"):
        await session.fetch_transactions(account, datetime(2025, 1, 1), NOW)


# --------------------------------------------------------------------------- exact counts


@pytest.mark.parametrize(("rows", "accounts"), [(0, 6), (1, 6), (3_000, 6), (12_345, 7), (999, 1)])
async def test_exactly_n_rows_before_the_anchor(rows: int, accounts: int) -> None:
    found, by_account = await everything(connection(transactions=rows, accounts=accounts))
    assert len(found) == accounts
    everything_found = flat(by_account)
    assert len(everything_found) == rows
    if rows:
        posted = [r.posted_at for r in everything_found if r.posted_at is not None]
        assert len(posted) == rows
        assert min(posted) >= ANCHOR - timedelta(days=HISTORY_DAYS)
        assert max(posted) < ANCHOR


@given(total=st.integers(0, 10_000_000), accounts=st.integers(1, 7))
def test_rows_split_exactly_between_accounts(total: int, accounts: int) -> None:
    counts = split_rows(total, accounts)
    assert len(counts) == accounts
    assert sum(counts) == total
    assert all(c >= 0 for c in counts)


def test_counts_scale_to_ten_million_without_generating_them() -> None:
    ledger = Ledger(seed=3, accounts=7, transactions=10_000_000, anchor=ANCHOR)
    anchor_day = ANCHOR.date().toordinal()
    assert sum(a.start(anchor_day) for a in ledger.accounts) == 10_000_000
    brokerage = ledger.accounts[0]
    assert brokerage.start(anchor_day - HISTORY_DAYS) == 0
    days = range(anchor_day - HISTORY_DAYS, anchor_day)
    assert sum(brokerage.count(day) for day in days) == brokerage.rows_in_history
    # markets are closed on weekends: investment accounts post on weekdays only
    saturday = next(d for d in days if (d + 6) % 7 == 5)
    assert brokerage.count(saturday) == brokerage.count(saturday + 1) == 0


async def test_a_window_of_a_million_row_history_holds_its_share() -> None:
    conn = connection(transactions=1_000_000)
    session = await open_session(conn)
    account = value(await session.fetch_accounts())[5]  # the credit card
    start, end = ANCHOR - timedelta(days=10), ANCHOR
    rows = value(await session.fetch_transactions(account, start, end))
    ledger = Ledger(seed=42, accounts=6, transactions=1_000_000, anchor=ANCHOR)
    card = ledger.accounts[5]
    expected = card.start(ANCHOR.date().toordinal()) - card.start(start.date().toordinal())
    assert len(rows) == expected > 1_000


# --------------------------------------------------------------------------- determinism


async def test_same_seed_same_data_across_providers() -> None:
    first = await everything(connection(seed=99, transactions=800))
    second_session = await open_session(
        connection(seed=99, transactions=800), provider=DemoProvider()
    )
    accounts = list(value(await second_session.fetch_accounts()))
    assert [fingerprint(a) for a in accounts] == [fingerprint(a) for a in first[0]]
    for account in accounts:
        again = await history(second_session, account)
        assert [fingerprint(r) for r in again] == [
            fingerprint(r) for r in first[1][account.provider_account_id]
        ]


async def test_other_seeds_give_other_data() -> None:
    assert await digest(1, 300) != await digest(2, 300)


@pytest.mark.slow
def test_same_seed_same_data_across_processes() -> None:
    here = asyncio.run(digest(42, 1_500))
    code = (
        "import asyncio, tests.infrastructure.test_demo_provider as t; "
        "print(asyncio.run(t.digest(42, 1500)))"
    )
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert out.stdout.strip() == here


# --------------------------------------------------------------------------- windows


async def test_windows_partition_the_history() -> None:
    session = await open_session(connection(transactions=2_000))
    accounts = value(await session.fetch_accounts())
    for account in (accounts[0], accounts[3]):
        start, end = ANCHOR - timedelta(days=200), ANCHOR + timedelta(days=1)
        whole = list(value(await session.fetch_transactions(account, start, end)))
        assert whole
        pieces: list[FetchedTransaction] = []
        step = timedelta(days=17, hours=5, minutes=37, seconds=11)  # cuts days anywhere
        cut = start
        while cut < end:
            upper = min(cut + step, end)
            window = value(await session.fetch_transactions(account, cut, upper))
            assert all(cut <= r.posted_at < upper for r in window if r.posted_at)
            pieces.extend(window)
            cut = upper
        assert pieces == whole
        ids = [r.provider_transaction_id for r in pieces]
        assert len(set(ids)) == len(ids)


async def test_empty_and_inverted_windows_return_nothing() -> None:
    session = await open_session(connection(transactions=500))
    account = value(await session.fetch_accounts())[0]
    assert value(await session.fetch_transactions(account, ANCHOR, ANCHOR)) == []
    assert value(await session.fetch_transactions(account, ANCHOR, ANCHOR - WINDOW)) == []
    old = ANCHOR - timedelta(days=HISTORY_DAYS + 400)
    assert value(await session.fetch_transactions(account, old, old + WINDOW)) == []


def test_rows_are_sorted_with_stable_unique_ids(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    _, rows = demo_3000
    all_ids: list[str] = []
    for account_rows in rows.values():
        posted = [r.posted_at for r in account_rows]
        assert posted == sorted(posted)  # type: ignore[type-var]
        all_ids += [r.provider_transaction_id for r in account_rows]
    assert all(ID.match(i) for i in all_ids)
    assert len(set(all_ids)) == len(all_ids) == 3_000


# --------------------------------------------------------------------------- the virtual clock


async def test_each_session_hands_back_the_next_epoch() -> None:
    conn = connection(transactions=100)
    session = await open_session(conn)
    assert session.virtual_now == ANCHOR
    advanced = session.connection
    assert advanced.provider_state["epoch"] == 1
    assert conn.provider_state["epoch"] == 0  # the input is not mutated
    assert {k: v for k, v in advanced.provider_state.items() if k != "epoch"} == {
        k: v for k, v in conn.provider_state.items() if k != "epoch"
    }
    assert advanced.id == conn.id
    assert advanced.alias == conn.alias
    later = await open_session(advanced)
    assert later.virtual_now == ANCHOR + EPOCH_STEP
    assert later.connection.provider_state["epoch"] == 2


async def test_the_virtual_clock_never_passes_real_time() -> None:
    conn = connection(transactions=3_000)
    far = conn.with_provider_state({**conn.provider_state, "epoch": 10_000}, now=NOW)
    session = await open_session(far)
    assert session.virtual_now == NOW
    account = value(await session.fetch_accounts())[5]
    rows = value(await session.fetch_transactions(account, ANCHOR, NOW + timedelta(days=30)))
    assert rows
    assert all(r.posted_at is not None and ANCHOR <= r.posted_at <= NOW for r in rows)


async def _after(conn: ProviderConnection, epochs: int) -> ProviderConnection:
    for _ in range(epochs):
        conn = (await open_session(conn)).connection
    return conn


async def test_time_moves_forward_with_new_rows() -> None:
    start = connection(transactions=3_000)
    day_later = await _after(start, 4)  # 24 virtual hours
    recent = (ANCHOR - timedelta(days=7), NOW)
    before: dict[str, list[FetchedTransaction]] = {}
    after: dict[str, list[FetchedTransaction]] = {}
    for conn, into in ((start, before), (day_later, after)):
        session = await open_session(conn)
        for account in value(await session.fetch_accounts()):
            into[account.provider_account_id] = list(
                value(await session.fetch_transactions(account, *recent))
            )
    old_ids = {r.provider_transaction_id for r in flat(before)}
    new = [r for r in flat(after) if r.provider_transaction_id not in old_ids]
    assert old_ids <= {r.provider_transaction_id for r in flat(after)}
    assert len(new) >= 4  # checking and the card post at least a couple of rows a day
    assert all(r.posted_at and ANCHOR < r.posted_at <= ANCHOR + 4 * EPOCH_STEP for r in new)
    assert any(r.status is TransactionStatus.PENDING for r in new)


async def test_pending_rows_settle_or_cancel_as_updates() -> None:
    start = connection(transactions=3_000)
    settled_conn = await _after(start, 9)  # 54 virtual hours > 48
    recent = (ANCHOR - timedelta(days=7), ANCHOR)
    first = await open_session(start)
    later = await open_session(settled_conn)
    pending: list[FetchedTransaction] = []
    for account in value(await first.fetch_accounts()):
        rows = value(await first.fetch_transactions(account, *recent))
        assert all(
            (r.status is TransactionStatus.PENDING) == (r.posted_at > ANCHOR - PENDING_FOR)  # type: ignore[operator]
            for r in rows
        )
        pending += [r for r in rows if r.status is TransactionStatus.PENDING]
        again = {
            r.provider_transaction_id: r
            for r in value(await later.fetch_transactions(account, *recent))
        }
        assert len(again) == len(rows)  # the same rows: updates, not duplicates
        for row in rows:
            twin = again[row.provider_transaction_id]
            assert twin.status is not TransactionStatus.PENDING
            assert dataclasses.replace(twin, status=row.status) == row
    assert len(pending) >= 5


def test_a_few_rows_end_cancelled_or_failed(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    rows = flat(demo_3000[1])
    statuses = Counter(r.status for r in rows)
    assert statuses[TransactionStatus.CANCELLED] > 0
    assert (
        0
        < statuses[TransactionStatus.CANCELLED] + statuses[TransactionStatus.FAILED]
        < 0.05 * len(rows)
    )
    for row in rows:
        if row.status is TransactionStatus.CANCELLED:
            assert row.subtype is TransactionSubtype.WITHDRAWAL  # card / debit authorisations
        if row.status is TransactionStatus.FAILED:
            assert row.subtype is TransactionSubtype.ACH_OUT


# --------------------------------------------------------------------------- content


@pytest.mark.parametrize(("seed", "rows"), [(42, 3_000), (1, 2_000), (2024, 2_000)])
async def test_every_type_and_subtype_appears(seed: int, rows: int) -> None:
    _, by_account = await everything(connection(seed=seed, transactions=rows))
    found = flat(by_account)
    assert {r.subtype for r in found} == set(TransactionSubtype)
    assert {r.transaction_type for r in found} == set(TransactionType)


def test_subtypes_belong_to_their_types(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    for row in flat(demo_3000[1]):
        assert SUBTYPE_TO_TYPE[row.subtype] is row.transaction_type
        assert row.currency == "USD"
        assert row.raw is None
        assert row.posted_at is not None
        assert row.posted_at.date() == row.transaction_date


def test_money_is_decimal_with_fixed_places(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    accounts, rows = demo_3000
    for row in flat(rows):
        assert type(row.amount) is Decimal
        assert row.amount.as_tuple().exponent == -2
        for name in ("quantity", "unit_price", "fees"):
            field_value = getattr(row, name)
            assert field_value is None or type(field_value) is Decimal, (name, row)
        if row.quantity is not None:
            assert -4 <= int(row.quantity.as_tuple().exponent) <= 0
        if row.unit_price is not None:
            assert -4 <= int(row.unit_price.as_tuple().exponent) <= -2
        if row.fees is not None:
            assert row.fees.as_tuple().exponent == -2
            assert row.fees > 0
    for account in accounts:
        for name in ("balance", "available_balance", "cash_balance"):
            field_value = getattr(account, name)
            assert field_value is None or type(field_value) is Decimal
        for holding in account.holdings:
            for name in (
                "quantity",
                "average_price",
                "cost_basis",
                "market_value",
                "current_price",
            ):
                assert type(getattr(holding, name)) is Decimal, (name, holding)


def test_signs_follow_the_money(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    s = TransactionSubtype
    for row in flat(demo_3000[1]):
        if row.transaction_type is TransactionType.FEE:
            assert row.amount < 0
            assert row.fees == -row.amount
        if row.transaction_type is TransactionType.INCOME and row.subtype is not s.INTEREST:
            assert row.amount > 0
        if row.subtype in {s.SELL, s.SHORT_SELL} and row.asset_type is not AssetType.OPTION:
            assert row.amount > 0
            assert row.quantity is not None
            assert row.quantity < 0
        if row.subtype in {s.BUY_TO_COVER, s.REINVESTMENT}:
            assert row.amount < 0
            assert row.quantity is not None
            assert row.quantity > 0
        if row.subtype in {s.WIRE_IN, s.ACH_IN, s.DEPOSIT, s.TRANSFER_IN}:
            assert row.amount > 0
        if row.subtype in {s.WIRE_OUT, s.ACH_OUT, s.WITHDRAWAL, s.TRANSFER_OUT}:
            assert row.amount < 0
        if row.subtype in {s.SECURITY_IN, s.SECURITY_OUT, s.EXPIRATION}:
            assert row.amount == 0
            assert row.quantity
        if row.subtype in {s.BUY, s.SELL} and row.asset_type is not AssetType.OPTION:
            assert row.quantity is not None
            assert row.unit_price is not None
            gross = abs(row.quantity) * row.unit_price
            if row.quantity == row.quantity.to_integral_value():  # whole shares: exact
                assert abs(row.amount) == (gross - (row.fees or 0) if row.amount > 0 else gross)
            else:  # a dollar amount bought or sold as fractional shares (three places)
                assert abs(abs(row.amount) - gross) <= row.unit_price / 1000


def test_option_trades_use_occ_symbols_and_the_multiplier(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    options = [r for r in flat(demo_3000[1]) if r.asset_type is AssetType.OPTION]
    assert {r.subtype for r in options} >= {
        TransactionSubtype.BUY,
        TransactionSubtype.SELL,
        TransactionSubtype.EXERCISE,
        TransactionSubtype.ASSIGNMENT,
        TransactionSubtype.EXPIRATION,
    }
    for row in options:
        assert row.symbol is not None
        assert len(row.symbol) == 21
        assert OCC.match(row.symbol), row
        assert row.security_name
        assert row.security_name.split()[0] == row.symbol.split()[0]
        assert row.quantity is not None
        assert row.quantity == row.quantity.to_integral_value()
        if row.subtype in {TransactionSubtype.BUY, TransactionSubtype.SELL}:
            assert row.unit_price is not None
            assert row.fees is not None
            premium = abs(row.quantity) * row.unit_price * 100
            sign = -1 if row.subtype is TransactionSubtype.BUY else 1
            assert row.amount == sign * premium - row.fees


def test_descriptions_carry_unicode_commas_and_quotes(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    descriptions = {r.description for r in flat(demo_3000[1])}
    assert all(descriptions)
    assert any(not d.isascii() for d in descriptions)
    assert any("," in d for d in descriptions)
    assert any('"' in d for d in descriptions)
    assert any('"' in d and "," in d and not d.isascii() for d in descriptions)


def test_rows_fit_their_account(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    accounts, rows = demo_3000
    by_type = {a.account_type: rows[a.provider_account_id] for a in accounts}
    for kind in (AccountType.CHECKING, AccountType.SAVINGS, AccountType.CREDIT_CARD):
        assert all(r.transaction_type is not TransactionType.TRADE for r in by_type[kind])
        assert all(r.asset_type is None and r.symbol is None for r in by_type[kind])
    for kind in (AccountType.ROTH_IRA, AccountType.K401):
        forbidden = {TransactionSubtype.SHORT_SELL, TransactionSubtype.MARGIN_INTEREST}
        assert not forbidden & {r.subtype for r in by_type[kind]}
    card = by_type[AccountType.CREDIT_CARD]
    purchases = [r for r in card if r.subtype is TransactionSubtype.WITHDRAWAL]
    assert len(purchases) > len(card) / 2
    checking = by_type[AccountType.CHECKING]
    assert any(
        r.description.startswith("Payroll direct deposit") and r.amount > 1_000 for r in checking
    )
    savings = {r.subtype for r in by_type[AccountType.SAVINGS]}
    assert TransactionSubtype.INTEREST in savings


# --------------------------------------------------------------------------- accounts and holdings


def test_accounts_are_realistic(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    accounts, _ = demo_3000
    assert [a.account_type for a in accounts] == [
        AccountType.BROKERAGE,
        AccountType.ROTH_IRA,
        AccountType.K401,
        AccountType.CHECKING,
        AccountType.SAVINGS,
        AccountType.CREDIT_CARD,
    ]
    assert accounts[0].name == "Individual Brokerage"
    assert len({a.provider_account_id for a in accounts}) == 6
    for account in accounts:
        assert re.fullmatch(r"\*{4}\d{4}", account.account_number_masked)
        assert account.currency == "USD"
        assert account.balance > 0  # the card's balance is the positive amount owed
        assert account.raw is not None
        assert "number" not in json.dumps(account.raw)
    card = accounts[5]
    assert card.available_balance is not None
    assert card.available_balance > 0
    assert card.cash_balance is None
    assert not card.holdings


def test_holdings_value_exactly(
    demo_3000: tuple[list[FetchedAccount], dict[str, list[FetchedTransaction]]],
) -> None:
    accounts, _ = demo_3000
    for account in accounts:
        investment = account.account_type in {
            AccountType.BROKERAGE,
            AccountType.ROTH_IRA,
            AccountType.K401,
        }
        assert bool(account.holdings) == investment
        if not investment:
            continue
        assert 10 <= len(account.holdings) <= 25
        kinds = {h.asset_type for h in account.holdings}
        assert {AssetType.ETF, AssetType.MUTUAL_FUND, AssetType.CASH_EQUIVALENT} <= kinds
        assert len({h.provider_holding_id for h in account.holdings}) == len(account.holdings)
        total = Decimal(0)
        for h in account.holdings:
            assert h.quantity
            assert h.current_price is not None
            assert h.current_price > 0
            multiplier = 100 if h.asset_type is AssetType.OPTION else 1
            assert h.market_value == h.quantity * h.current_price * multiplier
            assert h.average_price is not None
            assert h.cost_basis is not None
            assert abs(h.cost_basis - h.quantity * h.average_price * multiplier) <= Decimal("0.005")
            total += h.market_value
        assert account.cash_balance is not None
        assert account.balance == account.cash_balance + total
    brokerage = accounts[0].holdings
    assert any(h.quantity < 0 and h.asset_type is AssetType.EQUITY for h in brokerage)
    options = [h for h in brokerage if h.asset_type is AssetType.OPTION]
    assert options
    assert all(OCC.match(h.symbol) for h in options)


async def test_prices_and_balances_move_with_virtual_time() -> None:
    conn = connection(transactions=100)
    first = value(await (await open_session(conn)).fetch_accounts())
    later = value(await (await open_session(await _after(conn, 1))).fetch_accounts())
    assert first[0].balance != later[0].balance
    assert [h.provider_holding_id for h in first[0].holdings] == [
        h.provider_holding_id for h in later[0].holdings
    ]
    assert [h.quantity for h in first[0].holdings] == [h.quantity for h in later[0].holdings]
    assert any(
        a.current_price != b.current_price
        for a, b in zip(first[0].holdings, later[0].holdings, strict=True)
    )
    assert first[3].balance != later[3].balance


async def test_seven_accounts_add_an_hsa() -> None:
    session = await open_session(connection(accounts=7, transactions=200))
    accounts = value(await session.fetch_accounts())
    assert accounts[6].account_type is AccountType.HSA
    assert 10 <= len(accounts[6].holdings) <= 25


# --------------------------------------------------------------------------- failures


async def test_a_failing_account_fails_only_its_transactions() -> None:
    session = await open_session(connection(transactions=500, fail_accounts=[3]))
    accounts = value(await session.fetch_accounts())
    assert len(accounts) == 6
    failure = error(await session.fetch_transactions(accounts[3], ANCHOR - WINDOW, ANCHOR))
    assert failure.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert failure.details["account"] == accounts[3].provider_account_id
    assert value(await session.fetch_transactions(accounts[5], ANCHOR - WINDOW, ANCHOR))


async def test_an_account_of_another_connection_is_not_found() -> None:
    small = await open_session(connection(accounts=2, transactions=50))
    big = await open_session(connection(accounts=7, transactions=50))
    stranger = value(await big.fetch_accounts())[6]
    failure = error(await small.fetch_transactions(stranger, ANCHOR - WINDOW, ANCHOR))
    assert failure.code is ErrorCode.NOT_FOUND


# --------------------------------------------------------------------------- the fast path


def test_fast_materialisation_builds_real_frozen_values() -> None:
    ledger = Ledger(seed=5, accounts=6, transactions=20_000, anchor=ANCHOR)
    rows = ledger.accounts[0].rows_between(ANCHOR - timedelta(days=30), ANCHOR, ANCHOR)
    assert rows
    cutoff = ANCHOR - PENDING_FOR
    built = materialize(rows, cutoff)
    names = [f.name for f in dataclasses.fields(FetchedTransaction)]
    for row, fast in zip(rows, built, strict=True):
        fields: dict[str, Any] = dict(zip(names, row, strict=True))
        slow = FetchedTransaction(**fields)
        if slow.posted_at and slow.posted_at > cutoff:
            slow = dataclasses.replace(slow, status=TransactionStatus.PENDING)
        assert type(fast) is FetchedTransaction
        assert fast == slow
        assert repr(fast) == repr(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built[0].amount = Decimal(1)  # type: ignore[misc]


def _sequence_of_ids(rows: Sequence[FetchedTransaction]) -> list[str]:
    return [r.provider_transaction_id for r in rows]


async def test_first_sync_walk_matches_one_big_read() -> None:
    conn = connection(transactions=1_000)
    session = await open_session(conn)
    account = value(await session.fetch_accounts())[0]
    walked = await history(session, account)
    assert CAPABILITIES.history_limit is not None
    big = value(await session.fetch_transactions(account, NOW - CAPABILITIES.history_limit, NOW))
    assert _sequence_of_ids(walked) == _sequence_of_ids(big)


async def test_fetching_leaves_the_garbage_collector_as_it_found_it() -> None:
    session = await open_session(connection(transactions=2_000))
    account = value(await session.fetch_accounts())[0]
    start = NOW - timedelta(days=400)
    assert gc.isenabled()
    rows = value(await session.fetch_transactions(account, start, NOW))
    assert rows
    assert gc.isenabled()
    with pytest.raises(ValueError, match="timezone-aware"):
        await session.fetch_transactions(account, start.replace(tzinfo=None), NOW)
    assert gc.isenabled()
    gc.disable()
    try:
        again = value(await session.fetch_transactions(account, start, NOW))
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert again == rows
