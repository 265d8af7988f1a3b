"""The composition root: the only module that wires infrastructure to the application.

``bootstrap()`` returns an :class:`Application` whose parts are built **on first use**: a command
pays only for the adapters its handler needs (``accounts list`` never imports the secrets stack,
the audit writer or the demo provider). Keyword arguments default to production adapters so
tests can pass fakes (a frozen clock, an in-memory key store, other providers).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dashtam_cli.application import queries as qry
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result
from dashtam_cli.presentation.cli.context import ServicesUnavailableError, require_event_loop
from dashtam_cli.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dashtam_cli.application.bus import EventDispatcher
    from dashtam_cli.application.ports import ConnectionReader
    from dashtam_cli.domain.protocols import Clock, KeyStore  # annotations only: not on reads
    from dashtam_cli.domain.providers import Provider, ProviderRegistry
    from dashtam_cli.infrastructure.audit import SqlAuditLog
    from dashtam_cli.infrastructure.database import SqlDatabaseAdmin
    from dashtam_cli.infrastructure.db.readers import SqlTransactionReader
    from dashtam_cli.infrastructure.db.sqlite_audit import SqliteAuditLog
    from dashtam_cli.infrastructure.db.sqlite_readers import SqliteReaders, SqliteTransactionReader
    from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
    from dashtam_cli.infrastructure.workspace import LocalWorkspace

_COMMANDS_MODULE = "dashtam_cli.application.commands"


def _manages_schema(kind: type[Any]) -> bool:
    """Messages that manage the schema themselves: everything else migrates it on first use."""
    if kind.__module__ != _COMMANDS_MODULE:
        return kind is qry.Status
    from dashtam_cli.application import commands as cmd

    return kind in (cmd.InitializeWorkspace, cmd.UpgradeDatabase)


class _Handler(Protocol):
    async def handle(self, message: Any, /) -> Result[Any]:
        """Handle one message."""
        ...


class _KeyStoreProbe:
    """Adapts a key store to the ``SecretsProbe`` port."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    @property
    def backend(self) -> str:
        return self._keys.backend

    def probe(self) -> Result[None]:
        from dashtam_cli.infrastructure.secrets import probe

        return probe(self._keys)


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


