"""``dashtam export`` end to end: the real command in a subprocess over a seeded SQLite database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import shutil
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from dashtam_cli.application.ports import ACCOUNT_EXPORT, TRANSACTION_EXPORT
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.transactions import TransactionSubtype, TransactionType
from dashtam_cli.infrastructure.db.engine import create_engine
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.dbtest_support import (
    make_account,
    make_connection,
    make_holding,
    make_transaction,
)

BRK = UUID("abcd1111-0000-4000-8000-000000000001")
CHK = UUID("abcd2222-0000-4000-8000-000000000002")
#: More than a pipe buffer (64 KiB) of CSV, so a reader that stops early breaks the pipe.
TRADES = 2_000
DIVIDENDS = 3


async def _seed(url: str) -> None:
    main = make_connection("main")
    accounts = [
        make_account(main.id, "brk", id=BRK, name="Brokerage", balance=Money.of("0.00000001")),
        make_account(main.id, "chk", id=CHK, name="Checking", balance=Money.of("1234.5600")),
    ]
    trades = [
        make_transaction(
            BRK,
            f"T-{i:05d}",
            amount=Money.of("-0.0001"),
            description=f'Buy AAPL, lot "{i}"\nsecond line ☕',
            transaction_date=date(2024, 1, 1) + timedelta(days=i % 365),
        )
        for i in range(TRADES)
    ]
    dividends = [
        make_transaction(
            CHK,
            f"D-{i}",
            transaction_type=TransactionType.INCOME,
            subtype=TransactionSubtype.DIVIDEND,
            amount=Money.of("12345678901.2345"),
            description="Dividend VTI",
            symbol="VTI",
            quantity=None,
            unit_price=None,
            transaction_date=date(2025, 3, 1 + i),
        )
        for i in range(DIVIDENDS)
    ]
    engine = create_engine(url)
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            await uow.connections.save(main)
            await uow.accounts.upsert_many(accounts)
            await uow.transactions.upsert_many(trades + dividends)
            await uow.holdings.upsert_many([make_holding(BRK, "AAPL", quantity=Decimal("0.1"))])
            await uow.commit()
    finally:
        await engine.dispose()


@dataclass
class Install:
    """A seeded Dashtam installation and how to run the command against it."""

    root: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DASHTAM_")}
        env.update(
            HOME=str(self.root),
            DASHTAM_DATA_DIR=str(self.root / "data"),
            DASHTAM_CONFIG_DIR=str(self.root / "config"),
            DASHTAM_SECRETS_BACKEND="file",
            NO_COLOR="1",
        )
        return env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``dashtam ARGS``; output decoded as UTF-8 with its line ends left alone."""
        done = subprocess.run(
            [sys.executable, "-m", "dashtam_cli", *args],
            capture_output=True,
            env=self.env,
            cwd=self.root,
            timeout=120,
            check=False,
        )
        return subprocess.CompletedProcess(
            done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
        )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    install = Install(root)
    init = install.run("init")
    assert init.returncode == 0, init.stderr
    asyncio.run(_seed(f"sqlite:///{root / 'data' / 'dashtam.db'}"))
    return root


@pytest.fixture
def install(template: Path, tmp_path: Path) -> Install:
    """A private copy of the seeded installation (every export appends to its audit trail)."""
    root = tmp_path / "install"
    shutil.copytree(template, root)
    return Install(root)


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_stdout_export_is_plain_csv_on_a_pipe(install: Install) -> None:
    result = install.run("export", "transactions")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert result.stderr == ""  # no summary, no progress bar on a pipe
    header, rows = _rows(result.stdout)
    assert header == list(TRANSACTION_EXPORT.fields)
    assert len(rows) == TRADES + DIVIDENDS
    assert 'Buy AAPL, lot "0"\nsecond line ☕' in {r["description"] for r in rows}
    assert [r["transaction_date"] for r in rows] == sorted(r["transaction_date"] for r in rows)
    assert {r["amount"] for r in rows} == {"-0.0001", "12345678901.2345"}
    assert result.stdout.count("\r\n") == len(rows) + 1  # RFC 4180 line ends


