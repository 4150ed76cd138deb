"""The report's numbers: equity curve, drawdown, daily Sharpe / Sortino, trade statistics.

Totals (net P&L, fees, per-symbol and per-reason sums) are exact Decimal sums of the trades.
The equity curve (for drawdown, Sharpe, Sortino and the charts) starts at the starting
balance, at the first candle's open, and is then evaluated at the end of every step of the
shortest timeframe (and of every candle) with numpy: wallet (exact Decimal, converted once
per fill) plus each open side's unrealized P&L at the last price point replayed before the
step ends (for a 5m step inside a 1h candle, that candle's open, low or high so far, never its
close: found by review, the hour's final close valued a position before it was known);
nothing is accumulated in floats. With one timeframe that point is each candle's close. The
drawdown's running peak so starts at the starting balance (a loss in the first candle is a
drawdown), and the first day's return is measured from it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from backtest.candles import Candles
from backtest.engine import RunResult
from backtest.trades import ZERO, Trade, open_since

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Equity:
    ts_ms: np.ndarray
    """[0]: the first candle's open; then the end of each step (a candle's open + the shortest
    timeframe, and each candle's end), where the equity is taken after the last price point
    before it."""
    equity: np.ndarray
    """[0]: the starting balance; then the equity at each candle's end."""
    drawdown: np.ndarray
    """Equity minus its running peak (<= 0)."""


def equity_curve(result: RunResult) -> Equity:
    candles = result.candles
    opens = [np.asarray(c.ts, dtype=np.int64) for c in candles.values()]
    times = np.unique(np.concatenate(opens))
    # every step of the shortest timeframe, and every symbol's own candle ends (found by
    # review: a 15m symbol whose data ended before a 1h one's, run with --allow-gaps, left the
    # curve at the last hour's open + 15 min: the fills later in that hour were in no equity,
    # the final equity short of them, and `open_pnl` said so with no position open)
    ends = np.unique(np.concatenate([times + min(c.timeframe_ms for c in candles.values()),
                                     *(o + c.timeframe_ms
                                       for o, c in zip(opens, candles.values(), strict=True))]))
    fills = result.exchange.fills
    start = result.exchange.settings.starting_balance
    wallet_steps = np.empty(len(fills) + 1)
    wallet_steps[0] = float(start)
    running = start
    for i, f in enumerate(fills):
        running += f.trade.realized_pnl - f.trade.fee
        wallet_steps[i + 1] = float(running)
    fill_ts = np.asarray([f.trade.ts for f in fills], dtype=np.int64)
    equity = wallet_steps[np.searchsorted(fill_ts, ends, side="left")]
    for symbol, c in candles.items():
        close = known_prices(c, ends)
        by_side: dict[str, list[Any]] = {}
        for f in fills:
            if f.trade.symbol == symbol:
                by_side.setdefault(f.trade.position_side, []).append(f)
        for side_fills in by_side.values():
            ts = np.asarray([f.trade.ts for f in side_fills], dtype=np.int64)
            qty = np.concatenate([[0.0], [float(f.qty_after) for f in side_fills]])
            entry = np.concatenate([[0.0], [float(f.entry_after) for f in side_fills]])
            k = np.searchsorted(ts, ends, side="left")
            equity = equity + qty[k] * (close - entry[k])
    equity = np.r_[float(start), equity]
    drawdown = equity - np.maximum.accumulate(equity)
    return Equity(ts_ms=np.r_[times[:1], ends], equity=equity, drawdown=drawdown)


def path_points(c: Candles) -> tuple[np.ndarray, np.ndarray]:
    """(time ms, float price) of every replayed price point, in time order: each candle's four
    path points at quarter steps of its own timeframe, O-L-H-C up (close >= open, compared as
    Decimals), O-H-L-C down (`exchange.paper.csv_prices.candle_points`, backtest/engine.py)."""
    ts = np.asarray(c.ts, dtype=np.int64)
    quarter = np.arange(4, dtype=np.int64) * c.timeframe_ms // 4
    if c.price_floats is not None:
        o, h, low, cl = np.asarray(c.price_floats, dtype=float)
    else:
        o, h, low, cl = (np.asarray(col, dtype=float) for col in (c.open, c.high, c.low, c.close))
    up = np.fromiter(map(operator.ge, c.close, c.open), bool, len(ts))  # exact, as the engine
    prices = np.stack([o, np.where(up, low, h), np.where(up, h, low), cl], axis=1)
    return (ts[:, None] + quarter[None, :]).ravel(), prices.ravel()


def known_prices(c: Candles, ends: np.ndarray) -> np.ndarray:
    """The symbol's last price point before each of `ends` (ms): the price known when that
    step ends (before its first point: the first, when no position can be open yet)."""
    at, prices = path_points(c)
    idx = np.searchsorted(at, ends, side="left") - 1
    return prices[np.clip(idx, 0, len(prices) - 1)]


def daily_ratios(eq: Equity) -> tuple[float | None, float | None]:
    """Sharpe and Sortino of daily returns, annualised with sqrt(365); None with fewer than two
    days or no variation. A day's equity is its last candle's; the first day's return is from
    the starting balance. A candle counts in the UTC day of its last moment, open + timeframe
    - 1 ms (its end minus 1 ms): the candle that closes at midnight traded in the day before.
    Every calendar day from the first to the last is one return: a day with no candles (a hole
    in the data) is a flat day, its equity the day before's (no price, no change), so the
    return across a hole is not annualised as one day's (found by review)."""
    days = (eq.ts_ms[1:] - 1) // DAY_MS
    if len(days) == 0:
        return None, None
    last = np.r_[days[1:] != days[:-1], True]
    present = days[last]
    every = np.arange(present[0], present[-1] + 1)
    held = np.searchsorted(present, every, side="right") - 1  # the last day with candles
    closes = np.r_[eq.equity[:1], eq.equity[1:][last][held]]
    if len(closes) < 3:
        return None, None
    rets = np.diff(closes) / closes[:-1]
    mean = float(rets.mean())
    std = float(rets.std(ddof=1))
    downside = rets[rets < 0]
    dstd = float(math.sqrt(float((downside ** 2).sum()) / len(rets))) if len(downside) else 0.0
    sharpe = mean / std * math.sqrt(365) if std > 0 else None
    sortino = mean / dstd * math.sqrt(365) if dstd > 0 else None
    return sharpe, sortino


