"""In-memory fakes of the domain ports, for application tests.

Fakes over mocks: each one behaves like the real adapter in the ways the handlers rely on
(unique keys, upsert counts, commit / rollback, key versions), so a test asserts outcomes, not
calls. Sections: time, events, persistence (store, repositories, unit of work), secrets.
Extend a section rather than adding a parallel fake.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Self
from uuid import UUID

from dashtam_cli.application.handlers.sync_records import to_transaction
from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.connections import ConnectionStatus, ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success, fail, ok
from dashtam_cli.domain.events import DomainEvent
from dashtam_cli.domain.holdings import BalanceSnapshot, Holding
from dashtam_cli.domain.protocols import (
    AccountRepository,
    BalanceSnapshotRepository,
    Clock,
    ConnectionRepository,
    DataKey,
    EventSink,
    HoldingRepository,
    KeyStore,
    SecretRepository,
    StoredSecret,
    SyncCursorRepository,
    SyncRunRepository,
    TransactionRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UpsertCounts,
)
from dashtam_cli.domain.providers import (
    FetchedAccount,
    FetchedTransaction,
    Provider,
    ProviderCapabilities,
)
from dashtam_cli.domain.sync import SyncCursor, SyncRun
from dashtam_cli.domain.transactions import Transaction

# =========================================================================== time


class FrozenClock:
    """A :class:`~dashtam_cli.domain.protocols.Clock` that moves only when told to."""

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now or datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        """The frozen instant."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward (or back, for a negative delta); return the new instant."""
        self._now += delta
        return self._now

    def set(self, now: datetime) -> None:
        """Jump to ``now``."""
        self._now = now


# =========================================================================== events


class RecordingEventSink:
    """An :class:`~dashtam_cli.domain.protocols.EventSink` that keeps every published event."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def publish(self, event: DomainEvent) -> None:
        """Record the event."""
        self.events.append(event)

    @property
    def names(self) -> list[str]:
        """Class names of the events, in publication order (``["SyncAttempted", ...]``)."""
        return [event.name for event in self.events]

    def of_type[E: DomainEvent](self, kind: type[E]) -> list[E]:
        """The recorded events of one class (or its subclasses)."""
        return [event for event in self.events if isinstance(event, kind)]

    def clear(self) -> None:
        """Forget what was recorded."""
        self.events.clear()


# =========================================================================== persistence


@dataclasses.dataclass(kw_only=True)
class InMemoryState:
    """Every table, as plain containers of frozen entities (so a shallow copy is a snapshot)."""

    connections: dict[UUID, ProviderConnection] = dataclasses.field(default_factory=dict)
    accounts: dict[UUID, Account] = dataclasses.field(default_factory=dict)
    holdings: dict[UUID, Holding] = dataclasses.field(default_factory=dict)
    transactions: dict[UUID, Transaction] = dataclasses.field(default_factory=dict)
    balances: list[BalanceSnapshot] = dataclasses.field(default_factory=list)
    sync_runs: dict[UUID, SyncRun] = dataclasses.field(default_factory=dict)
    sync_cursors: dict[UUID, SyncCursor] = dataclasses.field(default_factory=dict)
    secrets: dict[str, StoredSecret] = dataclasses.field(default_factory=dict)

    def copy(self) -> InMemoryState:
        """An independent snapshot (entities are immutable and shared)."""
        return InMemoryState(
            connections=dict(self.connections),
            accounts=dict(self.accounts),
            holdings=dict(self.holdings),
            transactions=dict(self.transactions),
            balances=list(self.balances),
            sync_runs=dict(self.sync_runs),
            sync_cursors=dict(self.sync_cursors),
            secrets=dict(self.secrets),
        )

    def load(self, other: InMemoryState) -> None:
        """Replace this state's contents with a snapshot of ``other``."""
        snapshot = other.copy()
        for table in dataclasses.fields(self):
            setattr(self, table.name, getattr(snapshot, table.name))


class InMemoryStore:
    """The committed data shared by every unit of work of one factory ("the database")."""

    def __init__(self) -> None:
        self.state = InMemoryState()
        self.commits = 0


