"""The volume a backtest's ticks carry is what paper mode's ticks carry: the ticker's 24 h quote
volume of the paper exchange's CSV source (`CsvPriceSource.volume_24h`), which live and paper
`strategy.min_volume` is compared with; with `--from` inside a file the 24 h window reaches back
into the candles before it, as the source's does. (The parity test runs the volume filter
through both modes.)"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from backtest import candles as C
from backtest import engine
from config.loader import load_settings
from exchange.paper.csv_prices import CsvPriceSource
from trading.events import SignalRaised
from trading.model import Side

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR
SYMBOL = "TEST/USDT:USDT"


class Recorder:
    """A strategy that never signals and keeps every (time ms, volume) it is given."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[int, Decimal | None]] = []

    def on_price(self, price: Decimal, volume: Decimal | None, now: float,
                 position: Side | None) -> SignalRaised | None:
        self.seen.append((round(now * 1000), volume))
        return None


@pytest.mark.parametrize("from_hour", [0, 30])
def test_ticks_carry_the_paper_tickers_24h_quote_volume(tmp_path: Path, from_hour: int) -> None:
    rows = ["timestamp,open,high,low,close,volume"]
    for i in range(60):  # 60 hours, volumes and closes that differ candle by candle
        close = Decimal(100) + i % 7
        rows.append(f"{T0 + i * HOUR},{close},{close + 1},{close - 1},{close},{i % 5 + 0.25}")
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n")
    (tmp_path / "bot.toml").write_text(f'[symbols]\nlist = ["{SYMBOL}"]\n')
    recorder = Recorder()
    engine.run(load_settings(tmp_path / "bot.toml"),
               {SYMBOL: C.load(path, from_ms=T0 + from_hour * HOUR)},
               strategy_for=lambda symbol: recorder)

    paper = CsvPriceSource(files={SYMBOL: path}, step_ms=HOUR, epoch_ms=T0)
    expected = [(t, paper.volume_24h(SYMBOL, t)[1]) for t, _ in recorder.seen]
    assert len(recorder.seen) == 4 * (60 - from_hour)
    assert recorder.seen == expected
    # the window is 24 h of candles: a full day's worth from hour 23 on, from the first point
    # when the range starts a day into the file
    assert recorder.seen[0][1] == (sum(Decimal(100 + i % 7) * Decimal(str(i % 5 + 0.25))
                                       for i in range(max(0, from_hour - 23), from_hour + 1)))
