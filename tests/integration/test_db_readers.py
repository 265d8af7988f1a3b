"""The SQL readers on SQLite and PostgreSQL: filters, order, limits, prefixes, no raw payloads."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.application.queries import TransactionCriteria
from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.holdings import BalanceSnapshot
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.transactions import Transaction, TransactionSubtype, TransactionType
from dashtam_cli.infrastructure.db.engine import create_engine
from dashtam_cli.infrastructure.db.migrate import upgrade
from dashtam_cli.infrastructure.db.readers import (
    SqlAccountReader,
    SqlBalanceReader,
    SqlConnectionReader,
    SqlHoldingReader,
    SqlTransactionReader,
    transaction_conditions,
)
from dashtam_cli.infrastructure.db.schema import transactions
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.dbtest_support import (
    make_account,
    make_connection,
    make_holding,
    make_transaction,
)

pytestmark = pytest.mark.db

_TYPES = [
    (TransactionType.TRADE, TransactionSubtype.BUY),
    (TransactionType.TRADE, TransactionSubtype.SELL),
    (TransactionType.INCOME, TransactionSubtype.DIVIDEND),
    (TransactionType.TRANSFER, TransactionSubtype.DEPOSIT),
    (TransactionType.FEE, TransactionSubtype.COMMISSION),
]
_SYMBOLS = ["AAPL", "msft", None, "VTI"]
_TEXTS = ["Buy shares", "100% done", "under_score", "Café payroll", "Plain"]


def uid(prefix: str, n: int) -> UUID:
    return UUID((prefix + f"{n:x}").ljust(32, "0"))


@dataclass
class Seeded:
    accounts: list[Account]
    transactions: list[Transaction]


@pytest.fixture
async def seeded(uow_factory: SqlUnitOfWorkFactory) -> Seeded:
    """Two connections, three accounts, 60 varied transactions (several per date)."""
    main, other = make_connection("main"), make_connection("other")
    accounts = [
        make_account(
            main.id, "a", id=uid("aa", 1), name="Alpha", raw={"accountNumber": "123456789"}
        ),
        make_account(main.id, "b", id=uid("bb", 2), name="Beta", is_active=False),
        make_account(other.id, "c", id=uid("cc", 3), name="Gamma"),
    ]
    rows = []
    for n in range(60):
        kind, subtype = _TYPES[n % len(_TYPES)]
        rows.append(
            make_transaction(
                accounts[n % 3].id,
                f"T{n}",
                id=uid("beef" if n < 3 else "", n + 1),
                transaction_type=kind,
                subtype=subtype,
                amount=Money.of(f"{n}.{n:02d}"),
                transaction_date=date(2025, 1, 1) + timedelta(days=n // 4),
                description=f"{_TEXTS[n % len(_TEXTS)]} #{n}",
                symbol=_SYMBOLS[n % len(_SYMBOLS)],
                security_name="Microsoft Corp" if n % 7 == 0 else None,
                raw={"accountNumber": "123456789", "n": n},
            )
        )
    async with uow_factory() as uow:
        await uow.connections.save(main)
        await uow.connections.save(other)
        await uow.accounts.upsert_many(accounts)
        await uow.transactions.upsert_many(rows)
        await uow.commit()
    return Seeded(accounts=accounts, transactions=rows)


def expected(seeded: Seeded, criteria: TransactionCriteria, limit: int) -> list[UUID]:
    """What the readers must return: Python's filter, newest first (date, then id)."""
    matching = [t for t in seeded.transactions if criteria.matches(t)]
    matching.sort(key=lambda t: (t.transaction_date, t.id.hex), reverse=True)
    return [t.id for t in matching[:limit]]


