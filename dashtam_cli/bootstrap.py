"""The composition root: the only module that wires infrastructure to the application.

``bootstrap()`` builds settings, logging, the database engine, the unit of work, the secrets
backend, the event bus and every handler. Keyword arguments default to production adapters so
tests can pass fakes (a frozen clock, an in-memory key store, another database URL).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashtam_cli.application.bus import EventDispatcher, MessageBus
from dashtam_cli.application.commands import (
    DisconnectConnection,
    ExportAccounts,
    ExportHoldings,
    ExportTransactions,
    InitializeWorkspace,
    RenameConnection,
    RotateKeys,
    StartDemo,
    SyncConnections,
    UpgradeDatabase,
)
from dashtam_cli.application.handlers.accounts import (
    AccountDetailHandler,
    AccountListHandler,
    BalanceHistoryHandler,
)
from dashtam_cli.application.handlers.connections import (
    DisconnectConnectionHandler,
    ProviderDetailHandler,
    ProviderListHandler,
    RenameConnectionHandler,
)
from dashtam_cli.application.handlers.demo import StartDemoHandler
from dashtam_cli.application.handlers.events import wire_default_handlers
from dashtam_cli.application.handlers.exports import ExportHandler
from dashtam_cli.application.handlers.holdings import HoldingListHandler
from dashtam_cli.application.handlers.keys import RotateKeysHandler
from dashtam_cli.application.handlers.sync import SyncConnectionsHandler
from dashtam_cli.application.handlers.system import (
    AuditListHandler,
    InitializeWorkspaceHandler,
    StatusHandler,
    UpgradeDatabaseHandler,
)
from dashtam_cli.application.handlers.transactions import (
    TransactionDetailHandler,
    TransactionListHandler,
)
from dashtam_cli.application.queries import (
    AccountDetail,
    AccountList,
    AuditList,
    BalanceHistory,
    HoldingList,
    ProviderDetail,
    ProviderList,
    Status,
    TransactionDetail,
    TransactionList,
)
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result
from dashtam_cli.domain.protocols import Clock, KeyStore
from dashtam_cli.domain.providers import Provider, ProviderRegistry
from dashtam_cli.infrastructure.audit import SqlAuditLog
from dashtam_cli.infrastructure.database import SqlDatabaseAdmin
from dashtam_cli.infrastructure.db.engine import UnsupportedDatabaseUrlError, create_engine
from dashtam_cli.infrastructure.db.export_readers import SqlExportReader
from dashtam_cli.infrastructure.db.readers import (
    SqlAccountReader,
    SqlBalanceReader,
    SqlConnectionReader,
    SqlHoldingReader,
    SqlTransactionReader,
)
from dashtam_cli.infrastructure.db.unit_of_work import (
    DatabaseUnavailableError,
    SqlUnitOfWorkFactory,
)
from dashtam_cli.infrastructure.locks import sync_lock_for
from dashtam_cli.infrastructure.logging import configure_logging, get_logger
from dashtam_cli.infrastructure.providers.demo import DemoProvider, demo_provider_state
from dashtam_cli.infrastructure.secrets import AesGcmCipher, build_keystore
from dashtam_cli.infrastructure.secrets import probe as probe_keystore
from dashtam_cli.infrastructure.workspace import LocalWorkspace, SystemClock
from dashtam_cli.presentation.cli.context import ServicesUnavailableError
from dashtam_cli.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

#: Messages that manage the schema themselves: everything else migrates the database on first use.
_NO_AUTO_MIGRATE: frozenset[type[Any]] = frozenset({InitializeWorkspace, UpgradeDatabase, Status})


class _KeyStoreProbe:
    """Adapts a key store to the ``SecretsProbe`` port."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    @property
    def backend(self) -> str:
        return self._keys.backend

    def probe(self) -> Result[None]:
        return probe_keystore(self._keys)


class _UnavailableKeyStore:
    """Stands in for a key store that could not be built: every call returns the same failure."""

    def __init__(self, backend: str, error: DomainError) -> None:
        self._backend = backend
        self._error = error

    @property
    def backend(self) -> str:
        return self._backend

    def _fail(self) -> Failure[DomainError]:
        return Failure(error=self._error)

    def current(self) -> Failure[DomainError]:
        return self._fail()

    def get(self, version: int) -> Failure[DomainError]:
        return self._fail()

    def create_next(self) -> Failure[DomainError]:
        return self._fail()

    def promote(self, version: int) -> Failure[DomainError]:
        return self._fail()

    def retire(self, version: int) -> Failure[DomainError]:
        return self._fail()

    def probe(self) -> Failure[DomainError]:
        return self._fail()


