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

from tests.actors.live_emulator import BTC, live_long, streamed
from tests.support.waiting import wait_until

DEADLINE_S = 20.0
"""Hand close -> booked: the trade list's 3 s lag and the position stream's first send again
(5 s after its first Reconcile); room for a loaded machine, far inside the 300 s periodic
reconcile of open symbols while the streams are up."""


def test_a_hand_close_the_trade_list_lags_is_booked_from_the_stream_not_minutes_later(tmp_path):
    with live_long(tmp_path, "binanceusdm", trades_lag_s=3.0, wall_time=True) as bot, \
            streamed(bot, "binanceusdm", gap_fills=True) as feed:
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
