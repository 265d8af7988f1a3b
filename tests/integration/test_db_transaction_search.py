"""The transaction search index: exactly a scan's results, kept current by every write.

SQLite: an FTS5 trigram index drives the ``sqlite3`` reader's text searches; whatever the index
holds, the rows found must be those a ``LIKE`` scan finds (checked against a reference and
against the same reader without the index). PostgreSQL: pg_trgm GIN indexes serve ``ILIKE``.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.application.queries import TransactionCriteria, TransactionRow
from dashtam_cli.domain.accounts import Account
from dashtam_cli.domain.providers import FetchedTransaction
from dashtam_cli.domain.transactions import TransactionStatus, TransactionSubtype, TransactionType
from dashtam_cli.infrastructure.db import migrate, search_index
from dashtam_cli.infrastructure.db.engine import sqlite_path
from dashtam_cli.infrastructure.db.readers import SqlTransactionReader
from dashtam_cli.infrastructure.db.sqlite_export_readers import SqliteExportReader
from dashtam_cli.infrastructure.db.sqlite_readers import (
    SqliteReadConnection,
    SqliteTransactionReader,
)
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.dbtest_support import make_account, make_connection, make_transaction

pytestmark = pytest.mark.db

# Pieces of text that trip substring search: quotes and LIKE's wildcards and escape character,
# upper case, letters outside ASCII (which LIKE compares case-sensitively), CJK, spaces.
_PIECES = [
    "Payroll", "payroll", "PAYROLL", "Coffee", 'Starbucks "Reserve"', "50% off", "a_b", "x/y",
    "Ταβέρνα", "ταβέρνα", "ΟΔΟΣ", "Οδοστρωμα", "寿司 Tokyo", "Straße", "MÜLLER", "Müller",
    "  ", "AAPL", "aapl 240920C",
    "Inc.", "ETF", "zz", "q",
    "\u10d0\u10d1\u10d2\u10d3", "\u1c90\u1c91\u1c92\u1c93",  # Georgian: Mkhedruli, Mtavruli
    "\u13a0\u13a1\u13a2", "\uab70\uab71\uab72",  # Cherokee capitals and small letters
]  # fmt: skip
_ROWS = 240


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_PIECES) for _ in range(words))


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def _like(needle: str, row: TransactionRow) -> bool:
    """What a search matches: a substring in any case (``LIKE``, which folds ASCII letters, for
    an ASCII text; the lowered text of any alphabet otherwise)."""
    fold = _ascii_lower if needle.isascii() else search_index.fold_case
    folded = fold(needle)
    return any(
        value is not None and folded in fold(value)
        for value in (row.description, row.symbol, row.security_name)
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the FTS5 index is read by the ``sqlite3`` reader of a SQLite file."""
    return f"sqlite:///{tmp_path / 'data' / 'dashtam.db'}"


@pytest.fixture
def db_path(db_url: str) -> Path:
    path = sqlite_path(db_url)
    assert path is not None
    return path


