"""Each demo account type's mix of transaction kinds, with relative weights.

The brokerage mix holds every subtype of the domain, so every full cycle of its 182-row deck (see
the ledger) shows them all; the other mixes keep to what such an account does
(no option trades in savings, card purchases on the card and debit card, payroll into checking).
"""

from __future__ import annotations

from dashtam_cli.domain.transactions import TransactionStatus, TransactionSubtype
from dashtam_cli.infrastructure.providers.demo.catalog import (
    ADRS,
    BANKS,
    BILLERS,
    BROKERS,
    EMPLOYERS,
    EQUITIES,
    ETFS,
    MERCHANTS,
    MUTUAL_FUNDS,
    PHARMACIES,
    Merchant,
)
from dashtam_cli.infrastructure.providers.demo.kinds import (
    Kind,
    atm,
    cash,
    equity_trade,
    fee,
    fund_trade,
    merchant_line,
    numbered,
    option_event,
    option_trade,
    payroll,
    purchase,
    reinvestment,
    security_income,
    security_move,
)

_S = TransactionSubtype
_FAILED = TransactionStatus.FAILED


_PAYERS = tuple(s for s in EQUITIES + ETFS + MUTUAL_FUNDS if s.yield_bp)
_FUND_LIKE = ETFS + MUTUAL_FUNDS
_HIGH_YIELD = tuple(s for s in EQUITIES + ETFS if s.yield_bp >= 300)
_SHAREABLE = EQUITIES + ETFS
_FOREIGN = tuple(m for m in MERCHANTS if m.foreign)
_DIVIDENDS = ("Qualified dividend", "Ordinary dividend", "Non-qualified dividend")
_GAINS = ("Long-term capital gain distribution", "Short-term capital gain distribution")
_BANK = f"{BANKS[0]} ****4821"
_RETIREMENT_FUNDS = MUTUAL_FUNDS + ETFS[:3]
_ACATS = tuple(f"ACATS transfer in from {broker}" for broker in BROKERS)
_CORRECTIONS = ("Dividend adjustment", "Cash in lieu, corporate action")


