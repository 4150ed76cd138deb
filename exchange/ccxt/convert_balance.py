"""ccxt's unified balance -> `VenueBalance` (moved out of convert.py, which it re-exports as
`convert.balance`, when the check below took it over the 450-line limit).

A figure that is no finite number ("NaN", "Infinity") is unreadable, `ccxt.BadResponse`, which
the gateway treats like any other unreadable answer (found by review: Binance's account read
with `availableBalance: "NaN"` came out as a free balance of NaN, and the entry gate's compare
with it raised decimal.InvalidOperation in every symbol's decision that asked for an entry)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt

from exchange.decimals import decimal_or_none
from exchange.records import Funds, VenueBalance

_BALANCE_KEYS = frozenset({"info", "free", "used", "total", "timestamp", "datetime", "debt"})


def _figure(funds: dict[str, Any], code: str, key: str) -> Decimal | None:
    try:
        value = decimal_or_none(funds.get(key))
    except ValueError:
        value = Decimal("NaN")
    if value is not None and not value.is_finite():
        raise ccxt.BadResponse(f"unreadable balance: {code} {key} {funds.get(key)!r}")
    return value


def balance(raw: dict[str, Any]) -> VenueBalance:
    """A coin with a figure of no finite number is unreadable, not the whole read: the coins
    the account settles in stay readable (`VenueBalance.listed` raises for that coin only)."""
    currencies, unreadable = {}, {}
    for code, funds in raw.items():
        if code in _BALANCE_KEYS or not isinstance(funds, dict):
            continue
        try:
            free, used, total = (_figure(funds, code, key) for key in ("free", "used", "total"))
        except ccxt.BadResponse as exc:
            unreadable[code] = str(exc)
            continue
        if free is None and used is None and total is None:
            continue
        free, used = free or Decimal(0), used or Decimal(0)
        currencies[code] = Funds(free=free, used=used,
                                 total=total if total is not None else free + used)
    return VenueBalance(currencies=currencies, unreadable=unreadable)
