"""Schwab error responses, parsed into one shape and mapped to stable error codes.

Schwab answers errors in several shapes (schwab.md section 4.2), and the parser accepts all of them:

* the spec's ``ServiceError``: ``{"message": "...", "errors": ["...", ...]}`` (either key alone);
* JSON:API: ``{"errors": [{"id", "status", "title", "detail", "source"}]}``, where ``status`` is
  sometimes a number and sometimes a string;
* OAuth: ``{"error": "...", "error_description": "..."}``, the description sometimes holding a
  second, JSON-encoded error inside a string (the refresh-token rejection);
* Apigee: ``{"fault": {"faultstring": "...", "detail": {"errorcode": "..."}}}``;
* plain text (the transient gateway ``404 Not Found: Requested route (...) does not exist.``) and
  Akamai HTML (``Access Denied``);
* anything else: the first 200 characters of the text.

Every message is scrubbed of secrets (:func:`redact_secrets`) **before** it is cut to length, so a
token echoed by a server never survives into an error, a log line or JSON output.

Status first, then body (:func:`classify`):

===============================  ====================================  ===========================
HTTP status / body               code                                  retried by the API client
===============================  ====================================  ===========================
401 (after one forced refresh)   ``token_revoked``                     refresh once, retry once
401 ``...NoApiProductMatch...``  ``provider_error`` (app lacks the     no
                                 Accounts and Trading product)
429                              ``provider_rate_limited``             yes, backoff/Retry-After
5xx                              ``provider_unavailable``              yes, backoff/Retry-After
500 Apigee ``TooBigBody``        ``provider_error`` (reason            no (the session splits a
                                 ``body_too_big``)                     transactions window)
404 gateway "Requested route"    ``provider_unavailable`` (transient)  once
403 Akamai "Access Denied"       ``provider_error``                    once
other 4xx (400, 403, 404, ...)   ``provider_error``                    no
2xx with unparseable JSON        ``provider_data_invalid``             no
===============================  ====================================  ===========================
"""

from __future__ import annotations

import html
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum, unique
from typing import Any, Final

from dashtam_cli.application.handlers.events import REDACTED, redact_text
from dashtam_cli.domain.errors import DomainError, ErrorCode

CORRELATION_HEADER: Final = "Schwab-Client-CorrelId"
"""The response header carrying Schwab's correlation id (a UUID; not a secret)."""

MAX_MESSAGE_CHARS: Final = 200
"""How much of a server's error text is kept (after redaction)."""

_MAX_CORRELATION_CHARS: Final = 100


