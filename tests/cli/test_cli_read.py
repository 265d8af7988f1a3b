"""The read commands end to end: providers, accounts, transactions, holdings, balances.

The database is seeded through the real repositories, in process, on the same SQLite file the
`dashtam` subprocess then reads. Tests that change data work on a private copy of it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import pty
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.connections import CredentialKind, ProviderCredentials
from dashtam_cli.domain.holdings import BalanceSnapshot
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.transactions import Transaction, TransactionSubtype, TransactionType
from dashtam_cli.infrastructure.db.engine import create_engine
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from tests.clitools import Dashtam, Run
from tests.integration.dbtest_support import (
    make_account,
    make_connection,
    make_holding,
    make_transaction,
)

MAIN = UUID("c0ffee01-0000-4000-8000-000000000001")
CARDS = UUID("c0ffee02-0000-4000-8000-000000000002")
BRK = UUID("abcd1111-0000-4000-8000-000000000001")
CHK = UUID("abcd2222-0000-4000-8000-000000000002")
VISA = UUID("5150aaaa-0000-4000-8000-000000000003")
EUR = UUID("e0e0e0e0-0000-4000-8000-000000000004")
OLD = UUID("0dd00000-0000-4000-8000-000000000005")
DIV1 = UUID("d1d10000-0000-4000-8000-000000000001")
DIV2 = UUID("d2d20000-0000-4000-8000-000000000002")
BUY = UUID("beef0001-0000-4000-8000-000000000003")
SELL = UUID("beef0002-0000-4000-8000-000000000004")
DEPOSIT = UUID("de900000-0000-4000-8000-000000000005")
FEE = UUID("fee00000-0000-4000-8000-000000000006")
COFFEE = UUID("cafe0000-0000-4000-8000-000000000007")
INTEREST = UUID("1e700000-0000-4000-8000-000000000008")

LISTS = [
    ["providers", "list"],
    ["accounts", "list"],
    ["transactions", "list"],
    ["holdings", "list"],
    ["balances", "history"],
]
MOVING = "refresh_seconds_left"
MONEY_FIELDS = {
    "balance",
    "available_balance",
    "cash_balance",
    "net_worth_contribution",
    "amount",
    "fees",
    "market_value",
    "cost_basis",
    "unrealized_gain",
    "net_worth",
    "assets",
    "liabilities",
}


async def _seed(url: str) -> None:
    now = datetime.now(UTC)
    tt, st = TransactionType, TransactionSubtype
    credentials = ProviderCredentials(
        ciphertext=b"sealed-token-bytes",
        kind=CredentialKind.OAUTH2,
        access_expires_at=now + timedelta(minutes=30),
        refresh_expires_at=now + timedelta(days=5),
    )
    main = make_connection("main", id=MAIN, credentials=credentials, created_at=now)
    cards = make_connection(
        "cards",
        id=CARDS,
        provider="demo",
        credentials=credentials,
        created_at=now + timedelta(seconds=1),
    )
    accounts = [
        make_account(MAIN, "brk", id=BRK, name="Brokerage", balance=Money.of("1000.10")),
        make_account(
            MAIN,
            "chk",
            id=CHK,
            name="Checking",
            account_type=AccountType.CHECKING,
            balance=Money.of("0.20"),
        ),
        make_account(
            CARDS,
            "visa",
            id=VISA,
            name="Visa",
            account_type=AccountType.CREDIT_CARD,
            balance=Money.of("500.00"),
        ),
        make_account(
            CARDS,
            "eur",
            id=EUR,
            name="Euro savings",
            account_type=AccountType.SAVINGS,
            currency="EUR",
            balance=Money.of("100.00", "EUR"),
        ),
        make_account(MAIN, "old", id=OLD, name="Old", balance=Money.of("999.00"), is_active=False),
    ]

    def txn(
        account: UUID, key: UUID, day: date, kind: tuple[Any, Any], amount: Money, **kw: Any
    ) -> Transaction:
        return make_transaction(
            account,
            key.hex,
            id=key,
            transaction_date=day,
            transaction_type=kind[0],
            subtype=kind[1],
            amount=amount,
            **{"symbol": None, "quantity": None, "unit_price": None, **kw},
        )

    dividend = (tt.INCOME, st.DIVIDEND)
    transactions = [
        txn(
            CHK,
            DIV1,
            date(2025, 1, 5),
            dividend,
            Money.of("0.1"),
            description="Dividend VTI",
            symbol="VTI",
        ),
        txn(
            CHK,
            DIV2,
            date(2025, 2, 5),
            dividend,
            Money.of("0.2"),
            description="Dividend VTI",
            symbol="VTI",
        ),
        txn(
            BRK,
            BUY,
            date(2025, 1, 10),
            (tt.TRADE, st.BUY),
            Money.of("-1500.25"),
            description="Buy AAPL",
            symbol="AAPL",
            quantity=Decimal("10"),
            unit_price=Decimal("150.025"),
        ),
        txn(
            BRK,
            SELL,
            date(2025, 3, 1),
            (tt.TRADE, st.SELL),
            Money.of("320.00"),
            description="Sell MSFT [lot 2]",
            symbol="MSFT",
            security_name="Microsoft Corp",
            quantity=Decimal("-5"),
        ),
        txn(
            BRK,
            DEPOSIT,
            date(2024, 12, 20),
            (tt.TRANSFER, st.DEPOSIT),
            Money.of("5000.00"),
            description="[ACH] deposit PAYROLL, 100%",
        ),
        txn(
            BRK,
            FEE,
            date(2025, 2, 15),
            (tt.FEE, st.COMMISSION),
            Money.of("-4.95"),
            description="Commission",
            fees=Money.of("4.95"),
        ),
        txn(
            VISA,
            COFFEE,
            date(2025, 2, 20),
            (tt.TRANSFER, st.WITHDRAWAL),
            Money.of("-4.20"),
            description='Coffee "shop"',
        ),
        txn(
            EUR,
            INTEREST,
            date(2025, 1, 31),
            (tt.INCOME, st.INTEREST),
            Money.of("1.25", "EUR"),
            description="Interest",
        ),
    ]
    holdings = [
        make_holding(
            BRK,
            "AAPL",
            current_price=Decimal("30.00"),
            market_value=Money.of("300.00"),
            cost_basis=Money.of("200.00"),
            security_name="Apple Inc",
        ),
        make_holding(
            BRK,
            "MSFT",
            quantity=Decimal("5"),
            market_value=Money.of("100.00"),
            cost_basis=Money.of("150.00"),
        ),
        make_holding(BRK, "GONE", market_value=Money.of("50.00"), is_active=False),
    ]
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    second = timedelta(seconds=1)
    snapshots = [
        BalanceSnapshot(account_id=BRK, captured_at=t0, balance=Money.of("900.00")),
        BalanceSnapshot(account_id=VISA, captured_at=t0 + second, balance=Money.of("400.00")),
        BalanceSnapshot(
            account_id=EUR,
            captured_at=t0 + timedelta(days=14),
            balance=Money.of("90.00", "EUR"),
        ),
        BalanceSnapshot(
            account_id=BRK, captured_at=t0 + timedelta(days=31), balance=Money.of("1000.10")
        ),
        BalanceSnapshot(
            account_id=VISA,
            captured_at=t0 + timedelta(days=31) + second,
            balance=Money.of("500.00"),
        ),
    ]
    engine = create_engine(url)
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            await uow.connections.save(main)
            await uow.connections.save(cards)
            await uow.accounts.upsert_many(accounts)
            await uow.transactions.upsert_many(transactions)
            await uow.holdings.upsert_many(holdings)
            for snapshot in snapshots:
                await uow.balances.add(snapshot)
            await uow.commit()
    finally:
        await engine.dispose()


@dataclass
class Store:
    """A seeded Dashtam installation: its directories and the environment pointing at them."""

    root: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "DASHTAM_DATA_DIR": str(self.root / "data"),
            "DASHTAM_CONFIG_DIR": str(self.root / "config"),
            "DASHTAM_SECRETS_BACKEND": "file",
        }

    @property
    def db(self) -> Path:
        return self.root / "data" / "dashtam.db"

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as connection:
            return connection.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("read-model")
    store = Store(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHTAM_")}
    env.update(store.env, HOME=str(root), NO_COLOR="1")
    init = subprocess.run(
        [sys.executable, "-m", "dashtam_cli", "init"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    asyncio.run(_seed(f"sqlite:///{store.db}"))
    return root


@pytest.fixture
def shared(seeded_template: Path) -> Store:
    """The seeded installation, for tests that only read."""
    return Store(seeded_template)


@pytest.fixture(scope="module")
def outputs() -> dict[str, Run]:
    """What read-only commands printed on the shared installation (it never changes)."""
    return {}


@pytest.fixture
def private(seeded_template: Path, tmp_path: Path) -> Store:
    """A private copy of the seeded installation, for tests that change it."""
    root = tmp_path / "store"
    shutil.copytree(seeded_template, root)
    return Store(root)


@pytest.fixture
def cli(dashtam: Dashtam, shared: Store, outputs: dict[str, Run]) -> Callable[..., Run]:
    """Run a command on the shared installation (each distinct command runs once per module)."""

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        key = repr((args, sorted((env or {}).items())))
        if key not in outputs:
            outputs[key] = dashtam(*args, env={**shared.env, **(env or {})})
        return outputs[key]

    return run


def as_csv_cell(value: object) -> str:
    """How a list writes a JSON value into CSV (booleans as in JSON and exports)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def records(result: Run) -> list[dict[str, Any]]:
    assert result.code == 0, result.stderr
    document = result.json()
    assert isinstance(document, list)
    return document


