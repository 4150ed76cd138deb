"""The report's time-based metrics, hand-checked through the whole backtest (engine, simulated
exchange, the one-way core) with a scripted strategy: exposure counts a position still open at
the end, max drawdown starts from the starting balance, and daily Sharpe / Sortino take the
first day's return from the starting balance and put a candle in the day it traded; with mixed
timeframes a position is valued only at prices already replayed (and the chart draws each close
when it is replayed); a calendar day without candles is a flat day.

Market TEST/USDT:USDT opens at 100: tick 0.01, amount step 0.001; no slippage, taker fee
0.055 %, 100 USDT per entry = 1 contract at 100, starting balance 10,000. Hourly candles from
a UTC midnight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backtest import candles as C
from backtest import charts, engine, metrics, report
from backtest.trades import Trade, closed_trades
from config.loader import load_settings
from trading.events import SignalRaised
from trading.model import Side

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_700_000_000_000 - 1_700_000_000_000 % DAY  # 2023-11-14 00:00 UTC
SYMBOL = "TEST/USDT:USDT"
FEE = Decimal("0.00055")


class Script:
    """A long entry at `enter` and a strategy exit at `leave` (market times, seconds)."""

    name = "scripted"

    def __init__(self, enter: float, leave: float | None = None) -> None:
        self.enter, self.leave = enter, leave

    def on_price(self, price: Decimal, volume: Decimal | None, now: float,
                 position: Side | None) -> SignalRaised | None:
        if position is None and now == self.enter:
            return SignalRaised(side=Side.LONG, reason="scripted")
        if position is not None and now == self.leave:
            return SignalRaised(side=None, reason="scripted_exit")
        return None


def _summary(tmp: Path, rows: Sequence[tuple[float, float, float, float]],
             strategy: Script) -> dict[str, Any]:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * HOUR},{o},{h},{lo},{c},10" for i, (o, h, lo, c) in enumerate(rows)]
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp / "bot.toml").write_text(
        f'[symbols]\nlist = ["{SYMBOL}"]\n[paper]\nslippage_bps = 0\ntaker_fee = {FEE}\n'
        "[risk]\norder_size_usdt = 100\nstop_loss_pct = 1.0\ntrailing_activation_pct = 50\n")
    result = engine.run(load_settings(tmp / "bot.toml"), {SYMBOL: C.load(tmp / "t.csv")},
                        strategy_for=lambda symbol: strategy)
    return report.build(result)["summary"]


@pytest.mark.parametrize(("entry_hour", "share"), [(0, 100.0), (4, 60.0)])
def test_a_position_open_at_the_end_counts_until_the_end(tmp_path: Path, entry_hour: int,
                                                         share: float) -> None:
    """Ten flat hours; a long opened at an hour's open, never closed: exposed from then on."""
    s = _summary(tmp_path, [(100, 100, 100, 100)] * 10, Script((T0 + entry_hour * HOUR) / 1000))
    assert (s["trades"], s["open_at_end"]) == (0, 1)
    assert s["exposure_pct"] == pytest.approx(share)


def test_a_loss_in_the_first_candle_is_a_drawdown_from_the_starting_balance(
        tmp_path: Path) -> None:
    """Long at 100 at the first open; the first candle (down: O-H-L-C) falls to 98, where the
    stop (99) acts at that point's price: -2 and the fees (100 and 98 x 0.055 %)."""
    rows = [(100, 100.5, 98, 99.5)] + [(99.5, 99.5, 99.5, 99.5)] * 5
    s = _summary(tmp_path, rows, Script(T0 / 1000))
    loss = Decimal(-2) - (Decimal(100) + Decimal(98)) * FEE
    assert s["net_pnl"] == loss
    assert float(s["max_drawdown"]) == pytest.approx(float(loss))
    assert s["max_drawdown_pct"] == pytest.approx(float(loss) / 10_000 * 100)


