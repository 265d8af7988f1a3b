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


__all__ = ["DatabaseUnavailableError"]
