"""An opening order that reconciliation ends as never on the exchange (an intent committed, then
the process killed before its send; a lookup by client id does not find it once its send grace
is over: `OrderFailed.unseen`) is no refusal: nothing refused it. The one-way core counted it as
one, so the strategy's next entry waited `risk.entry_retry_s` (10 s); the grid counted it as a
refusal of its open wait, so the flat leg reopened `open_retry_s` (10 s) later: chaos reviews
(session 46: live grid, paper grid) measured 10.4-15.1 s from the lost opening order's end to
the leg's reopening. A refusal by the venue still waits. Driven through the production cores."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from tests.trading.test_grid_core import Book
from trading.decide import SymbolCore
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderFailed,
    PriceTicked,
    Reconciled,
    SignalRaised,
)
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import OrderPurpose, Phase, Side


def test_one_way_an_entry_reconciliation_found_never_sent_counts_no_refusal():
    sc = Scenario(SymbolCore(replace(make_rules(), send_grace_s=0.0)), auto_exchange=False)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    d = sc.send(Reconciled(position=None, orders={}, price=D("100")))
    assert "IntentNotOnExchange" in [j.type for j in d.journal]
    assert sc.state.phase is Phase.FLAT
    assert sc.state.entry_refusals == 0, "an entry that never reached the venue was a refusal"
    d = sc.send(SignalRaised(side=Side.LONG))  # the strategy asks again: no wait
    assert [c for c in d.commands if getattr(c, "order", None) is not None
            and c.order.purpose is OrderPurpose.ENTRY], "the next entry waited"


def test_one_way_a_venue_refusal_still_waits():
    sc = Scenario(SymbolCore(make_rules()), auto_exchange=False)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    (entry,) = [o for o in sc.state.orders if o.purpose is OrderPurpose.ENTRY]
    sc.send(OrderFailed(client_order_id=entry.client_order_id, error="InvalidOrder: refused"))
    assert sc.state.entry_refusals == 1 and sc.state.entry_retry_at > sc.now


def test_grid_an_opening_order_reconciliation_found_never_sent_counts_no_refusal():
    b = Book(send_grace_s=0.0)
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    for o in b.state.orders_of(Side.LONG):
        b.accept(o)
    listed = {o.client_order_id: ExchangeOrder(client_order_id=o.client_order_id,
                                               exchange_id=o.exchange_id, status="open",
                                               filled=D(0), average=None, fee=D(0))
              for o in b.state.orders if o.leg is Side.LONG}  # the short's opening: not found
    b.send(GridReconciled(positions={Side.LONG: ExchangePosition(
        side=Side.LONG, contracts=D(1), entry_price=D(100))}, orders=listed, price=D(100)))
    short = opens[Side.SHORT].client_order_id
    assert [o.status.value for o in b.state.finished_orders if o.client_order_id == short] \
        == ["failed"]
    assert b.state.leg(Side.LONG).is_open and not b.state.leg(Side.SHORT).is_open
    assert b.state.open_refusals == 0, "an opening order that never reached the venue refused"
    assert b.state.next_open_at <= b.now + 2.0  # retry_s, not open_retry_s (10 s)
