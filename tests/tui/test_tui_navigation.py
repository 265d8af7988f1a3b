"""Pilot tests: the dashboard opens on the overview and every screen works by key and by mouse."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, Select, Static, Tabs

from dashtam_cli.bootstrap import bootstrap
from dashtam_cli.domain.errors import DomainError, ErrorCode
from dashtam_cli.presentation.cli.context import Services, ServicesUnavailableError
from dashtam_cli.presentation.tui.app import DashtamApp
from dashtam_cli.presentation.tui.screens.account import AccountScreen
from dashtam_cli.presentation.tui.screens.help import HelpScreen
from dashtam_cli.presentation.tui.screens.holdings import HoldingsScreen
from dashtam_cli.presentation.tui.screens.overview import OverviewScreen
from dashtam_cli.presentation.tui.screens.sync import SyncScreen
from dashtam_cli.presentation.tui.screens.transactions import TransactionsScreen
from dashtam_cli.presentation.tui.widgets.charts import bar
from tests.fakes import FrozenClock
from tests.tui.conftest import NOW, AppFactory, settings_for
from tests.tui.tuitools import column, row_text, screen_text, settle, static_text

SIZE = (100, 30)


def amount(text: str) -> Decimal:
    return Decimal(text.replace(",", "").replace("+", ""))


async def test_it_opens_on_the_overview_with_net_worth_groups_and_health(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        shown = screen_text(app)
        assert "Net worth  USD" in shown
        assert "since the previous snapshot" in shown
        table = app.screen.query_one("#accounts", DataTable)
        names = column(table, "name")
        assert names[0] == "Investments"
        assert "Credit and loans" in names
        # the credit card counts negative, in its group and in the total
        card = names.index("  Cash Rewards Visa Signature®")
        balance = column(table, "balance")
        assert amount(balance[card]) < 0
        assert amount(balance[names.index("Credit and loans")]) == amount(balance[card])
        # the group totals add up to the net worth shown at the top
        groups = [i for i, name in enumerate(names) if not name.startswith("  ")]
        total = sum(amount(balance[i]) for i in groups)
        assert f"USD {total:,.2f}" in shown
        # each account has a change since its previous snapshot (four syncs were made)
        changes = [column(table, "change")[i] for i in range(len(names)) if i not in groups]
        assert all(change for change in changes)
        connections = app.screen.query_one("#connections", DataTable)
        assert row_text(connections, 0)[:3] == ["demo", "demo", "active"]
        assert row_text(connections, 0)[3].endswith("succeeded")
        attention = static_text(app.screen.query_one("#attention", Static))
        assert attention == "as of 2026-03-02 15:00 UTC"  # nothing needs attention


async def test_keys_reach_every_screen_and_back(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, screen in [
            ("t", TransactionsScreen),
            ("h", HoldingsScreen),
            ("4", SyncScreen),
            ("o", OverviewScreen),
            ("2", TransactionsScreen),
            ("3", HoldingsScreen),
            ("1", OverviewScreen),
        ]:
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen), key
            active = app.screen.query_one(Tabs).active
            assert active == f"nav-{screen.MODE}"
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert "Search the transactions" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_the_mouse_switches_screens_and_opens_an_account(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for tab, screen in [
            ("#nav-transactions", TransactionsScreen),
            ("#nav-holdings", HoldingsScreen),
            ("#nav-sync", SyncScreen),
            ("#nav-overview", OverviewScreen),
        ]:
            assert await pilot.click(tab)
            await settle(pilot)
            assert isinstance(app.screen, screen), tab
        # a click highlights an account row, a second click opens it
        table = app.screen.query_one("#accounts", DataTable)
        names = column(table, "name")
        row = names.index("  Individual Brokerage")
        offset = (4, 1 + row)  # below the header row
        await pilot.click("#accounts", offset=offset)
        await pilot.click("#accounts", offset=offset)
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
        assert "Individual Brokerage" in screen_text(app)
        assert await pilot.click("#back")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        # the help's Close button, and the footer's keys are buttons too
        await pilot.press("question_mark")
        assert await pilot.click("#help-close")
        assert isinstance(app.screen, OverviewScreen)


async def test_the_account_screen_shows_holdings_and_recent_transactions(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#accounts", DataTable)
        table.move_cursor(row=column(table, "name").index("  Individual Brokerage"))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AccountScreen)
        holdings = screen.query_one("#holdings", DataTable)
        assert holdings.row_count > 5
        weights = [Decimal(w.rstrip("%")) for w in column(holdings, "weight")]
        assert sum(weights) == pytest.approx(Decimal(100), abs=Decimal("0.5"))
        for index in range(holdings.row_count):
            _, _, _, value, cost, gain, _ = row_text(holdings, index)
            assert amount(value) - amount(cost) == amount(gain)
        recent = screen.query_one("#recent", DataTable)
        dates = column(recent, "date")
        assert len(dates) == 25
        assert dates == sorted(dates, reverse=True)
        shown = screen_text(app)
        assert "Unrealised gain/loss" in shown
        assert "brokerage · ****3896 · demo" in shown
        # t: the transactions of this account
        await pilot.press("t")
        await settle(pilot)
        transactions = app.screen
        assert isinstance(transactions, TransactionsScreen)
        assert transactions.query_one("#account", Select).value == screen.account_id
        accounts = set(column(transactions.query_one("#transactions", DataTable), "account"))
        assert accounts == {"Individual Brokerage"}
        # o closes nothing left: the overview is back, without the account screen over it
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)


async def test_slash_goes_to_the_search_field(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.screen, TransactionsScreen)
        assert app.focused is not None
        assert app.focused.id == "search"
        await pilot.press(*"payroll")
        assert app.screen.query_one("#search", Input).value == "payroll"
        await pilot.press("escape")
        assert app.focused.id == "transactions"


async def test_holdings_show_allocation_bars_that_add_up(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await settle(pilot)
        shown = screen_text(app)
        assert "By asset type" in shown
        assert "By account" in shown
        assert "mutual fund" in shown
        assert "█" in shown
        positions = app.screen.query_one("#positions", DataTable)
        assert positions.row_count > 20
        # Enter on a position opens its account
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)


async def test_holdings_open_on_the_total_and_follow_the_cursor_down(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        await settle(pilot)
        await settle(pilot)
        body = app.screen.query_one("#holdings-body", VerticalScroll)
        positions = app.screen.query_one("#positions", DataTable)
        assert app.focused is positions  # the keys go to the positions
        assert body.max_scroll_y > 0
        assert body.scroll_y == 0  # the total and the bars first
        for _ in range(15):
            await pilot.press("down")
        await settle(pilot)
        assert positions.cursor_row == 15
        assert body.scroll_y > 0  # the table came into view with its cursor


def test_bars_are_exact_to_an_eighth() -> None:
    assert bar(Decimal("0.5"), 10) == "█████"
    assert bar(Decimal("0.05"), 10) == "▌"  # four eighths of one cell
    assert bar(Decimal("0.0625"), 10) == "▋"
    assert bar(Decimal(1), 4) == "████"
    assert bar(Decimal("-0.2"), 10) == ""
    assert bar(Decimal("1.5"), 3) == "███"


async def test_a_new_workspace_says_how_to_start(tmp_path: Path) -> None:
    async def open_services() -> Services:
        return await bootstrap(settings_for(tmp_path), clock=FrozenClock(NOW), configure_logs=False)

    app = DashtamApp(open_services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "No accounts yet. Quit (q) and run `dashtam demo`" in screen_text(app)
        assert app.screen.query_one("#accounts", DataTable).row_count == 0
        await pilot.press("s")
        await settle(pilot)
        banner = static_text(app.screen.query_one("#error", Static))
        assert banner.startswith("error[not_found]: there is no active connection to sync")
        assert "hint: run `dashtam demo`" in banner
    assert (tmp_path / "data" / "dashtam.db").is_file()  # created and migrated on first use


async def test_a_configuration_error_stops_the_dashboard_with_its_error() -> None:
    error = DomainError(code=ErrorCode.CONFIG_INVALID, message="invalid configuration: nope")

    async def broken() -> Services:
        raise ServicesUnavailableError(error)

    app = DashtamApp(broken)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert app.startup_error == error
    assert app.return_code == 2


#: Colours of the SVG's window frame (traffic lights, default text), not of the dashboard.
SVG_CHROME = {"#28c840", "#febc2e", "#ff5f57", "#c5c8c6"}


def content_colours(svg: str) -> set[str]:
    """The non-grey colours an SVG screenshot uses, its window frame aside."""
    colours = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}", svg)}
    return {c for c in colours - SVG_CHROME if not c[1:3] == c[3:5] == c[5:7]}


async def test_no_color_turns_the_dashboard_monochrome(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    coloured = make_app()
    async with coloured.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert content_colours(coloured.export_screenshot())  # the check below can fail
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    assert app.no_color
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        svg = app.export_screenshot()
        shown = screen_text(app)
    assert content_colours(svg) == set()
    # what colour meant is still written: signs on changes
    assert re.search(r"[+-]\d", shown)


def test_cells_never_read_data_as_markup() -> None:
    from dashtam_cli.presentation.tui.format import plain

    cell = plain("[ACH] payment [bold]x[/bold]")
    assert isinstance(cell, Text)
    assert cell.plain == "[ACH] payment [bold]x[/bold]"
    assert not cell.spans
