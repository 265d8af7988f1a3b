"""Helpers for ``bench/run.py``: measured subprocesses, raw SQLite baselines, the results file.

Standard library only, so the baselines measure SQLite and CPython, never Dashtam's stack.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.util import MAGIC_NUMBER, cache_from_source
from pathlib import Path
from typing import Literal

MB = 1024 * 1024
SCRATCH = "BENCH_SCRATCH"  # environment variable: the directory for output and timing files
GNU_TIME = next((p for p in ("/usr/bin/time",) if Path(p).is_file()), None)
BATCH = 10_000
PRESERVED = ("id", "created_at")  # what Dashtam's upsert never overwrites

# The Python csv baseline, run as its own process (like `dashtam export`) so it pays for start-up.
CSV_BASELINE = """\
import csv, sqlite3, sys
db, out, sql = sys.argv[1:4]
con = sqlite3.connect(db)
with open(out, "w", newline="", encoding="utf-8") as f:
    cursor = con.execute(sql)
    writer = csv.writer(f)
    writer.writerow([d[0] for d in cursor.description])
    writer.writerows(cursor)
"""


class CommandFailedError(RuntimeError):
    """A measured command exited non-zero (the benchmark cannot report a figure)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    """One measured process: wall time, peak resident memory, what it printed."""

    seconds: float
    max_rss_mb: float
    stdout: str


def run_measured(
    argv: Sequence[str], env: Mapping[str, str], *, stdout_path: Path | None = None
) -> Run:
    """Run ``argv`` to completion: wall time around it, and its own peak RSS.

    Peak RSS comes from GNU time (``/usr/bin/time -f %M``), which forks the command from a tiny
    process. ``wait4`` / ``RUSAGE_CHILDREN`` on our own children are wrong here: Linux starts a
    child's high-water mark at the parent's RSS (a 1 GB benchmark process made ``python -c pass``
    look like 1 GB), so they are only the fallback when GNU time is missing. Output goes to
    files, so a large output cannot fill a pipe.

    Raises:
        CommandFailedError: when the command exits non-zero (its stderr tail in the message).
    """
    scratch = Path(env[SCRATCH])
    out_path = stdout_path or scratch / "stdout.txt"
    err_path, rss_path = scratch / "stderr.txt", scratch / "rss.txt"
    command = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *argv] if GNU_TIME else list(argv)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=dict(env))
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = err_path.read_text(errors="replace")[-2000:]
        raise CommandFailedError(f"{shlex.join(argv)} exited {proc.returncode}:\n{tail}")
    kib = int(rss_path.read_text().split()[-1]) if GNU_TIME else usage.ru_maxrss
    text = "" if stdout_path else out_path.read_text(errors="replace")
    return Run(seconds=seconds, max_rss_mb=kib * 1024 / MB, stdout=text)


def timings(argv: Sequence[str], env: Mapping[str, str], runs: int) -> tuple[list[float], str]:
    """Wall times in seconds of ``runs`` runs (after 2 warm-up runs), and the tool that took them.

    Uses hyperfine without a shell when it is installed, else ``perf_counter`` around
    ``subprocess.run``.
    """
    hyperfine = shutil.which("hyperfine")
    if hyperfine:
        export = Path(env[SCRATCH]) / "hyperfine.json"
        options = ["-N", "--style", "none", "--warmup", "2", "--runs", str(runs)]
        done = subprocess.run(
            [hyperfine, *options, "--export-json", str(export), shlex.join(argv)],
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise CommandFailedError(f"hyperfine {shlex.join(argv)} failed:\n{done.stderr}")
        times = json.loads(export.read_text())["results"][0]["times"]
        return [float(t) for t in times], "hyperfine"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": dict(env)}
    for _ in range(2):
        subprocess.run(argv, check=True, **quiet)  # type: ignore[call-overload]
    found = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, **quiet)  # type: ignore[call-overload]
        found.append(time.perf_counter() - started)
    return found, "perf_counter"


def median_p90(values: Sequence[float]) -> tuple[float, float]:
    """The median and the 90th percentile (inclusive method) of some timings."""
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]


# --------------------------------------------------------------------------- raw SQLite baselines


def table_columns(con: sqlite3.Connection, table: str) -> list[str]:
    """The column names of a table, in table order."""
    return [row[1] for row in con.execute(f"PRAGMA table_info({table})")]


