"""The app key and secret: environment first, else stored encrypted after one prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from dashtam_cli.domain.connections import secret_associated_data
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.domain.protocols import StoredSecret
from dashtam_cli.infrastructure.db.engine import create_engine
from dashtam_cli.infrastructure.db.migrate import upgrade
from dashtam_cli.infrastructure.db.unit_of_work import SqlUnitOfWorkFactory
from dashtam_cli.infrastructure.providers.schwab.app_credentials import (
    CLIENT_ID_NAME,
    CLIENT_SECRET_NAME,
    AppCredentialStore,
)
from dashtam_cli.infrastructure.providers.schwab.config import SchwabApp
from dashtam_cli.infrastructure.secrets import AesGcmCipher
from dashtam_cli.settings import Settings
from tests.fakes import FrozenClock, InMemoryUnitOfWorkFactory, MemoryKeyStore
from tests.infrastructure.schwab.auth_fakes import CLIENT_ID, CLIENT_SECRET, NOW, ScriptedUser


def value[T](result: Result[T]) -> T:
    assert isinstance(result, Success), result
    return result.value


def error(result: Result[Any]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


@pytest.fixture
def database() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()


@pytest.fixture
def cipher() -> AesGcmCipher:
    return AesGcmCipher(MemoryKeyStore())


def store(
    database: InMemoryUnitOfWorkFactory,
    cipher: AesGcmCipher,
    *,
    client_id: SecretStr | str | None = None,
    client_secret: SecretStr | str | None = None,
) -> AppCredentialStore:
    return AppCredentialStore(
        uow_factory=database,
        cipher=cipher,
        clock=FrozenClock(NOW),
        client_id=client_id,
        client_secret=client_secret,
    )


def put(database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher, name: str, plain: str) -> None:
    blob = value(cipher.encrypt(plain.encode(), associated_data=secret_associated_data(name)))
    database.state.secrets[name] = StoredSecret(name=name, ciphertext=blob, updated_at=NOW)


async def test_configured_values_need_no_database_and_no_prompt(
    database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher
) -> None:
    configured = store(
        database, cipher, client_id=SecretStr(CLIENT_ID), client_secret=SecretStr(CLIENT_SECRET)
    )
    user = ScriptedUser()

    assert value(await configured.get()) == SchwabApp(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    assert value(await configured.obtain(user)) == SchwabApp(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    assert user.asked == []
    assert database.created == [], "the secrets table is not even opened"
    assert CLIENT_SECRET not in repr(configured)


async def test_missing_values_are_asked_once_hidden_and_stored_encrypted(
    database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher
) -> None:
    user = ScriptedUser(answers=[f"  {CLIENT_ID} ", CLIENT_SECRET])
    credentials = store(database, cipher)

    assert value(await credentials.get()) is None
    app = value(await credentials.obtain(user))

    assert app == SchwabApp(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert [secret for _, secret in user.asked] == [True, True]
    assert "stored encrypted" in user.said
    assert "DASHTAM_SCHWAB_CLIENT_ID" in user.said
    stored = database.state.secrets
    assert set(stored) == {CLIENT_ID_NAME, CLIENT_SECRET_NAME}
    assert CLIENT_SECRET.encode() not in stored[CLIENT_SECRET_NAME].ciphertext
    assert stored[CLIENT_SECRET_NAME].updated_at == NOW
    assert (
        value(
            cipher.decrypt(
                stored[CLIENT_SECRET_NAME].ciphertext,
                associated_data=secret_associated_data(CLIENT_SECRET_NAME),
            )
        )
        == CLIENT_SECRET.encode()
    )
    swapped = cipher.decrypt(
        stored[CLIENT_SECRET_NAME].ciphertext,
        associated_data=secret_associated_data(CLIENT_ID_NAME),
    )
    assert isinstance(swapped, Failure), "each value is bound to its own name"

    again = ScriptedUser()
    assert value(await store(database, cipher).obtain(again)) == app
    assert again.asked == [], "asked once: the next connect finds them"


async def test_non_interactive_and_missing_is_config_invalid_naming_the_variables(
    database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher
) -> None:
    failure = error(await store(database, cipher).obtain(ScriptedUser(answers=[None])))

    assert failure.code is ErrorCode.CONFIG_INVALID
    assert "DASHTAM_SCHWAB_CLIENT_ID" in (failure.hint or "")
    assert "DASHTAM_SCHWAB_CLIENT_SECRET" in (failure.hint or "")
    assert database.state.secrets == {}


async def test_a_blank_answer_is_config_invalid_and_nothing_is_stored(
    database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher
) -> None:
    user = ScriptedUser(answers=[CLIENT_ID, "   "])

    failure = error(await store(database, cipher).obtain(user))

    assert failure.code is ErrorCode.CONFIG_INVALID
    assert "empty" in failure.message
    assert failure.details["variable"] == "DASHTAM_SCHWAB_CLIENT_SECRET"
    assert database.state.secrets == {}, "the key alone is not kept"


async def test_only_the_missing_value_is_asked_for(
    database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher
) -> None:
    user = ScriptedUser(answers=[CLIENT_SECRET])

    app = value(await store(database, cipher, client_id=CLIENT_ID).obtain(user))

    assert app.client_id == CLIENT_ID
    assert [prompt for prompt, _ in user.asked] == ["Schwab app secret: "]
    assert set(database.state.secrets) == {CLIENT_SECRET_NAME}


async def test_stored_values_fill_in_and_configured_ones_win(
    database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher
) -> None:
    put(database, cipher, CLIENT_ID_NAME, "stored-key-" + "x" * 21)
    put(database, cipher, CLIENT_SECRET_NAME, "stored-secret-xx")

    from_db = value(await store(database, cipher).get())
    overridden = value(await store(database, cipher, client_id=CLIENT_ID).get())

    assert from_db == SchwabApp(
        client_id="stored-key-" + "x" * 21, client_secret="stored-secret-xx"
    )
    assert overridden == SchwabApp(client_id=CLIENT_ID, client_secret="stored-secret-xx")


async def test_a_value_stored_under_another_key_is_a_secrets_error(
    database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher
) -> None:
    put(database, AesGcmCipher(MemoryKeyStore()), CLIENT_ID_NAME, CLIENT_ID)

    failure = error(await store(database, cipher).get())

    assert failure.code in {ErrorCode.SECRET_DECRYPTION_FAILED, ErrorCode.SECRET_KEY_MISSING}


async def test_an_unusual_length_is_pointed_out_but_accepted(
    database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher
) -> None:
    user = ScriptedUser(answers=["short-key", CLIENT_SECRET])

    app = value(await store(database, cipher).obtain(user))

    assert app.client_id == "short-key"
    assert "usually 32 or 48" in user.said
    assert CLIENT_SECRET not in user.said


async def test_forget_deletes_the_stored_values(
    database: InMemoryUnitOfWorkFactory, cipher: AesGcmCipher
) -> None:
    credentials = store(database, cipher)
    value(await credentials.obtain(ScriptedUser(answers=[CLIENT_ID, CLIENT_SECRET])))

    await credentials.forget()

    assert database.state.secrets == {}
    assert value(await credentials.get()) is None


async def test_from_settings_on_a_real_database(tmp_path: Path, cipher: AesGcmCipher) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'dashtam.db'}")
    try:
        await upgrade(engine)
        uow_factory = SqlUnitOfWorkFactory(engine)
        settings = Settings(schwab_client_id=SecretStr(CLIENT_ID))
        credentials = AppCredentialStore.from_settings(
            settings, uow_factory=uow_factory, cipher=cipher, clock=FrozenClock(NOW)
        )

        first = value(await credentials.obtain(ScriptedUser(answers=[CLIENT_SECRET])))
        second = value(await credentials.get())

        assert first == second == SchwabApp(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        async with uow_factory() as uow:
            names = [secret.name for secret in await uow.secrets.list()]
        assert names == [CLIENT_SECRET_NAME]
        assert CLIENT_SECRET.encode() not in (tmp_path / "dashtam.db").read_bytes()
    finally:
        await engine.dispose()
