"""The report's time-based metrics, hand-checked through the whole backtest (engine, simulated
exchange, the one-way core) with a scripted strategy: exposure counts a position still open at
the end, max drawdown starts from the starting balance, and daily Sharpe / Sortino take the
first day's return from the starting balance and put a candle in the day it traded.

Market TEST/USDT:USDT opens at 100: tick 0.01, amount step 0.001; no slippage, taker fee
0.055 %, 100 USDT per entry = 1 contract at 100, starting balance 10,000. Hourly candles from
a UTC midnight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backtest import candles as C
from backtest import engine, report
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
    assert s["max_drawdown"] == pytest.approx(float(loss))
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
