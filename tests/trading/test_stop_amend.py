"""Stop moves by amendment where the venue can amend (issue 12 item 7, Bybit `/v5/order/amend`),
on the pure one-way core through the production loop: the trailing stop's move amends the
resting stop in place (no second stop, no cancel); a refused amendment falls back to placing
the new stop first and cancelling the old one; without amendment the move is place-then-cancel
as before."""

from __future__ import annotations

from decimal import Decimal

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.commands import AmendStop, CancelOrder, PlaceOrder
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised, StopAmended, StopAmendFailed
from trading.model import OrderPurpose, Phase, Side

D = Decimal


def long_then_ratchet(amend: bool) -> tuple[Scenario, list]:
    sc = Scenario(SymbolCore(make_rules(amend_stops=amend)))
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    assert sc.state.phase is Phase.OPEN and sc.state.active_stop() is not None
    d = sc.send(PriceTicked(price=D("101")))  # activates the trailing stop and ratchets it
    return sc, list(d.commands)


def test_the_move_amends_the_resting_stop_in_place():
    sc, commands = long_then_ratchet(amend=True)
    stop = sc.state.active_stop()
    (amend,) = commands
    assert isinstance(amend, AmendStop) and amend.client_order_id == stop.client_order_id
    assert amend.stop_price > stop.stop_price and amend.exchange_id == stop.exchange_id
    d = sc.send(StopAmended(client_order_id=amend.client_order_id, stop_price=amend.stop_price))
    moved = sc.state.active_stop()
    assert moved.client_order_id == stop.client_order_id  # the same order, moved
    assert moved.stop_price == sc.state.stop_price == amend.stop_price
    assert not [c for c in d.commands if isinstance(c, (PlaceOrder, CancelOrder))]
    assert "StopAmended" in [j.type for j in d.journal]
    assert len(sc.state.live_orders(OrderPurpose.STOP)) == 1


def test_a_refused_amendment_falls_back_to_place_then_cancel():
    sc, commands = long_then_ratchet(amend=True)
    (amend,) = commands
    old = sc.state.active_stop()
    d = sc.send(StopAmendFailed(client_order_id=amend.client_order_id,
                                stop_price=amend.stop_price, error="NotSupported"))
    placed = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert [(o.purpose, o.stop_price, o.replaces) for o in placed] == [
        (OrderPurpose.STOP, amend.stop_price, old.client_order_id)]
    # the scenario's exchange acknowledges the new stop; then the old one is cancelled
    assert [c.client_order_id for c in sc.canceled] == [old.client_order_id]
    assert sc.state.stop_price == amend.stop_price


def test_without_amendment_a_move_places_first_then_cancels():
    sc, commands = long_then_ratchet(amend=False)
    assert [type(c) for c in commands][:1] == [PlaceOrder]
    assert not [c for c in commands if isinstance(c, AmendStop)]
