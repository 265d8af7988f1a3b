"""Schwab's OAuth endpoints: the authorize URL, the code exchange and the refresh grant.

Both grants are form-encoded POSTs to ``<auth url>/token`` with HTTP Basic client authentication
(``app key:app secret``); the secret never appears in a body, a URL, a log line or an error.
``grant_type`` is always sent explicitly (schwab-py #150: a request without a code silently became
a ``client_credentials`` grant and a token that could not be refreshed).

Failure policy (schwab.md §1.7, §4.3):

* code exchange: 4xx → ``oauth_failed`` with Schwab's (redacted) error text; 5xx or network →
  ``provider_unavailable``. Never re-sent once the server has answered (a code is single-use);
  only a connection that could not be opened is retried, once.
* refresh: any 4xx → ``reauth_required`` (including the observed 400 whose ``error_description``
  is JSON inside a string), except 429 (throttling: retried, then ``provider_rate_limited``) and an
  HTML 403 from the edge network (a transient block: retried, then ``provider_unavailable``);
  5xx and network failures are retried with exponential backoff, then ``provider_unavailable``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, unquote, urlencode

import httpx
import structlog

from dashtam_cli.application.handlers.events import REDACTED, redact_text
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.infrastructure.providers.schwab.config import SchwabApp, SchwabEndpoints
from dashtam_cli.infrastructure.providers.schwab.errors import reconnect_hint
from dashtam_cli.infrastructure.providers.schwab.tokens import REFRESH_TOKEN_LIFETIME, TokenSet

DEFAULT_ACCESS_LIFETIME: Final = 1800
"""Seconds an access token lives when a response omits ``expires_in`` (Schwab: 30 minutes)."""
CORRELATION_HEADER: Final = "Schwab-Client-CorrelId"
_MAX_TEXT: Final = 300
_MIN_SECRET_LENGTH: Final = 6
_MAX_RETRY_AFTER: Final = 30.0
_TOKEN_DIGEST: Final = re.compile(r"(tokenDigest=)[^,\]\s\"\\]+")
_NESTED_JSON: Final = re.compile(r"(\{.*\})", re.DOTALL)
_HTML_TITLE: Final = re.compile(r"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)
_TAGS: Final = re.compile(r"<[^>]+>")
_SPACES: Final = re.compile(r"\s+")

_log = structlog.get_logger("dashtam.schwab")


class OAuthClient:
    """Talks to Schwab's OAuth token endpoint.

    Args:
        app: the app key and secret (HTTP Basic client authentication).
        endpoints: where the authorize and token endpoints live.
        transport: an httpx transport (tests, test doubles); the default network otherwise.
        refresh_attempts: how many times a refresh POST is tried on 5xx/429/network failures.
        backoff: the first retry delay in seconds (doubled each retry).
        sleep: how to wait between retries (tests pass a recorder).
    """

    def __init__(
        self,
        *,
        app: SchwabApp,
        endpoints: SchwabEndpoints,
        transport: httpx.AsyncBaseTransport | None = None,
        refresh_attempts: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._app = app
        self._endpoints = endpoints
        self._attempts = max(1, refresh_attempts)
        self._backoff = backoff
        self._sleep = sleep
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(30.0, connect=10.0),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"OAuthClient(token_url={self._endpoints.token_url!r}, app=<hidden>)"

    @property
    def endpoints(self) -> SchwabEndpoints:
        """The endpoints this client uses."""
        return self._endpoints

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        """The URL the user opens to log in at Schwab and allow the app.

        Args:
            redirect_uri: the callback, exactly as registered.
            state: a fresh random value; the redirect must echo it.
        """
        query = urlencode(
            {
                "client_id": self._app.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "state": state,
            },
            quote_via=quote,
        )
        return f"{self._endpoints.authorize_url}?{query}"

    async def exchange_code(
        self, code: str, *, redirect_uri: str, now: datetime
    ) -> Result[TokenSet, DomainError]:
        """Exchange an authorization code for tokens (``grant_type=authorization_code``).

        Args:
            code: the code from the redirect (a still percent-encoded one is decoded once).
            redirect_uri: the same callback the authorize URL carried.
            now: the exchange time: ``refresh_expires_at`` = now + 7 days.

        Returns:
            The tokens; ``oauth_failed`` when Schwab refuses the code (or there is none),
            ``provider_unavailable`` on 5xx or network failure, ``provider_data_invalid`` for a
            success response we cannot use.
        """
        code = unquote(code.strip()) if "%" in code else code.strip()
        if not code:
            return fail(
                ErrorCode.OAUTH_FAILED,
                "there is no authorization code to exchange",
                hint=_CONNECT_AGAIN,
            )
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        sent = await self._post(form, grant="authorization_code", attempts=2, retry_server=False)
        if isinstance(sent, Failure):
            return sent
        response = sent.value
        if response.is_success:
            return _parse_tokens(response, now=now, previous=None, grant="authorization_code")
        return self._exchange_failure(response, code=code)

    async def refresh(
        self, tokens: TokenSet, *, now: datetime, alias: str | None = None
    ) -> Result[TokenSet, DomainError]:
        """Get a new access token with the refresh token (``grant_type=refresh_token``).

        The result keeps ``obtained_at`` and ``refresh_expires_at`` (a refresh never extends the
        login) and the old refresh token when the response omits one.

        Args:
            tokens: the current tokens.
            now: the refresh time (the new access token's expiry is counted from it).
            alias: the connection's alias, for the re-connect hint.

        Returns:
            The new tokens; ``reauth_required`` when Schwab refuses the refresh token (any 4xx
            but 429 and an edge-network HTML 403), ``provider_rate_limited`` /
            ``provider_unavailable`` after retries.
        """
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        sent = await self._post(
            form,
            grant="refresh_token",
            attempts=self._attempts,
            retry_server=True,
            secrets=(tokens.refresh_token, tokens.access_token),
        )
        if isinstance(sent, Failure):
            return sent
        response = sent.value
        if response.is_success:
            return _parse_tokens(response, now=now, previous=tokens, grant="refresh_token")
        return self._refresh_failure(response, tokens=tokens, alias=alias)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def __aenter__(self) -> OAuthClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------ internals

    async def _post(
        self,
        form: dict[str, str],
        *,
        grant: str,
        attempts: int,
        retry_server: bool,
        secrets: Iterable[str] = (),
    ) -> Result[httpx.Response, DomainError]:
        """POST the grant, retrying what may be retried.

        ``retry_server`` False (code exchange): only a connection that never opened is retried;
        True (refresh): also 5xx, 429, an edge HTML 403, and timeouts / broken connections.
        """
        auth = httpx.BasicAuth(self._app.client_id, self._app.client_secret)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._client.post(self._endpoints.token_url, data=form, auth=auth)
            except httpx.ConnectError as exc:
                if last:
                    return self._network_failure(exc, grant=grant)
                await self._sleep(self._delay(attempt, None))
                continue
            except httpx.TransportError as exc:
                if last or not retry_server:
                    return self._network_failure(exc, grant=grant)
                await self._sleep(self._delay(attempt, None))
                continue
            if retry_server and not last and _retryable(response):
                _log.info(
                    "schwab.oauth.retry",
                    grant=grant,
                    status=response.status_code,
                    attempt=attempt + 1,
                    correlation_id=response.headers.get(CORRELATION_HEADER),
                )
                await self._sleep(self._delay(attempt, response))
                continue
            if response.status_code >= 500 or (retry_server and _retryable(response)):
                return self._server_failure(response, grant=grant, secrets=secrets)
            return ok(response)
        raise AssertionError("unreachable: the last attempt always returns")

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            retry_after = response.headers.get("Retry-After", "").strip()
            if retry_after.isdigit():
                return min(float(retry_after), _MAX_RETRY_AFTER)
        return float(min(self._backoff * 2**attempt, _MAX_RETRY_AFTER))

    def _scrub(self, text: str, extra: Iterable[str] = ()) -> str:
        """Redact secrets (ours, and any that look like secrets) from Schwab's error text."""
        for secret in (self._app.client_secret, self._app.client_id, *extra):
            if len(secret) >= _MIN_SECRET_LENGTH:  # shorter "secrets" are test values, not ours
                text = text.replace(secret, REDACTED)
        text = _TOKEN_DIGEST.sub(lambda m: m.group(1) + REDACTED, text)
        text = redact_text(text)
        return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"

    def _network_failure(self, exc: httpx.TransportError, *, grant: str) -> Failure[DomainError]:
        kind = type(exc).__name__
        _log.info("schwab.oauth.network_error", grant=grant, error_type=kind)
        return fail(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"cannot reach Schwab's token endpoint ({kind})",
            hint="check the network connection and try again",
            details={"grant": grant, "error_type": kind},
        )

    def _server_failure(
        self, response: httpx.Response, *, grant: str, secrets: Iterable[str]
    ) -> Failure[DomainError]:
        _, text, details = self._describe(response, grant=grant, secrets=secrets)
        _log.info("schwab.oauth.unavailable", **details)
        code = (
            ErrorCode.PROVIDER_RATE_LIMITED
            if response.status_code == httpx.codes.TOO_MANY_REQUESTS
            else ErrorCode.PROVIDER_UNAVAILABLE
        )
        return fail(
            code,
            f"Schwab's token endpoint is unavailable (HTTP {response.status_code}: {text})",
            hint="try again in a few minutes",
            details=details,
        )

    def _exchange_failure(self, response: httpx.Response, *, code: str) -> Failure[DomainError]:
        error, text, details = self._describe(response, grant="authorization_code", secrets=(code,))
        _log.info("schwab.oauth.exchange_refused", **details)
        if not response.is_client_error:
            return fail(
                ErrorCode.PROVIDER_ERROR,
                f"Schwab's token endpoint answered HTTP {response.status_code}: {text}",
                hint="check DASHTAM_SCHWAB_AUTH_URL",
                details=details,
            )
        hint = _CONNECT_AGAIN
        if error == "invalid_client" or response.status_code == httpx.codes.UNAUTHORIZED:
            hint = (
                "check the app key and secret (DASHTAM_SCHWAB_CLIENT_ID / "
                "DASHTAM_SCHWAB_CLIENT_SECRET, or the stored ones) and that the app is "
                "'Ready For Use' in the Schwab developer portal"
            )
        return fail(
            ErrorCode.OAUTH_FAILED,
            f"Schwab refused the authorization code (HTTP {response.status_code}: {text})",
            hint=hint,
            details=details,
        )

    def _refresh_failure(
        self, response: httpx.Response, *, tokens: TokenSet, alias: str | None
    ) -> Failure[DomainError]:
        _, text, details = self._describe(
            response, grant="refresh_token", secrets=(tokens.refresh_token, tokens.access_token)
        )
        if not response.is_client_error:
            _log.info("schwab.oauth.refresh_unexpected", **details)
            return fail(
                ErrorCode.PROVIDER_ERROR,
                f"Schwab's token endpoint answered HTTP {response.status_code}: {text}",
                hint="check DASHTAM_SCHWAB_AUTH_URL",
                details=details,
            )
        _log.info("schwab.oauth.refresh_refused", **details)
        return fail(
            ErrorCode.REAUTH_REQUIRED,
            "the Schwab login has expired or was revoked; log in again "
            f"(Schwab answered HTTP {response.status_code}: {text})",
            hint=reconnect_hint(alias),
            details=details,
        )

    def _describe(
        self, response: httpx.Response, *, grant: str, secrets: Iterable[str]
    ) -> tuple[str | None, str, dict[str, str]]:
        """Schwab's error code, a redacted one-line description, and details for logs/errors."""
        error, description = describe_error_body(response)
        extra = tuple(secrets)
        text = self._scrub(
            f"{error}: {description}"
            if error and description
            else (error or description or "no error text"),
            extra,
        )
        details = {"grant": grant, "status": str(response.status_code)}
        if error:
            details["error"] = self._scrub(error, extra)
        correlation = response.headers.get(CORRELATION_HEADER)
        if correlation:
            details["correlation_id"] = correlation
        return error, text, details


_CONNECT_AGAIN: Final = (
    "run `dashtam providers connect schwab` again; the code Schwab issues is valid for about "
    "30 seconds, so finish promptly"
)


def _retryable(response: httpx.Response) -> bool:
    """Worth another try: 5xx, 429, or an edge-network HTML 403 (a transient block)."""
    if response.status_code >= 500 or response.status_code == httpx.codes.TOO_MANY_REQUESTS:
        return True
    return response.status_code == httpx.codes.FORBIDDEN and _is_html(response)


def _is_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    return "html" in content_type or response.text.lstrip()[:1] == "<"


def describe_error_body(response: httpx.Response) -> tuple[str | None, str]:
    """Schwab's error code and description, from any of its error body shapes.

    Handles ``{"error", "error_description"}`` — including the observed description that is
    itself a JSON object inside a string (``400 Bad Request: "{\\"error\\":...}"``), whose inner
    values win — ``{"message", "errors"}``, ``{"fault": {"faultstring"}}``, HTML pages (their
    title) and plain text. Nothing is redacted here.

    Returns:
        ``(error code or None, description)``.
    """
    text = response.text
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = _string(body.get("error"))
        description = _string(body.get("error_description"))
        if description:
            nested = _nested_error(description)
            if nested is not None:
                error = nested[0] or error
                description = nested[1] or description
        if error or description:
            return error, description or ""
        message = _string(body.get("message"))
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            detail = (
                _string(first.get("detail")) or _string(first.get("title"))
                if isinstance(first, dict)
                else _string(first)
            )
            message = f"{message}: {detail}" if message and detail else message or detail
        fault = body.get("fault")
        if not message and isinstance(fault, dict):
            message = _string(fault.get("faultstring"))
        if message:
            return None, message
    if _is_html(response):
        title = _HTML_TITLE.search(text)
        plain = title.group(1) if title else _TAGS.sub(" ", text)
        return None, _SPACES.sub(" ", plain).strip() or "an HTML error page"
    return None, _SPACES.sub(" ", text).strip()[:_MAX_TEXT]


def _string(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _nested_error(description: str) -> tuple[str | None, str | None] | None:
    """Unwrap ``400 Bad Request: "{\\"error_description\\":...,\\"error\\":...}"``."""
    match = _NESTED_JSON.search(description)
    if match is None:
        return None
    candidate = match.group(1)
    for attempt in (candidate, _unescape(candidate)):
        if attempt is None:
            continue
        try:
            inner = json.loads(attempt)
        except ValueError:
            continue
        if isinstance(inner, dict):
            return _string(inner.get("error")), _string(inner.get("error_description"))
    return None


def _unescape(candidate: str) -> str | None:
    try:
        value = json.loads(f'"{candidate}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _invalid(grant: str, what: str, response: httpx.Response) -> Failure[DomainError]:
    details = {"grant": grant, "status": str(response.status_code)}
    correlation = response.headers.get(CORRELATION_HEADER)
    if correlation:
        details["correlation_id"] = correlation
    _log.info("schwab.oauth.bad_token_response", problem=what, **details)
    return fail(
        ErrorCode.PROVIDER_DATA_INVALID,
        f"Schwab's token endpoint answered with a response Dashtam cannot use ({what})",
        hint="try again; if it persists, check DASHTAM_SCHWAB_AUTH_URL",
        details=details,
    )


def _parse_tokens(
    response: httpx.Response, *, now: datetime, previous: TokenSet | None, grant: str
) -> Result[TokenSet, DomainError]:
    """Build the token set from a success response (strict JSON; tokens are never logged)."""
    try:
        body: Any = json.loads(response.content, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        return _invalid(grant, "not JSON", response)
    if not isinstance(body, dict):
        return _invalid(grant, "not a JSON object", response)
    access = body.get("access_token")
    if not isinstance(access, str) or not access.strip():
        return _invalid(grant, "no access_token", response)
    token_type = body.get("token_type")
    if token_type is not None and (
        not isinstance(token_type, str) or token_type.lower() != "bearer"
    ):
        return _invalid(grant, "token_type is not Bearer", response)
    expires_in = body.get("expires_in", DEFAULT_ACCESS_LIFETIME)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        return _invalid(grant, "expires_in is not a positive integer", response)
    refresh = body.get("refresh_token")
    if refresh is None or refresh == "":
        if previous is None:
            return _invalid(grant, "no refresh_token", response)
        refresh = previous.refresh_token
    if not isinstance(refresh, str):
        return _invalid(grant, "refresh_token is not a string", response)
    access_expires_at = now + timedelta(seconds=expires_in)
    if previous is None:
        return ok(
            TokenSet(
                access_token=access,
                refresh_token=refresh,
                access_expires_at=access_expires_at,
                refresh_expires_at=now + REFRESH_TOKEN_LIFETIME,
                obtained_at=now,
            )
        )
    return ok(
        TokenSet(
            access_token=access,
            refresh_token=refresh,
            access_expires_at=access_expires_at,
            refresh_expires_at=previous.refresh_expires_at,
            obtained_at=previous.obtained_at,
            refreshed_at=now,
        )
    )
