"""Schwab payloads mapped, once, into the domain vocabulary.

Numbers arrive as ``Decimal`` (the API client parses with ``parse_float=Decimal``); no float
arithmetic happens here. Every mapper tolerates missing fields; :func:`map_transaction` never
raises and never drops a row. ``raw`` keeps each payload with every ``accountNumber`` masked to
``****1234`` (``Decimal`` values kept exact; serialise with ``simplejson`` / the database's
``json_dumps``).

Accounts (:func:`map_account`)
------------------------------
* ``balance`` = ``currentBalances.liquidationValue``; when absent: ``initialBalances.
  liquidationValue`` (start of day), then ``initialBalances.accountValue``, then the positions'
  ``marketValue`` sum plus the cash balance, then 0.
* ``cash_balance`` = ``currentBalances.cashBalance``, else ``initialBalances.cashBalance``, else
  unknown (None). Never ``totalCash`` or ``moneyMarketFund``: those include the ``MMDA1`` sweep,
  which is already a holding (``cash_equivalent``) and already inside ``liquidationValue``; so
  holdings' market value + cash = balance, with nothing counted twice.
* ``available_balance`` = ``currentBalances.cashAvailableForWithdrawal`` (cash accounts), else
  ``currentBalances.availableFunds`` (margin accounts), else None.
* ``account_type``: ``securitiesAccount.type`` is only ``CASH``/``MARGIN`` (IRAs are ``CASH``), so
  both default to ``brokerage``. The only hints of the kind are the ``/userPreference`` entry's
  ``type`` (observed ``BROKERAGE`` even for an IRA) and the user's ``nickName``: their text,
  upper-cased, is searched for ``ROTH`` -> ``roth_ira``, ``IRA`` -> ``ira``, ``HSA`` -> ``hsa``,
  ``401K``/``401(K)`` -> ``401k``, ``403B``/``403(B)`` -> ``403b`` (whole tokens: ``IRAN`` is not an
  IRA). A nickname is free text, so this is a best guess that the user can correct.
* ``name`` = the nickname, else ``Schwab ****1234``. Currency: always USD (Schwab sends none).

Positions (:func:`map_position`)
--------------------------------
* quantity = ``longQuantity - |shortQuantity|`` (shorts negative); contracts for options.
* ``average_price`` = ``averagePrice`` (per share, also for options), else the long/short average.
* ``cost_basis`` = average price x quantity x multiplier, where the multiplier is the instrument's
  ``optionMultiplier`` / ``optionPremiumMultiplier`` for options, else 100; 1 for everything else
  but bonds.
* Bonds and CDs (``FIXED_INCOME``) are priced in percent of par, and Schwab counts their quantity
  in face dollars or in $1,000 bonds: the instrument's ``multiplier`` when it has one, else the
  one of 0.01, 0.1, 1 or 10 that makes ``marketValue`` / (quantity x average price) nearest 1
  (a bond trades within a factor of two of its par). When none is that near, the cost basis and
  the current price are left unknown rather than wrong.
* ``market_value`` = ``marketValue``; ``current_price`` = market value / (quantity x multiplier),
  rounded to 8 decimal places when the division does not terminate sooner.
* A position with no quantity and no market value (closed during the day) is left out, so the
  holding is marked inactive like any position Schwab no longer reports.
* ``symbol``: as sent (options keep the OCC form ``EXMP  261218C00150000``, inner spaces
  included); else the CUSIP; else ``UNKNOWN``. ``provider_holding_id`` = the symbol, else
  ``cusip:<cusip>``, else a hash of the payload.

Asset types (positions and transaction legs, :func:`map_asset_type`)
--------------------------------------------------------------------
==========================================  =====================================================
``assetType`` (``type``)                    asset type
==========================================  =====================================================
``EQUITY``                                  ``equity`` (``etf`` if ``type`` is
                                            ``EXCHANGE_TRADED_FUND``)
``COLLECTIVE_INVESTMENT`` (any ``type``     ``etf`` (``index`` when ``type`` is ``INDEX``); closed
but ``INDEX``)                              end funds, UITs and ``UNITS`` are exchange-traded
                                            pooled vehicles too
``OPTION``                                  ``option``
``MUTUAL_FUND``                             ``mutual_fund``
``CASH_EQUIVALENT`` (e.g. ``MMDA1``)        ``cash_equivalent``
``FIXED_INCOME``                            ``fixed_income``
``FUTURE``                                  ``futures``
``FOREX``, ``CURRENCY``                     ``currency``
``INDEX``                                   ``index``
``PRODUCT``, anything else, missing         ``other`` (the raw payload says what it was)
==========================================  =====================================================

Transactions (:func:`map_transaction`)
--------------------------------------
* ``amount`` = ``netAmount`` exactly (the signed cash effect; the only source of cash).
* The **security leg** is the first ``transferItems`` entry without ``feeType`` whose instrument is
  not ``CURRENCY``, preferring non-``CASH_EQUIVALENT`` legs and legs with a non-zero ``amount``
  (a dividend with an ``MMDA1`` mirror leg names the stock). It gives ``symbol``, ``asset_type``,
  ``security_name`` (``description``), and, except for ``DIVIDEND_OR_INTEREST`` (where the leg's
  ``amount`` has been seen to hold cash, not shares), ``quantity`` = its signed ``amount`` (+
  received, - delivered; contracts for options) and ``unit_price`` = its ``price`` (per share).
* **Fees** = the sum, over legs carrying a ``feeType``, of ``|cost|`` (or ``|amount|`` when
  ``cost`` is missing or zero). The sign convention of fee legs is unverified (community data shows
  ``amount`` = fee, ``cost`` = -fee); absolute values give the same total under either
  convention. A fee rebate would therefore count as a fee. None when the row has no fee legs.
  Fees are informational: cash is ``netAmount`` only.
* Dates: ``transaction_date`` = calendar date of ``tradeDate`` (UTC date; see ``dates.py``), else
  of ``time``, else of ``settlementDate``; ``settlement_date`` = calendar date of
  ``settlementDate``; ``posted_at`` = ``time``.
* Status: ``VALID`` -> settled, ``PENDING`` -> pending, ``INVALID`` -> cancelled (Schwab voided the
  row; whether it ever was a failed transfer cannot be told), ``UNKNOWN``/missing/other -> pending
  (not asserted as settled; a later sync that sees ``VALID`` settles it).
* ``provider_transaction_id`` = ``str(activityId)``.
* **Unexpected shapes** (a non-object row, no usable ``activityId``, no numeric ``netAmount``, a
  ``type`` outside the 15, no date at all) are flagged as ``other``/``unknown``, never dropped:
  the id is then ``x-`` + 32 hex of the SHA-256 of the (masked) payload, stable across syncs;
  the amount is ``netAmount`` when numeric, else 0; the date falls back to 1970-01-01 when the row
  has none. ``raw`` always holds the payload.

Type and subtype, by Schwab ``type`` ("net" is ``netAmount``, "qty" the security leg's amount,
"desc" the upper-cased description; a direction "by sign" uses net when it is non-zero and the
type's own direction when it is zero):

======================  ================================================  =========================
Schwab type             condition                                         type / subtype
======================  ================================================  =========================
TRADE                   desc has ``REINVEST`` and qty >= 0 (or none)      trade / reinvestment
TRADE                   desc has ``ASSIGN`` / ``EXERCIS`` / ``EXPIR``     trade / assignment /
                                                                          exercise / expiration
TRADE                   ``OPENING``: qty > 0 / qty < 0                    trade / buy / short_sell
TRADE                   ``CLOSING``: qty < 0 / qty > 0                    trade / sell /
                                                                          buy_to_cover
TRADE                   other or no positionEffect: qty > 0 / qty < 0     trade / buy / sell
TRADE                   no quantity: net < 0 / net > 0 / net = 0          trade / buy / sell;
                                                                          other / unknown
RECEIVE_AND_DELIVER     desc has ``EXPIR`` / ``ASSIGN`` / ``EXERCIS``     trade / expiration /
                                                                          assignment / exercise
RECEIVE_AND_DELIVER     qty > 0 / qty < 0                                 transfer / security_in /
                                                                          security_out
RECEIVE_AND_DELIVER     no quantity: net > 0 / net < 0 / net = 0          transfer / transfer_in /
                                                                          transfer_out; other /
                                                                          adjustment
DIVIDEND_OR_INTEREST    desc has ``MARGIN`` and ``INT`` and net <= 0      fee / margin_interest
DIVIDEND_OR_INTEREST    desc has ``FEE`` (e.g. ``ADR FEE``): net <= 0     fee / other_fee (a
                        (net > 0: a rebate)                               pass-through custody fee,
                                                                          not an account fee);
                                                                          other / adjustment
DIVIDEND_OR_INTEREST    desc has ``TAX`` (withholding): net < 0 / else    fee / other_fee;
                                                                          other / adjustment
DIVIDEND_OR_INTEREST    desc has ``INTEREST`` or the word ``INT``         income / interest
                        (``CREDIT INT``, ``BANK INT``): net >= 0 / < 0    other / adjustment
DIVIDEND_OR_INTEREST    desc has ``CAP GAIN`` / ``CAPITAL GAIN``          income / capital_gain
DIVIDEND_OR_INTEREST    desc has ``RETURN OF CAPITAL``/``DISTRIBUTION``   income / distribution
DIVIDEND_OR_INTEREST    otherwise: net >= 0 / net < 0 (a reversal)        income / dividend;
                                                                          other / adjustment
ACH_RECEIPT             by sign (in unless net < 0)                       transfer / ach_in,
                                                                          ach_out
ACH_DISBURSEMENT        by sign (out unless net > 0)                      transfer / ach_out,
                                                                          ach_in
WIRE_IN, WIRE_OUT       by sign                                           transfer / wire_in,
                                                                          wire_out
CASH_RECEIPT            by sign                                           transfer / deposit,
                                                                          withdrawal
CASH_DISBURSEMENT       by sign                                           transfer / withdrawal,
                                                                          deposit
ELECTRONIC_FUND         by sign (in when net = 0)                         transfer / transfer_in,
                                                                          transfer_out
JOURNAL                 security leg (not a cash equivalent) with         transfer / security_in /
                        qty > 0 / qty < 0                                 security_out
JOURNAL                 otherwise (the sign of amount gives direction)    transfer / journal
MEMORANDUM,             always                                            other / adjustment
MARGIN_CALL,
MONEY_MARKET,
SMA_ADJUSTMENT
anything else           an unexpected shape (above)                       other / unknown
======================  ================================================  =========================
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import structlog

from dashtam_cli.application.handlers.events import is_account_number_key
from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.providers import FetchedAccount, FetchedHolding, FetchedTransaction
from dashtam_cli.domain.transactions import TransactionStatus, TransactionSubtype
from dashtam_cli.infrastructure.providers.schwab.dates import (
    parse_schwab_datetime,
    schwab_calendar_date,
)
from dashtam_cli.infrastructure.providers.schwab.errors import TRANSACTION_TYPES, redact_secrets
from dashtam_cli.infrastructure.providers.schwab.identity import mask_account_number

_log = structlog.get_logger("dashtam.schwab")

DEFAULT_CURRENCY: Final = "USD"
OPTION_MULTIPLIER: Final = Decimal(100)
FALLBACK_DATE: Final = date(1970, 1, 1)
"""The transaction date of a row that carries no date at all (flagged other/unknown)."""
SYNTHETIC_ID_PREFIX: Final = "x-"
PRICE_DECIMALS: Final = 8
PRICE_PLACES: Final = Decimal(1).scaleb(-PRICE_DECIMALS)
"""A derived ``current_price`` is rounded to 8 decimal places (a division rarely terminates)."""

_S = TransactionSubtype

# ------------------------------------------------------------------------------------ values


def to_decimal(value: object) -> Decimal | None:
    """An exact, finite ``Decimal`` from a JSON number, or None.

    ``Decimal`` and ``int`` are taken as they are, numeric strings parsed; a float (which the API
    client never produces) is converted through its shortest ``repr``, never through binary
    arithmetic. Booleans, non-finite values and anything else give None.
    """
    if isinstance(value, bool):
        return None
    result: Decimal
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


#: The widths of the database columns a symbol and a name go to: longer text is cut there.
SYMBOL_LENGTH: Final = 64
NAME_LENGTH: Final = 256
_NUL: Final = "\x00"


def _text(value: object, *, limit: int | None = None) -> str | None:
    """A non-blank string as sent (inner and outer spaces kept: OCC symbols need them).

    NUL characters are dropped and a text longer than ``limit`` is cut (ending in ``…``):
    PostgreSQL refuses both, and one such row would fail every sync of the connection.
    """
    if not isinstance(value, str):
        return None
    if _NUL in value:
        value = value.replace(_NUL, "")
    if not value.strip():
        return None
    if limit is not None and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


def _upper(value: object) -> str:
    return value.strip().upper() if isinstance(value, str) else ""


_LEAF_TYPES: Final = frozenset({str, int, float, bool, Decimal, type(None)})
_account_key_cache: dict[str, bool] = {}


def _is_account_key(name: str) -> bool:
    known = _account_key_cache.get(name)
    if known is None:
        known = is_account_number_key(name)
        if len(_account_key_cache) < 4096:  # bounded: keys come from the network
            _account_key_cache[name] = known
    return known


def redact_payload(value: object) -> Any:
    """A JSON-safe deep copy with every account-number value masked (``****0017``).

    Keys named like an account number (``accountNumber``, ``account_number``...) are masked
    wherever they appear; mapping keys become strings; numbers stay exact.

    Args:
        value: a parsed JSON value.

    Returns:
        The copy.
    """
    if type(value) in _LEAF_TYPES:
        # a NUL cannot be stored in PostgreSQL's JSON: shown as the replacement character
        return value.replace(_NUL, "\ufffd") if type(value) is str and _NUL in value else value
    if isinstance(value, Mapping):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            name = key if type(key) is str else str(key)
            if _NUL in name:
                name = name.replace(_NUL, "\ufffd")
            if _is_account_key(name) and type(item) in {str, int}:
                copy[name] = mask_account_number(str(item))
            else:
                copy[name] = redact_payload(item)
        return copy
    if isinstance(value, list | tuple):
        return [redact_payload(item) for item in value]
    return value


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def payload_digest(value: object) -> str:
    """32 hex characters of the SHA-256 of a payload's canonical JSON (stable across runs)."""
    return hashlib.sha256(_canonical(value).encode("utf-8")).hexdigest()[:32]


