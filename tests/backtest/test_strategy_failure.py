"""A strategy that raises during a backtest stops the run with one line naming the symbol, the
market time, the price and the error (backtest/driver.py StrategyStopped, which `bot.py backtest`
prints as its one-line error). Before, the exception ended the run with a traceback; with the
live guard (actors/strategy_guard.py) and no stop, the run would have gone on with the strategy
off and printed a report that reads as a result."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from backtest import candles as C
from backtest import engine
from backtest.driver import StrategyStopped
from config.loader import load_settings

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR
SYMBOL = "TEST/USDT:USDT"


class FailsAt:
    name = "fails"

    def __init__(self, price: Decimal) -> None:
        self.price = price

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if price == self.price:
            raise KeyError("window")
        return None


def test_a_raising_strategy_stops_the_backtest_with_one_line(tmp_path: Path) -> None:
    rows = [(100, 101, 99, 100.5), (100.5, 102, 100, 101.5), (101.5, 103, 101, 102.5)]
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * HOUR},{o},{h},{lo},{c},10" for i, (o, h, lo, c) in enumerate(rows)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "bot.toml").write_text(f'[symbols]\nlist = ["{SYMBOL}"]\n')
    settings = load_settings(tmp_path / "bot.toml")
    with pytest.raises(StrategyStopped) as info:
        engine.run(settings, {SYMBOL: C.load(tmp_path / "t.csv")},
                   strategy_for=lambda symbol: FailsAt(Decimal("102")))
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{SYMBOL}: strategy fails raised at ")
    # the second candle's high (its path O-L-H-C puts the high half-way through the hour)
    assert f"raised at {C.fmt_ms(T0 + HOUR + HOUR // 2)} on price 102.00:" in text
    assert "KeyError: 'window' (test_strategy_failure.py:" in text
