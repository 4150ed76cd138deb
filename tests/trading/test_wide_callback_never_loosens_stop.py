"""A trailing callback wider than the stop-loss never moves the exchange stop away from the
price (trading/trailing_stop.py `stop_should_move`: only a move in the position's favour).
Mutation audit (helper y): with that check dropped, the trailing-stop property and scenario
tests did not notice with the rules they use (a callback narrower than the stop-loss, so the
trigger is always better than the stop when it activates). The configuration allows a callback
up to 50 % (config/sections.py), and with `stop_loss_pct = 1` and `trailing_callback_pct = 2`
the activation moved a long's stop from 99.0 down to 98.4: the loss the position could take
grew from 1 % to 1.6 % the moment the trade went its way.

Rules of tests/trading/conftest.py (tick 0.1, activation 0.5 %, step 0.1 %, stop 1 %),
callback 2 %. Long from 100, stop 99.0: 100.5 activates, trigger floor(100.5 * 0.98 = 98.49)
= 98.4, worse than 99.0: the stop stays; 101.5: trigger floor(99.47) = 99.4, better by 0.4
>= 0.1015: the stop goes to 99.4. Short from 100, stop 101.0: 99.5 activates, trigger
ceil(99.5 * 1.02 = 101.49) = 101.5, worse: stays; 98.5: ceil(100.47) = 100.5: moves there.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised, TimerFired
from trading.model import OrderPurpose, Side, TrailingState

D = Decimal


@pytest.mark.parametrize(("side", "prices", "stops"), [
    (Side.LONG, ("100.5", "100.6", "101.5"), ["99.0", "99.4"]),
    (Side.SHORT, ("99.5", "99.4", "98.5"), ["101.0", "100.5"]),
])
def test_a_trigger_behind_the_stop_does_not_move_it(side, prices, stops):
    rules = make_rules(trailing_callback_pct=D("2"))
    for quiet in (False, True):  # every price decided, and the loop's quiet-band shortcut
        sc = Scenario(SymbolCore(rules), quiet_prices=quiet)
        sc.send(PriceTicked(price=D("100")))
        sc.send(SignalRaised(side=side))
        sc.send(PriceTicked(price=D(prices[0])))
        assert sc.state.trailing.state is TrailingState.ACTIVE
        sc.send(TimerFired(), dt=1.0)  # the timer's retry of a due move too
        sc.send(PriceTicked(price=D(prices[1])))
        placed = [p.order.stop_price for p in sc.placed if p.order.purpose is OrderPurpose.STOP]
        assert placed == [D(stops[0])], "the stop moved away from the price"
        sc.send(PriceTicked(price=D(prices[2])))
        placed = [p.order.stop_price for p in sc.placed if p.order.purpose is OrderPurpose.STOP]
        assert placed == [D(s) for s in stops]
        assert sc.state.stop_price == D(stops[-1])
