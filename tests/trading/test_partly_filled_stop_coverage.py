"""A stop filled in part covers only what it can still fill (`Order.remaining`), not its
original amount. Measured by its amount, a position that grew after a partial stop fill (a
buy by hand, a fill booked late) read as covered in full: no replacement was placed and the
status showed it protected while part of it had no stop. One-way core and hedge grid, driven
through `decide` and production's decision loop."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from tests.trading.test_partial_fills import Core
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    ExternalFill,
    OrderAccepted,
    OrderFilled,
    Reconciled,
)
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import OrderPurpose, Phase, Side


def _stop_filled_in_part(c: Core):
    entry = c.entry()
    c.report(entry, "1", complete=True)
    (stop,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.report(stop, "0.4", complete=False, price="99.5")  # still resting for 0.6
    assert c.state.position.contracts == D("0.6")
    return entry, stop


def test_a_stop_filled_in_part_does_not_count_as_covering_a_position_that_grew():
    c = Core()
    entry, stop = _stop_filled_in_part(c)
    assert c.state.protected()  # 0.6 left of it, for a position of 0.6
    answers = {stop.client_order_id: ExchangeOrder(
        client_order_id=stop.client_order_id, exchange_id="x2", status="open",
        filled=D("0.4"), average=D("99.5"), fee=D(0))}
    bought = ExternalFill(side="buy", amount=D("0.4"), price=D("100"), fee=D(0))
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D(1),
                                                entry_price=D(100)),
                      orders=answers, external_fills=(bought,), price=D(100)))
    assert c.state.phase is Phase.OPEN and c.state.position.contracts == D(1)
    assert not c.state.protected(), "a stop with 0.6 left counted as covering 1"
    (new,) = c.placed(OrderPurpose.STOP)
    assert new.amount == D(1) and new.replaces == stop.client_order_id


def test_a_grid_leg_stop_filled_in_part_does_not_cover_a_leg_that_grew():
    b = Book(levels=0)
    b.open_both("100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    assert stop.amount == D(1)
    b.send(OrderFilled(client_order_id=stop.client_order_id, exchange_id="x" + stop.client_order_id,
                       filled=D("0.4"), average=D(95), fee=D(0), complete=False))
    assert b.state.long.contracts == D("0.6")
    found = {o.client_order_id: ExchangeOrder(
        client_order_id=o.client_order_id, exchange_id="x" + o.client_order_id, status="open",
        filled=o.filled, average=o.average, fee=o.fee) for o in b.state.orders}
    listed = {s: ExchangePosition(side=s, contracts=D(1), entry_price=D(100))
              for s in (Side.LONG, Side.SHORT)}
    bought = ExternalFill(side="buy", amount=D("0.4"), price=D(100), fee=D(0),
                          position_side=Side.LONG)
    b.send(GridReconciled(positions=listed, orders=found, external_fills=(bought,),
                          price=D(100)))
    assert b.state.long.contracts == D(1)
    assert not b.state.protected(Side.LONG), "a stop with 0.6 left counted as covering 1"
    (new,) = b.placed(GridKind.STOP, Side.LONG)
    assert new.amount == D(1) and new.replaces == stop.client_order_id
