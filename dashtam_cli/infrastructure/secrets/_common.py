"""Machinery shared by the key stores: version rules, key encoding, error translation.

A versioned store is composed, not inherited: a :class:`KeyVault` supplies the storage primitives
of one backend (keyring entries, a JSON file) and :class:`VersionedKeyStore` applies the version
rules on top of any vault.

Internal to :mod:`dashtam_cli.infrastructure.secrets`. Helpers deep inside a store raise
:class:`KeyStoreError`; every public store method catches it with :func:`guarded` and returns the
:class:`~dashtam_cli.domain.errors.DomainError` it carries, so callers only ever see Results.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, ok
from dashtam_cli.domain.protocols import DataKey

KEY_BYTES = 32
MIN_VERSION = 1
MAX_VERSION = 255
LOCK_TIMEOUT_SECONDS = 10.0

#: The hint for every "no usable secrets backend" failure: the two backends that always work.
BACKEND_HINT = (
    "Set DASHTAM_SECRETS_BACKEND=file to keep the data key in a 0600 file in the config "
    "directory, or DASHTAM_SECRETS_BACKEND=env with DASHTAM_MASTER_KEY set to a base64 "
    "32-byte key."
)
RESTORE_HINT = (
    "Restore the key store from a backup; otherwise run `dashtam providers connect` again "
    "for the affected connections to store fresh credentials."
)


class KeyStoreError(Exception):
    """Carries a :class:`DomainError` from a store's internals to its public method."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.error = error


def store_error(
    code: ErrorCode,
    message: str,
    *,
    hint: str | None = None,
    details: Mapping[str, str] | None = None,
) -> KeyStoreError:
    """Build the internal exception carrying a :class:`DomainError`."""
    return KeyStoreError(DomainError(code=code, message=message, hint=hint, details=details or {}))


def guarded[T](action: Callable[[], T]) -> Result[T]:
    """Run ``action``; turn a :class:`KeyStoreError` into a :class:`Failure`."""
    try:
        return ok(action())
    except KeyStoreError as exc:
        return Failure(error=exc.error)


def log_cause(event: str, exc: BaseException, **fields: str) -> None:
    """Log the foreign exception behind a translated error: its type only, never its locals.

    structlog is imported here, not at module scope: the key stores sit on the start-up path and
    this only runs when something already went wrong. No traceback is attached, because a
    rendered traceback can show local variables, and those may hold key material.
    """
    import structlog  # lazy on purpose, see above

    structlog.get_logger(__name__).warning(event, error_type=type(exc).__name__, **fields)


def in_range(version: int) -> bool:
    """Whether ``version`` can name a key (versions are 1..255: one byte in the envelope)."""
    return MIN_VERSION <= version <= MAX_VERSION


def encode_material(material: bytes) -> str:
    """A key as stored: standard base64 text."""
    return base64.b64encode(material).decode("ascii")


def decode_material(text: str) -> bytes | None:
    """The 32 key bytes encoded in ``text``, or None when it is not a base64 256-bit key.

    Accepts the standard and the URL-safe alphabets; surrounding whitespace is ignored.
    """
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        material = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return None
    return material if len(material) == KEY_BYTES else None


@contextlib.contextmanager
def interprocess_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock file for a read-modify-write of the key store.

    Two dashtam processes creating the first key at once must not both write "version 1" with
    different keys: whatever one of them encrypted would become unreadable.

    Raises:
        KeyStoreError: ``secrets_backend_unavailable`` when the lock cannot be taken in time.
    """
    from filelock import FileLock, Timeout  # lazy: only mutations need it

    ensure_private_dir(path.parent)
    lock = FileLock(path, timeout=LOCK_TIMEOUT_SECONDS, mode=0o600)
    try:
        lock.acquire()
    except Timeout as exc:
        raise store_error(
            ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
            f"the key store is locked by another dashtam process ({path})",
            hint="Wait for the other dashtam command to finish, then try again.",
        ) from exc
    except OSError as exc:
        log_cause("secrets.lock_failed", exc, path=str(path))
        raise store_error(
            ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
            f"cannot lock the key store ({path}): {exc.strerror or type(exc).__name__}",
            hint=f"Check that {path.parent} exists and is writable by you.",
        ) from exc
    try:
        yield
    finally:
        lock.release()


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` with mode 0700 when it is missing (existing ones are left alone).

    Raises:
        KeyStoreError: ``secrets_backend_unavailable`` when it cannot be created.
    """
    if directory.is_dir():
        return
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix":
            directory.chmod(0o700)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        log_cause("secrets.mkdir_failed", exc, path=str(directory))
        raise store_error(
            ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
            f"cannot create the directory {directory}: {exc.strerror or type(exc).__name__}",
            hint=f"Create {directory} (mode 0700) or point DASHTAM_CONFIG_DIR elsewhere.",
        ) from exc


