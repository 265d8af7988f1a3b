"""The dashboard's read side (``dashtam tui``): its queries and their handlers.

Each screen asks for its data with one query, answered by the same readers as the CLI's lists:

* :class:`DashboardOverview`: net worth per currency and its history, accounts grouped by kind
  with the change since their previous balance snapshot, and the health of every connection.
* :class:`AccountDashboard`: one account with its holdings (weights included) and recent rows.
* :class:`TransactionBrowse`: one page of a filtered transaction list, newest first. Pages are
  keyset-paginated (the ``(date, id)`` of the last row shown), so the millionth row costs what
  the first does and nothing ever loads the whole table.
* :class:`HoldingsAllocation`: market value by asset type and by account.

The composition root imports this module to register the queries, so it defines little at import
time: the results live in :mod:`dashtam_cli.application.dashboard_views` and, like the handler
helpers, are imported when a handler runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from dashtam_cli.application.queries import (
    AccountSummary,
    HoldingRow,
    TransactionCriteria,
    TransactionFilter,
)
from dashtam_cli.domain.errors import ErrorCode, Failure, Result, fail, ok

if TYPE_CHECKING:
    from dashtam_cli.application.dashboard_views import (
        AccountGroup,
        AccountLine,
        AccountPanel,
        AllocationReport,
        AllocationSlice,
        OverviewReport,
        TransactionSlice,
    )
    from dashtam_cli.application.ports import ConnectionReader
    from dashtam_cli.application.queries import (
        AccountReader,
        BalanceReader,
        HoldingReader,
        NetWorthPoint,
        TransactionReader,
        TransactionRow,
    )
    from dashtam_cli.domain.accounts import Account
    from dashtam_cli.domain.connections import ProviderConnection
    from dashtam_cli.domain.holdings import BalanceSnapshot, Holding
    from dashtam_cli.domain.money import Money
    from dashtam_cli.domain.protocols import Clock

#: The most rows one page may hold.
MAX_PAGE = 1_000
#: A text search first looks this far back from the newest candidate row (see ``_page``).
SEARCH_WINDOW = timedelta(days=92)

# ================================================================================ queries


@dataclass(frozen=True, kw_only=True, slots=True)
class DashboardOverview:
    """The overview: net worth and its history, accounts by group, connection health."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountDashboard:
    """One account (REF: id prefix) with its holdings and its ``recent`` newest transactions."""

    ref: str
    recent: int = 20


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionKey:
    """Where a page ended: the date and id of its last (oldest) row."""

    transaction_date: date
    id: UUID


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionBrowse:
    """A page of transactions matching ``filters``, newest first, after the row ``after``."""

    filters: TransactionFilter = field(default_factory=TransactionFilter)
    after: TransactionKey | None = None
    limit: int = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldingsAllocation:
    """Market value of the active holdings (of one account or all) by asset type and account."""

    account_ref: str | None = None


# ================================================================================ ports


class TransactionPageReader(Protocol):
    """Reads transactions a page at a time (keyset pagination, newest first)."""

    async def page_transactions(
        self,
        criteria: TransactionCriteria,
        *,
        limit: int,
        older_than: tuple[date, UUID] | None = None,
    ) -> Sequence[TransactionRow]:
        """The newest matching rows whose ``(transaction_date, id)`` is below ``older_than``.

        Args:
            criteria: what to match.
            limit: at most this many rows (date, then id, both descending).
            older_than: the key of the last row of the previous page (None: the first page).
        """
        ...


# ================================================================================ handlers


def _lines(
    accounts: Sequence[Account],
    connections: Sequence[ProviderConnection],
    snapshots: Sequence[BalanceSnapshot],
) -> list[AccountLine]:
    """Each account (by name) with its value and its change since its previous snapshot.

    Args:
        accounts: the accounts to list.
        connections: every connection (for the aliases).
        snapshots: their balance snapshots, oldest first.
    """
    from dashtam_cli.application.dashboard_views import AccountLine

    latest_two: dict[UUID, list[BalanceSnapshot]] = defaultdict(list)
    for snapshot in snapshots:
        kept = latest_two[snapshot.account_id]
        kept.append(snapshot)
        del kept[:-2]
    by_id = {c.id: c for c in connections}
    lines = []
    for account in sorted(accounts, key=lambda a: (a.name.lower(), str(a.id))):
        connection = by_id.get(account.connection_id)
        summary = AccountSummary(
            account=account,
            connection_alias=connection.alias if connection else "",
            provider=connection.provider if connection else "",
        )
        change: Money | None = None
        previous_at: datetime | None = None
        pair = latest_two.get(account.id, [])
        if len(pair) == 2 and pair[0].balance.currency == pair[1].balance.currency:
            before, after = (replace(account, balance=s.balance) for s in pair)
            change = after.net_worth_contribution() - before.net_worth_contribution()
            previous_at = pair[0].captured_at
        lines.append(
            AccountLine(
                summary=summary,
                value=account.net_worth_contribution(),
                change=change,
                previous_at=previous_at,
            )
        )
    return lines


