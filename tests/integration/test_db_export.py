"""``dashtam export`` on SQLite AND PostgreSQL: exact values, filters, streaming, atomic files.

The real handler, reader and sink run against a migrated database seeded through the
repositories; only the destination is a string buffer or a temporary directory.
"""

from __future__ import annotations

import csv
import io
import json
import stat
import tracemalloc
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.application.commands import ExportAccounts, ExportHoldings, ExportTransactions
from dashtam_cli.application.handlers.exports import ExportHandler, ExportReport
from dashtam_cli.application.ports import (
    ACCOUNT_EXPORT,
    HOLDING_EXPORT,
    TRANSACTION_EXPORT,
    ExportChunk,
    ExportLayout,
    ExportReader,
)
from dashtam_cli.application.queries import TransactionCriteria, TransactionFilter
from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.domain.events import ExportAttempted, ExportFailed, ExportSucceeded
from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.transactions import TransactionSubtype, TransactionType
from dashtam_cli.infrastructure.db.export_readers import SqlExportReader, schema_kind
from dashtam_cli.infrastructure.db.readers import SqlAccountReader, SqlConnectionReader
from dashtam_cli.infrastructure.db.schema import metadata
from dashtam_cli.infrastructure.db.sqlite_export_readers import (
    EXPORT_KINDS,
    SqliteExportReader,
    instant_text,
    uuid_text,
)
from dashtam_cli.infrastructure.db.unit_of_work import (
    DatabaseUnavailableError,
    SqlUnitOfWorkFactory,
)
from dashtam_cli.presentation.cli.export import (
    AtomicFileTarget,
    ExportFormat,
    ExportTarget,
    StreamExportSink,
    StreamTarget,
)
from tests.fakes import RecordingEventSink
from tests.integration.dbtest_support import (
    EXACT_VALUES,
    NOW,
    make_account,
    make_connection,
    make_holding,
    make_transaction,
)

pytestmark = pytest.mark.db

BRK = UUID("abcd1111-0000-4000-8000-000000000001")
CHK = UUID("abcd2222-0000-4000-8000-000000000002")
OLD = UUID("abcd3333-0000-4000-8000-000000000003")
CARD = UUID("5150aaaa-0000-4000-8000-000000000004")
POSTED = datetime(2025, 1, 10, 14, 30, tzinfo=UTC)  # whole seconds: isoformat drops .000000

TRICKY = [
    "Café ☕ — naïve façade, 日本語",
    "Sell MSFT, partial",
    'Dividend "qualified"',
    "line one\nline two",
    "windows\r\nline",
    ' leading space, "quoted", trailing ',
    "=SUM(A1:A2)",
    "",
]


# ------------------------------------------------------------------------------- seeding


