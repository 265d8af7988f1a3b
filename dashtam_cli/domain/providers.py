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
from enum import StrEnum, unique
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


@unique
class AuthorizationMode(StrEnum):
    """How the browser step of an OAuth connect reaches us."""

    BROWSER = "browser"
    """Open the browser; a loopback HTTPS listener receives the redirect."""
    NO_BROWSER = "no_browser"
    """Print the authorize URL; the listener still receives the redirect."""
    MANUAL = "manual"
    """Print the authorize URL; the user pastes the redirected URL (or the bare code)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuthorizationOptions:
    """What the user asked for on ``providers connect``."""

    mode: AuthorizationMode = AuthorizationMode.BROWSER
    callback_url: str | None = None
    """Overrides the configured callback URL for this connect."""
    timeout: float = 300.0
    """Seconds to wait for the browser redirect."""


class ConnectInteraction(Protocol):
    """The person at the keyboard during a connect, as the front end reaches them.

    Implemented by the CLI (stderr prompts, stdin) and by tests. Every method must work without a
    TTY: ``ask`` and ``read_redirect`` then return None instead of blocking.
    """

    def notice(self, message: str) -> None:
        """Tell the user something (instructions, the certificate warning, progress)."""
        ...

    def show_authorize_url(self, url: str) -> None:
        """Print the authorize URL on a line of its own (stdout stays clean for programs)."""
        ...

    def open_browser(self, url: str) -> bool:
        """Open the URL in a browser; False when no browser could be opened."""
        ...

    def ask(self, prompt: str, *, secret: bool = False) -> str | None:
        """Ask one question (hidden input when ``secret``); None when nobody can answer."""
        ...

    def read_redirect(self, prompt: str) -> str | None:
        """Read the pasted redirect URL or bare code; None on end of input."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderGrant:
    """What a successful authorization yields, before it is bound to a connection.

    Attributes:
        secret: the serialized credentials to encrypt (tokens); never logged or printed.
        access_expires_at: when the access token expires.
        refresh_expires_at: when the login must be renewed (Schwab: exchange time + 7 days).
        identities: stable provider-side ids of the accounts this login sees
            (``provider_account_id`` values), used to find an existing connection to re-activate.
    """

    secret: bytes = field(repr=False)
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    identities: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return (
            f"ProviderGrant(<{len(self.secret)} secret bytes>, "
            f"access_expires_at={self.access_expires_at}, "
            f"refresh_expires_at={self.refresh_expires_at}, identities={len(self.identities)})"
        )


class OAuthProvider(Provider, Protocol):
    """A provider whose connections hold OAuth tokens (``capabilities.oauth`` is True)."""

    async def authorize(
        self, options: AuthorizationOptions, interaction: ConnectInteraction, *, now: datetime
    ) -> Result[ProviderGrant, DomainError]:
        """Run the browser (or paste) flow and exchange the code for tokens.

        Returns ``oauth_failed`` for a refused or timed-out login, ``config_invalid`` /
        ``invalid_url`` for bad app settings, ``provider_unavailable`` when the token endpoint
        cannot be reached.
        """
        ...

    async def refresh(
        self, connection: ProviderConnection, *, now: datetime
    ) -> Result[ProviderConnection, DomainError]:
        """Force an access-token refresh; the returned connection carries the new credentials
        (already persisted). ``reauth_required`` when the refresh token is dead."""
        ...


def is_oauth_provider(provider: Provider) -> bool:
    """True when the provider supports the OAuth connect and refresh flows."""
    return provider.capabilities.oauth and hasattr(provider, "authorize")


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
