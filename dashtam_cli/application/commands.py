"""Commands: frozen, kw_only dataclasses, one per state-changing use case (imperative names)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, kw_only=True, slots=True)
class InitializeWorkspace:
    """``dashtam init``: directories, database schema and data key (idempotent)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class UpgradeDatabase:
    """``dashtam db upgrade``: apply pending schema migrations."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RotateKeys:
    """``dashtam keys rotate``: re-encrypt every stored secret under a new data key."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncConnections:
    """``dashtam sync``: sync one connection (by id prefix or alias) or every active one.

    ``since`` re-reads transactions from that date; ``full`` re-reads the whole history the
    provider offers. Without either, a sync continues from the newest stored transaction minus
    the provider's overlap (and resumes an unfinished first backfill).
    """

    connection_ref: str | None = None
    since: date | None = None
    full: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class StartDemo:
    """``dashtam demo``: create (or reuse) the demo connection; the CLI then syncs it."""

    accounts: int | None = None
    transactions: int | None = None
    seed: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RenameConnection:
    """``dashtam providers rename REF ALIAS``: give a connection a new, unique alias."""

    connection_ref: str
    alias: str


@dataclass(frozen=True, kw_only=True, slots=True)
class DisconnectConnection:
    """``dashtam providers disconnect REF``: wipe the credentials, keep the history."""

    connection_ref: str


# ============================================================================ exports
# ``dashtam export``. A sink is handed in by the front end (it owns files and streams); this
# section's imports live here so the module stays append-only.
from dataclasses import field  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

from dashtam_cli.application.queries import TransactionFilter  # noqa: E402

if TYPE_CHECKING:
    from dashtam_cli.application.ports import ExportSink


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportTransactions:
    """``dashtam export transactions``: the transactions matching ``filters``, into ``sink``."""

    sink: ExportSink
    filters: TransactionFilter = field(default_factory=TransactionFilter)


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportAccounts:
    """``dashtam export accounts``: active accounts (every one with ``include_inactive``)."""

    sink: ExportSink
    connection_ref: str | None = None
    include_inactive: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportHoldings:
    """``dashtam export holdings``: the active holdings of one account (``account_ref``) or all."""

    sink: ExportSink
    account_ref: str | None = None


# ============================================================================ provider logins
# ``dashtam providers connect|refresh``. The interaction is handed in by the front end (it owns
# the terminal); a command stays a plain value otherwise.
from dashtam_cli.domain.providers import AuthorizationOptions  # noqa: E402

if TYPE_CHECKING:
    from dashtam_cli.domain.providers import ConnectInteraction


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectProvider:
    """``dashtam providers connect PROVIDER``: log in (OAuth) and store the tokens encrypted.

    A login that already has a connection (same provider, an account in common) re-activates
    that connection instead of creating a second one. ``alias`` names a new connection.
    """

    provider: str
    interaction: ConnectInteraction
    alias: str | None = None
    options: AuthorizationOptions = field(default_factory=AuthorizationOptions)


@dataclass(frozen=True, kw_only=True, slots=True)
class RefreshConnection:
    """``dashtam providers refresh REF``: force an access-token refresh now."""

    connection_ref: str
