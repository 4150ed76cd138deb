"""Hedge grid: a quarantined symbol opens nothing new (rule 2), and that includes a level
already resting: it is cancelled, as the kill switch cancels them (README: they would grow a
position with nobody watching). Found by review: a symbol quarantined for a position it does
not know (`supervision.adopt_unknown_positions = false`) kept its other leg's level resting; it
could fill into that leg, whose take-profit a quarantined symbol no longer replaces. Driven
through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from tests.trading.test_grid_flagged_other_leg_still_closes import (
    long_alone_and_protected,
    reconciled_with_an_unknown_short,
)
from trading.grid.model import GridKind
from trading.model import Side


def test_a_symbol_quarantined_for_an_unknown_position_cancels_its_resting_levels():
    b, _ = long_alone_and_protected()
    (level,) = b.placed(GridKind.ADD, Side.LONG)
    b.accept(level)
    reconciled_with_an_unknown_short(b)
    assert b.state.quarantined
    assert level.client_order_id in b.cancels(), "the level keeps resting"
    assert b.state.protected(Side.LONG)  # the stop stays
