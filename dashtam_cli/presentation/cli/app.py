"""The Typer application: one sub-app per resource, every command a thin call into the bus."""

from __future__ import annotations

from typing import Annotated

import typer

from dashtam_cli import __version__
from dashtam_cli.presentation.cli import (
    accounts,
    audit,
    balances,
    db,
    export,
    holdings,
    keys,
    providers,
    sync,
    system,
    transactions,
)
from dashtam_cli.presentation.cli.context import CliState, ServicesFactory

HELP = """Dashtam: your brokerage and bank data, synced into a database you own.

Start with `dashtam demo` (no bank account needed) or `dashtam init`."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dashtam {__version__}")
        raise typer.Exit


def create_app(open_services: ServicesFactory) -> typer.Typer:
    """Build the CLI around a services factory supplied by the composition root."""
    app = typer.Typer(
        name="dashtam",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # Plain help: Rich-formatted help costs ~100 ms of imports on every `--help`.
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        version: Annotated[
            bool,
            typer.Option(
                "--version", callback=_version, is_eager=True, help="Show the version and exit."
            ),
        ] = False,
    ) -> None:
        ctx.obj = CliState(open_services=open_services)

    app.command()(system.init)
    app.command()(sync.demo)
    app.command()(sync.sync)
    app.command()(system.status)
    app.add_typer(providers.app, name="providers")
    app.add_typer(accounts.app, name="accounts")
    app.add_typer(transactions.app, name="transactions")
    app.add_typer(holdings.app, name="holdings")
    app.add_typer(balances.app, name="balances")
    app.add_typer(export.app, name="export")
    app.add_typer(audit.app, name="audit")
    app.add_typer(db.app, name="db")
    app.add_typer(keys.app, name="keys")
    return app
