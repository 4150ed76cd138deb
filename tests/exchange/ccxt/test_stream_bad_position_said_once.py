"""A position row the streams cannot read (here Bybit's `size` left out while the row says
it is held) is skipped with one warning. ccxt.pro keeps that row in its position cache until
the symbol's next good one, and the streams read the whole cache at each position message (a
second message parsed before the watcher runs again is only there): the same row was warned
about again at every later position message of any symbol, a line per message for as long as
that symbol's position did not change. Real ccxt.pro bybit against the WebSocket emulator."""

from __future__ import annotations

import copy

from loguru import logger

from tests.exchange.ccxt.stream_rig import BTC, ETH, StreamRig
from tests.support.waiting import wait_until


def test_an_unreadable_position_row_is_said_once_not_at_every_later_message(tmp_path):
    rig = StreamRig("bybit", tmp_path).start()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        rig.wait_mode("stream")
        rig.buy()
        wait_until(lambda: rig.feed.positions.streamed >= 1, message="BTC's position")
        topic, good = rig.ws.protocol.position_event("BTCUSDT")
        bad = copy.deepcopy(good)
        del bad["data"][0]["size"]  # held (side Buy) without its size: unreadable
        rig.ws.send_raw(topic, bad)
        for n in range(3):  # later position messages, of another symbol
            before = rig.feed.positions.streamed
            rig.buy(ETH)
            wait_until(lambda b=before: rig.feed.positions.streamed > b,
                       message=f"ETH's position {n}")
        said = [m for m in lines if "bad position" in m and BTC in m]
        assert len(said) == 1, said
    finally:
        logger.remove(sink)
        rig.stop()
