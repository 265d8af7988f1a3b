"""The sync lock: one ``dashtam sync`` per database, safe for cron.

SQLite: an OS file lock on ``<database>.sync.lock`` beside the database file (released by the OS
if the process dies). PostgreSQL: a session-level advisory lock held on a dedicated connection.
Both are taken without waiting: a second sync fails at once with ``sync_locked`` (exit 9).

The token-refresh lock (one per connection) is the same pair of mechanisms, but it waits (up to
:data:`REFRESH_LOCK_TIMEOUT`): a second process needing a fresh token should get the one the first
process is fetching, not fail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from dashtam_cli.domain.errors import DomainError, ErrorCode, Result, fail, ok

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: A fixed 63-bit key for ``pg_try_advisory_lock`` ("dashtam sync" in ASCII, truncated).
ADVISORY_KEY = int.from_bytes(b"dshtmsyn", "big") & 0x7FFF_FFFF_FFFF_FFFF

_HINT = "another `dashtam sync` is running on this database; try again later (cron: just skip)"


def _locked(where: str) -> Result[None]:
    return fail(ErrorCode.SYNC_LOCKED, f"another sync is already running on {where}", hint=_HINT)


class FileSyncLock:
    """A non-blocking OS file lock beside the SQLite database."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock: Any = None

    async def acquire(self) -> Result[None, DomainError]:
        """Take the lock or fail at once."""
        from filelock import FileLock, Timeout

        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = FileLock(str(self._path), timeout=0, mode=0o600)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return _locked(str(self._path.parent))
        self._lock = lock
        return ok(None)

    async def release(self) -> None:
        """Release the lock if held."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class AdvisorySyncLock:
    """A PostgreSQL session advisory lock held on its own connection."""

    def __init__(self, engine: AsyncEngine, *, key: int = ADVISORY_KEY) -> None:
        self._engine = engine
        self._key = key
        self._connection: AsyncConnection | None = None

    async def acquire(self) -> Result[None, DomainError]:
        """Take the lock or fail at once."""
        from sqlalchemy import text

        connection = await self._engine.connect()
        result = await connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
        )
        if not result.scalar_one():
            await connection.close()
            return _locked("this PostgreSQL database")
        await connection.commit()
        self._connection = connection
        return ok(None)

    async def release(self) -> None:
        """Unlock and close the dedicated connection."""
        from sqlalchemy import text

        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            await connection.commit()
        finally:
            await connection.close()


def sync_lock_for(
    url: str, engine: AsyncEngine, *, data_dir: Path
) -> FileSyncLock | AdvisorySyncLock:
    """The right lock for a database URL."""
    from dashtam_cli.infrastructure.db.engine import database_backend, sqlite_path

    if database_backend(url) == "postgresql":
        return AdvisorySyncLock(engine)
    path = sqlite_path(url)
    if path is None:  # in-memory SQLite: only this process can see it
        return FileSyncLock(data_dir / "dashtam.sync.lock")
    return FileSyncLock(path.with_name(path.name + ".sync.lock"))


# --------------------------------------------------------------------------- token refresh

#: How long a token refresh waits for another process to finish refreshing the same connection.
REFRESH_LOCK_TIMEOUT = 30.0
#: The first key of the two-integer ``pg_try_advisory_lock`` form ("dsrf"): a key space of its
#: own, distinct from the single-bigint sync lock.
REFRESH_ADVISORY_NAMESPACE = int.from_bytes(b"dsrf", "big", signed=True)

_REFRESH_HINT = "another dashtam process is refreshing this connection's tokens; try again shortly"


class RefreshLock(Protocol):
    """A cross-process lock around one connection's token refresh (waits, unlike the sync lock)."""

    async def acquire(self) -> Result[None, DomainError]:
        """Take the lock, waiting up to the lock's timeout; ``provider_unavailable`` after it."""
        ...

    async def release(self) -> None:
        """Release the lock if held (releasing twice is harmless)."""
        ...


type RefreshLockFactory = Callable[[UUID], RefreshLock]
"""Makes the refresh lock of a connection (by connection id)."""


