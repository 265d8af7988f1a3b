"""Migrations: upgrade an empty database to head, idempotently, matching the Core metadata."""

from __future__ import annotations

import importlib.util
import secrets
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import URL, Connection

from dashtam_cli.domain.money import Money
from dashtam_cli.infrastructure.db import migrate, search_index
from dashtam_cli.infrastructure.db.engine import create_engine
from dashtam_cli.infrastructure.db.schema import metadata
from dashtam_cli.infrastructure.db.types import DecimalType
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.dbtest_support import make_holding, make_transaction, seed_account

pytestmark = pytest.mark.db

TABLES = {
    "provider_connections",
    "accounts",
    "holdings",
    "transactions",
    "balance_snapshots",
    "sync_runs",
    "stored_secrets",
    "audit_log",
}


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _schema_differences(connection: Connection) -> list[Any]:
    opts = {"compare_type": False, "include_name": search_index.include_name}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, metadata))


def test_head_revision_is_known_without_a_database() -> None:
    assert migrate.head_revision() == "0003"


async def test_upgrade_an_empty_database_to_head_idempotently(empty_db_url: str) -> None:
    engine = create_engine(empty_db_url)
    try:
        assert await migrate.current_revision(engine) is None
        assert await migrate.needs_upgrade(engine) is True

        assert await migrate.upgrade(engine) == migrate.head_revision()
        assert await migrate.current_revision(engine) == migrate.head_revision()
        assert await migrate.needs_upgrade(engine) is False
        assert await migrate.upgrade(engine) == migrate.head_revision()  # again: a no-op

        async with engine.connect() as connection:
            names = await connection.run_sync(_table_names)
            differences = await connection.run_sync(_schema_differences)
        assert names >= TABLES
        assert differences == []
    finally:
        await engine.dispose()


async def test_upgrade_and_revision_accept_a_url(empty_db_url: str) -> None:
    assert await migrate.current_revision(empty_db_url) is None
    assert await migrate.upgrade(empty_db_url) == "0003"
    assert await migrate.current_revision(empty_db_url) == "0003"


async def test_downgrade_to_base_removes_everything_and_upgrade_restores_it(
    empty_db_url: str,
) -> None:
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine)
        assert await migrate.downgrade(engine) is None
        async with engine.connect() as connection:
            assert not TABLES & await connection.run_sync(_table_names)
        assert await migrate.upgrade(engine) == "0003"
    finally:
        await engine.dispose()


def _search_objects(connection: Connection) -> set[str]:
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("SELECT name FROM sqlite_master")
    else:
        rows = connection.exec_driver_sql(
            "SELECT indexname FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = 'transactions'"
        )
    return {name for (name,) in rows if search_index.is_search_object(name)}


async def test_the_search_index_comes_with_0002_and_goes_with_its_downgrade(
    empty_db_url: str, backend: str
) -> None:
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            created = await connection.run_sync(_search_objects)
        if backend == "sqlite":
            wanted = {search_index.SEARCH_TABLE, search_index.STATE_TABLE}
            wanted |= {"transaction_search_update", "transaction_search_delete"}
            assert created >= wanted
        else:
            assert created == set(search_index.POSTGRES_INDEXES)
        assert await migrate.downgrade(engine, "0001") == "0001"
        async with engine.connect() as connection:
            assert await connection.run_sync(_search_objects) == set()
            # the rest of the schema is untouched
            assert await connection.run_sync(_table_names) >= TABLES
    finally:
        await engine.dispose()


def _migration(name: str) -> ModuleType:
    """A migration script as a module (its file name starts with a digit)."""
    path = migrate.MIGRATIONS_DIR / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"dashtam_migration_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_pg_trgm_rights_the_migration_goes_on_without_the_indexes(
    postgres_database: URL,
) -> None:
    create = _migration("0002_transaction_search")._create_postgres_indexes
    engine = sa.create_engine(postgres_database)
    try:
        with engine.connect() as connection, connection.begin() as outer:
            # everything below, the role included, is rolled back at the end
            schema = f"noprivs_{secrets.token_hex(4)}"
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
            connection.exec_driver_sql(f"CREATE TABLE {schema}.transactions (description text)")
            connection.exec_driver_sql("CREATE ROLE dashtam_test_no_rights NOLOGIN")
            connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO dashtam_test_no_rights")
            connection.exec_driver_sql(f"SET LOCAL search_path TO {schema}")
            connection.exec_driver_sql("SET LOCAL ROLE dashtam_test_no_rights")
            create(connection)  # neither the extension nor an index on another's table: no error
            connection.exec_driver_sql("RESET ROLE")
            made = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = %(s)s", {"s": schema}
            ).scalar_one()
            assert made == 0
            assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1  # still usable
            outer.rollback()
    finally:
        engine.dispose()


def test_0003_rewrites_every_decimal_column() -> None:
    listed = _migration("0003_plain_decimals").DECIMAL_COLUMNS
    schema = {
        table.name: {c.name for c in table.columns if isinstance(c.type, DecimalType)}
        for table in metadata.sorted_tables
    }
    assert {name: set(columns) for name, columns in listed.items()} == {
        name: columns for name, columns in schema.items() if columns
    }


async def test_0003_writes_stored_exponents_out_in_plain_notation(
    empty_db_url: str, backend: str
) -> None:
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine)
        async with SqlUnitOfWorkFactory(engine)() as uow:
            account = await seed_account(uow)
            txn = make_transaction(account.id, fees=Money.of("0.10"), quantity=Decimal("2"))
            await uow.transactions.upsert_many([txn])
            await uow.holdings.upsert_many([make_holding(account.id)])
            await uow.commit()
        assert await migrate.downgrade(engine, "0002") == "0002"
        # what older code stored: str(Decimal), with an exponent
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE transactions SET amount = '1E-8', fees = '0E-8', unit_price = '1E+2', "
                "quantity = '-1.5E-7'"
            )
            await connection.exec_driver_sql("UPDATE holdings SET quantity = '0E-10'")
            await connection.exec_driver_sql("UPDATE accounts SET balance = '2.5E-9'")
        assert await migrate.upgrade(engine) == "0003"
        async with engine.connect() as connection:
            row = (
                await connection.exec_driver_sql(
                    "SELECT CAST(amount AS TEXT), CAST(fees AS TEXT), CAST(unit_price AS TEXT), "
                    "CAST(quantity AS TEXT), description FROM transactions"
                )
            ).one()
            holding = (
                await connection.exec_driver_sql("SELECT CAST(quantity AS TEXT) FROM holdings")
            ).scalar_one()
            balance = (
                await connection.exec_driver_sql("SELECT CAST(balance AS TEXT) FROM accounts")
            ).scalar_one()
        assert tuple(row) == ("0.00000001", "0.00000000", "100", "-0.00000015", txn.description)
        assert holding == "0.0000000000"
        assert balance == "0.0000000025"
    finally:
        await engine.dispose()
