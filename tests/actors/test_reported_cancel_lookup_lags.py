"""A stop the order stream reports canceled, whose lookup finds nothing yet. Bybit's
/v5/order/realtime lists open orders only (by default) and /v5/order/history "may delay" (v5
docs: order creation/cancellation is asynchronous), so right after a cancel a lookup by client
id can find the order in neither. The actor logged "fetch_order ... failed" and did nothing
more: the position was believed protected with no stop on the exchange until the stop watch's
next look (60 s while the streams are up) or the next periodic reconciliation. Now a report
whose lookup fails is reconciled at once (a missing stop is replaced at its first miss).
Real actor, real ccxt gateway, the Bybit emulator."""

from __future__ import annotations

from actors.messages import OrderActivity, Timer
from tests.actors.live_emulator import live_long
from tests.exchange.ccxt import emu_bybit
from tests.support.waiting import wait_until

HISTORY = "/v5/order/history"
EMPTY_HISTORY = {**emu_bybit.EMPTY_POSITIONS}


def test_a_streamed_stop_cancel_whose_lookup_lags_is_reconciled_and_the_stop_replaced(tmp_path):
    with live_long(tmp_path) as bot:
        (old,) = bot.stops()
        bot.book.cancel(old)  # the venue (or a person) removes it; the stream says so
        bot.emu.fail_next(HISTORY, 1, body=EMPTY_HISTORY)  # the history lags the cancel once
        bot.ref.tell(OrderActivity(client_order_ids=(old.cid,)))  # what the stream feed sends
        bot.ref.tell(Timer())
        bot.sync()
        wait_until(lambda: [o.oid for o in bot.stops()] not in ([], [old.oid]), timeout=5,
                   message="stop replaced without waiting for the stop watch")
        (new,) = bot.stops()
        assert new.trigger == old.trigger and new.qty == old.qty
        assert bot.view().protected and bot.position() > 0
