"""``dashtam export`` on a SQLite file through the standard library ``sqlite3`` module.

Implements the application's ``ExportReader`` without SQLAlchemy or aiosqlite: importing
SQLAlchemy costs more than a small export takes, and aiosqlite hands every chunk across threads.
The rows, their order and the filters are those of
:class:`~dashtam_cli.infrastructure.db.export_readers.SqlExportReader` (which serves PostgreSQL and
in-memory SQLite); :mod:`~dashtam_cli.infrastructure.db.sqlite_readers` supplies the same WHERE
clauses as ``transactions list``.

The goal is constant memory and the speed of the ``csv`` module over a raw cursor, so exactly the
exported columns are selected, in output order, a cursor is read ``chunk_size`` rows at a time, and
no entity, dict or ``Decimal`` is built per row. The stored text is already almost the exported
text:

* ``DecimalType`` holds the exact ``str(Decimal)`` and ``Date`` holds ``YYYY-MM-DD``: both pass
  straight through (never via a float);
* ``Uuid`` holds 32 hex digits: dashes are inserted by slicing (measured: half the cost of the
  same in SQL with ``printf``/``substr``);
* ``UtcDateTime`` holds ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC and becomes
  ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` (without ``.000000``, exactly like ``datetime.isoformat``);
* ``Boolean`` holds ``0`` / ``1`` and becomes ``False`` / ``True``.

Only the values that need it are converted, row by row. Foreign keys and instants repeat a lot
(one account for thousands of rows, one ``created_at`` per synced batch), so they go through a
cache that lives for one chunk.

Each chunk is read synchronously (a few milliseconds); the generator yields to the event loop
between chunks so other tasks keep running.
"""

# SQL text is assembled only from this module's constant table and column names; every value
# is a bound ``?`` parameter.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from enum import Enum, auto
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashtam_cli.application.ports import (
    ACCOUNT_EXPORT,
    HOLDING_EXPORT,
    TRANSACTION_EXPORT,
    ExportChunk,
    ExportLayout,
    ExportValue,
)
from dashtam_cli.domain.errors import DomainError
from dashtam_cli.infrastructure.db import search_index
from dashtam_cli.infrastructure.db.errors import DatabaseUnavailableError
from dashtam_cli.infrastructure.db.sqlite_readers import (
    BUSY_TIMEOUT_MS,
    has_search_index,
    read_only_uri,
    search_expression,
    sqlite_error,
    transaction_where,
)

if TYPE_CHECKING:
    from uuid import UUID

    from dashtam_cli.application.queries import TransactionCriteria

#: ``YYYY-MM-DD HH:MM:SS`` and ``YYYY-MM-DD HH:MM:SS.ffffff``: how ``UtcDateTime`` stores instants.
_STORED_INSTANT_LENGTHS = (19, 26)


class ColumnKind(Enum):
    """How a column's stored value becomes its exported value."""

    TEXT = auto()
    UUID = auto()
    KEY = auto()  # a UUID primary key: unique, never NULL
    DECIMAL = auto()
    DATE = auto()
    INSTANT = auto()
    BOOLEAN = auto()


_T = ColumnKind
#: The storage kind of every exported column (checked against the schema by the tests and by
#: the SQLAlchemy reader when it builds its SELECT).
EXPORT_KINDS: Mapping[str, Mapping[str, ColumnKind]] = {
    "transactions": {
        "id": _T.KEY,
        "account_id": _T.UUID,
        "provider_transaction_id": _T.TEXT,
        "transaction_type": _T.TEXT,
        "subtype": _T.TEXT,
        "status": _T.TEXT,
        "amount": _T.DECIMAL,
        "currency": _T.TEXT,
        "description": _T.TEXT,
        "asset_type": _T.TEXT,
        "symbol": _T.TEXT,
        "security_name": _T.TEXT,
        "quantity": _T.DECIMAL,
        "unit_price": _T.DECIMAL,
        "fees": _T.DECIMAL,
        "transaction_date": _T.DATE,
        "settlement_date": _T.DATE,
        "posted_at": _T.INSTANT,
        "created_at": _T.INSTANT,
        "updated_at": _T.INSTANT,
    },
    "accounts": {
        "id": _T.KEY,
        "connection_id": _T.UUID,
        "account_number_masked": _T.TEXT,
        "name": _T.TEXT,
        "account_type": _T.TEXT,
        "currency": _T.TEXT,
        "balance": _T.DECIMAL,
        "available_balance": _T.DECIMAL,
        "cash_balance": _T.DECIMAL,
        "is_active": _T.BOOLEAN,
        "last_synced_at": _T.INSTANT,
        "created_at": _T.INSTANT,
        "updated_at": _T.INSTANT,
    },
    "holdings": {
        "id": _T.KEY,
        "account_id": _T.UUID,
        "provider_holding_id": _T.TEXT,
        "symbol": _T.TEXT,
        "security_name": _T.TEXT,
        "asset_type": _T.TEXT,
        "quantity": _T.DECIMAL,
        "average_price": _T.DECIMAL,
        "cost_basis": _T.DECIMAL,
        "market_value": _T.DECIMAL,
        "current_price": _T.DECIMAL,
        "currency": _T.TEXT,
        "is_active": _T.BOOLEAN,
        "created_at": _T.INSTANT,
        "updated_at": _T.INSTANT,
    },
}


