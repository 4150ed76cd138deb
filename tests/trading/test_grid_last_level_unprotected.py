"""Hedge grid, README Protection: "a leg whose stop disappears has its resting levels
cancelled: nothing averages into an unprotected leg". The check sat after the early return of
a leg with no level left to place, so a leg's last level filled in part (the leg at its
`levels`, the level's rest still resting) kept resting once the leg's stop was gone: with the
replacement stop refused, the rest could fill into a leg nobody protected. Driven through
production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled, OrderFailed, OrderFilled
from trading.grid.model import GridKind
from trading.model import Side


@pytest.mark.parametrize("levels", [1, 3])
def test_a_partly_filled_level_rest_goes_when_the_legs_stop_disappears(levels):
    b = Book(levels=levels)
    b.open_both("100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    assert level.level == 1
    b.send(OrderFilled(client_order_id=level.client_order_id, exchange_id="xa",
                       filled=D(1), average=level.price, fee=D(0), complete=False))
    assert b.state.long.level == 1 and b.state.long.contracts == D(2)
    assert b.state.order(level.client_order_id) is not None  # its rest (1) still rests
    b.send(OrderCanceled(client_order_id=stop.client_order_id))  # removed on the exchange
    (replacement,) = b.placed(GridKind.STOP, Side.LONG)
    b.send(OrderFailed(client_order_id=replacement.client_order_id, error="refused"))
    assert not b.state.protected(Side.LONG)
    rest = b.state.order(level.client_order_id)
    assert rest is not None and rest.cancel_requested_at is not None, \
        "the level's rest keeps resting beside a leg without a stop"
