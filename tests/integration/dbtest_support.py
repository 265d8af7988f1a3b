"""Entity builders and small helpers shared by the database tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.domain.accounts import Account, AccountType
from dashtam_cli.domain.connections import (
    ConnectionStatus,
    CredentialKind,
    ProviderConnection,
    ProviderCredentials,
)
from dashtam_cli.domain.holdings import AssetType, Holding
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.protocols import UnitOfWork
from dashtam_cli.domain.transactions import (
    Transaction,
    TransactionStatus,
    TransactionSubtype,
    TransactionType,
)

NOW = datetime(2025, 1, 15, 12, 30, 45, 123456, tzinfo=UTC)

# the values the brief names, plus trailing zeros whose scale must survive
EXACT_VALUES = [
    Decimal("0.1"),
    Decimal("0.00000001"),
    Decimal("0.00000000"),  # str() writes 0E-8
    Decimal("12345678901.2345"),
    Decimal("-0.0001"),
    Decimal("1234.5600"),
    Decimal("0"),
]


def make_connection(alias: str = "main", **changes: Any) -> ProviderConnection:
    """An active Schwab connection with encrypted credentials."""
    fields: dict[str, Any] = {
        "provider": "schwab",
        "alias": alias,
        "status": ConnectionStatus.ACTIVE,
        "credentials": ProviderCredentials(
            ciphertext=b"\x00\x01secret-bytes\xff",
            kind=CredentialKind.OAUTH2,
            access_expires_at=NOW,
            refresh_expires_at=NOW,
        ),
        "connected_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(changes)
    return ProviderConnection(**fields)


def make_account(connection_id: UUID, key: str = "acct-1", **changes: Any) -> Account:
    """A USD brokerage account."""
    fields: dict[str, Any] = {
        "connection_id": connection_id,
        "provider_account_id": key,
        "account_number_masked": "****1234",
        "name": f"Brokerage {key}",
        "account_type": AccountType.BROKERAGE,
        "currency": "USD",
        "balance": Money.of("1000.00"),
    }
    fields.update(changes)
    return Account(**fields)


def make_holding(account_id: UUID, key: str = "AAPL", **changes: Any) -> Holding:
    """A long equity position."""
    fields: dict[str, Any] = {
        "account_id": account_id,
        "provider_holding_id": key,
        "symbol": key,
        "asset_type": AssetType.EQUITY,
        "quantity": Decimal("10"),
        "currency": "USD",
    }
    fields.update(changes)
    return Holding(**fields)


def make_transaction(account_id: UUID, key: str = "T-1", **changes: Any) -> Transaction:
    """A settled buy."""
    fields: dict[str, Any] = {
        "account_id": account_id,
        "provider_transaction_id": key,
        "transaction_type": TransactionType.TRADE,
        "subtype": TransactionSubtype.BUY,
        "status": TransactionStatus.SETTLED,
        "amount": Money.of("-1500.25"),
        "transaction_date": date(2025, 1, 10),
        "description": f"Buy {key}",
        "symbol": "AAPL",
        "quantity": Decimal("10"),
        "unit_price": Decimal("150.025"),
    }
    fields.update(changes)
    return Transaction(**fields)


async def seed_account(uow: UnitOfWork, alias: str = "main") -> Account:
    """Store a connection and one account in the (open) unit of work; return the stored account."""
    connection = make_connection(alias)
    await uow.connections.save(connection)
    account = make_account(connection.id)
    ids = await uow.accounts.upsert_many([account])
    stored = await uow.accounts.get(ids[account.provider_account_id])
    assert stored is not None
    return stored


async def count_rows(engine: AsyncEngine, table: Table) -> int:
    """How many rows a table holds (in a fresh connection: committed data only)."""
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


def same_decimal(got: Decimal | None, expected: Decimal, backend: str) -> bool:
    """Equal value and scale; on SQLite also the exact text (PostgreSQL drops a zero's sign)."""
    if got is None:
        return False
    same = got == expected and got.as_tuple().exponent == expected.as_tuple().exponent
    return same and (backend != "sqlite" or str(got) == str(expected))
