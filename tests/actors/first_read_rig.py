"""Real SymbolActors (pykka threads, SQLite) starting through the real ccxt gateway against a
venue emulator on 127.0.0.1 listing `n` symbols, their first reconciliations served by the
account's one read (actors/first_read.py): the rig of tests/actors/test_first_read.py."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.first_read import FirstRead
from actors.symbol_actor import ActorDeps, SymbolActor
from exchange.ccxt.gateway import CcxtGateway
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.exchange.ccxt import emu_binance, emu_bybit
from tests.exchange.ccxt.ccxt_fixtures import make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_server import EmulatorServer, Recorded
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.rules import Rules

POSITION_PATHS = ("/v5/position/list", "/fapi/v3/positionRisk", "/fapi/v2/positionRisk")
OPEN_ORDER_PATHS = ("/v5/order/realtime", "/fapi/v1/openOrders", "/fapi/v1/openAlgoOrders")
TICKER_PATHS = ("/v5/market/tickers", "/fapi/v1/ticker/24hr", "/fapi/v1/ticker/price",
                "/fapi/v2/ticker/price")


def bases(n: int) -> list[str]:
    return [f"C{i:03d}" for i in range(n)]


def symbol_of(base: str) -> str:
    return f"{base}/USDT:USDT"


class BybitN(emu_bybit.BybitVenue):
    """Bybit listing `n` perpetuals; `blank_in_list`: symbols (native) whose row in the
    account-wide position list has no entry price (their own read has it)."""

    def __init__(self, book: Book, n: int) -> None:
        rows = [dict(copy.deepcopy(emu_bybit.INSTRUMENTS[0]), symbol=f"{b}USDT", baseCoin=b)
                for b in bases(n)]
        super().__init__(book, instruments=rows)
        self.blank_in_list: set[str] = set()

    def _position_rows(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        rows = super()._position_rows(p)
        if p.get("symbol"):
            return rows
        return [{**r, "avgPrice": ""} if r.get("symbol") in self.blank_in_list else r
                for r in rows]


class BinanceN(emu_binance.BinanceVenue):
    def __init__(self, book: Book, n: int) -> None:
        super().__init__(book)
        self.info = {**emu_binance.EXCHANGE_INFO, "symbols": [
            emu_binance._symbol(f"{b}USDT", b, "0.10", "0.001", "0.001", 2, 3)
            for b in bases(n)]}

    def get_fapi_v1_exchangeInfo(self, p: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        return 200, self.info


@dataclass
class Rig:
    emu: EmulatorServer
    book: Book
    gateway: CcxtGateway
    symbols: list[str]
    tmp: Path

    def per_symbol(self, paths: tuple[str, ...], since: int = 0) -> list[Recorded]:
        """Reads of `paths` naming one symbol (a lookup by order id excepted)."""
        return [r for r in self.emu.requests[since:] if r.path in paths
                and r.params.get("symbol") and not _names_an_order(r)]

    def account_wide(self, paths: tuple[str, ...], since: int = 0) -> list[Recorded]:
        return [r for r in self.emu.requests[since:] if r.path in paths
                and not r.params.get("symbol")]

    def stops(self, native: str) -> list[Any]:
        return [o for o in self.book.orders.values() if o.symbol == native
                and o.trigger is not None and o.status == "untriggered"]


def _names_an_order(r: Recorded) -> bool:
    return any(r.params.get(k) for k in ("orderLinkId", "orderId", "origClientOrderId",
                                          "clientAlgoId", "algoId"))


@contextmanager
def venue(tmp_path: Path, venue_id: str, n: int) -> Iterator[Rig]:
    book = Book({f"{b}USDT": Decimal("100") for b in bases(n)})
    emu = EmulatorServer(BybitN(book, n) if venue_id == "bybit" else BinanceN(book, n)).start()
    symbols = [symbol_of(b) for b in bases(n)]
    gateway = make_gateway(venue_id, emu, tmp_path, symbols=symbols)
    try:
        gateway.load_markets()
        yield Rig(emu, book, gateway, symbols, tmp_path)
    finally:
        gateway.close()
        emu.stop()


@contextmanager
def actors(rig: Rig, first_read: FirstRead | None) -> Iterator[dict[str, Any]]:
    """One actor per symbol, started at once; yields their views once every one reconciled
    and protected what it holds."""
    repo = Repository(rig.tmp / "bot.sqlite")
    views: dict[str, Any] = {}
    risk = make_rules(amend_stops=rig.gateway.can_amend_stops).risk

    def core_for(symbol: str) -> SymbolCore:
        return SymbolCore(Rules(symbol=symbol, account="main", id_tag=repo.id_tag,
                                market=market_rules(rig.gateway, symbol), risk=risk))

    deps = ActorDeps(exchange=rig.gateway, repo=repo, core_for=core_for, strategy_for=None,
                     logger=logger, report=lambda *args: None, views=views,
                     on_escalate=lambda symbol, esc: None, first_read=first_read)
    try:
        for symbol in rig.symbols:
            SymbolActor.start(symbol, deps)
        # a reconciled view may show an adopted position whose stop's answer is on its way
        # (published before the stop is sent, actors/loop.py `publishes_first`): wait for it
        wait_until(lambda: all(views.get(s) is not None and views[s].reconciled
                               and (views[s].view().position is None or views[s].view().protected)
                               for s in rig.symbols), timeout=60,
                   message="every actor reconciled, each position it holds protected")
        yield views
    finally:
        pykka.ActorRegistry.stop_all()
        repo.close()
