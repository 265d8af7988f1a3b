"""Repositories over one ``AsyncConnection`` (the unit of work's), one per domain protocol.

Each repository maps rows to entities through :mod:`dashtam_cli.infrastructure.db.mapping` and
writes with set-based upserts (:mod:`dashtam_cli.infrastructure.db.upserts`). None of them commits:
the unit of work does.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from uuid import UUID

from sqlalchemy import delete, func, select, true, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.connections import ConnectionStatus, ProviderConnection
from dashtam_cli.domain.holdings import BalanceSnapshot, Holding
from dashtam_cli.domain.protocols import StoredSecret, UpsertCounts
from dashtam_cli.domain.providers import FetchedTransaction
from dashtam_cli.domain.sync import SyncCursor, SyncRun
from dashtam_cli.domain.transactions import Transaction
from dashtam_cli.infrastructure.db import mapping, schema
from dashtam_cli.infrastructure.db.upserts import (
    BATCH_SIZE,
    BulkWriter,
    ExistingRows,
    batches,
    counting_upsert,
    new_uuid_hexes,
    new_uuids,
    paused_gc,
    upsert_rows,
)

# The columns whose change makes a re-synced transaction count as "updated" (not the raw payload,
# which providers reshuffle freely; it is rewritten whenever a business field changes).
TRANSACTION_COMPARE = (
    "transaction_type",
    "subtype",
    "status",
    "amount",
    "currency",
    "fees",
    "description",
    "asset_type",
    "symbol",
    "security_name",
    "quantity",
    "unit_price",
    "transaction_date",
    "settlement_date",
    "posted_at",
)
HOLDING_COMPARE = (
    "symbol",
    "security_name",
    "asset_type",
    "quantity",
    "currency",
    "average_price",
    "cost_basis",
    "cost_basis_currency",
    "market_value",
    "market_value_currency",
    "current_price",
    "is_active",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _add(a: UpsertCounts, b: UpsertCounts) -> UpsertCounts:
    return UpsertCounts(
        inserted=a.inserted + b.inserted,
        updated=a.updated + b.updated,
        unchanged=a.unchanged + b.unchanged,
    )


class SqlConnectionRepository:
    """Provider connections (``provider_connections``)."""

    def __init__(self, connection: AsyncConnection) -> None:
        """Work on the unit of work's connection."""
        self._conn = connection

    async def get(self, connection_id: UUID) -> ProviderConnection | None:
        """The connection with this id, or None."""
        query = select(schema.provider_connections).where(
            schema.provider_connections.c.id == connection_id
        )
        row = (await self._conn.execute(query)).mappings().first()
        return None if row is None else mapping.row_to_connection(row)

    async def list(self, *, include_disconnected: bool = True) -> Sequence[ProviderConnection]:
        """All connections, oldest first."""
        query = select(schema.provider_connections).order_by(
            schema.provider_connections.c.created_at, schema.provider_connections.c.alias
        )
        if not include_disconnected:
            query = query.where(
                schema.provider_connections.c.status != ConnectionStatus.DISCONNECTED.value
            )
        rows = (await self._conn.execute(query)).mappings()
        return [mapping.row_to_connection(row) for row in rows]

    async def save(self, connection: ProviderConnection) -> None:
        """Insert or update the connection by id (``created_at`` of a stored row is kept)."""
        row = mapping.connection_to_row(connection, _now())
        await upsert_rows(self._conn, schema.provider_connections, [row], ("id",))


