"""`stop_unresolved` (both styles): the open position's (leg's) only stops are intents never
acknowledged, so only a reconciliation's lookup can tell whether a stop rests; the actor lets
nothing set that reconciliation aside (actors/loop.py `reconcile`). True exactly then: an
acknowledged stop (or one with fills), a flat position, or no stop at all (then `stop_due`
places one) is no reason to hold the actor. Driven through the production cores."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.test_grid_core import Book
from tests.trading.test_stop_while_closing import Run, _open_long
from trading.decide import SymbolCore
from trading.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    SignalRaised,
)
from trading.grid.maintain import stop_unresolved as grid_unresolved
from trading.grid.model import GridKind
from trading.model import OrderPurpose, Side
from trading.stop_rules import stop_unresolved


def test_one_way_only_while_the_positions_only_stop_is_an_unacknowledged_intent():
    run = Run(SymbolCore(make_rules()))
    run.send(PriceTicked(price=D("100")))
    run.send(SignalRaised(side=Side.LONG))
    entry = run.last(OrderPurpose.ENTRY)
    assert not stop_unresolved(run.state)  # entering, nothing filled: no position to protect
    run.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="e1",
                         filled=entry.amount, average=D("100"), fee=D("0.05")))
    stop = run.last(OrderPurpose.STOP)
    assert stop_unresolved(run.state)  # committed, never acknowledged (a kill before the send)
    run.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="s1"))
    assert not stop_unresolved(run.state)
    run.send(OrderCanceled(client_order_id=stop.client_order_id))  # the venue removed it
    again = run.last(OrderPurpose.STOP)  # placed again at once: its intent is the doubt now
    assert again.client_order_id != stop.client_order_id and stop_unresolved(run.state)
    run.send(OrderFailed(client_order_id=again.client_order_id, error="rejected"))
    assert not run.state.live_orders(OrderPurpose.STOP) and not stop_unresolved(run.state)


def test_grid_only_while_an_open_legs_only_stop_is_an_unacknowledged_intent():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    assert not grid_unresolved(b.state)  # flat legs
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    assert grid_unresolved(b.state)
    b.accept(stop)
    assert not grid_unresolved(b.state)


def test_grid_an_acknowledged_stop_beside_a_pending_resize_is_no_doubt():
    b = Book()
    b.open_both()
    assert not grid_unresolved(b.state)
    (level,) = [o for o in b.state.orders_of(Side.LONG, GridKind.ADD)]
    b.fill(level, str(level.price))  # the leg grows: a bigger stop replaces the resting one
    stops = b.state.orders_of(Side.LONG, GridKind.STOP)
    assert len(stops) == 2, stops
    assert not grid_unresolved(b.state)  # the old one still rests and protects


def test_one_way_a_close_never_acknowledged_with_no_stop_resting_is_a_doubt_too():
    run = Run(SymbolCore(make_rules()))
    _open_long(run)  # open, its stop acknowledged
    stop = run.last(OrderPurpose.STOP)
    run.send(SignalRaised(side=None, reason="exit"))
    close = run.last(OrderPurpose.CLOSE)
    assert not stop_unresolved(run.state)  # the close is unacknowledged, but a stop rests
    run.send(PriceTicked(price=D("98.5")))  # through the stop's level: no stop can rest there
    run.send(OrderCanceled(client_order_id=stop.client_order_id))  # and the venue removed it
    assert [o.client_order_id for o in run.state.live_orders(OrderPurpose.STOP)] == []
    assert stop_unresolved(run.state)  # only the close's lookup tells if it went out
    run.send(OrderAccepted(client_order_id=close.client_order_id, exchange_id="c1"))
    assert not stop_unresolved(run.state)


def test_grid_a_close_never_acknowledged_with_no_stop_resting_is_a_doubt_too():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    assert not grid_unresolved(b.state)  # no stop and no close: a stop is due, no doubt
    b.send(PriceTicked(price=D(90)))  # below the 95 stop, none rests: the bot closes
    (close,) = b.state.orders_of(Side.LONG, GridKind.CLOSE)
    assert grid_unresolved(b.state)
    b.accept(close)
    assert not grid_unresolved(b.state)
