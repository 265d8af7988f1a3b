"""The connect flow's browser step in each mode, with a scripted user and a fake Schwab."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, Success
from dashtam_cli.domain.providers import AuthorizationMode, AuthorizationOptions
from dashtam_cli.infrastructure.providers.schwab.authorize import (
    PASTE_ATTEMPTS,
    run_authorization,
)
from dashtam_cli.infrastructure.providers.schwab.config import (
    CallbackTarget,
    validate_callback_url,
)
from dashtam_cli.infrastructure.providers.schwab.listener import LoopbackListener
from dashtam_cli.infrastructure.providers.schwab.oauth import OAuthClient
from dashtam_cli.infrastructure.providers.schwab.tokens import TokenSet
from tests.infrastructure.schwab.auth_fakes import (
    ACCESS,
    APP,
    ENDPOINTS,
    NOW,
    TOKEN_URL,
    ScriptedUser,
    authorize_params,
    free_port,
    in_background,
    token_body,
)

STATE = "pinned-state-for-tests"
CODE_IN_URL = "C0.Y29kZQ.c2Vjb25k%40"
CODE = "C0.Y29kZQ.c2Vjb25k@"


def value[T](result: Result[T]) -> T:
    assert isinstance(result, Success), result
    return result.value


def error(result: Result[Any]) -> DomainError:
    assert isinstance(result, Failure), result
    return result.error


def callback(url: str) -> CallbackTarget:
    return value(validate_callback_url(url))


@pytest.fixture
def schwab() -> Iterator[respx.Route]:
    """Schwab's token endpoint (127.0.0.1, where the listener lives, passes through)."""
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        yield router.post(TOKEN_URL).respond(200, json=token_body())


@pytest.fixture
async def oauth() -> AsyncIterator[OAuthClient]:
    client = OAuthClient(app=APP, endpoints=ENDPOINTS)
    yield client
    await client.aclose()


def exchanged(route: respx.Route) -> dict[str, list[str]]:
    assert route.call_count == 1
    return parse_qs(route.calls.last.request.content.decode())


def schwab_redirects(*, code: str = CODE_IN_URL, state: str | None = None) -> Any:
    """The browser after the user clicked Allow: Schwab sends it to the redirect_uri."""

    async def follow(url: str) -> httpx.Response:
        params = authorize_params(url)
        echoed = params["state"] if state is None else state
        target = f"{params['redirect_uri']}?code={code}&session=f00d&state={echoed}"
        async with httpx.AsyncClient(verify=False, timeout=5.0) as browser:
            for _ in range(50):  # the listener may still be starting to wait
                await asyncio.sleep(0.02)
                try:
                    return await browser.get(target)
                except httpx.ConnectError:
                    continue
        raise AssertionError("the listener never answered")

    return follow


async def authorize(
    oauth: OAuthClient,
    user: ScriptedUser,
    *,
    url: str,
    mode: AuthorizationMode,
    wait: float = 10.0,
    **kwargs: Any,
) -> Result[TokenSet]:
    return await run_authorization(
        oauth=oauth,
        callback=callback(url),
        options=AuthorizationOptions(mode=mode, timeout=wait),
        interaction=user,
        now=NOW,
        make_state=lambda: STATE,
        **kwargs,
    )


# =========================================================================== listener modes


