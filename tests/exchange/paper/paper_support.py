"""Test support for the paper exchange: an injected clock and a scripted price source."""

from __future__ import annotations

import bisect
from collections import defaultdict
from decimal import Decimal

T0 = 1_700_000_000.0  # seconds

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
DOGE = "DOGE/USDT:USDT"


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    @property
    def ms(self) -> int:
        return int(self.t * 1000)


class ScriptedPrices:
    """A price source whose points the test writes explicitly."""

    def __init__(self, initial: dict[str, Decimal]) -> None:
        self.initial = {s: Decimal(p) for s, p in initial.items()}
        self.points: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)

    def initial_price(self, symbol: str) -> Decimal:
        return self.initial[symbol]

    def add(self, symbol: str, ts_ms: int, price: Decimal | str) -> None:
        bisect.insort(self.points[symbol], (ts_ms, Decimal(price)))

    def path(self, symbol: str, from_ms: int, to_ms: int) -> list[tuple[int, Decimal]]:
        return [(t, p) for t, p in self.points[symbol] if from_ms < t <= to_ms]


class Market:
    """Moves a scripted symbol's price: each move is a point 1 s after the last, and the
    clock follows."""

    def __init__(self, clock: FakeClock, prices: ScriptedPrices) -> None:
        self.clock = clock
        self.prices = prices

    def move(self, symbol: str, *path: str | Decimal, step_s: float = 1.0) -> None:
        for price in path:
            self.clock.advance(step_s)
            self.prices.add(symbol, self.clock.ms, price)
