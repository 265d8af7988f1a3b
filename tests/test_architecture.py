"""The layer rules that import-linter cannot see: what a command start-up actually imports."""

import json
import subprocess
import sys

import pytest

HEAVY = ["textual", "alembic", "httpx", "keyring"]


def imported_modules(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import dashtam_cli.presentation.cli",
        "import dashtam_cli.presentation.cli.app",
        "import dashtam_cli.__main__",
        "from dashtam_cli.presentation.cli.app import create_app\ncreate_app(None)",
    ],
)
def test_cli_import_does_not_pull_heavy_modules(code: str) -> None:
    loaded = imported_modules(code)
    leaked = sorted(m for m in loaded for heavy in HEAVY if m == heavy or m.startswith(heavy + "."))
    assert leaked == []


def test_help_does_not_import_the_database_stack() -> None:
    code = (
        "import sys\n"
        "from dashtam_cli.__main__ import main\n"
        "sys.argv = ['dashtam', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    loaded = imported_modules(code)
    for heavy in [*HEAVY, "sqlalchemy", "pydantic_settings", "cryptography", "structlog"]:
        assert heavy not in loaded, heavy


def test_domain_imports_only_the_standard_library() -> None:
    loaded = imported_modules(
        "import dashtam_cli.domain.protocols, dashtam_cli.domain.events, dashtam_cli.domain.money"
    )
    third_party = (
        {m.split(".")[0] for m in loaded}
        - set(sys.stdlib_module_names)
        - {"dashtam_cli", "__main__"}
    )
    assert third_party == set()


FAST_READ_FORBIDDEN = ["sqlalchemy", "alembic", "structlog", "cryptography", "keyring", "aiosqlite"]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A private HOME holding a small demo database (SQLite, file secrets backend)."""
    import os

    home = tmp_path_factory.mktemp("home")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DASHTAM_", "XDG_")) and key != "PYTHONPATH"
    }
    env.update(HOME=str(home), DASHTAM_SECRETS_BACKEND="file")
    seed = "from dashtam_cli.__main__ import main\nmain()"
    subprocess.run(
        [sys.executable, "-c", seed, "demo", "--transactions", "200"],
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return env


def cli_modules(env: dict[str, str], *args: str) -> set[str]:
    """Run the CLI in a fresh interpreter; return the modules it imported (exit code 0 only)."""
    probe = (
        "import sys, json\n"
        "from dashtam_cli.__main__ import main\n"
        f"sys.argv = ['dashtam', *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_read_commands_on_sqlite_do_not_import_sqlalchemy(demo_home: dict[str, str]) -> None:
    accounts_list = cli_modules(demo_home, "accounts", "list", "-f", "json")
    assert "dashtam_cli.infrastructure.db.sqlite_readers" in accounts_list  # the fast path ran
    first = subprocess.run(
        [sys.executable, "-m", "dashtam_cli", "accounts", "list", "-f", "json"],
        env=demo_home,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    account_id = json.loads(first.stdout)[0]["id"]
    transactions_list = cli_modules(
        demo_home,
        "transactions", "list", "--account", account_id, "--since", "2000-01-01", "--limit", "50",
    )  # fmt: skip
    for loaded in (accounts_list, transactions_list):
        leaked = sorted(
            m
            for m in loaded
            for heavy in FAST_READ_FORBIDDEN
            if m == heavy or m.startswith(heavy + ".")
        )
        assert leaked == []
