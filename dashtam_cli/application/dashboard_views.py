"""The results of the dashboard's queries (:mod:`dashtam_cli.application.dashboard`).

Kept apart from the queries so that registering them (every command imports the composition
root) does not pay for defining these classes: handlers import this module when they run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from dashtam_cli.domain.accounts import AccountType

if TYPE_CHECKING:
    from dashtam_cli.application.dashboard import TransactionKey
    from dashtam_cli.application.queries import (
        AccountSummary,
        ConnectionSummary,
        HoldingRow,
        HoldingsSummary,
        NetWorthPoint,
        TransactionRow,
    )
    from dashtam_cli.domain.money import Money

#: Overview groups, in display order: accounts of these types are listed together.
ACCOUNT_GROUPS: tuple[tuple[str, frozenset[AccountType]], ...] = (
    (
        "Investments",
        frozenset(
            {
                AccountType.BROKERAGE,
                AccountType.IRA,
                AccountType.ROTH_IRA,
                AccountType.K401,
                AccountType.B403,
                AccountType.HSA,
            }
        ),
    ),
    (
        "Cash",
        frozenset(
            {AccountType.CHECKING, AccountType.SAVINGS, AccountType.MONEY_MARKET, AccountType.CD}
        ),
    ),
    (
        "Credit and loans",
        frozenset(
            {
                AccountType.CREDIT_CARD,
                AccountType.LINE_OF_CREDIT,
                AccountType.LOAN,
                AccountType.MORTGAGE,
            }
        ),
    ),
    ("Other", frozenset({AccountType.OTHER})),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountLine:
    """An account as the overview lists it.

    Attributes:
        value: the balance as it counts in net worth (credit and loans negative).
        change: ``value`` at the newest snapshot minus at the one before (None without two
            snapshots in one currency).
        previous_at: when the snapshot ``change`` compares with was taken.
    """

    summary: AccountSummary
    value: Money
    change: Money | None
    previous_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountGroup:
    """Accounts of one group (``Investments``...) with their total value per currency."""

    name: str
    accounts: Sequence[AccountLine]
    totals: Mapping[str, Money]


@dataclass(frozen=True, kw_only=True, slots=True)
class OverviewReport:
    """The overview screen's data.

    Attributes:
        net_worth: per currency, active assets minus liabilities.
        change: per currency, the newest history point minus the one before.
        history: net worth per currency at every snapshot instant (oldest first).
        groups: non-empty groups of active accounts, in :data:`ACCOUNT_GROUPS` order.
        connections: every connection that is not disconnected, with its health.
        as_of: when the report was made (the application clock).
    """

    net_worth: Mapping[str, Money]
    change: Mapping[str, Money]
    history: Sequence[NetWorthPoint]
    groups: Sequence[AccountGroup]
    connections: Sequence[ConnectionSummary]
    as_of: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountPanel:
    """One account's screen: its line, holdings (by symbol) and newest transactions."""

    line: AccountLine
    holdings: Sequence[HoldingRow]
    holdings_summary: HoldingsSummary
    recent: Sequence[TransactionRow]
    more_transactions: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionSlice:
    """One page of transactions, newest first; ``next`` continues it (None: no more rows)."""

    rows: Sequence[TransactionRow]
    next: TransactionKey | None


@dataclass(frozen=True, kw_only=True, slots=True)
class AllocationSlice:
    """Part of a portfolio: its market value and its share of its currency's total."""

    label: str
    value: Money
    share: Decimal | None


@dataclass(frozen=True, kw_only=True, slots=True)
class AllocationReport:
    """Where the money is: slices by asset type and by account, largest first per currency."""

    by_asset_type: Sequence[AllocationSlice]
    by_account: Sequence[AllocationSlice]
    totals: Mapping[str, Money]
    holdings: int


__all__ = [
    "ACCOUNT_GROUPS",
    "AccountGroup",
    "AccountLine",
    "AccountPanel",
    "AllocationReport",
    "AllocationSlice",
    "OverviewReport",
    "TransactionSlice",
]
