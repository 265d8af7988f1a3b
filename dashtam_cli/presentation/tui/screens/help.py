"""The help overlay (``?``): every key, and what the screens show."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

if TYPE_CHECKING:
    from textual.app import ComposeResult

KEYS: tuple[tuple[str, str], ...] = (
    ("o  1", "Overview: net worth, accounts, connections"),
    ("t  2", "Transactions: filter and browse the history"),
    ("h  3", "Holdings: allocation by asset type and account"),
    ("s", "Sync now (the chosen connection, or all of them)"),
    ("4", "The Sync screen, without starting a sync"),
    ("/", "Search the transactions"),
    ("c", "Clear the transaction filters"),
    ("Enter", "Open the highlighted account (or position)"),
    ("Enter", "In a filter field: apply it at once (a pause in typing does too)"),
    ("Esc  ↓", "Back / from a filter field to the table"),
    ("r", "Reload the data of this screen"),
    ("?", "This help"),
    ("q", "Quit"),
)

NOTES = (
    "Amounts are exact; credit cards and loans count negative in net worth. "
    "'Change' compares an account's two newest balance snapshots (one per sync). "
    "Times are UTC. The mouse works too: click tabs, rows (twice to open), buttons and the "
    "footer keys."
)


def help_text() -> Table:
    """The keys table and the notes under it."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for keys, meaning in KEYS:
        table.add_row(keys, meaning)
    table.add_row("", "")
    table.add_row("", Text(NOTES, style="dim"))
    return table


class HelpScreen(ModalScreen[None]):
    """Keys and notes over the current screen; Esc, ? or the button closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        """A bordered box with the keys and a Close button."""
        with VerticalScroll(id="help-box"):
            yield Static(Text("Dashtam dashboard: keys", style="bold"), id="help-title")
            yield Static(help_text(), id="help-keys")
            yield Button("Close", id="help-close", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The Close button."""
        event.stop()
        self.dismiss()

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss()
