"""The loopback listener that receives Schwab's redirect, and the parser for pasted redirects.

:class:`LoopbackListener` is a tiny HTTPS server on ``127.0.0.1:<port>`` served by the running
asyncio event loop — no thread, no subprocess (schwab-py's separate process breaks on Windows,
schwab-py #185). Its certificate is self-signed, generated with ``cryptography`` when the listener
starts: an EC P-256 key, subject and SAN ``IP:127.0.0.1``, valid for less than a day. Browsers
warn about it; the connect flow says so beforehand.

The key and certificate are never written to disk. ``ssl`` can only load them from a path, so on
Linux they go into an anonymous memory file (``os.memfd_create``) loaded through
``/proc/self/fd/N``; elsewhere into a temporary file created with mode 0600 and unlinked right
after loading. In both cases the private key in that file is encrypted under a random one-time
password that lives only in memory.

The callback path answers a redirect with a wrong ``state`` or without a ``code`` with an error
page (HTTP 400) and keeps waiting; a good one gets a "you can close this tab" page and hands the
(percent-decoded) code to :meth:`LoopbackListener.wait_for_code`. Other paths get 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import ipaddress
import os
import secrets
import ssl
import sys
import tempfile
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.infrastructure.providers.schwab.config import LISTEN_HOST

CERTIFICATE_LIFETIME: Final = dt.timedelta(hours=23)
"""How long the generated certificate is valid (plus one minute of clock-skew slack before)."""
_HEAD_LIMIT: Final = 16 * 1024
_READ_TIMEOUT: Final = 10.0
_HANDSHAKE_TIMEOUT: Final = 10.0
_STATE_WAIT: Final = 5.0
_CLOSE_TIMEOUT: Final = 5.0
_REQUEST_LINE_PARTS: Final = 3

_log = structlog.get_logger("dashtam.schwab")


# ---------------------------------------------------------------------------- the certificate


@dataclass(frozen=True, slots=True)
class LoopbackCertificate:
    """A freshly generated self-signed certificate and its (unencrypted, in-memory) key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:
        return f"LoopbackCertificate(not_valid_after={self.certificate.not_valid_after_utc})"


