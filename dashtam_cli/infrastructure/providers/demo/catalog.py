"""The demo's fixed universe: account profiles, securities, merchants and payees.

Everything here is constant data. What a given seed draws from it lives in the ledger and the
portfolio modules. Names deliberately include commas, double quotes, ampersands and non-ASCII
characters so exports, terminals and search get exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashtam_cli.domain.accounts import AccountType
from dashtam_cli.domain.holdings import AssetType

# --------------------------------------------------------------------------- accounts

MARKET_DAYS = (10, 10, 10, 10, 10, 0, 0)
"""Monday..Sunday posting weights of investment accounts: markets are closed on weekends."""


@dataclass(frozen=True, slots=True)
class AccountProfile:
    """One kind of demo account.

    Attributes:
        account_type: the domain account type.
        name: the display name.
        share: weight of this account in the total transaction count.
        min_per_kday: after the anchor, at least this many rows per 1,000 days.
        weekday_weights: relative posting volume Monday..Sunday.
        post_from: earliest posting second of a UTC day.
        post_to: latest posting second of a UTC day (exclusive).
        investment: whether it holds positions.
    """

    account_type: AccountType
    name: str
    share: int
    min_per_kday: int
    weekday_weights: tuple[int, ...]
    post_from: int
    post_to: int
    investment: bool


PROFILES: tuple[AccountProfile, ...] = (
    AccountProfile(
        account_type=AccountType.BROKERAGE,
        name="Individual Brokerage",
        share=30,
        min_per_kday=2500,
        weekday_weights=MARKET_DAYS,
        post_from=13 * 3600 + 30 * 60,
        post_to=22 * 3600,
        investment=True,
    ),
    AccountProfile(
        account_type=AccountType.ROTH_IRA,
        name="Roth IRA",
        share=7,
        min_per_kday=300,
        weekday_weights=MARKET_DAYS,
        post_from=13 * 3600 + 30 * 60,
        post_to=22 * 3600,
        investment=True,
    ),
    AccountProfile(
        account_type=AccountType.K401,
        name="401(k) Retirement Plan",
        share=6,
        min_per_kday=300,
        weekday_weights=MARKET_DAYS,
        post_from=13 * 3600 + 30 * 60,
        post_to=22 * 3600,
        investment=True,
    ),
    AccountProfile(
        account_type=AccountType.CHECKING,
        name="Everyday Checking",
        share=24,
        min_per_kday=2500,
        weekday_weights=(12, 10, 10, 10, 12, 5, 3),
        post_from=60,
        post_to=86_340,
        investment=False,
    ),
    AccountProfile(
        account_type=AccountType.SAVINGS,
        name="High-Yield Savings",
        share=4,
        min_per_kday=250,
        weekday_weights=(10, 10, 10, 10, 10, 2, 2),
        post_from=60,
        post_to=86_340,
        investment=False,
    ),
    AccountProfile(
        account_type=AccountType.CREDIT_CARD,
        name="Cash Rewards Visa Signature®",
        share=25,
        min_per_kday=3000,
        weekday_weights=(9, 9, 9, 10, 12, 14, 11),
        post_from=60,
        post_to=86_340,
        investment=False,
    ),
    AccountProfile(
        account_type=AccountType.HSA,
        name="Health Savings Account",
        share=4,
        min_per_kday=250,
        weekday_weights=MARKET_DAYS,
        post_from=13 * 3600 + 30 * 60,
        post_to=22 * 3600,
        investment=True,
    ),
)
"""Account ``i`` of a demo connection uses ``PROFILES[i]``."""

MAX_ACCOUNTS = len(PROFILES)

# --------------------------------------------------------------------------- securities


@dataclass(frozen=True, slots=True)
class Security:
    """A security the demo trades or holds.

    Attributes:
        symbol: the ticker.
        name: the security's name.
        asset_type: equity, etf, mutual_fund or cash_equivalent.
        base_cents: its price around the connection's anchor, before the seed's scaling.
        yield_bp: annual distribution yield in basis points.
        adr: an American depositary receipt (charged ADR custody fees).
    """

    symbol: str
    name: str
    asset_type: AssetType
    base_cents: int
    yield_bp: int = 0
    adr: bool = False


_EQ = AssetType.EQUITY
_ETF = AssetType.ETF
_MF = AssetType.MUTUAL_FUND
_MM = AssetType.CASH_EQUIVALENT

EQUITIES: tuple[Security, ...] = (
    Security("AAPL", "Apple Inc.", _EQ, 19_000, 50),
    Security("MSFT", "Microsoft Corporation", _EQ, 41_000, 75),
    Security("NVDA", "NVIDIA Corporation", _EQ, 12_000, 3),
    Security("AMZN", "Amazon.com, Inc.", _EQ, 18_000),
    Security("GOOGL", "Alphabet Inc. Class A", _EQ, 16_500, 50),
    Security("META", "Meta Platforms, Inc. Class A", _EQ, 50_000, 40),
    Security("TSLA", "Tesla, Inc.", _EQ, 22_000),
    Security("JPM", "JPMorgan Chase & Co.", _EQ, 20_000, 230),
    Security("V", "Visa Inc. Class A", _EQ, 27_500, 75),
    Security("JNJ", "Johnson & Johnson", _EQ, 15_500, 310),
    Security("KO", "The Coca-Cola Company", _EQ, 6_200, 310),
    Security("PG", "The Procter & Gamble Company", _EQ, 16_500, 240),
    Security("XOM", "Exxon Mobil Corporation", _EQ, 11_500, 330),
    Security("BRK.B", "Berkshire Hathaway Inc. Class B", _EQ, 41_000),
    Security("DIS", "The Walt Disney Company", _EQ, 10_000, 90),
    Security("COST", "Costco Wholesale Corporation", _EQ, 85_000, 55),
    Security("PEP", "PepsiCo, Inc.", _EQ, 17_000, 300),
    Security("HD", "The Home Depot, Inc.", _EQ, 35_000, 250),
    Security("AMD", "Advanced Micro Devices, Inc.", _EQ, 16_000),
    Security("NFLX", "Netflix, Inc.", _EQ, 65_000),
    Security("O", "Realty Income Corporation", _EQ, 5_500, 560),
    Security("T", "AT&T Inc.", _EQ, 1_700, 620),
    Security("NKE", "NIKE, Inc. Class B", _EQ, 9_000, 160),
    Security("TSM", "Taiwan Semiconductor Manufacturing Co., Ltd. ADR", _EQ, 17_000, 140, True),
    Security("ASML", "ASML Holding N.V. ADR", _EQ, 90_000, 80, True),
    Security("SAP", "SAP SE ADR", _EQ, 19_000, 110, True),
    Security("TM", "Toyota Motor Corporation ADR", _EQ, 19_000, 250, True),
)
ETFS: tuple[Security, ...] = (
    Security("VTI", "Vanguard Total Stock Market ETF", _ETF, 26_000, 130),
    Security("VOO", "Vanguard S&P 500 ETF", _ETF, 48_000, 125),
    Security("SPY", "SPDR® S&P 500® ETF Trust", _ETF, 52_000, 125),
    Security("QQQ", "Invesco QQQ Trust, Series 1", _ETF, 44_000, 55),
    Security("SCHD", "Schwab U.S. Dividend Equity ETF™", _ETF, 2_700, 350),
    Security("VXUS", "Vanguard Total International Stock ETF", _ETF, 6_000, 300),
    Security("BND", "Vanguard Total Bond Market ETF", _ETF, 7_200, 350),
    Security("IWM", "iShares Russell 2000 ETF", _ETF, 20_500, 120),
    Security("GLD", "SPDR® Gold Shares", _ETF, 21_500),
    Security("VNQ", "Vanguard Real Estate ETF", _ETF, 8_500, 400),
)
MUTUAL_FUNDS: tuple[Security, ...] = (
    Security("VTSAX", "Vanguard Total Stock Market Index Fund Admiral Shares", _MF, 13_000, 130),
    Security("VFIAX", "Vanguard 500 Index Fund Admiral Shares", _MF, 48_000, 125),
    Security("VTIAX", "Vanguard Total International Stock Index Fund Admiral", _MF, 3_300, 300),
    Security("VBTLX", "Vanguard Total Bond Market Index Fund Admiral Shares", _MF, 960, 360),
    Security("VFFVX", "Vanguard Target Retirement 2055 Fund", _MF, 5_000, 180),
    Security("FXAIX", "Fidelity® 500 Index Fund", _MF, 18_500, 125),
    Security("FSKAX", "Fidelity® Total Market Index Fund", _MF, 14_000, 120),
    Security("SWPPX", "Schwab S&P 500 Index Fund", _MF, 8_000, 125),
    Security("SWTSX", "Schwab Total Stock Market Index Fund®", _MF, 1_450, 130),
    Security("DODGX", "Dodge & Cox Stock Fund", _MF, 25_000, 140),
    Security("PRGFX", "T. Rowe Price Growth Stock Fund", _MF, 9_500),
    Security("AGTHX", "American Funds The Growth Fund of America® Class A", _MF, 7_000, 40),
    Security("VWELX", "Vanguard Wellington™ Fund Investor Shares", _MF, 4_200, 250),
    Security("FCNTX", "Fidelity® Contrafund®", _MF, 1_900, 10),
    Security("VIGAX", "Vanguard Growth Index Fund Admiral Shares", _MF, 19_000, 50),
)
MONEY_MARKETS: tuple[Security, ...] = (
    Security("SWVXX", "Schwab Value Advantage Money Fund® Investor Shares", _MM, 100, 480),
    Security("SPAXX", "Fidelity® Government Money Market Fund", _MM, 100, 470),
    Security("VMFXX", "Vanguard Federal Money Market Fund", _MM, 100, 490),
)
SECURITIES: tuple[Security, ...] = EQUITIES + ETFS + MUTUAL_FUNDS + MONEY_MARKETS
"""Every security; its position in this tuple is its id in the market model."""

SECURITY_ID: dict[str, int] = {s.symbol: i for i, s in enumerate(SECURITIES)}
OPTION_UNDERLYINGS: tuple[str, ...] = ("AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "AMD", "SPY", "QQQ")
ADRS: tuple[Security, ...] = tuple(s for s in EQUITIES if s.adr)

# --------------------------------------------------------------------------- cash counterparties


@dataclass(frozen=True, slots=True)
class Merchant:
    """A card merchant: its statement name and a typical ticket in cents."""

    name: str
    low_cents: int
    high_cents: int
    foreign: bool = False


MERCHANTS: tuple[Merchant, ...] = (
    Merchant('Café "Le Petit", Paris', 450, 6_500, True),
    Merchant("Müller & Söhne, GmbH", 1_200, 24_000, True),
    Merchant("寿司 Tokyo", 2_500, 18_000, True),
    Merchant('Ristorante "Da Mario", Roma', 3_000, 16_000, True),
    Merchant("Marriott Hotels, São Paulo", 14_000, 90_000, True),
    Merchant("Kaffeehaus Zürich", 600, 4_500, True),
    Merchant("Łódź Pierogi Bar", 900, 5_000, True),
    Merchant("Boulangerie Pâtisserie, Montréal", 500, 3_500, True),
    Merchant("Ταβέρνα Ωραία, Αθήνα", 2_000, 12_000, True),
    Merchant("Trader Joe's #552", 1_500, 18_000),
    Merchant("Whole Foods Market, Austin TX", 1_200, 25_000),
    Merchant("Shell Oil 57434, Denver CO", 2_500, 9_000),
    Merchant("Amazon.com*2K4LM8QX1", 800, 30_000),
    Merchant("AMZN Mktp US*RT5Y71", 600, 12_000),
    Merchant("Uber *Trip", 900, 6_500),
    Merchant("Lyft, Inc.", 800, 5_500),
    Merchant('Starbucks "Reserve" Roastery', 400, 2_500),
    Merchant("Netflix.com", 1_549, 2_299),
    Merchant("Spotify USA", 1_099, 1_699),
    Merchant("Costco Whse #0479", 4_000, 45_000),
    Merchant("The Home Depot #6512", 1_500, 60_000),
    Merchant("Target T-1234, Minneapolis MN", 1_000, 20_000),
    Merchant("McDonald's F12345", 500, 2_500),
    Merchant("Crème de la Crème Bakery", 600, 4_000),
    Merchant("Zoë's Kitchen, Birmingham AL", 1_100, 4_800),
    Merchant("Señor Taco, Los Angeles", 900, 3_500),
    Merchant("Delta Air Lines, Atlanta", 15_000, 120_000),
    Merchant("Apple.com/bill", 99, 2_999),
    Merchant("CVS/pharmacy #01234", 500, 8_000),
    Merchant('Shoprite "Fresh" Market, Inc.', 1_500, 16_000),
    Merchant("+Plus Fitness, Sydney", 2_500, 7_500, True),
    Merchant("🍕 Pizza Planet, Brooklyn", 1_800, 6_000),
    Merchant("Chipotle Mexican Grill #2231", 1_000, 3_000),
    Merchant("Walgreens #10243", 400, 6_000),
)
PHARMACIES: tuple[str, ...] = (
    "CVS/pharmacy #01234",
    "Walgreens #10243",
    'Dr. Ana López, DDS "Smile Studio"',
    "Quest Diagnostics, Inc.",
    "Kaiser Permanente \u2013 Copay",
    "LensCrafters #0671",
)
BILLERS: tuple[str, ...] = (
    "PG&E, Web Online Payment",
    'Comcast Cable "Xfinity"',
    "State Farm Insurance, Auto",
    "Rocket Mortgage, Mortgage Pmt",
    "Verizon Wireless",
    "City of Austin \u2013 Water Utility",
    "IRS USATAXPYMT",
    "Venmo, Inc.",
    "Geico, Policy Payment",
    "Sallie Mae, Student Loan",
)
BANKS: tuple[str, ...] = (
    "Chase Bank",
    "Bank of America",
    "Wells Fargo",
    "Ally Bank",
    "Capital One",
    "Banco Santander, S.A.",
    "Crédit Agricole",
)
BROKERS: tuple[str, ...] = ("Fidelity Investments", "Vanguard", "E*TRADE", "Robinhood Markets")
EMPLOYERS: tuple[str, ...] = (
    "ACME Corp",
    "Globex, Inc.",
    "Initech LLC",
    'Umbrella "Labs" Co.',
    "Société Générale NA",
)
MONTHS: tuple[str, ...] = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
