"""Deterministic randomness, prices and option contracts for the demo.

Every value is a pure function of integers: :func:`mix` is a SplitMix64-style mixer (never Python's
salted ``hash()``), and per-stream generators are ``random.Random`` seeded with a mixed integer, of
which only ``random()`` is used (the one method whose sequence Python guarantees across versions).
Prices are integer cents computed with integer arithmetic; no float ever reaches an amount.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import date, timedelta
from functools import cache, lru_cache
from itertools import accumulate, repeat

from dashtam_cli.infrastructure.providers.demo.catalog import MONTHS, SECURITIES

_MASK = (1 << 64) - 1
_BLOCK = 16  # days of closes drawn from one stream
_GOLDEN = 0x9E3779B97F4A7C15

type RandFn = Callable[[], float]
"""A bound ``random.Random().random``: a float in ``[0, 1)`` used only to pick integers."""

# stream tags: keep them distinct so streams never collide
TAG_ROWS = 1
TAG_DECK = 2
TAG_WEIGHTS = 3
TAG_PRICE = 4
TAG_NOISE = 5
TAG_ACCOUNT = 6
TAG_HOLDINGS = 7
TAG_BALANCE = 8


def stream(*parts: int) -> RandFn:
    """A deterministic generator for the stream named by ``parts`` (demo data, not secrets)."""
    return random.Random(mix(*parts)).random  # noqa: S311


def mix(*parts: int) -> int:
    """Mix integers into one well-spread 64-bit integer (SplitMix64 finaliser per part)."""
    h = _GOLDEN
    for part in parts:
        h = ((h ^ (part & _MASK)) + _GOLDEN) & _MASK
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK
        h ^= h >> 31
    return h


@cache
def seconds_table() -> tuple[timedelta, ...]:
    """``timedelta(seconds=i)`` for every second of a day (adding one is ~10x cheaper than
    building a fresh ``timedelta``)."""
    return tuple(accumulate(repeat(timedelta(seconds=1), 86_399), initial=timedelta(0)))


@lru_cache(maxsize=1024)
def expiry_after(year: int, month: int, months: int) -> date:
    """The monthly expiration ``months`` months after ``year``-``month``."""
    return third_friday(*add_months(year, month, months))


@lru_cache(maxsize=8192)
def contract_labels(root: str, expiry: date, call: bool, strike_cents: int) -> tuple[str, str]:
    """``(OCC symbol, readable name)`` of a contract (cached: contracts repeat a lot)."""
    return occ_symbol(root, expiry, call, strike_cents), option_name(
        root, expiry, call, strike_cents
    )


def third_friday(year: int, month: int) -> date:
    """The standard monthly option expiration day."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    """``(year, month)`` moved by ``months``."""
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def occ_symbol(root: str, expiry: date, call: bool, strike_cents: int) -> str:
    """The 21-character OCC option symbol, e.g. ``AAPL  260116C00150000``."""
    return (
        f"{root:<6}{expiry.year % 100:02d}{expiry.month:02d}{expiry.day:02d}"
        f"{'C' if call else 'P'}{strike_cents * 10:08d}"
    )


def option_name(root: str, expiry: date, call: bool, strike_cents: int) -> str:
    """A readable contract name, e.g. ``AAPL Jan 16 2026 150.00 Call``."""
    return (
        f"{root} {MONTHS[expiry.month - 1]} {expiry.day:02d} {expiry.year} "
        f"{strike_cents // 100}.{strike_cents % 100:02d} {'Call' if call else 'Put'}"
    )


def option_premium_cents(underlying: int, strike: int, call: bool, days: int) -> int:
    """A plausible per-share premium: intrinsic value plus ~30% annual volatility time value."""
    intrinsic = max(0, underlying - strike) if call else max(0, strike - underlying)
    # 0.3 * 0.4 * S * sqrt(T) (an at-the-money approximation), with integer square roots
    root = math.isqrt(max(days, 0) * 1_000_000 // 365)  # sqrt(T) in thousandths
    time_value = underlying * 12 * root // 100_000
    moneyness = abs(underlying - strike) * 100 // max(underlying, 1)
    time_value = time_value * 100 // (100 + 4 * moneyness)
    return max(5, intrinsic + time_value)


def round_strike(cents: int) -> int:
    """Round a price to a listed strike: $1 steps below $50, $5 below $500, $10 above."""
    step = 100 if cents < 5_000 else 500 if cents < 50_000 else 1_000
    return max(step, (cents + step // 2) // step * step)


class Market:
    """Daily closes of every catalogue security for one seed, anchored at one day.

    A close drifts along a per-security yearly trend with bounded daily noise; the trend passes
    through the (seed-scaled) catalogue price at the anchor day. Money market funds stay at $1.00.
    """

    def __init__(self, seed: int, anchor_ordinal: int) -> None:
        self._seed = seed
        self._anchor = anchor_ordinal
        self._base: list[int] = []
        self._growth: list[int] = []
        self._vol: list[int] = []
        for index, security in enumerate(SECURITIES):
            h = mix(seed, TAG_PRICE, index)
            if security.base_cents == 100:  # a money market fund: pinned at $1.00
                self._base.append(100)
                self._growth.append(0)
                self._vol.append(0)
                continue
            self._base.append(max(100, security.base_cents * (80 + h % 41) // 100))
            self._growth.append((h >> 8) % 3300 - 800)  # -8% .. +25% a year, in basis points
            self._vol.append(60 + (h >> 20) % 240)  # daily noise up to 0.6% .. 3.0%
        self._closes: dict[int, list[int]] = {}

    def close(self, security: int, ordinal: int) -> int:
        """The closing price in cents of ``SECURITIES[security]`` on the day ``ordinal``."""
        block, offset = divmod(ordinal, _BLOCK)
        key = block * 256 + security
        closes = self._closes.get(key)
        if closes is None:
            closes = self._closes[key] = self._block(security, block)
        return closes[offset]

    def _block(self, security: int, block: int) -> list[int]:
        """The closes of ``_BLOCK`` consecutive days (one seeded stream per block)."""
        base, vol = self._base[security], self._vol[security]
        if vol == 0:
            return [base] * _BLOCK
        r = stream(self._seed, TAG_NOISE, security, block)
        growth, anchor, span = self._growth[security], self._anchor, 2 * vol + 1
        closes = []
        for ordinal in range(block * _BLOCK, (block + 1) * _BLOCK):
            factor = 10_000 + growth * (ordinal - anchor) // 365 + int(r() * span) - vol
            closes.append(base * max(factor, 1_500) // 10_000 or 1)
        return closes

    def price_at(self, security: int, ordinal: int, second: int) -> int:
        """The price in cents at ``second`` of day ``ordinal`` (between two closes)."""
        before = self.close(security, ordinal - 1)
        after = self.close(security, ordinal)
        return before + (after - before) * second // 86_400
