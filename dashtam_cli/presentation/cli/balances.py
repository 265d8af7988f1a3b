"""``dashtam balances history``: net worth over time, charted in the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer

from dashtam_cli.presentation.cli.context import execute
from dashtam_cli.presentation.cli.options import FormatOption, parse_date
from dashtam_cli.presentation.cli.render import Column, OutputFormat, console
from dashtam_cli.presentation.cli.views import Record, amount_text, emit_list, note

if TYPE_CHECKING:
    from dashtam_cli.application.queries import NetWorthHistory, NetWorthPoint

app = typer.Typer(
    help="Balances over time, from the snapshot every sync writes.", no_args_is_help=True
)

#: The JSON / CSV fields of a point.
FIELDS = ("captured_at", "currency", "net_worth", "assets", "liabilities", "accounts")
COLUMNS = [
    Column(key="captured_at", header="when"),
    Column(key="net_worth", header="net worth", justify="right"),
    Column(key="assets", justify="right"),
    Column(key="liabilities", justify="right"),
    Column(key="accounts", justify="right"),
]
#: Eighths of a character cell, from empty to full.
BLOCKS = " ▁▂▃▄▅▆▇█"
CHART_HEIGHT = 8
_MAX_CHART_WIDTH = 120
_MAX_STRETCH = 6
#: Table mode lists at most this many of the newest points per currency under the chart.
TABLE_POINTS = 12


def resample(values: Sequence[Decimal], width: int) -> list[Decimal]:
    """Fit values into ``width`` columns: the last value of each bucket when there are too many,
    each value repeated (up to six times) when there are few.
    """
    count = len(values)
    if count == 0 or width <= 0:
        return []
    if count > width:
        return [values[(i + 1) * count // width - 1] for i in range(width)]
    stretch = max(1, min(width // count, _MAX_STRETCH))
    return [value for value in values for _ in range(stretch)]


def block_chart(values: Sequence[Decimal], *, height: int = CHART_HEIGHT) -> list[str]:
    """Rows (top first) of a column chart drawn with eighth blocks, one column per value.

    The lowest value gets a one-eighth sliver, the highest a full column; a flat series sits
    at half height. Exact ``Decimal`` arithmetic (no float anywhere).
    """
    if not values:
        return []
    low, high = min(values), max(values)
    steps = height * 8
    span = high - low
    levels: list[int] = []
    for value in values:
        if span.is_zero():
            levels.append(steps // 2)
        else:
            levels.append(1 + int((value - low) / span * (steps - 1)))
    rows = []
    for row in range(height - 1, -1, -1):
        base = row * 8
        rows.append("".join(BLOCKS[min(8, max(0, level - base))] for level in levels))
    return rows


def point_record(point: NetWorthPoint) -> Record:
    """The JSON / CSV record of a point (``liabilities`` is what is owed, a positive amount)."""
    return {
        "captured_at": point.captured_at,
        "currency": point.currency,
        "net_worth": point.net_worth.amount,
        "assets": point.assets.amount,
        "liabilities": point.liabilities.amount,
        "accounts": point.accounts,
    }


def _chart(currency: str, points: Sequence[NetWorthPoint]) -> None:
    out = console()
    values = [p.net_worth.amount for p in points]
    high_label, low_label = amount_text(max(values)), amount_text(min(values))
    label_width = max(len(high_label), len(low_label))
    width = min(out.width - label_width - 3, _MAX_CHART_WIDTH)
    rows = block_chart(resample(values, width))
    out.print(f"[bold]Net worth ({currency})[/bold]", highlight=False)
    for index, row in enumerate(rows):
        label = high_label if index == 0 else low_label if index == len(rows) - 1 else ""
        out.print(f"{label:>{label_width}} ┤", end="", highlight=False, markup=False)
        out.print(row, style="green", highlight=False, markup=False)
    first, last = (
        points[0].captured_at.date().isoformat(),
        points[-1].captured_at.date().isoformat(),
    )
    span = len(rows[0]) if rows else 0
    gap = max(1, span - len(first) - len(last))
    out.print(f"{'':>{label_width}}  {first}{' ' * gap}{last}", highlight=False, markup=False)
    change = points[-1].net_worth - points[0].net_worth
    sign = "+" if change.amount > 0 else ""
    out.print(
        f"{'':>{label_width}}  now {amount_text(points[-1].net_worth.amount)} {currency}, "
        f"{sign}{amount_text(change.amount)} since {first}"
        f" ({len(points)} {'point' if len(points) == 1 else 'points'})",
        highlight=False,
        markup=False,
    )


@app.command()
def history(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account (id prefix).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this date (YYYY-MM-DD).", metavar="DATE")
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Net worth per currency at every balance snapshot; a chart in table mode.

    At each snapshot every account counts with its latest balance; credit cards and loans
    subtract; an account the provider stopped reporting stops counting.
    """
    from dashtam_cli.application.queries import BalanceHistory

    query = BalanceHistory(
        account_ref=account, since=parse_date(since, as_json=fmt is OutputFormat.JSON)
    )
    result: NetWorthHistory = execute(ctx, query, as_json=fmt is OutputFormat.JSON)
    records = [point_record(p) for p in result.points]
    if fmt is not OutputFormat.TABLE or not result.points:
        emit_list(
            records,
            FIELDS,
            fmt=fmt,
            table_rows=[],
            table_columns=COLUMNS,
            title="Net worth",
            empty=(
                f"No balance snapshots since {since}."
                if since is not None
                else "No balance snapshots yet: every sync writes one (try `dashtam sync`)."
            ),
        )
        return
    for currency in result.currencies:
        points = [p for p in result.points if p.currency == currency]
        _chart(currency, points)
        newest = points[-TABLE_POINTS:]
        emit_list(
            [],
            FIELDS,
            fmt=fmt,
            table_rows=[
                {
                    "captured_at": p.captured_at,
                    "net_worth": amount_text(p.net_worth.amount),
                    "assets": amount_text(p.assets.amount),
                    "liabilities": amount_text(p.liabilities.amount),
                    "accounts": p.accounts,
                }
                for p in newest
            ],
            table_columns=COLUMNS,
            title=f"Newest points ({currency})",
            empty="",
        )
        if len(points) > len(newest):
            note(f"{len(points) - len(newest)} older points: --format csv lists every one.")
