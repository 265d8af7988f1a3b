"""The Schwab Trader API client: four GETs, retries, a request budget and error translation.

Every call is a ``GET`` under the Trader API base (``https://api.schwabapi.com/trader/v1``) with
``Authorization: Bearer <access token>`` and ``Accept: application/json``; per-account paths take
the account's ``hashValue``, never its number. Bodies are parsed with ``parse_float=Decimal`` (a
float never reaches the money path); ``NaN``/``Infinity`` literals become ``null``.

Behaviour (schwab.md sections 4.2 and 4.3):

* **401**: the token source is asked for a forced refresh once and the request retried once; a
  second 401 is ``token_revoked``. The hint (``dashtam providers connect schwab --alias ...``) is
  added by :class:`~dashtam_cli.infrastructure.providers.schwab.session.SchwabSession`, which knows
  the connection's alias; this client leaves ``hint`` empty for it. A failure of the token source
  is returned as it is.
* **429, 5xx, timeouts, connection errors**: retried up to ``RetryPolicy.max_attempts`` sends in
  all, sleeping ``U(0, min(cap, base * 2**n))`` before retry ``n`` (full jitter), or what
  ``Retry-After`` asks (seconds or an HTTP date) when present. A ``Retry-After`` beyond
  ``RetryPolicy.max_retry_after`` ends the retries at once. Giving up yields
  ``provider_rate_limited`` (429) or ``provider_unavailable``.
* **The transient gateway 404 and Akamai 403 pages**: retried once.
* **Other 4xx**: ``provider_error``, not retried. A 2xx whose body is not JSON of the expected top
  level shape: ``provider_data_invalid``.
* **Budget**: at most ``requests_per_minute`` sends in any 60 seconds (every retry counts), and one
  request in flight at a time. See :class:`RequestBudget`.
* Timeouts: connect 10 s, read 60 s (``/transactions`` is slow).

Every failure carries ``details["correlation_id"]`` when Schwab sent ``Schwab-Client-CorrelId``,
and is logged under ``dashtam.schwab`` with it. Nothing logged or returned contains the access
token, an account number or the account hash.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random as _random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Protocol
from urllib.parse import quote

import httpx
import structlog

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.infrastructure.providers.schwab.dates import format_schwab_datetime
from dashtam_cli.infrastructure.providers.schwab.errors import (
    TRANSACTION_TYPES,
    ErrorBody,
    correlation_id,
    error_from_response,
    is_retryable,
    is_transient_once,
    parse_error_body,
    redact_secrets,
)

"""The 15 transaction types of the spec; every transactions request asks for all of them."""

DEFAULT_BASE_URL: Final = "https://api.schwabapi.com/trader/v1"
CONNECT_TIMEOUT: Final = 10.0
READ_TIMEOUT: Final = 60.0
BUDGET_WINDOW: Final = 60.0
"""Seconds over which ``requests_per_minute`` is counted."""

_log = structlog.get_logger("dashtam.schwab")
#: What to do about an answer Dashtam cannot read: nothing stored was touched.
_DATA_HINT = (
    "nothing stored was changed; run `dashtam sync` again later (Schwab's API sometimes answers "
    "with a maintenance page), and if it persists, the log file records what came back"
)


class AccessTokenSource(Protocol):
    """Where the client gets its bearer token (implemented by the token lifecycle code)."""

    async def access_token(self) -> Result[str, DomainError]:
        """A valid access token (refreshed first when less than 5 minutes remain)."""
        ...

    async def force_refresh(self) -> Result[str, DomainError]:
        """Refresh now (after a 401) and return the new access token."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How transient failures are retried.

    Attributes:
        max_attempts: sends in all (the first one included) for 429/5xx/network failures.
        base: the backoff base in seconds: retry ``n`` (from 0) sleeps ``U(0, min(cap,
            base * 2**n))``.
        cap: the largest backoff bound in seconds.
        max_retry_after: the longest ``Retry-After`` honoured; a longer one ends the retries.
    """

    max_attempts: int = 5
    base: float = 1.0
    cap: float = 30.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base < 0 or self.cap < 0 or self.max_retry_after < 0:
            raise ValueError("retry delays must not be negative")

    def backoff(self, retry: int, draw: float) -> float:
        """The full-jitter delay before retry number ``retry`` (0-based).

        Args:
            retry: how many retries came before this one.
            draw: a uniform random number in ``[0, 1)``.

        Returns:
            ``draw * min(cap, base * 2**retry)`` seconds.
        """
        bound = self.cap if retry >= 64 else min(self.cap, self.base * 2**retry)
        return max(0.0, min(1.0, draw)) * bound


class RequestBudget:
    """At most ``limit`` acquisitions in any ``window`` seconds (a sliding-window request budget).

    Schwab's community-reported limit is 120 requests per minute. A classic token bucket holding
    120 tokens and refilling at 2 per second would allow up to 240 requests in the first minute; the
    sliding window keeps the promise exactly while still allowing a burst of ``limit`` requests: an
    acquisition waits until the oldest of the last ``limit`` is ``window`` seconds old.
    """

    def __init__(
        self,
        *,
        limit: int,
        window: float = BUDGET_WINDOW,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the budget.

        Args:
            limit: acquisitions allowed per window (at least 1).
            window: the window in seconds.
            sleep: the coroutine used to wait (injected by tests).
            monotonic: the clock (injected by tests).
        """
        if limit < 1:
            raise ValueError("requests_per_minute must be at least 1")
        self._limit = limit
        self._window = window
        self._sleep = sleep
        self._monotonic = monotonic
        self._stamps: deque[float] = deque()

    async def acquire(self) -> float:
        """Wait until a request may be sent, and count it.

        Returns:
            The seconds waited.
        """
        waited = 0.0
        while True:
            now = self._monotonic()
            while self._stamps and now - self._stamps[0] >= self._window:
                self._stamps.popleft()
            if len(self._stamps) < self._limit:
                self._stamps.append(now)
                return waited
            delay = self._stamps[0] + self._window - now
            waited += delay
            await self._sleep(delay)


