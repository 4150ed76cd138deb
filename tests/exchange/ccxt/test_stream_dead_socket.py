"""A private socket that dies silently (a half-open connection: nothing arrives, not even a pong,
and nothing closes it) while the public socket's prices keep the streams' health fresh. Only
the socket's pings can tell; ccxt.pro's own pace for Binance (a ping frame every 180 s, dead
after two missed) left the user data stream's fills unseen for 6 minutes. Every socket is now
pinged every PING_S and one silent for two of them is replaced, and the gap is read.

The real ccxt.pro streams and gateway against the Binance emulators, the real stream feed, a
real pykka actor per symbol."""

from __future__ import annotations

from collections import Counter

from tests.exchange.ccxt.stream_rig import BTC, StreamRig
from tests.support.waiting import wait_until


def test_a_user_data_socket_that_dies_silently_is_replaced_and_its_fill_delivered(tmp_path):
    rig = StreamRig("binanceusdm", tmp_path).start()
    try:
        rig.wait_mode("stream")
        first = rig.buy()
        rig.wait_delivered(first)
        # the start-up gap's second read done (stream_feed.GAP_RECHECK_S): the lost fill must
        # come through the dead socket being found, not through that read
        wait_until(lambda: rig.feed.rechecked >= 1, timeout=15, message="the gap's 2nd read")
        reconnects = rig.streams.health().reconnects
        assert rig.ws.stall("/private/ws") == 1
        lost = rig.buy()  # its ORDER_TRADE_UPDATE reaches no one; prices keep flowing
        # found dead after two unanswered pings (PING_S 10 s: 20-30 s; ccxt's own 360-540 s),
        # then subscribed again and the gap read
        rig.wait_delivered(lost, timeout=60)
        assert Counter(rig.cids_delivered(BTC)) == Counter({first: 1, lost: 1})
        # the feed reads `connected` live and reads the gap on its own thread; the streams'
        # loop counts the fresh socket on its thread (_note_connection, every 20 ms)
        wait_until(lambda: rig.streams.health().reconnects > reconnects,
                   message="the new socket counted as a reconnect")
    finally:
        rig.stop()