async def _seed(uow_factory: SqlUnitOfWorkFactory) -> dict[str, Any]:
    """Two connections, four accounts (one inactive), holdings and tricky transactions."""
    main = make_connection("main")
    cards = make_connection("cards", provider="demo")
    accounts = [
        make_account(
            main.id, "brk", id=BRK, name="Brokerage", balance=Money.of("12345678901.2345")
        ),
        make_account(
            main.id,
            "chk",
            id=CHK,
            name="Checking",
            account_type=AccountType.CHECKING,
            balance=Money.of("0.00000001"),
            available_balance=Money.of("-0.0001"),
        ),
        make_account(main.id, "old", id=OLD, name="Old", is_active=False),
        make_account(
            cards.id,
            "card",
            id=CARD,
            name="Visa",
            account_type=AccountType.CREDIT_CARD,
            balance=Money.of("0.1"),
        ),
    ]
    tt, st = TransactionType, TransactionSubtype
    txns = [
        make_transaction(
            BRK,
            f"exact-{i}",
            amount=Money.of(str(value)),
            fees=Money.of("0.00000001") if i == 0 else None,
            quantity=value,
            unit_price=value,
            description=TRICKY[i % len(TRICKY)],
            transaction_date=date(2025, 1, 1 + i),
            posted_at=POSTED if i == 0 else NOW,
        )
        for i, value in enumerate(EXACT_VALUES)
    ]
    txns += [
        make_transaction(
            CHK,
            f"tricky-{i}",
            transaction_type=tt.INCOME,
            subtype=st.DIVIDEND,
            amount=Money.of("1.50"),
            description=text,
            symbol="VTI" if i % 2 else None,
            security_name="Vanguard Total Stock Market ETF" if i % 2 else None,
            quantity=None,
            unit_price=None,
            transaction_date=date(2025, 2, 1 + i),
            settlement_date=date(2025, 2, 3 + i),
        )
        for i, text in enumerate(TRICKY)
    ]
    txns.append(
        make_transaction(
            CARD,
            "coffee",
            transaction_type=tt.TRANSFER,
            subtype=st.WITHDRAWAL,
            amount=Money.of("-4.20"),
            description="Coffee 100% arabica_beans",
            symbol=None,
            quantity=None,
            unit_price=None,
            transaction_date=date(2025, 3, 1),
        )
    )
    holdings = [
        make_holding(
            BRK,
            "AAPL",
            quantity=Decimal("0.00000001"),
            average_price=Decimal("12345678901.2345"),
            cost_basis=Money.of("0.1"),
            market_value=Money.of("-0.0001"),
            current_price=Decimal("1234.5600"),
            security_name='Apple, Inc. "Common"',
        ),
        make_holding(BRK, "MSFT", asset_type=AssetType.EQUITY, quantity=Decimal("-5")),
        make_holding(CHK, "VMFXX", asset_type=AssetType.CASH_EQUIVALENT),
        make_holding(BRK, "GONE", is_active=False),
    ]
    async with uow_factory() as uow:
        await uow.connections.save(main)
        await uow.connections.save(cards)
        await uow.accounts.upsert_many(accounts)
        await uow.transactions.upsert_many(txns)
        await uow.holdings.upsert_many(holdings)
        await uow.commit()
    return {"main": main, "cards": cards, "transactions": txns, "holdings": holdings}


@pytest.fixture
async def seeded(uow_factory: SqlUnitOfWorkFactory) -> dict[str, Any]:
    return await _seed(uow_factory)


def _reader(engine: AsyncEngine) -> ExportReader:
    """The reader the composition root picks: sqlite3 for a SQLite file, else SQLAlchemy."""
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        return SqliteExportReader(Path(engine.url.database))
    return SqlExportReader(engine)


def _handler(
    engine: AsyncEngine,
    events: RecordingEventSink,
    chunk_size: int = 3,
    *,
    exports: ExportReader | None = None,
) -> ExportHandler:
    return ExportHandler(
        exports=exports or _reader(engine),
        accounts=SqlAccountReader(engine),
        connections=SqlConnectionReader(engine),
        events=events,
        chunk_size=chunk_size,
    )


async def _export_text(
    engine: AsyncEngine,
    fmt: ExportFormat,
    build: Any,
    *,
    events: RecordingEventSink | None = None,
    exports: ExportReader | None = None,
) -> tuple[Result[ExportReport], str]:
    buffer = io.StringIO(newline="")
    sink = StreamExportSink(fmt, StreamTarget(buffer))
    handler = _handler(engine, events or RecordingEventSink(), exports=exports)
    result = await handler.handle(build(sink))
    return result, buffer.getvalue()


def _csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _value(result: Result[ExportReport]) -> ExportReport:
    assert isinstance(result, Success), result
    return result.value


