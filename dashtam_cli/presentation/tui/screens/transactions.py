"""Every transaction, newest first: filtered by account, type, dates, symbol and free text.

The table is filled a page at a time (keyset pages through the reader): the first page shows at
once, the next is fetched when the cursor or the scroll position nears the end of what is
loaded. A million rows cost what a hundred do; the table never holds more than was scrolled to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, DataTable, Input, Select, Static

from dashtam_cli.application.dashboard import TransactionBrowse, TransactionKey
from dashtam_cli.application.queries import AccountList, TransactionFilter
from dashtam_cli.domain.transactions import SUBTYPES_BY_TYPE
from dashtam_cli.presentation.tui.format import DANGER, MUTED, money_cell, plain, printable
from dashtam_cli.presentation.tui.screens.base import DashboardScreen

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from dashtam_cli.application.dashboard_views import TransactionSlice
    from dashtam_cli.application.queries import AccountsOverview, TransactionRow

#: Rows per page fetched from the reader.
PAGE = 100
#: Fetch the next page when the cursor or the view is this close to the last loaded row.
PREFETCH = 20
#: Wait this long after the last keystroke in a text filter before querying.
DEBOUNCE = 0.3


def type_options() -> list[tuple[str, str]]:
    """Every type, each followed by its subtypes (indented): what ``--type`` accepts."""
    options: list[tuple[str, str]] = []
    for kind, subtypes in SUBTYPES_BY_TYPE.items():
        options.append((kind.value, kind.value))
        options.extend((f"  {s.value}", s.value) for s in sorted(subtypes, key=lambda s: s.value))
    return options


class TransactionTable(DataTable[Text]):
    """A table that asks for more rows when its view nears the end of the loaded ones."""

    class NearEnd(Message):
        """The view or the cursor is close to the last loaded row."""

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolling (wheel, scrollbar, page keys) towards the end asks for more rows."""
        super().watch_scroll_y(old_value, new_value)
        if self.row_count and new_value >= self.max_scroll_y - PREFETCH:
            self.post_message(self.NearEnd())


