"""``dashtam transactions list|show``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dashtam_cli.presentation.cli.context import execute
from dashtam_cli.presentation.cli.options import FormatOption, parse_date
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
)

if TYPE_CHECKING:
    from dashtam_cli.application.queries import TransactionRow, TransactionsPage, TransactionView
    from dashtam_cli.domain.transactions import Transaction

app = typer.Typer(help="Your transaction history, newest first.", no_args_is_help=True)

#: The JSON / CSV fields of a transaction (``transactions list``).
FIELDS = (
    "id",
    "account_id",
    "account_name",
    "transaction_date",
    "settlement_date",
    "transaction_type",
    "subtype",
    "status",
    "amount",
    "fees",
    "currency",
    "description",
    "asset_type",
    "symbol",
    "security_name",
    "quantity",
    "unit_price",
)
COLUMNS = [
    Column(key="date", wrap=False),
    Column(key="account", priority=3),
    Column(key="type", wrap=False, priority=1),
    Column(key="status", wrap=False, priority=5),
    Column(key="symbol", wrap=False, priority=6),
    Column(key="description", wrap=True),
    Column(key="quantity", justify="right", priority=7),
    Column(key="amount", justify="right"),
    Column(key="currency", wrap=False, priority=4),
    # kept long: `transactions show` takes it
    Column(key="id", wrap=False, priority=2),
]
TYPE_HELP = (
    "A type (trade, transfer, income, fee, other) or a subtype "
    "(buy, sell, dividend, interest, deposit, withdrawal, commission, ...)."
)


def transaction_record(txn: TransactionRow | Transaction, account_name: str | None) -> Record:
    """The JSON / CSV record of a transaction: amount and fees exact, next to ``currency``."""
    return {
        "id": txn.id,
        "account_id": txn.account_id,
        "account_name": account_name,
        "transaction_date": txn.transaction_date,
        "settlement_date": txn.settlement_date,
        "transaction_type": txn.transaction_type,
        "subtype": txn.subtype,
        "status": txn.status,
        "amount": txn.amount.amount,
        "fees": money_amount(txn.fees),
        "currency": txn.amount.currency,
        "description": txn.description,
        "asset_type": txn.asset_type,
        "symbol": txn.symbol,
        "security_name": txn.security_name,
        "quantity": txn.quantity,
        "unit_price": txn.unit_price,
    }


def _table_row(txn: TransactionRow) -> Record:
    return {
        "date": txn.transaction_date,
        "account": txn.account_name,
        "type": txn.subtype.value,
        "status": txn.status.value,
        "symbol": txn.symbol,
        "description": txn.description,
        "quantity": "" if txn.quantity is None else f"{txn.quantity:,f}",
        "amount": amount_text(txn.amount.amount),
        "currency": txn.amount.currency,
        "id": short_id(txn.id),
    }


@app.command("list")
def list_(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account (id prefix).")
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option("--connection", "-c", help="Only this connection (alias or id prefix)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="On or after this date (YYYY-MM-DD).", metavar="DATE")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="On or before this date (YYYY-MM-DD).", metavar="DATE")
    ] = None,
    kind: Annotated[str | None, typer.Option("--type", metavar="T", help=TYPE_HELP)] = None,
    symbol: Annotated[
        str | None, typer.Option(help="Only this symbol (any case).", metavar="S")
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            help="Text in the description, symbol or security name (any case; scans rows).",
            metavar="TEXT",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="At most this many rows (newest first).")
    ] = 50,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List transactions, newest first, with the total of the rows shown per currency."""
    from dashtam_cli.application.queries import TransactionFilter, TransactionList

    filters = TransactionFilter(
        account_ref=account,
        connection_ref=connection,
        since=parse_date(since, as_json=fmt is OutputFormat.JSON),
        until=parse_date(until, option="--until", as_json=fmt is OutputFormat.JSON),
        transaction_type=kind,
        symbol=symbol,
        search=search,
    )
    query = TransactionList(filters=filters, limit=limit)
    page: TransactionsPage = execute(ctx, query, as_json=fmt is OutputFormat.JSON)
    emit_list(
        [transaction_record(t, t.account_name) for t in page.transactions],
        FIELDS,
        fmt=fmt,
        table_rows=[_table_row(t) for t in page.transactions],
        table_columns=COLUMNS,
        title="Transactions",
        empty="No transactions match.",
    )
    if fmt is OutputFormat.TABLE and page.transactions:
        shown = len(page.transactions)
        print_totals([(f"Total of the {shown} shown", page.totals)])
        if page.has_more:
            note(f"More transactions match: showing the newest {shown} (raise --limit).")


@app.command()
def show(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(metavar="ID", help="A unique prefix of the transaction id.")
    ],
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Show one transaction with every field (never the provider's raw payload)."""
    from dashtam_cli.application.queries import TransactionDetail

    view: TransactionView = execute(
        ctx, TransactionDetail(ref=ref), as_json=fmt is OutputFormat.JSON
    )
    t = view.transaction
    record = transaction_record(t, view.account_name)
    record.update(
        {
            "connection_alias": view.connection_alias,
            "provider_transaction_id": t.provider_transaction_id,
            "posted_at": t.posted_at,
            "created_at": t.created_at,
            "updated_at": t.updated_at,
        }
    )
    if emit_show(record, fmt=fmt):
        return
    code = t.amount.currency
    pairs = [
        ("date", t.transaction_date.isoformat()),
        ("settles", t.settlement_date.isoformat() if t.settlement_date else ""),
        ("type", f"{t.transaction_type.value} / {t.subtype.value}"),
        ("status", t.status.value),
        ("amount", f"{amount_text(t.amount.amount)} {code}"),
        ("fees", f"{amount_text(t.fees.amount)} {code}" if t.fees else ""),
        ("description", t.description),
        ("symbol", t.symbol or ""),
        ("security", t.security_name or ""),
        ("asset type", t.asset_type.value if t.asset_type else ""),
        ("quantity", "" if t.quantity is None else f"{t.quantity:,f}"),
        ("unit price", "" if t.unit_price is None else f"{t.unit_price:,f}"),
        ("account", f"{view.account_name} ({short_id(t.account_id)})"),
        ("connection", view.connection_alias),
        ("provider id", t.provider_transaction_id),
        ("posted", t.posted_at.isoformat() if t.posted_at else ""),
        ("id", str(t.id)),
    ]
    key_value_table([(k, v) for k, v in pairs if v], title="Transaction")
