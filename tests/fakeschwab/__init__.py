"""A faithful Charles Schwab test double for end-to-end tests (tests only; never imported by the
application).

Usage::

    with FakeSchwab(seed=7) as schwab:
        env = schwab.env(callback_url=f"https://127.0.0.1:{free_loopback_port()}")
        ...  # run `dashtam providers connect schwab --no-browser` with env, read the printed URL
        response = schwab.follow_authorize(url)  # plays the browser up to the app's callback
        expected = schwab.expectations().by_number[...]
"""

from tests.fakeschwab.data import (
    FEE_TYPES,
    TRANSACTION_TYPES,
    AccountExpectation,
    AccountSpec,
    Dataset,
    Expectations,
    Row,
    eastern_midnight,
)
from tests.fakeschwab.server import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    CORRELATION_HEADER,
    DEFAULT_LAG,
    MAX_TRANSACTIONS,
    REFRESH_TOKEN_LIFETIME,
    FakeSchwab,
    Fault,
    RecordedRequest,
    authorize_redirect_url,
    follow_authorize,
    free_loopback_port,
)

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "CODE_LIFETIME",
    "CORRELATION_HEADER",
    "DEFAULT_LAG",
    "FEE_TYPES",
    "MAX_TRANSACTIONS",
    "REFRESH_TOKEN_LIFETIME",
    "TRANSACTION_TYPES",
    "AccountExpectation",
    "AccountSpec",
    "Dataset",
    "Expectations",
    "FakeSchwab",
    "Fault",
    "RecordedRequest",
    "Row",
    "authorize_redirect_url",
    "eastern_midnight",
    "follow_authorize",
    "free_loopback_port",
]
