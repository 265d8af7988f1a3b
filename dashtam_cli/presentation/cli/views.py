"""Rendering helpers shared by the read commands (accounts, transactions, holdings, balances...).

Records (what JSON and CSV carry) and table rows (what people see) are built separately: records
hold exact values (``Decimal``, full UUIDs, ISO dates) under the field names of ``domain.md``;
table rows hold short ids and amounts with thousands separators. JSON and CSV never go through
Rich.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TYPE_CHECKING
from uuid import UUID

from dashtam_cli.presentation.cli.render import (
    SHORT_ID,
    Column,
    OutputFormat,
    console,
    emit_csv,
    emit_json,
    emit_rows,
    printable,
)

if TYPE_CHECKING:
    from dashtam_cli.domain.money import Money

type Record = dict[str, object]


def short_id(value: UUID | None) -> str:
    """The first characters of an id, as tables show it."""
    return "" if value is None else str(value)[:SHORT_ID]


def amount_text(value: Decimal | None, *, places: int | None = 2) -> str:
    """An amount for people: thousands separators, ``places`` decimals (rounded half-even, or
    padded: ``0`` is ``0.00``).

    Tables are for reading; JSON and CSV carry the exact stored value. ``places=None`` shows the
    exact value (prices, quantities).
    """
    if value is None:
        return ""
    if places is not None and value.as_tuple().exponent != -places:
        with contextlib.suppress(InvalidOperation):  # beyond 28 digits: shown exact
            value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if value.is_zero():
        value = value.copy_abs()  # -0.001 rounds to 0.00, not -0.00
    return f"{value:,f}"


def when_text(value: datetime | None) -> str:
    """``2026-11-26 13:06`` (UTC) for tables."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def money_amount(money: Money | None) -> Decimal | None:
    """The amount of a Money (records carry the currency in its own field)."""
    return None if money is None else money.amount


def totals_text(totals: Mapping[str, Money]) -> str:
    """``USD 1,234.56 · EUR 10.00`` (exact, one entry per currency)."""
    return " · ".join(f"{code} {amount_text(m.amount)}" for code, m in sorted(totals.items()))


def print_totals(lines: Sequence[tuple[str, Mapping[str, Money]]]) -> None:
    """Print ``label  USD 1,234.56 · EUR 10.00`` lines under a table (table mode only)."""
    shown = [(label, totals) for label, totals in lines if totals]
    if not shown:
        return
    width = max(len(label) for label, _ in shown)
    out = console()
    for label, totals in shown:
        out.print(f"[bold]{label:<{width}}[/bold]  {totals_text(totals)}", highlight=False)


def emit_list(
    records: Sequence[Record],
    fields: Sequence[str],
    *,
    fmt: OutputFormat,
    table_rows: Sequence[Record],
    table_columns: Sequence[Column],
    title: str,
    empty: str,
) -> None:
    """JSON: the records; CSV: the records under a ``fields`` header; table: the table rows."""
    if fmt is OutputFormat.TABLE:
        # emit_rows escapes every cell itself: data is never read as Rich markup.
        emit_rows(table_rows, table_columns, fmt=fmt, title=title, empty=empty)
    else:
        emit_rows(records, [Column(key=name) for name in fields], fmt=fmt)


def safe_text(value: str) -> str:
    """Text shown as is by Rich: data such as ``[ACH] payment`` is not read as markup, and a
    control character (an escape sequence) never reaches the terminal."""
    from rich.markup import escape

    return escape(printable(value))


def emit_show(record: Record, *, fmt: OutputFormat) -> bool:
    """Write a ``show`` record as JSON (one object) or CSV (one row).

    Returns:
        True when it was written; False in table mode (the caller draws the table).
    """
    if fmt is OutputFormat.JSON:
        emit_json(record)
        return True
    if fmt is OutputFormat.CSV:
        emit_csv([record], [Column(key=name) for name in record])
        return True
    return False


def key_value_table(pairs: Sequence[tuple[str, str]], *, title: str | None = None) -> None:
    """A borderless two-column table of labels and values."""
    from rich.table import Table

    shown = None if title is None else safe_text(title)
    table = Table(title=shown, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for label, value in pairs:
        table.add_row(label, safe_text(value))
    console().print(table)


def note(message: str) -> None:
    """A dim remark under a table (table mode only)."""
    console().print(f"[dim]{safe_text(message)}[/dim]", highlight=False)


def stdin_is_interactive() -> bool:
    """Whether standard input is a terminal a person can answer a question on."""
    stream = sys.stdin
    return stream is not None and stream.isatty()
