"""``dashtam keys rotate``."""

from __future__ import annotations

from typing import Any

import typer

from dashtam_cli.presentation.cli.context import execute
from dashtam_cli.presentation.cli.options import FormatOption
from dashtam_cli.presentation.cli.render import OutputFormat, console, emit_json

app = typer.Typer(help="The data key that encrypts stored provider secrets.", no_args_is_help=True)


@app.command()
def rotate(ctx: typer.Context, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """Re-encrypt every stored secret under a new data key, then retire the old key."""
    from dashtam_cli.application.commands import RotateKeys

    report: Any = execute(ctx, RotateKeys(), as_json=fmt is OutputFormat.JSON)
    document = {
        "old_version": report.old_version,
        "new_version": report.new_version,
        "credentials_reencrypted": report.credentials_reencrypted,
        "secrets_reencrypted": report.secrets_reencrypted,
        "retired_versions": list(report.retired_versions),
    }
    if fmt is not OutputFormat.TABLE:
        emit_json(document)
        return
    console().print(
        f"Data key rotated: v{report.old_version} -> v{report.new_version}; "
        f"{report.credentials_reencrypted} connection credential(s) and "
        f"{report.secrets_reencrypted} stored secret(s) re-encrypted; "
        f"retired: {', '.join(f'v{v}' for v in report.retired_versions) or 'none'}."
    )
