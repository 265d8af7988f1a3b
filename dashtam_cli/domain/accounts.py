"""Accounts held at a provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum, unique
from typing import Any
from uuid import UUID, uuid4

from dashtam_cli.domain.money import Money


@unique
class AccountType(StrEnum):
    """What kind of account this is. Credit and loan types count negative in net worth."""

    BROKERAGE = "brokerage"
    IRA = "ira"
    ROTH_IRA = "roth_ira"
    K401 = "401k"
    B403 = "403b"
    HSA = "hsa"
    CHECKING = "checking"
    SAVINGS = "savings"
    MONEY_MARKET = "money_market"
    CD = "cd"
    CREDIT_CARD = "credit_card"
    LINE_OF_CREDIT = "line_of_credit"
    LOAN = "loan"
    MORTGAGE = "mortgage"
    OTHER = "other"

    @property
    def is_liability(self) -> bool:
        """True for debts: their balance subtracts from net worth."""
        return self in _LIABILITIES


_LIABILITIES = frozenset(
    {AccountType.CREDIT_CARD, AccountType.LINE_OF_CREDIT, AccountType.LOAN, AccountType.MORTGAGE}
)


def mask_account_number(number: str) -> str:
    """Return ``****1234``: never more than the last four characters of an account number."""
    digits = number.strip()
    return "****" + digits[-4:] if digits else ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Account:
    """One account at a provider. Never deleted: missing accounts become inactive."""

    connection_id: UUID
    provider_account_id: str
    account_number_masked: str
    name: str
    account_type: AccountType
    currency: str
    balance: Money
    available_balance: Money | None = None
    cash_balance: Money | None = None
    is_active: bool = True
    last_synced_at: datetime | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False)
    id: UUID = field(default_factory=uuid4)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def net_worth_contribution(self) -> Money:
        """The balance as it counts in net worth: liabilities subtract.

        Providers report debts either as positive owed amounts or as negative balances; either way a
        liability can only lower net worth.
        """
        if self.account_type.is_liability:
            return -abs(self.balance)
        return self.balance
