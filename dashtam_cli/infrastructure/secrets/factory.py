"""Choosing a key store from configuration, and checking one without touching it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from dashtam_cli.domain.errors import ErrorCode, Result, fail, ok
from dashtam_cli.domain.protocols import KeyStore
from dashtam_cli.infrastructure.secrets.env_store import EnvKeyStore
from dashtam_cli.infrastructure.secrets.file_store import FileKeyStore
from dashtam_cli.infrastructure.secrets.keyring_store import KeyringKeyStore

BACKENDS = ("keyring", "file", "env")
KEY_FILE_NAME = "keys.json"
KEYRING_LOCK_FILE_NAME = "keys.lock"
KEYRING_SERVICE = "dashtam"


@runtime_checkable
class ProbeableKeyStore(Protocol):
    """A key store that can check its backend without creating anything."""

    def probe(self) -> Result[None]:
        """Success when the backend is usable."""
        ...


def build_keystore(backend: str, *, config_dir: Path, master_key: str | None) -> Result[KeyStore]:
    """The key store for ``DASHTAM_SECRETS_BACKEND``.

    Building touches nothing (no keyring import, no file access): a backend that turns out to be
    unusable fails on first use and in :func:`probe`, so commands that need no secret still run.

    Args:
        backend: ``keyring``, ``file`` or ``env`` (case-insensitive).
        config_dir: the config directory (``keys.json`` for ``file``; the lock file for
            ``keyring``).
        master_key: the ``DASHTAM_MASTER_KEY`` value, used by ``env``.

    Returns:
        The key store, or ``config_invalid`` for an unknown backend name.
    """
    match backend.strip().lower():
        case "keyring":
            store: KeyStore = KeyringKeyStore(
                KEYRING_SERVICE, lock_path=config_dir / KEYRING_LOCK_FILE_NAME
            )
        case "file":
            store = FileKeyStore(config_dir / KEY_FILE_NAME)
        case "env":
            store = EnvKeyStore(master_key)
        case _:
            return fail(
                ErrorCode.CONFIG_INVALID,
                f"unknown secrets backend {backend!r}: expected one of {', '.join(BACKENDS)}",
                hint="Set DASHTAM_SECRETS_BACKEND to keyring, file or env.",
                details={"valid": ",".join(BACKENDS)},
            )
    return ok(store)


def probe(keystore: KeyStore) -> Result[None]:
    """Check that a key store's backend is usable, creating nothing (for ``dashtam status``).

    Returns:
        Nothing when usable; otherwise the failure its first use would return
        (``secrets_backend_unavailable``, ``secret_key_missing``, ``config_invalid``). A store
        that cannot probe itself (a test fake) counts as usable.
    """
    if isinstance(keystore, ProbeableKeyStore):
        return keystore.probe()
    return ok(None)
