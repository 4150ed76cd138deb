"""Backtest throughput: candles per second on one core for one symbol with the default strategy,
and for many symbols across all cores. Prints numbers; asserts nothing.

    python bench/bench_backtest.py                       # 1,000,000 1m candles, 1 symbol
    python bench/bench_backtest.py --candles 200000 --symbols 50 --multi-candles 20000

Data: a deterministic random walk (numpy, seed 7) of 1-minute candles written as CSV, so every
run measures the same work. Measured in the same run, on the same file:
  load     the first load of the file: parse + check the CSV, write the parsed-file cache
  read     load the file (from that cache, as every later run of the same file does) and
           walk the 4-point path of every candle without deciding anything (the floor any
           backtest over these files pays)
  strategy the read loop plus the default strategy (mean reversion) fed every price point
  backtest the full run (engine.run): simulated exchange, and every price the run cannot
           prove quiet through the bot's decision loop (actors/loop.py): quiet band, strategy,
           decide / commit (in memory) / execute for every non-quiet price, fills back as
           events; the points proved to decide nothing are skipped (backtest/skipping.py)
  --without-skipping  also the full run with every point through the loop (the version
           before the skipping), in the same run
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest import candles as C
from backtest import engine
from backtest.skipping import PricePoints, SkipPlan
from backtest.trades import closed_trades
from config.loader import load_settings
from exchange.paper.markets import build_market, price_tick
from runtime import wiring
from strategies.mean_reversion import MeanReversion

START_MS = 1_600_000_000_000 - 1_600_000_000_000 % 60_000


def write_candles(path: Path, n: int, seed: int, start: float = 30_000.0) -> None:
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0, 0.0008, size=n)))
    open_ = np.r_[start, close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0004, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0004, n)))
    ts = START_MS + np.arange(n, dtype=np.int64) * 60_000
    with path.open("w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        for t, o, h, lo, c in zip(ts.tolist(), open_.tolist(), high.tolist(), low.tolist(),
                                  close.tolist(), strict=True):
            f.write(f"{t},{o:.1f},{h:.1f},{lo:.1f},{c:.1f},1.5\n")


def config(folder: Path, symbols: list[str]) -> Path:
    path = folder / "bench.toml"
    listed = ", ".join(f'"{s}"' for s in symbols)
    path.write_text(f"[symbols]\nlist = [{listed}]\n")  # every other key: the shipped defaults
    return path


class Clocks:
    """Wall and CPU seconds of one measured section (the machine may be shared: CPU time
    is what this process itself spent)."""

    def __enter__(self) -> Self:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def read_loop(path: Path, symbol: str) -> tuple[Clocks, int]:
    with Clocks() as clocks:
        c = C.load(path)
        tick = price_tick(build_market(symbol, c.open[0], Decimal("0.0002"), Decimal("0.00055")))
        points = sum(1 for _ in engine._points(0, c, tick))
    return clocks, points


def strategy_loop(path: Path, symbol: str, settings: Any) -> Clocks:
    with Clocks() as clocks:
        c = C.load(path)
        tick = price_tick(build_market(symbol, c.open[0], Decimal("0.0002"), Decimal("0.00055")))
        strategy = wiring.strategy_factory(settings)(symbol)
        for ts, _, _, mark, volume in engine._points(0, c, tick):
            strategy.on_price(mark, volume, ts / 1000, None)
    return clocks


def plan_setup(path: Path, symbol: str, settings: Any) -> Clocks:
    """What the backtest computes up front for the strategy (and not per point): the float
    marks of the path and the strategy's whole z-score series with its signal bands
    (backtest/skipping.py SkipPlan); the CSV load is outside the measured section."""
    c = C.load(path)
    tick = price_tick(build_market(symbol, c.open[0], Decimal("0.0002"), Decimal("0.00055")))
    strategy = wiring.strategy_factory(settings)(symbol)
    assert isinstance(strategy, MeanReversion), "the default strategy"
    with Clocks() as clocks:
        SkipPlan(PricePoints(c, tick), strategy)
    return clocks


def backtest(path: Path, symbol: str, cfg: Path,
             skip: bool = True) -> tuple[Clocks, int, int, str, engine.RunResult, Clocks]:
    """Load + run, as `bot.py backtest` does (report and charts not included); the last
    item is the load's own clocks."""
    with Clocks() as clocks:
        settings = load_settings(cfg)
        with Clocks() as loading:
            candles = C.load(path)
        result = engine.run(settings, {symbol: candles}, skip_quiet=skip)
    looped = f"{result.looped:,} of {result.points:,} points looped"
    trades = len(closed_trades(result.recorder))
    return clocks, result.recorder.decisions, trades, looped, result, loading


def core_floor(path: Path, symbol: str, cfg: Path, n: int) -> None:
    """The full backtest once more, with the CPU time spent inside the one-way core's `decide`
    summed (thread CPU clock around each call, ~1 us of its own per call): the part of the run
    that is the decision core itself, whatever the replay, exchange and journal around it cost.
    A measurement only: the core's method is wrapped for this run and restored after."""
    from actors import cores

    original = cores.OneWayCore.decide
    spent, calls = [0.0], [0]

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.thread_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent[0] += time.thread_time() - t0
            calls[0] += 1

    cores.OneWayCore.decide = timed  # type: ignore[method-assign]
    try:
        run, decisions, _, _, _, _ = backtest(path, symbol, cfg)
    finally:
        cores.OneWayCore.decide = original  # type: ignore[method-assign]
    per_call = spent[0] / max(calls[0], 1) * 1e6
    print(f"  decide() alone  cpu {spent[0]:8.2f} s of the run's {run.cpu:.2f} s "
          f"({spent[0] / run.cpu:.0%}), {calls[0]:,} calls, {per_call:.1f} "
          f"us a call: {spent[0] * 1e6 / n:.1f} cpu-s per 1,000,000 candles in the core alone "
          f"(target for the whole run: 5)", flush=True)