@unique
class ErrorReason(StrEnum):
    """A recognised error body, beyond its HTTP status (``details["reason"]``)."""

    GATEWAY_ROUTE_MISSING = "gateway_route_missing"
    """The transient gateway 404 ``Requested route (...) does not exist``."""
    EDGE_ACCESS_DENIED = "edge_access_denied"
    """Akamai's HTML ``Access Denied`` page (transient, or an app not yet Ready For Use)."""
    BODY_TOO_BIG = "body_too_big"
    """Apigee's ``protocol.http.TooBigBody``: the response would be too large."""
    NO_API_PRODUCT = "no_api_product"
    """The app lacks the Trader product (``InvalidAPICallAsNoApiProductMatchFound``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorBody:
    """An error response body reduced to one redacted line.

    Attributes:
        message: what the server said, secrets masked, at most :data:`MAX_MESSAGE_CHARS`
            characters; empty when the body said nothing.
        reason: a recognised special case, or None.
    """

    message: str
    reason: ErrorReason | None = None


# ----------------------------------------------------------------------------------- redaction

_UUID: Final = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# ``tokenDigest=...``: a camel-case key starting with "token" (the shared rules only catch keys
# ending in it).
_TOKEN_KEY_VALUE: Final = re.compile(
    r"(?P<key>\btoken[A-Za-z]*)(?P<sep>\s*[:=]\s*)(?!\s*\[REDACTED\])"
    r"(?P<val>\"[^\"]*\"|'[^']*'|[^\s\"',;&#)}\]]+)",
    re.IGNORECASE,
)
# Opaque credential-looking runs: 20+ characters of the token alphabet with a letter and a digit.
_TOKEN_LIKE: Final = re.compile(r"[A-Za-z0-9_.~+/=@%-]{20,}")
_HAS_DIGIT: Final = re.compile(r"[0-9]")
_HAS_LETTER: Final = re.compile(r"[A-Za-z]")


def _mask_token_key(match: re.Match[str]) -> str:
    value = match.group("val")
    quote = value[0] if value[0] in "\"'" else ""
    return match.group("key") + match.group("sep") + quote + REDACTED + quote


def _mask_token_like(match: re.Match[str]) -> str:
    text = match.group(0)
    core = text.strip(".-")
    if _UUID.match(core) or not _HAS_DIGIT.search(core) or not _HAS_LETTER.search(core):
        return text
    return REDACTED


def redact_secrets(text: str) -> str:
    """Mask every secret that could hide in text a server sent back.

    Applies the project-wide rules (``Bearer``/``Basic`` credentials, ``Authorization`` headers,
    ``access_token=``-style pairs, runs of 8+ digits kept as ``****1234``), then masks values of
    any key containing ``token`` (``tokenDigest=...``) and every opaque token-like run (20+
    characters of ``[A-Za-z0-9_.~+/=@%-]`` with at least one letter and one digit). UUIDs (such as
    correlation ids) are kept.

    Args:
        text: any text.

    Returns:
        The text with secrets replaced by ``[REDACTED]``.
    """
    text = redact_text(text)
    text = _TOKEN_KEY_VALUE.sub(_mask_token_key, text)
    return _TOKEN_LIKE.sub(_mask_token_like, text)


def _clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ------------------------------------------------------------------------------------- parsing

_TAG: Final = re.compile(r"<[^>]*>")
_TITLE: Final = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_H1: Final = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_MAX_NESTED: Final = 3


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | int | Decimal | float):
        return str(value)
    try:
        return json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return str(value)


def _unwrap_nested(description: str, depth: int) -> str:
    """``400 Bad Request: "{\\"error\\": ...}"`` -> the inner error's own text, when it parses."""
    start, end = description.find("{"), description.rfind("}")
    if depth >= _MAX_NESTED or start < 0 or end <= start:
        return description
    candidates = [description[start : end + 1]]
    quoted_start = description.rfind('"', 0, start + 1)
    quoted_end = description.find('"', end)
    if quoted_start >= 0 and quoted_end > end:
        candidates.insert(0, description[quoted_start : quoted_end + 1])
    for candidate in candidates:
        try:
            inner: Any = json.loads(candidate)
            if isinstance(inner, str):
                inner = json.loads(inner)
        except (ValueError, RecursionError):
            continue
        if isinstance(inner, Mapping):
            parts = _json_parts(inner, depth + 1)
            if parts:
                prefix = description[: quoted_start if quoted_start >= 0 else start].strip()
                prefix = prefix.rstrip(":").strip()
                return "; ".join([prefix, *parts] if prefix else parts)
    return description


def _error_object_text(item: Mapping[str, Any]) -> str:
    title, detail = _text(item.get("title")), _text(item.get("detail"))
    text = f"{title}: {detail}" if title and detail and title != detail else title or detail
    source = item.get("source")
    if isinstance(source, Mapping):
        where = ", ".join(f"{key} {_text(value)}" for key, value in source.items() if value)
        if where:
            text = f"{text} ({where})" if text else where
    if not text:
        text = _text(item.get("message")) or _text(item.get("status"))
    return text


def _json_parts(data: Mapping[str, Any], depth: int = 0) -> list[str]:
    parts: list[str] = []
    message = _text(data.get("message"))
    if message:
        parts.append(message)
    errors = data.get("errors")
    if isinstance(errors, list):
        for item in errors:
            text = _error_object_text(item) if isinstance(item, Mapping) else _text(item)
            if text:
                parts.append(text)
    elif errors is not None and not isinstance(errors, list):
        text = _text(errors)
        if text:
            parts.append(text)
    error, description = _text(data.get("error")), _text(data.get("error_description"))
    if description:
        description = _unwrap_nested(description, depth)
    if error or description:
        parts.append(f"{error}: {description}" if error and description else error or description)
    fault = data.get("fault")
    if isinstance(fault, Mapping):
        text = _text(fault.get("faultstring"))
        detail = fault.get("detail")
        code = _text(detail.get("errorcode")) if isinstance(detail, Mapping) else ""
        if code:
            text = f"{text} ({code})" if text else code
        if text:
            parts.append(text)
    return parts


