"""Replay of recorded candles (ccxt `fetch_ohlcv` CSV layout) as a price source.

Candle i occupies wall time [epoch + i*step, epoch + (i+1)*step) and yields four points at
quarter-steps: open, then the extremes in the order a bar of that colour would take them
(up bar: low then high; down bar: high then low), then close. After the last candle the price
holds at the last close (no more points).

Volumes: the ticker's 24 h volume at a moment is the sum of the volumes of the candles whose
recorded timestamps lie in the 24 h up to the candle being replayed then (base volume as
recorded; quote volume = each candle's volume times its close).
"""

from __future__ import annotations

import bisect
import csv
import itertools
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
DAY_MS = 24 * 3600 * 1000
PRICE_FACTOR = Decimal("1e9")
"""Every price lies within this factor of the file's first open. With the paper markets' ticks
(derived: > 1e-5 of the first price; known: >= 1e-5 near a reference price) every price then
rounds to the tick within Decimal's 28 digits, whatever range of the file is replayed."""
PRICE_LIMITS = (Decimal("1e-20"), Decimal("1e20"))
"""The first open lies between these (the markets derive their steps from it in floats)."""
VOLUME_LIMIT = Decimal("1e30")
"""The largest candle volume read (real ones stay below 1e20 even in a meme coin's units).
Found by review: a volume like 1E+999999999 passed, and the 24 h quote volume (volume x
close) overflowed Decimal's range: a `decimal.Overflow` traceback (the backtest's
backtest/volumes.py, and paper mode's price source at start)."""


def price_bounds(first_open: Decimal) -> tuple[Decimal, Decimal]:
    """The prices a file whose first open is `first_open` may hold (see PRICE_FACTOR)."""
    lo, hi = PRICE_LIMITS
    return max(first_open / PRICE_FACTOR, lo), min(first_open * PRICE_FACTOR, hi)


class NoPrices(KeyError):
    """A symbol without a candle file (e.g. one the paper store still holds a position of)."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"CsvPriceSource has no data for {symbol}")
        self.symbol = symbol


class _Volumes:
    """Prefix sums of one file's candle volumes, for 24 h windows by recorded timestamp."""

    def __init__(self, stamps: list[int], base: list[Decimal], quote: list[Decimal]) -> None:
        self.stamps = stamps
        self.base = list(itertools.accumulate(base, initial=Decimal(0)))
        self.quote = list(itertools.accumulate(quote, initial=Decimal(0)))

    def day_up_to(self, index: int) -> tuple[Decimal, Decimal]:
        first = bisect.bisect_right(self.stamps, self.stamps[index] - DAY_MS, 0, index + 1)
        return (self.base[index + 1] - self.base[first], self.quote[index + 1] - self.quote[first])


_PLAIN = r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
VALUE = re.compile(rf"{_PLAIN}|-?(?:nan|inf|infinity)", re.IGNORECASE)
"""A candle value as ccxt's `fetch_ohlcv` numbers are written (Python's str() of an int or a
float: digits, an optional "." and exponent, a "-"), or a NaN / infinity, which the checks then
name as not finite. Decimal() alone also took "1_000.5", " 5", "+5", "NaN12" and digits of other
scripts (found by review: "1_000.5", a malformed field, read as 1000.5). Paper mode's CSV prices
and the backtest read a file by this one rule."""
TIMESTAMP = re.compile(r"-?[0-9]+")


def _parse_row(path: Path, line_no: int, row: list[str]) -> tuple[Decimal, ...]:
    where = f"{path}, line {line_no}"
    if len(row) != len(HEADER):
        raise ValueError(f"{where}: expected {len(HEADER)} fields, got {len(row)}: {row!r}")
    bad = next((i for i, (f, form) in enumerate(zip(row, (TIMESTAMP, *[VALUE] * 5),
                                                    strict=True)) if not form.fullmatch(f)), None)
    if bad is not None:  # as the backtest refuses it, in its words (backtest/candles.py)
        rule = ("a timestamp is whole milliseconds since the epoch, digits only" if bad == 0
                else "a value is digits with an optional '.' and exponent")
        raise ValueError(f"{where}: not a number in {','.join(row)} ({row[bad][:40]!r}: {rule}, "
                         "as ccxt gives them; no spaces, '_' or '+')")
    try:
        o, h, low, c, v = (Decimal(field) for field in row[1:])
    except InvalidOperation as exc:
        raise ValueError(f"{where}: not a number in {row!r}") from exc
    if v < 0:
        raise ValueError(f"{where}: volume must not be negative: {row!r}")
    if not all(x.is_finite() and x > 0 for x in (o, h, low, c)) or not v.is_finite():
        raise ValueError(f"{where}: prices must be finite and positive: {row!r}")
    if v > VOLUME_LIMIT:  # as the backtest refuses it (backtest/candles.py)
        raise ValueError(f"{where}: outlier volume {row[5]}: volumes must be at most "
                         f"{VOLUME_LIMIT:.0e}")
    if low > min(o, c) or h < max(o, c):
        raise ValueError(f"{where}: high/low do not contain open/close: {row!r}")
    return o, h, low, c, v


def one_line_rows(path: Path, reader: Any,
                  error: type[ValueError] = ValueError) -> Iterator[list[str]]:
    """The reader's rows, each one line of the file (paper mode's and the backtest's readers,
    backtest/candles.py with its DataError as `error`). A quote (") not closed on its line made
    the csv module read on to the next quote: the error named a later line (the file's last,
    printing the rest of the file), and past the module's field limit it was a `csv.Error`
    (`unexpected Error in run` at the bot's start; found by running bot.py on such a file, and
    by review of the backtest). One line naming the line the quote opens on."""
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise error(f"{path}, line {start}: not a CSV row ({exc}; a quote "
                        "not closed?)") from None
        if reader.line_num != start:
            raise error(f"{path}, line {start}: a quote (\") is not closed on its line")
        yield row
        start = reader.line_num + 1