# ---------------------------------------------------------------------------- contract


def test_every_list_gives_json_and_the_same_rows_as_csv(cli: Callable[..., Run]) -> None:
    for command in LISTS:
        rows = records(cli(*command, "--format", "json"))
        assert rows, command
        as_csv = cli(*command, "--format", "csv")
        assert as_csv.code == 0, as_csv.stderr
        assert as_csv.stdout.splitlines()[0] == ",".join(rows[0])  # header: the JSON fields
        parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
        for row in parsed:
            row.pop(MOVING, None)  # the seconds left change between the two runs
        assert parsed == [
            {k: as_csv_cell(v) for k, v in row.items() if k != MOVING} for row in rows
        ], command
        for row in rows:
            for field in MONEY_FIELDS & row.keys():
                assert row[field] is None or isinstance(row[field], str), (command, field)
                if row[field] is not None:
                    Decimal(row[field])  # an exact decimal string
            if "currency" in MONEY_FIELDS & row.keys() or MONEY_FIELDS & row.keys():
                assert len(row["currency"]) == 3
            for key in ("id", "account_id", "connection_id"):
                if key in row:
                    assert str(UUID(row[key])) == row[key]  # a full UUID


def test_json_records_hold_exact_values(cli: Callable[..., Run]) -> None:
    accounts = {a["name"]: a for a in records(cli("accounts", "list", "--format", "json"))}
    assert set(accounts) == {"Brokerage", "Checking", "Visa", "Euro savings"}  # active only
    assert accounts["Brokerage"]["balance"] == "1000.10"
    assert accounts["Visa"]["net_worth_contribution"] == "-500.00"
    assert accounts["Euro savings"]["currency"] == "EUR"
    assert "raw" not in accounts["Brokerage"]
    assert "provider_account_id" not in accounts["Brokerage"]

    txns = records(cli("transactions", "list", "--format", "json"))
    assert [t["id"] for t in txns] == [
        str(u) for u in [SELL, COFFEE, FEE, DIV2, INTEREST, BUY, DIV1, DEPOSIT]
    ]
    buy = txns[5]
    assert (buy["amount"], buy["currency"], buy["unit_price"], buy["transaction_date"]) == (
        "-1500.25",
        "USD",
        "150.025",
        "2025-01-10",
    )
    assert buy["account_name"] == "Brokerage"

    holdings = records(cli("holdings", "list", "--format", "json"))
    assert [(h["symbol"], h["weight_percent"], h["unrealized_gain"]) for h in holdings] == [
        ("AAPL", "75.00", "100.00"),
        ("MSFT", "25.00", "-50.00"),
    ]


