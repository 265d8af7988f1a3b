"""The Schwab app's key and secret: from the environment, or asked once and stored encrypted.

``DASHTAM_SCHWAB_CLIENT_ID`` / ``DASHTAM_SCHWAB_CLIENT_SECRET`` (or ``config.toml``) win. When
one is unset, the database's secrets table is consulted (names ``schwab.client_id`` and
``schwab.client_secret``, each encrypted with the data key and bound to its name); when it is not
there either, ``providers connect`` asks for it once, hidden, and stores it the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final

import structlog
from pydantic import SecretStr

from dashtam_cli.domain.connections import secret_associated_data
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.protocols import StoredSecret
from dashtam_cli.infrastructure.providers.schwab.config import SchwabApp

if TYPE_CHECKING:
    from dashtam_cli.domain.protocols import Cipher, Clock, UnitOfWorkFactory
    from dashtam_cli.domain.providers import ConnectInteraction
    from dashtam_cli.settings import Settings

CLIENT_ID_NAME: Final = "schwab.client_id"
CLIENT_SECRET_NAME: Final = "schwab.client_secret"  # noqa: S105 (a name, not a secret)
CLIENT_ID_VARIABLE: Final = "DASHTAM_SCHWAB_CLIENT_ID"
CLIENT_SECRET_VARIABLE: Final = "DASHTAM_SCHWAB_CLIENT_SECRET"  # noqa: S105 (a name)
# Schwabdev's sanity check (schwab.md §1.1): usual lengths, not a rule.
_USUAL_ID_LENGTHS: Final = frozenset({32, 48})
_USUAL_SECRET_LENGTHS: Final = frozenset({16, 64})

_log = structlog.get_logger("dashtam.schwab")

_FIELDS: Final = (
    (CLIENT_ID_NAME, CLIENT_ID_VARIABLE, "Schwab app key (client id): ", _USUAL_ID_LENGTHS),
    (
        CLIENT_SECRET_NAME,
        CLIENT_SECRET_VARIABLE,
        "Schwab app secret: ",
        _USUAL_SECRET_LENGTHS,
    ),
)


def _plain(value: SecretStr | str | None) -> str | None:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return text.strip() or None if text is not None else None


class AppCredentialStore:
    """Finds the app key and secret (environment first, then the secrets table) or asks for them.

    Args:
        uow_factory: the database holding the secrets table.
        cipher: encrypts each value bound to its name (``secret_associated_data(name)``).
        clock: stamps stored secrets.
        client_id: the configured app key (``DASHTAM_SCHWAB_CLIENT_ID``), if any.
        client_secret: the configured app secret (``DASHTAM_SCHWAB_CLIENT_SECRET``), if any.
    """

    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        cipher: Cipher,
        clock: Clock,
        client_id: SecretStr | str | None = None,
        client_secret: SecretStr | str | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._cipher = cipher
        self._clock = clock
        self._configured = {
            CLIENT_ID_NAME: _plain(client_id),
            CLIENT_SECRET_NAME: _plain(client_secret),
        }

    def __repr__(self) -> str:
        configured = sorted(name for name, value in self._configured.items() if value)
        return f"AppCredentialStore(configured={configured})"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, uow_factory: UnitOfWorkFactory, cipher: Cipher, clock: Clock
    ) -> AppCredentialStore:
        """The store for the loaded settings."""
        return cls(
            uow_factory=uow_factory,
            cipher=cipher,
            clock=clock,
            client_id=settings.schwab_client_id,
            client_secret=settings.schwab_client_secret,
        )

    async def get(self) -> Result[SchwabApp | None, DomainError]:
        """The app key and secret when both are known (configured or stored), else None.

        Returns:
            The app, None when a value is missing, or the cipher's ``secret_*`` error when a
            stored value cannot be decrypted.
        """
        values = await self._known()
        if isinstance(values, Failure):
            return values
        client_id, client_secret = (
            values.value.get(CLIENT_ID_NAME),
            values.value.get(CLIENT_SECRET_NAME),
        )
        if client_id and client_secret:
            return ok(SchwabApp(client_id=client_id, client_secret=client_secret))
        return ok(None)

    async def obtain(self, interaction: ConnectInteraction) -> Result[SchwabApp, DomainError]:
        """The app key and secret, asking (hidden input) for the missing ones and storing them.

        Returns:
            The app; ``config_invalid`` naming the environment variables when a value is missing
            and nobody can answer (or the answer is blank); the cipher's ``secret_*`` errors.
        """
        known = await self._known()
        if isinstance(known, Failure):
            return known
        values = dict(known.value)
        missing = [field for field in _FIELDS if not values.get(field[0])]
        if missing:
            interaction.notice(
                "Dashtam needs your Schwab app's key and secret (developer.schwab.com, "
                "Dashboard, your app). They are stored encrypted in the Dashtam database; set "
                f"{CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE} instead to keep them out of it."
            )
        asked: dict[str, str] = {}
        for name, variable, prompt, usual in missing:
            answer = interaction.ask(prompt, secret=True)
            value = answer.strip() if answer is not None else ""
            if not value:
                return _not_configured(variable, asked=answer is not None)
            if len(value) not in usual:
                interaction.notice(
                    f"Note: that {'key' if name == CLIENT_ID_NAME else 'secret'} has "
                    f"{len(value)} characters; Schwab's are usually "
                    f"{' or '.join(str(n) for n in sorted(usual))}. Check it if the login fails."
                )
            asked[name] = value
        stored = await self._store(asked)
        if isinstance(stored, Failure):
            return stored
        values.update(asked)
        return ok(
            SchwabApp(client_id=values[CLIENT_ID_NAME], client_secret=values[CLIENT_SECRET_NAME])
        )

    async def forget(self) -> None:
        """Delete the stored key and secret (e.g. after Schwab rejected them)."""
        async with self._uow_factory() as uow:
            for name in (CLIENT_ID_NAME, CLIENT_SECRET_NAME):
                await uow.secrets.delete(name)
            await uow.commit()

    async def _known(self) -> Result[dict[str, str], DomainError]:
        """Configured values, completed from the secrets table."""
        values = {name: value for name, value in self._configured.items() if value}
        wanted = [name for name, _, _, _ in _FIELDS if name not in values]
        if not wanted:
            return ok(values)
        async with self._uow_factory() as uow:
            found = {name: await uow.secrets.get(name) for name in wanted}
        for name, secret in found.items():
            if secret is None:
                continue
            plain = self._cipher.decrypt(
                secret.ciphertext, associated_data=secret_associated_data(name)
            )
            if isinstance(plain, Failure):
                return plain
            try:
                text = plain.value.decode().strip()
            except UnicodeDecodeError:
                text = ""
            if text:
                values[name] = text
        return ok(values)

    async def _store(self, values: dict[str, str]) -> Result[None, DomainError]:
        if not values:
            return ok(None)
        now: datetime = self._clock.now()
        rows: list[StoredSecret] = []
        for name, value in values.items():
            blob = self._cipher.encrypt(
                value.encode(), associated_data=secret_associated_data(name)
            )
            if isinstance(blob, Failure):
                return blob
            rows.append(StoredSecret(name=name, ciphertext=blob.value, updated_at=now))
        async with self._uow_factory() as uow:
            for row in rows:
                await uow.secrets.put(row)
            await uow.commit()
        _log.info("schwab.app_credentials.stored", names=sorted(values))
        return ok(None)


def _not_configured(variable: str, *, asked: bool) -> Failure[DomainError]:
    what = "app key" if variable == CLIENT_ID_VARIABLE else "app secret"
    return fail(
        ErrorCode.CONFIG_INVALID,
        f"the Schwab {what} is not configured"
        + (" (the answer was empty)" if asked else " and cannot be asked for here"),
        hint=(
            f"set {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE} to your app's key and secret, "
            "or run `dashtam providers connect schwab` in a terminal to be asked for them"
        ),
        details={"variable": variable},
    )
