"""Provider connections: list, show, rename and disconnect.

Connecting (the OAuth flow) and token refresh live with their providers' handlers; this module
holds the connection use cases that need no provider at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from dashtam_cli.application.commands import DisconnectConnection, RenameConnection
from dashtam_cli.application.handlers.health import summarize_connection
from dashtam_cli.application.handlers.lookup import CONNECTIONS_COMMAND, resolve_connection
from dashtam_cli.application.ports import ConnectionReader
from dashtam_cli.application.queries import (
    AccountReader,
    ConnectionSummary,
    ConnectionView,
    ProviderDetail,
    ProviderList,
)
from dashtam_cli.domain.connections import ConnectionStatus
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.events import (
    ProviderDisconnectionAttempted,
    ProviderDisconnectionFailed,
    ProviderDisconnectionSucceeded,
)
from dashtam_cli.domain.protocols import Clock, EventSink, UnitOfWork, UnitOfWorkFactory

#: The ``alias`` column's width.
MAX_ALIAS_LENGTH = 128


def validate_alias(alias: str) -> Result[str]:
    """A usable alias: stripped, non-empty, at most 128 printable characters without spaces.

    Returns:
        The cleaned alias, or ``invalid_argument``.
    """
    cleaned = alias.strip()
    if not cleaned:
        return fail(ErrorCode.INVALID_ARGUMENT, "an alias cannot be empty")
    if len(cleaned) > MAX_ALIAS_LENGTH:
        return fail(
            ErrorCode.INVALID_ARGUMENT,
            f"an alias has at most {MAX_ALIAS_LENGTH} characters (got {len(cleaned)})",
        )
    if any(ch.isspace() or not ch.isprintable() for ch in cleaned):
        return fail(
            ErrorCode.INVALID_ARGUMENT,
            f"the alias {cleaned!r} contains spaces or control characters",
            hint="use letters, digits, '-', '_' or '.', e.g. schwab-ira",
        )
    return ok(cleaned)


class ProviderListHandler:
    """Answer ``dashtam providers list``."""

    def __init__(
        self, *, connections: ConnectionReader, accounts: AccountReader, clock: Clock
    ) -> None:
        self._connections = connections
        self._accounts = accounts
        self._clock = clock

    async def handle(self, query: ProviderList) -> Result[Sequence[ConnectionSummary]]:
        """Every connection, oldest first, disconnected ones included."""
        connections = await self._connections.list_connections()
        accounts = await self._accounts.list_accounts()
        return ok([summarize_connection(c, accounts, self._clock) for c in connections])


class ProviderDetailHandler:
    """Answer ``dashtam providers show REF``."""

    def __init__(
        self, *, connections: ConnectionReader, accounts: AccountReader, clock: Clock
    ) -> None:
        self._connections = connections
        self._accounts = accounts
        self._clock = clock

    async def handle(self, query: ProviderDetail) -> Result[ConnectionView]:
        """The connection and its accounts.

        Returns:
            The view; ``not_found`` / ``ambiguous_id`` for a reference matching none / several.
        """
        found = resolve_connection(query.ref, await self._connections.list_connections())
        if isinstance(found, Failure):
            return found
        connection = found.value
        accounts = [
            a for a in await self._accounts.list_accounts() if a.connection_id == connection.id
        ]
        accounts.sort(key=lambda a: (not a.is_active, a.name.lower(), str(a.id)))
        return ok(
            ConnectionView(
                summary=summarize_connection(connection, accounts, self._clock), accounts=accounts
            )
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionRenamed:
    """What ``providers rename`` did (``changed`` is False when the alias was already that)."""

    id: UUID
    provider: str
    old_alias: str
    new_alias: str
    changed: bool


class RenameConnectionHandler:
    """Handle :class:`RenameConnection`. No events: a rename changes no credentials or data."""

    def __init__(self, *, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    async def handle(self, command: RenameConnection) -> Result[ConnectionRenamed]:
        """Give the connection a new alias, unique among all connections.

        Returns:
            The rename; ``invalid_argument`` for an unusable or taken alias, ``not_found`` /
            ``ambiguous_id`` for the reference.
        """
        alias = validate_alias(command.alias)
        if isinstance(alias, Failure):
            return alias
        new_alias = alias.value
        async with self._uow_factory() as uow:
            connections = await uow.connections.list()
            found = resolve_connection(command.connection_ref, connections)
            if isinstance(found, Failure):
                return found
            connection = found.value
            result = ConnectionRenamed(
                id=connection.id,
                provider=connection.provider,
                old_alias=connection.alias,
                new_alias=new_alias,
                changed=connection.alias != new_alias,
            )
            if not result.changed:
                return ok(result)
            taken = next((c for c in connections if c.alias == new_alias), None)
            if taken is not None:
                return fail(
                    ErrorCode.INVALID_ARGUMENT,
                    f"the alias {new_alias!r} is already used by connection "
                    f"{str(taken.id)[:8]} ({taken.provider})",
                    hint=f"choose another alias; {CONNECTIONS_COMMAND} shows the ones in use",
                )
            now = self._clock.now()
            await uow.connections.save(replace(connection, alias=new_alias, updated_at=now))
            await uow.commit()
        return ok(result)


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionDisconnected:
    """What ``providers disconnect`` did: the credentials are gone, the accounts are kept
    (inactive: ``accounts list --all`` shows them, net worth no longer counts them)."""

    id: UUID
    provider: str
    alias: str
    accounts_kept: int


class DisconnectConnectionHandler:
    """Handle :class:`DisconnectConnection`: three-state events around the state transition."""

    def __init__(self, *, uow_factory: UnitOfWorkFactory, events: EventSink, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._events = events
        self._clock = clock

    async def handle(self, command: DisconnectConnection) -> Result[ConnectionDisconnected]:
        """Wipe the connection's credentials and mark it ``disconnected``; keep its history.

        Publishes ``ProviderDisconnectionAttempted`` then ``...Succeeded`` or ``...Failed``.
        A reference that resolves to nothing, or a connection already disconnected, fails
        before anything is attempted (no events).

        Returns:
            The outcome; ``not_found`` / ``ambiguous_id`` for the reference,
            ``invalid_transition`` for a connection that is already disconnected.
        """
        async with self._uow_factory() as uow:
            found = resolve_connection(command.connection_ref, await uow.connections.list())
        if isinstance(found, Failure):
            return found
        connection = found.value
        if connection.status is ConnectionStatus.DISCONNECTED:
            return fail(
                ErrorCode.INVALID_TRANSITION,
                f"connection {connection.alias!r} is already disconnected",
                hint="nothing to do: its accounts and history are kept",
            )
        context: dict[str, object] = {"alias": connection.alias, "provider": connection.provider}
        await self._events.publish(
            ProviderDisconnectionAttempted(connection_id=connection.id, context=context)
        )
        try:
            result = await self._disconnect(connection.id)
        except Exception as exc:
            # A database failure (carried as a DomainError by the adapter) or a bug: record the
            # failure, then let the edge report it.
            carried = getattr(exc, "error", None)
            code = carried.code if isinstance(carried, DomainError) else ErrorCode.INTERNAL
            await self._events.publish(
                ProviderDisconnectionFailed(
                    connection_id=connection.id,
                    error_code=code,
                    error_message=f"disconnect failed ({type(exc).__name__})",
                    context=context,
                )
            )
            raise
        if isinstance(result, Failure):
            await self._events.publish(
                ProviderDisconnectionFailed(
                    connection_id=connection.id,
                    error_code=result.error.code,
                    error_message=result.error.message,
                    context=context,
                )
            )
            return result
        await self._events.publish(
            ProviderDisconnectionSucceeded(
                connection_id=connection.id,
                context={**context, "accounts_kept": result.value.accounts_kept},
            )
        )
        return result

    async def _disconnect(self, connection_id: UUID) -> Result[ConnectionDisconnected]:
        async with self._uow_factory() as uow:
            # re-read inside the writing transaction: it may have changed since it was resolved
            current = await uow.connections.get(connection_id)
            if current is None:
                return fail(
                    ErrorCode.NOT_FOUND, "the connection disappeared", hint=CONNECTIONS_COMMAND
                )
            moved = current.disconnect(now=self._clock.now())
            if isinstance(moved, Failure):
                return moved
            await uow.connections.save(moved.value)
            kept = await _count_accounts(uow, connection_id)
            # its accounts are no longer reported: they stop counting (net worth, holdings),
            # as any account the provider stops returning; a later connect re-activates them
            await uow.accounts.deactivate_missing(connection_id, [])
            await uow.commit()
        return ok(
            ConnectionDisconnected(
                id=current.id, provider=current.provider, alias=current.alias, accounts_kept=kept
            )
        )


async def _count_accounts(uow: UnitOfWork, connection_id: UUID) -> int:
    return len(await uow.accounts.list_for_connection(connection_id))