def test_tables_show_exact_totals_and_no_colour_codes_on_a_pipe(cli: Callable[..., Run]) -> None:
    # colour allowed by the environment: only the pipe keeps it out
    colourful = {"NO_COLOR": "", "TERM": "xterm-256color"}
    accounts = cli("accounts", "list", env=colourful)
    assert accounts.code == 0, accounts.stderr
    assert "\x1b[" not in accounts.stdout
    # what is owned and what is owed, apart (never a card's debt added to the assets)
    assets = next(line for line in accounts.stdout.splitlines() if line.startswith("Assets"))
    owed = next(line for line in accounts.stdout.splitlines() if line.startswith("Liabilities"))
    assert "USD 1,000.30" in assets
    assert "USD 500.00" in owed
    # the credit card subtracts: 1000.10 + 0.20 - 500.00
    net_worth = next(line for line in accounts.stdout.splitlines() if "Net worth" in line)
    assert "USD 500.30" in net_worth
    assert "EUR 100.00" in net_worth

    dividends = cli("transactions", "list", "--type", "dividend", env=colourful)
    assert "\x1b[" not in dividends.stdout
    assert "USD 0.3" in dividends.stdout  # 0.1 + 0.2 exactly
    assert "0.30000000000000004" not in dividends.stdout

    listing = cli("transactions", "list", "--limit", "3", env=colourful)
    assert "More transactions match" in listing.stdout
    assert "Sell MSFT [lot 2]" in listing.stdout  # data is never read as Rich markup

    holdings = cli("holdings", "list", env=colourful)
    assert "\x1b[" not in holdings.stdout
    assert "USD 400.00" in holdings.stdout
    assert "USD 50.00" in holdings.stdout

    history = cli("balances", "history", env=colourful)
    assert history.code == 0, history.stderr
    assert "\x1b[" not in history.stdout
    assert "Net worth (USD)" in history.stdout
    assert "█" in history.stdout

    providers = cli("providers", "list", env=colourful)
    assert "\x1b[" not in providers.stdout
    assert "c0ffee01" in providers.stdout


