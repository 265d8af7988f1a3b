"""The sync's write path: ``upsert_fetched`` (provider rows -> transactions), on both backends.

It must count and store exactly what upserting the equivalent domain entities would, compare rows
in their stored form (a status or an amount's scale is a change), make ids only for new rows, and
skip the lookup of existing rows for an account that has none.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.application.handlers.sync_records import to_transaction
from dashtam_cli.domain.errors import ErrorCode
from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.protocols import UpsertCounts
from dashtam_cli.domain.providers import FetchedTransaction
from dashtam_cli.domain.transactions import (
    Transaction,
    TransactionStatus,
    TransactionSubtype,
    TransactionType,
)
from dashtam_cli.infrastructure.db import repositories, upserts
from dashtam_cli.infrastructure.db.repositories import SqlTransactionRepository
from dashtam_cli.infrastructure.db.schema import transactions
from dashtam_cli.infrastructure.db.unit_of_work import (
    DatabaseUnavailableError,
    SqlUnitOfWork,
    SqlUnitOfWorkFactory,
)
from tests.integration.dbtest_support import count_rows, make_holding, seed_account

pytestmark = pytest.mark.db

POSTED = datetime(2025, 1, 10, 15, 30, 1, 250000, tzinfo=UTC)


def fetched(key: str = "T-1", **changes: Any) -> FetchedTransaction:
    """A settled equity buy as a provider reports it."""
    fields: dict[str, Any] = {
        "provider_transaction_id": key,
        "transaction_type": TransactionType.TRADE,
        "subtype": TransactionSubtype.BUY,
        "status": TransactionStatus.SETTLED,
        "amount": Decimal("-1500.25"),
        "currency": "USD",
        "transaction_date": date(2025, 1, 10),
        "description": f"Buy {key}",
        "asset_type": AssetType.EQUITY,
        "symbol": "AAPL",
        "security_name": "Apple Inc.",
        "quantity": Decimal("10"),
        "unit_price": Decimal("150.025"),
        "fees": Decimal("0.00"),
        "settlement_date": date(2025, 1, 13),
        "posted_at": POSTED,
    }
    fields.update(changes)
    return FetchedTransaction(**fields)


# every shape a provider row can take: NULLs, ints, other zones, lower-case currency, payloads
VARIED = [
    fetched("plain"),
    fetched(
        "nulls",
        transaction_type=TransactionType.FEE,
        subtype=TransactionSubtype.ACCOUNT_FEE,
        asset_type=None,
        symbol=None,
        security_name=None,
        quantity=None,
        unit_price=None,
        fees=None,
        settlement_date=None,
        posted_at=None,
        description="",
    ),
    fetched("ints", amount=Decimal(-3), quantity=7, unit_price=Decimal("1E+2"), fees=0),
    fetched("zone", posted_at=datetime(2025, 1, 10, 9, 0, tzinfo=timezone(timedelta(hours=-5)))),
    fetched("currency", currency="usd"),
    fetched(
        "text",
        description='Dividend "ACME", Inc. — café ☕\nline two',
        raw={"netAmount": Decimal("12.3400"), "legs": [{"id": 1}]},
    ),
    fetched("scale", amount=Decimal("-1500.2500"), quantity=Decimal("10.000")),
    fetched("negative-zero", amount=Decimal("-0.00"), fees=Decimal("0E-8")),
    fetched("tiny", amount=Decimal("0.00000001"), quantity=Decimal("1E-12")),
]


def entity_view(txn: Transaction) -> Transaction:
    """A transaction without what storage assigns (id, timestamps)."""
    return replace(txn, id=UUID(int=0), created_at=None, updated_at=None)


async def stored(uow: SqlUnitOfWork, account_id: UUID) -> dict[str, Transaction]:
    rows = await SqlTransactionRepository(uow.connection).list_for_account(account_id)
    return {t.provider_transaction_id: t for t in rows}


async def test_stores_exactly_what_the_equivalent_entities_would(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        via_rows = await seed_account(uow, alias="rows")
        via_entities = await seed_account(uow, alias="entities")
        counts = await uow.transactions.upsert_fetched(via_rows.id, VARIED)
        await uow.transactions.upsert_many([to_transaction(via_entities.id, f) for f in VARIED])
        await uow.commit()
        # what a new row stores is what an existing row is compared with: nothing changed
        again = await uow.transactions.upsert_fetched(via_rows.id, VARIED)
        got = await stored(uow, via_rows.id)
        expected = await stored(uow, via_entities.id)
    assert counts == UpsertCounts(inserted=len(VARIED))
    assert again == UpsertCounts(unchanged=len(VARIED))
    assert sorted(got) == sorted(expected)
    for key, txn in got.items():
        assert entity_view(txn) == entity_view(replace(expected[key], account_id=via_rows.id))
        # scale survives (not just the value)
        assert str(txn.amount.amount) == str(expected[key].amount.amount)
    assert got["currency"].amount.currency == "USD"
    assert got["zone"].posted_at == datetime(2025, 1, 10, 14, 0, tzinfo=UTC)
    assert got["text"].raw == {"netAmount": Decimal("12.3400"), "legs": [{"id": 1}]}


# The text fast path exists for SQLite only: this test runs on SQLite alone.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_sqlite_fast_path_writes_the_same_text_as_the_column_types(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, backend: str
) -> None:
    """Byte for byte: the fast path's text equals what SQLAlchemy's bind processors write."""
    assert backend == "sqlite"
    async with uow_factory() as uow:
        fast = await seed_account(uow, alias="fast")
        slow = await seed_account(uow, alias="slow")
        await uow.transactions.upsert_fetched(fast.id, VARIED)
        await uow.transactions.upsert_many([to_transaction(slow.id, f) for f in VARIED])
        await uow.commit()
    path = Path(engine.url.database or "")
    skip = {"id", "account_id", "created_at", "updated_at"}
    columns = [c.name for c in transactions.columns if c.name not in skip]
    with sqlite3.connect(path) as raw:
        query = (
            f"SELECT {', '.join(columns)} FROM transactions "
            "WHERE account_id = ? ORDER BY provider_transaction_id"
        )
        fast_rows = raw.execute(query, (fast.id.hex,)).fetchall()
        slow_rows = raw.execute(query, (slow.id.hex,)).fetchall()
        types = raw.execute(
            "SELECT DISTINCT typeof(amount), typeof(posted_at), typeof(transaction_date) "
            "FROM transactions WHERE account_id = ? AND posted_at IS NOT NULL",
            (fast.id.hex,),
        ).fetchall()
    raw.close()
    assert fast_rows == slow_rows
    assert types == [("text", "text", "text")]
    # decimals are stored in plain notation (0E-8 as 0.00000000), never with an exponent
    by_key = {row[columns.index("provider_transaction_id")]: row for row in fast_rows}
    assert by_key["tiny"][columns.index("amount")] == "0.00000001"
    assert by_key["tiny"][columns.index("quantity")] == "0.000000000001"
    assert by_key["negative-zero"][columns.index("fees")] == "0.00000000"
    assert by_key["ints"][columns.index("unit_price")] == "100"
    decimals = [columns.index(name) for name in ("amount", "fees", "quantity", "unit_price")]
    assert not [row[i] for row in fast_rows for i in decimals if "E" in (row[i] or "")]


async def test_a_status_or_scale_change_is_an_update_and_an_identical_row_is_not(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        first = [
            fetched("pending", status=TransactionStatus.PENDING),
            fetched("scale", amount=Decimal("-10.5")),
            fetched("same"),
            fetched("payload", raw={"v": 1}),
        ]
        assert await uow.transactions.upsert_fetched(account.id, first) == UpsertCounts(inserted=4)
        await uow.commit()
        before = await stored(uow, account.id)
        second = [
            fetched("pending", status=TransactionStatus.SETTLED),
            fetched("scale", amount=Decimal("-10.50")),  # equal value, new scale
            fetched("same"),
            fetched("payload", raw={"v": 2}),  # payloads are not compared
            fetched("new"),
        ]
        counts = await uow.transactions.upsert_fetched(account.id, second)
        await uow.commit()
        after = await stored(uow, account.id)
    assert counts == UpsertCounts(inserted=1, updated=2, unchanged=2)
    assert after["pending"].status is TransactionStatus.SETTLED
    assert str(after["scale"].amount.amount) == "-10.50"
    assert after["payload"].raw == {"v": 1}  # an unchanged row is not rewritten
    for key in ("pending", "scale", "same"):  # an update keeps the row's identity
        assert after[key].id == before[key].id
        assert after[key].created_at == before[key].created_at


async def test_repeated_keys_count_once_and_the_last_wins(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        rows = [
            fetched("D", status=TransactionStatus.PENDING),
            fetched("E"),
            fetched("D", status=TransactionStatus.SETTLED),
        ]
        counts = await uow.transactions.upsert_fetched(account.id, rows)
        await uow.commit()
        got = await stored(uow, account.id)
    assert counts == UpsertCounts(inserted=2)
    assert got["D"].status is TransactionStatus.SETTLED


async def test_counts_stay_exact_across_batches(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    total, batch_size = 1_050, 100
    async with uow_factory() as uow:
        repository = SqlTransactionRepository(uow.connection, batch_size=batch_size)
        account = await seed_account(uow)
        rows = [fetched(f"B-{i:06d}") for i in range(total)]
        assert await repository.upsert_fetched(account.id, rows) == UpsertCounts(inserted=total)
        await uow.commit()
        changed = [
            replace(f, description="corrected") if i % 7 == 0 else f for i, f in enumerate(rows)
        ]
        extra = [fetched(f"X-{i}") for i in range(30)]
        counts = await repository.upsert_fetched(account.id, [*changed, *extra])
        await uow.commit()
    updated = len(range(0, total, 7))
    assert counts == UpsertCounts(inserted=30, updated=updated, unchanged=total - updated)
    assert await count_rows(engine, transactions) == total + 30


async def test_new_rows_get_fresh_random_ids(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        await uow.transactions.upsert_fetched(account.id, [fetched(f"I-{i}") for i in range(300)])
        await uow.commit()
        ids = [t.id for t in (await stored(uow, account.id)).values()]
    assert len(set(ids)) == 300
    assert {i.version for i in ids} == {4}


async def test_an_account_without_rows_skips_the_lookup(
    uow_factory: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[int] = []
    original = upserts.ExistingRows.fetch

    async def counted(self: upserts.ExistingRows, scope: Any, keys: Any) -> Any:
        lookups.append(len(keys))
        return await original(self, scope, keys)

    monkeypatch.setattr(upserts.ExistingRows, "fetch", counted)
    async with uow_factory() as uow:
        account = await seed_account(uow)
        repository = SqlTransactionRepository(uow.connection, batch_size=10)
        first = await repository.upsert_fetched(account.id, [fetched(f"A-{i}") for i in range(25)])
        fresh_lookups = len(lookups)
        second = await repository.upsert_fetched(
            account.id, [fetched(f"A-{i}") for i in range(20, 30)]
        )
        await uow.commit()
    assert first == UpsertCounts(inserted=25)
    assert second == UpsertCounts(inserted=5, unchanged=5)
    assert fresh_lookups == 0  # no stored rows: nothing to look up, in any batch
    assert lookups[fresh_lookups:] == [10]  # rows stored now: the lookup runs


async def test_an_account_emptied_behind_the_cache_still_counts_exactly(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """The "has rows" memory may go stale: it only costs a lookup, never a wrong count."""
    async with uow_factory() as uow:
        account = await seed_account(uow)
        await uow.commit()
        await uow.transactions.upsert_fetched(account.id, [fetched("K")])
        # rolled back: the account has no rows, though the process saw it get one
    async with uow_factory() as uow:
        counts = await uow.transactions.upsert_fetched(account.id, [fetched("K"), fetched("L")])
        await uow.commit()
    assert counts == UpsertCounts(inserted=2)
    assert await count_rows(engine, transactions) == 2


async def test_writes_are_committed_or_rolled_back_with_the_unit_of_work(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.transactions.upsert_fetched(account.id, [fetched("gone")])
    assert await count_rows(engine, transactions) == 0
    async with uow_factory() as uow:
        await uow.transactions.upsert_fetched(account.id, [fetched("kept")])
        await uow.commit()
        await uow.transactions.upsert_fetched(account.id, [fetched("after commit")])
        await uow.commit()
    assert await count_rows(engine, transactions) == 2


@pytest.mark.parametrize(
    ("row", "error", "match"),
    [
        (fetched(amount=1.5), TypeError, "float"),
        (fetched(fees=0.1), TypeError, "float"),
        (fetched(quantity=2.0), TypeError, "float"),
        (fetched(amount=Decimal("NaN")), ValueError, "finite"),
        (fetched(currency="US"), ValueError, "currency"),
        (fetched(subtype=TransactionSubtype.DIVIDEND), ValueError, "does not belong"),
        (fetched(posted_at=datetime(2025, 1, 10, 12)), ValueError, "naive"),
    ],
)
async def test_invalid_rows_are_refused_like_the_entity_refuses_them(
    uow_factory: SqlUnitOfWorkFactory, row: FetchedTransaction, error: type[Exception], match: str
) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        with pytest.raises(error, match=match):
            await uow.transactions.upsert_fetched(account.id, [fetched("ok"), row])


async def test_a_driver_error_surfaces_as_a_database_error(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async def orphan() -> None:
        async with uow_factory() as uow:
            # no such account: the foreign key refuses the row
            await uow.transactions.upsert_fetched(uuid4(), [fetched("orphan")])
            await uow.commit()

    with pytest.raises(DatabaseUnavailableError) as caught:
        await orphan()
    assert caught.value.error.code is ErrorCode.DATABASE_ERROR


async def test_the_known_accounts_memory_is_per_engine(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        await uow.transactions.upsert_fetched(account.id, [fetched("M")])
        await uow.commit()
        engine = uow.connection.sync_engine
    assert account.id in repositories._ACCOUNTS_WITH_ROWS.get(engine, set())


async def test_keys_around_and_between_stored_keys_count_exactly(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """The lookup's key-range shortcut never hides a stored key (text and non-ASCII keys)."""
    async with uow_factory() as uow:
        account = await seed_account(uow)
        first = [fetched(k) for k in ("B", "é", "m-10", "m-9")]
        assert await uow.transactions.upsert_fetched(account.id, first) == UpsertCounts(inserted=4)
        await uow.commit()
        # a range that brackets stored keys without naming them, then one naming them
        around = await uow.transactions.upsert_fetched(
            account.id, [fetched(k) for k in ("A", "C", "z", "ü", "m-1")]
        )
        named = await uow.transactions.upsert_fetched(
            account.id, [fetched(k) for k in ("0", "B", "é", "m-9", "m-10", "😀")]
        )
        below = await uow.transactions.upsert_fetched(account.id, [fetched("+1"), fetched("+2")])
        await uow.commit()
    assert around == UpsertCounts(inserted=5)
    assert named == UpsertCounts(inserted=2, unchanged=4)
    assert below == UpsertCounts(inserted=2)


