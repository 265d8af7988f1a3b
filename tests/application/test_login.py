"""``providers connect`` / ``providers refresh`` handlers, and how a sync treats a dead login."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dashtam_cli.application.commands import ConnectProvider, RefreshConnection, SyncConnections
from dashtam_cli.application.handlers.login import ConnectProviderHandler, RefreshConnectionHandler
from dashtam_cli.application.handlers.sync import SyncConnectionsHandler
from dashtam_cli.domain.accounts import Account, AccountType
from dashtam_cli.domain.connections import (
    ConnectionStatus,
    CredentialKind,
    ProviderConnection,
    ProviderCredentials,
    connection_associated_data,
)
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success, ok
from dashtam_cli.domain.events import (
    ConnectionExpiringSoon,
    ProviderConnectionAttempted,
    ProviderConnectionFailed,
    ProviderConnectionSucceeded,
)
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.providers import (
    AuthorizationOptions,
    ConnectInteraction,
    FetchedAccount,
    ProviderCapabilities,
    ProviderGrant,
    ProviderRegistry,
)
from dashtam_cli.domain.sync import SyncStatus
from dashtam_cli.infrastructure.secrets import AesGcmCipher
from tests.fakes import (
    FakeProvider,
    FrozenClock,
    InMemoryUnitOfWorkFactory,
    MemoryKeyStore,
    RecordingEventSink,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class SilentInteraction:
    def notice(self, message: str) -> None:
        pass

    def show_authorize_url(self, url: str) -> None:
        pass

    def open_browser(self, url: str) -> bool:
        return False

    def ask(self, prompt: str, *, secret: bool = False) -> str | None:
        return None

    def read_redirect(self, prompt: str) -> str | None:
        return None


class FakeOAuthProvider(FakeProvider):
    """A FakeProvider with a login: ``grant`` is what the next authorize returns."""

    def __init__(self, *, slug: str = "schwab") -> None:
        super().__init__(
            slug=slug,
            capabilities=ProviderCapabilities(max_window=timedelta(days=365), oauth=True),
        )
        self.grant: Result[ProviderGrant, DomainError] = ok(grant({"acct-1", "acct-2"}))
        self.refresh_result: Result[ProviderConnection, DomainError] | None = None
        self.refreshed: list[ProviderConnection] = []

    async def authorize(
        self, options: AuthorizationOptions, interaction: ConnectInteraction, *, now: datetime
    ) -> Result[ProviderGrant, DomainError]:
        return self.grant

    async def refresh(
        self, connection: ProviderConnection, *, now: datetime
    ) -> Result[ProviderConnection, DomainError]:
        self.refreshed.append(connection)
        if self.refresh_result is not None:
            return self.refresh_result
        assert connection.credentials is not None
        creds = replace(connection.credentials, access_expires_at=now + timedelta(minutes=30))
        return ok(replace(connection, credentials=creds))


def grant(identities: set[str], secret: bytes = b'{"access_token": "A1"}') -> ProviderGrant:
    return ProviderGrant(
        secret=secret,
        access_expires_at=NOW + timedelta(minutes=30),
        refresh_expires_at=NOW + timedelta(days=7),
        identities=frozenset(identities),
    )


class World:
    def __init__(self) -> None:
        self.uow = InMemoryUnitOfWorkFactory()
        self.keys = MemoryKeyStore()
        self.cipher = AesGcmCipher(self.keys)
        self.events = RecordingEventSink()
        self.clock = FrozenClock(NOW)
        self.provider = FakeOAuthProvider()
        self.registry = ProviderRegistry([self.provider, FakeProvider(slug="demo")])
        self.connect = ConnectProviderHandler(
            uow_factory=self.uow,
            providers=self.registry,
            cipher=self.cipher,
            events=self.events,
            clock=self.clock,
        )
        self.refresh = RefreshConnectionHandler(
            uow_factory=self.uow, providers=self.registry, clock=self.clock
        )

    def connections(self) -> list[ProviderConnection]:
        return list(self.uow.state.connections.values())

    def add_connection(
        self, alias: str, status: ConnectionStatus, accounts: Sequence[str] = ()
    ) -> ProviderConnection:
        connection = ProviderConnection(
            provider="schwab",
            alias=alias,
            status=status,
            credentials=ProviderCredentials(
                ciphertext=b"old", kind=CredentialKind.OAUTH2, refresh_expires_at=NOW
            ),
            created_at=NOW - timedelta(days=30),
        )
        self.uow.state.connections[connection.id] = connection
        for key in accounts:
            account = Account(
                connection_id=connection.id,
                provider_account_id=key,
                account_number_masked="****0001",
                name=key,
                account_type=AccountType.BROKERAGE,
                currency="USD",
                balance=Money(Decimal("1.00"), "USD"),
            )
            self.uow.state.accounts[account.id] = account
        return connection


def command(alias: str | None = None, provider: str = "schwab") -> ConnectProvider:
    return ConnectProvider(provider=provider, alias=alias, interaction=SilentInteraction())


async def test_first_connect_creates_an_active_connection_with_encrypted_tokens() -> None:
    world = World()

    result = await world.connect.handle(command())

    assert isinstance(result, Success)
    done = result.value
    assert done.created
    assert done.previous_status is None
    assert done.accounts_seen == 2
    [stored] = world.connections()
    assert stored.id == done.connection.id
    assert (stored.alias, stored.status) == ("schwab", ConnectionStatus.ACTIVE)
    assert stored.connected_at == NOW
    assert stored.credentials is not None
    assert stored.refresh_expires_at == NOW + timedelta(days=7)
    assert b"A1" not in stored.credentials.ciphertext
    plain = world.cipher.decrypt(
        stored.credentials.ciphertext, associated_data=connection_associated_data(stored.id)
    )
    assert plain == Success(value=b'{"access_token": "A1"}')
    assert world.events.names == ["ProviderConnectionAttempted", "ProviderConnectionSucceeded"]
    succeeded = world.events.of_type(ProviderConnectionSucceeded)[0]
    assert succeeded.connection_id == stored.id
    assert succeeded.context["created"] is True


async def test_a_second_login_gets_the_next_free_alias() -> None:
    world = World()
    world.add_connection("schwab", ConnectionStatus.ACTIVE, ["other-login-account"])

    result = await world.connect.handle(command())

    assert isinstance(result, Success)
    assert result.value.created
    assert result.value.connection.alias == "schwab-2"
    assert len(world.connections()) == 2


async def test_reconnecting_an_expired_login_reactivates_its_connection() -> None:
    world = World()
    old = world.add_connection("ira", ConnectionStatus.EXPIRED, ["acct-2", "acct-9"])
    world.add_connection("other", ConnectionStatus.ACTIVE, ["zzz"])

    result = await world.connect.handle(command(alias="ignored-for-existing"))

    assert isinstance(result, Success)
    done = result.value
    assert not done.created
    assert done.previous_status is ConnectionStatus.EXPIRED
    assert done.connection.id == old.id
    assert done.connection.alias == "ira"
    assert len(world.connections()) == 2
    stored = world.uow.state.connections[old.id]
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.credentials is not None
    assert stored.credentials.ciphertext != b"old"
    assert stored.refresh_expires_at == NOW + timedelta(days=7)


async def test_reconnecting_a_live_login_renews_its_tokens_in_place() -> None:
    world = World()
    old = world.add_connection("schwab", ConnectionStatus.ACTIVE, ["acct-1"])

    result = await world.connect.handle(command())

    assert isinstance(result, Success)
    assert result.value.connection.id == old.id
    assert not result.value.created
    assert world.uow.state.connections[old.id].connected_at == NOW


async def test_a_disconnected_connection_is_never_reused() -> None:
    world = World()
    old = world.add_connection("schwab", ConnectionStatus.DISCONNECTED, ["acct-1"])

    result = await world.connect.handle(command())

    assert isinstance(result, Success)
    assert result.value.created
    assert result.value.connection.id != old.id
    assert result.value.connection.alias == "schwab-2"


async def test_an_alias_of_another_login_is_refused_and_nothing_is_stored() -> None:
    world = World()
    world.add_connection("mine", ConnectionStatus.ACTIVE, ["someone-else"])

    result = await world.connect.handle(command(alias="mine"))

    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.INVALID_ARGUMENT
    assert len(world.connections()) == 1
    assert world.events.names == ["ProviderConnectionAttempted", "ProviderConnectionFailed"]


async def test_a_failed_login_records_the_failure_and_creates_nothing() -> None:
    world = World()
    world.provider.grant = Failure(
        error=DomainError(code=ErrorCode.OAUTH_FAILED, message="state mismatch")
    )

    result = await world.connect.handle(command())

    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.OAUTH_FAILED
    assert world.connections() == []
    failed = world.events.of_type(ProviderConnectionFailed)
    assert [e.error_code for e in failed] == [ErrorCode.OAUTH_FAILED]
    assert len(world.events.of_type(ProviderConnectionAttempted)) == 1


@pytest.mark.parametrize(
    ("provider", "code"),
    [("nope", ErrorCode.NOT_FOUND), ("demo", ErrorCode.INVALID_ARGUMENT)],
)
async def test_connect_needs_a_known_oauth_provider(provider: str, code: ErrorCode) -> None:
    world = World()

    result = await world.connect.handle(command(provider=provider))

    assert isinstance(result, Failure)
    assert result.error.code is code
    assert world.events.names == []


async def test_a_bad_alias_is_refused_before_the_login() -> None:
    world = World()

    result = await world.connect.handle(command(alias="two words"))

    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.INVALID_ARGUMENT
    assert world.events.names == []


async def test_refresh_reports_the_new_expiries() -> None:
    world = World()
    old = world.add_connection("schwab", ConnectionStatus.ACTIVE)

    result = await world.refresh.handle(RefreshConnection(connection_ref="schwab"))

    assert isinstance(result, Success)
    assert result.value.access_expires_at == NOW + timedelta(minutes=30)
    assert [c.id for c in world.provider.refreshed] == [old.id]


async def test_a_refused_refresh_expires_the_connection() -> None:
    world = World()
    old = world.add_connection("schwab", ConnectionStatus.ACTIVE)
    world.provider.refresh_result = Failure(
        error=DomainError(code=ErrorCode.REAUTH_REQUIRED, message="login expired")
    )

    result = await world.refresh.handle(RefreshConnection(connection_ref="schwab"))

    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.REAUTH_REQUIRED
    assert world.uow.state.connections[old.id].status is ConnectionStatus.EXPIRED


async def test_refresh_of_an_expired_connection_names_the_connect_command() -> None:
    world = World()
    world.add_connection("ira", ConnectionStatus.EXPIRED)

    result = await world.refresh.handle(RefreshConnection(connection_ref="ira"))

    assert isinstance(result, Failure)
    assert result.error.code is ErrorCode.CONNECTION_NOT_ACTIVE
    assert result.error.hint == "dashtam providers connect schwab --alias ira"
    assert world.provider.refreshed == []


# ------------------------------------------------------------------ sync and a dying login


class NoLock:
    async def acquire(self) -> Result[None, DomainError]:
        return ok(None)

    async def release(self) -> None:
        pass


def fetched(key: str) -> FetchedAccount:
    return FetchedAccount(
        provider_account_id=key,
        account_number_masked=f"****{key[-4:]}",
        name=key,
        account_type=AccountType.BROKERAGE,
        currency="USD",
        balance=Decimal("5.00"),
    )


def sync_handler(world: World) -> SyncConnectionsHandler:
    return SyncConnectionsHandler(
        uow_factory=world.uow,
        providers=world.registry,
        events=world.events,
        clock=world.clock,
        lock=NoLock(),
    )


async def test_a_login_dying_mid_sync_expires_the_connection_and_stops() -> None:
    world = World()
    connection = world.add_connection("schwab", ConnectionStatus.ACTIVE)
    world.provider.accounts = [fetched("acct-0001"), fetched("acct-0002")]
    world.provider.failing["acct-0001"] = DomainError(
        code=ErrorCode.REAUTH_REQUIRED, message="refresh token expired"
    )

    result = await sync_handler(world).handle(SyncConnections())

    assert isinstance(result, Success)
    [report] = result.value.connections
    assert report.status is SyncStatus.FAILED
    assert report.error is not None
    assert report.error.code is ErrorCode.REAUTH_REQUIRED
    assert [a.name for a in report.accounts] == ["acct-0001"]  # the second was not attempted
    assert world.uow.state.connections[connection.id].status is ConnectionStatus.EXPIRED


async def test_a_revoked_token_on_the_accounts_call_revokes_the_connection() -> None:
    world = World()
    connection = world.add_connection("schwab", ConnectionStatus.ACTIVE)
    world.provider.accounts_error = DomainError(code=ErrorCode.TOKEN_REVOKED, message="401")

    result = await sync_handler(world).handle(SyncConnections())

    assert isinstance(result, Success)
    assert world.uow.state.connections[connection.id].status is ConnectionStatus.REVOKED


@pytest.mark.parametrize(
    ("left", "warned"), [(timedelta(hours=5), True), (timedelta(days=3), False)]
)
async def test_sync_warns_when_the_login_ends_within_a_day(left: timedelta, warned: bool) -> None:
    world = World()
    connection = world.add_connection("schwab", ConnectionStatus.ACTIVE)
    assert connection.credentials is not None
    world.uow.state.connections[connection.id] = replace(
        connection, credentials=replace(connection.credentials, refresh_expires_at=NOW + left)
    )

    result = await sync_handler(world).handle(SyncConnections())

    assert isinstance(result, Success)
    warnings = world.events.of_type(ConnectionExpiringSoon)
    assert bool(warnings) is warned
    if warned:
        assert warnings[0].context["seconds_left"] == int(left.total_seconds())
        assert warnings[0].context["action"] == "dashtam providers connect schwab --alias schwab"
