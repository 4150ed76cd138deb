"""Hedge grid: a level placed for a leg that closed before the level's cancel landed fills and
opens the leg anew (its position id is the level's client order id). Its fill is booked to that
new position; its fee, told after the fill (every Binance fill: the trade list lags), must be
booked to the same position and counted in the new leg's fees. It was booked to the position the
level had been placed for, closed already: the new leg's fees (and its closed row's net) left it
out, and the closed position's row disagreed with its own ledger entries."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, FeesLooked, OrderFilled
from trading.grid.model import GridKind
from trading.model import Side


def test_a_late_fee_of_a_level_that_reopened_its_leg_is_that_legs():
    b = Book()
    b.open_both()
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    add = b.state.orders_of(Side.LONG, GridKind.ADD)[0]
    closed_id = b.state.long.position_id
    b.fill(tp, "100.5")
    assert not b.state.long.is_open and add.client_order_id in b.cancels()
    # the level filled before its cancel landed; the venue's trades (its fee) are not listed yet
    b.send(OrderFilled(client_order_id=add.client_order_id, exchange_id="xa", filled=add.amount,
                       average=add.price, fee=D(0), fee_known=False, complete=True))
    leg = b.state.long
    assert leg.is_open and leg.position_id == add.client_order_id
    (fill,) = [e for e in b.ledger if e.client_order_id == add.client_order_id]
    assert fill.position_id == add.client_order_id
    b.send(FeesLooked(orders={add.client_order_id: ExchangeOrder(
        client_order_id=add.client_order_id, exchange_id="xa", status="closed",
        filled=add.amount, average=add.price, fee=D("0.09"))}))
    fee = [e for e in b.ledger if e.client_order_id == add.client_order_id and e.amount == 0]
    assert [(e.position_id, e.fee) for e in fee] == [(add.client_order_id, D("0.09"))], \
        f"booked to the closed position {closed_id}"
    assert b.state.long.fees == D("0.09")
