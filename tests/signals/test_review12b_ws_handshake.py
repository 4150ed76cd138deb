"""A WebSocket feed that accepts the TCP connection but never answers the upgrade: the client
gives up on the handshake within its connect timeout, logs one line and reconnects with its
backoff (before, it waited forever: no log line, no reconnect)."""

from __future__ import annotations

import asyncio
import socket

from loguru import logger

from signals.backoff import Backoff
from signals.ws_client import SignalWebSocketClient
from tests.signals.support import make_router
from tests.support.waiting import wait_until


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.waits.append(delay)
        await asyncio.sleep(0)


def test_a_handshake_never_answered_is_a_failed_attempt_logged_and_retried(lines):
    silent = socket.socket()  # listens (the kernel completes the TCP handshake), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    url = f"ws://127.0.0.1:{silent.getsockname()[1]}/feed?key=PROVIDER-KEY-77"
    router, _, deliver = make_router()
    sleep = RecordingSleep()
    client = SignalWebSocketClient(url=url, handle=router.handle_raw, logger=logger, sleep=sleep,
                                   connect_timeout_s=0.5,
                                   backoff=Backoff(initial_s=0.5, max_s=1.0, jitter=0.0))
    client.start()
    try:
        wait_until(lambda: len(sleep.waits) >= 2, timeout=8,
                   message="two handshake timeouts, each followed by a backoff wait")
        assert sleep.waits[:2] == [0.5, 1.0]
        assert not client.connected.is_set() and client.connections == 0
    finally:
        assert client.stop(timeout_s=5)
        silent.close()
    failed = [line for line in lines if "signal websocket" in line and "reconnecting" in line]
    assert len(failed) >= 2
    assert "no handshake answer within 0.5s" in failed[0]
    assert "\n" not in failed[0].rstrip("\n") and "PROVIDER-KEY-77" not in "".join(lines)
    assert deliver.calls == []
