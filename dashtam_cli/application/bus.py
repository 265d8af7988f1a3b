"""The message bus: each command to its one handler, each event to every matching subscriber."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from structlog.typing import FilteringBoundLogger

from dashtam_cli.domain.errors import DomainError, Failure, Result
from dashtam_cli.domain.events import DomainEvent

type EventHandler = Callable[[DomainEvent], Awaitable[None]]
type EventPredicate = Callable[[DomainEvent], bool]

_log: FilteringBoundLogger = structlog.get_logger("dashtam.bus")


class CommandHandler[C, T](Protocol):
    """Anything with ``async def handle(command) -> Result``."""

    async def handle(self, command: C, /) -> Result[T, DomainError]:
        """Carry out the command; expected failures are returned, never raised."""
        ...


class MessageBus:
    """Routes each command to the handler registered for its exact type."""

    def __init__(self) -> None:
        """Create an empty bus."""
        self._handlers: dict[type[Any], CommandHandler[Any, Any]] = {}

    @property
    def command_types(self) -> frozenset[type[Any]]:
        """Every command type a handler is registered for."""
        return frozenset(self._handlers)

    def register[C](self, command_type: type[C], handler: CommandHandler[C, Any]) -> None:
        """Register the handler of one command type.

        Raises:
            ValueError: the type already has a handler (a wiring bug).
        """
        if command_type in self._handlers:
            raise ValueError(f"a handler is already registered for {command_type.__name__}")
        self._handlers[command_type] = handler

    async def execute(self, command: object) -> Result[Any, DomainError]:
        """Run the handler registered for ``type(command)`` and return its result.

        Raises:
            LookupError: no handler is registered for the command's type (a wiring bug).
        """
        command_type = type(command)
        handler = self._handlers.get(command_type)
        if handler is None:
            raise LookupError(f"no handler registered for command {command_type.__name__}")
        result = await handler.handle(command)
        _log.debug(
            "command_handled",
            command=command_type.__name__,
            ok=not isinstance(result, Failure),
            error_code=result.error.code.value if isinstance(result, Failure) else None,
        )
        return result


def _describe(handler: EventHandler) -> str:
    name = getattr(handler, "__qualname__", None)
    return name if isinstance(name, str) else type(handler).__qualname__


class EventDispatcher:
    """Delivers events to subscribers, in subscription order (implements ``EventSink``).

    A subscriber that raises is logged with its exception and skipped: it never undoes the
    command that published the event and never stops the subscribers after it.
    """

    def __init__(self) -> None:
        """Create a dispatcher with no subscribers."""
        self._subscribers: list[tuple[EventHandler, EventPredicate | None]] = []

    def subscribe(self, handler: EventHandler, *, predicate: EventPredicate | None = None) -> None:
        """Add a subscriber.

        Args:
            handler: an async callable taking the event.
            predicate: when given, the handler only receives events for which it returns True.
        """
        self._subscribers.append((handler, predicate))

    async def publish(self, event: DomainEvent) -> None:
        """Deliver ``event`` to every matching subscriber; never raises for a failing one."""
        for handler, predicate in tuple(self._subscribers):
            try:
                if predicate is None or predicate(event):
                    await handler(event)
            except Exception:
                _log.exception(
                    "event_handler_failed",
                    handler=_describe(handler),
                    event_name=event.name,
                    event_id=str(event.event_id),
                )
