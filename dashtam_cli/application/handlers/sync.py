"""The sync: provider-agnostic, following the sync rules of the domain.

Per connection: open a provider session (tokens refreshed by the provider under its lock), upsert
accounts and holdings, deactivate what disappeared, write one balance snapshot per account, then
read transactions window by window and upsert them by their unique key, committing per account and
per window so an interrupted sync keeps what it finished. One failing account does not stop the
others: the run ends ``partial``. Progress is published as ``SyncProgressed`` events, so every
front end shows the same progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from dashtam_cli.application.commands import SyncConnections
from dashtam_cli.application.handlers.health import connection_health, reconnect_command
from dashtam_cli.application.handlers.login import LOGIN_DEAD_CODES, mark_login_dead
from dashtam_cli.application.handlers.resolve import resolve_ref
from dashtam_cli.application.handlers.sync_history import TransactionHistorySync
from dashtam_cli.application.handlers.sync_records import (
    AccountSyncResult,
    ConnectionSyncReport,
    SyncReport,
    holdings_value,
    to_account,
    to_holdings,
)
from dashtam_cli.application.ports import SyncLock
from dashtam_cli.domain.connections import ConnectionStatus, ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.events import (
    AccountSyncAttempted,
    AccountSyncFailed,
    AccountSyncSucceeded,
    ConnectionExpiringSoon,
    HoldingsSyncAttempted,
    HoldingsSyncFailed,
    HoldingsSyncSucceeded,
    SyncAttempted,
    SyncFailed,
    SyncProgressed,
    SyncSucceeded,
    TransactionSyncAttempted,
    TransactionSyncFailed,
    TransactionSyncSucceeded,
)
from dashtam_cli.domain.holdings import BalanceSnapshot, SnapshotSource
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.protocols import (
    Clock,
    EventSink,
    UnitOfWork,
    UnitOfWorkFactory,
    UpsertCounts,
)
from dashtam_cli.domain.providers import (
    FetchedAccount,
    Provider,
    ProviderRegistry,
    ProviderSession,
)
from dashtam_cli.domain.sync import SyncCounts, SyncRun, SyncStatus

#: What ``dashtam sync`` without ``--connection`` takes: active logins are synced; expired and
#: revoked ones are reported as failed (their login must be renewed) on every run.
_SYNCED_OR_REPORTED = frozenset(
    {ConnectionStatus.ACTIVE, ConnectionStatus.EXPIRED, ConnectionStatus.REVOKED}
)


def carried_error(exc: BaseException) -> DomainError | None:
    """The DomainError an adapter's exception carries (a database failure), None for a bug."""
    error = getattr(exc, "error", None)
    return error if isinstance(error, DomainError) else None


