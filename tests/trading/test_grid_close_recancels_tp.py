"""A bot-side close of a leg through its stop is sent after the leg's take-profit is cancelled
(Binance counts a resting closing limit against a new close, -4118; maintain.py `_protect`).
When that cancel fails (a timeout, the venue's rate limit: actors/command_executor.py `_cancel`
answers nothing and the take-profit stays live), the close still goes out and Binance refuses
it. The next attempt, after the close backoff (1 s), went out with no new cancel before it:
the take-profit's cancel was asked for already, so only `_retry_cancels` (every retry_s,
2 s) sent it again, and a close the venue was bound to refuse was counted as one of the
leg's bounded attempts (incident 2; found by review g1). Each attempt now asks again for the
cancel of every take-profit of the leg still live, right before the close.

Production's decision loop (actors/loop.py) with the grid core; the test plays the venue
through the loop's `execute`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.scenario import loop_for
from tests.trading.test_grid_core import SYMBOL, Book
from trading.commands import CancelOrder
from trading.events import OrderCanceled, OrderFailed, PriceTicked
from trading.grid.context import PlaceGridOrder
from trading.grid.model import GridKind, GridState
from trading.model import Side

REFUSED = "binanceusdm -4118 ReduceOnly Order Failed. Please check your existing position " \
          "and open orders."


class Venue(Book):
    """Book whose commands reach a venue whose cancels fail while `cancels_fail`, and which
    refuses every close while the leg's take-profit rests (as Binance's -4118)."""

    def __init__(self, **over) -> None:
        super().__init__(**over)
        self.cancels_fail = True
        self.tp_resting: set[str] = set()
        self.sent: list = []
        self.loop, self.repo = loop_for(self.core, GridState(symbol=SYMBOL),
                                        clock=lambda: self.now, execute=self._execute)

    def _execute(self, command) -> list:
        self.sent.append(command)
        if isinstance(command, CancelOrder):
            cid = command.client_order_id or ""
            if self.cancels_fail or cid not in self.tp_resting:
                return []  # the cancel timed out: nothing known
            self.tp_resting.discard(cid)
            return [OrderCanceled(client_order_id=cid)]
        if isinstance(command, PlaceGridOrder) and command.order.kind is GridKind.CLOSE \
                and self.tp_resting:
            return [OrderFailed(client_order_id=command.order.client_order_id, error=REFUSED)]
        return []

    def steps(self) -> list[str]:
        out = []
        for c in self.sent:
            if isinstance(c, CancelOrder):
                out.append(f"cancel {c.client_order_id}")
            elif isinstance(c, PlaceGridOrder):
                out.append(f"{c.order.kind.value} {c.order.client_order_id}")
        return out


def test_each_close_attempt_asks_again_for_the_take_profits_cancel():
    b = Venue()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (stop,) = b.placed(GridKind.STOP, Side.LONG)
    (tp,) = b.placed(GridKind.TP, Side.LONG)
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    b.accept(tp)
    b.tp_resting.add(tp.client_order_id)
    b.sent.clear()
    b.send(PriceTicked(price=D(90)))  # through the stop, none resting: the bot closes
    first = [s for s in b.steps() if s.startswith(("cancel", "close"))]
    assert first[0] == f"cancel {tp.client_order_id}" and first[1].startswith("close")
    assert b.state.long.close_attempts == 1 and b.state.long.is_open  # refused: TP rests
    b.cancels_fail = False  # the venue answers cancels again
    b.sent.clear()
    b.now = b.state.long.close_retry_at - 1  # `send` adds 1 s: the close backoff (1 s) is
    # over, retry_s (2 s) since the cancel was asked for is not
    b.send(PriceTicked(price=D("89.9")))
    steps = [s for s in b.steps() if s.startswith(("cancel", "close"))]
    assert steps and steps[-1].startswith("close"), steps
    assert f"cancel {tp.client_order_id}" in steps, (
        f"close attempt 2 went out with the take-profit still resting: {steps}")
    assert steps.index(f"cancel {tp.client_order_id}") < len(steps) - 1
    assert b.state.long.close_attempts == 2
    assert tp.client_order_id not in b.tp_resting
    assert b.state.order(tp.client_order_id) is None  # its cancel confirmed: it left the state


def test_no_take_profit_is_placed_between_the_close_attempts_of_a_leg_through_its_stop():
    """Found with the test above: a refused close left the leg with no closing order, and in
    the same message `_take_profit` placed a new take-profit for the leg through its stop,
    beside the old one whose cancel had failed (two on Bybit; refused -4118 on Binance and
    counted as a take-profit refusal), and one more order to cancel before the next close."""
    b = Venue()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (stop,) = b.placed(GridKind.STOP, Side.LONG)
    (tp,) = b.placed(GridKind.TP, Side.LONG)
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    b.accept(tp)
    b.tp_resting.add(tp.client_order_id)
    b.sent.clear()
    b.send(PriceTicked(price=D(90)))  # the close is refused: the take-profit's cancel failed
    assert b.state.long.close_attempts == 1 and b.state.long.is_open
    b.send(PriceTicked(price=D("89.8")))  # the next attempt (the cancel fails again)
    placed = [s for s in b.steps() if s.startswith("tp")]
    assert placed == [], f"take-profits placed while the leg waits for its next close: {placed}"
