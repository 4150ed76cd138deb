"""Dry-run on streams: the paper exchange's live price source takes the venue's public ticker
stream (real ccxt.pro against the WS emulator), and REST polling only while it is silent."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from loguru import logger

from config.loader import load_settings
from exchange.ccxt.stream_tickers import StreamedTickerSource
from runtime.stream_wiring import dry_run_prices
from tests.e2e.bot_process import write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES, make_gateway
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
TICKERS = {"bybit": "/v5/market/tickers", "binanceusdm": "/fapi/v2/ticker/price"}


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_dry_run_prices_come_from_the_stream_and_from_rest_while_it_is_silent(tmp_path,
                                                                              venue_id):
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    venue = BybitVenue(book) if venue_id == "bybit" else BinanceVenue(book)
    http = EmulatorServer(venue).start()
    ws = (start_bybit_ws(book, API_KEY, API_SECRET) if venue_id == "bybit"
          else start_binance_ws(book, venue))
    settings = load_settings(write_config(
        tmp_path / "c.toml", [BTC, "ETH/USDT:USDT"], bot={"mode": "dry-run"},
        exchange={"id": venue_id, "api_url": http.base_url, "ws_url": ws.url,
                  "poll_interval_s": 0.1, "stream_stale_s": 3.0}))  # 1 s: a CI run took
    # a loaded moment for silence and polled REST once
    public = make_gateway(venue_id, http, tmp_path, credentials=None)
    source = dry_run_prices(settings, public)
    assert isinstance(source, StreamedTickerSource)
    try:
        source.start()
        # counted once the poll thread itself found the stream up (_was_healthy, set in its
        # round before it returns without polling): a REST poll it decided while the stream
        # was still down ran in an earlier round and has landed (stream_healthy() alone, seen
        # here first, let such a poll arrive after the count)
        wait_until(lambda: source.stream_healthy() and source._was_healthy,  # noqa: SLF001
                   message="ticker stream up, seen by the poll thread")
        polls = len(http.hits(TICKERS[venue_id]))
        book.set_price("BTCUSDT", Decimal("50500"))
        wait_until(lambda: (source.last(BTC) or (0, 0))[1] == Decimal("50500"),
                   message="stream price")
        assert len(http.hits(TICKERS[venue_id])) == polls  # no REST poll while streaming
        ws.silence(True)
        wait_until(lambda: not source.stream_healthy(), message="stream silent")
        book.set_price("BTCUSDT", Decimal("50600"))
        wait_until(lambda: (source.last(BTC) or (0, 0))[1] == Decimal("50600"),
                   message="REST price while the stream is silent")
        assert len(http.hits(TICKERS[venue_id])) > polls
    finally:
        source.stop()
        ws.stop()
        http.stop()


def test_dry_run_without_streams_polls_rest(tmp_path):
    settings = load_settings(write_config(
        tmp_path / "c.toml", [BTC], bot={"mode": "dry-run"},
        exchange={"id": "bybit", "streams": False}))
    source = dry_run_prices(settings, public=object())
    assert not isinstance(source, StreamedTickerSource)
    logger.info("dry-run REST ticker source: {}", type(source).__name__)


def test_dry_run_takes_a_refused_symbols_price_from_rest_while_the_stream_is_up(tmp_path):
    """Bybit refuses ETH's ticker topic: the stream still comes up for BTC, and ETH's price
    comes from one-symbol REST calls (exchange.stream_symbol_silent_s), not an all-symbol poll."""
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    http = EmulatorServer(BybitVenue(book)).start()
    ws = start_bybit_ws(book, API_KEY, API_SECRET)
    ws.protocol.refused.add("tickers.ETHUSDT")
    settings = load_settings(write_config(
        tmp_path / "c.toml", [BTC, "ETH/USDT:USDT"], bot={"mode": "dry-run"},
        exchange={"id": "bybit", "api_url": http.base_url, "ws_url": ws.url,
                  "poll_interval_s": 0.1, "stream_stale_s": 1.0,
                  "stream_symbol_silent_s": 1.0}))
    source = dry_run_prices(settings, make_gateway("bybit", http, tmp_path, credentials=None))
    try:
        source.start()
        wait_until(lambda: source.streams.refused and source.stream_healthy(),
                   message="ETH refused, the stream up again without it")
        book.set_price("ETHUSDT", Decimal("3155"))
        wait_until(lambda: (source.last("ETH/USDT:USDT") or (0, 0))[1] == Decimal("3155"),
                   timeout=15, message="ETH's price from REST")
        # counted from here: the stream has been up for ETH's silence (1 s), so an all-symbol
        # poll decided while it was down has landed (CI once counted one that arrived just after
        # the stream was seen healthy)
        before = len(http.hits(TICKERS["bybit"]))
        book.set_price("BTCUSDT", Decimal("50700"))
        wait_until(lambda: (source.last(BTC) or (0, 0))[1] == Decimal("50700"),
                   message="BTC from the stream")
        wait_until(lambda: len(http.hits(TICKERS["bybit"])) >= before + 3,
                   message="ETH polled on its own again")
        calls = http.hits(TICKERS["bybit"])[before:]
        assert calls and all(c.params.get("symbol") == "ETHUSDT" for c in calls), calls
        assert source.stream_healthy()
    finally:
        source.stop()
        ws.stop()


def test_dry_run_drops_a_connected_but_silent_ticker_stream_so_it_subscribes_again(tmp_path):
    """The venue stops pushing the ticker topics on a socket that stays open (its pings still
    answered, so ccxt.pro never replaces it). The live feed drops such a connection after
    stream_stale_s; dry-run's price source only polled REST, at its slower fallback pace, for
    as long as that socket lived. Now it drops it too, and the stream carries prices again."""
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    http = EmulatorServer(BybitVenue(book)).start()
    ws = start_bybit_ws(book, API_KEY, API_SECRET)
    settings = load_settings(write_config(
        tmp_path / "c.toml", [BTC, "ETH/USDT:USDT"], bot={"mode": "dry-run"},
        exchange={"id": "bybit", "api_url": http.base_url, "ws_url": ws.url,
                  "poll_interval_s": 0.1, "stream_stale_s": 1.0}))
    source = dry_run_prices(settings, make_gateway("bybit", http, tmp_path, credentials=None))
    assert isinstance(source, StreamedTickerSource)
    try:
        source.start()
        wait_until(lambda: source.stream_healthy(), message="ticker stream up")
        connects = ws.connects
        for sym in PRICES:  # the last message of each topic, then none on this socket
            ws.end_topic(f"tickers.{sym}", lambda conn, s=sym: ws.protocol.snapshot(
                f"tickers.{s}"), "/v5/public")
        wait_until(lambda: not source.stream_healthy(), message="stream silent")
        wait_until(lambda: ws.connects > connects and source.stream_healthy(), timeout=20,
                   message="subscribed again on a new connection")
        book.set_price("BTCUSDT", Decimal("50800"))
        wait_until(lambda: (source.last(BTC) or (0, 0))[1] == Decimal("50800"),
                   message="the stream's price")
    finally:
        source.stop()
        ws.stop()
        http.stop()


def test_a_dry_run_on_streams_leaves_out_a_price_the_venue_stopped_giving(tmp_path):
    """The venue gives no price at all (its ticker stream silent, its REST tickers failing):
    the wired price source (streams on, the default) says the symbol's price is stale once
    `stream_symbol_silent_s` + `stream_stale_s` + two REST polls have passed, so the paper
    exchange leaves it out and `risk.max_price_age_s` refuses entries on it (the paper book
    went on answering the last price as fresh: tests/actors/test_dry_run_stale_venue_price.py
    proves the rest of that path on a hand-built LiveTickerSource, not on this wiring)."""
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    http = EmulatorServer(BybitVenue(book)).start()
    ws = start_bybit_ws(book, API_KEY, API_SECRET)
    settings = load_settings(write_config(
        tmp_path / "c.toml", [BTC], bot={"mode": "dry-run"},
        exchange={"id": "bybit", "api_url": http.base_url, "ws_url": ws.url,
                  "poll_interval_s": 0.1, "stream_stale_s": 0.5,
                  "stream_symbol_silent_s": 1.0}))
    source = dry_run_prices(settings, make_gateway("bybit", http, tmp_path, credentials=None))
    assert isinstance(source, StreamedTickerSource)
    try:
        source.start()
        wait_until(lambda: source.last(BTC) is not None and source.stream_healthy(),
                   message="the stream's price")
        assert not source.stale(BTC)
        http.fail_next(TICKERS["bybit"], 100_000, status=503, body="down")
        ws.silence(True)  # the venue gives no price, stream nor REST
        wait_until(lambda: source.stale(BTC), timeout=20,
                   message="the price no venue gave for longer than the stale time said stale")
    finally:
        source.stop()
        ws.stop()
        http.stop()


class _DownStreams:
    """The ticker stream as the source sees it: down (REST carries the prices)."""

    def health(self):
        from exchange.ccxt.streams import StreamHealth
        return StreamHealth(connected=False, last_message_age_s=None, reconnects=0,
                            last_error="")

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reconnect(self) -> None: ...


def test_a_rest_price_asked_before_a_streamed_one_does_not_replace_it():
    """While the stream is down REST polls, but the stream often still delivers: a price it
    delivers during a REST call is newer than the one the call brings back. Both were stamped
    on receipt, so the older REST price replaced the stream's, and the paper exchange filled
    (or left unfilled) dry-run stops on it (the live feed keeps the newer one: PriceMarks)."""
    from exchange.records import VenueTicker

    class Rest:
        def __init__(self) -> None:
            self.source: StreamedTickerSource | None = None
            self.during: Decimal | None = None  # a streamed price that arrives during the call

        def fetch_tickers(self, symbols):
            asked = {BTC: VenueTicker(symbol=BTC, last=Decimal("50000"))}  # priced as asked
            if self.during is not None:
                assert self.source is not None
                self.source.on_tickers([VenueTicker(symbol=BTC, last=self.during)])
            return asked  # ...and answered after the stream's newer price arrived

    rest = Rest()
    source = StreamedTickerSource(rest, [BTC], interval_s=1.0, stale_s=1.0,
                                  streams_for=lambda sink: _DownStreams())
    rest.source = source
    rest.during = Decimal("50100")
    source.poll_once()
    assert source.last(BTC)[1] == Decimal("50100")
    rest.during = None  # a REST price asked after the stream's last one is the newer one
    source.poll_once()
    assert source.last(BTC)[1] == Decimal("50000")


def test_dry_run_with_api_url_and_no_ws_url_says_the_streams_are_off(tmp_path):
    """README (Streams, Dry-run): with `api_url` set but `ws_url` empty the streams are off,
    logged once, so a proxy is never bypassed. Live said so; dry-run polled REST silently, and
    a person who expected the stream saw no reason for the REST prices."""
    settings = load_settings(write_config(
        tmp_path / "c.toml", [BTC], bot={"mode": "dry-run"},
        exchange={"id": "bybit", "api_url": "http://127.0.0.1:9"}))
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        source = dry_run_prices(settings, public=object())
    finally:
        logger.remove(sink)
    assert not isinstance(source, StreamedTickerSource)
    said = [m for m in lines if "exchange.streams off" in m]
    assert len(said) == 1 and "exchange.api_url" in said[0] and "ws_url" in said[0], lines
