"""Hedge grid: a leg adopted from the exchange (bought by hand, or the bot's own leg whose
state was lost) averages at the grid's levels sized from `risk.order_size_usdt`, as a leg the
grid opens, never from the adopted position's size. Found by review: the adopted contracts
became the side's reference quantity, so a 10 BTC position bought by hand on a grid of 1 BTC
legs was averaged into with 20, 40, 80 BTC (size_multiplier 2): the configured size ignored and
the exposure multiplied, limited only by the market's maximum and the free balance. Driven
through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import ExchangePosition, OrderFailed, PriceTicked
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def test_an_adopted_legs_levels_are_sized_from_the_configured_order_size():
    b = Book()  # 100 USDT legs: 1 at 100; level k adds 1 * 2**k
    b.send(PriceTicked(price=D(100)))
    for o in b.placed(GridKind.OPEN):
        b.send(OrderFailed(client_order_id=o.client_order_id, error="insufficient balance"))
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(10), entry_price=D(100))}
    b.send(GridReconciled(positions=listed, price=D(100)))  # bought by hand: adopted
    assert b.state.long.contracts == D(10) and b.state.long.ref_qty == D(1)
    (stop,) = b.placed(GridKind.STOP, Side.LONG)
    assert stop.amount == D(10) + D(2)  # the leg and level 1 of the grid's own size
    b.accept(stop)
    (level,) = b.placed(GridKind.ADD, Side.LONG)
    assert level.amount == D(2), f"level 1 of {level.amount}"
