"""`maintain.stop_due` says exactly when the grid's maintenance places a missing stop: the
actor sets a reconciliation waiting for rate budget aside on it (actors/symbol_actor.py
`_urgent`), so a True that the next Timer does not act on would set every reconciliation
aside, and a False while a stop is due would leave the leg unprotected behind one. Driven
through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderFailed, PriceTicked, TimerFired
from trading.grid.maintain import stop_due
from trading.grid.model import GridKind
from trading.model import Side


def due(b: Book) -> bool:
    return stop_due(b.state, b.now, b.core.rules.retry_s)


def test_a_refused_stop_is_due_again_after_the_retry_wait_and_the_timer_places_it():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    assert not due(b)  # a stop on its way
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    assert not b.state.orders_of(Side.LONG, GridKind.STOP)
    assert not due(b)  # the leg waits retry_s after a refused order
    b.now += b.core.rules.retry_s
    assert due(b)
    b.send(TimerFired())  # what the Timer after a set-aside reconciliation does
    assert [o.kind for o in b.placed(GridKind.STOP, Side.LONG)] == [GridKind.STOP]
    assert not due(b)


def test_a_leg_through_its_stop_level_is_a_close_not_a_stop_placement():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    b.now += b.core.rules.retry_s
    b.send(PriceTicked(price=D(90)))  # below the 95 stop level: the core closes
    assert b.placed(GridKind.CLOSE, Side.LONG)
    assert not due(b)
