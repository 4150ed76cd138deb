"""The smallest shared vocabulary of the domain: sides, zero, and tolerant enum parsing.

Enum values are lower-case; `parse_enum` reads any casing (incident 7: rows written by an older
version held `WAITING` where the code said `waiting`).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

ZERO = Decimal(0)

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
