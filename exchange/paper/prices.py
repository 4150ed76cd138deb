"""Price sources for the paper exchange.

A price source answers two questions per symbol: the initial price, and the price points
(timestamp ms, price) in a half-open wall-time window (from_ms, to_ms]. The exchange walks
those points lazily whenever a symbol is touched, so resting orders see every point. A source
may also answer `last_point(symbol, from_ms, to_ms)`: the last of those points (None: none),
which the exchange asks for when no order rests, instead of the whole path.

`GeneratorPriceSource` is a deterministic geometric random walk: step k's price depends only
on (seed, symbol, k) and the price of step k-1, so the whole path can be recomputed from any
(k, price) checkpoint, and the same seed always gives the same path.
"""

from __future__ import annotations

import hashlib
import math
import threading
from decimal import Decimal
from typing import Protocol, runtime_checkable

SECONDS_PER_YEAR = 365.25 * 24 * 3600
DEFAULT_VOLATILITY = 0.90
CHECKPOINT_EVERY = 4096  # steps between remembered (k, price) checkpoints per symbol

# Reference prices (USDT) and annualised volatility by base currency.
REFERENCE_PRICES: dict[str, Decimal] = {
    "BTC": Decimal("60000"), "ETH": Decimal("3000"), "SOL": Decimal("150"),
    "XRP": Decimal("0.6"), "DOGE": Decimal("0.15"), "BNB": Decimal("600"),
    "ADA": Decimal("0.45"), "AVAX": Decimal("30"), "LINK": Decimal("15"),
    "LTC": Decimal("80"), "DOT": Decimal("6"), "MATIC": Decimal("0.5"),
    "POL": Decimal("0.5"), "TRX": Decimal("0.12"), "ATOM": Decimal("8"),
    "NEAR": Decimal("5"), "ARB": Decimal("1"), "OP": Decimal("2"),
}
REFERENCE_VOLATILITY: dict[str, float] = {
    "BTC": 0.50, "ETH": 0.65, "SOL": 0.90, "XRP": 0.85, "DOGE": 1.00, "BNB": 0.60,
    "ADA": 0.85, "AVAX": 0.95, "LINK": 0.90, "LTC": 0.75, "DOT": 0.85, "MATIC": 0.90,
    "POL": 0.90, "TRX": 0.60, "ATOM": 0.85, "NEAR": 0.95, "ARB": 1.00, "OP": 1.00,
}


@runtime_checkable
class PriceSource(Protocol):
    """Where the paper exchange's prices come from."""

    def initial_price(self, symbol: str) -> Decimal: ...

    def path(self, symbol: str, from_ms: int, to_ms: int) -> list[tuple[int, Decimal]]:
        """Price points with from_ms < timestamp <= to_ms, in time order."""
        ...


def base_of(symbol: str) -> str:
    """'BTC/USDT:USDT' -> 'BTC'."""
    return symbol.split("/", 1)[0].upper()


