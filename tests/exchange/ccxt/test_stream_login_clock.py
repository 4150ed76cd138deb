"""A machine clock behind the venue's by more than a Bybit login's 10 s validity: ccxt.pro
signed the private WebSocket login's `expires` with this machine's clock, ignoring the venue's
time the REST side had learned (venue_clock.py), so every login was refused and the private
streams (orders, executions) never came up. The login now signs with the same venue time as
REST, read at each login.

Real ccxt.pro bybit class against the Bybit WebSocket emulator, whose clock here runs 30 s
ahead of this machine's, and the real gateway against the HTTP emulator with the same clock
(its time endpoint and its signature check)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from loguru import logger

from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from exchange.records import VenueFill, VenueOrder, VenueTicker
from tests.exchange.ccxt import emu_auth
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue, ok
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
AHEAD_MS = 30_000
"""The venue's clock minus this machine's (ccxt's login is valid 10 s, a REST call 5 s)."""


class BybitAhead(BybitVenue):
    """The HTTP emulator with the venue's clock `ahead_ms` ahead of this machine's."""

    ahead_ms = AHEAD_MS

    def authenticate(self, method: str, path: str, query: str, body: str,
                     headers: Any) -> tuple[int, Any] | None:
        return emu_auth.bybit_refusal(path, method, query, body, headers, self.keys,
                                      offset_ms=self.ahead_ms)

    def h_v5_market_time(self, p: dict[str, Any]) -> tuple[int, Any]:
        now = emu_auth.now_ms() + self.ahead_ms
        return ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, now)


class Sink:
    """Records what the streams deliver (a StreamSink; no positions)."""

    def __init__(self) -> None:
        self.orders: list[VenueOrder] = []
        self.fills: list[VenueFill] = []

    def on_tickers(self, tickers: list[VenueTicker]) -> None:
        pass

    def on_fills(self, fills: list[VenueFill]) -> None:
        self.fills.extend(fills)

    def on_orders(self, orders: list[VenueOrder]) -> None:
        self.orders.extend(orders)

    def on_connection(self, connected: bool) -> None:
        pass

    def on_unstreamed(self, symbols: list[str]) -> None:
        pass

    def on_unreadable(self, symbol: str, client_order_id: str) -> None:
        pass


def test_the_private_streams_sign_with_the_venue_time_rest_learned(tmp_path):
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    venue = BybitAhead(book)
    http = EmulatorServer(venue).start()
    ws = start_bybit_ws(book, API_KEY, API_SECRET)
    ws.protocol.clock_offset_ms = AHEAD_MS
    gw = make_gateway("bybit", http, tmp_path, timeout_ms=10_000)
    sink = Sink()
    # as runtime/stream_wiring.py builds them: the gateway's meter goes to the streams' factory
    build = pro_exchange_factory("bybit", Credentials(API_KEY, API_SECRET, source="test"),
                                 api_url=http.base_url, ws_url=ws.url, timeout_ms=10_000,
                                 meter=gw.meter)
    streams = VenueStreams(build=build, symbols=[BTC, ETH], sink=sink, logger=logger,
                           retry_s=0.2, markets=gw.markets)
    try:
        gw.load_markets()  # refused for its timestamp once: the gateway reads the venue's time
        streams.start()
        wait_until(lambda: streams.health().connected and ws.subscribed("order")
                   and ws.subscribed("execution"), timeout=15,
                   message="the private streams up")
        assert ws.protocol.auth_failures == 0
        gw.create_order(BTC, "market", "buy", Decimal("0.01"), params={"clientOrderId": "c-1"})
        wait_until(lambda: any(f.client_order_id == "c-1" for f in list(sink.fills)),
                   timeout=15, message="our fill over the private stream")

        # the venue's clock moves on (the machine's fell further behind): REST learns it again,
        # and the next login, on a new connection, signs with the new difference
        venue.ahead_ms = ws.protocol.clock_offset_ms = 2 * AHEAD_MS
        gw.fetch_balance()  # refused once more, then signed with the new difference
        connects = ws.connects
        ws.drop_all()
        wait_until(lambda: ws.connects >= connects + 2 and streams.health().connected
                   and ws.subscribed("order") and ws.subscribed("execution"), timeout=15,
                   message="the streams back up")
        assert ws.protocol.auth_failures == 0
        gw.create_order(BTC, "market", "sell", Decimal("0.01"),
                        params={"clientOrderId": "c-2", "reduceOnly": True})
        wait_until(lambda: any(f.client_order_id == "c-2" for f in list(sink.fills)),
                   timeout=15, message="our fill over the new private stream")
    finally:
        streams.stop()
        gw.close()
        ws.stop()
        http.stop()