def _nonfinite_to_none(_: str) -> None:
    return None


def parse_json(content: bytes) -> Any:
    """Parse a response body with ``Decimal`` numbers.

    Raises:
        ValueError: not JSON (or not UTF-8).
    """
    try:
        return json.loads(content, parse_float=Decimal, parse_constant=_nonfinite_to_none)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """Decode a ``Retry-After`` header: delta seconds or an HTTP date.

    Args:
        value: the header value, if any.
        now: the current instant (for the HTTP-date form).

    Returns:
        Seconds to wait (never negative), or None when absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    if seconds != seconds or seconds in {float("inf"), float("-inf")}:
        return None
    return max(0.0, seconds)


@dataclass(frozen=True, kw_only=True, slots=True)
class _NetworkProblem:
    kind: str


class TraderApi:
    """The read-only slice of the Schwab Trader API a sync needs."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        tokens: AccessTokenSource,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        requests_per_minute: int = 120,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Create the client (no request is sent until a method is called).

        Args:
            base_url: the Trader API base, e.g. ``https://api.schwabapi.com/trader/v1``.
            tokens: the bearer-token source.
            transport: an httpx transport (tests inject respx or a mock transport).
            retry: the retry policy (default :class:`RetryPolicy`).
            requests_per_minute: the request budget (see :class:`RequestBudget`).
            sleep: the coroutine used for backoff and budget waits.
            random: a uniform ``[0, 1)`` source for the backoff jitter.
            monotonic: the clock of the request budget.
            now: the wall clock (to decode an HTTP-date ``Retry-After``).
        """
        self._tokens = tokens
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._random = random
        self._now = now
        self._budget = RequestBudget(limit=requests_per_minute, sleep=sleep, monotonic=monotonic)
        self._lock = asyncio.Lock()
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    # ----------------------------------------------------------------------------- endpoints

    async def account_numbers(self) -> Result[list[dict[str, Any]], DomainError]:
        """``GET /accounts/accountNumbers``: ``[{"accountNumber", "hashValue"}]``.

        Returns:
            The elements (objects); ``provider_data_invalid`` when the top level is not a list of
            objects.
        """
        result = await self._get("account_numbers", "accounts/accountNumbers")
        if isinstance(result, Failure):
            return result
        return _list_of_objects("account_numbers", result.value)

    async def accounts(self) -> Result[list[dict[str, Any]], DomainError]:
        """``GET /accounts?fields=positions``: every linked account with balances and positions.

        Returns:
            The elements (``{"securitiesAccount": ..., ...}`` objects); ``provider_data_invalid``
            when the top level is not a list of objects.
        """
        result = await self._get("accounts", "accounts", {"fields": "positions"})
        if isinstance(result, Failure):
            return result
        return _list_of_objects("accounts", result.value)

    async def user_preference(self) -> Result[dict[str, Any], DomainError]:
        """``GET /userPreference``: nicknames and account types.

        The spec says array, real responses are one object: both are accepted. An array's
        ``accounts`` lists are concatenated (the first element's other keys are kept).

        Returns:
            One preference object (``{}`` for an empty array).
        """
        result = await self._get("user_preference", "userPreference")
        if isinstance(result, Failure):
            return result
        data = result.value
        if isinstance(data, dict):
            return ok(data)
        if isinstance(data, list) and all(isinstance(item, dict) for item in data):
            if not data:
                return ok({})
            merged = dict(data[0])
            accounts: list[Any] = []
            for item in data:
                found = item.get("accounts")
                if isinstance(found, list):
                    accounts.extend(found)
            merged["accounts"] = accounts
            return ok(merged)
        return _shape_failure("user_preference", "an object or an array of objects", data)

    async def transactions(
        self, account_hash: str, start: datetime, end: datetime
    ) -> Result[list[dict[str, Any]], DomainError]:
        """``GET /accounts/{hash}/transactions`` for all 15 types between two instants.

        The instants are sent exactly as given (formatted in UTC with milliseconds); callers
        keep windows within a year and split windows that come back with 3000 rows.

        Args:
            account_hash: the account's ``hashValue``.
            start: the ``startDate`` (aware).
            end: the ``endDate`` (aware).

        Returns:
            The rows (any JSON values; the mapper copes with odd ones); ``provider_data_invalid``
            when the top level is not a list.

        Raises:
            ValueError: a naive datetime (a bug in the caller).
        """
        params = {
            "startDate": format_schwab_datetime(start),
            "endDate": format_schwab_datetime(end),
            "types": ",".join(TRANSACTION_TYPES),
        }
        path = f"accounts/{quote(account_hash, safe='')}/transactions"
        result = await self._get("transactions", path, params)
        if isinstance(result, Failure):
            return result
        if not isinstance(result.value, list):
            return _shape_failure("transactions", "an array", result.value)
        return ok(list(result.value))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    # ------------------------------------------------------------------------------ plumbing

    async def _send(
        self, path: str, params: Mapping[str, str] | None, token: str
    ) -> httpx.Response | _NetworkProblem | Failure[DomainError]:
        async with self._lock:
            waited = await self._budget.acquire()
            if waited > 0:
                _log.info("schwab.budget_wait", seconds=round(waited, 3))
            try:
                return await self._client.get(
                    path, params=params, headers={"Authorization": f"Bearer {token}"}
                )
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                return fail(
                    ErrorCode.CONFIG_INVALID,
                    f"the Schwab API URL is not usable: {redact_secrets(str(exc))}",
                    hint="Check DASHTAM_SCHWAB_API_URL (default " + DEFAULT_BASE_URL + ").",
                )
            except httpx.TimeoutException as exc:
                return _NetworkProblem(kind=type(exc).__name__)
            except httpx.TransportError as exc:
                return _NetworkProblem(kind=type(exc).__name__)

    async def _backoff(
        self, endpoint: str, retry: int, *, why: str, retry_after: float | None = None, **ctx: Any
    ) -> None:
        delay = (
            retry_after if retry_after is not None else self._retry.backoff(retry, self._random())
        )
        _log.info(
            "schwab.retry",
            endpoint=endpoint,
            why=why,
            retry=retry + 1,
            delay=round(delay, 3),
            retry_after=retry_after,
            **ctx,
        )
        await self._sleep(delay)

    async def _get(
        self, endpoint: str, path: str, params: Mapping[str, str] | None = None
    ) -> Result[Any, DomainError]:
        token_result = await self._tokens.access_token()
        if isinstance(token_result, Failure):
            return token_result
        token = token_result.value
        policy = self._retry
        sends = 0
        retries = 0
        refreshed = False
        glitch_retried = False
        while True:
            outcome = await self._send(path, params, token)
            sends += 1
            if isinstance(outcome, Failure):
                return outcome
            if isinstance(outcome, _NetworkProblem):
                if retries + 1 < policy.max_attempts:
                    await self._backoff(endpoint, retries, why=outcome.kind)
                    retries += 1
                    continue
                _log.info(
                    "schwab.unreachable", endpoint=endpoint, error=outcome.kind, attempts=sends
                )
                return fail(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    f"Schwab could not be reached ({endpoint}: {outcome.kind} "
                    f"after {sends} attempts)",
                    hint="Check your network connection and try again in a few minutes.",
                    details={"endpoint": endpoint, "error": outcome.kind, "attempts": str(sends)},
                )
            response = outcome
            status = response.status_code
            correlation = correlation_id(response.headers)
            if 200 <= status < 300:
                _log.debug(
                    "schwab.response",
                    endpoint=endpoint,
                    status=status,
                    correlation_id=correlation,
                    attempts=sends,
                )
                return self._decode(endpoint, response, correlation)
            body = parse_error_body(status, response.content, response.headers.get("content-type"))
            if status == 401 and not refreshed:
                refreshed = True
                _log.info(
                    "schwab.unauthorized_refreshing", endpoint=endpoint, correlation_id=correlation
                )
                refreshed_token = await self._tokens.force_refresh()
                if isinstance(refreshed_token, Failure):
                    return refreshed_token
                token = refreshed_token.value
                continue
            if is_retryable(status, body) and retries + 1 < policy.max_attempts:
                wait = retry_after_seconds(response.headers.get("retry-after"), now=self._now())
                if wait is None or wait <= policy.max_retry_after:
                    await self._backoff(
                        endpoint,
                        retries,
                        why=f"HTTP {status}",
                        retry_after=wait,
                        correlation_id=correlation,
                    )
                    retries += 1
                    continue
            elif (
                is_transient_once(status, body)
                and not glitch_retried
                and retries + 1 < policy.max_attempts
            ):
                glitch_retried = True
                await self._backoff(
                    endpoint, retries, why=f"HTTP {status}", correlation_id=correlation
                )
                retries += 1
                continue
            return self._failure(endpoint, status, body, correlation, sends, response)

    def _failure(
        self,
        endpoint: str,
        status: int,
        body: ErrorBody,
        correlation: str | None,
        sends: int,
        response: httpx.Response,
    ) -> Failure[DomainError]:
        error = error_from_response(
            endpoint=endpoint, status=status, body=body, correlation=correlation, attempts=sends
        )
        retry_after = response.headers.get("retry-after")
        if retry_after is not None and status == 429:
            details = dict(error.details)
            details["retry_after"] = redact_secrets(retry_after)[:64]
            error = DomainError(
                code=error.code, message=error.message, hint=error.hint, details=details
            )
        _log.info(
            "schwab.error",
            endpoint=endpoint,
            status=status,
            code=error.code.value,
            reason=body.reason.value if body.reason else None,
            correlation_id=correlation,
            attempts=sends,
            message=body.message,
        )
        return Failure(error=error)

    def _decode(
        self, endpoint: str, response: httpx.Response, correlation: str | None
    ) -> Result[Any, DomainError]:
        try:
            return ok(parse_json(response.content))
        except ValueError:
            details = {"endpoint": endpoint, "status": str(response.status_code)}
            if correlation:
                details["correlation_id"] = correlation
            _log.info(
                "schwab.invalid_json",
                endpoint=endpoint,
                correlation_id=correlation,
                content_type=response.headers.get("content-type"),
                size=len(response.content),
            )
            return fail(
                ErrorCode.PROVIDER_DATA_INVALID,
                f"Schwab sent a response that is not JSON ({endpoint})",
                hint=_DATA_HINT,
                details=details,
            )


def _shape_failure(endpoint: str, expected: str, data: object) -> Failure[DomainError]:
    got = type(data).__name__ if data is not None else "null"
    _log.info("schwab.unexpected_shape", endpoint=endpoint, expected=expected, got=got)
    return fail(
        ErrorCode.PROVIDER_DATA_INVALID,
        f"Schwab's {endpoint} response is not {expected} (got {got})",
        hint=_DATA_HINT,
        details={"endpoint": endpoint},
    )


def _list_of_objects(endpoint: str, data: object) -> Result[list[dict[str, Any]], DomainError]:
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return ok(list(data))
    return _shape_failure(endpoint, "an array of objects", data)