def hashed_price(symbol: str) -> Decimal:
    """A deterministic price in [0.1, 1000) for a symbol we know nothing about."""
    digest = hashlib.blake2b(symbol.encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    return Decimal(format(10 ** (-1 + 4 * u), ".4g")).min(Decimal("999.9"))


def reference_price(symbol: str) -> Decimal:
    return REFERENCE_PRICES.get(base_of(symbol)) or hashed_price(symbol)


def to_price(value: float) -> Decimal:
    """A float price as a Decimal with 10 significant digits (the walk's state)."""
    return Decimal(format(value, ".10g"))


def gaussian(seed: int, symbol: str, k: int) -> float:
    """Standard normal draw from a counter-based hash of (seed, symbol, k)."""
    digest = hashlib.blake2b(f"{seed}:{symbol}:{k}".encode(), digest_size=16).digest()
    a = int.from_bytes(digest[:8], "big")
    b = int.from_bytes(digest[8:], "big")
    u1 = (a + 1) / (2**64 + 1)  # in (0, 1): log is finite
    u2 = b / 2**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


class _Walk:
    """Per-symbol cache: sparse checkpoints plus the last computed step."""

    def __init__(self, initial: Decimal) -> None:
        self.lock = threading.Lock()
        self.checkpoints: dict[int, Decimal] = {0: initial}
        self.last: tuple[int, Decimal] = (0, initial)

    def nearest(self, k: int) -> tuple[int, Decimal]:
        """The latest known (step, price) at or before step k."""
        if self.last[0] <= k:
            return self.last
        best = max(step for step in self.checkpoints if step <= k)
        return best, self.checkpoints[best]


class GeneratorPriceSource:
    """Deterministic per-symbol geometric random walk on a fixed wall-time grid.

    Step k sits at wall time epoch_ms + k*step_ms (k >= 0; step 0 is the initial price).
    Each step covers step_ms * speed market milliseconds (speed 60: a market minute per wall
    second); per-step sigma = annual vol * sqrt(market seconds per step / seconds per year).
    """

    def __init__(
        self,
        *,
        seed: int,
        step_ms: int = 250,
        speed: float = 1.0,
        epoch_ms: int,
        volatility: dict[str, float] | None = None,
    ) -> None:
        if step_ms <= 0 or speed <= 0:
            raise ValueError("step_ms and speed must be positive")
        self.seed = seed
        self.step_ms = int(step_ms)
        self.speed = float(speed)
        self.epoch_ms = int(epoch_ms)
        self._volatility = dict(volatility or {})
        self._walks: dict[str, _Walk] = {}
        self._lock = threading.Lock()

    def initial_price(self, symbol: str) -> Decimal:
        return reference_price(symbol)

    def annual_volatility(self, symbol: str) -> float:
        base = base_of(symbol)
        for key in (symbol, base):
            if key in self._volatility:
                return float(self._volatility[key])
        return REFERENCE_VOLATILITY.get(base, DEFAULT_VOLATILITY)

    def step_sigma(self, symbol: str) -> float:
        market_seconds = self.step_ms / 1000.0 * self.speed
        return self.annual_volatility(symbol) * math.sqrt(market_seconds / SECONDS_PER_YEAR)

    def resume_from(self, symbol: str, at_ms: int, price: Decimal) -> None:
        """Seed the cache with a known checkpoint: `price` is the price of the last step at
        or before `at_ms` (what the exchange persisted), so no recomputation from step 0."""
        k = (int(at_ms) - self.epoch_ms) // self.step_ms
        if k < 0:
            return
        walk = self._walk(symbol)
        with walk.lock:
            walk.checkpoints[k] = Decimal(price)
            if k >= walk.last[0]:
                walk.last = (k, Decimal(price))

    def price_at_step(self, symbol: str, k: int) -> Decimal:
        return self._steps(symbol, k, k)[0][1]

    def path(self, symbol: str, from_ms: int, to_ms: int) -> list[tuple[int, Decimal]]:
        first, last = self._window(from_ms, to_ms)
        if last < first:
            return []
        return self._steps(symbol, first, last)

    def last_point(self, symbol: str, from_ms: int, to_ms: int) -> tuple[int, Decimal] | None:
        """The last point of `path(symbol, from_ms, to_ms)`, without keeping the others."""
        first, last = self._window(from_ms, to_ms)
        if last < first:
            return None
        return self.epoch_ms + last * self.step_ms, self.price_at_step(symbol, last)

    def _window(self, from_ms: int, to_ms: int) -> tuple[int, int]:
        """The first and last step in (from_ms, to_ms]."""
        first = max(0, (int(from_ms) - self.epoch_ms) // self.step_ms + 1)
        return first, (int(to_ms) - self.epoch_ms) // self.step_ms

    def _walk(self, symbol: str) -> _Walk:
        with self._lock:
            walk = self._walks.get(symbol)
            if walk is None:
                walk = self._walks[symbol] = _Walk(self.initial_price(symbol))
            return walk

    def _steps(self, symbol: str, first: int, last: int) -> list[tuple[int, Decimal]]:
        """Points for steps first..last inclusive, walking on from the nearest checkpoint."""
        walk = self._walk(symbol)
        sigma = self.step_sigma(symbol)
        drift = -0.5 * sigma * sigma
        with walk.lock:
            k, price = walk.nearest(first)
            points: list[tuple[int, Decimal]] = []
            if k == first:
                points.append((self.epoch_ms + k * self.step_ms, price))
            value = float(price)
            while k < last:
                k += 1
                # to_price's digits; the Decimal is made only for points kept
                text = format(value * math.exp(drift + sigma * gaussian(self.seed, symbol, k)),
                              ".10g")
                value = float(text)
                if k >= first or k % CHECKPOINT_EVERY == 0:
                    price = Decimal(text)
                    if k % CHECKPOINT_EVERY == 0:
                        walk.checkpoints[k] = price
                    if k >= first:
                        points.append((self.epoch_ms + k * self.step_ms, price))
            if last > walk.last[0]:
                walk.last = (last, points[-1][1])
            return points
