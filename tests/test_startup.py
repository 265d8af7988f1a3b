"""What a read command costs at start-up: the modules it must never import, and the machinery
that keeps them away (queries run without an event loop, lazy command and handler tables).

Speed itself is measured by ``make bench``; these tests pin the import graph, which is what the
start-up time is made of.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
import typer

from dashtam_cli.presentation.cli import context

#: Never imported by ``accounts list`` / ``transactions list`` on a SQLite file.
READ_FORBIDDEN = [
    "asyncio",
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "structlog",
    "dashtam_cli.application.commands",
    "dashtam_cli.application.dashboard",
    "dashtam_cli.application.query_results",
    "dashtam_cli.domain.events",
    "dashtam_cli.domain.protocols",
    "dashtam_cli.domain.providers",
    "dashtam_cli.domain.sync",
    "dashtam_cli.infrastructure.providers",
    "dashtam_cli.presentation.cli.sync",
    "dashtam_cli.presentation.cli.system",
    "dashtam_cli.presentation.cli.dashboard",
]


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A private HOME holding a small demo database (SQLite, file secrets backend)."""
    home = tmp_path_factory.mktemp("home")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DASHTAM_", "XDG_")) and key != "PYTHONPATH"
    }
    env.update(HOME=str(home), DASHTAM_SECRETS_BACKEND="file")
    subprocess.run(
        [sys.executable, "-m", "dashtam_cli", "demo", "--transactions", "300"],
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return env


def run_cli(env: dict[str, str], *args: str) -> tuple[str, set[str]]:
    """Run the CLI in a fresh interpreter: (its standard output, the modules it imported)."""
    probe = (
        "import sys, json, io, contextlib\n"
        "from dashtam_cli.__main__ import main\n"
        f"sys.argv = ['dashtam', *{list(args)!r}]\n"
        "out = io.StringIO()\n"
        "try:\n    with contextlib.redirect_stdout(out):\n        main()\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(json.dumps([out.getvalue(), sorted(sys.modules)]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    stdout, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    return stdout, set(modules)


def leaked(modules: set[str], forbidden: list[str]) -> list[str]:
    return sorted(m for m in modules for f in forbidden if m == f or m.startswith(f + "."))


@pytest.mark.slow
def test_read_commands_import_only_what_they_need(demo_env: dict[str, str]) -> None:
    listed, accounts_list = run_cli(demo_env, "accounts", "list", "-f", "json")
    assert "dashtam_cli.infrastructure.db.sqlite_readers" in accounts_list  # the fast readers
    account = json.loads(listed)[0]["id"]
    table, accounts_table = run_cli(demo_env, "accounts", "list")
    assert "Net worth" in table
    rows, transactions_list = run_cli(
        demo_env, "transactions", "list", "--account", account[:8], "--since", "2000-01-01"
    )
    assert "Total of the" in rows
    for modules in (accounts_list, accounts_table, transactions_list):
        assert leaked(modules, READ_FORBIDDEN) == []


@pytest.mark.slow
def test_audit_list_and_export_on_sqlite_do_not_import_sqlalchemy(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "accounts.csv"
    _, exported = run_cli(demo_env, "export", "accounts", "--output", str(target))
    assert target.read_text(encoding="utf-8").startswith("id,connection_id,")
    assert leaked(exported, ["sqlalchemy", "aiosqlite"]) == []
    audit, audited = run_cli(demo_env, "audit", "list", "--action", "export", "-f", "json")
    outcomes = [entry["outcome"] for entry in json.loads(audit)][:2]
    assert outcomes == ["succeeded", "attempted"]
    assert leaked(audited, ["sqlalchemy", "aiosqlite", "asyncio"]) == []


@pytest.mark.slow
def test_a_query_that_needs_a_migration_runs_under_asyncio(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHTAM_", "XDG_"))}
    env.update(HOME=str(tmp_path), DASHTAM_SECRETS_BACKEND="file")
    listed, modules = run_cli(env, "accounts", "list", "-f", "json")
    assert json.loads(listed) == []
    assert "asyncio" in modules  # the empty database was migrated through the engine
    assert (tmp_path / ".local" / "share" / "dashtam" / "dashtam.db").is_file()
    _, again = run_cli(env, "accounts", "list", "-f", "json")
    assert "asyncio" not in again  # current schema: inline from now on


def test_help_lists_every_command_without_building_the_groups() -> None:
    probe = (
        "import sys, io, contextlib, json\n"
        "from dashtam_cli.__main__ import main\n"
        "sys.argv = ['dashtam', '--help']\n"
        "out = io.StringIO()\n"
        "try:\n    with contextlib.redirect_stdout(out):\n        main()\n"
        "except SystemExit:\n    pass\n"
        "print(json.dumps([out.getvalue(), sorted(sys.modules)]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    text, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    listing = text.split("Commands:")[1].splitlines()
    names = [line.split()[0] for line in listing if line.startswith("  ") and line[2] != " "]
    assert names[:5] == ["init", "demo", "sync", "status", "tui"]
    assert {"accounts", "transactions", "export", "keys"} <= set(names)
    assert "Create the config and data dirs" in text  # a lazy command's own docstring
    assert "dashtam_cli.presentation.cli.accounts" not in modules


# ------------------------------------------------------------------ queries without a loop


class _Services:
    """A stand-in for the composition root's services, running one coroutine as the query."""

    def __init__(self, work: Any) -> None:
        self.bus = self
        self._work = work
        self.closed = 0

    async def execute(self, message: object) -> Any:
        return await self._work()

    async def aclose(self) -> None:
        self.closed += 1


def _ctx(work: Any) -> tuple[typer.Context, list[_Services]]:
    opened: list[_Services] = []

    async def open_services() -> Any:
        services = _Services(work)
        opened.append(services)
        return services

    ctx = typer.Context(typer.core.TyperCommand("probe"))
    ctx.obj = context.CliState(open_services=open_services)
    return ctx, opened


def _query() -> object:
    from dashtam_cli.application.queries import AccountList

    return AccountList()


def test_a_query_that_never_waits_runs_without_an_event_loop() -> None:
    seen: list[bool] = []

    async def work() -> Any:
        from dashtam_cli.domain.errors import ok

        seen.append(_loop_running())
        await asyncio.sleep(0)  # a bare yield: resumed at once
        return ok("done")

    ctx, opened = _ctx(work)
    assert context.execute(ctx, _query()) == "done"
    assert seen == [False]
    assert [s.closed for s in opened] == [1]


@pytest.mark.parametrize("needs", ["engine", "future"])
def test_a_query_that_needs_a_loop_starts_again_under_asyncio(needs: str) -> None:
    seen: list[bool] = []

    async def work() -> Any:
        from dashtam_cli.domain.errors import ok

        running = _loop_running()
        seen.append(running)
        if needs == "engine":
            context.require_event_loop()  # what the engine property does first
        await asyncio.sleep(0.001)  # a real wait: without a loop, asyncio raises RuntimeError
        return ok(needs)

    ctx, opened = _ctx(work)
    assert context.execute(ctx, _query()) == needs
    assert seen == [False, True]
    assert [s.closed for s in opened] == [1, 1]  # the first attempt was closed too


def test_a_command_always_runs_under_asyncio() -> None:
    seen: list[bool] = []

    async def work() -> Any:
        from dashtam_cli.domain.errors import ok

        seen.append(_loop_running())
        return ok(1)

    ctx, _ = _ctx(work)
    from dashtam_cli.application.commands import UpgradeDatabase

    assert context.execute(ctx, UpgradeDatabase()) == 1
    assert seen == [True]


def test_require_event_loop_is_quiet_outside_an_inline_query() -> None:
    context.require_event_loop()  # no exception: nothing runs inline


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_coroutines_are_closed_when_a_query_restarts() -> None:
    created: list[Coroutine[Any, Any, Any]] = []

    async def needs_loop() -> int:
        context.require_event_loop()
        return 1

    def make() -> Coroutine[Any, Any, int]:
        created.append(needs_loop())
        return created[-1]

    assert context._run_query(make, as_json=False) == 1
    assert len(created) == 2
    assert {inspect.getcoroutinestate(c) for c in created} == {inspect.CORO_CLOSED}
