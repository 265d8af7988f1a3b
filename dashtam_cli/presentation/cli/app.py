"""The Typer application: one sub-app per resource, every command a thin call into the bus.

Commands are loaded lazily: ``dashtam --help`` lists the groups from the table below without
importing or building them, and ``dashtam accounts list`` builds only the ``accounts`` group (not
even ``init``, ``sync``... whose modules it never imports). Typer otherwise inspects the signature
of every command of every group on each start.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from dashtam_cli import __version__
from dashtam_cli.presentation.cli.context import CliState, ServicesFactory

HELP = """Dashtam: your brokerage and bank data, synced into a database you own.

Start with `dashtam demo` (no bank account needed) or `dashtam init`."""

#: Top-level commands, in help order: name -> (module, function). Built when run or listed.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("system", "init"),
    "demo": ("sync", "demo"),
    "sync": ("sync", "sync"),
    "status": ("system", "status"),
    "tui": ("dashboard", "tui"),
}

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


def _module(name: str) -> Any:
    return importlib.import_module(f"dashtam_cli.presentation.cli.{name}")


def _build_command(name: str) -> Any:
    """One top-level command, built by Typer on its own (plain help, no completion options)."""
    module, function = COMMANDS[name]
    single = typer.Typer(rich_markup_mode=None, add_completion=False)
    single.command(name)(getattr(_module(module), function))
    return typer.main.get_command(single)  # one command and no callback: the command itself


class LazyGroup(TyperGroup):
    """The root group: builds a command or a command group only when it is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        """Registered commands first, then the lazy commands and groups, in help order."""
        eager = super().list_commands(ctx)
        return [*eager, *(n for n in (*COMMANDS, *GROUPS) if n not in eager)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, importing and building a lazy command or group on first use."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = _build_command(cmd_name)
        elif cmd_name not in self.commands and cmd_name in GROUPS:
            sub: typer.Typer = _module(GROUPS[cmd_name][0]).app
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
            if built is None and name in COMMANDS:
                built = self.get_command(ctx, name)  # its help is its docstring
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

    return app
