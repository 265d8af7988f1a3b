"""Explicit row <-> entity mapping: the one place money, enums and credentials meet columns.

``*_to_row`` functions return plain dicts of column values (``Decimal``, ``str``, ``UUID``, aware
``datetime``); ``row_to_*`` functions take a SQLAlchemy ``RowMapping``. Enums are stored as their
lower-case string values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from dashtam_cli.application.queries import TransactionRow
from dashtam_cli.domain.accounts import Account, AccountType
from dashtam_cli.domain.connections import (
    ConnectionStatus,
    CredentialKind,
    ProviderConnection,
    ProviderCredentials,
)
from dashtam_cli.domain.errors import ErrorCode
from dashtam_cli.domain.holdings import AssetType, BalanceSnapshot, Holding, SnapshotSource
from dashtam_cli.domain.money import Money, normalize_currency, to_decimal
from dashtam_cli.domain.transactions import (
    SUBTYPE_TO_TYPE,
    Transaction,
    TransactionStatus,
    TransactionSubtype,
    TransactionType,
)

if TYPE_CHECKING:
    # Imported where used: the read commands' stdlib readers import this module, and these
    # (with the events behind the protocols) would cost each of them ~10 ms to create.
    from dashtam_cli.domain.protocols import AuditEntry, StoredSecret
    from dashtam_cli.domain.providers import FetchedTransaction
    from dashtam_cli.domain.sync import SyncRun

type Row = dict[str, Any]
type RowMapping = Mapping[Any, Any]

# ------------------------------------------------------------------------------------ money


def money_columns(name: str, money: Money | None) -> Row:
    """``{name: amount, name_currency: currency}`` for a Money with its own currency column."""
    if money is None:
        return {name: None, f"{name}_currency": None}
    return {name: money.amount, f"{name}_currency": money.currency}


def money_from_columns(row: RowMapping, name: str) -> Money | None:
    """The Money stored by :func:`money_columns` (None when the amount is NULL)."""
    amount = row[name]
    return None if amount is None else Money(amount, row[f"{name}_currency"])


def amount_in(money: Money | None, currency: str, field: str) -> Decimal | None:
    """The amount of a Money stored under the row's shared ``currency`` column.

    Raises:
        ValueError: when the Money is in another currency (a bug in the caller: storing it would
            silently relabel the amount).
    """
    if money is None:
        return None
    if money.currency != currency:
        raise ValueError(f"{field} is in {money.currency} but the row's currency is {currency}")
    return money.amount


def money_or_none(amount: Decimal | None, currency: str) -> Money | None:
    """Money in the row's shared currency, or None for a NULL amount."""
    return None if amount is None else Money(amount, currency)


# ------------------------------------------------------------------------------ connections


def connection_to_row(connection: ProviderConnection, now: datetime) -> Row:
    """Columns of ``provider_connections``."""
    credentials = connection.credentials
    return {
        "id": connection.id,
        "provider": connection.provider,
        "alias": connection.alias,
        "status": connection.status.value,
        "credentials": credentials.ciphertext if credentials else None,
        "credential_kind": credentials.kind.value if credentials else None,
        "access_expires_at": credentials.access_expires_at if credentials else None,
        "refresh_expires_at": credentials.refresh_expires_at if credentials else None,
        "connected_at": connection.connected_at,
        "last_sync_at": connection.last_sync_at,
        "last_sync_status": connection.last_sync_status,
        "provider_state": dict(connection.provider_state) or None,
        "created_at": connection.created_at or now,
        "updated_at": connection.updated_at or now,
    }


