"""Output: Rich tables for people, JSON and CSV for programs (never colour or log lines)."""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, TextIO
from uuid import UUID

from dashtam_cli.domain.money import decimal_text
from dashtam_cli.presentation.cli.errors import ExitCode

if TYPE_CHECKING:
    from rich.console import Console


class OutputFormat(StrEnum):
    """``--format`` values."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def plain(value: object) -> object:
    """A JSON-safe primitive for a value: money and ids as exact strings, dates ISO-8601."""
    match value:
        case None | bool() | int() | str():
            return value
        case Decimal():
            return decimal_text(value)
        case UUID():
            return str(value)
        case datetime() | date():
            return value.isoformat()
        case timedelta():
            return int(value.total_seconds())
        case Enum():
            return plain(value.value)
        case Mapping():
            return {str(k): plain(v) for k, v in value.items()}
        case list() | tuple():
            return [plain(v) for v in value]
        case float():  # pragma: no cover - a float on an output path is a bug
            raise TypeError("refusing to render a float")
        case _:
            return str(value)


#: Control characters (C0, DEL, C1) as a terminal must not receive them from data: an escape
#: sequence in a description could recolour, move or retitle the terminal. Tabs and line breaks
#: become spaces, the rest the replacement character.
_UNPRINTABLE = dict.fromkeys((*range(32), 127, *range(128, 160)), "�")
_UNPRINTABLE.update({ord("\t"): " ", ord("\n"): " ", ord("\r"): " "})
# bidirectional overrides and isolates reorder what follows them on screen ("Trojan source")
_UNPRINTABLE.update(dict.fromkeys((*range(0x202A, 0x202F), *range(0x2066, 0x206A)), "\ufffd"))


def printable(text: str) -> str:
    """``text`` safe to show on a terminal (data stays exact in JSON and CSV)."""
    return text.translate(_UNPRINTABLE) if not text.isprintable() else text


def cell(value: object) -> str:
    """Text for a table cell, for people: booleans ``yes`` / ``no``, instants to the minute,
    control characters made harmless."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    shown = plain(value)
    if isinstance(shown, bool):
        return "yes" if shown else "no"
    return printable(_text(shown))


def csv_cell(value: object) -> str:
    """Text for a CSV cell: booleans as ``true`` / ``false``, as in JSON and in exports."""
    shown = plain(value)
    if isinstance(shown, bool):
        return "true" if shown else "false"
    return _text(shown)


def _text(shown: object) -> str:
    if shown is None:
        return ""
    if isinstance(shown, dict | list):
        return json.dumps(shown, sort_keys=True)
    return str(shown)


@dataclass(frozen=True, kw_only=True, slots=True)
class Column:
    """A column of a list output: the field name (JSON/CSV) and its table header."""

    key: str
    header: str | None = None
    justify: str = "left"
    style: str | None = None
    wrap: bool = True
    """Text may wrap; ``False`` keeps a cell on one line (ids, amounts are never wrapped)."""
    priority: int = 0
    """0: always shown. Higher numbers are dropped first when the terminal is too narrow."""


#: Text columns keep at least this width before lower-priority columns are dropped.
_MIN_TEXT_WIDTH = 14


#: How many characters of an id a list table shows (any unique prefix of 4 or more is accepted).
SHORT_ID = 8


def list_cell(value: object) -> str:
    """Text for a cell of a list table: :func:`cell`, ids shortened to their first characters."""
    return str(value)[:SHORT_ID] if isinstance(value, UUID) else cell(value)


def _natural_width(column: Column, rows: Sequence[Mapping[str, object]]) -> int:
    """The width a column's header and every cell take on one line."""
    return max(
        [len(column.header or column.key), *(len(list_cell(r.get(column.key))) for r in rows)]
    )


def _fit(
    rows: Sequence[Mapping[str, object]], columns: Sequence[Column], width: int
) -> tuple[list[Column], int]:
    """Drop optional columns (highest ``priority`` first) until the table fits ``width``; the
    kept columns and the width they need (more than ``width`` when even the columns that are
    always shown do not fit)."""
    kept = list(columns)
    widths: dict[str, int] = {}
    for c in columns:
        natural = _natural_width(c, rows)
        widths[c.key] = (
            min(natural, _MIN_TEXT_WIDTH) if c.wrap and c.justify != "right" else natural
        )

    def needed(cols: Sequence[Column]) -> int:
        return sum(widths[c.key] for c in cols) + 3 * len(cols)

    while needed(kept) > width:
        optional = [c for c in kept if c.priority > 0]
        if not optional:
            break
        kept.remove(max(optional, key=lambda c: c.priority))
    return kept, needed(kept)


