from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashtam_cli.domain.money import (
    CurrencyMismatchError,
    Money,
    decimal_text,
    to_decimal,
    totals_by_currency,
)

amounts = st.decimals(
    allow_nan=False, allow_infinity=False, places=8, min_value=-(10**12), max_value=10**12
)
currencies = st.sampled_from(["USD", "EUR", "GBP", "JPY"])


@given(st.floats(allow_nan=True))
def test_a_float_is_refused(value: float) -> None:
    with pytest.raises(TypeError, match="float"):
        Money(value, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.of(value)  # type: ignore[arg-type]


def test_bool_and_non_finite_are_refused() -> None:
    with pytest.raises(TypeError):
        to_decimal(True)
    with pytest.raises(ValueError, match="finite"):
        to_decimal(Decimal("NaN"))
    with pytest.raises(ValueError, match="finite"):
        to_decimal("Infinity")
    with pytest.raises(ValueError, match="not a decimal"):
        to_decimal("12,5")


@given(st.lists(amounts, max_size=50))
def test_same_currency_sums_are_exact(values: list[Decimal]) -> None:
    total = sum((Money(v, "USD") for v in values), Money.zero("USD"))
    assert total.amount == sum(values, Decimal(0))
    assert total.currency == "USD"


def test_classic_float_trap_is_exact() -> None:
    assert Money.of("0.1") + Money.of("0.2") == Money.of("0.3")


@given(amounts, amounts, currencies, currencies)
def test_mixing_currencies_is_refused(a: Decimal, b: Decimal, c1: str, c2: str) -> None:
    left, right = Money(a, c1), Money(b, c2)
    if c1 == c2:
        assert (left + right).amount == a + b
        assert (left - right).amount == a - b
    else:
        with pytest.raises(CurrencyMismatchError):
            left + right
        with pytest.raises(CurrencyMismatchError):
            left - right
        with pytest.raises(CurrencyMismatchError):
            _ = left < right


def test_currency_is_validated_and_normalised() -> None:
    assert Money.of("1", "usd").currency == "USD"
    for bad in ["US", "USDX", "12A", "", "ÜSD"]:
        with pytest.raises(ValueError, match="ISO-4217"):
            Money.of("1", bad)


def test_scale_is_preserved_and_multiplication_is_exact() -> None:
    price = Money.of("1234.5600")
    assert str(price.amount) == "1234.5600"
    assert (price * Decimal("0.001")).amount == Decimal("1.2345600")
    assert (3 * Money.of("0.10")).amount == Decimal("0.30")
    with pytest.raises(TypeError):
        price * 1.5  # type: ignore[operator]


@given(st.lists(st.tuples(amounts, currencies), max_size=40))
def test_totals_are_per_currency(pairs: list[tuple[Decimal, str]]) -> None:
    totals = totals_by_currency(Money(a, c) for a, c in pairs)
    assert set(totals) == {c for _, c in pairs}
    for currency, money in totals.items():
        assert money.amount == sum((a for a, c in pairs if c == currency), Decimal(0))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.00000001", "0.00000001"),  # str(): 1E-8
        ("0.00000000", "0.00000000"),  # str(): 0E-8
        ("-0E-10", "-0.0000000000"),
        ("1234.5600", "1234.5600"),
        ("-0.0001", "-0.0001"),
        ("1E+3", "1000"),
        ("12345678901234567890.123456789", "12345678901234567890.123456789"),
    ],
)
def test_decimal_text_is_plain_notation(value: str, text: str) -> None:
    assert decimal_text(Decimal(value)) == text


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**30), max_value=10**30))
def test_decimal_text_keeps_the_value_and_its_decimal_places(value: Decimal) -> None:
    text = decimal_text(value)
    assert "E" not in text
    assert Decimal(text) == value
    if value.as_tuple().exponent <= 0:  # type: ignore[operator]
        assert Decimal(text).as_tuple() == value.as_tuple()
