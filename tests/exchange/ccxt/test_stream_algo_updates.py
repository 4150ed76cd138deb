"""Binance USDⓈ-M stop (algo) orders on the user data stream, through the real ccxt.pro class
against the WebSocket emulator: an ALGO_UPDATE that says the stop TRIGGERED or FINISHED is
never a fill by itself. TRIGGERED: the stop works on (its order is in the matching engine);
FINISHED: what that order executed there (`aq` at `ap`), nothing being a stop that ended
unfilled (reaches the mailbox like a cancel). The fill is the triggered order's own trade."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import ccxt
import ccxt.pro
import pytest
from loguru import logger

from actors.order_results import events_for
from exchange.ccxt import convert
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from exchange.records import VenueFill, VenueOrder, VenueOrderStatus
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES, make_gateway
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.stream_rig import BTC, PREFIX, StreamRig
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws
from tests.support.waiting import wait_until
from trading.events import OrderAccepted, OrderCanceled, OrderFilled

D = Decimal
STOP = f"{PREFIX}stop-1"


class Sink:
    """What the streams hand on, as they hand it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.orders: list[VenueOrder] = []
        self.fills: list[VenueFill] = []
        self.connected = False

    def on_tickers(self, tickers) -> None:
        pass

    def on_fills(self, fills) -> None:
        with self.lock:
            self.fills += fills

    def on_orders(self, orders) -> None:
        with self.lock:
            self.orders += orders

    def on_connection(self, connected: bool) -> None:
        self.connected = connected

    def on_unstreamed(self, symbols) -> None:
        pass

    def updates_of(self, order_id: str) -> list[VenueOrder]:
        with self.lock:
            return [o for o in self.orders if o.id == order_id]


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.book = Book(PRICES, now_ms=int(time.time() * 1000))
        self.venue = BinanceVenue(self.book)
        self.http = EmulatorServer(self.venue).start()
        self.ws = start_binance_ws(self.book, self.venue)
        self.gateway = make_gateway("binanceusdm", self.http, tmp)
        self.sink = Sink()
        build = pro_exchange_factory("binanceusdm", Credentials(API_KEY, API_SECRET, source="test"),
                                     api_url=self.http.base_url, ws_url=self.ws.url,
                                     timeout_ms=3000, meter=self.gateway.meter)
        self.streams = VenueStreams(build=build, symbols=[BTC], sink=self.sink, logger=logger,
                                    retry_s=0.2, markets=self.gateway.markets)

    def start(self) -> Rig:
        self.streams.start()
        wait_until(lambda: self.sink.connected and self.ws.subscribed("user"), timeout=15,
                   message="the user data stream")
        return self

    def stop(self) -> None:
        self.streams.stop()
        self.ws.stop()
        self.http.stop()

    def held_stop(self) -> VenueOrder:
        """A long with its stop, the stop triggered: its order rests in the matching engine."""
        self.gateway.create_order(BTC, "market", "buy", D("0.01"),
                                  params={"clientOrderId": f"{PREFIX}1"})
        stop = self.gateway.create_order(BTC, "market", "sell", D("0.01"), params={
            "clientOrderId": STOP, "reduceOnly": True, "stopLossPrice": D("49000")})
        self.book.hold_children = True
        self.book.set_price("BTCUSDT", D("48900"))
        assert stop.id is not None
        return stop


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path).start()
    try:
        yield r
    finally:
        r.stop()


def _update(rig: Rig, order_id: str, count: int) -> VenueOrder:
    updates = wait_until(lambda: (u := rig.sink.updates_of(order_id)) and len(u) >= count and u,
                         message=f"update {count} of order {order_id}")
    return updates[count - 1]


def test_a_triggered_stop_on_the_stream_is_still_working_not_a_fill(rig):
    stop = rig.held_stop()
    triggered = _update(rig, stop.id, 2)  # NEW, then TRIGGERED
    assert (triggered.status, triggered.filled, triggered.average) == (
        VenueOrderStatus.OPEN, 0, None)
    assert events_for(STOP, triggered, pending=False) == [
        OrderAccepted(client_order_id=STOP, exchange_id=stop.id)]