# ------------------------------------------------------------------------------- asset types

_ASSET_TYPES: Final = {
    "EQUITY": AssetType.EQUITY,
    "COLLECTIVE_INVESTMENT": AssetType.ETF,
    "OPTION": AssetType.OPTION,
    "MUTUAL_FUND": AssetType.MUTUAL_FUND,
    "CASH_EQUIVALENT": AssetType.CASH_EQUIVALENT,
    "FIXED_INCOME": AssetType.FIXED_INCOME,
    "FUTURE": AssetType.FUTURES,
    "FUTURES": AssetType.FUTURES,
    "FOREX": AssetType.CURRENCY,
    "CURRENCY": AssetType.CURRENCY,
    "INDEX": AssetType.INDEX,
}


def map_asset_type(instrument: Mapping[str, Any]) -> AssetType:
    """The domain asset type of a Schwab instrument (see the module table).

    Args:
        instrument: the ``instrument`` object of a position or a transfer item.

    Returns:
        The asset type; ``other`` for anything unknown.
    """
    asset = _upper(instrument.get("assetType"))
    kind = _upper(instrument.get("type"))
    if kind == "EXCHANGE_TRADED_FUND" and asset in {"EQUITY", "COLLECTIVE_INVESTMENT", ""}:
        return AssetType.ETF
    if asset == "COLLECTIVE_INVESTMENT" and kind == "INDEX":
        return AssetType.INDEX
    return _ASSET_TYPES.get(asset, AssetType.OTHER)


