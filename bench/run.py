"""Dashtam benchmarks: each figure against a baseline measured in the same run on the same data.

Run ``make bench`` (1,000,000 transactions; writes ``bench/RESULTS.md``), or try it out with
``.venv/bin/python bench/run.py --quick``. Everything happens in a private temporary directory
(HOME, data and config dirs, file secrets backend); the user's real data is never touched.
Exits 0 even when a target is missed (benchmarks report, they do not gate), 1 when a command fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from _lib import (
    CSV_BASELINE,
    GNU_TIME,
    SCRATCH,
    CommandFailedError,
    Figure,
    Target,
    csv_rows,
    machine,
    median_p90,
    run_measured,
    stale_bytecode,
    table_columns,
    timings,
    write_results,
)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
DASHTAM = str(VENV_BIN / "dashtam")
PYTHON = str(VENV_BIN / "python")
LIB = Path(__file__).resolve().parent / "_lib.py"
FULL_ROWS = 1_000_000
QUICK_ROWS = 50_000
KEY = ("account_id", "provider_transaction_id")


@dataclass(frozen=True, kw_only=True, slots=True)
class Bench:
    """The private environment of one benchmark run."""

    tmp: Path
    env: Mapping[str, str]
    rows: int
    runs: int
    baseline_runs: int

    @property
    def db(self) -> Path:
        """Dashtam's default SQLite database in the private data dir."""
        return self.tmp / "data" / "dashtam.db"

    def dashtam(self, *args: str, stdout_path: Path | None = None) -> tuple[float, float, str]:
        """Run the installed ``dashtam``: (seconds, peak RSS in MB, stdout)."""
        run = run_measured([DASHTAM, *args], self.env, stdout_path=stdout_path)
        return run.seconds, run.max_rss_mb, run.stdout

    def baseline(self, argv: list[str], stdout_path: Path | None = None) -> tuple[float, str]:
        """Median seconds of ``baseline_runs`` runs of a baseline command, and the runs' spread."""
        found = [
            run_measured(argv, self.env, stdout_path=stdout_path).seconds
            for _ in range(self.baseline_runs)
        ]
        return statistics.median(found), ", ".join(f"{t:.1f}" for t in found)


def private_env(tmp: Path) -> dict[str, str]:
    """The caller's environment minus DASHTAM_* / XDG_*, with every dir inside ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHTAM_", "XDG_", "VIRTUAL"))}
    for name in ("home", "data", "config", "xdg"):
        (tmp / name).mkdir(mode=0o700)
    env[SCRATCH] = str(tmp)
    env.update(
        HOME=str(tmp / "home"),
        XDG_CONFIG_HOME=str(tmp / "xdg" / "config"),
        XDG_DATA_HOME=str(tmp / "xdg" / "data"),
        XDG_CACHE_HOME=str(tmp / "xdg" / "cache"),
        XDG_STATE_HOME=str(tmp / "xdg" / "state"),
        DASHTAM_DATA_DIR=str(tmp / "data"),
        DASHTAM_CONFIG_DIR=str(tmp / "config"),
        DASHTAM_SECRETS_BACKEND="file",
        NO_COLOR="1",
    )
    return env


def sync_counts(document: Mapping[str, object]) -> dict[str, int]:
    """Inserted / updated / unchanged transactions summed over a sync report's connections."""
    totals = dict.fromkeys(("inserted", "updated", "unchanged"), 0)
    connections = document.get("connections", [])
    assert isinstance(connections, list)
    for connection in connections:
        for name in totals:
            totals[name] += int(connection.get(f"transactions_{name}") or 0)
    return totals


def bench_ingest(b: Bench) -> tuple[list[Figure], float, str]:
    """``dashtam demo`` (a fresh demo connection, synced) vs a raw ``executemany`` upsert."""
    seconds, rss, out = b.dashtam("demo", "--transactions", str(b.rows), "--format", "json")
    counts = sync_counts(json.loads(out)["sync"])
    with sqlite3.connect(b.db) as con:
        stored = con.execute("SELECT count(*) FROM transactions").fetchone()[0]
    con.close()
    inserted = counts["inserted"] or stored
    target = b.tmp / "baseline" / "ingest.db"
    target.parent.mkdir()
    repeat = str(b.baseline_runs)
    raw = run_measured([PYTHON, str(LIB), str(b.db), str(target), repeat, *KEY], b.env)
    found = json.loads(raw.stdout)
    raw_seconds = statistics.median(found["seconds"])
    raw_rate = found["rows"] / raw_seconds
    rate = inserted / seconds
    print(f"  dashtam demo: {inserted:,} inserted in {seconds:.1f} s; raw: {raw_seconds:.1f} s")
    figures = [
        Figure(
            name="ingest (dashtam demo, fresh sync)",
            value=rate,
            unit="rows/s",
            baseline="raw executemany upsert",
            baseline_value=raw_rate,
            ratio=rate / raw_rate,
            target=Target(on="ratio", op=">=", bound=0.30),
            rss_mb=rss,
            detail=f"{inserted:,} rows in {seconds:.1f} s",
        ),
        Figure(
            name="ingest peak RSS",
            value=rss,
            unit="MB",
            target=Target(on="value", op="<", bound=500, unit="MB"),
        ),
    ]
    spread = ", ".join(f"{t:.1f}" for t in found["seconds"])
    return figures, raw_rate, f"median of {spread} s for {found['rows']:,} rows"


