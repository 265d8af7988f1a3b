"""SyncRun: one execution of a sync for one connection, explainable after the fact."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum, unique
from uuid import UUID, uuid4

from dashtam_cli.domain.errors import ErrorCode


@unique
class SyncStatus(StrEnum):
    """The outcome of a sync run (``running`` while it is under way)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncCounts:
    """How many rows a sync touched."""

    accounts: int = 0
    holdings: int = 0
    transactions_inserted: int = 0
    transactions_updated: int = 0
    transactions_unchanged: int = 0

    def __add__(self, other: SyncCounts) -> SyncCounts:
        return SyncCounts(
            accounts=self.accounts + other.accounts,
            holdings=self.holdings + other.holdings,
            transactions_inserted=self.transactions_inserted + other.transactions_inserted,
            transactions_updated=self.transactions_updated + other.transactions_updated,
            transactions_unchanged=self.transactions_unchanged + other.transactions_unchanged,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncRun:
    """One sync of one connection."""

    connection_id: UUID
    started_at: datetime
    status: SyncStatus = SyncStatus.RUNNING
    finished_at: datetime | None = None
    counts: SyncCounts = field(default_factory=SyncCounts)
    error_code: ErrorCode | None = None
    error_message: str | None = None
    id: UUID = field(default_factory=uuid4)

    def finish(
        self,
        *,
        status: SyncStatus,
        at: datetime,
        counts: SyncCounts,
        error_code: ErrorCode | None = None,
        error_message: str | None = None,
    ) -> SyncRun:
        """Close the run with its outcome."""
        return replace(
            self,
            status=status,
            finished_at=at,
            counts=counts,
            error_code=error_code,
            error_message=error_message,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncCursor:
    """How far back an account's transaction history has been read.

    A first sync walks history backwards window by window and commits each window; the cursor
    remembers the oldest instant reached, so an interrupted backfill resumes where it stopped
    instead of being mistaken for a complete history.
    """

    account_id: UUID
    oldest_fetched_at: datetime | None = None
    backfill_complete: bool = False
    updated_at: datetime | None = None
