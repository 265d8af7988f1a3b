"""The built-in ``demo`` provider: deterministic, realistic data from a seed, no bank needed.

Public API::

    DemoProvider()                       # the Provider (slug "demo")
    demo_provider_state(seed=, accounts=, transactions=, created_at=, fail_accounts=)
                                         # the provider_state of a new demo connection
    parse_demo_state(state)              # Result[DemoState]: validate a stored state

Modules: ``catalog`` (the fixed universe), ``market`` (mixing, prices, options), ``kinds`` (row
generators), ``mixes`` (each account type's kinds and weights), ``ledger`` (exact daily counts,
windows, materialisation), ``portfolio`` (accounts and holdings), ``provider`` (state, virtual
clock, the port).
"""

from dashtam_cli.infrastructure.providers.demo.catalog import MAX_ACCOUNTS, PROFILES
from dashtam_cli.infrastructure.providers.demo.ledger import HISTORY_DAYS, PENDING_FOR
from dashtam_cli.infrastructure.providers.demo.provider import (
    ANCHOR_LAG,
    CAPABILITIES,
    DEMO_SLUG,
    EPOCH_STEP,
    HISTORY_SPAN,
    MAX_TRANSACTIONS,
    STATE_VERSION,
    DemoProvider,
    DemoSession,
    DemoState,
    demo_provider_state,
    parse_demo_state,
)

__all__ = [
    "ANCHOR_LAG",
    "CAPABILITIES",
    "DEMO_SLUG",
    "EPOCH_STEP",
    "HISTORY_DAYS",
    "HISTORY_SPAN",
    "MAX_ACCOUNTS",
    "MAX_TRANSACTIONS",
    "PENDING_FOR",
    "PROFILES",
    "STATE_VERSION",
    "DemoProvider",
    "DemoSession",
    "DemoState",
    "demo_provider_state",
    "parse_demo_state",
]
