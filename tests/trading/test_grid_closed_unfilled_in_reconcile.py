"""A hedge-grid order that a reconciliation finds "closed" with nothing filled ended unfilled:
it goes through the same handlers as a cancelled or refused one (as the one-way core's
reconciliation, trading/reconcile.py `_order`, and the order reports, actors/order_results.py
`events_for`: "closed with nothing filled: like a cancel"). Found by review: the grid's
reconciliation only marked it cancelled, so a leg's close that ended so was sent again at once,
with no backoff and no escalation however often (incident 2: a close loop), and an opening
order that ended so was sent again at once. Driven through production's decision loop
(tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.commands import Escalate
from trading.events import ExchangeOrder, ExchangePosition, OrderFailed, PriceTicked
from trading.grid.context import PlaceGridOrder
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def _closed_unfilled(order) -> ExchangeOrder:
    return ExchangeOrder(client_order_id=order.client_order_id, exchange_id="x",
                         status="closed", filled=D(0), average=None, fee=D(0))


def _closes(commands) -> list:
    return [c.order for c in commands
            if isinstance(c, PlaceGridOrder) and c.order.kind is GridKind.CLOSE]


def test_closes_found_closed_unfilled_are_backed_off_and_escalate():
    b = Book(max_close_attempts=3)
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1), entry_price=D(100))}
    sent, at_once, escalations = 0, 0, 0
    for _ in range(20):
        b.now += 100
        pending = _closes(b.send(PriceTicked(price=D(90))).commands)
        while pending and sent < 50:
            close = pending.pop()
            sent += 1
            b.accept(close)
            d = b.send(GridReconciled(positions=listed, price=D(90),
                                      orders={close.client_order_id: _closed_unfilled(close)}))
            escalations += sum(isinstance(c, Escalate) for c in d.commands)
            again = _closes(d.commands)
            at_once += len(again)
            pending += again
    assert at_once == 0, "a close that ended unfilled was sent again at once, no backoff"
    assert sent == 3 and escalations == 1
    assert b.state.quarantined and b.state.long.contracts == D(1)  # never forgotten


def test_an_opening_order_found_closed_unfilled_waits_before_it_is_sent_again():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    (entry,) = b.placed(GridKind.OPEN, Side.LONG)
    b.accept(entry)
    b.send(GridReconciled(price=D(100), orders={entry.client_order_id: _closed_unfilled(entry)}))
    assert b.state.order(entry.client_order_id) is None
    assert not b.placed(GridKind.OPEN, Side.LONG), "sent again at once"
    assert b.state.next_open_at >= b.now + b.core.rules.open_retry_s - 1
