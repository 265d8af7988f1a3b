"""Logging configuration and redaction: no secret reaches stderr or the log file."""

from __future__ import annotations

import io
import json
import logging
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
import structlog

from dashtam_cli.application.bus import EventDispatcher
from dashtam_cli.domain.events import DomainEvent, SyncAttempted
from dashtam_cli.infrastructure.logging import (
    configure_logging,
    get_logger,
    redact_event,
    reset_logging,
)

SECRET = "s3cr3t-Zq9xW"


class FakeTty(io.StringIO):
    """A text stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    reset_logging()


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "dashtam.jsonl"


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def configure(log_file: Path | None = None, *, level: str = "debug") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level=level, log_file=log_file, stream=stream)
    return stream


def outputs(stream: io.StringIO, log_file: Path) -> list[tuple[str, str]]:
    return [("stderr", stream.getvalue()), ("file", log_file.read_text(encoding="utf-8"))]


# --------------------------------------------------------------------------- secret keys


SECRET_KEYS = [
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "authorization",
    "Authorization",
    "api_key",
    "X-Api-Key",
    "key",
    "key_material",
    "master_key",
    "code",
    "cookie",
    "accessToken",
    "clientSecret",
    "schwab_client_secret",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_key_values_are_redacted_on_stderr_and_in_file(key: str, log_file: Path) -> None:
    stream = configure(log_file)

    get_logger("test").warning("connecting", **{key: SECRET})

    for where, text in outputs(stream, log_file):
        assert SECRET not in text, where
        (record,) = json_lines(text)
        assert record[key] == "[REDACTED]", where
        assert record["event"] == "connecting"


def test_nested_secrets_are_redacted_in_dicts_lists_and_tuples(log_file: Path) -> None:
    stream = configure(log_file)
    payload = {
        "response": {
            "tokens": [{"access_token": SECRET + "a"}, {"refresh_token": SECRET + "b"}],
            "pairs": ({"client_secret": SECRET + "c"}, ("password", "visible")),
            "expires_in": 1800,
        }
    }

    get_logger("test").warning("token_response", **payload)

    for where, text in outputs(stream, log_file):
        assert SECRET not in text, where
        (record,) = json_lines(text)
        response = record["response"]
        assert isinstance(response, dict)
        # "tokens" is itself a secret-looking key: the whole list is masked.
        assert response["tokens"] == "[REDACTED]"
        assert response["pairs"] == [{"client_secret": "[REDACTED]"}, ["password", "visible"]]
        assert response["expires_in"] == 1800


# --------------------------------------------------------------------------- secrets in text


@pytest.mark.parametrize(
    ("message", "secret", "expected"),
    [
        ("sending Authorization: Bearer " + SECRET, SECRET, "Authorization: [REDACTED]"),
        ("rejected Bearer " + SECRET + " by server", SECRET, "Bearer [REDACTED] by server"),
        ("header Basic " + SECRET + "== sent", SECRET, "Basic [REDACTED] sent"),
        (
            "GET https://api.example/cb?code=" + SECRET + "&session=42",
            SECRET,
            "?code=[REDACTED]&session=42",
        ),
        ("url ...?access_token=" + SECRET, SECRET, "access_token=[REDACTED]"),
        (
            "body grant_type=refresh_token&refresh_token=" + SECRET,
            SECRET,
            "grant_type=refresh_token&refresh_token=[REDACTED]",
        ),
        ("form client_secret=" + SECRET + "&x=1", SECRET, "client_secret=[REDACTED]&x=1"),
        ('json {"access_token": "' + SECRET + '"}', SECRET, '{"access_token": "[REDACTED]"}'),
        ("account 123456789012 synced", "123456789012", "account ****9012 synced"),
    ],
)
def test_secrets_inside_strings_are_masked(
    message: str, secret: str, expected: str, log_file: Path
) -> None:
    stream = configure(log_file)

    get_logger("test").warning(message, detail=f"again: {message}")

    for where, text in outputs(stream, log_file):
        assert secret not in text, where
        (record,) = json_lines(text)
        assert isinstance(record["event"], str)
        assert expected in record["event"], where
        assert expected in str(record["detail"]), where


@pytest.mark.parametrize("key", ["account_number", "accountNumber"])
def test_account_number_keys_keep_only_the_last_four_digits(key: str, log_file: Path) -> None:
    stream = configure(log_file)

    get_logger("test").warning("account_seen", **{key: "12345678"}, nested={key: 87654321})

    for where, text in outputs(stream, log_file):
        assert "12345678" not in text, where
        assert "87654321" not in text, where
        (record,) = json_lines(text)
        assert record[key] == "****5678"
        assert record["nested"] == {key: "****4321"}


def test_ids_and_error_codes_are_not_mistaken_for_secrets(log_file: Path) -> None:
    stream = configure(log_file)
    event_id = uuid4()

    get_logger("test").warning(
        "sync_failed",
        event_id=event_id,
        error_code="reauth_required",
        token_type="Bearer",
        count=123456789,
    )

    for where, text in outputs(stream, log_file):
        (record,) = json_lines(text)
        assert record["event_id"] == str(event_id), where
        assert record["error_code"] == "reauth_required"
        assert record["token_type"] == "Bearer"
        assert record["count"] == 123456789


# --------------------------------------------------------------------------- exceptions


def test_exception_messages_and_causes_are_redacted_everywhere(log_file: Path) -> None:
    stream = configure(log_file)
    log = get_logger("test")

    try:
        try:
            raise ValueError(f"provider said refresh_token={SECRET}")
        except ValueError as cause:
            raise RuntimeError(f"refresh failed with Authorization: Bearer {SECRET}") from cause
    except RuntimeError:
        log.exception("token_refresh_crashed", account_number="99998888")

    for where, text in outputs(stream, log_file):
        assert SECRET not in text, where
        assert "99998888" not in text, where
        (record,) = json_lines(text)
        exception = record["exception"]
        assert isinstance(exception, str)
        assert "RuntimeError: refresh failed with Authorization: [REDACTED]" in exception
        assert "ValueError: provider said refresh_token=[REDACTED]" in exception
        assert record["level"] == "error"


def test_stdlib_exceptions_from_third_party_loggers_are_redacted(log_file: Path) -> None:
    stream = configure(log_file)
    foreign = logging.getLogger("httpx")

    try:
        raise ConnectionError(f"POST https://api.example/token?client_secret={SECRET}")
    except ConnectionError:
        foreign.exception("HTTP Request: GET https://api.example/cb?code=%s", SECRET)

    for where, text in outputs(stream, log_file):
        assert SECRET not in text, where
        (record,) = json_lines(text)
        assert record["logger"] == "httpx"
        assert record["event"] == "HTTP Request: GET https://api.example/cb?code=[REDACTED]"
        assert "client_secret=[REDACTED]" in str(record["exception"])


async def test_a_failing_event_subscriber_is_logged_without_its_secrets(log_file: Path) -> None:
    stream = configure(log_file)
    dispatcher = EventDispatcher()

    async def leaky(event: DomainEvent) -> None:
        raise RuntimeError(f"cannot store access_token={SECRET}")

    dispatcher.subscribe(leaky)

    await dispatcher.publish(SyncAttempted(connection_id=uuid4()))

    for where, text in outputs(stream, log_file):
        assert SECRET not in text, where
        (record,) = [r for r in json_lines(text) if r["logger"] == "dashtam.bus"]
        assert record["event"] == "event_handler_failed"
        assert "access_token=[REDACTED]" in str(record["exception"])


def test_redact_event_formats_a_raw_exc_info_before_masking() -> None:
    try:
        raise KeyError(f"Bearer {SECRET}")
    except KeyError:
        event = redact_event(None, "error", {"event": "x", "exc_info": sys.exc_info()})

    assert "exc_info" not in event
    assert SECRET not in str(event)
    assert "Bearer [REDACTED]" in str(event["exception"])


# --------------------------------------------------------------------------- file and levels


def test_the_file_gets_one_json_line_per_event(log_file: Path) -> None:
    configure(log_file, level="warning")
    log = get_logger("dashtam.sync")

    log.info("sync_started", connection="c1")
    log.warning("sync_slow", seconds=12)
    log.error("sync_failed", error_code="provider_unavailable")

    records = json_lines(log_file.read_text(encoding="utf-8"))
    assert [r["event"] for r in records] == ["sync_started", "sync_slow", "sync_failed"]
    assert [r["level"] for r in records] == ["info", "warning", "error"]
    assert all(r["logger"] == "dashtam.sync" for r in records)
    assert all(isinstance(r["timestamp"], str) for r in records)


def test_the_file_is_private_to_its_owner(log_file: Path) -> None:
    log_file.parent.mkdir()
    log_file.write_text("")
    log_file.chmod(0o644)

    configure(log_file)

    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


def test_stderr_level_filters_stderr_but_the_file_keeps_info(log_file: Path) -> None:
    stream = configure(log_file, level="warning")
    log = get_logger("test")

    log.debug("debug_event")
    log.info("info_event")
    log.warning("warning_event")

    assert [r["event"] for r in json_lines(stream.getvalue())] == ["warning_event"]
    assert [r["event"] for r in json_lines(log_file.read_text(encoding="utf-8"))] == [
        "info_event",
        "warning_event",
    ]


def test_debug_level_shows_debug_on_stderr_but_not_in_the_file(log_file: Path) -> None:
    stream = configure(log_file, level="debug")

    get_logger("test").debug("debug_event")

    assert [r["event"] for r in json_lines(stream.getvalue())] == ["debug_event"]
    assert log_file.read_text(encoding="utf-8") == ""


def test_error_level_without_file_drops_warnings() -> None:
    stream = configure(level="ERROR")
    log = get_logger("test")

    log.warning("warning_event")
    log.error("error_event")

    assert [r["event"] for r in json_lines(stream.getvalue())] == ["error_event"]


def test_unknown_level_or_format_is_a_bug() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging(level="loud", stream=io.StringIO())
    with pytest.raises(ValueError, match="log format"):
        configure_logging(fmt="xml", stream=io.StringIO())


def test_reconfiguring_replaces_the_previous_outputs(tmp_path: Path) -> None:
    first = configure(tmp_path / "first.jsonl")
    module_level_logger = get_logger("dashtam.module")
    second = configure(level="info")

    module_level_logger.info("after_reconfigure")

    assert first.getvalue() == ""
    assert [r["event"] for r in json_lines(second.getvalue())] == ["after_reconfigure"]
    assert (tmp_path / "first.jsonl").read_text(encoding="utf-8") == ""


# --------------------------------------------------------------------------- renderers


def test_console_renderer_on_a_tty_is_coloured_and_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = FakeTty()
    configure_logging(level="info", stream=stream)

    get_logger("test").info("connected", access_token=SECRET, note=f"Bearer {SECRET}")

    text = stream.getvalue()
    assert "\x1b[" in text
    assert "connected" in text
    assert SECRET not in text
    assert "[REDACTED]" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_console_renderer_honours_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stream = FakeTty()
    configure_logging(level="info", stream=stream)

    try:
        raise RuntimeError(f"password={SECRET}")
    except RuntimeError:
        get_logger("test").exception("crashed")

    text = stream.getvalue()
    assert "\x1b[" not in text
    assert "crashed" in text
    assert "RuntimeError: password=[REDACTED]" in text
    assert SECRET not in text


def test_json_format_is_used_on_a_tty_when_asked() -> None:
    stream = FakeTty()
    configure_logging(level="info", fmt="json", stream=stream)

    get_logger("test").info("hello")

    assert [r["event"] for r in json_lines(stream.getvalue())] == ["hello"]


def test_console_format_falls_back_to_json_when_not_a_tty() -> None:
    stream = io.StringIO()
    configure_logging(level="info", fmt="console", stream=stream)

    get_logger("test").info("hello")

    assert [r["event"] for r in json_lines(stream.getvalue())] == ["hello"]


def test_default_stream_is_the_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="info")

    get_logger().info("to_stderr", api_key=SECRET)

    captured = capsys.readouterr()
    assert captured.out == ""
    (record,) = json_lines(captured.err)
    assert record["event"] == "to_stderr"
    assert record["logger"] == "dashtam"
    assert record["api_key"] == "[REDACTED]"


def test_structlog_is_configured_with_the_redactor() -> None:
    configure_logging(level="info", stream=io.StringIO())

    assert redact_event in structlog.get_config()["processors"]


def _crash(secret: str) -> ValueError:
    """An exception raised in a frame whose local variable holds ``secret``."""
    try:
        raise ValueError(f"boom near {len(secret)} characters")
    except ValueError as exc:
        return exc


@pytest.mark.parametrize("configured_first", [False, True], ids=["unconfigured", "configured"])
def test_a_crash_goes_to_the_log_file_and_one_line_to_stderr(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    configured_first: bool,
) -> None:
    from dashtam_cli.bootstrap import report_crash
    from dashtam_cli.settings import load_settings

    for name, path in (("DASHTAM_DATA_DIR", "data"), ("DASHTAM_CONFIG_DIR", "config")):
        (tmp_path / path).mkdir()
        monkeypatch.setenv(name, str(tmp_path / path))
    monkeypatch.delenv("DASHTAM_DEBUG", raising=False)
    log = load_settings().log_file
    if configured_first:  # a command that publishes events configured logging already
        configure_logging(level="warning", log_file=log)
    else:
        reset_logging()  # a read command never configures it: structlog's defaults
    exc = _crash(SECRET)

    assert report_crash(exc) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "error[internal]: unexpected ValueError; this is a bug.",
        f"  hint: the traceback is in {log}; set DASHTAM_DEBUG=1 to print it",
    ]
    (record,) = [r for r in json_lines(log.read_text(encoding="utf-8")) if r["level"] == "error"]
    assert record["event"] == "unexpected_error"
    assert "ValueError: boom near" in str(record["exception"])
    assert SECRET not in log.read_text(encoding="utf-8")  # no frame's local variables


def test_an_unwritable_log_file_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data dir should be")
    stream = configure(blocker / "dashtam.log", level="warning")
    get_logger("dashtam").error("still_logged")
    records = json_lines(stream.getvalue())
    assert [r["event"] for r in records] == ["log_file_unwritable", "still_logged"]
    assert records[0]["path"] == str(blocker / "dashtam.log")
