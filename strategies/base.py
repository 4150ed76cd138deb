"""The strategy interface: turns prices into entry/exit signals for one symbol.

A strategy instance lives inside its symbol's actor (one thread), so it may keep mutable rolling
state without locks. It never sees the exchange, storage or the clock except through arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from trading.events import SignalRaised
from trading.model import Side


class Strategy(Protocol):
    name: str

    def on_price(self, price: Decimal, volume: Decimal | None, now: float,
                 position: Side | None) -> SignalRaised | None:
        """Feed one price; return a signal (entry side, or side=None to exit) or None."""
        ...


StrategyFactory = Callable[[str], Strategy]
"""Builds a fresh strategy for a symbol (called on every actor start)."""
