"""Read-side queries on a SQLite file through the standard library ``sqlite3`` module.

The same reader ports as :mod:`dashtam_cli.infrastructure.db.readers` (same rows, same order, the
same filter semantics and index-friendly query shapes), without importing SQLAlchemy: importing
it costs more than the whole of ``dashtam accounts list`` may take. The composition root uses
these readers when the database is a SQLite file; PostgreSQL (and in-memory SQLite) keep the
SQLAlchemy readers.

Values are decoded the way the SQLAlchemy column types stored them on SQLite:

* ``Uuid``: 32 lower-case hex digits (``TEXT``), so ids compare and sort like their hex form.
* ``DecimalType``: the exact ``str(Decimal)`` text, read back with ``Decimal(text)``.
* ``UtcDateTime``: ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC text, read back as an aware UTC datetime.
* ``Date``: ``YYYY-MM-DD`` text. ``Boolean``: ``0`` / ``1``.
* ``JsonType``: JSON text, non-integer numbers read as exact ``Decimal`` (as simplejson's
  ``use_decimal`` does).

A text search (``--search``, the dashboard's ``/``) of three characters or more is driven from
the FTS5 trigram index of :mod:`.search_index` when the database has it: the rows holding every
trigram of the text are the candidates, and the usual ``LIKE`` keeps exactly the rows a scan
would. Text so common that it has more than ``MAX_CANDIDATES`` candidates is read the usual way
(newest first through the date index finds it quickly).

All readers of one :class:`SqliteReaders` share one read-only connection (``mode=ro``: a read
never creates the database file and can never write), opened on first use; each statement is its
own read transaction, so rows committed by a writer in between are seen by the next query. Calls
are synchronous inside the ``async`` methods: each is a short indexed read.
"""

# SQL text is assembled only from this module's constant table and column names; every value
# (ids, dates, search text, limits) is a bound ``?`` parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from dashtam_cli.application.queries import TransactionCriteria, TransactionRow
from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode
from dashtam_cli.domain.holdings import BalanceSnapshot, Holding
from dashtam_cli.domain.transactions import (
    Transaction,
)
from dashtam_cli.infrastructure.db import mapping, search_index
from dashtam_cli.infrastructure.db.errors import (
    DAMAGED_HINT,
    OTHER_HINT,
    DatabaseUnavailableError,
    driver_reason,
    is_damaged_sqlite,
    sqlite_unreachable_hint,
)

#: How long a read waits for a writer's lock (milliseconds), as the engine's connections do.
BUSY_TIMEOUT_MS = 5000
_UUID_HEX_LENGTH = 32
#: Up to this many accounts are listed through one index walk each (as readers.py does).
_MAX_UNION_BRANCHES = 64

type _Convert = Callable[[Any], Any]
type _Columns = tuple[tuple[str, _Convert], ...]

# ----------------------------------------------------------------------------- conversions


def _text(value: Any) -> Any:
    return value


