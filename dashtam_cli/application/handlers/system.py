"""Handlers for the installation itself: init, database upgrade, status, audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from dashtam_cli.application.commands import InitializeWorkspace, UpgradeDatabase
from dashtam_cli.application.handlers.health import connection_health
from dashtam_cli.application.ports import (
    AuditReader,
    ConnectionReader,
    DatabaseAdmin,
    DatabaseInfo,
    SecretsProbe,
    Workspace,
)
from dashtam_cli.application.queries import (
    AuditList,
    AuditPage,
    SecretsHealth,
    Status,
    StatusReport,
)
from dashtam_cli.domain.errors import Failure, Result, ok
from dashtam_cli.domain.protocols import Clock, KeyStore


@dataclass(frozen=True, kw_only=True, slots=True)
class InitReport:
    """What ``init`` did: empty ``created`` and equal revisions mean nothing changed."""

    created_paths: tuple[str, ...]
    revision_before: str | None
    database: DatabaseInfo
    secrets_backend: str
    key_version: int

    @property
    def changed(self) -> bool:
        """True when this run created or migrated anything."""
        return bool(self.created_paths) or self.revision_before != self.database.revision


class InitializeWorkspaceHandler:
    """Create directories, migrate the database and make sure a data key exists."""

    def __init__(
        self,
        *,
        workspace: Workspace,
        database: DatabaseAdmin,
        keys: KeyStore,
        secrets: SecretsProbe,
    ) -> None:
        self._workspace = workspace
        self._database = database
        self._keys = keys
        self._secrets = secrets

    async def handle(self, command: InitializeWorkspace) -> Result[InitReport]:
        """Run ``init``.

        Returns:
            The report, or the failure of the first step that failed (database errors,
            ``secrets_backend_unavailable`` when the key store cannot be used).
        """
        # Check the secrets backend before creating anything, so a machine without a keyring
        # gets the hint and an untouched disk.
        probe = self._secrets.probe()
        if isinstance(probe, Failure):
            return probe
        created = self._workspace.ensure()
        if isinstance(created, Failure):
            return created
        key = self._keys.current()
        if isinstance(key, Failure):
            return key
        before = await self._database.info()
        if isinstance(before, Failure):
            return before
        after = await self._database.upgrade()
        if isinstance(after, Failure):
            return after
        return ok(
            InitReport(
                created_paths=tuple(created.value),
                revision_before=before.value.revision,
                database=after.value,
                secrets_backend=self._keys.backend,
                key_version=key.value.version,
            )
        )


class UpgradeDatabaseHandler:
    """Apply pending migrations."""

    def __init__(self, *, database: DatabaseAdmin) -> None:
        self._database = database

    async def handle(self, command: UpgradeDatabase) -> Result[DatabaseInfo]:
        """Upgrade to head (idempotent)."""
        return await self._database.upgrade()


class StatusHandler:
    """Answer ``dashtam status``."""

    def __init__(
        self,
        *,
        database: DatabaseAdmin,
        secrets: SecretsProbe,
        connections: ConnectionReader,
        clock: Clock,
    ) -> None:
        self._database = database
        self._secrets = secrets
        self._connections = connections
        self._clock = clock

    async def handle(self, query: Status) -> Result[StatusReport]:
        """Report database, secrets backend and connection health."""
        info = await self._database.info()
        if isinstance(info, Failure):
            return info
        probe = self._secrets.probe()
        secrets = (
            SecretsHealth(
                backend=self._secrets.backend,
                available=False,
                detail=probe.error.message,
                hint=probe.error.hint,
            )
            if isinstance(probe, Failure)
            else SecretsHealth(backend=self._secrets.backend, available=True)
        )
        connections = (
            [] if info.value.revision is None else await self._connections.list_connections()
        )
        return ok(
            StatusReport(
                database=info.value,
                secrets=secrets,
                connections=[connection_health(c, self._clock) for c in connections],
            )
        )


class AuditListHandler:
    """Answer ``dashtam audit list``."""

    def __init__(self, *, audit: AuditReader) -> None:
        self._audit = audit

    async def handle(self, query: AuditList) -> Result[AuditPage]:
        """The newest audit rows matching the filters."""
        entries = await self._audit.list_entries(
            since=query.since, action=query.action, limit=query.limit
        )
        return ok(AuditPage(entries=entries))
