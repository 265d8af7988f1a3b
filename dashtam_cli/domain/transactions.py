"""Transactions: the immutable history of an account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum, unique
from typing import Any
from uuid import UUID, uuid4

from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.money import Money


@unique
class TransactionType(StrEnum):
    """The broad kind of a transaction."""

    TRADE = "trade"
    TRANSFER = "transfer"
    INCOME = "income"
    FEE = "fee"
    OTHER = "other"


@unique
class TransactionSubtype(StrEnum):
    """The precise kind of a transaction; each belongs to exactly one :class:`TransactionType`."""

    BUY = "buy"
    SELL = "sell"
    SHORT_SELL = "short_sell"
    BUY_TO_COVER = "buy_to_cover"
    EXERCISE = "exercise"
    ASSIGNMENT = "assignment"
    EXPIRATION = "expiration"
    REINVESTMENT = "reinvestment"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    WIRE_IN = "wire_in"
    WIRE_OUT = "wire_out"
    ACH_IN = "ach_in"
    ACH_OUT = "ach_out"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    JOURNAL = "journal"
    SECURITY_IN = "security_in"
    SECURITY_OUT = "security_out"
    DIVIDEND = "dividend"
    INTEREST = "interest"
    CAPITAL_GAIN = "capital_gain"
    DISTRIBUTION = "distribution"
    COMMISSION = "commission"
    ACCOUNT_FEE = "account_fee"
    MARGIN_INTEREST = "margin_interest"
    OTHER_FEE = "other_fee"
    ADJUSTMENT = "adjustment"
    UNKNOWN = "unknown"

    @property
    def transaction_type(self) -> TransactionType:
        """The type this subtype belongs to."""
        return SUBTYPE_TO_TYPE[self]


_T = TransactionType
_S = TransactionSubtype
SUBTYPES_BY_TYPE: dict[TransactionType, frozenset[TransactionSubtype]] = {
    _T.TRADE: frozenset(
        {
            _S.BUY,
            _S.SELL,
            _S.SHORT_SELL,
            _S.BUY_TO_COVER,
            _S.EXERCISE,
            _S.ASSIGNMENT,
            _S.EXPIRATION,
            _S.REINVESTMENT,
        }
    ),
    _T.TRANSFER: frozenset(
        {
            _S.DEPOSIT,
            _S.WITHDRAWAL,
            _S.WIRE_IN,
            _S.WIRE_OUT,
            _S.ACH_IN,
            _S.ACH_OUT,
            _S.TRANSFER_IN,
            _S.TRANSFER_OUT,
            _S.JOURNAL,
            _S.SECURITY_IN,
            _S.SECURITY_OUT,
        }
    ),
    _T.INCOME: frozenset({_S.DIVIDEND, _S.INTEREST, _S.CAPITAL_GAIN, _S.DISTRIBUTION}),
    _T.FEE: frozenset({_S.COMMISSION, _S.ACCOUNT_FEE, _S.MARGIN_INTEREST, _S.OTHER_FEE}),
    _T.OTHER: frozenset({_S.ADJUSTMENT, _S.UNKNOWN}),
}
SUBTYPE_TO_TYPE: dict[TransactionSubtype, TransactionType] = {
    subtype: ttype for ttype, subtypes in SUBTYPES_BY_TYPE.items() for subtype in subtypes
}


@unique
class TransactionStatus(StrEnum):
    """Where a transaction is in its life: sync may settle or cancel a pending one."""

    PENDING = "pending"
    SETTLED = "settled"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True, slots=True)
class Transaction:
    """One immutable history record. Unique per (account_id, provider_transaction_id).

    ``amount`` is signed: positive into the account, negative out of it.
    """

    account_id: UUID
    provider_transaction_id: str
    transaction_type: TransactionType
    subtype: TransactionSubtype
    status: TransactionStatus
    amount: Money
    transaction_date: date
    description: str = ""
    asset_type: AssetType | None = None
    symbol: str | None = None
    security_name: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    fees: Money | None = None
    settlement_date: date | None = None
    posted_at: datetime | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False)
    id: UUID = field(default_factory=uuid4)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.subtype.transaction_type is not self.transaction_type:
            raise ValueError(
                f"subtype {self.subtype.value} does not belong to "
                f"type {self.transaction_type.value}"
            )
