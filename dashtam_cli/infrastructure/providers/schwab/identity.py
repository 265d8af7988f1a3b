"""Stable, non-reversible account identities derived from Schwab account numbers.

Schwab's ``hashValue`` is opaque and nothing promises it is stable (schwab.md section 2), and the
plain number must never be stored or logged. So the account's ``provider_account_id`` is an
HMAC-SHA256 of the number keyed with a per-installation salt: the same number always gives the
same id on this installation (re-connects find their accounts again), and the id cannot be turned
back into the number without the salt.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from dashtam_cli.domain.accounts import mask_account_number as _domain_mask

IDENTITY_HEX_CHARS: Final = 32
"""Length of an identity: 128 bits of the HMAC, as lower-case hex."""


def account_identity(account_number: str, salt: bytes) -> str:
    """The ``provider_account_id`` of a Schwab account.

    Args:
        account_number: the plain account number (surrounding whitespace is ignored).
        salt: the installation's secret salt (non-empty).

    Returns:
        32 lower-case hex characters, stable for a given number and salt.

    Raises:
        ValueError: the salt or the number is empty (a bug in the caller).
    """
    if not salt:
        raise ValueError("an account identity needs a non-empty salt")
    number = account_number.strip()
    if not number:
        raise ValueError("an account identity needs a non-empty account number")
    digest = hmac.new(salt, number.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:IDENTITY_HEX_CHARS]


def mask_account_number(account_number: str) -> str:
    """The displayable form of an account number: ``****`` and its last four characters.

    Args:
        account_number: the plain number.

    Returns:
        e.g. ``****0017`` for ``90000017``.
    """
    return _domain_mask(account_number)
