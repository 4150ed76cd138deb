"""The status dump's `reconnects` counts sockets opened again, not dials. During an outage ccxt
dials again on every watch call, each time on a new client; each such client was counted as a
reconnect before it ever opened (6 after one outage of 12 s, while the streams came back once).

The real ccxt.pro streams and gateway against each venue's emulators (the WebSocket one
refuses connections for a while), the real stream feed, a real pykka actor per symbol."""

from __future__ import annotations

import pytest

from actors.stream_feed import StreamFeed
from tests.exchange.ccxt.stream_rig import StreamRig
from tests.support.waiting import wait_until


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_dials_refused_during_an_outage_are_no_reconnects(tmp_path, venue):
    rig = StreamRig(venue, tmp_path).start()
    try:
        rig.wait_mode("stream")
        assert rig.streams.health().reconnects == 0
        rig.ws.refuse(True)
        rig.ws.drop_all()
        wait_until(lambda: rig.ws.refused >= 4, timeout=30, message="4 dials refused")
        assert rig.streams.health().reconnects == 0  # nothing opened again yet
        rig.ws.refuse(False)
        rig.wait_mode("stream", timeout=40)
        sockets = 2  # public and private, each opened again once
        # the feed reads `connected` live and may switch to the stream before the streams'
        # loop counts the fresh sockets (_note_connection, every 20 ms on the loop's thread)
        block = wait_until(lambda: (b := StreamFeed.status(rig.feed))["reconnects"] >= 1 and b,
                           message="the fresh sockets counted")
        assert 1 <= block["reconnects"] <= sockets, block
    finally:
        rig.stop()
