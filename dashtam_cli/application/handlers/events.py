"""Event handlers (logging, audit) and the secret-masking rules they share with the log pipeline.

The masking primitives live here, in the application layer, so that the audit trail and the log
redaction processor (``dashtam_cli.infrastructure.logging``) apply one set of rules: a key that
looks secret never shows its value, an account number keeps only its last four digits, and strings
are scrubbed of bearer/basic credentials, secret query parameters and long digit runs.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Final
from uuid import UUID

import structlog
from structlog.typing import FilteringBoundLogger

from dashtam_cli.application.bus import EventDispatcher
from dashtam_cli.domain.events import DomainEvent, Failed, Workflow
from dashtam_cli.domain.protocols import AuditEntry, AuditLog

REDACTED: Final = "[REDACTED]"
"""What a masked secret is replaced with."""

_MAX_DEPTH: Final = 8

# Normalised (snake_case, lower-case) key names whose value is always a secret.
_SECRET_KEYS: Final = frozenset(
    {
        "token",
        "tokens",
        "access_token",
        "refresh_token",
        "id_token",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "passphrase",
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "key",
        "material",
        "key_material",
        "master_key",
        "data_key",
        "private_key",
        "code",
        "auth_code",
        "oauth_code",
        "authorization_code",
        "code_verifier",
        "client_assertion",
        "cookie",
        "cookies",
        "set_cookie",
        "credentials",
        "ciphertext",
    }
)
# Suffixes that make a compound key secret too (``schwab_client_secret``, ``x_api_key``, ...).
_SECRET_SUFFIXES: Final = (
    "_token",
    "_secret",
    "_password",
    "_passwd",
    "_api_key",
    "_apikey",
    "_master_key",
    "_private_key",
    "_cookie",
    "_authorization",
    "_credentials",
)
_ACCOUNT_NUMBER_KEYS: Final = frozenset(
    {"account_number", "acct_number", "account_num", "account_no", "accountnumber"}
)

_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

_NOT_ALREADY_MASKED: Final = r"(?!\s*\[REDACTED\])"
_VALUE: Final = r"""(?:"[^"]*"|'[^']*'|[^\s"',;&#)}\]]+)"""
_TEXT_SECRETS: Final = re.compile(
    # 1. UUIDs are ids, not account numbers: matched first so their digit runs survive.
    r"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    # 2. Header-like pairs whose value runs to the end of the line (``Authorization: Basic x``).
    r"|\b(?P<hkey>(?:proxy[_-])?authorization|(?:set[_-])?cookie)\b(?P<hquote>[\"']?)"
    r"(?P<hsep>\s*[:=]\s*)" + _NOT_ALREADY_MASKED + r"(?P<hval>\"[^\"]*\"|'[^']*'|[^\"'\r\n]+)"
    # 3. key=value, "key": "value", key: value for secret-looking names.
    r"|\b(?P<key>[\w-]*?(?:token|secret|passw(?:or)?d|passphrase|(?:api|master|private)[_-]?key"
    r"|code_verifier|client_assertion)|code)\b(?P<kquote>[\"']?)(?P<sep>\s*[:=]\s*)"
    + _NOT_ALREADY_MASKED
    + r"(?P<val>"
    + _VALUE
    + r")"
    # 4. Authorization schemes anywhere in a string.
    r"|\b(?P<scheme>bearer|basic)(?P<ssep>\s+)" + _NOT_ALREADY_MASKED + r"(?P<cred>[^\s\"',;)}\]]+)"
    # 5. Runs of eight or more digits: account numbers keep their last four.
    r"|(?P<digits>[0-9]{8,})",
    re.IGNORECASE,
)
_DIGITS: Final = re.compile(r"[0-9]{8,}")


