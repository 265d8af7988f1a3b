"""Explicit row <-> entity mapping: the one place money, enums and credentials meet columns.

``*_to_row`` functions return plain dicts of column values (``Decimal``, ``str``, ``UUID``, aware
``datetime``); ``row_to_*`` functions take a SQLAlchemy ``RowMapping``. Enums are stored as their
lower-case string values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from dashtam_cli.application.queries import TransactionRow
from dashtam_cli.domain.accounts import Account, AccountType
from dashtam_cli.domain.connections import (
    ConnectionStatus,
    CredentialKind,
    ProviderConnection,
    ProviderCredentials,
)
from dashtam_cli.domain.errors import ErrorCode
from dashtam_cli.domain.holdings import AssetType, BalanceSnapshot, Holding, SnapshotSource
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.protocols import AuditEntry, StoredSecret
from dashtam_cli.domain.sync import SyncCounts, SyncRun, SyncStatus
from dashtam_cli.domain.transactions import (
    Transaction,
    TransactionStatus,
    TransactionSubtype,
    TransactionType,
)

type Row = dict[str, Any]
type RowMapping = Mapping[Any, Any]

# ------------------------------------------------------------------------------------ money


def money_columns(name: str, money: Money | None) -> Row:
    """``{name: amount, name_currency: currency}`` for a Money with its own currency column."""
    if money is None:
        return {name: None, f"{name}_currency": None}
    return {name: money.amount, f"{name}_currency": money.currency}


def money_from_columns(row: RowMapping, name: str) -> Money | None:
    """The Money stored by :func:`money_columns` (None when the amount is NULL)."""
    amount = row[name]
    return None if amount is None else Money(amount, row[f"{name}_currency"])


def amount_in(money: Money | None, currency: str, field: str) -> Decimal | None:
    """The amount of a Money stored under the row's shared ``currency`` column.

    Raises:
        ValueError: when the Money is in another currency (a bug in the caller: storing it would
            silently relabel the amount).
    """
    if money is None:
        return None
    if money.currency != currency:
        raise ValueError(f"{field} is in {money.currency} but the row's currency is {currency}")
    return money.amount


def money_or_none(amount: Decimal | None, currency: str) -> Money | None:
    """Money in the row's shared currency, or None for a NULL amount."""
    return None if amount is None else Money(amount, currency)


# ------------------------------------------------------------------------------ connections


def connection_to_row(connection: ProviderConnection, now: datetime) -> Row:
    """Columns of ``provider_connections``."""
    credentials = connection.credentials
    return {
        "id": connection.id,
        "provider": connection.provider,
        "alias": connection.alias,
        "status": connection.status.value,
        "credentials": credentials.ciphertext if credentials else None,
        "credential_kind": credentials.kind.value if credentials else None,
        "access_expires_at": credentials.access_expires_at if credentials else None,
        "refresh_expires_at": credentials.refresh_expires_at if credentials else None,
        "connected_at": connection.connected_at,
        "last_sync_at": connection.last_sync_at,
        "last_sync_status": connection.last_sync_status,
        "provider_state": dict(connection.provider_state) or None,
        "created_at": connection.created_at or now,
        "updated_at": connection.updated_at or now,
    }