class _AutoMigratingBus:
    """Runs every message through the bus after making sure the schema is current (first use)."""

    def __init__(self, bus: MessageBus, database: SqlDatabaseAdmin, workspace: LocalWorkspace):
        self._bus = bus
        self._database = database
        self._workspace = workspace
        self._ready = False

    async def execute(self, message: object) -> Result[Any]:
        if not self._ready and type(message) not in _NO_AUTO_MIGRATE:
            created = self._workspace.ensure()
            if isinstance(created, Failure):
                return created
            upgraded = await self._database.upgrade()
            if isinstance(upgraded, Failure):
                return upgraded
            self._ready = True
        try:
            return await self._bus.execute(message)
        except DatabaseUnavailableError as exc:
            # The unit of work raises (it cannot return a Result from __aenter__/__aexit__);
            # the edge turns it back into the error value it carries.
            return Failure(error=exc.error)


@dataclass(kw_only=True)
class Application:
    """The built application as the front ends see it (implements the CLI's ``Services``)."""

    settings: Settings
    engine: AsyncEngine
    bus: _AutoMigratingBus
    events: EventDispatcher
    clock: Clock
    keys: KeyStore
    audit: SqlAuditLog
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        """Where the database (SQLite), logs and locks live."""
        return self.settings.data_dir

    @property
    def config_dir(self) -> Path:
        """Where ``config.toml`` and the key file live."""
        return self.settings.config_dir

    @property
    def log_file(self) -> Path:
        """The JSON log file."""
        return self.settings.log_file

    async def aclose(self) -> None:
        """Write any queued audit rows, then dispose of the engine's connections."""
        try:
            await self.audit.aclose()
        finally:
            await self.engine.dispose()


def _settings_error(exc: Exception) -> DomainError:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        message = f"invalid configuration: {problems}"
    else:
        message = f"invalid configuration: {exc}"
    return DomainError(
        code=ErrorCode.CONFIG_INVALID,
        message=message,
        hint="check the DASHTAM_* environment variables and config.toml in the config dir",
    )


async def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    keys: KeyStore | None = None,
    providers: Sequence[Provider] | None = None,
    configure_logs: bool = True,
) -> Application:
    """Build the application.

    Raises:
        ServicesUnavailableError: the configuration is invalid (exit code 2) or the database URL
            is not one Dashtam supports.
    """
    if settings is None:
        try:
            settings = load_settings()
        except Exception as exc:
            raise ServicesUnavailableError(_settings_error(exc)) from None
    if configure_logs:
        configure_logging(
            level=settings.log_level,
            fmt=settings.log_format,
            log_file=settings.log_file if settings.data_dir.is_dir() else None,
        )
    clock = clock or SystemClock()
    try:
        engine = create_engine(settings.db_url)
    except UnsupportedDatabaseUrlError as exc:
        raise ServicesUnavailableError(
            DomainError(
                code=ErrorCode.CONFIG_INVALID,
                message=str(exc),
                hint="set DASHTAM_DATABASE_URL to sqlite:///PATH or postgresql://USER@HOST/DB",
            )
        ) from None
    if keys is None:
        built = build_keystore(
            settings.secrets_backend,
            config_dir=settings.config_dir,
            master_key=settings.master_key.get_secret_value() if settings.master_key else None,
        )
        keys = (
            _UnavailableKeyStore(settings.secrets_backend, built.error)
            if isinstance(built, Failure)
            else built.value
        )
    cipher = AesGcmCipher(keys)
    workspace = LocalWorkspace(data_dir=settings.data_dir, config_dir=settings.config_dir)
    database = SqlDatabaseAdmin(url=settings.db_url, engine=engine)
    uow_factory = SqlUnitOfWorkFactory(engine)
    audit = SqlAuditLog(engine)
    events = EventDispatcher()
    wire_default_handlers(events, audit=audit)

    bus = MessageBus()
    bus.register(
        InitializeWorkspace,
        InitializeWorkspaceHandler(
            workspace=workspace, database=database, keys=keys, secrets=_KeyStoreProbe(keys)
        ),
    )
    bus.register(UpgradeDatabase, UpgradeDatabaseHandler(database=database))
    bus.register(
        Status,
        StatusHandler(
            database=database,
            secrets=_KeyStoreProbe(keys),
            connections=SqlConnectionReader(engine),
            clock=clock,
        ),
    )
    bus.register(AuditList, AuditListHandler(audit=audit))
    bus.register(
        RotateKeys,
        RotateKeysHandler(
            uow_factory=uow_factory, keys=keys, cipher=cipher, events=events, clock=clock
        ),
    )
    _register_read_side(bus, engine=engine, uow_factory=uow_factory, events=events, clock=clock)
    _register_exports(bus, engine=engine, events=events)
    registry = ProviderRegistry(providers if providers is not None else [DemoProvider()])
    bus.register(
        SyncConnections,
        SyncConnectionsHandler(
            uow_factory=uow_factory,
            providers=registry,
            events=events,
            clock=clock,
            lock=sync_lock_for(settings.db_url, engine, data_dir=settings.data_dir),
        ),
    )
    bus.register(
        StartDemo,
        StartDemoHandler(
            uow_factory=uow_factory, events=events, clock=clock, demo_state=demo_provider_state
        ),
    )
    return Application(
        settings=settings,
        engine=engine,
        bus=_AutoMigratingBus(bus, database, workspace),
        events=events,
        clock=clock,
        keys=keys,
        audit=audit,
    )


