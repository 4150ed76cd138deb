"""A candle value is read only as ccxt's `fetch_ohlcv` numbers are written (backtest/candles.py
`VALUE`, `TIMESTAMP`): digits with an optional "." and exponent, and a "-" (a negative value gets
its own message). Found by review: Python's Decimal() and int() also take "1_000.5", " 5",
"+5", "NaN12" and digits of other scripts, so a malformed field was read as a number. Such a
value is refused with the one line naming the file and the line, by the quick path and by
`_row`, and by a cache written before the rule (it would otherwise skip the checks)."""

from __future__ import annotations

import marshal
from decimal import Decimal
from pathlib import Path

import pytest

from backtest import candle_cache
from backtest import candles as C

T0 = 1_600_000_000_000
GOOD = f"{T0},10,11,9,10.5,2"


def _write(path: Path, second: str) -> None:
    path.write_text(",".join(C.HEADER) + "\n" + GOOD + "\n" + second + "\n")


@pytest.mark.parametrize("row, bad", [
    (f"{T0 + 60_000},1_000.5,1_001,999,1_000,1", "1_000.5"),
    (f"{T0 + 60_000},10,11,9,10,1_000", "1_000"),
    (f"{T0 + 60_000}, 10,11,9,10,1", " 10"),
    (f"{T0 + 60_000},10,11 ,9,10,1", "11 "),
    (f"{T0 + 60_000},+10,11,9,10,1", "+10"),
    (f"{T0 + 60_000},10,11,9,10,\u0661\u0660", "\u0661\u0660"),  # Arabic-Indic "10"
    (f"{T0 + 60_000},10,11,9,NaN12,1", "NaN12"),
    (f"{T0 + 60_000},10,11,9,10,1e", "1e"),
    ("1_600_000_060_000,10,11,9,10,1", "1_600_000_060_000"),
    (f"+{T0 + 60_000},10,11,9,10,1", f"+{T0 + 60_000}"),
    (f" {T0 + 60_000},10,11,9,10,1", f" {T0 + 60_000}"),
])
def test_a_value_not_written_as_a_plain_number_is_refused_naming_file_and_line(
        tmp_path: Path, row: str, bad: str) -> None:
    path = tmp_path / "x.csv"
    _write(path, row)
    with pytest.raises(C.DataError) as info:
        C.load(path, timeframe_ms=60_000)
    text = str(info.value)
    assert text.startswith(f"{path}, line 3: not a number in {row} ({bad!r}: ")
    assert "\n" not in text
    assert not candle_cache.cache_path(path).exists()


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_a_value_that_is_not_finite_keeps_its_own_message(tmp_path: Path, value: str) -> None:
    path = tmp_path / "x.csv"
    _write(path, f"{T0 + 60_000},10,11,9,{value},1")
    with pytest.raises(C.DataError, match=r"line 3: prices must be finite and positive"):
        C.load(path, timeframe_ms=60_000)


def test_numbers_as_the_download_writes_them_are_read_exactly(tmp_path: Path) -> None:
    """backtest/download.py writes str() of ccxt's ints and floats: exponents included."""
    prices = [f"{v}" for v in (10, 10.5, 1e-05, 9.5e-05, 0.1)]
    volumes = [f"{v}" for v in (0, 2.5, 1e-07, 1.5e16, 12345678.9)]
    assert prices[2:4] == ["1e-05", "9.5e-05"] and volumes[2:4] == ["1e-07", "1.5e+16"]
    path = tmp_path / "x.csv"
    rows = [f"{T0 + i * 60_000},{p},{p},{p},{p},{v}"
            for i, (p, v) in enumerate(zip(prices, volumes, strict=True))]
    path.write_text(",".join(C.HEADER) + "\n" + "\n".join(rows) + "\n")
    c = C.load(path, timeframe_ms=60_000)
    assert c.close == [Decimal(p) for p in prices]
    assert c.volume == [Decimal(v) for v in volumes]
    assert c.open[2] == Decimal("0.00001") and c.volume[3] == Decimal(15 * 10**15)


