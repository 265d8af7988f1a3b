"""The provider port: what a sync needs from a brokerage or bank, in the domain's vocabulary.

A provider adapter maps its own payloads **once** into these records (``Decimal`` money, domain
enums, raw payload kept). The sync handler knows nothing provider-specific beyond
:class:`ProviderCapabilities`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import DomainError, Result
from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.transactions import TransactionStatus, TransactionSubtype, TransactionType


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderCapabilities:
    """How a provider's history can be read.

    Attributes:
        max_window: the longest time span one transactions request may cover.
        history_limit: how far back history can exist (None: unknown, walk back until empty).
        empty_span_stop: on a first sync, stop walking back after this much empty history.
        overlap: incremental syncs re-read this much before the newest stored transaction,
            so late-posting and corrected rows are picked up.
        oauth: True when connections hold OAuth tokens that expire.
    """

    max_window: timedelta
    history_limit: timedelta | None = None
    empty_span_stop: timedelta = timedelta(days=730)
    overlap: timedelta = timedelta(days=7)
    oauth: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class FetchedHolding:
    """A position as the provider reports it (quantities signed: shorts negative)."""

    provider_holding_id: str
    symbol: str
    asset_type: AssetType
    quantity: Decimal
    currency: str
    security_name: str | None = None
    average_price: Decimal | None = None
    cost_basis: Decimal | None = None
    market_value: Decimal | None = None
    current_price: Decimal | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class FetchedAccount:
    """An account with its balances and positions, as one fetch returned it."""

    provider_account_id: str
    account_number_masked: str
    name: str
    account_type: AccountType
    currency: str
    balance: Decimal
    available_balance: Decimal | None = None
    cash_balance: Decimal | None = None
    holdings: Sequence[FetchedHolding] = ()
    raw: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class FetchedTransaction:
    """One transaction in the domain vocabulary; ``amount`` signed (+ in, - out)."""

    provider_transaction_id: str
    transaction_type: TransactionType
    subtype: TransactionSubtype
    status: TransactionStatus
    amount: Decimal
    currency: str
    transaction_date: date
    description: str = ""
    asset_type: AssetType | None = None
    symbol: str | None = None
    security_name: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    fees: Decimal | None = None
    settlement_date: date | None = None
    posted_at: datetime | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False)


class ProviderSession(Protocol):
    """An open, authenticated conversation with a provider for one connection."""

    @property
    def connection(self) -> ProviderConnection:
        """The connection, with any refreshed credentials or provider state to persist."""
        ...

    async def fetch_accounts(self) -> Result[Sequence[FetchedAccount], DomainError]:
        """Every account of the login, with balances and positions."""
        ...

    async def fetch_transactions(
        self, account: FetchedAccount, start: datetime, end: datetime
    ) -> Result[Sequence[FetchedTransaction], DomainError]:
        """Transactions of one account posted in ``[start, end)`` (at most ``max_window``)."""
        ...

    async def aclose(self) -> None:
        """Release network resources."""
        ...


class Provider(Protocol):
    """A provider adapter (``demo``, ``schwab``...)."""

    @property
    def slug(self) -> str:
        """The registry key, e.g. ``schwab``."""
        ...

    @property
    def display_name(self) -> str:
        """The name people know, e.g. ``Charles Schwab``."""
        ...

    @property
    def capabilities(self) -> ProviderCapabilities:
        """How its history can be read."""
        ...

    async def open_session(
        self, connection: ProviderConnection, *, now: datetime
    ) -> Result[ProviderSession, DomainError]:
        """Authenticate (refreshing tokens if needed, under a cross-process lock).

        Returns:
            The session, or ``reauth_required`` when the login must be renewed by the user,
            ``provider_unavailable`` after retries, ``secrets_*`` when credentials cannot be read.
        """
        ...


class ProviderRegistry:
    """Providers by slug."""

    def __init__(self, providers: Sequence[Provider] = ()) -> None:
        self._providers: dict[str, Provider] = {p.slug: p for p in providers}

    def register(self, provider: Provider) -> None:
        """Add (or replace) a provider."""
        self._providers[provider.slug] = provider

    def get(self, slug: str) -> Provider | None:
        """The provider registered under ``slug``."""
        return self._providers.get(slug)

    def slugs(self) -> list[str]:
        """Every registered slug, sorted."""
        return sorted(self._providers)

    def as_mapping(self) -> Mapping[str, Provider]:
        """A read-only view."""
        return dict(self._providers)
