"""Provider connections: one login at one provider, and its lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum, unique
from typing import Any
from uuid import UUID, uuid4

from dashtam_cli.domain.errors import ErrorCode, Result, fail, ok


@unique
class ConnectionStatus(StrEnum):
    """The six states of a connection (see domain.md)."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    FAILED = "failed"
    DISCONNECTED = "disconnected"


_S = ConnectionStatus
ALLOWED_TRANSITIONS: dict[ConnectionStatus, frozenset[ConnectionStatus]] = {
    _S.PENDING: frozenset({_S.ACTIVE, _S.FAILED}),
    _S.ACTIVE: frozenset({_S.EXPIRED, _S.REVOKED, _S.DISCONNECTED}),
    _S.EXPIRED: frozenset({_S.ACTIVE, _S.DISCONNECTED}),
    _S.REVOKED: frozenset({_S.ACTIVE, _S.DISCONNECTED}),
    _S.FAILED: frozenset({_S.ACTIVE, _S.DISCONNECTED}),
    _S.DISCONNECTED: frozenset(),
}


def connection_associated_data(connection_id: UUID) -> bytes:
    """The associated data binding a connection's encrypted credentials to that connection."""
    return connection_id.bytes


def secret_associated_data(name: str) -> bytes:
    """The associated data binding a named stored secret to its name."""
    return b"secret:" + name.encode()


@unique
class CredentialKind(StrEnum):
    """What the encrypted credential blob holds."""

    OAUTH2 = "oauth2"
    NONE = "none"


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderCredentials:
    """Encrypted, opaque credentials. ``repr`` never shows the ciphertext."""

    ciphertext: bytes = field(repr=False)
    kind: CredentialKind = CredentialKind.OAUTH2
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"ProviderCredentials(kind={self.kind.value}, "
            f"<{len(self.ciphertext)} encrypted bytes>, "
            f"access_expires_at={self.access_expires_at}, "
            f"refresh_expires_at={self.refresh_expires_at})"
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderConnection:
    """One login at one provider. Transitions return a new connection inside a Result."""

    provider: str
    alias: str
    status: ConnectionStatus = ConnectionStatus.PENDING
    credentials: ProviderCredentials | None = None
    connected_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_sync_status: str | None = None
    provider_state: dict[str, Any] = field(default_factory=dict)
    """Non-secret, provider-specific state (e.g. the demo's seed and clock); never credentials."""
    id: UUID = field(default_factory=uuid4)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def access_expires_at(self) -> datetime | None:
        """When the access token expires, if there is one."""
        return self.credentials.access_expires_at if self.credentials else None

    @property
    def refresh_expires_at(self) -> datetime | None:
        """When the refresh token (and so the login) expires, if there is one."""
        return self.credentials.refresh_expires_at if self.credentials else None

    def can_transition_to(self, target: ConnectionStatus) -> bool:
        """Whether the state machine allows ``self.status -> target``."""
        return target in ALLOWED_TRANSITIONS[self.status]

    def _move(self, target: ConnectionStatus, **changes: object) -> Result[ProviderConnection]:
        if not self.can_transition_to(target):
            return fail(
                ErrorCode.INVALID_TRANSITION,
                f"connection {self.alias!r} cannot go from {self.status.value} to {target.value}",
            )
        return ok(replace(self, status=target, **changes))  # type: ignore[arg-type]

    def activate(
        self, credentials: ProviderCredentials, *, now: datetime
    ) -> Result[ProviderConnection]:
        """Tokens obtained (first connect or re-connect): become ``active``."""
        return self._move(
            ConnectionStatus.ACTIVE, credentials=credentials, connected_at=now, updated_at=now
        )

    def mark_failed(self, *, now: datetime) -> Result[ProviderConnection]:
        """The connect flow failed."""
        return self._move(ConnectionStatus.FAILED, updated_at=now)

    def expire(self, *, now: datetime) -> Result[ProviderConnection]:
        """The refresh token died or a refresh was rejected: re-connect needed."""
        return self._move(ConnectionStatus.EXPIRED, updated_at=now)

    def revoke(self, *, now: datetime) -> Result[ProviderConnection]:
        """The provider rejected the tokens for another reason."""
        return self._move(ConnectionStatus.REVOKED, updated_at=now)

    def disconnect(self, *, now: datetime) -> Result[ProviderConnection]:
        """The user removed the connection: credentials are wiped, history is kept."""
        return self._move(ConnectionStatus.DISCONNECTED, credentials=None, updated_at=now)

    def with_credentials(
        self, credentials: ProviderCredentials, *, now: datetime
    ) -> ProviderConnection:
        """Replace the credentials without a state change (token refresh, key rotation)."""
        return replace(self, credentials=credentials, updated_at=now)

    def with_provider_state(self, state: dict[str, Any], *, now: datetime) -> ProviderConnection:
        """Replace the provider's non-secret state."""
        return replace(self, provider_state=dict(state), updated_at=now)

    def record_sync(self, *, status: str, at: datetime) -> ProviderConnection:
        """Remember the outcome of the latest sync."""
        return replace(self, last_sync_at=at, last_sync_status=status, updated_at=at)
