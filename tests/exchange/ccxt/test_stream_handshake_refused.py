"""A venue that refuses the WebSocket handshake (HTTP 429: its connection-rate limit) is not
asked again at a fixed rate. ccxt.pro reports the refused handshake as a NetworkError, which
our watchers retry after `retry_s` without counting it as a refusal; the backoff comes from
ccxt.pro 4.5.90 itself (a per-URL dial backoff, 0.2 s doubling to 30 s, Retry-After as a floor,
`Exchange.on_error`), which holds only while the streams keep one ccxt instance across
retries. This pins that: a review counted the early attempts and took them for a fixed 1 s
retry. Real aiohttp server on 127.0.0.1 answering 429 to every upgrade, the real ccxt.pro bybit
class, real VenueStreams."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from aiohttp import web
from loguru import logger

from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.support.waiting import wait_until


class Sink:
    def on_tickers(self, tickers): pass
    def on_fills(self, fills): pass
    def on_orders(self, orders): pass
    def on_positions(self, positions): pass
    def on_connection(self, connected): pass
    def on_unstreamed(self, symbols): pass


class Refusing:
    """An HTTP server answering every WebSocket upgrade with 429, stamping each attempt."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[float]] = {}
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True).start()
        assert self._ready.wait(10)

    async def _handler(self, request: web.Request) -> web.Response:
        self.attempts.setdefault(request.path, []).append(time.monotonic())
        return web.Response(status=429, text="Too many connection attempts")

    async def _main(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


def test_a_refused_handshake_backs_off(tmp_path: Path) -> None:
    refusing = Refusing()
    http = EmulatorServer(BybitVenue(Book(PRICES, now_ms=int(time.time() * 1000)))).start()
    gw = make_gateway("bybit", http, tmp_path)
    build = pro_exchange_factory("bybit", Credentials(API_KEY, API_SECRET, source="t"),
                                 api_url=http.base_url, ws_url=f"ws://127.0.0.1:{refusing.port}",
                                 timeout_ms=3000)
    streams = VenueStreams(build=build, symbols=["BTC/USDT:USDT"], sink=Sink(), logger=logger,
                           markets=gw.markets, retry_s=0.2, private=False)
    streams.start()
    try:
        public = "/v5/public/linear"
        wait_until(lambda: len(refusing.attempts.get(public, [])) >= 4, timeout=20)
        stamps = refusing.attempts[public][:4]
    finally:
        streams.stop()
        http.stop()
        refusing.stop()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    # backing off: 0.2, 0.4, 0.8 s between attempts; a fixed retry would be 0.2 s each
    assert gaps[1] >= 0.35 and gaps[2] >= 0.7, gaps
    assert "429" in (streams.last_error or "")
