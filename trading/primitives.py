"""The smallest shared vocabulary of the domain: sides, zero, and tolerant enum parsing.

Enum values are lower-case; `parse_enum` reads any casing (incident 7: rows written by an older
version held `WAITING` where the code said `waiting`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TypeVar

ZERO = Decimal(0)
EIGHT = Decimal("1e-8")


def decimal_text(value: Decimal) -> str:
    """A Decimal in plain digits, every digit kept, a zero without a sign: str() writes "0E-8"
    for a zero booked to 8 places (an equity or net P&L of exactly 0), "-0.0000" for a short's
    P&L at its entry price and "1E+4" for a figure read from "1e4" (found by review)."""
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def money_text(value: Decimal) -> str:
    """A money figure as the status shows it: as it is, or to the 8 places the venues book
    (half up) when it has more (a fee split over part fills carries 28 digits), in plain
    digits (``decimal_text``)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        value = value.quantize(EIGHT, rounding=ROUND_HALF_UP)
    return decimal_text(value)

E = TypeVar("E", bound=StrEnum)


def parse_enum(cls: type[E], value: object) -> E:
    """Read an enum value case-insensitively; raise ValueError naming the allowed values."""
    text = str(value).strip().lower()
    for member in cls:
        if member.value == text:
            return member
    allowed = ", ".join(m.value for m in cls)
    raise ValueError(f"{value!r} is not a valid {cls.__name__} (allowed: {allowed})")


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1

    @property
    def entry_order_side(self) -> str:
        return "buy" if self is Side.LONG else "sell"

    @property
    def exit_order_side(self) -> str:
        return "sell" if self is Side.LONG else "buy"

    @classmethod
    def entered_by(cls, order_side: str) -> Side:
        """The position side an entry order of `order_side` ("buy"/"sell") opens."""
        return cls.LONG if order_side == "buy" else cls.SHORT


def waiting(now: float, until: float, longest: float) -> bool:
    """True while `now` is before `until`, a deadline that was set at most `longest` seconds
    ahead of its time. One further away than that was set before the wall clock stepped back
    (NTP, a VM restore): it is due now, not stalled for as long as the step (a close retry, a
    refused stop's retry, a cooldown)."""
    return now < until <= now + longest
