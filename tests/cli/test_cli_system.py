import stat
from pathlib import Path

import pytest

from dashtam_cli.infrastructure.database import SCHEMA_HEAD
from tests.clitools import Dashtam

DATA = Path(".local/share/dashtam")
CONFIG = Path(".config/dashtam")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_version_and_help(dashtam: Dashtam) -> None:
    version = dashtam("--version")
    assert version.code == 0
    assert version.stdout.startswith("dashtam ")
    helped = dashtam("--help")
    assert helped.code == 0
    for command in ["init", "status", "db", "audit", "keys"]:
        assert command in helped.stdout


def test_init_is_idempotent_and_private(
    dashtam: Dashtam, home: Path, file_backend: dict[str, str]
) -> None:
    first = dashtam("init", "--format", "json", env=file_backend)
    assert first.code == 0, first.stderr
    doc = first.json()
    assert isinstance(doc, dict)
    assert doc["changed"] is True
    assert doc["schema_revision"] == SCHEMA_HEAD
    assert doc["secrets_backend"] == "file"
    db = home / DATA / "dashtam.db"
    key_file = home / CONFIG / "keys.json"
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700
    assert mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700
    key_before = key_file.read_bytes()

    second = dashtam("init", "--format", "json", env=file_backend)
    assert second.code == 0, second.stderr
    doc2 = second.json()
    assert isinstance(doc2, dict)
    assert doc2["changed"] is False
    assert doc2["created"] == []
    assert key_file.read_bytes() == key_before

    text = dashtam("init", env=file_backend)
    assert "nothing changed" in text.stdout


def test_init_without_a_keyring_exits_7_with_a_hint_and_creates_nothing(
    dashtam: Dashtam, home: Path
) -> None:
    # keyrings on this test machine: none (the fail backend); force it in case one exists.
    env = {
        "DASHTAM_SECRETS_BACKEND": "keyring",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    result = dashtam("init", env=env)
    assert result.code == 7
    assert "error[secrets_backend_unavailable]" in result.stderr
    assert "DASHTAM_SECRETS_BACKEND=file" in result.stderr
    assert result.stdout == ""
    assert not (home / DATA / "dashtam.db").exists()


def test_error_as_json_on_stdout(dashtam: Dashtam) -> None:
    env = {
        "DASHTAM_SECRETS_BACKEND": "keyring",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    result = dashtam("init", "--format", "json", env=env)
    assert result.code == 7
    doc = result.json()
    assert isinstance(doc, dict)
    assert doc["code"] == "secrets_backend_unavailable"
    assert set(doc) >= {"code", "title", "detail", "hint"}


def test_status_reports_backend_revision_and_secrets(
    dashtam: Dashtam, home: Path, file_backend: dict[str, str]
) -> None:
    fresh = dashtam("status", "--format", "json", env=file_backend)
    assert fresh.code == 0, fresh.stderr
    doc = fresh.json()
    assert isinstance(doc, dict)
    assert doc["database"]["backend"] == "sqlite"
    assert doc["database"]["schema_revision"] is None
    assert not (home / DATA / "dashtam.db").exists(), "status must not create the database"

    assert dashtam("init", env=file_backend).code == 0
    after = dashtam("status", "--format", "json", env=file_backend).json()
    assert isinstance(after, dict)
    assert after["database"]["schema_revision"] == SCHEMA_HEAD
    assert after["database"]["up_to_date"] is True
    assert after["secrets"] == {"backend": "file", "available": True, "detail": None, "hint": None}
    assert after["connections"] == []

    table = dashtam("status", env=file_backend)
    assert table.code == 0
    assert "sqlite" in table.stdout
    assert "No connections yet." in table.stdout
    assert "\x1b[" not in table.stdout


def test_status_shows_an_unavailable_keyring_without_failing(dashtam: Dashtam) -> None:
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = dashtam("status", env=env)
    assert result.code == 0, result.stderr
    assert "unavailable" in result.stdout
    assert "DASHTAM_SECRETS_BACKEND=file" in result.stdout


def test_db_upgrade_and_current(dashtam: Dashtam, file_backend: dict[str, str]) -> None:
    assert "empty" in dashtam("db", "current", env=file_backend).stdout
    upgraded = dashtam("db", "upgrade", "--format", "json", env=file_backend)
    assert upgraded.code == 0, upgraded.stderr
    doc = upgraded.json()
    assert isinstance(doc, dict)
    assert (doc["revision"], doc["up_to_date"]) == (SCHEMA_HEAD, True)
    assert f"{SCHEMA_HEAD} (up to date)" in dashtam("db", "current", env=file_backend).stdout


def test_bad_configuration_is_a_usage_error(dashtam: Dashtam) -> None:
    result = dashtam("status", env={"DASHTAM_SECRETS_BACKEND": "plaintext"})
    assert result.code == 2
    assert "error[config_invalid]" in result.stderr
    assert "secrets_backend" in result.stderr
    bad_url = dashtam("status", env={"DASHTAM_SCHWAB_API_URL": "http://evil.example.com"})
    assert bad_url.code == 2
    assert "DASHTAM_SCHWAB_API_URL" in bad_url.stderr
    bad_db = dashtam("status", env={"DASHTAM_DATABASE_URL": "mysql://x@y/z"})
    assert bad_db.code == 2
    assert "DASHTAM_DATABASE_URL" in bad_db.stderr


def test_unreachable_postgres_is_a_database_error(
    dashtam: Dashtam, file_backend: dict[str, str]
) -> None:
    env = {
        **file_backend,
        "DASHTAM_DATABASE_URL": "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none",
    }
    result = dashtam("db", "upgrade", env=env)
    assert result.code == 8
    assert "error[database_unreachable]" in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "list", "--since", "2026-13-01"),
        ("transactions", "list", "--until", "2025-02-30"),
        ("balances", "history", "--since", "yesterday"),
        ("sync", "--since", "2025/01/01"),
        ("export", "transactions", "--since", "01/02/2025"),
    ],
    ids=" ".join,
)
def test_a_bad_date_is_invalid_date_in_the_error_format(
    dashtam: Dashtam, file_backend: dict[str, str], args: tuple[str, ...]
) -> None:
    result = dashtam(*args, env=file_backend)
    assert result.code == 2
    option, value = args[-2:]
    assert result.stderr.splitlines() == [
        f"error[invalid_date]: {option} {value!r} is not a date",
        "  hint: use YYYY-MM-DD, e.g. 2025-01-31",
    ]
    as_json = dashtam(*args, "--format", "json", env=file_backend)
    assert as_json.code == 2
    document = as_json.json()
    assert isinstance(document, dict)
    assert (document["code"], document["exit_code"]) == ("invalid_date", 2)