class SqlAccountRepository:
    """Accounts (``accounts``), unique per (connection_id, provider_account_id)."""

    def __init__(self, connection: AsyncConnection) -> None:
        """Work on the unit of work's connection."""
        self._conn = connection

    async def get(self, account_id: UUID) -> Account | None:
        """The account with this id, or None."""
        query = select(schema.accounts).where(schema.accounts.c.id == account_id)
        row = (await self._conn.execute(query)).mappings().first()
        return None if row is None else mapping.row_to_account(row)

    async def list_for_connection(self, connection_id: UUID) -> Sequence[Account]:
        """Every account of a connection, active or not, by name."""
        query = (
            select(schema.accounts)
            .where(schema.accounts.c.connection_id == connection_id)
            .order_by(schema.accounts.c.name, schema.accounts.c.provider_account_id)
        )
        return [mapping.row_to_account(row) for row in (await self._conn.execute(query)).mappings()]

    async def upsert_many(self, accounts: Sequence[Account]) -> dict[str, UUID]:
        """Insert or update by (connection_id, provider_account_id); return key -> stored id.

        An existing row keeps its id and ``created_at``; the passed entity's id is used only on
        insert.
        """
        now = _now()
        rows = [mapping.account_to_row(account, now) for account in accounts]
        await upsert_rows(
            self._conn, schema.accounts, rows, ("connection_id", "provider_account_id")
        )
        keys_by_connection: dict[UUID, list[str]] = defaultdict(list)
        for account in accounts:
            keys_by_connection[account.connection_id].append(account.provider_account_id)
        stored: dict[str, UUID] = {}
        for connection_id, keys in keys_by_connection.items():
            query = select(schema.accounts.c.provider_account_id, schema.accounts.c.id).where(
                schema.accounts.c.connection_id == connection_id,
                schema.accounts.c.provider_account_id.in_(keys),
            )
            for provider_account_id, account_id in await self._conn.execute(query):
                stored[provider_account_id] = account_id
        return stored

    async def deactivate_missing(self, connection_id: UUID, keep: Sequence[str]) -> int:
        """Mark the connection's active accounts not in ``keep`` inactive; return how many."""
        statement = (
            update(schema.accounts)
            .where(
                schema.accounts.c.connection_id == connection_id,
                schema.accounts.c.is_active == true(),
                schema.accounts.c.provider_account_id.not_in(list(keep)),
            )
            .values(is_active=False, updated_at=_now())
        )
        result = await self._conn.execute(statement)
        return int(result.rowcount)


class SqlHoldingRepository:
    """Holdings (``holdings``), unique per (account_id, provider_holding_id)."""

    def __init__(self, connection: AsyncConnection) -> None:
        """Work on the unit of work's connection."""
        self._conn = connection

    async def list_for_account(self, account_id: UUID) -> Sequence[Holding]:
        """Every holding of an account, active or not, by symbol."""
        query = (
            select(schema.holdings)
            .where(schema.holdings.c.account_id == account_id)
            .order_by(schema.holdings.c.symbol, schema.holdings.c.provider_holding_id)
        )
        return [mapping.row_to_holding(row) for row in (await self._conn.execute(query)).mappings()]

    async def upsert_many(self, holdings: Sequence[Holding]) -> UpsertCounts:
        """Insert or update by (account_id, provider_holding_id), counting exactly."""
        now = _now()
        rows = [mapping.holding_to_row(holding, now) for holding in holdings]
        return await counting_upsert(
            self._conn,
            schema.holdings,
            rows,
            scope="account_id",
            key="provider_holding_id",
            compare=HOLDING_COMPARE,
        )

    async def deactivate_missing(self, account_id: UUID, keep: Sequence[str]) -> int:
        """Mark the account's active holdings not in ``keep`` inactive; return how many."""
        statement = (
            update(schema.holdings)
            .where(
                schema.holdings.c.account_id == account_id,
                schema.holdings.c.is_active == true(),
                schema.holdings.c.provider_holding_id.not_in(list(keep)),
            )
            .values(is_active=False, updated_at=_now())
        )
        result = await self._conn.execute(statement)
        return int(result.rowcount)


_TRANSACTION_KEY = ("account_id", "provider_transaction_id")

# Accounts seen holding transactions, per engine, so the "does this account have any rows" check
# runs once per account and process. Sync never deletes a transaction; an entry that went stale
# anyway (rows rolled back or deleted by hand) only costs the lookup the check would have skipped,
# never a wrong count.
_ACCOUNTS_WITH_ROWS: weakref.WeakKeyDictionary[Engine, set[UUID]] = weakref.WeakKeyDictionary()