def test_accounts_list_all_and_by_connection(cli: Callable[..., Run]) -> None:
    every = records(cli("accounts", "list", "--all", "-f", "json"))
    old = next(a for a in every if a["name"] == "Old")
    assert old["is_active"] is False
    cards = records(cli("accounts", "list", "--connection", "cards", "-f", "json"))
    assert {a["name"] for a in cards} == {"Visa", "Euro savings"}


# -------------------------------------------------------------------------- references


def test_ids_resolve_by_prefix_and_alias(cli: Callable[..., Run]) -> None:
    account = cli("accounts", "show", "abcd1", "-f", "json")
    assert account.code == 0, account.stderr
    doc = account.json()
    assert isinstance(doc, dict)
    assert doc["id"] == str(BRK)
    assert doc["holdings"] == {
        "count": 2,
        "totals": [
            {
                "currency": "USD",
                "market_value": "400.00",
                "cost_basis": "350.00",
                "unrealized_gain": "50.00",
            }
        ],
    }
    assert doc["latest_snapshot"]["balance"] == "1000.10"

    ambiguous = cli("accounts", "show", "abcd")
    assert ambiguous.code == 2
    assert "error[ambiguous_id]" in ambiguous.stderr
    missing = cli("accounts", "show", "ffff0000", "-f", "json")
    assert missing.code == 10
    error = missing.json()
    assert isinstance(error, dict)
    assert error["code"] == "not_found"

    connection = cli("providers", "show", "main", "-f", "json")
    assert connection.code == 0, connection.stderr
    shown = connection.json()
    assert isinstance(shown, dict)
    assert (shown["id"], shown["accounts_count"]) == (str(MAIN), 3)
    assert "credentials" not in shown
    assert cli("providers", "show", "c0ffee").code == 2

    txn = cli("transactions", "show", "beef0002", "-f", "json")
    assert txn.code == 0, txn.stderr
    sell = txn.json()
    assert isinstance(sell, dict)
    assert (sell["id"], sell["security_name"], sell["connection_alias"]) == (
        str(SELL),
        "Microsoft Corp",
        "main",
    )
    assert cli("transactions", "show", "beef").code == 2
    assert cli("transactions", "show", "00000000").code == 10


