"""A socket the bot closes itself is said once, by the line that says why, and that reason
stays the status's `last_error` (found by review). Closing it (Binance's listen key expired,
a Bybit private socket the venue never confirmed, a connection silent past `stream_stale_s`)
cancels each private watcher's call, and each watcher then said its own warning with an
empty reason ("stream fills failed ...: fills: CancelledError: ", three or four lines a
close) and wrote that as `last_error`, so the status dump said "positions: CancelledError: "
instead of "the venue expired the listen key of the private stream".

Real ccxt.pro classes against the WebSocket and HTTP emulators, the real feeds and actors
(stream_rig.py)."""

from __future__ import annotations

import pytest
from loguru import logger

from supervision.status import stream_status
from tests.exchange.ccxt.stream_rig import ETH, StreamRig
from tests.exchange.ccxt.ws_emu_binance import expire_listen_key
from tests.support.waiting import wait_until


def _warnings() -> tuple[list[str], int]:
    said: list[str] = []
    return said, logger.add(lambda m: said.append(m.record["message"]), level="WARNING")


def test_an_expired_listen_key_is_one_line_and_the_status_names_it(tmp_path):
    r = StreamRig("binanceusdm", tmp_path).start()
    said, sink = _warnings()
    try:
        r.wait_mode("stream")
        assert expire_listen_key(r.ws, r.venue) == 1
        wait_until(lambda: r.feed.switches >= 2, message="REST took over and the stream came back")
        r.wait_mode("stream")
        later = r.buy(ETH)  # on the new key's socket: every watcher has run again
        r.wait_delivered(later, ETH)
        block = stream_status(r.feed)["streams"]
        assert block["last_error"] == "the venue expired the listen key of the private stream"
        assert [s for s in said if "listen key" in s] == [
            "streams: the venue expired the listen key of the private stream; subscribing "
            "again on a new connection (until it connects, again at debug level)"], said
        assert not [s for s in said if "CancelledError" in s], said
    finally:
        logger.remove(sink)
        r.stop()


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_a_silent_connection_the_feed_replaces_is_not_said_once_per_watcher(venue_id,
                                                                              tmp_path):
    r = StreamRig(venue_id, tmp_path).start()
    said, sink = _warnings()
    try:
        r.wait_mode("stream")
        r.ws.silence(True)
        r.wait_mode("rest")
        wait_until(lambda: r.streams.health().reconnects >= 1, timeout=30,
                   message="the silent connection replaced")
        r.ws.silence(False)
        r.wait_mode("stream")
        later = r.buy(ETH)
        r.wait_delivered(later, ETH)
        assert "streams down: prices and fills from REST until they recover" in said, said
        assert not [s for s in said if "CancelledError" in s], said
    finally:
        logger.remove(sink)
        r.stop()
