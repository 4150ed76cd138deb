"""Skipping the price points proved to decide nothing (backtest/skipping.py) changes no decision.

- the strategy's whole-series statistics are bit-identical to feeding `on_price` one price at a
  time, on the shipped real data;
- a one-symbol run with skipping and one without make the very same commits (state before and
  after, last price included, commands, journal, ledger, market time), fills and report, on the
  shipped real data and on a seeded walk, while most points are in fact skipped;
- a price landing exactly on a threshold (a stop's trigger) is not skipped: the stop acts at
  that very point, as without skipping; one tick above it, nothing acts there.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from backtest import candles as C
from backtest import engine, report
from backtest.skipping import PricePoints
from backtest.trades import closed_trades
from config.loader import load_settings
from strategies.mean_reversion import MeanReversion, series
from tests.backtest.capture import Capture
from tests.backtest.test_speed_exactness import write_walk

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
SAMPLE = {"ETHBTC/USDT:USDT": "ETHBTC_USDT_USDT-5m.csv",
          "LTCBTC/USDT:USDT": "LTCBTC_USDT_USDT-5m.csv"}

CONFIG = """
[symbols]
list = ["{symbol}"]
[strategy]
window = 40
entry_z = 2.0
exit_z = 0.3
[risk]
order_size_usdt = 100
stop_loss_pct = 1.0
trailing_activation_pct = 0.4
trailing_callback_pct = 0.3
take_profit_pct = 1.5
cooldown_after_loss_s = 1800
"""




def _run(config: Path, symbol: str, path: Path, *,
         skip: bool) -> tuple[engine.RunResult, Capture, str]:
    capture = Capture()
    result = engine.run(load_settings(config), {symbol: C.load(path)}, forward=capture,
                        skip_quiet=skip)
    rep = report.build(result)
    return result, capture, report.to_json(rep)


def _same_run(config: Path, symbol: str, path: Path) -> engine.RunResult:
    fast, fast_commits, fast_report = _run(config, symbol, path, skip=True)
    slow, slow_commits, slow_report = _run(config, symbol, path, skip=False)
    assert slow.looped == slow.points  # without skipping every point is looped
    assert fast.recorder.decisions == len([c for c in fast_commits.commits if len(c) == 7])
    assert fast_commits.commits == slow_commits.commits
    assert fast.recorder.journal == slow.recorder.journal
    assert fast.recorder.ledger == slow.recorder.ledger
    assert fast.recorder.escalations == slow.recorder.escalations
    assert [(f.trade, f.qty_after, f.entry_after) for f in fast.exchange.fills] == [
        (f.trade, f.qty_after, f.entry_after) for f in slow.exchange.fills]
    assert fast_report == slow_report
    assert fast.log.lines == slow.log.lines
    return fast


def test_the_strategy_series_is_bit_identical_to_on_price_on_real_data() -> None:
    c = C.load(DATA / SAMPLE["ETHBTC/USDT:USDT"])
    points = PricePoints(c, Decimal("0.0000001"))
    prices = points.mark_floats()
    strategy = MeanReversion(window=40, entry_z=2.0, exit_z=0.3, min_volatility_pct=0.0)
    total, squares, z, usable = series(40, prices)
    zs = []
    for k in range(points.count):
        _, _, mark, _ = points.at(k)
        assert float(mark) == prices[k]
        strategy._push(float(mark))
        assert (strategy._sum, strategy._sumsq) == (total[k], squares[k]), k
        zs.append(strategy.zscore())
    assert [v is not None for v in zs] == usable.tolist()
    assert all(a == b for a, b in zip(zs, z.tolist(), strict=True) if a is not None)
    assert usable.sum() > points.count - 100


@pytest.mark.parametrize("symbol", sorted(SAMPLE))
def test_skipping_changes_no_decision_on_the_shipped_real_data(tmp_path: Path,
                                                               symbol: str) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG.format(symbol=symbol))
    fast = _same_run(config, symbol, DATA / SAMPLE[symbol])
    assert len(closed_trades(fast.recorder)) > 200
    reasons = {t.reason for t in closed_trades(fast.recorder)}
    assert {"stop_loss", "trailing_stop", "mean_reverted"} <= reasons, reasons
    assert fast.looped < fast.points // 3, "most points should be skipped"


def test_skipping_changes_no_decision_on_a_seeded_walk(tmp_path: Path) -> None:
    symbol = "AAA/USDT:USDT"
    path = tmp_path / "walk.csv"
    write_walk(path, 8_000, seed=5, start=100.0)
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG.format(symbol=symbol))
    fast = _same_run(config, symbol, path)
    assert len(closed_trades(fast.recorder)) > 300
    assert fast.looped < fast.points // 3


def _stop_at_a_low(config: Path, symbol: str, path: Path) -> tuple[int, Decimal, Decimal]:
    """(line in the file, trigger price, price tick) of the first candle whose low, and only
    its low, was at or below a resting long stop's trigger that fired there."""
    result, _, _ = _run(config, symbol, path, skip=False)
    ex = result.exchange
    c = C.load(path)
    for fill in ex.fills:
        order = ex.fetch_order(None, symbol, {"clientOrderId": fill.trade.client_order_id})
        trigger = order.trigger_price
        if trigger is None or order.side != "sell":
            continue
        i = c.ts.index(fill.trade.ts - fill.trade.ts % c.timeframe_ms)
        if c.open[i] > trigger and c.close[i] > trigger and c.high[i] > trigger:
            return i + 2, trigger, ex.market(symbol).price_tick  # header, then 1-based
    raise AssertionError("no long stop fired at a candle's low in the data")