#: Dashtam's transaction search index (FTS5 table, its state, its triggers): its upkeep is part of
#: what Dashtam's ingest costs, so the raw baseline writes the table without it.
SEARCH_INDEX_PREFIX = "transaction_search"


def clone_schema(source: Path, target: Path, *, copy_tables: Sequence[str]) -> None:
    """A fresh database (WAL) with every table, index and trigger of ``source``, except the
    search index (:data:`SEARCH_INDEX_PREFIX`).

    The rows of ``copy_tables`` (the transactions' parents) are copied too, so the clone holds a
    consistent database; the transactions table stays empty.
    """
    src = sqlite3.connect(source)
    con = sqlite3.connect(target)
    con.execute("PRAGMA journal_mode=WAL")
    ddl = src.execute(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "ORDER BY rowid"
    ).fetchall()
    for name, statement in ddl:
        if not name.startswith(SEARCH_INDEX_PREFIX):
            con.execute(statement)
    for table in copy_tables:
        rows = src.execute(f"SELECT * FROM {table}").fetchall()
        if rows:
            marks = ",".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    con.commit()
    con.close()
    src.close()


def upsert_sql(columns: Sequence[str], key: Sequence[str], preserved: Sequence[str]) -> str:
    """``INSERT .. ON CONFLICT (key) DO UPDATE SET`` every column but the key and ``preserved``."""
    skip = {*key, *preserved}
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in skip)
    return (
        f"INSERT INTO transactions ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def raw_upsert_seconds(
    source: Path, target: Path, key: Sequence[str], repeat: int
) -> tuple[list[float], int]:
    """Seconds of ``repeat`` plain ``executemany`` upserts of every transaction of ``source``.

    The rows (all columns, insertion order) are read into memory once and not timed. Each
    repeat writes them into a fresh :func:`clone_schema` of ``source`` (sqlite3 defaults plus
    WAL): batches of 10k, one transaction. Run in its own process (``python bench/_lib.py``), so
    its memory never inflates the benchmark process.

    Returns:
        The seconds of each repeat, and the number of rows.
    """
    with sqlite3.connect(source) as src:
        columns = table_columns(src, "transactions")
        rows = src.execute(f"SELECT {', '.join(columns)} FROM transactions").fetchall()
    src.close()
    sql = upsert_sql(columns, key, PRESERVED)
    found = []
    for _ in range(repeat):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        clone_schema(source, target, copy_tables=("provider_connections", "accounts"))
        con = sqlite3.connect(target)
        started = time.perf_counter()
        with con:
            for start in range(0, len(rows), BATCH):
                con.executemany(sql, rows[start : start + BATCH])
        found.append(time.perf_counter() - started)
        con.close()
    return found, len(rows)


def csv_rows(path: Path) -> int:
    """Data rows of a CSV file with a header (quoted newlines handled)."""
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


# --------------------------------------------------------------------------- environment


