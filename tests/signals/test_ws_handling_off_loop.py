"""The WebSocket client handles each signal (the router's journal write, its duplicate lookup,
the delivery) off its event loop: a journal that blocks (a busy or slow database) held the loop
with it, so the connection's heartbeat stopped (no ping went out; a pong due meanwhile was
judged missing when the loop ran again, and the connection dropped) and `stop()` could not
cancel it. Signals are still handled one at a time, in the order they came, and one being
handled at stop is finished before the client's thread ends."""

from __future__ import annotations

import threading

from aiohttp import WSMsgType, web
from loguru import logger

from signals.ws_client import SignalWebSocketClient
from tests.signals.support import HeldJournal, LocalWsServer, make_router
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class PingCountingServer(LocalWsServer):
    """The local feed, answering the clients' heartbeat pings by hand to count them."""

    pings = 0

    async def _handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.connections += 1
        self._clients.add(ws)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.PING:
                    self.pings += 1
                    await ws.pong(msg.data)
        finally:
            self._clients.discard(ws)
        return ws


def test_a_blocked_journal_write_leaves_the_loop_and_its_heartbeat_running():
    server = PingCountingServer().start()
    blocking = HeldJournal(hold_s=10)
    router, _, deliver = make_router(journal=blocking)
    # aiohttp drops the connection when a ping's pong is not back within half the heartbeat:
    # 1 s gives the server's thread 0.5 s on a loaded machine (at 0.1 s it had 50 ms)
    client = SignalWebSocketClient(url=server.url, handle=router.handle_raw, logger=logger,
                                   heartbeat_s=1.0)
    client.start()
    try:
        wait_until(lambda: server.client_count() == 1, message="client connected")
        server.send({"id": "ws1", "symbol": BTC, "side": "long"})
        server.send({"id": "ws2", "symbol": ETH, "side": "long"})
        assert blocking.entered.wait(5)
        pings = server.pings
        wait_until(lambda: server.pings >= pings + 3, timeout=30,
                   message="heartbeat pings while a journal write blocks")
        assert deliver.calls == [] and client.connected.is_set()
    finally:
        blocking.release.set()
    try:
        wait_until(lambda: len(deliver.calls) == 2, message="both signals delivered")
        assert [sig.signal_id for _, sig in deliver.calls] == ["ws1", "ws2"]  # in order
        assert server.connections == 1  # never dropped
    finally:
        assert client.stop(timeout_s=5)
        server.stop()


def test_stop_finishes_the_signal_being_handled():
    server = LocalWsServer().start()
    blocking = HeldJournal(hold_s=10)
    router, journal, deliver = make_router(journal=blocking)
    client = SignalWebSocketClient(url=server.url, handle=router.handle_raw, logger=logger)
    client.start()
    try:
        wait_until(lambda: server.client_count() == 1, message="client connected")
        server.send({"id": "ws1", "symbol": BTC, "side": "long"})
        assert blocking.entered.wait(5)
        stopping = threading.Thread(target=client.stop, kwargs={"timeout_s": 10})
        stopping.start()
        wait_until(lambda: server.client_count() == 0, message="the connection cancelled")
        assert stopping.is_alive()  # waits for the signal being handled
        blocking.release.set()
        stopping.join(10)
        assert not stopping.is_alive()
        assert [sig.signal_id for _, sig in deliver.calls] == ["ws1"]
        assert [cid for _, _, _, cid in journal.of("SignalAccepted")] == ["ws1"]
    finally:
        blocking.release.set()
        client.stop(timeout_s=5)
        server.stop()
