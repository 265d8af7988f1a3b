"""The audit trail: append-only on both backends, and independent of business transactions."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.application.ports import AuditReader
from dashtam_cli.domain.protocols import AuditEntry, AuditLog
from dashtam_cli.infrastructure.audit import SqlAuditLog
from dashtam_cli.infrastructure.db.schema import audit_log, provider_connections
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.dbtest_support import NOW, count_rows, make_connection

pytestmark = pytest.mark.db


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


@pytest.fixture
async def audit(engine: AsyncEngine) -> AsyncIterator[SqlAuditLog]:
    log = SqlAuditLog(engine)
    yield log
    await log.aclose()


def test_the_audit_log_satisfies_its_ports(audit: SqlAuditLog) -> None:
    # checked by mypy: a mismatch with either protocol fails the type check
    writer: AuditLog = audit
    reader: AuditReader = audit
    assert isinstance(writer, SqlAuditLog)
    assert isinstance(reader, SqlAuditLog)


async def test_entries_come_back_newest_first_and_filtered(audit: SqlAuditLog) -> None:
    old = _entry("sync", occurred_at=NOW - timedelta(days=2))
    failed = _entry("sync", "failed", error_code="provider_unavailable")
    connect = _entry("provider_connection", occurred_at=NOW + timedelta(minutes=1))
    for entry in (old, failed, connect):
        await audit.append(entry)

    everything = await audit.list_entries()
    assert [e.event_id for e in everything] == [connect.event_id, failed.event_id, old.event_id]
    recent_syncs = await audit.list_entries(since=NOW - timedelta(hours=1), action="sync")
    assert [e.event_id for e in recent_syncs] == [failed.event_id]
    assert len(await audit.list_entries(limit=1)) == 1

    stored = everything[1]
    assert stored.id is not None
    assert stored.error_code == "provider_unavailable"
    assert stored.connection_id == failed.connection_id
    assert stored.occurred_at == NOW
    assert stored.context == {"accounts": 2, "amount": Decimal("10.50")}


async def test_the_same_event_is_recorded_once(engine: AsyncEngine, audit: SqlAuditLog) -> None:
    entry = _entry()
    await audit.append(entry)
    await audit.append(entry)
    assert await count_rows(engine, audit_log) == 1


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_audit_rows_cannot_be_updated_or_deleted(
    engine: AsyncEngine, audit: SqlAuditLog, change: str
) -> None:
    await audit.append(_entry())
    statement = (
        update(audit_log).values(outcome="succeeded") if change == "update" else delete(audit_log)
    )
    with pytest.raises(DBAPIError):
        async with engine.begin() as connection:
            await connection.execute(statement)
    (entry,) = await audit.list_entries()
    assert entry.outcome == "attempted"


async def test_an_attempted_row_survives_a_rolled_back_business_transaction(
    engine: AsyncEngine, audit: SqlAuditLog, backend: str
) -> None:
    connection = make_connection()
    attempted = _entry("provider_connection", connection_id=connection.id)
    started = time.monotonic()
    async with SqlUnitOfWorkFactory(engine)() as uow:
        await uow.connections.save(connection)
        # SQLite: this uow holds the write lock; the audit log must not deadlock on it
        await audit.append(attempted)
        # SQLite queues it until the lock is free; PostgreSQL has written it already
        assert audit.pending == (1 if backend == "sqlite" else 0)
        await uow.rollback()
    assert time.monotonic() - started < 2

    entries = await audit.list_entries()
    assert [e.event_id for e in entries] == [attempted.event_id]
    assert await count_rows(engine, provider_connections) == 0
    assert audit.pending == 0


async def test_a_queued_entry_is_written_by_aclose(engine: AsyncEngine) -> None:
    audit = SqlAuditLog(engine)
    entry = _entry()
    async with SqlUnitOfWorkFactory(engine)() as uow:
        await uow.connections.save(make_connection())
        await audit.append(entry)
        await uow.commit()
    await audit.aclose()
    assert audit.pending == 0
    assert await count_rows(engine, audit_log) == 1


async def test_context_values_json_cannot_hold_natively_are_stored_as_text(
    audit: SqlAuditLog,
) -> None:
    account_id = uuid4()
    entry = _entry(context={"account": account_id, "since": NOW, "nested": {"n": [1, 2]}})
    await audit.append(entry)
    (stored,) = await audit.list_entries()
    assert stored.context == {
        "account": str(account_id),
        "since": NOW.isoformat(),
        "nested": {"n": [1, 2]},
    }
