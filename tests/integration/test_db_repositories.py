"""Repositories: set-based upserts with exact counts, stable ids, deactivation, lookups."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.domain.connections import ConnectionStatus
from dashtam_cli.domain.errors import ErrorCode, Success
from dashtam_cli.domain.holdings import BalanceSnapshot, SnapshotSource
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.protocols import StoredSecret, UpsertCounts
from dashtam_cli.domain.sync import SyncCounts, SyncRun, SyncStatus
from dashtam_cli.domain.transactions import TransactionStatus
from dashtam_cli.infrastructure.db.repositories import (
    SqlBalanceSnapshotRepository,
    SqlTransactionRepository,
)
from dashtam_cli.infrastructure.db.schema import accounts, transactions
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from dashtam_cli.infrastructure.db.upserts import BATCH_SIZE
from tests.integration.dbtest_support import (
    NOW,
    count_rows,
    make_account,
    make_connection,
    make_holding,
    make_transaction,
    seed_account,
)

pytestmark = pytest.mark.db


async def test_upserting_the_same_transactions_twice_inserts_then_leaves_unchanged(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        batch = [make_transaction(account.id, f"T-{i}") for i in range(25)]
        first = await uow.transactions.upsert_many(batch)
        await uow.commit()
        again = [replace(txn, id=make_transaction(account.id).id) for txn in batch]
        second = await uow.transactions.upsert_many(again)
        await uow.commit()
    assert first == UpsertCounts(inserted=25, updated=0, unchanged=0)
    assert second == UpsertCounts(inserted=0, updated=0, unchanged=25)
    assert await count_rows(engine, transactions) == 25


async def test_pending_to_settled_and_corrections_count_as_updates(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        pending = make_transaction(account.id, "P", status=TransactionStatus.PENDING)
        corrected = make_transaction(account.id, "C", amount=Money.of("-10.00"))
        same = make_transaction(account.id, "S")
        await uow.transactions.upsert_many([pending, corrected, same])
        await uow.commit()

        settled = replace(
            pending, status=TransactionStatus.SETTLED, id=make_transaction(account.id).id
        )
        fixed = replace(corrected, amount=Money.of("-10.01"))
        new = make_transaction(account.id, "N")
        counts = await uow.transactions.upsert_many([settled, fixed, same, new])
        await uow.commit()

        stored_pending = await uow.transactions.get(pending.id)
        stored_fixed = await uow.transactions.get(corrected.id)
    assert counts == UpsertCounts(inserted=1, updated=2, unchanged=1)
    # the stored row keeps its id: the re-synced entity's fresh id is ignored
    assert stored_pending is not None
    assert stored_pending.status is TransactionStatus.SETTLED
    assert stored_fixed is not None
    assert stored_fixed.amount == Money.of("-10.01")
    assert await count_rows(engine, transactions) == 4


async def test_a_key_repeated_within_one_call_counts_once(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        older = make_transaction(account.id, "D", status=TransactionStatus.PENDING)
        newer = make_transaction(account.id, "D", status=TransactionStatus.SETTLED)
        counts = await uow.transactions.upsert_many([older, newer])
        await uow.commit()
        (stored,) = await SqlTransactionRepository(uow.connection).list_for_account(account.id)
    assert counts == UpsertCounts(inserted=1)
    assert stored.status is TransactionStatus.SETTLED


async def test_counts_stay_exact_across_batches(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    total, batch_size = 1_050, 100
    async with uow_factory() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        repository = SqlTransactionRepository(uow.connection, batch_size=batch_size)
        account = await seed_account(uow)
        rows = [make_transaction(account.id, f"B-{i:06d}") for i in range(total)]
        first = await repository.upsert_many(rows)
        await uow.commit()
        changed = [
            replace(txn, description="corrected") if i % 7 == 0 else txn
            for i, txn in enumerate(rows)
        ]
        second = await repository.upsert_many(changed)
        await uow.commit()
    assert first == UpsertCounts(inserted=total)
    updated = len(range(0, total, 7))
    assert second == UpsertCounts(updated=updated, unchanged=total - updated)
    assert await count_rows(engine, transactions) == total


async def test_a_page_the_size_of_a_real_batch_is_counted_exactly(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    total = BATCH_SIZE + 3
    async with uow_factory() as uow:
        account = await seed_account(uow)
        rows = [make_transaction(account.id, f"R-{i:06d}") for i in range(total)]
        counts = await uow.transactions.upsert_many(rows)
        await uow.commit()
    assert counts == UpsertCounts(inserted=total)
    assert await count_rows(engine, transactions) == total


async def test_latest_date_is_the_sync_cursor(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        assert await uow.transactions.latest_date(account.id) is None
        days = [date(2024, 12, 30) + timedelta(days=i) for i in range(5)]
        await uow.transactions.upsert_many(
            [make_transaction(account.id, f"D{i}", transaction_date=d) for i, d in enumerate(days)]
        )
        assert await uow.transactions.latest_date(account.id) == date(2025, 1, 3)


async def test_fees_in_another_currency_are_refused(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        bad = make_transaction(account.id, fees=Money.of("1.00", "EUR"))
        with pytest.raises(ValueError, match="fees in EUR"):
            await uow.transactions.upsert_many([bad])


async def test_account_upsert_keeps_the_stored_id_and_updates_fields(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        connection = make_connection()
        await uow.connections.save(connection)
        first = [make_account(connection.id, "A"), make_account(connection.id, "B")]
        ids = await uow.accounts.upsert_many(first)
        await uow.commit()
        # the provider returns the same accounts again: fresh entities, fresh ids, new balance
        again = [
            make_account(connection.id, "A", balance=Money.of("2000.50")),
            make_account(connection.id, "B"),
            make_account(connection.id, "C"),
        ]
        ids_again = await uow.accounts.upsert_many(again)
        await uow.commit()
        stored_a = await uow.accounts.get(ids["A"])
    assert ids == {"A": first[0].id, "B": first[1].id}
    assert ids_again == {"A": first[0].id, "B": first[1].id, "C": again[2].id}
    assert stored_a is not None
    assert stored_a.balance == Money.of("2000.50")
    assert await count_rows(engine, accounts) == 3


async def test_deactivate_missing_accounts_and_holdings(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        connection = make_connection()
        await uow.connections.save(connection)
        ids = await uow.accounts.upsert_many(
            [make_account(connection.id, key) for key in ("A", "B", "C")]
        )
        gone = await uow.accounts.deactivate_missing(connection.id, ["A"])
        again = await uow.accounts.deactivate_missing(connection.id, ["A"])
        listed = {
            a.provider_account_id: a.is_active
            for a in await uow.accounts.list_for_connection(connection.id)
        }

        account_id = ids["A"]
        await uow.holdings.upsert_many([make_holding(account_id, s) for s in ("AAPL", "MSFT")])
        sold = await uow.holdings.deactivate_missing(account_id, ["MSFT"])
        all_sold = await uow.holdings.deactivate_missing(account_id, [])
        holdings = await uow.holdings.list_for_account(account_id)
    assert (gone, again) == (2, 0)
    assert listed == {"A": True, "B": False, "C": False}
    assert (sold, all_sold) == (1, 1)
    assert [h.is_active for h in holdings] == [False, False]


async def test_holding_upsert_counts_and_reactivates(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        first = await uow.holdings.upsert_many(
            [make_holding(account.id, "AAPL"), make_holding(account.id, "MSFT")]
        )
        await uow.holdings.deactivate_missing(account.id, ["AAPL"])
        second = await uow.holdings.upsert_many(
            [
                make_holding(account.id, "AAPL"),
                make_holding(account.id, "MSFT"),  # reported again: active again
                make_holding(account.id, "TSLA", quantity=Decimal("-5")),
            ]
        )
        third = await uow.holdings.upsert_many(
            [make_holding(account.id, "AAPL", quantity=Decimal("10.5"))]
        )
        by_symbol = {h.symbol: h for h in await uow.holdings.list_for_account(account.id)}
    assert first == UpsertCounts(inserted=2)
    assert second == UpsertCounts(inserted=1, updated=1, unchanged=1)
    assert third == UpsertCounts(updated=1)
    assert by_symbol["MSFT"].is_active
    assert by_symbol["TSLA"].quantity == Decimal("-5")
    assert by_symbol["AAPL"].quantity == Decimal("10.5")


async def test_connections_save_get_list(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        main = make_connection("main")
        old = make_connection("old", created_at=NOW - timedelta(days=1))
        await uow.connections.save(main)
        await uow.connections.save(old)
        gone = old.disconnect(now=NOW)
        assert isinstance(gone, Success)
        await uow.connections.save(gone.value)
        # an update keeps the stored created_at even if the entity forgot it
        await uow.connections.save(replace(main, created_at=None, last_sync_status="succeeded"))
        await uow.commit()
        everything = await uow.connections.list()
        live = await uow.connections.list(include_disconnected=False)
        stored_main = await uow.connections.get(main.id)
        stored_old = await uow.connections.get(old.id)
    assert [c.alias for c in everything] == ["old", "main"]
    assert [c.alias for c in live] == ["main"]
    assert stored_main is not None
    assert stored_main.created_at == NOW
    assert stored_main.last_sync_status == "succeeded"
    assert stored_old is not None
    assert stored_old.status is ConnectionStatus.DISCONNECTED
    assert stored_old.credentials is None


async def test_sync_runs_and_snapshots(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        account = await seed_account(uow)
        earlier = SyncRun(connection_id=account.connection_id, started_at=NOW - timedelta(hours=1))
        run = SyncRun(connection_id=account.connection_id, started_at=NOW)
        await uow.sync_runs.save(earlier)
        await uow.sync_runs.save(run)
        finished = run.finish(
            status=SyncStatus.PARTIAL,
            at=NOW + timedelta(minutes=2),
            counts=SyncCounts(
                accounts=1,
                holdings=2,
                transactions_inserted=3,
                transactions_updated=4,
                transactions_unchanged=5,
            ),
            error_code=ErrorCode.PROVIDER_UNAVAILABLE,
            error_message="one account failed",
        )
        await uow.sync_runs.save(finished)
        snapshot = BalanceSnapshot(
            account_id=account.id,
            captured_at=NOW,
            balance=Money.of("10.50"),
            source=SnapshotSource.MANUAL,
            sync_run_id=run.id,
        )
        await uow.balances.add(snapshot)
        await uow.commit()
        latest = await uow.sync_runs.latest(account.connection_id)
        assert isinstance(uow, SqlUnitOfWork)
        snapshots = await SqlBalanceSnapshotRepository(uow.connection).list_for_account(account.id)
    assert latest == finished
    assert snapshots == [snapshot]


async def test_secrets_put_get_list_delete(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.secrets.put(StoredSecret(name="b", ciphertext=b"one", updated_at=NOW))
        await uow.secrets.put(StoredSecret(name="a", ciphertext=b"two"))
        await uow.secrets.put(StoredSecret(name="b", ciphertext=b"three", updated_at=NOW))
        await uow.commit()
        listed = await uow.secrets.list()
        await uow.secrets.delete("a")
        await uow.secrets.delete("never-stored")
        missing = await uow.secrets.get("a")
        kept = await uow.secrets.get("b")
    assert [(s.name, s.ciphertext) for s in listed] == [("a", b"two"), ("b", b"three")]
    assert missing is None
    assert kept == StoredSecret(name="b", ciphertext=b"three", updated_at=NOW)