def test_config_toml_is_read_and_env_overrides_it(dashtam: Dashtam, home: Path) -> None:
    config = home / CONFIG
    config.mkdir(parents=True)
    (config / "config.toml").write_text('secrets_backend = "file"\n', encoding="utf-8")
    via_file = dashtam("status", "--format", "json").json()
    assert isinstance(via_file, dict)
    assert via_file["secrets"]["backend"] == "file"
    via_env = dashtam("status", "--format", "json", env={"DASHTAM_SECRETS_BACKEND": "env"}).json()
    assert isinstance(via_env, dict)
    assert via_env["secrets"]["backend"] == "env"


def test_keys_rotate_and_audit_trail(dashtam: Dashtam, file_backend: dict[str, str]) -> None:
    assert dashtam("init", env=file_backend).code == 0
    rotated = dashtam("keys", "rotate", "--format", "json", env=file_backend)
    assert rotated.code == 0, rotated.stderr
    doc = rotated.json()
    assert isinstance(doc, dict)
    assert (doc["old_version"], doc["new_version"], doc["retired_versions"]) == (1, 2, [1])
    audit = dashtam("audit", "list", "--format", "json", env=file_backend).json()
    assert isinstance(audit, list)
    assert [(e["action"], e["outcome"]) for e in audit][:2] == [
        ("key_rotation", "succeeded"),
        ("key_rotation", "attempted"),
    ]
    csv_out = dashtam("audit", "list", "--format", "csv", env=file_backend)
    assert csv_out.stdout.splitlines()[0].startswith("id,occurred_at,action,outcome")


def test_keys_rotate_with_the_env_backend_is_refused(dashtam: Dashtam) -> None:
    import base64

    env = {
        "DASHTAM_SECRETS_BACKEND": "env",
        "DASHTAM_MASTER_KEY": base64.b64encode(b"k" * 32).decode(),
    }
    assert dashtam("init", env=env).code == 0
    result = dashtam("keys", "rotate", env=env)
    assert result.code == 2
    assert "file" in result.stderr