class TransactionsScreen(DashboardScreen):
    """Browse and filter the transaction history."""

    MODE = "transactions"
    AUTO_FOCUS = "#transactions"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "clear_filters", "Clear"),
        Binding("escape", "focus_table", "To the table", show=False),
        Binding("down", "focus_table", "To the table", show=False),
    ]

    def __init__(self) -> None:
        """An empty table; the first page loads on mount."""
        super().__init__()
        self._next: TransactionKey | None = None
        self._generation = 0
        self._loading_more = False
        self._debounce: Timer | None = None
        self._accounts_version = -1
        self._pending_account: str | None = None
        self._account_options: list[tuple[str, str]] = []
        #: How many first pages were shown (each filter change shows one): for tests and timing.
        self.pages_shown = 0

    def compose_body(self) -> ComposeResult:
        """Two rows of filters, the table, a status line."""
        with Horizontal(classes="filters", id="filters-top"):
            yield Select[str]([], prompt="All accounts", id="account", compact=True)
            yield Select[str](type_options(), prompt="Any type", id="type", compact=True)
            yield Input(placeholder="from date", id="since", compact=True)
            yield Input(placeholder="to date", id="until", compact=True)
        with Horizontal(classes="filters"):
            yield Input(placeholder="symbol", id="symbol", compact=True)
            yield Input(placeholder="/ search description, symbol, name", id="search", compact=True)
            yield Button("Clear", id="clear", compact=True)
        table = TransactionTable(id="transactions", cursor_type="row")
        width = self.app.size.width
        account = 14 if width < 100 else 20
        # five columns with 2 cells of padding each, the table's padding, its scrollbar, slack
        description = max(12, width - (10 + account + 12 + 12) - 10 - 2 - 2 - 2)
        table.add_column("Date", key="date", width=10)
        table.add_column("Account", key="account", width=account)
        table.add_column("Type", key="type", width=12)
        table.add_column("Description", key="description", width=description)
        table.add_column(Text("Amount", justify="right"), key="amount", width=12)
        yield table
        yield Static(id="tx-status")

    # ------------------------------------------------------------------ filters

    def _status(self, text: Text | str) -> None:
        self.query_one("#tx-status", Static).update(text)

    def _date(self, widget_id: str, label: str) -> tuple[bool, date | None]:
        raw = self.query_one(f"#{widget_id}", Input).value.strip()
        if not raw:
            return True, None
        try:
            return True, date.fromisoformat(raw)
        except ValueError:
            self._status(Text(f"'{label}' must be a date: YYYY-MM-DD (got {raw!r})", style=DANGER))
            return False, None

    def filters(self) -> TransactionFilter | None:
        """The filter the widgets describe (None when a date does not parse)."""
        ok_since, since = self._date("since", "from")
        ok_until, until = self._date("until", "to")
        if not (ok_since and ok_until):
            return None
        account = self.query_one("#account", Select).value
        kind = self.query_one("#type", Select).value
        return TransactionFilter(
            account_ref=account if isinstance(account, str) else None,
            since=since,
            until=until,
            transaction_type=kind if isinstance(kind, str) else None,
            symbol=self.query_one("#symbol", Input).value.strip() or None,
            search=self.query_one("#search", Input).value.strip() or None,
        )

    def on_select_changed(self, event: Select.Changed) -> None:
        """A new account or type: query at once."""
        event.stop()
        self.reload()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Typing: query once the typing pauses."""
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE, self.reload)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a filter: query now (the cursor stays in the field; Esc or Down: the table).

        Moving the focus would also redraw the footer's keys: it doubles the time the new rows
        take to appear.
        """
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self.reload()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The Clear button."""
        if event.button.id == "clear":
            event.stop()
            self.action_clear_filters()

    def action_clear_filters(self) -> None:
        """Reset every filter (one reload)."""
        with self.prevent(Select.Changed, Input.Changed):
            self.query_one("#account", Select).clear()
            self.query_one("#type", Select).clear()
            for widget_id in ("since", "until", "symbol", "search"):
                self.query_one(f"#{widget_id}", Input).value = ""
        self.reload()

    def action_focus_table(self) -> None:
        """Leave a filter for the table."""
        self.query_one(TransactionTable).focus()

    def focus_search(self) -> None:
        """Put the cursor in the free-text search."""
        self.query_one("#search", Input).focus()

    def show_account(self, account_id: str) -> None:
        """Filter on one account (its option may not be loaded yet: then once it is)."""
        select: Select[str] = self.query_one("#account", Select)
        if any(value == account_id for _, value in self._account_options):
            select.value = account_id
        else:
            self._pending_account = account_id
            self.reload()

    # ------------------------------------------------------------------ loading

    async def _load_accounts(self) -> None:
        if self._accounts_version == self.dashboard.data_version:
            return
        overview: AccountsOverview | None = await self.query_bus(AccountList(include_inactive=True))
        if overview is None:
            return
        self._accounts_version = self.dashboard.data_version
        options = [
            (f"{s.account.name} {s.account.account_number_masked}", str(s.account.id))
            for s in overview.accounts
        ]
        if options == self._account_options:
            return
        self._account_options = options
        select: Select[str] = self.query_one("#account", Select)
        current = select.value
        with self.prevent(Select.Changed):
            select.set_options(options)
            if isinstance(current, str) and any(v == current for _, v in options):
                select.value = current

    async def load(self) -> None:
        """The first page for the current filters (replacing what is shown)."""
        self._generation += 1
        generation = self._generation
        await self._load_accounts()
        if self._pending_account is not None:
            pending, self._pending_account = self._pending_account, None
            if any(value == pending for _, value in self._account_options):
                with self.prevent(Select.Changed):
                    self.query_one("#account", Select).value = pending
        filters = self.filters()
        if filters is None:
            return
        self._status(Text("loading…", style=MUTED))
        page: TransactionSlice | None = await self.query_bus(
            TransactionBrowse(filters=filters, limit=PAGE)
        )
        if page is None or generation != self._generation:
            return
        table = self.query_one(TransactionTable)
        table.clear()
        self._add(table, page.rows)
        self._next = page.next
        self._show_count(table)
        self.pages_shown += 1

    async def load_more(self) -> None:
        """Append the next page (when there is one and none is being fetched)."""
        if self._next is None or self._loading_more:
            return
        filters = self.filters()
        if filters is None:
            return
        generation = self._generation
        self._loading_more = True
        try:
            page: TransactionSlice | None = await self.query_bus(
                TransactionBrowse(filters=filters, after=self._next, limit=PAGE)
            )
        finally:
            self._loading_more = False
        if page is None or generation != self._generation:
            return
        table = self.query_one(TransactionTable)
        self._add(table, page.rows)
        self._next = page.next
        self._show_count(table)

    @staticmethod
    def _add(table: TransactionTable, rows: Sequence[TransactionRow]) -> None:
        for row in rows:
            table.add_row(
                plain(row.transaction_date.isoformat()),
                Text(printable(row.account_name or ""), overflow="ellipsis", no_wrap=True),
                plain(row.subtype.value),
                Text(printable(row.description), overflow="ellipsis", no_wrap=True),
                money_cell(row.amount, signed_style=True),
                key=str(row.id),
            )

    def _show_count(self, table: TransactionTable) -> None:
        count = table.row_count
        if count == 0:
            self._status(Text("No transaction matches these filters.", style=MUTED))
        elif self._next is not None:
            self._status(Text(f"{count:,} rows loaded, newest first; more load as you scroll"))
        else:
            self._status(Text(f"{count:,} rows, newest first (all of them)"))

    def on_transaction_table_near_end(self, event: TransactionTable.NearEnd) -> None:
        """The view nears the end of the loaded rows: fetch the next page."""
        event.stop()
        self._more()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The cursor nears the end of the loaded rows: fetch the next page."""
        if event.cursor_row >= event.data_table.row_count - PREFETCH:
            self._more()

    def _more(self) -> None:
        if self._next is not None and not self._loading_more:
            self.start_work(self.load_more, group="more")
