"""Settings: the standard-library fast path agrees with the pydantic-settings model it stands for.

Every case loads the settings both ways: :func:`resolve_fast` (what a command normally runs) and
:func:`resolve_with_model` (the pydantic-settings model, the reference). Where the fast path
answers, both answers must be equal; where it declines (a bad or unusual value), ``Settings``
must give exactly what the model gives: the same values or the same ``ValidationError``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from dashtam_cli import settings as config
from dashtam_cli.settings import Settings, resolve_fast, resolve_with_model

FIELDS = config.FIELDS


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean environment (no DASHTAM_* variables) whose config dir is ``tmp_path/config``."""
    for key in list(os.environ):
        if key.upper().startswith("DASHTAM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("DASHTAM_CONFIG_DIR", str(tmp_path / "config"))
    (tmp_path / "config").mkdir()
    return {}


def _config_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "config" / "config.toml").write_text(text, encoding="utf-8")


def _outcome(load: Any, overrides: dict[str, object]) -> tuple[str, object]:
    """``("ok", values)`` or ``("error", the error's fields)`` of one way of loading."""
    try:
        return "ok", load(overrides)
    except ValidationError as exc:
        return "error", [(e["loc"], e["type"], e["msg"]) for e in exc.errors()]
    except Exception as exc:  # e.g. a malformed config.toml: not a ValidationError
        return "error", (type(exc).__name__, str(exc))


def _settings_outcome(overrides: dict[str, object]) -> tuple[str, object]:
    def load(o: dict[str, object]) -> dict[str, object]:
        loaded = Settings(**o)
        values: dict[str, object] = {name: getattr(loaded, name) for name in FIELDS}
        for name in ("master_key", "schwab_client_id", "schwab_client_secret"):
            secret = values[name]
            values[name] = None if secret is None else secret.get_secret_value()  # type: ignore[attr-defined]
        return values

    return _outcome(load, overrides)


def assert_agrees(overrides: dict[str, object] | None = None, *, fast: bool | None = None) -> None:
    """``Settings(**overrides)`` gives the model's answer (``fast``: the fast path gave it)."""
    overrides = overrides or {}
    reference = _outcome(resolve_with_model, overrides)
    assert _settings_outcome(overrides) == reference
    try:
        answer = resolve_fast(overrides)
    except config._NeedsModelError:
        took = False
    else:
        took = True
        assert ("ok", answer) == reference
    if fast is not None:
        assert took is fast


# ------------------------------------------------------------------------------- defaults


def test_defaults_and_the_derived_paths(env: dict[str, str], tmp_path: Path) -> None:
    assert_agrees(fast=True)
    loaded = Settings()
    assert loaded.config_dir == tmp_path / "config"
    assert loaded.secrets_backend == "keyring"
    assert loaded.log_level == "warning"
    assert loaded.log_format is None
    assert loaded.db_url == f"sqlite:///{loaded.data_dir / 'dashtam.db'}"
    assert loaded.config_file == tmp_path / "config" / "config.toml"
    assert loaded.log_file == loaded.data_dir / "dashtam.log"
    assert loaded.key_file == tmp_path / "config" / "keys.json"
    assert loaded.master_key is None
    assert loaded.schwab_client_id is None


