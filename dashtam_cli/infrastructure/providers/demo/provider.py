"""The ``demo`` provider: a real :class:`~dashtam_cli.domain.providers.Provider` with no bank.

A demo connection's ``provider_state`` holds everything the data is a function of::

    {"version": 1, "seed": 42, "accounts": 6, "transactions": 5000,
     "anchor": "2025-01-01T00:00:00+00:00", "epoch": 0, "fail_accounts": []}

The **virtual clock**: a session sees time ``min(anchor + epoch x 6 h, now)``. Exactly
``transactions`` rows are posted before the anchor (five years of history); the session's
:attr:`DemoSession.connection` carries ``epoch + 1``, so each later sync of the connection sees
six more virtual hours: new rows, pending rows settling (or a few being cancelled), and prices
moving. ``fail_accounts`` lists account indices whose transaction fetch fails with
``provider_unavailable`` (to exercise partial syncs).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.providers import (
    FetchedAccount,
    FetchedTransaction,
    ProviderCapabilities,
    ProviderSession,
)
from dashtam_cli.infrastructure.providers.demo.catalog import MAX_ACCOUNTS
from dashtam_cli.infrastructure.providers.demo.ledger import HISTORY_DAYS, Ledger
from dashtam_cli.infrastructure.providers.demo.portfolio import Portfolio, account_id

DEMO_SLUG = "demo"
STATE_VERSION = 1
MAX_TRANSACTIONS = 10_000_000
MAX_EPOCH = 1_000_000
EPOCH_STEP = timedelta(hours=6)
"""Virtual time added by each sync."""
ANCHOR_LAG = timedelta(days=30)
"""The anchor sits this long before the connection was created (room for the clock to run)."""
HISTORY_SPAN = timedelta(days=HISTORY_DAYS) + ANCHOR_LAG
"""From the first history day to the creation of the connection (plus < 1 day)."""
CAPABILITIES = ProviderCapabilities(
    max_window=timedelta(days=92),
    history_limit=HISTORY_SPAN + timedelta(days=64),  # the first sync may run weeks later
    empty_span_stop=timedelta(days=730),
    overlap=timedelta(days=7),
    oauth=False,
)
_HINT = "disconnect it (`dashtam providers disconnect demo --yes`) and run `dashtam demo` again"
_KEYS = ("version", "seed", "accounts", "transactions", "anchor", "epoch", "fail_accounts")


def _check_sizes(*, seed: int, accounts: int, transactions: int) -> str | None:
    """A message when a size is out of range, else None."""
    for name, value in (("seed", seed), ("accounts", accounts), ("transactions", transactions)):
        if type(value) is not int:
            return f"{name} must be an integer, got {type(value).__name__}"
    if abs(seed) >= 2**63:
        return f"seed must fit in 64 bits, got {seed}"
    if not 1 <= accounts <= MAX_ACCOUNTS:
        return f"accounts must be between 1 and {MAX_ACCOUNTS}, got {accounts}"
    if not 0 <= transactions <= MAX_TRANSACTIONS:
        return f"transactions must be between 0 and {MAX_TRANSACTIONS:,}, got {transactions}"
    return None


def demo_provider_state(
    *,
    seed: int = 42,
    accounts: int = 6,
    transactions: int = 5_000,
    created_at: datetime,
    fail_accounts: Sequence[int] = (),
) -> dict[str, object]:
    """The ``provider_state`` of a new demo connection.

    Args:
        seed: any 64-bit integer; the same seed (and anchor) gives the same data everywhere.
        accounts: 1..7: brokerage, roth_ira, 401k, checking, savings, credit_card, hsa (in order).
        transactions: 0..10,000,000 rows in the history before the anchor.
        created_at: when the connection is created (timezone-aware); the anchor is 30 days
            earlier, at midnight UTC.
        fail_accounts: account indices whose transaction fetch fails (for partial-sync tests).

    Raises:
        ValueError: a size or index is out of range, or ``created_at`` is naive (callers
            validate user input first; this guards the state).
    """
    problem = _check_sizes(seed=seed, accounts=accounts, transactions=transactions)
    if problem:
        raise ValueError(problem)
    if created_at.tzinfo is None or created_at.utcoffset() is None:
        raise ValueError("created_at must be timezone-aware")
    failing = sorted(set(fail_accounts))
    if any(type(i) is not int or not 0 <= i < accounts for i in failing):
        raise ValueError(f"fail_accounts must be account indices below {accounts}")
    lagged = created_at.astimezone(UTC) - ANCHOR_LAG
    anchor = datetime(lagged.year, lagged.month, lagged.day, tzinfo=UTC)
    return {
        "version": STATE_VERSION,
        "seed": seed,
        "accounts": accounts,
        "transactions": transactions,
        "anchor": anchor.isoformat(),
        "epoch": 0,
        "fail_accounts": failing,
    }


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoState:
    """A validated demo ``provider_state``."""

    seed: int
    accounts: int
    transactions: int
    anchor: datetime
    epoch: int
    fail_accounts: frozenset[int]

    def virtual_now(self, now: datetime) -> datetime:
        """The session's clock: ``min(anchor + epoch x 6 h, now)``, in UTC."""
        return min(self.anchor + self.epoch * EPOCH_STEP, now).astimezone(UTC)


