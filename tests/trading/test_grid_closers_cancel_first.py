"""A leg's take-profit is cancelled before another closing order of the leg is sent: before a
bot-side close (its stop level crossed with no stop resting) and before the take-profit's own
replacement once the leg grew. Binance counts a leg's resting closing limit orders against a
new close and refuses what they leave too little room for (-4118 "ReduceOnly Order Failed";
tests/exchange/ccxt/test_binance_hedge_closing_orders.py): sent while the take-profit rested,
the close of a leg through its stop was refused attempt after attempt until the escalation,
and every replacement of a grown leg's take-profit was refused, leaving the old one resting
for part of the leg at the old target. The commands run in order, so a cancel listed first
has been answered before the order after it goes out (actors/loop.py)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.commands import CancelOrder
from trading.events import OrderCanceled, OrderFailed, PriceTicked
from trading.grid.context import PlaceGridOrder
from trading.grid.model import GridKind
from trading.model import Side


def _order_of(commands: list) -> list[tuple[str, str]]:
    """(what, client id) of each cancel and each placed take-profit or close, in order."""
    out = []
    for c in commands:
        if isinstance(c, CancelOrder):
            out.append(("cancel", c.client_order_id))
        elif isinstance(c, PlaceGridOrder) and c.order.kind in (GridKind.TP, GridKind.CLOSE):
            out.append(("TP" if c.order.kind is GridKind.TP else "CLOSE",
                        c.order.client_order_id))
    return out


def _resting_tp(b: Book, side: Side):
    (tp,) = [o for o in b.state.orders_of(side, GridKind.TP) if o.cancel_requested_at is None]
    return tp


def test_a_bot_close_goes_out_after_the_legs_take_profit_is_cancelled():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (stop,) = b.placed(GridKind.STOP, Side.LONG)
    (tp,) = b.placed(GridKind.TP, Side.LONG)
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    b.accept(tp)
    d = b.send(PriceTicked(price=D(90)))  # below the long's stop, and no stop rests
    steps = _order_of(list(d.commands))
    (close,) = [cid for what, cid in steps if what == "CLOSE"]
    assert ("cancel", tp.client_order_id) in steps, "the close went out beside a resting TP"
    assert steps.index(("cancel", tp.client_order_id)) < steps.index(("CLOSE", close))
    assert b.state.order(tp.client_order_id).cancel_requested_at is not None


def test_a_grown_legs_take_profit_is_replaced_after_the_old_one_is_cancelled():
    b = Book()
    b.open_both()
    old = _resting_tp(b, Side.LONG)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    d = b.fill(level, str(level.price))
    assert ("cancel", old.client_order_id) in _order_of(list(d.commands))
    assert b.placed(GridKind.TP) == [], "the new one went out before the cancel was answered"
    b.send(OrderCanceled(client_order_id=old.client_order_id))
    (new,) = [o for o in b.placed(GridKind.TP, Side.LONG)]
    assert new.amount == b.state.long.contracts > old.amount
    assert new.replaces is None  # nothing left to cancel once it rests
    b.accept(new)
    assert not b.cancels(), "the new take-profit's acknowledgement cancelled something more"
