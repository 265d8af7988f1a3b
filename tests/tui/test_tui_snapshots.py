"""SVG snapshots of every screen on the deterministic demo (fixed seed, frozen clock, fixed size).

Update them after a deliberate change with ``pytest tests/tui --snapshot-update`` and look at the
SVGs (docs/guides/img/ shows copies of them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from tests.fakes import FrozenClock
from tests.tui.conftest import NOW, AppFactory
from tests.tui.tuitools import column, settle

type SnapCompare = Callable[..., bool]
type RunBefore = Callable[[Pilot[Any]], Awaitable[None]]

WIDE = (100, 30)
SMALL = (80, 24)


def keys(*pressed: str) -> RunBefore:
    """Press keys, letting every load finish after each one."""

    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_overview(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """Net worth with its history, accounts by group (the card negative), connections."""
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys())


def test_overview_at_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """The overview in the smallest supported terminal."""
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=keys())


def test_account_detail(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """Individual Brokerage: balance and change, holdings with weights, recent transactions."""

    async def open_brokerage(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        table = pilot.app.screen.query_one("#accounts", DataTable)
        table.move_cursor(row=column(table, "name").index("  Individual Brokerage"))
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=open_brokerage)


def test_transactions(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """The newest transactions of every account, the first page loaded."""
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("t"))


def test_transactions_filtered_at_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """Dividends since 2025-06-01 (typed filters), in the smallest supported terminal."""

    async def filter_dividends(pilot: Pilot[Any]) -> None:
        await keys("t")(pilot)
        screen = pilot.app.screen
        with screen.prevent(Input.Changed):  # no typing pause to wait for: the select applies it
            screen.query_one("#since", Input).value = "2025-06-01"
        screen.query_one("#type").focus()
        await pilot.press("enter", *"dividend", "enter")
        await settle(pilot)
        screen.query_one("#transactions").focus()
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SMALL, run_before=filter_dividends)


def test_holdings(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """Allocation by asset type and by account as bars, then the positions."""
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("h"))


def test_sync_results(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """A sync a day later: the progress log from the events, the per-account results."""
    app = make_app(clock=FrozenClock(NOW.replace(day=NOW.day + 1)))
    assert snap_compare(app, terminal_size=WIDE, run_before=keys("s"))


def test_help(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    """The keys, over the overview."""
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("question_mark"))


SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__" / "test_tui_snapshots"
GUIDE_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "guides" / "img"


@pytest.mark.parametrize(
    "name",
    [
        "overview",
        "overview_at_80x24",
        "account_detail",
        "transactions",
        "transactions_filtered_at_80x24",
        "holdings",
        "sync_results",
        "help",
    ],
)
def test_the_guide_shows_the_current_snapshots(name: str) -> None:
    """docs/guides/dashboard.md shows copies of these snapshots: keep them current."""
    image = GUIDE_IMAGES / f"dashboard-{name.replace('_', '-')}.svg"
    snapshot = SNAPSHOTS / f"test_{name}.svg"
    assert image.read_text() == snapshot.read_text(), f"cp {snapshot} {image}"
