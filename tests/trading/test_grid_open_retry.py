"""Hedge grid: an opening order that ends without a fill (refused by the venue, or acknowledged
and then cancelled unfilled, as a market order on an empty book expires) is not sent again at
once, and waits longer while they keep ending so: open_retry_s, doubling up to 5 minutes, as
the one-way core's entries (trading/rules.py `entry_retry`). An opening fill starts again.

Found by review: one cancelled unfilled was sent again in the same decision (no wait at all:
a place-and-cancel loop driven by the venue's answers), and one refused was sent again every
open_retry_s for ever. Driven through production's decision loop
(tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled, OrderFailed, PriceTicked
from trading.grid.model import GridKind
from trading.model import OrderStatus, Side


def _resent_after(b: Book, end) -> float:
    """End the long's opening order with `end(order)`; seconds until it is sent again (a
    fresh price every second)."""
    (order,) = b.state.orders_of(Side.LONG, GridKind.OPEN)
    ended_at = b.now
    b.send(end(order))
    for _ in range(2000):
        if b.placed(GridKind.OPEN, Side.LONG):
            return b.now - ended_at
        b.send(PriceTicked(price=D(100)))
    raise AssertionError("never sent again")


def _cancelled_unfilled(b: Book):
    def end(order):
        if order.status is OrderStatus.PENDING:
            b.accept(order)
        return OrderCanceled(client_order_id=order.client_order_id)
    return end


def test_an_opening_order_cancelled_unfilled_waits_before_it_is_sent_again():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    waited = _resent_after(b, _cancelled_unfilled(b))
    assert waited >= b.core.rules.open_retry_s, f"sent again after {waited} s"


def test_opening_orders_ending_unfilled_again_and_again_back_off_up_to_five_minutes():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    waits = []
    for i in range(8):
        if i % 2:
            waits.append(_resent_after(b, _cancelled_unfilled(b)))
        else:
            waits.append(_resent_after(b, lambda o: OrderFailed(
                client_order_id=o.client_order_id, error="insufficient balance")))
    retry = b.core.rules.open_retry_s
    assert retry <= waits[0] <= retry + 2
    assert waits[3] >= 8 * retry, f"waits {waits}: no backoff"
    assert max(waits) <= 300 + 2
    # an opening fill starts the waits again
    (order,) = b.state.orders_of(Side.LONG, GridKind.OPEN)
    b.fill(order, "100")
    assert b.state.long.is_open and b.state.open_refusals == 0


def test_a_refused_open_never_shortens_a_stop_out_wait():
    b = Book(reopen_after_stop_s=600)
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.SHORT], "100")
    (stop,) = b.state.orders_of(Side.SHORT, GridKind.STOP)
    b.accept(stop)
    b.fill(stop, "105")  # the short is stopped out while the long's open is on its way
    stopped = b.now
    b.send(OrderFailed(client_order_id=opens[Side.LONG].client_order_id, error="refused"))
    assert b.state.next_open_at >= stopped + 600
