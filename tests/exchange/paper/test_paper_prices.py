"""Price sources: the deterministic generator and CSV replay."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from backtest import candles as C
from exchange.paper import CsvPriceSource, GeneratorPriceSource
from exchange.paper.prices import SECONDS_PER_YEAR, hashed_price

DATA = Path(__file__).resolve().parents[2] / "data"
EPOCH = 1_700_000_000_000
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def gen(seed: int = 7, **kw) -> GeneratorPriceSource:
    return GeneratorPriceSource(seed=seed, epoch_ms=EPOCH, **kw)


def test_same_seed_gives_same_path_and_different_seed_differs() -> None:
    a = gen(7).path(BTC, EPOCH, EPOCH + 60_000)
    b = gen(7).path(BTC, EPOCH, EPOCH + 60_000)
    c = gen(8).path(BTC, EPOCH, EPOCH + 60_000)
    assert a == b
    assert len(a) == 240  # 250 ms steps in (EPOCH, EPOCH + 60 s]
    assert [p for _, p in a] != [p for _, p in c]
    assert all(isinstance(p, Decimal) and p > 0 for _, p in a)


def test_path_window_is_half_open_and_ordered() -> None:
    src = gen()
    points = src.path(BTC, EPOCH + 1000, EPOCH + 2000)
    assert [t for t, _ in points] == [EPOCH + 1250, EPOCH + 1500, EPOCH + 1750, EPOCH + 2000]
    assert src.path(BTC, EPOCH + 2000, EPOCH + 2000) == []
    assert src.path(BTC, EPOCH - 10_000, EPOCH - 1) == []  # before the epoch: nothing


def test_piecewise_calls_equal_one_call_in_any_order() -> None:
    whole = gen().path(ETH, EPOCH, EPOCH + 20_000)
    src = gen()
    later = src.path(ETH, EPOCH + 10_000, EPOCH + 20_000)
    earlier = src.path(ETH, EPOCH, EPOCH + 10_000)  # going back recomputes from a checkpoint
    assert earlier + later == whole


def test_resume_from_checkpoint_equals_uninterrupted_path() -> None:
    uninterrupted = gen(3).path(BTC, EPOCH, EPOCH + 100_000)
    at_ms, price = uninterrupted[199]  # a step in the middle
    resumed_src = gen(3)
    resumed_src.resume_from(BTC, at_ms, price)
    resumed = resumed_src.path(BTC, at_ms, EPOCH + 100_000)
    assert resumed == uninterrupted[200:]


def test_last_point_is_the_last_point_of_the_path() -> None:
    whole = gen(4).path(ETH, EPOCH, EPOCH + 3_000_000)
    src = gen(4)
    assert src.last_point(ETH, EPOCH + 1000, EPOCH + 3_000_100) == whole[-1]
    assert src.last_point(ETH, EPOCH, EPOCH + 1_000_000) == whole[3999]  # going back
    assert src.last_point(ETH, EPOCH + 1000, EPOCH + 1100) is None
    assert src.last_point(ETH, EPOCH - 10_000, EPOCH - 1) is None


def test_volatility_scales_with_speed() -> None:
    src = gen(11, speed=60.0)
    points = src.path(BTC, EPOCH, EPOCH + 250 * 4000)
    returns = [math.log(b[1] / a[1]) for a, b in zip(points, points[1:])]
    expected = 0.50 * math.sqrt(0.25 * 60 / SECONDS_PER_YEAR)
    assert statistics.pstdev(returns) == pytest.approx(expected, rel=0.1)
    assert gen(volatility={"BTC": 0.2}).annual_volatility(BTC) == 0.2
    assert gen().annual_volatility("NEW/USDT:USDT") == 0.9


def test_initial_prices_known_and_hashed() -> None:
    src = gen()
    assert src.initial_price(BTC) == Decimal("60000")
    assert src.initial_price("DOGE/USDT:USDT") == Decimal("0.15")
    for i in range(500):
        price = src.initial_price(f"SYM{i}/USDT:USDT")
        assert Decimal("0.1") <= price < Decimal("1000")
        assert price == hashed_price(f"SYM{i}/USDT:USDT")


# ---- CSV replay ----------------------------------------------------------------------


def test_csv_candle_points_and_hold_after_last(tmp_path: Path) -> None:
    csv_file = tmp_path / "x.csv"
    csv_file.write_text(
        "timestamp,open,high,low,close,volume\n"
        "1,10,12,9,11,5\n"  # up bar: open, low, high, close
        "2,11,11.5,8,9,5\n"  # down bar: open, high, low, close
    )
    src = CsvPriceSource(files={"X/USDT:USDT": csv_file}, step_ms=1000, epoch_ms=EPOCH)
    points = src.path("X/USDT:USDT", EPOCH - 1, EPOCH + 10_000)
    assert points == [
        (EPOCH, Decimal(10)), (EPOCH + 250, Decimal(9)), (EPOCH + 500, Decimal(12)),
        (EPOCH + 750, Decimal(11)), (EPOCH + 1000, Decimal(11)), (EPOCH + 1250, Decimal("11.5")),
        (EPOCH + 1500, Decimal(8)), (EPOCH + 1750, Decimal(9)),
    ]
    assert src.path("X/USDT:USDT", EPOCH + 1750, EPOCH + 99_000) == []  # holds last close
    assert src.path("X/USDT:USDT", EPOCH + 250, EPOCH + 750) == points[2:4]
    assert src.initial_price("X/USDT:USDT") == Decimal(10)


def test_csv_last_point_is_the_last_point_of_the_path() -> None:
    src = CsvPriceSource(files={"LTC/USDT:USDT": DATA / "LTC_BTC-5m.csv"}, step_ms=1000,
                         epoch_ms=EPOCH)
    points = src.path("LTC/USDT:USDT", EPOCH - 1, EPOCH + 10_000_000)
    for start, end in ((EPOCH - 1, EPOCH + 10_000_000), (EPOCH + 250, EPOCH + 999),
                       (EPOCH + 777, EPOCH + 3_000_000)):
        assert src.last_point("LTC/USDT:USDT", start, end) == \
            src.path("LTC/USDT:USDT", start, end)[-1]
    assert src.last_point("LTC/USDT:USDT", EPOCH - 1, EPOCH + 10_000_000) == points[-1]
    assert src.last_point("LTC/USDT:USDT", points[-1][0], EPOCH + 99_000_000) is None
    assert src.last_point("LTC/USDT:USDT", EPOCH - 99, EPOCH - 1) is None
    assert src.last_point("LTC/USDT:USDT", EPOCH + 1, EPOCH + 249) is None


def test_csv_real_data_with_scale() -> None:
    src = CsvPriceSource(
        files={"ETH/USDT:USDT": DATA / "ETH_BTC-5m.csv", "LTC/USDT:USDT": DATA / "LTC_BTC-5m.csv"},
        step_ms=1000, epoch_ms=EPOCH, scale={"ETH/USDT:USDT": Decimal(30000)},
    )
    assert src.initial_price("ETH/USDT:USDT") == Decimal("0.0984") * 30000
    points = src.path("LTC/USDT:USDT", EPOCH - 1, EPOCH + 10_000_000)
    assert len(points) == 4 * 5760
    assert all(a[0] < b[0] for a, b in zip(points, points[1:]))


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("3,10,12,9", "expected 6 fields"),
        ("3,10,abc,9,11,5", "not a number"),
        ("3,10,12,-9,11,5", "positive"),
        ("3,10,10.5,9,11,5", "high/low"),
    ],
)
def test_csv_malformed_row_names_file_and_line(tmp_path: Path, row: str, needle: str) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("timestamp,open,high,low,close,volume\n1,10,12,9,11,5\n" + row + "\n")
    with pytest.raises(ValueError, match=needle) as info:
        CsvPriceSource(files={"X/USDT:USDT": csv_file}, step_ms=1000, epoch_ms=EPOCH)
    assert "bad.csv, line 3" in str(info.value)



@pytest.mark.parametrize(("row", "bad"), [
    ("1600000060000,1_000.5,1_001,999,1_000,1", "1_000.5"),
    ("1600000060000, 10,12,9,11,5", " 10"),
    ("1600000060000,10,12 ,9,11,5", "12 "),
    ("1600000060000,+10,12,9,11,5", "+10"),
    ("1600000060000,10,12,9,11,\u0661\u0660", "\u0661\u0660"),  # Arabic-Indic "10"
    ("1600000060000,10,12,9,NaN12,5", "NaN12"),
    ("+1600000060000,10,12,9,11,5", "+1600000060000"),
    ("1_600_000_060_000,10,12,9,11,5", "1_600_000_060_000"),
])
def test_csv_value_not_a_plain_number_is_refused_as_the_backtest_refuses_it(
        tmp_path: Path, row: str, bad: str) -> None:
    """Paper mode reads a candle file by the backtest's rule (found by review: Decimal() and
    int() took "1_000.5", " 10", "+10", so paper traded a file the backtest refuses)."""
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("timestamp,open,high,low,close,volume\n1600000000000,10,12,9,11,5\n"
                        + row + "\n")
    with pytest.raises(ValueError) as info:
        CsvPriceSource(files={"X/USDT:USDT": csv_file}, step_ms=1000, epoch_ms=EPOCH)
    assert str(info.value).startswith(f"{csv_file}, line 3: not a number in {row} ({bad!r}: ")
    with pytest.raises(C.DataError) as same:  # the backtest's words for the same row
        C.load(csv_file, timeframe_ms=60_000)
    assert str(same.value).split(": ", 1)[1] == str(info.value).split(": ", 1)[1]


def test_csv_bad_header(tmp_path: Path) -> None:
    csv_file = tmp_path / "nohead.csv"
    csv_file.write_text("1,10,12,9,11,5\n")
    with pytest.raises(ValueError, match="line 1: expected header"):
        CsvPriceSource(files={"X/USDT:USDT": csv_file}, step_ms=1000, epoch_ms=EPOCH)


def test_csv_with_a_byte_order_mark_reads_as_without(tmp_path: Path) -> None:
    """A spreadsheet's UTF-8 export starts with a byte-order mark; paper mode reads the file
    as the backtest does (found by review: 'line 1: expected header')."""
    text = "timestamp,open,high,low,close,volume\n1,10,12,9,11,5\n2,11,11.5,8,9,5\n"
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    plain.write_text(text, encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    paths = {}
    for name, path in (("plain", plain), ("marked", marked)):
        src = CsvPriceSource(files={"X/USDT:USDT": path}, step_ms=1000, epoch_ms=EPOCH)
        paths[name] = src.path("X/USDT:USDT", EPOCH - 1, EPOCH + 10_000)
    assert paths["marked"] == paths["plain"] and len(paths["plain"]) == 8