def _error(result: Result[ExportReport]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


# --------------------------------------------------------------------------- exact values


async def test_csv_round_trips_exact_decimals_text_ids_and_dates(
    engine: AsyncEngine, seeded: dict[str, Any]
) -> None:
    result, text = await _export_text(
        engine,
        ExportFormat.CSV,
        lambda sink: ExportTransactions(sink=sink, filters=TransactionFilter(account_ref=str(BRK))),
    )
    assert _value(result).rows == len(EXACT_VALUES)
    assert text.startswith(",".join(TRANSACTION_EXPORT.fields) + "\r\n")
    header, rows = _csv_rows(text)
    assert header == list(TRANSACTION_EXPORT.fields)
    expected = {t.provider_transaction_id: t for t in seeded["transactions"]}
    assert [r["provider_transaction_id"] for r in rows] == [
        f"exact-{i}" for i in range(len(EXACT_VALUES))
    ]  # oldest first
    for row in rows:
        txn = expected[row["provider_transaction_id"]]
        for name, value in (
            ("amount", txn.amount.amount),
            ("quantity", txn.quantity),
            ("unit_price", txn.unit_price),
        ):
            assert value is not None
            got = Decimal(row[name])
            # exact value and scale, in plain notation (never 1E-8) on both backends
            assert got == value
            assert got.as_tuple().exponent == value.as_tuple().exponent
            assert row[name] == format(value, "f")
        assert row["id"] == str(txn.id)
        assert row["account_id"] == str(BRK)
        assert row["currency"] == "USD"
        assert row["description"] == txn.description
        assert row["transaction_date"] == txn.transaction_date.isoformat()
        assert row["settlement_date"] == ""
        assert txn.posted_at is not None
        assert row["posted_at"] == txn.posted_at.isoformat()
        created = datetime.fromisoformat(row["created_at"])
        assert created.tzinfo is not None
        assert created.utcoffset() == UTC.utcoffset(None)
    first = rows[0]
    assert first["fees"] == "0.00000001"
    assert Decimal(first["fees"]) == Decimal("0.00000001")
    assert first["posted_at"] == "2025-01-10T14:30:00+00:00"
    assert rows[1]["fees"] == ""


async def test_unicode_commas_quotes_and_newlines_survive(
    engine: AsyncEngine, seeded: dict[str, Any]
) -> None:
    result, text = await _export_text(
        engine,
        ExportFormat.CSV,
        lambda sink: ExportTransactions(
            sink=sink, filters=TransactionFilter(account_ref="abcd2222")
        ),
    )
    assert _value(result).rows == len(TRICKY)
    _, rows = _csv_rows(text)
    assert [r["description"] for r in rows] == TRICKY
    assert '"Dividend ""qualified"""' in text  # RFC 4180: quotes doubled inside quotes
    assert [r["symbol"] for r in rows] == ["", "VTI"] * (len(TRICKY) // 2)
    assert rows[0]["settlement_date"] == "2025-02-03"


async def test_json_equals_csv_row_by_row(engine: AsyncEngine, seeded: dict[str, Any]) -> None:
    builders: list[tuple[ExportLayout, Any]] = [
        (TRANSACTION_EXPORT, lambda sink: ExportTransactions(sink=sink)),
        (ACCOUNT_EXPORT, lambda sink: ExportAccounts(sink=sink, include_inactive=True)),
        (HOLDING_EXPORT, lambda sink: ExportHoldings(sink=sink)),
    ]
    for layout, build in builders:
        csv_result, csv_text = await _export_text(engine, ExportFormat.CSV, build)
        json_result, json_text = await _export_text(engine, ExportFormat.JSON, build)
        assert _value(csv_result).rows == _value(json_result).rows
        document = json.loads(json_text)
        _, rows = _csv_rows(csv_text)
        assert isinstance(document, list)
        assert len(document) == len(rows) == _value(csv_result).rows > 0
        for obj, row in zip(document, rows, strict=True):
            assert list(obj) == list(layout.fields) == list(row)
            for name, value in obj.items():
                if name in layout.boolean_fields:
                    assert isinstance(value, bool)
                    assert row[name] == ("true" if value else "false")
                else:
                    # money, ids and dates are JSON strings, never numbers
                    assert value is None or isinstance(value, str), (name, value)
                    assert row[name] == ("" if value is None else value)


async def test_empty_exports_are_a_header_or_an_empty_array(engine: AsyncEngine) -> None:
    csv_result, csv_text = await _export_text(
        engine, ExportFormat.CSV, lambda sink: ExportTransactions(sink=sink)
    )
    json_result, json_text = await _export_text(
        engine, ExportFormat.JSON, lambda sink: ExportHoldings(sink=sink)
    )
    assert _value(csv_result).rows == 0 == _value(json_result).rows
    assert csv_text == ",".join(TRANSACTION_EXPORT.fields) + "\r\n"
    assert json.loads(json_text) == []


# ------------------------------------------------------------------------------- filters


async def _exported_keys(engine: AsyncEngine, filters: TransactionFilter) -> list[str]:
    result, text = await _export_text(
        engine, ExportFormat.CSV, lambda sink: ExportTransactions(sink=sink, filters=filters)
    )
    _value(result)
    return [r["provider_transaction_id"] for r in _csv_rows(text)[1]]


async def test_transaction_filters_match_the_list_criteria(
    engine: AsyncEngine, seeded: dict[str, Any]
) -> None:
    everything = seeded["transactions"]
    cases = [
        TransactionFilter(),
        TransactionFilter(connection_ref="cards"),
        TransactionFilter(connection_ref="main", since=date(2025, 1, 3), until=date(2025, 2, 2)),
        TransactionFilter(transaction_type="income"),
        TransactionFilter(transaction_type="WITHDRAWAL"),
        TransactionFilter(symbol="vti"),
        TransactionFilter(search="ARABICA_"),  # case-insensitive
        TransactionFilter(search="100%"),
        TransactionFilter(search="vanguard", account_ref="abcd2222"),
    ]
    account_of = {BRK: "main", CHK: "main", OLD: "main", CARD: "cards"}
    for filters in cases:
        criteria = TransactionCriteria(
            since=filters.since,
            until=filters.until,
            transaction_type=TransactionType(filters.transaction_type)
            if filters.transaction_type == "income"
            else None,
            subtype=TransactionSubtype.WITHDRAWAL
            if filters.transaction_type == "WITHDRAWAL"
            else None,
            symbol=filters.symbol.upper() if filters.symbol else None,
            search=filters.search,
            account_ids=(CHK,) if filters.account_ref else None,
        )
        expected = sorted(
            (t for t in everything if criteria.matches(t)),
            key=lambda t: (t.transaction_date, str(t.id)),
        )
        if filters.connection_ref is not None:
            expected = [t for t in expected if account_of[t.account_id] == filters.connection_ref]
        got = await _exported_keys(engine, filters)
        assert got == [t.provider_transaction_id for t in expected], filters
        assert got, filters  # every case selects something
    # "%" and "_" in a search are literal characters, not LIKE wildcards
    assert await _exported_keys(engine, TransactionFilter(search="10_%")) == []
    assert await _exported_keys(engine, TransactionFilter(search="0%")) == ["coffee"]


async def test_accounts_export_filters_and_never_holds_account_keys(
    engine: AsyncEngine, seeded: dict[str, Any]
) -> None:
    _, active = await _export_text(engine, ExportFormat.CSV, lambda s: ExportAccounts(sink=s))
    _, every = await _export_text(
        engine, ExportFormat.CSV, lambda s: ExportAccounts(sink=s, include_inactive=True)
    )
    _, cards = await _export_text(
        engine, ExportFormat.CSV, lambda s: ExportAccounts(sink=s, connection_ref="cards")
    )
    header, active_rows = _csv_rows(active)
    assert [r["name"] for r in active_rows] == ["Brokerage", "Checking", "Visa"]
    assert [r["name"] for r in _csv_rows(every)[1]] == ["Brokerage", "Checking", "Old", "Visa"]
    assert [r["id"] for r in _csv_rows(cards)[1]] == [str(CARD)]
    assert "provider_account_id" not in header
    assert "raw" not in header
    assert "brk" not in active  # the provider's account key is not exported
    by_name = {r["name"]: r for r in active_rows}
    assert by_name["Brokerage"]["balance"] == "12345678901.2345"
    assert by_name["Checking"]["balance"] == "0.00000001"
    assert by_name["Checking"]["available_balance"] == "-0.0001"
    assert by_name["Checking"]["cash_balance"] == ""
    assert by_name["Visa"]["account_number_masked"] == "****1234"
    assert {r["is_active"] for r in _csv_rows(every)[1]} == {"true", "false"}


async def test_holdings_export_filters_by_account_and_skips_closed_positions(
    engine: AsyncEngine, seeded: dict[str, Any]
) -> None:
    _, every = await _export_text(engine, ExportFormat.CSV, lambda s: ExportHoldings(sink=s))
    _, one = await _export_text(
        engine, ExportFormat.JSON, lambda s: ExportHoldings(sink=s, account_ref=str(BRK)[:8])
    )
    # by account (BRK sorts before CHK), then symbol; the closed GONE position is left out
    assert [r["symbol"] for r in _csv_rows(every)[1]] == ["AAPL", "MSFT", "VMFXX"]
    document = json.loads(one)
    assert [h["symbol"] for h in document] == ["AAPL", "MSFT"]
    aapl = document[0]
    assert aapl["quantity"] == "0.00000001"
    assert aapl["average_price"] == "12345678901.2345"
    assert aapl["cost_basis"] == "0.1"
    assert aapl["market_value"] == "-0.0001"
    assert aapl["current_price"] == "1234.5600"
    assert aapl["security_name"] == 'Apple, Inc. "Common"'
    assert aapl["is_active"] is True
    assert document[1]["quantity"] == "-5"


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda s: ExportHoldings(sink=s, account_ref="ffffffff"), ErrorCode.NOT_FOUND),
        (lambda s: ExportHoldings(sink=s, account_ref="abcd"), ErrorCode.AMBIGUOUS_ID),
        (lambda s: ExportAccounts(sink=s, connection_ref="nope"), ErrorCode.NOT_FOUND),
        (
            lambda s: ExportTransactions(sink=s, filters=TransactionFilter(account_ref="0000ffff")),
            ErrorCode.NOT_FOUND,
        ),
        (
            lambda s: ExportTransactions(sink=s, filters=TransactionFilter(transaction_type="x")),
            ErrorCode.INVALID_ARGUMENT,
        ),
        (
            lambda s: ExportTransactions(
                sink=s, filters=TransactionFilter(since=date(2025, 2, 1), until=date(2025, 1, 1))
            ),
            ErrorCode.INVALID_ARGUMENT,
        ),
    ],
)
async def test_bad_references_and_filters_fail_audited_and_write_nothing(
    engine: AsyncEngine, seeded: dict[str, Any], tmp_path: Path, build: Any, code: ErrorCode
) -> None:
    events = RecordingEventSink()
    target = AtomicFileTarget(tmp_path / "out.csv")
    sink = StreamExportSink(ExportFormat.CSV, target)
    result = await _handler(engine, events).handle(build(sink))
    assert _error(result).code is code
    assert events.names == ["ExportAttempted", "ExportFailed"]
    assert events.of_type(ExportFailed)[0].error_code is code
    assert _listing(tmp_path) == []


