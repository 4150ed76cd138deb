"""A hedge-grid leg closed by the bot's own close (its stop level crossed with no stop resting)
is a stop-out: booked `stop_loss_bot`, the side waits reopen_after_stop_s before it opens
again and the protections' stop-loss guard counts it (trading/stop_outs.py). A close that took
only part of the leg marks it stopped, as a part filled by its exchange stop does: a
take-profit of the rest later is no win. Booked otherwise (`closed`, or `take_profit` for the
rest), the side reopened at once after a loss and the guard never counted it. Driven through
production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book, rules
from trading.events import OrderCanceled, OrderFilled, PriceTicked
from trading.grid.model import GridKind
from trading.model import Side


def _long_closing_through_its_stop() -> tuple[Book, object]:
    """Both legs open at 100; the long's stop (95) is cancelled by hand and the price drops
    to 94 before a new one rests: the bot closes the long itself."""
    b = Book()
    b.open_both()
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.send(OrderCanceled(client_order_id=stop.client_order_id))
    b.send(PriceTicked(price=D(94)))
    (close,) = b.placed(GridKind.CLOSE, Side.LONG)
    assert close.amount == D(1)
    return b, close


def test_a_leg_closed_in_full_by_the_bots_close_is_a_stop_out():
    b, close = _long_closing_through_its_stop()
    d = b.fill(close, "94")
    [closed] = [j for j in d.journal if j.type == "LegClosed"]
    assert closed.reason == "stop_loss_bot" and closed.realized_pnl == D(-6)
    assert b.state.next_open_at >= b.now + rules().reopen_after_stop_s  # the stop-out wait


def test_a_leg_its_bots_close_reduced_and_a_take_profit_ended_is_a_stop_out():
    b, close = _long_closing_through_its_stop()
    (tp,) = [o for o in b.state.orders_of(Side.LONG, GridKind.TP)]
    b.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="c", filled=D("0.4"),
                       average=D(94), fee=D("0.01"), complete=True))  # the rest expired
    assert b.state.long.contracts == D("0.6") and b.state.long.stopped
    d = b.fill(tp, "100.5", amount=D("0.6"))  # the price came back: the resting take-profit
    [closed] = [j for j in d.journal if j.type == "LegClosed"]
    assert closed.reason == "stop_loss"
    assert b.state.next_open_at >= b.now + rules().reopen_after_stop_s
