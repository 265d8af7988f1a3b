"""Suite-wide hooks: report which database backends the database tests actually ran on."""

from collections import Counter

import pytest

BACKENDS = ("sqlite", "postgresql")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print ``database tests: sqlite N passed, postgresql N passed`` after the run."""
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "call") not in {"call", "setup"}:
                continue
            if outcome == "passed" and report.when != "call":
                continue
            for backend in BACKENDS:
                if f"[{backend}" in nodeid or f"-{backend}]" in nodeid or f"-{backend}-" in nodeid:
                    counts[(backend, outcome)] += 1
    if not counts:
        return
    parts = []
    for backend in BACKENDS:
        detail = ", ".join(
            f"{counts[(backend, o)]} {o}"
            for o in ("passed", "failed", "skipped", "error")
            if counts[(backend, o)]
        )
        parts.append(f"{backend}: {detail or 'none'}")
    terminalreporter.write_sep("-", "database tests by backend")
    terminalreporter.write_line("; ".join(parts))