def _html_text(text: str) -> str:
    for pattern in (_TITLE, _H1):
        found = pattern.search(text)
        if found:
            heading = " ".join(html.unescape(_TAG.sub(" ", found.group(1))).split())
            if heading:
                return heading
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def _reason(status: int, raw_text: str) -> ErrorReason | None:
    if "InvalidAPICallAsNoApiProductMatchFound" in raw_text:
        return ErrorReason.NO_API_PRODUCT
    if "TooBigBody" in raw_text:
        return ErrorReason.BODY_TOO_BIG
    if status == 404 and "Requested route" in raw_text and "does not exist" in raw_text:
        return ErrorReason.GATEWAY_ROUTE_MISSING
    if "Access Denied" in raw_text and ("<" in raw_text or status == 403):
        return ErrorReason.EDGE_ACCESS_DENIED
    return None


def parse_error_body(status: int, content: bytes, content_type: str | None = None) -> ErrorBody:
    """Reduce an error response body to one redacted line and a recognised reason.

    Args:
        status: the HTTP status.
        content: the raw body.
        content_type: the ``Content-Type`` header, if any.

    Returns:
        The parsed body; never raises, whatever the bytes are.
    """
    raw_text = content.decode("utf-8", errors="replace")
    reason = _reason(status, raw_text)
    message = ""
    data: Any = None
    stripped = raw_text.strip()
    if stripped[:1] in {"{", "["}:
        try:
            data = json.loads(stripped, parse_float=Decimal)
        except (ValueError, RecursionError):
            data = None
    if isinstance(data, Mapping):
        message = "; ".join(_json_parts(data))
    elif isinstance(data, list):
        message = "; ".join(
            "; ".join(_json_parts(item)) if isinstance(item, Mapping) else _text(item)
            for item in data
        )
    elif "html" in (content_type or "").lower() or stripped[:1] == "<":
        message = _html_text(stripped)
    else:
        message = stripped
    return ErrorBody(message=_clip(redact_secrets(message)), reason=reason)


# ------------------------------------------------------------------------------ classification

_RETRYABLE_STATUSES: Final = frozenset({429})


def is_retryable(status: int, body: ErrorBody) -> bool:
    """Whether a response is worth retrying with backoff (429 and 5xx, except a too-big body)."""
    if body.reason is ErrorReason.BODY_TOO_BIG:
        return False
    return status in _RETRYABLE_STATUSES or 500 <= status <= 599


def is_transient_once(status: int, body: ErrorBody) -> bool:
    """Whether a 4xx is one of the known transient edge glitches (retried exactly once)."""
    return status < 500 and body.reason in {
        ErrorReason.GATEWAY_ROUTE_MISSING,
        ErrorReason.EDGE_ACCESS_DENIED,
    }


def classify(status: int, body: ErrorBody) -> ErrorCode:
    """The stable error code of a final (no longer retried) error response.

    Args:
        status: the HTTP status.
        body: the parsed body.

    Returns:
        The code (see the module table).
    """
    if body.reason is ErrorReason.NO_API_PRODUCT or body.reason is ErrorReason.BODY_TOO_BIG:
        return ErrorCode.PROVIDER_ERROR
    if status == 401:
        return ErrorCode.TOKEN_REVOKED
    if status == 429:
        return ErrorCode.PROVIDER_RATE_LIMITED
    if status >= 500 or body.reason is ErrorReason.GATEWAY_ROUTE_MISSING:
        return ErrorCode.PROVIDER_UNAVAILABLE
    return ErrorCode.PROVIDER_ERROR


def reconnect_hint(alias: str | None) -> str:
    """The command renewing a Schwab login (the hint of ``token_revoked``/``reauth_required``)."""
    return "dashtam providers connect schwab" + (f" --alias {shlex.quote(alias)}" if alias else "")