def test_the_fast_path_does_not_import_pydantic(env: dict[str, str], tmp_path: Path) -> None:
    _config_file(tmp_path, 'secrets_backend = "file"\nlog_level = "INFO"\n')
    probe = (
        "import json, sys\nfrom dashtam_cli.settings import Settings\n"
        "s = Settings()\n"
        "print(json.dumps([s.secrets_backend, s.log_level, "
        "sorted(m for m in sys.modules if m.startswith('pydantic'))]))"
    )
    environment = {**os.environ, "DASHTAM_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == ["file", "info", []]


# -------------------------------------------------------------------------------- choices


@pytest.mark.parametrize(
    ("name", "raw", "stored"),
    [
        ("secrets_backend", "file", "file"),
        ("secrets_backend", "  ENV ", "env"),
        ("secrets_backend", "Keyring", "keyring"),
        ("log_level", "DEBUG", "debug"),
        ("log_level", " critical ", "critical"),
        ("log_format", "JSON", "json"),
        ("log_format", "console", "console"),
    ],
)
def test_choices_are_trimmed_and_lower_cased(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, name: str, raw: str, stored: str
) -> None:
    monkeypatch.setenv(f"DASHTAM_{name.upper()}", raw)
    assert_agrees(fast=True)
    assert getattr(Settings(), name) == stored


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("secrets_backend", "plaintext"),
        ("secrets_backend", ""),
        ("log_level", "loud"),
        ("log_level", "warn"),
        ("log_format", "xml"),
        ("log_format", ""),
    ],
)
def test_a_bad_choice_is_the_models_validation_error(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    monkeypatch.setenv(f"DASHTAM_{name.upper()}", raw)
    assert_agrees(fast=False)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert [e["loc"] for e in caught.value.errors()] == [(name,)]


# ----------------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("https://api.example.com/v1/", "https://api.example.com/v1"),
        (" https://api.example.com ", "https://api.example.com"),
        ("http://127.0.0.1:9999/trader/v1", "http://127.0.0.1:9999/trader/v1"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://api.schwabapi.com/trader/v1", "https://api.schwabapi.com/trader/v1"),
    ],
)
def test_urls_are_accepted_and_trimmed(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, raw: str, stored: str
) -> None:
    monkeypatch.setenv("DASHTAM_SCHWAB_API_URL", raw)
    assert_agrees(fast=True)
    assert Settings().schwab_api_url == stored


