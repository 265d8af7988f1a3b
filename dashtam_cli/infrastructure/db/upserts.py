"""Set-based upserts: ``INSERT .. ON CONFLICT (unique key) DO UPDATE`` run as executemany.

:func:`counting_upsert` also reports exactly how many rows were inserted, updated and left
unchanged: per batch it reads the stored comparable columns of the batch's keys, writes only new and
changed rows, and skips the rest (a second identical sync writes nothing).

Rows are compared in their **stored form**: the value each column's bind processor produces (what
would be written) against the value the driver reads back, without result processing. On SQLite
that is the exact text (``"1.50"`` and ``"1.5"`` differ, so a change of scale is an update, and an
unchanged row costs no ``Decimal`` or ``datetime`` parsing); on PostgreSQL a decimal compares by
value and scale (:func:`scale_key`).

Bulk writes go through :class:`BulkWriter`: the statement is compiled once per dialect and table
(and cached), every value is converted by the column type's own bind processor (the same conversion
SQLAlchemy would apply), and the driver's ``executemany`` runs on the unit of work's connection.
This skips SQLAlchemy's per-row parameter assembly, which dominates a large ingest. Callers that
already hold stored-form parameter tuples (the SQLite transaction fast path) pass them to
:meth:`BulkWriter.write_prepared`.
"""

# SQL text is assembled only from schema table and column names (quoted by the dialect); every
# value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import gc
import json
import os
import sqlite3
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from dashtam_cli.domain.protocols import UpsertCounts
from dashtam_cli.infrastructure.db.mapping import Row
from dashtam_cli.infrastructure.db.types import DecimalType

BATCH_SIZE = 10_000
# Columns an upsert never overwrites on an existing row: it keeps its identity and birth date.
_PRESERVED = frozenset({"id", "created_at"})
_SQLITE = "sqlite"
_POSTGRESQL = "postgresql"

type _Processor = Callable[[Any], Any] | None


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside the block (restored after it, even on error).

    A bulk write allocates millions of short-lived tuples and strings, none in a reference cycle
    (reference counting frees them all), yet every few thousand allocations trigger a collection
    that walks every live object: about a tenth of a million-row sync. Cycles made meanwhile are
    collected after the block. Nested or overlapping blocks leave the collector as they found it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# ------------------------------------------------------------------------------------- ids

# 256-entry translation tables that set the version (4) and variant (RFC 4122) bits of a UUID
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))
_UUID_BYTES = 16


def random_uuid_bytes(count: int) -> bytes:
    """``count`` random version-4 UUIDs (16 bytes each) that share their first byte.

    One ``os.urandom`` call for all of them. Sharing the first byte is what keeps a windowed
    ingest fast: a batch's ids land in one 1/256 slice of the ``id`` index, so each commit
    rewrites a few dozen index pages instead of nearly all of them (with fully random ids the
    per-window commits of a 1,000,000-row sync took 15 s here instead of 4). The other 114 bits
    are random, so ids stay unguessable and unique, and the 8-character prefixes people type
    still carry 24 random bits within a batch.
    """
    if count <= 0:
        return b""
    buffer = bytearray(os.urandom(_UUID_BYTES * count + 1))
    shared = buffer.pop()
    buffer[0::_UUID_BYTES] = bytes([shared]) * count
    buffer[6::_UUID_BYTES] = buffer[6::_UUID_BYTES].translate(_VERSION_4)
    buffer[8::_UUID_BYTES] = buffer[8::_UUID_BYTES].translate(_VARIANT)
    return bytes(buffer)


def new_uuid_hexes(count: int) -> list[str]:
    """:func:`random_uuid_bytes` as 32 lower-case hex digits each (SQLite's stored form)."""
    text = random_uuid_bytes(count).hex()
    width = 2 * _UUID_BYTES
    return [text[i : i + width] for i in range(0, len(text), width)]


def new_uuids(count: int) -> list[UUID]:
    """:func:`random_uuid_bytes` as :class:`~uuid.UUID` values."""
    raw = random_uuid_bytes(count)
    return [UUID(bytes=raw[i : i + _UUID_BYTES]) for i in range(0, len(raw), _UUID_BYTES)]


