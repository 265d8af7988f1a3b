"""Logging: structlog over the standard library, with one redaction processor on every output.

Records from structlog and from third-party libraries (httpx, sqlalchemy, ...) go through the root
logger to at most two handlers: stderr (console renderer on a TTY, JSON lines otherwise) and an
optional JSON-lines file (mode 0600) that keeps every ``info`` record for post-mortems. Every
record is redacted (:func:`redact_event`) after its exception has been rendered to text, so a
secret in an exception message is masked like any other.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Final, TextIO

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from dashtam_cli.application.handlers.events import (
    REDACTED,
    is_account_number_key,
    is_secret_key,
    mask_account_number,
    sanitize_value,
)

_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_FILE_LEVEL: Final = logging.INFO
# Keys structlog and ProcessorFormatter fill in themselves: never secret, and the record must
# stay a LogRecord.
_PASSTHROUGH_KEYS: Final = frozenset({"_record", "_from_structlog", "level", "logger", "timestamp"})

_installed_handlers: list[logging.Handler] = []


def redact_event(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """Structlog processor masking every secret in an event.

    Values under secret-looking keys (``token``, ``access_token``, ``client_secret``,
    ``password``, ``authorization``, ``api_key``, ``master_key``, ``code``, ``cookie``, ...)
    become ``[REDACTED]``, recursively through dicts, lists and tuples; account numbers keep
    their last four digits; strings are scrubbed of bearer/basic credentials, secret query
    parameters and runs of 8+ digits; other values become JSON-safe primitives. An ``exc_info``
    still present is rendered to an ``exception`` string first, so tracebacks are masked too.

    Args:
        logger: the wrapped logger (unused).
        method: the log method name (unused).
        event_dict: the event.

    Returns:
        The redacted event.
    """
    if "exc_info" in event_dict:
        event_dict = structlog.processors.format_exc_info(logger, method, event_dict)
    for key, value in event_dict.items():
        if key in _PASSTHROUGH_KEYS:
            continue
        if is_secret_key(key):
            event_dict[key] = REDACTED
        elif is_account_number_key(key):
            event_dict[key] = None if value is None else mask_account_number(value)
        else:
            event_dict[key] = sanitize_value(value)
    return event_dict


def _parse_level(level: str) -> int:
    try:
        return _LEVELS[level.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; use one of {sorted(_LEVELS)}") from None


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _stderr_renderer(fmt: str | None, stream: TextIO) -> Processor:
    if fmt not in (None, "console", "json"):
        raise ValueError(f"unknown log format {fmt!r}; use 'console' or 'json'")
    if fmt == "json" or not _is_tty(stream):
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(
        colors=not os.environ.get("NO_COLOR"),
        # Exceptions were rendered (and redacted) to text upstream; print that text as is.
        exception_formatter=structlog.dev.plain_traceback,
    )


def _open_private(path: Path) -> None:
    """Create the log file readable by its owner only (and tighten an existing one)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    path.chmod(0o600)


def _remove_installed_handlers() -> None:
    root = logging.getLogger()
    for handler in _installed_handlers:
        root.removeHandler(handler)
        handler.close()
    _installed_handlers.clear()


# httpx logs every request line at info: the Schwab paths hold account hashes, which the log
# file (it keeps info) must not.
_QUIET_LOGGERS = (
    "alembic.runtime.plugins",
    "aiosqlite",
    "asyncio",
    "httpcore",
    "httpx",
    "filelock",
)


def configure_logging(
    *,
    level: str = "warning",
    fmt: str | None = None,
    log_file: Path | None = None,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the root logger; calling it again replaces the previous setup.

    Args:
        level: the stderr threshold (``debug``, ``info``, ``warning``, ``error``, ``critical``).
        fmt: ``console``, ``json`` or None. The console renderer is used only when ``stream`` is
            a TTY (without colours when ``NO_COLOR`` is set); otherwise JSON lines.
        log_file: when given, also append JSON lines for every record at ``info`` or above,
            whatever ``level`` is; the file is created with mode 0600.
        stream: where stderr output goes (default: the current ``sys.stderr``).

    Raises:
        ValueError: an unknown level or format (a configuration bug upstream).
    """
    stderr_level = _parse_level(level)
    out = sys.stderr if stream is None else stream
    renderer = _stderr_renderer(fmt, out)
    min_level = min(stderr_level, _FILE_LEVEL) if log_file is not None else stderr_level

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    foreign_pre_chain: list[Processor] = [
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        timestamper,
        structlog.processors.format_exc_info,
        redact_event,
    ]

    def formatter(final: Processor) -> logging.Formatter:
        return structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, final],
            foreign_pre_chain=foreign_pre_chain,
        )

    handlers: list[logging.Handler] = []
    stderr_handler = logging.StreamHandler(out)
    stderr_handler.setLevel(stderr_level)
    stderr_handler.setFormatter(formatter(renderer))
    handlers.append(stderr_handler)
    unwritable: OSError | None = None
    if log_file is not None:
        try:
            _open_private(log_file)
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:  # a read-only data dir: the command goes on, logging to stderr
            unwritable = exc
        else:
            file_handler.setLevel(_FILE_LEVEL)
            file_handler.setFormatter(formatter(structlog.processors.JSONRenderer()))
            handlers.append(file_handler)

    _remove_installed_handlers()
    # Chatty third-party loggers: keep their warnings, drop their plugin/setup chatter.
    for noisy in _QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(min_level)
    _installed_handlers.extend(handlers)

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            timestamper,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact_event,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(min_level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Not cached: module-level loggers must follow a later configure_logging() call.
        cache_logger_on_first_use=False,
    )
    if unwritable is not None:
        get_logger("dashtam").warning(
            "log_file_unwritable", path=str(log_file), reason=unwritable.strerror
        )


def is_configured() -> bool:
    """Whether :func:`configure_logging` has set up this process's handlers."""
    return bool(_installed_handlers)


def log_crash(exc: BaseException) -> Path | None:
    """Write a crash's traceback (redacted) to the log file only; return the file, None if none.

    The terminal gets the command's one-line error instead: a traceback is for the bug report,
    and stderr may be a cron mail or a pipe.
    """
    files = [h for h in _installed_handlers if isinstance(h, logging.FileHandler)]
    if not files:
        return None
    others = [(h, h.level) for h in _installed_handlers if h not in files]
    for handler, _ in others:
        handler.setLevel(logging.CRITICAL + 1)
    try:
        get_logger("dashtam").error("unexpected_error", exc_info=exc)
    finally:
        for handler, level in others:
            handler.setLevel(level)
    return Path(files[0].baseFilename)


def reset_logging() -> None:
    """Remove the handlers :func:`configure_logging` installed and restore structlog's defaults."""
    _remove_installed_handlers()
    logging.getLogger().setLevel(logging.WARNING)
    structlog.reset_defaults()


def get_logger(name: str | None = None) -> FilteringBoundLogger:
    """A structlog logger named ``name`` (default ``dashtam``).

    Args:
        name: the logger name, e.g. ``dashtam.sync``.

    Returns:
        A bound logger following the current configuration.
    """
    logger: FilteringBoundLogger = structlog.get_logger(name or "dashtam")
    return logger
