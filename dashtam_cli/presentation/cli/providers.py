"""``dashtam providers list|show|connect|rename|disconnect|refresh``.

``connect`` and ``refresh`` (the login flows) live in :mod:`.login` and register on this ``app``.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Annotated

import typer

from dashtam_cli.domain.errors import DomainError, ErrorCode
from dashtam_cli.presentation.cli.context import execute
from dashtam_cli.presentation.cli.errors import render_error
from dashtam_cli.presentation.cli.options import FormatOption
from dashtam_cli.presentation.cli.render import (
    Column,
    OutputFormat,
    console,
    emit_json,
    emit_rows,
    human_duration,
)
from dashtam_cli.presentation.cli.views import (
    Record,
    amount_text,
    emit_list,
    emit_show,
    key_value_table,
    safe_text,
    short_id,
    stdin_is_interactive,
    when_text,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dashtam_cli.application.handlers.connections import (
        ConnectionDisconnected,
        ConnectionRenamed,
    )
    from dashtam_cli.application.queries import ConnectionSummary, ConnectionView
    from dashtam_cli.domain.accounts import Account

app = typer.Typer(
    help="Provider connections (logins): list, show, connect, rename, disconnect, refresh.",
    no_args_is_help=True,
)

#: The JSON / CSV fields of a connection (``providers list``).
FIELDS = (
    "id",
    "alias",
    "provider",
    "status",
    "connected_at",
    "last_sync_at",
    "last_sync_status",
    "access_expires_at",
    "refresh_expires_at",
    "refresh_seconds_left",
    "expiring_soon",
    "action",
    "accounts_count",
    "active_accounts_count",
    "created_at",
    "updated_at",
)
COLUMNS = [
    Column(key="alias"),
    Column(key="provider"),
    Column(key="status"),
    Column(key="last_sync", header="last sync"),
    Column(key="last_sync_status", header="result"),
    Column(key="accounts", justify="right"),
    Column(key="login_expires_in", header="login expires in"),
    Column(key="id"),
]

ConnectionRef = Annotated[
    str, typer.Argument(metavar="ID", help="The connection's alias or a unique id prefix.")
]


def connection_record(summary: ConnectionSummary) -> Record:
    """The JSON / CSV record of a connection (never its credentials)."""
    return {
        "id": summary.id,
        "alias": summary.alias,
        "provider": summary.provider,
        "status": summary.status,
        "connected_at": summary.connected_at,
        "last_sync_at": summary.last_sync_at,
        "last_sync_status": summary.last_sync_status,
        "access_expires_at": summary.access_expires_at,
        "refresh_expires_at": summary.refresh_expires_at,
        "refresh_seconds_left": summary.refresh_time_left,
        "expiring_soon": summary.expiring_soon,
        "action": summary.action,
        "accounts_count": summary.accounts_count,
        "active_accounts_count": summary.active_accounts_count,
        "created_at": summary.created_at,
        "updated_at": summary.updated_at,
    }


def _table_row(summary: ConnectionSummary) -> Record:
    return {
        "alias": summary.alias,
        "provider": summary.provider,
        "status": summary.status,
        "last_sync": summary.last_sync_at or "never",
        "last_sync_status": summary.last_sync_status,
        "accounts": summary.accounts_count,
        "login_expires_in": human_duration(summary.refresh_time_left),
        "id": short_id(summary.id),
    }


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """List every connection (disconnected ones too), oldest first."""
    from dashtam_cli.application.queries import ProviderList

    summaries: Sequence[ConnectionSummary] = execute(
        ctx, ProviderList(), as_json=fmt is OutputFormat.JSON
    )
    emit_list(
        [connection_record(s) for s in summaries],
        FIELDS,
        fmt=fmt,
        table_rows=[_table_row(s) for s in summaries],
        table_columns=COLUMNS,
        title="Connections",
        empty="No connections yet: try `dashtam demo`.",
    )
    if fmt is OutputFormat.TABLE:
        for s in summaries:
            if s.action:
                console().print(
                    f"[yellow]warning[/yellow]: {safe_text(s.alias)}: {safe_text(s.action)}"
                )


def _account_record(account: Account) -> Record:
    return {
        "id": account.id,
        "name": account.name,
        "account_type": account.account_type,
        "account_number_masked": account.account_number_masked,
        "balance": account.balance.amount,
        "currency": account.balance.currency,
        "is_active": account.is_active,
    }


def connection_document(view: ConnectionView) -> Record:
    """A connection with its accounts, as ``providers show --format json`` prints it."""
    record = connection_record(view.summary)
    record["accounts"] = [_account_record(a) for a in view.accounts]
    return record


@app.command()
def show(ctx: typer.Context, ref: ConnectionRef, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """Show one connection: status, last sync, login expiry and its accounts."""
    from dashtam_cli.application.queries import ProviderDetail

    view: ConnectionView = execute(ctx, ProviderDetail(ref=ref), as_json=fmt is OutputFormat.JSON)
    if emit_show(connection_document(view), fmt=fmt):
        return
    s = view.summary
    key_value_table(
        [
            ("alias", s.alias),
            ("provider", s.provider),
            ("status", s.status.value),
            ("connected", when_text(s.connected_at)),
            (
                "last sync",
                f"{when_text(s.last_sync_at) or 'never'} {s.last_sync_status or ''}".strip(),
            ),
            ("login expires", f"{when_text(s.refresh_expires_at)} {_left(s)}".strip()),
            ("accounts", f"{s.accounts_count} ({s.active_accounts_count} active)"),
            ("id", str(s.id)),
        ],
        title=f"Connection {s.alias}",
    )
    if s.action:
        console().print(f"[yellow]to do[/yellow]: {safe_text(s.action)}")
    if view.accounts:
        emit_rows(
            [
                (
                    {
                        "name": a.name,
                        "type": a.account_type.value,
                        "number": a.account_number_masked,
                        "balance": amount_text(a.balance.amount),
                        "currency": a.balance.currency,
                        "active": a.is_active,
                        "id": short_id(a.id),
                    }
                )
                for a in view.accounts
            ],
            [
                Column(key="name", wrap=True),
                Column(key="type"),
                Column(key="number"),
                Column(key="balance", justify="right"),
                Column(key="currency"),
                Column(key="active"),
                Column(key="id"),
            ],
            fmt=fmt,
            title="Accounts",
        )


def _left(summary: ConnectionSummary) -> str:
    left = human_duration(summary.refresh_time_left)
    return f"({left} left)" if left and left != "expired" else f"({left})" if left else ""


@app.command()
def rename(
    ctx: typer.Context,
    ref: ConnectionRef,
    alias: Annotated[str, typer.Argument(metavar="ALIAS", help="The new alias (unique).")],
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Give a connection a new alias (must not be used by another connection)."""
    from dashtam_cli.application.commands import RenameConnection

    done: ConnectionRenamed = execute(
        ctx, RenameConnection(connection_ref=ref, alias=alias), as_json=fmt is OutputFormat.JSON
    )
    if fmt is not OutputFormat.TABLE:
        emit_json(
            {
                "id": done.id,
                "provider": done.provider,
                "old_alias": done.old_alias,
                "new_alias": done.new_alias,
                "changed": done.changed,
            }
        )
        return
    if done.changed:
        typer.echo(f"Renamed {done.old_alias!r} to {done.new_alias!r}.")
    else:
        typer.echo(f"The connection is already called {done.new_alias!r}; nothing changed.")


