"""Builders shared by the ccxt gateway tests: emulators, factories, gateways, fake time."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
from loguru import logger

from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from tests.exchange.ccxt.emu_auth import API_KEY, API_SECRET
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer, point_at

__all__ = ["API_KEY", "API_SECRET"]  # the keys the emulators accept (emu_auth.py)
PRICES = {"BTCUSDT": Decimal("50000"), "ETHUSDT": Decimal("3000")}
HELD_TIMEOUT_MS = 3000
"""The request timeout of a test that holds a request until the client gives up: it applies to
every request of the test, so a short one (300 ms) timed out ordinary answers on a loaded CI
machine; 3 s is what each deliberately held request costs."""


class FakeTime:
    """Injected clock + sleep: sleeping advances the clock and is recorded."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def start_emulator(exchange_id: str, limiter: Any = None,
                   venue: type[BybitVenue] | type[BinanceVenue] | None = None) -> EmulatorServer:
    """`limiter`: the venue's rate limits (emu_limits.py); None: unlimited. `venue`: a subclass
    of the exchange's emulated venue (a venue answering wrong on purpose)."""
    cls = venue or (BybitVenue if exchange_id == "bybit" else BinanceVenue)
    return EmulatorServer(cls(Book(PRICES)), limiter=limiter).start()


def factory_for(exchange_id: str, emu: EmulatorServer, created: list | None = None, **patch: Any):
    """A factory building a REAL ccxt exchange class pointed at the emulator."""

    def build() -> ccxt.Exchange:
        ex = getattr(ccxt, exchange_id)({"timeout": 2000})
        point_at(ex, emu.base_url)
        if exchange_id == "binanceusdm":
            # ccxt picks Binance's USDⓈ-M-specific error codes (e.g. -2019 margin insufficient)
            # by the request URL's host (fapi.binance.com); the emulator's host is 127.0.0.1,
            # so fold those codes into the generic table for this instance.
            linear = ex.exceptions.get("linear", {})
            ex.exceptions["exact"] = {**linear.get("exact", {}), **ex.exceptions["exact"]}
            ex.exceptions["broad"] = {**linear.get("broad", {}), **ex.exceptions["broad"]}
        for key, value in patch.items():
            setattr(ex, key, value)
        if created is not None:
            created.append(ex)
        return ex

    return build


def make_gateway(exchange_id: str, emu: EmulatorServer, tmp_path: Path, *,
                 fake: FakeTime | None = None, cache: Path | None = None,
                 **kwargs: Any) -> CcxtGateway:
    fake = fake or FakeTime()
    kwargs.setdefault("credentials", Credentials(API_KEY, API_SECRET, source="test"))
    return CcxtGateway(
        kwargs.pop("factory", None) or factory_for(exchange_id, emu),
        markets_cache=cache or tmp_path / f"{exchange_id}-markets.json",
        rate_limit_per_s=kwargs.pop("rate_limit_per_s", 1000.0),
        clock=fake.clock, monotonic=fake.clock, sleep=fake.sleep, rng=random.Random(7),
        symbols=kwargs.pop("symbols", ["BTC/USDT:USDT", "ETH/USDT:USDT"]), **kwargs)


@contextmanager
def gateway_on_emulator(exchange_id: str, tmp_path: Path, *, limiter: Any = None,
                        venue: type[BybitVenue] | type[BinanceVenue] | None = None,
                        **kwargs: Any) -> Iterator[tuple[CcxtGateway, EmulatorServer]]:
    """A started emulator of `exchange_id` (start_emulator's `limiter`, `venue`) and a gateway
    on it with its markets loaded (`kwargs`: make_gateway's); both closed after."""
    emu = start_emulator(exchange_id, limiter, venue)
    try:
        gateway = make_gateway(exchange_id, emu, tmp_path, **kwargs)
        try:
            gateway.load_markets()
            yield gateway, emu
        finally:
            gateway.close()
    finally:
        emu.stop()


def rest_by_hand(book: Book, cid: str, symbol: str, price: str) -> Any:
    """A limit order resting on `symbol` (a venue id), as one placed by hand on the account."""
    return book.place(cid=cid, symbol=symbol, side="buy", type="limit", qty=Decimal("0.1"),
                      price=Decimal(price), trigger=None, trigger_direction=None,
                      reduce_only=False)


def warning_lines() -> tuple[list[str], int]:
    """The messages of the WARNING lines logged from now on, and the loguru sink to remove."""
    lines: list[str] = []
    return lines, logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
