"""The parsed-candle cache (backtest/candle_cache.py): a second load of the same file reads the
cache and gives the very same candles (values and exponents, gaps and their lines); any change
to the file is a miss, even one that keeps its size and mtime; a bad file is never cached and
its error still names the file and line; a damaged or unwritable cache changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backtest import candle_cache
from backtest import candles as C

ROWS = [
    "1600000000000,10,11,9,10.50,1.5",
    "1600000060000,1E+1,11.000,9.5,10,0",
    "1600000120000,10,10.25,0.000100,10.2,3",
    "1600000300000,10.2,10.3,10.1,10.2,2",  # two candles missing before this one (line 5)
]


def _write(path: Path, rows: list[str]) -> None:
    path.write_text(",".join(C.HEADER) + "\n" + "\n".join(rows) + "\n")


def _text(c: C.Candles) -> list[tuple[str, ...]]:
    return [tuple(map(str, r)) for r in zip(c.ts, c.open, c.high, c.low, c.close, c.volume,
                                            strict=True)]


def _key(path: Path) -> tuple[int, int, bytes]:
    return candle_cache.key(path.read_bytes(), path.stat())


def test_a_second_load_reads_the_cache_and_gives_the_same_candles(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _write(path, ROWS)
    first = C.load(path)
    cache = candle_cache.cache_path(path)
    assert cache.stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    second = C.load(path)
    assert _text(second) == _text(first)  # exponents too: 1E+1, 11.000, 0.000100
    assert second.gaps == first.gaps and second.gaps[0].line == 5
    assert second.timeframe_ms == first.timeframe_ms == 60_000
    # the second load did come from the cache: a cache with the file's key but another
    # price is believed (which is why the key must catch every change of the file)
    cached = candle_cache.read(path, _key(path))
    assert cached is not None
    cols, lines, floats = cached
    cols[1][0] = C.Decimal("12.5")
    candle_cache.write(path, _key(path), cols, lines, floats)
    assert str(C.load(path).open[0]) == "12.5"


def test_the_price_floats_are_float_of_each_decimal_from_the_parser_and_the_cache(
        tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _write(path, ROWS)
    for c in (C.load(path), C.load(path), C.load(path, from_ms=1600000060000)):  # parsed, cached
        assert c.price_floats.shape == (4, len(c))
        assert c.price_floats.tolist() == [[float(x) for x in col]
                                           for col in (c.open, c.high, c.low, c.close)]


def test_a_changed_file_with_the_same_size_and_mtime_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _write(path, ROWS)
    C.load(path)
    stat = path.stat()
    _write(path, [ROWS[0].replace("10.50", "10.60"), *ROWS[1:]])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert str(C.load(path).close[0]) == "10.60"


def test_a_bad_file_is_never_cached_and_its_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _write(path, [ROWS[0], ROWS[0]])
    with pytest.raises(C.DataError, match=r"x.csv, line 3: duplicate timestamp"):
        C.load(path)
    assert not candle_cache.cache_path(path).exists()
    # a good file, cached, then broken in place (same size): the parser still says where
    _write(path, ROWS)
    C.load(path)
    _write(path, [ROWS[0], ROWS[1].replace("9.5", "NaN"), *ROWS[2:]])
    with pytest.raises(C.DataError, match=r"x.csv, line 3: .*finite and positive"):
        C.load(path)


def test_a_damaged_cache_is_a_miss_and_is_written_again(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _write(path, ROWS)
    expected = _text(C.load(path))
    cache = candle_cache.cache_path(path)
    good = cache.read_bytes()
    for damaged in (good[: len(good) // 2], b"not a cache", b""):
        cache.write_bytes(damaged)
        assert _text(C.load(path)) == expected
        assert cache.read_bytes() == good


def test_a_cache_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _write(path, ROWS)
    candle_cache.cache_path(path).mkdir()  # the cache's name is taken by a folder
    assert _text(C.load(path)) == _text(C.load(path))
    assert candle_cache.cache_path(path).is_dir()


def test_a_file_starting_with_a_byte_order_mark_reads_as_without_it(tmp_path: Path) -> None:
    # found by review: a UTF-8 byte-order mark (spreadsheet exports) gave "line 1: expected the
    # header", without a word about it
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    _write(plain, ROWS)
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    expected = _text(C.load(plain))
    first = C.load(marked)
    assert _text(first) == expected and first.gaps[0].line == 5  # lines as without the mark
    assert candle_cache.cache_path(marked).exists()
    assert candle_cache.read(marked, _key(marked)) is not None
    assert _text(C.load(marked)) == expected  # from the cache
    # the cache keys on the bytes: the mark removed, or a row changed after it, is a miss
    stat = marked.stat()
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"10.50", b"10.60"))
    os.utime(marked, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert str(C.load(marked).close[0]) == "10.60"
    marked.write_bytes(plain.read_bytes())
    assert _text(C.load(marked)) == expected
    # a bad row after the mark is still found, on its own line
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b",9.5,", b",NaN,"))
    with pytest.raises(C.DataError, match=r"marked.csv, line 3: .*finite and positive"):
        C.load(marked)


@pytest.mark.parametrize("rows, error", [
    ([ROWS[0], ROWS[1], "1600000150000,10,11,9,10,1"],
     r"x.csv, line 4: timestamp 1600000150000 is 90 s after the previous candle, off the "
     r"file's 60 s steps"),
    ([], r"x.csv: no candles \(only the header\)"),
    ([ROWS[0]], r"x.csv: needs at least 2 candles to know its timeframe"),
])
def test_a_file_refused_by_the_checks_after_the_parse_is_not_cached(
        tmp_path: Path, rows: list[str], error: str) -> None:
    """Found by review: the cache was written right after the csv parse, before the checks of
    the whole file (its steps, its candle count) ran, so a file they refuse was cached anyway.
    A refused file leaves no cache; the same file fixed is cached as usual."""
    path = tmp_path / "x.csv"
    if rows:
        _write(path, rows)
    else:
        path.write_text(",".join(C.HEADER) + "\n")
    for _ in range(2):  # the second load reads the file again: still no cache, same line
        with pytest.raises(C.DataError, match=error):
            C.load(path)
        assert not candle_cache.cache_path(path).exists()
    _write(path, ROWS)
    C.load(path)
    assert candle_cache.read(path, _key(path)) is not None
