"""`bot.py download` writes only candles that have closed by the venue's clock too."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests.backtest.test_download import MINUTE, ROOT, START, KlineVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_server import EmulatorServer


def test_a_candle_still_trading_on_the_venue_is_not_written(tmp_path: Path) -> None:
    """Found by review: "closed" was judged by this machine's clock alone, so on a machine
    whose clock runs ahead of the venue's (here: years; a VM or WSL drifting a few seconds
    does the same at a candle's end) the venue's candle still trading was written with its
    prices so far, and a later run went on after it. The venue's clock is 30 s into candle
    number 99: candles 0..98 are written, 99 is not."""
    venue = KlineVenue(Book({"BTC/USDT:USDT": Decimal(30000)}), candles=100)
    venue.book.now_ms = START + 99 * MINUTE + 30_000  # candle 99 is still trading
    emu = EmulatorServer(venue).start()
    try:
        done = subprocess.run(
            [sys.executable, "bot.py", "download", "--exchange", "bybit", "--symbols",
             "BTC/USDT:USDT", "--timeframe", "1m", "--from", "2023-11-14T22:13", "--to",
             "2023-11-17", "--data", str(tmp_path), "--api-url", emu.base_url],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    finally:
        emu.stop()
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "BTC_USDT_USDT-1m.csv").read_text().splitlines()[1:]
    assert [int(x.split(",")[0]) for x in lines] == [START + i * MINUTE for i in range(99)]