def row_to_connection(row: RowMapping) -> ProviderConnection:
    """A ProviderConnection from a ``provider_connections`` row."""
    ciphertext = row["credentials"]
    credentials = None
    if ciphertext is not None:
        credentials = ProviderCredentials(
            ciphertext=bytes(ciphertext),
            kind=CredentialKind(row["credential_kind"] or CredentialKind.OAUTH2.value),
            access_expires_at=row["access_expires_at"],
            refresh_expires_at=row["refresh_expires_at"],
        )
    return ProviderConnection(
        id=row["id"],
        provider=row["provider"],
        alias=row["alias"],
        status=ConnectionStatus(row["status"]),
        credentials=credentials,
        connected_at=row["connected_at"],
        last_sync_at=row["last_sync_at"],
        last_sync_status=row["last_sync_status"],
        provider_state=dict(row["provider_state"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# --------------------------------------------------------------------------------- accounts


def account_to_row(account: Account, now: datetime) -> Row:
    """Columns of ``accounts`` (every Money keeps its own currency)."""
    return {
        "id": account.id,
        "connection_id": account.connection_id,
        "provider_account_id": account.provider_account_id,
        "account_number_masked": account.account_number_masked,
        "name": account.name,
        "account_type": account.account_type.value,
        "currency": account.currency,
        **money_columns("balance", account.balance),
        **money_columns("available_balance", account.available_balance),
        **money_columns("cash_balance", account.cash_balance),
        "is_active": account.is_active,
        "last_synced_at": account.last_synced_at,
        "raw": account.raw,
        "created_at": account.created_at or now,
        "updated_at": account.updated_at or now,
    }


def row_to_account(row: RowMapping) -> Account:
    """An Account from an ``accounts`` row."""
    balance = money_from_columns(row, "balance")
    if balance is None:
        raise ValueError(f"account {row['id']} has no balance")
    return Account(
        id=row["id"],
        connection_id=row["connection_id"],
        provider_account_id=row["provider_account_id"],
        account_number_masked=row["account_number_masked"],
        name=row["name"],
        account_type=AccountType(row["account_type"]),
        currency=row["currency"],
        balance=balance,
        available_balance=money_from_columns(row, "available_balance"),
        cash_balance=money_from_columns(row, "cash_balance"),
        is_active=bool(row["is_active"]),
        last_synced_at=row["last_synced_at"],
        raw=row["raw"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# --------------------------------------------------------------------------------- holdings


def holding_to_row(holding: Holding, now: datetime) -> Row:
    """Columns of ``holdings``."""
    return {
        "id": holding.id,
        "account_id": holding.account_id,
        "provider_holding_id": holding.provider_holding_id,
        "symbol": holding.symbol,
        "security_name": holding.security_name,
        "asset_type": holding.asset_type.value,
        "quantity": holding.quantity,
        "currency": holding.currency,
        "average_price": holding.average_price,
        **money_columns("cost_basis", holding.cost_basis),
        **money_columns("market_value", holding.market_value),
        "current_price": holding.current_price,
        "is_active": holding.is_active,
        "raw": holding.raw,
        "created_at": holding.created_at or now,
        "updated_at": holding.updated_at or now,
    }


def row_to_holding(row: RowMapping) -> Holding:
    """A Holding from a ``holdings`` row."""
    return Holding(
        id=row["id"],
        account_id=row["account_id"],
        provider_holding_id=row["provider_holding_id"],
        symbol=row["symbol"],
        security_name=row["security_name"],
        asset_type=AssetType(row["asset_type"]),
        quantity=row["quantity"],
        currency=row["currency"],
        average_price=row["average_price"],
        cost_basis=money_from_columns(row, "cost_basis"),
        market_value=money_from_columns(row, "market_value"),
        current_price=row["current_price"],
        is_active=bool(row["is_active"]),
        raw=row["raw"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# ----------------------------------------------------------------------------- transactions


def transaction_to_row(txn: Transaction, now: datetime) -> Row:
    """Columns of ``transactions``: ``amount`` + ``currency``; ``fees`` shares the currency."""
    amount = txn.amount
    fees = txn.fees
    if fees is not None and fees.currency != amount.currency:
        raise ValueError(
            f"transaction {txn.provider_transaction_id}: fees in {fees.currency}, "
            f"amount in {amount.currency}"
        )
    asset_type = txn.asset_type
    return {
        "id": txn.id,
        "account_id": txn.account_id,
        "provider_transaction_id": txn.provider_transaction_id,
        "transaction_type": txn.transaction_type.value,
        "subtype": txn.subtype.value,
        "status": txn.status.value,
        "amount": amount.amount,
        "currency": amount.currency,
        "fees": None if fees is None else fees.amount,
        "description": txn.description,
        "asset_type": None if asset_type is None else asset_type.value,
        "symbol": txn.symbol,
        "security_name": txn.security_name,
        "quantity": txn.quantity,
        "unit_price": txn.unit_price,
        "transaction_date": txn.transaction_date,
        "settlement_date": txn.settlement_date,
        "posted_at": txn.posted_at,
        "raw": txn.raw,
        "created_at": txn.created_at or now,
        "updated_at": txn.updated_at or now,
    }


def row_to_transaction(row: RowMapping) -> Transaction:
    """A Transaction from a ``transactions`` row."""
    currency = row["currency"]
    asset_type = row["asset_type"]
    return Transaction(
        id=row["id"],
        account_id=row["account_id"],
        provider_transaction_id=row["provider_transaction_id"],
        transaction_type=TransactionType(row["transaction_type"]),
        subtype=TransactionSubtype(row["subtype"]),
        status=TransactionStatus(row["status"]),
        amount=Money(row["amount"], currency),
        fees=money_or_none(row["fees"], currency),
        description=row["description"],
        asset_type=None if asset_type is None else AssetType(asset_type),
        symbol=row["symbol"],
        security_name=row["security_name"],
        quantity=row["quantity"],
        unit_price=row["unit_price"],
        transaction_date=row["transaction_date"],
        settlement_date=row["settlement_date"],
        posted_at=row["posted_at"],
        raw=row["raw"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# ---------------------------------------------------------------- snapshots, runs, secrets


def snapshot_to_row(snapshot: BalanceSnapshot) -> Row:
    """Columns of ``balance_snapshots``: all amounts share the balance's currency."""
    currency = snapshot.balance.currency
    return {
        "id": snapshot.id,
        "account_id": snapshot.account_id,
        "captured_at": snapshot.captured_at,
        "currency": currency,
        "balance": snapshot.balance.amount,
        "cash_value": amount_in(snapshot.cash_value, currency, "cash_value"),
        "holdings_value": amount_in(snapshot.holdings_value, currency, "holdings_value"),
        "source": snapshot.source.value,
        "sync_run_id": snapshot.sync_run_id,
    }


def row_to_snapshot(row: RowMapping) -> BalanceSnapshot:
    """A BalanceSnapshot from a ``balance_snapshots`` row."""
    currency = row["currency"]
    return BalanceSnapshot(
        id=row["id"],
        account_id=row["account_id"],
        captured_at=row["captured_at"],
        balance=Money(row["balance"], currency),
        cash_value=money_or_none(row["cash_value"], currency),
        holdings_value=money_or_none(row["holdings_value"], currency),
        source=SnapshotSource(row["source"]),
        sync_run_id=row["sync_run_id"],
    )


def sync_run_to_row(run: SyncRun) -> Row:
    """Columns of ``sync_runs``."""
    counts = run.counts
    return {
        "id": run.id,
        "connection_id": run.connection_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status.value,
        "accounts_count": counts.accounts,
        "holdings_count": counts.holdings,
        "transactions_inserted": counts.transactions_inserted,
        "transactions_updated": counts.transactions_updated,
        "transactions_unchanged": counts.transactions_unchanged,
        "error_code": None if run.error_code is None else run.error_code.value,
        "error_message": run.error_message,
    }


def row_to_sync_run(row: RowMapping) -> SyncRun:
    """A SyncRun from a ``sync_runs`` row."""
    error_code = row["error_code"]
    return SyncRun(
        id=row["id"],
        connection_id=row["connection_id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=SyncStatus(row["status"]),
        counts=SyncCounts(
            accounts=row["accounts_count"],
            holdings=row["holdings_count"],
            transactions_inserted=row["transactions_inserted"],
            transactions_updated=row["transactions_updated"],
            transactions_unchanged=row["transactions_unchanged"],
        ),
        error_code=None if error_code is None else ErrorCode(error_code),
        error_message=row["error_message"],
    )


def secret_to_row(secret: StoredSecret, now: datetime) -> Row:
    """Columns of ``stored_secrets`` (ciphertext only, never plaintext)."""
    return {
        "name": secret.name,
        "ciphertext": secret.ciphertext,
        "updated_at": secret.updated_at or now,
    }


def row_to_secret(row: RowMapping) -> StoredSecret:
    """A StoredSecret from a ``stored_secrets`` row."""
    return StoredSecret(
        name=row["name"], ciphertext=bytes(row["ciphertext"]), updated_at=row["updated_at"]
    )


def audit_to_row(entry: AuditEntry) -> Row:
    """Columns of ``audit_log`` (``id`` is assigned by the database)."""
    return {
        "event_id": entry.event_id,
        "action": entry.action,
        "outcome": entry.outcome,
        "connection_id": entry.connection_id,
        "account_id": entry.account_id,
        "error_code": entry.error_code,
        "context": dict(entry.context),
        "occurred_at": entry.occurred_at,
    }


def row_to_audit(row: RowMapping) -> AuditEntry:
    """An AuditEntry from an ``audit_log`` row."""
    return AuditEntry(
        id=row["id"],
        event_id=row["event_id"],
        action=row["action"],
        outcome=row["outcome"],
        connection_id=row["connection_id"],
        account_id=row["account_id"],
        error_code=row["error_code"],
        context=row["context"] or {},
        occurred_at=row["occurred_at"],
    )


def row_to_transaction_row(row: RowMapping) -> TransactionRow:
    """A list-view ``TransactionRow`` from the columns the readers select (no raw payload)."""
    currency = row["currency"]
    asset_type = row["asset_type"]
    return TransactionRow(
        id=row["id"],
        account_id=row["account_id"],
        transaction_date=row["transaction_date"],
        settlement_date=row["settlement_date"],
        transaction_type=TransactionType(row["transaction_type"]),
        subtype=TransactionSubtype(row["subtype"]),
        status=TransactionStatus(row["status"]),
        amount=Money(row["amount"], currency),
        fees=money_or_none(row["fees"], currency),
        description=row["description"],
        asset_type=None if asset_type is None else AssetType(asset_type),
        symbol=row["symbol"],
        security_name=row["security_name"],
        quantity=row["quantity"],
        unit_price=row["unit_price"],
    )