@app.command()
def disconnect(
    ctx: typer.Context,
    ref: ConnectionRef,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (needed off a TTY).")
    ] = False,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Delete a connection's credentials; its accounts and history are kept.

    Asks for confirmation on a terminal; anywhere else (cron, pipes) it refuses without --yes.
    """
    from dashtam_cli.application.commands import DisconnectConnection

    as_json = fmt is OutputFormat.JSON
    if not yes:
        ref = _confirm(ctx, ref, as_json=as_json)
    done: ConnectionDisconnected = execute(
        ctx, DisconnectConnection(connection_ref=ref), as_json=as_json
    )
    if fmt is not OutputFormat.TABLE:
        emit_json(
            {
                "id": done.id,
                "alias": done.alias,
                "provider": done.provider,
                "status": "disconnected",
                "accounts_kept": done.accounts_kept,
            }
        )
        return
    typer.echo(
        f"Disconnected {done.alias!r}: credentials deleted; "
        f"{done.accounts_kept} account(s) and their history kept."
    )


def _confirm(ctx: typer.Context, ref: str, *, as_json: bool) -> str:
    """Ask on a terminal; refuse elsewhere. Returns the full id of the confirmed connection."""
    from dashtam_cli.application.queries import ProviderDetail
    from dashtam_cli.domain.connections import ConnectionStatus

    if not stdin_is_interactive():
        error = DomainError(
            code=ErrorCode.INVALID_ARGUMENT,
            message="refusing to disconnect without confirmation: standard input is not a terminal",
            hint=f"dashtam providers disconnect {shlex.quote(ref)} --yes",
        )
        raise typer.Exit(int(render_error(error, as_json=as_json)))
    view: ConnectionView = execute(ctx, ProviderDetail(ref=ref), as_json=as_json)
    s = view.summary
    if s.status is ConnectionStatus.DISCONNECTED:
        return str(s.id)  # the command reports that there is nothing to do
    question = (
        f"Disconnect {s.alias!r} ({s.provider}, {s.accounts_count} account(s))? "
        "Its credentials are deleted; accounts and history are kept."
    )
    if not typer.confirm(question, default=False, err=True):
        typer.echo("Nothing changed.", err=True)
        raise typer.Exit(0)
    return str(s.id)


def _register_login_commands() -> None:
    from dashtam_cli.presentation.cli.login import connect, refresh

    app.command()(connect)
    app.command()(refresh)


_register_login_commands()