# ----------------------------------------------------------------------- events and audit


async def test_events_carry_kind_format_destination_and_rows(
    engine: AsyncEngine, seeded: dict[str, Any], tmp_path: Path
) -> None:
    events = RecordingEventSink()
    path = tmp_path / "accounts.json"
    sink = StreamExportSink(ExportFormat.JSON, AtomicFileTarget(path))
    report = _value(
        await _handler(engine, events).handle(
            ExportAccounts(sink=sink, connection_ref="main", include_inactive=True)
        )
    )
    assert report == ExportReport(kind="accounts", format="json", destination=str(path), rows=3)
    assert events.names == ["ExportAttempted", "ExportSucceeded"]
    attempted = events.of_type(ExportAttempted)[0]
    succeeded = events.of_type(ExportSucceeded)[0]
    assert attempted.context == {"kind": "accounts", "format": "json", "destination": str(path)}
    assert succeeded.context == {**attempted.context, "rows": 3}
    assert succeeded.connection_id == seeded["main"].id


# ---------------------------------------------------------------------------- streaming


class _CountingSink:
    """An ExportSink that keeps nothing: it counts rows and remembers the biggest chunk."""

    format = "csv"
    destination = "nowhere"

    def __init__(self) -> None:
        self.rows = 0
        self.chunks = 0
        self.largest = 0
        self.finished = False

    def open(self, layout: ExportLayout) -> Result[None]:
        return Success(value=None)

    def write(self, rows: ExportChunk) -> Result[None]:
        self.rows += len(rows)
        self.chunks += 1
        self.largest = max(self.largest, len(rows))
        return Success(value=None)

    def finish(self) -> Result[None]:
        self.finished = True
        return Success(value=None)

    def abort(self) -> None:
        raise AssertionError("a successful export must not abort")


