"""The sync lock: one ``dashtam sync`` per database, safe for cron.

SQLite: an OS file lock on ``<database>.sync.lock`` beside the database file (released by the OS
if the process dies). PostgreSQL: a session-level advisory lock held on a dedicated connection.
Both are taken without waiting: a second sync fails at once with ``sync_locked`` (exit 9).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
