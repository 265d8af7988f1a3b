"""The callback URL is checked up front; errors show the exact string to register."""

from __future__ import annotations

import pytest

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.infrastructure.providers.schwab.config import (
    CallbackTarget,
    SchwabApp,
    SchwabEndpoints,
    validate_callback_url,
)
from dashtam_cli.settings import Settings


def target(result: Result[CallbackTarget]) -> CallbackTarget:
    assert isinstance(result, Success), result
    return result.value


def invalid(result: Result[CallbackTarget]) -> DomainError:
    assert isinstance(result, Failure), result
    assert result.error.code is ErrorCode.INVALID_URL
    return result.error


@pytest.mark.parametrize(
    ("url", "port", "path"),
    [
        ("https://127.0.0.1:8182", 8182, "/"),
        ("https://127.0.0.1:8182/", 8182, "/"),
        ("https://127.0.0.1:9000/callback", 9000, "/callback"),
        ("  https://127.0.0.1:8182/cb/  ", 8182, "/cb/"),
        ("http://127.0.0.1:7000/cb", 7000, "/cb"),  # a local test double
    ],
)
def test_listenable_callbacks(url: str, port: int, path: str) -> None:
    got = target(validate_callback_url(url))

    assert got.can_listen
    assert got.listen_problem is None
    assert got.url == url.strip(), "the redirect_uri is sent exactly as configured"
    assert (got.host, got.port, got.path) == ("127.0.0.1", port, path)
    assert got.scheme == url.strip().split(":", 1)[0]


def test_a_port_less_callback_is_accepted_for_the_paste_flow_only() -> None:
    got = target(validate_callback_url("https://127.0.0.1"))

    assert not got.can_listen
    assert got.port is None
    assert got.path == "/"
    assert got.listen_problem is not None
    assert "443" in got.listen_problem
    assert "https://127.0.0.1:8182" in got.listen_problem, "suggests what to register instead"


def test_port_443_cannot_be_listened_on() -> None:
    got = target(validate_callback_url("https://127.0.0.1:443/cb"))

    assert not got.can_listen
    assert "https://127.0.0.1:8182/cb" in (got.listen_problem or "")


def test_another_host_is_accepted_for_pasting() -> None:
    got = target(validate_callback_url("https://example.com/schwab"))

    assert not got.can_listen
    assert "example.com" in (got.listen_problem or "")
    assert "https://127.0.0.1:8182/schwab" in (got.listen_problem or "")


def test_localhost_is_refused_with_the_127_0_0_1_string_to_register() -> None:
    error = invalid(validate_callback_url("https://localhost:8182/cb"))

    assert "localhost" in error.message
    assert "rejects" in error.message
    assert error.details["register"] == "https://127.0.0.1:8182/cb"
    assert "register exactly https://127.0.0.1:8182/cb" in (error.hint or "")
    assert "DASHTAM_SCHWAB_CALLBACK_URL=https://127.0.0.1:8182/cb" in (error.hint or "")


def test_plain_http_is_refused_off_loopback() -> None:
    error = invalid(validate_callback_url("http://example.com:8182/cb"))

    assert "https://" in error.message
    assert error.details["register"] == "https://example.com:8182/cb"


def test_an_upper_case_scheme_is_refused() -> None:
    error = invalid(validate_callback_url("HTTPS://127.0.0.1:8182"))

    assert "lower-case" in error.message
    assert error.details["register"] == "https://127.0.0.1:8182"


@pytest.mark.parametrize(
    "url",
    [
        "127.0.0.1:8182",
        "ftp://127.0.0.1:8182",
        "https://",
        "https://127.0.0.1:99999",
        "https://127.0.0.1:port",
        "https://127.0.0.1:8182/?x=1",
        "https://127.0.0.1:8182/#frag",
        "https://127.0.0.1:8182/?",
    ],
)
def test_malformed_callbacks_are_refused(url: str) -> None:
    error = invalid(validate_callback_url(url))

    assert error.hint
    assert "register" in error.hint


def test_text_that_is_no_url_suggests_the_default_callback() -> None:
    error = invalid(validate_callback_url("not a url"))
    assert error.hint is not None
    assert "register exactly https://127.0.0.1:8182/ as" in error.hint
    assert "not a url" not in error.hint


def test_user_info_is_refused_without_echoing_the_password() -> None:
    error = invalid(validate_callback_url("https://user:hunter2@127.0.0.1:8182/cb"))

    assert "hunter2" not in f"{error.message} {error.hint} {dict(error.details)}"
    assert error.details["register"] == "https://127.0.0.1:8182/cb"


def test_endpoints_derive_the_oauth_urls() -> None:
    endpoints = SchwabEndpoints(
        auth_url="https://api.schwabapi.com/v1/oauth/",
        api_url="https://api.schwabapi.com/trader/v1",
        callback_url="https://127.0.0.1:8182",
    )

    assert endpoints.token_url == "https://api.schwabapi.com/v1/oauth/token"
    assert endpoints.authorize_url == "https://api.schwabapi.com/v1/oauth/authorize"


def test_endpoints_from_settings_and_an_override() -> None:
    settings = Settings(
        schwab_auth_url="http://127.0.0.1:9999/v1/oauth",
        schwab_api_url="http://127.0.0.1:9999/trader/v1",
    )

    endpoints = SchwabEndpoints.from_settings(settings)
    overridden = SchwabEndpoints.from_settings(settings, callback_url="https://127.0.0.1:9/x")

    assert endpoints.token_url == "http://127.0.0.1:9999/v1/oauth/token"
    assert endpoints.api_url == "http://127.0.0.1:9999/trader/v1"
    assert endpoints.callback_url == "https://127.0.0.1:8182"
    assert overridden.callback_url == "https://127.0.0.1:9/x"


def test_the_app_repr_hides_key_and_secret() -> None:
    app = SchwabApp(client_id="the-app-key-1234", client_secret="the-secret-5678")

    assert "the-app-key" not in repr(app)
    assert "the-secret" not in repr(app)
    assert "the-secret" not in str(app)
