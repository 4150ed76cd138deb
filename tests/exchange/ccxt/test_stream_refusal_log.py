"""A subscription the venue keeps refusing is not a warning at every refusal for as long as it
lasts (found by review). Each refusal was said with its streak: the wait grows to 60 s, but a
Bybit login refused (a key expired or revoked) fails the three private watchers again each
time their socket is replaced, three warnings every 10 s for ever, burying the lines that
matter. Now a refusal is said at 1, 2, 4, 8 ... in a row (the ones between at debug level).
The real ccxt.pro bybit class against the HTTP and WebSocket emulators, the venue refusing the
`order` topic; the streams' retry pace shortened through their constructor."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET
from tests.exchange.ccxt.stream_rig import SYMBOLS, StreamRig
from tests.exchange.ccxt.test_stream_start_failure import Lines
from tests.support.waiting import wait_until


def test_a_refusal_that_lasts_is_said_at_doubling_streaks_not_each_time(tmp_path: Path):
    rig = StreamRig("bybit", tmp_path, confirm_s=10.0)
    rig.ws.protocol.refused.add("order")
    build = pro_exchange_factory("bybit", Credentials(API_KEY, API_SECRET, source="test"),
                                 api_url=rig.http.base_url, ws_url=rig.ws.url,
                                 timeout_ms=10_000, meter=rig.gateway.meter)
    log = Lines()
    rig.streams = VenueStreams(build=build, symbols=SYMBOLS, sink=rig.feed, logger=log,
                               retry_s=0.01, confirm_s=10.0, markets=rig.gateway.markets)
    rig.feed.attach(rig.streams)

    def refusals() -> int:
        return sum(1 for _, topics in list(rig.ws.protocol.subscribes) if "order" in topics)

    rig.start()
    try:
        wait_until(lambda: refusals() >= 10, timeout=30, message="ten refusals of `order`")
    finally:
        rig.stop()
    said: list[Any] = [text for level, text in log.lines
                       if level == "warning" and text.startswith("stream orders failed")]
    streaks = [int(m.group(1)) if (m := re.search(r"\((\d+) times in a row", t)) else 1
               for t in said]
    assert streaks[:4] == [1, 2, 4, 8], said
    assert all(s & (s - 1) == 0 for s in streaks), said  # at most 1, 2, 4, 8, 16 ...