def generate_certificate(*, now: dt.datetime | None = None) -> LoopbackCertificate:
    """A self-signed certificate for ``127.0.0.1``, valid from a minute ago for 23 hours."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, LISTEN_HOST),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Dashtam one-time loopback certificate"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.IPv4Address(LISTEN_HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return LoopbackCertificate(certificate=certificate, key=key)


def pem_bundle(material: LoopbackCertificate, *, password: bytes) -> bytes:
    """The certificate and the private key (encrypted under ``password``) as one PEM blob."""
    return material.certificate.public_bytes(serialization.Encoding.PEM) + (
        material.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
    )


def server_ssl_context(
    material: LoopbackCertificate, *, use_memfd: bool | None = None
) -> ssl.SSLContext:
    """A TLS server context holding the certificate, loaded without touching the disk.

    The PEM (certificate + key encrypted under a random one-time password) goes into an
    anonymous ``memfd`` on Linux, loaded through ``/proc/self/fd/N``; elsewhere into a 0600
    temporary file that is unlinked as soon as it has been loaded.

    Args:
        material: the certificate and key.
        use_memfd: force (True) or avoid (False) the memfd route; None picks it on Linux.
    """
    password = secrets.token_bytes(32)
    pem = pem_bundle(material, password=password)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if use_memfd is None:
        use_memfd = sys.platform == "linux" and hasattr(os, "memfd_create")
    if use_memfd:
        fd = os.memfd_create("dashtam-loopback-cert", os.MFD_CLOEXEC)
        try:
            os.write(fd, pem)
            context.load_cert_chain(f"/proc/self/fd/{fd}", password=password)
        finally:
            os.close(fd)
        return context
    handle, path = tempfile.mkstemp(prefix="dashtam-", suffix=".pem")  # mode 0600
    try:
        try:
            os.write(handle, pem)
        finally:
            os.close(handle)
        context.load_cert_chain(path, password=password)
    finally:
        Path(path).unlink(missing_ok=True)
    return context


# ---------------------------------------------------------------------------- query parsing


def query_params(query: str) -> dict[str, list[str]]:
    """Parse a query string, percent-decoding each name and value exactly once.

    Unlike :func:`urllib.parse.parse_qs`, ``+`` stays ``+`` (a code may contain it) and blank
    values are kept.
    """
    params: dict[str, list[str]] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        params.setdefault(unquote(name), []).append(unquote(value))
    return params


def _only(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values and len(values) == 1 else None


_PASTE_HINT: Final = (
    "paste the whole address from the browser's address bar after you clicked 'Allow' "
    "(it starts with your callback URL and contains code=...), or just the code"
)
_CODE_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=@%"
)
_MIN_CODE_LENGTH: Final = 8


def _no_code(message: str) -> Failure[DomainError]:
    return fail(ErrorCode.OAUTH_FAILED, message, hint=_PASTE_HINT)


def parse_redirect(text: str, *, expected_state: str | None) -> Result[str, DomainError]:
    """The authorization code in a pasted redirect URL, or a pasted bare code.

    Accepts the full redirected address (any scheme and host: only its query is read) or the
    bare code (``C0.…@``, possibly still ``%40``-encoded). The code is percent-decoded once. Input
    without a code is refused (schwab-py #150: an empty paste produced a useless token).

    Args:
        text: what the user pasted.
        expected_state: the ``state`` sent with the authorize URL; checked when the pasted URL
            carries one.

    Returns:
        The decoded code, or ``oauth_failed`` saying what is wrong.
    """
    value = text.strip().strip("\"'<>").strip()
    if not value:
        return _no_code("nothing was pasted")
    looks_like_url = "://" in value or "?" in value or "=" in value
    if not looks_like_url:
        if any(ch not in _CODE_CHARS for ch in value) or len(value) < _MIN_CODE_LENGTH:
            return _no_code("that does not look like a redirect address or an authorization code")
        return ok(unquote(value))
    query = urlsplit(value).query if "?" in value or "://" in value else value
    params = query_params(query)
    state = _only(params, "state")
    if expected_state is not None and "state" in params and state != expected_state:
        return fail(
            ErrorCode.OAUTH_FAILED,
            "the pasted address belongs to a different login attempt (its state does not match)",
            hint="open the address printed for this attempt, log in, and paste the new result",
        )
    error = _only(params, "error")
    if error:
        return fail(
            ErrorCode.OAUTH_FAILED,
            f"Schwab did not authorize the app ({_printable(error)})",
            hint="run the connect command again and click 'Allow' on Schwab's consent page",
        )
    if "code" in params and len(params["code"]) > 1:
        return _no_code("the pasted address has more than one code= parameter")
    code = (_only(params, "code") or "").strip()
    if not code:
        return _no_code("the pasted address has no code= parameter")
    return ok(code)


# ---------------------------------------------------------------------------- the listener


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
        "padding:0 1rem;line-height:1.5}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p></body></html>"
    ).encode()


_CONNECTED_PAGE: Final = _page(
    "Dashtam is connected",
    "Dashtam received the authorization from Schwab. You can close this tab and return to "
    "the terminal.",
)


class LoopbackListener:
    """Receives Schwab's redirect on ``https://127.0.0.1:<port><path>`` (in this event loop).

    Usage::

        listener = LoopbackListener(port=8182, path="/")
        started = await listener.start()          # Failure: port in use -> paste flow
        try:
            code = await listener.wait_for_code(expected_state=state, timeout=300)
        finally:
            await listener.close()

    Args:
        port: the callback's port (0 picks a free one; see :attr:`port`).
        path: the callback's path (a trailing slash is not significant here).
        host: where to bind; only ``127.0.0.1`` is meant for real use.
        tls: serve HTTPS with a fresh self-signed certificate (False: plain HTTP, for a local
            test double whose callback is ``http://127.0.0.1``).
    """

    def __init__(
        self, *, port: int, path: str = "/", host: str = LISTEN_HOST, tls: bool = True
    ) -> None:
        self._host = host
        self._requested_port = port
        self._path = _normalise_path(path)
        self._tls = tls
        self._certificate: LoopbackCertificate | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._state: str | None = None
        self._state_known = asyncio.Event()
        self._result: asyncio.Future[Result[str, DomainError]] | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        return f"LoopbackListener(host={self._host!r}, port={self.port}, path={self._path!r})"

    @property
    def port(self) -> int | None:
        """The bound port once started (the requested one before)."""
        return self._port if self._port is not None else self._requested_port

    @property
    def certificate(self) -> x509.Certificate | None:
        """The generated certificate (None before :meth:`start` or without TLS)."""
        return self._certificate.certificate if self._certificate else None

    @property
    def url(self) -> str:
        """The callback URL this listener answers on."""
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{self._host}:{self.port}{self._path}"

    async def start(self) -> Result[None, DomainError]:
        """Generate the certificate and bind the port.

        Returns:
            Success, or ``oauth_failed`` (``details["reason"] == "bind_failed"``) when the port
            cannot be bound — the caller then falls back to the paste flow.
        """
        if self._server is not None:
            return ok(None)
        context: ssl.SSLContext | None = None
        if self._tls:
            self._certificate = generate_certificate()
            context = server_ssl_context(self._certificate)
        self._result = asyncio.get_running_loop().create_future()
        try:
            self._server = await asyncio.start_server(
                self._serve,
                host=self._host,
                port=self._requested_port,
                ssl=context,
                ssl_handshake_timeout=_HANDSHAKE_TIMEOUT if context else None,
                limit=_HEAD_LIMIT,
            )
        except OSError as exc:
            _log.info("schwab.listener.bind_failed", port=self._requested_port, errno=exc.errno)
            return fail(
                ErrorCode.OAUTH_FAILED,
                f"cannot listen on {self._host}:{self._requested_port} ({exc.strerror or exc})",
                hint="free the port, or use another port in the registered callback URL",
                details={"reason": "bind_failed", "port": str(self._requested_port)},
            )
        self._port = int(self._server.sockets[0].getsockname()[1])
        _log.info("schwab.listener.started", port=self._port, tls=self._tls)
        return ok(None)

    async def wait_for_code(
        self,
        *,
        expected_state: str,
        timeout: float,  # noqa: ASYNC109 - the planned interface; the wait is bounded here
    ) -> Result[str, DomainError]:
        """Wait for a redirect carrying ``expected_state`` and a code.

        Args:
            expected_state: the ``state`` sent with the authorize URL.
            timeout: seconds to wait.

        Returns:
            The decoded code; ``oauth_failed`` on timeout, or when Schwab redirected with an
            ``error`` (the user declined).
        """
        if self._server is None or self._result is None:
            raise RuntimeError("LoopbackListener.wait_for_code() before start()")
        if self._state is not None and self._state != expected_state:
            raise RuntimeError("LoopbackListener is already waiting for another state")
        self._state = expected_state
        self._state_known.set()
        try:
            return await asyncio.wait_for(asyncio.shield(self._result), timeout=timeout)
        except TimeoutError:
            return fail(
                ErrorCode.OAUTH_FAILED,
                f"no redirect from Schwab reached {self.url} within {timeout:g} s",
                hint=(
                    "run the connect command again (--timeout SECONDS waits longer), or use "
                    "--manual to paste the redirected address instead"
                ),
                details={"reason": "timeout"},
            )

    async def close(self) -> None:
        """Stop listening, drop open connections and wait until everything has ended."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        server.abort_clients()  # also connections still in their TLS handshake
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=_CLOSE_TIMEOUT)
        if self._result is not None and not self._result.done():
            self._result.cancel()
        _log.info("schwab.listener.stopped", port=self._port)

    async def __aenter__(self) -> LoopbackListener:
        started = await self.start()
        if isinstance(started, Failure):
            raise OSError(started.error.message)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------------ serving

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=_READ_TIMEOUT)
            status, body = await self._answer(head)
            await self._respond(writer, status, body)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            with contextlib.suppress(OSError, RuntimeError):
                await self._respond(writer, HTTPStatus.BAD_REQUEST, _page("Bad request", ""))
        except (OSError, ssl.SSLError):
            pass  # the browser went away
        finally:
            self._writers.discard(writer)
            writer.close()  # flushes the response (and TLS close_notify) before closing
            try:
                await asyncio.wait_for(writer.wait_closed(), timeout=_READ_TIMEOUT)
            except (TimeoutError, OSError, ssl.SSLError):
                writer.transport.abort()
            finally:
                if task is not None:
                    self._tasks.discard(task)

    async def _answer(self, head: bytes) -> tuple[HTTPStatus, bytes]:
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != _REQUEST_LINE_PARTS or not parts[2].startswith("HTTP/"):
            return HTTPStatus.BAD_REQUEST, _page("Bad request", "Malformed request.")
        method, target = parts[0], parts[1]
        split = urlsplit(target)
        if _normalise_path(split.path) != self._path:
            return HTTPStatus.NOT_FOUND, _page("Not found", "This is Dashtam's login listener.")
        if method != "GET":
            return HTTPStatus.METHOD_NOT_ALLOWED, _page("Method not allowed", "Use GET.")
        return await self._callback(query_params(split.query))

    async def _callback(self, params: dict[str, list[str]]) -> tuple[HTTPStatus, bytes]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._state_known.wait(), timeout=_STATE_WAIT)
        if self._state is None:
            return HTTPStatus.SERVICE_UNAVAILABLE, _page(
                "Not ready", "Dashtam is not waiting for a login yet. Reload this page."
            )
        state = _only(params, "state")
        if state is None or not secrets.compare_digest(state, self._state):
            _log.warning("schwab.listener.state_mismatch", has_state=state is not None)
            return HTTPStatus.BAD_REQUEST, _page(
                "Login not accepted",
                "This redirect does not belong to the login Dashtam started (its state does "
                "not match). Start the login from the address Dashtam printed.",
            )
        error = _only(params, "error")
        if error:
            self._resolve(
                fail(
                    ErrorCode.OAUTH_FAILED,
                    f"Schwab did not authorize the app ({_printable(error)})",
                    hint="run the connect command again and click 'Allow' on Schwab's consent page",
                    details={"reason": "denied"},
                )
            )
            return HTTPStatus.OK, _page(
                "Login not completed", "Schwab reported that the app was not authorized."
            )
        code = _only(params, "code")
        if not code or not code.strip():
            return HTTPStatus.BAD_REQUEST, _page(
                "No authorization code",
                "The redirect carries no code. Start the login again from the address Dashtam "
                "printed.",
            )
        self._resolve(ok(code.strip()))
        return HTTPStatus.OK, _CONNECTED_PAGE

    def _resolve(self, result: Result[str, DomainError]) -> None:
        if self._result is not None and not self._result.done():
            self._result.set_result(result)

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: HTTPStatus, body: bytes) -> None:
        headers = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\n"
            "Referrer-Policy: no-referrer\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(headers.encode("latin-1") + body)
        await asyncio.wait_for(writer.drain(), timeout=_READ_TIMEOUT)


def _printable(text: str, limit: int = 80) -> str:
    """Schwab's error code as safe one-line text (it comes from a URL anyone can forge)."""
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def _normalise_path(path: str) -> str:
    return "/" + path.strip("/") if path.strip("/") else "/"
