"""A Binance position closed before the venue told its fees says so in its `PositionClosed`.

Found by a live run against the Binance emulator (helper e): the console and the symbol's log
read `PositionClosed {... 'realized_pnl': '-0.2630', 'fees': '0', 'net_pnl': '-0.2630'}` for a
position whose entry and close had cost 0.2758 USDT in fees: Binance order answers carry no
fee, its trade list lags the fill, and the fees are booked later on their own (`FeeBookedLate`,
README "What happens on each fault"). The dashboard's trades and the P&L got them; the journal
line a person reads showed a net that was not one, and nothing said it was not final. It now
counts the position's orders whose fee is still to be told (`fees_not_told`); a close whose
fees are all known keeps its line as it was.

Real SymbolActor (pykka, SQLite), the real ccxt gateway and streams (ccxt.pro), the Binance
HTTP and WebSocket emulators, the emulator's trade list lagging like the venue's."""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import Timer
from actors.stream_feed import StreamFeed
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from runtime.exchanges import fills_poller
from storage import queries
from tests.actors.live_emulator import BTC, START, live_long
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws
from tests.support.waiting import wait_until

TRADES_LAG_S = 3600.0
"""The venue lists no trade until the test lowers the lag (`venue.trades_lag_s`): the entry's
fee and the stop's are both untold when the stop fires, however long the streams took to come
up. (A 2 s lag made the test depend on the machine: under load the streams came up after the
entry's first late look, 5 s after it ended, had booked its fee.)"""


def test_a_close_before_its_fees_are_told_says_how_many_are_to_come(tmp_path):
    with live_long(tmp_path, "binanceusdm", trades_lag_s=TRADES_LAG_S) as bot:
        ws = start_binance_ws(bot.book, bot.emu.venue)
        rest = MarketFeed(exchange=bot.gateway, symbols=[BTC], deliver=bot.deliver,
                          interval_s=0.5, own_prefix="main-", logger=logger,
                          fetch_fills=fills_poller(bot.gateway, [BTC]))
        feed = StreamFeed(rest=rest, stale_s=2.0, logger=logger, views=bot.views)
        build = pro_exchange_factory("binanceusdm", Credentials(API_KEY, API_SECRET, source="t"),
                                     api_url=bot.emu.base_url, ws_url=ws.url, timeout_ms=3000)
        streams = VenueStreams(build=build, symbols=[BTC], sink=feed, logger=logger,
                               retry_s=0.2, markets=bot.gateway.markets)
        feed.attach(streams).start()
        try:
            wait_until(lambda: feed.mode == "stream", timeout=15, message="streams up")
            stop = bot.stops()[0]
            bot.book.set_price("BTCUSDT", stop.trigger - 1)  # the stop fires and fills
            wait_until(lambda: bot.view().phase == "flat", timeout=15, message="close booked")
            (closed,) = [e["data"] for e in queries.events(BTC, "PositionClosed")]
            late_before = queries.events(BTC, "FeeBookedLate")
            # neither fee was told when it closed (else this run did not test the case)
            assert late_before == [] and Decimal(closed["fees"]) == 0, (closed, late_before)
            assert closed["fees_not_told"] == 2, closed
            bot.emu.venue.trades_lag_s = 0.0  # the venue lists the trades from now on

            def booked() -> bool:
                bot.ref.tell(Timer())  # the supervisor's heartbeat
                return queries.ledger_net_pnl(BTC) == bot.book.balance - START

            # the entry's next look may be 20-40 s away (the wait doubles after each look)
            wait_until(booked, timeout=90, interval=0.2, message="the fees booked late")
            told = sorted(e["data"]["order"] for e in queries.events(BTC, "FeeBookedLate"))
            assert stop.cid in told and len(told) == 2
        finally:
            feed.stop()
            ws.stop()


def test_a_close_whose_fees_are_known_keeps_its_line(tmp_path):
    """Bybit's order answers carry their fees: nothing is to come, and the record's data is
    what it always was (no new key: readers and stored rows stay as they were)."""
    with live_long(tmp_path, "bybit") as bot:
        stop = bot.stops()[0]
        bot.book.set_price("BTCUSDT", stop.trigger - 1)
        bot.reconcile(1)  # no stream in this rig: the reconciliation finds the stop filled
        wait_until(lambda: bot.view().phase == "flat", timeout=15, message="close booked")
        (closed,) = [e["data"] for e in queries.events(BTC, "PositionClosed")]
        assert "fees_not_told" not in closed and Decimal(closed["fees"]) > 0, closed
        assert set(closed) == {"position_id", "side", "reason", "realized_pnl", "fees",
                               "net_pnl"}


def test_a_grid_leg_closed_before_its_fees_are_told_says_so_too(tmp_path):
    """The hedge grid's `LegClosed`, the same way (Binance in hedge mode: the long leg's stop
    fires while its opening order's fee and its own are not listed yet)."""
    with live_long(tmp_path, "binanceusdm", trades_lag_s=TRADES_LAG_S, grid=True) as bot:
        (stop,) = [o for o in bot.stops() if bot.book.leg_of(o) == "long"]
        bot.book.set_price("BTCUSDT", stop.trigger - 1)  # the long's stop fires and fills
        bot.reconcile(1)  # no stream in this rig: the reconciliation finds the stop filled
        wait_until(lambda: queries.events(BTC, "LegClosed"), timeout=15,
                   message="the long leg closed")
        (closed,) = [e["data"] for e in queries.events(BTC, "LegClosed")]
        assert queries.events(BTC, "FeeBookedLate") == [] and Decimal(closed["fees"]) == 0
        assert closed["leg"] == "long" and closed["fees_not_told"] == 2, closed
