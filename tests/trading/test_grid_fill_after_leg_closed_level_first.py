"""Hedge grid: a reduce-only fill of a leg our books hold flat. The venue never fills a reduce-only
order on a flat side, so something grew that side first: the closed leg's level whose cancel
had not landed (the stop closed the leg, the level filled into the side after it, then the
leg's take-profit filled against that). The leg's close cancels both, and their answers come
in the order the cancels went out (the take-profit's first), not in the order they filled. The
take-profit's fill was booked as one without a leg (no P&L where the venue tells none), and the
level's then opened a leg of its whole amount: the books held 2 where the venue held 1, a leg
whose stop was already crossed closed again and again, refused (the position was smaller).
Now the level's fill is booked first, at its limit price (as for a stop filled for more than
its leg), and the take-profit reduces the leg it opened. Driven through production's decision
loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderFilled
from trading.grid.model import GridKind
from trading.model import Side


def _filled(b: Book, order, amount: str, price) -> None:
    b.send(OrderFilled(client_order_id=order.client_order_id, exchange_id="x",
                       filled=D(amount), average=D(price), fee=D("0.01"), complete=True))


def test_a_take_profit_filled_after_the_stop_closed_its_leg_reduces_the_level_that_reopened_it():
    b = Book()
    b.open_both("100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    # on the venue: the stop sold the leg (1) at 94; the level bought 2 at 99; the
    # take-profit sold 1 at 100.5: the venue holds a long of 1 at 99
    _filled(b, stop, "1", "94")
    assert not b.state.long.is_open
    _filled(b, tp, "1", tp.price)  # the cancels' answers, in the order they went out
    _filled(b, level, "2", level.price)
    long = b.state.long
    assert long.contracts == D(1), f"the books hold {long.contracts} where the venue holds 1"
    assert long.entry_price == level.price
    booked = [e for e in b.ledger if e.client_order_id == tp.client_order_id]
    assert [(e.amount, e.realized_pnl) for e in booked] == [(D(1), D("1.5"))]
    assert sum(e.amount for e in b.ledger if e.client_order_id == level.client_order_id) == D(2)
    assert "FillWithoutLeg" not in b.journal