def _uuid(value: Any) -> UUID | None:
    return None if value is None else UUID(hex=str(value))


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _date(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(str(value))


def _instant(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _json(value: Any) -> Any:
    # what simplejson's ``use_decimal`` reads: integers as int, other numbers as exact Decimal
    return None if value is None else json.loads(value, parse_float=Decimal)


def instant_text(value: dt.datetime) -> str:
    """The text ``UtcDateTime`` stores on SQLite for an aware datetime (used to bind filters).

    Raises:
        ValueError: ``value`` is naive.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime refused: pass a timezone-aware (UTC) datetime")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def read_only_uri(path: Path) -> str:
    """The ``sqlite3`` URI that opens ``path`` read-only (never creating it; ``?``, ``#`` and
    ``%`` in the path are percent-encoded)."""
    return f"{path.resolve().as_uri()}?mode=ro"


# --------------------------------------------------------------------------------- columns

_CONNECTION_COLUMNS: _Columns = (
    ("id", _uuid),
    ("provider", _text),
    ("alias", _text),
    ("status", _text),
    ("credentials", _bytes),
    ("credential_kind", _text),
    ("access_expires_at", _instant),
    ("refresh_expires_at", _instant),
    ("connected_at", _instant),
    ("last_sync_at", _instant),
    ("last_sync_status", _text),
    ("provider_state", _json),
    ("created_at", _instant),
    ("updated_at", _instant),
)

# raw payloads are never read (they can be large and hold full account numbers)
_ACCOUNT_COLUMNS: _Columns = (
    ("id", _uuid),
    ("connection_id", _uuid),
    ("provider_account_id", _text),
    ("account_number_masked", _text),
    ("name", _text),
    ("account_type", _text),
    ("currency", _text),
    ("balance", _decimal),
    ("balance_currency", _text),
    ("available_balance", _decimal),
    ("available_balance_currency", _text),
    ("cash_balance", _decimal),
    ("cash_balance_currency", _text),
    ("is_active", _bool),
    ("last_synced_at", _instant),
    ("created_at", _instant),
    ("updated_at", _instant),
)

_HOLDING_COLUMNS: _Columns = (
    ("id", _uuid),
    ("account_id", _uuid),
    ("provider_holding_id", _text),
    ("symbol", _text),
    ("security_name", _text),
    ("asset_type", _text),
    ("quantity", _decimal),
    ("currency", _text),
    ("average_price", _decimal),
    ("cost_basis", _decimal),
    ("cost_basis_currency", _text),
    ("market_value", _decimal),
    ("market_value_currency", _text),
    ("current_price", _decimal),
    ("is_active", _bool),
    ("created_at", _instant),
    ("updated_at", _instant),
)

_LIST_COLUMNS: _Columns = (
    ("id", _uuid),
    ("account_id", _uuid),
    ("transaction_date", _date),
    ("settlement_date", _date),
    ("transaction_type", _text),
    ("subtype", _text),
    ("status", _text),
    ("amount", _decimal),
    ("currency", _text),
    ("fees", _decimal),
    ("description", _text),
    ("asset_type", _text),
    ("symbol", _text),
    ("security_name", _text),
    ("quantity", _decimal),
    ("unit_price", _decimal),
)

_TRANSACTION_COLUMNS: _Columns = (
    *_LIST_COLUMNS,
    ("provider_transaction_id", _text),
    ("posted_at", _instant),
    ("created_at", _instant),
    ("updated_at", _instant),
)

_SNAPSHOT_COLUMNS: _Columns = (
    ("id", _uuid),
    ("account_id", _uuid),
    ("captured_at", _instant),
    ("currency", _text),
    ("balance", _decimal),
    ("cash_value", _decimal),
    ("holdings_value", _decimal),
    ("source", _text),
    ("sync_run_id", _uuid),
)


def _select_list(columns: _Columns, table: str) -> str:
    return ", ".join(f"{table}.{name}" for name, _ in columns)


def _decode(columns: _Columns, row: Sequence[Any]) -> dict[str, Any]:
    return {name: convert(value) for (name, convert), value in zip(columns, row, strict=True)}


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


# ------------------------------------------------------------------------------ connection


def sqlite_error(path: Path, exc: sqlite3.Error, *, opening: bool) -> DomainError:
    """The DomainError for a driver failure (classified by exception type, never by text)."""
    location = str(path.resolve())
    details = {"location": location, "driver_error": type(exc).__name__}
    reason = driver_reason(exc)
    if opening and isinstance(exc, sqlite3.OperationalError | sqlite3.InterfaceError):
        return DomainError(
            code=ErrorCode.DATABASE_UNREACHABLE,
            message=f"cannot open the database at {location}: {reason}",
            hint=sqlite_unreachable_hint(location),
            details=details,
        )
    return DomainError(
        code=ErrorCode.DATABASE_ERROR,
        message=f"the database at {location} reported an error: {reason}",
        hint=DAMAGED_HINT if is_damaged_sqlite(exc) else OTHER_HINT,
        details=details,
    )


def has_search_index(connection: sqlite3.Connection) -> bool:
    """Whether the database has the transaction search index and this SQLite library can read it.

    A database without it (or a SQLite library without FTS5 or the trigram tokenizer) is
    searched by scanning.

    Raises:
        sqlite3.Error: the database could not be read at all (the caller reports it).
    """
    [(exists,)] = connection.execute(search_index.EXISTS_SQL).fetchall()
    if not exists:
        return False
    try:
        connection.execute(search_index.PROBE_SQL).fetchall()
    except sqlite3.OperationalError:  # no such module / tokenizer: this library cannot read it
        return False
    return True


def search_expression(
    fetch: Callable[[str, Sequence[object]], list[tuple[Any, ...]]], criteria: TransactionCriteria
) -> str | None:
    """The FTS5 query to drive ``criteria``'s search from, or None to read it the usual way.

    None without a search text of three characters or more, and for a text so common that its
    candidates outnumber :data:`search_index.MAX_CANDIDATES`. The caller has checked that the
    database has the index; ``fetch`` runs one query and returns its rows.
    """
    if criteria.search is None:
        return None
    expression = search_index.match_expression(criteria.search)
    if expression is None:
        return None
    [(count,)] = fetch(
        search_index.COUNT_CANDIDATES_SQL, (expression, search_index.MAX_CANDIDATES + 1)
    )
    return expression if count <= search_index.MAX_CANDIDATES else None


class SqliteReadConnection:
    """One read-only ``sqlite3`` connection to a database file, opened on the first query."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        """Read the SQLite file at ``path`` (nothing is opened yet)."""
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._connection: sqlite3.Connection | None = None
        self._searchable: bool | None = None

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def _error(self, exc: sqlite3.Error, *, opening: bool) -> DomainError:
        """The DomainError for a driver failure (see :func:`sqlite_error`)."""
        return sqlite_error(self._path, exc, opening=opening)

    def _open(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        try:
            # isolation_level=None: no implicit BEGIN, every SELECT is its own read transaction
            connection = sqlite3.connect(read_only_uri(self._path), uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise DatabaseUnavailableError(self._error(exc, opening=True)) from exc
        try:
            connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            search_index.register_functions(connection)
        except sqlite3.Error as exc:
            connection.close()
            raise DatabaseUnavailableError(self._error(exc, opening=True)) from exc
        self._connection = connection
        return connection

    def fetch(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one query and return all its rows.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` when the file cannot be opened,
                ``DATABASE_ERROR`` when the query fails.
        """
        connection = self._open()
        try:
            rows: list[tuple[Any, ...]] = connection.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise DatabaseUnavailableError(self._error(exc, opening=False)) from exc
        return rows

    def has_search_index(self) -> bool:
        """Whether the database has the transaction search index and this SQLite can read it
        (asked once per connection; see :func:`has_search_index`)."""
        if self._searchable is None:
            connection = self._open()
            try:
                self._searchable = has_search_index(connection)
            except sqlite3.Error as exc:
                raise DatabaseUnavailableError(self._error(exc, opening=False)) from exc
        return self._searchable

    def close(self) -> None:
        """Close the connection (if it was opened); a later query opens a new one."""
        self._searchable = None
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class _SqliteReader:
    def __init__(self, db: SqliteReadConnection) -> None:
        """Read through ``db`` (shared by a reader set)."""
        self._db = db


# --------------------------------------------------------------------------------- readers


class SqliteConnectionReader(_SqliteReader):
    """Implements the application's ``ConnectionReader`` on ``sqlite3``."""

    async def list_connections(self) -> list[ProviderConnection]:
        """Every connection (disconnected ones included), oldest first.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        sql = (
            f"SELECT {_select_list(_CONNECTION_COLUMNS, 'provider_connections')} "
            "FROM provider_connections "
            "ORDER BY provider_connections.created_at, provider_connections.alias"
        )
        return [
            mapping.row_to_connection(_decode(_CONNECTION_COLUMNS, row))
            for row in self._db.fetch(sql)
        ]


class SqliteAccountReader(_SqliteReader):
    """Implements the application's ``AccountReader`` on ``sqlite3``."""

    async def list_accounts(self) -> list[Account]:
        """Every account, active or not, by name (raw payloads are not read).

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        sql = (
            f"SELECT {_select_list(_ACCOUNT_COLUMNS, 'accounts')} FROM accounts "
            "ORDER BY accounts.name, accounts.id"
        )
        return [
            mapping.row_to_account({**_decode(_ACCOUNT_COLUMNS, row), "raw": None})
            for row in self._db.fetch(sql)
        ]


def _like_pattern(text: str) -> str:
    """``%text%`` with ``%``, ``_`` and the escape character ``/`` taken literally."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def transaction_where(
    criteria: TransactionCriteria, *, unindexed: bool = False
) -> tuple[list[str], list[object]]:
    """The WHERE clauses and their parameters for ``criteria`` (as ``transaction_conditions``).

    One account is an equality, so the ``(account_id, transaction_date)`` index serves both the
    filter and the newest-first order. SQLite's ``LIKE`` already ignores ASCII case; a search
    text with other characters uses ``dashtam_contains`` (any alphabet's case) instead.
    ``unindexed`` writes the indexed columns as ``+column``: no index is used for them, because
    the caller drives the query from the search index's candidates.
    """
    plus = "+" if unindexed else ""
    clauses: list[str] = []
    params: list[object] = []
    ids = criteria.account_ids
    if ids is not None:
        if len(ids) == 1:
            clauses.append(f"{plus}transactions.account_id = ?")
        else:
            clauses.append(f"{plus}transactions.account_id IN ({_placeholders(len(ids))})")
        params.extend(account_id.hex for account_id in ids)
    if criteria.since is not None:
        clauses.append(f"{plus}transactions.transaction_date >= ?")
        params.append(criteria.since.isoformat())
    if criteria.until is not None:
        clauses.append(f"{plus}transactions.transaction_date <= ?")
        params.append(criteria.until.isoformat())
    if criteria.transaction_type is not None:
        clauses.append("transactions.transaction_type = ?")
        params.append(criteria.transaction_type.value)
    if criteria.subtype is not None:
        clauses.append("transactions.subtype = ?")
        params.append(criteria.subtype.value)
    if criteria.symbol is not None:
        clauses.append("upper(transactions.symbol) = ?")
        params.append(criteria.symbol.upper())
    if criteria.search is not None and search_index.needs_unicode_case(criteria.search):
        clauses.append(
            f"{search_index.CONTAINS_FUNCTION}(?, transactions.description, "
            "transactions.symbol, transactions.security_name)"
        )
        params.append(search_index.fold_case(criteria.search))
    elif criteria.search is not None:
        pattern = _like_pattern(criteria.search)
        clauses.append(
            "(transactions.description LIKE ? ESCAPE '/' "
            "OR transactions.symbol LIKE ? ESCAPE '/' "
            "OR transactions.security_name LIKE ? ESCAPE '/')"
        )
        params.extend((pattern, pattern, pattern))
    return clauses, params


def _where(clauses: Sequence[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def _scan_is_cheaper(criteria: TransactionCriteria) -> bool:
    """A text search with no account or date bound: no index narrows it, so scan the table."""
    return (
        criteria.search is not None
        and criteria.account_ids is None
        and criteria.since is None
        and criteria.until is None
    )


_LIST_SELECT = f"SELECT {_select_list(_LIST_COLUMNS, 'transactions')} FROM transactions"
_LIST_NAMES = ", ".join(name for name, _ in _LIST_COLUMNS)
_NEWEST_FIRST = "ORDER BY transactions.transaction_date DESC, transactions.id DESC"


def _newest_per_account(
    criteria: TransactionCriteria, ids: Sequence[UUID], *, limit: int
) -> tuple[str, list[object]]:
    """Several accounts: the newest ``limit`` of each (one index walk each), merged, newest first.

    A plain ``account_id IN (...)`` makes SQLite (without ANALYZE statistics) sort every row of
    those accounts first: seconds on a million rows instead of milliseconds.
    """
    branches: list[str] = []
    params: list[object] = []
    for account_id in ids:
        clauses, branch_params = transaction_where(replace(criteria, account_ids=(account_id,)))
        branches.append(
            f"SELECT {_LIST_NAMES} FROM ({_LIST_SELECT}{_where(clauses)} {_NEWEST_FIRST} LIMIT ?)"
        )
        params.extend((*branch_params, limit))
    merged = " UNION ALL ".join(branches)
    sql = f"SELECT {_LIST_NAMES} FROM ({merged}) ORDER BY transaction_date DESC, id DESC LIMIT ?"
    params.append(limit)
    return sql, params


def _page_query(
    criteria: TransactionCriteria, *, limit: int, older_than: tuple[dt.date, UUID] | None
) -> tuple[str, list[object]]:
    """The newest-first query of ``criteria`` below the ``(date, id)`` key of a previous page.

    ``date <= d AND (date < d OR id < i)`` bounds the date index walk from ``d`` down; the shapes
    (one index walk per account, a scan for an unbounded text search) are ``list_transactions``'.
    """
    scan = _scan_is_cheaper(criteria)
    keyset: list[str] = []
    keyset_params: list[object] = []
    if older_than is not None:
        day = ("+" if scan else "") + "transactions.transaction_date"
        keyset.append(f"{day} <= ? AND ({day} < ? OR transactions.id < ?)")
        keyset_params.extend((older_than[0].isoformat(), older_than[0].isoformat()))
        keyset_params.append(older_than[1].hex)
    ids = criteria.account_ids
    if ids is not None and 1 < len(ids) <= _MAX_UNION_BRANCHES:
        branches: list[str] = []
        params: list[object] = []
        for account_id in ids:
            clauses, own = transaction_where(replace(criteria, account_ids=(account_id,)))
            branch = f"{_LIST_SELECT}{_where([*clauses, *keyset])} {_NEWEST_FIRST} LIMIT ?"
            branches.append(f"SELECT {_LIST_NAMES} FROM ({branch})")
            params.extend((*own, *keyset_params, limit))
        merged = " UNION ALL ".join(branches)
        order = "ORDER BY transaction_date DESC, id DESC"
        return f"SELECT {_LIST_NAMES} FROM ({merged}) {order} LIMIT ?", [*params, limit]
    clauses, params = transaction_where(criteria)
    order = _NEWEST_FIRST
    if scan:
        order = "ORDER BY +transactions.transaction_date DESC, transactions.id DESC"
    sql = f"{_LIST_SELECT}{_where([*clauses, *keyset])} {order} LIMIT ?"
    return sql, [*params, *keyset_params, limit]


def _candidate_query(
    criteria: TransactionCriteria,
    expression: str,
    *,
    limit: int,
    older_than: tuple[dt.date, UUID] | None,
) -> tuple[str, list[object]]:
    """The newest-first query of ``criteria`` over the search index's candidates for its text.

    The candidates' rowids drive it (every other filter is written ``+column``), then the usual
    filters, ``LIKE`` included, keep exactly the rows a scan would.
    """
    clauses, params = transaction_where(criteria, unindexed=True)
    if older_than is not None:
        day = "+transactions.transaction_date"
        clauses.append(f"{day} <= ? AND ({day} < ? OR +transactions.id < ?)")
        params.extend((older_than[0].isoformat(), older_than[0].isoformat(), older_than[1].hex))
    order = "ORDER BY +transactions.transaction_date DESC, +transactions.id DESC"
    where = _where([search_index.CANDIDATE_TERM, *clauses])
    return f"{_LIST_SELECT}{where} {order} LIMIT ?", [expression, *params, limit]


class SqliteTransactionReader(_SqliteReader):
    """Implements the application's ``TransactionReader`` on ``sqlite3``."""

    def _search_expression(self, criteria: TransactionCriteria) -> str | None:
        """The FTS5 query to drive ``criteria`` from (see :func:`search_expression`), or None."""
        if criteria.search is None or not self._db.has_search_index():
            return None
        return search_expression(self._db.fetch, criteria)

    async def list_transactions(
        self, criteria: TransactionCriteria, *, limit: int
    ) -> list[TransactionRow]:
        """The newest matching rows (transaction date, then id, descending), at most ``limit``.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        ids = criteria.account_ids
        if ids == ():
            return []
        expression = self._search_expression(criteria)
        if expression is not None:
            sql, params = _candidate_query(criteria, expression, limit=limit, older_than=None)
        elif ids is not None and 1 < len(ids) <= _MAX_UNION_BRANCHES:
            sql, params = _newest_per_account(criteria, ids, limit=limit)
        else:
            clauses, params = transaction_where(criteria)
            order = _NEWEST_FIRST
            if _scan_is_cheaper(criteria):
                # ``+date`` keeps SQLite off the date index: walking a million index entries
                # with a table lookup each (4 s) to find a rare text is slower than one scan.
                order = "ORDER BY +transactions.transaction_date DESC, transactions.id DESC"
            sql = f"{_LIST_SELECT}{_where(clauses)} {order} LIMIT ?"
            params.append(limit)
        return [
            mapping.row_to_transaction_row(_decode(_LIST_COLUMNS, row))
            for row in self._db.fetch(sql, params)
        ]

    async def page_transactions(
        self,
        criteria: TransactionCriteria,
        *,
        limit: int,
        older_than: tuple[dt.date, UUID] | None = None,
    ) -> list[TransactionRow]:
        """A page of :meth:`list_transactions`: the rows after ``older_than`` (keyset paging).

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if criteria.account_ids == ():
            return []
        expression = self._search_expression(criteria)
        if expression is not None:
            sql, params = _candidate_query(criteria, expression, limit=limit, older_than=older_than)
        else:
            sql, params = _page_query(criteria, limit=limit, older_than=older_than)
        return [
            mapping.row_to_transaction_row(_decode(_LIST_COLUMNS, row))
            for row in self._db.fetch(sql, params)
        ]

    async def ids_with_prefix(self, prefix: str, *, limit: int) -> list[UUID]:
        """Up to ``limit`` ids whose 32-digit hex form starts with ``prefix``, ascending.

        A range scan of the primary key: ``prefix000…`` to ``prefixfff…``.

        Raises:
            ValueError: ``prefix`` is not 1 to 32 hexadecimal digits.
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if not 0 < len(prefix) <= _UUID_HEX_LENGTH:
            raise ValueError(f"an id prefix has 1 to 32 hex digits, got {len(prefix)}")
        low = UUID(prefix.ljust(_UUID_HEX_LENGTH, "0"))
        high = UUID(prefix.ljust(_UUID_HEX_LENGTH, "f"))
        sql = (
            "SELECT transactions.id FROM transactions "
            "WHERE transactions.id >= ? AND transactions.id <= ? "
            "ORDER BY transactions.id LIMIT ?"
        )
        return [UUID(hex=str(row[0])) for row in self._db.fetch(sql, (low.hex, high.hex, limit))]

    async def get_transaction(self, transaction_id: UUID) -> Transaction | None:
        """One transaction (its raw payload is not read), or None.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        sql = (
            f"SELECT {_select_list(_TRANSACTION_COLUMNS, 'transactions')} FROM transactions "
            "WHERE transactions.id = ?"
        )
        rows = self._db.fetch(sql, (transaction_id.hex,))
        if not rows:
            return None
        return mapping.row_to_transaction({**_decode(_TRANSACTION_COLUMNS, rows[0]), "raw": None})


class SqliteHoldingReader(_SqliteReader):
    """Implements the application's ``HoldingReader`` on ``sqlite3``."""

    async def list_holdings(
        self, *, account_ids: Sequence[UUID] | None = None, include_inactive: bool = False
    ) -> list[Holding]:
        """Holdings of some accounts (None: all), by symbol; raw payloads are not read.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if account_ids is not None and not account_ids:
            return []
        clauses: list[str] = []
        params: list[object] = []
        if account_ids is not None:
            clauses.append(f"holdings.account_id IN ({_placeholders(len(account_ids))})")
            params.extend(account_id.hex for account_id in account_ids)
        if not include_inactive:
            clauses.append("holdings.is_active = 1")
        sql = (
            f"SELECT {_select_list(_HOLDING_COLUMNS, 'holdings')} FROM holdings{_where(clauses)} "
            "ORDER BY holdings.symbol, holdings.provider_holding_id, holdings.id"
        )
        return [
            mapping.row_to_holding({**_decode(_HOLDING_COLUMNS, row), "raw": None})
            for row in self._db.fetch(sql, params)
        ]


_SNAPSHOT_SELECT = (
    f"SELECT {_select_list(_SNAPSHOT_COLUMNS, 'balance_snapshots')} FROM balance_snapshots"
)


class SqliteBalanceReader(_SqliteReader):
    """Implements the application's ``BalanceReader`` on ``sqlite3``."""

    async def latest_snapshot(self, account_id: UUID) -> BalanceSnapshot | None:
        """The newest snapshot of an account (the ``(account_id, captured_at)`` index), or None.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        sql = (
            f"{_SNAPSHOT_SELECT} WHERE balance_snapshots.account_id = ? "
            "ORDER BY balance_snapshots.captured_at DESC, balance_snapshots.id DESC LIMIT 1"
        )
        rows = self._db.fetch(sql, (account_id.hex,))
        return mapping.row_to_snapshot(_decode(_SNAPSHOT_COLUMNS, rows[0])) if rows else None

    async def list_snapshots(
        self, *, account_ids: Sequence[UUID] | None = None, since: dt.datetime | None = None
    ) -> list[BalanceSnapshot]:
        """Snapshots oldest first: those at or after ``since`` plus each account's latest before.

        Raises:
            ValueError: ``since`` is naive.
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if account_ids is not None and not account_ids:
            return []
        scope: list[str] = []
        scope_params: list[object] = []
        if account_ids is not None:
            scope.append(f"balance_snapshots.account_id IN ({_placeholders(len(account_ids))})")
            scope_params.extend(account_id.hex for account_id in account_ids)
        rows: list[tuple[Any, ...]] = []
        recent = list(scope)
        recent_params = list(scope_params)
        if since is not None:
            bound = instant_text(since)
            recent.append("balance_snapshots.captured_at >= ?")
            recent_params.append(bound)
            before = [*scope, "balance_snapshots.captured_at < ?"]
            baseline = (
                f"{_SNAPSHOT_SELECT} JOIN ("
                "SELECT balance_snapshots.account_id AS account_id, "
                "max(balance_snapshots.captured_at) AS captured_at "
                f"FROM balance_snapshots{_where(before)} "
                "GROUP BY balance_snapshots.account_id) AS latest_before "
                "ON balance_snapshots.account_id = latest_before.account_id "
                "AND balance_snapshots.captured_at = latest_before.captured_at"
            )
            rows.extend(self._db.fetch(baseline, [*scope_params, bound]))
        rows.extend(self._db.fetch(f"{_SNAPSHOT_SELECT}{_where(recent)}", recent_params))
        snapshots = [mapping.row_to_snapshot(_decode(_SNAPSHOT_COLUMNS, row)) for row in rows]
        snapshots.sort(key=lambda s: (s.captured_at, str(s.account_id), str(s.id)))
        return snapshots


class SqliteReaders:
    """Every reader over one shared read-only connection to a SQLite file.

    Attributes:
        connections: the ``ConnectionReader``.
        accounts: the ``AccountReader``.
        transactions: the ``TransactionReader``.
        holdings: the ``HoldingReader``.
        balances: the ``BalanceReader``.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        """Readers of the SQLite file at ``path`` (opened on the first query)."""
        self._db = SqliteReadConnection(path, busy_timeout_ms=busy_timeout_ms)
        self.connections = SqliteConnectionReader(self._db)
        self.accounts = SqliteAccountReader(self._db)
        self.transactions = SqliteTransactionReader(self._db)
        self.holdings = SqliteHoldingReader(self._db)
        self.balances = SqliteBalanceReader(self._db)

    def close(self) -> None:
        """Close the shared connection (if a query opened it)."""
        self._db.close()


__all__ = [
    "BUSY_TIMEOUT_MS",
    "SqliteAccountReader",
    "SqliteBalanceReader",
    "SqliteConnectionReader",
    "SqliteHoldingReader",
    "SqliteReadConnection",
    "SqliteReaders",
    "SqliteTransactionReader",
    "has_search_index",
    "instant_text",
    "read_only_uri",
    "search_expression",
    "transaction_where",
]
