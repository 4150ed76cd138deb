"""An entry kept pending by the send grace while the exchange lists a position smaller than the
order: that part is booked from the position, but the entry is not done (defect: it was booked
as complete, so the rest that filled later was no longer the entry's: the one-way core reached
OPEN at the part, and the rest's own report was dropped as the report of a finished order; the
grid's opening order likewise). One-way core and hedge grid."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from tests.trading.test_partial_fills import Core
from trading.events import ExchangeOrder, ExchangePosition, OrderFilled, PriceTicked, Reconciled
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import OrderPurpose, Phase, Side


def test_a_part_shown_by_the_position_leaves_the_entry_open_for_the_rest():
    c = Core()
    entry = c.entry()  # its send timed out: pending, its lookup finds nothing yet
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D("0.4"),
                                                 entry_price=D(100)), orders={}, price=D(100)))
    assert c.state.position.contracts == D("0.4")
    assert c.state.phase is Phase.ENTERING, "the entry was taken as done at its first part"
    assert c.placed(OrderPurpose.STOP)  # the part is protected at once
    live = c.state.order(entry.client_order_id)
    assert live is not None and live.filled == D("0.4")
    c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1", filled=D(1),
                       average=D(100), fee=D(0), complete=True))
    assert c.state.phase is Phase.OPEN and c.state.position.contracts == D(1)


def test_the_whole_entry_shown_by_the_position_is_done():
    c = Core()
    c.entry()
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D(1),
                                                 entry_price=D(100)), orders={}, price=D(100)))
    assert c.state.phase is Phase.OPEN and c.state.position.contracts == D(1)


def test_a_grid_leg_shown_in_part_keeps_its_opening_order_for_the_rest():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    short_open = opens[Side.SHORT]
    listed = {o.client_order_id: ExchangeOrder(
        client_order_id=o.client_order_id, exchange_id="x" + o.client_order_id, status="open",
        filled=D(0), average=None, fee=D(0))
        for o in b.state.orders if o.client_order_id != short_open.client_order_id}
    b.send(GridReconciled(
        positions={Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1),
                                               entry_price=D(100)),
                   Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D("0.4"),
                                                entry_price=D(100))},
        orders=listed, price=D(100)))
    assert b.state.short.contracts == D("0.4")
    assert b.state.order(short_open.client_order_id) is not None, \
        "the opening order was taken as done at its first part"
    b.send(OrderFilled(client_order_id=short_open.client_order_id, exchange_id="xs",
                       filled=D(1), average=D(100), fee=D(0), complete=True))
    assert b.state.short.contracts == D(1)
