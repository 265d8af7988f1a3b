"""Secrets at rest: the AES-GCM envelope and the keyring / file / env key stores."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keyring.backend import KeyringBackend

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.domain.protocols import DataKey, KeyStore
from dashtam_cli.infrastructure.secrets import (
    AesGcmCipher,
    EnvKeyStore,
    FileKeyStore,
    KeyringKeyStore,
    build_keystore,
    envelope_version,
    probe,
)
from tests.fakes import MemoryKeyStore

PLAINTEXT = b'{"access_token": "at-123", "refresh_token": "rt-456"}'
CONNECTION_ID = uuid4()
OWNER = CONNECTION_ID.bytes
GENERATED_KEY = base64.b64encode(bytes(range(32))).decode()


def value[T](result: Result[T]) -> T:
    assert isinstance(result, Success), result
    return result.value


def error(result: Result[object]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


def two_version_cipher() -> tuple[AesGcmCipher, bytes]:
    """A cipher whose store holds v1 (current) and v2, and a blob made under v1."""
    keys = MemoryKeyStore()
    value(keys.current())
    value(keys.create_next())
    cipher = AesGcmCipher(keys)
    return cipher, value(cipher.encrypt(PLAINTEXT, associated_data=OWNER))


# =========================================================================== the envelope


def test_round_trip_and_envelope_layout() -> None:
    cipher = AesGcmCipher(MemoryKeyStore())

    blob = value(cipher.encrypt(PLAINTEXT, associated_data=OWNER))
    again = value(cipher.encrypt(PLAINTEXT, associated_data=OWNER))

    assert value(cipher.decrypt(blob, associated_data=OWNER)) == PLAINTEXT
    assert blob[0] == 0x01
    assert envelope_version(blob) == 1
    assert len(blob) == 2 + 12 + len(PLAINTEXT) + 16
    assert blob[2:14] != again[2:14], "every encryption draws a fresh nonce"
    assert PLAINTEXT not in blob


def test_empty_plaintext_round_trips() -> None:
    cipher = AesGcmCipher(MemoryKeyStore())
    blob = value(cipher.encrypt(b"", associated_data=OWNER))
    assert value(cipher.decrypt(blob, associated_data=OWNER)) == b""


@given(data=st.data())
def test_flipping_any_byte_is_detected(data: st.DataObject) -> None:
    cipher, blob = two_version_cipher()
    position = data.draw(st.integers(0, len(blob) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(blob)
    tampered[position] ^= mask

    result = cipher.decrypt(bytes(tampered), associated_data=OWNER)

    if position == 1 and tampered[1] not in (0, 2):
        # The header now names a key version the store does not hold.
        assert error(result).code is ErrorCode.SECRET_KEY_MISSING
    else:
        assert error(result).code is ErrorCode.SECRET_DECRYPTION_FAILED


@given(length=st.integers(min_value=0, max_value=2 + 12 + len(PLAINTEXT) + 15))
def test_a_truncated_envelope_is_detected(length: int) -> None:
    cipher, blob = two_version_cipher()
    assert error(cipher.decrypt(blob[:length], associated_data=OWNER)).code is (
        ErrorCode.SECRET_DECRYPTION_FAILED
    )


def test_a_ciphertext_moved_to_another_owner_is_detected() -> None:
    cipher = AesGcmCipher(MemoryKeyStore())
    blob = value(cipher.encrypt(PLAINTEXT, associated_data=OWNER))
    secret = value(cipher.encrypt(b"client-secret", associated_data=b"secret:schwab.client"))

    moved = cipher.decrypt(blob, associated_data=uuid4().bytes)
    renamed = cipher.decrypt(secret, associated_data=b"secret:other")

    assert error(moved).code is ErrorCode.SECRET_DECRYPTION_FAILED
    assert error(renamed).code is ErrorCode.SECRET_DECRYPTION_FAILED


def test_a_blob_under_an_older_key_still_decrypts_after_a_new_key_is_current(
    tmp_path: Path,
) -> None:
    keys = FileKeyStore(tmp_path / "keys.json")
    cipher = AesGcmCipher(keys)
    old_blob = value(cipher.encrypt(PLAINTEXT, associated_data=OWNER))

    new = value(keys.create_next())
    value(keys.promote(new.version))
    new_blob = value(cipher.encrypt(b"fresh", associated_data=OWNER))

    assert (envelope_version(old_blob), envelope_version(new_blob)) == (1, 2)
    assert value(cipher.decrypt(old_blob, associated_data=OWNER)) == PLAINTEXT
    assert value(cipher.decrypt(new_blob, associated_data=OWNER)) == b"fresh"


def test_an_unknown_key_version_is_secret_key_missing() -> None:
    keys = MemoryKeyStore()
    cipher = AesGcmCipher(keys)
    foreign = cipher.encrypt_with(DataKey(7, os.urandom(32)), PLAINTEXT, associated_data=OWNER)

    failure = error(cipher.decrypt(foreign, associated_data=OWNER))

    assert failure.code is ErrorCode.SECRET_KEY_MISSING


def test_key_store_failures_pass_through_the_cipher() -> None:
    down = DomainError(code=ErrorCode.SECRETS_BACKEND_UNAVAILABLE, message="no keyring")
    keys = MemoryKeyStore()
    cipher = AesGcmCipher(keys)
    blob = value(cipher.encrypt(PLAINTEXT, associated_data=OWNER))
    keys.fail_with = down

    assert error(cipher.encrypt(PLAINTEXT, associated_data=OWNER)) == down
    assert error(cipher.decrypt(blob, associated_data=OWNER)) == down


@pytest.mark.parametrize("key", [DataKey(0, bytes(32)), DataKey(1, bytes(16))])
def test_encrypt_with_refuses_a_malformed_key(key: DataKey) -> None:
    with pytest.raises(ValueError, match="not a usable data key"):
        AesGcmCipher(MemoryKeyStore()).encrypt_with(key, PLAINTEXT, associated_data=OWNER)


def test_key_material_never_shows_in_a_repr(tmp_path: Path) -> None:
    stores: list[KeyStore] = [
        FileKeyStore(tmp_path / "keys.json"),
        EnvKeyStore(GENERATED_KEY),
    ]
    for store in stores:
        key = value(store.current())
        for text in (repr(key), repr(store), repr(AesGcmCipher(store))):
            assert base64.b64encode(key.material).decode() not in text
            assert key.material.hex() not in text
            assert repr(key.material) not in text


# =========================================================================== the file backend


def test_file_store_creates_a_private_key_file_and_directory(tmp_path: Path) -> None:
    path = tmp_path / "config" / "dashtam" / "keys.json"
    store = FileKeyStore(path)

    key = value(store.current())

    assert key.version == 1
    assert len(key.material) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["keys.json", "keys.json.lock"]
    document = json.loads(path.read_text())
    assert document["current"] == 1
    assert document["latest"] == 1
    assert base64.b64decode(document["keys"]["1"]) == key.material


def test_file_store_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = value(FileKeyStore(path).current())

    again = FileKeyStore(path)

    assert value(again.current()) == first
    assert value(again.get(1)) == first


def test_file_store_refuses_a_key_file_other_users_can_read(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    value(FileKeyStore(path).current())
    path.chmod(0o644)

    failure = error(FileKeyStore(path).current())

    assert failure.code is ErrorCode.SECRETS_BACKEND_UNAVAILABLE
    assert failure.hint is not None
    assert f"chmod 600 {path}" in failure.hint
    assert error(FileKeyStore(path).get(1)).code is ErrorCode.SECRETS_BACKEND_UNAVAILABLE
    assert error(probe(FileKeyStore(path))).code is ErrorCode.SECRETS_BACKEND_UNAVAILABLE


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"format": 1, "latest": "x"}'])
def test_file_store_refuses_a_damaged_key_file_and_leaves_it_alone(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(content)
    path.chmod(0o600)

    failure = error(FileKeyStore(path).current())

    assert failure.code is ErrorCode.SECRETS_BACKEND_UNAVAILABLE
    assert failure.hint is not None
    assert "backup" in failure.hint
    assert path.read_bytes() == content, "a damaged key file must never be overwritten"


def test_file_store_refuses_a_symlinked_key_file(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    value(FileKeyStore(real).current())
    link = tmp_path / "keys.json"
    link.symlink_to(real)

    assert error(FileKeyStore(link).current()).code is ErrorCode.SECRETS_BACKEND_UNAVAILABLE


def test_file_store_versions_only_grow_and_the_current_key_cannot_be_retired(
    tmp_path: Path,
) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    first = value(store.current())

    second = value(store.create_next())
    assert second.version == 2
    assert value(store.current()) == first, "a new version is not current until promoted"
    # A rotation whose promotion failed left v2 in use: the next one must not overwrite it.
    assert value(store.create_next()).version == 3
    assert value(store.get(2)) == second

    value(store.promote(2))
    assert error(store.retire(2)).code is ErrorCode.INVALID_ARGUMENT
    value(store.retire(1))
    value(store.retire(1))  # retiring an absent version is fine
    assert error(store.get(1)).code is ErrorCode.SECRET_KEY_MISSING
    assert value(store.create_next()).version == 4, "a version number is never reused"
    assert error(store.promote(9)).code is ErrorCode.SECRET_KEY_MISSING
    assert value(FileKeyStore(store.path).current()) == second


def test_file_store_probe_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config" / "keys.json"

    assert isinstance(probe(FileKeyStore(path)), Success)
    assert not path.parent.exists()


def test_file_store_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys.json")
    value(store.current())
    for _ in range(3):
        value(store.promote(value(store.create_next()).version))

    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json", "keys.json.lock"]
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600


# =========================================================================== the env backend


def test_env_store_serves_its_key_as_version_1() -> None:
    store = EnvKeyStore(GENERATED_KEY)

    key = value(store.current())

    assert (key.version, key.material) == (1, bytes(range(32)))
    assert value(store.get(1)) == key
    assert error(store.get(2)).code is ErrorCode.SECRET_KEY_MISSING
    assert isinstance(store.promote(1), Success)
    assert error(store.retire(1)).code is ErrorCode.INVALID_ARGUMENT
    assert isinstance(probe(store), Success)
    cipher = AesGcmCipher(store)
    blob = value(cipher.encrypt(PLAINTEXT, associated_data=OWNER))
    assert value(cipher.decrypt(blob, associated_data=OWNER)) == PLAINTEXT


def test_env_store_accepts_url_safe_base64_and_whitespace() -> None:
    material = bytes([0xFB, 0xFF] * 16)  # encodes with '+' and '/' in standard base64
    urlsafe = base64.urlsafe_b64encode(material).decode()

    assert value(EnvKeyStore(f"  {urlsafe}\n").current()).material == material


@pytest.mark.parametrize("unset", [None, "", "   "])
def test_env_store_without_a_key_says_how_to_make_one(unset: str | None) -> None:
    failure = error(EnvKeyStore(unset).current())

    assert failure.code is ErrorCode.SECRET_KEY_MISSING
    assert failure.hint is not None
    assert "base64.b64encode(os.urandom(32))" in failure.hint
    assert error(probe(EnvKeyStore(unset))) == failure


@pytest.mark.parametrize(
    "bad",
    [
        "not base64 at all!",
        base64.b64encode(os.urandom(16)).decode(),  # AES-128-sized
        base64.b64encode(os.urandom(33)).decode(),
    ],
)
def test_env_store_rejects_a_malformed_key_without_echoing_it(bad: str) -> None:
    failure = error(EnvKeyStore(bad).current())

    assert failure.code is ErrorCode.CONFIG_INVALID
    assert "DASHTAM_MASTER_KEY" in failure.message
    assert bad not in failure.message
    assert bad not in (failure.hint or "")


def test_env_store_cannot_rotate_and_says_which_backend_can() -> None:
    failure = error(EnvKeyStore(GENERATED_KEY).create_next())

    assert failure.code is ErrorCode.INVALID_ARGUMENT
    assert failure.hint is not None
    assert "DASHTAM_SECRETS_BACKEND=file" in failure.hint
    assert "keyring" in failure.hint


# =========================================================================== the keyring backend


class MemoryKeyring(KeyringBackend):
    """A recommended (priority 1) keyring that lives in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.entries[(service, username)]


