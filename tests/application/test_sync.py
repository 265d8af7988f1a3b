"""The sync handler over in-memory fakes: the sync rules of domain.md."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from dashtam_cli.application.commands import SyncConnections
from dashtam_cli.application.handlers.sync import SyncConnectionsHandler, SyncReport
from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.connections import ConnectionStatus, ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success, ok
from dashtam_cli.domain.events import (
    SyncAttempted,
    SyncFailed,
    SyncProgressed,
    SyncSucceeded,
    TransactionSyncFailed,
)
from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.protocols import UpsertCounts
from dashtam_cli.domain.providers import (
    FetchedAccount,
    FetchedHolding,
    FetchedTransaction,
    ProviderRegistry,
)
from dashtam_cli.domain.sync import SyncStatus
from dashtam_cli.domain.transactions import TransactionStatus, TransactionSubtype, TransactionType
from tests.fakes import (
    FakeProvider,
    FrozenClock,
    InMemoryTransactionRepository,
    InMemoryUnitOfWorkFactory,
    RecordingEventSink,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class FakeLock:
    def __init__(self, *, held: bool = False) -> None:
        self.held = held
        self.acquired = 0
        self.released = 0

    async def acquire(self) -> Result[None, DomainError]:
        if self.held:
            return Failure(error=DomainError(code=ErrorCode.SYNC_LOCKED, message="busy"))
        self.acquired += 1
        return ok(None)

    async def release(self) -> None:
        self.released += 1


def account(
    key: str, *, balance: str = "100.00", kind: AccountType = AccountType.BROKERAGE
) -> FetchedAccount:
    return FetchedAccount(
        provider_account_id=key,
        account_number_masked=f"****{key[-4:]:0>4}",
        name=f"Account {key}",
        account_type=kind,
        currency="USD",
        balance=Decimal(balance),
        cash_balance=Decimal("10.00"),
        holdings=(
            FetchedHolding(
                provider_holding_id=f"{key}-AAPL",
                symbol="AAPL",
                asset_type=AssetType.EQUITY,
                quantity=Decimal("2"),
                currency="USD",
                market_value=Decimal("90.00"),
                current_price=Decimal("45.00"),
            ),
        ),
    )


def txn(
    key: str,
    day: date,
    *,
    amount: str = "-10.00",
    status: TransactionStatus = TransactionStatus.SETTLED,
) -> FetchedTransaction:
    return FetchedTransaction(
        provider_transaction_id=key,
        transaction_type=TransactionType.FEE,
        subtype=TransactionSubtype.ACCOUNT_FEE,
        status=status,
        amount=Decimal(amount),
        currency="USD",
        transaction_date=day,
        description=f"fee {key}",
        posted_at=datetime(day.year, day.month, day.day, 15, tzinfo=UTC),
    )


class World:
    def __init__(self) -> None:
        self.clock = FrozenClock(NOW)
        self.uow = InMemoryUnitOfWorkFactory()
        self.events = RecordingEventSink()
        self.provider = FakeProvider()
        self.lock = FakeLock()
        self.handler = SyncConnectionsHandler(
            uow_factory=self.uow,
            providers=ProviderRegistry([self.provider]),
            events=self.events,
            clock=self.clock,
            lock=self.lock,
        )
        self.connection = ProviderConnection(
            provider="fake", alias="main", status=ConnectionStatus.ACTIVE
        )
        self.uow.state.connections[self.connection.id] = self.connection

    async def sync(self, **kwargs: object) -> SyncReport:
        result = await self.handler.handle(SyncConnections(**kwargs))  # type: ignore[arg-type]
        assert isinstance(result, Success), result
        return result.value

    def transactions(self) -> list[object]:
        return list(self.uow.state.transactions.values())


@pytest.fixture
def world() -> World:
    w = World()
    w.provider.accounts = [account("A-1111"), account("B-2222")]
    w.provider.transactions = {
        "A-1111": [txn(f"a{i}", date(2026, 5, 1) - timedelta(days=30 * i)) for i in range(30)],
        "B-2222": [txn("b0", date(2026, 5, 30), status=TransactionStatus.PENDING)],
    }
    return w


async def test_first_sync_stores_everything_and_a_second_inserts_nothing(world: World) -> None:
    report = await world.sync()
    assert report.status is SyncStatus.SUCCEEDED
    (conn,) = report.connections
    assert conn.run.counts.transactions_inserted == 31
    assert conn.run.counts.accounts == 2
    assert conn.run.counts.holdings == 2
    assert len(world.transactions()) == 31
    assert len(world.uow.state.balances) == 2
    assert world.lock.acquired == world.lock.released == 1

    world.clock.advance(timedelta(hours=1))
    again = await world.sync()
    counts = again.connections[0].run.counts
    assert counts.transactions_inserted == 0
    assert len(world.transactions()) == 31
    assert len(world.uow.state.balances) == 4  # one snapshot per account per run


async def test_incremental_sync_reads_from_latest_minus_overlap(world: World) -> None:
    await world.sync()
    world.provider.windows.clear()
    world.clock.advance(timedelta(days=1))
    await world.sync()
    starts = {key: start for key, start, _ in world.provider.windows}
    # newest stored A row: 2026-05-01; overlap 7 days
    assert starts["A-1111"] == datetime(2026, 4, 24, tzinfo=UTC)
    assert starts["B-2222"] == datetime(2026, 5, 23, tzinfo=UTC)


async def test_pending_becomes_settled_as_an_update(world: World) -> None:
    await world.sync()
    world.provider.transactions["B-2222"] = [
        txn("b0", date(2026, 5, 30), status=TransactionStatus.SETTLED)
    ]
    world.clock.advance(timedelta(days=1))
    report = await world.sync()
    assert report.connections[0].run.counts.transactions_updated == 1
    (row,) = [t for t in world.uow.state.transactions.values() if t.provider_transaction_id == "b0"]
    assert row.status is TransactionStatus.SETTLED


async def test_one_failing_account_makes_the_run_partial(world: World) -> None:
    world.provider.failing["B-2222"] = DomainError(
        code=ErrorCode.PROVIDER_UNAVAILABLE, message="503"
    )
    report = await world.sync()
    assert report.status is SyncStatus.PARTIAL
    conn = report.connections[0]
    assert conn.error is not None
    assert conn.error.code is ErrorCode.SYNC_PARTIAL
    assert [r.ok for r in conn.accounts] == [True, False]
    assert len(world.transactions()) == 30  # A was stored in full
    assert world.events.of_type(TransactionSyncFailed)
    assert world.events.of_type(SyncSucceeded)  # the run finished (partially)
    stored = world.uow.state.connections[world.connection.id]
    assert stored.last_sync_status == "partial"


class RefusedValueError(Exception):
    """What the database adapter raises for a value PostgreSQL refuses (it carries the error)."""

    def __init__(self) -> None:
        super().__init__("value too long")
        self.error = DomainError(
            code=ErrorCode.DATABASE_ERROR, message="value too long for type character varying"
        )


def _refuse_rows(monkeypatch: pytest.MonkeyPatch, key: str, exc: Exception) -> None:
    """Make storing the rows of the account whose transactions include ``key`` raise ``exc``."""
    original = InMemoryTransactionRepository.upsert_fetched

    async def refuse(
        self: InMemoryTransactionRepository, account_id: UUID, rows: Sequence[FetchedTransaction]
    ) -> UpsertCounts:
        if any(r.provider_transaction_id == key for r in rows):
            raise exc
        return await original(self, account_id, rows)

    monkeypatch.setattr(InMemoryTransactionRepository, "upsert_fetched", refuse)


async def test_a_storage_error_fails_that_account_only(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_rows(monkeypatch, "a0", RefusedValueError())
    report = await world.sync()
    conn = report.connections[0]
    assert report.status is SyncStatus.PARTIAL
    assert [r.ok for r in conn.accounts] == [False, True]  # B synced after A failed
    failed = conn.accounts[0].error
    assert failed is not None
    assert failed.code is ErrorCode.DATABASE_ERROR
    assert [t.provider_transaction_id for t in world.uow.state.transactions.values()] == ["b0"]
    (run,) = world.uow.state.sync_runs.values()
    assert run.status is SyncStatus.PARTIAL
    assert world.events.of_type(TransactionSyncFailed)[0].error_code is ErrorCode.DATABASE_ERROR


async def test_a_bug_mid_sync_still_ends_the_run_as_failed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_rows(monkeypatch, "b0", RuntimeError("a bug"))
    with pytest.raises(RuntimeError):
        await world.handler.handle(SyncConnections())
    (run,) = world.uow.state.sync_runs.values()
    assert run.status is SyncStatus.FAILED  # not left "running"
    assert run.error_code is ErrorCode.INTERNAL
    (failed,) = world.events.of_type(SyncFailed)
    assert failed.error_code is ErrorCode.INTERNAL
    assert world.lock.acquired == world.lock.released == 1


async def test_backfill_walks_back_until_an_empty_span(world: World) -> None:
    await world.sync()
    windows = [(s, e) for key, s, e in world.provider.windows if key == "A-1111"]
    # oldest A row is ~29*30 days back (2024-04); two empty years after it stop the walk
    oldest = min(s for s, _ in windows)
    assert oldest < datetime(2024, 5, 1, tzinfo=UTC)
    assert oldest > datetime(2021, 1, 1, tzinfo=UTC)
    cursor = world.uow.state.sync_cursors
    assert all(c.backfill_complete for c in cursor.values())


async def test_an_interrupted_backfill_resumes_where_it_stopped(world: World) -> None:
    world.provider.failing["A-1111"] = DomainError(code=ErrorCode.PROVIDER_UNAVAILABLE, message="x")
    await world.sync()
    # simulate: A fetched its newest windows, then died (cursor incomplete)
    world.provider.failing.clear()
    report = await world.sync()
    assert report.status is SyncStatus.SUCCEEDED
    assert len(world.transactions()) == 31


async def test_since_and_full(world: World) -> None:
    await world.sync()
    world.provider.windows.clear()
    await world.sync(since=date(2026, 1, 1))
    a_windows = [(s, e) for key, s, e in world.provider.windows if key == "A-1111"]
    assert min(s for s, _ in a_windows) == datetime(2026, 1, 1, tzinfo=UTC)
    world.provider.windows.clear()
    report = await world.sync(full=True)
    assert min(s for key, s, _ in world.provider.windows if key == "A-1111") < datetime(
        2024, 5, 1, tzinfo=UTC
    )
    assert report.connections[0].run.counts.transactions_inserted == 0


async def test_locked_database_fails_at_once(world: World) -> None:
    world.lock.held = True
    result = await world.handler.handle(SyncConnections())
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.SYNC_LOCKED
    assert world.provider.sessions == []


async def test_reauth_failure_expires_the_connection(world: World) -> None:
    world.provider.open_error = DomainError(
        code=ErrorCode.REAUTH_REQUIRED, message="refresh token expired"
    )
    report = await world.sync()
    assert report.status is SyncStatus.FAILED
    assert world.uow.state.connections[world.connection.id].status is ConnectionStatus.EXPIRED
    assert world.events.of_type(SyncFailed)


async def test_events_are_three_state_and_progress_is_published(world: World) -> None:
    await world.sync()
    names = world.events.names
    assert names[0] == "SyncAttempted"
    assert names[-1] == "SyncSucceeded"
    assert world.events.of_type(SyncProgressed)
    for workflow in ("AccountSync", "HoldingsSync", "TransactionSync"):
        assert names.count(f"{workflow}Attempted") == 2
        assert names.count(f"{workflow}Succeeded") == 2
    assert len(world.events.of_type(SyncAttempted)) == 1


async def test_connection_selection(world: World) -> None:
    result = await world.handler.handle(SyncConnections(connection_ref="nope"))
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.NOT_FOUND
    report = await world.sync(connection_ref="main")
    assert len(report.connections) == 1
    expired = world.uow.state.connections[world.connection.id]
    world.uow.state.connections[expired.id] = expired.expire(now=NOW).value  # type: ignore[union-attr]
    result = await world.handler.handle(SyncConnections(connection_ref="main"))
    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.CONNECTION_NOT_ACTIVE
    assert "connect fake --alias main" in (result.error.hint or "")


async def test_an_expired_login_is_reported_on_every_run_not_skipped(world: World) -> None:
    other = ProviderConnection(provider="fake", alias="other", status=ConnectionStatus.ACTIVE)
    world.uow.state.connections[other.id] = other
    expired = world.uow.state.connections[world.connection.id]
    world.uow.state.connections[expired.id] = expired.expire(now=NOW).value  # type: ignore[union-attr]
    for _ in range(2):  # the second run (cron, an hour later) says it again
        report = await world.sync()
        by_alias = {c.alias: c for c in report.connections}
        assert by_alias["other"].status is SyncStatus.SUCCEEDED
        failed = by_alias["main"]
        assert failed.status is SyncStatus.FAILED
        assert failed.error is not None
        assert failed.error.code is ErrorCode.CONNECTION_NOT_ACTIVE
        assert failed.error.hint == "dashtam providers connect fake --alias main"
        assert report.status is SyncStatus.FAILED  # exit 4, not 0
        world.clock.advance(timedelta(hours=1))
    # no session was ever opened for the expired login
    assert {s.connection.alias for s in world.provider.sessions} == {"other"}
    # alone, it is still reported (exit 4), not "no connection to sync" (exit 10)
    del world.uow.state.connections[other.id]
    alone = await world.sync()
    assert [c.error.code for c in alone.connections if c.error] == [ErrorCode.CONNECTION_NOT_ACTIVE]


async def test_vanished_accounts_become_inactive_and_provider_state_is_kept(world: World) -> None:
    await world.sync()
    world.provider.accounts = [account("A-1111")]
    await world.sync()
    active = {a.provider_account_id: a.is_active for a in world.uow.state.accounts.values()}
    assert active == {"A-1111": True, "B-2222": False}
    stored = world.uow.state.connections[world.connection.id]
    assert stored.provider_state["syncs"] == 2