def bench_resync(b: Bench, raw_rate: float) -> list[Figure]:
    """A second sync right away (incremental), then ``sync --full`` over the same data."""
    figures = []
    for label, extra in (
        ("re-sync (incremental)", ()),
        ("no-op re-sync (sync --full)", ("--full",)),
    ):
        seconds, rss, out = b.dashtam("sync", *extra, "--format", "json")
        counts = sync_counts(json.loads(out))
        examined = sum(counts.values())
        rate = examined / seconds
        detail = ", ".join(f"{v:,} {k}" for k, v in counts.items())
        print(f"  {shlex.join(['dashtam', 'sync', *extra])}: {seconds:.2f} s; {detail}")
        full = bool(extra)
        figures.append(
            Figure(
                name=label,
                value=rate if full else seconds,
                unit="rows/s" if full else "s",
                baseline="raw executemany upsert" if full else "",
                baseline_value=raw_rate if full else None,
                ratio=rate / raw_rate if full else None,
                target=Target(on="ratio", op=">=", bound=0.5) if full else None,
                rss_mb=rss,
                detail=f"{detail} in {seconds:.2f} s",
            )
        )
    return figures


def export_query(b: Bench, header: list[str]) -> str:
    """A raw SELECT of the columns of Dashtam's CSV header, in its order: oldest first, like it."""
    with sqlite3.connect(b.db) as con:
        own = set(table_columns(con, "transactions"))
    con.close()
    selected = [f"t.{name}" if name in own else f"NULL AS {name}" for name in header]
    join = ""
    if "account_name" in header:
        selected[header.index("account_name")] = "a.name AS account_name"
        join = " JOIN accounts a ON a.id = t.account_id"
    return (
        f"SELECT {', '.join(selected)} FROM transactions t{join} ORDER BY t.transaction_date, t.id"
    )


