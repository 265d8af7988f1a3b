"""Dashboard fixtures: one deterministic demo database per session, copied for each test.

The demo is built with a frozen clock (four syncs a day apart, so there is a history to chart)
and a seeded ``os.urandom``: ``uuid4`` draws from it, so every id, and with them the order of
same-day transactions, is the same on every run. Snapshots depend on that.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashtam_cli.application.commands import StartDemo, SyncConnections
from dashtam_cli.bootstrap import bootstrap
from dashtam_cli.domain.errors import Success
from dashtam_cli.domain.providers import Provider
from dashtam_cli.presentation.cli.context import Services
from dashtam_cli.presentation.tui.app import DashtamApp
from dashtam_cli.settings import Settings
from tests.fakes import FrozenClock

#: When the last demo sync ran (the dashboard's frozen "now").
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SEED = 7
TRANSACTIONS = 2_000
SYNCS = 4

type AppFactory = Callable[..., DashtamApp]


def settings_for(root: Path) -> Settings:
    """Settings whose data and config dirs live under ``root`` (nothing from the environment)."""
    return Settings(data_dir=root / "data", config_dir=root / "config", secrets_backend="file")


def _seeded_urandom(seed: int) -> Callable[[int], bytes]:
    generator = random.Random(seed)
    return generator.randbytes


async def _build_demo(root: Path) -> None:
    clock = FrozenClock(NOW - timedelta(days=SYNCS - 1))
    app = await bootstrap(settings_for(root), clock=clock, configure_logs=False)
    try:
        started = await app.bus.execute(StartDemo(transactions=TRANSACTIONS, seed=SEED))
        assert isinstance(started, Success), started
        for day in range(SYNCS):
            if day:
                clock.advance(timedelta(days=1))
            synced = await app.bus.execute(SyncConnections())
            assert isinstance(synced, Success), synced
    finally:
        await app.aclose()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace (2,000 transactions, 6 accounts, 4 syncs), built once per session."""
    root = tmp_path_factory.mktemp("tui-demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "urandom", _seeded_urandom(SEED))
        asyncio.run(_build_demo(root))
    return root


@pytest.fixture
def workspace(demo_template: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo workspace (tests may sync into it)."""
    root = tmp_path / "workspace"
    shutil.copytree(demo_template, root)
    return root


@pytest.fixture
def make_app(workspace: Path) -> AppFactory:
    """Builds a dashboard over the test's workspace, its clock frozen at :data:`NOW`."""

    def build(
        *, clock: FrozenClock | None = None, providers: Sequence[Provider] | None = None
    ) -> DashtamApp:
        frozen = clock or FrozenClock(NOW)

        async def open_services() -> Services:
            return await bootstrap(
                settings_for(workspace), clock=frozen, providers=providers, configure_logs=False
            )

        return DashtamApp(open_services)

    return build
