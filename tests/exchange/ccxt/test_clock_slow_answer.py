"""A request refused for its timestamp while this machine's clock is right: the request, or the
venue's answer, was slow (a busy process: 500 actor threads starting on 2 cores). The gateway
read the venue's time with ccxt's `load_time_difference`, which takes the venue's time as now
when its answer is read, so a slow answer read as this clock being ahead by the answer's
delay; and every refused thread read the time again. A start of 500 symbols against the Bybit
emulator learned "19 s ahead", signed every request 19 s in the past, had each refused, and
each refusal read the venue's time again: 51,430 time reads, 2,661 restarts, no actor started
within 400 s (exchange/ccxt/venue_clock.py).

Real ccxt classes against the emulators. The venue's time endpoint answers its true time, and
its answer reaches the client ANSWER_DELAY_S later (a slow network or a busy process). The
callers' refused requests are all held at the venue until every caller's has arrived (so each
was signed before any refusal was answered), then refused for their timestamp together."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from loguru import logger

from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from tests.exchange.ccxt import emu_auth
from tests.exchange.ccxt.ccxt_fixtures import (
    API_KEY,
    API_SECRET,
    PRICES,
    factory_for,
    warning_lines,
)
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue, ok
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC = "BTC/USDT:USDT"
ANSWER_DELAY_S = 1.5
CALLERS = 6
VENUES = {  # the read each actor makes, its refusal for the timestamp, the time endpoint
    "bybit": ("/v5/order/realtime", 200, {
        "retCode": 10002, "retExtInfo": {}, "result": {}, "time": 0, "retMsg":
        "invalid request, please check your server timestamp or recv_window param. "
        "req_timestamp[1],server_timestamp[5002],recv_window[5000]"}, "/v5/market/time"),
    "binanceusdm": ("/fapi/v1/openOrders", 400, {
        "code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."},
        "/fapi/v1/time"),
}


class Slow:
    """The venue's time answered ANSWER_DELAY_S late; the first CALLERS reads of `held` wait
    for each other at the venue (the refusal is answered after them: a fault with land)."""

    held = ""
    time_path = ""

    def __init__(self, book: Book) -> None:
        super().__init__(book)  # type: ignore[call-arg]
        self.together = threading.Barrier(CALLERS)
        self.arrived = 0

    def route(self, method: str, path: str, p: dict[str, Any]) -> tuple[int, Any]:
        if path == self.time_path:
            now = emu_auth.now_ms()  # the venue's time when the request arrived: the true one
            time.sleep(ANSWER_DELAY_S)  # the answer's way back (simulated latency)
            return self.time_answer(now)
        if path == self.held and self.arrived < CALLERS:
            self.arrived += 1
            self.together.wait(timeout=20)
        return super().route(method, path, p)  # type: ignore[misc]


class SlowBybit(Slow, BybitVenue):
    held, time_path = VENUES["bybit"][0], VENUES["bybit"][3]

    def time_answer(self, now: int) -> tuple[int, Any]:
        return ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, now)


class SlowBinance(Slow, BinanceVenue):
    held, time_path = VENUES["binanceusdm"][0], VENUES["binanceusdm"][3]

    def time_answer(self, now: int) -> tuple[int, Any]:
        return 200, {"serverTime": now}


@pytest.mark.parametrize("exchange_id", ["bybit", "binanceusdm"])
def test_a_slow_answer_is_not_taken_for_a_skewed_clock(exchange_id):
    venue = (SlowBybit if exchange_id == "bybit" else SlowBinance)(Book(PRICES))
    emu = EmulatorServer(venue).start()
    # the real clock and sleep: the retries' backoff is real time, as in the bot
    gw = CcxtGateway(factory_for(exchange_id, emu), symbols=[BTC], markets_cache=None,
                     credentials=Credentials(API_KEY, API_SECRET, source="test"),
                     timeout_ms=5000, rng=random.Random(7))
    lines, sink = warning_lines()
    path, status, body, time_path = VENUES[exchange_id]
    try:
        gw.load_markets()
        emu.fail_next(path, CALLERS, status=status, body=body, land=True)
        results: list[Any] = []

        def actor() -> None:  # each actor's own read, refused once for its timestamp
            results.append(gw.fetch_open_orders(BTC))

        threads = [threading.Thread(target=actor) for _ in range(CALLERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert len(results) == CALLERS  # each retried and answered
        # the clock is right: nothing learned from a read whose answer took 1.5 s
        assert gw.clock_sync.difference_ms is None, [m for m in lines if "clock" in m]
        assert not [m for m in lines if "ahead of the venue's" in m]
        # one read of the venue's time for the refusals of every thread, not one each
        assert len(emu.hits(time_path)) == 1
        assert gw.fetch_open_orders(BTC) == []  # signed with this (right) clock: accepted
    finally:
        logger.remove(sink)
        gw.close()
        emu.stop()
