"""A deterministic, Schwab-shaped brokerage dataset for the fake Schwab server.

Three linked accounts (a MARGIN brokerage, a CASH IRA, a CASH household account) simulated day
by day over ``years`` years of business days up to the dataset's ``now``. Every value is a pure
function of the seed, the anchor ``now`` and the day being simulated: generators are
``random.Random`` seeded with an integer derived by SHA-256 from those inputs, of which only
``random()`` is used (the one method whose sequence Python guarantees across versions). Money and
quantities are ``Decimal`` from end to end and are serialised as JSON numbers (never strings), each
with a decimal point like the doubles Schwab's Java stack prints.

Shapes imitate the payloads in schwab.md §3 (accounts with positions and balances, transactions with
``transferItems`` and fee legs, ``userPreference`` in object form). Invariants the tests rely on:

* on TRADE rows the legs' ``cost`` values sum exactly to ``netAmount``;
* positions' net quantities equal the sum of the security legs of TRADE and RECEIVE_AND_DELIVER rows
  (the MMDA1 sweep excepted: it is the brokerage's settled cash, in whole hundreds of dollars);
* settled cash = the sum of ``netAmount`` over VALID rows = ``cashBalance`` (+ the sweep);
* positions' ``marketValue`` + ``cashBalance`` = ``liquidationValue``.

The shapes Schwab never documented (fee-leg signs, dividend legs, cash legs on ACH/wire/journal
rows, PENDING rows, MEMORANDUM/MARGIN_CALL/SMA_ADJUSTMENT/MONEY_MARKET rows) follow the plausible
forms chosen in the shared fixtures; they are test data, not Schwab truth.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

import simplejson

TRANSACTION_TYPES: tuple[str, ...] = (
    "TRADE",
    "RECEIVE_AND_DELIVER",
    "DIVIDEND_OR_INTEREST",
    "ACH_RECEIPT",
    "ACH_DISBURSEMENT",
    "CASH_RECEIPT",
    "CASH_DISBURSEMENT",
    "ELECTRONIC_FUND",
    "WIRE_OUT",
    "WIRE_IN",
    "JOURNAL",
    "MEMORANDUM",
    "MARGIN_CALL",
    "MONEY_MARKET",
    "SMA_ADJUSTMENT",
)
"""The 15 values of the spec's ``TransactionType`` enum, in the spec's order."""

FEE_TYPES: tuple[str, ...] = ("COMMISSION", "SEC_FEE", "OPT_REG_FEE", "TAF_FEE")
"""The fee legs every TRADE row carries (zero when no fee applies), in the fixtures' order."""

CLIENT_LEAD = timedelta(days=10)
"""How far ahead of the dataset's ``now`` a client's clock is assumed to be (the fake's default)."""

HEAVY_GUARD = timedelta(days=45)
"""Margin kept between the heavy burst and a client's one-year window boundaries."""

SWEEP_SYMBOL = "MMDA1"
CURRENCY_SYMBOL = "CURRENCY_USD"

CENT = Decimal("0.01")
ZERO = Decimal(0)
_ONE_TENTH = Decimal("0.1")


# --------------------------------------------------------------------------------------------
# small helpers


def jnum(value: Decimal) -> Decimal:
    """``value`` as Schwab's doubles print: no exponent, at least one decimal (``60`` → ``60.0``).

    Args:
        value: any finite decimal.

    Returns:
        An equal decimal whose ``str`` has a decimal point and no trailing zeros beyond it.
    """
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return normal.quantize(_ONE_TENTH)
    return normal


