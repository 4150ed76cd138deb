"""The stop watch's pace follows the order stream (issue 12 bench (a)): while the stream reports
stop cancels itself the REST look slows to `streamed_interval_s`; when the stream goes down
the 1 s pace (here 0.05 s) is back within one interval. A real actor, the real gateway and the
Binance emulator, whose request log is what is counted."""

from __future__ import annotations

import threading
import time

from loguru import logger

from actors.stop_watch import StopWatch
from tests.actors.live_emulator import live_long
from tests.support.waiting import wait_until


def test_the_watch_slows_while_the_order_stream_is_up_and_speeds_up_when_it_drops(tmp_path):
    with live_long(tmp_path, "binanceusdm") as bot:
        stream_up = threading.Event()
        stream_up.set()
        sw = StopWatch(exchange=bot.gateway, views=bot.views, deliver=bot.deliver,
                       interval_s=0.05, logger=logger, streams_ok=stream_up.is_set,
                       streamed_interval_s=60.0)
        sw.start()
        try:
            wait_until(lambda: sw.checks == 1, message="first round")
            time.sleep(0.5)  # ten fast intervals: a window in which no look may happen
            assert sw.checks == 1
            stream_up.clear()  # the stream went down: the watch is the only one looking
            # two looks: 0.1 s at the fast pace, 120 s at the streamed one; the wait's bound is
            # between them, far from both (a loaded CI machine makes each look slower)
            wait_until(lambda: sw.checks >= 3, timeout=30, message="fast pace back")
        finally:
            sw.stop()
        looks = [r for r in bot.emu.requests if r.path == "/fapi/v1/algoOrder"
                 and r.method == "GET"]
        assert len(looks) >= sw.checks  # each look is one request at the venue
