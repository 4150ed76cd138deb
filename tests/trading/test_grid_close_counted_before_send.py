"""A hedge-grid leg's close attempt is counted when its close is committed, before it is sent,
as the one-way core counts (trading/lifecycle.py `send_close`; README Supervision, close
attempts). The grid counted only in its failure handler, so an attempt that ended any other
way was never counted: a market close the venue cancelled unfilled (an IOC's rest expired, a
price-protection cancel) was re-sent at once, with no backoff, for ever (incident 2: a close
loop), and never escalated."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.commands import Escalate
from trading.events import OrderCanceled, OrderFailed, OrderFilled, PriceTicked
from trading.grid.context import PlaceGridOrder
from trading.grid.model import GridKind
from trading.model import Side


def _unprotected_long(b: Book) -> None:
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))


def _closes(commands: list) -> list:
    return [c.order for c in commands
            if isinstance(c, PlaceGridOrder) and c.order.kind is GridKind.CLOSE]


def test_the_attempt_is_counted_in_the_decision_that_commits_the_close():
    b = Book(max_close_attempts=3)
    _unprotected_long(b)
    d = b.send(PriceTicked(price=D(90)))  # below the 95 stop, and no stop rests
    assert len(_closes(list(d.commands))) == 1
    assert d.state.long.close_attempts == 1, "committed with the close, before it is sent"


def test_closes_the_venue_cancels_unfilled_are_counted_backed_off_and_escalate():
    b = Book(max_close_attempts=3)
    _unprotected_long(b)
    sent, escalations, at_once = 0, 0, 0
    for _ in range(20):
        b.now += 100
        pending = _closes(list(b.send(PriceTicked(price=D(90))).commands))
        while pending and sent < 50:
            close = pending.pop()
            sent += 1
            d = b.send(OrderCanceled(client_order_id=close.client_order_id))
            escalations += sum(isinstance(c, Escalate) for c in d.commands)
            again = _closes(list(d.commands))
            at_once += len(again)
            pending += again
    assert at_once == 0, "a cancelled close was sent again in the same breath, no backoff"
    assert sent == 3 and escalations == 1
    assert b.state.quarantined and b.state.long.contracts == D(1)  # never forgotten


def test_a_close_whose_rest_expired_is_backed_off_like_a_failed_one():
    b = Book(max_close_attempts=3)
    _unprotected_long(b)
    (close,) = _closes(list(b.send(PriceTicked(price=D(90))).commands))
    d = b.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                           filled=D("0.4"), average=D(90), fee=D("0.01"), complete=True))
    assert b.state.long.contracts == D("0.6")
    assert not _closes(list(d.commands)), "the rest was closed again at once, no backoff"
    assert b.state.long.close_attempts == 1 and b.state.long.close_retry_at > b.now
