"""The filled part of an entry still open, with the price already through its stop level, gets
its stop sent and is not closed while the entry is open (trading/decide.py `protect`: "an
entry still open is not closed"; ENTERING -> CLOSING is no legal transition). Mutation audit
(helper y): with that phase check dropped, no test failed: such a part then raised
IllegalTransition in the decision, which crashes the symbol's actor and quarantines the symbol
(tests/trading/test_illegal_transition_in_actor.py), on a fast market, where it matters most.

Rules of tests/trading/conftest.py (stop 1 %): the last price is 98.7 when an entry of 1
fills 0.5 at 100, the rest still open: its stop, 99.0, is sent for the 0.5.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.events import OrderFilled, PriceTicked
from trading.model import OrderPurpose, Phase


def test_a_part_filled_through_its_stop_gets_its_stop_and_no_close():
    c = Core()
    entry = c.entry()
    c.send(PriceTicked(price=D("98.7")))
    c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1", filled=D("0.5"),
                       average=D(100), fee=D("0.025"), complete=False))
    assert c.state.phase is Phase.ENTERING
    (stop,) = c.placed(OrderPurpose.STOP)
    assert (stop.amount, stop.stop_price) == (D("0.5"), D("99.0"))
    assert c.placed(OrderPurpose.CLOSE) == []
