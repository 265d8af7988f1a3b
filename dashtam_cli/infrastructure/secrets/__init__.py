"""Secrets at rest: AES-256-GCM envelopes under versioned data keys.

The data keys live in one of three key stores, chosen by ``DASHTAM_SECRETS_BACKEND``:
``keyring`` (the OS keyring, the default), ``file`` (``<config dir>/keys.json``, mode 0600) or
``env`` (one key in ``DASHTAM_MASTER_KEY``). Build one with :func:`build_keystore`, wrap it in
:class:`AesGcmCipher`, and check it with :func:`probe`.

Associated data (the owner a ciphertext is bound to; a ciphertext presented for any other owner
fails with ``secret_decryption_failed``):

* connection credentials: ``connection.id.bytes`` (the 16 bytes of the connection's UUID);
* named stored secrets (the ``secrets`` table): ``b"secret:" + name.encode()``.

Use exactly these everywhere a secret is encrypted or decrypted, key rotation included.

Envelope: ``0x01 | key version (1..255) | 12-byte random nonce | ciphertext + 16-byte tag``; the
two header bytes are authenticated with the associated data. Decryption reads the key version
from the envelope, so secrets encrypted under an older key stay readable until that version is
retired. Key material never appears in a ``repr``, a log line or an error message.
"""

from __future__ import annotations

from dashtam_cli.infrastructure.secrets.cipher import AesGcmCipher, envelope_version
from dashtam_cli.infrastructure.secrets.env_store import EnvKeyStore, parse_master_key
from dashtam_cli.infrastructure.secrets.factory import (
    BACKENDS,
    KEY_FILE_NAME,
    ProbeableKeyStore,
    build_keystore,
    probe,
)
from dashtam_cli.infrastructure.secrets.file_store import FileKeyStore
from dashtam_cli.infrastructure.secrets.keyring_store import KeyringKeyStore

__all__ = [
    "BACKENDS",
    "KEY_FILE_NAME",
    "AesGcmCipher",
    "EnvKeyStore",
    "FileKeyStore",
    "KeyringKeyStore",
    "ProbeableKeyStore",
    "build_keystore",
    "envelope_version",
    "parse_master_key",
    "probe",
]