def test_daily_ratios_take_every_whole_day_from_the_starting_balance(tmp_path: Path) -> None:
    """Three whole days of hourly candles: long at 100 at the first open, out at 110 at 22:00
    of day one (+10 less fees), flat afterwards. Three daily returns: the first from the
    starting balance, then two of 0 (the candle closing at midnight belongs to the day it
    traded, so there is no fourth day)."""
    rows = [(100, 100, 100, 100)] + [(110, 110, 110, 110)] * 71
    s = _summary(tmp_path, rows, Script(T0 / 1000, (T0 + 22 * HOUR) / 1000))
    net = Decimal(10) - (Decimal(100) + Decimal(110)) * FEE
    assert s["net_pnl"] == net
    first = float(net) / 10_000
    rets = [first, 0.0, 0.0]
    mean = sum(rets) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in rets) / 2)
    assert s["sharpe_daily"] == pytest.approx(mean / std * math.sqrt(365))
    assert s["sortino_daily"] is None  # no losing day


class Plan:
    """Long entries at the times in `enter`, strategy exits at the times in `leave` (seconds)."""

    name = "planned"

    def __init__(self, enter: Sequence[float] = (), leave: Sequence[float] = ()) -> None:
        self.enter, self.leave = set(enter), set(leave)

    def on_price(self, price: Decimal, volume: Decimal | None, now: float,
                 position: Side | None) -> SignalRaised | None:
        if position is None and now in self.enter:
            return SignalRaised(side=Side.LONG, reason="planned")
        if position is not None and now in self.leave:
            return SignalRaised(side=None, reason="planned_exit")
        return None


def _run(tmp: Path, files: dict[str, tuple[int, list[tuple[int, tuple[float, ...]]]]],
         plans: dict[str, Plan]) -> Any:
    """Each symbol's (timeframe ms, [(open time ms, (o, h, l, c))]) through engine.run."""
    for i, (_, (_tf, rows)) in enumerate(files.items()):
        lines = ["timestamp,open,high,low,close,volume"]
        lines += [f"{ts},{','.join(map(str, ohlc))},10" for ts, ohlc in rows]
        (tmp / f"{i}.csv").write_text("\n".join(lines) + "\n")
    symbols = ", ".join(f'"{s}"' for s in files)
    (tmp / "bot.toml").write_text(
        f"[symbols]\nlist = [{symbols}]\n[paper]\nslippage_bps = 0\ntaker_fee = {FEE}\n"
        "[risk]\norder_size_usdt = 100\nstop_loss_pct = 10.0\ntrailing_activation_pct = 50\n")
    candles = {s: C.load(tmp / f"{i}.csv", timeframe_ms=tf)
               for i, (s, (tf, _)) in enumerate(files.items())}
    return engine.run(load_settings(tmp / "bot.toml"), candles,
                      strategy_for=lambda symbol: plans[symbol])


def test_mixed_timeframes_value_a_position_only_at_prices_already_replayed(
        tmp_path: Path) -> None:
    """Found by review: with a 15m symbol next to a 1h one, every 15m step valued the hourly
    position at the hour's close, known only when the hour ends. Long 1 at 100 at the first
    open of the 1h symbol, whose first candle (up: O-L-H-C) replays 100, 98.5, 103, 102 at
    :00, :15, :30, :45. At the 15m steps' ends (:15, :30, :45, :60) the position is worth the
    last point before: 100, 98.5, 103, 102 (not 102 throughout): max drawdown is the entry fee
    (0.055) plus 1.5 at :30 (valued at the close it was 1.0, from 103 to 102)."""
    quarter = HOUR // 4
    hourly = [(T0, (100, 103, 98.5, 102)), (T0 + HOUR, (102, 102, 102, 102))]
    flat = [(T0 + i * quarter, (50, 50, 50, 50)) for i in range(8)]
    result = _run(tmp_path, {SYMBOL: (HOUR, hourly), "FLAT/USDT:USDT": (quarter, flat)},
                  {SYMBOL: Plan([T0 / 1000]), "FLAT/USDT:USDT": Plan()})
    eq = metrics.equity_curve(result)
    fee = float(100 * FEE)
    assert eq.ts_ms.tolist() == [T0 + i * quarter for i in range(9)]
    assert eq.equity.tolist()[:5] == pytest.approx(
        [10_000, 10_000 - fee, 10_000 - fee - 1.5, 10_000 - fee + 3, 10_000 - fee + 2])
    s = report.build(result)["summary"]
    assert float(s["max_drawdown"]) == pytest.approx(-fee - 1.5)
    assert s["max_drawdown_pct"] == pytest.approx((-fee - 1.5) / 10_000 * 100)


