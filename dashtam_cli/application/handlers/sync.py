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
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from dashtam_cli.application.commands import SyncConnections
from dashtam_cli.application.handlers.resolve import resolve_ref
from dashtam_cli.application.ports import SyncLock
from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.connections import ConnectionStatus, ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.events import (
    AccountSyncAttempted,
    AccountSyncFailed,
    AccountSyncSucceeded,
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
from dashtam_cli.domain.holdings import BalanceSnapshot, Holding, SnapshotSource
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
    FetchedTransaction,
    Provider,
    ProviderCapabilities,
    ProviderRegistry,
    ProviderSession,
)
from dashtam_cli.domain.sync import SyncCounts, SyncCursor, SyncRun, SyncStatus
from dashtam_cli.domain.transactions import Transaction


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountSyncResult:
    """How one account's sync went."""

    account_id: UUID | None
    name: str
    account_number_masked: str
    ok: bool
    holdings: int = 0
    transactions_inserted: int = 0
    transactions_updated: int = 0
    transactions_unchanged: int = 0
    error: DomainError | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionSyncReport:
    """One connection's sync: status, counts and per-account results."""

    connection_id: UUID
    alias: str
    provider: str
    run: SyncRun
    accounts: Sequence[AccountSyncResult] = ()
    error: DomainError | None = None

    @property
    def status(self) -> SyncStatus:
        """succeeded, partial or failed."""
        return self.run.status


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncReport:
    """Every connection synced by one ``dashtam sync``."""

    connections: Sequence[ConnectionSyncReport] = field(default_factory=tuple)

    @property
    def status(self) -> SyncStatus:
        """The worst outcome across connections (failed > partial > succeeded)."""
        statuses = {c.status for c in self.connections}
        if SyncStatus.FAILED in statuses:
            return SyncStatus.FAILED
        if SyncStatus.PARTIAL in statuses:
            return SyncStatus.PARTIAL
        return SyncStatus.SUCCEEDED


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _to_transaction(account_id: UUID, fetched: FetchedTransaction) -> Transaction:
    return Transaction(
        account_id=account_id,
        provider_transaction_id=fetched.provider_transaction_id,
        transaction_type=fetched.transaction_type,
        subtype=fetched.subtype,
        status=fetched.status,
        amount=Money(fetched.amount, fetched.currency),
        transaction_date=fetched.transaction_date,
        description=fetched.description,
        asset_type=fetched.asset_type,
        symbol=fetched.symbol,
        security_name=fetched.security_name,
        quantity=fetched.quantity,
        unit_price=fetched.unit_price,
        fees=None if fetched.fees is None else Money(fetched.fees, fetched.currency),
        settlement_date=fetched.settlement_date,
        posted_at=fetched.posted_at,
        raw=fetched.raw,
    )


def _to_account(connection_id: UUID, fetched: FetchedAccount, now: datetime) -> Account:
    currency = fetched.currency

    def money(value: object) -> Money | None:
        return None if value is None else Money(value, currency)  # type: ignore[arg-type]

    return Account(
        connection_id=connection_id,
        provider_account_id=fetched.provider_account_id,
        account_number_masked=fetched.account_number_masked,
        name=fetched.name,
        account_type=fetched.account_type,
        currency=currency,
        balance=Money(fetched.balance, currency),
        available_balance=money(fetched.available_balance),
        cash_balance=money(fetched.cash_balance),
        is_active=True,
        last_synced_at=now,
        raw=fetched.raw,
    )


def _to_holdings(account_id: UUID, fetched: FetchedAccount) -> list[Holding]:
    holdings = []
    for h in fetched.holdings:
        holdings.append(
            Holding(
                account_id=account_id,
                provider_holding_id=h.provider_holding_id,
                symbol=h.symbol,
                asset_type=h.asset_type,
                quantity=h.quantity,
                currency=h.currency,
                security_name=h.security_name,
                average_price=h.average_price,
                cost_basis=None if h.cost_basis is None else Money(h.cost_basis, h.currency),
                market_value=None if h.market_value is None else Money(h.market_value, h.currency),
                current_price=h.current_price,
                is_active=True,
                raw=h.raw,
            )
        )
    return holdings


