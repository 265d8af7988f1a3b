"""The results of the less frequent queries (status, audit, providers, one account or
transaction, holdings, balance history).

They are re-exported by :mod:`dashtam_cli.application.queries` (import them from there) but live
here, created only when first used: every frozen dataclass costs about half a millisecond to
create, and ``accounts list`` or ``transactions list`` need none of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime, timedelta
    from uuid import UUID

    from dashtam_cli.application.ports import DatabaseInfo
    from dashtam_cli.application.queries import AccountSummary, HoldingRow
    from dashtam_cli.domain.accounts import Account
    from dashtam_cli.domain.connections import ConnectionStatus
    from dashtam_cli.domain.holdings import BalanceSnapshot
    from dashtam_cli.domain.money import Money
    from dashtam_cli.domain.protocols import AuditEntry
    from dashtam_cli.domain.transactions import Transaction


@dataclass(frozen=True, kw_only=True, slots=True)
class SecretsHealth:
    """Which secrets backend is configured and whether it works."""

    backend: str
    available: bool
    detail: str | None = None
    hint: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionHealth:
    """One connection as ``status`` shows it."""

    id: UUID
    provider: str
    alias: str
    status: ConnectionStatus
    last_sync_at: datetime | None
    last_sync_status: str | None
    refresh_expires_at: datetime | None
    refresh_time_left: timedelta | None
    expiring_soon: bool
    action: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusReport:
    """Everything ``status`` reports."""

    database: DatabaseInfo
    secrets: SecretsHealth
    connections: Sequence[ConnectionHealth]


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditPage:
    """Audit rows for display."""

    entries: Sequence[AuditEntry]


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionSummary:
    """One connection as ``providers list`` shows it (never its credentials).

    Attributes:
        refresh_time_left: how long the login has left (None: no refresh token).
        expiring_soon: active and the login dies within a day.
        action: what the user should do next (a command), when anything.
        accounts_count: accounts of the connection, active or not.
        active_accounts_count: the active ones among them.
    """

    id: UUID
    provider: str
    alias: str
    status: ConnectionStatus
    connected_at: datetime | None
    last_sync_at: datetime | None
    last_sync_status: str | None
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    refresh_time_left: timedelta | None
    expiring_soon: bool
    action: str | None
    accounts_count: int
    active_accounts_count: int
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionView:
    """``providers show``: the connection and its accounts (active first, then by name)."""

    summary: ConnectionSummary
    accounts: Sequence[Account]


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldingsSummary:
    """Exact per-currency totals over some holdings.

    ``unrealized_gain`` sums only the holdings whose market value and cost basis are both known.
    """

    count: int
    market_value: Mapping[str, Money]
    cost_basis: Mapping[str, Money]
    unrealized_gain: Mapping[str, Money]


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountView:
    """``accounts show``: the account, a summary of its active holdings, its latest snapshot."""

    summary: AccountSummary
    holdings: HoldingsSummary
    latest_snapshot: BalanceSnapshot | None


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionView:
    """``transactions show``: the transaction (without its raw payload) and where it belongs."""

    transaction: Transaction
    account_name: str
    connection_alias: str


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldingsOverview:
    """``holdings list``: the holdings (by account, then symbol) and their totals."""

    holdings: Sequence[HoldingRow]
    summary: HoldingsSummary


@dataclass(frozen=True, kw_only=True, slots=True)
class NetWorthPoint:
    """Net worth in one currency at one snapshot instant.

    Attributes:
        net_worth: ``assets - liabilities``.
        assets: what non-liability accounts hold.
        liabilities: what credit and loan accounts owe (a positive amount).
        accounts: how many accounts contribute.
    """

    captured_at: datetime
    net_worth: Money
    assets: Money
    liabilities: Money
    accounts: int

    @property
    def currency(self) -> str:
        """The currency of every amount of the point."""
        return self.net_worth.currency


@dataclass(frozen=True, kw_only=True, slots=True)
class NetWorthHistory:
    """``balances history``: points ordered by instant, then currency."""

    points: Sequence[NetWorthPoint]

    @property
    def currencies(self) -> list[str]:
        """Every currency with at least one point, sorted."""
        return sorted({point.currency for point in self.points})


__all__ = [
    "AccountView",
    "AuditPage",
    "ConnectionHealth",
    "ConnectionSummary",
    "ConnectionView",
    "HoldingsOverview",
    "HoldingsSummary",
    "NetWorthHistory",
    "NetWorthPoint",
    "SecretsHealth",
    "StatusReport",
    "TransactionView",
]
