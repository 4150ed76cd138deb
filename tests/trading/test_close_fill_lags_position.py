"""A reconciliation that reads a smaller position while our own close's lookup does not show
its fill yet (the order lookup lags the position list): the shrink is that close's, so the
position keeps its size until the close's report books it. Following the exchange first made
the close's report (0.6) larger than the position left in the books (0.4): the books closed the
position, booked part of the fill and cancelled the stop while 0.4 stayed open on the exchange."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import CancelOrder, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderAccepted,
    OrderFilled,
    PriceTicked,
    Reconciled,
    SignalRaised,
)
from trading.model import Phase, Side, SymbolState


def test_a_close_fill_the_lookup_does_not_show_yet_is_not_taken_off_twice():
    core = SymbolCore(make_rules())
    now = 1000.0
    d = core.decide(SymbolState(symbol=core.rules.symbol), PriceTicked(price=D("100")), now)
    d = core.decide(d.state, SignalRaised(side=Side.LONG), now + 1)
    (entry,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e",
                                         filled=D("1"), average=D("100"), fee=D("0.05")), now + 2)
    (stop,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderAccepted(client_order_id=stop.client_order_id,
                                           exchange_id="s"), now + 3)
    d = core.decide(d.state, SignalRaised(side=None, reason="exit"), now + 4)
    (close,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    # the close's send timed out: its outcome is unknown, it stays pending
    lagging = ExchangeOrder(client_order_id=close.client_order_id, exchange_id="c",
                            status="open", filled=D("0"), average=None, fee=D("0"))
    resting = ExchangeOrder(client_order_id=stop.client_order_id, exchange_id="s",
                            status="open", filled=D("0"), average=None, fee=D("0"))
    d = core.decide(d.state, Reconciled(
        position=ExchangePosition(side=Side.LONG, contracts=D("0.4"), entry_price=D("100")),
        orders={close.client_order_id: lagging, stop.client_order_id: resting},
        price=D("101")), now + 5)
    # the close's own report: 0.6 filled at 101, the rest expired
    d = core.decide(d.state, OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                                         filled=D("0.6"), average=D("101"), fee=D("0.03"),
                                         complete=True), now + 6)
    state = d.state
    assert state.position is not None and state.position.contracts == D("0.4"), \
        "0.4 is still open on the exchange"
    assert state.phase is Phase.CLOSING
    assert not any(isinstance(c, CancelOrder) and c.client_order_id == stop.client_order_id
                   for c in d.commands), "the stop of the 0.4 still open was cancelled"
    assert state.active_stop() is not None
    booked = [e for e in d.ledger if e.client_order_id == close.client_order_id]
    assert [e.amount for e in booked] == [D("0.6")] and booked[0].realized_pnl == D("0.6")
