"""Schwab app configuration: the app's key and secret, the endpoints, and the callback URL.

Schwab compares the ``redirect_uri`` of a login with the callback registered for the app
*byte for byte* (scheme case, host, port, path, trailing slash). A mismatch shows up only as an
unhelpful error page at Schwab's login screen, so the configured callback is checked here, up
front, and every message shows the exact string to register in the Schwab developer portal.

Dashtam can receive the redirect itself only on ``https://127.0.0.1:<port>``: the portal rejects
``localhost``, and without a port the browser goes to 443, where an ordinary user cannot listen.
A port-less (or non-loopback) callback still works through the paste flow, so it is accepted with
``can_listen=False`` rather than refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from dashtam_cli.domain.errors import DomainError, ErrorCode, Result, fail, ok
from dashtam_cli.settings import is_loopback_host

if TYPE_CHECKING:
    from dashtam_cli.settings import Settings

LISTEN_HOST = "127.0.0.1"
"""The only host the loopback listener binds (and the only one Schwab's portal accepts)."""
RECOMMENDED_PORT = 8182
"""The port suggested when a callback has none (the default of DASHTAM_SCHWAB_CALLBACK_URL)."""
CALLBACK_VARIABLE = "DASHTAM_SCHWAB_CALLBACK_URL"


@dataclass(frozen=True, kw_only=True, slots=True)
class SchwabApp:
    """The registered app: its key (OAuth ``client_id``) and secret. ``repr`` shows neither."""

    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)

    def __repr__(self) -> str:
        return "SchwabApp(client_id=<hidden>, client_secret=<hidden>)"


