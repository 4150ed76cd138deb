"""Hedge grid: no level is placed for a leg while the bot's close of it is in flight, even once
the price is back above the stop level and a new stop rests (maintain.py `_may_rest`). The close
was sized for the leg as it was; a level placed meanwhile is a buy into a leg being closed: it
fills into the position the close is taking off (a new position if the close took the rest),
unplanned, and waits on a cancel when the leg closes. Driven through production's decision
loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled, PriceTicked
from trading.grid.model import GridKind
from trading.model import Side


def test_no_level_while_the_legs_close_is_in_flight():
    b = Book()
    b.open_both()
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    (add,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    b.send(OrderCanceled(client_order_id=stop.client_order_id))  # removed by hand
    (new_stop,) = b.placed(GridKind.STOP, Side.LONG)
    assert add.client_order_id in b.cancels()  # no level without a stop resting
    b.send(OrderCanceled(client_order_id=add.client_order_id))
    b.send(PriceTicked(price=D(94)))  # through the 95 stop, none rests: the bot closes the leg
    (close,) = b.placed(GridKind.CLOSE, Side.LONG)
    b.accept(new_stop)  # the new stop rests; the close is not answered yet
    b.send(PriceTicked(price=D("99.5")))  # back above the stop and above level 1 (99.0)
    assert b.state.order(close.client_order_id) is not None  # still in flight
    assert b.placed(GridKind.ADD, Side.LONG) == [], "a level placed into a leg being closed"
    assert b.state.orders_of(Side.LONG, GridKind.ADD) == []
