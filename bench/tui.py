"""Dashboard benchmarks (``dashtam tui``), driven by Textual's Pilot on a large demo database.

* first paint: a fresh Python process opens the dashboard exactly as ``dashtam tui`` does (the
  composition root from the environment, logs configured) and runs until the overview shows its
  accounts. Measured from the first line of the process's script, so Dashtam's and Textual's
  imports count; the interpreter's own start (``python -c pass``, ~20 ms) does not.
* filter change: on the transactions screen, from the change (a type or account picked in a
  select; dates, a symbol or a search typed and Enter pressed) to the new first page shown.

Usage::

    .venv/bin/python bench/tui.py                          # builds a 1,000,000-row demo first
    .venv/bin/python bench/tui.py --data-dir /tmp/tui-bench --results /tmp/tui.md
    .venv/bin/python bench/tui.py --transactions 50000 --runs 3

``--data-dir`` reuses a data dir holding a demo database (``dashtam.db``); without it the
script builds one in a private temporary directory (minutes for a million rows). Exits 0 when a
target is missed (benchmarks report, they do not gate), 1 when a measured step fails.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before any import the first paint pays for

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Mapping, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
DASHTAM = str(ROOT / ".venv" / "bin" / "dashtam")
SIZE = (100, 30)
FIRST_PAINT_TARGET_S = 1.0
FILTER_TARGET_S = 0.300
DEFAULT_ROWS = 1_000_000

# ------------------------------------------------------------------------------ the child process


async def _until(condition: Callable[[], bool], pilot: Any, *, within: float = 60.0) -> None:
    """Poll every few milliseconds until ``condition`` holds, then let the screen repaint."""
    deadline = time.perf_counter() + within
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the dashboard did not show the expected data in time")
        await asyncio.sleep(0.002)
    await pilot.pause()


async def _measure(filters: bool) -> dict[str, Any]:
    """One cold first paint, then (optionally) every filter change once."""
    from textual import events
    from textual.widgets import DataTable, Input, Select

    from dashtam_cli.__main__ import open_services
    from dashtam_cli.application.queries import AccountList
    from dashtam_cli.domain.errors import Failure
    from dashtam_cli.presentation.tui.app import DashtamApp
    from dashtam_cli.presentation.tui.screens.overview import OverviewScreen

    imported = time.perf_counter()
    app = DashtamApp(open_services)
    found: dict[str, Any] = {"imports_s": imported - STARTED}
    async with app.run_test(size=SIZE) as pilot:

        def overview_painted() -> bool:
            screen = app.screen
            return (
                isinstance(screen, OverviewScreen)
                and screen.query_one("#accounts", DataTable).row_count > 0
            )

        await _until(overview_painted, pilot)
        painted = time.perf_counter()
        found["first_paint_s"] = painted - STARTED
        found["app_paint_s"] = painted - imported
        if not filters:
            return found

        from dashtam_cli.presentation.tui.screens.transactions import TransactionsScreen

        await pilot.press("t")
        await _until(lambda: isinstance(app.screen, TransactionsScreen), pilot)
        screen = app.screen
        assert isinstance(screen, TransactionsScreen)
        await _until(lambda: screen.pages_shown >= 1, pilot)
        listed = await app.execute(AccountList())
        if isinstance(listed, Failure):
            raise RuntimeError(f"accounts list failed: {listed.error.message}")
        first_account = str(listed.value.accounts[0].account.id)

        async def timed(change: Callable[[], None]) -> float:
            """Seconds from ``change`` to its first page shown and the app idle again."""
            shown = screen.pages_shown
            started = time.perf_counter()
            change()
            await _until(lambda: screen.pages_shown > shown, pilot)
            return time.perf_counter() - started

        def fill(widget_id: str, text: str) -> None:
            field = screen.query_one(f"#{widget_id}", Input)
            with screen.prevent(Input.Changed):  # the text as if typed; Enter is what counts
                field.value = text

        def enter() -> None:
            """Enter, as the terminal driver delivers it (Pilot's press also waits for idle)."""
            driver = app._driver
            assert driver is not None
            key = events.Key("enter", "\r")
            key.set_sender(app)
            driver.send_message(key)

        async def typed(widget_id: str, text: str, *also: tuple[str, str]) -> Callable[[], None]:
            """Type into the fields (not timed), focus the last one: Enter is the change."""
            for other_id, other_text in also:
                fill(other_id, other_text)
            fill(widget_id, text)
            screen.query_one(f"#{widget_id}", Input).focus()
            await pilot.pause()
            return enter

        def pick(widget_id: str, value: str) -> Callable[[], None]:
            def change() -> None:
                screen.query_one(f"#{widget_id}", Select).value = value

            return change

        def clear() -> None:
            screen.action_clear_filters()

        cases: list[tuple[str, Callable[[], Any]]] = [
            ("type = dividend", lambda: pick("type", "dividend")),
            ("one account", lambda: pick("account", first_account)),
            ("dates: one quarter", lambda: typed("until", "2024-03-31", ("since", "2024-01-01"))),
            ("symbol = AAPL", lambda: typed("symbol", "AAPL")),
            ("search: frequent text (uber)", lambda: typed("search", "uber")),
            ("search: rare text (payroll)", lambda: typed("search", "payroll")),
            ("search: text found nowhere", lambda: typed("search", "zzqx")),
        ]
        changes: dict[str, list[float]] = {}
        for name, prepare in cases:
            prepared = prepare()
            change = await prepared if asyncio.iscoroutine(prepared) else prepared
            changes.setdefault(name, []).append(await timed(change))
            changes.setdefault("clear filters", []).append(await timed(clear))
        found["filters_s"] = changes
        found["rows_shown"] = screen.query_one("#transactions", DataTable).row_count
    return found


def child(filters: bool) -> int:
    """Measure in this process and print the figures as one JSON line."""
    print(json.dumps(asyncio.run(_measure(filters))))
    return 0


# ------------------------------------------------------------------------------ the parent


def private_env(data_dir: Path, config_dir: Path, home: Path) -> dict[str, str]:
    """The caller's environment minus DASHTAM_* / XDG_*, pointed at the benchmark's dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHTAM_", "XDG_", "VIRTUAL"))}
    env.update(
        HOME=str(home),
        DASHTAM_DATA_DIR=str(data_dir),
        DASHTAM_CONFIG_DIR=str(config_dir),
        DASHTAM_SECRETS_BACKEND="file",
    )
    return env


def build_demo(env: Mapping[str, str], rows: int) -> float:
    """``dashtam demo --transactions rows`` into the private data dir; its seconds."""
    started = time.perf_counter()
    subprocess.run(
        [DASHTAM, "demo", "--transactions", str(rows), "--format", "json"],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def run_child(env: Mapping[str, str], *, filters: bool) -> dict[str, Any]:
    """One measuring process; its JSON figures."""
    argv = [PYTHON, str(Path(__file__).resolve()), "--child"]
    if filters:
        argv.append("--filters")
    done = subprocess.run(
        argv, env=dict(env), capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def count_rows(data_dir: Path) -> int:
    """Transactions in the data dir's SQLite database."""
    import sqlite3

    con = sqlite3.connect(f"{(data_dir / 'dashtam.db').resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM transactions").fetchone()[0])
    finally:
        con.close()


