"""More hand-checked fills through the whole backtest (found by a user's review): a
take-profit inside a gap, a take-profit touched exactly, a trailing stop whose activation and
trigger are both crossed inside one candle. Same market and settings as test_scenarios.py:
TEST/USDT:USDT at 100, tick 0.01, 1 contract per 100 USDT entry, taker fee 0.055 %, no
slippage, one-hour candles, path O-L-H-C up / O-H-L-C down. Also 4h candles, and the hedge
grid's take-profit, a resting limit order (test_metrics._grid)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.backtest.test_metrics import T0 as T0_GRID
from tests.backtest.test_metrics import _grid
from tests.backtest.test_scenarios import HOUR, T0, EnterAt, _run
from trading.model import Side

TP = "take_profit_pct = 1.0\ntrailing_activation_pct = 5"


def test_a_take_profit_inside_a_gap_fills_at_the_open_not_better(tmp_path: Path) -> None:
    # take-profit 101.00; c1 (up: O-L-H-C) gaps to 103 and reaches 104 later: the close is
    # at the first point past the level, the open 103, not at the high
    _, [t] = _run(tmp_path, [(100, 100, 100, 100), (103, 104, 102.5, 103.5)], TP,
                  EnterAt({T0 / 1000}))
    assert (t.exit_price, t.reason) == (Decimal("103"), "take_profit")
    assert t.closed_at == (T0 + HOUR) / 1000
    assert t.net == Decimal(3) - Decimal("0.11165")  # fees 100 * 0.00055 + 103 * 0.00055


def test_a_short_take_profit_inside_a_gap_fills_at_the_open(tmp_path: Path) -> None:
    # short at 100, take-profit 99.00; c1 (down: O-H-L-C) opens at 97, falls to 96
    _, [t] = _run(tmp_path, [(100, 100, 100, 100), (97, 97.5, 96, 96.5)], TP,
                  EnterAt({T0 / 1000}, side=Side.SHORT))
    assert (t.exit_price, t.reason) == (Decimal("97"), "take_profit")
    assert t.closed_at == (T0 + HOUR) / 1000


def test_a_take_profit_touched_exactly_closes_at_its_price(tmp_path: Path) -> None:
    # c1 (down: O-H-L-C) reaches exactly 101.00 at its high point, then falls
    _, [t] = _run(tmp_path, [(100, 100, 100, 100), (100, 101, 99.5, 99.8)], TP,
                  EnterAt({T0 / 1000}))
    assert (t.exit_price, t.reason) == (Decimal("101.00"), "take_profit")
    assert t.closed_at == (T0 + HOUR + HOUR // 4) / 1000


def test_a_take_profit_one_tick_short_is_not_taken(tmp_path: Path) -> None:
    _, trades = _run(tmp_path, [(100, 100, 100, 100), (100, 100.99, 99.5, 99.8)], TP,
                     EnterAt({T0 / 1000}))
    assert trades == []


def test_trailing_activation_and_trigger_crossed_in_one_candle(tmp_path: Path) -> None:
    # activation 100.50, callback 0.3 %. c1 (down: O-H-L-C) rises to 102 (the trailing stop
    # goes to 101.69 there), then falls to 99.5: the trailing stop fires at the low point,
    # 99.5 (the first point past 101.69), not at the first stop 99.00 and not at 101.69.
    result, [t] = _run(tmp_path, [(100, 100, 100, 100), (100, 102, 99.5, 99.6)],
                       "trailing_activation_pct = 0.5\ntrailing_callback_pct = 0.3\n"
                       "trailing_step_pct = 0.1", EnterAt({T0 / 1000}))
    placed = [j.data["stop_price"] for _, _, j in result.recorder.journal if j.type == "StopPlaced"]
    assert placed == ["99.00", "101.69"]
    assert (t.exit_price, t.reason) == (Decimal("99.5"), "trailing_stop")
    assert t.closed_at == (T0 + HOUR + 2 * HOUR // 4) / 1000


def test_trailing_activated_by_a_gap_up_then_triggered_in_the_same_candle(
        tmp_path: Path) -> None:
    # c1 (up: O-L-H-C) opens at 102 (past the activation 100.50: trailing stop 101.69 at the
    # open), its low 101.5 comes next: the trailing stop fires there
    result, [t] = _run(tmp_path, [(100, 100, 100, 100), (102, 102.2, 101.5, 102.1)],
                       "trailing_activation_pct = 0.5\ntrailing_callback_pct = 0.3\n"
                       "trailing_step_pct = 0.1", EnterAt({T0 / 1000}))
    placed = [j.data["stop_price"] for _, _, j in result.recorder.journal if j.type == "StopPlaced"]
    assert placed == ["99.00", "101.69"]
    assert (t.exit_price, t.reason) == (Decimal("101.5"), "trailing_stop")
    assert t.closed_at == (T0 + HOUR + HOUR // 4) / 1000


def _run_tf(tmp: Path, tf_ms: int, rows: list[tuple[float, float, float, float]], risk: str,
            strategy: EnterAt):
    from backtest import candles as C
    from backtest import engine
    from backtest.trades import closed_trades
    from config.loader import load_settings
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * tf_ms},{o},{h},{lo},{c},10" for i, (o, h, lo, c) in enumerate(rows)]
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp / "bot.toml").write_text(
        '[symbols]\nlist = ["TEST/USDT:USDT"]\n[paper]\nslippage_bps = 0\n'
        f"taker_fee = 0.00055\n[risk]\norder_size_usdt = 100\nstop_loss_pct = 1.0\n{risk}\n")
    c = C.load(tmp / "t.csv", timeframe_ms=tf_ms)
    result = engine.run(load_settings(tmp / "bot.toml"), {"TEST/USDT:USDT": c},
                        strategy_for=lambda symbol: strategy)
    return result, closed_trades(result.recorder)


def test_a_4h_candle_is_four_hours_of_market_time_for_the_path_and_the_cooldown(
        tmp_path: Path) -> None:
    # 4h candles: points one hour apart. Entry at c0's open; c1 gaps down to 97 (stop 99.00
    # fills at the open, T0 + 4 h); the 3 h cooldown ends at T0 + 7 h, c1's close point: the
    # entry signals at c1's low and high points (T0 + 5 h, + 6 h) are skipped, the one at
    # its close is taken.
    h4 = 4 * HOUR
    result, trades = _run_tf(tmp_path, h4, [(100, 100, 100, 100), (97, 97.2, 96.8, 97.1),
                                            (97.1, 97.1, 97.1, 97.1)],
                             "trailing_activation_pct = 5\ncooldown_after_loss_s = 10800",
                             EnterAt(always=True))
    assert (trades[0].exit_price, trades[0].reason) == (Decimal("97"), "stop_loss")
    assert trades[0].closed_at == (T0 + h4) / 1000
    opened = [now for now, _, j in result.recorder.journal if j.type == "PositionOpened"]
    assert opened == [T0 / 1000, (T0 + h4 + 3 * HOUR) / 1000]


def test_an_unknown_symbols_steps_follow_the_first_open_replayed(tmp_path: Path) -> None:
    # README (How prices are replayed): steps derived from the range's first open; 100.00 and
    # 99.99 are a power of ten apart in tick and amount step
    steps = []
    for i, first in enumerate((100, 99.99)):
        (tmp_path / str(i)).mkdir()
        result, _ = _run(tmp_path / str(i), [(first, first, first, first)] * 2, "",
                         EnterAt())
        m = result.exchange.market("TEST/USDT:USDT")
        steps.append((m.price_tick, m.amount_step, m.min_cost))
    assert steps == [(Decimal("0.01"), Decimal("0.001"), Decimal(5)),
                     (Decimal("0.001"), Decimal("0.01"), Decimal(5))]


def test_a_grid_take_profit_is_a_resting_limit_it_fills_at_its_price_in_a_gap(
        tmp_path: Path) -> None:
    # README (Not simulated ... Fills): the hedge grid (test_metrics._grid: level 1 %, take-profit
    # 0.5 %) opens both legs at 100 before the first candle; c1 gaps up to 102: the long's
    # take-profit (a sell limit at 100.50) and the short's level (a sell limit at 101.00) fill
    # at their own prices as makers at c1's open, not at the open 102

    result = _grid(tmp_path, [(100, 100, 100, 100), (102, 102, 101.9, 101.95)])
    at_open = [(f.trade.position_side, f.trade.side, f.trade.price, f.trade.taker_or_maker)
               for f in result.exchange.fills if f.trade.ts == T0_GRID + HOUR]
    assert at_open == [("long", "sell", Decimal("100.50"), "maker"),
                       ("short", "sell", Decimal("101.00"), "maker")]


def test_a_grid_take_profit_touched_exactly_fills(tmp_path: Path) -> None:

    touched = _grid(tmp_path, [(100, 100, 100, 100), (100, 100.5, 100, 100.2)])
    assert [(f.trade.ts - T0_GRID, f.trade.price) for f in touched.exchange.fills
            if f.trade.position_side == "long" and f.trade.side == "sell"] == [
        (HOUR + HOUR // 2, Decimal("100.50"))]
    (tmp_path / "b").mkdir()
    short_of_it = _grid(tmp_path / "b", [(100, 100, 100, 100), (100, 100.49, 100, 100.2)])
    assert [f for f in short_of_it.exchange.fills if f.trade.side == "sell"
            and f.trade.position_side == "long"] == []