#: The 15 transaction types of the Trader API (spec ``TransactionType``), in the spec's order.
TRANSACTION_TYPES: Final = (
    "TRADE",
    "RECEIVE_AND_DELIVER",
    "DIVIDEND_OR_INTEREST",
    "ACH_RECEIPT",
    "ACH_DISBURSEMENT",
    "CASH_RECEIPT",
    "CASH_DISBURSEMENT",
    "ELECTRONIC_FUND",
    "WIRE_OUT",
    "WIRE_IN",
    "JOURNAL",
    "MEMORANDUM",
    "MARGIN_CALL",
    "MONEY_MARKET",
    "SMA_ADJUSTMENT",
)


def correlation_id(headers: Mapping[str, str]) -> str | None:
    """Schwab's correlation id from response headers (redacted and bounded), or None."""
    for key, value in headers.items():
        if key.lower() == CORRELATION_HEADER.lower():
            cleaned = _clip(redact_secrets(value), _MAX_CORRELATION_CHARS)
            return cleaned or None
    return None


_SUMMARIES: Final = {
    ErrorReason.GATEWAY_ROUTE_MISSING: "Schwab's gateway could not route the request",
    ErrorReason.EDGE_ACCESS_DENIED: "Schwab's edge network refused the request (Access Denied)",
    ErrorReason.BODY_TOO_BIG: "Schwab's response was too large for its gateway",
    ErrorReason.NO_API_PRODUCT: (
        "the Schwab app is not enabled for the Accounts and Trading Production product"
    ),
}
_HINTS: Final = {
    ErrorReason.EDGE_ACCESS_DENIED: (
        "Try again later; if it persists, check that your app at developer.schwab.com reads "
        "'Ready For Use'."
    ),
    ErrorReason.NO_API_PRODUCT: (
        "Add the 'Accounts and Trading Production' product to your app at developer.schwab.com "
        "and wait until it reads 'Ready For Use'."
    ),
    ErrorReason.GATEWAY_ROUTE_MISSING: "This is usually transient at Schwab: try again later.",
}


def error_from_response(
    *,
    endpoint: str,
    status: int,
    body: ErrorBody,
    correlation: str | None,
    attempts: int = 1,
) -> DomainError:
    """Build the :class:`DomainError` for a final error response.

    Args:
        endpoint: a short name of the call (``accounts``, ``transactions``...); never a URL with an
            account hash or number in it.
        status: the HTTP status.
        body: the parsed (already redacted) body.
        correlation: Schwab's correlation id, if the response carried one.
        attempts: how many times the request was sent.

    Returns:
        The error, with ``details`` holding ``endpoint``, ``status``, ``attempts`` and, when known,
        ``correlation_id`` and ``reason``.
    """
    code = classify(status, body)
    summary = _SUMMARIES.get(body.reason) if body.reason else None
    if summary is None:
        if code is ErrorCode.TOKEN_REVOKED:
            summary = "Schwab rejected the access token even after a refresh"
        elif code is ErrorCode.PROVIDER_RATE_LIMITED:
            summary = "Schwab is rate limiting requests"
        elif code is ErrorCode.PROVIDER_UNAVAILABLE:
            summary = "Schwab is unavailable"
        else:
            summary = "Schwab rejected the request"
    tail = f" after {attempts} attempts" if attempts > 1 else ""
    message = f"{summary} ({endpoint}: HTTP {status}{tail})"
    if body.message and body.reason is not ErrorReason.EDGE_ACCESS_DENIED:
        message = f"{message}: {body.message}"
    details: dict[str, str] = {
        "endpoint": endpoint,
        "status": str(status),
        "attempts": str(attempts),
    }
    if correlation:
        details["correlation_id"] = correlation
    if body.reason is not None:
        details["reason"] = body.reason.value
    hint = _HINTS.get(body.reason) if body.reason else None
    if hint is None and code in {ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.PROVIDER_RATE_LIMITED}:
        hint = "Try again in a few minutes."
    return DomainError(code=code, message=message, hint=hint, details=details)
