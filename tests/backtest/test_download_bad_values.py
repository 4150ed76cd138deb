"""`bot.py download` never writes a candle the backtest would refuse: a venue row with a value
that is not a finite number (ccxt reads a venue's "NaN" or "inf" as a float), a price not
above 0 or a negative volume is refused in one line naming the candle (its time and values);
the file keeps the candles before its page, resumable."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.backtest.test_download import MINUTE, START, KlineVenue, MinuteVenue, _download
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_server import EmulatorServer


class NanKlineVenue(KlineVenue):
    """Bybit's kline answer with "NaN" as the open of candle 1,500 (a venue's null field)."""

    def h_v5_market_kline(self, p: dict[str, Any]) -> tuple[int, Any]:
        status, body = super().h_v5_market_kline(p)
        for row in body["result"]["list"]:
            if int(row[0]) == START + 1_500 * MINUTE:
                row[1] = "NaN"
        return status, body


def test_a_nan_from_the_venue_is_one_line_and_never_written(tmp_path: Path) -> None:
    """Found by review: ccxt read the venue's "NaN" as float nan, the download wrote `nan` into
    the file and said it was done; the backtest then refused the file."""
    emu = EmulatorServer(NanKlineVenue(Book({"BTC/USDT:USDT": Decimal(30000)}),
                                       candles=2_500)).start()
    try:
        proc = _download(emu, tmp_path / "candles", "--limit", "1000")
        out, err = proc.communicate(timeout=120)
    finally:
        emu.stop()
    assert proc.returncode == 2, err
    ts = START + 1_500 * MINUTE
    assert err == (f"bot.py: error: BTC/USDT:USDT: the venue answered the candle at "
                   f"2023-11-15 23:13 with a value that is not a finite number ({ts}, nan, "
                   "30050.0, 30040.0, 30046.0, 2.5); the file keeps the candles before it (run "
                   "again to retry)\n")
    folder = tmp_path / "candles"
    assert not (folder / "BTC_USDT_USDT-1m.csv").exists()
    part = (folder / "BTC_USDT_USDT-1m.csv.part").read_text()
    assert "nan" not in part.lower() and len(part.splitlines()) == 1 + 1_000  # the first page


@pytest.mark.parametrize("row, why", [
    ([100, float("inf"), 99, 100, 1], "a value that is not a finite number"),
    ([100, 101, 99, 100, float("nan")], "a value that is not a finite number"),
    ([0, 101, 0, 100, 1], "a price that is not positive"),
    ([100, 101, 99, 100, -1], "a negative volume"),
    (["x", 101, 99, 100, 1], "a value that is not a number"),
    # the reader refuses these texts (tests/backtest/test_candle_values.py): never written
    ([" 100", 101, 99, 100, 1], "a value that is not a plain number"),
    ([100, "1_01", 99, 100, 1], "a value that is not a plain number"),
    ([100, 101, 99, 100, True], "a value that is not a plain number"),
])
def test_a_row_the_backtest_would_refuse_is_refused_naming_the_candle(
        tmp_path: Path, row: list[Any], why: str) -> None:
    from backtest import candles as C
    from backtest.download import DownloadError, download_symbol

    bad_ts = START + 150 * MINUTE

    class Venue(MinuteVenue):
        def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int,
                        params: dict[str, Any]) -> list[list[Any]]:
            rows = super().fetch_ohlcv(symbol, timeframe, since, limit, params)
            return [[r[0], *row] if r[0] == bad_ts else r for r in rows]

    venue = Venue(now_ms=START + 1_000 * MINUTE)
    with pytest.raises(DownloadError) as caught:
        download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 300 * MINUTE, tmp_path,
                        limit=100, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    assert str(caught.value) == (
        f"BTC/USDT:USDT: the venue answered the candle at 2023-11-15 00:43 with {why} "
        f"({', '.join(map(str, [bad_ts, *row]))}); the file keeps the candles before it (run "
        "again to retry)")
    part = tmp_path / "BTC_USDT_USDT-1m.csv.part"
    assert len(part.read_text().splitlines()) == 1 + 100  # the pages before it, nothing of its
    part.rename(tmp_path / "x.csv")
    assert len(C.load(tmp_path / "x.csv")) == 100  # what was written backtests


def _venue_repeating(row_at: int, repeat: list[Any] | None) -> Any:
    """A venue that answers the candle at `row_at` twice (the second time as `repeat`, or the
    same), and its page out of order."""

    class Venue(MinuteVenue):
        def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int,
                        params: dict[str, Any]) -> list[list[Any]]:
            rows = super().fetch_ohlcv(symbol, timeframe, since, limit, params)
            extra = [list(r) if repeat is None else [r[0], *repeat]
                     for r in rows if r[0] == row_at]
            return list(reversed(rows)) + extra

    return Venue(now_ms=START + 1_000 * MINUTE)


def test_a_candle_answered_twice_is_written_once_and_the_file_backtests(tmp_path: Path) -> None:
    """Found by review: the same candle twice in one answer was written twice; the backtest
    then refused the file (duplicate timestamp). An answer out of order is put in order."""
    from backtest import candles as C
    from backtest.download import download_symbol

    venue = _venue_repeating(START + 150 * MINUTE, None)
    path, written = download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 300 * MINUTE,
                                    tmp_path, limit=100, now_ms=lambda: venue.now_ms,
                                    sleep=lambda s: None)
    assert written == 300
    loaded = C.load(path)
    assert len(loaded) == 300 and list(loaded.ts) == [START + i * MINUTE for i in range(300)]


def test_a_candle_answered_twice_with_different_values_is_one_line(tmp_path: Path) -> None:
    from backtest.download import DownloadError, download_symbol

    at = START + 150 * MINUTE
    venue = _venue_repeating(at, [100, 102, 99, 101, 1])
    with pytest.raises(DownloadError) as caught:
        download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 300 * MINUTE, tmp_path,
                        limit=100, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    assert str(caught.value) == (
        f"BTC/USDT:USDT: the venue answered the candle at 2023-11-15 00:43 twice with different "
        f"values ({at}, 100, 101, 99, 100, 1 and {at}, 100, 102, 99, 101, 1); the file keeps "
        "the candles before its page (run again to retry)")