def _brokerage() -> list[tuple[Kind, int]]:
    return [
        (equity_trade(_S.BUY, EQUITIES, "Buy", sell=False), 22),
        (equity_trade(_S.SELL, EQUITIES, "Sell", sell=True), 14),
        (equity_trade(_S.BUY, ETFS, "Buy", sell=False), 12),
        (equity_trade(_S.SELL, ETFS, "Sell", sell=True), 6),
        (fund_trade(_S.BUY, MUTUAL_FUNDS, "Purchase", sell=False), 3),
        (fund_trade(_S.SELL, MUTUAL_FUNDS, "Redemption", sell=True), 2),
        (equity_trade(_S.SHORT_SELL, EQUITIES, "Short sale", sell=True), 4),
        (equity_trade(_S.BUY_TO_COVER, EQUITIES, "Buy to cover", sell=False), 4),
        (option_trade(_S.BUY), 7),
        (option_trade(_S.SELL), 7),
        (option_event(_S.EXERCISE), 3),
        (option_event(_S.ASSIGNMENT), 3),
        (option_event(_S.EXPIRATION), 3),
        (reinvestment(_PAYERS), 8),
        (security_income(_S.DIVIDEND, _PAYERS, _DIVIDENDS, 100, 150_000), 18),
        (cash(_S.INTEREST, 1, ("Bank interest, sweep program", "Credit interest"), 1, 5_000), 4),
        (security_income(_S.CAPITAL_GAIN, _FUND_LIKE, _GAINS, 500, 80_000), 3),
        (security_income(_S.DISTRIBUTION, _HIGH_YIELD, ("Return of capital",), 200, 40_000), 3),
        (fee(_S.COMMISSION, ("Broker-assisted trade commission", "Commission"), 495, 2_500), 3),
        (fee(_S.ACCOUNT_FEE, ("Paper statement fee", "Account maintenance fee"), 200, 5_000), 3),
        (fee(_S.MARGIN_INTEREST, ("Margin interest charged",), 100, 40_000), 4),
        (fee(_S.OTHER_FEE, ("ADR custody fee",), 5, 500, ADRS), 3),
        (cash(_S.ACH_IN, 1, (f"ACH deposit from {_BANK}",), 10_000, 2_000_000), 6),
        (
            cash(
                _S.ACH_OUT,
                -1,
                (f"ACH withdrawal to {_BANK}",),
                10_000,
                1_500_000,
                bad=_FAILED,
                bad_per_mille=20,
            ),
            4,
        ),
        (cash(_S.WIRE_IN, 1, (f'Incoming wire, "{BANKS[5]}"',), 500_000, 10_000_000), 3),
        (cash(_S.WIRE_OUT, -1, (f"Outgoing wire to {BANKS[6]}, Paris",), 200_000, 5_000_000), 3),
        (cash(_S.DEPOSIT, 1, ("Check deposit", "Cash deposit at branch"), 5_000, 500_000), 3),
        (cash(_S.WITHDRAWAL, -1, ("Check disbursement", "Cash withdrawal"), 5_000, 300_000), 3),
        (cash(_S.TRANSFER_IN, 1, _ACATS, 10_000, 5_000_000), 3),
        (
            cash(
                _S.TRANSFER_OUT, -1, ("Transfer to Roth IRA, 2025 contribution",), 10_000, 700_000
            ),
            3,
        ),
        (
            cash(
                _S.JOURNAL, 0, ("Journal, margin to cash", "Journal between accounts"), 100, 500_000
            ),
            3,
        ),
        (security_move(_S.SECURITY_IN, _SHAREABLE, "Shares received via ACATS"), 3),
        (security_move(_S.SECURITY_OUT, _SHAREABLE, "Shares delivered out, gift"), 3),
        (cash(_S.ADJUSTMENT, 0, _CORRECTIONS, 1, 20_000), 3),
        (cash(_S.UNKNOWN, 0, ("Miscellaneous entry (unclassified)", "MISC CR/DR"), 1, 5_000), 3),
    ]


def _roth_ira() -> list[tuple[Kind, int]]:
    return [
        (equity_trade(_S.BUY, EQUITIES, "Buy", sell=False, high=1_000_000), 14),
        (equity_trade(_S.SELL, EQUITIES, "Sell", sell=True, high=1_000_000), 8),
        (equity_trade(_S.BUY, ETFS, "Buy", sell=False, high=1_000_000), 10),
        (equity_trade(_S.SELL, ETFS, "Sell", sell=True, high=1_000_000), 4),
        (fund_trade(_S.BUY, MUTUAL_FUNDS, "Purchase", sell=False), 6),
        (fund_trade(_S.SELL, MUTUAL_FUNDS, "Redemption", sell=True), 2),
        (reinvestment(_PAYERS), 10),
        (security_income(_S.DIVIDEND, _PAYERS, _DIVIDENDS, 100, 60_000), 14),
        (security_income(_S.CAPITAL_GAIN, _FUND_LIKE, _GAINS, 500, 40_000), 3),
        (cash(_S.INTEREST, 1, ("Credit interest",), 1, 2_000), 4),
        (cash(_S.DEPOSIT, 1, ("Roth IRA contribution",), 10_000, 700_000), 4),
        (cash(_S.ACH_IN, 1, (f"Contribution via ACH, {_BANK}",), 10_000, 700_000), 4),
        (cash(_S.TRANSFER_IN, 1, ("Roth conversion from Traditional IRA",), 100_000, 2_000_000), 2),
        (option_trade(_S.SELL), 3),
        (option_event(_S.EXPIRATION), 2),
        (option_event(_S.ASSIGNMENT), 1),
        (fee(_S.ACCOUNT_FEE, ("Annual IRA maintenance fee",), 2_500, 5_000), 1),
        (cash(_S.ADJUSTMENT, 0, ("Dividend adjustment",), 1, 5_000), 1),
        (security_move(_S.SECURITY_IN, _SHAREABLE, "Shares received via ACATS"), 1),
        (cash(_S.JOURNAL, 0, ("Journal, contribution year correction",), 100, 100_000), 1),
    ]


