"""Every command has ``--help`` text and a section in the CLI reference (docs/reference/cli.md)."""

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from dashtam_cli.presentation.cli.app import create_app

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "cli.md"


def _commands() -> list[tuple[str, Any]]:
    """Every leaf command, lazy groups included (typer vendors its own click: duck typing)."""
    root: Any = typer.main.get_command(create_app(_unused_services))
    context_type = type(root.make_context("dashtam", ["--help"], resilient_parsing=True))
    ctx = context_type(root)
    found: list[tuple[str, Any]] = []

    def walk(group: Any, path: str, ctx: Any) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            full = f"{path} {name}"
            if hasattr(command, "list_commands"):
                walk(command, full, context_type(command, parent=ctx))
            else:
                found.append((full, command))

    walk(root, "dashtam", ctx)
    return found


async def _unused_services() -> Any:  # pragma: no cover - never opened: nothing runs
    raise AssertionError("no command runs in this test")


COMMANDS = _commands()


def test_the_walk_finds_every_group() -> None:
    names = {name for name, _ in COMMANDS}
    assert {"dashtam sync", "dashtam providers connect", "dashtam export transactions"} <= names
    assert len(names) >= 20


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_help_and_a_reference_section(name: str, command: Any) -> None:
    assert (command.help or "").strip(), f"{name} has no --help text"
    for param in command.params:
        if param.param_type_name == "option" and not getattr(param, "hidden", False):
            assert (param.help or "").strip(), f"{name} {param.opts[0]} has no help text"
    headings = [line for line in REFERENCE.read_text().splitlines() if line.startswith("## ")]
    words = name.split()
    pattern = re.compile(
        r"`" + re.escape(" ".join(words[:-1])) + r" [^`]*\b" + re.escape(words[-1]) + r"\b"
    )
    assert any(pattern.search(h) for h in headings), (
        f"docs/reference/cli.md has no section for `{name}`"
    )


EXIT_CODES_PAGE = REFERENCE.parent / "exit-codes.md"


def test_every_error_code_has_one_exit_code_as_the_reference_lists() -> None:
    from dashtam_cli.domain.errors import ErrorCode
    from dashtam_cli.presentation.cli.errors import EXIT_CODES, ExitCode

    assert set(EXIT_CODES) == set(ErrorCode)
    documented: dict[int, set[str]] = {}
    for line in EXIT_CODES_PAGE.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\| (\d+) \|.*\|([^|]*)\|$", line):
            documented[int(match[1])] = set(re.findall(r"`([a-z_]+)`", match[2]))
    assert set(documented) == {int(code) for code in ExitCode}
    by_exit: dict[int, set[str]] = {int(code): set() for code in ExitCode}
    for error, exit_code in EXIT_CODES.items():
        by_exit[int(exit_code)].add(error.value)
    assert documented == by_exit
