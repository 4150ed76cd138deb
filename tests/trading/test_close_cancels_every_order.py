"""Incident 9, one-way style: when a position closes, every order that belonged to it is
cancelled, not only its stop. Here the stop fills while the strategy's close order, already
acknowledged by the exchange, still rests: the close must be cancelled (a review showed that a
core cancelling only the stop passed every test). Pure core."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import CancelOrder, PlaceOrder
from trading.decide import SymbolCore
from trading.events import OrderAccepted, OrderFilled, PriceTicked, SignalRaised
from trading.model import OrderPurpose, OrderStatus, Phase, Side, SymbolState


def test_a_stop_fill_cancels_the_resting_close_order_too():
    core = SymbolCore(make_rules())
    now = 1000.0
    state = core.decide(SymbolState(symbol=core.rules.symbol), PriceTicked(price=D(100)),
                        now).state
    d = core.decide(state, SignalRaised(side=Side.LONG), now)
    (entry,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e",
                                         filled=entry.amount, average=D(100), fee=D(0)), now)
    (stop,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    state = core.decide(d.state, OrderAccepted(client_order_id=stop.client_order_id,
                                               exchange_id="s"), now).state
    d = core.decide(state, SignalRaised(side=None, reason="exit"), now)
    (close,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert close.purpose is OrderPurpose.CLOSE
    d = core.decide(d.state, OrderAccepted(client_order_id=close.client_order_id,
                                           exchange_id="c"), now)
    resting = {o.client_order_id: o.status for o in d.state.orders}
    assert resting == {stop.client_order_id: OrderStatus.OPEN,
                       close.client_order_id: OrderStatus.OPEN}
    d = core.decide(d.state, OrderFilled(client_order_id=stop.client_order_id, exchange_id="s",
                                         filled=stop.amount, average=D(99), fee=D(0)), now)
    assert d.state.phase is Phase.FLAT and d.state.position is None
    cancelled = [c.client_order_id for c in d.commands if isinstance(c, CancelOrder)]
    assert cancelled == [close.client_order_id]
    assert [j.type for j in d.journal if j.type == "PositionClosed"] == ["PositionClosed"]
