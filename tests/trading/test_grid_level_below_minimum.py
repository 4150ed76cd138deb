"""Hedge grid: a level below the market's minimums at its price is never sent, and says so once
per leg and level (`LevelSkipped`, naming the minimum), as a level above the maximum does and
as a skipped open does (`OpenSkipped`). Found by review: with order_size_usdt near the market's
minimum order value and the default size_multiplier of 1, a long's every level (the same
amount at a lower price) was below that minimum: the long never averaged and nothing said why.
Driven through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import PriceTicked
from trading.grid.model import GridKind
from trading.model import Side


def test_a_level_below_the_minimum_order_value_is_journaled_once():
    b = Book(order_size_usdt=D(5), size_multiplier=D(1))  # min_cost 5: 0.05 at 100 is 5 USDT
    b.open_both("100")
    for _ in range(5):
        b.send(PriceTicked(price=D("99.8")))
    assert not b.state.orders_of(Side.LONG, GridKind.ADD)  # 0.05 at 99 is 4.95 USDT
    assert b.state.orders_of(Side.SHORT, GridKind.ADD)  # 0.05 at 101 is 5.05 USDT
    assert b.journal.count("LevelSkipped") == 1
    rows = [j for dec in b.repo.decisions for j in dec.journal if j.type == "LevelSkipped"]
    (row,) = rows
    assert row.data["leg"] == "long" and row.data["level"] == 1
    assert "below the market minimum order value of 5 USDT" in row.data["reason"]
    assert "0.05 at 99" in row.data["reason"]
