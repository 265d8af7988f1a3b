"""Read-side queries for the front ends, each in its own short connection.

Readers return domain entities or DTOs straight from SQL; they never go through a unit of work
and never load raw provider payloads (they can be large, and they hold full account numbers).

Performance notes (one million transactions):

* ``list_transactions`` filters, orders and limits in SQL. With one account it walks the
  ``(account_id, transaction_date)`` index backwards and stops after ``limit`` rows; without an
  account filter the ``(transaction_date)`` index does the same. Only the listed columns are read.
* ``search`` is a case-insensitive ``LIKE '%text%'`` over description, symbol and security name.
  On PostgreSQL the pg_trgm GIN indexes of migration 0002 serve ``ILIKE`` (where the extension
  could be created). On SQLite no B-tree can serve it, so this reader reads the rows the other
  filters leave (without an account or date filter, one sequential scan of the table); the
  ``sqlite3`` reader, which the front ends use on a SQLite file, drives a search from the FTS5
  index instead (:mod:`.search_index`).
* ``--type`` / ``--symbol`` alone walk the date index newest first until ``limit`` rows match:
  instant for common values, slower for a value that is rare in a huge table.
* Amounts are never summed, ordered or range-filtered in SQL: on SQLite they are exact text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Select, and_, func, or_, select, true, union_all
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from dashtam_cli.application.queries import TransactionCriteria, TransactionRow
from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.holdings import BalanceSnapshot, Holding
from dashtam_cli.domain.transactions import (
    Transaction,
)
from dashtam_cli.infrastructure.db import mapping, search_index
from dashtam_cli.infrastructure.db.schema import (
    accounts,
    balance_snapshots,
    holdings,
    provider_connections,
    transactions,
)
from dashtam_cli.infrastructure.db.unit_of_work import DatabaseUnavailableError, database_error

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.engine import RowMapping
    from sqlalchemy.ext.asyncio import AsyncEngine

_UUID_HEX_LENGTH = 32
#: Up to this many accounts are listed through one index walk each (see _newest_per_account).
_MAX_UNION_BRANCHES = 64


def _without_raw(table: Table) -> list[Any]:
    return [column for column in table.c if column.name != "raw"]


class _SqlReader:
    """One short connection per query; driver failures become :class:`DatabaseUnavailableError`."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Read through ``engine``'s pool."""
        self._engine = engine

    async def _fetch(self, query: Select[Any]) -> Sequence[RowMapping]:
        """Run a query and return all its rows.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` when the database cannot be
                opened, ``DATABASE_ERROR`` when the query fails.
        """
        try:
            connection = await self._engine.connect()
        except DBAPIError as exc:
            raise DatabaseUnavailableError(database_error(self._engine, exc, opening=True)) from exc
        try:
            result = await connection.execute(query)
            rows: Sequence[RowMapping] = result.mappings().all()
        except DBAPIError as exc:
            raise DatabaseUnavailableError(
                database_error(self._engine, exc, opening=False)
            ) from exc
        finally:
            await connection.close()
        return rows


