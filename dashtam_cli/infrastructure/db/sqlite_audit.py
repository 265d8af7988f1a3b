"""The audit trail of a SQLite file through the standard library ``sqlite3`` module.

Implements the domain ``AuditLog`` and the application's ``AuditReader`` like
:class:`~dashtam_cli.infrastructure.audit.SqlAuditLog` (which serves PostgreSQL and in-memory
SQLite), without importing SQLAlchemy: that import alone cost ``dashtam export`` about 0.4 s, and
``audit list`` more than the rest of the command. The rows are the same, column for column and
byte for byte (the tests write the same entries through both and compare the stored rows):

* ``event_id``, ``connection_id``, ``account_id``: 32 lower-case hex digits (``Uuid``);
* ``occurred_at``: ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (``UtcDateTime``; a naive datetime is
  refused);
* ``context``: the JSON text of ``json_dumps`` (simplejson, exact decimals, sorted keys);
* one row per ``event_id`` (``ON CONFLICT (event_id) DO NOTHING``): re-publishing is harmless.

Each append commits on its own, so an ``...Attempted`` row survives a business transaction that
rolls back; the table's triggers refuse UPDATE and DELETE.

SQLite allows one writer at a time, and this process's own unit of work may hold the write lock
while an event is published (waiting for it would deadlock: it waits for us). So a write never
waits inside the event loop: when the lock is taken the entry is queued and a background task
retries with backoff, without blocking the loop; :meth:`flush` (and :meth:`aclose`, which must
run at shutdown) keeps retrying for up to five seconds before reporting the database busy.
"""

# SQL text is assembled only from this module's constants; every value is a bound ``?``.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from dashtam_cli.infrastructure.db import mapping
from dashtam_cli.infrastructure.db.errors import DatabaseUnavailableError
from dashtam_cli.infrastructure.db.sqlite_readers import (
    SqliteReadConnection,
    instant_text,
    sqlite_error,
)

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Sequence

    from dashtam_cli.domain.protocols import AuditEntry

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_PRIMARY_CODE_MASK = 0xFF
#: How long :meth:`SqliteAuditLog.flush` keeps trying to get the write lock (seconds).
_FLUSH_TIMEOUT_S = 5.0
_RETRY_FIRST_S = 0.02
_RETRY_MAX_S = 1.0
#: The columns an append writes (``id`` is assigned by the database).
_INSERTED = (
    "event_id",
    "action",
    "outcome",
    "connection_id",
    "account_id",
    "error_code",
    "context",
    "occurred_at",
)
_INSERT = (
    f"INSERT INTO audit_log ({', '.join(_INSERTED)}) "
    f"VALUES ({', '.join('?' * len(_INSERTED))}) ON CONFLICT (event_id) DO NOTHING"
)
_SELECT = (
    "SELECT audit_log.id, audit_log.event_id, audit_log.action, audit_log.outcome, "
    "audit_log.connection_id, audit_log.account_id, audit_log.error_code, audit_log.context, "
    "audit_log.occurred_at FROM audit_log"
)

type _Row = tuple[str | None, ...]


def _json_default(value: object) -> object:
    # what ``types.json_dumps`` does for the values JSON cannot hold natively
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def context_json(context: object) -> str:
    """The JSON text ``JsonType`` stores (``types.json_dumps``: exact decimals, sorted keys)."""
    import simplejson

    text: str = simplejson.dumps(context, use_decimal=True, default=_json_default, sort_keys=True)
    return text


def _uuid_hex(value: UUID | None) -> str | None:
    return None if value is None else value.hex


def audit_row(entry: AuditEntry) -> _Row:
    """The stored values of an entry, in :data:`_INSERTED` order.

    Raises:
        ValueError: ``occurred_at`` is naive.
    """
    return (
        entry.event_id.hex,
        entry.action,
        entry.outcome,
        _uuid_hex(entry.connection_id),
        _uuid_hex(entry.account_id),
        entry.error_code,
        context_json(dict(entry.context)),
        instant_text(entry.occurred_at),
    )