def criteria_cases(seeded: Seeded) -> list[TransactionCriteria]:
    a, b, c = (account.id for account in seeded.accounts)
    return [
        TransactionCriteria(),
        TransactionCriteria(account_ids=(a,)),
        TransactionCriteria(account_ids=(a, c)),  # one index walk per account, merged
        TransactionCriteria(account_ids=(a, b, c), since=date(2025, 1, 5)),
        TransactionCriteria(account_ids=()),
        TransactionCriteria(since=date(2025, 1, 3), until=date(2025, 1, 6)),
        TransactionCriteria(until=date(2025, 1, 2)),
        TransactionCriteria(transaction_type=TransactionType.TRADE),
        TransactionCriteria(subtype=TransactionSubtype.DIVIDEND, account_ids=(b,)),
        TransactionCriteria(symbol="MSFT"),  # stored as "msft": any case
        TransactionCriteria(search="PAYROLL"),  # any case
        TransactionCriteria(search="microsoft"),  # security name
        TransactionCriteria(search="aapl"),  # symbol
        TransactionCriteria(search="100%"),  # % is literal
        TransactionCriteria(search="y_s"),  # _ is literal: not "Buy shares"
        TransactionCriteria(search="0%d"),  # % is literal: not "100% done"
        TransactionCriteria(search="under_score", account_ids=(a, c), since=date(2025, 1, 2)),
        TransactionCriteria(search="#1"),
    ]


async def test_list_transactions_filters_orders_and_limits_like_the_criteria_say(
    engine: AsyncEngine, seeded: Seeded
) -> None:
    reader = SqlTransactionReader(engine)
    for criteria, limit in itertools.product(criteria_cases(seeded), [5, 100]):
        rows = await reader.list_transactions(criteria, limit=limit)
        assert [r.id for r in rows] == expected(seeded, criteria, limit), (criteria, limit)
    # the cases are not vacuous
    assert len(expected(seeded, TransactionCriteria(search="100%"), 100)) == 12
    assert expected(seeded, TransactionCriteria(search="y_s"), 100) == []
    assert expected(seeded, TransactionCriteria(search="0%d"), 100) == []
    assert (
        len(expected(seeded, TransactionCriteria(account_ids=(seeded.accounts[0].id,)), 100)) == 20
    )


async def test_list_rows_carry_exact_money_and_every_business_field(
    engine: AsyncEngine, seeded: Seeded
) -> None:
    reader = SqlTransactionReader(engine)
    by_id = {t.id: t for t in seeded.transactions}
    rows = await reader.list_transactions(TransactionCriteria(), limit=100)
    assert len(rows) == 60
    for row in rows:
        txn = by_id[row.id]
        assert row.amount == txn.amount
        assert str(row.amount.amount) == str(txn.amount.amount)  # scale kept: 7.07, 10.10
        assert (row.subtype, row.symbol, row.description) == (
            txn.subtype,
            txn.symbol,
            txn.description,
        )
        assert (row.quantity, row.unit_price) == (Decimal("10"), Decimal("150.025"))
    assert sum((r.amount.amount for r in rows), Decimal(0)) == sum(
        (Decimal(f"{n}.{n:02d}") for n in range(60)), Decimal(0)
    )


async def test_ids_with_prefix_scan_the_primary_key(engine: AsyncEngine, seeded: Seeded) -> None:
    reader = SqlTransactionReader(engine)
    beef = sorted((t.id for t in seeded.transactions if t.id.hex.startswith("beef")), key=str)
    assert await reader.ids_with_prefix("beef", limit=10) == beef
    assert await reader.ids_with_prefix("beef", limit=2) == beef[:2]
    one = beef[1]
    assert await reader.ids_with_prefix(one.hex, limit=10) == [one]
    assert await reader.ids_with_prefix(one.hex[:6], limit=10) == [one]
    assert await reader.ids_with_prefix("beef0", limit=10) == []
    with pytest.raises(ValueError, match="hex digits"):
        await reader.ids_with_prefix("", limit=1)


async def test_get_transaction_never_reads_the_raw_payload(
    engine: AsyncEngine, seeded: Seeded
) -> None:
    reader = SqlTransactionReader(engine)
    original = seeded.transactions[7]
    got = await reader.get_transaction(original.id)
    assert got is not None
    assert got.raw is None
    assert (got.amount, got.description, got.transaction_date) == (
        original.amount,
        original.description,
        original.transaction_date,
    )
    assert await reader.get_transaction(uid("0", 1)) is None


async def test_accounts_and_connections_for_display(engine: AsyncEngine, seeded: Seeded) -> None:
    accounts = await SqlAccountReader(engine).list_accounts()
    assert [a.name for a in accounts] == ["Alpha", "Beta", "Gamma"]
    assert all(a.raw is None for a in accounts)  # raw payloads hold full account numbers
    assert [a.is_active for a in accounts] == [True, False, True]
    connections = await SqlConnectionReader(engine).list_connections()
    assert sorted(c.alias for c in connections) == ["main", "other"]