class SqlConnectionReader(_SqlReader):
    """Implements the application's ``ConnectionReader``."""

    async def list_connections(self) -> list[ProviderConnection]:
        """Every connection (disconnected ones included), oldest first.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        query = select(provider_connections).order_by(
            provider_connections.c.created_at, provider_connections.c.alias
        )
        return [mapping.row_to_connection(row) for row in await self._fetch(query)]


class SqlAccountReader(_SqlReader):
    """Implements the application's ``AccountReader``."""

    async def list_accounts(self) -> list[Account]:
        """Every account, active or not, by name (raw payloads are not read).

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        query = select(*_without_raw(accounts)).order_by(accounts.c.name, accounts.c.id)
        return [mapping.row_to_account({**row, "raw": None}) for row in await self._fetch(query)]


_LIST_COLUMNS = (
    transactions.c.id,
    transactions.c.account_id,
    transactions.c.transaction_date,
    transactions.c.settlement_date,
    transactions.c.transaction_type,
    transactions.c.subtype,
    transactions.c.status,
    transactions.c.amount,
    transactions.c.currency,
    transactions.c.fees,
    transactions.c.description,
    transactions.c.asset_type,
    transactions.c.symbol,
    transactions.c.security_name,
    transactions.c.quantity,
    transactions.c.unit_price,
)


def _contains(column: Any, text: str, *, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring match, with ``%`` and ``_`` in ``text`` taken literally.

    SQLite's ``LIKE`` already ignores ASCII case; wrapping both sides in ``lower()`` as
    ``ILIKE`` does there doubles the cost of a scan (a text with other characters never gets
    here on SQLite: see :func:`transaction_conditions`). PostgreSQL gets ``ILIKE``.
    """
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = f"%{escaped}%"
    if dialect == "sqlite":
        result: ColumnElement[bool] = column.like(pattern, escape="/")
    else:
        result = column.ilike(pattern, escape="/")
    return result


def transaction_conditions(
    criteria: TransactionCriteria, *, dialect: str
) -> list[ColumnElement[bool]]:
    """The WHERE clauses for ``criteria`` (shared with exports that stream the same rows).

    One account is an equality, so the ``(account_id, transaction_date)`` index serves both the
    filter and the newest-first order.

    Args:
        criteria: what to match.
        dialect: the engine's dialect name (``sqlite`` or ``postgresql``).
    """
    t = transactions.c
    conditions: list[ColumnElement[bool]] = []
    ids = criteria.account_ids
    if ids is not None:
        conditions.append(t.account_id == ids[0] if len(ids) == 1 else t.account_id.in_(ids))
    if criteria.since is not None:
        conditions.append(t.transaction_date >= criteria.since)
    if criteria.until is not None:
        conditions.append(t.transaction_date <= criteria.until)
    if criteria.transaction_type is not None:
        conditions.append(t.transaction_type == criteria.transaction_type.value)
    if criteria.subtype is not None:
        conditions.append(t.subtype == criteria.subtype.value)
    if criteria.symbol is not None:
        conditions.append(func.upper(t.symbol) == criteria.symbol.upper())
    unicode = criteria.search is not None and search_index.needs_unicode_case(criteria.search)
    if criteria.search is not None and dialect == "sqlite" and unicode:
        # LIKE ignores the case of ASCII letters only: the function folds any alphabet's
        contains = getattr(func, search_index.CONTAINS_FUNCTION)
        folded = search_index.fold_case(criteria.search)
        conditions.append(contains(folded, t.description, t.symbol, t.security_name) == 1)
    elif criteria.search is not None:
        text = criteria.search
        conditions.append(
            or_(
                _contains(t.description, text, dialect=dialect),
                _contains(t.symbol, text, dialect=dialect),
                _contains(t.security_name, text, dialect=dialect),
            )
        )
    return conditions


def _newest_per_account(
    criteria: TransactionCriteria, ids: Sequence[UUID], *, limit: int, dialect: str
) -> Select[Any]:
    """Several accounts (a connection's): the newest ``limit`` of each, merged, newest ``limit``.

    Each branch walks its account's ``(account_id, transaction_date)`` index and stops after
    ``limit`` rows. A plain ``account_id IN (...)`` makes SQLite (without ANALYZE statistics) sort
    every row of those accounts first: seconds on a million rows instead of milliseconds.
    """
    t = transactions.c
    branches = []
    for account_id in ids:
        single = replace(criteria, account_ids=(account_id,))
        branch = (
            select(*_LIST_COLUMNS)
            .where(*transaction_conditions(single, dialect=dialect))
            .order_by(t.transaction_date.desc(), t.id.desc())
            .limit(limit)
            .subquery()
        )
        branches.append(select(branch))
    merged = union_all(*branches).subquery()
    return (
        select(merged).order_by(merged.c.transaction_date.desc(), merged.c.id.desc()).limit(limit)
    )