def _holdings_value(fetched: FetchedAccount) -> Money | None:
    values = [h.market_value for h in fetched.holdings if h.market_value is not None]
    if not values or any(h.currency != fetched.currency for h in fetched.holdings):
        return None
    total = Money.zero(fetched.currency)
    for value in values:
        total = total + Money(value, fetched.currency)
    return total


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
            connections = list(await uow.connections.list(include_disconnected=False))
        if ref is None:
            active = [c for c in connections if c.status is ConnectionStatus.ACTIVE]
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
                hint=f"dashtam providers connect {connection.provider} --alias {connection.alias}",
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

        provider = self._providers.get(connection.provider)
        if provider is None:
            error = DomainError(
                code=ErrorCode.CONFIG_INVALID,
                message=f"no provider {connection.provider!r} is available in this version",
            )
            return await self._finish(connection, run, [], error=error)
        opened = await provider.open_session(connection, now=started)
        if isinstance(opened, Failure):
            if opened.error.code in {ErrorCode.REAUTH_REQUIRED, ErrorCode.TOKEN_REVOKED}:
                await self._mark_expired(connection, opened.error)
            return await self._finish(connection, run, [], error=opened.error)
        session = opened.value
        try:
            await self._progress(connection, phase="accounts")
            fetched = await session.fetch_accounts()
            if isinstance(fetched, Failure):
                return await self._finish(connection, run, [], error=fetched.error)
            stored = await self._store_accounts(connection, run, fetched.value)
            results: list[AccountSyncResult] = []
            for account in fetched.value:
                results.append(
                    await self._sync_account(
                        provider, session, connection, run, account, stored, command
                    )
                )
            return await self._finish(connection, run, results, session=session)
        finally:
            await session.aclose()

    async def _mark_expired(self, connection: ProviderConnection, error: DomainError) -> None:
        now = self._clock.now()
        moved = (
            connection.revoke(now=now)
            if error.code is ErrorCode.TOKEN_REVOKED
            else connection.expire(now=now)
        )
        if isinstance(moved, Failure):
            return
        async with self._uow_factory() as uow:
            await uow.connections.save(moved.value)
            await uow.commit()

    async def _store_accounts(
        self, connection: ProviderConnection, run: SyncRun, fetched: Sequence[FetchedAccount]
    ) -> dict[str, UUID]:
        """Upsert accounts, deactivate vanished ones, snapshot balances; one commit."""
        now = self._clock.now()
        async with self._uow_factory() as uow:
            accounts = [_to_account(connection.id, f, now) for f in fetched]
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
                        holdings_value=_holdings_value(f),
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
                holdings = _to_holdings(account_id, account)
                counts = await uow.holdings.upsert_many(holdings) if holdings else UpsertCounts()
                deactivated = await uow.holdings.deactivate_missing(
                    account_id, [h.provider_holding_id for h in account.holdings]
                )
                await uow.commit()
        except Exception as exc:
            await self._events.publish(
                HoldingsSyncFailed(
                    connection_id=connection.id,
                    account_id=account_id,
                    context=context,
                    error_code=ErrorCode.INTERNAL,
                )
            )
            await self._events.publish(
                AccountSyncFailed(
                    connection_id=connection.id,
                    account_id=account_id,
                    context=context,
                    error_code=ErrorCode.INTERNAL,
                )
            )
            raise exc
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
        synced = await self._sync_transactions(
            provider.capabilities, session, connection, account, account_id, command
        )
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

    async def _sync_transactions(
        self,
        caps: ProviderCapabilities,
        session: ProviderSession,
        connection: ProviderConnection,
        account: FetchedAccount,
        account_id: UUID,
        command: SyncConnections,
    ) -> Result[UpsertCounts]:
        now = self._clock.now()
        totals = UpsertCounts()
        async with self._uow_factory() as uow:
            cursor = await uow.sync_cursors.get(account_id)
            latest = await uow.transactions.latest_date(account_id)

        # 1. Forward: from --since, or from the newest stored row minus the overlap.
        forward_from: datetime | None = None
        if command.since is not None:
            forward_from = _midnight(command.since)
        elif latest is not None and not command.full:
            forward_from = _midnight(latest) - caps.overlap
        if forward_from is not None:
            start = forward_from
            while start < now:
                end = min(start + caps.max_window, now)
                window = await self._window(session, connection, account, account_id, start, end)
                if isinstance(window, Failure):
                    return window
                totals = _add(totals, window.value)
                start = end

        # 2. Backward: the first sync (or --full, or an unfinished backfill) walks history back.
        backfill = command.full or cursor is None or not cursor.backfill_complete
        if command.since is not None and not command.full:
            backfill = False
        if backfill:
            floor = now - caps.history_limit if caps.history_limit is not None else None
            end = now
            if cursor is not None and not command.full and cursor.oldest_fetched_at is not None:
                end = min(cursor.oldest_fetched_at, now)
            empty = timedelta(0)
            while floor is None or end > floor:
                start = end - caps.max_window
                if floor is not None:
                    start = max(start, floor)
                window = await self._window(session, connection, account, account_id, start, end)
                if isinstance(window, Failure):
                    return window
                counts = window.value
                totals = _add(totals, counts)
                seen = counts.inserted + counts.updated + counts.unchanged
                empty = empty + (end - start) if seen == 0 else timedelta(0)
                end = start
                async with self._uow_factory() as uow:
                    await uow.sync_cursors.save(
                        SyncCursor(account_id=account_id, oldest_fetched_at=start, updated_at=now)
                    )
                    await uow.commit()
                if empty >= caps.empty_span_stop:
                    break
            async with self._uow_factory() as uow:
                await uow.sync_cursors.save(
                    SyncCursor(
                        account_id=account_id,
                        oldest_fetched_at=end,
                        backfill_complete=True,
                        updated_at=self._clock.now(),
                    )
                )
                await uow.commit()
        return ok(totals)

    async def _window(
        self,
        session: ProviderSession,
        connection: ProviderConnection,
        account: FetchedAccount,
        account_id: UUID,
        start: datetime,
        end: datetime,
    ) -> Result[UpsertCounts]:
        fetched = await session.fetch_transactions(account, start, end)
        if isinstance(fetched, Failure):
            return fetched
        rows = [_to_transaction(account_id, f) for f in fetched.value]
        if not rows:
            counts = UpsertCounts()
        else:
            async with self._uow_factory() as uow:
                counts = await uow.transactions.upsert_many(rows)
                await uow.commit()
        await self._progress(
            connection,
            phase="transactions",
            account=account.account_number_masked,
            account_id=account_id,
            window_start=start.date(),
            window_end=end.date(),
            rows=len(rows),
            inserted=counts.inserted,
            updated=counts.updated,
        )
        return ok(counts)

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


def _add(a: UpsertCounts, b: UpsertCounts) -> UpsertCounts:
    return UpsertCounts(
        inserted=a.inserted + b.inserted,
        updated=a.updated + b.updated,
        unchanged=a.unchanged + b.unchanged,
    )


__all__ = [
    "AccountSyncResult",
    "ConnectionSyncReport",
    "SyncConnectionsHandler",
    "SyncReport",
    "UnitOfWork",
]