async def test_holdings_active_by_default_and_per_account(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, seeded: Seeded
) -> None:
    alpha, _, gamma = seeded.accounts
    async with uow_factory() as uow:
        await uow.holdings.upsert_many(
            [
                make_holding(alpha.id, "MSFT", market_value=Money.of("100.10"), raw={"x": 1}),
                make_holding(alpha.id, "AAPL", market_value=Money.of("0.1")),
                make_holding(alpha.id, "GONE", is_active=False),
                make_holding(gamma.id, "VTI", market_value=Money.of("0.2")),
            ]
        )
        await uow.commit()
    reader = SqlHoldingReader(engine)
    active = await reader.list_holdings()
    assert [h.symbol for h in active] == ["AAPL", "MSFT", "VTI"]
    assert all(h.raw is None for h in active)
    assert [h.symbol for h in await reader.list_holdings(account_ids=[alpha.id])] == [
        "AAPL",
        "MSFT",
    ]
    every = await reader.list_holdings(account_ids=[alpha.id], include_inactive=True)
    assert [h.symbol for h in every] == ["AAPL", "GONE", "MSFT"]
    assert await reader.list_holdings(account_ids=[]) == []
    assert active[1].market_value == Money.of("100.10")


async def test_snapshots_since_a_date_include_the_state_before_it(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, seeded: Seeded
) -> None:
    alpha, beta, gamma = seeded.accounts
    t0 = datetime(2025, 1, 1, tzinfo=UTC)

    def snap(account: Account, day: int, amount: str) -> BalanceSnapshot:
        return BalanceSnapshot(
            account_id=account.id,
            captured_at=t0 + timedelta(days=day, microseconds=day),
            balance=Money.of(amount),
            cash_value=Money.of("0.01"),
        )

    snapshots = [
        snap(alpha, 0, "1.00"),
        snap(alpha, 5, "2.00"),
        snap(alpha, 20, "3.00"),
        snap(beta, 1, "10.00"),
        snap(gamma, 25, "100.00"),
    ]
    async with uow_factory() as uow:
        for s in snapshots:
            await uow.balances.add(s)
        await uow.commit()
    reader = SqlBalanceReader(engine)
    everything = await reader.list_snapshots()
    assert [s.balance.amount for s in everything] == [
        Decimal("1.00"),
        Decimal("10.00"),
        Decimal("2.00"),
        Decimal("3.00"),
        Decimal("100.00"),
    ]
    since = await reader.list_snapshots(since=t0 + timedelta(days=10))
    # alpha's and beta's latest before the date, then everything after it
    assert [(s.account_id, s.balance.amount) for s in since] == [
        (beta.id, Decimal("10.00")),
        (alpha.id, Decimal("2.00")),
        (alpha.id, Decimal("3.00")),
        (gamma.id, Decimal("100.00")),
    ]
    scoped = await reader.list_snapshots(account_ids=[alpha.id], since=t0 + timedelta(days=10))
    assert [s.balance.amount for s in scoped] == [Decimal("2.00"), Decimal("3.00")]
    latest = await reader.latest_snapshot(alpha.id)
    assert latest is not None
    assert (latest.balance, latest.cash_value) == (Money.of("3.00"), Money.of("0.01"))
    assert latest.captured_at == snapshots[2].captured_at
    assert await reader.latest_snapshot(uid("0", 9)) is None


async def test_one_account_listing_walks_the_account_date_index_on_sqlite(
    tmp_path: Path,
) -> None:
    """SQLite plans by rules (no ANALYZE statistics in a user's file): check the plan it picks."""
    engine = create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        await upgrade(engine)
        criteria = TransactionCriteria(account_ids=(uid("aa", 1),), since=date(2025, 1, 2))
        query = (
            select(transactions.c.id)
            .where(*transaction_conditions(criteria, dialect="sqlite"))
            .order_by(transactions.c.transaction_date.desc(), transactions.c.id.desc())
            .limit(50)
        )
        sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
        async with engine.connect() as connection:
            rows = await connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            plan = " ".join(str(row[-1]) for row in rows)
    finally:
        await engine.dispose()
    assert "SEARCH transactions USING INDEX ix_transactions_account_id_transaction_date" in plan
