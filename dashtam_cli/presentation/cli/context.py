"""What the CLI gets from the composition root, and how a command runs a message.

The CLI never builds adapters itself: ``__main__`` hands ``create_app`` a factory that opens the
services (settings, database, bus) only when a command needs them, so ``--help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

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


class EventLoopRequiredError(BaseException):
    """Raised by the services when work run without an event loop turns out to need one.

    A ``BaseException`` so that no ``except Exception`` on the way swallows it: the query is
    then run again under :func:`asyncio.run` (see :func:`execute`).
    """


#: True while :func:`execute` runs a query without an event loop (see :func:`require_event_loop`).
_running_inline = False


def require_event_loop() -> None:
    """Refuse to go on without an event loop (called before building an async engine).

    Raises:
        EventLoopRequiredError: a query is being run inline (no event loop).
    """
    if _running_inline:
        raise EventLoopRequiredError


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


class _SuspendedError(Exception):
    """The coroutine awaited something only an event loop can finish."""


def _run_inline[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits on the event loop, without starting one.

    Importing and starting asyncio costs a read command about 30 ms; a query on a SQLite file
    (stdlib ``sqlite3`` readers, schema current) awaits nothing that suspends. A bare ``yield``
    (``asyncio.sleep(0)``) is simply resumed, as a loop would.

    Raises:
        EventLoopRequiredError: the services need an event loop (an async engine).
        _SuspendedError: the coroutine awaited a future.
    """
    global _running_inline
    _running_inline = True
    try:
        while True:
            try:
                waited = coro.send(None)
            except StopIteration as done:
                return cast("T", done.value)
            if waited is not None:
                coro.close()
                raise _SuspendedError
    finally:
        _running_inline = False


def _run_query[T](make: Callable[[], Coroutine[Any, Any, T]], *, as_json: bool) -> T:
    """Run a query inline when it can be, else (from scratch) under :func:`asyncio.run`.

    Only queries go inline: they change nothing, so starting one again is safe.
    """
    try:
        return _run_inline(make())
    except ServicesUnavailableError as exc:
        raise _fail(exc.error, as_json=as_json) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None
    except (EventLoopRequiredError, _SuspendedError, RuntimeError):
        # RuntimeError: an asyncio primitive found no running loop. A genuine RuntimeError
        # is raised again by the run below.
        pass
    return run_async(make(), as_json=as_json)


def _is_query(message: object) -> bool:
    return type(message).__module__ == "dashtam_cli.application.queries"


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

    if _is_query(message):
        result = _run_query(go, as_json=as_json)
    else:
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
    "EventLoopRequiredError",
    "ExitCode",
    "Services",
    "ServicesFactory",
    "ServicesUnavailableError",
    "execute",
    "require_event_loop",
    "state_of",
    "with_services",
]