@dataclass(frozen=True, kw_only=True, slots=True)
class SchwabEndpoints:
    """Where the OAuth and Trader API endpoints live (overridable for sandboxes and test doubles).

    Attributes:
        auth_url: the OAuth base, e.g. ``https://api.schwabapi.com/v1/oauth``.
        api_url: the Trader API base, e.g. ``https://api.schwabapi.com/trader/v1``.
        callback_url: the redirect URI, exactly as registered for the app.
    """

    auth_url: str
    api_url: str
    callback_url: str

    @property
    def token_url(self) -> str:
        """The token endpoint (code exchange and refresh)."""
        return self.auth_url.rstrip("/") + "/token"

    @property
    def authorize_url(self) -> str:
        """The authorization endpoint the browser is sent to."""
        return self.auth_url.rstrip("/") + "/authorize"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, callback_url: str | None = None
    ) -> SchwabEndpoints:
        """The endpoints of the loaded settings (``callback_url`` overrides the configured one)."""
        return cls(
            auth_url=settings.schwab_auth_url,
            api_url=settings.schwab_api_url,
            callback_url=callback_url if callback_url is not None else settings.schwab_callback_url,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CallbackTarget:
    """A validated callback URL and what Dashtam can do with it.

    Attributes:
        url: the redirect URI to send, exactly as registered (surrounding blanks removed).
        host: its host (lower-cased).
        port: its explicit port, or None when the URL has none.
        path: the path the redirect arrives on (``/`` when the URL has none).
        can_listen: True when the loopback listener can receive the redirect on it.
        listen_problem: why it cannot (a sentence for the user), when ``can_listen`` is False.
        scheme: ``https``, or ``http`` for a local test double (the listener then serves plain
            HTTP).
    """

    url: str
    host: str
    port: int | None
    path: str
    can_listen: bool
    listen_problem: str | None = None
    scheme: str = "https"


def _suggest(scheme: str, port: int | None, path: str) -> str:
    """The callback to register instead: ``https://127.0.0.1:<port><path>``."""
    netloc = f"{LISTEN_HOST}:{port if port not in (None, 443) else RECOMMENDED_PORT}"
    return urlunsplit((scheme, netloc, path, "", ""))


def _invalid(message: str, *, register: str | None, value: str) -> Result[CallbackTarget]:
    hint = (
        f"register exactly {register} as a callback URL of your app in the Schwab developer "
        f"portal, and set {CALLBACK_VARIABLE}={register} (or pass --callback-url {register})"
        if register
        else f"set {CALLBACK_VARIABLE} to the callback URL registered for your app"
    )
    return fail(
        ErrorCode.INVALID_URL,
        message,
        hint=hint,
        details={"callback_url": value, **({"register": register} if register else {})},
    )


def validate_callback_url(url: str) -> Result[CallbackTarget, DomainError]:
    """Check a callback URL's shape before any login starts.

    Rules: ``https://`` (``http://`` only for a loopback host, i.e. a local test double), lower-case
    scheme, a host, no user info, query or fragment; ``localhost`` is refused (Schwab's portal
    rejects it). Listening needs host ``127.0.0.1`` and an explicit port other than 443; otherwise
    the URL is accepted with ``can_listen=False`` and the connect flow reads the pasted redirect.

    Args:
        url: the configured (or ``--callback-url``) value.

    Returns:
        The target, or ``invalid_url`` with a hint showing the exact string to register.
    """
    value = url.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return _invalid(
            f"the callback URL {value!r} is not a valid URL (bad port?)",
            register=_suggest("https", None, "/"),
            value=value,
        )
    scheme = parts.scheme
    host = (parts.hostname or "").lower()
    path = parts.path or "/"
    if scheme.lower() not in {"https", "http"} or not host:
        return _invalid(
            f"the callback URL {value!r} must be an absolute https:// URL",
            # without a scheme and host, "not a url" is not a path worth keeping
            register=_suggest("https", port, parts.path if parts.netloc else "/"),
            value=value,
        )
    written = value.partition(":")[0]  # urlsplit lower-cases the scheme; Schwab does not
    if written != scheme:
        fixed = scheme + value[len(written) :]
        return _invalid(
            f"the callback URL {value!r} must start with a lower-case {scheme}:// "
            "(Schwab compares it with the registered one character by character)",
            register=fixed,
            value=value,
        )
    if scheme == "http" and not is_loopback_host(host):
        return _invalid(
            f"the callback URL {value!r} must use https:// (http:// is accepted only for a local "
            "test double on a loopback address)",
            register=urlunsplit(("https", parts.netloc, parts.path, "", "")),
            value=value,
        )
    if parts.username is not None or parts.password is not None:
        shown = urlunsplit((scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        return _invalid(
            f"the callback URL {shown!r} must not contain a user name or password",
            register=_suggest(scheme, port, parts.path),
            value=shown,
        )
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        return _invalid(
            f"the callback URL {value!r} must not contain a query (?...) or a fragment (#...)",
            register=urlunsplit((scheme, parts.netloc, parts.path, "", "")),
            value=value,
        )
    if host == "localhost":
        return _invalid(
            f"the callback URL {value!r} uses localhost, which Schwab's developer portal rejects; "
            f"use the address {LISTEN_HOST} instead",
            register=_suggest(scheme, port, parts.path),
            value=value,
        )
    problem = _listen_problem(host, port, scheme=scheme, path=parts.path)
    return ok(
        CallbackTarget(
            url=value,
            host=host,
            port=port,
            path=path,
            can_listen=problem is None,
            listen_problem=problem,
            scheme=scheme,
        )
    )


def _listen_problem(host: str, port: int | None, *, scheme: str, path: str) -> str | None:
    """Why the loopback listener cannot receive redirects to this URL (None when it can)."""
    suggestion = _suggest(scheme, port, path)
    tail = (
        "; Dashtam will ask you to paste the address Schwab redirects your browser to. To have "
        f"Dashtam receive it by itself, register {suggestion} for your app and set "
        f"{CALLBACK_VARIABLE}={suggestion}"
    )
    if host != LISTEN_HOST:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        where = "a loopback address other than" if loopback else "not"
        return f"the callback host {host} is {where} {LISTEN_HOST}, where Dashtam listens" + tail
    if port is None:
        return (
            "the callback URL has no port, so the browser is sent to port 443, where an ordinary "
            "user cannot listen" + tail
        )
    if port == 443:
        return "the callback URL uses port 443, where an ordinary user cannot listen" + tail
    return None
