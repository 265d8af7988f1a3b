"""Small helpers for ``DataTable``: remember the highlighted row across a reload."""

from __future__ import annotations

import contextlib

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist


def selected_key(table: DataTable[Text]) -> str | None:
    """The key of the highlighted row (None when the table is empty)."""
    if table.row_count == 0:
        return None
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    return row_key.value


def restore_cursor(table: DataTable[Text], key: str | None) -> None:
    """Highlight the row ``key`` again if it is still there (else the cursor stays on top)."""
    if key is None:
        return
    with contextlib.suppress(RowDoesNotExist):
        table.move_cursor(row=table.get_row_index(key))
