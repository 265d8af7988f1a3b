"""Keyset pages of transactions (the dashboard's reader method) on SQLite and PostgreSQL.

Chained pages must equal one long newest-first listing: no row skipped or repeated, ties on a
date broken by id, every filter shape (one account, several, none; a text scan) covered. The
``sqlite3`` readers are compared with these in ``test_db_sqlite_pages.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, timedelta
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.application.dashboard import TransactionPageReader
from dashtam_cli.application.queries import TransactionCriteria, TransactionRow
from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.transactions import TransactionSubtype, TransactionType
from dashtam_cli.infrastructure.db.readers import SqlTransactionReader
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.dbtest_support import make_account, make_connection, make_transaction

pytestmark = pytest.mark.db

_KINDS = [
    (TransactionType.TRADE, TransactionSubtype.BUY),
    (TransactionType.INCOME, TransactionSubtype.DIVIDEND),
    (TransactionType.TRANSFER, TransactionSubtype.DEPOSIT),
]


@pytest.fixture
async def accounts(uow_factory: SqlUnitOfWorkFactory) -> list[Account]:
    """Three accounts, 120 rows: many on the same day (ties), ids in no particular order."""
    connection = make_connection("main")
    stored = [make_account(connection.id, key, name=f"Account {key}") for key in "abc"]
    rows = []
    for n in range(120):
        kind, subtype = _KINDS[n % 3]
        rows.append(
            make_transaction(
                stored[(n * 7) % 3].id,
                f"T{n}",
                id=UUID(int=(n * 7919) % 1_000_003 + 1),  # scattered, not in date order
                transaction_type=kind,
                subtype=subtype,
                transaction_date=date(2025, 1, 1) + timedelta(days=n // 9),
                amount=Money.of(f"{n}.25"),
                description=f"{'Payroll' if n % 4 == 0 else 'Coffee'} #{n}",
                symbol="AAPL" if n % 5 == 0 else None,
            )
        )
    async with uow_factory() as uow:
        await uow.connections.save(connection)
        await uow.accounts.upsert_many(stored)
        await uow.transactions.upsert_many(rows)
        await uow.commit()
    return stored


def cases(accounts: Sequence[Account]) -> list[TransactionCriteria]:
    a, b, c = (account.id for account in accounts)
    return [
        TransactionCriteria(),
        TransactionCriteria(account_ids=(a,)),
        TransactionCriteria(account_ids=(a, c)),  # one index walk per account, merged
        TransactionCriteria(account_ids=(a, b, c), since=date(2025, 1, 4)),
        TransactionCriteria(account_ids=()),
        TransactionCriteria(since=date(2025, 1, 3), until=date(2025, 1, 9)),
        TransactionCriteria(transaction_type=TransactionType.INCOME),
        TransactionCriteria(subtype=TransactionSubtype.BUY, account_ids=(b,)),
        TransactionCriteria(symbol="aapl"),
        TransactionCriteria(search="payroll"),  # a scan on SQLite
        TransactionCriteria(search="coffee", account_ids=(c,)),
    ]


async def chained(
    reader: TransactionPageReader, criteria: TransactionCriteria, limit: int
) -> list[TransactionRow]:
    """Every page, following the key of each page's last row."""
    rows: list[TransactionRow] = []
    key: tuple[date, UUID] | None = None
    for _ in range(500):
        page = list(await reader.page_transactions(criteria, limit=limit, older_than=key))
        assert len(page) <= limit
        rows.extend(page)
        if len(page) < limit:
            return rows
        key = (page[-1].transaction_date, page[-1].id)
    raise AssertionError("pages never ended")


async def test_chained_pages_equal_one_newest_first_listing(
    engine: AsyncEngine, accounts: list[Account]
) -> None:
    reader = SqlTransactionReader(engine)
    non_empty = 0
    for criteria, limit in itertools.product(cases(accounts), [1, 7, 50]):
        want = await reader.list_transactions(criteria, limit=1_000)
        got = await chained(reader, criteria, limit)
        assert [row.id for row in got] == [row.id for row in want], (criteria, limit)
        assert got == want
        non_empty += bool(want)
    assert non_empty >= 25
    ties = await reader.list_transactions(TransactionCriteria(), limit=1_000)
    same_day = [r for r in ties if r.transaction_date == date(2025, 1, 1)]
    assert len(same_day) == 9
    assert [r.id for r in same_day] == sorted((r.id for r in same_day), reverse=True)


async def test_a_key_in_the_middle_of_a_day_continues_after_it(
    engine: AsyncEngine, accounts: list[Account]
) -> None:
    reader = SqlTransactionReader(engine)
    everything = await reader.list_transactions(TransactionCriteria(), limit=1_000)
    pivot = everything[4]  # the fifth row of the newest day
    after = await reader.page_transactions(
        TransactionCriteria(), limit=3, older_than=(pivot.transaction_date, pivot.id)
    )
    assert [r.id for r in after] == [r.id for r in everything[5:8]]
