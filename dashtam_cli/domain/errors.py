"""The error catalogue and the Result type.

Expected failures travel as values (:class:`Failure` holding a :class:`DomainError`);
exceptions are reserved for bugs and for the edges, where adapters translate them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum, unique


@unique
class ErrorCode(StrEnum):
    """Stable, documented error codes. Users script against these strings: never rename one."""

    # usage (exit 2)
    INVALID_ARGUMENT = "invalid_argument"
    INVALID_DATE = "invalid_date"
    INVALID_URL = "invalid_url"
    AMBIGUOUS_ID = "ambiguous_id"
    INVALID_TRANSITION = "invalid_transition"
    CONFIG_INVALID = "config_invalid"
    # not found (exit 10)
    NOT_FOUND = "not_found"
    # partial success (exit 3)
    SYNC_PARTIAL = "sync_partial"
    # re-authentication required (exit 4)
    REAUTH_REQUIRED = "reauth_required"
    TOKEN_REVOKED = "token_revoked"
    CONNECTION_NOT_ACTIVE = "connection_not_active"
    # provider unavailable (exit 5)
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_RATE_LIMITED = "provider_rate_limited"
    PROVIDER_ERROR = "provider_error"
    OAUTH_FAILED = "oauth_failed"
    # provider data not understood (exit 6)
    PROVIDER_DATA_INVALID = "provider_data_invalid"
    # secrets (exit 7)
    SECRETS_BACKEND_UNAVAILABLE = "secrets_backend_unavailable"
    SECRET_KEY_MISSING = "secret_key_missing"
    SECRET_DECRYPTION_FAILED = "secret_decryption_failed"
    # database (exit 8)
    DATABASE_ERROR = "database_error"
    DATABASE_UNREACHABLE = "database_unreachable"
    MIGRATION_REQUIRED = "migration_required"
    # concurrency (exit 9)
    SYNC_LOCKED = "sync_locked"
    # the output could not be written (exit 11)
    OUTPUT_FAILED = "output_failed"
    # bug (exit 1)
    INTERNAL = "internal"


@dataclass(frozen=True, kw_only=True, slots=True)
class DomainError:
    """An expected failure: a stable code, a human message and, when there is one, the fix.

    Attributes:
        code: the stable error code.
        message: one sentence saying what went wrong (never a secret).
        hint: what to do about it, ideally the exact command to run.
        details: extra, non-secret context for logs and JSON output.
    """

    code: ErrorCode
    message: str
    hint: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """A short human title derived from the code (``not_found`` -> ``Not found``)."""
        return self.code.value.replace("_", " ").capitalize()


@dataclass(frozen=True, kw_only=True, slots=True)
class Success[T]:
    """The successful branch of a :data:`Result`."""

    value: T


@dataclass(frozen=True, kw_only=True, slots=True)
class Failure[E = DomainError]:
    """The failed branch of a :data:`Result`."""

    error: E


type Result[T, E = DomainError] = Success[T] | Failure[E]


def ok[T](value: T) -> Success[T]:
    """Wrap a value in :class:`Success`."""
    return Success(value=value)


def fail(
    code: ErrorCode,
    message: str,
    *,
    hint: str | None = None,
    details: Mapping[str, str] | None = None,
) -> Failure[DomainError]:
    """Build a :class:`Failure` holding a :class:`DomainError`."""
    return Failure(error=DomainError(code=code, message=message, hint=hint, details=details or {}))
