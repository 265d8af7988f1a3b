"""Schema migrations, configured in code (the Alembic environment ships inside the package).

Alembic is imported lazily inside each function: ``dashtam --help`` must not pay for it. Every
function runs Alembic synchronously on a connection through ``AsyncConnection.run_sync``, so they
work inside an already running event loop.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from alembic.config import Config
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@asynccontextmanager
async def _engine(engine_or_url: AsyncEngine | str) -> AsyncIterator[AsyncEngine]:
    """Use the given engine, or build (and afterwards dispose) one for a URL."""
    if not isinstance(engine_or_url, str):
        yield engine_or_url
        return
    from dashtam_cli.infrastructure.db.engine import create_engine

    engine = create_engine(engine_or_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def head_revision() -> str:
    """The newest revision this version of Dashtam knows (no database needed)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    config = _config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def current_revision(engine_or_url: AsyncEngine | str) -> str | None:
    """The revision the database is at, or None for an empty (never migrated) database.

    Raises:
        sqlalchemy.exc.DBAPIError: when the database cannot be reached.
    """
    async with _engine(engine_or_url) as engine, engine.connect() as connection:
        return await connection.run_sync(_current)


async def needs_upgrade(engine_or_url: AsyncEngine | str) -> bool:
    """True when the database is not at :func:`head_revision` (``dashtam db upgrade`` needed)."""
    return await current_revision(engine_or_url) != head_revision()


async def upgrade(engine_or_url: AsyncEngine | str, revision: str = "head") -> str:
    """Migrate the database to ``revision`` (default: head) in one transaction; idempotent.

    Returns:
        The revision the database is at afterwards.
    """
    async with _engine(engine_or_url) as engine:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, revision)
        async with engine.connect() as connection:
            current = await connection.run_sync(_current)
    if current is None:
        raise RuntimeError("the upgrade left the database without a revision")
    return current


async def downgrade(engine_or_url: AsyncEngine | str, revision: str = "base") -> str | None:
    """Migrate the database down to ``revision`` (default: ``base``, i.e. drop everything).

    Returns:
        The revision the database is at afterwards (None at base).
    """
    async with _engine(engine_or_url) as engine:
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade, revision)
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
