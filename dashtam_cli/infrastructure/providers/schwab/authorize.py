"""The browser step of a Schwab connect: get an authorization code, exchange it at once.

Three ways (:class:`~dashtam_cli.domain.providers.AuthorizationMode`):

* ``browser`` — start the loopback listener, warn about the self-signed certificate, open the
  browser on the authorize URL and wait for the redirect;
* ``no_browser`` — the same listener, but the authorize URL is printed on a line of its own for
  the user to open (on this machine);
* ``manual`` — print the URL and instructions, and read the redirected address (or the bare code)
  the user pastes.

The paste flow is also used, automatically, when the callback URL cannot be listened on (no port,
port 443, a host other than 127.0.0.1), when the port cannot be bound, and when no browser can
be opened (a machine without a display: the user's browser is elsewhere, and its redirect to
127.0.0.1 would never reach this machine). The code lives about 30 seconds, so it is exchanged
the moment it arrives.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

import structlog

from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Result, fail
from dashtam_cli.domain.providers import (
    AuthorizationMode,
    AuthorizationOptions,
    ConnectInteraction,
)
from dashtam_cli.infrastructure.providers.schwab.config import CallbackTarget
from dashtam_cli.infrastructure.providers.schwab.listener import LoopbackListener, parse_redirect
from dashtam_cli.infrastructure.providers.schwab.oauth import OAuthClient
from dashtam_cli.infrastructure.providers.schwab.tokens import TokenSet

PASTE_ATTEMPTS: Final = 3
"""How many pastes are read before giving up (an unusable paste is explained and asked again)."""
PASTE_PROMPT: Final = "Redirected address (or code): "

_log = structlog.get_logger("dashtam.schwab")


def new_state() -> str:
    """A fresh, unguessable ``state`` value (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def default_listener(callback: CallbackTarget) -> LoopbackListener:
    """The loopback listener for a callback that can be listened on."""
    assert callback.port is not None
    return LoopbackListener(port=callback.port, path=callback.path, tls=callback.scheme == "https")


def certificate_notice(callback: CallbackTarget) -> str:
    """What to tell the user before the browser shows the certificate warning."""
    return (
        f"Your browser will warn that the connection to {callback.url} is not private. That is "
        "expected: Dashtam receives Schwab's redirect there with a certificate it made for this "
        f"login only. Check that the address starts with https://{callback.host}:{callback.port}"
        ", then continue (Chrome/Edge: Advanced, then Proceed; Firefox: Advanced, then Accept "
        "the Risk; Safari: Show Details, then visit this website)."
    )


def manual_instructions(callback: CallbackTarget) -> str:
    """The numbered steps of the paste flow."""
    return (
        "1. Open the address above in a browser (on any machine).\n"
        "2. Log in to Schwab, choose the accounts Dashtam may see, and click 'Allow'.\n"
        f"3. The browser is then sent to {callback.url}?code=... and will probably show an "
        "error page: that is expected.\n"
        "4. Copy the whole address from the address bar and paste it below. Be quick: the code "
        "in it expires within about 30 seconds."
    )


async def run_authorization(
    *,
    oauth: OAuthClient,
    callback: CallbackTarget,
    options: AuthorizationOptions,
    interaction: ConnectInteraction,
    now: datetime,
    make_state: Callable[[], str] = new_state,
    listener_factory: Callable[[CallbackTarget], LoopbackListener] = default_listener,
    monotonic: Callable[[], float] = time.monotonic,
) -> Result[TokenSet, DomainError]:
    """Run the browser (or paste) step and exchange the code for tokens.

    Args:
        oauth: the token-endpoint client (builds the authorize URL too).
        callback: the validated callback URL.
        options: the mode and the redirect timeout.
        interaction: the person at the keyboard.
        now: the current time; the exchange time is ``now`` plus the time spent waiting.
        make_state: makes the ``state`` value (tests pin it).
        listener_factory: makes the loopback listener (tests inject one).
        monotonic: a monotonic clock (tests).

    Returns:
        The tokens; ``oauth_failed`` for a refused, abandoned or timed-out login (or no input),
        and the token endpoint's failures (see :meth:`OAuthClient.exchange_code`).
    """
    started = monotonic()
    state = make_state()
    url = oauth.authorize_url(redirect_uri=callback.url, state=state)
    mode = options.mode
    code: Result[str, DomainError] | None = None
    if mode is not AuthorizationMode.MANUAL:
        if not callback.can_listen:
            interaction.notice(f"{callback.listen_problem}.")
            mode = AuthorizationMode.MANUAL
        else:
            code = await _listen(
                url=url,
                state=state,
                callback=callback,
                options=options,
                interaction=interaction,
                listener_factory=listener_factory,
            )
            if code is None:
                mode = AuthorizationMode.MANUAL
    _log.info("schwab.authorize", mode=mode.value)
    if code is None:
        code = _paste(url=url, state=state, callback=callback, interaction=interaction)
    if isinstance(code, Failure):
        return code
    exchanged_at = now + timedelta(seconds=max(0.0, monotonic() - started))
    return await oauth.exchange_code(code.value, redirect_uri=callback.url, now=exchanged_at)


async def _listen(
    *,
    url: str,
    state: str,
    callback: CallbackTarget,
    options: AuthorizationOptions,
    interaction: ConnectInteraction,
    listener_factory: Callable[[CallbackTarget], LoopbackListener],
) -> Result[str, DomainError] | None:
    """The listener flows; None when they cannot run (fall back to pasting)."""
    listener = listener_factory(callback)
    started = await listener.start()
    if isinstance(started, Failure):
        interaction.notice(
            f"Dashtam cannot receive the redirect itself: {started.error.message}. "
            "Falling back to pasting the redirected address."
        )
        return None
    try:
        warn_certificate = callback.scheme == "https"
        if options.mode is AuthorizationMode.BROWSER:
            if not interaction.open_browser(url):
                interaction.notice(
                    "No browser could be opened here. Falling back to pasting the redirected "
                    "address."
                )
                return None
            if warn_certificate:
                interaction.notice(certificate_notice(callback))
            interaction.notice(
                f"Log in to Schwab in the browser window and click 'Allow'. Waiting up to "
                f"{options.timeout:g} s for the redirect to {callback.url} ..."
            )
        else:
            if warn_certificate:
                interaction.notice(certificate_notice(callback))
            interaction.notice(
                "Open this address in a browser on this machine, log in to Schwab and click "
                "'Allow':"
            )
            interaction.show_authorize_url(url)
            interaction.notice(
                f"Waiting up to {options.timeout:g} s for the redirect to {callback.url} ..."
            )
        return await listener.wait_for_code(expected_state=state, timeout=options.timeout)
    finally:
        await listener.close()


def _paste(
    *, url: str, state: str, callback: CallbackTarget, interaction: ConnectInteraction
) -> Result[str, DomainError]:
    """The paste flow: print the URL and the steps, read the redirected address or the code."""
    interaction.show_authorize_url(url)
    interaction.notice(manual_instructions(callback))
    last: Failure[DomainError] | None = None
    for _ in range(PASTE_ATTEMPTS):
        text = interaction.read_redirect(PASTE_PROMPT)
        if text is None:
            return fail(
                ErrorCode.OAUTH_FAILED,
                "no input: the redirected address was not pasted",
                hint=(
                    "run `dashtam providers connect schwab --manual` in a terminal and paste the "
                    "address your browser lands on after you click 'Allow'"
                ),
                details={"reason": "no_input"},
            )
        parsed = parse_redirect(text, expected_state=state)
        if not isinstance(parsed, Failure):
            return parsed
        last = parsed
        interaction.notice(f"{parsed.error.message}: {parsed.error.hint}.")
    assert last is not None
    return last
