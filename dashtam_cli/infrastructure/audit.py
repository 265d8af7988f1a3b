"""The append-only audit trail, written in its own connection and transaction.

Because each row commits on its own, an ``...Attempted`` row survives a business transaction that
later rolls back. The table refuses UPDATE and DELETE (database triggers).

SQLite allows one writer at a time. If this process's own unit of work holds the write lock when
an entry is appended, waiting for it would deadlock (the unit of work is waiting for us), so the
entry is queued and a background task writes it as soon as the lock is free. :meth:`flush` writes
the queue now and :meth:`aclose` must run at shutdown so nothing queued is lost.
PostgreSQL never queues.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from dashtam_cli.domain.protocols import AuditEntry
from dashtam_cli.infrastructure.db import mapping
from dashtam_cli.infrastructure.db.schema import audit_log
from dashtam_cli.infrastructure.db.unit_of_work import DatabaseUnavailableError, database_error
from dashtam_cli.infrastructure.db.upserts import insert_ignoring_duplicates

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_log = logging.getLogger(__name__)

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_PRIMARY_CODE_MASK = 0xFF
# How long one write attempt waits for another writer before queueing (ms); the engine's normal
# busy timeout (5 s) applies when flushing explicitly.
_TRY_TIMEOUT_MS = 100
_FLUSH_TIMEOUT_MS = 5000
_RETRY_FIRST_S = 0.02
_RETRY_MAX_S = 1.0


def _is_write_locked(exc: OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED, told apart by the driver's error code (never the text)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & _PRIMARY_CODE_MASK in (_SQLITE_BUSY, _SQLITE_LOCKED)


class SqlAuditLog:
    """Implements the domain ``AuditLog`` and the application's ``AuditReader``."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Write through ``engine``'s pool, one short transaction per append."""
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._pending: list[mapping.Row] = []
        self._flushing = asyncio.Lock()
        self._retry: asyncio.Task[None] | None = None
        self._last_busy: OperationalError | None = None

    @property
    def pending(self) -> int:
        """How many entries wait for the SQLite write lock (always 0 on PostgreSQL)."""
        return len(self._pending)

    async def append(self, entry: AuditEntry) -> None:
        """Append one row and commit it, independent of any business transaction.

        The caller has removed secrets from ``entry.context``; this stores it as given.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        self._pending.append(mapping.audit_to_row(entry))
        if not await self._flush(wait_ms=_TRY_TIMEOUT_MS):
            self._schedule_retry()

    async def flush(self) -> None:
        """Write every queued entry now, waiting for the write lock (SQLite) up to 5 s.

        Raises:
            DatabaseUnavailableError: when the lock stays taken or the database fails.
        """
        if self._pending and not await self._flush(wait_ms=_FLUSH_TIMEOUT_MS):
            busy = self._last_busy
            if busy is None:  # pragma: no cover - _flush only returns False after a busy error
                raise RuntimeError("audit flush failed without an error")
            raise DatabaseUnavailableError(database_error(self._engine, busy, opening=False))

    async def aclose(self) -> None:
        """Stop the background retry and write whatever is still queued (call at shutdown)."""
        retry, self._retry = self._retry, None
        if retry is not None and not retry.done():
            retry.cancel()
            try:
                await retry
            except asyncio.CancelledError:
                if (current := asyncio.current_task()) is not None and current.cancelling():
                    raise
        await self.flush()

    async def list_entries(
        self, *, since: datetime | None = None, action: str | None = None, limit: int = 50
    ) -> list[AuditEntry]:
        """Audit rows, newest first.

        Args:
            since: only rows that occurred at or after this instant.
            action: only rows of this action (e.g. ``sync``).
            limit: at most this many rows.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        if self._pending:  # show queued rows too, when the lock happens to be free
            await self._flush(wait_ms=_TRY_TIMEOUT_MS)
        query = select(audit_log).order_by(audit_log.c.occurred_at.desc(), audit_log.c.id.desc())
        if since is not None:
            query = query.where(audit_log.c.occurred_at >= since)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        query = query.limit(limit)
        try:
            async with self._engine.connect() as connection:
                rows = (await connection.execute(query)).mappings().all()
        except DBAPIError as exc:
            raise DatabaseUnavailableError(database_error(self._engine, exc, opening=True)) from exc
        return [mapping.row_to_audit(row) for row in rows]

    # ------------------------------------------------------------------------------ internals

    async def _flush(self, *, wait_ms: int) -> bool:
        """Write the queue in one transaction; False when SQLite's write lock stayed taken.

        On any other failure the attempted rows leave the queue (a bad row must not block every
        later one) and the failure is raised to the caller, who logs it.
        """
        async with self._flushing:
            if not self._pending:
                return True
            rows = list(self._pending)
            try:
                async with self._engine.connect() as connection:
                    written = await self._write(connection, rows, wait_ms)
            except DBAPIError as exc:
                del self._pending[: len(rows)]
                raise DatabaseUnavailableError(
                    database_error(self._engine, exc, opening=False)
                ) from exc
            except Exception:
                # not on cancellation: aclose() writes the rows again (event_id makes it safe)
                del self._pending[: len(rows)]
                raise
            if written:
                del self._pending[: len(rows)]
            return written

    async def _write(
        self, connection: AsyncConnection, rows: list[mapping.Row], wait_ms: int
    ) -> bool:
        # idempotent: re-publishing the same event (same event_id) writes one row
        statement = insert_ignoring_duplicates(connection, audit_log, ("event_id",))
        if not self._sqlite:
            await connection.execute(statement, rows)
            await connection.commit()
            return True
        await connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            try:
                await connection.execute(statement, rows)
                await connection.commit()
            except OperationalError as exc:
                if not _is_write_locked(exc):
                    raise
                self._last_busy = exc
                await connection.rollback()
                return False
            return True
        finally:
            await connection.exec_driver_sql(f"PRAGMA busy_timeout = {_FLUSH_TIMEOUT_MS}")

    def _schedule_retry(self) -> None:
        if self._retry is None or self._retry.done():
            self._retry = asyncio.create_task(self._retry_until_written(), name="audit-retry")

    async def _retry_until_written(self) -> None:
        delay = _RETRY_FIRST_S
        while self._pending:
            await asyncio.sleep(delay)
            try:
                if await self._flush(wait_ms=_TRY_TIMEOUT_MS):
                    return
            except DatabaseUnavailableError as exc:
                _log.warning("audit rows dropped after a database error: %s", exc.error.code.value)
                return
            delay = min(delay * 2, _RETRY_MAX_S)
