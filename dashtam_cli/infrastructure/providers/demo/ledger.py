"""The demo's transaction history: exact row counts per day, generated one day at a time.

Each account spreads its rows over days by integer weights (weekday volume times a seeded
jitter, repeating every 364 days so the cumulative weight of any day is O(1)). The first row of
day ``o`` has the account-wide ordinal ``start(o)``:

* before the history: 0;
* in the history (the ``HISTORY_DAYS`` days before the anchor day):
  ``n * (W(o) - W(first)) // (W(anchor) - W(first))`` with ``W`` the cumulative weight, so
  exactly ``n`` rows lie before the anchor, whatever the weights;
* after the anchor: the same formula continued at ``max(n, minimum)`` rows per history span, so
  the virtual clock keeps producing rows at (at least) the history's daily rate.

The kind of a row comes from its ordinal: the account's weighted mix is a deck, and each
consecutive cycle of ``len(deck)`` rows plays one of a few seeded shuffles of it, so every kind
of the mix appears in every full cycle. A row's fields come from a ``random.Random`` seeded by
(seed, account, day): a day is always generated whole, so windows can cut anywhere and still
partition the history, and a row never changes except for its status.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from typing import Any, cast

from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.providers import FetchedTransaction
from dashtam_cli.domain.transactions import TransactionStatus
from dashtam_cli.infrastructure.providers.demo.catalog import PROFILES
from dashtam_cli.infrastructure.providers.demo.kinds import Day, Kind, Row
from dashtam_cli.infrastructure.providers.demo.market import (
    TAG_DECK,
    TAG_ROWS,
    TAG_WEIGHTS,
    Market,
    mix,
    seconds_table,
    stream,
)
from dashtam_cli.infrastructure.providers.demo.mixes import account_mix, payday_kind

HISTORY_DAYS = 5 * 365 + 1
"""Days of history before the anchor."""
PENDING_FOR = timedelta(hours=48)
"""A row younger than this (in virtual time) is ``pending``."""

_CYCLE = 364  # 52 weeks: the weight pattern repeats with weekdays aligned
_ONE_DAY = timedelta(days=1)
_PAYDAYS = frozenset({1, 15})
_SHUFFLES = 32  # distinct deck orders per account; each cycle of rows picks one by its number
_PENDING = TransactionStatus.PENDING

# --------------------------------------------------------------------------- materialisation

_FIELD_ORDER = (
    "provider_transaction_id",
    "transaction_type",
    "subtype",
    "status",
    "amount",
    "currency",
    "transaction_date",
    "description",
    "asset_type",
    "symbol",
    "security_name",
    "quantity",
    "unit_price",
    "fees",
    "settlement_date",
    "posted_at",
    "raw",
)
# The frozen dataclass __init__ costs ~5 us for 17 fields (one object.__setattr__ each); filling
# the slots column-wise through their descriptors costs a fraction of that. Only valid while the
# class is a plain slots dataclass with exactly these fields and no __post_init__: otherwise fall
# back to the constructor.
_FAST_PATH = (
    tuple(f.name for f in dataclasses.fields(FetchedTransaction)) == _FIELD_ORDER
    and not hasattr(FetchedTransaction, "__post_init__")
    and "__slots__" in FetchedTransaction.__dict__
)
_SETTERS: tuple[Any, ...] = (
    tuple(FetchedTransaction.__dict__[name].__set__ for name in _FIELD_ORDER) if _FAST_PATH else ()
)


def materialize(rows: Sequence[Row], pending_after: datetime) -> list[FetchedTransaction]:
    """Turn row tuples into :class:`FetchedTransaction` values.

    Rows posted after ``pending_after`` get the status ``pending``; older rows keep their final
    status.
    """
    if not rows:
        return []
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    posted = columns[15]
    recent = len(rows)  # rows are sorted by posted_at: only a tail can be pending
    while recent and posted[recent - 1] > pending_after:
        recent -= 1
    if recent < len(rows):
        columns[3] = [*columns[3][:recent], *repeat(_PENDING, len(rows) - recent)]
    if not _FAST_PATH:
        return [
            FetchedTransaction(**dict(zip(_FIELD_ORDER, values, strict=True)))
            for values in zip(*columns, strict=True)
        ]
    new = object.__new__
    objects = cast(list[FetchedTransaction], list(map(new, repeat(FetchedTransaction, len(rows)))))
    for setter, column in zip(_SETTERS, columns, strict=True):
        deque(map(setter, objects, column), maxlen=0)
    return objects


# --------------------------------------------------------------------------- one account

_NUMBERS: list[str] = []


def _numbers(count: int) -> list[str]:
    """``["0", "1", ...]`` up to ``count`` (kept: the same suffixes are needed every day)."""
    if len(_NUMBERS) < count:
        _NUMBERS.extend(map(str, range(len(_NUMBERS), count)))
    return _NUMBERS[:count]


class AccountLedger:
    """The whole (virtual) transaction history of one demo account, generated on demand."""

    def __init__(
        self, *, seed: int, index: int, rows: int, anchor_ordinal: int, market: Market
    ) -> None:
        profile = PROFILES[index]
        self._seed = seed
        self._index = index
        self._market = market
        self._post_from = profile.post_from
        self._post_span = profile.post_to - profile.post_from
        r = stream(seed, TAG_WEIGHTS, index)
        weekday = profile.weekday_weights
        # ordinal o falls on weekday (o + 6) % 7, and 364 % 7 == 0, so index o % 364 keeps it
        prefix = [0]
        for j in range(_CYCLE):
            prefix.append(prefix[-1] + weekday[(j + 6) % 7] * (50 + int(r() * 101)))
        self._prefix = prefix
        self._cycle_weight = prefix[-1]
        self._anchor = anchor_ordinal
        self._history_start = anchor_ordinal - HISTORY_DAYS
        self._w_start = self._cumulative(self._history_start)
        self._w_anchor = self._cumulative(anchor_ordinal)
        self._w_history = self._w_anchor - self._w_start
        self._rows = rows
        self._rate = max(rows, profile.min_per_kday * HISTORY_DAYS // 1_000)
        mixture = account_mix(index)
        self._kinds: tuple[Kind, ...] = tuple(kind for kind, _ in mixture)
        self._deck = tuple(i for i, (_, weight) in enumerate(mixture) for _ in range(weight))
        self._shuffles = tuple(self._shuffle(variant) for variant in range(_SHUFFLES))
        self._cycles: dict[int, tuple[Kind, ...]] = {}
        self._payday = (
            payday_kind(mix(seed, TAG_ROWS, index), anchor_ordinal)
            if profile.account_type is AccountType.CHECKING
            else None
        )

    def _shuffle(self, variant: int) -> tuple[Kind, ...]:
        """A seeded permutation of the deck (Fisher-Yates with the version-stable random())."""
        r = stream(self._seed, TAG_DECK, self._index, -1 - variant)
        deck = list(self._deck)
        for i in range(len(deck) - 1, 0, -1):
            j = int(r() * (i + 1))
            deck[i], deck[j] = deck[j], deck[i]
        return tuple(self._kinds[i] for i in deck)

    @property
    def rows_in_history(self) -> int:
        """How many rows lie before the anchor."""
        return self._rows

    @property
    def deck_size(self) -> int:
        """Rows per cycle: every kind of the account's mix appears in each full cycle."""
        return len(self._deck)

    def _cumulative(self, ordinal: int) -> int:
        cycles, offset = divmod(ordinal, _CYCLE)
        return cycles * self._cycle_weight + self._prefix[offset]

    def start(self, ordinal: int) -> int:
        """The account-wide ordinal of the first row posted on day ``ordinal``."""
        if ordinal <= self._history_start:
            return 0
        if ordinal <= self._anchor:
            return self._rows * (self._cumulative(ordinal) - self._w_start) // self._w_history
        return self._rows + self._rate * (self._cumulative(ordinal) - self._w_anchor) // (
            self._w_history
        )

    def count(self, ordinal: int) -> int:
        """How many rows are posted on day ``ordinal``."""
        return self.start(ordinal + 1) - self.start(ordinal)

    def _cycle_kinds(self, cycle: int) -> tuple[Kind, ...]:
        """The kinds of the rows of ``cycle``, in order: one of the deck's seeded shuffles."""
        found = self._cycles.get(cycle)
        if found is not None:
            return found
        if len(self._cycles) > 64:  # days come in order: old cycles are done
            self._cycles.clear()
        shuffles = self._shuffles
        chosen = shuffles[mix(self._seed, TAG_DECK, self._index, cycle) % len(shuffles)]
        self._cycles[cycle] = chosen
        return chosen

    def day_rows(self, ordinal: int) -> list[Row]:
        """Every row posted on day ``ordinal``, sorted by ``posted_at`` (final statuses).

        Row ``k`` of the day is its ``k``-th in time, id ``demo-<account>-<yyyymmdd>-<k>``.
        """
        first = self.start(ordinal)
        count = self.start(ordinal + 1) - first
        if count <= 0:
            return []
        the_date = date.fromordinal(ordinal)
        day = Day(the_date, self._market)
        midnight = datetime(the_date.year, the_date.month, the_date.day, tzinfo=UTC)
        prefix = f"demo-{self._index}-{the_date.year:04d}{the_date.month:02d}{the_date.day:02d}-"
        r = stream(self._seed, TAG_ROWS, self._index, ordinal)
        # row k posts in the k-th of ``count`` equal slices of the posting hours: sorted by design
        post_from, post_span = self._post_from, self._post_span
        times = [post_from + (k * post_span + int(r() * post_span)) // count for k in range(count)]
        posted = list(map(midnight.__add__, map(seconds_table().__getitem__, times)))
        ids = list(map(prefix.__add__, _numbers(count)))
        rows: list[Row] = []
        append = rows.append
        done, ordinal_in_account = 0, first
        if self._payday is not None and the_date.day in _PAYDAYS:
            append(self._payday(day, r, ids[0], posted[0]))
            done, ordinal_in_account = 1, first + 1
        size = len(self._deck)
        while done < count:
            cycle, slot = divmod(ordinal_in_account, size)
            take = min(size - slot, count - done)
            kinds = self._cycle_kinds(cycle)[slot : slot + take]
            stop = done + take
            for kind, pid, at in zip(kinds, ids[done:stop], posted[done:stop], strict=True):
                append(kind(day, r, pid, at))
            done, ordinal_in_account = stop, ordinal_in_account + take
        return rows

    def rows_between(self, start: datetime, end: datetime, now: datetime) -> list[Row]:
        """Rows posted in ``[start, end)`` and not after ``now``, sorted by ``posted_at``."""
        last_instant = min(end - timedelta(microseconds=1), now)
        if last_instant < start:
            return []
        first_day = max(start.astimezone(UTC).date().toordinal(), self._history_start)
        last_day = last_instant.astimezone(UTC).date().toordinal()
        out: list[Row] = []
        for ordinal in range(first_day, last_day + 1):
            rows = self.day_rows(ordinal)
            if not rows:
                continue
            the_date = date.fromordinal(ordinal)
            midnight = datetime(the_date.year, the_date.month, the_date.day, tzinfo=UTC)
            if midnight >= start and midnight + _ONE_DAY <= end and midnight + _ONE_DAY <= now:
                out.extend(rows)
            else:
                out.extend(row for row in rows if start <= row[15] < end and row[15] <= now)
        return out


# --------------------------------------------------------------------------- all accounts


def split_rows(total: int, accounts: int) -> list[int]:
    """Share ``total`` rows between the first ``accounts`` profiles by weight, exactly."""
    shares = [PROFILES[i].share for i in range(accounts)]
    weight = sum(shares)
    counts: list[int] = []
    cumulative = 0
    for share in shares:
        counts.append(total * (cumulative + share) // weight - total * cumulative // weight)
        cumulative += share
    return counts


class Ledger:
    """Every account's history for one demo connection (seed, sizes and anchor)."""

    def __init__(self, *, seed: int, accounts: int, transactions: int, anchor: datetime) -> None:
        anchor_ordinal = anchor.astimezone(UTC).date().toordinal()
        self.market = Market(seed, anchor_ordinal)
        self.accounts = tuple(
            AccountLedger(
                seed=seed,
                index=index,
                rows=rows,
                anchor_ordinal=anchor_ordinal,
                market=self.market,
            )
            for index, rows in enumerate(split_rows(transactions, accounts))
        )

    def transactions(
        self, index: int, start: datetime, end: datetime, now: datetime
    ) -> list[FetchedTransaction]:
        """Account ``index``'s rows posted in ``[start, end)`` up to virtual ``now``."""
        rows = self.accounts[index].rows_between(start, end, now)
        return materialize(rows, now - PENDING_FOR)
