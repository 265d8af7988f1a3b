"""A bad setting, from the environment or config.toml, is a usage error (exit 2) naming it."""

from pathlib import Path

import pytest

from tests.clitools import Dashtam

CONFIG = Path(".config/dashtam")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DASHTAM_SECRETS_BACKEND", "plaintext"),
        ("DASHTAM_LOG_LEVEL", "loud"),
        ("DASHTAM_LOG_FORMAT", "xml"),
        ("DASHTAM_SCHWAB_CALLBACK_URL", "http://192.168.1.2:8182"),
        ("DASHTAM_SCHWAB_AUTH_URL", "not a url"),
    ],
)
def test_a_bad_environment_value_exits_2_naming_it(
    dashtam: Dashtam, variable: str, value: str
) -> None:
    result = dashtam("accounts", "list", env={variable: value})
    assert result.code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("error[config_invalid]: invalid configuration: ")
    assert variable in first
    assert "Value error" not in result.stderr  # the validator's wording stays out
    as_json = dashtam("accounts", "list", "--format", "json", env={variable: value})
    assert as_json.code == 2
    assert as_json.json() == {
        "code": "config_invalid",
        "title": "Config invalid",
        "detail": as_json.stderr.splitlines()[0].removeprefix("error[config_invalid]: "),
        "hint": "check the DASHTAM_* environment variables and config.toml in the config dir",
        "exit_code": 2,
    }


@pytest.mark.parametrize(
    "text",
    ['log_level = "loud"\n', "log_level = 5\n", "this is not toml\n", 'LOG_FORMAT = "xml"\n'],
)
def test_a_bad_config_file_exits_2(dashtam: Dashtam, home: Path, text: str) -> None:
    config = home / CONFIG
    config.mkdir(parents=True)
    (config / "config.toml").write_text(text, encoding="utf-8")
    result = dashtam("status", env={"DASHTAM_SECRETS_BACKEND": "file"})
    assert result.code == 2
    assert "error[config_invalid]" in result.stderr


def test_good_values_in_any_case_are_accepted(dashtam: Dashtam, home: Path) -> None:
    config = home / CONFIG
    config.mkdir(parents=True)
    (config / "config.toml").write_text('log_format = "JSON"\n', encoding="utf-8")
    env = {"DASHTAM_SECRETS_BACKEND": " File ", "DASHTAM_LOG_LEVEL": "ERROR"}
    result = dashtam("accounts", "list", "--format", "json", env=env)
    assert result.code == 0, result.stderr
    assert result.json() == []
