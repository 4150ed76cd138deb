"""Hedge grid: an opening order or a level our own rate budget set aside for an order report
(never sent, nothing refused) is tried again after retry_s and counts no refusal.

Found by a live grid chaos run (session 45, helper lcg, Bybit emulator filling levels and
take-profits): the long leg's stop, take-profit and level creates went out first, the short
leg's entry then waited for budget and was set aside for their reports, and each set-aside
counted as a refusal of the doubling open wait (10 s, 20 s, ...), which holds back both legs.
The long leg's take-profit filled within that wait, both legs reopened together and the cycle
repeated: 23 long legs opened to 0 short in one run. Levels set aside so backed off the same way
(88 set aside to 48 placed). A refused order keeps its backoff. Driven through production's
decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.trading.test_grid_core import Book
from trading.events import OrderFailed, PriceTicked, TimerFired
from trading.grid.model import GridKind
from trading.model import Side

ASIDE = "Preempted: an order report is waiting"


def _set_aside(b: Book, order) -> None:  # noqa: ANN001
    b.send(OrderFailed(client_order_id=order.client_order_id, error=ASIDE, lost=True,
                       set_aside=True))


def _unseen(b: Book, order) -> None:  # noqa: ANN001
    """Reconciliation's end of an intent the venue never saw (a kill between its commit and
    its send; not found once the send grace is over): no refusal either (session 46 made it
    so for opening orders; a level still counted one)."""
    b.send(OrderFailed(client_order_id=order.client_order_id, error="never reached the exchange",
                       lost=True, unseen=True))  # as trading/grid/reconcile.py ends it


def test_an_opening_order_set_aside_is_sent_again_after_retry_s_without_a_refusal():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    _set_aside(b, opens[Side.SHORT])
    assert b.state.open_refusals == 0
    assert b.state.next_open_at == b.now + 2.0  # retry_s, not open_retry_s (10 s, doubling)
    b.send(TimerFired())
    assert b.placed(GridKind.OPEN, Side.SHORT) == []
    b.send(TimerFired())
    (again,) = b.placed(GridKind.OPEN, Side.SHORT)
    assert again.client_order_id != opens[Side.SHORT].client_order_id
    _set_aside(b, again)  # again and again: never a longer wait
    assert b.state.open_refusals == 0 and b.state.next_open_at == b.now + 2.0


def test_a_refused_opening_order_still_waits_the_open_retry():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    b.send(OrderFailed(client_order_id=opens[Side.SHORT].client_order_id,
                       error="InvalidOrder: refused"))
    assert b.state.open_refusals == 1 and b.state.next_open_at == b.now + 10.0


@pytest.mark.parametrize("end", [_set_aside, _unseen])
def test_a_level_set_aside_is_sent_again_after_retry_s_without_a_failure(end):
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    waiting = b.placed()
    level, aside_at = None, 0.0
    while waiting:  # the venue acknowledges the long leg's orders, sets its level aside
        order = waiting.pop(0)
        if order.kind is GridKind.LEVEL and level is None:
            level = order
            end(b, order)
            aside_at = b.now
        else:
            b.accept(order)
        waiting += [o for o in b.placed() if o.leg is Side.LONG]
    assert level is not None, "the long leg placed no level"
    leg = b.state.leg(Side.LONG)
    assert leg.level_failures == 0 and leg.level_retry_at == aside_at + 2.0
    while b.now < aside_at + 2.0:
        assert b.placed(GridKind.LEVEL, Side.LONG) == []
        b.send(TimerFired())
    (again,) = b.placed(GridKind.LEVEL, Side.LONG)
    assert (again.price, again.amount) == (level.price, level.amount)
