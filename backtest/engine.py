"""Running a backtest: candles -> price points -> simulated exchange + the bot's decision loop.

Each candle becomes four price points, the same path and the same times the paper exchange's
CSV source gives (`exchange.paper.csv_prices.candle_points`): open, then low and high in the
order a candle of its colour takes them (up candle: O-L-H-C, down candle: O-H-L-C), then close,
at quarter steps of the candle's own timeframe, from its own timestamp (a hole in the data is a
hole in market time). At each point, in this order: resting orders on the simulated exchange
act at the point's price (a stop inside a gap fills at the first point past it, the open, with
the paper exchange's slippage); the symbol's decision loop (backtest/driver.py) gets the price
as a `Tick` (core and strategy), with the ticker's 24 h quote volume the paper exchange gives
(backtest/volumes.py); then the fills of that point come back to it as one
`OrderActivity`, as the market feed sends them. Symbols are replayed in one time-ordered
stream on one account (ties: config order).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from actors.trade_ids import in_fill_order
from backtest import skip_replay, volumes
from backtest.candles import Candles
from backtest.driver import MarketClock, QuietLog, drivers_for
from backtest.memory_repo import Forward, MemoryRepository
from backtest.protections import ProtectionsReplay, configured
from backtest.sim_exchange import SimExchange, SimSettings
from config.settings import Settings
from exchange.paper.csv_prices import candle_points
from exchange.paper.markets import round_to_tick
from strategies.base import Strategy
from strategies.mean_reversion import MeanReversion

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    settings: Settings
    candles: dict[str, Candles]
    recorder: MemoryRepository
    """Every committed decision's journal and ledger, at market time; escalations."""
    exchange: SimExchange
    log: QuietLog
    """The loops' warnings."""
    elapsed_s: float
    points: int
    looped: int
    """Points that went through the decision loop (the rest were proved to decide nothing)."""
    protections: ProtectionsReplay | None = None
    """`[protections]` as the run judged them (None: the config sets none)."""


def symbols_of(settings: Settings) -> list[str]:
    assert settings.symbols is not None, "the config validator requires symbols.list"
    return list(settings.symbols.list)


def holds_stops(settings: Settings) -> bool:
    """Whether the one-way bot holds its stops itself (`exchange.stop_mode = "bot"`; the hedge
    grid's stops are always on the exchange): the chart draws them from the committed states."""
    return settings.exchange.stop_mode == "bot" and not settings.exchange.hedge_mode


def sim_settings(settings: Settings) -> SimSettings:
    p = settings.paper
    return SimSettings(starting_balance=p.starting_balance_usdt, taker_fee=p.taker_fee,
                       maker_fee=p.maker_fee, slippage_bps=p.slippage_bps,
                       leverage=settings.risk.leverage, hedge_mode=settings.exchange.hedge_mode)


Point = tuple[int, int, Decimal, Decimal, Decimal | None]


