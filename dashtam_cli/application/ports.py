"""Application-level ports: the workspace on disk and the database's administration.

Implemented in infrastructure and wired by the composition root; tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import DomainError, Result
from dashtam_cli.domain.protocols import AuditEntry


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
