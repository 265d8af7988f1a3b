"""The data and config directories, private to the user (mode 0700)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from dashtam_cli.domain.errors import DomainError, ErrorCode, Result, fail, ok

PRIVATE_DIR = 0o700


class SystemClock:
    """The real clock (UTC)."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        return datetime.now(UTC)


def ensure_private_dir(path: Path) -> bool:
    """Create ``path`` (and parents) with mode 0700; return True when it was created.

    An existing directory keeps its mode unless it is readable by others, which is tightened.
    """
    if path.is_dir():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & PRIVATE_DIR)
        return False
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    return True


class LocalWorkspace:
    """Creates the data and config directories on demand."""

    def __init__(self, *, data_dir: Path, config_dir: Path) -> None:
        self._dirs = (data_dir, config_dir)

    def ensure(self) -> Result[Sequence[str], DomainError]:
        """Create the missing directories with mode 0700.

        Returns:
            The paths created, or ``config_invalid`` when a path exists but is not a directory
            or cannot be created.
        """
        created: list[str] = []
        for directory in self._dirs:
            try:
                if ensure_private_dir(directory):
                    created.append(str(directory))
            except OSError as exc:
                return fail(
                    ErrorCode.CONFIG_INVALID,
                    f"cannot create directory {directory}: {exc.strerror or exc}",
                    hint="set DASHTAM_DATA_DIR / DASHTAM_CONFIG_DIR to a writable location",
                )
        return ok(created)
