"""Hedge grid: a leg's stop that never reached the venue (its answer never came: a kill -9, a
timeout; a lookup by client id then finds nothing) is placed again at once under a new client
order id, as the one-way core's (tests/trading/test_lost_stop_resent.py). It used to be backed
off as a refused stop: the leg bare for retry_s (2 s), its take-profit and level held back too.
Lost again and again, it backs off as refusals do; a refused one keeps its wait. Driven through
production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderFailed,
    PriceTicked,
    TimerFired,
)
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side
from trading.orders import Order

LOST = "RequestTimeout: no answer"


def _opened_stop_unanswered() -> tuple[Book, Order]:
    """Both legs open, every order acknowledged but the long leg's stop: its answer never
    came (the bot was killed, or the send timed out)."""
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    waiting = b.placed()
    b.fill(opens[Side.SHORT], "100")
    waiting += b.placed()
    (stop,) = [o for o in waiting if o.kind is GridKind.STOP and o.leg is Side.LONG]
    waiting.remove(stop)
    while waiting:
        b.accept(waiting.pop(0))
        waiting += b.placed()
    assert b.state.order(stop.client_order_id) is not None  # still pending
    return b, stop


def _reconcile_without(b: Book, missing: Order):
    """A reconciliation (the restart's first) whose lookups find every order but `missing`."""
    positions = {s: ExchangePosition(side=s, contracts=b.state.leg(s).contracts,
                                     entry_price=D(100)) for s in (Side.LONG, Side.SHORT)}
    found = {o.client_order_id: ExchangeOrder(client_order_id=o.client_order_id,
                                              exchange_id="x" + o.client_order_id,
                                              status="open", filled=D(0), average=None,
                                              fee=D(0))
             for o in b.state.orders if o.client_order_id != missing.client_order_id}
    return b.send(GridReconciled(positions=positions, orders=found, price=D(100)))


def test_a_leg_stop_not_found_is_placed_again_in_the_same_reconciliation():
    b, stop = _opened_stop_unanswered()
    _reconcile_without(b, stop)
    placed = b.placed(GridKind.STOP, Side.LONG)
    assert len(placed) == 1, "the lost leg stop waited retry_s with the leg bare"
    (again,) = placed
    assert again.client_order_id != stop.client_order_id, "a new client order id"
    assert (again.price, again.amount) == (stop.price, stop.amount)


def test_leg_stops_lost_again_and_again_back_off_as_refusals_do():
    b, stop = _opened_stop_unanswered()
    _reconcile_without(b, stop)
    (again,) = b.placed(GridKind.STOP, Side.LONG)
    _reconcile_without(b, again)  # swallowed too
    assert b.placed(GridKind.STOP, Side.LONG) == [], "a second lost stop in a row waits"
    assert b.state.long.stop_retry_at == b.now + 2.0
    b.send(TimerFired())
    assert b.placed(GridKind.STOP, Side.LONG) == []
    b.send(TimerFired())
    assert len(b.placed(GridKind.STOP, Side.LONG)) == 1


def test_a_lost_leg_stop_report_places_it_again_a_refused_one_waits():
    b, stop = _opened_stop_unanswered()
    b.send(OrderFailed(client_order_id=stop.client_order_id, error=LOST, lost=True))
    (again,) = b.placed(GridKind.STOP, Side.LONG)
    assert again.client_order_id != stop.client_order_id
    b.send(OrderFailed(client_order_id=again.client_order_id, error="InvalidOrder: refused"))
    assert b.placed(GridKind.STOP, Side.LONG) == []
    assert b.state.long.stop_retry_at == b.now + 2.0
