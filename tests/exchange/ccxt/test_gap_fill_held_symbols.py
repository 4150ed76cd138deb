"""The streams' gap fill on a venue that needs a symbol per trade read (Binance userTrades)
reads every symbol holding a position, not only those whose size changed. ActiveSymbols asks
for the trades of symbols ordered or changed in size within a minute ("any fill changes a
position's size"), but two fills can net out: a grid's take-profit and a re-entry level of the
same leg filled while the socket was gone leave the size as it was, no stream message carries
them, and the gap fill skipped the symbol, so its actor heard of neither until a periodic
reconcile. A gap fill is rare (after a reconnect, once more 5 s later): every held symbol is
read then (5 weight each on Binance). Real gateway against the Binance HTTP emulator."""

from __future__ import annotations

from decimal import Decimal

from tests.exchange.ccxt.ccxt_fixtures import PRICES, FakeTime, make_gateway
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def _by_hand(book: Book, cid: str, side: str) -> None:
    book.place(cid=cid, symbol="BTCUSDT", side=side, type="market", qty=Decimal("0.01"),
               price=None, trigger=None, trigger_direction=None, reduce_only=False)


def test_a_gap_fill_reads_a_held_symbol_whose_fills_net_out(tmp_path):
    book = Book(PRICES)
    http = EmulatorServer(BinanceVenue(book)).start()
    fake = FakeTime()
    gw = make_gateway("binanceusdm", http, tmp_path, fake=fake)
    try:
        gw.create_order(BTC, "market", "buy", Decimal("0.01"),
                        params={"clientOrderId": "main-t1-1"})
        since = book.now_ms + 1
        gw.fetch_positions()  # a reconcile's read: BTC holds 0.01
        fake.sleep(120)  # that order is long past ActiveSymbols' window
        # while the socket was gone: a resting take-profit and a re-entry level filled
        _by_hand(book, "main-t1-tp", "sell")
        _by_hand(book, "main-t1-lvl", "buy")
        assert book.position("BTCUSDT")[0] == Decimal("0.01")  # the size is as it was
        gap = gw.poll_updates(since, [BTC, ETH], forced=True)  # the streams' gap fill
        assert sorted(f.client_order_id or "" for f in gap) == ["main-t1-lvl", "main-t1-tp"]
    finally:
        http.stop()
