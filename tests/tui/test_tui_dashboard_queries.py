"""The dashboard's queries and handlers (application layer) over in-memory fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from dashtam_cli.application.dashboard import (
    AccountDashboard,
    AccountDashboardHandler,
    DashboardOverview,
    DashboardOverviewHandler,
    HoldingsAllocation,
    HoldingsAllocationHandler,
    TransactionBrowse,
    TransactionBrowseHandler,
    TransactionPageReader,
)
from dashtam_cli.application.queries import TransactionCriteria, TransactionFilter, TransactionRow
from dashtam_cli.domain.accounts import Account, AccountType
from dashtam_cli.domain.connections import ConnectionStatus, ProviderConnection, ProviderCredentials
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.domain.holdings import AssetType, BalanceSnapshot
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.transactions import TransactionSubtype, TransactionType
from tests.fakes import FrozenClock, InMemoryReaders, InMemoryStore, InMemoryUnitOfWorkFactory
from tests.integration.dbtest_support import (
    make_account,
    make_connection,
    make_holding,
    make_transaction,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def value[T](result: Result[T]) -> T:
    assert isinstance(result, Success), result
    return result.value


def error(result: Result[object]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


class PagedReaders(InMemoryReaders):
    """The in-memory readers plus keyset pages (what the SQL readers implement)."""

    async def page_transactions(
        self,
        criteria: TransactionCriteria,
        *,
        limit: int,
        older_than: tuple[date, UUID] | None = None,
    ) -> Sequence[TransactionRow]:
        rows = await self.list_transactions(criteria, limit=10_000)
        if older_than is not None:
            key = (older_than[0], older_than[1].hex)
            rows = [r for r in rows if (r.transaction_date, r.id.hex) < key]
        return rows[:limit]


_pages: TransactionPageReader = PagedReaders(InMemoryUnitOfWorkFactory().store)


@dataclass
class World:
    readers: PagedReaders
    clock: FrozenClock
    main: ProviderConnection
    brokerage: Account
    checking: Account
    visa: Account
    euro: Account


def uid(n: int) -> UUID:
    return UUID(int=n)


@pytest.fixture
async def world() -> World:
    factory = InMemoryUnitOfWorkFactory()
    main = make_connection(
        "main",
        credentials=ProviderCredentials(
            ciphertext=b"sealed", refresh_expires_at=NOW + timedelta(hours=5)
        ),
    )
    gone = make_connection("gone", status=ConnectionStatus.DISCONNECTED, credentials=None)
    brokerage = make_account(main.id, "brk", name="Brokerage", balance=Money.of("1000.00"))
    checking = make_account(
        main.id, "chk", name="Checking", account_type=AccountType.CHECKING,
        balance=Money.of("250.00"),
    )  # fmt: skip
    visa = make_account(
        main.id, "visa", name="Visa", account_type=AccountType.CREDIT_CARD,
        balance=Money.of("600.00"),
    )  # fmt: skip
    euro = make_account(
        main.id, "eur", name="Euro savings", account_type=AccountType.SAVINGS, currency="EUR",
        balance=Money.of("100.00", "EUR"),
    )  # fmt: skip
    old = make_account(main.id, "old", name="Old", balance=Money.of("5.00"), is_active=False)
    day = timedelta(days=1)
    snapshots = [
        BalanceSnapshot(account_id=brokerage.id, captured_at=NOW - day, balance=Money.of("900")),
        BalanceSnapshot(account_id=visa.id, captured_at=NOW - day, balance=Money.of("500.00")),
        BalanceSnapshot(account_id=brokerage.id, captured_at=NOW, balance=Money.of("1000.00")),
        BalanceSnapshot(account_id=visa.id, captured_at=NOW, balance=Money.of("600.00")),
        BalanceSnapshot(account_id=checking.id, captured_at=NOW, balance=Money.of("250.00")),
    ]
    holdings = [
        make_holding(
            brokerage.id, "AAPL", market_value=Money.of("600"), cost_basis=Money.of("500")
        ),
        make_holding(
            brokerage.id,
            "BND",
            asset_type=AssetType.FIXED_INCOME,
            market_value=Money.of("300"),
        ),
        make_holding(brokerage.id, "XYZ", market_value=None),
        make_holding(checking.id, "MSFT", market_value=Money.of("100")),
    ]
    rows = [
        make_transaction(
            brokerage.id if n % 2 else checking.id,
            f"T{n}",
            id=uid(1000 + n),
            transaction_date=date(2026, 1, 1) + timedelta(days=n // 3),
            transaction_type=TransactionType.INCOME if n % 5 == 0 else TransactionType.TRADE,
            subtype=TransactionSubtype.DIVIDEND if n % 5 == 0 else TransactionSubtype.BUY,
        )
        for n in range(47)
    ]
    async with factory() as uow:
        await uow.connections.save(main)
        await uow.connections.save(gone)
        await uow.accounts.upsert_many([brokerage, checking, visa, euro, old])
        for snapshot in snapshots:
            await uow.balances.add(snapshot)
        await uow.holdings.upsert_many(holdings)
        await uow.transactions.upsert_many(rows)
        await uow.commit()
    return World(
        readers=PagedReaders(factory.store),
        clock=FrozenClock(NOW),
        main=main,
        brokerage=brokerage,
        checking=checking,
        visa=visa,
        euro=euro,
    )


async def test_the_overview_groups_accounts_and_signs_liabilities(world: World) -> None:
    r = world.readers
    handler = DashboardOverviewHandler(connections=r, accounts=r, balances=r, clock=world.clock)
    report = value(await handler.handle(DashboardOverview()))
    assert [g.name for g in report.groups] == ["Investments", "Cash", "Credit and loans"]
    cash = report.groups[1]
    assert [line.summary.account.name for line in cash.accounts] == ["Checking", "Euro savings"]
    assert cash.totals == {"USD": Money.of("250.00"), "EUR": Money.of("100.00", "EUR")}
    [card] = report.groups[2].accounts
    assert card.value == Money.of("-600.00")
    # the debt grew from 500 to 600: net worth moved by -100
    assert card.change == Money.of("-100.00")
    assert card.previous_at == NOW - timedelta(days=1)
    [brokerage] = report.groups[0].accounts
    assert brokerage.change == Money.of("100.00")
    checking = cash.accounts[0]
    assert checking.change is None  # one snapshot: nothing to compare with
    # the inactive account is not listed and does not count
    assert report.net_worth == {"USD": Money.of("650.00"), "EUR": Money.of("100.00", "EUR")}
    assert report.history[-1].net_worth == Money.of("650.00")
    assert report.change == {"USD": Money.of("250.00")}  # 400 (900 - 500) to 650
    assert [c.alias for c in report.connections] == ["main"]  # not the disconnected one
    assert report.connections[0].expiring_soon
    assert report.as_of == NOW


async def test_an_account_panel_has_weights_and_recent_rows(world: World) -> None:
    r = world.readers
    handler = AccountDashboardHandler(
        connections=r, accounts=r, holdings=r, balances=r, transactions=r
    )
    panel = value(await handler.handle(AccountDashboard(ref=world.brokerage.id.hex, recent=5)))
    assert panel.line.summary.connection_alias == "main"
    assert panel.line.change == Money.of("100.00")
    weights = {row.holding.symbol: row.weight for row in panel.holdings}
    assert weights == {"AAPL": Decimal(600) / 900, "BND": Decimal(300) / 900, "XYZ": None}
    assert panel.holdings_summary.unrealized_gain == {"USD": Money.of("100")}
    assert len(panel.recent) == 5
    assert panel.more_transactions
    assert {row.account_name for row in panel.recent} == {"Brokerage"}
    dates = [row.transaction_date for row in panel.recent]
    assert dates == sorted(dates, reverse=True)

    assert error(await handler.handle(AccountDashboard(ref="ffffffff"))).code is ErrorCode.NOT_FOUND
    bad = await handler.handle(AccountDashboard(ref=world.brokerage.id.hex, recent=0))
    assert error(bad).code is ErrorCode.INVALID_ARGUMENT


async def test_pages_chain_without_gaps_or_repeats(world: World) -> None:
    r = world.readers
    handler = TransactionBrowseHandler(connections=r, accounts=r, pages=r)
    everything = await r.list_transactions(TransactionCriteria(), limit=1_000)
    seen: list[UUID] = []
    page = value(await handler.handle(TransactionBrowse(limit=10)))
    while True:
        seen.extend(row.id for row in page.rows)
        assert all(row.account_name for row in page.rows)
        if page.next is None:
            break
        page = value(await handler.handle(TransactionBrowse(after=page.next, limit=10)))
    assert seen == [row.id for row in everything]
    assert len(seen) == 47


async def test_pages_filter_like_the_cli_and_report_bad_filters(world: World) -> None:
    r = world.readers
    handler = TransactionBrowseHandler(connections=r, accounts=r, pages=r)
    dividends = TransactionFilter(transaction_type="dividend", account_ref=world.checking.id.hex)
    page = value(await handler.handle(TransactionBrowse(filters=dividends, limit=100)))
    assert page.rows
    assert page.next is None
    assert {(row.subtype, row.account_id) for row in page.rows} == {
        (TransactionSubtype.DIVIDEND, world.checking.id)
    }
    # an exact fit leaves no next page
    exact = value(await handler.handle(TransactionBrowse(filters=dividends, limit=len(page.rows))))
    assert exact.next is None
    for bad, code in [
        (TransactionBrowse(limit=0), ErrorCode.INVALID_ARGUMENT),
        (TransactionBrowse(limit=1_001), ErrorCode.INVALID_ARGUMENT),
        (
            TransactionBrowse(filters=TransactionFilter(transaction_type="nope")),
            ErrorCode.INVALID_ARGUMENT,
        ),
        (TransactionBrowse(filters=TransactionFilter(account_ref="9999")), ErrorCode.NOT_FOUND),
    ]:
        assert error(await handler.handle(bad)).code is code
    # an account of another connection: nothing matches (and the reader is not asked)
    empty = TransactionFilter(connection_ref="gone", account_ref=world.brokerage.id.hex)
    nothing = value(await handler.handle(TransactionBrowse(filters=empty)))
    assert (list(nothing.rows), nothing.next) == ([], None)


async def test_allocation_by_asset_type_and_account(world: World) -> None:
    r = world.readers
    handler = HoldingsAllocationHandler(accounts=r, holdings=r)
    report = value(await handler.handle(HoldingsAllocation()))
    assert report.totals == {"USD": Money.of("1000")}
    assert report.holdings == 4
    assert [(s.label, s.value, s.share) for s in report.by_asset_type] == [
        ("equity", Money.of("700"), Decimal("0.7")),
        ("fixed_income", Money.of("300"), Decimal("0.3")),
    ]
    assert [(s.label, s.share) for s in report.by_account] == [
        ("Brokerage", Decimal("0.9")),
        ("Checking", Decimal("0.1")),
    ]
    one = value(await handler.handle(HoldingsAllocation(account_ref=world.checking.id.hex)))
    assert [(s.label, s.share) for s in one.by_account] == [("Checking", Decimal(1))]
    missing = await handler.handle(HoldingsAllocation(account_ref="ffffffff"))
    assert error(missing).code is ErrorCode.NOT_FOUND


async def test_the_groups_cover_every_account_type() -> None:
    from dashtam_cli.application.dashboard_views import ACCOUNT_GROUPS

    grouped = [t for _, types in ACCOUNT_GROUPS for t in types]
    assert sorted(grouped) == sorted(AccountType)
    assert len(grouped) == len(set(grouped))
    liabilities = dict(ACCOUNT_GROUPS)["Credit and loans"]
    assert {t for t in AccountType if t.is_liability} == set(liabilities)


class CountingReaders(PagedReaders):
    """Records the criteria of every page asked for."""

    def __init__(self, store: InMemoryStore) -> None:
        super().__init__(store)
        self.asked: list[TransactionCriteria] = []

    async def page_transactions(
        self,
        criteria: TransactionCriteria,
        *,
        limit: int,
        older_than: tuple[date, UUID] | None = None,
    ) -> Sequence[TransactionRow]:
        self.asked.append(criteria)
        return await super().page_transactions(criteria, limit=limit, older_than=older_than)


@pytest.fixture
async def long_history() -> CountingReaders:
    """400 days, one row a day: "Coffee" every other day, "Rare" once, long ago."""
    factory = InMemoryUnitOfWorkFactory()
    connection = make_connection("main")
    account = make_account(connection.id, "brk", name="Brokerage")
    first = date(2025, 1, 1)
    rows = [
        make_transaction(
            account.id,
            f"T{n}",
            id=uid(5000 + n),
            transaction_date=first + timedelta(days=n),
            description="Rare find" if n == 5 else "Coffee" if n % 2 else "Groceries",
        )
        for n in range(400)
    ]
    async with factory() as uow:
        await uow.connections.save(connection)
        await uow.accounts.upsert_many([account])
        await uow.transactions.upsert_many(rows)
        await uow.commit()
    return CountingReaders(factory.store)


async def test_a_frequent_search_is_answered_from_the_newest_months(
    long_history: CountingReaders,
) -> None:
    r = long_history
    handler = TransactionBrowseHandler(connections=r, accounts=r, pages=r)
    coffee = TransactionFilter(search="coffee")
    everything = await r.list_transactions(TransactionCriteria(search="coffee"), limit=1_000)
    page = value(await handler.handle(TransactionBrowse(filters=coffee, limit=20)))
    assert [row.id for row in page.rows] == [row.id for row in everything[:20]]
    # the newest row without the search (one row), then the 92-day window: never the whole table
    assert [c.search for c in r.asked] == [None, "coffee"]
    assert r.asked[1].since == date(2026, 2, 4) - timedelta(days=92)
    # paging on to the end gives every match once, in order
    seen = [row.id for row in page.rows]
    while page.next is not None:
        page = value(await handler.handle(TransactionBrowse(filters=coffee, after=page.next)))
        seen.extend(row.id for row in page.rows)
    assert seen == [row.id for row in everything]


async def test_a_rare_search_falls_back_to_the_whole_history(
    long_history: CountingReaders,
) -> None:
    r = long_history
    handler = TransactionBrowseHandler(connections=r, accounts=r, pages=r)
    page = value(await handler.handle(TransactionBrowse(filters=TransactionFilter(search="rare"))))
    assert [row.description for row in page.rows] == ["Rare find"]
    assert page.next is None
    assert r.asked[-1] == TransactionCriteria(search="rare")  # unbounded: the whole table
    # a search already bounded to recent dates is not narrowed further
    r.asked.clear()
    recent = TransactionFilter(search="coffee", since=date(2026, 1, 1))
    value(await handler.handle(TransactionBrowse(filters=recent, limit=5)))
    assert [c.since for c in r.asked if c.search] == [date(2026, 1, 1)]
