"""The ``file`` backend: data keys in a private JSON file (mode 0600, directory 0700).

The file looks like this (keys base64, versions as strings because JSON keys are strings)::

    {"format": 1, "current": 2, "latest": 2, "keys": {"1": "...", "2": "..."}}

Writes go to a fresh 0600 temporary file in the same directory, are fsynced and then renamed over
the key file, so a crash leaves either the old or the new file, never half of one. A key file
that other users could read, that is not ours, or that is not valid is refused, never repaired:
every stored credential depends on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

from dashtam_cli.domain.errors import ErrorCode
from dashtam_cli.infrastructure.secrets._common import (
    MAX_VERSION,
    MIN_VERSION,
    KeyStoreError,
    VersionedKeyStore,
    decode_material,
    encode_material,
    ensure_private_dir,
    interprocess_lock,
    log_cause,
    store_error,
)

FILE_FORMAT = 1


@dataclass(kw_only=True, slots=True)
class _KeyFile:
    current: int | None = None
    latest: int = 0
    keys: dict[int, str] = field(default_factory=dict, repr=False)


class FileKeyStore(VersionedKeyStore):
    """Data keys in a JSON file readable only by its owner.

    The version rules of :class:`VersionedKeyStore` over a :class:`FileKeyVault`.

    Args:
        path: the key file, normally ``<config dir>/keys.json``. Its directory is created with
            mode 0700 when missing.
    """

    def __init__(self, path: Path) -> None:
        self._file = FileKeyVault(path)
        super().__init__(self._file)

    def __repr__(self) -> str:
        return f"FileKeyStore(path={str(self._file.path)!r})"

    @property
    def path(self) -> Path:
        """The key file."""
        return self._file.path


class FileKeyVault:
    """The storage primitives of the ``file`` backend (a :class:`KeyVault`).

    Args:
        path: the key file; its lock file is ``<path>.lock`` next to it.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock_path = path.with_name(path.name + ".lock")

    def __repr__(self) -> str:
        return f"FileKeyVault(path={str(self._path)!r})"

    @property
    def backend(self) -> str:
        """``file``."""
        return "file"

    @property
    def path(self) -> Path:
        """The key file."""
        return self._path

    # ----------------------------------------------------------------- primitives

    def read_pointers(self) -> tuple[int | None, int]:
        """``(current, latest)`` from the key file; ``(None, 0)`` when there is none yet."""
        doc = self._load()
        return (None, 0) if doc is None else (doc.current, doc.latest)

    def read_material(self, version: int) -> bytes | None:
        """The key bytes of ``version``, or None when the key file does not hold it."""
        doc = self._load()
        text = None if doc is None else doc.keys.get(version)
        if text is None:
            return None
        material = decode_material(text)
        if material is None:
            raise self._corrupt(f"key version {version} is not a base64 256-bit key")
        return material

    def write(
        self,
        *,
        material: tuple[int, bytes] | None = None,
        latest: int | None = None,
        current: int | None = None,
    ) -> None:
        """Store a key and/or move the pointers in one atomic rewrite of the key file."""
        doc = self._load() or _KeyFile()
        if material is not None:
            version, key = material
            doc.keys[version] = encode_material(key)
        if latest is not None:
            doc.latest = latest
        if current is not None:
            doc.current = current
        self._save(doc)

    def forget(self, version: int) -> None:
        """Remove ``version`` from the key file (absent versions are fine)."""
        doc = self._load()
        if doc is not None and doc.keys.pop(version, None) is not None:
            self._save(doc)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """The inter-process lock file next to the key file."""
        return interprocess_lock(self._lock_path)

    def check_usable(self) -> None:
        """Refuse an unsafe or damaged key file, or a directory the first key cannot go in."""
        if self._path.exists() or self._path.is_symlink():
            self._load()
            return
        # Nothing to read yet: the first key will need a writable directory.
        ancestor = self._path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise store_error(
                ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
                f"the key file {self._path} cannot be created: {ancestor} is not writable",
                hint=f"Make {ancestor} writable, or set DASHTAM_CONFIG_DIR to a directory you own.",
            )

    # ----------------------------------------------------------------- reading

    def _load(self) -> _KeyFile | None:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self._path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log_cause("secrets.key_file_unreadable", exc, path=str(self._path))
            raise store_error(
                ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
                f"cannot open the key file {self._path} "
                f"({exc.strerror or type(exc).__name__}; symbolic links are refused)",
                hint=f"Make {self._path} a regular file readable by you, mode 0600.",
            ) from exc
        with os.fdopen(fd, "rb") as handle:
            self._check_private(os.fstat(handle.fileno()))
            try:
                raw = handle.read()
            except OSError as exc:
                log_cause("secrets.key_file_unreadable", exc, path=str(self._path))
                raise store_error(
                    ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
                    f"cannot read the key file {self._path}: {exc.strerror or type(exc).__name__}",
                    hint=f"Check {self._path} and the disk it is on.",
                ) from exc
        return self._parse(raw)

    def _check_private(self, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise self._refused(f"{self._path} is not a regular file", hint=None)
        if os.name != "posix":
            return
        if info.st_mode & 0o077:
            raise self._refused(
                f"the key file {self._path} is accessible by other users "
                f"(mode {stat.S_IMODE(info.st_mode):04o})",
                hint=f"Run `chmod 600 {self._path}` (and consider the data key compromised).",
            )
        if info.st_uid != os.geteuid():
            raise self._refused(
                f"the key file {self._path} belongs to another user",
                hint=f"Run dashtam as the owner of {self._path}, or `chown` it to yourself.",
            )

    def _parse(self, raw: bytes) -> _KeyFile:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            log_cause("secrets.key_file_corrupt", exc, path=str(self._path))
            raise self._corrupt("it is not valid JSON") from exc
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise self._corrupt(f"it is not a format-{FILE_FORMAT} dashtam key file")
        current, latest, keys = data.get("current"), data.get("latest"), data.get("keys")
        if not (current is None or _is_version(current)) or not _is_version(latest, low=0):
            raise self._corrupt("its current/latest versions are not numbers in 1..255")
        if not isinstance(keys, dict) or not all(
            isinstance(name, str)
            and name.isascii()
            and name.isdigit()
            and _is_version(int(name))
            and isinstance(text, str)
            for name, text in keys.items()
        ):
            raise self._corrupt("its keys are not a map of version -> base64 key")
        return _KeyFile(
            current=current, latest=latest, keys={int(name): text for name, text in keys.items()}
        )

    # ----------------------------------------------------------------- writing

    def _save(self, doc: _KeyFile) -> None:
        directory = self._path.parent
        ensure_private_dir(directory)
        payload = {
            "format": FILE_FORMAT,
            "current": doc.current,
            "latest": doc.latest,
            "keys": {str(version): text for version, text in sorted(doc.keys.items())},
        }
        data = (json.dumps(payload, indent=2) + "\n").encode("ascii")
        temporary = directory / f".{self._path.name}.{uuid.uuid4().hex}.tmp"
        try:
            fd = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                0o600,
            )
            try:
                with os.fdopen(fd, "wb") as handle:
                    if hasattr(os, "fchmod"):
                        os.fchmod(handle.fileno(), 0o600)  # the umask may have removed bits
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                temporary.replace(self._path)  # atomic rename (os.replace)
            except BaseException:
                with contextlib.suppress(OSError):
                    temporary.unlink()
                raise
            _fsync_directory(directory)
        except OSError as exc:
            log_cause("secrets.key_file_write_failed", exc, path=str(self._path))
            raise store_error(
                ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
                f"cannot write the key file {self._path}: {exc.strerror or type(exc).__name__}",
                hint=f"Check that {directory} is writable by you and the disk is not full.",
            ) from exc

    # ----------------------------------------------------------------- errors

    def _refused(self, message: str, *, hint: str | None) -> KeyStoreError:
        return store_error(
            ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
            message,
            hint=hint,
            details={"path": str(self._path)},
        )

    def _corrupt(self, reason: str) -> KeyStoreError:
        return self._refused(
            f"the key file {self._path} is damaged: {reason}",
            hint=(
                f"Restore {self._path} from a backup. Do not delete it: every stored credential "
                "is encrypted under these keys."
            ),
        )


def _is_version(value: object, *, low: int = MIN_VERSION) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_VERSION


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); platforms that cannot open directories skip it."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