def test_the_curve_reaches_the_end_of_a_longer_timeframes_data(tmp_path: Path) -> None:
    """Found by review: the curve was taken at each candle's open + the shortest timeframe
    only, so with a 15m symbol whose data ends after one hour next to a 1h symbol running
    three (--allow-gaps), it ended at 2:15: a long at 110 at 2:00 out at 110 + 10 at 2:45
    was in the net P&L but not in the final equity, and `open_pnl` said -10 with no
    position open. Hourly candles 100 -> 110 (up: O-L-H-C)."""
    quarter = HOUR // 4
    hourly = [(T0 + h * HOUR, (100, 110, 100, 110)) for h in range(3)]
    short = [(T0 + i * quarter, (50, 50, 50, 50)) for i in range(4)]
    plans = {SYMBOL: Plan([(T0 + 2 * HOUR) / 1000], [(T0 + 2 * HOUR + 3 * quarter) / 1000]),
             "B/USDT:USDT": Plan()}
    result = _run(tmp_path, {SYMBOL: (HOUR, hourly), "B/USDT:USDT": (quarter, short)}, plans)
    s = report.build(result)["summary"]
    assert (s["trades"], s["open_at_end"]) == (1, 0)
    assert s["net_pnl"] == 10 - (100 + 110) * FEE
    assert s["final_equity"] == 10_000 + s["net_pnl"]  # exact
    assert s["open_pnl"] == 0
    assert metrics.equity_curve(result).ts_ms[-1] == T0 + 3 * HOUR


def test_a_day_without_candles_is_a_flat_day_in_the_daily_ratios(tmp_path: Path) -> None:
    """Found by review: a calendar day with no candles (a hole, run with --allow-gaps) was
    dropped, so the return across it (two days) counted as one day's. Hourly candles on days
    1 and 3, none on day 2: long at 100 at day 1's first open, out at 110 at 22:00 (a win);
    long at 110 at day 3's first open, out at 105 at 22:00 (a loss). Three daily returns:
    day 1's from the starting balance, 0 for day 2 (no price, no change), day 3's."""
    rows = [(T0, (100, 100, 100, 100))] + [(T0 + h * HOUR, (110,) * 4) for h in range(1, 24)]
    day3 = T0 + 2 * DAY
    rows += [(day3, (110,) * 4)] + [(day3 + h * HOUR, (105,) * 4) for h in range(1, 24)]
    plan = Plan([T0 / 1000, day3 / 1000], [(T0 + 22 * HOUR) / 1000, (day3 + 22 * HOUR) / 1000])
    result = _run(tmp_path, {SYMBOL: (HOUR, rows)}, {SYMBOL: plan})
    rep = report.build(result)
    win, loss = (Decimal(t["net_pnl"]) for t in rep["trades"])
    assert win > 0 > loss
    rets = [float(win) / 10_000, 0.0, float(loss) / float(10_000 + win)]
    mean = sum(rets) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in rets) / 2)
    s = rep["summary"]
    assert s["sharpe_daily"] == pytest.approx(mean / std * math.sqrt(365))
    assert s["sortino_daily"] == pytest.approx(mean / math.sqrt(rets[2] ** 2 / 3) * math.sqrt(365))


def test_the_chart_draws_each_close_when_it_is_replayed(tmp_path: Path) -> None:
    """The chart's price line of a 1h symbol: each close at open + 45 min, when the replay
    reaches it, not at the hour's open (before the trades inside the hour)."""
    hourly = [(T0 + h * HOUR, (100, 101, 99, 100.5)) for h in range(3)]
    result = _run(tmp_path, {SYMBOL: (HOUR, hourly)}, {SYMBOL: Plan()})
    fig = charts.figure(result, metrics.equity_curve(result), [])
    line = next(t for t in fig.data if t.name == f"{SYMBOL} close")
    assert [str(x) for x in line.x] == [
        str(np.datetime64(T0 + h * HOUR + 45 * 60_000, "ms")) for h in range(3)]


