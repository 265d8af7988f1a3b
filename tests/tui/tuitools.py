"""Helpers for the dashboard tests: wait for the app's workers, read what the screen shows."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from textual.worker import WorkerState

_BUSY = (WorkerState.PENDING, WorkerState.RUNNING)


def _starting(app: App[Any]) -> bool:
    """The app still shows Textual's default screen: it is opening its services (a new
    workspace is migrated first), and the overview's load has not begun."""
    return app.is_running and app.screen.id == "_default"


async def settle(pilot: Pilot[Any], *, within: float = 20.0) -> None:
    """Wait until no worker runs (loads, a sync) and the messages they caused are handled."""
    deadline = time.monotonic() + within
    quiet_rounds = 0
    while quiet_rounds < 2:
        await pilot.pause()
        busy = [w.name for w in pilot.app.workers if w.state in _BUSY]
        if _starting(pilot.app):
            busy.append("(the app opening its services)")
        quiet_rounds = 0 if busy else quiet_rounds + 1
        if busy:
            if time.monotonic() > deadline:
                raise AssertionError(f"workers still running: {busy}")
            await asyncio.sleep(0.02)


def screen_text(app: App[Any]) -> str:
    """The characters on the screen, without styles (what a person reads)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, simplify=True))
    return console.export_text()


def column(table: DataTable[Any], key: str) -> list[str]:
    """The plain text of one column, top to bottom."""
    cells = table.get_column(key)
    return [cell.plain if isinstance(cell, Text) else str(cell) for cell in cells]


def row_text(table: DataTable[Any], index: int) -> list[str]:
    """The plain text of one row's cells."""
    return [cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(index)]


def static_text(widget: Static) -> str:
    """The plain text a ``Static`` holds (visible or scrolled away)."""
    content = widget.content
    return content.plain if isinstance(content, Text | Content) else str(content)
