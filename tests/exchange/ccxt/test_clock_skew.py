"""A machine clock off from the venue's (no NTP, a VM resumed): every signed request was
refused for its timestamp (Binance -1021, Bybit 10002, both ccxt's InvalidNonce), resent with
the same skewed timestamp until the attempts ran out, and no stop could be placed. The gateway
now reads the venue's time on such a refusal and signs with it from then on, on every thread.

Real ccxt classes against the emulators, which check the timestamp as the venues do; their
time endpoint here answers the emulator's clock (the one the signature check uses)."""

from __future__ import annotations

import threading
from decimal import Decimal as D
from typing import Any

import pytest

from tests.exchange.ccxt import emu_auth
from tests.exchange.ccxt.ccxt_fixtures import PRICES, factory_for, make_gateway
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue, ok
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC = "BTC/USDT:USDT"
AHEAD_MS = 5_000


class BinanceTime(BinanceVenue):
    def get_fapi_v1_time(self, p: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"serverTime": emu_auth.now_ms()}


class BybitTime(BybitVenue):
    def h_v5_market_time(self, p: dict[str, Any]) -> tuple[int, Any]:
        now = emu_auth.now_ms()
        return ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, now)


def skewed_factory(exchange_id: str, emu: EmulatorServer) -> Any:
    build = factory_for(exchange_id, emu)

    def make() -> Any:
        ex = build()
        real = ex.milliseconds
        ex.milliseconds = lambda: real() + AHEAD_MS  # this machine's clock runs 5 s ahead
        return ex

    return make


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_skewed_clock_still_places_the_stop(exchange_id, tmp_path):
    venue = (BinanceTime if exchange_id == "binanceusdm" else BybitTime)(Book(PRICES))
    emu = EmulatorServer(venue).start()
    gw = make_gateway(exchange_id, emu, tmp_path, factory=skewed_factory(exchange_id, emu))
    try:
        gw.load_markets()
        entry = gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        assert entry.filled == D("0.01")
        stop = gw.place_stop(BTC, "sell", D("0.01"), D("45000"), "s-1")
        assert stop.status == "open" and stop.client_order_id == "s-1"

        # another thread's instance (each actor has its own) signs with the venue's time too
        seen: list[Any] = []
        worker = threading.Thread(target=lambda: seen.append(gw.fetch_balance()))
        worker.start()
        worker.join(timeout=30)
        assert seen and not worker.is_alive()
        time_path = "/fapi/v1/time" if exchange_id == "binanceusdm" else "/v5/market/time"
        assert 1 <= len(emu.hits(time_path)) <= 2  # read on the refusal, not on every call
    finally:
        gw.close()
        emu.stop()
