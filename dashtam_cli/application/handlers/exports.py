"""``dashtam export``: stream transactions, accounts or holdings into a sink, audited.

The handler resolves what the user typed (the same :func:`read_filter` as
``transactions list``, so an export holds exactly the rows the list would show without its limit),
then pumps chunks from the :class:`ExportReader` into the :class:`ExportSink` the front end opened.
It never holds more than one chunk: a million-row export runs in constant memory.

Every export is a three-state workflow: ``ExportAttempted`` first, then ``ExportSucceeded`` (with
the row count) or ``ExportFailed`` (with the error code). A failed export aborts the sink, so a file
export leaves no partial file behind.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from uuid import UUID

from dashtam_cli.application.commands import ExportAccounts, ExportHoldings, ExportTransactions
from dashtam_cli.application.handlers.lookup import resolve_account, resolve_connection
from dashtam_cli.application.handlers.transactions import read_filter
from dashtam_cli.application.ports import (
    ACCOUNT_EXPORT,
    HOLDING_EXPORT,
    TRANSACTION_EXPORT,
    ConnectionReader,
    ExportChunk,
    ExportLayout,
    ExportReader,
    ExportSink,
)
from dashtam_cli.application.queries import AccountReader
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, ok
from dashtam_cli.domain.events import ExportAttempted, ExportFailed, ExportSucceeded
from dashtam_cli.domain.protocols import EventSink

#: Rows per chunk: big enough to amortise each database round trip, small enough (a few MB) to
#: keep memory flat.
DEFAULT_CHUNK_SIZE = 5_000

type ExportCommand = ExportTransactions | ExportAccounts | ExportHoldings


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportReport:
    """What an export wrote.

    Attributes:
        kind: ``transactions``, ``accounts`` or ``holdings``.
        format: ``csv`` or ``json``.
        destination: ``stdout`` or the file's path.
        rows: how many rows were written (the header not counted).
    """

    kind: str
    format: str
    destination: str
    rows: int


@dataclass(frozen=True, kw_only=True, slots=True)
class _Plan:
    """A resolved export: what to write and where it comes from."""

    layout: ExportLayout
    stream: Callable[[], AsyncGenerator[ExportChunk]]
    connection_id: UUID | None = None
    account_id: UUID | None = None


async def _nothing() -> AsyncGenerator[ExportChunk]:
    """No rows (a filter that matches no account)."""
    return
    yield  # pragma: no cover - makes this an async generator


def _error_of(exc: Exception) -> DomainError:
    """The error an adapter exception carries (``DatabaseUnavailableError.error``) or INTERNAL."""
    error = getattr(exc, "error", None)
    if isinstance(error, DomainError):
        return error
    return DomainError(
        code=ErrorCode.INTERNAL, message=f"the export crashed ({type(exc).__name__})"
    )


class ExportHandler:
    """Handle :class:`ExportTransactions`, :class:`ExportAccounts` and :class:`ExportHoldings`."""

    def __init__(
        self,
        *,
        exports: ExportReader,
        accounts: AccountReader,
        connections: ConnectionReader,
        events: EventSink,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self._exports = exports
        self._accounts = accounts
        self._connections = connections
        self._events = events
        self._chunk_size = chunk_size

    async def handle(self, command: ExportCommand) -> Result[ExportReport]:
        """Run one export.

        Returns:
            The report; ``not_found`` (exit 10) / ``ambiguous_id`` for a reference,
            ``invalid_argument`` for a bad filter or an unwritable destination. Database failures
            raise ``DatabaseUnavailableError`` (after ``ExportFailed`` is published), which the
            bus turns into their error value.
        """
        sink = command.sink
        context: dict[str, object] = {
            "kind": _layout_of(command).kind,
            "format": sink.format,
            "destination": sink.destination,
        }
        await self._events.publish(ExportAttempted(context=context))
        try:
            outcome = await self._run(command)
        except Exception as exc:
            sink.abort()
            error = _error_of(exc)
            await self._events.publish(
                ExportFailed(error_code=error.code, error_message=error.message, context=context)
            )
            raise
        except BaseException:
            # cancelled (Ctrl-C): discard the file; the event loop is going away
            sink.abort()
            raise
        if isinstance(outcome, Failure):
            sink.abort()
            await self._events.publish(
                ExportFailed(
                    error_code=outcome.error.code,
                    error_message=outcome.error.message,
                    context=context,
                )
            )
            return outcome
        plan, rows = outcome.value
        await self._events.publish(
            ExportSucceeded(
                connection_id=plan.connection_id,
                account_id=plan.account_id,
                context={**context, "rows": rows},
            )
        )
        return ok(
            ExportReport(
                kind=plan.layout.kind,
                format=sink.format,
                destination=sink.destination,
                rows=rows,
            )
        )

    async def _run(self, command: ExportCommand) -> Result[tuple[_Plan, int]]:
        plan = await self._plan(command)
        if isinstance(plan, Failure):
            return plan
        rows = await self._pump(plan.value, command.sink)
        if isinstance(rows, Failure):
            return rows
        return ok((plan.value, rows.value))

    async def _pump(self, plan: _Plan, sink: ExportSink) -> Result[int]:
        """Copy every chunk from the reader into the sink; one chunk in memory at a time."""
        opened = sink.open(plan.layout)
        if isinstance(opened, Failure):
            return opened
        rows = 0
        async with aclosing(plan.stream()) as chunks:
            async for chunk in chunks:
                written = sink.write(chunk)
                if isinstance(written, Failure):
                    return written
                rows += len(chunk)
        finished = sink.finish()
        if isinstance(finished, Failure):
            return finished
        return ok(rows)

    async def _plan(self, command: ExportCommand) -> Result[_Plan]:
        size = self._chunk_size
        match command:
            case ExportTransactions(filters=filters):
                _, criteria = await read_filter(
                    filters, accounts=self._accounts, connections=self._connections
                )
                if isinstance(criteria, Failure):
                    return criteria
                found = criteria.value
                ids = found.account_ids
                return ok(
                    _Plan(
                        layout=TRANSACTION_EXPORT,
                        stream=(
                            _nothing
                            if ids == ()
                            else lambda: self._exports.transactions(found, chunk_size=size)
                        ),
                        account_id=ids[0] if ids is not None and len(ids) == 1 else None,
                    )
                )
            case ExportAccounts(connection_ref=ref, include_inactive=include_inactive):
                connection_id: UUID | None = None
                if ref is not None:
                    connection = resolve_connection(ref, await self._connections.list_connections())
                    if isinstance(connection, Failure):
                        return connection
                    connection_id = connection.value.id
                return ok(
                    _Plan(
                        layout=ACCOUNT_EXPORT,
                        stream=lambda: self._exports.accounts(
                            connection_id=connection_id,
                            include_inactive=include_inactive,
                            chunk_size=size,
                        ),
                        connection_id=connection_id,
                    )
                )
            case ExportHoldings(account_ref=ref):
                account_id: UUID | None = None
                if ref is not None:
                    account = resolve_account(ref, await self._accounts.list_accounts())
                    if isinstance(account, Failure):
                        return account
                    account_id = account.value.id
                return ok(
                    _Plan(
                        layout=HOLDING_EXPORT,
                        stream=lambda: self._exports.holdings(
                            account_id=account_id, include_inactive=False, chunk_size=size
                        ),
                        account_id=account_id,
                    )
                )


def _layout_of(command: ExportCommand) -> ExportLayout:
    match command:
        case ExportTransactions():
            return TRANSACTION_EXPORT
        case ExportAccounts():
            return ACCOUNT_EXPORT
        case ExportHoldings():
            return HOLDING_EXPORT
