"""Domain events.

Every state-changing workflow emits ``<Workflow>Attempted`` before its work and exactly one of
``<Workflow>Succeeded`` / ``<Workflow>Failed`` after it. Operational events have a single state.
Events carry ids and non-secret context only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum, unique
from typing import ClassVar
from uuid import UUID, uuid4

from dashtam_cli.domain.errors import ErrorCode


def utc_now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


@unique
class Outcome(StrEnum):
    """Which state of its workflow an event reports."""

    ATTEMPTED = "attempted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    OBSERVED = "observed"


@unique
class Workflow(StrEnum):
    """The state-changing workflows (three-state) and operational events (single-state)."""

    PROVIDER_CONNECTION = "provider_connection"
    PROVIDER_DISCONNECTION = "provider_disconnection"
    PROVIDER_TOKEN_REFRESH = "provider_token_refresh"
    SYNC = "sync"
    ACCOUNT_SYNC = "account_sync"
    HOLDINGS_SYNC = "holdings_sync"
    TRANSACTION_SYNC = "transaction_sync"
    FILE_IMPORT = "file_import"
    EXPORT = "export"
    KEY_ROTATION = "key_rotation"
    ACCOUNT_BALANCE_CHANGED = "account_balance_changed"
    CONNECTION_EXPIRING_SOON = "connection_expiring_soon"
    SYNC_PROGRESS = "sync_progress"


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event."""

    workflow: ClassVar[Workflow]
    outcome: ClassVar[Outcome] = Outcome.OBSERVED

    connection_id: UUID | None = None
    account_id: UUID | None = None
    context: Mapping[str, object] = field(default_factory=dict)
    event_id: UUID = field(default_factory=uuid4)
    occurred_at: datetime = field(default_factory=utc_now)

    @property
    def name(self) -> str:
        """The event's class name, e.g. ``SyncSucceeded``."""
        return type(self).__name__

    @property
    def is_three_state(self) -> bool:
        """True for Attempted/Succeeded/Failed events (the ones the audit trail records)."""
        return self.outcome is not Outcome.OBSERVED


@dataclass(frozen=True, kw_only=True)
class Attempted(DomainEvent):
    """A workflow is about to do its work."""

    outcome: ClassVar[Outcome] = Outcome.ATTEMPTED


@dataclass(frozen=True, kw_only=True)
class Succeeded(DomainEvent):
    """A workflow finished its work."""

    outcome: ClassVar[Outcome] = Outcome.SUCCEEDED


@dataclass(frozen=True, kw_only=True)
class Failed(DomainEvent):
    """A workflow failed; ``error_code`` says why."""

    outcome: ClassVar[Outcome] = Outcome.FAILED
    error_code: ErrorCode
    error_message: str = ""


class ProviderConnectionAttempted(Attempted):
    """Provider connection is about to run."""

    workflow: ClassVar[Workflow] = Workflow.PROVIDER_CONNECTION


class ProviderConnectionSucceeded(Succeeded):
    """Provider connection finished."""

    workflow: ClassVar[Workflow] = Workflow.PROVIDER_CONNECTION


class ProviderConnectionFailed(Failed):
    """Provider connection failed."""

    workflow: ClassVar[Workflow] = Workflow.PROVIDER_CONNECTION


class ProviderDisconnectionAttempted(Attempted):
    """Provider disconnection is about to run."""

    workflow: ClassVar[Workflow] = Workflow.PROVIDER_DISCONNECTION


class ProviderDisconnectionSucceeded(Succeeded):
    """Provider disconnection finished."""

    workflow: ClassVar[Workflow] = Workflow.PROVIDER_DISCONNECTION


class ProviderDisconnectionFailed(Failed):
    """Provider disconnection failed."""

    workflow: ClassVar[Workflow] = Workflow.PROVIDER_DISCONNECTION


class ProviderTokenRefreshAttempted(Attempted):
    """Provider token refresh is about to run."""

    workflow: ClassVar[Workflow] = Workflow.PROVIDER_TOKEN_REFRESH


