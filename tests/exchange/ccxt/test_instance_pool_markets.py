"""Every actor thread's ccxt instance shares the markets parsed once (exchange/ccxt/instances.py).

Before, each thread's instance parsed them again with ccxt's `set_markets`, a deep copy of every
market: the work and memory of a start grew with symbols x actor threads (at 500 symbols 32 ms
CPU and ~4 MB per thread: 16 s CPU and 2 GB for one account's start, while the start's own
requests waited behind that CPU). Real ccxt classes against the emulators; the factory's class
counts how often a market table is parsed."""

from __future__ import annotations

import threading
from typing import Any

import ccxt
import pytest

from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator
from tests.exchange.ccxt.emu_server import point_at

THREADS = 12


def counting_factory(exchange_id: str, base_url: str, parsed: list[int]) -> Any:
    """A factory of the real ccxt class whose `set_markets` (the parse) is counted."""
    base = getattr(ccxt, exchange_id)

    class Counting(base):  # type: ignore[misc, valid-type]
        def set_markets(self, markets: Any, currencies: Any = None) -> Any:
            parsed.append(len(markets))
            return super().set_markets(markets, currencies)

    def build() -> ccxt.Exchange:
        ex = Counting({"timeout": 2000})
        point_at(ex, base_url)
        return ex

    return build


@pytest.mark.parametrize("exchange_id", ["bybit", "binanceusdm"])
def test_thread_instances_share_the_markets_parsed_once(exchange_id, tmp_path):
    emu = start_emulator(exchange_id)
    parsed: list[int] = []
    release = threading.Event()
    gw = make_gateway(exchange_id, emu, tmp_path,
                      factory=counting_factory(exchange_id, emu.base_url, parsed))
    try:
        gw.load_markets()
        loaded = len(parsed)  # the load itself (and the cache's check, when there is one)
        instances: list[ccxt.Exchange] = []
        prices: list[Any] = []
        ready = threading.Semaphore(0)

        def actor() -> None:  # as an actor thread's first call; it lives on, as actors do
            instances.append(gw.exchange_for_current_thread())
            prices.append(gw.fetch_tickers(["BTC/USDT:USDT"]))
            ready.release()
            release.wait(30)

        threads = [threading.Thread(target=actor) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for _ in threads:
            assert ready.acquire(timeout=30)
        assert len(prices) == THREADS and all(p["BTC/USDT:USDT"].last for p in prices)
        assert len(parsed) == loaded, "a thread's instance parsed the markets again"
        assert len({id(i) for i in instances}) == THREADS
        assert len({id(i.markets) for i in instances}) == 1  # one table, read by all
        assert instances[0].market("BTC/USDT:USDT")["id"] == "BTCUSDT"

        before = len(parsed)
        gw.load_markets(reload=True)  # a reload reaches every live thread's instance
        # the fetch's own parse, the cache's check and the template's: none per thread
        assert len(parsed) - before <= 3 < THREADS
        assert len({id(i.markets) for i in instances}) == 1
        assert instances[0].markets is gw.exchange_for_current_thread().markets
    finally:
        release.set()
        gw.close()
        emu.stop()
