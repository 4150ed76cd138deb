"""A take-profit's cancel, sent before its replacement (maintain.py `_take_profit`, the commands
run in order), may be answered with a fill: the old take-profit filled in part just before the
cancel landed (the venue answers the cancel with what filled: actors/order_results.py
`canceled_events`). The leg is then smaller than when the replacement was decided, and that
replacement, still waiting its turn, went out for the leg's old size: a closing order larger
than the leg (found by review g1). It is taken back before it is sent and placed again for
what the leg holds now, with no refusal counted (the bot took it back, no venue refused it).

Production's decision loop (actors/loop.py) with the grid core; the test plays the venue
through the loop's `execute` (each cancel answered as scripted)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.scenario import loop_for
from tests.trading.test_grid_core import SYMBOL, Book
from trading.commands import CancelOrder
from trading.events import OrderFilled
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

    def sent_tps(self, side: Side) -> list:
        return [c.order for c in self.sent if isinstance(c, PlaceGridOrder)
                and c.order.kind is GridKind.TP and c.order.leg is side]


def test_a_replacement_take_profit_goes_out_for_the_leg_left_after_the_old_ones_last_fill():
    b = Venue()
    b.open_both()
    (old,) = b.state.orders_of(Side.LONG, GridKind.TP)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    # the old take-profit (1) fills 0.4 just before its cancel lands: the answer tells it
    b.answers[old.client_order_id] = [OrderFilled(
        client_order_id=old.client_order_id, exchange_id="x" + old.client_order_id,
        filled=D("0.4"), average=old.price, fee=D("0.01"), complete=True)]
    b.sent.clear()
    b.fill(level, str(level.price))  # the leg grows to 3: its take-profit is replaced
    leg = b.state.long
    assert leg.contracts == D("2.6")
    sent = [t.amount for t in b.sent_tps(Side.LONG)]
    assert sent == [D("2.6")], f"take-profits sent {sent} for a leg of {leg.contracts}"
    (tp,) = [o for o in b.state.orders_of(Side.LONG, GridKind.TP)]
    assert tp.amount == D("2.6") and tp.cancel_requested_at is None
    # taken back by the bot, it is no refusal: nothing holds the leg's orders back
    assert (leg.tp_failures, leg.retry_at) == (0, 0.0)
    b.accept(tp)
    assert b.cancels() == [] and b.placed(GridKind.TP) == []  # it rests: nothing more to do