async def test_holdings_compare_in_stored_form_too(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        first = await uow.holdings.upsert_many([make_holding(account.id, quantity=Decimal("10"))])
        rescaled = await uow.holdings.upsert_many(
            [make_holding(account.id, quantity=Decimal("10.0"))]
        )
        same = await uow.holdings.upsert_many([make_holding(account.id, quantity=Decimal("10.0"))])
        await uow.commit()
        (stored_holding,) = await uow.holdings.list_for_account(account.id)
    assert first == UpsertCounts(inserted=1)
    assert rescaled == UpsertCounts(updated=1)
    assert same == UpsertCounts(unchanged=1)
    assert str(stored_holding.quantity) == "10.0"


async def test_a_repeated_row_is_validated_even_when_a_later_one_replaces_it(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        with pytest.raises(TypeError, match="float"):
            await uow.transactions.upsert_fetched(
                account.id, [fetched("D", amount=1.5), fetched("D")]
            )


async def test_a_dense_or_sparse_batch_of_keys_counts_exactly(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Dense keys are read as a range (with neighbours not asked for), sparse ones probed."""
    async with uow_factory() as uow:
        account = await seed_account(uow)
        stored_keys = [f"k-{i:03d}" for i in range(100)]
        await uow.transactions.upsert_fetched(account.id, [fetched(k) for k in stored_keys])
        await uow.commit()
        dense = await uow.transactions.upsert_fetched(
            account.id,
            [
                fetched("k-010"),
                fetched("k-012", status=TransactionStatus.PENDING),
                fetched("k-0105"),
            ],
        )
        sparse = await uow.transactions.upsert_fetched(
            account.id, [fetched("k-000"), fetched("k-099", description="moved"), fetched("k-1")]
        )
        await uow.commit()
        got = await stored(uow, account.id)
    assert dense == UpsertCounts(inserted=1, updated=1, unchanged=1)
    assert sparse == UpsertCounts(inserted=1, updated=1, unchanged=1)
    assert got["k-012"].status is TransactionStatus.PENDING
    assert got["k-099"].description == "moved"
    assert len(got) == 102