def _multiplier(instrument: Mapping[str, Any], asset: AssetType) -> Decimal:
    if asset is not AssetType.OPTION:
        return Decimal(1)
    for key in ("optionMultiplier", "optionPremiumMultiplier"):
        value = to_decimal(instrument.get(key))
        if value is not None and value > 0:
            return value
    return OPTION_MULTIPLIER


#: How a bond's quantity x price (percent of par) may relate to its value.
_PAR_MULTIPLIERS: Final = (Decimal("0.01"), Decimal("0.1"), Decimal(1), Decimal(10))


def par_multiplier(
    instrument: Mapping[str, Any],
    quantity: Decimal,
    average: Decimal | None,
    market_value: Decimal | None,
) -> Decimal | None:
    """A bond's multiplier: declared, else inferred from its market value; None when unsure.

    Args:
        instrument: the position's instrument (its ``multiplier``, when sent, wins).
        quantity: the net quantity.
        average: the average price (percent of par).
        market_value: the position's market value.
    """
    declared = to_decimal(instrument.get("multiplier"))
    if declared is not None and declared > 0:
        return declared
    if not average or not market_value or not quantity:
        return None
    ratio = abs(market_value / (quantity * average))
    best = min(_PAR_MULTIPLIERS, key=lambda m: abs((ratio / m).ln()))
    return best if Decimal("0.5") <= ratio / best <= 2 else None


