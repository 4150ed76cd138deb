"""A stream rig for the stream tests: the HTTP and WebSocket emulators of one venue over one
book, the real gateway (REST), the real ccxt.pro streams, the real stream feed and REST feed,
and one real pykka actor per symbol that records what reaches its mailbox (prices through the
price slot, as the symbol actor takes them)."""

from __future__ import annotations

import itertools
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import OrderActivity, Reconcile, TickReady
from actors.price_slots import PriceSlots
from actors.stream_feed import StreamFeed
from exchange.budget_venues import fitting_poll_interval
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from runtime.exchanges import fills_poller
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES, make_gateway
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.exchange.ccxt.ws_emu_server import WsEmulator
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
SYMBOLS = [BTC, ETH]
PREFIX = "main-t1-"


class Recorder(pykka.ThreadingActor):
    """Stands in for the symbol actor: takes its price slot on each wake, records the rest."""

    def __init__(self, symbol: str, prices: PriceSlots) -> None:
        super().__init__()
        self.slot = prices.get(symbol)
        self.prices: list[Decimal] = []
        self.activity: list[OrderActivity] = []
        self.reconciles: list[Reconcile] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, TickReady):
            assert self.slot is not None
            tick = self.slot.take()
            if tick is not None:
                self.prices.append(tick.price)
        elif isinstance(message, OrderActivity):
            self.activity.append(message)
        elif isinstance(message, Reconcile):
            self.reconciles.append(message)