def test_the_chart_file_is_the_same_bytes_for_the_same_run(tmp_path: Path) -> None:
    """Found by review: plotly named the chart's element with a random uuid, so chart.html
    differed on every run of the same input."""
    hourly = [(T0 + h * HOUR, (100, 101, 99, 100.5)) for h in range(3)]
    result = _run(tmp_path, {SYMBOL: (HOUR, hourly)}, {SYMBOL: Plan([T0 / 1000])})
    eq = metrics.equity_curve(result)
    first = tmp_path / "a"
    second = tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        charts.write(folder, result, eq, [])
    assert (first / "chart.html").read_bytes() == (second / "chart.html").read_bytes()


def _grid(tmp: Path, rows: Sequence[tuple[float, float, float, float]]) -> Any:
    """The hedge grid on hourly `rows`: one level 1 % away, take-profit 0.5 %, stop 3 %."""
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * HOUR},{o},{h},{lo},{c},10" for i, (o, h, lo, c) in enumerate(rows)]
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp / "bot.toml").write_text(
        f'[exchange]\nhedge_mode = true\n[symbols]\nlist = ["{SYMBOL}"]\n'
        '[strategy]\nname = "hedge_grid"\n[strategy.grid]\nlevels = 1\nstep_pct = 1\n'
        "take_profit_pct = 0.5\nrecalc_pct = 2\n"
        f"[paper]\nslippage_bps = 0\ntaker_fee = {FEE}\n"
        "[risk]\norder_size_usdt = 100\nstop_loss_pct = 3.0\n")
    return engine.run(load_settings(tmp / "bot.toml"), {SYMBOL: C.load(tmp / "t.csv")})


def test_the_chart_draws_each_grid_legs_stop_as_its_own_line(tmp_path: Path) -> None:
    """Found by review: the hedge grid's two legs' stops (long 3 % below, short 3 % above)
    were one step line, jumping between the two levels, and one leg's close broke the other's
    line. Flat at 100: both legs open at 100, their stops rest at 97 and 103."""
    result = _grid(tmp_path, [(100, 100, 100, 100)] * 3)
    fig = charts.figure(result, metrics.equity_curve(result), [])
    stops = {t.name: list(t.y) for t in fig.data if "stop" in t.name}
    # each drawn to the end of the data (found by review: a lone point, which a line does not show)
    assert stops == {f"{SYMBOL} stop long": [97.0, 97.0], f"{SYMBOL} stop short": [103.0, 103.0]}


def _markers(result: Any) -> dict[str, list[tuple[np.datetime64, float]]]:
    fig = charts.figure(result, metrics.equity_curve(result), closed_trades(result.recorder))
    return {t.name.split()[-1]: [(np.datetime64(x, "ms"), y) for x, y in zip(t.x, t.y, strict=True)]
            for t in fig.data if t.name.endswith(("entries", "exits"))}


def _at(ms: int) -> np.datetime64:
    return np.datetime64(ms, "ms")


def test_the_chart_marks_the_entry_of_a_position_open_at_the_end(tmp_path: Path) -> None:
    """Found by review: the markers came from closed trades only, so a position still open at
    the end had no entry on the chart. Long at 100 at the first open, never closed."""
    rows = [(T0 + h * HOUR, (100, 100, 100, 100)) for h in range(3)]
    result = _run(tmp_path, {SYMBOL: (HOUR, rows)}, {SYMBOL: Plan([T0 / 1000])})
    assert _markers(result) == {"entries": [(_at(T0), 100.0)], "exits": []}


