"""The streams ask the venue for uncompressed WebSocket frames (exchange/ccxt/streams.py):
inflating every frame cost the stream thread ~16 us of ~40 us a message (bench_stream_close.py)
and a crossing price waits behind every message of a push. The emulators accept
permessage-deflate (aiohttp's default), so a client that offered it would get it."""

from __future__ import annotations

import pytest

from tests.exchange.ccxt.stream_rig import StreamRig
from tests.support.waiting import wait_until


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_stream_sockets_are_not_deflated(venue_id, tmp_path):
    rig = StreamRig(venue_id, tmp_path).start()
    try:
        rig.wait_mode("stream")
        wait_until(lambda: all(c.connection is not None for c in rig.streams._sockets()),
                   message="every stream socket open")
        sockets = [c for c in rig.streams._sockets() if c.connection is not None]
        assert sockets
        assert [c.connection.compress for c in sockets] == [0] * len(sockets)
    finally:
        rig.stop()
