"""SQLAlchemy Core tables: the database shape of the domain (no ORM mapping).

Money is an amount column (:class:`DecimalType`, exact) next to a currency column. Accounts and
holdings give every money value its own ``<name>_currency`` column; the high-volume tables
(transactions, balance snapshots) carry one ``currency`` per row that all their amounts share.

Keep ``migrations/versions`` in step with this module: a test compares a migrated database with
this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from dashtam_cli.infrastructure.db.types import DecimalType, JsonType, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

CURRENCY_LENGTH = 3
_ENUM_LENGTH = 32


def _money(name: str, *, nullable: bool) -> tuple[Column[object], Column[object]]:
    """An amount column and its currency column (``<name>``, ``<name>_currency``)."""
    return (
        Column(name, DecimalType(), nullable=nullable),
        Column(f"{name}_currency", String(CURRENCY_LENGTH), nullable=nullable),
    )


def _timestamps() -> tuple[Column[object], Column[object]]:
    return (
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )


provider_connections = Table(
    "provider_connections",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("alias", String(128), nullable=False, unique=True),
    Column("status", String(_ENUM_LENGTH), nullable=False),
    Column("credentials", LargeBinary(), nullable=True),
    Column("credential_kind", String(_ENUM_LENGTH), nullable=True),
    Column("access_expires_at", UtcDateTime(), nullable=True),
    Column("refresh_expires_at", UtcDateTime(), nullable=True),
    Column("connected_at", UtcDateTime(), nullable=True),
    Column("last_sync_at", UtcDateTime(), nullable=True),
    Column("last_sync_status", String(_ENUM_LENGTH), nullable=True),
    Column("provider_state", JsonType(), nullable=True),
    *_timestamps(),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("connection_id", Uuid(), ForeignKey(provider_connections.c.id), nullable=False),
    Column("provider_account_id", String(128), nullable=False),
    Column("account_number_masked", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("account_type", String(_ENUM_LENGTH), nullable=False),
    Column("currency", String(CURRENCY_LENGTH), nullable=False),
    *_money("balance", nullable=False),
    *_money("available_balance", nullable=True),
    *_money("cash_balance", nullable=True),
    Column("is_active", Boolean(), nullable=False),
    Column("last_synced_at", UtcDateTime(), nullable=True),
    Column("raw", JsonType(), nullable=True),
    *_timestamps(),
    UniqueConstraint("connection_id", "provider_account_id"),
)

holdings = Table(
    "holdings",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("account_id", Uuid(), ForeignKey(accounts.c.id), nullable=False),
    Column("provider_holding_id", String(256), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("security_name", String(256), nullable=True),
    Column("asset_type", String(_ENUM_LENGTH), nullable=False),
    Column("quantity", DecimalType(), nullable=False),
    Column("currency", String(CURRENCY_LENGTH), nullable=False),
    Column("average_price", DecimalType(), nullable=True),
    *_money("cost_basis", nullable=True),
    *_money("market_value", nullable=True),
    Column("current_price", DecimalType(), nullable=True),
    Column("is_active", Boolean(), nullable=False),
    Column("raw", JsonType(), nullable=True),
    *_timestamps(),
    UniqueConstraint("account_id", "provider_holding_id"),
)

# The big table: keep it lean (a million rows must ingest fast). The unique key's index also
# serves "by account" lookups; the two extra indexes serve date-filtered listings.
transactions = Table(
    "transactions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("account_id", Uuid(), ForeignKey(accounts.c.id), nullable=False),
    Column("provider_transaction_id", String(256), nullable=False),
    Column("transaction_type", String(_ENUM_LENGTH), nullable=False),
    Column("subtype", String(_ENUM_LENGTH), nullable=False),
    Column("status", String(_ENUM_LENGTH), nullable=False),
    Column("amount", DecimalType(), nullable=False),
    Column("currency", String(CURRENCY_LENGTH), nullable=False),
    Column("fees", DecimalType(), nullable=True),
    Column("description", Text(), nullable=False),
    Column("asset_type", String(_ENUM_LENGTH), nullable=True),
    Column("symbol", String(64), nullable=True),
    Column("security_name", String(256), nullable=True),
    Column("quantity", DecimalType(), nullable=True),
    Column("unit_price", DecimalType(), nullable=True),
    Column("transaction_date", Date(), nullable=False),
    Column("settlement_date", Date(), nullable=True),
    Column("posted_at", UtcDateTime(), nullable=True),
    Column("raw", JsonType(), nullable=True),
    *_timestamps(),
    UniqueConstraint("account_id", "provider_transaction_id"),
    Index(None, "account_id", "transaction_date"),
    Index(None, "transaction_date"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("connection_id", Uuid(), ForeignKey(provider_connections.c.id), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("status", String(_ENUM_LENGTH), nullable=False),
    Column("accounts_count", Integer(), nullable=False),
    Column("holdings_count", Integer(), nullable=False),
    Column("transactions_inserted", Integer(), nullable=False),
    Column("transactions_updated", Integer(), nullable=False),
    Column("transactions_unchanged", Integer(), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text(), nullable=True),
    Index(None, "connection_id", "started_at"),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("account_id", Uuid(), ForeignKey(accounts.c.id), primary_key=True),
    Column("oldest_fetched_at", UtcDateTime(), nullable=True),
    Column("backfill_complete", Boolean(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Append-only. sync_run_id has no foreign key on purpose: a snapshot may be written before its
# run row is saved, and history must never be blocked by bookkeeping order.
balance_snapshots = Table(
    "balance_snapshots",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("account_id", Uuid(), ForeignKey(accounts.c.id), nullable=False),
    Column("captured_at", UtcDateTime(), nullable=False),
    Column("currency", String(CURRENCY_LENGTH), nullable=False),
    Column("balance", DecimalType(), nullable=False),
    Column("cash_value", DecimalType(), nullable=True),
    Column("holdings_value", DecimalType(), nullable=True),
    Column("source", String(_ENUM_LENGTH), nullable=False),
    Column("sync_run_id", Uuid(), nullable=True),
    Index(None, "account_id", "captured_at"),
)

stored_secrets = Table(
    "stored_secrets",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("ciphertext", LargeBinary(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Append-only (triggers in the migration refuse UPDATE and DELETE). No foreign keys: an audit
# row must outlive the business rows it mentions, including ones that were rolled back.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("event_id", Uuid(), nullable=False, unique=True),
    Column("action", String(64), nullable=False),
    Column("outcome", String(_ENUM_LENGTH), nullable=False),
    Column("connection_id", Uuid(), nullable=True),
    Column("account_id", Uuid(), nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("context", JsonType(), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Index(None, "occurred_at"),
)
