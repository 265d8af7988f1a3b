"""The ``sqlite3`` readers return exactly what the SQLAlchemy readers return (SQLite only)."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.application.queries import TransactionCriteria
from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import ErrorCode, Success
from dashtam_cli.domain.holdings import AssetType, BalanceSnapshot, SnapshotSource
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.transactions import (
    Transaction,
    TransactionStatus,
    TransactionSubtype,
    TransactionType,
)
from dashtam_cli.infrastructure.database import SCHEMA_HEAD, SqlDatabaseAdmin, sqlite_revision
from dashtam_cli.infrastructure.db.engine import sqlite_path
from dashtam_cli.infrastructure.db.errors import DatabaseUnavailableError
from dashtam_cli.infrastructure.db.readers import (
    SqlAccountReader,
    SqlBalanceReader,
    SqlConnectionReader,
    SqlHoldingReader,
    SqlTransactionReader,
)
from dashtam_cli.infrastructure.db.sqlite_readers import SqliteReaders, instant_text
from dashtam_cli.infrastructure.db.unit_of_work import (
    DatabaseUnavailableError as ReexportedError,
)
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.dbtest_support import (
    EXACT_VALUES,
    NOW,
    make_account,
    make_connection,
    make_holding,
    make_transaction,
)

pytestmark = pytest.mark.db

_KINDS = [
    (TransactionType.TRADE, TransactionSubtype.BUY),
    (TransactionType.TRADE, TransactionSubtype.SELL),
    (TransactionType.INCOME, TransactionSubtype.DIVIDEND),
    (TransactionType.TRANSFER, TransactionSubtype.DEPOSIT),
    (TransactionType.FEE, TransactionSubtype.COMMISSION),
]
_SYMBOLS = ["AAPL", "msft", None, "VTI"]
_TEXTS = ["Buy shares", "100% done", "under_score", "Café payroll", "Plain / slash"]
_STATUSES = list(TransactionStatus)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the ``sqlite3`` readers exist for SQLite files."""
    return f"sqlite:///{tmp_path / 'data' / 'dashtam.db'}"


def uid(prefix: str, n: int) -> UUID:
    return UUID((prefix + f"{n:x}").ljust(32, "0"))


@dataclass
class Seeded:
    accounts: list[Account]
    transactions: list[Transaction]


