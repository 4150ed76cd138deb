"""A venue's "too many requests" answer is honoured by `download`: the wait its `Retry-After`
header names is waited before the next request, not the retry's own 1 s backoff (found by
review: a 429 with `Retry-After: 7` was asked again after 1 s, and four more times within 15 s,
the "failing to back off" Binance answers with IP bans). A wait longer than a download should
sit through is one line, nothing asked again."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from backtest import candles as C
from backtest.download import DownloadError, _exchange, download_symbol
from tests.backtest.test_download import MINUTE, START, KlineVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_server import EmulatorServer

SYMBOL = "BTC/USDT:USDT"
REFUSED = {"retCode": 10006, "retMsg": "Too many visits"}


def _download_refused(tmp_path: Path, retry_after: str) -> tuple[list[float], int, Path]:
    """(the download's sleeps, kline requests, the file) after one 429 carrying
    `Retry-After: retry_after`."""
    venue = KlineVenue(Book({SYMBOL: Decimal(30000)}), candles=300)
    emu = EmulatorServer(venue).start()
    slept: list[float] = []
    try:
        ex = _exchange("bybit", emu.base_url)
        ex.load_markets()
        emu.fail_next("/v5/market/kline", 1, status=429, body=REFUSED,
                      headers={"Retry-After": retry_after})
        path, _ = download_symbol(ex, SYMBOL, "1m", START, START + 300 * MINUTE, tmp_path,
                                  limit=100, now_ms=lambda: venue.book.now_ms,
                                  sleep=slept.append)
        hits = len(emu.hits("/v5/market/kline"))
    finally:
        emu.stop()
    return slept, hits, path


def test_a_429_is_asked_again_only_after_its_retry_after(tmp_path: Path) -> None:
    slept, hits, path = _download_refused(tmp_path, "7")
    assert slept == [7.0]
    assert hits == 1 + 3  # the refused one, then three pages of 100
    assert C.load(path).ts == [START + i * MINUTE for i in range(300)]


def test_a_429_without_a_usable_retry_after_backs_off_as_before(tmp_path: Path) -> None:
    slept, _, _ = _download_refused(tmp_path, "soon")
    assert slept == [1.0]


def test_a_retry_after_beyond_what_a_download_waits_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as info:
        _download_refused(tmp_path, "7200")
    message = str(info.value)
    assert "\n" not in message
    assert "7200 s" in message and "fetch_ohlcv" in message and "run again" in message