def _sqlite_text(connection: AsyncConnection) -> mapping.SqliteTransactionText:
    """The SQLite stored-form encoder, built from the columns' own bind processors."""
    dialect = connection.dialect
    columns = schema.transactions.c

    def processor(column: str) -> mapping.Converter | None:
        found: mapping.Converter | None = (
            columns[column].type.dialect_impl(dialect).bind_processor(dialect)
        )
        return found

    def required(column: str) -> mapping.Converter:
        found = processor(column)
        if found is None:
            raise RuntimeError(f"transactions.{column} has no SQLite bind processor")
        return found

    return mapping.SqliteTransactionText(
        decimal=required("amount"),
        instant=required("posted_at"),
        day=required("transaction_date"),
        raw=processor("raw"),
    )


class SqlTransactionRepository:
    """Transactions (``transactions``), unique per (account_id, provider_transaction_id)."""

    def __init__(self, connection: AsyncConnection, *, batch_size: int = BATCH_SIZE) -> None:
        """Work on the unit of work's connection, writing ``batch_size`` rows per statement."""
        self._conn = connection
        self._batch_size = batch_size
        #: Rows were inserted since the last commit: the unit of work brings the search index
        #: up to date before committing (see :mod:`.search_index`).
        self.inserted_since_commit = False

    async def get(self, transaction_id: UUID) -> Transaction | None:
        """The transaction with this id, or None."""
        query = select(schema.transactions).where(schema.transactions.c.id == transaction_id)
        row = (await self._conn.execute(query)).mappings().first()
        return None if row is None else mapping.row_to_transaction(row)

    async def upsert_many(self, transactions: Sequence[Transaction]) -> UpsertCounts:
        """Insert new rows and update changed ones (status, corrected amounts), counting exactly.

        A repeated key within ``transactions_`` counts once (the last one wins). Raises
        ``ValueError`` for a transaction whose fees are in another currency than its amount.
        """
        now = _now()
        to_row = mapping.transaction_to_row
        counts = UpsertCounts()
        # map batch by batch so a million-row ingest never holds a million dicts at once
        for batch in batches(transactions, self._batch_size):
            done = await counting_upsert(
                self._conn,
                schema.transactions,
                [to_row(txn, now) for txn in batch],
                scope="account_id",
                key="provider_transaction_id",
                compare=TRANSACTION_COMPARE,
                batch_size=self._batch_size,
            )
            counts = _add(counts, done)
        self.inserted_since_commit |= counts.inserted > 0
        return counts

    async def upsert_fetched(
        self, account_id: UUID, transactions: Sequence[FetchedTransaction]
    ) -> UpsertCounts:
        """Upsert one account's provider rows by their key, counting exactly.

        Each row is validated like the :class:`Transaction` it stands for (``ValueError`` /
        ``TypeError`` otherwise). A new row gets a fresh id; a changed row keeps its id and
        ``created_at``; an unchanged one is not written. A repeated key counts once (the last
        one wins). Rows are compared in their stored form (see :mod:`.upserts`), so a row whose
        status or amount scale changed is updated.
        """
        if not transactions:
            return UpsertCounts()
        with paused_gc():
            counts = await self._upsert_fetched(account_id, transactions)
        self.inserted_since_commit |= counts.inserted > 0
        return counts

    async def _upsert_fetched(
        self, account_id: UUID, transactions: Sequence[FetchedTransaction]
    ) -> UpsertCounts:
        unique = list({f.provider_transaction_id: f for f in transactions}.values())
        if len(unique) < len(transactions):
            # a row repeated later in the page is dropped, yet it must be valid too
            kept = {id(f) for f in unique}
            now = _now()
            for f in transactions:
                if id(f) not in kept:
                    mapping.fetched_to_row(account_id, f, now)
        existing = ExistingRows(
            self._conn,
            schema.transactions,
            scope="account_id",
            key="provider_transaction_id",
            columns=("id", *TRANSACTION_COMPARE),
        )
        known = _ACCOUNTS_WITH_ROWS.setdefault(self._conn.sync_engine, set())
        look = account_id in known or await existing.any(account_id)
        known.add(account_id)
        if self._conn.dialect.name == "sqlite":
            return await self._upsert_fetched_sqlite(account_id, unique, existing, look=look)
        now = _now()
        counts = UpsertCounts()
        for batch in batches(unique, self._batch_size):
            done = await counting_upsert(
                self._conn,
                schema.transactions,
                [mapping.fetched_to_row(account_id, f, now) for f in batch],
                scope="account_id",
                key="provider_transaction_id",
                compare=TRANSACTION_COMPARE,
                batch_size=self._batch_size,
                new_ids=new_uuids,
                lookup=look,
            )
            counts = _add(counts, done)
        return counts

    async def _upsert_fetched_sqlite(
        self,
        account_id: UUID,
        unique: Sequence[FetchedTransaction],
        existing: ExistingRows,
        *,
        look: bool,
    ) -> UpsertCounts:
        """The SQLite fast path: stored-form text built once per row, plain tuples to the driver.

        No entity, ``Money``, dict or bind processor per row; with ``look`` False (the account
        has no stored rows) the lookup of existing rows is skipped altogether.
        """
        table = schema.transactions
        writer = BulkWriter(self._conn, table, conflict=_TRANSACTION_KEY)
        # Rows whose key is known to be absent are plainly inserted: with the search index's
        # UPDATE trigger on the table, an upsert costs SQLite a statement journal per row
        # (twice the time of a large ingest). The sync lock keeps other writers out meanwhile.
        inserter = BulkWriter(self._conn, table)
        for bulk in (writer, inserter):
            if not bulk.positional or bulk.columns != [c.name for c in table.columns]:
                raise RuntimeError("the SQLite transactions write binds columns out of order")
        text = _sqlite_text(self._conn)
        raw = text.raw
        account = account_id.hex
        now = text.instant(_now())
        inserted = updated = unchanged = 0
        for batch in batches(unique, self._batch_size):
            keys = [f.provider_transaction_id for f in batch]
            found = await existing.fetch(account_id, keys) if look else []
            stored = {row[0]: row[2:] for row in found}  # may hold other keys of the range
            previous_forms = list(map(stored.get, keys))
            if not any(previous_forms):  # none of these keys is stored: whole rows, as they are
                new_ids = new_uuid_hexes(len(batch))
                await inserter.write_prepared(text.new_rows(batch, new_ids, account, now))
                inserted += len(batch)
                continue
            forms = text.forms(batch)
            if previous_forms == forms:  # the common re-sync window: one comparison, in C
                unchanged += len(keys)
                continue
            stored_ids = {row[0]: row[1] for row in found}
            params: list[tuple[object, ...]] = []
            new: list[int] = []
            for index, (key, form, previous) in enumerate(
                zip(keys, forms, previous_forms, strict=True)
            ):
                if previous is None:
                    new.append(index)
                elif previous != form:
                    f = batch[index]
                    params.append((stored_ids[key], account, key, *form, raw(f.raw), now, now))
                    updated += 1
                else:
                    unchanged += 1
            await writer.write_prepared(params)
            if new:
                fresh: list[tuple[object, ...]] = []
                for new_id, index in zip(new_uuid_hexes(len(new)), new, strict=True):
                    f = batch[index]
                    fresh.append(
                        (new_id, account, keys[index], *forms[index], raw(f.raw), now, now)
                    )
                await inserter.write_prepared(fresh)
                inserted += len(new)
        return UpsertCounts(inserted=inserted, updated=updated, unchanged=unchanged)

    async def latest_date(self, account_id: UUID) -> date | None:
        """The newest transaction date stored for an account (the sync cursor)."""
        query = select(func.max(schema.transactions.c.transaction_date)).where(
            schema.transactions.c.account_id == account_id
        )
        value = (await self._conn.execute(query)).scalar_one_or_none()
        return value if isinstance(value, date) else None

    async def list_for_account(self, account_id: UUID) -> Sequence[Transaction]:
        """Every transaction of an account, newest first (small sets: tests and exports)."""
        query = (
            select(schema.transactions)
            .where(schema.transactions.c.account_id == account_id)
            .order_by(schema.transactions.c.transaction_date.desc(), schema.transactions.c.id)
        )
        rows = (await self._conn.execute(query)).mappings()
        return [mapping.row_to_transaction(row) for row in rows]