def kinds_of(layout: ExportLayout) -> list[ColumnKind]:
    """The storage kind of each of a layout's fields, in order.

    Raises:
        ValueError: the layout does not match :data:`EXPORT_KINDS` (a wiring bug).
    """
    table = EXPORT_KINDS[layout.kind]
    kinds = [table[name] for name in layout.fields]
    booleans = {n for n, k in zip(layout.fields, kinds, strict=True) if k is ColumnKind.BOOLEAN}
    if set(table) != set(layout.fields) or booleans != layout.boolean_fields:
        raise ValueError(f"the {layout.kind} export layout does not match its column kinds")
    return kinds


# --------------------------------------------------------------------- stored text -> output


def uuid_text(stored: str) -> str:
    """32 stored hex digits -> the canonical ``8-4-4-4-12`` form (``str(UUID)``)."""
    return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"


def instant_text(stored: str) -> str:
    """A stored UTC instant -> ``datetime.isoformat()`` of the aware UTC datetime."""
    if len(stored) in _STORED_INSTANT_LENGTHS and stored[10] == " ":
        clock = stored[11:19] if stored.endswith(".000000") else stored[11:]
        return f"{stored[:10]}T{clock}+00:00"
    # not the shape UtcDateTime writes: parse it the way its result processor does
    parsed = dt.datetime.fromisoformat(stored)
    aware = parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    return aware.isoformat()


class _Memo(dict[Any, ExportValue]):
    """A conversion cache for one chunk (so bounded by the chunk size); None stays None."""

    def __init__(self, convert: Callable[[Any], ExportValue]) -> None:
        super().__init__()
        self[None] = None
        self._convert = convert

    def __missing__(self, stored: Any) -> ExportValue:
        value = self[stored] = self._convert(stored)
        return value


type ValueConverter = Callable[[Any], ExportValue]
"""Converts one stored value into its exported value."""

type ConverterFactory = Callable[[], ValueConverter]
"""Makes the converter of one column for one chunk (so a cache lives for one chunk only)."""


def memoized(convert: Callable[[Any], ExportValue]) -> ConverterFactory:
    """``convert`` through a cache made fresh for every chunk (None is passed through)."""
    return lambda: _Memo(convert).__getitem__


def plain(convert: ValueConverter) -> ConverterFactory:
    """``convert`` as is, for values that never repeat (and are never None)."""
    return lambda: convert


#: How each kind is converted from its SQLite storage (None: passed through as stored).
SQLITE_CONVERTERS: Mapping[ColumnKind, ConverterFactory | None] = {
    ColumnKind.TEXT: None,
    ColumnKind.DECIMAL: None,
    ColumnKind.DATE: None,
    ColumnKind.KEY: plain(uuid_text),
    ColumnKind.UUID: memoized(uuid_text),
    ColumnKind.INSTANT: memoized(instant_text),
    ColumnKind.BOOLEAN: memoized(bool),
}

type Conversions = list[tuple[int, ConverterFactory]]
"""(position, converter factory) for the columns of a row that need converting."""


def conversions_for(
    kinds: Sequence[ColumnKind], table: Mapping[ColumnKind, ConverterFactory | None]
) -> Conversions:
    """The converters ``table`` assigns to ``kinds``, by position (pass-through kinds omitted)."""
    return [(i, make) for i, kind in enumerate(kinds) if (make := table[kind]) is not None]


def converted(rows: Sequence[Sequence[Any]], conversions: Conversions) -> ExportChunk:
    """A chunk with the values that need it converted (rows as lists; others untouched).

    A plain loop per row: measured faster than converting whole columns of a transposed chunk.
    """
    if not rows or not conversions:
        return rows
    active = [(position, make()) for position, make in conversions]
    out: list[list[Any]] = []
    append = out.append
    for row in rows:
        values = list(row)
        for position, convert in active:
            values[position] = convert(values[position])
        append(values)
    return out


# ------------------------------------------------------------------------------------ reader


def _select(layout: ExportLayout) -> tuple[str, Conversions]:
    kinds = kinds_of(layout)
    columns = ", ".join(f"{layout.kind}.{name}" for name in layout.fields)
    return f"SELECT {columns} FROM {layout.kind}", conversions_for(kinds, SQLITE_CONVERTERS)


