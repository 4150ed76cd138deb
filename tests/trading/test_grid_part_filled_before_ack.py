"""Hedge grid: an order that reports a part filled before its acknowledgement rests on the
exchange and is acknowledged as such: the stop it replaces is cancelled. Set to open by the
fill alone, its acknowledgement was a no-op, so the old order stayed on the exchange (found for
a take-profit, which stayed at the old price for the old amount and could close part of the
averaged leg at the wrong target) (the one-way core's `on_filled` does the same). Driven through production's
decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderFilled
from trading.grid.model import GridKind
from trading.model import OrderStatus, Side


def test_a_stop_filled_in_part_before_its_ack_cancels_the_one_it_replaces():
    """(A take-profit no longer replaces another in place: the old one is cancelled first,
    tests/trading/test_grid_closers_cancel_first.py; a stop still does.)"""
    b = Book()
    b.open_both()
    add = b.state.orders_of(Side.LONG, GridKind.ADD)[0]
    old_stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    b.fill(add, "99")
    (new_stop,) = b.placed(GridKind.STOP, Side.LONG)
    assert new_stop.replaces == old_stop.client_order_id
    b.send(OrderFilled(client_order_id=new_stop.client_order_id, exchange_id="xs",
                       filled=D(1), average=D(95), fee=D(0), complete=False))
    assert b.state.order(new_stop.client_order_id).status is OrderStatus.OPEN
    assert old_stop.client_order_id in b.cancels(), "the replaced stop stays resting"
    assert b.state.long.contracts == D(2)