@pytest.fixture
async def account(uow_factory: SqlUnitOfWorkFactory) -> Account:
    """One account with :data:`_ROWS` transactions of generated text (fixed seed)."""
    connection = make_connection("main")
    stored = make_account(connection.id, "acct", name="Everyday")
    rng = random.Random(20261126)
    rows = [
        make_transaction(
            stored.id,
            f"T{n}",
            id=UUID(int=rng.getrandbits(128)),
            transaction_date=date(2025, 1, 1) + timedelta(days=n // 3),
            description=_text(rng, rng.randint(1, 4)),
            symbol=rng.choice([None, "AAPL", "NVDA  240920P00055000", "BRK.B"]),
            security_name=rng.choice([None, _text(rng, 2)]),
        )
        for n in range(_ROWS)
    ]
    async with uow_factory() as uow:
        await uow.connections.save(connection)
        await uow.accounts.upsert_many([stored])
        await uow.transactions.upsert_many(rows)
        await uow.commit()
    return stored


@pytest.fixture
def reader(db_path: Path, account: Account) -> Iterator[SqliteTransactionReader]:
    del account
    connection = SqliteReadConnection(db_path)
    try:
        yield SqliteTransactionReader(connection)
    finally:
        connection.close()


async def _everything(reader: SqliteTransactionReader) -> list[TransactionRow]:
    return list(await reader.list_transactions(TransactionCriteria(), limit=10_000))


async def _search(
    reader: SqliteTransactionReader, text: str, *, limit: int = 10_000, **criteria: object
) -> list[UUID]:
    found = await reader.list_transactions(
        TransactionCriteria(search=text, **criteria),  # type: ignore[arg-type]
        limit=limit,
    )
    return [row.id for row in found]


def _state(path: Path) -> tuple[int, int]:
    """``(indexed_through, max(rowid))``, after FTS5's own check that the index holds exactly the
    text of the rows it covers (``rank = 1`` compares it with the content table)."""
    with sqlite3.connect(path) as con:
        con.execute(
            f"INSERT INTO {search_index.SEARCH_TABLE}({search_index.SEARCH_TABLE}, rank) "
            "VALUES ('integrity-check', 1)"
        )
        [(through,)] = con.execute(f"SELECT indexed_through FROM {search_index.STATE_TABLE}")
        [(top,)] = con.execute("SELECT coalesce(max(rowid), 0) FROM transactions")
    con.close()
    return through, top


def _index_matches(path: Path, text: str) -> int:
    expression = search_index.match_expression(text)
    with sqlite3.connect(path) as con:
        [(count,)] = con.execute(
            f"SELECT count(*) FROM {search_index.SEARCH_TABLE} "
            f"WHERE {search_index.SEARCH_TABLE} MATCH ?",
            (expression,),
        )
    con.close()
    return int(count)


_NEEDLES = st.one_of(
    st.sampled_from(_PIECES),
    st.sampled_from(_PIECES).flatmap(
        lambda piece: st.tuples(st.integers(0, len(piece)), st.integers(0, len(piece))).map(
            lambda ends: piece[min(ends) : max(ends)]
        )
    ),
    st.text(alphabet='aAbp"%_/ ΤτΣσςßéÉQz寿\u10d0\u1c90\u13a0\uab70', min_size=1, max_size=6),  # noqa: RUF001
).filter(bool)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(needle=_NEEDLES, small=st.booleans())
async def test_indexed_search_finds_exactly_what_like_finds(
    reader: SqliteTransactionReader,
    needle: str,
    small: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a tiny candidate cap sends common text down the scan path: both paths are checked
    monkeypatch.setattr(search_index, "MAX_CANDIDATES", 3 if small else 50_000)
    everything = await _everything(reader)
    want = [row.id for row in everything if _like(needle, row)]
    assert await _search(reader, needle) == want
    assert await _search(reader, needle, since=date(2025, 2, 1)) == [
        row.id
        for row in everything
        if _like(needle, row) and row.transaction_date >= date(2025, 2, 1)
    ]


async def test_the_sqlalchemy_reader_folds_case_like_the_sqlite3_reader(
    reader: SqliteTransactionReader, engine: AsyncEngine
) -> None:
    slow = SqlTransactionReader(engine)
    needles = ["ταβέρνα", "ΤΑΒΈΡΝΑ", "οδοσ", "ΟΔΟΣ", "müller", "寿司", "payroll", "ß"]
    found = 0
    for needle in needles:
        want = await _search(reader, needle)
        rows = await slow.list_transactions(TransactionCriteria(search=needle), limit=10_000)
        assert [row.id for row in rows] == want, needle
        found += len(want)
    assert found > 50
    assert await _search(reader, "ταβέρνα") == await _search(reader, "Ταβέρνα") != []


async def test_the_reader_uses_the_index_and_agrees_without_it(
    reader: SqliteTransactionReader, db_path: Path
) -> None:
    assert reader._db.has_search_index()
    assert reader._search_expression(TransactionCriteria(search="payroll")) is not None
    assert reader._search_expression(TransactionCriteria(search="pa")) is None  # no trigram
    needles = ["payroll", "Reserve", "50%", "a_b", "x/y", "Ταβέρνα", "寿司", "240920", "zzz"]
    with_index = [await _search(reader, n) for n in needles]
    assert sum(map(len, with_index)) > 100
    with sqlite3.connect(db_path) as con:
        con.execute(f"DROP TABLE {search_index.SEARCH_TABLE}")
    con.close()
    scanning = SqliteTransactionReader(SqliteReadConnection(db_path))
    assert not scanning._db.has_search_index()
    assert [await _search(scanning, n) for n in needles] == with_index


async def _exported(path: Path, criteria: TransactionCriteria) -> list[str]:
    """The ids an export of ``criteria`` writes, in its order (oldest first)."""
    ids: list[str] = []
    async for chunk in SqliteExportReader(path).transactions(criteria, chunk_size=7):
        ids.extend(str(row[0]) for row in chunk)
    return ids


async def test_exports_find_through_the_index_exactly_what_a_scan_finds(
    reader: SqliteTransactionReader, db_path: Path, account: Account
) -> None:
    everything = await _everything(reader)
    cases = [
        TransactionCriteria(search="payroll"),
        TransactionCriteria(search="Reserve", since=date(2025, 2, 1)),
        TransactionCriteria(search="寿司 To", account_ids=(account.id,)),
        TransactionCriteria(search="50%"),
        TransactionCriteria(search="zz"),  # under three characters: a scan
    ]
    indexed = [await _exported(db_path, criteria) for criteria in cases]
    for criteria, ids in zip(cases, indexed, strict=True):
        assert criteria.search is not None
        want = {
            str(row.id)
            for row in everything
            if _like(criteria.search, row)
            and (criteria.since is None or row.transaction_date >= criteria.since)
        }
        assert set(ids) == want, criteria
        assert len(ids) == len(want)
    assert sum(map(len, indexed)) > 60
    with sqlite3.connect(db_path) as con:
        con.execute(f"DROP TABLE {search_index.SEARCH_TABLE}")
    con.close()
    assert [await _exported(db_path, criteria) for criteria in cases] == indexed


async def test_pages_through_the_index_chain_like_one_listing(
    reader: SqliteTransactionReader,
) -> None:
    want = await _search(reader, "coffee")
    assert len(want) > 20
    got: list[UUID] = []
    key: tuple[date, UUID] | None = None
    while True:
        page = await reader.page_transactions(
            TransactionCriteria(search="coffee"), limit=7, older_than=key
        )
        got.extend(row.id for row in page)
        if len(page) < 7:
            break
        key = (page[-1].transaction_date, page[-1].id)
    assert got == want


async def test_every_commit_indexes_its_new_rows(
    uow_factory: SqlUnitOfWorkFactory, account: Account, db_path: Path
) -> None:
    through, top = _state(db_path)
    assert through == top > 0
    async with uow_factory() as uow:
        await uow.transactions.upsert_many(
            [make_transaction(account.id, "NEW-1", description="Kebab House Brighton")]
        )
        await uow.rollback()  # nothing to index
        await uow.transactions.upsert_many(
            [make_transaction(account.id, "NEW-2", description="Kebab House Hove")]
        )
        await uow.commit()
    through, top = _state(db_path)
    assert through == top
    assert _index_matches(db_path, "Kebab House") == 1
    assert _index_matches(db_path, "Brighton") == 0


async def test_changed_text_moves_in_the_index(
    uow_factory: SqlUnitOfWorkFactory,
    account: Account,
    reader: SqliteTransactionReader,
    db_path: Path,
) -> None:
    async with uow_factory() as uow:
        await uow.transactions.upsert_many(
            [make_transaction(account.id, "T7", description="Pending: Lidl Leeds", symbol=None)]
        )
        await uow.commit()
    assert await _search(reader, "Lidl Leeds") != []
    async with uow_factory() as uow:
        await uow.transactions.upsert_many(
            [make_transaction(account.id, "T7", description="Aldi York", symbol=None)]
        )
        await uow.commit()
    assert await _search(reader, "Lidl Leeds") == []
    assert len(await _search(reader, "Aldi York")) == 1
    assert _index_matches(db_path, "Lidl Leeds") == 0
    _state(db_path)  # the index still matches its content table


async def test_rows_the_index_does_not_cover_yet_are_still_found(
    reader: SqliteTransactionReader, db_path: Path, account: Account
) -> None:
    # a row written behind the writer's back (an older program, a crash between commits)
    with sqlite3.connect(db_path) as con:
        columns = [row[1] for row in con.execute("PRAGMA table_info(transactions)")]
        row = dict(
            zip(columns, con.execute("SELECT * FROM transactions LIMIT 1").fetchone(), strict=True)
        )
        row.update(id=UUID(int=7).hex, provider_transaction_id="RAW", description="Oyster top-up")
        marks = ", ".join("?" * len(columns))
        con.execute(f"INSERT INTO transactions VALUES ({marks})", [row[c] for c in columns])
        deleted = con.execute(
            "SELECT id FROM transactions WHERE description LIKE '%coffee%' LIMIT 1"
        ).fetchone()[0]
        con.execute("DELETE FROM transactions WHERE id = ?", (deleted,))
    con.close()
    assert await _search(reader, "oyster top") == [UUID(int=7)]
    assert UUID(hex=deleted) not in await _search(reader, "coffee")
    del account


async def test_vacuum_keeps_the_index_true(reader: SqliteTransactionReader, db_path: Path) -> None:
    before = await _search(reader, "payroll")
    with sqlite3.connect(db_path) as con:
        con.execute("DELETE FROM transactions WHERE rowid % 5 = 0")
        con.commit()
        con.execute("VACUUM")
    con.close()
    _state(db_path)
    left = await _everything(reader)
    for needle in ("payroll", "Reserve", "寿司 To", "Inc."):
        assert await _search(reader, needle) == [r.id for r in left if _like(needle, r)]
    after = await _search(reader, "payroll")
    assert after
    assert set(after) < set(before)


async def test_a_new_row_taking_a_deleted_rows_place_is_indexed(
    uow_factory: SqlUnitOfWorkFactory,
    account: Account,
    reader: SqliteTransactionReader,
    db_path: Path,
) -> None:
    # without an INTEGER PRIMARY KEY the next row gets max(rowid) + 1: a deleted top row's rowid
    with sqlite3.connect(db_path) as con:
        [(top,)] = con.execute("SELECT max(rowid) FROM transactions")
        con.execute("DELETE FROM transactions WHERE rowid >= ?", (top - 2,))
    con.close()
    async with uow_factory() as uow:
        await uow.transactions.upsert_many(
            [make_transaction(account.id, "AFTER-DELETE", description="Kebab House Hove")]
        )
        await uow.commit()
    assert len(await _search(reader, "kebab house")) == 1
    through, newest = _state(db_path)
    assert through == newest == top - 2
    async with uow_factory() as uow:  # a later change of its text moves it in the index
        await uow.transactions.upsert_many(
            [make_transaction(account.id, "AFTER-DELETE", description="Falafel Bar")]
        )
        await uow.commit()
    assert await _search(reader, "kebab house") == []
    assert len(await _search(reader, "falafel")) == 1
    _state(db_path)


async def test_a_nul_in_the_search_text_is_no_error(
    reader: SqliteTransactionReader, db_path: Path
) -> None:
    scanning = SqliteTransactionReader(SqliteReadConnection(db_path))
    scanning._db._searchable = False  # the same reader without the index
    for needle in ("cof\x00fee", "\x00\x00\x00", "Payroll\x00"):
        assert await _search(reader, needle) == await _search(scanning, needle)


async def test_upgrading_a_database_with_rows_builds_the_index(
    engine: AsyncEngine, account: Account, db_path: Path
) -> None:
    del account
    await migrate.downgrade(engine, "0001")
    with sqlite3.connect(db_path) as con:
        names = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
    con.close()
    assert not {n for n in names if search_index.is_search_object(n)}
    assert await migrate.upgrade(engine) == migrate.head_revision()
    through, top = _state(db_path)
    assert through == top > 0
    assert _index_matches(db_path, "payroll") > 0


async def test_a_sqlite_that_cannot_read_the_index_scans_and_still_syncs(
    uow_factory: SqlUnitOfWorkFactory, account: Account, db_path: Path, engine: AsyncEngine
) -> None:
    # as an older SQLite library (no trigram tokenizer) sees a database made by a newer one
    with sqlite3.connect(db_path) as con:
        con.execute("PRAGMA writable_schema = ON")
        con.execute(
            "UPDATE sqlite_master SET sql = replace(sql, 'trigram', 'no_such_tokenizer') "
            "WHERE name = ?",
            (search_index.SEARCH_TABLE,),
        )
    con.close()
    await engine.dispose()  # new connections read the changed schema
    new = FetchedTransaction(
        provider_transaction_id="OLD-LIB",
        transaction_type=TransactionType.TRADE,
        subtype=TransactionSubtype.BUY,
        status=TransactionStatus.SETTLED,
        amount=Decimal("-12.50"),
        currency="USD",
        transaction_date=date(2025, 6, 1),
        description="Kebab House Hove",
    )
    async with uow_factory() as uow:  # a sync inserts its new rows with a plain INSERT
        counts = await uow.transactions.upsert_fetched(account.id, [new])
        await uow.commit()  # the catch-up is skipped, not a failed commit
    assert counts.inserted == 1
    scanning = SqliteTransactionReader(SqliteReadConnection(db_path))
    assert not scanning._db.has_search_index()
    assert len(await _search(scanning, "kebab house")) == 1
    assert len(await _search(scanning, "payroll")) > 0