class SqlBalanceSnapshotRepository:
    """Append-only balance snapshots (``balance_snapshots``)."""

    def __init__(self, connection: AsyncConnection) -> None:
        """Work on the unit of work's connection."""
        self._conn = connection

    async def add(self, snapshot: BalanceSnapshot) -> None:
        """Append one snapshot."""
        await self._conn.execute(
            schema.balance_snapshots.insert(), [mapping.snapshot_to_row(snapshot)]
        )

    async def list_for_account(self, account_id: UUID) -> Sequence[BalanceSnapshot]:
        """An account's snapshots, oldest first."""
        query = (
            select(schema.balance_snapshots)
            .where(schema.balance_snapshots.c.account_id == account_id)
            .order_by(schema.balance_snapshots.c.captured_at, schema.balance_snapshots.c.id)
        )
        rows = (await self._conn.execute(query)).mappings()
        return [mapping.row_to_snapshot(row) for row in rows]


class SqlSyncRunRepository:
    """Sync runs (``sync_runs``)."""

    def __init__(self, connection: AsyncConnection) -> None:
        """Work on the unit of work's connection."""
        self._conn = connection

    async def save(self, run: SyncRun) -> None:
        """Insert or update a run by id."""
        await upsert_rows(self._conn, schema.sync_runs, [mapping.sync_run_to_row(run)], ("id",))

    async def latest(self, connection_id: UUID) -> SyncRun | None:
        """The newest run of a connection, or None."""
        query = (
            select(schema.sync_runs)
            .where(schema.sync_runs.c.connection_id == connection_id)
            .order_by(schema.sync_runs.c.started_at.desc())
            .limit(1)
        )
        row = (await self._conn.execute(query)).mappings().first()
        return None if row is None else mapping.row_to_sync_run(row)


