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

from loguru import logger

from actors.market_feed import MarketFeed
from actors.stream_feed import StreamFeed
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from runtime.exchanges import fills_poller
from tests.actors.live_emulator import BTC, live_long
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws
from tests.support.waiting import wait_until

REALTIME = "/v5/order/realtime"
DEADLINE_S = 15.0
"""Stream cancel -> a new stop resting: the feed's first look again is 1 s after its report;
the deadline leaves room for a loaded machine and stays far inside the stop watch's streamed
pace (60 s), the only other path that would have found it."""


def test_a_stop_canceled_on_the_stream_while_rest_still_lists_it_is_replaced(tmp_path):
    with live_long(tmp_path) as bot:
        ws = start_bybit_ws(bot.book, API_KEY, API_SECRET)
        rest = MarketFeed(exchange=bot.gateway, symbols=[BTC], deliver=bot.deliver,
                          interval_s=0.2, own_prefix="main-", logger=logger,
                          fetch_fills=fills_poller(bot.gateway, [BTC]), quiet_wake_s=None)
        feed = StreamFeed(rest=rest, stale_s=2.0, logger=logger, views=bot.views)
        build = pro_exchange_factory("bybit", Credentials(API_KEY, API_SECRET, source="test"),
                                     api_url=bot.emu.base_url, ws_url=ws.url, timeout_ms=3000)
        feed.attach(VenueStreams(build=build, symbols=[BTC], sink=feed, logger=logger,
                                 retry_s=0.2))
        feed.start()
        try:
            wait_until(lambda: feed.mode == "stream", timeout=15, message="streams up")
            wait_until(lambda: ws.subscribed("order"), message="the venue taking 'order'")
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
        finally:
            feed.stop()
            ws.stop()
