"""Initial schema: connections, accounts, holdings, transactions, snapshots, runs, secrets, audit.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from dashtam_cli.infrastructure.db.types import DecimalType, JsonType, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENUM = 32
_CCY = 3

_AUDIT_MESSAGE = "audit_log is append-only"

_SQLITE_TRIGGERS = (
    f"""
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{_AUDIT_MESSAGE}: UPDATE refused'); END
    """,
    f"""
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{_AUDIT_MESSAGE}: DELETE refused'); END
    """,
)

_POSTGRES_TRIGGERS = (
    f"""
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_AUDIT_MESSAGE}: % refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """,
    """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """,
)


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    ]


def _money(name: str, *, nullable: bool) -> list[sa.Column[Any]]:
    return [
        sa.Column(name, DecimalType(), nullable=nullable),
        sa.Column(f"{name}_currency", sa.String(_CCY), nullable=nullable),
    ]


def upgrade() -> None:
    """Create every table, index and the audit_log append-only triggers."""
    op.create_table(
        "provider_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("status", sa.String(_ENUM), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("credential_kind", sa.String(_ENUM), nullable=True),
        sa.Column("access_expires_at", UtcDateTime(), nullable=True),
        sa.Column("refresh_expires_at", UtcDateTime(), nullable=True),
        sa.Column("connected_at", UtcDateTime(), nullable=True),
        sa.Column("last_sync_at", UtcDateTime(), nullable=True),
        sa.Column("last_sync_status", sa.String(_ENUM), nullable=True),
        sa.Column("provider_state", JsonType(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_provider_connections"),
        sa.UniqueConstraint("alias", name="uq_provider_connections_alias"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("provider_account_id", sa.String(128), nullable=False),
        sa.Column("account_number_masked", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("account_type", sa.String(_ENUM), nullable=False),
        sa.Column("currency", sa.String(_CCY), nullable=False),
        *_money("balance", nullable=False),
        *_money("available_balance", nullable=True),
        *_money("cash_balance", nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_synced_at", UtcDateTime(), nullable=True),
        sa.Column("raw", JsonType(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["provider_connections.id"],
            name="fk_accounts_connection_id_provider_connections",
        ),
        sa.UniqueConstraint(
            "connection_id",
            "provider_account_id",
            name="uq_accounts_connection_id_provider_account_id",
        ),
    )
    op.create_table(
        "holdings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("provider_holding_id", sa.String(256), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("security_name", sa.String(256), nullable=True),
        sa.Column("asset_type", sa.String(_ENUM), nullable=False),
        sa.Column("quantity", DecimalType(), nullable=False),
        sa.Column("currency", sa.String(_CCY), nullable=False),
        sa.Column("average_price", DecimalType(), nullable=True),
        *_money("cost_basis", nullable=True),
        *_money("market_value", nullable=True),
        sa.Column("current_price", DecimalType(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("raw", JsonType(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_holdings"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_holdings_account_id_accounts"
        ),
        sa.UniqueConstraint(
            "account_id",
            "provider_holding_id",
            name="uq_holdings_account_id_provider_holding_id",
        ),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("provider_transaction_id", sa.String(256), nullable=False),
        sa.Column("transaction_type", sa.String(_ENUM), nullable=False),
        sa.Column("subtype", sa.String(_ENUM), nullable=False),
        sa.Column("status", sa.String(_ENUM), nullable=False),
        sa.Column("amount", DecimalType(), nullable=False),
        sa.Column("currency", sa.String(_CCY), nullable=False),
        sa.Column("fees", DecimalType(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("asset_type", sa.String(_ENUM), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=True),
        sa.Column("security_name", sa.String(256), nullable=True),
        sa.Column("quantity", DecimalType(), nullable=True),
        sa.Column("unit_price", DecimalType(), nullable=True),
        sa.Column("transaction_date", sa.Date(), nullable=False),
        sa.Column("settlement_date", sa.Date(), nullable=True),
        sa.Column("posted_at", UtcDateTime(), nullable=True),
        sa.Column("raw", JsonType(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_transactions_account_id_accounts"
        ),
        sa.UniqueConstraint(
            "account_id",
            "provider_transaction_id",
            name="uq_transactions_account_id_provider_transaction_id",
        ),
    )
    op.create_index(
        "ix_transactions_account_id_transaction_date",
        "transactions",
        ["account_id", "transaction_date"],
    )
    op.create_index("ix_transactions_transaction_date", "transactions", ["transaction_date"])
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("status", sa.String(_ENUM), nullable=False),
        sa.Column("accounts_count", sa.Integer(), nullable=False),
        sa.Column("holdings_count", sa.Integer(), nullable=False),
        sa.Column("transactions_inserted", sa.Integer(), nullable=False),
        sa.Column("transactions_updated", sa.Integer(), nullable=False),
        sa.Column("transactions_unchanged", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["provider_connections.id"],
            name="fk_sync_runs_connection_id_provider_connections",
        ),
    )
    op.create_index(
        "ix_sync_runs_connection_id_started_at", "sync_runs", ["connection_id", "started_at"]
    )
    op.create_table(
        "sync_cursors",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("oldest_fetched_at", UtcDateTime(), nullable=True),
        sa.Column("backfill_complete", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_sync_cursors"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_sync_cursors_account_id_accounts"
        ),
    )
    op.create_table(
        "balance_snapshots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("captured_at", UtcDateTime(), nullable=False),
        sa.Column("currency", sa.String(_CCY), nullable=False),
        sa.Column("balance", DecimalType(), nullable=False),
        sa.Column("cash_value", DecimalType(), nullable=True),
        sa.Column("holdings_value", DecimalType(), nullable=True),
        sa.Column("source", sa.String(_ENUM), nullable=False),
        sa.Column("sync_run_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_balance_snapshots"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_balance_snapshots_account_id_accounts"
        ),
    )
    op.create_index(
        "ix_balance_snapshots_account_id_captured_at",
        "balance_snapshots",
        ["account_id", "captured_at"],
    )
    op.create_table(
        "stored_secrets",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_stored_secrets"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(_ENUM), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("context", JsonType(), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.UniqueConstraint("event_id", name="uq_audit_log_event_id"),
    )
    op.create_index("ix_audit_log_occurred_at", "audit_log", ["occurred_at"])
    statements = (
        _SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else _POSTGRES_TRIGGERS
    )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Drop everything ``upgrade`` created (the audit trail included)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index("ix_audit_log_occurred_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("stored_secrets")
    op.drop_index("ix_balance_snapshots_account_id_captured_at", table_name="balance_snapshots")
    op.drop_table("balance_snapshots")
    op.drop_table("sync_cursors")
    op.drop_index("ix_sync_runs_connection_id_started_at", table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_index("ix_transactions_transaction_date", table_name="transactions")
    op.drop_index("ix_transactions_account_id_transaction_date", table_name="transactions")
    op.drop_table("transactions")
    op.drop_table("holdings")
    op.drop_table("accounts")
    op.drop_table("provider_connections")