# --------------------------------------------------------------------------------- positions


def _symbol(instrument: Mapping[str, Any]) -> tuple[str | None, str | None]:
    symbol = _text(instrument.get("symbol"), limit=SYMBOL_LENGTH)
    return symbol, _text(instrument.get("cusip"), limit=SYMBOL_LENGTH)


def map_position(
    position: Mapping[str, Any], *, currency: str = DEFAULT_CURRENCY
) -> FetchedHolding:
    """Map one ``securitiesAccount.positions[]`` element (see the module docstring).

    Args:
        position: the position object.
        currency: the account currency.

    Returns:
        The holding; missing numbers become None (quantity 0).
    """
    payload = _obj(position)
    instrument = _obj(payload.get("instrument"))
    asset = map_asset_type(instrument)
    symbol, cusip = _symbol(instrument)
    long_qty = to_decimal(payload.get("longQuantity")) or Decimal(0)
    short_qty = to_decimal(payload.get("shortQuantity")) or Decimal(0)
    quantity = long_qty - abs(short_qty)
    average = to_decimal(payload.get("averagePrice"))
    if average is None:
        key = "averageShortPrice" if quantity < 0 else "averageLongPrice"
        average = to_decimal(payload.get(key))
    market_value = to_decimal(payload.get("marketValue"))
    cost_basis: Decimal | None = None
    current_price: Decimal | None = None
    try:
        if asset is AssetType.FIXED_INCOME:
            found = par_multiplier(instrument, quantity, average, market_value)
            multiplier = Decimal(0) if found is None else found  # 0: unsure, both unknown
        else:
            multiplier = _multiplier(instrument, asset)
        if average is not None and multiplier:
            cost_basis = average * quantity * multiplier
        if market_value is not None and quantity != 0 and multiplier:
            current_price = market_value / (quantity * multiplier)
            exponent = current_price.as_tuple().exponent
            if isinstance(exponent, int) and exponent < -PRICE_DECIMALS:
                current_price = current_price.quantize(PRICE_PLACES)
    except ArithmeticError:  # an absurd exponent: leave the derived values unknown
        cost_basis = current_price = None
    raw = redact_payload(payload)
    if symbol is not None:
        holding_id = symbol
    elif cusip is not None:
        holding_id = f"cusip:{cusip}"
    else:
        holding_id = SYNTHETIC_ID_PREFIX + payload_digest(raw)
    return FetchedHolding(
        provider_holding_id=holding_id,
        symbol=symbol or cusip or "UNKNOWN",
        asset_type=asset,
        quantity=quantity,
        currency=currency,
        security_name=_text(instrument.get("description"), limit=NAME_LENGTH),
        average_price=average,
        cost_basis=cost_basis,
        market_value=market_value,
        current_price=current_price,
        raw=raw,
    )


