"""The hedge grid's form of review 3, defect 1: a stop of a leg's earlier position, whose cancel
is not confirmed, never counts as the protection of the position a late fill reopened on the
same side (the leg's stop is checked against its own position id)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderAccepted, OrderFailed, PriceTicked
from trading.grid.model import GridKind
from trading.model import OrderStatus, Side


def _reopened_by_a_late_level_fill() -> tuple[Book, str]:
    b = Book(size_multiplier=D(1))  # the late level is as large as the closed leg's stop
    b.open_both()
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    old_stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    add = b.state.orders_of(Side.LONG, GridKind.ADD)[0]
    b.fill(tp, "100.5")  # the long closes; the cancel of its level is not confirmed
    # its stop stays meanwhile: it covers a position the level may still open
    assert not b.state.long.is_open and old_stop.client_order_id not in b.cancels()
    b.fill(add, "99")  # the level filled on the exchange before its cancel arrived
    leg = b.state.long
    assert leg.is_open and leg.position_id == add.client_order_id
    left = b.state.order(old_stop.client_order_id)
    assert left is not None and left.status is OrderStatus.OPEN
    return b, old_stop.client_order_id


def test_the_earlier_positions_stop_does_not_protect_the_reopened_leg():
    b, old = _reopened_by_a_late_level_fill()
    assert not b.state.protected(Side.LONG)
    (new_stop,) = b.placed(GridKind.STOP, Side.LONG)
    assert new_stop.position_id == b.state.long.position_id
    b.send(OrderFailed(client_order_id=new_stop.client_order_id, error="rejected"))
    b.send(PriceTicked(price=D(90)))  # through the reopened leg's stop (94.1)
    (close,) = b.placed(GridKind.CLOSE, Side.LONG)
    assert close.amount == D(1)


def test_a_stop_of_the_earlier_position_acknowledged_late_is_cancelled_again():
    b, old = _reopened_by_a_late_level_fill()
    order = b.state.order(old)
    assert order is not None
    # its placement outcome was unknown until now (still pending in the state)
    b.loop.adopt(b.state.with_order(replace(order, status=OrderStatus.PENDING)))
    journal = len(b.journal)
    b.send(OrderAccepted(client_order_id=old, exchange_id="x" + old))
    assert old in b.cancels()
    assert "StopPlaced" not in b.journal[journal:]  # not taken as the reopened leg's stop
    assert not b.state.protected(Side.LONG)


def test_a_closed_legs_stop_stays_until_its_level_is_gone_and_the_new_legs_stop_rests():
    """Found by a paper chaos review: closing a leg cancelled its stop before its resting level;
    the level filled (the bot was killed between the two) and opened a position with no stop
    for 21 s until the restart. The closed leg's stop now stays while a level of its side is
    live (it covers what the level opens), and goes once the reopened leg's own stop rests."""
    b, old = _reopened_by_a_late_level_fill()
    (new_stop,) = b.placed(GridKind.STOP, Side.LONG)
    assert old not in b.cancels()  # the old stop covers the new long until its own stop rests
    b.send(OrderAccepted(client_order_id=new_stop.client_order_id,
                         exchange_id="x" + new_stop.client_order_id))
    assert b.state.protected(Side.LONG) and old in b.cancels()
