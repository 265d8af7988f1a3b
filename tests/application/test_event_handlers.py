"""The logging and audit event handlers, and context sanitisation."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import PurePosixPath
from uuid import UUID, uuid4

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from dashtam_cli.application.bus import EventDispatcher
from dashtam_cli.application.handlers.events import (
    AuditEventHandler,
    LoggingEventHandler,
    is_secret_key,
    redact_text,
    sanitize_context,
    wire_default_handlers,
)
from dashtam_cli.domain.errors import ErrorCode
from dashtam_cli.domain.events import (
    AccountBalanceChanged,
    ConnectionExpiringSoon,
    DomainEvent,
    ProviderTokenRefreshFailed,
    SyncAttempted,
    SyncFailed,
    SyncProgressed,
    SyncSucceeded,
)
from dashtam_cli.domain.protocols import AuditEntry

SECRET = "s3cr3t-Zq9xW"


class RecordingAuditLog:
    """An in-memory AuditLog."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class Colour(StrEnum):
    RED = "red"


@dataclass(frozen=True)
class Credentials:
    kind: str
    blob: str = field(repr=False)


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


# --------------------------------------------------------------------------- sanitize_context


def test_sanitize_context_masks_secret_keys_at_any_depth() -> None:
    context = {
        "access_token": SECRET,
        "clientSecret": SECRET,
        "params": {"code": SECRET, "state": "xyz", "rows": [{"password": SECRET}]},
        "accountNumber": "12345678",
        "account_number": 87654321,
    }

    clean = sanitize_context(context)

    assert SECRET not in json.dumps(clean)
    assert clean == {
        "access_token": "[REDACTED]",
        "clientSecret": "[REDACTED]",
        "params": {"code": "[REDACTED]", "state": "xyz", "rows": [{"password": "[REDACTED]"}]},
        "accountNumber": "****5678",
        "account_number": "****4321",
    }


def test_sanitize_context_makes_values_json_safe() -> None:
    run_id = UUID("3fa85f64-5717-4562-b3fc-2c963f66afa6")
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    context: dict[str, object] = {
        "run_id": run_id,
        "amount": Decimal("1234.5600"),
        "at": at,
        "since": date(2024, 12, 1),
        "colour": Colour.RED,
        "path": PurePosixPath("/tmp/export.csv"),
        "symbols": ("AAPL", "MSFT"),
        "tags": frozenset({"b", "a"}),
        "ratio": 0.5,
        "nan": float("nan"),
        "blob": b"\x00\x01\x02",
        "credentials_like": Credentials(kind="oauth2", blob=SECRET),
        "count": 3,
        "ok": True,
        "none": None,
        "other": ErrorCode.NOT_FOUND,
    }

    clean = sanitize_context(context)

    assert json.loads(json.dumps(clean, allow_nan=False)) == clean
    assert clean == {
        "run_id": str(run_id),
        "amount": "1234.5600",
        "at": "2025-01-02T03:04:05+00:00",
        "since": "2024-12-01",
        "colour": "red",
        "path": "/tmp/export.csv",
        "symbols": ["AAPL", "MSFT"],
        "tags": ["a", "b"],
        "ratio": 0.5,
        "nan": "nan",
        "blob": "<3 bytes>",
        "credentials_like": {"kind": "oauth2"},
        "count": 3,
        "ok": True,
        "none": None,
        "other": "not_found",
    }
    assert type(clean["colour"]) is str


