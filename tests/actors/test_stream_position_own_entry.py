"""An entry of our own on a venue whose order answers take a while: the position stream tells the
new position before the actor has booked it and placed its stop (the actor publishes once the
message is decided), so the stream feed's difference outlives its 0.5 s grace. Found by a live
run against the Bybit emulator (helper e): on a healthy run, 3 of ~16 entries logged
`WARNING position stream: net -0.6 on the venue, 0 in our books; reconciling` ~0.2 s AFTER
the actor had logged `PositionOpened` for that very position.

The Reconcile still goes to the actor (it may be needed: a change by hand), and the actor asks
when its turn comes whether the difference is still there (`Reconcile.needed`); only then is it
worth a warning. Real parts: a real SymbolActor, the real ccxt gateway and ccxt.pro streams,
the Bybit HTTP and WebSocket emulators, the real stream feed."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pykka
from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import ExternalSignal
from actors.stream_feed import StreamFeed
from actors.symbol_actor import ActorDeps, SymbolActor
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from runtime.exchanges import fills_poller
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.actors.live_emulator import WallTime
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.primitives import Side
from trading.rules import Rules

BTC = "BTC/USDT:USDT"
ANSWER_S = 0.6
"""How late the venue answers an order create, after it acted: the entry's and its stop's
answers keep the actor on the entry's message ~1.2 s, past the feed's 0.5 s grace."""


class SlowOrders:
    """The Bybit emulator answering each order create `ANSWER_S` after it processed it (its
    position message is already on the stream by then)."""

    def __init__(self, venue: BybitVenue) -> None:
        self.venue = venue

    def route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        answer = self.venue.route(method, path, params)
        if method == "POST" and path == "/v5/order/create":
            time.sleep(ANSWER_S)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venue, name)


def test_an_own_entry_the_actor_is_still_booking_logs_no_position_warning(tmp_path):
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING",
                      filter=lambda r: r["message"].startswith("position stream"))
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    emu = EmulatorServer(SlowOrders(BybitVenue(book))).start()
    ws = start_bybit_ws(book, API_KEY, API_SECRET)
    gateway = make_gateway("bybit", emu, tmp_path, fake=WallTime(), timeout_ms=10_000)
    repo = Repository(tmp_path / "bot.sqlite")
    views: dict[str, Any] = {}
    rules = Rules(symbol=BTC, account="main", id_tag=repo.id_tag,
                  market=market_rules(gateway, BTC), risk=make_rules().risk)
    ref = SymbolActor.start(BTC, ActorDeps(
        exchange=gateway, repo=repo, core_for=lambda s: SymbolCore(rules), strategy_for=None,
        logger=logger, report=lambda *a: None, views=views, on_escalate=lambda *a: None))

    def deliver(symbol: str, message: Any) -> bool:
        ref.tell(message)
        return True

    rest = MarketFeed(exchange=gateway, symbols=[BTC], deliver=deliver, interval_s=0.2,
                      own_prefix="main-", logger=logger,
                      fetch_fills=fills_poller(gateway, [BTC]), quiet_wake_s=None)
    feed = StreamFeed(rest=rest, stale_s=2.0, logger=logger, views=views)
    build = pro_exchange_factory("bybit", Credentials(API_KEY, API_SECRET, source="test"),
                                 api_url=emu.base_url, ws_url=ws.url, timeout_ms=10_000)
    feed.attach(VenueStreams(build=build, symbols=[BTC], sink=feed, logger=logger, retry_s=0.2))
    feed.start()
    try:
        wait_until(lambda: feed.mode == "stream" and ws.subscribed("position"), timeout=30,
                   message="streams up, the position topic taken")
        wait_until(lambda: BTC in views, message="the actor published its start")
        ref.tell(ExternalSignal(side=Side.LONG))
        wait_until(lambda: views[BTC].view().protected, timeout=20, message="protected long")
        # the stream told the position while the actor was still on the entry: a Reconcile
        # went out (the race this test is about took place), and the actor found it settled
        wait_until(lambda: feed.positions.reconciles >= 1
                   and feed.positions.settled == feed.positions.reconciles, timeout=10,
                   message="the position stream's Reconcile found settled by the actor")
        assert book.position("BTCUSDT")[0] == Decimal(views[BTC].view().position["contracts"])
        assert warnings == []
    finally:
        feed.stop()
        pykka.ActorRegistry.stop_all()
        logger.remove(sink)
        repo.close()
        gateway.close()
        ws.stop()
        emu.stop()
