"""Skipping (backtest/skipping.py) on prices where the strategy's thresholds are met exactly.

The skip plan stops at the points where the mean-reversion strategy may signal; `on_price`
enters at |z| >= entry_z with a 24 h quote volume >= min_volume, and exits at |z| <= exit_z.
On real data a float z-score or volume equal to its threshold is rare, so the parity tests on
the shipped data never meet one; on whole-number prices and volumes they are common: a window
of 5 points, four of them equal and one off, has |z| = 2.0 exactly (mean, variance and the
running sums are exact in binary), one of 4 points as a, a, b, b has |z| = 1.0 exactly, and
a candle with volume 15 and close 100 is 1500 quote volume exactly. Here a backtest with
skipping and one without, on such data, make the very same commits, fills and report, and
the exact case is shown to occur at a point where the run did decide something.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from backtest import candles as C
from backtest import engine, report
from backtest.sim_exchange import SimExchange
from backtest.skipping import PricePoints
from backtest.volumes import quote_volume_24h
from config.loader import load_settings
from config.settings import Settings
from strategies.mean_reversion import series
from tests.backtest.capture import Capture

SYMBOL = "AAA/USDT:USDT"
START_MS = 1_699_999_800_000  # a multiple of 5 minutes

CONFIG = """
[symbols]
list = ["{symbol}"]
[strategy]
window = {window}
entry_z = {entry_z}
exit_z = {exit_z}
min_volatility_pct = 0
min_volume = {min_volume}
[risk]
order_size_usdt = 100
stop_loss_pct = 5.0
take_profit_pct = 8.0
"""


def write_round_walk(path: Path, n: int, seed: int, gaps: bool = False) -> None:
    """5-minute candles of whole-number prices near 100, often flat; volume 15 on a candle
    closing at 100 with none in the 24 h before it (so the 24 h quote volume is 0 or exactly
    1500 for long stretches), else 0. `gaps`: each candle opens 1 to 4 away from the last
    close (as after a market's closed hours), else at it."""
    rng = np.random.default_rng(seed)
    last_volume_at = -10**15
    price = 100
    with path.open("w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        for i in range(n):
            ts = START_MS + i * 300_000
            o = price + (int(rng.choice([-4, -1, 1, 4])) if gaps else 0)
            c = int(np.clip(o + rng.choice([-3, -1, 0, 0, 0, 0, 1, 3]), 80, 120))
            h = max(o, c) + int(rng.choice([0, 0, 0, 2]))
            lo = min(o, c) - int(rng.choice([0, 0, 0, 2]))
            volume = 0
            if c == 100 and ts - last_volume_at > 86_400_000:
                volume, last_volume_at = 15, ts
            f.write(f"{ts},{o},{h},{lo},{c},{volume}\n")
            price = c


def _run(settings: Settings, candles: C.Candles,
         skip: bool) -> tuple[engine.RunResult, Capture, str]:
    capture = Capture()
    result = engine.run(settings, {SYMBOL: candles}, forward=capture, skip_quiet=skip)
    return result, capture, report.to_json(report.build(result))


def _same_run(tmp_path: Path, *, window: int, entry_z: float, exit_z: float,
              min_volume: int = 0, seed: int = 1, n: int = 3_000) -> engine.RunResult:
    path = tmp_path / "round.csv"
    write_round_walk(path, n, seed)
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG.format(symbol=SYMBOL, window=window, entry_z=entry_z,
                                    exit_z=exit_z, min_volume=min_volume))
    settings = load_settings(config)
    candles = C.load(path)
    fast, fast_commits, fast_report = _run(settings, candles, skip=True)
    slow, slow_commits, slow_report = _run(settings, candles, skip=False)
    assert fast_commits.commits == slow_commits.commits
    assert fast.recorder.journal == slow.recorder.journal
    assert fast.recorder.ledger == slow.recorder.ledger
    assert [(f.trade, f.qty_after) for f in fast.exchange.fills] == [
        (f.trade, f.qty_after) for f in slow.exchange.fills]
    assert fast_report == slow_report and fast.log.lines == slow.log.lines
    assert fast.looped < fast.points // 2, "most points should be skipped"
    return slow


def _z_at_decisions(result: engine.RunResult, window: int) -> list[float]:
    """|z| at each point where the run opened or closed on the strategy's word."""
    c = result.candles[SYMBOL]
    points = PricePoints(c, result.exchange.market(SYMBOL).price_tick)
    _, _, z, usable = series(window, points.mark_floats())
    times = [points.at(k)[0] for k in range(points.count)]
    out = []
    for at, _, j in result.recorder.journal:
        if j.type == "EntryRequested" or (j.type == "CloseRequested"
                                          and j.data.get("reason") == "mean_reverted"):
            k = times.index(round(at * 1000))
            if usable[k]:
                out.append(abs(float(z[k])))
    return out


def test_an_entry_at_a_z_score_exactly_entry_z_is_not_skipped(tmp_path: Path) -> None:
    """Mutation audit (helper u): `absz <= entry_z` for `absz < entry_z` in the plan's entry
    points (an entry at exactly entry_z skipped) failed no test."""
    slow = _same_run(tmp_path, window=5, entry_z=2.0, exit_z=0.3)
    zs = _z_at_decisions(slow, 5)
    assert zs.count(2.0) >= 20, "no entry at |z| = entry_z exactly"


def test_an_exit_at_a_z_score_exactly_exit_z_is_not_skipped(tmp_path: Path) -> None:
    """Mutation audit (helper u): `absz < exit_z` for `absz <= exit_z` in the plan's exit
    points (an exit at exactly exit_z skipped) failed no test. Window 6: a, a, a, b, b, b
    and the like give |z| = 1.0 exactly."""
    slow = _same_run(tmp_path, window=6, entry_z=2.0, exit_z=1.0)
    zs = _z_at_decisions(slow, 6)
    assert zs.count(1.0) >= 20, "no exit at |z| = exit_z exactly"


def test_an_entry_with_a_24h_volume_exactly_min_volume_is_not_skipped(tmp_path: Path) -> None:
    """Mutation audit (helper u): `volume <= min_volume` for `volume < min_volume` in the
    plan's volume filter (an entry at exactly min_volume skipped) failed no test. The volume
    candles make the 24 h quote volume 0 or exactly 1500: every entry is at 1500."""
    slow = _same_run(tmp_path, window=6, entry_z=1.9, exit_z=0.3, min_volume=1500)
    entries = [at for at, _, j in slow.recorder.journal if j.type == "EntryRequested"]
    assert len(entries) >= 20
    c = slow.candles[SYMBOL]
    volumes = quote_volume_24h(c)
    at_entry = {volumes[c.ts.index(round(at * 1000) // 300_000 * 300_000)] for at in entries}
    assert at_entry == {1500}


class RefusesEverySecondStop:
    """The simulated exchange, refusing every second stop order the core places (client ids
    ending in "s"): the position waits for its stop, with a retry due at `next_stop_at`."""

    def __init__(self, ex: SimExchange) -> None:
        self.ex = ex
        self.stops = 0

    def create_order(self, symbol: str, type: str, side: str, amount: Decimal,
                     price: Decimal | None = None, params: dict[str, Any] | None = None) -> Any:
        if str((params or {}).get("clientOrderId", "")).endswith("s"):
            self.stops += 1
            if self.stops % 2:
                raise RuntimeError("stop refused by the test")
        return self.ex.create_order(symbol, type, side, amount, price, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ex, name)


def _refusing(made: list[RefusesEverySecondStop], ex: SimExchange) -> RefusesEverySecondStop:
    made.append(RefusesEverySecondStop(ex))
    return made[-1]


def test_a_refused_stop_retried_at_its_time_is_not_skipped(tmp_path: Path) -> None:
    """A position whose stop was refused has a quiet band with a time limit (the stop's retry
    at `next_stop_at`): its points are never skipped. Mutation audit (helper u): skipping a
    band with a time limit (backtest/skipping.py:144, `band.until` ignored) failed no test."""
    path = tmp_path / "round.csv"
    write_round_walk(path, 3_000, 1)
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG.format(symbol=SYMBOL, window=5, entry_z=2.0, exit_z=0.3,
                                    min_volume=0))
    settings = load_settings(config)
    candles = C.load(path)
    runs = []
    for skip in (True, False):
        capture = Capture()
        made: list[RefusesEverySecondStop] = []
        result = engine.run(settings, {SYMBOL: candles}, forward=capture, skip_quiet=skip,
                            port=partial(_refusing, made))
        runs.append((result, capture.commits, report.to_json(report.build(result)),
                     made[0].stops))
    (fast, fast_commits, fast_report, fast_stops), (slow, slow_commits, slow_report, _) = runs
    assert fast_commits == slow_commits
    assert fast.recorder.ledger == slow.recorder.ledger
    assert fast_report == slow_report and fast.log.lines == slow.log.lines
    assert fast_stops >= 40 and fast.looped < fast.points  # the rest was skipped


TWO = """
[symbols]
list = ["AAA/USDT:USDT", "BBB/USDT:USDT"]
[strategy]
window = 5
entry_z = 2.0
exit_z = 0.05
min_volatility_pct = 0
[paper]
starting_balance_usdt = 196
[risk]
leverage = 1
order_size_usdt = 100
stop_loss_pct = 20.0
trailing_activation_pct = 30
take_profit_pct = 30.0
max_open_positions = 20
"""


def test_two_symbols_whose_candles_open_off_the_last_close_skip_the_same(
        tmp_path: Path) -> None:
    """The account's margin reads the other symbol's price: when the first symbol decides at
    a candle's open, the second's book must hold its last close, not its own open at that
    same time (which the full replay takes after). On data where every open is off the last
    close and the balance barely fits two positions, that price decides entries.
    Mutation audit (helper u): showing the other symbol its candle's open instead of the
    previous close (backtest/skip_replay.py:76, `4 * m` for `4 * m - 1`) failed no test: on
    the shipped data every open equals the last close."""
    files = {}
    for seed, symbol in enumerate(("AAA/USDT:USDT", "BBB/USDT:USDT"), start=1):
        files[symbol] = tmp_path / f"{seed}.csv"
        write_round_walk(files[symbol], 3_000, seed, gaps=True)
    config = tmp_path / "bot.toml"
    config.write_text(TWO)
    settings = load_settings(config)
    candles = {s: C.load(p) for s, p in files.items()}
    runs = []
    for skip in (True, False):
        capture = Capture()
        result = engine.run(settings, candles, forward=capture, skip_quiet=skip)
        runs.append((result, capture.commits, report.to_json(report.build(result))))
    (fast, fast_commits, fast_report), (slow, slow_commits, slow_report) = runs
    assert fast_commits == slow_commits
    assert fast.recorder.ledger == slow.recorder.ledger
    assert fast_report == slow_report and fast.log.lines == slow.log.lines
    assert fast.looped < fast.points // 2
    refused = [line for line in slow.log.lines if "InsufficientFunds" in line]
    assert len(refused) >= 20, "no entry was refused for margin"
