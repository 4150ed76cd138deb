"""Reading candles takes a quick path for rows that are plainly good (backtest/candles.py
`_read_rows`); every other row goes through `_row`, which names the problem. The quick path must
accept exactly the rows `_row` accepts, with the same values: every row below, good or bad,
gives through `load` what `_row` gives on its own (the same Decimals, exponents included, or
the same one-line error)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from backtest import candles as C

PRICES = ["10", " 10.50 ", "1E+1", "1_0", "0", "-1", "Infinity", "NaN", "sNaN", "x", "", "9.99",
          "10.0000"]


def _outcome(fn: object) -> tuple[str, object]:
    try:
        return "ok", fn()  # type: ignore[operator]
    except C.DataError as exc:
        return "error", str(exc)


def _rows() -> list[list[str]]:
    rows = []
    for o, h, lo, c in itertools.product(["10", "9.99", "NaN", " 10.50 "],
                                         ["10.5", "Infinity", "10", "1E+1"],
                                         ["9.99", "0", "-1", "10", "sNaN"],
                                         ["10", "10.0000", "x", "1_0"]):
        rows.append(["1600000000000", o, h, lo, c, "1.5"])
    for p in PRICES:
        rows.append(["1600000000000", "10", "11", "9", "10", p])  # the volume
        rows.append([p, "10", "11", "9", "10", "1"])  # the timestamp
    rows += [["1600000000000", "10", "11", "9", "10"], ["1600000000000", "10", "11", "9", "10",
                                                          "1", "2"], [" 1600000000000 ", "10",
                                                                      "11", "9", "10", "0"]]
    return rows


@pytest.mark.parametrize("row", _rows(), ids=lambda r: ",".join(r))
def test_load_gives_what_row_gives_for_every_row(tmp_path: Path, row: list[str]) -> None:
    path = tmp_path / "one.csv"
    path.write_text(",".join(C.HEADER) + "\n" + ",".join(row) + "\n")
    expected = _outcome(lambda: C._row(path, 2, row))
    got = _outcome(lambda: C.load(path, timeframe_ms=60_000))
    if expected[0] == "ok" and got[0] == "ok":
        c = got[1]
        values = (c.ts[0], c.open[0], c.high[0], c.low[0], c.close[0], c.volume[0])
        assert [str(v) for v in values] == [str(v) for v in expected[1]]  # exponents too
    else:
        assert got == expected


def test_the_quick_path_takes_the_good_rows_of_a_long_file(tmp_path: Path) -> None:
    """Sanity on volume: a clean 2,000-row file reads to the values `_row` gives row by row."""
    path = tmp_path / "long.csv"
    rows = [[str(1_600_000_000_000 + i * 60_000), f"{100 + i % 7}.5", f"{101 + i % 7}.25",
             f"{99 + i % 7}", f"{100 + i % 7}.0", f"{i % 3}"] for i in range(2000)]
    path.write_text(",".join(C.HEADER) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    c = C.load(path)
    expected = [C._row(path, i + 2, r) for i, r in enumerate(rows)]
    got = list(zip(c.ts, c.open, c.high, c.low, c.close, c.volume, strict=True))
    assert [tuple(map(str, g)) for g in got] == [tuple(map(str, e)) for e in expected]


def test_a_folder_given_as_the_candle_file_is_named_not_a_file(tmp_path: Path) -> None:
    # found by review: `--csv BTC/USDT:USDT=data/candles` (the folder) said "file not found"
    with pytest.raises(C.DataError) as info:
        C.load(tmp_path)
    assert str(info.value) == f"{tmp_path}: not a file (a folder)"
    with pytest.raises(C.DataError) as info:
        C.load(tmp_path / "gone.csv")
    assert str(info.value) == f"{tmp_path / 'gone.csv'}: file not found"