# ----------------------------------------------------------------------------- filters


def ids(result: Run) -> list[str]:
    return [row["id"] for row in records(result)]


def test_transaction_filters(cli: Callable[..., Run]) -> None:
    def listed(*args: str) -> list[str]:
        return ids(cli("transactions", "list", "-f", "json", *args))

    assert listed("--since", "2025-02-01", "--until", "2025-02-20") == [
        str(COFFEE),
        str(FEE),
        str(DIV2),
    ]
    assert listed("--type", "income") == [str(DIV2), str(INTEREST), str(DIV1)]
    assert listed("--type", "dividend") == [str(DIV2), str(DIV1)]
    assert listed("--symbol", "msft") == [str(SELL)]
    assert listed("--search", "payroll") == [str(DEPOSIT)]
    assert listed("--limit", "2") == [str(SELL), str(COFFEE)]
    assert listed("--account", "abcd2") == [str(DIV2), str(DIV1)]


def test_bad_filter_values_are_usage_errors(cli: Callable[..., Run]) -> None:
    bad_type = cli("transactions", "list", "--type", "bogus")
    assert bad_type.code == 2
    assert "dividend" in bad_type.stderr
    assert "trade" in bad_type.stderr
    assert bad_type.stdout == ""
    bad_date = cli("transactions", "list", "--since", "2025-13-01")
    assert bad_date.code == 2


def test_balances_history_per_currency_with_a_start_date(cli: Callable[..., Run]) -> None:
    points = records(cli("balances", "history", "-f", "json"))
    assert [(p["currency"], p["net_worth"]) for p in points] == [
        ("USD", "900.00"),
        ("USD", "500.00"),  # the card's 400.00 owed subtracts
        ("EUR", "90.00"),
        ("USD", "600.10"),
        ("USD", "500.10"),
    ]
    since = records(cli("balances", "history", "--since", "2025-01-20", "-f", "json"))
    assert [(p["net_worth"], p["liabilities"], p["accounts"]) for p in since] == [
        ("600.10", "400.00", 2),
        ("500.10", "500.00", 2),
    ]


# ----------------------------------------------------------------------- state changes


def test_rename_to_a_free_alias_then_to_a_taken_one(dashtam: Dashtam, private: Store) -> None:
    renamed = dashtam("providers", "rename", "main", "schwab-main", env=private.env)
    assert renamed.code == 0, renamed.stderr
    assert "schwab-main" in renamed.stdout
    taken = dashtam("providers", "rename", "cards", "schwab-main", "-f", "json", env=private.env)
    assert taken.code == 2
    assert "already used" in taken.stderr
    error = taken.json()
    assert isinstance(error, dict)
    assert error["code"] == "invalid_argument"
    assert private.query("SELECT alias FROM provider_connections ORDER BY alias") == [
        ("cards",),
        ("schwab-main",),
    ]


