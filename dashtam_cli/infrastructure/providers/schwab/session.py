"""A sync's conversation with Schwab for one connection (the domain ``ProviderSession``).

``fetch_accounts`` re-reads ``/accounts/accountNumbers`` every time (``hashValue`` is not promised
to be stable) and keeps the number-to-hash map in memory only, keyed by ``provider_account_id``
(an HMAC of the number, ``identity.py``); then ``/accounts?fields=positions`` and
``/userPreference`` (nicknames; its failure is logged and otherwise ignored).

``fetch_transactions`` reads ``[start, end)``: windows longer than 365 days are cut into chunks
(Schwab's limit is one year), each request's ``endDate`` is ``end`` minus one millisecond, and a
response holding ``max_rows`` (3000) rows, or one Schwab refuses as too big for its gateway, is
split in halves and re-queried until every part comes back below the cap. Rows from every
response, the capped ones included, are merged and de-duplicated by ``provider_transaction_id``
(``activityId``), then sorted by (``time``, ``activityId``).

``token_revoked``/``reauth_required`` failures get the hint ``dashtam providers connect schwab
--alias <alias>``, the alias taken from the connection callable (the API client does not know it).
Full account numbers never reach ``raw``, a log event or an error: only ``****1234``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import structlog

from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.providers import FetchedAccount, FetchedTransaction
from dashtam_cli.infrastructure.providers.schwab.errors import ErrorReason, reconnect_hint
from dashtam_cli.infrastructure.providers.schwab.identity import (
    account_identity,
    mask_account_number,
)
from dashtam_cli.infrastructure.providers.schwab.mapping import map_account, map_transaction

MAX_ROWS: Final = 3000
"""Schwab's cap on rows per transactions response."""
MAX_SPAN: Final = timedelta(days=365)
"""The longest window one transactions request may cover."""
MIN_SPAN: Final = timedelta(seconds=1)
"""A full window shorter than this is not split further (it would be a Schwab anomaly)."""
_MS: Final = timedelta(milliseconds=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_REAUTH: Final = frozenset({ErrorCode.TOKEN_REVOKED, ErrorCode.REAUTH_REQUIRED})

_log = structlog.get_logger("dashtam.schwab")


class TraderApiPort(Protocol):
    """What the session needs from :class:`~.api.TraderApi` (tests substitute fakes)."""

    async def account_numbers(self) -> Result[list[dict[str, Any]], DomainError]:
        """``[{"accountNumber", "hashValue"}]``."""
        ...

    async def accounts(self) -> Result[list[dict[str, Any]], DomainError]:
        """Accounts with positions."""
        ...

    async def user_preference(self) -> Result[dict[str, Any], DomainError]:
        """The preference object."""
        ...

    async def transactions(
        self, account_hash: str, start: datetime, end: datetime
    ) -> Result[list[dict[str, Any]], DomainError]:
        """Rows between two instants (inclusive, as Schwab reads them)."""
        ...

    async def aclose(self) -> None:
        """Release the connection pool."""
        ...


def _account_number(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _midpoint(start: datetime, end: datetime) -> datetime:
    """The middle of a window, on a whole millisecond, strictly inside it."""
    middle = start + (end - start) / 2
    middle -= timedelta(microseconds=middle.microsecond % 1000)
    return middle if middle > start else start + _MS


def _order(txn: FetchedTransaction) -> tuple[datetime, int, int, str]:
    ident = txn.provider_transaction_id
    posted = txn.posted_at or _EPOCH
    if ident.isdigit():
        return (posted, 0, int(ident), "")
    return (posted, 1, 0, ident)


class SchwabSession:
    """An open Schwab session for one connection; implements ``ProviderSession``."""

    def __init__(
        self,
        *,
        api: TraderApiPort,
        connection: Callable[[], ProviderConnection],
        identity_salt: bytes,
        max_rows: int = MAX_ROWS,
        max_span: timedelta = MAX_SPAN,
        min_span: timedelta = MIN_SPAN,
    ) -> None:
        """Create the session.

        Args:
            api: the Trader API client.
            connection: returns the current connection (its credentials may be refreshed while
                the session runs); its alias goes into re-authentication hints.
            identity_salt: the installation's salt for ``provider_account_id``.
            max_rows: the row count at which a window is split (Schwab: 3000).
            max_span: the longest window one request may cover (Schwab: one year).
            min_span: windows this short are never split.
        """
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self._api = api
        self._connection = connection
        self._salt = identity_salt
        self._max_rows = max_rows
        self._max_span = max_span
        self._min_span = min_span
        self._hashes: dict[str, str] = {}
        self._numbers_loaded = False

    @property
    def connection(self) -> ProviderConnection:
        """The connection, with any refreshed credentials."""
        return self._connection()

    async def aclose(self) -> None:
        """Close the API client."""
        await self._api.aclose()

    # ------------------------------------------------------------------------------ accounts

    def _hinted(self, failure: Failure[DomainError]) -> Failure[DomainError]:
        error = failure.error
        if error.code not in _REAUTH or error.hint:
            return failure
        hint = reconnect_hint(self._connection().alias)
        return Failure(
            error=DomainError(
                code=error.code, message=error.message, hint=hint, details=error.details
            )
        )

    async def _load_numbers(self) -> Failure[DomainError] | None:
        numbers = await self._api.account_numbers()
        if isinstance(numbers, Failure):
            return self._hinted(numbers)
        hashes: dict[str, str] = {}
        for item in numbers.value:
            number = _account_number(item.get("accountNumber"))
            account_hash = item.get("hashValue")
            if number is None or not isinstance(account_hash, str) or not account_hash.strip():
                _log.warning("schwab.account_number_unusable", keys=sorted(map(str, item)))
                continue
            hashes[account_identity(number, self._salt)] = account_hash.strip()
        self._hashes = hashes
        self._numbers_loaded = True
        return None

    async def _preferences(self) -> dict[str, Mapping[str, Any]]:
        result = await self._api.user_preference()
        if isinstance(result, Failure):
            _log.warning(
                "schwab.user_preference_unavailable",
                code=result.error.code.value,
                correlation_id=result.error.details.get("correlation_id"),
            )
            return {}
        found: dict[str, Mapping[str, Any]] = {}
        entries = result.value.get("accounts")
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, Mapping):
                    number = _account_number(entry.get("accountNumber"))
                    if number is not None:
                        found[number] = entry
        return found

    async def fetch_accounts(self) -> Result[Sequence[FetchedAccount], DomainError]:
        """Every account the login lets the app see, with balances and positions.

        Returns:
            The accounts; the API's failure (with a re-connect hint for token failures).
        """
        loaded = await self._load_numbers()
        if loaded is not None:
            return loaded
        accounts = await self._api.accounts()
        if isinstance(accounts, Failure):
            return self._hinted(accounts)
        preferences = await self._preferences()
        fetched: list[FetchedAccount] = []
        for element in accounts.value:
            securities = element.get("securitiesAccount")
            if not isinstance(securities, Mapping):
                _log.warning("schwab.account_skipped", why="no securitiesAccount object")
                continue
            number = _account_number(securities.get("accountNumber"))
            if number is None:
                _log.warning("schwab.account_skipped", why="no accountNumber")
                continue
            identity = account_identity(number, self._salt)
            masked = mask_account_number(number)
            if identity not in self._hashes:
                _log.warning("schwab.account_without_hash", account=masked)
            fetched.append(
                map_account(
                    securities,
                    provider_account_id=identity,
                    masked=masked,
                    preference=preferences.get(number),
                )
            )
        _log.debug("schwab.accounts_fetched", accounts=len(fetched))
        return ok(fetched)

    # -------------------------------------------------------------------------- transactions

    async def fetch_transactions(
        self, account: FetchedAccount, start: datetime, end: datetime
    ) -> Result[Sequence[FetchedTransaction], DomainError]:
        """The account's transactions in ``[start, end)``, split and de-duplicated.

        Args:
            account: an account from :meth:`fetch_accounts`.
            start: the window start (aware).
            end: the window end (aware, exclusive).

        Returns:
            The rows sorted by (``time``, ``activityId``); the first failure otherwise.

        Raises:
            ValueError: a naive datetime (a bug in the caller).
        """
        for value in (start, end):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError("transaction windows must be timezone-aware")
        account_hash = self._hashes.get(account.provider_account_id)
        if account_hash is None and not self._numbers_loaded:
            loaded = await self._load_numbers()
            if loaded is not None:
                return loaded
            account_hash = self._hashes.get(account.provider_account_id)
        if account_hash is None:
            return fail(
                ErrorCode.PROVIDER_ERROR,
                f"Schwab did not list account {account.account_number_masked} in "
                "accounts/accountNumbers, so its transactions cannot be read",
                hint="Log in again and allow this account on Schwab's consent screen: "
                + reconnect_hint(self._connection().alias),
            )
        rows: dict[str, FetchedTransaction] = {}
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(chunk_start + self._max_span, end)
            failed = await self._collect(account, account_hash, chunk_start, chunk_end, rows)
            if failed is not None:
                return failed
            chunk_start = chunk_end
        return ok(sorted(rows.values(), key=_order))

    async def _collect(
        self,
        account: FetchedAccount,
        account_hash: str,
        start: datetime,
        end: datetime,
        rows: dict[str, FetchedTransaction],
    ) -> Failure[DomainError] | None:
        pending = [(start, end)]
        while pending:
            low, high = pending.pop()
            last = max(low, high - _MS)
            result = await self._api.transactions(account_hash, low, last)
            splittable = high - low > self._min_span
            if isinstance(result, Failure):
                too_big = result.error.details.get("reason") == ErrorReason.BODY_TOO_BIG.value
                if not (too_big and splittable):
                    return self._hinted(result)
                count = None
            else:
                for payload in result.value:
                    txn = map_transaction(payload)
                    rows.setdefault(txn.provider_transaction_id, txn)
                count = len(result.value)
                if count < self._max_rows:
                    continue
                if not splittable:
                    return fail(
                        ErrorCode.PROVIDER_DATA_INVALID,
                        f"Schwab returned {count} transactions for account "
                        f"{account.account_number_masked} within {high - low}; the window "
                        "cannot be split further",
                        details={"window_start": low.isoformat(), "window_end": high.isoformat()},
                    )
            middle = _midpoint(low, high)
            _log.info(
                "schwab.window_split",
                account=account.account_number_masked,
                window_start=low.isoformat(),
                window_end=high.isoformat(),
                rows=count,
            )
            pending.append((middle, high))
            pending.append((low, middle))
        return None
