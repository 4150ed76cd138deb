"""The configured leverage is set on the venue before a symbol's first entry (actors/leverage.py):
a real SymbolActor (pykka thread, SQLite) through the real ccxt gateway against the Bybit and
Binance emulators on 127.0.0.1. The venue's leverage is the config's after the first entry; a
refused leverage keeps the entry from being sent and the journal says why, and the next entry
asks again; later orders that grow a position (the grid's other leg, its levels) do not ask
again; stops and closes never ask."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.leverage import LeverageSetter
from actors.messages import ExternalSignal, OrderActivity, Ping
from actors.symbol_actor import ActorDeps, SymbolActor
from exchange.ccxt.gateway import CcxtGateway
from runtime.wiring import market_rules
from storage import reports
from storage.repository import Repository
from tests.actors.live_emulator import WallTime
from tests.actors.test_reconcile_set_aside import no_weight_left
from tests.exchange.ccxt import emu_binance, emu_bybit
from tests.exchange.ccxt.ccxt_fixtures import PRICES, FakeTime, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from tests.trading.test_grid_core import rules as grid_rules
from trading.decide import SymbolCore
from trading.grid.core import GridCore
from trading.model import Side
from trading.rules import Rules

BTC = "BTC/USDT:USDT"
SET = {"bybit": "/v5/position/set-leverage", "binanceusdm": "/fapi/v1/leverage"}
CREATE = {"bybit": "/v5/order/create", "binanceusdm": "/fapi/v1/order"}


@dataclass
class Rig:
    emu: EmulatorServer
    venue: Any
    book: Book
    gateway: CcxtGateway
    repo: Repository
    ref: Any = None
    deps: Any = None
    """The actor's dependencies (`ActorDeps`): a restart starts another actor with them."""

    def sync(self) -> None:
        self.ref.ask(Ping(), timeout=10)

    def view(self) -> Any:
        return self.ref.proxy().view.get(timeout=10)

    def paths(self) -> list[str]:
        return [r.path for r in self.emu.requests if r.method == "POST"]

    def journal(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.repo.read(reports.journal, BTC, None, 200) if e["type"] == kind]


@contextmanager
def rig(tmp_path: Path, exchange_id: str, leverage: int, *, hedge: bool = False,
        instruments: list[dict[str, Any]] | None = None,
        core: Callable[[CcxtGateway, Repository, str], Any] | None = None,
        wall_time: bool = False) -> Iterator[Rig]:
    """An actor on BTC whose account sets `leverage` (a one-way core unless `core` builds
    another) through the gateway on the emulator (`instruments`: Bybit's listing).
    `wall_time`: the gateway's rate budget waits in real time."""
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    book.hedge = hedge
    venue = (emu_bybit.BybitVenue(book, instruments) if exchange_id == "bybit"
             else emu_binance.BinanceVenue(book))
    emu = EmulatorServer(venue).start()
    fake: Any = WallTime() if wall_time else FakeTime(time.time())
    gateway = make_gateway(exchange_id, emu, tmp_path, fake=fake, hedge_mode=hedge)
    repo = Repository(tmp_path / "bot.sqlite")
    risk = make_rules(amend_stops=gateway.can_amend_stops, entry_retry_s=0.0,
                      leverage=leverage).risk

    def one_way(symbol: str) -> SymbolCore:
        return SymbolCore(Rules(symbol=symbol, account="main", id_tag=repo.id_tag,
                                market=market_rules(gateway, symbol), risk=risk))

    deps = ActorDeps(exchange=gateway, repo=repo, strategy_for=None, logger=logger,
                     core_for=one_way if core is None else lambda s: core(gateway, repo, s),
                     report=lambda *args: None, on_escalate=lambda symbol, esc: None,
                     leverage=LeverageSetter(gateway, leverage))
    r = Rig(emu, venue, book, gateway, repo, deps=deps)
    try:
        r.ref = SymbolActor.start(BTC, deps)
        yield r
    finally:
        pykka.ActorRegistry.stop_all()
        repo.close()
        gateway.close()
        emu.stop()


def protected_long(r: Rig) -> None:
    r.ref.tell(ExternalSignal(side=Side.LONG))
    wait_until(lambda: r.view().protected, message="protected long")


def test_bybit_entry_sets_the_configured_leverage_first(tmp_path):
    with rig(tmp_path, "bybit", 5) as r:
        assert r.venue.leverage_of("BTCUSDT") == Decimal("10")  # the venue's default
        protected_long(r)
        assert r.venue.leverage_of("BTCUSDT") == Decimal("5")
        posts = r.paths()
        assert posts.count(SET["bybit"]) == 1
        assert posts.index(SET["bybit"]) < posts.index(CREATE["bybit"])  # before the entry


def test_binance_entry_sets_the_configured_leverage_first(tmp_path):
    with rig(tmp_path, "binanceusdm", 3) as r:
        assert r.venue.leverage_of("BTCUSDT") == 20
        protected_long(r)
        assert r.venue.leverage_of("BTCUSDT") == 3
        posts = r.paths()
        assert posts.count(SET["binanceusdm"]) == 1
        assert posts.index(SET["binanceusdm"]) < posts.index(CREATE["binanceusdm"])


def test_not_modified_is_success(tmp_path):
    with rig(tmp_path, "bybit", 10) as r:  # what the venue already has: retCode 110043
        protected_long(r)
        assert r.venue.leverage_of("BTCUSDT") == Decimal("10")
        assert r.paths().count(SET["bybit"]) == 1
        assert r.journal("OrderFailed") == []


