"""Sync from the dashboard: the same command and the same progress events as ``dashtam sync``.

The sync runs in a worker of this screen (it goes on while other screens are shown). Progress
comes from the events the sync handler publishes (``SyncProgressed`` and the per-account
results), the summary from the report it returns; then every screen reloads its data.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Label, ProgressBar, RichLog, Select, Static

from dashtam_cli.application.commands import SyncConnections
from dashtam_cli.application.queries import ProviderList
from dashtam_cli.domain.connections import ConnectionStatus
from dashtam_cli.domain.errors import Failure
from dashtam_cli.domain.events import (
    AccountSyncFailed,
    AccountSyncSucceeded,
    ConnectionExpiringSoon,
    DomainEvent,
    SyncAttempted,
    SyncFailed,
    SyncProgressed,
    SyncSucceeded,
)
from dashtam_cli.presentation.tui.format import DANGER, GAIN, MUTED, WARNING, plain, printable
from dashtam_cli.presentation.tui.screens.base import DashboardScreen, ErrorBanner, error_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.app import ComposeResult

    from dashtam_cli.application.handlers.sync import SyncReport
    from dashtam_cli.application.queries import ConnectionSummary
    from dashtam_cli.domain.errors import Result

_EVENTS = (
    SyncAttempted,
    SyncProgressed,
    AccountSyncSucceeded,
    AccountSyncFailed,
    SyncSucceeded,
    SyncFailed,
    ConnectionExpiringSoon,
)


def is_sync_event(event: object) -> bool:
    """The events the sync screen shows."""
    return isinstance(event, _EVENTS)


def _status_style(status: str) -> str:
    return GAIN if status == "succeeded" else WARNING if status == "partial" else DANGER


class SyncScreen(DashboardScreen):
    """Choose a connection (or all), sync, watch the progress, read the results."""

    MODE = "sync"

    def __init__(self) -> None:
        """Idle: nothing synced yet."""
        super().__init__()
        self._connections: Sequence[ConnectionSummary] = ()
        self._subscribed = False
        #: True while a sync runs.
        self.running = False
        #: Transactions read so far by the running (or last) sync, from its progress events.
        self.rows_read = 0
        self._pending_target: str | None = None

    def compose_body(self) -> ComposeResult:
        """Target and button, status and progress bar, the log, the results."""
        with Horizontal(classes="filters", id="sync-bar"):
            yield Select[str]([], prompt="All active connections", id="target", compact=True)
            yield Button("Sync now", id="sync-now", variant="primary", compact=True)
        yield Static("Idle. Press s or the button to sync.", id="sync-status")
        yield ProgressBar(total=None, show_eta=False, id="sync-progress")
        with VerticalScroll(id="sync-body"):
            yield Label("Progress", classes="section")
            yield RichLog(id="sync-log", wrap=True, markup=False, auto_scroll=True)
            yield Label("Results", classes="section")
            table: DataTable[Text] = DataTable(id="sync-results", cursor_type="row")
            table.add_column("Connection", key="connection")
            table.add_column("Account", key="account")
            table.add_column("Result", key="result")
            table.add_column(Text("New", justify="right"), key="new")
            table.add_column(Text("Updated", justify="right"), key="updated")
            table.add_column("Error", key="error")
            yield table

    def mounted(self) -> None:
        """Listen to the sync events (once: the screen lives as long as the app)."""
        if not self._subscribed:
            self.dashboard.services.events.subscribe(self._on_event, predicate=is_sync_event)
            self._subscribed = True
        self.query_one("#sync-progress", ProgressBar).update(total=1, progress=0)

    async def load(self) -> None:
        """The connections to choose from."""
        # the banner reports the last sync's refusal: loading the list must not hide it
        found: Sequence[ConnectionSummary] | None = await self.query_bus(
            ProviderList(), clear_error=False
        )
        if found is None:
            return
        self._connections = [c for c in found if c.status is not ConnectionStatus.DISCONNECTED]
        options = [
            (f"{c.alias} ({c.provider}, {c.status.value})", c.alias) for c in self._connections
        ]
        select: Select[str] = self.query_one("#target", Select)
        current = self._pending_target or select.value
        self._pending_target = None
        with self.prevent(Select.Changed):
            select.set_options(options)
            if isinstance(current, str) and any(v == current for _, v in options):
                select.value = current

    def choose(self, alias: str | None) -> None:
        """Pre-select a connection (None: all of them)."""
        select: Select[str] = self.query_one("#target", Select)
        if alias is None:
            select.clear()
        elif any(c.alias == alias for c in self._connections):
            select.value = alias
        else:
            self._pending_target = alias  # the options are still loading

    # ------------------------------------------------------------------ running

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The Sync now button."""
        if event.button.id == "sync-now":
            event.stop()
            self.start()

    def start(self) -> bool:
        """Start syncing the chosen target in a worker; False when a sync already runs."""
        if self.running:
            self.notify("A sync is already running.", severity="warning")
            return False
        value = self.query_one("#target", Select).value
        target = value if isinstance(value, str) else None
        self.running = True
        self.query_one("#sync-now", Button).disabled = True
        self.start_work(partial(self._sync, target), group="sync", exclusive=True)
        return True

    def _expected_accounts(self, target: str | None) -> int | None:
        chosen = [
            c
            for c in self._connections
            if c.status is ConnectionStatus.ACTIVE and (target is None or c.alias == target)
        ]
        total = sum(c.active_accounts_count for c in chosen)
        return total or None

    async def _sync(self, target: str | None) -> None:
        log = self.query_one("#sync-log", RichLog)
        log.clear()
        self.query_one("#sync-results", DataTable).clear()
        self.query_one(ErrorBanner).show_error(None)
        self.rows_read = 0
        bar = self.query_one("#sync-progress", ProgressBar)
        bar.update(total=self._expected_accounts(target), progress=0)
        self._set_status(Text(f"Syncing {target or 'every active connection'}…"))
        try:
            result: Result[SyncReport] = await self.dashboard.execute(
                SyncConnections(connection_ref=target)
            )
        finally:
            self.running = False
            self.query_one("#sync-now", Button).disabled = False
        if isinstance(result, Failure):  # refused before anything was written
            self.query_one(ErrorBanner).show_error(result.error)
            log.write(error_text(result.error))
            self._set_status(Text("The sync did not run.", style=DANGER))
            bar.update(total=1, progress=0)
            return
        self._show_report(result.value)
        done = max(bar.total or 1, bar.progress, 1)
        bar.update(total=done, progress=done)
        self.dashboard.data_changed()

    def _set_status(self, text: Text) -> None:
        self.query_one("#sync-status", Static).update(text)

    def _show_report(self, report: SyncReport) -> None:
        table: DataTable[Text] = self.query_one("#sync-results", DataTable)
        for c in report.connections:
            status = c.status.value
            counts = c.run.counts
            table.add_row(
                plain(c.alias, style="bold"),
                plain(f"{counts.accounts} accounts", style=MUTED),
                plain(status, style=_status_style(status)),
                Text(f"{counts.transactions_inserted:,}", justify="right"),
                Text(f"{counts.transactions_updated:,}", justify="right"),
                plain(f"{c.error.code.value}: {c.error.message}" if c.error else ""),
                key=f"connection:{c.connection_id}",
            )
            for a in c.accounts:
                table.add_row(
                    plain(""),
                    Text(f"{a.name} {a.account_number_masked}", overflow="ellipsis", no_wrap=True),
                    plain("ok" if a.ok else "failed", style=GAIN if a.ok else DANGER),
                    Text(f"{a.transactions_inserted:,}", justify="right"),
                    Text(f"{a.transactions_updated:,}", justify="right"),
                    plain(f"{a.error.code.value}: {a.error.message}" if a.error else ""),
                    key=f"account:{c.connection_id}:{a.account_number_masked}:{a.name}",
                )
        overall = report.status.value
        summary = Text("Sync ")
        summary.append(overall, style=_status_style(overall))
        inserted = sum(c.run.counts.transactions_inserted for c in report.connections)
        updated = sum(c.run.counts.transactions_updated for c in report.connections)
        summary.append(
            f": {len(report.connections)} connection(s), {inserted:,} new and {updated:,}"
            " updated transactions. Every screen shows the new data."
        )
        self._set_status(summary)

    async def _on_event(self, event: DomainEvent) -> None:
        """Show one sync event: the status line, the progress bar, the log."""
        context: Any = event.context
        log = self.query_one("#sync-log", RichLog)
        if isinstance(event, SyncProgressed):
            if context.get("phase") == "transactions":
                self.rows_read += int(context.get("rows", 0))
                self._set_status(
                    Text(
                        f"{context.get('account', '')}: transactions from "
                        f"{context.get('window_start', '')} to {context.get('window_end', '')}"
                        f" · {self.rows_read:,} rows read"
                    )
                )
            else:
                self._set_status(Text(f"Reading {context.get('phase', 'data')}…"))
        elif isinstance(event, SyncAttempted):
            log.write(Text(f"Syncing {context.get('alias')} ({context.get('provider')})…"))
        elif isinstance(event, AccountSyncSucceeded):
            self.query_one("#sync-progress", ProgressBar).advance(1)
            line = Text("✓ ", style=GAIN)
            line.append(
                f"{context.get('account')}: {int(context.get('inserted', 0)):,} new, "
                f"{int(context.get('updated', 0)):,} updated"
            )
            log.write(line)
        elif isinstance(event, AccountSyncFailed):
            self.query_one("#sync-progress", ProgressBar).advance(1)
            line = Text("✗ ", style=DANGER)
            detail = context.get("detail") or event.error_message
            line.append(
                printable(f"{context.get('account')}: error[{event.error_code.value}] {detail}")
            )
            log.write(line)
        elif isinstance(event, SyncSucceeded | SyncFailed):
            status = str(context.get("status", "failed"))
            line = Text(f"{context.get('alias')}: ")
            line.append(status, style=_status_style(status))
            if isinstance(event, SyncFailed):
                line.append(printable(f" error[{event.error_code.value}] {event.error_message}"))
            log.write(line)
        elif isinstance(event, ConnectionExpiringSoon):
            left = int(context.get("seconds_left", 0))
            hours, minutes = divmod(left // 60, 60)
            line = Text(
                f"! the login of {context.get('alias')} expires in {hours}h {minutes:02d}m; "
                f"renew it: {context.get('action')}",
                style=WARNING,
            )
            log.write(line)
