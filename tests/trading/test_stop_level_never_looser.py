"""Where a position's stop belongs (`stop_rules.stop_level`) is never looser than its initial
stop: a trailing stop whose callback is wider than the stop loss (allowed by config) has a
trigger below the initial stop of a long once it activates, and a stop re-placed for it stays at
the initial level. Mutation audit of trading/stop_rules.py `stop_level` (a level taken only
where it is better)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.events import OrderAccepted, PriceTicked
from trading.model import OrderPurpose, TrailingState
from trading.stop_rules import stop_level


def test_a_wide_trailing_trigger_does_not_loosen_the_stop_level():
    c = Core(stop_loss_pct=D("1"), trailing_activation_pct=D("0.5"),
             trailing_callback_pct=D("3"))
    entry = c.entry()
    c.report(entry, "1", complete=True)  # a long of 1 at 100: its stop at 99.0
    (stop,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.send(PriceTicked(price=D("100.6")))  # the trailing stop activates: 3 % below is 97.5
    t = c.state.trailing
    assert t is not None and t.state is TrailingState.ACTIVE
    assert t.trigger_price is not None and t.trigger_price < D("99.0")
    assert stop_level(c.state, c.core.rules) == D("99.0")
