"""The Typer application: one sub-app per resource, every command a thin call into the bus.

Command groups are loaded lazily: ``dashtam --help`` lists them from the table below without
importing or building them, and ``dashtam accounts list`` builds only the ``accounts`` group.
Typer otherwise inspects the signature of every command of every group on each start.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from dashtam_cli import __version__
from dashtam_cli.presentation.cli import sync, system
from dashtam_cli.presentation.cli.context import CliState, ServicesFactory

HELP = """Dashtam: your brokerage and bank data, synced into a database you own.

Start with `dashtam demo` (no bank account needed) or `dashtam init`."""

#: Lazily loaded command groups, in help order: name -> (module, one-line help).
GROUPS: dict[str, tuple[str, str]] = {
    "providers": (
        "providers",
        "Provider connections (logins): list, show, connect, refresh, rename, disconnect.",
    ),
    "accounts": ("accounts", "Accounts at your providers, with totals and net worth."),
    "transactions": ("transactions", "Your transaction history, newest first."),
    "holdings": ("holdings", "Positions held in your accounts."),
    "balances": ("balances", "Balances over time, from the snapshot every sync writes."),
    "export": ("export", "Export transactions, accounts or holdings as CSV or JSON."),
    "audit": ("audit", "The append-only audit trail of every state-changing action."),
    "db": ("db", "Database schema: upgrade it, or show its revision."),
    "keys": ("keys", "The data key that encrypts stored provider secrets."),
}


class LazyGroup(TyperGroup):
    """The root group: builds a command group only when it is invoked."""

    def list_commands(self, ctx: Any) -> list[str]:
        """Eager commands first, then the lazy groups."""
        return [*super().list_commands(ctx), *(n for n in GROUPS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, importing and building a lazy group on first use."""
        if cmd_name not in self.commands and cmd_name in GROUPS:
            module = importlib.import_module(f"dashtam_cli.presentation.cli.{GROUPS[cmd_name][0]}")
            sub: typer.Typer = module.app
            # The same plain help and no completion options as the root, without Rich imports.
            sub.rich_markup_mode = None
            sub._add_completion = False
            command = typer.main.get_group(sub)  # a group even with one command (audit list)
            command.name = cmd_name
            self.commands[cmd_name] = command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """List every command; lazy groups show their one-line help without being built."""
        rows = []
        for name in self.list_commands(ctx):
            built = self.commands.get(name)
            if built is not None:
                if built.hidden:
                    continue
                rows.append((name, built.get_short_help_str(formatter.width - 6 - len(name))))
            else:
                rows.append((name, GROUPS[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dashtam {__version__}")
        raise typer.Exit


def create_app(open_services: ServicesFactory) -> typer.Typer:
    """Build the CLI around a services factory supplied by the composition root."""
    app = typer.Typer(
        name="dashtam",
        help=HELP,
        cls=LazyGroup,
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
    return app
