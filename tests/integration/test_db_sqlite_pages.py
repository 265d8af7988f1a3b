"""The ``sqlite3`` readers page transactions exactly like the SQLAlchemy reader (SQLite only)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.domain.accounts import Account
from dashtam_cli.infrastructure.db.engine import sqlite_path
from dashtam_cli.infrastructure.db.readers import SqlTransactionReader
from dashtam_cli.infrastructure.db.sqlite_readers import SqliteReaders
from tests.integration.test_db_transaction_pages import accounts, cases, chained

pytestmark = pytest.mark.db

__all__ = ["accounts"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the ``sqlite3`` readers exist for SQLite files."""
    return f"sqlite:///{tmp_path / 'data' / 'dashtam.db'}"


async def test_the_sqlite3_readers_page_exactly_like_sqlalchemy(
    db_url: str, engine: AsyncEngine, accounts: list[Account]
) -> None:
    path = sqlite_path(db_url)
    assert path is not None
    fast = SqliteReaders(path)
    try:
        slow = SqlTransactionReader(engine)
        compared = 0
        for criteria, limit in itertools.product(cases(accounts), [1, 7, 50]):
            want = await chained(slow, criteria, limit)
            got = await chained(fast.transactions, criteria, limit)
            assert got == want, (criteria, limit)
            assert repr(got) == repr(want)  # Decimal scale and time zones too
            compared += len(want)
        assert compared > 500
    finally:
        fast.close()