class SqliteExportReader:
    """Implements the application's ``ExportReader`` on a SQLite file with ``sqlite3``.

    Each export reads through its own read-only connection (``mode=ro``: it never creates the
    file and can never write); its single SELECT sees one consistent snapshot (WAL), however long
    the export takes, without blocking writers.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        """Read the SQLite file at ``path`` (nothing is opened until an export starts)."""
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms

    async def transactions(
        self, criteria: TransactionCriteria, *, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Matching transactions, oldest first (transaction date, then stored order).

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if criteria.account_ids == ():
            return
        sql, conversions = _select(TRANSACTION_EXPORT)
        connection = self._connect()
        expression = None
        if criteria.search is not None:
            try:
                if has_search_index(connection):
                    expression = search_expression(
                        lambda query, bound: connection.execute(query, bound).fetchall(), criteria
                    )
            except sqlite3.Error as exc:
                connection.close()
                raise DatabaseUnavailableError(self._error(exc, opening=False)) from exc
        if expression is None:
            clauses, params = transaction_where(criteria)
            day = "transactions.transaction_date"
        else:  # the search index's candidates drive the query (as in the list readers)
            clauses, params = transaction_where(criteria, unindexed=True)
            clauses.insert(0, search_index.CANDIDATE_TERM)
            params.insert(0, expression)
            day = "+transactions.transaction_date"
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        # same-day rows in stored order: the date index already holds (date, rowid), so no sort
        # (a tie-break on id costs a temporary B-tree: +7% on a million rows)
        sql += f"{where} ORDER BY {day}, transactions.rowid"
        async for chunk in self._stream(sql, params, conversions, chunk_size, connection):
            yield chunk

    async def accounts(
        self, *, connection_id: UUID | None, include_inactive: bool, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Accounts of one connection or all (active ones unless ``include_inactive``), by name.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        sql, conversions = _select(ACCOUNT_EXPORT)
        clauses: list[str] = []
        params: list[object] = []
        if connection_id is not None:
            clauses.append("accounts.connection_id = ?")
            params.append(connection_id.hex)
        if not include_inactive:
            clauses.append("accounts.is_active = 1")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql += f"{where} ORDER BY accounts.name, accounts.id"
        async for chunk in self._stream(sql, params, conversions, chunk_size):
            yield chunk

    async def holdings(
        self, *, account_id: UUID | None, include_inactive: bool, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Holdings of one account or all (active ones unless ``include_inactive``).

        Ordered by account, symbol, then id.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        sql, conversions = _select(HOLDING_EXPORT)
        clauses: list[str] = []
        params: list[object] = []
        if account_id is not None:
            clauses.append("holdings.account_id = ?")
            params.append(account_id.hex)
        if not include_inactive:
            clauses.append("holdings.is_active = 1")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql += f"{where} ORDER BY holdings.account_id, holdings.symbol, holdings.id"
        async for chunk in self._stream(sql, params, conversions, chunk_size):
            yield chunk

    def _error(self, exc: sqlite3.Error, *, opening: bool) -> DomainError:
        """The DomainError for a driver failure (see :func:`sqlite_error`)."""
        return sqlite_error(self._path, exc, opening=opening)

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: no implicit BEGIN; the one SELECT is its own read transaction
            connection = sqlite3.connect(read_only_uri(self._path), uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise DatabaseUnavailableError(self._error(exc, opening=True)) from exc
        try:
            connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            search_index.register_functions(connection)
        except sqlite3.Error as exc:
            connection.close()
            raise DatabaseUnavailableError(self._error(exc, opening=True)) from exc
        return connection

    async def _stream(
        self,
        sql: str,
        params: Sequence[object],
        conversions: Conversions,
        chunk_size: int,
        connection: sqlite3.Connection | None = None,
    ) -> AsyncGenerator[ExportChunk]:
        """Run ``sql`` and yield its converted rows ``chunk_size`` at a time.

        ``connection`` (one of :meth:`_connect`'s, else a new one) is closed at the end.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` when the file cannot be opened,
                ``DATABASE_ERROR`` when the query fails.
        """
        if connection is None:
            connection = self._connect()
        try:
            try:
                cursor = connection.execute(sql, tuple(params))
                rows = cursor.fetchmany(chunk_size)
            except sqlite3.Error as exc:
                raise DatabaseUnavailableError(self._error(exc, opening=False)) from exc
            while rows:
                yield converted(rows, conversions)
                await asyncio.sleep(0)  # let the event loop run other tasks between chunks
                try:
                    rows = cursor.fetchmany(chunk_size)
                except sqlite3.Error as exc:
                    raise DatabaseUnavailableError(self._error(exc, opening=False)) from exc
        finally:
            connection.close()


__all__ = [
    "EXPORT_KINDS",
    "SQLITE_CONVERTERS",
    "ColumnKind",
    "Conversions",
    "ConverterFactory",
    "SqliteExportReader",
    "conversions_for",
    "converted",
    "instant_text",
    "kinds_of",
    "memoized",
    "plain",
    "uuid_text",
]
