"""``dashtam accounts list|show``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dashtam_cli.presentation.cli.context import execute
from dashtam_cli.presentation.cli.options import FormatOption
from dashtam_cli.presentation.cli.render import Column, OutputFormat
from dashtam_cli.presentation.cli.views import (
    Record,
    amount_text,
    emit_list,
    emit_show,
    key_value_table,
    money_amount,
    note,
    print_totals,
    short_id,
    totals_text,
    when_text,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from dashtam_cli.application.queries import (
        AccountsOverview,
        AccountSummary,
        AccountView,
        HoldingsSummary,
    )
    from dashtam_cli.domain.holdings import BalanceSnapshot

app = typer.Typer(
    help="Accounts at your providers, with totals and net worth.", no_args_is_help=True
)

#: The JSON / CSV fields of an account (``accounts list``).
FIELDS = (
    "id",
    "name",
    "account_type",
    "account_number_masked",
    "connection_id",
    "connection_alias",
    "provider",
    "balance",
    "available_balance",
    "cash_balance",
    "net_worth_contribution",
    "currency",
    "is_active",
    "last_synced_at",
    "created_at",
    "updated_at",
)
COLUMNS = [
    Column(key="name", wrap=True),
    Column(key="type", wrap=False, priority=2),
    Column(key="number", wrap=False),
    Column(key="connection", priority=3),
    Column(key="balance", justify="right"),
    Column(key="currency", wrap=False, priority=1),
    Column(key="active", wrap=False),
    Column(key="last_synced", header="last synced", wrap=False, priority=5),
    Column(key="id", wrap=False, priority=4),
]


def account_record(summary: AccountSummary) -> Record:
    """The JSON / CSV record of an account: amounts are exact, next to ``currency``.

    The full account number and the provider's raw payload are never part of it.
    """
    a = summary.account
    return {
        "id": a.id,
        "name": a.name,
        "account_type": a.account_type,
        "account_number_masked": a.account_number_masked,
        "connection_id": a.connection_id,
        "connection_alias": summary.connection_alias,
        "provider": summary.provider,
        "balance": a.balance.amount,
        "available_balance": money_amount(a.available_balance),
        "cash_balance": money_amount(a.cash_balance),
        "net_worth_contribution": a.net_worth_contribution().amount,
        "currency": a.balance.currency,
        "is_active": a.is_active,
        "last_synced_at": a.last_synced_at,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


def _table_row(summary: AccountSummary) -> Record:
    a = summary.account
    return {
        "name": a.name,
        "type": a.account_type.value,
        "number": a.account_number_masked,
        "connection": summary.connection_alias,
        "balance": amount_text(a.balance.amount),
        "currency": a.balance.currency,
        "active": a.is_active,
        "last_synced": when_text(a.last_synced_at) or "never",
        "id": short_id(a.id),
    }


@app.command("list")
def list_(
    ctx: typer.Context,
    connection: Annotated[
        str | None,
        typer.Option("--connection", "-c", help="Only this connection (alias or id prefix)."),
    ] = None,
    include_inactive: Annotated[
        bool, typer.Option("--all", "-a", help="Include accounts the provider no longer reports.")
    ] = False,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List accounts (active ones unless --all) with totals and net worth per currency.

    Net worth subtracts what credit cards, lines of credit, loans and mortgages owe.
    """
    from dashtam_cli.application.queries import AccountList

    query = AccountList(connection_ref=connection, include_inactive=include_inactive)
    overview: AccountsOverview = execute(ctx, query, as_json=fmt is OutputFormat.JSON)
    empty = "No accounts." if include_inactive else "No active accounts (--all shows every one)."
    print_overview(overview, fmt=fmt, empty=empty)


