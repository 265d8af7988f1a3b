"""The home screen: net worth and its history, accounts by group, connection health."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static

from dashtam_cli.application.dashboard import DashboardOverview
from dashtam_cli.presentation.tui.format import (
    DANGER,
    MUTED,
    WARNING,
    change_cell,
    connection_status_cell,
    last_sync_cell,
    login_left_cell,
    money_cell,
    plain,
    when_text,
)
from dashtam_cli.presentation.tui.screens.base import DashboardScreen
from dashtam_cli.presentation.tui.widgets.charts import NetWorthChart
from dashtam_cli.presentation.tui.widgets.tables import restore_cursor, selected_key

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from dashtam_cli.application.dashboard_views import AccountGroup, OverviewReport
    from dashtam_cli.domain.money import Money


def _net_worth_text(report: OverviewReport) -> Text:
    text = Text()
    if not report.net_worth:
        text.append("No accounts yet. ", style="bold")
        text.append(
            "Quit (q) and run `dashtam demo` for a tour, or `dashtam providers connect schwab`;"
            " then sync here with s."
        )
        return text
    for index, (currency, money) in enumerate(sorted(report.net_worth.items())):
        if index:
            text.append("\n")
        text.append("Net worth  ", style="bold")
        text.append(f"{currency} ", style="bold")
        text.append_text(money_cell(money, signed_style=True).copy())
        change = report.change.get(currency)
        if change is not None:
            text.append("   ")
            text.append_text(change_cell(change))
            text.append(" since the previous snapshot", style=MUTED)
    return text


def _group_change(group: AccountGroup) -> Money | None:
    """The group's change: when every account has one, all in one currency."""
    changes = [line.change for line in group.accounts]
    known = [change for change in changes if change is not None]
    if not known or len(known) < len(changes) or len({c.currency for c in known}) > 1:
        return None
    return sum(known[1:], known[0])


def _chart_currency(report: OverviewReport) -> str | None:
    counts = Counter(point.currency for point in report.history)
    if not counts:
        return None
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]


def _attention(report: OverviewReport) -> Text:
    """One line per connection needing action: what is wrong and the command to run."""
    text = Text()
    for summary in report.connections:
        if summary.action is None:
            continue
        if text:
            text.append("\n")
        style = WARNING if summary.expiring_soon else DANGER
        text.append(f"! {summary.alias}: ", style=style)
        if summary.expiring_soon:
            text.append(summary.action)
        else:
            text.append(f"the login is {summary.status.value}; run ")
            text.append(summary.action, style="bold")
    return text


class OverviewScreen(DashboardScreen):
    """Where the money is, how it moved, what needs attention."""

    MODE = "overview"
    AUTO_FOCUS = None
    KEY_TABLE = "#accounts"  # Enter opens the highlighted account

    def compose_body(self) -> ComposeResult:
        """Net worth line, chart, accounts table, connections table, attention lines."""
        with VerticalScroll(id="overview-body"):
            yield Static(id="net-worth")
            yield NetWorthChart(id="chart")
            yield Label("Accounts  [dim](Enter or click twice: details)[/dim]", classes="section")
            accounts: DataTable[Text] = DataTable(id="accounts", cursor_type="row")
            accounts.add_column("Account", key="name")
            accounts.add_column("Number", key="number")
            accounts.add_column(Text("Balance", justify="right"), key="balance")
            accounts.add_column(Text("Change", justify="right"), key="change")
            accounts.add_column("Cur", key="currency")
            yield accounts
            yield Label("Connections", classes="section")
            connections: DataTable[Text] = DataTable(id="connections", cursor_type="row")
            connections.add_column("Alias", key="alias")
            connections.add_column("Provider", key="provider")
            connections.add_column("Status", key="status")
            connections.add_column("Last sync (UTC)", key="last_sync")
            connections.add_column("Login left", key="login")
            yield connections
            yield Static(id="attention")

    async def load(self) -> None:
        """Ask for the overview and fill every widget."""
        report: OverviewReport | None = await self.query_bus(DashboardOverview())
        if report is None:
            return
        self.query_one("#net-worth", Static).update(_net_worth_text(report))
        currency = _chart_currency(report)
        chart = self.query_one(NetWorthChart)
        chart.display = currency is not None
        if currency is not None:
            chart.show(currency, report.history)
        self._fill_accounts(report)
        self._fill_connections(report)

    def _fill_accounts(self, report: OverviewReport) -> None:
        table: DataTable[Text] = self.query_one("#accounts", DataTable)
        selected = selected_key(table)
        table.clear()
        for group in report.groups:
            totals = list(group.totals.values())
            table.add_row(
                Text(group.name, style="bold"),
                plain(""),
                money_cell(totals[0], signed_style=True) if len(totals) == 1 else plain(""),
                change_cell(_group_change(group)),
                plain(totals[0].currency if len(totals) == 1 else "", style=MUTED),
                key=f"group:{group.name}",
            )
            for line in group.accounts:
                account = line.summary.account
                table.add_row(
                    Text(f"  {account.name}", overflow="ellipsis", no_wrap=True),
                    plain(account.account_number_masked, style=MUTED),
                    money_cell(line.value, signed_style=True),
                    change_cell(line.change),
                    plain(line.value.currency, style=MUTED),
                    key=str(account.id),
                )
        restore_cursor(table, selected)

    def _fill_connections(self, report: OverviewReport) -> None:
        table: DataTable[Text] = self.query_one("#connections", DataTable)
        selected = selected_key(table)
        table.clear()
        for summary in report.connections:
            table.add_row(
                plain(summary.alias),
                plain(summary.provider),
                connection_status_cell(summary),
                last_sync_cell(summary.last_sync_at, summary.last_sync_status),
                login_left_cell(summary),
                key=summary.alias,
            )
        restore_cursor(table, selected)
        attention = _attention(report)
        footer = Text(f"as of {when_text(report.as_of)} UTC", style=MUTED)
        self.query_one("#attention", Static).update(
            attention + Text("\n") + footer if attention else footer
        )

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter or a click on the highlighted row: open an account, or go sync a connection."""
        event.stop()
        key = event.row_key.value
        if key is None:
            return
        if event.data_table.id == "accounts":
            if not key.startswith("group:"):
                self.dashboard.open_account(key)
        else:
            await self.dashboard.show_sync(key)
