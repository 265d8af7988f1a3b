"""A faithful Charles Schwab test double: OAuth endpoints and the Trader API on 127.0.0.1.

:class:`FakeSchwab` serves, over plain HTTP on an ephemeral loopback port (the app accepts
``http://`` base URLs for loopback hosts), what schwab.md describes:

* ``GET /v1/oauth/authorize`` → ``302`` to the registered callback with
  ``?code=C0.…%40&session=<uuid>[&state=…]`` (a ``/`` before ``?`` when the callback has no path);
  a wrong ``client_id`` or an unregistered ``redirect_uri`` gets Schwab's HTML error page (400).
* ``POST /v1/oauth/token`` (form; HTTP Basic client auth only): ``authorization_code`` (single use,
  bound to its ``redirect_uri``, 30 s of the fake's clock) and ``refresh_token`` (dies 7 days after
  the code exchange, on :meth:`FakeSchwab.kill_refresh_tokens`, or when a newer chain is created).
* ``/trader/v1``: ``accounts/accountNumbers``, ``accounts[?fields=positions]``,
  ``accounts/{hash}[?fields=positions]``, ``accounts/{hash}/transactions`` (strict parameter
  validation, 1-year range, 3000-row cap with no paging), ``accounts/{hash}/transactions/{id}``
  and ``userPreference``; Bearer required, JSON:API 401 otherwise.

Every response carries a ``Schwab-Client-CorrelId`` UUID header. The fake's clock starts at
``now`` (default: the current time minus :data:`DEFAULT_LAG`, so that :meth:`FakeSchwab.advance`
never creates rows in the future of a client that uses the real clock) and ticks with real time;
:meth:`FakeSchwab.advance` / :meth:`FakeSchwab.set_now` move it, which settles due PENDING rows and
adds the new days' activity. Tests only: nothing in ``dashtam_cli`` may import this package.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import socket
import string
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx

from tests.fakeschwab.data import (
    CLIENT_LEAD,
    TRANSACTION_TYPES,
    Dataset,
    Expectations,
    dumps,
    years_before,
)

DEFAULT_LAG = CLIENT_LEAD
"""How far behind the real clock the fake's clock starts by default (10 days)."""

ACCESS_TOKEN_LIFETIME = timedelta(seconds=1800)
REFRESH_TOKEN_LIFETIME = timedelta(days=7)
CODE_LIFETIME = timedelta(seconds=30)
MAX_TRANSACTIONS = 3000
CORRELATION_HEADER = "Schwab-Client-CorrelId"

_DATE_PARAM = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$")
_ALNUM = string.ascii_letters + string.digits

