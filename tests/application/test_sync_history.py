"""The history walk: one commit per window, holding the window's rows and the cursor past it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from dashtam_cli.application.commands import SyncConnections
from dashtam_cli.application.handlers.sync_history import TransactionHistorySync
from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.connections import ConnectionStatus, ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.domain.protocols import UpsertCounts
from dashtam_cli.domain.providers import (
    FetchedAccount,
    FetchedTransaction,
    ProviderCapabilities,
)
from dashtam_cli.domain.transactions import TransactionStatus, TransactionSubtype, TransactionType
from tests.fakes import FrozenClock, InMemoryUnitOfWorkFactory, RecordingEventSink

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CAPS = ProviderCapabilities(
    max_window=timedelta(days=100), empty_span_stop=timedelta(days=300), overlap=timedelta(days=7)
)
ACCOUNT = FetchedAccount(
    provider_account_id="A-1",
    account_number_masked="****0001",
    name="Brokerage",
    account_type=AccountType.BROKERAGE,
    currency="USD",
    balance=Decimal("1.00"),
)


def row(day: date) -> FetchedTransaction:
    return FetchedTransaction(
        provider_transaction_id=f"r-{day.isoformat()}",
        transaction_type=TransactionType.FEE,
        subtype=TransactionSubtype.ACCOUNT_FEE,
        status=TransactionStatus.SETTLED,
        amount=Decimal("-1.00"),
        currency="USD",
        transaction_date=day,
        posted_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
    )


# one row every 20 days for a year: every 100-day window holds some
ROWS = [row(date(2026, 5, 25) - timedelta(days=20 * i)) for i in range(18)]


class Session:
    """Serves ROWS by ``posted_at``; fails the ``fail_at``-th request (1-based), if set."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.requests: list[tuple[datetime, datetime]] = []
        self.connection = ProviderConnection(
            provider="fake", alias="main", status=ConnectionStatus.ACTIVE
        )

    async def fetch_accounts(self) -> Result[Sequence[FetchedAccount], DomainError]:
        return Success(value=[ACCOUNT])

    async def fetch_transactions(
        self, account: FetchedAccount, start: datetime, end: datetime
    ) -> Result[Sequence[FetchedTransaction], DomainError]:
        self.requests.append((start, end))
        if len(self.requests) == self.fail_at:
            return Failure(error=DomainError(code=ErrorCode.PROVIDER_UNAVAILABLE, message="503"))
        return Success(value=[r for r in ROWS if r.posted_at and start <= r.posted_at < end])

    async def aclose(self) -> None:
        return None


async def test_each_window_commits_its_rows_with_the_cursor_past_it() -> None:
    uow = InMemoryUnitOfWorkFactory()
    history = TransactionHistorySync(
        uow_factory=uow, events=RecordingEventSink(), clock=FrozenClock(NOW)
    )
    account_id = uuid4()
    failing = Session(fail_at=3)

    result = await history.sync(
        CAPS, failing, failing.connection, ACCOUNT, account_id, SyncConnections()
    )

    assert isinstance(result, Failure)
    # two windows done: two commits, each with its rows and the cursor past them
    assert uow.store.commits == 2
    cursor = uow.state.sync_cursors[account_id]
    assert cursor.oldest_fetched_at == failing.requests[1][0]
    assert not cursor.backfill_complete
    stored = {t.provider_transaction_id for t in uow.state.transactions.values()}
    done_since = failing.requests[1][0]
    assert stored == {
        r.provider_transaction_id for r in ROWS if r.posted_at and r.posted_at >= done_since
    }

    # the next run continues below the cursor and ends with every row, each stored once
    resumed = Session()
    again = await history.sync(
        CAPS, resumed, resumed.connection, ACCOUNT, account_id, SyncConnections()
    )
    assert isinstance(again, Success)
    backward = [span for span in resumed.requests if span[1] <= done_since]
    assert backward[0][1] == done_since
    assert len(uow.state.transactions) == len(ROWS)
    assert uow.state.sync_cursors[account_id].backfill_complete
    assert again.value.inserted == len(ROWS) - len(stored)


async def test_one_unit_of_work_serves_the_whole_account() -> None:
    uow = InMemoryUnitOfWorkFactory()
    history = TransactionHistorySync(
        uow_factory=uow, events=RecordingEventSink(), clock=FrozenClock(NOW)
    )
    session = Session()
    result = await history.sync(
        CAPS, session, session.connection, ACCOUNT, uuid4(), SyncConnections()
    )
    assert isinstance(result, Success)
    assert result.value == UpsertCounts(inserted=len(ROWS))
    assert len(uow.created) == 1
    windows = len(session.requests)
    assert uow.store.commits == windows + 1  # one per window, and the completed cursor
