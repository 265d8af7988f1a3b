"""A connection's health as ``status``, ``providers list`` and the dashboard show it.

Kept apart from the connection and system handlers, and light to import: the dashboard's
overview needs these two functions on its first paint, not the commands, events and ports those
handlers bring in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from dashtam_cli.domain.connections import ConnectionStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dashtam_cli.application.query_results import ConnectionHealth, ConnectionSummary
    from dashtam_cli.domain.accounts import Account
    from dashtam_cli.domain.connections import ProviderConnection
    from dashtam_cli.domain.protocols import Clock

#: Warn about a login that dies within this window (Schwab refresh tokens live 7 days).
EXPIRY_WARNING = timedelta(hours=24)


def reconnect_command(connection: ProviderConnection) -> str:
    """The command that brings a connection back: log in again (the demo has no login: anew)."""
    if connection.provider != "demo":
        return f"dashtam providers connect {connection.provider} --alias {connection.alias}"
    if connection.status is ConnectionStatus.DISCONNECTED:
        return "dashtam demo"
    return f"dashtam providers disconnect {connection.alias} --yes, then dashtam demo"


def connection_health(connection: ProviderConnection, clock: Clock) -> ConnectionHealth:
    """How a connection looks to ``status``: refresh-token time left and what to do next."""
    from dashtam_cli.application.query_results import ConnectionHealth

    left: timedelta | None = None
    ended = connection.status in {ConnectionStatus.EXPIRED, ConnectionStatus.REVOKED}
    if ended:
        left = timedelta(0)  # the provider refused the login, whatever its stated end
    elif connection.refresh_expires_at is not None:
        left = max(connection.refresh_expires_at - clock.now(), timedelta(0))
    expiring = (
        connection.status is ConnectionStatus.ACTIVE and left is not None and left <= EXPIRY_WARNING
    )
    action: str | None = None
    reconnect = reconnect_command(connection)
    if ended:
        action = reconnect
    elif expiring and not left:
        action = f"the login has expired: run {reconnect}"
    elif expiring:
        action = f"the login expires soon: run {reconnect}"
    return ConnectionHealth(
        id=connection.id,
        provider=connection.provider,
        alias=connection.alias,
        status=connection.status,
        last_sync_at=connection.last_sync_at,
        last_sync_status=connection.last_sync_status,
        refresh_expires_at=connection.refresh_expires_at,
        refresh_time_left=left,
        expiring_soon=expiring,
        action=action,
    )


def summarize_connection(
    connection: ProviderConnection, accounts: Sequence[Account], clock: Clock
) -> ConnectionSummary:
    """A connection as lists show it: health (as ``status`` computes it) and account counts.

    Args:
        connection: the connection.
        accounts: its accounts (others are ignored).
        clock: for the time the login has left.
    """
    from dashtam_cli.application.query_results import ConnectionSummary

    health = connection_health(connection, clock)
    own = [a for a in accounts if a.connection_id == connection.id]
    return ConnectionSummary(
        id=connection.id,
        provider=connection.provider,
        alias=connection.alias,
        status=connection.status,
        connected_at=connection.connected_at,
        last_sync_at=connection.last_sync_at,
        last_sync_status=connection.last_sync_status,
        access_expires_at=connection.access_expires_at,
        refresh_expires_at=connection.refresh_expires_at,
        refresh_time_left=health.refresh_time_left,
        expiring_soon=health.expiring_soon,
        action=health.action,
        accounts_count=len(own),
        active_accounts_count=sum(1 for a in own if a.is_active),
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )


__all__ = ["EXPIRY_WARNING", "connection_health", "summarize_connection"]
