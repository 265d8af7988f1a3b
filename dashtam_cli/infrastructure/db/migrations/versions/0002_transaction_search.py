"""Transaction search index: substring search over description, symbol and security name.

SQLite: an FTS5 table with the trigram tokenizer over the transactions table (external content,
keyed by rowid; ``detail=none`` and ``columnsize=0`` keep no positions or sizes, which only
phrase queries and ranking need), a one-row table holding the highest rowid it covers, and
triggers that keep covered rows right when their text changes or they are deleted. New rows are
added in bulk by the writer before each commit (``db.search_index.catch_up``): an FTS5 insert
per row from an INSERT trigger makes a large sync many times slower. (The UPDATE trigger makes
SQLite keep a statement journal for every row an upsert writes, so the sync inserts rows it
knows to be new with a plain INSERT.) Where the SQLite library has no FTS5 or no trigram
tokenizer (before 3.34), nothing is created and searches scan.

PostgreSQL: pg_trgm GIN indexes on the three columns, which serve ``ILIKE '%text%'`` as it is.
Where the pg_trgm extension cannot be created (not installed, or no privilege), nothing is
created and searches scan.

A later migration that rebuilds the transactions table on SQLite (a batch ``ALTER``) renumbers
its rowids: it must end with ``INSERT INTO transaction_search(transaction_search)
VALUES ('rebuild')`` and reset ``transaction_search_state``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 00:00:00
"""

# DDL is built from this module's constant column names only.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("description", "symbol", "security_name")
_INDEXED_THROUGH = "(SELECT indexed_through FROM transaction_search_state)"

_SQLITE_UPGRADE = (
    """
    CREATE TABLE transaction_search_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_through INTEGER NOT NULL
    )
    """,
    """
    CREATE VIRTUAL TABLE transaction_search USING fts5(
        description, symbol, security_name,
        tokenize = 'trigram', content = 'transactions', content_rowid = 'rowid',
        detail = 'none', columnsize = 0
    )
    """,
    "INSERT INTO transaction_search(transaction_search) VALUES ('rebuild')",
    """
    INSERT INTO transaction_search_state (id, indexed_through)
    SELECT 1, coalesce(max(rowid), 0) FROM transactions
    """,
    # An external-content index must be told the old text of a covered row it forgets.
    f"""
    CREATE TRIGGER transaction_search_update
    AFTER UPDATE OF description, symbol, security_name ON transactions
    WHEN old.rowid <= {_INDEXED_THROUGH}
        AND (old.description IS NOT new.description OR old.symbol IS NOT new.symbol
             OR old.security_name IS NOT new.security_name)
    BEGIN
        INSERT INTO transaction_search (transaction_search, rowid, description, symbol,
                                        security_name)
        VALUES ('delete', old.rowid, old.description, old.symbol, old.security_name);
        INSERT INTO transaction_search (rowid, description, symbol, security_name)
        VALUES (new.rowid, new.description, new.symbol, new.security_name);
    END
    """,
    # Without an INTEGER PRIMARY KEY, SQLite gives the next row the highest rowid + 1: after the
    # highest rows are deleted a new row may take a rowid at or below the mark, so the mark
    # comes down with them (else that row would never be indexed).
    f"""
    CREATE TRIGGER transaction_search_delete AFTER DELETE ON transactions
    WHEN old.rowid <= {_INDEXED_THROUGH}
    BEGIN
        INSERT INTO transaction_search (transaction_search, rowid, description, symbol,
                                        security_name)
        VALUES ('delete', old.rowid, old.description, old.symbol, old.security_name);
        UPDATE transaction_search_state
        SET indexed_through = (SELECT coalesce(max(rowid), 0) FROM transactions)
        WHERE indexed_through > (SELECT coalesce(max(rowid), 0) FROM transactions);
    END
    """,
)

_SQLITE_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS transaction_search_delete",
    "DROP TRIGGER IF EXISTS transaction_search_update",
    "DROP TABLE IF EXISTS transaction_search",
    "DROP TABLE IF EXISTS transaction_search_state",
)


def _sqlite_has_trigram_fts5(bind: Connection) -> bool:
    """Whether this SQLite library can create an FTS5 table with the trigram tokenizer."""
    try:
        bind.exec_driver_sql(
            "CREATE VIRTUAL TABLE temp.dashtam_fts5_probe USING fts5(x, tokenize = 'trigram')"
        )
    except DBAPIError:
        return False
    bind.exec_driver_sql("DROP TABLE temp.dashtam_fts5_probe")
    return True


def _create_postgres_indexes(bind: Connection) -> None:
    """Create pg_trgm (if missing) and the three GIN indexes; nothing when that is impossible.

    All in one savepoint: without the extension (not installed, no privilege, no USAGE on its
    schema) the migration goes on without the indexes. The extension may live in a schema
    outside this one's ``search_path`` (it is created once per database), so its operator
    class is named with its schema.
    """
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            schema = bind.exec_driver_sql(
                "SELECT quote_ident(n.nspname) FROM pg_extension e "
                "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
            ).scalar_one()
            for column in _COLUMNS:
                bind.exec_driver_sql(
                    f"CREATE INDEX ix_transactions_{column}_trgm ON transactions "
                    f"USING gin ({column} {schema}.gin_trgm_ops)"
                )
    except DBAPIError:
        return


def upgrade() -> None:
    """Create the search index where the database supports it, covering the stored rows."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if _sqlite_has_trigram_fts5(bind):
            for statement in _SQLITE_UPGRADE:
                op.execute(statement)
        return
    _create_postgres_indexes(bind)


def downgrade() -> None:
    """Drop the search index (the pg_trgm extension stays: other schemas may use it)."""
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_DOWNGRADE:
            op.execute(statement)
    else:
        for column in _COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_transactions_{column}_trgm")
