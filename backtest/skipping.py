"""Knowing, exactly, which price points of a one-symbol backtest can decide nothing.

A point changes nothing when, at its mark: no resting order of the symbol acts (the simulated
exchange's `_acts`), the decision loop's quiet band contains it (so the core is not asked), and
the strategy returns no signal. The last two depend only on the loop's state, which changes
only at a decision, and on the price series:
- the strategy (mean reversion) is a function of the price series alone; its running sums and
  z-score are computed for the whole series at once, bit-identical to `on_price`
  (`strategies.mean_reversion.series`), so the points where it may signal are known up front:
  with no open position, where |z| >= entry_z and the volume filter passes (the ticks' 24 h
  quote volume, backtest/volumes.py, known per candle up front); with one, where
  |z| <= exit_z or the full window is flat (no z-score: the price is at its mean);
- the band and the resting orders give price bounds; a point is skipped only when its mark, as
  a float, lies strictly between the bounds, as floats. `float(Decimal)` rounds correctly and
  so keeps order (a <= b implies float(a) <= float(b)): a float strictly inside proves the
  Decimal strictly inside, whatever the band's own strictness. A point at or near a bound is
  simply not skipped; the full path decides it. A band with a time limit is never skipped.

The replay (backtest/engine.py) then feeds the last point of a skipped run through the full
path (so the loop keeps that point's mark and time, as the run would have left them, and the
simulated exchange its price), after setting the strategy's rolling state to what the skipped
prices would have left (`MeanReversion.restore`); it checks that this point indeed decided
nothing. Every other point goes through the full path as before.
"""

from __future__ import annotations

import bisect
import math
from array import array
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from backtest.candles import Candles
from exchange.paper.csv_prices import candle_points
from exchange.paper.markets import round_to_tick
from exchange.paper.models import OrderRec
from strategies.mean_reversion import MeanReversion, series
from trading.model import Phase, SymbolState
from trading.quiet_band import QuietBand


class SkipError(AssertionError):
    """A skipped point would have decided something: a bug in this module, never in the data."""