class SyncConnectionsHandler:
    """Runs ``dashtam sync`` under the database's sync lock."""

    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        providers: ProviderRegistry,
        events: EventSink,
        clock: Clock,
        lock: SyncLock,
    ) -> None:
        self._uow_factory = uow_factory
        self._providers = providers
        self._events = events
        self._clock = clock
        self._lock = lock
        self._history = TransactionHistorySync(uow_factory=uow_factory, events=events, clock=clock)

    async def handle(self, command: SyncConnections) -> Result[SyncReport]:
        """Sync the selected connections.

        Returns:
            The report (its status may be partial or failed: the CLI maps that to exit 3 or the
            failing error's exit code); ``sync_locked`` when another sync runs; ``not_found`` /
            ``ambiguous_id`` for a bad ``--connection``; ``connection_not_active`` when the chosen
            connection cannot sync.
        """
        locked = await self._lock.acquire()
        if isinstance(locked, Failure):
            return locked
        try:
            selected = await self._select(command.connection_ref)
            if isinstance(selected, Failure):
                return selected
            reports = []
            for connection in selected.value:
                reports.append(await self._sync_connection(connection, command))
            return ok(SyncReport(connections=tuple(reports)))
        finally:
            await self._lock.release()

    async def _select(self, ref: str | None) -> Result[list[ProviderConnection]]:
        async with self._uow_factory() as uow:
            # disconnected ones too: naming one must say it is disconnected, not unknown
            connections = list(await uow.connections.list(include_disconnected=True))
        if ref is None:
            # an expired or revoked login is reported on every run (exit 4), not skipped:
            # cron must not fall silent after the first failure
            active = [c for c in connections if c.status in _SYNCED_OR_REPORTED]
            if not active:
                return fail(
                    ErrorCode.NOT_FOUND,
                    "there is no active connection to sync",
                    hint="run `dashtam demo` for a tour, or `dashtam providers connect schwab`",
                )
            return ok(active)
        found = resolve_ref(
            ref,
            connections,
            kind="connection",
            id_of=lambda c: c.id,
            aliases_of=lambda c: (c.alias,),
            list_command="dashtam providers list",
        )
        if isinstance(found, Failure):
            return found
        connection = found.value
        if connection.status is not ConnectionStatus.ACTIVE:
            return fail(
                ErrorCode.CONNECTION_NOT_ACTIVE,
                f"connection {connection.alias!r} is {connection.status.value} and cannot sync",
                hint=reconnect_command(connection),
            )
        return ok([connection])

    async def _progress(self, connection: ProviderConnection, **context: object) -> None:
        await self._events.publish(SyncProgressed(connection_id=connection.id, context=context))

    async def _sync_connection(
        self, connection: ProviderConnection, command: SyncConnections
    ) -> ConnectionSyncReport:
        started = self._clock.now()
        run = SyncRun(connection_id=connection.id, started_at=started)
        base = {"alias": connection.alias, "provider": connection.provider, "sync_run_id": run.id}
        await self._events.publish(SyncAttempted(connection_id=connection.id, context=base))
        async with self._uow_factory() as uow:
            await uow.sync_runs.save(run)
            await uow.commit()
        if connection.status is not ConnectionStatus.ACTIVE:  # its login must be renewed first
            error = DomainError(
                code=ErrorCode.CONNECTION_NOT_ACTIVE,
                message=f"connection {connection.alias!r} is {connection.status.value}: "
                "it cannot sync until you log in again",
                hint=reconnect_command(connection),
            )
            return await self._finish(connection, run, [], error=error)
        try:
            return await self._run(connection, run, command)
        except Exception as exc:
            # A bug, or a database that stopped answering: the run must not stay "running"
            # and the attempt must not stay without an outcome.
            await self._stopped(connection, run, exc)
            raise

    async def _stopped(self, connection: ProviderConnection, run: SyncRun, exc: Exception) -> None:
        """Record a run that stopped on an exception as failed (best effort: never raises)."""
        error = carried_error(exc) or DomainError(
            code=ErrorCode.INTERNAL, message=f"the sync stopped: {type(exc).__name__}"
        )
        try:
            await self._finish(connection, run, [], error=error)
        except Exception:  # the database itself is failing: at least the event is published
            await self._events.publish(
                SyncFailed(
                    connection_id=connection.id,
                    context={"alias": connection.alias, "sync_run_id": run.id},
                    error_code=error.code,
                    error_message=error.message,
                )
            )

    async def _run(
        self, connection: ProviderConnection, run: SyncRun, command: SyncConnections
    ) -> ConnectionSyncReport:
        started = run.started_at
        provider = self._providers.get(connection.provider)
        if provider is None:
            error = DomainError(
                code=ErrorCode.CONFIG_INVALID,
                message=f"no provider {connection.provider!r} is available in this version",
            )
            return await self._finish(connection, run, [], error=error)
        opened = await provider.open_session(connection, now=started)
        if isinstance(opened, Failure):
            await mark_login_dead(self._uow_factory, connection, opened.error, self._clock)
            return await self._finish(connection, run, [], error=opened.error)
        session = opened.value
        try:
            await self._warn_if_expiring(session.connection)
            await self._progress(connection, phase="accounts")
            fetched = await session.fetch_accounts()
            if isinstance(fetched, Failure):
                await mark_login_dead(self._uow_factory, connection, fetched.error, self._clock)
                return await self._finish(connection, run, [], error=fetched.error)
            stored = await self._store_accounts(connection, run, fetched.value)
            results: list[AccountSyncResult] = []
            for account in fetched.value:
                result = await self._sync_account(
                    provider, session, connection, run, account, stored, command
                )
                results.append(result)
                if result.error is not None and result.error.code in LOGIN_DEAD_CODES:
                    # The login died mid-run: every further request would fail the same way.
                    await mark_login_dead(self._uow_factory, connection, result.error, self._clock)
                    return await self._finish(connection, run, results, error=result.error)
            return await self._finish(connection, run, results, session=session)
        finally:
            await session.aclose()

    async def _warn_if_expiring(self, connection: ProviderConnection) -> None:
        """Publish ``ConnectionExpiringSoon`` when the login ends within a day (cron sees it)."""
        health = connection_health(connection, self._clock)
        if not health.expiring_soon or health.refresh_time_left is None:
            return
        await self._events.publish(
            ConnectionExpiringSoon(
                connection_id=connection.id,
                context={
                    "alias": connection.alias,
                    "provider": connection.provider,
                    "refresh_expires_at": connection.refresh_expires_at,
                    "seconds_left": int(health.refresh_time_left.total_seconds()),
                    "action": reconnect_command(connection),
                },
            )
        )

    async def _store_accounts(
        self, connection: ProviderConnection, run: SyncRun, fetched: Sequence[FetchedAccount]
    ) -> dict[str, UUID]:
        """Upsert accounts, deactivate vanished ones, snapshot balances; one commit."""
        now = self._clock.now()
        async with self._uow_factory() as uow:
            accounts = [to_account(connection.id, f, now) for f in fetched]
            stored = await uow.accounts.upsert_many(accounts) if accounts else {}
            await uow.accounts.deactivate_missing(
                connection.id, [f.provider_account_id for f in fetched]
            )
            for f in fetched:
                account_id = stored[f.provider_account_id]
                await uow.balances.add(
                    BalanceSnapshot(
                        account_id=account_id,
                        captured_at=now,
                        balance=Money(f.balance, f.currency),
                        cash_value=None
                        if f.cash_balance is None
                        else Money(f.cash_balance, f.currency),
                        holdings_value=holdings_value(f),
                        source=SnapshotSource.SYNC,
                        sync_run_id=run.id,
                    )
                )
            await uow.commit()
        return stored

    async def _sync_account(
        self,
        provider: Provider,
        session: ProviderSession,
        connection: ProviderConnection,
        run: SyncRun,
        account: FetchedAccount,
        stored: dict[str, UUID],
        command: SyncConnections,
    ) -> AccountSyncResult:
        account_id = stored[account.provider_account_id]
        context = {"account": account.account_number_masked, "sync_run_id": run.id}
        await self._events.publish(
            AccountSyncAttempted(
                connection_id=connection.id, account_id=account_id, context=context
            )
        )

        await self._events.publish(
            HoldingsSyncAttempted(
                connection_id=connection.id, account_id=account_id, context=context
            )
        )
        try:
            async with self._uow_factory() as uow:
                holdings = to_holdings(account_id, account)
                counts = await uow.holdings.upsert_many(holdings) if holdings else UpsertCounts()
                deactivated = await uow.holdings.deactivate_missing(
                    account_id, [h.provider_holding_id for h in account.holdings]
                )
                await uow.commit()
        except Exception as exc:
            # a storage error (a value the database refuses...) fails this account only
            carried = carried_error(exc)
            code = ErrorCode.INTERNAL if carried is None else carried.code
            failed = context if carried is None else {**context, "detail": carried.message}
            await self._events.publish(
                HoldingsSyncFailed(
                    connection_id=connection.id,
                    account_id=account_id,
                    context=failed,
                    error_code=code,
                )
            )
            await self._events.publish(
                AccountSyncFailed(
                    connection_id=connection.id,
                    account_id=account_id,
                    context=failed,
                    error_code=code,
                )
            )
            if carried is None:
                raise
            return AccountSyncResult(
                account_id=account_id,
                name=account.name,
                account_number_masked=account.account_number_masked,
                ok=False,
                error=carried,
            )
        await self._events.publish(
            HoldingsSyncSucceeded(
                connection_id=connection.id,
                account_id=account_id,
                context={
                    **context,
                    "holdings": len(holdings),
                    "inserted": counts.inserted,
                    "updated": counts.updated,
                    "deactivated": deactivated,
                },
            )
        )

        await self._events.publish(
            TransactionSyncAttempted(
                connection_id=connection.id, account_id=account_id, context=context
            )
        )
        try:
            synced = await self._history.sync(
                provider.capabilities, session, connection, account, account_id, command
            )
        except Exception as exc:  # a storage error fails this account only (a bug goes up)
            carried = carried_error(exc)
            if carried is None:
                raise
            synced = Failure(error=carried)
        if isinstance(synced, Failure):
            error = synced.error
            failed = {**context, "detail": error.message}
            await self._events.publish(
                TransactionSyncFailed(
                    connection_id=connection.id,
                    account_id=account_id,
                    context=failed,
                    error_code=error.code,
                )
            )
            await self._events.publish(
                AccountSyncFailed(
                    connection_id=connection.id,
                    account_id=account_id,
                    context=failed,
                    error_code=error.code,
                )
            )
            return AccountSyncResult(
                account_id=account_id,
                name=account.name,
                account_number_masked=account.account_number_masked,
                ok=False,
                holdings=len(holdings),
                error=error,
            )
        tx = synced.value
        tx_context = {
            **context,
            "inserted": tx.inserted,
            "updated": tx.updated,
            "unchanged": tx.unchanged,
        }
        await self._events.publish(
            TransactionSyncSucceeded(
                connection_id=connection.id, account_id=account_id, context=tx_context
            )
        )
        await self._events.publish(
            AccountSyncSucceeded(
                connection_id=connection.id, account_id=account_id, context=tx_context
            )
        )
        return AccountSyncResult(
            account_id=account_id,
            name=account.name,
            account_number_masked=account.account_number_masked,
            ok=True,
            holdings=len(holdings),
            transactions_inserted=tx.inserted,
            transactions_updated=tx.updated,
            transactions_unchanged=tx.unchanged,
        )

    async def _finish(
        self,
        connection: ProviderConnection,
        run: SyncRun,
        results: list[AccountSyncResult],
        *,
        error: DomainError | None = None,
        session: ProviderSession | None = None,
    ) -> ConnectionSyncReport:
        now = self._clock.now()
        failures = [r for r in results if not r.ok]
        if error is not None or (results and len(failures) == len(results)):
            status = SyncStatus.FAILED
        elif failures:
            status = SyncStatus.PARTIAL
        else:
            status = SyncStatus.SUCCEEDED
        if error is None and failures:
            first = failures[0].error
            error = (
                DomainError(
                    code=ErrorCode.SYNC_PARTIAL,
                    message=f"{len(failures)} of {len(results)} accounts failed",
                    hint=first.hint if first else None,
                )
                if status is SyncStatus.PARTIAL
                else first
            )
        counts = SyncCounts(
            accounts=len(results),
            holdings=sum(r.holdings for r in results),
            transactions_inserted=sum(r.transactions_inserted for r in results),
            transactions_updated=sum(r.transactions_updated for r in results),
            transactions_unchanged=sum(r.transactions_unchanged for r in results),
        )
        finished = run.finish(
            status=status,
            at=now,
            counts=counts,
            error_code=None if error is None else error.code,
            error_message=None if error is None else error.message,
        )
        async with self._uow_factory() as uow:
            current = await uow.connections.get(connection.id) or connection
            if session is not None and status is not SyncStatus.FAILED:
                # The session may carry refreshed credentials or provider state to keep.
                latest = session.connection
                current = replace(
                    current,
                    credentials=latest.credentials,
                    provider_state=dict(latest.provider_state),
                )
            await uow.connections.save(current.record_sync(status=status.value, at=now))
            await uow.sync_runs.save(finished)
            await uow.commit()
        context = {
            "alias": connection.alias,
            "provider": connection.provider,
            "sync_run_id": run.id,
            "status": status.value,
            "accounts": len(results),
            "failed_accounts": len(failures),
            "inserted": counts.transactions_inserted,
            "updated": counts.transactions_updated,
        }
        if status is SyncStatus.FAILED and error is not None:
            await self._events.publish(
                SyncFailed(
                    connection_id=connection.id,
                    context=context,
                    error_code=error.code,
                    error_message=error.message,
                )
            )
        else:
            await self._events.publish(SyncSucceeded(connection_id=connection.id, context=context))
        return ConnectionSyncReport(
            connection_id=connection.id,
            alias=connection.alias,
            provider=connection.provider,
            run=finished,
            accounts=tuple(results),
            error=error,
        )


__all__ = [
    "AccountSyncResult",
    "ConnectionSyncReport",
    "SyncConnectionsHandler",
    "SyncReport",
    "UnitOfWork",
]