async def test_browser_mode_opens_the_browser_and_receives_the_redirect(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    url = f"https://127.0.0.1:{free_port()}/callback"
    browsing: list[asyncio.Task[Any]] = []
    user = ScriptedUser(on_url=in_background(browsing, schwab_redirects()))

    tokens = value(await authorize(oauth, user, url=url, mode=AuthorizationMode.BROWSER))

    page = await browsing[0]
    assert page.status_code == 200
    assert "close this tab" in page.text
    assert len(user.opened) == 1
    assert authorize_params(user.opened[0]) == {
        "client_id": APP.client_id,
        "redirect_uri": url,
        "response_type": "code",
        "state": STATE,
    }
    assert user.shown == [], "the URL is not printed when the browser opened"
    assert "not private" in user.said, "the certificate warning comes first"
    assert user.prompts == []
    assert exchanged(schwab) == {
        "grant_type": ["authorization_code"],
        "code": [CODE],
        "redirect_uri": [url],
    }
    assert tokens.access_token == ACCESS


async def test_no_browser_mode_prints_the_url_and_still_listens(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    browsing: list[asyncio.Task[Any]] = []
    user = ScriptedUser(on_url=in_background(browsing, schwab_redirects()))

    value(await authorize(oauth, user, url=url, mode=AuthorizationMode.NO_BROWSER))

    assert user.opened == []
    assert len(user.shown) == 1
    assert authorize_params(user.shown[0])["redirect_uri"] == url
    assert (await browsing[0]).status_code == 200
    assert exchanged(schwab)["code"] == [CODE]


async def test_a_forged_state_is_refused_and_the_wait_times_out_without_exchange(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    browsing: list[asyncio.Task[Any]] = []
    user = ScriptedUser(on_url=in_background(browsing, schwab_redirects(state="forged")))

    failure = error(
        await authorize(oauth, user, url=url, mode=AuthorizationMode.NO_BROWSER, wait=1.0)
    )

    assert (await browsing[0]).status_code == 400
    assert failure.code is ErrorCode.OAUTH_FAILED
    assert "within 1 s" in failure.message
    assert schwab.call_count == 0


async def test_the_exchange_time_includes_the_wait(oauth: OAuthClient, schwab: respx.Route) -> None:
    ticks = iter([100.0, 190.0])
    url = f"https://127.0.0.1:{free_port()}"
    browsing: list[asyncio.Task[Any]] = []
    user = ScriptedUser(on_url=in_background(browsing, schwab_redirects()))

    tokens = value(
        await authorize(
            oauth, user, url=url, mode=AuthorizationMode.NO_BROWSER, monotonic=lambda: next(ticks)
        )
    )

    assert tokens.obtained_at == NOW + timedelta(seconds=90)
    assert tokens.refresh_expires_at == NOW + timedelta(days=7, seconds=90)


# =========================================================================== manual mode


@pytest.mark.parametrize(
    "pasted",
    [
        f"https://127.0.0.1:8182/?code={CODE_IN_URL}&session=f00d&state={STATE}",
        CODE_IN_URL,
        CODE,
    ],
    ids=["full-url", "encoded-code", "bare-code"],
)
async def test_manual_mode_reads_the_paste_and_exchanges_it(
    oauth: OAuthClient, schwab: respx.Route, pasted: str
) -> None:
    user = ScriptedUser(pastes=[pasted])

    value(await authorize(oauth, user, url="https://127.0.0.1:8182", mode=AuthorizationMode.MANUAL))

    assert len(user.shown) == 1
    assert authorize_params(user.shown[0])["state"] == STATE
    assert user.opened == []
    assert "30 seconds" in user.said
    assert "copy the whole address" in user.said.lower()
    assert exchanged(schwab) == {
        "grant_type": ["authorization_code"],
        "code": [CODE],
        "redirect_uri": ["https://127.0.0.1:8182"],
    }


async def test_an_empty_paste_is_rejected_and_asked_again(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    user = ScriptedUser(pastes=["", f"https://127.0.0.1:8182/?code={CODE_IN_URL}"])

    value(await authorize(oauth, user, url="https://127.0.0.1:8182", mode=AuthorizationMode.MANUAL))

    assert len(user.prompts) == 2
    assert "nothing was pasted" in user.said
    assert exchanged(schwab)["code"] == [CODE]


async def test_pastes_without_a_code_never_reach_schwab(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    user = ScriptedUser(pastes=["https://127.0.0.1:8182/?session=1"] * PASTE_ATTEMPTS)

    failure = error(
        await authorize(oauth, user, url="https://127.0.0.1:8182", mode=AuthorizationMode.MANUAL)
    )

    assert failure.code is ErrorCode.OAUTH_FAILED
    assert "no code=" in failure.message
    assert len(user.prompts) == PASTE_ATTEMPTS
    assert schwab.call_count == 0


async def test_end_of_input_is_oauth_failed_no_input(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    user = ScriptedUser(pastes=[None])

    failure = error(
        await authorize(oauth, user, url="https://127.0.0.1:8182", mode=AuthorizationMode.MANUAL)
    )

    assert failure.code is ErrorCode.OAUTH_FAILED
    assert "no input" in failure.message
    assert schwab.call_count == 0


async def test_a_paste_from_another_attempt_is_refused(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    user = ScriptedUser(pastes=[f"https://127.0.0.1:8182/?code={CODE_IN_URL}&state=old", None])

    failure = error(
        await authorize(oauth, user, url="https://127.0.0.1:8182", mode=AuthorizationMode.MANUAL)
    )

    assert "different login attempt" in user.said
    assert failure.code is ErrorCode.OAUTH_FAILED
    assert schwab.call_count == 0


# =========================================================================== fallbacks


async def test_a_busy_port_falls_back_to_pasting(oauth: OAuthClient, schwab: respx.Route) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        url = f"https://127.0.0.1:{squatter.getsockname()[1]}"
        user = ScriptedUser(pastes=[f"{url}/?code={CODE_IN_URL}&state={STATE}"])

        value(await authorize(oauth, user, url=url, mode=AuthorizationMode.BROWSER))

    assert user.opened == [], "no browser for a redirect nobody can receive"
    assert "cannot listen" in user.said
    assert len(user.shown) == 1
    assert len(user.prompts) == 1
    assert exchanged(schwab)["code"] == [CODE]


async def test_a_port_less_callback_falls_back_to_pasting(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    user = ScriptedUser(pastes=[f"https://127.0.0.1/?code={CODE_IN_URL}&state={STATE}"])
    started: list[LoopbackListener] = []

    def spy(target: CallbackTarget) -> LoopbackListener:
        started.append(LoopbackListener(port=0))
        return started[-1]

    value(
        await authorize(
            oauth,
            user,
            url="https://127.0.0.1",
            mode=AuthorizationMode.BROWSER,
            listener_factory=spy,
        )
    )

    assert started == []
    assert "443" in user.said
    assert exchanged(schwab)["redirect_uri"] == ["https://127.0.0.1"]


async def test_no_browser_available_falls_back_to_pasting(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    user = ScriptedUser(browser_opens=False, pastes=[f"{url}/?code={CODE_IN_URL}&state={STATE}"])

    value(await authorize(oauth, user, url=url, mode=AuthorizationMode.BROWSER))

    assert len(user.opened) == 1
    assert len(user.shown) == 1, "the URL is printed for the user to open elsewhere"
    assert "No browser" in user.said
    assert exchanged(schwab)["code"] == [CODE]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))  # the listener was closed before pasting


async def test_a_refused_exchange_is_returned_as_is(
    oauth: OAuthClient, schwab: respx.Route
) -> None:
    schwab.respond(400, json={"error": "invalid_grant", "error_description": "code expired"})
    user = ScriptedUser(pastes=[CODE])

    failure = error(
        await authorize(oauth, user, url="https://127.0.0.1:8182", mode=AuthorizationMode.MANUAL)
    )

    assert failure.code is ErrorCode.OAUTH_FAILED
    assert "code expired" in failure.message