# ------------------------------------------------------------------------------- statements


def batches[T](items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect_insert(dialect: Dialect, table: Table) -> Any:
    if dialect.name == _SQLITE:
        return sqlite.insert(table)
    if dialect.name == _POSTGRESQL:
        return postgresql.insert(table)
    raise NotImplementedError(f"no upsert for the {dialect.name} dialect")


def upsert_statement(
    connection: AsyncConnection, table: Table, conflict_columns: Sequence[str]
) -> Insert:
    """``INSERT .. ON CONFLICT (conflict_columns) DO UPDATE SET`` every other non-preserved column.

    Uses the dialect's own insert construct (SQLite or PostgreSQL).
    """
    return _upsert_statement(connection.dialect, table, conflict_columns)


def _upsert_statement(dialect: Dialect, table: Table, conflict_columns: Sequence[str]) -> Insert:
    statement = _dialect_insert(dialect, table)
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
    statement: Insert = _dialect_insert(connection.dialect, table).on_conflict_do_nothing(
        index_elements=list(conflict_columns)
    )
    return statement


class DriverStatements:
    """SQL text run on the unit of work's connection with as few trips to the driver as possible.

    On SQLite, SQLAlchemy's aiosqlite adapter makes four trips to the driver's thread per
    statement (open a cursor, execute, fetch, close); the aiosqlite connection underneath does it
    in one. Each trip is a thread hand-off, which costs little on an idle machine and milliseconds
    on a busy one, and a sync makes several per window. The statements still run on the same
    connection, inside the unit of work's transaction (committed or rolled back by it), and a
    driver error is wrapped in SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError` exactly like
    SQLAlchemy wraps its own, so the unit of work reports it the same way. Other dialects use
    ``exec_driver_sql``.

    The connection must be inside a begun SQLAlchemy transaction (a unit of work always is):
    SQLAlchemy then commits the driver connection, including what ran past it.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        """Work on ``connection`` (the unit of work's)."""
        self._connection = connection
        self._sqlite = connection.dialect.name == _SQLITE
        self._driver: Any = None

    async def _aiosqlite(self) -> Any:
        """The aiosqlite connection, or None when the driver is not aiosqlite."""
        if self._driver is None:
            raw = await self._connection.get_raw_connection()
            driver = raw.driver_connection
            self._driver = driver if hasattr(driver, "execute_fetchall") else False
        return self._driver or None

    def _wrap(self, exc: sqlite3.Error, sql: str) -> StatementError:
        # a DBAPIError subclass chosen by the driver error's class (OperationalError...)
        return DBAPIError.instance(
            sql,
            None,
            exc,
            sqlite3.Error,
            hide_parameters=True,
            dialect=self._connection.dialect,
        )

    async def fetchall(self, sql: str, parameters: Any) -> list[Sequence[Any]]:
        """Every row of a query, as the driver returns them (no result processing)."""
        driver = await self._aiosqlite() if self._sqlite else None
        if driver is None:
            return list((await self._connection.exec_driver_sql(sql, parameters)).all())
        try:
            return list(await driver.execute_fetchall(sql, parameters))
        except sqlite3.Error as exc:
            raise self._wrap(exc, sql) from exc

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> None:
        """Run a statement once per parameter set (tuples on SQLite, dicts on PostgreSQL)."""
        if not parameters:
            return
        driver = await self._aiosqlite() if self._sqlite else None
        if driver is None:
            await self._connection.exec_driver_sql(sql, list(parameters))
            return
        try:
            await driver.executemany(sql, parameters)
        except sqlite3.Error as exc:
            raise self._wrap(exc, sql) from exc


class _Compiled:
    """An insert compiled for one dialect: SQL text, parameter order and bind processors."""

    __slots__ = ("pairs", "positional", "sql")

    def __init__(self, dialect: Dialect, table: Table, statement: Insert) -> None:
        names = [column.name for column in table.columns]
        compiled = statement.compile(dialect=dialect, column_keys=names)
        self.sql: str = compiled.string
        self.positional = bool(compiled.positional)
        order = list(compiled.positiontup or ()) if self.positional else names
        processors: dict[str, _Processor] = {
            column.name: column.type.dialect_impl(dialect).bind_processor(dialect)
            for column in table.columns
        }
        unknown = set(order) - processors.keys()
        if unknown:
            raise RuntimeError(f"unexpected bind parameters {sorted(unknown)} in {table.name}")
        self.pairs: list[tuple[str, _Processor]] = [(name, processors[name]) for name in order]


# Compiled upserts per dialect (an engine's dialect lives as long as the engine).
_UPSERTS: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, tuple[str, ...]], _Compiled]] = (
    weakref.WeakKeyDictionary()
)