def test_filters_and_json_on_stdout(install: Install) -> None:
    result = install.run(
        "export",
        "transactions",
        "--account",
        str(CHK)[:8],
        "--since",
        "2025-03-02",
        "--type",
        "dividend",
        "--search",
        "vti",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [t["provider_transaction_id"] for t in document] == ["D-1", "D-2"]
    assert document[0]["amount"] == "12345678901.2345"
    assert document[0]["account_id"] == str(CHK)


def test_lists_write_tiny_decimals_in_plain_notation_too(install: Install) -> None:
    as_json = install.run("accounts", "list", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    balances = {a["name"]: a["balance"] for a in json.loads(as_json.stdout)}
    assert balances["Brokerage"] == "0.00000001"  # not 1E-8
    as_csv = install.run("accounts", "list", "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    _, rows = _rows(as_csv.stdout)
    assert {r["name"]: r["balance"] for r in rows}["Brokerage"] == "0.00000001"


def test_file_export_is_private_with_a_summary_on_stderr(install: Install) -> None:
    result = install.run("export", "accounts", "--output", "accounts.csv")
    assert result.returncode == 0, result.stderr
    path = install.root / "accounts.csv"
    assert result.stdout == ""
    assert result.stderr == f"exported 2 accounts rows as csv to {path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header, rows = _rows(path.read_text(encoding="utf-8"))
    assert header == list(ACCOUNT_EXPORT.fields)
    assert [(r["name"], r["balance"], r["is_active"]) for r in rows] == [
        ("Brokerage", "0.00000001", "true"),
        ("Checking", "1234.5600", "true"),
    ]
    inferred = install.run("export", "holdings", "-o", "holdings.json")
    assert inferred.returncode == 0, inferred.stderr
    holdings = json.loads((install.root / "holdings.json").read_text(encoding="utf-8"))
    assert [(h["symbol"], h["quantity"], h["is_active"]) for h in holdings] == [
        ("AAPL", "0.1", True)
    ]
    assert sorted(p.name for p in install.root.iterdir() if p.is_file()) == [
        "accounts.csv",
        "holdings.json",
    ]  # no temporary file left behind


def test_exports_are_in_the_audit_trail(install: Install) -> None:
    assert install.run("export", "holdings", "--format", "json").returncode == 0
    assert install.run("export", "accounts", "--connection", "nope").returncode == 10
    audit = install.run("audit", "list", "--action", "export", "--format", "json")
    assert audit.returncode == 0, audit.stderr
    entries = json.loads(audit.stdout)
    assert [(e["outcome"], e["error_code"]) for e in reversed(entries)] == [
        ("attempted", None),
        ("succeeded", None),
        ("attempted", None),
        ("failed", "not_found"),
    ]
    succeeded = entries[2]["context"]
    assert succeeded == {"kind": "holdings", "format": "json", "destination": "stdout", "rows": 1}


def test_usage_errors_and_unknown_ids(install: Install) -> None:
    bad_format = install.run("export", "transactions", "--format", "xml")
    assert bad_format.returncode == 2
    assert bad_format.stdout == ""
    bad_date = install.run("export", "transactions", "--since", "2025-13-01")
    assert bad_date.returncode == 2
    unwritable = install.run("export", "transactions", "-o", "missing/dir/out.csv")
    assert unwritable.returncode == 2
    # the error and its hint, nothing else (no log record before it)
    assert unwritable.stderr.startswith("error[invalid_argument]: cannot write the export to")
    assert len(unwritable.stderr.splitlines()) == 2
    assert "hint:" in unwritable.stderr
    unknown = install.run("export", "holdings", "--account", "ffffffff")
    assert unknown.returncode == 10
    assert "error[not_found]" in unknown.stderr
    assert unknown.stdout == ""
    as_json = install.run("export", "holdings", "--account", "ffffffff", "--format", "json")
    assert as_json.returncode == 10
    assert json.loads(as_json.stdout)["code"] == "not_found"
    assert not (install.root / "missing").exists()


def test_a_reader_that_stops_early_ends_the_export_quietly(install: Install) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashtam_cli", "export", "transactions"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=install.env,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert proc.stdout.readline().startswith(b"id,account_id,")
    proc.stdout.close()  # like `| head -1`
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert stderr == ""  # as a command killed by SIGPIPE: not a word


def _with_stderr_on_a_terminal(install: Install, *args: str) -> tuple[int, bytes, bytes]:
    leader, follower = pty.openpty()
    captured = install.root / "stdout.bin"
    try:
        # stdout to a file: a pipe nobody reads while the terminal is drained would block it
        with captured.open("wb") as stdout_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dashtam_cli", *args],
                stdout=stdout_file,
                stderr=follower,
                env={**install.env, "TERM": "xterm", "COLUMNS": "100"},
                cwd=install.root,
            )
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            seen += chunk
        code = proc.wait(timeout=120)
    finally:
        os.close(leader)
    return code, captured.read_bytes(), seen


def test_progress_only_on_a_terminal_and_only_for_a_file(install: Install) -> None:
    code, stdout, terminal = _with_stderr_on_a_terminal(
        install, "export", "transactions", "-o", "out.csv"
    )
    assert code == 0
    assert stdout == b""
    assert b"exporting transactions" in terminal
    assert b"exported 2,003 transactions rows" in terminal
    code, stdout, terminal = _with_stderr_on_a_terminal(install, "export", "transactions")
    assert code == 0
    assert b"exporting" not in terminal
    assert terminal == b""
    assert stdout.count(b"\r\n") == TRADES + DIVIDENDS + 1  # a description's \n is quoted


def test_the_cyclic_collector_is_paused_only_during_an_export() -> None:
    import gc

    from dashtam_cli.presentation.cli.export import cyclic_gc_paused

    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def _run_with_stdout(install: Install, stdout: Any, *args: str) -> tuple[int, str]:
    """Run ``dashtam ARGS`` with the given standard output; (exit code, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "dashtam_cli", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=install.env,
        cwd=install.root,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr.decode()


@pytest.mark.parametrize(
    "args",
    [
        ("accounts", "list", "--format", "csv"),
        ("accounts", "list"),
        ("export", "transactions"),
        ("export", "accounts", "--output", "/dev/full"),
    ],
    ids=" ".join,
)
def test_a_full_disk_is_an_output_error_not_a_bug(install: Install, args: tuple[str, ...]) -> None:
    with Path("/dev/full").open("w") as full:
        code, stderr = _run_with_stdout(install, full, *args)
    assert code == 11, stderr
    assert "error[output_failed]:" in stderr
    assert "No space left on device" in stderr
    assert "Traceback" not in stderr
    assert "this is a bug" not in stderr
    assert Path("/dev/full").is_char_device()  # written through, never replaced


@pytest.mark.parametrize(
    "args", [("transactions", "list", "--format", "csv"), ("accounts", "list")], ids=" ".join
)
def test_a_list_whose_reader_is_gone_exits_like_sigpipe(
    install: Install, args: tuple[str, ...]
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written (`| head -0`)
    try:
        code, stderr = _run_with_stdout(install, write_end, *args)
    finally:
        os.close(write_end)
    assert code == 141
    assert stderr == ""


def test_a_named_pipe_is_written_in_place(install: Install) -> None:
    fifo = install.root / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    done = install.run("export", "accounts", "--output", str(fifo))
    reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert received[0].startswith(b"id,connection_id,")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still a FIFO: nothing was renamed over it
    assert [p.name for p in install.root.iterdir() if p.name.endswith(".partial")] == []


def test_a_symbolic_link_stays_a_link_to_the_new_export(install: Install) -> None:
    exports = install.root / "exports"
    exports.mkdir()
    real = exports / "2025.csv"
    real.write_text("previous\n")
    link = install.root / "latest.csv"
    link.symlink_to(real)
    done = install.run("export", "accounts", "--output", "latest.csv")
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"exported 2 accounts rows as csv to {link}\n"
    assert link.is_symlink()
    assert link.readlink() == real
    assert real.read_text(encoding="utf-8").startswith("id,connection_id,")
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    # a link to a file not written yet: the file is made where the link points
    (install.root / "next.csv").symlink_to(exports / "2026.csv")
    assert install.run("export", "accounts", "-o", "next.csv").returncode == 0
    assert (install.root / "next.csv").is_symlink()
    assert (exports / "2026.csv").read_text(encoding="utf-8").startswith("id,")


def test_dev_stdout_appends_to_the_file_the_shell_opened(install: Install) -> None:
    target = install.root / "log.csv"
    target.write_text("previous\n")
    with target.open("a") as appended:  # like `>> log.csv`
        code, stderr = _run_with_stdout(
            install, appended, "export", "accounts", "-o", "/dev/stdout"
        )
    assert code == 0, stderr
    text = target.read_text(encoding="utf-8")
    assert text.startswith("previous\nid,connection_id,")  # kept, then the export
