"""The read-side handlers (and rename / disconnect) over in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from dashtam_cli.application.commands import DisconnectConnection, RenameConnection
from dashtam_cli.application.handlers.accounts import (
    AccountDetailHandler,
    AccountListHandler,
    BalanceHistoryHandler,
    net_worth_history,
)
from dashtam_cli.application.handlers.connections import (
    DisconnectConnectionHandler,
    ProviderDetailHandler,
    ProviderListHandler,
    RenameConnectionHandler,
)
from dashtam_cli.application.handlers.holdings import HoldingListHandler, holding_weights
from dashtam_cli.application.handlers.transactions import (
    TransactionDetailHandler,
    TransactionListHandler,
    parse_transaction_kind,
)
from dashtam_cli.application.queries import (
    AccountDetail,
    AccountList,
    BalanceHistory,
    HoldingList,
    ProviderDetail,
    ProviderList,
    TransactionDetail,
    TransactionFilter,
    TransactionList,
)
from dashtam_cli.domain.accounts import Account, AccountType
from dashtam_cli.domain.connections import (
    ConnectionStatus,
    ProviderConnection,
    ProviderCredentials,
)
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.domain.events import (
    ProviderDisconnectionAttempted,
    ProviderDisconnectionFailed,
    ProviderDisconnectionSucceeded,
)
from dashtam_cli.domain.holdings import BalanceSnapshot
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.transactions import TransactionSubtype, TransactionType
from tests.fakes import (
    FrozenClock,
    InMemoryReaders,
    InMemoryUnitOfWorkFactory,
    RecordingEventSink,
)
from tests.integration.dbtest_support import (
    make_account,
    make_connection,
    make_holding,
    make_transaction,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def value[T](result: Result[T]) -> T:
    assert isinstance(result, Success), result
    return result.value


def error(result: Result[object]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


def uid(prefix: str, n: int) -> UUID:
    """A UUID starting with ``prefix`` (hex), for deterministic prefix tests."""
    return UUID((prefix + f"{n:x}").ljust(32, "0"))


@dataclass
class World:
    factory: InMemoryUnitOfWorkFactory
    readers: InMemoryReaders
    clock: FrozenClock
    events: RecordingEventSink
    main: ProviderConnection
    cards: ProviderConnection
    brokerage: Account
    checking: Account
    visa: Account
    euro: Account
    old: Account


@pytest.fixture
async def world() -> World:
    factory = InMemoryUnitOfWorkFactory()
    clock = FrozenClock(NOW)
    main = make_connection(
        "main",
        id=uid("c0ffee", 1),
        created_at=NOW - timedelta(days=30),
        credentials=ProviderCredentials(
            ciphertext=b"sealed", refresh_expires_at=NOW + timedelta(hours=5)
        ),
    )
    cards = make_connection("cards", provider="demo", id=uid("c0ffee", 2))
    brokerage = make_account(main.id, "brk", id=uid("abcd1", 1), name="Brokerage")
    checking = make_account(
        main.id,
        "chk",
        id=uid("abcd2", 2),
        name="Checking",
        account_type=AccountType.CHECKING,
        balance=Money.of("0.20"),
    )
    brokerage = replace(brokerage, balance=Money.of("1000.10"))
    visa = make_account(
        cards.id,
        "visa",
        id=uid("5150", 3),
        name="Visa",
        account_type=AccountType.CREDIT_CARD,
        balance=Money.of("500.00"),
    )
    euro = make_account(
        cards.id,
        "eur",
        id=uid("e0e0", 4),
        name="Euro savings",
        account_type=AccountType.SAVINGS,
        currency="EUR",
        balance=Money.of("100.00", "EUR"),
    )
    old = make_account(
        main.id,
        "old",
        id=uid("0dd0", 5),
        name="Old brokerage",
        balance=Money.of("999.00"),
        is_active=False,
        updated_at=datetime(2025, 1, 20, tzinfo=UTC),
    )
    async with factory() as uow:
        await uow.connections.save(main)
        await uow.connections.save(cards)
        await uow.accounts.upsert_many([brokerage, checking, visa, euro, old])
        await uow.commit()
    return World(
        factory=factory,
        readers=InMemoryReaders(factory.store),
        clock=clock,
        events=RecordingEventSink(),
        main=main,
        cards=cards,
        brokerage=brokerage,
        checking=checking,
        visa=visa,
        euro=euro,
        old=old,
    )


# ------------------------------------------------------------------------------ accounts


async def test_accounts_list_active_by_default_with_exact_totals_and_net_worth(
    world: World,
) -> None:
    handler = AccountListHandler(connections=world.readers, accounts=world.readers)
    overview = value(await handler.handle(AccountList()))
    assert [s.account.name for s in overview.accounts] == [
        "Brokerage",
        "Checking",
        "Euro savings",
        "Visa",
    ]
    assert overview.totals == {"EUR": Money.of("100.00", "EUR"), "USD": Money.of("1500.30")}
    # the credit card's 500.00 owed subtracts; EUR is never added to USD
    assert overview.net_worth == {"EUR": Money.of("100.00", "EUR"), "USD": Money.of("500.30")}
    assert overview.accounts[0].connection_alias == "main"

    everything = value(await handler.handle(AccountList(include_inactive=True)))
    assert "Old brokerage" in [s.account.name for s in everything.accounts]
    assert everything.net_worth["USD"] == Money.of("1499.30")


async def test_a_liability_reported_as_a_negative_balance_still_subtracts(world: World) -> None:
    async with world.factory() as uow:
        await uow.accounts.upsert_many([replace(world.visa, balance=Money.of("-500.00"))])
        await uow.commit()
    handler = AccountListHandler(connections=world.readers, accounts=world.readers)
    overview = value(await handler.handle(AccountList()))
    assert overview.net_worth["USD"] == Money.of("500.30")
    # the debt whatever its sign: assets - liabilities is the net worth
    assert overview.liabilities["USD"] == Money.of("500.00")
    assert overview.assets["USD"] == Money.of("1000.30")


async def test_accounts_list_splits_assets_and_liabilities_of_mixed_signs(world: World) -> None:
    loan = replace(
        world.visa,
        id=uuid4(),
        provider_account_id="loan",
        name="Car loan",
        account_type=AccountType.LOAN,
        balance=Money.of("-5000.00"),
    )
    async with world.factory() as uow:
        await uow.accounts.upsert_many([loan])
        await uow.commit()
    handler = AccountListHandler(connections=world.readers, accounts=world.readers)
    overview = value(await handler.handle(AccountList()))
    usd = "USD"
    assert overview.liabilities[usd] == Money.of("5500.00")  # 500 on the card + 5,000 loan
    assert overview.assets[usd].amount - overview.liabilities[usd].amount == (
        overview.net_worth[usd].amount
    )


async def test_accounts_list_by_connection_alias_or_prefix(world: World) -> None:
    handler = AccountListHandler(connections=world.readers, accounts=world.readers)
    by_alias = value(await handler.handle(AccountList(connection_ref="cards")))
    assert {s.account.name for s in by_alias.accounts} == {"Visa", "Euro savings"}
    by_id = value(await handler.handle(AccountList(connection_ref=str(world.main.id))))
    assert {s.account.name for s in by_id.accounts} == {"Brokerage", "Checking"}
    # both connection ids start with c0ffee
    ambiguous = error(await handler.handle(AccountList(connection_ref="c0ffee")))
    assert ambiguous.code is ErrorCode.AMBIGUOUS_ID
    missing = error(await handler.handle(AccountList(connection_ref="nope")))
    assert missing.code is ErrorCode.NOT_FOUND
    # a short name that looks like hex may be an alias: not "too short" where aliases exist
    unknown = error(await handler.handle(AccountList(connection_ref="abc")))
    assert (unknown.code, unknown.message) == (ErrorCode.NOT_FOUND, "no connection is called 'abc'")
    assert unknown.hint is not None
    assert "alias" in unknown.hint


async def test_account_detail_summarises_active_holdings_and_the_latest_snapshot(
    world: World,
) -> None:
    b = world.brokerage
    async with world.factory() as uow:
        await uow.holdings.upsert_many(
            [
                make_holding(
                    b.id, "AAPL", market_value=Money.of("0.1"), cost_basis=Money.of("0.05")
                ),
                make_holding(b.id, "MSFT", market_value=Money.of("0.2"), cost_basis=None),
                make_holding(b.id, "GONE", market_value=Money.of("99"), is_active=False),
            ]
        )
        for day, amount in [(1, "900"), (3, "1000.10"), (2, "950")]:
            await uow.balances.add(
                BalanceSnapshot(
                    account_id=b.id,
                    captured_at=datetime(2025, 2, day, tzinfo=UTC),
                    balance=Money.of(amount),
                )
            )
        await uow.commit()
    handler = AccountDetailHandler(
        connections=world.readers,
        accounts=world.readers,
        holdings=world.readers,
        balances=world.readers,
    )
    view = value(await handler.handle(AccountDetail(ref="abcd1")))
    assert view.summary.account.id == b.id
    assert view.summary.provider == "schwab"
    assert view.holdings.count == 2
    assert view.holdings.market_value == {"USD": Money.of("0.3")}  # exact: not 0.30000000000000004
    assert view.holdings.cost_basis == {"USD": Money.of("0.05")}
    assert view.holdings.unrealized_gain == {"USD": Money.of("0.05")}
    assert view.latest_snapshot is not None
    assert view.latest_snapshot.balance == Money.of("1000.10")

    assert error(await handler.handle(AccountDetail(ref="abcd"))).code is ErrorCode.AMBIGUOUS_ID
    assert error(await handler.handle(AccountDetail(ref="ffff"))).code is ErrorCode.NOT_FOUND


# --------------------------------------------------------------------------- connections


async def test_providers_list_counts_accounts_and_warns_before_the_login_expires(
    world: World,
) -> None:
    handler = ProviderListHandler(
        connections=world.readers, accounts=world.readers, clock=world.clock
    )
    main, cards = value(await handler.handle(ProviderList()))
    assert (main.alias, main.accounts_count, main.active_accounts_count) == ("main", 3, 2)
    assert main.refresh_time_left == timedelta(hours=5)
    assert main.expiring_soon
    assert main.action is not None
    assert "dashtam providers connect schwab --alias main" in main.action
    assert (cards.alias, cards.accounts_count) == ("cards", 2)


async def test_providers_show_resolves_aliases_and_prefixes(world: World) -> None:
    handler = ProviderDetailHandler(
        connections=world.readers, accounts=world.readers, clock=world.clock
    )
    view = value(await handler.handle(ProviderDetail(ref="cards")))
    assert view.summary.id == world.cards.id
    assert [a.name for a in view.accounts] == ["Euro savings", "Visa"]
    by_prefix = value(await handler.handle(ProviderDetail(ref=str(world.main.id)[:8])))
    assert by_prefix.summary.alias == "main"
    # inactive accounts come last
    assert [a.is_active for a in by_prefix.accounts] == [True, True, False]


async def test_rename_gives_a_new_unique_alias(world: World) -> None:
    handler = RenameConnectionHandler(uow_factory=world.factory, clock=world.clock)
    done = value(await handler.handle(RenameConnection(connection_ref="main", alias=" schwab-1 ")))
    assert (done.old_alias, done.new_alias, done.changed) == ("main", "schwab-1", True)
    stored = world.factory.state.connections[world.main.id]
    assert stored.alias == "schwab-1"
    assert stored.updated_at == NOW
    assert stored.credentials == world.main.credentials

    again = value(
        await handler.handle(RenameConnection(connection_ref="schwab-1", alias="schwab-1"))
    )
    assert again.changed is False


async def test_rename_to_a_taken_or_unusable_alias_changes_nothing(world: World) -> None:
    handler = RenameConnectionHandler(uow_factory=world.factory, clock=world.clock)
    commits = world.factory.store.commits
    taken = error(await handler.handle(RenameConnection(connection_ref="main", alias="cards")))
    assert taken.code is ErrorCode.INVALID_ARGUMENT
    assert "already used" in taken.message
    for bad in ["", "   ", "two words", "tab\there", "x" * 129]:
        failure = error(await handler.handle(RenameConnection(connection_ref="main", alias=bad)))
        assert failure.code is ErrorCode.INVALID_ARGUMENT, bad
    missing = error(await handler.handle(RenameConnection(connection_ref="zzz", alias="new")))
    assert missing.code is ErrorCode.NOT_FOUND
    assert world.factory.store.commits == commits
    assert world.factory.state.connections[world.main.id].alias == "main"


async def test_disconnect_wipes_credentials_keeps_history_and_emits_three_state_events(
    world: World,
) -> None:
    async with world.factory() as uow:
        await uow.transactions.upsert_many([make_transaction(world.brokerage.id)])
        await uow.commit()
    handler = DisconnectConnectionHandler(
        uow_factory=world.factory, events=world.events, clock=world.clock
    )
    done = value(await handler.handle(DisconnectConnection(connection_ref="main")))
    assert (done.alias, done.accounts_kept) == ("main", 3)
    stored = world.factory.state.connections[world.main.id]
    assert stored.status is ConnectionStatus.DISCONNECTED
    assert stored.credentials is None
    assert len(world.factory.state.accounts) == 5
    assert len(world.factory.state.transactions) == 1
    # kept, but inactive: they no longer count in net worth or holdings
    inactive = [a for a in world.factory.state.accounts.values() if not a.is_active]
    assert {a.connection_id for a in inactive} == {world.main.id}
    assert len(inactive) == 3
    assert world.events.names == [
        "ProviderDisconnectionAttempted",
        "ProviderDisconnectionSucceeded",
    ]
    assert {e.connection_id for e in world.events.events} == {world.main.id}
    succeeded = world.events.of_type(ProviderDisconnectionSucceeded)[0]
    assert succeeded.context["accounts_kept"] == 3

    world.events.clear()
    twice = error(await handler.handle(DisconnectConnection(connection_ref="main")))
    assert twice.code is ErrorCode.INVALID_TRANSITION
    assert world.events.events == []


async def test_disconnect_of_an_unknown_connection_attempts_nothing(world: World) -> None:
    handler = DisconnectConnectionHandler(
        uow_factory=world.factory, events=world.events, clock=world.clock
    )
    failure = error(await handler.handle(DisconnectConnection(connection_ref="nope")))
    assert failure.code is ErrorCode.NOT_FOUND
    assert world.events.events == []


async def test_disconnect_that_cannot_commit_records_a_failure(world: World) -> None:
    class BoomError(Exception):
        def __init__(self) -> None:
            super().__init__("disk full")
            self.error = DomainError(code=ErrorCode.DATABASE_ERROR, message="disk full")

    handler = DisconnectConnectionHandler(
        uow_factory=world.factory, events=world.events, clock=world.clock
    )
    world.factory.fail_commit = BoomError()
    with pytest.raises(BoomError):
        await handler.handle(DisconnectConnection(connection_ref="main"))
    assert isinstance(world.events.events[0], ProviderDisconnectionAttempted)
    failed = world.events.of_type(ProviderDisconnectionFailed)
    assert [f.error_code for f in failed] == [ErrorCode.DATABASE_ERROR]
    assert world.factory.state.connections[world.main.id].credentials is not None


# -------------------------------------------------------------------------- transactions


@pytest.fixture
async def history(world: World) -> World:
    b, c, v = world.brokerage.id, world.checking.id, world.visa.id
    tt, st = TransactionType, TransactionSubtype
    rows = [
        make_transaction(
            c,
            "div1",
            id=uid("d1", 1),
            transaction_type=tt.INCOME,
            subtype=st.DIVIDEND,
            amount=Money.of("0.1"),
            transaction_date=date(2025, 1, 5),
            description="Dividend VTI",
            symbol="VTI",
        ),
        make_transaction(
            c,
            "div2",
            id=uid("d2", 2),
            transaction_type=tt.INCOME,
            subtype=st.DIVIDEND,
            amount=Money.of("0.2"),
            transaction_date=date(2025, 2, 5),
            description="Dividend VTI",
            symbol="vti",
        ),
        make_transaction(
            b, "buy", id=uid("beef1", 3), transaction_date=date(2025, 1, 10), description="Buy AAPL"
        ),
        make_transaction(
            b,
            "sell",
            id=uid("beef2", 4),
            subtype=st.SELL,
            amount=Money.of("320.00"),
            transaction_date=date(2025, 3, 1),
            description="Sell MSFT",
            symbol="MSFT",
            security_name="Microsoft Corp",
        ),
        make_transaction(
            b,
            "dep",
            id=uid("de90", 5),
            transaction_type=tt.TRANSFER,
            subtype=st.DEPOSIT,
            amount=Money.of("5000.00"),
            transaction_date=date(2024, 12, 20),
            description="ACH deposit PAYROLL",
            symbol=None,
        ),
        make_transaction(
            v,
            "coffee",
            id=uid("cafe", 6),
            transaction_type=tt.TRANSFER,
            subtype=st.WITHDRAWAL,
            amount=Money.of("-4.20"),
            transaction_date=date(2025, 2, 20),
            description="Coffee shop",
            symbol=None,
        ),
    ]
    async with world.factory() as uow:
        await uow.transactions.upsert_many(rows)
        await uow.commit()
    return world


def list_handler(world: World) -> TransactionListHandler:
    return TransactionListHandler(
        connections=world.readers, accounts=world.readers, transactions=world.readers
    )


async def listed(world: World, limit: int = 50, **filters: object) -> list[str]:
    page = value(
        await list_handler(world).handle(
            TransactionList(filters=TransactionFilter(**filters), limit=limit)  # type: ignore[arg-type]
        )
    )
    return [r.description for r in page.transactions]


async def test_transactions_newest_first_with_filters(history: World) -> None:
    w = history
    assert await listed(w) == [
        "Sell MSFT",
        "Coffee shop",
        "Dividend VTI",
        "Buy AAPL",
        "Dividend VTI",
        "ACH deposit PAYROLL",
    ]
    assert await listed(w, since=date(2025, 2, 5), until=date(2025, 2, 20)) == [
        "Coffee shop",
        "Dividend VTI",
    ]
    assert await listed(w, transaction_type="income") == ["Dividend VTI", "Dividend VTI"]
    assert await listed(w, transaction_type=" Deposit ") == ["ACH deposit PAYROLL"]
    assert await listed(w, symbol="VTI") == ["Dividend VTI", "Dividend VTI"]  # any case
    assert await listed(w, search="microsoft") == ["Sell MSFT"]  # security name
    assert await listed(w, search="payroll") == ["ACH deposit PAYROLL"]
    assert await listed(w, account_ref="abcd1") == await listed(w, account_ref=str(w.brokerage.id))
    assert await listed(w, connection_ref="cards") == ["Coffee shop"]
    assert await listed(w, connection_ref="cards", account_ref="abcd1") == []
    assert await listed(w, limit=2) == ["Sell MSFT", "Coffee shop"]


async def test_transactions_page_totals_are_exact_and_say_when_there_is_more(
    history: World,
) -> None:
    handler = list_handler(history)
    query = TransactionList(filters=TransactionFilter(transaction_type="dividend"), limit=1)
    page = value(await handler.handle(query))
    assert page.has_more
    assert history.readers.transaction_limits[-1] == 2  # one more than shown
    both = value(await handler.handle(replace(query, limit=50)))
    assert not both.has_more
    assert both.totals == {"USD": Money.of("0.3")}
    assert str(both.totals["USD"].amount) == "0.3"
    assert {r.account_name for r in both.transactions} == {"Checking"}


async def test_bad_transaction_filters_are_usage_errors(history: World) -> None:
    handler = list_handler(history)
    bad_type = error(
        await handler.handle(TransactionList(filters=TransactionFilter(transaction_type="buys")))
    )
    assert bad_type.code is ErrorCode.INVALID_ARGUMENT
    assert bad_type.hint is not None
    for valid in ["trade", "income", "dividend", "buy_to_cover", "other_fee"]:
        assert valid in bad_type.hint
    backwards = TransactionFilter(since=date(2025, 2, 1), until=date(2025, 1, 1))
    assert (
        error(await handler.handle(TransactionList(filters=backwards))).code
        is ErrorCode.INVALID_ARGUMENT
    )
    assert error(await handler.handle(TransactionList(limit=0))).code is ErrorCode.INVALID_ARGUMENT
    unknown = TransactionFilter(account_ref="ffff")
    assert error(await handler.handle(TransactionList(filters=unknown))).code is ErrorCode.NOT_FOUND


def test_type_or_subtype_parsing() -> None:
    assert value(parse_transaction_kind("TRADE")) == (TransactionType.TRADE, None)
    assert value(parse_transaction_kind("dividend")) == (None, TransactionSubtype.DIVIDEND)
    assert error(parse_transaction_kind("")).code is ErrorCode.INVALID_ARGUMENT


async def test_transaction_detail_by_prefix(history: World) -> None:
    handler = TransactionDetailHandler(
        connections=history.readers, accounts=history.readers, transactions=history.readers
    )
    view = value(await handler.handle(TransactionDetail(ref="beef2")))
    assert view.transaction.description == "Sell MSFT"
    assert (view.account_name, view.connection_alias) == ("Brokerage", "main")
    assert view.transaction.raw is None
    full = value(await handler.handle(TransactionDetail(ref=str(uid("cafe", 6)).upper())))
    assert full.transaction.description == "Coffee shop"
    assert error(await handler.handle(TransactionDetail(ref="beef"))).code is ErrorCode.AMBIGUOUS_ID
    assert error(await handler.handle(TransactionDetail(ref="0000"))).code is ErrorCode.NOT_FOUND
    assert error(await handler.handle(TransactionDetail(ref="xyz!"))).code is ErrorCode.NOT_FOUND
    short = error(await handler.handle(TransactionDetail(ref="be")))
    assert short.code is ErrorCode.INVALID_ARGUMENT  # says how many characters it takes
    assert "at least 4 characters" in short.message
    missing = error(await handler.handle(TransactionDetail(ref="Coffee")))
    assert missing.code is ErrorCode.NOT_FOUND
    assert missing.hint is not None
    assert "alias" not in missing.hint  # transactions have none


# ------------------------------------------------------------------------------ holdings


async def test_holdings_weights_and_totals(world: World) -> None:
    b, c = world.brokerage.id, world.checking.id
    async with world.factory() as uow:
        await uow.holdings.upsert_many(
            [
                make_holding(b, "AAPL", market_value=Money.of("300"), cost_basis=Money.of("200")),
                make_holding(b, "MSFT", market_value=Money.of("100"), cost_basis=Money.of("150")),
                make_holding(b, "GONE", market_value=Money.of("500"), is_active=False),
                make_holding(c, "CASH", market_value=Money.of("0.20"), cost_basis=None),
            ]
        )
        await uow.commit()
    handler = HoldingListHandler(accounts=world.readers, holdings=world.readers)
    overview = value(await handler.handle(HoldingList()))
    weights = {r.holding.symbol: r.weight for r in overview.holdings}
    assert weights == {"AAPL": Decimal("0.75"), "MSFT": Decimal("0.25"), "CASH": Decimal(1)}
    assert [r.account_name for r in overview.holdings] == ["Brokerage", "Brokerage", "Checking"]
    assert overview.summary.market_value == {"USD": Money.of("400.20")}
    assert overview.summary.unrealized_gain == {"USD": Money.of("50")}
    only = value(await handler.handle(HoldingList(account_ref="abcd2")))
    assert [r.holding.symbol for r in only.holdings] == ["CASH"]


def test_weights_of_shorts_and_unknown_values() -> None:
    account = uid("aa", 1)
    long = make_holding(account, "L", market_value=Money.of("150"))
    short = make_holding(account, "S", quantity=Decimal(-1), market_value=Money.of("-50"))
    unknown = make_holding(account, "U", market_value=None)
    weights = holding_weights([long, short, unknown])
    assert weights == {long.id: Decimal("1.5"), short.id: Decimal("-0.5"), unknown.id: None}
    flat = make_holding(account, "F", market_value=Money.of("0"))
    assert holding_weights([flat]) == {flat.id: None}


# -------------------------------------------------------------------------- net worth


def snap(account: Account, at: datetime, amount: str) -> BalanceSnapshot:
    return BalanceSnapshot(
        account_id=account.id, captured_at=at, balance=Money.of(amount, account.currency)
    )


def test_net_worth_carries_each_account_forward_and_subtracts_liabilities(world: World) -> None:
    d1 = datetime(2025, 1, 1, tzinfo=UTC)
    d2 = d1 + timedelta(days=1)
    accounts = {a.id: a for a in [world.brokerage, world.visa, world.euro]}
    snapshots = [
        snap(world.brokerage, d1, "0.1"),
        snap(world.visa, d1 + timedelta(seconds=1), "0.05"),
        snap(world.euro, d1, "10"),
        snap(world.brokerage, d2, "0.3"),
    ]
    points = net_worth_history(snapshots, accounts)
    usd = [
        (p.captured_at, p.net_worth, p.liabilities, p.accounts)
        for p in points
        if p.currency == "USD"
    ]
    assert usd == [
        (d1, Money.of("0.1"), Money.of("0"), 1),
        (d1 + timedelta(seconds=1), Money.of("0.05"), Money.of("0.05"), 2),
        (d2, Money.of("0.25"), Money.of("0.05"), 2),
    ]
    assert [(p.captured_at, p.net_worth) for p in points if p.currency == "EUR"] == [
        (d1, Money.of("10", "EUR"))
    ]
    later = net_worth_history(snapshots, accounts, since=d2)
    assert [(p.currency, p.net_worth) for p in later] == [("USD", Money.of("0.25"))]


def test_an_account_stops_counting_once_it_was_deactivated(world: World) -> None:
    old = world.old  # inactive since 2025-01-20
    accounts = {a.id: a for a in [world.brokerage, old]}
    points = net_worth_history(
        [
            snap(old, datetime(2025, 1, 10, tzinfo=UTC), "999"),
            snap(world.brokerage, datetime(2025, 1, 10, 0, 0, 1, tzinfo=UTC), "1"),
            snap(world.brokerage, datetime(2025, 1, 25, tzinfo=UTC), "2"),
        ],
        accounts,
    )
    assert [p.net_worth.amount for p in points] == [Decimal(999), Decimal(1000), Decimal(2)]


async def test_balance_history_handler_scopes_to_an_account_and_a_start_date(
    world: World,
) -> None:
    async with world.factory() as uow:
        for snapshot in [
            snap(world.brokerage, datetime(2025, 1, 1, tzinfo=UTC), "900"),
            snap(world.visa, datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC), "400"),
            snap(world.brokerage, datetime(2025, 2, 1, tzinfo=UTC), "1000.10"),
        ]:
            await uow.balances.add(snapshot)
        await uow.commit()
    handler = BalanceHistoryHandler(accounts=world.readers, balances=world.readers)
    since = value(await handler.handle(BalanceHistory(since=date(2025, 1, 15))))
    # the state at the start date is carried in: 1000.10 - 400 owed
    assert [(p.net_worth, p.accounts) for p in since.points] == [(Money.of("600.10"), 2)]
    one = value(await handler.handle(BalanceHistory(account_ref="abcd1")))
    assert [p.net_worth.amount for p in one.points] == [Decimal("900"), Decimal("1000.10")]
    assert one.currencies == ["USD"]


def test_an_ended_login_shows_no_time_left_and_the_command_to_renew_it() -> None:
    from dashtam_cli.application.handlers.health import connection_health

    clock = FrozenClock(datetime(2026, 1, 10, tzinfo=UTC))
    ends = datetime(2026, 1, 12, tzinfo=UTC)
    active = make_connection("main")
    assert active.credentials is not None
    live = replace(active, credentials=replace(active.credentials, refresh_expires_at=ends))
    # the provider refused it two days early: no "1d 23h left"
    refused = live.expire(now=clock.now())
    assert isinstance(refused, Success)
    health = connection_health(refused.value, clock)
    assert health.refresh_time_left == timedelta(0)
    assert health.action == "dashtam providers connect schwab --alias main"
    # past its end by our clock, still active until the provider says so
    clock.advance(timedelta(days=3))
    past = connection_health(live, clock)
    assert past.refresh_time_left == timedelta(0)
    assert past.action == "the login has expired: run dashtam providers connect schwab --alias main"
