"""Schwab date formatting and parsing: UTC with milliseconds out, tolerant in, never local."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dashtam_cli.infrastructure.providers.schwab.dates import (
    format_schwab_datetime,
    parse_schwab_datetime,
    schwab_calendar_date,
)


@pytest.fixture
def los_angeles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the test with the process in America/Los_Angeles (where 04:00 UTC is yesterday)."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    if time.localtime(1767240000).tm_hour != 20:  # 2026-01-01T04:00Z is 20:00 the day before
        monkeypatch.undo()
        time.tzset()
        pytest.skip("the America/Los_Angeles zone is not installed")
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 1, tzinfo=UTC), "2026-01-01T00:00:00.000Z"),
        (datetime(2024, 3, 28, 21, 10, 42, tzinfo=UTC), "2024-03-28T21:10:42.000Z"),
        # aware non-UTC values are converted, not relabelled (the schwab-py bug)
        (datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))), "2026-01-01T05:00:00.000Z"),
        (datetime(2026, 7, 1, 2, tzinfo=timezone(timedelta(hours=9))), "2026-06-30T17:00:00.000Z"),
        # sub-millisecond digits are truncated, never rounded up
        (datetime(2026, 6, 30, 23, 59, 59, 999_999, tzinfo=UTC), "2026-06-30T23:59:59.999Z"),
        (datetime(2026, 6, 30, 12, 0, 0, 1_500, tzinfo=UTC), "2026-06-30T12:00:00.001Z"),
        (datetime(5, 1, 2, tzinfo=UTC), "0005-01-02T00:00:00.000Z"),
    ],
)
def test_format_is_utc_with_milliseconds(value: datetime, expected: str) -> None:
    assert format_schwab_datetime(value) == expected


def test_format_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_schwab_datetime(datetime(2026, 1, 1))


def test_format_ignores_the_machine_zone(los_angeles: None) -> None:
    assert format_schwab_datetime(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T15:02:11+0000", datetime(2026, 1, 5, 15, 2, 11, tzinfo=UTC)),
        ("2026-01-05T15:02:11.250+0000", datetime(2026, 1, 5, 15, 2, 11, 250_000, tzinfo=UTC)),
        ("2026-01-05T15:02:11Z", datetime(2026, 1, 5, 15, 2, 11, tzinfo=UTC)),
        ("2026-01-05T10:02:11-05:00", datetime(2026, 1, 5, 15, 2, 11, tzinfo=UTC)),
        ("2026-01-05T15:02:11", datetime(2026, 1, 5, 15, 2, 11, tzinfo=UTC)),
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
    ],
)
def test_parse_accepts_schwab_offsets(text: str, expected: datetime) -> None:
    parsed = parse_schwab_datetime(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value", [None, "", "  ", "yesterday", 1767225600, "2026-13-45T00:00:00+0000", ["x"]]
)
def test_parse_returns_none_for_junk(value: object) -> None:
    assert parse_schwab_datetime(value) is None


def test_parse_survives_instants_at_the_edge_of_the_calendar() -> None:
    assert parse_schwab_datetime("0001-01-01T00:00:00+01:00") is None
    assert schwab_calendar_date("0001-01-01T00:00:00+01:00") == date(1, 1, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the two observed midnight-Eastern placeholders, either side of the DST switch
        ("2026-01-06T05:00:00+0000", date(2026, 1, 6)),
        ("2026-04-01T04:00:00+0000", date(2026, 4, 1)),
        # the "not DST-adjusted" variant seen in third-party fixtures
        ("2026-08-03T05:00:00+0000", date(2026, 8, 3)),
        ("2026-04-01T00:00:00-0400", date(2026, 4, 1)),
        ("2026-04-01", date(2026, 4, 1)),
        ("2026-04-01T00:00:00+0000", date(2026, 4, 1)),
    ],
)
def test_calendar_date_is_the_intended_day_in_los_angeles(
    los_angeles: None, text: str, expected: date
) -> None:
    # The machine is in California: a local-zone conversion would give the previous day.
    assert datetime.fromisoformat("2026-04-01T04:00:00+00:00").astimezone().day == 31
    assert schwab_calendar_date(text) == expected


@pytest.mark.parametrize("value", [None, "", "soon", 20260401, "2026-02-30"])
def test_calendar_date_of_junk_is_none(value: object) -> None:
    assert schwab_calendar_date(value) is None