@functools.cache
def _console_type() -> type[Console]:
    from rich.console import Console

    class ProductConsole(Console):
        """Rich's console, ending like a command killed by SIGPIPE when stdout's reader goes."""

        def on_broken_pipe(self) -> None:
            """Quiet the final flush (stdout to /dev/null), then exit 141 (Rich exits 1)."""
            self.quiet = True
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            raise SystemExit(ExitCode.BROKEN_PIPE)

    return ProductConsole


def console(stream: TextIO | None = None, *, width: int | None = None) -> Console:
    """A Rich console on stdout honouring NO_COLOR (imported lazily: rich is slow to import).

    ``width`` overrides the terminal's (or ``COLUMNS``) width.
    """
    return _console_type()(
        file=stream or sys.stdout,
        width=width,
        no_color=bool(os.environ.get("NO_COLOR")),
        highlight=False,
        soft_wrap=False,
    )


def emit_json(document: object, *, stream: TextIO | None = None) -> None:
    """Write one JSON document (array or object) to stdout."""
    out = stream or sys.stdout
    out.write(json.dumps(plain(document), indent=2, ensure_ascii=False) + "\n")


def emit_csv(
    rows: Iterable[Mapping[str, object]], columns: Sequence[Column], *, stream: TextIO | None = None
) -> None:
    """Write RFC 4180 CSV with a header of the field names."""
    out = stream or sys.stdout
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.key for c in columns])
    for row in rows:
        writer.writerow([csv_cell(row.get(c.key)) for c in columns])


def emit_rows(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[Column],
    *,
    fmt: OutputFormat,
    title: str | None = None,
    empty: str = "nothing to show",
    json_rows: Sequence[Mapping[str, object]] | None = None,
) -> None:
    """Render a list in the chosen format.

    Args:
        rows: the records, keyed by field name.
        columns: which fields the table and CSV show, in order.
        fmt: table, json or csv.
        title: the table's title.
        empty: what the table says when there are no rows (JSON prints ``[]``, CSV the header).
        json_rows: full records for JSON when they carry more than the table columns.
    """
    if fmt is OutputFormat.JSON:
        emit_json(list(json_rows if json_rows is not None else rows))
        return
    if fmt is OutputFormat.CSV:
        emit_csv(rows, columns)
        return
    out = console()
    if not rows:
        out.print(f"[dim]{empty}[/dim]")
        return
    shown, needed = _fit(rows, columns, out.width)
    if needed > out.width:
        # Too narrow even for the columns always shown: draw the table wider (the terminal
        # wraps its lines) rather than crop an amount or squeeze a column away.
        out = console(width=needed)
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in shown:
        whole = column.justify == "right" or not column.wrap
        table.add_column(
            column.header or column.key,
            justify=column.justify,  # type: ignore[arg-type]
            style=column.style,
            # Amounts and ids never break or lose a digit (Rich would crop them to fit a narrow
            # terminal); text wraps so narrow terminals still show every row.
            no_wrap=whole,
            min_width=_natural_width(column, rows) if whole else None,
            overflow="fold",
        )
    for row in rows:
        # Data is never markup: a description like "[ACH] pay [/]" must print as typed. Plain
        # Text cells also skip Rich's markup and emoji parsing (a tenth of the rendering).
        table.add_row(*(Text(list_cell(row.get(c.key))) for c in shown))
    out.print(table)


def emit_record(
    record: Mapping[str, object], *, fmt: OutputFormat, title: str | None = None
) -> None:
    """Render one object: key/value table, a JSON object, or a one-row CSV."""
    if fmt is OutputFormat.JSON:
        emit_json(record)
        return
    if fmt is OutputFormat.CSV:
        emit_csv([record], [Column(key=k) for k in record])
        return
    out = console()
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    from rich.markup import escape

    for key, value in record.items():
        table.add_row(escape(key), escape(cell(value)))
    out.print(table)


def human_duration(delta: timedelta | None) -> str:
    """``6d 23h``, ``5h 10m``, ``12m`` or ``expired``."""
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