def _groups(lines: Sequence[AccountLine]) -> list[AccountGroup]:
    from dashtam_cli.application.dashboard_views import ACCOUNT_GROUPS, AccountGroup
    from dashtam_cli.domain.money import totals_by_currency

    groups = []
    for name, types in ACCOUNT_GROUPS:
        own = [line for line in lines if line.summary.account.account_type in types]
        if own:
            totals = totals_by_currency(line.value for line in own)
            groups.append(AccountGroup(name=name, accounts=own, totals=totals))
    return groups


def _latest_change(history: Sequence[NetWorthPoint]) -> dict[str, Money]:
    by_currency: dict[str, list[NetWorthPoint]] = defaultdict(list)
    for point in history:
        by_currency[point.currency].append(point)
    return {
        currency: points[-1].net_worth - points[-2].net_worth
        for currency, points in sorted(by_currency.items())
        if len(points) >= 2
    }


class DashboardOverviewHandler:
    """Answer :class:`DashboardOverview`."""

    def __init__(
        self,
        *,
        connections: ConnectionReader,
        accounts: AccountReader,
        balances: BalanceReader,
        clock: Clock,
    ) -> None:
        self._connections = connections
        self._accounts = accounts
        self._balances = balances
        self._clock = clock

    async def handle(self, query: DashboardOverview) -> Result[OverviewReport]:
        """The overview (never fails on its own; database errors come back from the bus)."""
        from dashtam_cli.application.dashboard_views import OverviewReport
        from dashtam_cli.application.handlers.accounts import net_worth_history
        from dashtam_cli.application.handlers.health import summarize_connection
        from dashtam_cli.domain.connections import ConnectionStatus
        from dashtam_cli.domain.money import totals_by_currency

        connections = await self._connections.list_connections()
        accounts = await self._accounts.list_accounts()
        snapshots = await self._balances.list_snapshots()
        active = [a for a in accounts if a.is_active]
        history = net_worth_history(snapshots, {a.id: a for a in accounts})
        return ok(
            OverviewReport(
                net_worth=totals_by_currency(a.net_worth_contribution() for a in active),
                change=_latest_change(history),
                history=history,
                groups=_groups(_lines(active, connections, snapshots)),
                connections=[
                    summarize_connection(c, accounts, self._clock)
                    for c in connections
                    if c.status is not ConnectionStatus.DISCONNECTED
                ],
                as_of=self._clock.now(),
            )
        )


class AccountDashboardHandler:
    """Answer :class:`AccountDashboard`."""

    def __init__(
        self,
        *,
        connections: ConnectionReader,
        accounts: AccountReader,
        holdings: HoldingReader,
        balances: BalanceReader,
        transactions: TransactionReader,
    ) -> None:
        self._connections = connections
        self._accounts = accounts
        self._holdings = holdings
        self._balances = balances
        self._transactions = transactions

    async def handle(self, query: AccountDashboard) -> Result[AccountPanel]:
        """The account's panel.

        Returns:
            The panel; ``not_found`` / ``ambiguous_id`` for the reference, ``invalid_argument``
            when ``recent`` is not between 1 and :data:`MAX_PAGE`.
        """
        from dashtam_cli.application.dashboard_views import AccountPanel
        from dashtam_cli.application.handlers.holdings import holding_weights, summarize_holdings
        from dashtam_cli.application.handlers.lookup import resolve_account

        if not 1 <= query.recent <= MAX_PAGE:
            return fail(ErrorCode.INVALID_ARGUMENT, f"recent must be between 1 and {MAX_PAGE:,}")
        found = resolve_account(query.ref, await self._accounts.list_accounts())
        if isinstance(found, Failure):
            return found
        account = found.value
        connections = await self._connections.list_connections()
        snapshots = await self._balances.list_snapshots(account_ids=[account.id])
        holdings = await self._holdings.list_holdings(account_ids=[account.id])
        weights = holding_weights(holdings)
        rows = await self._transactions.list_transactions(
            TransactionCriteria(account_ids=(account.id,)), limit=query.recent + 1
        )
        return ok(
            AccountPanel(
                line=_lines([account], connections, snapshots)[0],
                holdings=[
                    HoldingRow(holding=h, account_name=account.name, weight=weights[h.id])
                    for h in holdings
                ],
                holdings_summary=summarize_holdings(holdings),
                recent=[replace(r, account_name=account.name) for r in rows[: query.recent]],
                more_transactions=len(rows) > query.recent,
            )
        )


