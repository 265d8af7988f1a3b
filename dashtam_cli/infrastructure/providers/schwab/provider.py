"""The Charles Schwab provider: the port's face of the OAuth, token and Trader API pieces.

Module-level imports are kept light (no httpx, no cryptography): the registry builds this class
for every sync, and the heavy modules load only when a Schwab connection is actually used.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dashtam_cli.domain.connections import ProviderConnection, secret_associated_data
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.protocols import StoredSecret
from dashtam_cli.domain.providers import (
    AuthorizationOptions,
    ConnectInteraction,
    ProviderCapabilities,
    ProviderGrant,
    ProviderSession,
)

if TYPE_CHECKING:
    import httpx

    from dashtam_cli.domain.protocols import Cipher, Clock, EventSink, UnitOfWorkFactory
    from dashtam_cli.infrastructure.locks import RefreshLockFactory
    from dashtam_cli.infrastructure.providers.schwab.app_credentials import AppCredentialStore
    from dashtam_cli.infrastructure.providers.schwab.config import SchwabApp, SchwabEndpoints
    from dashtam_cli.infrastructure.providers.schwab.oauth import OAuthClient

#: The stored secret salting account identities (``provider_account_id``) of this installation.
IDENTITY_SALT_NAME = "schwab.identity_salt"

#: Schwab's history rules (schwab.md §2.1): one year per request, walk back until two empty years.
SCHWAB_CAPABILITIES = ProviderCapabilities(
    max_window=timedelta(days=365),
    history_limit=None,
    empty_span_stop=timedelta(days=730),
    overlap=timedelta(days=7),
    oauth=True,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class SchwabConfig:
    """What the provider needs from the settings (plain values; the secret's repr is hidden).

    Attributes:
        auth_url: the OAuth base (``DASHTAM_SCHWAB_AUTH_URL``).
        api_url: the Trader API base (``DASHTAM_SCHWAB_API_URL``).
        callback_url: the registered callback (``DASHTAM_SCHWAB_CALLBACK_URL``), exactly.
        client_id: ``DASHTAM_SCHWAB_CLIENT_ID`` when set.
        client_secret: ``DASHTAM_SCHWAB_CLIENT_SECRET`` when set.
        empty_years: on a first sync, stop walking back after this many empty years.
    """

    auth_url: str = "https://api.schwabapi.com/v1/oauth"
    api_url: str = "https://api.schwabapi.com/trader/v1"
    callback_url: str = "https://127.0.0.1:8182"
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    empty_years: int = 2


class _StaticToken:
    """A token source for the moment right after a login (nothing to refresh yet)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self) -> Result[str, DomainError]:
        return ok(self._token)

    async def force_refresh(self) -> Result[str, DomainError]:
        return fail(
            ErrorCode.OAUTH_FAILED,
            "Schwab refused the access token it has just issued",
            hint="try `dashtam providers connect schwab` again in a minute",
        )


class _Session:
    """The Schwab session plus the token-endpoint client it refreshes through."""

    def __init__(self, inner: Any, oauth: OAuthClient) -> None:
        self._inner = inner
        self._oauth = oauth

    @property
    def connection(self) -> ProviderConnection:
        return self._inner.connection  # type: ignore[no-any-return]

    async def fetch_accounts(self) -> Any:
        return await self._inner.fetch_accounts()

    async def fetch_transactions(self, account: Any, start: datetime, end: datetime) -> Any:
        return await self._inner.fetch_transactions(account, start, end)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            await self._oauth.aclose()


