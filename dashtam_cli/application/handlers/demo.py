"""``dashtam demo``: create (or reuse) the demo connection; the front end then syncs it."""

from __future__ import annotations

from dataclasses import dataclass

from dashtam_cli.application.commands import StartDemo
from dashtam_cli.application.ports import DemoStateFactory
from dashtam_cli.domain.connections import ConnectionStatus, ProviderConnection
from dashtam_cli.domain.errors import ErrorCode, Result, fail, ok
from dashtam_cli.domain.events import ProviderConnectionAttempted, ProviderConnectionSucceeded
from dashtam_cli.domain.protocols import Clock, EventSink, UnitOfWorkFactory

DEMO_PROVIDER = "demo"
DEMO_ALIAS = "demo"
DEFAULT_SEED = 42
DEFAULT_ACCOUNTS = 6
DEFAULT_TRANSACTIONS = 5_000


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoConnection:
    """The demo connection to sync, and whether it already existed."""

    connection: ProviderConnection
    reused: bool


class StartDemoHandler:
    """Find the demo connection or create it with the requested seed and sizes."""

    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        events: EventSink,
        clock: Clock,
        demo_state: DemoStateFactory,
    ) -> None:
        self._uow_factory = uow_factory
        self._events = events
        self._clock = clock
        self._demo_state = demo_state

    async def handle(self, command: StartDemo) -> Result[DemoConnection]:
        """Create or reuse.

        Returns:
            The connection; ``invalid_argument`` when the existing demo was made with other
            parameters than the ones given explicitly, or when a size is out of range.
        """
        async with self._uow_factory() as uow:
            connections = await uow.connections.list(include_disconnected=False)
        existing = next((c for c in connections if c.provider == DEMO_PROVIDER), None)
        if existing is not None:
            state = existing.provider_state
            asked = {
                "seed": command.seed,
                "accounts": command.accounts,
                "transactions": command.transactions,
            }
            differ = {k: v for k, v in asked.items() if v is not None and state.get(k) != v}
            if differ:
                shown = ", ".join(f"{k}={state.get(k)}" for k in differ)
                return fail(
                    ErrorCode.INVALID_ARGUMENT,
                    f"the demo connection {existing.alias!r} already exists with {shown}",
                    hint="run the demo with its current settings (plain `dashtam demo`), or in a "
                    "fresh data dir: DASHTAM_DATA_DIR=/tmp/dashtam-demo dashtam demo ...",
                )
            return ok(DemoConnection(connection=existing, reused=True))

        now = self._clock.now()
        try:
            state = self._demo_state(
                seed=DEFAULT_SEED if command.seed is None else command.seed,
                accounts=DEFAULT_ACCOUNTS if command.accounts is None else command.accounts,
                transactions=(
                    DEFAULT_TRANSACTIONS if command.transactions is None else command.transactions
                ),
                created_at=now,
            )
        except ValueError as exc:
            return fail(ErrorCode.INVALID_ARGUMENT, str(exc))
        taken = {c.alias for c in connections}
        alias = DEMO_ALIAS
        suffix = 2
        while alias in taken:
            alias = f"{DEMO_ALIAS}-{suffix}"
            suffix += 1
        connection = ProviderConnection(
            provider=DEMO_PROVIDER,
            alias=alias,
            status=ConnectionStatus.ACTIVE,
            connected_at=now,
            provider_state=dict(state),
            created_at=now,
            updated_at=now,
        )
        context = {"provider": DEMO_PROVIDER, "alias": alias}
        await self._events.publish(
            ProviderConnectionAttempted(connection_id=connection.id, context=context)
        )
        async with self._uow_factory() as uow:
            await uow.connections.save(connection)
            await uow.commit()
        await self._events.publish(
            ProviderConnectionSucceeded(connection_id=connection.id, context=context)
        )
        return ok(DemoConnection(connection=connection, reused=False))
