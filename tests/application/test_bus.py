"""The message bus routes commands; the dispatcher isolates failing subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
import structlog
from structlog.testing import capture_logs

from dashtam_cli.application.bus import EventDispatcher, MessageBus
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success, fail, ok
from dashtam_cli.domain.events import (
    AccountBalanceChanged,
    DomainEvent,
    SyncAttempted,
    SyncFailed,
    SyncSucceeded,
)
from dashtam_cli.domain.protocols import EventSink


@dataclass(frozen=True, kw_only=True)
class RenameConnection:
    alias: str


@dataclass(frozen=True, kw_only=True)
class RenameConnectionLoudly(RenameConnection):
    pass


@dataclass(frozen=True, kw_only=True)
class DisconnectConnection:
    connection_id: str


class RenameHandler:
    def __init__(self) -> None:
        self.seen: list[RenameConnection] = []

    async def handle(self, command: RenameConnection) -> Result[str, DomainError]:
        self.seen.append(command)
        if not command.alias:
            return fail(ErrorCode.INVALID_ARGUMENT, "alias must not be empty")
        return ok(command.alias.upper())


class DisconnectHandler:
    def __init__(self) -> None:
        self.seen: list[DisconnectConnection] = []

    async def handle(self, command: DisconnectConnection) -> Result[None, DomainError]:
        self.seen.append(command)
        return ok(None)


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def bus() -> tuple[MessageBus, RenameHandler, DisconnectHandler]:
    message_bus = MessageBus()
    rename, disconnect = RenameHandler(), DisconnectHandler()
    message_bus.register(RenameConnection, rename)
    message_bus.register(DisconnectConnection, disconnect)
    return message_bus, rename, disconnect


async def test_execute_routes_each_command_to_its_handler(
    bus: tuple[MessageBus, RenameHandler, DisconnectHandler],
) -> None:
    message_bus, rename, disconnect = bus
    rename_cmd = RenameConnection(alias="main")
    disconnect_cmd = DisconnectConnection(connection_id="c1")

    renamed = await message_bus.execute(rename_cmd)
    disconnected = await message_bus.execute(disconnect_cmd)

    assert renamed == Success(value="MAIN")
    assert disconnected == Success(value=None)
    assert rename.seen == [rename_cmd]
    assert disconnect.seen == [disconnect_cmd]
    expected: set[type[Any]] = {RenameConnection, DisconnectConnection}
    assert message_bus.command_types == expected


async def test_execute_returns_the_handlers_failure_unchanged(
    bus: tuple[MessageBus, RenameHandler, DisconnectHandler],
) -> None:
    message_bus, _, _ = bus

    result = await message_bus.execute(RenameConnection(alias=""))

    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.INVALID_ARGUMENT


async def test_unknown_command_is_a_bug(
    bus: tuple[MessageBus, RenameHandler, DisconnectHandler],
) -> None:
    message_bus, _, _ = bus

    with pytest.raises(LookupError, match="object"):
        await message_bus.execute(object())


async def test_routing_is_by_exact_type_not_by_subclass(
    bus: tuple[MessageBus, RenameHandler, DisconnectHandler],
) -> None:
    message_bus, rename, _ = bus

    with pytest.raises(LookupError, match="RenameConnectionLoudly"):
        await message_bus.execute(RenameConnectionLoudly(alias="x"))
    assert rename.seen == []


def test_registering_a_second_handler_for_a_type_is_a_bug(
    bus: tuple[MessageBus, RenameHandler, DisconnectHandler],
) -> None:
    message_bus, _, _ = bus

    with pytest.raises(ValueError, match="RenameConnection"):
        message_bus.register(RenameConnection, RenameHandler())


async def test_a_handler_exception_propagates() -> None:
    class Broken:
        async def handle(self, command: DisconnectConnection) -> Result[None, DomainError]:
            raise RuntimeError("bug")

    message_bus = MessageBus()
    message_bus.register(DisconnectConnection, Broken())

    with pytest.raises(RuntimeError, match="bug"):
        await message_bus.execute(DisconnectConnection(connection_id="c1"))


# --------------------------------------------------------------------------- dispatcher


class Recorder:
    def __init__(self, name: str, calls: list[tuple[str, DomainEvent]]) -> None:
        self.name = name
        self.calls = calls

    async def __call__(self, event: DomainEvent) -> None:
        self.calls.append((self.name, event))


def test_the_dispatcher_is_an_event_sink() -> None:
    sink: EventSink = EventDispatcher()
    assert callable(sink.publish)


async def test_publish_calls_every_subscriber_in_subscription_order() -> None:
    calls: list[tuple[str, DomainEvent]] = []
    dispatcher = EventDispatcher()
    for name in ("first", "second", "third"):
        dispatcher.subscribe(Recorder(name, calls))
    event = SyncAttempted(connection_id=uuid4())

    await dispatcher.publish(event)

    assert calls == [("first", event), ("second", event), ("third", event)]


async def test_predicate_selects_the_events_a_subscriber_receives() -> None:
    calls: list[tuple[str, DomainEvent]] = []
    dispatcher = EventDispatcher()
    dispatcher.subscribe(Recorder("all", calls))
    dispatcher.subscribe(Recorder("audit", calls), predicate=lambda e: e.is_three_state)
    attempted = SyncAttempted()
    changed = AccountBalanceChanged()

    await dispatcher.publish(attempted)
    await dispatcher.publish(changed)

    assert calls == [("all", attempted), ("audit", attempted), ("all", changed)]


async def test_a_failing_subscriber_is_logged_and_the_others_still_run() -> None:
    calls: list[tuple[str, DomainEvent]] = []

    async def explode(event: DomainEvent) -> None:
        raise RuntimeError("subscriber bug")

    dispatcher = EventDispatcher()
    dispatcher.subscribe(Recorder("before", calls))
    dispatcher.subscribe(explode)
    dispatcher.subscribe(Recorder("after", calls))
    event = SyncFailed(error_code=ErrorCode.PROVIDER_UNAVAILABLE)

    with capture_logs() as logs:
        await dispatcher.publish(event)

    assert calls == [("before", event), ("after", event)]
    (entry,) = logs
    assert entry["event"] == "event_handler_failed"
    assert entry["log_level"] == "error"
    assert entry["exc_info"] is True
    assert entry["handler"].endswith("explode")
    assert entry["event_name"] == "SyncFailed"
    assert entry["event_id"] == str(event.event_id)


async def test_a_failing_predicate_is_isolated_like_a_failing_subscriber() -> None:
    calls: list[tuple[str, DomainEvent]] = []

    def bad_predicate(event: DomainEvent) -> bool:
        raise KeyError("predicate bug")

    dispatcher = EventDispatcher()
    dispatcher.subscribe(Recorder("skipped", calls), predicate=bad_predicate)
    dispatcher.subscribe(Recorder("after", calls))
    event = SyncSucceeded()

    with capture_logs() as logs:
        await dispatcher.publish(event)

    assert calls == [("after", event)]
    assert [e["event"] for e in logs] == ["event_handler_failed"]


async def test_cancellation_is_not_swallowed() -> None:
    async def cancelled(event: DomainEvent) -> None:
        raise asyncio.CancelledError

    calls: list[tuple[str, DomainEvent]] = []
    dispatcher = EventDispatcher()
    dispatcher.subscribe(cancelled)
    dispatcher.subscribe(Recorder("after", calls))

    with pytest.raises(asyncio.CancelledError):
        await dispatcher.publish(SyncAttempted())
    assert calls == []