def test_disconnect_off_a_terminal_needs_yes_and_changes_nothing(
    dashtam: Dashtam, private: Store
) -> None:
    before = private.query("SELECT status, credentials FROM provider_connections")
    refused = dashtam("providers", "disconnect", "main", env=private.env)
    assert refused.code == 2
    assert "--yes" in refused.stderr
    assert refused.stdout == ""
    assert private.query("SELECT status, credentials FROM provider_connections") == before


def test_disconnect_wipes_credentials_keeps_history_and_is_audited(
    dashtam: Dashtam, private: Store
) -> None:
    counts = "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM transactions)"
    before = private.query(counts)
    held = records(dashtam("holdings", "list", "-f", "json", env=private.env))
    assert str(BRK) in {h["account_id"] for h in held}  # main's brokerage holds positions
    done = dashtam("providers", "disconnect", "main", "--yes", "-f", "json", env=private.env)
    assert done.code == 0, done.stderr
    doc = done.json()
    assert isinstance(doc, dict)
    assert (doc["id"], doc["status"], doc["accounts_kept"]) == (str(MAIN), "disconnected", 3)
    row = private.query(
        "SELECT status, credentials, credential_kind, refresh_expires_at "
        "FROM provider_connections WHERE alias = 'main'"
    )
    assert row == [("disconnected", None, None, None)]
    assert private.query(counts) == before
    other = private.query("SELECT credentials FROM provider_connections WHERE alias = 'cards'")
    assert other[0][0] is not None

    audit = dashtam("audit", "list", "-f", "json", env=private.env)
    entries = records(audit)
    assert {(e["action"], e["outcome"], e["connection_id"]) for e in entries} >= {
        ("provider_disconnection", "attempted", str(MAIN)),
        ("provider_disconnection", "succeeded", str(MAIN)),
    }
    again = dashtam("providers", "disconnect", "main", "--yes", env=private.env)
    assert again.code == 2
    assert "already disconnected" in again.stderr

    # its accounts stop counting: listed with --all, inactive; their holdings left out
    active = records(dashtam("accounts", "list", "-f", "json", env=private.env))
    assert MAIN not in {UUID(a["connection_id"]) for a in active}
    every = records(dashtam("accounts", "list", "--all", "-f", "json", env=private.env))
    kept = [a for a in every if UUID(a["connection_id"]) == MAIN]
    assert len(kept) == 3
    assert not any(a["is_active"] for a in kept)
    main_accounts = {a["id"] for a in kept}
    holdings = records(dashtam("holdings", "list", "-f", "json", env=private.env))
    assert not main_accounts & {h["account_id"] for h in holdings}
    # naming it says it is disconnected (exit 4), not that it does not exist
    named = dashtam("sync", "--connection", "main", env=private.env)
    assert named.code == 4
    assert "error[connection_not_active]: connection 'main' is disconnected" in named.stderr


def _on_a_terminal(store: Store, home: Path, answer: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHTAM_")}
    env.update(store.env, HOME=str(home), NO_COLOR="1")
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashtam_cli", "providers", "disconnect", "main"],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.close(follower)
        os.write(leader, answer.encode() + b"\n")
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        os.close(leader)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_disconnect_asks_on_a_terminal(private: Store, home: Path) -> None:
    declined = _on_a_terminal(private, home, "n")
    assert declined.returncode == 0, declined.stderr
    assert b"Disconnect 'main'" in declined.stderr
    assert b"Nothing changed" in declined.stderr
    status = "SELECT status FROM provider_connections WHERE alias = 'main'"
    assert private.query(status) == [("active",)]
    accepted = _on_a_terminal(private, home, "y")
    assert accepted.returncode == 0, accepted.stderr
    assert private.query(status) == [("disconnected",)]
