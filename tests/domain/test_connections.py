from datetime import UTC, datetime

import pytest

from dashtam_cli.domain.connections import (
    ALLOWED_TRANSITIONS,
    ConnectionStatus,
    ProviderConnection,
    ProviderCredentials,
)
from dashtam_cli.domain.errors import ErrorCode, Failure, Success

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CREDS = ProviderCredentials(ciphertext=b"secret-bytes-never-shown")


def connection(status: ConnectionStatus) -> ProviderConnection:
    return ProviderConnection(provider="schwab", alias="main", status=status, credentials=CREDS)


def attempt(conn: ProviderConnection, target: ConnectionStatus) -> object:
    moves = {
        ConnectionStatus.ACTIVE: lambda: conn.activate(CREDS, now=NOW),
        ConnectionStatus.FAILED: lambda: conn.mark_failed(now=NOW),
        ConnectionStatus.EXPIRED: lambda: conn.expire(now=NOW),
        ConnectionStatus.REVOKED: lambda: conn.revoke(now=NOW),
        ConnectionStatus.DISCONNECTED: lambda: conn.disconnect(now=NOW),
    }
    return moves[target]()


@pytest.mark.parametrize("source", list(ConnectionStatus))
@pytest.mark.parametrize(
    "target", [s for s in ConnectionStatus if s is not ConnectionStatus.PENDING]
)
def test_state_machine_matches_the_design_table(
    source: ConnectionStatus, target: ConnectionStatus
) -> None:
    result = attempt(connection(source), target)
    if target in ALLOWED_TRANSITIONS[source]:
        assert isinstance(result, Success)
        assert result.value.status is target
        assert result.value.updated_at == NOW
    else:
        assert isinstance(result, Failure)
        assert result.error.code is ErrorCode.INVALID_TRANSITION
        assert source.value in result.error.message


def test_design_table() -> None:
    s = ConnectionStatus
    assert ALLOWED_TRANSITIONS[s.PENDING] == {s.ACTIVE, s.FAILED}
    assert ALLOWED_TRANSITIONS[s.ACTIVE] == {s.EXPIRED, s.REVOKED, s.DISCONNECTED}
    assert ALLOWED_TRANSITIONS[s.EXPIRED] == {s.ACTIVE, s.DISCONNECTED}
    assert ALLOWED_TRANSITIONS[s.REVOKED] == {s.ACTIVE, s.DISCONNECTED}
    assert ALLOWED_TRANSITIONS[s.FAILED] == {s.ACTIVE, s.DISCONNECTED}
    assert ALLOWED_TRANSITIONS[s.DISCONNECTED] == frozenset()


def test_disconnect_wipes_credentials_and_keeps_identity() -> None:
    active = connection(ConnectionStatus.ACTIVE)
    result = active.disconnect(now=NOW)
    assert isinstance(result, Success)
    assert result.value.credentials is None
    assert result.value.id == active.id
    assert active.credentials is CREDS  # the original is untouched (immutable)


def test_reconnect_reactivates_the_same_connection() -> None:
    expired = connection(ConnectionStatus.EXPIRED)
    result = expired.activate(CREDS, now=NOW)
    assert isinstance(result, Success)
    assert result.value.id == expired.id
    assert result.value.connected_at == NOW


def test_credentials_repr_hides_ciphertext() -> None:
    assert "secret-bytes" not in repr(CREDS)
    assert "secret-bytes" not in repr(connection(ConnectionStatus.ACTIVE))
