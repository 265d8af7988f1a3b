"""The loopback listener, played by a real HTTPS client, and the pasted-redirect parser."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import stat
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.infrastructure.providers.schwab.listener import (
    LoopbackListener,
    generate_certificate,
    parse_redirect,
    pem_bundle,
    query_params,
    server_ssl_context,
)

STATE = "expected-state-0123456789"


def value[T](result: Result[T]) -> T:
    assert isinstance(result, Success), result
    return result.value


def error(result: Result[Any]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


@pytest.fixture
async def listener() -> AsyncIterator[LoopbackListener]:
    loopback = LoopbackListener(port=0, path="/callback")
    value(await loopback.start())
    yield loopback
    await loopback.close()


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The user's browser: certificate checks off, for the self-signed certificate only."""
    async with httpx.AsyncClient(verify=False, timeout=5.0) as client:
        yield client


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port again (as asyncio would: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


def listing(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir()}


# =========================================================================== the callback


async def test_a_good_redirect_hands_over_the_decoded_code(
    listener: LoopbackListener, browser: httpx.AsyncClient
) -> None:
    waiting = asyncio.create_task(listener.wait_for_code(expected_state=STATE, timeout=5))

    page = await browser.get(
        f"https://127.0.0.1:{listener.port}/callback?code=C0.abc+def.ghi%40&session=9b1f"
        f"&state={STATE}"
    )

    assert page.status_code == 200
    assert "Dashtam is connected" in page.text
    assert "close this tab" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert value(await waiting) == "C0.abc+def.ghi@", "%40 decoded once; + is not a space"


async def test_a_wrong_state_or_no_code_gets_400_and_the_listener_keeps_waiting(
    listener: LoopbackListener, browser: httpx.AsyncClient
) -> None:
    waiting = asyncio.create_task(listener.wait_for_code(expected_state=STATE, timeout=5))
    base = f"https://127.0.0.1:{listener.port}/callback"

    forged = await browser.get(f"{base}?code=C0.forged%40&state=someone-else")
    stateless = await browser.get(f"{base}?code=C0.forged%40")
    codeless = await browser.get(f"{base}?state={STATE}&session=1")
    empty_code = await browser.get(f"{base}?state={STATE}&code=")
    other_path = await browser.get(f"https://127.0.0.1:{listener.port}/favicon.ico?state={STATE}")
    posted = await browser.post(f"{base}?code=C0.x%40&state={STATE}")

    assert [r.status_code for r in (forged, stateless, codeless, empty_code)] == [400] * 4
    assert "does not match" in forged.text
    assert "no code" in codeless.text
    assert other_path.status_code == 404
    assert posted.status_code == 405
    assert not waiting.done(), "still waiting for the real redirect"

    good = await browser.get(f"{base}/?code=C0.real%40&state={STATE}")

    assert good.status_code == 200
    assert value(await waiting) == "C0.real@"


async def test_a_redirect_that_arrives_before_the_wait_is_held_until_the_state_is_known(
    listener: LoopbackListener, browser: httpx.AsyncClient
) -> None:
    early = asyncio.create_task(
        browser.get(f"https://127.0.0.1:{listener.port}/callback?code=C0.e%40&state={STATE}")
    )
    await asyncio.sleep(0.1)

    code = await listener.wait_for_code(expected_state=STATE, timeout=5)

    assert (await early).status_code == 200
    assert value(code) == "C0.e@"


async def test_schwab_reporting_a_refusal_ends_the_wait(
    listener: LoopbackListener, browser: httpx.AsyncClient
) -> None:
    waiting = asyncio.create_task(listener.wait_for_code(expected_state=STATE, timeout=5))

    page = await browser.get(
        f"https://127.0.0.1:{listener.port}/callback?error=access_denied&state={STATE}"
    )

    assert page.status_code == 200
    failure = error(await waiting)
    assert failure.code is ErrorCode.OAUTH_FAILED
    assert "access_denied" in failure.message


async def test_no_redirect_within_the_timeout_is_oauth_failed(listener: LoopbackListener) -> None:
    failure = error(await listener.wait_for_code(expected_state=STATE, timeout=0.2))

    assert failure.code is ErrorCode.OAUTH_FAILED
    assert "within 0.2 s" in failure.message
    assert "--manual" in (failure.hint or "")


async def test_a_busy_port_is_a_failure_the_flow_can_fall_back_on() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        failure = error(await LoopbackListener(port=port).start())

    assert failure.code is ErrorCode.OAUTH_FAILED
    assert failure.details["reason"] == "bind_failed"
    assert str(port) in failure.message


async def test_close_leaves_no_thread_and_frees_the_port(browser: httpx.AsyncClient) -> None:
    threads = threading.active_count()
    loopback = LoopbackListener(port=0)
    value(await loopback.start())
    port = loopback.port
    assert port is not None
    assert not port_is_free(port)
    assert threading.active_count() == threads, "served by the event loop, not a thread"
    # a connection the "browser" opens and never uses must not keep the listener alive
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(0.05)

    started = asyncio.get_running_loop().time()
    await loopback.close()
    took = asyncio.get_running_loop().time() - started

    writer.close()
    assert took < 4, "close aborts an idle connection instead of waiting 5 s for it"
    assert threading.active_count() == threads
    assert port_is_free(port)


async def test_plain_http_mode_for_a_local_test_double(browser: httpx.AsyncClient) -> None:
    loopback = LoopbackListener(port=0, tls=False)
    value(await loopback.start())
    try:
        waiting = asyncio.create_task(loopback.wait_for_code(expected_state=STATE, timeout=5))
        page = await browser.get(f"http://127.0.0.1:{loopback.port}/?code=C0.h%40&state={STATE}")
        assert page.status_code == 200
        assert value(await waiting) == "C0.h@"
        assert loopback.certificate is None
        assert loopback.url.startswith("http://127.0.0.1:")
    finally:
        await loopback.close()


# =========================================================================== the certificate


async def test_the_served_certificate_is_self_signed_for_127_0_0_1_and_short_lived(
    listener: LoopbackListener,
) -> None:
    certificate = listener.certificate
    assert certificate is not None

    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.IPv4Address("127.0.0.1")]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime <= dt.timedelta(days=1)
    assert certificate.not_valid_before_utc <= dt.datetime.now(dt.UTC)
    assert certificate.issuer == certificate.subject

    # A client trusting exactly this certificate verifies the TLS connection for 127.0.0.1.
    trusting = ssl.create_default_context(
        cadata=certificate.public_bytes(serialization.Encoding.PEM).decode()
    )
    _, writer = await asyncio.open_connection("127.0.0.1", listener.port, ssl=trusting)
    served = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    assert served == certificate.public_bytes(serialization.Encoding.DER)