def _compiled_upsert(dialect: Dialect, table: Table, conflict: Sequence[str]) -> _Compiled:
    """The cached upsert on ``conflict``; with no conflict columns, the cached plain INSERT."""
    cache = _UPSERTS.setdefault(dialect, {})
    key = (table.name, tuple(conflict))
    found = cache.get(key)
    if found is None:
        statement = _upsert_statement(dialect, table, conflict) if conflict else table.insert()
        found = _Compiled(dialect, table, statement)
        cache[key] = found
    return found


class BulkWriter:
    """An insert statement compiled once, executed as a driver-level ``executemany``.

    Every row must carry a value for every column of the table.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        table: Table,
        statement: Insert | None = None,
        *,
        conflict: Sequence[str] = (),
    ) -> None:
        """Compile ``statement`` for the connection's dialect.

        Args:
            connection: the unit of work's connection.
            table: the table written.
            statement: the insert to run; None for the cached upsert on ``conflict``.
            conflict: the unique key of the cached upsert (when ``statement`` is None); empty
                for a cached plain ``INSERT`` (rows known to be new: on SQLite an upsert costs
                a statement journal per row once the table has an UPDATE trigger).
        """
        dialect = connection.dialect
        if statement is None:
            compiled = _compiled_upsert(dialect, table, conflict)
        else:
            compiled = _Compiled(dialect, table, statement)
        self._statements = DriverStatements(connection)
        self._sql = compiled.sql
        self._positional = compiled.positional
        self._pairs = compiled.pairs

    @property
    def positional(self) -> bool:
        """Whether parameters are tuples in :attr:`columns` order (else dicts by column name)."""
        return self._positional

    @property
    def columns(self) -> list[str]:
        """The column of each parameter, in the order the statement binds them."""
        return [name for name, _ in self._pairs]

    def processor(self, column: str) -> _Processor:
        """The bind processor of ``column`` (None when values bind as they are)."""
        return dict(self._pairs)[column]

    def process(self, row: Row) -> tuple[Any, ...]:
        """The stored form of every value of ``row``, in :attr:`columns` order."""
        return tuple([row[name] if proc is None else proc(row[name]) for name, proc in self._pairs])

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
            await self._statements.executemany(self._sql, self._parameters(rows))

    async def write_prepared(self, parameters: list[tuple[Any, ...]]) -> None:
        """Run the statement with stored-form tuples already in :attr:`columns` order."""
        if not parameters:
            return
        if self._positional:
            await self._statements.executemany(self._sql, parameters)
            return
        names = self.columns
        await self._statements.executemany(
            self._sql, [dict(zip(names, p, strict=True)) for p in parameters]
        )


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
    writer = BulkWriter(connection, table, conflict=conflict_columns)
    for batch in batches(rows, batch_size):
        await writer.write(batch)


# ---------------------------------------------------------------------------- stored form


def scale_key(value: Decimal | None) -> tuple[Decimal, int] | None:
    """A decimal as PostgreSQL ``NUMERIC`` keeps it: its value and its scale.

    ``1.5`` and ``1.50`` differ; ``-0.00`` and ``0.00`` (PostgreSQL has no negative zero) and
    ``1E+2`` and ``100`` (scale 0 both) do not.
    """
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    return value, -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _stored_form_keys(dialect: Dialect, table: Table, names: Sequence[str]) -> list[_Processor]:
    """Per column, what makes a bound value and a value read back comparable (None: as is)."""
    if dialect.name == _SQLITE:
        return [None] * len(names)
    return [scale_key if isinstance(table.c[name].type, DecimalType) else None for name in names]


class ExistingRows:
    """Reads the stored form of a scope's rows among given keys, with one cached statement.

    SQLite passes the keys as one JSON array (``json_each``), PostgreSQL as one array
    (``= ANY``): the SQL text never depends on how many keys there are. Values come back as the
    driver returns them (no result processing), for comparison with bound values.

    On SQLite, string keys also bound the query by their range (the key column's BINARY
    collation orders text by UTF-8 bytes, which is Python's ``str`` order). The stored keys of
    that range are counted first (an index-only scan): none, and nothing is read (a backfill,
    whose every window is older than what is stored); at most twice as many as asked for, and
    the range is read in one index scan instead of one probe per key (a provider's window is
    usually a run of consecutive ids); more, and each key is probed. So :meth:`fetch` may
    return rows of keys that were not asked for: callers look rows up by key.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        table: Table,
        *,
        scope: str,
        key: str,
        columns: Sequence[str],
    ) -> None:
        """Prepare ``SELECT key, *columns`` of ``table`` by ``scope`` and a set of ``key`` values.

        Raises:
            NotImplementedError: for a dialect other than SQLite and PostgreSQL.
        """
        dialect = connection.dialect
        quote = dialect.identifier_preparer.quote
        selected = ", ".join(quote(name) for name in (key, *columns))
        where_scope = f"{quote(scope)} = "
        name = quote(table.name)
        if dialect.name == _SQLITE:
            self._select = (
                f"SELECT {selected} FROM {name} WHERE {where_scope}?1 "
                f"AND {quote(key)} IN (SELECT value FROM json_each(?2))"
            )
            in_range = f"{where_scope}?1 AND {quote(key)} BETWEEN ?3 AND ?4"
            stored_in_range = f"(SELECT count(*) FROM {name} WHERE {in_range})"
            # the count goes inside json_each's argument: there SQLite evaluates it before
            # reading any key (as a WHERE term it would not spare the probes)
            self._select_in_range = (
                f"SELECT {selected} FROM {name} WHERE {in_range} AND {stored_in_range} <= ?5 "
                f"UNION ALL SELECT {selected} FROM {name} WHERE {where_scope}?1 "
                f"AND {quote(key)} IN (SELECT value FROM json_each("
                f"CASE WHEN {stored_in_range} > ?5 THEN ?2 ELSE '[]' END))"
            )
            self._any = f"SELECT 1 FROM {name} WHERE {where_scope}? LIMIT 1"
        elif dialect.name == _POSTGRESQL:
            self._select = (
                f"SELECT {selected} FROM {name} WHERE {where_scope}%(scope)s "
                f"AND {quote(key)} = ANY(%(keys)s)"
            )
            self._any = f"SELECT 1 FROM {name} WHERE {where_scope}%(scope)s LIMIT 1"
        else:
            raise NotImplementedError(f"no upsert for the {dialect.name} dialect")
        self._statements = DriverStatements(connection)
        self._sqlite = dialect.name == _SQLITE
        self._scope_processor = table.c[scope].type.dialect_impl(dialect).bind_processor(dialect)

    def _scope(self, value: Any) -> Any:
        return value if self._scope_processor is None else self._scope_processor(value)

    async def any(self, scope_value: Any) -> bool:
        """Whether the scope has any stored row at all."""
        scope = self._scope(scope_value)
        parameters = (scope,) if self._sqlite else {"scope": scope}
        return bool(await self._statements.fetchall(self._any, parameters))

    async def fetch(self, scope_value: Any, keys: Sequence[Any]) -> list[Sequence[Any]]:
        """``(key, *columns)`` of every stored row of the scope whose key is in ``keys``.

        On SQLite the result may also hold rows of other keys between the smallest and the
        largest of ``keys`` (see the class docstring).
        """
        if not keys:
            return []
        scope = self._scope(scope_value)
        if not self._sqlite:
            parameters = {"scope": scope, "keys": list(keys)}
            return await self._statements.fetchall(self._select, parameters)
        listed = json.dumps(list(keys))
        # text keys only: a number's order is not its text's order
        if set(map(type, keys)) == {str}:
            return await self._statements.fetchall(
                self._select_in_range, (scope, listed, min(keys), max(keys), 2 * len(keys))
            )
        return await self._statements.fetchall(self._select, (scope, listed))


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
    new_ids: Callable[[int], Sequence[Any]] | None = None,
    lookup: bool = True,
) -> UpsertCounts:
    """Upsert rows unique per ``(scope, key)`` and count what happened.

    A row is *unchanged* when every ``compare`` column's stored form equals the stored value
    (module docstring), *updated* when one differs, *inserted* when its key is new. Unchanged rows
    are not written at all. Rows repeating a key within ``rows`` count once (the last one wins).

    Args:
        connection: the unit of work's connection.
        table: the target table (with a unique constraint on ``(scope, key)`` and an ``id``).
        rows: column dicts, each with every column of the table.
        scope: the owning column (e.g. ``account_id``).
        key: the provider's id column within the scope.
        compare: the business columns whose change makes a row *updated*.
        batch_size: rows per SELECT and per executemany.
        new_ids: makes ``n`` ids for inserted rows whose ``id`` is None (ids are made only for
            rows that are actually new); an updated row is written under its stored id.
        lookup: False when the caller knows no row of the scopes is stored (every row is new,
            nothing is read).
    """
    inserted = updated = unchanged = 0
    if not rows:
        return UpsertCounts()
    writer = BulkWriter(connection, table, conflict=(scope, key))
    existing = ExistingRows(connection, table, scope=scope, key=key, columns=("id", *compare))
    position = {name: i for i, name in enumerate(writer.columns)}
    compare_at = [position[name] for name in compare]
    id_at = position["id"]
    id_processor = writer.processor("id")
    stored_keys = _stored_form_keys(connection.dialect, table, compare)
    normalize = any(k is not None for k in stored_keys)

    def form(values: Sequence[Any]) -> tuple[Any, ...]:
        if not normalize:
            return tuple(values)
        return tuple(
            value if fn is None else fn(value)
            for fn, value in zip(stored_keys, values, strict=True)
        )

    for batch in batches(_dedupe(rows, scope, key), batch_size):
        keys_by_scope: dict[Any, list[Any]] = defaultdict(list)
        for row in batch:
            keys_by_scope[row[scope]].append(row[key])
        stored: dict[tuple[Any, Any], tuple[Any, tuple[Any, ...]]] = {}
        for scope_value, keys in keys_by_scope.items() if lookup else ():
            for found in await existing.fetch(scope_value, keys):
                stored[(scope_value, found[0])] = (found[1], form(found[2:]))
        to_write: list[tuple[Any, ...]] = []
        missing_ids: list[int] = []
        for row in batch:
            values = writer.process(row)
            previous = stored.get((row[scope], row[key]))
            if previous is None:
                inserted += 1
                if values[id_at] is None:
                    missing_ids.append(len(to_write))
                to_write.append(values)
                continue
            if previous[1] == form([values[i] for i in compare_at]):
                unchanged += 1
                continue
            updated += 1
            values = (*values[:id_at], previous[0], *values[id_at + 1 :])
            to_write.append(values)
        if missing_ids:
            if new_ids is None:
                raise ValueError(f"{table.name}: a new row has no id")
            for index, made in zip(missing_ids, new_ids(len(missing_ids)), strict=True):
                values = to_write[index]
                bound = made if id_processor is None else id_processor(made)
                to_write[index] = (*values[:id_at], bound, *values[id_at + 1 :])
        await writer.write_prepared(to_write)
    return UpsertCounts(inserted=inserted, updated=updated, unchanged=unchanged)
