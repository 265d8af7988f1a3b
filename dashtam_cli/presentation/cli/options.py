"""Options shared by several commands."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer

from dashtam_cli.presentation.cli.render import OutputFormat

FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        case_sensitive=False,
        help="Output format: table for people, json or csv for programs.",
    ),
]


def parse_date(value: str | None, *, option: str = "--since", as_json: bool = False) -> date | None:
    """Parse an ISO ``YYYY-MM-DD`` date option.

    Args:
        value: the option's text (None: not given).
        option: the option's name, for the message.
        as_json: also write the error as a JSON object on stdout (``--format json``).

    Raises:
        typer.Exit: after printing ``error[invalid_date]`` and its hint (exit code 2).
    """
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        from dashtam_cli.domain.errors import DomainError, ErrorCode
        from dashtam_cli.presentation.cli.errors import render_error

        error = DomainError(
            code=ErrorCode.INVALID_DATE,
            message=f"{option} {value!r} is not a date",
            hint="use YYYY-MM-DD, e.g. 2025-01-31",
        )
        raise typer.Exit(int(render_error(error, as_json=as_json))) from None


def date_start(value: date | None) -> datetime | None:
    """Midnight UTC at the start of a date."""
    return None if value is None else datetime(value.year, value.month, value.day, tzinfo=UTC)
