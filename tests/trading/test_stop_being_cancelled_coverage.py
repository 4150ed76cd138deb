"""A stop the one-way core is cancelling (the old stop of a trailing move, once the new one is
acknowledged) is marked `cancel_requested_at`, as the grid marks its own: it no longer covers
the position. Unmarked, `SymbolState.protected()` (the coverage alert, the entry gate) counted
it as covering the position after the new stop was removed on the exchange, although its
cancel was already on its way. Pure core, driven through `decide`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.commands import CancelOrder
from trading.events import OrderAccepted, OrderCanceled, PriceTicked
from trading.model import OrderPurpose, Phase


def test_the_stop_being_cancelled_does_not_cover_the_position():
    c = Core()
    entry = c.entry()
    c.report(entry, "1", complete=True)
    (old,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=old.client_order_id, exchange_id="x2"))
    assert c.state.phase is Phase.OPEN and c.state.protected()
    c.send(PriceTicked(price=D("101")))  # the trailing stop activates and moves the stop
    (new,) = c.placed(OrderPurpose.STOP)
    assert new.replaces == old.client_order_id
    c.send(OrderAccepted(client_order_id=new.client_order_id, exchange_id="x3"))
    assert [x.client_order_id for x in c.last.commands if isinstance(x, CancelOrder)] == [
        old.client_order_id]
    assert c.state.order(old.client_order_id).cancel_requested_at is not None
    assert c.state.protected()  # by the new stop
    # someone removes the new stop on the exchange; the old one's cancel is still in flight
    c.send(OrderCanceled(client_order_id=new.client_order_id))
    assert not c.state.protected(), "a stop being cancelled counted as covering the position"


def test_a_stop_removed_while_the_old_one_is_being_cancelled_is_placed_again():
    """The sibling: the new stop removed on the exchange while the old one's cancel is on its
    way left no stop due (the old one counted as a stop left), so the position had no stop
    once that cancel landed, until its report came back; if the cancel failed, none was ever
    placed while the status showed the position unprotected."""
    c = Core()
    entry = c.entry()
    c.report(entry, "1", complete=True)
    (old,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=old.client_order_id, exchange_id="x2"))
    c.send(PriceTicked(price=D("101")))
    (new,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=new.client_order_id, exchange_id="x3"))
    c.send(OrderCanceled(client_order_id=new.client_order_id))
    placed = c.placed(OrderPurpose.STOP) or (c.send(PriceTicked(price=D("101"))) and
                                             c.placed(OrderPurpose.STOP))
    assert placed, "no stop placed while the only one left was being cancelled"
    (again,) = placed
    assert again.amount == D("1") and again.stop_price == new.stop_price
