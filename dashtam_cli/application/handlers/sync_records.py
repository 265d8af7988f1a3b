"""Records and mappings of the sync: fetched provider data -> domain entities, and the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID

from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.errors import DomainError
from dashtam_cli.domain.holdings import Holding
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.protocols import UpsertCounts
from dashtam_cli.domain.providers import FetchedAccount, FetchedTransaction
from dashtam_cli.domain.sync import SyncRun, SyncStatus
from dashtam_cli.domain.transactions import Transaction


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountSyncResult:
    """How one account's sync went."""

    account_id: UUID | None
    name: str
    account_number_masked: str
    ok: bool
    holdings: int = 0
    transactions_inserted: int = 0
    transactions_updated: int = 0
    transactions_unchanged: int = 0
    error: DomainError | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionSyncReport:
    """One connection's sync: status, counts and per-account results."""

    connection_id: UUID
    alias: str
    provider: str
    run: SyncRun
    accounts: Sequence[AccountSyncResult] = ()
    error: DomainError | None = None

    @property
    def status(self) -> SyncStatus:
        """succeeded, partial or failed."""
        return self.run.status


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncReport:
    """Every connection synced by one ``dashtam sync``."""

    connections: Sequence[ConnectionSyncReport] = field(default_factory=tuple)

    @property
    def status(self) -> SyncStatus:
        """The worst outcome across connections (failed > partial > succeeded)."""
        statuses = {c.status for c in self.connections}
        if SyncStatus.FAILED in statuses:
            return SyncStatus.FAILED
        if SyncStatus.PARTIAL in statuses:
            return SyncStatus.PARTIAL
        return SyncStatus.SUCCEEDED


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def to_transaction(account_id: UUID, fetched: FetchedTransaction) -> Transaction:
    return Transaction(
        account_id=account_id,
        provider_transaction_id=fetched.provider_transaction_id,
        transaction_type=fetched.transaction_type,
        subtype=fetched.subtype,
        status=fetched.status,
        amount=Money(fetched.amount, fetched.currency),
        transaction_date=fetched.transaction_date,
        description=fetched.description,
        asset_type=fetched.asset_type,
        symbol=fetched.symbol,
        security_name=fetched.security_name,
        quantity=fetched.quantity,
        unit_price=fetched.unit_price,
        fees=None if fetched.fees is None else Money(fetched.fees, fetched.currency),
        settlement_date=fetched.settlement_date,
        posted_at=fetched.posted_at,
        raw=fetched.raw,
    )


def to_account(connection_id: UUID, fetched: FetchedAccount, now: datetime) -> Account:
    currency = fetched.currency

    def money(value: object) -> Money | None:
        return None if value is None else Money(value, currency)  # type: ignore[arg-type]

    return Account(
        connection_id=connection_id,
        provider_account_id=fetched.provider_account_id,
        account_number_masked=fetched.account_number_masked,
        name=fetched.name,
        account_type=fetched.account_type,
        currency=currency,
        balance=Money(fetched.balance, currency),
        available_balance=money(fetched.available_balance),
        cash_balance=money(fetched.cash_balance),
        is_active=True,
        last_synced_at=now,
        raw=fetched.raw,
    )


def to_holdings(account_id: UUID, fetched: FetchedAccount) -> list[Holding]:
    holdings = []
    for h in fetched.holdings:
        holdings.append(
            Holding(
                account_id=account_id,
                provider_holding_id=h.provider_holding_id,
                symbol=h.symbol,
                asset_type=h.asset_type,
                quantity=h.quantity,
                currency=h.currency,
                security_name=h.security_name,
                average_price=h.average_price,
                cost_basis=None if h.cost_basis is None else Money(h.cost_basis, h.currency),
                market_value=None if h.market_value is None else Money(h.market_value, h.currency),
                current_price=h.current_price,
                is_active=True,
                raw=h.raw,
            )
        )
    return holdings


def holdings_value(fetched: FetchedAccount) -> Money | None:
    values = [h.market_value for h in fetched.holdings if h.market_value is not None]
    if not values or any(h.currency != fetched.currency for h in fetched.holdings):
        return None
    total = Money.zero(fetched.currency)
    for value in values:
        total = total + Money(value, fetched.currency)
    return total


def add_counts(a: UpsertCounts, b: UpsertCounts) -> UpsertCounts:
    return UpsertCounts(
        inserted=a.inserted + b.inserted,
        updated=a.updated + b.updated,
        unchanged=a.unchanged + b.unchanged,
    )