@pytest.mark.parametrize("above_by_ticks", [0, 1])
def test_a_price_exactly_on_a_stop_trigger_is_not_skipped(tmp_path: Path,
                                                          above_by_ticks: int) -> None:
    symbol = "ETHBTC/USDT:USDT"
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG.format(symbol=symbol))
    source = DATA / SAMPLE[symbol]
    line, trigger, tick = _stop_at_a_low(config, symbol, source)
    low = trigger + above_by_ticks * tick
    rows = source.read_text().splitlines()[:line + 200]
    cells = rows[line - 1].split(",")
    cells[3] = str(low)  # the low lands exactly on the trigger (or one tick above it)
    rows[line - 1] = ",".join(cells)
    edited = tmp_path / "edited.csv"
    edited.write_text("\n".join(rows) + "\n")
    fast = _same_run(config, symbol, edited)
    candle_ts = int(cells[0])
    ex = fast.exchange
    stops = [f for f in ex.fills if candle_ts <= f.trade.ts < candle_ts + 300_000
             and ex.fetch_order(None, symbol, {"clientOrderId": f.trade.client_order_id})
             .trigger_price == trigger]
    if above_by_ticks == 0:  # at the low point (the second of an up candle, else the third)
        low_point = candle_ts + (1 if Decimal(cells[4]) >= Decimal(cells[1]) else 2) * 75_000
        assert [f.trade.ts for f in stops] == [low_point]
        assert stops[0].qty_after == 0
    else:
        assert stops == []


def test_a_resting_order_bounds_the_skip_even_where_the_band_is_quiet(tmp_path: Path) -> None:
    from backtest.skipping import SkipPlan
    from exchange.paper.models import OrderRec
    from trading.model import Phase
    from trading.quiet_band import ALWAYS_QUIET

    path = tmp_path / "walk.csv"
    write_walk(path, 400, seed=9, start=100.0)
    points = PricePoints(C.load(path, timeframe_ms=60_000), Decimal("0.01"))
    plan = SkipPlan(points, MeanReversion(window=40, entry_z=50.0, exit_z=0.0,
                                          min_volatility_pct=0.0))
    assert plan.may_enter == []  # |z| never reaches 50: only the order can stop the skip

    class Flat:
        position = None
        phase = Phase.FLAT

    marks = [points.at(i)[2] for i in range(points.count)]
    for direction, extreme in (("below", min), ("above", max)):
        mark = extreme(marks[100:])
        k = marks.index(mark, 100)  # the first point at the extreme: exactly on the trigger
        order = OrderRec(seq=1, id="1", client_order_id="x", symbol="S", type="market",
                         side="sell", amount=Decimal(1), price=None, reduce_only=True,
                         created_ms=0, trigger_price=mark, trigger_direction=direction)
        assert plan.horizon(100, Flat(), ALWAYS_QUIET, [order]) == k
    assert plan.horizon(100, Flat(), ALWAYS_QUIET, []) == points.count