_ERROR_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Charles Schwab - Error</title></head>
<body><div class="error">
<h1>We are unable to complete your request.</h1>
<p>Please try again later or contact Schwab Client Services for assistance.</p>
<!-- fake-schwab: {reason} -->
</div></body></html>
"""

_REFRESH_REJECTED: dict[str, str] = {
    "error": "unsupported_token_type",
    "error_description": (
        '400 Bad Request: "{\\"error_description\\":\\"Exception while authenticating refresh '
        "token [tokenDigest={digest}, Exception=Failed refresh token authentication "
        '[tokenDigest={digest}]]\\",\\"error\\":\\"refresh_token_authentication_error\\"}"'
    ),
}


def _random_string(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _json_api_error(status: int, title: str, detail: str) -> dict[str, Any]:
    error = {"id": str(uuid.uuid4()), "status": status, "title": title, "detail": detail}
    return {"errors": [error]}


def _default_fault_body(status: int) -> tuple[bytes, str]:
    if status == 429:
        body = _json_api_error(429, "Too Many Requests", "Rate limit exceeded")
    elif status == 401:
        body = _json_api_error(401, "Unauthorized", "Client not authorized")
    elif status == 403:
        page = (
            "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n \n"
            "You don't have permission to access \"http&#58;&#47;&#47;api&#46;schwabapi&#46;com"
            '&#47;trader&#47;v1&#47;accounts" on this server.<P>\n'
            "Reference&#32;&#35;18&#46;0000000&#46;0000000000&#46;00000000\n</BODY>\n</HTML>\n"
        )
        return page.encode(), "text/html"
    elif status == 404:
        text = (
            "404 Not Found: Requested route ('traderapi-accounts.apigx-origin.schwab.com') "
            "does not exist."
        )
        return text.encode(), "text/plain"
    elif status == 500:
        body = {
            "fault": {
                "faultstring": "Body buffer overflow",
                "detail": {"errorcode": "protocol.http.TooBigBody"},
            }
        }
    else:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        body = {"message": phrase, "errors": [f"{phrase} (injected by the fake)"]}
    return dumps(body), "application/json"


# --------------------------------------------------------------------------------------------
# public records


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordedRequest:
    """One request the fake answered.

    ``query`` holds the decoded query parameters (last value wins); ``headers`` keeps every header
    with lower-cased names, ``authorization`` included so tests can assert Bearer/Basic.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str
    status: int
    correlation_id: str
    at: datetime

    @property
    def form(self) -> dict[str, str]:
        """The decoded ``application/x-www-form-urlencoded`` body."""
        return dict(parse_qsl(self.body, keep_blank_values=True))

    @property
    def bearer(self) -> str | None:
        """The Bearer token sent, if any."""
        value = self.headers.get("authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    @property
    def basic(self) -> tuple[str, str] | None:
        """The ``(client_id, client_secret)`` sent with HTTP Basic, if any."""
        return _parse_basic(self.headers.get("authorization", ""))


@dataclass(kw_only=True, slots=True)
class Fault:
    """An injected failure for the next ``remaining`` requests under ``path_prefix``."""

    remaining: int
    status: int
    path_prefix: str
    retry_after: str | None
    body: bytes
    content_type: str


@dataclass(kw_only=True, slots=True)
class _Code:
    redirect_uri: str
    issued_at: datetime
    used: bool = False


@dataclass(kw_only=True, slots=True)
class _Chain:
    created_at: datetime
    refresh_token: str
    alive: bool = True
    access_tokens: list[str] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class _Access:
    chain: _Chain
    expires_at: datetime
    revoked: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _json(status: int, payload: Any, *headers: tuple[str, str]) -> _Response:
    return _Response(status=status, body=dumps(payload), headers=headers)


def _parse_basic(value: str) -> tuple[str, str] | None:
    if not value.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _parse_date_param(value: str) -> datetime | None:
    match = _DATE_PARAM.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, milli = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, milli * 1000, tzinfo=UTC)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# the fake


