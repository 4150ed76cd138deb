"""The backtest's intra-candle path is the paper exchange's: the same points at the same times
(CsvPriceSource with the candle timeframe as its step), and the same marks (round_to_tick)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from backtest import candles as C
from backtest import engine
from exchange.paper.csv_prices import CsvPriceSource
from exchange.paper.markets import round_to_tick

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("tick", [Decimal("0.000001"), Decimal("0.00001"), Decimal("0.000005")])
def test_points_and_marks_match_the_paper_exchange(tick: Decimal) -> None:
    candles = C.load(DATA / "ETH_BTC-5m.csv")
    first, step = candles.ts[0], candles.timeframe_ms
    paper = CsvPriceSource(files={"X": DATA / "ETH_BTC-5m.csv"}, step_ms=step, epoch_ms=first)
    expected = paper.path("X", first - 1, first + len(candles) * step)
    ours = list(engine._points(0, candles, tick))
    assert len(ours) == len(expected) == 4 * len(candles)
    assert [(t, raw) for t, _, raw, _, _ in ours] == expected
    marks = [m for *_, m, _ in ours]
    assert marks == [round_to_tick(raw, tick) for _, raw in expected]
    assert [str(m) for m in marks] == [str(round_to_tick(raw, tick)) for _, raw in expected]


T = 1_600_000_000_000  # ms since the epoch (a smaller number reads as seconds)


def test_an_up_candle_goes_open_low_high_close_and_a_down_candle_open_high_low_close(
        tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    f"{T},10,12,9,11,1\n"       # up
                    f"{T + 3_600_000},11,13,8,9,1\n")  # down
    ours = [(t - T, raw)
            for t, _, raw, _, _ in engine._points(0, C.load(path), Decimal("0.01"))]
    assert ours == [(0, 10), (900_000, 9), (1_800_000, 12), (2_700_000, 11),
                    (3_600_000, 11), (4_500_000, 13), (5_400_000, 8), (6_300_000, 9)]


def test_a_candle_that_closes_where_it_opened_goes_open_low_high_close(tmp_path: Path) -> None:
    """README: O-L-H-C for an up candle (close >= open). A flat-bodied candle takes its low
    first: with a long's stop under the low and a take-profit over the high, which fires first
    is this order, in the replay and in the equity curve's valuation (metrics.path_points)."""
    from backtest import metrics

    path = tmp_path / "c.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    f"{T},10,12,9,10,1\n"
                    f"{T + 3_600_000},10.0,10.5,9.5,10.00,1\n")  # equal as Decimals
    c = C.load(path)
    ours = [(t - T, raw) for t, _, raw, _, _ in engine._points(0, c, Decimal("0.01"))]
    assert ours == [(0, 10), (900_000, 9), (1_800_000, 12), (2_700_000, 10),
                    (3_600_000, 10), (4_500_000, Decimal("9.5")), (5_400_000, Decimal("10.5")),
                    (6_300_000, 10)]
    at, prices = metrics.path_points(c)
    assert [(int(t) - T, float(p)) for t, p in zip(at, prices, strict=True)] == [
        (0, 10.0), (900_000, 9.0), (1_800_000, 12.0), (2_700_000, 10.0),
        (3_600_000, 10.0), (4_500_000, 9.5), (5_400_000, 10.5), (6_300_000, 10.0)]
