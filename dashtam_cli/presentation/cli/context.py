"""What the CLI gets from the composition root, and how a command runs a message.

The CLI never builds adapters itself: ``__main__`` hands ``create_app`` a factory that opens the
services (settings, database, bus) only when a command needs them, so ``--help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import typer

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result
from dashtam_cli.presentation.cli.errors import ExitCode, render_error


class Bus(Protocol):
    """The application bus as the CLI sees it."""

    async def execute(self, message: Any) -> Result[Any]:
        """Run a command or query through its handler."""
        ...


class EventSubscriber(Protocol):
    """Lets a front end listen to events (progress bars)."""

    def subscribe(
        self,
        handler: Callable[[Any], Awaitable[None]],
        *,
        predicate: Callable[[Any], bool] | None = None,
    ) -> None:
        """Call ``handler`` for every event ``predicate`` accepts."""
        ...


class Services(Protocol):
    """The built application, as handed to the front ends by the composition root."""

    @property
    def events(self) -> EventSubscriber:
        """The event dispatcher (subscribe to progress events)."""
        ...

    @property
    def bus(self) -> Bus:
        """Message bus with every handler registered."""
        ...

    @property
    def data_dir(self) -> Path:
        """Where the database (SQLite), logs and locks live."""
        ...

    @property
    def config_dir(self) -> Path:
        """Where ``config.toml`` (and the file key store) live."""
        ...

    @property
    def log_file(self) -> Path:
        """The JSON log file."""
        ...

    async def aclose(self) -> None:
        """Release the database engine and other resources."""
        ...


class ServicesUnavailableError(Exception):
    """Raised by the services factory when the application cannot be built (bad settings...)."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.error = error


ServicesFactory = Callable[[], Awaitable[Services]]


@dataclass(kw_only=True)
class CliState:
    """Per-invocation state stored on the Typer context."""

    open_services: ServicesFactory
    log_file_hint: Callable[[], str] = field(default=lambda: "the log file")


def state_of(ctx: typer.Context) -> CliState:
    """The :class:`CliState` of the running command."""
    state = ctx.find_root().obj
    assert isinstance(state, CliState)
    return state


def _fail(error: DomainError, *, as_json: bool) -> typer.Exit:
    return typer.Exit(int(render_error(error, as_json=as_json)))


def run_async[T](coro: Coroutine[Any, Any, T], *, as_json: bool = False) -> T:
    """Run a coroutine to completion, turning unexpected failures into exit codes."""
    import asyncio

    try:
        return asyncio.run(coro)
    except ServicesUnavailableError as exc:
        raise _fail(exc.error, as_json=as_json) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None


def execute(ctx: typer.Context, message: object, *, as_json: bool = False) -> Any:
    """Run one command or query through the bus and return its value, or exit with its error.

    Args:
        ctx: the Typer context (holds the services factory).
        message: a command or query dataclass.
        as_json: render errors as JSON too (``--format json``).

    Returns:
        The handler's success value.
    """
    state = state_of(ctx)

    async def go() -> Result[Any]:
        services = await state.open_services()
        try:
            return await services.bus.execute(message)
        finally:
            await services.aclose()

    result = run_async(go(), as_json=as_json)
    if isinstance(result, Failure):
        error = result.error
        if not isinstance(error, DomainError):  # pragma: no cover - handlers return DomainError
            error = DomainError(code=ErrorCode.INTERNAL, message=str(error))
        raise _fail(error, as_json=as_json)
    return result.value


def with_services[T](
    ctx: typer.Context,
    work: Callable[[Services], Awaitable[T]],
    *,
    as_json: bool = False,
) -> T:
    """Open the services, run ``work`` with them, close them."""
    state = state_of(ctx)

    async def go() -> T:
        services = await state.open_services()
        try:
            return await work(services)
        finally:
            await services.aclose()

    return run_async(go(), as_json=as_json)


__all__ = [
    "Bus",
    "CliState",
    "ExitCode",
    "Services",
    "ServicesFactory",
    "ServicesUnavailableError",
    "execute",
    "state_of",
    "with_services",
]
