"""Queries (nouns) and the result DTOs the front ends render."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from dashtam_cli.application.ports import DatabaseInfo
from dashtam_cli.domain.connections import ConnectionStatus
from dashtam_cli.domain.protocols import AuditEntry


@dataclass(frozen=True, kw_only=True, slots=True)
class Status:
    """``dashtam status``: the health of this installation."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditList:
    """``dashtam audit list``: the audit trail, newest first."""

    since: datetime | None = None
    action: str | None = None
    limit: int = 50


@dataclass(frozen=True, kw_only=True, slots=True)
class SecretsHealth:
    """Which secrets backend is configured and whether it works."""

    backend: str
    available: bool
    detail: str | None = None
    hint: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionHealth:
    """One connection as ``status`` shows it."""

    id: UUID
    provider: str
    alias: str
    status: ConnectionStatus
    last_sync_at: datetime | None
    last_sync_status: str | None
    refresh_expires_at: datetime | None
    refresh_time_left: timedelta | None
    expiring_soon: bool
    action: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusReport:
    """Everything ``status`` reports."""

    database: DatabaseInfo
    secrets: SecretsHealth
    connections: Sequence[ConnectionHealth]


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditPage:
    """Audit rows for display."""

    entries: Sequence[AuditEntry]
