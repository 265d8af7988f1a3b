"""Key rotation: re-encrypt every stored secret under a new data key, then retire the old ones.

Associated data (the owner a ciphertext is bound to) is the same everywhere a secret is encrypted
or decrypted: :func:`connection_associated_data` for a connection's credentials and
:func:`secret_associated_data` for a named stored secret.

Order of work, chosen so that no failure can lose a secret:

1. ``KeyRotationAttempted`` is published (audited at once, in its own transaction).
2. A new key version is created, but not made current.
3. In one unit of work every credential and stored secret is decrypted (each envelope names its
   own key version) and re-encrypted under the new key; then the unit of work commits. Any
   failure here rolls everything back: the old key stays current, every blob is untouched, and
   the unused new version is retired again.
4. The new version is promoted to current. If that fails the re-encrypted data is still readable
   (the new key is in the store and each envelope names it); rotating again finishes the job.
5. Every older version is retired: nothing is encrypted under them any more.
6. ``KeyRotationSucceeded`` (with the counts) or ``KeyRotationFailed`` (with the error code).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dashtam_cli.application.commands import RotateKeys
from dashtam_cli.domain.connections import connection_associated_data, secret_associated_data
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.events import (
    KeyRotationAttempted,
    KeyRotationFailed,
    KeyRotationSucceeded,
)
from dashtam_cli.domain.protocols import (
    Cipher,
    Clock,
    DataKey,
    EventSink,
    KeyStore,
    StoredSecret,
    UnitOfWorkFactory,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyRotationReport:
    """What a key rotation did.

    Attributes:
        old_version: the key version that was current before.
        new_version: the key version that is current now.
        credentials_reencrypted: connection credentials re-encrypted under the new key.
        secrets_reencrypted: named stored secrets re-encrypted under the new key.
        retired_versions: older versions this rotation removed from the key store.
        unretired_versions: older versions whose retirement failed: nothing uses them any more,
            but their keys are still in the store (rotating again retires them).
    """

    old_version: int
    new_version: int
    credentials_reencrypted: int
    secrets_reencrypted: int
    retired_versions: tuple[int, ...]
    unretired_versions: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class _Counts:
    credentials: int
    secrets: int


class RotateKeysHandler:
    """Handle :class:`RotateKeys` (``dashtam keys rotate``)."""

    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        keys: KeyStore,
        cipher: Cipher,
        events: EventSink,
        clock: Clock,
    ) -> None:
        self._uow_factory = uow_factory
        self._keys = keys
        self._cipher = cipher
        self._events = events
        self._clock = clock

    async def handle(self, command: RotateKeys) -> Result[KeyRotationReport]:
        """Rotate the data key.

        Returns:
            The report; or the failure that stopped the rotation: the key store's errors
            (``secrets_backend_unavailable``, ``invalid_argument`` for the env backend, which
            cannot rotate), ``secret_decryption_failed`` / ``secret_key_missing`` for a stored
            secret that cannot be read (nothing is changed then).
        """
        context: dict[str, object] = {"backend": self._keys.backend}
        await self._events.publish(KeyRotationAttempted(context=context))
        try:
            result = await self._rotate()
        except Exception as exc:
            # A bug or an adapter exception: record the failure, then let it propagate. The new
            # key is NOT retired here: the commit may have happened.
            await self._events.publish(
                KeyRotationFailed(
                    error_code=ErrorCode.INTERNAL,
                    error_message=f"key rotation crashed ({type(exc).__name__})",
                    context=context,
                )
            )
            raise
        if isinstance(result, Failure):
            await self._events.publish(
                KeyRotationFailed(
                    error_code=result.error.code,
                    error_message=result.error.message,
                    context=context,
                )
            )
            return result
        report = result.value
        await self._events.publish(
            KeyRotationSucceeded(
                context={
                    **context,
                    "old_version": report.old_version,
                    "new_version": report.new_version,
                    "credentials_reencrypted": report.credentials_reencrypted,
                    "secrets_reencrypted": report.secrets_reencrypted,
                    "retired_versions": list(report.retired_versions),
                    "unretired_versions": list(report.unretired_versions),
                }
            )
        )
        return result

    async def _rotate(self) -> Result[KeyRotationReport]:
        old = self._keys.current()
        if isinstance(old, Failure):
            return old
        new = self._keys.create_next()
        if isinstance(new, Failure):
            return new
        counts = await self._reencrypt_all(new.value)
        if isinstance(counts, Failure):
            # Rolled back: nothing was written under the new key, so forgetting it is safe.
            discarded = self._keys.retire(new.value.version)
            if isinstance(discarded, Failure):
                import structlog  # lazy: keeps structlog off the CLI start-up path

                structlog.get_logger(__name__).warning(
                    "keys.unused_version_not_retired",
                    key_version=new.value.version,
                    error_code=discarded.error.code.value,
                )
            return counts
        promoted = self._keys.promote(new.value.version)
        if isinstance(promoted, Failure):
            return self._promotion_failed(promoted.error, new.value.version)
        retired, unretired = self._retire_older_than(new.value.version)
        return ok(
            KeyRotationReport(
                old_version=old.value.version,
                new_version=new.value.version,
                credentials_reencrypted=counts.value.credentials,
                secrets_reencrypted=counts.value.secrets,
                retired_versions=tuple(retired),
                unretired_versions=tuple(unretired),
            )
        )

    def _retire_older_than(self, version: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Retire every version below ``version`` still held: ``(retired, failed)``."""
        retired: list[int] = []
        failed: list[int] = []
        for old in range(1, version):
            held = self._keys.get(old)
            if isinstance(held, Failure) and held.error.code is ErrorCode.SECRET_KEY_MISSING:
                continue  # retired before, or never stored
            outcome = held if isinstance(held, Failure) else self._keys.retire(old)
            (failed if isinstance(outcome, Failure) else retired).append(old)
        return tuple(retired), tuple(failed)

    async def _reencrypt_all(self, new: DataKey) -> Result[_Counts]:
        now = self._clock.now()
        credentials = secrets = 0
        async with self._uow_factory() as uow:
            for connection in await uow.connections.list():
                if connection.credentials is None:
                    continue
                blob = self._reencrypt(
                    new,
                    connection.credentials.ciphertext,
                    connection_associated_data(connection.id),
                    owner=f"the credentials of connection {connection.alias!r}",
                    details={"connection_id": str(connection.id)},
                )
                if isinstance(blob, Failure):
                    await uow.rollback()
                    return blob
                credentials_now = replace(connection.credentials, ciphertext=blob.value)
                await uow.connections.save(connection.with_credentials(credentials_now, now=now))
                credentials += 1
            for secret in await uow.secrets.list():
                blob = self._reencrypt(
                    new,
                    secret.ciphertext,
                    secret_associated_data(secret.name),
                    owner=f"the stored secret {secret.name!r}",
                    details={"secret": secret.name},
                )
                if isinstance(blob, Failure):
                    await uow.rollback()
                    return blob
                await uow.secrets.put(
                    StoredSecret(name=secret.name, ciphertext=blob.value, updated_at=now)
                )
                secrets += 1
            await uow.commit()
        return ok(_Counts(credentials=credentials, secrets=secrets))

    def _reencrypt(
        self,
        new: DataKey,
        blob: bytes,
        associated_data: bytes,
        *,
        owner: str,
        details: dict[str, str],
    ) -> Result[bytes]:
        plaintext = self._cipher.decrypt(blob, associated_data=associated_data)
        if isinstance(plaintext, Failure):
            error = plaintext.error
            return fail(
                error.code,
                f"key rotation stopped, nothing was changed: {owner} could not be decrypted "
                f"({error.message})",
                hint=error.hint,
                details={**error.details, **details},
            )
        return ok(self._cipher.encrypt_with(new, plaintext.value, associated_data=associated_data))

    @staticmethod
    def _promotion_failed(error: DomainError, version: int) -> Failure[DomainError]:
        return fail(
            error.code,
            f"every secret was re-encrypted under data key version {version}, but it could not "
            f"be made current ({error.message}); nothing is lost",
            hint=" ".join(
                part for part in (error.hint, "Then run `dashtam keys rotate` again.") if part
            ),
            details={**error.details, "new_version": str(version)},
        )
