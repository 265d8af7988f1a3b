"""Application-level ports: the workspace on disk and the database's administration.

Implemented in infrastructure and wired by the composition root; tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import DomainError, Result

if TYPE_CHECKING:
    from dashtam_cli.domain.protocols import AuditEntry  # not at run time: read commands skip it


@dataclass(frozen=True, kw_only=True, slots=True)
class DatabaseInfo:
    """Where the database is and which schema revision it has."""

    backend: str
    location: str
    revision: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """True when the schema is at the newest revision this version ships."""
        return self.revision == self.head


class Workspace(Protocol):
    """The data and config directories."""

    def ensure(self) -> Result[Sequence[str], DomainError]:
        """Create missing directories (mode 0700); return the paths it created."""
        ...


class DatabaseAdmin(Protocol):
    """Schema inspection and migration."""

    async def info(self) -> Result[DatabaseInfo, DomainError]:
        """The backend, location and current revision."""
        ...

    async def upgrade(self) -> Result[DatabaseInfo, DomainError]:
        """Apply pending migrations (a no-op at head); return the resulting info."""
        ...


class ConnectionReader(Protocol):
    """Reads connections for display."""

    async def list_connections(self) -> Sequence[ProviderConnection]:
        """Every connection, oldest first."""
        ...


class AuditReader(Protocol):
    """Reads the audit trail."""

    async def list_entries(
        self, *, since: datetime | None = None, action: str | None = None, limit: int = 50
    ) -> Sequence[AuditEntry]:
        """Audit rows, newest first."""
        ...


class SecretsProbe(Protocol):
    """Checks the secrets backend without creating anything."""

    @property
    def backend(self) -> str:
        """``keyring``, ``file`` or ``env``."""
        ...

    def probe(self) -> Result[None, DomainError]:
        """Success when the backend is usable."""
        ...


class SyncLock(Protocol):
    """One sync per database at a time (a file lock beside SQLite, an advisory lock on Postgres)."""

    async def acquire(self) -> Result[None, DomainError]:
        """Take the lock without waiting; ``sync_locked`` when another sync holds it."""
        ...

    async def release(self) -> None:
        """Give the lock back (a no-op when not held)."""
        ...


class DemoStateFactory(Protocol):
    """Builds the demo provider's initial state (seed, sizes, anchor) for a new demo connection."""

    def __call__(
        self, *, seed: int, accounts: int, transactions: int, created_at: datetime
    ) -> dict[str, object]:
        """The ``provider_state`` of a new demo connection.

        Raises:
            ValueError: for sizes out of range (the CLI validates first).
        """
        ...


# ============================================================================ exports
# ``dashtam export``: the reader streams rows already in their exported form; the sink (opened by
# the front end: standard output or an atomically written file) writes them as CSV or JSON. The
# imports of this section live here so the module stays append-only.
from collections.abc import AsyncGenerator  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402
from uuid import UUID  # noqa: E402

if TYPE_CHECKING:
    from dashtam_cli.application.queries import TransactionCriteria

type ExportValue = str | bool | None
"""One exported cell: exact text (full UUIDs, ISO dates, decimal strings), a boolean, or None."""

type ExportChunk = Sequence[Sequence[ExportValue]]
"""A batch of exported rows, each holding its values in the order of the layout's fields."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportLayout:
    """What one kind of export holds: the field names (CSV header, JSON keys) in order.

    Attributes:
        kind: ``transactions``, ``accounts`` or ``holdings``.
        fields: the snake_case field names of ``domain.md``, in output order.
        boolean_fields: the fields whose values are booleans (CSV writes ``true``/``false``).
    """

    kind: str
    fields: tuple[str, ...]
    boolean_fields: frozenset[str] = frozenset()


TRANSACTION_EXPORT = ExportLayout(
    kind="transactions",
    fields=(
        "id",
        "account_id",
        "provider_transaction_id",
        "transaction_type",
        "subtype",
        "status",
        "amount",
        "currency",
        "description",
        "asset_type",
        "symbol",
        "security_name",
        "quantity",
        "unit_price",
        "fees",
        "transaction_date",
        "settlement_date",
        "posted_at",
        "created_at",
        "updated_at",
    ),
)
"""``export transactions``: every business field; no raw payload. Amounts share ``currency``."""

ACCOUNT_EXPORT = ExportLayout(
    kind="accounts",
    fields=(
        "id",
        "connection_id",
        "account_number_masked",
        "name",
        "account_type",
        "currency",
        "balance",
        "available_balance",
        "cash_balance",
        "is_active",
        "last_synced_at",
        "created_at",
        "updated_at",
    ),
    boolean_fields=frozenset({"is_active"}),
)
"""``export accounts``: never the provider's account key or a full account number, no payload."""

HOLDING_EXPORT = ExportLayout(
    kind="holdings",
    fields=(
        "id",
        "account_id",
        "provider_holding_id",
        "symbol",
        "security_name",
        "asset_type",
        "quantity",
        "average_price",
        "cost_basis",
        "market_value",
        "current_price",
        "currency",
        "is_active",
        "created_at",
        "updated_at",
    ),
    boolean_fields=frozenset({"is_active"}),
)
"""``export holdings``: positions with exact quantities and prices; no raw payload."""


class ExportSink(Protocol):
    """Where exported rows go, in one format (built by the front end for each export).

    The handler calls :meth:`open` once, :meth:`write` per chunk, then :meth:`finish`; on any
    failure it calls :meth:`abort` instead (an aborted file export leaves no file behind).
    """

    @property
    def format(self) -> str:
        """``csv`` or ``json`` (for the audit trail)."""
        ...

    @property
    def destination(self) -> str:
        """``stdout`` or the path of the file (for the audit trail and the summary)."""
        ...

    def open(self, layout: ExportLayout) -> Result[None, DomainError]:
        """Open the destination and write the preamble (CSV header, ``[``).

        Returns:
            ``invalid_argument`` when the destination cannot be written.
        """
        ...

    def write(self, rows: ExportChunk) -> Result[None, DomainError]:
        """Write one chunk of rows.

        Returns:
            ``invalid_argument`` when the destination stops accepting data (disk full, closed
            pipe).
        """
        ...

    def finish(self) -> Result[None, DomainError]:
        """Write the ending (``]``), flush, and publish the file (fsync + atomic rename)."""
        ...

    def abort(self) -> None:
        """Discard everything written (a no-op after :meth:`finish`; safe to call twice)."""
        ...


class ExportReader(Protocol):
    """Streams exportable rows in constant memory, values already in exported form.

    Each method is an async generator of chunks (at most ``chunk_size`` rows each) whose rows hold
    the values of the matching layout's fields, in order. Close it (``aclose``) when stopping
    early. Database failures raise an exception carrying a ``DomainError`` as ``error``
    (``database_unreachable`` / ``database_error``).
    """

    def transactions(
        self, criteria: TransactionCriteria, *, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Matching transactions (:data:`TRANSACTION_EXPORT`), oldest first.

        Same-day rows come in a stable order (the order they were stored on SQLite, by id on
        PostgreSQL).
        """
        ...

    def accounts(
        self, *, connection_id: UUID | None, include_inactive: bool, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Accounts (:data:`ACCOUNT_EXPORT`) of one connection or all, by name then id."""
        ...

    def holdings(
        self, *, account_id: UUID | None, include_inactive: bool, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        """Holdings (:data:`HOLDING_EXPORT`) of one account or all, by account, symbol, id."""
        ...
