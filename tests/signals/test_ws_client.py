"""The WebSocket client against a local WebSocket server: signals are routed, a dropped
connection is re-established after a backoff wait (recorded through the injected sleep)."""

from __future__ import annotations

import asyncio
import socket

from loguru import logger

from signals.backoff import Backoff
from signals.ws_client import SignalWebSocketClient
from tests.signals.support import LocalWsServer, make_router
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.waits.append(delay)
        await asyncio.sleep(0)


def test_receives_signals_and_reconnects_after_the_server_drops_it():
    server = LocalWsServer(token="feed-token").start()
    router, journal, deliver = make_router()
    sleep = RecordingSleep()
    client = SignalWebSocketClient(url=server.url, handle=router.handle_raw, logger=logger,
                                   token="feed-token", sleep=sleep,
                                   backoff=Backoff(initial_s=0.5, max_s=8.0, jitter=0.2,
                                                   rand=lambda: 0.5))
    client.start()
    try:
        wait_until(lambda: server.client_count() == 1, message="client connected")
        assert server.send({"id": "ws1", "symbol": BTC, "side": "long"}) == 1
        server.send({"id": "ws1", "symbol": BTC, "side": "long"})  # repeated by the feed
        server.send({"id": "ws-bad", "symbol": "NOPE/USDT:USDT", "side": "long"})
        wait_until(lambda: client.messages == 3, message="three messages handled")
        server.drop()
        wait_until(lambda: server.connections == 2 and server.client_count() == 1,
                   message="reconnected")
        assert sleep.waits == [0.45]  # 0.5 s, shortened by 0.2 * 0.5 jitter
        server.send({"id": "ws2", "symbol": ETH, "side": "exit"})
        wait_until(lambda: len(deliver.calls) == 2, message="signal after the reconnect")
        server.drop()
        wait_until(lambda: server.connections == 3, message="reconnected again")
        # backs off further; resets only after a stable connection
        assert sleep.waits == [0.45, 0.9]
    finally:
        assert client.stop(timeout_s=5)  # its thread ended: bounded by the call, not a clock
        server.stop()
    assert [(s, sig.signal_id) for s, sig in deliver.calls] == [(BTC, "ws1"), (ETH, "ws2")]
    assert [cid for _, _, _, cid in journal.of("SignalDuplicate")] == ["ws1"]
    assert [d["reason"][:14] for _, _, d, _ in journal.of("SignalRejected")] == ["unknown symbol"]


def test_unreachable_server_backs_off_exponentially_and_stops_promptly():
    server = LocalWsServer(token="right").start()  # refuses the handshake: wrong token
    router, _, _ = make_router()
    sleep = RecordingSleep()
    client = SignalWebSocketClient(url=server.url, handle=router.handle_raw, logger=logger,
                                   token="wrong", sleep=sleep,
                                   backoff=Backoff(initial_s=1.0, max_s=4.0, jitter=0.0))
    client.start()
    try:
        wait_until(lambda: len(sleep.waits) >= 5, message="five reconnect attempts")
        assert sleep.waits[:5] == [1.0, 2.0, 4.0, 4.0, 4.0]
        assert server.refused >= 5 and server.connections == 0
    finally:
        assert client.stop(timeout_s=5)
        server.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_stop_interrupts_a_real_backoff_wait():
    client = SignalWebSocketClient(url=f"ws://127.0.0.1:{closed_port()}/never",
                                   handle=lambda raw, src: None, logger=logger,
                                   backoff=Backoff(initial_s=60.0, max_s=60.0, jitter=0.0))
    client.start()
    wait_until(lambda: client.backoff.attempt >= 1, message="first failed attempt")
    # True: the thread ended within the stop's bounded waits (at most 2 x 5 s), far inside the
    # 60 s backoff it was in, so the stop interrupted that wait (no wall-clock assert)
    assert client.stop(timeout_s=5)


class Lines:
    """A logger that keeps its lines (formatted as loguru would)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _add(self, message: str, *args: object) -> None:
        self.lines.append(message.format(*args))

    info = debug = warning = error = _add

    def opt(self, **_: object) -> Lines:
        return self


def test_an_oversized_message_is_one_line_naming_it_and_the_signals_after_it_arrive():
    """Found by review: a feed message over max_message_bytes made aiohttp close the connection
    (1009), logged as 'signal websocket error: None' (the error rode in the message, not in
    ws.exception()), and the valid signals the feed had sent behind it on that connection were
    lost. Now the message is ignored with one line naming its size and the limit, and the
    connection goes on."""
    server = LocalWsServer().start()
    router, journal, deliver = make_router()
    lines = Lines()
    client = SignalWebSocketClient(url=server.url, handle=router.handle_raw, logger=lines,
                                   max_message_bytes=1000)
    client.start()
    try:
        wait_until(lambda: server.client_count() == 1, message="client connected")
        server.send({"id": "big", "symbol": BTC, "side": "long", "note": "x" * 5000})
        server.send({"id": "ws1", "symbol": BTC, "side": "long"})
        wait_until(lambda: len(deliver.calls) == 1, message="the signal behind the big one")
    finally:
        assert client.stop(timeout_s=5)
        server.stop()
    assert server.connections == 1 and client.connections == 1
    assert [sig.signal_id for _, sig in deliver.calls] == ["ws1"]
    said = [line for line in lines.lines if "bytes" in line]
    assert len(said) == 1 and "5" in said[0] and "over 1000 bytes" in said[0], lines.lines
    assert not any(line.endswith(": None") for line in lines.lines), lines.lines
