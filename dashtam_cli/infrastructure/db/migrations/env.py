"""Alembic environment: runs on a connection handed over by ``dashtam_cli...db.migrate``.

The migrate module opens an async connection and calls Alembic through ``connection.run_sync``, so
this script never starts an event loop of its own (it works inside an already running one).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from dashtam_cli.infrastructure.db.schema import metadata
from dashtam_cli.infrastructure.db.search_index import include_name

CONNECTION_ATTRIBUTE = "connection"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported")
    connection = context.config.attributes.get(CONNECTION_ATTRIBUTE)
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "run migrations through dashtam_cli.infrastructure.db.migrate (`dashtam db upgrade`)"
        )
    _run(connection)


_main()
