"""Cells and lines for the dashboard: exact amounts as text, coloured by meaning.

Everything here returns ``rich.text.Text`` (never markup strings): a description such as
``[ACH] payment`` is shown as is. Colour is never the only signal: a change keeps its sign, an
expiring login says ``expires in``, so the dashboard reads the same under ``NO_COLOR``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text

from dashtam_cli.presentation.cli.render import human_duration, printable
from dashtam_cli.presentation.cli.views import amount_text, when_text

if TYPE_CHECKING:
    from dashtam_cli.application.queries import ConnectionSummary
    from dashtam_cli.domain.money import Money

GAIN = "green"
LOSS = "red"
WARNING = "bold yellow"
DANGER = "bold red"
MUTED = "dim"

__all__ = [
    "DANGER",
    "GAIN",
    "LOSS",
    "MUTED",
    "WARNING",
    "amount_text",
    "change_cell",
    "connection_status_cell",
    "login_left_cell",
    "money_cell",
    "percent_text",
    "plain",
    "printable",
    "totals_line",
    "when_text",
]


def plain(value: object, *, style: str = "") -> Text:
    """Any value as literal text (None as empty)."""
    return Text("" if value is None else printable(str(value)), style=style)


def money_cell(money: Money | None, *, signed_style: bool = False) -> Text:
    """An amount with thousands separators and cents, right-aligned.

    Args:
        money: the amount (None: an empty cell).
        signed_style: colour negative amounts as a loss.
    """
    if money is None:
        return Text("", justify="right")
    style = LOSS if signed_style and money.amount < 0 else ""
    return Text(amount_text(money.amount), style=style, justify="right")


def decimal_cell(value: Decimal | None, *, places: int | None = None) -> Text:
    """A quantity or price, exact unless ``places`` rounds it for display."""
    return Text(amount_text(value, places=places), justify="right")


def change_cell(change: Money | None) -> Text:
    """``+1,234.56`` in green, ``-12.00`` in red, ``0.00`` plain; empty when unknown."""
    if change is None:
        return Text("", justify="right")
    amount = change.amount
    sign = "+" if amount > 0 else ""
    style = GAIN if amount > 0 else LOSS if amount < 0 else ""
    return Text(f"{sign}{amount_text(amount)}", style=style, justify="right")


def percent_text(share: Decimal | None) -> str:
    """A fraction as ``12.3%`` (empty when unknown)."""
    if share is None:
        return ""
    return f"{(share * 100).quantize(Decimal('0.1'))}%"


def totals_line(totals: Mapping[str, Money]) -> str:
    """``USD 1,234.56 · EUR 10.00`` (one entry per currency), or an em dash."""
    if not totals:
        return "—"
    return " · ".join(f"{code} {amount_text(m.amount)}" for code, m in sorted(totals.items()))


def connection_status_cell(summary: ConnectionSummary) -> Text:
    """The status, in red when the login is dead and yellow when it is about to die."""
    status = summary.status.value
    if status in {"expired", "revoked", "failed"}:
        return Text(f"✗ {status}", style=DANGER)
    if summary.expiring_soon:
        return Text(f"! {status}", style=WARNING)
    return Text(status)


def login_left_cell(summary: ConnectionSummary) -> Text:
    """How long the login has left: a warning colour inside 24 hours, ``—`` without a token."""
    left: timedelta | None = summary.refresh_time_left
    if left is None:
        return Text("—", style=MUTED)
    text = human_duration(left)
    if left <= timedelta(0):
        return Text(text, style=DANGER)
    if summary.expiring_soon:
        return Text(f"{text} left", style=WARNING)
    return Text(text)


def last_sync_cell(at: datetime | None, status: str | None) -> Text:
    """``2026-03-02 15:00 succeeded`` (UTC), with a failed or partial result coloured."""
    if at is None:
        return Text("never", style=MUTED)
    text = Text(when_text(at))
    if status:
        style = GAIN if status == "succeeded" else WARNING if status == "partial" else DANGER
        text.append(f" {status}", style=style)
    return text
