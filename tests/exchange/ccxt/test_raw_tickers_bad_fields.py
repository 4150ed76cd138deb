"""A venue's raw ticker message with a volume that is no number (NaN, infinite, empty, garbled)
or below 0 was taken as it came (exchange/ccxt/raw_tickers.py): a NaN 24 h volume passed on
with the price reached the strategy's min_volume filter, where every comparison with NaN is
False, and a garbled one became None (no volume: the filter off for that symbol). Now such a
message is dropped whole (its price too, and the last good volume is kept), with one line
naming the symbol and the field, and the symbol's later good messages are taken as usual.
Unit level with the real RawTickers in front of a stand-in handler, and end to end with the
real ccxt.pro class against the Bybit WebSocket emulator."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from loguru import logger

from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.raw_tickers import RawTickers
from exchange.ccxt.streams import VenueStreams
from exchange.records import VenueFill, VenueOrder, VenueTicker
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.test_raw_tickers import Venue, bybit, warned_on_a_clock
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.support.waiting import wait_until

D = Decimal
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
BAD_VOLUMES = ["NaN", "nan", "Infinity", "-Infinity", "-5", "", "oops", float("nan")]


def installed(venue_id: str) -> tuple[Venue, list[VenueTicker]]:
    ex = Venue(venue_id)
    got: list[VenueTicker] = []
    RawTickers(ex, [BTC, ETH], got.extend, lambda: None, logger).install()
    return ex, got


def mini(sym: str, close: Any, quote: Any) -> dict[str, Any]:
    return {"e": "24hrMiniTicker", "E": 1, "s": sym, "c": close, "o": close, "h": close,
            "l": close, "v": "1", "q": quote}


@pytest.mark.parametrize("bad", BAD_VOLUMES)
def test_a_bybit_message_with_a_bad_volume_is_dropped_and_the_last_good_volume_kept(bad):
    ex, got = installed("bybit")
    ex.handle_message(None, bybit("BTCUSDT", lastPrice="50000", turnover24h="123.4"))
    ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="50100", turnover24h=bad))
    ex.handle_message(None, bybit("BTCUSDT", "delta", turnover24h=bad))  # volume alone
    ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="50200"))
    assert [(t.last, t.quote_volume) for t in got] == [
        (D("50000"), D("123.4")), (D("50200"), D("123.4"))]
    assert ex.passed == []  # still a ticker message: never handed to ccxt's parser


@pytest.mark.parametrize("bad", BAD_VOLUMES)
def test_a_binance_row_with_a_bad_volume_is_dropped_and_the_others_delivered(bad):
    ex, got = installed("binanceusdm")
    ex.handle_message(None, [mini("BTCUSDT", "50000", "7"), mini("ETHUSDT", "3000", "9")])
    ex.handle_message(None, [mini("BTCUSDT", "50100", bad), mini("ETHUSDT", "3100", "10")])
    ex.handle_message(None, {"stream": "!miniTicker@arr", "data": [mini("BTCUSDT", "50200",
                                                                        "8")]})
    assert [(t.symbol, t.last, t.quote_volume) for t in got] == [
        (BTC, D("50000"), D("7")), (ETH, D("3000"), D("9")), (ETH, D("3100"), D("10")),
        (BTC, D("50200"), D("8"))]


def test_a_zero_volume_is_a_volume():
    ex, got = installed("bybit")
    ex.handle_message(None, bybit("BTCUSDT", lastPrice="50000", turnover24h="0"))
    assert [(t.last, t.quote_volume) for t in got] == [(D("50000"), D("0"))]


def said(symbol: str, field: str, value: str) -> str:
    return (f"stream: skipped a bad ticker for {symbol}: {field} {value!r} (said once until a "
            "good price comes, at most once a minute)\n")


def test_a_bad_volume_is_said_once_per_symbol_naming_the_field_until_a_good_price():
    with warned_on_a_clock("bybit") as (ex, got, clock, lines):
        for _ in range(20):
            ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="1", turnover24h="NaN"))
        ex.handle_message(None, bybit("ETHUSDT", lastPrice="3000", turnover24h="-1"))
        ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="50000"))
        clock[0] += 60
        ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="50001", turnover24h="inf"))
    assert [t.last for t in got] == [D("50000")]
    assert lines == [said(BTC, "24 h quote volume", "NaN"),
                     said(ETH, "24 h quote volume", "-1"),
                     said(BTC, "24 h quote volume", "inf")]


def test_bad_tickers_between_good_prices_are_said_at_most_once_a_minute():
    """A venue alternating good prices with bad volumes (each good price ends the "said once"
    of the bad one) wrote one warning per bad message, up to 10 a second per symbol."""
    with warned_on_a_clock("bybit") as (ex, got, clock, lines):
        for i in range(100):
            clock[0] += 0.1
            ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice=str(50000 + i)))
            ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="1", turnover24h="NaN"))
        ex.handle_message(None, bybit("ETHUSDT", lastPrice="3000", turnover24h="NaN"))
        clock[0] += 60  # a minute after BTC's line
        ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="49000"))
        ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="1", turnover24h="-5"))
    assert len(got) == 101  # every good price delivered, no bad one
    assert lines == [said(BTC, "24 h quote volume", "NaN"),
                     said(ETH, "24 h quote volume", "NaN"),
                     said(BTC, "24 h quote volume", "-5")]


class Sink:
    """Records what the streams deliver (a StreamSink)."""

    def __init__(self) -> None:
        self.tickers: list[VenueTicker] = []

    def on_tickers(self, tickers: list[VenueTicker]) -> None:
        self.tickers.extend(tickers)

    def on_fills(self, fills: list[VenueFill]) -> None:
        pass

    def on_orders(self, orders: list[VenueOrder]) -> None:
        pass

    def on_connection(self, connected: bool) -> None:
        pass

    def on_unstreamed(self, symbols: list[str]) -> None:
        pass

    def on_unreadable(self, symbol: str, client_order_id: str) -> None:
        pass

    def prices(self, symbol: str) -> list[tuple[Decimal | None, Decimal | None]]:
        return [(t.last, t.quote_volume) for t in list(self.tickers) if t.symbol == symbol]


def test_bad_volumes_on_the_bybit_stream_never_reach_the_sink_and_the_stream_reads_on():
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    http = EmulatorServer(BybitVenue(book)).start()
    ws = start_bybit_ws(book, API_KEY, API_SECRET, ticker_interval_s=0.5)
    sink = Sink()
    streams = VenueStreams(build=pro_exchange_factory("bybit", None, api_url=http.base_url,
                                                      ws_url=ws.url),
                           symbols=[BTC, ETH], sink=sink, logger=logger, private=False,
                           retry_s=0.2)
    try:
        streams.start()
        wait_until(lambda: streams.health().connected and ws.subscribed("tickers.BTCUSDT")
                   and sink.prices(BTC), timeout=15, message="the ticker stream")
        ws.send_raw("tickers.BTCUSDT", bybit("BTCUSDT", "delta", lastPrice="51111",
                                             turnover24h="NaN"))
        ws.send_raw("tickers.BTCUSDT", bybit("BTCUSDT", "delta", lastPrice="51112",
                                             turnover24h="-5"))
        ws.send_raw("tickers.BTCUSDT", bybit("BTCUSDT", "delta", lastPrice="52222"))
        wait_until(lambda: any(p == D("52222") for p, _ in sink.prices(BTC)),
                   message="the good price after the bad ones")
        prices = sink.prices(BTC)
        assert not [p for p, _ in prices if p in (D("51111"), D("51112"))], prices
        assert all(v == D("1000000") for _, v in prices), prices  # the emulator's turnover
        assert streams.health().connected
    finally:
        streams.stop()
        ws.stop()
        http.stop()


@pytest.mark.parametrize("bad", ["1e999999999", "1E+15"])
def test_a_price_no_market_trades_at_is_dropped_on_both_venues(bad):
    """A finite price far past any market's (1e999999999 overflowed the decision core's
    arithmetic: an actor crash per tick) is dropped like a NaN one."""
    ex, got = installed("bybit")
    ex.handle_message(None, bybit("BTCUSDT", lastPrice=bad, turnover24h="1"))
    ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="50000"))
    assert [t.last for t in got] == [D("50000")]
    ex, got = installed("binanceusdm")
    ex.handle_message(None, [mini("BTCUSDT", bad, "7"), mini("ETHUSDT", "3000", "9")])
    assert [(t.symbol, t.last) for t in got] == [(ETH, D("3000"))]