@pytest.mark.slow
async def test_a_big_export_streams_in_chunks_with_flat_memory(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    total, chunk = 50_000, 1_000
    async with uow_factory() as uow:
        connection = make_connection("main")
        await uow.connections.save(connection)
        await uow.accounts.upsert_many([make_account(connection.id, "brk", id=BRK)])
        batch = [
            make_transaction(
                BRK,
                f"T-{i:06d}",
                description=f"row {i} " + "x" * 60,
                transaction_date=date(2020, 1, 1 + i % 28),
            )
            for i in range(total)
        ]
        await uow.transactions.upsert_many(batch)
        await uow.commit()
    del batch

    # the reader is a generator of bounded chunks, not a list
    stream = _reader(engine).transactions(TransactionCriteria(), chunk_size=chunk)
    assert isinstance(stream, AsyncGenerator)
    first = await anext(stream)
    assert len(first) == chunk
    await stream.aclose()

    sink = _CountingSink()
    tracemalloc.start()
    try:
        result = await _handler(engine, RecordingEventSink(), chunk_size=chunk).handle(
            ExportTransactions(sink=sink)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _value(result).rows == total == sink.rows
    assert sink.chunks == total // chunk
    assert sink.largest == chunk
    assert sink.finished
    # 50,000 rows of 20 values hold ~40 MB once materialised; a few chunks are well under 8 MB
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# --------------------------------------------------------------------------- atomic files


async def test_file_export_is_private_and_complete(
    engine: AsyncEngine, seeded: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "transactions.csv"
    path.write_text("old content")
    path.chmod(0o644)
    sink = StreamExportSink(ExportFormat.CSV, AtomicFileTarget(path))
    report = _value(
        await _handler(engine, RecordingEventSink()).handle(ExportTransactions(sink=sink))
    )
    assert report.rows == len(seeded["transactions"])
    assert _mode(path) == 0o600
    assert _listing(tmp_path) == ["transactions.csv"]  # no temporary file left
    _, rows = _csv_rows(path.read_bytes().decode("utf-8"))
    assert len(rows) == report.rows
    sink.abort()  # after success: a no-op
    assert path.exists()


class _FailingReader:
    """Yields one chunk of the real export, then fails like a lost database connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._real = _reader(engine)
        self.closed = False

    async def transactions(
        self, criteria: TransactionCriteria, *, chunk_size: int
    ) -> AsyncGenerator[ExportChunk]:
        try:
            async for chunk in self._real.transactions(criteria, chunk_size=chunk_size):
                yield chunk
                raise DatabaseUnavailableError(
                    DomainError(code=ErrorCode.DATABASE_ERROR, message="connection lost")
                )
        finally:
            self.closed = True

    def accounts(self, **_: Any) -> AsyncGenerator[ExportChunk]:
        raise NotImplementedError

    def holdings(self, **_: Any) -> AsyncGenerator[ExportChunk]:
        raise NotImplementedError


async def test_a_failure_mid_export_leaves_no_partial_file_and_keeps_the_old_one(
    engine: AsyncEngine, seeded: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "transactions.json"
    path.write_text("previous export")
    events = RecordingEventSink()
    reader = _FailingReader(engine)
    handler = ExportHandler(
        exports=reader,
        accounts=SqlAccountReader(engine),
        connections=SqlConnectionReader(engine),
        events=events,
        chunk_size=2,
    )
    sink = StreamExportSink(ExportFormat.JSON, AtomicFileTarget(path))
    with pytest.raises(DatabaseUnavailableError):
        await handler.handle(ExportTransactions(sink=sink))
    assert reader.closed
    assert path.read_text() == "previous export"
    assert _listing(tmp_path) == ["transactions.json"]
    assert events.names == ["ExportAttempted", "ExportFailed"]
    assert events.of_type(ExportFailed)[0].error_code is ErrorCode.DATABASE_ERROR


class _DiskFullTarget:
    """A file target whose stream fails (ENOSPC) after the first write."""

    def __init__(self, path: Path) -> None:
        self._file = AtomicFileTarget(path)

    @property
    def name(self) -> str:
        return self._file.name

    def open(self) -> Any:
        stream = self._file.open()
        writes = 0

        class Full:
            def write(self, text: str) -> int:
                nonlocal writes
                writes += 1
                if writes > 2:
                    raise OSError(28, "No space left on device")
                return stream.write(text)

            def flush(self) -> None:
                stream.flush()

        return Full()

    def commit(self) -> None:
        self._file.commit()

    def discard(self) -> None:
        self._file.discard()


async def test_a_write_failure_is_an_error_value_and_leaves_no_file(
    engine: AsyncEngine, seeded: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "out.csv"
    target: ExportTarget = _DiskFullTarget(path)
    events = RecordingEventSink()
    sink = StreamExportSink(ExportFormat.CSV, target)
    result = await _handler(engine, events, chunk_size=1).handle(ExportTransactions(sink=sink))
    error = _error(result)
    assert error.code is ErrorCode.OUTPUT_FAILED
    assert "No space left on device" in error.message
    assert _listing(tmp_path) == []
    assert events.names == ["ExportAttempted", "ExportFailed"]


async def test_an_unwritable_destination_is_a_usage_error(
    engine: AsyncEngine, seeded: dict[str, Any], tmp_path: Path
) -> None:
    for destination in (tmp_path / "missing" / "out.csv", tmp_path):
        sink = StreamExportSink(ExportFormat.CSV, AtomicFileTarget(destination))
        result = await _handler(engine, RecordingEventSink()).handle(ExportAccounts(sink=sink))
        error = _error(result)
        assert error.code is ErrorCode.INVALID_ARGUMENT
        assert str(destination) in error.message
        assert error.hint is not None
        assert "--output -" in error.hint
    assert _listing(tmp_path) == []


# ------------------------------------------------------------------ stored-form conversions


def test_stored_forms_convert_like_the_python_types() -> None:
    value = UUID("3f2a0000-1111-4222-8333-444455556666")
    assert uuid_text(value.hex) == str(value)
    with_micro = datetime(2025, 1, 15, 12, 30, 45, 123456, tzinfo=UTC)
    whole = datetime(2025, 1, 15, 12, 30, 45, tzinfo=UTC)
    for instant in (with_micro, whole):
        stored = instant.replace(tzinfo=None).isoformat(" ", "microseconds")
        assert instant_text(stored) == instant.isoformat()
    assert instant_text("2025-01-15 12:30:45") == whole.isoformat()
    # an unexpected shape falls back to parsing (with an offset: converted to UTC)
    assert instant_text("2025-01-15T13:30:45+01:00") == whole.isoformat()


def test_layout_fields_are_unique_and_boolean_fields_belong() -> None:
    layouts: Sequence[ExportLayout] = (TRANSACTION_EXPORT, ACCOUNT_EXPORT, HOLDING_EXPORT)
    for layout in layouts:
        assert len(set(layout.fields)) == len(layout.fields)
        assert layout.boolean_fields <= set(layout.fields)
        assert "raw" not in layout.fields
    assert "provider_account_id" not in ACCOUNT_EXPORT.fields


def test_export_column_kinds_match_the_schema() -> None:
    for table_name, kinds in EXPORT_KINDS.items():
        table = metadata.tables[table_name]
        assert {name: schema_kind(table.c[name]) for name in kinds} == kinds


# The stdlib reader exists for SQLite files only: this parity test runs on SQLite alone.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_both_readers_write_the_same_rows_on_sqlite(
    engine: AsyncEngine, seeded: dict[str, Any], backend: str
) -> None:
    assert backend == "sqlite"
    builders = [
        lambda sink: ExportTransactions(sink=sink),
        lambda sink: ExportAccounts(sink=sink, include_inactive=True),
        lambda sink: ExportHoldings(sink=sink),
    ]
    for build in builders:
        _, fast = await _export_text(engine, ExportFormat.JSON, build)
        _, core = await _export_text(
            engine, ExportFormat.JSON, build, exports=SqlExportReader(engine)
        )
        assert fast == core
        assert json.loads(fast)
