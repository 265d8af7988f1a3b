"""``dashtam tui``: the CLI imports Textual only when the dashboard actually runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def textual_modules(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if m == "textual" or m.startswith("textual."))


@pytest.mark.parametrize(
    "code",
    [
        "import dashtam_cli.presentation.cli",
        "import dashtam_cli.presentation.cli.app, dashtam_cli.presentation.cli.dashboard",
        # building the CLI and looking the command up does not load the dashboard either
        "from dashtam_cli.presentation.cli.app import create_app\n"
        "import typer\n"
        "group = typer.main.get_command(create_app(None))\n"
        "assert group.get_command(None, 'tui') is not None",
        # nor does its help
        "import sys\n"
        "from dashtam_cli.__main__ import main\n"
        "sys.argv = ['dashtam', 'tui', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass",
    ],
)
def test_the_cli_does_not_import_textual(code: str) -> None:
    assert textual_modules(modules_after(code)) == []


def test_the_dashboard_module_does_import_it() -> None:
    # the probe above would pass vacuously if the dashboard never needed Textual
    assert "textual.app" in modules_after("import dashtam_cli.presentation.tui.app")


def test_without_a_terminal_it_explains_and_exits_2(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHTAM_")}
    env.update(HOME=str(tmp_path), NO_COLOR="1")
    run = subprocess.run(
        [sys.executable, "-m", "dashtam_cli", "tui"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.startswith("error[invalid_argument]: dashtam tui needs a terminal")
