"""A level acknowledged on the venue whose cancel answers "not found" (Bybit: "order not
exists or too late to cancel" for an order that has just filled) while the lookup by client
id finds nothing yet (its order history lags) is not ended by that one answer: it stays live,
in doubt, like any acknowledged order with one not-found (trading/order_evidence.py,
MISSES_TO_END), so its fill, reported next, is booked. Before, the cancel ended it, the fill
was ignored as an ended order's, and the grid only resized its leg at the next reconciliation
(no ledger entry). A second not-found in a row ends it, as before. Driven through
production's decision loop."""

from __future__ import annotations

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled
from trading.grid.model import GridKind
from trading.model import Side


def _level_whose_leg_closed(b: Book):
    b.open_both("100")
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    b.fill(tp, str(tp.price))  # the long closes; its level's cancel goes out
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    assert level.cancel_requested_at is not None and level.status.live
    return level


def test_a_level_filled_as_its_cancel_came_too_late_is_booked():
    b = Book()
    level = _level_whose_leg_closed(b)
    booked = len(b.ledger)
    b.send(OrderCanceled(client_order_id=level.client_order_id, unseen=True))
    assert b.state.order(level.client_order_id) is not None  # still live, in doubt
    assert "OrderReportDeferred" in b.journal
    b.fill(level, str(level.price))  # the venue's history catches up: it had filled
    fills = [e for e in b.ledger[booked:] if e.client_order_id == level.client_order_id]
    assert [e.amount for e in fills] == [level.amount]
    assert b.state.long.is_open and b.state.long.contracts == level.amount


def test_a_second_not_found_in_a_row_ends_it():
    b = Book()
    level = _level_whose_leg_closed(b)
    b.send(OrderCanceled(client_order_id=level.client_order_id, unseen=True))
    b.send(OrderCanceled(client_order_id=level.client_order_id, unseen=True))
    assert b.state.order(level.client_order_id) is None
    assert not b.state.long.is_open