def _scan_is_cheaper(criteria: TransactionCriteria) -> bool:
    """A text search with no account or date bound: no index narrows it, so scan the table."""
    return (
        criteria.search is not None
        and criteria.account_ids is None
        and criteria.since is None
        and criteria.until is None
    )


def _page_query(
    criteria: TransactionCriteria,
    *,
    limit: int,
    older_than: tuple[date, UUID] | None,
    dialect: str,
) -> Select[Any]:
    """The newest-first query of ``criteria`` below the ``(date, id)`` key of a previous page.

    ``date <= d AND (date < d OR id < i)`` bounds the date index walk from ``d`` down; the shapes
    (one index walk per account, a scan for an unbounded text search) are ``list_transactions``'.
    """
    t = transactions.c
    newest: Any = t.transaction_date
    if dialect == "sqlite" and _scan_is_cheaper(criteria):
        newest = UnaryExpression(newest, operator=custom_op("+"), type_=newest.type)
    keyset: list[ColumnElement[bool]] = []
    if older_than is not None:
        day, last_id = older_than
        keyset.append(and_(newest <= day, or_(newest < day, t.id < last_id)))
    ids = criteria.account_ids
    if ids is not None and 1 < len(ids) <= _MAX_UNION_BRANCHES:
        branches = []
        for account_id in ids:
            single = replace(criteria, account_ids=(account_id,))
            branch = (
                select(*_LIST_COLUMNS)
                .where(*transaction_conditions(single, dialect=dialect), *keyset)
                .order_by(t.transaction_date.desc(), t.id.desc())
                .limit(limit)
                .subquery()
            )
            branches.append(select(branch))
        merged = union_all(*branches).subquery()
        order = (merged.c.transaction_date.desc(), merged.c.id.desc())
        return select(merged).order_by(*order).limit(limit)
    return (
        select(*_LIST_COLUMNS)
        .where(*transaction_conditions(criteria, dialect=dialect), *keyset)
        .order_by(newest.desc(), t.id.desc())
        .limit(limit)
    )


class SqlTransactionReader(_SqlReader):
    """Implements the application's ``TransactionReader``."""

    async def list_transactions(
        self, criteria: TransactionCriteria, *, limit: int
    ) -> list[TransactionRow]:
        """The newest matching rows (transaction date, then id, descending), at most ``limit``.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if criteria.account_ids == ():
            return []
        dialect = self._engine.dialect.name
        ids = criteria.account_ids
        if ids is not None and 1 < len(ids) <= _MAX_UNION_BRANCHES:
            query = _newest_per_account(criteria, ids, limit=limit, dialect=dialect)
        else:
            newest: Any = transactions.c.transaction_date
            if dialect == "sqlite" and _scan_is_cheaper(criteria):
                # ``+date`` keeps SQLite off the date index: walking a million index entries with
                # a table lookup each (4 s) to find a rare text is slower than one scan (0.7 s).
                newest = UnaryExpression(newest, operator=custom_op("+"), type_=newest.type)
            query = (
                select(*_LIST_COLUMNS)
                .where(*transaction_conditions(criteria, dialect=dialect))
                .order_by(newest.desc(), transactions.c.id.desc())
                .limit(limit)
            )
        return [mapping.row_to_transaction_row(row) for row in await self._fetch(query)]

    async def page_transactions(
        self,
        criteria: TransactionCriteria,
        *,
        limit: int,
        older_than: tuple[date, UUID] | None = None,
    ) -> list[TransactionRow]:
        """A page of :meth:`list_transactions`: the rows after ``older_than`` (keyset paging).

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if criteria.account_ids == ():
            return []
        query = _page_query(
            criteria, limit=limit, older_than=older_than, dialect=self._engine.dialect.name
        )
        return [mapping.row_to_transaction_row(row) for row in await self._fetch(query)]

    async def ids_with_prefix(self, prefix: str, *, limit: int) -> list[UUID]:
        """Up to ``limit`` ids whose 32-digit hex form starts with ``prefix``, ascending.

        A range scan of the primary key: ``prefix000…`` to ``prefixfff…`` (UUIDs compare like
        their hex digits on both backends).

        Raises:
            ValueError: ``prefix`` is not 1 to 32 hexadecimal digits.
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if not 0 < len(prefix) <= _UUID_HEX_LENGTH:
            raise ValueError(f"an id prefix has 1 to 32 hex digits, got {len(prefix)}")
        low = UUID(prefix.ljust(_UUID_HEX_LENGTH, "0"))
        high = UUID(prefix.ljust(_UUID_HEX_LENGTH, "f"))
        query = (
            select(transactions.c.id)
            .where(transactions.c.id >= low, transactions.c.id <= high)
            .order_by(transactions.c.id)
            .limit(limit)
        )
        return [row["id"] for row in await self._fetch(query)]

    async def get_transaction(self, transaction_id: UUID) -> Transaction | None:
        """One transaction (its raw payload is not read), or None.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        query = select(*_without_raw(transactions)).where(transactions.c.id == transaction_id)
        rows = await self._fetch(query)
        return mapping.row_to_transaction({**rows[0], "raw": None}) if rows else None