def map_positions(positions: object, *, currency: str = DEFAULT_CURRENCY) -> list[FetchedHolding]:
    """Map a ``positions`` array; repeated holding ids get ``#2``, ``#3``... suffixes.

    Schwab reports one position per instrument as far as we know; should it ever repeat one
    (e.g. per sub-account), each stays a separate holding rather than one overwriting another.

    Args:
        positions: the ``positions`` value (anything; non-objects are skipped).
        currency: the account currency.

    Returns:
        The holdings, in payload order.
    """
    if not isinstance(positions, list):
        return []
    holdings: list[FetchedHolding] = []
    seen: dict[str, int] = {}
    for item in positions:
        if not isinstance(item, Mapping):
            _log.warning("schwab.position_skipped", why="not an object")
            continue
        holding = map_position(item, currency=currency)
        if holding.quantity == 0 and not holding.market_value:
            _log.debug("schwab.position_skipped", why="no quantity (closed)")
            continue
        count = seen.get(holding.provider_holding_id, 0) + 1
        seen[holding.provider_holding_id] = count
        if count > 1:
            holding = FetchedHolding(
                provider_holding_id=f"{holding.provider_holding_id}#{count}",
                symbol=holding.symbol,
                asset_type=holding.asset_type,
                quantity=holding.quantity,
                currency=holding.currency,
                security_name=holding.security_name,
                average_price=holding.average_price,
                cost_basis=holding.cost_basis,
                market_value=holding.market_value,
                current_price=holding.current_price,
                raw=holding.raw,
            )
        holdings.append(holding)
    return holdings


# ---------------------------------------------------------------------------------- accounts


def _kind_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Z0-9]){word}(?![A-Z0-9])")


_ACCOUNT_KINDS: Final = (
    (_kind_pattern("ROTH"), AccountType.ROTH_IRA),
    (_kind_pattern("IRA"), AccountType.IRA),
    (_kind_pattern("HSA"), AccountType.HSA),
    (_kind_pattern(r"401\(?K\)?"), AccountType.K401),
    (_kind_pattern(r"403\(?B\)?"), AccountType.B403),
)


def infer_account_type(
    securities_account: Mapping[str, Any], preference: Mapping[str, Any] | None
) -> AccountType:
    """The account kind, from the only hints Schwab gives (see the module docstring).

    Args:
        securities_account: the ``securitiesAccount`` object (its ``type`` is CASH or MARGIN).
        preference: the account's ``/userPreference`` entry, if any.

    Returns:
        ``roth_ira``/``ira``/``hsa``/``401k``/``403b`` when the preference's ``type`` or
        ``nickName`` says so, else ``brokerage``.
    """
    hints = _obj(preference)
    text = " ".join(_upper(hints.get(key)) for key in ("type", "nickName")).replace("_", " ")
    for pattern, kind in _ACCOUNT_KINDS:
        if pattern.search(text):
            return kind
    return AccountType.BROKERAGE


def _first_decimal(*candidates: tuple[Mapping[str, Any], str]) -> Decimal | None:
    for source, key in candidates:
        value = to_decimal(source.get(key))
        if value is not None:
            return value
    return None