class SchwabProvider:
    """The ``schwab`` provider (implements ``OAuthProvider``).

    Args:
        config: endpoints, callback and (optionally) the app key/secret from the environment.
        uow_factory: the database (connections, secrets).
        cipher: encrypts tokens (bound to the connection) and stored secrets (bound to the name).
        events: receives the token-refresh events.
        clock: UTC time.
        refresh_lock: makes the cross-process refresh lock of a connection.
        auth_transport: an httpx transport for the token endpoint (tests).
        api_transport: an httpx transport for the Trader API (tests).
    """

    def __init__(
        self,
        *,
        config: SchwabConfig,
        uow_factory: UnitOfWorkFactory,
        cipher: Cipher,
        events: EventSink,
        clock: Clock,
        refresh_lock: RefreshLockFactory,
        auth_transport: httpx.AsyncBaseTransport | None = None,
        api_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = config
        self._uow_factory = uow_factory
        self._cipher = cipher
        self._events = events
        self._clock = clock
        self._refresh_lock = refresh_lock
        self._auth_transport = auth_transport
        self._api_transport = api_transport
        self._capabilities = ProviderCapabilities(
            max_window=SCHWAB_CAPABILITIES.max_window,
            empty_span_stop=timedelta(days=365 * max(1, config.empty_years)),
            overlap=SCHWAB_CAPABILITIES.overlap,
            oauth=True,
        )

    @property
    def slug(self) -> str:
        """``schwab``."""
        return "schwab"

    @property
    def display_name(self) -> str:
        """``Charles Schwab``."""
        return "Charles Schwab"

    @property
    def capabilities(self) -> ProviderCapabilities:
        """One-year windows, history walked back until two empty years, OAuth tokens."""
        return self._capabilities

    # ------------------------------------------------------------------------------ plumbing

    def _app_store(self) -> AppCredentialStore:
        from dashtam_cli.infrastructure.providers.schwab.app_credentials import (
            AppCredentialStore,
        )

        return AppCredentialStore(
            uow_factory=self._uow_factory,
            cipher=self._cipher,
            clock=self._clock,
            client_id=self._config.client_id,
            client_secret=self._config.client_secret,
        )

    def _endpoints(self, callback_url: str | None = None) -> SchwabEndpoints:
        from dashtam_cli.infrastructure.providers.schwab.config import SchwabEndpoints

        return SchwabEndpoints(
            auth_url=self._config.auth_url,
            api_url=self._config.api_url,
            callback_url=callback_url or self._config.callback_url,
        )

    def _oauth(self, app: SchwabApp, endpoints: SchwabEndpoints) -> OAuthClient:
        from dashtam_cli.infrastructure.providers.schwab.oauth import OAuthClient

        return OAuthClient(app=app, endpoints=endpoints, transport=self._auth_transport)

    async def _configured_app(self, connection: ProviderConnection) -> Result[SchwabApp]:
        found = await self._app_store().get()
        if isinstance(found, Failure):
            return found
        if found.value is None:
            return fail(
                ErrorCode.CONFIG_INVALID,
                "the Schwab app key and secret are not configured",
                hint="set DASHTAM_SCHWAB_CLIENT_ID and DASHTAM_SCHWAB_CLIENT_SECRET, or run "
                f"`dashtam providers connect schwab --alias {connection.alias}` on a terminal",
            )
        return ok(found.value)

    async def identity_salt(self) -> Result[bytes]:
        """This installation's salt for account identities (created, encrypted, on first use)."""
        aad = secret_associated_data(IDENTITY_SALT_NAME)
        async with self._uow_factory() as uow:
            stored = await uow.secrets.get(IDENTITY_SALT_NAME)
            if stored is not None:
                return self._cipher.decrypt(stored.ciphertext, associated_data=aad)
            salt = secrets.token_bytes(32)
            blob = self._cipher.encrypt(salt, associated_data=aad)
            if isinstance(blob, Failure):
                return blob
            await uow.secrets.put(
                StoredSecret(
                    name=IDENTITY_SALT_NAME, ciphertext=blob.value, updated_at=self._clock.now()
                )
            )
            await uow.commit()
        return ok(salt)

    def _token_source(self, connection: ProviderConnection, oauth: OAuthClient) -> Any:
        from dashtam_cli.infrastructure.providers.schwab.tokens import (
            CredentialVault,
            SchwabTokenSource,
        )

        return SchwabTokenSource(
            connection=connection,
            oauth=oauth,
            vault=CredentialVault(self._uow_factory, self._cipher),
            lock=self._refresh_lock,
            events=self._events,
            clock=self._clock,
        )

    def _api(self, tokens: Any) -> Any:
        from dashtam_cli.infrastructure.providers.schwab.api import TraderApi

        return TraderApi(
            base_url=self._config.api_url, tokens=tokens, transport=self._api_transport
        )

    # ------------------------------------------------------------------------------ the port

    async def open_session(
        self, connection: ProviderConnection, *, now: datetime
    ) -> Result[ProviderSession, DomainError]:
        """Decrypt the tokens, refresh them if < 5 min are left, and open the Trader API.

        Returns:
            The session; ``config_invalid`` without app credentials, ``reauth_required`` when the
            login is over, ``secret_*`` when the tokens cannot be decrypted.
        """
        from dashtam_cli.infrastructure.providers.schwab.session import SchwabSession

        app = await self._configured_app(connection)
        if isinstance(app, Failure):
            return app
        salt = await self.identity_salt()
        if isinstance(salt, Failure):
            return salt
        oauth = self._oauth(app.value, self._endpoints())
        tokens = self._token_source(connection, oauth)
        first = await tokens.access_token()
        if isinstance(first, Failure):
            await oauth.aclose()
            return Failure(error=first.error)
        session = SchwabSession(
            api=self._api(tokens),
            connection=lambda: tokens.connection,
            identity_salt=salt.value,
        )
        return ok(_Session(session, oauth))

    async def authorize(
        self, options: AuthorizationOptions, interaction: ConnectInteraction, *, now: datetime
    ) -> Result[ProviderGrant, DomainError]:
        """Check the callback URL, get the app credentials, run the login, list the accounts."""
        from dashtam_cli.infrastructure.providers.schwab.authorize import run_authorization
        from dashtam_cli.infrastructure.providers.schwab.config import validate_callback_url
        from dashtam_cli.infrastructure.providers.schwab.identity import account_identity

        callback = validate_callback_url(options.callback_url or self._config.callback_url)
        if isinstance(callback, Failure):
            return callback
        app = await self._app_store().obtain(interaction)
        if isinstance(app, Failure):
            return app
        interaction.notice(
            "The callback URL registered with your Schwab app must be exactly: "
            f"{callback.value.url}"
        )
        salt = await self.identity_salt()
        if isinstance(salt, Failure):
            return salt
        async with self._oauth(app.value, self._endpoints(callback.value.url)) as oauth:
            tokens = await run_authorization(
                oauth=oauth,
                callback=callback.value,
                options=options,
                interaction=interaction,
                now=now,
            )
        if isinstance(tokens, Failure):
            return tokens
        api = self._api(_StaticToken(tokens.value.access_token))
        try:
            numbers = await api.account_numbers()
        finally:
            await api.aclose()
        if isinstance(numbers, Failure):
            error = numbers.error
            return fail(
                error.code,
                f"logged in, but the list of accounts could not be read: {error.message}",
                hint="run `dashtam providers connect schwab` again; nothing was stored",
                details=error.details,
            )
        identities = frozenset(
            account_identity(str(row["accountNumber"]), salt.value)
            for row in numbers.value
            if row.get("accountNumber")
        )
        return ok(tokens.value.to_grant(identities))

    async def refresh(
        self, connection: ProviderConnection, *, now: datetime
    ) -> Result[ProviderConnection, DomainError]:
        """Refresh the access token now; the new credentials are already stored."""
        app = await self._configured_app(connection)
        if isinstance(app, Failure):
            return app
        async with self._oauth(app.value, self._endpoints()) as oauth:
            tokens = self._token_source(connection, oauth)
            refreshed = await tokens.force_refresh()
        if isinstance(refreshed, Failure):
            return Failure(error=refreshed.error)
        latest: ProviderConnection = tokens.connection
        return ok(latest)
