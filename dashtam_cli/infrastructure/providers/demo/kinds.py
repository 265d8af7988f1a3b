"""Transaction kinds: one small generator per kind of row, and each account type's mix.

A kind turns ``(day, rng, id, posted_at)`` into a row tuple in :class:`FetchedTransaction` field
order (the ledger materialises tuples in bulk, much faster than the frozen dataclass ``__init__``).
Amounts are computed in integer cents and become ``Decimal`` once, with two places; quantities
have up to four places, prices two. Signs follow the domain: + into the account, - out of it.
The status slot holds the row's *final* status (settled, or cancelled / failed for the few bad
card and ACH rows); the ledger shows it ``pending`` while it is younger than 48 virtual hours.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.transactions import TransactionStatus, TransactionSubtype, TransactionType
from dashtam_cli.infrastructure.providers.demo.catalog import (
    OPTION_UNDERLYINGS,
    SECURITY_ID,
    Merchant,
    Security,
)
from dashtam_cli.infrastructure.providers.demo.market import (
    Market,
    RandFn,
    contract_labels,
    expiry_after,
    option_premium_cents,
    round_strike,
)

type Row = tuple[
    str,  # provider_transaction_id
    TransactionType,
    TransactionSubtype,
    TransactionStatus,  # the final status (pending is applied by the ledger)
    Decimal,  # amount
    str,  # currency
    date,  # transaction_date
    str,  # description
    AssetType | None,
    str | None,  # symbol
    str | None,  # security_name
    Decimal | None,  # quantity
    Decimal | None,  # unit_price
    Decimal | None,  # fees
    date | None,  # settlement_date
    datetime,  # posted_at
    None,  # raw
]
"""One transaction in :class:`~dashtam_cli.domain.providers.FetchedTransaction` field order."""

CENT = Decimal("0.01")
TICK = Decimal("0.0001")
MILLI = Decimal("0.001")
ZERO = Decimal("0.00")
USD = "USD"
_MAX_CACHED_INT = 10_000
_POSITIVE = tuple(Decimal(i) for i in range(_MAX_CACHED_INT + 1))
_NEGATIVE = tuple(Decimal(-i) for i in range(_MAX_CACHED_INT + 1))

_S = TransactionSubtype
_SETTLED = TransactionStatus.SETTLED
_CANCELLED = TransactionStatus.CANCELLED
_FAILED = TransactionStatus.FAILED
_OPTION = AssetType.OPTION
_ONE_DAY = timedelta(days=1)
_T1_SINCE = date(2024, 5, 28)  # US equities moved from T+2 to T+1 settlement


def settlement_date(day: date) -> date:
    """Trade settlement: T+1 business days (T+2 before 28 May 2024); holidays are ignored."""
    remaining = 1 if day >= _T1_SINCE else 2
    settle = day
    while remaining:
        settle += _ONE_DAY
        if settle.weekday() < 5:
            remaining -= 1
    return settle


def whole(n: int) -> Decimal:
    """An integer quantity as a ``Decimal`` (cached for small values)."""
    if -_MAX_CACHED_INT <= n <= _MAX_CACHED_INT:
        return _POSITIVE[n] if n >= 0 else _NEGATIVE[-n]
    return Decimal(n)


class Day:
    """What every kind needs to know about the day it generates."""

    __slots__ = ("date", "friday", "market", "ordinal", "settle")

    def __init__(self, day: date, market: Market) -> None:
        self.date = day
        self.ordinal = day.toordinal()
        self.market = market
        self.settle = settlement_date(day)
        self.friday = day - timedelta(days=(day.weekday() - 4) % 7)  # on or before the day


type Kind = Callable[[Day, RandFn, str, datetime], Row]
"""Makes one row: ``kind(day, rng, provider_transaction_id, posted_at)``."""


# --------------------------------------------------------------------------- trades


def equity_trade(
    subtype: TransactionSubtype,
    universe: Sequence[Security],
    verb: str,
    *,
    sell: bool,
    low: int = 50_000,
    high: int = 2_500_000,
) -> Kind:
    """Whole-share trades for ``low``..``high`` cents; sells pay SEC and TAF fees."""
    ids = tuple(SECURITY_ID[s.symbol] for s in universe)
    descriptions = tuple(f"{verb} {s.name}" for s in universe)
    count = len(universe)
    ttype = subtype.transaction_type
    qty_sign = -1 if subtype in {_S.SELL, _S.SHORT_SELL} else 1
    table = _NEGATIVE if qty_sign < 0 else _POSITIVE

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        i = int(r() * count)
        security = universe[i]
        price = day.market.close(ids[i], day.ordinal) * (9_950 + int(r() * 101)) // 10_000 or 1
        qty = (low + int(r() * r() * (high - low))) // price or 1
        gross = qty * price
        if sell:
            fee = 1 + gross * 278 // 10_000_000 + min(830, qty * 166 // 10_000)
            amount, fees = CENT * (gross - fee), CENT * fee
        else:
            amount, fees = CENT * -gross, None
        return (
            pid, ttype, subtype, _SETTLED, amount, USD, day.date, descriptions[i],
            security.asset_type, security.symbol, security.name,
            table[qty] if qty <= _MAX_CACHED_INT else Decimal(qty_sign * qty),
            CENT * price, fees, day.settle, posted, None,
        )  # fmt: skip

    return kind


def fund_trade(
    subtype: TransactionSubtype,
    universe: Sequence[Security],
    verb: str,
    *,
    sell: bool,
    low: int = 10_000,
    high: int = 1_500_000,
) -> Kind:
    """Mutual fund orders for a dollar amount: fractional shares with three places."""
    ids = tuple(SECURITY_ID[s.symbol] for s in universe)
    descriptions = tuple(f"{verb} {s.name}" for s in universe)
    count = len(universe)
    ttype = subtype.transaction_type
    sign = 1 if sell else -1

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        i = int(r() * count)
        security = universe[i]
        nav = day.market.close(ids[i], day.ordinal)
        cents = low + int(r() * r() * (high - low))
        millis = cents * 1_000 // nav or 1
        return (
            pid, ttype, subtype, _SETTLED, CENT * (sign * cents), USD, day.date,
            descriptions[i], security.asset_type, security.symbol, security.name,
            MILLI * (-sign * millis), CENT * nav, None, day.settle, posted, None,
        )  # fmt: skip

    return kind


def reinvestment(universe: Sequence[Security]) -> Kind:
    """A dividend reinvested: cash out, fractional shares (four places) in."""
    ids = tuple(SECURITY_ID[s.symbol] for s in universe)
    descriptions = tuple(f"Dividend reinvestment, {s.symbol}" for s in universe)
    count = len(universe)
    ttype = _S.REINVESTMENT.transaction_type

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        i = int(r() * count)
        security = universe[i]
        price = day.market.close(ids[i], day.ordinal)
        cents = 50 + int(r() * r() * 60_000)
        ticks = cents * 10_000 // price or 1
        return (
            pid, ttype, _S.REINVESTMENT, _SETTLED, CENT * -cents, USD, day.date,
            descriptions[i], security.asset_type, security.symbol, security.name,
            TICK * ticks, CENT * price, None, day.settle, posted, None,
        )  # fmt: skip

    return kind


def _contract(day: Day, r: RandFn) -> tuple[str, int, bool, date, int, int]:
    """Pick an option contract listed on ``day``: (root, underlying, call, expiry, strike, S)."""
    root = OPTION_UNDERLYINGS[int(r() * len(OPTION_UNDERLYINGS))]
    underlying = day.market.close(SECURITY_ID[root], day.ordinal)
    call = r() < 0.6
    expiry = expiry_after(day.date.year, day.date.month, 1 + int(r() * 6))
    strike = round_strike(underlying * (85 + int(r() * 31)) // 100)
    return root, underlying, call, expiry, strike, (expiry - day.date).days


def option_trade(subtype: TransactionSubtype) -> Kind:
    """Buy or sell option contracts: price per share, x100 multiplier, $0.65 per contract."""
    verbs = (
        ("Buy to open", "Buy to close") if subtype is _S.BUY else ("Sell to open", "Sell to close")
    )
    sign = -1 if subtype is _S.BUY else 1
    ttype = subtype.transaction_type

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        root, underlying, call, expiry, strike, days = _contract(day, r)
        premium = option_premium_cents(underlying, strike, call, days)
        premium = premium * (9_000 + int(r() * 2_001)) // 10_000 or 1
        contracts = 1 + int(r() * r() * 10)
        fee = 65 * contracts
        symbol, name = contract_labels(root, expiry, call, strike)
        return (
            pid, ttype, subtype, _SETTLED, CENT * (sign * premium * 100 * contracts - fee), USD,
            day.date, f"{verbs[int(r() * 2)]} {name}", _OPTION,
            symbol, name, whole(-sign * contracts),
            CENT * premium, CENT * fee, day.settle, posted, None,
        )  # fmt: skip

    return kind


def option_event(subtype: TransactionSubtype) -> Kind:
    """Exercise (long), assignment (short) or worthless expiration of contracts that expired
    on the Friday on or before ``day``."""
    ttype = subtype.transaction_type
    verb = {
        _S.EXERCISE: "Exercised",
        _S.ASSIGNMENT: "Assigned",
        _S.EXPIRATION: "Expired worthless",
    }[subtype]

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        root = OPTION_UNDERLYINGS[int(r() * len(OPTION_UNDERLYINGS))]
        underlying = day.market.close(SECURITY_ID[root], day.ordinal)
        call = r() < 0.6
        expiry = day.friday
        strike = round_strike(underlying * (85 + int(r() * 31)) // 100)
        contracts = 1 + int(r() * r() * 10)
        symbol, name = contract_labels(root, expiry, call, strike)
        cash = strike * 100 * contracts
        if subtype is _S.EXERCISE:  # long contracts leave; a call buys shares, a put sells them
            amount, qty, price = (-cash if call else cash), -contracts, CENT * strike
        elif subtype is _S.ASSIGNMENT:  # short contracts close; a call delivers shares
            amount, qty, price = (cash if call else -cash), contracts, CENT * strike
        else:  # long (-) or short (+) contracts vanish at no value
            amount, qty, price = 0, (-contracts if r() < 0.5 else contracts), ZERO
        return (
            pid, ttype, subtype, _SETTLED, CENT * amount, USD, day.date, f"{verb} {name}",
            _OPTION, symbol, name, whole(qty), price, None, day.date, posted, None,
        )  # fmt: skip

    return kind


def security_move(subtype: TransactionSubtype, universe: Sequence[Security], label: str) -> Kind:
    """Shares moved in or out without cash (ACATS, gifts)."""
    descriptions = tuple(f"{label}, {s.name}" for s in universe)
    count = len(universe)
    ttype = subtype.transaction_type
    sign = 1 if subtype is _S.SECURITY_IN else -1

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        i = int(r() * count)
        security = universe[i]
        qty = 1 + int(r() * r() * 400)
        return (
            pid, ttype, subtype, _SETTLED, ZERO, USD, day.date, descriptions[i],
            security.asset_type, security.symbol, security.name, whole(sign * qty), None, None,
            None, posted, None,
        )  # fmt: skip

    return kind


# --------------------------------------------------------------------------- income and fees


def security_income(
    subtype: TransactionSubtype,
    universe: Sequence[Security],
    labels: Sequence[str],
    low: int,
    high: int,
) -> Kind:
    """Dividends, capital gains and distributions paid by a security."""
    descriptions = tuple(tuple(f"{label}, {s.symbol}" for s in universe) for label in labels)
    count, variants = len(universe), len(labels)
    ttype = subtype.transaction_type

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        i = int(r() * count)
        security = universe[i]
        cents = low + int(r() * r() * (high - low))
        return (
            pid, ttype, subtype, _SETTLED, CENT * cents, USD, day.date,
            descriptions[int(r() * variants) if variants > 1 else 0][i], security.asset_type,
            security.symbol,
            security.name, None, None, None, None, posted, None,
        )  # fmt: skip

    return kind


def fee(
    subtype: TransactionSubtype,
    labels: Sequence[str],
    low: int,
    high: int,
    universe: Sequence[Security] = (),
) -> Kind:
    """A fee: negative amount, ``fees`` set to its size; optionally tied to a security."""
    ttype = subtype.transaction_type
    variants = len(labels)
    count = len(universe)
    by_security = tuple(f"{labels[0]}, {s.symbol}" for s in universe)

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        cents = low + int(r() * r() * (high - low))
        label = labels[int(r() * variants)] if variants > 1 else labels[0]
        if count:
            i = int(r() * count)
            security = universe[i]
            return (
                pid, ttype, subtype, _SETTLED, CENT * -cents, USD, day.date, by_security[i],
                security.asset_type, security.symbol, security.name, None, None, CENT * cents,
                None, posted, None,
            )  # fmt: skip
        return (
            pid, ttype, subtype, _SETTLED, CENT * -cents, USD, day.date, label, None, None,
            None, None, None, CENT * cents, None, posted, None,
        )  # fmt: skip

    return kind


# --------------------------------------------------------------------------- cash


def cash(
    subtype: TransactionSubtype,
    sign: int,
    labels: Sequence[str],
    low: int,
    high: int,
    *,
    bad: TransactionStatus = _SETTLED,
    bad_per_mille: int = 0,
) -> Kind:
    """A cash movement (``sign`` 0: either direction); ``bad_per_mille`` of them end ``bad``."""
    ttype = subtype.transaction_type
    variants = len(labels)
    span = high - low
    unit = CENT if sign >= 0 else -CENT

    if sign and variants == 1 and not bad_per_mille:  # the common case: fewest draws
        label = labels[0]

        def simple(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
            return (
                pid, ttype, subtype, _SETTLED, unit * (low + int(r() * r() * span)), USD,
                day.date, label, None, None, None, None, None, None, None, posted, None,
            )  # fmt: skip

        return simple

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        cents = low + int(r() * r() * span)
        direction = unit if sign else (CENT if r() < 0.5 else -CENT)
        status = bad if bad_per_mille and r() * 1_000 < bad_per_mille else _SETTLED
        label = labels[int(r() * variants)] if variants > 1 else labels[0]
        return (
            pid, ttype, subtype, status, direction * cents, USD, day.date, label, None, None,
            None, None, None, None, None, posted, None,
        )  # fmt: skip

    return kind


def numbered(subtype: TransactionSubtype, sign: int, label: str, low: int, high: int) -> Kind:
    """A cash movement with a document number: ``label`` holds one ``{}``."""
    ttype = subtype.transaction_type

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        cents = low + int(r() * r() * (high - low))
        return (
            pid, ttype, subtype, _SETTLED, CENT * (sign * cents), USD, day.date,
            label.format(1_001 + int(r() * 8_998)), None, None, None, None, None, None, None,
            posted, None,
        )  # fmt: skip

    return kind


def atm() -> Kind:
    """Cash from an ATM, in multiples of $20."""
    ttype = _S.WITHDRAWAL.transaction_type
    places = ("ATM withdrawal, 5th Ave & 42nd St", "ATM withdrawal \u2013 Flughafen München", "ATM")

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        cents = 2_000 * (1 + int(r() * r() * 20))
        return (
            pid, ttype, _S.WITHDRAWAL, _SETTLED, CENT * -cents, USD, day.date,
            places[int(r() * 3)], None, None, None, None, None, None, None, posted, None,
        )  # fmt: skip

    return kind


def purchase(merchants: Sequence[Merchant], prefix: str = "", *, cancel_per_mille: int) -> Kind:
    """A card purchase (a withdrawal from the account); a few are cancelled authorisations."""
    descriptions = tuple(f"{prefix}{m.name}" for m in merchants)
    lows = tuple(m.low_cents for m in merchants)
    spans = tuple(m.high_cents - m.low_cents for m in merchants)
    count = len(merchants)
    ttype = _S.WITHDRAWAL.transaction_type

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        i = int(r() * count)
        cents = lows[i] + int(r() * r() * spans[i])
        status = _CANCELLED if r() * 1_000 < cancel_per_mille else _SETTLED
        return (
            pid, ttype, _S.WITHDRAWAL, status, CENT * -cents, USD, day.date, descriptions[i],
            None, None, None, None, None, None, None, posted, None,
        )  # fmt: skip

    return kind


def merchant_line(
    subtype: TransactionSubtype, merchants: Sequence[Merchant], label: str, sign: int, pct: int
) -> Kind:
    """A line about a merchant (refund, foreign transaction fee): ``pct`` % of a typical ticket.

    A negative ``sign`` makes it a fee (``fees`` set).
    """
    descriptions = tuple(f"{label}, {m.name}" for m in merchants)
    highs = tuple(m.high_cents for m in merchants)
    count = len(merchants)
    ttype = subtype.transaction_type

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        i = int(r() * count)
        cents = max(1, highs[i] * (1 + int(r() * pct)) // 100)
        fees = CENT * cents if sign < 0 else None
        return (
            pid, ttype, subtype, _SETTLED, CENT * (sign * cents), USD, day.date, descriptions[i],
            None, None, None, None, None, fees, None, posted, None,
        )  # fmt: skip

    return kind


def payroll(employer: str, base_cents: int, anchor_ordinal: int) -> Kind:
    """Salary by direct deposit, with a 3% raise a year."""
    ttype = _S.ACH_IN.transaction_type
    label = f"Payroll direct deposit, {employer}"

    def kind(day: Day, r: RandFn, pid: str, posted: datetime) -> Row:
        cents = base_cents * (10_000 + 300 * (day.ordinal - anchor_ordinal) // 365) // 10_000
        cents += int(r() * 5_000)  # overtime, withholding changes
        return (
            pid, ttype, _S.ACH_IN, _SETTLED, CENT * cents, USD, day.date, label, None, None,
            None, None, None, None, None, posted, None,
        )  # fmt: skip

    return kind
