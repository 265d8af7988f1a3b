"""Token storage on a real SQLite database, and the refreshing token source under its lock."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from uuid import uuid4

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dashtam_cli.domain.connections import (
    ConnectionStatus,
    CredentialKind,
    ProviderConnection,
    ProviderCredentials,
)
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success, fail
from dashtam_cli.domain.events import (
    ProviderTokenRefreshAttempted,
    ProviderTokenRefreshFailed,
    ProviderTokenRefreshSucceeded,
)
from dashtam_cli.infrastructure.db.engine import create_engine
from dashtam_cli.infrastructure.db.migrate import upgrade
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from dashtam_cli.infrastructure.locks import (
    AdvisoryRefreshLock,
    FileRefreshLock,
    RefreshLock,
    RefreshLockFactory,
    refresh_lock_factory,
)
from dashtam_cli.infrastructure.providers.schwab.oauth import OAuthClient
from dashtam_cli.infrastructure.providers.schwab.tokens import (
    CredentialVault,
    SchwabTokenSource,
    TokenSet,
)
from dashtam_cli.infrastructure.secrets import AesGcmCipher
from tests.fakes import FrozenClock, MemoryKeyStore, RecordingEventSink
from tests.infrastructure.schwab.auth_fakes import (
    ACCESS,
    APP,
    CLIENT_SECRET,
    ENDPOINTS,
    NOW,
    REFRESH,
    TOKEN_URL,
    token_body,
)

if TYPE_CHECKING:
    from dashtam_cli.infrastructure.providers.schwab.api import AccessTokenSource

NEW_ACCESS = "I0.ACCESS-two-bmV3@"
DEAD_REFRESH_BODY = {
    "error": "unsupported_token_type",
    "error_description": (
        '400 Bad Request: "{\\"error_description\\":\\"Exception while authenticating refresh '
        'token [tokenDigest=AAAA=]\\",\\"error\\":\\"refresh_token_authentication_error\\"}"'
    ),
}
POSTGRES_URL = os.environ.get(
    "DASHTAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def value[T](result: Result[T]) -> T:
    assert isinstance(result, Success), result
    return result.value


def error(result: Result[Any]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


def issued(at: datetime = NOW, *, access: str = ACCESS) -> TokenSet:
    """Tokens from a code exchange at ``at``."""
    return TokenSet(
        access_token=access,
        refresh_token=REFRESH,
        access_expires_at=at + timedelta(minutes=30),
        refresh_expires_at=at + timedelta(days=7),
        obtained_at=at,
    )


# =========================================================================== the token set


def test_the_token_set_round_trips_and_hides_its_tokens() -> None:
    tokens = dataclasses.replace(issued(), refreshed_at=NOW + timedelta(hours=1))

    assert value(TokenSet.from_bytes(tokens.to_bytes())) == tokens
    assert ACCESS not in repr(tokens)
    assert REFRESH not in repr(tokens)
    assert ACCESS not in str(tokens)
    assert "2026-03-09T15:00:00+00:00" in repr(tokens)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'{"version": 2}',
        json.dumps({**json.loads(issued().to_bytes()), "access_token": ""}).encode(),
        json.dumps(
            {**json.loads(issued().to_bytes()), "obtained_at": "2026-03-02T15:00:00"}
        ).encode(),
        json.dumps({**json.loads(issued().to_bytes()), "refreshed_at": "yesterday"}).encode(),
        json.dumps({**json.loads(issued().to_bytes()), "refresh_expires_at": 5}).encode(),
        b"\xff\xfe",
    ],
)
def test_unreadable_stored_tokens_mean_reauth_required(data: bytes) -> None:
    failure = error(TokenSet.from_bytes(data))

    assert failure.code is ErrorCode.REAUTH_REQUIRED
    assert failure.hint == "dashtam providers connect schwab"


def test_the_grant_carries_the_serialized_tokens_and_expiries() -> None:
    tokens = issued()

    grant = tokens.to_grant(frozenset({"acct-a", "acct-b"}))

    assert value(TokenSet.from_bytes(grant.secret)) == tokens
    assert grant.access_expires_at == tokens.access_expires_at
    assert grant.refresh_expires_at == NOW + timedelta(days=7)
    assert grant.identities == frozenset({"acct-a", "acct-b"})
    assert ACCESS not in repr(grant)


@pytest.mark.parametrize(
    ("left", "refresh"),
    [
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(minutes=5), True),
        (timedelta(minutes=1), True),
        (timedelta(minutes=-10), True),
    ],
)
def test_refresh_is_due_when_five_minutes_or_less_remain(left: timedelta, refresh: bool) -> None:
    tokens = issued()

    assert tokens.needs_refresh(tokens.access_expires_at - left) is refresh


# =========================================================================== the database


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'dashtam.db'}")
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


@pytest.fixture
def vault(uow_factory: SqlUnitOfWorkFactory) -> CredentialVault:
    return CredentialVault(uow_factory, AesGcmCipher(MemoryKeyStore()))


async def seed(
    uow_factory: SqlUnitOfWorkFactory, vault: CredentialVault, tokens: TokenSet
) -> ProviderConnection:
    """An active Schwab connection holding ``tokens``, committed."""
    connection = ProviderConnection(
        provider="schwab", alias="main", status=ConnectionStatus.ACTIVE, connected_at=NOW
    )
    credentials = value(vault.encrypt(connection.id, tokens))
    connection = connection.with_credentials(credentials, now=NOW)
    async with uow_factory() as uow:
        await uow.connections.save(connection)
        await uow.commit()
    return connection


async def test_the_vault_round_trips_encrypted_tokens(
    uow_factory: SqlUnitOfWorkFactory, vault: CredentialVault
) -> None:
    connection = await seed(uow_factory, vault, issued())
    refreshed = dataclasses.replace(
        issued(), access_token=NEW_ACCESS, refreshed_at=NOW + timedelta(minutes=29)
    )

    saved = value(await vault.store(connection, refreshed, now=NOW + timedelta(minutes=29)))
    stored_connection, stored_tokens = value(await vault.load(connection.id))

    assert stored_tokens == refreshed
    assert stored_connection.credentials == saved.credentials
    credentials = stored_connection.credentials
    assert credentials is not None
    assert credentials.kind is CredentialKind.OAUTH2
    assert credentials.access_expires_at == refreshed.access_expires_at
    assert credentials.refresh_expires_at == NOW + timedelta(days=7)
    for secret in (NEW_ACCESS, REFRESH):
        assert secret.encode() not in credentials.ciphertext


async def test_store_keeps_columns_changed_by_someone_else(
    uow_factory: SqlUnitOfWorkFactory, vault: CredentialVault
) -> None:
    connection = await seed(uow_factory, vault, issued())
    async with uow_factory() as uow:
        await uow.connections.save(dataclasses.replace(connection, alias="renamed"))
        await uow.commit()

    saved = value(await vault.store(connection, issued(access=NEW_ACCESS), now=NOW))

    assert saved.alias == "renamed"
    loaded, tokens = value(await vault.load(connection.id))
    assert (loaded.alias, tokens.access_token) == ("renamed", NEW_ACCESS)


async def test_credentials_are_bound_to_their_connection(
    uow_factory: SqlUnitOfWorkFactory, vault: CredentialVault
) -> None:
    connection = await seed(uow_factory, vault, issued())
    impostor = dataclasses.replace(connection, id=uuid4(), alias="impostor")

    failure = error(vault.decrypt(impostor))

    assert failure.code is ErrorCode.SECRET_DECRYPTION_FAILED


async def test_missing_connections_and_credentials(
    uow_factory: SqlUnitOfWorkFactory, vault: CredentialVault
) -> None:
    bare = ProviderConnection(provider="schwab", alias="bare")

    assert error(await vault.load(uuid4())).code is ErrorCode.NOT_FOUND
    failure = error(vault.decrypt(bare))
    assert failure.code is ErrorCode.REAUTH_REQUIRED
    assert failure.hint == "dashtam providers connect schwab --alias bare"
    none_kind = bare.with_credentials(
        ProviderCredentials(ciphertext=b"x", kind=CredentialKind.NONE), now=NOW
    )
    assert error(vault.decrypt(none_kind)).code is ErrorCode.REAUTH_REQUIRED


# =========================================================================== the token source


class FakeSchwab:
    """Schwab's token endpoint as an httpx transport: counts refresh POSTs, can be slow or dead."""

    def __init__(self, *, delay: float = 0.0, dead: bool = False) -> None:
        self.delay = delay
        self.dead = dead
        self.posts: list[dict[str, list[str]]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == TOKEN_URL
        self.posts.append(parse_qs(request.content.decode()))
        await asyncio.sleep(self.delay)
        if self.dead:
            return httpx.Response(400, json=DEAD_REFRESH_BODY)
        return httpx.Response(200, json=token_body(access=NEW_ACCESS, refresh=None))


class Harness:
    """Token sources over one database, one lock directory and one fake Schwab."""

    def __init__(
        self,
        *,
        vault: CredentialVault,
        locks: RefreshLockFactory,
        schwab: FakeSchwab,
        clock: FrozenClock,
    ) -> None:
        self.vault = vault
        self.locks = locks
        self.schwab = schwab
        self.clock = clock
        self.events = RecordingEventSink()
        self.clients: list[OAuthClient] = []

    def source(self, connection: ProviderConnection) -> SchwabTokenSource:
        oauth = OAuthClient(
            app=APP, endpoints=ENDPOINTS, transport=httpx.MockTransport(self.schwab)
        )
        self.clients.append(oauth)
        return SchwabTokenSource(
            connection=connection,
            oauth=oauth,
            vault=self.vault,
            lock=self.locks,
            events=self.events,
            clock=self.clock,
        )

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


@pytest.fixture
async def harness(vault: CredentialVault, tmp_path: Path) -> AsyncIterator[Harness]:
    locks = refresh_lock_factory(
        f"sqlite:///{tmp_path / 'data' / 'dashtam.db'}",
        None,  # type: ignore[arg-type]  # SQLite locks never touch the engine
        data_dir=tmp_path / "data",
        timeout=5.0,
    )
    built = Harness(vault=vault, locks=locks, schwab=FakeSchwab(), clock=FrozenClock(NOW))
    yield built
    await built.close()


async def test_a_fresh_token_is_served_without_refreshing(
    uow_factory: SqlUnitOfWorkFactory, harness: Harness
) -> None:
    connection = await seed(uow_factory, harness.vault, issued())
    harness.clock.set(NOW + timedelta(minutes=24, seconds=59))

    assert value(await harness.source(connection).access_token()) == ACCESS
    assert harness.schwab.posts == []
    assert harness.events.events == []


async def test_an_expiring_token_is_refreshed_persisted_and_announced(
    uow_factory: SqlUnitOfWorkFactory, harness: Harness
) -> None:
    connection = await seed(uow_factory, harness.vault, issued())
    later = harness.clock.advance(timedelta(minutes=25))
    source = harness.source(connection)

    assert value(await source.access_token()) == NEW_ACCESS
    assert value(await source.access_token()) == NEW_ACCESS, "the new token is kept"

    assert harness.schwab.posts == [{"grant_type": ["refresh_token"], "refresh_token": [REFRESH]}]
    _, stored = value(await harness.vault.load(connection.id))
    assert stored.access_token == NEW_ACCESS
    assert stored.refresh_token == REFRESH, "kept: the response had none"
    assert stored.access_expires_at == later + timedelta(minutes=30)
    assert stored.refresh_expires_at == NOW + timedelta(days=7)
    assert source.connection.access_expires_at == later + timedelta(minutes=30)
    assert (
        source.connection.credentials
        == (await _stored_connection(uow_factory, connection)).credentials
    )
    assert harness.events.names == [
        "ProviderTokenRefreshAttempted",
        "ProviderTokenRefreshSucceeded",
    ]
    succeeded = harness.events.of_type(ProviderTokenRefreshSucceeded)[0]
    assert succeeded.connection_id == connection.id
    assert succeeded.context["refresh_expires_at"] == (NOW + timedelta(days=7)).isoformat()
    for secret in (ACCESS, NEW_ACCESS, REFRESH, CLIENT_SECRET):
        assert secret not in repr(harness.events.events)


async def _stored_connection(
    uow_factory: SqlUnitOfWorkFactory, connection: ProviderConnection
) -> ProviderConnection:
    async with uow_factory() as uow:
        stored = await uow.connections.get(connection.id)
    assert stored is not None
    return stored


async def test_two_processes_refreshing_at_once_post_exactly_once(
    uow_factory: SqlUnitOfWorkFactory, harness: Harness
) -> None:
    connection = await seed(uow_factory, harness.vault, issued())
    harness.clock.advance(timedelta(minutes=28))
    harness.schwab.delay = 0.3  # the first refresh is still in flight when the second asks
    first, second = harness.source(connection), harness.source(connection)

    tokens = await asyncio.gather(first.access_token(), second.access_token())

    assert [value(t) for t in tokens] == [NEW_ACCESS, NEW_ACCESS]
    assert len(harness.schwab.posts) == 1
    assert harness.events.names == [
        "ProviderTokenRefreshAttempted",
        "ProviderTokenRefreshSucceeded",
    ]


async def test_a_forced_refresh_posts_even_with_time_left_unless_done_elsewhere(
    uow_factory: SqlUnitOfWorkFactory, harness: Harness
) -> None:
    connection = await seed(uow_factory, harness.vault, issued())
    first, second = harness.source(connection), harness.source(connection)
    assert value(await second.access_token()) == ACCESS  # second holds the old token

    assert value(await first.force_refresh()) == NEW_ACCESS
    assert value(await second.force_refresh()) == NEW_ACCESS, "adopts the other refresh"

    assert len(harness.schwab.posts) == 1
    attempted = harness.events.of_type(ProviderTokenRefreshAttempted)
    assert [e.context["reason"] for e in attempted] == ["forced"]


async def test_a_dead_refresh_token_is_reauth_required_with_events(
    uow_factory: SqlUnitOfWorkFactory, harness: Harness
) -> None:
    connection = await seed(uow_factory, harness.vault, issued())
    harness.clock.advance(timedelta(days=8))
    harness.schwab.dead = True
    source = harness.source(connection)

    failure = error(await source.access_token())

    assert failure.code is ErrorCode.REAUTH_REQUIRED
    assert "expired" in failure.message
    assert failure.hint == "dashtam providers connect schwab --alias main"
    assert len(harness.schwab.posts) == 1
    assert harness.events.names == ["ProviderTokenRefreshAttempted", "ProviderTokenRefreshFailed"]
    failed = harness.events.of_type(ProviderTokenRefreshFailed)[0]
    assert failed.error_code is ErrorCode.REAUTH_REQUIRED
    assert REFRESH not in failed.error_message
    _, stored = value(await harness.vault.load(connection.id))
    assert stored == issued(), "nothing stored on failure"


class RefusingLock:
    async def acquire(self) -> Result[None, DomainError]:
        return fail(ErrorCode.PROVIDER_UNAVAILABLE, "lock busy")

    async def release(self) -> None:
        raise AssertionError("never taken, never released")


async def test_a_lock_that_cannot_be_taken_fails_without_posting(
    uow_factory: SqlUnitOfWorkFactory, vault: CredentialVault
) -> None:
    schwab = FakeSchwab()
    harness = Harness(
        vault=vault, locks=lambda _id: RefusingLock(), schwab=schwab, clock=FrozenClock(NOW)
    )
    connection = await seed(uow_factory, vault, issued())
    try:
        failure = error(await harness.source(connection).force_refresh())
    finally:
        await harness.close()

    assert failure.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert schwab.posts == []
    assert harness.events.names == ["ProviderTokenRefreshAttempted", "ProviderTokenRefreshFailed"]
    assert harness.events.of_type(ProviderTokenRefreshFailed)[0].context["step"] == "lock"


async def test_a_disconnected_connection_cannot_refresh(
    uow_factory: SqlUnitOfWorkFactory, harness: Harness
) -> None:
    connection = await seed(uow_factory, harness.vault, issued())
    async with uow_factory() as uow:
        await uow.connections.save(value(connection.disconnect(now=NOW)))
        await uow.commit()
    harness.clock.advance(timedelta(hours=1))

    failure = error(await harness.source(connection).access_token())

    assert failure.code is ErrorCode.REAUTH_REQUIRED
    assert failure.hint == "dashtam providers connect schwab --alias main"
    assert harness.schwab.posts == []


# =========================================================================== the locks


async def test_the_file_lock_waits_then_times_out(tmp_path: Path) -> None:
    connection_id = uuid4()
    make = refresh_lock_factory(
        "sqlite:///" + str(tmp_path / "dashtam.db"),
        None,  # type: ignore[arg-type]
        data_dir=tmp_path,
        timeout=0.2,
    )
    holder, waiter = make(connection_id), make(connection_id)
    assert isinstance(holder, FileRefreshLock)
    assert holder.path == tmp_path / "locks" / f"refresh-{connection_id}.lock"

    value(await holder.acquire())
    refused = error(await waiter.acquire())
    assert refused.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert refused.details["reason"] == "refresh_lock_timeout"
    assert value(await make(uuid4()).acquire()) is None, "other connections are not blocked"

    released = asyncio.create_task(_release_later(holder, 0.05))
    late = FileRefreshLock(holder.path, timeout=2.0)
    value(await late.acquire())
    await released
    await late.release()


async def _release_later(lock: RefreshLock, delay: float) -> None:
    await asyncio.sleep(delay)
    await lock.release()
    await lock.release()  # harmless


def _postgres_reachable() -> bool:
    libpq = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(libpq, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


async def test_the_postgres_advisory_lock_serialises_one_connection() -> None:
    if not _postgres_reachable():
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable")
    engine = create_engine(POSTGRES_URL)
    connection_id, other_id = uuid4(), uuid4()
    try:
        make = refresh_lock_factory(POSTGRES_URL, engine, data_dir=Path("/nonexistent"))
        holder = make(connection_id)
        assert isinstance(holder, AdvisoryRefreshLock)
        waiter = AdvisoryRefreshLock(engine, connection_id, timeout=0.3)

        value(await holder.acquire())
        assert error(await waiter.acquire()).code is ErrorCode.PROVIDER_UNAVAILABLE
        other = AdvisoryRefreshLock(engine, other_id, timeout=0.3)
        value(await other.acquire())
        await other.release()

        released = asyncio.create_task(_release_later(holder, 0.1))
        late = AdvisoryRefreshLock(engine, connection_id, timeout=3.0)
        value(await late.acquire())
        await released
        await late.release()
    finally:
        await engine.dispose()


if TYPE_CHECKING:  # mypy: the token source is the Trader API client's port; both locks conform
    _source: AccessTokenSource = SchwabTokenSource(
        connection=ProviderConnection(provider="schwab", alias="x"),
        oauth=OAuthClient(app=APP, endpoints=ENDPOINTS),
        vault=CredentialVault(
            SqlUnitOfWorkFactory(create_engine("sqlite://")), AesGcmCipher(MemoryKeyStore())
        ),
        lock=lambda connection_id: FileRefreshLock(Path("x")),
        events=RecordingEventSink(),
        clock=FrozenClock(datetime.now(UTC)),
    )
    _advisory: RefreshLock = AdvisoryRefreshLock(create_engine("sqlite://"), uuid4())
    _file: RefreshLock = FileRefreshLock(Path("x"))
