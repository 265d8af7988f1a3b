"""The SQL unit of work: one connection, one transaction, every repository.

Database failures surface as :class:`DatabaseUnavailableError`, an exception carrying a
:class:`DomainError` (``DATABASE_UNREACHABLE`` when the database cannot be opened,
``DATABASE_ERROR`` for a failure during the work) that the edge renders like any other error.
``__aenter__`` cannot return a Result, hence the exception.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from dashtam_cli.domain.errors import DomainError, ErrorCode
from dashtam_cli.domain.protocols import (
    AccountRepository,
    BalanceSnapshotRepository,
    ConnectionRepository,
    HoldingRepository,
    SecretRepository,
    SyncCursorRepository,
    SyncRunRepository,
    TransactionRepository,
)
from dashtam_cli.infrastructure.db import search_index
from dashtam_cli.infrastructure.db.engine import describe_location
from dashtam_cli.infrastructure.db.errors import (
    DAMAGED_HINT,
    OTHER_HINT,
    SERVER_HINT,
    driver_reason,
    is_damaged_sqlite,
    sqlite_unreachable_hint,
)
from dashtam_cli.infrastructure.db.errors import (
    DatabaseUnavailableError as DatabaseUnavailableError,
)
from dashtam_cli.infrastructure.db.repositories import (
    SqlAccountRepository,
    SqlBalanceSnapshotRepository,
    SqlConnectionRepository,
    SqlHoldingRepository,
    SqlSecretRepository,
    SqlSyncCursorRepository,
    SqlSyncRunRepository,
    SqlTransactionRepository,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def _location(engine: AsyncEngine) -> str:
    return describe_location(engine.url.render_as_string(hide_password=True))


def database_error(engine: AsyncEngine, exc: DBAPIError, *, opening: bool) -> DomainError:
    """The DomainError for a driver failure (classified by exception type, never by text).

    Args:
        engine: the engine that failed (for the location shown to the user).
        exc: the SQLAlchemy-wrapped driver exception.
        opening: True when the failure happened while connecting / beginning.
    """
    location = _location(engine)
    details = {"location": location, "driver_error": type(exc.orig).__name__}
    reason = driver_reason(exc)
    sqlite = engine.dialect.name == "sqlite"
    if opening and isinstance(exc, (OperationalError, InterfaceError)):
        return DomainError(
            code=ErrorCode.DATABASE_UNREACHABLE,
            message=f"cannot open the database at {location}: {reason}",
            hint=sqlite_unreachable_hint(location) if sqlite else SERVER_HINT,
            details=details,
        )
    return DomainError(
        code=ErrorCode.DATABASE_ERROR,
        message=f"the database at {location} reported an error: {reason}",
        hint=DAMAGED_HINT if sqlite and is_damaged_sqlite(exc) else OTHER_HINT,
        details=details,
    )


class SqlUnitOfWork:
    """One business transaction over every repository (implements the domain ``UnitOfWork``).

    ``async with uow:`` opens a connection and a transaction; :meth:`commit` commits and begins a
    new transaction (the unit of work stays usable); leaving the block rolls back whatever was
    not committed and returns the connection to the pool.
    """

    connections: ConnectionRepository
    accounts: AccountRepository
    holdings: HoldingRepository
    transactions: TransactionRepository
    balances: BalanceSnapshotRepository
    sync_runs: SyncRunRepository
    sync_cursors: SyncCursorRepository
    secrets: SecretRepository

    def __init__(self, engine: AsyncEngine) -> None:
        """Bind to an engine; nothing is opened until ``async with``."""
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._transactions: SqlTransactionRepository | None = None

    @property
    def connection(self) -> AsyncConnection:
        """The open connection (for readers that must see this transaction's writes)."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open: use `async with uow:`")
        return self._connection

    async def __aenter__(self) -> Self:
        """Connect and begin.

        Raises:
            DatabaseUnavailableError: ``DATABASE_UNREACHABLE`` (or ``DATABASE_ERROR``).
        """
        if self._connection is not None:
            raise RuntimeError("a unit of work cannot be entered twice")
        try:
            connection = await self._engine.connect()
        except DBAPIError as exc:
            raise DatabaseUnavailableError(database_error(self._engine, exc, opening=True)) from exc
        try:
            await connection.begin()
        except DBAPIError as exc:
            await connection.close()
            raise DatabaseUnavailableError(database_error(self._engine, exc, opening=True)) from exc
        self._connection = connection
        self.connections = SqlConnectionRepository(connection)
        self.accounts = SqlAccountRepository(connection)
        self.holdings = SqlHoldingRepository(connection)
        self.transactions = self._transactions = SqlTransactionRepository(connection)
        self.balances = SqlBalanceSnapshotRepository(connection)
        self.sync_runs = SqlSyncRunRepository(connection)
        self.sync_cursors = SqlSyncCursorRepository(connection)
        self.secrets = SqlSecretRepository(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back anything uncommitted and release the connection.

        Raises:
            DatabaseUnavailableError: in place of a driver exception raised inside the block.
        """
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            # closing rolls back an open transaction and returns the connection to the pool in
            # one round trip (a rollback first would make the pool roll back a second time)
            await connection.close()
        except DBAPIError as rollback_exc:
            # a failure inside the block explains more than the failed rollback after it
            if exc is None:
                raise DatabaseUnavailableError(
                    database_error(self._engine, rollback_exc, opening=False)
                ) from rollback_exc
        if isinstance(exc, DBAPIError):
            raise DatabaseUnavailableError(
                database_error(self._engine, exc, opening=False)
            ) from exc

    async def commit(self) -> None:
        """Commit the work so far and begin a new transaction.

        New transactions enter the search index in the same commit (:mod:`.search_index`).

        Raises:
            DatabaseUnavailableError: ``DATABASE_ERROR`` when the commit fails.
        """
        connection = self.connection
        transactions = self._transactions
        try:
            if transactions is not None and transactions.inserted_since_commit:
                await search_index.catch_up(connection)
            await connection.commit()
            if transactions is not None:
                transactions.inserted_since_commit = False
            await connection.begin()
        except DBAPIError as exc:
            raise DatabaseUnavailableError(
                database_error(self._engine, exc, opening=False)
            ) from exc

    async def rollback(self) -> None:
        """Discard the work since the last commit and begin a new transaction."""
        connection = self.connection
        if self._transactions is not None:
            self._transactions.inserted_since_commit = False
        await connection.rollback()
        await connection.begin()


class SqlUnitOfWorkFactory:
    """Makes a fresh :class:`SqlUnitOfWork` per business transaction (``UnitOfWorkFactory``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Every unit of work uses this engine's pool."""
        self._engine = engine

    @property
    def engine(self) -> AsyncEngine:
        """The engine the units of work connect through."""
        return self._engine

    def __call__(self) -> SqlUnitOfWork:
        """A new, not yet entered, unit of work."""
        return SqlUnitOfWork(self._engine)