def bench_export(b: Bench) -> list[Figure]:
    """``dashtam export transactions --format csv`` vs the sqlite3 shell and Python's csv.

    Dashtam's export and the Python csv baseline run ``baseline_runs`` times each, alternately,
    and their medians count: a busy moment of the machine then weighs on both sides alike.
    """
    out = b.tmp / "export-dashtam.csv"
    args = ("export", "transactions", "--format", "csv", "--output", str(out))
    seconds, rss, _ = b.dashtam(*args, stdout_path=b.tmp / "o")
    exported = csv_rows(out)
    with out.open(encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    sql = export_query(b, header)
    py_csv = b.tmp / "export-python.csv"
    py_argv = [PYTHON, "-c", CSV_BASELINE, str(b.db), str(py_csv), sql]
    ours, theirs = [seconds], []
    for _ in range(b.baseline_runs):
        theirs.append(run_measured(py_argv, b.env).seconds)
        if len(ours) < b.baseline_runs:
            again, again_rss, _ = b.dashtam(*args, stdout_path=b.tmp / "o")
            ours.append(again)
            rss = max(rss, again_rss)
    seconds, py_seconds = statistics.median(ours), statistics.median(theirs)
    spread, py_spread = (", ".join(f"{t:.1f}" for t in found) for found in (ours, theirs))
    rate = exported / seconds
    print(f"  dashtam export: {exported:,} rows in {spread} s, {rss:.0f} MB")
    py_rate = csv_rows(py_csv) / py_seconds
    figures = [
        Figure(
            name="export csv vs Python csv",
            value=rate,
            unit="rows/s",
            baseline="csv.writer over sqlite3 cursor",
            baseline_value=py_rate,
            ratio=rate / py_rate,
            target=Target(on="ratio", op=">=", bound=0.7),
            rss_mb=rss,
            detail=f"{exported:,} rows, median of {spread} s; baseline median of {py_spread} s",
        ),
        Figure(
            name="export peak RSS",
            value=rss,
            unit="MB",
            target=Target(on="value", op="<", bound=150, unit="MB"),
        ),
    ]
    shell = shutil.which("sqlite3")
    if shell is None:
        print("  sqlite3 shell not installed (apt-get install sqlite3): baseline unavailable")
        return figures
    sh_out = b.tmp / "export-shell.csv"
    sh_seconds, sh_spread = b.baseline([shell, "-csv", "-header", str(b.db), sql], sh_out)
    sh_rate = csv_rows(sh_out) / sh_seconds
    figures.insert(
        1,
        Figure(
            name="export csv vs sqlite3 shell",
            value=rate,
            unit="rows/s",
            baseline="sqlite3 -csv",
            baseline_value=sh_rate,
            ratio=rate / sh_rate,
            rss_mb=rss,
            detail=f"baseline median of {sh_spread} s",
        ),
    )
    return figures


def busiest_account(b: Bench) -> tuple[str, str]:
    """An id prefix of the account with the most rows, and 90 days before the newest row."""
    with sqlite3.connect(b.db) as con:
        account = con.execute(
            "SELECT account_id FROM transactions GROUP BY account_id ORDER BY count(*) DESC"
        ).fetchone()[0]
        newest = con.execute("SELECT max(transaction_date) FROM transactions").fetchone()[0]
    con.close()
    since = date.fromisoformat(newest) - timedelta(days=90)
    return str(account).replace("-", "")[:8], since.isoformat()


def bench_startup(b: Bench) -> list[Figure]:
    """``accounts list`` and a filtered ``transactions list`` vs ``python -c pass`` (median)."""
    account, since = busiest_account(b)
    pass_times, tool = timings([PYTHON, "-c", "pass"], b.env, b.runs)
    floor, _ = median_p90(pass_times)
    commands = {
        "dashtam accounts list": (["accounts", "list"], 300.0),
        "dashtam transactions list --account X --since D --limit 50": (
            ["transactions", "list", "--account", account, "--since", since, "--limit", "50"],
            350.0,
        ),
    }
    figures = []
    for name, (args, bound) in commands.items():
        _, rss, _ = b.dashtam(*args)  # one checked run: fails loudly, gives the peak RSS
        median, p90 = median_p90(timings([DASHTAM, *args], b.env, b.runs)[0])
        print(f"  {name}: median {median * 1e3:.0f} ms, p90 {p90 * 1e3:.0f} ms ({tool})")
        figures.append(
            Figure(
                name=name,
                value=median * 1e3,
                unit="ms",
                baseline="python -c pass",
                baseline_value=floor * 1e3,
                ratio=median / floor,
                target=Target(on="value", op="<=", bound=bound, unit="ms"),
                rss_mb=rss,
                detail=f"p90 {p90 * 1e3:.0f} ms over {b.runs} runs ({tool}); `{shlex.join(args)}`",
            )
        )
    return figures


def loadavg() -> str:
    """The system load average: other work on the machine skews every figure."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    """Run every benchmark, print one line per figure, write the results page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--transactions", type=int, help=f"rows to ingest (default {FULL_ROWS:,})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows, no results")
    parser.add_argument("--runs", type=int, default=15, help="runs per start-up figure")
    parser.add_argument(
        "--baseline-runs", type=int, default=3, help="runs per throughput baseline (median)"
    )
    parser.add_argument("--results", type=Path, help="results page (default bench/RESULTS.md)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    rows = args.transactions or (QUICK_ROWS if args.quick else FULL_ROWS)
    results = args.results or (None if args.quick else ROOT / "bench" / "RESULTS.md")
    stale = stale_bytecode(ROOT / "dashtam_cli")
    if stale:
        print(f"warning: {len(stale)} modules lack fresh bytecode: run `make install` first")
    load = loadavg()
    tmp = Path(tempfile.mkdtemp(prefix="dashtam-bench-"))
    b = Bench(
        tmp=tmp, env=private_env(tmp), rows=rows, runs=args.runs, baseline_runs=args.baseline_runs
    )
    print(f"Dashtam benchmarks: {rows:,} transactions in {tmp}")
    try:
        ingest, raw_rate, raw_detail = bench_ingest(b)
        figures = [*ingest, *bench_resync(b, raw_rate), *bench_export(b), *bench_startup(b)]
    except CommandFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    for figure in figures:
        print(figure.line())
    if results is not None:
        notes = [f"{f.name}: {f.detail}" for f in figures if f.detail] + [
            f"Raw upsert baseline: {raw_detail}; sqlite3 defaults plus WAL (synchronous=FULL, "
            "foreign keys off), batches of 10,000 in one transaction, into the transactions "
            "table without Dashtam's search index (keeping that index current is part of "
            "Dashtam's ingest time). Dashtam uses WAL, synchronous=NORMAL and foreign_keys=ON.",
            "Every command runs in a fresh process; peak RSS is its maximum resident set "
            + ("(GNU time %M)." if GNU_TIME else "(wait4: may include this script's own RSS)."),
        ]
        info = {
            **machine(),
            "Load average (1/5/15 min)": f"{load} at start, {loadavg()} at the end",
        }
        write_results(results, info=info, figures=figures, rows=rows, notes=notes)
        print(f"\nwrote {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