@pytest.mark.parametrize(
    "raw",
    [
        "http://evil.example.com",
        "http://10.0.0.1/x",
        "ftp://127.0.0.1",
        "api.schwabapi.com/trader/v1",
        "https://",
        "",
    ],
)
def test_a_bad_url_is_the_models_validation_error(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("DASHTAM_SCHWAB_AUTH_URL", raw)
    assert_agrees(fast=False)
    with pytest.raises(ValidationError, match="DASHTAM_SCHWAB_AUTH_URL"):
        Settings()


# ------------------------------------------------------------------- paths, database, secrets


def test_directories_expand_the_home_directory(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DASHTAM_DATA_DIR", "~/somewhere")
    assert_agrees(fast=True)
    assert Settings().data_dir == tmp_path / "home" / "somewhere"
    assert Settings(data_dir=Path("~/else")).data_dir == tmp_path / "home" / "else"
    assert_agrees({"config_dir": Path("~/cfg")}, fast=True)


def test_an_empty_directory_is_left_to_the_model(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHTAM_DATA_DIR", "")
    assert_agrees(fast=False)


def test_the_database_url_defaults_into_the_data_dir(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DASHTAM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DASHTAM_DATABASE_URL", "")
    assert_agrees(fast=True)
    assert Settings().db_url == f"sqlite:///{tmp_path / 'data' / 'dashtam.db'}"
    monkeypatch.setenv("DASHTAM_DATABASE_URL", "postgresql+psycopg://me@db/dashtam")
    assert_agrees(fast=True)
    assert Settings().db_url == "postgresql+psycopg://me@db/dashtam"


def test_secrets_are_secret_str_and_never_shown(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHTAM_MASTER_KEY", "a2V5LWtleS1rZXk=")
    monkeypatch.setenv("DASHTAM_SCHWAB_CLIENT_SECRET", "hunter2")
    assert_agrees(fast=True)
    loaded = Settings()
    assert isinstance(loaded.master_key, SecretStr)
    assert loaded.master_key.get_secret_value() == "a2V5LWtleS1rZXk="
    assert loaded.schwab_client_secret is not None
    assert loaded.schwab_client_secret.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(loaded)
    assert "a2V5" not in repr(loaded)
    # a SecretStr passed in (tests do) is for the model: the same value comes out
    assert_agrees({"schwab_client_id": SecretStr("app-key")}, fast=False)
    assert Settings(schwab_client_id=SecretStr("app-key")).schwab_client_id == SecretStr("app-key")


def test_settings_are_immutable(env: dict[str, str]) -> None:
    loaded = Settings()
    with pytest.raises(AttributeError):
        loaded.log_level = "debug"
    with pytest.raises(AttributeError):
        del loaded.data_dir


# ------------------------------------------------------------------------------ precedence


def test_arguments_over_environment_over_config_file_over_defaults(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _config_file(tmp_path, 'secrets_backend = "file"\nlog_level = "error"\nlog_format = "json"\n')
    monkeypatch.setenv("DASHTAM_LOG_LEVEL", "info")
    monkeypatch.setenv("DASHTAM_LOG_FORMAT", "console")
    assert_agrees({"log_format": "json"}, fast=True)
    loaded = Settings(log_format="json")
    assert (loaded.secrets_backend, loaded.log_level, loaded.log_format) == ("file", "info", "json")


def test_the_environment_is_matched_in_any_case(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("dashtam_log_level", "ERROR")
    assert_agrees(fast=True)
    assert Settings().log_level == "error"
    monkeypatch.setenv("DASHTAM_LOG_LEVEL", "debug")  # two spellings: the model picks
    assert_agrees(fast=False)


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        ('secrets_backend = "env"\nunrelated = 3\n[section]\nkey = 1\n', True),
        ('SECRETS_BACKEND = "env"\n', False),
        ("log_level = 5\n", False),
        ('log_level = "loud"\n', False),
        ("schwab_api_url = 'http://evil.example.com'\n", False),
        ("data_dir = ['a']\n", False),
        ("this is not toml\n", False),
        ('log_level = "debug"\nlog_level = "info"\n', False),
    ],
)
def test_the_config_file_like_the_model_reads_it(
    env: dict[str, str], tmp_path: Path, text: str, fast: bool
) -> None:
    _config_file(tmp_path, text)
    assert_agrees(fast=fast)


def test_unknown_arguments_are_for_the_model(env: dict[str, str]) -> None:
    assert_agrees({"not_a_setting": 1}, fast=False)
    assert_agrees({"LOG_LEVEL": "debug"}, fast=False)


# ------------------------------------------------------------------------------- property


_TEXT = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "file",
            "FILE ",
            "keyring",
            "env",
            "debug",
            " Info",
            "warning",
            "error",
            "CRITICAL",
            "json",
            "Console",
            "https://a.example.com/",
            "http://127.0.0.1:1",
            "http://localhost/",
            "http://example.com",
            "https://",
            "~/x",
            "relative/dir",
            "sqlite:///x.db",
            "postgresql://u@h/d",
        ]
    ),
    st.text(max_size=12),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.dictionaries(st.sampled_from(FIELDS), _TEXT, max_size=4),
    in_file=st.dictionaries(st.sampled_from(FIELDS), _TEXT, max_size=3),
)
def test_any_environment_and_file_agree_with_the_model(
    env: dict[str, str], tmp_path: Path, values: dict[str, str], in_file: dict[str, str]
) -> None:
    lines = [f"{name} = {json.dumps(value)}" for name, value in in_file.items()]
    _config_file(tmp_path, "\n".join(lines) + "\n")
    saved = {k: v for k, v in os.environ.items() if k.startswith("DASHTAM_")}
    try:
        for name, value in values.items():
            if "\x00" in value:
                continue
            os.environ[f"DASHTAM_{name.upper()}"] = value
        os.environ["DASHTAM_CONFIG_DIR"] = str(tmp_path / "config")
        assert_agrees()
    finally:
        for key in [k for k in os.environ if k.startswith("DASHTAM_")]:
            del os.environ[key]
        os.environ.update(saved)


@pytest.mark.usefixtures("env")
def test_the_schwab_callback_url_keeps_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    # Schwab compares the callback with the registered one byte for byte.
    monkeypatch.setenv("DASHTAM_SCHWAB_CALLBACK_URL", "https://127.0.0.1:8182/")
    monkeypatch.setenv("DASHTAM_SCHWAB_API_URL", "https://api.example.test/trader/v1/")
    fast = Settings()
    assert fast.schwab_callback_url == "https://127.0.0.1:8182/"
    assert fast.schwab_api_url == "https://api.example.test/trader/v1"
    model = resolve_with_model({})
    assert model["schwab_callback_url"] == "https://127.0.0.1:8182/"
    assert model["schwab_api_url"] == "https://api.example.test/trader/v1"
