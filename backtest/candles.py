"""Reading candle files (ccxt `fetch_ohlcv` layout) for a backtest, with one-line errors.

`timestamp,open,high,low,close,volume` per line (UTF-8; a leading byte-order mark is skipped),
timestamp in ms since the epoch (UTC). Every problem names the file and the line: bytes that
are not UTF-8, a malformed row, a value not written as ccxt's numbers are (`VALUE`), NaN or
non-positive prices, high/low that do not contain open/close, an outlier price (outside a
factor `PRICE_FACTOR` around the file's first open, or outside `PRICE_LIMITS`: such a price
could not be rounded to the market's tick within Decimal's 28 digits), a volume above
`VOLUME_LIMIT`, a timestamp out of
range or not after the previous one (unsorted or duplicate), a step that is not a whole number
of the file's timeframe (its most common step).
Holes (a step larger than the file's timeframe) are listed, not filled: the backtest refuses
them unless asked to run with them (`--allow-gaps`).
"""

from __future__ import annotations

import bisect
import csv
import io
import os
import re
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from backtest import candle_cache
from exchange.paper.csv_prices import (
    _PLAIN,
    DAY_MS,
    PRICE_FACTOR,
    PRICE_LIMITS,
    TIMESTAMP,
    VALUE,
    VOLUME_LIMIT,
    one_line_rows,
    price_bounds,
)

HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
MAX_TS = 10**14
MIN_TS = 10**11
"""1973-03-03 in ms: a smaller timestamp is seconds (today ~1.7e9), found by review: an
hourly file in seconds ran as 3.6 s candles dated 1970-01-20, without an error."""
"""Timestamps are ms in [0, MAX_TS) (year 5138): beyond it they are not ms since the epoch."""
Bounds = tuple[Decimal, Decimal]
_QUICK_ROW = re.compile(rf"[0-9]+(?:,{_PLAIN}){{5}}")
"""A whole row, joined by commas, of plain numbers only (a field holding a comma cannot match:
the row would have more than five)."""


class DataError(ValueError):
    """Bad candle data; the message is the one line the user sees."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    after_ms: int
    before_ms: int
    line: int
    """The line of the first candle after the hole."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Candles:
    """One symbol's candles, oldest first. Prices are exact Decimals."""

    path: Path
    timeframe_ms: int
    ts: list[int]
    open: list[Decimal]
    high: list[Decimal]
    low: list[Decimal]
    close: list[Decimal]
    volume: list[Decimal]
    gaps: tuple[Gap, ...] = ()
    price_floats: Any = field(default=None, compare=False, repr=False)
    """float() of open, high, low and close (a 4 x n numpy array), when the reader has them
    (backtest/candle_cache.py); None: the skip plan converts the Decimals itself."""
    day_before: tuple[list[int], list[Decimal], list[Decimal]] = field(
        default_factory=lambda: ([], [], []), compare=False, repr=False)
    """(timestamps, volumes, closes) of the file's candles in the 24 h before the first one
    kept (a range that starts inside the file): the 24 h volume's window reaches back into
    them (backtest/volumes.py), as the ticker's would."""

    def __len__(self) -> int:
        return len(self.ts)

    def missing_candles(self, gap: Gap) -> int:
        return (gap.before_ms - gap.after_ms) // self.timeframe_ms - 1


def _row(path: Path, line: int, row: list[str],
         bounds: Bounds | None = None) -> tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]:
    """One row, checked; `bounds`: the file's `price_bounds` (None: this is the first row)."""
    where = f"{path}, line {line}"
    if len(row) != len(HEADER):
        raise DataError(f"{where}: expected {len(HEADER)} fields, got {len(row)}")
    bad = next((i for i, (x, form) in enumerate(zip(row, (TIMESTAMP, *[VALUE] * 5),
                                                    strict=True)) if not form.fullmatch(x)), None)
    if bad is not None:  # a timestamp has its own rule (found by review: "1600000060000.0"
        # was told the values' rule, "digits with an optional '.'", which it followed)
        rule = ("a timestamp is whole milliseconds since the epoch, digits only" if bad == 0
                else "a value is digits with an optional '.' and exponent")
        raise DataError(f"{where}: not a number in {','.join(row)} ({row[bad]!r}: {rule}, "
                        "as ccxt gives them; no spaces, '_' or '+')")
    try:
        ts = int(row[0])
        o, h, low, c, v = (Decimal(x) for x in row[1:])
    except (ValueError, InvalidOperation):
        raise DataError(f"{where}: not a number in {','.join(row)}") from None
    if 0 <= ts < MIN_TS:
        raise DataError(f"{where}: timestamp {ts} looks like seconds, not ms since the epoch "
                        f"(ms are >= {MIN_TS}: multiply by 1000)")
    if not 0 <= ts < MAX_TS:
        raise DataError(f"{where}: timestamp {ts} is not in ms since the epoch (0 .. {MAX_TS})")
    if not all(x.is_finite() and x > 0 for x in (o, h, low, c)):
        raise DataError(f"{where}: prices must be finite and positive (got {','.join(row[1:5])})")
    if not v.is_finite() or v < 0:
        raise DataError(f"{where}: volume must be finite and >= 0 (got {row[5]})")
    if v > VOLUME_LIMIT:
        raise DataError(f"{where}: outlier volume {row[5]}: volumes must be at most "
                        f"{VOLUME_LIMIT:.0e}")
    if low > min(o, c) or h < max(o, c):
        raise DataError(f"{where}: high/low do not contain open/close ({','.join(row[1:5])})")
    if bounds is None and not PRICE_LIMITS[0] <= o <= PRICE_LIMITS[1]:  # (the bounds would be
        raise DataError(f"{where}: first open {o} is outside "  # inverted in the next message)
                        f"{PRICE_LIMITS[0]:.0e} .. {PRICE_LIMITS[1]:.0e}")
    lo, hi = bounds or price_bounds(o)
    if low < lo or h > hi:
        raise DataError(f"{where}: outlier price {low if low < lo else h}: prices must lie in "
                        f"{lo:.3e} .. {hi:.3e} (a factor {PRICE_FACTOR:.0e} around the file's "
                        f"first open, within {PRICE_LIMITS[0]:.0e} .. {PRICE_LIMITS[1]:.0e})")
    return ts, o, h, low, c, v


