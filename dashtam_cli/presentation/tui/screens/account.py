"""One account: its balance and change, its holdings, its newest transactions."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Footer, Label, Static

from dashtam_cli.application.dashboard import AccountDashboard
from dashtam_cli.presentation.tui.format import (
    MUTED,
    amount_text,
    change_cell,
    decimal_cell,
    money_cell,
    percent_text,
    plain,
    printable,
    totals_line,
    when_text,
)
from dashtam_cli.presentation.tui.screens.base import DashboardScreen, ErrorBanner

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from dashtam_cli.application.dashboard_views import AccountPanel

#: How many of the newest transactions the screen lists.
RECENT = 25


def _summary_text(panel: AccountPanel) -> Text:
    line = panel.line
    account = line.summary.account
    text = Text()
    text.append("Balance ", style="bold")
    text.append(f"{line.value.currency} ")
    text.append_text(money_cell(line.value, signed_style=True))
    if line.change is not None and line.previous_at is not None:
        text.append("   change ", style=MUTED)
        text.append_text(change_cell(line.change))
        text.append(f" since {when_text(line.previous_at)}", style=MUTED)
    if account.cash_balance is not None:
        text.append("\nCash ", style="bold")
        text.append(f"{account.cash_balance.currency} {amount_text(account.cash_balance.amount)}")
    summary = panel.holdings_summary
    if summary.count:
        text.append("\nHoldings ", style="bold")
        text.append(f"{summary.count}   market value {totals_line(summary.market_value)}")
        text.append(f"   cost basis {totals_line(summary.cost_basis)}")
        text.append("\nUnrealised gain/loss ", style="bold")
        for index, gain in enumerate(summary.unrealized_gain.values()):
            text.append(" · " if index else "")
            text.append(f"{gain.currency} ")
            text.append_text(change_cell(gain))
    return text


class AccountScreen(DashboardScreen):
    """The detail of one account (pushed over the overview; Escape goes back)."""

    MODE = "overview"
    AUTO_FOCUS = None
    KEY_TABLE = "#holdings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("t", "transactions", "Its transactions"),
    ]

    def __init__(self, account_id: str) -> None:
        """The screen of the account with this id."""
        super().__init__()
        self.account_id = account_id

    def compose(self) -> ComposeResult:
        """Back button and title, error banner, summary, holdings, recent transactions."""
        with Horizontal(id="account-header"):
            yield Button("← Back", id="back", compact=True)
            yield Static(id="account-title")
        yield ErrorBanner(id="error")
        with VerticalScroll(id="account-body"):
            yield Static(id="account-summary")
            yield Label("Holdings", id="holdings-label", classes="section")
            holdings: DataTable[Text] = DataTable(id="holdings", cursor_type="row")
            holdings.add_column("Symbol", key="symbol")
            for label, key in (
                ("Quantity", "quantity"),
                ("Price", "price"),
                ("Value", "value"),
                ("Cost basis", "cost"),
                ("Gain/loss", "gain"),
                ("Weight", "weight"),
            ):
                holdings.add_column(Text(label, justify="right"), key=key)
            yield holdings
            yield Label("Recent transactions", id="recent-label", classes="section")
            recent: DataTable[Text] = DataTable(id="recent", cursor_type="row")
            recent.add_column("Date", key="date")
            recent.add_column("Type", key="type")
            recent.add_column("Description", key="description", width=32)
            recent.add_column(Text("Amount", justify="right"), key="amount")
            yield recent
        yield Footer(compact=True)

    async def load(self) -> None:
        """Ask for the account's panel and fill the screen."""
        panel: AccountPanel | None = await self.query_bus(
            AccountDashboard(ref=self.account_id, recent=RECENT)
        )
        if panel is None:
            return
        account = panel.line.summary.account
        title = Text(printable(account.name), style="bold")
        title.append(
            f"  {account.account_type.value} · {account.account_number_masked}"
            f" · {panel.line.summary.connection_alias}",
            style=MUTED,
        )
        if not account.is_active:
            title.append("  (inactive)", style="yellow")
        self.query_one("#account-title", Static).update(title)
        self.query_one("#account-summary", Static).update(_summary_text(panel))
        self._fill_holdings(panel)
        self._fill_recent(panel)

    def _fill_holdings(self, panel: AccountPanel) -> None:
        table: DataTable[Text] = self.query_one("#holdings", DataTable)
        table.clear()
        for row in panel.holdings:
            h = row.holding
            table.add_row(
                plain(h.symbol, style="bold"),
                decimal_cell(h.quantity),
                decimal_cell(h.current_price),
                money_cell(h.market_value),
                money_cell(h.cost_basis),
                change_cell(h.unrealized_gain()),
                Text(percent_text(row.weight), justify="right"),
                key=str(h.id),
            )
        count = len(panel.holdings)
        label = f"Holdings ({count})" if count else "Holdings: none"
        self.query_one("#holdings-label", Label).update(label)
        table.display = count > 0

    def _fill_recent(self, panel: AccountPanel) -> None:
        table: DataTable[Text] = self.query_one("#recent", DataTable)
        table.clear()
        for row in panel.recent:
            table.add_row(
                plain(row.transaction_date.isoformat()),
                plain(row.subtype.value),
                Text(printable(row.description), overflow="ellipsis", no_wrap=True),
                money_cell(row.amount, signed_style=True),
                key=str(row.id),
            )
        more = " (newest first; t: all of them)" if panel.more_transactions else ""
        self.query_one("#recent-label", Label).update(f"Recent transactions{more}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The Back button."""
        if event.button.id == "back":
            event.stop()
            self.action_back()

    def action_back(self) -> None:
        """Back to the screen underneath."""
        self.dismiss()

    async def action_transactions(self) -> None:
        """The transactions screen, filtered to this account."""
        await self.dashboard.show_transactions(account_id=self.account_id)