def parse_demo_state(state: Mapping[str, Any]) -> Result[DemoState, DomainError]:
    """Validate a stored ``provider_state``; ``provider_data_invalid`` when it is broken."""

    def broken(why: str) -> Result[DemoState, DomainError]:
        return fail(
            ErrorCode.PROVIDER_DATA_INVALID,
            f"the demo connection's state is invalid: {why}",
            hint=_HINT,
        )

    if not isinstance(state, Mapping):
        return broken("it is not an object")
    missing = [key for key in _KEYS if key not in state]
    if missing:
        return broken(f"missing {', '.join(missing)}")
    if type(state["version"]) is not int or state["version"] != STATE_VERSION:
        return broken(f"unsupported version {state['version']!r} (expected {STATE_VERSION})")
    seed, accounts, transactions = state["seed"], state["accounts"], state["transactions"]
    problem = _check_sizes(seed=seed, accounts=accounts, transactions=transactions)
    if problem:
        return broken(problem)
    epoch = state["epoch"]
    if type(epoch) is not int or not 0 <= epoch <= MAX_EPOCH:
        return broken(f"epoch must be an integer between 0 and {MAX_EPOCH}")
    failing = state["fail_accounts"]
    if not isinstance(failing, list) or any(
        type(i) is not int or not 0 <= i < MAX_ACCOUNTS for i in failing
    ):
        return broken("fail_accounts must be a list of account indices")
    raw_anchor = state["anchor"]
    if not isinstance(raw_anchor, str):
        return broken("anchor must be an ISO 8601 instant")
    try:
        anchor = datetime.fromisoformat(raw_anchor)
    except ValueError:
        return broken(f"anchor {raw_anchor!r} is not an ISO 8601 instant")
    if anchor.tzinfo is None or anchor.utcoffset() is None:
        return broken(f"anchor {raw_anchor!r} has no timezone")
    return ok(
        DemoState(
            seed=seed,
            accounts=accounts,
            transactions=transactions,
            anchor=anchor.astimezone(UTC),
            epoch=epoch,
            fail_accounts=frozenset(failing),
        )
    )


def _require_aware(*instants: datetime) -> None:
    for instant in instants:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("the demo provider needs timezone-aware datetimes")


class DemoSession:
    """One sync's view of a demo connection, frozen at its virtual instant."""

    def __init__(
        self, *, state: DemoState, connection: ProviderConnection, virtual_now: datetime
    ) -> None:
        self._state = state
        self._connection = connection
        self._now = virtual_now
        self._ledger = Ledger(
            seed=state.seed,
            accounts=state.accounts,
            transactions=state.transactions,
            anchor=state.anchor,
        )
        self._portfolio = Portfolio(
            seed=state.seed,
            accounts=state.accounts,
            market=self._ledger.market,
            anchor=state.anchor,
        )
        self._indices = {account_id(i): i for i in range(state.accounts)}

    @property
    def connection(self) -> ProviderConnection:
        """The connection with ``epoch + 1``: persist it after a successful sync."""
        return self._connection

    @property
    def virtual_now(self) -> datetime:
        """The instant this session's data is as of."""
        return self._now

    async def fetch_accounts(self) -> Result[Sequence[FetchedAccount], DomainError]:
        """Every demo account with balances and positions at the virtual instant."""
        return ok(self._portfolio.accounts(self._now))

    async def fetch_transactions(
        self, account: FetchedAccount, start: datetime, end: datetime
    ) -> Result[Sequence[FetchedTransaction], DomainError]:
        """Rows posted in ``[start, end)`` and by the virtual instant, sorted by ``posted_at``.

        Any window length is served (the sync keeps to ``max_window``); only its days are
        generated.

        Returns:
            The rows; ``not_found`` for an account of another connection;
            ``provider_unavailable`` for an account listed in ``fail_accounts``.

        Raises:
            ValueError: ``start`` or ``end`` is naive (a bug in the caller).
        """
        _require_aware(start, end)
        index = self._indices.get(account.provider_account_id)
        if index is None:
            return fail(
                ErrorCode.NOT_FOUND,
                f"the demo connection has no account {account.provider_account_id!r}",
            )
        if index in self._state.fail_accounts:
            return fail(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"the demo provider is failing {account.name!r} on purpose",
                hint="this demo connection lists the account in fail_accounts",
                details={"account": account.provider_account_id},
            )
        if not gc.isenabled():
            return ok(self._ledger.transactions(index, start, end, self._now))
        # rows are acyclic: collections while making thousands of them only cost time
        gc.disable()
        try:
            return ok(self._ledger.transactions(index, start, end, self._now))
        finally:
            gc.enable()

    async def aclose(self) -> None:
        """Nothing to release."""


class DemoProvider:
    """The built-in ``demo`` provider (deterministic data from a seed, no network)."""

    @property
    def slug(self) -> str:
        """``demo``."""
        return DEMO_SLUG

    @property
    def display_name(self) -> str:
        """``Dashtam demo``."""
        return "Dashtam demo"

    @property
    def capabilities(self) -> ProviderCapabilities:
        """92-day windows over ~5 years of history, no OAuth."""
        return CAPABILITIES

    async def open_session(
        self, connection: ProviderConnection, *, now: datetime
    ) -> Result[ProviderSession, DomainError]:
        """Open a session at virtual time ``min(anchor + epoch x 6 h, now)``.

        Returns:
            The session, whose ``connection`` carries ``epoch + 1``; ``provider_data_invalid``
            when the connection's state is missing or broken.

        Raises:
            ValueError: ``now`` is naive (a bug in the caller).
        """
        _require_aware(now)
        parsed = parse_demo_state(connection.provider_state)
        if isinstance(parsed, Failure):
            return parsed
        state = parsed.value
        advanced = connection.with_provider_state(
            {**connection.provider_state, "epoch": state.epoch + 1}, now=now
        )
        session: ProviderSession = DemoSession(
            state=state, connection=advanced, virtual_now=state.virtual_now(now)
        )
        return ok(session)