class PricePoints:
    """One symbol's price points (4 per candle, the paper exchange's path), addressed by index:
    the same times, raw prices and marks `engine._points` gives."""

    def __init__(self, c: Candles, tick: Decimal,
                 volumes: list[Decimal] | None = None) -> None:
        self.c = c
        self.tick = tick
        self.volumes = volumes
        """Each candle's tick volume (backtest/volumes.py); None: the ticks carry none."""
        self.quarter = [q * c.timeframe_ms // 4 for q in range(4)]
        # as engine._points: for a fractional power-of-ten tick quantize is round_to_tick
        self.decimal_tick = tick < 1 and tick == Decimal(1).scaleb(tick.adjusted())
        self.count = 4 * len(c)

    def mark_of(self, raw: Decimal) -> Decimal:
        if self.decimal_tick:
            return raw.quantize(self.tick, ROUND_HALF_UP)
        return round_to_tick(raw, self.tick)

    def at(self, k: int) -> tuple[int, Decimal, Decimal, Decimal | None]:
        """(time ms, raw price, mark, volume) of point k."""
        c, i, q = self.c, k >> 2, k & 3
        raw = candle_points((c.open[i], c.high[i], c.low[i], c.close[i]))[q]
        volume = None if self.volumes is None else self.volumes[i]
        return c.ts[i] + self.quarter[q], raw, self.mark_of(raw), volume

    def mark_floats(self) -> np.ndarray:
        """float(mark) of every point, in path order."""
        c = self.c
        if c.price_floats is not None:  # float(Decimal) of the same columns, from the reader
            raws = list(c.price_floats)
        else:
            raws = [np.fromiter(map(float, col), float, len(col))
                    for col in (c.open, c.high, c.low, c.close)]
        f_open, f_high, f_low, f_close = (self._marks(col, raw) for col, raw in
                                          zip((c.open, c.high, c.low, c.close), raws,
                                              strict=True))
        # the candle's colour (close >= open) from the floats where they differ: a correctly
        # rounded float keeps order; equal floats are compared as Decimals
        up = raws[3] > raws[0]
        for i in np.flatnonzero(raws[3] == raws[0]).tolist():
            up[i] = c.close[i] >= c.open[i]
        path = np.empty((len(c), 4))
        path[:, 0] = f_open
        path[:, 1] = np.where(up, f_low, f_high)
        path[:, 2] = np.where(up, f_high, f_low)
        path[:, 3] = f_close
        return path.ravel()

    def _marks(self, col: list[Decimal], raw: np.ndarray) -> np.ndarray:
        """float(mark) for one column, given float(raw). For a tick of 10**-d the mark is
        M / 10**d with M = round_half_up(raw * 10**d), and float(mark) is the correctly rounded
        quotient of the exact doubles M and 10**d. M is read off the float raw * 10**d where
        that cannot be wrong (far from a half, well inside 2**53); elsewhere it is the
        Decimal's own quantize."""
        if not self.decimal_tick or -self.tick.adjusted() > 22:
            return np.fromiter((float(self.mark_of(x)) for x in col), float, len(col))
        scale = float(10 ** -self.tick.adjusted())
        scaled = raw * scale
        whole = np.floor(scaled + 0.5)
        doubtful = (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6) | (scaled > 1e9)
        out = whole / scale
        for i in np.flatnonzero(doubtful).tolist():
            out[i] = float(self.mark_of(col[i]))
        return out


class SkipPlan:
    """Where a one-symbol run with the mean-reversion strategy may skip points."""

    def __init__(self, points: PricePoints, strategy: MeanReversion) -> None:
        self.points = points
        self.strategy = strategy
        prices = points.mark_floats()
        self.total, self.squares, z, usable = series(strategy.window, prices)
        absz = np.abs(z)
        # on_price with no open position: volume filter first, then |z| < entry_z -> None
        enter = usable & ~(absz < strategy.entry_z)
        if strategy.min_volume > 0 and points.volumes is not None:  # else no filter: volumes
            # are >= 0 (the reader checks), or None (on_price then skips the filter)
            volume = np.fromiter(map(float, points.volumes), float, len(points.volumes))
            enter &= ~(np.repeat(volume, 4) < strategy.min_volume)
        # with an open position: within exit_z, or a full window gone flat (no z-score)
        full = np.arange(len(prices)) >= strategy.window - 1
        leave = full & (~usable | (absz <= strategy.exit_z))
        self.may_enter: list[int] = np.flatnonzero(enter).tolist()
        self.may_leave: list[int] = np.flatnonzero(leave).tolist()
        self.prices = array("d", prices.tobytes())
        self._bounds_for: tuple[SymbolState | None, list[OrderRec]] = (None, [])
        self._bounds = (0.0, 0.0)

    def horizon(self, k: int, state: SymbolState, band: QuietBand | None,
                resting: list[OrderRec]) -> int:
        """The first point >= k that may decide something, for the loop's `state` and `band`
        and the symbol's resting orders (proved quiet: every point before it)."""
        if band is None or band.until is not None:
            return k
        lo, hi = self._price_bounds(state, band, resting)
        if not lo < hi:
            return k
        # the strategy is told of an open position only in the OPEN phase (DecisionLoop.tick)
        open_side = state.position is not None and state.phase is Phase.OPEN
        signals = self.may_leave if open_side else self.may_enter
        at = bisect.bisect_left(signals, k)
        end = signals[at] if at < len(signals) else self.points.count
        if lo == -math.inf and hi == math.inf:  # no price bound: only a signal can matter
            return end
        prices = self.prices
        j = k
        while j < end and lo < prices[j] < hi:
            j += 1
        return j

    def _price_bounds(self, state: SymbolState, band: QuietBand,
                      resting: list[OrderRec]) -> tuple[float, float]:
        """(lo, hi): a mark strictly between them, as floats, is inside the band and makes no
        resting order act. Cached per state and resting-order set (both change only with a
        decision or a fill)."""
        seen_state, seen_orders = self._bounds_for
        if (seen_state is state and len(seen_orders) == len(resting)
                and all(a is b for a, b in zip(seen_orders, resting, strict=True))):
            return self._bounds
        lo, hi = -math.inf, math.inf
        for low in (band.gt, band.ge):
            if low is not None:
                lo = max(lo, float(low))
        for high in (band.lt, band.le):
            if high is not None:
                hi = min(hi, float(high))
        for order in resting:  # mirror of sim_exchange._acts
            if order.waiting_for_trigger:
                assert order.trigger_price is not None
                if order.trigger_direction == "above":  # acts at mark >= trigger
                    hi = min(hi, float(order.trigger_price))
                else:  # acts at mark <= trigger
                    lo = max(lo, float(order.trigger_price))
            elif order.type == "limit":
                assert order.price is not None
                if order.side == "buy":  # acts at mark <= price
                    lo = max(lo, float(order.price))
                else:
                    hi = min(hi, float(order.price))
        self._bounds_for = (state, resting)
        self._bounds = (lo, hi)
        return lo, hi

    def restore_strategy(self, k: int) -> None:
        """The strategy's rolling state after points 0..k-1 (k >= 1)."""
        start = max(0, k - self.strategy.window)
        self.strategy.restore(self.prices[start:k].tolist(), float(self.total[k - 1]),
                              float(self.squares[k - 1]))