@pytest.fixture
async def seeded(uow_factory: SqlUnitOfWorkFactory) -> Seeded:
    """Varied rows: every nullable column both set and NULL, exact decimals, several zones."""
    main = make_connection(
        "main", provider_state={"cursor": Decimal("1.50"), "pages": 3, "name": "x"}
    )
    other = make_connection("other", credentials=None, connected_at=None, created_at=NOW)
    accounts = [
        make_account(
            main.id,
            "a",
            id=uid("aa", 1),
            name="Alpha",
            balance=Money.of("1234.5600"),
            available_balance=Money.of("0.00000001"),
            cash_balance=Money(Decimal("-0.0001"), "EUR"),
            last_synced_at=datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
            raw={"accountNumber": "123456789"},
        ),
        make_account(main.id, "b", id=uid("bb", 2), name="Beta", is_active=False),
        make_account(other.id, "c", id=uid("cc", 3), name="Alpha"),  # same name: id decides
    ]
    rows = []
    for n in range(90):
        kind, subtype = _KINDS[n % len(_KINDS)]
        amount = EXACT_VALUES[n % len(EXACT_VALUES)] * (-1 if n % 2 else 1)
        rows.append(
            make_transaction(
                accounts[n % 3].id,
                f"T{n}",
                id=uid("beef", n + 1) if n < 4 else UUID(f"{n + 1:04x}".ljust(32, "0")),
                transaction_type=kind,
                subtype=subtype,
                status=_STATUSES[n % len(_STATUSES)],
                amount=Money(amount, "USD"),
                fees=Money.of("0.10") if n % 3 == 0 else None,
                transaction_date=date(2025, 1, 1) + timedelta(days=n // 4),
                settlement_date=date(2025, 2, 1) if n % 2 else None,
                posted_at=datetime(2025, 1, 1, 12, tzinfo=UTC) + timedelta(hours=n)
                if n % 4
                else None,
                description=f"{_TEXTS[n % len(_TEXTS)]} #{n}",
                symbol=_SYMBOLS[n % len(_SYMBOLS)],
                security_name="Microsoft Corp" if n % 7 == 0 else None,
                asset_type=AssetType.EQUITY if n % 5 == 0 else None,
                quantity=Decimal("10.000") if n % 2 else None,
                unit_price=Decimal("150.025") if n % 2 else None,
                raw={"accountNumber": "123456789", "n": n},
            )
        )
    holdings = [
        make_holding(
            accounts[0].id,
            "AAPL",
            quantity=Decimal("10.5000"),
            average_price=Decimal("0.1"),
            cost_basis=Money.of("12345678901.2345"),
            market_value=Money.of("1500.00"),
            current_price=Decimal("150.025"),
            security_name="Apple",
            raw={"accountNumber": "123456789"},
        ),
        make_holding(accounts[0].id, "MSFT", is_active=False),
        make_holding(accounts[2].id, "AAPL", id=uid("0a", 1)),
        make_holding(accounts[2].id, "BND", asset_type=AssetType.FIXED_INCOME),
    ]
    t0 = datetime(2025, 1, 1, 9, 30, 15, 123456, tzinfo=UTC)
    snapshots = [
        BalanceSnapshot(
            account_id=accounts[day % 3].id,
            captured_at=t0 + timedelta(days=day, microseconds=day),
            balance=Money(Decimal(f"{day}.{day:03d}"), "USD"),
            cash_value=Money.of("0.10") if day % 2 else None,
            holdings_value=Money.of("12.3400") if day % 3 else None,
            source=SnapshotSource.SYNC if day % 4 else SnapshotSource.MANUAL,
            sync_run_id=uid("5", day) if day % 2 else None,
        )
        for day in range(20)
    ]
    async with uow_factory() as uow:
        await uow.connections.save(main)
        await uow.connections.save(other)
        await uow.accounts.upsert_many(accounts)
        await uow.transactions.upsert_many(rows)
        await uow.holdings.upsert_many(holdings)
        for snapshot in snapshots:
            await uow.balances.add(snapshot)
        await uow.commit()
    return Seeded(accounts=accounts, transactions=rows)


@pytest.fixture
def fast(db_url: str, engine: AsyncEngine) -> Iterator[SqliteReaders]:
    """The ``sqlite3`` readers on the test database (after ``engine`` migrated it)."""
    path = sqlite_path(db_url)
    assert path is not None
    readers = SqliteReaders(path)
    yield readers
    readers.close()


def same(got: Any, want: Any) -> None:
    """Equal, and equal in repr: Decimal scale (``1.50`` vs ``1.5``) and time zones count."""
    assert got == want
    assert repr(got) == repr(want)


def criteria_cases(seeded: Seeded) -> list[TransactionCriteria]:
    a, b, c = (account.id for account in seeded.accounts)
    return [
        TransactionCriteria(),
        TransactionCriteria(account_ids=(a,)),
        TransactionCriteria(account_ids=(a,), since=date(2025, 1, 10)),
        TransactionCriteria(account_ids=(a, c)),
        TransactionCriteria(account_ids=(a, b, c), since=date(2025, 1, 5)),
        TransactionCriteria(account_ids=(*(uid("f", n) for n in range(70)), a)),  # IN (...)
        TransactionCriteria(account_ids=()),
        TransactionCriteria(since=date(2025, 1, 3), until=date(2025, 1, 6)),
        TransactionCriteria(until=date(2025, 1, 2)),
        TransactionCriteria(transaction_type=TransactionType.TRADE),
        TransactionCriteria(subtype=TransactionSubtype.DIVIDEND, account_ids=(b,)),
        TransactionCriteria(symbol="MSFT"),
        TransactionCriteria(symbol="aapl", account_ids=(c,)),
        TransactionCriteria(search="PAYROLL"),
        TransactionCriteria(search="microsoft"),
        TransactionCriteria(search="aapl"),
        TransactionCriteria(search="100%"),
        TransactionCriteria(search="y_s"),
        TransactionCriteria(search="0%d"),
        TransactionCriteria(search="/ s"),
        TransactionCriteria(search="under_score", account_ids=(a, c), since=date(2025, 1, 2)),
        TransactionCriteria(search="#1", until=date(2025, 1, 20)),
    ]


async def test_transaction_lists_match_the_sqlalchemy_reader(
    engine: AsyncEngine, seeded: Seeded, fast: SqliteReaders
) -> None:
    slow = SqlTransactionReader(engine)
    non_empty = 0
    for criteria, limit in itertools.product(criteria_cases(seeded), [1, 7, 200]):
        want = await slow.list_transactions(criteria, limit=limit)
        got = await fast.transactions.list_transactions(criteria, limit=limit)
        same(got, want)
        non_empty += bool(want)
    assert non_empty >= 50  # the cases are not vacuous
    everything = await fast.transactions.list_transactions(TransactionCriteria(), limit=500)
    assert len(everything) == len(seeded.transactions)
    stored = {row.id: str(row.amount.amount) for row in everything}
    assert stored == {txn.id: str(txn.amount.amount) for txn in seeded.transactions}


async def test_prefix_lookups_and_single_transactions_match(
    engine: AsyncEngine, seeded: Seeded, fast: SqliteReaders
) -> None:
    slow = SqlTransactionReader(engine)
    for prefix, limit in itertools.product(["b", "be", "beef", "beef1", "0", "f", "1"], [1, 3, 50]):
        want = await slow.ids_with_prefix(prefix, limit=limit)
        same(await fast.transactions.ids_with_prefix(prefix, limit=limit), want)
    assert len(await fast.transactions.ids_with_prefix("beef", limit=50)) == 4
    with pytest.raises(ValueError, match="1 to 32"):
        await fast.transactions.ids_with_prefix("", limit=5)
    with pytest.raises(ValueError, match="1 to 32"):
        await fast.transactions.ids_with_prefix("a" * 33, limit=5)
    for txn in seeded.transactions:
        got = await fast.transactions.get_transaction(txn.id)
        same(got, await slow.get_transaction(txn.id))
        assert got is not None
        assert got.raw is None  # raw payloads (full account numbers) are never read
        assert got.created_at is not None
        assert got.created_at.tzinfo is UTC
    assert await fast.transactions.get_transaction(uid("9", 9)) is None


async def test_connections_accounts_and_holdings_match(
    engine: AsyncEngine, seeded: Seeded, fast: SqliteReaders
) -> None:
    connections: list[ProviderConnection] = await fast.connections.list_connections()
    same(connections, await SqlConnectionReader(engine).list_connections())
    assert connections[0].provider_state == {"cursor": Decimal("1.50"), "pages": 3, "name": "x"}
    assert connections[0].credentials is not None
    assert connections[0].credentials.ciphertext == b"\x00\x01secret-bytes\xff"

    accounts = await fast.accounts.list_accounts()
    same(accounts, await SqlAccountReader(engine).list_accounts())
    assert [a.name for a in accounts] == ["Alpha", "Alpha", "Beta"]
    assert all(a.raw is None for a in accounts)
    alpha = accounts[0]
    assert str(alpha.balance.amount) == "1234.5600"
    assert alpha.cash_balance == Money(Decimal("-0.0001"), "EUR")
    assert alpha.last_synced_at == datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)

    slow_holdings = SqlHoldingReader(engine)
    a, b, c = (account.id for account in seeded.accounts)
    for ids, inactive in itertools.product([None, [a], [a, c], [b], []], [False, True]):
        want = await slow_holdings.list_holdings(account_ids=ids, include_inactive=inactive)
        got = await fast.holdings.list_holdings(account_ids=ids, include_inactive=inactive)
        same(got, want)
    everything = await fast.holdings.list_holdings(include_inactive=True)
    assert [(h.symbol, h.is_active) for h in everything] == [
        ("AAPL", True),
        ("AAPL", True),
        ("BND", True),
        ("MSFT", False),
    ]
    apple = next(h for h in everything if h.account_id == a)
    assert apple.cost_basis == Money.of("12345678901.2345")
    assert str(apple.quantity) == "10.5000"
    assert apple.raw is None