def test_a_finished_stop_reports_what_its_order_executed_and_the_fill_is_that_orders_trade(rig):
    stop = rig.held_stop()
    _update(rig, stop.id, 2)
    rig.book.fill_children()  # its order fills at 48900: algoStatus FINISHED
    finished = _update(rig, stop.id, 3)
    assert finished.status is VenueOrderStatus.CLOSED
    assert (finished.filled, finished.average) == (D("0.01"), D("48900"))  # aq at ap
    child = rig.book.find(cid=STOP).extra["actualOrderId"]
    fills = wait_until(lambda: [f for f in rig.sink.fills if f.order_id == child],
                       message="the triggered order's trade")
    assert [(f.price, f.amount) for f in fills] == [(D("48900"), D("0.01"))]
    assert not [f for f in rig.sink.fills if f.order_id == stop.id]
    # booked from the lookup: the triggered order's fill, at its price, with its fee
    found = rig.gateway.fetch_order(stop.id, BTC, {"clientOrderId": STOP, "trigger": True})
    (event,) = events_for(STOP, found, pending=False)
    assert isinstance(event, OrderFilled)
    assert (event.filled, event.average, event.fee) == (
        D("0.01"), D("48900"), rig.book.fees_of(rig.book.orders[child]))


def test_a_stop_whose_order_ended_unfilled_is_no_fill(rig):
    stop = rig.held_stop()
    _update(rig, stop.id, 2)
    rig.book.cancel_children()  # canceled in the engine: FINISHED, nothing executed
    finished = _update(rig, stop.id, 3)
    assert (finished.status, finished.filled) == (VenueOrderStatus.CANCELED, 0)
    found = rig.gateway.fetch_order(stop.id, BTC, {"clientOrderId": STOP, "trigger": True})
    assert events_for(STOP, found, pending=False) == [OrderCanceled(client_order_id=STOP)]
    assert rig.book.trades[-1].order.cid == f"{PREFIX}1"  # the entry's: the stop never filled


def test_the_stop_that_ended_unfilled_reaches_the_mailbox_at_once(tmp_path):
    r = StreamRig("binanceusdm", tmp_path).start()
    try:
        r.wait_mode("stream")
        r.buy()
        r.gateway.create_order(BTC, "market", "sell", D("0.01"), params={
            "clientOrderId": STOP, "reduceOnly": True, "stopLossPrice": D("49000")})
        r.book.hold_children = True
        r.book.set_price("BTCUSDT", D("48900"))
        r.book.cancel_children()
        r.wait_delivered(STOP)  # the stop is gone: the actor looks it up and protects again
    finally:
        r.stop()


def _algo_update(status: str, **engine: str) -> dict:
    body = {"caid": STOP, "aid": 2148719, "at": "CONDITIONAL", "o": "STOP_MARKET",
            "s": "BTCUSDT", "S": "SELL", "ps": "BOTH", "f": "GTC", "q": "0.01", "X": status,
            "ai": "" if status in ("NEW", "CANCELED") else "8886774", "tp": "49000", "p": "0",
            "V": "EXPIRE_MAKER", "wt": "CONTRACT_PRICE", "pm": "NONE", "cp": False,
            "pP": False, "R": True, "tt": 0, "gtd": 0, "rm": "", "T": 1750515742297, **engine}
    return ccxt.pro.binanceusdm().parse_ws_order(body)


@pytest.mark.parametrize(("status", "engine", "expected"), [
    ("NEW", {}, ("open", D(0))),
    ("TRIGGERING", {}, ("open", D(0))),
    ("TRIGGERED", {"ap": "0.00000", "aq": "0.00000", "act": "MARKET"}, ("open", D(0))),
    ("FINISHED", {"ap": "48890.5", "aq": "0.004", "act": "MARKET"}, ("closed", D("0.004"))),
    ("FINISHED", {"ap": "0.00000", "aq": "0.00000", "act": "MARKET"}, ("canceled", D(0))),
    ("CANCELED", {}, ("canceled", D(0))),
    ("EXPIRED", {}, ("expired", D(0))),
])
def test_each_algo_status_as_ccxt_pro_parses_it(status, engine, expected):
    order = convert.order(_algo_update(status, **engine), settle="USDT")
    assert (order.status.value, order.filled) == expected
    assert order.fee is None and order.trigger_price == D("49000")


def test_a_finished_update_without_its_executed_quantity_cannot_be_read():
    with pytest.raises(ccxt.BadResponse, match="aq"):
        convert.order(_algo_update("FINISHED"), settle="USDT")
