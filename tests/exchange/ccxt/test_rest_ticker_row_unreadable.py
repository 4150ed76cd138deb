"""One ticker row ccxt cannot parse (a "NaN" price) in the all-symbol ticker answer no longer
fails every symbol's REST price.

REST prices (the feed while the streams are down, the symbols the stream leaves silent) come
from one all-symbol ticker read (Binance ticker/24hr for every symbol of the venue, Bybit
tickers of the category); ccxt parses every row of it and its parser raises on a price that
is no number, so one garbled row of any market, one the bot does not even trade, failed the
read on every attempt and no symbol had a REST price. The read now takes the rows apart when
ccxt cannot parse the answer whole: the unreadable row is skipped, said once, and every other
symbol gets its price. Real ccxt classes against the emulators."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from tests.exchange.ccxt.ccxt_fixtures import make_gateway
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_one_unreadable_ticker_row_leaves_the_others_priced(exchange_id, tmp_path):
    book = Book({"BTCUSDT": D("50000"), "ETHUSDT": D("3000"), "SOLUSDT": D("100")})
    venue = (BinanceVenue if exchange_id == "binanceusdm" else BybitVenue)(book)
    emu = EmulatorServer(venue).start()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        gw = make_gateway(exchange_id, emu, tmp_path, symbols=[BTC, ETH])
        gw.load_markets()
        book.prices["SOLUSDT"] = D("NaN")  # a market the bot does not trade
        for _ in range(2):
            prices = {s: t.last for s, t in gw.fetch_tickers([BTC, ETH]).items()}
            assert prices == {BTC: D("50000"), ETH: D("3000")}
        assert len([line for line in lines if "SOLUSDT" in line]) == 1, lines

        book.prices["ETHUSDT"] = D("NaN")  # one the bot trades: no price for it, the rest go
        prices = {s: t.last for s, t in gw.fetch_tickers([BTC, ETH]).items()}
        assert prices == {BTC: D("50000")}
    finally:
        logger.remove(sink)
        emu.stop()
