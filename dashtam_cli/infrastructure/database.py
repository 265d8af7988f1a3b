"""Database administration for ``init``, ``status`` and ``db``: location, revision, upgrade.

The revision check runs one plain query and compares it to :data:`SCHEMA_HEAD`, so the common
case (schema already current) never imports Alembic; Alembic runs only to actually migrate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashtam_cli.application.ports import DatabaseInfo
from dashtam_cli.domain.errors import DomainError, ErrorCode, Result, fail, ok
from dashtam_cli.infrastructure.db.engine import database_backend, describe_location, sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

#: The newest migration this version ships (a test checks it equals Alembic's head).
SCHEMA_HEAD = "0001"


def database_failure(exc: Exception, *, url: str) -> Result[DatabaseInfo]:
    """Translate a driver or SQLAlchemy exception into a database error value."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    where = describe_location(url)
    if isinstance(exc, OperationalError | InterfaceError | OSError):
        return fail(
            ErrorCode.DATABASE_UNREACHABLE,
            f"cannot open the database at {where}: {type(exc.__cause__ or exc).__name__}",
            hint="check DASHTAM_DATABASE_URL and that the database server is running",
            details={"cause": str(getattr(exc, "orig", exc))[:300]},
        )
    return fail(
        ErrorCode.DATABASE_ERROR,
        f"database error at {where}: {type(exc).__name__}",
        hint="see the log file for details",
        details={"cause": str(exc)[:300]},
    )


class SqlDatabaseAdmin:
    """Implements the ``DatabaseAdmin`` port over an async engine."""

    def __init__(self, *, url: str, engine: AsyncEngine) -> None:
        self._url = url
        self._engine = engine

    def _info(self, revision: str | None) -> DatabaseInfo:
        return DatabaseInfo(
            backend=database_backend(self._url),
            location=describe_location(self._url),
            revision=revision,
            head=SCHEMA_HEAD,
        )

    async def current_revision(self) -> str | None:
        """The stamped revision (None for an empty database). Never creates a SQLite file."""
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        path = sqlite_path(self._url)
        if path is not None and (not path.exists() or path.stat().st_size == 0):
            return None
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
