"""Hedge grid: a leg's new stop (or take-profit) the venue answers as already ended (status
"closed", nothing filled) is a refusal, backed off; it is not sent again and again within one
message. The sibling of tests/trading/test_stop_ended_at_creation.py (the one-way core's fix):
found by review, the grid sent 1,000 stops in one message before the loop's step bound raised
(RunawayLoop), and the restarted actor did it again. A resting stop that is removed is still
re-placed at once. Production's decision loop (tests/trading/test_grid_core.py `Book`); the test
plays the venue."""

from __future__ import annotations

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled, TimerFired
from trading.grid.context import PlaceGridOrder
from trading.grid.model import GridKind
from trading.model import Side


def test_a_grid_stop_ended_as_it_was_placed_is_retried_with_the_backoff():
    b = Book()
    b.open_both("100")
    (resting,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    stops: list[str] = []

    def venue(cmd):  # noqa: ANN001, ANN202 - every new stop ends as it is placed
        if isinstance(cmd, PlaceGridOrder) and cmd.order.kind is GridKind.STOP:
            stops.append(cmd.order.client_order_id)
            return [OrderCanceled(client_order_id=cmd.order.client_order_id)]
        return []

    b.loop.execute = venue
    b.send(OrderCanceled(client_order_id=resting.client_order_id))  # someone removed it
    assert len(stops) == 1, "the removed resting stop is re-placed at once, once"
    for _ in range(600):  # ten minutes of heartbeats
        b.send(TimerFired())
    assert 3 <= len(stops) < 30, len(stops)
    assert b.state.long.stop_failures == len(stops)