def format_time(moment: datetime) -> str:
    """A UTC instant in Schwab's transaction form: ``2026-01-05T15:02:11+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def eastern_midnight(day: date) -> datetime:
    """Midnight America/New_York of ``day`` as a UTC instant (``T04:00`` in DST, else ``T05:00``).

    Uses the US rule (DST from the second Sunday of March to the first Sunday of November, at 02:00)
    so that the fake needs no time-zone database.
    """
    march = date(day.year, 3, 1)
    dst_start = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
    november = date(day.year, 11, 1)
    dst_end = november + timedelta(days=(6 - november.weekday()) % 7)
    hour = 4 if dst_start < day <= dst_end else 5
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def format_date(day: date) -> str:
    """A calendar date as Schwab sends ``tradeDate``/``settlementDate``: midnight Eastern in UTC."""
    return format_time(eastern_midnight(day))


def is_business_day(day: date) -> bool:
    """Monday to Friday (the fake has no exchange holidays)."""
    return day.weekday() < 5


def business_days_after(day: date, count: int) -> date:
    """The ``count``-th business day after ``day``."""
    current = day
    while count > 0:
        current += timedelta(days=1)
        if is_business_day(current):
            count -= 1
    return current


def previous_business_day(day: date) -> date:
    """The last business day strictly before ``day``."""
    current = day - timedelta(days=1)
    while not is_business_day(current):
        current -= timedelta(days=1)
    return current


def first_business_day_on_or_after(day: date) -> date:
    """``day`` itself when it is a business day, else the next one."""
    current = day
    while not is_business_day(current):
        current += timedelta(days=1)
    return current


def third_friday(year: int, month: int) -> date:
    """The standard monthly option expiration day."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def add_months(day: date, months: int) -> tuple[int, int]:
    """``(year, month)`` ``months`` months after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def years_before(moment: datetime, years: int) -> datetime:
    """The same instant ``years`` calendar years earlier (29 February → 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def derive_int(*parts: object) -> int:
    """A stable 64-bit integer from ``parts`` (SHA-256; never Python's salted ``hash()``)."""
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class Rand:
    """A deterministic generator that only uses ``random()``, stable across Python versions."""

    def __init__(self, *parts: object) -> None:
        self._random = random.Random(derive_int(*parts)).random

    def chance(self, probability: float) -> bool:
        """True with the given probability."""
        return self._random() < probability

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``."""
        return low + int(self._random() * (high - low + 1))

    def cents(self, low: str, high: str) -> Decimal:
        """A decimal amount in ``[low, high]`` with cent precision."""
        lo, hi = int(Decimal(low) * 100), int(Decimal(high) * 100)
        return Decimal(self.integer(lo, hi)) / 100


def dumps(payload: Any) -> bytes:
    """JSON bytes with every ``Decimal`` written as a number (simplejson ``use_decimal``)."""
    return simplejson.dumps(payload, use_decimal=True).encode()


# --------------------------------------------------------------------------------------------
# instruments


@dataclass(frozen=True, kw_only=True, slots=True)
class Instrument:
    """A security the fake trades: prices are a pure function of the symbol and the day."""

    symbol: str
    asset_type: str
    cusip: str
    instrument_id: int
    base_price: Decimal
    description: str | None = None
    kind: str | None = None
    dividend: Decimal = ZERO
    multiplier: int = 1
    put_call: str | None = None
    strike: Decimal | None = None
    expiration: date | None = None
    underlying: str | None = None
    underlying_cusip: str | None = None

    def price(self, day: date) -> Decimal:
        """The closing price on ``day`` (triangle wave + daily jitter, integer arithmetic)."""
        if self.asset_type == "CASH_EQUIVALENT":
            return Decimal(1)
        period = 89 + derive_int("period", self.symbol) % 40
        phase = derive_int("phase", self.symbol) % period
        step = (day.toordinal() + phase) % period
        wave = Decimal(abs(2 * step - period)) / Decimal(period)
        jitter = Decimal(derive_int("jitter", self.symbol, day.toordinal()) % 41 - 20) / 1000
        factor = Decimal("0.88") + Decimal("0.24") * wave + jitter
        return (self.base_price * factor).quantize(CENT)

    def position_instrument(self, day: date) -> dict[str, Any]:
        """The ``instrument`` object of a position in ``GET /accounts?fields=positions``."""
        net_change = self.price(day) - self.price(previous_business_day(day))
        payload: dict[str, Any] = {"assetType": self.asset_type, "cusip": self.cusip}
        payload["symbol"] = self.symbol
        if self.asset_type == "EQUITY":
            payload["netChange"] = jnum(net_change)
        elif self.asset_type == "OPTION":
            payload["description"] = self.description
            payload["netChange"] = jnum(net_change)
            payload["type"] = self.kind
            payload["putCall"] = self.put_call
            payload["underlyingSymbol"] = self.underlying
        else:
            payload["description"] = self.description
            if self.kind is not None:
                payload["type"] = self.kind
        return payload

    def transfer_instrument(self, day: date, *, with_description: bool = False) -> dict[str, Any]:
        """The ``instrument`` object of a security leg in a transaction's ``transferItems``."""
        payload: dict[str, Any] = {"assetType": self.asset_type, "status": "ACTIVE"}
        payload["symbol"] = self.symbol
        if self.description is not None and (with_description or self.asset_type != "EQUITY"):
            payload["description"] = self.description
        payload["instrumentId"] = self.instrument_id
        payload["closingPrice"] = jnum(self.price(previous_business_day(day)))
        if self.asset_type == "OPTION":
            assert self.expiration is not None
            assert self.strike is not None
            payload["expirationDate"] = format_date(self.expiration)
            payload["optionPremiumMultiplier"] = self.multiplier
            payload["putCall"] = self.put_call
            payload["strikePrice"] = jnum(self.strike)
            payload["type"] = self.kind
            payload["underlyingSymbol"] = self.underlying
            payload["underlyingCusip"] = self.underlying_cusip
        elif self.kind is not None:
            payload["type"] = self.kind
        return payload


def _equity(symbol: str, cusip: str, iid: int, price: str, name: str, dividend: str) -> Instrument:
    return Instrument(
        symbol=symbol,
        asset_type="EQUITY",
        cusip=cusip,
        instrument_id=iid,
        base_price=Decimal(price),
        description=name,
        kind="COMMON_STOCK",
        dividend=Decimal(dividend),
    )


def option_contract(
    underlying: Instrument, *, put_call: str, strike: Decimal, expiration: date, premium: Decimal
) -> Instrument:
    """An OCC-style option on ``underlying`` (symbol root padded to 6, ``YYMMDD``, C/P, strike)."""
    letter = "C" if put_call == "CALL" else "P"
    strike_milli = int(strike * 1000)
    month_code = chr(ord("A") + expiration.month - 1 + (0 if put_call == "CALL" else 12))
    name = (underlying.description or underlying.symbol).removesuffix(" COM")
    return Instrument(
        symbol=f"{underlying.symbol:<6}{expiration:%y%m%d}{letter}{strike_milli:08d}",
        asset_type="OPTION",
        cusip=f"0{underlying.symbol}.{month_code}{expiration:%d}{expiration.year % 10}"
        f"{strike_milli // 10:06d}",
        instrument_id=200_000_000 + derive_int("option", underlying.symbol, expiration) % 10**8,
        base_price=premium,
        description=f"{name} {expiration:%m/%d/%Y} ${jnum(strike)} "
        f"{'Call' if put_call == 'CALL' else 'Put'}".replace(".0 ", " "),
        kind="VANILLA",
        multiplier=100,
        put_call=put_call,
        strike=strike,
        expiration=expiration,
        underlying=underlying.symbol,
        underlying_cusip=underlying.cusip,
    )


EXMP = _equity("EXMP", "30303X101", 9_123_456, "120.00", "EXAMPLE CORP COM", "0.25")
WDGT = _equity("WDGT", "95555W108", 9_234_567, "64.00", "WIDGET HOLDINGS INC COM", "0")
OLDC = _equity("OLDC", "67777Q102", 9_876_543, "39.70", "OLDCO INDUSTRIES ADR", "0")
ZZDT = _equity("ZZDT", "98888D104", 9_345_678, "25.00", "ZZ DAY TRADE CO COM", "0")
ZZBK = _equity("ZZBK", "98888B106", 9_456_789, "48.00", "ZZ BANCORP COM", "0.30")
ZZQQ = Instrument(
    symbol="ZZQQ",
    asset_type="COLLECTIVE_INVESTMENT",
    cusip="98888Q109",
    instrument_id=9_567_890,
    base_price=Decimal("410.00"),
    description="ZZ NASDAQ 100 ETF",
    kind="EXCHANGE_TRADED_FUND",
    dividend=Decimal("0.40"),
)
ZZTM = Instrument(
    symbol="ZZTM",
    asset_type="COLLECTIVE_INVESTMENT",
    cusip="98888Z105",
    instrument_id=9_678_901,
    base_price=Decimal("80.00"),
    description="ZZ TOTAL STOCK MARKET ETF",
    kind="EXCHANGE_TRADED_FUND",
    dividend=Decimal("0.55"),
)
ZZIDX = Instrument(
    symbol="ZZIDX",
    asset_type="MUTUAL_FUND",
    cusip="98888Y107",
    instrument_id=9_789_012,
    base_price=Decimal("22.15"),
    description="ZZ S&P 500 INDEX FUND",
    dividend=Decimal("0.09"),
)
SWEEP = Instrument(
    symbol=SWEEP_SYMBOL,
    asset_type="CASH_EQUIVALENT",
    cusip="9ZZZFD104",
    instrument_id=1_000_001,
    base_price=Decimal(1),
    description="FDIC INSURED DEPOSIT ACCOUNT  CORE  NOT COVERED BY SIPC",
    kind="MONEY_MARKET_FUND",
)

_CURRENCY_INSTRUMENT: dict[str, Any] = {
    "assetType": "CURRENCY",
    "status": "ACTIVE",
    "symbol": CURRENCY_SYMBOL,
    "description": "USD currency",
    "instrumentId": 1,
    "closingPrice": Decimal("0.0"),
}


def _currency_leg(amount: Decimal, cost: Decimal, fee_type: str | None = None) -> dict[str, Any]:
    leg: dict[str, Any] = {
        "instrument": dict(_CURRENCY_INSTRUMENT),
        "amount": jnum(amount),
        "cost": jnum(cost),
    }
    if fee_type is not None:
        leg["feeType"] = fee_type
    return leg


# --------------------------------------------------------------------------------------------
# accounts, rows, books


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountSpec:
    """One linked account: its identity as Schwab shows it."""

    key: str
    number: str
    hash_value: str
    type: str
    nickname: str
    color: str
    primary: bool

    @property
    def display_id(self) -> str:
        """Schwab's ``displayAcctId`` (``...017``)."""
        return "..." + self.number[-3:]


@dataclass(kw_only=True, slots=True, eq=False)
class Row:
    """One transaction row; ``payload`` is the JSON object, status excluded (computed)."""

    activity_id: int
    account_key: str
    time: datetime
    type: str
    net_amount: Decimal
    payload: dict[str, Any]
    symbols: frozenset[str]
    settles_on: date | None = None
    pending: bool = False
    _json: bytes | None = None

    @property
    def status(self) -> str:
        """``PENDING`` until the row settles, then ``VALID``."""
        return "PENDING" if self.pending else "VALID"

    def set_pending(self, pending: bool) -> None:
        """Change the status (and drop the cached JSON)."""
        if pending != self.pending:
            self.pending = pending
            self._json = None

    def to_dict(self) -> dict[str, Any]:
        """The row as ``GET …/transactions`` returns it."""
        out: dict[str, Any] = {}
        for key, value in self.payload.items():
            out[key] = value
            if key == "type":
                out["status"] = self.status
            elif key == "tradeDate" and self.settles_on is not None and not self.pending:
                out["settlementDate"] = format_date(self.settles_on)
        return out

    def to_json(self) -> bytes:
        """The row serialised once (cached until its status changes)."""
        if self._json is None:
            self._json = dumps(self.to_dict())
        return self._json


@dataclass(kw_only=True, slots=True)
class _Lot:
    quantity: Decimal = ZERO
    basis: Decimal = ZERO


@dataclass(kw_only=True)
class _Book:
    spec: AccountSpec
    rows: list[Row] = field(default_factory=list)
    spendable: Decimal = ZERO
    incoming: list[tuple[date, Decimal]] = field(default_factory=list)
    lots: dict[str, _Lot] = field(default_factory=dict)
    instruments: dict[str, Instrument] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountExpectation:
    """What a correct sync of one account must end up with (a snapshot at ``Dataset.now``)."""

    key: str
    account_number: str
    hash_value: str
    account_type: str
    nickname: str
    activity_ids: tuple[int, ...]
    pending_activity_ids: tuple[int, ...]
    net_amount_sum: Decimal
    settled_net_amount_sum: Decimal
    cash_balance: Decimal
    money_market: Decimal
    liquidation_value: Decimal
    positions: Mapping[str, Decimal]
    market_values: Mapping[str, Decimal]
    rows_per_year: Mapping[int, int]
    types: frozenset[str]


@dataclass(frozen=True, kw_only=True, slots=True)
class Expectations:
    """Per-account expectations, by key, account number and ``hashValue``."""

    now: datetime
    accounts: tuple[AccountExpectation, ...]
    heavy_account_number: str | None
    heavy_year: int | None
    heavy_year_rows: int

    @property
    def by_number(self) -> dict[str, AccountExpectation]:
        """Expectations keyed by plain account number."""
        return {a.account_number: a for a in self.accounts}

    @property
    def by_hash(self) -> dict[str, AccountExpectation]:
        """Expectations keyed by ``hashValue``."""
        return {a.hash_value: a for a in self.accounts}

    @property
    def by_key(self) -> dict[str, AccountExpectation]:
        """Expectations keyed by the fake's account key (``brokerage``, ``ira``, ``household``)."""
        return {a.key: a for a in self.accounts}

    def account(self, ref: str) -> AccountExpectation:
        """The expectation for an account number, a ``hashValue`` or a key.

        Raises:
            KeyError: no account matches ``ref``.
        """
        for table in (self.by_number, self.by_hash, self.by_key):
            if ref in table:
                return table[ref]
        raise KeyError(ref)

    @property
    def total_rows(self) -> int:
        """Rows across all accounts."""
        return sum(len(a.activity_ids) for a in self.accounts)


def plan_heavy_year(year: int, rows: int, *, anchor: date) -> dict[date, int]:
    """Day-trading round trips per business day: ``rows`` rows in one burst inside ``year``.

    The burst is the longest run of business days of ``year`` that stays :data:`HEAVY_GUARD` away
    from where a client's one-year windows start and end: a client whose clock is
    :data:`CLIENT_LEAD` ahead of ``anchor`` walks back in 365-day windows ending at
    ``anchor + CLIENT_LEAD``, so the whole burst lands in one window, which then exceeds the
    3000-row cap whatever the date.
    """
    boundaries = [anchor + CLIENT_LEAD - timedelta(days=365 * k) for k in range(4)]
    runs: list[list[date]] = [[]]
    for offset in range(366):
        day = date(year, 1, 1) + timedelta(days=offset)
        if day.year != year:
            break
        if any(abs((day - b).days) <= HEAVY_GUARD.days for b in boundaries):
            if runs[-1]:
                runs.append([])
            continue
        if is_business_day(day):
            runs[-1].append(day)
    days = max(runs, key=len)
    pairs = (rows + 1) // 2
    return {
        day: pairs // len(days) + (1 if index < pairs % len(days) else 0)
        for index, day in enumerate(days)
    }


def make_specs(seed: int) -> tuple[AccountSpec, ...]:
    """The three accounts' numbers and hashes for ``seed`` (8-digit fake numbers, 64-hex hashes)."""
    rand = Rand("accounts", seed)
    numbers: list[str] = []
    while len(numbers) < 3:
        number = str(rand.integer(90_000_000, 99_999_999))
        if number not in numbers:
            numbers.append(number)
    layout = (
        ("brokerage", "MARGIN", "Individual", "Green", True),
        ("ira", "CASH", "Rollover IRA", "Blue", False),
        ("household", "CASH", "Household Cash", "Orange", False),
    )
    return tuple(
        AccountSpec(
            key=key,
            number=number,
            hash_value=hashlib.sha256(f"fakeschwab:{seed}:{number}".encode()).hexdigest().upper(),
            type=kind,
            nickname=nickname,
            color=color,
            primary=primary,
        )
        for (key, kind, nickname, color, primary), number in zip(layout, numbers, strict=True)
    )


# --------------------------------------------------------------------------------------------
# the dataset


class Dataset:
    """Three accounts with ``years`` years of history up to ``now``; grows with :meth:`advance_to`.

    Args:
        seed: everything is a pure function of it (and of ``now``).
        now: the anchor instant (aware). Days strictly before its UTC date are simulated.
        years: length of the history.
        heavy_rows: day-trading rows put in one calendar year of the brokerage account, in one
            burst placed by :func:`plan_heavy_year` (to push a client's one-year window over
            Schwab's 3000-row cap); 0 disables them.
        heavy_year: that calendar year (default: the year before ``now``'s).
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        now: datetime,
        years: int = 3,
        heavy_rows: int = 3600,
        heavy_year: int | None = None,
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.seed = seed
        self.now = now.astimezone(UTC)
        self.start = years_before(self.now, years)
        self.specs = make_specs(seed)
        self._books = {spec.key: _Book(spec=spec) for spec in self.specs}
        self._next_id = 80_000_000_000 + derive_int("ids", seed) % 1_000_000 * 1000
        self._next_order = 1_004_000_000_000 + derive_int("orders", seed) % 1_000_000 * 1000
        self._check_number = 1001
        self.heavy_year: int | None = None
        self._heavy_schedule: dict[date, int] = {}
        year = self.now.year - 1 if heavy_year is None else heavy_year
        if heavy_rows > 0 and date(year, 1, 1) >= self.start.date() and year < self.now.year:
            self.heavy_year = year
            self._heavy_schedule = plan_heavy_year(year, heavy_rows, anchor=self.now.date())
        anchor = self.now.date()
        self._first_day = first_business_day_on_or_after(self.start.date() + timedelta(days=1))
        self._pending_day = previous_business_day(anchor)
        exmp_day = first_business_day_on_or_after(anchor - timedelta(days=60))
        wdgt_day = first_business_day_on_or_after(anchor - timedelta(days=45))
        call_strike = (EXMP.price(exmp_day) / 5).quantize(Decimal(1)) * 5 + 10
        put_strike = (WDGT.price(wdgt_day) / 5).quantize(Decimal(1)) * 5 - 5
        self.long_call = option_contract(
            EXMP,
            put_call="CALL",
            strike=call_strike,
            expiration=third_friday(*add_months(anchor, 8)),
            premium=Decimal("4.10"),
        )
        self.short_put = option_contract(
            WDGT,
            put_call="PUT",
            strike=put_strike,
            expiration=third_friday(*add_months(anchor, 5)),
            premium=Decimal("2.35"),
        )
        self._scripted: dict[date, list[Callable[[date], None]]] = {}
        self._script(exmp_day, lambda d: self._option_trade(d, self.long_call, Decimal(2)))
        self._script(wdgt_day, lambda d: self._option_trade(d, self.short_put, Decimal(-1)))
        self._anchor_day = anchor
        self._floor: datetime | None = None
        self._horizon = self._first_day
        self._simulate_until(anchor)
        self._refresh_statuses()

    # ---- public queries ------------------------------------------------------------------

    @property
    def heavy_account(self) -> AccountSpec:
        """The account holding the heavy year (the brokerage)."""
        return self._books["brokerage"].spec

    def spec_by_hash(self, hash_value: str) -> AccountSpec | None:
        """The account whose ``hashValue`` this is."""
        return next((s for s in self.specs if s.hash_value == hash_value), None)

    def spec_by_number(self, number: str) -> AccountSpec | None:
        """The account with this plain number."""
        return next((s for s in self.specs if s.number == number), None)

    def rows(self, key: str) -> list[Row]:
        """Every row of one account, sorted by (time, activityId)."""
        return list(self._books[key].rows)

    def all_rows(self) -> Iterable[Row]:
        """Every row of every account."""
        for book in self._books.values():
            yield from book.rows

    def transactions(
        self,
        key: str,
        start: datetime,
        end: datetime,
        types: frozenset[str],
        symbol: str | None = None,
    ) -> list[Row]:
        """Rows with ``start <= time <= end`` of the given types (and symbol), newest first."""
        selected = [
            row
            for row in self._books[key].rows
            if start <= row.time <= end
            and row.type in types
            and (symbol is None or symbol in row.symbols)
        ]
        selected.reverse()
        return selected

    def find_row(self, key: str, activity_id: int) -> Row | None:
        """One row by ``activityId``."""
        return next((r for r in self._books[key].rows if r.activity_id == activity_id), None)

    def account_numbers(self) -> list[dict[str, Any]]:
        """``GET /accounts/accountNumbers``."""
        return [{"accountNumber": s.number, "hashValue": s.hash_value} for s in self.specs]

    def accounts(self, *, positions: bool) -> list[dict[str, Any]]:
        """``GET /accounts`` (with positions only when asked)."""
        return [self.account(spec.key, positions=positions) for spec in self.specs]

    def account(self, key: str, *, positions: bool) -> dict[str, Any]:
        """``GET /accounts/{hash}``: one ``{securitiesAccount, aggregatedBalance}`` object."""
        return self._account_payload(self._books[key], positions=positions)

    def user_preference(self) -> dict[str, Any]:
        """``GET /userPreference`` in the observed object form."""
        return {
            "accounts": [
                {
                    "accountNumber": spec.number,
                    "primaryAccount": spec.primary,
                    "type": "BROKERAGE",
                    "nickName": spec.nickname,
                    "displayAcctId": spec.display_id,
                    "autoPositionEffect": False,
                    "accountColor": spec.color,
                }
                for spec in self.specs
            ],
            "streamerInfo": [
                {
                    "streamerSocketUrl": "wss://streamer-api.schwab.com/ws",
                    "schwabClientCustomerId": f"FAKE{derive_int('customer', self.seed):060d}"[:64],
                    "schwabClientCorrelId": "00000000-0000-4000-8000-000000000000",
                    "schwabClientChannel": "N9",
                    "schwabClientFunctionId": "APIAPP",
                }
            ],
            "offers": [{"level2Permissions": False, "mktDataPermission": "NP"}],
        }

    def expectations(self) -> Expectations:
        """A snapshot of what a correct client must have stored after syncing everything."""
        accounts = []
        for spec in self.specs:
            book = self._books[spec.key]
            cash, sweep = self._cash(book)
            positions = self._positions(book, self.now.date())
            liquidation = cash + sum((mv for _, _, mv in positions), ZERO)
            accounts.append(
                AccountExpectation(
                    key=spec.key,
                    account_number=spec.number,
                    hash_value=spec.hash_value,
                    account_type=spec.type,
                    nickname=spec.nickname,
                    activity_ids=tuple(r.activity_id for r in book.rows),
                    pending_activity_ids=tuple(r.activity_id for r in book.rows if r.pending),
                    net_amount_sum=sum((r.net_amount for r in book.rows), ZERO),
                    settled_net_amount_sum=sum(
                        (r.net_amount for r in book.rows if not r.pending), ZERO
                    ),
                    cash_balance=cash,
                    money_market=sweep,
                    liquidation_value=liquidation,
                    positions={i.symbol: q for i, q, _ in positions},
                    market_values={i.symbol: mv for i, _, mv in positions},
                    rows_per_year=dict(Counter(r.time.year for r in book.rows)),
                    types=frozenset(r.type for r in book.rows),
                )
            )
        heavy_rows = 0
        if self.heavy_year is not None:
            rows = self._books["brokerage"].rows
            heavy_rows = sum(1 for r in rows if r.time.year == self.heavy_year)
        return Expectations(
            now=self.now,
            accounts=tuple(accounts),
            heavy_account_number=self.heavy_account.number if self.heavy_year else None,
            heavy_year=self.heavy_year,
            heavy_year_rows=heavy_rows,
        )

    # ---- time ----------------------------------------------------------------------------

    def advance_to(self, now: datetime) -> None:
        """Move the dataset's clock: settle due PENDING rows and simulate the days now complete.

        New rows get times after the previous ``now`` (never back-dated before an earlier state).
        Moving backwards only changes the clock (rows never disappear; statuses are re-evaluated).
        """
        self._floor = self.now if self._floor is None else max(self._floor, self.now)
        self.now = now.astimezone(UTC)
        self._simulate_until(self.now.date())
        self._refresh_statuses()

    def _refresh_statuses(self) -> None:
        today = self.now.date()
        for row in self.all_rows():
            if row.settles_on is not None:
                row.set_pending(today < row.settles_on)

    def _simulate_until(self, stop: date) -> None:
        touched = False
        while self._horizon < stop:
            self._simulate_day(self._horizon)
            self._horizon += timedelta(days=1)
            touched = True
        if touched:
            for book in self._books.values():
                book.rows.sort(key=lambda r: (r.time, r.activity_id))

    # ---- simulation ----------------------------------------------------------------------

    def _script(self, day: date, action: Callable[[date], None]) -> None:
        self._scripted.setdefault(day, []).append(action)

    def _simulate_day(self, day: date) -> None:
        if not is_business_day(day):
            return
        for book in self._books.values():
            due = [amount for settle, amount in book.incoming if settle <= day]
            book.incoming = [(s, a) for s, a in book.incoming if s > day]
            book.spendable += sum(due, ZERO)
        self._brokerage_day(day)
        self._ira_day(day)
        self._household_day(day)
        for action in self._scripted.pop(day, []):
            action(day)
        if day >= self._anchor_day:
            self._later_day(day)

    def _later_day(self, day: date) -> None:
        """Activity on every business day after the anchor, so that advancing shows new rows."""
        brokerage = self._books["brokerage"]
        rand = self._rand(brokerage.spec.key, day, "later")
        self._trade(brokerage, day, rand, EXMP, Decimal(rand.integer(1, 5)))
        household = self._books["household"]
        rand = self._rand(household.spec.key, day, "later")
        amount = rand.cents("20", "300")
        self._receipt(household, day, rand, "ACH_RECEIPT", "ACH DEPOSIT", amount)

    def _rand(self, key: str, day: date, salt: str = "") -> Rand:
        return Rand(self.seed, key, day.toordinal(), salt)

    def _brokerage_day(self, day: date) -> None:
        book = self._books["brokerage"]
        rand = self._rand(book.spec.key, day)
        first = day == self._first_day
        if first:
            self._cash_row(book, day, rand, "WIRE_IN", "WIRE INCOMING", Decimal(60_000))
        offset = (day - self._first_day).days
        if offset == 10:
            self._transfer_in(book, day, rand, OLDC, Decimal(25))
        if offset == 31 and self._held(book, OLDC.symbol) > 0:
            fee = Decimal("-0.5")
            self._plain_row(book, day, rand, "DIVIDEND_OR_INTEREST", "ADR FEE OLDC", fee)
        if offset == 45 and self._held(book, OLDC.symbol) > 0:
            self._trade(book, day, rand, OLDC, -self._held(book, OLDC.symbol))
        if offset == 70:
            self._plain_row(book, day, rand, "MARGIN_CALL", "MARGIN CALL MET", ZERO, sub="MARGIN")
        if day.month == 12 and day.day <= 7 and self._first_in_month(day):
            self._plain_row(book, day, rand, "SMA_ADJUSTMENT", "SMA ADJUSTMENT", ZERO, sub="MARGIN")
        if self._first_in_month(day) and not first:
            self._receipt(book, day, rand, "ACH_RECEIPT", "ACH DEPOSIT", rand.cents("800", "2500"))
        if day.month in (3, 6, 9, 12) and self._first_on_or_after(day, 10):
            household = self._books["household"]
            amount = Decimal(250)
            if book.spendable >= amount:
                self._cash_row(
                    book, day, rand, "JOURNAL", f"JOURNAL TO {household.spec.display_id}", -amount
                )
                self._cash_row(
                    household,
                    day,
                    rand,
                    "JOURNAL",
                    f"JOURNAL FROM {book.spec.display_id}",
                    amount,
                )
        if day.month == 6 and self._first_on_or_after(day, 15) and book.spendable > 20_000:
            self._cash_row(book, day, rand, "WIRE_OUT", "WIRE OUTGOING", Decimal(-5000))
        if rand.chance(0.015):
            amount = rand.cents("200", "1500")
            if book.spendable >= amount:
                self._cash_row(book, day, rand, "ACH_DISBURSEMENT", "ACH WITHDRAWAL", -amount)
        self._quarterly_dividends(book, day, rand, (EXMP, ZZQQ), reinvest=False)
        self._random_trade(book, day, rand, EXMP, 0.05, (5, 20))
        self._random_trade(book, day, rand, ZZQQ, 0.02, (1, 6))
        self._random_trade(book, day, rand, WDGT, 0.015, (10, 30))
        if self._last_in_month(day):
            self._plain_row(
                book, day, rand, "DIVIDEND_OR_INTEREST", "CREDIT INTEREST", rand.cents("0.25", "3")
            )
            start = date(day.year, day.month, 1)
            self._plain_row(
                book,
                day,
                rand,
                "DIVIDEND_OR_INTEREST",
                f"MARGIN INTEREST {start:%m/%d}-{day:%m/%d}",
                -rand.cents("0.5", "6"),
                sub="MARGIN",
            )
            self._plain_row(book, day, rand, "MONEY_MARKET", "INTEREST MMDA1", rand.cents("1", "9"))
        for _ in range(self._heavy_schedule.get(day, 0)):
            self._day_trade(book, day, rand)
        if day == self._pending_day:
            self._receipt(book, day, rand, "ACH_RECEIPT", "ACH DEPOSIT", Decimal(2000))

    def _ira_day(self, day: date) -> None:
        book = self._books["ira"]
        rand = self._rand(book.spec.key, day)
        if day == self._first_day:
            self._cash_row(book, day, rand, "WIRE_IN", "WIRE INCOMING ROLLOVER", Decimal(25_000))
        if (day - self._first_day).days == 10:
            self._transfer_in(book, day, rand, ZZTM, Decimal(20))
        if self._first_in_month(day) and day != self._first_day:
            shares = (Decimal(400) / ZZTM.price(day)).to_integral_value(ROUND_DOWN)
            if shares > 0:
                self._trade(book, day, rand, ZZTM, shares)
            self._fund_purchase(book, day, rand, ZZIDX, Decimal(300))
        if day.month == 4 and self._first_on_or_after(day, 10):
            self._receipt(book, day, rand, "ACH_RECEIPT", "IRA CONTRIBUTION", Decimal(6500))
        self._quarterly_dividends(book, day, rand, (ZZTM, ZZIDX), reinvest=True)
        if day == self._pending_day:
            self._receipt(book, day, rand, "ACH_RECEIPT", "IRA CONTRIBUTION", Decimal(500))

    def _household_day(self, day: date) -> None:
        book = self._books["household"]
        rand = self._rand(book.spec.key, day)
        if day == self._first_day:
            self._receipt(book, day, rand, "ACH_RECEIPT", "ACH DEPOSIT", Decimal(8000))
        if day.weekday() == 4 and (day.toordinal() // 7) % 2 == 0:
            pay = rand.cents("1200", "1800")
            self._receipt(book, day, rand, "ACH_RECEIPT", "ACH DEPOSIT PAYROLL", pay)
        if self._first_in_month(day) and day != self._first_day:
            amount = rand.cents("150", "900")
            if book.spendable >= amount:
                self._check_number += 1
                text = f"CHECK PAID #{self._check_number}"
                self._cash_row(book, day, rand, "CASH_DISBURSEMENT", text, -amount)
        if self._first_on_or_after(day, 20):
            amount = rand.cents("80", "250")
            if book.spendable >= amount:
                text = "ELECTRONIC FUNDS TRANSFER BILL PAY"
                self._cash_row(book, day, rand, "ELECTRONIC_FUND", text, -amount)
        if rand.chance(0.02):
            amount = rand.cents("200", "1200")
            if book.spendable >= amount:
                self._cash_row(book, day, rand, "ACH_DISBURSEMENT", "ACH WITHDRAWAL", -amount)
        if rand.chance(0.012):
            amount = rand.cents("50", "400")
            self._cash_row(book, day, rand, "CASH_RECEIPT", "CHECK DEPOSIT", amount)
        if day.month == 12 and self._first_in_month(day):
            self._plain_row(book, day, rand, "MEMORANDUM", "MEMO: TAX FORMS MAILED", ZERO)
        if day.month == 7 and self._first_on_or_after(day, 15) and book.spendable > 4000:
            self._cash_row(book, day, rand, "WIRE_OUT", "WIRE OUTGOING", Decimal(-2000))
        self._quarterly_dividends(book, day, rand, (ZZBK,), reinvest=False)
        self._random_trade(book, day, rand, ZZBK, 0.015, (5, 15))
        if self._last_in_month(day):
            self._plain_row(
                book, day, rand, "DIVIDEND_OR_INTEREST", "CREDIT INTEREST", rand.cents("0.1", "2")
            )
        if day == self._pending_day:
            self._receipt(book, day, rand, "ACH_RECEIPT", "ACH DEPOSIT", Decimal("1234.56"))

    # ---- calendar predicates ---------------------------------------------------------------

    @staticmethod
    def _first_in_month(day: date) -> bool:
        return first_business_day_on_or_after(date(day.year, day.month, 1)) == day

    @staticmethod
    def _first_on_or_after(day: date, dom: int) -> bool:
        return first_business_day_on_or_after(date(day.year, day.month, dom)) == day

    @staticmethod
    def _last_in_month(day: date) -> bool:
        return business_days_after(day, 1).month != day.month

    # ---- row builders ----------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1 + derive_int("gap", self.seed, self._next_id) % 7
        return self._next_id

    def _moment(self, day: date, rand: Rand, *, market: bool) -> datetime:
        low, high = (14 * 3600 + 30 * 60, 20 * 3600 + 59 * 60) if market else (9 * 3600, 13 * 3600)
        moment = datetime.combine(day, time(), tzinfo=UTC) + timedelta(
            seconds=rand.integer(low, high)
        )
        if self._floor is not None and moment <= self._floor:
            moment = self._floor + timedelta(seconds=rand.integer(1, 60))
        return moment

    def _add(
        self,
        book: _Book,
        *,
        moment: datetime,
        type_: str,
        net: Decimal,
        sub: str,
        trade_day: date,
        settle_day: date | None,
        legs: list[dict[str, Any]],
        description: str | None = None,
        position_id: int | None = None,
        order_id: int | None = None,
        symbols: frozenset[str] = frozenset(),
        settles_on: date | None = None,
    ) -> Row:
        activity_id = self._new_id()
        payload: dict[str, Any] = {"activityId": activity_id, "time": format_time(moment)}
        if description is not None:
            payload["description"] = description
        payload["accountNumber"] = book.spec.number
        payload["type"] = type_
        payload["subAccount"] = sub
        payload["tradeDate"] = format_date(trade_day)
        if settle_day is not None:
            payload["settlementDate"] = format_date(settle_day)
        if position_id is not None:
            payload["positionId"] = position_id
        if order_id is not None:
            payload["orderId"] = order_id
        payload["netAmount"] = jnum(net)
        payload["transferItems"] = legs
        row = Row(
            activity_id=activity_id,
            account_key=book.spec.key,
            time=moment,
            type=type_,
            net_amount=net,
            payload=payload,
            symbols=symbols,
            settles_on=settles_on,
        )
        book.rows.append(row)
        return row

    def _cash_row(
        self, book: _Book, day: date, rand: Rand, type_: str, description: str, amount: Decimal
    ) -> None:
        """A cash movement with a currency leg, settled the same day."""
        self._add(
            book,
            moment=self._moment(day, rand, market=False),
            type_=type_,
            net=amount,
            sub="CASH",
            trade_day=day,
            settle_day=day,
            legs=[_currency_leg(amount, amount)],
            description=description,
            symbols=frozenset({CURRENCY_SYMBOL}),
        )
        book.spendable += amount

    def _receipt(
        self, book: _Book, day: date, rand: Rand, type_: str, description: str, amount: Decimal
    ) -> None:
        """An incoming ACH: PENDING (no settlementDate) until two business days later."""
        settle = business_days_after(day, 2)
        self._add(
            book,
            moment=self._moment(day, rand, market=False),
            type_=type_,
            net=amount,
            sub="CASH",
            trade_day=day,
            settle_day=None,
            legs=[_currency_leg(amount, amount)],
            description=description,
            symbols=frozenset({CURRENCY_SYMBOL}),
            settles_on=settle,
        )
        book.incoming.append((settle, amount))

    def _plain_row(
        self,
        book: _Book,
        day: date,
        rand: Rand,
        type_: str,
        description: str,
        amount: Decimal,
        *,
        sub: str = "CASH",
    ) -> None:
        """A row without legs (interest, fees, memos, adjustments)."""
        self._add(
            book,
            moment=self._moment(day, rand, market=False),
            type_=type_,
            net=amount,
            sub=sub,
            trade_day=day,
            settle_day=day,
            legs=[],
            description=description,
        )
        book.spendable += amount

    def _held(self, book: _Book, symbol: str) -> Decimal:
        lot = book.lots.get(symbol)
        return ZERO if lot is None else lot.quantity

    def _position_id(self, book: _Book, symbol: str) -> int:
        return 2_000_000_000 + derive_int("position", book.spec.number, symbol) % 1_000_000_000

    def _apply(self, book: _Book, instrument: Instrument, quantity: Decimal, cost: Decimal) -> None:
        """Update the lot: opening adds |cost| to the basis, closing removes a pro-rata share."""
        lot = book.lots.setdefault(instrument.symbol, _Lot())
        book.instruments[instrument.symbol] = instrument
        if lot.quantity == 0 or (lot.quantity > 0) == (quantity > 0):
            lot.basis += abs(cost)
        else:
            lot.basis -= (lot.basis * abs(quantity) / abs(lot.quantity)).quantize(CENT)
        lot.quantity += quantity
        if lot.quantity == 0:
            lot.basis = ZERO

    def _transfer_in(
        self, book: _Book, day: date, rand: Rand, instrument: Instrument, quantity: Decimal
    ) -> None:
        """Shares received in kind (RECEIVE_AND_DELIVER, no cash)."""
        self._add(
            book,
            moment=self._moment(day, rand, market=False),
            type_="RECEIVE_AND_DELIVER",
            net=ZERO,
            sub="CASH",
            trade_day=day,
            settle_day=day,
            legs=[
                {
                    "instrument": instrument.transfer_instrument(day),
                    "amount": jnum(quantity),
                    "cost": jnum(ZERO),
                }
            ],
            description="TRANSFER OF SECURITY OR OPTION IN",
            position_id=self._position_id(book, instrument.symbol),
            symbols=frozenset({instrument.symbol}),
        )
        self._apply(book, instrument, quantity, quantity * instrument.price(day))

    def _trade(
        self,
        book: _Book,
        day: date,
        rand: Rand,
        instrument: Instrument,
        quantity: Decimal,
        *,
        price: Decimal | None = None,
        moment: datetime | None = None,
        description: str | None = None,
        cost: Decimal | None = None,
    ) -> bool:
        """A TRADE row: one security leg plus the four fee legs; False when cash is short."""
        price = instrument.price(day) if price is None else price
        if cost is None:
            cost = (-quantity * price * instrument.multiplier).quantize(CENT)
        fees = self._fees(instrument, quantity, cost)
        net = cost - sum(fees.values(), ZERO)
        if net < 0 and book.spendable < -net:
            return False
        lot = book.lots.get(instrument.symbol)
        held = ZERO if lot is None else lot.quantity
        opening = held == 0 or (held > 0) == (quantity > 0)
        legs = [_currency_leg(fee, -fee, fee_type) for fee_type, fee in fees.items()]
        legs.append(
            {
                "instrument": instrument.transfer_instrument(day),
                "amount": jnum(quantity),
                "cost": jnum(cost),
                "price": jnum(price),
                "positionEffect": "OPENING" if opening else "CLOSING",
            }
        )
        self._next_order += 1 + derive_int("order-gap", self._next_order) % 5
        self._add(
            book,
            moment=moment or self._moment(day, rand, market=True),
            type_="TRADE",
            net=net,
            sub="MARGIN" if book.spec.type == "MARGIN" else "CASH",
            trade_day=day,
            settle_day=business_days_after(day, 1),
            legs=legs,
            description=description,
            position_id=self._position_id(book, instrument.symbol),
            order_id=self._next_order,
            symbols=frozenset({instrument.symbol, CURRENCY_SYMBOL}),
        )
        self._apply(book, instrument, quantity, cost)
        book.spendable += net
        return True

    @staticmethod
    def _fees(instrument: Instrument, quantity: Decimal, cost: Decimal) -> dict[str, Decimal]:
        fees = dict.fromkeys(FEE_TYPES, ZERO)
        contracts = abs(quantity)
        if instrument.asset_type == "OPTION":
            fees["COMMISSION"] = Decimal("0.65") * contracts
            fees["OPT_REG_FEE"] = (Decimal("0.0135") * contracts).quantize(CENT, ROUND_UP)
        if quantity < 0 and instrument.asset_type != "MUTUAL_FUND":
            fees["SEC_FEE"] = max(CENT, (cost * Decimal("0.0000278")).quantize(CENT, ROUND_UP))
            taf = (contracts * Decimal("0.000166")).quantize(CENT, ROUND_UP)
            fees["TAF_FEE"] = min(Decimal("8.30"), max(CENT, taf))
        return fees

    def _random_trade(
        self,
        book: _Book,
        day: date,
        rand: Rand,
        instrument: Instrument,
        probability: float,
        size: tuple[int, int],
    ) -> None:
        if not rand.chance(probability):
            return
        held = self._held(book, instrument.symbol)
        if held >= size[0] and rand.chance(0.35):
            quantity = -min(held, Decimal(rand.integer(*size)))
        else:
            quantity = Decimal(rand.integer(*size))
        self._trade(book, day, rand, instrument, quantity)

    def _fund_purchase(
        self, book: _Book, day: date, rand: Rand, instrument: Instrument, dollars: Decimal
    ) -> None:
        """A dollar-amount mutual-fund purchase: fractional shares, cost = the dollars exactly."""
        nav = instrument.price(day)
        shares = (dollars / nav).quantize(Decimal("0.001"), ROUND_DOWN)
        self._trade(book, day, rand, instrument, shares, price=nav, cost=-dollars)

    def _quarterly_dividends(
        self,
        book: _Book,
        day: date,
        rand: Rand,
        instruments: tuple[Instrument, ...],
        *,
        reinvest: bool,
    ) -> None:
        if day.month not in (1, 4, 7, 10) or not self._first_on_or_after(day, 15):
            return
        for instrument in instruments:
            held = self._held(book, instrument.symbol)
            amount = (held * instrument.dividend).quantize(CENT)
            if amount <= 0:
                continue
            equity = instrument.asset_type == "EQUITY"
            kind = "QUALIFIED DIVIDEND" if equity else "ORDINARY DIVIDEND"
            moment = self._moment(day, rand, market=False)
            self._add(
                book,
                moment=moment,
                type_="DIVIDEND_OR_INTEREST",
                net=amount,
                sub="CASH",
                trade_day=day,
                settle_day=day,
                legs=[
                    {
                        "instrument": instrument.transfer_instrument(day, with_description=True),
                        "amount": jnum(amount),
                    }
                ],
                description=f"{kind} {instrument.symbol}",
                symbols=frozenset({instrument.symbol}),
            )
            book.spendable += amount
            if reinvest:
                price = instrument.price(day)
                shares = (amount / price).quantize(Decimal("0.0001"), ROUND_DOWN)
                if shares > 0:
                    self._trade(
                        book,
                        day,
                        rand,
                        instrument,
                        shares,
                        price=(amount / shares).quantize(Decimal("0.00001")),
                        cost=-amount,
                        moment=moment + timedelta(minutes=1),
                        description="Dividend Reinvest",
                    )

    def _option_trade(self, day: date, instrument: Instrument, contracts: Decimal) -> None:
        book = self._books["brokerage"]
        self._trade(book, day, self._rand(book.spec.key, day, "option"), instrument, contracts)

    def _day_trade(self, book: _Book, day: date, rand: Rand) -> None:
        """A same-day round trip in ZZDT (two TRADE rows, no position left)."""
        quantity = Decimal(rand.integer(10, 100))
        buy_price = ZZDT.price(day) + Decimal(rand.integer(-40, 40)) / 100
        sell_price = buy_price + Decimal(rand.integer(-30, 35)) / 100
        bought = self._moment(day, rand, market=True)
        sold = bought + timedelta(seconds=rand.integer(30, 1800))
        if self._trade(book, day, rand, ZZDT, quantity, price=buy_price, moment=bought):
            self._trade(book, day, rand, ZZDT, -quantity, price=sell_price, moment=sold)

    # ---- balances ---------------------------------------------------------------------------

    def _cash(self, book: _Book) -> tuple[Decimal, Decimal]:
        """``(cashBalance, sweep)``: the brokerage keeps whole hundreds in MMDA1."""
        settled = sum((r.net_amount for r in book.rows if not r.pending), ZERO)
        if book.spec.key != "brokerage" or settled <= 0:
            return settled, ZERO
        sweep = (settled / 100).to_integral_value(ROUND_DOWN) * 100
        return settled - sweep, sweep

    def _positions(self, book: _Book, day: date) -> list[tuple[Instrument, Decimal, Decimal]]:
        """``(instrument, net quantity, marketValue)`` per open position, sweep last."""
        out: list[tuple[Instrument, Decimal, Decimal]] = []
        for symbol, lot in book.lots.items():
            if lot.quantity == 0:
                continue
            instrument = book.instruments[symbol]
            value = (lot.quantity * instrument.price(day) * instrument.multiplier).quantize(CENT)
            out.append((instrument, lot.quantity, value))
        _, sweep = self._cash(book)
        if sweep > 0:
            out.append((SWEEP, sweep, sweep))
        return out

    def _position_payload(
        self, book: _Book, instrument: Instrument, quantity: Decimal, value: Decimal, day: date
    ) -> dict[str, Any]:
        previous = previous_business_day(day)
        long_qty = max(quantity, ZERO)
        short_qty = max(-quantity, ZERO)
        lot = book.lots.get(instrument.symbol)
        basis = lot.basis if lot is not None else abs(value)
        units = abs(quantity) * instrument.multiplier
        average = (basis / units).quantize(Decimal("0.0001")) if units else ZERO
        prev_value = (quantity * instrument.price(previous) * instrument.multiplier).quantize(CENT)
        day_pl = value - prev_value
        day_pct = (day_pl / abs(prev_value) * 100).quantize(CENT) if prev_value else ZERO
        is_sweep = instrument.symbol == SWEEP_SYMBOL
        payload: dict[str, Any] = {
            "shortQuantity": jnum(short_qty),
            "averagePrice": jnum(average),
            "currentDayProfitLoss": jnum(day_pl),
            "currentDayProfitLossPercentage": jnum(day_pct),
            "longQuantity": jnum(long_qty),
            "settledLongQuantity": jnum(long_qty),
            "settledShortQuantity": jnum(short_qty),
            "instrument": instrument.position_instrument(day),
            "marketValue": jnum(value),
            "maintenanceRequirement": jnum(
                ZERO if is_sweep else (abs(value) * Decimal("0.3")).quantize(CENT)
            ),
        }
        if not is_sweep:
            if quantity > 0:
                payload["averageLongPrice"] = jnum(average)
                payload["taxLotAverageLongPrice"] = jnum(average)
                payload["longOpenProfitLoss"] = jnum(value - basis)
            else:
                payload["averageShortPrice"] = jnum(average)
                payload["taxLotAverageShortPrice"] = jnum(average)
                payload["shortOpenProfitLoss"] = jnum(basis + value)
        if quantity > 0:
            payload["previousSessionLongQuantity"] = jnum(long_qty)
        else:
            payload["previousSessionShortQuantity"] = jnum(short_qty)
        payload["currentDayCost"] = jnum(ZERO)
        return payload

    def _account_payload(self, book: _Book, *, positions: bool) -> dict[str, Any]:
        day = self.now.date()
        previous = previous_business_day(day)
        cash, sweep = self._cash(book)
        pending = sum((r.net_amount for r in book.rows if r.pending and r.net_amount > 0), ZERO)
        open_positions = self._positions(book, day)
        by_kind: dict[str, Decimal] = dict.fromkeys(
            ("EQUITY", "COLLECTIVE_INVESTMENT", "LONG_OPTION", "SHORT_OPTION", "MUTUAL_FUND"), ZERO
        )
        prev_total = ZERO
        for instrument, quantity, value in open_positions:
            kind = instrument.asset_type
            if kind == "OPTION":
                kind = "LONG_OPTION" if quantity > 0 else "SHORT_OPTION"
            if kind in by_kind:
                by_kind[kind] += value
            prev_total += (quantity * instrument.price(previous) * instrument.multiplier).quantize(
                CENT
            )
        total = sum((v for _, _, v in open_positions), ZERO)
        liquidation = cash + total
        initial_liquidation = cash + prev_total
        long_market = by_kind["EQUITY"] + by_kind["COLLECTIVE_INVESTMENT"]
        long_option = by_kind["LONG_OPTION"]
        short_option = by_kind["SHORT_OPTION"]
        mutual = by_kind["MUTUAL_FUND"]
        maintenance = (long_market * Decimal("0.3")).quantize(CENT) - short_option
        account: dict[str, Any] = {
            "type": book.spec.type,
            "accountNumber": book.spec.number,
            "roundTrips": 0,
            "isDayTrader": False,
            "isClosingOnlyRestricted": False,
            "pfcbFlag": False,
        }
        if positions:
            account["positions"] = [
                self._position_payload(book, i, q, v, day) for i, q, v in open_positions
            ]
        z = jnum(ZERO)
        if book.spec.type == "MARGIN":
            available = cash + sweep + (long_market / 2).quantize(CENT) - maintenance
            available = max(available, ZERO)
            account["initialBalances"] = {
                "accruedInterest": z,
                "availableFundsNonMarginableTrade": jnum(available),
                "bondValue": z,
                "buyingPower": jnum(available * 2),
                "cashBalance": jnum(cash),
                "cashAvailableForTrading": jnum(cash),
                "cashReceipts": z,
                "dayTradingBuyingPower": jnum(available * 4),
                "dayTradingBuyingPowerCall": z,
                "dayTradingEquityCall": z,
                "equity": jnum(initial_liquidation),
                "equityPercentage": jnum(Decimal(100)),
                "liquidationValue": jnum(initial_liquidation),
                "longMarginValue": jnum(long_market),
                "longOptionMarketValue": jnum(long_option),
                "longStockValue": jnum(long_market),
                "maintenanceCall": z,
                "maintenanceRequirement": jnum(maintenance),
                "margin": z,
                "marginEquity": z,
                "moneyMarketFund": jnum(sweep),
                "mutualFundValue": jnum(mutual),
                "regTCall": z,
                "shortMarginValue": z,
                "shortOptionMarketValue": jnum(short_option),
                "shortStockValue": z,
                "totalCash": jnum(cash + sweep),
                "isInCall": False,
                "unsettledCash": z,
                "pendingDeposits": jnum(pending),
                "marginBalance": z,
                "shortBalance": z,
                "accountValue": jnum(initial_liquidation),
            }
            account["currentBalances"] = {
                "accruedInterest": z,
                "cashBalance": jnum(cash),
                "cashReceipts": z,
                "longOptionMarketValue": jnum(long_option),
                "liquidationValue": jnum(liquidation),
                "longMarketValue": jnum(long_market),
                "moneyMarketFund": jnum(sweep),
                "savings": z,
                "shortMarketValue": z,
                "pendingDeposits": jnum(pending),
                "mutualFundValue": jnum(mutual),
                "bondValue": z,
                "shortOptionMarketValue": jnum(short_option),
                "availableFunds": jnum(available),
                "availableFundsNonMarginableTrade": jnum(available),
                "buyingPower": jnum(available * 2),
                "buyingPowerNonMarginableTrade": jnum(available),
                "dayTradingBuyingPower": jnum(available * 4),
                "equity": jnum(liquidation),
                "equityPercentage": jnum(Decimal(100)),
                "longMarginValue": jnum(long_market),
                "maintenanceCall": z,
                "maintenanceRequirement": jnum(maintenance),
                "marginBalance": z,
                "regTCall": z,
                "shortBalance": z,
                "shortMarginValue": z,
                "sma": jnum(available),
            }
            account["projectedBalances"] = {
                "availableFunds": jnum(available),
                "availableFundsNonMarginableTrade": jnum(available),
                "buyingPower": jnum(available * 2),
                "dayTradingBuyingPower": jnum(available * 4),
                "dayTradingBuyingPowerCall": z,
                "maintenanceCall": z,
                "regTCall": z,
                "isInCall": False,
                "stockBuyingPower": jnum(available * 2),
            }
        else:
            account["initialBalances"] = {
                "accruedInterest": z,
                "cashAvailableForTrading": jnum(cash),
                "cashAvailableForWithdrawal": jnum(cash),
                "cashBalance": jnum(cash),
                "bondValue": z,
                "cashReceipts": z,
                "liquidationValue": jnum(initial_liquidation),
                "longOptionMarketValue": z,
                "longStockValue": jnum(long_market),
                "moneyMarketFund": z,
                "mutualFundValue": jnum(mutual),
                "shortOptionMarketValue": z,
                "shortStockValue": z,
                "isInCall": False,
                "unsettledCash": z,
                "cashDebitCallValue": z,
                "pendingDeposits": jnum(pending),
                "accountValue": jnum(initial_liquidation),
            }
            account["currentBalances"] = {
                "accruedInterest": z,
                "cashBalance": jnum(cash),
                "cashReceipts": z,
                "longOptionMarketValue": z,
                "liquidationValue": jnum(liquidation),
                "longMarketValue": jnum(long_market),
                "moneyMarketFund": z,
                "savings": z,
                "shortMarketValue": z,
                "pendingDeposits": jnum(pending),
                "mutualFundValue": jnum(mutual),
                "bondValue": z,
                "shortOptionMarketValue": z,
                "cashAvailableForTrading": jnum(cash),
                "cashAvailableForWithdrawal": jnum(cash),
                "cashCall": z,
                "longNonMarginableMarketValue": jnum(long_market + mutual),
                "totalCash": jnum(cash),
                "cashDebitCallValue": z,
                "unsettledCash": z,
            }
            account["projectedBalances"] = {
                "cashAvailableForTrading": jnum(cash),
                "cashAvailableForWithdrawal": jnum(cash),
            }
        return {
            "securitiesAccount": account,
            "aggregatedBalance": {
                "currentLiquidationValue": jnum(liquidation),
                "liquidationValue": jnum(liquidation),
            },
        }
