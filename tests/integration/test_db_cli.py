"""The installed command on both backends: init, status, key rotation and the audit trail."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashtam_cli.infrastructure.database import SCHEMA_HEAD
from dashtam_cli.infrastructure.db.migrate import head_revision


def test_schema_head_constant_matches_the_migrations() -> None:
    assert head_revision() == SCHEMA_HEAD


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashtam_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli_env(empty_db_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHTAM_")}
    env.update(
        HOME=str(tmp_path),
        DASHTAM_DATABASE_URL=empty_db_url,
        DASHTAM_SECRETS_BACKEND="file",
        NO_COLOR="1",
    )
    return env


def test_init_status_rotate_audit(cli_env: dict[str, str], backend: str) -> None:
    before = run(["status", "--format", "json"], cli_env)
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["database"]["schema_revision"] is None

    first = run(["init", "--format", "json"], cli_env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["changed"] is True
    second = run(["init", "--format", "json"], cli_env)
    assert json.loads(second.stdout)["changed"] is False

    status = json.loads(run(["status", "--format", "json"], cli_env).stdout)
    assert status["database"]["backend"] == backend
    assert status["database"]["schema_revision"] == SCHEMA_HEAD

    rotated = run(["keys", "rotate", "--format", "json"], cli_env)
    assert rotated.returncode == 0, rotated.stderr
    audit = json.loads(run(["audit", "list", "--format", "json"], cli_env).stdout)
    assert {(e["action"], e["outcome"]) for e in audit} == {
        ("key_rotation", "attempted"),
        ("key_rotation", "succeeded"),
    }


def test_an_unreachable_database_says_what_the_driver_said(
    cli_env: dict[str, str], backend: str
) -> None:
    env = dict(cli_env)
    if backend == "sqlite":
        # a "directory" that is a file: SQLite cannot open the database under it
        blocker = Path(env["HOME"]) / "not-a-dir"
        blocker.write_text("")
        env["DASHTAM_DATABASE_URL"] = f"sqlite:///{blocker}/dashtam.db"
        reason, hint = "unable to open database file", "may read and write"
    else:
        # nothing listens on port 1 of the loopback address
        env["DASHTAM_DATABASE_URL"] = "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/none"
        reason, hint = "Connection refused", "database server is running"
    done = run(["accounts", "list"], env)
    assert done.returncode == 8, done.stderr
    first, second = done.stderr.splitlines()[:2]
    assert first.startswith("error[database_unreachable]: cannot open the database at ")
    assert reason in first
    assert hint in second
    assert "s3cret" not in done.stderr