@functools.lru_cache(maxsize=2048)
def _normalise_key(key: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", key).lower().replace("-", "_").replace(" ", "_").strip("_")


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret (``access_token``, ``clientSecret``, ``X-Api-Key``...).

    Args:
        key: the key; non-string keys are compared by their ``str``.

    Returns:
        True when the value under this key must never be shown.
    """
    name = _normalise_key(str(key))
    return name in _SECRET_KEYS or name.endswith(_SECRET_SUFFIXES)


def is_account_number_key(key: object) -> bool:
    """Whether a key names a full account number (``account_number``, ``accountNumber``)."""
    return _normalise_key(str(key)) in _ACCOUNT_NUMBER_KEYS


def mask_account_number(value: object) -> str:
    """Mask an account number, keeping its last four characters (``12345678`` -> ``****5678``)."""
    text = str(value).strip()
    return "****" + text[-4:] if len(text) > 4 else "****"


def _mask_digits(match: re.Match[str]) -> str:
    return mask_account_number(match.group(0))


def _masked(value: str) -> str:
    quote = value[0]
    return quote + REDACTED + quote if quote in "\"'" else REDACTED


def _replace_text_secret(match: re.Match[str]) -> str:
    if match.group("uuid") is not None:
        return match.group("uuid")
    if match.group("digits") is not None:
        return mask_account_number(match.group("digits"))
    if match.group("hkey") is not None:
        head = match.group("hkey") + match.group("hquote") + match.group("hsep")
        return head + _masked(match.group("hval"))
    if match.group("scheme") is not None:
        return match.group("scheme") + match.group("ssep") + REDACTED
    key, quote, sep, value = (match.group(n) for n in ("key", "kquote", "sep", "val"))
    key = _DIGITS.sub(_mask_digits, key)  # a key may be glued to a digit run
    if key.lower() == "code" and not quote and "=" not in sep:
        # "error code: 42" is prose, not an OAuth code; only ``code=`` and ``"code":`` are.
        return key + sep + _DIGITS.sub(_mask_digits, value)
    return key + quote + sep + _masked(value)


def redact_text(text: str) -> str:
    """Scrub the secrets that hide inside free text.

    Masks ``Bearer``/``Basic`` credentials, ``Authorization``/``Cookie`` header values, secret
    parameters (``code=``, ``access_token=``, ``refresh_token=``, ``client_secret=``, ``password=``,
    also in ``"key": "value"`` form) and runs of eight or more digits (kept as ``****1234``).
    UUIDs are left alone. Applying it twice gives the same result as applying it once.

    Args:
        text: any string (a log message, an exception rendering, a URL).

    Returns:
        The text with every secret replaced.
    """
    return _TEXT_SECRETS.sub(_replace_text_secret, text)


def sanitize_value(value: object, *, _depth: int = 0) -> object:
    """Turn a value into JSON-safe primitives with every secret masked.

    Mappings become dicts with string keys (values under secret keys become ``[REDACTED]``,
    account numbers keep their last four digits); sequences and sets become lists; UUID, Decimal,
    paths and unknown objects become strings; dates and times become ISO 8601; enums become their
    value; bytes are never shown; dataclasses become dicts of their ``repr``-visible fields.
    Every string is passed through :func:`redact_text`.

    Args:
        value: anything.

    Returns:
        A str, int, float, bool, None, list or dict built from the above.
    """
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal | PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if _depth >= _MAX_DEPTH:
        return "[...]"
    if isinstance(value, Mapping):
        return _sanitize_mapping(value, _depth + 1)
    if isinstance(value, list | tuple):
        return [sanitize_value(item, _depth=_depth + 1) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((sanitize_value(item, _depth=_depth + 1) for item in value), key=str)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        visible = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.repr}
        return _sanitize_mapping(visible, _depth + 1)
    return redact_text(str(value))


def _sanitize_mapping[K](mapping: Mapping[K, object], depth: int) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, item in mapping.items():
        name = str(key)
        if is_secret_key(name):
            result[name] = REDACTED
        elif is_account_number_key(name):
            result[name] = None if item is None else mask_account_number(item)
        else:
            result[name] = sanitize_value(item, _depth=depth)
    return result


def sanitize_context(context: Mapping[str, object]) -> dict[str, object]:
    """Make an event's context safe to store or log: no secrets, JSON-safe values only.

    Args:
        context: the event context.

    Returns:
        A new dict (see :func:`sanitize_value` for the rules).
    """
    return _sanitize_mapping(context, 0)


def _event_fields(event: DomainEvent) -> dict[str, object]:
    fields: dict[str, object] = {
        "workflow": event.workflow.value,
        "outcome": event.outcome.value,
        "event_id": str(event.event_id),
        "connection_id": None if event.connection_id is None else str(event.connection_id),
        "account_id": None if event.account_id is None else str(event.account_id),
        "error_code": None,
        "context": sanitize_context(event.context),
    }
    if isinstance(event, Failed):
        fields["error_code"] = event.error_code.value
        fields["error_message"] = redact_text(event.error_message)
    return fields


class LoggingEventHandler:
    """Logs every event: progress at debug, everything else (failures too) at info.

    A failure reaches the user as the command's one ``error[CODE]`` line (or the dashboard's
    banner); logged at warning, it would also print on stderr, a JSON blob before that line.
    The log file keeps it (it records info and up).
    """

    def __init__(self, logger_name: str = "dashtam.events") -> None:
        """Create the handler.

        Args:
            logger_name: the structlog logger name the events are written under.
        """
        self._log: FilteringBoundLogger = structlog.get_logger(logger_name)

    async def __call__(self, event: DomainEvent) -> None:
        """Log one event."""
        level = logging.DEBUG if event.workflow is Workflow.SYNC_PROGRESS else logging.INFO
        self._log.log(level, event.name, **_event_fields(event))


class AuditEventHandler:
    """Appends one audit row per three-state event; operational events are ignored."""

    def __init__(self, audit: AuditLog) -> None:
        """Create the handler.

        Args:
            audit: the append-only audit trail.
        """
        self._audit = audit

    async def __call__(self, event: DomainEvent) -> None:
        """Record ``event`` in the audit trail if it is an Attempted/Succeeded/Failed event."""
        if not event.is_three_state:
            return
        await self._audit.append(audit_entry_for(event))


def audit_entry_for(event: DomainEvent) -> AuditEntry:
    """The audit row for a three-state event (its context sanitised).

    Args:
        event: an Attempted, Succeeded or Failed event.

    Returns:
        The entry to append.
    """
    return AuditEntry(
        action=event.workflow.value,
        outcome=event.outcome.value,
        occurred_at=event.occurred_at,
        event_id=event.event_id,
        connection_id=event.connection_id,
        account_id=event.account_id,
        error_code=event.error_code.value if isinstance(event, Failed) else None,
        context=sanitize_context(event.context),
    )


def wire_default_handlers(dispatcher: EventDispatcher, *, audit: AuditLog) -> None:
    """Subscribe the logging handler (every event) and the audit handler (three-state events).

    Args:
        dispatcher: the application's event dispatcher.
        audit: the audit trail the audit handler appends to.
    """
    dispatcher.subscribe(LoggingEventHandler())
    dispatcher.subscribe(AuditEventHandler(audit), predicate=lambda event: event.is_three_state)
