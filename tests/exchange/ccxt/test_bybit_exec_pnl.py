"""Bybit's realized P&L of a fill: `execPnl` on /v5/execution/list and the `execution` topic,
the P&L of the part that closed, before fees (Bybit: "consistent with cashFlow in the
transaction log", which excludes trading and funding fees), the port's `realized_pnl` meaning.
Real ccxt classes against the HTTP and WebSocket emulators sharing one book."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from loguru import logger

from actors.fill_pnl import order_pnl
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from exchange.records import VenueFill
from tests.exchange.ccxt.ccxt_fixtures import (
    API_KEY,
    API_SECRET,
    PRICES,
    FakeTime,
    make_gateway,
    start_emulator,
)
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
GROSS = (D("50500") - D("50000")) * D("0.01")
"""Closing 0.01 of a long entered at 50,000 at 50,500, fees not deducted."""


def _open_then_close(book: Book) -> None:
    book.place(cid="p-open", symbol="BTCUSDT", side="buy", type="market", qty=D("0.02"),
               price=None, trigger=None, trigger_direction=None, reduce_only=False)
    book.set_price("BTCUSDT", D("50500"))
    book.place(cid="p-close", symbol="BTCUSDT", side="sell", type="market", qty=D("0.01"),
               price=None, trigger=None, trigger_direction=None, reduce_only=True)


def test_rest_fills_carry_the_venues_pnl_before_fees(tmp_path):
    fake = FakeTime()
    emu = start_emulator("bybit")
    try:
        gw = make_gateway("bybit", emu, tmp_path, fake=fake)
        gw.load_markets()
        _open_then_close(emu.venue.book)
        fills = {f.client_order_id: f for f in gw.fetch_my_trades(BTC)}
        assert fills["p-open"].realized_pnl == 0
        closing = fills["p-close"]
        assert closing.realized_pnl == GROSS and closing.fee_cost > 0
        # what the hedge grid books for the order (actors/fill_pnl.py): the venue's figure
        assert order_pnl(gw, BTC, "p-close", fake.now) == GROSS
    finally:
        emu.stop()


class Fills:
    def __init__(self) -> None:
        self.fills: list[VenueFill] = []

    def on_fills(self, fills: list[VenueFill]) -> None:
        self.fills.extend(fills)

    def on_tickers(self, tickers: list[Any]) -> None: ...

    def on_orders(self, orders: list[Any]) -> None: ...

    def on_connection(self, connected: bool) -> None: ...

    def on_unstreamed(self, symbols: list[str]) -> None: ...


def test_streamed_fills_carry_the_venues_pnl_before_fees():
    book = Book(PRICES)
    http = EmulatorServer(BybitVenue(book)).start()
    ws = start_bybit_ws(book, API_KEY, API_SECRET)
    sink = Fills()
    build = pro_exchange_factory("bybit", Credentials(API_KEY, API_SECRET, source="test"),
                                 api_url=http.base_url, ws_url=ws.url, timeout_ms=3000)
    streams = VenueStreams(build=build, symbols=[BTC], sink=sink, logger=logger, retry_s=0.2)
    streams.start()
    try:
        wait_until(lambda: ws.subscribed("execution"), timeout=15, message="execution topic")
        _open_then_close(book)
        wait_until(lambda: len(sink.fills) == 2, timeout=15, message="both fills streamed")
        pnl = {f.client_order_id: f.realized_pnl for f in sink.fills}
        assert pnl == {"p-open": 0, "p-close": GROSS}
    finally:
        streams.stop()
        ws.stop()
        http.stop()
