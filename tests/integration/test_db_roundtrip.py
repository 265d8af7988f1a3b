"""Values survive the database exactly: decimals, instants, JSON with decimals, bytes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.domain.connections import CredentialKind
from dashtam_cli.domain.holdings import BalanceSnapshot
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.protocols import StoredSecret
from dashtam_cli.infrastructure.db.repositories import (
    SqlBalanceSnapshotRepository,
    SqlTransactionRepository,
)
from dashtam_cli.infrastructure.db.schema import metadata, transactions
from dashtam_cli.infrastructure.db.types import DecimalType
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.integration.dbtest_support import (
    EXACT_VALUES,
    NOW,
    make_account,
    make_connection,
    make_holding,
    make_transaction,
    same_decimal,
    seed_account,
)

pytestmark = pytest.mark.db


async def _round_trip(uow: SqlUnitOfWork, value: Decimal, key: str) -> dict[str, Decimal | None]:
    """Write ``value`` into every decimal column; return what each column gives back."""
    account = await seed_account(uow, alias=f"rt-{key}")
    txn = make_transaction(
        account.id,
        key,
        amount=Money(value, "USD"),
        fees=Money(value, "USD"),
        quantity=value,
        unit_price=value,
    )
    await uow.transactions.upsert_many([txn])
    holding = make_holding(
        account.id,
        key,
        quantity=value,
        average_price=value,
        current_price=value,
        cost_basis=Money(value, "USD"),
        market_value=Money(value, "EUR"),
    )
    await uow.holdings.upsert_many([holding])
    snapshot = BalanceSnapshot(
        account_id=account.id,
        captured_at=NOW,
        balance=Money(value, "USD"),
        cash_value=Money(value, "USD"),
        holdings_value=Money(value, "USD"),
    )
    await uow.balances.add(snapshot)
    await uow.accounts.upsert_many(
        [
            make_account(
                account.connection_id,
                account.provider_account_id,
                balance=Money(value, "USD"),
                available_balance=Money(value, "USD"),
                cash_balance=Money(value, "GBP"),
            )
        ]
    )
    await uow.commit()

    stored_txn = await uow.transactions.get(txn.id)
    (stored_holding,) = await uow.holdings.list_for_account(account.id)
    (stored_snapshot,) = await SqlBalanceSnapshotRepository(uow.connection).list_for_account(
        account.id
    )
    stored_account = await uow.accounts.get(account.id)
    assert stored_txn is not None
    assert stored_account is not None
    assert stored_txn.fees is not None
    assert stored_holding.market_value is not None
    assert stored_holding.cost_basis is not None
    assert stored_snapshot.cash_value is not None
    assert stored_snapshot.holdings_value is not None
    assert stored_account.available_balance is not None
    assert stored_account.cash_balance is not None
    assert stored_holding.market_value.currency == "EUR"
    assert stored_account.cash_balance.currency == "GBP"
    return {
        "transaction.amount": stored_txn.amount.amount,
        "transaction.fees": stored_txn.fees.amount,
        "transaction.quantity": stored_txn.quantity,
        "transaction.unit_price": stored_txn.unit_price,
        "holding.quantity": stored_holding.quantity,
        "holding.average_price": stored_holding.average_price,
        "holding.current_price": stored_holding.current_price,
        "holding.cost_basis": stored_holding.cost_basis.amount,
        "holding.market_value": stored_holding.market_value.amount,
        "snapshot.balance": stored_snapshot.balance.amount,
        "snapshot.cash_value": stored_snapshot.cash_value.amount,
        "snapshot.holdings_value": stored_snapshot.holdings_value.amount,
        "account.balance": stored_account.balance.amount,
        "account.available_balance": stored_account.available_balance.amount,
        "account.cash_balance": stored_account.cash_balance.amount,
    }


@pytest.mark.parametrize("value", EXACT_VALUES, ids=str)
async def test_decimals_round_trip_exactly_through_every_money_column(
    uow_factory: SqlUnitOfWorkFactory, backend: str, value: Decimal
) -> None:
    async with uow_factory() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        got = await _round_trip(uow, value, "fixed")
    wrong = {column: v for column, v in got.items() if not same_decimal(v, value, backend)}
    assert wrong == {}


_decimals = st.integers(min_value=0, max_value=12).flatmap(
    lambda places: st.decimals(
        min_value=Decimal("-1e12"),
        max_value=Decimal("1e12"),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=_decimals)
async def test_generated_decimals_round_trip_exactly(
    uow_factory: SqlUnitOfWorkFactory, backend: str, value: Decimal
) -> None:
    async with uow_factory() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        got = await _round_trip(uow, value, uuid4().hex)
    wrong = {column: v for column, v in got.items() if not same_decimal(v, value, backend)}
    assert wrong == {}


#: Every decimal column, by table.
DECIMAL_COLUMNS = {
    table.name: columns
    for table in metadata.sorted_tables
    if (columns := tuple(c.name for c in table.columns if isinstance(c.type, DecimalType)))
}


@pytest.mark.parametrize(
    ("value", "text"),
    [("0.00000001", "0.00000001"), ("0.00000000", "0.00000000"), ("-1E-12", "-0.000000000001")],
)
async def test_decimals_are_stored_in_plain_notation(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine, value: str, text: str
) -> None:
    async with uow_factory() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        await _round_trip(uow, Decimal(value), "plain")
    async with engine.connect() as connection:
        for table, columns in DECIMAL_COLUMNS.items():
            shown = ", ".join(f"CAST({c} AS TEXT)" for c in columns)
            rows = (await connection.exec_driver_sql(f"SELECT {shown} FROM {table}")).all()
            assert rows, table
            assert {v for row in rows for v in row} <= {text, "1000.00", None}, table


async def test_a_float_never_reaches_a_decimal_column(engine: AsyncEngine) -> None:
    async with SqlUnitOfWorkFactory(engine)() as uow:
        account = await seed_account(uow)
        await uow.commit()
    row = {
        "id": uuid4(),
        "account_id": account.id,
        "provider_transaction_id": "float",
        "transaction_type": "trade",
        "subtype": "buy",
        "status": "settled",
        "amount": 0.1,
        "currency": "USD",
        "description": "",
        "transaction_date": date(2025, 1, 1),
        "created_at": NOW,
        "updated_at": NOW,
    }
    async with engine.connect() as connection:
        with pytest.raises(StatementError) as caught:
            await connection.execute(transactions.insert(), [row])
    assert isinstance(caught.value.orig, TypeError)
    assert "0.1" not in str(caught.value)  # hide_parameters: row values never reach messages


async def test_instants_come_back_timezone_aware_in_utc(uow_factory: SqlUnitOfWorkFactory) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2025, 3, 1, 9, 15, 30, 654321, tzinfo=india)
    connection = make_connection(connected_at=local, last_sync_at=NOW)
    async with uow_factory() as uow:
        await uow.connections.save(connection)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.connections.get(connection.id)
    assert stored is not None
    assert stored.connected_at is not None
    assert stored.created_at is not None
    assert stored.access_expires_at is not None
    for instant in (stored.connected_at, stored.created_at, stored.access_expires_at):
        assert instant.tzinfo is UTC
    assert stored.connected_at == local
    assert stored.connected_at.hour == 3
    assert stored.connected_at.minute == 45
    assert stored.connected_at.microsecond == 654321


async def test_a_naive_datetime_is_refused(uow_factory: SqlUnitOfWorkFactory) -> None:
    naive = make_connection(connected_at=datetime(2025, 1, 1, 12, 0))
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.connections.save(naive)


async def test_raw_json_with_decimals_round_trips_exactly(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    raw: dict[str, Any] = {
        "netAmount": Decimal("-1500.2500"),
        "tiny": Decimal("0.00000001"),
        "big": Decimal("12345678901.2345"),
        "count": 3,
        "legs": [{"price": Decimal("150.0250"), "symbol": "AAPL"}, {"fee": Decimal("0.10")}],
        "flag": True,
        "missing": None,
        "text": "café ☕",
    }
    async with uow_factory() as uow:
        account = await seed_account(uow)
        txn = make_transaction(account.id, raw=raw)
        await uow.transactions.upsert_many([txn])
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.transactions.get(txn.id)
    assert stored is not None
    assert stored.raw is not None
    assert stored.raw == raw
    assert str(stored.raw["netAmount"]) == "-1500.2500"
    assert str(stored.raw["legs"][1]["fee"]) == "0.10"
    assert isinstance(stored.raw["count"], int)


async def test_absent_raw_is_sql_null(engine: AsyncEngine) -> None:
    factory = SqlUnitOfWorkFactory(engine)
    async with factory() as uow:
        account = await seed_account(uow)
        await SqlTransactionRepository(uow.connection).upsert_many(
            [make_transaction(account.id, raw=None)]
        )
        await uow.commit()
    async with engine.connect() as connection:
        nulls = (
            await connection.execute(select(transactions.c.id).where(transactions.c.raw.is_(None)))
        ).all()
    assert len(nulls) == 1


async def test_credentials_and_secret_bytes_round_trip(uow_factory: SqlUnitOfWorkFactory) -> None:
    blob = bytes(range(256)) * 4
    connection = make_connection()
    assert connection.credentials is not None
    connection = replace(connection, credentials=replace(connection.credentials, ciphertext=blob))
    async with uow_factory() as uow:
        await uow.connections.save(connection)
        await uow.secrets.put(StoredSecret(name="schwab.client_secret", ciphertext=blob))
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.connections.get(connection.id)
        secret = await uow.secrets.get("schwab.client_secret")
    assert stored is not None
    assert stored.credentials is not None
    assert secret is not None
    assert type(stored.credentials.ciphertext) is bytes
    assert stored.credentials.ciphertext == blob
    assert stored.credentials.kind is CredentialKind.OAUTH2
    assert stored.credentials.refresh_expires_at == NOW
    assert type(secret.ciphertext) is bytes
    assert secret.ciphertext == blob