class FakeSchwab:
    """The Schwab double; use as a context manager (``with FakeSchwab() as schwab: …``).

    Args:
        seed: dataset seed (the dataset is a pure function of ``seed`` and ``now``).
        now: the fake clock's start (aware); default: current UTC time minus :data:`DEFAULT_LAG`,
            truncated to the second.
        tick: whether the clock moves with real time between :meth:`advance` calls.
        years: length of the history.
        heavy_rows: day-trading rows in one calendar year of the brokerage account (> 3000 so that
            a one-year window hits the cap); 0 makes a small dataset for quick tests.
        registered_callbacks: callback URLs registered for the app (exact string match). ``None``
            accepts any ``https://127.0.0.1…`` URL.
        refresh_returns_refresh_token: whether a refresh-grant response repeats ``refresh_token``
            (default False: clients must keep the old one).
        max_transactions: the transactions cap (Schwab's is 3000).
        client_id: the app key (default: 32 random alphanumerics).
        client_secret: the app secret (default: 16 random alphanumerics).
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        now: datetime | None = None,
        tick: bool = True,
        years: int = 3,
        heavy_rows: int = 3600,
        registered_callbacks: Sequence[str] | None = None,
        refresh_returns_refresh_token: bool = False,
        max_transactions: int = MAX_TRANSACTIONS,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        if now is None:
            now = (datetime.now(UTC) - DEFAULT_LAG).replace(microsecond=0)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._lock = threading.RLock()
        self._base = now.astimezone(UTC)
        self._mono = time.monotonic()
        self._tick = tick
        self.dataset = Dataset(seed=seed, now=self._base, years=years, heavy_rows=heavy_rows)
        self.registered_callbacks: list[str] | None = (
            None if registered_callbacks is None else list(registered_callbacks)
        )
        self.refresh_returns_refresh_token = refresh_returns_refresh_token
        self.max_transactions = max_transactions
        self._client_id = client_id or _random_string(32)
        self._client_secret = client_secret or _random_string(16)
        self._codes: dict[str, _Code] = {}
        self._chains: list[_Chain] = []
        self._access: dict[str, _Access] = {}
        self._id_tokens: list[str] = []
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self.internal_errors: list[str] = []
        """Exceptions raised while handling requests (a bug in the fake; tests assert none)."""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1 on an ephemeral port and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and join the thread."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    # ---- addresses and credentials ---------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (the server must be started)."""
        if self._server is None:
            raise RuntimeError("FakeSchwab is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def auth_url(self) -> str:
        """The value for ``DASHTAM_SCHWAB_AUTH_URL``."""
        return self.base_url + "/v1/oauth"

    @property
    def api_url(self) -> str:
        """The value for ``DASHTAM_SCHWAB_API_URL``."""
        return self.base_url + "/trader/v1"

    @property
    def authorize_endpoint(self) -> str:
        """The authorize endpoint URL."""
        return self.auth_url + "/authorize"

    @property
    def token_endpoint(self) -> str:
        """The token endpoint URL."""
        return self.auth_url + "/token"

    @property
    def client_id(self) -> str:
        """The app key (32 characters, like Schwab's)."""
        return self._client_id

    @property
    def client_secret(self) -> str:
        """The app secret (16 characters, like Schwab's)."""
        return self._client_secret

    def env(self, *, callback_url: str | None = None) -> dict[str, str]:
        """The ``DASHTAM_SCHWAB_*`` variables that point the app at this fake.

        Args:
            callback_url: also set ``DASHTAM_SCHWAB_CALLBACK_URL`` and register it with the app.
        """
        values = {
            "DASHTAM_SCHWAB_CLIENT_ID": self.client_id,
            "DASHTAM_SCHWAB_CLIENT_SECRET": self.client_secret,
            "DASHTAM_SCHWAB_AUTH_URL": self.auth_url,
            "DASHTAM_SCHWAB_API_URL": self.api_url,
        }
        if callback_url is not None:
            self.register_callback(callback_url)
            values["DASHTAM_SCHWAB_CALLBACK_URL"] = callback_url
        return values

    def register_callback(self, url: str) -> None:
        """Register one more callback URL (switches to exact matching if it was permissive)."""
        with self._lock:
            if self.registered_callbacks is None:
                self.registered_callbacks = []
            if url not in self.registered_callbacks:
                self.registered_callbacks.append(url)

    def authorize_url(self, redirect_uri: str, *, state: str | None = None) -> str:
        """An authorize URL as a client builds it (for the fake's own tests and scripted flows)."""
        params = {"client_id": self.client_id, "redirect_uri": redirect_uri}
        params["response_type"] = "code"
        if state is not None:
            params["state"] = state
        return self.authorize_endpoint + "?" + urlencode(params)

    def extract_authorize_url(self, text: str) -> str | None:
        """The first authorize URL of this fake printed in ``text`` (e.g. a CLI's stdout)."""
        match = re.search(re.escape(self.authorize_endpoint) + r"\?\S+", text)
        return match.group(0) if match else None

    # ---- clock and data ----------------------------------------------------------------------

    def now(self) -> datetime:
        """The fake's current time (UTC)."""
        with self._lock:
            if not self._tick:
                return self._base
            return self._base + timedelta(seconds=time.monotonic() - self._mono)

    def set_now(self, moment: datetime) -> None:
        """Set the clock; the dataset settles due PENDING rows and simulates the days now passed."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        with self._lock:
            self._base = moment.astimezone(UTC)
            self._mono = time.monotonic()
            self.dataset.advance_to(self._base)

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> datetime:
        """Move the clock forward (see :meth:`set_now`); returns the new time."""
        with self._lock:
            delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            moment = self.now() + delta
            self.set_now(moment)
            return moment

    def expectations(self) -> Expectations:
        """What a correct sync must have stored, per account, at the fake's current data state."""
        with self._lock:
            return self.dataset.expectations()

    # ---- tokens and faults -------------------------------------------------------------------

    def grant_tokens(self) -> dict[str, Any]:
        """Create a token chain directly (no browser step) and return the token response body.

        Like a code exchange, it invalidates every earlier chain.
        """
        with self._lock:
            return self._new_chain()

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far fail with 401 (refresh tokens keep working)."""
        with self._lock:
            for access in self._access.values():
                access.revoked = True

    def kill_refresh_tokens(self) -> None:
        """Make every refresh token (and its chain's access tokens) invalid."""
        with self._lock:
            for chain in self._chains:
                chain.alive = False

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 503,
        retry_after: float | str | None = None,
        body: bytes | str | Mapping[str, Any] | Sequence[Any] | None = None,
        content_type: str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` instead of serving them.

        Args:
            n: how many requests fail.
            status: e.g. 429, 500, 503 (each has a Schwab-like default body).
            retry_after: a ``Retry-After`` header value (seconds), none by default.
            body: a replacement body: JSON for mappings/lists, text for ``str``, raw for ``bytes``.
            content_type: overrides the body's content type.
            path_prefix: restrict to paths under it: relative to ``/trader/v1`` (``"/accounts"``),
                or absolute (``"/trader/v1/…"``, ``"/v1/oauth/token"``). Default: the whole
                Trader API (OAuth endpoints are only hit when named explicitly).
        """
        if body is None:
            raw, kind = _default_fault_body(status)
        elif isinstance(body, bytes):
            raw, kind = body, "application/octet-stream"
        elif isinstance(body, str):
            raw, kind = body.encode(), "text/plain"
        else:
            raw, kind = dumps(body), "application/json"
        prefix = path_prefix or ""
        if not prefix.startswith(("/trader/v1", "/v1/oauth")):
            prefix = "/trader/v1" + prefix
        with self._lock:
            self._faults.append(
                Fault(
                    remaining=n,
                    status=status,
                    path_prefix=prefix,
                    retry_after=None if retry_after is None else str(retry_after),
                    body=raw,
                    content_type=content_type or kind,
                )
            )

    def clear_faults(self) -> None:
        """Drop every pending injected failure."""
        with self._lock:
            self._faults.clear()

    # ---- request log -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_prefix: str, *, method: str | None = None) -> list[RecordedRequest]:
        """Logged requests whose path starts with ``path_prefix`` (absolute or API-relative)."""
        prefix = path_prefix
        if not prefix.startswith(("/trader/v1", "/v1/oauth")):
            prefix = "/trader/v1" + prefix
        return [
            r
            for r in self.requests
            if r.path.startswith(prefix) and (method is None or r.method == method)
        ]

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._requests.clear()

    def leaked_secrets(self) -> list[str]:
        """Every secret string the fake handed out, to scan files and output for leaks.

        The client secret, the Basic credential, every access, refresh and id token and every
        authorization code (decoded and percent-encoded). The client id is not a secret (it is in
        the authorize URL the user sees).
        """
        with self._lock:
            basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
            values = [self._client_secret, basic]
            values += [chain.refresh_token for chain in self._chains]
            values += list(self._access)
            values += self._id_tokens
            for code in self._codes:
                values += [code, quote(code, safe="")]
            return list(dict.fromkeys(values))

    # ---- browser stand-in ----------------------------------------------------------------------

    def authorize_redirect_url(self, url: str, *, state: str | None = None) -> str:
        """See :func:`authorize_redirect_url`."""
        return authorize_redirect_url(url, state=state)

    def follow_authorize(
        self, url: str, *, verify: bool = False, state: str | None = None, timeout: float = 10.0
    ) -> httpx.Response:
        """See :func:`follow_authorize`."""
        return follow_authorize(url, verify=verify, state=state, timeout=timeout)

    # ---- request handling (called from the server threads) -----------------------------------

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[_Response, str]:
        parts = urlsplit(target)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        correlation = str(uuid.uuid4())
        with self._lock:
            try:
                response = self._dispatch(method, path, query, headers, body)
            except Exception as exc:  # a bug in the fake: answer 500 and keep it for the tests
                self.internal_errors.append(f"{method} {path}: {exc!r}")
                response = _Response(status=500, body=repr(exc).encode(), content_type="text/plain")
            self._requests.append(
                RecordedRequest(
                    method=method,
                    path=path,
                    query=query,
                    headers=headers,
                    body=body.decode("utf-8", errors="replace"),
                    status=response.status,
                    correlation_id=correlation,
                    at=self.now(),
                )
            )
        return response, correlation

    def _dispatch(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> _Response:
        fault = self._take_fault(path)
        if fault is not None:
            extra = (("Retry-After", fault.retry_after),) if fault.retry_after is not None else ()
            return _Response(
                status=fault.status, body=fault.body, content_type=fault.content_type, headers=extra
            )
        if path == "/v1/oauth/authorize" and method == "GET":
            return self._authorize(query)
        if path == "/v1/oauth/token":
            if method != "POST":
                return _json(405, {"error": "invalid_request", "error_description": "POST only"})
            return self._token(headers, body)
        if path.startswith("/trader/v1/"):
            return self._trader(method, path.removeprefix("/trader/v1"), query, headers)
        return _Response(status=404, body=_default_fault_body(404)[0], content_type="text/plain")

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    # ---- OAuth ---------------------------------------------------------------------------------

    def _callback_registered(self, redirect_uri: str) -> bool:
        if self.registered_callbacks is not None:
            return redirect_uri in self.registered_callbacks
        parts = urlsplit(redirect_uri)
        return parts.scheme == "https" and parts.hostname == "127.0.0.1"

    def _authorize(self, query: dict[str, str]) -> _Response:
        def page(reason: str) -> _Response:
            html = _ERROR_PAGE.format(reason=reason)
            return _Response(status=400, body=html.encode(), content_type="text/html;charset=UTF-8")

        if query.get("client_id") != self._client_id:
            return page("unknown client_id")
        redirect_uri = query.get("redirect_uri", "")
        if not self._callback_registered(redirect_uri):
            return page("redirect_uri is not registered for this app")
        if query.get("response_type", "code") != "code":
            return page("unsupported response_type")
        code = f"C0.{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(18)}@"
        self._codes[code] = _Code(redirect_uri=redirect_uri, issued_at=self.now())
        scheme, netloc, cb_path, cb_query, _ = urlsplit(redirect_uri)
        params = f"code={quote(code, safe='')}&session={uuid.uuid4()}"
        if "state" in query:
            params += f"&state={quote(query['state'], safe='')}"
        location = urlunsplit(
            (scheme, netloc, cb_path or "/", f"{cb_query}&{params}" if cb_query else params, "")
        )
        return _Response(status=302, content_type="text/html", headers=(("Location", location),))

    def _token(self, headers: dict[str, str], body: bytes) -> _Response:
        credentials = _parse_basic(headers.get("authorization", ""))
        if credentials != (self._client_id, self._client_secret):
            failed = {"error": "invalid_client", "error_description": "Bad client credentials"}
            return _json(401, failed)
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        grant = form.get("grant_type")
        if not grant:
            return _json(
                400, {"error": "invalid_request", "error_description": "Missing grant_type"}
            )
        if grant == "authorization_code":
            return self._exchange_code(form)
        if grant == "refresh_token":
            return self._refresh(form)
        return _json(
            400,
            {"error": "unsupported_grant_type", "error_description": f"Unsupported: {grant}"},
        )

    def _exchange_code(self, form: dict[str, str]) -> _Response:
        def invalid(description: str) -> _Response:
            return _json(400, {"error": "invalid_grant", "error_description": description})

        code = self._codes.get(form.get("code", ""))
        if code is None:
            return invalid("Invalid authorization code")
        if code.used:
            return invalid("Authorization code already used")
        if self.now() - code.issued_at > CODE_LIFETIME:
            return invalid("Authorization code expired")
        if form.get("redirect_uri") != code.redirect_uri:
            return invalid("redirect_uri does not match the authorization request")
        code.used = True
        return _json(200, self._new_chain())

    def _refresh(self, form: dict[str, str]) -> _Response:
        token = form.get("refresh_token", "")
        chain = next((c for c in self._chains if c.refresh_token == token), None)
        now = self.now()
        if chain is None or not chain.alive or now - chain.created_at >= REFRESH_TOKEN_LIFETIME:
            digest = base64.b64encode(secrets.token_bytes(32)).decode()
            body = {
                "error": _REFRESH_REJECTED["error"],
                "error_description": _REFRESH_REJECTED["error_description"].replace(
                    "{digest}", digest
                ),
            }
            return _json(400, body)
        access = self._issue_access(chain)
        payload: dict[str, Any] = {"expires_in": 1800, "token_type": "Bearer", "scope": "api"}
        if self.refresh_returns_refresh_token:
            payload["refresh_token"] = chain.refresh_token
        payload["access_token"] = access
        payload["id_token"] = self._id_token()
        return _json(200, payload)

    def _new_chain(self) -> dict[str, Any]:
        for old in self._chains:
            old.alive = False
        chain = _Chain(created_at=self.now(), refresh_token=secrets.token_urlsafe(48) + "@")
        self._chains.append(chain)
        access = self._issue_access(chain)
        return {
            "expires_in": 1800,
            "token_type": "Bearer",
            "scope": "api",
            "refresh_token": chain.refresh_token,
            "access_token": access,
            "id_token": self._id_token(),
        }

    def _issue_access(self, chain: _Chain) -> str:
        token = "I0." + secrets.token_urlsafe(60) + "@"
        chain.access_tokens.append(token)
        self._access[token] = _Access(chain=chain, expires_at=self.now() + ACCESS_TOKEN_LIFETIME)
        return token

    def _id_token(self) -> str:
        def part(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).decode().rstrip("=")

        claims = dumps({"sub": "fake-user", "aud": self._client_id, "nonce": uuid.uuid4().hex})
        token = part(b'{"alg":"none","typ":"JWT"}') + "." + part(claims) + "."
        self._id_tokens.append(token)
        return token

    # ---- Trader API ------------------------------------------------------------------------------

    def _authorized(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        if not value.startswith("Bearer "):
            return False
        access = self._access.get(value[7:])
        return (
            access is not None
            and not access.revoked
            and access.chain.alive
            and self.now() < access.expires_at
        )

    def _trader(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> _Response:
        if not self._authorized(headers):
            return _json(401, _json_api_error(401, "Unauthorized", "Client not authorized"))
        if method != "GET":
            return _json(405, {"message": "Method Not Allowed", "errors": [f"{method} {path}"]})
        segments = path.strip("/").split("/")
        data = self.dataset
        if segments == ["accounts", "accountNumbers"]:
            return _json(200, data.account_numbers())
        if segments == ["userPreference"]:
            return _json(200, data.user_preference())
        if segments[0] == "accounts":
            fields = query.get("fields")
            if fields is not None and fields != "positions":
                return _json(400, {"message": f"'{fields}' is not a valid value for fields"})
            positions = fields == "positions"
            if len(segments) == 1:
                return _json(200, data.accounts(positions=positions))
            spec = data.spec_by_hash(segments[1])
            if spec is None:
                return _json(400, {"message": "Invalid account number"})
            if len(segments) == 2:
                return _json(200, data.account(spec.key, positions=positions))
            if segments[2] == "transactions" and len(segments) == 3:
                return self._transactions(spec.key, query)
            if segments[2] == "transactions" and len(segments) == 4:
                return self._transaction(spec.key, segments[3])
        return _Response(status=404, body=_default_fault_body(404)[0], content_type="text/plain")

    def _transactions(self, key: str, query: dict[str, str]) -> _Response:
        def bad(value: str, param: str) -> _Response:
            return _json(400, {"message": f"'{value}' is not a valid value for {param}"})

        bounds: dict[str, datetime] = {}
        for param in ("startDate", "endDate"):
            value = query.get(param, "")
            parsed = _parse_date_param(value)
            if parsed is None:
                return bad(value, param)
            bounds[param] = parsed
        start, end = bounds["startDate"], bounds["endDate"]
        if end < start:
            return _json(
                400, {"message": "Bad Request", "errors": ["endDate must not be before startDate"]}
            )
        if years_before(end, 1) > start:
            return _json(
                400, {"message": "Bad Request", "errors": ["Date range must not exceed 1 year"]}
            )
        raw_types = query.get("types")
        if not raw_types:
            return _json(400, {"message": "Bad Request", "errors": ["types: must not be empty"]})
        types = raw_types.split(",")
        for value in types:
            if value not in TRANSACTION_TYPES:
                return bad(value, "types")
        symbol = query.get("symbol") or None
        rows = self.dataset.transactions(key, start, end, frozenset(types), symbol)
        rows = rows[: self.max_transactions]
        body = b"[" + b",".join(row.to_json() for row in rows) + b"]"
        return _Response(status=200, body=body)

    def _transaction(self, key: str, raw_id: str) -> _Response:
        if not raw_id.isdigit():
            return _json(400, {"message": f"'{raw_id}' is not a valid value for transactionId"})
        row = self.dataset.find_row(key, int(raw_id))
        if row is None:
            return _json(404, {"message": "Transaction not found", "errors": [raw_id]})
        return _Response(status=200, body=b"[" + row.to_json() + b"]")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSchwab


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeSchwab/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        response, correlation = self.server.fake._handle(self.command, self.path, headers, body)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header(CORRELATION_HEADER, correlation)
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve()

    def do_PUT(self) -> None:
        """Refuse a PUT (the Trader API answers 405: the fake never takes orders)."""
        self._serve()

    def do_DELETE(self) -> None:
        """Refuse a DELETE (see :meth:`do_PUT`)."""
        self._serve()


# --------------------------------------------------------------------------------------------
# browser stand-in


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for the app's callback listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _replace_state(url: str, state: str | None) -> str:
    if state is None:
        return url
    parts = urlsplit(url)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "state"]
    params.append(("state", state))
    return urlunsplit(parts._replace(query=urlencode(params)))


def authorize_redirect_url(url: str, *, state: str | None = None) -> str:
    """Open an authorize URL like a browser would and return where Schwab redirects (not followed).

    This is what the user pastes in the ``--manual`` flow.

    Args:
        url: the authorize URL the app printed.
        state: replace the URL's ``state`` (to forge one), or keep it when None.

    Raises:
        AssertionError: the fake did not redirect (its error page text is in the message).
    """
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        response = client.get(_replace_state(url, state))
    if response.status_code != 302:
        status = response.status_code
        raise AssertionError(f"authorize did not redirect ({status}): {response.text}")
    return response.headers["location"]


def follow_authorize(
    url: str, *, verify: bool = False, state: str | None = None, timeout: float = 10.0
) -> httpx.Response:
    """Play the browser: open the authorize URL, then follow the redirect to the app's callback.

    Args:
        url: the authorize URL the app printed.
        verify: TLS verification for the callback (the app's listener uses a self-signed
            certificate, hence False).
        state: replace the URL's ``state`` (to forge one), or keep it when None.
        timeout: per request.

    Returns:
        The callback's response, or the authorize response itself when Schwab did not redirect
        (its 400 error page).
    """
    with httpx.Client(trust_env=False, timeout=timeout) as client:
        response = client.get(_replace_state(url, state))
    if response.status_code != 302:
        return response
    with httpx.Client(trust_env=False, timeout=timeout, verify=verify) as browser:
        return browser.get(response.headers["location"])
