"""A bot-side close of a leg through its stop goes out after the leg's take-profit is cancelled
(maintain.py `_protect`; Binance counts a resting closing limit against a new close). When the
take-profit filled in part just before its cancel landed, the venue's answer to the cancel tells
that fill (actors/order_results.py `canceled_events`): it is booked and the leg shrinks. The
close, decided for the leg as it was and still waiting its turn, must not go out for the old
size (review s49, hypothesis 2; the take-profit's own replacement had the same flaw, cb5c1943).

Production's decision loop (actors/loop.py) with the grid core; the test plays the venue
through the loop's `execute` (each cancel answered as scripted)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.scenario import loop_for
from tests.trading.test_grid_core import SYMBOL, Book
from trading.commands import CancelOrder
from trading.events import OrderFailed, OrderFilled, PriceTicked
from trading.grid.context import PlaceGridOrder
from trading.grid.model import GridKind, GridState
from trading.model import Side


class Venue(Book):
    """Book whose commands reach a scripted venue: a cancel is answered with `answers[cid]`."""

    def __init__(self, **over) -> None:
        super().__init__(**over)
        self.answers: dict[str, list] = {}
        self.sent: list = []
        self.loop, self.repo = loop_for(self.core, GridState(symbol=SYMBOL),
                                        clock=lambda: self.now, execute=self._execute)

    def _execute(self, command) -> list:
        self.sent.append(command)
        if isinstance(command, CancelOrder):
            return list(self.answers.pop(command.client_order_id or "", []))
        return []

    def sent_closes(self) -> list:
        return [c.order for c in self.sent if isinstance(c, PlaceGridOrder)
                and c.order.kind is GridKind.CLOSE]


def test_a_close_goes_out_for_what_the_take_profits_last_fill_left():
    b = Venue()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (stop,) = b.placed(GridKind.STOP, Side.LONG)
    (tp,) = b.placed(GridKind.TP, Side.LONG)
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    b.accept(tp)
    # the take-profit (1) filled 0.4 just before its cancel landed: the answer tells it
    b.answers[tp.client_order_id] = [OrderFilled(
        client_order_id=tp.client_order_id, exchange_id="x" + tp.client_order_id,
        filled=D("0.4"), average=tp.price, fee=D("0.01"), complete=True)]
    b.sent.clear()
    b.send(PriceTicked(price=D(90)))  # through the stop, none resting: the bot closes
    leg = b.state.long
    assert leg.contracts == D("0.6")
    sent = [c.amount for c in b.sent_closes()]
    assert sent == [D("0.6")], f"closes sent {sent} for a leg of {leg.contracts}"
    (close,) = b.state.orders_of(Side.LONG, GridKind.CLOSE)
    assert close.amount == D("0.6") and close.cancel_requested_at is None
    # the close taken back by the bot is no failed attempt: one attempt, no backoff
    assert (leg.close_attempts, leg.close_retry_at) == (1, 0.0)
