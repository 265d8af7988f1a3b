"""Pilot tests of syncing from the dashboard, and of the errors and warnings it shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from textual.widgets import DataTable, ProgressBar, RichLog, Select, Static

from dashtam_cli.bootstrap import bootstrap
from dashtam_cli.domain.connections import (
    ConnectionStatus,
    CredentialKind,
    ProviderConnection,
    ProviderCredentials,
)
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result
from dashtam_cli.domain.providers import ProviderCapabilities, ProviderSession
from dashtam_cli.infrastructure.providers.demo import DemoProvider
from dashtam_cli.presentation.tui.screens.overview import OverviewScreen
from dashtam_cli.presentation.tui.screens.sync import SyncScreen
from dashtam_cli.presentation.tui.widgets.charts import NetWorthChart
from tests.fakes import FrozenClock
from tests.tui.conftest import NOW, AppFactory, settings_for
from tests.tui.tuitools import column, row_text, screen_text, settle, static_text

SIZE = (100, 30)


class RefusedLogin:
    """The demo provider, except that the provider now refuses the stored login."""

    def __init__(self) -> None:
        self._demo = DemoProvider()

    @property
    def slug(self) -> str:
        return self._demo.slug

    @property
    def display_name(self) -> str:
        return self._demo.display_name

    @property
    def capabilities(self) -> ProviderCapabilities:
        return self._demo.capabilities

    async def open_session(
        self, connection: ProviderConnection, *, now: datetime
    ) -> Result[ProviderSession, DomainError]:
        return Failure(
            error=DomainError(
                code=ErrorCode.REAUTH_REQUIRED,
                message="the provider refused the stored login",
                hint="dashtam providers connect demo --alias demo",
            )
        )


async def fail_demo_accounts(workspace: Path, *indices: int) -> None:
    """Make the demo provider fail the transactions of these accounts (its test switch)."""
    app = await bootstrap(settings_for(workspace), clock=FrozenClock(NOW), configure_logs=False)
    try:
        async with app.uow_factory() as uow:
            [connection] = await uow.connections.list()
            state = {**connection.provider_state, "fail_accounts": list(indices)}
            await uow.connections.save(replace(connection, provider_state=state))
            await uow.commit()
    finally:
        await app.aclose()


async def add_connection(workspace: Path, connection: ProviderConnection) -> None:
    app = await bootstrap(settings_for(workspace), clock=FrozenClock(NOW), configure_logs=False)
    try:
        async with app.uow_factory() as uow:
            await uow.connections.save(connection)
            await uow.commit()
    finally:
        await app.aclose()


def log_lines(screen: SyncScreen) -> list[str]:
    return [strip.text for strip in screen.query_one("#sync-log", RichLog).lines]


async def test_s_syncs_the_demo_with_live_progress_then_every_screen_reloads(
    make_app: AppFactory,
) -> None:
    app = make_app(clock=FrozenClock(NOW + timedelta(days=1)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        points = len(app.screen.query_one(NetWorthChart).points)
        await pilot.press("s")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SyncScreen)
        lines = log_lines(screen)
        # the same events the CLI's progress bar reads: one line per account, then the result
        assert lines[0] == "Syncing demo (demo)…"
        assert sum(line.startswith("✓ ****") for line in lines) == 6
        assert lines[-1] == "demo: succeeded"
        assert screen.rows_read > 0  # SyncProgressed events were counted as they came
        bar = screen.query_one("#sync-progress", ProgressBar)
        assert bar.percentage == 1
        results = screen.query_one("#sync-results", DataTable)
        assert row_text(results, 0)[:3] == ["demo", "6 accounts", "succeeded"]
        assert column(results, "result")[1:] == ["ok"] * 6
        status = static_text(screen.query_one("#sync-status", Static))
        assert status.startswith("Sync succeeded: 1 connection(s)")
        assert app.data_version == 1
        # back on the overview: reloaded, with one more point of history
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert len(app.screen.query_one(NetWorthChart).points) == points + 1
        connections = app.screen.query_one("#connections", DataTable)
        assert row_text(connections, 0)[3] == "2026-03-03 15:00 succeeded"


async def test_a_partial_sync_lists_the_failed_account_and_its_error(
    make_app: AppFactory, workspace: Path
) -> None:
    await fail_demo_accounts(workspace, 1)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SyncScreen)
        results = screen.query_one("#sync-results", DataTable)
        assert row_text(results, 0)[2] == "partial"
        failed = [row_text(results, i) for i in range(1, results.row_count)]
        failed = [row for row in failed if row[2] == "failed"]
        assert len(failed) == 1
        assert failed[0][5].startswith("provider_unavailable: ")
        assert any(
            line.startswith("✗ ****") and "provider_unavailable" in line
            for line in log_lines(screen)
        )
        assert static_text(screen.query_one("#sync-status", Static)).startswith("Sync partial")


async def test_a_refused_login_fails_the_sync_and_the_overview_says_what_to_run(
    make_app: AppFactory,
) -> None:
    app = make_app(providers=[RefusedLogin()])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # Enter on the connection row: the sync screen with that connection chosen
        app.screen.query_one("#connections", DataTable).focus()
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SyncScreen)
        assert screen.query_one("#target", Select).value == "demo"
        await pilot.click("#sync-now")
        await settle(pilot)
        results = screen.query_one("#sync-results", DataTable)
        assert row_text(results, 0)[2] == "failed"
        assert row_text(results, 0)[5] == "reauth_required: the provider refused the stored login"
        assert log_lines(screen)[-1].startswith("demo: failed error[reauth_required]")
        await pilot.press("o")
        await settle(pilot)
        connections = app.screen.query_one("#connections", DataTable)
        assert row_text(connections, 0)[2] == "✗ expired"
        attention = static_text(app.screen.query_one("#attention", Static))
        assert attention.startswith(
            "! demo: the login is expired; run dashtam providers disconnect demo --yes, then"
        )
        # syncing it again is refused before any provider call: the error banner says why
        await pilot.press("s")
        await settle(pilot)
        banner = static_text(app.screen.query_one("#error", Static))
        assert banner.startswith("error[connection_not_active]: connection 'demo' is expired")
        assert "hint: dashtam providers disconnect demo --yes, then dashtam demo" in banner


async def test_a_login_expiring_within_a_day_is_flagged(
    make_app: AppFactory, workspace: Path
) -> None:
    expires = NOW + timedelta(hours=5)
    await add_connection(
        workspace,
        ProviderConnection(
            provider="schwab",
            alias="main",
            status=ConnectionStatus.ACTIVE,
            credentials=ProviderCredentials(
                ciphertext=b"opaque",
                kind=CredentialKind.OAUTH2,
                access_expires_at=NOW + timedelta(minutes=20),
                refresh_expires_at=expires,
            ),
            connected_at=expires - timedelta(days=7),
            created_at=expires - timedelta(days=7),
            updated_at=expires - timedelta(days=7),
        ),
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        connections = app.screen.query_one("#connections", DataTable)
        aliases = column(connections, "alias")
        main = row_text(connections, aliases.index("main"))
        assert main[2] == "! active"
        assert main[4] == "5h 0m left"
        assert main[3] == "never"
        attention = static_text(app.screen.query_one("#attention", Static))
        action = "run dashtam providers connect schwab --alias main"
        assert f"! main: the login expires soon: {action}" in attention
        assert "5h 0m left" in screen_text(app)
