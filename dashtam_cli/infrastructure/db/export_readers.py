"""Streaming reads for ``dashtam export``: rows leave the database already in exported form.

Implements the application's ``ExportReader``. An export of a million transactions must run in
constant memory and about as fast as the ``csv`` module over a raw ``sqlite3`` cursor, so:

* rows stream through a server-side cursor (``AsyncConnection.stream`` with ``yield_per``) and
  are handed on a partition at a time, never collected;
* exactly the exported columns are selected, in output order, and no entity, dict or ``Decimal``
  is built per row: a column that needs converting is converted once per chunk, column-wise;
* on SQLite the stored text is already almost the exported text. A ``DecimalType`` holds the exact
  ``str(Decimal)`` and a ``Date`` holds ``YYYY-MM-DD``: both pass straight through (never via a
  float). A ``Uuid`` is stored as 32 hex digits: dashes are inserted by slicing (measured: half the
  cost of doing it in SQL with ``printf``/``substr``). A ``UtcDateTime`` is stored as
  ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC and becomes ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` (without
  ``.000000``, exactly like ``datetime.isoformat``). Foreign keys and instants repeat a lot (one
  account per thousands of rows, one ``created_at`` per synced batch), so they are converted
  through a cache that lives for one chunk;
* on PostgreSQL the same shapes come from ``CAST(uuid AS TEXT)`` and ``to_char``; ``NUMERIC``
  arrives as ``Decimal`` and becomes ``str(Decimal)``, so both backends write identical text for
  identical data.

Transactions are filtered by the same :func:`transaction_conditions` as ``transactions list``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Callable, Sequence
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, String, Text, cast, func, literal, select, true, type_coerce
from sqlalchemy.exc import DBAPIError

from dashtam_cli.application.ports import (
    ACCOUNT_EXPORT,
    HOLDING_EXPORT,
    TRANSACTION_EXPORT,
    ExportChunk,
    ExportLayout,
    ExportValue,
)
from dashtam_cli.infrastructure.db.readers import transaction_conditions
from dashtam_cli.infrastructure.db.schema import accounts, holdings, transactions
from dashtam_cli.infrastructure.db.unit_of_work import DatabaseUnavailableError, database_error

if TYPE_CHECKING:
    from uuid import UUID

    from sqlalchemy import Column, ColumnElement, Table
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dashtam_cli.application.queries import TransactionCriteria

_SQLITE = "sqlite"
#: ``YYYY-MM-DD HH:MM:SS`` and ``YYYY-MM-DD HH:MM:SS.ffffff``: how ``UtcDateTime`` stores instants.
_STORED_INSTANT_LENGTHS = (19, 26)


class _Kind(Enum):
    """How a column's stored value becomes its exported text."""

    TEXT = auto()
    UUID = auto()
    DECIMAL = auto()
    DATE = auto()
    INSTANT = auto()
    BOOLEAN = auto()


def _kind(column: Column[Any]) -> _Kind:
    """The conversion a schema column needs, from its SQLAlchemy type."""
    from sqlalchemy import Boolean, Date, Uuid

    from dashtam_cli.infrastructure.db.types import DecimalType, UtcDateTime

    kind = column.type
    if isinstance(kind, Uuid):
        return _Kind.UUID
    if isinstance(kind, DecimalType):
        return _Kind.DECIMAL
    if isinstance(kind, UtcDateTime):
        return _Kind.INSTANT
    if isinstance(kind, Date):
        return _Kind.DATE
    if isinstance(kind, Boolean):
        return _Kind.BOOLEAN
    if isinstance(kind, String):
        return _Kind.TEXT
    raise TypeError(f"no export conversion for {column.table.name}.{column.name} ({kind!r})")


# --------------------------------------------------------------- SQLite: stored text -> output


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
    """A conversion cache for one chunk (bounded by the chunk size); None stays None."""

    def __init__(self, convert: Callable[[str], str]) -> None:
        super().__init__()
        self[None] = None
        self._convert = convert

    def __missing__(self, stored: str) -> str:
        text = self[stored] = self._convert(stored)
        return text


type _ColumnConverter = Callable[[Sequence[Any]], Sequence[ExportValue]]


def _each_uuid(values: Sequence[Any]) -> list[ExportValue]:
    """Unique, non-null ids (a primary key): no cache can help."""
    return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in values]


def _memoized(convert: Callable[[str], str]) -> _ColumnConverter:
    def column(values: Sequence[Any]) -> list[ExportValue]:
        return list(map(_Memo(convert).__getitem__, values))

    return column


def _decimal_texts(values: Sequence[Any]) -> list[ExportValue]:
    """PostgreSQL ``NUMERIC`` values (``Decimal``) -> ``str(Decimal)``, exact."""
    return [None if v is None else str(v) for v in values]


# ------------------------------------------------------------------------ building the SELECT


def _iso_instant_sql(column: Column[Any]) -> ColumnElement[str]:
    """PostgreSQL: ``timestamptz`` -> ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`` (NULL stays NULL)."""
    text = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US', type_=Text())
    return func.replace(text, ".000000", "", type_=Text()).concat(literal("+00:00", Text()))


