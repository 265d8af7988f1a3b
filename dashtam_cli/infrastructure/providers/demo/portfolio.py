"""The demo's accounts, balances and positions at a virtual instant.

What each account holds is fixed by the seed (symbols, quantities, average prices); prices and
cash move with virtual time, so every sync sees slightly different balances. Market values are
exactly ``quantity x price`` (x100 for option contracts); investment balances are exactly
``cash + sum(market values)``. A credit card's balance is the positive amount owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.providers import FetchedAccount, FetchedHolding
from dashtam_cli.infrastructure.providers.demo.catalog import (
    EQUITIES,
    ETFS,
    MONEY_MARKETS,
    MUTUAL_FUNDS,
    OPTION_UNDERLYINGS,
    PROFILES,
    SECURITIES,
    SECURITY_ID,
    Security,
)
from dashtam_cli.infrastructure.providers.demo.kinds import CENT, MILLI, TICK, USD, whole
from dashtam_cli.infrastructure.providers.demo.market import (
    TAG_ACCOUNT,
    TAG_BALANCE,
    TAG_HOLDINGS,
    Market,
    RandFn,
    add_months,
    mix,
    occ_symbol,
    option_name,
    option_premium_cents,
    round_strike,
    stream,
    third_friday,
)

_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_BUCKET = timedelta(hours=6)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Position:
    """A fixed position: ``security`` is the underlying for an option."""

    security: int
    quantity: Decimal
    average_ticks: int  # average price per share in 1/10,000 dollar
    option_call: bool | None = None
    option_strike: int = 0  # cents


@dataclass(frozen=True, slots=True)
class _AccountPlan:
    index: int
    account_type: AccountType
    name: str
    last4: str
    cash_cents: int
    positions: tuple[_Position, ...]


def account_id(index: int) -> str:
    """The stable provider-side id of demo account ``index``."""
    return f"demo-acct-{index}"


def _sample[T](r: RandFn, items: tuple[T, ...], count: int) -> list[T]:
    pool = list(items)
    picked: list[T] = []
    for _ in range(min(count, len(pool))):
        picked.append(pool.pop(int(r() * len(pool))))
    return picked


def _between(r: RandFn, low: int, high: int) -> int:
    """An integer in ``[low, high]``."""
    return low + int(r() * (high - low + 1))


class Portfolio:
    """Positions and balances of every account of one demo connection."""

    def __init__(self, *, seed: int, accounts: int, market: Market, anchor: datetime) -> None:
        self._seed = seed
        self._market = market
        self._anchor_ordinal = anchor.astimezone(UTC).date().toordinal()
        self._plans = tuple(self._plan(index) for index in range(accounts))

    # ------------------------------------------------------------------ plans (fixed by seed)

    def _long(self, r: RandFn, security: Security, low: int, high: int) -> _Position:
        sid = SECURITY_ID[security.symbol]
        close = self._market.close(sid, self._anchor_ordinal)
        target = _between(r, low, high)
        average = close * _between(r, 60, 130) + int(r() * 100)  # ticks
        if security.asset_type is AssetType.MUTUAL_FUND:
            quantity = MILLI * max(1, target * 1_000 // close)
        else:
            quantity = whole(max(1, target // close))
        return _Position(sid, quantity, max(1, average))

    def _option(self, r: RandFn, *, call: bool, short: bool) -> _Position:
        root = OPTION_UNDERLYINGS[int(r() * len(OPTION_UNDERLYINGS))]
        sid = SECURITY_ID[root]
        close = self._market.close(sid, self._anchor_ordinal)
        strike = round_strike(close * _between(r, 95, 115 if call else 100) // 100)
        premium = option_premium_cents(close, strike, call, 120)
        contracts = _between(r, 1, 10)
        return _Position(
            sid,
            whole(-contracts if short else contracts),
            premium * _between(r, 70, 130) + int(r() * 100),
            option_call=call,
            option_strike=strike,
        )

    def _money_market(self, r: RandFn, low: int, high: int) -> _Position:
        security = MONEY_MARKETS[int(r() * len(MONEY_MARKETS))]
        return _Position(SECURITY_ID[security.symbol], CENT * _between(r, low, high), 10_000)

    def _plan(self, index: int) -> _AccountPlan:
        profile = PROFILES[index]
        kind = profile.account_type
        r = stream(self._seed, TAG_HOLDINGS, index)
        positions: list[_Position] = []
        if kind is AccountType.BROKERAGE:
            stocks = _sample(r, EQUITIES, _between(r, 10, 15))
            shorted = stocks.pop()
            positions += [self._long(r, s, 200_000, 6_000_000) for s in stocks]
            positions += [self._long(r, s, 500_000, 8_000_000) for s in _sample(r, ETFS, 3)]
            positions.append(self._long(r, _sample(r, MUTUAL_FUNDS, 1)[0], 300_000, 3_000_000))
            short = self._long(r, shorted, 100_000, 1_500_000)
            positions.append(_Position(short.security, -short.quantity, short.average_ticks))
            positions.append(self._option(r, call=True, short=False))
            positions.append(self._option(r, call=False, short=True))
            positions.append(self._money_market(r, 100_000, 5_000_000))
            cash = _between(r, 100_000, 4_000_000)
        elif kind is AccountType.ROTH_IRA:
            stocks = _sample(r, EQUITIES, _between(r, 5, 9))
            positions += [self._long(r, s, 100_000, 2_500_000) for s in stocks]
            positions += [self._long(r, s, 300_000, 4_000_000) for s in _sample(r, ETFS, 3)]
            funds = _sample(r, MUTUAL_FUNDS, 2)
            positions += [self._long(r, s, 200_000, 3_000_000) for s in funds]
            positions.append(self._money_market(r, 10_000, 500_000))
            cash = _between(r, 10_000, 500_000)
        elif profile.investment:  # 401(k) and HSA: mostly funds
            funds = _sample(r, MUTUAL_FUNDS, _between(r, 7, 10))
            positions += [self._long(r, s, 100_000, 6_000_000) for s in funds]
            positions += [self._long(r, s, 100_000, 2_000_000) for s in _sample(r, ETFS, 2)]
            positions.append(self._money_market(r, 10_000, 800_000))
            cash = _between(r, 0, 200_000)
        elif kind is AccountType.CHECKING:
            cash = _between(r, 300_000, 1_500_000)
        elif kind is AccountType.SAVINGS:
            cash = _between(r, 1_000_000, 6_000_000)
        else:  # credit card: the base amount owed
            cash = _between(r, 20_000, 300_000)
        last4 = f"{mix(self._seed, TAG_ACCOUNT, index) % 10_000:04d}"
        return _AccountPlan(index, kind, profile.name, last4, cash, tuple(positions))

    # ------------------------------------------------------------------ state at an instant

    def _noise(self, index: int, now: datetime, amplitude: int) -> int:
        """A different value every 6 virtual hours, within ``+-amplitude``."""
        bucket = (now - _EPOCH) // _BUCKET
        return mix(self._seed, TAG_BALANCE, index, bucket) % (2 * amplitude + 1) - amplitude

    def _holding(self, plan: _AccountPlan, position: _Position, now: datetime) -> FetchedHolding:
        ordinal = now.date().toordinal()
        second = now.hour * 3600 + now.minute * 60 + now.second
        underlying = self._market.price_at(position.security, ordinal, second)
        security = SECURITIES[position.security]
        average = TICK * position.average_ticks
        if position.option_call is None:
            price = CENT * underlying
            multiplier = _ONE
            symbol, name, asset_type = security.symbol, security.name, security.asset_type
        else:
            call, strike = position.option_call, position.option_strike
            expiry = _quarterly_expiry(now.date())
            days = (expiry - now.date()).days
            price = CENT * option_premium_cents(underlying, strike, call, days)
            multiplier = _HUNDRED
            symbol = occ_symbol(security.symbol, expiry, call, strike)
            name, asset_type = option_name(security.symbol, expiry, call, strike), AssetType.OPTION
        quantity = position.quantity
        return FetchedHolding(
            provider_holding_id=f"demo-{plan.index}-pos-{symbol.replace(' ', '')}",
            symbol=symbol,
            asset_type=asset_type,
            quantity=quantity,
            currency=USD,
            security_name=name,
            average_price=average,
            cost_basis=(quantity * average * multiplier).quantize(CENT, ROUND_HALF_EVEN),
            market_value=_tidy(quantity * price * multiplier),
            current_price=price,
            raw={"source": "demo", "symbol": symbol},
        )

    def account(self, index: int, now: datetime) -> FetchedAccount:
        """Account ``index`` with its balances and positions at virtual ``now``."""
        plan = self._plans[index]
        kind = plan.account_type
        holdings: tuple[FetchedHolding, ...] = ()
        if plan.positions:
            holdings = tuple(self._holding(plan, p, now) for p in plan.positions)
            cash = CENT * max(0, plan.cash_cents + self._noise(index, now, plan.cash_cents // 20))
            balance = sum((h.market_value or Decimal(0) for h in holdings), cash)
            available: Decimal | None = cash
            cash_balance: Decimal | None = cash
        elif kind is AccountType.CREDIT_CARD:  # the positive amount owed, rising over the month
            limit = 1_500_000 + plan.cash_cents * 5
            owed = plan.cash_cents + plan.cash_cents * now.day // 15
            owed = max(0, owed + self._noise(index, now, 5_000))
            balance, available, cash_balance = CENT * owed, CENT * (limit - owed), None
        else:
            base = plan.cash_cents
            if kind is AccountType.SAVINGS:  # ~3.5% a year of interest and saving
                days = now.date().toordinal() - self._anchor_ordinal
                base = base * (10_000 + 350 * days // 365) // 10_000
            else:  # a payday sawtooth: highest after the 1st and the 15th
                base += base * (15 - (now.day - 1) % 15) // 30
            balance = CENT * max(100, base + self._noise(index, now, max(1, base // 50)))
            available = cash_balance = balance
        return FetchedAccount(
            provider_account_id=account_id(index),
            account_number_masked=f"****{plan.last4}",
            name=plan.name,
            account_type=kind,
            currency=USD,
            balance=balance,
            available_balance=available,
            cash_balance=cash_balance,
            holdings=holdings,
            raw={"source": "demo", "index": index, "type": kind.value},
        )

    def accounts(self, now: datetime) -> list[FetchedAccount]:
        """Every account at virtual ``now``."""
        return [self.account(plan.index, now) for plan in self._plans]


def _tidy(value: Decimal) -> Decimal:
    """Drop trailing decimal zeros beyond cents when that is exact (``12.3400`` -> ``12.34``)."""
    cents = value.quantize(CENT)
    return cents if cents == value else value


def _quarterly_expiry(today: date) -> date:
    """The first quarterly (Mar/Jun/Sep/Dec) third Friday at least 30 days after ``today``."""
    year, month = today.year, today.month
    for step in range(16):
        y, m = add_months(year, month, step)
        if m % 3 == 0:
            expiry = third_friday(y, m)
            if (expiry - today).days >= 30:
                return expiry
    raise AssertionError("unreachable: a quarterly expiry exists within 16 months")
