"""The ``env`` backend: one data key (version 1) from ``DASHTAM_MASTER_KEY``.

For containers and CI, where there is no keyring and the key comes from a secret manager. It
holds a single key, so it cannot rotate: re-encrypting needs the old and the new key at once.
"""

from __future__ import annotations

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.protocols import DataKey
from dashtam_cli.infrastructure.secrets._common import decode_material

ENV_VERSION = 1
GENERATE_COMMAND = 'python3 -c "import base64,os;print(base64.b64encode(os.urandom(32)).decode())"'
GENERATE_HINT = (
    f"Generate a key with `{GENERATE_COMMAND}` and export it as DASHTAM_MASTER_KEY; keep it "
    "safe, since losing it loses every stored credential."
)


def parse_master_key(value: str | None) -> Result[DataKey]:
    """Validate a ``DASHTAM_MASTER_KEY`` value (base64 of 32 random bytes) without echoing it.

    Returns:
        Key version 1; ``secret_key_missing`` when unset or empty, ``config_invalid`` when it is
        not base64 or not 32 bytes long.
    """
    if value is None or not value.strip():
        return fail(
            ErrorCode.SECRET_KEY_MISSING,
            "DASHTAM_MASTER_KEY is not set, and the env secrets backend needs it",
            hint=GENERATE_HINT,
        )
    material = decode_material(value)
    if material is None:
        return fail(
            ErrorCode.CONFIG_INVALID,
            "DASHTAM_MASTER_KEY is not a base64-encoded 32-byte key",
            hint=GENERATE_HINT,
        )
    return ok(DataKey(version=ENV_VERSION, material=material))


class EnvKeyStore:
    """The single data key given in the environment.

    Args:
        value: the ``DASHTAM_MASTER_KEY`` value (None when unset). An invalid value does not
            raise: every method returns the validation failure.
    """

    def __init__(self, value: str | None) -> None:
        parsed = parse_master_key(value)
        self._key: DataKey | None = None if isinstance(parsed, Failure) else parsed.value
        self._error: DomainError | None = parsed.error if isinstance(parsed, Failure) else None

    def __repr__(self) -> str:
        return f"EnvKeyStore(configured={self._key is not None})"

    @property
    def backend(self) -> str:
        """``env``."""
        return "env"

    def current(self) -> Result[DataKey]:
        """The key from ``DASHTAM_MASTER_KEY`` (version 1), or why it is unusable."""
        if self._key is None:
            return self._invalid()
        return ok(self._key)

    def get(self, version: int) -> Result[DataKey]:
        """Version 1; any other version is ``secret_key_missing``."""
        if self._key is None:
            return self._invalid()
        if version != ENV_VERSION:
            return fail(
                ErrorCode.SECRET_KEY_MISSING,
                f"the env key store holds only data key version {ENV_VERSION}, not {version}",
                hint=(
                    "This secret was encrypted by another secrets backend: set "
                    "DASHTAM_SECRETS_BACKEND back to it, or reconnect the provider."
                ),
                details={"key_version": str(version), "backend": "env"},
            )
        return ok(self._key)

    def create_next(self) -> Result[DataKey]:
        """Always fails: one environment variable holds one key, and rotation needs two."""
        if self._key is None:
            return self._invalid()
        return fail(
            ErrorCode.INVALID_ARGUMENT,
            "the env secrets backend cannot rotate keys: re-encrypting needs the old and the new "
            "key at once, and DASHTAM_MASTER_KEY holds one",
            hint=(
                "Use DASHTAM_SECRETS_BACKEND=file or keyring to rotate keys (credentials stored "
                "under the env key must then be reconnected with `dashtam providers connect`)."
            ),
        )

    def promote(self, version: int) -> Result[None]:
        """Version 1 is already current; any other version is ``secret_key_missing``."""
        key = self.get(version)
        return key if isinstance(key, Failure) else ok(None)

    def retire(self, version: int) -> Result[None]:
        """Retiring the only key is refused; other versions are not held, so that succeeds."""
        if self._key is None:
            return self._invalid()
        if version == ENV_VERSION:
            return fail(
                ErrorCode.INVALID_ARGUMENT,
                "the DASHTAM_MASTER_KEY key is the current key and cannot be retired",
            )
        return ok(None)

    def probe(self) -> Result[None]:
        """Whether ``DASHTAM_MASTER_KEY`` holds a valid key."""
        return self._invalid() if self._key is None else ok(None)

    def _invalid(self) -> Failure[DomainError]:
        assert self._error is not None  # set whenever _key is None
        return Failure(error=self._error)
