"""The SQL unit of work: commit, rollback, staying usable, and database failures as values."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.domain.errors import ErrorCode
from dashtam_cli.domain.protocols import UnitOfWork, UnitOfWorkFactory
from dashtam_cli.infrastructure.db.engine import create_engine
from dashtam_cli.infrastructure.db.readers import SqlConnectionReader
from dashtam_cli.infrastructure.db.schema import provider_connections
from dashtam_cli.infrastructure.db.unit_of_work import (
    DatabaseUnavailableError,
    SqlUnitOfWork,
    SqlUnitOfWorkFactory,
)
from tests.integration.dbtest_support import count_rows, make_connection

pytestmark = pytest.mark.db


def test_the_sql_classes_satisfy_the_domain_ports(engine: AsyncEngine) -> None:
    # checked by mypy: a mismatch with the protocols fails the type check
    factory: UnitOfWorkFactory = SqlUnitOfWorkFactory(engine)
    uow: UnitOfWork = factory()
    assert isinstance(uow, SqlUnitOfWork)


async def test_commit_persists_and_leaving_without_commit_rolls_back(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    kept, dropped = make_connection("kept"), make_connection("dropped")
    async with uow_factory() as uow:
        await uow.connections.save(kept)
        await uow.commit()
        # still usable after a commit; this part is never committed
        await uow.connections.save(dropped)
        assert await uow.connections.get(dropped.id) is not None
    async with uow_factory() as uow:
        assert await uow.connections.get(kept.id) is not None
        assert await uow.connections.get(dropped.id) is None
    assert await count_rows(engine, provider_connections) == 1


async def test_explicit_rollback_discards_and_the_uow_stays_usable(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first, second = make_connection("first"), make_connection("second")
    async with uow_factory() as uow:
        await uow.connections.save(first)
        await uow.rollback()
        await uow.connections.save(second)
        await uow.commit()
    async with uow_factory() as uow:
        assert [c.alias for c in await uow.connections.list()] == ["second"]


async def test_an_exception_in_the_block_rolls_back_and_propagates(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async def buggy_handler() -> None:
        async with uow_factory() as uow:
            await uow.connections.save(make_connection())
            raise LookupError("a bug in a handler")

    with pytest.raises(LookupError):
        await buggy_handler()
    assert await count_rows(engine, provider_connections) == 0


async def test_a_database_error_in_the_block_becomes_a_database_error_value(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async def save_twice() -> None:
        async with uow_factory() as uow:
            await uow.connections.save(make_connection("same"))
            await uow.connections.save(make_connection("same"))  # alias is unique

    with pytest.raises(DatabaseUnavailableError) as caught:
        await save_twice()
    assert caught.value.error.code is ErrorCode.DATABASE_ERROR
    assert isinstance(caught.value.__cause__, IntegrityError)


async def test_the_reader_sees_committed_connections(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        await uow.connections.save(make_connection("b"))
        await uow.connections.save(make_connection("a"))
        await uow.commit()
    listed = await SqlConnectionReader(engine).list_connections()
    assert sorted(c.alias for c in listed) == ["a", "b"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
async def test_an_unreachable_database_is_reported_not_raised_raw(
    kind: str, tmp_path: Path
) -> None:
    if kind == "sqlite":
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        url = f"sqlite:///{blocker / 'dashtam.db'}"
    else:
        url = "postgresql://dashtam:hunter2@127.0.0.1:1/nowhere?connect_timeout=2"
    engine = create_engine(url)
    threads_before = set(threading.enumerate())
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            async with SqlUnitOfWorkFactory(engine)():
                pass  # pragma: no cover - never reached
    finally:
        await engine.dispose()
        # aiosqlite stops the worker thread of a failed connect without awaiting it; let it
        # finish while this loop is still open (or it reports to a closed loop)
        for thread in set(threading.enumerate()) - threads_before:
            await asyncio.to_thread(thread.join, 5)
    error = caught.value.error
    assert error.code is ErrorCode.DATABASE_UNREACHABLE
    assert error.hint
    assert "hunter2" not in error.message
    assert "hunter2" not in str(error.details)
