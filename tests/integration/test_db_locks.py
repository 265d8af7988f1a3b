"""One sync per database: a second lock attempt fails at once, on both backends."""

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.domain.errors import ErrorCode, Failure, Success
from dashtam_cli.infrastructure.locks import sync_lock_for


async def test_a_second_sync_lock_is_refused_until_released(
    engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    first = sync_lock_for(db_url, engine, data_dir=tmp_path)
    second = sync_lock_for(db_url, engine, data_dir=tmp_path)
    assert isinstance(await first.acquire(), Success)
    try:
        refused = await second.acquire()
        assert isinstance(refused, Failure)
        assert refused.error.code is ErrorCode.SYNC_LOCKED
        assert "try again later" in (refused.error.hint or "")
    finally:
        await first.release()
    assert isinstance(await second.acquire(), Success)
    await second.release()
    await second.release()  # releasing twice is harmless