def exposure(spans: list[tuple[float, float]], start_s: float, end_s: float) -> float:
    """Share of the backtest's time with at least one open position; `spans` are the
    positions' (opened, closed) times, a position still open at the end closing at `end_s`
    (one opened at the start, before the first candle's open, counts from there)."""
    span = end_s - start_s
    if span <= 0 or not spans:
        return 0.0
    covered, cur_start, cur_end = 0.0, None, None
    for opened, closed in sorted((max(a, start_s), min(b, end_s)) for a, b in spans):
        if cur_end is None or opened > cur_end:
            if cur_end is not None and cur_start is not None:
                covered += cur_end - cur_start
            cur_start, cur_end = opened, closed
        else:
            cur_end = max(cur_end, closed)
    if cur_end is not None and cur_start is not None:
        covered += cur_end - cur_start
    return covered / span


def longest_losing_streak(trades: list[Trade]) -> int:
    best = cur = 0
    for t in trades:
        cur = cur + 1 if t.net < ZERO else 0
        best = max(best, cur)
    return best


def group(trades: list[Trade], key: str,
          names: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Closed trades by symbol or exit kind; `names` are listed even with no trade (found by
    review: a configured symbol that never traded was missing from the per-symbol table, so
    a reader could not tell it from a symbol left out of the run)."""
    rows: dict[str, dict[str, Any]] = {
        name: {"trades": 0, "wins": 0, "net_pnl": ZERO, "fees": ZERO} for name in names}
    for t in trades:
        name = t.symbol if key == "symbol" else t.exit_kind
        r = rows.setdefault(name, {"trades": 0, "wins": 0, "net_pnl": ZERO, "fees": ZERO})
        r["trades"] += 1
        r["wins"] += t.net > ZERO
        r["net_pnl"] += t.net
        r["fees"] += t.fees
    for r in rows.values():
        r["win_rate"] = r["wins"] / r["trades"] if r["trades"] else None
    return dict(sorted(rows.items()))


def final_equity(result: RunResult) -> Decimal:
    """The equity at the end, exact: the starting balance, every fill's realized P&L less its
    fee, and each position still open valued at its symbol's last close (the equity curve's
    last point, there in floats for the ratios and charts), to 1e-8 USDT."""
    ex = result.exchange
    equity = ex.settings.starting_balance
    for f in ex.fills:
        equity += f.trade.realized_pnl - f.trade.fee
    for symbol, c in result.candles.items():
        for p in ex.positions_of(symbol):
            if p.qty:
                equity += p.qty * (c.close[-1] - p.entry)
    return equity.quantize(CENT_MILLIONTH)  # a hedge leg's average entry has 28 digits


CENT_MILLIONTH = Decimal("1e-8")


def _money(value: float) -> Decimal:
    """A figure of the float equity curve (the drawdown) as the report's Decimal, to 1e-8 USDT."""
    return Decimal(repr(value)).quantize(CENT_MILLIONTH)


def summary(result: RunResult, trades: list[Trade], eq: Equity) -> dict[str, Any]:
    wins = [t.net for t in trades if t.net > ZERO]
    losses = [t.net for t in trades if t.net < ZERO]
    gross_loss = -sum(losses, ZERO)
    start = result.exchange.settings.starting_balance
    peak_at = np.maximum.accumulate(eq.equity)
    dd_pct = float((eq.drawdown / peak_at).min()) * 100 if len(eq.equity) else 0.0
    sharpe, sortino = daily_ratios(eq)
    first = min(c.ts[0] for c in result.candles.values()) / 1000
    last = max(c.ts[-1] + c.timeframe_ms for c in result.candles.values()) / 1000
    spans = [(t.opened_at, t.closed_at) for t in trades]
    spans += [(opened, last) for opened in open_since(result.recorder)]
    holds = [t.hold_s for t in trades]
    net = sum((t.net for t in trades), ZERO)
    final = final_equity(result)
    return {
        "trades": len(trades),
        "win_rate": len(wins) / len(trades) if trades else None,
        "net_pnl": net,
        "fees": sum((t.fees for t in trades), ZERO),
        "final_equity": final,
        "max_drawdown": _money(float(eq.drawdown.min())) if len(eq.drawdown) else ZERO,
        "max_drawdown_pct": dd_pct,
        "sharpe_daily": sharpe,
        "sortino_daily": sortino,
        # a ratio, a JSON number as the others (README, Options); not money
        "profit_factor": float(sum(wins, ZERO) / gross_loss) if gross_loss > 0 else None,
        "exposure_pct": exposure(spans, first, last) * 100,
        "avg_hold_s": sum(holds) / len(holds) if holds else None,
        "longest_losing_streak": longest_losing_streak(trades),
        "escalations": len(result.recorder.escalations),
        "open_at_end": sum(1 for s in result.candles for p in result.exchange.positions_of(s)
                           if p.qty != 0),
        # the equity's change the closed trades do not hold: the open positions' unrealized
        # P&L at the last price and what they booked so far (entry fees, a leg's partial
        # closes); found by review: final equity and net P&L differed without a word
        "open_pnl": final - start - net,
        "start": first,
        "end": last,
    }
