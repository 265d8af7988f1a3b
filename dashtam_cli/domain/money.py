"""Money: an exact ``Decimal`` amount with an ISO-4217 currency.

A float is never accepted: binary floating point cannot represent most decimal amounts, so a float
reaching this type is a bug on the money path and raises :class:`TypeError` at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_CURRENCY_LEN = 3


class CurrencyMismatchError(ValueError):
    """Raised when two amounts in different currencies are combined (a bug in the caller)."""


def to_decimal(value: object) -> Decimal:
    """Convert an exact value (``Decimal``, ``int`` or numeric ``str``) to a finite ``Decimal``.

    Raises:
        TypeError: for a float, a bool or any other type.
        ValueError: for a string that is not a number, or a non-finite value.
    """
    if isinstance(value, (bool, float)):
        raise TypeError(f"money must not be built from {type(value).__name__}: use Decimal or str")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
    else:
        raise TypeError(f"money must not be built from {type(value).__name__}: use Decimal or str")
    if not result.is_finite():
        raise ValueError(f"amount must be finite, got {value!r}")
    return result


def decimal_text(value: Decimal) -> str:
    """The exact value in plain notation, as stored and exported: never an exponent.

    ``str(Decimal)`` writes ``1E-8`` for ``0.00000001`` and ``0E-8`` for ``0.00000000``; this
    writes the digits (``0.00000001``, ``0.00000000``), keeping every decimal place. Most values
    have no exponent and take the fast path.
    """
    text = str(value)
    return format(value, "f") if "E" in text else text


def normalize_currency(currency: str) -> str:
    """Return an upper-case ISO-4217 code, or raise ``ValueError``."""
    code = currency.strip().upper()
    if len(code) != _CURRENCY_LEN or not code.isascii() or not code.isalpha():
        raise ValueError(f"not an ISO-4217 currency code: {currency!r}")
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one currency. Arithmetic only within one currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str = "USD") -> Money:
        """Build Money from an exact value (never a float)."""
        return cls(to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str = "USD") -> Money:
        """Zero in ``currency``."""
        return cls(Decimal(0), currency)

    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._check(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._check(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._check(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._check(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._check(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._check(other).amount

    def is_zero(self) -> bool:
        """True when the amount is zero (of any scale)."""
        return self.amount.is_zero()

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def totals_by_currency(amounts: Iterable[Money]) -> dict[str, Money]:
    """Sum amounts per currency, exactly; currencies are never mixed."""
    totals: dict[str, Money] = {}
    for money in amounts:
        current = totals.get(money.currency)
        totals[money.currency] = money if current is None else current + money
    return dict(sorted(totals.items()))