class SqlSyncCursorRepository:
    """Per-account backfill cursors (``sync_cursors``)."""

    def __init__(self, connection: AsyncConnection) -> None:
        """Work on the unit of work's connection."""
        self._conn = connection

    async def get(self, account_id: UUID) -> SyncCursor | None:
        """The cursor of an account, or None."""
        table = schema.sync_cursors
        query = select(table).where(table.c.account_id == account_id)
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        return SyncCursor(
            account_id=row["account_id"],
            oldest_fetched_at=row["oldest_fetched_at"],
            backfill_complete=bool(row["backfill_complete"]),
            updated_at=row["updated_at"],
        )

    async def save(self, cursor: SyncCursor) -> None:
        """Insert or update the cursor by account id."""
        row = {
            "account_id": cursor.account_id,
            "oldest_fetched_at": cursor.oldest_fetched_at,
            "backfill_complete": cursor.backfill_complete,
            "updated_at": cursor.updated_at or _now(),
        }
        await upsert_rows(self._conn, schema.sync_cursors, [row], ("account_id",))


class SqlSecretRepository:
    """Named encrypted secrets (``stored_secrets``): ciphertext only."""

    def __init__(self, connection: AsyncConnection) -> None:
        """Work on the unit of work's connection."""
        self._conn = connection

    async def get(self, name: str) -> StoredSecret | None:
        """The secret with this name, or None."""
        query = select(schema.stored_secrets).where(schema.stored_secrets.c.name == name)
        row = (await self._conn.execute(query)).mappings().first()
        return None if row is None else mapping.row_to_secret(row)

    async def put(self, secret: StoredSecret) -> None:
        """Insert or replace the secret."""
        row = mapping.secret_to_row(secret, _now())
        await upsert_rows(self._conn, schema.stored_secrets, [row], ("name",))

    async def delete(self, name: str) -> None:
        """Remove the secret if present."""
        await self._conn.execute(
            delete(schema.stored_secrets).where(schema.stored_secrets.c.name == name)
        )

    async def list(self) -> Sequence[StoredSecret]:
        """Every stored secret, by name."""
        query = select(schema.stored_secrets).order_by(schema.stored_secrets.c.name)
        rows = (await self._conn.execute(query)).mappings()
        return [mapping.row_to_secret(row) for row in rows]


__all__ = [
    "SqlAccountRepository",
    "SqlBalanceSnapshotRepository",
    "SqlConnectionRepository",
    "SqlHoldingRepository",
    "SqlSecretRepository",
    "SqlSyncRunRepository",
    "SqlTransactionRepository",
]