def _read_rows(path: Path, reader: Any, cols: list[list], lines: list[int]) -> None:
    """Every row into `cols`. A row that passes the quick check below is exactly a row `_row`
    accepts, with the same values; any other row goes through `_row`, which names the problem
    (or accepts it: the quick check is only ever stricter)."""
    ts_col, o_col, h_col, l_col, c_col, v_col = cols
    last = None
    bounds: Bounds | None = None  # the first row sets them, through `_row`: until then
    lo_bound, hi_bound = Decimal("Infinity"), Decimal(0)  # no row takes the quick path
    rows = one_line_rows(path, reader, DataError)
    for row in rows:
        try:
            t, so, sh, sl, sc, sv = row
            if not _QUICK_ROW.fullmatch(",".join(row)):  # what `_row` refuses or names: " 5",
                raise ValueError  # "1_000.5", "+5", "NaN" (Decimal() and int() take the first 3)
            ts = int(t)
            o, h, low, c, v = Decimal(so), Decimal(sh), Decimal(sl), Decimal(sc), Decimal(sv)
            # the bounds are positive and finite: inside them and with high/low containing
            # open/close every price is (a NaN raises in the comparisons)
            quick = (lo_bound <= low <= o <= h <= hi_bound and low <= c <= h
                     and v.is_finite() and 0 <= v <= VOLUME_LIMIT and MIN_TS <= ts < MAX_TS)
        except (ValueError, InvalidOperation):
            quick = False
        if not quick:
            if not row or all(not x.strip() for x in row):
                continue
            ts, o, h, low, c, v = _row(path, reader.line_num, row, bounds)
            if bounds is None:
                bounds = price_bounds(o)
                lo_bound, hi_bound = bounds
        if last is not None and ts <= last:
            what = "duplicate" if ts == last else "unsorted"
            raise DataError(f"{path}, line {reader.line_num}: {what} timestamp {ts} "
                            f"(previous {last})")
        last = ts
        ts_col.append(ts)
        o_col.append(o)
        h_col.append(h)
        l_col.append(low)
        c_col.append(c)
        v_col.append(v)
        lines.append(reader.line_num)


def load(path: Path, *, from_ms: int | None = None, to_ms: int | None = None,
         timeframe_ms: int | None = None) -> Candles:
    """Read and check a whole file, then keep the candles that lie in [from_ms, to_ms): that
    open at or after `from_ms` and end (open + timeframe) by `to_ms`. Found by review: a
    candle that opened before `--to` and ended after it (a `--to` inside an hour of 1h
    candles) was kept, so its path points at and after `--to` were replayed."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: " + ("not a file (a folder)" if path.is_dir() else
                                       "not a file" if path.exists() else "file not found"))
    with path.open("rb") as handle:
        data = handle.read()
        file_key = candle_cache.key(data, os.fstat(handle.fileno()))
    cached = candle_cache.read(path, file_key)
    cols, lines = cached[:2] if cached is not None else _parse(path, data)
    ts = cols[0]
    if not ts:  # a download that found no candles writes the header alone
        raise DataError(f"{path}: no candles (only the header)")
    if len(ts) < 2 and timeframe_ms is None:
        raise DataError(f"{path}: needs at least 2 candles to know its timeframe")
    diffs = np.diff(np.asarray(ts, dtype=np.int64))
    step = timeframe_ms or _timeframe(diffs)
    _check_steps(path, ts, lines, diffs, step)
    if cached is not None:
        floats = cached[2]
    else:  # cached only once every check passed (found by review: a file refused for a
        # candle off its steps, or for having no candles, was cached before those checks)
        floats = candle_cache.price_floats(cols)
        candle_cache.write(path, file_key, cols, lines, floats)
    gaps = tuple(Gap(after_ms=a, before_ms=b, line=lines[i + 1])
                 for i, (a, b) in enumerate(pairwise(ts)) if b - a != step)
    lo = 0 if from_ms is None else _first_at_or_after(ts, from_ms)
    hi = len(ts) if to_ms is None else _first_at_or_after(ts, to_ms - step + 1)
    if lo >= hi:
        where = f"the file covers {fmt_ms(ts[0])} .. {fmt_ms(ts[-1] + step)}"
        if 0 < lo < len(ts) and ts[lo] - ts[lo - 1] != step:  # found by review: the span
            # named held the range, and the line did not say it fell in a hole
            where += (f"; the range lies in its hole from {fmt_ms(ts[lo - 1] + step)} "
                      f"to {fmt_ms(ts[lo])}")
        raise DataError(f"{path}: no candles in the range {fmt_ms(from_ms)} .. {fmt_ms(to_ms)} "
                        f"({where})")
    gaps = tuple(g for g in gaps if ts[lo] <= g.after_ms < ts[hi - 1])
    back = bisect.bisect_right(ts, ts[lo] - DAY_MS, 0, lo)
    return Candles(path=path, timeframe_ms=step, ts=ts[lo:hi], open=cols[1][lo:hi],
                   high=cols[2][lo:hi], low=cols[3][lo:hi], close=cols[4][lo:hi],
                   volume=cols[5][lo:hi], gaps=gaps, price_floats=floats[:, lo:hi],
                   day_before=(ts[back:lo], cols[5][back:lo], cols[4][back:lo]))


def _timeframe(diffs: np.ndarray) -> int:
    """The file's most common step between candles (of equally common ones, the smallest)."""
    steps, counts = np.unique(diffs, return_counts=True)
    return int(steps[np.argmax(counts)])


