"""Tables for people: never a cropped amount, instants to the minute, short ids, cents."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from dashtam_cli.presentation.cli import render
from dashtam_cli.presentation.cli.render import Column, OutputFormat, emit_rows
from dashtam_cli.presentation.cli.views import amount_text

ID = UUID("c37bce97-8f82-46e4-9074-a1cdc8a64214")
COLUMNS = [
    Column(key="account"),
    Column(key="symbol", wrap=False),
    Column(key="name", priority=5),
    Column(key="quantity", justify="right"),
    Column(key="market_value", header="market value", justify="right"),
    Column(key="gain", justify="right"),
    Column(key="when"),
    Column(key="id", priority=1),
]
ROWS = [
    {
        "account": "401(k) Retirement Plan",
        "symbol": "VBTLX",
        "name": "Vanguard Total Bond Market Index Fund Admiral Shares",
        "quantity": "5,658.248",
        "market_value": "48,151.69",
        "gain": "-15,076.75",
        "when": datetime(2026, 11, 26, 14, 18, 46, 123456, tzinfo=timezone(timedelta(hours=-5))),
        "id": ID,
    }
]


def _table(monkeypatch: pytest.MonkeyPatch, width: int) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    emit_rows(ROWS, COLUMNS, fmt=OutputFormat.TABLE, title="Holdings")
    return out.getvalue()


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_a_narrow_terminal_never_crops_an_amount(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    text = _table(monkeypatch, width)
    for whole in ("5,658.248", "48,151.69", "-15,076.75", "VBTLX"):
        assert whole in text, (width, text)
    assert "401(k)" in text  # the account column is never squeezed away


def test_tables_show_instants_to_the_minute_in_utc_and_short_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = _table(monkeypatch, 200)
    assert "2026-11-26 19:18" in text
    assert "+00:00" not in text
    assert "c37bce97" in text
    assert str(ID) not in text


def test_csv_and_json_keep_exact_instants_and_full_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    emit_rows(ROWS, COLUMNS, fmt=OutputFormat.CSV)
    assert str(ID) in out.getvalue()
    assert "2026-11-26T14:18:46.123456-05:00" in out.getvalue()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0", "0.00"),
        ("5", "5.00"),
        ("2.125", "2.12"),
        ("1234567.891", "1,234,567.89"),
        ("-0.001", "0.00"),
        ("1E+3", "1,000.00"),
    ],
)
def test_table_amounts_have_exactly_cents(value: str, text: str) -> None:
    assert amount_text(Decimal(value)) == text
    assert amount_text(Decimal(value), places=None) == f"{Decimal(value):,f}"


def test_a_datetime_cell_is_utc() -> None:
    assert render.cell(datetime(2026, 1, 1, 0, 30, tzinfo=UTC)) == "2026-01-01 00:30"


def test_control_characters_never_reach_the_terminal_but_stay_in_csv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hostile = "Coffee \x1b[31mRED\x1b]0;title\x07 \x9b2J\ttab\nline"
    rows = [{"description": hostile}]
    columns = [Column(key="description")]
    monkeypatch.setenv("COLUMNS", "200")
    table = io.StringIO()
    monkeypatch.setattr(sys, "stdout", table)
    emit_rows(rows, columns, fmt=OutputFormat.TABLE)
    shown = table.getvalue()
    assert not any(ord(c) < 0x20 and c != "\n" for c in shown)
    assert "\x9b" not in shown
    assert "Coffee \ufffd[31mRED\ufffd]0;title\ufffd \ufffd2J tab line" in shown
    as_csv = io.StringIO()
    monkeypatch.setattr(sys, "stdout", as_csv)
    emit_rows(rows, columns, fmt=OutputFormat.CSV)
    assert hostile in as_csv.getvalue()  # data stays exact for programs


def test_bidirectional_overrides_cannot_reorder_what_a_table_shows() -> None:
    from dashtam_cli.presentation.cli.render import printable

    assert printable("refund \u202e99.0\u202c") == "refund \ufffd99.0\ufffd"
    assert printable("isolate \u2066x\u2069") == "isolate \ufffdx\ufffd"
    assert printable("Ταβέρνα café 東京") == "Ταβέρνα café 東京"  # letters stay


def test_the_dashboard_shows_control_characters_harmlessly() -> None:
    from dashtam_cli.presentation.tui.format import plain as tui_text

    assert tui_text("a\x1b[2Jb").plain == "a\ufffd[2Jb"


def test_show_tables_and_their_titles_keep_control_characters_off_the_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dashtam_cli.presentation.cli.views import key_value_table

    monkeypatch.setenv("COLUMNS", "120")
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    key_value_table([("description", "pay \x1b[2J[bold]x[/]")], title="Account \x1b]0;t\x07[/]")
    shown = out.getvalue()
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert "pay \ufffd[2J[bold]x[/]" in shown  # markup shown as typed, not applied
    assert "Account \ufffd]0;t\ufffd[/]" in shown
