"""Key rotation: everything re-encrypted under the new key, and nothing lost when a step fails."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from dashtam_cli.application.commands import RotateKeys
from dashtam_cli.application.handlers.keys import (
    KeyRotationReport,
    RotateKeysHandler,
)
from dashtam_cli.domain.connections import (
    ConnectionStatus,
    ProviderConnection,
    ProviderCredentials,
    connection_associated_data,
    secret_associated_data,
)
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.domain.events import (
    KeyRotationAttempted,
    KeyRotationFailed,
    KeyRotationSucceeded,
)
from dashtam_cli.domain.protocols import StoredSecret
from dashtam_cli.infrastructure.secrets import AesGcmCipher, envelope_version
from tests.fakes import (
    FrozenClock,
    InMemoryUnitOfWorkFactory,
    MemoryKeyStore,
    RecordingEventSink,
)

TOKENS = {"alpha": b'{"refresh_token": "rt-alpha"}', "beta": b'{"refresh_token": "rt-beta"}'}
SECRETS = {"schwab.client_id": b"app-key", "schwab.client_secret": b"app-secret"}


@dataclass
class World:
    factory: InMemoryUnitOfWorkFactory
    keys: MemoryKeyStore
    cipher: AesGcmCipher
    events: RecordingEventSink
    clock: FrozenClock

    def handler(self) -> RotateKeysHandler:
        return RotateKeysHandler(
            uow_factory=self.factory,
            keys=self.keys,
            cipher=self.cipher,
            events=self.events,
            clock=self.clock,
        )

    async def rotate(self) -> Result[KeyRotationReport]:
        return await self.handler().handle(RotateKeys())

    def blobs(self) -> dict[str, bytes]:
        """Every committed ciphertext, by owner."""
        state = self.factory.state
        blobs = {
            c.alias: c.credentials.ciphertext
            for c in state.connections.values()
            if c.credentials is not None
        }
        return blobs | {name: s.ciphertext for name, s in state.secrets.items()}

    def plaintexts(self) -> dict[str, bytes]:
        """Every committed secret, decrypted with the owner it must be bound to."""
        state = self.factory.state
        out: dict[str, bytes] = {}
        for c in state.connections.values():
            if c.credentials is not None:
                ad = connection_associated_data(c.id)
                out[c.alias] = unwrap(
                    self.cipher.decrypt(c.credentials.ciphertext, associated_data=ad)
                )
        for name, s in state.secrets.items():
            ad = secret_associated_data(name)
            out[name] = unwrap(self.cipher.decrypt(s.ciphertext, associated_data=ad))
        return out


def unwrap[T](result: Result[T]) -> T:
    assert isinstance(result, Success), result
    return result.value


@pytest.fixture
def world() -> World:
    """Two connected logins, one disconnected one and two stored secrets, all under key v1."""
    keys = MemoryKeyStore()
    cipher = AesGcmCipher(keys)
    clock = FrozenClock()
    factory = InMemoryUnitOfWorkFactory()
    state = factory.state
    for alias, token in TOKENS.items():
        connection = ProviderConnection(
            provider="schwab", alias=alias, status=ConnectionStatus.ACTIVE, created_at=clock.now()
        )
        blob = unwrap(
            cipher.encrypt(token, associated_data=connection_associated_data(connection.id))
        )
        state.connections[connection.id] = replace(
            connection, credentials=ProviderCredentials(ciphertext=blob)
        )
    gone = ProviderConnection(provider="demo", alias="gone", status=ConnectionStatus.DISCONNECTED)
    state.connections[gone.id] = gone
    for name, plaintext in SECRETS.items():
        blob = unwrap(cipher.encrypt(plaintext, associated_data=secret_associated_data(name)))
        state.secrets[name] = StoredSecret(name=name, ciphertext=blob)
    return World(factory, keys, cipher, RecordingEventSink(), clock)


def versions(blobs: dict[str, bytes]) -> set[int | None]:
    return {envelope_version(blob) for blob in blobs.values()}


# =========================================================================== success


async def test_rotation_reencrypts_everything_and_retires_the_old_key(world: World) -> None:
    world.clock.advance(timedelta(days=3))

    report = unwrap(await world.rotate())

    assert report == KeyRotationReport(
        old_version=1,
        new_version=2,
        credentials_reencrypted=2,
        secrets_reencrypted=2,
        retired_versions=(1,),
    )
    assert versions(world.blobs()) == {2}
    assert world.plaintexts() == TOKENS | SECRETS
    assert sorted(world.keys.keys) == [2]
    assert world.keys.current_version == 2
    assert all(
        c.updated_at == world.clock.now()
        for c in world.factory.state.connections.values()
        if c.credentials is not None
    )
    assert all(s.updated_at == world.clock.now() for s in world.factory.state.secrets.values())
    assert world.factory.store.commits == 1


async def test_rotation_publishes_attempted_then_succeeded_with_counts(world: World) -> None:
    await world.rotate()

    assert world.events.names == ["KeyRotationAttempted", "KeyRotationSucceeded"]
    succeeded = world.events.of_type(KeyRotationSucceeded)[0]
    assert succeeded.context["credentials_reencrypted"] == 2
    assert succeeded.context["secrets_reencrypted"] == 2
    assert succeeded.context["new_version"] == 2
    assert succeeded.context["retired_versions"] == [1]


async def test_old_keys_are_retired_only_after_the_commit_and_the_promotion(world: World) -> None:
    seen: list[tuple[int, int, int | None, set[int | None]]] = []

    class Observing(MemoryKeyStore):
        def retire(self, version: int) -> Result[None]:
            snapshot = (version, world.factory.store.commits, self.current_version)
            seen.append((*snapshot, versions(world.blobs())))
            return super().retire(version)

    keys = Observing()
    keys.keys, keys.current_version, keys.latest = dict(world.keys.keys), 1, 1
    world.keys = keys
    world.cipher = AesGcmCipher(keys)

    unwrap(await world.rotate())

    assert seen == [(1, 1, 2, {2})]


async def test_a_second_rotation_retires_only_what_is_still_held(world: World) -> None:
    unwrap(await world.rotate())

    report = unwrap(await world.rotate())

    assert (report.old_version, report.new_version, report.retired_versions) == (2, 3, (2,))
    assert world.plaintexts() == TOKENS | SECRETS


async def test_rotating_with_nothing_stored_still_replaces_the_key() -> None:
    keys = MemoryKeyStore()
    events = RecordingEventSink()
    handler = RotateKeysHandler(
        uow_factory=InMemoryUnitOfWorkFactory(),
        keys=keys,
        cipher=AesGcmCipher(keys),
        events=events,
        clock=FrozenClock(),
    )

    report = unwrap(await handler.handle(RotateKeys()))

    assert (report.old_version, report.new_version, report.retired_versions) == (1, 2, (1,))
    assert (report.credentials_reencrypted, report.secrets_reencrypted) == (0, 0)


# =========================================================================== failures


@pytest.mark.parametrize("victim", ["beta", "schwab.client_secret"])
async def test_an_unreadable_secret_stops_the_rotation_and_changes_nothing(
    world: World, victim: str
) -> None:
    state = world.factory.state
    if victim in SECRETS:
        # Encrypted for another owner: decrypting it as this secret must fail.
        moved = unwrap(world.cipher.encrypt(b"x", associated_data=secret_associated_data("other")))
        state.secrets[victim] = StoredSecret(name=victim, ciphertext=moved)
    else:
        connection = next(c for c in state.connections.values() if c.alias == victim)
        assert connection.credentials is not None
        damaged = bytearray(connection.credentials.ciphertext)
        damaged[-1] ^= 0x01
        state.connections[connection.id] = replace(
            connection, credentials=ProviderCredentials(ciphertext=bytes(damaged))
        )
    before = world.blobs()

    result = await world.rotate()

    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.SECRET_DECRYPTION_FAILED
    assert "nothing was changed" in result.error.message
    assert world.blobs() == before, "every stored blob is untouched"
    assert world.factory.store.commits == 0
    assert world.keys.current_version == 1
    assert sorted(world.keys.keys) == [1]
    assert world.events.names == ["KeyRotationAttempted", "KeyRotationFailed"]
    failed = world.events.of_type(KeyRotationFailed)[0]
    assert failed.error_code is ErrorCode.SECRET_DECRYPTION_FAILED


async def test_a_failure_to_promote_after_the_commit_loses_nothing(world: World) -> None:
    world.keys.fail_with = DomainError(
        code=ErrorCode.SECRETS_BACKEND_UNAVAILABLE, message="keyring locked", hint="Unlock it."
    )
    world.keys.fail_methods = frozenset({"promote"})

    result = await world.rotate()

    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.SECRETS_BACKEND_UNAVAILABLE
    assert result.error.hint is not None
    assert "dashtam keys rotate" in result.error.hint
    assert versions(world.blobs()) == {2}, "the commit stands"
    assert world.plaintexts() == TOKENS | SECRETS, "and everything is still readable"
    assert world.keys.current_version == 1
    assert sorted(world.keys.keys) == [1, 2]
    assert not [call for call in world.keys.calls if call[0] == "retire"]
    assert world.events.names == ["KeyRotationAttempted", "KeyRotationFailed"]

    world.keys.fail_with = None
    report = unwrap(await world.rotate())

    assert (report.new_version, report.retired_versions) == (3, (1, 2))
    assert world.plaintexts() == TOKENS | SECRETS


async def test_a_key_store_that_cannot_rotate_fails_before_touching_data(world: World) -> None:
    world.keys.fail_with = DomainError(code=ErrorCode.INVALID_ARGUMENT, message="env backend")
    world.keys.fail_methods = frozenset({"create_next"})
    before = world.blobs()

    result = await world.rotate()

    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.INVALID_ARGUMENT
    assert world.blobs() == before
    assert world.factory.created == []
    assert [type(e) for e in world.events.events] == [KeyRotationAttempted, KeyRotationFailed]


async def test_a_crash_at_commit_is_recorded_and_keeps_the_new_key(world: World) -> None:
    world.factory.fail_commit = RuntimeError("disk gone")
    before = world.blobs()

    with pytest.raises(RuntimeError, match="disk gone"):
        await world.rotate()

    assert world.blobs() == before
    # The commit's outcome is unknown to the handler, so the new key must survive.
    assert sorted(world.keys.keys) == [1, 2]
    assert world.keys.current_version == 1
    failed = world.events.of_type(KeyRotationFailed)
    assert len(failed) == 1
    assert failed[0].error_code is ErrorCode.INTERNAL
