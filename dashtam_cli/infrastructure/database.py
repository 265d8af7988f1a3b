"""Database administration for ``init``, ``status`` and ``db``: location, revision, upgrade.

The revision check runs one plain query and compares it to :data:`SCHEMA_HEAD`, so the common
case (schema already current) never imports Alembic; Alembic runs only to actually migrate. On a
SQLite file that query goes through the standard library ``sqlite3`` module (read-only), and the
engine is built only when something needs it, so the check does not import SQLAlchemy either.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dashtam_cli.application.ports import DatabaseInfo
from dashtam_cli.domain.errors import DomainError, ErrorCode, Result, fail, ok
from dashtam_cli.infrastructure.db.engine import database_backend, describe_location, sqlite_path
from dashtam_cli.infrastructure.db.errors import (
    DAMAGED_HINT,
    OTHER_HINT,
    SERVER_HINT,
    driver_reason,
    is_damaged_sqlite,
    sqlite_unreachable_hint,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

#: The newest migration this version ships (a test checks it equals Alembic's head).
SCHEMA_HEAD = "0003"


#: How long a read-only revision check waits for a writer's lock (milliseconds).
_BUSY_TIMEOUT_MS = 5000


def database_failure(exc: Exception, *, url: str) -> Result[DatabaseInfo]:
    """Translate a driver (``sqlite3``) or SQLAlchemy exception into a database error value."""
    where = describe_location(url)
    if isinstance(exc, sqlite3.Error):
        unreachable = isinstance(exc, sqlite3.OperationalError | sqlite3.InterfaceError)
    else:
        from sqlalchemy.exc import InterfaceError, OperationalError

        unreachable = isinstance(exc, OperationalError | InterfaceError | OSError)
    reason = driver_reason(exc)
    sqlite = sqlite_path(url) is not None
    if unreachable:
        return fail(
            ErrorCode.DATABASE_UNREACHABLE,
            f"cannot open the database at {where}: {reason}",
            hint=sqlite_unreachable_hint(where) if sqlite else SERVER_HINT,
            details={"cause": reason},
        )
    return fail(
        ErrorCode.DATABASE_ERROR,
        f"database error at {where}: {reason}",
        hint=DAMAGED_HINT if sqlite and is_damaged_sqlite(exc) else OTHER_HINT,
        details={"cause": reason},
    )


def sqlite_revision(path: Path) -> str | None:
    """The revision stamped in a SQLite file, read with the standard library (read-only).

    Returns None for a missing or empty file, or one without an ``alembic_version`` table.

    Raises:
        sqlite3.Error: the file cannot be opened or read.
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        exists = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        if exists is None:
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        connection.close()
    return None if row is None else str(row[0])


class SqlDatabaseAdmin:
    """Implements the ``DatabaseAdmin`` port over an async engine.

    The engine may be given as a factory: it is then built only when PostgreSQL, an in-memory
    SQLite database or a migration needs it.
    """

    def __init__(self, *, url: str, engine: AsyncEngine | Callable[[], AsyncEngine]) -> None:
        """Administer the database at ``url`` through ``engine`` (or the engine it builds)."""
        self._url = url
        self._engine_source = engine
        self._built: AsyncEngine | None = None

    @property
    def _engine(self) -> AsyncEngine:
        if self._built is None:
            source = self._engine_source
            self._built = source() if callable(source) else source
        return self._built

    def _info(self, revision: str | None) -> DatabaseInfo:
        return DatabaseInfo(
            backend=database_backend(self._url),
            location=describe_location(self._url),
            revision=revision,
            head=SCHEMA_HEAD,
        )

    async def current_revision(self) -> str | None:
        """The stamped revision (None for an empty database). Never creates a SQLite file."""
        path = sqlite_path(self._url)
        if path is not None:
            return sqlite_revision(path)
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        async with self._engine.connect() as connection:
            try:
                row = await connection.execute(text("SELECT version_num FROM alembic_version"))
            except DBAPIError:
                # No alembic_version table yet: an empty database.
                return None
            return row.scalar_one_or_none()

    async def info(self) -> Result[DatabaseInfo, DomainError]:
        """Backend, location and the current revision."""
        try:
            return ok(self._info(await self.current_revision()))
        except Exception as exc:
            return database_failure(exc, url=self._url)

    async def upgrade(self) -> Result[DatabaseInfo, DomainError]:
        """Migrate to head; a no-op (without importing Alembic) when already there."""
        try:
            revision = await self.current_revision()
            if revision != SCHEMA_HEAD:
                from dashtam_cli.infrastructure.db.migrate import upgrade

                revision = await upgrade(self._engine)
            return ok(self._info(revision))
        except Exception as exc:
            return database_failure(exc, url=self._url)
