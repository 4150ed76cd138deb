"""A connection opened again after an outage gets `stale_s` to speak before the feed counts
it silent. The feed drops a connected but silent connection so it resubscribes ("connected but
silent for stream_stale_s"), measuring silence from the last message, and only the first
connection of the process got its grace: after any outage longer than `stale_s`, the first look
that saw the streams connected again found the last message (from before the outage) old and
dropped the fresh sockets before they could carry one, every time (an extra reconnect per
outage, each watcher failing once more, the venue's connection budget spent twice). Real
ccxt.pro binanceusdm against the WebSocket emulator (Bybit's private socket counts as up only
once the venue answers, which a silenced emulator does not)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from loguru import logger

from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.stream_tickers import StreamedTickerSource
from exchange.ccxt.streams import VenueStreams
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES, make_gateway
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.stream_rig import BTC, StreamRig
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.support.waiting import wait_until


class Counting:
    """The streams as the feed sees them, counting its looks and the reconnects it asks for."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.looks = 0
        self.reconnects = 0

    def start(self) -> None:
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()

    def reconnect(self) -> None:
        self.reconnects += 1
        self.inner.reconnect()

    def health(self) -> Any:
        self.looks += 1
        return self.inner.health()


def test_a_connection_back_after_an_outage_gets_stale_s_to_speak(tmp_path):
    stale_s = 3.0  # the feed looks every 0.1 s: a few looks are far inside it
    rig = StreamRig("binanceusdm", tmp_path, stale_s=stale_s)
    seen = Counting(rig.streams)
    rig.feed.attach(seen)
    rig.start()
    try:
        rig.wait_mode("stream")
        rig.ws.silence(True)  # nothing is sent from here on (a fresh socket included)
        rig.ws.refuse(True)
        rig.ws.drop_all()
        rig.wait_mode("rest")
        wait_until(lambda: (rig.streams.health().last_message_age_s or 0) >= stale_s,
                   timeout=30, message="an outage longer than stale_s")
        asked = seen.reconnects
        rig.ws.refuse(False)
        wait_until(lambda: rig.streams.health().connected, timeout=30, message="connected")
        looks = seen.looks
        wait_until(lambda: seen.looks >= looks + 3, message="the feed looked 3 times")
        assert seen.reconnects == asked  # the fresh sockets were not dropped as silent
        rig.ws.silence(False)
        rig.wait_mode("stream")
    finally:
        rig.stop()


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_dry_run_prices_give_a_connection_back_after_an_outage_stale_s_to_speak(venue_id,
                                                                                tmp_path):
    """The same in dry-run's price source (exchange/ccxt/stream_tickers.py)."""
    stale_s = 3.0
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    venue = BybitVenue(book) if venue_id == "bybit" else BinanceVenue(book)
    http = EmulatorServer(venue).start()
    ws = (start_bybit_ws(book, API_KEY, API_SECRET) if venue_id == "bybit"
          else start_binance_ws(book, venue))
    public = make_gateway(venue_id, http, tmp_path, credentials=None)
    build = pro_exchange_factory(venue_id, None, api_url=http.base_url, ws_url=ws.url,
                                 timeout_ms=3000)
    made: list[Counting] = []

    def streams_for(sink: Any) -> Counting:
        made.append(Counting(VenueStreams(build=build, symbols=[BTC], sink=sink, logger=logger,
                                          private=False, retry_s=0.2, markets=public.markets)))
        return made[-1]

    source = StreamedTickerSource(public, [BTC], interval_s=0.1, stale_s=stale_s,
                                  streams_for=streams_for)
    seen = made[0]
    try:
        source.start()
        wait_until(source.stream_healthy, message="ticker stream up")
        ws.silence(True)
        ws.refuse(True)
        ws.drop_all()
        wait_until(lambda: not seen.inner.health().connected, message="down")
        wait_until(lambda: (seen.inner.health().last_message_age_s or 0) >= stale_s,
                   timeout=30, message="an outage longer than stale_s")
        asked = seen.reconnects
        ws.refuse(False)
        wait_until(lambda: seen.inner.health().connected, timeout=30, message="connected")
        looks = seen.looks
        wait_until(lambda: seen.looks >= looks + 3, message="the source looked 3 times")
        assert seen.reconnects == asked  # the fresh socket was not dropped as silent
        ws.silence(False)
        wait_until(source.stream_healthy, message="ticker stream up again")
    finally:
        source.stop()
        ws.stop()
        http.stop()
