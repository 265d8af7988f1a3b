"""The one place that maps error codes to exit codes, and the one error renderer."""

from __future__ import annotations

import errno
import json
import os
import sys
from enum import IntEnum
from typing import TextIO

from dashtam_cli.domain.errors import DomainError, ErrorCode


class ExitCode(IntEnum):
    """Process exit codes (cli.md). Scripts rely on these numbers."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    PARTIAL = 3
    REAUTH = 4
    PROVIDER_UNAVAILABLE = 5
    PROVIDER_DATA = 6
    SECRETS = 7
    DATABASE = 8
    LOCKED = 9
    NOT_FOUND = 10
    OUTPUT = 11
    BROKEN_PIPE = 141
    """No error code's: stdout's reader went away (128 + SIGPIPE, like ``yes | head``)."""


_E = ErrorCode
EXIT_CODES: dict[ErrorCode, ExitCode] = {
    _E.INVALID_ARGUMENT: ExitCode.USAGE,
    _E.INVALID_DATE: ExitCode.USAGE,
    _E.INVALID_URL: ExitCode.USAGE,
    _E.AMBIGUOUS_ID: ExitCode.USAGE,
    _E.INVALID_TRANSITION: ExitCode.USAGE,
    _E.CONFIG_INVALID: ExitCode.USAGE,
    _E.NOT_FOUND: ExitCode.NOT_FOUND,
    _E.SYNC_PARTIAL: ExitCode.PARTIAL,
    _E.REAUTH_REQUIRED: ExitCode.REAUTH,
    _E.TOKEN_REVOKED: ExitCode.REAUTH,
    _E.CONNECTION_NOT_ACTIVE: ExitCode.REAUTH,
    _E.PROVIDER_UNAVAILABLE: ExitCode.PROVIDER_UNAVAILABLE,
    _E.PROVIDER_RATE_LIMITED: ExitCode.PROVIDER_UNAVAILABLE,
    _E.PROVIDER_ERROR: ExitCode.PROVIDER_UNAVAILABLE,
    _E.OAUTH_FAILED: ExitCode.PROVIDER_UNAVAILABLE,
    _E.PROVIDER_DATA_INVALID: ExitCode.PROVIDER_DATA,
    _E.SECRETS_BACKEND_UNAVAILABLE: ExitCode.SECRETS,
    _E.SECRET_KEY_MISSING: ExitCode.SECRETS,
    _E.SECRET_DECRYPTION_FAILED: ExitCode.SECRETS,
    _E.DATABASE_ERROR: ExitCode.DATABASE,
    _E.DATABASE_UNREACHABLE: ExitCode.DATABASE,
    _E.MIGRATION_REQUIRED: ExitCode.DATABASE,
    _E.SYNC_LOCKED: ExitCode.LOCKED,
    _E.OUTPUT_FAILED: ExitCode.OUTPUT,
    _E.INTERNAL: ExitCode.INTERNAL,
}


def exit_code_for(code: ErrorCode) -> ExitCode:
    """The exit code of an error code (every code has exactly one)."""
    return EXIT_CODES[code]


def error_payload(error: DomainError) -> dict[str, object]:
    """The JSON shape of an error: ``{"code", "title", "detail", "hint", "exit_code"}``."""
    return {
        "code": error.code.value,
        "title": error.title,
        "detail": error.message,
        "hint": error.hint,
        "exit_code": int(exit_code_for(error.code)),
    }


def render_error(
    error: DomainError,
    *,
    as_json: bool = False,
    stderr: TextIO | None = None,
    stdout: TextIO | None = None,
) -> ExitCode:
    """Print an error the one way Dashtam prints errors and return its exit code.

    Text: ``error[CODE]: message`` and ``hint: …`` on stderr. With ``as_json`` the JSON object
    goes to stdout as well, so a program reading stdout always gets a parseable document.
    """
    err = stderr or sys.stderr
    err.write(f"error[{error.code.value}]: {error.message}\n")
    if error.hint:
        err.write(f"  hint: {error.hint}\n")
    if as_json:
        out = stdout or sys.stdout
        out.write(json.dumps(error_payload(error), indent=2) + "\n")
    return exit_code_for(error.code)


#: What a write fails with when the disk or device, not the program, is at fault.
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def output_failure(exc: OSError) -> DomainError | None:
    """The error to report when writing a command's output failed (disk full...), else None."""
    if exc.errno not in _OUTPUT_ERRNOS:
        return None
    reason = exc.strerror or os.strerror(exc.errno)
    return DomainError(
        code=ErrorCode.OUTPUT_FAILED,
        message=f"writing the output failed: {reason}",
        hint="make room on the disk the output goes to, then run the command again",
    )
