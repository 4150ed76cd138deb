"""An entry that ends lower than its first part (still above the part's stop) covers the whole
position at the part's acknowledged stop, never lower: a stop does not move against the
position. Mutation audit of trading/stop_rules.py `cover_stop` (`level` taken only where it is
better)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core, assert_part_protected
from trading.events import OrderAccepted, PriceTicked
from trading.model import OrderPurpose, Phase


def test_the_whole_entry_s_lower_initial_stop_does_not_loosen_the_part_s_stop():
    c = Core()
    entry = c.entry()
    c.report(entry, "0.5", complete=False)  # 0.5 at 100: a stop at 99.0
    part_stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=part_stop.client_order_id, exchange_id="x2"))
    c.send(PriceTicked(price=D("99.6")))
    c.report(entry, "1", complete=True, price="99.75")  # 0.5 more at 99.5: 1 % below is 98.7
    assert c.state.phase is Phase.OPEN
    (whole,) = c.placed(OrderPurpose.STOP)
    assert whole.amount == D("1") and whole.replaces == part_stop.client_order_id
    assert whole.stop_price == D("99.0")