def _register_read_side(
    bus: MessageBus,
    *,
    engine: AsyncEngine,
    uow_factory: SqlUnitOfWorkFactory,
    events: EventDispatcher,
    clock: Clock,
) -> None:
    """Connections, accounts, transactions, holdings and balance history (lists and shows)."""
    connections = SqlConnectionReader(engine)
    accounts = SqlAccountReader(engine)
    transactions = SqlTransactionReader(engine)
    holdings = SqlHoldingReader(engine)
    balances = SqlBalanceReader(engine)
    bus.register(
        ProviderList,
        ProviderListHandler(connections=connections, accounts=accounts, clock=clock),
    )
    bus.register(
        ProviderDetail,
        ProviderDetailHandler(connections=connections, accounts=accounts, clock=clock),
    )
    bus.register(RenameConnection, RenameConnectionHandler(uow_factory=uow_factory, clock=clock))
    bus.register(
        DisconnectConnection,
        DisconnectConnectionHandler(uow_factory=uow_factory, events=events, clock=clock),
    )
    bus.register(AccountList, AccountListHandler(connections=connections, accounts=accounts))
    bus.register(
        AccountDetail,
        AccountDetailHandler(
            connections=connections, accounts=accounts, holdings=holdings, balances=balances
        ),
    )
    bus.register(
        TransactionList,
        TransactionListHandler(
            connections=connections, accounts=accounts, transactions=transactions
        ),
    )
    bus.register(
        TransactionDetail,
        TransactionDetailHandler(
            connections=connections, accounts=accounts, transactions=transactions
        ),
    )
    bus.register(HoldingList, HoldingListHandler(accounts=accounts, holdings=holdings))
    bus.register(BalanceHistory, BalanceHistoryHandler(accounts=accounts, balances=balances))


def _register_exports(bus: MessageBus, *, engine: AsyncEngine, events: EventDispatcher) -> None:
    """``dashtam export``: one handler streaming every kind of export."""
    handler = ExportHandler(
        exports=SqlExportReader(engine),
        accounts=SqlAccountReader(engine),
        connections=SqlConnectionReader(engine),
        events=events,
    )
    bus.register(ExportTransactions, handler)
    bus.register(ExportAccounts, handler)
    bus.register(ExportHoldings, handler)


def report_crash(exc: BaseException) -> int:
    """Last line of defence for a bug: log the traceback to the log file, print one line, exit 1."""
    with contextlib.suppress(Exception):  # reporting a bug must never raise another
        get_logger("dashtam").error("unexpected_error", exc_info=exc)
    if os.environ.get("DASHTAM_DEBUG"):
        traceback.print_exception(exc)
    sys.stderr.write(
        f"error[{ErrorCode.INTERNAL.value}]: unexpected {type(exc).__name__}; this is a bug.\n"
        "  hint: the traceback is in the log file (dashtam status shows where); "
        "set DASHTAM_DEBUG=1 to print it\n"
    )
    return 1
