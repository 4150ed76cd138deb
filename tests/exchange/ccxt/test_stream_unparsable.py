"""A message ccxt.pro's own parser cannot read (a number that is not one: "price": "abc")
raised inside ccxt's message handler, which runs in the socket's receive callback: the
exception ended that socket's receive loop (asyncio printed a traceback), the socket stayed
open and the public prices kept the streams "up", so every later order and fill on the private
socket went unseen until the unanswered pings closed it (~20-30 s) and a gap fill found them.
Now the message is skipped with one line naming the topic and symbol, the order it names is
looked up, and the socket reads on. Real ccxt.pro classes against the WebSocket emulators."""

from __future__ import annotations

import copy
from collections import Counter
from decimal import Decimal

import pytest
from loguru import logger

from tests.exchange.ccxt.stream_rig import BTC, ETH, StreamRig
from tests.support.waiting import wait_until


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_a_message_ccxt_cannot_parse_is_skipped_and_the_socket_reads_on(venue_id, tmp_path):
    rig = StreamRig(venue_id, tmp_path).start()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        rig.wait_mode("stream")
        cid = rig.buy()
        rig.wait_delivered(cid)
        if venue_id == "bybit":
            (topic, word) = ("order", "order")
            last = [m for t, m in rig.ws.sent
                    if t == topic and m["data"][0]["orderLinkId"] == cid][-1]
            bad = copy.deepcopy(last)
            bad["data"][0]["price"] = "abc"  # ccxt's safe_order: int('abc') raises
        else:
            (topic, word) = ("user", "ORDER_TRADE_UPDATE")
            last = [m for t, m in rig.ws.sent if t == topic and m["e"] == word
                    and m["o"]["c"] == cid and m["o"]["x"] == "TRADE"][-1]
            bad = copy.deepcopy(last)
            bad["o"].update(t=4242, L="abc")  # ccxt's parse_ws_trade: int('abc') raises
        streamed = rig.feed.fills_streamed
        reconnects = rig.streams.health().reconnects
        rig.ws.send_raw(topic, bad)
        marker = rig.buy(ETH)  # on the same private socket, after the bad message
        rig.wait_delivered(marker, ETH, timeout=60)
        # the marker came from the stream, on the same socket: no reconnect, no gap fill
        assert rig.streams.health().reconnects == reconnects
        assert rig.feed.fills_streamed == streamed + 1
        assert rig.feed.mode == "stream"
        # the order the bad message names is looked up (once for its fill, once now)
        assert Counter(rig.cids_delivered(BTC))[cid] == 2
        said = [m for m in lines if "could not read" in m]
        assert len(said) == 1 and word in said[0] and "BTCUSDT" in said[0], lines
        assert "\n" not in said[0]
    finally:
        logger.remove(sink)
        rig.stop()


def test_a_binance_stop_update_ccxt_cannot_parse_has_the_stop_looked_up(tmp_path):
    """Binance names a conditional (algo) order's client id `caid`, not `c`: a stop's
    ALGO_UPDATE that ccxt cannot parse (its cancel by hand, "p": "abc") must still have the
    stop looked up now, not at the stop watch's next look (60 s while the streams are up)."""
    rig = StreamRig("binanceusdm", tmp_path).start()
    try:
        rig.wait_mode("stream")
        rig.buy()
        stop = "main-t1-stop-1"
        rig.gateway.create_order(BTC, "market", "sell", Decimal("0.01"), params={
            "clientOrderId": stop, "stopLossPrice": Decimal("45000"), "reduceOnly": True})
        wait_until(lambda: [m for t, m in rig.ws.sent if t == "user"
                            and m["e"] == "ALGO_UPDATE" and m["o"]["caid"] == stop],
                   message="the stop's ALGO_UPDATE")
        last = [m for t, m in rig.ws.sent
                if t == "user" and m["e"] == "ALGO_UPDATE" and m["o"]["caid"] == stop][-1]
        bad = copy.deepcopy(last)
        bad["o"].update(X="CANCELED", p="abc")  # ccxt's parse_ws_order: int('abc') raises
        rig.ws.send_raw("user", bad)
        rig.wait_delivered(stop)
        assert rig.feed.mode == "stream"
    finally:
        rig.stop()