def test_a_refused_leverage_keeps_the_entry_from_being_sent_and_says_why(tmp_path):
    low = [{**row, "leverageFilter": {**row["leverageFilter"], "maxLeverage": "4.00"}}
           for row in emu_bybit.INSTRUMENTS]
    with rig(tmp_path, "bybit", 5, instruments=low) as r:
        r.ref.tell(ExternalSignal(side=Side.LONG))
        wait_until(lambda: r.journal("OrderFailed"), message="the entry failed")
        r.sync()
        assert CREATE["bybit"] not in r.paths()  # the entry was never sent
        assert r.book.position("BTCUSDT")[0] == 0
        (failed,) = r.journal("OrderFailed")
        error = failed["data"]["error"]
        assert BTC in error and "leverage 5x not set on bybit" in error
        assert "leverage invalid" in error  # the venue's answer
        assert r.venue.leverage_of("BTCUSDT") == Decimal("10")
        r.venue.instruments = emu_bybit.INSTRUMENTS  # the venue allows it now
        protected_long(r)  # the next entry asks again, and is sent
        assert r.paths().count(SET["bybit"]) == 2
        assert r.venue.leverage_of("BTCUSDT") == Decimal("5")


def test_hedge_grid_sets_it_once_for_both_legs_and_its_levels(tmp_path):
    def grid(gateway: CcxtGateway, repo: Repository, symbol: str) -> GridCore:
        return GridCore(grid_rules(symbol=symbol, id_tag=repo.id_tag, leverage=7,
                                   market=market_rules(gateway, symbol)))

    with rig(tmp_path, "bybit", 7, hedge=True, core=grid) as r:
        def both_legs_open() -> bool:
            return (r.book.position("BTCUSDT", "long")[0] != 0
                    and r.book.position("BTCUSDT", "short")[0] != 0)

        wait_until(both_legs_open, message="both legs open")
        wait_until(lambda: sum(o.trigger is None and o.status == "open"
                               for o in r.book.orders.values()) >= 2, message="levels rest")
        r.sync()
        posts = r.paths()
        assert posts.count(SET["bybit"]) == 1  # the second leg and the levels did not ask
        assert posts.index(SET["bybit"]) < posts.index(CREATE["bybit"])
        assert r.venue.leverage_of("BTCUSDT") == Decimal("7")


def test_after_a_restart_a_close_never_asks_for_the_leverage(tmp_path):
    """Stops and closes never ask (README, Trading live, "Leverage": "never ahead of a stop or
    a close; stops and closes never wait for it"). Mutation audit (helper strat): with every
    order asking (actors/command_executor.py `_create` without its `reduce_only` exception) no
    test failed, as each test's entry had set the leverage first in the same process. After a
    restart nothing is remembered: a position restored from storage had its close (and its
    stop's moves) ask the venue first, and a refusal (here the symbol's maximum dropped below
    the config's 5x; a timeout or the rate budget short alike) kept the close from being sent,
    the position open with its loss running."""
    low = [{**row, "leverageFilter": {**row["leverageFilter"], "maxLeverage": "4.00"}}
           for row in emu_bybit.INSTRUMENTS]
    with rig(tmp_path, "bybit", 5) as r:
        protected_long(r)
        r.ref.stop()  # the process ends: its leverage setter remembered BTC
        r.venue.instruments = low  # the venue now refuses 5x
        restarted = dataclasses.replace(r.deps, leverage=LeverageSetter(r.gateway, 5))
        r.ref = SymbolActor.start(BTC, restarted)
        wait_until(lambda: r.view().protected, message="the restored long is protected")
        before = len(r.paths())
        r.ref.tell(ExternalSignal(side=None))
        wait_until(lambda: r.book.position("BTCUSDT")[0] == 0, message="the long closed")
        r.sync()
        assert SET["bybit"] not in r.paths()[before:], r.paths()[before:]
        assert r.paths().count(SET["bybit"]) == 1  # the first process's entry only


def test_a_leverage_set_waiting_for_budget_gives_way_to_an_order_report(tmp_path):
    """Found by the cluster failover bench (bench/bench_failover.py --seed 32): after a
    takeover each symbol's first entry sets the leverage, and a set waiting for rate budget is
    set aside when an order report arrives (exchange/fence.py `preemptible`), as designed. But
    LeverageSetter took the `Preempted` for the venue's refusal: a WARNING `create_order ...
    not sent: XRP/USDT:USDT: leverage 2x not set on bybit (Preempted: an order report is
    waiting ...)`, naming a venue that was never asked. Set aside, it is an entry set aside
    (actors/command_executor.py `_not_sent`): never sent, said at INFO, the next entry asks."""
    warned: list[str] = []
    sink = logger.add(lambda m: warned.append(m.record["message"]), level="WARNING")
    try:
        with rig(tmp_path, "bybit", 5, wall_time=True) as r:
            r.sync()  # its start's reconciliation is done: it has a price
            with no_weight_left(r) as ip:
                waited = ip.waited_s
                r.ref.tell(ExternalSignal(side=Side.LONG))
                wait_until(lambda: ip.waited_s > waited,
                           message="the leverage set waits for budget")
                r.ref.tell(OrderActivity(client_order_ids=("someone-elses",)))  # a report
                wait_until(lambda: r.journal("OrderFailed"), message="the entry set aside")
                r.sync()
            assert SET["bybit"] not in r.paths()  # neither the leverage nor the entry
            assert CREATE["bybit"] not in r.paths()
            (failed,) = r.journal("OrderFailed")
            error = failed["data"]["error"]
            assert "an order report is waiting" in error, error
            assert "not set on" not in error, error  # the venue was never asked
            protected_long(r)  # the next entry asks again, and is sent
            assert r.paths().count(SET["bybit"]) == 1
            assert r.venue.leverage_of("BTCUSDT") == Decimal("5")
    finally:
        logger.remove(sink)
    assert not [w for w in warned if "an order report is waiting" in w], warned
