"""Read-side queries for the front ends, each in its own short connection.

Readers return domain entities or DTOs straight from SQL; they never go through a unit of work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.infrastructure.db import mapping
from dashtam_cli.infrastructure.db.schema import provider_connections
from dashtam_cli.infrastructure.db.unit_of_work import DatabaseUnavailableError, database_error

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


class SqlConnectionReader:
    """Implements the application's ``ConnectionReader``."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Read through ``engine``'s pool."""
        self._engine = engine

    async def list_connections(self) -> list[ProviderConnection]:
        """Every connection (disconnected ones included), oldest first.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` / ``DATABASE_ERROR``.
        """
        query = select(provider_connections).order_by(
            provider_connections.c.created_at, provider_connections.c.alias
        )
        try:
            async with self._engine.connect() as connection:
                rows = (await connection.execute(query)).mappings().all()
        except DBAPIError as exc:
            raise DatabaseUnavailableError(database_error(self._engine, exc, opening=True)) from exc
        return [mapping.row_to_connection(row) for row in rows]