def print_overview(
    overview: AccountsOverview,
    *,
    fmt: OutputFormat = OutputFormat.TABLE,
    empty: str = "No accounts.",
) -> None:
    """Render an ``AccountsOverview``: the table with its totals and net worth, or JSON/CSV rows."""
    # Fit 80 columns: show the connection only when there are several, "active" only with --all.
    columns = [
        c
        for c in COLUMNS
        if (c.key != "connection" or len({s.connection_alias for s in overview.accounts}) > 1)
        and (c.key != "active" or not all(s.account.is_active for s in overview.accounts))
    ]
    emit_list(
        [account_record(s) for s in overview.accounts],
        FIELDS,
        fmt=fmt,
        table_rows=[_table_row(s) for s in overview.accounts],
        table_columns=columns,
        title="Accounts",
        empty=empty,
    )
    if fmt is OutputFormat.TABLE and overview.accounts:
        # what is owned and what is owed, apart: a card's balance is a debt, not money to add
        print_totals(
            [
                ("Assets", overview.assets),
                ("Liabilities", overview.liabilities),
                ("Net worth", overview.net_worth),
            ]
        )


def _holdings_record(summary: HoldingsSummary) -> Record:
    currencies = sorted(
        summary.market_value.keys() | summary.cost_basis.keys() | summary.unrealized_gain.keys()
    )
    return {
        "count": summary.count,
        "totals": [
            {
                "currency": code,
                "market_value": money_amount(summary.market_value.get(code)),
                "cost_basis": money_amount(summary.cost_basis.get(code)),
                "unrealized_gain": money_amount(summary.unrealized_gain.get(code)),
            }
            for code in currencies
        ],
    }


def _snapshot_record(snapshot: BalanceSnapshot | None) -> Record | None:
    if snapshot is None:
        return None
    return {
        "captured_at": snapshot.captured_at,
        "balance": snapshot.balance.amount,
        "cash_value": money_amount(snapshot.cash_value),
        "holdings_value": money_amount(snapshot.holdings_value),
        "currency": snapshot.balance.currency,
        "source": snapshot.source,
    }


@app.command()
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="ID", help="A unique prefix of the account id.")],
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Show one account: balances, its holdings' totals and its latest balance snapshot."""
    from dashtam_cli.application.queries import AccountDetail

    view: AccountView = execute(ctx, AccountDetail(ref=ref), as_json=fmt is OutputFormat.JSON)
    record = account_record(view.summary)
    record["holdings"] = _holdings_record(view.holdings)
    record["latest_snapshot"] = _snapshot_record(view.latest_snapshot)
    if emit_show(record, fmt=fmt):
        return
    a = view.summary.account
    code = a.balance.currency

    def money(value: Decimal | None) -> str:
        return "" if value is None else f"{amount_text(value)} {code}"

    pairs = [
        ("name", a.name),
        ("type", a.account_type.value + (" (liability)" if a.account_type.is_liability else "")),
        ("number", a.account_number_masked),
        ("connection", f"{view.summary.connection_alias} ({view.summary.provider})"),
        ("balance", money(a.balance.amount)),
        ("available", money(money_amount(a.available_balance))),
        ("cash", money(money_amount(a.cash_balance))),
        ("in net worth", money(a.net_worth_contribution().amount)),
        ("active", "yes" if a.is_active else "no (the provider no longer reports it)"),
        ("last synced", str(a.last_synced_at or "never")),
        ("id", str(a.id)),
    ]
    h = view.holdings
    pairs.append(("holdings", f"{h.count} active"))
    if h.count:
        pairs += [
            ("market value", totals_text(h.market_value)),
            ("cost basis", totals_text(h.cost_basis)),
            ("unrealised gain", totals_text(h.unrealized_gain)),
        ]
    snap = view.latest_snapshot
    if snap is not None:
        pairs.append(
            (
                "latest snapshot",
                f"{snap.captured_at.isoformat(timespec='seconds')}  "
                f"{amount_text(snap.balance.amount)} {snap.balance.currency} ({snap.source.value})",
            )
        )
    key_value_table(pairs, title=f"Account {a.name}")
    if h.count:
        note(f"dashtam holdings list --account {short_id(a.id)} shows the positions")