@pytest.mark.parametrize("tick", ["0.0000001", "0.00001", "0.001", "0.0005", "0.0001"])
def test_the_float_marks_are_the_marks_of_the_path(tick: str) -> None:
    """Where the tick rounds the data's prices (a coarse tick) as where it does not."""
    c = C.load(DATA / SAMPLE["ETHBTC/USDT:USDT"])
    assert c.price_floats is not None  # the reader's floats (backtest/candle_cache.py) ...
    points = PricePoints(c, Decimal(tick))
    floats = points.mark_floats().tolist()
    marks = [points.at(k)[2] for k in range(points.count)]
    assert floats == [float(m) for m in marks]
    assert len(set(marks)) > 5
    # ... and the plan's own conversion of the Decimals, for candles without them
    bare = PricePoints(dataclasses.replace(c, price_floats=None), Decimal(tick))
    assert bare.mark_floats().tolist() == floats


TWO = """
[symbols]
list = ["ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"]
[strategy]
window = 40
entry_z = 2.0
exit_z = 0.3
[paper]
starting_balance_usdt = {balance}
[risk]
leverage = 1
order_size_usdt = 100
stop_loss_pct = 1.0
trailing_activation_pct = 0.4
trailing_callback_pct = 0.3
take_profit_pct = 1.5
cooldown_after_loss_s = 1800
max_open_positions = {cap}
"""


@pytest.mark.parametrize(("balance", "cap"), [(10_000, 20), (10_000, 1), (195, 20)])
def test_two_symbols_skipping_changes_no_decision(tmp_path: Path, balance: int,
                                                  cap: int) -> None:
    """One account, one gate: with a balance that barely fits two positions (195 USDT, 100 USDT
    positions at leverage 1), whether an entry is refused depends on the other symbol's
    unrealized P&L, so on its price at that very point."""
    config = tmp_path / "bot.toml"
    config.write_text(TWO.format(balance=balance, cap=cap))
    candles = {s: C.load(DATA / name) for s, name in SAMPLE.items()}
    runs = []
    for skip in (True, False):
        capture = Capture()
        result = engine.run(load_settings(config), candles, forward=capture, skip_quiet=skip)
        rep = report.build(result)
        runs.append((result, capture.commits, report.to_json(rep)))
    (fast, fast_commits, fast_report), (slow, slow_commits, slow_report) = runs
    assert fast_commits == slow_commits
    assert [(f.trade, f.qty_after) for f in fast.exchange.fills] == [
        (f.trade, f.qty_after) for f in slow.exchange.fills]
    assert fast_report == slow_report and fast.log.lines == slow.log.lines
    assert fast.looped < fast.points // 3 and slow.looped == slow.points
    if balance < 1000:
        refused = [line for line in fast.log.lines if "InsufficientFunds" in line]
        assert len(refused) >= 5, "no entry was refused for margin"



def test_may_leave_is_where_on_price_exits_also_where_the_window_goes_flat(
        tmp_path: Path) -> None:
    """With a position, the points the plan may stop at for the strategy are exactly those where
    `on_price` signals the exit, flat windows included (zero variance: the price is at its mean,
    strategies/mean_reversion.py), so a skip never runs past a flat window's exit."""
    from backtest.skipping import SkipPlan
    from trading.model import Side

    walk = tmp_path / "walk.csv"
    write_walk(walk, 1_200, seed=5, start=100.0)
    rows = walk.read_text().splitlines()
    out = [rows[0]]
    for i, row in enumerate(rows[1:], start=1):
        cells = row.split(",")
        if (i // 150) % 2 == 1:  # every other 150 candles: flat at the last close
            cells[1:5] = [out[-1].split(",")[4]] * 4
        out.append(",".join(cells))
    path = tmp_path / "flat.csv"
    path.write_text("\n".join(out) + "\n")
    points = PricePoints(C.load(path, timeframe_ms=60_000), Decimal("0.01"))
    args = {"window": 40, "entry_z": 2.0, "exit_z": 0.1, "min_volatility_pct": 0.0}
    plan, strategy = SkipPlan(points, MeanReversion(**args)), MeanReversion(**args)
    exits = [k for k in range(points.count)
             if strategy.on_price(points.at(k)[2], None, 0.0, Side.LONG) is not None]
    assert exits == plan.may_leave
    flat = [k for k in exits if len(set(plan.prices[k - 39:k + 1])) == 1]
    assert len(flat) > 100  # the flat windows' points are among them