class ProviderTokenRefreshSucceeded(Succeeded):
    """Provider token refresh finished."""

    workflow: ClassVar[Workflow] = Workflow.PROVIDER_TOKEN_REFRESH


class ProviderTokenRefreshFailed(Failed):
    """Provider token refresh failed."""

    workflow: ClassVar[Workflow] = Workflow.PROVIDER_TOKEN_REFRESH


class SyncAttempted(Attempted):
    """Sync is about to run."""

    workflow: ClassVar[Workflow] = Workflow.SYNC


class SyncSucceeded(Succeeded):
    """Sync finished."""

    workflow: ClassVar[Workflow] = Workflow.SYNC


class SyncFailed(Failed):
    """Sync failed."""

    workflow: ClassVar[Workflow] = Workflow.SYNC


class AccountSyncAttempted(Attempted):
    """Account sync is about to run."""

    workflow: ClassVar[Workflow] = Workflow.ACCOUNT_SYNC


class AccountSyncSucceeded(Succeeded):
    """Account sync finished."""

    workflow: ClassVar[Workflow] = Workflow.ACCOUNT_SYNC


class AccountSyncFailed(Failed):
    """Account sync failed."""

    workflow: ClassVar[Workflow] = Workflow.ACCOUNT_SYNC


class HoldingsSyncAttempted(Attempted):
    """Holdings sync is about to run."""

    workflow: ClassVar[Workflow] = Workflow.HOLDINGS_SYNC


class HoldingsSyncSucceeded(Succeeded):
    """Holdings sync finished."""

    workflow: ClassVar[Workflow] = Workflow.HOLDINGS_SYNC


class HoldingsSyncFailed(Failed):
    """Holdings sync failed."""

    workflow: ClassVar[Workflow] = Workflow.HOLDINGS_SYNC


class TransactionSyncAttempted(Attempted):
    """Transaction sync is about to run."""

    workflow: ClassVar[Workflow] = Workflow.TRANSACTION_SYNC


class TransactionSyncSucceeded(Succeeded):
    """Transaction sync finished."""

    workflow: ClassVar[Workflow] = Workflow.TRANSACTION_SYNC


class TransactionSyncFailed(Failed):
    """Transaction sync failed."""

    workflow: ClassVar[Workflow] = Workflow.TRANSACTION_SYNC


class FileImportAttempted(Attempted):
    """File import is about to run."""

    workflow: ClassVar[Workflow] = Workflow.FILE_IMPORT


class FileImportSucceeded(Succeeded):
    """File import finished."""

    workflow: ClassVar[Workflow] = Workflow.FILE_IMPORT


class FileImportFailed(Failed):
    """File import failed."""

    workflow: ClassVar[Workflow] = Workflow.FILE_IMPORT


class ExportAttempted(Attempted):
    """Export is about to run."""

    workflow: ClassVar[Workflow] = Workflow.EXPORT


class ExportSucceeded(Succeeded):
    """Export finished."""

    workflow: ClassVar[Workflow] = Workflow.EXPORT


class ExportFailed(Failed):
    """Export failed."""

    workflow: ClassVar[Workflow] = Workflow.EXPORT


class KeyRotationAttempted(Attempted):
    """Key rotation is about to run."""

    workflow: ClassVar[Workflow] = Workflow.KEY_ROTATION


class KeyRotationSucceeded(Succeeded):
    """Key rotation finished."""

    workflow: ClassVar[Workflow] = Workflow.KEY_ROTATION


class KeyRotationFailed(Failed):
    """Key rotation failed."""

    workflow: ClassVar[Workflow] = Workflow.KEY_ROTATION


class AccountBalanceChanged(DomainEvent):
    """Account balance changed (operational)."""

    workflow: ClassVar[Workflow] = Workflow.ACCOUNT_BALANCE_CHANGED


class ConnectionExpiringSoon(DomainEvent):
    """Connection expiring soon (operational)."""

    workflow: ClassVar[Workflow] = Workflow.CONNECTION_EXPIRING_SOON


class SyncProgressed(DomainEvent):
    """Sync progress (operational)."""

    workflow: ClassVar[Workflow] = Workflow.SYNC_PROGRESS
