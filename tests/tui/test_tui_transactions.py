"""Pilot tests of the transactions screen: filters by key and mouse, lazy pages, errors."""

from __future__ import annotations

from datetime import date
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from dashtam_cli.application.queries import TransactionFilter, TransactionList
from dashtam_cli.domain.errors import Success
from dashtam_cli.presentation.tui.app import DashtamApp
from dashtam_cli.presentation.tui.screens.transactions import PAGE, TransactionsScreen
from tests.tui.conftest import AppFactory
from tests.tui.tuitools import column, settle, static_text

SIZE = (100, 30)


def shown_ids(app: DashtamApp) -> list[str]:
    table = app.screen.query_one("#transactions", DataTable)
    return [str(row.key.value) for row in table.ordered_rows]


async def listed_ids(app: DashtamApp, filters: TransactionFilter, limit: int = 5_000) -> list[str]:
    """What ``dashtam transactions list`` returns for the same filters (newest first)."""
    result = await app.execute(TransactionList(filters=filters, limit=limit))
    assert isinstance(result, Success), result
    return [str(row.id) for row in result.value.transactions]


async def open_transactions(pilot: Pilot[Any]) -> TransactionsScreen:
    await settle(pilot)
    await pilot.press("t")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TransactionsScreen)
    return screen


async def type_into(pilot: Pilot[Any], selector: str, text: str) -> None:
    await pilot.click(selector)
    await pilot.press(*text)
    await pilot.press("enter")
    await settle(pilot)


async def test_the_first_page_is_the_newest_rows_and_more_load_on_demand(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_transactions(pilot)
        first = shown_ids(app)
        assert len(first) == PAGE
        assert "more load as you scroll" in static_text(screen.query_one("#tx-status", Static))
        # ctrl+end: to the last loaded row; the next page is fetched (keyset: no gap, no repeat)
        await pilot.press("ctrl+end")
        await settle(pilot)
        await pilot.press("ctrl+end")
        await settle(pilot)
        everything = await listed_ids(app, TransactionFilter())
        loaded = shown_ids(app)
        assert len(loaded) >= 3 * PAGE
        assert loaded == everything[: len(loaded)]
        # scrolling with the mouse wheel to the end loads more too
        table = screen.query_one("#transactions", DataTable)
        before = table.row_count
        table.scroll_end(animate=False)
        await settle(pilot)
        assert table.row_count > before


async def test_filters_typed_with_the_keyboard_match_the_cli_query(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_transactions(pilot)
        await type_into(pilot, "#since", "2025-06-01")
        await type_into(pilot, "#until", "2025-09-30")
        await type_into(pilot, "#symbol", "aapl")
        filters = TransactionFilter(since=date(2025, 6, 1), until=date(2025, 9, 30), symbol="aapl")
        expected = await listed_ids(app, filters)
        assert expected, "the demo has AAPL rows in that quarter"
        assert shown_ids(app) == expected
        dates = column(screen.query_one("#transactions", DataTable), "date")
        assert all("2025-06-01" <= d <= "2025-09-30" for d in dates)
        assert "(all of them)" in static_text(screen.query_one("#tx-status", Static))
        # Esc leaves the field for the table, where c clears every filter
        await pilot.press("escape", "c")
        await settle(pilot)
        assert screen.query_one("#since", Input).value == ""
        assert len(shown_ids(app)) == PAGE


async def test_free_text_search_and_type_select(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_transactions(pilot)
        await pilot.press("slash", *"costco", "enter")
        await settle(pilot)
        expected = await listed_ids(app, TransactionFilter(search="costco"))
        assert expected
        assert shown_ids(app) == expected[:PAGE]
        # the type select, by keyboard: open it, type to find the option, Enter
        select = screen.query_one("#type", Select)
        select.focus()
        await pilot.press("enter", *"buy", "enter")
        await settle(pilot)
        assert select.value == "buy"
        expected = await listed_ids(app, TransactionFilter(search="costco", transaction_type="buy"))
        assert shown_ids(app) == expected[:PAGE]
        assert set(column(screen.query_one("#transactions", DataTable), "type")) == {"buy"}
        # the Clear button, with the mouse
        assert await pilot.click("#clear")
        await settle(pilot)
        assert select.value is Select.NULL
        assert screen.query_one("#search", Input).value == ""


async def test_the_account_select_with_the_mouse(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_transactions(pilot)
        await pilot.click("#account")
        await pilot.pause()
        assert screen.query_one("#account", Select).expanded
        await pilot.press("down", "down", "enter")  # the second account, by name
        await settle(pilot)
        value = screen.query_one("#account", Select).value
        assert isinstance(value, str)
        expected = await listed_ids(app, TransactionFilter(account_ref=value))
        assert shown_ids(app) == expected[:PAGE]
        assert len(set(column(screen.query_one("#transactions", DataTable), "account"))) == 1


async def test_a_bad_date_is_reported_and_nothing_else_changes(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_transactions(pilot)
        before = shown_ids(app)
        await type_into(pilot, "#since", "2025-13-01")
        status = static_text(screen.query_one("#tx-status", Static))
        assert "'from' must be a date: YYYY-MM-DD" in status
        assert shown_ids(app) == before
        # since after until comes back from the handler as an error banner
        await pilot.click("#since")
        screen.query_one("#since", Input).value = ""
        await type_into(pilot, "#since", "2025-12-01")
        await type_into(pilot, "#until", "2025-01-01")
        banner = static_text(screen.query_one("#error", Static))
        assert banner.startswith("error[invalid_argument]: --since 2025-12-01 is after")


async def test_no_match_says_so(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_transactions(pilot)
        await type_into(pilot, "#search", "no such text anywhere")
        assert shown_ids(app) == []
        status = static_text(screen.query_one("#tx-status", Static))
        assert status == "No transaction matches these filters."
