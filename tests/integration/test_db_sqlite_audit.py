"""The stdlib audit writer of SQLite files writes exactly the rows the SQLAlchemy writer writes.

The same entries go through :class:`SqlAuditLog` into one database and :class:`SqliteAuditLog`
into another; the stored rows (every column, as text) and what each reads back must be equal.
Then the behaviour that matters on SQLite: one row per event, the append-only triggers, a row
queued (never a deadlock) while this process's own unit of work holds the write lock, and the
queue written by ``aclose``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.application.ports import AuditReader
from dashtam_cli.domain.errors import ErrorCode
from dashtam_cli.domain.protocols import AuditEntry, AuditLog
from dashtam_cli.infrastructure.audit import SqlAuditLog
from dashtam_cli.infrastructure.db.engine import create_engine
from dashtam_cli.infrastructure.db.errors import DatabaseUnavailableError
from dashtam_cli.infrastructure.db.migrate import upgrade
from dashtam_cli.infrastructure.db.sqlite_audit import SqliteAuditLog, context_json
from dashtam_cli.infrastructure.db.types import json_dumps
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.dbtest_support import NOW, make_connection


class _Color(StrEnum):
    RED = "red"


def _entry(action: str = "sync", outcome: str = "attempted", **changes: object) -> AuditEntry:
    fields: dict[str, object] = {
        "action": action,
        "outcome": outcome,
        "occurred_at": NOW,
        "event_id": uuid4(),
        "connection_id": uuid4(),
        "context": {"accounts": 2, "amount": Decimal("10.50")},
    }
    fields.update(changes)
    return AuditEntry(**fields)  # type: ignore[arg-type]


async def _migrated(path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite:///{path}")
    await upgrade(engine)
    return engine


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, Path, AsyncEngine, Path]]:
    """Two migrated SQLite files: one for each writer (with an engine on each)."""
    ours, theirs = tmp_path / "stdlib.db", tmp_path / "sqlalchemy.db"
    ours_engine, theirs_engine = await _migrated(ours), await _migrated(theirs)
    try:
        yield ours_engine, ours, theirs_engine, theirs
    finally:
        await ours_engine.dispose()
        await theirs_engine.dispose()


def _stored(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    connection.close()
    return rows


ENTRIES = [
    _entry(),
    _entry("export", "succeeded", connection_id=None, account_id=uuid4(), context={"rows": 3}),
    _entry(
        "sync",
        "failed",
        error_code=ErrorCode.PROVIDER_UNAVAILABLE.value,
        occurred_at=datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
        context={
            "nested": {"b": [1, 2.5, Decimal("0.1000")], "a": None},
            "account": uuid4(),
            "day": date(2024, 1, 2),
            "when": NOW,
            "kind": _Color.RED,
            "text": 'quote " comma , é ☃ \n',
            "flag": True,
        },
    ),
    _entry("key_rotation", occurred_at=NOW.astimezone(UTC) + timedelta(microseconds=1)),
]


async def test_both_writers_store_the_same_rows_and_read_them_back_alike(
    pair: tuple[AsyncEngine, Path, AsyncEngine, Path],
) -> None:
    _, ours_path, theirs_engine, theirs_path = pair
    ours, theirs = SqliteAuditLog(ours_path), SqlAuditLog(theirs_engine)
    writer: AuditLog = ours
    reader: AuditReader = ours
    assert isinstance(writer, SqliteAuditLog)
    assert isinstance(reader, SqliteAuditLog)
    for entry in ENTRIES:
        await ours.append(entry)
        await theirs.append(entry)
    assert _stored(ours_path) == _stored(theirs_path)
    assert await ours.list_entries() == await theirs.list_entries()
    since = NOW - timedelta(hours=1)
    assert await ours.list_entries(since=since, action="sync", limit=1) == (
        await theirs.list_entries(since=since, action="sync", limit=1)
    )
    await ours.aclose()
    await theirs.aclose()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    context=st.dictionaries(
        st.text(max_size=5),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.text(max_size=8)
            | st.decimals(allow_nan=False, allow_infinity=False, places=4)
            | st.uuids(),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
            max_leaves=6,
        ),
        max_size=4,
    )
)
def test_context_json_is_the_json_the_engine_stores(context: dict[str, object]) -> None:
    assert context_json(context) == json_dumps(context)


async def test_one_row_per_event_and_the_table_stays_append_only(tmp_path: Path) -> None:
    path = tmp_path / "dashtam.db"
    engine = await _migrated(path)
    await engine.dispose()
    audit = SqliteAuditLog(path)
    entry = _entry()
    await audit.append(entry)
    await audit.append(entry)
    await audit.append(replace(entry, outcome="succeeded"))  # same event id: ignored
    assert len(_stored(path)) == 1
    with sqlite3.connect(path) as connection:
        for statement in ("UPDATE audit_log SET outcome = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                connection.execute(statement)
    connection.close()
    (stored,) = await audit.list_entries()
    assert stored.outcome == "attempted"
    assert stored.context == {"accounts": 2, "amount": Decimal("10.50")}
    await audit.aclose()


async def test_a_row_waits_for_this_processs_own_unit_of_work(tmp_path: Path) -> None:
    path = tmp_path / "dashtam.db"
    engine = await _migrated(path)
    audit = SqliteAuditLog(path)
    attempted = _entry("provider_connection")
    started = time.monotonic()
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            await uow.connections.save(make_connection())
            await audit.append(attempted)  # the unit of work holds the write lock
            assert audit.pending == 1
            await uow.rollback()
        await audit.flush()
        assert time.monotonic() - started < 2
        assert audit.pending == 0
        assert [e.event_id for e in await audit.list_entries()] == [attempted.event_id]
    finally:
        await audit.aclose()
        await engine.dispose()


async def test_a_queued_row_is_written_by_aclose(tmp_path: Path) -> None:
    path = tmp_path / "dashtam.db"
    engine = await _migrated(path)
    audit = SqliteAuditLog(path)
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            await uow.connections.save(make_connection())
            await audit.append(_entry())
            await uow.commit()
        await audit.aclose()
        assert audit.pending == 0
        assert len(_stored(path)) == 1
    finally:
        await engine.dispose()


async def test_a_lock_held_elsewhere_is_reported_after_five_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashtam_cli.infrastructure.db import sqlite_audit

    monkeypatch.setattr(sqlite_audit, "_FLUSH_TIMEOUT_S", 0.2)
    path = tmp_path / "dashtam.db"
    engine = await _migrated(path)
    await engine.dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    audit = SqliteAuditLog(path)
    try:
        await audit.append(_entry())
        assert audit.pending == 1
        with pytest.raises(DatabaseUnavailableError) as caught:
            await audit.flush()
        assert caught.value.error.code is ErrorCode.DATABASE_ERROR
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await audit.aclose()  # the lock is free: the row is written
    assert len(_stored(path)) == 1


async def test_a_missing_database_is_unreachable_and_never_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    audit = SqliteAuditLog(path)
    with pytest.raises(DatabaseUnavailableError) as caught:
        await audit.append(_entry())
    assert caught.value.error.code is ErrorCode.DATABASE_UNREACHABLE
    assert not path.exists()


async def test_a_naive_instant_is_refused(tmp_path: Path) -> None:
    audit = SqliteAuditLog(tmp_path / "dashtam.db")
    with pytest.raises(ValueError, match="naive"):
        await audit.append(_entry(occurred_at=datetime(2025, 1, 1)))
    with pytest.raises(ValueError, match="naive"):
        await audit.list_entries(since=datetime(2025, 1, 1))