def test_the_chart_marks_every_grid_fill_at_its_own_time_and_price(tmp_path: Path) -> None:
    """Found by review: a grid leg's one entry marker sat at the leg's opening time at its
    average entry, its averaging levels included (99.5 at the first moment, where 100 traded),
    and the averaging fill had none. Both legs open at 100 just before the first candle; the
    fourth candle (down: O-H-L-C, 100, 100, 96, 96) reaches 96 at 3:30: the short's
    take-profit fills at 99.5, the long's level at 99, then its stop (97, sized for the leg and
    the level) closes the two contracts at 96, in the order the fall reaches them (before the
    paper matcher acted in path order, the older stop closed the leg first, the level opened a
    new one and the bot closed it); both legs reopen at 96 at the next point (3:45)."""
    down = T0 + 3 * HOUR + 30 * 60_000
    result = _grid(tmp_path, [(100, 100, 100, 100)] * 3 + [(100, 100, 96, 96)] + [(96,) * 4] * 3)
    marks = _markers(result)
    assert marks["entries"] == [(_at(T0 - 1), 100.0), (_at(T0 - 1), 100.0), (_at(down), 99.0),
                                (_at(down + 15 * 60_000), 96.0), (_at(down + 15 * 60_000), 96.0)]
    assert marks["exits"] == [(_at(down), 99.5), (_at(down), 96.0)]


def test_a_grid_legs_stop_and_bot_close_are_stops_in_the_exit_table(tmp_path: Path) -> None:
    """The scenario above: the short leg's take-profit fills at 99.5, the long leg's stop (97)
    takes it out at 96. The exit table says take-profit and stop, and a bot's close after a
    crossed stop (the core's reason `stop_loss_bot`) is a stop too (found by mutation audit:
    labelling `stop_loss_bot` a trailing stop, or a take-profit a strategy exit, failed no
    test). This scenario made that bot close itself until the paper matcher acted in path order
    (the older stop closed the leg before its level filled); the label is now checked on the
    stop's trade with that reason."""
    result = _grid(tmp_path, [(100, 100, 100, 100)] * 3 + [(100, 100, 96, 96)] + [(96,) * 4] * 3)
    rep = report.build(result)
    assert [(t["side"], t["reason"], t["exit"]) for t in rep["trades"]] == [
        ("short", "take_profit", "take-profit"), ("long", "stop_loss", "stop")]
    by_exit = rep["per_exit_reason"]
    assert {k: (r["trades"], r["wins"]) for k, r in by_exit.items()} == {
        "stop": (1, 0), "take-profit": (1, 1)}
    assert by_exit["stop"]["net_pnl"] == Decimal(rep["trades"][1]["net_pnl"]) < 0
    assert by_exit["take-profit"]["fees"] == Decimal(rep["trades"][0]["fees"])
    stop = next(t for t in closed_trades(result.recorder) if t.reason == "stop_loss")
    assert replace(stop, reason="stop_loss_bot").exit_kind == "stop"


def test_trade_figures_match_a_hand_computation_across_two_symbols(tmp_path: Path) -> None:
    """Hourly candles, ten hours. TEST: long 1 at 100 (0:00) out at 101 (2:00): +1 less fees
    0.11055 = +0.88945; long 1 at 100 (3:00) out at 100.05 (5:00): +0.05 less fees 0.1100275,
    a loss after fees. B (flat at 50): long 2 at 1:00 out at 4:00: -0.11 (fees). Exposure
    0:00..5:00 of 10 h (overlaps count once); streak 2 (closes at 4:00 and 5:00, across
    symbols); the deepest fall is from the peak at 3:00 (the win, less B's entry fee 0.055:
    10,000.83445) to 10,000.7194225, in % of that peak, not of the starting balance."""
    a = [(T0 + h * HOUR, (p,) * 4) for h, p in enumerate([100, 100, 101, 100, 100] + [100.05] * 5)]
    b = [(T0 + h * HOUR, (50,) * 4) for h in range(10)]
    plans = {SYMBOL: Plan([T0 / 1000, (T0 + 3 * HOUR) / 1000],
                          [(T0 + 2 * HOUR) / 1000, (T0 + 5 * HOUR) / 1000]),
             "B/USDT:USDT": Plan([(T0 + HOUR) / 1000], [(T0 + 4 * HOUR) / 1000])}
    rep = report.build(_run(tmp_path, {SYMBOL: (HOUR, a), "B/USDT:USDT": (HOUR, b)}, plans))
    s = rep["summary"]
    win, loss_b, loss_a = Decimal("0.88945"), Decimal("-0.11"), Decimal("-0.0600275")
    assert [Decimal(t["net_pnl"]) for t in rep["trades"]] == [win, loss_b, loss_a]
    assert (s["trades"], s["win_rate"], s["net_pnl"]) == (3, 1 / 3, win + loss_b + loss_a)
    assert s["fees"] == Decimal("0.11055") + Decimal("0.11") + Decimal("0.1100275")
    assert s["profit_factor"] == pytest.approx(float(win / -(loss_b + loss_a)))
    assert s["exposure_pct"] == pytest.approx(50.0)
    assert s["avg_hold_s"] == pytest.approx((2 + 3 + 2) * 3600 / 3)
    assert s["longest_losing_streak"] == 2
    peak, low = 10_000 + float(win) - 0.055, 10_000 + float(win + loss_b + loss_a)
    assert float(s["max_drawdown"]) == pytest.approx(low - peak)
    assert s["max_drawdown_pct"] == pytest.approx((low - peak) / peak * 100)
    assert rep["per_symbol"][SYMBOL]["net_pnl"] == win + loss_a
    assert rep["per_exit_reason"]["strategy exit"]["trades"] == 3


