"""The database failure exception, importable without SQLAlchemy (standard library only).

The composition root catches :class:`DatabaseUnavailableError` around every handler; keeping it
here means that catch costs nothing on the fast read paths (``accounts list`` on SQLite never
imports SQLAlchemy). :mod:`dashtam_cli.infrastructure.db.unit_of_work` re-exports it.
"""

from __future__ import annotations

from dashtam_cli.domain.errors import DomainError


class DatabaseUnavailableError(Exception):
    """A database failure, translated at the adapter; ``error`` is what the user is shown.

    Attributes:
        error: the DomainError (code ``DATABASE_UNREACHABLE`` or ``DATABASE_ERROR``).
    """

    def __init__(self, error: DomainError) -> None:
        """Carry ``error``; the original exception is chained as ``__cause__``."""
        super().__init__(error.message)
        self.error = error


#: The longest driver message shown (the first line of it).
_REASON_LENGTH = 200

SERVER_HINT = "check DASHTAM_DATABASE_URL and that the database server is running"
DAMAGED_HINT = (
    "the file is damaged or is not a Dashtam database: restore it from a backup, or move it "
    "away and run `dashtam init` to start a new one"
)
OTHER_HINT = "run `dashtam db upgrade` if the schema is old; the log file has the details"


def driver_reason(exc: BaseException) -> str:
    """What the database driver said went wrong: the first line of its message, shortened.

    ``exc`` may be SQLAlchemy's wrapper (its ``orig`` is the driver's exception) or the
    driver's own. Never a password: drivers do not repeat one in their messages.
    """
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    reason = lines[0].strip() if lines else ""
    if not reason:
        return type(cause).__name__
    return reason if len(reason) <= _REASON_LENGTH else reason[: _REASON_LENGTH - 1] + "…"


def is_damaged_sqlite(exc: BaseException) -> bool:
    """Whether SQLite said the file is not a database or is malformed.

    SQLite raises the base ``DatabaseError`` (no subclass) for a damaged or foreign file.
    """
    import sqlite3

    cause = getattr(exc, "orig", None) or exc
    return type(cause) is sqlite3.DatabaseError


def sqlite_unreachable_hint(location: str) -> str:
    """What to check when a SQLite file cannot be opened or written."""
    return (
        f"check that {location} and its directory exist and that you may read and write them "
        "(DASHTAM_DATA_DIR, DASHTAM_DATABASE_URL)"
    )


__all__ = [
    "DAMAGED_HINT",
    "OTHER_HINT",
    "SERVER_HINT",
    "DatabaseUnavailableError",
    "driver_reason",
    "is_damaged_sqlite",
    "sqlite_unreachable_hint",
]
