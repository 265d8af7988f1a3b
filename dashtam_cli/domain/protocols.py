"""Ports: what the application needs from the outside world.

Structural ``Protocol`` types only; infrastructure implements them, tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import DomainError, Result
from dashtam_cli.domain.events import DomainEvent
from dashtam_cli.domain.holdings import BalanceSnapshot, Holding
from dashtam_cli.domain.providers import FetchedTransaction
from dashtam_cli.domain.sync import SyncCursor, SyncRun
from dashtam_cli.domain.transactions import Transaction


class Clock(Protocol):
    """Tells the time (UTC, timezone-aware). Tests freeze it."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        ...


# --------------------------------------------------------------------------- repositories


class ConnectionRepository(Protocol):
    """Provider connections."""

    async def get(self, connection_id: UUID) -> ProviderConnection | None:
        """The connection with this id, or None."""
        ...

    async def list(self, *, include_disconnected: bool = True) -> Sequence[ProviderConnection]:
        """All connections, oldest first."""
        ...

    async def save(self, connection: ProviderConnection) -> None:
        """Insert or update the connection (by id)."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class UpsertCounts:
    """What a set-based upsert did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


class AccountRepository(Protocol):
    """Accounts, unique per (connection_id, provider_account_id)."""

    async def get(self, account_id: UUID) -> Account | None:
        """The account with this id, or None."""
        ...

    async def list_for_connection(self, connection_id: UUID) -> Sequence[Account]:
        """Every account of a connection, active or not."""
        ...

    async def upsert_many(self, accounts: Sequence[Account]) -> dict[str, UUID]:
        """Insert or update accounts by their unique key; return provider_account_id -> stored id.

        An existing row keeps its id (the ``id`` of the passed entity is used only on insert).
        """
        ...

    async def deactivate_missing(self, connection_id: UUID, keep: Sequence[str]) -> int:
        """Mark accounts of the connection whose provider_account_id is not in ``keep`` inactive."""
        ...


class HoldingRepository(Protocol):
    """Holdings, unique per (account_id, provider_holding_id)."""

    async def list_for_account(self, account_id: UUID) -> Sequence[Holding]:
        """Every holding of an account, active or not."""
        ...

    async def upsert_many(self, holdings: Sequence[Holding]) -> UpsertCounts:
        """Insert or update holdings by their unique key."""
        ...

    async def deactivate_missing(self, account_id: UUID, keep: Sequence[str]) -> int:
        """Mark holdings of the account whose provider_holding_id is not in ``keep`` inactive."""
        ...


class TransactionRepository(Protocol):
    """Transactions, unique per (account_id, provider_transaction_id)."""

    async def get(self, transaction_id: UUID) -> Transaction | None:
        """The transaction with this id, or None."""
        ...

    async def upsert_many(self, transactions: Sequence[Transaction]) -> UpsertCounts:
        """Insert new rows and update changed ones by their unique key, in set-based statements."""
        ...

    async def upsert_fetched(
        self, account_id: UUID, transactions: Sequence[FetchedTransaction]
    ) -> UpsertCounts:
        """Like :meth:`upsert_many` for one account's provider rows, validated like the entity.

        The sync's write path: no entity per row, and an id is made only for a row that is new.
        """
        ...

    async def latest_date(self, account_id: UUID) -> date | None:
        """The newest transaction date stored for an account (the sync cursor)."""
        ...


class BalanceSnapshotRepository(Protocol):
    """Append-only balance snapshots."""

    async def add(self, snapshot: BalanceSnapshot) -> None:
        """Append one snapshot."""
        ...


class SyncRunRepository(Protocol):
    """Sync runs."""

    async def save(self, run: SyncRun) -> None:
        """Insert or update a run (by id)."""
        ...

    async def latest(self, connection_id: UUID) -> SyncRun | None:
        """The newest run of a connection."""
        ...