def stale_bytecode(package: Path) -> list[Path]:
    """Modules of ``package`` whose cached bytecode is missing or older than the source.

    With ``PYTHONDONTWRITEBYTECODE=1`` such a module is recompiled on every start, which would
    make start-up figures meaningless.
    """
    stale = []
    for source in package.rglob("*.py"):
        cached = Path(cache_from_source(str(source)))
        try:
            header = cached.read_bytes()[:16]
        except OSError:
            stale.append(source)
            continue
        stat = source.stat()
        mtime = int.from_bytes(header[8:12], "little")
        size = int.from_bytes(header[12:16], "little")
        if header[:4] != MAGIC_NUMBER or (mtime, size) != (
            int(stat.st_mtime) & 0xFFFFFFFF,
            stat.st_size & 0xFFFFFFFF,
        ):
            stale.append(source)
    return stale


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, OS and Python version of this machine."""
    cpu = platform.processor() or platform.machine()
    ram = "unknown"
    with_suffix = {"cpuinfo": "model name", "meminfo": "MemTotal"}
    for name, field in with_suffix.items():
        try:
            lines = Path(f"/proc/{name}").read_text().splitlines()
        except OSError:
            continue
        value = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith(field)), None)
        if value and name == "cpuinfo":
            cpu = value
        elif value:
            ram = f"{int(value.split()[0]) / 1024 / 1024:.1f} GiB"
    os_name = platform.platform()
    try:
        release = Path("/etc/os-release").read_text()
        pretty = next(ln for ln in release.splitlines() if ln.startswith("PRETTY_NAME="))
        os_name = f"{pretty.split('=', 1)[1].strip('"')} (Linux {platform.release()})"
    except (OSError, StopIteration):
        pass
    return {
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": os_name,
        "Python": f"{platform.python_version()} ({sys.executable})",
        "SQLite": sqlite3.sqlite_version,
    }


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """A goal on a figure's ratio or on its value: ``ratio >= 0.3``, ``value <= 300`` ..."""

    on: Literal["ratio", "value"]
    op: Literal[">=", "<=", "<"]
    bound: float
    unit: str = ""

    def met(self, value: float) -> bool:
        """Whether ``value`` (the ratio or the figure, as ``on`` says) meets the goal."""
        if self.op == ">=":
            return value >= self.bound
        if self.op == "<=":
            return value <= self.bound
        return value < self.bound

    def __str__(self) -> str:
        op = {">=": "≥", "<=": "≤", "<": "<"}[self.op]
        suffix = f" {self.unit}" if self.unit else "x"
        return f"{op} {self.bound:g}{suffix}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Figure:
    """One benchmark figure, its baseline and target."""

    name: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    target: Target | None = None
    rss_mb: float | None = None
    detail: str = ""

    @property
    def verdict(self) -> str:
        """PASS, FAIL, or INFO for a figure without a target."""
        if self.target is None:
            return "INFO"
        checked = self.ratio if self.target.on == "ratio" else self.value
        return "PASS" if checked is not None and self.target.met(checked) else "FAIL"

    @property
    def ratio_text(self) -> str:
        """The ratio to 2 decimals, or 3 when 2 would round it onto its target's bound."""
        if self.ratio is None:
            return ""
        target = self.target
        if target is not None and target.on == "ratio" and abs(self.ratio - target.bound) < 0.005:
            return f"{self.ratio:.3f}"
        return f"{self.ratio:.2f}"

    def line(self) -> str:
        """``name: value unit (ratio X.XX vs baseline; target ≥ T) PASS|FAIL``."""
        parts = []
        if self.ratio is not None:
            parts.append(f"ratio {self.ratio_text} vs {self.baseline}")
        if self.target is not None:
            parts.append(f"target {self.target}")
        inner = f" ({'; '.join(parts)})" if parts else ""
        return f"{self.name}: {_number(self.value)} {self.unit}{inner} {self.verdict}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def write_results(
    path: Path,
    *,
    info: Mapping[str, str],
    figures: Sequence[Figure],
    rows: int,
    notes: Sequence[str],
) -> None:
    """Write the results page: machine, date, one table row per figure, then notes."""
    lines = [
        "# Dashtam benchmark results",
        "",
        f"Written by `make bench` (`bench/run.py`) on {time.strftime('%Y-%m-%d %H:%M %Z')}, "
        f"{rows:,} demo transactions. See `bench/README.md` for what each figure means.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in info.items()),
        "",
        "## Figures",
        "",
        "| Benchmark | Dashtam | Baseline | Ratio | Target | Result | Peak RSS |",
        "|---|---:|---|---:|---|---|---:|",
    ]
    for f in figures:
        base = f.baseline
        if f.baseline_value is not None:
            base = f"{f.baseline}: {_number(f.baseline_value)} {f.unit}"
        rss = "" if f.rss_mb is None else f"{f.rss_mb:,.0f} MB"
        lines.append(
            f"| {f.name} | {_number(f.value)} {f.unit} | {base} | {f.ratio_text} | "
            f"{f.target or ''} | {f.verdict} | {rss} |"
        )
    lines += ["", "## Notes", "", *(f"- {note}" for note in notes), ""]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    # python bench/_lib.py SOURCE_DB TARGET_DB REPEAT KEY_COLUMN... -> {"seconds": [..], "rows": n}
    source_db, target_db, times, *key_columns = sys.argv[1:]
    took, count = raw_upsert_seconds(Path(source_db), Path(target_db), key_columns, int(times))
    print(json.dumps({"seconds": took, "rows": count}))
