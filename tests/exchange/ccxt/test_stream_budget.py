"""The streams' own REST calls are counted in the venue budget (issue 12): ccxt.pro creates
Binance's listenKey over REST and keeps it alive every 20 minutes. The real ccxt.pro class
against the HTTP emulator on 127.0.0.1, metered by the real gateway's meter."""

from __future__ import annotations

import asyncio
import threading

from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from tests.exchange.ccxt.ccxt_fixtures import (
    API_KEY,
    API_SECRET,
    FakeTime,
    make_gateway,
    start_emulator,
)
from tests.exchange.ccxt.emu_limits import BinanceWeightLimiter


def test_listen_key_create_and_keepalive_spend_from_the_gateways_budget(tmp_path):
    fake = FakeTime()
    limiter = BinanceWeightLimiter(clock=fake.clock)
    emu = start_emulator("binanceusdm", limiter)
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=None)
    try:
        gw.load_markets()
        build = pro_exchange_factory("binanceusdm", Credentials(API_KEY, API_SECRET, "test"),
                                     api_url=emu.base_url, meter=gw.meter)
        requests, spent = gw.meter.requests, sum(gw.meter.venue.ip.spent.values())
        venue_weight = limiter.weight_total

        async def listen_key_life() -> None:
            ex = build()
            ex.set_markets(gw.markets())
            try:
                await ex.authenticate({"type": "future"})  # POST listenKey
                await ex.keep_alive_listen_key({"type": "future"})  # PUT listenKey
            finally:
                await ex.close()

        asyncio.run(listen_key_life())
        assert [r.method for r in emu.requests if r.path == "/fapi/v1/listenKey"] == [
            "POST", "PUT"]
        assert gw.meter.requests - requests == 2  # both went through the meter
        weight = sum(gw.meter.venue.ip.spent.values()) - spent
        assert round(weight, 6) == 2 == limiter.weight_total - venue_weight  # as the venue
    finally:
        gw.close()
        emu.stop()


class GatedTime(FakeTime):
    """A budget sleep that ends only when the event loop shows it still runs meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeping, self.gate = threading.Event(), threading.Event()
        self.released: list[bool] = []

    def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        self.released.append(self.gate.wait(5))
        super().sleep(seconds)


def test_a_blocked_budget_holds_the_listen_key_call_off_the_stream_loop(tmp_path):
    """After a 429 the budget sends nothing until the venue's reset, the streams' REST calls
    included; the wait runs on a worker thread, so the event loop keeps running meanwhile."""
    fake = GatedTime()
    emu = start_emulator("binanceusdm")
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=None)
    try:
        gw.load_markets()
        build = pro_exchange_factory("binanceusdm", Credentials(API_KEY, API_SECRET, "test"),
                                     api_url=emu.base_url, meter=gw.meter)
        gw.meter.venue.ip.block_for(7.0)  # as a 429 with Retry-After: 7 does

        async def loop_alive() -> None:  # runs only if the budget wait leaves the loop free
            while not fake.sleeping.is_set():
                await asyncio.sleep(0.001)
            fake.gate.set()

        async def create() -> None:
            ex = build()
            ex.set_markets(gw.markets())
            task = asyncio.create_task(loop_alive())
            try:
                await ex.authenticate({"type": "future"})
            finally:
                task.cancel()
                await ex.close()

        asyncio.run(create())
        assert fake.released and all(fake.released)  # the loop ran during every budget wait
        assert sum(fake.sleeps) >= 7.0  # the block was waited out before the call went
        assert len(emu.hits("/fapi/v1/listenKey", "POST")) == 1
    finally:
        gw.close()
        emu.stop()
