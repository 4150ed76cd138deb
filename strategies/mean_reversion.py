"""Mean reversion on a rolling z-score of prices, with a volatility and volume filter.

Enter long when the price is `entry_z` standard deviations below its rolling mean (short when
above, if allowed); signal an exit once the z-score is back within `exit_z`, or once the window
has gone flat (zero variance: the price is at its mean). `exit_z = 0` means no strategy exit at
all (a signals-only config: the stop, trailing stop, take-profit and exit signals close).
Entries need enough movement: the standard deviation of one-step returns (in percent) must be
at least `min_volatility_pct`, so a flat market does not trade noise. A price no market trades
at (not finite, <= 0, absurdly large) is skipped: it would poison the running sums for good.
Statistics use floats (they are not money); prices and sizes stay Decimal elsewhere.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING

from trading.events import SignalRaised
from trading.model import Side

if TYPE_CHECKING:
    import numpy as np


MAX_PRICE = 1e100
"""Above it a price is garbled (its square, summed, would overflow the running sums)."""


class MeanReversion:
    name = "mean_reversion"

    def __init__(self, *, window: int, entry_z: float, exit_z: float, min_volatility_pct: float,
                 min_volume: float = 0.0, allow_short: bool = True) -> None:
        self.window = window
        self.entry_z = entry_z
        self.exit_z = exit_z
        self.min_volatility_pct = min_volatility_pct
        self.min_volume = min_volume
        self.allow_short = allow_short
        self._prices: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self._sumsq = 0.0

    def _push(self, p: float) -> None:
        """The rolling update in its plain form (on_price inlines it; the tests hold the two
        bit-identical)."""
        if len(self._prices) == self.window:
            old = self._prices[0]
            self._sum -= old
            self._sumsq -= old * old
        self._prices.append(p)
        self._sum += p
        self._sumsq += p * p

    def zscore(self) -> float | None:
        n = len(self._prices)
        if n < self.window:
            return None
        mean = self._sum / n
        var = max(self._sumsq / n - mean * mean, 0.0)
        std = math.sqrt(var)
        if std <= mean * 1e-12:
            return None
        return (self._prices[-1] - mean) / std

    def volatility_pct(self) -> float:
        ps = list(self._prices)
        rets = [(b - a) / a * 100 for a, b in zip(ps, ps[1:], strict=False) if a > 0]
        if len(rets) < 2:
            return 0.0
        m = sum(rets) / len(rets)
        return math.sqrt(sum((r - m) ** 2 for r in rets) / (len(rets) - 1))

    def _enough_volume(self, volume: Decimal) -> bool:
        """A volume that is not a number (a garbled ticker's NaN, infinity) is not enough while
        the filter is on: NaN compared False, so it passed, and a signalling NaN raised in
        `float()` on every price (a crash loop of the symbol's actor)."""
        if not volume.is_finite():
            return self.min_volume <= 0
        return float(volume) >= self.min_volume

    def on_price(self, price: Decimal, volume: Decimal | None, now: float,
                 position: Side | None) -> SignalRaised | None:
        # _push and zscore inlined (every price of a backtest comes here): the same float
        # operations in the same order, so the state and every z-score are bit-identical
        p = float(price) if price.is_finite() else math.nan
        if not 0.0 < p < MAX_PRICE:  # NaN too: the running sums would be poisoned for good
            return None
        prices = self._prices
        window = self.window
        total, squares = self._sum, self._sumsq
        if len(prices) == window:
            old = prices[0]
            total -= old
            squares -= old * old
        prices.append(p)
        self._sum = total = total + p
        self._sumsq = squares = squares + p * p
        n = len(prices)
        if n < window:
            return None
        if position is not None and self.exit_z <= 0:
            return None  # exit_z = 0: the strategy never exits (no z, no flat-window exit)
        mean = total / n
        var = squares / n - mean * mean
        if var < 0.0:  # max(var, 0.0) as in zscore()
            var = 0.0
        std = math.sqrt(var)
        if std <= mean * 1e-12:  # a flat window: the price is at its mean (no z-score)
            if position is not None:
                return SignalRaised(side=None, reason="mean_reverted")
            return None
        z = (p - mean) / std
        if position is not None:
            if abs(z) <= self.exit_z:
                return SignalRaised(side=None, reason="mean_reverted")
            return None
        if volume is not None and not self._enough_volume(volume):
            return None
        if abs(z) < self.entry_z or self.volatility_pct() < self.min_volatility_pct:
            return None
        if z <= -self.entry_z:
            return SignalRaised(side=Side.LONG, reason=f"z={z:.2f}")
        if self.allow_short:
            return SignalRaised(side=Side.SHORT, reason=f"z={z:.2f}")
        return None

    # -- for a backtest that skips prices (backtest/skipping.py) -------------------------------
    def restore(self, prices: list[float], total: float, squares: float) -> None:
        """Set the rolling state to what `on_price` leaves after a run of prices whose last
        `window` are `prices` and whose running sums are `total` and `squares` (as `series`
        computes them)."""
        self._prices = deque(prices, maxlen=self.window)
        self._sum = total
        self._sumsq = squares


def series(window: int, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
    """`on_price`'s rolling statistics for a whole price series at once, bit-identical to
    feeding the prices one by one: (running sum, running sum of squares after each price,
    z-score, usable), where `usable` is False where `on_price` returns before its z-score
    (window not full yet, or `std <= mean * 1e-12`).

    Same IEEE operations in the same order: the running sums are one sequential
    `np.add.accumulate` (numpy accumulates in order; only reductions sum pairwise) over the
    interleaved updates `+p0, ..., +p(w-1), -p0, +pw, -p1, +p(w+1), ...` (`total -= old`, then
    `total + p`, as on_price does); the rest is element-wise."""
    import numpy as np

    n = len(prices)
    w = min(window, n)
    squared = prices * prices
    sums = []
    for values in (prices, squared):
        ops = np.empty(w + 2 * (n - w))
        ops[:w] = values[:w]
        ops[w::2] = -values[:n - w]
        ops[w + 1::2] = values[w:]
        run = np.add.accumulate(ops)
        sums.append(np.concatenate((run[:w], run[w + 1::2])))
    total, squares = sums
    full = np.arange(n) >= window - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / window
        var = squares / window - mean * mean
        var[var < 0.0] = 0.0
        std = np.sqrt(var)
        usable = full & ~(std <= mean * 1e-12)
        z = (prices - mean) / std
    return total, squares, z, usable
