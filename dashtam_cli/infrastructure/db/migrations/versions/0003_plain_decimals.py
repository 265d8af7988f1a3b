"""Plain decimals: rewrite SQLite's stored amounts that carry an exponent (``1E-8``, ``0E-8``).

Before this revision SQLite stored ``str(Decimal)``, which writes an exponent for a value under
one millionth or with many zero decimals (``0.00000001`` became ``1E-8``, ``0.00000000``
became ``0E-8``), and exports passed that text through. The value was exact, but CSV and JSON
promise plain decimal strings. From now on every decimal is stored in plain notation; this
rewrites the rows stored before, keeping every decimal place (``0E-8`` -> ``0.00000000``).

PostgreSQL stores ``NUMERIC``, which has no text form to fix: nothing to do there. The
downgrade keeps the rewritten text, which older code reads as the same values.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 00:00:00
"""

# SQL is built from this module's constant table and column names only.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Every decimal column at this revision, by table.
DECIMAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("balance", "available_balance", "cash_balance"),
    "holdings": ("quantity", "average_price", "current_price", "cost_basis", "market_value"),
    "transactions": ("amount", "fees", "quantity", "unit_price"),
    "balance_snapshots": ("balance", "cash_value", "holdings_value"),
}


def plain_text(stored: str | None) -> str | None:
    """The stored text in plain notation (unchanged when it has no exponent)."""
    if stored is None or "E" not in stored.upper():
        return stored
    return format(Decimal(stored), "f")


def upgrade() -> None:
    """Rewrite, on SQLite, every stored decimal that has an exponent."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table, columns in DECIMAL_COLUMNS.items():
        has_exponent = " OR ".join(f"instr(upper({c}), 'E') > 0" for c in columns)
        rows = bind.exec_driver_sql(
            f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE {has_exponent}"
        ).all()
        if not rows:
            continue
        assignments = ", ".join(f"{c} = ?" for c in columns)
        bind.exec_driver_sql(
            f"UPDATE {table} SET {assignments} WHERE rowid = ?",
            [(*(plain_text(value) for value in row[1:]), row[0]) for row in rows],
        )


def downgrade() -> None:
    """Nothing to undo: plain text reads back as the same values."""
