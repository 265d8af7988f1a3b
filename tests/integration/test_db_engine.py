"""Engine construction: URL handling, SQLite file privacy and pragmas, lazy imports."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.infrastructure.db.engine import (
    UnsupportedDatabaseUrlError,
    create_engine,
    database_backend,
    describe_location,
    normalize_url,
)
from dashtam_cli.infrastructure.db.migrate import upgrade

pytestmark = pytest.mark.db


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/dashtam.db", "sqlite+aiosqlite:///data/dashtam.db"),
        ("sqlite+aiosqlite:////abs/dashtam.db", "sqlite+aiosqlite:////abs/dashtam.db"),
        ("postgresql://me@db/dashtam", "postgresql+psycopg://me@db/dashtam"),
        ("postgresql+psycopg://me@db/dashtam", "postgresql+psycopg://me@db/dashtam"),
        (
            "postgres://me@db/dashtam?sslmode=require",
            "postgresql+psycopg://me@db/dashtam?sslmode=require",
        ),
    ],
)
def test_urls_are_normalized_to_the_async_drivers(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_backend_and_location_are_safe_to_print(tmp_path: Path) -> None:
    assert database_backend("sqlite:///x.db") == "sqlite"
    assert database_backend("postgresql+psycopg://u@h/d") == "postgresql"
    assert describe_location(f"sqlite:///{tmp_path}/d.db") == str(tmp_path / "d.db")
    masked = describe_location("postgresql://me:s3cret@db.example:5432/dashtam")
    assert masked == "postgresql://me:***@db.example:5432/dashtam"
    assert describe_location("postgresql://me@db/dashtam") == "postgresql://me@db/dashtam"
    with pytest.raises(UnsupportedDatabaseUrlError):
        database_backend("mysql://me@db/dashtam")
    with pytest.raises(UnsupportedDatabaseUrlError):
        create_engine("not a url")


async def test_the_sqlite_file_and_directory_are_private(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "nested" / "dashtam.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        assert not path.exists()  # building an engine creates nothing
        await upgrade(engine)
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SELECT count(*) FROM accounts")
            assert _mode(path.parent) == 0o700
            assert _mode(path) == 0o600
            side_files = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
            assert all(p.exists() for p in side_files)
            assert [_mode(p) for p in side_files] == [0o600, 0o600]
    finally:
        await engine.dispose()


async def test_every_sqlite_connection_gets_the_pragmas(tmp_path: Path) -> None:
    engine: AsyncEngine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    pragmas = {}
    try:
        async with engine.connect() as connection:
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous"):
                result = await connection.exec_driver_sql(f"PRAGMA {name}")
                pragmas[name] = result.scalar_one()
    finally:
        await engine.dispose()
    # synchronous: 1 is NORMAL
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "synchronous": 1,
    }


def test_url_helpers_and_migrate_import_neither_sqlalchemy_nor_alembic() -> None:
    probe = (
        "import sys, json\n"
        "import dashtam_cli.infrastructure.db.engine as e, dashtam_cli.infrastructure.db.migrate\n"
        "e.describe_location('sqlite:///x.db'); e.database_backend('postgresql://h/d')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'alembic'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
