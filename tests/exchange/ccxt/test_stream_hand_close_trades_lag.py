"""A position closed by hand on the venue while the venue's trade list lags its positions
(Binance's userTrades list a fill a second or more after it happened). The streams report it at
once: the close's trade (an order not ours: an unknown fill) and the flat position. Both
reconciliations ran before the trade list had the close: the position was gone and no fill
explained it, so it stayed open in our books (correct: trading/evidence.py closes only on a
fill). But nothing looked again until the periodic reconcile, 300 s while the streams are up:
for five minutes the books held a position the venue no longer had (its P&L unbooked, counted
against max_open_positions, the symbol taking no entry). Now the position stream sends the
same difference again AGAIN_S later while it stays, and the close is booked from its fill.

Real symbol actor (pykka thread, SQLite) trading through the real ccxt gateway against the
Binance HTTP emulator (userTrades lagging 3 s), the Binance WebSocket emulator over the same
book, the real ccxt.pro streams and stream feed. No periodic reconcile runs here."""

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
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws
from tests.support.waiting import wait_until

DEADLINE_S = 20.0
"""Hand close -> booked: the trade list's 3 s lag and the position stream's first send again
(5 s after its first Reconcile); room for a loaded machine, far inside the 300 s periodic
reconcile of open symbols while the streams are up."""


def test_a_hand_close_the_trade_list_lags_is_booked_from_the_stream_not_minutes_later(tmp_path):
    with live_long(tmp_path, "binanceusdm", trades_lag_s=3.0, wall_time=True) as bot:
        ws = start_binance_ws(bot.book, bot.emu.venue)
        rest = MarketFeed(exchange=bot.gateway, symbols=[BTC], deliver=bot.deliver,
                          interval_s=0.2, own_prefix="main-", logger=logger,
                          fetch_fills=fills_poller(bot.gateway, [BTC]), quiet_wake_s=None,
                          gap_fills=fills_poller(bot.gateway, [BTC], forced=True))
        feed = StreamFeed(rest=rest, stale_s=2.0, logger=logger, views=bot.views)
        build = pro_exchange_factory("binanceusdm",
                                     Credentials(API_KEY, API_SECRET, source="test"),
                                     api_url=bot.emu.base_url, ws_url=ws.url, timeout_ms=3000)
        feed.attach(VenueStreams(build=build, symbols=[BTC], sink=feed, logger=logger,
                                 retry_s=0.2))
        feed.start()
        try:
            wait_until(lambda: feed.mode == "stream", timeout=15, message="streams up")
            # the gap's second REST read is done: from here only the streams report
            wait_until(lambda: feed.rechecked >= 1, timeout=15, message="the gap read twice")
            held = bot.position()
            bot.gateway.create_order(BTC, "market", "sell", held, params={
                "clientOrderId": "web-1", "reduceOnly": True})  # a person, on the website
            assert bot.position() == 0
            wait_until(lambda: feed.positions.reconciles >= 1, message="the stream's Reconcile")
            wait_until(lambda: bot.view().phase != "open", timeout=DEADLINE_S,
                       message="the hand close booked")
            bot.sync()
            assert bot.view().position is None
            assert bot.views[BTC].state.unconfirmed is None
        finally:
            feed.stop()
            ws.stop()
