"""A live stream evicted for a newer one of its peer is cut within its grace (EVICT_GRACE_S,
dashboard/streams.py) even when its handler cannot end it: here its status read hangs (a
stalled disk), as a write hangs for a client that reads nothing (real aiohttp server on
127.0.0.1, raw sockets; the hang is a source injected through the server's constructor).

An evicted stream has already left the stream count, so without the cut each one stays
connected for as long as its handler is stuck: a client opening streams and reading nothing
holds connections without limit. Found by mutation audit: the cut left out passed every
dashboard test (an evicted stream whose handler could still write ended by itself)."""

from __future__ import annotations

import threading
from typing import Any

from loguru import logger

from dashboard.auth import Auth
from dashboard.server import DashboardServer
from tests.dashboard.test_hostile_clients import closed_by_peer, serve_source
from tests.dashboard.test_server import TOKEN
from tests.dashboard.test_stream_caps import Sse, open_live, streams  # noqa: F401 - a fixture
from tests.support.waiting import wait_until


class StuckReads:
    """The dashboard's source whose status reads hang once ``stuck`` is set, until
    ``released`` (or 30 s)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.stuck, self.released = threading.Event(), threading.Event()
        self.waiting = 0

    def read(self) -> Any:
        if self.stuck.is_set():
            self.waiting += 1
            self.released.wait(30)
        return self.source.read()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


def test_an_evicted_stream_whose_handler_is_stuck_is_cut(tmp_path, streams):  # noqa: F811
    source = StuckReads(serve_source(tmp_path))
    server = DashboardServer(source=source, auth=Auth(token=TOKEN, host="127.0.0.1"),
                             logger=logger, push_interval_s=0.1, max_streams=4,
                             max_streams_per_peer=1)
    server.start()
    port = server.address[1]
    try:
        oldest = open_live(port, streams)
        source.stuck.set()
        wait_until(lambda: source.waiting >= 1, timeout=10,
                   message="the oldest stream's handler stuck in its status read")
        newest = Sse(port)  # the peer's cap is 1: the oldest is evicted
        streams.append(newest)
        assert newest.status.startswith("HTTP/1.1 200"), newest.status
        assert server.streams.open == 1
        wait_until(lambda: closed_by_peer(oldest.sock), timeout=10,
                   message="the evicted, stuck stream's connection cut")
    finally:
        source.released.set()
        server.stop()
