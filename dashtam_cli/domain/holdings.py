"""Holdings (positions) and balance snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum, unique
from typing import Any
from uuid import UUID, uuid4

from dashtam_cli.domain.money import Money


@unique
class AssetType(StrEnum):
    """What a security is."""

    EQUITY = "equity"
    ETF = "etf"
    OPTION = "option"
    MUTUAL_FUND = "mutual_fund"
    FIXED_INCOME = "fixed_income"
    FUTURES = "futures"
    CRYPTOCURRENCY = "cryptocurrency"
    CASH_EQUIVALENT = "cash_equivalent"
    CURRENCY = "currency"
    INDEX = "index"
    OTHER = "other"


@dataclass(frozen=True, kw_only=True, slots=True)
class Holding:
    """A position in an account. ``quantity`` is signed: shorts are negative."""

    account_id: UUID
    provider_holding_id: str
    symbol: str
    asset_type: AssetType
    quantity: Decimal
    currency: str
    security_name: str | None = None
    average_price: Decimal | None = None
    cost_basis: Money | None = None
    market_value: Money | None = None
    current_price: Decimal | None = None
    is_active: bool = True
    raw: dict[str, Any] | None = field(default=None, repr=False)
    id: UUID = field(default_factory=uuid4)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def unrealized_gain(self) -> Money | None:
        """Market value minus cost basis, when both are known."""
        if self.market_value is None or self.cost_basis is None:
            return None
        return self.market_value - self.cost_basis


@unique
class SnapshotSource(StrEnum):
    """Where a balance snapshot came from."""

    SYNC = "sync"
    MANUAL = "manual"
    IMPORT = "import"


@dataclass(frozen=True, kw_only=True, slots=True)
class BalanceSnapshot:
    """An append-only record of an account's balance at one instant."""

    account_id: UUID
    captured_at: datetime
    balance: Money
    cash_value: Money | None = None
    holdings_value: Money | None = None
    source: SnapshotSource = SnapshotSource.SYNC
    sync_run_id: UUID | None = None
    id: UUID = field(default_factory=uuid4)