def _retirement_plan(employer: str) -> list[tuple[Kind, int]]:
    return [
        (
            cash(_S.ACH_IN, 1, (f"Employee contribution, pre-tax ({employer})",), 20_000, 120_000),
            16,
        ),
        (cash(_S.DEPOSIT, 1, (f"Employer match, {employer}",), 10_000, 60_000), 10),
        (fund_trade(_S.BUY, _RETIREMENT_FUNDS, "Purchase", sell=False, high=300_000), 24),
        (fund_trade(_S.SELL, _RETIREMENT_FUNDS, "Exchange out of", sell=True, high=300_000), 4),
        (reinvestment(tuple(s for s in _RETIREMENT_FUNDS if s.yield_bp)), 10),
        (security_income(_S.DIVIDEND, MUTUAL_FUNDS, ("Ordinary dividend",), 100, 40_000), 8),
        (security_income(_S.CAPITAL_GAIN, MUTUAL_FUNDS, _GAINS, 100, 30_000), 4),
        (security_income(_S.DISTRIBUTION, MUTUAL_FUNDS, ("Fund distribution",), 100, 10_000), 2),
        (fee(_S.ACCOUNT_FEE, ("Recordkeeping fee", "Plan administration fee"), 300, 4_000), 3),
        (fee(_S.OTHER_FEE, ("Managed account advisory fee",), 500, 9_000), 2),
        (cash(_S.ADJUSTMENT, 0, ("Earnings adjustment", "Contribution true-up"), 1, 20_000), 2),
        (cash(_S.JOURNAL, 0, ("Rebalance journal",), 1_000, 200_000), 2),
        (cash(_S.INTEREST, 1, ("Stable value fund interest",), 10, 8_000), 3),
        (cash(_S.WITHDRAWAL, -1, ("401(k) loan disbursement",), 100_000, 1_000_000), 1),
        (
            cash(_S.TRANSFER_IN, 1, ("Rollover from previous employer plan",), 500_000, 5_000_000),
            1,
        ),
    ]


def _checking() -> list[tuple[Kind, int]]:
    return [
        (cash(_S.ACH_IN, 1, ("Zelle from María García", "Venmo cashout"), 1_000, 60_000), 8),
        (cash(_S.ACH_OUT, -1, BILLERS, 2_000, 350_000, bad=_FAILED, bad_per_mille=10), 14),
        (purchase(MERCHANTS, "Debit card purchase, ", cancel_per_mille=30), 40),
        (atm(), 4),
        (numbered(_S.DEPOSIT, 1, "Mobile check deposit #{}", 2_000, 300_000), 4),
        (numbered(_S.WITHDRAWAL, -1, "Check #{} paid", 2_000, 250_000), 3),
        (cash(_S.TRANSFER_OUT, -1, ("Online transfer to High-Yield Savings",), 5_000, 300_000), 5),
        (cash(_S.TRANSFER_IN, 1, ("Online transfer from High-Yield Savings",), 5_000, 200_000), 3),
        (cash(_S.ACH_OUT, -1, ("Cash Rewards Visa autopay",), 5_000, 400_000), 4),
        (cash(_S.WIRE_OUT, -1, ("Wire to title company, closing",), 100_000, 5_000_000), 1),
        (cash(_S.WIRE_IN, 1, ('Incoming wire, "Müller & Söhne, GmbH"',), 50_000, 900_000), 1),
        (cash(_S.INTEREST, 1, ("Interest paid",), 1, 300), 2),
        (fee(_S.ACCOUNT_FEE, ("Monthly maintenance fee",), 500, 1_500), 1),
        (fee(_S.OTHER_FEE, ("Non-network ATM fee", "Overdraft fee"), 250, 3_500), 2),
        (cash(_S.ADJUSTMENT, 1, ("Fee reversal, courtesy credit",), 250, 3_500), 1),
    ]


