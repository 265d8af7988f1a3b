"""Helpers for CLI tests: run the real `dashtam` entry point in a subprocess with a private HOME."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


type Dashtam = Callable[..., Run]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def base_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DASHTAM_") and k not in {"XDG_DATA_HOME", "XDG_CONFIG_HOME"}
    }
    env.update(HOME=str(home), NO_COLOR="1", COLUMNS="200")
    return env


@pytest.fixture
def dashtam(base_env: dict[str, str]) -> Dashtam:
    def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Run:
        merged = {**base_env, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "dashtam_cli", *args],
            capture_output=True,
            text=True,
            env=merged,
            input=stdin,
            timeout=120,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def file_backend() -> dict[str, str]:
    return {"DASHTAM_SECRETS_BACKEND": "file"}
