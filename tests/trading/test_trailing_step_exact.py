"""A trailing move of exactly `trailing_step_pct` of the price is made (trading/trailing_stop.py
`stop_should_move`: at least the step, `>=`). Mutation audit (helper y): with `>` no test
failed; the exchange stop then stayed a whole move behind the trigger at every price whose move
is exactly the step, and only the bot's own close (`_exit_reason`, one round trip later than a
resting stop) protected the profit in between.

Rules of tests/trading/conftest.py (tick 0.1, activation 0.5 %, stop 1 %), callback 0.3 %,
step 1 %. Long from 100: the stop starts at 99.0; 108.9 activates, trigger floor(108.9 * 0.997
= 108.5733) = 108.5, a move of 9.5 >= 1.089: the stop goes to 108.5. 110: trigger
floor(110 * 0.997 = 109.67) = 109.6, a move of 1.1 = 110 * 1 % exactly: the stop goes to
109.6. The short mirrors it from 100 (stop 101.0): 90.9 -> trigger ceil(90.9 * 1.003 =
91.1727) = 91.2; 90 -> ceil(90.27) = 90.3, a move of 0.9 = 90 * 1 % exactly.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised
from trading.model import OrderPurpose, Side

D = Decimal


@pytest.mark.parametrize(("side", "prices", "stops"), [
    (Side.LONG, ("108.9", "110"), ["99.0", "108.5", "109.6"]),
    (Side.SHORT, ("90.9", "90"), ["101.0", "91.2", "90.3"]),
])
def test_a_move_of_exactly_the_step_moves_the_exchange_stop(side, prices, stops):
    rules = make_rules(trailing_callback_pct=D("0.3"), trailing_step_pct=D("1"))
    for quiet in (False, True):  # every price decided, and the loop's quiet-band shortcut
        sc = Scenario(SymbolCore(rules), quiet_prices=quiet)
        sc.send(PriceTicked(price=D("100")))
        sc.send(SignalRaised(side=side))
        for price in prices:
            sc.send(PriceTicked(price=D(price)))
        placed = [p.order.stop_price for p in sc.placed if p.order.purpose is OrderPurpose.STOP]
        assert placed == [D(s) for s in stops]
        assert sc.state.stop_price == D(stops[-1])
        assert sc.state.trailing.trigger_price == D(stops[-1])
