"""Streaming reads for ``dashtam export`` through SQLAlchemy (PostgreSQL, in-memory SQLite).

Implements the application's ``ExportReader``; a SQLite *file* is exported by the lighter
:class:`~dashtam_cli.infrastructure.db.sqlite_export_readers.SqliteExportReader` (standard library
``sqlite3``), which writes exactly the same rows. A million-row export runs in constant memory:

* rows stream through a server-side cursor (``AsyncConnection.stream`` with ``yield_per``) and
  are handed on a partition at a time, never collected;
* exactly the exported columns are selected, in output order, and no entity or dict is built per
  row;
* on PostgreSQL the text shapes come from SQL: ``CAST(uuid AS TEXT)``, ``to_char`` for dates and
  instants (``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` in UTC, without ``.000000`` like
  ``datetime.isoformat``). ``NUMERIC`` arrives as ``Decimal`` and becomes ``str(Decimal)``, so both
  backends write identical text for identical data;
* on SQLite the stored text is read as is and converted like ``SqliteExportReader`` does.

Transactions are filtered by the same :func:`transaction_conditions` as ``transactions list``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Date,
    Select,
    String,
    Text,
    Uuid,
    cast,
    func,
    literal,
    literal_column,
    select,
    true,
    type_coerce,
)
from sqlalchemy.exc import DBAPIError

from dashtam_cli.application.ports import (
    ACCOUNT_EXPORT,
    HOLDING_EXPORT,
    TRANSACTION_EXPORT,
    ExportChunk,
    ExportLayout,
    ExportValue,
)
from dashtam_cli.domain.money import decimal_text
from dashtam_cli.infrastructure.db.readers import transaction_conditions
from dashtam_cli.infrastructure.db.schema import accounts, holdings, transactions
from dashtam_cli.infrastructure.db.sqlite_export_readers import (
    SQLITE_CONVERTERS,
    ColumnKind,
    Conversions,
    ConverterFactory,
    conversions_for,
    converted,
    kinds_of,
    plain,
)
from dashtam_cli.infrastructure.db.types import DecimalType, UtcDateTime
from dashtam_cli.infrastructure.db.unit_of_work import DatabaseUnavailableError, database_error

if TYPE_CHECKING:
    from uuid import UUID

    from sqlalchemy import Column, ColumnElement, Table
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dashtam_cli.application.queries import TransactionCriteria

_SQLITE = "sqlite"


def schema_kind(column: Column[Any]) -> ColumnKind:
    """The storage kind of a schema column, from its SQLAlchemy type.

    Raises:
        TypeError: a type no export knows how to write.
    """
    kind = column.type
    if isinstance(kind, Uuid):
        return ColumnKind.KEY if column.primary_key and not column.nullable else ColumnKind.UUID
    if isinstance(kind, DecimalType):
        return ColumnKind.DECIMAL
    if isinstance(kind, UtcDateTime):
        return ColumnKind.INSTANT
    if isinstance(kind, Date):
        return ColumnKind.DATE
    if isinstance(kind, Boolean):
        return ColumnKind.BOOLEAN
    if isinstance(kind, String):
        return ColumnKind.TEXT
    raise TypeError(f"no export conversion for {column.table.name}.{column.name} ({kind!r})")


def _decimal_text(value: Any) -> ExportValue:
    """A PostgreSQL ``NUMERIC`` value (``Decimal``) -> its exact plain text (no exponent)."""
    return None if value is None else decimal_text(value)


_POSTGRES_CONVERTERS: dict[ColumnKind, ConverterFactory | None] = {
    kind: plain(_decimal_text) if kind is ColumnKind.DECIMAL else None for kind in ColumnKind
}


def _iso_instant_sql(column: Column[Any]) -> ColumnElement[str]:
    """PostgreSQL: ``timestamptz`` -> ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`` (NULL stays NULL)."""
    text = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US', type_=Text())
    return func.replace(text, ".000000", "", type_=Text()).concat(literal("+00:00", Text()))


def _postgres_expression(column: Column[Any], kind: ColumnKind) -> Any:
    match kind:
        case ColumnKind.TEXT | ColumnKind.BOOLEAN | ColumnKind.DECIMAL:
            return column  # NUMERIC arrives as Decimal: decimal_text() keeps it exact
        case ColumnKind.DATE:
            return func.to_char(column, "YYYY-MM-DD", type_=Text())
        case ColumnKind.UUID | ColumnKind.KEY:
            return cast(column, Text())
        case ColumnKind.INSTANT:
            return _iso_instant_sql(column)


def _sqlite_expression(column: Column[Any], kind: ColumnKind) -> Any:
    # the stored text, without the column type's result processing (converted in Python)
    return type_coerce(column, Text()) if kind is not ColumnKind.TEXT else column


def _select(layout: ExportLayout, table: Table, dialect: str) -> tuple[Select[Any], Conversions]:
    """The SELECT of a layout's fields and the column conversions left for Python.

    Raises:
        ValueError: the layout's column kinds disagree with the schema (a bug).
    """
    kinds = kinds_of(layout)
    columns = [table.c[name] for name in layout.fields]
    if [schema_kind(column) for column in columns] != kinds:
        raise ValueError(f"the {layout.kind} export column kinds disagree with the schema")
    sqlite = dialect == _SQLITE
    expression = _sqlite_expression if sqlite else _postgres_expression
    query = select(
        *(
            expression(column, kind).label(column.name)
            for column, kind in zip(columns, kinds, strict=True)
        )
    )
    return query, conversions_for(kinds, SQLITE_CONVERTERS if sqlite else _POSTGRES_CONVERTERS)


class SqlExportReader:
    """Implements the application's ``ExportReader`` over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Stream through ``engine``'s pool (one connection per export)."""
        self._engine = engine
        self._dialect = engine.dialect.name

    async def transactions(
        self, criteria: TransactionCriteria, *, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Matching transactions, oldest first (transaction date; same-day rows in a stable order).

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if criteria.account_ids == ():
            return
        query, conversions = _select(TRANSACTION_EXPORT, transactions, self._dialect)
        # same-day rows: in stored order on SQLite (as SqliteExportReader), by id elsewhere
        same_day: ColumnElement[Any] = (
            literal_column("transactions.rowid") if self._dialect == _SQLITE else transactions.c.id
        )
        query = query.where(*transaction_conditions(criteria, dialect=self._dialect)).order_by(
            transactions.c.transaction_date, same_day
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
        self, query: Select[Any], conversions: Conversions, chunk_size: int
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
                    yield converted(partition, conversions)
            finally:
                await result.close()
        except DBAPIError as exc:
            raise DatabaseUnavailableError(database_error(engine, exc, opening=False)) from exc
        finally:
            await connection.close()
