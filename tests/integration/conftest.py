"""Database fixtures: every test here runs on SQLite AND PostgreSQL.

* SQLite: a fresh file under ``tmp_path`` per test.
* PostgreSQL: ``DASHTAM_TEST_POSTGRES_URL`` (default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) names a server; one fresh database
  ``dashtam_test_<hex>`` is created per session and dropped at its end. Each test starts from
  emptied tables (TRUNCATE: the audit triggers refuse DELETE, not TRUNCATE).
* PostgreSQL unreachable: the PostgreSQL cases FAIL when ``CI=true`` or
  ``DASHTAM_REQUIRE_POSTGRES=1``, and are skipped with a loud reason otherwise.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.infrastructure.db.engine import create_engine
from dashtam_cli.infrastructure.db.migrate import upgrade
from dashtam_cli.infrastructure.db.schema import metadata
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory

POSTGRES_URL_ENV = "DASHTAM_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def _postgres_required() -> bool:
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("DASHTAM_REQUIRE_POSTGRES") == "1"
    )


def _libpq(url: URL) -> str:
    """A libpq conninfo URL (no SQLAlchemy driver suffix) for psycopg.connect."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _admin_connect(url: URL) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_libpq(url), autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgres_server() -> URL:
    """The PostgreSQL server to test against (skip or fail loudly when it is unreachable)."""
    url = make_url(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))
    try:
        with _admin_connect(url) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        where = url.render_as_string(hide_password=True)
        message = (
            f"PostgreSQL at {where} is unreachable ({type(exc).__name__}: {exc}). "
            f"Start it or point {POSTGRES_URL_ENV} at one."
        )
        if _postgres_required():
            pytest.fail(f"PostgreSQL is required (CI / DASHTAM_REQUIRE_POSTGRES): {message}")
        pytest.skip(f"!!! SKIPPING EVERY POSTGRESQL DATABASE TEST !!! {message}")
    return url


@pytest.fixture(scope="session")
def postgres_database(postgres_server: URL) -> Iterator[URL]:
    """One fresh database for the whole session, dropped at the end."""
    name = f"dashtam_test_{secrets.token_hex(6)}"
    with _admin_connect(postgres_server) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres_server.set(database=name)
    finally:
        with _admin_connect(postgres_server) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of this test's database (SQLite file not yet created; PostgreSQL session db)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "data" / "dashtam.db"
        return f"sqlite:///{path}"
    url: URL = request.getfixturevalue("postgres_database")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def backend(db_url: str) -> str:
    """``sqlite`` or ``postgresql``."""
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def empty_db_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database nobody has migrated: a new SQLite file, or a new PostgreSQL schema."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('empty') / 'dashtam.db'}"
        return
    url = make_url(db_url)
    schema = f"empty_{secrets.token_hex(6)}"
    with _admin_connect(url) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with _admin_connect(url) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


async def _empty_all_tables(engine: AsyncEngine) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated to head, with every table empty."""
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        if engine.dialect.name == "postgresql":
            await _empty_all_tables(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    """Makes units of work on the test database."""
    return SqlUnitOfWorkFactory(engine)
