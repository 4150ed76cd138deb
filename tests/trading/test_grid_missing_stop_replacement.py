"""Hedge grid: a leg's stop that a reconciliation does not find is replaced at once by a stop of
the same size: the leg and its resting level (README Protection: a level fills while the bot is
not looking too), at most the market's maximum. Found by review: the replacement was sized for
the leg alone, so once it rested (and the missing stop was cancelled) the level could fill into
a position its stop covered only part of until `maintain` replaced it again; and for a leg
larger than the maximum the replacement carried the whole leg, an order the venue refuses.
Driven through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side
from trading.rules import MarketRules


def _answer(order) -> ExchangeOrder:
    return ExchangeOrder(client_order_id=order.client_order_id, exchange_id="x",
                         status="open", filled=D(0), average=None, fee=D(0))


def test_a_stop_not_found_is_replaced_by_one_covering_the_leg_and_its_level():
    b = Book()
    b.open_both("100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    assert stop.amount == D(3)  # the leg (1) and its level (2)
    positions = {s: ExchangePosition(side=s, contracts=D(1), entry_price=D(100))
                 for s in (Side.LONG, Side.SHORT)}
    found = {o.client_order_id: _answer(o) for o in b.state.orders
             if o.client_order_id != stop.client_order_id}
    b.send(GridReconciled(positions=positions, orders=found, price=D(100)))
    (new,) = b.placed(GridKind.STOP, Side.LONG)
    assert new.replaces == stop.client_order_id
    assert new.amount == D(3), f"the replacement covers {new.amount}, not the level"
    assert level.status.live


def test_the_replacement_of_a_leg_larger_than_the_maximum_carries_the_maximum():
    market = MarketRules(amount_step=D("0.001"), price_tick=D("0.1"), min_amount=D("0.001"),
                         min_cost=D(5), max_amount=D(2))
    b = Book(market=market, levels=0)
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(5), entry_price=D(100))}
    b.send(GridReconciled(positions=listed, price=D(100)))  # adopted: bought by hand
    assert b.state.long.contracts == D(5)
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    assert stop.amount == D(2)
    b.accept(stop)
    found = {o.client_order_id: _answer(o) for o in b.state.orders
             if o.client_order_id != stop.client_order_id}
    b.send(GridReconciled(positions=listed, orders=found, price=D(100)))
    (new,) = b.placed(GridKind.STOP, Side.LONG)
    assert new.replaces == stop.client_order_id and new.amount == D(2)
