"""Schwab's date formats: the one request formatter and tolerant response parsers.

Requests: ``startDate``/``endDate`` must be ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` in UTC, e.g.
``2024-03-28T21:10:42.000Z`` (schwab.md section 2.1). :func:`format_schwab_datetime` is the only
formatter: it converts an aware datetime to UTC first (schwab-py appends ``Z`` without converting,
a bug we avoid) and refuses a naive one, whose zone it cannot know.

Responses: instants come as ``2026-01-05T15:02:11+0000`` (offset without a colon). ``tradeDate`` and
``settlementDate`` are calendar dates sent as an instant near midnight Eastern
(``T04:00:00+0000`` or ``T05:00:00+0000``, the hour not reliably DST-adjusted).
:func:`schwab_calendar_date` takes the **UTC** calendar date of such a value: for both observed
conventions it is the intended day (so is the New York date), and unlike New York it also stays
right if Schwab ever sends midnight UTC. The machine's local zone is never involved (04:00 UTC is
the previous evening in California).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final

_DATE_ONLY_LEN: Final = 10


def format_schwab_datetime(value: datetime) -> str:
    """Format an instant as Schwab's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (UTC, milliseconds).

    Sub-millisecond digits are truncated (never rounded up past the instant).

    Args:
        value: a timezone-aware datetime.

    Returns:
        e.g. ``2026-01-01T05:00:00.000Z`` for ``2026-01-01T00:00-05:00``.

    Raises:
        ValueError: ``value`` is naive (a bug in the caller: its zone is unknown).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Schwab request dates must be timezone-aware datetimes")
    utc = value.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def parse_schwab_datetime(value: object) -> datetime | None:
    """Parse a Schwab timestamp into an aware UTC datetime.

    Accepts ``+0000``/``+00:00``/``Z`` offsets, fractional seconds and a bare ``yyyy-MM-dd``; a
    value without an offset is taken as UTC (Schwab always sends one; this keeps odd rows usable).

    Args:
        value: the JSON value (normally a string).

    Returns:
        The instant in UTC, or None when the value is missing or not a timestamp (never raises).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def schwab_calendar_date(value: object) -> date | None:
    """The calendar day a Schwab ``tradeDate``/``settlementDate`` stands for.

    A bare ``yyyy-MM-dd`` is that day; a timestamp is the UTC date of its instant (see the module
    docstring for why UTC and never the local zone). When converting to UTC is impossible (an
    instant at the edge of the calendar), the date as written is used.

    Args:
        value: the JSON value.

    Returns:
        The date, or None when the value is missing or unparseable (never raises).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == _DATE_ONLY_LEN:
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    instant = parse_schwab_datetime(text)
    if instant is not None:
        return instant.date()
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        return None
