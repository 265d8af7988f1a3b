"""Transactions: the filtered list (newest first, limited in the database) and one transaction.

:func:`transaction_criteria` turns what the user typed (a :class:`TransactionFilter`) into the
validated :class:`TransactionCriteria` a reader filters on; ``export transactions`` and the TUI
use it too, so every front end filters the same way.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from dashtam_cli.application.handlers.lookup import (
    TRANSACTIONS_COMMAND,
    resolve_account,
    resolve_connection,
)
from dashtam_cli.application.handlers.resolve import MIN_PREFIX, normalize_ref, resolve_ref
from dashtam_cli.application.queries import TransactionCriteria, TransactionsPage
from dashtam_cli.domain.errors import ErrorCode, Failure, Result, fail, ok
from dashtam_cli.domain.money import totals_by_currency
from dashtam_cli.domain.transactions import TransactionSubtype, TransactionType

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from dashtam_cli.application.ports import ConnectionReader
    from dashtam_cli.application.queries import (
        AccountReader,
        TransactionDetail,
        TransactionFilter,
        TransactionList,
        TransactionReader,
        TransactionView,
    )
    from dashtam_cli.domain.accounts import Account
    from dashtam_cli.domain.connections import ProviderConnection

#: The most rows one ``transactions list`` may ask for.
MAX_LIMIT = 1_000_000
#: How many ids an ambiguous prefix lists (the message shows five of them).
_PREFIX_SAMPLE = 6
_HEX = frozenset("0123456789abcdef")
_UUID_HEX_LENGTH = 32

_TYPES = {t.value: t for t in TransactionType}
_SUBTYPES = {s.value: s for s in TransactionSubtype}


def parse_transaction_kind(
    value: str,
) -> Result[tuple[TransactionType | None, TransactionSubtype | None]]:
    """Read ``--type``: a transaction type (``trade``) or a subtype (``dividend``).

    Returns:
        ``(type, None)`` or ``(None, subtype)``; ``invalid_argument`` (exit 2) listing the valid
        values otherwise.
    """
    wanted = value.strip().lower()
    if wanted in _TYPES:
        return ok((_TYPES[wanted], None))
    if wanted in _SUBTYPES:
        return ok((None, _SUBTYPES[wanted]))
    return fail(
        ErrorCode.INVALID_ARGUMENT,
        f"{value!r} is not a transaction type or subtype",
        hint=f"types: {', '.join(_TYPES)}; subtypes: {', '.join(_SUBTYPES)}",
    )


def transaction_criteria(
    filters: TransactionFilter,
    *,
    accounts: Sequence[Account],
    connections: Sequence[ProviderConnection],
) -> Result[TransactionCriteria]:
    """Resolve and validate a filter.

    Args:
        filters: what the user typed.
        accounts: every account (references resolve among them, inactive ones included).
        connections: every connection (needed only when ``filters.connection_ref`` is set).

    Returns:
        The criteria (``account_ids`` is the intersection of the account and connection
        filters, possibly empty); ``not_found`` / ``ambiguous_id`` for a reference,
        ``invalid_argument`` for an unknown type or ``since`` after ``until``.
    """
    account_ids: set[UUID] | None = None
    if filters.account_ref is not None:
        account = resolve_account(filters.account_ref, accounts)
        if isinstance(account, Failure):
            return account
        account_ids = {account.value.id}
    if filters.connection_ref is not None:
        connection = resolve_connection(filters.connection_ref, connections)
        if isinstance(connection, Failure):
            return connection
        own = {a.id for a in accounts if a.connection_id == connection.value.id}
        account_ids = own if account_ids is None else account_ids & own
    kind: tuple[TransactionType | None, TransactionSubtype | None] = (None, None)
    if filters.transaction_type is not None and filters.transaction_type.strip():
        parsed = parse_transaction_kind(filters.transaction_type)
        if isinstance(parsed, Failure):
            return parsed
        kind = parsed.value
    if filters.since and filters.until and filters.since > filters.until:
        return fail(
            ErrorCode.INVALID_ARGUMENT,
            f"--since {filters.since.isoformat()} is after --until {filters.until.isoformat()}",
        )
    symbol = (filters.symbol or "").strip().upper() or None
    search = (filters.search or "").strip() or None
    return ok(
        TransactionCriteria(
            account_ids=None if account_ids is None else tuple(sorted(account_ids, key=str)),
            since=filters.since,
            until=filters.until,
            transaction_type=kind[0],
            subtype=kind[1],
            symbol=symbol,
            search=search,
        )
    )


async def read_filter(
    filters: TransactionFilter, *, accounts: AccountReader, connections: ConnectionReader
) -> tuple[Sequence[Account], Result[TransactionCriteria]]:
    """Read what a filter refers to and resolve it (connections only when it names one).

    Returns:
        Every account (callers name rows with them) and the criteria, or the resolution's error.
    """
    listed = await accounts.list_accounts()
    named = await connections.list_connections() if filters.connection_ref is not None else []
    return listed, transaction_criteria(filters, accounts=listed, connections=named)


class TransactionListHandler:
    """Answer ``dashtam transactions list``."""

    def __init__(
        self,
        *,
        connections: ConnectionReader,
        accounts: AccountReader,
        transactions: TransactionReader,
    ) -> None:
        self._connections = connections
        self._accounts = accounts
        self._transactions = transactions

    async def handle(self, query: TransactionList) -> Result[TransactionsPage]:
        """The newest ``limit`` matching transactions and the exact totals of those shown.

        Returns:
            The page; ``invalid_argument`` for a bad limit or filter, ``not_found`` /
            ``ambiguous_id`` for a reference.
        """
        if not 1 <= query.limit <= MAX_LIMIT:
            return fail(ErrorCode.INVALID_ARGUMENT, f"--limit must be between 1 and {MAX_LIMIT:,}")
        accounts, criteria = await read_filter(
            query.filters, accounts=self._accounts, connections=self._connections
        )
        if isinstance(criteria, Failure):
            return criteria
        if criteria.value.account_ids == ():
            return ok(
                TransactionsPage(transactions=[], totals={}, limit=query.limit, has_more=False)
            )
        # one row more than shown tells whether there are more
        rows = await self._transactions.list_transactions(criteria.value, limit=query.limit + 1)
        names = {a.id: a.name for a in accounts}
        shown = [replace(r, account_name=names.get(r.account_id)) for r in rows[: query.limit]]
        return ok(
            TransactionsPage(
                transactions=shown,
                totals=totals_by_currency(r.amount for r in shown),
                limit=query.limit,
                has_more=len(rows) > query.limit,
            )
        )


class TransactionDetailHandler:
    """Answer ``dashtam transactions show REF``."""

    def __init__(
        self,
        *,
        connections: ConnectionReader,
        accounts: AccountReader,
        transactions: TransactionReader,
    ) -> None:
        self._connections = connections
        self._accounts = accounts
        self._transactions = transactions

    async def handle(self, query: TransactionDetail) -> Result[TransactionView]:
        """One transaction by id prefix, with its account and connection names.

        Returns:
            The view; ``not_found`` (exit 10) / ``ambiguous_id`` (exit 2) for the reference.
        """
        needle = normalize_ref(query.ref)
        candidates: Sequence[UUID] = []
        if MIN_PREFIX <= len(needle) <= _UUID_HEX_LENGTH and set(needle) <= _HEX:
            candidates = await self._transactions.ids_with_prefix(needle, limit=_PREFIX_SAMPLE)
        found = resolve_ref(
            query.ref,
            candidates,
            kind="transaction",
            id_of=lambda transaction_id: transaction_id,
            list_command=TRANSACTIONS_COMMAND,
        )
        if isinstance(found, Failure):
            return found
        transaction = await self._transactions.get_transaction(found.value)
        if transaction is None:  # deleted between the two reads
            return fail(ErrorCode.NOT_FOUND, f"no transaction matches {query.ref!r}")
        accounts = {a.id: a for a in await self._accounts.list_accounts()}
        account = accounts.get(transaction.account_id)
        connections = {c.id: c for c in await self._connections.list_connections()}
        connection = connections.get(account.connection_id) if account else None
        from dashtam_cli.application.queries import TransactionView

        return ok(
            TransactionView(
                transaction=transaction,
                account_name=account.name if account else "",
                connection_alias=connection.alias if connection else "",
            )
        )