def terminal_paint(env: Mapping[str, str], *, marker: bytes = b"Investments") -> float:
    """Seconds from spawning ``dashtam tui`` in a pseudo-terminal to the accounts on screen.

    The whole user-visible path: interpreter start, the CLI, the dashboard, a real terminal
    driver. ``marker`` is the first account group's name (the demo has investments).
    """
    import fcntl
    import pty
    import select
    import struct
    import termios

    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: become dashtam tui
        os.execve(DASHTAM, [DASHTAM, "tui"], {**env, "TERM": "xterm-256color"})
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    seen = b""
    painted: float | None = None
    deadline = started + 60
    try:
        while painted is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(fd, 1 << 16)
                except OSError:
                    break
                if b"Net worth" in seen and marker in seen:
                    painted = time.perf_counter() - started
        os.write(fd, b"q")
        end = time.perf_counter() + 10
        while time.perf_counter() < end:  # drain until it exits
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    if not os.read(fd, 1 << 16):
                        break
                except OSError:
                    break
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    if painted is None:
        raise RuntimeError("dashtam tui never showed the overview in a pseudo-terminal")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"dashtam tui exited {os.waitstatus_to_exitcode(status)}")
    return painted


def verdict(seconds: float, target: float) -> str:
    """PASS when within the target."""
    return "PASS" if seconds <= target else "FAIL"


