"""Schwab tokens: the token set, its encrypted storage, and the refreshing token source.

Lifetimes (schwab.md §1.7): the access token lives 30 minutes; the refresh token about 7 days
from the *code exchange* — refreshing does not extend it, and Schwab sends no expiry for it, so
``refresh_expires_at`` is computed once, at the exchange, and carried through every refresh.

Only one token chain per app and user is live, and every process using a connection shares its
stored tokens. A refresh therefore runs under a cross-process lock (see
:mod:`dashtam_cli.infrastructure.locks`), re-reads the stored tokens inside it (another process
may have refreshed meanwhile: then its tokens are used and nothing is POSTed), and persists the
new tokens at once, in their own transaction.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog

from dashtam_cli.domain.connections import (
    CredentialKind,
    ProviderConnection,
    ProviderCredentials,
    connection_associated_data,
)
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.events import (
    ProviderTokenRefreshAttempted,
    ProviderTokenRefreshFailed,
    ProviderTokenRefreshSucceeded,
)
from dashtam_cli.domain.providers import ProviderGrant
from dashtam_cli.infrastructure.providers.schwab.errors import reconnect_hint

if TYPE_CHECKING:
    from dashtam_cli.domain.protocols import Cipher, Clock, EventSink, UnitOfWorkFactory
    from dashtam_cli.infrastructure.locks import RefreshLockFactory
    from dashtam_cli.infrastructure.providers.schwab.oauth import OAuthClient

REFRESH_TOKEN_LIFETIME = timedelta(days=7)
"""How long a login lasts from the code exchange (Schwab enforces it; refreshes don't extend it)."""
DEFAULT_LEEWAY = timedelta(minutes=5)
"""Refresh the access token when less than this is left."""
TOKEN_FORMAT_VERSION = 1

_log = structlog.get_logger("dashtam.schwab")


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenSet:
    """Schwab's tokens and their expiries (all instants timezone-aware UTC). ``repr`` hides tokens.

    Attributes:
        access_token: the bearer token for the Trader API.
        refresh_token: the token that obtains new access tokens until ``refresh_expires_at``.
        access_expires_at: when the access token expires (from ``expires_in``).
        refresh_expires_at: code exchange + 7 days; never moved by a refresh.
        obtained_at: when the code was exchanged (the start of the login).
        refreshed_at: when the access token was last refreshed (None before the first refresh).
    """

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime
    obtained_at: datetime
    refreshed_at: datetime | None = None

    def __repr__(self) -> str:
        return (
            "TokenSet(access_token=<hidden>, refresh_token=<hidden>, "
            f"access_expires_at={self.access_expires_at.isoformat()}, "
            f"refresh_expires_at={self.refresh_expires_at.isoformat()}, "
            f"obtained_at={self.obtained_at.isoformat()}, "
            f"refreshed_at={None if self.refreshed_at is None else self.refreshed_at.isoformat()})"
        )

    def needs_refresh(self, now: datetime, *, leeway: timedelta = DEFAULT_LEEWAY) -> bool:
        """True when the access token expires within ``leeway`` of ``now`` (or already has)."""
        return self.access_expires_at - leeway <= now

    def login_expired(self, now: datetime) -> bool:
        """True when the refresh token's lifetime (by our clock) is over."""
        return self.refresh_expires_at <= now

    def to_bytes(self) -> bytes:
        """The JSON plaintext to encrypt (never log or print it)."""
        payload = {
            "version": TOKEN_FORMAT_VERSION,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": self.access_expires_at.isoformat(),
            "refresh_expires_at": self.refresh_expires_at.isoformat(),
            "obtained_at": self.obtained_at.isoformat(),
            "refreshed_at": None if self.refreshed_at is None else self.refreshed_at.isoformat(),
        }
        return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Result[TokenSet, DomainError]:
        """Parse what :meth:`to_bytes` wrote.

        Returns:
            The tokens, or ``reauth_required`` when the plaintext is not a token set we wrote
            (the only fix is a new login).
        """
        try:
            payload = json.loads(data, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError):
            return _unreadable("they are not valid JSON")
        if not isinstance(payload, dict) or payload.get("version") != TOKEN_FORMAT_VERSION:
            return _unreadable("their format is unknown")
        access = payload.get("access_token")
        refresh = payload.get("refresh_token")
        if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
            return _unreadable("a token is missing")
        access_expires_at = _parse_instant(payload.get("access_expires_at"))
        refresh_expires_at = _parse_instant(payload.get("refresh_expires_at"))
        obtained_at = _parse_instant(payload.get("obtained_at"))
        raw_refreshed = payload.get("refreshed_at")
        refreshed_at = None if raw_refreshed is None else _parse_instant(raw_refreshed)
        if (
            access_expires_at is None
            or refresh_expires_at is None
            or obtained_at is None
            or (raw_refreshed is not None and refreshed_at is None)
        ):
            return _unreadable("an expiry is not a timezone-aware instant")
        return ok(
            cls(
                access_token=access,
                refresh_token=refresh,
                access_expires_at=access_expires_at,
                refresh_expires_at=refresh_expires_at,
                obtained_at=obtained_at,
                refreshed_at=refreshed_at,
            )
        )

    def to_grant(self, identities: frozenset[str]) -> ProviderGrant:
        """The grant handed to the connect handler (the serialized tokens as its secret)."""
        return ProviderGrant(
            secret=self.to_bytes(),
            access_expires_at=self.access_expires_at,
            refresh_expires_at=self.refresh_expires_at,
            identities=identities,
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _parse_instant(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _unreadable(why: str) -> Failure[DomainError]:
    return fail(
        ErrorCode.REAUTH_REQUIRED,
        f"the stored Schwab tokens cannot be read ({why}); the login must be renewed",
        hint=reconnect_hint(None),
    )


class CredentialVault:
    """Loads and stores a connection's tokens, encrypted and bound to the connection's id.

    Args:
        uow_factory: the database.
        cipher: encrypts with ``connection_associated_data(connection.id)``.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, cipher: Cipher) -> None:
        self._uow_factory = uow_factory
        self._cipher = cipher

    def decrypt(self, connection: ProviderConnection) -> Result[TokenSet, DomainError]:
        """The tokens held in a connection object's credentials (no database access).

        Returns:
            The tokens; ``reauth_required`` when the connection holds no OAuth credentials or
            they are unreadable; the cipher's ``secret_*`` errors when decryption fails.
        """
        credentials = connection.credentials
        hint = reconnect_hint(connection.alias)
        if credentials is None or credentials.kind is not CredentialKind.OAUTH2:
            return fail(
                ErrorCode.REAUTH_REQUIRED,
                f"connection {connection.alias!r} holds no Schwab tokens",
                hint=hint,
            )
        plain = self._cipher.decrypt(
            credentials.ciphertext, associated_data=connection_associated_data(connection.id)
        )
        if isinstance(plain, Failure):
            return plain
        parsed = TokenSet.from_bytes(plain.value)
        if isinstance(parsed, Failure):
            return fail(parsed.error.code, parsed.error.message, hint=hint)
        return parsed

    def encrypt(
        self, connection_id: UUID, tokens: TokenSet
    ) -> Result[ProviderCredentials, DomainError]:
        """The credentials to store for ``tokens`` (bound to ``connection_id``)."""
        blob = self._cipher.encrypt(
            tokens.to_bytes(), associated_data=connection_associated_data(connection_id)
        )
        if isinstance(blob, Failure):
            return blob
        return ok(
            ProviderCredentials(
                ciphertext=blob.value,
                kind=CredentialKind.OAUTH2,
                access_expires_at=tokens.access_expires_at,
                refresh_expires_at=tokens.refresh_expires_at,
            )
        )

    async def load(
        self, connection_id: UUID
    ) -> Result[tuple[ProviderConnection, TokenSet], DomainError]:
        """Read the stored connection and decrypt its tokens (a fresh read, in its own transaction).

        Returns:
            The connection and its tokens; ``not_found`` for an unknown id; see :meth:`decrypt`.
        """
        async with self._uow_factory() as uow:
            connection = await uow.connections.get(connection_id)
        if connection is None:
            return fail(ErrorCode.NOT_FOUND, f"no connection with id {connection_id}")
        tokens = self.decrypt(connection)
        if isinstance(tokens, Failure):
            return tokens
        return ok((connection, tokens.value))

    async def store(
        self, connection: ProviderConnection, tokens: TokenSet, *, now: datetime
    ) -> Result[ProviderConnection, DomainError]:
        """Encrypt ``tokens`` into the connection's credentials and commit at once.

        The stored row is re-read first and only its credentials change, so concurrent updates
        of other columns (sync status, alias) are kept. An absent row is inserted as given.

        Returns:
            The connection as saved; the cipher's ``secret_*`` errors when encryption fails.
        """
        credentials = self.encrypt(connection.id, tokens)
        if isinstance(credentials, Failure):
            return credentials
        async with self._uow_factory() as uow:
            current = await uow.connections.get(connection.id) or connection
            updated = current.with_credentials(credentials.value, now=now)
            await uow.connections.save(updated)
            await uow.commit()
        return ok(updated)


class SchwabTokenSource:
    """Hands out valid access tokens for one connection, refreshing them when needed.

    Implements the Trader API client's ``AccessTokenSource``. A refresh takes the connection's
    cross-process lock, re-reads the stored tokens, POSTs the refresh grant only when they still
    need it, persists the result at once and publishes ``ProviderTokenRefresh*`` events.

    Args:
        connection: the connection (with encrypted credentials) to serve.
        oauth: the token-endpoint client.
        vault: the encrypted token storage.
        lock: makes the connection's refresh lock.
        events: where the refresh events go.
        clock: the time (UTC).
        leeway: refresh when less than this is left of the access token.
    """

    def __init__(
        self,
        *,
        connection: ProviderConnection,
        oauth: OAuthClient,
        vault: CredentialVault,
        lock: RefreshLockFactory,
        events: EventSink,
        clock: Clock,
        leeway: timedelta = DEFAULT_LEEWAY,
    ) -> None:
        self._connection = connection
        self._oauth = oauth
        self._vault = vault
        self._lock = lock
        self._events = events
        self._clock = clock
        self._leeway = leeway
        self._tokens: TokenSet | None = None
        self._serial = asyncio.Lock()

    @property
    def connection(self) -> ProviderConnection:
        """The latest connection, carrying the newest stored credentials."""
        return self._connection

    @property
    def tokens(self) -> TokenSet | None:
        """The tokens in use (None before the first call)."""
        return self._tokens

    async def access_token(self) -> Result[str, DomainError]:
        """A valid access token: the current one, or a refreshed one when < ``leeway`` is left."""
        async with self._serial:
            current = self._current()
            if isinstance(current, Failure):
                return current
            if not current.value.needs_refresh(self._clock.now(), leeway=self._leeway):
                return ok(current.value.access_token)
            return await self._refresh(stale=None)

    async def force_refresh(self) -> Result[str, DomainError]:
        """Refresh now (after a 401), unless another process already replaced the rejected token."""
        async with self._serial:
            current = self._current()
            if isinstance(current, Failure):
                return current
            return await self._refresh(stale=current.value.access_token)

    def _current(self) -> Result[TokenSet, DomainError]:
        if self._tokens is None:
            decrypted = self._vault.decrypt(self._connection)
            if isinstance(decrypted, Failure):
                return decrypted
            self._tokens = decrypted.value
        return ok(self._tokens)

    def _adopt(self, connection: ProviderConnection, tokens: TokenSet) -> str:
        self._connection = connection
        self._tokens = tokens
        return tokens.access_token

    async def _refresh(self, *, stale: str | None) -> Result[str, DomainError]:
        """Refresh under the lock. ``stale``: the token a 401 rejected (forced refresh)."""
        reason = "expiring" if stale is None else "forced"
        lock = self._lock(self._connection.id)
        taken = await lock.acquire()
        if isinstance(taken, Failure):
            await self._attempt_failed(self._connection, taken.error, reason=reason, step="lock")
            return taken
        try:
            loaded = await self._vault.load(self._connection.id)
            if isinstance(loaded, Failure):
                error = _with_hint(loaded.error, self._connection.alias)
                await self._attempt_failed(self._connection, error, reason=reason, step="load")
                return Failure(error=error)
            connection, stored = loaded.value
            now = self._clock.now()
            already = (
                stored.access_token != stale
                if stale is not None
                else not stored.needs_refresh(now, leeway=self._leeway)
            )
            if already:  # another process refreshed while we waited for the lock
                _log.info("schwab.token.refreshed_elsewhere", connection_id=str(connection.id))
                return ok(self._adopt(connection, stored))
            return await self._post_refresh(connection, stored, now, reason=reason)
        finally:
            await lock.release()

    async def _post_refresh(
        self, connection: ProviderConnection, stored: TokenSet, now: datetime, *, reason: str
    ) -> Result[str, DomainError]:
        context = _event_context(connection, reason)
        await self._events.publish(
            ProviderTokenRefreshAttempted(connection_id=connection.id, context=context)
        )
        refreshed = await self._oauth.refresh(stored, now=now, alias=connection.alias)
        if isinstance(refreshed, Failure):
            await self._failed(connection, refreshed.error, reason=reason, step="refresh")
            return refreshed
        tokens = refreshed.value
        saved = await self._vault.store(connection, tokens, now=now)
        if isinstance(saved, Failure):
            await self._failed(connection, saved.error, reason=reason, step="store")
            return saved
        await self._events.publish(
            ProviderTokenRefreshSucceeded(
                connection_id=connection.id,
                context={
                    **context,
                    "access_expires_at": tokens.access_expires_at.isoformat(),
                    "refresh_expires_at": tokens.refresh_expires_at.isoformat(),
                },
            )
        )
        _log.info(
            "schwab.token.refreshed",
            connection_id=str(connection.id),
            access_expires_at=tokens.access_expires_at.isoformat(),
            refresh_expires_at=tokens.refresh_expires_at.isoformat(),
        )
        return ok(self._adopt(saved.value, tokens))

    async def _attempt_failed(
        self, connection: ProviderConnection, error: DomainError, *, reason: str, step: str
    ) -> None:
        """Record a refresh that failed before reaching Schwab (Attempted, then Failed)."""
        await self._events.publish(
            ProviderTokenRefreshAttempted(
                connection_id=connection.id, context=_event_context(connection, reason)
            )
        )
        await self._failed(connection, error, reason=reason, step=step)

    async def _failed(
        self, connection: ProviderConnection, error: DomainError, *, reason: str, step: str
    ) -> None:
        await self._events.publish(
            ProviderTokenRefreshFailed(
                connection_id=connection.id,
                context={**_event_context(connection, reason), "step": step},
                error_code=error.code,
                error_message=error.message,
            )
        )
        _log.info(
            "schwab.token.refresh_failed",
            connection_id=str(connection.id),
            error_code=error.code.value,
            step=step,
        )


def _event_context(connection: ProviderConnection, reason: str) -> dict[str, object]:
    return {"provider": connection.provider, "alias": connection.alias, "reason": reason}


def _with_hint(error: DomainError, alias: str) -> DomainError:
    if error.code is ErrorCode.REAUTH_REQUIRED:
        return replace(error, hint=reconnect_hint(alias))
    return error
