"""A dry run's price source says when its ticker stream goes down and comes back, as the live
feed does ("streams down: ... from REST", "streams up"). The dry run's status has no streams
block, and the source said nothing of its switches: the first failed dial of a dropped stream
was one warning, its return nothing, and a connected stream gone silent (REST taking over
after stream_stale_s) nothing at all (seen on the Bybit emulator: prices frozen for 10 s, then
REST, without a line). Real ccxt.pro against the WS emulator, the real ccxt gateway."""

from __future__ import annotations

import time

from config.loader import load_settings
from exchange.ccxt.stream_tickers import StreamedTickerSource
from runtime.stream_wiring import dry_run_prices
from tests.e2e.bot_process import write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
UP, DOWN = "dry-run prices: from the venue's ticker stream", "prices from REST until it recovers"


def test_a_dry_run_says_when_its_price_stream_goes_silent_and_comes_back(tmp_path, lines):
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    http = EmulatorServer(BybitVenue(book)).start()
    ws = start_bybit_ws(book, API_KEY, API_SECRET)
    settings = load_settings(write_config(
        tmp_path / "c.toml", [BTC], bot={"mode": "dry-run"},
        exchange={"id": "bybit", "api_url": http.base_url, "ws_url": ws.url,
                  "poll_interval_s": 0.1, "stream_stale_s": 1.0}))
    source = dry_run_prices(settings, make_gateway("bybit", http, tmp_path, credentials=None))
    assert isinstance(source, StreamedTickerSource)

    def said(text: str) -> int:
        return sum(text in line for line in lines)

    try:
        source.start()
        wait_until(lambda: said(UP) == 1, message="the stream up, said")
        ws.silence(True)  # connected, nothing sent
        wait_until(lambda: said(DOWN) == 1, message="the silent stream, said")
        ws.silence(False)
        wait_until(lambda: said(UP) == 2, message="the stream back, said")
    finally:
        source.stop()
        ws.stop()
        http.stop()
    assert said(DOWN) == 1 and all("WARNING" in line for line in lines if DOWN in line), lines