def _points(index: int, c: Candles, tick: Decimal,
            candle_volumes: list[Decimal] | None = None) -> Iterator[Point]:
    """(time ms, symbol index, raw price, mark, volume) for every point of every candle; the
    volume is the candle's entry of `candle_volumes` (backtest/volumes.py; None: none)."""
    quarter = [q * c.timeframe_ms // 4 for q in range(4)]
    # For a fractional power-of-ten tick, quantize(HALF_UP) is round_to_tick exactly (same
    # value, same exponent) at a fraction of the cost; any other tick takes round_to_tick.
    decimal_tick = tick < 1 and tick == Decimal(1).scaleb(tick.adjusted())
    per_candle = candle_volumes if candle_volumes is not None else itertools.repeat(None, len(c))
    for ts, o, h, lo, cl, v in zip(c.ts, c.open, c.high, c.low, c.close, per_candle,
                                   strict=True):
        for q, raw in zip(quarter, candle_points((o, h, lo, cl)), strict=True):
            mark = (raw.quantize(tick, ROUND_HALF_UP) if decimal_tick
                    else round_to_tick(raw, tick))
            yield ts + q, index, raw, mark, v


def run(settings: Settings, candles: dict[str, Candles], progress: Progress | None = None,
        progress_every: int = 4096,
        strategy_for: Callable[[str], Strategy] | None = None,
        journal: Path | None = None, forward: Forward | None = None,
        defer_quiet_prices: bool = True, skip_quiet: bool = True,
        port: Callable[[SimExchange], Any] | None = None) -> RunResult:
    """Replay every configured symbol's candles through its decision loop; deterministic.
    `strategy_for` replaces the configured strategy (tests script entries with it); `journal`
    also commits every decision to a bot database there, `forward` to any other `Forward`
    (tests); `defer_quiet_prices=False` turns the loop's quiet-price shortcut off;
    `skip_quiet=False` turns off skipping the points proved to decide nothing
    (backtest/skip_replay.py; the one-way style with the mean-reversion strategy only);
    `port` wraps the simulated exchange as the loops and the emergency close reach it (tests
    make it refuse orders)."""
    started = time.perf_counter()
    symbols = symbols_of(settings)
    ex = SimExchange(sim_settings(settings), {s: candles[s].open[0] for s in symbols})
    clock = MarketClock()
    if journal is not None and forward is not None:
        raise ValueError("engine.run: give journal or forward, not both")
    sink = None
    if journal is not None:
        from backtest.journal import JournalSink

        sink = JournalSink(journal)
    sup = settings.supervision
    repo = MemoryRepository(clock, forward=sink or forward, stop_levels=holds_stops(settings),
                            kill_switch=(sup.kill_switch_escalations, sup.kill_switch_window_s))
    log = QuietLog()
    guard = ProtectionsReplay(settings, repo) if configured(settings) else None
    try:
        drivers = drivers_for(settings, ex if port is None else port(ex), repo, clock, log,
                              strategy_for, defer_quiet_prices,
                              checks=() if guard is None else guard.checks)
        if skip_quiet and defer_quiet_prices and all(
                d.loop.core.style == "one_way" and type(d.loop.strategy) is MeanReversion
                for d in drivers):
            points, looped = skip_replay.replay(symbols, candles, ex, drivers, progress,
                                                progress_every, guard)
        else:
            points = looped = _replay(symbols, candles, ex, drivers, progress, progress_every,
                                      guard)
    finally:
        if sink is not None:
            sink.close()
    return RunResult(settings=settings, candles=candles, recorder=repo, exchange=ex, log=log,
                     elapsed_s=time.perf_counter() - started, points=points,
                     looped=looped, protections=guard)


def _replay(symbols: list[str], candles: dict[str, Candles], ex: SimExchange, drivers: list[Any],
            progress: Progress | None, progress_every: int,
            judge: ProtectionsReplay | None = None) -> int:
    """Every point through the full path; `judge`: the protections, told before each point's
    tick and after its fills (backtest/protections.py)."""
    # each loop starts 1 ms before its own symbol's first candle, when the replay gets there
    # (found by review: all started before the run's first candle, so the hedge grid opened a
    # symbol listed days later then, at its first candle's price, days before it had one)
    waiting = sorted((candles[s].ts[0], i) for i, s in enumerate(symbols))
    streams = [_points(i, candles[s], ex.market(s).price_tick,
                       volumes.for_strategy(candles[s], d.loop.strategy))
               for i, (s, d) in enumerate(zip(symbols, drivers, strict=True))]
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams)
    points = 0
    for ts, i, raw, mark, volume in merged:
        while waiting and waiting[0][0] <= ts:
            first, starting = waiting.pop(0)
            ex.at(first - 1)
            drivers[starting].start((first - 1) / 1000)
        symbol = symbols[i]
        traded = ex.point(symbol, ts, raw, mark)
        now = ts / 1000
        driver = drivers[i]
        if judge is not None:
            judge.before(now)
        driver.tick(mark, volume, now)
        if traded:  # as the market feed reports them: one OrderActivity, ids in fill order
            driver.fills(in_fill_order(traded), now)
        if judge is not None:
            judge.after(now)
        points += 1
        if progress is not None and points % progress_every == 0:
            progress(points // 4)
    if progress is not None:
        progress(points // 4)
    return points

