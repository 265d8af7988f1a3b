"""Schwab payloads -> domain records: fixtures, every transaction type, and generated payloads."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings

from dashtam_cli.application.handlers.sync_records import to_account, to_holdings, to_transaction
from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.holdings import AssetType
from dashtam_cli.domain.providers import FetchedAccount, FetchedTransaction
from dashtam_cli.domain.transactions import TransactionStatus, TransactionSubtype, TransactionType
from dashtam_cli.infrastructure.db.types import json_dumps, json_loads
from dashtam_cli.infrastructure.providers.schwab.dates import schwab_calendar_date
from dashtam_cli.infrastructure.providers.schwab.errors import TRANSACTION_TYPES
from dashtam_cli.infrastructure.providers.schwab.mapping import (
    FALLBACK_DATE,
    KNOWN_TYPES,
    classify_transaction,
    infer_account_type,
    map_account,
    map_asset_type,
    map_position,
    map_positions,
    map_status,
    map_transaction,
    to_decimal,
)
from tests.infrastructure.schwab.api_fakes import load_fixture
from tests.infrastructure.schwab.openapi_strategies import JSON_VALUES, component

S = TransactionSubtype
TRANSACTIONS: list[dict[str, Any]] = load_fixture("transactions.json")
ACCOUNTS: list[dict[str, Any]] = load_fixture("accounts.json")
PREFERENCES: dict[str, Any] = load_fixture("user_preference.json")
NUMBERS = ("90000017", "90000025")
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def los_angeles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run in America/Los_Angeles, where the 04:00/05:00 UTC placeholders are the previous day."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    if time.localtime(1767240000).tm_hour != 20:  # 2026-01-01T04:00Z is 20:00 the day before
        monkeypatch.undo()
        time.tzset()
        pytest.skip("the America/Los_Angeles zone is not installed")
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


def by_id() -> dict[int, FetchedTransaction]:
    return {int(p["activityId"]): map_transaction(p) for p in TRANSACTIONS}


def preference(number: str) -> dict[str, Any]:
    return next(a for a in PREFERENCES["accounts"] if a["accountNumber"] == number)


def account(index: int, *, with_preference: bool = True) -> FetchedAccount:
    securities = ACCOUNTS[index]["securitiesAccount"]
    number = securities["accountNumber"]
    return map_account(
        securities,
        provider_account_id=f"id-{index}",
        masked="****" + number[-4:],
        preference=preference(number) if with_preference else None,
    )


# ------------------------------------------------------------------------- fixture transactions

EXPECTED_FIXTURE: dict[int, tuple[TransactionType, TransactionSubtype]] = {
    98765430011: (TransactionType.TRANSFER, S.WIRE_IN),
    98765430012: (TransactionType.TRADE, S.BUY),
    98765430013: (TransactionType.TRANSFER, S.ACH_IN),
    98765430014: (TransactionType.TRANSFER, S.SECURITY_IN),
    98765430015: (TransactionType.TRADE, S.SELL),
    98765430016: (TransactionType.FEE, S.OTHER_FEE),
    98765430017: (TransactionType.TRADE, S.SELL),
    98765430018: (TransactionType.TRADE, S.BUY),
    98765430019: (TransactionType.INCOME, S.DIVIDEND),
    98765430020: (TransactionType.INCOME, S.INTEREST),
    98765430021: (TransactionType.FEE, S.MARGIN_INTEREST),
    98765430022: (TransactionType.TRANSFER, S.ACH_OUT),
    98765430023: (TransactionType.TRANSFER, S.JOURNAL),
    98765430024: (TransactionType.TRANSFER, S.ACH_IN),
}


def test_fixture_rows_map_to_the_expected_types() -> None:
    mapped = by_id()
    assert {k: (v.transaction_type, v.subtype) for k, v in mapped.items()} == EXPECTED_FIXTURE
    assert all(t.provider_transaction_id == str(k) for k, t in mapped.items())


def test_amount_is_net_amount_exactly() -> None:
    for payload in TRANSACTIONS:
        txn = map_transaction(payload)
        assert txn.amount == payload["netAmount"]
        assert str(txn.amount) == str(payload["netAmount"])
        assert type(txn.amount) is Decimal
    total = sum((map_transaction(p).amount for p in TRANSACTIONS), Decimal(0))
    assert total == sum((p["netAmount"] for p in TRANSACTIONS), Decimal(0))
    assert total.quantize(Decimal("0.01")) == Decimal("9518.35")


def test_trade_legs_give_symbol_quantity_price_and_fees() -> None:
    mapped = by_id()
    buy = mapped[98765430012]
    assert (buy.symbol, buy.quantity, buy.unit_price, buy.asset_type) == (
        "EXMP",
        Decimal("60.0"),
        Decimal("120.5"),
        AssetType.EQUITY,
    )
    assert buy.fees == 0
    sell = mapped[98765430015]
    assert (sell.symbol, sell.quantity, sell.unit_price, sell.fees) == (
        "OLDC",
        Decimal("-25.0"),
        Decimal("40.0"),
        Decimal("0.03"),
    )
    option = mapped[98765430018]
    assert option.symbol == "EXMP  261218C00150000"  # OCC, inner spaces kept
    assert option.asset_type is AssetType.OPTION
    assert option.quantity == 2
    assert option.unit_price == Decimal("4.1")
    assert option.fees == Decimal("1.33")
    assert option.security_name == "EXAMPLE CORP 12/18/2026 $150 Call"
    # fees are informational: netAmount (the cash) already includes them
    assert option.amount == -(Decimal(2) * Decimal("4.1") * 100) - option.fees


def test_quantities_net_to_the_positions() -> None:
    per_symbol: dict[str, Decimal] = {}
    for txn in by_id().values():
        if txn.quantity is not None and txn.symbol is not None:
            per_symbol[txn.symbol] = per_symbol.get(txn.symbol, Decimal(0)) + txn.quantity
    holdings = {h.symbol: h.quantity for h in account(0).holdings}
    assert per_symbol == {"EXMP": 50, "OLDC": 0, "EXMP  261218C00150000": 2}
    assert holdings["EXMP"] == per_symbol["EXMP"]
    assert holdings["EXMP  261218C00150000"] == per_symbol["EXMP  261218C00150000"]


def test_dividend_names_the_security_but_has_no_quantity() -> None:
    dividend = by_id()[98765430019]
    assert dividend.symbol == "EXMP"
    assert dividend.quantity is None
    assert dividend.unit_price is None
    assert dividend.fees is None


def test_pending_row_is_pending_without_settlement_date() -> None:
    pending = by_id()[98765430024]
    assert pending.status is TransactionStatus.PENDING
    assert pending.settlement_date is None
    assert all(
        t.status is TransactionStatus.SETTLED for k, t in by_id().items() if k != 98765430024
    )


def test_dates_are_right_in_los_angeles(los_angeles: None) -> None:
    assert datetime(2026, 1, 6, 5, tzinfo=UTC).astimezone().day == 5  # the trap is armed
    mapped = by_id()
    for payload in TRANSACTIONS:
        txn = mapped[int(payload["activityId"])]
        assert txn.transaction_date == date.fromisoformat(payload["tradeDate"][:10])
        if "settlementDate" in payload:
            assert txn.settlement_date == date.fromisoformat(payload["settlementDate"][:10])
        assert txn.posted_at == datetime.fromisoformat(payload["time"])
        assert txn.posted_at is not None
        assert txn.posted_at.tzinfo is UTC
    assert mapped[98765430012].transaction_date == date(2026, 1, 6)  # T05:00Z, before DST
    assert mapped[98765430018].transaction_date == date(2026, 4, 1)  # T04:00Z, after DST
    assert mapped[98765430015].settlement_date == date(2026, 2, 23)


def test_raw_keeps_the_payload_with_the_account_number_masked() -> None:
    for payload in TRANSACTIONS:
        txn = map_transaction(payload)
        assert txn.raw is not None
        assert txn.raw["accountNumber"] == "****0017"
        text = json_dumps(txn.raw)
        assert "90000017" not in text
        restored = json_loads(text)
        assert restored["netAmount"] == payload["netAmount"]
        assert str(restored["netAmount"]) == str(payload["netAmount"])
        expected = dict(payload, accountNumber="****0017")
        assert restored == expected
    assert TRANSACTIONS[0]["accountNumber"] == "90000017"  # the input is not modified


def test_descriptions_are_kept_or_derived() -> None:
    mapped = by_id()
    assert mapped[98765430011].description == "WIRE INCOMING"
    assert mapped[98765430012].description == "TRADE EXMP"


# ------------------------------------------------------------------------- the 15 types


def currency_leg(amount: str, fee: str | None = None) -> dict[str, Any]:
    leg: dict[str, Any] = {
        "instrument": {"assetType": "CURRENCY", "symbol": "CURRENCY_USD", "instrumentId": 1},
        "amount": Decimal(amount),
        "cost": Decimal(amount) if fee is None else -Decimal(amount),
    }
    if fee is not None:
        leg["feeType"] = fee
    return leg


def security(
    amount: str, effect: str | None = None, asset: str = "EQUITY", symbol: str = "EXMP"
) -> dict[str, Any]:
    leg: dict[str, Any] = {
        "instrument": {"assetType": asset, "symbol": symbol},
        "amount": Decimal(amount),
        "price": Decimal("10"),
    }
    if effect:
        leg["positionEffect"] = effect
    return leg


def row(
    kind: str, net: str, *legs: dict[str, Any], description: str | None = None, **extra: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "activityId": 123,
        "time": "2026-03-02T15:00:00+0000",
        "accountNumber": "90000017",
        "type": kind,
        "status": "VALID",
        "tradeDate": "2026-03-02T05:00:00+0000",
        "netAmount": Decimal(net),
        "transferItems": list(legs),
    }
    if description is not None:
        payload["description"] = description
    payload.update(extra)
    return payload


CLASSIFIED: list[tuple[str, dict[str, Any], TransactionSubtype]] = [
    ("trade buy to open", row("TRADE", "-100", security("10", "OPENING")), S.BUY),
    ("trade sell to close", row("TRADE", "100", security("-10", "CLOSING")), S.SELL),
    ("trade sell to open", row("TRADE", "100", security("-1", "OPENING", "OPTION")), S.SHORT_SELL),
    (
        "trade buy to close",
        row("TRADE", "-100", security("1", "CLOSING", "OPTION")),
        S.BUY_TO_COVER,
    ),
    ("trade no effect buy", row("TRADE", "-100", security("10")), S.BUY),
    ("trade automatic sell", row("TRADE", "100", security("-10", "AUTOMATIC")), S.SELL),
    ("trade no legs", row("TRADE", "-5"), S.BUY),
    ("trade no legs zero", row("TRADE", "0"), S.UNKNOWN),
    (
        "dividend reinvestment",
        row("TRADE", "-12.34", security("0.1", "OPENING"), description="Dividend Reinvest"),
        S.REINVESTMENT,
    ),
    (
        "assignment",
        row("TRADE", "15000", security("-100"), description="OPTION ASSIGNMENT EXMP"),
        S.ASSIGNMENT,
    ),
    (
        "exercise",
        row("TRADE", "-15000", security("100"), description="EXERCISE OF CALL"),
        S.EXERCISE,
    ),
    ("shares in", row("RECEIVE_AND_DELIVER", "0", security("25")), S.SECURITY_IN),
    ("shares out", row("RECEIVE_AND_DELIVER", "0", security("-25")), S.SECURITY_OUT),
    (
        "option expired",
        row(
            "RECEIVE_AND_DELIVER",
            "0",
            security("-2", "CLOSING", "OPTION"),
            description="REMOVAL OF OPTION DUE TO EXPIRATION",
        ),
        S.EXPIRATION,
    ),
    ("cash in by delivery", row("RECEIVE_AND_DELIVER", "5"), S.TRANSFER_IN),
    ("delivery nothing", row("RECEIVE_AND_DELIVER", "0"), S.ADJUSTMENT),
    ("dividend", row("DIVIDEND_OR_INTEREST", "12.5", description="QUALIFIED DIVIDEND"), S.DIVIDEND),
    ("no description", row("DIVIDEND_OR_INTEREST", "3"), S.DIVIDEND),
    (
        "credit interest",
        row("DIVIDEND_OR_INTEREST", "1.87", description="CREDIT INTEREST"),
        S.INTEREST,
    ),
    (
        "bank int",
        row("DIVIDEND_OR_INTEREST", "0.42", description="BANK INT 041524-051524"),
        S.INTEREST,
    ),
    (
        "intl dividend",
        row("DIVIDEND_OR_INTEREST", "5", description="INTL BUSINESS MACH DIV"),
        S.DIVIDEND,
    ),
    (
        "margin interest",
        row("DIVIDEND_OR_INTEREST", "-4.12", description="MARGIN INTEREST 04/30-05/28"),
        S.MARGIN_INTEREST,
    ),
    ("adr fee", row("DIVIDEND_OR_INTEREST", "-0.5", description="ADR FEE OLDC"), S.OTHER_FEE),
    ("fee rebate", row("DIVIDEND_OR_INTEREST", "0.5", description="ADR FEE REFUND"), S.ADJUSTMENT),
    (
        "foreign tax",
        row("DIVIDEND_OR_INTEREST", "-1.2", description="FOREIGN TAX WITHHELD"),
        S.OTHER_FEE,
    ),
    (
        "cap gain",
        row("DIVIDEND_OR_INTEREST", "7", description="LONG TERM CAP GAIN ZZIDX"),
        S.CAPITAL_GAIN,
    ),
    (
        "return of capital",
        row("DIVIDEND_OR_INTEREST", "7", description="RETURN OF CAPITAL"),
        S.DISTRIBUTION,
    ),
    (
        "dividend reversal",
        row("DIVIDEND_OR_INTEREST", "-3", description="DIV REVERSAL"),
        S.ADJUSTMENT,
    ),
    ("ach receipt", row("ACH_RECEIPT", "5000", currency_leg("5000")), S.ACH_IN),
    ("ach receipt returned", row("ACH_RECEIPT", "-5000"), S.ACH_OUT),
    ("ach disbursement", row("ACH_DISBURSEMENT", "-1500"), S.ACH_OUT),
    ("ach disbursement zero", row("ACH_DISBURSEMENT", "0"), S.ACH_OUT),
    ("wire in", row("WIRE_IN", "10000"), S.WIRE_IN),
    ("wire out", row("WIRE_OUT", "-2000"), S.WIRE_OUT),
    ("cash receipt", row("CASH_RECEIPT", "300"), S.DEPOSIT),
    ("cash disbursement", row("CASH_DISBURSEMENT", "-300"), S.WITHDRAWAL),
    ("electronic fund in", row("ELECTRONIC_FUND", "300"), S.TRANSFER_IN),
    ("electronic fund out", row("ELECTRONIC_FUND", "-300"), S.TRANSFER_OUT),
    ("journal cash", row("JOURNAL", "-250", currency_leg("-250")), S.JOURNAL),
    ("journal shares in", row("JOURNAL", "0", security("5")), S.SECURITY_IN),
    ("journal shares out", row("JOURNAL", "0", security("-5")), S.SECURITY_OUT),
    (
        "journal of sweep cash",
        row("JOURNAL", "-5", security("-5", asset="CASH_EQUIVALENT", symbol="MMDA1")),
        S.JOURNAL,
    ),
    ("memorandum", row("MEMORANDUM", "0"), S.ADJUSTMENT),
    ("margin call", row("MARGIN_CALL", "0"), S.ADJUSTMENT),
    (
        "money market sweep",
        row("MONEY_MARKET", "0", security("100", asset="CASH_EQUIVALENT", symbol="MMDA1")),
        S.ADJUSTMENT,
    ),
    ("sma adjustment", row("SMA_ADJUSTMENT", "0"), S.ADJUSTMENT),
    ("unknown type", row("STOCK_SPLIT", "0"), S.UNKNOWN),
]


@pytest.mark.parametrize(
    ("payload", "subtype"),
    [(payload, subtype) for _, payload, subtype in CLASSIFIED],
    ids=[name for name, _, _ in CLASSIFIED],
)
def test_classification(payload: dict[str, Any], subtype: TransactionSubtype) -> None:
    txn = map_transaction(payload)
    assert txn.subtype is subtype
    assert txn.transaction_type is subtype.transaction_type
    assert txn.amount == payload["netAmount"]
    to_transaction(uuid4(), txn)  # the domain accepts it


def test_every_schwab_type_is_covered() -> None:
    assert set(TRANSACTION_TYPES) == KNOWN_TYPES
    covered = {payload["type"] for _, payload, _ in CLASSIFIED}
    assert covered >= KNOWN_TYPES
    for kind in TRANSACTION_TYPES:
        for net in (Decimal(-1), Decimal(0), Decimal(1)):
            subtype = classify_transaction(kind, net=net, description="", leg=None)
            assert subtype is not S.UNKNOWN or (kind == "TRADE" and net == 0)


def test_money_market_sweep_keeps_its_leg() -> None:
    txn = map_transaction(
        row("MONEY_MARKET", "0", security("100", asset="CASH_EQUIVALENT", symbol="MMDA1"))
    )
    assert (txn.symbol, txn.asset_type, txn.quantity) == (
        "MMDA1",
        AssetType.CASH_EQUIVALENT,
        Decimal(100),
    )


def test_security_leg_prefers_the_stock_over_a_sweep_mirror() -> None:
    payload = row(
        "TRADE",
        "-50",
        security("50", asset="CASH_EQUIVALENT", symbol="MMDA1"),
        currency_leg("0.65", fee="COMMISSION"),
        security("5", "OPENING"),
    )
    txn = map_transaction(payload)
    assert (txn.symbol, txn.quantity, txn.fees) == ("EXMP", Decimal(5), Decimal("0.65"))


@pytest.mark.parametrize(
    ("legs", "expected"),
    [
        ([currency_leg("0.02", fee="SEC_FEE"), currency_leg("0.01", fee="TAF_FEE")], "0.03"),
        ([{"feeType": "COMMISSION", "amount": Decimal("0.65")}], "0.65"),  # no cost
        ([{"feeType": "COMMISSION", "cost": Decimal("-0.65"), "amount": Decimal(0)}], "0.65"),
        ([{"feeType": "COMMISSION", "cost": Decimal("0.65")}], "0.65"),  # other sign convention
        ([{"feeType": "COMMISSION"}], "0"),
    ],
)
def test_fees_sum_fee_legs_whatever_their_sign(legs: list[dict[str, Any]], expected: str) -> None:
    txn = map_transaction(row("TRADE", "-100", security("10", "OPENING"), *legs))
    assert txn.fees == Decimal(expected)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("VALID", TransactionStatus.SETTLED),
        ("PENDING", TransactionStatus.PENDING),
        ("INVALID", TransactionStatus.CANCELLED),
        ("UNKNOWN", TransactionStatus.PENDING),
        (None, TransactionStatus.PENDING),
        ("weird", TransactionStatus.PENDING),
    ],
)
def test_status(status: str | None, expected: TransactionStatus) -> None:
    assert map_status(status) is expected


# ------------------------------------------------------------------------- odd shapes


@pytest.mark.parametrize(
    "payload",
    [
        {k: v for k, v in row("TRADE", "-100", security("10")).items() if k != "activityId"},
        row("TRADE", "-100", security("10"), activityId=None),
        row("TRADE", "-100", security("10"), activityId=True),
        row("TRADE", "-100", security("10"), activityId="not-a-number"),
    ],
)
def test_rows_without_activity_id_are_flagged_with_a_stable_id(payload: dict[str, Any]) -> None:
    first, second = map_transaction(payload), map_transaction(copy.deepcopy(payload))
    assert first.provider_transaction_id == second.provider_transaction_id
    assert first.provider_transaction_id.startswith("x-")
    assert len(first.provider_transaction_id) == 34
    assert (first.transaction_type, first.subtype) == (TransactionType.OTHER, S.UNKNOWN)
    assert first.amount == Decimal(-100)
    assert first.raw is not None
    assert first.raw["accountNumber"] == "****0017"
    other = map_transaction(dict(payload, netAmount=Decimal(-101)))
    assert other.provider_transaction_id != first.provider_transaction_id


@pytest.mark.parametrize(
    ("payload", "amount"),
    [
        (row("TRADE", "0", netAmount=None), Decimal(0)),
        (row("TRADE", "0", netAmount="abc"), Decimal(0)),
        (row("TRADE", "0", netAmount="12.50"), Decimal("12.50")),
        (row("NEW_KIND", "7"), Decimal(7)),
        (row("TRADE", "7", type=None), Decimal(7)),
        (row("TRADE", "7", tradeDate=None, time=None), Decimal(7)),
    ],
)
def test_unexpected_shapes_are_other_unknown(payload: dict[str, Any], amount: Decimal) -> None:
    txn = map_transaction(payload)
    if payload.get("netAmount") == "12.50":
        # a numeric string is still a number: not an odd shape
        assert txn.subtype is not S.UNKNOWN
    else:
        assert txn.subtype is S.UNKNOWN
    assert txn.amount == amount
    assert txn.provider_transaction_id == "123"
    assert txn.raw is not None


@pytest.mark.parametrize("payload", [None, [], [1, 2], "text", 42, Decimal("1.5"), {}])
def test_non_rows_are_still_mapped(payload: Any) -> None:
    txn = map_transaction(payload)
    assert txn.subtype is S.UNKNOWN
    assert txn.transaction_date == FALLBACK_DATE
    assert txn.provider_transaction_id.startswith("x-")
    assert txn.raw is not None
    json_dumps(txn.raw)
    to_transaction(uuid4(), txn)


def test_date_falls_back_to_time_then_settlement() -> None:
    no_trade = row("WIRE_IN", "1", tradeDate=None)
    assert map_transaction(no_trade).transaction_date == date(2026, 3, 2)
    only_settlement = row("WIRE_IN", "1", tradeDate=None, time=None, settlementDate="2026-03-04")
    assert map_transaction(only_settlement).transaction_date == date(2026, 3, 4)


# ------------------------------------------------------------------------- positions


def test_fixture_positions() -> None:
    brokerage, ira = account(0), account(1)
    stock, call, sweep = brokerage.holdings
    assert (stock.symbol, stock.asset_type, stock.quantity) == (
        "EXMP",
        AssetType.EQUITY,
        Decimal(50),
    )
    assert stock.cost_basis == Decimal("6025.0")
    assert stock.current_price == Decimal("129.75")
    assert stock.security_name is None  # plain equities carry no description
    assert call.symbol == call.provider_holding_id == "EXMP  261218C00150000"
    assert call.asset_type is AssetType.OPTION
    assert call.quantity == 2  # contracts
    assert call.average_price == Decimal("4.1")  # per share
    assert call.cost_basis == Decimal("820")  # x 100
    assert call.market_value == Decimal("650.0")
    assert call.current_price == Decimal("3.25")
    assert (sweep.symbol, sweep.asset_type) == ("MMDA1", AssetType.CASH_EQUIVALENT)
    etf, fund = ira.holdings
    assert (etf.symbol, etf.asset_type) == ("ZZTM", AssetType.ETF)
    assert (fund.symbol, fund.asset_type, fund.quantity) == (
        "ZZIDX",
        AssetType.MUTUAL_FUND,
        Decimal("101.234"),
    )
    assert fund.current_price == Decimal("25.59999605")  # rounded to 8 places


def test_net_quantity_is_long_minus_short() -> None:
    short_call = {
        "longQuantity": Decimal(0),
        "shortQuantity": Decimal(3),
        "averagePrice": Decimal("2.5"),
        "marketValue": Decimal("-600"),
        "instrument": {"assetType": "OPTION", "symbol": "EXMP  261218P00100000", "putCall": "PUT"},
    }
    holding = map_position(short_call)
    assert holding.quantity == -3
    assert holding.cost_basis == Decimal("-750")
    assert holding.current_price == Decimal(2)
    both = map_position(dict(short_call, longQuantity=Decimal(5), shortQuantity=Decimal(2)))
    assert both.quantity == 3


def test_option_multiplier_from_the_instrument() -> None:
    mini = {
        "longQuantity": Decimal(2),
        "averagePrice": Decimal("1.5"),
        "instrument": {"assetType": "OPTION", "symbol": "X", "optionMultiplier": 10},
    }
    assert map_position(mini).cost_basis == Decimal("30.0")


@pytest.mark.parametrize(
    ("instrument", "expected"),
    [
        ({"assetType": "EQUITY"}, AssetType.EQUITY),
        ({"assetType": "EQUITY", "type": "EXCHANGE_TRADED_FUND"}, AssetType.ETF),
        ({"assetType": "COLLECTIVE_INVESTMENT", "type": "EXCHANGE_TRADED_FUND"}, AssetType.ETF),
        ({"assetType": "COLLECTIVE_INVESTMENT", "type": "CLOSED_END_FUND"}, AssetType.ETF),
        ({"assetType": "COLLECTIVE_INVESTMENT", "type": "INDEX"}, AssetType.INDEX),
        ({"assetType": "OPTION"}, AssetType.OPTION),
        ({"assetType": "MUTUAL_FUND"}, AssetType.MUTUAL_FUND),
        ({"assetType": "CASH_EQUIVALENT", "type": "MONEY_MARKET_FUND"}, AssetType.CASH_EQUIVALENT),
        ({"assetType": "FIXED_INCOME"}, AssetType.FIXED_INCOME),
        ({"assetType": "FUTURE"}, AssetType.FUTURES),
        ({"assetType": "FOREX"}, AssetType.CURRENCY),
        ({"assetType": "CURRENCY"}, AssetType.CURRENCY),
        ({"assetType": "INDEX"}, AssetType.INDEX),
        ({"assetType": "PRODUCT"}, AssetType.OTHER),
        ({"assetType": "CRYPTO_THING"}, AssetType.OTHER),
        ({}, AssetType.OTHER),
    ],
)
def test_asset_types(instrument: dict[str, Any], expected: AssetType) -> None:
    assert map_asset_type(instrument) is expected


def test_unknown_positions_keep_their_raw_payload() -> None:
    odd = {"longQuantity": Decimal(1), "instrument": {"assetType": "WARRANT_X", "cusip": "123"}}
    holding = map_position(odd)
    assert holding.asset_type is AssetType.OTHER
    assert (holding.symbol, holding.provider_holding_id) == ("123", "cusip:123")
    assert holding.raw == odd
    bare = map_position({})
    assert bare.symbol == "UNKNOWN"
    assert bare.provider_holding_id.startswith("x-")
    assert bare.quantity == 0


def test_repeated_positions_stay_separate() -> None:
    one = {"longQuantity": Decimal(1), "instrument": {"assetType": "EQUITY", "symbol": "EXMP"}}
    holdings = map_positions([one, "junk", dict(one, longQuantity=Decimal(2))])
    assert [h.provider_holding_id for h in holdings] == ["EXMP", "EXMP#2"]
    assert [h.quantity for h in holdings] == [1, 2]


# ------------------------------------------------------------------------- accounts


def test_fixture_accounts() -> None:
    brokerage, ira = account(0), account(1)
    assert (brokerage.name, brokerage.account_type) == ("Individual", AccountType.BROKERAGE)
    assert (ira.name, ira.account_type) == ("Rollover IRA", AccountType.IRA)
    assert brokerage.balance == Decimal("9637.5")
    assert brokerage.cash_balance == Decimal("0.0")
    assert brokerage.available_balance == Decimal("7691.25")
    assert ira.balance == Decimal("7413.69")
    assert ira.cash_balance == Decimal("1250.0")
    assert ira.available_balance == Decimal("1250.0")
    assert brokerage.currency == ira.currency == "USD"


def test_the_sweep_is_not_counted_twice() -> None:
    for index in (0, 1):
        fetched = account(index)
        holdings = sum((h.market_value or Decimal(0) for h in fetched.holdings), Decimal(0))
        assert fetched.cash_balance is not None
        assert holdings + fetched.cash_balance == fetched.balance
    brokerage = account(0)
    sweep = next(h for h in brokerage.holdings if h.symbol == "MMDA1")
    assert sweep.market_value == Decimal("2500.0")
    assert brokerage.cash_balance == 0  # not cashBalance + moneyMarketFund


def test_account_raw_has_no_account_number() -> None:
    for index in (0, 1):
        fetched = account(index)
        text = json_dumps(fetched.raw)
        for number in NUMBERS:
            assert number not in text
        assert fetched.raw is not None
        assert fetched.raw["securitiesAccount"]["accountNumber"].startswith("****")
        assert fetched.raw["userPreference"]["nickName"]
        domain = to_account(uuid4(), fetched, datetime(2026, 7, 1, tzinfo=UTC))
        assert domain.balance.amount == fetched.balance
        to_holdings(uuid4(), fetched)


def test_default_name_and_type_without_preference() -> None:
    fetched = account(1, with_preference=False)
    assert fetched.name == "Schwab ****0025"
    assert fetched.account_type is AccountType.BROKERAGE
    assert fetched.raw is not None
    assert "userPreference" not in fetched.raw


@pytest.mark.parametrize(
    ("hints", "expected"),
    [
        ({"type": "BROKERAGE", "nickName": "Individual"}, AccountType.BROKERAGE),
        ({"type": "BROKERAGE", "nickName": "Rollover IRA"}, AccountType.IRA),
        ({"type": "BROKERAGE", "nickName": "My Roth"}, AccountType.ROTH_IRA),
        ({"type": "ROTH_IRA"}, AccountType.ROTH_IRA),
        ({"type": "IRA"}, AccountType.IRA),
        ({"nickName": "Contributory-IRA"}, AccountType.IRA),
        ({"nickName": "Family HSA"}, AccountType.HSA),
        ({"nickName": "Old 401(k) rollover"}, AccountType.K401),
        ({"nickName": "Iran trip fund"}, AccountType.BROKERAGE),
        ({"nickName": "Mirage"}, AccountType.BROKERAGE),
        ({}, AccountType.BROKERAGE),
    ],
)
def test_account_type_hints(hints: dict[str, Any], expected: AccountType) -> None:
    assert infer_account_type({"type": "CASH"}, hints) is expected


def test_balance_fallbacks() -> None:
    base: dict[str, Any] = {"type": "CASH", "accountNumber": "90000025"}
    kwargs: dict[str, Any] = {"provider_account_id": "x", "masked": "****0025", "preference": None}
    start_of_day = dict(base, initialBalances={"liquidationValue": Decimal("100.5")})
    assert map_account(start_of_day, **kwargs).balance == Decimal("100.5")
    account_value = dict(base, initialBalances={"accountValue": Decimal("99")})
    assert map_account(account_value, **kwargs).balance == Decimal(99)
    positions = dict(
        base,
        currentBalances={"cashBalance": Decimal("10")},
        positions=[
            {"marketValue": Decimal("5.5"), "instrument": {"assetType": "EQUITY", "symbol": "A"}},
            {"instrument": {"assetType": "EQUITY", "symbol": "B"}},
        ],
    )
    computed = map_account(positions, **kwargs)
    assert computed.balance == Decimal("15.5")
    assert computed.cash_balance == Decimal(10)
    empty = map_account({}, **kwargs)
    assert (empty.balance, empty.cash_balance, empty.available_balance) == (Decimal(0), None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.10"), Decimal("1.10")),
        (3, Decimal(3)),
        ("2.50", Decimal("2.50")),
        (0.1, Decimal("0.1")),
        (True, None),
        ("x", None),
        (Decimal("NaN"), None),
        (None, None),
        ([1], None),
    ],
)
def test_to_decimal(value: object, expected: Decimal | None) -> None:
    result = to_decimal(value)
    assert result == expected
    if expected is not None:
        assert str(result) == str(expected)


# ------------------------------------------------------------------------- generated payloads


def check_transaction(payload: Any) -> None:
    txn = map_transaction(payload)
    assert txn.subtype.transaction_type is txn.transaction_type
    assert type(txn.amount) is Decimal
    if isinstance(payload, dict):
        net = to_decimal(payload.get("netAmount"))
        if net is not None:
            assert txn.amount == net
        activity = payload.get("activityId")
        if type(activity) is int:
            assert txn.provider_transaction_id == str(activity)
        number = payload.get("accountNumber")
        if isinstance(number, str) and txn.raw is not None:
            assert txn.raw["accountNumber"] == "****" + number.strip()[-4:] or not number.strip()
    assert txn.raw is not None
    json_dumps(txn.raw)
    to_transaction(uuid4(), txn)


@FAST
@given(component("Transaction"))
def test_generated_transactions_map(payload: dict[str, Any]) -> None:
    check_transaction(payload)


@FAST
@given(component("Transaction", "activityId", "netAmount", "type", "tradeDate", "transferItems"))
def test_generated_well_formed_transactions_are_classified(payload: dict[str, Any]) -> None:
    check_transaction(payload)
    txn = map_transaction(payload)
    assert txn.provider_transaction_id == str(payload["activityId"])
    if schwab_calendar_date(payload["tradeDate"]) is not None:
        assert txn.subtype is not S.UNKNOWN or payload["type"] == "TRADE"


@FAST
@given(JSON_VALUES)
def test_arbitrary_json_never_raises(payload: Any) -> None:
    check_transaction(payload)
    if isinstance(payload, dict):
        json_dumps(map_position(payload).raw)
        fetched = map_account(
            payload, provider_account_id="x", masked="****0000", preference=payload
        )
        to_account(uuid4(), fetched, datetime(2026, 7, 1, tzinfo=UTC))
        to_holdings(uuid4(), fetched)


@FAST
@given(component("Account"))
def test_generated_accounts_map(payload: dict[str, Any]) -> None:
    securities = payload.get("securitiesAccount", {})
    fetched = map_account(securities, provider_account_id="x", masked="****0000", preference=None)
    assert type(fetched.balance) is Decimal
    current = securities.get("currentBalances", {}) if isinstance(securities, dict) else {}
    if isinstance(current.get("liquidationValue"), Decimal):
        assert fetched.balance == current["liquidationValue"]
    json_dumps(fetched.raw)
    to_account(uuid4(), fetched, datetime(2026, 7, 1, tzinfo=UTC))
    to_holdings(uuid4(), fetched)


@FAST
@given(component("Position"))
def test_generated_positions_map(payload: dict[str, Any]) -> None:
    holding = map_position(payload)
    long_qty = to_decimal(payload.get("longQuantity")) or Decimal(0)
    short_qty = to_decimal(payload.get("shortQuantity")) or Decimal(0)
    assert holding.quantity == long_qty - abs(short_qty)
    json_dumps(holding.raw)


@pytest.mark.parametrize(
    ("quantity", "average", "market_value", "cost_basis", "current_price"),
    [
        # a $100,000 CD counted in $1,000 bonds, priced in percent of par
        ("100", "100", "100012", "100000", "100.012"),
        # a T-bill counted in face dollars
        ("10000", "98.765", "9912.30", "9876.500", "99.123"),
        # a distressed bond at 60% of its cost: still within a factor of two
        ("50", "100", "30000", "50000", "60"),
        # no sensible multiplier: unknown, not wrong
        ("100", "100", "3", None, None),
    ],
)
def test_bonds_are_priced_in_percent_of_par(
    quantity: str,
    average: str,
    market_value: str,
    cost_basis: str | None,
    current_price: str | None,
) -> None:
    bond = {
        "longQuantity": Decimal(quantity),
        "averagePrice": Decimal(average),
        "marketValue": Decimal(market_value),
        "instrument": {"assetType": "FIXED_INCOME", "cusip": "64034KEE7"},
    }
    holding = map_position(bond)
    assert holding.market_value == Decimal(market_value)
    expected = (
        None if cost_basis is None else Decimal(cost_basis),
        None if current_price is None else Decimal(current_price),
    )
    assert (holding.cost_basis, holding.current_price) == expected


def test_a_declared_bond_multiplier_wins() -> None:
    bond = {
        "longQuantity": Decimal(5),
        "averagePrice": Decimal(100),
        "marketValue": Decimal(5000),
        "instrument": {"assetType": "FIXED_INCOME", "symbol": "B", "multiplier": Decimal(10)},
    }
    assert map_position(bond).cost_basis == Decimal(5000)


def test_a_closed_position_is_left_out() -> None:
    closed = {
        "longQuantity": Decimal(0),
        "shortQuantity": Decimal(0),
        "averagePrice": Decimal(0),
        "instrument": {"assetType": "EQUITY", "symbol": "GONE"},
    }
    held = {"longQuantity": Decimal(1), "instrument": {"assetType": "EQUITY", "symbol": "KEPT"}}
    assert [h.symbol for h in map_positions([closed, held])] == ["KEPT"]


@pytest.mark.parametrize(
    ("description", "net", "subtype"),
    [
        ("VANGUARD TAX-EXEMPT BOND ETF", "12.34", S.DIVIDEND),
        ("ISHARES INT'L SELECT DIV ETF", "5", S.DIVIDEND),
        ("NON-TAXABLE DIVIDEND", "5", S.DIVIDEND),
        ("FOREIGN TAX WITHHELD", "-1.2", S.OTHER_FEE),
        ("BANK INT 041524-051524", "0.42", S.INTEREST),
    ],
)
def test_words_inside_a_fund_name_do_not_classify_it(
    description: str, net: str, subtype: TransactionSubtype
) -> None:
    payload = {
        "activityId": 1,
        "type": "DIVIDEND_OR_INTEREST",
        "description": description,
        "netAmount": Decimal(net),
        "tradeDate": "2025-01-02T00:00:00+0000",
    }
    assert map_transaction(payload).subtype is subtype


def test_text_fits_the_database_nul_free_and_within_its_columns() -> None:
    from dashtam_cli.infrastructure.db.schema import holdings, transactions
    from dashtam_cli.infrastructure.providers.schwab.mapping import NAME_LENGTH, SYMBOL_LENGTH

    def width(column: Any) -> int:
        return int(column.type.length)

    assert width(holdings.c.symbol) == width(transactions.c.symbol) == SYMBOL_LENGTH
    assert width(holdings.c.security_name) == width(transactions.c.security_name) == NAME_LENGTH
    long_name = "VANGUARD " * 40  # 360 characters
    position = {
        "longQuantity": Decimal(1),
        "instrument": {"assetType": "EQUITY", "symbol": "AB\x00C", "description": long_name},
    }
    holding = map_position(position)
    assert holding.symbol == "ABC"
    assert holding.security_name is not None
    assert len(holding.security_name) == NAME_LENGTH
    assert holding.security_name.endswith("…")
    assert "\x00" not in json.dumps(holding.raw, default=str)
    row = {
        "activityId": 7,
        "type": "TRADE",
        "description": "BOUGHT\x00 ACME",
        "netAmount": Decimal("-10"),
        "tradeDate": "2025-01-02T00:00:00+0000",
        "transferItems": [
            {
                "amount": Decimal(1),
                "price": Decimal(10),
                "instrument": {"assetType": "EQUITY", "symbol": "X" * 80, "description": long_name},
            }
        ],
    }
    txn = map_transaction(row)
    assert "\x00" not in txn.description
    assert txn.symbol is not None
    assert len(txn.symbol) == SYMBOL_LENGTH
    assert txn.security_name is not None
    assert len(txn.security_name) == NAME_LENGTH
    assert "\x00" not in json.dumps(txn.raw, default=str)
