"""A leg's take-profit is replaced when the leg grows (a level filled): the old one is cancelled
first (maintain.py `_take_profit`; Binance counts a resting closing limit against a new one).
When that cancel failed (a timeout, the venue's rate limit: actors/command_executor.py `_cancel`
answers nothing and the old one stays live with its cancel asked for), the new take-profit went
out anyway, in the same decision: two take-profits rested for one leg, together larger than
it (the old one at the old target), until the cancel's retry landed. Found by review (session
49, hypothesis 1). The new one now goes only once the old one's cancel is answered; the failed
cancel is asked again after retry_s (`_retry_cancels`).

Production's decision loop (actors/loop.py) with the grid core; the test plays the venue
through the loop's `execute` (cancels failing while `cancels_fail`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.scenario import loop_for
from tests.trading.test_grid_core import SYMBOL, Book
from trading.commands import CancelOrder
from trading.events import OrderCanceled, TimerFired
from trading.grid.context import PlaceGridOrder
from trading.grid.model import GridKind, GridState
from trading.model import Side


class Venue(Book):
    """Book whose commands reach a venue whose cancels time out while `cancels_fail`; the
    take-profits it holds resting are `resting` (placed ones rest at once)."""

    def __init__(self, **over) -> None:
        super().__init__(**over)
        self.cancels_fail = False
        self.resting: list[str] = []
        self.two_at_once: list[list[str]] = []
        self.loop, self.repo = loop_for(self.core, GridState(symbol=SYMBOL),
                                        clock=lambda: self.now, execute=self._execute)

    def _execute(self, command) -> list:
        if isinstance(command, CancelOrder):
            cid = command.client_order_id or ""
            if self.cancels_fail:
                return []  # the cancel timed out: nothing known, the order rests on
            if cid in self.resting:
                self.resting.remove(cid)
            return [OrderCanceled(client_order_id=cid)]
        if isinstance(command, PlaceGridOrder) and command.order.kind is GridKind.TP \
                and command.order.leg is Side.LONG:
            self.resting.append(command.order.client_order_id)
            if len(self.resting) > 1:
                self.two_at_once.append(list(self.resting))
        return []


def test_no_second_take_profit_while_the_old_ones_cancel_failed():
    b = Venue()
    b.open_both()
    (old,) = b.state.orders_of(Side.LONG, GridKind.TP)
    assert b.resting == [old.client_order_id]  # it rests (acknowledged by open_both)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    b.cancels_fail = True
    b.fill(level, str(level.price))  # the leg grows to 3: its take-profit is replaced
    assert b.state.long.contracts == D(3)
    assert b.two_at_once == [], (
        f"a new take-profit went out while the old one's cancel had failed: {b.two_at_once}")
    live = b.state.orders_of(Side.LONG, GridKind.TP)
    assert [o.client_order_id for o in live] == [old.client_order_id]
    assert live[0].cancel_requested_at is not None
    # the venue answers cancels again: the retry (after retry_s) lands, then the new one goes
    b.cancels_fail = False
    b.send(TimerFired())
    b.send(TimerFired())
    assert b.two_at_once == []
    (new,) = b.state.orders_of(Side.LONG, GridKind.TP)
    assert new.client_order_id != old.client_order_id and new.amount == D(3)
    assert b.resting == [new.client_order_id]
    # no refusal was counted: nothing holds the leg's take-profit or levels back
    assert (b.state.long.tp_failures, b.state.long.retry_at) == (0, 0.0)
