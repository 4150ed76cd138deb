"""Setting a symbol's leverage on the venue (the port's `set_leverage`), through ccxt's unified
`set_leverage(leverage, symbol)`.

Why the bot sets it: a venue's own leverage for a symbol can be far above `risk.leverage`
(Bybit's and Binance's defaults are often 10-20x), so a position was liquidated before its
stop triggered, and the entry gate's margin (notional / leverage) was wrong. ccxt 4.5.90 sends:
  Bybit v5: POST /v5/position/set-leverage {category: linear, symbol, buyLeverage,
    sellLeverage} (both sides the same: one-way and hedge mode alike). An unchanged value is
    refused with retCode 110043 "leverage not modified", which ccxt raises as BadRequest:
    the venue holds the value asked, so it is success here.
  Binance USD-M: POST /fapi/v1/leverage {symbol, leverage} (weight 1; one value for both
    position sides), answered {"leverage", "maxNotionalValue", "symbol"}.
The call runs at entry priority in the rate budget (`budget_hook.FIXED`) and, as every request
of the gateway, is fenced by the calling actor's incarnation (`_run`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import ccxt

from exchange.ccxt.errors import translated

NOT_MODIFIED = re.compile(r'"ret_?[cC]ode"\s*:\s*110043\b')
"""Bybit's answer to a leverage the symbol already has (ccxt puts the body in the message)."""


def already_set(exchange_id: str, exc: ccxt.BaseError) -> bool:
    """The venue refused the change only because the symbol already has that leverage."""
    return exchange_id == "bybit" and bool(NOT_MODIFIED.search(str(exc)))


class LeverageMixin:
    """`set_leverage` for CcxtGateway (its `_run`, `_ensure_markets` and `id`)."""

    id: str
    _run: Callable[..., Any]
    _ensure_markets: Callable[[], Any]

    @translated
    def set_leverage(self, leverage: int, symbol: str) -> None:
        self._ensure_markets()
        try:
            self._run(lambda ex: ex.set_leverage(int(leverage), symbol),
                      f"set_leverage {symbol}")
        except ccxt.BadRequest as exc:
            if not already_set(self.id, exc):
                raise
