"""Review 3, defect 1, end to end: real actors on the paper exchange. The closed long's stop
stays on the exchange (its cancel timed out); the short that opens next must never rely on it.
When the short's own stop is removed on the exchange, the short gets a new buy stop; the next
reconciliation cancels the long's leftover stop."""

from __future__ import annotations

import pytest

from actors.messages import OrderActivity, Reconcile, Timer
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import Harness
from trading.model import OrderPurpose, Side

BTC = "BTC/USDT:USDT"


@pytest.fixture
def bot(tmp_path):
    h = Harness(tmp_path, [BTC], wrap=FaultyExchange, risk={"cooldown_after_loss_s": 0.0}).start()
    yield h
    h.stop()


def test_a_short_never_relies_on_the_closed_longs_leftover_stop(bot):
    bot.poll()
    bot.idle(BTC)
    assert bot.signal(BTC, Side.LONG)
    bot.idle(BTC)
    (long_stop,) = bot.exchange_stops(BTC)
    lost = {"cancels": 1}

    def cancel_times_out(name, args, kwargs):
        if lost["cancels"]:
            lost["cancels"] -= 1
            raise TimeoutError("read timeout")

    bot.exchange.before["cancel_order"] = cancel_times_out
    assert bot.signal(BTC, None)
    bot.idle(BTC)
    assert bot.exchange_position(BTC) is None
    assert [o.id for o in bot.exchange_stops(BTC)] == [long_stop.id]  # left on the exchange

    assert bot.signal(BTC, Side.SHORT)
    bot.idle(BTC)
    state = bot.views[BTC].state
    short_stop = state.active_stop()
    assert short_stop is not None and short_stop.side == "buy"
    # the short's stop is removed on the exchange; the stop watch reports it
    bot.paper.cancel_order(short_stop.exchange_id, BTC,
                           {"clientOrderId": short_stop.client_order_id})
    bot.sup.tell(BTC, OrderActivity(client_order_ids=(short_stop.client_order_id,)))
    bot.sup.tell(BTC, Timer())
    bot.idle(BTC)
    buy_stops = [o for o in bot.exchange_stops(BTC) if o.side == "buy"]
    assert len(buy_stops) == 1, "the short must have a buy stop on the exchange again"
    state = bot.views[BTC].state
    assert state.active_stop() is not None and state.active_stop().side == "buy"

    bot.sup.tell(BTC, Reconcile(reason="periodic"))
    bot.idle(BTC)
    assert [o.side for o in bot.exchange_stops(BTC)] == ["buy"]  # the long's stop is gone
    left = [o for o in bot.views[BTC].state.orders if o.purpose is OrderPurpose.STOP]
    assert [o.side for o in left] == ["buy"]
