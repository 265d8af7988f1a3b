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