def load_candles(path: Path, scale: Decimal = Decimal(1)) -> list[tuple[Decimal, ...]]:
    """(open, high, low, close, volume) per candle, prices multiplied by `scale`."""
    path = Path(path)
    candles: list[tuple[Decimal, ...]] = []
    bounds: tuple[Decimal, Decimal] | None = None
    with path.open(newline="", encoding="utf-8-sig") as handle:  # a leading BOM is skipped
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != HEADER:
            raise ValueError(f"{path}, line 1: expected header {','.join(HEADER)}, got {header!r}")
        for row in one_line_rows(path, reader):
            if not row or all(not field.strip() for field in row):
                continue
            *prices, volume = _parse_row(path, reader.line_num, row)
            prices = [x * scale for x in prices]
            if bounds is None and not PRICE_LIMITS[0] <= prices[0] <= PRICE_LIMITS[1]:
                raise ValueError(f"{path}, line {reader.line_num}: first open {prices[0]} is "
                                 f"outside {PRICE_LIMITS[0]:.0e} .. {PRICE_LIMITS[1]:.0e}")
            bounds = bounds or price_bounds(prices[0])
            if min(prices) < bounds[0] or max(prices) > bounds[1]:  # as the backtest refuses
                # it (found by review: the paper market's steps failed with InvalidOperation)
                raise ValueError(f"{path}, line {reader.line_num}: outlier price: prices must lie "
                                 f"in {bounds[0]:.3e} .. {bounds[1]:.3e} (a factor "
                                 f"{PRICE_FACTOR:.0e} around the file's first open, within "
                                 f"{PRICE_LIMITS[0]:.0e} .. {PRICE_LIMITS[1]:.0e})")
            stamp = int(row[0])
            if candles and stamp <= candles[-1][-1]:  # the 24 h volumes bisect the stamps
                raise ValueError(f"{path}, line {reader.line_num}: timestamp {stamp} is not after "
                                 f"the previous row's {int(candles[-1][-1])} (rows must be in "
                                 "time order, each timestamp once)")
            candles.append((*prices, volume, Decimal(stamp)))
    if not candles:
        raise ValueError(f"{path}: no candles")
    return candles


def candle_points(candle: tuple[Decimal, ...]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    o, h, low, c = candle[:4]
    return (o, low, h, c) if c >= o else (o, h, low, c)


class CsvPriceSource:
    """Replays OHLC candles, one candle per `step_ms` of wall time starting at `epoch_ms`."""

    def __init__(
        self,
        *,
        files: dict[str, Path],
        step_ms: int,
        epoch_ms: int,
        scale: dict[str, Decimal] | None = None,
    ) -> None:
        if step_ms < 4:
            raise ValueError("step_ms must be at least 4 (four points per candle)")
        self.step_ms = int(step_ms)
        self.epoch_ms = int(epoch_ms)
        scale = scale or {}
        self._candles = {
            symbol: load_candles(Path(path), Decimal(scale.get(symbol, 1)))
            for symbol, path in files.items()
        }
        self._volumes = {
            symbol: _Volumes([int(c[5]) for c in candles], [c[4] for c in candles],
                             [c[4] * c[3] for c in candles])
            for symbol, candles in self._candles.items()
        }

    @property
    def symbols(self) -> list[str]:
        return list(self._candles)

    def _require(self, symbol: str) -> list[tuple[Decimal, ...]]:
        try:
            return self._candles[symbol]
        except KeyError:
            raise NoPrices(symbol) from None

    def initial_price(self, symbol: str) -> Decimal:
        return self._require(symbol)[0][0]

    def volume_24h(self, symbol: str, at_ms: int) -> tuple[Decimal, Decimal]:
        """(base, quote) volume of the 24 h of recorded candles up to the one replayed at
        `at_ms` (the first candle before the replay starts, the last one after it ends)."""
        volumes = self._volumes[symbol]
        index = min(max((int(at_ms) - self.epoch_ms) // self.step_ms, 0), len(volumes.stamps) - 1)
        return volumes.day_up_to(index)

    def _point_time(self, index: int) -> int:
        """Wall time of point `index` (4 per candle, at quarter steps)."""
        candle, quarter = divmod(index, 4)
        return self.epoch_ms + candle * self.step_ms + quarter * self.step_ms // 4

    def _first_index_after(self, ms: int, count: int) -> int:
        """Smallest point index whose time is > ms (binary search; times are increasing)."""
        lo, hi = 0, count
        while lo < hi:
            mid = (lo + hi) // 2
            if self._point_time(mid) > ms:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def last_point(self, symbol: str, from_ms: int, to_ms: int) -> tuple[int, Decimal] | None:
        """The last point of `path(symbol, from_ms, to_ms)`, without building the others."""
        candles = self._require(symbol)
        index = self._first_index_after(int(to_ms), 4 * len(candles)) - 1
        if index < 0 or self._point_time(index) <= from_ms:
            return None
        candle, quarter = divmod(index, 4)
        return self._point_time(index), candle_points(candles[candle])[quarter]

    def path(self, symbol: str, from_ms: int, to_ms: int) -> list[tuple[int, Decimal]]:
        candles = self._require(symbol)
        count = 4 * len(candles)
        start = self._first_index_after(int(from_ms), count)
        points: list[tuple[int, Decimal]] = []
        index = start
        while index < count:
            ts = self._point_time(index)
            if ts > to_ms:
                break
            candle, quarter = divmod(index, 4)
            points.append((ts, candle_points(candles[candle])[quarter]))
            index += 1
        return points
