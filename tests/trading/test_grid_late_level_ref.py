"""A level that fills after both legs closed (its cancel had not landed: the README's "an order
that fills before its cancel lands is booked") reopens its leg; that leg's reference quantity
is the side's opening size, not the level's own (ref * multiplier**k). Before the fix the
level's amount became the reference, so every later level of that leg was multiplier**k times
too large (here 8 instead of 4 contracts, and the leg's stop sized for it). Driven through production's decision loop."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.grid.model import GridKind
from trading.model import Side


def test_a_level_filling_after_both_legs_closed_keeps_the_reference_size():
    b = Book()
    b.open_both("100")
    (long_add,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    assert (long_add.level, long_add.amount) == (1, D(2))  # ref 1 * 2**1
    for side in (Side.SHORT, Side.LONG):  # both legs close by take-profit
        (tp,) = b.state.orders_of(side, GridKind.TP)
        b.fill(tp, str(tp.price))
    assert not b.state.long.is_open and not b.state.short.is_open
    assert b.state.long.ref_qty is None  # cleared: both legs flat
    b.fill(long_add, str(long_add.price))  # its cancel had not landed
    leg = b.state.long
    assert leg.is_open and leg.contracts == D(2) and leg.level == 1
    assert leg.ref_qty == D(1)
    # its stop covers the leg and its next level (README, Protection): level 2 is ref * 2**2
    (stop,) = b.placed(GridKind.STOP, Side.LONG)
    assert stop.amount == D(2) + D(4)  # not 2 + 8
