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


def parse_date(value: str | None) -> date | None:
    """Parse an ISO ``YYYY-MM-DD`` date option.

    Raises:
        typer.BadParameter: with a message naming the expected shape (exit code 2).
    """
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD") from None


def date_start(value: date | None) -> datetime | None:
    """Midnight UTC at the start of a date."""
    return None if value is None else datetime(value.year, value.month, value.day, tzinfo=UTC)