class _Tables:
    """What a repository reads and writes: the staged state of its open unit of work."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def state(self) -> InMemoryState:
        return self._uow.staged


def _upsert[T: (Account, Holding, Transaction)](
    table: dict[UUID, T], rows: Sequence[T], key: Callable[[T], Hashable]
) -> tuple[UpsertCounts, list[UUID]]:
    """Insert or update ``rows`` by their unique ``key``, like ``INSERT .. ON CONFLICT``.

    A stored row keeps its ``id`` and ``created_at``; a row equal to the stored one apart from
    ``id``/``created_at``/``updated_at`` counts as unchanged and is not rewritten.

    Returns:
        The counts, and the stored id of each row (in the order of ``rows``).
    """
    by_key = {key(row): stored_id for stored_id, row in table.items()}
    inserted = updated = unchanged = 0
    ids: list[UUID] = []
    for row in rows:
        stored_id = by_key.get(key(row))
        if stored_id is None:
            table[row.id] = row
            by_key[key(row)] = row.id
            ids.append(row.id)
            inserted += 1
            continue
        stored = table[stored_id]
        ids.append(stored_id)
        candidate = dataclasses.replace(row, id=stored_id, created_at=stored.created_at)
        if dataclasses.replace(candidate, updated_at=stored.updated_at) == stored:
            unchanged += 1
        else:
            table[stored_id] = candidate
            updated += 1
    return UpsertCounts(inserted=inserted, updated=updated, unchanged=unchanged), ids


class InMemoryConnectionRepository(_Tables):
    """Connections by id, oldest (first saved) first."""

    async def get(self, connection_id: UUID) -> ProviderConnection | None:
        """The connection with this id, or None."""
        return self.state.connections.get(connection_id)

    async def list(self, *, include_disconnected: bool = True) -> Sequence[ProviderConnection]:
        """All connections in first-saved order."""
        return [
            connection
            for connection in self.state.connections.values()
            if include_disconnected or connection.status is not ConnectionStatus.DISCONNECTED
        ]

    async def save(self, connection: ProviderConnection) -> None:
        """Insert or update by id (an update keeps the connection's place in the order)."""
        self.state.connections[connection.id] = connection


class InMemoryAccountRepository(_Tables):
    """Accounts, unique per (connection_id, provider_account_id)."""

    async def get(self, account_id: UUID) -> Account | None:
        """The account with this id, or None."""
        return self.state.accounts.get(account_id)

    async def list_for_connection(self, connection_id: UUID) -> Sequence[Account]:
        """Every account of the connection, active or not."""
        return [a for a in self.state.accounts.values() if a.connection_id == connection_id]

    async def upsert_many(self, accounts: Sequence[Account]) -> dict[str, UUID]:
        """Upsert by the unique key; return provider_account_id -> stored id."""
        _, ids = _upsert(
            self.state.accounts, accounts, lambda a: (a.connection_id, a.provider_account_id)
        )
        return {
            a.provider_account_id: stored_id for a, stored_id in zip(accounts, ids, strict=True)
        }

    async def deactivate_missing(self, connection_id: UUID, keep: Sequence[str]) -> int:
        """Deactivate the connection's active accounts not in ``keep``; return how many."""
        return _deactivate(
            self.state.accounts,
            lambda a: a.connection_id == connection_id and a.provider_account_id not in keep,
        )


class InMemoryHoldingRepository(_Tables):
    """Holdings, unique per (account_id, provider_holding_id)."""

    async def list_for_account(self, account_id: UUID) -> Sequence[Holding]:
        """Every holding of the account, active or not."""
        return [h for h in self.state.holdings.values() if h.account_id == account_id]

    async def upsert_many(self, holdings: Sequence[Holding]) -> UpsertCounts:
        """Upsert by the unique key."""
        counts, _ = _upsert(
            self.state.holdings, holdings, lambda h: (h.account_id, h.provider_holding_id)
        )
        return counts

    async def deactivate_missing(self, account_id: UUID, keep: Sequence[str]) -> int:
        """Deactivate the account's active holdings not in ``keep``; return how many."""
        return _deactivate(
            self.state.holdings,
            lambda h: h.account_id == account_id and h.provider_holding_id not in keep,
        )


class InMemoryTransactionRepository(_Tables):
    """Transactions, unique per (account_id, provider_transaction_id)."""

    async def get(self, transaction_id: UUID) -> Transaction | None:
        """The transaction with this id, or None."""
        return self.state.transactions.get(transaction_id)

    async def upsert_many(self, transactions: Sequence[Transaction]) -> UpsertCounts:
        """Upsert by the unique key."""
        counts, _ = _upsert(
            self.state.transactions,
            transactions,
            lambda t: (t.account_id, t.provider_transaction_id),
        )
        return counts

    async def upsert_fetched(
        self, account_id: UUID, transactions: Sequence[FetchedTransaction]
    ) -> UpsertCounts:
        """Upsert provider rows as the entities they stand for."""
        return await self.upsert_many([to_transaction(account_id, f) for f in transactions])

    async def latest_date(self, account_id: UUID) -> date | None:
        """The newest transaction date of the account."""
        dates = [
            t.transaction_date
            for t in self.state.transactions.values()
            if t.account_id == account_id
        ]
        return max(dates, default=None)


class InMemoryBalanceSnapshotRepository(_Tables):
    """Append-only balance snapshots."""

    async def add(self, snapshot: BalanceSnapshot) -> None:
        """Append one snapshot."""
        self.state.balances.append(snapshot)


class InMemorySyncRunRepository(_Tables):
    """Sync runs by id."""

    async def save(self, run: SyncRun) -> None:
        """Insert or update by id."""
        self.state.sync_runs[run.id] = run

    async def latest(self, connection_id: UUID) -> SyncRun | None:
        """The run of the connection that started last (the last saved on a tie)."""
        runs = [r for r in self.state.sync_runs.values() if r.connection_id == connection_id]
        return max(reversed(runs), key=lambda r: r.started_at, default=None)


class InMemorySyncCursorRepository(_Tables):
    """Backfill cursors by account id."""

    async def get(self, account_id: UUID) -> SyncCursor | None:
        """The cursor of an account, or None."""
        return self.state.sync_cursors.get(account_id)

    async def save(self, cursor: SyncCursor) -> None:
        """Insert or update by account id."""
        self.state.sync_cursors[cursor.account_id] = cursor


class InMemorySecretRepository(_Tables):
    """Named encrypted secrets."""

    async def get(self, name: str) -> StoredSecret | None:
        """The secret with this name, or None."""
        return self.state.secrets.get(name)

    async def put(self, secret: StoredSecret) -> None:
        """Insert or replace by name."""
        self.state.secrets[secret.name] = secret

    async def delete(self, name: str) -> None:
        """Remove the secret if present."""
        self.state.secrets.pop(name, None)

    async def list(self) -> Sequence[StoredSecret]:
        """Every stored secret, by name."""
        return [self.state.secrets[name] for name in sorted(self.state.secrets)]


def _deactivate[T: (Account, Holding)](table: dict[UUID, T], matches: Callable[[T], bool]) -> int:
    changed = 0
    for row_id, row in list(table.items()):
        if row.is_active and matches(row):
            table[row_id] = dataclasses.replace(row, is_active=False)
            changed += 1
    return changed


class InMemoryUnitOfWork:
    """A :class:`~dashtam_cli.domain.protocols.UnitOfWork` over an :class:`InMemoryStore`.

    Entering takes a snapshot of the committed state; repositories work on that snapshot;
    :meth:`commit` publishes it to the store; leaving without committing discards it.

    Args:
        store: the shared committed state.
        fail_commit: raise this from :meth:`commit` (simulates a database failure).
    """

    def __init__(self, store: InMemoryStore, *, fail_commit: Exception | None = None) -> None:
        self.store = store
        self.fail_commit = fail_commit
        self._staged: InMemoryState | None = None
        self.connections: ConnectionRepository = InMemoryConnectionRepository(self)
        self.accounts: AccountRepository = InMemoryAccountRepository(self)
        self.holdings: HoldingRepository = InMemoryHoldingRepository(self)
        self.transactions: TransactionRepository = InMemoryTransactionRepository(self)
        self.balances: BalanceSnapshotRepository = InMemoryBalanceSnapshotRepository(self)
        self.sync_runs: SyncRunRepository = InMemorySyncRunRepository(self)
        self.sync_cursors: SyncCursorRepository = InMemorySyncCursorRepository(self)
        self.secrets: SecretRepository = InMemorySecretRepository(self)
        self.committed = 0
        self.rolled_back = 0

    @property
    def staged(self) -> InMemoryState:
        """The working state; using a repository outside ``async with`` is a bug."""
        if self._staged is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._staged

    async def __aenter__(self) -> Self:
        if self._staged is not None:
            raise RuntimeError("unit of work entered twice")
        self._staged = self.store.state.copy()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._staged = None

    async def commit(self) -> None:
        """Publish the staged state; the unit of work stays usable."""
        staged = self.staged
        if self.fail_commit is not None:
            raise self.fail_commit
        self.store.state.load(staged)
        self.store.commits += 1
        self.committed += 1

    async def rollback(self) -> None:
        """Discard the staged changes since the last commit."""
        self.staged.load(self.store.state)
        self.rolled_back += 1


class InMemoryUnitOfWorkFactory:
    """A :class:`~dashtam_cli.domain.protocols.UnitOfWorkFactory` sharing one store.

    Attributes:
        store: the committed data, for seeding and assertions.
        created: every unit of work handed out, in order.
        fail_commit: passed to each new unit of work.
    """

    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store or InMemoryStore()
        self.created: list[InMemoryUnitOfWork] = []
        self.fail_commit: Exception | None = None

    def __call__(self) -> InMemoryUnitOfWork:
        uow = InMemoryUnitOfWork(self.store, fail_commit=self.fail_commit)
        self.created.append(uow)
        return uow

    @property
    def state(self) -> InMemoryState:
        """The committed state."""
        return self.store.state


# =========================================================================== secrets


class MemoryKeyStore:
    """A :class:`~dashtam_cli.domain.protocols.KeyStore` in memory, with the real stores' rules.

    Version 1 is created on first :meth:`current`; versions only grow; the current version
    cannot be retired; retiring an absent version succeeds.

    Attributes:
        fail_with: when set, the methods named in ``fail_methods`` (all, when empty) return it.
        fail_methods: which methods ``fail_with`` applies to, e.g. ``{"promote"}``.
        calls: ``(method, version)`` of every call, in order (version None when not applicable).
    """

    def __init__(
        self,
        *,
        fail_with: DomainError | None = None,
        fail_methods: frozenset[str] = frozenset(),
    ) -> None:
        self.fail_with = fail_with
        self.fail_methods = fail_methods
        self.keys: dict[int, bytes] = {}
        self.current_version: int | None = None
        self.latest = 0
        self.calls: list[tuple[str, int | None]] = []

    def __repr__(self) -> str:
        return f"MemoryKeyStore(versions={sorted(self.keys)}, current={self.current_version})"

    @property
    def backend(self) -> str:
        """``memory``."""
        return "memory"

    def current(self) -> Result[DataKey]:
        """The current key, creating version 1 first when there is none."""
        if (failure := self._failure("current", None)) is not None:
            return failure
        if self.current_version is None:
            self.latest += 1
            self.keys[self.latest] = os.urandom(32)
            self.current_version = self.latest
        return ok(DataKey(self.current_version, self.keys[self.current_version]))

    def get(self, version: int) -> Result[DataKey]:
        """A key by version, or ``secret_key_missing``."""
        if (failure := self._failure("get", version)) is not None:
            return failure
        if version not in self.keys:
            return fail(ErrorCode.SECRET_KEY_MISSING, f"no data key version {version}")
        return ok(DataKey(version, self.keys[version]))

    def create_next(self) -> Result[DataKey]:
        """A new, not yet current, key above every version issued."""
        if (failure := self._failure("create_next", None)) is not None:
            return failure
        self.latest = max(self.latest, self.current_version or 0) + 1
        self.keys[self.latest] = os.urandom(32)
        return ok(DataKey(self.latest, self.keys[self.latest]))

    def promote(self, version: int) -> Result[None]:
        """Make a held version current."""
        if (failure := self._failure("promote", version)) is not None:
            return failure
        if version not in self.keys:
            return fail(ErrorCode.SECRET_KEY_MISSING, f"no data key version {version}")
        self.current_version = version
        return ok(None)

    def retire(self, version: int) -> Result[None]:
        """Forget a version (not the current one)."""
        if (failure := self._failure("retire", version)) is not None:
            return failure
        if version == self.current_version:
            return fail(ErrorCode.INVALID_ARGUMENT, f"version {version} is current")
        self.keys.pop(version, None)
        return ok(None)

    def _failure(self, method: str, version: int | None) -> Failure[DomainError] | None:
        self.calls.append((method, version))
        if self.fail_with is None or (self.fail_methods and method not in self.fail_methods):
            return None
        return Failure(error=self.fail_with)


if TYPE_CHECKING:  # mypy proves every fake implements its port
    _uow: UnitOfWork = InMemoryUnitOfWork(InMemoryStore())
    _uow_factory: UnitOfWorkFactory = InMemoryUnitOfWorkFactory()
    _events: EventSink = RecordingEventSink()
    _clock: Clock = FrozenClock()
    _keys: KeyStore = MemoryKeyStore()


# ------------------------------------------------------------------------------ providers


class FakeSession:
    """A provider session over in-memory accounts and transactions."""

    def __init__(self, provider: FakeProvider, connection: ProviderConnection) -> None:
        self.provider = provider
        self._connection = connection
        self.closed = False

    @property
    def connection(self) -> ProviderConnection:
        """The connection with the provider state bumped (like the demo's clock)."""
        state = dict(self._connection.provider_state)
        state["syncs"] = int(state.get("syncs", 0)) + 1
        return dataclasses.replace(self._connection, provider_state=state)

    async def fetch_accounts(self) -> Result[Sequence[FetchedAccount], DomainError]:
        """The configured accounts (or the configured failure)."""
        if self.provider.accounts_error is not None:
            return Failure(error=self.provider.accounts_error)
        return Success(value=list(self.provider.accounts))

    async def fetch_transactions(
        self, account: FetchedAccount, start: datetime, end: datetime
    ) -> Result[Sequence[FetchedTransaction], DomainError]:
        """Rows of the account posted in [start, end)."""
        self.provider.windows.append((account.provider_account_id, start, end))
        error = self.provider.failing.get(account.provider_account_id)
        if error is not None:
            return Failure(error=error)
        rows = self.provider.transactions.get(account.provider_account_id, [])
        return Success(
            value=[t for t in rows if t.posted_at is not None and start <= t.posted_at < end]
        )

    async def aclose(self) -> None:
        """Mark closed."""
        self.closed = True


class FakeProvider:
    """A configurable provider: accounts, transactions per account, failures."""

    def __init__(
        self,
        *,
        slug: str = "fake",
        capabilities: ProviderCapabilities | None = None,
    ) -> None:
        self._slug = slug
        self._capabilities = capabilities or ProviderCapabilities(
            max_window=timedelta(days=365), empty_span_stop=timedelta(days=730)
        )
        self.accounts: list[FetchedAccount] = []
        self.transactions: dict[str, list[FetchedTransaction]] = {}
        self.failing: dict[str, DomainError] = {}
        self.accounts_error: DomainError | None = None
        self.open_error: DomainError | None = None
        self.windows: list[tuple[str, datetime, datetime]] = []
        self.sessions: list[FakeSession] = []

    @property
    def slug(self) -> str:
        """Registry key."""
        return self._slug

    @property
    def display_name(self) -> str:
        """Human name."""
        return "Fake bank"

    @property
    def capabilities(self) -> ProviderCapabilities:
        """History limits."""
        return self._capabilities

    async def open_session(
        self, connection: ProviderConnection, *, now: datetime
    ) -> Result[FakeSession, DomainError]:
        """A session, or the configured failure."""
        if self.open_error is not None:
            return Failure(error=self.open_error)
        session = FakeSession(self, connection)
        self.sessions.append(session)
        return Success(value=session)


if TYPE_CHECKING:
    _provider: Provider = FakeProvider()


# =========================================================================== read side
# (imports for this section live here: the module is append-only for concurrent editors)
from dashtam_cli.application.queries import TransactionCriteria, TransactionRow  # noqa: E402


def transaction_row(txn: Transaction) -> TransactionRow:
    """The list row of a transaction, as the SQL reader builds it."""
    return TransactionRow(
        id=txn.id,
        account_id=txn.account_id,
        transaction_date=txn.transaction_date,
        settlement_date=txn.settlement_date,
        transaction_type=txn.transaction_type,
        subtype=txn.subtype,
        status=txn.status,
        amount=txn.amount,
        fees=txn.fees,
        description=txn.description,
        asset_type=txn.asset_type,
        symbol=txn.symbol,
        security_name=txn.security_name,
        quantity=txn.quantity,
        unit_price=txn.unit_price,
    )


class InMemoryReaders:
    """Every read-side port (connections, accounts, transactions, holdings, balances) over the
    committed state of an :class:`InMemoryStore`, with the SQL readers' order and filters.

    Attributes:
        transaction_limits: the ``limit`` of every ``list_transactions`` call, in order.
    """

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.transaction_limits: list[int] = []

    @property
    def _state(self) -> InMemoryState:
        return self.store.state

    async def list_connections(self) -> Sequence[ProviderConnection]:
        """Every connection, in first-saved order."""
        return list(self._state.connections.values())

    async def list_accounts(self) -> Sequence[Account]:
        """Every account by name, without raw payloads."""
        accounts = sorted(self._state.accounts.values(), key=lambda a: (a.name, a.id.hex))
        return [dataclasses.replace(a, raw=None) for a in accounts]

    async def list_transactions(
        self, criteria: TransactionCriteria, *, limit: int
    ) -> Sequence[TransactionRow]:
        """Matching rows, newest first (date, then id, descending)."""
        self.transaction_limits.append(limit)
        rows = [
            transaction_row(t) for t in self._state.transactions.values() if criteria.matches(t)
        ]
        rows.sort(key=lambda r: (r.transaction_date, r.id.hex), reverse=True)
        return rows[:limit]

    async def ids_with_prefix(self, prefix: str, *, limit: int) -> Sequence[UUID]:
        """Ids whose hex form starts with ``prefix``, ascending."""
        return sorted(
            (i for i in self._state.transactions if i.hex.startswith(prefix)), key=lambda i: i.hex
        )[:limit]

    async def get_transaction(self, transaction_id: UUID) -> Transaction | None:
        """One transaction without its raw payload."""
        txn = self._state.transactions.get(transaction_id)
        return None if txn is None else dataclasses.replace(txn, raw=None)

    async def list_holdings(
        self, *, account_ids: Sequence[UUID] | None = None, include_inactive: bool = False
    ) -> Sequence[Holding]:
        """Holdings of some accounts, by symbol, active only unless asked."""
        holdings = [
            dataclasses.replace(h, raw=None)
            for h in self._state.holdings.values()
            if (account_ids is None or h.account_id in account_ids)
            and (include_inactive or h.is_active)
        ]
        return sorted(holdings, key=lambda h: (h.symbol, h.provider_holding_id, h.id.hex))

    async def latest_snapshot(self, account_id: UUID) -> BalanceSnapshot | None:
        """The newest snapshot of the account."""
        own = [s for s in self._state.balances if s.account_id == account_id]
        return max(own, key=lambda s: (s.captured_at, s.id.hex), default=None)

    async def list_snapshots(
        self, *, account_ids: Sequence[UUID] | None = None, since: datetime | None = None
    ) -> Sequence[BalanceSnapshot]:
        """Snapshots at or after ``since`` plus each account's latest one before it."""
        scoped = [
            s for s in self._state.balances if account_ids is None or s.account_id in account_ids
        ]
        chosen = [s for s in scoped if since is None or s.captured_at >= since]
        if since is not None:
            before: dict[UUID, datetime] = {}
            for s in scoped:
                if s.captured_at < since:
                    before[s.account_id] = max(
                        before.get(s.account_id, s.captured_at), s.captured_at
                    )
            chosen += [s for s in scoped if before.get(s.account_id) == s.captured_at]
        return sorted(chosen, key=lambda s: (s.captured_at, s.account_id.hex, s.id.hex))


if TYPE_CHECKING:
    from dashtam_cli.application.ports import ConnectionReader
    from dashtam_cli.application.queries import (
        AccountReader,
        BalanceReader,
        HoldingReader,
        TransactionReader,
    )

    _connection_reader: ConnectionReader = InMemoryReaders(InMemoryStore())
    _account_reader: AccountReader = InMemoryReaders(InMemoryStore())
    _transaction_reader: TransactionReader = InMemoryReaders(InMemoryStore())
    _holding_reader: HoldingReader = InMemoryReaders(InMemoryStore())
    _balance_reader: BalanceReader = InMemoryReaders(InMemoryStore())
