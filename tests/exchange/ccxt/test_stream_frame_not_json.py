"""A frame that is not JSON at all (cut short, garbled by a proxy) on a stream socket. ccxt.pro
decodes each text frame before its message handler runs, in the socket's receive callback; the
decoder's error left that callback before it scheduled the next read, so the socket stayed open
and read nothing more (asyncio printed a traceback). On the private socket every later order
and fill went unseen until the unanswered pings closed it (about 20 s), while the public prices
kept the streams "up". The guard in front of ccxt's message handler (stream_guard.py) never saw
it: the error came before it. Now such a frame is skipped with one line naming the socket, and
the socket reads on. Real ccxt.pro classes against the WebSocket emulators."""

from __future__ import annotations

import pytest
from loguru import logger

from tests.exchange.ccxt.stream_rig import ETH, StreamRig
from tests.support.waiting import wait_until

GARBLED = '{"topic": "order", "data": [{"symbol": "BTCUSDT", "orderLinkId": "main-t1-9'


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_a_frame_that_is_not_json_is_skipped_and_the_socket_reads_on(venue_id, tmp_path):
    rig = StreamRig(venue_id, tmp_path).start()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        rig.wait_mode("stream")
        # the gap's second REST read (GAP_RECHECK_S after the streams came up) is done: the
        # marker below can reach the mailbox from the stream only
        wait_until(lambda: rig.feed.rechecked >= 1, message="the gap read a second time")
        rig.wait_delivered(rig.buy())  # the private socket carries fills
        topic = "order" if venue_id == "bybit" else "user"
        streamed = rig.feed.fills_streamed
        reconnects = rig.streams.health().reconnects
        rig.ws.send_text(topic, GARBLED)
        marker = rig.buy(ETH)  # on the same private socket, after the garbled frame
        rig.wait_delivered(marker, ETH, timeout=60)
        # the marker came from the stream, on the same socket: no reconnect, no gap fill
        assert rig.streams.health().reconnects == reconnects
        assert rig.feed.fills_streamed == streamed + 1
        assert rig.feed.mode == "stream"
        said = [m for m in lines if "not JSON" in m]
        assert len(said) == 1 and "\n" not in said[0], lines
        if venue_id == "binanceusdm":  # the socket is named without its listen key
            assert "listenKey=***" in said[0], said
    finally:
        logger.remove(sink)
        rig.stop()