def _sqlite_column(column: Column[Any], kind: _Kind) -> tuple[Any, _ColumnConverter | None]:
    match kind:
        case _Kind.TEXT | _Kind.BOOLEAN:
            return column, None  # booleans through the type's own processor (0/1 -> bool)
        case _Kind.DECIMAL | _Kind.DATE:
            return type_coerce(column, Text()), None  # the stored text is the output
        case _Kind.UUID:
            unique = column.primary_key and not column.nullable
            return type_coerce(column, Text()), _each_uuid if unique else _memoized(uuid_text)
        case _Kind.INSTANT:
            return type_coerce(column, Text()), _memoized(instant_text)


def _postgres_column(column: Column[Any], kind: _Kind) -> tuple[Any, _ColumnConverter | None]:
    match kind:
        case _Kind.TEXT | _Kind.BOOLEAN:
            return column, None
        case _Kind.DECIMAL:
            return column, _decimal_texts
        case _Kind.DATE:
            return func.to_char(column, "YYYY-MM-DD", type_=Text()), None
        case _Kind.UUID:
            return cast(column, Text()), None
        case _Kind.INSTANT:
            return _iso_instant_sql(column), None


type _Conversions = list[tuple[int, _ColumnConverter]]


def _select(layout: ExportLayout, table: Table, dialect: str) -> tuple[Select[Any], _Conversions]:
    """The SELECT of a layout's fields and the column conversions left for Python."""
    columns = [table.c[name] for name in layout.fields]
    kinds = [_kind(column) for column in columns]
    booleans = {c.name for c, kind in zip(columns, kinds, strict=True) if kind is _Kind.BOOLEAN}
    if booleans != layout.boolean_fields:
        raise ValueError(f"the {layout.kind} layout's boolean fields do not match the schema")
    build = _sqlite_column if dialect == _SQLITE else _postgres_column
    expressions: list[Any] = []
    conversions: _Conversions = []
    for position, (column, kind) in enumerate(zip(columns, kinds, strict=True)):
        expression, convert = build(column, kind)
        expressions.append(expression.label(column.name))
        if convert is not None:
            conversions.append((position, convert))
    return select(*expressions), conversions


def _converted(rows: Sequence[Sequence[Any]], conversions: _Conversions) -> ExportChunk:
    """Apply the column conversions to a chunk: transpose, convert whole columns, transpose back."""
    if not rows:
        return []
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for position, convert in conversions:
        columns[position] = convert(columns[position])
    return list(zip(*columns, strict=True))


class SqlExportReader:
    """Implements the application's ``ExportReader`` over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Stream through ``engine``'s pool (one connection per export)."""
        self._engine = engine
        self._dialect = engine.dialect.name

    async def transactions(
        self, criteria: TransactionCriteria, *, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Matching transactions, oldest first (transaction date, then id).

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if criteria.account_ids == ():
            return
        query, conversions = _select(TRANSACTION_EXPORT, transactions, self._dialect)
        query = query.where(*transaction_conditions(criteria, dialect=self._dialect)).order_by(
            transactions.c.transaction_date, transactions.c.id
        )
        async for chunk in self._stream(query, conversions, chunk_size):
            yield chunk

    async def accounts(
        self, *, connection_id: UUID | None, include_inactive: bool, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Accounts of one connection or all (active ones unless ``include_inactive``), by name.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        query, conversions = _select(ACCOUNT_EXPORT, accounts, self._dialect)
        if connection_id is not None:
            query = query.where(accounts.c.connection_id == connection_id)
        if not include_inactive:
            query = query.where(accounts.c.is_active == true())
        query = query.order_by(accounts.c.name, accounts.c.id)
        async for chunk in self._stream(query, conversions, chunk_size):
            yield chunk

    async def holdings(
        self, *, account_id: UUID | None, include_inactive: bool, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Holdings of one account or all (active ones unless ``include_inactive``).

        Ordered by account, symbol, then id.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        query, conversions = _select(HOLDING_EXPORT, holdings, self._dialect)
        if account_id is not None:
            query = query.where(holdings.c.account_id == account_id)
        if not include_inactive:
            query = query.where(holdings.c.is_active == true())
        query = query.order_by(holdings.c.account_id, holdings.c.symbol, holdings.c.id)
        async for chunk in self._stream(query, conversions, chunk_size):
            yield chunk

    async def _stream(
        self, query: Select[Any], conversions: _Conversions, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Run ``query`` on a server-side cursor and yield its rows ``chunk_size`` at a time.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` when no connection can be opened,
                ``DATABASE_ERROR`` when the query fails.
        """
        engine = self._engine
        try:
            connection = await engine.connect()
        except DBAPIError as exc:
            raise DatabaseUnavailableError(database_error(engine, exc, opening=True)) from exc
        try:
            result = await connection.stream(query.execution_options(yield_per=chunk_size))
            try:
                async for partition in result.partitions(chunk_size):
                    yield _converted(partition, conversions) if conversions else partition
            finally:
                await result.close()
        except DBAPIError as exc:
            raise DatabaseUnavailableError(database_error(engine, exc, opening=False)) from exc
        finally:
            await connection.close()
