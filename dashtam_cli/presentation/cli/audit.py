"""``dashtam audit list``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dashtam_cli.presentation.cli.context import execute
from dashtam_cli.presentation.cli.options import FormatOption, date_start, parse_date
from dashtam_cli.presentation.cli.render import Column, OutputFormat, emit_rows

if TYPE_CHECKING:
    from dashtam_cli.application.queries import AuditPage

app = typer.Typer(help="The append-only audit trail of every state-changing action.")

COLUMNS = [
    Column(key="occurred_at", header="when"),
    Column(key="action"),
    Column(key="outcome"),
    Column(key="error_code", header="error"),
    Column(key="connection_id", header="connection"),
    Column(key="account_id", header="account"),
    Column(key="context", wrap=True),
]


@app.command("list")
def list_(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only entries on or after this date (YYYY-MM-DD).")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. sync or key_rotation.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many rows.")] = 50,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List audit entries, newest first."""
    from dashtam_cli.application.queries import AuditList

    since_day = parse_date(since, as_json=fmt is OutputFormat.JSON)
    query = AuditList(since=date_start(since_day), action=action, limit=limit)
    page: AuditPage = execute(ctx, query, as_json=fmt is OutputFormat.JSON)
    rows = [
        {
            "id": e.id,
            "occurred_at": e.occurred_at,
            "action": e.action,
            "outcome": e.outcome,
            "error_code": e.error_code,
            "connection_id": e.connection_id,
            "account_id": e.account_id,
            "event_id": e.event_id,
            "context": dict(e.context),
        }
        for e in page.entries
    ]
    columns = (
        COLUMNS
        if fmt is OutputFormat.TABLE
        else [Column(key=k) for k in rows[0]]
        if rows
        else COLUMNS
    )
    filtered = since is not None or action is not None
    empty = "No audit entries match." if filtered else "The audit trail is empty."
    emit_rows(rows, columns, fmt=fmt, title="Audit trail", empty=empty)
