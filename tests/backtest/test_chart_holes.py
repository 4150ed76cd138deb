"""The chart's price line breaks at a hole in the data (found by review: a 1h symbol with a
7-hour hole, run with --allow-gaps, had its close line drawn straight across the hole, as if
prices between the two sides had been replayed; the report lists the hole, the chart hid it)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from backtest import candles as C
from backtest import charts, engine, metrics
from config.loader import load_settings

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (24 * HOUR)
SYMBOL = "TEST/USDT:USDT"


def test_the_close_line_breaks_at_a_hole_in_the_data(tmp_path: Path) -> None:
    hours = [0, 1, 2, 6, 7]  # hours 3, 4 and 5 are missing
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + h * HOUR},{100 + h},{100 + h},{100 + h},{100 + h},10" for h in hours]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "bot.toml").write_text(f'[symbols]\nlist = ["{SYMBOL}"]\n')
    c = C.load(tmp_path / "t.csv", timeframe_ms=HOUR)
    assert len(c.gaps) == 1
    result = engine.run(load_settings(tmp_path / "bot.toml"), {SYMBOL: c})
    fig = charts.figure(result, metrics.equity_curve(result), [])
    [line] = [t for t in fig.data if t.name == f"{SYMBOL} close"]
    x = [int(v) for v in np.asarray(line.x, dtype="datetime64[ms]").astype(np.int64)]
    y = [float(v) for v in np.asarray(line.y, dtype=float)]
    three_q = 3 * HOUR // 4
    # each close where it is replayed; one break (no price) where the hole starts
    assert x == [T0 + three_q, T0 + HOUR + three_q, T0 + 2 * HOUR + three_q, T0 + 3 * HOUR,
                 T0 + 6 * HOUR + three_q, T0 + 7 * HOUR + three_q]
    assert y[:3] == [100.0, 101.0, 102.0] and math.isnan(y[3]) and y[4:] == [106.0, 107.0]
    assert not line.connectgaps
