"""Queries (nouns) and the result DTOs the front ends render.

Every read command imports this module, so it creates little: the queries, the results of the
frequent lists and the reader ports. The other results live in
:mod:`dashtam_cli.application.query_results` and are re-exported here on first use (import them
from this module all the same). Nothing here imports the ports, protocols or events modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from dashtam_cli.application.query_results import (
        AccountView,
        AuditPage,
        ConnectionHealth,
        ConnectionSummary,
        ConnectionView,
        HoldingsOverview,
        HoldingsSummary,
        NetWorthHistory,
        NetWorthPoint,
        SecretsHealth,
        StatusReport,
        TransactionView,
    )
else:
    _RESULTS = frozenset(
        {
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
        }
    )

    def __getattr__(name: str) -> object:
        """The results defined in :mod:`.query_results`, imported on first use."""
        if name not in _RESULTS:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from dashtam_cli.application import query_results

        value = getattr(query_results, name)
        globals()[name] = value
        return value


@dataclass(frozen=True, kw_only=True, slots=True)
class Status:
    """``dashtam status``: the health of this installation."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditList:
    """``dashtam audit list``: the audit trail, newest first."""

    since: datetime | None = None
    action: str | None = None
    limit: int = 50


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionFilter:
    """Filters shared by ``transactions list``, ``export transactions`` and the TUI.

    References (``account_ref``, ``connection_ref``) are what the user typed: an id prefix or, for
    connections, an alias; handlers resolve them. ``transaction_type`` matches a type
    (``trade``) or a subtype (``dividend``). ``search`` is a case-insensitive substring of the
    description, symbol or security name.
    """

    account_ref: str | None = None
    connection_ref: str | None = None
    since: date | None = None
    until: date | None = None
    transaction_type: str | None = None
    symbol: str | None = None
    search: str | None = None


