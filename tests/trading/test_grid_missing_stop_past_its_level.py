"""Hedge grid: a leg's stop that a reconciliation does not find while the price is already
through the stop level ends at its first miss (it either triggered or is gone: a stop at that
level no longer protects anything) and the bot closes the leg in the same decision. Deferred to
the MISSES_TO_END-th miss instead, the missing stop still counted as resting (`protected`), so
no close went out and the leg stayed open past its stop, unprotected, until the next
reconciliation; a replacement stop at a level the price has passed is no protection either.
Driven through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import OrderStatus, Side


def test_a_stop_not_found_past_its_level_ends_and_the_leg_is_closed_at_once():
    b = Book(levels=0)
    b.open_both("100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    assert (stop.status, stop.price) == (OrderStatus.OPEN, D("95.0"))
    positions = {s: ExchangePosition(side=s, contracts=D(1), entry_price=D(100))
                 for s in (Side.LONG, Side.SHORT)}
    found = {o.client_order_id: ExchangeOrder(client_order_id=o.client_order_id, exchange_id="x",
                                              status="open", filled=D(0), average=None,
                                              fee=D(0))
             for o in b.state.orders if o.client_order_id != stop.client_order_id}
    b.send(GridReconciled(positions=positions, orders=found, price=D(94)))  # below the 95 stop
    assert b.state.order(stop.client_order_id) is None, "the missing stop still counts"
    (close,) = b.placed(GridKind.CLOSE, Side.LONG)
    assert close.amount == D(1) and close.reduce_only
    assert b.placed(GridKind.STOP, Side.LONG) == []  # no stop at a level the price has passed
