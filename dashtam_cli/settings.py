"""Settings: defaults < ``config.toml`` in the config dir < ``DASHTAM_*`` environment variables.

Loaded once per process by the composition root. The directories come from platformdirs unless
``DASHTAM_DATA_DIR`` / ``DASHTAM_CONFIG_DIR`` say otherwise.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from platformdirs import user_config_path, user_data_path
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "dashtam"
CONFIG_FILE_NAME = "config.toml"
DATABASE_FILE_NAME = "dashtam.db"
LOG_FILE_NAME = "dashtam.log"
KEY_FILE_NAME = "keys.json"

SecretsBackend = Literal["keyring", "file", "env"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LogFormat = Literal["console", "json"]


def default_config_dir() -> Path:
    """The config dir: ``DASHTAM_CONFIG_DIR`` or the platform's user config dir."""
    override = os.environ.get("DASHTAM_CONFIG_DIR")
    return Path(override).expanduser() if override else user_config_path(APP_NAME)


def default_data_dir() -> Path:
    """The data dir: the platform's user data dir."""
    return user_data_path(APP_NAME)


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: str, *, name: str) -> str:
    """Accept ``https://`` anywhere and ``http://`` only for loopback hosts.

    Raises:
        ValueError: with a message naming the variable and the rule.
    """
    parts = urlsplit(value.strip())
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValueError(f"{name} must be an absolute https:// URL, got {value!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"{name} may use http:// only for a loopback host (127.0.0.1, localhost), got {value!r}"
        )
    return value.strip().rstrip("/")


class Settings(BaseSettings):
    """Every setting of Dashtam (see the configuration table in docs/reference/configuration.md)."""

    model_config = SettingsConfigDict(
        env_prefix="DASHTAM_",
        extra="ignore",
        validate_default=True,
        frozen=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    config_dir: Path = Field(default_factory=default_config_dir)
    database_url: str | None = None
    secrets_backend: SecretsBackend = "keyring"
    master_key: SecretStr | None = None
    log_level: LogLevel = "warning"
    log_format: LogFormat | None = None

    schwab_client_id: SecretStr | None = None
    schwab_client_secret: SecretStr | None = None
    schwab_callback_url: str = "https://127.0.0.1:8182"
    schwab_auth_url: str = "https://api.schwabapi.com/v1/oauth"
    schwab_api_url: str = "https://api.schwabapi.com/trader/v1"

    @field_validator("secrets_backend", "log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("data_dir", "config_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("schwab_auth_url", "schwab_api_url", "schwab_callback_url", mode="after")
    @classmethod
    def _check_urls(cls, value: str, info: ValidationInfo) -> str:
        return check_base_url(value, name=f"DASHTAM_{(info.field_name or 'url').upper()}")

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite:///{self.data_dir / DATABASE_FILE_NAME}"
            )
        return self

    @property
    def db_url(self) -> str:
        """The database URL (always set after validation)."""
        assert self.database_url is not None
        return self.database_url

    @property
    def config_file(self) -> Path:
        """``config.toml`` in the config dir."""
        return self.config_dir / CONFIG_FILE_NAME

    @property
    def log_file(self) -> Path:
        """The JSON log file in the data dir."""
        return self.data_dir / LOG_FILE_NAME

    @property
    def key_file(self) -> Path:
        """The data-key file used by the ``file`` secrets backend."""
        return self.config_dir / KEY_FILE_NAME

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment over ``config.toml`` over defaults (init arguments win, for tests)."""
        toml = TomlConfigSettingsSource(
            settings_cls, toml_file=default_config_dir() / CONFIG_FILE_NAME
        )
        return (init_settings, env_settings, toml)


def load_settings(**overrides: object) -> Settings:
    """Load the settings (raises pydantic ``ValidationError`` on bad values)."""
    return Settings(**overrides)  # type: ignore[arg-type]
