"""Settings: defaults < ``config.toml`` in the config dir < ``DASHTAM_*`` environment variables.

Loaded once per process by the composition root. The directories come from platformdirs unless
``DASHTAM_DATA_DIR`` / ``DASHTAM_CONFIG_DIR`` say otherwise.

The rules are those of a pydantic-settings model (:func:`_validating_model`): the same sources,
precedence and validators. Importing pydantic-settings costs more than a whole read command may
take, so :class:`Settings` first resolves the values with the standard library (environment
variables matched case-insensitively, ``tomllib`` for the file) and accepts only values it knows
the model accepts, exactly as the model would store them. Anything else (a bad or unusual value,
an unreadable file, a value of another type) is handed to the model, which produces the same
settings or the same ``ValidationError`` as before. ``tests/test_settings.py`` checks both paths
against each other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import SecretStr
    from pydantic_settings import BaseSettings

APP_NAME = "dashtam"
CONFIG_FILE_NAME = "config.toml"
DATABASE_FILE_NAME = "dashtam.db"
LOG_FILE_NAME = "dashtam.log"
KEY_FILE_NAME = "keys.json"
ENV_PREFIX = "DASHTAM_"

SecretsBackend = Literal["keyring", "file", "env"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LogFormat = Literal["console", "json"]

SECRETS_BACKENDS: tuple[str, ...] = ("keyring", "file", "env")
LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS: tuple[str, ...] = ("console", "json")

DEFAULT_SCHWAB_CALLBACK_URL = "https://127.0.0.1:8182"
DEFAULT_SCHWAB_AUTH_URL = "https://api.schwabapi.com/v1/oauth"
DEFAULT_SCHWAB_API_URL = "https://api.schwabapi.com/trader/v1"

#: Every setting, in the order of the configuration table.
FIELDS: tuple[str, ...] = (
    "data_dir",
    "config_dir",
    "database_url",
    "secrets_backend",
    "master_key",
    "log_level",
    "log_format",
    "schwab_client_id",
    "schwab_client_secret",
    "schwab_callback_url",
    "schwab_auth_url",
    "schwab_api_url",
)
_DIRS = frozenset({"data_dir", "config_dir"})
_SECRETS = frozenset({"master_key", "schwab_client_id", "schwab_client_secret"})
_CHOICES: dict[str, tuple[str, ...]] = {
    "secrets_backend": SECRETS_BACKENDS,
    "log_level": LOG_LEVELS,
    "log_format": LOG_FORMATS,
}
_URLS: dict[str, str] = {
    "schwab_callback_url": DEFAULT_SCHWAB_CALLBACK_URL,
    "schwab_auth_url": DEFAULT_SCHWAB_AUTH_URL,
    "schwab_api_url": DEFAULT_SCHWAB_API_URL,
}
_DEFAULTS: dict[str, object] = {
    "database_url": None,
    "secrets_backend": "keyring",
    "master_key": None,
    "log_level": "warning",
    "log_format": None,
    "schwab_client_id": None,
    "schwab_client_secret": None,
    **_URLS,
}


def default_config_dir() -> Path:
    """The config dir: ``DASHTAM_CONFIG_DIR`` or the platform's user config dir."""
    override = os.environ.get("DASHTAM_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def default_data_dir() -> Path:
    """The data dir: the platform's user data dir."""
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: str, *, name: str, exact: bool = False) -> str:
    """Accept ``https://`` anywhere and ``http://`` only for loopback hosts.

    Base URLs lose a trailing ``/``; with ``exact`` (the Schwab callback URL, which Schwab
    compares byte for byte with the registered one) the value is kept as given, trailing ``/``
    included.

    Raises:
        ValueError: with a message naming the variable and the rule.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValueError(f"{name} must be an absolute https:// URL, got {value!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"{name} may use http:// only for a loopback host (127.0.0.1, localhost), got {value!r}"
        )
    return value.strip() if exact else value.strip().rstrip("/")


class Settings:
    """Every setting of Dashtam (see the configuration table in docs/reference/configuration.md).

    ``Settings(**overrides)`` loads them: keyword arguments (tests) over ``DASHTAM_*`` environment
    variables over ``config.toml`` over defaults. Invalid values raise pydantic's
    ``ValidationError``, as a pydantic-settings model would. Instances are immutable.
    """

    __slots__ = (
        "_secrets",
        "config_dir",
        "data_dir",
        "database_url",
        "log_format",
        "log_level",
        "schwab_api_url",
        "schwab_auth_url",
        "schwab_callback_url",
        "secrets_backend",
    )

    data_dir: Path
    config_dir: Path
    database_url: str
    secrets_backend: SecretsBackend
    log_level: LogLevel
    log_format: LogFormat | None
    schwab_callback_url: str
    schwab_auth_url: str
    schwab_api_url: str
    _secrets: dict[str, str]

    def __init__(self, **overrides: object) -> None:
        """Load the settings (see the class docstring).

        Raises:
            pydantic.ValidationError: a value is invalid.
        """
        values = resolve_settings(overrides)
        secrets = {name: values.pop(name) for name in _SECRETS}
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_secrets", {k: v for k, v in secrets.items() if v is not None})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"settings are immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"settings are immutable (cannot delete {name!r})")

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={'SecretStr(**********)' if name in self._secrets else None}"
            if name in _SECRETS
            else f"{name}={getattr(self, name)!r}"
            for name in FIELDS
        )
        return f"Settings({shown})"

    @property
    def master_key(self) -> SecretStr | None:
        """The base64 data key of the ``env`` secrets backend (``DASHTAM_MASTER_KEY``)."""
        return _secret(self._secrets.get("master_key"))

    @property
    def schwab_client_id(self) -> SecretStr | None:
        """The Schwab app key (``DASHTAM_SCHWAB_CLIENT_ID``)."""
        return _secret(self._secrets.get("schwab_client_id"))

    @property
    def schwab_client_secret(self) -> SecretStr | None:
        """The Schwab app secret (``DASHTAM_SCHWAB_CLIENT_SECRET``)."""
        return _secret(self._secrets.get("schwab_client_secret"))

    @property
    def db_url(self) -> str:
        """The database URL (always set after validation)."""
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


def _secret(value: str | None) -> SecretStr | None:
    if value is None:
        return None
    from pydantic import SecretStr

    return SecretStr(value)


def load_settings(**overrides: object) -> Settings:
    """Load the settings (raises pydantic ``ValidationError`` on bad values)."""
    return Settings(**overrides)


# ----------------------------------------------------------------------------- resolution


class _NeedsModelError(Exception):
    """The standard-library path is not sure: let the pydantic-settings model decide."""


def resolve_settings(overrides: dict[str, object]) -> dict[str, Any]:
    """Every field's final value (secrets as plain text): the fast path, else the model.

    Raises:
        pydantic.ValidationError: a value is invalid.
    """
    try:
        return resolve_fast(overrides)
    except _NeedsModelError:
        return resolve_with_model(overrides)


def resolve_with_model(overrides: dict[str, object]) -> dict[str, Any]:
    """Every field's final value, validated by the pydantic-settings model.

    Raises:
        pydantic.ValidationError: a value is invalid.
    """
    model = _validating_model()(**overrides)
    values: dict[str, Any] = {name: getattr(model, name) for name in FIELDS}
    for name in _SECRETS:
        secret = values[name]
        values[name] = None if secret is None else secret.get_secret_value()
    return values


def _environment() -> dict[str, str]:
    """``DASHTAM_<FIELD>`` variables by field name (any case, as pydantic-settings matches)."""
    found: dict[str, str] = {}
    prefix = ENV_PREFIX.lower()
    for key, value in os.environ.items():
        lowered = key.lower()
        if not lowered.startswith(prefix):
            continue
        name = lowered[len(prefix) :]
        if name in FIELDS:
            if name in found:  # two spellings of one variable: the model picks one
                raise _NeedsModelError
            found[name] = value
    return found


def _config_file() -> dict[str, object]:
    """The fields set in ``config.toml`` (none when the file does not exist)."""
    path = default_config_dir() / CONFIG_FILE_NAME
    if not path.is_file():
        return {}
    import tomllib

    try:
        document = tomllib.loads(path.read_bytes().decode())
    except Exception:  # unreadable or malformed: the model raises its own error
        raise _NeedsModelError from None
    found: dict[str, object] = {}
    for key, value in document.items():
        lowered = key.lower()
        if lowered in FIELDS:
            if key != lowered:  # case-insensitive matching: leave it to the model
                raise _NeedsModelError
            found[key] = value
    return found


def _plain_text(value: object) -> str:
    """A ``str`` the model stores as is (not a subclass, valid UTF-8, no NUL)."""
    if type(value) is not str or "\x00" in value:
        raise _NeedsModelError
    try:
        value.encode()
    except UnicodeEncodeError:
        raise _NeedsModelError from None
    return value


def _field_value(name: str, raw: object) -> object:
    """A raw value as the model validates it; :class:`_NeedsModelError` when unsure."""
    if name in _DIRS:
        if isinstance(raw, Path):
            return raw.expanduser()
        text = _plain_text(raw)
        if not text:
            raise _NeedsModelError
        return Path(text).expanduser()
    if raw is None:
        if name in _CHOICES and name != "log_format":
            raise _NeedsModelError
        if name in _URLS:
            raise _NeedsModelError
        return None
    text = _plain_text(raw)
    if name in _CHOICES:
        choice = text.strip().lower()
        if choice not in _CHOICES[name]:
            raise _NeedsModelError
        return choice
    if name in _URLS:
        if text == _URLS[name]:
            return text
        try:
            return check_base_url(
                text, name=f"{ENV_PREFIX}{name.upper()}", exact=name == "schwab_callback_url"
            )
        except ValueError:
            raise _NeedsModelError from None
    return text  # database_url and the secrets: any text


def resolve_fast(overrides: dict[str, object]) -> dict[str, Any]:
    """Every field's final value from the standard library alone.

    Raises:
        _NeedsModelError: a value the model should judge (invalid, unusual, or unreadable).
    """
    if any(name not in FIELDS for name in overrides):
        raise _NeedsModelError
    environment = _environment()
    config = _config_file()
    values: dict[str, Any] = {}
    for name in FIELDS:
        if name in overrides:
            raw = overrides[name]
        elif name in environment:
            raw = environment[name]
        elif name in config:
            raw = config[name]
        elif name == "data_dir":
            raw = default_data_dir()
        elif name == "config_dir":
            raw = default_config_dir()
        else:
            raw = _DEFAULTS[name]
        values[name] = _field_value(name, raw)
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{values['data_dir'] / DATABASE_FILE_NAME}"
    return values


_MODEL: list[Callable[..., BaseSettings]] = []


def _validating_model() -> Callable[..., BaseSettings]:
    """The pydantic-settings model holding the rules (built on first use: slow to import)."""
    if _MODEL:
        return _MODEL[0]
    from pydantic import (
        Field,
        SecretStr,  # noqa: F401 - resolves the fields' string annotations
        ValidationInfo,
        field_validator,
        model_validator,
    )
    from pydantic_settings import (
        BaseSettings,
        PydanticBaseSettingsSource,
        SettingsConfigDict,
        TomlConfigSettingsSource,
    )

    class SettingsModel(BaseSettings):
        """The validation rules of :class:`Settings`."""

        model_config = SettingsConfigDict(
            env_prefix=ENV_PREFIX,
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
        schwab_callback_url: str = DEFAULT_SCHWAB_CALLBACK_URL
        schwab_auth_url: str = DEFAULT_SCHWAB_AUTH_URL
        schwab_api_url: str = DEFAULT_SCHWAB_API_URL

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
            field = info.field_name or "url"
            return check_base_url(
                value, name=f"DASHTAM_{field.upper()}", exact=field == "schwab_callback_url"
            )

        @model_validator(mode="after")
        def _default_database_url(self) -> SettingsModel:
            if not self.database_url:
                object.__setattr__(
                    self, "database_url", f"sqlite:///{self.data_dir / DATABASE_FILE_NAME}"
                )
            return self

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

    _MODEL.append(SettingsModel)
    return _MODEL[0]