def test_a_cache_written_before_the_rule_does_not_let_the_value_through(tmp_path: Path) -> None:
    """A file with "1_000.5" loaded by the code before the rule was cached (version 5) as good
    data; the next load must parse it again and refuse it."""
    path = tmp_path / "x.csv"
    _write(path, f"{T0 + 60_000},1_000.5,1_001,999,1_000,1")
    data = path.read_bytes()
    cols = [[T0, T0 + 60_000], *[[Decimal(a), Decimal(b)] for a, b in
                                 [("10", "1000.5"), ("11", "1001"), ("9", "999"),
                                  ("10.5", "1000"), ("2", "1")]]]
    floats = candle_cache.price_floats(cols)
    blob = marshal.dumps((5, tuple(candle_cache.key(data, path.stat())), cols[0],
                          [list(map(str, col)) for col in cols[1:]], [2, 3], floats.tobytes()))
    candle_cache.cache_path(path).write_bytes(blob)
    with pytest.raises(C.DataError, match=r"x.csv, line 3: not a number in .*'1_000.5'"):
        C.load(path, timeframe_ms=60_000)


@pytest.mark.parametrize("row", [
    f"{T0 + 60_000},10,10.4,9,10.5,1",   # high under the close
    f"{T0 + 60_000},10.6,10.55,9,10.5,1",  # high under the open (a down candle)
    f"{T0 + 60_000},10,11,10.2,10.5,1",  # low over the open
    f"{T0 + 60_000},10.6,11,10.55,10.5,1",  # low over the close (a down candle)
])
def test_high_and_low_that_do_not_contain_open_and_close_are_refused_naming_the_line(
        tmp_path: Path, row: str) -> None:
    """A candle whose high is under its close (or low over its open) has no path: the replay
    would go O-L-H-C to a high below where it then closes. Refused, file and line named."""
    path = tmp_path / "c.csv"
    _write(path, row)
    with pytest.raises(C.DataError) as caught:
        C.load(path)
    assert str(caught.value) == (f"{path}, line 3: high/low do not contain open/close "
                                 f"({','.join(row.split(',')[1:5])})")


def test_a_row_in_seconds_after_rows_in_ms_is_named_as_seconds_not_as_unsorted(
        tmp_path: Path) -> None:
    """The quick path takes a row only with a timestamp in ms: a later row written in seconds
    gets `_row`'s message (multiply by 1000), not 'unsorted timestamp', which would send the
    user looking for a sorting problem."""
    path = tmp_path / "c.csv"
    _write(path, f"{(T0 + 60_000) // 1000},10,11,9,10.5,2")
    with pytest.raises(C.DataError) as caught:
        C.load(path)
    assert str(caught.value) == (f"{path}, line 3: timestamp {(T0 + 60_000) // 1000} looks like "
                                 f"seconds, not ms since the epoch (ms are >= {C.MIN_TS}: "
                                 "multiply by 1000)")


@pytest.mark.parametrize("stamp", [f"{T0 + 60_000}.0", f"{T0 + 60_000:e}"])
def test_a_timestamp_with_a_point_or_exponent_is_told_it_must_be_whole_ms(
        tmp_path: Path, stamp: str) -> None:
    """A timestamp is whole ms, digits only (TIMESTAMP): found by review, "1600000060000.0"
    (a spreadsheet's or pandas' float column) was refused with the values' rule, "a value is
    digits with an optional '.' and exponent", which the field followed: the user was told to
    write what they had written."""
    path = tmp_path / "x.csv"
    _write(path, f"{stamp},10,11,9,10.5,2")
    with pytest.raises(C.DataError) as caught:
        C.load(path, timeframe_ms=60_000)
    text = str(caught.value)
    assert text.startswith(f"{path}, line 3: not a number in {stamp},10,11,9,10.5,2 ({stamp!r}: ")
    assert "a timestamp is whole milliseconds since the epoch, digits only" in text
    assert "optional '.'" not in text