def p90(values: Sequence[float]) -> float:
    """The 90th percentile (inclusive), or the only value."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def report(
    paints: Sequence[dict[str, Any]],
    filters: dict[str, list[float]],
    terminal: Sequence[float],
) -> tuple[list[str], list[str]]:
    """Printable lines and markdown table rows."""
    lines: list[str] = []
    table: list[str] = []
    first = [p["first_paint_s"] for p in paints]
    app_only = [p["app_paint_s"] for p in paints]
    imports = [p["imports_s"] for p in paints]
    median = statistics.median(first)
    lines.append(
        f"first paint of the overview: {median * 1000:,.0f} ms median, p90 {p90(first) * 1000:,.0f}"
        f" ms over {len(first)} cold starts (imports {statistics.median(imports) * 1000:,.0f} ms,"
        f" app {statistics.median(app_only) * 1000:,.0f} ms); target ≤ 1000 ms"
        f" {verdict(median, FIRST_PAINT_TARGET_S)}"
    )
    table.append(
        f"| first paint of the overview (cold process) | {median * 1000:,.0f} ms |"
        f" {p90(first) * 1000:,.0f} ms | ≤ 1000 ms | {verdict(median, FIRST_PAINT_TARGET_S)} |"
    )
    if terminal:
        med = statistics.median(terminal)
        lines.append(
            f"first paint, dashtam tui in a pseudo-terminal: {med * 1000:,.0f} ms median, p90"
            f" {p90(terminal) * 1000:,.0f} ms over {len(terminal)} (process spawn, interpreter"
            f" and CLI included); target ≤ 1000 ms {verdict(med, FIRST_PAINT_TARGET_S)}"
        )
        table.append(
            f"| first paint, `dashtam tui` in a pseudo-terminal (spawn to accounts shown) |"
            f" {med * 1000:,.0f} ms | {p90(terminal) * 1000:,.0f} ms | ≤ 1000 ms |"
            f" {verdict(med, FIRST_PAINT_TARGET_S)} |"
        )
    for name, values in filters.items():
        med = statistics.median(values)
        lines.append(
            f"filter change, {name}: {med * 1000:,.0f} ms median, p90 {p90(values) * 1000:,.0f} ms"
            f" over {len(values)}; target ≤ 300 ms {verdict(med, FILTER_TARGET_S)}"
        )
        table.append(
            f"| filter change: {name} | {med * 1000:,.0f} ms | {p90(values) * 1000:,.0f} ms |"
            f" ≤ 300 ms | {verdict(med, FILTER_TARGET_S)} |"
        )
    return lines, table


def markdown(table: Sequence[str], rows: int, runs: int) -> str:
    """The results section for ``--results``."""
    from _lib import machine

    info = machine()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            "## Dashboard (`dashtam tui`)",
            "",
            f"`bench/tui.py` on {time.strftime('%Y-%m-%d %H:%M %Z')}: {rows:,} demo transactions,"
            f" a {SIZE[0]}x{SIZE[1]} headless terminal (Textual Pilot), {runs} cold processes;"
            f" {info['CPU']}, {info['Cores']} cores, Python {info['Python'].split()[0]},"
            f" SQLite {info['SQLite']}; load average {load} at the end (other jobs share the"
            " cores: the figures move with it).",
            "",
            "| Measure | Median | p90 | Target | Result |",
            "|---|---:|---:|---|---|",
            *table,
            "",
            "First paint runs from the first line of a fresh process (Dashtam's and Textual's"
            " imports included, the interpreter's own start excluded) to the overview showing its"
            " accounts. A filter change runs from the change (a select picked; text typed and"
            " Enter pressed) to the new first page (100 rows) shown. Every page is a keyset query"
            " (LIMIT 101 after the last row's date and id): no page reads the whole table. A"
            " free-text search of three characters or more starts from the trigram search"
            " index's candidates; a shorter or very common text searches the newest three months"
            " first, then the whole table.",
            "",
        ]
    )


SECTION_TITLE = "## Dashboard (`dashtam tui`)"


def write_section(path: Path, section: str) -> None:
    """Put ``section`` into ``path``: replace an earlier dashboard section, else append it."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    start = old.find(SECTION_TITLE)
    if start < 0:
        text = (old.rstrip() + "\n\n" if old.strip() else "") + section
    else:
        end = old.find("\n## ", start + len(SECTION_TITLE))
        text = old[:start] + section.rstrip() + "\n" + (old[end:] if end >= 0 else "")
    path.write_text(text.rstrip() + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and report."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["--child"]:  # measuring: nothing more to import before the dashboard
        return child("--filters" in arguments)
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="an existing data dir holding a demo")
    parser.add_argument("--transactions", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--runs", type=int, default=5, help="cold processes (default 5)")
    parser.add_argument(
        "--results",
        type=Path,
        help="add (or replace) the dashboard section of this markdown file, e.g. bench/RESULTS.md",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(arguments)

    tmp = Path(tempfile.mkdtemp(prefix="dashtam-tui-bench-"))
    try:
        data_dir = args.data_dir or tmp / "data"
        env = private_env(data_dir, tmp / "config", tmp / "home")
        (tmp / "home").mkdir()
        if args.data_dir is None:
            print(f"building a {args.transactions:,}-transaction demo in {data_dir} ...")
            print(f"  built in {build_demo(env, args.transactions):.0f} s")
        rows = count_rows(data_dir)
        print(f"{rows:,} transactions in {data_dir / 'dashtam.db'}")
        paints = []
        filters: dict[str, list[float]] = {}
        for run in range(args.runs):
            measured = run_child(env, filters=True)
            paints.append(measured)
            for name, values in measured["filters_s"].items():
                filters.setdefault(name, []).extend(values)
            print(f"  run {run + 1}: first paint {measured['first_paint_s'] * 1000:,.0f} ms")
        terminal = []
        for _ in range(args.runs):
            terminal.append(terminal_paint(env))
        print(f"  dashtam tui in a pseudo-terminal: {[round(t * 1000) for t in terminal]} ms")
        lines, table = report(paints, filters, terminal)
        print()
        for line in lines:
            print(line)
        if args.results is not None:
            write_section(args.results, markdown(table, rows, args.runs))
            print(f"\nwrote {args.results}")
    except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))  # bench/_lib.py
    sys.exit(main())
