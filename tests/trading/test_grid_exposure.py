"""What a hedge grid holds of the account's max_open_positions (actors/cores.py `exposure`,
settled into the entry gate after every decision): open legs, plus each flat leg with an order
live that can still fill into a position. A level whose leg closed by take-profit while its
cancel was not yet confirmed counted nothing (found by review): it could fill and open a
position the cap never counted. Driven through production's decision loop."""

from __future__ import annotations

from actors.cores import as_core
from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled
from trading.grid.model import GridKind
from trading.model import Side


def test_a_level_live_after_its_leg_closed_counts_until_its_cancel_is_confirmed():
    b = Book()
    b.open_both("100")
    core = as_core(b.core)
    assert core.exposure(b.state) == 2
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    b.fill(tp, str(tp.price))  # the long closes; its level's cancel goes out
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    assert not b.state.long.is_open and level.status.live
    assert level.cancel_requested_at is not None
    assert core.exposure(b.state) == 2  # the short, and the long's level that may still fill
    b.send(OrderCanceled(client_order_id=level.client_order_id))
    assert not [o for o in b.state.orders_of(Side.LONG) if o.status.live
                and o.kind is GridKind.ADD]
    opens = [o for o in b.state.orders_of(Side.LONG, GridKind.OPEN) if o.status.live]
    assert core.exposure(b.state) == 1 + len(opens)  # the short, and a reopening order if any