class TransactionBrowseHandler:
    """Answer :class:`TransactionBrowse`."""

    def __init__(
        self,
        *,
        connections: ConnectionReader,
        accounts: AccountReader,
        pages: TransactionPageReader,
    ) -> None:
        self._connections = connections
        self._accounts = accounts
        self._pages = pages

    async def handle(self, query: TransactionBrowse) -> Result[TransactionSlice]:
        """One page, filtered exactly as ``transactions list`` filters.

        Returns:
            The page; ``invalid_argument`` for a bad limit or filter, ``not_found`` /
            ``ambiguous_id`` for a reference.
        """
        from dashtam_cli.application.dashboard_views import TransactionSlice
        from dashtam_cli.application.handlers.transactions import read_filter

        if not 1 <= query.limit <= MAX_PAGE:
            return fail(ErrorCode.INVALID_ARGUMENT, f"a page holds 1 to {MAX_PAGE:,} rows")
        accounts, criteria = await read_filter(
            query.filters, accounts=self._accounts, connections=self._connections
        )
        if isinstance(criteria, Failure):
            return criteria
        if criteria.value.account_ids == ():
            return ok(TransactionSlice(rows=[], next=None))
        after = query.after
        older_than = None if after is None else (after.transaction_date, after.id)
        # one more than shown tells whether a next page exists
        rows = await self._page(criteria.value, limit=query.limit + 1, older_than=older_than)
        names = {a.id: a.name for a in accounts}
        shown = [replace(r, account_name=names.get(r.account_id)) for r in rows[: query.limit]]
        following: TransactionKey | None = None
        if len(rows) > query.limit:
            last = shown[-1]
            following = TransactionKey(transaction_date=last.transaction_date, id=last.id)
        return ok(TransactionSlice(rows=shown, next=following))

    async def _page(
        self,
        criteria: TransactionCriteria,
        *,
        limit: int,
        older_than: tuple[date, UUID] | None,
    ) -> Sequence[TransactionRow]:
        """A page; a text search looks in the newest :data:`SEARCH_WINDOW` first.

        No index serves a substring search: over a million rows it reads the whole table. Most
        searches (a merchant, a symbol) match often enough that the newest page lies in the last
        few months, which an index range reads in milliseconds. When that window holds a full
        page, that page is exactly the one the whole table gives (every match outside the window
        is older); otherwise the whole table is searched.
        """
        if criteria.search is None:
            return await self._pages.page_transactions(criteria, limit=limit, older_than=older_than)
        anchor = older_than[0] if older_than is not None else None
        if anchor is None:
            newest = await self._pages.page_transactions(replace(criteria, search=None), limit=1)
            if not newest:
                return []
            anchor = newest[0].transaction_date
        start = anchor - SEARCH_WINDOW
        if criteria.since is None or criteria.since < start:
            recent = await self._pages.page_transactions(
                replace(criteria, since=start), limit=limit, older_than=older_than
            )
            if len(recent) >= limit:
                return recent
        return await self._pages.page_transactions(criteria, limit=limit, older_than=older_than)


def _slices(
    holdings: Iterable[Holding], label: Callable[[Holding], str], totals: Mapping[str, Money]
) -> list[AllocationSlice]:
    from dashtam_cli.application.dashboard_views import AllocationSlice
    from dashtam_cli.domain.money import Money

    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for h in holdings:
        if h.market_value is not None:
            sums[(h.market_value.currency, label(h))] += h.market_value.amount
    slices = []
    for (currency, name), amount in sums.items():
        total = totals[currency].amount
        share = None if total.is_zero() else amount / total
        slices.append(AllocationSlice(label=name, value=Money(amount, currency), share=share))
    slices.sort(key=lambda s: (s.value.currency, -s.value.amount, s.label))
    return slices


class HoldingsAllocationHandler:
    """Answer :class:`HoldingsAllocation`."""

    def __init__(self, *, accounts: AccountReader, holdings: HoldingReader) -> None:
        self._accounts = accounts
        self._holdings = holdings

    async def handle(self, query: HoldingsAllocation) -> Result[AllocationReport]:
        """Market value by asset type and by account (exact, per currency).

        Returns:
            The report; ``not_found`` / ``ambiguous_id`` for the account reference.
        """
        from dashtam_cli.application.dashboard_views import AllocationReport
        from dashtam_cli.application.handlers.lookup import holdings_scope
        from dashtam_cli.domain.money import totals_by_currency

        accounts = await self._accounts.list_accounts()
        scope = holdings_scope(query.account_ref, accounts)
        if isinstance(scope, Failure):
            return scope
        account_ids = scope.value
        holdings = await self._holdings.list_holdings(account_ids=account_ids)
        names = {a.id: a.name for a in accounts}
        totals = totals_by_currency(h.market_value for h in holdings if h.market_value)
        return ok(
            AllocationReport(
                by_asset_type=_slices(holdings, lambda h: h.asset_type.value, totals),
                by_account=_slices(holdings, lambda h: names.get(h.account_id, ""), totals),
                totals=totals,
                holdings=len(holdings),
            )
        )


__all__ = [
    "MAX_PAGE",
    "SEARCH_WINDOW",
    "AccountDashboard",
    "AccountDashboardHandler",
    "DashboardOverview",
    "DashboardOverviewHandler",
    "HoldingsAllocation",
    "HoldingsAllocationHandler",
    "TransactionBrowse",
    "TransactionBrowseHandler",
    "TransactionKey",
    "TransactionPageReader",
]