class SqlHoldingReader(_SqlReader):
    """Implements the application's ``HoldingReader``."""

    async def list_holdings(
        self, *, account_ids: Sequence[UUID] | None = None, include_inactive: bool = False
    ) -> list[Holding]:
        """Holdings of some accounts (None: all), by symbol; raw payloads are not read.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if account_ids is not None and not account_ids:
            return []
        query = select(*_without_raw(holdings)).order_by(
            holdings.c.symbol, holdings.c.provider_holding_id, holdings.c.id
        )
        if account_ids is not None:
            query = query.where(holdings.c.account_id.in_(list(account_ids)))
        if not include_inactive:
            query = query.where(holdings.c.is_active == true())
        return [mapping.row_to_holding({**row, "raw": None}) for row in await self._fetch(query)]


class SqlBalanceReader(_SqlReader):
    """Implements the application's ``BalanceReader``."""

    async def latest_snapshot(self, account_id: UUID) -> BalanceSnapshot | None:
        """The newest snapshot of an account (the ``(account_id, captured_at)`` index), or None.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        b = balance_snapshots.c
        query = (
            select(balance_snapshots)
            .where(b.account_id == account_id)
            .order_by(b.captured_at.desc(), b.id.desc())
            .limit(1)
        )
        rows = await self._fetch(query)
        return mapping.row_to_snapshot(rows[0]) if rows else None

    async def list_snapshots(
        self, *, account_ids: Sequence[UUID] | None = None, since: datetime | None = None
    ) -> list[BalanceSnapshot]:
        """Snapshots oldest first: those at or after ``since`` plus each account's latest before.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if account_ids is not None and not account_ids:
            return []
        b = balance_snapshots.c
        scope: list[ColumnElement[bool]] = []
        if account_ids is not None:
            scope.append(b.account_id.in_(list(account_ids)))
        recent = select(balance_snapshots).where(*scope)
        rows: list[RowMapping] = []
        if since is not None:
            recent = recent.where(b.captured_at >= since)
            latest_before = (
                select(b.account_id, func.max(b.captured_at).label("captured_at"))
                .where(*scope, b.captured_at < since)
                .group_by(b.account_id)
                .subquery()
            )
            baseline = select(balance_snapshots).join(
                latest_before,
                and_(
                    b.account_id == latest_before.c.account_id,
                    b.captured_at == latest_before.c.captured_at,
                ),
            )
            rows.extend(await self._fetch(baseline))
        rows.extend(await self._fetch(recent))
        snapshots = [mapping.row_to_snapshot(row) for row in rows]
        snapshots.sort(key=lambda s: (s.captured_at, str(s.account_id), str(s.id)))
        return snapshots
