"""``dashtam tui``: open the Textual dashboard (Textual is imported only when it runs)."""

from __future__ import annotations

import sys

import typer

from dashtam_cli.presentation.cli.context import state_of
from dashtam_cli.presentation.cli.errors import render_error


def tui(ctx: typer.Context) -> None:
    """Open the dashboard: net worth, accounts, transactions, holdings and sync.

    It reads and syncs through the same handlers as the other commands. Keys: o overview,
    t transactions, h holdings, s sync, / search, ? help, q quit; the mouse works too.
    NO_COLOR is honoured. Needs a terminal.
    """
    from dashtam_cli.domain.errors import DomainError, ErrorCode

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        error = DomainError(
            code=ErrorCode.INVALID_ARGUMENT,
            message="dashtam tui needs a terminal (standard input and output are not one)",
            hint="run it in a terminal; scripts use `dashtam accounts list --format json` etc.",
        )
        raise typer.Exit(int(render_error(error)))
    from dashtam_cli.presentation.tui.app import DashtamApp

    app = DashtamApp(state_of(ctx).open_services)
    app.run()
    if app.startup_error is not None:
        raise typer.Exit(int(render_error(app.startup_error)))
    if app.return_code:  # Textual has printed the traceback of a crash
        raise typer.Exit(app.return_code)
