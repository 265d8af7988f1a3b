"""Holdings: where the money is invested, by asset type and by account, then every position."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static

from dashtam_cli.application.dashboard import HoldingsAllocation
from dashtam_cli.application.queries import HoldingList
from dashtam_cli.presentation.tui.format import (
    MUTED,
    change_cell,
    money_cell,
    percent_text,
    plain,
    printable,
    totals_line,
)
from dashtam_cli.presentation.tui.screens.base import DashboardScreen
from dashtam_cli.presentation.tui.widgets.charts import AllocationBars
from dashtam_cli.presentation.tui.widgets.tables import restore_cursor, selected_key

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from dashtam_cli.application.dashboard_views import AllocationReport
    from dashtam_cli.application.queries import HoldingsOverview


class HoldingsScreen(DashboardScreen):
    """Allocation bars and the list of active positions."""

    MODE = "holdings"
    AUTO_FOCUS = None
    KEY_TABLE = "#positions"  # Enter opens the account of the highlighted position

    def compose_body(self) -> ComposeResult:
        """Total, allocation by asset type, by account, every holding."""
        with VerticalScroll(id="holdings-body"):
            yield Static(id="holdings-total")
            yield Label("By asset type", classes="section")
            yield AllocationBars(id="by-type")
            yield Label("By account", classes="section")
            yield AllocationBars(id="by-account")
            yield Label(
                "Positions  [dim](Enter or click twice: the account)[/dim]", classes="section"
            )
            table: DataTable[Text] = DataTable(id="positions", cursor_type="row")
            table.add_column("Account", key="account", width=16)
            table.add_column("Symbol", key="symbol")
            table.add_column(Text("Value", justify="right"), key="value")
            table.add_column(Text("Gain/loss", justify="right"), key="gain")
            table.add_column(Text("Weight", justify="right"), key="weight")
            yield table

    async def load(self) -> None:
        """Ask for the allocation and the positions."""
        report: AllocationReport | None = await self.query_bus(HoldingsAllocation())
        if report is None:
            return
        total = Text("Market value ", style="bold")
        total.append(totals_line(report.totals))
        total.append(f"   {report.holdings} positions", style=MUTED)
        self.query_one("#holdings-total", Static).update(total)
        self.query_one("#by-type", AllocationBars).show(
            [replace(s, label=s.label.replace("_", " ")) for s in report.by_asset_type]
        )
        self.query_one("#by-account", AllocationBars).show(report.by_account)
        overview: HoldingsOverview | None = await self.query_bus(HoldingList())
        if overview is None:
            return
        table: DataTable[Text] = self.query_one("#positions", DataTable)
        selected = selected_key(table)
        table.clear()
        for row in overview.holdings:
            h = row.holding
            table.add_row(
                Text(printable(row.account_name), overflow="ellipsis", no_wrap=True),
                plain(h.symbol, style="bold"),
                money_cell(h.market_value),
                change_cell(h.unrealized_gain()),
                Text(percent_text(row.weight), justify="right"),
                key=f"{h.account_id}:{h.id}",
            )
        restore_cursor(table, selected)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the account of the chosen position."""
        event.stop()
        key = event.row_key.value
        if key is not None:
            self.dashboard.open_account(key.split(":", 1)[0])
