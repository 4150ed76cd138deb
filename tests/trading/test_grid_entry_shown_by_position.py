"""Hedge grid, sibling of the one-way core's EntryShownByPosition (trading/reconcile.py): a leg's
opening order whose send timed out stays pending while its lookup lags (the send grace), and a
reconciliation meanwhile lists the leg on the exchange. The grid adopted that position as an
unknown leg (`adopted-...`); the opening order's own report then added the same fill to it, so
the books held the leg twice (2 where the exchange held 1), with a take-profit and stop sized for
2 and the averaging levels computed from the doubled leg. The listed position is the evidence the
opening order landed: it is booked as that order's fill (size and entry price as the venue lists
them), and the order's later report adds nothing."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition, OrderFilled, PriceTicked
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def test_a_pending_opening_order_shown_by_the_position_is_booked_once():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    short_open = opens[Side.SHORT]  # its send timed out: pending, its lookup finds nothing yet
    listed = {o.client_order_id: ExchangeOrder(
        client_order_id=o.client_order_id, exchange_id="x" + o.client_order_id, status="open",
        filled=D(0), average=None, fee=D(0))
        for o in b.state.orders if o.client_order_id != short_open.client_order_id}
    b.send(GridReconciled(
        positions={Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1),
                                               entry_price=D(100)),
                   Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(1),
                                                entry_price=D("100.1"))},
        orders=listed, price=D(100)))
    short = b.state.short
    assert short.is_open and short.contracts == D(1)
    assert short.position_id == short_open.client_order_id  # our leg, not an adopted one
    # its stop is on its way at once (the leg is protected, not waiting for the lookup)
    assert b.placed(GridKind.STOP, Side.SHORT)
    # the opening order's own report comes at last
    b.send(OrderFilled(client_order_id=short_open.client_order_id, exchange_id="xs",
                       filled=D(1), average=D("100.1"), fee=D("0.05"), complete=True))
    assert b.state.short.contracts == D(1), "the same fill was added to the leg twice"
    entries = [e for e in b.ledger if e.client_order_id == short_open.client_order_id
               and e.amount > 0]
    assert [(e.amount, e.price) for e in entries] == [(D(1), D("100.1"))]
