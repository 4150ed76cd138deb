"""An order update whose numbers are no numbers (a filled quantity "NaN", "Infinity" or
below 0) was taken as it came (exchange/ccxt/convert.py `order`): the stream feed keeps each
order's progress (status, filled) to drop stale updates, and the next update of that order
compared its filled quantity with the NaN, which raised on the streams' thread. The order
watcher failed: the whole message was lost (every symbol's updates in it, such as a stop's
cancel, whose re-placement waited for the stop watch), the streams counted as down and
resubscribed. Now such a row cannot be read: it is skipped with one line, its order is looked
up over REST, and the stream reads on. Real ccxt.pro bybit class, WebSocket emulator, real
stream feed, a real pykka actor per symbol."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from loguru import logger

from tests.exchange.ccxt.stream_rig import BTC, ETH, PREFIX, StreamRig


@pytest.mark.parametrize("garbled", ["NaN", "Infinity", "-0.01"])
def test_an_order_update_with_a_garbled_filled_quantity_never_takes_the_stream_down(
        garbled, tmp_path):
    rig = StreamRig("bybit", tmp_path).start()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        rig.wait_mode("stream")
        cid = rig.buy()
        rig.wait_delivered(cid)
        template = [m for t, m in rig.ws.sent
                    if t == "order" and m["data"][0]["orderLinkId"] == cid][-1]
        row = template["data"][0]

        def update(symbol: str, link: str, order_id: str, status: str, filled: str) -> dict:
            # the value and average as a real row carries them: ccxt 4.5.90 then passes the
            # garbled quantity on (without them it raises itself, stream_guard's case)
            return {**row, "symbol": symbol, "orderLinkId": link, "orderId": order_id,
                    "orderStatus": status, "cumExecQty": filled, "leavesQty": "0.01",
                    "cumExecValue": "500", "avgPrice": "50000", "cumExecFee": "0"}

        garbled_cid, stop_cid = f"{PREFIX}garbled-1", f"{PREFIX}stop-eth-1"
        first = copy.deepcopy(template)
        first["data"] = [update("BTCUSDT", garbled_cid, "900001", "New", garbled)]
        # the same order again, and in the same message another symbol's stop canceled
        second = copy.deepcopy(template)
        second["data"] = [update("BTCUSDT", garbled_cid, "900001", "New", "0"),
                          update("ETHUSDT", stop_cid, "900002", "Cancelled", "0")]
        reconnects = rig.streams.health().reconnects
        rig.ws.send_raw("order", first)
        rig.ws.send_raw("order", second)
        # the canceled stop reaches its actor from the stream, in the same message
        rig.wait_delivered(stop_cid, ETH)
        # the garbled row's order is looked up now (its actor is told)
        assert garbled_cid in rig.cids_delivered(BTC)
        marker = rig.buy(ETH)  # after both, on the same socket
        rig.wait_delivered(marker, ETH)
        assert rig.streams.health().reconnects == reconnects
        assert rig.feed.mode == "stream"
        assert not [m for m in lines if "stream orders failed" in m], lines
        said = [m for m in lines if "skipped a bad order update" in m]
        assert len(said) == 1 and BTC in said[0] and "filled" in said[0], lines
        assert Counter(rig.cids_delivered(ETH))[stop_cid] == 1
    finally:
        logger.remove(sink)
        rig.stop()
