"""The ``keyring`` backend: data keys in the operating system's keyring.

Entries of the service (``dashtam``): ``data-key-v<N>`` holds key version N (base64),
``data-key-current`` the current version and ``data-key-latest`` the highest version ever issued.

The ``keyring`` library is imported inside the methods: importing it and probing a backend costs
~0.25 s, which commands that never touch a secret must not pay. A machine without a usable
keyring (headless Linux, a locked or broken keyring, the fail/null backends, the plaintext
backends of keyrings.alt with their priority below 1) gets ``secrets_backend_unavailable`` with a
hint naming the file and env backends. There is never a silent fallback to another store.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from dashtam_cli.domain.errors import ErrorCode
from dashtam_cli.infrastructure.secrets._common import (
    BACKEND_HINT,
    KeyStoreError,
    VersionedKeyStore,
    decode_material,
    encode_material,
    in_range,
    interprocess_lock,
    log_cause,
    store_error,
)

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

CURRENT_ENTRY = "data-key-current"
LATEST_ENTRY = "data-key-latest"


def key_entry(version: int) -> str:
    """The keyring entry (user name) holding key ``version``."""
    return f"data-key-v{version}"


class KeyringKeyStore(VersionedKeyStore):
    """Data keys in the OS keyring (macOS Keychain, Windows Credential Locker, Secret Service).

    The version rules of :class:`VersionedKeyStore` over a :class:`KeyringKeyVault`.

    Args:
        service: the keyring service name the entries live under.
        lock_path: a lock file serialising changes between dashtam processes (None: no lock).
    """

    def __init__(self, service: str = "dashtam", *, lock_path: Path | None = None) -> None:
        self._keyring = KeyringKeyVault(service, lock_path=lock_path)
        super().__init__(self._keyring)

    def __repr__(self) -> str:
        return f"KeyringKeyStore(service={self._keyring.service!r})"

    @property
    def service(self) -> str:
        """The keyring service name."""
        return self._keyring.service


class KeyringKeyVault:
    """The storage primitives of the ``keyring`` backend (a :class:`KeyVault`).

    Args:
        service: the keyring service name the entries live under.
        lock_path: a lock file serialising changes between dashtam processes (None: no lock).
    """

    def __init__(self, service: str = "dashtam", *, lock_path: Path | None = None) -> None:
        self._service = service
        self._lock_path = lock_path
        self._materials: dict[int, bytes] = {}  # a version number never names two keys

    def __repr__(self) -> str:
        return f"KeyringKeyVault(service={self._service!r})"

    @property
    def backend(self) -> str:
        """``keyring``."""
        return "keyring"

    @property
    def service(self) -> str:
        """The keyring service name."""
        return self._service

    # ----------------------------------------------------------------- primitives

    def read_pointers(self) -> tuple[int | None, int]:
        """``(current, latest)`` from the pointer entries; ``(None, 0)`` before the first key."""
        current = self._read_version(CURRENT_ENTRY)
        latest = self._read_version(LATEST_ENTRY)
        return current, max(latest or 0, current or 0)

    def read_material(self, version: int) -> bytes | None:
        """The key bytes of ``version`` (cached once read), or None when there is no entry."""
        cached = self._materials.get(version)
        if cached is not None:
            return cached
        text = self._get(key_entry(version))
        if text is None:
            return None
        material = decode_material(text)
        if material is None:
            raise self._damaged(key_entry(version), "is not a base64 256-bit key")
        self._materials[version] = material
        return material

    def write(
        self,
        *,
        material: tuple[int, bytes] | None = None,
        latest: int | None = None,
        current: int | None = None,
    ) -> None:
        """Store a key and/or move the pointers, key entry first."""
        if material is not None:
            version, key = material
            self._set(key_entry(version), encode_material(key))
            self._materials[version] = key
        if latest is not None:
            self._set(LATEST_ENTRY, str(latest))
        if current is not None:
            self._set(CURRENT_ENTRY, str(current))

    def forget(self, version: int) -> None:
        """Delete the entry of ``version`` (absent entries are fine)."""
        self._materials.pop(version, None)
        entry = key_entry(version)
        if self._get(entry) is None:
            return
        import keyring.errors  # lazy, see the module docstring

        try:
            self._resolve().delete_password(self._service, entry)
        except keyring.errors.KeyringError as exc:
            raise self._unavailable(exc, "delete") from exc

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """The inter-process lock file, or a no-op when none was configured."""
        if self._lock_path is None:
            return contextlib.nullcontext()
        return interprocess_lock(self._lock_path)

    def check_usable(self) -> None:
        """Refuse a machine without a usable (recommended) OS keyring."""
        self._resolve()

    # ----------------------------------------------------------------- keyring access

    def _resolve(self) -> KeyringBackend:
        """The active keyring backend, when it is a real (recommended) one."""
        import keyring  # lazy, see the module docstring
        import keyring.backends.fail
        import keyring.errors

        try:
            backend = keyring.get_keyring()
            priority = float(backend.priority)
        # keyring raises RuntimeError from `priority` for a backend unusable here, and
        # ImportError/AttributeError for a PYTHON_KEYRING_BACKEND naming no class.
        except (keyring.errors.KeyringError, RuntimeError, ImportError, AttributeError) as exc:
            raise self._unavailable(exc, "resolve") from exc
        if isinstance(backend, keyring.backends.fail.Keyring) or priority < 1:
            raise store_error(
                ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
                "no usable OS keyring on this machine "
                f"(the active keyring backend is {type(backend).__name__}, "
                f"priority {priority:g})",
                hint=BACKEND_HINT,
                details={"keyring_backend": f"{type(backend).__module__}.{type(backend).__name__}"},
            )
        return backend

    def _get(self, entry: str) -> str | None:
        import keyring.errors  # lazy, see the module docstring

        backend = self._resolve()
        try:
            value = backend.get_password(self._service, entry)
        except keyring.errors.KeyringError as exc:
            raise self._unavailable(exc, "read") from exc
        return value if isinstance(value, str) else None

    def _set(self, entry: str, value: str) -> None:
        import keyring.errors  # lazy, see the module docstring

        backend = self._resolve()
        try:
            backend.set_password(self._service, entry, value)
        except keyring.errors.KeyringError as exc:
            raise self._unavailable(exc, "write") from exc

    def _read_version(self, entry: str) -> int | None:
        text = self._get(entry)
        if text is None:
            return None
        stripped = text.strip()
        if not (stripped.isascii() and stripped.isdigit()) or not in_range(int(stripped)):
            raise self._damaged(entry, "is not a key version number")
        return int(stripped)

    # ----------------------------------------------------------------- errors

    def _unavailable(self, exc: BaseException, operation: str) -> KeyStoreError:
        log_cause("secrets.keyring_failed", exc, operation=operation, service=self._service)
        return store_error(
            ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
            f"the OS keyring failed to {operation} a dashtam entry ({type(exc).__name__})",
            hint="Unlock the keyring and try again. " + BACKEND_HINT,
            details={"operation": operation, "cause": type(exc).__name__},
        )

    def _damaged(self, entry: str, reason: str) -> KeyStoreError:
        return store_error(
            ErrorCode.SECRETS_BACKEND_UNAVAILABLE,
            f"the keyring entry {entry!r} of service {self._service!r} {reason}",
            hint="Restore the entry from a backup of your keyring; do not delete it.",
        )