def map_account(
    securities_account: Mapping[str, Any],
    *,
    provider_account_id: str,
    masked: str,
    preference: Mapping[str, Any] | None,
    currency: str = DEFAULT_CURRENCY,
) -> FetchedAccount:
    """Map one ``securitiesAccount`` (with its positions) to a :class:`FetchedAccount`.

    Args:
        securities_account: the ``securitiesAccount`` object of a ``GET /accounts`` element.
        provider_account_id: the account's stable id (``identity.account_identity``).
        masked: the masked number (``****0017``).
        preference: the account's ``/userPreference`` entry (nickname, type), if any.
        currency: the account currency.

    Returns:
        The account; ``raw`` = ``{"securitiesAccount": ..., "userPreference": ...}`` with account
        numbers masked.
    """
    account = _obj(securities_account)
    current = _obj(account.get("currentBalances"))
    initial = _obj(account.get("initialBalances"))
    holdings = map_positions(account.get("positions"), currency=currency)
    cash = _first_decimal((current, "cashBalance"), (initial, "cashBalance"))
    balance = _first_decimal(
        (current, "liquidationValue"),
        (initial, "liquidationValue"),
        (initial, "accountValue"),
    )
    if balance is None:
        values = [h.market_value for h in holdings if h.market_value is not None]
        balance = sum(values, cash or Decimal(0)) if values or cash is not None else Decimal(0)
    available = _first_decimal((current, "cashAvailableForWithdrawal"), (current, "availableFunds"))
    pref = _obj(preference)
    nickname = _text(pref.get("nickName"), limit=NAME_LENGTH)
    raw: dict[str, Any] = {"securitiesAccount": redact_payload(account)}
    if pref:
        raw["userPreference"] = redact_payload(pref)
    return FetchedAccount(
        provider_account_id=provider_account_id,
        account_number_masked=masked,
        name=nickname.strip() if nickname else f"Schwab {masked}",
        account_type=infer_account_type(account, pref),
        currency=currency,
        balance=balance,
        available_balance=available,
        cash_balance=cash,
        holdings=tuple(holdings),
        raw=raw,
    )


# ------------------------------------------------------------------------------ transactions

KNOWN_TYPES: Final = frozenset(TRANSACTION_TYPES)
_STATUSES: Final = {
    "VALID": TransactionStatus.SETTLED,
    "PENDING": TransactionStatus.PENDING,
    "INVALID": TransactionStatus.CANCELLED,
}
# (inflow subtype, outflow subtype, direction when netAmount is zero: True = in)
_BY_SIGN: Final = {
    "ACH_RECEIPT": (_S.ACH_IN, _S.ACH_OUT, True),
    "ACH_DISBURSEMENT": (_S.ACH_IN, _S.ACH_OUT, False),
    "WIRE_IN": (_S.WIRE_IN, _S.WIRE_OUT, True),
    "WIRE_OUT": (_S.WIRE_IN, _S.WIRE_OUT, False),
    "CASH_RECEIPT": (_S.DEPOSIT, _S.WITHDRAWAL, True),
    "CASH_DISBURSEMENT": (_S.DEPOSIT, _S.WITHDRAWAL, False),
    "ELECTRONIC_FUND": (_S.TRANSFER_IN, _S.TRANSFER_OUT, True),
}
_ADJUSTMENTS: Final = frozenset({"MEMORANDUM", "MARGIN_CALL", "MONEY_MARKET", "SMA_ADJUSTMENT"})
# A word on its own: "TAX-EXEMPT" and "INT'L" in a fund's name are not a tax or interest.
_INTEREST: Final = re.compile(r"\bINTEREST\b|\bINT\b(?!['-])")
_CAPITAL_GAIN: Final = re.compile(r"\bCAP(?:ITAL)?\.? GAINS?\b")
_DISTRIBUTION: Final = re.compile(r"\bRETURN OF CAPITAL\b|\bDISTRIBUTION\b")
_TAX: Final = re.compile(r"(?<![-'])\bTAX\b(?![-'])|\bWITHHOLDING\b|\bWITHHELD\b")
_FEE: Final = re.compile(r"\bFEES?\b")