async def test_starting_writes_no_file_to_the_temp_dir_or_the_working_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    temp_dir = Path(tempfile.gettempdir())
    before_tmp, before_cwd = listing(temp_dir), listing(tmp_path)

    def no_temp_files(*_args: object, **_kwargs: object) -> Any:
        raise AssertionError("the certificate must not go through a temporary file on Linux")

    if hasattr(os, "memfd_create"):
        monkeypatch.setattr(tempfile, "mkstemp", no_temp_files)
    loopback = LoopbackListener(port=0)
    value(await loopback.start())
    await loopback.close()

    assert listing(tmp_path) == before_cwd == set()
    assert not {name for name in listing(temp_dir) - before_tmp if "dashtam" in name}


def test_the_fallback_temp_file_is_private_and_gone_after_loading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[tuple[str, int]] = []
    real_mkstemp = tempfile.mkstemp

    def spying_mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        handle, path = real_mkstemp(*args, **kwargs)
        seen.append((path, stat.S_IMODE(Path(path).stat().st_mode)))
        return handle, path

    monkeypatch.setattr(tempfile, "mkstemp", spying_mkstemp)

    context = server_ssl_context(generate_certificate(), use_memfd=False)

    assert isinstance(context, ssl.SSLContext)
    assert len(seen) == 1
    path, mode = seen[0]
    assert mode == 0o600
    assert not Path(path).exists()
    assert list(tmp_path.iterdir()) == []


def test_the_loaded_pem_holds_the_key_encrypted() -> None:
    material = generate_certificate()

    pem = pem_bundle(material, password=b"one-time")

    assert b"BEGIN CERTIFICATE" in pem
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in pem
    assert b"BEGIN PRIVATE KEY" not in pem
    key = serialization.load_pem_private_key(
        pem[pem.index(b"-----BEGIN ENCRYPTED") :], password=b"one-time"
    )
    assert key.public_key() == material.key.public_key()


# =========================================================================== pasted redirects


@pytest.mark.parametrize(
    ("pasted", "code"),
    [
        (f"https://127.0.0.1:8182/?code=C0.aaa.bbb%40&session=11&state={STATE}", "C0.aaa.bbb@"),
        ("https://127.0.0.1/?code=C0.aaa.bbb%40&session=11", "C0.aaa.bbb@"),
        (f"  http://anything.example/cb?state={STATE}&code=C0.x%2By%40  \n", "C0.x+y@"),
        ("C0.aaa.bbb%40", "C0.aaa.bbb@"),
        ("C0.aaa.bbb@", "C0.aaa.bbb@"),
        ('"C0.aaa.bbb@"', "C0.aaa.bbb@"),
        ("<https://127.0.0.1:8182/?code=C0.q%40>", "C0.q@"),
        ("?code=C0.only-the-query%40", "C0.only-the-query@"),
    ],
)
def test_pasted_urls_and_bare_codes_yield_the_decoded_code(pasted: str, code: str) -> None:
    assert value(parse_redirect(pasted, expected_state=STATE)) == code


@pytest.mark.parametrize(
    ("pasted", "why"),
    [
        ("", "nothing was pasted"),
        ("   \n", "nothing was pasted"),
        ("https://127.0.0.1:8182/", "no code="),
        ("https://127.0.0.1:8182/?session=1&state=" + STATE, "no code="),
        ("https://127.0.0.1:8182/?code=&state=" + STATE, "no code="),
        ("https://127.0.0.1:8182/?code=a&code=b", "more than one"),
        ("hello world", "does not look like"),
        ("abc", "does not look like"),
    ],
)
def test_pastes_without_a_code_are_refused(pasted: str, why: str) -> None:
    failure = error(parse_redirect(pasted, expected_state=STATE))

    assert failure.code is ErrorCode.OAUTH_FAILED
    assert why in failure.message
    assert failure.hint


def test_a_pasted_url_from_another_attempt_is_refused() -> None:
    failure = error(
        parse_redirect("https://127.0.0.1:8182/?code=C0.a%40&state=other", expected_state=STATE)
    )

    assert "different login attempt" in failure.message


def test_without_an_expected_state_any_state_is_accepted() -> None:
    got = parse_redirect("https://127.0.0.1:8182/?code=C0.a%40&state=x", expected_state=None)

    assert value(got) == "C0.a@"


def test_a_pasted_refusal_reports_schwabs_error() -> None:
    failure = error(
        parse_redirect(
            f"https://127.0.0.1/?error=access_denied&state={STATE}", expected_state=STATE
        )
    )

    assert "access_denied" in failure.message


def test_query_params_decode_once_and_keep_plus_signs() -> None:
    assert query_params("code=C0.a%2540+b&empty=&flag") == {
        "code": ["C0.a%40+b"],
        "empty": [""],
        "flag": [""],
    }
