"""A private cache of a parsed candle file, next to it, so a file is parsed and checked once.

Reading and checking a million CSV rows costs seconds (backtest/candles.py); a sweep or a
second run of the same data would pay it again. After a file loads without error, its parsed
columns are written to `.<file name>.parsed` in the same folder: the timestamps, the line
number of every row, and each price column as the text of its Decimals (`str(Decimal)`
gives back the same Decimal, exponent included). The next load of the same file rebuilds the
Decimals from that text, which skips the csv parse and the row checks (about half the time),
and reads the prices' floats (`price_floats`) as they were stored.

The cache is keyed by the file's size, its mtime and a BLAKE2b hash of its bytes: any change to
the file, even one that keeps its size and mtime, makes the cache a miss. Only a file that
passed every check is cached, so every bad-data error is still found and reported by the
parser, with its file and line. A cache that cannot be read (another version, truncated,
not ours) is a miss; one that cannot be written (a read-only folder) is simply not written.
Written atomically (temp file, fsync, rename) and private to the user (0600).
"""

from __future__ import annotations

import hashlib
import marshal
import os
from decimal import Decimal
from pathlib import Path

import numpy as np

from backtest.files import remove_leftovers, write_private

VERSION = 7  # 3: the outlier and timestamp checks; 4: timestamps in seconds refused; 5: a
# quoted field across lines refused; 6: a value not written as a plain number ("1_000.5", " 5",
# "+5") refused; 7: a volume above 1e30 refused (a file cached before may fail them)
Columns = tuple[list[list], list[int]]
"""([timestamps, open, high, low, close, volume], the line number of every row)."""
Cached = tuple[list[list], list[int], np.ndarray]
"""Columns, line numbers and `price_floats` of the columns."""


def price_floats(cols: list[list]) -> np.ndarray:
    """float(Decimal) of open, high, low and close, one row each (the skip plan's float marks
    start from them, backtest/skipping.py); cached with the columns, since converting four
    million Decimals costs about a second."""
    n = len(cols[0])
    return np.array([np.fromiter(map(float, col), float, n) for col in cols[1:5]]).reshape(4, n)


def cache_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.parsed")


def key(data: bytes, stat: os.stat_result) -> tuple[int, int, bytes]:
    return stat.st_size, stat.st_mtime_ns, hashlib.blake2b(data, digest_size=32).digest()


def read(path: Path, file_key: tuple[int, int, bytes]) -> Cached | None:
    """The cached columns of the file at `path` with this key, or None (a miss). The temp
    files of the cache that a killed write left beside the user's file go first."""
    remove_leftovers(path.parent, [cache_path(path).name])
    try:
        blob = cache_path(path).read_bytes()
        version, found_key, ts, texts, lines, floats = marshal.loads(blob)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if version != VERSION or found_key != tuple(file_key):
        return None
    if not (isinstance(ts, list) and isinstance(lines, list) and isinstance(texts, list)
            and len(texts) == 5 and all(isinstance(t, list) and len(t) == len(ts)
                                        for t in texts) and len(lines) == len(ts)
            and isinstance(floats, bytes) and len(floats) == 4 * 8 * len(ts)):
        return None
    try:
        columns = [list(map(Decimal, t)) for t in texts]
    except (TypeError, ArithmeticError, ValueError):
        return None
    return [ts, *columns], lines, np.frombuffer(floats, float).reshape(4, len(ts))


def write(path: Path, file_key: tuple[int, int, bytes], cols: list[list], lines: list[int],
          floats: np.ndarray) -> None:
    """Cache the columns of a file that loaded without error (best effort)."""
    texts = [list(map(str, col)) for col in cols[1:]]
    blob = marshal.dumps((VERSION, tuple(file_key), cols[0], texts, lines,
                          np.ascontiguousarray(floats, float).tobytes()))
    try:
        write_private(cache_path(path), blob)
    except OSError:
        return  # a folder we may read but not write: no cache, same result