def test_a_long_chart_still_draws_the_deepest_drawdown(tmp_path: Path) -> None:
    """Found by review: a series longer than the chart's point budget was thinned by an even
    stride, which skipped the deepest drawdown (the chart did not show the reported maximum).
    An equity curve of three times the budget, flat at 10,000 but one step at 9,900, at an
    index no stride of 3 keeps."""
    n = 3 * charts.MAX_POINTS + 1
    equity = np.full(n, 10_000.0)
    equity[n // 2 + 1] = 9_900.0
    assert (n // 2 + 1) % 3 != 0
    eq = metrics.Equity(ts_ms=T0 + np.arange(n, dtype=np.int64) * 60_000, equity=equity,
                        drawdown=equity - np.maximum.accumulate(equity))
    rows = [(T0 + h * HOUR, (100, 100, 100, 100)) for h in range(3)]
    fig = charts.figure(_run(tmp_path, {SYMBOL: (HOUR, rows)}, {SYMBOL: Plan()}), eq, [])
    drawn = {t.name: t for t in fig.data}
    assert min(drawn["drawdown"].y) == -100.0
    assert min(drawn["equity"].y) == 9_900.0
    assert len(drawn["equity"].y) <= charts.MAX_POINTS


def test_the_report_says_what_an_open_position_adds_to_the_final_equity(tmp_path: Path) -> None:
    """Found by review: a position still open at the end was in the final equity (valued at
    the last price) but not in the net P&L, and the report did not say by how much they
    differed. Long 1 at 100 at the first open, 101 at the end, never closed: the final equity
    is 10,000 + 1 - 0.055 (its entry fee), the net P&L 0, and the report says 0.945 of it
    comes from the open position."""
    rows = [(T0, (100,) * 4), (T0 + HOUR, (100,) * 4), (T0 + 2 * HOUR, (101,) * 4)]
    rep = report.build(_run(tmp_path, {SYMBOL: (HOUR, rows)}, {SYMBOL: Plan([T0 / 1000])}))
    s = rep["summary"]
    assert (s["net_pnl"], s["open_at_end"]) == (0, 1)
    assert s["final_equity"] == Decimal("10000.945")  # exact Decimal, not a float
    assert s["open_pnl"] == Decimal("0.945")
    line = next(x for x in report.render(rep).splitlines() if "open at the end" in x)
    assert "1 (0.94 USDT, not in net P&L)" in line or "1 (0.95 USDT, not in net P&L)" in line


def test_a_short_average_hold_reads_in_minutes(tmp_path: Path) -> None:
    """Found by review: the average hold was printed in hours with one decimal, so a hold of
    two minutes read "0.0 h". Long at 100 at the first open of 1-minute candles, out at the
    third open: two minutes."""
    minute = 60_000
    rows = [(T0 + i * minute, (100, 100, 100, 100)) for i in range(5)]
    rep = report.build(_run(tmp_path, {SYMBOL: (minute, rows)},
                            {SYMBOL: Plan([T0 / 1000], [(T0 + 2 * minute) / 1000])}))
    assert rep["summary"]["avg_hold_s"] == pytest.approx(120.0)
    line = next(x for x in report.render(rep).splitlines() if "average hold" in x)
    assert "2.0 min" in line


def test_the_text_report_shows_the_fees_and_an_hours_long_hold_in_hours(tmp_path: Path) -> None:
    """Long 1 at 100 at the first open of hourly candles, out at 101 at the fourth open: held
    3 hours; fees 0.11055 (100 x 0.055 % + 101 x 0.055 %), net +0.88945. The text report's
    rows say so (found by mutation audit: the fees row showing the net P&L, or an average hold
    of hours printed as minutes with an "h", "180.0 h", failed no test)."""
    rows = [(T0 + h * HOUR, (p,) * 4) for h, p in enumerate([100, 100, 100, 101, 101])]
    rep = report.build(_run(tmp_path, {SYMBOL: (HOUR, rows)},
                            {SYMBOL: Plan([T0 / 1000], [(T0 + 3 * HOUR) / 1000])}))
    s = rep["summary"]
    assert (s["fees"], s["net_pnl"]) == (Decimal("0.11055"), Decimal("0.88945"))
    assert s["avg_hold_s"] == pytest.approx(3 * 3600.0)
    text = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in report.render(rep).splitlines() if line.count("│") == 3}
    assert text["fees"] in ("0.1105 USDT", "0.1106 USDT")  # the float's rounding of ...55
    assert text["net P&L (after fees)"] in ("0.8894 USDT", "0.8895 USDT")
    assert text["average hold"] == "3.0 h"


def test_a_position_found_closed_on_the_exchange_is_not_a_strategy_exit():
    """A close the core records as 'closed_on_exchange' (reconciliation found the position gone:
    its stop filled while no one looked, a liquidation, a close by hand) was labelled 'strategy
    exit' like the strategy's own exits; it has its own row now."""
    from decimal import Decimal as D

    from backtest.trades import Trade

    trade = Trade(symbol="BTC/USDT:USDT", position_id="p", side="long", opened_at=0.0,
                  closed_at=60.0, contracts=D(1), entry_price=D(100), exit_price=D(99),
                  gross=D(-1), fees=D("0.1"), net=D("-1.1"), reason="closed_on_exchange")
    assert trade.exit_kind == "closed on exchange"
    assert replace_reason(trade, "mean_reverted").exit_kind == "strategy exit"


def replace_reason(trade, reason):  # noqa: ANN001, ANN201
    from dataclasses import replace

    return replace(trade, reason=reason)


def test_the_longest_losing_streak_is_counted_in_a_row_a_win_or_a_draw_ends_it() -> None:
    """Found by a mutation audit (session 41): with the count not reset by a win, only the
    long run's report hash (test_speed_exactness) failed, naming no figure; here the figure.
    Net P&L in close order: -1, +2, -1, -1, 0, -3, -2: the longest run of losses is 2 (a
    break-even trade is no loss and ends a streak too)."""
    def trade(n: int, net: str) -> Trade:
        return Trade(symbol=SYMBOL, position_id=f"p{n}", side="long", opened_at=n * 60.0,
                     closed_at=n * 60.0 + 30, contracts=Decimal(1), entry_price=Decimal(100),
                     exit_price=Decimal(100) + Decimal(net), gross=Decimal(net),
                     fees=Decimal(0), net=Decimal(net), reason="mean_reverted")

    nets = ["-1", "2", "-1", "-1", "0", "-3", "-2"]
    assert metrics.longest_losing_streak([trade(n, v) for n, v in enumerate(nets)]) == 2
    assert metrics.longest_losing_streak([trade(0, "-1"), trade(1, "-1"), trade(2, "-1")]) == 3
    assert metrics.longest_losing_streak([]) == 0
