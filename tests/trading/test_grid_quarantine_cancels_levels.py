"""Hedge grid: a quarantined symbol opens nothing new (rule 2), and that includes a level
already resting: it is cancelled, as the kill switch cancels them (README: they would grow a
position with nobody watching). Found by review: a symbol quarantined for a position it does
not know (`supervision.adopt_unknown_positions = false`) kept its other leg's level resting; it
could fill into that leg, whose take-profit a quarantined symbol no longer replaces. Driven
through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition, OrderFailed, PriceTicked
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def test_a_symbol_quarantined_for_an_unknown_position_cancels_its_resting_levels():
    b = Book(adopt_unknown_positions=False)
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.send(OrderFailed(client_order_id=opens[Side.SHORT].client_order_id, error="rejected"))
    b.fill(opens[Side.LONG], "100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.accept(stop)
    (level,) = b.placed(GridKind.ADD, Side.LONG)
    b.accept(level)
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1), entry_price=D(100)),
              Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(2), entry_price=D(99))}
    found = {o.client_order_id: ExchangeOrder(client_order_id=o.client_order_id,
                                              exchange_id="x", status="open", filled=D(0),
                                              average=None, fee=D(0))
             for o in b.state.orders}
    b.send(GridReconciled(positions=listed, orders=found, price=D(100)))
    assert b.state.quarantined
    assert level.client_order_id in b.cancels(), "the level keeps resting"
    assert b.state.protected(Side.LONG)  # the stop stays
