"""Hedge grid: an order that reports a part filled before its acknowledgement rests on the
exchange and is acknowledged as such: the take-profit (or stop) it replaces is cancelled. Set
to open by the fill alone, its acknowledgement was a no-op, so the old take-profit stayed on
the exchange at the old price for the old amount and could close part of the averaged leg at
the wrong target (the one-way core's `on_filled` does the same). Driven through production's
decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderFilled
from trading.grid.model import GridKind
from trading.model import OrderStatus, Side


def test_a_take_profit_filled_in_part_before_its_ack_cancels_the_one_it_replaces():
    b = Book()
    b.open_both()
    add = b.state.orders_of(Side.LONG, GridKind.ADD)[0]
    old_tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    b.fill(add, "99")
    (new_tp,) = b.placed(GridKind.TP, Side.LONG)
    assert new_tp.replaces == old_tp.client_order_id
    b.send(OrderFilled(client_order_id=new_tp.client_order_id, exchange_id="xt",
                       filled=D(1), average=new_tp.price, fee=D(0), complete=False))
    assert b.state.order(new_tp.client_order_id).status is OrderStatus.OPEN
    assert old_tp.client_order_id in b.cancels(), "the replaced take-profit stays resting"
    assert b.state.long.contracts == D(2)
