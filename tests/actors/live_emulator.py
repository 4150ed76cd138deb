"""A real SymbolActor (pykka thread, SQLite) trading through the real ccxt gateway against a
venue emulator on 127.0.0.1: the shared rig of the issue 12 actor tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import ExternalSignal, Ping, Reconcile
from actors.stream_feed import StreamFeed
from actors.symbol_actor import ActorDeps, SymbolActor
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from runtime.exchanges import fills_poller
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.exchange.ccxt import emu_binance, emu_bybit
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES, FakeTime, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from tests.trading.test_grid_core import rules as grid_rules
from trading.commands import Escalate
from trading.decide import SymbolCore
from trading.grid.core import GridCore
from trading.model import Side
from trading.rules import Rules

BTC = "BTC/USDT:USDT"
START = Decimal("10000")


@dataclass
class Live:
    emu: EmulatorServer
    book: Book
    ref: Any
    alerts: list[Escalate]
    gateway: CcxtGateway
    views: dict[str, Any] = field(default_factory=dict)
    prefix: str = "main-"
    """The client ids' account prefix (the grid rig trades as account "acc")."""

    def sync(self) -> None:
        self.ref.ask(Ping(), timeout=10)

    def reconcile(self, times: int) -> None:
        for _ in range(times):
            self.ref.tell(Reconcile(reason="test"))
        self.sync()

    def stops(self) -> list[Any]:
        return [o for o in self.book.orders.values()
                if o.trigger is not None and o.status == "untriggered"]

    def position(self) -> Decimal:
        return self.book.position("BTCUSDT")[0]

    def view(self) -> Any:
        return self.ref.proxy().view.get(timeout=10)

    def deliver(self, symbol: str, message: Any) -> bool:
        assert symbol == BTC
        self.ref.tell(message)
        return True


class WallTime:
    """The real clock and sleep, for a rig whose rate-budget waits must take real time."""

    clock = staticmethod(time.time)
    sleep = staticmethod(time.sleep)


@contextmanager
def live_long(tmp_path: Path, exchange_id: str = "bybit", *,
              trades_lag_s: float = 0.0, wall_time: bool = False,
              timeout_ms: int = 10000, backoff_s: float = 0.5,
              port: Callable[[CcxtGateway], Any] | None = None,
              grid: bool = False, grid_over: dict[str, Any] | None = None,
              entries_blocked: Callable[[], bool] = lambda: False) -> Iterator[Live]:
    """A protected long on BTC through a real actor, the gateway and the emulator (Binance:
    its trade list lagging `trades_lag_s` behind its orders). `wall_time`: the gateway waits
    in real time (else its clock only moves when it sleeps). `backoff_s`: the gateway's first
    retry backoff (doubling from there). `port`: what the actor trades
    through, built around the gateway (default: the gateway itself). `grid`: a hedge grid
    instead (Bybit, hedge mode), yielded once both legs are open, each with its stop;
    `grid_over`: its rules changed from the grid tests' (e.g. max_close_attempts).
    `entries_blocked`: the account's block (the supervisor's kill switch or stop)."""
    # the book's clock is the wall clock, so "fills since the position opened" finds its trades
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    book.hedge = grid
    venue = (emu_bybit.BybitVenue(book) if exchange_id == "bybit"
             else emu_binance.BinanceVenue(book, trades_lag_s=trades_lag_s))
    emu = EmulatorServer(venue).start()
    fake: Any = WallTime() if wall_time else FakeTime(time.time())
    gateway = make_gateway(exchange_id, emu, tmp_path, fake=fake, timeout_ms=timeout_ms,
                           backoff_base_s=backoff_s, backoff_max_s=max(8.0, backoff_s),
                           hedge_mode=grid)
    repo = Repository(tmp_path / "bot.sqlite")
    alerts: list[Escalate] = []
    views: dict[str, Any] = {}

    # as runtime/wiring.py builds it: stop moves amend where the gateway can (Bybit)
    risk = make_rules(amend_stops=gateway.can_amend_stops).risk

    def core_for(symbol: str) -> SymbolCore | GridCore:
        if grid:
            return GridCore(grid_rules(symbol=symbol, id_tag=repo.id_tag,
                                       market=market_rules(gateway, symbol),
                                       **(grid_over or {})))
        return SymbolCore(Rules(symbol=symbol, account="main", id_tag=repo.id_tag,
                                market=market_rules(gateway, symbol), risk=risk))

    deps = ActorDeps(exchange=gateway if port is None else port(gateway), repo=repo,
                     core_for=core_for, strategy_for=None,
                     logger=logger, report=lambda *args: None, views=views,
                     on_escalate=lambda symbol, esc: alerts.append(esc),
                     entries_blocked=entries_blocked)
    ref = SymbolActor.start(BTC, deps)
    bot = Live(emu, book, ref, alerts, gateway, views, prefix="acc-" if grid else "main-")
    try:
        if grid:  # its start's price opens both legs
            wait_until(lambda: {bot.book.leg_of(o) for o in bot.stops()} == {"long", "short"},
                       message="both legs open, each with its stop")
        else:
            ref.tell(ExternalSignal(side=Side.LONG))
            wait_until(lambda: bot.stops() and bot.view().protected, message="protected long")
        yield bot
    finally:
        pykka.ActorRegistry.stop_all()
        repo.close()
        gateway.close()
        emu.stop()


@contextmanager
def streamed(bot: Live, exchange_id: str = "bybit", *, gap_fills: bool = False) -> Iterator[Any]:
    """The venue's WebSocket emulator over `bot`'s book, the real ccxt.pro streams and the
    real stream feed (with its REST feed) delivering to `bot`'s actor; yields the feed once
    the streams are up and the venue takes the order topic. `gap_fills`: the REST feed reads
    the streams' gaps (forced fills poll)."""
    ws = (start_bybit_ws(bot.book, API_KEY, API_SECRET) if exchange_id == "bybit"
          else start_binance_ws(bot.book, bot.emu.venue))
    gaps = {"gap_fills": fills_poller(bot.gateway, [BTC], forced=True)} if gap_fills else {}
    rest = MarketFeed(exchange=bot.gateway, symbols=[BTC], deliver=bot.deliver,
                      interval_s=0.2, own_prefix=bot.prefix, logger=logger,
                      fetch_fills=fills_poller(bot.gateway, [BTC]), quiet_wake_s=None, **gaps)
    feed = StreamFeed(rest=rest, stale_s=2.0, logger=logger, views=bot.views)
    build = pro_exchange_factory(exchange_id, Credentials(API_KEY, API_SECRET, source="test"),
                                 api_url=bot.emu.base_url, ws_url=ws.url, timeout_ms=3000)
    feed.attach(VenueStreams(build=build, symbols=[BTC], sink=feed, logger=logger,
                             retry_s=0.2))
    feed.start()
    try:
        wait_until(lambda: feed.mode == "stream", timeout=15, message="streams up")
        topic = "order" if exchange_id == "bybit" else "user"
        wait_until(lambda: ws.subscribed(topic), message=f"the venue taking {topic!r}")
        yield feed
    finally:
        feed.stop()
        ws.stop()
