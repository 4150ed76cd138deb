"""The chart's stop lines when the bot holds its stops itself (`exchange.stop_mode = "bot"`):
no stop order is placed, moved or acknowledged, so the journal has no `StopPlaced` or
`StopMoveRequested`; the lines come from the committed states (found by review: the stop line
was empty and the trailing line held only its activation point).

Market TEST/USDT:USDT opens at 100 (tick 0.01); stop 1 %, trailing from +0.5 % at 0.3 % behind
the best price. Hourly candles, each flat: 100, 101, 102, 101.5, 101.5. Long 1 at 100 at the
first open: stop 99.00. At 101 the trailing stop activates (101 x 0.997 = 100.697, rounded down to
the tick: 100.69), at 102 it ratchets (101.694: 101.69), at 101.5 it is crossed and
the bot closes the position: both lines reach that point and break there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backtest import candles as C
from backtest import charts, engine, metrics
from backtest.trades import closed_trades
from config.loader import load_settings
from tests.backtest.test_metrics import HOUR, SYMBOL, T0, Plan


def _run(tmp: Path, stop_mode: str) -> engine.RunResult:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * HOUR},{p},{p},{p},{p},10"
              for i, p in enumerate([100, 101, 102, 101.5, 101.5])]
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp / "bot.toml").write_text(
        f'[exchange]\nstop_mode = "{stop_mode}"\n[symbols]\nlist = ["{SYMBOL}"]\n'
        "[paper]\nslippage_bps = 0\n[risk]\norder_size_usdt = 100\nstop_loss_pct = 1.0\n"
        "trailing_activation_pct = 0.5\ntrailing_callback_pct = 0.3\n")
    plan = Plan([T0 / 1000])
    return engine.run(load_settings(tmp / "bot.toml"), {SYMBOL: C.load(tmp / "t.csv")},
                      strategy_for=lambda symbol: plan)


def _lines(result: engine.RunResult) -> dict[str, list[tuple[np.datetime64, float | None]]]:
    fig = charts.figure(result, metrics.equity_curve(result), closed_trades(result.recorder))
    return {t.name.split()[-1]: [(np.datetime64(x, "ms"), y) for x, y in zip(t.x, t.y,
                                                                             strict=True)]
            for t in fig.data if t.name.endswith((" stop", " trailing"))}


def _at(hour: int) -> np.datetime64:
    return np.datetime64(T0 + hour * HOUR, "ms")


def test_the_chart_draws_the_stops_the_bot_holds_and_their_trailing_moves(
        tmp_path: Path) -> None:
    result = _run(tmp_path, "bot")
    assert [t.reason for t in closed_trades(result.recorder)] == ["trailing_stop"]
    assert _lines(result) == {
        "stop": [(_at(0), 99.0), (_at(3), 99.0), (_at(3), None)],
        "trailing": [(_at(1), pytest.approx(100.69)), (_at(2), pytest.approx(101.69)),
                     (_at(3), pytest.approx(101.69)), (_at(3), None)],
    }


def test_exchange_stops_are_still_drawn_from_the_journal(tmp_path: Path) -> None:
    """The same run with exchange stops: the exchange stop at 99, moved to each trigger."""
    result = _run(tmp_path, "exchange")
    assert not result.recorder.stop_levels
    lines = _lines(result)
    assert [y for _, y in lines["stop"]] == [99.0, pytest.approx(100.69), pytest.approx(101.69),
                                             pytest.approx(101.69), None]


def test_each_level_is_drawn_up_to_the_close_that_ends_it(tmp_path: Path) -> None:
    """Found by review: a step line breaks at a None, so a level was drawn only up to the next
    change, and the last one before a close not at all: a stop that never moved was a lone
    point (no line), in both stop modes. Every level now reaches the close that ends it."""
    for mode in ("bot", "exchange"):
        for name, points in _lines(_run(tmp_path, mode)).items():
            for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
                if y1 is None:  # a break: the level before it reaches the break's time
                    assert y0 is not None and x0 == x1, (mode, name, points)
