"""Reading an account's transaction history window by window (the heart of the sync rules).

Forward from ``--since`` or from the newest stored transaction minus the provider's overlap;
backward on a first sync (or ``--full``, or an unfinished backfill) until the provider's history
limit or an empty span, with a cursor committed per window so an interrupted backfill resumes.

One unit of work serves the whole account and commits after every window (its rows and, going
backward, the cursor past it, together): a window costs one commit and no connection checkout.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from dashtam_cli.application.commands import SyncConnections
from dashtam_cli.application.handlers.sync_records import add_counts, midnight
from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import Failure, Result, ok
from dashtam_cli.domain.events import SyncProgressed
from dashtam_cli.domain.protocols import (
    Clock,
    EventSink,
    UnitOfWork,
    UnitOfWorkFactory,
    UpsertCounts,
)
from dashtam_cli.domain.providers import FetchedAccount, ProviderCapabilities, ProviderSession
from dashtam_cli.domain.sync import SyncCursor


class TransactionHistorySync:
    """Fetches and upserts one account's transactions, committing per window."""

    def __init__(self, *, uow_factory: UnitOfWorkFactory, events: EventSink, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._events = events
        self._clock = clock

    async def _progress(self, connection: ProviderConnection, **context: object) -> None:
        await self._events.publish(SyncProgressed(connection_id=connection.id, context=context))

    async def sync(
        self,
        caps: ProviderCapabilities,
        session: ProviderSession,
        connection: ProviderConnection,
        account: FetchedAccount,
        account_id: UUID,
        command: SyncConnections,
    ) -> Result[UpsertCounts]:
        async with self._uow_factory() as uow:
            return await self._sync(uow, caps, session, connection, account, account_id, command)

    async def _sync(
        self,
        uow: UnitOfWork,
        caps: ProviderCapabilities,
        session: ProviderSession,
        connection: ProviderConnection,
        account: FetchedAccount,
        account_id: UUID,
        command: SyncConnections,
    ) -> Result[UpsertCounts]:
        now = self._clock.now()
        totals = UpsertCounts()
        cursor = await uow.sync_cursors.get(account_id)
        latest = await uow.transactions.latest_date(account_id)

        async def window(
            start: datetime, end: datetime, cursor_after: SyncCursor | None = None
        ) -> Result[UpsertCounts]:
            return await self._window(
                uow, session, connection, account, account_id, start, end, cursor=cursor_after
            )

        # 1. Forward: from --since, or from the newest stored row minus the overlap.
        forward_from: datetime | None = None
        if command.since is not None:
            forward_from = midnight(command.since)
        elif latest is not None and not command.full:
            forward_from = midnight(latest) - caps.overlap
        if forward_from is not None:
            start = forward_from
            while start < now:
                end = min(start + caps.max_window, now)
                fetched = await window(start, end)
                if isinstance(fetched, Failure):
                    return fetched
                totals = add_counts(totals, fetched.value)
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
                # the window's rows and the cursor past it commit together
                past = SyncCursor(account_id=account_id, oldest_fetched_at=start, updated_at=now)
                fetched = await window(start, end, past)
                if isinstance(fetched, Failure):
                    return fetched
                counts = fetched.value
                totals = add_counts(totals, counts)
                seen = counts.inserted + counts.updated + counts.unchanged
                empty = empty + (end - start) if seen == 0 else timedelta(0)
                end = start
                if empty >= caps.empty_span_stop:
                    break
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
        uow: UnitOfWork,
        session: ProviderSession,
        connection: ProviderConnection,
        account: FetchedAccount,
        account_id: UUID,
        start: datetime,
        end: datetime,
        *,
        cursor: SyncCursor | None = None,
    ) -> Result[UpsertCounts]:
        """Fetch ``[start, end)`` and upsert it in one commit (with ``cursor``, when given)."""
        fetched = await session.fetch_transactions(account, start, end)
        if isinstance(fetched, Failure):
            return fetched
        rows = fetched.value
        counts = UpsertCounts()
        if rows or cursor is not None:
            if rows:
                counts = await uow.transactions.upsert_fetched(account_id, rows)
            if cursor is not None:
                await uow.sync_cursors.save(cursor)
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
