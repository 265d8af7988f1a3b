"""``dashtam db upgrade|current``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from dashtam_cli.presentation.cli.context import execute
from dashtam_cli.presentation.cli.options import FormatOption
from dashtam_cli.presentation.cli.render import OutputFormat, console, emit_json

if TYPE_CHECKING:
    from dashtam_cli.application.ports import DatabaseInfo
    from dashtam_cli.application.queries import StatusReport

app = typer.Typer(help="Database schema: upgrade it, or show its revision.", no_args_is_help=True)


def _document(info: DatabaseInfo) -> dict[str, object]:
    return {
        "backend": info.backend,
        "location": info.location,
        "revision": info.revision,
        "head": info.head,
        "up_to_date": info.up_to_date,
    }


@app.command()
def upgrade(ctx: typer.Context, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """Apply pending schema migrations (safe to run again)."""
    from dashtam_cli.application.commands import UpgradeDatabase

    info: DatabaseInfo = execute(ctx, UpgradeDatabase(), as_json=fmt is OutputFormat.JSON)
    if fmt is OutputFormat.TABLE:
        console().print(f"{info.backend} database at revision {info.revision} (head)")
    else:
        emit_json(_document(info))


@app.command()
def current(ctx: typer.Context, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """Show the schema revision of the database and the newest one this version ships."""
    from dashtam_cli.application.queries import Status

    report: StatusReport = execute(ctx, Status(), as_json=fmt is OutputFormat.JSON)
    info = report.database
    if fmt is not OutputFormat.TABLE:
        emit_json(_document(info))
        return
    state = "up to date" if info.up_to_date else f"behind head {info.head}: run dashtam db upgrade"
    console().print(f"{info.revision or 'empty'} ({state})")