class LockedKeyring(MemoryKeyring):
    """A keyring whose every operation fails the way a locked Secret Service does."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("locked")


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    """Put back whatever keyring backend was active before the test."""
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring(restore_keyring: None) -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.mark.parametrize(
    "unusable",
    [keyring.backends.fail.Keyring, keyring.backends.null.Keyring],
    ids=["fail", "null"],
)
@pytest.mark.usefixtures("restore_keyring")
def test_keyring_store_without_a_usable_keyring_points_to_file_and_env(
    unusable: type[KeyringBackend],
) -> None:
    keyring.set_keyring(unusable())
    store = KeyringKeyStore()

    failures = [error(store.current()), error(store.create_next()), error(probe(store))]

    for failure in failures:
        assert failure.code is ErrorCode.SECRETS_BACKEND_UNAVAILABLE
        assert failure.hint is not None
        assert "DASHTAM_SECRETS_BACKEND=file" in failure.hint
        assert "DASHTAM_MASTER_KEY" in failure.hint


@pytest.mark.usefixtures("restore_keyring")
def test_keyring_store_translates_keyring_errors() -> None:
    keyring.set_keyring(LockedKeyring())

    failure = error(KeyringKeyStore().current())

    assert failure.code is ErrorCode.SECRETS_BACKEND_UNAVAILABLE
    assert failure.details["cause"] == "KeyringLocked"
    assert failure.hint is not None
    assert "DASHTAM_SECRETS_BACKEND=file" in failure.hint


def test_keyring_store_keeps_versions_in_keyring_entries(
    memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    store = KeyringKeyStore("dashtam-test", lock_path=tmp_path / "keys.lock")

    assert isinstance(probe(store), Success)
    assert memory_keyring.entries == {}, "probing creates nothing"

    first = value(store.current())
    entries = memory_keyring.entries
    assert entries[("dashtam-test", "data-key-current")] == "1"
    assert base64.b64decode(entries[("dashtam-test", "data-key-v1")]) == first.material
    assert value(KeyringKeyStore("dashtam-test").current()) == first

    second = value(store.create_next())
    value(store.promote(second.version))
    value(store.retire(first.version))

    fresh = KeyringKeyStore("dashtam-test")
    assert value(fresh.current()) == second
    assert error(fresh.get(1)).code is ErrorCode.SECRET_KEY_MISSING
    assert ("dashtam-test", "data-key-v1") not in entries
    assert value(fresh.create_next()).version == 3
    assert stat.S_IMODE((tmp_path / "keys.lock").stat().st_mode) == 0o600


def test_keyring_store_refuses_a_damaged_entry(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.entries[("dashtam", "data-key-current")] = "one"

    failure = error(KeyringKeyStore().current())

    assert failure.code is ErrorCode.SECRETS_BACKEND_UNAVAILABLE
    assert memory_keyring.entries == {("dashtam", "data-key-current"): "one"}


# =========================================================================== factory


def test_build_keystore_picks_the_configured_backend(tmp_path: Path) -> None:
    built = {
        name: value(build_keystore(name, config_dir=tmp_path, master_key=GENERATED_KEY))
        for name in ("keyring", "FILE ", "env")
    }

    assert isinstance(built["keyring"], KeyringKeyStore)
    assert isinstance(built["FILE "], FileKeyStore)
    assert built["FILE "].path == tmp_path / "keys.json"
    assert isinstance(built["env"], EnvKeyStore)
    assert [store.backend for store in built.values()] == ["keyring", "file", "env"]
    assert list(tmp_path.iterdir()) == [], "building touches nothing"


def test_build_keystore_rejects_an_unknown_backend(tmp_path: Path) -> None:
    failure = error(build_keystore("vault", config_dir=tmp_path, master_key=None))

    assert failure.code is ErrorCode.CONFIG_INVALID
    assert "keyring, file, env" in failure.message


def test_importing_the_secrets_package_stays_light() -> None:
    probe_code = (
        "import sys, dashtam_cli.infrastructure.secrets\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'keyring', 'cryptography', 'structlog', 'filelock'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe_code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
