"""Defect 2c with real parts: a Binance stop fills, the user-data stream reports it within
milliseconds, and the actor looks the order up at once; the venue's trade list (userTrades,
where alone a Binance order's fee is) shows the trade only TRADES_LAG_S later. Before the fix
the fill was booked complete with fee 0 and the fee was never booked: the ledger's net was
higher than the wallet's change by the stop's whole fee (and the entry's: its create answer
carries no fee, the late look books it). Now the order is looked at again
(heartbeat Timers only, as the supervisor sends them) and its fee is booked when it shows.

Real SymbolActor (pykka, SQLite), the real ccxt gateway and streams (ccxt.pro), the Binance
HTTP and WebSocket emulators; the emulator's trade list lags like the venue's
(`BinanceVenue.trades_lag_s`)."""

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

TRADES_LAG_S = 1.5


def test_a_stop_fill_whose_trades_lag_gets_its_fee_booked(tmp_path):
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
            assert feed.fills_streamed >= 1  # the stream told it, not a REST poll

            def booked() -> bool:
                bot.ref.tell(Timer())  # the supervisor's heartbeat
                return queries.ledger_net_pnl(BTC) == bot.book.balance - START

            wait_until(booked, timeout=30, interval=0.2, message="the stop's fee booked")
            venue_fees = sum((t.fee for t in bot.book.trades), Decimal(0))
            fees = sum((Decimal(f.fee) for f in queries.fills(BTC)), Decimal(0))
            assert fees == venue_fees and venue_fees > 0
            # each fee booked once, on its own: the stop's, and the entry's (its create answer
            # carries none: the late look books it)
            late = sorted(f.client_order_id for f in queries.fills(BTC) if Decimal(f.amount) == 0)
            assert stop.cid in late and len(late) == len(set(late)) == 2
        finally:
            feed.stop()
            ws.stop()
