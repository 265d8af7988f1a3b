"""``dashtam init`` and ``dashtam status``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from dashtam_cli.presentation.cli.context import Services, execute, with_services
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

if TYPE_CHECKING:
    from dashtam_cli.application.handlers.system import InitReport
    from dashtam_cli.application.queries import StatusReport
    from dashtam_cli.domain.errors import Result

# Application modules are imported inside the commands: `dashtam --help` must not pay for them.


def init(ctx: typer.Context, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """Create the config and data dirs, the data key and the database (safe to run again)."""
    from dashtam_cli.application.commands import InitializeWorkspace

    report: InitReport = execute(ctx, InitializeWorkspace(), as_json=fmt is OutputFormat.JSON)
    document = {
        "changed": report.changed,
        "created": list(report.created_paths),
        "database_backend": report.database.backend,
        "database_location": report.database.location,
        "schema_revision": report.database.revision,
        "secrets_backend": report.secrets_backend,
        "key_version": report.key_version,
    }
    if fmt is not OutputFormat.TABLE:
        emit_json(document)
        return
    out = console()
    if not report.changed:
        out.print("Dashtam is already initialised; nothing changed.")
    for path in report.created_paths:
        out.print(f"created  {path}")
    if report.revision_before != report.database.revision:
        before = report.revision_before or "empty"
        out.print(f"database {before} -> {report.database.revision}")
    out.print(f"database {report.database.backend}: {report.database.location}")
    out.print(f"secrets  {report.secrets_backend} (data key v{report.key_version})")
    out.print("Next: [bold]dashtam demo[/bold] for a tour, or connect a provider.")


def _status_document(report: StatusReport, services: Services) -> dict[str, object]:
    return {
        "database": {
            "backend": report.database.backend,
            "location": report.database.location,
            "schema_revision": report.database.revision,
            "schema_head": report.database.head,
            "up_to_date": report.database.up_to_date,
        },
        "secrets": {
            "backend": report.secrets.backend,
            "available": report.secrets.available,
            "detail": report.secrets.detail,
            "hint": report.secrets.hint,
        },
        "data_dir": str(services.data_dir),
        "config_dir": str(services.config_dir),
        "log_file": str(services.log_file),
        "connections": [
            {
                "id": c.id,
                "provider": c.provider,
                "alias": c.alias,
                "status": c.status,
                "last_sync_at": c.last_sync_at,
                "last_sync_status": c.last_sync_status,
                "refresh_expires_at": c.refresh_expires_at,
                "refresh_seconds_left": c.refresh_time_left,
                "expiring_soon": c.expiring_soon,
                "action": c.action,
            }
            for c in report.connections
        ],
    }


def status(ctx: typer.Context, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """Show the database, the secrets backend and every connection's health."""
    from dashtam_cli.application.queries import Status
    from dashtam_cli.domain.errors import Failure

    async def work(services: Services) -> tuple[Result[StatusReport], Services]:
        return await services.bus.execute(Status()), services

    as_json = fmt is OutputFormat.JSON
    result, services = with_services(ctx, work, as_json=as_json)
    if isinstance(result, Failure):
        raise typer.Exit(int(render_error(result.error, as_json=as_json)))
    if fmt is OutputFormat.JSON:
        emit_json(_status_document(result.value, services))
        return
    _print_status(result.value, services, fmt)


def _print_status(report: StatusReport, services: Services, fmt: OutputFormat) -> None:
    rows = [
        {
            "alias": c.alias,
            "provider": c.provider,
            "status": c.status,
            "last_sync": c.last_sync_at or "never",
            "last_result": c.last_sync_status,
            "login_expires_in": human_duration(c.refresh_time_left),
            "action": c.action,
            "id": str(c.id)[:8],
        }
        for c in report.connections
    ]
    columns = [
        Column(key="alias"),
        Column(key="provider"),
        Column(key="status"),
        Column(key="last_sync", header="last sync"),
        Column(key="last_result", header="result"),
        Column(key="login_expires_in", header="login expires in"),
        Column(key="action", header="to do", wrap=True),
        Column(key="id"),
    ]
    if fmt is OutputFormat.CSV:
        emit_rows(rows, columns, fmt=fmt)
        return
    out = console()
    db, secrets = report.database, report.secrets
    revision = db.revision or "not created yet (run: dashtam init)"
    if db.revision and not db.up_to_date:
        revision = f"{revision} (head {db.head}: run dashtam db upgrade)"
    out.print(f"[bold]Database[/bold]   {db.backend}  {db.location}")
    out.print(f"[bold]Schema[/bold]     {revision}")
    health = "ok" if secrets.available else f"[red]unavailable[/red]: {secrets.detail}"
    out.print(f"[bold]Secrets[/bold]    {secrets.backend}  {health}")
    if not secrets.available and secrets.hint:
        out.print(f"           hint: {secrets.hint}")
    out.print(f"[bold]Data dir[/bold]   {services.data_dir}")
    out.print(f"[bold]Config[/bold]     {services.config_dir}")
    out.print(f"[bold]Log file[/bold]   {services.log_file}")
    out.print()
    emit_rows(rows, columns, fmt=fmt, title="Connections", empty="No connections yet.")
    for c in report.connections:
        if c.action:
            out.print(f"[yellow]warning[/yellow]: {c.alias}: {c.action}")
