"""Set-based upserts: ``INSERT .. ON CONFLICT (unique key) DO UPDATE`` run as executemany.

:func:`counting_upsert` also reports exactly how many rows were inserted, updated and left
unchanged: per batch it reads the stored comparable columns of the batch's keys, writes only new and
changed rows, and skips the rest (a second identical sync writes nothing).

Bulk writes go through :class:`BulkWriter`: the statement is compiled once by SQLAlchemy for the
connection's dialect, every value is converted by the column type's own bind processor (the same
conversion SQLAlchemy would apply), and the driver's ``executemany`` runs on the unit of work's
connection. This skips SQLAlchemy's per-row parameter assembly, which dominates a large ingest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from dashtam_cli.domain.protocols import UpsertCounts
from dashtam_cli.infrastructure.db.mapping import Row

BATCH_SIZE = 10_000
# Columns an upsert never overwrites on an existing row: it keeps its identity and birth date.
_PRESERVED = frozenset({"id", "created_at"})

type _Processor = Callable[[Any], Any] | None


def batches[T](items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect_insert(connection: AsyncConnection, table: Table) -> Any:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")


def upsert_statement(
    connection: AsyncConnection, table: Table, conflict_columns: Sequence[str]
) -> Insert:
    """``INSERT .. ON CONFLICT (conflict_columns) DO UPDATE SET`` every other non-preserved column.

    Uses the dialect's own insert construct (SQLite or PostgreSQL).
    """
    statement = _dialect_insert(connection, table)
    skip = _PRESERVED | set(conflict_columns)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in skip}
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=list(conflict_columns), set_=updates
    )
    return upsert


def insert_ignoring_duplicates(
    connection: AsyncConnection, table: Table, conflict_columns: Sequence[str]
) -> Insert:
    """``INSERT .. ON CONFLICT (conflict_columns) DO NOTHING`` in the connection's dialect."""
    statement: Insert = _dialect_insert(connection, table).on_conflict_do_nothing(
        index_elements=list(conflict_columns)
    )
    return statement


class BulkWriter:
    """An insert statement compiled once, executed as a driver-level ``executemany``.

    Every row must carry a value for every column of the table.
    """

    def __init__(self, connection: AsyncConnection, table: Table, statement: Insert) -> None:
        """Compile ``statement`` for the connection's dialect."""
        dialect = connection.dialect
        names = [column.name for column in table.columns]
        compiled = statement.compile(dialect=dialect, column_keys=names)
        self._connection = connection
        self._sql = compiled.string
        self._positional = bool(compiled.positional)
        order = list(compiled.positiontup or ()) if self._positional else names
        processors: dict[str, _Processor] = {
            column.name: column.type.dialect_impl(dialect).bind_processor(dialect)
            for column in table.columns
        }
        unknown = set(order) - processors.keys()
        if unknown:
            raise RuntimeError(f"unexpected bind parameters {sorted(unknown)} in {table.name}")
        self._pairs = [(name, processors[name]) for name in order]

    def _parameters(self, rows: Sequence[Row]) -> list[Any]:
        pairs = self._pairs
        if self._positional:
            return [
                tuple([row[name] if proc is None else proc(row[name]) for name, proc in pairs])
                for row in rows
            ]
        return [
            {name: row[name] if proc is None else proc(row[name]) for name, proc in pairs}
            for row in rows
        ]

    async def write(self, rows: Sequence[Row]) -> None:
        """Run the statement once per row, as one ``executemany``."""
        if rows:
            await self._connection.exec_driver_sql(self._sql, self._parameters(rows))


async def upsert_rows(
    connection: AsyncConnection,
    table: Table,
    rows: Sequence[Row],
    conflict_columns: Sequence[str],
    *,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Upsert rows by ``conflict_columns`` in batches (executemany), counting nothing."""
    if not rows:
        return
    writer = BulkWriter(connection, table, upsert_statement(connection, table, conflict_columns))
    for batch in batches(rows, batch_size):
        await writer.write(batch)


def _dedupe(rows: Sequence[Row], scope: str, key: str) -> list[Row]:
    """One row per unique key, the last one winning (a provider may repeat a row in one page)."""
    unique: dict[tuple[Any, Any], Row] = {}
    for row in rows:
        unique[(row[scope], row[key])] = row
    return list(unique.values())


async def counting_upsert(
    connection: AsyncConnection,
    table: Table,
    rows: Sequence[Row],
    *,
    scope: str,
    key: str,
    compare: Sequence[str],
    batch_size: int = BATCH_SIZE,
) -> UpsertCounts:
    """Upsert rows unique per ``(scope, key)`` and count what happened.

    A row is *unchanged* when every ``compare`` column equals the stored value (decimals compare
    by value), *updated* when one differs, *inserted* when its key is new. Unchanged rows are not
    written at all. Rows repeating a key within ``rows`` count once (the last one wins).

    Args:
        connection: the unit of work's connection.
        table: the target table (with a unique constraint on ``(scope, key)``).
        rows: column dicts, each with every column of the table.
        scope: the owning column (e.g. ``account_id``).
        key: the provider's id column within the scope.
        compare: the business columns whose change makes a row *updated*.
        batch_size: rows per SELECT and per executemany.
    """
    inserted = updated = unchanged = 0
    if not rows:
        return UpsertCounts()
    writer = BulkWriter(connection, table, upsert_statement(connection, table, (scope, key)))
    scope_col, key_col = table.c[scope], table.c[key]
    compare_cols = [table.c[name] for name in compare]
    for batch in batches(_dedupe(rows, scope, key), batch_size):
        keys_by_scope: dict[Any, list[Any]] = defaultdict(list)
        for row in batch:
            keys_by_scope[row[scope]].append(row[key])
        stored: dict[tuple[Any, Any], tuple[Any, ...]] = {}
        for scope_value, keys in keys_by_scope.items():
            query = select(key_col, *compare_cols).where(
                scope_col == scope_value, key_col.in_(keys)
            )
            for found in await connection.execute(query):
                stored[(scope_value, found[0])] = tuple(found[1:])
        to_write: list[Row] = []
        for row in batch:
            previous = stored.get((row[scope], row[key]))
            if previous is None:
                inserted += 1
                to_write.append(row)
            elif previous != tuple(row[name] for name in compare):
                updated += 1
                to_write.append(row)
            else:
                unchanged += 1
        await writer.write(to_write)
    return UpsertCounts(inserted=inserted, updated=updated, unchanged=unchanged)