def _savings() -> list[tuple[Kind, int]]:
    return [
        (cash(_S.INTEREST, 1, ("Interest paid",), 100, 30_000), 20),
        (cash(_S.TRANSFER_IN, 1, ("Online transfer from Everyday Checking",), 5_000, 300_000), 30),
        (cash(_S.TRANSFER_OUT, -1, ("Online transfer to Everyday Checking",), 5_000, 200_000), 15),
        (numbered(_S.DEPOSIT, 1, "Mobile check deposit #{}", 2_000, 300_000), 10),
        (cash(_S.WITHDRAWAL, -1, ("Withdrawal at branch",), 2_000, 200_000), 5),
        (cash(_S.ACH_IN, 1, (f"ACH deposit from {BANKS[3]}",), 5_000, 500_000), 15),
        (cash(_S.ACH_OUT, -1, (f"ACH transfer to {BANKS[3]}",), 5_000, 300_000), 4),
        (cash(_S.ADJUSTMENT, 1, ("Interest adjustment",), 1, 500), 1),
    ]


def _credit_card() -> list[tuple[Kind, int]]:
    return [
        (purchase(MERCHANTS, cancel_per_mille=30), 70),
        (
            cash(
                _S.ACH_IN,
                1,
                ("Payment received \u2013 thank you", "AUTOPAY PAYMENT"),
                5_000,
                400_000,
            ),
            6,
        ),
        (merchant_line(_S.ADJUSTMENT, MERCHANTS, "Refund", 1, 80), 5),
        (fee(_S.OTHER_FEE, ("Interest charge on purchases",), 100, 9_000), 2),
        (merchant_line(_S.OTHER_FEE, _FOREIGN, "Foreign transaction fee", -1, 3), 2),
        (fee(_S.ACCOUNT_FEE, ("Annual membership fee",), 9_500, 9_500 + 1), 1),
        (cash(_S.ADJUSTMENT, 1, ("Cash back redemption, statement credit",), 500, 20_000), 3),
    ]


def _hsa() -> list[tuple[Kind, int]]:
    pharmacies = tuple(Merchant(name, 1_000, 40_000) for name in PHARMACIES)
    return [
        (cash(_S.ACH_IN, 1, ("HSA contribution, payroll",), 5_000, 40_000), 15),
        (cash(_S.DEPOSIT, 1, ("Employer HSA contribution",), 2_500, 50_000), 6),
        (purchase(pharmacies, "Qualified medical expense, ", cancel_per_mille=10), 20),
        (fund_trade(_S.BUY, _RETIREMENT_FUNDS, "Purchase", sell=False, high=200_000), 15),
        (fund_trade(_S.SELL, _RETIREMENT_FUNDS, "Redemption", sell=True, high=200_000), 3),
        (security_income(_S.DIVIDEND, MUTUAL_FUNDS, ("Ordinary dividend",), 100, 20_000), 8),
        (reinvestment(tuple(s for s in _RETIREMENT_FUNDS if s.yield_bp)), 6),
        (cash(_S.INTEREST, 1, ("Interest on cash balance",), 1, 2_000), 10),
        (fee(_S.ACCOUNT_FEE, ("HSA monthly fee",), 250, 500), 3),
        (cash(_S.ADJUSTMENT, 0, ("Contribution correction",), 100, 50_000), 1),
        (cash(_S.TRANSFER_IN, 1, ("HSA trustee transfer in",), 50_000, 800_000), 2),
    ]


def account_mix(index: int) -> list[tuple[Kind, int]]:
    """The kinds of rows account ``index`` produces, with their relative weights."""
    match index:
        case 0:
            return _brokerage()
        case 1:
            return _roth_ira()
        case 2:
            return _retirement_plan(EMPLOYERS[0])
        case 3:
            return _checking()
        case 4:
            return _savings()
        case 5:
            return _credit_card()
        case _:
            return _hsa()


def payday_kind(seed_value: int, anchor_ordinal: int) -> Kind:
    """The checking account's salary (posted first on the 1st and the 15th)."""
    employer = EMPLOYERS[seed_value % len(EMPLOYERS)]
    return payroll(employer, 250_000 + seed_value % 250_000, anchor_ordinal)
