"""Provider logins: ``providers connect`` (the OAuth dance) and ``providers refresh``.

The provider adapter runs the browser/paste flow and the token exchange and hands back a
:class:`~dashtam_cli.domain.providers.ProviderGrant`; this module decides *which* connection the
grant belongs to, encrypts it, moves the connection's state machine and records the three-state
events. Re-connecting a login re-activates its existing connection (matched by the accounts the
login sees), so an expired login never leaves orphaned accounts behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from dashtam_cli.application.commands import ConnectProvider, RefreshConnection
from dashtam_cli.application.handlers.connections import validate_alias
from dashtam_cli.application.handlers.health import reconnect_command
from dashtam_cli.application.handlers.lookup import CONNECTIONS_COMMAND, resolve_connection
from dashtam_cli.domain.connections import (
    ConnectionStatus,
    CredentialKind,
    ProviderConnection,
    ProviderCredentials,
    connection_associated_data,
)
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.events import (
    ProviderConnectionAttempted,
    ProviderConnectionFailed,
    ProviderConnectionSucceeded,
)
from dashtam_cli.domain.protocols import Cipher, Clock, EventSink, UnitOfWork, UnitOfWorkFactory
from dashtam_cli.domain.providers import (
    OAuthProvider,
    Provider,
    ProviderGrant,
    ProviderRegistry,
    is_oauth_provider,
)

#: ``provider_state`` key holding the account identities a login saw when it connected.
IDENTITIES_KEY = "login_identities"


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectResult:
    """What ``providers connect`` did.

    Attributes:
        connection: the connection, now ``active``.
        created: True for a new connection, False when an existing one was re-activated.
        previous_status: the status it had before (None for a new connection).
        accounts_seen: how many accounts the login can see.
    """

    connection: ProviderConnection
    created: bool
    previous_status: ConnectionStatus | None
    accounts_seen: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RefreshResult:
    """What ``providers refresh`` did: the new expiries."""

    connection: ProviderConnection
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None


def _oauth_provider(registry: ProviderRegistry, slug: str) -> Result[OAuthProvider]:
    provider: Provider | None = registry.get(slug)
    if provider is None:
        known = ", ".join(s for s in registry.slugs() if s != "demo") or "none"
        return fail(
            ErrorCode.NOT_FOUND,
            f"no provider {slug!r} (providers you can connect: {known})",
            hint="dashtam providers connect schwab",
        )
    if not is_oauth_provider(provider):
        hint = "dashtam demo" if slug == "demo" else None
        return fail(
            ErrorCode.INVALID_ARGUMENT,
            f"the {provider.display_name} provider needs no login",
            hint=hint,
        )
    return ok(provider)  # type: ignore[arg-type]  # checked by is_oauth_provider


def _default_alias(slug: str, taken: set[str]) -> str:
    if slug not in taken:
        return slug
    n = 2
    while f"{slug}-{n}" in taken:
        n += 1
    return f"{slug}-{n}"


class ConnectProviderHandler:
    """Handle :class:`ConnectProvider`."""

    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        providers: ProviderRegistry,
        cipher: Cipher,
        events: EventSink,
        clock: Clock,
    ) -> None:
        self._uow_factory = uow_factory
        self._providers = providers
        self._cipher = cipher
        self._events = events
        self._clock = clock

    async def handle(self, command: ConnectProvider) -> Result[ConnectResult]:
        """Log in, then bind the tokens to a new or the matching existing connection.

        Publishes ``ProviderConnectionAttempted`` then ``...Succeeded`` / ``...Failed``.

        Returns:
            The result; ``not_found`` for an unknown provider, ``invalid_argument`` for a bad or
            taken alias, ``oauth_failed`` / ``config_invalid`` / ``invalid_url`` /
            ``provider_unavailable`` from the login itself, ``secrets_*`` when the tokens cannot
            be encrypted.
        """
        found = _oauth_provider(self._providers, command.provider)
        if isinstance(found, Failure):
            return found
        provider = found.value
        alias: str | None = None
        if command.alias is not None:
            checked = validate_alias(command.alias)
            if isinstance(checked, Failure):
                return checked
            alias = checked.value
        context: dict[str, object] = {"provider": provider.slug, "alias": alias}
        await self._events.publish(ProviderConnectionAttempted(context=context))
        granted = await provider.authorize(
            command.options, command.interaction, now=self._clock.now()
        )
        if isinstance(granted, Failure):
            return await self._failed(None, granted.error, context)
        bound = await self._bind(provider, alias, granted.value)
        if isinstance(bound, Failure):
            return await self._failed(None, bound.error, context)
        result = bound.value
        await self._events.publish(
            ProviderConnectionSucceeded(
                connection_id=result.connection.id,
                context={
                    **context,
                    "alias": result.connection.alias,
                    "created": result.created,
                    "previous_status": result.previous_status,
                    "accounts_seen": result.accounts_seen,
                },
            )
        )
        return ok(result)

    async def _failed(
        self, connection: ProviderConnection | None, error: DomainError, context: dict[str, object]
    ) -> Failure[DomainError]:
        await self._events.publish(
            ProviderConnectionFailed(
                connection_id=connection.id if connection else None,
                error_code=error.code,
                error_message=error.message,
                context=context,
            )
        )
        return Failure(error=error)

    async def _bind(
        self, provider: OAuthProvider, alias: str | None, grant: ProviderGrant
    ) -> Result[ConnectResult]:
        now = self._clock.now()
        async with self._uow_factory() as uow:
            connections = await uow.connections.list()
            existing = await self._matching(uow, provider.slug, connections, grant)
            if existing is None:
                taken = {c.alias for c in connections}
                if alias is not None and alias in taken:
                    other = next(c for c in connections if c.alias == alias)
                    return fail(
                        ErrorCode.INVALID_ARGUMENT,
                        f"the alias {alias!r} is already used by connection "
                        f"{str(other.id)[:8]} ({other.provider}), which is a different login",
                        hint=f"choose another alias; {CONNECTIONS_COMMAND} shows the ones in use",
                    )
                target = ProviderConnection(
                    provider=provider.slug,
                    alias=alias or _default_alias(provider.slug, taken),
                    created_at=now,
                    updated_at=now,
                )
                previous: ConnectionStatus | None = None
            else:
                target, previous = existing, existing.status
            credentials = self._encrypt(target, grant)
            if isinstance(credentials, Failure):
                return credentials
            moved = self._activate(target, credentials.value, now)
            if isinstance(moved, Failure):
                return moved
            # Remember which accounts the login sees, so a re-connect finds this connection even
            # before its first sync stored any account.
            state = {**moved.value.provider_state, IDENTITIES_KEY: sorted(grant.identities)}
            final = moved.value.with_provider_state(state, now=now)
            await uow.connections.save(final)
            await uow.commit()
        return ok(
            ConnectResult(
                connection=final,
                created=existing is None,
                previous_status=previous,
                accounts_seen=len(grant.identities),
            )
        )

    @staticmethod
    async def _matching(
        uow: UnitOfWork,
        slug: str,
        connections: Sequence[ProviderConnection],
        grant: ProviderGrant,
    ) -> ProviderConnection | None:
        """The live connection of this provider sharing an account with the login, if any."""
        if not grant.identities:
            return None
        best: tuple[int, ProviderConnection] | None = None
        for connection in connections:
            if connection.provider != slug or connection.status is ConnectionStatus.DISCONNECTED:
                continue
            accounts = await uow.accounts.list_for_connection(connection.id)
            known = {a.provider_account_id for a in accounts}
            known.update(str(i) for i in connection.provider_state.get(IDENTITIES_KEY, ()))
            shared = len(known & grant.identities)
            if shared and (best is None or shared > best[0]):
                best = (shared, connection)
        return best[1] if best else None

    def _encrypt(
        self, connection: ProviderConnection, grant: ProviderGrant
    ) -> Result[ProviderCredentials]:
        blob = self._cipher.encrypt(
            grant.secret, associated_data=connection_associated_data(connection.id)
        )
        if isinstance(blob, Failure):
            return blob
        return ok(
            ProviderCredentials(
                ciphertext=blob.value,
                kind=CredentialKind.OAUTH2,
                access_expires_at=grant.access_expires_at,
                refresh_expires_at=grant.refresh_expires_at,
            )
        )

    @staticmethod
    def _activate(
        connection: ProviderConnection, credentials: ProviderCredentials, now: datetime
    ) -> Result[ProviderConnection]:
        if connection.status is ConnectionStatus.ACTIVE:
            # A fresh login for a live connection: new tokens, a new 7-day window.
            return ok(
                replace(connection, credentials=credentials, connected_at=now, updated_at=now)
            )
        return connection.activate(credentials, now=now)


class RefreshConnectionHandler:
    """Handle :class:`RefreshConnection`."""

    def __init__(
        self, *, uow_factory: UnitOfWorkFactory, providers: ProviderRegistry, clock: Clock
    ) -> None:
        self._uow_factory = uow_factory
        self._providers = providers
        self._clock = clock

    async def handle(self, command: RefreshConnection) -> Result[RefreshResult]:
        """Refresh the access token now (the provider records the token-refresh events).

        Returns:
            The new expiries; ``not_found`` / ``ambiguous_id`` for the reference,
            ``invalid_argument`` for a provider without tokens, ``connection_not_active`` for an
            expired/revoked/disconnected connection, ``reauth_required`` when the provider
            refused the refresh token (the connection is then ``expired``).
        """
        async with self._uow_factory() as uow:
            found = resolve_connection(command.connection_ref, await uow.connections.list())
        if isinstance(found, Failure):
            return found
        connection = found.value
        provider = _oauth_provider(self._providers, connection.provider)
        if isinstance(provider, Failure):
            return provider
        if connection.status is not ConnectionStatus.ACTIVE:
            return fail(
                ErrorCode.CONNECTION_NOT_ACTIVE,
                f"connection {connection.alias!r} is {connection.status.value}: "
                "its tokens cannot be refreshed",
                hint=reconnect_command(connection)
                if connection.status is not ConnectionStatus.DISCONNECTED
                else None,
            )
        refreshed = await provider.value.refresh(connection, now=self._clock.now())
        if isinstance(refreshed, Failure):
            await mark_login_dead(self._uow_factory, connection, refreshed.error, self._clock)
            return refreshed
        latest = refreshed.value
        return ok(
            RefreshResult(
                connection=latest,
                access_expires_at=latest.access_expires_at,
                refresh_expires_at=latest.refresh_expires_at,
            )
        )


#: Error codes meaning the user must log in again.
LOGIN_DEAD_CODES = frozenset({ErrorCode.REAUTH_REQUIRED, ErrorCode.TOKEN_REVOKED})


async def mark_login_dead(
    uow_factory: UnitOfWorkFactory,
    connection: ProviderConnection,
    error: DomainError,
    clock: Clock,
) -> ProviderConnection | None:
    """Move a connection to ``expired`` (or ``revoked``) after the provider refused its login.

    Re-reads the connection first (the provider may have stored refreshed credentials). Does
    nothing for other errors or when the state machine does not allow the move.

    Returns:
        The saved connection, or None when nothing changed.
    """
    if error.code not in LOGIN_DEAD_CODES:
        return None
    now = clock.now()
    async with uow_factory() as uow:
        current = await uow.connections.get(connection.id) or connection
        moved = (
            current.revoke(now=now)
            if error.code is ErrorCode.TOKEN_REVOKED
            else current.expire(now=now)
        )
        if isinstance(moved, Failure):
            return None
        await uow.connections.save(moved.value)
        await uow.commit()
    return moved.value
