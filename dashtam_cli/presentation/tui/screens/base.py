"""What every dashboard screen shares: navigation, an error banner, the footer, data loading.

A screen loads its data in an exclusive worker (a newer load cancels an older one) through the
application bus. After a sync the app bumps its data version: the screen on display reloads at
once, the others when they are shown again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, Tabs

from dashtam_cli.domain.errors import DomainError, Failure, Result
from dashtam_cli.presentation.tui.widgets.nav import NavBar, mode_of

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from textual.app import ComposeResult
    from textual.worker import Worker

    from dashtam_cli.presentation.tui.app import DashtamApp


def error_text(error: DomainError) -> Text:
    """``error[code]: message`` and, on the next line, the hint (what to do)."""
    text = Text(f"error[{error.code.value}]: {error.message}", style="bold red")
    if error.hint:
        text.append(f"\n  hint: {error.hint}", style="yellow")
    return text


class ErrorBanner(Static):
    """A failed query or command, shown above the screen's content until the next success."""

    DEFAULT_CSS = """
    ErrorBanner { display: none; height: auto; padding: 0 1; }
    ErrorBanner.-shown { display: block; }
    """

    def show_error(self, error: DomainError | None) -> None:
        """Show ``error`` (None hides the banner)."""
        self.set_class(error is not None, "-shown")
        self.update(error_text(error) if error is not None else "")


class DashboardScreen(Screen[None]):
    """A top-level screen: the navigation tabs, an error banner, its body, the footer."""

    #: The mode (``overview``...) this screen is shown in; its tab is the active one.
    MODE: ClassVar[str] = ""
    #: The table that takes the keys (Enter opens its row), below a summary: focused without
    #: scrolling the page down to it (auto-focus would hide the summary), and brought into
    #: view once its cursor moves.
    KEY_TABLE: ClassVar[str | None] = None

    def __init__(self) -> None:
        """A screen whose data is not loaded yet."""
        super().__init__()
        self._loaded_version = -1

    @property
    def dashboard(self) -> DashtamApp:
        """The running dashboard app."""
        return cast("DashtamApp", self.app)

    def compose(self) -> ComposeResult:
        """Navigation, error banner, the body, the footer."""
        yield NavBar(self.MODE)
        yield ErrorBanner(id="error")
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    # Textual calls the event handlers of every class of the MRO: subclasses override the hooks
    # (``mounted``, ``load``), never ``on_mount`` / ``on_screen_resume`` themselves.

    def on_mount(self) -> None:
        """Prepare the widgets, then load the data the first time the screen is shown."""
        if self.KEY_TABLE is not None:
            self.query_one(self.KEY_TABLE).focus(scroll_visible=False)
        self.mounted()
        self.reload()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The key table's cursor moved: bring the table (and so the cursor) into view."""
        if (
            self.KEY_TABLE is not None
            and f"#{event.data_table.id}" == self.KEY_TABLE
            and event.cursor_row > 0
        ):
            event.data_table.scroll_visible(animate=False)

    def mounted(self) -> None:
        """Hook run once the widgets are mounted, before the first load (focus...)."""

    def on_screen_resume(self) -> None:
        """Reload when the data changed (a sync) while another screen was shown."""
        for nav in self.query(NavBar):
            nav.active = f"nav-{self.MODE}"  # a click may have moved it
        if self._loaded_version != self.dashboard.data_version:
            self.reload()

    def reload(self) -> None:
        """Load (again) in an exclusive worker: a newer load cancels a running one."""
        self._loaded_version = self.dashboard.data_version
        self.start_work(self.load, group="load", exclusive=True)

    def start_work(
        self,
        work: Callable[[], Coroutine[None, None, None]],
        *,
        group: str,
        exclusive: bool = False,
    ) -> Worker[None]:
        """Run an async function in a worker of this screen.

        The function, not a coroutine: a worker cancelled before it starts (an exclusive one
        replaced at once) then leaves no coroutine unawaited.
        """
        worker: Worker[None] = self.run_worker(
            work, group=group, name=f"{self.MODE}-{group}", exclusive=exclusive
        )
        return worker

    async def load(self) -> None:
        """Fetch the data through the bus and show it (screens override this)."""

    async def query_bus(self, message: object, *, clear_error: bool = True) -> Any | None:
        """Run a query; on failure show the error banner and return None.

        Args:
            message: the query.
            clear_error: hide the banner on success (a screen whose banner also reports its
                commands passes False).
        """
        result: Result[Any] = await self.dashboard.execute(message)
        banner = self.query_one(ErrorBanner)
        if isinstance(result, Failure):
            banner.show_error(result.error)
            return None
        if clear_error:
            banner.show_error(None)
        return result.value

    async def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        """A click on another tab switches to its screen."""
        event.stop()
        mode = mode_of(event.tab)
        if mode is not None and mode != self.MODE:
            await self.dashboard.show(mode)