def _is_write_locked(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED, told apart by the error code (never the text)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & _PRIMARY_CODE_MASK in (_SQLITE_BUSY, _SQLITE_LOCKED)


class SqliteAuditLog:
    """Implements the domain ``AuditLog`` and the application's ``AuditReader`` on ``sqlite3``."""

    def __init__(self, path: Path) -> None:
        """Append to (and read) the ``audit_log`` of the SQLite file at ``path``.

        Nothing is opened until the first append or read; the file must exist (migrated).
        """
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._pending: list[_Row] = []
        self._retry: asyncio.Task[None] | None = None
        self._last_busy: sqlite3.Error | None = None

    @property
    def pending(self) -> int:
        """How many entries wait for the write lock."""
        return len(self._pending)

    async def append(self, entry: AuditEntry) -> None:
        """Append one row and commit it, independent of any business transaction.

        The caller has removed secrets from ``entry.context``; this stores it as given. When the
        write lock is taken the row is queued and written by a background task.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        self._pending.append(audit_row(entry))
        if not self._write_pending():
            self._schedule_retry()

    async def flush(self) -> None:
        """Write every queued entry now, retrying for up to 5 s while the lock is taken.

        Raises:
            DatabaseUnavailableError: when the lock stays taken or the database fails.
        """
        if not self._pending or self._write_pending():
            return
        import asyncio
        import time

        deadline = time.monotonic() + _FLUSH_TIMEOUT_S
        delay = _RETRY_FIRST_S
        while time.monotonic() < deadline:
            await asyncio.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            if self._write_pending():
                return
            delay = min(delay * 2, _RETRY_MAX_S)
        busy = self._last_busy
        if busy is None:  # pragma: no cover - only a busy error leaves rows queued
            raise RuntimeError("audit flush failed without an error")
        raise DatabaseUnavailableError(sqlite_error(self._path, busy, opening=False))

    async def aclose(self) -> None:
        """Stop the background retry, write whatever is still queued, close the connection."""
        retry, self._retry = self._retry, None
        if retry is not None and not retry.done():
            import asyncio

            retry.cancel()
            try:
                await retry
            except asyncio.CancelledError:
                if (current := asyncio.current_task()) is not None and current.cancelling():
                    raise
        try:
            await self.flush()
        finally:
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()

    async def list_entries(
        self, *, since: dt.datetime | None = None, action: str | None = None, limit: int = 50
    ) -> list[AuditEntry]:
        """Audit rows, newest first (by ``occurred_at``, then ``id``).

        Args:
            since: only rows that occurred at or after this instant.
            action: only rows of this action (e.g. ``sync``).
            limit: at most this many rows.

        Raises:
            ValueError: ``since`` is naive.
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if self._pending:  # show queued rows too, when the lock happens to be free
            self._write_pending()
        clauses: list[str] = []
        params: list[object] = []
        if since is not None:
            clauses.append("audit_log.occurred_at >= ?")
            params.append(instant_text(since))
        if action is not None:
            clauses.append("audit_log.action = ?")
            params.append(action)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"{_SELECT}{where} ORDER BY audit_log.occurred_at DESC, audit_log.id DESC LIMIT ?"
        params.append(limit)
        reader = SqliteReadConnection(self._path)
        try:
            rows = reader.fetch(sql, params)
        finally:
            reader.close()
        return [mapping.row_to_audit(_decoded(row)) for row in rows]

    # ------------------------------------------------------------------------------ internals

    def _open(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        try:
            # mode=rw: never create the file; isolation_level=None: explicit transactions
            connection = sqlite3.connect(
                f"{self._path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise DatabaseUnavailableError(sqlite_error(self._path, exc, opening=True)) from exc
        try:
            # never wait in the event loop: a taken lock is retried from outside it
            connection.execute("PRAGMA busy_timeout = 0")
            connection.execute("PRAGMA synchronous = NORMAL")  # as the engine's connections
        except sqlite3.Error as exc:
            connection.close()
            raise DatabaseUnavailableError(sqlite_error(self._path, exc, opening=True)) from exc
        self._connection = connection
        return connection

    def _write_pending(self) -> bool:
        """Write the queue in one transaction; False when the write lock is taken.

        On any other failure the attempted rows leave the queue (a bad row must not block every
        later one) and the failure is raised.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        rows = list(self._pending)
        if not rows:
            return True
        connection = self._open()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if _is_write_locked(exc):
                self._last_busy = exc
                return False
            del self._pending[: len(rows)]
            raise DatabaseUnavailableError(sqlite_error(self._path, exc, opening=False)) from exc
        try:
            connection.executemany(_INSERT, rows)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            del self._pending[: len(rows)]
            raise DatabaseUnavailableError(sqlite_error(self._path, exc, opening=False)) from exc
        del self._pending[: len(rows)]
        return True

    def _schedule_retry(self) -> None:
        import asyncio

        if self._retry is None or self._retry.done():
            self._retry = asyncio.create_task(self._retry_until_written(), name="audit-retry")

    async def _retry_until_written(self) -> None:
        import asyncio
        import logging

        delay = _RETRY_FIRST_S
        while self._pending:
            await asyncio.sleep(delay)
            try:
                if self._write_pending():
                    return
            except DatabaseUnavailableError as exc:
                logging.getLogger(__name__).warning(
                    "audit rows dropped after a database error: %s", exc.error.code.value
                )
                return
            delay = min(delay * 2, _RETRY_MAX_S)


def _decoded(row: Sequence[Any]) -> dict[str, Any]:
    """An ``audit_log`` row as ``mapping.row_to_audit`` takes it (the values SQLAlchemy reads)."""
    import json
    from decimal import Decimal

    record_id, event_id, action, outcome, connection_id, account_id, code, context, when = row
    occurred = dt.datetime.fromisoformat(str(when))
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=dt.UTC)
    return {
        "id": record_id,
        "event_id": UUID(hex=str(event_id)),
        "action": action,
        "outcome": outcome,
        "connection_id": None if connection_id is None else UUID(hex=str(connection_id)),
        "account_id": None if account_id is None else UUID(hex=str(account_id)),
        "error_code": code,
        # what simplejson's ``use_decimal`` reads: integers as int, other numbers as Decimal
        "context": None if context is None else json.loads(context, parse_float=Decimal),
        "occurred_at": occurred.astimezone(dt.UTC),
    }


__all__ = ["SqliteAuditLog", "audit_row", "context_json"]
