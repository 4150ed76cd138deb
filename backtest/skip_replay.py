"""The replay (backtest/engine.py `_replay`) without the price points proved to decide nothing.

Every symbol is a lane: its candles' points, its skip plan (backtest/skipping.py) and its
decision loop. After each point a lane takes through the full path, the lane's plan says
which of its next points may decide something; the points before it are skipped, except the
last one, which goes through the full path (the loop keeps its mark and time, the simulated
exchange its price) with the strategy's rolling state set to what the skipped prices left,
and must decide nothing. The points taken go in the order of `_replay`'s merged stream: by
time, ties by the symbols' config order.

Symbols meet in two places only, both settled here: the account's entry gate, which changes
only at a decision (and every decision is at a point taken), and the simulated exchange's
account, which reads every book's price for margin and balances: before each point taken,
every other symbol's book is given the price of that symbol's last point before it in the
merged stream, as the full replay would have left it.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable
from typing import Any

from actors.trade_ids import in_fill_order
from backtest import volumes
from backtest.candles import Candles
from backtest.protections import ProtectionsReplay
from backtest.sim_exchange import SimExchange
from backtest.skipping import PricePoints, SkipError, SkipPlan


class Lane:
    """One symbol's replay."""

    __slots__ = ("band", "band_for", "driver", "index", "plan", "points", "shown", "symbol")

    def __init__(self, index: int, symbol: str, c: Candles, ex: SimExchange,
                 driver: Any) -> None:
        self.index = index
        self.symbol = symbol
        self.driver = driver
        self.points = PricePoints(c, ex.market(symbol).price_tick,
                                  volumes.for_strategy(c, driver.loop.strategy))
        self.plan = SkipPlan(self.points, driver.loop.strategy)
        self.band_for: object = None
        self.band: Any = None
        self.shown = -1
        """The point whose price the exchange's book holds (-1: the initial price)."""

    def next_taken(self, k: int, ex: SimExchange) -> tuple[int, bool] | None:
        """(the next point from k through the full path, whether points before it were
        skipped), or None at the end."""
        if k >= self.points.count:
            return None
        loop = self.driver.loop
        state = loop.state
        if state is not self.band_for:
            self.band_for, self.band = state, loop.core.quiet_band(state)
        j = self.plan.horizon(k, state, self.band, ex.resting(self.symbol))
        return (j - 1, True) if j - k >= 2 else (k, False)

    def time_of(self, k: int) -> int:
        return self.points.c.ts[k >> 2] + self.points.quarter[k & 3]

    def last_before(self, ts: int, index: int) -> int:
        """This lane's last point before (ts, index) in the merged stream (-1: none)."""
        c = self.points.c
        m = bisect.bisect_right(c.ts, ts) - 1
        if m < 0:
            return -1
        for q in (3, 2, 1, 0):
            t = c.ts[m] + self.points.quarter[q]
            if t < ts or (t == ts and self.index < index):
                return 4 * m + q
        return 4 * m - 1  # the previous candle's close (before this candle's open at ts)


def replay(symbols: list[str], candles: dict[str, Candles], ex: SimExchange,
           drivers: list[Any], progress: Callable[[int], None] | None,
           progress_every: int,
           judge: ProtectionsReplay | None = None) -> tuple[int, int]:
    """Replay; returns (points, points taken through the full path). `judge`: the
    protections, told before and after each point taken (they change only the entry gate,
    which only a point taken asks)."""
    lanes = [Lane(i, s, candles[s], ex, d) for i, (s, d) in enumerate(zip(symbols, drivers,
                                                                           strict=True))]
    first = min(candles[s].ts[0] for s in symbols)
    ex.at(first - 1)
    for d in drivers:
        d.start((first - 1) / 1000)
    heap: list[tuple[int, int, int, bool]] = []
    for lane in lanes:
        _schedule(lane, 0, ex, heap)
    total = sum(lane.points.count for lane in lanes)
    taken, report_at = 0, progress_every
    while heap:
        ts, i, k, skipped = heapq.heappop(heap)
        lane = lanes[i]
        if len(lanes) > 1:
            _show_others(lanes, ex, ts, i)
        _take(lane, k, skipped, ex, judge)
        taken += 1
        _schedule(lane, k + 1, ex, heap)
        if progress is not None:  # points done, skipped ones included, as `_replay` counts
            done = sum(lane.shown + 1 for lane in lanes)
            if done >= report_at:
                report_at = (done // progress_every + 1) * progress_every
                progress(done // 4)
    if progress is not None:
        progress(total // 4)
    return total, taken


def _schedule(lane: Lane, k: int, ex: SimExchange, heap: list[tuple[int, int, int, bool]]) -> None:
    nxt = lane.next_taken(k, ex)
    if nxt is not None:
        heapq.heappush(heap, (lane.time_of(nxt[0]), lane.index, nxt[0], nxt[1]))


def _show_others(lanes: list[Lane], ex: SimExchange, ts: int, index: int) -> None:
    for other in lanes:
        if other.index == index:
            continue
        k = other.last_before(ts, index)
        if k != other.shown and k >= 0:
            t, raw, _, _ = other.points.at(k)
            ex.show(other.symbol, t, raw)
            other.shown = k


def _take(lane: Lane, k: int, skipped: bool, ex: SimExchange,
          judge: ProtectionsReplay | None = None) -> None:
    """Point k through the full path, as `_replay` does."""
    if skipped:
        lane.plan.restore_strategy(k)
    loop = lane.driver.loop
    before = loop.state
    ts, raw, mark, volume = lane.points.at(k)
    traded = ex.point(lane.symbol, ts, raw, mark)
    lane.shown = k
    now = ts / 1000
    if judge is not None:
        judge.before(now)
    lane.driver.tick(mark, volume, now)
    if traded:  # as the market feed reports them: one OrderActivity, ids in fill order
        lane.driver.fills(in_fill_order(traded), now)
    if judge is not None:
        judge.after(now)
    if skipped and (traded or loop.state is not before):
        raise SkipError(f"{lane.symbol}: point {k} ({ts}, {mark}) decided after a skip")
