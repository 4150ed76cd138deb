"""The configured leverage (`risk.leverage`), set on the venue before a symbol's first entry.

Why: a venue's own leverage for a symbol can be far above the config's (Bybit's and Binance's
defaults are often 10-20x): the position was then liquidated before its stop triggered, and
the entry gate's margin (notional / leverage) was wrong. Nobody sets it by hand for 500
symbols.

Lazily, once per symbol and process: each symbol's first order that can grow a position asks
(an entry, a grid leg's opening or level); once the venue confirmed it (an unchanged value
counts) the symbol is remembered and never asked again. Not at start for every symbol: Bybit's
set-leverage endpoint allows about 10 requests a second. A failure (the venue's refusal, a
timeout, the rate budget short) keeps that order from being sent: it fails as never sent, its
journaled reason naming the symbol and the venue's answer, and the next entry asks again.
Protective orders (stops, closes) never ask. One object per account, shared by its actors;
each symbol is asked by its own actor only, so the lock guards the set, never a call.
"""

from __future__ import annotations

import threading

from exchange.fence import Fenced, Preempted
from exchange.port import ExchangePort
from observability.error_text import describe


class LeverageSetter:
    def __init__(self, exchange: ExchangePort, leverage: int) -> None:
        self.exchange = exchange
        self.leverage = int(leverage)
        self._lock = threading.Lock()
        self._done: set[str] = set()

    def is_set(self, symbol: str) -> bool:
        with self._lock:
            return symbol in self._done

    def refusal(self, symbol: str) -> str | None:
        """None once `symbol`'s leverage is the config's on the venue (set now or before in
        this process); else why the entry may not be sent. `Fenced` propagates: a replaced
        incarnation records nothing. `Preempted` too: the call was set aside for an order
        report before it was sent, no refusal of the venue (the caller says so, at INFO)."""
        if self.is_set(symbol):
            return None
        try:
            self.exchange.set_leverage(self.leverage, symbol)
        except (Fenced, Preempted):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure keeps the entry from being sent
            return (f"{symbol}: leverage {self.leverage}x not set on {self.exchange.id} "
                    f"({describe(exc)}); the entry is not sent")
        with self._lock:
            self._done.add(symbol)
        return None
