"""``dashtam providers connect PROVIDER`` and ``dashtam providers refresh ID``.

The OAuth dance itself runs in the provider adapter; this module is the person's side of it:
instructions and prompts on stderr, the authorize URL on a line of its own, the pasted redirect
read from stdin. stdout carries only the result (the connection and its accounts).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dashtam_cli.presentation.cli.context import Services, execute, with_services
from dashtam_cli.presentation.cli.errors import ExitCode, render_error
from dashtam_cli.presentation.cli.options import FormatOption
from dashtam_cli.presentation.cli.render import OutputFormat, emit_json, human_duration
from dashtam_cli.presentation.cli.views import stdin_is_interactive, when_text

if TYPE_CHECKING:
    from dashtam_cli.application.handlers.login import ConnectResult, RefreshResult
    from dashtam_cli.domain.errors import Result


def _has_display() -> bool:
    """Whether a graphical browser can open here (never a text browser in the terminal)."""
    if sys.platform in {"darwin", "win32"}:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class TerminalInteraction:
    """The connect flow's conversation with the person at the terminal (stderr + stdin)."""

    def notice(self, message: str) -> None:
        """Print an instruction or remark on stderr."""
        typer.echo(message, err=True)

    def show_authorize_url(self, url: str) -> None:
        """The URL alone on its own line, with blank lines around it for easy copying."""
        typer.echo("", err=True)
        typer.echo(url, err=True)
        typer.echo("", err=True)

    def open_browser(self, url: str) -> bool:
        """Open a graphical browser; False on a headless machine or when none is found."""
        if not _has_display():
            return False
        import webbrowser

        try:
            return webbrowser.open(url, new=2)
        except webbrowser.Error:
            return False

    def ask(self, prompt: str, *, secret: bool = False) -> str | None:
        """Ask on a terminal; None when stdin is not one (cron, pipes: never block)."""
        if not stdin_is_interactive():
            return None
        # the prompt ends in ": " already: no second colon from click
        answer: str = typer.prompt(
            prompt.rstrip().removesuffix(":"),
            hide_input=secret,
            err=True,
            default="",
            show_default=False,
        )
        return answer.strip() or None

    def read_redirect(self, prompt: str) -> str | None:
        """Read one pasted line from stdin (a terminal or a pipe); None at end of input only."""
        sys.stderr.write(prompt)
        sys.stderr.flush()
        line = sys.stdin.readline() if sys.stdin is not None else ""
        if not line:
            return None  # end of input
        return line.strip()  # an empty line is asked again by the flow