def _check_steps(path: Path, ts: list[int], lines: list[int], diffs: np.ndarray,
                 step: int) -> None:
    """Every step between candles is a whole number of timeframes (more than one: a gap). One
    that is not is a candle off the file's grid, named by its line (found by review: the
    smallest step was taken for the timeframe, so one stray candle 2 minutes after a 5-minute
    one made the file 2-minute candles, each 5-minute step a gap)."""
    off = np.flatnonzero(diffs % step)
    if len(off):
        i = int(off[0]) + 1
        raise DataError(f"{path}, line {lines[i]}: timestamp {ts[i]} is {diffs[i - 1] / 1000:g} s "
                        f"after the previous candle, off the file's {step / 1000:g} s steps")


def _parse(path: Path, data: bytes) -> candle_cache.Columns:
    """Every row of the file's bytes (UTF-8), checked. A UTF-8 byte-order mark at the start
    (spreadsheet exports write one) is skipped (found by review: it made the header line 1's
    error, without a word about it)."""
    cols: list[list] = [[], [], [], [], [], []]
    lines: list[int] = []
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))
    try:
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != HEADER:
            raise DataError(f"{path}, line 1: expected the header {','.join(HEADER)}")
        _read_rows(path, reader, cols, lines)
    except UnicodeDecodeError:  # the reader decodes ahead: find the byte's line in the bytes
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise DataError(f"{path}, line {line}: not UTF-8 text (byte "
                            f"0x{data[exc.start]:02x})") from None
        raise
    return cols, lines


def _first_at_or_after(ts: list[int], ms: int) -> int:
    return bisect.bisect_left(ts, ms)


def fmt_ms(ms: int | None) -> str:
    """Epoch milliseconds as "YYYY-MM-DD HH:MM" (UTC) for a message; None: "-"."""
    if ms is None:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def counted(n: int, noun: str) -> str:
    """`n` and the noun, plural unless it is one ("1 gap", "30 candles")."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def describe_gaps(c: Candles, limit: int = 5) -> str:
    parts = [f"line {g.line}: {counted(c.missing_candles(g), 'candle')} missing after "
             f"{fmt_ms(g.after_ms)}"
             for g in c.gaps[:limit]]
    more = f" and {len(c.gaps) - limit} more" if len(c.gaps) > limit else ""
    return "; ".join(parts) + more


def coverage_holes(candles: dict[str, Candles]) -> dict[str, tuple[int, int]]:
    """Symbol -> (candles missing before its file starts, after it ends) against the span of
    all the run's files: a symbol whose data starts late or ends early is a hole too (found by
    review: it ran silently, its last price frozen, `gaps: []`). Only symbols with a hole."""
    if len(candles) < 2:
        return {}
    first = min(c.ts[0] for c in candles.values())
    last = max(c.ts[-1] + c.timeframe_ms for c in candles.values())
    holes = {}
    for sym, c in candles.items():
        before = (c.ts[0] - first) // c.timeframe_ms
        after = (last - c.ts[-1] - c.timeframe_ms) // c.timeframe_ms
        if before > 0 or after > 0:
            holes[sym] = (before, after)
    return holes


def describe_coverage(c: Candles, before: int, after: int) -> str:
    return (f"covers {fmt_ms(c.ts[0])} .. {fmt_ms(c.ts[-1] + c.timeframe_ms)} only: {before} "
            f"candles missing before it and {after} after it, against the other symbols' data")
