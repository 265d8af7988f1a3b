"""``dashtam holdings list``."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer

from dashtam_cli.presentation.cli.context import execute
from dashtam_cli.presentation.cli.options import FormatOption
from dashtam_cli.presentation.cli.render import Column, OutputFormat
from dashtam_cli.presentation.cli.views import (
    Record,
    amount_text,
    emit_list,
    money_amount,
    print_totals,
    short_id,
)

if TYPE_CHECKING:
    from dashtam_cli.application.queries import HoldingRow, HoldingsOverview

app = typer.Typer(help="Positions held in your accounts.", no_args_is_help=True)

#: The JSON / CSV fields of a holding.
FIELDS = (
    "id",
    "account_id",
    "account_name",
    "symbol",
    "security_name",
    "asset_type",
    "quantity",
    "average_price",
    "current_price",
    "market_value",
    "cost_basis",
    "unrealized_gain",
    "currency",
    "weight_percent",
)
COLUMNS = [
    Column(key="account"),
    Column(key="symbol", wrap=False),
    Column(key="name", wrap=True, priority=5),
    Column(key="quantity", justify="right"),
    Column(key="price", justify="right", priority=3),
    Column(key="market_value", header="market value", justify="right"),
    Column(key="cost_basis", header="cost basis", justify="right", priority=4),
    Column(key="gain", header="gain", justify="right"),
    Column(key="currency", wrap=False, priority=1),
    Column(key="weight", header="weight %", justify="right", priority=2),
]
_PERCENT = Decimal("0.01")


def weight_percent(weight: Decimal | None) -> Decimal | None:
    """A weight fraction as a percentage with two decimals (``0.25`` -> ``25.00``)."""
    return None if weight is None else (weight * 100).quantize(_PERCENT)


def holding_record(row: HoldingRow) -> Record:
    """The JSON / CSV record of a holding: money exact, next to ``currency``."""
    h = row.holding
    gain = h.unrealized_gain()
    return {
        "id": h.id,
        "account_id": h.account_id,
        "account_name": row.account_name,
        "symbol": h.symbol,
        "security_name": h.security_name,
        "asset_type": h.asset_type,
        "quantity": h.quantity,
        "average_price": h.average_price,
        "current_price": h.current_price,
        "market_value": money_amount(h.market_value),
        "cost_basis": money_amount(h.cost_basis),
        "unrealized_gain": money_amount(gain),
        "currency": h.market_value.currency if h.market_value else h.currency,
        "weight_percent": weight_percent(row.weight),
    }


def _table_row(row: HoldingRow) -> Record:
    h = row.holding
    weight = weight_percent(row.weight)
    return {
        "account": row.account_name,
        "symbol": h.symbol,
        "name": h.security_name,
        "quantity": f"{h.quantity:,f}",
        "price": amount_text(h.current_price, places=None),
        "market_value": amount_text(money_amount(h.market_value)),
        "cost_basis": amount_text(money_amount(h.cost_basis)),
        "gain": amount_text(money_amount(h.unrealized_gain())),
        "currency": h.market_value.currency if h.market_value else h.currency,
        "weight": "" if weight is None else str(weight),
        "id": short_id(h.id),
    }


@app.command("list")
def list_(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account (id prefix).")
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List active holdings with market value, cost basis, unrealised gain and weight.

    A holding's weight is its share of its account's total market value (same currency).
    """
    from dashtam_cli.application.queries import HoldingList

    overview: HoldingsOverview = execute(
        ctx, HoldingList(account_ref=account), as_json=fmt is OutputFormat.JSON
    )
    emit_list(
        [holding_record(r) for r in overview.holdings],
        FIELDS,
        fmt=fmt,
        table_rows=[_table_row(r) for r in overview.holdings],
        table_columns=COLUMNS,
        title="Holdings",
        empty="No holdings.",
    )
    if fmt is OutputFormat.TABLE and overview.holdings:
        s = overview.summary
        print_totals(
            [
                ("Market value", s.market_value),
                ("Cost basis", s.cost_basis),
                ("Unrealised gain", s.unrealized_gain),
            ]
        )