def row_to_connection(row: RowMapping) -> ProviderConnection:
    """A ProviderConnection from a ``provider_connections`` row."""
    ciphertext = row["credentials"]
    credentials = None
    if ciphertext is not None:
        credentials = ProviderCredentials(
            ciphertext=bytes(ciphertext),
            kind=CredentialKind(row["credential_kind"] or CredentialKind.OAUTH2.value),
            access_expires_at=row["access_expires_at"],
            refresh_expires_at=row["refresh_expires_at"],
        )
    return ProviderConnection(
        id=row["id"],
        provider=row["provider"],
        alias=row["alias"],
        status=ConnectionStatus(row["status"]),
        credentials=credentials,
        connected_at=row["connected_at"],
        last_sync_at=row["last_sync_at"],
        last_sync_status=row["last_sync_status"],
        provider_state=dict(row["provider_state"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# --------------------------------------------------------------------------------- accounts


def account_to_row(account: Account, now: datetime) -> Row:
    """Columns of ``accounts`` (every Money keeps its own currency)."""
    return {
        "id": account.id,
        "connection_id": account.connection_id,
        "provider_account_id": account.provider_account_id,
        "account_number_masked": account.account_number_masked,
        "name": account.name,
        "account_type": account.account_type.value,
        "currency": account.currency,
        **money_columns("balance", account.balance),
        **money_columns("available_balance", account.available_balance),
        **money_columns("cash_balance", account.cash_balance),
        "is_active": account.is_active,
        "last_synced_at": account.last_synced_at,
        "raw": account.raw,
        "created_at": account.created_at or now,
        "updated_at": account.updated_at or now,
    }


def row_to_account(row: RowMapping) -> Account:
    """An Account from an ``accounts`` row."""
    balance = money_from_columns(row, "balance")
    if balance is None:
        raise ValueError(f"account {row['id']} has no balance")
    return Account(
        id=row["id"],
        connection_id=row["connection_id"],
        provider_account_id=row["provider_account_id"],
        account_number_masked=row["account_number_masked"],
        name=row["name"],
        account_type=AccountType(row["account_type"]),
        currency=row["currency"],
        balance=balance,
        available_balance=money_from_columns(row, "available_balance"),
        cash_balance=money_from_columns(row, "cash_balance"),
        is_active=bool(row["is_active"]),
        last_synced_at=row["last_synced_at"],
        raw=row["raw"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# --------------------------------------------------------------------------------- holdings


def holding_to_row(holding: Holding, now: datetime) -> Row:
    """Columns of ``holdings``."""
    return {
        "id": holding.id,
        "account_id": holding.account_id,
        "provider_holding_id": holding.provider_holding_id,
        "symbol": holding.symbol,
        "security_name": holding.security_name,
        "asset_type": holding.asset_type.value,
        "quantity": holding.quantity,
        "currency": holding.currency,
        "average_price": holding.average_price,
        **money_columns("cost_basis", holding.cost_basis),
        **money_columns("market_value", holding.market_value),
        "current_price": holding.current_price,
        "is_active": holding.is_active,
        "raw": holding.raw,
        "created_at": holding.created_at or now,
        "updated_at": holding.updated_at or now,
    }


def row_to_holding(row: RowMapping) -> Holding:
    """A Holding from a ``holdings`` row."""
    return Holding(
        id=row["id"],
        account_id=row["account_id"],
        provider_holding_id=row["provider_holding_id"],
        symbol=row["symbol"],
        security_name=row["security_name"],
        asset_type=AssetType(row["asset_type"]),
        quantity=row["quantity"],
        currency=row["currency"],
        average_price=row["average_price"],
        cost_basis=money_from_columns(row, "cost_basis"),
        market_value=money_from_columns(row, "market_value"),
        current_price=row["current_price"],
        is_active=bool(row["is_active"]),
        raw=row["raw"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# ----------------------------------------------------------------------------- transactions


def transaction_to_row(txn: Transaction, now: datetime) -> Row:
    """Columns of ``transactions``: ``amount`` + ``currency``; ``fees`` shares the currency."""
    amount = txn.amount
    fees = txn.fees
    if fees is not None and fees.currency != amount.currency:
        raise ValueError(
            f"transaction {txn.provider_transaction_id}: fees in {fees.currency}, "
            f"amount in {amount.currency}"
        )
    asset_type = txn.asset_type
    return {
        "id": txn.id,
        "account_id": txn.account_id,
        "provider_transaction_id": txn.provider_transaction_id,
        "transaction_type": txn.transaction_type.value,
        "subtype": txn.subtype.value,
        "status": txn.status.value,
        "amount": amount.amount,
        "currency": amount.currency,
        "fees": None if fees is None else fees.amount,
        "description": txn.description,
        "asset_type": None if asset_type is None else asset_type.value,
        "symbol": txn.symbol,
        "security_name": txn.security_name,
        "quantity": txn.quantity,
        "unit_price": txn.unit_price,
        "transaction_date": txn.transaction_date,
        "settlement_date": txn.settlement_date,
        "posted_at": txn.posted_at,
        "raw": txn.raw,
        "created_at": txn.created_at or now,
        "updated_at": txn.updated_at or now,
    }


def _subtype_mismatch(fetched: FetchedTransaction) -> ValueError:
    subtype, ttype = fetched.subtype, fetched.transaction_type
    return ValueError(
        f"transaction {fetched.provider_transaction_id}: subtype "
        f"{getattr(subtype, 'value', subtype)} does not belong to type "
        f"{getattr(ttype, 'value', ttype)}"
    )


def fetched_to_row(account_id: UUID, fetched: FetchedTransaction, now: datetime) -> Row:
    """Columns of ``transactions`` for a provider row, validated like a :class:`Transaction`.

    The same values :func:`transaction_to_row` stores for the entity the sync would build from
    it (amount and fees as :class:`Money` in the row's currency), except ``id``: None, because an
    id is made only for a row that turns out to be new.

    Raises:
        ValueError: the subtype belongs to another type, or an amount or currency is invalid.
        TypeError: an amount is a float (or another non-exact type).
    """
    if SUBTYPE_TO_TYPE.get(fetched.subtype) is not fetched.transaction_type:
        raise _subtype_mismatch(fetched)
    amount = Money(fetched.amount, fetched.currency)
    fees = None if fetched.fees is None else Money(fetched.fees, fetched.currency).amount
    asset_type = fetched.asset_type
    return {
        "id": None,
        "account_id": account_id,
        "provider_transaction_id": fetched.provider_transaction_id,
        "transaction_type": fetched.transaction_type.value,
        "subtype": fetched.subtype.value,
        "status": fetched.status.value,
        "amount": amount.amount,
        "currency": amount.currency,
        "fees": fees,
        "description": fetched.description,
        "asset_type": None if asset_type is None else asset_type.value,
        "symbol": fetched.symbol,
        "security_name": fetched.security_name,
        "quantity": fetched.quantity,
        "unit_price": fetched.unit_price,
        "transaction_date": fetched.transaction_date,
        "settlement_date": fetched.settlement_date,
        "posted_at": fetched.posted_at,
        "raw": fetched.raw,
        "created_at": now,
        "updated_at": now,
    }


type Converter = Callable[[Any], Any]
type TextForm = tuple[str | None, ...]

_STATUS_TEXT = {member: member.value for member in TransactionStatus}
_ASSET_TEXT = {member: member.value for member in AssetType}
# subtype -> (its type, the type's text, the subtype's text): one lookup checks and names both
_SUBTYPE_INFO = {
    subtype: (ttype, ttype.value, subtype.value) for subtype, ttype in SUBTYPE_TO_TYPE.items()
}


class SqliteTransactionText:
    """Provider rows -> the exact text SQLite stores in ``transactions`` (their stored form).

    :meth:`forms` gives, per row, the compared columns (``transaction_type`` .. ``posted_at``, in
    table order) as the column types' bind processors would write them: plain decimals, ISO
    dates, UTC instants as ``YYYY-MM-DD HH:MM:SS.ffffff``, enum values. It validates exactly what
    :func:`fetched_to_row` does (a test holds the two paths equal) but builds no entity, no
    ``Money`` and no dict: the common exact types take a short path, anything else goes through
    the domain's conversion and the column's own processor.
    """

    def __init__(
        self,
        *,
        decimal: Converter,
        instant: Converter,
        day: Converter,
        raw: Converter | None,
    ) -> None:
        """Take the SQLite bind processors of a decimal, an instant, a date and the raw JSON."""
        self._decimal = decimal
        self._instant = instant
        self._day_processor = day
        self._raw = raw
        self._currencies: dict[str, str] = {}

    def instant(self, value: datetime) -> str:
        """An instant as stored (``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC)."""
        text: str = self._instant(value)
        return text

    def raw(self, value: object) -> str | None:
        """A raw provider payload as stored (JSON text), None for None."""
        if value is None or self._raw is None:
            return value  # type: ignore[return-value]
        text: str | None = self._raw(value)
        return text

    def _currency(self, code: str) -> str:
        normalized = normalize_currency(code)
        self._currencies[code] = normalized
        return normalized

    def _money(self, value: object) -> str:
        text: str = self._decimal(to_decimal(value))
        return text

    def _day(self, value: object) -> str:
        """A date as stored, for anything the short path does not take (refused if not a date)."""
        text: str = self._day_processor(value)
        return text

    def forms(self, rows: Sequence[FetchedTransaction]) -> list[TextForm]:
        """The stored form of the compared columns of each row, in order.

        Raises:
            ValueError: the subtype belongs to another type; an amount, currency or enum value
                is invalid; ``posted_at`` is naive.
            TypeError: an amount is a float (or another non-exact type); a date is not a date.
        """
        return self._encode(rows, None, "", "")

    def new_rows(
        self, rows: Sequence[FetchedTransaction], ids: Sequence[str], account: str, now: str
    ) -> list[tuple[str | None, ...]]:
        """Whole ``transactions`` rows to insert, in table column order, as SQLite stores them.

        ``ids`` (one per row), ``account`` and ``now`` are already in stored form. The compared
        columns are exactly :meth:`forms`; ``raw`` goes through its column's processor.

        Raises:
            ValueError: like :meth:`forms`.
            TypeError: like :meth:`forms`.
        """
        return self._encode(rows, ids, account, now)

    def _encode(
        self,
        rows: Sequence[FetchedTransaction],
        ids: Sequence[str] | None,
        account: str,
        now: str,
    ) -> list[tuple[str | None, ...]]:
        """:meth:`forms` (``ids`` None) or :meth:`new_rows`, in one pass over the rows."""
        out: list[tuple[str | None, ...]] = []
        append = out.append
        raw_text = self.raw
        subtype_of = _SUBTYPE_INFO.get
        status_text, asset_text = _STATUS_TEXT, _ASSET_TEXT
        currencies = self._currencies
        decimal, instant_text = self._decimal, self._instant
        money = self._money
        exact, plain_date, utc = Decimal, date, UTC
        # a window's rows share a few dozen dates: format each once
        days: dict[date, str] = {}
        day_text = days.get
        try:
            for index, f in enumerate(rows):
                subtype = f.subtype
                info = subtype_of(subtype)
                if info is None or info[0] is not f.transaction_type:
                    raise _subtype_mismatch(f)
                amount = f.amount
                if type(amount) is exact and amount.is_finite():
                    amount_text = str(amount)
                    if "E" in amount_text:  # an exponent: the plain digits instead
                        amount_text = money(amount)
                else:
                    amount_text = money(amount)
                currency = currencies.get(f.currency) or self._currency(f.currency)
                fees = f.fees
                fees_text: str | None = None
                if fees is not None:
                    if type(fees) is exact and fees.is_finite():
                        fees_text = str(fees)
                        if "E" in fees_text:  # an exponent: the plain digits instead
                            fees_text = money(fees)
                    else:
                        fees_text = money(fees)
                quantity = f.quantity
                quantity_text: str | None = None
                if quantity is not None:
                    if type(quantity) is exact and quantity.is_finite():
                        quantity_text = str(quantity)
                        if "E" in quantity_text:  # an exponent: the plain digits instead
                            quantity_text = decimal(quantity)
                    else:
                        quantity_text = decimal(quantity)
                price = f.unit_price
                price_text: str | None = None
                if price is not None:
                    if type(price) is exact and price.is_finite():
                        price_text = str(price)
                        if "E" in price_text:  # an exponent: the plain digits instead
                            price_text = decimal(price)
                    else:
                        price_text = decimal(price)
                day = f.transaction_date
                trade_day = day_text(day)
                if trade_day is None:
                    trade_day = day.isoformat() if type(day) is plain_date else self._day(day)
                    days[day] = trade_day
                settle = f.settlement_date
                settle_text: str | None = None
                if settle is not None:
                    settle_text = day_text(settle)
                    if settle_text is None:
                        if type(settle) is plain_date:
                            settle_text = settle.isoformat()
                        else:
                            settle_text = self._day(settle)
                        days[settle] = settle_text
                posted = f.posted_at
                posted_text: str | None = None
                if posted is not None:
                    if posted.tzinfo is utc:
                        posted_text = posted.isoformat(" ", "microseconds")[:26]
                    else:
                        posted_text = instant_text(posted)
                asset = f.asset_type
                if ids is None:
                    append(
                        (
                            info[1],
                            info[2],
                            status_text[f.status],
                            amount_text,
                            currency,
                            fees_text,
                            f.description,
                            None if asset is None else asset_text[asset],
                            f.symbol,
                            f.security_name,
                            quantity_text,
                            price_text,
                            trade_day,
                            settle_text,
                            posted_text,
                        )
                    )
                    continue
                raw = f.raw
                append(
                    (
                        ids[index],
                        account,
                        f.provider_transaction_id,
                        info[1],
                        info[2],
                        status_text[f.status],
                        amount_text,
                        currency,
                        fees_text,
                        f.description,
                        None if asset is None else asset_text[asset],
                        f.symbol,
                        f.security_name,
                        quantity_text,
                        price_text,
                        trade_day,
                        settle_text,
                        posted_text,
                        None if raw is None else raw_text(raw),
                        now,
                        now,
                    )
                )
        except KeyError as exc:
            raise ValueError(f"not a valid enum value: {exc.args[0]!r}") from None
        return out


def row_to_transaction(row: RowMapping) -> Transaction:
    """A Transaction from a ``transactions`` row."""
    currency = row["currency"]
    asset_type = row["asset_type"]
    return Transaction(
        id=row["id"],
        account_id=row["account_id"],
        provider_transaction_id=row["provider_transaction_id"],
        transaction_type=TransactionType(row["transaction_type"]),
        subtype=TransactionSubtype(row["subtype"]),
        status=TransactionStatus(row["status"]),
        amount=Money(row["amount"], currency),
        fees=money_or_none(row["fees"], currency),
        description=row["description"],
        asset_type=None if asset_type is None else AssetType(asset_type),
        symbol=row["symbol"],
        security_name=row["security_name"],
        quantity=row["quantity"],
        unit_price=row["unit_price"],
        transaction_date=row["transaction_date"],
        settlement_date=row["settlement_date"],
        posted_at=row["posted_at"],
        raw=row["raw"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# ---------------------------------------------------------------- snapshots, runs, secrets


def snapshot_to_row(snapshot: BalanceSnapshot) -> Row:
    """Columns of ``balance_snapshots``: all amounts share the balance's currency."""
    currency = snapshot.balance.currency
    return {
        "id": snapshot.id,
        "account_id": snapshot.account_id,
        "captured_at": snapshot.captured_at,
        "currency": currency,
        "balance": snapshot.balance.amount,
        "cash_value": amount_in(snapshot.cash_value, currency, "cash_value"),
        "holdings_value": amount_in(snapshot.holdings_value, currency, "holdings_value"),
        "source": snapshot.source.value,
        "sync_run_id": snapshot.sync_run_id,
    }


def row_to_snapshot(row: RowMapping) -> BalanceSnapshot:
    """A BalanceSnapshot from a ``balance_snapshots`` row."""
    currency = row["currency"]
    return BalanceSnapshot(
        id=row["id"],
        account_id=row["account_id"],
        captured_at=row["captured_at"],
        balance=Money(row["balance"], currency),
        cash_value=money_or_none(row["cash_value"], currency),
        holdings_value=money_or_none(row["holdings_value"], currency),
        source=SnapshotSource(row["source"]),
        sync_run_id=row["sync_run_id"],
    )


def sync_run_to_row(run: SyncRun) -> Row:
    """Columns of ``sync_runs``."""
    counts = run.counts
    return {
        "id": run.id,
        "connection_id": run.connection_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status.value,
        "accounts_count": counts.accounts,
        "holdings_count": counts.holdings,
        "transactions_inserted": counts.transactions_inserted,
        "transactions_updated": counts.transactions_updated,
        "transactions_unchanged": counts.transactions_unchanged,
        "error_code": None if run.error_code is None else run.error_code.value,
        "error_message": run.error_message,
    }


def row_to_sync_run(row: RowMapping) -> SyncRun:
    """A SyncRun from a ``sync_runs`` row."""
    from dashtam_cli.domain.sync import SyncCounts, SyncRun, SyncStatus

    error_code = row["error_code"]
    return SyncRun(
        id=row["id"],
        connection_id=row["connection_id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=SyncStatus(row["status"]),
        counts=SyncCounts(
            accounts=row["accounts_count"],
            holdings=row["holdings_count"],
            transactions_inserted=row["transactions_inserted"],
            transactions_updated=row["transactions_updated"],
            transactions_unchanged=row["transactions_unchanged"],
        ),
        error_code=None if error_code is None else ErrorCode(error_code),
        error_message=row["error_message"],
    )


def secret_to_row(secret: StoredSecret, now: datetime) -> Row:
    """Columns of ``stored_secrets`` (ciphertext only, never plaintext)."""
    return {
        "name": secret.name,
        "ciphertext": secret.ciphertext,
        "updated_at": secret.updated_at or now,
    }


def row_to_secret(row: RowMapping) -> StoredSecret:
    """A StoredSecret from a ``stored_secrets`` row."""
    from dashtam_cli.domain.protocols import StoredSecret

    return StoredSecret(
        name=row["name"], ciphertext=bytes(row["ciphertext"]), updated_at=row["updated_at"]
    )


def audit_to_row(entry: AuditEntry) -> Row:
    """Columns of ``audit_log`` (``id`` is assigned by the database)."""
    return {
        "event_id": entry.event_id,
        "action": entry.action,
        "outcome": entry.outcome,
        "connection_id": entry.connection_id,
        "account_id": entry.account_id,
        "error_code": entry.error_code,
        "context": dict(entry.context),
        "occurred_at": entry.occurred_at,
    }


def row_to_audit(row: RowMapping) -> AuditEntry:
    """An AuditEntry from an ``audit_log`` row."""
    from dashtam_cli.domain.protocols import AuditEntry

    return AuditEntry(
        id=row["id"],
        event_id=row["event_id"],
        action=row["action"],
        outcome=row["outcome"],
        connection_id=row["connection_id"],
        account_id=row["account_id"],
        error_code=row["error_code"],
        context=row["context"] or {},
        occurred_at=row["occurred_at"],
    )


def row_to_transaction_row(row: RowMapping) -> TransactionRow:
    """A list-view ``TransactionRow`` from the columns the readers select (no raw payload)."""
    currency = row["currency"]
    asset_type = row["asset_type"]
    return TransactionRow(
        id=row["id"],
        account_id=row["account_id"],
        transaction_date=row["transaction_date"],
        settlement_date=row["settlement_date"],
        transaction_type=TransactionType(row["transaction_type"]),
        subtype=TransactionSubtype(row["subtype"]),
        status=TransactionStatus(row["status"]),
        amount=Money(row["amount"], currency),
        fees=money_or_none(row["fees"], currency),
        description=row["description"],
        asset_type=None if asset_type is None else AssetType(asset_type),
        symbol=row["symbol"],
        security_name=row["security_name"],
        quantity=row["quantity"],
        unit_price=row["unit_price"],
    )
