"""Shared pieces of the Schwab login and token tests: app, endpoints, a scripted user."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from dashtam_cli.infrastructure.providers.schwab.config import SchwabApp, SchwabEndpoints

if TYPE_CHECKING:
    from dashtam_cli.domain.providers import ConnectInteraction

CLIENT_ID = "APPKEY" + "k" * 26  # 32 characters, like a real app key
CLIENT_SECRET = "APPSECRET" + "s" * 7  # 16 characters
APP = SchwabApp(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
AUTH_URL = "https://auth.schwab.test/v1/oauth"
TOKEN_URL = AUTH_URL + "/token"
ENDPOINTS = SchwabEndpoints(
    auth_url=AUTH_URL,
    api_url="https://api.schwab.test/trader/v1",
    callback_url="https://127.0.0.1:8182",
)
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ACCESS = "I0.ACCESS-one-Zml4dHVyZQ@"
REFRESH = "R0.REFRESH-one-b2ZmbGluZQ@"
CODE = "C0.b2F1dGgtY29kZS1mb3ItdGVzdHM.c2Vjb25kLXBhcnQ@"


def token_body(
    *, access: str = ACCESS, refresh: str | None = REFRESH, expires_in: int = 1800
) -> dict[str, Any]:
    """A token-endpoint success body like Schwab's (fixture ``token.json`` shape)."""
    body: dict[str, Any] = {
        "expires_in": expires_in,
        "token_type": "Bearer",
        "scope": "api",
        "access_token": access,
        "id_token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.",
    }
    if refresh is not None:
        body["refresh_token"] = refresh
    return body


def free_port() -> int:
    """A port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def authorize_params(url: str) -> dict[str, str]:
    """The single-valued query parameters of an authorize URL."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


class ScriptedUser:
    """A :class:`~dashtam_cli.domain.providers.ConnectInteraction` following a script.

    Attributes:
        answers: what ``ask`` returns, in order (None: nobody can answer).
        pastes: what ``read_redirect`` returns, in order (None: end of input).
        browser_opens: what ``open_browser`` returns.
        on_url: called with the authorize URL when it is opened or shown (plays the browser).
        notices, shown, opened, asked, prompts: what the flow said and did.
    """

    def __init__(
        self,
        *,
        answers: list[str | None] | None = None,
        pastes: list[str | None] | None = None,
        browser_opens: bool = True,
        on_url: Callable[[str], None] | None = None,
    ) -> None:
        self.answers = list(answers or [])
        self.pastes = list(pastes or [])
        self.browser_opens = browser_opens
        self.on_url = on_url
        self.notices: list[str] = []
        self.shown: list[str] = []
        self.opened: list[str] = []
        self.asked: list[tuple[str, bool]] = []
        self.prompts: list[str] = []

    def notice(self, message: str) -> None:
        self.notices.append(message)

    def show_authorize_url(self, url: str) -> None:
        self.shown.append(url)
        if self.on_url is not None:
            self.on_url(url)

    def open_browser(self, url: str) -> bool:
        self.opened.append(url)
        if self.browser_opens and self.on_url is not None:
            self.on_url(url)
        return self.browser_opens

    def ask(self, prompt: str, *, secret: bool = False) -> str | None:
        self.asked.append((prompt, secret))
        return self.answers.pop(0) if self.answers else None

    def read_redirect(self, prompt: str) -> str | None:
        self.prompts.append(prompt)
        return self.pastes.pop(0) if self.pastes else None

    @property
    def said(self) -> str:
        """Every notice, joined."""
        return "\n".join(self.notices)


def in_background(
    tasks: list[asyncio.Task[Any]], factory: Callable[[str], Coroutine[Any, Any, Any]]
) -> Callable[[str], None]:
    """An ``on_url`` that runs ``factory(url)`` as a task (kept in ``tasks`` to await later)."""

    def start(url: str) -> None:
        tasks.append(asyncio.get_running_loop().create_task(factory(url)))

    return start


if TYPE_CHECKING:
    _user: ConnectInteraction = ScriptedUser()