class KeyVault(Protocol):
    """The storage primitives of one versioned key backend, used by :class:`VersionedKeyStore`.

    A vault stores key versions and two pointers (``current`` and ``latest``) and knows nothing
    of the rules between them. Its methods raise :class:`KeyStoreError` on failure; the store
    turns that into a :class:`~dashtam_cli.domain.errors.Failure`.
    """

    @property
    def backend(self) -> str:
        """The backend name (``keyring``, ``file``)."""
        ...

    def read_pointers(self) -> tuple[int | None, int]:
        """``(current, latest)``: the current version (None before the first key) and the
        highest version ever issued (0 before the first key)."""
        ...

    def read_material(self, version: int) -> bytes | None:
        """The key bytes of ``version``, or None when the vault does not hold it."""
        ...

    def write(
        self,
        *,
        material: tuple[int, bytes] | None = None,
        latest: int | None = None,
        current: int | None = None,
    ) -> None:
        """Store a key and/or move the pointers. The key is written before the pointers, so a
        pointer never names a key that is not there."""
        ...

    def forget(self, version: int) -> None:
        """Remove a key version; absent versions are fine."""
        ...

    def check_usable(self) -> None:
        """Raise :class:`KeyStoreError` when the backend cannot be used (creates nothing)."""
        ...

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Serialise read-modify-write sequences (``contextlib.nullcontext()`` when the backend
        cannot lock)."""
        ...


class VersionedKeyStore:
    """A key store holding several key versions, a ``current`` pointer and a ``latest`` counter.

    Version numbers only grow (``latest`` remembers the highest ever issued), so one number never
    names two different keys, not even after a retired version: a ciphertext can never meet a
    key it was not made with. The ``vault`` supplies the storage primitives; this class holds the
    rules shared by the keyring and file backends.

    Args:
        vault: the storage primitives of the backend.
    """

    def __init__(self, vault: KeyVault) -> None:
        self._vault = vault

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vault={self._vault!r})"

    @property
    def backend(self) -> str:
        """The backend name of the vault."""
        return self._vault.backend

    # ----------------------------------------------------------------- the KeyStore protocol

    def current(self) -> Result[DataKey]:
        """The key new ciphertexts are made with; version 1 is generated on first use.

        Returns:
            The key, or ``secrets_backend_unavailable`` / ``secret_key_missing``.
        """
        return guarded(self._current)

    def get(self, version: int) -> Result[DataKey]:
        """A key by version.

        Returns:
            The key, or ``secret_key_missing`` when this store does not hold that version.
        """
        return guarded(lambda: self._key(version))

    def create_next(self) -> Result[DataKey]:
        """Generate and store a new key version above every version ever issued (not current).

        Returns:
            The new key, or ``secrets_backend_unavailable`` (also when all 255 versions are used).
        """
        return guarded(self._create_next)

    def promote(self, version: int) -> Result[None]:
        """Make ``version`` the current key.

        Returns:
            Nothing, or ``secret_key_missing`` when the store does not hold that version.
        """
        return guarded(lambda: self._promote(version))

    def retire(self, version: int) -> Result[None]:
        """Forget a key version; retiring a version the store does not hold succeeds.

        Returns:
            Nothing, or ``invalid_argument`` for the current version.
        """
        return guarded(lambda: self._retire(version))

    def probe(self) -> Result[None]:
        """Check the backend is usable and the current key (if any) readable; creates nothing.

        Returns:
            Nothing, or the error the first real use would hit.
        """
        return guarded(self._probe)

    # ----------------------------------------------------------------- the rules

    def _current(self) -> DataKey:
        vault = self._vault
        current, _ = vault.read_pointers()
        if current is None:
            with vault.lock():
                current, latest = vault.read_pointers()
                if current is None:
                    current = self._next_version(latest)
                    material = os.urandom(KEY_BYTES)
                    vault.write(material=(current, material), latest=current, current=current)
        return self._key(current)

    def _key(self, version: int) -> DataKey:
        backend = self._vault.backend
        material = self._vault.read_material(version) if in_range(version) else None
        if material is None:
            raise store_error(
                ErrorCode.SECRET_KEY_MISSING,
                f"the {backend} key store holds no data key version {version}",
                hint=RESTORE_HINT,
                details={"key_version": str(version), "backend": backend},
            )
        return DataKey(version=version, material=material)

    def _next_version(self, latest: int) -> int:
        if latest >= MAX_VERSION:
            raise store_error(
                ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
                f"all {MAX_VERSION} data key versions of the {self._vault.backend} key store "
                "are used",
                hint="Start a new key store (another backend or config dir) and reconnect.",
            )
        return latest + 1

    def _create_next(self) -> DataKey:
        vault = self._vault
        with vault.lock():
            current, latest = vault.read_pointers()
            version = self._next_version(max(latest, current or 0))
            material = os.urandom(KEY_BYTES)
            vault.write(material=(version, material), latest=version)
        return DataKey(version=version, material=material)

    def _promote(self, version: int) -> None:
        vault = self._vault
        with vault.lock():
            self._key(version)
            vault.write(current=version)

    def _retire(self, version: int) -> None:
        if not in_range(version):
            return
        vault = self._vault
        with vault.lock():
            current, _ = vault.read_pointers()
            if version == current:
                raise store_error(
                    ErrorCode.INVALID_ARGUMENT,
                    f"data key version {version} is the current key and cannot be retired",
                    hint="Run `dashtam keys rotate`: it retires old versions once unused.",
                )
            vault.forget(version)

    def _probe(self) -> None:
        vault = self._vault
        vault.check_usable()
        current, _ = vault.read_pointers()
        if current is not None:
            self._key(current)
