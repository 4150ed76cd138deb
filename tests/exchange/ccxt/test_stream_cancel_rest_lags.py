"""A stop the order stream reports canceled while the venue's REST lookup still lists it
resting. Bybit says so of its order endpoints ("order creation/cancellation is asynchronous,
the data returned from this endpoint may delay ... rely on the websocket stream"): the push
can come before the REST read has the cancel. The stream feed told the actor, the actor's
lookup found the stop open and applied nothing, and nothing asked again: the position had no
stop on the exchange until the stop watch's next look (60 s while the streams are up) or the
periodic reconciliation (300 s), while our books called it protected. Now the feed tells the
actor again, at a growing pace, while the actor still holds an order the stream ended.

Real symbol actor (pykka thread, SQLite) trading through the real ccxt gateway against the
Bybit HTTP emulator, the Bybit WebSocket emulator over the same book, the real ccxt.pro
streams and stream feed. No stop watch and no periodic reconcile run here: only the stream
path can bring the stop back."""

from __future__ import annotations

from tests.actors.live_emulator import live_long, streamed
from tests.support.waiting import wait_until

REALTIME = "/v5/order/realtime"
DEADLINE_S = 15.0
"""Stream cancel -> a new stop resting: the feed's first look again is 1 s after its report;
the deadline leaves room for a loaded machine and stays far inside the stop watch's streamed
pace (60 s), the only other path that would have found it."""


def test_a_stop_canceled_on_the_stream_while_rest_still_lists_it_is_replaced(tmp_path):
    with live_long(tmp_path) as bot, streamed(bot, "bybit"):
        (old,) = bot.stops()
        # what the REST read answers a moment after the cancel: the stop still resting
        _, lagging = bot.emu.venue.h_v5_order_realtime(
            {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": old.cid})
        looked = len(bot.emu.hits(REALTIME))
        bot.emu.fail_next(REALTIME, 1, body=lagging)
        bot.book.cancel(old)  # by hand on the venue's website: the stream says so
        wait_until(lambda: len(bot.emu.hits(REALTIME)) > looked,
                   message="the actor's lookup of the streamed cancel")
        wait_until(lambda: [o.oid for o in bot.stops()] not in ([], [old.oid]),
                   timeout=DEADLINE_S, message="the stop replaced from the stream's report")
        (new,) = bot.stops()
        assert new.trigger == old.trigger and new.qty == old.qty
        bot.sync()
        assert bot.view().protected and bot.position() > 0