class Application:
    """The built application as the front ends see it (implements the CLI's ``Services``).

    Every adapter is a cached property, built the first time a handler needs it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        keys: KeyStore | None = None,
        providers: Sequence[Provider] | None = None,
        configure_logs: bool = True,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._keys = keys
        self._providers = providers
        self._configure_logs = configure_logs
        self._logging_ready = False
        self.bus = _LazyBus(self)

    # ----------------------------------------------------------------- paths (Services)

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

    # ----------------------------------------------------------------- adapters

    def ensure_logging(self) -> None:
        """Configure structlog once (stderr + JSON file); done before anything that logs runs."""
        if self._logging_ready or not self._configure_logs:
            return
        from dashtam_cli.infrastructure.logging import configure_logging

        configure_logging(
            level=self.settings.log_level,
            fmt=self.settings.log_format,
            log_file=self.settings.log_file if self.settings.data_dir.is_dir() else None,
        )
        self._logging_ready = True

    @cached_property
    def clock(self) -> Clock:
        """The clock (UTC)."""
        if self._clock is not None:
            return self._clock
        from dashtam_cli.infrastructure.workspace import SystemClock

        return SystemClock()

    @cached_property
    def engine(self) -> AsyncEngine:
        """The async engine (SQLite or PostgreSQL)."""
        require_event_loop()  # a query run without an event loop starts again with one
        from dashtam_cli.infrastructure.db.engine import UnsupportedDatabaseUrlError, create_engine

        try:
            return create_engine(self.settings.db_url)
        except UnsupportedDatabaseUrlError as exc:
            raise ServicesUnavailableError(
                DomainError(
                    code=ErrorCode.CONFIG_INVALID,
                    message=f"DASHTAM_DATABASE_URL: {exc}",
                    hint="set DASHTAM_DATABASE_URL to sqlite:///PATH or postgresql://USER@HOST/DB",
                )
            ) from None

    @cached_property
    def uow_factory(self) -> SqlUnitOfWorkFactory:
        """Units of work on the engine."""
        from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory

        return SqlUnitOfWorkFactory(self.engine)

    @cached_property
    def workspace(self) -> LocalWorkspace:
        """The data and config directories."""
        from dashtam_cli.infrastructure.workspace import LocalWorkspace

        return LocalWorkspace(data_dir=self.settings.data_dir, config_dir=self.settings.config_dir)

    @cached_property
    def database(self) -> SqlDatabaseAdmin:
        """Schema inspection and migration."""
        from dashtam_cli.infrastructure.database import SqlDatabaseAdmin

        # the engine is built only if needed: a current SQLite schema is checked with sqlite3
        return SqlDatabaseAdmin(url=self.settings.db_url, engine=lambda: self.engine)

    @cached_property
    def audit(self) -> SqlAuditLog | SqliteAuditLog:
        """The append-only audit writer (its own transactions); ``sqlite3`` on a SQLite file."""
        from dashtam_cli.infrastructure.db.engine import sqlite_path

        if (path := sqlite_path(self.settings.db_url)) is not None:
            from dashtam_cli.infrastructure.db.sqlite_audit import SqliteAuditLog

            return SqliteAuditLog(path)  # the same rows, without importing SQLAlchemy
        from dashtam_cli.infrastructure.audit import SqlAuditLog

        return SqlAuditLog(self.engine)

    @cached_property
    def events(self) -> EventDispatcher:
        """The event dispatcher, with the logging and audit handlers subscribed."""
        self.ensure_logging()
        from dashtam_cli.application.bus import EventDispatcher
        from dashtam_cli.application.handlers.events import wire_default_handlers

        dispatcher = EventDispatcher()
        wire_default_handlers(dispatcher, audit=self.audit)
        return dispatcher

    @cached_property
    def keys(self) -> KeyStore:
        """The data-key store of the configured secrets backend."""
        self.ensure_logging()
        if self._keys is not None:
            return self._keys
        from dashtam_cli.infrastructure.secrets import build_keystore

        settings = self.settings
        built = build_keystore(
            settings.secrets_backend,
            config_dir=settings.config_dir,
            master_key=settings.master_key.get_secret_value() if settings.master_key else None,
        )
        if isinstance(built, Failure):
            return _UnavailableKeyStore(settings.secrets_backend, built.error)
        return built.value

    @cached_property
    def providers(self) -> ProviderRegistry:
        """Every provider adapter."""
        from dashtam_cli.domain.providers import ProviderRegistry

        if self._providers is not None:
            return ProviderRegistry(self._providers)
        from dashtam_cli.infrastructure.providers.demo import DemoProvider

        return ProviderRegistry([DemoProvider(), self.schwab_provider])

    @cached_property
    def schwab_provider(self) -> Provider:
        """The Charles Schwab adapter (its HTTP and crypto modules load on first use)."""
        from dashtam_cli.infrastructure.locks import refresh_lock_factory
        from dashtam_cli.infrastructure.providers.schwab.provider import (
            SchwabConfig,
            SchwabProvider,
        )
        from dashtam_cli.infrastructure.secrets import AesGcmCipher

        settings = self.settings

        def plain(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        return SchwabProvider(
            config=SchwabConfig(
                auth_url=settings.schwab_auth_url,
                api_url=settings.schwab_api_url,
                callback_url=settings.schwab_callback_url,
                client_id=plain(settings.schwab_client_id),
                client_secret=plain(settings.schwab_client_secret),
            ),
            uow_factory=self.uow_factory,
            cipher=AesGcmCipher(self.keys),
            events=self.events,
            clock=self.clock,
            refresh_lock=refresh_lock_factory(
                settings.db_url, self.engine, data_dir=settings.data_dir
            ),
        )

    @cached_property
    def sqlite_readers(self) -> SqliteReaders | None:
        """Readers on the standard library ``sqlite3`` when the database is a SQLite file.

        They never import SQLAlchemy (most of a read command's start-up time). None for
        PostgreSQL and in-memory SQLite, which read through the engine.
        """
        from dashtam_cli.infrastructure.db.engine import sqlite_path

        path = sqlite_path(self.settings.db_url)
        if path is None:
            return None
        from dashtam_cli.infrastructure.db.sqlite_readers import SqliteReaders

        return SqliteReaders(path)

    @cached_property
    def connection_reader(self) -> ConnectionReader:
        """Connections for display."""
        if (fast := self.sqlite_readers) is not None:
            return fast.connections
        from dashtam_cli.infrastructure.db.readers import SqlConnectionReader

        return SqlConnectionReader(self.engine)

    @cached_property
    def account_reader(self) -> qry.AccountReader:
        """Accounts for display."""
        if (fast := self.sqlite_readers) is not None:
            return fast.accounts
        from dashtam_cli.infrastructure.db.readers import SqlAccountReader

        return SqlAccountReader(self.engine)

    @cached_property
    def transaction_reader(self) -> SqliteTransactionReader | SqlTransactionReader:
        """Transactions for display (lists, and the dashboard's pages)."""
        if (fast := self.sqlite_readers) is not None:
            return fast.transactions
        from dashtam_cli.infrastructure.db.readers import SqlTransactionReader

        return SqlTransactionReader(self.engine)

    @cached_property
    def holding_reader(self) -> qry.HoldingReader:
        """Holdings for display."""
        if (fast := self.sqlite_readers) is not None:
            return fast.holdings
        from dashtam_cli.infrastructure.db.readers import SqlHoldingReader

        return SqlHoldingReader(self.engine)

    @cached_property
    def balance_reader(self) -> qry.BalanceReader:
        """Balance snapshots for display."""
        if (fast := self.sqlite_readers) is not None:
            return fast.balances
        from dashtam_cli.infrastructure.db.readers import SqlBalanceReader

        return SqlBalanceReader(self.engine)

    async def aclose(self) -> None:
        """Write any queued audit rows, then dispose of the connections that were opened."""
        try:
            if "audit" in self.__dict__:
                await self.audit.aclose()
        finally:
            try:
                if (fast := self.__dict__.get("sqlite_readers")) is not None:
                    fast.close()
            finally:
                if "engine" in self.__dict__:
                    await self.engine.dispose()


class _LazyBus:
    """Routes a message to its handler, building the handler (and its adapters) on first use.

    Before the first message that touches data, it makes sure the data dir exists and the schema
    is current (migrations are applied on first use).
    """

    def __init__(self, app: Application) -> None:
        self._app = app
        self._handlers: dict[type[Any], _Handler] = {}
        self._ready = False

    async def execute(self, message: object) -> Result[Any]:
        """Run the message's handler; database errors come back as error values."""
        from dashtam_cli.infrastructure.db.errors import DatabaseUnavailableError

        kind = type(message)
        factory = _factory_for(kind)
        if factory is None:
            raise LookupError(f"no handler registered for {kind.__name__}")
        try:
            if not self._ready and not _manages_schema(kind):
                created = self._app.workspace.ensure()
                if isinstance(created, Failure):
                    return created
                upgraded = await self._app.database.upgrade()
                if isinstance(upgraded, Failure):
                    return upgraded
                self._ready = True
            handler = self._handlers.get(kind)
            if handler is None:
                handler = self._handlers[kind] = factory(self._app)
            return await handler.handle(message)
        except DatabaseUnavailableError as exc:
            # The unit of work raises (it cannot return a Result from __aenter__/__aexit__);
            # the edge turns it back into the error value it carries.
            return Failure(error=exc.error)


# ------------------------------------------------------------------------------ handler factories
# One function per message type; each imports only what its handler needs.


def _init(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.system import InitializeWorkspaceHandler

    keys = app.keys
    return InitializeWorkspaceHandler(
        workspace=app.workspace, database=app.database, keys=keys, secrets=_KeyStoreProbe(keys)
    )


def _upgrade(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.system import UpgradeDatabaseHandler

    return UpgradeDatabaseHandler(database=app.database)


def _status(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.system import StatusHandler

    return StatusHandler(
        database=app.database,
        secrets=_KeyStoreProbe(app.keys),
        connections=app.connection_reader,
        clock=app.clock,
    )


def _audit_list(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.system import AuditListHandler

    return AuditListHandler(audit=app.audit)


def _rotate(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.keys import RotateKeysHandler
    from dashtam_cli.infrastructure.secrets import AesGcmCipher

    keys = app.keys
    return RotateKeysHandler(
        uow_factory=app.uow_factory,
        keys=keys,
        cipher=AesGcmCipher(keys),
        events=app.events,
        clock=app.clock,
    )


def _sync(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.sync import SyncConnectionsHandler
    from dashtam_cli.infrastructure.locks import sync_lock_for

    return SyncConnectionsHandler(
        uow_factory=app.uow_factory,
        providers=app.providers,
        events=app.events,
        clock=app.clock,
        lock=sync_lock_for(app.settings.db_url, app.engine, data_dir=app.settings.data_dir),
    )


def _demo(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.demo import StartDemoHandler
    from dashtam_cli.infrastructure.providers.demo import demo_provider_state

    return StartDemoHandler(
        uow_factory=app.uow_factory,
        events=app.events,
        clock=app.clock,
        demo_state=demo_provider_state,
    )


def _provider_list(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.connections import ProviderListHandler

    return ProviderListHandler(
        connections=app.connection_reader, accounts=app.account_reader, clock=app.clock
    )


def _provider_detail(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.connections import ProviderDetailHandler

    return ProviderDetailHandler(
        connections=app.connection_reader, accounts=app.account_reader, clock=app.clock
    )


def _rename(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.connections import RenameConnectionHandler

    return RenameConnectionHandler(uow_factory=app.uow_factory, clock=app.clock)


def _disconnect(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.connections import DisconnectConnectionHandler

    return DisconnectConnectionHandler(
        uow_factory=app.uow_factory, events=app.events, clock=app.clock
    )


def _account_list(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.accounts import AccountListHandler

    return AccountListHandler(connections=app.connection_reader, accounts=app.account_reader)


def _account_detail(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.accounts import AccountDetailHandler

    return AccountDetailHandler(
        connections=app.connection_reader,
        accounts=app.account_reader,
        holdings=app.holding_reader,
        balances=app.balance_reader,
    )


def _transaction_list(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.transactions import TransactionListHandler

    return TransactionListHandler(
        connections=app.connection_reader,
        accounts=app.account_reader,
        transactions=app.transaction_reader,
    )


def _transaction_detail(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.transactions import TransactionDetailHandler

    return TransactionDetailHandler(
        connections=app.connection_reader,
        accounts=app.account_reader,
        transactions=app.transaction_reader,
    )


def _holding_list(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.holdings import HoldingListHandler

    return HoldingListHandler(accounts=app.account_reader, holdings=app.holding_reader)


def _balance_history(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.accounts import BalanceHistoryHandler

    return BalanceHistoryHandler(accounts=app.account_reader, balances=app.balance_reader)


def _export(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.exports import ExportHandler
    from dashtam_cli.application.ports import ExportReader
    from dashtam_cli.infrastructure.db.engine import sqlite_path

    exports: ExportReader
    if (path := sqlite_path(app.settings.db_url)) is not None:
        # a SQLite file streams through sqlite3: no SQLAlchemy import, no thread per chunk
        from dashtam_cli.infrastructure.db.sqlite_export_readers import SqliteExportReader

        exports = SqliteExportReader(path)
    else:
        from dashtam_cli.infrastructure.db.export_readers import SqlExportReader

        exports = SqlExportReader(app.engine)
    return ExportHandler(
        exports=exports,
        accounts=app.account_reader,
        connections=app.connection_reader,
        events=app.events,
    )


def _connect(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.login import ConnectProviderHandler
    from dashtam_cli.infrastructure.secrets import AesGcmCipher

    return ConnectProviderHandler(
        uow_factory=app.uow_factory,
        providers=app.providers,
        cipher=AesGcmCipher(app.keys),
        events=app.events,
        clock=app.clock,
    )


def _refresh(app: Application) -> _Handler:
    from dashtam_cli.application.handlers.login import RefreshConnectionHandler

    return RefreshConnectionHandler(
        uow_factory=app.uow_factory, providers=app.providers, clock=app.clock
    )


def _dashboard_overview(app: Application) -> _Handler:
    from dashtam_cli.application import dashboard as dash

    return dash.DashboardOverviewHandler(
        connections=app.connection_reader,
        accounts=app.account_reader,
        balances=app.balance_reader,
        clock=app.clock,
    )


def _account_dashboard(app: Application) -> _Handler:
    from dashtam_cli.application import dashboard as dash

    return dash.AccountDashboardHandler(
        connections=app.connection_reader,
        accounts=app.account_reader,
        holdings=app.holding_reader,
        balances=app.balance_reader,
        transactions=app.transaction_reader,
    )


def _transaction_browse(app: Application) -> _Handler:
    from dashtam_cli.application import dashboard as dash

    return dash.TransactionBrowseHandler(
        connections=app.connection_reader, accounts=app.account_reader, pages=app.transaction_reader
    )


def _holdings_allocation(app: Application) -> _Handler:
    from dashtam_cli.application import dashboard as dash

    return dash.HoldingsAllocationHandler(accounts=app.account_reader, holdings=app.holding_reader)


type _Factories = dict[type[Any], Callable[[Application], _Handler]]


def _query_factories() -> _Factories:
    return {
        qry.Status: _status,
        qry.AuditList: _audit_list,
        qry.ProviderList: _provider_list,
        qry.ProviderDetail: _provider_detail,
        qry.AccountList: _account_list,
        qry.AccountDetail: _account_detail,
        qry.TransactionList: _transaction_list,
        qry.TransactionDetail: _transaction_detail,
        qry.HoldingList: _holding_list,
        qry.BalanceHistory: _balance_history,
    }


def _command_factories() -> _Factories:
    from dashtam_cli.application import commands as cmd

    return {
        cmd.InitializeWorkspace: _init,
        cmd.UpgradeDatabase: _upgrade,
        cmd.RotateKeys: _rotate,
        cmd.SyncConnections: _sync,
        cmd.StartDemo: _demo,
        cmd.RenameConnection: _rename,
        cmd.DisconnectConnection: _disconnect,
        cmd.ConnectProvider: _connect,
        cmd.RefreshConnection: _refresh,
        cmd.ExportTransactions: _export,
        cmd.ExportAccounts: _export,
        cmd.ExportHoldings: _export,
    }


def _dashboard_factories() -> _Factories:
    from dashtam_cli.application import dashboard as dash

    return {
        dash.DashboardOverview: _dashboard_overview,
        dash.AccountDashboard: _account_dashboard,
        dash.TransactionBrowse: _transaction_browse,
        dash.HoldingsAllocation: _holdings_allocation,
    }


#: The handler factories of each message module, registered when its first message arrives: a
#: read command never imports the commands or dashboard modules (creating their dataclasses
#: costs a read command ~15 ms). A new message goes into the table of its module.
_FACTORY_TABLES: dict[str, Callable[[], _Factories]] = {
    "dashtam_cli.application.queries": _query_factories,
    _COMMANDS_MODULE: _command_factories,
    "dashtam_cli.application.dashboard": _dashboard_factories,
}
_FACTORIES: _Factories = {}


def _factory_for(kind: type[Any]) -> Callable[[Application], _Handler] | None:
    """The handler factory of a message type (None when no handler is registered for it)."""
    if kind not in _FACTORIES and (table := _FACTORY_TABLES.pop(kind.__module__, None)):
        _FACTORIES.update(table())
    return _FACTORIES.get(kind)


def _problem(location: Sequence[object], message: str) -> str:
    """One validation problem as a person reads it: pydantic's "Value error, " prefix dropped;
    a setting named as in config.toml and as its variable, unless the message names it."""
    text = message.removeprefix("Value error, ")
    if text.startswith("DASHTAM_"):
        return text
    if len(location) == 1 and isinstance(location[0], str):  # a setting: config.toml or env
        return f"{location[0]} (DASHTAM_{location[0].upper()}): {text}"
    return f"{'.'.join(str(p) for p in location) or 'settings'}: {text}"


def _settings_error(exc: Exception) -> DomainError:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(_problem(e["loc"], e["msg"]) for e in exc.errors())
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
    """Build the application (its adapters are created when first needed).

    Raises:
        ServicesUnavailableError: the configuration is invalid (exit code 2).
    """
    if settings is None:
        try:
            settings = load_settings()
        except Exception as exc:
            raise ServicesUnavailableError(_settings_error(exc)) from None
    from dashtam_cli.infrastructure.db.engine import UnsupportedDatabaseUrlError, database_backend

    try:
        database_backend(settings.db_url)
    except UnsupportedDatabaseUrlError as exc:
        raise ServicesUnavailableError(
            DomainError(
                code=ErrorCode.CONFIG_INVALID,
                message=f"DASHTAM_DATABASE_URL: {exc}",
                hint="set DASHTAM_DATABASE_URL to sqlite:///PATH or postgresql://USER@HOST/DB",
            )
        ) from None
    return Application(
        settings, clock=clock, keys=keys, providers=providers, configure_logs=configure_logs
    )


def _log_crash(exc: BaseException) -> Path | None:
    """Log a crash to the log file, configuring logging first when nothing did (read commands)."""
    from dashtam_cli.infrastructure import logging as logs

    if not logs.is_configured():
        # Unconfigured, structlog would print a Rich traceback with every frame's variables.
        settings = load_settings()
        logs.configure_logging(
            level=settings.log_level,
            fmt=settings.log_format,
            log_file=settings.log_file if settings.data_dir.is_dir() else None,
        )
    return logs.log_crash(exc)


def report_crash(exc: BaseException) -> int:
    """Last line of defence for a bug: the traceback to the log file, one line to stderr, exit 1."""
    logged: Path | None = None
    # Reporting a bug must never raise another; and stdout stays the product's, even here.
    with contextlib.suppress(Exception), contextlib.redirect_stdout(sys.stderr):
        logged = _log_crash(exc)
    if os.environ.get("DASHTAM_DEBUG"):
        traceback.print_exception(exc)
    where = f"the traceback is in {logged}" if logged else "no log file holds the traceback"
    sys.stderr.write(
        f"error[{ErrorCode.INTERNAL.value}]: unexpected {type(exc).__name__}; this is a bug.\n"
        f"  hint: {where}; set DASHTAM_DEBUG=1 to print it\n"
    )
    return 1


__all__ = ["Application", "bootstrap", "report_crash"]
