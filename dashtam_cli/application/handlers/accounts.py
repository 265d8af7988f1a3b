"""Accounts: the list with exact totals and net worth, one account's detail, net-worth history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import groupby
from typing import TYPE_CHECKING, NamedTuple

from dashtam_cli.application.handlers.lookup import (
    account_scope,
    resolve_account,
    resolve_connection,
)
from dashtam_cli.application.queries import AccountsOverview, AccountSummary
from dashtam_cli.domain.errors import Failure, Result, ok
from dashtam_cli.domain.money import Money, totals_by_currency

if TYPE_CHECKING:
    # ``accounts list`` imports this module: the other handlers' results and helpers are
    # imported when they run (see :mod:`dashtam_cli.application.query_results`).
    from collections.abc import Mapping, Sequence
    from uuid import UUID

    from dashtam_cli.application.ports import ConnectionReader
    from dashtam_cli.application.queries import (
        AccountDetail,
        AccountList,
        AccountReader,
        AccountView,
        BalanceHistory,
        BalanceReader,
        HoldingReader,
        NetWorthHistory,
        NetWorthPoint,
    )
    from dashtam_cli.domain.accounts import Account
    from dashtam_cli.domain.connections import ProviderConnection
    from dashtam_cli.domain.holdings import BalanceSnapshot


def _summaries(
    accounts: Sequence[Account], connections: Sequence[ProviderConnection]
) -> list[AccountSummary]:
    by_id = {c.id: c for c in connections}
    summaries = []
    for account in sorted(accounts, key=lambda a: (a.name.lower(), str(a.id))):
        connection = by_id.get(account.connection_id)
        summaries.append(
            AccountSummary(
                account=account,
                connection_alias=connection.alias if connection else "",
                provider=connection.provider if connection else "",
            )
        )
    return summaries


class AccountListHandler:
    """Answer ``dashtam accounts list``."""

    def __init__(self, *, connections: ConnectionReader, accounts: AccountReader) -> None:
        self._connections = connections
        self._accounts = accounts

    async def handle(self, query: AccountList) -> Result[AccountsOverview]:
        """Accounts by name (active ones unless ``include_inactive``) with per-currency totals.

        Returns:
            The overview; ``not_found`` / ``ambiguous_id`` for the connection reference.
        """
        connections = await self._connections.list_connections()
        accounts = list(await self._accounts.list_accounts())
        if query.connection_ref is not None:
            found = resolve_connection(query.connection_ref, connections)
            if isinstance(found, Failure):
                return found
            accounts = [a for a in accounts if a.connection_id == found.value.id]
        if not query.include_inactive:
            accounts = [a for a in accounts if a.is_active]
        owed = [a for a in accounts if a.account_type.is_liability]
        owned = [a for a in accounts if not a.account_type.is_liability]
        return ok(
            AccountsOverview(
                accounts=_summaries(accounts, connections),
                totals=totals_by_currency(a.balance for a in accounts),
                net_worth=totals_by_currency(a.net_worth_contribution() for a in accounts),
                assets=totals_by_currency(a.net_worth_contribution() for a in owned),
                # the debt, whatever sign the provider gave the balance
                liabilities=totals_by_currency(-a.net_worth_contribution() for a in owed),
            )
        )


class AccountDetailHandler:
    """Answer ``dashtam accounts show REF``."""

    def __init__(
        self,
        *,
        connections: ConnectionReader,
        accounts: AccountReader,
        holdings: HoldingReader,
        balances: BalanceReader,
    ) -> None:
        self._connections = connections
        self._accounts = accounts
        self._holdings = holdings
        self._balances = balances

    async def handle(self, query: AccountDetail) -> Result[AccountView]:
        """The account, its active holdings' totals and its latest balance snapshot.

        Returns:
            The view; ``not_found`` / ``ambiguous_id`` for the reference.
        """
        from dashtam_cli.application.handlers.holdings import summarize_holdings
        from dashtam_cli.application.queries import AccountView

        found = resolve_account(query.ref, await self._accounts.list_accounts())
        if isinstance(found, Failure):
            return found
        account = found.value
        connections = await self._connections.list_connections()
        holdings = await self._holdings.list_holdings(account_ids=[account.id])
        return ok(
            AccountView(
                summary=_summaries([account], connections)[0],
                holdings=summarize_holdings(holdings),
                latest_snapshot=await self._balances.latest_snapshot(account.id),
            )
        )


class _Totals(NamedTuple):
    assets: Decimal
    liabilities: Decimal
    accounts: int


def _gone(account: Account | None, instant: datetime) -> bool:
    """An inactive account stops counting once it was deactivated (its ``updated_at``).

    The provider stopped reporting it, so its last balance has moved elsewhere; carrying it
    forward would count that money twice.
    """
    return (
        account is not None
        and not account.is_active
        and account.updated_at is not None
        and account.updated_at <= instant
    )


def _contribution(account: Account | None, snapshot: BalanceSnapshot) -> tuple[bool, Money]:
    """(is a liability, the snapshot's balance as it counts in net worth: the domain's rule)."""
    if account is None:
        return False, snapshot.balance
    as_then = replace(account, balance=snapshot.balance)
    return account.account_type.is_liability, as_then.net_worth_contribution()


_NOTHING = _Totals(assets=Decimal(0), liabilities=Decimal(0), accounts=0)


def net_worth_history(
    snapshots: Sequence[BalanceSnapshot],
    accounts: Mapping[UUID, Account],
    *,
    since: datetime | None = None,
) -> list[NetWorthPoint]:
    """Net worth per currency at every snapshot instant.

    At each instant every account counts with its latest snapshot at or before it; liabilities
    subtract (``Account.net_worth_contribution``); an inactive account stops counting when it
    was deactivated. A point is emitted for each currency that had a snapshot at that instant or
    whose total changed; instants before ``since`` only set the starting state.

    Args:
        snapshots: balance snapshots in any order.
        accounts: the accounts by id (for their type and whether they are still active).
        since: the first instant to emit points for.

    Returns:
        The points, by instant then currency.
    """
    from dashtam_cli.application.queries import NetWorthPoint

    state: dict[UUID, tuple[bool, Money]] = {}
    previous: dict[str, _Totals] = {}
    points: list[NetWorthPoint] = []
    ordered = sorted(snapshots, key=lambda s: (s.captured_at, str(s.account_id)))
    for instant, group in groupby(ordered, key=lambda s: s.captured_at):
        touched: set[str] = set()
        for snapshot in group:
            state[snapshot.account_id] = _contribution(accounts.get(snapshot.account_id), snapshot)
            touched.add(snapshot.balance.currency)
        current: dict[str, _Totals] = {}
        for account_id, (liability, value) in state.items():
            if _gone(accounts.get(account_id), instant):
                continue
            totals = current.get(value.currency, _NOTHING)
            current[value.currency] = _Totals(
                assets=totals.assets + (Decimal(0) if liability else value.amount),
                liabilities=totals.liabilities + (-value.amount if liability else Decimal(0)),
                accounts=totals.accounts + 1,
            )
        if since is None or instant >= since:
            for currency in sorted(current.keys() | previous.keys()):
                now = current.get(currency, _NOTHING)
                if currency in touched or now != previous.get(currency):
                    points.append(
                        NetWorthPoint(
                            captured_at=instant,
                            net_worth=Money(now.assets - now.liabilities, currency),
                            assets=Money(now.assets, currency),
                            liabilities=Money(now.liabilities, currency),
                            accounts=now.accounts,
                        )
                    )
        previous = current
    return points


def start_of(day: date | None) -> datetime | None:
    """Midnight UTC at the start of ``day``."""
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


class BalanceHistoryHandler:
    """Answer ``dashtam balances history``."""

    def __init__(self, *, accounts: AccountReader, balances: BalanceReader) -> None:
        self._accounts = accounts
        self._balances = balances

    async def handle(self, query: BalanceHistory) -> Result[NetWorthHistory]:
        """Net worth per currency over time (of one account, or of all).

        Returns:
            The history; ``not_found`` / ``ambiguous_id`` for the account reference.
        """
        accounts = await self._accounts.list_accounts()
        scope = account_scope(query.account_ref, accounts)
        if isinstance(scope, Failure):
            return scope
        account_ids = scope.value
        since = start_of(query.since)
        snapshots = await self._balances.list_snapshots(account_ids=account_ids, since=since)
        points = net_worth_history(snapshots, {a.id: a for a in accounts}, since=since)
        from dashtam_cli.application.queries import NetWorthHistory

        return ok(NetWorthHistory(points=points))