def _legs(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = payload.get("transferItems")
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def _is_fee_leg(leg: Mapping[str, Any]) -> bool:
    return _text(leg.get("feeType")) is not None


def _leg_asset(leg: Mapping[str, Any]) -> str:
    return _upper(_obj(leg.get("instrument")).get("assetType"))


def security_leg(legs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The leg that names the security (see the module docstring), or None."""
    candidates = [
        leg
        for leg in legs
        if not _is_fee_leg(leg)
        and isinstance(leg.get("instrument"), Mapping)
        and _leg_asset(leg) != "CURRENCY"
    ]
    primary = [leg for leg in candidates if _leg_asset(leg) != "CASH_EQUIVALENT"] or candidates
    for leg in primary:
        amount = to_decimal(leg.get("amount"))
        if amount is not None and amount != 0:
            return leg
    return primary[0] if primary else None


def fee_total(legs: Sequence[Mapping[str, Any]]) -> Decimal | None:
    """The sum of the fee legs' ``|cost|`` (``|amount|`` when cost is missing or zero).

    Returns:
        The total, or None when there is no fee leg.
    """
    fee_legs = [leg for leg in legs if _is_fee_leg(leg)]
    if not fee_legs:
        return None
    total = Decimal(0)
    for leg in fee_legs:
        cost = to_decimal(leg.get("cost"))
        amount = to_decimal(leg.get("amount"))
        if cost is not None and cost != 0:
            total += abs(cost)
        elif amount is not None:
            total += abs(amount)
    return total


def _by_sign(schwab_type: str, net: Decimal) -> TransactionSubtype:
    inflow, outflow, default_in = _BY_SIGN[schwab_type]
    if net > 0:
        return inflow
    if net < 0:
        return outflow
    return inflow if default_in else outflow


def _event_subtype(description: str) -> TransactionSubtype | None:
    if "ASSIGN" in description:
        return _S.ASSIGNMENT
    if "EXERCIS" in description:
        return _S.EXERCISE
    if "EXPIR" in description:
        return _S.EXPIRATION
    return None


def _trade(description: str, qty: Decimal | None, effect: str, net: Decimal) -> TransactionSubtype:
    if "REINVEST" in description and (qty is None or qty >= 0):
        return _S.REINVESTMENT
    event = _event_subtype(description)
    if event is not None:
        return event
    if qty is not None and qty != 0:
        if effect == "OPENING":
            return _S.BUY if qty > 0 else _S.SHORT_SELL
        if effect == "CLOSING":
            return _S.SELL if qty < 0 else _S.BUY_TO_COVER
        return _S.BUY if qty > 0 else _S.SELL
    if net < 0:
        return _S.BUY
    if net > 0:
        return _S.SELL
    return _S.UNKNOWN


def _receive_and_deliver(description: str, qty: Decimal | None, net: Decimal) -> TransactionSubtype:
    event = _event_subtype(description)
    if event is not None:
        return event
    if qty is not None and qty != 0:
        return _S.SECURITY_IN if qty > 0 else _S.SECURITY_OUT
    if net > 0:
        return _S.TRANSFER_IN
    if net < 0:
        return _S.TRANSFER_OUT
    return _S.ADJUSTMENT


def _dividend_or_interest(description: str, net: Decimal) -> TransactionSubtype:
    if "MARGIN" in description and "INT" in description and net <= 0:
        return _S.MARGIN_INTEREST
    if _FEE.search(description):
        return _S.OTHER_FEE if net <= 0 else _S.ADJUSTMENT
    if _TAX.search(description):
        return _S.OTHER_FEE if net < 0 else _S.ADJUSTMENT
    if _INTEREST.search(description):
        return _S.INTEREST if net >= 0 else _S.ADJUSTMENT
    if _CAPITAL_GAIN.search(description):
        return _S.CAPITAL_GAIN
    if _DISTRIBUTION.search(description):
        return _S.DISTRIBUTION
    return _S.DIVIDEND if net >= 0 else _S.ADJUSTMENT


def classify_transaction(
    schwab_type: str,
    *,
    net: Decimal,
    description: str,
    leg: Mapping[str, Any] | None,
) -> TransactionSubtype:
    """The domain subtype of a well-formed Schwab row (the module table); its type follows.

    Args:
        schwab_type: one of the 15 Schwab types (anything else gives ``unknown``).
        net: ``netAmount``.
        description: the row's description (any case).
        leg: the security leg, if any.

    Returns:
        The subtype; ``subtype.transaction_type`` is the type.
    """
    text = description.upper()
    qty = to_decimal(leg.get("amount")) if leg is not None else None
    effect = _upper(leg.get("positionEffect")) if leg is not None else ""
    if schwab_type == "TRADE":
        return _trade(text, qty, effect, net)
    if schwab_type == "RECEIVE_AND_DELIVER":
        return _receive_and_deliver(text, qty, net)
    if schwab_type == "DIVIDEND_OR_INTEREST":
        return _dividend_or_interest(text, net)
    if schwab_type in _BY_SIGN:
        return _by_sign(schwab_type, net)
    if schwab_type == "JOURNAL":
        if (
            qty is not None
            and qty != 0
            and leg is not None
            and _leg_asset(leg) != "CASH_EQUIVALENT"
        ):
            return _S.SECURITY_IN if qty > 0 else _S.SECURITY_OUT
        return _S.JOURNAL
    if schwab_type in _ADJUSTMENTS:
        return _S.ADJUSTMENT
    return _S.UNKNOWN


def map_status(value: object) -> TransactionStatus:
    """``VALID`` settled, ``PENDING`` pending, ``INVALID`` cancelled, anything else pending."""
    return _STATUSES.get(_upper(value), TransactionStatus.PENDING)


def _activity_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    return None


def map_transaction(
    payload: Mapping[str, Any], *, currency: str = DEFAULT_CURRENCY
) -> FetchedTransaction:
    """Map one ``/transactions`` row (see the module tables). Never raises, never drops.

    Args:
        payload: the row as parsed (anything is tolerated).
        currency: the account currency.

    Returns:
        The transaction; an unexpected shape comes back as ``other``/``unknown`` with its raw
        payload and a stable synthetic id.
    """
    try:
        return _map_transaction(payload, currency)
    except Exception as exc:  # the contract: an odd row is flagged, never an exception
        _log.warning("schwab.transaction_unmappable", error=type(exc).__name__)
        return _unmappable(payload, currency)


def _unmappable(payload: object, currency: str) -> FetchedTransaction:
    try:
        raw = redact_payload(payload)
        digest = payload_digest(raw)
    except Exception:  # a payload that cannot even be copied (absurdly deep nesting)
        raw, digest = None, hashlib.sha256(repr(type(payload)).encode()).hexdigest()[:32]
    return FetchedTransaction(
        provider_transaction_id=SYNTHETIC_ID_PREFIX + digest,
        transaction_type=_S.UNKNOWN.transaction_type,
        subtype=_S.UNKNOWN,
        status=TransactionStatus.PENDING,
        amount=Decimal(0),
        currency=currency,
        transaction_date=FALLBACK_DATE,
        raw=raw if isinstance(raw, dict) else {"payload": raw},
    )


def _map_transaction(payload: object, currency: str) -> FetchedTransaction:
    if not isinstance(payload, Mapping):
        _log.warning("schwab.transaction_unexpected_shape", why="not an object")
        return _unmappable(payload, currency)
    raw = redact_payload(payload)
    problems: list[str] = []

    activity = _activity_id(payload.get("activityId"))
    if activity is None:
        problems.append("no activityId")
        activity = SYNTHETIC_ID_PREFIX + payload_digest(raw)
    net = to_decimal(payload.get("netAmount"))
    if net is None:
        problems.append("no numeric netAmount")
    schwab_type = _upper(payload.get("type"))
    if schwab_type not in KNOWN_TYPES:
        problems.append("unknown type")

    trade_date = (
        schwab_calendar_date(payload.get("tradeDate"))
        or schwab_calendar_date(payload.get("time"))
        or schwab_calendar_date(payload.get("settlementDate"))
    )
    if trade_date is None:
        problems.append("no date")

    legs = _legs(payload)
    leg = security_leg(legs)
    instrument = _obj(leg.get("instrument")) if leg is not None else {}
    description = (_text(payload.get("description")) or "").strip()

    if problems or net is None:
        subtype = _S.UNKNOWN
        _log.warning(
            "schwab.transaction_unexpected_shape",
            why=", ".join(problems),
            schwab_type=redact_secrets(schwab_type)[:40] or None,
        )
    else:
        subtype = classify_transaction(schwab_type, net=net, description=description, leg=leg)

    symbol = _text(instrument.get("symbol"), limit=SYMBOL_LENGTH) if leg is not None else None
    with_quantity = leg is not None and schwab_type != "DIVIDEND_OR_INTEREST"
    if not description:
        description = " ".join(part for part in (schwab_type, symbol) if part)
    return FetchedTransaction(
        provider_transaction_id=activity,
        transaction_type=subtype.transaction_type,
        subtype=subtype,
        status=map_status(payload.get("status")),
        amount=net if net is not None else Decimal(0),
        currency=currency,
        transaction_date=trade_date or FALLBACK_DATE,
        description=description,
        asset_type=map_asset_type(instrument) if leg is not None else None,
        symbol=symbol,
        security_name=_text(instrument.get("description"), limit=NAME_LENGTH),
        quantity=to_decimal(leg.get("amount")) if with_quantity and leg is not None else None,
        unit_price=to_decimal(leg.get("price")) if with_quantity and leg is not None else None,
        fees=fee_total(legs),
        settlement_date=schwab_calendar_date(payload.get("settlementDate")),
        posted_at=parse_schwab_datetime(payload.get("time")),
        raw=raw,
    )
