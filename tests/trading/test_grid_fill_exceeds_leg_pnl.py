"""Hedge grid: a reducing fill larger than the leg that no level of ours explains
(FillExceedsLeg: the venue's position was larger, bought by hand before a reconciliation saw
it) is booked, where the venue reports no realized P&L, with the P&L of what the leg held
(leg_exit.py `fill_pnl`: min(fill, leg) at the leg's entry), never with a P&L for contracts the
leg never held, priced at an entry they never had (three times the loss here). Driven through
production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import EntriesBlocked, OrderCanceled
from trading.grid.model import GridKind
from trading.model import Side


def test_a_stop_fill_larger_than_the_leg_books_the_pnl_of_the_leg_only():
    b = Book()
    b.open_both()  # the long: 1 at 100, its stop 3 at 95 (the leg and its level's 2)
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    (add,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    assert stop.amount == D(3)
    b.send(EntriesBlocked(blocked=True, reason="kill switch"))
    b.send(OrderCanceled(client_order_id=add.client_order_id))  # the level is gone
    assert b.placed(GridKind.STOP, Side.LONG)  # a stop of 1 on its way; the old 3 still rests
    b.fill(stop, "95")  # the venue's long was 3 (2 bought by hand): the stop sold all of it
    assert "FillExceedsLeg" in b.journal and not b.state.long.is_open
    (row,) = [e for e in b.ledger if e.client_order_id == stop.client_order_id]
    assert (row.amount, row.price) == (D(3), D(95))
    assert row.realized_pnl == D(-5)  # the leg's 1 from 100 to 95, not -15