async def test_balance_snapshots_match(
    engine: AsyncEngine, seeded: Seeded, fast: SqliteReaders
) -> None:
    slow = SqlBalanceReader(engine)
    a, b, c = (account.id for account in seeded.accounts)
    for account_id in (a, b, c, uid("9", 9)):
        same(
            await fast.balances.latest_snapshot(account_id), await slow.latest_snapshot(account_id)
        )
    t0 = datetime(2025, 1, 1, 9, 30, 15, 123456, tzinfo=UTC)
    paris = datetime(2025, 1, 8, 11, 30, 15, 123463, tzinfo=timezone(timedelta(hours=1)))
    for ids, since in itertools.product(
        [None, [a], [a, c], []], [None, t0 + timedelta(days=10), paris, t0 - timedelta(days=1)]
    ):
        want = await slow.list_snapshots(account_ids=ids, since=since)
        same(await fast.balances.list_snapshots(account_ids=ids, since=since), want)
    assert len(await fast.balances.list_snapshots()) == 20
    with pytest.raises(ValueError, match="naive"):
        await fast.balances.list_snapshots(since=datetime(2025, 1, 1))


def test_instant_text_is_what_utc_datetime_stores() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert instant_text(moment) == "2025-01-02 03:04:05.000000"


async def test_a_missing_file_is_unreachable_and_never_created(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "dashtam.db"
    readers = SqliteReaders(path)
    with pytest.raises(DatabaseUnavailableError) as caught:
        await readers.accounts.list_accounts()
    assert caught.value.error.code is ErrorCode.DATABASE_UNREACHABLE
    assert str(path.resolve()) in caught.value.error.message
    assert not path.exists()
    assert ReexportedError is DatabaseUnavailableError  # unit_of_work keeps exporting it


async def test_an_unmigrated_file_is_a_database_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    readers = SqliteReaders(path)
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            await readers.transactions.list_transactions(TransactionCriteria(), limit=5)
        assert caught.value.error.code is ErrorCode.DATABASE_ERROR
    finally:
        readers.close()


async def test_reads_see_rows_committed_after_the_connection_opened(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, fast: SqliteReaders
) -> None:
    assert await fast.accounts.list_accounts() == []
    connection = make_connection("late")
    async with uow_factory() as uow:
        await uow.connections.save(connection)
        await uow.accounts.upsert_many([make_account(connection.id)])
        await uow.commit()
    assert [a.name for a in await fast.accounts.list_accounts()] == ["Brokerage acct-1"]


async def test_the_revision_check_on_sqlite_never_builds_the_engine(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    def no_engine() -> AsyncEngine:
        raise AssertionError("the engine must not be built for a current SQLite schema")

    admin = SqlDatabaseAdmin(url=db_url, engine=no_engine)
    info = await admin.upgrade()
    assert info.value.revision == SCHEMA_HEAD  # type: ignore[union-attr]
    assert (await admin.info()).value.up_to_date  # type: ignore[union-attr]

    missing = tmp_path / "missing" / "x.db"
    assert sqlite_revision(missing) is None
    assert not missing.exists()
    unmigrated = tmp_path / "plain.db"
    sqlite3.connect(unmigrated).execute("CREATE TABLE t (a)").connection.close()
    assert sqlite_revision(unmigrated) is None
    plain = await SqlDatabaseAdmin(url=f"sqlite:///{unmigrated}", engine=no_engine).info()
    assert isinstance(plain, Success)
    assert plain.value.revision is None
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    failed = await SqlDatabaseAdmin(url=f"sqlite:///{garbage}", engine=no_engine).info()
    assert failed.error.code is ErrorCode.DATABASE_ERROR  # type: ignore[union-attr]


def test_a_damaged_file_says_what_sqlite_said_and_how_to_recover(tmp_path: Path) -> None:
    from dashtam_cli.infrastructure.db.sqlite_readers import sqlite_error

    path = tmp_path / "dashtam.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        sqlite3.connect(path).execute("SELECT 1 FROM sqlite_master").fetchall()
    error = sqlite_error(path, caught.value, opening=False)
    assert error.code is ErrorCode.DATABASE_ERROR
    assert error.message.endswith(": file is not a database")
    assert error.hint is not None
    assert "backup" in error.hint
    assert "db upgrade" not in error.hint
