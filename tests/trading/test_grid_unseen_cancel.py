"""A cancel that found no such order does not end a grid order that may still land.

A level order whose send timed out stays pending (sent, never acknowledged). When its leg
closes, its cancel goes out; a venue whose lookups lag the placement answers "not found" to the
cancel and to the lookup after it (actors/command_executor.py books `OrderCanceled(unseen=True)`).
Booked as canceled, the order, if it did land, fills later and its fill is never booked: a
position on the exchange the bot does not know (the chaos run's finding, actors/command_queue.py,
by another road). Within the send grace it stays live, in doubt; its cancel is asked again; a
fill that shows up is booked. Past the grace, not found is proof it never got there.

Production's decision loop around the real grid core (tests/trading/test_grid_core.py's Book).
"""

from __future__ import annotations

from decimal import Decimal as D

from actors.command_executor import CommandExecutor
from exchange import errors
from tests.trading.scenario import QuietLog
from tests.trading.test_grid_core import SYMBOL, Book
from trading.commands import CancelOrder
from trading.events import OrderCanceled, PriceTicked, TimerFired
from trading.grid.model import GridKind
from trading.model import OrderStatus, Side
from trading.order_evidence import NOT_FOUND_YET, SEND_GRACE_S


def closed_long_with_a_pending_level(b: Book):
    """The long leg opens, its stop rests, its level's send times out (pending), and the leg's
    take-profit fills: the close cancels the level."""
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    stop, tp = (b.placed(k, Side.LONG)[0] for k in (GridKind.STOP, GridKind.TP))
    b.accept(stop)
    level = b.placed(GridKind.ADD, Side.LONG)[0]  # no answer: stays pending
    b.accept(tp)
    b.fill(tp, "100.5")
    assert not b.state.long.is_open
    assert level.client_order_id in b.cancels()
    return level


def test_a_level_whose_cancel_found_nothing_stays_live_and_its_late_fill_is_booked() -> None:
    b = Book()
    level = closed_long_with_a_pending_level(b)
    cid = level.client_order_id
    b.send(OrderCanceled(client_order_id=cid, unseen=True))
    kept = b.state.order(cid)
    assert kept is not None and kept.status is OrderStatus.PENDING, kept
    assert [d.why for d in b.state.doubts if d.client_order_id == cid] == [NOT_FOUND_YET]
    b.now += 60  # well past the retry wait, inside the grace (created 4 s before the cancel)
    b.send(TimerFired())
    assert cid in b.cancels(), b.commands  # asked again
    b.fill(level, "99")  # it had landed: its fill shows up and is booked
    assert b.state.long.contracts == level.amount


def test_past_the_grace_a_cancel_that_found_nothing_ends_the_order() -> None:
    b = Book()
    level = closed_long_with_a_pending_level(b)
    b.now += SEND_GRACE_S
    b.send(OrderCanceled(client_order_id=level.client_order_id, unseen=True))
    assert b.state.order(level.client_order_id) is None  # ended: it never got there


def test_a_cancel_the_venue_accepted_ends_a_pending_order_at_once() -> None:
    b = Book()
    level = closed_long_with_a_pending_level(b)
    b.send(OrderCanceled(client_order_id=level.client_order_id))
    assert b.state.order(level.client_order_id) is None


class NothingThere:
    """A venue that knows none of our orders (its lookups lag a placement)."""

    def __init__(self, cancel_accepted: bool = False) -> None:
        self.cancel_accepted = cancel_accepted
        self.calls: list[str] = []

    def cancel_order(self, id, symbol, params=None):
        self.calls.append("cancel")
        if self.cancel_accepted:
            return None  # an answer that tells nothing: the executor looks the order up
        raise errors.OrderNotFound("order not exists or too late to cancel")

    def fetch_order(self, id, symbol, params=None):
        self.calls.append("fetch")
        raise errors.OrderNotFound("order not found")


def test_the_executor_says_when_neither_the_cancel_nor_the_lookup_found_the_order() -> None:
    cancel = CancelOrder(client_order_id="c1", exchange_id=None)
    for accepted, unseen in ((False, True), (True, False)):
        venue = NothingThere(cancel_accepted=accepted)
        executor = CommandExecutor(SYMBOL, venue, on_escalate=lambda s, e: None,  # type: ignore[arg-type]
                                   log=QuietLog())
        events = executor.execute(cancel)
        assert venue.calls == ["cancel", "fetch"]
        assert events == [OrderCanceled(client_order_id="c1", unseen=unseen)], accepted
