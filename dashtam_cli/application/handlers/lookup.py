"""The references people type, resolved to one connection or account (see :mod:`.resolve`)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from dashtam_cli.application.handlers.resolve import resolve_ref
from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.connections import ProviderConnection
from dashtam_cli.domain.errors import Failure, Result, ok

CONNECTIONS_COMMAND = "dashtam providers list"
ACCOUNTS_COMMAND = "dashtam accounts list --all"
TRANSACTIONS_COMMAND = "dashtam transactions list"


def resolve_connection(
    ref: str, connections: Sequence[ProviderConnection]
) -> Result[ProviderConnection]:
    """The one connection whose alias is ``ref`` or whose id starts with ``ref``.

    Returns:
        The connection; ``not_found`` (exit 10) or ``ambiguous_id`` (exit 2).
    """
    return resolve_ref(
        ref,
        connections,
        kind="connection",
        id_of=lambda c: c.id,
        aliases_of=lambda c: (c.alias,),
        list_command=CONNECTIONS_COMMAND,
    )


def resolve_account(ref: str, accounts: Sequence[Account]) -> Result[Account]:
    """The one account whose id starts with ``ref`` (inactive accounts included).

    Returns:
        The account; ``not_found`` (exit 10) or ``ambiguous_id`` (exit 2).
    """
    return resolve_ref(
        ref, accounts, kind="account", id_of=lambda a: a.id, list_command=ACCOUNTS_COMMAND
    )


def holdings_scope(ref: str | None, accounts: Sequence[Account]) -> Result[list[UUID] | None]:
    """The accounts whose holdings a query reads: the one ``ref`` names, else the active ones.

    An inactive account (no longer reported, or its connection disconnected) no longer holds
    what it last held: counting its positions would count that money twice. Named, it shows.

    Returns:
        The ids; ``not_found`` / ``ambiguous_id`` for a reference matching none / several.
    """
    if ref is not None:
        return account_scope(ref, accounts)
    return ok([a.id for a in accounts if a.is_active])


def account_scope(ref: str | None, accounts: Sequence[Account]) -> Result[list[UUID] | None]:
    """The account ids a query is limited to: the one ``ref`` names, or None (every account).

    Returns:
        ``[id]`` or None; ``not_found`` / ``ambiguous_id`` for a reference matching none / several.
    """
    if ref is None:
        return ok(None)
    found = resolve_account(ref, accounts)
    if isinstance(found, Failure):
        return found
    return ok([found.value.id])
