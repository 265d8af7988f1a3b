"""``dashtam sync`` and ``dashtam demo``: the main job, with the same progress events as the TUI."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dashtam_cli.presentation.cli.context import Services, with_services
from dashtam_cli.presentation.cli.errors import ExitCode, exit_code_for, render_error
from dashtam_cli.presentation.cli.options import FormatOption, parse_date
from dashtam_cli.presentation.cli.render import Column, OutputFormat, console, emit_json, emit_rows

if TYPE_CHECKING:
    from dashtam_cli.application.handlers.sync import SyncReport
    from dashtam_cli.domain.errors import Result

# Application modules are imported inside the commands: `dashtam --help` must not pay for them.


class _ProgressView:
    """A Rich progress display on stderr, fed by ``SyncProgressed`` events (TTY only)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=None),
            TextColumn("{task.fields[rows]:>10,} rows"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task("connecting", total=None, rows=0)
        self._rows = 0

    def __enter__(self) -> _ProgressView:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    async def on_event(self, event: Any) -> None:
        context = event.context
        phase = context.get("phase")
        if phase == "transactions":
            self._rows += int(context.get("rows", 0))
            description = f"{context.get('account', '')}  {context.get('window_start', '')}"
        else:
            description = str(phase or "syncing")
        self._progress.update(self._task, description=description, rows=self._rows)


def _show_progress(quiet: bool, fmt: OutputFormat) -> bool:
    return not quiet and fmt is OutputFormat.TABLE and sys.stderr.isatty()


async def _warn_expiring(event: Any) -> None:
    """A login about to end: one line on stderr, even with --quiet (cron mails it)."""
    context = event.context
    left = int(context.get("seconds_left", 0))
    hours, minutes = divmod(left // 60, 60)
    login = f"the {context.get('provider')} login of {context.get('alias')!r}"
    when = "has ended" if left <= 0 else f"expires in {hours}h {minutes:02d}m"
    sys.stderr.write(f"warning: {login} {when}; renew it now: {context.get('action')}\n")


async def run_sync(services: Services, command: object, *, progress: bool) -> Result[SyncReport]:
    """Execute a sync command, with a progress view on a TTY and login-expiry warnings."""
    from dashtam_cli.domain.events import ConnectionExpiringSoon, SyncProgressed

    services.events.subscribe(
        _warn_expiring, predicate=lambda e: isinstance(e, ConnectionExpiringSoon)
    )
    if not progress:
        result: Result[SyncReport] = await services.bus.execute(command)
        return result
    view = _ProgressView()
    services.events.subscribe(view.on_event, predicate=lambda e: isinstance(e, SyncProgressed))
    with view:
        return await services.bus.execute(command)


def report_document(report: SyncReport) -> dict[str, object]:
    """The JSON shape of a sync report."""
    return {
        "status": report.status,
        "connections": [
            {
                "connection_id": c.connection_id,
                "alias": c.alias,
                "provider": c.provider,
                "status": c.status,
                "sync_run_id": c.run.id,
                "started_at": c.run.started_at,
                "finished_at": c.run.finished_at,
                "accounts": c.run.counts.accounts,
                "holdings": c.run.counts.holdings,
                "transactions_inserted": c.run.counts.transactions_inserted,
                "transactions_updated": c.run.counts.transactions_updated,
                "transactions_unchanged": c.run.counts.transactions_unchanged,
                "error_code": c.error.code if c.error else None,
                "error": c.error.message if c.error else None,
                "account_results": [
                    {
                        "account_id": a.account_id,
                        "name": a.name,
                        "account_number_masked": a.account_number_masked,
                        "ok": a.ok,
                        "transactions_inserted": a.transactions_inserted,
                        "transactions_updated": a.transactions_updated,
                        "error_code": a.error.code if a.error else None,
                        "error": a.error.message if a.error else None,
                    }
                    for a in c.accounts
                ],
            }
            for c in report.connections
        ],
    }


def print_report(report: SyncReport) -> None:
    """The sync summary table, then one line per failed account."""
    rows = [
        {
            "alias": c.alias,
            "provider": c.provider,
            "status": c.status,
            "accounts": c.run.counts.accounts,
            "inserted": c.run.counts.transactions_inserted,
            "updated": c.run.counts.transactions_updated,
            "unchanged": c.run.counts.transactions_unchanged,
        }
        for c in report.connections
    ]
    columns = [
        Column(key="alias"),
        Column(key="provider"),
        Column(key="status"),
        Column(key="accounts", justify="right"),
        Column(key="inserted", header="new", justify="right"),
        Column(key="updated", justify="right"),
        Column(key="unchanged", justify="right"),
    ]
    emit_rows(rows, columns, fmt=OutputFormat.TABLE, title="Sync")
    print_account_errors(report)


def print_account_errors(report: SyncReport) -> None:
    """One line per failed account, on stderr."""
    err = sys.stderr
    for c in report.connections:
        for a in c.accounts:
            if a.error is not None:
                err.write(f"  {c.alias} {a.account_number_masked}: error[{a.error.code.value}] ")
                err.write(f"{a.error.message}\n")


def exit_for(report: SyncReport, *, as_json: bool) -> int:
    """0 on success, 3 on a partial sync, else the first failing connection's exit code."""
    from dashtam_cli.domain.sync import SyncStatus

    if report.status is SyncStatus.SUCCEEDED:
        return int(ExitCode.OK)
    if report.status is SyncStatus.PARTIAL:
        return int(ExitCode.PARTIAL)
    failed = next(c for c in report.connections if c.status is SyncStatus.FAILED)
    if failed.error is None:  # pragma: no cover - a failed run always carries its error
        return int(ExitCode.INTERNAL)
    if not as_json:
        render_error(failed.error)
    return int(exit_code_for(failed.error.code))


def sync(
    ctx: typer.Context,
    connection: Annotated[
        str | None,
        typer.Option("--connection", "-c", help="Only this connection (alias or id prefix)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Re-read transactions from this date (YYYY-MM-DD).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-read the whole history the provider offers.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing on success (for cron).")
    ] = False,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Pull accounts, balances, positions and transactions from every active connection.

    Safe for cron: one sync per database at a time (a second one exits 9 at once), never
    prompts, and --quiet prints nothing unless something needs attention.
    """
    from dashtam_cli.application.commands import SyncConnections
    from dashtam_cli.domain.errors import Failure

    as_json = fmt is OutputFormat.JSON
    command = SyncConnections(
        connection_ref=connection, since=parse_date(since, as_json=as_json), full=full
    )

    async def work(services: Services) -> Result[SyncReport]:
        return await run_sync(services, command, progress=_show_progress(quiet, fmt))

    result = with_services(ctx, work, as_json=as_json)
    if isinstance(result, Failure):
        raise typer.Exit(int(render_error(result.error, as_json=as_json)))
    report = result.value
    code = exit_for(report, as_json=as_json)
    if as_json:
        emit_json(report_document(report))
    elif not quiet:
        print_report(report)
    elif code != 0:  # quiet: only what needs attention, on stderr (the error is printed)
        print_account_errors(report)
    raise typer.Exit(code)


def demo(
    ctx: typer.Context,
    accounts: Annotated[
        int | None, typer.Option(min=1, max=7, help="How many accounts (default 6).")
    ] = None,
    transactions: Annotated[
        int | None,
        typer.Option(min=0, max=10_000_000, help="Transactions of history (default 5,000)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 42).")] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Connect the built-in demo provider and sync it: a full tour with no bank account.

    Deterministic for a given seed. Run it again to sync again: time moves forward a little,
    new transactions arrive and pending ones settle.
    """
    from dashtam_cli.application.commands import StartDemo, SyncConnections
    from dashtam_cli.domain.errors import Failure

    as_json = fmt is OutputFormat.JSON
    progress = _show_progress(False, fmt)

    async def work(services: Services) -> tuple[Any, Any, Any]:
        started = await services.bus.execute(
            StartDemo(accounts=accounts, transactions=transactions, seed=seed)
        )
        if isinstance(started, Failure):
            return started, None, None
        alias = started.value.connection.alias
        synced = await run_sync(services, SyncConnections(connection_ref=alias), progress=progress)
        listed = await _accounts(services, alias)
        return started, synced, listed

    started, synced, listed = with_services(ctx, work, as_json=as_json)
    if isinstance(started, Failure):
        raise typer.Exit(int(render_error(started.error, as_json=as_json)))
    if isinstance(synced, Failure):
        raise typer.Exit(int(render_error(synced.error, as_json=as_json)))
    report = synced.value
    code = exit_for(report, as_json=as_json)
    if as_json:
        emit_json({"sync": report_document(report), "accounts": _accounts_json(listed)})
        raise typer.Exit(code)
    out = console()
    connection = started.value.connection
    verb = "Synced the demo connection again" if started.value.reused else "Created the demo"
    out.print(f"{verb} ({connection.alias}): {_summary(report)}")
    _print_accounts(listed)
    out.print(
        "Try: dashtam transactions list · dashtam holdings list · dashtam balances history"
        " · dashtam export transactions --format csv · dashtam tui"
    )
    raise typer.Exit(code)


def _summary(report: SyncReport) -> str:
    counts = report.connections[0].run.counts if report.connections else None
    if counts is None:
        return "nothing synced"
    return (
        f"{counts.accounts} accounts, {counts.transactions_inserted:,} new and "
        f"{counts.transactions_updated:,} updated transactions"
    )


async def _accounts(services: Services, alias: str) -> Any:
    """The demo connection's accounts (an ``AccountsOverview``), or None when unavailable."""
    from dashtam_cli.application.queries import AccountList
    from dashtam_cli.domain.errors import Failure

    result = await services.bus.execute(AccountList(connection_ref=alias))
    return None if isinstance(result, Failure) else result.value


def _accounts_json(overview: Any) -> list[dict[str, object]]:
    from dashtam_cli.presentation.cli.accounts import account_record

    return [] if overview is None else [account_record(s) for s in overview.accounts]


def _print_accounts(overview: Any) -> None:
    from dashtam_cli.presentation.cli.accounts import print_overview

    if overview is not None:
        print_overview(overview, fmt=OutputFormat.TABLE, empty="The demo has no accounts.")