def breakdown(result: engine.RunResult, trades: int) -> None:
    """What the committed decisions were: the journal rows they wrote, by type (a decision
    writes one row, a few write two, e.g. a trailing activation with its stop move)."""
    rows = collections.Counter(entry.type for _, _, entry in result.recorder.journal)
    total = sum(rows.values())
    print(f"  journal rows of the {result.recorder.decisions:,} decisions ({total:,} rows, "
          f"{result.recorder.decisions / max(trades, 1):.2f} decisions per trade):", flush=True)
    for kind, count in rows.most_common():
        print(f"    {kind:<24} {count:10,}  {count / total:6.1%}")


def _line(name: str, c: Clocks, n: int, extra: str = "") -> None:
    print(f"  {name:<14} wall {c.wall:8.2f} s  cpu {c.cpu:8.2f} s  "
          f"{n / c.cpu:10,.0f} candles/cpu-s  (load avg {os.getloadavg()[0]:.1f}){extra}",
          flush=True)


def one_symbol(folder: Path, n: int, without_skipping: bool) -> None:
    symbol = "BTC/USDT:USDT"
    path = folder / "BTC_USDT_USDT-1m.csv"
    write_candles(path, n, seed=7)
    cfg = config(folder, [symbol])
    settings = load_settings(cfg)
    print(f"one symbol, {n:,} one-minute candles, default strategy", flush=True)
    with Clocks() as cold:
        C.load(path)
    _line("load, parse", cold, n, "  (csv parse + checks + writing the parsed-file cache; "
          "every later load reads the cache, backtest/candle_cache.py)")
    read, points = read_loop(path, symbol)
    _line("read loop", read, n, f"  ({points:,} price points)")
    strat = strategy_loop(path, symbol, settings)
    _line("+ strategy", strat, n, "  (on_price at every point; the backtest calls it only at "
          "the points it loops)")
    plan = plan_setup(path, symbol, settings)
    _line("skip plan", plan, n, "  (float marks + the strategy's series, computed up front by "
          "the backtest; no load)")
    run, decisions, trades, looped, result, load = backtest(path, symbol, cfg)
    _line("full backtest", run, n, f"  ({decisions:,} decisions, {trades:,} trades, {looped})")
    rest = run.cpu - load.cpu - plan.cpu
    print(f"  full backtest minus its load ({load.cpu:.2f} cpu-s) and skip plan: {rest:.2f} cpu-s, "
          f"{rest / max(decisions, 1) * 1e6:.0f} us per committed decision (all of the replay "
          f"and the decision loop, spread over the decisions)", flush=True)
    breakdown(result, trades)
    if without_skipping:
        slow, decisions, trades, looped, _, _ = backtest(path, symbol, cfg, skip=False)
        _line("no skipping", slow, n, f"  ({decisions:,} decisions, {trades:,} trades, "
              f"{looped}); skipping saves {1 - run.cpu / slow.cpu:.0%} of the cpu")
    core_floor(path, symbol, cfg, n)
    per_million = run.cpu * 1e6 / n
    print(f"  ratio backtest / read loop (cpu): {run.cpu / read.cpu:.1f}x; target 1,000,000 "
          f"candles in < 5 s: {'met' if per_million < 5 else 'missed'} "
          f"({per_million:.1f} cpu-s per 1,000,000 candles)", flush=True)


def _symbol_job(args: tuple[str, int, int]) -> tuple[int, float, float]:
    folder, index, n = args
    symbol = f"S{index:02d}/USDT:USDT"
    path = Path(folder) / f"S{index:02d}.csv"
    own = Path(folder) / f"c{index:02d}"
    own.mkdir()
    cfg = config(own, [symbol])
    clocks, _, _, _, _, _ = backtest(path, symbol, cfg)
    return n, clocks.wall, clocks.cpu


def many_symbols(folder: Path, symbols: int, n: int, processes: int) -> None:
    for i in range(symbols):
        write_candles(folder / f"S{i:02d}.csv", n, seed=100 + i, start=50.0 + i)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=processes) as pool:
        results = list(pool.map(_symbol_job, [(str(folder), i, n) for i in range(symbols)]))
    wall = time.perf_counter() - t0
    total = sum(r[0] for r in results)
    per = sorted(r[0] / r[2] for r in results)
    cpu = sum(r[2] for r in results)
    print(f"{symbols} symbols x {n:,} candles across {processes} processes "
          f"(one backtest per symbol)")
    print(f"  wall {wall:.2f} s  {total / wall:10,.0f} candles/s in total (wall); "
          f"cpu {cpu:.2f} s (load avg {os.getloadavg()[0]:.1f}); "
          f"per symbol median {per[len(per) // 2]:,.0f} candles/cpu-s",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--multi-candles", type=int, default=20_000)
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-one", action="store_true")
    ap.add_argument("--skip-many", action="store_true")
    ap.add_argument("--without-skipping", action="store_true",
                    help="also run the full backtest with skipping off (the before number)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not a.skip_one:
            one_symbol(Path(tmp), a.candles, a.without_skipping)
        if not a.skip_many and a.symbols > 0:
            many_symbols(Path(tmp), a.symbols, a.multi_candles, a.processes)


if __name__ == "__main__":
    main()
