"""The one way a number from outside becomes money: `Decimal` via `str`, never via float math.

Used by the ccxt converter (venue answers), the paper exchange (port inputs) and the gateway's
own checks. `str(0.1)` is '0.1', so a float the venue's JSON parser produced keeps the digits
the venue sent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def to_decimal(value: object) -> Decimal:
    """`value` as a Decimal; ValueError naming it when it is not a number (bools refused)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError(f"not a number: {value!r}") from None


def decimal_or_none(value: object) -> Decimal | None:
    """None and '' stay None (the venue did not say); anything else as `to_decimal`."""
    if value is None or value == "":
        return None
    return to_decimal(value)
