"""A level that fills after its leg closed (its cancel had not landed) reopens that leg; the
reopen of the closed side still waits for every cancel of the closed position and the pending
levels, but not for the reopened leg's own new stop and take-profit. Before the fix those two
counted as unconfirmed cancels for as long as the reopened leg lived: the reopen never cleared,
so neither leg placed another level (the other leg's level, cancelled by the close, never came
back) and both stops kept covering levels that were never placed. Driven through production's
decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled, PriceTicked
from trading.grid.model import GridKind
from trading.model import OrderStatus, Side


def _settle(b: Book, price: str) -> None:
    """The exchange confirms every cancel asked and acknowledges every order sent."""
    for _ in range(10):
        for order in list(b.state.orders):
            if order.cancel_requested_at is not None:
                b.send(OrderCanceled(client_order_id=order.client_order_id))
        for order in list(b.state.orders):
            if order.status is OrderStatus.PENDING:
                b.accept(order)
        b.send(PriceTicked(price=D(price)))


def test_a_leg_reopened_by_a_late_level_fill_lets_the_grid_place_levels_again():
    b = Book()
    b.open_both("100")
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    b.fill(tp, str(tp.price))  # the long closes; its level's cancel goes out
    assert b.state.reopen == (Side.LONG,)
    b.fill(level, str(level.price))  # the level filled before its cancel landed
    assert b.state.long.is_open and b.state.long.position_id == level.client_order_id
    _settle(b, "99.5")
    assert b.state.reopen == ()  # every cancel of the closed position is confirmed
    assert "ReopenCleared" in b.journal
    levels = {o.leg for o in b.state.orders_of(Side.LONG, GridKind.ADD)
              + b.state.orders_of(Side.SHORT, GridKind.ADD)}
    assert levels == {Side.LONG, Side.SHORT}, "no level rests for the legs"
    for side in (Side.LONG, Side.SHORT):
        assert b.state.protected(side)