class SyncCursorRepository(Protocol):
    """Per-account backfill cursors."""

    async def get(self, account_id: UUID) -> SyncCursor | None:
        """The cursor of an account, or None before its first sync."""
        ...

    async def save(self, cursor: SyncCursor) -> None:
        """Insert or update the cursor (by account id)."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredSecret:
    """An encrypted named secret (e.g. a provider app's client secret)."""

    name: str
    ciphertext: bytes = field(repr=False)
    updated_at: datetime | None = None


class SecretRepository(Protocol):
    """Named encrypted secrets kept in the database (ciphertext only)."""

    async def get(self, name: str) -> StoredSecret | None:
        """The secret with this name, or None."""
        ...

    async def put(self, secret: StoredSecret) -> None:
        """Insert or replace the secret."""
        ...

    async def delete(self, name: str) -> None:
        """Remove the secret if present."""
        ...

    async def list(self) -> Sequence[StoredSecret]:
        """Every stored secret."""
        ...


class UnitOfWork(Protocol):
    """One business transaction over every repository.

    ``async with uow:`` opens it; leaving the block without :meth:`commit` rolls back.
    """

    connections: ConnectionRepository
    accounts: AccountRepository
    holdings: HoldingRepository
    transactions: TransactionRepository
    balances: BalanceSnapshotRepository
    sync_runs: SyncRunRepository
    sync_cursors: SyncCursorRepository
    secrets: SecretRepository

    async def __aenter__(self) -> Self:
        """Begin the transaction."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and release the connection."""
        ...

    async def commit(self) -> None:
        """Commit the work so far; the unit of work stays usable for more work."""
        ...

    async def rollback(self) -> None:
        """Discard the work since the last commit."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per business transaction."""

    def __call__(self) -> UnitOfWork:
        """A new, not yet entered, unit of work."""
        ...


# --------------------------------------------------------------------------- events and audit


class EventSink(Protocol):
    """Where events go (the bus's dispatcher, or a recorder in tests)."""

    async def publish(self, event: DomainEvent) -> None:
        """Deliver one event to its handlers; never raises for a failing handler."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditEntry:
    """One row of the append-only audit trail (no secrets in ``context``)."""

    action: str
    outcome: str
    occurred_at: datetime
    event_id: UUID
    connection_id: UUID | None = None
    account_id: UUID | None = None
    error_code: str | None = None
    context: Mapping[str, object] = field(default_factory=dict)
    id: int | None = None


class AuditLog(Protocol):
    """The append-only audit trail, written in its own transaction."""

    async def append(self, entry: AuditEntry) -> None:
        """Append one row and commit it, independent of any business transaction."""
        ...


# --------------------------------------------------------------------------- secrets


@dataclass(frozen=True, slots=True)
class DataKey:
    """A versioned 256-bit data key. ``repr`` never shows the key."""

    version: int
    material: bytes = field(repr=False)


class KeyStore(Protocol):
    """Keeps the versioned data keys (OS keyring, a 0600 file, or the environment)."""

    @property
    def backend(self) -> str:
        """The backend name: ``keyring``, ``file`` or ``env``."""
        ...

    def current(self) -> Result[DataKey, DomainError]:
        """The key new ciphertexts are made with; created on first use where the backend can."""
        ...

    def get(self, version: int) -> Result[DataKey, DomainError]:
        """A key by version (old versions stay readable until retired)."""
        ...

    def create_next(self) -> Result[DataKey, DomainError]:
        """Generate and store a new key version without making it current yet."""
        ...

    def promote(self, version: int) -> Result[None, DomainError]:
        """Make ``version`` the current key."""
        ...

    def retire(self, version: int) -> Result[None, DomainError]:
        """Forget an old key version (only once nothing is encrypted under it)."""
        ...


class Cipher(Protocol):
    """Authenticated encryption of secrets bound to their owner (associated data)."""

    def encrypt(self, plaintext: bytes, *, associated_data: bytes) -> Result[bytes, DomainError]:
        """Encrypt under the current key."""
        ...

    def encrypt_with(self, key: DataKey, plaintext: bytes, *, associated_data: bytes) -> bytes:
        """Encrypt under a given key (key rotation)."""
        ...

    def decrypt(self, blob: bytes, *, associated_data: bytes) -> Result[bytes, DomainError]:
        """Decrypt with the key version named in the blob; tampering or a wrong owner fails."""
        ...