def _refresh_busy(timeout: float) -> Result[None]:
    return fail(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"could not take this connection's token-refresh lock within {timeout:g} s",
        hint=_REFRESH_HINT,
        details={"reason": "refresh_lock_timeout"},
    )


class FileRefreshLock:
    """An OS file lock ``<data dir>/locks/refresh-<connection id>.lock`` (SQLite databases).

    Waiting polls without blocking the event loop; the OS releases the lock if the process dies.
    """

    def __init__(
        self, path: Path, *, timeout: float = REFRESH_LOCK_TIMEOUT, poll_interval: float = 0.05
    ) -> None:
        self._path = path
        self._timeout = timeout
        self._poll = poll_interval
        self._lock: Any = None

    @property
    def path(self) -> Path:
        """The lock file."""
        return self._path

    async def acquire(self) -> Result[None, DomainError]:
        """Take the lock, polling until the timeout."""
        from filelock import FileLock, Timeout

        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = FileLock(str(self._path), timeout=0, mode=0o600, thread_local=False)
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                lock.acquire(timeout=0)
            except Timeout:
                if time.monotonic() >= deadline:
                    return _refresh_busy(self._timeout)
                await asyncio.sleep(self._poll)
                continue
            self._lock = lock
            return ok(None)

    async def release(self) -> None:
        """Release the lock if held."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def refresh_advisory_key(connection_id: UUID) -> int:
    """The second (per-connection) key of the refresh advisory lock: 32 bits of the id."""
    return int.from_bytes(connection_id.bytes[:4], "big", signed=True)


class AdvisoryRefreshLock:
    """A PostgreSQL session advisory lock keyed by the connection id, on its own connection."""

    def __init__(
        self,
        engine: AsyncEngine,
        connection_id: UUID,
        *,
        timeout: float = REFRESH_LOCK_TIMEOUT,
        poll_interval: float = 0.1,
    ) -> None:
        self._engine = engine
        self._key = refresh_advisory_key(connection_id)
        self._timeout = timeout
        self._poll = poll_interval
        self._connection: AsyncConnection | None = None

    async def acquire(self) -> Result[None, DomainError]:
        """Take the lock, polling ``pg_try_advisory_lock`` until the timeout."""
        from sqlalchemy import text

        statement = text(
            "SELECT pg_try_advisory_lock(CAST(:namespace AS integer), CAST(:key AS integer))"
        )
        params = {"namespace": REFRESH_ADVISORY_NAMESPACE, "key": self._key}
        connection = await self._engine.connect()
        deadline = time.monotonic() + self._timeout
        try:
            while True:
                taken = (await connection.execute(statement, params)).scalar_one()
                await connection.commit()
                if taken:
                    self._connection = connection
                    return ok(None)
                if time.monotonic() >= deadline:
                    return _refresh_busy(self._timeout)
                await asyncio.sleep(self._poll)
        finally:
            if self._connection is not connection:
                await connection.close()

    async def release(self) -> None:
        """Unlock and close the dedicated connection."""
        from sqlalchemy import text

        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.execute(
                text(
                    "SELECT pg_advisory_unlock(CAST(:namespace AS integer), CAST(:key AS integer))"
                ),
                {"namespace": REFRESH_ADVISORY_NAMESPACE, "key": self._key},
            )
            await connection.commit()
        finally:
            await connection.close()


def refresh_lock_factory(
    url: str, engine: AsyncEngine, *, data_dir: Path, timeout: float = REFRESH_LOCK_TIMEOUT
) -> RefreshLockFactory:
    """The refresh-lock factory for a database URL (advisory lock on PostgreSQL, else a file)."""
    from dashtam_cli.infrastructure.db.engine import database_backend

    if database_backend(url) == "postgresql":

        def advisory(connection_id: UUID) -> RefreshLock:
            return AdvisoryRefreshLock(engine, connection_id, timeout=timeout)

        return advisory

    def file(connection_id: UUID) -> RefreshLock:
        return FileRefreshLock(
            data_dir / "locks" / f"refresh-{connection_id}.lock", timeout=timeout
        )

    return file