# ============================================================================ the read side
# Connections, accounts, transactions, holdings and balance history. This section's imports live
# here so the module stays append-only for the people editing it concurrently.
from typing import Protocol  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Mapping
    from decimal import Decimal

    from dashtam_cli.domain.accounts import Account
    from dashtam_cli.domain.holdings import AssetType, BalanceSnapshot, Holding
    from dashtam_cli.domain.money import Money
    from dashtam_cli.domain.transactions import (
        Transaction,
        TransactionStatus,
        TransactionSubtype,
        TransactionType,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderList:
    """``dashtam providers list``: every connection, disconnected ones included, oldest first."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderDetail:
    """``dashtam providers show REF``: one connection (REF: alias or id prefix)."""

    ref: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountList:
    """``dashtam accounts list``: active accounts (all with ``include_inactive``), by name."""

    connection_ref: str | None = None
    include_inactive: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountDetail:
    """``dashtam accounts show REF``: one account (REF: id prefix)."""

    ref: str


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionList:
    """``dashtam transactions list``: the newest ``limit`` transactions matching ``filters``."""

    filters: TransactionFilter = TransactionFilter()
    limit: int = 50


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionDetail:
    """``dashtam transactions show REF``: one transaction (REF: id prefix)."""

    ref: str


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldingList:
    """``dashtam holdings list``: active holdings, of one account or of all."""

    account_ref: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BalanceHistory:
    """``dashtam balances history``: net worth per currency over time, from balance snapshots."""

    account_ref: str | None = None
    since: date | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountSummary:
    """An account with the connection it belongs to."""

    account: Account
    connection_alias: str
    provider: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountsOverview:
    """``accounts list``: the accounts plus exact per-currency totals.

    Attributes:
        totals: the balances as reported, summed per currency.
        net_worth: per currency, assets minus liabilities (``Account.net_worth_contribution``).
        assets: per currency, what the other accounts hold (as they count in net worth).
        liabilities: per currency, what credit cards, loans... owe (positive: the debt).
    """

    accounts: Sequence[AccountSummary]
    totals: Mapping[str, Money]
    net_worth: Mapping[str, Money]
    assets: Mapping[str, Money]
    liabilities: Mapping[str, Money]


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionCriteria:
    """A :class:`TransactionFilter` once resolved and validated: what the reader filters on.

    Attributes:
        account_ids: only these accounts (None: every account; empty: nothing matches).
        since: ``transaction_date >= since``.
        until: ``transaction_date <= until``.
        transaction_type: only this type.
        subtype: only this subtype.
        symbol: only this symbol (upper-case; compared case-insensitively).
        search: case-insensitive substring of the description, symbol or security name.
    """

    account_ids: tuple[UUID, ...] | None = None
    since: date | None = None
    until: date | None = None
    transaction_type: TransactionType | None = None
    subtype: TransactionSubtype | None = None
    symbol: str | None = None
    search: str | None = None

    def matches(self, txn: Transaction | TransactionRow) -> bool:
        """Whether a transaction passes every criterion (the readers' contract, in Python)."""
        if self.account_ids is not None and txn.account_id not in self.account_ids:
            return False
        if self.since is not None and txn.transaction_date < self.since:
            return False
        if self.until is not None and txn.transaction_date > self.until:
            return False
        if self.transaction_type is not None and txn.transaction_type != self.transaction_type:
            return False
        if self.subtype is not None and txn.subtype != self.subtype:
            return False
        if self.symbol is not None and (txn.symbol or "").upper() != self.symbol.upper():
            return False
        if self.search is not None:
            needle = self.search.lower()
            haystacks = (txn.description, txn.symbol or "", txn.security_name or "")
            return any(needle in text.lower() for text in haystacks)
        return True


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionRow:
    """A transaction as lists show it: every business field, no raw payload.

    ``amount`` is signed (+ into the account, - out); ``fees`` shares its currency.
    """

    id: UUID
    account_id: UUID
    transaction_date: date
    settlement_date: date | None
    transaction_type: TransactionType
    subtype: TransactionSubtype
    status: TransactionStatus
    amount: Money
    fees: Money | None
    description: str
    asset_type: AssetType | None
    symbol: str | None
    security_name: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    account_name: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionsPage:
    """``transactions list``: newest first, at most ``limit`` rows.

    Attributes:
        totals: the shown rows' amounts summed exactly per currency.
        has_more: more rows match than were shown.
    """

    transactions: Sequence[TransactionRow]
    totals: Mapping[str, Money]
    limit: int
    has_more: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class HoldingRow:
    """A holding with its account and its weight in that account.

    Attributes:
        weight: market value / the account's total market value in the same currency
            (a fraction; None when either is unknown or the total is zero).
    """

    holding: Holding
    account_name: str
    weight: Decimal | None


class AccountReader(Protocol):
    """Reads accounts for display (a handful of rows: handlers filter them in Python)."""

    async def list_accounts(self) -> Sequence[Account]:
        """Every account, active or not, by name; without raw payloads."""
        ...


class TransactionReader(Protocol):
    """Reads transactions: filtered, ordered and limited by the database."""

    async def list_transactions(
        self, criteria: TransactionCriteria, *, limit: int
    ) -> Sequence[TransactionRow]:
        """The newest matching rows (by transaction date, then id, both descending).

        Args:
            criteria: what to match.
            limit: at most this many rows.
        """
        ...

    async def ids_with_prefix(self, prefix: str, *, limit: int) -> Sequence[UUID]:
        """Up to ``limit`` transaction ids whose hex form (no dashes) starts with ``prefix``.

        Args:
            prefix: lower-case hexadecimal digits (1 to 32 of them).
            limit: at most this many ids, in ascending order.
        """
        ...

    async def get_transaction(self, transaction_id: UUID) -> Transaction | None:
        """One transaction without its raw payload, or None."""
        ...


class HoldingReader(Protocol):
    """Reads holdings."""

    async def list_holdings(
        self, *, account_ids: Sequence[UUID] | None = None, include_inactive: bool = False
    ) -> Sequence[Holding]:
        """Holdings of some accounts (None: all), by symbol; without raw payloads."""
        ...


class BalanceReader(Protocol):
    """Reads balance snapshots."""

    async def latest_snapshot(self, account_id: UUID) -> BalanceSnapshot | None:
        """The newest snapshot of an account, or None."""
        ...

    async def list_snapshots(
        self, *, account_ids: Sequence[UUID] | None = None, since: datetime | None = None
    ) -> Sequence[BalanceSnapshot]:
        """Snapshots oldest first: those at or after ``since`` plus, per account, the latest one
        before it (so the state at ``since`` is known). Without ``since``: every snapshot.
        """
        ...


__all__ = [
    "AccountDetail",
    "AccountList",
    "AccountReader",
    "AccountSummary",
    "AccountView",
    "AccountsOverview",
    "AuditList",
    "AuditPage",
    "BalanceHistory",
    "BalanceReader",
    "ConnectionHealth",
    "ConnectionSummary",
    "ConnectionView",
    "HoldingList",
    "HoldingReader",
    "HoldingRow",
    "HoldingsOverview",
    "HoldingsSummary",
    "NetWorthHistory",
    "NetWorthPoint",
    "ProviderDetail",
    "ProviderList",
    "SecretsHealth",
    "Status",
    "StatusReport",
    "TransactionCriteria",
    "TransactionDetail",
    "TransactionFilter",
    "TransactionList",
    "TransactionReader",
    "TransactionRow",
    "TransactionView",
    "TransactionsPage",
]