def test_sanitize_context_scrubs_secrets_inside_strings() -> None:
    clean = sanitize_context(
        {
            "url": f"https://127.0.0.1:8182/?code={SECRET}&session=abc",
            "note": f"sent Bearer {SECRET}",
            "account": "ending 123456789",
        }
    )

    assert clean == {
        "url": "https://127.0.0.1:8182/?code=[REDACTED]&session=abc",
        "note": "sent Bearer [REDACTED]",
        "account": "ending ****6789",
    }


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("token", True),
        ("refresh_token", True),
        ("idToken", True),
        ("Authorization", True),
        ("X-API-Key", True),
        ("set-cookie", True),
        ("master_key", True),
        ("key_material", True),
        ("schwab_client_secret", True),
        ("code", True),
        ("error_code", False),
        ("token_type", False),
        ("access_token_expires_at", False),
        ("key_version", False),
        ("event_id", False),
    ],
)
def test_is_secret_key(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_prose_mentioning_a_code_is_not_masked() -> None:
    assert redact_text("HTTP status code: 503") == "HTTP status code: 503"
    assert redact_text("error_code=invalid") == "error_code=invalid"


_FRAGMENTS = st.sampled_from(
    [
        "Bearer ",
        "Basic ",
        "Authorization: ",
        "cookie=",
        "code=",
        '"code": ',
        "access_token=",
        "password: ",
        "[REDACTED]",
        "****",
        "12345678",
        "9",
        "abc",
        " ",
        "'",
        '"',
        "&",
        "\n",
        "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    ]
)


@given(st.lists(_FRAGMENTS, max_size=12).map("".join))
def test_redact_text_is_idempotent(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


# --------------------------------------------------------------------------- audit handler


async def test_audit_handler_records_three_state_events_only() -> None:
    audit = RecordingAuditLog()
    handler = AuditEventHandler(audit)
    connection_id, account_id = uuid4(), uuid4()
    attempted = SyncAttempted(connection_id=connection_id, context={"since": date(2025, 1, 1)})
    succeeded = SyncSucceeded(connection_id=connection_id, context={"inserted": 12})
    failed = ProviderTokenRefreshFailed(
        connection_id=connection_id,
        account_id=account_id,
        error_code=ErrorCode.REAUTH_REQUIRED,
        error_message="refresh token expired",
    )

    for event in (
        attempted,
        AccountBalanceChanged(account_id=account_id),
        succeeded,
        ConnectionExpiringSoon(connection_id=connection_id),
        SyncProgressed(connection_id=connection_id),
        failed,
    ):
        await handler(event)

    assert audit.entries == [
        AuditEntry(
            action="sync",
            outcome="attempted",
            occurred_at=attempted.occurred_at,
            event_id=attempted.event_id,
            connection_id=connection_id,
            context={"since": "2025-01-01"},
        ),
        AuditEntry(
            action="sync",
            outcome="succeeded",
            occurred_at=succeeded.occurred_at,
            event_id=succeeded.event_id,
            connection_id=connection_id,
            context={"inserted": 12},
        ),
        AuditEntry(
            action="provider_token_refresh",
            outcome="failed",
            occurred_at=failed.occurred_at,
            event_id=failed.event_id,
            connection_id=connection_id,
            account_id=account_id,
            error_code="reauth_required",
            context={},
        ),
    ]


async def test_audit_context_never_holds_secrets_and_is_json_safe() -> None:
    audit = RecordingAuditLog()
    event = SyncFailed(
        error_code=ErrorCode.PROVIDER_ERROR,
        context={
            "refresh_token": SECRET,
            "response": {"client_secret": SECRET, "amount": Decimal("10.00")},
            "accountNumber": "12345678",
            "at": datetime(2025, 1, 1, tzinfo=UTC),
        },
    )

    await AuditEventHandler(audit)(event)

    (entry,) = audit.entries
    stored = json.dumps(entry.context)
    assert SECRET not in stored
    assert "12345678" not in stored
    assert entry.context == {
        "refresh_token": "[REDACTED]",
        "response": {"client_secret": "[REDACTED]", "amount": "10.00"},
        "accountNumber": "****5678",
        "at": "2025-01-01T00:00:00+00:00",
    }


# --------------------------------------------------------------------------- logging handler


@pytest.mark.parametrize(
    ("event", "level"),
    [
        (SyncAttempted(), "info"),
        (SyncSucceeded(), "info"),
        (SyncFailed(error_code=ErrorCode.SYNC_LOCKED), "info"),  # the CLI prints the error
        (AccountBalanceChanged(), "info"),
        (ConnectionExpiringSoon(), "info"),
        (SyncProgressed(), "debug"),
    ],
)
async def test_logging_handler_picks_the_level_from_the_outcome(
    event: DomainEvent, level: str
) -> None:
    with capture_logs() as logs:
        await LoggingEventHandler()(event)

    (entry,) = logs
    assert entry["event"] == event.name
    assert entry["log_level"] == level


async def test_logging_handler_logs_ids_outcome_error_and_sanitized_context() -> None:
    connection_id, account_id = uuid4(), uuid4()
    event = SyncFailed(
        connection_id=connection_id,
        account_id=account_id,
        error_code=ErrorCode.PROVIDER_UNAVAILABLE,
        error_message=f"GET ...?access_token={SECRET} timed out",
        context={"access_token": SECRET, "window": {"since": date(2025, 1, 1)}},
    )

    with capture_logs() as logs:
        await LoggingEventHandler()(event)

    (entry,) = logs
    assert SECRET not in repr(entry)
    assert entry == {
        "event": "SyncFailed",
        "log_level": "info",
        "workflow": "sync",
        "outcome": "failed",
        "event_id": str(event.event_id),
        "connection_id": str(connection_id),
        "account_id": str(account_id),
        "error_code": "provider_unavailable",
        "error_message": "GET ...?access_token=[REDACTED] timed out",
        "context": {"access_token": "[REDACTED]", "window": {"since": "2025-01-01"}},
    }


async def test_logging_handler_respects_the_configured_level() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))

    with capture_logs() as logs:
        await LoggingEventHandler()(SyncProgressed())
        await LoggingEventHandler()(SyncSucceeded())

    assert [e["event"] for e in logs] == ["SyncSucceeded"]


# --------------------------------------------------------------------------- wiring


async def test_wire_default_handlers_logs_everything_and_audits_three_state_events() -> None:
    audit = RecordingAuditLog()
    dispatcher = EventDispatcher()
    wire_default_handlers(dispatcher, audit=audit)
    events: list[DomainEvent] = [
        SyncAttempted(),
        SyncProgressed(),
        AccountBalanceChanged(),
        SyncSucceeded(),
    ]

    with capture_logs() as logs:
        for event in events:
            await dispatcher.publish(event)

    assert [e["event"] for e in logs] == [event.name for event in events]
    assert [(e.action, e.outcome) for e in audit.entries] == [
        ("sync", "attempted"),
        ("sync", "succeeded"),
    ]


async def test_a_failing_audit_log_does_not_stop_event_logging() -> None:
    class BrokenAudit:
        async def append(self, entry: AuditEntry) -> None:
            raise OSError("database is locked")

    dispatcher = EventDispatcher()
    wire_default_handlers(dispatcher, audit=BrokenAudit())

    with capture_logs() as logs:
        await dispatcher.publish(SyncAttempted())

    assert [e["event"] for e in logs] == ["SyncAttempted", "event_handler_failed"]