def connect(
    ctx: typer.Context,
    provider: Annotated[
        str, typer.Argument(metavar="PROVIDER", help="The provider to log in to: schwab.")
    ],
    alias: Annotated[
        str | None,
        typer.Option(help="Name for a new connection (default: the provider's name)."),
    ] = None,
    no_browser: Annotated[
        bool,
        typer.Option(
            "--no-browser", help="Print the login URL instead of opening a browser; still listen."
        ),
    ] = False,
    manual: Annotated[
        bool,
        typer.Option(
            "--manual",
            help="Paste the redirected URL (or the code) instead of listening: for SSH/headless.",
        ),
    ] = False,
    callback_url: Annotated[
        str | None,
        typer.Option(
            "--callback-url",
            help="The callback URL registered with the app (default DASHTAM_SCHWAB_CALLBACK_URL).",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the browser redirect.")
    ] = 300.0,
    no_sync: Annotated[
        bool, typer.Option("--no-sync", help="Do not run the first sync after logging in.")
    ] = False,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Log in to a provider in your browser and store the tokens encrypted.

    Re-connecting a login that already has a connection re-activates that connection (its
    accounts and history stay). Then runs a first sync, unless --no-sync.
    """
    from dashtam_cli.application.commands import ConnectProvider, SyncConnections
    from dashtam_cli.domain.errors import Failure
    from dashtam_cli.domain.providers import AuthorizationMode, AuthorizationOptions
    from dashtam_cli.presentation.cli.sync import exit_for, print_report, report_document, run_sync

    as_json = fmt is OutputFormat.JSON
    mode = (
        AuthorizationMode.MANUAL
        if manual
        else AuthorizationMode.NO_BROWSER
        if no_browser
        else AuthorizationMode.BROWSER
    )
    command = ConnectProvider(
        provider=provider.strip().lower(),
        alias=alias,
        interaction=TerminalInteraction(),
        options=AuthorizationOptions(mode=mode, callback_url=callback_url, timeout=timeout),
    )

    async def work(services: Services) -> tuple[Any, Any]:
        connected: Result[ConnectResult] = await services.bus.execute(command)
        if isinstance(connected, Failure) or no_sync:
            return connected, None
        progress = not as_json and sys.stderr.isatty()
        sync_command = SyncConnections(connection_ref=str(connected.value.connection.id))
        return connected, await run_sync(services, sync_command, progress=progress)

    connected, synced = with_services(ctx, work, as_json=as_json)
    if isinstance(connected, Failure):
        raise typer.Exit(int(render_error(connected.error, as_json=as_json)))
    result: ConnectResult = connected.value
    code = int(ExitCode.OK)
    if isinstance(synced, Failure):
        code = int(render_error(synced.error, as_json=as_json))
        synced = None
    elif synced is not None:
        code = exit_for(synced.value, as_json=as_json)
    connection = result.connection
    if as_json:
        from dashtam_cli.application.queries import ProviderDetail
        from dashtam_cli.presentation.cli.providers import connection_document

        view = execute(ctx, ProviderDetail(ref=str(connection.id)), as_json=True)
        emit_json(
            {
                "created": result.created,
                "previous_status": result.previous_status,
                "accounts_seen": result.accounts_seen,
                "connection": connection_document(view),
                "sync": report_document(synced.value) if synced is not None else None,
            }
        )
        raise typer.Exit(code)
    verb = "Connected" if result.created else "Re-connected"
    typer.echo(
        f"{verb} {connection.alias!r} ({connection.provider}): the login sees "
        f"{result.accounts_seen} account(s); it lasts until "
        f"{when_text(connection.refresh_expires_at)}.",
        err=True,
    )
    if not result.created and alias is not None and alias.strip() != connection.alias:
        # --alias names a new connection; this login already had one
        typer.echo(
            f"note: the login already had the connection {connection.alias!r}, which keeps "
            f"its name; to rename it: dashtam providers rename {connection.alias} "
            f"{alias.strip()}",
            err=True,
        )
    if synced is not None:
        print_report(synced.value)
    from dashtam_cli.presentation.cli.providers import show

    show(ctx, str(connection.id), OutputFormat.TABLE)
    raise typer.Exit(code)


def refresh(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(metavar="ID", help="The connection's alias or a unique id prefix.")
    ],
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Refresh a connection's access token now and show the new expiries.

    The access token (30 minutes at Schwab) is refreshed automatically by every command; this
    checks that the login still works. It cannot extend the login itself (7 days at Schwab).
    """
    from dashtam_cli.application.commands import RefreshConnection

    done: RefreshResult = execute(
        ctx, RefreshConnection(connection_ref=ref), as_json=fmt is OutputFormat.JSON
    )
    connection = done.connection
    left = None
    if done.refresh_expires_at is not None:
        from datetime import UTC, datetime

        left = done.refresh_expires_at - datetime.now(UTC)
    if fmt is not OutputFormat.TABLE:
        emit_json(
            {
                "id": connection.id,
                "alias": connection.alias,
                "provider": connection.provider,
                "status": connection.status,
                "access_expires_at": done.access_expires_at,
                "refresh_expires_at": done.refresh_expires_at,
                "refresh_seconds_left": left,
            }
        )
        return
    ends = human_duration(left)
    typer.echo(
        f"Refreshed {connection.alias!r}: the access token is valid until "
        f"{when_text(done.access_expires_at)}; the login expires "
        f"{when_text(done.refresh_expires_at)} "
        f"({'it has ended: log in again' if ends == 'expired' else f'{ends} left'})."
    )
