"""Hedge grid: after a restart no level is placed before the incarnation's first successful
reconciliation. Its books may hold a leg the venue closed while the bot was down (its stop
filled then: only the reconciliation learns it); a level placed for that leg (a limit that
grows it) fills into a new position no stop of ours protects. Found by review: leg opens
waited for the reconciliation at the entry gate, levels did not, so a start reconciliation
that kept failing (reads timing out while creates go through) let levels out on stale books.
Driven through production's decision loop (tests/trading/test_grid_core.py `Book`); the
actor-level case is tests/actors/test_exit_while_down_start_reconcile.py."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled, PriceTicked
from trading.grid.model import GridKind
from trading.model import Side


def _restarted(reconciled: bool) -> tuple[Book, str]:
    """A grid with both legs open and a long level resting, restarted (a new loop adopting
    the persisted books); then the long level is cancelled by hand. Its client id."""
    before = Book()
    before.open_both()
    (add,) = before.state.orders_of(Side.LONG, GridKind.ADD)
    after = Book()
    after.loop.adopt(before.state, reconciled=reconciled)
    after.send(OrderCanceled(client_order_id=add.client_order_id))
    return after, add.client_order_id


def test_no_level_before_the_first_reconciliation():
    b, gone = _restarted(reconciled=False)
    b.send(PriceTicked(price=D("99.5")))
    assert b.placed(GridKind.ADD) == [], "a level placed on books not reconciled yet"
    assert not [o for o in b.state.orders_of(Side.LONG, GridKind.ADD)
                if o.client_order_id != gone]
    b.loop.adopt(b.state)  # reconciled, as the first successful reconciliation leaves it
    b.send(PriceTicked(price=D("99.6")))
    assert [o.leg for o in b.placed(GridKind.ADD)] == [Side.LONG]


def test_a_reconciled_restart_places_the_level_again():
    """The contrast: the same books, reconciled, place the cancelled level again."""
    b, _ = _restarted(reconciled=True)
    placed = b.placed(GridKind.ADD)
    b.send(PriceTicked(price=D("99.5")))
    assert [o.leg for o in placed + b.placed(GridKind.ADD)] == [Side.LONG]
