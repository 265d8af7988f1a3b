"""The Textual dashboard (``dashtam tui``): screens and global keys only.

The app receives the services factory of the composition root and opens the services inside its
own event loop; every screen reads and writes through the same bus as the CLI (no SQL, no
provider code here). Screens are Textual *modes*: each keeps its state (filters, scroll position,
a running sync) while another is shown.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from dashtam_cli.domain.errors import DomainError, Failure, Result
from dashtam_cli.presentation.cli.context import ServicesUnavailableError
from dashtam_cli.presentation.tui.screens.base import DashboardScreen
from dashtam_cli.presentation.tui.screens.overview import OverviewScreen

if TYPE_CHECKING:
    from textual.screen import Screen

    from dashtam_cli.presentation.cli.context import Services, ServicesFactory

# The overview is the first paint; every other screen is imported when first shown.


def _transactions() -> Screen[None]:
    from dashtam_cli.presentation.tui.screens.transactions import TransactionsScreen

    return TransactionsScreen()


def _holdings() -> Screen[None]:
    from dashtam_cli.presentation.tui.screens.holdings import HoldingsScreen

    return HoldingsScreen()


def _sync() -> Screen[None]:
    from dashtam_cli.presentation.tui.screens.sync import SyncScreen

    return SyncScreen()


class DashtamApp(App[int]):
    """Overview, account detail, transactions, holdings and sync over the application bus."""

    CSS_PATH = "app.tcss"
    TITLE = "Dashtam"
    ENABLE_COMMAND_PALETTE = False
    MODES: ClassVar[dict[str, Any]] = {
        "overview": OverviewScreen,
        "transactions": _transactions,
        "holdings": _holdings,
        "sync": _sync,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "show('overview')", "Overview"),
        Binding("t", "show('transactions')", "Transactions"),
        Binding("h", "show('holdings')", "Holdings"),
        Binding("s", "sync", "Sync"),
        Binding("slash", "search", "Search"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("1", "show('overview')", show=False),
        Binding("2", "show('transactions')", show=False),
        Binding("3", "show('holdings')", show=False),
        Binding("4", "show('sync')", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, open_services: ServicesFactory) -> None:
        """A dashboard whose services ``open_services`` builds when the app starts.

        Args:
            open_services: the composition root's factory (awaited inside the app's loop).
        """
        super().__init__()
        self._open_services = open_services
        self._services: Services | None = None
        self._warm = False
        self._warm_lock = asyncio.Lock()
        #: Why the dashboard could not start (bad configuration...), for the CLI to report.
        self.startup_error: DomainError | None = None
        #: Bumped when a sync changed the data: screens showing older data reload.
        self.data_version = 0

    # ------------------------------------------------------------------ services

    @property
    def services(self) -> Services:
        """The application services (open while the app runs)."""
        if self._services is None:
            raise RuntimeError("the dashboard services are not open")
        return self._services

    async def on_mount(self) -> None:
        """Open the services, then show the overview."""
        try:
            self._services = await self._open_services()
        except ServicesUnavailableError as exc:
            self.startup_error = exc.error
            self.exit(return_code=2)
            return
        await self.switch_mode("overview")

    async def on_unmount(self) -> None:
        """Close the services (queued audit rows are written, connections released)."""
        if self._services is not None:
            services, self._services = self._services, None
            await services.aclose()

    async def execute(self, message: object) -> Result[Any]:
        """Run a command or query through the bus; a services failure comes back as an error.

        The first message runs alone (it may create the data dir and migrate the schema).
        """
        try:
            if not self._warm:
                async with self._warm_lock:
                    result: Result[Any] = await self.services.bus.execute(message)
                    self._warm = True
                    return result
            return await self.services.bus.execute(message)
        except ServicesUnavailableError as exc:
            return Failure(error=exc.error)

    def data_changed(self) -> None:
        """The data changed (a sync ran): reload the screen on display; others on return."""
        self.data_version += 1
        if isinstance(self.screen, DashboardScreen):
            self.screen.reload()

    # ------------------------------------------------------------------ navigation

    async def show(self, mode: str) -> None:
        """Show a top-level screen (closing the account screen or help over the current one)."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if self.current_mode != mode:
            await self.switch_mode(mode)

    async def action_show(self, mode: str) -> None:
        """Keys o/t/h (1-4): switch screens."""
        await self.show(mode)

    def open_account(self, account_id: str) -> None:
        """Show one account over the current screen."""
        from dashtam_cli.presentation.tui.screens.account import AccountScreen

        self.push_screen(AccountScreen(account_id))

    async def show_transactions(self, *, account_id: str | None = None) -> None:
        """The transactions screen, filtered to one account when given."""
        from dashtam_cli.presentation.tui.screens.transactions import TransactionsScreen

        await self.show("transactions")
        screen = self.screen
        if account_id is not None and isinstance(screen, TransactionsScreen):
            screen.show_account(account_id)

    async def action_search(self) -> None:
        """Key /: the transactions screen with the cursor in its search field."""
        from dashtam_cli.presentation.tui.screens.transactions import TransactionsScreen

        await self.show("transactions")
        screen = self.screen
        if isinstance(screen, TransactionsScreen):
            screen.focus_search()

    async def show_sync(self, alias: str | None) -> None:
        """The sync screen with one connection (or all) chosen, without starting."""
        from dashtam_cli.presentation.tui.screens.sync import SyncScreen

        await self.show("sync")
        screen = self.screen
        if isinstance(screen, SyncScreen):
            screen.choose(alias)

    async def action_sync(self) -> None:
        """Key s: go to the sync screen and sync its chosen target."""
        from dashtam_cli.presentation.tui.screens.sync import SyncScreen

        await self.show("sync")
        screen = self.screen
        if isinstance(screen, SyncScreen):
            screen.start()

    def action_help(self) -> None:
        """Key ?: the help overlay."""
        from dashtam_cli.presentation.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_reload(self) -> None:
        """Key r: reload the screen on display."""
        if isinstance(self.screen, DashboardScreen):
            self.screen.reload()


__all__ = ["DashtamApp"]