class StreamRig:
    def __init__(self, venue_id: str, tmp: Path, *, stale_s: float = 1.0,
                 poll_s: float = 0.05, views: dict[str, Any] | None = None,
                 share_markets: bool = True, confirm_s: float = 2.0,
                 silent_s: float | None = None) -> None:
        self.venue_id = venue_id
        self.book = Book(PRICES, now_ms=int(time.time() * 1000))
        self.venue: Any = BybitVenue(self.book) if venue_id == "bybit" else BinanceVenue(self.book)
        self.http = EmulatorServer(self.venue).start()
        self.ws: WsEmulator = (start_bybit_ws(self.book, API_KEY, API_SECRET)
                               if venue_id == "bybit" else start_binance_ws(self.book, self.venue))
        # the production default request timeout (10 s), not the fixtures' 2 s: no test of
        # this rig holds a REST answer, and at 2 s an order of rig.buy() timed out once on a
        # loaded machine (the test then failed on OrderOutcomeUnknown, not on what it checks)
        self.gateway: CcxtGateway = make_gateway(venue_id, self.http, tmp, timeout_ms=10_000)
        self.prices = PriceSlots(SYMBOLS)
        self.recorders = {s: Recorder.start(s, self.prices) for s in SYMBOLS}
        self.rest = MarketFeed(exchange=self.gateway, symbols=SYMBOLS, deliver=self._deliver,
                               # REST at the pace the venue budget allows, as the bot
                               # polls it (runtime.exchanges.rest_poll_interval)
                               interval_s=fitting_poll_interval(venue_id, poll_s, 0.5),
                               own_prefix=PREFIX, logger=logger,
                               fetch_fills=fills_poller(self.gateway, SYMBOLS), prices=self.prices,
                               quiet_wake_s=None,
                               gap_fills=fills_poller(self.gateway, SYMBOLS, forced=True))
        self.views: dict[str, Any] = views if views is not None else {}
        self.feed = StreamFeed(rest=self.rest, stale_s=stale_s, logger=logger, views=self.views,
                               silent_s=silent_s)
        build = pro_exchange_factory(venue_id, Credentials(API_KEY, API_SECRET, source="test"),
                                     api_url=self.http.base_url, ws_url=self.ws.url,
                                     timeout_ms=10_000, meter=self.gateway.meter)
        self.streams = VenueStreams(build=build, symbols=SYMBOLS, sink=self.feed, logger=logger,
                                    retry_s=0.2, confirm_s=confirm_s,
                                    markets=self.gateway.markets if share_markets else None)
        self.feed.attach(self.streams)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _deliver(self, symbol: str, message: Any) -> bool:
        self.recorders[symbol].tell(message)
        return True

    def start(self) -> StreamRig:
        self.feed.start()
        return self

    def stop(self) -> None:
        self.feed.stop()
        for ref in self.recorders.values():
            ref.stop()
        self.ws.stop()
        self.http.stop()

    # -- reading the recorders ----------------------------------------------------------------
    def prices_of(self, symbol: str) -> list[Decimal]:
        return list(self.recorders[symbol].proxy().prices.get(timeout=5))

    def activity_of(self, symbol: str) -> list[OrderActivity]:
        return list(self.recorders[symbol].proxy().activity.get(timeout=5))

    def reconciles_of(self, symbol: str) -> list[Reconcile]:
        return list(self.recorders[symbol].proxy().reconciles.get(timeout=5))

    def cids_delivered(self, symbol: str) -> list[str]:
        return [c for a in self.activity_of(symbol) for c in a.client_order_ids]

    # -- driving ------------------------------------------------------------------------------
    def wait_mode(self, mode: str, timeout: float = 45.0) -> None:
        """45 s: a retry that backed off (0.2 s doubling, a private socket the venue did not
        confirm within the rig's 2 s on a loaded machine) can take over 15 s to come back."""
        try:
            wait_until(lambda: self.feed.mode == mode, timeout=timeout, message=f"mode {mode}")
            if mode == "stream":  # the venue has taken every private subscription
                wait_until(lambda: all(self.ws.subscribed(t) for t in self.private_topics),
                           timeout=timeout, message="the private subscriptions")
        except AssertionError as exc:
            ex = self.streams._ex
            clients = {u: c.closed() for u, c in ex.clients.items()} if ex else None
            topics = [(c.path, sorted(c.topics)) for c in list(self.ws._conns)]  # noqa: SLF001
            raise AssertionError(f"{exc}: {self.streams.health()} clients {clients} "
                                 f"ws connects {self.ws.connects}, topics {topics}") from None

    @property
    def private_topics(self) -> list[str]:
        if self.venue_id != "bybit":
            return ["user"]  # Binance: the listenKey connection carries every private event
        watched = self.streams._on_positions is not None  # noqa: SLF001 - the rig's own parts
        return ["order", "execution"] + (["position"] if watched else [])

    def buy(self, symbol: str = BTC, amount: str = "0.01") -> str:
        with self._lock:
            cid = f"{PREFIX}{next(self._ids)}"
        self.gateway.create_order(symbol, "market", "buy", Decimal(amount),
                                  params={"clientOrderId": cid})
        return cid

    def wait_delivered(self, cid: str, symbol: str = BTC, timeout: float = 15.0) -> None:
        wait_until(lambda: cid in self.cids_delivered(symbol), timeout=timeout,
                   message=f"activity for {cid}")

    def mute(self, native: str, on: bool = True) -> None:
        """The stream stops carrying one symbol while it stays up: Bybit refuses its ticker
        topic (from the next subscription on), Binance's all-market arrays leave it out."""
        protocol = self.ws.protocol
        muted = (protocol.refused if self.venue_id == "bybit" else protocol.untraded)
        name = f"tickers.{native}" if self.venue_id == "bybit" else native
        (muted.add if on else muted.discard)(name)

    def ticker_calls(self, native: str) -> int:
        """REST ticker calls for `native` alone (a one-symbol ticker)."""
        path = "/v5/market/tickers" if self.venue_id == "bybit" else "/fapi/v1/ticker/24hr"
        return sum(1 for r in self.http.hits(path) if r.params.get("symbol") == native)

    def rest_polls(self) -> int:
        """REST ticker calls (Binance: the price ticker, rest_tickers.py, and ticker/24hr)."""
        if self.venue_id == "bybit":
            return len(self.http.hits("/v5/market/tickers"))
        return len(self.http.hits("/fapi/v2/ticker/price") + self.http.hits("/fapi/v1/ticker/24hr"))
