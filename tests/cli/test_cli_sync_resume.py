"""A demo sync killed with SIGKILL part-way, then run again, ends with an uninterrupted run's rows.

Also: a second sync of the same data writes nothing but the demo's new rows and settlements.
Real `dashtam` processes on the default SQLite database of a private HOME.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clitools import Dashtam

pytestmark = pytest.mark.slow

ROWS = 200_000  # the acceptance criterion of the main-job issue
# every stored column but what storage assigns (ids, timestamps): the data a sync is about
SELECT_DATA = """
    SELECT a.provider_account_id, t.provider_transaction_id, t.transaction_type, t.subtype,
           t.status, t.amount, t.currency, t.fees, t.description, t.asset_type, t.symbol,
           t.security_name, t.quantity, t.unit_price, t.transaction_date, t.settlement_date,
           t.posted_at, t.raw
    FROM transactions t JOIN accounts a ON a.id = t.account_id
    ORDER BY a.provider_account_id, t.provider_transaction_id
"""


def environment(base_env: dict[str, str], root: Path) -> dict[str, str]:
    for name in ("data", "config"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return {
        **base_env,
        "DASHTAM_DATA_DIR": str(root / "data"),
        "DASHTAM_CONFIG_DIR": str(root / "config"),
        "DASHTAM_SECRETS_BACKEND": "file",
    }


def stored_count(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            return int(connection.execute("SELECT count(*) FROM transactions").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet, or busy
        return 0


def stored_data(database: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(SELECT_DATA).fetchall()
    connection.close()
    return rows


def test_a_killed_sync_resumes_to_exactly_the_rows_of_an_uninterrupted_one(
    dashtam: Dashtam, base_env: dict[str, str], tmp_path: Path
) -> None:
    killed_env = environment(base_env, tmp_path / "killed")
    database = tmp_path / "killed" / "data" / "dashtam.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "dashtam_cli", "demo", "--transactions", str(ROWS), "-f", "json"],
        env=killed_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while stored_count(database) == 0 and process.poll() is None:
            assert time.monotonic() < deadline, "the demo sync stored nothing in 2 minutes"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the sync finished before it could be killed"
    partial = stored_count(database)
    assert 0 < partial < ROWS

    resumed = dashtam("sync", "--format", "json", env=killed_env)
    assert resumed.code == 0, resumed.stderr

    whole_env = environment(base_env, tmp_path / "whole")
    whole = dashtam("demo", "--transactions", str(ROWS), "--format", "json", env=whole_env)
    assert whole.code == 0, whole.stderr

    expected = stored_data(tmp_path / "whole" / "data" / "dashtam.db")
    assert len(expected) >= ROWS
    assert stored_data(database) == expected  # same rows, same values, no duplicates

    # a --full re-sync of the same data changes nothing (same virtual clock: nothing moved)
    again = dashtam("sync", "--full", "--format", "json", env=whole_env)
    assert again.code == 0, again.stderr
    report = json.loads(again.stdout)
    (connection,) = report["connections"]
    assert connection["transactions_unchanged"] >= len(expected) - 500
    assert stored_count(tmp_path / "whole" / "data" / "dashtam.db") == (
        len(expected) + connection["transactions_inserted"]
    )
