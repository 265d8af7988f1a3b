"""Test doubles and fixture loaders for the Schwab Trader API tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from dashtam_cli.domain.errors import DomainError, Failure, Result, ok

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "schwab"
BASE_URL = "https://api.schwabapi.test/trader/v1"
ACCESS_TOKEN = "I0.FAKE-ACCESS-Zml4dHVyZS1ub3QtYS1yZWFsLXRva2Vu@"
REFRESHED_TOKEN = "I0.FAKE-REFRESHED-bmV3LXRva2VuLWFmdGVyLTQwMQ@"
ACCOUNT_NUMBERS = ("90000017", "90000025")
SALT = b"test-identity-salt"


def fixture_bytes(name: str) -> bytes:
    """The raw bytes of ``tests/fixtures/schwab/<name>``."""
    return (FIXTURES / name).read_bytes()


def load_fixture(name: str) -> Any:
    """A fixture parsed the way the client parses Schwab JSON (``Decimal`` numbers)."""
    return json.loads(fixture_bytes(name), parse_float=Decimal)


@dataclass
class FakeTokens:
    """An ``AccessTokenSource`` handing out fixed tokens (or failures) and counting calls."""

    token: str = ACCESS_TOKEN
    refreshed: str = REFRESHED_TOKEN
    access_failure: Failure[DomainError] | None = None
    refresh_failure: Failure[DomainError] | None = None
    access_calls: int = 0
    refresh_calls: int = 0

    async def access_token(self) -> Result[str, DomainError]:
        """The current token."""
        self.access_calls += 1
        if self.access_failure is not None:
            return self.access_failure
        return ok(self.token)

    async def force_refresh(self) -> Result[str, DomainError]:
        """Switch to the refreshed token."""
        self.refresh_calls += 1
        if self.refresh_failure is not None:
            return self.refresh_failure
        self.token = self.refreshed
        return ok(self.token)


@dataclass
class FakeClock:
    """A monotonic clock and a sleep that advances it, recording every delay."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        """The current reading."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Record the delay and move the clock forward."""
        self.sleeps.append(seconds)
        self.now += seconds
