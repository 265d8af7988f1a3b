"""AES-256-GCM envelopes for secrets at rest.

Layout of a ciphertext (all in one ``bytes`` value)::

    0x01 | key version (1 byte, 1..255) | nonce (12 random bytes) | ciphertext + 16-byte GCM tag

The two header bytes are authenticated together with the caller's associated data
(``header + associated_data`` is the GCM AAD); the nonce is authenticated by GCM itself. So a
changed byte anywhere, a truncated blob, or a blob presented for another owner fails to decrypt.
"""

from __future__ import annotations

import os

from dashtam_cli.domain.errors import ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.protocols import DataKey, KeyStore
from dashtam_cli.infrastructure.secrets._common import KEY_BYTES, in_range

FORMAT_V1 = 0x01
HEADER_BYTES = 2
NONCE_BYTES = 12
TAG_BYTES = 16
MIN_ENVELOPE_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES

_TAMPERED_HINT = (
    "Run `dashtam providers connect` again for the affected connection to store fresh "
    "credentials; if many secrets fail, check DASHTAM_SECRETS_BACKEND and the key store."
)


def envelope_version(blob: bytes) -> int | None:
    """The key version named in a ciphertext's header, or None when it is no envelope of ours."""
    if len(blob) < MIN_ENVELOPE_BYTES or blob[0] != FORMAT_V1 or not in_range(blob[1]):
        return None
    return blob[1]


class AesGcmCipher:
    """Authenticated encryption with the versioned data keys of a :class:`KeyStore`.

    Args:
        keystore: where the data keys live; ``encrypt`` uses the current key, ``decrypt`` the
            version named in the ciphertext.
    """

    def __init__(self, keystore: KeyStore) -> None:
        self._keystore = keystore

    def __repr__(self) -> str:
        return f"AesGcmCipher(backend={self._keystore.backend!r})"

    def encrypt(self, plaintext: bytes, *, associated_data: bytes) -> Result[bytes]:
        """Encrypt under the current key.

        Args:
            plaintext: the secret.
            associated_data: the owner the ciphertext is bound to (see the package docstring).

        Returns:
            The envelope, or the key store's failure (``secrets_backend_unavailable``, ...).
        """
        key = self._keystore.current()
        if isinstance(key, Failure):
            return key
        return ok(self.encrypt_with(key.value, plaintext, associated_data=associated_data))

    def encrypt_with(self, key: DataKey, plaintext: bytes, *, associated_data: bytes) -> bytes:
        """Encrypt under ``key`` (key rotation), with a fresh random nonce.

        Raises:
            ValueError: for a key that is not a 256-bit key with a version in 1..255 (a bug).
        """
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # lazy: ~30 ms

        if not in_range(key.version) or len(key.material) != KEY_BYTES:
            raise ValueError(f"not a usable data key (version {key.version})")
        header = bytes((FORMAT_V1, key.version))
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key.material).encrypt(nonce, plaintext, header + associated_data)
        return header + nonce + sealed

    def decrypt(self, blob: bytes, *, associated_data: bytes) -> Result[bytes]:
        """Decrypt with the key version named in the blob.

        Args:
            blob: an envelope made by :meth:`encrypt` / :meth:`encrypt_with`.
            associated_data: the owner it must have been encrypted for.

        Returns:
            The plaintext; ``secret_decryption_failed`` when the blob was altered, truncated or
            made for another owner; ``secret_key_missing`` when its key version is not in the
            store (or the store's own failure when the store is unusable).
        """
        from cryptography.exceptions import InvalidTag  # lazy: ~20 ms
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        version = envelope_version(blob)
        if version is None:
            return _tampered("it is not a dashtam secret envelope (damaged or truncated)")
        key = self._keystore.get(version)
        if isinstance(key, Failure):
            return key
        if len(key.value.material) != KEY_BYTES:
            return _tampered(f"data key version {version} is not a 256-bit key", version)
        header, nonce = blob[:HEADER_BYTES], blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            plaintext = AESGCM(key.value.material).decrypt(
                nonce, blob[HEADER_BYTES + NONCE_BYTES :], header + associated_data
            )
        except InvalidTag:
            return _tampered("it was altered, or it belongs to another owner", version)
        return ok(plaintext)


def _tampered(reason: str, version: int | None = None) -> Failure:
    return fail(
        ErrorCode.SECRET_DECRYPTION_FAILED,
        f"an encrypted secret could not be decrypted: {reason}",
        hint=_TAMPERED_HINT,
        details={} if version is None else {"key_version": str(version)},
    )
